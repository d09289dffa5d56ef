//! `DataSpec::row_count` and `DataSpec::load_rows`: a range of rows is exactly the rows
//! `load` gives there (values bit for bit, labels, metadata), for every kind of data; bad
//! ranges and bad files are errors naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use latent_core::{Dataset, RowSource};
use latent_data::DataError;
use latent_data::csv::{CsvOptions, LabelColumn};
use latent_data::idx::{self, IdxRowSource};
use latent_data::npy::{self, NpyRowSource};
use latent_data::source::{self, DataSpec, LoadOptions, Split};

// ---- writing small files -----------------------------------------------------------------

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Deterministic bytes that use the whole range `0..=255`.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn idx_images(n: u32, h: u32, w: u32, seed: u64) -> Vec<u8> {
    let mut v = 0x0803u32.to_be_bytes().to_vec();
    for d in [n, h, w] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend(bytes((n * h * w) as usize, seed));
    v
}

fn idx_labels(n: u32, seed: u64) -> Vec<u8> {
    let mut v = 0x0801u32.to_be_bytes().to_vec();
    v.extend_from_slice(&n.to_be_bytes());
    v.extend(bytes(n as usize, seed).iter().map(|b| b % 10));
    v
}

/// An `.npy` file: version 1.0 header `descr`, `fortran`, `shape`, then `data`.
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Awkward `f32` values: signs, fractions, subnormals, large magnitudes.
fn awkward_f32(k: usize) -> Vec<f32> {
    let b = bytes(k * 4, 7);
    (0..k)
        .map(|i| {
            let r = u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
            match i % 5 {
                0 => f32::from_bits(r % 0x007f_ffff), // subnormal (or zero)
                1 => -(r as f32) / 3.0,
                2 => (r % 1000) as f32 * 1e30,
                _ => f32::from_bits(0x3000_0000 | (r & 0x0fff_ffff)) - 0.25,
            }
        })
        .collect()
}

fn awkward_f64(k: usize) -> Vec<f64> {
    let b = bytes(k * 8, 11);
    (0..k)
        .map(|i| {
            let r = u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap());
            match i % 4 {
                0 => (r as f64) / 7.0 * if r & 1 == 0 { 1.0 } else { -1.0 },
                1 => f64::from_bits(0x3ff0_0000_0000_0000 | (r >> 12)), // in [1, 2), rounds
                2 => 1e-40 * (r % 100) as f64,                          // f32 subnormal
                _ => -((r % 100_000) as f64) * 0.1,
            }
        })
        .collect()
}

fn write(path: &Path, content: &[u8]) -> PathBuf {
    std::fs::write(path, content).unwrap();
    path.to_path_buf()
}

fn spec(p: &Path) -> DataSpec {
    DataSpec::parse(p.to_str().unwrap()).unwrap()
}

// ---- checking ----------------------------------------------------------------------------

fn bits(d: &Dataset) -> Vec<u32> {
    d.x().iter().map(|v| v.to_bits()).collect()
}

/// Everything but the rows.
fn assert_same_meta(a: &Dataset, b: &Dataset) {
    assert_eq!(a.name(), b.name());
    assert_eq!(a.dim(), b.dim());
    assert_eq!(a.class_names(), b.class_names());
    assert_eq!(a.image_shape(), b.image_shape());
    assert_eq!(a.range(), b.range());
    assert_eq!(a.feature_names(), b.feature_names());
    assert_eq!(a.labels().is_some(), b.labels().is_some());
}

/// `parts` contiguous non-empty ranges covering `0..n`, of uneven sizes.
fn partition(n: usize, parts: usize) -> Vec<Range<usize>> {
    assert!(parts >= 1 && parts <= n);
    let mut cuts: Vec<usize> = (0..=parts).map(|i| i * n / parts).collect();
    // shift the inner cuts a little so the parts differ in size, keeping them non-empty
    for i in 1..parts {
        if cuts[i] + 1 < cuts[i + 1] && i % 2 == 1 {
            cuts[i] += 1;
        }
    }
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// `load_rows` over partitions of `0..n` into 1, 2, 3 and 7 ranges gives back `load`, and
/// `row_count` is `load(..).n()`. Returns the full load.
fn assert_rows_match_load(spec: &DataSpec, opts: &LoadOptions) -> Dataset {
    assert_rows_match_load_parts(spec, opts, &[1, 2, 3, 7])
}

fn assert_rows_match_load_parts(spec: &DataSpec, opts: &LoadOptions, parts: &[usize]) -> Dataset {
    let full = spec.load(opts).unwrap();
    let n = full.n();
    assert_eq!(spec.row_count(opts).unwrap(), n, "{spec}");
    for &p in parts {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        let mut covered = 0;
        for r in partition(n, p) {
            assert_eq!(r.start, covered);
            covered = r.end;
            let part = spec.load_rows(opts, r.clone()).unwrap();
            assert_eq!(part.n(), r.len(), "{spec} {r:?}");
            assert_same_meta(&part, &full);
            let want = full.select(&r.clone().collect::<Vec<_>>()).unwrap();
            assert_eq!(bits(&part), bits(&want), "{spec} {r:?}");
            assert_eq!(part.labels(), want.labels(), "{spec} {r:?}");
            values.extend(bits(&part));
            if let Some(l) = part.labels() {
                labels.extend_from_slice(l);
            }
        }
        assert_eq!(covered, n);
        assert_eq!(values, bits(&full), "{spec}: {p} parts");
        assert_eq!(
            full.labels().map(<[u32]>::to_vec),
            full.labels().map(|_| labels),
            "{spec}: {p} parts"
        );
    }
    full
}

/// Out-of-range and reversed ranges are `Invalid` errors naming the file and the row count;
/// empty ones are the core's `Empty`.
fn assert_bad_ranges(spec: &DataSpec, opts: &LoadOptions, name: &str) {
    let n = spec.row_count(opts).unwrap();
    for r in [n - 1..n + 1, n + 3..n + 5, 0..usize::MAX] {
        let err = spec.load_rows(opts, r.clone()).unwrap_err();
        assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(name)
                && msg.contains(&format!("{}..{}", r.start, r.end))
                && msg.contains(&format!("{n} rows")),
            "{msg}"
        );
        assert!(err.is_user_error());
    }
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 3..1;
    let err = spec.load_rows(opts, reversed).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(name) && msg.contains("3..1") && msg.contains("start is after the end"),
        "{msg}"
    );
    for r in [0..0, n..n] {
        let err = spec.load_rows(opts, r).unwrap_err();
        assert!(
            matches!(
                &err,
                DataError::Core {
                    source: latent_core::Error::Empty(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

fn with_labels(p: &Path) -> LoadOptions {
    LoadOptions {
        labels: Some(p.to_path_buf()),
        ..Default::default()
    }
}

// ---- IDX ---------------------------------------------------------------------------------

#[test]
fn idx_raw_with_sibling_labels() {
    let dir = tempfile::tempdir().unwrap();
    let images = write(
        &dir.path().join("x-images-idx3-ubyte"),
        &idx_images(23, 3, 4, 1),
    );
    write(&dir.path().join("x-labels-idx1-ubyte"), &idx_labels(23, 2));
    let s = spec(&images);
    assert_eq!(s, DataSpec::Idx(images.clone()));
    let full = assert_rows_match_load(&s, &LoadOptions::default());
    assert_eq!((full.n(), full.dim()), (23, 12));
    assert!(full.labels().is_some());
    assert_bad_ranges(&s, &LoadOptions::default(), "x-images-idx3-ubyte");
}

#[test]
fn idx_gzip_with_sibling_labels() {
    let dir = tempfile::tempdir().unwrap();
    let images = write(
        &dir.path().join("y-images-idx3-ubyte.gz"),
        &gz(&idx_images(31, 5, 2, 3)),
    );
    write(
        &dir.path().join("y-labels-idx1-ubyte.gz"),
        &gz(&idx_labels(31, 4)),
    );
    let s = spec(&images);
    let full = assert_rows_match_load(&s, &LoadOptions::default());
    assert!(full.labels().is_some());
    assert_bad_ranges(&s, &LoadOptions::default(), "y-images-idx3-ubyte.gz");
}

#[test]
fn idx_without_labels_and_with_a_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let images = write(&dir.path().join("plain.idx"), &idx_images(17, 2, 2, 5));
    let s = spec(&images);
    let full = assert_rows_match_load(&s, &LoadOptions::default());
    assert!(full.labels().is_none());
    // class names from a CSV labels file, which the ranges keep whole
    let names = ["cat", "dog", "emu"];
    let text: String = std::iter::once("kind\n".to_string())
        .chain((0..17).map(|i| format!("{}\n", names[(i * 7) % 3])))
        .collect();
    let labels = write(&dir.path().join("kinds.csv"), text.as_bytes());
    let full = assert_rows_match_load(&s, &with_labels(&labels));
    assert_eq!(full.class_names().unwrap(), &["cat", "dog", "emu"]);
    // one label too few: refused for every range, naming both files and both counts
    let short: String = (0..16).map(|i| format!("{}\n", i % 3)).collect();
    let short = write(&dir.path().join("short.csv"), short.as_bytes());
    let full_err = s.load(&with_labels(&short)).unwrap_err().to_string();
    for r in [0..1, 5..9, 16..17] {
        let err = s.load_rows(&with_labels(&short), r).unwrap_err();
        assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
        assert_eq!(err.to_string(), full_err);
        assert!(
            full_err.contains("short.csv")
                && full_err.contains("plain.idx")
                && full_err.contains("16 labels")
                && full_err.contains("17 rows"),
            "{full_err}"
        );
    }
}

#[test]
fn idx_label_count_is_checked_against_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let sfx = if gzip { ".gz" } else { "" };
        let enc = |b: Vec<u8>| if gzip { gz(&b) } else { b };
        let images = write(
            &dir.path().join(format!("c-images-idx3-ubyte{sfx}")),
            &enc(idx_images(12, 2, 3, 6)),
        );
        write(
            &dir.path().join(format!("c-labels-idx1-ubyte{sfx}")),
            &enc(idx_labels(11, 6)),
        );
        let s = spec(&images);
        let want = s.load(&LoadOptions::default()).unwrap_err().to_string();
        for r in [0..2, 3..11, 11..12] {
            let err = s.load_rows(&LoadOptions::default(), r).unwrap_err();
            assert!(matches!(err, DataError::Format { .. }), "{err:?}");
            assert_eq!(err.to_string(), want);
            assert!(
                want.contains("11 labels") && want.contains("12 images"),
                "{want}"
            );
        }
        std::fs::remove_file(dir.path().join(format!("c-labels-idx1-ubyte{sfx}"))).unwrap();
        std::fs::remove_file(images).unwrap();
    }
}

#[test]
fn idx_gzip_late_range_and_damaged_streams() {
    let dir = tempfile::tempdir().unwrap();
    let raw = idx_images(5000, 28, 28, 9);
    let images = write(&dir.path().join("big-images-idx3-ubyte.gz"), &gz(&raw));
    let s = spec(&images);
    let opts = LoadOptions::default();
    let full = s.load(&opts).unwrap();
    assert_eq!(s.row_count(&opts).unwrap(), 5000);
    for r in [4990..5000, 4000..4010, 2500..2501] {
        let part = s.load_rows(&opts, r.clone()).unwrap();
        let want = full.select(&r.collect::<Vec<_>>()).unwrap();
        assert_eq!(bits(&part), bits(&want));
        assert_same_meta(&part, &full);
    }

    // a stream cut short: refused whatever the range, as `load` refuses it
    let cut = write(
        &dir.path().join("cut-images-idx3-ubyte.gz"),
        &gz(&raw[..raw.len() - 784 * 3 - 100]),
    );
    let s = spec(&cut);
    let err = s.load(&opts).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    for r in [0..10, 4990..4996, 4996..5000] {
        let err = s.load_rows(&opts, r).unwrap_err();
        assert!(matches!(err, DataError::Format { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("cut-images-idx3-ubyte.gz")
                && msg.contains("truncated")
                && msg.contains("4996 of the 5000 images"),
            "{msg}"
        );
    }
    // the header alone still counts the rows it declares
    assert_eq!(s.row_count(&opts).unwrap(), 5000);

    // data after the images: refused whatever the range
    let mut long = raw.clone();
    long.extend_from_slice(&[1, 2, 3]);
    let long = write(&dir.path().join("long-images-idx3-ubyte.gz"), &gz(&long));
    let s = spec(&long);
    assert!(s.load(&opts).is_err());
    for r in [0..10, 4990..5000] {
        let msg = s.load_rows(&opts, r).unwrap_err().to_string();
        assert!(
            msg.contains("long-images-idx3-ubyte.gz") && msg.contains("unexpected data"),
            "{msg}"
        );
    }
}

#[test]
fn idx_raw_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let raw = idx_images(40, 3, 3, 10);
    let opts = LoadOptions::default();
    for (name, content) in [
        ("short.idx", raw[..raw.len() - 5].to_vec()),
        ("long.idx", [raw.clone(), vec![0; 4]].concat()),
        ("labels.idx", idx_labels(40, 1)),
    ] {
        let p = write(&dir.path().join(name), &content);
        let s = spec(&p);
        let want = s.load(&opts).unwrap_err().to_string();
        assert_eq!(s.row_count(&opts).unwrap_err().to_string(), want);
        for r in [0..1, 20..40] {
            let err = s.load_rows(&opts, r).unwrap_err();
            assert!(matches!(err, DataError::Format { .. }), "{err:?}");
            assert_eq!(err.to_string(), want);
            assert!(want.contains(name), "{want}");
        }
    }
}

#[test]
fn idx_row_sources_stream_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let raw = idx_images(50, 4, 5, 12);
    let plain = write(&dir.path().join("s.idx"), &raw);
    let zipped = write(&dir.path().join("s.idx.gz"), &gz(&raw));
    let full = idx::load_pair(&plain, None).unwrap();
    for p in [&plain, &zipped] {
        let mut src = IdxRowSource::open_rows(p, 13..41).unwrap().scaled(0.5);
        assert_eq!(
            (src.n(), src.rows(), src.len_hint()),
            (50, 13..41, Some(28))
        );
        let mut got = Vec::new();
        while let Some(b) = src.next_batch(6).unwrap() {
            assert!(b.nrows() <= 6);
            got.extend(b.iter().copied());
        }
        let want: Vec<f32> = full
            .select(&(13..41).collect::<Vec<_>>())
            .unwrap()
            .x()
            .iter()
            .map(|v| v * 0.5)
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            idx::load_pair_rows(p, None, 13..41).unwrap().x(),
            full.select(&(13..41).collect::<Vec<_>>()).unwrap().x()
        );
        let err = IdxRowSource::open_rows(p, 10..51).unwrap_err().to_string();
        assert!(err.contains("s.idx") && err.contains("50 rows"), "{err}");
    }
}

// ---- MNIST-layout folders and Fashion-MNIST ------------------------------------------------

#[test]
fn mnist_folder_with_both_splits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("train-images-idx3-ubyte.gz"),
        &gz(&idx_images(29, 4, 4, 20)),
    );
    write(
        &d.join("train-labels-idx1-ubyte.gz"),
        &gz(&idx_labels(29, 21)),
    );
    write(&d.join("t10k-images-idx3-ubyte"), &idx_images(13, 4, 4, 22));
    write(&d.join("t10k-labels-idx1-ubyte"), &idx_labels(13, 23));
    let s = spec(d);
    assert_eq!(s, DataSpec::MnistDir(d.to_path_buf()));
    let split = |s: Split| LoadOptions {
        split: Some(s),
        ..Default::default()
    };
    let train = assert_rows_match_load(&s, &LoadOptions::default());
    assert_eq!(train.n(), 29);
    assert!(train.name().ends_with("train-images-idx3-ubyte.gz"));
    assert_rows_match_load(&s, &split(Split::Train));
    let test = assert_rows_match_load(&s, &split(Split::Test));
    assert_eq!(test.n(), 13);
    assert!(test.labels().is_some());
    assert_bad_ranges(&s, &split(Split::Test), "t10k-images-idx3-ubyte");
    assert_bad_ranges(&s, &LoadOptions::default(), "train-images-idx3-ubyte.gz");
}

#[test]
fn installed_fashion_mnist_rows() {
    let dir = source::fashion_mnist_dir();
    if !dir.join("train-images-idx3-ubyte.gz").is_file()
        || !dir.join("train-labels-idx1-ubyte.gz").is_file()
    {
        println!(
            "skipped: the full Fashion-MNIST is not installed in {}",
            dir.display()
        );
        return;
    }
    let s = DataSpec::parse("fashion-mnist").unwrap();
    let opts = LoadOptions::default();
    assert_eq!(s.row_count(&opts).unwrap(), 60_000);
    let test = LoadOptions {
        split: Some(Split::Test),
        ..Default::default()
    };
    assert_eq!(s.row_count(&test).unwrap(), 10_000);
    let part = s.load_rows(&opts, 30_000..30_010).unwrap();
    let full = s.load(&opts).unwrap();
    assert_eq!(full.n(), 60_000);
    let want = full.select(&(30_000..30_010).collect::<Vec<_>>()).unwrap();
    assert_eq!(bits(&part), bits(&want));
    assert_eq!(part.labels(), want.labels());
    assert_same_meta(&part, &full);
    assert_eq!(part.class_names().unwrap().len(), 10);
    let err = s.load_rows(&opts, 59_990..60_001).unwrap_err().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("60000 rows"),
        "{err}"
    );
}

#[test]
fn embedded_sets_are_selected_from_the_whole() {
    let opts = LoadOptions::default();
    let digits = DataSpec::parse("digits").unwrap();
    let full = assert_rows_match_load(&digits, &opts);
    assert_eq!(full.n(), 1797);
    assert_bad_ranges(&digits, &opts, "digits");
    let fm = DataSpec::parse("fashion-mnist-10k").unwrap();
    assert_eq!(fm.row_count(&opts).unwrap(), 10_000);
    let full = assert_rows_match_load_parts(&fm, &opts, &[3]);
    assert_eq!(full.labels().unwrap().len(), 10_000);
    let train = LoadOptions {
        split: Some(Split::Train),
        ..Default::default()
    };
    assert!(matches!(
        fm.load_rows(&train, 0..10),
        Err(DataError::Invalid { .. })
    ));
    assert!(matches!(
        fm.row_count(&train),
        Err(DataError::Invalid { .. })
    ));
}

// ---- NPY ---------------------------------------------------------------------------------

#[test]
fn npy_dtypes_in_c_order() {
    let dir = tempfile::tempdir().unwrap();
    // u8 images (N, H, W): range 0..255 and an image shape
    let u8s = write(
        &dir.path().join("u8.npy"),
        &npy_bytes("|u1", false, &[19, 3, 2], &bytes(19 * 6, 30)),
    );
    let full = assert_rows_match_load(&spec(&u8s), &LoadOptions::default());
    assert!(full.range().is_some() && full.image_shape().is_some());
    assert_bad_ranges(&spec(&u8s), &LoadOptions::default(), "u8.npy");

    // f32 rows (N, D)
    let v = awkward_f32(21 * 5);
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let f32s = write(
        &dir.path().join("f32.npy"),
        &npy_bytes("<f4", false, &[21, 5], &data),
    );
    let full = assert_rows_match_load(&spec(&f32s), &LoadOptions::default());
    assert_eq!(
        bits(&full),
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );

    // f64 rows, rounded to f32 exactly as `load` rounds them
    let v = awkward_f64(15 * 3);
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let f64s = write(
        &dir.path().join("f64.npy"),
        &npy_bytes("<f8", false, &[15, 3], &data),
    );
    assert_rows_match_load(&spec(&f64s), &LoadOptions::default());

    // i64 and u16 rows, RGB images (N, H, W, 3)
    let v: Vec<i64> = (0..9 * 4)
        .map(|i| (i as i64 - 17) * 123_456_789_012)
        .collect();
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let i64s = write(
        &dir.path().join("i64.npy"),
        &npy_bytes("<i8", false, &[9, 4], &data),
    );
    assert_rows_match_load(&spec(&i64s), &LoadOptions::default());
    let rgb = write(
        &dir.path().join("rgb.npy"),
        &npy_bytes("<u2", false, &[8, 2, 2, 3], &bytes(8 * 12 * 2, 31)),
    );
    let full = assert_rows_match_load(&spec(&rgb), &LoadOptions::default());
    assert_eq!(full.image_shape().unwrap().channels, 3);

    // with a labels file of its own
    let l: Vec<u8> = (0..21i64).flat_map(|i| (i % 4).to_le_bytes()).collect();
    let labels = write(
        &dir.path().join("l.npy"),
        &npy_bytes("<i8", false, &[21], &l),
    );
    let full = assert_rows_match_load(&spec(&f32s), &with_labels(&labels));
    assert_eq!(full.labels().unwrap()[5], 1);
    // labels counted against the whole file
    let err = spec(&u8s)
        .load_rows(&with_labels(&labels), 0..5)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("21 labels") && err.contains("19 rows"),
        "{err}"
    );
}

#[test]
fn npy_fortran_order_and_bad_files_fail_as_load_does() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions::default();
    let f32s: Vec<u8> = awkward_f32(12)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f64s: Vec<u8> = awkward_f64(12)
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    for (name, content) in [
        ("fu8.npy", npy_bytes("|u1", true, &[4, 3], &bytes(12, 1))),
        ("ff32.npy", npy_bytes("<f4", true, &[4, 3], &f32s)),
        ("ff64.npy", npy_bytes("<f8", true, &[4, 3], &f64s)),
        ("short.npy", npy_bytes("<f4", false, &[4, 3], &f32s[..40])),
        ("long.npy", npy_bytes("<f4", false, &[3, 3], &f32s)),
        ("vector.npy", npy_bytes("<f4", false, &[12], &f32s)),
    ] {
        let p = write(&dir.path().join(name), &content);
        let s = spec(&p);
        let want = s.load(&opts).unwrap_err();
        assert!(matches!(want, DataError::Format { .. }), "{want:?}");
        let want = want.to_string();
        assert!(want.contains(name), "{want}");
        if name.starts_with('f') {
            assert!(want.contains("fortran_order"), "{want}");
        }
        assert_eq!(s.row_count(&opts).unwrap_err().to_string(), want);
        for r in [0..1, 1..3] {
            assert_eq!(s.load_rows(&opts, r).unwrap_err().to_string(), want);
        }
    }
}

#[test]
fn npy_non_finite_values_in_the_rows_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = awkward_f32(10 * 4);
    v[6 * 4 + 2] = f32::NAN;
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let p = write(
        &dir.path().join("nan.npy"),
        &npy_bytes("<f4", false, &[10, 4], &data),
    );
    let s = spec(&p);
    let opts = LoadOptions::default();
    let want = s.load(&opts).unwrap_err();
    assert!(matches!(want, DataError::Core { .. }), "{want:?}");
    for r in [0..10, 6..7, 3..8] {
        let err = s.load_rows(&opts, r).unwrap_err();
        assert!(matches!(err, DataError::Core { .. }), "{err:?}");
        assert_eq!(err.to_string(), want.to_string());
        assert!(err.to_string().contains("row 6, column 2"), "{err}");
    }
    // rows without the NaN are read (only the rows read are checked)
    assert_eq!(s.load_rows(&opts, 0..6).unwrap().n(), 6);
    assert_eq!(s.load_rows(&opts, 7..10).unwrap().n(), 3);
    assert_eq!(npy::read_rows(&p, 7..10).unwrap().n(), 3);
    // the stream reports it with its row in the file too
    let mut src = NpyRowSource::open_rows(&p, 5..9).unwrap();
    assert_eq!((src.n(), src.rows(), src.len_hint()), (10, 5..9, Some(4)));
    assert_eq!(src.next_batch(1).unwrap().unwrap().nrows(), 1);
    let err = src.next_batch(3).unwrap_err().to_string();
    assert!(
        err.contains("nan.npy") && err.contains("row 6, column 2"),
        "{err}"
    );
}

// ---- CSV ---------------------------------------------------------------------------------

#[test]
fn csv_with_header_and_label_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("width,height,label,depth\n");
    for i in 0..26 {
        text += &format!("{},{},{},{}\n", i as f32 * 0.25, -i, i % 3, 1e-3 * i as f32);
    }
    let p = write(&dir.path().join("t.csv"), text.as_bytes());
    let s = spec(&p);
    let by_name = LoadOptions {
        csv: CsvOptions {
            label: Some(LabelColumn::ByName),
            ..Default::default()
        },
        ..Default::default()
    };
    let full = assert_rows_match_load(&s, &by_name);
    assert_eq!(full.feature_names().unwrap(), &["width", "height", "depth"]);
    assert!(full.labels().is_some());
    assert_bad_ranges(&s, &by_name, "t.csv");
    // all four columns as features
    let full = assert_rows_match_load(&s, &LoadOptions::default());
    assert_eq!(full.dim(), 4);
}
