//! Pictures of a latent space, in memory: decoded rows as image strips, the 2-D map of the
//! codes with the decoded manifold. The commands write them to files; the report embeds them.

use latent_core::{Dataset, ImageShape};
use latent_explore::Projection;
use latent_report::RgbImage;
use ndarray::{Array2, ArrayView2};

use crate::Result;
use crate::run::{Model, RunConfig};
use crate::sampler::LatentSource;

/// Tiles drawn at least this many pixels across (small images are enlarged, nearest
/// neighbour, so 8×8 digits stay visible).
const MIN_TILE: usize = 56;

/// The factor [`zoom`] enlarges images of `shape` by.
fn zoom_factor(shape: ImageShape) -> usize {
    (MIN_TILE / shape.height.max(shape.width).max(1)).max(1)
}

/// Refuse a figure of `rows` decoded rows of `config`'s model when it would need more memory
/// than latent may use ([`latent_core::memory`]): the decoded rows, their copy in data
/// units, the enlarged tiles and their pixels. `what` names the request (the flag).
///
/// # Errors
/// [`latent_core::Error::TooLarge`] naming `what`.
pub fn check_figure(what: &str, rows: usize, config: &RunConfig) -> Result<()> {
    use latent_core::memory::cost;
    let d = config.input_dim;
    let f = config.data.image_shape.map_or(1, zoom_factor);
    // f32 decoded rows, their copy in data units and one more working copy; the enlarged
    // tiles (f32) and their RGB pixels
    let per_row = cost(&[d, 4, 3]).saturating_add(cost(&[d, f, f, 7]));
    latent_core::memory::check(
        format!("{what}: {rows} decoded rows of {d} values"),
        per_row.saturating_mul(rows as u128),
    )?;
    Ok(())
}

/// Enlarge each image row by an integer factor so that a tile is about 56 pixels across.
pub fn zoom(x: ArrayView2<'_, f32>, shape: ImageShape) -> (Array2<f32>, ImageShape) {
    let f = zoom_factor(shape);
    if f == 1 {
        return (x.to_owned(), shape);
    }
    let big = ImageShape {
        height: shape.height * f,
        width: shape.width * f,
        channels: shape.channels,
    };
    let c = shape.channels;
    let mut out = Array2::zeros((x.nrows(), big.height * big.width * c));
    for (src, mut dst) in x.outer_iter().zip(out.outer_iter_mut()) {
        for r in 0..big.height {
            for col in 0..big.width {
                for ch in 0..c {
                    let s = ((r / f) * shape.width + col / f) * c + ch;
                    dst[(r * big.width + col) * c + ch] = src[s];
                }
            }
        }
    }
    (out, big)
}

/// Decoded rows (model space), one strip per entry, drawn as images in the data's units.
///
/// # Errors
/// Non-image data; drawing errors.
pub fn image_rows(
    strips: &[Array2<f32>],
    config: &RunConfig,
    run_dir: &std::path::Path,
) -> Result<RgbImage> {
    let shape = config.image_shape(run_dir)?;
    let zoomed: Vec<(Array2<f32>, ImageShape)> = strips
        .iter()
        .map(|s| zoom(config.preprocess.invert(s.view()).view(), shape))
        .collect();
    let big = zoomed.first().map_or(shape, |z| z.1);
    let views: Vec<ArrayView2<'_, f32>> = zoomed.iter().map(|z| z.0.view()).collect();
    let (w, h, rgb) = latent_data::image::rows_pixels(&views, big, config.display_range)?;
    Ok(RgbImage::from_raw(w, h, rgb)?)
}

/// `n` decoded samples of `source` (seeded by `seed`, at `temperature`) in strips of
/// `columns`.
///
/// # Errors
/// The model's errors.
pub fn sample_strips(
    model: &Model,
    source: &LatentSource,
    n: usize,
    temperature: f32,
    seed: u64,
    columns: usize,
) -> Result<(Vec<Array2<f32>>, latent_explore::Samples)> {
    let mut rng = latent_core::seed::rng(latent_core::seed::derive(seed, "sample"));
    let s = source.sample(model, n, temperature, &mut rng)?;
    let strips = s
        .decoded
        .axis_chunks_iter(ndarray::Axis(0), columns.max(1))
        .map(|c| c.to_owned())
        .collect();
    Ok((strips, s))
}

/// The codes of `data` in 2-D coloured by label; for a 2-D latent of image data, also the
/// decoded manifold over Gaussian quantiles (Kingma & Welling's figure) with `grid` images a
/// side.
///
/// # Errors
/// The model's errors; drawing errors.
pub fn map(
    model: &Model,
    config: &RunConfig,
    run_dir: &std::path::Path,
    data: &Dataset,
    grid: usize,
) -> Result<(RgbImage, Projection)> {
    if model.reduction().latent_dim() == 2 && config.data.image_shape.is_some() {
        check_figure(
            &format!("--grid {grid}"),
            grid.max(2).saturating_mul(grid.max(2)),
            config,
        )?;
    }
    let codes = model.reduction().encode(data.x())?;
    let (points, projection) = latent_explore::project_2d(codes.view())?;
    let title = format!(
        "{} codes of {} ({}), {}",
        model.reduction().method(),
        data.name(),
        data.n(),
        projection
    );
    let (xl, yl) = projection.axis_labels();
    let scatter = latent_report::scatter_plot(
        points.view(),
        data.labels(),
        data.class_names(),
        &title,
        (xl, yl),
    )?;
    if model.reduction().latent_dim() != 2 || config.data.image_shape.is_none() {
        return Ok((scatter, projection));
    }
    let source = LatentSource::for_model(model, || Ok(codes.clone()))?;
    let n = grid.max(2);
    let grid = latent_explore::manifold_grid(model.reduction(), n, 0.05, source.gaussian())?;
    let grid = config.preprocess.invert(grid.view());
    let shape = config.image_shape(run_dir)?;
    let (big, big_shape) = zoom(grid.view(), shape);
    let (w, h, rgb) =
        latent_data::image::grid_pixels(big.view(), big_shape, n, config.display_range, 0)?;
    let grid_img = RgbImage::from_raw(w, h, rgb)?;
    let grid_img = latent_report::caption(
        &grid_img,
        &format!(
            "decoded manifold: {} quantiles 0.05…0.95 of {}",
            n,
            if source.gaussian().is_some() {
                "a Gaussian fitted to the codes"
            } else {
                "the prior N(0, I)"
            }
        ),
    )?;
    Ok((
        latent_report::hstack(&[&scatter, &grid_img], 16)?,
        projection,
    ))
}
