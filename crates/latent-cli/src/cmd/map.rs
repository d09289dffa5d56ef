//! `latent map`: the codes in 2-D coloured by label; for a 2-D latent also the decoded
//! manifold (Kingma & Welling's figure).

use anyhow::Result;

use crate::cli::MapArgs;
use crate::out::{self, user};

/// `latent map`.
pub fn run(args: &MapArgs) -> Result<()> {
    if !args
        .out
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".png")
    {
        return Err(user(format!("{}: the map is a .png", args.out.display())));
    }
    out::prepare(&args.out, args.force, &out::inputs(&args.run, &args.data))?;
    let (config, model) = latent::run::load(&args.run)?;
    let data = config.load_data(&args.data)?;
    let (figure, projection) =
        latent::figures::map(&model, &config, &args.run, &data, args.grid, args.zoom)?;
    latent_report::write_png(&args.out, &figure)?;
    out::record(&args.out)?;
    outln!(
        "mapped {} codes ({}) to {}",
        data.n(),
        projection,
        args.out.display()
    );
    Ok(())
}
