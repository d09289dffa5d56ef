//! Tabular data as first-class input: the label column found by name, text labels, labels
//! files for any data (NPY integers of every width, one-column CSV), integer NPY data, and
//! `--scale auto` standardizing non-image data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use latent_core::{ArrayRows, Dataset, ImageShape, ValueRange};
use latent_data::csv::{self, CsvOptions, Header, LabelColumn};
use latent_data::source::{DataSpec, LoadOptions};
use latent_data::transform::{
    Binarize, Preprocess, ScaleChoice, Scaling, auto_scaling, standardize_rows,
};
use latent_data::{DataError, labels, notes, npy};
use ndarray::Array2;

static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record(note: &str) {
    NOTES.lock().unwrap().push(note.to_string());
}

/// The notes so far that mention `about` (tests run in parallel: each names its own file).
fn notes_about(about: &str) -> Vec<String> {
    notes::set_sink(record);
    NOTES
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.contains(about))
        .cloned()
        .collect()
}

fn by_name() -> CsvOptions {
    CsvOptions {
        label: Some(LabelColumn::ByName),
        ..Default::default()
    }
}

fn parse(name: &str, text: &str, opts: &CsvOptions) -> Result<Dataset, DataError> {
    notes::set_sink(record);
    csv::parse(Path::new(name), text, opts)
}

/// A version 1.0 `.npy` file of `descr` with `shape` and the little-endian `data`.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(data);
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_column_named_like_labels_is_the_label_column_and_is_announced() {
    for (i, head) in ["class", "Label", "TARGET", "y"].iter().enumerate() {
        let name = format!("found-{i}.csv");
        let d = parse(
            &name,
            &format!("a,b,{head}\n1,2,0\n3,4,1\n5,6,1\n"),
            &by_name(),
        )
        .unwrap();
        assert_eq!(d.dim(), 2, "{head}");
        assert_eq!(d.labels(), Some(&[0, 1, 1][..]), "{head}");
        let said = notes_about(&name);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].contains(&format!("using column `{head}` as labels"))
                && said[0].contains("--label-column none"),
            "{said:?}"
        );
    }
    // the label column may be anywhere
    let d = parse("first.csv", "class,a,b\n2,1,2\n0,3,4\n", &by_name()).unwrap();
    assert_eq!(d.labels(), Some(&[2, 0][..]));
    assert_eq!(d.x().row(0).to_vec(), vec![1.0, 2.0]);
    // no such column, no header, or a single column: every column is a feature, and
    // nothing is said
    for (name, text, dim) in [
        ("none-named.csv", "a,b,c\n1,2,3\n4,5,6\n", 3),
        ("no-header.csv", "1,2,3\n4,5,6\n", 3),
        ("only-y.csv", "y\n1\n2\n", 1),
    ] {
        let d = parse(name, text, &by_name()).unwrap();
        assert_eq!((d.dim(), d.labels()), (dim, None), "{name}");
        assert!(notes_about(name).is_empty(), "{name}");
    }
    // without ByName (latent-data's default, and `--label-column none`), `class` is a feature
    let d = parse("kept.csv", "a,class\n1,0\n2,1\n", &CsvOptions::default()).unwrap();
    assert_eq!((d.dim(), d.labels()), (2, None));
}

#[test]
fn two_label_like_columns_are_refused_naming_both() {
    let err = parse("two.csv", "class,a,target\n0,1,1\n1,2,0\n", &by_name()).unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "two.csv",
        "`class`",
        "`target`",
        "--label-column NAME",
        "--label-column none",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // an explicit choice settles it: the other stays a feature
    let d = parse(
        "two-chosen.csv",
        "class,a,target\n0,1,1\n1,2,0\n",
        &CsvOptions {
            label: Some(LabelColumn::Name("target".into())),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.labels(), Some(&[1, 0][..]));
    assert_eq!(d.x().row(1).to_vec(), vec![1.0, 2.0]);
}

#[test]
fn a_text_column_that_is_not_the_label_column_is_refused_naming_it() {
    let err = parse(
        "species.csv",
        "a,species,b\n1,setosa,2\n3,virginica,4\n",
        &by_name(),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Format { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "species.csv",
        "line 2, column 2",
        "`setosa` is not a number",
        "column `species`",
        "--label-column species",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // without a header, by index
    let msg = parse("nohead.csv", "1,setosa,2\n3,virginica,4\n", &by_name())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("--label-column 1"), "{msg}");
}

#[test]
fn text_labels_become_classes_with_their_names() {
    let text = "a,b,class\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n7,8,setosa\n";
    let d = parse("iris.csv", text, &by_name()).unwrap();
    assert_eq!(d.labels(), Some(&[2, 0, 1, 0][..]));
    assert_eq!(
        d.class_names().unwrap(),
        &["setosa", "versicolor", "virginica"]
    );
    // an explicit column, and a header-less file whose label column is text in every row
    // (it alone does not make the first row a header)
    let d = parse(
        "iris-nohead.csv",
        "1,2,b\n3,4,a\n5,6,b\n",
        &CsvOptions {
            label: Some(LabelColumn::Last),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.n(), 3);
    assert_eq!(d.labels(), Some(&[1, 0, 1][..]));
    assert_eq!(d.class_names().unwrap(), &["a", "b"]);
    // numbers stay numbers, with no names; fractions are still refused
    let d = parse("num.csv", "a,class\n1,7\n2,3\n", &by_name()).unwrap();
    assert_eq!((d.labels(), d.class_names()), (Some(&[7, 3][..]), None));
    let msg = parse("frac.csv", "a,class\n1,0.5\n2,3\n", &by_name())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("label `0.5`"), "{msg}");
    // an empty name is refused
    let msg = parse("empty-label.csv", "a,class\n1,x\n2,\n", &by_name())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 3, column 2: empty label"), "{msg}");
    // a header is still found above numeric rows
    let d = parse(
        "head.csv",
        "a,b\n1,2\n",
        &CsvOptions {
            header: Header::Auto,
            label: None,
        },
    )
    .unwrap();
    assert_eq!(d.n(), 1);
}

fn ints(values: &[i64], size: usize) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| v.to_le_bytes()[..size].to_vec())
        .collect()
}

#[test]
fn npy_labels_files_of_every_integer_width() {
    let dir = tempfile::tempdir().unwrap();
    let values = [0i64, 2, 1, 2];
    for (descr, size) in [
        ("<i8", 8),
        ("<i4", 4),
        ("<i2", 2),
        ("|i1", 1),
        ("|u1", 1),
        ("<u2", 2),
        ("<u4", 4),
        ("<u8", 8),
    ] {
        for shape in ["(4,)", "(4, 1)"] {
            let p = write(
                dir.path(),
                "l.npy",
                &npy_bytes(descr, shape, &ints(&values, size)),
            );
            let l = labels::read(&p).unwrap_or_else(|e| panic!("{descr} {shape}: {e}"));
            assert_eq!(l.values, vec![0, 2, 1, 2], "{descr} {shape}");
            assert_eq!(l.names, None);
        }
    }
    // floats holding integers
    let f: Vec<u8> = [0.0f64, 2.0, 1.0, 2.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = write(dir.path(), "f.npy", &npy_bytes("<f8", "(4,)", &f));
    assert_eq!(labels::read(&p).unwrap().values, vec![0, 2, 1, 2]);
    // refused, naming the file and the row
    for (name, descr, shape, data, cause) in [
        (
            "neg.npy",
            "<i8",
            "(2,)",
            ints(&[1, -1], 8),
            "row 1: label -1",
        ),
        (
            "frac.npy",
            "<f4",
            "(2,)",
            [0.0f32, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect(),
            "row 1: label 1.5",
        ),
        (
            "wide.npy",
            "<i4",
            "(2, 2)",
            ints(&[0, 1, 2, 3], 4),
            "a labels file is (N,) or (N, 1)",
        ),
        (
            "big.npy",
            "<u8",
            "(1,)",
            ints(&[1 << 40], 8),
            "not a non-negative integer below 2^32",
        ),
    ] {
        let p = write(dir.path(), name, &npy_bytes(descr, shape, &data));
        let msg = labels::read(&p).unwrap_err().to_string();
        assert!(msg.contains(name) && msg.contains(cause), "{msg}");
    }
}

#[test]
fn csv_labels_files_numbers_or_names_with_an_optional_header() {
    let dir = tempfile::tempdir().unwrap();
    for (text, values, names, header) in [
        ("1\n0\n1\n", vec![1, 0, 1], None, None),
        ("label\n1\n0\n1\n", vec![1, 0, 1], None, Some("label")),
        (
            "species\nb\na\nb\n",
            vec![1, 0, 1],
            Some(vec!["a", "b"]),
            Some("species"),
        ),
        ("b\na\nb\n", vec![1, 0, 1], Some(vec!["a", "b"]), None),
        // a name found nowhere else above names that repeat: a header
        (
            "kind\nb\na\nb\na\n",
            vec![1, 0, 1, 0],
            Some(vec!["a", "b"]),
            Some("kind"),
        ),
    ] {
        let p = write(dir.path(), "l.csv", text.as_bytes());
        let l = labels::read(&p).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(l.values, values, "{text:?}");
        assert_eq!(
            l.names,
            names.map(|n| n.into_iter().map(String::from).collect()),
            "{text:?}"
        );
        assert_eq!(l.header.as_deref(), header, "{text:?}");
    }
    let p = write(dir.path(), "two.csv", b"a,b\n1,2\n");
    let msg = labels::read(&p).unwrap_err().to_string();
    assert!(
        msg.contains("two.csv") && msg.contains("one column"),
        "{msg}"
    );
    let p = write(dir.path(), "labels.bin", b"1\n");
    let msg = labels::read(&p).unwrap_err().to_string();
    assert!(msg.contains("labels.bin") && msg.contains(".npy"), "{msg}");
}

#[test]
fn a_labels_file_gives_any_data_labels_and_its_row_count_must_match() {
    let dir = tempfile::tempdir().unwrap();
    // integer NPY data (the swiss roll of the issue, as int64 and int32)
    let x: Vec<i64> = (0..12).collect();
    for (descr, size) in [("<i8", 8), ("<i4", 4)] {
        let data = write(
            dir.path(),
            "roll.npy",
            &npy_bytes(descr, "(6, 2)", &ints(&x, size)),
        );
        let d = npy::read(&data).unwrap();
        assert_eq!(d.x().row(5).to_vec(), vec![10.0, 11.0], "{descr}");
        assert_eq!(d.range(), None, "{descr}: integers have no known range");
        let lab = write(
            dir.path(),
            "roll-labels.npy",
            &npy_bytes(descr, "(6,)", &ints(&[0, 0, 1, 1, 2, 2], size)),
        );
        let spec = DataSpec::parse(data.to_str().unwrap()).unwrap();
        let opts = LoadOptions {
            labels: Some(lab.clone()),
            ..Default::default()
        };
        let d = spec.load(&opts).unwrap();
        assert_eq!(d.labels(), Some(&[0, 0, 1, 1, 2, 2][..]), "{descr}");
        // the streamed rows are the same, with no labels
        assert!(spec.stream(&opts).unwrap().is_some());
    }
    let data = dir.path().join("roll.npy");
    let short = write(dir.path(), "short.csv", b"class\na\nb\n");
    let err = DataSpec::parse(data.to_str().unwrap())
        .unwrap()
        .load(&LoadOptions {
            labels: Some(short),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, DataError::Invalid { .. }), "{err:?}");
    let msg = err.to_string();
    for part in [
        "short.csv",
        "holds 2 labels",
        "header row `class`",
        "roll.npy",
        "has 6 rows",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // text labels for a CSV: the file's names replace the data's label column
    let table = write(dir.path(), "t.csv", b"a,b,class\n1,2,0\n3,4,1\n");
    let names = write(dir.path(), "names.csv", b"y\nsmall\nlarge\n");
    let d = DataSpec::parse(table.to_str().unwrap())
        .unwrap()
        .load(&LoadOptions {
            csv: by_name(),
            labels: Some(names.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d.dim(), 2);
    assert_eq!(d.labels(), Some(&[1, 0][..]));
    assert_eq!(d.class_names().unwrap(), &["large", "small"]);
    // but a label column chosen explicitly and a labels file are one too many
    let err = DataSpec::parse(table.to_str().unwrap())
        .unwrap()
        .load(&LoadOptions {
            csv: CsvOptions {
                label: Some(LabelColumn::Last),
                ..Default::default()
            },
            labels: Some(names),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
    // a name found by name is accepted for data that are not CSV (it finds nothing)
    let d = DataSpec::parse("digits")
        .unwrap()
        .load(&LoadOptions {
            csv: by_name(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d.dim(), 64);
}

/// Wine-like rows: 3 classes, 4 features, the last about 1000 times the others.
fn wine_like(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 4), |(i, j)| {
        let t = i as f32;
        let c = (i % 3) as f32;
        let v = (t * 0.37 + j as f32).sin() + c;
        if j == 3 { 750.0 + 300.0 * v } else { v }
    });
    Dataset::new("wine-like", x).unwrap()
}

#[test]
fn auto_scaling_standardizes_tabular_data_and_keeps_images_as_they_were() {
    let ds = wine_like(90);
    let pre = Preprocess::fit(&ds, ScaleChoice::Auto, Binarize::None).unwrap();
    let Scaling::Standardize { mean, std } = &pre.scaling else {
        panic!("auto on tabular data: {pre:?}")
    };
    assert!(std[3] > 100.0 && std[0] < 2.0, "{std:?}");
    let out = pre.apply(ds.clone()).unwrap();
    for j in 0..4 {
        let col = out.x().column(j).to_owned();
        let m = col.mean().unwrap();
        let s = col.std(1.0);
        assert!(
            m.abs() < 1e-4 && (s - 1.0).abs() < 1e-3,
            "feature {j}: {m} {s}"
        );
    }
    // inverted on output
    let back = pre.invert(out.x());
    assert!(
        back.iter()
            .zip(ds.x())
            .all(|(a, b)| (a - b).abs() <= 1e-3 * b.abs().max(1.0))
    );
    assert_eq!(mean.len(), 4);
    // a constant feature is left centred
    let c = Dataset::new(
        "c",
        Array2::from_shape_fn((5, 2), |(i, j)| (i * j) as f32 + 3.0),
    )
    .unwrap();
    let pre = Preprocess::fit(&c, ScaleChoice::Auto, Binarize::None).unwrap();
    let out = pre.apply(c).unwrap();
    assert!(out.x().column(0).iter().all(|&v| v == 0.0));

    // the rules, one by one: a known range (8-bit data, the digits) is unit-scaled
    let r = Some(ValueRange {
        min: 0.0,
        max: 16.0,
    });
    let image = Some(ImageShape::gray(2, 2));
    assert_eq!(
        auto_scaling(r, None, Binarize::None),
        Some(Scaling::Unit {
            min: 0.0,
            max: 16.0
        })
    );
    assert_eq!(
        auto_scaling(None, image, Binarize::None),
        Some(Scaling::None)
    );
    assert_eq!(
        auto_scaling(None, None, Binarize::Threshold { at: 0.5 }),
        Some(Scaling::None)
    );
    assert_eq!(auto_scaling(None, None, Binarize::None), None);
    // the digits: exactly today's ÷16
    let digits = latent_data::embedded::digits().unwrap();
    assert_eq!(
        Preprocess::fit(&digits, ScaleChoice::Auto, Binarize::None)
            .unwrap()
            .scaling,
        Scaling::Unit {
            min: 0.0,
            max: 16.0
        }
    );
}

#[test]
fn unscaled_features_of_very_different_ranges_are_announced() {
    notes::set_sink(record);
    let x = wine_like(30).into_x();
    let ds = Dataset::new("spread-wide.csv", x.clone()).unwrap();
    let pre = Preprocess::fit(&ds, ScaleChoice::None, Binarize::None).unwrap();
    assert_eq!(pre.scaling, Scaling::None);
    let said = notes_about("spread-wide.csv");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("ranges differ by") && said[0].contains("feature 3"),
        "{said:?}"
    );
    // similar ranges, or auto: nothing to say
    let narrow = Dataset::new(
        "spread-narrow.csv",
        x.slice(ndarray::s![.., ..3]).to_owned(),
    )
    .unwrap();
    Preprocess::fit(&narrow, ScaleChoice::None, Binarize::None).unwrap();
    let auto = Dataset::new("spread-auto.csv", x).unwrap();
    Preprocess::fit(&auto, ScaleChoice::Auto, Binarize::None).unwrap();
    assert!(notes_about("spread-narrow.csv").is_empty());
    assert!(notes_about("spread-auto.csv").is_empty());
}

#[test]
fn streamed_standardization_equals_the_whole_data_one() {
    let ds = wine_like(1000);
    let whole = Preprocess::fit(&ds, ScaleChoice::Standardize, Binarize::None).unwrap();
    for batch in [1, 7, 128, 5000] {
        let streamed = standardize_rows(&mut ArrayRows::new(ds.x()), batch).unwrap();
        let (
            Scaling::Standardize { mean: m1, std: s1 },
            Scaling::Standardize { mean: m2, std: s2 },
        ) = (&whole.scaling, &streamed)
        else {
            panic!("{streamed:?}")
        };
        for (a, b) in m1.iter().chain(s1).zip(m2.iter().chain(s2)) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{batch}: {a} {b}");
        }
    }
}
