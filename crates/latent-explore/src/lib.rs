//! # latent-explore
//!
//! Tools that explore a latent space, written once against [`latent_core::Reduction`] and
//! [`latent_core::Probabilistic`], so they work for PCA, autoencoders and VAEs alike:
//!
//! - **sampling** ([`sample`]): codes from the model's prior, or — for a model without one —
//!   from a Gaussian fitted to the training codes ([`CodeGaussian`]); a [`Sampler`] names the
//!   distribution and the result says which was used ([`PriorSource`]); a temperature scales
//!   the standard deviation;
//! - **interpolation** ([`interpolate`], [`interpolate_codes`]): straight ([`Interpolation::Lerp`])
//!   or spherical ([`Interpolation::Slerp`]) paths between the deterministic codes of two
//!   examples, decoded;
//! - **traversal** ([`traverse`]): one latent coordinate swept over a range, the others fixed;
//! - the **manifold grid** ([`manifold_grid`]) of a 2-D latent space (Kingma & Welling 2014,
//!   Fig. 4), at the quantiles [`normal_quantile`] of the prior;
//! - a **2-D projection** of codes for a scatter plot ([`project_2d`]);
//! - **regularity** ([`continuity`], and for completeness [`nearest_distances`] and
//!   [`frechet_distance`]): the chapter's two properties of a regular latent space, measured;
//! - [`parse_dims`], the `--dims` syntax of the command line.
//!
//! Every function returns codes or decodings as arrays, rows being examples; drawing them is
//! the job of `latent-data`'s image grids and `latent-report`'s plots.
//!
//! ```
//! use latent_core::{Fit, ParamGuard};
//! use latent_explore::{Interpolation, interpolate};
//! use latent_pca::{Components, PcaParams};
//! use ndarray::Array2;
//!
//! let x = Array2::from_shape_fn((50, 6), |(i, j)| ((i * 5 + j * 3) % 7) as f32);
//! let pca = PcaParams::new(Components::Count(2)).check()?.fit(&x.view())?;
//! let strips = interpolate(&pca, x.view(), &[(0, 1), (2, 3)], 8, Interpolation::Slerp)?;
//! assert_eq!(strips.len(), 2);
//! assert_eq!(strips[0].dim(), (8, 6));
//! # Ok::<(), latent_core::Error>(())
//! ```

mod dims;
mod gaussian;
mod interpolate;
mod metrics;
mod normal;
mod project;
mod regularity;
mod sample;
mod traverse;

pub use dims::parse_dims;
pub use gaussian::CodeGaussian;
pub use interpolate::{Interpolation, interpolate, interpolate_codes};
pub use metrics::{active_units, activity, kl_per_dim};
pub use normal::normal_quantile;
pub use project::{MapAxes, Projection, project_2d};
pub use regularity::{
    Continuity, continuity, frechet_distance, nearest_distances, pick_rows, quantile_sorted,
    rms_pairwise_distance,
};
pub use sample::{PriorSource, Sampler, Samples, sample};
pub use traverse::{manifold_codes, manifold_grid, traversal_codes, traverse};
