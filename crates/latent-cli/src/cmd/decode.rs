//! `latent decode`: codes back to data space.

use std::path::Path;

use anyhow::Result;
use latent_data::{csv, image, npy};
use ndarray::Array2;

use crate::cli::DecodeArgs;
use crate::out::{self, user};

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
    let kind = out::prepare_rows(&args.out, args.force, &[&args.run, &args.codes])?;
    let (config, model) = latent::run::load(&args.run)?;
    let shape = out::image_shape(kind, (&config, &args.run))?;
    let codes = read_codes(&args.codes)?;
    if codes.ncols() != config.latent_dim {
        return Err(user(format!(
            "{}: codes have {} columns, but the run's latent dimension is {}",
            args.codes.display(),
            codes.ncols(),
            config.latent_dim
        )));
    }
    if let Some(shape) = shape {
        latent::rows::check_grid(
            &format!("{}: {} codes", args.codes.display(), codes.nrows()),
            "decode fewer codes",
            (codes.nrows(), args.columns, 1),
            shape,
            args.zoom,
        )?;
    }
    let decoded = model.reduction().decode(codes.view())?;
    match out::table(kind) {
        Some(format) => {
            latent::rows::write_decoded(&args.out, format, decoded.view(), &config, &[])?;
        }
        None => {
            let shape = config.image_shape(&args.run)?;
            let decoded = config.preprocess.invert(decoded.view());
            let (big, big_shape) = latent::figures::zoom(decoded.view(), shape, args.zoom)?;
            image::write_grid(
                &args.out,
                big.view(),
                big_shape,
                args.columns.max(1),
                config.display_range,
            )?;
        }
    }
    out::record(&args.out)?;
    outln!(
        "decoded {} codes to {}",
        decoded.nrows(),
        args.out.display()
    );
    Ok(())
}
