//! `latent compare`: a [`latent::CompareSpec`] from the flags, [`latent::compare::compare`].

use anyhow::Result;
use latent::{CompareSpec, DataSource};

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
    spec.latent_dims = parse_list(&args.latent_dims, "--latent-dims", "a number")?;
    spec.betas = parse_list(&args.betas, "--betas", "a number")?;
    spec.epochs = args.epochs;
    spec.linear_epochs = args.linear_epochs;
    spec.hidden = parse_hidden(&args.hidden, "--hidden")?;
    spec.batch_size = args.batch_size;
    spec.iw_samples = args.iw_samples;
    spec.samples = args.samples;
    spec.seed = args.seed;
    spec.device = args.device.clone();
    Ok(spec)
}

/// `latent compare`.
pub fn run(args: &CompareArgs, command: &[String]) -> Result<()> {
    let started = std::time::Instant::now();
    latent::compare::compare(
        &spec(args)?,
        &args.out,
        args.force,
        &command.join(" "),
        &mut Terminal::new(),
    )?;
    outln!(
        "compare finished in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
