//! `latent sample`: decoded samples of the prior (VAE), or of a Gaussian fitted to codes
//! (models without a prior).

use std::path::Path;

use anyhow::Result;
use latent::DataSource;
use latent::sampler::LatentSource;

use crate::cli::SampleArgs;
use crate::out::{self, user};

/// `latent sample`.
pub fn run(args: &SampleArgs) -> Result<()> {
    let inputs: Vec<&Path> = [
        Some(args.run.as_path()),
        args.data.as_deref().map(Path::new),
    ]
    .into_iter()
    .flatten()
    .collect();
    let kind = out::prepare_rows(&args.out, args.force, &inputs)?;
    if args.n == 0 {
        return Err(user("--n must be at least 1"));
    }
    let (config, model) = latent::run::load(&args.run)?;
    if let Some(shape) = out::image_shape(kind, (&config, &args.run))? {
        latent::rows::check_grid(
            &format!("--n {}", args.n),
            "ask for fewer with --n",
            (args.n, args.columns, 1),
            shape,
            args.zoom,
        )?;
    }
    latent::figures::check_figure(&format!("--n {}", args.n), args.n, &config, args.zoom)?;
    let source = match &args.data {
        Some(d) => LatentSource::for_model(&model, || {
            let data = config.load_data(&DataSource {
                split: args.split,
                ..DataSource::new(d.clone())
            })?;
            Ok(model.reduction().encode(data.x())?)
        })?,
        None => LatentSource::for_training_data(&model, || {
            Ok(model.reduction().encode(config.training_data()?.x())?)
        })?,
    };
    let (strips, s) = latent::figures::sample_strips(
        &model,
        &source,
        args.n,
        args.temperature,
        args.seed,
        args.columns,
    )?;
    out::write_rows(
        &args.out,
        kind,
        &strips,
        (&config, &args.run),
        (&latent_report::GridLabels::none(), args.zoom),
        &[],
    )?;
    outln!(
        "sampled {} points from {} at temperature {}{}",
        args.n,
        s.source,
        args.temperature,
        if model.probabilistic().is_none() {
            format!(" ({} has no prior)", model.reduction().method())
        } else {
            String::new()
        }
    );
    outln!("wrote {}", args.out.display());
    Ok(())
}
