//! One typed entry for every family: a [`FitSpec`] (the family, the data, the settings) in,
//! a complete run directory out.
//!
//! ```text
//! RUN_DIR/
//!   config.json        written last: the run is complete (PCA: the whole directory is
//!                      assembled in a hidden sibling and renamed into place)
//!   model.safetensors  the weights
//!   training.json      neural models: the settings, written first (what resume reads)
//!   checkpoints/       neural models: epoch-NNNN/ with weights, Adam state, metrics so far
//!   metrics.jsonl      neural models: one line per epoch, rewritten atomically after each
//! ```
//!
//! Progress is reported to a [`FitEvents`] (a front end draws bars or prints lines); nothing
//! here prints.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use latent_core::{
    Collective, Dataset, Family, Fit, ParamGuard, RowSource, Single, ValueRange, fsutil,
};
use latent_data::lent::LentRows;
use latent_data::transform::{Binarize, Preprocess, ScaleChoice, Scaling, standardize_rows};
use latent_nn::{
    Activation, Arch, CheckpointEvery, Checkpointing, Engine, EpochMetrics, Likelihood, LrSchedule,
    ModelKind, NetConfig, NnModel, Observer, PosteriorKind, RowMap, Shards, TrainConfig,
};
use latent_pca::{Components, PcaParams, Precision, Solver};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::DataSource;
use crate::run::{self, DataInfo, Model, ModelConfig, RunConfig, WeightsInfo};
use crate::{Error, Result};

/// The default number of training epochs (on small data, more: see [`default_epochs`]).
pub const DEFAULT_EPOCHS: usize = 10;
/// The fewest optimiser steps a fit without `--epochs` takes. An epoch of small data is a few
/// steps (178 rows, batch 128: two), so a default in epochs alone left tabular data barely
/// trained; measured on scikit-learn's wine data (13 features), the autoencoder and the VAE
/// reached their plateau after about 600 steps.
pub const MIN_DEFAULT_STEPS: usize = 750;

/// The epochs of a fit without `--epochs` on `rows` rows with batch `batch`, `val_fraction`
/// of them held out: [`DEFAULT_EPOCHS`], or, on small data, enough for
/// [`MIN_DEFAULT_STEPS`] steps (so at most that many epochs, of one step each).
pub fn default_epochs(rows: usize, batch: usize, val_fraction: f64) -> usize {
    let held = (rows as f64 * val_fraction).round() as usize;
    let steps_per_epoch = rows.saturating_sub(held).div_ceil(batch.max(1)).max(1);
    MIN_DEFAULT_STEPS
        .div_ceil(steps_per_epoch)
        .max(DEFAULT_EPOCHS)
}
/// The default training batch.
pub const DEFAULT_BATCH: usize = 128;

/// The latent dimension: a count, or (PCA) the share of the variance to keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LatentDim {
    /// Exactly this many dimensions.
    Count(usize),
    /// The fewest components keeping this fraction of the variance, in (0, 1) (PCA only).
    Fraction(f64),
}

impl LatentDim {
    /// Parse a `--latent-dim` value for `family`.
    ///
    /// # Errors
    /// [`Error::Invalid`] saying what is expected.
    pub fn parse(s: &str, family: Family) -> Result<Self> {
        if let Ok(k) = s.parse::<usize>() {
            return Ok(LatentDim::Count(k));
        }
        if family.is_neural() {
            return Err(Error::invalid(format!(
                "--latent-dim {s}: expected a positive integer (a variance fraction is for PCA only)"
            )));
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f < 1.0 => Ok(LatentDim::Fraction(f)),
            _ => Err(Error::invalid(format!(
                "--latent-dim {s}: expected a positive integer, or a fraction in (0, 1) of the variance to keep"
            ))),
        }
    }
}

/// Binarization after scaling.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum BinarizeChoice {
    /// Values unchanged.
    #[default]
    None,
    /// 1 above the threshold, else 0.
    Threshold(f32),
    /// One seeded Bernoulli draw per value (the seed derives from the run's).
    Bernoulli,
}

impl FromStr for BinarizeChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "none" => BinarizeChoice::None,
            "threshold" => BinarizeChoice::Threshold(0.5),
            "bernoulli" => BinarizeChoice::Bernoulli,
            other => match other.strip_prefix("threshold=").map(str::parse::<f32>) {
                Some(Ok(at)) if at.is_finite() => BinarizeChoice::Threshold(at),
                _ => {
                    return Err(Error::invalid(format!(
                        "--binarize {other}: expected none, threshold, threshold=T or bernoulli"
                    )));
                }
            },
        })
    }
}

impl BinarizeChoice {
    /// The binarization of a run with seed `seed`.
    pub fn resolve(self, seed: u64) -> Binarize {
        match self {
            BinarizeChoice::None => Binarize::None,
            BinarizeChoice::Threshold(at) => Binarize::Threshold { at },
            BinarizeChoice::Bernoulli => Binarize::Bernoulli {
                seed: latent_core::seed::derive(seed, "binarize"),
            },
        }
    }
}

/// The decoder likelihood a VAE is asked for (`None` in [`NetSettings::likelihood`]: Bernoulli
/// for data in [0, 1], a learned Gaussian otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum LikelihoodChoice {
    /// Bernoulli with logits (data in [0, 1]; binary or binarized data).
    Bernoulli,
    /// Gaussian with a fixed σ (--sigma).
    Gaussian,
    /// Gaussian with a learned σ per feature (or shared with --shared-sigma).
    GaussianLearned,
}

/// PCA's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaSettings {
    /// The solver.
    pub solver: Solver,
    /// Codes scaled to unit variance.
    pub whiten: bool,
    /// Arithmetic precision.
    pub precision: Precision,
    /// Power iterations of the randomized solver (`None`: its default).
    pub power_iters: Option<usize>,
    /// Extra random directions of the randomized solver.
    pub oversamples: usize,
}

impl Default for PcaSettings {
    fn default() -> Self {
        PcaSettings {
            solver: Solver::Exact,
            whiten: false,
            precision: Precision::F32,
            power_iters: None,
            oversamples: 10,
        }
    }
}

/// The network of an autoencoder or VAE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetSettings {
    /// Hidden widths of the encoder (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Fully connected or convolutional.
    pub arch: Arch,
    /// Output channels of each stride-2 convolution (`Arch::Conv`).
    pub conv_channels: Vec<usize>,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// VAE posterior covariance.
    pub posterior: PosteriorKind,
    /// VAE decoder likelihood (`None`: chosen from the data).
    pub likelihood: Option<LikelihoodChoice>,
    /// σ of the fixed Gaussian likelihood.
    pub sigma: f32,
    /// One learned σ for all features.
    pub shared_sigma: bool,
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            hidden: vec![400],
            arch: Arch::Mlp,
            conv_channels: vec![32, 64],
            activation: Activation::Relu,
            posterior: PosteriorKind::Diagonal,
            likelihood: None,
            sigma: 1.0,
            shared_sigma: false,
        }
    }
}

/// How a network is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Passes over the data ([`default_epochs`] when `None`).
    pub epochs: Option<usize>,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub adam_beta1: f64,
    /// Adam β₂.
    pub adam_beta2: f64,
    /// Adam ε.
    pub adam_eps: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: LrSchedule,
    /// KL weight β.
    pub beta: f64,
    /// Epochs over which β rises linearly from 0.
    pub kl_warmup: usize,
    /// Share of the rows held out (seeded) for validation.
    pub val_fraction: f64,
    /// Stop after this many epochs without a better validation loss.
    pub early_stopping: Option<usize>,
    /// A fresh Bernoulli binarization of every batch.
    pub dynamic_binarize: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: None,
            lr: 1e-3,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_eps: 1e-8,
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
            beta: 1.0,
            kl_warmup: 0,
            val_fraction: 0.0,
            early_stopping: None,
            dynamic_binarize: false,
        }
    }
}

/// Parse a learning-rate schedule: `constant`, `cosine`, `cosine=FINAL_FRACTION`,
/// `step=EVERY:GAMMA`.
///
/// # Errors
/// [`Error::Invalid`] saying what is expected.
pub fn parse_schedule(s: &str) -> Result<LrSchedule> {
    let bad = || {
        Error::invalid(format!(
            "--lr-schedule {s}: expected constant, cosine, cosine=FINAL_FRACTION or step=EVERY:GAMMA"
        ))
    };
    Ok(match s {
        "constant" => LrSchedule::Constant,
        "cosine" => LrSchedule::Cosine {
            final_fraction: 0.0,
        },
        _ => {
            if let Some(f) = s.strip_prefix("cosine=") {
                LrSchedule::Cosine {
                    final_fraction: f.parse().map_err(|_| bad())?,
                }
            } else if let Some(rest) = s.strip_prefix("step=") {
                let (every, gamma) = rest.split_once(':').ok_or_else(bad)?;
                LrSchedule::Step {
                    every: every.parse().map_err(|_| bad())?,
                    gamma: gamma.parse().map_err(|_| bad())?,
                }
            } else {
                return Err(bad());
            }
        }
    })
}

/// Everything a fit needs: the family, the data, the latent dimension, the seed, the
/// preprocessing and the family's settings. [`FitSpec::new`] gives the defaults of the
/// `latent fit` command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSpec {
    /// The family of the pair.
    pub family: Family,
    /// The training data.
    pub data: DataSource,
    /// The latent dimension.
    pub latent: LatentDim,
    /// Every random choice derives from it.
    pub seed: u64,
    /// Feature scaling before the model (recorded, reapplied by every later use).
    pub scale: ScaleChoice,
    /// Binarization after scaling.
    pub binarize: BinarizeChoice,
    /// PCA's settings.
    pub pca: PcaSettings,
    /// Rows per batch: the training minibatch, incremental PCA's read batch.
    pub batch_size: Option<usize>,
    /// The network (neural families).
    pub net: NetSettings,
    /// The training (neural families).
    pub train: TrainSettings,
    /// The compute device: `cpu`, or `vulkan` in a build with the `wgpu` feature.
    pub device: String,
    /// Which implementation trains the network.
    #[serde(skip)]
    pub engine: Engine,
    /// How often a checkpoint is written (neural families; not a setting of the model).
    #[serde(skip)]
    pub checkpoint_every: CheckpointEvery,
}

impl FitSpec {
    /// A fit of `family` to `data` with `latent` dimensions and every other setting at its
    /// default.
    pub fn new(family: Family, data: DataSource, latent: LatentDim) -> Self {
        FitSpec {
            family,
            data,
            latent,
            seed: 0,
            scale: ScaleChoice::Auto,
            binarize: BinarizeChoice::None,
            pca: PcaSettings::default(),
            batch_size: None,
            net: NetSettings::default(),
            train: TrainSettings::default(),
            device: "cpu".into(),
            engine: Engine::Auto,
            checkpoint_every: CheckpointEvery::default(),
        }
    }
}

/// What a fit reports while it works. Every method has a default that ignores the event;
/// the training events are [`latent_nn::Observer`]'s.
pub trait FitEvents: Observer {
    /// A stage starts ("loading data", "fitting PCA to 10000 × 784").
    fn stage(&mut self, _what: &str) {}
    /// A streaming fit has read `seen` rows (of `total`, when known).
    fn rows(&mut self, _seen: usize, _total: Option<usize>) {}
    /// Training of `epochs` epochs (in all, resumed ones included) starts; `vae`: the loss
    /// has a KL term.
    fn training(&mut self, _epochs: usize, _vae: bool) {}
    /// A line describing what is about to be trained (the model, the data, the engine).
    fn info(&mut self, _line: &str) {}
}

/// Events nobody listens to.
pub struct Quiet;
impl Observer for Quiet {}
impl FitEvents for Quiet {}

/// A finished fit: the run as written.
#[derive(Debug)]
pub struct Fitted {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `config.json`.
    pub config: RunConfig,
    /// The model.
    pub model: Model,
    /// Seconds of the fit (PCA: the fit alone, without loading; neural: the training).
    pub seconds: f64,
    /// Epochs trained (neural).
    pub epochs_run: usize,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The values' extent, for drawing decoded rows (the known range, else the observed one).
fn display_range(data: &Dataset) -> ValueRange {
    data.range().unwrap_or_else(|| {
        let (lo, hi) = data
            .x()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        ValueRange { min: lo, max: hi }
    })
}

fn data_info(source: &DataSource, raw: &Dataset) -> DataInfo {
    DataInfo {
        spec: source.data.clone(),
        split: source.reader_split(),
        n: raw.n(),
        dim: raw.dim(),
        image_shape: raw.image_shape(),
        class_names: raw.class_names().map(<[String]>::to_vec),
        range: raw.range(),
        args: Some(source.clone()),
        feature_names: raw.feature_names().map(<[String]>::to_vec),
    }
}

/// [`data_info`] of lent rows: no labels, class or feature names.
fn lent_info(source: &DataSource, rows: &LentRows<'_>) -> DataInfo {
    DataInfo {
        spec: source.data.clone(),
        split: source.reader_split(),
        n: rows.n(),
        dim: rows.dim(),
        image_shape: rows.image_shape(),
        class_names: None,
        range: rows.range(),
        args: Some(source.clone()),
        feature_names: None,
    }
}

fn new_config(
    command: Vec<String>,
    seed: u64,
    model: ModelConfig,
    data: DataInfo,
    preprocess: Preprocess,
    display_range: ValueRange,
    latent_dim: usize,
) -> RunConfig {
    RunConfig {
        format: "latent-run".to_string(),
        format_version: run::FORMAT_VERSION,
        latent_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: now_unix(),
        command,
        seed,
        model,
        input_dim: data.dim,
        latent_dim,
        data,
        preprocess,
        display_range,
        summary: BTreeMap::new(),
        weights: WeightsInfo {
            file: String::new(),
            sha256: String::new(),
            layout: BTreeMap::new(),
        },
    }
}

/// Fit `spec` and write the run directory `out` (replacing a run latent wrote there only with
/// `force`). `command` is recorded in the run.
///
/// # Errors
/// Invalid settings (before anything is read or written), reading errors naming the file,
/// refusals to write `out`, numerical failures.
pub fn fit(
    spec: &FitSpec,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    crate::applies::check(spec)?;
    let inputs: Vec<&Path> = spec.data.path().into_iter().collect();
    let (_, _lock) = run::claim_run_dir(out, force, &inputs, &command)?;
    if spec.family == Family::Pca {
        fit_pca(spec, None, out, force, command, events)
    } else {
        fit_nn(spec, None, out, command, events)
    }
}

/// [`fit`] on rows already in memory (a front end's array: the Python package's NumPy
/// input) instead of reading `spec.data`: the same preprocessing, seeds and training, so the
/// same rows, settings and seed give the same weights as `latent fit` on a file holding them.
/// `data` should say what [`DataSource::load`] would of such a file (its range for 8-bit
/// values, none for floats). `spec.data.data` is recorded only as the data's name: the run
/// records no way to reload the rows (`data.args` is empty), so later commands need `--data`.
///
/// # Errors
/// As [`fit`], less the reading errors.
pub fn fit_dataset(
    spec: &FitSpec,
    data: Dataset,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    fit_in_memory(spec, InMemory::Owned(data), out, force, command, events)
}

/// [`fit_dataset`] on rows a front end lends ([`LentRows`]: the Python package's NumPy
/// array) rather than gives: PCA reads them where they are, without a copy (a copy of
/// 60,000 × 784 values costs a quarter of the fit); the neural models, which shuffle their
/// rows, train on a copy. The same run as [`fit_dataset`] of a [`LentRows::to_dataset`].
///
/// # Errors
/// As [`fit_dataset`].
pub fn fit_lent(
    spec: &FitSpec,
    rows: LentRows<'_>,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    fit_in_memory(spec, InMemory::Lent(rows), out, force, command, events)
}

/// [`fit_dataset`] and [`fit_lent`]: the settings checked, the run claimed, then the family's
/// fit; the neural families train on a data set of their own.
fn fit_in_memory(
    spec: &FitSpec,
    rows: InMemory<'_>,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    crate::applies::check(spec)?;
    let (_, _lock) = run::claim_run_dir(out, force, &[], &command)?;
    if spec.family == Family::Pca {
        return fit_pca(spec, Some(rows), out, force, command, events);
    }
    let data = match rows {
        InMemory::Owned(data) => data,
        InMemory::Lent(rows) => rows.to_dataset()?,
    };
    fit_nn(spec, Some(data), out, command, events)
}

/// Rows a PCA fit takes from memory: a data set it owns, or rows a front end lends.
enum InMemory<'a> {
    Owned(Dataset),
    Lent(LentRows<'a>),
}

/// What a run records of data given in memory ([`fit_dataset`]): no way to reload it.
fn in_memory(mut info: DataInfo, preloaded: bool) -> DataInfo {
    if preloaded {
        info.args = None;
    }
    info
}

/// A [`RowSource`] applying the run's preprocessing to each batch, tracking the raw values'
/// extent (for display) and reporting the rows read.
struct Preprocessed<'a> {
    inner: Box<dyn RowSource>,
    pre: &'a Preprocess,
    seen: usize,
    lo: f32,
    hi: f32,
    events: &'a mut dyn FitEvents,
}

impl RowSource for Preprocessed<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn len_hint(&self) -> Option<usize> {
        self.inner.len_hint()
    }
    fn next_batch(&mut self, max_rows: usize) -> latent_core::Result<Option<Array2<f32>>> {
        let Some(raw) = self.inner.next_batch(max_rows)? else {
            return Ok(None);
        };
        for &v in &raw {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        }
        self.seen += raw.nrows();
        self.events.rows(self.seen, self.inner.len_hint());
        let x = self
            .pre
            .apply_rows(raw.view())
            .map_err(|e| latent_core::Error::Source(Box::new(e)))?;
        Ok(Some(x))
    }
}

fn fit_pca(
    spec: &FitSpec,
    preloaded: Option<InMemory<'_>>,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    let params = pca_params(spec);
    let p = &spec.pca;
    let checked = params.clone().check()?;
    let binarize = spec.binarize.resolve(spec.seed);

    // The incremental solver streams sequential files (IDX, NPY) without loading them, when
    // the preprocessing needs no statistics of the whole data set.
    let streamable = preloaded.is_none()
        && p.solver == Solver::Incremental
        && spec.data.holdout.is_none()
        && matches!(spec.scale, ScaleChoice::Auto | ScaleChoice::None)
        && binarize == Binarize::None;
    let open_stream = || -> Result<_> {
        Ok(latent_data::source::DataSpec::parse(&spec.data.data)?
            .stream(&spec.data.load_options())?)
    };
    let stream = if streamable { open_stream()? } else { None };

    let started = Instant::now();
    let mut fit_seconds = None;
    let (pca, data_info, preprocess, display) = if let Some(inner) = stream {
        let range = inner.range();
        // `auto` standardizes rows that are neither images nor of a known range (float or
        // integer N×D arrays), from a first pass over the stream for the statistics; the
        // streamed fit reads 8-bit data and images unscaled, as it always has
        let scaling = match spec.scale {
            ScaleChoice::Auto if range.is_none() && inner.image_shape().is_none() => {
                events.stage("incremental PCA: feature statistics");
                match open_stream()? {
                    Some(mut first) => standardize_rows(first.as_mut(), 4096)?,
                    None => Scaling::None,
                }
            }
            _ => Scaling::None,
        };
        let preprocess = Preprocess {
            scaling,
            binarize: Binarize::None,
        };
        let (dim, image_shape) = (inner.dim(), inner.image_shape());
        events.stage("incremental PCA: rows");
        let mut src = Preprocessed {
            inner,
            pre: &preprocess,
            seen: 0,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
            events: &mut *events,
        };
        let pca = checked.fit_stream(&mut src, &mut |_| {})?;
        let display = range.unwrap_or(ValueRange {
            min: src.lo,
            max: src.hi,
        });
        let info = DataInfo {
            spec: spec.data.data.clone(),
            split: spec.data.reader_split(),
            n: pca.n_samples(),
            dim,
            image_shape,
            class_names: None,
            range,
            args: Some(spec.data.clone()),
            feature_names: None,
        };
        (pca, info, preprocess, display)
    } else {
        let given = preloaded.is_some();
        let raw = match preloaded {
            Some(raw) => raw,
            None => {
                events.stage("loading data");
                InMemory::Owned(spec.data.load()?)
            }
        };
        // the preprocessed rows: a data set's, transformed in place, or lent rows read where
        // they are (transformed into a copy only when the preprocessing is not the identity)
        let mut held = None;
        let (preprocess, info, display, x) = match raw {
            InMemory::Owned(raw) => {
                events.stage(&format!("fitting PCA to {} × {}", raw.n(), raw.dim()));
                let preprocess = Preprocess::fit(&raw, spec.scale, binarize)?;
                let info = in_memory(data_info(&spec.data, &raw), given);
                let display = display_range(&raw);
                let data = held.insert(preprocess.apply(raw)?);
                (preprocess, info, display, data.x())
            }
            InMemory::Lent(rows) => {
                events.stage(&format!("fitting PCA to {} × {}", rows.n(), rows.dim()));
                let preprocess = Preprocess::fit_rows(&rows, spec.scale, binarize)?;
                let info = in_memory(lent_info(&spec.data, &rows), given);
                let display = rows.range().unwrap_or_else(|| rows.extent());
                let x = if preprocess.is_identity() {
                    rows.x()
                } else {
                    let scaled = preprocess.apply_rows(rows.x())?;
                    held.insert(Dataset::new(rows.name(), scaled)?).x()
                };
                (preprocess, info, display, x)
            }
        };
        // the fit alone: loading and preprocessing are timed apart (`load_seconds`), as a
        // fit of data already in memory is what the benchmarks compare
        let fit_started = Instant::now();
        let pca = checked.fit(&x).map_err(|e| {
            // the cause the solver cannot name: values whose squares leave f32/f64's range
            let largest = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let numerical = matches!(
                &e,
                latent_core::Error::Source(_) | latent_core::Error::NonFinite(_)
            );
            if numerical && largest > 1e18 {
                Error::invalid(format!(
                    "PCA of {}: {e}: the data's values reach {largest:e}, whose squares \
                     overflow the covariance; scale the data (--scale standardize)",
                    spec.data.data
                ))
            } else {
                e.into()
            }
        })?;
        fit_seconds = Some(fit_started.elapsed().as_secs_f64());
        (pca, info, preprocess, display)
    };
    let total_seconds = started.elapsed().as_secs_f64();
    // a streamed fit reads the data as it fits: its time includes the reading
    let seconds = fit_seconds.unwrap_or(total_seconds);
    let load_seconds = fit_seconds.map(|s| (total_seconds - s).max(0.0));
    finish_pca(
        (pca, &params),
        (command, data_info, preprocess, display),
        (seconds, load_seconds),
        (out, force, true),
        spec.seed,
    )
}

/// A fitted PCA's run: its summary, then (when `writes`) the run directory.
fn finish_pca(
    (pca, params): (latent_pca::Pca, &PcaParams),
    (command, data_info, preprocess, display): (Vec<String>, DataInfo, Preprocess, ValueRange),
    (seconds, load_seconds): (f64, Option<f64>),
    (out, force, writes): (&Path, bool, bool),
    seed: u64,
) -> Result<Fitted> {
    let ratio_sum: f64 = pca
        .explained_variance_ratio()
        .iter()
        .map(|&v| f64::from(v))
        .sum();
    let n = pca.n_samples() as f64;
    // For PCA the mean squared reconstruction error of the training rows is exactly the
    // variance left out: (total − Σ kept eigenvalues) · (n − 1) / n, taken from the fit's
    // f64 figure (the stored f32 eigenvalues would cancel badly on unscaled data).
    let recon = (pca.residual_variance() * (n - 1.0) / n).max(0.0);
    let model_config = Model::pca_config(&pca, params);
    let model = Model::Pca(pca);
    let latent_dim = model.reduction().latent_dim();
    let mut config = new_config(
        command,
        seed,
        model_config,
        data_info,
        preprocess,
        display,
        latent_dim,
    );
    config
        .summary
        .insert("fit_seconds".to_string(), json!(seconds));
    if let Some(load) = load_seconds {
        config
            .summary
            .insert("load_seconds".to_string(), json!(load));
    }
    config
        .summary
        .insert("explained_variance_ratio_sum".to_string(), json!(ratio_sum));
    config
        .summary
        .insert("train_recon_sse_per_example".to_string(), json!(recon));
    if writes {
        run::save(out, &model, config.clone(), force)?;
    }
    Ok(Fitted {
        dir: out.to_path_buf(),
        config,
        model,
        seconds,
        epochs_run: 0,
        stopped_early: false,
    })
}

/// PCA's parameters of `spec`.
fn pca_params(spec: &FitSpec) -> PcaParams {
    let components = match spec.latent {
        LatentDim::Count(k) => Components::Count(k),
        LatentDim::Fraction(f) => Components::Fraction(f),
    };
    let p = &spec.pca;
    PcaParams::new(components)
        .solver(p.solver)
        .whiten(p.whiten)
        .seed(latent_core::seed::derive(spec.seed, "pca"))
        .oversamples(p.oversamples)
        .power_iters(p.power_iters)
        .precision(p.precision)
        .batch_size(spec.batch_size)
}

/// [`fit_pca`] as one rank of a job ([`fit_job`]).
fn fit_pca_job(
    spec: &FitSpec,
    share: crate::parallel::Share,
    comm: &dyn Collective,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    use crate::parallel as par;
    let params = pca_params(spec);
    let checked = params.clone().check()?;
    let binarize = spec.binarize.resolve(spec.seed);
    let preprocess = par::fit_preprocess(&share, spec.scale, binarize, comm)?;
    let mut info = data_info(&spec.data, &share.meta);
    info.n = share.n;
    let display = par::display_range(&share, comm)?;
    let x = par::apply(&share, &preprocess)?;
    events.stage(&format!(
        "fitting PCA to {} × {} on {} ranks",
        share.n,
        x.ncols(),
        comm.size()
    ));
    let started = Instant::now();
    let pca = checked.fit_sharded(x.view(), comm)?;
    let seconds = started.elapsed().as_secs_f64();
    finish_pca(
        (pca, &params),
        (command, info, preprocess, display),
        (seconds, None),
        (out, force, comm.is_root()),
        spec.seed,
    )
}

fn in_unit_interval(data: &Dataset) -> bool {
    data.x().iter().all(|&v| (0.0..=1.0).contains(&v))
}

/// What the network of a fit needs to know of its (preprocessed) data.
struct DataFacts<'a> {
    name: &'a str,
    dim: usize,
    image: Option<latent_core::ImageShape>,
    /// Every value in `[0, 1]` (on every rank of a job).
    unit: bool,
}

impl<'a> DataFacts<'a> {
    fn of(data: &'a Dataset) -> Self {
        DataFacts {
            name: data.name(),
            dim: data.dim(),
            image: data.image_shape(),
            unit: in_unit_interval(data),
        }
    }
}

/// The network of `spec` for data described by `data`.
fn net_config(spec: &FitSpec, latent_dim: usize, data: &DataFacts<'_>) -> Result<NetConfig> {
    let kind = match spec.family {
        Family::LinearAe => ModelKind::LinearAe,
        Family::Ae => ModelKind::Ae,
        Family::Vae => ModelKind::Vae,
        Family::Pca => return Err(Error::Internal("PCA is not a network".into())),
    };
    let n = &spec.net;
    let likelihood = match (n.likelihood, kind) {
        (Some(LikelihoodChoice::Bernoulli), _) => {
            if !data.unit {
                return Err(Error::invalid(format!(
                    "--likelihood bernoulli needs data in [0, 1]; {} is not (use --scale unit or another likelihood)",
                    data.name
                )));
            }
            Likelihood::Bernoulli
        }
        (Some(LikelihoodChoice::Gaussian), _) => Likelihood::Gaussian { sigma: n.sigma },
        (Some(LikelihoodChoice::GaussianLearned), _) => Likelihood::GaussianLearned {
            shared: n.shared_sigma,
        },
        (None, ModelKind::Vae) if data.unit => {
            if n.shared_sigma {
                return Err(Error::invalid(format!(
                    "--shared-sigma: {} is in [0, 1], so the VAE's likelihood is Bernoulli, \
                     which has no σ (drop it, or give --likelihood gaussian-learned)",
                    data.name
                )));
            }
            Likelihood::Bernoulli
        }
        (None, ModelKind::Vae) => Likelihood::GaussianLearned {
            shared: n.shared_sigma,
        },
        // autoencoders use squared error; the field is unused
        (None, _) => Likelihood::Gaussian { sigma: 1.0 },
    };
    let cfg = NetConfig {
        kind,
        arch: n.arch,
        image: data.image.map(|s| [s.height, s.width, s.channels]),
        conv_channels: n.conv_channels.clone(),
        input_dim: data.dim,
        latent_dim,
        hidden: n.hidden.clone(),
        activation: n.activation,
        posterior: n.posterior,
        likelihood,
    };
    cfg.check()?;
    Ok(cfg)
}

fn describe_likelihood(cfg: &NetConfig, pre: &Preprocess, dynamic: bool) -> String {
    match cfg.likelihood {
        Likelihood::Bernoulli => {
            let binary = if dynamic {
                "binarized afresh each batch"
            } else if pre.binarize != Binarize::None {
                "binarized"
            } else {
                "not binarized: grey levels are soft targets, as in the PyTorch example"
            };
            format!("Bernoulli (logits) on data in [0, 1], {binary}")
        }
        Likelihood::Gaussian { sigma } => format!("Gaussian, fixed σ = {sigma}"),
        Likelihood::GaussianLearned { shared: true } => "Gaussian, one learned σ".into(),
        Likelihood::GaussianLearned { shared: false } => "Gaussian, a learned σ per feature".into(),
    }
}

/// Writes `metrics.jsonl` after every epoch, then tells the front end; remembers the time
/// the epochs before a resume took.
struct Recorder<'a> {
    /// The run directory; `None` on the ranks of a job that do not write (all but rank 0).
    dir: Option<&'a Path>,
    inner: &'a mut dyn FitEvents,
    earlier_seconds: f64,
}

impl Observer for Recorder<'_> {
    fn epoch_start(&mut self, epoch: usize, steps: usize) {
        self.inner.epoch_start(epoch, steps);
    }
    fn step(&mut self, step: usize, loss: f64, recon: f64, kl: f64) {
        self.inner.step(step, loss, recon, kl);
    }
    fn proceed(&mut self) -> std::result::Result<(), String> {
        self.inner.proceed()
    }
    fn epoch_end(&mut self, m: &EpochMetrics, history: &[EpochMetrics]) -> latent_nn::Result<()> {
        if let Some(dir) = self.dir {
            run::write_metrics(dir, history)?;
        }
        self.inner.epoch_end(m, history)
    }
    fn note(&mut self, message: &str) {
        self.inner.note(message);
    }
    fn resumed(&mut self, history: &[EpochMetrics]) -> latent_nn::Result<()> {
        self.earlier_seconds = history.iter().map(|m| m.seconds).sum();
        if let Some(dir) = self.dir {
            run::write_metrics(dir, history)?;
        }
        self.inner.resumed(history)
    }
}

fn fit_nn(
    spec: &FitSpec,
    preloaded: Option<Dataset>,
    dir: &Path,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    let latent_dim = neural_latent_dim(spec)?;
    let given = preloaded.is_some();
    let raw = match preloaded {
        Some(raw) => raw,
        None => spec.data.load()?,
    };
    let binarize = spec.binarize.resolve(spec.seed);
    let preprocess = Preprocess::fit(&raw, nn_scale(spec, raw.range()), binarize)?;
    let info = in_memory(data_info(&spec.data, &raw), given);
    let display = display_range(&raw);
    let data = preprocess.apply(raw)?;
    let config = nn_run_config(
        spec,
        latent_dim,
        &DataFacts::of(&data),
        data.n(),
        (command, info, preprocess, display),
        events,
    )?;
    start_run_dir(dir, &config)?;
    train_run(
        dir,
        config,
        Rows::Whole(data),
        (spec.engine, spec.checkpoint_every),
        false,
        events,
    )
}

/// The scaling a network's fit asks for: a dynamic binarization reads the values as
/// probabilities, as a static one does, so `auto` then leaves data of no known range as it
/// is rather than standardizing it.
fn nn_scale(spec: &FitSpec, range: Option<ValueRange>) -> ScaleChoice {
    match spec.scale {
        ScaleChoice::Auto if spec.train.dynamic_binarize && range.is_none() => ScaleChoice::None,
        s => s,
    }
}

/// The latent dimension of a network's fit.
fn neural_latent_dim(spec: &FitSpec) -> Result<usize> {
    match spec.latent {
        LatentDim::Count(k) => Ok(k),
        LatentDim::Fraction(f) => Err(Error::invalid(format!(
            "--latent-dim {f}: expected a positive integer (a variance fraction is for PCA only)"
        ))),
    }
}

/// The run configuration of a network's fit of `n` rows described by `data`.
fn nn_run_config(
    spec: &FitSpec,
    latent_dim: usize,
    data: &DataFacts<'_>,
    n: usize,
    (command, info, preprocess, display): (Vec<String>, DataInfo, Preprocess, ValueRange),
    events: &mut dyn FitEvents,
) -> Result<RunConfig> {
    let mut net = net_config(spec, latent_dim, data)?;
    let t = &spec.train;
    let batch_size = spec.batch_size.unwrap_or(DEFAULT_BATCH);
    let epochs = match t.epochs {
        Some(e) => e,
        None => {
            let e = default_epochs(n, batch_size, t.val_fraction);
            if e > DEFAULT_EPOCHS {
                events.info(&format!(
                    "{e} epochs (no --epochs given: at least {MIN_DEFAULT_STEPS} steps of \
                     batch {batch_size} on {n} rows)"
                ));
            }
            e
        }
    };
    let mut train = TrainConfig {
        epochs,
        batch_size,
        lr: t.lr,
        beta1: t.adam_beta1,
        beta2: t.adam_beta2,
        eps: t.adam_eps,
        weight_decay: t.weight_decay,
        schedule: t.schedule,
        beta: t.beta,
        kl_warmup_epochs: t.kl_warmup,
        val_fraction: t.val_fraction,
        early_stopping: t.early_stopping,
        dynamic_binarize: t.dynamic_binarize,
        seed: spec.seed,
    };
    train.check()?;
    // what the model does not use is recorded as nothing (see `recorded`)
    crate::recorded::canonicalize(&mut net, &mut train);
    if t.dynamic_binarize && !data.unit {
        return Err(Error::invalid("--dynamic-binarize needs data in [0, 1]"));
    }
    latent_nn::device_by_name(&spec.device)?;
    Ok(new_config(
        command,
        spec.seed,
        ModelConfig::Nn {
            net,
            train,
            device: spec.device.clone(),
            epochs_run: 0,
            stopped_early: false,
        },
        info,
        preprocess,
        display,
        latent_dim,
    ))
}

/// A new network run's directory: a run replaced (with --force, checked by the caller)
/// removed, then its settings (`training.json`) written first.
fn start_run_dir(dir: &Path, config: &RunConfig) -> Result<()> {
    if dir.exists() {
        // a run latent wrote, replaced with --force (checked by the caller)
        fs::remove_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = fsutil::seal_json(config)
        .map_err(|e| Error::Internal(format!("serializing the training settings: {e}")))?;
    fsutil::atomic_write_bytes(&dir.join(run::TRAINING_FILE), &json)?;
    Ok(())
}

/// Continue the interrupted (or finished) training run in `dir` from its newest valid
/// checkpoint; `epochs`, when given, is the new total. `command` replaces the recorded one.
///
/// # Errors
/// No run to resume, a run that is not neural, reading errors, training errors.
pub fn resume(
    dir: &Path,
    epochs: Option<usize>,
    engine: Engine,
    checkpoint_every: CheckpointEvery,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    resume_job(
        dir,
        epochs,
        (engine, checkpoint_every),
        command,
        events,
        &Single,
    )
}

/// [`resume`] as one rank of a data-parallel job (see [`fit_job`]): rank 0 checks and locks
/// the run and reads its settings, then sends them to the others; each rank reads its share
/// of the recorded data, and training continues from rank 0's newest valid checkpoint.
///
/// # Errors
/// As [`resume`].
pub fn resume_job(
    dir: &Path,
    epochs: Option<usize>,
    (engine, checkpoint_every): (Engine, CheckpointEvery),
    command: Vec<String>,
    events: &mut dyn FitEvents,
    comm: &dyn Collective,
) -> Result<Fitted> {
    let mut _lock = None;
    let mut config = if comm.is_root() {
        if !dir.is_dir() {
            return Err(Error::invalid(format!(
                "{}: no such run directory to resume (a run started by `latent fit` with a \
                 neural model holds a {})",
                dir.display(),
                run::TRAINING_FILE
            )));
        }
        // held until training ends: a second writer to the same run is refused
        _lock = Some(latent_core::output::lock_dir(dir, &command.join(" "))?);
        // what an atomic write killed half-way leaves in the run directory
        for name in fsutil::remove_stale_temps(dir) {
            events.note(&format!("removed {name}, left by an interrupted write"));
        }
        Some(run::read_training(dir)?)
    } else {
        None
    };
    if comm.size() > 1 {
        // the others get the run's settings from rank 0 (their machines need not see the
        // run directory)
        let mut bytes = match &config {
            Some(c) => serde_json::to_vec(c)
                .map_err(|e| Error::Internal(format!("the run's settings: {e}")))?,
            None => Vec::new(),
        };
        comm.broadcast(&mut bytes).map_err(crate::parallel::comm)?;
        config = Some(
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::Internal(format!("the run's settings from rank 0: {e}")))?,
        );
    }
    let Some(mut config) = config else {
        return Err(Error::Internal("no run settings".into()));
    };
    let source = config.data.args.clone().ok_or_else(|| {
        Error::invalid(format!(
            "{}: no data arguments recorded",
            dir.join(run::TRAINING_FILE).display()
        ))
    })?;
    match (&mut config.model, epochs) {
        (ModelConfig::Nn { train, .. }, Some(e)) => train.epochs = e,
        (ModelConfig::Nn { .. }, None) => {}
        (ModelConfig::Pca { .. }, _) => {
            return Err(Error::invalid(format!(
                "{}: not a neural-network run",
                dir.display()
            )));
        }
    }
    let data = if comm.size() > 1 {
        let share = crate::parallel::load_share(&source, comm)?;
        Rows::Share {
            x: crate::parallel::apply(&share, &config.preprocess)?,
            rows: share.rows,
            n: share.n,
            comm,
        }
    } else {
        Rows::Whole(config.preprocess.apply(source.load()?)?)
    };
    config.command = command;
    train_run(dir, config, data, (engine, checkpoint_every), true, events)
}

/// [`fit`] as one rank of a data-parallel job ([`latent_core::Collective`]; `mpirun -np N
/// latent fit …`): every rank calls it with the same arguments. Rank 0 checks and locks
/// `out` and alone writes to it; each rank reads its share of the rows
/// ([`crate::parallel::load_share`]); the preprocessing is fitted from statistics summed
/// over the ranks; a network trains data-parallel ([`latent_nn::train_sharded`]: the
/// user's batch split across the ranks, the model one process trains to float-summation
/// rounding), PCA sums its statistics over the ranks. A job of one rank is [`fit`].
///
/// # Errors
/// As [`fit`]; a failed exchange between the ranks; fewer rows than ranks.
pub fn fit_job(
    spec: &FitSpec,
    out: &Path,
    force: bool,
    command: Vec<String>,
    events: &mut dyn FitEvents,
    comm: &dyn Collective,
) -> Result<Fitted> {
    if comm.size() == 1 {
        return fit(spec, out, force, command, events);
    }
    crate::applies::check(spec)?;
    let inputs: Vec<&Path> = spec.data.path().into_iter().collect();
    let _lock = if comm.is_root() {
        Some(run::claim_run_dir(out, force, &inputs, &command)?)
    } else {
        None
    };
    events.stage(&format!(
        "loading a share of the rows on each of {} ranks",
        comm.size()
    ));
    let share = crate::parallel::load_share(&spec.data, comm)?;
    if spec.family == Family::Pca {
        fit_pca_job(spec, share, comm, out, force, command, events)
    } else {
        fit_nn_job(spec, share, comm, out, command, events)
    }
}

fn fit_nn_job(
    spec: &FitSpec,
    share: crate::parallel::Share,
    comm: &dyn Collective,
    dir: &Path,
    command: Vec<String>,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    use crate::parallel as par;
    let latent_dim = neural_latent_dim(spec)?;
    let binarize = spec.binarize.resolve(spec.seed);
    let scale = nn_scale(spec, share.meta.range());
    let preprocess = par::fit_preprocess(&share, scale, binarize, comm)?;
    let mut info = data_info(&spec.data, &share.meta);
    info.n = share.n;
    let display = par::display_range(&share, comm)?;
    let x = par::apply(&share, &preprocess)?;
    let facts = DataFacts {
        name: share.meta.name(),
        dim: share.meta.dim(),
        image: share.meta.image_shape(),
        unit: par::in_unit_interval(&x, comm)?,
    };
    let config = nn_run_config(
        spec,
        latent_dim,
        &facts,
        share.n,
        (command, info, preprocess, display),
        events,
    )?;
    if comm.is_root() {
        start_run_dir(dir, &config)?;
    }
    train_run(
        dir,
        config,
        Rows::Share {
            x,
            rows: share.rows,
            n: share.n,
            comm,
        },
        (spec.engine, spec.checkpoint_every),
        false,
        events,
    )
}

/// The preprocessed rows a network trains on.
enum Rows<'a> {
    /// All of them (one process).
    Whole(Dataset),
    /// This rank's rows of a data-parallel job.
    Share {
        /// The rows.
        x: Array2<f32>,
        /// Their indices in the data, ascending.
        rows: Vec<usize>,
        /// The data's rows, all ranks together.
        n: usize,
        /// The job.
        comm: &'a dyn Collective,
    },
}

/// Train the network of `config` on `data` with checkpoints in `dir`, then write the weights
/// and `config.json`.
fn train_run(
    dir: &Path,
    mut config: RunConfig,
    data: Rows<'_>,
    (engine, checkpoint_every): (Engine, CheckpointEvery),
    resume: bool,
    events: &mut dyn FitEvents,
) -> Result<Fitted> {
    let ModelConfig::Nn {
        net, train, device, ..
    } = &config.model
    else {
        return Err(Error::invalid(format!(
            "{}: not a neural-network run",
            dir.display()
        )));
    };
    let (net, train, device_name) = (net.clone(), train.clone(), device.clone());
    let device = latent_nn::device_by_name(&device_name)?;
    let fraction = train.val_fraction;
    let split_seed = latent_core::seed::derive(train.seed, "split");
    let split_error = |n: usize, e: latent_core::Error| match e {
        latent_core::Error::InvalidParam { .. } => Error::invalid(format!(
            "--val-fraction {fraction}: {n} training rows cannot give both a training and a \
             validation part of at least one row"
        )),
        e => e.into(),
    };
    let (train_x, val_x, shards) = match data {
        Rows::Whole(data) if fraction > 0.0 => {
            // in place: the training part keeps the data's storage
            let n = data.n();
            let (t, v) = data
                .into_split(fraction, split_seed)
                .map_err(|e| split_error(n, e))?;
            let (t, v) = (t.into_x(), v.into_x());
            let shards = Shards {
                comm: &Single,
                train: RowMap::all(t.nrows()),
                val: Some(RowMap::all(v.nrows())),
            };
            (t, Some(v), shards)
        }
        // moved, not copied: a second copy of the data would double the peak memory
        Rows::Whole(data) => {
            let x = data.into_x();
            let train = RowMap::all(x.nrows());
            let shards = Shards {
                comm: &Single,
                train,
                val: None,
            };
            (x, None, shards)
        }
        Rows::Share { x, rows, n, comm } if fraction > 0.0 => {
            // the split one process makes, by global index; this rank keeps its rows of each
            let (tr, va) =
                Dataset::split_rows(n, fraction, split_seed).map_err(|e| split_error(n, e))?;
            let pick = |order: &[usize]| {
                let (mut global, mut local) = (Vec::new(), Vec::new());
                for (j, i) in order.iter().enumerate() {
                    if let Ok(p) = rows.binary_search(i) {
                        global.push(j);
                        local.push(p);
                    }
                }
                (global, local)
            };
            let ((tg, tl), (vg, vl)) = (pick(&tr), pick(&va));
            let shards = Shards {
                comm,
                train: RowMap::from_global(tr.len(), &tg)?,
                val: Some(RowMap::from_global(va.len(), &vg)?),
            };
            let t = x.select(ndarray::Axis(0), &tl);
            let v = x.select(ndarray::Axis(0), &vl);
            (t, Some(v), shards)
        }
        Rows::Share { x, rows, n, comm } => {
            let shards = Shards {
                comm,
                train: RowMap::from_global(n, &rows)?,
                val: None,
            };
            (x, None, shards)
        }
    };
    let writes = shards.comm.is_root();
    events.training(train.epochs, net.is_vae());
    events.info(&format!(
        "training {} {}→{} ({}) on {} rows{}, {} epochs, batch {}, device {device_name} ({})",
        net.kind.name(),
        net.input_dim,
        net.latent_dim,
        if net.hidden.is_empty() || net.kind == ModelKind::LinearAe {
            "linear".to_string()
        } else if net.arch == Arch::Conv {
            format!("conv {:?}, hidden {:?}", net.conv_channels, net.hidden)
        } else {
            format!("hidden {:?}", net.hidden)
        },
        shards.train.len(),
        shards
            .val
            .as_ref()
            .map(|v| format!(" (+{} validation)", v.len()))
            .unwrap_or_default(),
        train.epochs,
        train.batch_size,
        latent_nn::engine::choose(engine, &net, &device).name()
    ));
    if net.is_vae() {
        events.info(&format!(
            "likelihood: {}; posterior: {:?}; β = {}",
            describe_likelihood(&net, &config.preprocess, train.dynamic_binarize),
            net.posterior,
            train.beta
        ));
    }
    let started = Instant::now();
    let ckpt_dir = dir.join(run::CHECKPOINT_DIR);
    let mut recorder = Recorder {
        dir: writes.then_some(dir),
        inner: events,
        earlier_seconds: 0.0,
    };
    let trained = latent_nn::train_sharded(
        engine,
        &net,
        &train,
        (train_x.view(), val_x.as_ref().map(|v| v.view())),
        &shards,
        &device,
        Some(Checkpointing {
            dir: &ckpt_dir,
            resume,
            // a run started before checkpoints were sealed resumes from its checkpoints
            unsealed_ok: config.format_version < 2,
            every: checkpoint_every,
        }),
        &mut recorder,
    )?;
    // the run's files are now written sealed, whatever version it started as
    config.format_version = run::FORMAT_VERSION;
    let seconds = started.elapsed().as_secs_f64();
    // the whole fit: this session and the epochs trained before a resume
    let total_seconds = seconds + recorder.earlier_seconds;
    let epochs_run = trained.history.len();
    let last = trained.history.last().cloned();
    let mut sigma_at_floor = None;
    // (a report only: a σ that cannot be read back does not stop the run being written)
    if let Some(values) = trained
        .net
        .log_sigma()
        .and_then(|ls| ls.into_data().convert::<f32>().try_into_vec::<f32>().ok())
    {
        let floor = latent_nn::loss::LOG_SIGMA_FLOOR;
        let at_floor = values.iter().filter(|&&v| v <= floor).count();
        sigma_at_floor = Some(at_floor);
        if at_floor > 0 {
            events.note(&format!(
                "{at_floor} of {} learned σ reached the floor e^{floor} ≈ {:.4}: (nearly) constant \
                 features, where a learned σ would shrink to 0 and the loss fall without bound; \
                 their loss terms stop at the floor (drop constant features, or use \
                 --likelihood gaussian with a fixed --sigma, to avoid it)",
                values.len(),
                floor.exp()
            ));
        }
    }
    let model = Model::Nn(Box::new(NnModel::new(trained.net, &device)?));

    if let ModelConfig::Nn {
        epochs_run: e,
        stopped_early,
        train: t,
        ..
    } = &mut config.model
    {
        *e = epochs_run;
        *stopped_early = trained.stopped_early;
        t.epochs = train.epochs;
    }
    if let Some(m) = &last {
        config
            .summary
            .insert("train_loss".into(), json!(m.train_loss));
        config
            .summary
            .insert("train_recon".into(), json!(m.train_recon));
        config.summary.insert("train_kl".into(), json!(m.train_kl));
        if let Some(v) = m.val_loss {
            config.summary.insert("val_loss".into(), json!(v));
        }
    }
    if let Some(n) = sigma_at_floor {
        config
            .summary
            .insert("learned_sigma_at_floor".into(), json!(n));
    }
    config
        .summary
        .insert("fit_seconds".into(), json!(total_seconds));
    config.summary.insert(
        "loss_units".into(),
        json!(if net.is_vae() {
            "nats per example (summed over features)"
        } else {
            "squared error per example (summed over features)"
        }),
    );
    if writes {
        run::write_files(dir, &model, config.clone())?;
    }
    Ok(Fitted {
        dir: dir.to_path_buf(),
        config,
        model,
        seconds,
        epochs_run,
        stopped_early: trained.stopped_early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_epochs_give_small_data_enough_steps() {
        // large data: the plain default (469 and 79 steps an epoch)
        assert_eq!(default_epochs(60_000, 128, 0.0), DEFAULT_EPOCHS);
        assert_eq!(default_epochs(10_000, 128, 0.0), DEFAULT_EPOCHS);
        // small data: at least MIN_DEFAULT_STEPS steps
        assert_eq!(default_epochs(178, 128, 0.0), 375); // 2 steps an epoch
        assert_eq!(default_epochs(1797, 128, 0.0), 50); // 15
        assert_eq!(default_epochs(1000, 128, 0.5), 188); // 500 rows train: 4
        assert_eq!(default_epochs(1000, 10, 0.0), DEFAULT_EPOCHS); // 100
        // a handful of rows: one step an epoch
        assert_eq!(default_epochs(5, 128, 0.0), 750);
        assert_eq!(default_epochs(1, 1, 0.0), 750);
        assert_eq!(default_epochs(0, 0, 0.0), 750);
    }
}
