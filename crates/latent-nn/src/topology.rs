//! The layers of a network, described once from its [`NetConfig`].
//!
//! Every engine builds the same network: burn's module ([`crate::model::Net`]), the fused
//! host path ([`crate::fused::FusedNet`]), and the size check that runs before a
//! configuration read from a file is built ([`Topology::param_count`]). They all read this
//! list instead of walking the configuration themselves, so a new layer (or a new engine) is
//! described in one place. The order of [`Topology::layers`] is the order in which the
//! layers are initialised from the seeded generator, and the names are the parameters'
//! names in weights files, checkpoints and the optimizer state.

use crate::config::{Likelihood, ModelKind, NetConfig, PosteriorKind};

/// Which part of the encoder/decoder pair a layer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Strided convolutions on the image (conv architecture), before the dense encoder.
    ConvEncoder,
    /// Hidden dense layers of the encoder (activation after each).
    Encoder,
    /// The code, or the posterior mean.
    Mean,
    /// VAE: the log-variance (diagonal posterior) or the log of the Cholesky diagonal (full).
    LogVar,
    /// Full posterior: the strictly-lower Cholesky entries, row-major.
    OffDiag,
    /// Dense decoder layers, the last one the output (or the conv decoder's input).
    Decoder,
    /// Transposed convolutions back to the image (conv architecture).
    ConvDecoder,
    /// The learned Gaussian likelihood's log σ (one per feature, or one shared).
    LogSigma,
}

impl Part {
    /// The parameter-name prefix of the part (`encoder`, `mean`, …).
    pub fn name(self) -> &'static str {
        match self {
            Part::ConvEncoder => "conv_encoder",
            Part::Encoder => "encoder",
            Part::Mean => "mean",
            Part::LogVar => "log_var",
            Part::OffDiag => "off_diag",
            Part::Decoder => "decoder",
            Part::ConvDecoder => "conv_decoder",
            Part::LogSigma => "log_sigma",
        }
    }

    /// Whether the part is a list of layers (`encoder.0`, `encoder.1`, …) rather than one.
    fn indexed(self) -> bool {
        matches!(
            self,
            Part::ConvEncoder | Part::Encoder | Part::Decoder | Part::ConvDecoder
        )
    }
}

/// What a layer computes, with its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `y = x·W + b`, weight `[d_in, d_out]`, bias `[d_out]`.
    Dense {
        /// Input width.
        d_in: usize,
        /// Output width.
        d_out: usize,
    },
    /// A 4×4 convolution with stride 2 and padding 1 (halves the sides), weight
    /// `[c_out, c_in, 4, 4]`, bias `[c_out]`.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
    },
    /// The transposed twin of [`Shape::Conv`] (doubles the sides), weight
    /// `[c_in, c_out, 4, 4]`, bias `[c_out]`.
    ConvTranspose {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
    },
    /// A bare vector parameter of this length (the learned log σ), initialised to zero.
    Vector {
        /// Its length.
        len: usize,
    },
}

impl Shape {
    /// The number of `f32` values of the layer's parameters; `None` when it overflows.
    pub fn param_count(self) -> Option<usize> {
        match self {
            Shape::Dense { d_in, d_out } => d_in.checked_mul(d_out)?.checked_add(d_out),
            Shape::Conv { c_in, c_out } | Shape::ConvTranspose { c_in, c_out } => {
                c_in.checked_mul(c_out)?.checked_mul(16)?.checked_add(c_out)
            }
            Shape::Vector { len } => Some(len),
        }
    }
}

/// One layer: its part, its place in the part, and what it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// The part of the network.
    pub part: Part,
    /// Its index within the part (0 for a part of one layer).
    pub index: usize,
    /// What it computes.
    pub shape: Shape,
}

impl Layer {
    /// The layer's name, the prefix of its parameters' names: `encoder.1`, `mean`,
    /// `log_sigma`.
    pub fn name(&self) -> String {
        if self.part.indexed() {
            format!("{}.{}", self.part.name(), self.index)
        } else {
            self.part.name().to_string()
        }
    }
}

/// The layers of a configuration's network, in initialisation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    layers: Vec<Layer>,
    /// A size overflowed `usize` while the layers were described (a configuration read
    /// from a file): the network cannot be built.
    overflow: bool,
}

impl Topology {
    /// The network of `config`: conv encoder, dense encoder, heads (mean; log-variance and
    /// the full posterior's off-diagonal for a VAE), dense decoder, conv decoder, learned σ.
    /// The linear autoencoder has no hidden layer whatever `hidden` says.
    pub fn of(config: &NetConfig) -> Self {
        let (d, k) = (config.input_dim, config.latent_dim);
        let hidden: &[usize] = if config.kind == ModelKind::LinearAe {
            &[]
        } else {
            &config.hidden
        };
        let mut layers = Vec::new();
        let mut overflow = false;
        let mut push = |part: Part, shape: Shape| {
            let index = layers.iter().filter(|l: &&Layer| l.part == part).count();
            layers.push(Layer { part, index, shape });
        };
        let features = config.conv_features();
        let conv_channels = match (config.image, features) {
            (Some([_, _, c]), Some(_)) => Some(c),
            _ => None,
        };
        if let Some(c) = conv_channels {
            let mut c_in = c;
            for &ch in &config.conv_channels {
                push(Part::ConvEncoder, Shape::Conv { c_in, c_out: ch });
                c_in = ch;
            }
        }
        // the dense layers see the flattened feature map (conv) or the input row (mlp)
        let dense_in = match features {
            Some([c, h, w]) => c.checked_mul(h).and_then(|v| v.checked_mul(w)),
            None => Some(d),
        }
        .unwrap_or_else(|| {
            overflow = true;
            usize::MAX
        });
        let mut width = dense_in;
        for &h in hidden {
            push(
                Part::Encoder,
                Shape::Dense {
                    d_in: width,
                    d_out: h,
                },
            );
            width = h;
        }
        push(
            Part::Mean,
            Shape::Dense {
                d_in: width,
                d_out: k,
            },
        );
        if config.kind == ModelKind::Vae {
            push(
                Part::LogVar,
                Shape::Dense {
                    d_in: width,
                    d_out: k,
                },
            );
            if config.posterior == PosteriorKind::Full && k > 1 {
                match k.checked_mul(k - 1) {
                    Some(kk) => push(
                        Part::OffDiag,
                        Shape::Dense {
                            d_in: width,
                            d_out: kk / 2,
                        },
                    ),
                    None => overflow = true,
                }
            }
        }
        let mut width = k;
        for &h in hidden.iter().rev() {
            push(
                Part::Decoder,
                Shape::Dense {
                    d_in: width,
                    d_out: h,
                },
            );
            width = h;
        }
        push(
            Part::Decoder,
            Shape::Dense {
                d_in: width,
                d_out: dense_in,
            },
        );
        if let Some(c) = conv_channels {
            let outs = config.conv_channels.iter().rev().skip(1).copied();
            let mut c_in = *config.conv_channels.last().unwrap_or(&c);
            for c_out in outs.chain([c]) {
                push(Part::ConvDecoder, Shape::ConvTranspose { c_in, c_out });
                c_in = c_out;
            }
        }
        if let (ModelKind::Vae, Likelihood::GaussianLearned { shared }) =
            (config.kind, config.likelihood)
        {
            push(
                Part::LogSigma,
                Shape::Vector {
                    len: if shared { 1 } else { d },
                },
            );
        }
        Topology { layers, overflow }
    }

    /// Every layer, in initialisation order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The layers of one part, in order.
    pub fn part(&self, part: Part) -> impl Iterator<Item = &Layer> {
        self.layers.iter().filter(move |l| l.part == part)
    }

    /// The one layer of a part (`mean`, `log_var`, …), if the network has it.
    pub fn single(&self, part: Part) -> Option<&Layer> {
        self.part(part).next()
    }

    /// The number of `f32` parameters of the network, computed without allocating; `None`
    /// when it overflows `usize`. Lets a caller refuse a configuration read from a file
    /// before building it.
    pub fn param_count(&self) -> Option<usize> {
        if self.overflow {
            return None;
        }
        self.layers
            .iter()
            .try_fold(0usize, |n, l| n.checked_add(l.shape.param_count()?))
    }

    /// The number of parameter tensors (weights, biases and vectors).
    pub fn tensor_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| match l.shape {
                Shape::Vector { .. } => 1,
                _ => 2,
            })
            .sum()
    }
}
