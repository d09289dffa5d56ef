use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

use crate::{Error, Result};

/// Hyper-parameters that are validated before use (linfa's `ParamGuard`).
///
/// `Params → check() → Checked → fit(data) → Fitted`: a value of the checked type is proof
/// that the settings are valid, so fitting never panics on a bad setting.
pub trait ParamGuard {
    /// The validated parameters, on which [`Fit`] is implemented.
    type Checked;
    /// The error describing an invalid setting.
    type Error;

    /// Validate without consuming.
    ///
    /// # Errors
    /// The first invalid setting found.
    fn check_ref(&self) -> std::result::Result<&Self::Checked, Self::Error>;

    /// Validate and convert into the checked type.
    ///
    /// # Errors
    /// The first invalid setting found.
    fn check(self) -> std::result::Result<Self::Checked, Self::Error>;
}

/// Finding the encoder/decoder pair from data: implemented on checked parameters.
pub trait Fit<D: ?Sized> {
    /// The fitted model.
    type Fitted;
    /// Why fitting failed (data-dependent problems only: parameters are already checked).
    type Error;

    /// Fit to `data`.
    ///
    /// # Errors
    /// Data that does not suit the parameters (too few rows for the latent dimension…).
    fn fit(&self, data: &D) -> std::result::Result<Self::Fitted, Self::Error>;
}

/// A fitted encoder/decoder pair `(e, d)`: `e: R^D → R^K`, `d: R^K → R^D`.
///
/// Rows are examples: `encode` takes `n × input_dim` and returns `n × latent_dim`.
pub trait Reduction {
    /// A short name of the method ("pca", "vae", …).
    fn method(&self) -> &str;

    /// `D`, the number of features of an input row.
    fn input_dim(&self) -> usize;

    /// `K`, the dimension of the latent space.
    fn latent_dim(&self) -> usize;

    /// The deterministic code `z = e(x)` of each row. For a probabilistic encoder this is the
    /// posterior mean; sampling is always explicit ([`Probabilistic::encode_distribution`]).
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` does not have `input_dim` columns.
    fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// The decoded point `x̂ = d(z)` of each code (for a model with a likelihood, its mean).
    ///
    /// # Errors
    /// [`Error::Shape`] when `z` does not have `latent_dim` columns.
    fn decode(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>>;

    /// `d(e(x))`.
    ///
    /// # Errors
    /// As [`Reduction::encode`].
    fn reconstruct(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let z = self.encode(x)?;
        self.decode(z.view())
    }

    /// Check that `x` has the input width; for implementors' use.
    ///
    /// # Errors
    /// [`Error::Shape`] naming `what`.
    fn check_input(&self, what: &str, x: ArrayView2<'_, f32>) -> Result<()> {
        if x.ncols() != self.input_dim() {
            return Err(Error::shape(
                what,
                format!("{} columns", self.input_dim()),
                format!("{} columns", x.ncols()),
            ));
        }
        Ok(())
    }

    /// Check that `z` has the latent width; for implementors' use.
    ///
    /// # Errors
    /// [`Error::Shape`] naming `what`.
    fn check_latent(&self, what: &str, z: ArrayView2<'_, f32>) -> Result<()> {
        if z.ncols() != self.latent_dim() {
            return Err(Error::shape(
                what,
                format!("{} latent columns", self.latent_dim()),
                format!("{} columns", z.ncols()),
            ));
        }
        Ok(())
    }
}

/// A reduction whose encoder returns a distribution `q(z|x)` and which has a prior `p(z)`.
pub trait Probabilistic: Reduction {
    /// The Gaussian posterior of each row.
    ///
    /// # Errors
    /// As [`Reduction::encode`].
    fn encode_distribution(&self, x: ArrayView2<'_, f32>) -> Result<Posterior>;

    /// `n` draws from the prior, `n × latent_dim`; the default prior is `N(0, I)`.
    fn sample_prior(&self, n: usize, rng: &mut dyn RngCore) -> Array2<f32> {
        standard_normal(n, self.latent_dim(), rng)
    }
}

/// `n × k` independent standard-normal draws.
pub fn standard_normal(n: usize, k: usize, rng: &mut dyn RngCore) -> Array2<f32> {
    Array2::from_shape_simple_fn((n, k), || StandardNormal.sample(&mut *rng))
}

/// A batch of Gaussian posteriors `q(z|x_i) = N(μ_i, Σ_i)`, one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Posterior {
    /// `Σ_i = diag(exp(log_var_i))`.
    Diagonal {
        /// `n × k` means.
        mean: Array2<f32>,
        /// `n × k` log-variances.
        log_var: Array2<f32>,
    },
    /// `Σ_i = L_i L_iᵀ` with `L_i` lower-triangular with a positive diagonal.
    Full {
        /// `n × k` means.
        mean: Array2<f32>,
        /// `n × k × k` Cholesky factors (entries above the diagonal are ignored).
        scale_tril: Array3<f32>,
    },
}

impl Posterior {
    /// The means, `n × k`.
    pub fn mean(&self) -> &Array2<f32> {
        match self {
            Posterior::Diagonal { mean, .. } | Posterior::Full { mean, .. } => mean,
        }
    }

    /// One reparameterised draw per row: `z = μ + L ε`, `ε ~ N(0, I)`.
    pub fn sample(&self, rng: &mut dyn RngCore) -> Array2<f32> {
        let mean = self.mean();
        let eps = standard_normal(mean.nrows(), mean.ncols(), rng);
        match self {
            Posterior::Diagonal { mean, log_var } => {
                mean + &(log_var.mapv(|v| (0.5 * v).exp()) * &eps)
            }
            Posterior::Full { mean, scale_tril } => {
                let mut z = mean.clone();
                for (i, mut zi) in z.outer_iter_mut().enumerate() {
                    let l = scale_tril.index_axis(Axis(0), i);
                    for r in 0..zi.len() {
                        let s: f32 = (0..=r).map(|c| l[[r, c]] * eps[[i, c]]).sum();
                        zi[r] += s;
                    }
                }
                z
            }
        }
    }

    /// The closed-form `KL(q(z|x_i) ‖ N(0, I))` of each row, in nats:
    /// `½ (tr Σ + μᵀμ − k − log det Σ)`.
    pub fn kl_to_standard_normal(&self) -> Array1<f32> {
        match self {
            Posterior::Diagonal { mean, log_var } => {
                let mut out = Array1::zeros(mean.nrows());
                for ((o, m), lv) in out
                    .iter_mut()
                    .zip(mean.outer_iter())
                    .zip(log_var.outer_iter())
                {
                    let mut s = 0.0f64;
                    for (&mu, &v) in m.iter().zip(lv.iter()) {
                        let (mu, v) = (f64::from(mu), f64::from(v));
                        s += v.exp() + mu * mu - 1.0 - v;
                    }
                    *o = (0.5 * s) as f32;
                }
                out
            }
            Posterior::Full { mean, scale_tril } => {
                let k = mean.ncols();
                let mut out = Array1::zeros(mean.nrows());
                for (i, (o, m)) in out.iter_mut().zip(mean.outer_iter()).enumerate() {
                    let l = scale_tril.index_axis(Axis(0), i);
                    let mut trace = 0.0f64;
                    let mut log_det = 0.0f64;
                    for r in 0..k {
                        log_det += 2.0 * f64::from(l[[r, r]]).ln();
                        for c in 0..=r {
                            trace += f64::from(l[[r, c]]).powi(2);
                        }
                    }
                    let mu2: f64 = m.iter().map(|&v| f64::from(v).powi(2)).sum();
                    *o = (0.5 * (trace + mu2 - k as f64 - log_det)) as f32;
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, array};

    /// Monte-Carlo estimate of KL(q‖p) = E_q[log q(z) − log p(z)] for the diagonal case.
    fn mc_kl_diag(mean: &[f32], log_var: &[f32], draws: usize) -> f64 {
        let post = Posterior::Diagonal {
            mean: Array2::from_shape_vec((1, mean.len()), mean.to_vec()).unwrap(),
            log_var: Array2::from_shape_vec((1, mean.len()), log_var.to_vec()).unwrap(),
        };
        let mut rng = crate::seed::rng(3);
        let mut acc = 0.0;
        for _ in 0..draws {
            let z = post.sample(&mut rng);
            for j in 0..mean.len() {
                let (zj, mu, lv) = (
                    f64::from(z[[0, j]]),
                    f64::from(mean[j]),
                    f64::from(log_var[j]),
                );
                let log_q = -0.5 * ((zj - mu).powi(2) / lv.exp() + lv);
                let log_p = -0.5 * zj * zj;
                acc += log_q - log_p;
            }
        }
        acc / draws as f64
    }

    #[test]
    fn diagonal_kl_matches_monte_carlo() {
        let (m, lv) = ([0.5f32, -1.0, 2.0], [0.3f32, -0.7, 0.1]);
        let closed = Posterior::Diagonal {
            mean: array![[0.5, -1.0, 2.0]],
            log_var: array![[0.3, -0.7, 0.1]],
        }
        .kl_to_standard_normal()[0];
        let mc = mc_kl_diag(&m, &lv, 200_000);
        assert!(
            (f64::from(closed) - mc).abs() / mc < 0.01,
            "closed {closed} mc {mc}"
        );
    }

    #[test]
    fn full_kl_equals_diagonal_kl_for_diagonal_factor() {
        let mean = array![[0.2f32, -0.4]];
        let log_var = array![[0.5f32, -1.2]];
        let mut l = Array3::zeros((1, 2, 2));
        l[[0, 0, 0]] = (0.25f32).exp();
        l[[0, 1, 1]] = (-0.6f32).exp();
        l[[0, 0, 1]] = 123.0; // above the diagonal: ignored
        let full = Posterior::Full {
            mean: mean.clone(),
            scale_tril: l,
        }
        .kl_to_standard_normal()[0];
        let diag = Posterior::Diagonal { mean, log_var }.kl_to_standard_normal()[0];
        assert!((full - diag).abs() < 1e-5, "{full} vs {diag}");
    }

    #[test]
    fn full_sample_has_the_requested_covariance() {
        // L = [[1, 0], [0.8, 0.6]]  =>  Σ = [[1, 0.8], [0.8, 1]]
        let mut l = Array3::zeros((1, 2, 2));
        l[[0, 0, 0]] = 1.0;
        l[[0, 1, 0]] = 0.8;
        l[[0, 1, 1]] = 0.6;
        let post = Posterior::Full {
            mean: array![[0.0f32, 0.0]],
            scale_tril: l,
        };
        let mut rng = crate::seed::rng(1);
        let n = 50_000;
        let mut c01 = 0.0f64;
        for _ in 0..n {
            let z = post.sample(&mut rng);
            c01 += f64::from(z[[0, 0]] * z[[0, 1]]);
        }
        assert!((c01 / n as f64 - 0.8).abs() < 0.02);
    }
}
