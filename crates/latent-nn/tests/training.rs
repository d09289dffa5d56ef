//! Training on real data: learning, determinism, exact resume, divergence, corrupt
//! checkpoints.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use latent_nn::checkpoint;
use latent_nn::{
    Checkpointing, EpochMetrics, Likelihood, NetConfig, NnError, Silent, TrainConfig, cpu_device,
    train,
};
use ndarray::Array2;

fn digits() -> Array2<f32> {
    let d = latent_data::embedded::digits().unwrap();
    let p = Preprocess::fit(&d, ScaleChoice::Auto, Binarize::None).unwrap();
    p.apply(d).unwrap().into_x()
}

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
