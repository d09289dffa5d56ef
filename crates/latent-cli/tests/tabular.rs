//! Tabular data end to end (issue 17): a wine-like CSV with a text `class` column and one
//! feature about 1000 times the others, fitted with the default flags by every family; the
//! label column found by name, refused when ambiguous, kept as a feature on request; an NPY
//! array with a labels file that later commands reuse from the run.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::Dir;

const CLASSES: [&str; 3] = ["barolo", "grignolino", "barbera"];

/// A small deterministic generator (the tests need no random crate of their own).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Wine-like rows: 13 features of the scales of scikit-learn's wine data (the last, a
/// proline-like column, about 1000 times the smallest), three classes named in a last
/// `class` column of text.
fn wine_like_csv(rows: usize, label_header: &str) -> String {
    let means = [
        [
            13.7, 2.0, 2.4, 17.0, 106.0, 2.8, 2.9, 0.29, 1.9, 5.5, 1.06, 3.1, 1115.0,
        ],
        [
            12.3, 1.9, 2.2, 20.0, 94.0, 2.2, 2.0, 0.36, 1.6, 3.1, 1.06, 2.8, 520.0,
        ],
        [
            13.1, 3.3, 2.4, 21.0, 99.0, 1.7, 0.8, 0.45, 1.15, 7.4, 0.68, 1.7, 630.0,
        ],
    ];
    let sds = [
        0.5, 0.8, 0.25, 3.0, 12.0, 0.5, 0.6, 0.1, 0.5, 1.5, 0.2, 0.5, 250.0,
    ];
    let mut rng = Lcg(17);
    let mut text = String::from(
        "alcohol,malic_acid,ash,alcalinity,magnesium,phenols,flavanoids,nonflavanoid,\
         proanthocyanins,color,hue,od280,proline,",
    );
    text.push_str(label_header);
    text.push('\n');
    for i in 0..rows {
        let c = i % 3;
        for j in 0..13 {
            let v = means[c][j] + sds[j] * rng.normal();
            text.push_str(&format!("{v:.3},"));
        }
        text.push_str(CLASSES[c]);
        text.push('\n');
    }
    text
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// `train_loss` of every epoch of a neural run.
fn losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("line")["train_loss"]
                .as_f64()
                .expect("train_loss")
        })
        .collect()
}

/// How many of the three class colours of a map can be told apart: pixels bucketed by hue
/// among the clearly coloured ones (grey axes and text are left out).
fn hues(png_path: &Path) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    assert!(channels >= 3, "a colour map: {:?}", info.color_type);
    let mut buckets = [0usize; 12];
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let (r, g, b) = (f64::from(px[0]), f64::from(px[1]), f64::from(px[2]));
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        if max - min < 80.0 {
            continue;
        }
        let h = if max == r {
            ((g - b) / (max - min)).rem_euclid(6.0)
        } else if max == g {
            (b - r) / (max - min) + 2.0
        } else {
            (r - g) / (max - min) + 4.0
        };
        buckets[((h / 6.0 * 12.0) as usize).min(11)] += 1;
    }
    buckets.iter().filter(|&&n| n >= 20).count()
}

fn write_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.extend_from_slice(data);
    std::fs::write(path, v).expect("write npy");
}

#[test]
fn a_wine_like_csv_fits_every_family_with_the_default_flags() {
    let d = Dir::new();
    std::fs::write(d.path("wine.csv"), wine_like_csv(178, "class")).expect("write");

    // PCA: the class column is the labels (said once), the features are standardized
    let out = d.latent(&[
        "fit",
        "--data",
        "wine.csv",
        "--latent-dim",
        "2",
        "--out",
        "pca",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("using column `class` as labels").count(),
        1,
        "{err}"
    );
    assert!(err.contains("--label-column none"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("13 → 2"), "{stdout}");
    let config = json_file(&d.path("pca/config.json"));
    assert_eq!(config["data"]["dim"], serde_json::json!(13));
    assert_eq!(
        config["data"]["class_names"],
        serde_json::json!(["barbera", "barolo", "grignolino"])
    );
    assert_eq!(
        config["preprocess"]["scaling"]["kind"],
        serde_json::json!("standardize")
    );
    // standardized: two of 13 unit-variance features explain a fair share, not the
    // proline column's ~100 %
    let explained = config["summary"]["explained_variance_ratio_sum"]
        .as_f64()
        .expect("explained");
    assert!(explained > 0.3 && explained < 0.9, "{explained}");

    // AE and VAE with the default flags: finite, decreasing losses
    for model in ["ae", "vae"] {
        d.ok(&[
            "fit",
            "--model",
            model,
            "--data",
            "wine.csv",
            "--latent-dim",
            "2",
            "--out",
            model,
        ]);
        let l = losses(&d.path(model));
        // a few steps an epoch: the default trains enough epochs for 750 steps
        let config = json_file(&d.path(&format!("{model}/config.json")));
        let (rows, batch) = (
            config["data"]["n"].as_u64().expect("rows") as usize,
            config["model"]["train"]["batch_size"]
                .as_u64()
                .expect("batch") as usize,
        );
        let steps = rows.div_ceil(batch);
        assert!(steps <= 3, "{rows} rows, batch {batch}");
        assert_eq!(l.len(), latent::fit::MIN_DEFAULT_STEPS.div_ceil(steps));
        assert!(l.iter().all(|v| v.is_finite()), "{model}: {l:?}");
        assert!(l[l.len() - 1] < l[0], "{model}: the loss decreases: {l:?}");
        // per example, over 13 standardized features: tens of nats, not 1e27
        assert!(l[0] < 100.0, "{model}: {l:?}");
    }

    // the same VAE on the raw values (what `auto` did before): the warning, and a loss
    // orders of magnitude above
    let out = d.latent(&[
        "fit",
        "--model",
        "vae",
        "--data",
        "wine.csv",
        "--latent-dim",
        "2",
        "--scale",
        "none",
        "--out",
        "raw",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ranges differ by") && err.contains("feature 12"),
        "{err}"
    );
    if out.status.success() {
        let raw = losses(&d.path("raw"));
        let scaled = losses(&d.path("vae"));
        assert!(
            raw.iter().any(|v| !v.is_finite()) || raw[9] > 100.0 * scaled[9],
            "raw {raw:?} vs standardized {scaled:?}"
        );
    }

    // decoded rows come back in the data's own units (the standardization is inverted)
    d.ok(&[
        "encode",
        "--run",
        "vae",
        "--data",
        "wine.csv",
        "--out",
        "codes.npy",
    ]);
    d.ok(&[
        "decode",
        "--run",
        "vae",
        "--codes",
        "codes.npy",
        "--out",
        "dec.npy",
    ]);
    let dec = latent_data::npy::read(&d.path("dec.npy"))
        .expect("decoded")
        .into_x();
    let proline = dec.column(12).mean().expect("mean");
    let hue = dec.column(10).mean().expect("mean");
    assert!(proline > 300.0 && proline < 1500.0, "{proline}");
    assert!(hue > 0.3 && hue < 2.0, "{hue}");

    // the map colours the codes by class
    let out = d.latent(&[
        "map", "--run", "vae", "--data", "wine.csv", "--out", "map.png",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("mapped 178 codes"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(hues(&d.path("map.png")) >= 3, "three class colours");
}

#[test]
fn the_label_column_is_found_by_name_refused_when_ambiguous_or_kept_on_request() {
    let d = Dir::new();
    let fit = |data: &str, extra: &[&str], out: &str| {
        let mut args = vec!["fit", "--data", data, "--latent-dim", "2", "--out", out];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |args: &[String]| d.latent(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // two candidates
    std::fs::write(
        d.path("two.csv"),
        "a,b,target,class\n1,2,0,1\n3,5,1,0\n4,4,1,1\n6,1,0,0\n",
    )
    .expect("write");
    let args = fit("two.csv", &[], "r");
    let err = d.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 1);
    for part in ["two.csv", "`target`", "`class`", "--label-column NAME"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(err.lines().count() <= 2, "{err}");
    // … settled by naming one: the other stays a feature
    let out = run(&fit("two.csv", &["--label-column", "class"], "r"));
    assert!(out.status.success());
    assert_eq!(
        json_file(&d.path("r/config.json"))["data"]["dim"],
        serde_json::json!(3)
    );

    // a text column that is not the label column
    std::fs::write(
        d.path("species.csv"),
        "a,b,species\n1,2,setosa\n3,5,virginica\n4,4,setosa\n",
    )
    .expect("write");
    let err = d.fails(
        &fit("species.csv", &[], "s")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        1,
    );
    for part in [
        "species.csv",
        "`setosa` is not a number",
        "column `species`",
        "--label-column species",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    // … which the hint's flag reads as class names
    let out = run(&fit("species.csv", &["--label-column", "species"], "s"));
    assert!(out.status.success());
    assert_eq!(
        json_file(&d.path("s/config.json"))["data"]["class_names"],
        serde_json::json!(["setosa", "virginica"])
    );

    // `none`: a numeric `class` column stays a feature, and nothing is said
    std::fs::write(d.path("num.csv"), "a,b,class\n1,2,0\n3,5,1\n4,4,2\n6,1,0\n").expect("write");
    let out = run(&fit("num.csv", &["--label-column", "none"], "n"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("as labels"), "{err}");
    let config = json_file(&d.path("n/config.json"));
    assert_eq!(config["data"]["dim"], serde_json::json!(3));
    // later commands given the same data read it as the run did (three features)
    d.ok(&[
        "encode", "--run", "n", "--data", "num.csv", "--out", "c.npy",
    ]);
    // without `none`, the same file has two features and labels
    let out = run(&fit("num.csv", &[], "m"));
    assert!(out.status.success());
    assert_eq!(
        json_file(&d.path("m/config.json"))["data"]["dim"],
        serde_json::json!(2)
    );
}

#[test]
fn an_npy_array_takes_a_labels_file_that_later_commands_reuse() {
    let d = Dir::new();
    // a swiss roll (3 columns of float32) in three arms of the roll, labelled 0, 1, 2
    let n = 300usize;
    let mut values = Vec::with_capacity(n * 3);
    let mut classes = Vec::with_capacity(n);
    for i in 0..n {
        let t = 1.5 * std::f32::consts::PI * (1.0 + 2.0 * i as f32 / n as f32);
        let h = ((i * 37) % 101) as f32 / 5.0;
        values.extend([t * t.cos(), h, t * t.sin()]);
        classes.push((3 * i / n) as i64);
    }
    let x = ndarray::Array2::from_shape_vec((n, 3), values).expect("shape");
    latent_data::npy::write_f32(&d.path("roll.npy"), x.view()).expect("write");
    let i8: Vec<u8> = classes.iter().flat_map(|c| c.to_le_bytes()).collect();
    let i4: Vec<u8> = classes
        .iter()
        .flat_map(|&c| i32::try_from(c).unwrap().to_le_bytes())
        .collect();
    write_npy(&d.path("labels-i8.npy"), "<i8", &format!("({n},)"), &i8);
    write_npy(&d.path("labels-i4.npy"), "<i4", &format!("({n}, 1)"), &i4);
    write_npy(
        &d.path("short.npy"),
        "<i8",
        &format!("({},)", n - 1),
        &i8[..(n - 1) * 8],
    );

    for (labels, out) in [("labels-i8.npy", "r8"), ("labels-i4.npy", "r4")] {
        d.ok(&[
            "fit",
            "--model",
            "ae",
            "--data",
            "roll.npy",
            "--labels",
            labels,
            "--latent-dim",
            "2",
            "--epochs",
            "3",
            "--hidden",
            "32",
            "--out",
            out,
        ]);
        let config = json_file(&d.path(&format!("{out}/config.json")));
        assert_eq!(config["data"]["args"]["labels"], serde_json::json!(labels));
        assert_eq!(
            config["preprocess"]["scaling"]["kind"],
            serde_json::json!("standardize")
        );
    }
    // the map finds the labels in the run: three colours without --labels
    d.ok(&[
        "map", "--run", "r8", "--data", "roll.npy", "--out", "map.png",
    ]);
    assert!(hues(&d.path("map.png")) >= 3, "three class colours");
    // and eval trains its classifier on them
    let out = d.latent(&[
        "eval",
        "--run",
        "r4",
        "--data",
        "roll.npy",
        "--json",
        "--samples",
        "50",
        "--continuity-points",
        "50",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        metrics["classifier_accuracy"].as_f64().is_some(),
        "{metrics}"
    );

    // a labels file of another length names both files and both counts
    let err = d.fails(
        &[
            "fit",
            "--data",
            "roll.npy",
            "--labels",
            "short.npy",
            "--latent-dim",
            "2",
            "--out",
            "bad",
        ],
        1,
    );
    for part in [
        "short.npy",
        &format!("{} labels", n - 1),
        "roll.npy",
        &format!("{n} rows"),
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(!d.path("bad").exists());

    // values that are probabilities, dynamically binarized: `auto` leaves them as they are
    let p = ndarray::Array2::from_shape_fn((n, 4), |(i, j)| ((i * (j + 3)) % 11) as f32 / 10.0);
    latent_data::npy::write_f32(&d.path("probs.npy"), p.view()).expect("write");
    d.ok(&[
        "fit",
        "--model",
        "vae",
        "--data",
        "probs.npy",
        "--dynamic-binarize",
        "--latent-dim",
        "2",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--out",
        "probs",
    ]);
    assert_eq!(
        json_file(&d.path("probs/config.json"))["preprocess"]["scaling"]["kind"],
        serde_json::json!("none")
    );

    // integer data (int64) read as features
    let xi: Vec<u8> = (0..n as i64 * 2).flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&d.path("ints.npy"), "<i8", &format!("({n}, 2)"), &xi);
    d.ok(&[
        "fit",
        "--data",
        "ints.npy",
        "--labels",
        "labels-i8.npy",
        "--latent-dim",
        "1",
        "--out",
        "ints",
    ]);
}

#[test]
fn incremental_pca_standardizes_a_stream_as_the_exact_solver_does() {
    let d = Dir::new();
    let mut rng = Lcg(3);
    let x = ndarray::Array2::from_shape_fn((500, 6), |(_, j)| {
        let v = rng.normal() as f32;
        if j == 5 {
            800.0 + 300.0 * v
        } else {
            v * (1.0 + j as f32)
        }
    });
    latent_data::npy::write_f32(&d.path("wide.npy"), x.view()).expect("write");
    let mut explained = Vec::new();
    for solver in ["exact", "incremental"] {
        d.ok(&[
            "fit",
            "--data",
            "wide.npy",
            "--solver",
            solver,
            "--latent-dim",
            "3",
            "--out",
            solver,
        ]);
        let config = json_file(&d.path(&format!("{solver}/config.json")));
        assert_eq!(
            config["preprocess"]["scaling"]["kind"],
            serde_json::json!("standardize"),
            "{solver}"
        );
        explained.push(
            config["summary"]["explained_variance_ratio_sum"]
                .as_f64()
                .expect("explained"),
        );
    }
    assert!(
        (explained[0] - explained[1]).abs() < 1e-4,
        "exact {} vs incremental {}",
        explained[0],
        explained[1]
    );
    // standardized: about 3 of 6 equal variances, not the wide column's ~100 %
    assert!(explained[0] < 0.8, "{}", explained[0]);
}

/// A CSV file written by latent: its header and its rows, as text cells.
fn read_table(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect());
    let header = lines.next().expect("header");
    (header, lines.collect())
}

/// The mean of the column `name` of a table.
fn column_mean(header: &[String], rows: &[Vec<String>], name: &str) -> f64 {
    let j = header.iter().position(|h| h == name).expect("column");
    rows.iter()
        .map(|r| r[j].parse::<f64>().expect("number"))
        .sum::<f64>()
        / rows.len() as f64
}

const WINE_COLUMNS: [&str; 13] = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity",
    "magnesium",
    "phenols",
    "flavanoids",
    "nonflavanoid",
    "proanthocyanins",
    "color",
    "hue",
    "od280",
    "proline",
];

#[test]
fn decoded_rows_are_written_as_csv_and_npy_under_the_column_names_in_the_data_units() {
    let d = Dir::new();
    // the rows grouped by class, as many files are (the first rows all of one class)
    let text = wine_like_csv(90, "class");
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.sort_by_key(|l| l.rsplit(',').next().map(str::to_string));
    std::fs::write(
        d.path("wine.csv"),
        format!("{header}\n{}\n", lines.join("\n")),
    )
    .expect("write");
    d.ok(&[
        "fit",
        "--data",
        "wine.csv",
        "--latent-dim",
        "3",
        "--out",
        "pca",
    ]);
    // the run records the column names (not the label column's)
    assert_eq!(
        json_file(&d.path("pca/config.json"))["data"]["feature_names"],
        serde_json::json!(WINE_COLUMNS)
    );
    let names: Vec<String> = WINE_COLUMNS.iter().map(|s| s.to_string()).collect();

    // reconstruct: a spread over the classes, the rows' indices, the data's units
    let out = d.latent(&[
        "reconstruct",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--n",
        "6",
        "--out",
        "r.csv",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (h, rows) = read_table(&d.path("r.csv"));
    assert_eq!(h[..2], ["row", "label"]);
    assert_eq!(h[2..], names[..]);
    assert_eq!(rows.len(), 6);
    let classes: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(classes.len(), 3, "every class: {rows:?}");
    let shown: Vec<usize> = rows.iter().map(|r| r[0].parse().expect("row")).collect();
    assert!(shown.iter().all(|&i| i < 90), "{shown:?}");
    let proline = column_mean(&h, &rows, "proline");
    let hue = column_mean(&h, &rows, "hue");
    assert!(proline > 300.0 && proline < 1500.0, "{proline}");
    assert!(hue > 0.3 && hue < 2.0, "{hue}");
    // … and a table a person reads on the terminal
    assert!(stdout.contains("original → reconstruction"), "{stdout}");
    assert!(
        stdout.contains("alcohol") && stdout.contains("sq. error") && stdout.contains(" → "),
        "{stdout}"
    );
    assert!(stdout.contains("spread over 3 classes"), "{stdout}");
    // the same seed, the same rows; as NPY, 6 × 13 f32, the rows listed on stderr
    let out = d.latent(&[
        "reconstruct",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--rows",
        "6",
        "--out",
        "r.npy",
    ]);
    assert!(out.status.success());
    let listed = shown
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("rows shown: {listed}")), "{err}");
    let r = latent_data::npy::read(&d.path("r.npy"))
        .expect("npy")
        .into_x();
    assert_eq!(r.dim(), (6, 13));
    let (_, csv_rows) = read_table(&d.path("r.csv"));
    let first: f32 = csv_rows[0][14].parse().expect("proline");
    assert!((r[[0, 12]] - first).abs() <= 1e-3 * first.abs(), "{first}");
    // another seed, other rows
    d.ok(&[
        "reconstruct",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--n",
        "6",
        "--seed",
        "5",
        "--out",
        "r5.csv",
    ]);
    assert_ne!(read_table(&d.path("r5.csv")).1, rows);
    // a picture of rows that are not images: refused, saying what to write
    let err = d.fails(
        &[
            "reconstruct",
            "--run",
            "pca",
            "--data",
            "wine.csv",
            "--out",
            "r.png",
        ],
        1,
    );
    assert!(err.contains(".csv or .npy"), "{err}");
    assert!(!d.path("r.png").exists());

    // decode: every code, named columns, the data's units
    d.ok(&[
        "encode",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--out",
        "codes.npy",
    ]);
    d.ok(&[
        "decode",
        "--run",
        "pca",
        "--codes",
        "codes.npy",
        "--out",
        "dec.csv",
    ]);
    let (h, rows) = read_table(&d.path("dec.csv"));
    assert_eq!(h, names);
    assert_eq!(rows.len(), 90);
    let proline = column_mean(&h, &rows, "proline");
    assert!(proline > 500.0 && proline < 1000.0, "{proline}");
    let err = d.fails(
        &[
            "decode",
            "--run",
            "pca",
            "--codes",
            "codes.npy",
            "--out",
            "dec.png",
        ],
        1,
    );
    assert!(err.contains(".csv or .npy"), "{err}");

    // sample and interpolate
    d.ok(&["sample", "--run", "pca", "--n", "5", "--out", "s.csv"]);
    let (h, rows) = read_table(&d.path("s.csv"));
    assert_eq!(h, names);
    assert_eq!(rows.len(), 5);
    let proline = column_mean(&h, &rows, "proline");
    assert!(proline > 200.0 && proline < 1800.0, "{proline}");
    d.ok(&["sample", "--run", "pca", "--n", "5", "--out", "s.npy"]);
    let s = latent_data::npy::read(&d.path("s.npy"))
        .expect("npy")
        .into_x();
    assert_eq!(s.dim(), (5, 13));
    d.ok(&[
        "interpolate",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--from",
        "0,1",
        "--to",
        "89,88",
        "--steps",
        "4",
        "--out",
        "i.csv",
    ]);
    let (h, rows) = read_table(&d.path("i.csv"));
    assert_eq!(h[..3], ["from", "to", "t"]);
    assert_eq!(h[3..], names[..]);
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0][..3], ["0", "89", "0"]);
    assert_eq!(rows[7][..3], ["1", "88", "1"]);
    let proline = column_mean(&h, &rows, "proline");
    assert!(proline > 200.0 && proline < 1800.0, "{proline}");
    d.ok(&[
        "interpolate",
        "--run",
        "pca",
        "--data",
        "wine.csv",
        "--from",
        "0",
        "--to",
        "89",
        "--steps",
        "4",
        "--out",
        "i.npy",
    ]);
    let i = latent_data::npy::read(&d.path("i.npy"))
        .expect("npy")
        .into_x();
    assert_eq!(i.dim(), (4, 13));
    // traversals: `dim` and `value` first; PCA's origin decodes to the data's mean
    d.ok(&[
        "traverse", "--run", "pca", "--dims", "0,1", "--range", "2", "--steps", "3", "--out",
        "t.csv",
    ]);
    let (h, rows) = read_table(&d.path("t.csv"));
    assert_eq!(h[..2], ["dim", "value"]);
    assert_eq!(h[2..], names[..]);
    let lead: Vec<[&str; 2]> = rows.iter().map(|r| [&*r[0], &*r[1]]).collect();
    assert_eq!(
        lead,
        [
            ["0", "-2"],
            ["0", "0"],
            ["0", "2"],
            ["1", "-2"],
            ["1", "0"],
            ["1", "2"]
        ]
    );
    let (wh, wine) = read_table(&d.path("wine.csv"));
    let mean = column_mean(&wh, &wine, "proline");
    let at_origin = column_mean(&h, &rows[1..2], "proline");
    assert!(
        (at_origin - mean).abs() < 1e-3 * mean,
        "{at_origin} vs {mean}"
    );
    assert_ne!(rows[0][2..], rows[2][2..]);

    // every file is recorded as latent's: replaced with --force, refused without
    let manifest = std::fs::read_to_string(d.path(".latent-outputs")).expect("manifest");
    for f in [
        "r.csv", "r.npy", "dec.csv", "s.csv", "s.npy", "i.csv", "i.npy", "t.csv",
    ] {
        assert!(manifest.contains(&format!("\"{f}\"")), "{f}: {manifest}");
    }
    let again = [
        "decode",
        "--run",
        "pca",
        "--codes",
        "codes.npy",
        "--out",
        "dec.csv",
    ];
    assert!(d.fails(&again, 1).contains("already exists"));
    let mut forced = again.to_vec();
    forced.push("--force");
    d.ok(&forced);

    // data without a header: columns x0 … x12
    std::fs::write(
        d.path("plain.csv"),
        text.lines()
            .skip(1)
            .map(|l| {
                let mut cells: Vec<&str> = l.split(',').collect();
                cells.pop();
                cells.join(",") + "\n"
            })
            .collect::<String>(),
    )
    .expect("write");
    d.ok(&[
        "fit",
        "--data",
        "plain.csv",
        "--latent-dim",
        "2",
        "--out",
        "plain",
    ]);
    d.ok(&["sample", "--run", "plain", "--n", "2", "--out", "p.csv"]);
    let (h, _) = read_table(&d.path("p.csv"));
    assert_eq!(h.first().map(String::as_str), Some("x0"));
    assert_eq!(h.last().map(String::as_str), Some("x12"));
}

#[test]
fn decode_refuses_a_png_grid_nobody_could_open() {
    let d = Dir::new();
    d.ok(&[
        "fit",
        "--data",
        "digits",
        "--latent-dim",
        "2",
        "--out",
        "run",
    ]);
    let codes =
        ndarray::Array2::from_shape_fn((5000, 2), |(i, j)| ((i * (j + 1)) % 7) as f32 - 3.0);
    latent_data::npy::write_f32(&d.path("many.npy"), codes.view()).expect("write");
    let err = d.fails(
        &[
            "decode", "--run", "run", "--codes", "many.npy", "--out", "big.png",
        ],
        1,
    );
    for part in [
        "5000 codes",
        "PNG grid",
        ".npy or .csv",
        "decode fewer codes",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(!d.path("big.png").exists());
    // the same codes as an array or a table: no such limit
    d.ok(&[
        "decode", "--run", "run", "--codes", "many.npy", "--out", "big.npy",
    ]);
    let dec = latent_data::npy::read(&d.path("big.npy")).expect("npy");
    assert_eq!((dec.n(), dec.dim()), (5000, 64));
    d.ok(&[
        "decode", "--run", "run", "--codes", "many.npy", "--out", "big.csv",
    ]);
    let (h, rows) = read_table(&d.path("big.csv"));
    assert_eq!((h.len(), rows.len()), (64, 5000));
    // a grid of a reasonable size is drawn
    let some = codes.slice(ndarray::s![..1000, ..]);
    latent_data::npy::write_f32(&d.path("some.npy"), some).expect("write");
    d.ok(&[
        "decode",
        "--run",
        "run",
        "--codes",
        "some.npy",
        "--out",
        "ok.png",
        "--columns",
        "50",
    ]);
    assert!(d.path("ok.png").is_file());
}

/// The real thing: scikit-learn's wine data as a user has it (13 named features, a text
/// `class` column; written by `scripts/save-wine-csv.py`). With the default flags PCA, the
/// AE and the VAE fit and converge; reconstructions, samples and decoded codes are written as
/// CSV under the data's column names; the map is coloured by the three classes; `compare`
/// and its report run end to end.
#[test]
fn the_wine_data_end_to_end_with_the_default_flags() {
    let d = Dir::new();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wine.csv"),
        d.path("wine.csv"),
    )
    .expect("copy the fixture");
    let header = std::fs::read_to_string(d.path("wine.csv")).expect("read");
    let features: Vec<&str> = header.lines().next().expect("header").split(',').collect();
    let features = &features[..13];
    for model in ["pca", "ae", "vae"] {
        d.ok(&[
            "fit",
            "--model",
            model,
            "--data",
            "wine.csv",
            "--latent-dim",
            "2",
            "--out",
            model,
        ]);
    }
    for model in ["ae", "vae"] {
        let l = losses(&d.path(model));
        assert!(l.iter().all(|v| v.is_finite()), "{model}: {l:?}");
        assert!(l[l.len() - 1] < l[0], "{model}: the loss decreases: {l:?}");
    }
    let config = json_file(&d.path("vae/config.json"));
    assert_eq!(
        config["data"]["class_names"],
        serde_json::json!(["class_0", "class_1", "class_2"])
    );

    // decoded rows as CSV, under the data's own column names
    d.ok(&[
        "reconstruct",
        "--run",
        "vae",
        "--data",
        "wine.csv",
        "--out",
        "recon.csv",
    ]);
    d.ok(&["sample", "--run", "vae", "--n", "5", "--out", "samples.csv"]);
    d.ok(&[
        "encode",
        "--run",
        "vae",
        "--data",
        "wine.csv",
        "--out",
        "codes.npy",
    ]);
    d.ok(&[
        "decode",
        "--run",
        "vae",
        "--codes",
        "codes.npy",
        "--out",
        "decoded.csv",
    ]);
    for file in ["recon.csv", "samples.csv", "decoded.csv"] {
        let (head, rows) = read_table(&d.path(file));
        for name in features {
            assert!(
                head.iter().any(|h| h == name),
                "{file}: no column {name}: {head:?}"
            );
        }
        assert!(!rows.is_empty(), "{file}");
        // proline in its own units (hundreds to ~1,700), not standardized
        let proline = column_mean(&head, &rows, "proline");
        assert!(
            proline > 200.0 && proline < 2000.0,
            "{file}: proline {proline}"
        );
    }
    let (_, rows) = read_table(&d.path("decoded.csv"));
    assert_eq!(rows.len(), 178);

    // the map, coloured by the text classes
    d.ok(&[
        "map", "--run", "vae", "--data", "wine.csv", "--out", "map.png",
    ]);
    assert!(hues(&d.path("map.png")) >= 3, "three class colours");

    // compare and its report
    d.ok(&[
        "compare",
        "--data",
        "wine.csv",
        "--latent-dims",
        "2",
        "--epochs",
        "30",
        "--out",
        "cmp",
    ]);
    let summary = json_file(&d.path("cmp/summary.json"));
    let records = summary["records"].as_array().expect("records");
    for family in ["pca", "linear-ae", "ae", "vae"] {
        assert!(
            records.iter().any(|r| r["model"] == family),
            "{family} in {records:?}"
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r["recon_mse"].as_f64().is_some_and(f64::is_finite)),
        "{records:?}"
    );
    let report = std::fs::read_to_string(d.path("cmp/report.html")).expect("report");
    assert!(report.contains("wine.csv"), "the report names its data");
    // not images: the decodings feature by feature, under the column names, in the data's
    // units (the PCA at K = 2 keeps some of every feature: its error is below the spread)
    assert!(
        report.contains("Decoded rows, feature by feature"),
        "the feature section"
    );
    assert!(d.path("cmp/images/features-k2.png").is_file());
    for name in features {
        assert!(report.contains(name), "{name} in the feature table");
    }
    assert!(report.contains("VAE β = 1: samples mean ± sd"));
    assert!(!report.contains("Interpolations between test images"));
}
