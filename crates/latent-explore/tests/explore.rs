//! The exploration tools on PCA fitted to the embedded digits (K = 2 and K = 10).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use latent_core::{Fit, ParamGuard, Probabilistic, Reduction, seed};
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use latent_explore::{
    CodeGaussian, Interpolation, PriorSource, Projection, Sampler, interpolate, interpolate_codes,
    manifold_grid, project_2d, sample, traversal_codes, traverse,
};
use latent_pca::{Components, Pca, PcaParams};
use ndarray::{Array1, Array2, ArrayView2, Axis, array, s};

fn digits() -> Array2<f32> {
    let d = latent_data::embedded::digits().expect("embedded digits");
    let d = Preprocess::fit(&d, ScaleChoice::Auto, Binarize::None)
        .and_then(|p| p.apply(d))
        .expect("scaling");
    d.into_x()
}

fn pca(x: &Array2<f32>, k: usize) -> Pca {
    PcaParams::new(Components::Count(k))
        .check()
        .and_then(|p| p.fit(&x.view()))
        .expect("pca fit")
}

fn max_abs_diff(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn interpolation_endpoints_are_reconstructions() {
    let x = digits();
    for k in [2, 10] {
        let model = pca(&x, k);
        let pairs = [(0, 1), (5, 17), (17, 3)];
        for path in [Interpolation::Lerp, Interpolation::Slerp] {
            let strips = interpolate(&model, x.view(), &pairs, 7, path).unwrap();
            assert_eq!(strips.len(), pairs.len());
            for (strip, &(i, j)) in strips.iter().zip(&pairs) {
                assert_eq!(strip.dim(), (7, x.ncols()));
                // decode(encode(x)) of each endpoint, computed on its own (faer's products
                // are not bitwise independent of the batch size, hence the tolerance).
                for (row, r) in [(0, i), (6, j)] {
                    let alone = model.reconstruct(x.slice(s![r..=r, ..])).unwrap();
                    let d = max_abs_diff(strip.slice(s![row..=row, ..]), alone.view());
                    assert!(d < 1e-5, "k={k} {path:?} pair ({i},{j}) row {row}: {d}");
                }
            }
            // Bitwise: the strip's endpoints are the decodings of the exact codes, decoded in
            // the same batch shape.
            let codes = model.encode(x.select(Axis(0), &[0, 1]).view()).unwrap();
            let z = interpolate_codes(codes.row(0), codes.row(1), 7, path).unwrap();
            assert_eq!(z.row(0), codes.row(0));
            assert_eq!(z.row(6), codes.row(1));
            let decoded = model.decode(z.view()).unwrap();
            assert_eq!(decoded, strips[0], "k={k} {path:?}");
        }
    }
}

#[test]
fn lerp_midpoint_is_the_average() {
    let a = array![1.0f32, -2.0, 3.5, 0.25];
    let b = array![-3.0f32, 4.0, 0.5, 8.0];
    let z = interpolate_codes(a.view(), b.view(), 5, Interpolation::Lerp).unwrap();
    assert_eq!(z.row(0), a);
    assert_eq!(z.row(4), b);
    let mid = (&a + &b) / 2.0;
    assert_eq!(z.row(2), mid);
    // Equally spaced.
    for i in 0..4 {
        let step = &z.row(i + 1) - &z.row(i);
        let want = (&b - &a) / 4.0;
        assert!(
            step.iter()
                .zip(want.iter())
                .all(|(s, w)| (s - w).abs() < 1e-6)
        );
    }
}

#[test]
fn slerp_keeps_the_norm_of_equal_norm_endpoints() {
    let mut rng = seed::rng(11);
    let ab = latent_core::standard_normal(2, 16, &mut rng);
    let norm = |v: ndarray::ArrayView1<'_, f32>| v.dot(&v).sqrt();
    let a = ab.row(0).to_owned();
    let b = &ab.row(1) * (norm(a.view()) / norm(ab.row(1)));
    let z = interpolate_codes(a.view(), b.view(), 9, Interpolation::Slerp).unwrap();
    assert_eq!(z.row(0), a);
    assert_eq!(z.row(8), b);
    let na = norm(a.view());
    for row in z.outer_iter() {
        assert!((norm(row) - na).abs() < 1e-4 * na, "{} vs {na}", norm(row));
    }
    // Unlike lerp, whose midpoint is shorter.
    let l = interpolate_codes(a.view(), b.view(), 9, Interpolation::Lerp).unwrap();
    assert!(norm(l.row(4)) < 0.9 * na);
    // Parallel codes fall back to lerp without NaN.
    let c = &a * 2.0;
    let z = interpolate_codes(a.view(), c.view(), 3, Interpolation::Slerp).unwrap();
    assert!(z.iter().all(|v| v.is_finite()));
    let mid = (&a + &c) / 2.0;
    assert!(max_abs_diff(z.slice(s![1..2, ..]), mid.insert_axis(Axis(0)).view()) < 1e-5);
}

#[test]
fn interpolation_rejects_bad_arguments() {
    let x = digits();
    let model = pca(&x, 2);
    let err = interpolate(&model, x.view(), &[(0, 99_999)], 5, Interpolation::Lerp).unwrap_err();
    assert!(err.to_string().contains("99999"), "{err}");
    assert!(interpolate(&model, x.view(), &[], 5, Interpolation::Lerp).is_err());
    assert!(interpolate(&model, x.view(), &[(0, 1)], 1, Interpolation::Lerp).is_err());
    let a = array![1.0f32, 2.0];
    let b = array![1.0f32, 2.0, 3.0];
    assert!(interpolate_codes(a.view(), b.view(), 3, Interpolation::Slerp).is_err());
}

#[test]
fn traversal_varies_only_the_chosen_dimension() {
    let x = digits();
    let model = pca(&x, 10);
    let base = model
        .encode(x.slice(s![3..4, ..]))
        .unwrap()
        .row(0)
        .to_owned();
    let dims = [0, 4, 9];
    let strips = traverse(&model, Some(base.view()), &dims, 2.5, 6).unwrap();
    assert_eq!(strips.len(), 3);
    for (strip, &d) in strips.iter().zip(&dims) {
        assert_eq!(strip.dim(), (6, 64));
        // PCA's decode → encode is the identity on codes: read the traversal back.
        let z = model.encode(strip.view()).unwrap();
        for (step, row) in z.outer_iter().enumerate() {
            let want = -2.5 + 5.0 * step as f32 / 5.0;
            for c in 0..10 {
                let expected = if c == d { want } else { base[c] };
                assert!(
                    (row[c] - expected).abs() < 1e-4,
                    "dim {d} step {step} coord {c}: {} vs {expected}",
                    row[c]
                );
            }
        }
    }
    // The default base is the origin.
    let z = traversal_codes(10, None, &[2], 1.0, 3).unwrap();
    assert_eq!(z[0].column(2).to_vec(), vec![-1.0, 0.0, 1.0]);
    assert_eq!(z[0].sum(), 0.0);
    // A dimension that does not exist, a base of the wrong length.
    let err = traverse(&model, None, &[10], 1.0, 3).unwrap_err();
    assert!(err.to_string().contains("dimension 10"), "{err}");
    assert!(traverse(&model, Some(Array1::zeros(3).view()), &[0], 1.0, 3).is_err());
}

#[test]
fn code_gaussian_samples_match_the_fit() {
    let x = digits();
    let model = pca(&x, 3);
    let codes = model.encode(x.view()).unwrap();
    let g = CodeGaussian::fit(codes.view()).unwrap();
    assert_eq!(g.jitter(), 0.0);
    // The fit is the sample mean and covariance of the codes (PCA codes: centered, diagonal).
    let cov = g.covariance();
    let ev = model.explained_variance();
    for i in 0..3 {
        assert!(g.mean()[i].abs() < 1e-4, "{}", g.mean()[i]);
        assert!(
            (cov[[i, i]] - ev[i]).abs() < 1e-3 * ev[i],
            "{} vs {}",
            cov[[i, i]],
            ev[i]
        );
    }
    // Draws have that mean and covariance.
    let n = 20_000;
    let z = g.sample(n, 1.0, &mut seed::rng(5));
    let mean = z.mean_axis(Axis(0)).unwrap();
    let centered = &z - &mean;
    let emp = centered.t().dot(&centered) / (n - 1) as f32;
    let scale = cov.diag().iter().copied().fold(0.0, f32::max).sqrt();
    for i in 0..3 {
        assert!(
            (mean[i] - g.mean()[i]).abs() < 0.05 * scale,
            "mean {i}: {} vs {}",
            mean[i],
            g.mean()[i]
        );
        for j in 0..3 {
            let tol = 0.05 * (cov[[i, i]] * cov[[j, j]]).sqrt();
            assert!(
                (emp[[i, j]] - cov[[i, j]]).abs() < tol,
                "cov [{i},{j}]: {} vs {}",
                emp[[i, j]],
                cov[[i, j]]
            );
        }
    }
    // A correlated, shifted Gaussian is recovered too.
    let base = latent_core::standard_normal(20_000, 2, &mut seed::rng(8));
    let mixed = base.dot(&array![[2.0f32, 0.0], [1.2, 0.5]].t()) + &array![3.0f32, -1.0];
    let g = CodeGaussian::fit(mixed.view()).unwrap();
    let c = g.covariance(); // [[4, 2.4], [2.4, 1.69]]
    assert!(
        (c[[0, 1]] - 2.4).abs() < 0.1 && (c[[1, 1]] - 1.69).abs() < 0.06,
        "{c}"
    );
    let draws = g.sample(20_000, 0.5, &mut seed::rng(9));
    let m = draws.mean_axis(Axis(0)).unwrap();
    let d = &draws - &m;
    let emp = d.t().dot(&d) / 19_999.0;
    assert!(
        (m[0] - 3.0).abs() < 0.05 && (m[1] + 1.0).abs() < 0.05,
        "{m}"
    );
    // Temperature 0.5 quarters the covariance.
    assert!((emp[[0, 1]] - 0.6).abs() < 0.05, "{emp}");
    assert!((emp[[0, 0]] - 1.0).abs() < 0.05, "{emp}");
}

#[test]
fn temperature_zero_gives_the_mean() {
    let x = digits();
    let model = pca(&x, 10);
    let codes = model.encode(x.view()).unwrap();
    let g = CodeGaussian::fit(codes.view()).unwrap();
    let s = sample(
        Sampler::FittedToCodes {
            model: &model,
            gaussian: &g,
        },
        4,
        0.0,
        &mut seed::rng(1),
    )
    .unwrap();
    assert_eq!(s.source, PriorSource::FittedToCodes);
    assert_eq!(s.codes.dim(), (4, 10));
    assert_eq!(s.decoded.dim(), (4, 64));
    for row in s.codes.outer_iter() {
        assert_eq!(row, g.mean());
    }
    // T = 1 draws differ from each other; bad temperatures are refused.
    let s = sample(
        Sampler::FittedToCodes {
            model: &model,
            gaussian: &g,
        },
        2,
        1.0,
        &mut seed::rng(1),
    )
    .unwrap();
    assert_ne!(s.codes.row(0), s.codes.row(1));
    for t in [-1.0, f32::NAN] {
        let sampler = Sampler::FittedToCodes {
            model: &model,
            gaussian: &g,
        };
        let err = sample(sampler, 2, t, &mut seed::rng(1)).unwrap_err();
        assert!(err.to_string().contains("temperature"), "{err}");
    }
    // A Gaussian of the wrong dimension.
    let small = CodeGaussian::fit(codes.slice(s![.., ..3])).unwrap();
    let sampler = Sampler::FittedToCodes {
        model: &model,
        gaussian: &small,
    };
    assert!(sample(sampler, 2, 1.0, &mut seed::rng(1)).is_err());
}

/// PCA with an `N(0, I)` prior on its whitened codes, to exercise [`Sampler::ModelPrior`].
struct WhitePca(Pca);

impl Reduction for WhitePca {
    fn method(&self) -> &str {
        "white-pca"
    }
    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }
    fn latent_dim(&self) -> usize {
        self.0.latent_dim()
    }
    fn encode(&self, x: ArrayView2<'_, f32>) -> latent_core::Result<Array2<f32>> {
        self.0.encode(x)
    }
    fn decode(&self, z: ArrayView2<'_, f32>) -> latent_core::Result<Array2<f32>> {
        self.0.decode(z)
    }
}

impl Probabilistic for WhitePca {
    fn encode_distribution(
        &self,
        x: ArrayView2<'_, f32>,
    ) -> latent_core::Result<latent_core::Posterior> {
        let mean = self.0.encode(x)?;
        let log_var = Array2::from_elem(mean.dim(), -10.0);
        Ok(latent_core::Posterior::Diagonal { mean, log_var })
    }
}

#[test]
fn model_prior_samples_are_scaled_by_the_temperature() {
    let x = digits();
    let model = WhitePca(
        PcaParams::new(Components::Count(4))
            .whiten(true)
            .check()
            .and_then(|p| p.fit(&x.view()))
            .unwrap(),
    );
    let cold = sample(Sampler::ModelPrior(&model), 3, 0.5, &mut seed::rng(2)).unwrap();
    let warm = sample(Sampler::ModelPrior(&model), 3, 1.0, &mut seed::rng(2)).unwrap();
    assert_eq!(cold.source, PriorSource::ModelPrior);
    assert_eq!(cold.source.to_string(), "the model's prior p(z)");
    assert_eq!(cold.codes, &warm.codes * 0.5);
    assert_eq!(warm.decoded, model.decode(warm.codes.view()).unwrap());
}

#[test]
fn manifold_grid_shape_and_latent_dim_check() {
    let x = digits();
    let model = pca(&x, 2);
    let grid = manifold_grid(&model, 7, 0.05, None).unwrap();
    assert_eq!(grid.dim(), (49, 64));
    // With the fitted marginals, the grid covers where the codes are.
    let codes = model.encode(x.view()).unwrap();
    let g = CodeGaussian::fit(codes.view()).unwrap();
    let grid = manifold_grid(&model, 5, 0.05, Some(&g)).unwrap();
    let z = model.encode(grid.view()).unwrap();
    let sd0 = g.covariance()[[0, 0]].sqrt();
    let q = latent_explore::normal_quantile(0.05) as f32;
    assert!(
        (z[[0, 0]] - q * sd0).abs() < 1e-3 * sd0,
        "{} vs {}",
        z[[0, 0]],
        q * sd0
    );
    // z₁ decreases down the grid: the top row has the largest z₁.
    assert!(z[[0, 1]] > z[[20, 1]]);
    for k in [1, 3, 10] {
        let err = manifold_grid(&pca(&x, k), 5, 0.05, None).unwrap_err();
        assert!(err.to_string().contains("2-D latent space"), "{err}");
    }
    assert!(manifold_grid(&model, 5, 0.5, None).is_err());
    assert!(manifold_grid(&model, 0, 0.05, None).is_err());
}

#[test]
fn projections_by_latent_dim() {
    let x = digits();
    // K = 2: the codes themselves.
    let codes = pca(&x, 2).encode(x.view()).unwrap();
    let (p, how) = project_2d(codes.view()).unwrap();
    assert_eq!(how, Projection::Identity);
    assert_eq!(p, codes);
    // K = 10: the codes' own principal axes are PCA's first two axes (up to sign).
    let codes10 = pca(&x, 10).encode(x.view()).unwrap();
    let (p, how) = project_2d(codes10.view()).unwrap();
    let Projection::PrincipalAxes {
        latent_dim,
        explained,
    } = how
    else {
        panic!("{how:?}")
    };
    assert_eq!(latent_dim, 10);
    assert!(explained[0] > explained[1] && explained[0] < 1.0);
    assert!(how.to_string().contains("2 principal axes"), "{how}");
    for c in 0..2 {
        let d = p
            .column(c)
            .iter()
            .zip(codes.column(c))
            .map(|(a, b)| (a.abs() - b.abs()).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-3, "axis {c}: {d}");
    }
    // K = 1: code against jitter in [−1, 1], reproducible.
    let codes1 = pca(&x, 1).encode(x.view()).unwrap();
    let (p, how) = project_2d(codes1.view()).unwrap();
    assert_eq!(how, Projection::Jitter);
    assert_eq!(p.column(0), codes1.column(0));
    assert!(p.column(1).iter().all(|v| (-1.0..=1.0).contains(v)));
    assert_eq!(p, project_2d(codes1.view()).unwrap().0);
    assert!(project_2d(Array2::<f32>::zeros((0, 3)).view()).is_err());
}
