//! latent-pca against scikit-learn on the UCI digits (pixels / 16). The reference values come
//! from `tests/reference/sklearn_pca.py` (`PCA(svd_solver='full')`), stored in
//! `tests/reference/digits_sklearn.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use latent_core::{Fit, ParamGuard};
use latent_pca::{Components, Pca, PcaParams, Precision, Solver};
use ndarray::ArrayView2;
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/digits_sklearn.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn fit(params: PcaParams, x: ArrayView2<'_, f64>) -> Pca {
    params.check().unwrap().fit(&x).unwrap()
}

fn assert_rel(name: &str, ours: impl IntoIterator<Item = f64>, theirs: &[f64], tol: f64) {
    let ours: Vec<f64> = ours.into_iter().collect();
    assert_eq!(ours.len(), theirs.len(), "{name}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= tol * b.abs(),
            "{name}[{i}]: {a} vs scikit-learn {b} (rel {:.2e})",
            (a - b).abs() / b.abs()
        );
    }
}

/// Compare every fitted attribute with scikit-learn's, to relative tolerance `tol`.
fn compare(what: &str, pca: &Pca, r: &Value, tol: f64) {
    let f = |a: ndarray::ArrayView1<'_, f32>| a.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    assert_rel(
        &format!("{what} explained variance"),
        f(pca.explained_variance()),
        &floats(&r["explained_variance"]),
        tol,
    );
    assert_rel(
        &format!("{what} ratio"),
        f(pca.explained_variance_ratio()),
        &floats(&r["explained_variance_ratio"]),
        tol,
    );
    assert_rel(
        &format!("{what} singular values"),
        f(pca.singular_values()),
        &floats(&r["singular_values"]),
        tol,
    );
    assert_rel(
        &format!("{what} noise variance"),
        [pca.noise_variance()],
        &[r["noise_variance"].as_f64().unwrap()],
        tol,
    );
    // The mean has exact zeros (pixels that are always blank): compare to the largest entry.
    let mean = floats(&r["mean"]);
    let scale = mean.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in pca.mean().iter().zip(&mean) {
        assert!(
            (f64::from(*a) - b).abs() <= tol * scale,
            "{what} mean: {a} vs {b}"
        );
    }
    // Components up to sign: entries within tol (in units of the unit-norm vector).
    let mut same_sign = 0;
    for (j, (ours, theirs)) in pca
        .components()
        .outer_iter()
        .zip(r["components"].as_array().unwrap())
        .enumerate()
    {
        let theirs = floats(theirs);
        let dot: f64 = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| f64::from(*a) * b)
            .sum();
        assert!(
            (dot.abs() - 1.0).abs() < tol,
            "{what} component {j}: |dot| = {}",
            dot.abs()
        );
        let s = dot.signum();
        same_sign += usize::from(s > 0.0);
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (s * f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 10.0 * tol,
            "{what} component {j}: entries differ by {worst:.2e}"
        );
    }
    // scikit-learn ≥ 1.5 makes the largest-magnitude entry of each axis positive, as we do.
    assert_eq!(
        same_sign,
        pca.components().nrows(),
        "{what}: signs differ from scikit-learn's"
    );
}

#[test]
fn matches_scikit_learn_on_digits() {
    let r = reference();
    let x = common::digits();
    assert_eq!(x.dim(), (r["n_samples"].as_u64().unwrap() as usize, 64));
    eprintln!(
        "reference: scikit-learn {}, numpy {}",
        r["sklearn_version"], r["numpy_version"]
    );
    let k = Components::Count(10);
    for (precision, tol) in [(Precision::F64, 1e-6), (Precision::F32, 1e-4)] {
        let pca = fit(PcaParams::new(k).precision(precision), x.view());
        compare(&format!("exact {precision:?}"), &pca, &r, tol);
    }
    let inc = fit(
        PcaParams::new(k)
            .solver(Solver::Incremental)
            .batch_size(Some(100)),
        x.view(),
    );
    compare("incremental", &inc, &r, 1e-6);
}

#[test]
fn matches_scikit_learn_with_fewer_rows_than_features() {
    let r = reference();
    let x = common::digits();
    let x = x.slice(ndarray::s![..40, ..]);
    let k = Components::Count(10);
    for (precision, tol) in [(Precision::F64, 1e-6), (Precision::F32, 1e-4)] {
        let pca = fit(PcaParams::new(k).precision(precision), x);
        compare(
            &format!("first 40 rows, exact {precision:?}"),
            &pca,
            &r["first_40_rows"],
            tol,
        );
    }
}

#[test]
fn fraction_chooses_the_same_k_as_scikit_learn() {
    let r = reference();
    let x = common::digits();
    for (f, want) in r["fraction_to_n_components"].as_object().unwrap() {
        let f: f64 = f.parse().unwrap();
        let want = want.as_u64().unwrap() as usize;
        for (solver, precision) in [
            (Solver::Exact, Precision::F64),
            (Solver::Exact, Precision::F32),
            (Solver::Incremental, Precision::F32),
        ] {
            let pca = fit(
                PcaParams::new(Components::Fraction(f))
                    .solver(solver)
                    .precision(precision),
                x.view(),
            );
            assert_eq!(
                latent_core::Reduction::latent_dim(&pca),
                want,
                "{solver:?} {precision:?}: fraction {f}"
            );
        }
    }
}
