//! Shared helpers of the integration tests: the embedded datasets read straight from their
//! files (so these tests do not depend on latent-data), and seeded synthetic data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::PathBuf;

use flate2::read::GzDecoder;
use ndarray::{Array2, Axis};
use rand_distr::{Distribution, StandardNormal};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../latent-data/data")
}

fn gunzip(path: PathBuf) -> Vec<u8> {
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    GzDecoder::new(file).read_to_end(&mut out).unwrap();
    out
}

/// Fashion-MNIST's 10,000 test images, 10000 × 784, pixels / 255.
pub fn fashion_mnist_10k() -> Array2<f32> {
    let bytes = gunzip(data_dir().join("fashion-mnist-10k/t10k-images-idx3-ubyte.gz"));
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    assert_eq!(be(0), 0x0803, "IDX magic");
    let (n, h, w) = (be(4), be(8), be(12));
    assert_eq!(bytes.len(), 16 + n * h * w);
    Array2::from_shape_vec(
        (n, h * w),
        bytes[16..].iter().map(|&b| f32::from(b) / 255.0).collect(),
    )
    .unwrap()
}

/// The UCI digits as shipped in scikit-learn: 1797 × 64, pixels / 16 (labels dropped).
pub fn digits() -> Array2<f64> {
    let text = String::from_utf8(gunzip(data_dir().join("digits/digits.csv.gz"))).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .take(64)
                .map(|v| v.trim().parse::<f64>().unwrap() / 16.0)
                .collect()
        })
        .collect();
    let n = rows.len();
    Array2::from_shape_vec((n, 64), rows.into_iter().flatten().collect()).unwrap()
}

/// Data with a planted `k`-dimensional subspace: `x = μ + z Bᵀ + ε`, `B` a random
/// orthonormal `d × k` basis (returned as `k × d` rows), `z_j ~ N(0, variances[j])`,
/// `ε ~ N(0, σ² I)`, `μ_j = 3 + j / 10`.
pub fn planted(
    n: usize,
    d: usize,
    variances: &[f64],
    sigma: f64,
    seed: u64,
) -> (Array2<f32>, Array2<f32>) {
    let k = variances.len();
    let mut rng = latent_core::seed::rng(seed);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    // Gram–Schmidt on Gaussian vectors.
    let mut basis = Array2::<f64>::zeros((k, d));
    for j in 0..k {
        let mut v: Vec<f64> = (0..d).map(|_| normal()).collect();
        for _ in 0..2 {
            for p in 0..j {
                let dot: f64 = v.iter().zip(basis.row(p)).map(|(a, b)| a * b).sum();
                v.iter_mut()
                    .zip(basis.row(p))
                    .for_each(|(a, b)| *a -= dot * b);
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        basis
            .row_mut(j)
            .iter_mut()
            .zip(&v)
            .for_each(|(b, a)| *b = a / norm);
    }
    let mut x = Array2::<f64>::zeros((n, d));
    for mut row in x.axis_iter_mut(Axis(0)) {
        let z: Vec<f64> = variances.iter().map(|v| v.sqrt() * normal()).collect();
        for (c, x) in row.iter_mut().enumerate() {
            let signal: f64 = z.iter().enumerate().map(|(j, zj)| zj * basis[[j, c]]).sum();
            *x = 3.0 + c as f64 / 10.0 + signal + sigma * normal();
        }
    }
    (x.mapv(|v| v as f32), basis.mapv(|v| v as f32))
}

/// The largest principal angle between two row spaces.
pub fn max_angle(a: ndarray::ArrayView2<'_, f32>, b: ndarray::ArrayView2<'_, f32>) -> f64 {
    latent_pca::principal_angles(a, b)
        .unwrap()
        .into_iter()
        .fold(0.0, f64::max)
}
