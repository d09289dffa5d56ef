//! `--out` and `--force` never touch what latent did not write: the current directory, a
//! parent, the input data, a directory or file of the user's. Each case runs the real binary
//! in a scratch directory full of foreign files and checks, byte for byte, that every one of
//! them is still there afterwards.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ndarray::Array2;

/// Every file under `root` (relative path → content), directories as empty entries.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, None);
                stack.push(e.path());
            } else {
                out.insert(rel, Some(std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// A scratch directory holding a user's files: notes, a data folder with an NPY data set,
/// a sub-folder, and files named like latent's outputs.
struct Scratch {
    dir: tempfile::TempDir,
    before: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("notes.txt"), b"my notes").unwrap();
        std::fs::create_dir_all(p.join("data")).unwrap();
        let x = Array2::from_shape_fn((60, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 10.0);
        latent_data::npy::write_f32(&p.join("data/x.npy"), x.view()).unwrap();
        std::fs::write(p.join("data/README"), b"where my data came from").unwrap();
        std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
        std::fs::write(p.join("sub/deeper/thesis.tex"), b"\\chapter{}").unwrap();
        // files of the user's that happen to carry the names latent writes
        std::fs::write(p.join("codes.npy"), b"not latent's").unwrap();
        std::fs::write(p.join("samples.png"), b"a photo").unwrap();
        std::fs::write(p.join("table.csv"), b"my,spreadsheet\n1,2\n").unwrap();
        std::fs::create_dir_all(p.join("cmp")).unwrap();
        std::fs::write(p.join("cmp/summary.json"), b"{\"mine\": true}").unwrap();
        std::fs::create_dir_all(p.join("fake-run")).unwrap();
        std::fs::write(
            p.join("fake-run/config.json"),
            b"{\"format\": \"something-else\"}",
        )
        .unwrap();
        let before = snapshot(p);
        Scratch { dir, before }
    }

    fn latent_in(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_latent"))
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("run latent")
    }

    fn latent(&self, args: &[&str]) -> Output {
        self.latent_in(self.dir.path(), args)
    }

    /// Run `args`, require a clear refusal (exit 1, no panic, the message containing `says`).
    fn refused(&self, args: &[&str], says: &str) {
        self.refused_in(self.dir.path(), args, says);
    }

    fn refused_in(&self, cwd: &Path, args: &[&str], says: &str) {
        let out = self.latent_in(cwd, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "latent {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains(says), "latent {args:?}: {err}");
    }

    fn ok(&self, args: &[&str]) {
        let out = self.latent(args);
        assert!(
            out.status.success(),
            "latent {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every foreign file is still there with its content.
    fn untouched(&self) {
        let now = snapshot(self.dir.path());
        for (path, content) in &self.before {
            assert_eq!(
                now.get(path),
                Some(content),
                "{} was changed or removed",
                path.display()
            );
        }
    }
}

const FIT: [&str; 5] = ["fit", "--data", "data/x.npy", "--latent-dim", "2"];

fn fit_to<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = FIT.to_vec();
    v.extend(["--out", out]);
    v.extend(extra);
    v
}

#[test]
fn fit_force_never_replaces_what_latent_did_not_write() {
    let s = Scratch::new();
    // the current directory, a parent through `..`, the data folder, the data file itself
    s.refused(&fit_to(".", &["--force"]), "not a usable output name");
    s.refused(&fit_to("sub/..", &["--force"]), "not a usable output name");
    s.refused(
        &fit_to(&format!("{}", s.dir.path().display()), &["--force"]),
        "current directory",
    );
    s.refused(&fit_to("data", &["--force"]), "input");
    s.refused(&fit_to("data/x.npy", &["--force"]), "is a file");
    // a directory of the user's, one that merely looks like a run, and the same through a
    // neural model's fit
    s.refused(
        &fit_to("sub", &["--force"]),
        "only directories latent wrote",
    );
    s.refused(
        &fit_to("fake-run", &["--force"]),
        "only directories latent wrote",
    );
    let mut vae = fit_to("sub", &["--force", "--model", "vae", "--epochs", "1"]);
    s.refused(&vae, "only directories latent wrote");
    vae[6] = "data";
    s.refused(&vae, "input");
    // from inside a sub-directory: its parent holds the current directory
    s.refused_in(
        &s.dir.path().join("sub/deeper"),
        &[
            "fit",
            "--data",
            "../../data/x.npy",
            "--latent-dim",
            "2",
            "--out",
            "../../sub",
            "--force",
        ],
        "current directory",
    );
    // without --force, any existing path is refused
    s.refused(&fit_to("notes.txt", &[]), "already exists");
    s.untouched();

    // latent's own run is replaced, for PCA and the neural models alike
    s.ok(&fit_to("run", &[]));
    s.ok(&fit_to("run", &["--force"]));
    s.ok(&fit_to(
        "run",
        &["--force", "--model", "ae", "--epochs", "1", "--hidden", "8"],
    ));
    s.ok(&fit_to("run", &["--force"]));
    // a foreign file dropped into the run makes it the user's
    std::fs::write(s.dir.path().join("run/my-notes.txt"), b"mine").unwrap();
    s.refused(&fit_to("run", &["--force"]), "my-notes.txt");
    assert!(s.dir.path().join("run/my-notes.txt").is_file());
    s.untouched();
}

#[test]
fn file_outputs_replace_only_files_latent_wrote() {
    let s = Scratch::new();
    s.ok(&fit_to("run", &[]));
    let encode = |out: &'static str, force: bool| {
        let mut v = vec![
            "encode",
            "--run",
            "run",
            "--data",
            "data/x.npy",
            "--out",
            out,
        ];
        if force {
            v.push("--force");
        }
        v
    };
    s.refused(&encode("codes.npy", false), "already exists");
    s.refused(&encode("codes.npy", true), "not written by latent");
    s.refused(&encode("data/x.npy", true), "input");
    std::os::unix::fs::symlink("notes.txt", s.dir.path().join("link.npy")).unwrap();
    s.refused(&encode("link.npy", true), "symbolic link");
    s.refused(
        &[
            "sample",
            "--run",
            "run",
            "--n",
            "4",
            "--out",
            "samples.png",
            "--force",
        ],
        "not written by latent",
    );
    // a file latent wrote is replaced; edited since, it is the user's
    s.ok(&encode("mine.npy", false));
    s.ok(&encode("mine.npy", true));
    std::fs::write(s.dir.path().join("mine.npy"), b"edited by hand").unwrap();
    s.refused(&encode("mine.npy", true), "changed since");
    assert_eq!(
        std::fs::read(s.dir.path().join("mine.npy")).unwrap(),
        b"edited by hand"
    );
    // every command writing a file, pointed at a foreign file, with --force
    for args in [
        vec![
            "decode",
            "--run",
            "run",
            "--codes",
            "data/x.npy",
            "--out",
            "codes.npy",
        ],
        vec!["sample", "--run", "run", "--n", "4", "--out", "codes.npy"],
        vec![
            "traverse",
            "--run",
            "run",
            "--dims",
            "0",
            "--out",
            "codes.npy",
        ],
        vec![
            "interpolate",
            "--run",
            "run",
            "--data",
            "data/x.npy",
            "--from",
            "0",
            "--to",
            "1",
            "--out",
            "codes.npy",
        ],
        vec![
            "reconstruct",
            "--run",
            "run",
            "--data",
            "data/x.npy",
            "--out",
            "codes.npy",
        ],
    ] {
        let mut forced = args.clone();
        forced.push("--force");
        s.refused(&forced, "codes.npy: was not written by latent");
        // the same command writing a table over a CSV file of the user's
        let table: Vec<&str> = forced
            .iter()
            .map(|&a| if a == "codes.npy" { "table.csv" } else { a })
            .collect();
        if table[0] != "traverse" {
            s.refused(&table, "table.csv: was not written by latent");
        }
    }
    // latent's own CSV outputs are replaced with --force
    let sample_csv = ["sample", "--run", "run", "--n", "4", "--out", "s.csv"];
    s.ok(&sample_csv);
    s.refused(&sample_csv, "already exists");
    let mut forced = sample_csv.to_vec();
    forced.push("--force");
    s.ok(&forced);
    s.refused(
        &[
            "encode",
            "--run",
            "run",
            "--data",
            "data/x.npy",
            "--out",
            "notes.txt",
            "--force",
        ],
        "unsupported output type",
    );
    s.untouched();
}

#[test]
fn compare_force_refuses_a_directory_latent_did_not_write() {
    let s = Scratch::new();
    let compare = |out: &'static str, force: bool| {
        let mut v = vec![
            "compare",
            "--data",
            "data/x.npy",
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
            "0",
            "--out",
            out,
        ];
        if force {
            v.push("--force");
        }
        v
    };
    s.refused(&compare("cmp", true), "only directories latent wrote");
    s.refused(&compare("sub", true), "only directories latent wrote");
    s.refused(&compare("data", true), "input");
    s.untouched();
    s.ok(&compare("mine", false));
    s.ok(&compare("mine", true));
    std::fs::write(s.dir.path().join("mine/runs/notes.txt"), b"mine").unwrap();
    s.refused(&compare("mine", true), "notes.txt");
    s.untouched();
}

#[test]
fn a_second_writer_is_refused_and_told_who_holds_the_lock() {
    let s = Scratch::new();
    // a live process (this test) holds the lock of `run`
    std::fs::write(
        s.dir.path().join(".run.lock"),
        format!("{}\nlatent fit --out run\n", std::process::id()),
    )
    .unwrap();
    s.refused(&fit_to("run", &[]), &format!("pid {}", std::process::id()));
    assert!(!s.dir.path().join("run").exists());
    // a lock left by a process that is gone is taken over
    std::fs::write(s.dir.path().join(".run.lock"), "4000000000\nlatent fit\n").unwrap();
    s.ok(&fit_to("run", &[]));
    assert!(!s.dir.path().join(".run.lock").exists());
    s.untouched();
}
