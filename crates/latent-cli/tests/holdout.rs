//! Issue 17, as a new user met it: a run's hold-out is reused by every later command given
//! the run's data (`--split test` selects the held-out rows; a different `--holdout` is
//! refused); flags a command would clamp or ignore are refused with a message; a run records
//! only the settings its model uses; `compare` takes `fit`'s scaling and optimiser flags,
//! reports progress on stderr (none with `--quiet`) and ends its stdout with its findings.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::Dir;
use serde_json::Value;

fn json_file(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// `latent eval --json` on `run` with `extra` flags, cheap settings.
fn eval(d: &Dir, run: &str, extra: &[&str]) -> Value {
    let out = eval_output(d, run, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// What [`eval`] runs, its output as it is.
fn eval_output(d: &Dir, run: &str, extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "eval",
        "--run",
        run,
        "--data",
        "digits",
        "--iw-samples",
        "0",
        "--samples",
        "100",
        "--continuity-points",
        "50",
        "--no-classifier",
        "--json",
    ];
    a.extend(extra);
    d.latent(&a)
}

#[test]
fn the_runs_holdout_is_reused_by_later_commands() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--holdout",
        "25",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    // --split test alone (was: "digits is a single set with no train/test splits"): the
    // run's held-out quarter of digits' 1,797 rows; the rest without it
    let test = eval(&d, "pca", &["--split", "test"]);
    assert_eq!(test["n"], 449);
    // eval measures the model on the held-out rows by default, the same as --split test
    let out = eval_output(&d, "pca", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the held-out rows (its test split, the default here; --split train"),
        "{stderr}"
    );
    assert_eq!(eval(&d, "pca", &[]), test);
    // --split train: the training split (1,348 rows: eval measures half of them, the other
    // half being its reference set, as for any evaluation on the training data)
    assert_eq!(eval(&d, "pca", &["--split", "train"])["n"], 674);
    // the same rows, and figures, as when the hold-out is repeated
    let repeated = eval(&d, "pca", &["--holdout", "25", "--split", "test"]);
    assert_eq!(repeated, test);
    // a note says which rows are read
    let out = d.latent(&[
        "reconstruct",
        "--run",
        "pca",
        "--data",
        "digits",
        "--split",
        "test",
        "--out",
        "recon.png",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the run held out 25 % of digits")
            && stderr.contains("the held-out rows (its test split), 449 rows"),
        "{stderr}"
    );
    assert!(stdout.contains("(449 rows)"), "{stdout}");
    let map = d.ok(&[
        "map", "--run", "pca", "--data", "digits", "--split", "test", "--out", "map.png",
    ]);
    assert!(map.contains("mapped 449 codes"), "{map}");
    let map = d.ok(&[
        "map", "--run", "pca", "--data", "digits", "--out", "map2.png",
    ]);
    assert!(map.contains("mapped 1348 codes"), "{map}");
    d.ok(&[
        "encode",
        "--run",
        "pca",
        "--data",
        "digits",
        "--split",
        "test",
        "--out",
        "codes.npy",
    ]);
    assert_eq!(
        latent_data::npy::read(&d.path("codes.npy"))
            .expect("codes")
            .n(),
        449
    );
}

#[test]
fn a_holdout_that_conflicts_with_the_runs_is_refused() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--holdout",
        "25",
        "--holdout-seed",
        "3",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    for other in [
        &["--holdout", "30", "--holdout-seed", "3"][..],
        &["--holdout", "25"][..],
    ] {
        for cmd in ["eval", "map", "encode"] {
            let mut a = vec![cmd, "--run", "pca", "--data", "digits", "--split", "test"];
            a.extend(other);
            if cmd != "eval" {
                a.extend(["--out", if cmd == "map" { "m.png" } else { "c.npy" }]);
            }
            let err = d.fails(&a, 1);
            assert!(
                err.contains("--holdout 25 --holdout-seed 3")
                    && err.contains("omit --holdout")
                    && err.contains("rows the model was fitted on"),
                "{cmd} {other:?}: {err}"
            );
        }
    }
    // the run's own hold-out, repeated: accepted
    let same = eval(
        &d,
        "pca",
        &["--holdout", "25", "--holdout-seed", "3", "--split", "test"],
    );
    assert_eq!(same["n"], 449);
    // a run fitted on every row may still be evaluated on a hold-out of them (eval says
    // which rows overlap)
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "all",
    ]);
    assert_eq!(
        eval(&d, "all", &["--holdout", "30", "--split", "test"])["n"],
        539
    );
}

#[test]
fn flags_that_would_be_clamped_or_ignored_are_refused() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "10",
        "--out",
        "pca",
    ]);
    // traverse --dims past K (was: silently clipped to 0..10)
    let err = d.fails(
        &[
            "traverse", "--run", "pca", "--dims", "0..20", "--out", "t.png",
        ],
        1,
    );
    assert!(
        err.contains("0..20")
            && err.contains("the latent dim is 10, so the dimensions are 0..10 (0 to 9)"),
        "{err}"
    );
    d.ok(&[
        "traverse", "--run", "pca", "--dims", "0..10", "--out", "t.npy",
    ]);
    // the default: the first ten, or fewer when K is smaller
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "3",
        "--out",
        "pca3",
    ]);
    d.ok(&[
        "traverse", "--run", "pca3", "--steps", "3", "--out", "t3.npy",
    ]);
    assert_eq!(
        latent_data::npy::read(&d.path("t3.npy")).expect("t3").n(),
        9
    );

    // settings a family does not use: named, with why, and nothing is written
    let fit = |model: &str, extra: &[&str]| -> String {
        let mut a = vec![
            "fit",
            "--model",
            model,
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--out",
            "refused",
        ];
        a.extend(extra);
        let err = d.fails(&a, 1);
        assert!(!d.path("refused").exists(), "{model} {extra:?}");
        err
    };
    let err = fit("pca", &["--epochs", "5"]);
    assert!(
        err.contains("--model pca does not use --epochs (for the neural models' training")
            && err.contains("drop it"),
        "{err}"
    );
    let err = fit(
        "pca",
        &["--lr", "0.01", "--batch-size", "64", "--beta", "4"],
    );
    for flag in ["--lr", "--batch-size", "--beta", "--solver incremental"] {
        assert!(err.contains(flag), "{flag}: {err}");
    }
    for model in ["ae", "linear-ae"] {
        let err = fit(
            model,
            &["--beta", "4", "--posterior", "full", "--epochs", "1"],
        );
        assert!(
            err.contains("--posterior, --beta (for the VAE, --model vae"),
            "{model}: {err}"
        );
    }
    let err = fit("ae", &["--likelihood", "bernoulli", "--epochs", "1"]);
    assert!(err.contains("--likelihood (for the VAE"), "{err}");
    let err = fit("linear-ae", &["--hidden", "32", "--epochs", "1"]);
    assert!(
        err.contains("--hidden") && err.contains("the linear autoencoder has none"),
        "{err}"
    );
    let err = fit("vae", &["--sigma", "0.5", "--epochs", "1"]);
    assert!(
        err.contains("--sigma") && err.contains("--likelihood gaussian"),
        "{err}"
    );
    let err = fit("vae", &["--solver", "randomized", "--epochs", "1"]);
    assert!(err.contains("--solver (for PCA"), "{err}");
    // digits is in [0, 1] once scaled: the VAE's likelihood is Bernoulli, without a σ
    let err = fit("vae", &["--shared-sigma", "--epochs", "1"]);
    assert!(
        err.contains("--shared-sigma") && err.contains("Bernoulli"),
        "{err}"
    );
}

#[test]
fn runs_record_only_the_settings_their_model_uses() {
    let d = Dir::new();
    for model in ["ae", "vae"] {
        let mut a = vec![
            "fit",
            "--model",
            model,
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--out",
            model,
        ];
        if model == "vae" {
            a.extend(["--beta", "4", "--posterior", "full"]);
        }
        d.ok(&a);
        let info = d.ok(&["info", "--run", model]);
        for file in ["config.json", "training.json"] {
            let c = json_file(&d.path(&format!("{model}/{file}")));
            let (net, train) = (&c["model"]["net"], &c["model"]["train"]);
            let vae = model == "vae";
            for key in ["posterior", "likelihood"] {
                assert_eq!(net.get(key).is_some(), vae, "{model} {file} {key}: {net}");
            }
            for key in ["beta", "kl_warmup_epochs"] {
                assert_eq!(
                    train.get(key).is_some(),
                    vae,
                    "{model} {file} {key}: {train}"
                );
            }
            assert!(net.get("conv_channels").is_none(), "mlp: {net}");
            if vae {
                assert_eq!(net["posterior"], "full");
                assert_eq!(train["beta"], 4.0);
            }
        }
        assert_eq!(info.contains("posterior"), model == "vae", "{info}");
    }
    // the run works as before: a later command and a resume that extends it
    d.ok(&[
        "encode", "--run", "ae", "--data", "digits", "--out", "c.npy",
    ]);
    d.ok(&["fit", "--resume", "--out", "ae", "--epochs", "2"]);
}

/// `latent compare` on digits with the smallest budget; `extra` flags added.
fn compare(d: &Dir, out: &str, extra: &[&str]) -> std::process::Output {
    let mut a = vec![
        "compare",
        "--data",
        "digits",
        "--latent-dims",
        "2",
        "--betas",
        "1",
        "--epochs",
        "1",
        "--linear-epochs",
        "2",
        "--hidden",
        "16",
        "--iw-samples",
        "2",
        "--samples",
        "50",
        "--out",
        out,
    ];
    a.extend(extra);
    d.latent(&a)
}

#[test]
fn compare_takes_fits_scaling_and_optimiser_flags_and_ends_with_its_findings() {
    let d = Dir::new();
    let out = compare(
        &d,
        "c",
        &[
            "--scale",
            "standardize",
            "--lr",
            "0.002",
            "--linear-lr",
            "0.005",
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stderr}");
    let s = json_file(&d.path("c/summary.json"));
    assert_eq!(s["scale"], "standardize");
    assert_eq!(s["binarize"], "none");
    assert_eq!(s["lr"], 0.002);
    assert_eq!(s["linear_lr"], 0.005);
    // each fit used them, and records only what it uses
    let run = |name: &str| json_file(&d.path(&format!("c/runs/{name}/config.json")));
    let vae = run("vae-k2-beta1");
    assert_eq!(vae["preprocess"]["scaling"]["kind"], "standardize");
    assert_eq!(vae["model"]["train"]["lr"], 0.002);
    let linear = run("linear-ae-k2");
    assert_eq!(linear["model"]["train"]["lr"], 0.005);
    assert!(linear["model"]["train"].get("beta").is_none());
    assert!(linear["model"]["net"].get("hidden").is_none());
    let command: Vec<&str> = linear["command"]
        .as_array()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !command.contains(&"--hidden")
            && command.windows(2).any(|w| w == ["--lr-schedule", "cosine"])
            && command.windows(2).any(|w| w == ["--scale", "standardize"]),
        "{command:?}"
    );
    // progress on stderr, the findings last on stdout
    assert!(
        stderr.contains("== pca-k2") && stderr.contains("== vae-k2-beta1"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("== pca-k2") && !stdout.contains("epoch 1/1"),
        "{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("== 4 models on digits")),
        "{stdout}"
    );
    for label in ["PCA", "linear AE", "deep AE", "VAE"] {
        assert!(
            lines.iter().any(|l| l.starts_with(label)),
            "{label}: {stdout}"
        );
    }
    assert!(stdout.contains("== what the numbers show"), "{stdout}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("compare written to c") && l.contains("report.html")),
        "{stdout}"
    );

    // --quiet: no progress; the same findings
    let quiet = compare(&d, "q", &["--quiet"]);
    let (qout, qerr) = (
        String::from_utf8_lossy(&quiet.stdout).into_owned(),
        String::from_utf8_lossy(&quiet.stderr).into_owned(),
    );
    assert!(quiet.status.success(), "{qerr}");
    assert!(
        !qerr.contains("==") && !qerr.contains("epoch") && !qerr.contains("training"),
        "{qerr}"
    );
    assert!(
        qout.starts_with("== 4 models on digits") && qout.contains("== what the numbers show"),
        "{qout}"
    );
    let q = json_file(&d.path("q/summary.json"));
    assert_eq!(q["scale"], "auto");
    assert_eq!(q["lr"], 0.001);
    // a bad learning rate is refused before anything is written
    let bad = compare(&d, "bad", &["--lr", "0"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--lr 0"));
    assert!(!d.path("bad").exists());
}

/// `compare --holdout-seed`: the comparison's test split is the one a fit with the same
/// `--holdout --holdout-seed` held out (its runs record it), whatever `--seed` seeds the fits.
#[test]
fn compare_takes_a_holdout_seed() {
    let d = Dir::new();
    d.ok(&[
        "compare",
        "--data",
        "digits",
        "--holdout",
        "25",
        "--holdout-seed",
        "7",
        "--seed",
        "1",
        "--latent-dims",
        "2",
        "--betas",
        "1",
        "--epochs",
        "1",
        "--linear-epochs",
        "1",
        "--hidden",
        "8",
        "--iw-samples",
        "0",
        "--samples",
        "50",
        "--quiet",
        "--out",
        "cmp",
    ]);
    let summary = json_file(&d.path("cmp/summary.json"));
    assert_eq!(summary["test_rows"], 449);
    assert!(
        summary["split"]
            .as_str()
            .is_some_and(|s| s.contains("--holdout-seed 7")),
        "{}",
        summary["split"]
    );
    let run = json_file(&d.path("cmp/runs/pca-k2/config.json"));
    assert_eq!(run["data"]["args"]["holdout"], 25);
    assert_eq!(run["data"]["args"]["holdout_seed"], 7);
    assert_eq!(run["seed"], 1);
    // so eval of the compare's run on the same data measures the same held-out rows
    assert_eq!(eval(&d, "cmp/runs/pca-k2", &[])["n"], 449);
}
