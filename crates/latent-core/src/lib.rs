//! # latent-core
//!
//! The centre of latent: dimensionality reduction as an **encoder / decoder pair**.
//!
//! An encoder `e` maps a data point `x ∈ R^D` to a latent code `z ∈ R^K`, a decoder `d` maps a
//! code back to data space, and a method is a choice of families `E` and `D` plus a way of
//! finding the pair that minimises the reconstruction error `‖x − d(e(x))‖²`. PCA, linear and
//! deep autoencoders and variational autoencoders differ only in those families, in how the pair
//! is found (eigen-decomposition or gradient descent) and in how the latent space is
//! regularised. The traits here say exactly that:
//!
//! - [`Reduction`]: a fitted pair — [`Reduction::encode`], [`Reduction::decode`],
//!   [`Reduction::latent_dim`].
//! - [`Probabilistic`]: a reduction whose encoder returns a distribution
//!   ([`Posterior`]) and which has a prior to sample from.
//! - [`ParamGuard`] and [`Fit`]: hyper-parameters are a different type from the fitted model
//!   (`Params → check() → fit(data) → Fitted`); invalid settings are errors from `check()`.
//!
//! Everything that explores or measures a latent space is written once against these traits.
//!
//! This crate names no ML framework and no linear-algebra backend.

pub mod collective;
mod dataset;
mod error;
pub mod family;
pub mod fsutil;
pub mod memory;
pub mod output;
mod reduction;
pub mod seed;
pub mod simd;
pub mod stream;
pub mod tensors;

pub use collective::{Collective, LocalGroup, Single};
pub use dataset::{Dataset, ImageShape, ValueRange};
pub use error::{Error, Result};
pub use family::Family;
pub use reduction::{Fit, ParamGuard, Posterior, Probabilistic, Reduction, standard_normal};
pub use stream::{ArrayRows, RowSource};
