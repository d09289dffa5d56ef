//! # latent-report
//!
//! Figures for latent, drawn with plotters into memory and written as PNG files atomically:
//!
//! - [`scatter_plot`] / [`scatter_png`]: codes in 2-D (see `latent_explore::project_2d`),
//!   coloured by class with a legend;
//! - [`line_plot`] / [`line_plot_png`] / [`line_plot_scaled`]: named curves (loss curves,
//!   rate–distortion), with linear, integer-only (epochs) or logarithmic axes;
//! - [`ticks`]: where an axis's numbers go ("nice" 1-2-5 steps, powers of ten on a wide log
//!   axis, numbers inside a log axis narrower than a decade) and how they are written;
//! - [`image_grid`]: cells (decoded images) enlarged by an integer zoom, separated by grey
//!   lines, with row and column labels ([`GridLabels`]);
//! - [`RgbImage`], [`hstack`], [`caption`] and [`write_png`]: composing figures
//!   (`latent_data::image::grid_pixels` returns the pixels of an image).
//!
//! Text is set in DejaVu Sans, embedded in the library (`assets/DejaVuSans.ttf`, under the
//! Bitstream Vera / Arev font licence in `assets/LICENSE-DejaVu`): no system font is looked up
//! and nothing is fetched at run time, so a figure looks the same on every machine.
//!
//! ```no_run
//! use latent_report::{line_plot_png, scatter_png};
//! use ndarray::array;
//! use std::path::Path;
//!
//! let points = array![[0.0f32, 1.0], [1.0, 0.5], [0.5, -1.0]];
//! let names = vec!["cat".to_string(), "dog".to_string()];
//! scatter_png(Path::new("codes.png"), points.view(), Some(&[0, 1, 1]), Some(&names),
//!             "codes", ("z₀", "z₁"))?;
//! line_plot_png(Path::new("loss.png"), &[("train", vec![(1.0, 3.0), (2.0, 2.0)])],
//!               "loss", ("epoch", "nats per example"), true)?;
//! # Ok::<(), latent_report::ReportError>(())
//! ```

mod canvas;
mod error;
mod font;
mod grid;
pub mod html;
mod image;
mod plot;
pub mod ticks;

pub use error::{ReportError, Result};
pub use grid::{GridLabels, MAX_ZOOM, MIN_CELL, check_zoom, default_zoom, image_grid};
pub use html::{Block, Report, Section};
pub use image::{RgbImage, caption, hstack, write_png};
pub use plot::{
    LINE_SIZE, SCATTER_SIZE, Series, TAB10, line_plot, line_plot_png, line_plot_scaled,
    scatter_plot, scatter_png,
};
pub use ticks::Scale;
