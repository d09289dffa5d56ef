//! `latent info`: what a run is — model, data, preprocessing, figures measured at fit time.

use std::io::Write;

use anyhow::Result;
use latent_core::ParamGuard;
use latent_data::transform::{Binarize, Preprocess, Scaling};
use serde_json::json;

use crate::cli::InfoArgs;

fn describe_preprocess(p: &Preprocess) -> String {
    let scale = match &p.scaling {
        Scaling::None => "none".to_string(),
        Scaling::Unit { min, max } => format!("unit: [{min}, {max}] → [0, 1]"),
        Scaling::Standardize { .. } => "standardize: per-feature mean 0, std 1".to_string(),
    };
    match p.binarize {
        Binarize::None => scale,
        Binarize::Threshold { at } => format!("{scale}; binarized at {at}"),
        Binarize::Bernoulli { seed } => {
            format!("{scale}; binarized by one Bernoulli draw (seed {seed})")
        }
    }
}

/// `latent info`.
pub fn run(args: &InfoArgs) -> Result<()> {
    let (config, model) = latent::run::load(&args.run)?;
    let r = model.reduction();
    let ratios: Option<Vec<f32>> = match &model {
        latent::Model::Pca(p) => Some(p.explained_variance_ratio().to_vec()),
        latent::Model::Nn(_) => None,
    };
    if args.json {
        let mut value = json!({
            "run": args.run,
            "method": r.method(),
            "input_dim": r.input_dim(),
            "latent_dim": r.latent_dim(),
            "config": config,
        });
        if let Some(ratios) = &ratios {
            value["explained_variance_ratio"] = json!(ratios);
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    outln!("run          {}", args.run.display());
    match &config.model {
        latent::run::ModelConfig::Pca { params, whiten, .. } => {
            let params = params.check_ref()?;
            outln!(
                "model        pca ({} solver, {} precision, {}, seed {})",
                format!("{:?}", params.solver()).to_lowercase(),
                format!("{:?}", params.precision()).to_lowercase(),
                if *whiten { "whitened" } else { "not whitened" },
                config.seed
            );
        }
        latent::run::ModelConfig::Nn {
            net,
            train,
            device,
            epochs_run,
            stopped_early,
        } => {
            let arch = if net.kind == latent_nn::ModelKind::LinearAe {
                "linear".to_string()
            } else if net.arch == latent_nn::Arch::Conv {
                format!(
                    "conv {:?} then dense {:?}, {:?}",
                    net.conv_channels, net.hidden, net.activation
                )
                .to_lowercase()
            } else {
                format!(
                    "mlp {}-{}-{}, {:?}",
                    net.input_dim,
                    net.hidden
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join("-"),
                    net.latent_dim,
                    net.activation
                )
                .to_lowercase()
            };
            let vae = if net.is_vae() {
                format!(
                    ", {:?} posterior, {:?} likelihood, β {}",
                    net.posterior, net.likelihood, train.beta
                )
            } else {
                ", squared error".to_string()
            };
            outln!("model        {} ({arch}{vae})", net.kind.name());
            outln!(
                "training     {epochs_run} epochs{}, Adam lr {} batch {}, seed {}, device {device}",
                if *stopped_early {
                    " (stopped early)"
                } else {
                    ""
                },
                train.lr,
                train.batch_size,
                config.seed
            );
        }
    }
    let split = config
        .data
        .split
        .map(|s| format!(" ({s:?} split)").to_lowercase())
        .unwrap_or_default();
    let img = config
        .data
        .image_shape
        .map(|s| format!(", images {s}"))
        .unwrap_or_default();
    outln!(
        "data         {}{split}: {} × {}{img}",
        config.data.spec,
        config.data.n,
        config.data.dim
    );
    outln!("preprocess   {}", describe_preprocess(&config.preprocess));
    outln!("latent dim   {}", r.latent_dim());
    if let Some(ratios) = &ratios {
        let total: f32 = ratios.iter().sum();
        let first: Vec<String> = ratios
            .iter()
            .take(5)
            .map(|v| format!("{:.1} %", 100.0 * v))
            .collect();
        outln!(
            "explained    {:.1} % of the total variance (first components: {})",
            100.0 * total,
            first.join(", ")
        );
    }
    if let Some(v) = config.summary.get("train_recon_sse_per_example") {
        outln!(
            "recon error  {:.4} on the training data (squared error per example, summed over features)",
            v.as_f64().unwrap_or(f64::NAN)
        );
    }
    let get = |k: &str| config.summary.get(k).and_then(serde_json::Value::as_f64);
    if let Some(loss) = get("train_loss") {
        let units = config
            .summary
            .get("loss_units")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let val = get("val_loss")
            .map(|v| format!(", validation {v:.4}"))
            .unwrap_or_default();
        outln!(
            "final loss   {loss:.4} (recon {:.4} + kl {:.4}){val}, {units}",
            get("train_recon").unwrap_or(f64::NAN),
            get("train_kl").unwrap_or(f64::NAN)
        );
    }
    if let Some(v) = get("fit_seconds") {
        outln!("fit time     {v:.2} s");
    }
    outln!(
        "written by   latent {} (run format {})",
        config.latent_version,
        config.format_version
    );
    Ok(())
}
