//! Two coordinates per code, for a scatter plot of the latent space.

use std::fmt;

use latent_core::{Error, Fit, ParamGuard, Reduction, Result};
use latent_pca::{Components, PcaParams};
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
/// `K = 2`; for `K > 2`, their coordinates on the top two principal axes of the codes (exact
/// PCA with latent-pca); for `K = 1`, the code against a seeded uniform jitter.
///
/// # Errors
/// [`Error::Empty`] for no code or `K = 0`; [`Error::NonFinite`] naming a NaN or infinite code;
/// for `K > 2`, the PCA's errors (fewer than 2 codes).
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
            let pca = PcaParams::new(Components::Count(2)).check()?.fit(&codes)?;
            let ratio = pca.explained_variance_ratio();
            let points = pca.encode(codes)?;
            Ok((
                points,
                Projection::PrincipalAxes {
                    latent_dim: k,
                    explained: [ratio[0], ratio[1]],
                },
            ))
        }
    }
}
