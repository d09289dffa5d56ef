//! Latent traversals (one coordinate varied at a time) and the 2-D manifold grid.

use latent_core::{Error, Reduction, Result};
use ndarray::{Array1, Array2, ArrayView1};

use crate::{CodeGaussian, normal_quantile};

/// `steps` evenly spaced values from `lo` to `hi`, both included exactly.
fn linspace(lo: f64, hi: f64, steps: usize) -> Vec<f64> {
    if steps == 1 {
        return vec![0.5 * (lo + hi)];
    }
    (0..steps)
        .map(|i| {
            if i == steps - 1 {
                hi
            } else {
                lo + (hi - lo) * i as f64 / (steps - 1) as f64
            }
        })
        .collect()
}

/// The codes of a traversal: for each dimension `d` in `dims`, a `steps × K` array whose rows
/// are `base` with coordinate `d` replaced by the **absolute** values
/// `linspace(−range, +range, steps)` (not offsets from `base[d]`). `base = None` is the origin,
/// the mean of an `N(0, I)` prior.
///
/// # Errors
/// [`Error::InvalidParam`] for `latent_dim = 0`, no dimension, a dimension `≥ latent_dim`,
/// `steps < 2` or a range that is not finite and positive; [`Error::Shape`] when `base` is not
/// of length `latent_dim`.
pub fn traversal_codes(
    latent_dim: usize,
    base: Option<ArrayView1<'_, f32>>,
    dims: &[usize],
    range: f32,
    steps: usize,
) -> Result<Vec<Array2<f32>>> {
    if latent_dim == 0 {
        return Err(Error::param(
            "latent dim",
            "a traversal needs at least 1 dimension",
        ));
    }
    if dims.is_empty() {
        return Err(Error::param("dims", "no latent dimension to traverse"));
    }
    if let Some(&d) = dims.iter().find(|&&d| d >= latent_dim) {
        return Err(Error::param(
            "dims",
            format!("dimension {d} does not exist (the latent dim is {latent_dim})"),
        ));
    }
    if steps < 2 {
        return Err(Error::param(
            "steps",
            format!("a traversal needs at least 2 steps, got {steps}"),
        ));
    }
    if !(range.is_finite() && range > 0.0) {
        return Err(Error::param(
            "range",
            format!("must be a finite number > 0, got {range}"),
        ));
    }
    let base = match base {
        Some(b) if b.len() != latent_dim => {
            return Err(Error::shape(
                "traversal base code",
                format!("{latent_dim} values (the latent dim)"),
                format!("{} values", b.len()),
            ));
        }
        Some(b) => b.to_owned(),
        None => Array1::zeros(latent_dim),
    };
    let values = linspace(-f64::from(range), f64::from(range), steps);
    Ok(dims
        .iter()
        .map(|&d| {
            let mut z = Array2::zeros((steps, latent_dim));
            for (mut row, &v) in z.outer_iter_mut().zip(&values) {
                row.assign(&base);
                row[d] = v as f32;
            }
            z
        })
        .collect())
}

/// Latent traversals: for each dimension `d` in `dims`, the `steps × D` decodings of the codes
/// of [`traversal_codes`] — `base` with `z_d` running over the absolute values
/// `linspace(−range, +range, steps)`, the other coordinates fixed at `base` (`None`: the
/// origin, the prior mean). One strip per dimension, in the order of `dims`.
///
/// The range is in code units: `±3` spans most of an `N(0, I)` prior or of whitened PCA codes,
/// while non-whitened PCA codes have the standard deviation of their component.
///
/// # Errors
/// As [`traversal_codes`], and the decoder's errors.
pub fn traverse(
    model: &dyn Reduction,
    base: Option<ArrayView1<'_, f32>>,
    dims: &[usize],
    range: f32,
    steps: usize,
) -> Result<Vec<Array2<f32>>> {
    traversal_codes(model.latent_dim(), base, dims, range, steps)?
        .iter()
        .map(|z| model.decode(z.view()))
        .collect()
}

/// The codes of the manifold grid, `n² × 2`, row-major in the orientation of a plot:
/// grid row `r` (from the top), column `c` is code row `r · n + c`, with
/// `z₀ = q[c]` (increasing left to right) and `z₁ = q[n − 1 − r]` (increasing from bottom to
/// top, like a plot's y axis), where `q = Φ⁻¹(linspace(margin, 1 − margin, n))` are quantiles
/// of `N(0, 1)`.
///
/// With `marginals = Some(g)` the quantiles are those of the fitted code distribution's
/// marginals instead, `μ_d + σ_d q` with `σ_d = √Σ_dd` (for models whose codes are not
/// distributed as `N(0, I)`: PCA, a deterministic autoencoder).
///
/// # Errors
/// [`Error::InvalidParam`] for `n_per_side = 0`, a margin outside `(0, 0.5)`, or a
/// distribution that is not 2-dimensional.
pub fn manifold_codes(
    n_per_side: usize,
    quantile_margin: f64,
    marginals: Option<&CodeGaussian>,
) -> Result<Array2<f32>> {
    if n_per_side == 0 {
        return Err(Error::param(
            "n per side",
            "the grid needs at least 1 image per side",
        ));
    }
    if !(quantile_margin > 0.0 && quantile_margin < 0.5) {
        return Err(Error::param(
            "quantile margin",
            format!("must be in (0, 0.5), got {quantile_margin}"),
        ));
    }
    let (mu, sigma) = match marginals {
        Some(g) if g.dim() != 2 => {
            return Err(Error::param(
                "marginals",
                format!(
                    "the manifold grid needs a 2-D distribution, got {}-D",
                    g.dim()
                ),
            ));
        }
        Some(g) => {
            let cov = g.covariance();
            (
                [f64::from(g.mean()[0]), f64::from(g.mean()[1])],
                [f64::from(cov[[0, 0]]).sqrt(), f64::from(cov[[1, 1]]).sqrt()],
            )
        }
        None => ([0.0, 0.0], [1.0, 1.0]),
    };
    let q: Vec<f64> = linspace(quantile_margin, 1.0 - quantile_margin, n_per_side)
        .into_iter()
        .map(normal_quantile)
        .collect();
    let n = n_per_side;
    Ok(Array2::from_shape_fn((n * n, 2), |(i, d)| {
        let (r, c) = (i / n, i % n);
        let v = if d == 0 { q[c] } else { q[n - 1 - r] };
        (mu[d] + sigma[d] * v) as f32
    }))
}

/// The 2-D manifold grid (Kingma & Welling 2014, Fig. 4): the decodings of
/// [`manifold_codes`], `n² × D`, in the same order — ready for an image grid of `n` columns,
/// on which `z₀` increases to the right and `z₁` upwards, as on a scatter plot of the codes.
///
/// `marginals = None` uses the quantiles of `N(0, 1)` on each axis (a VAE's prior); pass the
/// [`CodeGaussian`] of the training codes for a model without a prior.
///
/// # Errors
/// [`Error::InvalidParam`] when the model's latent dim is not 2; as [`manifold_codes`]; the
/// decoder's errors.
pub fn manifold_grid(
    model: &dyn Reduction,
    n_per_side: usize,
    quantile_margin: f64,
    marginals: Option<&CodeGaussian>,
) -> Result<Array2<f32>> {
    if model.latent_dim() != 2 {
        return Err(Error::param(
            "latent dim",
            format!(
                "the manifold grid needs a 2-D latent space, this model's is {}-D",
                model.latent_dim()
            ),
        ));
    }
    let z = manifold_codes(n_per_side, quantile_margin, marginals)?;
    model.decode(z.view())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_hits_both_ends() {
        let v = linspace(-3.0, 3.0, 7);
        assert_eq!(v, vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(linspace(0.1, 0.9, 1), vec![0.5]);
    }

    #[test]
    fn manifold_codes_orientation() {
        let z = manifold_codes(3, 0.05, None).unwrap();
        let q = normal_quantile(0.95) as f32;
        let close = |row: usize, want: [f32; 2]| {
            let got = z.row(row);
            assert!(
                (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
                "row {row}: {got} vs {want:?}"
            );
        };
        // top-left: z₀ lowest, z₁ highest; bottom-right: z₀ highest, z₁ lowest.
        close(0, [-q, q]);
        close(2, [q, q]);
        close(4, [0.0, 0.0]);
        close(6, [-q, -q]);
        close(8, [q, -q]);
    }
}
