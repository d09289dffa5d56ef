//! Figures decoded back from their PNG files.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;

use latent_report::{
    LINE_SIZE, ReportError, RgbImage, SCATTER_SIZE, TAB10, caption, hstack, line_plot,
    line_plot_png, scatter_plot, scatter_png, write_png,
};
use ndarray::Array2;

/// `(width, height, RGB pixels)` of a PNG file.
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).expect("png file");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn colours(rgb: &[u8]) -> HashSet<[u8; 3]> {
    rgb.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}

/// Ten Gaussian blobs on a circle, 200 points each, labelled 0..9.
fn blobs() -> (Array2<f32>, Vec<u32>) {
    let mut rng = latent_core::seed::rng(4);
    let noise = latent_core::standard_normal(2000, 2, &mut rng);
    let labels: Vec<u32> = (0..2000).map(|i| (i % 10) as u32).collect();
    let points = Array2::from_shape_fn((2000, 2), |(i, j)| {
        let a = f32::from(labels[i] as u8) * std::f32::consts::TAU / 10.0;
        let centre = if j == 0 { 4.0 * a.cos() } else { 4.0 * a.sin() };
        centre + 0.6 * noise[[i, j]]
    });
    (points, labels)
}

fn names() -> Vec<String> {
    [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn scatter_png_has_the_size_and_every_class_colour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codes.png");
    let (points, labels) = blobs();
    let names = names();
    scatter_png(
        &path,
        points.view(),
        Some(&labels),
        Some(&names),
        "Ten blobs",
        ("z₀", "z₁"),
    )
    .unwrap();
    let (w, h, rgb) = read_png(&path);
    assert_eq!((w, h), SCATTER_SIZE);
    let seen = colours(&rgb);
    assert!(seen.len() > 20, "{} colours", seen.len());
    for c in TAB10 {
        assert!(seen.contains(&c), "class colour {c:?} missing");
    }
    // Unlabelled: one colour for all points, no legend, still a real plot.
    let path = dir.path().join("plain.png");
    scatter_png(&path, points.view(), None, None, "no labels", ("x", "y")).unwrap();
    let (w, h, rgb) = read_png(&path);
    assert_eq!((w, h), SCATTER_SIZE);
    assert!(colours(&rgb).len() > 2);
    assert!(!colours(&rgb).contains(&TAB10[1]));
}

#[test]
fn scatter_rejects_bad_input() {
    let (points, labels) = blobs();
    let err = scatter_plot(points.view(), Some(&labels[..10]), None, "t", ("x", "y")).unwrap_err();
    assert!(
        err.to_string().contains("10 labels for 2000 points"),
        "{err}"
    );
    assert!(err.is_user_error());
    let mut bad = points.clone();
    bad[[7, 1]] = f32::NAN;
    let err = scatter_plot(bad.view(), None, None, "t", ("x", "y")).unwrap_err();
    assert!(err.to_string().contains("[7, 1]"), "{err}");
    let three = Array2::<f32>::zeros((5, 3));
    assert!(scatter_plot(three.view(), None, None, "t", ("x", "y")).is_err());
    // A single point (zero range) is drawable.
    let one = Array2::<f32>::ones((1, 2));
    scatter_plot(one.view(), Some(&[3]), None, "t", ("x", "y")).unwrap();
}

fn curves() -> Vec<(&'static str, Vec<(f64, f64)>)> {
    let train: Vec<(f64, f64)> = (1..=50)
        .map(|e| (f64::from(e), 200.0 * f64::from(e).powf(-0.8) + 20.0))
        .collect();
    let test: Vec<(f64, f64)> = (1..=50)
        .map(|e| (f64::from(e), 210.0 * f64::from(e).powf(-0.7) + 25.0))
        .collect();
    vec![("train", train), ("test", test)]
}

#[test]
fn line_plot_png_has_the_size_and_the_series_colours() {
    let dir = tempfile::tempdir().unwrap();
    for log_y in [false, true] {
        let path = dir.path().join(format!("loss-{log_y}.png"));
        line_plot_png(
            &path,
            &curves(),
            "Negative ELBO",
            ("epoch", "nats per example"),
            log_y,
        )
        .unwrap();
        let (w, h, rgb) = read_png(&path);
        assert_eq!((w, h), LINE_SIZE);
        let seen = colours(&rgb);
        assert!(seen.len() > 10);
        assert!(
            seen.contains(&TAB10[0]) && seen.contains(&TAB10[1]),
            "log_y {log_y}"
        );
        assert!(!seen.contains(&TAB10[2]));
    }
    // A single point and a short series with markers.
    line_plot(&[("one", vec![(3.0, 2.0)])], "t", ("x", "y"), false).unwrap();
}

#[test]
fn line_plot_rejects_bad_input() {
    let err = line_plot(
        &[("rd", vec![(0.0, 1.0), (1.0, 0.0)])],
        "t",
        ("x", "y"),
        true,
    )
    .unwrap_err();
    assert!(err.to_string().contains("series `rd`, point 1"), "{err}");
    let err = line_plot(&[("nan", vec![(0.0, f64::NAN)])], "t", ("x", "y"), false).unwrap_err();
    assert!(err.to_string().contains("`nan`"), "{err}");
    assert!(line_plot(&[], "t", ("x", "y"), false).is_err());
    assert!(line_plot(&[("e", vec![])], "t", ("x", "y"), false).is_err());
}

#[test]
fn errors_name_the_path_when_the_directory_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("plot.png");
    let (points, labels) = blobs();
    let err = scatter_png(&path, points.view(), Some(&labels), None, "t", ("x", "y")).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let err = line_plot_png(&path, &curves(), "t", ("x", "y"), false).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn hstack_and_caption_compose_images() {
    let red = RgbImage::filled(3, 2, [255, 0, 0]).unwrap();
    let blue = RgbImage::filled(2, 4, [0, 0, 255]).unwrap();
    let both = hstack(&[&red, &blue], 1).unwrap();
    assert_eq!((both.width(), both.height()), (6, 4));
    // red is centred vertically: rows 1..3; the gap column 3 is white.
    assert_eq!(both.pixel(0, 0), Some([255, 255, 255]));
    assert_eq!(both.pixel(0, 1), Some([255, 0, 0]));
    assert_eq!(both.pixel(2, 2), Some([255, 0, 0]));
    assert_eq!(both.pixel(3, 2), Some([255, 255, 255]));
    assert_eq!(both.pixel(4, 0), Some([0, 0, 255]));
    assert_eq!(both.pixel(5, 3), Some([0, 0, 255]));
    assert!(hstack(&[], 0).is_err());
    assert!(RgbImage::from_raw(2, 2, vec![0; 11]).is_err());

    let titled = caption(&blue, "a title wider than the image").unwrap();
    assert!(titled.width() > 100);
    assert_eq!(titled.height(), 4 + 40);
    assert!(colours(titled.pixels()).len() > 2, "text is drawn");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.png");
    write_png(&path, &both).unwrap();
    let (w, h, rgb) = read_png(&path);
    assert_eq!((w, h, rgb.as_slice()), (6, 4, both.pixels()));
}

/// Runs of consecutive `true`s.
fn runs(flags: impl Iterator<Item = bool>) -> usize {
    let mut count = 0;
    let mut prev = false;
    for f in flags {
        if f && !prev {
            count += 1;
        }
        prev = f;
    }
    count
}

fn dark(img: &RgbImage, x: u32, y: u32) -> bool {
    img.pixel(x, y).is_some_and(|p| p.iter().all(|&c| c < 110))
}

/// The reported case: a loss from 255 down to 120 over 3 epochs on a log axis. The y axis
/// carries numbers (several labels left of the plot), the x axis exactly the 3 epochs.
#[test]
fn narrow_log_loss_curve_is_numbered_with_integer_epochs() {
    let loss = vec![(1.0, 255.0), (2.0, 160.0), (3.0, 120.0)];
    let img = latent_report::line_plot_scaled(
        &[("train", loss)],
        "Training loss",
        ("epoch", "loss (nats per example)"),
        (latent_report::Scale::Integer, latent_report::Scale::Log),
    )
    .unwrap();
    assert_eq!((img.width(), img.height()), LINE_SIZE);
    if let Some(dir) = std::env::var_os("LATENT_FIGURE_DIR") {
        write_png(&Path::new(&dir).join("loss-narrow.png"), &img).unwrap();
    }
    // The plot's frame: the left axis is the first dark column spanning most of the height.
    let (w, h) = (img.width(), img.height());
    let axis_x = (0..w / 2)
        .find(|&x| (h / 4..h * 3 / 4).all(|y| dark(&img, x, y)))
        .expect("a y axis line");
    // Tick labels end just left of the axis: count the text lines there.
    let labels = runs((0..h).map(|y| (axis_x - 40..axis_x - 4).any(|x| dark(&img, x, y))));
    assert!((4..=9).contains(&labels), "{labels} numbers on the y axis");
    // The bottom axis: the first dark row spanning the plot's width; below it, the epoch
    // labels: exactly three runs of dark columns (1, 2, 3), no 1.5 or 2.5.
    let axis_y = (h / 2..h)
        .find(|&y| (axis_x + 10..w - 40).all(|x| dark(&img, x, y)))
        .expect("an x axis line");
    let epochs = runs((axis_x + 1..w).map(|x| (axis_y + 6..axis_y + 24).any(|y| dark(&img, x, y))));
    assert_eq!(epochs, 3, "epoch labels");
}

#[test]
fn labelled_grid_of_cells() {
    use latent_report::{GridLabels, default_zoom, image_grid};
    // A traversal-like grid: 3 rows of 5 cells of 28×28 pixels.
    let cells: Vec<Vec<RgbImage>> = (0..3)
        .map(|r| {
            (0..5)
                .map(|c| RgbImage::filled(28, 28, [(40 * c) as u8, (80 * r) as u8, 200]).unwrap())
                .collect()
        })
        .collect();
    let labels = GridLabels {
        corner: "value".into(),
        rows: vec!["z0".into(), "z3".into(), "z7".into()],
        columns: ["-3.0", "-1.5", "0.0", "1.5", "3.0"]
            .map(String::from)
            .to_vec(),
    };
    let zoom = default_zoom(28, 28);
    assert!(28 * zoom >= 56);
    let img = image_grid(&cells, &labels, zoom).unwrap();
    if let Some(dir) = std::env::var_os("LATENT_FIGURE_DIR") {
        write_png(&Path::new(&dir).join("grid.png"), &img).unwrap();
    }
    // Every cell is there at 56 × 56, each colour once per cell.
    let seen = colours(img.pixels());
    for r in 0..3u32 {
        for c in 0..5u32 {
            let colour = [(40 * c) as u8, (80 * r) as u8, 200];
            assert!(seen.contains(&colour), "cell ({r}, {c})");
            let count = img
                .pixels()
                .chunks_exact(3)
                .filter(|p| *p == colour)
                .count();
            assert_eq!(count, 56 * 56, "cell ({r}, {c}) at zoom {zoom}");
        }
    }
    assert!(seen.contains(&[128, 128, 128]), "separators");
    assert!(img.width() > 5 * 58 + 20 && img.height() > 3 * 58 + 14);
}
