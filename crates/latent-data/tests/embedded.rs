//! The datasets compiled into the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latent_core::{ImageShape, RowSource, ValueRange};
use latent_data::embedded::{self, FASHION_MNIST_CLASSES};

#[test]
fn fashion_mnist_10k_is_the_test_split() {
    let ds = embedded::fashion_mnist_10k().unwrap();
    assert_eq!(ds.name(), "fashion-mnist-10k");
    assert_eq!((ds.n(), ds.dim()), (10_000, 784));
    assert_eq!(ds.image_shape(), Some(ImageShape::gray(28, 28)));
    assert_eq!(
        ds.range(),
        Some(ValueRange {
            min: 0.0,
            max: 255.0
        })
    );
    let labels = ds.labels().unwrap();
    let mut counts = [0usize; 10];
    for &l in labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1000; 10]);
    // the first bytes of t10k-labels-idx1-ubyte after the header are 09 02 01 01 06
    assert_eq!(&labels[..5], &[9, 2, 1, 1, 6]);
    let names = ds.class_names().unwrap();
    assert_eq!(names[labels[0] as usize], "Ankle boot");
    assert_eq!(names.len(), FASHION_MNIST_CLASSES.len());
    // pixel (row 20, column 17) of the first image is its only 255; its pixels sum to 33456
    assert_eq!(ds.x()[[0, 20 * 28 + 17]], 255.0);
    assert_eq!(ds.x().row(0).iter().filter(|&&v| v == 255.0).count(), 1);
    assert_eq!(ds.x().row(0).sum(), 33456.0);
    assert!(
        ds.x()
            .iter()
            .all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0)
    );
}

#[test]
fn fashion_mnist_10k_stream_matches_the_load() {
    let ds = embedded::fashion_mnist_10k().unwrap();
    let mut s = embedded::fashion_mnist_10k_stream().unwrap();
    assert_eq!((s.dim(), s.len_hint()), (784, Some(10_000)));
    let mut start = 0;
    while let Some(b) = s.next_batch(3001).unwrap() {
        assert_eq!(b, ds.x().slice(ndarray::s![start..start + b.nrows(), ..]));
        start += b.nrows();
    }
    assert_eq!(start, 10_000);
}

#[test]
fn digits_is_8x8_in_0_to_16() {
    let ds = embedded::digits().unwrap();
    assert_eq!(ds.name(), "digits");
    assert_eq!((ds.n(), ds.dim()), (1797, 64));
    assert_eq!(ds.image_shape(), Some(ImageShape::gray(8, 8)));
    assert_eq!(
        ds.range(),
        Some(ValueRange {
            min: 0.0,
            max: 16.0
        })
    );
    let max = ds.x().iter().fold(0.0f32, |a, &b| a.max(b));
    let min = ds.x().iter().fold(16.0f32, |a, &b| a.min(b));
    assert_eq!((min, max), (0.0, 16.0));
    let labels = ds.labels().unwrap();
    assert_eq!(labels.len(), 1797);
    assert!(labels.iter().all(|&l| l < 10));
    assert_eq!(&labels[..3], &[0, 1, 2]);
    // the first row of digits.csv: 0,0,5,13,9,1,0,0,…,0 (label)
    assert_eq!(
        ds.x().row(0).iter().take(8).copied().collect::<Vec<_>>(),
        vec![0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(ds.class_names().unwrap()[7], "7");
}
