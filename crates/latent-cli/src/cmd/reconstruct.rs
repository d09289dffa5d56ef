//! `latent reconstruct`: originals above their reconstructions, and the error.

use anyhow::Result;
use latent_data::image;

use crate::cli::ReconstructArgs;
use crate::out::{self, OutKind, user};

/// `latent reconstruct`.
pub fn run(args: &ReconstructArgs) -> Result<()> {
    out::out_kind(&args.out, &[OutKind::Png])?;
    if args.n == 0 {
        return Err(user("--n must be at least 1"));
    }
    out::prepare(&args.out, args.force, &out::inputs(&args.run, &args.data))?;
    let (config, model) = latent::run::load(&args.run)?;
    let shape = config.image_shape(&args.run)?;
    let data = config.load_data(&args.data)?;
    let recon = model.reduction().reconstruct(data.x())?;
    let err = latent::eval::sse_per_example(data.x(), recon.view());
    let n = args.n.min(data.n());
    let originals = config
        .preprocess
        .invert(data.x().slice(ndarray::s![..n, ..]));
    let recons = config.preprocess.invert(recon.slice(ndarray::s![..n, ..]));
    let (originals, big_shape) = latent::figures::zoom(originals.view(), shape, args.zoom)?;
    let (recons, _) = latent::figures::zoom(recons.view(), shape, args.zoom)?;
    image::write_comparison(
        &args.out,
        originals.view(),
        recons.view(),
        big_shape,
        args.columns.max(1),
        config.display_range,
    )?;
    out::record(&args.out)?;
    outln!(
        "reconstruction error on {} ({} rows): {err:.4} (squared error per example, summed over {} features, model space)",
        data.name(),
        data.n(),
        data.dim()
    );
    outln!(
        "wrote {n} originals (top) and reconstructions (bottom) to {}",
        args.out.display()
    );
    Ok(())
}
