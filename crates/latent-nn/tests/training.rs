//! Training on real data: learning, determinism, exact resume, divergence, corrupt
//! checkpoints.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::digits;
use latent_nn::checkpoint;
use latent_nn::{
    CheckpointEvery, Checkpointing, EpochMetrics, Likelihood, NetConfig, NnError, Silent,
    TrainConfig, cpu_device, train,
};

fn vae() -> NetConfig {
    NetConfig {
        input_dim: 64,
        latent_dim: 4,
        hidden: vec![32],
        ..NetConfig::reference_vae()
    }
}

fn settings(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 64,
        seed: 3,
        ..TrainConfig::default()
    }
}

/// The metrics without the wall-clock time.
fn ck(dir: &std::path::Path, resume: bool) -> Option<Checkpointing<'_>> {
    Some(Checkpointing {
        dir,
        resume,
        unsealed_ok: false,
        every: CheckpointEvery::Epochs(1),
    })
}

fn figures(h: &[EpochMetrics]) -> Vec<[f64; 3]> {
    h.iter()
        .map(|m| [m.train_loss, m.train_recon, m.train_kl])
        .collect()
}

#[test]
fn vae_learns_the_digits() {
    let x = digits();
    let out = train(
        &vae(),
        &settings(4),
        x.view(),
        None,
        &cpu_device(),
        None,
        &mut Silent,
    )
    .unwrap();
    let h = &out.history;
    assert_eq!(h.len(), 4);
    assert!(
        h.iter()
            .all(|m| m.train_loss.is_finite() && m.train_kl >= 0.0)
    );
    // Bernoulli NLL of 64 pixels starts near 64·ln 2 ≈ 44 nats and must fall clearly.
    assert!(h[3].train_loss < h[0].train_loss - 2.0, "{h:?}");
    assert!(
        h[3].train_kl > 0.1,
        "the posterior should move away from the prior: {h:?}"
    );
}

#[test]
fn same_seed_same_metrics_and_resume_is_exact() {
    let x = digits();
    let (train_x, val_x) = x.view().split_at(ndarray::Axis(0), 1500);
    let dir = tempfile::tempdir().unwrap();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    let cfg = TrainConfig {
        dynamic_binarize: true,
        ..settings(3)
    };
    let device = cpu_device();
    let full = train(
        &vae(),
        &cfg,
        train_x,
        Some(val_x),
        &device,
        ck(&a_dir, false),
        &mut Silent,
    )
    .unwrap();
    // interrupted after 2 epochs, then resumed to 3
    let first = TrainConfig {
        epochs: 2,
        ..cfg.clone()
    };
    train(
        &vae(),
        &first,
        train_x,
        Some(val_x),
        &device,
        ck(&b_dir, false),
        &mut Silent,
    )
    .unwrap();
    let resumed = train(
        &vae(),
        &cfg,
        train_x,
        Some(val_x),
        &device,
        ck(&b_dir, true),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(figures(&full.history), figures(&resumed.history));
    let val = |h: &[EpochMetrics]| h.iter().map(|m| m.val_loss).collect::<Vec<_>>();
    assert_eq!(val(&full.history), val(&resumed.history));
    assert!(full.history.iter().all(|m| m.val_loss.is_some()));

    // a different seed gives different figures
    let other = TrainConfig {
        seed: 4,
        ..cfg.clone()
    };
    let o = train(&vae(), &other, train_x, None, &device, None, &mut Silent).unwrap();
    assert_ne!(figures(&o.history), figures(&full.history));

    // only the newest checkpoints are kept, and they verify
    let mut kept = checkpoint::list(&a_dir).unwrap();
    kept.sort_unstable();
    assert_eq!(kept, vec![2, 3]);
    checkpoint::load(&checkpoint::epoch_dir(&a_dir, 3)).unwrap();

    // resuming with other settings is refused
    let changed = TrainConfig { lr: 0.01, ..cfg };
    let err = train(
        &vae(),
        &changed,
        train_x,
        None,
        &device,
        ck(&a_dir, true),
        &mut Silent,
    )
    .unwrap_err();
    assert!(matches!(err, NnError::Checkpoint { .. }), "{err}");
}

#[test]
fn corrupt_newest_checkpoint_falls_back_to_the_previous_one() {
    let x = digits();
    let dir = tempfile::tempdir().unwrap();
    let device = cpu_device();
    let cfg = settings(2);
    let ck = Checkpointing {
        dir: dir.path(),
        resume: false,
        unsealed_ok: false,
        every: CheckpointEvery::Epochs(1),
    };
    let straight = train(
        &vae(),
        &settings(3),
        x.view(),
        None,
        &device,
        None,
        &mut Silent,
    )
    .unwrap();
    train(&vae(), &cfg, x.view(), None, &device, Some(ck), &mut Silent).unwrap();
    // flip a byte of the newest weights
    let weights = checkpoint::epoch_dir(dir.path(), 2).join("model.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&weights, bytes).unwrap();
    let err = checkpoint::load(&checkpoint::epoch_dir(dir.path(), 2)).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // an edited state.json (the Adam step, one history figure) is detected too: it is sealed
    // with the checksum of its content; the older checkpoint still loads
    let state = checkpoint::epoch_dir(dir.path(), 1).join("state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"checksum\""), "{text}");
    let step = text.find("\"adam_step\": ").unwrap() + "\"adam_step\": ".len();
    let mut edited = text.clone().into_bytes();
    edited[step] ^= 1; // one bit of the first digit
    std::fs::write(&state, &edited).unwrap();
    let err = checkpoint::load(&checkpoint::epoch_dir(dir.path(), 1)).unwrap_err();
    assert!(
        err.to_string().contains("state.json") && err.to_string().contains("checksum mismatch"),
        "{err}"
    );
    let unsealed = text.rsplit_once(",\n  \"checksum\"").unwrap().0.to_string() + "\n}";
    std::fs::write(&state, &unsealed).unwrap();
    let err = checkpoint::load(&checkpoint::epoch_dir(dir.path(), 1)).unwrap_err();
    assert!(err.to_string().contains("carries no `checksum`"), "{err}");
    std::fs::write(&state, &text).unwrap();
    checkpoint::load(&checkpoint::epoch_dir(dir.path(), 1)).unwrap();

    struct Notes(Vec<String>);
    impl latent_nn::Observer for Notes {
        fn note(&mut self, m: &str) {
            self.0.push(m.to_string());
        }
    }
    let mut notes = Notes(Vec::new());
    let resumed = train(
        &vae(),
        &settings(3),
        x.view(),
        None,
        &device,
        Some(Checkpointing {
            dir: dir.path(),
            resume: true,
            unsealed_ok: false,
            every: CheckpointEvery::Epochs(1),
        }),
        &mut notes,
    )
    .unwrap();
    assert!(
        notes
            .0
            .iter()
            .any(|n| n.contains("skipping checkpoint of epoch 2")),
        "{:?}",
        notes.0
    );
    assert!(
        notes.0.iter().any(|n| n.contains("resuming after epoch 1")),
        "{:?}",
        notes.0
    );
    // epochs 2 and 3 were redone from epoch 1's state: same figures as a straight run
    assert_eq!(figures(&resumed.history), figures(&straight.history));
}

#[test]
fn divergence_stops_at_the_first_non_finite_loss() {
    let x = digits();
    let cfg = NetConfig {
        likelihood: Likelihood::Gaussian { sigma: 0.1 },
        ..vae()
    };
    let absurd = TrainConfig {
        lr: 1e30,
        ..settings(2)
    };
    let dir = tempfile::tempdir().unwrap();
    let err = train(
        &cfg,
        &absurd,
        x.view(),
        None,
        &cpu_device(),
        Some(Checkpointing {
            dir: dir.path(),
            resume: false,
            unsealed_ok: false,
            every: CheckpointEvery::Epochs(1),
        }),
        &mut Silent,
    )
    .unwrap_err();
    match &err {
        NnError::Diverged { epoch, step, .. } => assert_eq!((*epoch, *step), (1, 2), "{err}"),
        other => panic!("expected divergence, got {other}"),
    }
    // no checkpoint exists, and the data is in [0, 1]: the message says both
    let msg = err.to_string();
    assert!(
        msg.contains("no checkpoint had been written") && msg.contains("lower --lr"),
        "{msg}"
    );
    assert!(checkpoint::list(dir.path()).unwrap().is_empty());
}

#[test]
fn divergence_on_unscaled_data_says_to_scale_it() {
    // values near 1,000 with a learning rate that is fine for [0, 1] data
    let x = digits().mapv(|v| v * 1000.0);
    let cfg = TrainConfig {
        lr: 0.5,
        ..settings(1)
    };
    let err = train(
        &vae(),
        &cfg,
        x.view(),
        None,
        &cpu_device(),
        None,
        &mut Silent,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, NnError::Diverged { .. }), "{msg}");
    assert!(
        msg.contains("--scale standardize") && msg.contains("far from unit scale"),
        "{msg}"
    );
}

#[test]
fn resuming_a_run_with_no_checkpoint_starts_it_from_epoch_one() {
    let x = digits();
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(2);
    let device = cpu_device();
    let fresh = train(&vae(), &cfg, x.view(), None, &device, None, &mut Silent).unwrap();
    let resumed = train(
        &vae(),
        &cfg,
        x.view(),
        None,
        &device,
        ck(&dir.path().join("checkpoints"), true),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(figures(&fresh.history), figures(&resumed.history));
    assert_eq!(resumed.history.len(), 2);
}

/// Checkpoints every N epochs (or by time) keep the crash guarantee: a run killed between
/// two checkpoints resumes from the newest one and ends exactly as an uninterrupted run; the
/// last epoch always gets a checkpoint; a short run under the default (time) policy writes
/// one checkpoint, not one per epoch.
#[test]
fn sparse_checkpoints_resume_exactly() {
    use latent_nn::{Observer, Result as NnResult};
    /// Fails (as a kill would stop the run) at the end of one epoch.
    struct KillAt(usize);
    impl Observer for KillAt {
        fn epoch_end(&mut self, m: &EpochMetrics, _history: &[EpochMetrics]) -> NnResult<()> {
            if m.epoch == self.0 {
                return Err(NnError::Backend("killed".into()));
            }
            Ok(())
        }
    }
    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort_unstable();
        v
    }
    let x = digits();
    let (train_x, val_x) = x.view().split_at(ndarray::Axis(0), 300);
    let val_x = val_x.slice_move(ndarray::s![..100, ..]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(10);
    let device = cpu_device();
    fn with(d: &std::path::Path, resume: bool, every: CheckpointEvery) -> Checkpointing<'_> {
        Checkpointing {
            dir: d,
            resume,
            unsealed_ok: false,
            every,
        }
    }
    let full_dir = dir.path().join("full");
    let full = train(
        &vae(),
        &cfg,
        train_x,
        Some(val_x),
        &device,
        Some(with(&full_dir, false, CheckpointEvery::default())),
        &mut Silent,
    )
    .unwrap();
    // a second-long run under the default 30 s policy: only the last epoch's checkpoint
    assert_eq!(checkpoint::list(&full_dir).unwrap(), vec![10]);

    let run = dir.path().join("killed");
    let every3 = CheckpointEvery::Epochs(3);
    let killed = train(
        &vae(),
        &cfg,
        train_x,
        Some(val_x),
        &device,
        Some(with(&run, false, every3)),
        &mut KillAt(8),
    );
    assert!(killed.is_err());
    // epochs 3 and 6 were checkpointed (the newest KEEP = 2 kept), 7 and 8 were not
    assert_eq!(sorted(checkpoint::list(&run).unwrap()), vec![3, 6]);
    let resumed = train(
        &vae(),
        &cfg,
        train_x,
        Some(val_x),
        &device,
        Some(with(&run, true, every3)),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(figures(&full.history), figures(&resumed.history));
    assert_eq!(
        latent_nn::params::named_params(&full.net).unwrap(),
        latent_nn::params::named_params(&resumed.net).unwrap(),
        "the resumed run's weights differ from the uninterrupted run's"
    );
    // 9 (every third) and 10 (the last)
    assert_eq!(sorted(checkpoint::list(&run).unwrap()), vec![9, 10]);

    // a zero-second interval is a checkpoint after every epoch
    let each = dir.path().join("each");
    let short = TrainConfig {
        epochs: 3,
        ..cfg.clone()
    };
    train(
        &vae(),
        &short,
        train_x,
        None,
        &device,
        Some(with(&each, false, CheckpointEvery::Seconds(0.0))),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(sorted(checkpoint::list(&each).unwrap()), vec![2, 3]);
}

#[test]
fn checkpoint_intervals_parse() {
    let p = |s: &str| s.parse::<CheckpointEvery>();
    assert_eq!(p("5"), Ok(CheckpointEvery::Epochs(5)));
    assert_eq!(p("30s"), Ok(CheckpointEvery::Seconds(30.0)));
    assert_eq!(p("2m"), Ok(CheckpointEvery::Seconds(120.0)));
    assert_eq!(p("0.5h"), Ok(CheckpointEvery::Seconds(1800.0)));
    assert!(p("0").unwrap_err().contains("at least 1"));
    for bad in ["", "s", "5x", "-1s", "nan s", "1e400s"] {
        assert!(p(bad).is_err(), "{bad}");
    }
}
