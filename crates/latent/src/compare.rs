//! The chapter as an experiment: PCA, the linear autoencoder, the deep autoencoder and VAEs
//! (over a list of β) fitted at each latent dimension on the training split, measured on the
//! test split by [`crate::eval`], and written up: `summary.json` (a [`CompareSummary`]: one
//! [`Record`] per model × dimension × β), the run directories, the figures, and
//! `report.html`. The demo is [`CompareSpec::demo`].

use std::path::Path;
use std::time::Instant;

use latent_core::{Dataset, Family};
use latent_data::source::Split;
use latent_data::transform::{Preprocess, ScaleChoice};
use serde::{Deserialize, Serialize};

use crate::data::{CsvHeader, DataSource};
use crate::eval::{Bench, BenchSummary, EvalSettings, Metrics, evaluate};
use crate::fit::{BinarizeChoice, FitEvents, FitSpec, LatentDim};
use crate::run::{self, Model};
use crate::{Error, Result};

/// Optimiser steps the linear autoencoder gets by default. Its loss has saddle points at the
/// sub-optimal subspaces, and it reaches PCA's late and abruptly; the last directions, whose
/// variances are nearly equal, come last (measured on Fashion-MNIST 60k, K = 20, lr 0.01
/// cosine: 8,400 steps leave 11° between the subspaces, 18,800 steps 0.38°, 20,200 steps
/// 3.7°, 37,500 steps 0.18°, while the reconstruction errors agree to 0.01 % throughout).
pub const LINEAR_AE_STEPS: usize = 40_000;

/// The linear autoencoder's epochs in the quick demo ([`CompareSpec::demo`]).
pub const QUICK_LINEAR_EPOCHS: usize = 160;

/// The marker `compare` writes first into its output directory.
pub const MARKER: &str = ".latent-compare";

/// What to compare: the data, the latent dimensions, the βs and the training budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSpec {
    /// The data (its split and hold-out fields are set by the comparison).
    pub data: DataSource,
    /// For data without its own splits: the percentage of rows held out (seeded by
    /// `holdout_seed`).
    pub holdout: u8,
    /// Seed of the hold-out shuffle (`None`: `seed`), as `latent fit --holdout-seed`: a
    /// comparison whose test rows are those a fit held out.
    #[serde(default)]
    pub holdout_seed: Option<u64>,
    /// Latent dimensions.
    pub latent_dims: Vec<usize>,
    /// KL weights of the VAEs (β = 1 is always included).
    pub betas: Vec<f64>,
    /// Training epochs of the deep autoencoder and the VAEs.
    pub epochs: usize,
    /// Training epochs of the linear autoencoder (`None`: about [`LINEAR_AE_STEPS`] steps,
    /// 10 to 1,000 epochs).
    pub linear_epochs: Option<usize>,
    /// Hidden widths of the deep models.
    pub hidden: Vec<usize>,
    /// Rows per training step.
    pub batch_size: usize,
    /// Feature scaling before every model, as `latent fit --scale` (fitted on the training
    /// split; the test split gets the same).
    #[serde(default)]
    pub scale: ScaleChoice,
    /// Binarization after scaling, as `latent fit --binarize`.
    #[serde(default)]
    pub binarize: BinarizeChoice,
    /// Adam learning rate of the deep autoencoder and the VAEs.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Adam learning rate of the linear autoencoder (with a cosine schedule: it converges
    /// late, see [`LINEAR_AE_STEPS`]).
    #[serde(default = "default_linear_lr")]
    pub linear_lr: f64,
    /// Importance samples per test row for the VAEs' `nll_is` (0 skips it).
    pub iw_samples: usize,
    /// Decoded latent samples per model for completeness and the Fréchet distance.
    pub samples: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Compute device of the fits.
    pub device: String,
}

impl CompareSpec {
    /// A comparison on `data` with the defaults of `latent compare`.
    pub fn new(data: DataSource) -> Self {
        CompareSpec {
            data,
            holdout: 20,
            holdout_seed: None,
            latent_dims: vec![2, 10, 20],
            betas: vec![0.5, 1.0, 4.0],
            epochs: 20,
            linear_epochs: None,
            hidden: vec![400],
            batch_size: 128,
            scale: ScaleChoice::Auto,
            binarize: BinarizeChoice::None,
            lr: default_lr(),
            linear_lr: default_linear_lr(),
            iw_samples: 100,
            samples: 2000,
            seed: 0,
            device: "cpu".into(),
        }
    }

    /// The demo: the embedded Fashion-MNIST-10k (80 % train, 20 % test), K = 2, 10, 20,
    /// β = 0.5, 1, 4, 20 epochs — about two and a half minutes on two cores. `quick`: K = 2
    /// and 5, 2 epochs and fewer samples (a smoke test, not a result).
    pub fn demo(quick: bool) -> Self {
        let mut s = CompareSpec::new(DataSource::new("fashion-mnist-10k"));
        if quick {
            s.latent_dims = vec![2, 5];
            s.epochs = 2;
            s.hidden = vec![128];
            s.iw_samples = 10;
            s.samples = 500;
            // a quarter of LINEAR_AE_STEPS (10,000 steps of the 8,000 training rows): at
            // K = 2 and 5 the subspaces settle within 0.1° of PCA's (measured: 0.03° and
            // 0.08°), where the full count was nine tenths of the quick demo's time
            s.linear_epochs = Some(QUICK_LINEAR_EPOCHS);
        } else {
            s.hidden = vec![256];
        }
        s
    }

    /// The equivalent command line (for the record and for the demo's header).
    pub fn command_line(&self, out: &Path) -> String {
        let list = |v: &[usize]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let betas = self
            .betas
            .iter()
            .map(|b| format!("{b}"))
            .collect::<Vec<_>>()
            .join(",");
        let linear = self
            .linear_epochs
            .map(|e| format!(" --linear-epochs {e}"))
            .unwrap_or_default();
        format!(
            "latent compare --data {} --latent-dims {} --betas {betas} --epochs {}{linear} \
             --hidden {} --iw-samples {} --samples {} --out {}",
            self.data.data,
            list(&self.latent_dims),
            self.epochs,
            list(&self.hidden),
            self.iw_samples,
            self.samples,
            out.display()
        )
    }
}

/// The learning rate of the deep autoencoder and the VAEs by default (`latent fit`'s).
fn default_lr() -> f64 {
    crate::fit::TrainSettings::default().lr
}

/// The learning rate of the linear autoencoder by default.
fn default_linear_lr() -> f64 {
    0.01
}

/// `--binarize`'s value for `b`: `none`, `threshold=T` or `bernoulli`.
fn binarize_flag(b: BinarizeChoice) -> String {
    match b {
        BinarizeChoice::None => "none".into(),
        BinarizeChoice::Threshold(at) => format!("threshold={at}"),
        BinarizeChoice::Bernoulli => "bernoulli".into(),
    }
}

/// `--lr-schedule`'s value for `s`.
fn schedule_flag(s: latent_nn::LrSchedule) -> String {
    match s {
        latent_nn::LrSchedule::Constant => "constant".into(),
        latent_nn::LrSchedule::Cosine {
            final_fraction: 0.0,
        } => "cosine".into(),
        latent_nn::LrSchedule::Cosine { final_fraction } => format!("cosine={final_fraction}"),
        latent_nn::LrSchedule::Step { every, gamma } => format!("step={every}:{gamma}"),
    }
}

/// One fitted model of the comparison and its figures on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The family.
    pub model: Family,
    /// Latent dimension.
    pub latent_dim: usize,
    /// The KL weight (VAEs).
    pub beta: Option<f64>,
    /// The run directory, relative to the output directory.
    pub run: String,
    /// Its figures.
    #[serde(flatten)]
    pub metrics: Metrics,
}

impl Record {
    /// The label of the model in a report ("PCA", "VAE β=4").
    pub fn label(&self) -> String {
        match (self.model, self.beta) {
            (Family::Vae, Some(b)) if (b - 1.0).abs() >= 1e-12 => format!("VAE β={b}"),
            (f, _) => f.label().into(),
        }
    }
}

/// Everything `compare` measured (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSummary {
    /// Always `latent-compare`.
    pub format: String,
    /// The latent version that wrote it.
    pub latent_version: String,
    /// The data argument.
    pub data: String,
    /// How the test split was made, in words.
    pub split: String,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Latent dimensions.
    pub latent_dims: Vec<usize>,
    /// The βs (with 1, ascending).
    pub betas: Vec<f64>,
    /// Epochs of the deep models.
    pub epochs: usize,
    /// Epochs of the linear autoencoder.
    pub linear_epochs: usize,
    /// Hidden widths, comma-separated.
    pub hidden: String,
    /// Rows per training step.
    pub batch_size: usize,
    /// The feature scaling asked for (`auto`: chosen from the data, as `latent fit` does).
    #[serde(default)]
    pub scale: ScaleChoice,
    /// The binarization after scaling (`none`, `threshold=T`, `bernoulli`).
    #[serde(default = "no_binarize")]
    pub binarize: String,
    /// Adam learning rate of the deep autoencoder and the VAEs.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Adam learning rate of the linear autoencoder.
    #[serde(default = "default_linear_lr")]
    pub linear_lr: f64,
    /// The seed.
    pub seed: u64,
    /// Figures of the test bench itself.
    pub bench: BenchSummary,
    /// Each of the chapter's claims checked against the numbers, one sentence each.
    pub reading: Vec<String>,
    /// One record per model × latent dimension × β.
    pub records: Vec<Record>,
    /// Seconds the comparison took.
    pub seconds: f64,
}

impl CompareSummary {
    /// The record of `model` at `k` (and `beta`, for VAEs).
    pub fn find(&self, model: Family, k: usize, beta: Option<f64>) -> Option<&Record> {
        self.records.iter().find(|e| {
            e.model == model
                && e.latent_dim == k
                && match (e.beta, beta) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                    (None, None) => true,
                    _ => false,
                }
        })
    }

    /// The model that stands for `family` at `k`: for VAEs, the β = 1 one.
    pub fn main_model(&self, family: Family, k: usize) -> Option<&Record> {
        if family == Family::Vae {
            self.find(family, k, Some(1.0))
        } else {
            self.find(family, k, None)
        }
    }
}

fn no_binarize() -> String {
    "none".into()
}

/// What a comparison reports while it works: the fits' events, and lines of progress.
pub trait CompareEvents: FitEvents {
    /// A line of progress ("== vae-k2-beta1", "linear AE vs PCA at K = 2: …").
    fn log(&mut self, _line: &str) {}
}

/// The training and test splits: the data set's own when it has them, else a seeded
/// hold-out; and how, in words.
fn splits(spec: &CompareSpec) -> Result<(DataSource, DataSource, String)> {
    let base = DataSource {
        split: None,
        holdout: None,
        holdout_seed: 0,
        ..spec.data.clone()
    };
    Ok(if base.has_own_splits()? {
        (
            base.with_split(Split::Train),
            base.with_split(Split::Test),
            "the data set's own train and test splits".to_string(),
        )
    } else {
        let seed = spec.holdout_seed.unwrap_or(spec.seed);
        let held = DataSource {
            holdout: Some(spec.holdout),
            holdout_seed: seed,
            ..base
        };
        (
            held.with_split(Split::Train),
            held.with_split(Split::Test),
            format!(
                "a seeded hold-out: {} % of the rows are the test split{}",
                spec.holdout,
                match spec.holdout_seed {
                    Some(s) => format!(" (--holdout-seed {s})"),
                    None => String::new(),
                }
            ),
        )
    })
}

/// The `latent fit` command line equivalent to a fit of the comparison (recorded in its run).
fn fit_command(fit: &FitSpec, out: &Path) -> Vec<String> {
    let d = &fit.data;
    let mut v: Vec<String> = ["latent", "fit", "--model", fit.family.name(), "--data"]
        .iter()
        .map(ToString::to_string)
        .collect();
    v.push(d.data.clone());
    if let Some(s) = d.split {
        v.extend(["--split".into(), s.as_str().into()]);
    }
    if let Some(h) = d.holdout {
        v.extend([
            "--holdout".into(),
            h.to_string(),
            "--holdout-seed".into(),
            d.holdout_seed.to_string(),
        ]);
    }
    if let Some(c) = &d.label_column {
        v.extend(["--label-column".into(), c.clone()]);
    }
    if let Some(l) = &d.labels {
        v.extend(["--labels".into(), l.clone()]);
    }
    v.extend([
        "--csv-header".into(),
        match d.csv_header {
            CsvHeader::Auto => "auto",
            CsvHeader::Yes => "yes",
            CsvHeader::No => "no",
        }
        .into(),
    ]);
    if let LatentDim::Count(k) = fit.latent {
        v.extend(["--latent-dim".into(), k.to_string()]);
    }
    if fit.scale != ScaleChoice::Auto {
        v.extend([
            "--scale".into(),
            serde_json::to_value(fit.scale)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default(),
        ]);
    }
    if fit.binarize != BinarizeChoice::None {
        v.extend(["--binarize".into(), binarize_flag(fit.binarize)]);
    }
    v.extend([
        "--seed".into(),
        fit.seed.to_string(),
        "--out".into(),
        out.display().to_string(),
    ]);
    if fit.family.is_neural() {
        let t = &fit.train;
        v.extend([
            "--batch-size".into(),
            fit.batch_size
                .unwrap_or(crate::fit::DEFAULT_BATCH)
                .to_string(),
            "--device".into(),
            fit.device.clone(),
            "--epochs".into(),
            t.epochs.unwrap_or(crate::fit::DEFAULT_EPOCHS).to_string(),
            "--lr".into(),
            t.lr.to_string(),
        ]);
        if t.schedule != latent_nn::LrSchedule::Constant {
            v.extend(["--lr-schedule".into(), schedule_flag(t.schedule)]);
        }
        // the linear autoencoder has no hidden layers
        if fit.family != Family::LinearAe {
            v.extend([
                "--hidden".into(),
                fit.net
                    .hidden
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
        if fit.family == Family::Vae {
            v.extend(["--beta".into(), t.beta.to_string()]);
        }
    }
    v
}

/// The largest principal angle, in degrees, between the subspaces two decoders span: the
/// rows `decode(eᵢ) − decode(0)` (exact for linear decoders).
fn largest_angle_deg(a: &Model, b: &Model) -> Result<f64> {
    let basis = |m: &Model| -> Result<ndarray::Array2<f32>> {
        let k = m.reduction().latent_dim();
        let mut z = ndarray::Array2::<f32>::zeros((k + 1, k));
        for i in 0..k {
            z[[i + 1, i]] = 1.0;
        }
        let x = m.reduction().decode(z.view())?;
        let origin = x.row(0).to_owned();
        Ok(ndarray::Array2::from_shape_fn((k, x.ncols()), |(i, j)| {
            x[[i + 1, j]] - origin[j]
        }))
    };
    let angles = latent_pca::principal_angles(basis(a)?.view(), basis(b)?.view())?;
    Ok(angles.iter().copied().fold(0.0, f64::max).to_degrees())
}

/// Why `dir` is not a `compare` output latent wrote (`Err` names the foreign entry): it must
/// carry the marker (or a `summary.json` of format `latent-compare`) and hold nothing but run
/// directories in `runs/`, PNG figures in `images/`, the summary and the report.
///
/// # Errors
/// The reason, in words.
pub fn owned_compare(dir: &Path) -> std::result::Result<(), String> {
    use latent_core::output::is_leftover;
    let summary = std::fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["format"] == "latent-compare");
    if !summary && !dir.join(MARKER).is_file() {
        return Err("holds no summary.json or marker of a `latent compare` output".into());
    }
    let foreign = |p: &Path| format!("holds `{}`, which latent did not write", p.display());
    let entries = |d: &Path| -> std::result::Result<Vec<std::fs::DirEntry>, String> {
        std::fs::read_dir(d)
            .and_then(Iterator::collect)
            .map_err(|e| format!("{}: {e}", d.display()))
    };
    for e in entries(dir)? {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let ok = match name.as_str() {
            "summary.json" | "report.html" | MARKER => !is_dir,
            "runs" | "images" => is_dir,
            n => is_leftover(n),
        };
        if !ok {
            return Err(foreign(&e.path()));
        }
    }
    let runs = dir.join("runs");
    if runs.is_dir() {
        for e in entries(&runs)? {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_leftover(&name) {
                continue;
            }
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                return Err(foreign(&e.path()));
            }
            run::owned_run(&e.path())?;
        }
    }
    let images = dir.join("images");
    if images.is_dir() {
        for e in entries(&images)? {
            let name = e.file_name().to_string_lossy().into_owned();
            let png = name.ends_with(".png") && e.file_type().is_ok_and(|t| t.is_file());
            if !png && !is_leftover(&name) {
                return Err(foreign(&e.path()));
            }
        }
    }
    Ok(())
}

fn fmt_beta(b: f64) -> String {
    format!("{b}").replace('.', "_")
}

/// Run the comparison `spec` into the directory `out` (replacing a compare output latent
/// wrote there only with `force`): `runs/`, `summary.json`, `images/` and `report.html`.
/// `command` is recorded in the report.
///
/// # Errors
/// Invalid settings (before anything is written), refusals to write `out`, reading, fitting
/// and drawing errors.
pub fn compare(
    spec: &CompareSpec,
    out: &Path,
    force: bool,
    command: &str,
    events: &mut dyn CompareEvents,
) -> Result<CompareSummary> {
    let inputs: Vec<&Path> = spec.data.path().into_iter().collect();
    latent_core::output::check_dir(out, force, &inputs, &owned_compare)?;
    let _lock = latent_core::output::lock_dir(out, command)?;
    let betas = checked(spec)?;
    let (train_src, test_src, split_note) = splits(spec)?;
    events.log(&format!("== loading {} ({split_note})", spec.data.data));
    let started = Instant::now();
    let train_raw = train_src.load()?;
    let test_raw = test_src.load()?;
    let input = Input {
        train_raw,
        test_raw,
        split_note,
        train_src: Some(train_src),
    };
    run_compare(spec, betas, input, out, command, started, events)
}

/// [`compare`] on rows given in memory (the Python package's `latent.compare`): `train` is
/// what every model is fitted on, `test` what they are measured on; `spec.data.data` names
/// the data in the summary and the report, and `spec.holdout` is not used. The run
/// directories record no way to reload the data (as [`crate::fit::fit_dataset`]'s).
///
/// # Errors
/// As [`compare`].
pub fn compare_datasets(
    spec: &CompareSpec,
    train: Dataset,
    test: Dataset,
    out: &Path,
    force: bool,
    command: &str,
    events: &mut dyn CompareEvents,
) -> Result<CompareSummary> {
    latent_core::output::check_dir(out, force, &[], &owned_compare)?;
    let _lock = latent_core::output::lock_dir(out, command)?;
    let betas = checked(spec)?;
    if train.dim() != test.dim() {
        return Err(Error::invalid(format!(
            "the test rows have {} features, the training rows {}",
            test.dim(),
            train.dim()
        )));
    }
    let split_note = format!(
        "given in memory: {} training rows, {} test rows",
        train.n(),
        test.n()
    );
    events.log(&format!("== {} ({split_note})", spec.data.data));
    let input = Input {
        train_raw: train,
        test_raw: test,
        split_note,
        train_src: None,
    };
    run_compare(spec, betas, input, out, command, Instant::now(), events)
}

/// The checked settings of a comparison; its βs, with 1 added, sorted.
fn checked(spec: &CompareSpec) -> Result<Vec<f64>> {
    let dims = &spec.latent_dims;
    if dims.is_empty() || dims.contains(&0) {
        return Err(Error::invalid(
            "--latent-dims: each dimension must be at least 1",
        ));
    }
    let mut betas = spec.betas.clone();
    if betas.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
        return Err(Error::invalid(
            "--betas: each β must be finite and positive",
        ));
    }
    if !betas.contains(&1.0) {
        betas.push(1.0);
    }
    betas.sort_by(f64::total_cmp);
    betas.dedup();
    if spec.epochs == 0 {
        return Err(Error::invalid("--epochs must be at least 1"));
    }
    for (flag, lr) in [("--lr", spec.lr), ("--linear-lr", spec.linear_lr)] {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::invalid(format!(
                "{flag} {lr}: a learning rate must be finite and positive"
            )));
        }
    }
    Ok(betas)
}

/// The rows of a comparison, raw (before preprocessing).
struct Input {
    train_raw: Dataset,
    test_raw: Dataset,
    /// How the splits were made, in words.
    split_note: String,
    /// Where the training rows are read from (fits then record it); `None`: in memory.
    train_src: Option<DataSource>,
}

/// The comparison proper, on loaded rows, `out` checked and locked.
fn run_compare(
    spec: &CompareSpec,
    betas: Vec<f64>,
    input: Input,
    out: &Path,
    command: &str,
    started: Instant,
    events: &mut dyn CompareEvents,
) -> Result<CompareSummary> {
    let dims = spec.latent_dims.clone();
    let Input {
        train_raw,
        test_raw,
        split_note,
        train_src,
    } = input;
    // the preprocessing every fit chooses from the same training rows
    let pre = Preprocess::fit(&train_raw, spec.scale, spec.binarize.resolve(spec.seed))?;
    // the raw training rows stay for fits of rows given in memory
    let fit_rows = train_src.is_none().then(|| train_raw.clone());
    let train = pre.apply(train_raw)?;
    let test = pre.apply(test_raw)?;
    let (n_train, n_test) = (train.n(), test.n());

    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if out.exists() {
        // --force, on a compare output latent wrote (checked above)
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    let images = out.join("images");
    std::fs::create_dir_all(&images).map_err(io(&images))?;
    latent_core::fsutil::atomic_write_bytes(
        &out.join(MARKER),
        b"a `latent compare` output: `--force` may replace this directory\n",
    )?;

    let settings = EvalSettings {
        seed: spec.seed,
        iw_samples: spec.iw_samples,
        samples: spec.samples,
        ..EvalSettings::default()
    };
    // a bad --device fails here, before any fit
    latent_nn::device_by_name(&spec.device)?;
    let bench = {
        let mut log = |m: &str| events.log(m);
        Bench::new(train, test, settings, &latent_nn::cpu_device(), &mut log)?
    };
    for n in bench.notes() {
        events.log(n);
    }

    let steps_per_epoch = n_train.div_ceil(spec.batch_size.max(1));
    let linear_epochs = spec
        .linear_epochs
        .unwrap_or_else(|| (LINEAR_AE_STEPS.div_ceil(steps_per_epoch.max(1))).clamp(10, 1000));

    let mut records: Vec<Record> = Vec::new();
    // the fitted models, index for index with `records` (the report draws from them)
    let mut models: Vec<(run::RunConfig, Model)> = Vec::new();
    for &k in &dims {
        let mut jobs: Vec<(Family, Option<f64>)> = vec![
            (Family::Pca, None),
            (Family::LinearAe, None),
            (Family::Ae, None),
        ];
        jobs.extend(betas.iter().map(|&b| (Family::Vae, Some(b))));
        for (family, beta) in jobs {
            let name = match beta {
                Some(b) => format!("{}-k{k}-beta{}", family.name(), fmt_beta(b)),
                None => format!("{}-k{k}", family.name()),
            };
            let dir = out.join("runs").join(&name);
            events.log(&format!("\n== {name}"));
            let source = train_src.clone().unwrap_or_else(|| spec.data.clone());
            let mut fit = FitSpec::new(family, source, LatentDim::Count(k));
            fit.seed = spec.seed;
            fit.scale = spec.scale;
            fit.binarize = spec.binarize;
            if family.is_neural() {
                fit.batch_size = Some(spec.batch_size);
                fit.device = spec.device.clone();
            }
            match family {
                Family::Pca => {}
                Family::LinearAe => {
                    fit.train.epochs = Some(linear_epochs);
                    fit.train.lr = spec.linear_lr;
                    fit.train.schedule = latent_nn::LrSchedule::Cosine {
                        final_fraction: 0.0,
                    };
                }
                Family::Ae | Family::Vae => {
                    fit.train.epochs = Some(spec.epochs);
                    fit.train.lr = spec.lr;
                    fit.net.hidden = spec.hidden.clone();
                    if let Some(b) = beta {
                        fit.train.beta = b;
                    }
                }
            }
            let t0 = Instant::now();
            let fitted = match &fit_rows {
                None => crate::fit::fit(&fit, &dir, false, fit_command(&fit, &dir), events),
                Some(rows) => crate::fit::fit_dataset(
                    &fit,
                    rows.clone(),
                    &dir,
                    false,
                    vec![format!("{command} ({name})")],
                    events,
                ),
            };
            fitted.map_err(|e| {
                // the learning rate of the linear autoencoder has a flag of its own here
                let hint = if family == Family::LinearAe && e.to_string().contains("--lr") {
                    format!(
                        " (the linear autoencoder's learning rate is --linear-lr, now {})",
                        spec.linear_lr
                    )
                } else {
                    String::new()
                };
                Error::InRun {
                    run: name.clone(),
                    hint,
                    source: Box::new(e),
                }
            })?;
            let fit_seconds = t0.elapsed().as_secs_f64();
            // the model as saved (as every later command sees it)
            let (config, m) = run::load(&dir)?;
            let mut metrics = {
                let mut log = |l: &str| events.log(l);
                evaluate(&m, &bench, &mut log)?
            };
            metrics.fit_seconds = Some(fit_seconds);
            records.push(Record {
                model: family,
                latent_dim: k,
                beta,
                run: format!("runs/{name}"),
                metrics,
            });
            models.push((config, m));
        }
        let at = |f: Family| {
            records
                .iter()
                .position(|e| e.model == f && e.latent_dim == k)
                .ok_or_else(|| Error::Internal(format!("K = {k} has no {f} run")))
        };
        let (p, l) = (at(Family::Pca)?, at(Family::LinearAe)?);
        let angle = largest_angle_deg(&models[l].1, &models[p].1)?;
        records[l].metrics.pca_angle_deg = Some(angle);
        events.log(&format!(
            "linear AE vs PCA at K = {k}: largest principal angle {angle:.2}°"
        ));
    }

    let mut summary = CompareSummary {
        format: "latent-compare".into(),
        latent_version: env!("CARGO_PKG_VERSION").into(),
        data: spec.data.data.clone(),
        split: split_note,
        train_rows: n_train,
        test_rows: n_test,
        latent_dims: dims,
        betas,
        epochs: spec.epochs,
        linear_epochs,
        hidden: spec
            .hidden
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        batch_size: spec.batch_size,
        scale: spec.scale,
        binarize: binarize_flag(spec.binarize),
        lr: spec.lr,
        linear_lr: spec.linear_lr,
        seed: spec.seed,
        bench: bench.summary(),
        reading: Vec::new(),
        records,
        seconds: 0.0,
    };
    summary.reading = crate::report::claims(&summary);
    summary.seconds = started.elapsed().as_secs_f64();
    let summary_path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| Error::Internal(format!("serializing the summary: {e}")))?;
    latent_core::fsutil::atomic_write_bytes(&summary_path, text.as_bytes())?;
    events.log(&format!("\nwrote {}", summary_path.display()));

    let fits = crate::report::Fits {
        models: &models,
        bench: &bench,
    };
    let report = crate::report::build(out, &summary, &fits, command)?;
    let report_path = out.join("report.html");
    report.write(&report_path)?;
    events.log(&format!("wrote {}", report_path.display()));
    Ok(summary)
}
