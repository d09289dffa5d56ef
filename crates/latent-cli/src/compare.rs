//! `latent compare`: the chapter as an experiment. PCA, the linear autoencoder, the deep
//! autoencoder and VAEs (over a list of β) are fitted at each latent dimension on the training
//! split, measured on the test split by [`crate::evaluate`], and written up: `summary.json`
//! (one record per model × dim × β), the run directories, the figures, and `report.html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use latent_data::source::DataSpec;
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use serde_json::{Map, Value, json};

use crate::cli::{CompareArgs, DataArgs, SplitArg};
use crate::commands::{fit, load_raw, parse_fit, parse_list, user};
use crate::evaluate::{Bench, EvalSettings, evaluate};
use crate::run::{self, Model};

/// Optimiser steps the linear autoencoder gets by default. Its loss has saddle points at the
/// sub-optimal subspaces, and it reaches PCA's late and abruptly; the last directions, whose
/// variances are nearly equal, come last (measured on Fashion-MNIST 60k, K = 20, lr 0.01
/// cosine: 8,400 steps leave 11° between the subspaces, 18,800 steps 0.38°, 20,200 steps
/// 3.7°, 37,500 steps 0.18°, while the reconstruction errors agree to 0.01 % throughout).
const LINEAR_AE_STEPS: usize = 40_000;

/// One fitted model of the comparison.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `pca`, `linear-ae`, `ae` or `vae`.
    pub model: &'static str,
    /// Latent dimension.
    pub k: usize,
    /// The KL weight (VAEs).
    pub beta: Option<f64>,
    /// The run directory, relative to the output directory.
    pub run: String,
    /// Its figures.
    pub metrics: Map<String, Value>,
}

impl Entry {
    /// The figure `key`, when it was measured.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).and_then(Value::as_f64)
    }

    fn record(&self) -> Value {
        let mut r = Map::new();
        r.insert("model".into(), json!(self.model));
        r.insert("latent_dim".into(), json!(self.k));
        r.insert("beta".into(), json!(self.beta));
        r.insert("run".into(), json!(self.run));
        for (k, v) in &self.metrics {
            r.insert(k.clone(), v.clone());
        }
        Value::Object(r)
    }
}

fn fmt_beta(b: f64) -> String {
    let s = format!("{b}");
    s.replace('.', "_")
}

/// The data arguments of the training and test splits: the data set's own splits when it
/// has them, else a seeded hold-out.
fn split_args(args: &CompareArgs) -> Result<(DataArgs, DataArgs, String)> {
    let spec = DataSpec::parse(&args.data)?;
    let native = spec.has_own_splits();
    let base = DataArgs {
        data: args.data.clone(),
        split: None,
        csv_header: args.csv_header,
        label_column: args.label_column.clone(),
        holdout: None,
        holdout_seed: 0,
    };
    Ok(if native {
        (
            DataArgs {
                split: Some(SplitArg::Train),
                ..base.clone()
            },
            DataArgs {
                split: Some(SplitArg::Test),
                ..base
            },
            "the data set's own train and test splits".to_string(),
        )
    } else {
        let held = DataArgs {
            holdout: Some(args.holdout),
            holdout_seed: args.seed,
            ..base
        };
        (
            DataArgs {
                split: Some(SplitArg::Train),
                ..held.clone()
            },
            DataArgs {
                split: Some(SplitArg::Test),
                ..held
            },
            format!(
                "a seeded hold-out: {} % of the rows are the test split",
                args.holdout
            ),
        )
    })
}

fn data_flags(a: &DataArgs) -> Vec<String> {
    let mut v = vec!["--data".to_string(), a.data.clone()];
    if let Some(s) = a.split {
        v.extend([
            "--split".into(),
            match s {
                SplitArg::Train => "train".into(),
                SplitArg::Test => "test".into(),
            },
        ]);
    }
    if let Some(h) = a.holdout {
        v.extend([
            "--holdout".into(),
            h.to_string(),
            "--holdout-seed".into(),
            a.holdout_seed.to_string(),
        ]);
    }
    if let Some(c) = &a.label_column {
        v.extend(["--label-column".into(), c.clone()]);
    }
    v.extend([
        "--csv-header".into(),
        match a.csv_header {
            crate::cli::HeaderArg::Auto => "auto".into(),
            crate::cli::HeaderArg::Yes => "yes".into(),
            crate::cli::HeaderArg::No => "no".into(),
        },
    ]);
    v
}

/// The largest principal angle, in degrees, between the subspaces two decoders span: the
/// rows `decode(eᵢ) − decode(0)` (exact for linear decoders).
fn largest_angle_deg(a: &Model, b: &Model) -> Result<f64> {
    let basis = |m: &Model| -> Result<ndarray::Array2<f32>> {
        let k = m.reduction().latent_dim();
        let mut z = ndarray::Array2::<f32>::zeros((k + 1, k));
        for i in 0..k {
            z[[i + 1, i]] = 1.0;
        }
        let x = m.reduction().decode(z.view())?;
        let origin = x.row(0).to_owned();
        Ok(ndarray::Array2::from_shape_fn((k, x.ncols()), |(i, j)| {
            x[[i + 1, j]] - origin[j]
        }))
    };
    let angles = latent_pca::principal_angles(basis(a)?.view(), basis(b)?.view())?;
    Ok(angles.iter().copied().fold(0.0, f64::max).to_degrees())
}

/// `latent compare`.
pub fn compare(args: &CompareArgs) -> Result<()> {
    run::check_writable(&args.out, args.force)?;
    let dims: Vec<usize> = parse_list(&args.latent_dims, "--latent-dims", "a number")?;
    if dims.is_empty() || dims.contains(&0) {
        return Err(user("--latent-dims: each dimension must be at least 1"));
    }
    let mut betas: Vec<f64> = parse_list(&args.betas, "--betas", "a number")?;
    if betas.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
        return Err(user("--betas: each β must be finite and positive"));
    }
    if !betas.contains(&1.0) {
        betas.push(1.0);
    }
    betas.sort_by(f64::total_cmp);
    betas.dedup();
    if args.epochs == 0 {
        return Err(user("--epochs must be at least 1"));
    }
    let (train_args, test_args, split_note) = split_args(args)?;
    let started = Instant::now();

    outln!("== loading {} ({split_note})", args.data);
    let train_raw = load_raw(&train_args)?;
    let test_raw = load_raw(&test_args)?;
    // the same preprocessing the fits choose by default (--scale auto, no binarization)
    let pre = Preprocess::fit(&train_raw, ScaleChoice::Auto, Binarize::None)?;
    let train = pre.apply(train_raw)?;
    let test = pre.apply(test_raw)?;
    let (n_train, n_test) = (train.n(), test.n());
    let image = train.image_shape().is_some();

    if args.out.exists() {
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("{}: cannot replace", args.out.display()))?;
    }
    let images = args.out.join("images");
    std::fs::create_dir_all(&images)
        .with_context(|| format!("{}: cannot create", images.display()))?;

    let settings = EvalSettings {
        seed: args.seed,
        iw_samples: args.iw_samples,
        samples: args.samples,
        ..EvalSettings::default()
    };
    let mut log = |m: &str| {
        let _ = writeln_stdout(m);
    };
    // a bad --device fails here, before any fit
    latent_nn::device_by_name(&args.device)?;
    let bench = Bench::new(train, test, settings, &latent_nn::cpu_device(), &mut log)?;
    for n in bench.notes() {
        log(n);
    }

    let steps_per_epoch = n_train.div_ceil(args.batch_size.max(1));
    let linear_epochs = args
        .linear_epochs
        .unwrap_or_else(|| (LINEAR_AE_STEPS.div_ceil(steps_per_epoch.max(1))).clamp(10, 1000));

    let mut entries: Vec<Entry> = Vec::new();
    for &k in &dims {
        let (mut pca, mut linear): (Option<Model>, Option<Model>) = (None, None);
        let mut jobs: Vec<(&'static str, Option<f64>, Vec<String>)> = vec![
            ("pca", None, vec![]),
            (
                "linear-ae",
                None,
                vec![
                    "--epochs".into(),
                    linear_epochs.to_string(),
                    "--lr".into(),
                    "0.01".into(),
                    "--lr-schedule".into(),
                    "cosine".into(),
                ],
            ),
            (
                "ae",
                None,
                vec![
                    "--epochs".into(),
                    args.epochs.to_string(),
                    "--hidden".into(),
                    args.hidden.clone(),
                ],
            ),
        ];
        for &b in &betas {
            jobs.push((
                "vae",
                Some(b),
                vec![
                    "--epochs".into(),
                    args.epochs.to_string(),
                    "--hidden".into(),
                    args.hidden.clone(),
                    "--beta".into(),
                    b.to_string(),
                ],
            ));
        }
        for (model, beta, extra) in jobs {
            let name = match beta {
                Some(b) => format!("{model}-k{k}-beta{}", fmt_beta(b)),
                None => format!("{model}-k{k}"),
            };
            let dir = args.out.join("runs").join(&name);
            outln!("\n== {name}");
            let mut argv: Vec<String> = vec!["--model".into(), model.into()];
            argv.extend(data_flags(&train_args));
            argv.extend([
                "--latent-dim".into(),
                k.to_string(),
                "--seed".into(),
                args.seed.to_string(),
                "--out".into(),
                dir.to_string_lossy().into_owned(),
            ]);
            if model != "pca" {
                argv.extend([
                    "--batch-size".into(),
                    args.batch_size.to_string(),
                    "--device".into(),
                    args.device.clone(),
                ]);
            }
            argv.extend(extra);
            let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
            let t0 = Instant::now();
            let mut command = vec!["latent".to_string(), "fit".to_string()];
            command.extend(argv.iter().cloned());
            fit(&parse_fit(&refs)?, command)?;
            let fit_seconds = t0.elapsed().as_secs_f64();
            let (_, m) = run::load(&dir)?;
            let mut metrics = evaluate(&m, &bench, &mut log)?;
            // the two linear models are compared below
            match model {
                "pca" => pca = Some(m),
                "linear-ae" => linear = Some(m),
                _ => {}
            }
            metrics.insert("fit_seconds".into(), json!(fit_seconds));
            entries.push(Entry {
                model,
                k,
                beta,
                run: format!("runs/{name}"),
                metrics,
            });
        }
        let (Some(pca), Some(lin)) = (pca.take(), linear.take()) else {
            anyhow::bail!("internal: K = {k} has no PCA or linear autoencoder run");
        };
        let angle = largest_angle_deg(&lin, &pca)?;
        if let Some(e) = entries
            .iter_mut()
            .find(|e| e.model == "linear-ae" && e.k == k)
        {
            e.metrics.insert("pca_angle_deg".into(), json!(angle));
        }
        outln!("linear AE vs PCA at K = {k}: largest principal angle {angle:.2}°");
    }

    let summary = json!({
        "format": "latent-compare",
        "latent_version": env!("CARGO_PKG_VERSION"),
        "data": args.data,
        "split": split_note,
        "train_rows": n_train,
        "test_rows": n_test,
        "latent_dims": dims,
        "betas": betas,
        "epochs": args.epochs,
        "linear_epochs": linear_epochs,
        "hidden": args.hidden,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "bench": Value::Object(bench.summary()),
        "reading": crate::report::claims(&entries, &dims, &betas),
        "records": entries.iter().map(Entry::record).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    let summary_path = args.out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary)?;
    latent_core::fsutil::atomic_write_bytes(&summary_path, text.as_bytes())?;
    outln!("\nwrote {}", summary_path.display());

    let report = crate::report::build(
        &args.out,
        &summary,
        &entries,
        &crate::report::Inputs {
            test_args: &test_args,
            dims: &dims,
            betas: &betas,
            image,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        },
    )?;
    let report_path = args.out.join("report.html");
    report.write(&report_path)?;
    outln!("wrote {}", report_path.display());
    outln!(
        "compare finished in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn writeln_stdout(m: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    writeln!(std::io::stdout().lock(), "{m}")
}

/// The directory of a run of `entries`.
pub(crate) fn run_dir(out: &Path, e: &Entry) -> PathBuf {
    out.join(&e.run)
}
