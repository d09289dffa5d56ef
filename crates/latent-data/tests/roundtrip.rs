//! Write → read round trips (NPY, CSV, PNG) and the PNG folder reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use latent_core::{ImageShape, RowSource, ValueRange};
use latent_data::csv::{CsvOptions, Header, LabelColumn};
use latent_data::{DataError, csv, image, npy};
use ndarray::{Array2, s};
use rand::{Rng, SeedableRng};

/// Finite `f32`s drawn from all bit patterns (tiny, huge, subnormal, negative zero…).
fn awkward(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = Array2::from_shape_fn((n, d), |_| {
        loop {
            let v = f32::from_bits(rng.random());
            if v.is_finite() {
                break v;
            }
        }
    });
    x[[0, 0]] = -0.0;
    x[[0, 1]] = f32::MIN_POSITIVE / 8.0;
    x[[1, 0]] = f32::MAX;
    x[[1, 1]] = 0.1;
    x
}

fn bits(x: &Array2<f32>) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn npy_f32_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    let x = awkward(17, 5, 1);
    npy::write_f32(&p, x.view()).unwrap();
    let back = npy::read_matrix(&p).unwrap();
    assert_eq!(back.dim(), x.dim());
    assert_eq!(bits(&back), bits(&x));
    let ds = npy::read(&p).unwrap();
    assert_eq!(bits(&ds.x().to_owned()), bits(&x));
    assert_eq!(ds.image_shape(), None);
    assert_eq!(ds.range(), None);
    // a non-contiguous view is written in logical order
    let t = x.t().to_owned();
    npy::write_f32(&p, x.t()).unwrap();
    assert_eq!(npy::read_matrix(&p).unwrap(), t);
}

#[test]
fn npy_image_shapes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for shape in [
        ImageShape::gray(3, 2),
        ImageShape {
            height: 2,
            width: 3,
            channels: 3,
        },
    ] {
        let p = dir.path().join(format!("img{}.npy", shape.channels));
        let x = Array2::from_shape_fn((4, shape.numel().unwrap()), |(i, j)| {
            (i * 100 + j) as f32 / 7.0
        });
        npy::write_f32_images(&p, x.view(), shape).unwrap();
        let ds = npy::read(&p).unwrap();
        assert_eq!(ds.x(), x.view());
        assert_eq!(ds.image_shape(), Some(shape));
        // streaming yields the same rows, in batches of any size
        let mut src = npy::NpyRowSource::open(&p).unwrap();
        assert_eq!(src.image_shape(), Some(shape));
        assert_eq!(
            (src.dim(), src.len_hint()),
            (shape.numel().unwrap(), Some(4))
        );
        let mut rows = Vec::new();
        while let Some(b) = src.next_batch(3).unwrap() {
            assert!(b.nrows() <= 3);
            rows.extend(b.iter().copied());
        }
        assert_eq!(rows, x.iter().copied().collect::<Vec<_>>());
        // matrix reading refuses images
        let err = npy::read_matrix(&p).unwrap_err();
        assert!(err.to_string().contains("expected a 2-D array"), "{err}");
    }
    let err = npy::write_f32_images(
        &dir.path().join("bad.npy"),
        Array2::zeros((2, 5)).view(),
        ImageShape::gray(2, 2),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");
    assert!(!dir.path().join("bad.npy").exists());
}

#[test]
fn csv_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("codes.csv");
    let x = awkward(13, 4, 2);
    csv::write_f32(&p, x.view(), None).unwrap();
    assert_eq!(bits(&csv::read_matrix(&p).unwrap()), bits(&x));
    let header: Vec<String> = (0..4).map(|i| format!("z{i}")).collect();
    csv::write_f32(&p, x.view(), Some(&header)).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with("z0,z1,z2,z3\n"), "{text}");
    assert_eq!(bits(&csv::read_matrix(&p).unwrap()), bits(&x));
    // labels by name from the header
    let ds = csv::read(
        &p,
        &CsvOptions {
            header: Header::Present,
            label: None,
        },
    )
    .unwrap();
    assert_eq!(ds.n(), 13);
}

#[test]
fn csv_writer_refuses_what_it_could_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.csv");
    let mut x = Array2::<f32>::zeros((2, 2));
    let h = vec!["a".to_string()];
    assert!(matches!(
        csv::write_f32(&p, x.view(), Some(&h)),
        Err(DataError::Invalid { .. })
    ));
    let h = vec!["1".to_string(), "2".to_string()];
    assert!(matches!(
        csv::write_f32(&p, x.view(), Some(&h)),
        Err(DataError::Invalid { .. })
    ));
    x[[1, 0]] = f32::NAN;
    let err = csv::write_f32(&p, x.view(), None).unwrap_err();
    assert!(err.to_string().contains("row 1, column 0 is NaN"), "{err}");
    assert!(!p.exists());
}

#[test]
fn csv_labels_by_index_name_and_last() {
    let text = "f1,label,f2\n1,3,2\n4,0,5\n";
    let name = Path::new("l.csv");
    for label in [LabelColumn::Index(1), LabelColumn::Name("label".into())] {
        let ds = csv::parse(
            name,
            text,
            &CsvOptions {
                header: Header::Auto,
                label: Some(label),
            },
        )
        .unwrap();
        assert_eq!(ds.x().as_slice().unwrap(), &[1.0, 2.0, 4.0, 5.0]);
        assert_eq!(ds.labels().unwrap(), &[3, 0]);
    }
    let ds = csv::parse(
        name,
        "1,2,7\n3,4,8\n",
        &CsvOptions {
            header: Header::Auto,
            label: Some(LabelColumn::Last),
        },
    )
    .unwrap();
    assert_eq!(ds.labels().unwrap(), &[7, 8]);
    assert_eq!(ds.dim(), 2);
}

fn decode_png(p: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(p).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn px(rgb: &[u8], width: u32, x: usize, y: usize) -> [u8; 3] {
    let i = (y * width as usize + x) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[test]
fn png_grid_has_the_right_size_and_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("grid.png");
    // 5 gray images of 4×3 (h×w); image k has value k*10 + (pixel index), range 0..100
    let shape = ImageShape::gray(4, 3);
    let x = Array2::from_shape_fn((5, 12), |(k, j)| (k * 10 + j) as f32);
    let range = ValueRange {
        min: 0.0,
        max: 100.0,
    };
    image::write_grid(&p, x.view(), shape, 3, range).unwrap();
    let (w, h, rgb) = decode_png(&p);
    // 3 columns, 2 rows, 2 px of padding around and between
    assert_eq!((w, h), (3 * 3 + 4 * 2, 2 * 4 + 3 * 2));
    assert_eq!(px(&rgb, w, 0, 0), [128; 3]);
    // image 4 is row 1, column 1: origin (2 + 1·5, 2 + 1·6) = (7, 8); its pixel (y=2, x=1)
    // has index 7 and value 47 → round(47 · 2.55) = 120
    let v = (47.0f32 * 2.55).round() as u8;
    assert_eq!(px(&rgb, w, 7 + 1, 8 + 2), [v; 3]);
    // image 0, pixel (0, 0): value 0 → 0; the empty sixth slot is background
    assert_eq!(px(&rgb, w, 2, 2), [0; 3]);
    assert_eq!(px(&rgb, w, 12 + 1, 8 + 1), [128; 3]);

    // values are clamped to the range
    let (_, _, clamped) = image::grid_pixels(
        Array2::from_elem((1, 12), 1000.0).view(),
        shape,
        1,
        range,
        0,
    )
    .unwrap();
    assert!(clamped.iter().all(|&b| b == 255));
}

#[test]
fn png_rgb_comparison_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let shape = ImageShape {
        height: 2,
        width: 2,
        channels: 3,
    };
    // channel c of every pixel = c / 2
    let x = Array2::from_shape_fn((5, 12), |(_, j)| (j % 3) as f32 / 2.0);
    let p = dir.path().join("cmp.png");
    image::write_comparison(&p, x.view(), x.view(), shape, 3, ValueRange::UNIT).unwrap();
    let (w, h, rgb) = decode_png(&p);
    assert_eq!(w, 3 * 2 + 4 * 2);
    // two grids of two rows: 2 + (2+2)·2 + 4 (extra gap) + (2+2)·2 = 22
    assert_eq!(h, 22);
    assert_eq!(px(&rgb, w, 2, 2), [0, 128, 255]);
    // the top grid ends at row 8: rows 8..14 are background (6 px), the bottom grid starts at 14
    for y in 8..14 {
        assert_eq!(px(&rgb, w, 2, y), [128; 3], "row {y}");
    }
    assert_eq!(px(&rgb, w, 2, 14), [0, 128, 255]);
    let err = image::write_comparison(
        &p,
        x.view(),
        x.slice(s![..4, ..]),
        shape,
        3,
        ValueRange::UNIT,
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");

    let p = dir.path().join("rows.png");
    image::write_image_rows(
        &p,
        &[
            x.slice(s![..2, ..]),
            x.slice(s![..5, ..]),
            x.slice(s![..1, ..]),
        ],
        shape,
        ValueRange::UNIT,
    )
    .unwrap();
    let (w, h, _) = decode_png(&p);
    assert_eq!((w, h), (5 * 2 + 6 * 2, 3 * 2 + 4 * 2));
    assert!(matches!(
        image::write_grid(&p, x.view(), ImageShape::gray(2, 2), 3, ValueRange::UNIT),
        Err(DataError::Invalid { .. })
    ));
}

fn write_png(
    p: &Path,
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
) {
    let file = std::fs::File::create(p).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(color);
    enc.set_depth(depth);
    if let Some(pal) = palette {
        enc.set_palette(pal.to_vec());
    }
    let mut wr = enc.write_header().unwrap();
    wr.write_image_data(data).unwrap();
    wr.finish().unwrap();
}

#[test]
fn png_folder_flat_gray_variants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    use png::{BitDepth as B, ColorType as C};
    write_png(
        &d.join("a.png"),
        2,
        1,
        C::Grayscale,
        B::Eight,
        &[0, 255],
        None,
    );
    write_png(
        &d.join("b.PNG"),
        2,
        1,
        C::GrayscaleAlpha,
        B::Eight,
        &[10, 1, 20, 2],
        None,
    );
    write_png(
        &d.join("c.png"),
        2,
        1,
        C::Grayscale,
        B::Sixteen,
        &[0x12, 0x34, 0xab, 0xcd],
        None,
    );
    std::fs::write(d.join("notes.txt"), "ignored").unwrap();
    std::fs::write(d.join(".hidden.png"), "ignored").unwrap();
    let ds = image::read_png_folder(d).unwrap();
    assert_eq!(
        ds.x(),
        ndarray::array![[0.0, 255.0], [10.0, 20.0], [18.0, 171.0]]
    );
    assert_eq!(ds.image_shape(), Some(ImageShape::gray(1, 2)));
    assert_eq!(
        ds.range(),
        Some(ValueRange {
            min: 0.0,
            max: 255.0
        })
    );
    assert_eq!(ds.labels(), None);
}

#[test]
fn png_folder_classes_and_colour_variants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    use png::{BitDepth as B, ColorType as C};
    std::fs::create_dir(d.join("cat")).unwrap();
    std::fs::create_dir(d.join("dog")).unwrap();
    write_png(
        &d.join("cat/1.png"),
        1,
        1,
        C::Rgb,
        B::Eight,
        &[1, 2, 3],
        None,
    );
    write_png(
        &d.join("cat/2.png"),
        1,
        1,
        C::Rgba,
        B::Eight,
        &[4, 5, 6, 0],
        None,
    );
    write_png(
        &d.join("dog/1.png"),
        1,
        1,
        C::Indexed,
        B::Eight,
        &[1],
        Some(&[0, 0, 0, 7, 8, 9]),
    );
    let ds = image::read_png_folder(d).unwrap();
    assert_eq!(
        ds.x(),
        ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
    );
    assert_eq!(ds.labels().unwrap(), &[0, 0, 1]);
    assert_eq!(
        ds.class_names().unwrap(),
        &["cat".to_string(), "dog".to_string()]
    );
    assert_eq!(ds.image_shape().unwrap().channels, 3);
}
