//! Memory is bounded (issue 16, item 2): what a data file or a flag will cost is checked
//! before anything is allocated, refused with exit 1 when it exceeds the limit
//! (`--max-memory`, `LATENT_MAX_MEMORY`, else the memory available), and an allocation the
//! system refuses anyway ends with exit 2 and a message — never an abort.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::Dir;

/// An NPY file whose header honestly claims `rows × cols` f4 values; the data is a hole
/// (a sparse file: nothing is written, but its size is right).
fn sparse_npy(path: &Path, rows: u64, cols: u64) {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    let len = bytes.len() as u64 + rows * cols * 4;
    std::fs::write(path, &bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn flags_that_would_need_too_much_memory_are_refused_before_anything_is_allocated() {
    let s = Dir::new();
    s.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    s.ok(&[
        "fit",
        "--model",
        "vae",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--out",
        "vae",
    ]);
    let big = "1000000000";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sample", "--run", "vae", "--n", big, "--out", "s.npy"],
            "--n 1000000000",
        ),
        (
            vec!["traverse", "--run", "vae", "--steps", big, "--out", "t.png"],
            "--steps 1000000000",
        ),
        (
            vec![
                "interpolate",
                "--run",
                "vae",
                "--data",
                "digits",
                "--from",
                "0",
                "--to",
                "1",
                "--steps",
                big,
                "--out",
                "i.png",
            ],
            "--steps 1000000000",
        ),
        (
            vec![
                "map", "--run", "vae", "--data", "digits", "--grid", "1000000", "--out", "m.png",
            ],
            "--grid 1000000",
        ),
        (
            vec![
                "eval",
                "--run",
                "vae",
                "--data",
                "digits",
                "--iw-samples",
                "100000000000",
            ],
            "--iw-samples 100000000000",
        ),
        // before any model is fitted
        (
            vec![
                "compare",
                "--data",
                "digits",
                "--latent-dims",
                "2",
                "--iw-samples",
                "100000000000",
                "--out",
                "cmp",
            ],
            "--iw-samples 100000000000",
        ),
        (
            vec!["sample", "--run", "pca", "--n", big, "--out", "s.npy"],
            "--n 1000000000",
        ),
    ];
    for (args, flag) in cases {
        let err = s.fails(&args, 1);
        assert!(
            err.contains(flag) && err.contains("would need") && err.contains("--max-memory"),
            "{args:?}: {err}"
        );
        // one error line (notes on the data may precede it)
        assert_eq!(err.matches("error:").count(), 1, "{err}");
        assert!(
            err.trim_end()
                .lines()
                .last()
                .unwrap_or("")
                .starts_with("error: "),
            "{err}"
        );
    }
    for f in [
        "s.npy",
        "t.png",
        "i.png",
        "m.png",
        "cmp/runs",
        "cmp/summary.json",
    ] {
        assert!(!s.path(f).exists(), "{f}");
    }
    // a lower limit (flag or environment) refuses what the default allows, and says whose
    // limit it is
    let err = s.fails(
        &[
            "--max-memory",
            "1M",
            "sample",
            "--run",
            "vae",
            "--n",
            "10000",
            "--out",
            "s.npy",
        ],
        1,
    );
    assert!(err.contains("the limit set by --max-memory"), "{err}");
    let err = s.fails_env(
        &["sample", "--run", "vae", "--n", "10000", "--out", "s.npy"],
        &[("LATENT_MAX_MEMORY", "1M")],
        1,
    );
    assert!(err.contains("1.0 MiB"), "{err}");
    let err = s.fails_env(
        &["info", "--run", "vae"],
        &[("LATENT_MAX_MEMORY", "lots")],
        1,
    );
    assert!(err.contains("LATENT_MAX_MEMORY=lots"), "{err}");
    s.ok(&["sample", "--run", "vae", "--n", "16", "--out", "s.npy"]);
}

#[test]
fn data_files_are_checked_against_the_limit_before_they_are_read() {
    let s = Dir::new();
    // an honest header on a sparse file: 3.4 million rows of 784 values (10.7 GB of holes)
    let npy = s.path("sparse.npy");
    sparse_npy(&npy, 3_400_000, 784);
    let err = s.fails(
        &[
            "--max-memory",
            "4G",
            "fit",
            "--data",
            "sparse.npy",
            "--latent-dim",
            "2",
            "--out",
            "r",
        ],
        1,
    );
    assert!(
        err.contains("sparse.npy") && err.contains("(3400000, 784)") && err.contains("would need"),
        "{err}"
    );
    assert!(!s.path("r").exists());

    // a CSV that is a device never ends: refused, naming it
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/dev/zero", s.path("zero.csv")).unwrap();
        let err = s.fails(
            &[
                "fit",
                "--data",
                "zero.csv",
                "--latent-dim",
                "2",
                "--out",
                "r",
            ],
            1,
        );
        assert!(err.contains("zero.csv") && err.contains("device"), "{err}");
        // weights that are a device: refused as not a regular file
        s.ok(&[
            "fit",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--out",
            "run",
        ]);
        std::fs::remove_file(s.path("run/model.safetensors")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", s.path("run/model.safetensors")).unwrap();
        let err = s.fails(&["info", "--run", "run"], 1);
        assert!(
            err.contains("model.safetensors") && err.contains("not a regular file"),
            "{err}"
        );
    }

    // a CSV larger than its share of the limit: refused with the size
    let rows: String = (0..2000)
        .map(|i| format!("{i},{},{}\n", i * 2, i % 7))
        .collect();
    std::fs::write(s.path("rows.csv"), rows).unwrap();
    let err = s.fails(
        &[
            "--max-memory",
            "40K",
            "fit",
            "--data",
            "rows.csv",
            "--latent-dim",
            "2",
            "--out",
            "r",
        ],
        1,
    );
    assert!(
        err.contains("rows.csv") && err.contains("--max-memory"),
        "{err}"
    );
    s.ok(&[
        "fit",
        "--data",
        "rows.csv",
        "--latent-dim",
        "2",
        "--out",
        "r",
    ]);
}

#[test]
fn one_huge_label_value_is_one_class_not_a_huge_classifier() {
    let s = Dir::new();
    let mut csv = String::from("a,b,c,d,label\n");
    for i in 0..90 {
        let class = [0u64, 7, 50_000_000][i % 3];
        let base = (i % 3) as f32;
        csv.push_str(&format!(
            "{},{},{},{},{class}\n",
            base + (i as f32 * 0.37).sin() * 0.1,
            base * 2.0 + (i as f32 * 0.11).cos() * 0.1,
            -base + (i as f32 * 0.7).sin() * 0.1,
            (i as f32 * 0.05).cos(),
        ));
    }
    std::fs::write(s.path("labels.csv"), csv).unwrap();
    s.ok(&[
        "fit",
        "--model",
        "ae",
        "--data",
        "labels.csv",
        "--label-column",
        "label",
        "--holdout",
        "30",
        "--latent-dim",
        "2",
        "--hidden",
        "8",
        "--epochs",
        "2",
        "--out",
        "run",
    ]);
    // was: a classifier with 50,000,001 outputs (25.6 GB) and an abort
    let out = s.latent(&[
        "--max-memory",
        "2G",
        "eval",
        "--run",
        "run",
        "--data",
        "labels.csv",
        "--label-column",
        "label",
        "--holdout",
        "30",
        "--split",
        "test",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accuracy = json
        .get("classifier_accuracy")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{json}"));
    // three classes (chance: 1/3)
    assert!(accuracy > 0.5, "{accuracy}");
}

#[test]
fn an_allocation_the_system_refuses_exits_2_with_a_message() {
    let s = Dir::new();
    s.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    // the limit raised far above what the process may map (ulimit -v 3 GB): the estimate
    // passes, the allocation fails
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 3000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_latent"))
        .args([
            "--max-memory",
            "1T",
            "sample",
            "--run",
            "pca",
            "--n",
            "10000000",
            "--out",
            "s.npy",
        ])
        .current_dir(s.0.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: out of memory: the system refused an allocation of "),
        "{err}"
    );
    assert!(!s.path("s.npy").exists());
}
