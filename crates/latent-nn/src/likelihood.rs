//! The marginal likelihood `log p(x)` of a VAE, estimated by importance sampling with the
//! encoder as proposal (Burda et al. 2016):
//!
//! `log p(x) ≈ log (1/K) Σₖ p(x|zₖ) p(zₖ) / q(zₖ|x)`,  `zₖ ~ q(z|x)`.
//!
//! The estimate is a lower bound in expectation that tightens as K grows (K = 1 is the
//! ELBO). Samples are processed in chunks so memory stays bounded for K up to thousands.

use std::borrow::Cow;

use latent_core::seed;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use crate::config::{Likelihood, NetConfig, PosteriorKind};
use crate::fitted::NnModel;
use crate::loss::{LOG_SIGMA_FLOOR, strict_lower_indices};
use crate::{NnError, Result};

const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// `v`'s values as one slice (copied when they are not contiguous).
fn contiguous<'a>(v: &'a ArrayView1<'_, f32>) -> Cow<'a, [f32]> {
    v.as_slice()
        .map_or_else(|| Cow::Owned(v.to_vec()), Cow::Borrowed)
}

/// `−log p(x|z)` of one row in nats from the decoder's raw output `out` (logits or the
/// mean), summed over features in f64: the likelihoods of [`crate::loss`], on the host. The
/// Bernoulli likelihood is the training step's vectorised kernel (each feature's term in
/// f32, within 1e-6 of the f64 formula; the sum in f64): a scalar `exp` and `ln_1p` in f64
/// per feature and sample made the importance-sampled likelihood a tenth of a demo.
fn nll_row(
    cfg: &NetConfig,
    out: ArrayView1<'_, f32>,
    x: ArrayView1<'_, f32>,
    log_sigma: Option<&[f32]>,
) -> f64 {
    let pairs = out
        .iter()
        .zip(x.iter())
        .map(|(&o, &t)| (f64::from(o), f64::from(t)));
    let d = out.len() as f64;
    match cfg.likelihood {
        // l·(1 − x) − log σ(l), with log σ(l) = −(max(−l, 0) + log(1 + e^−|l|))
        Likelihood::Bernoulli => crate::fused::bernoulli_nll(&contiguous(&out), &contiguous(&x)),
        Likelihood::Gaussian { sigma } => {
            let sigma = f64::from(sigma);
            let sq: f64 = pairs.map(|(m, t)| (t - m) * (t - m)).sum();
            0.5 * sq / (sigma * sigma) + d * (sigma.ln() + HALF_LOG_2PI)
        }
        Likelihood::GaussianLearned { .. } => {
            let floor = f64::from(LOG_SIGMA_FLOOR);
            let ls = |j: usize| -> f64 {
                let v = match log_sigma {
                    Some([one]) => *one,
                    Some(all) => all.get(j).copied().unwrap_or(0.0),
                    None => 0.0,
                };
                f64::from(v).max(floor)
            };
            pairs
                .enumerate()
                .map(|(j, (m, t))| {
                    let l = ls(j);
                    0.5 * (t - m) * (t - m) * (-2.0 * l).exp() + l
                })
                .sum::<f64>()
                + d * HALF_LOG_2PI
        }
    }
}

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
        let engine = self.engine();
        let log_sigma = engine.log_sigma()?;
        let latent = cfg.latent_dim;
        let pairs = strict_lower_indices(latent);
        let mut rng = seed::rng(seed::derive(seed_, "importance-sampling"));
        let mut out = Array1::zeros(x.nrows());
        let per_chunk = (CHUNK / k.max(1)).max(1); // rows per chunk when k is small
        let mut row = 0;
        while row < x.nrows() {
            let rows = per_chunk.min(x.nrows() - row);
            let xb = x.slice(s![row..row + rows, ..]);
            let enc = engine.encode(xb)?;
            let log_scale = enc
                .log_scale
                .ok_or_else(|| NnError::Backend("VAE without a posterior scale".into()))?;
            // log-weights of each row's samples, filled sample-chunk by sample-chunk
            let mut logw = vec![Vec::with_capacity(k); rows];
            let s_chunk = (CHUNK / rows).max(1).min(k);
            let mut done = 0;
            while done < k {
                let s = s_chunk.min(k - done);
                // rows × s samples in (row, sample) order, each of `latent` draws
                let eps: Vec<f32> = (0..rows * s * latent)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                let mut z = Array2::<f32>::zeros((rows * s, latent));
                // log q(z|x) − log p(z), without the two −K/2·log 2π terms that cancel
                let mut log_q_minus_pz = vec![0.0f64; rows * s];
                for (i, (mut zi, e)) in z.outer_iter_mut().zip(eps.chunks(latent)).enumerate() {
                    let r = i / s;
                    let (mean, ls) = (enc.mean.row(r), log_scale.row(r));
                    let log_det = match cfg.posterior {
                        PosteriorKind::Diagonal => {
                            for j in 0..latent {
                                zi[j] = mean[j] + (0.5 * ls[j]).exp() * e[j];
                            }
                            0.5 * ls.iter().map(|&v| f64::from(v)).sum::<f64>()
                        }
                        PosteriorKind::Full => {
                            for j in 0..latent {
                                zi[j] = mean[j] + ls[j].exp() * e[j];
                            }
                            if let Some(off) = &enc.off_diag {
                                for (p, &(a, b)) in pairs.iter().enumerate() {
                                    zi[a] += off[[r, p]] * e[b];
                                }
                            }
                            ls.iter().map(|&v| f64::from(v)).sum::<f64>()
                        }
                    };
                    let sq = |v: &mut dyn Iterator<Item = f32>| {
                        v.map(|t| f64::from(t) * f64::from(t)).sum::<f64>()
                    };
                    let log_q = -0.5 * sq(&mut e.iter().copied()) - log_det;
                    let log_pz = -0.5 * sq(&mut zi.iter().copied());
                    log_q_minus_pz[i] = log_q - log_pz;
                }
                let decoded = engine.decode_raw(z.view())?;
                // the rows' likelihoods on the pool, collected in order
                let nll: Vec<f64> = (0..decoded.nrows())
                    .into_par_iter()
                    .map(|i| nll_row(&cfg, decoded.row(i), xb.row(i / s), log_sigma.as_deref()))
                    .collect();
                for (i, nll) in nll.into_iter().enumerate() {
                    logw[i / s].push(-nll - log_q_minus_pz[i]);
                }
                done += s;
            }
            for (i, lw) in logw.iter().enumerate() {
                out[row + i] = logsumexp(lw) - (k as f64).ln();
            }
            row += rows;
        }
        Ok(out)
    }
}
