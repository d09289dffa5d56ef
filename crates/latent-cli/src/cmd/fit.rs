//! `latent fit`: a [`latent::FitSpec`] from the flags, [`latent::fit::fit`] (or
//! [`latent::fit::resume`]), a few lines.

use anyhow::Result;
use latent::fit::{BinarizeChoice, FitSpec, LatentDim, parse_schedule};

use crate::cli::FitArgs;
use crate::out::{parse_hidden, user};
use crate::progress::Terminal;

/// The fit the flags describe.
fn spec(args: &FitArgs) -> Result<FitSpec> {
    let (Some(data), Some(latent_dim)) = (args.data_args(), args.latent_dim.as_deref()) else {
        return Err(user("--data and --latent-dim are required"));
    };
    let mut spec = FitSpec::new(args.model, data, LatentDim::parse(latent_dim, args.model)?);
    spec.seed = args.seed;
    spec.scale = args.scale;
    spec.binarize = match args.binarize.as_deref() {
        None => BinarizeChoice::None,
        Some(s) => s.parse()?,
    };
    spec.pca.solver = args.solver;
    spec.pca.whiten = args.whiten;
    spec.pca.precision = args.precision;
    spec.pca.power_iters = args.power_iters;
    spec.pca.oversamples = args.oversamples;
    spec.batch_size = args.batch_size;
    let n = &mut spec.net;
    n.hidden = parse_hidden(&args.hidden, "--hidden")?;
    n.arch = args.arch;
    n.conv_channels = parse_hidden(&args.conv_channels, "--conv-channels")?;
    n.activation = args.activation;
    n.posterior = args.posterior;
    n.likelihood = args.likelihood;
    n.sigma = args.sigma;
    n.shared_sigma = args.shared_sigma;
    let t = &mut spec.train;
    t.epochs = args.epochs;
    t.lr = args.lr;
    t.adam_beta1 = args.adam_beta1;
    t.adam_beta2 = args.adam_beta2;
    t.adam_eps = args.adam_eps;
    t.weight_decay = args.weight_decay;
    t.schedule = parse_schedule(&args.lr_schedule)?;
    t.beta = args.beta;
    t.kl_warmup = args.kl_warmup;
    t.val_fraction = args.val_fraction;
    t.early_stopping = args.early_stopping;
    t.dynamic_binarize = args.dynamic_binarize;
    spec.device = args.device.clone();
    spec.engine = args.engine;
    spec.checkpoint_every = args.checkpoint_every;
    Ok(spec)
}

/// `latent fit`, as the one process of the job or one rank of `comm` (under `mpirun`:
/// only rank 0 reports and writes).
pub fn run(
    args: &FitArgs,
    command: Vec<String>,
    given: &[String],
    comm: &dyn latent_core::Collective,
) -> Result<()> {
    let mut terminal;
    let mut quiet = latent::fit::Quiet;
    let events: &mut dyn latent::FitEvents = if comm.is_root() {
        terminal = Terminal::new();
        if comm.size() > 1 {
            latent::FitEvents::info(
                &mut terminal,
                &format!(
                    "data-parallel job of {} ranks (MPI): the batch is split across them",
                    comm.size()
                ),
            );
        }
        &mut terminal
    } else {
        &mut quiet
    };
    let fitted = if args.resume {
        if args.out.is_dir() || !comm.is_root() {
            check_resume_flags(args, given)?;
        }
        latent::fit::resume_job(
            &args.out,
            args.epochs,
            (args.engine, args.checkpoint_every),
            command,
            events,
            comm,
        )?
    } else {
        let spec = spec(args)?;
        check_flags_apply(&spec, given)?;
        latent::fit::fit_job(&spec, &args.out, args.force, command, events, comm)?
    };
    if !comm.is_root() {
        return Ok(());
    }
    let r = fitted.model.reduction();
    if let latent::Model::Pca(p) = &fitted.model {
        let ratio: f64 = p
            .explained_variance_ratio()
            .iter()
            .map(|&v| f64::from(v))
            .sum();
        outln!(
            "fitted pca: {} → {} dims, {:.1} % of the variance, in {:.2} s",
            r.input_dim(),
            r.latent_dim(),
            100.0 * ratio,
            fitted.seconds
        );
        let recon = fitted
            .config
            .summary
            .get("train_recon_sse_per_example")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN);
        outln!(
            "training reconstruction error: {recon:.4} (squared error per example, summed over {} features)",
            r.input_dim()
        );
        outln!("run written to {}", fitted.dir.display());
    } else {
        if fitted.stopped_early {
            outln!(
                "early stopping after epoch {} (no better validation loss)",
                fitted.epochs_run
            );
        }
        outln!(
            "run written to {} ({:.1} s)",
            fitted.dir.display(),
            fitted.seconds
        );
    }
    Ok(())
}

/// The flags given (by clap id) whose settings the fit would ignore — an epoch count for
/// PCA, a β for an autoencoder ([`latent::applies`]) — are refused, each named with why.
fn check_flags_apply(spec: &FitSpec, given: &[String]) -> Result<()> {
    let ignored: Vec<latent::applies::Inapplicable> = latent::applies::inapplicable(spec)
        .into_iter()
        .filter(|i| {
            given
                .iter()
                .any(|id| i.flag.strip_prefix("--") == Some(id.replace('_', "-").as_str()))
        })
        .collect();
    if ignored.is_empty() {
        return Ok(());
    }
    Err(latent::applies::refusal(spec.family, &ignored).into())
}

/// With `--resume`, the flags given besides `--out`, `--epochs`, `--engine` and
/// `--checkpoint-every` must agree
/// with the run's recorded settings (so the original command line, with `--resume` added,
/// is accepted); each one that differs is named.
fn check_resume_flags(args: &FitArgs, given: &[String]) -> Result<()> {
    use latent::run::ModelConfig;
    use latent_data::transform::{Binarize, Scaling};
    use latent_nn::Likelihood;
    let config = latent::run::read_training(&args.out)?;
    let ModelConfig::Nn {
        net, train, device, ..
    } = &config.model
    else {
        return Err(user(format!(
            "{}: not a neural-network run",
            args.out.display()
        )));
    };
    let src = config
        .data
        .args
        .clone()
        .unwrap_or_else(|| latent::DataSource::new(""));
    let d = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let mut differ = Vec::new();
    for id in given {
        let pair: Option<(String, String)> = match id.as_str() {
            "out" | "resume" | "epochs" | "engine" | "checkpoint_every" | "max_memory" => None,
            "data" => Some((d(&args.data.as_deref().unwrap_or("")), d(&src.data))),
            "split" => Some((d(&args.split), d(&src.split))),
            "csv_header" => Some((d(&args.csv_header), d(&src.csv_header))),
            "label_column" => Some((d(&args.label_column), d(&src.label_column))),
            "labels" => Some((d(&args.labels), d(&src.labels))),
            "holdout" => Some((d(&args.holdout), d(&src.holdout))),
            "holdout_seed" => Some((d(&args.holdout_seed), d(&src.holdout_seed))),
            "model" => Some((args.model.name().into(), net.kind.name().into())),
            "latent_dim" => Some((
                args.latent_dim.clone().unwrap_or_default(),
                config.latent_dim.to_string(),
            )),
            "seed" => Some((args.seed.to_string(), config.seed.to_string())),
            "scale" => {
                use latent_data::transform::ScaleChoice as C;
                let ok = matches!(
                    (args.scale, &config.preprocess.scaling),
                    (C::Auto, _)
                        | (C::None, Scaling::None)
                        | (C::Unit, Scaling::Unit { .. })
                        | (C::Standardize, Scaling::Standardize { .. })
                );
                (!ok).then(|| (d(&args.scale), d(&config.preprocess.scaling)))
            }
            "binarize" => {
                let want = match args.binarize.as_deref() {
                    None => BinarizeChoice::None,
                    Some(s) => s.parse()?,
                };
                let ok = match (want, config.preprocess.binarize) {
                    (BinarizeChoice::None, Binarize::None) => true,
                    (BinarizeChoice::Threshold(a), Binarize::Threshold { at }) => a == at,
                    (BinarizeChoice::Bernoulli, Binarize::Bernoulli { .. }) => true,
                    _ => false,
                };
                (!ok).then(|| (d(&want), d(&config.preprocess.binarize)))
            }
            "hidden" => Some((d(&parse_hidden(&args.hidden, "--hidden")?), d(&net.hidden))),
            "conv_channels" => Some((
                d(&parse_hidden(&args.conv_channels, "--conv-channels")?),
                d(&net.conv_channels),
            )),
            "arch" => Some((d(&args.arch), d(&net.arch))),
            "activation" => Some((d(&args.activation), d(&net.activation))),
            "posterior" => Some((d(&args.posterior), d(&net.posterior))),
            "likelihood" => {
                use latent::fit::LikelihoodChoice as L;
                let ok = matches!(
                    (args.likelihood, net.likelihood),
                    (Some(L::Bernoulli), Likelihood::Bernoulli)
                        | (Some(L::Gaussian), Likelihood::Gaussian { .. })
                        | (Some(L::GaussianLearned), Likelihood::GaussianLearned { .. })
                );
                (!ok).then(|| (d(&args.likelihood), d(&net.likelihood)))
            }
            "sigma" => Some((
                d(&Likelihood::Gaussian { sigma: args.sigma }),
                d(&net.likelihood),
            )),
            "shared_sigma" => Some((
                d(&Likelihood::GaussianLearned {
                    shared: args.shared_sigma,
                }),
                d(&net.likelihood),
            )),
            "batch_size" => Some((d(&args.batch_size), d(&Some(train.batch_size)))),
            "lr" => Some((args.lr.to_string(), train.lr.to_string())),
            "adam_beta1" => Some((args.adam_beta1.to_string(), train.beta1.to_string())),
            "adam_beta2" => Some((args.adam_beta2.to_string(), train.beta2.to_string())),
            "adam_eps" => Some((args.adam_eps.to_string(), train.eps.to_string())),
            "weight_decay" => Some((
                args.weight_decay.to_string(),
                train.weight_decay.to_string(),
            )),
            "lr_schedule" => Some((d(&parse_schedule(&args.lr_schedule)?), d(&train.schedule))),
            "beta" => Some((args.beta.to_string(), train.beta.to_string())),
            "kl_warmup" => Some((
                args.kl_warmup.to_string(),
                train.kl_warmup_epochs.to_string(),
            )),
            "val_fraction" => Some((
                args.val_fraction.to_string(),
                train.val_fraction.to_string(),
            )),
            "early_stopping" => Some((d(&args.early_stopping), d(&train.early_stopping))),
            "dynamic_binarize" => Some((
                args.dynamic_binarize.to_string(),
                train.dynamic_binarize.to_string(),
            )),
            "device" => Some((args.device.clone(), device.clone())),
            "solver" | "whiten" | "precision" | "power_iters" | "oversamples" => Some((
                "given".into(),
                "a neural run (PCA settings do not apply)".into(),
            )),
            other => Some((
                "given".into(),
                format!("not a setting --resume can check ({other})"),
            )),
        };
        if let Some((g, r)) = pair
            && g != r
        {
            differ.push(format!("--{} {g} (the run has {r})", id.replace('_', "-")));
        }
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(user(format!(
        "{}: --resume continues the run with its recorded settings; these flags differ from \
         them: {} (drop them, or start a new run with another --out)",
        args.out.display(),
        differ.join("; ")
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// The flags' defaults are the library's (`FitSpec::new`): `latent fit` with only the
    /// required flags describes the same fit as a library caller's default spec.
    #[test]
    fn the_flags_default_to_the_librarys_settings() {
        for model in ["pca", "linear-ae", "ae", "vae"] {
            let cli = Cli::try_parse_from([
                "latent",
                "fit",
                "--model",
                model,
                "--data",
                "digits",
                "--latent-dim",
                "2",
                "--out",
                "run",
            ])
            .unwrap();
            let Command::Fit(args) = cli.command else {
                unreachable!("parsed as fit")
            };
            let got = spec(&args).unwrap();
            let want = FitSpec::new(got.family, got.data.clone(), got.latent);
            assert_eq!(got, want, "{model}");
        }
    }
}
