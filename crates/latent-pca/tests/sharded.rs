//! Sharded fits (`PcaValidParams::fit_sharded`): the ranks of a job as threads exchanging
//! through `latent_core::LocalGroup`, each holding a contiguous share of the rows (uneven, or
//! none), against the one-process fit of the stacked rows — for every solver, on the digits
//! and on a wide-ish synthetic set; errors raised alike on every rank (the tests finish: no
//! rank waits for one that left).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{max_angle, planted};
use latent_core::{
    ArrayRows, Collective, Error, Fit, LocalGroup, ParamGuard, Reduction, RowSource, Single,
};
use latent_pca::{Components, Pca, PcaParams, PcaParts, Precision, Solver};
use ndarray::{Array2, ArrayView2, s};

/// Runs `f` on every rank of a group of `size` threads; the results in rank order.
fn on_ranks<R: Send>(size: usize, f: impl Fn(&LocalGroup) -> R + Sync) -> Vec<R> {
    std::thread::scope(|scope| {
        let f = &f;
        let jobs: Vec<_> = LocalGroup::new(size)
            .into_iter()
            .map(|g| scope.spawn(move || f(&g)))
            .collect();
        jobs.into_iter().map(|j| j.join().unwrap()).collect()
    })
}

/// Contiguous shares of `n` rows with the given sizes (the last takes the rest).
fn shares(n: usize, sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    let mut out = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let end = if i + 1 == sizes.len() {
            n
        } else {
            (start + len).min(n)
        };
        out.push(start..end);
        start = end;
    }
    out
}

/// The layouts every solver is tested on: two uneven ranks; three with the middle one empty;
/// three with rank 0 (which decomposes) empty.
fn layouts(n: usize) -> Vec<(&'static str, Vec<std::ops::Range<usize>>)> {
    vec![
        ("2 ranks, 1/3 + 2/3", shares(n, &[n / 3, 0])),
        ("3 ranks, middle empty", shares(n, &[n / 2 + 7, 0, 0])),
        ("3 ranks, rank 0 empty", shares(n, &[0, 2 * n / 5, 0])),
    ]
}

/// The model's contents as bits, in one list: equality means identical.
fn bits(p: &Pca) -> Vec<u64> {
    let PcaParts {
        mean,
        components,
        explained_variance,
        explained_variance_ratio,
        singular_values,
        total_variance,
        noise_variance,
        n_samples,
        whiten,
    } = p.to_parts();
    let mut out = vec![
        components.nrows() as u64,
        n_samples as u64,
        u64::from(whiten),
    ];
    for a in [
        mean.view(),
        explained_variance.view(),
        explained_variance_ratio.view(),
        singular_values.view(),
    ] {
        out.extend(a.iter().map(|v| u64::from(v.to_bits())));
    }
    out.extend(components.iter().map(|v| u64::from(v.to_bits())));
    out.extend([total_variance.to_bits(), noise_variance.to_bits()]);
    out
}

/// The largest differences between a sharded model and the one-process one: explained
/// variance (relative), principal angle, mean (relative to max(1, |μ|)), total and noise
/// variance (relative).
#[derive(Debug, Default, Clone, Copy)]
struct Gap {
    variance: f64,
    angle: f64,
    mean: f64,
    total: f64,
    noise: f64,
}

impl Gap {
    fn of(a: &Pca, b: &Pca) -> Gap {
        let rel = |x: f64, y: f64| {
            if x == y {
                0.0
            } else {
                (x - y).abs() / x.abs().max(y.abs())
            }
        };
        assert_eq!(a.components().dim(), b.components().dim());
        Gap {
            variance: a
                .explained_variance()
                .iter()
                .zip(b.explained_variance())
                .map(|(&x, &y)| rel(f64::from(x), f64::from(y)))
                .fold(0.0, f64::max),
            angle: max_angle(a.components(), b.components()),
            mean: a
                .mean()
                .iter()
                .zip(b.mean())
                .map(|(&x, &y)| f64::from((x - y).abs()) / f64::from(x.abs().max(1.0)))
                .fold(0.0, f64::max),
            total: rel(a.total_variance(), b.total_variance()),
            noise: rel(a.noise_variance(), b.noise_variance()),
        }
    }

    fn max(self, o: Gap) -> Gap {
        Gap {
            variance: self.variance.max(o.variance),
            angle: self.angle.max(o.angle),
            mean: self.mean.max(o.mean),
            total: self.total.max(o.total),
            noise: self.noise.max(o.noise),
        }
    }
}

/// Fits `params` on the shares of `x` in `layout` (one rank per share) and checks every rank
/// against the one-process fit; returns the largest gap.
fn check_layout(
    what: &str,
    params: &PcaParams,
    x: ArrayView2<'_, f32>,
    layout: &[std::ops::Range<usize>],
) -> Gap {
    let checked = params.clone().check().unwrap();
    let one = checked.fit(&x).unwrap();
    let models = on_ranks(layout.len(), |g| {
        let rows = x.slice(s![layout[g.rank()].clone(), ..]);
        checked.fit_sharded(rows, g).unwrap()
    });
    for (r, m) in models.iter().enumerate() {
        assert!(
            bits(m) == bits(&models[0]),
            "{what}: rank {r}'s model differs from rank 0's"
        );
    }
    let m = &models[0];
    assert_eq!(m.n_samples(), x.nrows(), "{what}");
    assert_eq!(m.latent_dim(), one.latent_dim(), "{what}: k");
    assert_eq!(m.whiten(), one.whiten(), "{what}");
    let gap = Gap::of(m, &one);
    // The randomized solver in f32 runs its products over the rows (X Ω, XᵀQ, QᵀX) in f32:
    // summed in another order (by rank), they round differently, and its explained variances
    // move by 1-2e-6 relative — as far as f32 arithmetic itself moves them from an f64 fit's
    // (1-4e-6). Each f32 fit lies about that far from the f64 one, so two of them may lie
    // twice as far apart: that is the bound here (when above 1e-6). Its axes and the other
    // solvers meet the tolerances below as they are.
    let variance_tol =
        if checked.solver() == Solver::Randomized && checked.precision() == Precision::F32 {
            let f64_fit = params.clone().precision(Precision::F64).check().unwrap();
            let floor = Gap::of(&one, &f64_fit.fit(&x).unwrap()).variance;
            eprintln!("{what}: {:.2e} apart, f32 vs f64 {floor:.2e}", gap.variance);
            (2.0 * floor).max(1e-6)
        } else {
            1e-6
        };
    assert!(
        gap.variance < variance_tol && gap.angle < 1e-4 && gap.mean < 1e-6 && gap.total < 1e-6,
        "{what}: {gap:?} (explained variance within {variance_tol:.1e})"
    );
    gap
}

/// Every setting on every layout of `x`; prints the largest gaps per setting.
fn check_all(data: &str, x: ArrayView2<'_, f32>, settings: &[(&str, PcaParams)]) {
    for (name, params) in settings {
        let mut worst = Gap::default();
        for (layout_name, layout) in layouts(x.nrows()) {
            let what = format!("{data}, {name}, {layout_name}");
            worst = worst.max(check_layout(&what, params, x, &layout));
        }
        eprintln!("{data}, {name}: largest gaps to one process {worst:?}");
    }
}

fn settings(k: usize) -> Vec<(&'static str, PcaParams)> {
    let p = PcaParams::new(Components::Count(k));
    vec![
        ("exact f32", p.clone()),
        ("exact f64", p.clone().precision(Precision::F64)),
        ("exact f32 fraction 0.8, whitened", {
            p.clone().components(Components::Fraction(0.8)).whiten(true)
        }),
        (
            "randomized f32",
            p.clone().solver(Solver::Randomized).seed(11),
        ),
        (
            "randomized f64",
            p.clone()
                .solver(Solver::Randomized)
                .seed(11)
                .precision(Precision::F64),
        ),
        (
            "incremental",
            p.clone().solver(Solver::Incremental).batch_size(Some(97)),
        ),
        (
            "incremental fraction 0.8",
            p.clone()
                .solver(Solver::Incremental)
                .components(Components::Fraction(0.8)),
        ),
    ]
}

fn digits() -> Array2<f32> {
    common::digits().mapv(|v| v as f32)
}

#[test]
fn digits_on_two_and_three_ranks_equal_one_process() {
    check_all("digits", digits().view(), &settings(10));
}

#[test]
fn a_wide_synthetic_set_on_two_and_three_ranks_equals_one_process() {
    // 500 × 120, eight planted directions over isotropic noise
    let variances = [50.0, 40.0, 30.0, 22.0, 16.0, 12.0, 9.0, 7.0];
    let (x, _) = planted(500, 120, &variances, 0.5, 5);
    check_all("planted 500 × 120", x.view(), &settings(8));
    // almost no noise: the variance left out is below 1 % of the total, so the f32 fits end
    // with the Rayleigh–Ritz step (each rank's projected covariance summed)
    let (x, _) = planted(500, 120, &variances, 0.02, 6);
    let refined = [
        ("exact f32", PcaParams::new(Components::Count(8))),
        (
            "randomized f32",
            PcaParams::new(Components::Count(8))
                .solver(Solver::Randomized)
                .seed(2),
        ),
    ];
    check_all("planted 500 × 120, σ = 0.02", x.view(), &refined);
}

#[test]
fn fewer_rows_than_features_gathers_them_on_rank_zero() {
    // n < d: the exact solver's Gram path (the rows gathered); the randomized and incremental
    // solvers as ever
    let (x, _) = planted(90, 120, &[9.0, 7.0, 5.0, 3.0], 0.3, 8);
    check_all("planted 90 × 120", x.view(), &settings(4));
}

#[test]
fn rank_deficient_data_falls_back_to_tsqr() {
    // rank 4 (no noise) with l = 3 + 10 random directions: Xc Ω is rank-deficient, so
    // CholeskyQR gives way to Householder QR (TSQR across the ranks)
    let (x, _) = planted(600, 40, &[10.0, 6.0, 3.0, 1.0], 0.0, 9);
    let p = PcaParams::new(Components::Count(3)).solver(Solver::Randomized);
    check_all(
        "rank 4, 600 × 40",
        x.view(),
        &[
            ("randomized f32", p.clone()),
            ("randomized f64", p.precision(Precision::F64)),
        ],
    );
}

#[test]
fn one_process_is_fit_bit_for_bit() {
    let x = digits();
    let (wide, _) = planted(90, 120, &[9.0, 7.0, 5.0], 0.3, 8);
    for (name, params) in settings(5) {
        let p = params.check().unwrap();
        for data in [x.view(), wide.view()] {
            let a = p.fit(&data).unwrap();
            let b = p.fit_sharded(data, &Single).unwrap();
            assert!(bits(&a) == bits(&b), "{name}");
        }
    }
    // and streaming: fit_stream_sharded with Single is fit_stream
    let p = PcaParams::new(Components::Count(5))
        .solver(Solver::Incremental)
        .check()
        .unwrap();
    let a = p
        .fit_stream(&mut ArrayRows::new(x.view()), &mut |_| {})
        .unwrap();
    let b = p
        .fit_stream_sharded(&mut ArrayRows::new(x.view()), &Single, &mut |_| {})
        .unwrap();
    assert!(bits(&a) == bits(&b));
}

/// 8-bit data (the digits' levels 0–16, and the same scaled by 1/255) fitted exactly on a
/// host with the integer kernel: the Gram matrix and the column sums are exact integers,
/// summed exactly over the ranks, so every layout gives the one-process model bit for bit.
#[test]
fn eight_bit_data_on_any_number_of_ranks_is_fit_bit_for_bit() {
    // the digits' levels (0..=16; `digits()` divides them by 16)
    let x = digits().mapv(|v| (v * 16.0).round());
    let scaled = x.mapv(|v| v / 255.0);
    // without the kernel (no AVX-512 VNNI) the f32 fits sum in floating point
    #[cfg(target_arch = "x86_64")]
    let integer = std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512bw");
    #[cfg(not(target_arch = "x86_64"))]
    let integer = false;
    for (data, solver, precision) in [x.view(), scaled.view()].into_iter().flat_map(|data| {
        [Solver::Exact, Solver::Randomized]
            .into_iter()
            .flat_map(move |s| [Precision::F32, Precision::F64].map(|p| (data, s, p)))
    }) {
        {
            let p = PcaParams::new(Components::Count(10))
                .solver(solver)
                .seed(3)
                .precision(precision)
                .check()
                .unwrap();
            let one = p.fit(&data).unwrap();
            if integer && solver == Solver::Randomized {
                // the randomized solver ran on the exact covariance: the exact fit's total
                // variance, to the bit, and its leading variances to the randomized range
                // finder's own error (measured 5.5e-6 with the default 4 power iterations)
                let exact = PcaParams::new(Components::Count(10))
                    .precision(precision)
                    .check()
                    .unwrap()
                    .fit(&data)
                    .unwrap();
                assert_eq!(one.total_variance(), exact.total_variance());
                let gap = Gap::of(&one, &exact);
                assert!(gap.variance < 1e-4, "{precision:?}: {gap:?}");
            }
            for (layout_name, layout) in layouts(data.nrows()) {
                let models = on_ranks(layout.len(), |g| {
                    p.fit_sharded(data.slice(s![layout[g.rank()].clone(), ..]), g)
                        .unwrap()
                });
                let exact = bits(&models[0]) == bits(&one);
                if integer {
                    assert!(
                        exact,
                        "{solver:?} {precision:?}, {layout_name}: not the same bits: {:?} {:?}",
                        Gap::of(&models[0], &one),
                        (
                            models[0].explained_variance().slice(s![..3]).to_vec(),
                            one.explained_variance().slice(s![..3]).to_vec(),
                            models[0].mean().slice(s![..5]).to_vec(),
                            one.mean().slice(s![..5]).to_vec()
                        )
                    );
                } else {
                    eprintln!(
                        "no integer kernel here: {solver:?} {precision:?}, {layout_name} bit for bit: {exact}"
                    );
                }
            }
        }
    }
}

#[test]
fn streamed_shares_equal_one_stream() {
    let x = digits();
    let p = PcaParams::new(Components::Count(6))
        .solver(Solver::Incremental)
        .batch_size(Some(250))
        .check()
        .unwrap();
    let one = p
        .fit_stream(&mut ArrayRows::new(x.view()), &mut |_| {})
        .unwrap();
    let n = x.nrows();
    let models = on_ranks(3, |g| {
        let rows = x.slice(s![g.share(n), ..]);
        let mut seen = 0;
        let m = p
            .fit_stream_sharded(&mut ArrayRows::new(rows), g, &mut |r| seen = r)
            .unwrap();
        assert_eq!(seen, rows.nrows(), "progress counts this rank's rows");
        m
    });
    for m in &models {
        assert!(bits(m) == bits(&models[0]));
    }
    let gap = Gap::of(&models[0], &one);
    assert!(gap.variance < 1e-6 && gap.angle < 1e-4, "{gap:?}");
}

/// The error each rank returns for the shares `layout` of `x`.
fn errors(
    params: &PcaParams,
    x: ArrayView2<'_, f32>,
    layout: &[std::ops::Range<usize>],
) -> Vec<Error> {
    let p = params.clone().check().unwrap();
    on_ranks(layout.len(), |g| {
        let rows = x.slice(s![layout[g.rank()].clone(), ..]);
        p.fit_sharded(rows, g).unwrap_err()
    })
}

fn all_solvers(k: usize) -> Vec<PcaParams> {
    let p = PcaParams::new(Components::Count(k));
    vec![
        p.clone(),
        p.clone().precision(Precision::F64),
        p.clone().solver(Solver::Randomized),
        p.solver(Solver::Incremental),
    ]
}

#[test]
fn more_components_than_rows_fail_on_every_rank() {
    let (x, _) = planted(5, 10, &[2.0, 1.0], 0.1, 3);
    for params in all_solvers(8) {
        let one = params.clone().check().unwrap().fit(&x.view()).unwrap_err();
        let errs = errors(&params, x.view(), &shares(5, &[2, 0, 0]));
        for e in &errs {
            assert!(matches!(e, Error::InvalidParam { .. }), "{e}");
            assert_eq!(e.to_string(), one.to_string());
        }
        eprintln!(
            "{:?}: {}",
            params.clone().check().unwrap().solver(),
            errs[0]
        );
    }
}

#[test]
fn no_rows_or_one_row_fail_on_every_rank() {
    let x = Array2::<f32>::zeros((1, 6));
    for params in all_solvers(1) {
        let none = errors(&params, x.view(), &shares(0, &[0, 0, 0]));
        assert!(
            none.iter().all(|e| matches!(e, Error::Empty(_))),
            "{none:?}"
        );
        let one = errors(&params, x.view(), &shares(1, &[0, 1, 0]));
        assert!(
            one.iter().all(|e| matches!(e, Error::Shape { .. })),
            "{one:?}"
        );
    }
}

#[test]
fn a_non_finite_value_on_one_rank_fails_every_rank_alike() {
    let mut x = digits();
    x[[1000, 17]] = f32::NAN;
    x[[1500, 3]] = f32::INFINITY;
    let layout = shares(x.nrows(), &[600, 0, 300]);
    for params in all_solvers(5) {
        let one = params.clone().check().unwrap().fit(&x.view()).unwrap_err();
        assert!(one.to_string().contains("row 1000, column 17"), "{one}");
        for e in errors(&params, x.view(), &layout) {
            assert!(matches!(e, Error::NonFinite(_)), "{e}");
            assert_eq!(e.to_string(), one.to_string());
        }
    }
    // fewer rows than features (the exact solver gathers the rows)
    let (mut wide, _) = planted(50, 80, &[3.0, 2.0], 0.1, 4);
    wide[[31, 70]] = f32::NEG_INFINITY;
    for params in all_solvers(3) {
        let one = params
            .clone()
            .check()
            .unwrap()
            .fit(&wide.view())
            .unwrap_err();
        for e in errors(&params, wide.view(), &shares(50, &[20, 20, 10])) {
            assert_eq!(e.to_string(), one.to_string());
        }
    }
}

#[test]
fn ranks_of_different_widths_fail_on_every_rank() {
    let x = digits();
    let p = PcaParams::new(Components::Count(3)).check().unwrap();
    let errs = on_ranks(2, |g| {
        let cols = if g.rank() == 0 { 64 } else { 63 };
        p.fit_sharded(x.slice(s![g.share(x.nrows()), ..cols]), g)
            .unwrap_err()
    });
    for e in &errs {
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        assert!(e.to_string().contains("rank 1"), "{e}");
    }
}

/// A source that fails after its first batch.
struct Failing(usize);

impl RowSource for Failing {
    fn dim(&self) -> usize {
        self.0
    }
    fn len_hint(&self) -> Option<usize> {
        None
    }
    fn next_batch(&mut self, _max_rows: usize) -> latent_core::Result<Option<Array2<f32>>> {
        Err(Error::Source("disk on fire".into()))
    }
}

#[test]
fn a_failed_read_on_one_rank_fails_every_rank() {
    let x = digits();
    let p = PcaParams::new(Components::Count(3))
        .solver(Solver::Incremental)
        .check()
        .unwrap();
    let errs = on_ranks(3, |g| {
        if g.rank() == 2 {
            p.fit_stream_sharded(&mut Failing(64), g, &mut |_| {})
        } else {
            let rows = x.slice(s![g.share(x.nrows()), ..]);
            p.fit_stream_sharded(&mut ArrayRows::new(rows), g, &mut |_| {})
        }
        .unwrap_err()
    });
    for e in &errs {
        assert_eq!(e.to_string(), "disk on fire");
    }
}
