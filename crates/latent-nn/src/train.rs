//! The training loop, written by hand: shuffle, batch, (binarize), sample ε, forward, loss,
//! backward, named gradients, Adam step; validation, checkpoint and metrics per epoch.

use std::path::Path;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use latent_core::seed;
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint, CheckpointState};
use crate::config::{NetConfig, TrainConfig};
use crate::engine::{EngineKind, Network};
use crate::model::Net;
use crate::optim::{Adam, AdamSettings};
use crate::parallel::{RowMap, Shards, StartState, comm_err, decode_state, digest, encode_state};
use crate::params::load_params;
use crate::{NnError, Result};
use latent_core::{Collective, Single};

/// One line of `metrics.jsonl`: losses per example (nats, or squared error for
/// autoencoders), summed over features, averaged over the epoch's examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training loss (`recon + β·kl`, the optimised quantity).
    pub train_loss: f64,
    /// Training reconstruction term.
    pub train_recon: f64,
    /// Training KL term.
    pub train_kl: f64,
    /// Validation loss (with β = 1 for VAEs: the negative ELBO).
    pub val_loss: Option<f64>,
    /// Validation reconstruction term.
    pub val_recon: Option<f64>,
    /// Validation KL term.
    pub val_kl: Option<f64>,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
    /// Learning rate used.
    pub lr: f64,
    /// KL weight used.
    pub beta: f64,
    /// Seconds of the epoch spent exchanging losses and gradients between the ranks of a
    /// data-parallel job (waiting for the slowest rank included); absent for one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_seconds: Option<f64>,
}

/// Hooks for progress display and logging.
pub trait Observer {
    /// An epoch starts with `steps` steps.
    fn epoch_start(&mut self, _epoch: usize, _steps: usize) {}
    /// A step finished with these batch losses.
    fn step(&mut self, _step: usize, _loss: f64, _recon: f64, _kl: f64) {}
    /// An epoch finished; the checkpoint (if any) is on disk.
    fn epoch_end(&mut self, _metrics: &EpochMetrics, _history: &[EpochMetrics]) -> Result<()> {
        Ok(())
    }
    /// Asked after each step (once [`Observer::step`] has seen it): `Err` with a reason
    /// stops training there with [`NnError::Interrupted`] (a front end's interrupt). The
    /// checkpoints and metrics already written stay as they are.
    fn proceed(&mut self) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Something worth telling the user (resumed from…, skipped a corrupt checkpoint…).
    fn note(&mut self, _message: &str) {}
    /// Training resumed from a checkpoint whose epochs are `history`: what was written per
    /// epoch after that checkpoint (a run killed between the checkpoint and its metrics)
    /// can be rewritten from it, even when no epoch is left to train.
    fn resumed(&mut self, _history: &[EpochMetrics]) -> Result<()> {
        Ok(())
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// What training produced.
#[derive(Debug)]
pub struct Trained {
    /// The network (still on the training device, with autodiff).
    pub net: Net,
    /// One record per epoch, including epochs before a resume.
    pub history: Vec<EpochMetrics>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// The engine that trained it.
    pub engine: EngineKind,
}

/// Rows `idx` of `x` into `out` (row-major `[b, D]`), optionally binarized by a Bernoulli
/// draw per value.
fn gather(
    x: ArrayView2<'_, f32>,
    idx: &[usize],
    binarize: Option<&mut dyn rand::RngCore>,
    out: &mut Vec<f32>,
) {
    out.clear();
    for &i in idx {
        let row = x.row(i);
        match row.as_slice() {
            Some(r) => out.extend_from_slice(r),
            None => out.extend(row.iter().copied()),
        }
    }
    if let Some(rng) = binarize {
        for p in out.iter_mut() {
            *p = if rng.random::<f32>() < *p { 1.0 } else { 0.0 };
        }
    }
}

/// The rows of batch `idx` (global indices) that this rank holds (`map`) into `out`, in the
/// batch's order, and their positions in the batch into `pos`. A binarization draws for every
/// value of the batch, held here or not, so the draws are those of one process.
fn gather_shard(
    x: ArrayView2<'_, f32>,
    idx: &[usize],
    map: &RowMap,
    binarize: Option<&mut dyn rand::RngCore>,
    out: &mut Vec<f32>,
    pos: &mut Vec<usize>,
) {
    pos.clear();
    if map.is_all() {
        gather(x, idx, binarize, out);
        pos.extend(0..idx.len());
        return;
    }
    out.clear();
    let mut binarize = binarize;
    for (p, &t) in idx.iter().enumerate() {
        match (map.local(t), binarize.as_deref_mut()) {
            (Some(j), None) => {
                pos.push(p);
                out.extend(x.row(j).iter().copied());
            }
            (Some(j), Some(rng)) => {
                pos.push(p);
                out.extend(
                    x.row(j)
                        .iter()
                        .map(|&v| if rng.random::<f32>() < v { 1.0 } else { 0.0 }),
                );
            }
            (None, Some(rng)) => {
                for _ in 0..x.ncols() {
                    let _: f32 = rng.random();
                }
            }
            (None, None) => {}
        }
    }
}

/// Rows `pos` of the `[b, width]` values `all` into `out`.
fn select_rows(all: &[f32], width: usize, pos: &[usize], out: &mut Vec<f32>) {
    out.clear();
    for &p in pos {
        out.extend_from_slice(&all[p * width..(p + 1) * width]);
    }
}

/// Rows `idx` of `x` as a `[b, D]` tensor, optionally binarized by a Bernoulli draw.
pub(crate) fn batch_tensor(
    x: ArrayView2<'_, f32>,
    idx: &[usize],
    binarize: Option<&mut dyn rand::RngCore>,
    device: &Device,
) -> Tensor<2> {
    let mut v = Vec::with_capacity(idx.len() * x.ncols());
    gather(x, idx, binarize, &mut v);
    Tensor::from_data(TensorData::new(v, [idx.len(), x.ncols()]), device)
}

/// `b·k` standard-normal draws from `rng` into `out`.
fn noise_into(b: usize, k: usize, rng: &mut impl Rng, out: &mut Vec<f32>) {
    out.clear();
    out.extend((0..b * k).map(|_| -> f32 { StandardNormal.sample(rng) }));
}

/// Which implementation trains a network.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The fused host path ([`crate::fused`]) on the CPU device for the networks it
    /// computes (MLP and conv networks, either posterior), burn otherwise.
    #[default]
    Auto,
    /// burn's autodiff graph on the given device, always (for comparisons).
    Burn,
}

/// Losses of `net` on all rows of `x` (no gradients), with `beta`; the VAE's noise comes
/// from `seed` so repeated evaluations are comparable.
///
/// # Errors
/// Backend failures.
pub fn evaluate(
    net: &dyn Network,
    x: ArrayView2<'_, f32>,
    beta: f64,
    seed: u64,
    batch: usize,
) -> Result<[f64; 3]> {
    evaluate_shard(
        net,
        x,
        &RowMap::all(x.nrows()),
        &Single,
        (beta, seed, batch),
    )
}

/// [`evaluate`] over the ranks of a job: the rows of `map` that this rank holds (`x`), in
/// batches of the global rows, with the noise one process draws for them; the losses summed
/// over the ranks, so every rank gets the mean over all rows.
fn evaluate_shard(
    net: &dyn Network,
    x: ArrayView2<'_, f32>,
    map: &RowMap,
    comm: &dyn Collective,
    (beta, seed, batch): (f64, u64, usize),
) -> Result<[f64; 3]> {
    let k = net.config().latent_dim;
    let mut rng = latent_core::seed::rng(seed);
    let mut sums = [0.0f64; 3];
    let idx: Vec<usize> = (0..map.len()).collect();
    let (mut xb, mut eps, mut local_eps, mut pos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for chunk in idx.chunks(batch.max(1)) {
        gather_shard(x, chunk, map, None, &mut xb, &mut pos);
        noise_into(chunk.len(), k, &mut rng, &mut eps);
        if pos.is_empty() {
            continue;
        }
        let eps = if pos.len() == chunk.len() {
            &eps
        } else {
            select_rows(&eps, k, &pos, &mut local_eps);
            &local_eps
        };
        let s = net.losses(&xb, eps, pos.len(), beta)?;
        for (acc, v) in sums.iter_mut().zip(s) {
            *acc += v * pos.len() as f64;
        }
    }
    comm.sum_f64(&mut sums).map_err(comm_err)?;
    Ok(sums.map(|s| s / map.len().max(1) as f64))
}

/// [`NnError::Diverged`] when a loss of step `step` (1-based) of epoch `epoch` is not finite;
/// `hint` says what is kept and what to try (called only then).
fn check_finite(
    s: [f64; 3],
    epoch: usize,
    step: usize,
    hint: impl FnOnce() -> String,
) -> Result<()> {
    match ["loss", "reconstruction term", "KL term"]
        .iter()
        .zip(s)
        .find(|(_, v)| !v.is_finite())
    {
        Some((what, _)) => Err(NnError::Diverged {
            epoch,
            step,
            what: what.to_string(),
            hint: hint(),
        }),
        None => Ok(()),
    }
}

/// What a divergence leaves and what to try: whether a checkpoint survives, and the likely
/// cause — data far from unit scale, or else too large a learning rate.
fn divergence_hint(train: ArrayView2<'_, f32>, checkpoints: Option<&Path>) -> String {
    let kept = checkpoints
        .and_then(|d| checkpoint::list(d).ok())
        .and_then(|e| e.into_iter().max());
    let keep = match kept {
        Some(e) => format!("the checkpoint of epoch {e} is kept (resume with --resume)"),
        None => "no checkpoint had been written".to_string(),
    };
    let largest = train.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
    let cause = if largest > 50.0 {
        format!(
            "the data is far from unit scale (values up to {largest:.4}): scale it \
             (--scale standardize, or --scale unit), then a lower --lr if it still diverges"
        )
    } else {
        "try a lower --lr".to_string()
    };
    format!("; {keep}; {cause}")
}

fn all_finite(params: &crate::params::HostTensors) -> Option<String> {
    params
        .iter()
        .find(|(_, a)| a.iter().any(|v| !v.is_finite()))
        .map(|(name, _)| format!("parameter `{name}`"))
}

/// How often a checkpoint is written. The last epoch trained (the last one asked for, or
/// the one where early stopping ends training) always gets one, so a finished run can be
/// resumed with more epochs; a run killed in between resumes from the newest checkpoint and
/// replays the epochs after it exactly (their `metrics.jsonl` lines are rewritten).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CheckpointEvery {
    /// After every `n`-th epoch (`n ≥ 1`).
    Epochs(usize),
    /// After the first epoch that ends at least this many seconds after the previous
    /// checkpoint (or the start of training): a kill loses at most about this much work,
    /// and a short run writes one checkpoint instead of one per epoch.
    Seconds(f64),
}

impl Default for CheckpointEvery {
    /// Every 30 seconds of training.
    fn default() -> Self {
        CheckpointEvery::Seconds(30.0)
    }
}

impl std::str::FromStr for CheckpointEvery {
    type Err = String;

    /// `N` (every N epochs), or a duration: `Ns`, `Nm`, `Nh` (`N` may have decimals).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "`{s}` is neither a number of epochs (e.g. 5) nor a duration (e.g. 30s, 10m, 1h)"
            )
        };
        if let Ok(n) = t.parse::<usize>() {
            return if n == 0 {
                Err("a checkpoint every 0 epochs: give at least 1".into())
            } else {
                Ok(CheckpointEvery::Epochs(n))
            };
        }
        let (num, unit) = t.split_at(t.len().saturating_sub(1));
        let scale = match unit {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        match num.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(CheckpointEvery::Seconds(v * scale)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for CheckpointEvery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointEvery::Epochs(n) => write!(f, "{n}"),
            CheckpointEvery::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

/// Where checkpoints go, how often, and whether to resume from the newest valid one there.
#[derive(Debug, Clone, Copy)]
pub struct Checkpointing<'a> {
    /// The checkpoint directory (created when needed).
    pub dir: &'a Path,
    /// Continue from the newest valid checkpoint in `dir`.
    pub resume: bool,
    /// Accept checkpoints whose `state.json` carries no seal: those of a run written before
    /// checkpoints were sealed (its `training.json` is of format version 1). Otherwise an
    /// unsealed checkpoint is skipped as edited or corrupt.
    pub unsealed_ok: bool,
    /// How often a checkpoint is written.
    pub every: CheckpointEvery,
}

/// Train a network of `net_cfg` on `train` (and evaluate on `val`), on `device` (autodiff is
/// enabled here). With `checkpoints`, a checkpoint is written after every epoch, and with
/// `resume` training continues from the newest valid one.
///
/// # Errors
/// Invalid settings; [`NnError::Diverged`] on the first non-finite loss (naming epoch and
/// step) or non-finite parameters after an epoch, with the last good checkpoint intact;
/// checkpoint I/O; [`NnError::Checkpoint`] when resuming with different settings.
pub fn train(
    net_cfg: &NetConfig,
    cfg: &TrainConfig,
    train: ArrayView2<'_, f32>,
    val: Option<ArrayView2<'_, f32>>,
    device: &Device,
    checkpoints: Option<Checkpointing<'_>>,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    train_with(
        Engine::Auto,
        net_cfg,
        cfg,
        train,
        val,
        device,
        checkpoints,
        observer,
    )
}

/// [`train`] with a choice of [`Engine`]. With [`Engine::Auto`] on the CPU device, the
/// networks [`crate::fused`] computes train on it: the same losses and gradients as burn's
/// graph to float rounding (tested), in a fraction of the time.
///
/// # Errors
/// As [`train`].
#[allow(clippy::too_many_arguments)]
pub fn train_with(
    engine: Engine,
    net_cfg: &NetConfig,
    cfg: &TrainConfig,
    train: ArrayView2<'_, f32>,
    val: Option<ArrayView2<'_, f32>>,
    device: &Device,
    checkpoints: Option<Checkpointing<'_>>,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    let shards = Shards {
        comm: &Single,
        train: RowMap::all(train.nrows()),
        val: val.map(|v| RowMap::all(v.nrows())),
    };
    train_sharded(
        engine,
        net_cfg,
        cfg,
        (train, val),
        &shards,
        device,
        checkpoints,
        observer,
    )
}

/// [`train_with`] as one rank of a data-parallel job ([`crate::parallel`]): `train` and `val`
/// hold this rank's rows of the training and validation sets (`shards.train`, `shards.val`:
/// local row `j` is the global row the map gives), in the order of their global indices or
/// not. Every rank calls it with the same settings; each computes its rows of every batch,
/// the ranks sum their weighted gradients before each update, and every rank ends with the
/// same network, the one a single process trains to float-summation rounding. Only rank 0
/// writes checkpoints and reads them on resume (`checkpoints` is ignored on the others), and
/// only its `observer` hears of the epochs; the others' may be [`Silent`].
///
/// # Errors
/// As [`train`]; [`NnError::InvalidParam`] when the rows given do not match `shards`;
/// [`NnError::Backend`] when the ranks fail to exchange, or end an epoch with different
/// parameters.
#[allow(clippy::too_many_arguments)]
pub fn train_sharded(
    engine: Engine,
    net_cfg: &NetConfig,
    cfg: &TrainConfig,
    (train, val): (ArrayView2<'_, f32>, Option<ArrayView2<'_, f32>>),
    shards: &Shards<'_>,
    device: &Device,
    checkpoints: Option<Checkpointing<'_>>,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    let comm = shards.comm;
    let parallel = comm.size() > 1;
    let root = comm.is_root();
    let checkpoints = checkpoints.filter(|_| root);
    if train.nrows() != shards.train.local_count()
        || val.map(|v| v.nrows()) != shards.val.as_ref().map(RowMap::local_count)
    {
        return Err(NnError::param(
            "shard",
            "the rows given differ from the rows the shard map says this rank holds",
        ));
    }
    let resume = checkpoints.is_some_and(|c| c.resume);
    let unsealed_ok = checkpoints.is_some_and(|c| c.unsealed_ok);
    let every = checkpoints.map(|c| c.every).unwrap_or_default();
    let checkpoints = checkpoints.map(|c| c.dir);
    net_cfg.check()?;
    cfg.check()?;
    if train.ncols() != net_cfg.input_dim {
        return Err(latent_core::Error::shape(
            "training data",
            format!("{} columns", net_cfg.input_dim),
            format!("{} columns", train.ncols()),
        )
        .into());
    }
    if shards.train.is_empty() {
        return Err(latent_core::Error::Empty("no training rows".into()).into());
    }
    let device = device.clone().autodiff();
    let settings = AdamSettings {
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weight_decay: cfg.weight_decay,
    };
    let mut net = Net::new(
        net_cfg,
        &mut seed::rng(seed::derive(cfg.seed, "init")),
        &device,
    );
    let mut adam = Adam::new(settings);
    let mut history: Vec<EpochMetrics> = Vec::new();
    let mut best_val: Option<f64> = None;
    let mut since_best = 0usize;

    if resume {
        let dir =
            checkpoints.ok_or_else(|| NnError::param("resume", "needs a checkpoint directory"))?;
        let (found, skipped) = checkpoint::latest(dir, unsealed_ok)?;
        for s in &skipped {
            observer.note(s);
        }
        if let Some(ckpt) = found {
            if ckpt.state.net != *net_cfg {
                return Err(NnError::Checkpoint {
                    path: dir.to_path_buf(),
                    reason:
                        "was written for a different network; resume with the run's own settings"
                            .into(),
                });
            }
            let same_training = TrainConfig {
                epochs: cfg.epochs,
                ..ckpt.state.train.clone()
            };
            if same_training != *cfg {
                return Err(NnError::Checkpoint {
                    path: dir.to_path_buf(),
                    reason: "was written with different training settings (only --epochs may change on resume)".into(),
                });
            }
            let src = checkpoint::epoch_dir(dir, ckpt.state.epoch);
            net = load_params(net, &ckpt.params, &src)?;
            adam = Adam::restore(
                settings,
                ckpt.state.adam_step,
                &ckpt.optimizer,
                &device,
                &src,
            )?;
            history = ckpt.state.history.clone();
            best_val = ckpt.state.best_val;
            since_best = ckpt.state.since_best;
            observer.note(&format!(
                "resuming after epoch {} from {}",
                ckpt.state.epoch,
                src.display()
            ));
            observer.resumed(&history)?;
            checkpoint::remove_leftovers(dir);
        } else {
            // a run stopped in its first epoch has no checkpoint yet (and one whose every
            // checkpoint is corrupt has none worth keeping): it starts again from epoch 1,
            // the same run an uninterrupted fit would have been
            observer.note(if skipped.is_empty() {
                "no checkpoint yet (the run stopped in its first epoch): training starts from epoch 1"
            } else {
                "no valid checkpoint: training starts from epoch 1"
            });
            observer.resumed(&history)?;
            checkpoint::remove_leftovers(dir);
        }
    }

    if parallel {
        // every rank starts from rank 0's network, optimizer and history (a resumed run's
        // checkpoint is read there only)
        let mut bytes = if root {
            let (adam_step, adam_state) = adam.state()?;
            encode_state(&StartState {
                params: crate::params::named_params(&net)?,
                adam_step,
                adam: adam_state,
                history: history.clone(),
                best_val,
                since_best,
            })?
        } else {
            Vec::new()
        };
        comm.broadcast(&mut bytes).map_err(comm_err)?;
        if !root {
            let state = decode_state(&bytes)?;
            let from = Path::new("the parameters of rank 0");
            net = load_params(net, &state.params, from)?;
            adam = Adam::restore(settings, state.adam_step, &state.adam, &device, from)?;
            history = state.history;
            best_val = state.best_val;
            since_best = state.since_best;
        }
    }

    let mut net = crate::engine::build(engine, net, true)?;
    let fused = net.kind() == crate::engine::EngineKind::Fused;
    let (mut xbuf, mut ebuf, mut local_eps, mut pos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());

    let n = shards.train.len();
    let k = net_cfg.latent_dim;
    let steps = n.div_ceil(cfg.batch_size);
    let mut stopped_early = false;
    let mut last_checkpoint = Instant::now();
    for epoch in history.len()..cfg.epochs {
        if let (Some(patience), Some(_)) = (cfg.early_stopping, best_val)
            && since_best >= patience
        {
            stopped_early = true;
            break;
        }
        let started = Instant::now();
        let lr = cfg.lr_at(epoch);
        let beta = cfg.beta_at(epoch);
        let mut rng = seed::rng(seed::derive(cfg.seed, &format!("epoch-{epoch}")));
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        observer.epoch_start(epoch + 1, steps);
        let mut sums = [0.0f64; 3];
        let mut exchange = 0.0f64;
        for (step, idx) in order.chunks(cfg.batch_size).enumerate() {
            // the same draws, in the same order, for both engines and on every rank:
            // binarization, then ε; alone, the update too (a data-parallel job exchanges
            // first). The fused kernels run this as one job on rayon's pool, its workers
            // awake throughout: between two steps they would fall asleep while this thread
            // gathers the next batch
            let rows = &shards.train;
            let mut batch = || -> Result<([f64; 3], usize)> {
                gather_shard(
                    train,
                    idx,
                    rows,
                    cfg.dynamic_binarize
                        .then_some(&mut rng as &mut dyn rand::RngCore),
                    &mut xbuf,
                    &mut pos,
                );
                ebuf.clear();
                if net_cfg.is_vae() {
                    noise_into(idx.len(), k, &mut rng, &mut ebuf);
                }
                let eps = if pos.len() == idx.len() || ebuf.is_empty() {
                    &ebuf
                } else {
                    select_rows(&ebuf, k, &pos, &mut local_eps);
                    &local_eps
                };
                let local = pos.len();
                let s = if local > 0 {
                    net.step(&xbuf, eps, local, beta)?
                } else {
                    [0.0; 3]
                };
                if !parallel {
                    check_finite(s, epoch + 1, step + 1, || {
                        divergence_hint(train, checkpoints)
                    })?;
                    net.update(&mut adam, lr)?;
                }
                Ok((s, local))
            };
            let (mut s, local) = if fused {
                crate::awake::awake(batch)?
            } else {
                batch()?
            };
            let mut stop = None;
            if parallel {
                // the data-parallel exchange: the losses (and whether a rank was asked to
                // stop) summed first, so every rank takes the same decision, then the
                // gradients weighted by each rank's share of the batch
                stop = observer.proceed().err();
                let exchanging = Instant::now();
                let mut four = [
                    s[0] * local as f64,
                    s[1] * local as f64,
                    s[2] * local as f64,
                    f64::from(u8::from(stop.is_some())),
                ];
                comm.sum_f64(&mut four).map_err(comm_err)?;
                s = [four[0], four[1], four[2]].map(|v| v / idx.len() as f64);
                if four[3] > 0.0 && stop.is_none() {
                    stop = Some("another rank of the job was interrupted".into());
                }
                exchange += exchanging.elapsed().as_secs_f64();
            }
            if parallel {
                check_finite(s, epoch + 1, step + 1, || {
                    divergence_hint(train, checkpoints)
                })?;
                let weight = local as f32 / idx.len() as f32;
                net.exchange_grads(local > 0, &mut |g| {
                    if weight != 1.0 {
                        g.iter_mut().for_each(|v| *v *= weight);
                    }
                    let exchanging = Instant::now();
                    let summed = comm.sum_f32(g).map_err(comm_err);
                    exchange += exchanging.elapsed().as_secs_f64();
                    summed
                })?;
                net.update(&mut adam, lr)?;
            }
            for (acc, v) in sums.iter_mut().zip(s) {
                *acc += v * idx.len() as f64;
            }
            observer.step(step + 1, s[0], s[1], s[2]);
            let stopped = if parallel {
                stop.map_or(Ok(()), Err)
            } else {
                observer.proceed()
            };
            stopped.map_err(|why| NnError::Interrupted {
                epoch: epoch + 1,
                step: step + 1,
                why,
            })?;
        }
        let [train_loss, train_recon, train_kl] = sums.map(|v| v / n as f64);
        let params = net.params()?;
        if parallel {
            let d = digest(&params);
            let (mut lo, mut hi) = ([d], [d]);
            comm.min_f64(&mut lo).map_err(comm_err)?;
            comm.max_f64(&mut hi).map_err(comm_err)?;
            if lo != hi {
                return Err(NnError::Backend(format!(
                    "after epoch {}, the ranks hold different parameters: the exchange did not \
                     give every rank the same sums",
                    epoch + 1
                )));
            }
        }
        if let Some(what) = all_finite(&params) {
            return Err(NnError::Diverged {
                epoch: epoch + 1,
                step: steps,
                what,
                hint: divergence_hint(train, checkpoints),
            });
        }
        let val_metrics = match (val, &shards.val) {
            (Some(v), Some(map)) if !map.is_empty() => {
                let eval_beta = if net_cfg.is_vae() { 1.0 } else { 0.0 };
                let seed = seed::derive(cfg.seed, "validation");
                Some(evaluate_shard(
                    &*net,
                    v,
                    map,
                    comm,
                    (eval_beta, seed, 1024),
                )?)
            }
            _ => None,
        };
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss,
            train_recon,
            train_kl,
            val_loss: val_metrics.map(|m| m[0]),
            val_recon: val_metrics.map(|m| m[1]),
            val_kl: val_metrics.map(|m| m[2]),
            seconds: started.elapsed().as_secs_f64(),
            lr,
            beta,
            exchange_seconds: parallel.then_some(exchange),
        };
        if let Some(v) = metrics.val_loss {
            if best_val.is_none_or(|b| v < b) {
                best_val = Some(v);
                since_best = 0;
            } else {
                since_best += 1;
            }
        }
        history.push(metrics.clone());
        // the last epoch trained: the last asked for, or the one early stopping ends on
        let last = epoch + 1 == cfg.epochs
            || cfg
                .early_stopping
                .is_some_and(|patience| best_val.is_some() && since_best >= patience);
        let due = last
            || match every {
                CheckpointEvery::Epochs(n) => (epoch + 1) % n.max(1) == 0,
                CheckpointEvery::Seconds(s) => last_checkpoint.elapsed().as_secs_f64() >= s,
            };
        if let (Some(dir), true) = (checkpoints, due) {
            let (adam_step, optimizer) = adam.state()?;
            checkpoint::save(
                dir,
                Checkpoint {
                    state: CheckpointState {
                        epoch: epoch + 1,
                        adam_step,
                        history: history.clone(),
                        best_val,
                        since_best,
                        net: net_cfg.clone(),
                        train: cfg.clone(),
                        rng: "derived from the seed and the epoch number; nothing to restore"
                            .into(),
                        model_sha256: String::new(),
                        optimizer_sha256: String::new(),
                    },
                    params,
                    optimizer,
                },
            )?;
            last_checkpoint = Instant::now();
        }
        observer.epoch_end(&metrics, &history)?;
    }
    // the trained parameters as burn's module, whichever engine trained them
    let engine = net.kind();
    let net = load_params(
        Net::new(net_cfg, &mut seed::rng(0), &device),
        &net.params()?,
        Path::new("the trained network"),
    )?;
    Ok(Trained {
        net,
        engine,
        history,
        stopped_early,
    })
}

/// Rows of a tensor as an ndarray.
///
/// # Errors
/// Backend failures.
pub fn to_array2(t: Tensor<2>) -> Result<Array2<f32>> {
    let a = crate::params::to_host(t)?;
    a.into_dimensionality()
        .map_err(|e| NnError::Backend(e.to_string()))
}
