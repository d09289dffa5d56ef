//! Two coordinates per code, for a scatter plot of the latent space.

use std::fmt;

use latent_core::{Error, Result};
use ndarray::{Array2, ArrayView2};
use rand::Rng;

/// How [`project_2d`] turned the codes into plot coordinates; `Display` is a phrase for a plot
/// title, [`Projection::axis_labels`] names the axes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Projection {
    /// `K = 2`: the codes themselves, `(z₀, z₁)`.
    Identity,
    /// `K > 2`: the coordinates of the centered codes on their own top two principal axes
    /// (a PCA of the codes, not of the data).
    PrincipalAxes {
        /// `K`.
        latent_dim: usize,
        /// The fraction of the codes' total variance along each of the two axes.
        explained: [f32; 2],
    },
    /// `K = 1`: `x` is the code, `y` a uniform jitter in `[−1, 1]` that carries no information
    /// (seeded, so the same codes always give the same picture).
    Jitter,
}

impl Projection {
    /// The `(x, y)` axis labels.
    pub fn axis_labels(&self) -> (&'static str, &'static str) {
        match self {
            Projection::Identity => ("z₀", "z₁"),
            Projection::PrincipalAxes { .. } => ("principal axis 1", "principal axis 2"),
            Projection::Jitter => ("z₀", "random jitter (no meaning)"),
        }
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Projection::Identity => f.write_str("2-D latent codes"),
            Projection::PrincipalAxes {
                latent_dim,
                explained,
            } => write!(
                f,
                "{latent_dim}-D codes projected on their 2 principal axes ({:.1} % + {:.1} % \
                 of their variance)",
                100.0 * explained[0],
                100.0 * explained[1]
            ),
            Projection::Jitter => f.write_str("1-D latent codes (vertical jitter for visibility)"),
        }
    }
}

/// The seed of the jitter of [`Projection::Jitter`].
const JITTER_SEED: u64 = 0x6a17;

/// Plot coordinates (`n × 2`) for codes (`n × K`), and how they were obtained: the codes for
/// `K = 2`; for `K > 2`, their coordinates on the top two principal axes of the codes (from
/// an eigendecomposition of their covariance, signs fixed so each axis's largest entry is
/// positive); for `K = 1`, the code against a seeded uniform jitter.
///
/// # Errors
/// [`Error::Empty`] for no code or `K = 0`; [`Error::NonFinite`] naming a NaN or infinite code;
/// for `K > 2`, fewer than 2 codes or an eigendecomposition that does not converge.
pub fn project_2d(codes: ArrayView2<'_, f32>) -> Result<(Array2<f32>, Projection)> {
    let (n, k) = codes.dim();
    if n == 0 || k == 0 {
        return Err(Error::Empty(format!("no codes to project ({n} × {k})")));
    }
    if let Some(((i, j), v)) = codes.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite(format!("code [{i}, {j}] is {v}")));
    }
    match k {
        1 => {
            let mut rng = latent_core::seed::rng(JITTER_SEED);
            let points = Array2::from_shape_fn((n, 2), |(i, j)| {
                if j == 0 {
                    codes[[i, 0]]
                } else {
                    rng.random_range(-1.0f32..=1.0)
                }
            });
            Ok((points, Projection::Jitter))
        }
        2 => Ok((codes.to_owned(), Projection::Identity)),
        _ => {
            if n < 2 {
                return Err(Error::Empty(format!(
                    "{n} code: at least 2 are needed to find their principal axes"
                )));
            }
            // the codes' own top two principal axes: the covariance (f64) and its
            // eigenvectors, signs fixed so that each axis's largest entry is positive
            let (mean, cov) = crate::regularity::moments(codes);
            let (values, vectors) = crate::regularity::eigh(&cov)?;
            let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
            let mut explained = [0.0f32; 2];
            let mut cols = Vec::with_capacity(2);
            for (slot, col) in [k - 1, k - 2].into_iter().enumerate() {
                let mut v: Vec<f64> = (0..k).map(|i| vectors[(i, col)]).collect();
                let big = v
                    .iter()
                    .copied()
                    .fold(0.0f64, |b, x| if x.abs() > b.abs() { x } else { b });
                if big < 0.0 {
                    v.iter_mut().for_each(|x| *x = -*x);
                }
                explained[slot] = if total > 0.0 {
                    (values[col].max(0.0) / total) as f32
                } else {
                    0.0
                };
                cols.push(v);
            }
            let points = Array2::from_shape_fn((n, 2), |(i, j)| {
                (0..k)
                    .map(|c| (f64::from(codes[[i, c]]) - mean[c]) * cols[j][c])
                    .sum::<f64>() as f32
            });
            Ok((
                points,
                Projection::PrincipalAxes {
                    latent_dim: k,
                    explained,
                },
            ))
        }
    }
}
