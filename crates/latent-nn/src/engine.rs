//! The engine seam: what training and inference need from a network, whatever computes it.
//!
//! A network of a [`NetConfig`] is computed by one of two engines, both behind the
//! [`Network`] trait:
//!
//! - [`BurnNet`]: burn's module ([`Net`]) and its autodiff graph, on any device (the CPU's
//!   `flex` backend, a Vulkan GPU): every architecture and posterior;
//! - [`FusedNet`]: hand-fused host kernels for the MLP and conv networks (either posterior),
//!   the same mathematics in a fraction of the time on the CPU.
//!
//! [`choose`] is the one place the engine is chosen and [`build`] the one place it is built;
//! the training loop ([`train`](mod@crate::train)) and the fitted model
//! ([`crate::NnModel`]) only call the trait, so every result of a model comes from one engine. Both engines read the layers
//! from one description ([`crate::topology::Topology`]) and share parameter names and
//! layouts, checkpoints and the optimizer ([`Adam`]). A new engine (another device)
//! implements [`Network`] and is added to [`choose`]; a data-parallel all-reduce goes between
//! [`Network::step`] and [`Network::update`].

use std::borrow::Cow;
use std::fmt;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView2, s};

use crate::config::NetConfig;
use crate::fused::FusedNet;
use crate::model::Net;
use crate::optim::{Adam, NamedGrads, named_grads};
use crate::params::{HostTensors, named_params, to_host};
use crate::train::Engine;
use crate::{NnError, Result};

/// Rows computed at once by burn's inference methods.
const CHUNK: usize = 2048;

/// Rows computed at once by the fused kernels' inference methods: cut into
/// [`crate::fused`]'s sixteen blocks, 512 rows each, whose hidden layers stay in a core's
/// cache (2,048-row chunks encoded 60,000 rows 5–10 % slower).
const FUSED_CHUNK: usize = 8192;

/// Which implementation computes a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The fused host kernels ([`FusedNet`]).
    Fused,
    /// burn's module and autodiff graph ([`BurnNet`]).
    Burn,
}

impl EngineKind {
    /// The engine's name, as reported to the user.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Fused => "fused kernels",
            EngineKind::Burn => "burn",
        }
    }
}

/// The engine that computes `config`'s network on `device` under the user's `choice`:
/// the fused kernels for the networks they compute on the CPU device with
/// [`Engine::Auto`], burn otherwise. The one place the choice is made.
pub fn choose(choice: Engine, config: &NetConfig, device: &Device) -> EngineKind {
    if choice == Engine::Auto
        && crate::fused::supports(config)
        && device.clone().without_autodiff() == crate::cpu_device()
    {
        EngineKind::Fused
    } else {
        EngineKind::Burn
    }
}

/// The engine [`choose`] gives for `net`'s configuration and device, holding `net`'s
/// parameters. With `training`, `net` must be on an autodiff device (the burn engine
/// differentiates through it); without, the engine only infers.
///
/// # Errors
/// [`NnError::Backend`] when the parameters cannot be read from the device.
pub fn build(choice: Engine, net: Net, training: bool) -> Result<Box<dyn Network>> {
    let device = net
        .devices()
        .into_iter()
        .next()
        .ok_or_else(|| NnError::Backend("the network has no device".into()))?;
    Ok(match choose(choice, net.config(), &device) {
        EngineKind::Fused => Box::new(FusedNet::new(net.config(), &named_params(&net)?)?),
        EngineKind::Burn => Box::new(BurnNet {
            net,
            device,
            training,
            grads: None,
        }),
    })
}

/// The encoder's outputs for a batch, on the host.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// `[B, K]` code (AE) or posterior mean (VAE).
    pub mean: Array2<f32>,
    /// `[B, K]` log-variance (diagonal) or log of the Cholesky diagonal (full); VAE only.
    pub log_scale: Option<Array2<f32>>,
    /// `[B, K(K−1)/2]` strictly-lower Cholesky entries, row-major; full posterior only.
    pub off_diag: Option<Array2<f32>>,
}

/// What training and inference need from a network. Batches are row-major host slices:
/// `x` is `rows × D`, `eps` the standard-normal noise of the reparameterisation,
/// `rows × K` (empty for autoencoders).
pub trait Network: fmt::Debug + Send {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// The network's settings.
    fn config(&self) -> &NetConfig;

    /// The parameters by name (burn's layout: linear weights are `[d_in, d_out]`).
    ///
    /// # Errors
    /// Backend failures.
    fn params(&self) -> Result<HostTensors>;

    /// Losses per example `[recon + β·kl, recon, kl]` of a batch, averaged over it, without
    /// gradients.
    ///
    /// # Errors
    /// Backend failures.
    fn losses(&self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]>;

    /// One training step: the batch's losses (as [`Network::losses`]), and the gradient of
    /// `recon + β·kl` with respect to every parameter, kept for [`Network::update`].
    ///
    /// # Errors
    /// Backend failures; [`NnError::InvalidParam`] for an engine that only infers.
    fn step(&mut self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]>;

    /// The gradients of the last [`Network::step`] by parameter name, flattened to 1-D.
    ///
    /// # Errors
    /// Backend failures.
    fn grads(&self) -> Result<HostTensors>;

    /// One Adam update of every parameter with the last step's gradients.
    ///
    /// # Errors
    /// Backend failures; [`NnError::InvalidParam`] when no step was taken.
    fn update(&mut self, adam: &mut Adam, lr: f64) -> Result<()>;

    /// The last step's gradients as one flat buffer — every parameter in name order, its
    /// gradient flattened — handed to `f`, which may change it (a data-parallel job sums the
    /// ranks' gradients there), then kept for [`Network::update`]. With `stepped = false`
    /// (this rank took no step: its share of the batch was empty) the buffer holds zeros and
    /// the update that follows applies what `f` leaves. The buffer's length is the same on
    /// every rank of a job: the network's parameter count.
    ///
    /// # Errors
    /// `f`'s errors; backend failures; [`NnError::InvalidParam`] when `stepped` but no step's
    /// gradients are there.
    fn exchange_grads(
        &mut self,
        stepped: bool,
        f: &mut dyn FnMut(&mut [f32]) -> Result<()>,
    ) -> Result<()>;

    /// The codes (posterior means) of `x`, without the other heads.
    ///
    /// # Errors
    /// Backend failures.
    fn encode_mean(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// Every head of the encoder for `x`.
    ///
    /// # Errors
    /// Backend failures.
    fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Encoded>;

    /// The decoder's raw output for codes `z`: logits (Bernoulli), the mean (Gaussian), or
    /// the reconstruction (autoencoders).
    ///
    /// # Errors
    /// Backend failures.
    fn decode_raw(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// The learned Gaussian likelihood's log σ (`[D]` or `[1]`), when the network has one.
    ///
    /// # Errors
    /// Backend failures.
    fn log_sigma(&self) -> Result<Option<Vec<f32>>>;
}

/// `x` in chunks of at most `size` rows, each contiguous row-major (copied when `x`'s
/// rows are not), with its row count.
fn chunks<'a>(
    x: ArrayView2<'a, f32>,
    size: usize,
) -> impl Iterator<Item = (Cow<'a, [f32]>, usize)> {
    (0..x.nrows()).step_by(size).map(move |start| {
        let end = (start + size).min(x.nrows());
        let rows = x.slice_move(s![start..end, ..]);
        let n = rows.nrows();
        let flat = match rows.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(rows.iter().copied().collect()),
        };
        (flat, n)
    })
}

/// `rows × cols` values as an array.
fn array(v: Vec<f32>, rows: usize, cols: usize) -> Result<Array2<f32>> {
    Array2::from_shape_vec((rows, cols), v).map_err(|e| NnError::Backend(e.to_string()))
}

/// Stacks per-chunk outputs of `cols` columns into one array of `rows` rows.
fn stack(parts: Vec<Vec<f32>>, rows: usize, cols: usize) -> Result<Array2<f32>> {
    array(parts.concat(), rows, cols)
}

impl Network for FusedNet {
    fn kind(&self) -> EngineKind {
        EngineKind::Fused
    }

    fn config(&self) -> &NetConfig {
        FusedNet::config(self)
    }

    fn params(&self) -> Result<HostTensors> {
        FusedNet::params(self)
    }

    fn losses(&self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]> {
        Ok(FusedNet::losses(self, x, eps, rows, beta))
    }

    fn step(&mut self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]> {
        Ok(self.train_step(x, eps, rows, beta))
    }

    fn grads(&self) -> Result<HostTensors> {
        FusedNet::grads(self)
            .map(|(name, g)| {
                let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[g.len()]), g.to_vec())
                    .map_err(|e| NnError::Backend(e.to_string()))?;
                Ok((name.to_string(), a))
            })
            .collect()
    }

    fn update(&mut self, adam: &mut Adam, lr: f64) -> Result<()> {
        if !self.take_fresh_grads() {
            return Err(NnError::param(
                "engine",
                "an update needs a step's gradients",
            ));
        }
        adam.step_host(self.params_and_grads(), lr);
        Ok(())
    }

    fn exchange_grads(
        &mut self,
        stepped: bool,
        f: &mut dyn FnMut(&mut [f32]) -> Result<()>,
    ) -> Result<()> {
        let (buffers, flat) = self.exchange_buffers();
        flat.clear();
        if stepped {
            buffers.iter().for_each(|g| flat.extend_from_slice(g));
        } else {
            flat.resize(buffers.iter().map(Vec::len).sum(), 0.0);
        }
        f(flat)?;
        let mut at = 0;
        for g in buffers.iter_mut() {
            let len = g.len();
            g.copy_from_slice(&flat[at..at + len]);
            at += len;
        }
        Ok(())
    }

    fn encode_mean(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let k = self.config().latent_dim;
        let mut out = Vec::with_capacity(x.nrows() * k);
        for (flat, n) in chunks(x, FUSED_CHUNK) {
            let start = out.len();
            out.resize(start + n * k, 0.0);
            self.encode_mean(&flat, n, &mut out[start..]);
        }
        array(out, x.nrows(), k)
    }

    fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Encoded> {
        let k = self.config().latent_dim;
        let vae = self.config().is_vae();
        // a full posterior's strictly-lower Cholesky entries (none when K = 1)
        let m = self.off_diag_width();
        let (mut mean, mut log_var, mut off) = (Vec::new(), Vec::new(), Vec::new());
        for (flat, n) in chunks(x, FUSED_CHUNK) {
            let (start, off_start) = (mean.len(), off.len());
            mean.resize(start + n * k, 0.0);
            if vae {
                log_var.resize(start + n * k, 0.0);
            }
            off.resize(off_start + n * m, 0.0);
            let lv = vae.then(|| &mut log_var[start..]);
            let od = (m > 0).then(|| &mut off[off_start..]);
            self.encode_heads(&flat, n, &mut mean[start..], lv, od);
        }
        Ok(Encoded {
            mean: array(mean, x.nrows(), k)?,
            log_scale: if vae {
                Some(array(log_var, x.nrows(), k)?)
            } else {
                None
            },
            off_diag: if m > 0 {
                Some(array(off, x.nrows(), m)?)
            } else {
                None
            },
        })
    }

    fn decode_raw(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let d = self.config().input_dim;
        let mut out = Vec::with_capacity(z.nrows() * d);
        for (flat, n) in chunks(z, FUSED_CHUNK) {
            let start = out.len();
            out.resize(start + n * d, 0.0);
            FusedNet::decode_raw(self, &flat, n, &mut out[start..]);
        }
        array(out, z.nrows(), d)
    }

    fn log_sigma(&self) -> Result<Option<Vec<f32>>> {
        Ok(FusedNet::log_sigma(self).map(<[f32]>::to_vec))
    }
}

/// burn's module as an engine: the network on its device, and the gradients of the last
/// step. Trains when the device has autodiff; inference runs without it.
#[derive(Debug)]
pub struct BurnNet {
    net: Net,
    device: Device,
    /// Built on an autodiff device, to train.
    training: bool,
    grads: Option<NamedGrads>,
}

impl BurnNet {
    fn tensor(&self, v: &[f32], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), device)
    }

    /// The noise of a batch as a tensor: zeros for autoencoders (which ignore it).
    fn noise(&self, eps: &[f32], rows: usize, device: &Device) -> Tensor<2> {
        let k = self.net.config().latent_dim;
        if eps.is_empty() {
            Tensor::zeros([rows, k], device)
        } else {
            self.tensor(eps, rows, k, device)
        }
    }

    /// The network without autodiff, and its device.
    fn inference(&self) -> (Net, Device) {
        (self.net.valid(), self.device.clone().without_autodiff())
    }

    /// `f` of every chunk of `x` as a tensor, stacked: `cols` columns.
    fn chunked(
        &self,
        x: ArrayView2<'_, f32>,
        cols: usize,
        f: impl Fn(&Net, Tensor<2>) -> Tensor<2>,
    ) -> Result<Array2<f32>> {
        let (net, device) = self.inference();
        let mut parts = Vec::new();
        for (flat, n) in chunks(x, CHUNK) {
            let t = self.tensor(&flat, n, x.ncols(), &device);
            parts.push(host_vec(f(&net, t))?);
        }
        stack(parts, x.nrows(), cols)
    }
}

fn host_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    Ok(to_host(t)?.iter().copied().collect())
}

/// The three losses of a step as host numbers.
fn scalars(loss: &crate::model::StepLoss) -> Result<[f64; 3]> {
    let t = Tensor::cat(
        vec![loss.loss.clone(), loss.recon.clone(), loss.kl.clone()],
        0,
    );
    let host = to_host(t)?;
    let v: Vec<f64> = host.iter().map(|&x| f64::from(x)).collect();
    match v.as_slice() {
        [a, b, c] => Ok([*a, *b, *c]),
        _ => Err(NnError::Backend("loss is not a scalar".into())),
    }
}

impl Network for BurnNet {
    fn kind(&self) -> EngineKind {
        EngineKind::Burn
    }

    fn config(&self) -> &NetConfig {
        self.net.config()
    }

    fn params(&self) -> Result<HostTensors> {
        named_params(&self.net)
    }

    fn losses(&self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]> {
        let (net, device) = self.inference();
        let xt = self.tensor(x, rows, self.config().input_dim, &device);
        scalars(&net.step_loss(xt, self.noise(eps, rows, &device), beta))
    }

    fn step(&mut self, x: &[f32], eps: &[f32], rows: usize, beta: f64) -> Result<[f64; 3]> {
        if !self.training {
            return Err(NnError::param(
                "engine",
                "this network was built for inference, without autodiff",
            ));
        }
        let xt = self.tensor(x, rows, self.config().input_dim, &self.device);
        let out = self
            .net
            .step_loss(xt, self.noise(eps, rows, &self.device), beta);
        let s = scalars(&out)?;
        if s.iter().all(|v| v.is_finite()) {
            let grads = out.loss.backward();
            self.grads = Some(named_grads(&self.net, &grads));
        } else {
            // the caller stops on a non-finite loss; there is nothing to differentiate
            self.grads = None;
        }
        Ok(s)
    }

    fn grads(&self) -> Result<HostTensors> {
        self.grads
            .iter()
            .flatten()
            .map(|(name, g)| Ok((name.clone(), to_host(g.clone())?)))
            .collect()
    }

    fn update(&mut self, adam: &mut Adam, lr: f64) -> Result<()> {
        let grads = self
            .grads
            .take()
            .ok_or_else(|| NnError::param("engine", "an update needs a step's gradients"))?;
        self.net = adam.step(self.net.clone(), grads, lr)?;
        Ok(())
    }

    fn exchange_grads(
        &mut self,
        stepped: bool,
        f: &mut dyn FnMut(&mut [f32]) -> Result<()>,
    ) -> Result<()> {
        // the layout is every parameter's, in name order, whatever this rank's step produced
        let params = named_params(&self.net)?;
        let grads = match (stepped, self.grads.take()) {
            (true, Some(g)) => g,
            (true, None) => {
                return Err(NnError::param(
                    "engine",
                    "an exchange needs a step's gradients",
                ));
            }
            (false, _) => NamedGrads::new(),
        };
        let device = self.device.clone().without_autodiff();
        let mut flat = Vec::with_capacity(params.values().map(|a| a.len()).sum());
        for (name, p) in &params {
            match grads.get(name) {
                Some(g) => flat.extend(to_host(g.clone())?.iter().copied()),
                None => flat.extend(std::iter::repeat_n(0.0f32, p.len())),
            }
        }
        f(&mut flat)?;
        let mut out = NamedGrads::new();
        let mut at = 0;
        for (name, p) in &params {
            let part = flat[at..at + p.len()].to_vec();
            at += p.len();
            let device = grads
                .get(name)
                .map_or_else(|| device.clone(), Tensor::device);
            out.insert(
                name.clone(),
                Tensor::from_data(TensorData::new(part, [p.len()]), &device),
            );
        }
        self.grads = Some(out);
        Ok(())
    }

    fn encode_mean(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.chunked(x, self.config().latent_dim, |net, t| net.encode(t).mean)
    }

    fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Encoded> {
        let (net, device) = self.inference();
        let (mut mean, mut log_scale, mut off_diag) = (Vec::new(), Vec::new(), Vec::new());
        let (mut has_scale, mut has_off) = (false, false);
        for (flat, n) in chunks(x, CHUNK) {
            let enc = net.encode(self.tensor(&flat, n, x.ncols(), &device));
            mean.push(host_vec(enc.mean)?);
            if let Some(t) = enc.log_scale {
                has_scale = true;
                log_scale.push(host_vec(t)?);
            }
            if let Some(t) = enc.off_diag {
                has_off = true;
                off_diag.push(host_vec(t)?);
            }
        }
        let (rows, k) = (x.nrows(), self.config().latent_dim);
        Ok(Encoded {
            mean: stack(mean, rows, k)?,
            log_scale: if has_scale {
                Some(stack(log_scale, rows, k)?)
            } else {
                None
            },
            off_diag: if has_off {
                Some(stack(off_diag, rows, k * k.saturating_sub(1) / 2)?)
            } else {
                None
            },
        })
    }

    fn decode_raw(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.chunked(z, self.config().input_dim, |net, t| net.decode_raw(t))
    }

    fn log_sigma(&self) -> Result<Option<Vec<f32>>> {
        self.net
            .log_sigma()
            .map(|t| Ok(to_host(t)?.iter().copied().collect()))
            .transpose()
    }
}
