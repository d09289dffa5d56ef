//! `latent encode`: codes of data (the posterior mean for probabilistic models).

use std::time::Instant;

use anyhow::Result;
use latent_data::{csv, npy};

use crate::cli::EncodeArgs;
use crate::out::{self, OutKind};

/// `latent encode`.
pub fn run(args: &EncodeArgs) -> Result<()> {
    let kind = out::out_kind(&args.out, &[OutKind::Npy, OutKind::Csv])?;
    out::prepare(&args.out, args.force, &out::inputs(&args.run, &args.data))?;
    let (config, model) = latent::run::load(&args.run)?;
    let data = config.load_data(&args.data)?;
    let started = Instant::now();
    let codes = model.reduction().encode(data.x())?;
    let seconds = started.elapsed().as_secs_f64();
    match kind {
        OutKind::Csv => {
            let header: Vec<String> = (0..codes.ncols()).map(|j| format!("z{j}")).collect();
            csv::write_f32(&args.out, codes.view(), Some(&header))?;
        }
        _ => npy::write_f32(&args.out, codes.view())?,
    }
    out::record(&args.out)?;
    outln!(
        "wrote {} codes of dimension {} to {} (encoded in {seconds:.3} s, {:.0} rows/s)",
        codes.nrows(),
        codes.ncols(),
        args.out.display(),
        codes.nrows() as f64 / seconds.max(1e-9)
    );
    Ok(())
}
