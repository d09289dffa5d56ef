//! The networks: one burn module for the three families (linear AE, AE, VAE), built from a
//! [`NetConfig`]. The module holds only layers; behaviour follows the config.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu, sigmoid, silu, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_distr::{Distribution, Uniform};

use crate::config::{Activation, Likelihood, ModelKind, NetConfig, PosteriorKind};
use crate::loss;
use crate::topology::{Part, Shape, Topology};

/// An encoder/decoder pair as a burn module.
///
/// Layers: `encoder` (hidden layers, empty for the linear AE), `mean` (the code, or the
/// posterior mean), `log_var` (VAE: log-variance, or the log of the Cholesky diagonal for a
/// full posterior), `off_diag` (full posterior: the strictly-lower Cholesky entries, row-major),
/// `decoder` (mirrored hidden layers, then the output layer), `log_sigma` (learned Gaussian σ).
#[derive(Module, Debug)]
pub struct Net {
    conv_encoder: Vec<Conv2d>,
    encoder: Vec<Linear>,
    mean: Linear,
    log_var: Option<Linear>,
    off_diag: Option<Linear>,
    decoder: Vec<Linear>,
    conv_decoder: Vec<ConvTranspose2d>,
    log_sigma: Option<Param<Tensor<1>>>,
    #[module(skip)]
    config: NetConfig,
}

/// PyTorch's default `nn.Linear` initialisation, U(−1/√fan_in, 1/√fan_in) for weights and
/// biases, drawn from our seeded generator so that initialisation is reproducible and
/// identical on every backend. burn stores the weight as `[d_in, d_out]`.
pub(crate) fn linear(d_in: usize, d_out: usize, rng: &mut impl Rng, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f32).sqrt();
    let u = Uniform::new_inclusive(-bound, bound).unwrap_or_else(|_| {
        // d_in ≥ 1 makes the bound finite and positive; keep a valid fallback anyway.
        Uniform::new_inclusive(-1.0, 1.0).unwrap_or_else(|_| unreachable!())
    });
    let w: Vec<f32> = (0..d_in * d_out).map(|_| u.sample(rng)).collect();
    let b: Vec<f32> = (0..d_out).map(|_| u.sample(rng)).collect();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}

fn uniform(n: usize, fan_in: usize, rng: &mut impl Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    match Uniform::new_inclusive(-bound, bound) {
        Ok(u) => (0..n).map(|_| u.sample(rng)).collect(),
        Err(_) => vec![0.0; n],
    }
}

/// A 4×4 convolution with stride 2 and padding 1 (halves the sides), PyTorch's default
/// initialisation (fan-in = `c_in · 16`).
fn conv(c_in: usize, c_out: usize, rng: &mut impl Rng, device: &Device) -> Conv2d {
    let fan_in = c_in * 16;
    let w = uniform(c_out * c_in * 16, fan_in, rng);
    let b = uniform(c_out, fan_in, rng);
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [c_out, c_in, 4, 4]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [c_out]),
            device,
        ))),
        stride: [2, 2],
        kernel_size: [4, 4],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(1, 1, 1, 1),
    }
}

/// The transposed twin of [`conv`] (doubles the sides); PyTorch computes its fan-in from
/// the weight's second axis, `c_out · 16`.
fn conv_transpose(
    c_in: usize,
    c_out: usize,
    rng: &mut impl Rng,
    device: &Device,
) -> ConvTranspose2d {
    let fan_in = c_out * 16;
    let w = uniform(c_in * c_out * 16, fan_in, rng);
    let b = uniform(c_out, fan_in, rng);
    ConvTranspose2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [c_in, c_out, 4, 4]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [c_out]),
            device,
        ))),
        stride: [2, 2],
        kernel_size: [4, 4],
        dilation: [1, 1],
        groups: 1,
        padding: [1, 1],
        padding_out: [0, 0],
        channels: [c_in, c_out],
    }
}

fn activate<const D: usize>(a: Activation, x: Tensor<D>) -> Tensor<D> {
    match a {
        Activation::Relu => relu(x),
        Activation::Tanh => tanh(x),
        Activation::Silu => silu(x),
        Activation::LeakyRelu => leaky_relu(x, 0.01),
    }
}

/// The encoder's output for a batch.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// `[B, K]` code (AE) or posterior mean (VAE).
    pub mean: Tensor<2>,
    /// `[B, K]` log-variance (diagonal) or log of the Cholesky diagonal (full); VAE only.
    pub log_scale: Option<Tensor<2>>,
    /// `[B, K(K−1)/2]` strictly-lower Cholesky entries, row-major; full posterior only.
    pub off_diag: Option<Tensor<2>>,
}

/// One training or evaluation step's losses, per example, averaged over the batch.
#[derive(Debug, Clone)]
pub struct StepLoss {
    /// `recon + β·kl`, the quantity minimised (a scalar tensor).
    pub loss: Tensor<1>,
    /// Reconstruction term: negative log-likelihood in nats (VAE) or squared error (AE),
    /// summed over features, averaged over the batch.
    pub recon: Tensor<1>,
    /// KL divergence to the prior in nats, averaged over the batch (0 for autoencoders).
    pub kl: Tensor<1>,
}

impl Net {
    /// Build the network of `config`'s [`Topology`] with seeded initialisation on
    /// `device`, layer by layer in the topology's order.
    pub fn new(config: &NetConfig, rng: &mut impl Rng, device: &Device) -> Self {
        let mut conv_encoder = Vec::new();
        let mut conv_decoder = Vec::new();
        let mut encoder = Vec::new();
        let mut decoder = Vec::new();
        let (mut mean, mut log_var, mut off_diag, mut log_sigma) = (None, None, None, None);
        for layer in Topology::of(config).layers() {
            match (layer.part, layer.shape) {
                (_, Shape::Conv { c_in, c_out }) => {
                    conv_encoder.push(conv(c_in, c_out, rng, device));
                }
                (_, Shape::ConvTranspose { c_in, c_out }) => {
                    conv_decoder.push(conv_transpose(c_in, c_out, rng, device));
                }
                (part, Shape::Dense { d_in, d_out }) => {
                    let l = linear(d_in, d_out, rng, device);
                    match part {
                        Part::Encoder => encoder.push(l),
                        Part::Decoder => decoder.push(l),
                        Part::Mean => mean = Some(l),
                        Part::LogVar => log_var = Some(l),
                        _ => off_diag = Some(l),
                    }
                }
                (_, Shape::Vector { len }) => {
                    log_sigma = Some(Param::from_tensor(Tensor::zeros([len], device)));
                }
            }
        }
        Net {
            conv_encoder,
            encoder,
            // every topology has a mean head; a zero-width one only for an invalid config
            mean: mean.unwrap_or_else(|| linear(1, config.latent_dim, rng, device)),
            log_var,
            off_diag,
            decoder,
            conv_decoder,
            log_sigma,
            config: config.clone(),
        }
    }

    /// The number of `f32` parameters [`Net::new`] allocates for `config`, computed without
    /// allocating; `None` when it overflows `usize`.
    pub(crate) fn param_count(config: &NetConfig) -> Option<usize> {
        Topology::of(config).param_count()
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// The encoder.
    ///
    /// # Shapes
    /// - x: `[B, D]`
    /// - output: `[B, K]` (and `[B, K(K−1)/2]` for the full posterior's off-diagonal)
    pub fn encode(&self, x: Tensor<2>) -> EncoderOutput {
        let mut h = x;
        if let (Some([ih, iw, ic]), false) = (self.config.image, self.conv_encoder.is_empty()) {
            let [b, _] = h.dims();
            // rows are HWC; convolutions want NCHW
            let mut m = h.reshape([b, ih, iw, ic]).permute([0, 3, 1, 2]);
            for layer in &self.conv_encoder {
                m = activate(self.config.activation, layer.forward(m));
            }
            let [_, c, fh, fw] = m.dims();
            h = m.reshape([b, c * fh * fw]);
        }
        for layer in &self.encoder {
            h = activate(self.config.activation, layer.forward(h));
        }
        EncoderOutput {
            mean: self.mean.forward(h.clone()),
            log_scale: self.log_var.as_ref().map(|l| l.forward(h.clone())),
            off_diag: self.off_diag.as_ref().map(|l| l.forward(h)),
        }
    }

    /// The decoder's raw output: logits (Bernoulli), the mean (Gaussian), or the
    /// reconstruction (autoencoders).
    ///
    /// # Shapes
    /// - z: `[B, K]`
    /// - output: `[B, D]`
    pub fn decode_raw(&self, z: Tensor<2>) -> Tensor<2> {
        let mut h = z;
        let conv = !self.conv_decoder.is_empty();
        let last = self.decoder.len().saturating_sub(1);
        for (i, layer) in self.decoder.iter().enumerate() {
            h = layer.forward(h);
            if i < last || conv {
                h = activate(self.config.activation, h);
            }
        }
        if let (true, Some([c, fh, fw]), Some([ih, iw, ic])) =
            (conv, self.config.conv_features(), self.config.image)
        {
            let [b, _] = h.dims();
            let mut m = h.reshape([b, c, fh, fw]);
            let last = self.conv_decoder.len().saturating_sub(1);
            for (i, layer) in self.conv_decoder.iter().enumerate() {
                m = layer.forward(m);
                if i < last {
                    m = activate(self.config.activation, m);
                }
            }
            h = m.permute([0, 2, 3, 1]).reshape([b, ih * iw * ic]);
        }
        h
    }

    /// The decoded point in data space: the likelihood's mean.
    ///
    /// # Shapes
    /// - z: `[B, K]`
    /// - output: `[B, D]`
    pub fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        let out = self.decode_raw(z);
        match (self.config.kind, self.config.likelihood) {
            (ModelKind::Vae, Likelihood::Bernoulli) => sigmoid(out),
            _ => out,
        }
    }

    /// The learned log σ, `[D]` or `[1]`.
    pub fn log_sigma(&self) -> Option<Tensor<1>> {
        self.log_sigma.as_ref().map(Param::val)
    }

    /// `−log p(x|z)` per example (nats), or the squared error for autoencoders, from the
    /// decoder's raw output.
    ///
    /// # Shapes
    /// - out, x: `[B, D]`
    /// - output: `[B]`
    pub fn recon_per_example(&self, out: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        match (self.config.kind, self.config.likelihood) {
            (ModelKind::Vae, Likelihood::Bernoulli) => loss::bernoulli_nll_logits(out, x),
            (ModelKind::Vae, Likelihood::Gaussian { sigma }) => {
                loss::gaussian_nll_fixed(out, x, sigma)
            }
            (ModelKind::Vae, Likelihood::GaussianLearned { .. }) => {
                let ls = self
                    .log_sigma()
                    .unwrap_or_else(|| Tensor::zeros([1], &out.device()));
                loss::gaussian_nll_learned(out, x, ls)
            }
            _ => loss::squared_error(out, x),
        }
    }

    /// A reparameterised latent sample `z = μ + L ε` for the encoder output and the standard
    /// normal noise `eps` (`[B, K]`); the mean itself for autoencoders.
    pub fn reparameterize(&self, enc: &EncoderOutput, eps: Tensor<2>) -> Tensor<2> {
        match (&enc.log_scale, self.config.posterior) {
            (None, _) => enc.mean.clone(),
            (Some(lv), PosteriorKind::Diagonal) => {
                enc.mean.clone() + (lv.clone() * 0.5).exp() * eps
            }
            (Some(ld), PosteriorKind::Full) => {
                let mut z = enc.mean.clone() + ld.clone().exp() * eps.clone();
                if let Some(off) = &enc.off_diag {
                    z = z + loss::strict_lower_matvec(off.clone(), eps, self.config.latent_dim);
                }
                z
            }
        }
    }

    /// Closed-form `KL(q(z|x) ‖ N(0, I))` per example, `[B]` (zeros for autoencoders).
    pub fn kl_per_example(&self, enc: &EncoderOutput) -> Tensor<1> {
        match (&enc.log_scale, self.config.posterior) {
            (None, _) => {
                let [b, _] = enc.mean.dims();
                Tensor::zeros([b], &enc.mean.device())
            }
            (Some(lv), PosteriorKind::Diagonal) => loss::kl_diagonal(enc.mean.clone(), lv.clone()),
            (Some(ld), PosteriorKind::Full) => {
                loss::kl_full(enc.mean.clone(), ld.clone(), enc.off_diag.clone())
            }
        }
    }

    /// The losses of one batch: encode, sample with `eps` (ignored by autoencoders), decode,
    /// reconstruction term + `beta` · KL, averaged over the batch.
    pub fn step_loss(&self, x: Tensor<2>, eps: Tensor<2>, beta: f64) -> StepLoss {
        let enc = self.encode(x.clone());
        let z = self.reparameterize(&enc, eps);
        let out = self.decode_raw(z);
        let recon = self.recon_per_example(out, x).mean();
        let kl = self.kl_per_example(&enc).mean();
        let loss = if self.config.is_vae() {
            recon.clone() + kl.clone() * beta
        } else {
            recon.clone()
        };
        StepLoss { loss, recon, kl }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Arch;

    /// `param_count` follows `Net::new` layer by layer.
    #[test]
    fn param_count_matches_the_built_network() {
        let device = crate::cpu_device();
        let mlp = NetConfig {
            input_dim: 12,
            latent_dim: 3,
            hidden: vec![7, 5],
            ..NetConfig::reference_vae()
        };
        let conv = NetConfig {
            arch: Arch::Conv,
            input_dim: 8 * 8 * 3,
            image: Some([8, 8, 3]),
            conv_channels: vec![4, 6],
            ..mlp.clone()
        };
        for base in [mlp, conv] {
            for cfg in [
                NetConfig {
                    kind: ModelKind::LinearAe,
                    arch: Arch::Mlp,
                    ..base.clone()
                },
                NetConfig {
                    kind: ModelKind::Ae,
                    ..base.clone()
                },
                base.clone(),
                NetConfig {
                    posterior: PosteriorKind::Full,
                    likelihood: Likelihood::GaussianLearned { shared: false },
                    ..base.clone()
                },
                NetConfig {
                    likelihood: Likelihood::GaussianLearned { shared: true },
                    ..base.clone()
                },
            ] {
                let net = Net::new(&cfg, &mut latent_core::seed::rng(0), &device);
                let built: usize = crate::params::named_params(&net)
                    .unwrap()
                    .values()
                    .map(|a| a.len())
                    .sum();
                assert_eq!(Net::param_count(&cfg), Some(built), "{cfg:?}");
                // the topology's names are the built module's parameter names
                let topology = Topology::of(&cfg);
                let mut names: Vec<String> = topology
                    .layers()
                    .iter()
                    .flat_map(|l| match l.shape {
                        Shape::Vector { .. } => vec![l.name()],
                        _ => vec![format!("{}.weight", l.name()), format!("{}.bias", l.name())],
                    })
                    .collect();
                names.sort();
                let params = crate::params::named_params(&net).unwrap();
                let built_names: Vec<String> = params.keys().cloned().collect();
                assert_eq!(names, built_names, "{cfg:?}");
                assert_eq!(topology.tensor_count(), params.len());
            }
        }
    }
}
