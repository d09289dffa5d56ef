//! `latent interpolate`: the decoded path between the codes of two rows.

use anyhow::Result;
use latent_explore::Interpolation;

use crate::cli::InterpolateArgs;
use crate::out::{self, user};

fn parse_indices(s: &str, what: &str, n: usize) -> Result<Vec<usize>> {
    s.split(',')
        .map(|p| {
            let i: usize = p
                .trim()
                .parse()
                .map_err(|_| user(format!("{what} {s}: `{p}` is not a row index")))?;
            if i >= n {
                return Err(user(format!(
                    "{what} {s}: row {i} is past the data's {n} rows"
                )));
            }
            Ok(i)
        })
        .collect()
}

/// `latent interpolate`.
pub fn run(args: &InterpolateArgs) -> Result<()> {
    let kind = out::prepare_rows(&args.out, args.force, &out::inputs(&args.run, &args.data))?;
    let (config, model) = latent::run::load(&args.run)?;
    let shape = out::image_shape(kind, (&config, &args.run))?;
    let data = config.load_data(&args.data)?;
    let from = parse_indices(&args.from, "--from", data.n())?;
    let to = parse_indices(&args.to, "--to", data.n())?;
    if from.len() != to.len() {
        return Err(user(format!(
            "--from has {} rows and --to has {}; give one --to per --from",
            from.len(),
            to.len()
        )));
    }
    let pairs: Vec<(usize, usize)> = from.into_iter().zip(to).collect();
    latent::figures::check_figure(
        &format!("--steps {} for {} pairs", args.steps, pairs.len()),
        args.steps.saturating_add(2).saturating_mul(pairs.len()),
        &config,
        args.zoom,
    )?;
    if let Some(shape) = shape {
        latent::rows::check_grid(
            &format!("--steps {} for {} pairs", args.steps, pairs.len()),
            "ask for fewer --steps or pairs",
            (args.steps.saturating_mul(pairs.len()), args.steps, 1),
            shape,
            args.zoom,
        )?;
    }
    let path = if args.slerp {
        Interpolation::Slerp
    } else {
        Interpolation::Lerp
    };
    let strips =
        latent_explore::interpolate(model.reduction(), data.x(), &pairs, args.steps, path)?;
    let labels = latent::figures::interpolation_labels(&pairs, args.steps);
    let lead = latent::rows::interpolation_columns(&pairs, args.steps);
    out::write_rows(
        &args.out,
        kind,
        &strips,
        (&config, &args.run),
        (&labels, args.zoom),
        &lead,
    )?;
    outln!(
        "{} interpolation{} of {} steps ({}) between posterior means, written to {}",
        strips.len(),
        if strips.len() == 1 { "" } else { "s" },
        args.steps,
        path.name(),
        args.out.display()
    );
    Ok(())
}
