//! `latent reconstruct`: originals above their reconstructions (or the reconstructions as
//! rows of a table), and the error.

use anyhow::Result;
use latent_data::image;
use ndarray::Axis;

use crate::cli::ReconstructArgs;
use crate::out::{self, user};

/// Rows and columns of the table printed for data that are not images.
const TABLE_ROWS: usize = 5;
const TABLE_COLUMNS: usize = 4;

/// `latent reconstruct`.
pub fn run(args: &ReconstructArgs) -> Result<()> {
    let kind = out::prepare_rows(&args.out, args.force, &out::inputs(&args.run, &args.data))?;
    if args.n == 0 {
        return Err(user("--n must be at least 1"));
    }
    let (config, model) = latent::run::load(&args.run)?;
    let shape = out::image_shape(kind, (&config, &args.run))?;
    let data = config.load_data(&args.data)?;
    let seed = args.seed.unwrap_or(config.seed);
    let rows = latent::rows::spread(data.labels(), data.n(), args.n, seed);
    if let Some(shape) = shape {
        latent::rows::check_grid(
            &format!("--n {}", rows.len()),
            "ask for fewer with --n",
            (rows.len(), args.columns, 2),
            shape,
            args.zoom,
        )?;
    }
    let recon = model.reduction().reconstruct(data.x())?;
    let err = latent::eval::sse_per_example(data.x(), recon.view());
    let chosen = data.x().select(Axis(0), &rows);
    let chosen_recon = recon.select(Axis(0), &rows);
    drop(recon);
    let how = latent::rows::spread_words(&data, rows.len(), seed);
    match out::table(kind) {
        Some(format) => {
            let lead = latent::rows::reconstruction_columns(&data, &rows);
            latent::rows::write_decoded(&args.out, format, chosen_recon.view(), &config, &lead)?;
        }
        None => {
            let shape = config.image_shape(&args.run)?;
            let originals = config.preprocess.invert(chosen.view());
            let recons = config.preprocess.invert(chosen_recon.view());
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
        }
    }
    out::record(&args.out)?;
    outln!(
        "reconstruction error on {} ({} rows): {err:.4} (squared error per example, summed over {} features, model space)",
        data.name(),
        data.n(),
        data.dim()
    );
    if config.data.image_shape.is_none() {
        let names = latent::rows::column_names(&config);
        let labels = latent::rows::label_cells(&data, &rows);
        let errors = latent::rows::row_errors(chosen.view(), chosen_recon.view());
        let original = config.preprocess.invert(chosen.view());
        let reconstruction = config.preprocess.invert(chosen_recon.view());
        let shown = rows.len().min(TABLE_ROWS);
        outln!(
            "{} in the data's units (original → reconstruction){}; sq. error summed over the \
             features in model space:",
            if shown == rows.len() {
                format!("the {shown} row{}", if shown == 1 { "" } else { "s" })
            } else {
                format!("{shown} of the {} rows", rows.len())
            },
            if names.len() > TABLE_COLUMNS {
                format!(", the first {TABLE_COLUMNS} of {} features", names.len())
            } else {
                String::new()
            }
        );
        let table = latent::rows::comparison_table(
            &latent::rows::Comparison {
                rows: &rows,
                labels: labels.as_deref(),
                names: &names,
                original: original.view(),
                reconstruction: reconstruction.view(),
                errors: &errors,
            },
            TABLE_ROWS,
            TABLE_COLUMNS,
        );
        outln!("{}", table.trim_end_matches('\n'));
    }
    if kind != out::OutKind::Csv && rows.len() < data.n() {
        crate::errln(&format!("rows shown: {}", latent::rows::index_list(&rows)));
    }
    match kind {
        out::OutKind::Png => outln!(
            "wrote {} originals (top) and reconstructions (bottom) to {} ({how})",
            rows.len(),
            args.out.display()
        ),
        out::OutKind::Csv => outln!(
            "wrote the reconstructions of {how} to {} (their indices in its `row` column)",
            args.out.display()
        ),
        out::OutKind::Npy => outln!(
            "wrote the reconstructions of {how} to {}{}",
            args.out.display(),
            if rows.len() < data.n() {
                " (in the order of the rows listed on stderr)"
            } else {
                ""
            }
        ),
    }
    Ok(())
}
