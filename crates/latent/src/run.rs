//! Run directories: a fitted model and everything needed to rebuild and use it.
//!
//! ```text
//! RUN_DIR/
//!   config.json        what was fitted, on what data, with which settings and seed; the
//!                      preprocessing to reapply; the weights' checksum; the checksum of
//!                      its own content. Written last: a run directory without it is
//!                      incomplete.
//!   model.safetensors  the weights (f32, little-endian, C order; names listed in config.json)
//! ```
//! A new run is assembled in a hidden sibling directory and renamed into place when complete,
//! so an interrupted `fit` never leaves a half-written run, and `--force` replaces an old run
//! only once the new one is whole.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use latent_core::{ImageShape, Reduction, ValueRange, fsutil};
use latent_data::source::Split;
use latent_data::transform::Preprocess;
use latent_pca::{Pca, PcaParams, PcaParts};
use serde::{Deserialize, Serialize};

use latent_core::tensors::{Tensors, sha256_hex};

/// The name of the configuration file in a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// The name of the weights file in a run directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The settings of a training run, written when it starts (for `--resume`).
pub const TRAINING_FILE: &str = "training.json";
/// One JSON line per epoch.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Checkpoints of a training run.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// The run-directory format version written by this build. Version 2 seals `config.json` and
/// `training.json` with the SHA-256 of their content (`checksum`, see
/// [`latent_core::fsutil::seal_json`]); version 1 files carry none and are read as they are.
pub const FORMAT_VERSION: u32 = 2;

/// Errors reading or writing run directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The directory is not a run directory (no config.json).
    #[error("{}: not a latent run directory (no {CONFIG_FILE}); create one with `latent fit`", path.display())]
    NotARun {
        /// The directory.
        path: PathBuf,
    },
    /// A file of the run is unreadable, malformed or fails its checksum.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A core error (writing atomically, shapes).
    #[error(transparent)]
    Core(#[from] latent_core::Error),
    /// A bug: something that should not fail did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RunError {
    /// Whether the error comes from the user's input (exit code 1) rather than the
    /// environment or a bug (exit code 2).
    pub fn is_user_error(&self) -> bool {
        match self {
            RunError::NotARun { .. } | RunError::Corrupt { .. } => true,
            RunError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            RunError::Core(e) => e.is_user_error(),
            RunError::Internal(_) => false,
        }
    }
}

/// The model part of a run's configuration: enough to rebuild the model from the weights.
/// A network's settings are written without the ones it does not use (an autoencoder's
/// posterior, likelihood and β…: see `recorded.rs`); runs that recorded them read as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    into = "crate::recorded::ModelRepr",
    try_from = "crate::recorded::ModelRepr"
)]
pub enum ModelConfig {
    /// Principal component analysis.
    Pca {
        /// The settings it was fitted with.
        params: PcaParams,
        /// Scalars of the fitted model (the arrays are in the weights file).
        total_variance: f64,
        /// scikit-learn's `noise_variance_`.
        noise_variance: f64,
        /// Rows it was fitted on.
        n_samples: usize,
        /// Whether codes are whitened.
        whiten: bool,
    },
    /// A neural encoder/decoder pair (linear AE, AE, VAE).
    Nn {
        /// The network.
        net: latent_nn::NetConfig,
        /// How it was trained.
        train: latent_nn::TrainConfig,
        /// The device it was trained on.
        device: String,
        /// Epochs completed.
        epochs_run: usize,
        /// Whether early stopping ended training.
        stopped_early: bool,
    },
}

/// What the model was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The `--data` argument.
    pub spec: String,
    /// The split, for datasets that have them.
    pub split: Option<Split>,
    /// Rows.
    pub n: usize,
    /// Features per row.
    pub dim: usize,
    /// Image layout of a row.
    pub image_shape: Option<ImageShape>,
    /// Names of the labels.
    pub class_names: Option<Vec<String>>,
    /// The interval the raw values live in, when known.
    pub range: Option<ValueRange>,
    /// How the data was read (to reload it on resume and for later commands).
    #[serde(default)]
    pub args: Option<crate::data::DataSource>,
    /// The names of the features (a CSV file's header without its label column), for the
    /// columns of decoded rows written as CSV; absent when the data named none and in runs
    /// written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
}

/// Everything about a run except its weights (`config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Always "latent-run".
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The latent version that wrote it.
    pub latent_version: String,
    /// Seconds since the Unix epoch when it was written.
    pub created_unix: u64,
    /// The command line that produced it.
    pub command: Vec<String>,
    /// The run-level seed (every random choice derives from it).
    pub seed: u64,
    /// The model and its settings.
    pub model: ModelConfig,
    /// The data it was fitted on.
    pub data: DataInfo,
    /// Preprocessing applied before the model (reapplied by every command; inverted on output).
    pub preprocess: Preprocess,
    /// Values mapped to black and white when decoded rows are drawn as images (data units).
    pub display_range: ValueRange,
    /// Features per input row.
    pub input_dim: usize,
    /// Latent dimension.
    pub latent_dim: usize,
    /// Figures measured when fitting (seconds, reconstruction error …).
    pub summary: BTreeMap<String, serde_json::Value>,
    /// The weights file, its checksum and tensor layout.
    pub weights: WeightsInfo,
}

/// Where the weights are and how to check and read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsInfo {
    /// File name inside the run directory.
    pub file: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Tensor names and layouts, in words.
    pub layout: BTreeMap<String, String>,
}

/// A fitted model of any kind (one per process: the variants' sizes do not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Model {
    /// PCA.
    Pca(Pca),
    /// An autoencoder or VAE.
    Nn(Box<latent_nn::NnModel>),
}

impl Model {
    /// The model as an encoder/decoder pair.
    pub fn reduction(&self) -> &dyn Reduction {
        match self {
            Model::Pca(p) => p,
            Model::Nn(m) => m.as_ref(),
        }
    }

    /// The model with its posterior and prior, for VAEs.
    pub fn probabilistic(&self) -> Option<&dyn latent_core::Probabilistic> {
        match self {
            Model::Pca(_) => None,
            Model::Nn(m) => m.as_probabilistic(),
        }
    }

    fn tensors(&self) -> Result<(Tensors, BTreeMap<String, String>), RunError> {
        let mut t = Tensors::new();
        let mut layout = BTreeMap::new();
        match self {
            Model::Nn(m) => {
                t = m
                    .tensors()
                    .map_err(|e| RunError::Internal(format!("reading weights: {e}")))?;
                layout.insert(
                    "*.weight".to_string(),
                    "[d_in, d_out] (burn's layout: the transpose of PyTorch's nn.Linear [out, in]); y = x · weight + bias".to_string(),
                );
                layout.insert("*.bias".to_string(), "[d_out]".to_string());
                layout.insert(
                    "layers".to_string(),
                    "encoder.N (hidden, activation after each), mean (code / posterior mean), log_var (VAE: log-variance, or log of the Cholesky diagonal for a full posterior), off_diag (full posterior: strictly-lower Cholesky entries, row-major), decoder.N (mirrored hidden, then output: logits for Bernoulli, mean otherwise), log_sigma (learned Gaussian log σ)".to_string(),
                );
            }
            Model::Pca(p) => {
                let parts = p.to_parts();
                t.insert("mean", parts.mean.into_dyn());
                t.insert("components", parts.components.into_dyn());
                t.insert("explained_variance", parts.explained_variance.into_dyn());
                t.insert(
                    "explained_variance_ratio",
                    parts.explained_variance_ratio.into_dyn(),
                );
                t.insert("singular_values", parts.singular_values.into_dyn());
                for (k, v) in [
                    ("mean", "[D] feature means subtracted before encoding"),
                    (
                        "components",
                        "[K, D] principal axes as rows (encoder: z = (x − mean) · componentsᵀ; decoder: x̂ = z · components + mean)",
                    ),
                    (
                        "explained_variance",
                        "[K] covariance eigenvalues, n − 1 degrees of freedom",
                    ),
                    (
                        "explained_variance_ratio",
                        "[K] share of the total variance",
                    ),
                    (
                        "singular_values",
                        "[K] of the centred data, sqrt(ev · (n − 1))",
                    ),
                ] {
                    layout.insert(k.to_string(), v.to_string());
                }
            }
        }
        Ok((t, layout))
    }

    /// The [`ModelConfig`] describing this model.
    pub fn pca_config(p: &Pca, params: &PcaParams) -> ModelConfig {
        ModelConfig::Pca {
            params: params.clone(),
            total_variance: p.total_variance(),
            noise_variance: p.noise_variance(),
            n_samples: p.n_samples(),
            whiten: p.whiten(),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why `dir` is not a run directory latent wrote (`Err` names the foreign entry): it must
/// hold the `config.json` or `training.json` of a latent run, and nothing but the files of a
/// run, its checkpoints, and the leftovers of latent's own writers.
///
/// # Errors
/// The reason, in words.
pub fn owned_run(dir: &Path) -> Result<(), String> {
    let is_run = [CONFIG_FILE, TRAINING_FILE]
        .iter()
        .filter_map(|f| fs::read(dir.join(f)).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .any(|v| v["format"] == "latent-run");
    if !is_run {
        return Err(format!(
            "holds no {CONFIG_FILE} or {TRAINING_FILE} of a latent run"
        ));
    }
    only_entries(dir, &|name, is_dir| match name {
        CONFIG_FILE | WEIGHTS_FILE | TRAINING_FILE | METRICS_FILE => !is_dir,
        CHECKPOINT_DIR => is_dir,
        _ => false,
    })?;
    let ckpts = dir.join(CHECKPOINT_DIR);
    if ckpts.is_dir() {
        only_entries(&ckpts, &|name, is_dir| {
            is_dir
                && name
                    .strip_prefix("epoch-")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })?;
        for entry in fs::read_dir(&ckpts).map_err(|e| format!("{}: {e}", ckpts.display()))? {
            let path = entry
                .map_err(|e| format!("{}: {e}", ckpts.display()))?
                .path();
            if path.is_dir() {
                only_entries(&path, &|name, is_dir| {
                    !is_dir
                        && matches!(
                            name,
                            "model.safetensors" | "optimizer.safetensors" | "state.json"
                        )
                })?;
            }
        }
    }
    Ok(())
}

/// `Err` naming the first entry of `dir` that is neither `allowed` (by name, and whether it
/// is a directory), nor a leftover of latent's writers, nor a file output latent recorded
/// there (samples written into a run directory, say).
fn only_entries(dir: &Path, allowed: &dyn Fn(&str, bool) -> bool) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !allowed(&name, is_dir)
            && !latent_core::output::is_leftover(&name)
            && !latent_core::output::is_recorded(dir, &name)
        {
            return Err(format!(
                "holds `{}`, which latent did not write",
                entry.path().display()
            ));
        }
    }
    Ok(())
}

/// Check that a run may be written at `dir` (new, or with `force` a run latent wrote that
/// holds none of `inputs`) and lock it for this process until the lock is dropped.
///
/// # Errors
/// [`latent_core::Error::Exists`], [`latent_core::Error::Refused`],
/// [`latent_core::Error::Locked`].
pub fn claim_run_dir(
    dir: &Path,
    force: bool,
    inputs: &[&Path],
    command: &[String],
) -> Result<(latent_core::output::DirOutput, latent_core::output::DirLock), RunError> {
    let state = latent_core::output::check_dir(dir, force, inputs, &owned_run)?;
    let lock = latent_core::output::lock_dir(dir, &command.join(" "))?;
    Ok((state, lock))
}

/// Write a complete run directory at `dir`: weights, then config, assembled in a hidden
/// sibling and renamed into place. `config.weights` is filled in here. The caller has
/// claimed `dir` ([`claim_run_dir`]); an existing run is replaced only with `force` and only
/// if latent wrote it (checked again here).
///
/// # Errors
/// [`latent_core::Error::Exists`] when `dir` exists and not `force`, `Refused` when it is not
/// a run; I/O errors naming the path.
pub fn save(dir: &Path, model: &Model, config: RunConfig, force: bool) -> Result<(), RunError> {
    latent_core::output::check_dir(dir, force, &[], &owned_run)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .ok_or_else(|| RunError::Internal(format!("{}: no directory name", dir.display())))?
        .to_string_lossy()
        .into_owned();
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    fs::create_dir(&staging).map_err(io(&staging))?;

    write_files(&staging, model, config)?;

    if dir.exists() {
        // --force: move the old run aside, put the new one in place, then delete the old.
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        fs::rename(dir, &old).map_err(io(dir))?;
        fs::rename(&staging, dir).map_err(io(dir))?;
        let _ = if old.is_dir() {
            fs::remove_dir_all(&old)
        } else {
            fs::remove_file(&old)
        };
    } else {
        fs::rename(&staging, dir).map_err(io(dir))?;
    }
    Ok(())
}

/// Write the weights and then `config.json` (the commit point) into an existing directory,
/// each atomically. `config.weights` is filled in here.
///
/// # Errors
/// I/O errors naming the file.
pub fn write_files(dir: &Path, model: &Model, mut config: RunConfig) -> Result<(), RunError> {
    let (tensors, layout) = model.tensors()?;
    // No safetensors metadata (its order is not stable): config.json describes the tensors,
    // and identical weights give byte-identical files.
    let bytes = tensors.to_bytes(BTreeMap::new())?;
    fsutil::atomic_write_bytes(&dir.join(WEIGHTS_FILE), &bytes)?;
    config.weights = WeightsInfo {
        file: WEIGHTS_FILE.to_string(),
        sha256: sha256_hex(&bytes),
        layout,
    };
    let json = fsutil::seal_json(&config)
        .map_err(|e| RunError::Internal(format!("serializing config: {e}")))?;
    fsutil::atomic_write_bytes(&dir.join(CONFIG_FILE), &json)?;
    Ok(())
}

/// Read a run directory: parse and check `config.json`, verify the weights' checksum and
/// rebuild the model.
///
/// # Errors
/// [`RunError::NotARun`], [`RunError::Corrupt`] naming the file and what is wrong.
pub fn load(dir: &Path) -> Result<(RunConfig, Model), RunError> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        if dir.join(TRAINING_FILE).is_file() {
            return Err(RunError::Corrupt {
                path: dir.to_path_buf(),
                reason: format!(
                    "training has not finished (no {CONFIG_FILE}); continue it with `latent fit --resume --out {}`",
                    dir.display()
                ),
            });
        }
        return Err(RunError::NotARun {
            path: dir.to_path_buf(),
        });
    }
    let text = fsutil::read_file(&config_path)?;
    let corrupt = |path: &Path, reason: String| RunError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let config: RunConfig =
        parse_sealed(&config_path, &text).map_err(|r| corrupt(&config_path, r))?;
    // The weights file name comes from the config: it must stay inside the run directory.
    if config.weights.file.contains(['/', '\\']) || config.weights.file.starts_with('.') {
        return Err(corrupt(
            &config_path,
            format!(
                "weights file `{}` is not a plain file name",
                config.weights.file
            ),
        ));
    }
    let weights_path = dir.join(&config.weights.file);
    let bytes = fsutil::read_file(&weights_path)?;
    let sum = sha256_hex(&bytes);
    if sum != config.weights.sha256 {
        return Err(corrupt(
            &weights_path,
            format!(
                "checksum mismatch (sha256 {sum}, config.json says {}): the file is corrupt or was modified",
                config.weights.sha256
            ),
        ));
    }
    let tensors = Tensors::from_bytes(&weights_path, &bytes)?;
    let model = match &config.model {
        ModelConfig::Pca {
            total_variance,
            noise_variance,
            n_samples,
            whiten,
            ..
        } => {
            let p = &weights_path;
            let parts = PcaParts {
                mean: tensors.vector(p, "mean")?,
                components: tensors.matrix(p, "components")?,
                explained_variance: tensors.vector(p, "explained_variance")?,
                explained_variance_ratio: tensors.vector(p, "explained_variance_ratio")?,
                singular_values: tensors.vector(p, "singular_values")?,
                total_variance: *total_variance,
                noise_variance: *noise_variance,
                n_samples: *n_samples,
                whiten: *whiten,
            };
            Model::Pca(Pca::from_parts(parts).map_err(|e| corrupt(p, e.to_string()))?)
        }
        ModelConfig::Nn { net, .. } => {
            let device = latent_nn::cpu_device();
            Model::Nn(Box::new(
                latent_nn::NnModel::from_safetensors(net, &weights_path, &bytes, &device)
                    .map_err(|e| corrupt(&weights_path, e.to_string()))?,
            ))
        }
    };
    let r = model.reduction();
    if r.input_dim() != config.input_dim || r.latent_dim() != config.latent_dim {
        return Err(corrupt(
            &weights_path,
            format!(
                "weights are {}→{}, config.json says {}→{}",
                r.input_dim(),
                r.latent_dim(),
                config.input_dim,
                config.latent_dim
            ),
        ));
    }
    Ok((config, model))
}

impl RunConfig {
    /// Read `source` for this run: rows as wide as the training data, with the run's
    /// preprocessing applied (what the model takes). When `source` is the run's own data it
    /// is read and split as the run read it
    /// ([`DataSource::for_run`](crate::DataSource::for_run): its labels, and its hold-out —
    /// the training split, or the held-out rows with `--split test`; a note says so).
    ///
    /// # Errors
    /// Reading errors; rows of another width; a hold-out that conflicts with the run's.
    pub fn load_data(
        &self,
        source: &crate::data::DataSource,
    ) -> crate::Result<latent_core::Dataset> {
        self.load_split(source, Split::Train)
    }

    /// [`load_data`](Self::load_data) for measuring the model (`latent eval`): given the
    /// run's own data and no `--split`, a reused hold-out reads the held-out rows (the test
    /// split), not the rows the model was fitted on; `--split train` reads those.
    ///
    /// # Errors
    /// As [`load_data`](Self::load_data).
    pub fn load_test_data(
        &self,
        source: &crate::data::DataSource,
    ) -> crate::Result<latent_core::Dataset> {
        self.load_split(source, Split::Test)
    }

    /// [`load_data`](Self::load_data) without the preprocessing: the rows in the data's own
    /// units (what the explorer shows and searches).
    ///
    /// # Errors
    /// As [`load_data`](Self::load_data).
    pub fn load_data_units(
        &self,
        source: &crate::data::DataSource,
    ) -> crate::Result<latent_core::Dataset> {
        self.load_split_units(source, Split::Train)
    }

    /// Read `source` for this run; a reused hold-out without `--split` reads `default`.
    fn load_split(
        &self,
        source: &crate::data::DataSource,
        default: Split,
    ) -> crate::Result<latent_core::Dataset> {
        Ok(self
            .preprocess
            .apply(self.load_split_units(source, default)?)?)
    }

    fn load_split_units(
        &self,
        source: &crate::data::DataSource,
        default: Split,
    ) -> crate::Result<latent_core::Dataset> {
        let mut resolved = source.for_run(self.data.args.as_ref())?;
        let reused = source.holdout.is_none() && resolved.holdout.is_some();
        if reused && resolved.split.is_none() {
            resolved.split = Some(default);
        }
        let data = resolved.load()?;
        if let (true, Some(p)) = (reused, resolved.holdout) {
            let split = match (resolved.split, default) {
                (Some(Split::Test), Split::Test) if source.split.is_none() => {
                    "the held-out rows (its test split, the default here; --split train for \
                     the training rows)"
                }
                (Some(Split::Test), _) => "the held-out rows (its test split)",
                _ => "its training split (--split test for the held-out rows)",
            };
            latent_data::notes::emit(&format!(
                "the run held out {p} % of {} (--holdout {p} --holdout-seed {}): reading {split}, {} rows",
                resolved.data,
                resolved.holdout_seed,
                data.n()
            ));
        }
        if data.dim() != self.input_dim {
            return Err(crate::Error::invalid(format!(
                "{}: rows have {} features, but the run was fitted on {} ({})",
                data.name(),
                data.dim(),
                self.input_dim,
                self.data.spec
            )));
        }
        Ok(data)
    }

    /// The run's own training data, preprocessed.
    ///
    /// # Errors
    /// A run that does not record its data source; reading errors.
    pub fn training_data(&self) -> crate::Result<latent_core::Dataset> {
        let source = self.data.args.as_ref().ok_or_else(|| {
            crate::Error::invalid(
                "the run does not record how its training data was read; pass --data",
            )
        })?;
        self.load_data(source)
    }

    /// The image layout of the rows, or an error saying the run's data are not images.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for non-image data.
    pub fn image_shape(&self, run_dir: &Path) -> crate::Result<ImageShape> {
        self.data.image_shape.ok_or_else(|| {
            crate::Error::invalid(format!(
                "{}: the run's data ({}) are not images, so there is no picture to draw; \
                 write the rows as .csv or .npy instead of .png",
                run_dir.display(),
                self.data.spec
            ))
        })
    }
}

/// The settings a training run recorded when it started (`training.json`: what resume reads).
///
/// # Errors
/// No such file (not a neural run started by latent), or a malformed one.
pub fn read_training(dir: &Path) -> crate::Result<RunConfig> {
    let path = dir.join(TRAINING_FILE);
    let text = fsutil::read_file(&path).map_err(|e| {
        crate::Error::invalid(format!(
            "cannot resume: {e} (is this a run started by `latent fit` with a neural model?)"
        ))
    })?;
    parse_sealed(&path, &text).map_err(|reason| {
        crate::Error::Run(RunError::Corrupt {
            path: path.clone(),
            reason,
        })
    })
}

/// Parse a run's `config.json` or `training.json` and check its seal: a file of format
/// version 2 or later must carry the checksum of its content and match it; version 1 files
/// (written before files were sealed) carry none. The reason in words when it is refused.
fn parse_sealed(path: &Path, text: &[u8]) -> Result<RunConfig, String> {
    // the format first: a later version may seal (or lay out) its files otherwise
    #[derive(Deserialize)]
    struct Format {
        format: String,
        format_version: u32,
    }
    let f: Format = serde_json::from_slice(text).map_err(|e| format!("{e}"))?;
    if f.format != "latent-run" || f.format_version > FORMAT_VERSION {
        return Err(format!(
            "format {} version {} is not readable by this latent (reads latent-run ≤ {FORMAT_VERSION})",
            f.format, f.format_version
        ));
    }
    let seal = fsutil::check_sealed_json(text)?;
    let config: RunConfig = serde_json::from_slice(text).map_err(|e| format!("{e}"))?;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    match (config.format_version, seal) {
        (0, _) => Err(format!(
            "format version 0 does not exist: {name} is corrupt"
        )),
        (1, _) | (_, fsutil::Seal::Intact) => Ok(config),
        (_, fsutil::Seal::Absent) => Err(format!(
            "carries no `{}` (every {name} of format version {} does): it was edited or is corrupt",
            fsutil::CHECKSUM_KEY,
            config.format_version
        )),
    }
}

/// `metrics.jsonl` of a run: one line per epoch of `history`, written atomically.
///
/// # Errors
/// Writing failed.
pub fn write_metrics(dir: &Path, history: &[latent_nn::EpochMetrics]) -> latent_nn::Result<()> {
    let mut lines = String::new();
    for h in history {
        let line = serde_json::to_string(h)
            .map_err(|e| latent_nn::NnError::Backend(format!("metrics: {e}")))?;
        lines.push_str(&line);
        lines.push('\n');
    }
    fsutil::atomic_write_bytes(&dir.join(METRICS_FILE), lines.as_bytes())?;
    Ok(())
}

/// The epochs recorded in a run's `metrics.jsonl` (empty when it has none).
///
/// # Errors
/// A malformed line.
pub fn read_metrics(dir: &Path) -> Result<Vec<latent_nn::EpochMetrics>, RunError> {
    let path = dir.join(METRICS_FILE);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).map_err(|e| RunError::Corrupt {
                path: path.clone(),
                reason: format!("malformed line: {e}"),
            })
        })
        .collect()
}
