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
    // The reference rows (nearest neighbours, the classifier, the code Gaussian) are the run's
    // training data less every row that is also evaluated (found by content, not by the data's
    // name: `mnist`, `./mnist` and an overlapping hold-out are caught alike); when nothing is
    // left — the evaluation data is the training data — a seeded half of it is.
    let halves = |why: &str| -> Result<(latent_core::Dataset, latent_core::Dataset)> {
        outln_err(why, args.json);
        Ok(data.split(0.5, latent_core::seed::derive(args.seed, "eval-halves"))?)
    };
    let (train, test) = match &config.data.args {
        None => halves(
            "the run does not record its training data: half of the evaluation data serves as the reference set",
        )?,
        Some(a) => {
            let (train, dropped) =
                latent::eval::disjoint_from(config.preprocess.apply(a.load()?)?, &data)?;
            match train.filter(|t| t.n() >= 2) {
                None => halves(
                    "the evaluation data is the training data: half of it serves as the reference set",
                )?,
                Some(train) => {
                    if dropped > 0 {
                        outln_err(
                            &format!(
                                "{dropped} of the run's training rows are also evaluated: they are left out of the \
                             reference set and of the classifier's training rows"
                            ),
                            args.json,
                        );
                    }
                    outln_err(
                        &format!(
                            "reference set: {} rows of {} (the run's training data, none of them evaluated)",
                            train.n(),
                            a.data
                        ),
                        args.json,
                    );
                    (train, data)
                }
            }
        }
    };
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
    let bench =
        latent::eval::Bench::new(train, test, settings, &latent_nn::cpu_device(), &mut log)?;
    for n in bench.notes() {
        log(n);
    }
    let mut metrics = latent::eval::evaluate(&model, &bench, &mut log)?;
    let b = bench.summary();
    metrics.frechet_data = b.frechet_data;
    metrics.data_confidence = b.data_confidence;
    metrics.test_nn_distance = b.test_nn_distance;
    let out = metrics.to_json();
    if args.json {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer(&mut o, &serde_json::Value::Object(out))
            .map_err(std::io::Error::from)?;
        writeln!(o)?;
        return Ok(());
    }
    outln!(
        "{} on {} ({} rows), per example:",
        model.reduction().method(),
        bench.test().name(),
        bench.test().n()
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
