//! `latent eval`: every figure of a model on data. Metrics that do not apply to the model
//! are absent, not zero.

use std::io::Write;

use anyhow::Result;

/// `latent eval`: per-example figures on a data set. Metrics that do not apply to the model
/// are absent, not zero.
pub fn run(args: &crate::cli::EvalArgs) -> Result<()> {
    let (config, model) = latent::run::load(&args.run)?;
    // the run's own data with its hold-out: the held-out rows unless --split train
    let data = config.load_test_data(&args.data)?;
    let name = data.name().to_string();
    let settings = latent::eval::EvalSettings {
        seed: args.seed,
        iw_samples: args.iw_samples,
        samples: args.samples,
        continuity_points: args.continuity_points,
        classifier: !args.no_classifier,
        ..Default::default()
    };
    let quiet = args.json;
    let mut log = |m: &str| outln_err(m, quiet);
    let metrics = latent::eval::evaluate_on(&model, &config, data, None, settings, &mut log)?;
    let out = metrics.to_json();
    if args.json {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer(&mut o, &serde_json::Value::Object(out))
            .map_err(std::io::Error::from)?;
        writeln!(o)?;
        return Ok(());
    }
    outln!(
        "{} on {name} ({} rows), per example:",
        model.reduction().method(),
        metrics.n
    );
    for (k, v) in &out {
        if k == "n" || k == "kl_per_dim" {
            continue;
        }
        let shown = match v.as_u64() {
            Some(i) => i.to_string(),
            None => v
                .as_f64()
                .map_or_else(|| v.to_string(), |f| format!("{f:.4}")),
        };
        outln!("  {k:<20} {shown}");
    }
    outln!(
        "  (recon_mse: squared error summed over features; likelihoods in nats; elbo from one posterior sample per row;\n   \
         continuity, completeness, frechet: see README, \"Metrics\")"
    );
    Ok(())
}

/// A progress remark on stderr (not with `--json`, which keeps stdout clean anyway).
fn outln_err(msg: &str, quiet: bool) {
    if !quiet {
        crate::errln(msg);
    }
}
