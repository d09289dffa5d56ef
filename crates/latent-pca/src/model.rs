//! The fitted model: a linear encoder `z = (x − μ) Vᵀ` and its transpose as decoder.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef};
use latent_core::{Error, Reduction, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::linalg::par;

/// A fitted PCA: the mean `μ` (`d`), the principal axes `V` (`k × d`, orthonormal rows) and
/// their variances.
///
/// As an encoder/decoder pair ([`Reduction`]):
/// - `encode(x) = (x − μ) Vᵀ`, divided column-wise by `sqrt(explained_variance)` when
///   whitening (a component of zero variance encodes to 0);
/// - `decode(z) = z Λ V + μ`, where `Λ = diag(sqrt(explained_variance))` when whitening and
///   the identity otherwise.
///
/// Since `V Vᵀ = I`, `encode(decode(z)) = z`, and `decode(encode(x))` is the orthogonal
/// projection of `x` onto the affine principal subspace.
#[derive(Clone, Debug)]
pub struct Pca {
    mean: Array1<f32>,
    components: Array2<f32>,
    explained_variance: Array1<f32>,
    explained_variance_ratio: Array1<f32>,
    singular_values: Array1<f32>,
    total_variance: f64,
    noise_variance: f64,
    n_samples: usize,
    whiten: bool,
    /// `sqrt(explained_variance)`, multiplies whitened codes in `decode`.
    scale: Vec<f32>,
    /// `1 / sqrt(explained_variance)` (0 for a zero variance), multiplies codes in `encode`.
    inv_scale: Vec<f32>,
}

/// The contents of a fitted [`Pca`], for saving and loading ([`Pca::to_parts`],
/// [`Pca::from_parts`]). `k` components of `d` features.
#[derive(Clone, Debug, PartialEq)]
pub struct PcaParts {
    /// Per-feature mean of the training data, `d`.
    pub mean: Array1<f32>,
    /// Principal axes, `k × d`, orthonormal rows.
    pub components: Array2<f32>,
    /// Variance of the data along each axis (covariance eigenvalues, `n − 1` degrees of
    /// freedom), `k`.
    pub explained_variance: Array1<f32>,
    /// `explained_variance / total_variance`, `k`.
    pub explained_variance_ratio: Array1<f32>,
    /// Singular values of the centered data, `sqrt(explained_variance · (n − 1))`, `k`.
    pub singular_values: Array1<f32>,
    /// Trace of the covariance matrix (`n − 1` degrees of freedom).
    pub total_variance: f64,
    /// Mean variance of the discarded directions (scikit-learn's `noise_variance_`).
    pub noise_variance: f64,
    /// Rows of the training data.
    pub n_samples: usize,
    /// Whether codes are whitened.
    pub whiten: bool,
}

/// Tolerance on `|V Vᵀ − I|` when loading components (f32 storage gives about `1e-6`).
const ORTHONORMAL_TOL: f64 = 1e-3;

impl Pca {
    /// Build a model from its parts, checking everything: this data may come from a file.
    ///
    /// # Errors
    /// [`Error::Shape`] when the parts' sizes disagree (or `k = 0`, `d = 0`, `k > d`);
    /// [`Error::NonFinite`] for a NaN or infinite value; [`Error::InvalidParam`] for a
    /// negative variance or components whose rows are not orthonormal (to `1e-3`).
    pub fn from_parts(parts: PcaParts) -> Result<Pca> {
        let PcaParts {
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
            singular_values,
            total_variance,
            noise_variance,
            n_samples,
            whiten,
        } = parts;
        let (k, d) = components.dim();
        if k == 0 || d == 0 || k > d {
            return Err(Error::shape(
                "pca components",
                "k × d with 1 ≤ k ≤ d",
                format!("{k} × {d}"),
            ));
        }
        if mean.len() != d {
            return Err(Error::shape("pca mean", format!("{d} values"), mean.len()));
        }
        for (name, v) in [
            ("explained variance", &explained_variance),
            ("explained variance ratio", &explained_variance_ratio),
            ("singular values", &singular_values),
        ] {
            if v.len() != k {
                return Err(Error::shape(
                    format!("pca {name}"),
                    format!("{k} values (one per component)"),
                    v.len(),
                ));
            }
        }
        let arrays: [(&str, &mut dyn Iterator<Item = f64>); 5] = [
            ("mean", &mut mean.iter().map(|&v| f64::from(v))),
            ("components", &mut components.iter().map(|&v| f64::from(v))),
            (
                "explained variance",
                &mut explained_variance.iter().map(|&v| f64::from(v)),
            ),
            (
                "explained variance ratio",
                &mut explained_variance_ratio.iter().map(|&v| f64::from(v)),
            ),
            (
                "singular values",
                &mut singular_values.iter().map(|&v| f64::from(v)),
            ),
        ];
        for (name, values) in arrays {
            if let Some((i, v)) = values.enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFinite(format!("pca {name}: entry {i} is {v}")));
            }
        }
        for (name, v) in [
            ("total variance", total_variance),
            ("noise variance", noise_variance),
        ] {
            if !v.is_finite() {
                return Err(Error::NonFinite(format!("pca {name} is {v}")));
            }
            if v < 0.0 {
                return Err(Error::param(
                    format!("pca {name}"),
                    format!("must be ≥ 0, got {v}"),
                ));
            }
        }
        for (name, v) in [
            ("explained variance", &explained_variance),
            ("singular values", &singular_values),
        ] {
            if let Some(bad) = v.iter().find(|&&x| x < 0.0) {
                return Err(Error::param(
                    format!("pca {name}"),
                    format!("must be ≥ 0, got {bad}"),
                ));
            }
        }
        let components = components.as_standard_layout().into_owned();
        let worst = orthonormality_error(components.view());
        if worst.is_nan() || worst > ORTHONORMAL_TOL {
            return Err(Error::param(
                "pca components",
                format!("rows must be orthonormal: |V Vᵀ − I| reaches {worst:.3e}"),
            ));
        }
        let scale: Vec<f32> = explained_variance.iter().map(|&v| v.sqrt()).collect();
        let inv_scale = scale
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
            .collect();
        Ok(Pca {
            mean: mean.as_standard_layout().into_owned(),
            components,
            explained_variance,
            explained_variance_ratio,
            singular_values,
            total_variance,
            noise_variance,
            n_samples,
            whiten,
            scale,
            inv_scale,
        })
    }

    /// The model's contents, for saving.
    pub fn to_parts(&self) -> PcaParts {
        PcaParts {
            mean: self.mean.clone(),
            components: self.components.clone(),
            explained_variance: self.explained_variance.clone(),
            explained_variance_ratio: self.explained_variance_ratio.clone(),
            singular_values: self.singular_values.clone(),
            total_variance: self.total_variance,
            noise_variance: self.noise_variance,
            n_samples: self.n_samples,
            whiten: self.whiten,
        }
    }

    /// Per-feature mean of the training data, `d`.
    pub fn mean(&self) -> ArrayView1<'_, f32> {
        self.mean.view()
    }
    /// Principal axes, `k × d`: orthonormal rows in order of decreasing variance, each with a
    /// deterministic sign (its largest-magnitude entry is positive).
    pub fn components(&self) -> ArrayView2<'_, f32> {
        self.components.view()
    }
    /// Variance along each axis: the covariance eigenvalues (`n − 1` degrees of freedom),
    /// descending, `k`.
    pub fn explained_variance(&self) -> ArrayView1<'_, f32> {
        self.explained_variance.view()
    }
    /// Explained variance over the total variance (the covariance trace, as scikit-learn),
    /// `k`.
    pub fn explained_variance_ratio(&self) -> ArrayView1<'_, f32> {
        self.explained_variance_ratio.view()
    }
    /// Singular values of the centered training data, `sqrt(explained_variance · (n − 1))`.
    pub fn singular_values(&self) -> ArrayView1<'_, f32> {
        self.singular_values.view()
    }
    /// Trace of the covariance of the training data (`n − 1` degrees of freedom).
    pub fn total_variance(&self) -> f64 {
        self.total_variance
    }
    /// Rows of the training data.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }
    /// Whether codes are whitened.
    pub fn whiten(&self) -> bool {
        self.whiten
    }
    /// The mean variance of the discarded directions, `(total − Σ explained) / (min(n, d) −
    /// k)`, 0 when `k = min(n, d)` (scikit-learn's `noise_variance_`; the probabilistic-PCA
    /// noise estimate).
    pub fn noise_variance(&self) -> f64 {
        self.noise_variance
    }
    /// The variance left out, `total − Σ explained` over the `min(n, d)` directions of the
    /// training data: `noise_variance · (min(n, d) − k)`, in f64 (0 when `k = min(n, d)`).
    /// The training rows' reconstruction error (squared error per row, summed over the
    /// features, averaged over the rows) is `residual_variance · (n − 1) / n`.
    ///
    /// Prefer it to `total_variance − Σ explained_variance`: the explained variances are
    /// stored in f32, and on badly scaled data the variance left out is a small difference of
    /// large numbers (raw UCI wine: `≈ 17` of `≈ 99,000`), which their f32 rounding (up to
    /// `0.004` at `99,000`) can shift by `10⁻⁴` relative or more.
    pub fn residual_variance(&self) -> f64 {
        let (k, d) = self.components.dim();
        let left_out = self.n_samples.min(d).saturating_sub(k);
        self.noise_variance * left_out as f64
    }
}

/// `max |V Vᵀ − I|` over the entries, computed in f64.
fn orthonormality_error(v: ArrayView2<'_, f32>) -> f64 {
    let (k, d) = v.dim();
    let m = faer::Mat::<f64>::from_fn(k, d, |i, j| f64::from(v[[i, j]]));
    let gram = crate::linalg::mul(m.as_ref(), m.transpose());
    let mut worst = 0.0f64;
    for i in 0..k {
        for j in 0..k {
            let target = if i == j { 1.0 } else { 0.0 };
            let err = (gram[(i, j)] - target).abs();
            if err.is_nan() || err > worst {
                worst = err;
            }
        }
    }
    worst
}

/// Row-major `n × cols` faer view of a standard-layout array's buffer.
fn row_major(a: &Array2<f32>) -> Result<MatRef<'_, f32>> {
    let (r, c) = a.dim();
    a.as_slice()
        .map(|s| MatRef::from_row_major_slice(s, r, c))
        .ok_or_else(|| Error::shape("pca components", "a row-major array", "a strided array"))
}

impl Reduction for Pca {
    fn method(&self) -> &str {
        "pca"
    }

    fn input_dim(&self) -> usize {
        self.mean.len()
    }

    fn latent_dim(&self) -> usize {
        self.components.nrows()
    }

    fn encode(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_input("pca encode input", x)?;
        let (n, d, k) = (x.nrows(), self.input_dim(), self.latent_dim());
        // centred a block of rows at a time into one buffer, not the whole input: a copy of
        // 60,000 × 784 rows (188 MB of fresh pages) took longer than the product itself
        const BLOCK: usize = 4096;
        let components = row_major(&self.components)?;
        let mut centered = Vec::with_capacity(BLOCK.min(n) * d);
        let mut z = vec![0.0f32; n * k];
        for (rows, out) in x
            .axis_chunks_iter(Axis(0), BLOCK)
            .zip(z.chunks_mut(BLOCK * k.max(1)))
        {
            centered.clear();
            for row in rows.outer_iter() {
                centered.extend(row.iter().zip(&self.mean).map(|(&v, &m)| v - m));
            }
            let b = rows.nrows();
            matmul(
                MatMut::from_row_major_slice_mut(out, b, k),
                Accum::Replace,
                MatRef::from_row_major_slice(&centered, b, d),
                components.transpose(),
                1.0,
                par(),
            );
        }
        if self.whiten {
            for row in z.chunks_exact_mut(k) {
                for (v, &s) in row.iter_mut().zip(&self.inv_scale) {
                    *v *= s;
                }
            }
        }
        Array2::from_shape_vec((n, k), z)
            .map_err(|e| Error::shape("pca codes", format!("{n} × {k}"), e))
    }

    fn decode(&self, z: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_latent("pca decode input", z)?;
        let (n, d, k) = (z.nrows(), self.input_dim(), self.latent_dim());
        let mut codes = Vec::with_capacity(n * k);
        for row in z.outer_iter() {
            if self.whiten {
                codes.extend(row.iter().zip(&self.scale).map(|(&v, &s)| v * s));
            } else {
                codes.extend(row.iter().copied());
            }
        }
        let mut x = Vec::with_capacity(n * d);
        for _ in 0..n {
            x.extend(self.mean.iter().copied());
        }
        matmul(
            MatMut::from_row_major_slice_mut(&mut x, n, d),
            Accum::Add,
            MatRef::from_row_major_slice(&codes, n, k),
            row_major(&self.components)?,
            1.0,
            par(),
        );
        Array2::from_shape_vec((n, d), x)
            .map_err(|e| Error::shape("pca reconstruction", format!("{n} × {d}"), e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ndarray::array;

    fn parts() -> PcaParts {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        PcaParts {
            mean: array![1.0, 2.0, 3.0],
            components: array![[s, s, 0.0], [0.0, 0.0, 1.0]],
            explained_variance: array![4.0, 1.0],
            explained_variance_ratio: array![0.75, 0.1875],
            singular_values: array![4.0, 2.0],
            total_variance: 5.333_333,
            noise_variance: 0.333_333,
            n_samples: 5,
            whiten: false,
        }
    }

    /// Encoding goes a block of rows at a time: more rows than a block (and a partial last
    /// one) give each row the codes it gets alone in a small call, bit for bit.
    #[test]
    fn encoding_in_blocks_is_encoding_row_by_row() {
        let pca = Pca::from_parts(parts()).unwrap();
        let x = Array2::from_shape_fn((9001, 3), |(i, j)| ((i * 7 + j * 13) % 101) as f32 * 0.37);
        let z = pca.encode(x.view()).unwrap();
        assert_eq!(z.dim(), (9001, 2));
        for start in (0..9001).step_by(1000) {
            let end = (start + 1000).min(9001);
            let part = pca.encode(x.slice(ndarray::s![start..end, ..])).unwrap();
            assert_eq!(
                part,
                z.slice(ndarray::s![start..end, ..]),
                "rows {start}..{end}"
            );
        }
    }

    #[test]
    fn encode_decode_by_hand() {
        let pca = Pca::from_parts(parts()).unwrap();
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let x = array![[2.0f32, 3.0, 5.0]];
        let z = pca.encode(x.view()).unwrap();
        assert!(
            (z[[0, 0]] - 2.0 * s).abs() < 1e-6 && (z[[0, 1]] - 2.0).abs() < 1e-6,
            "{z}"
        );
        let back = pca.decode(z.view()).unwrap();
        assert!((&back - &x).iter().all(|v| v.abs() < 1e-6), "{back}");
        let mut p = parts();
        p.whiten = true;
        let white = Pca::from_parts(p).unwrap();
        let zw = white.encode(x.view()).unwrap();
        assert!(
            (zw[[0, 0]] - s).abs() < 1e-6 && (zw[[0, 1]] - 2.0).abs() < 1e-6,
            "{zw}"
        );
        let back = white.decode(zw.view()).unwrap();
        assert!((&back - &x).iter().all(|v| v.abs() < 1e-6), "{back}");
        assert!(pca.encode(array![[1.0f32, 2.0]].view()).is_err());
        assert!(pca.decode(array![[1.0f32, 2.0, 3.0]].view()).is_err());
        assert_eq!(
            pca.encode(Array2::zeros((0, 3)).view()).unwrap().dim(),
            (0, 2)
        );
    }

    #[test]
    fn from_parts_rejects_bad_parts() {
        assert_eq!(Pca::from_parts(parts()).unwrap().to_parts(), parts());
        type Breaker = Box<dyn Fn(&mut PcaParts)>;
        let cases: Vec<(Breaker, &str)> = vec![
            (Box::new(|p| p.mean = array![1.0, 2.0]), "mean"),
            (
                Box::new(|p| p.components = Array2::zeros((0, 3))),
                "components",
            ),
            (
                Box::new(|p| p.components = Array2::zeros((3, 2))),
                "1 ≤ k ≤ d",
            ),
            (
                Box::new(|p| p.explained_variance = array![1.0]),
                "explained variance",
            ),
            (
                Box::new(|p| p.explained_variance_ratio = array![1.0, 2.0, 3.0]),
                "ratio",
            ),
            (Box::new(|p| p.singular_values = array![1.0]), "singular"),
            (Box::new(|p| p.mean[1] = f32::NAN), "mean: entry 1"),
            (
                Box::new(|p| p.components[[1, 2]] = f32::INFINITY),
                "components",
            ),
            (Box::new(|p| p.explained_variance[0] = -1.0), "≥ 0"),
            (Box::new(|p| p.total_variance = f64::NAN), "total variance"),
            (Box::new(|p| p.noise_variance = -1.0), "noise variance"),
            (Box::new(|p| p.components[[1, 2]] = 0.5), "orthonormal"),
        ];
        for (break_it, needle) in cases {
            let mut p = parts();
            break_it(&mut p);
            let err = Pca::from_parts(p).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
