//! `latent decode`: codes back to data space.

use std::path::Path;

use anyhow::Result;
use latent_data::{csv, image, npy};
use ndarray::Array2;

use crate::cli::DecodeArgs;
use crate::out::{self, OutKind, user};

fn read_codes(path: &Path) -> Result<Array2<f32>> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".npy") {
        Ok(npy::read_matrix(path)?)
    } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        Ok(csv::read_matrix(path)?)
    } else {
        Err(user(format!(
            "{}: codes must be a .npy or .csv file",
            path.display()
        )))
    }
}

/// `latent decode`.
pub fn run(args: &DecodeArgs) -> Result<()> {
    let kind = out::out_kind(&args.out, &[OutKind::Npy, OutKind::Png])?;
    out::prepare(&args.out, args.force, &[&args.run, &args.codes])?;
    let (config, model) = latent::run::load(&args.run)?;
    let codes = read_codes(&args.codes)?;
    if codes.ncols() != config.latent_dim {
        return Err(user(format!(
            "{}: codes have {} columns, but the run's latent dimension is {}",
            args.codes.display(),
            codes.ncols(),
            config.latent_dim
        )));
    }
    let decoded = config
        .preprocess
        .invert(model.reduction().decode(codes.view())?.view());
    match kind {
        OutKind::Png => {
            let shape = config.image_shape(&args.run)?;
            let (big, big_shape) = latent::figures::zoom(decoded.view(), shape, args.zoom)?;
            image::write_grid(
                &args.out,
                big.view(),
                big_shape,
                args.columns.max(1),
                config.display_range,
            )?;
        }
        _ => match config.data.image_shape {
            Some(shape) => npy::write_f32_images(&args.out, decoded.view(), shape)?,
            None => npy::write_f32(&args.out, decoded.view())?,
        },
    }
    out::record(&args.out)?;
    outln!(
        "decoded {} codes to {}",
        decoded.nrows(),
        args.out.display()
    );
    Ok(())
}
