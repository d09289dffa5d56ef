//! The MLP and conv networks' training step and inference on the host CPU, fused by hand.
//!
//! burn runs a training step as a graph of tensor operations: every bias add, activation,
//! term of the loss and of the reparameterisation allocates and sweeps a tensor, and autodiff
//! records them and replays them backward. For the fully connected and the conv networks
//! (linear AE, AE, and the VAE with a diagonal or a full posterior, any likelihood) this
//! module computes the same function and its gradient directly:
//!
//! - one matrix product per layer ([`faer`]'s gemm), with the bias written into the output
//!   before the product accumulates onto it and the activation applied in the same sweep
//!   (on AVX-512, inference's products and the encoder's weight gradients: register tiles
//!   that skip zero inputs, `fused/tile.rs`);
//! - the reconstruction loss and its gradient in one pass over the decoder's output, the KL,
//!   the reparameterisation and their gradients in one pass over the latent code;
//! - the backward products written out, skipping the gradient with respect to the input;
//! - every buffer allocated once per batch size and reused;
//! - a conv network's convolutions as products too (`fused/conv.rs`).
//!
//! It is the same mathematics as [`crate::model::Net::step_loss`]: the tests compare its
//! losses and every gradient with burn's autodiff, and whole training runs with burn's. The
//! results are deterministic and do not depend on the number of threads: the products are
//! split into fixed column blocks, each computed by one thread over the whole inner
//! dimension, whatever the pool's size.
//!
//! Parameters keep the names and the layout of [`crate::model::Net`] (`encoder.0.weight`
//! is `[d_in, d_out]`), so checkpoints, weights files and the optimizer state are shared with
//! the burn path.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::config::{Activation, Arch, Likelihood, ModelKind, NetConfig, PosteriorKind};
use crate::params::HostTensors;
use crate::topology::{Layer, Part, Shape, Topology};
use crate::{NnError, Result};

const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// A parallel product is split into at most this many blocks of rows or of columns, whatever
/// the number of threads: the split, and so every rounding, is a function of the shape
/// alone. Sixteen keep two to eight threads busy with little imbalance.
const BLOCKS: usize = 16;

/// The narrowest block of a parallel product, where the product is wide enough: narrower
/// blocks run faer's narrower kernels and read the other operand once more each (the
/// reference VAE's 400-wide products ran at 184 GFLOP/s in 13 blocks of 32, at 222 in 6 of
/// 64–80, two threads).
const MIN_BLOCK: usize = 64;

/// Products below this many flops run on the calling thread.
const PARALLEL_FLOPS: usize = 4_000_000;

/// The rows of a block of a weight gradient's tile product
/// ([`FusedNet::tile_weight_grad`]): a multiple of the tiles' four rows.
const TILE_ROWS: usize = 32;

mod conv;
mod tile;

use conv::{ConvLayer, ConvStack, ConvWs};

/// Rows a conv network computes at once when it infers (its patches take
/// `16 · c_in` values per output position, so a bounded batch bounds the memory).
const CONV_CHUNK: usize = 256;

/// The Bernoulli negative log-likelihood of targets `x` under logits `o`, summed in f64:
/// `Σ o(1 − x) + softplus(−o)`, each term the training step's vectorised f32 kernel.
pub(crate) fn bernoulli_nll(o: &[f32], x: &[f32]) -> f64 {
    kernels::bernoulli(o, x, None)
}

/// Whether [`FusedNet`] computes `config`'s network: the MLP and conv architectures, for a
/// VAE with either posterior.
pub fn supports(config: &NetConfig) -> bool {
    config.arch == Arch::Mlp || config.conv_features().is_some()
}

/// A fully connected layer: indices of its weight (`[d_in, d_out]`) and bias in
/// [`FusedNet`]'s parameter list.
#[derive(Debug, Clone, Copy)]
struct Dense {
    w: usize,
    b: usize,
    d_in: usize,
    d_out: usize,
}

/// A matrix operand stored row-major: as is, or transposed.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// The `rows × cols` matrix itself.
    N(&'a [f32]),
    /// The transpose of the stored `cols × rows` matrix.
    T(&'a [f32]),
}

impl<'a> Op<'a> {
    fn mat(self, rows: usize, cols: usize) -> MatRef<'a, f32> {
        match self {
            Op::N(s) => MatRef::from_row_major_slice(s, rows, cols),
            Op::T(s) => MatRef::from_row_major_slice(s, cols, rows).transpose(),
        }
    }
}

/// `dst (m × n, row-major) (+)= lhs (m × k) · rhs (k × n)`. A large product is split into
/// the [`block_bounds`] of its rows (when `m ≥ n`) or of its columns, run on rayon's pool,
/// each a sequential product over the whole inner dimension: the same bits for any number
/// of threads.
fn gemm(dst: &mut [f32], m: usize, n: usize, k: usize, lhs: Op<'_>, rhs: Op<'_>, accum: Accum) {
    let a = lhs.mat(m, k);
    let b = rhs.mat(k, n);
    let c = MatMut::from_row_major_slice_mut(dst, m, n);
    let by_rows = m >= n;
    let bounds = block_bounds(if by_rows { m } else { n });
    if 2 * m * n * k < PARALLEL_FLOPS || bounds.len() <= 2 {
        seq_matmul(c, accum, a, b);
        return;
    }
    // each block writes its own rows or columns
    let mut blocks = Vec::with_capacity(bounds.len() - 1);
    let mut rest = c;
    for w in bounds.windows(2) {
        let (block, tail) = if by_rows {
            rest.split_at_row_mut(w[1] - w[0])
        } else {
            rest.split_at_col_mut(w[1] - w[0])
        };
        blocks.push((w[0], block));
        rest = tail;
    }
    blocks.into_par_iter().for_each(|(start, view)| {
        let (ai, bj) = if by_rows {
            (a.subrows(start, view.nrows()), b)
        } else {
            (a, b.subcols(start, view.ncols()))
        };
        seq_matmul(view, accum, ai, bj);
    });
}

/// The boundaries of the blocks a parallel product cuts a side of `len` into: one per
/// [`MIN_BLOCK`] (at least one, at most [`BLOCKS`]), as equal as boundaries on multiples of
/// 16 allow.
fn block_bounds(len: usize) -> Vec<usize> {
    let blocks = (len / MIN_BLOCK).clamp(1, BLOCKS);
    (0..=blocks)
        .map(|i| {
            if i == blocks {
                len
            } else {
                (i * len / blocks + 8) / 16 * 16
            }
        })
        .collect()
}

/// `c (+)= a · b` by faer on the calling thread, which is then left with clean vector
/// registers ([`latent_core::simd::clear_upper_state`]: faer's kernels return with their upper
/// halves dirty, which makes the scalar code after them pay for every SSE/AVX switch).
fn seq_matmul(c: MatMut<'_, f32>, accum: Accum, a: MatRef<'_, f32>, b: MatRef<'_, f32>) {
    matmul(c, accum, a, b, 1.0, Par::Seq);
    latent_core::simd::clear_upper_state();
}

/// Inference's output layers, each with its output buffer (`rows × d_out`, or a block's
/// rows of it).
type Heads<'a> = Vec<(Dense, &'a mut [f32])>;

/// Where a dense layer's product runs.
#[derive(Debug, Clone, Copy)]
enum Product<'a> {
    /// Split into fixed blocks on rayon's pool ([`gemm`]).
    Parallel,
    /// On the calling thread: the tile product where the weight has one
    /// ([`tile::Weight`]), faer's otherwise.
    OnThread(Option<tile::Weight<'a>>),
}

/// Buffers of one batch size, reused from step to step.
#[derive(Debug, Default)]
struct Workspace {
    rows: usize,
    /// Encoder hidden layers: post-activation outputs, and pre-activations (SiLU only).
    enc_h: Vec<Vec<f32>>,
    enc_a: Vec<Vec<f32>>,
    mean: Vec<f32>,
    /// The log-variance (diagonal posterior) or the log of the Cholesky diagonal (full).
    log_var: Vec<f32>,
    /// Full posterior: the strictly-lower Cholesky entries, `rows × K(K−1)/2` (row-major
    /// (1,0), (2,0), (2,1), …).
    off: Vec<f32>,
    /// The posterior's scale on the diagonal: `e^{½ lv}` (diagonal), `e^{ld}` (full).
    std: Vec<f32>,
    z: Vec<f32>,
    dec_h: Vec<Vec<f32>>,
    dec_a: Vec<Vec<f32>>,
    out: Vec<f32>,
    /// Gradients flowing back: one buffer per width met on the way.
    d_out: Vec<f32>,
    d_hidden: Vec<Vec<f32>>,
    d_z: Vec<f32>,
    d_mean: Vec<f32>,
    d_log_var: Vec<f32>,
    d_off: Vec<f32>,
    /// Conv networks: the decoder's last dense layer's output after the activation (the
    /// transposed convolutions' input, CHW rows), and before it (SiLU).
    dec_last: Vec<f32>,
    dec_last_a: Vec<f32>,
    /// Conv networks: the convolutions' buffers.
    conv: ConvWs,
    /// The encoder's weight gradients on tiles.
    grad_tiles: GradTiles,
}

/// The buffers of a weight gradient on tiles ([`FusedNet::tile_weight_grad`]): the columns
/// of `δ` some row needs, and `δ` packed to them.
#[derive(Debug, Default)]
struct GradTiles {
    live: tile::LiveColumns,
    packed_delta: Vec<f32>,
}

/// The network of a [`NetConfig`] as plain host arrays, with a fused forward and backward.
#[derive(Debug)]
pub struct FusedNet {
    config: NetConfig,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    values: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    encoder: Vec<Dense>,
    mean: Dense,
    log_var: Option<Dense>,
    /// A full posterior's strictly-lower Cholesky entries (none when `K = 1`).
    off_diag: Option<Dense>,
    decoder: Vec<Dense>,
    /// The convolutions of a conv network.
    conv: Option<ConvStack>,
    log_sigma: Option<usize>,
    ws: Workspace,
    /// The buffers of the passes that take `&self` (losses without gradients, inference),
    /// kept from call to call: fresh ones would be fresh pages to fault in at every batch.
    /// A call that finds them in use by another thread takes fresh ones.
    spare: std::sync::Mutex<Workspace>,
    /// Inference's hidden-layer buffers, a pair per block of rows running at once
    /// ([`FusedNet::infer`]), kept from call to call: about a pair per thread, where a part
    /// of one buffer per block of a chunk took 26 MB for 8,192 rows of the reference VAE.
    block_scratch: std::sync::Mutex<Vec<[Vec<f32>; 2]>>,
    /// `grads` hold a training step's gradients not yet applied by an update.
    fresh_grads: bool,
    /// The gradients laid end to end for a data-parallel exchange, kept between steps (a
    /// fresh buffer each step is fresh pages to fault in).
    exchange: Vec<f32>,
    /// Whether each parameter is finite, for inference's tile products
    /// ([`tile::Weight::new`]); worked out at the first inference after a change of the
    /// parameters (`params_and_grads` clears it), not at every call: a one-row decode is a
    /// few microseconds of products and a scan of the weights was ten times that.
    finite: std::sync::OnceLock<Vec<bool>>,
}

impl FusedNet {
    /// The network of `config` with the parameters `params` (names and layout of
    /// [`crate::model::Net`]).
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] for a configuration this module does not compute (see
    /// [`supports`]); [`NnError::Backend`] when a parameter is missing or mis-shaped.
    pub fn new(config: &NetConfig, params: &HostTensors) -> Result<Self> {
        if !supports(config) {
            return Err(NnError::param(
                "engine",
                "the fused CPU path computes the MLP and conv networks only",
            ));
        }
        let mut names = Vec::new();
        let mut shapes = Vec::new();
        let mut values = Vec::new();
        for (name, a) in params {
            names.push(name.clone());
            shapes.push(a.shape().to_vec());
            values.push(a.iter().copied().collect::<Vec<f32>>());
        }
        let find = |name: &str, shape: &[usize]| -> Result<usize> {
            let i = names.iter().position(|n| n == name).ok_or_else(|| {
                NnError::Backend(format!("fused network: parameter `{name}` is missing"))
            })?;
            if shapes[i] != shape {
                return Err(NnError::Backend(format!(
                    "fused network: parameter `{name}` has shape {:?}, expected {shape:?}",
                    shapes[i]
                )));
            }
            Ok(i)
        };
        let topology = Topology::of(config);
        let dense = |layer: &Layer| -> Result<Dense> {
            let Shape::Dense { d_in, d_out } = layer.shape else {
                return Err(NnError::Backend(format!(
                    "fused network: layer `{}` is not a dense layer",
                    layer.name()
                )));
            };
            let prefix = layer.name();
            Ok(Dense {
                w: find(&format!("{prefix}.weight"), &[d_in, d_out])?,
                b: find(&format!("{prefix}.bias"), &[d_out])?,
                d_in,
                d_out,
            })
        };
        let dense_part =
            |part: Part| -> Result<Vec<Dense>> { topology.part(part).map(dense).collect() };
        let encoder = dense_part(Part::Encoder)?;
        let decoder = dense_part(Part::Decoder)?;
        let mean = topology
            .single(Part::Mean)
            .ok_or_else(|| NnError::Backend("fused network: no mean head".into()))
            .and_then(dense)?;
        let log_var = topology.single(Part::LogVar).map(dense).transpose()?;
        let off_diag = topology.single(Part::OffDiag).map(dense).transpose()?;
        let conv = match (config.conv_features(), config.image) {
            (Some(features), Some([ih, iw, _])) => {
                let conv_layer = |layer: &Layer, scale: usize| -> Result<ConvLayer> {
                    let (c_in, c_out, transposed) = match layer.shape {
                        Shape::Conv { c_in, c_out } => (c_in, c_out, false),
                        Shape::ConvTranspose { c_in, c_out } => (c_in, c_out, true),
                        _ => {
                            return Err(NnError::Backend(format!(
                                "fused network: layer `{}` is not a convolution",
                                layer.name()
                            )));
                        }
                    };
                    let prefix = layer.name();
                    let shape = if transposed {
                        [c_in, c_out, 4, 4]
                    } else {
                        [c_out, c_in, 4, 4]
                    };
                    Ok(ConvLayer {
                        w: find(&format!("{prefix}.weight"), &shape)?,
                        b: find(&format!("{prefix}.bias"), &[c_out])?,
                        c_in,
                        c_out,
                        h: ih >> scale,
                        wd: iw >> scale,
                        transposed,
                    })
                };
                // the encoder's layer i reads the image halved i times; the decoder's
                // layer j of n writes it halved n − 1 − j times
                let enc = topology
                    .part(Part::ConvEncoder)
                    .enumerate()
                    .map(|(i, l)| conv_layer(l, i))
                    .collect::<Result<Vec<_>>>()?;
                let n = topology.part(Part::ConvDecoder).count();
                let dec = topology
                    .part(Part::ConvDecoder)
                    .enumerate()
                    .map(|(j, l)| conv_layer(l, n - 1 - j))
                    .collect::<Result<Vec<_>>>()?;
                if enc.is_empty() || dec.is_empty() {
                    return Err(NnError::Backend(
                        "fused network: a conv network without convolutions".into(),
                    ));
                }
                Some(ConvStack {
                    enc,
                    dec,
                    act: config.activation,
                    features,
                })
            }
            _ => None,
        };
        let log_sigma = match topology.single(Part::LogSigma).map(|l| l.shape) {
            Some(Shape::Vector { len }) => Some(find("log_sigma", &[len])?),
            _ => None,
        };
        let used = topology.tensor_count();
        if used != names.len() {
            return Err(NnError::Backend(format!(
                "fused network: {} parameters given, the network has {used}",
                names.len()
            )));
        }
        let grads = values.iter().map(|v| vec![0.0; v.len()]).collect();
        Ok(FusedNet {
            config: config.clone(),
            names,
            shapes,
            values,
            grads,
            encoder,
            mean,
            log_var,
            off_diag,
            decoder,
            conv,
            log_sigma,
            ws: Workspace::default(),
            spare: std::sync::Mutex::new(Workspace::default()),
            block_scratch: std::sync::Mutex::new(Vec::new()),
            fresh_grads: false,
            exchange: Vec::new(),
            finite: std::sync::OnceLock::new(),
        })
    }

    /// The network's configuration.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// The parameters by name, as host tensors.
    ///
    /// # Errors
    /// Never in practice (shapes are checked at construction); [`NnError::Backend`] otherwise.
    pub fn params(&self) -> Result<HostTensors> {
        let mut out = HostTensors::new();
        for ((name, shape), v) in self.names.iter().zip(&self.shapes).zip(&self.values) {
            let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v.clone())
                .map_err(|e| NnError::Backend(e.to_string()))?;
            out.insert(name.clone(), a);
        }
        Ok(out)
    }

    /// Every parameter with its name and the gradient of the last [`FusedNet::train_step`],
    /// for the optimizer.
    pub fn params_and_grads(&mut self) -> impl Iterator<Item = (&str, &mut [f32], &[f32])> {
        self.finite = std::sync::OnceLock::new();
        self.names
            .iter()
            .zip(self.values.iter_mut())
            .zip(self.grads.iter())
            .map(|((n, v), g)| (n.as_str(), v.as_mut_slice(), g.as_slice()))
    }

    /// The gradients of the last [`FusedNet::train_step`] by name (for tests and for a
    /// data-parallel all-reduce).
    pub fn grads(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.names
            .iter()
            .zip(self.grads.iter())
            .map(|(n, g)| (n.as_str(), g.as_slice()))
    }

    /// The gradient buffers, one per parameter in [`FusedNet::grads`]' order, to be changed
    /// in place by a data-parallel all-reduce, and the flat buffer it goes through. The
    /// buffers are marked a step's gradients, ready for an update (a rank whose share of a
    /// batch was empty takes no step but contributes zeros).
    pub(crate) fn exchange_buffers(&mut self) -> (&mut [Vec<f32>], &mut Vec<f32>) {
        self.fresh_grads = true;
        (&mut self.grads, &mut self.exchange)
    }

    /// Whether the gradients are a training step's not yet applied; marks them applied.
    pub(crate) fn take_fresh_grads(&mut self) -> bool {
        std::mem::replace(&mut self.fresh_grads, false)
    }

    fn is_vae(&self) -> bool {
        self.log_var.is_some()
    }

    /// A VAE with a full posterior: `log_var` is the log of the Cholesky diagonal.
    fn is_full(&self) -> bool {
        self.is_vae() && self.config.posterior == PosteriorKind::Full
    }

    /// The width of a full posterior's off-diagonal head, `K(K−1)/2` (0 without one).
    pub fn off_diag_width(&self) -> usize {
        self.off_diag.map_or(0, |l| l.d_out)
    }

    fn resize(&self, ws: &mut Workspace, rows: usize) {
        if ws.rows == rows && !ws.out.is_empty() {
            return;
        }
        ws.rows = rows;
        let silu = self.config.activation == Activation::Silu;
        let buf = |w: usize| vec![0.0f32; rows * w];
        ws.enc_h = self.encoder.iter().map(|l| buf(l.d_out)).collect();
        ws.enc_a = if silu {
            self.encoder.iter().map(|l| buf(l.d_out)).collect()
        } else {
            Vec::new()
        };
        let k = self.mean.d_out;
        ws.mean = buf(k);
        ws.log_var = buf(k);
        let m = self.off_diag_width();
        ws.off = buf(m);
        ws.d_off = buf(m);
        ws.std = buf(k);
        ws.z = buf(k);
        let hidden = &self.decoder[..self.decoder.len() - 1];
        ws.dec_h = hidden.iter().map(|l| buf(l.d_out)).collect();
        ws.dec_a = if silu {
            hidden.iter().map(|l| buf(l.d_out)).collect()
        } else {
            Vec::new()
        };
        if self.conv.is_some() {
            let width = self.decoder.last().map_or(0, |l| l.d_out);
            ws.dec_last = buf(width);
            ws.dec_last_a = if silu { buf(width) } else { Vec::new() };
        }
        ws.out = buf(self.config.input_dim);
        ws.d_out = buf(self.config.input_dim);
        let widest = self
            .encoder
            .iter()
            .chain(&self.decoder)
            .map(|l| l.d_out.max(l.d_in))
            .max()
            .unwrap_or(1);
        ws.d_hidden = vec![buf(widest), buf(widest)];
        ws.d_z = buf(k);
        ws.d_mean = buf(k);
        ws.d_log_var = buf(k);
    }

    /// `out = act(input · W + b)` for `rows` rows; `pre` receives `input · W + b` when the
    /// activation's derivative needs it. The product runs as `product` says.
    fn dense_forward(
        values: &[Vec<f32>],
        l: Dense,
        input: &[f32],
        rows: usize,
        out: &mut [f32],
        act: Option<(Activation, Option<&mut Vec<f32>>)>,
        product: Product<'_>,
    ) {
        let bias = &values[l.b];
        for row in out.chunks_exact_mut(l.d_out) {
            row.copy_from_slice(bias);
        }
        let (lhs, rhs) = (Op::N(input), Op::N(&values[l.w]));
        match product {
            Product::Parallel => gemm(out, rows, l.d_out, l.d_in, lhs, rhs, Accum::Add),
            Product::OnThread(Some(w)) => w.add_product(out, input, rows),
            Product::OnThread(None) => seq_matmul(
                MatMut::from_row_major_slice_mut(out, rows, l.d_out),
                Accum::Add,
                lhs.mat(rows, l.d_in),
                rhs.mat(l.d_in, l.d_out),
            ),
        }
        if let Some((a, pre)) = act {
            if let Some(pre) = pre {
                pre.copy_from_slice(out);
            }
            kernels::activate(a, out);
        }
    }

    /// Hidden layer `i` of a stack in training: `outs[i] = act(input · W + b)`, its input
    /// `first` for the first layer and `outs[i - 1]` after; the pre-activation in `pres[i]`
    /// when the activation needs it (`pres` empty otherwise).
    fn hidden_layer(
        &self,
        l: Dense,
        i: usize,
        first: &[f32],
        outs: &mut [Vec<f32>],
        pres: &mut [Vec<f32>],
        rows: usize,
    ) {
        let (done, rest) = outs.split_at_mut(i);
        let input: &[f32] = if i == 0 { first } else { &done[i - 1] };
        let act = (self.config.activation, pres.get_mut(i));
        Self::dense_forward(
            &self.values,
            l,
            input,
            rows,
            &mut rest[0],
            Some(act),
            Product::Parallel,
        );
    }

    /// The encoder's mean (the code) for `rows` rows of `x`, into the workspace.
    fn forward_encoder(&self, ws: &mut Workspace, x: &[f32], rows: usize) {
        self.resize(ws, rows);
        // a conv network's dense layers read the convolutions' feature map
        if let Some(c) = &self.conv {
            c.encode(&self.values, &mut ws.conv, x, rows);
        }
        let dense_in: &[f32] = if self.conv.is_some() {
            &ws.conv.flat
        } else {
            x
        };
        for (i, &l) in self.encoder.iter().enumerate() {
            self.hidden_layer(l, i, dense_in, &mut ws.enc_h, &mut ws.enc_a, rows);
        }
        let h: &[f32] = ws.enc_h.last().map_or(dense_in, Vec::as_slice);
        Self::dense_forward(
            &self.values,
            self.mean,
            h,
            rows,
            &mut ws.mean,
            None,
            Product::Parallel,
        );
        if let Some(lv) = self.log_var {
            Self::dense_forward(
                &self.values,
                lv,
                h,
                rows,
                &mut ws.log_var,
                None,
                Product::Parallel,
            );
        }
        if let Some(od) = self.off_diag {
            Self::dense_forward(
                &self.values,
                od,
                h,
                rows,
                &mut ws.off,
                None,
                Product::Parallel,
            );
        }
    }

    /// Encoder, reparameterisation with `eps` (VAE), decoder: the decoder's raw output in
    /// the workspace.
    fn forward(&self, ws: &mut Workspace, x: &[f32], eps: &[f32], rows: usize) {
        self.forward_encoder(ws, x, rows);
        if self.is_full() {
            let k = self.mean.d_out;
            kernels::reparameterize_full(
                &ws.mean,
                &ws.log_var,
                &ws.off,
                eps,
                k,
                &mut ws.std,
                &mut ws.z,
            );
        } else if self.is_vae() {
            kernels::reparameterize(&ws.mean, &ws.log_var, eps, &mut ws.std, &mut ws.z);
        } else {
            ws.z.copy_from_slice(&ws.mean);
        }
        self.forward_decoder(ws, rows);
    }

    /// The decoder on the codes in `ws.z`: its raw output in `ws.out`.
    fn forward_decoder(&self, ws: &mut Workspace, rows: usize) {
        let act = self.config.activation;
        let silu = act == Activation::Silu;
        let last = self.decoder.len() - 1;
        for (i, &l) in self.decoder.iter().enumerate() {
            if i == last {
                let input: &[f32] = if i == 0 { &ws.z } else { &ws.dec_h[i - 1] };
                match &self.conv {
                    None => Self::dense_forward(
                        &self.values,
                        l,
                        input,
                        rows,
                        &mut ws.out,
                        None,
                        Product::Parallel,
                    ),
                    // the transposed convolutions read the last dense layer's activation
                    Some(c) => {
                        let pre = if silu { Some(&mut ws.dec_last_a) } else { None };
                        Self::dense_forward(
                            &self.values,
                            l,
                            input,
                            rows,
                            &mut ws.dec_last,
                            Some((act, pre)),
                            Product::Parallel,
                        );
                        c.decode(&self.values, &mut ws.conv, &ws.dec_last, rows, &mut ws.out);
                    }
                }
            } else {
                self.hidden_layer(l, i, &ws.z, &mut ws.dec_h, &mut ws.dec_a, rows);
            }
        }
    }

    /// The reconstruction term summed over the batch and, with `grad`, its gradient with
    /// respect to the decoder's output scaled by `scale`, into `d_out`; the learned σ's
    /// gradient too.
    fn recon(
        &self,
        ws: &mut Workspace,
        sigma_grad: Option<&mut Vec<f32>>,
        x: &[f32],
        grad: Option<f32>,
    ) -> f64 {
        let d = self.config.input_dim;
        match (self.config.kind, self.config.likelihood) {
            (ModelKind::Vae, Likelihood::Bernoulli) => {
                kernels::bernoulli(&ws.out, x, grad.map(|s| (s, &mut ws.d_out[..])))
            }
            (ModelKind::Vae, Likelihood::Gaussian { sigma }) => {
                let inv_var = 1.0 / (sigma * sigma);
                let sq = kernels::squared_error(
                    &ws.out,
                    x,
                    grad.map(|s| (s * inv_var, &mut ws.d_out[..])),
                );
                let rows = x.len() / d.max(1);
                0.5 * f64::from(inv_var) * sq
                    + (rows * d) as f64 * (f64::from(sigma.ln()) + HALF_LOG_2PI)
            }
            (ModelKind::Vae, Likelihood::GaussianLearned { .. }) => {
                let ls = &self.values[self.log_sigma.unwrap_or(0)];
                let rows = x.len() / d.max(1);
                kernels::gaussian_learned(
                    &ws.out,
                    x,
                    d,
                    ls,
                    grad.zip(sigma_grad).map(|(s, g)| (s, &mut ws.d_out[..], g)),
                ) + (rows * d) as f64 * HALF_LOG_2PI
            }
            _ => kernels::squared_error(&ws.out, x, grad.map(|s| (2.0 * s, &mut ws.d_out[..]))),
        }
    }

    /// Losses per example `[recon + β·kl, recon, kl]` of `rows` rows of `x` with noise
    /// `eps` (`rows × K`, ignored by autoencoders), without gradients.
    pub fn losses(&self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> [f64; 3] {
        self.with_spare(|ws| {
            self.forward(ws, x, eps, rows);
            let recon = self.recon(ws, None, x, None) / rows as f64;
            let kl = if self.is_vae() {
                self.kl(ws, None) / rows as f64
            } else {
                0.0
            };
            let loss = if self.is_vae() {
                recon + beta * kl
            } else {
                recon
            };
            [loss, recon, kl]
        })
    }

    /// The batch's KL divergence to the prior, summed over its rows; with `grad = Some(s)`,
    /// its gradient scaled by `s` written into `d_mean`, `d_log_var` (and `d_off`).
    fn kl(&self, ws: &mut Workspace, grad: Option<f32>) -> f64 {
        let Workspace {
            mean,
            log_var,
            off,
            d_mean,
            d_log_var,
            d_off,
            ..
        } = ws;
        if self.is_full() {
            let grad = grad.map(|s| (s, &mut d_mean[..], &mut d_log_var[..], &mut d_off[..]));
            kernels::kl_full(mean, log_var, off, grad)
        } else {
            kernels::kl_diagonal(
                mean,
                log_var,
                grad.map(|s| (s, &mut d_mean[..], &mut d_log_var[..])),
            )
        }
    }

    /// `f` on the spare workspace, or on a fresh one while another thread holds it.
    fn with_spare<R>(&self, f: impl FnOnce(&mut Workspace) -> R) -> R {
        match self.spare.try_lock() {
            Ok(mut held) => f(&mut held),
            Err(_) => f(&mut Workspace::default()),
        }
    }

    /// One training step's losses (as [`FusedNet::losses`]) and the gradient of
    /// `recon + β·kl` (averaged over the batch) with respect to every parameter, kept for
    /// [`FusedNet::params_and_grads`].
    ///
    /// The step runs as one job on rayon's pool, its products split among the workers from
    /// inside it (a product started from outside the pool hands over to a worker and back,
    /// a sleep and a wake-up of the calling thread per product), the other workers kept
    /// awake until it ends (the crate's `awake` module).
    pub fn train_step(&mut self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> [f64; 3] {
        crate::awake::awake(|| self.step_on_pool(x, eps, rows, beta))
    }

    /// [`FusedNet::train_step`]'s body.
    fn step_on_pool(&mut self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> [f64; 3] {
        let mut ws = std::mem::take(&mut self.ws);
        self.forward(&mut ws, x, eps, rows);
        let scale = 1.0 / rows as f32;
        // the learned σ's gradient, out of `grads` while `recon` reads the parameters
        let mut sigma_grad = self.log_sigma.map(|i| std::mem::take(&mut self.grads[i]));
        if let Some(g) = sigma_grad.as_mut() {
            g.fill(0.0);
        }
        let recon = self.recon(&mut ws, sigma_grad.as_mut(), x, Some(scale)) / rows as f64;
        if let (Some(i), Some(g)) = (self.log_sigma, sigma_grad) {
            self.grads[i] = g;
        }
        let vae = self.is_vae();
        let kl = if vae {
            self.kl(&mut ws, Some(beta as f32 * scale)) / rows as f64
        } else {
            0.0
        };
        self.backward(&mut ws, x, eps, rows);
        self.ws = ws;
        self.fresh_grads = true;
        let loss = if vae { recon + beta * kl } else { recon };
        [loss, recon, kl]
    }

    /// `dW = inputᵀ·delta`, `db = Σ_rows delta`, and (unless `d_input` is `None`)
    /// `d_input = delta·Wᵀ`. With `tiles` (the encoder's layers), `dW` on tiles where the
    /// host has them ([`FusedNet::tile_weight_grad`]).
    #[allow(clippy::too_many_arguments)]
    fn dense_backward(
        values: &[Vec<f32>],
        grads: &mut [Vec<f32>],
        l: Dense,
        input: &[f32],
        delta: &[f32],
        rows: usize,
        d_input: Option<(&mut [f32], Accum)>,
        tiles: Option<&mut GradTiles>,
    ) {
        let tiled =
            tiles.is_some_and(|t| Self::tile_weight_grad(&mut grads[l.w], t, l, input, delta));
        if !tiled {
            gemm(
                &mut grads[l.w],
                l.d_in,
                l.d_out,
                rows,
                Op::T(input),
                Op::N(delta),
                Accum::Replace,
            );
        }
        kernels::column_sums(delta, l.d_out, &mut grads[l.b]);
        if let Some((d_input, accum)) = d_input {
            gemm(
                d_input,
                rows,
                l.d_in,
                l.d_out,
                Op::N(delta),
                Op::T(&values[l.w]),
                accum,
            );
        }
    }

    /// An encoder layer's weight gradient `dW = inputᵀ·δ` on tiles, where the host has
    /// them and `δ`'s width is a multiple of 16 (`false`, nothing written, otherwise): the
    /// columns of `δ` that are zero in every row (units off for the whole batch) are left
    /// out and get zeros, the others packed side by side; the tiles skip the input's zeros
    /// (pixels, ReLU outputs). Blocks of [`TILE_ROWS`] rows of `dW` (input features) run
    /// on rayon's pool, each element the sum of its nonzero terms in the batch's order
    /// whatever the blocks: the same bits on any number of threads.
    ///
    /// `δ` is not scanned for NaN: a NaN in it reaches `dW` through every nonzero input and
    /// keeps its column live, but a term whose input is zero is an exact zero here where
    /// faer's product would make it NaN. A NaN in `δ` comes from one upstream, which the
    /// batch's loss carries; training stops at a non-finite loss and at any non-finite
    /// parameter after an epoch (`train.rs`), so no run ends on a NaN the tiles hid.
    fn tile_weight_grad(
        dw: &mut [f32],
        tiles: &mut GradTiles,
        l: Dense,
        input: &[f32],
        delta: &[f32],
    ) -> bool {
        let GradTiles { live, packed_delta } = tiles;
        let rows = delta.len() / l.d_out.max(1);
        if !tile::transposable(l.d_in) || !live.find(delta, l.d_out) {
            return false;
        }
        let np = live.packed_width();
        if np == 0 {
            // no unit is on for any row: no gradient
            dw.fill(0.0);
            return true;
        }
        live.pack(delta, packed_delta);
        let Some(w) = tile::Weight::new(&packed_delta[..rows * np], rows, np, true) else {
            return false;
        };
        let live = &*live;
        // each block's packed gradient in a buffer of the task's own (a block's rows, not a
        // second gradient the size of `dW`: the input may be wide), spread into `dW` at once
        dw.par_chunks_mut(TILE_ROWS * l.d_out)
            .enumerate()
            .for_each_init(Vec::new, |pg, (block, dw)| {
                let m = dw.len() / l.d_out;
                pg.clear();
                pg.resize(m * np, 0.0);
                w.add_transposed_product(pg, input, l.d_in, block * TILE_ROWS);
                live.unpack(pg, dw);
            });
        true
    }

    fn backward(&mut self, ws: &mut Workspace, x: &[f32], eps: &[f32], rows: usize) {
        let act = self.config.activation;
        let vae = self.is_vae();
        let [mut cur, mut next] = match std::mem::take(&mut ws.d_hidden).try_into() {
            Ok(pair) => pair,
            Err(_) => unreachable!("two gradient buffers"),
        };
        // a conv network's transposed convolutions first: the gradient at the last dense
        // layer's output, through its activation
        if let Some(c) = &self.conv {
            c.decode_backward(&mut self.grads, &mut ws.conv, &ws.d_out, rows);
            let pre = (!ws.dec_last_a.is_empty()).then_some(ws.dec_last_a.as_slice());
            kernels::activation_backward(act, &ws.dec_last, pre, &mut ws.conv.d_flat);
        }
        // decoder, last layer first; `ws.d_out` holds the gradient at the output
        let last = self.decoder.len() - 1;
        for i in (0..=last).rev() {
            let l = self.decoder[i];
            let input: &[f32] = if i == 0 { &ws.z } else { &ws.dec_h[i - 1] };
            let delta: &[f32] = if i == last && self.conv.is_some() {
                &ws.conv.d_flat
            } else if i == last {
                &ws.d_out
            } else {
                &cur[..rows * l.d_out]
            };
            let d_input: &mut [f32] = if i == 0 {
                &mut ws.d_z
            } else {
                &mut next[..rows * l.d_in]
            };
            Self::dense_backward(
                &self.values,
                &mut self.grads,
                l,
                input,
                delta,
                rows,
                Some((d_input, Accum::Replace)),
                None,
            );
            if i > 0 {
                let pre = ws.dec_a.get(i - 1).map(Vec::as_slice);
                kernels::activation_backward(
                    act,
                    &ws.dec_h[i - 1],
                    pre,
                    &mut next[..rows * l.d_in],
                );
                std::mem::swap(&mut cur, &mut next);
            }
        }
        // latent: d_z → d_mean, d_log_var (plus the KL's gradients already there)
        if self.is_full() {
            kernels::reparameterize_full_backward(
                &ws.d_z,
                eps,
                &ws.std,
                self.mean.d_out,
                &mut ws.d_mean,
                &mut ws.d_log_var,
                &mut ws.d_off,
            );
        } else if vae {
            kernels::reparameterize_backward(
                &ws.d_z,
                eps,
                &ws.std,
                &mut ws.d_mean,
                &mut ws.d_log_var,
            );
        } else {
            ws.d_mean.copy_from_slice(&ws.d_z);
        }
        // the heads read the last hidden layer (or the input: the image, or a conv
        // network's feature map)
        let n_enc = self.encoder.len();
        let conv = self.conv.is_some();
        let dense_in: &[f32] = if conv { &ws.conv.flat } else { x };
        let h: &[f32] = ws.enc_h.last().map_or(dense_in, Vec::as_slice);
        let width = self.mean.d_in;
        // the mean head writes the gradient at `h` (a hidden layer's or the feature map's;
        // the image needs none), the log-variance head adds to it
        let mut d_h = (n_enc > 0 || conv).then(|| &mut cur[..rows * width]);
        Self::dense_backward(
            &self.values,
            &mut self.grads,
            self.mean,
            h,
            &ws.d_mean,
            rows,
            d_h.as_deref_mut().map(|d| (d, Accum::Replace)),
            None,
        );
        if let Some(lv) = self.log_var {
            Self::dense_backward(
                &self.values,
                &mut self.grads,
                lv,
                h,
                &ws.d_log_var,
                rows,
                d_h.as_deref_mut().map(|d| (d, Accum::Add)),
                None,
            );
        }
        if let Some(od) = self.off_diag {
            Self::dense_backward(
                &self.values,
                &mut self.grads,
                od,
                h,
                &ws.d_off,
                rows,
                d_h.map(|d| (d, Accum::Add)),
                None,
            );
        }
        // encoder, last hidden layer first; `cur` holds the gradient at its output
        for i in (0..n_enc).rev() {
            let l = self.encoder[i];
            let pre = ws.enc_a.get(i).map(Vec::as_slice);
            kernels::activation_backward(act, &ws.enc_h[i], pre, &mut cur[..rows * l.d_out]);
            let input: &[f32] = if i == 0 { dense_in } else { &ws.enc_h[i - 1] };
            let d_input = (i > 0 || conv).then(|| (&mut next[..rows * l.d_in], Accum::Replace));
            Self::dense_backward(
                &self.values,
                &mut self.grads,
                l,
                input,
                &cur[..rows * l.d_out],
                rows,
                d_input,
                Some(&mut ws.grad_tiles),
            );
            std::mem::swap(&mut cur, &mut next);
        }
        // `cur` holds the gradient at the feature map
        if let Some(c) = &self.conv {
            let len = ws.conv.flat.len();
            c.encode_backward(&mut self.grads, &mut ws.conv, x, &cur[..len], rows);
        }
        ws.d_hidden = vec![cur, next];
    }

    /// The code (the posterior mean for a VAE) of `rows` rows of `x`, into `out`
    /// (`rows × K`): the encoder alone, without the log-variance head. Takes `&self`, so
    /// that a shared model can encode from several threads.
    pub fn encode_mean(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        self.encode_into(x, rows, out, None);
    }

    /// [`FusedNet::encode_mean`], and the log-variance head into `log_var` (`rows × K`)
    /// when given and the network is a VAE (a full posterior's log Cholesky diagonal).
    pub fn encode_into(
        &self,
        x: &[f32],
        rows: usize,
        mean: &mut [f32],
        log_var: Option<&mut [f32]>,
    ) {
        self.encode_heads(x, rows, mean, log_var, None);
    }

    /// Every head of the encoder: [`FusedNet::encode_into`], and a full posterior's
    /// strictly-lower Cholesky entries into `off_diag` (`rows × K(K−1)/2`) when given and
    /// the network has them.
    pub fn encode_heads(
        &self,
        x: &[f32],
        rows: usize,
        mean: &mut [f32],
        log_var: Option<&mut [f32]>,
        off_diag: Option<&mut [f32]>,
    ) {
        let log_var = log_var.filter(|_| self.is_vae());
        let off_diag = off_diag.filter(|_| self.off_diag.is_some());
        if self.conv.is_some() {
            self.conv_encode(x, rows, mean, log_var, off_diag);
            return;
        }
        let mut heads = vec![(self.mean, mean)];
        if let (Some(lv), Some(out)) = (self.log_var, log_var) {
            heads.push((lv, out));
        }
        if let (Some(od), Some(out)) = (self.off_diag, off_diag) {
            heads.push((od, out));
        }
        self.infer(&self.encoder, x, rows, heads);
    }

    /// The decoder's raw output (logits for a Bernoulli likelihood, the mean otherwise) of
    /// `rows` codes `z` (`rows × K`), into `out` (`rows × D`): the same layers as the
    /// training step's decoder.
    pub fn decode_raw(&self, z: &[f32], rows: usize, out: &mut [f32]) {
        if self.conv.is_some() {
            self.conv_decode(z, rows, out);
            return;
        }
        let (hidden, last) = self.decoder.split_at(self.decoder.len() - 1);
        if let Some(&l) = last.first() {
            self.infer(hidden, z, rows, vec![(l, out)]);
        }
    }

    /// A conv network's encoder on `rows` rows of `x`, [`CONV_CHUNK`] rows at a time through
    /// the training step's buffers: the means into `mean`, the log-variances into `log_var`
    /// and a full posterior's off-diagonal entries into `off_diag`, when given.
    fn conv_encode(
        &self,
        x: &[f32],
        rows: usize,
        mean: &mut [f32],
        mut log_var: Option<&mut [f32]>,
        mut off_diag: Option<&mut [f32]>,
    ) {
        let (d, k) = (self.config.input_dim, self.mean.d_out);
        let m = self.off_diag_width();
        self.with_spare(|ws| {
            for start in (0..rows).step_by(CONV_CHUNK) {
                let n = CONV_CHUNK.min(rows - start);
                self.forward_encoder(ws, &x[start * d..(start + n) * d], n);
                mean[start * k..(start + n) * k].copy_from_slice(&ws.mean);
                if let Some(lv) = log_var.as_deref_mut() {
                    lv[start * k..(start + n) * k].copy_from_slice(&ws.log_var);
                }
                if let Some(od) = off_diag.as_deref_mut() {
                    od[start * m..(start + n) * m].copy_from_slice(&ws.off);
                }
            }
        });
    }

    /// A conv network's decoder on `rows` codes `z`, [`CONV_CHUNK`] rows at a time: the raw
    /// output into `out`.
    fn conv_decode(&self, z: &[f32], rows: usize, out: &mut [f32]) {
        let (d, k) = (self.config.input_dim, self.mean.d_out);
        self.with_spare(|ws| {
            for start in (0..rows).step_by(CONV_CHUNK) {
                let n = CONV_CHUNK.min(rows - start);
                self.resize(ws, n);
                ws.z.copy_from_slice(&z[start * k..(start + n) * k]);
                self.forward_decoder(ws, n);
                out[start * d..(start + n) * d].copy_from_slice(&ws.out);
            }
        });
    }

    /// Inference through an MLP: `layers`, each followed by the activation, then each
    /// head's linear layer on the last one's output (or on `x` when there is no layer),
    /// into the head's buffer (`rows × d_out`). The rows are cut into blocks as a parallel
    /// product cuts a side ([`block_bounds`]: a function of `rows` alone, so the same bits
    /// on any number of threads), and each block runs every layer on one thread, its hidden
    /// layers in a pair of buffers of the model's pool while they are in cache: no pass
    /// over the whole batch runs on one thread while the others wait. On AVX-512 hosts a
    /// layer whose width is a multiple of 16 runs the register tiles of `fused/tile.rs`,
    /// which skip the input's zeros (pixels, ReLU outputs); the others faer's product.
    fn infer(&self, layers: &[Dense], x: &[f32], rows: usize, heads: Heads<'_>) {
        if rows == 0 {
            return;
        }
        let act = self.config.activation;
        let d_in = x.len() / rows;
        let bounds = block_bounds(rows);
        // per block: its rows of `x`, and of each head's output
        let mut parts: Vec<(&[f32], Heads<'_>)> = bounds
            .windows(2)
            .map(|w| (&x[w[0] * d_in..w[1] * d_in], Vec::new()))
            .collect();
        // the weights the blocks' tile products take, where the host has them
        let values = &self.values;
        let finite = self
            .finite
            .get_or_init(|| values.iter().map(|v| tile::all_finite(v)).collect());
        let weight = |l: &Dense| tile::Weight::new(&values[l.w], l.d_in, l.d_out, finite[l.w]);
        let tiles: Vec<Option<tile::Weight<'_>>> = layers.iter().map(weight).collect();
        let head_tiles: Vec<_> = heads.iter().map(|(l, _)| weight(l)).collect();
        for (l, mut out) in heads {
            for (part, w) in parts.iter_mut().zip(bounds.windows(2)) {
                let (block, tail) = std::mem::take(&mut out).split_at_mut((w[1] - w[0]) * l.d_out);
                part.1.push((l, block));
                out = tail;
            }
        }
        parts.into_par_iter().for_each(|(xb, outs)| {
            let n = xb.len() / d_in;
            let mut pair = self.lock_blocks(Vec::pop).unwrap_or_default();
            let [cur, nxt] = &mut pair;
            for (i, (&l, tile)) in layers.iter().zip(&tiles).enumerate() {
                nxt.resize(n * l.d_out, 0.0);
                let input: &[f32] = if i == 0 { xb } else { &cur[..n * l.d_in] };
                let out = &mut nxt[..n * l.d_out];
                let on_thread = Product::OnThread(*tile);
                Self::dense_forward(values, l, input, n, out, Some((act, None)), on_thread);
                std::mem::swap(cur, nxt);
            }
            let input: &[f32] = match layers.last() {
                Some(l) => &cur[..n * l.d_out],
                None => xb,
            };
            for ((l, out), tile) in outs.into_iter().zip(&head_tiles) {
                Self::dense_forward(values, l, input, n, out, None, Product::OnThread(*tile));
            }
            self.lock_blocks(|pool| pool.push(pair));
        });
    }

    /// `f` on the pool of inference's block buffers (a poisoned lock still holds buffers).
    fn lock_blocks<R>(&self, f: impl FnOnce(&mut Vec<[Vec<f32>; 2]>) -> R) -> R {
        let mut pool = match self.block_scratch.lock() {
            Ok(pool) => pool,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut pool)
    }

    /// The learned log σ (`[D]` or `[1]`), for a VAE with a learned Gaussian likelihood.
    pub fn log_sigma(&self) -> Option<&[f32]> {
        self.log_sigma.map(|i| self.values[i].as_slice())
    }
}

/// The element-wise parts of the step, each one pass over its buffers.
mod kernels {
    use rayon::prelude::*;

    use crate::config::Activation;

    /// `σ(x)`, stable.
    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        let e = exp_nonpositive(-x.abs());
        let num = if x >= 0.0 { 1.0 } else { e };
        num / (1.0 + e)
    }

    /// The activation, in place.
    pub(super) fn activate(a: Activation, h: &mut [f32]) {
        struct K<'a>(Activation, &'a mut [f32]);
        impl pulp::WithSimd for K<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                activate_body(self.0, self.1);
            }
        }
        pulp::Arch::new().dispatch(K(a, h));
    }

    #[inline(always)]
    fn activate_body(a: Activation, h: &mut [f32]) {
        match a {
            Activation::Relu => h.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::LeakyRelu => h
                .iter_mut()
                .for_each(|v| *v = if *v >= 0.0 { *v } else { 0.01 * *v }),
            Activation::Tanh => h.iter_mut().for_each(|v| *v = v.tanh()),
            Activation::Silu => h.iter_mut().for_each(|v| *v *= sigmoid(*v)),
        }
    }

    /// `g ← g · act'(·)`, from the activation's output `h` (and its input `pre`, for SiLU).
    pub(super) fn activation_backward(
        a: Activation,
        h: &[f32],
        pre: Option<&[f32]>,
        g: &mut [f32],
    ) {
        struct K<'a> {
            a: Activation,
            h: &'a [f32],
            pre: Option<&'a [f32]>,
            g: &'a mut [f32],
        }
        impl pulp::WithSimd for K<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                activation_backward_body(self.a, self.h, self.pre, self.g);
            }
        }
        pulp::Arch::new().dispatch(K { a, h, pre, g });
    }

    #[inline(always)]
    fn activation_backward_body(a: Activation, h: &[f32], pre: Option<&[f32]>, g: &mut [f32]) {
        match a {
            Activation::Relu => g
                .iter_mut()
                .zip(h)
                .for_each(|(g, &h)| *g = if h > 0.0 { *g } else { 0.0 }),
            Activation::LeakyRelu => g
                .iter_mut()
                .zip(h)
                .for_each(|(g, &h)| *g = if h > 0.0 { *g } else { 0.01 * *g }),
            Activation::Tanh => g.iter_mut().zip(h).for_each(|(g, &h)| *g *= 1.0 - h * h),
            Activation::Silu => {
                if let Some(pre) = pre {
                    g.iter_mut().zip(pre).for_each(|(g, &x)| {
                        let s = sigmoid(x);
                        *g *= s * (1.0 + x * (1.0 - s));
                    });
                }
            }
        }
    }

    /// `std = e^{½ lv}`, `z = μ + std · ε`.
    pub(super) fn reparameterize(
        mean: &[f32],
        lv: &[f32],
        eps: &[f32],
        std: &mut [f32],
        z: &mut [f32],
    ) {
        for ((((z, s), &m), &l), &e) in z.iter_mut().zip(std.iter_mut()).zip(mean).zip(lv).zip(eps)
        {
            *s = (0.5 * l).exp();
            *z = m + *s * e;
        }
    }

    /// `d_mean += d_z`, `d_lv += d_z · ε · ½ std`.
    pub(super) fn reparameterize_backward(
        d_z: &[f32],
        eps: &[f32],
        std: &[f32],
        d_mean: &mut [f32],
        d_lv: &mut [f32],
    ) {
        for ((((dm, dl), &dz), &e), &s) in d_mean
            .iter_mut()
            .zip(d_lv.iter_mut())
            .zip(d_z)
            .zip(eps)
            .zip(std)
        {
            *dm += dz;
            *dl += dz * e * 0.5 * s;
        }
    }

    /// A full posterior's sample: `std = e^{ld}` and, per row, `z = μ + std·ε + L ε` where
    /// `L` holds the row's `off` entries strictly below the diagonal (row-major: (1,0),
    /// (2,0), (2,1), …), each row's lower part summed in `j`'s order.
    pub(super) fn reparameterize_full(
        mean: &[f32],
        ld: &[f32],
        off: &[f32],
        eps: &[f32],
        k: usize,
        std: &mut [f32],
        z: &mut [f32],
    ) {
        let m = k * k.saturating_sub(1) / 2;
        for (r, ((((z, s), mu), l), e)) in z
            .chunks_exact_mut(k)
            .zip(std.chunks_exact_mut(k))
            .zip(mean.chunks_exact(k))
            .zip(ld.chunks_exact(k))
            .zip(eps.chunks_exact(k))
            .enumerate()
        {
            let o = &off[r * m..(r + 1) * m];
            let mut p = 0;
            for i in 0..k {
                s[i] = l[i].exp();
                let lower = o[p..p + i]
                    .iter()
                    .zip(&e[..i])
                    .fold(0.0f32, |acc, (&o, &e)| acc + o * e);
                p += i;
                z[i] = (mu[i] + s[i] * e[i]) + lower;
            }
        }
    }

    /// [`reparameterize_full`]'s gradient: `dμ += dz`, `dld += dz·ε·std`, and for each
    /// strictly-lower entry `(i, j)`, `doff += dz_i·ε_j`.
    pub(super) fn reparameterize_full_backward(
        d_z: &[f32],
        eps: &[f32],
        std: &[f32],
        k: usize,
        d_mean: &mut [f32],
        d_ld: &mut [f32],
        d_off: &mut [f32],
    ) {
        let m = k * k.saturating_sub(1) / 2;
        for (r, ((((dz, e), s), dm), dl)) in d_z
            .chunks_exact(k)
            .zip(eps.chunks_exact(k))
            .zip(std.chunks_exact(k))
            .zip(d_mean.chunks_exact_mut(k))
            .zip(d_ld.chunks_exact_mut(k))
            .enumerate()
        {
            let d_o = &mut d_off[r * m..(r + 1) * m];
            let mut p = 0;
            for i in 0..k {
                dm[i] += dz[i];
                dl[i] += dz[i] * e[i] * s[i];
                for (d, &ej) in d_o[p..p + i].iter_mut().zip(&e[..i]) {
                    *d += dz[i] * ej;
                }
                p += i;
            }
        }
    }

    /// [`kl_full`]'s gradient: the scale `s`, and `dμ`, `dld`, `doff` to write.
    pub(super) type FullKlGrad<'a> = (f32, &'a mut [f32], &'a mut [f32], &'a mut [f32]);

    /// A full posterior's KL divergence to `N(0, I)` summed over the batch:
    /// `Σ ½(e^{2ld} + μ² − 1 − 2ld) + Σ ½ off²` (with `Σ = L Lᵀ`: `tr Σ` is the sum of the
    /// squared entries of `L`, `log det Σ = 2 Σ ld`). With `grad = (s, dμ, dld, doff)`
    /// writes `dμ = s·μ`, `dld = s·(e^{2ld} − 1)`, `doff = s·off`.
    pub(super) fn kl_full(
        mean: &[f32],
        ld: &[f32],
        off: &[f32],
        grad: Option<FullKlGrad<'_>>,
    ) -> f64 {
        let mut total = 0.0f64;
        match grad {
            Some((s, dm, dl, d_off)) => {
                for (((&m, &l), dm), dl) in
                    mean.iter().zip(ld).zip(dm.iter_mut()).zip(dl.iter_mut())
                {
                    let e = (2.0 * l).exp();
                    total += f64::from(e + m * m - 1.0 - 2.0 * l);
                    *dm = s * m;
                    *dl = s * (e - 1.0);
                }
                for (&o, d) in off.iter().zip(d_off.iter_mut()) {
                    total += f64::from(o * o);
                    *d = s * o;
                }
            }
            None => {
                for (&m, &l) in mean.iter().zip(ld) {
                    total += f64::from((2.0 * l).exp() + m * m - 1.0 - 2.0 * l);
                }
                for &o in off {
                    total += f64::from(o * o);
                }
            }
        }
        0.5 * total
    }

    /// `Σ ½(e^lv + μ² − 1 − lv)` over the batch; with `grad = (s, dμ, dlv)` writes
    /// `dμ = s·μ`, `dlv = s·½(e^lv − 1)`.
    pub(super) fn kl_diagonal(
        mean: &[f32],
        lv: &[f32],
        grad: Option<(f32, &mut [f32], &mut [f32])>,
    ) -> f64 {
        let mut total = 0.0f64;
        match grad {
            Some((s, dm, dl)) => {
                for (((&m, &l), dm), dl) in
                    mean.iter().zip(lv).zip(dm.iter_mut()).zip(dl.iter_mut())
                {
                    let e = l.exp();
                    total += f64::from(e + m * m - 1.0 - l);
                    *dm = s * m;
                    *dl = s * 0.5 * (e - 1.0);
                }
            }
            None => {
                for (&m, &l) in mean.iter().zip(lv) {
                    total += f64::from(l.exp() + m * m - 1.0 - l);
                }
            }
        }
        0.5 * total
    }

    /// Lanes of the fixed-order partial sums: a reduction written over `LANES` accumulators
    /// vectorises, and its order (so its rounding) does not depend on the instruction set.
    const LANES: usize = 8;

    /// `e^x` for `x ≤ 0` (clamped at −87, where it is below f32's normal range anyway):
    /// Cody–Waite reduction and Cephes' degree-5 polynomial, branch-free so that it
    /// vectorises; relative error below 2·10⁻⁷ (tested against f64).
    #[inline(always)]
    pub(super) fn exp_nonpositive(x: f32) -> f32 {
        const MAGIC: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let x = x.max(-87.0);
        let t = x * LOG2E + MAGIC;
        let n = t - MAGIC;
        let r = x - n * LN2_HI - n * LN2_LO;
        let p = 1.987_569_1e-4;
        let p = p * r + 1.398_199_9e-3;
        let p = p * r + 8.333_452e-3;
        let p = p * r + 4.166_579_6e-2;
        let p = p * r + 1.666_666_5e-1;
        let p = p * r + 0.5;
        let p = p * r * r + r + 1.0;
        // n sits in t's low mantissa bits; 2ⁿ from the exponent field
        let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
        p * f32::from_bits(((k + 127) << 23) as u32)
    }

    /// `ln(1 + e)` for `e ∈ [0, 1]`: `2 atanh(e / (2 + e))` by its series to the 11th power
    /// (the argument is at most ⅓); absolute error below 3·10⁻⁷, a few ulp (tested against f64).
    #[inline(always)]
    pub(super) fn ln_1p_unit(e: f32) -> f32 {
        let s = e / (2.0 + e);
        let s2 = s * s;
        let p = 1.0 / 11.0;
        let p = p * s2 + 1.0 / 9.0;
        let p = p * s2 + 1.0 / 7.0;
        let p = p * s2 + 0.2;
        let p = p * s2 + 1.0 / 3.0;
        let p = p * s2 + 1.0;
        2.0 * s * p
    }

    /// The Bernoulli NLL of logit `o` for target `x`, `o(1 − x) + softplus(−o)`, and
    /// `σ(o) − x`, its derivative.
    #[inline(always)]
    fn bce(o: f32, x: f32) -> (f32, f32) {
        let e = exp_nonpositive(-o.abs());
        let softplus_neg = (-o).max(0.0) + ln_1p_unit(e);
        let num = if o >= 0.0 { 1.0 } else { e };
        (o * (1.0 - x) + softplus_neg, num / (1.0 + e))
    }

    /// Elements per block of the element-wise loss loops.
    const BLOCK: usize = 256;

    /// `Σ buf` over `LANES` partial sums (a fixed order), in f64 at the end.
    #[inline(always)]
    fn sum_block(buf: &[f32]) -> f64 {
        let mut acc = [0.0f32; LANES];
        let chunks = buf.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            if let Ok(c) = <&[f32; LANES]>::try_from(c) {
                for l in 0..LANES {
                    acc[l] += c[l];
                }
            }
        }
        acc.iter().chain(tail).map(|&v| f64::from(v)).sum()
    }

    /// `Σ loss(o, x)` over the elements and, with `grad = (s, d)`, `d = s·g(o, x)`, where
    /// `term(o, x) = (loss, g)`; compiled for the CPU's best instruction set. Each block of
    /// [`BLOCK`] elements is a plain map loop (which vectorises) writing the losses into a
    /// stack buffer, summed in a fixed order; blocks are grouped into fixed tasks run on
    /// rayon's pool, whose sums are added in task order (the same bits on any number of
    /// threads).
    #[inline(always)]
    fn elementwise_loss<F: Fn(f32, f32) -> (f32, f32) + Sync>(
        o: &[f32],
        x: &[f32],
        grad: Option<(f32, &mut [f32])>,
        term: F,
    ) -> f64 {
        // A struct, not a closure, crosses pulp's dispatch: a closure's body is not reliably
        // inlined into the dispatched function, and then runs without the wider instructions.
        struct K<'a, F> {
            o: &'a [f32],
            x: &'a [f32],
            grad: Option<(f32, &'a mut [f32])>,
            term: F,
        }
        impl<F: Fn(f32, f32) -> (f32, f32)> pulp::WithSimd for K<'_, F> {
            type Output = f64;
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
                let K { o, x, grad, term } = self;
                let n = o.len().min(x.len());
                let mut total = 0.0f64;
                let mut loss = [0.0f32; BLOCK];
                match grad {
                    Some((s, d)) => {
                        for ((o, x), d) in o[..n]
                            .chunks(BLOCK)
                            .zip(x[..n].chunks(BLOCK))
                            .zip(d[..n].chunks_mut(BLOCK))
                        {
                            let m = o.len();
                            for (((l, d), &o), &x) in
                                loss[..m].iter_mut().zip(d.iter_mut()).zip(o).zip(x)
                            {
                                let (v, g) = term(o, x);
                                *l = v;
                                *d = s * g;
                            }
                            total += sum_block(&loss[..m]);
                        }
                    }
                    None => {
                        for (o, x) in o[..n].chunks(BLOCK).zip(x[..n].chunks(BLOCK)) {
                            let m = o.len();
                            for ((l, &o), &x) in loss[..m].iter_mut().zip(o).zip(x) {
                                *l = term(o, x).0;
                            }
                            total += sum_block(&loss[..m]);
                        }
                    }
                }
                total
            }
        }
        // fixed tasks of TASK elements on rayon's pool, their sums added in task order: the
        // same bits for any number of threads
        const TASK: usize = 16 * BLOCK;
        let n = o.len().min(x.len());
        let arch = pulp::Arch::new();
        if n <= TASK {
            // one task: on this thread, without a trip through the pool
            return arch.dispatch(K { o, x, grad, term });
        }
        let term = &term;
        let partial: Vec<f64> = match grad {
            Some((s, d)) => o[..n]
                .par_chunks(TASK)
                .zip(x[..n].par_chunks(TASK))
                .zip(d[..n].par_chunks_mut(TASK))
                .map(|((o, x), d)| {
                    arch.dispatch(K {
                        o,
                        x,
                        grad: Some((s, d)),
                        term,
                    })
                })
                .collect(),
            None => o[..n]
                .par_chunks(TASK)
                .zip(x[..n].par_chunks(TASK))
                .map(|(o, x)| {
                    arch.dispatch(K {
                        o,
                        x,
                        grad: None,
                        term,
                    })
                })
                .collect(),
        };
        partial.iter().fold(0.0, |total, p| total + p)
    }

    /// Bernoulli NLL from logits `o` and targets `x`, summed: `o(1 − x) + softplus(−o)`;
    /// with `grad = (s, d)` writes `d = s·(σ(o) − x)`.
    pub(super) fn bernoulli(o: &[f32], x: &[f32], grad: Option<(f32, &mut [f32])>) -> f64 {
        elementwise_loss(
            o,
            x,
            grad,
            #[inline(always)]
            |o, x| {
                let (loss, sig) = bce(o, x);
                (loss, sig - x)
            },
        )
    }

    /// `Σ (o − x)²`; with `grad = (s, d)` writes `d = s·(o − x)`.
    pub(super) fn squared_error(o: &[f32], x: &[f32], grad: Option<(f32, &mut [f32])>) -> f64 {
        elementwise_loss(
            o,
            x,
            grad,
            #[inline(always)]
            |o, x| {
                let r = o - x;
                (r * r, r)
            },
        )
    }

    /// Gaussian NLL with learned log σ (`ls`: one per feature, or one shared, used as
    /// `max(ls, LOG_SIGMA_FLOOR)`), without the constant: `Σ ½(x − o)² e^{−2 ls} + ls`; with
    /// `grad = (s, d, g_ls)` writes `d = s·(o − x) e^{−2 ls}` and adds
    /// `s·(1 − (x − o)² e^{−2 ls})` into `g_ls` where `ls` is not below the floor (burn's
    /// `clamp_min` passes the gradient at the floor itself, and so does this).
    pub(super) fn gaussian_learned(
        o: &[f32],
        x: &[f32],
        feats: usize,
        ls: &[f32],
        mut grad: Option<(f32, &mut [f32], &mut Vec<f32>)>,
    ) -> f64 {
        let shared = ls.len() == 1;
        let mut total = 0.0f64;
        for (r, (orow, xrow)) in o
            .chunks(feats.max(1))
            .zip(x.chunks(feats.max(1)))
            .enumerate()
        {
            for (j, (&o, &x)) in orow.iter().zip(xrow).enumerate() {
                let jl = if shared { 0 } else { j };
                let raw = ls[jl];
                // as burn's clamp_min: a NaN stays NaN (and divergence is detected)
                let l = if raw < crate::loss::LOG_SIGMA_FLOOR {
                    crate::loss::LOG_SIGMA_FLOOR
                } else {
                    raw
                };
                let inv_var = (-2.0 * l).exp();
                let r2 = (x - o) * (x - o);
                total += f64::from(0.5 * r2 * inv_var + l);
                if let Some((s, dd, g)) = grad.as_mut() {
                    dd[r * feats + j] = *s * (o - x) * inv_var;
                    if raw >= crate::loss::LOG_SIGMA_FLOOR {
                        g[jl] += *s * (1.0 - r2 * inv_var);
                    }
                }
            }
        }
        total
    }

    /// `out[j] = Σ_rows m[row, j]`.
    pub(super) fn column_sums(m: &[f32], cols: usize, out: &mut [f32]) {
        struct K<'a>(&'a [f32], usize, &'a mut [f32]);
        impl pulp::WithSimd for K<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                let K(m, cols, out) = self;
                out.fill(0.0);
                for row in m.chunks_exact(cols) {
                    out.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
                }
            }
        }
        pulp::Arch::new().dispatch(K(m, cols, out));
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn exp_is_accurate_on_its_domain() {
            let mut worst = 0.0f64;
            for i in 0..=200_000 {
                let x = -90.0 * f64::from(i) / 200_000.0;
                let got = f64::from(exp_nonpositive(x as f32));
                let want = (x as f32 as f64).exp();
                if want > 1e-37 {
                    worst = worst.max((got - want).abs() / want);
                }
            }
            assert!(worst < 2e-7, "worst relative error {worst}");
            assert_eq!(exp_nonpositive(0.0), 1.0);
            assert!(exp_nonpositive(-1e30) >= 0.0);
        }

        #[test]
        fn ln_1p_is_accurate_on_its_domain() {
            let mut worst = 0.0f64;
            for i in 0..=100_000 {
                let e = f64::from(i) / 100_000.0;
                let got = f64::from(ln_1p_unit(e as f32));
                worst = worst.max((got - (e as f32 as f64).ln_1p()).abs());
            }
            assert!(worst < 3e-7, "worst absolute error {worst}");
        }

        /// The vectorised loss equals its definition summed in f64, at every logit sign,
        /// at 0, and at extreme logits (no overflow, no NaN).
        #[test]
        fn bernoulli_matches_its_definition() {
            let o: Vec<f32> = (0..1001)
                .map(|i| (i as f32 - 500.0) * 0.05)
                .chain([0.0, 1e4, -1e4, 88.0, -88.0])
                .collect();
            let x: Vec<f32> = (0..o.len()).map(|i| (i % 7) as f32 / 6.0).collect();
            let mut d = vec![0.0; o.len()];
            let got = bernoulli(&o, &x, Some((0.5, &mut d)));
            let mut want = 0.0f64;
            for ((&o, &x), &d) in o.iter().zip(&x).zip(&d) {
                let (o, x) = (f64::from(o), f64::from(x));
                want += o * (1.0 - x) + (-o).max(0.0) + (-o.abs()).exp().ln_1p();
                let sig = 1.0 / (1.0 + (-o).exp());
                assert!(
                    (f64::from(d) - 0.5 * (sig - x)).abs() < 1e-6,
                    "gradient at {o}"
                );
            }
            assert!((got - want).abs() < 1e-6 * want.abs(), "{got} vs {want}");
            assert_eq!(bernoulli(&o, &x, None), got);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_side_in_even_parts_on_multiples_of_16() {
        for len in 1..3000 {
            let b = block_bounds(len);
            assert_eq!((b[0], b[b.len() - 1]), (0, len), "{len}");
            assert!(b.len() - 1 <= BLOCKS, "{len}: {b:?}");
            let sizes: Vec<usize> = b.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(sizes.iter().all(|&s| s > 0), "{len}: {b:?}");
            assert!(
                b[1..b.len() - 1].iter().all(|v| v % 16 == 0),
                "{len}: {b:?}"
            );
            if sizes.len() > 1 {
                // blocks at least MIN_BLOCK wide up to the rounding, and within 16 of each other
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(
                    *lo + 16 >= MIN_BLOCK && hi - lo <= 16 + 16,
                    "{len}: {sizes:?}"
                );
            }
        }
        assert_eq!(block_bounds(400), [0, 64, 128, 208, 272, 336, 400]);
    }
}
