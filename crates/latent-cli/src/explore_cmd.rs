//! Commands that explore a latent space, for every model alike (written against the
//! `Reduction` / `Probabilistic` traits): `sample`, `interpolate`, `traverse`, `map`.

use std::path::Path;

use anyhow::Result;
use latent_core::{Dataset, ImageShape, seed};
use latent_data::{image, npy};
use latent_explore::{CodeGaussian, Interpolation, Sampler};
use ndarray::{Array2, ArrayView2};

use crate::cli::{InterpolateArgs, MapArgs, SampleArgs, TraverseArgs};
use crate::commands::{load_data_for_run, prepare_out, user};
use crate::run::{self, Model, RunConfig};

/// Tiles drawn at least this many pixels across (small images are enlarged, nearest
/// neighbour, so 8×8 digits stay visible).
const MIN_TILE: usize = 56;

/// Enlarge each image row by an integer factor so that a tile is about 56 pixels across.
pub fn zoom(x: ArrayView2<'_, f32>, shape: ImageShape) -> (Array2<f32>, ImageShape) {
    let f = (MIN_TILE / shape.height.max(shape.width).max(1)).max(1);
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

fn image_shape(config: &RunConfig, run_dir: &Path) -> Result<ImageShape> {
    config.data.image_shape.ok_or_else(|| {
        user(format!(
            "{}: the run's data ({}) are not images; write .npy instead of .png",
            run_dir.display(),
            config.data.spec
        ))
    })
}

/// Write decoded rows (model space) as image strips (PNG, one strip per entry) or as one
/// NPY array in the data's units.
fn write_strips(
    path: &Path,
    strips: &[Array2<f32>],
    config: &RunConfig,
    run_dir: &Path,
) -> Result<()> {
    let in_units: Vec<Array2<f32>> = strips
        .iter()
        .map(|s| config.preprocess.invert(s.view()))
        .collect();
    if path
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".npy")
    {
        let views: Vec<ArrayView2<'_, f32>> = in_units.iter().map(|a| a.view()).collect();
        let all = ndarray::concatenate(ndarray::Axis(0), &views)?;
        match config.data.image_shape {
            Some(shape) => npy::write_f32_images(path, all.view(), shape)?,
            None => npy::write_f32(path, all.view())?,
        }
        return Ok(());
    }
    let shape = image_shape(config, run_dir)?;
    let zoomed: Vec<(Array2<f32>, ImageShape)> =
        in_units.iter().map(|s| zoom(s.view(), shape)).collect();
    let big = zoomed.first().map_or(shape, |z| z.1);
    let views: Vec<ArrayView2<'_, f32>> = zoomed.iter().map(|z| z.0.view()).collect();
    image::write_image_rows(path, &views, big, config.display_range)?;
    Ok(())
}

fn check_out(path: &Path, force: bool) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if !(name.ends_with(".png") || name.ends_with(".npy")) {
        return Err(user(format!(
            "{}: unsupported output type (expected .png or .npy)",
            path.display()
        )));
    }
    prepare_out(path, force)
}

/// The training data of a run, preprocessed (for a Gaussian fitted to its codes).
fn training_data(config: &RunConfig) -> Result<Dataset> {
    let args = config.data.args.clone().ok_or_else(|| {
        user("the run does not record how its training data was read; pass --data")
    })?;
    let raw = crate::commands::load_raw(&args)?;
    Ok(config.preprocess.apply(raw)?)
}

/// `latent sample`.
pub fn sample(args: &SampleArgs) -> Result<()> {
    check_out(&args.out, args.force)?;
    if args.n == 0 {
        return Err(user("--n must be at least 1"));
    }
    let (config, model) = run::load(&args.run)?;
    let mut rng = seed::rng(seed::derive(args.seed, "sample"));
    let fitted;
    let sampler = match model.probabilistic() {
        Some(p) => Sampler::ModelPrior(p),
        None => {
            let data = match &args.data {
                Some(d) => load_data_for_run(
                    &config,
                    &crate::cli::DataArgs {
                        data: d.clone(),
                        split: args.split,
                        csv_header: crate::cli::HeaderArg::Auto,
                        label_column: None,
                        holdout: None,
                        holdout_seed: 0,
                    },
                )?,
                None => training_data(&config)?,
            };
            let codes = model.reduction().encode(data.x())?;
            fitted = CodeGaussian::fit(codes.view())?;
            Sampler::FittedToCodes {
                model: model.reduction(),
                gaussian: &fitted,
            }
        }
    };
    let s = latent_explore::sample(sampler, args.n, args.temperature, &mut rng)?;
    let cols = args.columns.max(1);
    let strips: Vec<Array2<f32>> = s
        .decoded
        .axis_chunks_iter(ndarray::Axis(0), cols)
        .map(|c| c.to_owned())
        .collect();
    write_strips(&args.out, &strips, &config, &args.run)?;
    outln!(
        "sampled {} points from {} at temperature {}{}",
        args.n,
        s.source,
        args.temperature,
        if model.probabilistic().is_none() {
            format!(" ({} has no prior)", model.reduction().method())
        } else {
            String::new()
        }
    );
    outln!("wrote {}", args.out.display());
    Ok(())
}

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
pub fn interpolate(args: &InterpolateArgs) -> Result<()> {
    check_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let data = load_data_for_run(&config, &args.data)?;
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
    let path = if args.slerp {
        Interpolation::Slerp
    } else {
        Interpolation::Lerp
    };
    let strips =
        latent_explore::interpolate(model.reduction(), data.x(), &pairs, args.steps, path)?;
    write_strips(&args.out, &strips, &config, &args.run)?;
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

/// `latent traverse`.
pub fn traverse(args: &TraverseArgs) -> Result<()> {
    check_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let k = model.reduction().latent_dim();
    let dims = latent_explore::parse_dims(&args.dims, k)?;
    let strips = latent_explore::traverse(model.reduction(), None, &dims, args.range, args.steps)?;
    write_strips(&args.out, &strips, &config, &args.run)?;
    outln!(
        "traversed latent dims {dims:?} over [−{r}, {r}] in {} steps around the origin, written to {}",
        args.steps,
        args.out.display(),
        r = args.range
    );
    Ok(())
}

/// `latent map`: the codes in 2-D coloured by label; for a 2-D latent also the decoded
/// manifold over Gaussian quantiles (Kingma & Welling's figure).
pub fn map(args: &MapArgs) -> Result<()> {
    if !args
        .out
        .to_string_lossy()
        .to_ascii_lowercase()
        .ends_with(".png")
    {
        return Err(user(format!("{}: the map is a .png", args.out.display())));
    }
    prepare_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let data = load_data_for_run(&config, &args.data)?;
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
    let figure = if model.reduction().latent_dim() == 2 && config.data.image_shape.is_some() {
        let marginals = match &model {
            Model::Nn(m) if m.as_probabilistic().is_some() => None,
            _ => Some(CodeGaussian::fit(codes.view())?),
        };
        let n = args.grid.max(2);
        let grid = latent_explore::manifold_grid(model.reduction(), n, 0.05, marginals.as_ref())?;
        let grid = config.preprocess.invert(grid.view());
        let shape = image_shape(&config, &args.run)?;
        let (big, big_shape) = zoom(grid.view(), shape);
        let (w, h, rgb) = image::grid_pixels(big.view(), big_shape, n, config.display_range, 0)?;
        let grid_img = latent_report::RgbImage::from_raw(w, h, rgb)?;
        let grid_img = latent_report::caption(
            &grid_img,
            &format!(
                "decoded manifold: {} quantiles 0.05…0.95 of {}",
                n,
                if marginals.is_some() {
                    "a Gaussian fitted to the codes"
                } else {
                    "the prior N(0, I)"
                }
            ),
        )?;
        latent_report::hstack(&[&scatter, &grid_img], 16)?
    } else {
        scatter
    };
    latent_report::write_png(&args.out, &figure)?;
    outln!(
        "mapped {} codes ({}) to {}",
        data.n(),
        projection,
        args.out.display()
    );
    Ok(())
}
