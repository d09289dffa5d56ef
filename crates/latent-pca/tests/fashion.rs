//! Fashion-MNIST-10k (10000 × 784, pixels / 255) at k = 50: the exact, randomized and
//! incremental solvers agree, in the default f32 precision.
//!
//! Measured (max relative deviation of the 50 explained variances from an exact f64 fit):
//! exact f32 7.7e-6; incremental (f64 accumulator) < 6e-8 (equal after rounding to f32);
//! randomized f32 with (power iterations, oversamples) = (4, 10): 3.0e-2, (7, 10): 5.1e-3,
//! (8, 20): 4.1e-4, (10, 20): 7.2e-5, (12, 20): 1.1e-5, (10, 30): 1.3e-5, (7, 40): 2.1e-5.
//! The spectrum decays slowly around the 50th component, so the default (7 iterations,
//! 10 oversamples) is not enough for 1e-4; (10, 30) is used here for a margin. On a host with
//! the 8-bit integer kernel the randomized solver runs on the exact covariance instead of the
//! rows, in f64: (10, 30) then gives 2.6e-6.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use latent_core::{Fit, ParamGuard, Reduction};
use latent_pca::{Components, Pca, PcaParams, Solver};
use ndarray::{ArrayView2, s};

fn timed(name: &str, params: PcaParams, x: ArrayView2<'_, f32>) -> Pca {
    let t = Instant::now();
    let pca = params.check().unwrap().fit(&x).unwrap();
    eprintln!(
        "fashion-mnist-10k, k = 50, {name}: fit in {:.3} s",
        t.elapsed().as_secs_f64()
    );
    pca
}

fn max_rel(a: &Pca, b: &Pca) -> f64 {
    a.explained_variance()
        .iter()
        .zip(b.explained_variance())
        .map(|(x, y)| (f64::from(*x) / f64::from(*y) - 1.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn solvers_agree_on_fashion_mnist() {
    let x = common::fashion_mnist_10k();
    assert_eq!(x.dim(), (10_000, 784));
    let k = Components::Count(50);
    let exact = timed("exact (f32)", PcaParams::new(k), x.view());
    let randomized = timed(
        "randomized (f32, 10 power iterations, 30 oversamples)",
        PcaParams::new(k)
            .solver(Solver::Randomized)
            .power_iters(Some(10))
            .oversamples(30),
        x.view(),
    );
    let incremental = timed(
        "incremental (f64 accumulator)",
        PcaParams::new(k).solver(Solver::Incremental),
        x.view(),
    );

    for (name, a, b) in [
        ("exact vs incremental", &exact, &incremental),
        ("randomized vs exact", &randomized, &exact),
        ("randomized vs incremental", &randomized, &incremental),
    ] {
        let rel = max_rel(a, b);
        eprintln!("{name}: explained variance within {rel:.2e} (relative)");
        assert!(rel < 1e-4, "{name}: {rel:.2e}");
        // The exact and randomized solvers fit these 8-bit images as the levels q/255 they
        // stand for, from their covariance in integers (exact); the incremental one fits the
        // f32 values nearest them, each off by at most 2⁻²⁴ relative, which moves a variance
        // by at most 2⁻²³. Between two fits of the same values, f64 accumulation leaves 1e-9.
        let bound = if name.contains("incremental") {
            2f64.powi(-23)
        } else {
            1e-9
        };
        let total = (a.total_variance() / b.total_variance() - 1.0).abs();
        assert!(total < bound, "{name}: total variance {total:.2e}");
        // The leading axes are well separated and agree closely.
        let angle = common::max_angle(
            a.components().slice(s![..10, ..]),
            b.components().slice(s![..10, ..]),
        );
        assert!(angle < 1e-2, "{name}: top-10 subspaces {angle:.2e} apart");
    }
    // Sanity: the ten leading components explain most of the variance of Fashion-MNIST, and
    // the codes reconstruct the images far better than the mean image alone.
    let top10: f32 = exact.explained_variance_ratio().slice(s![..10]).sum();
    assert!(top10 > 0.6 && top10 < 0.9, "{top10}");
    let probe = x.slice(s![..500, ..]);
    let err = (&exact.reconstruct(probe).unwrap() - &probe)
        .mapv(|v| v * v)
        .sum();
    let base = (&probe - &exact.mean()).mapv(|v| v * v).sum();
    assert!(err < 0.2 * base, "reconstruction {err} vs mean-only {base}");
}
