//! Regularity of a latent space — the chapter's *continuity* and *completeness* — and the
//! Fréchet distance between two sets of feature vectors.
//!
//! All three are written against [`Reduction`] or plain arrays, so PCA, autoencoders and
//! VAEs are measured by the same code, with the same counts and seeds.

use faer::{Mat, Side};
use latent_core::{Error, Reduction, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::RngCore;
use rand::seq::index::sample as sample_indices;

/// The result of [`continuity`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Continuity {
    /// Mean over the probed points of the relative decoded change per relative latent step.
    pub mean: f64,
    /// Its 95th percentile: how bad the worst places are.
    pub q95: f64,
    /// How many encoded points were probed.
    pub points: usize,
    /// The step length as a fraction of the codes' RMS pairwise distance.
    pub step: f64,
}

/// The root-mean-square distance between two distinct rows of `a`, computed exactly from
/// the column variances: `E‖aᵢ − aⱼ‖² = 2 · Σ_d Var(a_d)` (variances divided by `n − 1`).
pub fn rms_pairwise_distance(a: ArrayView2<'_, f32>) -> f64 {
    if a.nrows() < 2 {
        return 0.0;
    }
    (2.0 * crate::activity(a).iter().sum::<f64>()).sqrt()
}

/// **Continuity**: how much the decoding changes along a short random step in latent space,
/// around the codes of real examples.
///
/// For `points` rows `xᵢ` of `x` (drawn without replacement by `rng`; all rows when there are
/// fewer), with codes `zᵢ = encode(xᵢ)`:
///
/// `cᵢ = (‖decode(zᵢ + δᵢ) − decode(zᵢ)‖ / s_x) / (‖δᵢ‖ / s_z)`,
///
/// where `δᵢ = step · s_z · uᵢ`, `uᵢ` a uniformly random unit vector, `s_z` the RMS distance
/// between two of the probed codes and `s_x` the RMS distance between two of the probed rows
/// of `x` ([`rms_pairwise_distance`]). Both distances are measured relative to the spread of
/// their space, so the figure does not change when a model rescales its latent space, and
/// models of different families are comparable: `cᵢ = 1` means a step of 1 % of the typical
/// latent distance moves the decoding by 1 % of the typical distance between examples. Small
/// and uniform (a `q95` close to the `mean`) is regular; a large `q95` marks places where the
/// decoding jumps.
///
/// # Errors
/// [`Error::InvalidParam`] for `points < 2` or a step that is not finite and positive;
/// [`Error::Empty`] when `x` has fewer than two rows; the model's errors.
pub fn continuity(
    model: &dyn Reduction,
    x: ArrayView2<'_, f32>,
    points: usize,
    step: f64,
    rng: &mut dyn RngCore,
) -> Result<Continuity> {
    if points < 2 {
        return Err(Error::param("points", "at least 2 points are needed"));
    }
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::param(
            "step",
            format!("must be finite and positive, got {step}"),
        ));
    }
    if x.nrows() < 2 {
        return Err(Error::Empty("continuity needs at least 2 rows".into()));
    }
    let rows = pick_rows(x, points, rng);
    let z = model.encode(rows.view())?;
    let s_z = rms_pairwise_distance(z.view());
    let s_x = rms_pairwise_distance(rows.view());
    if s_z <= 0.0 || s_x <= 0.0 || !s_z.is_finite() || !s_x.is_finite() {
        return Err(Error::Degenerate(
            "the probed rows (or their codes) are all equal: no scale to measure against".into(),
        ));
    }
    let (n, k) = z.dim();
    let noise = latent_core::standard_normal(n, k, rng);
    let mut moved = z.clone();
    for (mut row, u) in moved.outer_iter_mut().zip(noise.outer_iter()) {
        let norm = u.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let scale = if norm > 0.0 { step * s_z / norm } else { 0.0 };
        for (r, &v) in row.iter_mut().zip(u.iter()) {
            *r += (f64::from(v) * scale) as f32;
        }
    }
    let a = model.decode(z.view())?;
    let b = model.decode(moved.view())?;
    let mut c: Vec<f64> = (0..n)
        .map(|i| {
            let d = a
                .row(i)
                .iter()
                .zip(b.row(i).iter())
                .map(|(&p, &q)| f64::from(p - q).powi(2))
                .sum::<f64>()
                .sqrt();
            (d / s_x) / step
        })
        .collect();
    if let Some(bad) = c.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite(format!("continuity: a probe gave {bad}")));
    }
    let mean = c.iter().sum::<f64>() / n as f64;
    c.sort_by(f64::total_cmp);
    Ok(Continuity {
        mean,
        q95: quantile_sorted(&c, 0.95),
        points: n,
        step,
    })
}

/// `points` rows of `x` drawn without replacement (all of them, in order, when there are no
/// more than `points`).
pub fn pick_rows(x: ArrayView2<'_, f32>, points: usize, rng: &mut dyn RngCore) -> Array2<f32> {
    if x.nrows() <= points {
        return x.to_owned();
    }
    let mut idx = sample_indices(rng, x.nrows(), points).into_vec();
    idx.sort_unstable();
    x.select(Axis(0), &idx)
}

/// The `q` quantile of sorted values (linear interpolation between order statistics, as
/// NumPy's default). `NaN` for no values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// The Euclidean distance from each row of `queries` to its nearest row of `reference`,
/// computed in blocks through `‖q‖² + ‖r‖² − 2 q·r` (a matrix product), in f64 for the norms.
///
/// # Errors
/// [`Error::Shape`] when the column counts differ; [`Error::Empty`] for an empty `reference`.
pub fn nearest_distances(
    queries: ArrayView2<'_, f32>,
    reference: ArrayView2<'_, f32>,
) -> Result<Array1<f64>> {
    if queries.ncols() != reference.ncols() {
        return Err(Error::shape(
            "nearest-neighbour queries",
            format!("{} columns", reference.ncols()),
            format!("{} columns", queries.ncols()),
        ));
    }
    if reference.nrows() == 0 {
        return Err(Error::Empty(
            "no reference rows for nearest neighbours".into(),
        ));
    }
    let sq = |a: ArrayView2<'_, f32>| -> Vec<f64> {
        a.outer_iter()
            .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum())
            .collect()
    };
    let rn = sq(reference);
    let qn = sq(queries);
    let mut best = vec![f64::INFINITY; queries.nrows()];
    const BLOCK: usize = 2048;
    for start in (0..reference.nrows()).step_by(BLOCK) {
        let end = (start + BLOCK).min(reference.nrows());
        let block = reference.slice(ndarray::s![start..end, ..]);
        let dots = queries.dot(&block.t());
        for (i, row) in dots.outer_iter().enumerate() {
            for (j, &d) in row.iter().enumerate() {
                let d2 = qn[i] + rn[start + j] - 2.0 * f64::from(d);
                if d2 < best[i] {
                    best[i] = d2;
                }
            }
        }
    }
    Ok(best.into_iter().map(|d2| d2.max(0.0).sqrt()).collect())
}

/// The Fréchet distance between Gaussians fitted to the rows of `a` and of `b` (Heusel et al.
/// 2017, the FID formula): `‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})`, covariances
/// divided by `n − 1`, in f64. The trace of the matrix square root is computed as the sum
/// of the square roots of the eigenvalues of the symmetric `Σ_a^{1/2} Σ_b Σ_a^{1/2}`, which
/// has the same spectrum as `Σ_a Σ_b`; tiny negative eigenvalues from rounding count as 0.
///
/// It is biased upwards for small samples; compare figures computed with the same counts.
///
/// # Errors
/// [`Error::Shape`] when the column counts differ; [`Error::Empty`] for fewer than two rows
/// in either set; [`Error::NonFinite`] for a NaN or infinite value; [`Error::InvalidParam`]
/// when an eigendecomposition fails.
pub fn frechet_distance(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Result<f64> {
    if a.ncols() != b.ncols() {
        return Err(Error::shape(
            "Fréchet distance",
            format!("{} columns", a.ncols()),
            format!("{} columns", b.ncols()),
        ));
    }
    if a.nrows() < 2 || b.nrows() < 2 {
        return Err(Error::Empty(
            "the Fréchet distance needs at least 2 rows in each set".into(),
        ));
    }
    for (what, m) in [("first", &a), ("second", &b)] {
        if let Some(((i, j), v)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite(format!(
                "Fréchet distance: {what} set, row {i} column {j} is {v}"
            )));
        }
    }
    let (ma, ca) = moments(a);
    let (mb, cb) = moments(b);
    let mean_term: f64 = ma.iter().zip(&mb).map(|(p, q)| (p - q).powi(2)).sum();
    let d = a.ncols();
    let trace = |c: &Mat<f64>| (0..d).map(|i| c[(i, i)]).sum::<f64>();
    let (values, vectors) = eigh(&ca)?;
    // Σ_a^{1/2} = V diag(√λ) Vᵀ
    let root = Mat::from_fn(d, d, |i, j| {
        (0..d)
            .map(|k| vectors[(i, k)] * values[k].max(0.0).sqrt() * vectors[(j, k)])
            .sum::<f64>()
    });
    let m = &root * &cb * &root;
    let m = Mat::from_fn(d, d, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let (mv, _) = eigh(&m)?;
    let tr_sqrt: f64 = mv.iter().map(|&v| v.max(0.0).sqrt()).sum();
    Ok((mean_term + trace(&ca) + trace(&cb) - 2.0 * tr_sqrt).max(0.0))
}

/// Column means and covariance (`n − 1`), in f64.
pub(crate) fn moments(a: ArrayView2<'_, f32>) -> (Vec<f64>, Mat<f64>) {
    let (n, d) = a.dim();
    let mean: Vec<f64> = a
        .axis_iter(Axis(1))
        .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64)
        .collect();
    let centred = Mat::from_fn(n, d, |i, j| f64::from(a[[i, j]]) - mean[j]);
    let cov = centred.transpose() * &centred;
    let cov = Mat::from_fn(d, d, |i, j| cov[(i, j)] / (n - 1) as f64);
    (mean, cov)
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.
pub(crate) fn eigh(m: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| Error::param("covariance", "the eigendecomposition did not converge"))?;
    let s = evd.S().column_vector();
    let values = (0..m.nrows()).map(|i| s[i]).collect();
    Ok((values, evd.U().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use latent_core::seed;
    use ndarray::{Array2, array};

    fn gaussian(n: usize, mean: &[f32], sd: &[f32], s: u64) -> Array2<f32> {
        let mut rng = seed::rng(s);
        let d = mean.len();
        let z = latent_core::standard_normal(n, d, &mut rng);
        Array2::from_shape_fn((n, d), |(i, j)| mean[j] + sd[j] * z[[i, j]])
    }

    #[test]
    fn frechet_matches_the_closed_form_for_diagonal_gaussians() {
        // For diagonal covariances FD = ‖Δμ‖² + Σ (σ_a − σ_b)².
        let a = gaussian(20000, &[0.0, 1.0, -2.0], &[1.0, 2.0, 0.5], 1);
        let b = gaussian(20000, &[0.5, 1.0, -1.0], &[1.5, 1.0, 0.5], 2);
        let fd = frechet_distance(a.view(), b.view()).unwrap();
        let exact = 0.25 + 1.0 + 0.25 + 1.0;
        assert!((fd - exact).abs() < 0.1, "{fd} vs {exact}");
        // same distribution: near zero; symmetric
        let c = gaussian(20000, &[0.0, 1.0, -2.0], &[1.0, 2.0, 0.5], 3);
        assert!(frechet_distance(a.view(), c.view()).unwrap() < 0.02);
        let ba = frechet_distance(b.view(), a.view()).unwrap();
        assert!((ba - fd).abs() < 1e-9 * fd.max(1.0));
    }

    #[test]
    fn frechet_with_correlations_matches_a_rotation_argument() {
        // Rotating both sets by the same orthogonal map leaves FD unchanged.
        let a = gaussian(5000, &[0.0, 0.0], &[1.0, 3.0], 4);
        let b = gaussian(5000, &[1.0, 0.0], &[2.0, 1.0], 5);
        let (c, s) = (0.6f32, 0.8f32);
        let rot = array![[c, -s], [s, c]];
        let fd = frechet_distance(a.view(), b.view()).unwrap();
        let fr = frechet_distance(a.dot(&rot).view(), b.dot(&rot).view()).unwrap();
        assert!((fd - fr).abs() < 1e-6 * fd, "{fd} vs {fr}");
    }

    #[test]
    fn frechet_errors() {
        let a = Array2::<f32>::zeros((5, 3));
        assert!(frechet_distance(a.view(), Array2::zeros((5, 2)).view()).is_err());
        assert!(frechet_distance(a.view(), Array2::zeros((1, 3)).view()).is_err());
        let mut bad = a.clone();
        bad[[2, 1]] = f32::NAN;
        assert!(frechet_distance(a.view(), bad.view()).is_err());
    }

    #[test]
    fn nearest_distances_match_brute_force() {
        let q = gaussian(37, &[0.0; 4], &[1.0; 4], 6);
        let r = gaussian(3000, &[0.0; 4], &[1.0; 4], 7);
        let got = nearest_distances(q.view(), r.view()).unwrap();
        for (i, row) in q.outer_iter().enumerate() {
            let want = r
                .outer_iter()
                .map(|s| {
                    s.iter()
                        .zip(row.iter())
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(f64::INFINITY, f64::min);
            assert!((got[i] - want).abs() < 1e-4, "{} vs {want}", got[i]);
        }
        // a query that is in the reference is at distance 0
        let d = nearest_distances(r.slice(ndarray::s![5..6, ..]), r.view()).unwrap();
        assert!(d[0] < 1e-3);
        assert!(nearest_distances(q.view(), Array2::zeros((0, 4)).view()).is_err());
    }

    #[test]
    fn continuity_of_an_isometry_is_one_and_scale_free() {
        use latent_core::{Fit, ParamGuard};
        use latent_pca::{Components, PcaParams};
        // PCA keeping every component is a rotation: decoded change = latent step, and the
        // codes' spread equals the data's, so every probe gives exactly 1.
        let x = gaussian(400, &[0.0; 5], &[3.0, 2.0, 1.0, 0.5, 0.2], 8);
        let pca = PcaParams::new(Components::Count(5))
            .check()
            .unwrap()
            .fit(&x.view())
            .unwrap();
        let c = continuity(&pca, x.view(), 200, 0.01, &mut seed::rng(9)).unwrap();
        assert_eq!(c.points, 200);
        assert!(
            (c.mean - 1.0).abs() < 1e-3 && (c.q95 - 1.0).abs() < 1e-3,
            "{c:?}"
        );
        // whitening rescales the latent space per axis; for a 1-D latent space the figure
        // cannot change
        let pca1 = PcaParams::new(Components::Count(1)).check().unwrap();
        let plain = pca1.fit(&x.view()).unwrap();
        let white = PcaParams::new(Components::Count(1))
            .whiten(true)
            .check()
            .unwrap()
            .fit(&x.view())
            .unwrap();
        let a = continuity(&plain, x.view(), 100, 0.05, &mut seed::rng(1)).unwrap();
        let b = continuity(&white, x.view(), 100, 0.05, &mut seed::rng(1)).unwrap();
        assert!((a.mean - b.mean).abs() < 1e-4 * a.mean, "{a:?} vs {b:?}");
        assert!(continuity(&plain, x.view(), 1, 0.05, &mut seed::rng(1)).is_err());
        assert!(continuity(&plain, x.view(), 10, 0.0, &mut seed::rng(1)).is_err());
    }

    #[test]
    fn rms_pairwise_distance_is_exact() {
        let a = array![[0.0f32, 0.0], [3.0, 4.0], [0.0, 4.0]];
        // pairs: 5, 3, 4 → mean square (25 + 9 + 16) / 3
        let want = ((25.0 + 9.0 + 16.0) / 3.0f64).sqrt();
        assert!((rms_pairwise_distance(a.view()) - want).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert!((quantile_sorted(&v, 0.95) - 4.8).abs() < 1e-12);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }
}
