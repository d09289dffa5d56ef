//! `latent fit` for the neural models: settings → data → training with checkpoints →
//! run directory.
//!
//! ```text
//! RUN_DIR/
//!   training.json      the settings, written first (what --resume reads)
//!   checkpoints/       epoch-NNNN/ with weights, Adam state and metrics so far
//!   metrics.jsonl      one line per epoch, rewritten atomically after each
//!   model.safetensors  the final weights
//!   config.json        written last: the run is complete
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use latent_core::{Dataset, fsutil};
use latent_data::transform::{Binarize, Preprocess};
use latent_nn::{
    Activation, Checkpointing, EpochMetrics, Likelihood, LrSchedule, ModelKind, NetConfig, NnModel,
    Observer, PosteriorKind, TrainConfig,
};
use serde_json::json;

use crate::cli::{ActivationArg, ArchArg, FitArgs, LikelihoodArg, ModelArg, PosteriorArg};
use crate::commands::{display_range, load_options, now_unix, parse_binarize, scale_choice, user};
use crate::progress;
use crate::run::{self, DataInfo, Model, ModelConfig, RunConfig, WeightsInfo};

/// The default number of epochs.
pub const DEFAULT_EPOCHS: usize = 10;

fn parse_hidden(s: &str) -> Result<Vec<usize>> {
    if s.trim().is_empty() || s == "none" {
        return Ok(Vec::new());
    }
    crate::commands::parse_list(s, "--hidden", "a layer width")
}

fn parse_schedule(s: &str) -> Result<LrSchedule> {
    let bad = || {
        user(format!(
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

fn in_unit_interval(data: &Dataset) -> bool {
    data.x().iter().all(|&v| (0.0..=1.0).contains(&v))
}

/// `metrics.jsonl`: one line per epoch of `history`, written atomically.
fn write_metrics(dir: &Path, history: &[EpochMetrics]) -> latent_nn::Result<()> {
    let mut lines = String::new();
    for h in history {
        let line = serde_json::to_string(h)
            .map_err(|e| latent_nn::NnError::Backend(format!("metrics: {e}")))?;
        lines.push_str(&line);
        lines.push('\n');
    }
    fsutil::atomic_write_bytes(&dir.join(run::METRICS_FILE), lines.as_bytes())?;
    Ok(())
}

/// Progress bar per epoch with live losses; a line per epoch; metrics.jsonl.
struct CliObserver<'a> {
    dir: &'a Path,
    epochs: usize,
    bar: indicatif::ProgressBar,
    sums: [f64; 3],
    count: usize,
    vae: bool,
    notes: Vec<String>,
}

impl Observer for CliObserver<'_> {
    fn epoch_start(&mut self, epoch: usize, steps: usize) {
        self.bar = progress::bar(Some(steps), &format!("epoch {epoch}/{}", self.epochs));
        self.sums = [0.0; 3];
        self.count = 0;
    }
    fn step(&mut self, _step: usize, loss: f64, recon: f64, kl: f64) {
        for (s, v) in self.sums.iter_mut().zip([loss, recon, kl]) {
            *s += v;
        }
        self.count += 1;
        self.bar.inc(1);
        if self.count % 10 == 0 {
            let c = self.count as f64;
            self.bar.set_message(if self.vae {
                format!(
                    "loss {:.2} (recon {:.2} + kl {:.2})",
                    self.sums[0] / c,
                    self.sums[1] / c,
                    self.sums[2] / c
                )
            } else {
                format!("loss {:.4}", self.sums[0] / c)
            });
        }
    }
    fn resumed(&mut self, history: &[EpochMetrics]) -> latent_nn::Result<()> {
        write_metrics(self.dir, history)
    }
    fn epoch_end(&mut self, m: &EpochMetrics, history: &[EpochMetrics]) -> latent_nn::Result<()> {
        self.bar.finish_and_clear();
        write_metrics(self.dir, history)?;
        let val = m
            .val_loss
            .map(|v| format!(", val {v:.3}"))
            .unwrap_or_default();
        let line = if self.vae {
            format!(
                "epoch {}/{}: loss {:.3} (recon {:.3} + kl {:.3}){val} [{:.1} s]",
                m.epoch, self.epochs, m.train_loss, m.train_recon, m.train_kl, m.seconds
            )
        } else {
            format!(
                "epoch {}/{}: loss {:.4}{val} [{:.1} s]",
                m.epoch, self.epochs, m.train_loss, m.seconds
            )
        };
        println!("{line}");
        Ok(())
    }
    fn note(&mut self, message: &str) {
        eprintln!("note: {message}");
        self.notes.push(message.to_string());
    }
}

fn net_config(
    args: &FitArgs,
    input_dim: usize,
    latent_dim: usize,
    data: &Dataset,
) -> Result<NetConfig> {
    let kind = match args.model {
        ModelArg::LinearAe => ModelKind::LinearAe,
        ModelArg::Ae => ModelKind::Ae,
        ModelArg::Vae => ModelKind::Vae,
        ModelArg::Pca => return Err(user("internal: PCA is not a network")),
    };
    let likelihood = match (args.likelihood, kind) {
        (Some(LikelihoodArg::Bernoulli), _) => {
            if !in_unit_interval(data) {
                return Err(user(format!(
                    "--likelihood bernoulli needs data in [0, 1]; {} is not (use --scale unit or another likelihood)",
                    data.name()
                )));
            }
            Likelihood::Bernoulli
        }
        (Some(LikelihoodArg::Gaussian), _) => Likelihood::Gaussian { sigma: args.sigma },
        (Some(LikelihoodArg::GaussianLearned), _) => Likelihood::GaussianLearned {
            shared: args.shared_sigma,
        },
        (None, ModelKind::Vae) if in_unit_interval(data) => Likelihood::Bernoulli,
        (None, ModelKind::Vae) => Likelihood::GaussianLearned {
            shared: args.shared_sigma,
        },
        // autoencoders use squared error; the field is unused
        (None, _) => Likelihood::Gaussian { sigma: 1.0 },
    };
    let cfg = NetConfig {
        kind,
        arch: match args.arch {
            ArchArg::Mlp => latent_nn::Arch::Mlp,
            ArchArg::Conv => latent_nn::Arch::Conv,
        },
        image: data.image_shape().map(|s| [s.height, s.width, s.channels]),
        conv_channels: parse_hidden(&args.conv_channels)?,
        input_dim,
        latent_dim,
        hidden: parse_hidden(&args.hidden)?,
        activation: match args.activation {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Tanh => Activation::Tanh,
            ActivationArg::Silu => Activation::Silu,
            ActivationArg::LeakyRelu => Activation::LeakyRelu,
        },
        posterior: match args.posterior {
            PosteriorArg::Diagonal => PosteriorKind::Diagonal,
            PosteriorArg::Full => PosteriorKind::Full,
        },
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

/// `latent fit --model linear-ae|ae|vae`, and `latent fit --resume`.
pub fn fit_nn(args: &FitArgs, command_line: Vec<String>) -> Result<()> {
    let dir = &args.out;
    let training_path = dir.join(run::TRAINING_FILE);
    let (mut config, data) = if args.resume {
        // what an atomic write killed half-way leaves in the run directory
        for name in latent_core::fsutil::remove_stale_temps(dir) {
            eprintln!("removed {name}, left by an interrupted write");
        }
        let text = fs::read(&training_path).map_err(|e| {
            user(format!(
                "{}: cannot resume: {e} (is this a run started by `latent fit` with a neural model?)",
                training_path.display()
            ))
        })?;
        let mut config: RunConfig = serde_json::from_slice(&text)
            .map_err(|e| user(format!("{}: malformed: {e}", training_path.display())))?;
        let data_args = config.data.args.clone().ok_or_else(|| {
            user(format!(
                "{}: no data arguments recorded",
                training_path.display()
            ))
        })?;
        let raw = crate::commands::load_raw(&data_args)?;
        let data = config.preprocess.apply(raw)?;
        if let (ModelConfig::Nn { train, .. }, Some(e)) = (&mut config.model, args.epochs_given()) {
            train.epochs = e;
        }
        (config, data)
    } else {
        run::check_writable(dir, args.force)?;
        let (Some(data_args), Some(latent_dim)) = (args.data_args(), args.latent_dim.as_deref())
        else {
            return Err(user("--data and --latent-dim are required"));
        };
        let latent_dim: usize = latent_dim.parse().map_err(|_| {
            user(format!(
                "--latent-dim {latent_dim}: expected a positive integer (a variance fraction is for PCA only)"
            ))
        })?;
        let raw = crate::commands::load_raw(&data_args)?;
        let binarize = parse_binarize(args.binarize.as_deref(), args.seed)?;
        let preprocess = Preprocess::fit(&raw, scale_choice(args.scale), binarize)?;
        let info = DataInfo {
            spec: data_args.data.clone(),
            split: load_options(&data_args).split,
            n: raw.n(),
            dim: raw.dim(),
            image_shape: raw.image_shape(),
            class_names: raw.class_names().map(<[String]>::to_vec),
            range: raw.range(),
            args: Some(data_args.clone()),
        };
        let display = display_range(&raw);
        let data = preprocess.apply(raw)?;
        let net = net_config(args, data.dim(), latent_dim, &data)?;
        let train = TrainConfig {
            epochs: args.epochs_given().unwrap_or(DEFAULT_EPOCHS),
            batch_size: args.batch_size.unwrap_or(128),
            lr: args.lr,
            beta1: args.adam_beta1,
            beta2: args.adam_beta2,
            eps: args.adam_eps,
            weight_decay: args.weight_decay,
            schedule: parse_schedule(&args.lr_schedule)?,
            beta: args.beta,
            kl_warmup_epochs: args.kl_warmup,
            val_fraction: args.val_fraction,
            early_stopping: args.early_stopping,
            dynamic_binarize: args.dynamic_binarize,
            seed: args.seed,
        };
        train.check()?;
        if args.dynamic_binarize && !in_unit_interval(&data) {
            return Err(user("--dynamic-binarize needs data in [0, 1]"));
        }
        latent_nn::device_by_name(&args.device)?;
        let config = RunConfig {
            format: "latent-run".to_string(),
            format_version: run::FORMAT_VERSION,
            latent_version: env!("CARGO_PKG_VERSION").to_string(),
            created_unix: now_unix(),
            command: command_line.clone(),
            seed: args.seed,
            model: ModelConfig::Nn {
                net,
                train,
                device: args.device.clone(),
                epochs_run: 0,
                stopped_early: false,
            },
            data: info,
            preprocess,
            display_range: display,
            input_dim: data.dim(),
            latent_dim,
            summary: BTreeMap::new(),
            weights: WeightsInfo {
                file: String::new(),
                sha256: String::new(),
                layout: BTreeMap::new(),
            },
        };
        if dir.exists() {
            // --force (checked above): the old run goes.
            fs::remove_dir_all(dir)
                .with_context(|| format!("{}: cannot replace", dir.display()))?;
        }
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        let json = serde_json::to_vec_pretty(&config)?;
        fsutil::atomic_write_bytes(&training_path, &json)?;
        (config, data)
    };

    let ModelConfig::Nn {
        net, train, device, ..
    } = &config.model
    else {
        return Err(user(format!("{}: not a neural-network run", dir.display())));
    };
    let (net, train, device_name) = (net.clone(), train.clone(), device.clone());
    let device = latent_nn::device_by_name(&device_name)?;
    let (train_set, val_set) = if train.val_fraction > 0.0 {
        // in place: the training part keeps the data's storage
        let (t, v) = data.into_split(
            train.val_fraction,
            latent_core::seed::derive(train.seed, "split"),
        )?;
        (t, Some(v))
    } else {
        // moved, not copied: a second copy of the data would double the peak memory
        (data, None)
    };
    outln!(
        "training {} {}→{} ({}) on {} rows{}, {} epochs, batch {}, device {device_name}{}",
        net.kind.name(),
        net.input_dim,
        net.latent_dim,
        if net.hidden.is_empty() || net.kind == ModelKind::LinearAe {
            "linear".to_string()
        } else if net.arch == latent_nn::Arch::Conv {
            format!("conv {:?}, hidden {:?}", net.conv_channels, net.hidden)
        } else {
            format!("hidden {:?}", net.hidden)
        },
        train_set.n(),
        val_set
            .as_ref()
            .map(|v| format!(" (+{} validation)", v.n()))
            .unwrap_or_default(),
        train.epochs,
        train.batch_size,
        if args.engine == crate::cli::EngineArg::Auto
            && latent_nn::fused::supports(&net)
            && device == latent_nn::cpu_device()
        {
            " (fused kernels)"
        } else {
            " (burn)"
        }
    );
    if net.is_vae() {
        outln!(
            "likelihood: {}; posterior: {:?}; β = {}",
            describe_likelihood(&net, &config.preprocess, train.dynamic_binarize),
            net.posterior,
            train.beta
        );
    }
    let mut observer = CliObserver {
        dir,
        epochs: train.epochs,
        bar: indicatif::ProgressBar::hidden(),
        sums: [0.0; 3],
        count: 0,
        vae: net.is_vae(),
        notes: Vec::new(),
    };
    let started = Instant::now();
    let ckpt_dir = dir.join(run::CHECKPOINT_DIR);
    let engine = match args.engine {
        crate::cli::EngineArg::Auto => latent_nn::Engine::Auto,
        crate::cli::EngineArg::Burn => latent_nn::Engine::Burn,
    };
    let trained = latent_nn::train_with(
        engine,
        &net,
        &train,
        train_set.x(),
        val_set.as_ref().map(Dataset::x),
        &device,
        Some(Checkpointing {
            dir: &ckpt_dir,
            resume: args.resume,
        }),
        &mut observer,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let epochs_run = trained.history.len();
    let last = trained.history.last().cloned();
    let model = NnModel::new(trained.net, &device);

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
    config.summary.insert("fit_seconds".into(), json!(seconds));
    config.summary.insert(
        "loss_units".into(),
        json!(if net.is_vae() {
            "nats per example (summed over features)"
        } else {
            "squared error per example (summed over features)"
        }),
    );
    if args.resume {
        config.command = command_line;
    }
    run::write_files(dir, &Model::Nn(Box::new(model)), config)?;
    if trained.stopped_early {
        outln!("early stopping after epoch {epochs_run} (no better validation loss)");
    }
    outln!("run written to {} ({seconds:.1} s)", dir.display());
    Ok(())
}
