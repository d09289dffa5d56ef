//! Property tests on random small matrices: with `k = min(n, d)` PCA loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latent_core::{Fit, ParamGuard, Reduction};
use latent_pca::{Components, PcaParams, Precision, Solver};
use ndarray::Array2;
use proptest::prelude::*;

fn matrix() -> impl Strategy<Value = Array2<f32>> {
    (2usize..12, 1usize..10).prop_flat_map(|(n, d)| {
        proptest::collection::vec(-10.0f32..10.0, n * d)
            .prop_map(move |v| Array2::from_shape_vec((n, d), v).unwrap())
    })
}

fn settings() -> impl Strategy<Value = (Solver, Precision)> {
    (
        prop_oneof![
            Just(Solver::Exact),
            Just(Solver::Randomized),
            Just(Solver::Incremental)
        ],
        prop_oneof![Just(Precision::F32), Just(Precision::F64)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn full_rank_pca_is_lossless((x, (solver, precision), rows_dup) in (matrix(), settings(), any::<bool>())) {
        let mut x = x;
        if rows_dup && x.nrows() > 2 {
            // a repeated row makes the centered data rank-deficient
            let first = x.row(0).to_owned();
            x.row_mut(1).assign(&first);
        }
        let (n, d) = x.dim();
        let k = n.min(d);
        let pca = PcaParams::new(Components::Count(k))
            .solver(solver)
            .precision(precision)
            .check()
            .unwrap()
            .fit(&x.view())
            .unwrap();
        let scale = 1.0 + x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        // V Vᵀ = I
        let vvt = pca.components().dot(&pca.components().t());
        for ((i, j), v) in vvt.indexed_iter() {
            let want = if i == j { 1.0 } else { 0.0 };
            prop_assert!((v - want).abs() < 1e-4, "VVᵀ[{i},{j}] = {v}");
        }
        // decode ∘ encode reconstructs the data
        let err = (&pca.reconstruct(x.view()).unwrap() - &x).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        prop_assert!(err < 1e-4 * scale, "reconstruction error {err} (scale {scale})");
        // encode ∘ decode is the identity on codes
        let z = Array2::from_shape_fn((3, k), |(i, j)| (i as f32 - 1.0) * 2.5 + j as f32 * 0.5);
        let back = pca.encode(pca.decode(z.view()).unwrap().view()).unwrap();
        let err = (&back - &z).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        prop_assert!(err < 1e-4 * scale, "encode(decode(z)) off by {err}");
        // variances are non-negative, descending and sum to at most the total
        let ev = pca.explained_variance();
        prop_assert!(ev.iter().all(|&v| v >= 0.0));
        prop_assert!(ev.windows(2).into_iter().all(|w| w[0] >= w[1] * (1.0 - 1e-5) - 1e-5));
        let sum: f64 = ev.iter().map(|&v| f64::from(v)).sum();
        prop_assert!((sum - pca.total_variance()).abs() <= 1e-4 * (1.0 + pca.total_variance()), "{sum} vs {}", pca.total_variance());
    }
}
