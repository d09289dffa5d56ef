//! The datasets compiled into the binary, so they work with no download:
//!
//! - `fashion-mnist-10k`: the 10,000 test images of Fashion-MNIST (28×28 gray, 10 classes);
//! - `digits`: the UCI optical digits as shipped with scikit-learn (1,797 images, 8×8 gray,
//!   values 0..16, 10 classes).
//!
//! See `data/README.md` in this crate for their origin and licences.

use std::path::Path;

use latent_core::{Dataset, ImageShape, ValueRange};

use crate::Result;
use crate::csv::{CsvOptions, Header, LabelColumn};
use crate::idx::{self, IdxRowSource};
use crate::util::{core_err, format_err, gunzip_bytes};

/// Name of the embedded Fashion-MNIST test split.
pub const FASHION_MNIST_10K: &str = "fashion-mnist-10k";
/// Name of the embedded UCI digits.
pub const DIGITS: &str = "digits";

/// The Fashion-MNIST class names, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

const FASHION_IMAGES_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-10k/t10k-images-idx3-ubyte.gz");
const FASHION_LABELS_GZ: &[u8] =
    include_bytes!("../data/fashion-mnist-10k/t10k-labels-idx1-ubyte.gz");
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits/digits.csv.gz");

/// [`FASHION_MNIST_CLASSES`] as owned strings.
pub fn fashion_mnist_class_names() -> Vec<String> {
    FASHION_MNIST_CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The embedded Fashion-MNIST test split: 10,000 × 784 pixel values `0..=255`, 28×28 gray
/// images, labels 0..9 (1,000 each) with [`FASHION_MNIST_CLASSES`] as class names. Named
/// `fashion-mnist-10k`.
///
/// # Errors
/// Only if the embedded copy were corrupt (a [`crate::DataError::Format`]).
pub fn fashion_mnist_10k() -> Result<Dataset> {
    idx::load_bytes(
        FASHION_MNIST_10K,
        FASHION_IMAGES_GZ,
        Some(FASHION_LABELS_GZ),
    )?
    .with_class_names(fashion_mnist_class_names())
    .map_err(|e| core_err(Path::new(FASHION_MNIST_10K), e))
}

/// The embedded Fashion-MNIST test images as a stream (no labels).
///
/// # Errors
/// As [`fashion_mnist_10k`].
pub fn fashion_mnist_10k_stream() -> Result<IdxRowSource> {
    IdxRowSource::from_bytes(FASHION_MNIST_10K, FASHION_IMAGES_GZ)
}

/// The embedded UCI digits: 1,797 × 64 values `0..=16`, 8×8 gray images, range `0..16`,
/// labels 0..9 with class names `"0"`…`"9"`. Named `digits`.
///
/// # Errors
/// Only if the embedded copy were corrupt.
pub fn digits() -> Result<Dataset> {
    let name = Path::new(DIGITS);
    let bytes = gunzip_bytes(name, DIGITS_CSV_GZ, 1 << 24)?;
    let text = String::from_utf8(bytes).map_err(|_| format_err(name, "not UTF-8 text"))?;
    let opts = CsvOptions {
        header: Header::Absent,
        label: Some(LabelColumn::Last),
    };
    crate::csv::parse(name, &text, &opts)?
        .with_image_shape(ImageShape::gray(8, 8))
        .and_then(|d| d.with_class_names((0..10).map(|d| d.to_string()).collect()))
        .map(|d| {
            d.with_range(Some(ValueRange {
                min: 0.0,
                max: 16.0,
            }))
        })
        .map_err(|e| core_err(name, e))
}
