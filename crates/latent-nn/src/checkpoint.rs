//! Checkpoints: everything needed to continue training exactly where it stopped.
//!
//! ```text
//! checkpoints/epoch-0007/
//!   model.safetensors      parameters by name
//!   optimizer.safetensors  Adam moments (m.NAME, v.NAME)
//!   state.json             epoch, Adam step, metrics so far, early-stopping state, the
//!                          settings, the SHA-256 of both weight files, and the SHA-256 of
//!                          its own content (`checksum`: an edit is detected)
//! ```
//! A checkpoint is written into a hidden staging directory and renamed into place, so a crash
//! at any moment leaves the previous checkpoints intact; loading verifies the checksums and
//! falls back to the newest valid checkpoint. The random stream of each epoch is derived from
//! the run's seed and the epoch number, so no generator state needs saving: resuming at an
//! epoch boundary replays exactly the same shuffles, noise and binarizations.

use std::fs;
use std::path::{Path, PathBuf};

use latent_core::fsutil;
use latent_core::tensors::{Tensors, sha256_hex};
use serde::{Deserialize, Serialize};

use crate::config::{NetConfig, TrainConfig};
use crate::params::HostTensors;
use crate::train::EpochMetrics;
use crate::{NnError, Result};

const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";
/// Checkpoints kept on disk (the newest ones).
pub const KEEP: usize = 2;

/// The JSON part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Epochs completed.
    pub epoch: usize,
    /// Adam steps taken.
    pub adam_step: u64,
    /// One record per completed epoch.
    pub history: Vec<EpochMetrics>,
    /// Best validation loss so far.
    pub best_val: Option<f64>,
    /// Epochs since the best validation loss.
    pub since_best: usize,
    /// The network's settings.
    pub net: NetConfig,
    /// The training settings.
    pub train: TrainConfig,
    /// How the random state is restored.
    pub rng: String,
    /// SHA-256 of model.safetensors.
    pub model_sha256: String,
    /// SHA-256 of optimizer.safetensors.
    pub optimizer_sha256: String,
}

/// A checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The JSON part.
    pub state: CheckpointState,
    /// Parameters by name.
    pub params: HostTensors,
    /// Adam moments by name.
    pub optimizer: HostTensors,
}

fn to_tensors(h: &HostTensors) -> Tensors {
    let mut t = Tensors::new();
    for (k, v) in h {
        t.insert(k, v.clone());
    }
    t
}

fn from_tensors(t: &Tensors) -> HostTensors {
    t.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NnError + '_ {
    move |source| {
        NnError::Core(latent_core::Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The directory of the checkpoint after `epoch` epochs.
pub fn epoch_dir(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch:04}"))
}

/// Hidden directories under a checkpoint directory: a checkpoint being written, or an old one
/// being deleted. Never read as checkpoints ([`list`] sees only `epoch-NNNN`).
const STAGING_PREFIX: &str = ".staging-";

/// Write `ckpt` under `dir` (created if needed) and delete all but the newest [`KEEP`] up to
/// it (and any of a later epoch: left by a run that resumed from an earlier one).
///
/// The files go to a hidden staging directory that is renamed to `epoch-NNNN` when complete;
/// old checkpoints are renamed to a hidden name before they are deleted. So a visible
/// `epoch-NNNN` is always whole, and a crash leaves at most hidden directories: those of
/// dead writers are removed here, before the new checkpoint is written (a run directory has
/// one writer).
///
/// # Errors
/// I/O errors naming the path; the previous checkpoints are intact and the staging
/// directory is removed.
pub fn save(dir: &Path, mut ckpt: Checkpoint) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    remove_leftovers(dir);
    let this_epoch = ckpt.state.epoch;
    let target = epoch_dir(dir, this_epoch);
    let pid = std::process::id();
    let staging = dir.join(format!("{STAGING_PREFIX}{}-{pid}", ckpt.state.epoch));
    fs::create_dir(&staging).map_err(io(&staging))?;
    let written = (|| {
        let model = to_tensors(&ckpt.params).to_bytes(Default::default())?;
        let optim = to_tensors(&ckpt.optimizer).to_bytes(Default::default())?;
        fsutil::atomic_write_bytes(&staging.join(MODEL), &model)?;
        fsutil::atomic_write_bytes(&staging.join(OPTIMIZER), &optim)?;
        ckpt.state.model_sha256 = sha256_hex(&model);
        ckpt.state.optimizer_sha256 = sha256_hex(&optim);
        let json = fsutil::seal_json(&ckpt.state)
            .map_err(|e| NnError::Backend(format!("serializing checkpoint state: {e}")))?;
        fsutil::atomic_write_bytes(&staging.join(STATE), &json)?;
        if target.exists() {
            let old = dir.join(format!("{STAGING_PREFIX}old-{}-{pid}", ckpt.state.epoch));
            fs::rename(&target, &old).map_err(io(&target))?;
            let _ = fs::remove_dir_all(&old);
        }
        fs::rename(&staging, &target).map_err(io(&target))
    })();
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    // keep the newest KEEP up to the one just written; a later epoch is of a timeline the
    // run left (a checkpoint that failed verification on resume): never keep it in place of
    // the one just written
    let mut epochs = list(dir)?;
    epochs.sort_unstable();
    let upto = epochs.partition_point(|&e| e <= this_epoch);
    let mut stale: Vec<usize> = epochs[upto..].to_vec();
    stale.extend_from_slice(&epochs[..upto.saturating_sub(KEEP)]);
    for e in stale {
        let old = dir.join(format!("{STAGING_PREFIX}old-{e}-{pid}"));
        if fs::rename(epoch_dir(dir, e), &old).is_ok() {
            let _ = fs::remove_dir_all(&old);
        }
    }
    Ok(target)
}

/// Remove what killed writers left under the checkpoint directory `dir` (best effort): the
/// hidden staging directories and the temporary files of unfinished atomic writes. Done
/// before each checkpoint and when a run resumes (which may have no epoch left to train).
pub fn remove_leftovers(dir: &Path) {
    remove_staging(dir);
    latent_core::fsutil::remove_stale_temps(dir);
}

fn remove_staging(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX))
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Epoch numbers of the checkpoint directories under `dir` (valid or not).
///
/// # Errors
/// I/O errors reading `dir`.
pub fn list(dir: &Path) -> Result<Vec<usize>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        if let Some(e) = name
            .to_str()
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            out.push(e);
        }
    }
    Ok(out)
}

/// Read and verify one checkpoint directory.
///
/// # Errors
/// [`NnError::Checkpoint`] naming the file that is missing, malformed or fails its checksum.
pub fn load(path: &Path) -> Result<Checkpoint> {
    load_checked(path, false)
}

/// [`load`], accepting a `state.json` without a seal when `unsealed_ok` (a checkpoint of a
/// run written before checkpoints were sealed).
///
/// # Errors
/// As [`load`].
pub fn load_checked(path: &Path, unsealed_ok: bool) -> Result<Checkpoint> {
    let bad = |file: &str, reason: String| NnError::Checkpoint {
        path: path.join(file),
        reason,
    };
    let read =
        |file: &str| fsutil::read_file(&path.join(file)).map_err(|e| bad(file, e.to_string()));
    let text = read(STATE)?;
    // the state is sealed with the checksum of its content: an edited epoch, Adam step or
    // history would otherwise change the resumed run silently
    match fsutil::check_sealed_json(&text).map_err(|r| bad(STATE, r))? {
        fsutil::Seal::Intact => {}
        fsutil::Seal::Absent if unsealed_ok => {}
        fsutil::Seal::Absent => {
            return Err(bad(
                STATE,
                format!(
                    "carries no `{}`: it was edited, is corrupt or was written by a latent \
                     older than sealed checkpoints",
                    fsutil::CHECKSUM_KEY
                ),
            ));
        }
    }
    let state: CheckpointState =
        serde_json::from_slice(&text).map_err(|e| bad(STATE, format!("malformed: {e}")))?;
    let model = read(MODEL)?;
    if sha256_hex(&model) != state.model_sha256 {
        return Err(bad(MODEL, "checksum mismatch: the file is corrupt".into()));
    }
    let optim = read(OPTIMIZER)?;
    if sha256_hex(&optim) != state.optimizer_sha256 {
        return Err(bad(
            OPTIMIZER,
            "checksum mismatch: the file is corrupt".into(),
        ));
    }
    let params = from_tensors(&Tensors::from_bytes(&path.join(MODEL), &model)?);
    let optimizer = from_tensors(&Tensors::from_bytes(&path.join(OPTIMIZER), &optim)?);
    Ok(Checkpoint {
        state,
        params,
        optimizer,
    })
}

/// The newest checkpoint under `dir` that loads and verifies, with a message for each newer
/// one that did not.
///
/// # Errors
/// I/O errors listing `dir`.
pub fn latest(dir: &Path, unsealed_ok: bool) -> Result<(Option<Checkpoint>, Vec<String>)> {
    let mut epochs = list(dir)?;
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    let mut skipped = Vec::new();
    for e in epochs {
        match load_checked(&epoch_dir(dir, e), unsealed_ok) {
            Ok(c) => return Ok((Some(c), skipped)),
            Err(err) => skipped.push(format!("skipping checkpoint of epoch {e}: {err}")),
        }
    }
    Ok((None, skipped))
}
