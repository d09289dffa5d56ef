//! Pictures of a latent space, in memory: decoded rows as image strips, the 2-D map of the
//! codes with the decoded manifold. The commands write them to files; the report embeds them.

use latent_core::{Dataset, ImageShape};
use latent_explore::Projection;
use latent_report::{GridLabels, RgbImage};
use ndarray::{Array2, ArrayView2};

use crate::Result;
use crate::run::{Model, RunConfig};
use crate::sampler::LatentSource;

/// The factor image cells of `shape` are enlarged by: `zoom` when given (checked to be
/// `1..=latent_report::MAX_ZOOM`), else [`latent_report::default_zoom`] (at least 56 pixels
/// across: ×2 for 28- and 32-pixel images, ×7 for 8×8 digits).
///
/// # Errors
/// [`latent_report::ReportError::Invalid`] (a user error) for a zoom outside `1..=16`.
pub fn zoom_factor(shape: ImageShape, zoom: Option<u32>) -> Result<u32> {
    match zoom {
        Some(z) => Ok(latent_report::check_zoom(z)?),
        None => {
            let side = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            Ok(latent_report::default_zoom(
                side(shape.width),
                side(shape.height),
            ))
        }
    }
}

/// Refuse a figure of `rows` decoded rows of `config`'s model, its cells enlarged by
/// [`zoom_factor`]`(zoom)`, when it would need more memory than latent may use
/// ([`latent_core::memory`]): the decoded rows, their copy in data units, the enlarged cells
/// and their pixels. `what` names the request (the flag).
///
/// # Errors
/// [`latent_core::Error::TooLarge`] naming `what`; a zoom outside `1..=16`.
pub fn check_figure(what: &str, rows: usize, config: &RunConfig, zoom: Option<u32>) -> Result<()> {
    use latent_core::memory::cost;
    let d = config.input_dim;
    let f = match config.data.image_shape {
        Some(shape) => zoom_factor(shape, zoom)? as usize,
        None => 1,
    };
    // f32 decoded rows, their copy in data units and one more working copy; the enlarged
    // cells (f32 or RGB) and the composed figure's RGB pixels
    let per_row = cost(&[d, 4, 3]).saturating_add(cost(&[d, f, f, 7]));
    latent_core::memory::check(
        format!("{what}: {rows} decoded rows of {d} values"),
        per_row.saturating_mul(rows as u128),
    )?;
    Ok(())
}

/// Enlarge each image row by [`zoom_factor`]`(shape, zoom)`, nearest neighbour (for grids
/// drawn by `latent_data::image`).
///
/// # Errors
/// A zoom outside `1..=16`.
pub fn zoom(
    x: ArrayView2<'_, f32>,
    shape: ImageShape,
    zoom: Option<u32>,
) -> Result<(Array2<f32>, ImageShape)> {
    let f = zoom_factor(shape, zoom)? as usize;
    if f == 1 {
        return Ok((x.to_owned(), shape));
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
    Ok((out, big))
}

/// Each row of `x` (values in data units) as an image cell at its own size.
fn cells(x: ArrayView2<'_, f32>, shape: ImageShape, config: &RunConfig) -> Result<Vec<RgbImage>> {
    (0..x.nrows())
        .map(|i| {
            let row = x.slice(ndarray::s![i..i + 1, ..]);
            let (w, h, rgb) =
                latent_data::image::grid_pixels(row, shape, 1, config.display_range, 0)?;
            Ok(RgbImage::from_raw(w, h, rgb)?)
        })
        .collect()
}

/// Decoded rows (model space), one strip per entry, drawn as rows of images in the data's
/// units: [`labelled_rows`] without labels, at the default zoom.
///
/// # Errors
/// Non-image data; drawing errors.
pub fn image_rows(
    strips: &[Array2<f32>],
    config: &RunConfig,
    run_dir: &std::path::Path,
) -> Result<RgbImage> {
    labelled_rows(strips, &GridLabels::none(), config, run_dir, None)
}

/// Decoded rows (model space), one strip per entry, drawn as a grid of images in the data's
/// units (`latent_report::image_grid`): cells enlarged by [`zoom_factor`]`(zoom)`, grey lines
/// between them, `labels` along the rows and columns ([`traversal_labels`],
/// [`interpolation_labels`]).
///
/// # Errors
/// Non-image data; a zoom outside `1..=16`; labels not matching the strips; drawing errors.
pub fn labelled_rows(
    strips: &[Array2<f32>],
    labels: &GridLabels,
    config: &RunConfig,
    run_dir: &std::path::Path,
    zoom: Option<u32>,
) -> Result<RgbImage> {
    let shape = config.image_shape(run_dir)?;
    let f = zoom_factor(shape, zoom)?;
    let rows = strips
        .iter()
        .map(|s| cells(config.preprocess.invert(s.view()).view(), shape, config))
        .collect::<Result<Vec<_>>>()?;
    Ok(latent_report::image_grid(&rows, labels, f)?)
}

/// `steps` evenly spaced values from `lo` to `hi`, both included (as
/// `latent_explore::traversal_codes` places them).
fn linspace(lo: f64, hi: f64, steps: usize) -> Vec<f64> {
    if steps == 1 {
        return vec![0.5 * (lo + hi)];
    }
    (0..steps)
        .map(|i| {
            if i + 1 == steps {
                hi
            } else {
                lo + (hi - lo) * i as f64 / (steps - 1) as f64
            }
        })
        .collect()
}

/// The labels of a traversal (`latent_explore::traverse` over `dims`, `±range`, `steps`):
/// a row per dimension (`z3`), a column per value (`-3.00 … 3.00`, as many decimals as
/// it takes to tell them apart), `value` in the corner.
pub fn traversal_labels(dims: &[usize], range: f32, steps: usize) -> GridLabels {
    // The range as written (0.1, not 0.100000001…).
    let r: f64 = range.to_string().parse().unwrap_or(f64::from(range));
    GridLabels {
        corner: "value".into(),
        rows: dims.iter().map(|d| format!("z{d}")).collect(),
        columns: latent_report::ticks::value_labels(&linspace(-r, r, steps)),
    }
}

/// The labels of interpolations (`latent_explore::interpolate` between `pairs` of rows in
/// `steps`): a row per pair (`12 → 40`), a column per position `t` from 0 (the first row's
/// code) to 1 (the second's), `t` in the corner.
pub fn interpolation_labels(pairs: &[(usize, usize)], steps: usize) -> GridLabels {
    GridLabels {
        corner: "t".into(),
        rows: pairs.iter().map(|(i, j)| format!("{i} → {j}")).collect(),
        columns: latent_report::ticks::value_labels(&linspace(0.0, 1.0, steps)),
    }
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
/// side, enlarged by [`zoom_factor`]`(zoom)` and separated by grey lines.
///
/// # Errors
/// The model's errors; drawing errors.
pub fn map(
    model: &Model,
    config: &RunConfig,
    run_dir: &std::path::Path,
    data: &Dataset,
    grid: usize,
    zoom: Option<u32>,
) -> Result<(RgbImage, Projection)> {
    if model.reduction().latent_dim() == 2 && config.data.image_shape.is_some() {
        check_figure(
            &format!("--grid {grid}"),
            grid.max(2).saturating_mul(grid.max(2)),
            config,
            zoom,
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
    let f = zoom_factor(shape, zoom)?;
    let all = cells(grid.view(), shape, config)?;
    let rows: Vec<Vec<RgbImage>> = all.chunks(n).map(<[RgbImage]>::to_vec).collect();
    let grid_img = latent_report::image_grid(&rows, &GridLabels::none(), f)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn shape(side: usize) -> ImageShape {
        ImageShape {
            height: side,
            width: side,
            channels: 1,
        }
    }

    #[test]
    fn zoom_defaults_to_56_pixels_and_checks_the_flag() {
        assert_eq!(zoom_factor(shape(28), None).unwrap(), 2);
        assert_eq!(zoom_factor(shape(32), None).unwrap(), 2);
        assert_eq!(zoom_factor(shape(8), None).unwrap(), 7);
        assert_eq!(zoom_factor(shape(28), Some(5)).unwrap(), 5);
        for bad in [0, 17] {
            let err = zoom_factor(shape(28), Some(bad)).unwrap_err();
            assert!(err.to_string().contains("from 1 to 16"), "{err}");
            assert!(err.is_user_error());
        }
        let x = Array2::from_shape_vec((1, 4), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let (big, big_shape) = zoom(x.view(), shape(2), Some(2)).unwrap();
        assert_eq!((big_shape.height, big_shape.width), (4, 4));
        assert_eq!(
            big.row(0).to_vec(),
            [
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
    }

    #[test]
    fn traversal_and_interpolation_labels() {
        let l = traversal_labels(&[0, 3], 3.0, 9);
        assert_eq!(l.rows, ["z0", "z3"]);
        assert_eq!(l.columns.len(), 9);
        assert_eq!(l.columns[0], "-3.00");
        assert_eq!(l.columns[1], "-2.25");
        assert_eq!(l.columns[4], "0.00");
        assert_eq!(l.columns[8], "3.00");
        // A range not exact in f32 is labelled as written.
        let l = traversal_labels(&[1], 0.1, 3);
        assert_eq!(l.columns, ["-0.1", "0.0", "0.1"]);
        let l = interpolation_labels(&[(12, 40), (2, 3)], 5);
        assert_eq!(l.corner, "t");
        assert_eq!(l.rows, ["12 → 40", "2 → 3"]);
        assert_eq!(l.columns, ["0.00", "0.25", "0.50", "0.75", "1.00"]);
        let l = interpolation_labels(&[(0, 1)], 10);
        assert_eq!(l.columns[1], "0.11");
        assert_eq!(l.columns[9], "1.00");
    }
}
