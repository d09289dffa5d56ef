//! Draws the figures of latent-report on real data, for looking at them:
//! `cargo run -p latent-report --example figures -- OUT_DIR` writes, from PCA on the embedded
//! Fashion-MNIST-10k, `map-k2.png` (2-D codes next to the decoded manifold grid),
//! `map-k1.png` (1-D codes against a jitter), `map-k16.png` (16-D codes on their principal
//! axes), `traversal.png` and `interpolation.png` (labelled grids at the default zoom),
//! `loss.png` (made-up curves on a log axis) and `loss-narrow.png` (a loss from 255 to 120
//! over 3 epochs: a log axis narrower than a decade).

use std::path::PathBuf;

use latent_core::{Fit, ParamGuard, Reduction};
use latent_data::image::grid_pixels;
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use latent_explore::{
    CodeGaussian, Interpolation, interpolate, manifold_grid, project_2d, traverse,
};
use latent_pca::{Components, PcaParams};
use latent_report::{
    GridLabels, RgbImage, Scale, caption, default_zoom, hstack, image_grid, line_plot_png,
    line_plot_scaled, scatter_plot, write_png,
};
use ndarray::Array2;

/// Each row of each strip as a cell of an image grid.
fn cells(
    strips: &[Array2<f32>],
    shape: latent_core::ImageShape,
    range: latent_core::ValueRange,
) -> Result<Vec<Vec<RgbImage>>, Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    for s in strips {
        let mut row = Vec::new();
        for i in 0..s.nrows() {
            let (w, h, rgb) = grid_pixels(s.slice(ndarray::s![i..i + 1, ..]), shape, 1, range, 0)?;
            row.push(RgbImage::from_raw(w, h, rgb)?);
        }
        rows.push(row);
    }
    Ok(rows)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "figures".into()));
    std::fs::create_dir_all(&out)?;
    let data = latent_data::embedded::fashion_mnist_10k()?;
    let data = Preprocess::fit(&data, ScaleChoice::Auto, Binarize::None)?.apply(data)?;
    let shape = data.image_shape().ok_or("no image shape")?;
    let range = data.range().ok_or("no value range")?;
    let labels = data.labels();
    let names = data.class_names();

    for k in [1, 2, 16] {
        let pca = PcaParams::new(Components::Count(k))
            .whiten(k == 2)
            .check()?
            .fit(&data)?;
        let codes = pca.encode(data.x())?;
        let (points, how) = project_2d(codes.view())?;
        let title = format!("PCA on Fashion-MNIST-10k: {how}");
        let scatter = scatter_plot(points.view(), labels, names, &title, how.axis_labels())?;
        let figure = if k == 2 {
            let g = CodeGaussian::fit(codes.view())?;
            let grid = manifold_grid(&pca, 20, 0.05, Some(&g))?;
            let (w, h, rgb) = grid_pixels(grid.view(), shape, 20, range, 1)?;
            let grid = caption(
                &RgbImage::from_raw(w, h, rgb)?,
                "decoded grid over (z₀, z₁)",
            )?;
            hstack(&[&scatter, &grid], 16)?
        } else {
            scatter
        };
        write_png(&out.join(format!("map-k{k}.png")), &figure)?;
        if k == 16 {
            let zoom = default_zoom(shape.width as u32, shape.height as u32);
            let dims = [0, 1, 2, 3];
            let strips = traverse(&pca, None, &dims, 8.0, 11)?;
            let values: Vec<f64> = (0..11).map(|i| -8.0 + 1.6 * f64::from(i)).collect();
            let labels = GridLabels {
                corner: "value".into(),
                rows: dims.iter().map(|d| format!("z{d}")).collect(),
                columns: latent_report::ticks::value_labels(&values),
            };
            let grid = image_grid(&cells(&strips, shape, range)?, &labels, zoom)?;
            write_png(&out.join("traversal.png"), &grid)?;
            let pairs = [(0, 1), (2, 3)];
            let strips = interpolate(&pca, data.x(), &pairs, 10, Interpolation::Slerp)?;
            let t: Vec<f64> = (0..10).map(|i| f64::from(i) / 9.0).collect();
            let labels = GridLabels {
                corner: "t".into(),
                rows: pairs.iter().map(|(i, j)| format!("{i} → {j}")).collect(),
                columns: latent_report::ticks::value_labels(&t),
            };
            let grid = image_grid(&cells(&strips, shape, range)?, &labels, zoom)?;
            write_png(&out.join("interpolation.png"), &grid)?;
        }
    }
    let curve = |a: f64, b: f64| -> Vec<(f64, f64)> {
        (1..=40)
            .map(|e| (f64::from(e), a * f64::from(e).powf(-0.6) + b))
            .collect()
    };
    line_plot_png(
        &out.join("loss.png"),
        &[
            ("train", curve(300.0, 25.0)),
            ("validation", curve(320.0, 30.0)),
        ],
        "Negative ELBO (made-up curves)",
        ("epoch", "nats per example"),
        true,
    )?;
    let narrow = line_plot_scaled(
        &[("train", vec![(1.0, 255.0), (2.0, 160.0), (3.0, 120.0)])],
        "Training loss over 3 epochs",
        ("epoch", "loss (nats per example)"),
        (Scale::Integer, Scale::Log),
    )?;
    write_png(&out.join("loss-narrow.png"), &narrow)?;
    println!("figures written to {}", out.display());
    Ok(())
}
