//! Draws the figures of latent-report on real data, for looking at them:
//! `cargo run -p latent-report --example figures -- OUT_DIR` writes, from PCA on the embedded
//! Fashion-MNIST-10k, `map-k2.png` (2-D codes next to the decoded manifold grid),
//! `map-k1.png` (1-D codes against a jitter), `map-k16.png` (16-D codes on their principal axes), `traversal.png`, `interpolation.png`
//! and `loss.png` (made-up curves on a log axis).

use std::path::PathBuf;

use latent_core::{Fit, ParamGuard, Reduction};
use latent_data::image::{grid_pixels, write_image_rows};
use latent_data::transform::{Binarize, Preprocess, ScaleChoice};
use latent_explore::{
    CodeGaussian, Interpolation, interpolate, manifold_grid, project_2d, traverse,
};
use latent_pca::{Components, PcaParams};
use latent_report::{RgbImage, caption, hstack, line_plot_png, scatter_plot, write_png};

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
            let strips = traverse(&pca, None, &[0, 1, 2, 3], 8.0, 11)?;
            let views: Vec<_> = strips.iter().map(|s| s.view()).collect();
            write_image_rows(&out.join("traversal.png"), &views, shape, range)?;
            let strips = interpolate(&pca, data.x(), &[(0, 1), (2, 3)], 10, Interpolation::Slerp)?;
            let views: Vec<_> = strips.iter().map(|s| s.view()).collect();
            write_image_rows(&out.join("interpolation.png"), &views, shape, range)?;
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
    println!("figures written to {}", out.display());
    Ok(())
}
