//! PCA on seeded synthetic data: subspace recovery, whitening, errors, persistence,
//! determinism.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{max_angle, planted};
use latent_core::{ArrayRows, Dataset, Error, Fit, ParamGuard, Reduction, RowSource};
use latent_pca::{Components, Pca, PcaParams, Precision, Solver};
use ndarray::{Array2, ArrayView2, Axis, s};

const VARIANCES: [f64; 5] = [10.0, 9.0, 8.0, 7.0, 6.0];

fn data() -> (Array2<f32>, Array2<f32>) {
    planted(2000, 50, &VARIANCES, 0.01, 42)
}

fn fit(params: PcaParams, x: ArrayView2<'_, f32>) -> Pca {
    params.check().unwrap().fit(&x).unwrap()
}

fn all_settings() -> Vec<(&'static str, PcaParams)> {
    let p = PcaParams::new(Components::Count(5));
    vec![
        ("exact f32", p.clone()),
        ("exact f64", p.clone().precision(Precision::F64)),
        (
            "randomized f32",
            p.clone().solver(Solver::Randomized).seed(3),
        ),
        (
            "randomized f64",
            p.clone()
                .solver(Solver::Randomized)
                .precision(Precision::F64),
        ),
        (
            "incremental",
            p.clone().solver(Solver::Incremental).batch_size(Some(300)),
        ),
    ]
}

#[test]
fn every_solver_recovers_the_planted_subspace() {
    let (x, basis) = data();
    for (name, params) in all_settings() {
        let pca = fit(params, x.view());
        let angle = max_angle(pca.components(), basis.view());
        eprintln!("{name}: largest principal angle to the planted subspace {angle:.2e}");
        assert!(angle < 1e-3, "{name}: largest principal angle {angle:.2e}");
        // Variances along the axes ≈ the planted ones (sampling error ~ sqrt(2/n)).
        for (ev, want) in pca.explained_variance().iter().zip(VARIANCES) {
            assert!(
                (f64::from(*ev) / want - 1.0).abs() < 0.1,
                "{name}: {ev} vs {want}"
            );
        }
        // The mean is found and the axes are orthonormal, largest entry positive.
        assert!(
            (pca.mean()[7] - 3.7).abs() < 0.3,
            "{name}: mean {}",
            pca.mean()[7]
        );
        let vvt = pca.components().dot(&pca.components().t());
        assert!(
            (&vvt - &Array2::<f32>::eye(5))
                .iter()
                .all(|v| v.abs() < 1e-5),
            "{name}: {vvt}"
        );
        for row in pca.components().outer_iter() {
            let max = row
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            assert!(max > 0.0, "{name}: sign rule");
        }
        // Reconstruction leaves only the noise (σ² = 1e-4 per feature).
        let err = &pca.reconstruct(x.view()).unwrap() - &x;
        let mse = err.mapv(|v| f64::from(v).powi(2)).mean().unwrap();
        assert!(mse < 2e-4, "{name}: reconstruction MSE {mse}");
        assert_eq!(
            (pca.method(), pca.input_dim(), pca.latent_dim()),
            ("pca", 50, 5)
        );
        assert_eq!(pca.n_samples(), 2000);
    }
}

#[test]
fn solvers_agree_on_the_spectrum_and_derived_quantities() {
    let (x, _) = data();
    let reference = fit(
        PcaParams::new(Components::Count(5)).precision(Precision::F64),
        x.view(),
    );
    let n1 = 1999.0f64;
    for (name, params) in all_settings() {
        let pca = fit(params, x.view());
        for j in 0..5 {
            let (ev, ev0) = (
                f64::from(pca.explained_variance()[j]),
                f64::from(reference.explained_variance()[j]),
            );
            assert!(
                (ev / ev0 - 1.0).abs() < 1e-5,
                "{name}: ev[{j}] {ev} vs {ev0}"
            );
            let sv = f64::from(pca.singular_values()[j]);
            assert!(
                (sv / (ev * n1).sqrt() - 1.0).abs() < 1e-6,
                "{name}: singular value"
            );
            let ratio = f64::from(pca.explained_variance_ratio()[j]);
            assert!(
                (ratio - ev / pca.total_variance()).abs() < 1e-6,
                "{name}: ratio"
            );
        }
        assert!(
            (pca.total_variance() / reference.total_variance() - 1.0).abs() < 1e-9,
            "{name}"
        );
        // Solvers agree far more closely than either matches the planted subspace.
        let angle = max_angle(pca.components(), reference.components());
        assert!(angle < 1e-4, "{name}: {angle:.2e} from the exact f64 axes");
        // 45 noise directions of variance 1e-4 (up to sampling).
        let noise = pca.noise_variance();
        assert!(
            (noise / 1e-4 - 1.0).abs() < 0.1,
            "{name}: noise variance {noise}"
        );
        // The randomized solver gets it as (total − Σ ev)/(d − k): a difference of numbers
        // 10⁴ times larger, so f32 arithmetic costs it about 1 %.
        let tol = if name == "randomized f32" { 2e-2 } else { 1e-3 };
        let rel = (noise / reference.noise_variance() - 1.0).abs();
        assert!(
            rel < tol,
            "{name}: noise {noise} vs {}",
            reference.noise_variance()
        );
    }
}

#[test]
fn whitened_codes_have_identity_covariance() {
    let (x, _) = data();
    for (name, params) in all_settings() {
        let pca = fit(params.whiten(true), x.view());
        assert!(pca.whiten());
        let z = pca.encode(x.view()).unwrap().mapv(f64::from);
        let mean = z.mean_axis(Axis(0)).unwrap();
        assert!(
            mean.iter().all(|m| m.abs() < 1e-4),
            "{name}: code mean {mean}"
        );
        let zc = &z - &mean;
        let cov = zc.t().dot(&zc) / 1999.0;
        let dev = (&cov - &Array2::<f64>::eye(5))
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            dev < 1e-3,
            "{name}: whitened covariance off identity by {dev}"
        );
        let err = &pca.reconstruct(x.view()).unwrap() - &x;
        let mse = err.mapv(|v| f64::from(v).powi(2)).mean().unwrap();
        assert!(mse < 2e-4, "{name}: whitened reconstruction MSE {mse}");
    }
}

#[test]
fn encode_of_decode_is_the_identity() {
    let (x, _) = data();
    for whiten in [false, true] {
        let pca = fit(
            PcaParams::new(Components::Count(5)).whiten(whiten),
            x.view(),
        );
        let z = Array2::from_shape_fn((7, 5), |(i, j)| (i as f32 - 3.0) * 0.7 + j as f32);
        let back = pca.encode(pca.decode(z.view()).unwrap().view()).unwrap();
        assert!(
            (&back - &z).iter().all(|v| v.abs() < 1e-4),
            "whiten {whiten}: {back}"
        );
    }
}

#[test]
fn fraction_picks_the_smallest_k_as_scikit_learn() {
    let (x, _) = data();
    let full = fit(
        PcaParams::new(Components::Count(50)).precision(Precision::F64),
        x.view(),
    );
    let ratios: Vec<f64> = full
        .explained_variance_ratio()
        .iter()
        .map(|&r| f64::from(r))
        .collect();
    let cum = |k: usize| ratios[..k].iter().sum::<f64>();
    for f in [0.05, 0.3, 0.5, 0.9, 0.99, 0.9999] {
        let want = (1..=50).find(|&k| cum(k) > f).unwrap();
        for solver in [Solver::Exact, Solver::Incremental] {
            let pca = fit(
                PcaParams::new(Components::Fraction(f)).solver(solver),
                x.view(),
            );
            assert_eq!(pca.latent_dim(), want, "{solver:?}: fraction {f}");
        }
    }
    // The planted 5 carry 40/(40 + 50·1e-4) of the variance.
    let pca = fit(PcaParams::new(Components::Fraction(0.999)), x.view());
    assert_eq!(pca.latent_dim(), 5);
}

#[test]
fn fewer_rows_than_features_uses_the_gram_route() {
    // n = 30 < d = 50: the n × n Gram matrix; compare with the covariance route in f64
    // (the incremental solver always uses the d × d scatter matrix).
    let (x, _) = planted(30, 50, &VARIANCES, 0.01, 9);
    for k in [5, 29, 30] {
        let gram = fit(
            PcaParams::new(Components::Count(k)).precision(Precision::F64),
            x.view(),
        );
        let cov = fit(
            PcaParams::new(Components::Count(k)).solver(Solver::Incremental),
            x.view(),
        );
        let vvt = gram.components().dot(&gram.components().t());
        assert!(
            (&vvt - &Array2::<f32>::eye(k))
                .iter()
                .all(|v| v.abs() < 1e-5),
            "k = {k}: VVᵀ"
        );
        let top = k.min(29); // the 30th direction has zero variance: any unit vector will do
        for j in 0..top {
            let (a, b) = (gram.explained_variance()[j], cov.explained_variance()[j]);
            assert!((a / b - 1.0).abs() < 1e-4, "k = {k}: ev[{j}] {a} vs {b}");
        }
        let a = gram.components().slice_move(s![..top.min(5), ..]);
        let b = cov.components().slice_move(s![..top.min(5), ..]);
        assert!(max_angle(a, b) < 1e-4, "k = {k}");
        if k >= 29 {
            let err = &gram.reconstruct(x.view()).unwrap() - &x;
            assert!(
                err.iter().all(|v| v.abs() < 1e-4),
                "k = {k}: rank-29 data is reconstructed"
            );
        }
        let f32_gram = fit(PcaParams::new(Components::Count(k)), x.view());
        assert!(
            max_angle(f32_gram.components().slice_move(s![..5, ..]), a) < 1e-3,
            "k = {k}: f32"
        );
    }
}

#[test]
fn data_dependent_errors_are_errors() {
    let (x, _) = planted(40, 6, &[3.0, 2.0], 0.1, 1);
    for solver in [Solver::Exact, Solver::Randomized, Solver::Incremental] {
        let p = PcaParams::new(Components::Count(7))
            .solver(solver)
            .check()
            .unwrap();
        let err = p.fit(&x.view()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParam { .. }),
            "{solver:?}: {err}"
        );
        assert!(err.to_string().contains("min(n, d) = 6"), "{err}");
        // too few rows
        let p = PcaParams::new(Components::Count(1))
            .solver(solver)
            .check()
            .unwrap();
        assert!(p.fit(&x.slice(s![..1, ..])).is_err(), "{solver:?}: one row");
        assert!(p.fit(&x.slice(s![..0, ..])).is_err(), "{solver:?}: no row");
        // non-finite values
        let mut bad = x.clone();
        bad[[17, 4]] = f32::NAN;
        let err = p.fit(&bad.view()).unwrap_err().to_string();
        assert!(err.contains("row 17, column 4"), "{solver:?}: {err}");
        let mut bad = x.mapv(f64::from);
        bad[[3, 2]] = f64::INFINITY;
        let err = p.fit(&bad.view()).unwrap_err().to_string();
        assert!(err.contains("row 3, column 2"), "{solver:?}: {err}");
    }
    // n < d: at most n components
    let (wide, _) = planted(4, 10, &[3.0], 0.1, 1);
    let p = PcaParams::new(Components::Count(5)).check().unwrap();
    assert!(
        p.fit(&wide.view())
            .unwrap_err()
            .to_string()
            .contains("min(n, d) = 4")
    );
}

#[test]
fn too_many_features_for_the_incremental_solver() {
    struct Wide;
    impl RowSource for Wide {
        fn dim(&self) -> usize {
            latent_pca::MAX_INCREMENTAL_DIM + 1
        }
        fn len_hint(&self) -> Option<usize> {
            None
        }
        fn next_batch(&mut self, _: usize) -> latent_core::Result<Option<Array2<f32>>> {
            panic!("must refuse before reading")
        }
    }
    let p = PcaParams::new(Components::Count(2))
        .solver(Solver::Incremental)
        .check()
        .unwrap();
    let err = p
        .fit_stream(&mut Wide, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("16384") && err.contains("GiB"), "{err}");
}

#[test]
fn save_and_load_through_parts_gives_identical_codes() {
    let (x, _) = data();
    for whiten in [false, true] {
        let pca = fit(
            PcaParams::new(Components::Count(5)).whiten(whiten),
            x.view(),
        );
        let loaded = Pca::from_parts(pca.to_parts()).unwrap();
        assert_eq!(loaded.to_parts(), pca.to_parts());
        let probe = x.slice(s![..100, ..]);
        assert_eq!(pca.encode(probe).unwrap(), loaded.encode(probe).unwrap());
        let z = pca.encode(probe).unwrap();
        assert_eq!(
            pca.decode(z.view()).unwrap(),
            loaded.decode(z.view()).unwrap()
        );
    }
    let mut parts = fit(PcaParams::new(Components::Count(5)), x.view()).to_parts();
    parts.components[[2, 3]] = f32::NAN;
    assert!(matches!(Pca::from_parts(parts), Err(Error::NonFinite(_))));
}

#[test]
fn randomized_is_deterministic_for_a_seed() {
    let (x, _) = data();
    let run = |seed| {
        let p = PcaParams::new(Components::Count(5))
            .solver(Solver::Randomized)
            .power_iters(Some(1))
            .oversamples(2);
        fit(p.seed(seed), x.view()).to_parts()
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b, "same seed, same result");
    assert_ne!(
        a.components, c.components,
        "another seed, another (nearly equal) result"
    );
    let diff = (&a.components - &c.components)
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(diff < 1e-2, "seeds differ only slightly: {diff}");
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    // more rows than one parallel block (1,024), so that the sums are split
    let (x, _) = planted(5000, 50, &VARIANCES, 0.01, 7);
    for solver in [Solver::Exact, Solver::Randomized] {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                fit(
                    PcaParams::new(Components::Count(5)).solver(solver),
                    x.view(),
                )
            })
            .to_parts()
        };
        assert_eq!(run(1), run(3), "{solver:?}");
    }
}

#[test]
fn streaming_reports_progress_and_ignores_batching() {
    let (x, _) = data();
    let reference = fit(
        PcaParams::new(Components::Count(5)).solver(Solver::Incremental),
        x.view(),
    );
    for batch in [1, 7, 2000, 5000] {
        let p = PcaParams::new(Components::Count(5))
            .solver(Solver::Incremental)
            .batch_size(Some(batch));
        let mut seen = Vec::new();
        let pca = p
            .check()
            .unwrap()
            .fit_stream(&mut ArrayRows::new(x.view()), &mut |n| seen.push(n))
            .unwrap();
        assert_eq!(seen.len(), 2000usize.div_ceil(batch));
        assert_eq!(seen.last(), Some(&2000));
        for (a, b) in pca
            .explained_variance()
            .iter()
            .zip(reference.explained_variance())
        {
            assert!((a / b - 1.0).abs() < 1e-6, "batch {batch}: {a} vs {b}");
        }
        assert!(max_angle(pca.components(), reference.components()) < 1e-5);
    }
    // a source whose batches have the wrong width
    struct Liar(bool);
    impl RowSource for Liar {
        fn dim(&self) -> usize {
            3
        }
        fn len_hint(&self) -> Option<usize> {
            None
        }
        fn next_batch(&mut self, _: usize) -> latent_core::Result<Option<Array2<f32>>> {
            let done = std::mem::replace(&mut self.0, true);
            Ok((!done).then(|| Array2::zeros((4, 2))))
        }
    }
    let p = PcaParams::new(Components::Count(1))
        .solver(Solver::Incremental)
        .check()
        .unwrap();
    assert!(matches!(
        p.fit_stream(&mut Liar(false), &mut |_| {}),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn f64_input_and_datasets_fit_like_f32_arrays() {
    let (x, basis) = data();
    let p = PcaParams::new(Components::Count(5))
        .precision(Precision::F64)
        .check()
        .unwrap();
    let from_f64 = p.fit(&x.mapv(f64::from).view()).unwrap();
    let from_dataset = p.fit(&Dataset::new("planted", x.clone()).unwrap()).unwrap();
    assert_eq!(
        from_dataset.to_parts(),
        p.fit(&x.view()).unwrap().to_parts()
    );
    assert!(max_angle(from_f64.components(), basis.view()) < 1e-3);
    let inc = PcaParams::new(Components::Count(5))
        .solver(Solver::Incremental)
        .check()
        .unwrap();
    let inc64 = inc.fit(&x.mapv(f64::from).view()).unwrap();
    for (a, b) in inc64
        .explained_variance()
        .iter()
        .zip(from_f64.explained_variance())
    {
        assert!((a / b - 1.0).abs() < 1e-6);
    }
}

#[test]
fn constant_data_has_zero_variance_and_finite_results() {
    let x = Array2::from_elem((10, 3), 2.5f32);
    for solver in [Solver::Exact, Solver::Randomized, Solver::Incremental] {
        let pca = fit(
            PcaParams::new(Components::Count(2))
                .solver(solver)
                .whiten(true),
            x.view(),
        );
        assert_eq!(pca.total_variance(), 0.0);
        assert!(pca.explained_variance().iter().all(|&v| v == 0.0));
        let z = pca.encode(x.view()).unwrap();
        assert!(z.iter().all(|&v| v == 0.0), "{solver:?}: {z}");
        assert_eq!(pca.reconstruct(x.view()).unwrap(), x);
    }
}

/// The exact solver accumulates the covariance over blocks of rows (several here); it agrees
/// with the incremental solver, whose f64 scatter matrix is computed independently.
#[test]
fn blocked_exact_covariance_equals_the_incremental_one() {
    let (x, _) = planted(20_000, 12, &[4.0, 2.0, 1.0], 0.05, 9);
    let p = PcaParams::new(Components::Count(3));
    let exact = fit(p.clone().precision(Precision::F64), x.view());
    let inc = fit(
        p.solver(Solver::Incremental).batch_size(Some(777)),
        x.view(),
    );
    for (a, b) in exact
        .explained_variance()
        .iter()
        .zip(inc.explained_variance())
    {
        assert!(
            (f64::from(*a) / f64::from(*b) - 1.0).abs() < 1e-5,
            "{a} vs {b}"
        );
    }
    let angle = max_angle(exact.components(), inc.components());
    assert!(angle < 1e-4, "largest principal angle {angle:.2e}");
}
