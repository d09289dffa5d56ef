//! A Gaussian fitted to a model's codes, for sampling models that have no prior.

use latent_core::{Error, Result, standard_normal};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::RngCore;

/// A full-covariance Gaussian `N(μ, Σ)` fitted to the codes of the training data, `Σ = L Lᵀ`.
///
/// PCA and deterministic autoencoders have no prior `p(z)`; the usual way to sample them is to
/// fit a Gaussian to where their codes actually lie (Ghosh et al. 2020, "From variational to
/// deterministic autoencoders", ex-post density estimation). It is also how a VAE's aggregate
/// posterior can be compared with its prior.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeGaussian {
    mean: Array1<f32>,
    chol: Array2<f32>,
    jitter: f64,
}

/// The relative jitter tried first when the covariance is not numerically positive definite:
/// `ε = 1e-10 · tr(Σ)/K`, multiplied by 10 up to [`MAX_RELATIVE_JITTER`].
const FIRST_RELATIVE_JITTER: f64 = 1e-10;
/// The largest relative jitter accepted before giving up.
const MAX_RELATIVE_JITTER: f64 = 1e-2;

impl CodeGaussian {
    /// Fit the mean and the covariance (divided by `n − 1`) of the rows of `codes` (`n × K`),
    /// in f64, and its Cholesky factor. When the covariance is singular (a constant code
    /// coordinate, collinear codes, fewer rows than dimensions) a jitter `ε I` is added, `ε`
    /// starting at `1e-10 · tr(Σ)/K` and growing tenfold until the factorisation succeeds; the
    /// jitter used is [`CodeGaussian::jitter`].
    ///
    /// # Errors
    /// [`Error::Empty`] for fewer than 2 rows or no column; [`Error::NonFinite`] naming the
    /// first NaN or infinite code; [`Error::InvalidParam`] when even a jitter of 1 % of the
    /// mean variance does not make the covariance positive definite.
    pub fn fit(codes: ArrayView2<'_, f32>) -> Result<Self> {
        let (n, k) = codes.dim();
        if n < 2 || k == 0 {
            return Err(Error::Empty(format!(
                "fitting a Gaussian to codes needs at least 2 rows and 1 column, got {n} × {k}"
            )));
        }
        if let Some(((i, j), v)) = codes.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite(format!("code [{i}, {j}] is {v}")));
        }
        let mut mean = vec![0.0f64; k];
        for row in codes.outer_iter() {
            for (m, &v) in mean.iter_mut().zip(row.iter()) {
                *m += f64::from(v);
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let mut cov = vec![0.0f64; k * k];
        let mut centered = vec![0.0f64; k];
        for row in codes.outer_iter() {
            for ((c, &v), &m) in centered.iter_mut().zip(row.iter()).zip(&mean) {
                *c = f64::from(v) - m;
            }
            // the lower triangle, row by row as slices (no index checks, so it vectorises;
            // the same products and sums, in the same order)
            for (r, (cov_row, &cr)) in cov.chunks_exact_mut(k).zip(&centered).enumerate() {
                for (v, &cc) in cov_row[..=r].iter_mut().zip(&centered[..=r]) {
                    *v += cr * cc;
                }
            }
        }
        for v in &mut cov {
            *v /= (n - 1) as f64;
        }
        Self::factor(&mean, &cov)
    }

    /// The Gaussian `N(μ, Σ)` of known moments: `mean` (`K`) and the covariance `cov`
    /// (`K × K`, row-major; its lower triangle is read). A singular covariance gets the jitter
    /// [`CodeGaussian::fit`] would add. For a model whose code distribution is known in closed
    /// form — PCA's codes of its own training rows have mean 0 and covariance
    /// `diag(explained_variance)` — without encoding the rows again.
    ///
    /// # Errors
    /// [`Error::Empty`] for `K = 0`; [`Error::Shape`] when `cov` is not `K × K`;
    /// [`Error::NonFinite`] for a non-finite moment; [`Error::InvalidParam`] as for
    /// [`CodeGaussian::fit`].
    pub fn from_moments(mean: &[f64], cov: &[f64]) -> Result<Self> {
        let k = mean.len();
        if k == 0 {
            return Err(Error::Empty(
                "a Gaussian of codes needs at least 1 dimension".into(),
            ));
        }
        if cov.len() != k * k {
            return Err(Error::shape(
                "code covariance",
                format!("{k} × {k} entries for a mean of length {k}"),
                format!("{} entries", cov.len()),
            ));
        }
        if let Some(v) = mean.iter().chain(cov).find(|v| !v.is_finite()) {
            return Err(Error::NonFinite(format!("a code moment is {v}")));
        }
        Self::factor(mean, cov)
    }

    /// The Cholesky factor of `cov`, with the smallest jitter that makes it positive definite.
    fn factor(mean: &[f64], cov: &[f64]) -> Result<Self> {
        let k = mean.len();
        let trace: f64 = (0..k).map(|i| cov[i * k + i]).sum();
        let scale = if trace > 0.0 { trace / k as f64 } else { 1.0 };
        let mut jitter = 0.0;
        let l = loop {
            if let Some(l) = cholesky(cov, k, jitter) {
                break l;
            }
            jitter = if jitter == 0.0 {
                FIRST_RELATIVE_JITTER * scale
            } else {
                jitter * 10.0
            };
            if jitter > MAX_RELATIVE_JITTER * scale {
                return Err(Error::param(
                    "codes",
                    "their covariance is not positive definite even with a jitter of 1 % of \
                     the mean variance",
                ));
            }
        };
        Ok(CodeGaussian {
            mean: Array1::from_iter(mean.iter().map(|&m| m as f32)),
            chol: Array2::from_shape_fn((k, k), |(r, c)| l[r * k + c] as f32),
            jitter,
        })
    }

    /// A Gaussian [`CodeGaussian::fit`] made before, rebuilt from its parts — `μ`
    /// ([`CodeGaussian::mean`]), `L` ([`CodeGaussian::chol`]) and the jitter — so that a front
    /// end can keep it with a model (the Python package pickles it) and sample the same points.
    ///
    /// # Errors
    /// [`Error::Shape`] when `chol` is not `K × K` for a mean of length `K`;
    /// [`Error::NonFinite`] for a non-finite entry; [`Error::InvalidParam`] when `chol` is not
    /// lower-triangular with a positive diagonal or the jitter is negative.
    pub fn from_parts(mean: Array1<f32>, chol: Array2<f32>, jitter: f64) -> Result<Self> {
        let k = mean.len();
        if k == 0 || chol.dim() != (k, k) {
            return Err(Error::shape(
                "code Gaussian",
                format!("a {k} × {k} Cholesky factor for a mean of length {k} (at least 1)"),
                format!("{} × {}", chol.nrows(), chol.ncols()),
            ));
        }
        if mean.iter().chain(chol.iter()).any(|v| !v.is_finite()) || !jitter.is_finite() {
            return Err(Error::NonFinite("code Gaussian parts".into()));
        }
        let lower = chol
            .indexed_iter()
            .all(|((r, c), &v)| if c > r { v == 0.0 } else { c < r || v > 0.0 });
        if !lower || jitter < 0.0 {
            return Err(Error::param(
                "code Gaussian",
                "the Cholesky factor must be lower-triangular with a positive diagonal, and the \
                 jitter ≥ 0",
            ));
        }
        Ok(CodeGaussian { mean, chol, jitter })
    }

    /// `K`, the dimension of the codes.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// `μ`, the mean code.
    pub fn mean(&self) -> ArrayView1<'_, f32> {
        self.mean.view()
    }

    /// `L`, the lower-triangular Cholesky factor of the covariance (zeros above the diagonal).
    pub fn chol(&self) -> ArrayView2<'_, f32> {
        self.chol.view()
    }

    /// `Σ = L Lᵀ`, the fitted covariance (including the jitter, if any).
    pub fn covariance(&self) -> Array2<f32> {
        self.chol.dot(&self.chol.t())
    }

    /// The `ε` added to the diagonal of the covariance to factor it (0 when none was needed).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// `n` draws `z = μ + T · L ε`, `ε ~ N(0, I)`: the temperature `T` scales the standard
    /// deviation (`T = 1` samples the fitted Gaussian, `T = 0` returns the mean `n` times; a
    /// negative `T` gives the same distribution as `|T|`). Returns `n × K`.
    pub fn sample(&self, n: usize, temperature: f32, rng: &mut dyn RngCore) -> Array2<f32> {
        let k = self.dim();
        let eps = standard_normal(n, k, rng);
        let mut z = eps.dot(&self.chol.t());
        for mut row in z.outer_iter_mut() {
            for (v, &m) in row.iter_mut().zip(self.mean.iter()) {
                *v = m + temperature * *v;
            }
        }
        z
    }
}

/// The lower Cholesky factor of `a + jitter · I` (`k × k`, row-major, lower triangle read), or
/// `None` when it is not positive definite.
fn cholesky(a: &[f64], k: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; k * k];
    for r in 0..k {
        for c in 0..=r {
            let mut s = a[r * k + c];
            if r == c {
                s += jitter;
            }
            for j in 0..c {
                s -= l[r * k + j] * l[c * k + j];
            }
            if r == c {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[r * k + c] = s.sqrt();
            } else {
                l[r * k + c] = s / l[c * k + c];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cholesky_of_a_known_matrix() {
        // [[4, 2], [2, 3]] = [[2, 0], [1, √2]] [[2, 1], [0, √2]]
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2, 0.0).unwrap();
        assert_eq!(l[0], 2.0);
        assert_eq!(l[1], 0.0);
        assert_eq!(l[2], 1.0);
        assert!((l[3] - 2f64.sqrt()).abs() < 1e-15);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2, 0.0).is_none());
    }

    #[test]
    fn singular_codes_get_a_jitter() {
        // The second coordinate is constant: Σ = [[v, 0], [0, 0]].
        let codes = array![[0.0f32, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]];
        let g = CodeGaussian::fit(codes.view()).unwrap();
        assert!(g.jitter() > 0.0 && g.jitter() < 1e-6, "{}", g.jitter());
        assert_eq!(g.mean(), array![1.5f32, 1.0]);
    }

    #[test]
    fn a_gaussian_rebuilt_from_its_parts_samples_the_same_points() {
        let codes = array![[0.0f32, 1.0], [1.0, 3.0], [2.0, 2.0], [3.0, 7.0]];
        let g = CodeGaussian::fit(codes.view()).unwrap();
        let back =
            CodeGaussian::from_parts(g.mean().to_owned(), g.chol().to_owned(), g.jitter()).unwrap();
        assert_eq!(back, g);
        let draw = |g: &CodeGaussian| g.sample(5, 1.0, &mut latent_core::seed::rng(3));
        assert_eq!(draw(&back), draw(&g));
        // not lower-triangular, a wrong shape, a zero diagonal: refused
        let bad = [
            array![[1.0f32, 0.5], [0.0, 1.0]],
            array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            array![[1.0f32, 0.0], [0.5, 0.0]],
        ];
        for chol in bad {
            assert!(CodeGaussian::from_parts(array![0.0f32, 0.0], chol, 0.0).is_err());
        }
    }

    #[test]
    fn too_few_rows_or_non_finite_codes_are_errors() {
        let err = CodeGaussian::fit(array![[1.0f32, 2.0]].view()).unwrap_err();
        assert!(err.to_string().contains("at least 2 rows"), "{err}");
        let err = CodeGaussian::fit(array![[1.0f32, 2.0], [f32::NAN, 0.0]].view()).unwrap_err();
        assert!(err.to_string().contains("[1, 0]"), "{err}");
    }
}
