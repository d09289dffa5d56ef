//! # latent
//!
//! Dimensionality reduction and generative autoencoders as a library: every method is an
//! **encoder / decoder pair** `(e, d)` chosen from families `E` and `D` to minimise the
//! reconstruction error `‖x − d(e(x))‖²` — PCA, the linear autoencoder, the deep autoencoder
//! and the variational autoencoder ([`Family`]).
//!
//! This crate is the application: what the `latent` command, the Python package and the
//! explorer all call. It owns
//! - [`data::DataSource`]: where the rows come from and how they are read;
//! - [`run`]: the self-describing run directory (config, weights, metrics, checkpoints), its
//!   save and load, and [`run::Model`], one loaded-model type over every family;
//! - [`fit`]: one typed entry for every family — [`fit::FitSpec`] in, a run directory out;
//! - [`eval`]: every figure of a model on data, as a typed [`eval::Metrics`];
//! - [`compare`]: the chapter as an experiment, [`compare::CompareSpec`] in, a typed
//!   [`compare::CompareSummary`] and an HTML report out; the demo is one of its presets;
//! - [`rows`]: decoded rows as NPY and CSV files in the data's units and column names, the
//!   rows `reconstruct` shows, and the largest PNG grid drawn;
//! - [`sampler`]: how latent points are drawn — the prior of a VAE, or a Gaussian fitted to
//!   the codes of a model without one — decided in one place.
//!
//! The mathematics lives below it: `latent-core` (the traits), `latent-data`, `latent-pca`,
//! `latent-nn`, `latent-explore` and `latent-report`. No type here comes from a command-line
//! parser (clap's derives are behind the `clap` feature, for front ends).

mod error;

pub mod applies;
pub mod compare;
pub mod data;
pub mod eval;
pub mod explore;
pub mod figures;
pub mod fit;
pub mod parallel;
mod recorded;
pub mod report;
pub mod rows;
pub mod run;
pub mod sampler;

pub use compare::{CompareSpec, CompareSummary};
pub use data::{CsvHeader, DataSource};
pub use error::{Error, Result};
pub use eval::{Bench, EvalSettings, Metrics};
pub use fit::{FitEvents, FitSpec, Fitted};
pub use latent_core::family::Family;
pub use run::{Model, RunConfig};
