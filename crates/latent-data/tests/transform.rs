//! Scaling and binarization.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latent_core::{Dataset, ValueRange, seed};
use latent_data::DataError;
use latent_data::embedded;
use latent_data::transform::{Binarize, Preprocess, ScaleChoice, Scaling, dynamic_binarize};
use ndarray::{Array2, Axis, s};

fn digits() -> Dataset {
    embedded::digits().unwrap()
}

#[test]
fn unit_scaling_of_bytes_gives_unit_interval() {
    let ds = embedded::fashion_mnist_10k().unwrap().head(500).unwrap();
    let pre = Preprocess::fit(&ds, ScaleChoice::Auto, Binarize::None).unwrap();
    assert_eq!(
        pre.scaling,
        Scaling::Unit {
            min: 0.0,
            max: 255.0
        }
    );
    let out = pre.apply(ds.clone()).unwrap();
    assert_eq!(out.range(), Some(ValueRange::UNIT));
    assert_eq!(pre.output_range(), Some(ValueRange::UNIT));
    assert!(out.x().iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(out.x()[[0, 20 * 28 + 17]], 1.0);
    assert_eq!(out.labels(), ds.labels());
    assert_eq!(out.image_shape(), ds.image_shape());
    let back = pre.invert(out.x());
    assert!(back.iter().zip(ds.x()).all(|(a, b)| (a - b).abs() < 1e-4));
}

#[test]
fn unit_without_known_range_uses_observed_min_max() {
    let x = ndarray::array![[-2.0f32, 0.0], [6.0, 2.0]];
    let ds = Dataset::new("d", x).unwrap();
    // auto: rows that are not images, of no known range, are standardized
    let pre = Preprocess::fit(&ds, ScaleChoice::Auto, Binarize::None).unwrap();
    assert!(
        matches!(pre.scaling, Scaling::Standardize { .. }),
        "{pre:?}"
    );
    let pre = Preprocess::fit(&ds, ScaleChoice::None, Binarize::None).unwrap();
    assert_eq!(pre.apply(ds.clone()).unwrap(), ds);
    let pre = Preprocess::fit(&ds, ScaleChoice::Unit, Binarize::None).unwrap();
    assert_eq!(
        pre.scaling,
        Scaling::Unit {
            min: -2.0,
            max: 6.0
        }
    );
    assert_eq!(
        pre.apply(ds).unwrap().x(),
        ndarray::array![[0.0, 0.25], [1.0, 0.5]]
    );
    let flat = Dataset::new("flat", Array2::from_elem((3, 2), 4.0)).unwrap();
    let err = Preprocess::fit(&flat, ScaleChoice::Unit, Binarize::None).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");
}

#[test]
fn standardize_centres_and_scales_and_inverts() {
    let ds = digits();
    let pre = Preprocess::fit(&ds, ScaleChoice::Standardize, Binarize::None).unwrap();
    let out = pre.apply(ds.clone()).unwrap();
    assert_eq!(out.range(), None);
    let x = out.x();
    let mean = x.mean_axis(Axis(0)).unwrap();
    let std = x.std_axis(Axis(0), 1.0);
    let Scaling::Standardize { std: fitted, .. } = &pre.scaling else {
        panic!("not standardize")
    };
    for j in 0..64 {
        assert!(mean[j].abs() < 1e-4, "column {j} mean {}", mean[j]);
        if fitted[j] == 1.0 && ds.x().column(j).iter().all(|&v| v == ds.x()[[0, j]]) {
            assert_eq!(std[j], 0.0); // constant column: left at 0, std 1
        } else {
            assert!((std[j] - 1.0).abs() < 1e-3, "column {j} std {}", std[j]);
        }
    }
    let back = pre.invert(x);
    let err = back
        .iter()
        .zip(ds.x())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 1e-4, "max error {err}");
    // stored statistics must match the width
    let err = pre.apply_rows(Array2::zeros((2, 3)).view()).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
    assert!(
        err.to_string().contains("64 features, the data has 3"),
        "{err}"
    );
}

#[test]
fn bernoulli_binarization_is_static_and_seeded() {
    let ds = embedded::fashion_mnist_10k().unwrap().head(300).unwrap();
    let fit = |seed| Preprocess::fit(&ds, ScaleChoice::Unit, Binarize::Bernoulli { seed }).unwrap();
    let a = fit(1).apply(ds.clone()).unwrap();
    let b = fit(1).apply(ds.clone()).unwrap();
    let c = fit(2).apply(ds.clone()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.x(), c.x());
    assert_eq!(a.range(), Some(ValueRange::UNIT));
    assert!(a.x().iter().all(|&v| v == 0.0 || v == 1.0));
    // the mean of the draws matches the mean of the probabilities
    let p_mean = ds.x().mean().unwrap() / 255.0;
    let b_mean = a.x().mean().unwrap();
    assert!((p_mean - b_mean).abs() < 0.01, "{p_mean} vs {b_mean}");
    // batches drawn with their row offsets equal the whole
    let pre = fit(1);
    let x = ds.x();
    let top = pre.apply_rows_at(x.slice(s![..120, ..]), 0).unwrap();
    let bottom = pre.apply_rows_at(x.slice(s![120.., ..]), 120).unwrap();
    assert_eq!(top, a.x().slice(s![..120, ..]));
    assert_eq!(bottom, a.x().slice(s![120.., ..]));
    // binarizing values outside [0, 1] is refused
    let err = Preprocess::fit(&ds, ScaleChoice::None, Binarize::Bernoulli { seed: 1 }).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }));
    assert!(err.to_string().contains("[0, 1]"), "{err}");
}

#[test]
fn threshold_binarization() {
    let ds = Dataset::new("t", ndarray::array![[0.0f32, 0.5, 0.51, 1.0]])
        .unwrap()
        .with_range(Some(ValueRange::UNIT));
    let pre = Preprocess::fit(&ds, ScaleChoice::Auto, Binarize::Threshold { at: 0.5 }).unwrap();
    let out = pre.apply(ds).unwrap();
    assert_eq!(out.x(), ndarray::array![[0.0, 0.0, 1.0, 1.0]]);
    assert_eq!(pre.output_range(), Some(ValueRange::UNIT));
    // binarization is not inverted; unit scaling is
    assert_eq!(pre.invert(out.x()), out.x());
}

#[test]
fn dynamic_binarization_draws_afresh() {
    let x = Array2::from_elem((50, 40), 0.3f32);
    let mut rng = seed::rng(7);
    let a = dynamic_binarize(x.view(), &mut rng);
    let b = dynamic_binarize(x.view(), &mut rng);
    assert_ne!(a, b);
    assert!(a.iter().all(|&v| v == 0.0 || v == 1.0));
    assert!((a.mean().unwrap() - 0.3).abs() < 0.05);
    let ones = dynamic_binarize(Array2::from_elem((2, 2), 1.5f32).view(), &mut rng);
    assert!(ones.iter().all(|&v| v == 1.0));
    let zeros = dynamic_binarize(Array2::from_elem((2, 2), -1.0f32).view(), &mut rng);
    assert!(zeros.iter().all(|&v| v == 0.0));
    // the same seed gives the same draws
    assert_eq!(a, dynamic_binarize(x.view(), &mut seed::rng(7)));
}

#[test]
fn preprocess_serializes_with_kind_tags() {
    let pre = Preprocess {
        scaling: Scaling::Unit {
            min: 0.0,
            max: 255.0,
        },
        binarize: Binarize::Bernoulli { seed: 3 },
    };
    let json = serde_json::to_string(&pre).unwrap();
    assert_eq!(
        json,
        r#"{"scaling":{"kind":"unit","min":0.0,"max":255.0},"binarize":{"kind":"bernoulli","seed":3}}"#
    );
    assert_eq!(serde_json::from_str::<Preprocess>(&json).unwrap(), pre);
    let std = Preprocess {
        scaling: Scaling::Standardize {
            mean: vec![1.0],
            std: vec![2.0],
        },
        binarize: Binarize::None,
    };
    let json = serde_json::to_string(&std).unwrap();
    assert!(
        json.contains(r#""kind":"standardize""#) && json.contains(r#""kind":"none""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Preprocess>(&json).unwrap(), std);
}

#[test]
fn unit_scaling_of_values_near_the_f32_limits_maps_and_inverts() {
    // the width 4e38 overflows f32: it was "the range -1e38..3e38 is empty"
    let x = ndarray::array![[-1.0e38f32, 0.5], [3.0e38, 1.5], [1.0e38, 1.0]];
    let ds = Dataset::new("huge", x.clone()).unwrap();
    let pre = Preprocess::fit(&ds, ScaleChoice::Unit, Binarize::None).unwrap();
    let out = pre.apply(ds).unwrap();
    assert_eq!(out.x()[[0, 0]], 0.0);
    assert_eq!(out.x()[[1, 0]], 1.0);
    assert!((out.x()[[2, 0]] - 0.5).abs() < 1e-6, "{}", out.x());
    assert!(out.x().iter().all(|v| v.is_finite()));
    // back to the data's units, to f32's resolution of the mapped values (one range for all
    // columns: a width of 4e38)
    let back = pre.invert(out.x());
    assert!(back.iter().all(|v| v.is_finite()));
    for (a, b) in back.iter().zip(x.iter()) {
        assert!(
            (f64::from(*a) - f64::from(*b)).abs() <= 1e-6 * 4e38,
            "{a} vs {b}"
        );
    }
    // a range that is really empty is still refused, naming the data
    let flat = Dataset::new("flat", ndarray::array![[2.0f32], [2.0]]).unwrap();
    let err = Preprocess::fit(&flat, ScaleChoice::Unit, Binarize::None).unwrap_err();
    assert!(
        err.to_string().contains("flat") && err.to_string().contains("empty"),
        "{err}"
    );
}

/// Preprocessing runs blocks of rows on rayon's pool: the same values on one thread and on
/// three, for whole data and for batches at odd offsets, and for rows in column-major order.
#[test]
fn preprocessing_is_independent_of_threads_blocks_and_layout() {
    let ds = embedded::fashion_mnist_10k().unwrap().head(1000).unwrap();
    let x = ds.x();
    for binarize in [Binarize::None, Binarize::Bernoulli { seed: 3 }] {
        for scale in [ScaleChoice::Unit, ScaleChoice::Standardize] {
            if scale == ScaleChoice::Standardize && binarize != Binarize::None {
                continue; // binarizing needs values in [0, 1]
            }
            let pre = Preprocess::fit(&ds, scale, binarize).unwrap();
            let on = |threads: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| {
                        let whole = pre.apply(ds.clone()).unwrap().x().to_owned();
                        let rows = pre.apply_rows(x).unwrap();
                        let (a, b) = (
                            pre.apply_rows_at(x.slice(s![..333, ..]), 0).unwrap(),
                            pre.apply_rows_at(x.slice(s![333.., ..]), 333).unwrap(),
                        );
                        let parts = ndarray::concatenate(Axis(0), &[a.view(), b.view()]).unwrap();
                        let fortran = x.t().to_owned().reversed_axes();
                        let col_major = pre.apply_rows(fortran.view()).unwrap();
                        (whole, rows, parts, col_major)
                    })
            };
            let (whole, rows, parts, col_major) = on(1);
            assert_eq!(whole, rows, "{scale:?} {binarize:?}");
            assert_eq!(whole, parts, "{scale:?} {binarize:?}");
            assert_eq!(whole, col_major, "{scale:?} {binarize:?}");
            assert_eq!(on(3), (whole.clone(), rows, parts, col_major));
            // a row's values are its own: the first row transformed alone is the same
            let first = pre.apply_rows(x.slice(s![..1, ..])).unwrap();
            assert_eq!(first.row(0), whole.row(0));
        }
    }
}
