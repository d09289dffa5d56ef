//! A trained network as a fitted reduction: the [`Reduction`] and (for VAEs)
//! [`Probabilistic`] traits, weights save/load.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use latent_core::tensors::Tensors;
use latent_core::{Posterior, Probabilistic, Reduction};
use ndarray::{Array2, Array3, ArrayView2, Axis, s};

use crate::config::{NetConfig, PosteriorKind};
use crate::fused::FusedNet;
use crate::loss::strict_lower_indices;
use crate::model::Net;
use crate::params::{HostTensors, load_params, named_params};
use crate::train::to_array2;
use crate::{NnError, Result};

/// Rows processed at once by encode/decode.
const CHUNK: usize = 2048;

/// A trained autoencoder or VAE, ready for inference (no autodiff).
#[derive(Debug)]
pub struct NnModel {
    net: Net,
    device: Device,
    /// The same network on the fused host path, for encoding on the CPU device.
    fused: Option<FusedNet>,
}

fn core_err(e: NnError) -> latent_core::Error {
    match e {
        NnError::Core(c) => c,
        other => latent_core::Error::Source(Box::new(other)),
    }
}

impl NnModel {
    /// Wrap a network, moving it to `device` without autodiff.
    pub fn new(net: Net, device: &Device) -> Self {
        let device = device.clone().without_autodiff();
        let net = net.valid().to_device(&device);
        let fused = Self::fused_for(&net, &device);
        NnModel { net, device, fused }
    }

    /// The fused host copy of `net` when it runs on the CPU and the fused path computes it.
    fn fused_for(net: &Net, device: &Device) -> Option<FusedNet> {
        if *device != crate::cpu_device() || !crate::fused::supports(net.config()) {
            return None;
        }
        named_params(net)
            .and_then(|p| FusedNet::new(net.config(), &p))
            .ok()
    }

    /// A network of `config` with the named parameters `params` (read from `source`).
    ///
    /// # Errors
    /// Invalid config; [`NnError::Checkpoint`] when the tensors do not fit.
    pub fn from_params(
        config: &NetConfig,
        params: &HostTensors,
        source: &Path,
        device: &Device,
    ) -> Result<Self> {
        config.check()?;
        // The network is built (and initialised) before the tensors replace its parameters:
        // refuse a configuration that needs more values than `params` holds before building
        // it, so that a config file cannot make it allocate without bound.
        let have: usize = params.values().map(|a| a.len()).sum();
        match Net::param_count(config) {
            Some(want) if want <= have => {}
            want => {
                return Err(NnError::Checkpoint {
                    path: source.to_path_buf(),
                    reason: format!(
                        "holds {have} values, the network of this configuration has {}",
                        want.map_or_else(|| "more than usize::MAX".to_string(), |w| w.to_string())
                    ),
                });
            }
        }
        let device = device.clone().without_autodiff();
        let net = Net::new(config, &mut latent_core::seed::rng(0), &device);
        let net = load_params(net, params, source)?;
        let fused = Self::fused_for(&net, &device);
        Ok(NnModel { net, device, fused })
    }

    /// The model as a probabilistic one (VAEs only).
    pub fn as_probabilistic(&self) -> Option<&dyn Probabilistic> {
        self.config().is_vae().then_some(self as &dyn Probabilistic)
    }

    /// The model's own losses on `x`, per example (one posterior sample per row for a VAE,
    /// drawn with `seed`): `[loss, reconstruction, kl]` with β = 1, i.e. the negative ELBO
    /// and its two terms in nats (squared error for autoencoders).
    ///
    /// # Errors
    /// Shape or backend failures.
    pub fn losses(&self, x: ArrayView2<'_, f32>, seed: u64) -> Result<[f64; 3]> {
        self.check_input("evaluation data", x)?;
        let beta = if self.config().is_vae() { 1.0 } else { 0.0 };
        crate::train::evaluate(&self.net, x, beta, seed, 1024)
    }

    /// The network's settings.
    pub fn config(&self) -> &NetConfig {
        self.net.config()
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The network.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// Parameters by name (burn layout: linear weights are `[d_in, d_out]`).
    ///
    /// # Errors
    /// Backend failures.
    pub fn params(&self) -> Result<HostTensors> {
        named_params(&self.net)
    }

    /// The parameters as safetensors.
    ///
    /// # Errors
    /// Backend failures.
    pub fn tensors(&self) -> Result<Tensors> {
        let mut t = Tensors::new();
        for (k, v) in self.params()? {
            t.insert(&k, v);
        }
        Ok(t)
    }

    /// Load from safetensors bytes read from `path`.
    ///
    /// # Errors
    /// Malformed file or tensors that do not fit `config`.
    pub fn from_safetensors(
        config: &NetConfig,
        path: &Path,
        bytes: &[u8],
        device: &Device,
    ) -> Result<Self> {
        let t = Tensors::from_bytes(path, bytes)?;
        let params: HostTensors = t.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Self::from_params(config, &params, path, device)
    }

    fn tensor(&self, x: ArrayView2<'_, f32>) -> Tensor<2> {
        let v: Vec<f32> = x.iter().copied().collect();
        Tensor::from_data(TensorData::new(v, [x.nrows(), x.ncols()]), &self.device)
    }

    fn chunked(
        &self,
        x: ArrayView2<'_, f32>,
        out_cols: usize,
        f: impl Fn(Tensor<2>) -> Tensor<2>,
    ) -> latent_core::Result<Array2<f32>> {
        let mut out = Array2::zeros((x.nrows(), out_cols));
        let mut start = 0;
        while start < x.nrows() {
            let end = (start + CHUNK).min(x.nrows());
            let y = to_array2(f(self.tensor(x.slice(s![start..end, ..])))).map_err(core_err)?;
            out.slice_mut(s![start..end, ..]).assign(&y);
            start = end;
        }
        Ok(out)
    }
}

/// The codes of `x` through the fused encoder (mean head only), [`CHUNK`] rows at a time.
fn encode_fused(f: &FusedNet, x: ArrayView2<'_, f32>) -> Array2<f32> {
    let k = f.config().latent_dim;
    let mut out = Array2::zeros((x.nrows(), k));
    let mut buf = Vec::new();
    let mut scratch = [Vec::new(), Vec::new()];
    for (rows, mut codes) in x
        .axis_chunks_iter(Axis(0), CHUNK)
        .zip(out.axis_chunks_iter_mut(Axis(0), CHUNK))
    {
        let n = rows.nrows();
        let flat: &[f32] = match rows.as_slice() {
            Some(s) => s,
            None => {
                buf.clear();
                buf.extend(rows.iter().copied());
                &buf
            }
        };
        match codes.as_slice_mut() {
            Some(dst) => f.encode_mean(flat, n, dst, &mut scratch),
            None => {
                let mut dst = vec![0.0; n * k];
                f.encode_mean(flat, n, &mut dst, &mut scratch);
                codes.iter_mut().zip(dst).for_each(|(c, v)| *c = v);
            }
        }
    }
    out
}

impl Reduction for NnModel {
    fn method(&self) -> &str {
        self.config().kind.name()
    }
    fn input_dim(&self) -> usize {
        self.config().input_dim
    }
    fn latent_dim(&self) -> usize {
        self.config().latent_dim
    }
    fn encode(&self, x: ArrayView2<'_, f32>) -> latent_core::Result<Array2<f32>> {
        self.check_input("encode input", x)?;
        match &self.fused {
            Some(f) => Ok(encode_fused(f, x)),
            None => self.chunked(x, self.latent_dim(), |t| self.net.encode(t).mean),
        }
    }
    fn decode(&self, z: ArrayView2<'_, f32>) -> latent_core::Result<Array2<f32>> {
        self.check_latent("decode input", z)?;
        self.chunked(z, self.input_dim(), |t| self.net.decode_mean(t))
    }
}

impl Probabilistic for NnModel {
    fn encode_distribution(&self, x: ArrayView2<'_, f32>) -> latent_core::Result<Posterior> {
        self.check_input("encode input", x)?;
        if !self.config().is_vae() {
            return Err(latent_core::Error::param(
                "model",
                format!(
                    "a {} has a deterministic encoder, not a posterior",
                    self.method()
                ),
            ));
        }
        let k = self.latent_dim();
        let mean = self.encode(x)?;
        let log_scale = self.chunked(x, k, |t| {
            let enc = self.net.encode(t);
            enc.log_scale.unwrap_or_else(|| enc.mean.zeros_like())
        })?;
        match self.config().posterior {
            PosteriorKind::Diagonal => Ok(Posterior::Diagonal {
                mean,
                log_var: log_scale,
            }),
            PosteriorKind::Full => {
                let idx = strict_lower_indices(k);
                let off = if idx.is_empty() {
                    Array2::zeros((x.nrows(), 0))
                } else {
                    self.chunked(x, idx.len(), |t| {
                        let enc = self.net.encode(t);
                        enc.off_diag.unwrap_or_else(|| enc.mean.zeros_like())
                    })?
                };
                let mut l = Array3::zeros((x.nrows(), k, k));
                for (b, mut lb) in l.axis_iter_mut(Axis(0)).enumerate() {
                    for j in 0..k {
                        lb[[j, j]] = log_scale[[b, j]].exp();
                    }
                    for (p, &(i, j)) in idx.iter().enumerate() {
                        lb[[i, j]] = off[[b, p]];
                    }
                }
                Ok(Posterior::Full {
                    mean,
                    scale_tril: l,
                })
            }
        }
    }
}
