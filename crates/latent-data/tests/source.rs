//! `DataSpec`: recognising `--data` arguments, splits, loading and streaming.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use latent_core::{Dataset, RowSource};
use latent_data::csv::{CsvOptions, LabelColumn};
use latent_data::source::{self, DataSpec, LoadOptions, Split};
use latent_data::{DataError, embedded, npy};
use ndarray::Array2;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist-10k")
}

fn split(s: Split) -> LoadOptions {
    LoadOptions {
        split: Some(s),
        ..Default::default()
    }
}

/// Drain a stream, checking it yields exactly the dataset's rows.
fn assert_stream_equals(mut src: Box<dyn RowSource>, ds: &Dataset, batch: usize) {
    assert_eq!(src.dim(), ds.dim());
    assert_eq!(src.len_hint(), Some(ds.n()));
    let mut start = 0;
    while let Some(b) = src.next_batch(batch).unwrap() {
        assert!(b.nrows() >= 1 && b.nrows() <= batch);
        assert_eq!(b, ds.x().slice(ndarray::s![start..start + b.nrows(), ..]));
        start += b.nrows();
    }
    assert_eq!(start, ds.n());
}

/// An MNIST-layout folder holding the embedded test split under its usual names.
fn mnist_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(data_dir().join(f), dir.path().join(f)).unwrap();
    }
    dir
}

#[test]
fn named_datasets() {
    for n in ["fashion-mnist-10k", "digits", "fashion-mnist"] {
        let spec = DataSpec::parse(n).unwrap();
        assert_eq!(spec, DataSpec::Named(n.into()));
        assert_eq!(spec.display(), n);
    }
    let fm = DataSpec::parse("fashion-mnist-10k").unwrap();
    assert_eq!(fm.load(&split(Split::Test)).unwrap().n(), 10_000);
    let err = fm.load(&split(Split::Train)).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("fashion-mnist-10k holds only the test split"),
        "{err}"
    );
    let digits = DataSpec::parse("digits").unwrap();
    assert_eq!(digits.load(&LoadOptions::default()).unwrap().n(), 1797);
    for s in [Split::Train, Split::Test] {
        let err = digits.load(&split(s)).unwrap_err();
        assert!(matches!(err, DataError::Invalid { .. }), "{err}");
    }
    assert!(digits.stream(&LoadOptions::default()).unwrap().is_none());
    let ds = embedded::fashion_mnist_10k().unwrap();
    assert_stream_equals(
        fm.stream(&LoadOptions::default()).unwrap().unwrap(),
        &ds,
        4096,
    );
    // CSV options do not apply to other kinds of data
    let opts = LoadOptions {
        csv: CsvOptions {
            label: Some(LabelColumn::Last),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(digits.load(&opts), Err(DataError::Invalid { .. })));
}

#[test]
fn missing_full_fashion_mnist_gives_the_install_hint() {
    let empty = tempfile::tempdir().unwrap();
    for s in [Split::Train, Split::Test] {
        let err = source::fashion_mnist_from(empty.path(), s).unwrap_err();
        assert!(matches!(err, DataError::MissingDataset { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("apt-get install -y dataset-fashion-mnist"),
            "{msg}"
        );
        assert!(msg.contains(&empty.path().display().to_string()), "{msg}");
        assert!(err.is_user_error());
    }
    // images without labels are not a complete installation
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data_dir().join("t10k-images-idx3-ubyte.gz"),
        dir.path().join("t10k-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let err = source::fashion_mnist_from(dir.path(), Split::Test).unwrap_err();
    assert!(
        err.to_string().contains("t10k-labels-idx1-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn installed_fashion_mnist_layout_loads_with_class_names() {
    let dir = mnist_dir();
    let ds = source::fashion_mnist_from(dir.path(), Split::Test).unwrap();
    let want = embedded::fashion_mnist_10k().unwrap();
    assert_eq!(ds.x(), want.x());
    assert_eq!(ds.labels(), want.labels());
    assert_eq!(ds.class_names(), want.class_names());
    assert!(matches!(
        source::fashion_mnist_from(dir.path(), Split::Train),
        Err(DataError::MissingDataset { .. })
    ));
}

#[test]
fn mnist_layout_folder() {
    let dir = mnist_dir();
    let s = dir.path().to_str().unwrap();
    let spec = DataSpec::parse(s).unwrap();
    assert_eq!(spec, DataSpec::MnistDir(dir.path().to_path_buf()));
    assert_eq!(spec.display(), s);
    let want = embedded::fashion_mnist_10k().unwrap();
    let ds = spec.load(&split(Split::Test)).unwrap();
    assert_eq!(ds.x(), want.x());
    assert_eq!(ds.labels(), want.labels());
    // only the test split is there: the default falls back to it, `train` is refused
    assert_eq!(spec.load(&LoadOptions::default()).unwrap().n(), 10_000);
    let err = spec.load(&split(Split::Train)).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("no train images"), "{err}");
    assert_stream_equals(
        spec.stream(&split(Split::Test)).unwrap().unwrap(),
        &want,
        777,
    );
}

#[test]
fn idx_file_with_sibling_labels_raw_and_gz() {
    let dir = tempfile::tempdir().unwrap();
    let want = embedded::fashion_mnist_10k().unwrap();
    // gzip copies, and a decompressed copy of the images
    let gz_images = dir.path().join("fashion-images-idx3-ubyte.gz");
    std::fs::copy(data_dir().join("t10k-images-idx3-ubyte.gz"), &gz_images).unwrap();
    std::fs::copy(
        data_dir().join("t10k-labels-idx1-ubyte.gz"),
        dir.path().join("fashion-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let spec = DataSpec::parse(gz_images.to_str().unwrap()).unwrap();
    assert_eq!(spec, DataSpec::Idx(gz_images.clone()));
    let ds = spec.load(&LoadOptions::default()).unwrap();
    assert_eq!(ds.labels(), want.labels());
    assert!(matches!(
        spec.load(&split(Split::Test)),
        Err(DataError::Invalid { .. })
    ));

    let raw = dir.path().join("raw.idx");
    let mut bytes = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(&gz_images).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    std::fs::write(&raw, &bytes).unwrap();
    let spec = DataSpec::parse(raw.to_str().unwrap()).unwrap();
    assert_eq!(spec, DataSpec::Idx(raw.clone()));
    let ds = spec.load(&LoadOptions::default()).unwrap();
    assert_eq!(ds.x(), want.x());
    assert_eq!(ds.labels(), None);
    assert_stream_equals(
        spec.stream(&LoadOptions::default()).unwrap().unwrap(),
        &want,
        1000,
    );
}

#[test]
fn npy_csv_and_png_paths() {
    let dir = tempfile::tempdir().unwrap();
    let x = Array2::from_shape_fn((6, 4), |(i, j)| (i * 4 + j) as f32 * 0.5);
    let np = dir.path().join("x.NPY");
    npy::write_f32(&np, x.view()).unwrap();
    let spec = DataSpec::parse(np.to_str().unwrap()).unwrap();
    assert_eq!(spec, DataSpec::Npy(np.clone()));
    let ds = spec.load(&LoadOptions::default()).unwrap();
    assert_eq!(ds.x(), x.view());
    assert_stream_equals(
        spec.stream(&LoadOptions::default()).unwrap().unwrap(),
        &ds,
        4,
    );

    for name in ["x.csv", "x.csv.gz", "x.tsv"] {
        let p = dir.path().join(name);
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        assert_eq!(
            DataSpec::parse(p.to_str().unwrap()).unwrap(),
            DataSpec::Csv(p)
        );
    }
    let csv = dir.path().join("l.csv");
    std::fs::write(&csv, "a,b,y\n1,2,0\n3,4,1\n").unwrap();
    let spec = DataSpec::parse(csv.to_str().unwrap()).unwrap();
    let opts = LoadOptions {
        csv: CsvOptions {
            label: Some(LabelColumn::Name("y".into())),
            ..Default::default()
        },
        ..Default::default()
    };
    let ds = spec.load(&opts).unwrap();
    assert_eq!(ds.labels().unwrap(), &[0, 1]);
    assert!(spec.stream(&opts).unwrap().is_none());
    assert!(matches!(
        spec.load(&split(Split::Train)),
        Err(DataError::Invalid { .. })
    ));

    let pngs = dir.path().join("pngs");
    std::fs::create_dir(&pngs).unwrap();
    let spec = DataSpec::parse(pngs.to_str().unwrap()).unwrap();
    assert_eq!(spec, DataSpec::PngFolder(pngs.clone()));
    latent_data::image::write_grid(
        &pngs.join("a.png"),
        Array2::<f32>::zeros((1, 4)).view(),
        latent_core::ImageShape::gray(2, 2),
        1,
        latent_core::ValueRange::UNIT,
    )
    .unwrap();
    let ds = spec.load(&LoadOptions::default()).unwrap();
    assert_eq!(ds.image_shape().unwrap().channels, 3);
    assert!(spec.stream(&LoadOptions::default()).unwrap().is_none());
}

#[test]
fn unknown_and_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "hello").unwrap();
    let err = DataSpec::parse(txt.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("notes.txt") && msg.contains(".npy") && msg.contains("digits"),
        "{msg}"
    );

    let missing = dir.path().join("nope.npy");
    let err = DataSpec::parse(missing.to_str().unwrap()).unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("nope.npy")
            && msg.contains(
                "no such file or directory, and not a dataset name (fashion-mnist-10k, digits, \
                 fashion-mnist)"
            ),
        "{msg}"
    );
    let err = DataSpec::parse("fashion_mnist").unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }));
    assert!(DataSpec::parse("").is_err());
}

#[test]
fn split_and_spec_serialize() {
    assert_eq!(serde_json::to_string(&Split::Train).unwrap(), r#""train""#);
    assert_eq!(
        serde_json::from_str::<Split>(r#""test""#).unwrap(),
        Split::Test
    );
    assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
    assert!("valid".parse::<Split>().is_err());
    let spec = DataSpec::Npy(PathBuf::from("/tmp/x.npy"));
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(serde_json::from_str::<DataSpec>(&json).unwrap(), spec);
}
