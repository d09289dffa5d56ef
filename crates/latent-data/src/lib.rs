//! Readers, writers, embedded datasets and transforms for `latent`.
//!
//! Every reader turns a file into a [`latent_core::Dataset`] (or a streaming
//! [`latent_core::RowSource`]) and fails with a [`DataError`] that names the file and the
//! cause; no reader panics on malformed input, and none allocates according to a size written in
//! a file's header before that size has been checked against the file itself.
//!
//! - [`idx`]: the MNIST family's IDX files, raw or gzip-compressed;
//! - [`npy`]: NumPy `.npy` arrays (read and write);
//! - [`csv`]: numeric comma-separated text, optionally gzip-compressed (read and write);
//! - [`image`]: folders of PNG files, and PNG grids of images;
//! - [`embedded`]: the datasets compiled into the binary (`fashion-mnist-10k`, `digits`);
//! - [`labels`]: a labels file (`.npy` or one-column CSV) for any data;
//! - [`lent`]: rows a front end lends to a fit without a copy (a NumPy array);
//! - [`notes`]: what latent decided on its own, for the front end to tell the user;
//! - [`source`]: what a `--data` argument names, and loading it;
//! - [`transform`]: scaling and binarization, recorded in a run's configuration.
//!
//! Every writer goes through [`latent_core::fsutil::atomic_write`].

pub mod csv;
pub mod embedded;
mod error;
pub mod idx;
pub mod image;
pub mod labels;
pub mod lent;
pub mod notes;
pub mod npy;
pub mod source;
pub mod transform;
mod util;

pub use error::{DataError, Result};
