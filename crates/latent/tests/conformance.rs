//! One conformance battery, in the spirit of scikit-learn's `check_estimator`, run against
//! every family and architecture through the library's own entry points (`fit::fit` into a
//! run directory, `run::load`, `eval::evaluate`, `sampler::LatentSource`):
//! - shapes of codes and decodings;
//! - `encode` is deterministic;
//! - save → load gives identical codes and decodings, bit for bit;
//! - the reported reconstruction error equals a recomputation (PCA: the figure recorded at fit
//!   time from the spectrum; every model: `recon_mse` of the evaluation);
//! - a probabilistic model's closed-form KL equals a Monte-Carlo estimate from its posterior;
//! - seeded sampling is reproducible, and another seed gives other samples.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latent::eval::{Bench, EvalSettings, evaluate, sse_per_example};
use latent::fit::{FitSpec, LatentDim, LikelihoodChoice, Quiet};
use latent::sampler::LatentSource;
use latent::{DataSource, Family, Model};
use latent_core::{Dataset, Posterior};
use latent_nn::{Arch, PosteriorKind};
use latent_pca::Solver;
use ndarray::{Array2, ArrayView1, s};

/// A named case: the family and how its spec differs from the defaults.
struct Case {
    name: &'static str,
    family: Family,
    tweak: fn(&mut FitSpec),
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "pca-exact",
            family: Family::Pca,
            tweak: |_| {},
        },
        Case {
            name: "pca-randomized",
            family: Family::Pca,
            tweak: |s| s.pca.solver = Solver::Randomized,
        },
        Case {
            name: "pca-incremental-whitened",
            family: Family::Pca,
            tweak: |s| {
                s.pca.solver = Solver::Incremental;
                s.pca.whiten = true;
            },
        },
        Case {
            name: "linear-ae",
            family: Family::LinearAe,
            tweak: |_| {},
        },
        Case {
            name: "ae-mlp",
            family: Family::Ae,
            tweak: |_| {},
        },
        Case {
            name: "ae-conv",
            family: Family::Ae,
            tweak: |s| s.net.arch = Arch::Conv,
        },
        Case {
            name: "vae-mlp-diagonal",
            family: Family::Vae,
            tweak: |_| {},
        },
        Case {
            name: "vae-mlp-full",
            family: Family::Vae,
            tweak: |s| s.net.posterior = PosteriorKind::Full,
        },
        Case {
            name: "vae-conv",
            family: Family::Vae,
            tweak: |s| s.net.arch = Arch::Conv,
        },
        Case {
            name: "vae-gaussian-learned",
            family: Family::Vae,
            tweak: |s| s.net.likelihood = Some(LikelihoodChoice::GaussianLearned),
        },
    ]
}

const K: usize = 3;

fn spec(case: &Case) -> FitSpec {
    let mut data = DataSource::new("digits");
    data.holdout = Some(20);
    let mut s = FitSpec::new(case.family, data, LatentDim::Count(K));
    s.seed = 11;
    (case.tweak)(&mut s);
    // small and fast, with only the settings the family uses (a fit refuses the others)
    match case.family {
        Family::Pca => {
            if s.pca.solver == Solver::Incremental {
                s.batch_size = Some(64);
            }
        }
        family => {
            s.train.epochs = Some(1);
            s.batch_size = Some(64);
            if family != Family::LinearAe {
                s.net.hidden = vec![16];
            }
            if s.net.arch == Arch::Conv {
                s.net.conv_channels = vec![4, 8];
            }
        }
    }
    s
}

/// −log N(z; 0, I) − (−log q(z)) summed: one Monte-Carlo term of KL(q ‖ p) for row `i`.
fn log_q_minus_log_p(post: &Posterior, i: usize, z: ArrayView1<'_, f32>) -> f64 {
    let k = z.len();
    let mean = post.mean().row(i);
    let log_p: f64 = z.iter().map(|&v| -0.5 * f64::from(v).powi(2)).sum();
    let log_q: f64 = match post {
        Posterior::Diagonal { log_var, .. } => (0..k)
            .map(|j| {
                let lv = f64::from(log_var[[i, j]]);
                let d = f64::from(z[j] - mean[j]);
                -0.5 * (lv + d * d / lv.exp())
            })
            .sum(),
        Posterior::Full { scale_tril, .. } => {
            // L⁻¹(z − μ) by forward substitution
            let l = scale_tril.slice(s![i, .., ..]);
            let mut y = vec![0.0f64; k];
            for r in 0..k {
                let mut acc = f64::from(z[r] - mean[r]);
                for (c, yc) in y.iter().enumerate().take(r) {
                    acc -= f64::from(l[[r, c]]) * yc;
                }
                y[r] = acc / f64::from(l[[r, r]]);
            }
            let log_det: f64 = (0..k).map(|r| f64::from(l[[r, r]]).ln()).sum();
            -log_det - 0.5 * y.iter().map(|v| v * v).sum::<f64>()
        }
    };
    log_q - log_p
}

fn check(case: &Case, train: &Dataset, test: &Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(case.name);
    let spec = spec(case);
    let fitted = latent::fit::fit(&spec, &out, false, vec!["test".into()], &mut Quiet)
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let model = &fitted.model;
    let r = model.reduction();
    let x = test.x();
    let n = x.nrows();

    // shapes
    assert_eq!((r.input_dim(), r.latent_dim()), (64, K), "{}", case.name);
    let codes = r.encode(x).unwrap();
    assert_eq!(codes.dim(), (n, K), "{}", case.name);
    let decoded = r.decode(codes.view()).unwrap();
    assert_eq!(decoded.dim(), (n, 64), "{}", case.name);
    assert!(codes.iter().chain(&decoded).all(|v| v.is_finite()));

    // encode is deterministic
    assert_eq!(r.encode(x).unwrap(), codes, "{}: encode twice", case.name);

    // save → load: identical outputs
    let (config, loaded) = latent::run::load(&out).unwrap();
    assert_eq!(config.latent_dim, K);
    assert_eq!(
        loaded.reduction().encode(x).unwrap(),
        codes,
        "{}",
        case.name
    );
    assert_eq!(
        loaded.reduction().decode(codes.view()).unwrap(),
        decoded,
        "{}",
        case.name
    );

    // the reported reconstruction error is a recomputation
    let recon = r.reconstruct(x).unwrap();
    let bench = Bench::new(
        train.clone(),
        test.clone(),
        EvalSettings {
            iw_samples: 0,
            samples: 50,
            continuity_points: 20,
            classifier: false,
            ..EvalSettings::default()
        },
        &latent_nn::cpu_device(),
        &mut |_| {},
    )
    .unwrap();
    let m = evaluate(&loaded, &bench, &mut |_| {}).unwrap();
    let direct: f64 = recon
        .iter()
        .zip(x.iter())
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!(
        (m.recon_mse - direct).abs() <= 1e-9 * direct.max(1.0),
        "{}: {} vs {direct}",
        case.name,
        m.recon_mse
    );
    if let Model::Pca(_) = model {
        // recorded at fit time from the spectrum: (total − kept variance)·(n − 1)/n
        let recorded = config.summary["train_recon_sse_per_example"]
            .as_f64()
            .unwrap();
        let train_recon = r.reconstruct(train.x()).unwrap();
        let again = sse_per_example(train.x(), train_recon.view());
        assert!(
            (recorded - again).abs() <= 1e-3 * again,
            "{}: recorded {recorded}, recomputed {again}",
            case.name
        );
    }

    // closed-form KL against Monte Carlo
    if let Some(p) = model.probabilistic() {
        assert_eq!(case.family, Family::Vae);
        let rows = x.slice(s![..4, ..]);
        let post = p.encode_distribution(rows).unwrap();
        let closed = post.kl_to_standard_normal();
        let mut rng = latent_core::seed::rng(3);
        let draws = 4000;
        let mut mc = [0.0f64; 4];
        let mut sq = [0.0f64; 4];
        for _ in 0..draws {
            let z = post.sample(&mut rng);
            for (i, (m, q)) in mc.iter_mut().zip(sq.iter_mut()).enumerate() {
                let v = log_q_minus_log_p(&post, i, z.row(i));
                *m += v;
                *q += v * v;
            }
        }
        for i in 0..4 {
            let mean = mc[i] / f64::from(draws);
            let se = ((sq[i] / f64::from(draws) - mean * mean).max(0.0) / f64::from(draws)).sqrt();
            let want = f64::from(closed[i]);
            assert!(
                (mean - want).abs() <= 5.0 * se + 1e-3,
                "{}: row {i}: Monte Carlo {mean} ± {se}, closed form {want}",
                case.name
            );
        }
        assert!(m.kl.is_some() && m.elbo.is_some(), "{}", case.name);
    } else {
        assert!(m.kl.is_none() && m.elbo.is_none(), "{}", case.name);
    }

    // seeded sampling: reproducible, and another seed differs
    let source =
        LatentSource::for_model(&loaded, || Ok(loaded.reduction().encode(train.x())?)).unwrap();
    let draw = |seed: u64| -> Array2<f32> {
        let (strips, _) =
            latent::figures::sample_strips(&loaded, &source, 6, 1.0, seed, 6).unwrap();
        strips[0].clone()
    };
    assert_eq!(draw(1), draw(1), "{}", case.name);
    assert_ne!(draw(1), draw(2), "{}", case.name);
}

#[test]
fn every_family_and_architecture_conforms() {
    let mut data = DataSource::new("digits");
    data.holdout = Some(20);
    let raw_train = data.load().unwrap();
    let raw_test = data
        .with_split(latent_data::source::Split::Test)
        .load()
        .unwrap();
    // every model here fits the unit-scaled digits (`--scale auto`)
    let pre = latent_data::transform::Preprocess::fit(
        &raw_train,
        latent_data::transform::ScaleChoice::Auto,
        latent_data::transform::Binarize::None,
    )
    .unwrap();
    let (train, test) = (pre.apply(raw_train).unwrap(), pre.apply(raw_test).unwrap());
    for case in cases() {
        check(&case, &train, &test);
    }
}
