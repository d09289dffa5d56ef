//! A trained network as a fitted reduction: the [`Reduction`] and (for VAEs)
//! [`Probabilistic`] traits, weights save/load.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use latent_core::tensors::Tensors;
use latent_core::{Posterior, Probabilistic, Reduction};
use ndarray::{Array2, Array3, ArrayView2, Axis};

use crate::config::{Likelihood, ModelKind, NetConfig, PosteriorKind};
use crate::engine::Network;
use crate::loss::strict_lower_indices;
use crate::model::Net;
use crate::params::{HostTensors, load_params};
use crate::train::Engine;
use crate::{NnError, Result};

/// A trained autoencoder or VAE, ready for inference (no autodiff). Every result comes
/// from one engine ([`crate::engine::build`]): the fused host kernels for the networks they
/// compute on the CPU, burn otherwise.
#[derive(Debug)]
pub struct NnModel {
    engine: Box<dyn Network>,
    device: Device,
}

fn core_err(e: NnError) -> latent_core::Error {
    match e {
        NnError::Core(c) => c,
        other => latent_core::Error::Source(Box::new(other)),
    }
}

impl NnModel {
    /// Wrap a network, moving it to `device` without autodiff.
    ///
    /// # Errors
    /// [`NnError::Backend`] when the parameters cannot be read from the device.
    pub fn new(net: Net, device: &Device) -> Result<Self> {
        let device = device.clone().without_autodiff();
        let net = net.valid().to_device(&device);
        let engine = crate::engine::build(Engine::Auto, net, false)?;
        Ok(NnModel { engine, device })
    }

    /// A network of `config` with the named parameters `params` (read from `source`).
    ///
    /// # Errors
    /// Invalid config; [`NnError::Checkpoint`] when the tensors do not fit or a value is not
    /// finite.
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
        Self::new(net, &device)
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
        crate::train::evaluate(&*self.engine, x, beta, seed, 1024)
    }

    /// The network's settings.
    pub fn config(&self) -> &NetConfig {
        self.engine.config()
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The engine that computes the network.
    pub fn engine(&self) -> &dyn Network {
        &*self.engine
    }

    /// Parameters by name (burn layout: linear weights are `[d_in, d_out]`).
    ///
    /// # Errors
    /// Backend failures.
    pub fn params(&self) -> Result<HostTensors> {
        self.engine.params()
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
}

/// `σ(x)`, stable for any `x`.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
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
        self.engine.encode_mean(x).map_err(core_err)
    }
    fn decode(&self, z: ArrayView2<'_, f32>) -> latent_core::Result<Array2<f32>> {
        self.check_latent("decode input", z)?;
        let mut out = self.engine.decode_raw(z).map_err(core_err)?;
        if let (ModelKind::Vae, Likelihood::Bernoulli) =
            (self.config().kind, self.config().likelihood)
        {
            out.mapv_inplace(sigmoid);
        }
        Ok(out)
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
        let enc = self.engine.encode(x).map_err(core_err)?;
        let (mean, log_scale) = match enc.log_scale {
            Some(ls) => (enc.mean, ls),
            None => {
                return Err(latent_core::Error::Source(Box::new(NnError::Backend(
                    "a VAE's encoder gave no posterior scale".into(),
                ))));
            }
        };
        match self.config().posterior {
            PosteriorKind::Diagonal => Ok(Posterior::Diagonal {
                mean,
                log_var: log_scale,
            }),
            PosteriorKind::Full => {
                let idx = strict_lower_indices(k);
                let off = enc
                    .off_diag
                    .unwrap_or_else(|| Array2::zeros((x.nrows(), idx.len())));
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
