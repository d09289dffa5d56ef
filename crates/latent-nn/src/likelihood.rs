//! The marginal likelihood `log p(x)` of a VAE, estimated by importance sampling with the
//! encoder as proposal (Burda et al. 2016):
//!
//! `log p(x) ≈ log (1/K) Σₖ p(x|zₖ) p(zₖ) / q(zₖ|x)`,  `zₖ ~ q(z|x)`.
//!
//! The estimate is a lower bound in expectation that tightens as K grows (K = 1 is the
//! ELBO). Samples are processed in chunks so memory stays bounded for K up to thousands.

use burn::tensor::{Tensor, TensorData};
use latent_core::seed;
use ndarray::{Array1, ArrayView2};
use rand_distr::{Distribution, StandardNormal};

use crate::config::PosteriorKind;
use crate::fitted::NnModel;
use crate::loss::strict_lower_matvec;
use crate::train::to_array2;
use crate::{NnError, Result};

/// Decoded points per chunk (rows × samples).
const CHUNK: usize = 16_384;

fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

impl NnModel {
    /// `log p(x)` of each row by importance sampling with `k` samples from the posterior,
    /// in nats (the negative is `nll_is`). Deterministic for a `seed`.
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] for a non-VAE or `k = 0`; shape and backend failures.
    pub fn log_likelihood_is(
        &self,
        x: ArrayView2<'_, f32>,
        k: usize,
        seed_: u64,
    ) -> Result<Array1<f64>> {
        let cfg = self.config().clone();
        if !cfg.is_vae() {
            return Err(NnError::param(
                "model",
                "importance-sampled likelihood needs a VAE",
            ));
        }
        if k == 0 {
            return Err(NnError::param("iw-samples", "must be at least 1"));
        }
        use latent_core::Reduction;
        self.check_input("likelihood data", x)?;
        let device = self.device().clone();
        let latent = cfg.latent_dim;
        let d = cfg.input_dim;
        let mut rng = seed::rng(seed::derive(seed_, "importance-sampling"));
        let mut out = Array1::zeros(x.nrows());
        let per_chunk = (CHUNK / k.max(1)).max(1); // rows per chunk when k is small
        let mut row = 0;
        while row < x.nrows() {
            let rows = per_chunk.min(x.nrows() - row);
            let xb: Vec<f32> = x
                .slice(ndarray::s![row..row + rows, ..])
                .iter()
                .copied()
                .collect();
            let xt = Tensor::<2>::from_data(TensorData::new(xb, [rows, d]), &device);
            let enc = self.net().encode(xt.clone());
            // log-weights of each row's samples, filled sample-chunk by sample-chunk
            let mut logw = vec![Vec::with_capacity(k); rows];
            let s_chunk = (CHUNK / rows).max(1).min(k);
            let mut done = 0;
            while done < k {
                let s = s_chunk.min(k - done);
                let eps: Vec<f32> = (0..rows * s * latent)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                // rows repeated s times: [rows·s, ·] with row-major (row, sample) order
                let rep = |t: Tensor<2>| {
                    let [b, c] = t.dims();
                    t.reshape([b, 1, c]).repeat_dim(1, s).reshape([b * s, c])
                };
                let eps_t =
                    Tensor::<2>::from_data(TensorData::new(eps, [rows * s, latent]), &device);
                let mean = rep(enc.mean.clone());
                let log_scale = enc
                    .log_scale
                    .clone()
                    .map(rep)
                    .ok_or_else(|| NnError::Backend("VAE without a posterior scale".into()))?;
                let (z, log_det) = match cfg.posterior {
                    PosteriorKind::Diagonal => {
                        let z = mean + (log_scale.clone() * 0.5).exp() * eps_t.clone();
                        (z, log_scale.sum_dim(1) * 0.5)
                    }
                    PosteriorKind::Full => {
                        let mut z = mean + log_scale.clone().exp() * eps_t.clone();
                        if let Some(off) = enc.off_diag.clone().map(rep) {
                            z = z + strict_lower_matvec(off, eps_t.clone(), latent);
                        }
                        (z, log_scale.sum_dim(1))
                    }
                };
                // log q(z|x) = −½‖ε‖² − log|det L| − K/2 log 2π ; log p(z) = −½‖z‖² − K/2 log 2π
                let log_q = eps_t.square().sum_dim(1) * -0.5 - log_det;
                let log_pz = z.clone().square().sum_dim(1) * -0.5;
                let out_raw = self.net().decode_raw(z);
                let nll = self
                    .net()
                    .recon_per_example(out_raw, rep(xt.clone()))
                    .reshape([rows * s, 1]);
                let w = to_array2(log_pz - log_q - nll)?;
                for (i, v) in w.iter().enumerate() {
                    logw[i / s].push(f64::from(*v));
                }
                done += s;
            }
            for (i, lw) in logw.iter().enumerate() {
                // the two −K/2·log 2π terms of p(z) and q(z|x) cancel
                out[row + i] = logsumexp(lw) - (k as f64).ln();
            }
            row += rows;
        }
        Ok(out)
    }
}
