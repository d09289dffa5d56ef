//! `latent compare`: a [`latent::CompareSpec`] from the flags, [`latent::compare::compare`];
//! progress on stderr (none with `--quiet`), the findings on stdout at the end.

use anyhow::Result;
use latent::fit::BinarizeChoice;
use latent::{CompareSpec, CompareSummary, DataSource};

use crate::cli::CompareArgs;
use crate::out::{parse_hidden, parse_list};
use crate::progress::Terminal;

/// The comparison the flags describe.
pub fn spec(args: &CompareArgs) -> Result<CompareSpec> {
    let mut spec = CompareSpec::new(DataSource {
        csv_header: args.csv_header,
        label_column: args.label_column.clone(),
        labels: args.labels.clone(),
        ..DataSource::new(args.data.clone())
    });
    spec.holdout = args.holdout;
    spec.holdout_seed = args.holdout_seed;
    spec.latent_dims = parse_list(&args.latent_dims, "--latent-dims", "a number")?;
    spec.betas = parse_list(&args.betas, "--betas", "a number")?;
    spec.epochs = args.epochs;
    spec.linear_epochs = args.linear_epochs;
    spec.hidden = parse_hidden(&args.hidden, "--hidden")?;
    spec.batch_size = args.batch_size;
    spec.scale = args.scale;
    spec.binarize = match args.binarize.as_deref() {
        None => BinarizeChoice::None,
        Some(s) => s.parse()?,
    };
    spec.lr = args.lr;
    spec.linear_lr = args.linear_lr;
    spec.iw_samples = args.iw_samples;
    spec.samples = args.samples;
    spec.seed = args.seed;
    spec.device = args.device.clone();
    Ok(spec)
}

/// `latent compare`.
pub fn run(args: &CompareArgs, command: &[String]) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = latent::compare::compare(
        &spec(args)?,
        &args.out,
        args.force,
        &command.join(" "),
        &mut Terminal::on_stderr(args.quiet),
    )?;
    findings(&summary)?;
    outln!(
        "\ncompare written to {} in {:.0} s: open {} in a browser",
        args.out.display(),
        started.elapsed().as_secs_f64(),
        args.out.join("report.html").display()
    );
    Ok(())
}

/// The figures of every model on the test split, one line each, and the readings.
fn findings(summary: &CompareSummary) -> Result<()> {
    let cell = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.4}"));
    outln!(
        "== {} models on {}: {} training rows, {} test rows ({})",
        summary.records.len(),
        summary.data,
        summary.train_rows,
        summary.test_rows,
        summary.split
    );
    outln!(
        "{:<14} {:>3} {:>11} {:>11} {:>13} {:>11} {:>11}",
        "model",
        "K",
        "recon_mse",
        "continuity",
        "completeness",
        "frechet",
        "nll_is"
    );
    for r in &summary.records {
        let m = &r.metrics;
        outln!(
            "{:<14} {:>3} {:>11} {:>11} {:>13} {:>11} {:>11}",
            r.label(),
            r.latent_dim,
            cell(Some(m.recon_mse)),
            cell(m.continuity),
            cell(m.completeness),
            cell(m.frechet),
            cell(m.nll_is)
        );
    }
    outln!(
        "(on the test split: recon_mse is the squared error per example summed over features, \
         nll_is −log p(x) in nats (VAEs); continuity, completeness, frechet: see README, \
         \"Metrics\")"
    );
    outln!("\n== what the numbers show (details in the report)");
    for l in &summary.reading {
        outln!("- {l}");
    }
    Ok(())
}
