//! End-to-end tests of the `latent` binary, each in its own temporary directory
//! (ripgrep's harness style: run the real binary, check exit code, stdout/stderr and files).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::Dir;

use latent_core::{Fit, ParamGuard, Reduction};
use latent_data::source::{DataSpec, LoadOptions};
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use latent_data::{csv, npy};
use latent_pca::{Components, PcaParams};

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open png"),
    ));
    let reader = decoder.read_info().expect("png header");
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn fit_encode_decode_reconstruct_info_on_digits() {
    let d = Dir::new();
    let out = d.ok(&[
        "fit",
        "--model",
        "pca",
        "--data",
        "digits",
        "--latent-dim",
        "10",
        "--out",
        "run",
    ]);
    assert!(out.contains("→ 10 dims"), "{out}");
    assert!(d.path("run/config.json").is_file() && d.path("run/model.safetensors").is_file());

    // info --json describes the run
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--run", "run", "--json"])).expect("json");
    assert_eq!(info["latent_dim"], 10);
    assert_eq!(info["input_dim"], 64);
    assert_eq!(info["method"], "pca");
    assert_eq!(info["config"]["data"]["n"], 1797);
    let ratios = info["explained_variance_ratio"].as_array().expect("ratios");
    assert_eq!(ratios.len(), 10);
    let human = d.ok(&["info", "--run", "run"]);
    assert!(
        human.contains("latent dim   10") && human.contains("digits"),
        "{human}"
    );

    // codes as NPY and CSV read back equal
    d.ok(&[
        "encode",
        "--run",
        "run",
        "--data",
        "digits",
        "--out",
        "codes.npy",
    ]);
    d.ok(&[
        "encode",
        "--run",
        "run",
        "--data",
        "digits",
        "--out",
        "codes.csv",
    ]);
    let a = npy::read_matrix(&d.path("codes.npy")).expect("npy");
    let b = csv::read_matrix(&d.path("codes.csv")).expect("csv");
    assert_eq!(a.dim(), (1797, 10));
    assert_eq!(a, b);

    // the CLI's codes equal the library's on the same data and settings
    let raw = DataSpec::parse("digits")
        .expect("spec")
        .load(&LoadOptions::default())
        .expect("digits");
    let pre = Preprocess::fit(&raw, ScaleChoice::Auto, Binarize::None).expect("pre");
    let data = pre.apply(raw).expect("apply");
    let params = PcaParams::new(Components::Count(10)).seed(latent_core::seed::derive(0, "pca"));
    let pca = params.check().expect("check").fit(&data).expect("fit");
    let lib = pca.encode(data.x()).expect("encode");
    let max_diff = lib
        .iter()
        .zip(a.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_diff < 1e-4,
        "CLI and library codes differ by {max_diff}"
    );

    // decode to NPY (data units: digits are 0..16) and to a PNG grid
    d.ok(&[
        "decode",
        "--run",
        "run",
        "--codes",
        "codes.npy",
        "--out",
        "dec.npy",
    ]);
    let dec = npy::read(&d.path("dec.npy")).expect("decoded npy");
    assert_eq!((dec.n(), dec.dim()), (1797, 64));
    let mean = dec.x().mean().expect("mean");
    assert!(
        mean > 2.0 && mean < 8.0,
        "decoded rows should be in 0..16 units, mean {mean}"
    );
    d.ok(&[
        "decode",
        "--run",
        "run",
        "--codes",
        "codes.csv",
        "--out",
        "grid.png",
        "--columns",
        "40",
    ]);
    let (w, h) = png_size(&d.path("grid.png"));
    assert!(w > 40 * 8 && h > 45 * 8, "{w}×{h}");

    // reconstruct: 2 blocks of 16 columns × 2 rows of 8×8 images
    let out = d.ok(&[
        "reconstruct",
        "--run",
        "run",
        "--data",
        "digits",
        "--out",
        "recon.png",
    ]);
    assert!(out.contains("reconstruction error"), "{out}");
    let (w, h) = png_size(&d.path("recon.png"));
    assert!(w >= 16 * 8 && h >= 4 * 8, "{w}×{h}");
}

#[test]
fn refuses_to_overwrite_without_force() {
    let d = Dir::new();
    let fit = [
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "3",
        "--out",
        "run",
    ];
    d.ok(&fit);
    let err = d.fails(&fit, 1);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    let mut forced = fit.to_vec();
    forced.push("--force");
    d.ok(&forced);
    d.ok(&[
        "encode", "--run", "run", "--data", "digits", "--out", "c.npy",
    ]);
    let err = d.fails(
        &[
            "encode", "--run", "run", "--data", "digits", "--out", "c.npy",
        ],
        1,
    );
    assert!(
        err.contains("c.npy") && err.contains("already exists"),
        "{err}"
    );
}

#[test]
fn user_errors_exit_1_with_one_clear_line() {
    let d = Dir::new();
    let err = d.fails(
        &[
            "fit",
            "--data",
            "nope.csv",
            "--latent-dim",
            "3",
            "--out",
            "r",
        ],
        1,
    );
    assert!(err.contains("nope.csv"), "{err}");
    // a standard error that cannot be written loses the message, not the exit code
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let status = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args([
            "fit",
            "--data",
            "nope.csv",
            "--latent-dim",
            "3",
            "--out",
            "r",
        ])
        .current_dir(d.0.path())
        .stderr(full)
        .status()
        .expect("run latent");
    assert_eq!(status.code(), Some(1));
    // a negative number is a value (refused by the setting's check), not a flag
    let err = d.fails(
        &[
            "fit",
            "--model",
            "vae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--adam-beta1",
            "-0.5",
            "--out",
            "r",
        ],
        1,
    );
    assert!(
        err.contains("beta1") && !err.contains("unexpected argument"),
        "{err}"
    );
    let err = d.fails(
        &[
            "fit",
            "--data",
            "digits",
            "--latent-dim",
            "abc",
            "--out",
            "r",
        ],
        1,
    );
    assert!(err.contains("--latent-dim"), "{err}");
    let err = d.fails(
        &["fit", "--data", "digits", "--latent-dim", "0", "--out", "r"],
        1,
    );
    assert!(err.contains("invalid parameter"), "{err}");
    let err = d.fails(
        &[
            "fit",
            "--data",
            "digits",
            "--latent-dim",
            "65",
            "--out",
            "r",
        ],
        1,
    );
    assert!(err.contains("65"), "{err}");
    d.fails(&["fit", "--data", "digits", "--no-such-flag"], 1);
    let err = d.fails(&["info", "--run", "missing-run"], 1);
    assert!(
        err.contains("missing-run") && err.contains("not a latent run"),
        "{err}"
    );
    let err = d.fails(
        &[
            "fit",
            "--data",
            "fashion-mnist-10k",
            "--split",
            "train",
            "--latent-dim",
            "2",
            "--out",
            "r",
        ],
        1,
    );
    assert!(err.contains("test split"), "{err}");

    // a run fitted on 64 features cannot encode 784
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "run",
    ]);
    let err = d.fails(
        &[
            "encode",
            "--run",
            "run",
            "--data",
            "fashion-mnist-10k",
            "--out",
            "c.npy",
        ],
        1,
    );
    assert!(err.contains("784") && err.contains("64"), "{err}");
    // codes of the wrong width
    d.ok(&[
        "encode", "--run", "run", "--data", "digits", "--out", "c.npy",
    ]);
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "3",
        "--out",
        "run3",
    ]);
    let err = d.fails(
        &[
            "decode", "--run", "run3", "--codes", "c.npy", "--out", "x.npy",
        ],
        1,
    );
    assert!(err.contains("latent dimension is 3"), "{err}");
    let err = d.fails(
        &[
            "decode", "--run", "run3", "--codes", "c.npy", "--out", "x.txt",
        ],
        1,
    );
    assert!(err.contains("unsupported output"), "{err}");
}

#[test]
fn corrupt_run_files_are_detected() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "4",
        "--out",
        "run",
    ]);
    let weights = d.path("run/model.safetensors");
    let mut bytes = std::fs::read(&weights).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&weights, &bytes).expect("write");
    let err = d.fails(&["info", "--run", "run"], 1);
    assert!(
        err.contains("model.safetensors") && err.contains("checksum"),
        "{err}"
    );

    std::fs::write(d.path("run/config.json"), b"{\"format\": ").expect("write");
    let err = d.fails(&["info", "--run", "run"], 1);
    assert!(err.contains("config.json"), "{err}");

    // One bit of the preprocessing in config.json (a digit of its range or mean) would change
    // every code silently: config.json is sealed with the checksum of its content.
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "4",
        "--out",
        "run2",
    ]);
    let config = d.path("run2/config.json");
    let text = std::fs::read(&config).expect("read");
    let from = String::from_utf8_lossy(&text)
        .find("\"preprocess\"")
        .expect("a preprocess section");
    let digit = from
        + text[from..]
            .iter()
            .position(u8::is_ascii_digit)
            .expect("a number in it");
    let mut flipped = text.clone();
    flipped[digit] ^= 1;
    std::fs::write(&config, &flipped).expect("write");
    for cmd in [
        vec!["info", "--run", "run2"],
        vec![
            "encode",
            "--run",
            "run2",
            "--data",
            "digits",
            "--out",
            "codes.npy",
        ],
    ] {
        let err = d.fails(&cmd, 1);
        assert!(
            err.contains("config.json") && err.contains("checksum mismatch"),
            "{cmd:?}: {err}"
        );
    }
    // whitespace is not content: a reformatted config still reads
    let reflowed = String::from_utf8_lossy(&text).replace(",\n", ",\n\n");
    std::fs::write(&config, reflowed).expect("write");
    d.ok(&["info", "--run", "run2"]);
    // a missing weights file is the user's problem (exit 1), named
    std::fs::remove_file(d.path("run2/model.safetensors")).expect("remove");
    let err = d.fails(&["info", "--run", "run2"], 1);
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn edited_training_settings_and_checkpoints_are_detected_on_resume() {
    let d = Dir::new();
    let fit = [
        "fit",
        "--model",
        "vae",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--hidden",
        "16",
        "--epochs",
        "2",
        // a checkpoint per epoch: the newest is edited below, the one before is the fallback
        "--checkpoint-every",
        "1",
        "--out",
        "run",
    ];
    d.ok(&fit);
    let training = d.path("run/training.json");
    let original = std::fs::read_to_string(&training).expect("read");
    assert!(original.contains("\"checksum\""), "{original}");
    // a changed learning rate in training.json would silently change the resumed weights
    let edited = original.replacen("\"lr\": 0.001", "\"lr\": 0.002", 1);
    assert_ne!(edited, original, "{original}");
    std::fs::write(&training, &edited).expect("write");
    let err = d.fails(&["fit", "--resume", "--out", "run", "--epochs", "3"], 1);
    assert!(
        err.contains("training.json") && err.contains("checksum mismatch"),
        "{err}"
    );
    std::fs::write(&training, &original).expect("write");
    // an edited Adam step in the newest checkpoint: that checkpoint is skipped, saying why
    let state = d.path("run/checkpoints/epoch-0002/state.json");
    let text = std::fs::read_to_string(&state).expect("read");
    std::fs::write(
        &state,
        text.replacen("\"adam_step\": ", "\"adam_step\": 1", 1),
    )
    .expect("write");
    let run = d.latent(&["fit", "--resume", "--out", "run", "--epochs", "3"]);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{out}");
    assert!(
        out.contains("skipping checkpoint of epoch 2") && out.contains("checksum mismatch"),
        "{out}"
    );
    assert!(out.contains("resuming after epoch 1"), "{out}");

    // a run interrupted by a latent older than the seals (training.json of format version 1,
    // checkpoints without a checksum) resumes from its newest checkpoint, not from epoch 1
    let unseal = |path: &std::path::Path, version: Option<u64>| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
        let o = v.as_object_mut().expect("object");
        o.remove("checksum");
        if let Some(version) = version {
            o.insert("format_version".into(), version.into());
        }
        std::fs::write(path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
    };
    unseal(&training, Some(1));
    for e in [2, 3] {
        unseal(
            &d.path(&format!("run/checkpoints/epoch-000{e}/state.json")),
            None,
        );
    }
    let run = d.latent(&["fit", "--resume", "--out", "run", "--epochs", "4"]);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{out}");
    assert!(out.contains("resuming after epoch 3"), "{out}");
    assert!(!out.contains("skipping"), "{out}");
    d.ok(&["info", "--run", "run"]);
}

#[test]
fn fashion_mnist_pca_50_and_reconstruct_as_in_the_readme() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--model",
        "pca",
        "--data",
        "fashion-mnist-10k",
        "--latent-dim",
        "50",
        "--out",
        "r",
    ]);
    let out = d.ok(&[
        "reconstruct",
        "--run",
        "r",
        "--data",
        "fashion-mnist-10k",
        "--out",
        "recon.png",
    ]);
    assert!(out.contains("10000 rows"), "{out}");
    let (w, h) = png_size(&d.path("recon.png"));
    assert!(w >= 16 * 28 && h >= 4 * 28, "{w}×{h}");
    // The reconstruction error printed equals the training error recorded at fit time (PCA:
    // the left-out variance), to 4 digits.
    let printed: f64 = out
        .split("rows): ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("error figure");
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--run", "r", "--json"])).expect("json");
    let recorded = info["config"]["summary"]["train_recon_sse_per_example"]
        .as_f64()
        .expect("recorded");
    assert!(
        (printed - recorded).abs() / recorded < 1e-3,
        "{printed} vs {recorded}"
    );
}

#[test]
fn variance_fraction_and_incremental_streaming_from_idx() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "0.9",
        "--out",
        "frac",
    ]);
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--run", "frac", "--json"])).expect("json");
    let ratios: Vec<f64> = info["explained_variance_ratio"]
        .as_array()
        .expect("ratios")
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    let total: f64 = ratios.iter().sum();
    let without_last: f64 = ratios[..ratios.len() - 1].iter().sum();
    assert!(total > 0.9 && without_last <= 0.9, "{total} {without_last}");

    // An MNIST-layout directory streamed by the incremental solver matches the exact fit.
    let mnist = d.path("mnist");
    std::fs::create_dir(&mnist).expect("mkdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../latent-data/data/fashion-mnist-10k");
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(src.join(f), mnist.join(f)).expect("copy");
    }
    let common = ["--data", "mnist", "--split", "test", "--latent-dim", "20"];
    let mut a = vec![
        "fit",
        "--solver",
        "incremental",
        "--batch-size",
        "1000",
        "--out",
        "inc",
    ];
    a.extend(common);
    d.ok(&a);
    let mut b = vec!["fit", "--solver", "exact", "--out", "exact"];
    b.extend(common);
    d.ok(&b);
    let ev = |run: &str| -> Vec<f64> {
        let v: serde_json::Value =
            serde_json::from_str(&d.ok(&["info", "--run", run, "--json"])).expect("json");
        v["explained_variance_ratio"]
            .as_array()
            .expect("ratios")
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .collect()
    };
    let (inc, exact) = (ev("inc"), ev("exact"));
    assert_eq!(inc.len(), 20);
    for (i, e) in inc.iter().zip(&exact) {
        assert!((i - e).abs() / e < 1e-4, "{i} vs {e}");
    }
    // a folder holding one split's files is one set: --holdout makes its test split
    d.ok(&[
        "fit",
        "--data",
        "mnist",
        "--holdout",
        "20",
        "--latent-dim",
        "5",
        "--out",
        "held",
    ]);
    let held: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--run", "held", "--json"])).expect("json");
    assert_eq!(held["config"]["data"]["n"], 8000);
}

#[test]
fn demo_quick_writes_a_report() {
    let d = Dir::new();
    let out = d.ok(&["demo", "--quick", "--out", "demo"]);
    assert!(
        out.contains("demo written to") && out.contains("report.html"),
        "{out}"
    );
    // with the quick demo's shorter linear training (a quarter of the full demo's steps)
    assert!(
        out.contains(
            "The linear autoencoder finds PCA's subspace (largest principal angle below 2°): \
             holds at every K"
        ),
        "{out}"
    );
    assert!(out.contains("--linear-epochs 160"), "{out}");
    for f in [
        "summary.json",
        "report.html",
        "runs/pca-k2/config.json",
        "runs/vae-k5-beta4/metrics.jsonl",
        "images/samples-vae-k2.png",
        "images/map-ae-k2.png",
        "images/rate-distortion.png",
    ] {
        assert!(d.path(&format!("demo/{f}")).is_file(), "{f}");
    }
    d.fails(&["demo", "--quick", "--out", "demo"], 1);
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn compare_writes_one_record_per_model_and_a_self_contained_report() {
    let d = Dir::new();
    let args = [
        "compare",
        "--data",
        "digits",
        "--latent-dims",
        "2,3",
        "--betas",
        "4",
        "--epochs",
        "3",
        "--hidden",
        "32",
        "--iw-samples",
        "5",
        "--samples",
        "200",
        "--out",
        "cmp",
    ];
    d.ok(&args);
    let s = json_file(&d.path("cmp/summary.json"));
    assert_eq!(s["format"], "latent-compare");
    // β = 1 is always added: per K, pca + linear-ae + ae + vae(1) + vae(4)
    let records = s["records"].as_array().expect("records");
    assert_eq!(records.len(), 10);
    assert_eq!(s["betas"], serde_json::json!([1.0, 4.0]));
    for r in records {
        let model = r["model"].as_str().unwrap();
        for key in [
            "recon_mse",
            "continuity",
            "continuity_q95",
            "completeness",
            "frechet",
            "sample_confidence",
        ] {
            let v = r[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{model}: {key} missing"));
            assert!(v.is_finite() && v >= 0.0, "{model} {key} = {v}");
        }
        assert_eq!(r["frechet_samples"], 200);
        let vae = model == "vae";
        // metrics that do not apply are absent, not zero
        for key in ["kl", "elbo", "nll_is", "kl_per_dim", "active_units"] {
            assert_eq!(r.get(key).is_some(), vae, "{model}: {key}");
        }
        assert_eq!(r.get("pca_angle_deg").is_some(), model == "linear-ae");
        assert_eq!(
            r["sample_source"],
            if vae {
                "prior"
            } else {
                "gaussian fitted to the training codes"
            }
        );
        assert!(
            d.path(&format!("cmp/{}/config.json", r["run"].as_str().unwrap()))
                .is_file()
        );
    }
    // the two PCA records: K = 3 reconstructs better than K = 2
    let mse = |m: &str, k: u64| {
        records
            .iter()
            .find(|r| r["model"] == m && r["latent_dim"] == k)
            .and_then(|r| r["recon_mse"].as_f64())
            .unwrap()
    };
    assert!(mse("pca", 3) < mse("pca", 2));
    assert!(s["bench"]["classifier_accuracy"].as_f64().unwrap() > 0.5);
    assert!(!s["reading"].as_array().unwrap().is_empty());

    let html = std::fs::read_to_string(d.path("cmp/report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.matches("src=\"data:image/png;base64,").count() >= 10);
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    for heading in [
        "What the numbers show",
        "Rate–distortion over β",
        "The 2-D latent spaces",
        "Loss curves",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    // an existing output is not replaced without --force
    d.fails(&args, 1);
    d.fails(
        &[
            "compare",
            "--data",
            "digits",
            "--latent-dims",
            "0",
            "--out",
            "c2",
        ],
        1,
    );
    d.fails(
        &[
            "compare", "--data", "digits", "--betas", "-1", "--out", "c2",
        ],
        1,
    );
    assert!(!d.path("c2").exists(), "a refused compare writes nothing");
}

#[test]
fn eval_measures_every_family_on_a_holdout() {
    let d = Dir::new();
    for (model, extra) in [
        ("pca", vec![]),
        ("vae", vec!["--epochs", "3", "--hidden", "32"]),
    ] {
        let mut a = vec![
            "fit",
            "--model",
            model,
            "--data",
            "digits",
            "--holdout",
            "25",
            "--latent-dim",
            "2",
            "--out",
            model,
        ];
        a.extend(extra);
        d.ok(&a);
    }
    let eval = |run: &str| -> serde_json::Value {
        let out = d.ok(&[
            "eval",
            "--run",
            run,
            "--data",
            "digits",
            "--holdout",
            "25",
            "--split",
            "test",
            "--iw-samples",
            "5",
            "--samples",
            "150",
            "--continuity-points",
            "100",
            "--json",
        ]);
        serde_json::from_str(out.trim()).expect("one JSON object")
    };
    let (p, v) = (eval("pca"), eval("vae"));
    // a quarter of digits' 1,797 rows
    assert_eq!(p["n"], 449);
    assert_eq!(v["n"], 449);
    for key in [
        "recon_mse",
        "continuity",
        "completeness",
        "frechet",
        "classifier_accuracy",
    ] {
        assert!(p[key].as_f64().is_some(), "pca {key}");
        assert!(v[key].as_f64().is_some(), "vae {key}");
    }
    assert_eq!(p["continuity_points"], 100);
    for key in ["kl", "elbo", "nll_is", "recon_bce", "active_units"] {
        assert!(p.get(key).is_none(), "pca has no {key}");
        assert!(v.get(key).is_some(), "vae {key}");
    }
    // nll_is is a tighter bound than the ELBO (in expectation; by a margin here)
    assert!(v["nll_is"].as_f64().unwrap() <= -v["elbo"].as_f64().unwrap() + 1.0);
    // the same seed gives the same figures
    assert_eq!(eval("vae"), v);
    // evaluating on the training data itself says so and still works
    let out = d.latent(&[
        "eval",
        "--run",
        "pca",
        "--data",
        "digits",
        "--holdout",
        "25",
        "--samples",
        "100",
        "--continuity-points",
        "50",
    ]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("half of it serves as the reference set")
    );
    // --holdout needs data without splits of its own, and a percentage in 1..=99
    d.fails(
        &["eval", "--run", "pca", "--data", "digits", "--holdout", "0"],
        1,
    );
}

#[test]
fn help_has_examples_for_every_command() {
    let d = Dir::new();
    for cmd in [
        "fit",
        "encode",
        "decode",
        "reconstruct",
        "info",
        "demo",
        "sample",
        "interpolate",
        "traverse",
        "map",
        "eval",
        "compare",
    ] {
        let out = d.ok(&[cmd, "--help"]);
        assert!(
            out.contains("Examples:") && out.contains(&format!("latent {cmd}")),
            "{cmd}: {out}"
        );
    }
    assert!(d.ok(&["--help"]).contains("fashion-mnist-10k"));
}

fn metrics(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("metrics.jsonl")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v.as_object_mut().expect("object").remove("seconds");
            v
        })
        .collect()
}

#[test]
fn vae_fit_explore_and_resume_end_to_end() {
    let d = Dir::new();
    let fit = |out: &str, epochs: &str| {
        d.ok(&[
            "fit",
            "--model",
            "vae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--hidden",
            "32",
            "--epochs",
            epochs,
            "--batch-size",
            "64",
            "--seed",
            "5",
            "--out",
            out,
        ])
    };
    let out = fit("vae", "3");
    assert!(
        out.contains("epoch 3/3") && out.contains("Bernoulli"),
        "{out}"
    );
    let m = metrics(&d.path("vae/metrics.jsonl"));
    assert_eq!(m.len(), 3);
    for key in [
        "epoch",
        "train_loss",
        "train_recon",
        "train_kl",
        "val_loss",
        "val_recon",
        "val_kl",
    ] {
        assert!(m[0].get(key).is_some(), "{key} missing from {:?}", m[0]);
    }
    let info = d.ok(&["info", "--run", "vae"]);
    assert!(
        info.contains("vae (mlp 64-32-2") && info.contains("nats per example"),
        "{info}"
    );

    // interrupted after 2 epochs, resumed to 3: the same metrics as the straight run
    fit("resumed", "2");
    let out = d.ok(&["fit", "--resume", "--out", "resumed", "--epochs", "3"]);
    assert!(
        out.contains("epoch 3/3") && !out.contains("epoch 1/3"),
        "{out}"
    );
    assert_eq!(metrics(&d.path("resumed/metrics.jsonl")), m);
    let err = d.fails(&["fit", "--resume", "--out", "nowhere"], 1);
    assert!(err.contains("training.json"), "{err}");
    // the original command with --resume added is accepted (its flags agree with the run);
    // a flag that differs is refused, named with the run's value
    let same = [
        "fit",
        "--resume",
        "--model",
        "vae",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--hidden",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "64",
        "--seed",
        "5",
        "--out",
        "resumed",
    ];
    d.ok(&same);
    // the recorded fit time is the whole fit's, not only the last session's
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--run", "resumed", "--json"])).expect("json");
    let recorded = info["config"]["summary"]["fit_seconds"]
        .as_f64()
        .expect("fit_seconds");
    let epochs: f64 = std::fs::read_to_string(d.path("resumed/metrics.jsonl"))
        .expect("metrics")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["seconds"]
                .as_f64()
                .expect("seconds")
        })
        .sum();
    assert!(epochs > 0.0 && recorded >= epochs, "{recorded} < {epochs}");
    let mut changed = same.to_vec();
    changed[9] = "64";
    changed[15] = "6";
    let err = d.fails(&changed, 1);
    assert!(
        err.contains("--hidden [64] (the run has [32])")
            && err.contains("--seed 6 (the run has 5)"),
        "{err}"
    );
    assert!(!err.contains("--data"), "{err}");
    assert_eq!(metrics(&d.path("resumed/metrics.jsonl")), m);

    // a run killed in its first epoch holds only training.json: `info` points to --resume,
    // and --resume trains it from epoch 1 (to the same figures as the uninterrupted run)
    fit("early", "3");
    for f in ["config.json", "model.safetensors", "metrics.jsonl"] {
        std::fs::remove_file(d.path("early").join(f)).expect("remove");
    }
    std::fs::remove_dir_all(d.path("early/checkpoints")).expect("remove");
    let err = d.fails(&["info", "--run", "early"], 1);
    assert!(err.contains("--resume"), "{err}");
    let out = d.latent(&["fit", "--resume", "--out", "early"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("starts from epoch 1"), "{stderr}");
    assert_eq!(metrics(&d.path("early/metrics.jsonl")), m);

    // interpolation endpoints are the decoded posterior means
    d.ok(&[
        "encode",
        "--run",
        "vae",
        "--data",
        "digits",
        "--out",
        "codes.npy",
    ]);
    d.ok(&[
        "decode",
        "--run",
        "vae",
        "--codes",
        "codes.npy",
        "--out",
        "dec.npy",
    ]);
    d.ok(&[
        "interpolate",
        "--run",
        "vae",
        "--data",
        "digits",
        "--from",
        "0,5",
        "--to",
        "1,6",
        "--steps",
        "7",
        "--out",
        "strip.npy",
    ]);
    let dec = npy::read(&d.path("dec.npy")).expect("dec").into_x();
    let strip = npy::read(&d.path("strip.npy")).expect("strip").into_x();
    assert_eq!(strip.nrows(), 14);
    for (strip_row, data_row) in [(0, 0), (6, 1), (7, 5), (13, 6)] {
        let diff = (&strip.row(strip_row) - &dec.row(data_row))
            .mapv(f32::abs)
            .fold(0.0f32, |a, &b| a.max(b));
        assert!(
            diff < 1e-4,
            "strip row {strip_row} vs decoded row {data_row}: {diff}"
        );
    }
    d.ok(&[
        "interpolate",
        "--run",
        "vae",
        "--data",
        "digits",
        "--from",
        "0",
        "--to",
        "1",
        "--slerp",
        "--out",
        "strip.png",
    ]);

    // prior samples, traversal, map with the decoded manifold
    let out = d.ok(&["sample", "--run", "vae", "--n", "12", "--out", "s.png"]);
    assert!(out.contains("the model's prior"), "{out}");
    d.ok(&["sample", "--run", "vae", "--n", "12", "--out", "s.npy"]);
    assert_eq!(npy::read(&d.path("s.npy")).expect("samples").n(), 12);
    d.ok(&[
        "traverse", "--run", "vae", "--dims", "all", "--steps", "5", "--out", "t.npy",
    ]);
    assert_eq!(npy::read(&d.path("t.npy")).expect("traversal").n(), 10);
    let err = d.fails(
        &[
            "traverse", "--run", "vae", "--dims", "0..2,9", "--out", "t2.png",
        ],
        1,
    );
    assert!(err.contains('9'), "{err}");
    // a range past K is refused too, not clipped
    let err = d.fails(
        &[
            "traverse", "--run", "vae", "--dims", "0..5", "--out", "t2.png",
        ],
        1,
    );
    assert!(err.contains("the latent dim is 2"), "{err}");
    d.ok(&[
        "map", "--run", "vae", "--data", "digits", "--out", "map.png",
    ]);
    let (w, h) = png_size(&d.path("map.png"));
    assert!(
        w > 800 && h >= 700,
        "scatter and manifold side by side: {w}×{h}"
    );
}

#[test]
fn pca_samples_without_its_training_data() {
    // The Gaussian of PCA's training codes is known in closed form (mean 0, the explained
    // variances): `latent sample` needs neither the data nor --data.
    let d = Dir::new();
    let x = latent_data::embedded::digits().expect("digits");
    npy::write_f32(&d.path("rows.npy"), x.x()).expect("write rows");
    d.ok(&[
        "fit",
        "--model",
        "pca",
        "--data",
        "rows.npy",
        "--latent-dim",
        "5",
        "--out",
        "pca",
    ]);
    std::fs::remove_file(d.path("rows.npy")).expect("remove rows");
    let s = d.ok(&[
        "sample", "--run", "pca", "--n", "16", "--seed", "3", "--out", "s.npy",
    ]);
    assert!(
        s.contains("Gaussian fitted to the training codes") && s.contains("has no prior"),
        "{s}"
    );
    let closed = npy::read_matrix(&d.path("s.npy")).expect("samples");
    // the same draws from the Gaussian fitted to the codes of the (same) rows given again:
    // equal up to the codes' f32 rounding (measured 9e-8 of the largest value)
    npy::write_f32(&d.path("again.npy"), x.x()).expect("write rows");
    d.ok(&[
        "sample",
        "--run",
        "pca",
        "--n",
        "16",
        "--seed",
        "3",
        "--data",
        "again.npy",
        "--out",
        "g.npy",
    ]);
    let fitted = npy::read_matrix(&d.path("g.npy")).expect("samples");
    assert_eq!(closed.dim(), (16, 64));
    let gap = (&closed - &fitted)
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = fitted.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        gap <= 1e-5 * scale,
        "closed form vs fitted to the codes: {gap} of {scale}"
    );
}

#[test]
fn autoencoders_sample_from_a_gaussian_fitted_to_their_codes() {
    let d = Dir::new();
    for model in ["ae", "linear-ae"] {
        let out = format!("{model}-run");
        let mut fit = vec![
            "fit",
            "--model",
            model,
            "--data",
            "digits",
            "--latent-dim",
            "3",
            "--epochs",
            "2",
            "--val-fraction",
            "0.1",
            "--out",
            &out,
        ];
        // the linear autoencoder has no hidden layers (--hidden is refused)
        if model == "ae" {
            fit.extend(["--hidden", "32"]);
        }
        d.ok(&fit);
        let m = metrics(&d.path(&format!("{out}/metrics.jsonl")));
        assert!(m[1]["val_loss"].as_f64().is_some(), "{m:?}");
        assert_eq!(m[1]["train_kl"].as_f64(), Some(0.0));
        let s = d.ok(&[
            "sample",
            "--run",
            &out,
            "--n",
            "8",
            "--out",
            &format!("{model}.png"),
        ]);
        assert!(
            s.contains("Gaussian fitted to the training codes") && s.contains("has no prior"),
            "{s}"
        );
        d.ok(&[
            "map",
            "--run",
            &out,
            "--data",
            "digits",
            "--out",
            &format!("{model}-map.png"),
        ]);
    }
    // PCA too: every exploration command works on every model
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    d.ok(&["sample", "--run", "pca", "--n", "8", "--out", "pca.png"]);
    d.ok(&[
        "traverse",
        "--run",
        "pca",
        "--dims",
        "0,1",
        "--range",
        "1",
        "--out",
        "pca-t.png",
    ]);
    d.ok(&[
        "map",
        "--run",
        "pca",
        "--data",
        "digits",
        "--out",
        "pca-map.png",
    ]);
    // bad settings are user errors
    let err = d.fails(
        &[
            "fit",
            "--model",
            "vae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--lr=-1",
            "--out",
            "x",
        ],
        1,
    );
    assert!(err.contains("lr"), "{err}");
    let err = d.fails(
        &[
            "fit",
            "--model",
            "vae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--device",
            "tpu",
            "--out",
            "x",
        ],
        1,
    );
    assert!(err.contains("tpu"), "{err}");
}

#[test]
fn conv_vae_on_images_and_a_clear_error_on_non_images() {
    let d = Dir::new();
    let out = d.ok(&[
        "fit",
        "--model",
        "vae",
        "--arch",
        "conv",
        "--conv-channels",
        "8,16",
        "--hidden",
        "32",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--epochs",
        "1",
        "--out",
        "cvae",
    ]);
    assert!(out.contains("conv [8, 16]"), "{out}");
    d.ok(&[
        "reconstruct",
        "--run",
        "cvae",
        "--data",
        "digits",
        "--out",
        "r.png",
    ]);
    let csv = d.path("plain.csv");
    std::fs::write(&csv, "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,1,2,3\n").expect("csv");
    let err = d.fails(
        &[
            "fit",
            "--model",
            "vae",
            "--arch",
            "conv",
            "--data",
            "plain.csv",
            "--latent-dim",
            "1",
            "--out",
            "x",
        ],
        1,
    );
    assert!(err.contains("conv needs image data"), "{err}");
}

#[test]
fn training_does_not_depend_on_the_thread_count() {
    // burn-flex multiplies large matrices on every core (gemm with rayon); each output tile
    // is one thread's whole inner product, so one thread and many give the same bits. The
    // hidden width puts the layers above burn-flex's threshold for going parallel.
    let d = Dir::new();
    for (threads, out) in [("1", "one"), ("4", "four")] {
        let o = Command::new(env!("CARGO_BIN_EXE_latent"))
            .args([
                "fit",
                "--model",
                "vae",
                "--data",
                "digits",
                "--latent-dim",
                "4",
                "--hidden",
                "2048",
                "--epochs",
                "1",
                "--out",
                out,
            ])
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(d.path(""))
            .output()
            .expect("run latent");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let read = |p: &str| std::fs::read(d.path(p)).expect("read");
    assert_eq!(
        read("one/model.safetensors"),
        read("four/model.safetensors")
    );
}

#[test]
fn eval_never_uses_evaluated_rows_as_reference_or_classifier_rows() {
    let d = Dir::new();
    // fitted on every row of digits; evaluated on a hold-out of those very rows
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "10",
        "--out",
        "all",
    ]);
    // the same evaluation as figures (--json) and with its notes on stderr (without)
    let eval = [
        "eval",
        "--run",
        "all",
        "--data",
        "digits",
        "--holdout",
        "30",
        "--split",
        "test",
        "--iw-samples",
        "0",
        "--samples",
        "300",
        "--continuity-points",
        "0",
    ];
    let mut json = eval.to_vec();
    json.push("--json");
    let out = d.latent(&json);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // completeness compares with the nearest reference row: with the evaluated rows in the
    // reference, real rows would be at distance 0 and the ratio would explode (it read 1,058)
    let completeness = m["completeness"].as_f64().expect("completeness");
    assert!(
        completeness > 0.1 && completeness < 10.0,
        "completeness {completeness}"
    );
    // the classifier's accuracy is measured on rows it never trained on
    let acc = m["classifier_accuracy"].as_f64().expect("accuracy");
    assert!(acc > 0.5 && acc < 1.0, "{acc}");
    let err = d.latent(&eval).stderr;
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("539 of the run's training rows are also evaluated")
            && err.contains("reference set: 1258 rows"),
        "{err}"
    );
}

#[test]
fn values_near_the_f32_limits_are_explained_or_scaled() {
    let d = Dir::new();
    let x = ndarray::Array2::from_shape_fn((60, 4), |(i, j)| {
        if j == 0 {
            (f64::from(i as u32) / 59.0).mul_add(4.0e38, -1.0e38) as f32
        } else {
            ((i * (j + 3)) % 7) as f32
        }
    });
    latent_data::npy::write_f32(&d.path("huge.npy"), x.view()).expect("write");
    // was "pca: symmetric eigendecomposition did not converge", no file, no cause (raw
    // values: `--scale auto` standardizes such rows)
    let err = d.fails(
        &[
            "fit",
            "--data",
            "huge.npy",
            "--latent-dim",
            "2",
            "--scale",
            "none",
            "--out",
            "r",
        ],
        1,
    );
    assert!(
        err.contains("huge.npy") && err.contains("overflow") && err.contains("--scale"),
        "{err}"
    );
    // was "the range -1e38..3e38 is empty"
    d.ok(&[
        "fit",
        "--data",
        "huge.npy",
        "--latent-dim",
        "2",
        "--scale",
        "unit",
        "--out",
        "r",
    ]);
    d.ok(&[
        "fit",
        "--data",
        "huge.npy",
        "--latent-dim",
        "2",
        "--scale",
        "standardize",
        "--out",
        "s",
    ]);
}

#[test]
fn a_learned_sigma_stops_at_its_floor_on_constant_features_and_says_so() {
    let d = Dir::new();
    // 8 of 20 features are always 0: their learned σ would shrink to 0 and the loss to −∞
    let x = ndarray::Array2::from_shape_fn((200, 20), |(i, j)| {
        if j < 8 {
            0.0
        } else {
            ((i * 31 + j * 17) % 97) as f32 / 97.0
        }
    });
    latent_data::npy::write_f32(&d.path("zeros.npy"), x.view()).expect("write");
    for engine in ["auto", "burn"] {
        let out = d.latent(&[
            "fit",
            "--model",
            "vae",
            "--data",
            "zeros.npy",
            "--scale",
            "none",
            "--likelihood",
            "gaussian-learned",
            "--latent-dim",
            "2",
            "--hidden",
            "32",
            "--epochs",
            "60",
            "--batch-size",
            "16",
            "--lr",
            "0.01",
            "--engine",
            engine,
            "--out",
            engine,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("8 of 20 learned σ reached the floor"),
            "{engine}: {err}"
        );
        let config = json_file(&d.path(&format!("{engine}/config.json")));
        assert_eq!(
            config["summary"]["learned_sigma_at_floor"],
            serde_json::json!(8),
            "{engine}"
        );
        // the loss is bounded: each constant feature contributes at least −6 + ½ log 2π
        let loss = config["summary"]["train_recon"]
            .as_f64()
            .expect("train_recon");
        assert!(loss > 8.0 * (-6.0 + 0.9189) - 1.0, "{engine}: {loss}");
    }
}

#[test]
fn f32_pca_on_unscaled_data_prints_the_f64_figures() {
    // wine-like: 13 columns of very different scales, the widest (a proline-like column,
    // mean ≈ 750, sd ≈ 300) last; the error left by 2 components is ≈ 1e-4 of the total
    let d = Dir::new();
    let mut csv = String::new();
    for i in 0..178u32 {
        let t = f64::from(i);
        let (a, b, c) = ((t * 0.37).sin(), (t * 0.11).cos(), (t * 0.73).sin());
        let row: Vec<String> = (0..13u32)
            .map(|j| {
                let scale = [
                    0.8, 1.1, 0.27, 3.3, 14.0, 0.6, 1.0, 0.12, 0.57, 2.3, 0.23, 0.7, 315.0,
                ][j as usize];
                let mean = [
                    13.0, 2.3, 2.4, 19.5, 99.7, 2.3, 2.0, 0.36, 1.6, 5.1, 0.96, 2.6, 747.0,
                ][j as usize];
                let noise = ((t * 1.3 + f64::from(j) * 2.1).sin() * 0.3).mul_add(1.0, 0.0);
                format!(
                    "{:.4}",
                    mean + scale * (a + 0.5 * b * f64::from(j % 3) + 0.2 * c + noise)
                )
            })
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    std::fs::write(d.path("wine.csv"), csv).expect("write");
    let mut figures = Vec::new();
    for precision in ["f32", "f64"] {
        d.ok(&[
            "fit",
            "--data",
            "wine.csv",
            "--scale",
            "none",
            "--latent-dim",
            "2",
            "--precision",
            precision,
            "--out",
            precision,
        ]);
        let config = json_file(&d.path(&format!("{precision}/config.json")));
        figures.push(
            config["summary"]["train_recon_sse_per_example"]
                .as_f64()
                .expect("the error"),
        );
    }
    let (f32_error, f64_error) = (figures[0], figures[1]);
    assert!(
        (f32_error - f64_error).abs() <= 1e-4 * f64_error,
        "f32 {f32_error} vs f64 {f64_error}"
    );
}

#[test]
fn degenerate_data_gets_figures_or_a_message_that_names_the_flag() {
    let d = Dir::new();
    let constant = ndarray::Array2::from_elem((50, 16), 3.0f32);
    latent_data::npy::write_f32(&d.path("const.npy"), constant.view()).expect("write");
    let one = ndarray::Array2::from_shape_fn((1, 16), |(_, j)| j as f32 / 16.0);
    latent_data::npy::write_f32(&d.path("one.npy"), one.view()).expect("write");
    // CR-only line endings (classic Mac OS): was "no data rows (only a header)"
    std::fs::write(d.path("cr.csv"), "a,b\r1,2\r3,5\r5,4\r").expect("write");
    let out = d.ok(&[
        "fit",
        "--data",
        "cr.csv",
        "--latent-dim",
        "1",
        "--out",
        "cr",
    ]);
    assert!(out.contains("2 → 1"), "{out}");
    assert_eq!(
        json_file(&d.path("cr/config.json"))["data"]["n"],
        serde_json::json!(3)
    );
    // one row: the flag that cannot be honoured is named (was "invalid parameter
    // `validation fraction`")
    let err = d.fails(
        &[
            "compare",
            "--data",
            "one.npy",
            "--latent-dims",
            "2",
            "--out",
            "c",
        ],
        1,
    );
    assert!(
        err.contains("--holdout 20") && err.contains("1 rows"),
        "{err}"
    );
    let err = d.fails(
        &[
            "fit",
            "--model",
            "vae",
            "--data",
            "one.npy",
            "--latent-dim",
            "2",
            "--val-fraction",
            "0.1",
            "--out",
            "v",
        ],
        1,
    );
    assert!(err.contains("--val-fraction 0.1"), "{err}");
    // constant data: evaluated, without a continuity figure, saying why (was "invalid
    // parameter `x`")
    d.ok(&[
        "fit",
        "--model",
        "vae",
        "--data",
        "const.npy",
        "--latent-dim",
        "2",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--out",
        "vc",
    ]);
    let run = d.latent(&["eval", "--run", "vc", "--data", "const.npy"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("continuity is not measured"), "{err}");
    let run = d.latent(&["eval", "--run", "vc", "--data", "const.npy", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json");
    assert!(json.get("continuity").is_none(), "{json}");
    assert!(json["recon_mse"].as_f64().is_some(), "{json}");
    // one row: evaluated too
    d.ok(&["eval", "--run", "vc", "--data", "one.npy"]);
    // compare on constant data: every model measured, and no "+inf %" (PCA's error is 0) or
    // "NaN" in the readings
    d.ok(&[
        "compare",
        "--data",
        "const.npy",
        "--latent-dims",
        "2",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--out",
        "cmp",
    ]);
    let summary = json_file(&d.path("cmp/summary.json"));
    let reading = summary["reading"].to_string();
    assert!(
        !reading.contains("inf %") && !reading.contains("NaN"),
        "{reading}"
    );
}
