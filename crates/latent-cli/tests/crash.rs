//! Crash, resume and full-disk tests of `latent fit` with the real binary.
//!
//! A VAE run is killed with SIGKILL at chosen and at staggered moments (mid-epoch and in the
//! middle of a checkpoint write); after every kill the run directory must be consistent —
//! every visible checkpoint loads, a finished run loads, at most the epoch in progress is
//! lost — and `latent fit --resume` must finish with exactly the metrics and weights of an
//! uninterrupted run. A full disk is simulated with a file-size limit (`ulimit -f`, with
//! SIGXFSZ ignored so that the write fails with EFBIG).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

mod common;

use common::Dir;
use latent_core::tensors::Tensors;
use latent_nn::checkpoint;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_latent");

/// The run every test makes (4 epochs of 157 steps, a checkpoint after each).
fn fit_args(out: &str) -> Vec<String> {
    [
        "fit",
        "--model",
        "vae",
        "--data",
        "fashion-mnist-10k",
        "--latent-dim",
        "8",
        "--hidden",
        "64",
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "--seed",
        "9",
        // a checkpoint after every epoch: the kills below aim at them
        "--checkpoint-every",
        "1",
        "--out",
        out,
    ]
    .map(String::from)
    .to_vec()
}

fn resume_args(out: &str) -> Vec<String> {
    ["fit", "--resume", "--checkpoint-every", "1", "--out", out]
        .map(String::from)
        .to_vec()
}

/// `latent info --run RUN` succeeds: the run loads.
fn assert_info_loads(run: &Path) {
    let out = Command::new(BIN)
        .args(["info", "--run"])
        .arg(run)
        .output()
        .expect("run latent");
    assert!(
        out.status.success(),
        "{}: {}",
        run.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGKILL `child` and return what it printed; fails the test if it had already exited
/// (the kill must interrupt it).
fn kill(mut child: Child) -> (String, String) {
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the run finished before it was killed ({status:?}):\n{out}\n{err}"
    );
    (out, err)
}

/// Poll `cond` every millisecond until it holds or `timeout` passes.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

const TIMEOUT: Duration = Duration::from_secs(300);

/// metrics.jsonl, one JSON object per line, without the wall-clock `seconds`.
fn metrics(run: &Path) -> Vec<Value> {
    metric_lines(run)
        .iter()
        .map(|l| serde_json::from_str(l).expect("a metrics line is JSON"))
        .collect()
}

/// The lines of metrics.jsonl as written, without the `"seconds":…` field.
fn metric_lines(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines()
        .map(|l| {
            let at = l.find(",\"seconds\":").expect("seconds");
            let len = l[at + 1..].find(',').expect("a field after seconds") + 1;
            format!("{}{}", &l[..at], &l[at + len..])
        })
        .collect()
}

/// The final weights, read from model.safetensors (its bytes are not compared: the header's
/// metadata is written from a hash map, in any order).
fn final_weights(run: &Path) -> Tensors {
    let path = run.join("model.safetensors");
    Tensors::from_bytes(&path, &std::fs::read(&path).unwrap()).unwrap()
}

/// The SHA-256 sums of the last checkpoint's weight files.
fn last_checkpoint_sums(run: &Path) -> (String, String) {
    let c = checkpoint::load(&checkpoint::epoch_dir(&ckpt_dir(run), 4)).unwrap();
    (c.state.model_sha256, c.state.optimizer_sha256)
}

struct Reference {
    lines: Vec<String>,
    weights: Tensors,
    sums: (String, String),
}

/// The uninterrupted run, made once for all tests.
static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    let d = Dir::new();
    d.run(&fit_args("run"));
    let run = d.root().join("run");
    let lines = metric_lines(&run);
    assert_eq!(lines.len(), 4);
    Reference {
        lines,
        weights: final_weights(&run),
        sums: last_checkpoint_sums(&run),
    }
});

/// Relative difference allowed in the metrics of epochs replayed from a checkpoint's
/// state.json: serde_json's default float parser is not correctly rounded (its
/// `float_roundtrip` feature is off), so a value read back can be 1 ulp (~1e-16) off.
const JSON_ROUNDTRIP_RTOL: f64 = 1e-14;

/// The run's metrics and weights equal the uninterrupted run's: exactly for the epochs
/// trained after the last resume (`resumed_after`) and for all weights; the metrics of
/// earlier epochs, read back from state.json, within [`JSON_ROUNDTRIP_RTOL`].
fn assert_matches_reference(run: &Path, resumed_after: usize) {
    assert_eq!(metric_lines(run).len(), REFERENCE.lines.len());
    assert_metrics_match_reference(run, resumed_after);
    assert_eq!(
        last_checkpoint_sums(run),
        REFERENCE.sums,
        "the last checkpoint's weights or Adam state differ from the uninterrupted run's"
    );
    assert!(
        final_weights(run) == REFERENCE.weights,
        "the final weights differ from the uninterrupted run's"
    );
}

/// The run's metrics.jsonl equals the first lines of the uninterrupted run's, as in
/// [`assert_matches_reference`].
fn assert_metrics_match_reference(run: &Path, resumed_after: usize) {
    let got = metric_lines(run);
    assert!(got.len() <= REFERENCE.lines.len(), "{got:#?}");
    for (i, (g, r)) in got.iter().zip(&REFERENCE.lines).enumerate() {
        if i >= resumed_after {
            assert_eq!(g, r, "epoch {}: resumed ≠ uninterrupted", i + 1);
            continue;
        }
        let (g, r): (Value, Value) = (
            serde_json::from_str(g).unwrap(),
            serde_json::from_str(r).unwrap(),
        );
        for (key, rv) in r.as_object().unwrap() {
            let gv = &g[key];
            match (gv.as_f64(), rv.as_f64()) {
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() <= JSON_ROUNDTRIP_RTOL * b.abs(),
                    "epoch {}: {key}: resumed {a} vs uninterrupted {b}",
                    i + 1
                ),
                _ => assert_eq!(gv, rv, "epoch {}: {key}", i + 1),
            }
        }
    }
}

fn ckpt_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Hidden staging directories under checkpoints/.
fn staging(run: &Path) -> Vec<String> {
    std::fs::read_dir(ckpt_dir(run))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".staging-"))
                .collect()
        })
        .unwrap_or_default()
}

/// The epochs `latent` printed as finished (`epoch N/4: …` lines).
fn printed_epochs(stdout: &str) -> Vec<usize> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("epoch ")?.split('/').next()?.parse().ok())
        .collect()
}

/// The epoch a resumed run said it continues after.
fn resumed_after(stderr: &str) -> usize {
    let rest = stderr
        .split("resuming after epoch ")
        .nth(1)
        .unwrap_or_else(|| panic!("no resume note in:\n{stderr}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// After a kill: every visible checkpoint loads and is the epoch it claims, metrics.jsonl
/// is whole, a config.json means a loadable run. Returns the newest checkpoint epoch.
fn assert_consistent(run: &Path) -> usize {
    let dir = ckpt_dir(run);
    let mut epochs = checkpoint::list(&dir).unwrap();
    epochs.sort_unstable();
    // KEEP, plus one for each kill that landed between the rename of a new checkpoint and
    // the pruning of the oldest: the staggered test's last two kills both aim there, and
    // under load both can land before the pruning (the next checkpoint prunes them all)
    assert!(epochs.len() <= checkpoint::KEEP + 2, "{epochs:?}");
    for &e in &epochs {
        let c = checkpoint::load(&checkpoint::epoch_dir(&dir, e))
            .unwrap_or_else(|err| panic!("checkpoint of epoch {e} does not load: {err}"));
        assert_eq!(c.state.epoch, e);
        assert_eq!(c.state.history.len(), e);
    }
    // the staging directories a kill leaves are not checkpoints
    assert!(staging(run).iter().all(|s| !s.starts_with("epoch-")));
    let newest = epochs.last().copied().unwrap_or(0);
    if run.join("metrics.jsonl").exists() {
        let m = metrics(run);
        let numbered: Vec<u64> = m.iter().map(|v| v["epoch"].as_u64().unwrap()).collect();
        assert_eq!(numbered, (1..=m.len() as u64).collect::<Vec<_>>());
        assert!(m.len() <= newest, "metrics ahead of the checkpoints");
    }
    if run.join("config.json").exists() {
        assert_eq!(newest, 4, "config.json before the last epoch");
        assert_info_loads(run);
    }
    newest
}

#[test]
fn killed_mid_epoch_resumes_exactly() {
    let d = Dir::new();
    let run = d.root().join("run");
    let started = Instant::now();
    let child = d.spawn(&fit_args("run"));
    let first = checkpoint::epoch_dir(&ckpt_dir(&run), 1);
    assert!(wait_for(TIMEOUT, || first.join("state.json").exists()));
    // a third of an epoch into epoch 2 (the time to the first checkpoint includes start-up)
    std::thread::sleep(started.elapsed() / 3);
    let (out, _) = kill(child);
    assert!(!run.join("config.json").exists());
    let newest = assert_consistent(&run);
    let printed = printed_epochs(&out);
    assert!(newest >= printed.len() && newest <= printed.len() + 1);
    assert!(newest < 4, "killed too late to test a resume");
    // what a writer killed in a checkpoint write leaves (a dead process's staging
    // directory, half written): ignored by the resume, removed by its first checkpoint
    let junk = ckpt_dir(&run).join(".staging-3-4000000");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("state.json"), "{\"epoch\": 3, ").unwrap();
    // and what an atomic write killed before its rename leaves: a hidden temporary file
    let half = run.join(".metrics.jsonl.4000000000.tmp");
    std::fs::write(&half, "{\"epoch\": 1, \"tr").unwrap();

    let resumed = d.run(&resume_args("run"));
    assert_eq!(
        resumed_after(&String::from_utf8_lossy(&resumed.stderr)),
        newest
    );
    assert_matches_reference(&run, newest);
    assert_eq!(assert_consistent(&run), 4);
    assert!(
        !junk.exists(),
        "the dead writer's staging directory is removed"
    );
    assert!(
        !half.exists(),
        "the dead writer's temporary file is removed"
    );
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("left by an interrupted write"));
}

/// Wait until `child` has a staging directory that was not there `before` (or until the run
/// is finished); the time it appeared.
fn wait_for_new_staging(run: &Path, before: &[String]) -> Instant {
    assert!(
        wait_for(TIMEOUT, || {
            staging(run).iter().any(|s| !before.contains(s)) || run.join("config.json").exists()
        }),
        "no checkpoint write started"
    );
    Instant::now()
}

#[test]
fn kills_at_staggered_moments_never_corrupt_the_run() {
    let d = Dir::new();
    let run = d.root().join("run");
    let dir = ckpt_dir(&run);

    // Kill 1: right after the first checkpoint is renamed into place (while the old ones
    // are pruned and metrics.jsonl is written, or early in epoch 2). On the way, time one
    // checkpoint write: staging directory → epoch-0001.
    let child = d.spawn(&fit_args("run"));
    let first = checkpoint::epoch_dir(&dir, 1);
    let staged = wait_for_new_staging(&run, &[]);
    assert!(wait_for(TIMEOUT, || first.exists()));
    let write = staged.elapsed().max(Duration::from_micros(500));
    let (out, _) = kill(child);
    let mut newest = assert_consistent(&run);
    assert!(newest >= 1 && newest <= printed_epochs(&out).len() + 1);
    let mut leftovers = staging(&run).len();

    // Kills 2–5: resumed runs killed during their first checkpoint write: at staggered
    // fractions of its duration (creating and syncing the files), and just after the
    // rename into place (pruning the oldest checkpoint, writing metrics.jsonl).
    for (i, moment) in [Some(0.0), Some(0.5), None, None].into_iter().enumerate() {
        let kill_no = i + 2;
        let before = staging(&run);
        let child = d.spawn(&resume_args("run"));
        let next = checkpoint::epoch_dir(&dir, newest + 1);
        let when = match moment {
            Some(fraction) => {
                wait_for_new_staging(&run, &before);
                std::thread::sleep(write.mul_f64(fraction));
                format!(
                    "{:?} into a checkpoint write of ~{write:?}",
                    write.mul_f64(fraction)
                )
            }
            None => {
                assert!(wait_for(TIMEOUT, || next.exists()));
                format!("when {} appeared", next.display())
            }
        };
        let (out, err) = kill(child);
        let start = resumed_after(&err);
        assert_eq!(
            start, newest,
            "kill {kill_no}: resumed from the wrong epoch"
        );
        let now = assert_consistent(&run);
        let done = printed_epochs(&out).last().copied().unwrap_or(start);
        // what was reported done is on disk; at most the epoch in progress is lost
        assert!(
            now >= done && now <= done + 1,
            "kill {kill_no}: checkpoints reach epoch {now}, {done} reported done"
        );
        if moment.is_none() {
            assert_eq!(now, newest + 1);
        }
        newest = now;
        leftovers = leftovers.max(staging(&run).len());
        eprintln!(
            "kill {kill_no}: {when}; newest checkpoint {now}; hidden: {:?}",
            staging(&run)
        );
    }
    eprintln!("hidden staging directories left by kills, at most: {leftovers}");

    let resumed = d.run(&resume_args("run"));
    assert_eq!(
        resumed_after(&String::from_utf8_lossy(&resumed.stderr)),
        newest
    );
    assert_matches_reference(&run, newest);
    assert_eq!(assert_consistent(&run), 4);
    assert_eq!(
        staging(&run),
        Vec::<String>::new(),
        "staging directories of killed runs are cleaned up"
    );
}

/// `latent ARGS` under a file-size limit of `kib` KiB: a write past it fails with EFBIG
/// (SIGXFSZ ignored), as on a full disk.
fn latent_with_fsize_limit(dir: &Path, kib: u64, args: &[String]) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {kib} && exec \"$0\" \"$@\""
        ))
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run bash")
}

#[test]
fn full_disk_during_a_checkpoint_keeps_the_previous_one() {
    let d = Dir::new();
    let run = d.root().join("run");
    let dir = ckpt_dir(&run);
    let mut args = fit_args("run");
    let e = args.iter().position(|a| a == "--epochs").unwrap();
    args[e + 1] = "1".into();
    d.run(&args);
    let first = checkpoint::epoch_dir(&dir, 1);
    let saved = checkpoint::load(&first).unwrap();
    let size = |f: &str| std::fs::metadata(first.join(f)).unwrap().len();
    let (model, optim) = (size("model.safetensors"), size("optimizer.safetensors"));
    assert!(optim > model + 4096);

    // The limit stops the first weights file, then (a larger limit) the second.
    let mut resume = resume_args("run");
    resume.extend(["--epochs".to_string(), "2".to_string()]);
    for (limit, file) in [
        (model / 2048, "model.safetensors"),
        ((model + optim) / 2048, "optimizer.safetensors"),
    ] {
        let out = latent_with_fsize_limit(d.root(), limit, &resume);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "limit {limit} KiB: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let line = stderr.lines().find(|l| l.starts_with("error:")).unwrap();
        assert!(
            line.contains(file) && line.contains("File too large"),
            "limit {limit} KiB: the error names the file and the cause: {stderr}"
        );
        // the previous checkpoint is intact and is still the newest; the finished 1-epoch
        // run still loads
        assert_eq!(checkpoint::list(&dir).unwrap(), [1]);
        let again = checkpoint::load(&first).unwrap();
        assert_eq!(again.state, saved.state);
        assert_eq!(again.params, saved.params);
        assert_consistent_one_epoch(&run);
        assert_eq!(
            staging(&run),
            Vec::<String>::new(),
            "a failed checkpoint write removes its staging directory"
        );
    }

    // With space again, the resume completes, as if nothing had happened: the same
    // epoch 2 as the uninterrupted run's.
    let out = d.run(&resume);
    assert_eq!(resumed_after(&String::from_utf8_lossy(&out.stderr)), 1);
    assert_eq!(metric_lines(&run).len(), 2);
    assert_metrics_match_reference(&run, 1);
    assert_eq!(checkpoint::list(&dir).unwrap().len(), 2);
    assert_info_loads(&run);
}

fn assert_consistent_one_epoch(run: &Path) {
    let m = metrics(run);
    assert_eq!(m.len(), 1);
    assert_info_loads(run);
}

/// A kill after the last checkpoint is on disk but before the run is finished leaves
/// metrics.jsonl behind the checkpoint and, when pruning was under way, a hidden directory;
/// a resume with no epoch left to train must still rebuild the metrics from the
/// checkpoint's history and clean up (both found by the staggered-kill test, whose fifth
/// kill can land in that window).
#[test]
fn resume_with_nothing_left_to_train_repairs_the_run() {
    let d = Dir::new();
    let run = d.root().join("run");
    d.run(&fit_args("run"));
    let lines = metric_lines(&run);
    assert_eq!(lines.len(), 4);
    std::fs::write(
        run.join("metrics.jsonl"),
        format!("{}\n", lines[..2].join("\n")),
    )
    .unwrap();
    std::fs::remove_file(run.join("config.json")).unwrap();
    let old = ckpt_dir(&run).join(".staging-old-2-4000000");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("state.json"), "{").unwrap();
    d.run(&resume_args("run"));
    assert_matches_reference(&run, 4);
    assert_eq!(staging(&run), Vec::<String>::new());
}

/// `--checkpoint-every`: a short run under the default (every 30 s) writes one checkpoint,
/// the last epoch's, instead of one per epoch; every N epochs keeps the newest two of N, 2N…
/// and the last; a resume may change it; a bad value is refused with the forms it takes.
#[test]
fn checkpoint_frequency_is_a_flag() {
    let d = Dir::new();
    let fit = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--model",
            "ae",
            "--data",
            "digits",
            "--latent-dim",
            "2",
            "--hidden",
            "16",
            "--epochs",
            "5",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        d.run(&args);
        let mut epochs = checkpoint::list(&d.path(out).join("checkpoints")).unwrap();
        epochs.sort_unstable();
        epochs
    };
    assert_eq!(fit("default", &[]), vec![5]);
    assert_eq!(fit("every2", &["--checkpoint-every", "2"]), vec![4, 5]);
    assert_eq!(fit("each", &["--checkpoint-every", "0s"]), vec![4, 5]);
    // more epochs on resume, with another frequency: continues from the last checkpoint
    d.run(&[
        "fit",
        "--resume",
        "--out",
        "default",
        "--epochs",
        "9",
        "--checkpoint-every",
        "3",
    ]);
    let mut epochs = checkpoint::list(&d.path("default/checkpoints")).unwrap();
    epochs.sort_unstable();
    assert_eq!(epochs, vec![6, 9]);
    for bad in ["0", "5x", "-1s"] {
        let flag = format!("--checkpoint-every={bad}");
        let err = d.fails(
            &[
                "fit", "--model", "ae", "--data", "digits", &flag, "--out", "x",
            ],
            1,
        );
        assert!(err.contains("--checkpoint-every"), "{err}");
        assert!(!d.path("x").exists());
    }
}
