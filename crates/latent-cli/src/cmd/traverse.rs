//! `latent traverse`: one latent dimension at a time around the origin, decoded.

use anyhow::Result;

use crate::cli::TraverseArgs;
use crate::out;

/// `latent traverse`.
pub fn run(args: &TraverseArgs) -> Result<()> {
    let kind = out::prepare_rows(&args.out, args.force, &[&args.run])?;
    let (config, model) = latent::run::load(&args.run)?;
    let k = model.reduction().latent_dim();
    let dims = match &args.dims {
        Some(d) => latent_explore::parse_dims(d, k)?,
        None => (0..k.min(10)).collect(),
    };
    latent::figures::check_figure(
        &format!("--steps {} over {} dims", args.steps, dims.len()),
        args.steps.saturating_mul(dims.len()),
        &config,
        args.zoom,
    )?;
    let strips = latent_explore::traverse(model.reduction(), None, &dims, args.range, args.steps)?;
    let labels = latent::figures::traversal_labels(&dims, args.range, args.steps);
    let lead = match kind {
        out::OutKind::Csv => latent::rows::traversal_columns(k, &dims, args.range, args.steps)?,
        _ => Vec::new(),
    };
    out::write_rows(
        &args.out,
        kind,
        &strips,
        (&config, &args.run),
        (&labels, args.zoom),
        &lead,
    )?;
    outln!(
        "traversed latent dims {dims:?} over [−{r}, {r}] in {} steps around the origin, written to {}",
        args.steps,
        args.out.display(),
        r = args.range
    );
    Ok(())
}
