//! What the latent-nn suites share: the embedded digits, scaled as a fit scales them.
#![allow(dead_code, clippy::unwrap_used)]

use latent_core::Dataset;
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use ndarray::Array2;

/// The embedded 8×8 digits (1,797 rows), scaled to [0, 1] as `--scale auto` does.
pub fn digits_set() -> Dataset {
    let d = latent_data::embedded::digits().unwrap();
    let p = Preprocess::fit(&d, ScaleChoice::Auto, Binarize::None).unwrap();
    p.apply(d).unwrap()
}

/// [`digits_set`]'s rows.
pub fn digits() -> Array2<f32> {
    digits_set().into_x()
}
