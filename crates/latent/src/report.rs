//! The HTML report of `latent compare`: figures drawn from the fitted models (in memory, and
//! saved in `images/` beside the report), tables of the figures in the [`CompareSummary`],
//! and a plain-language reading of what they show — each of the chapter's claims checked
//! against the numbers, and said to fail where it fails.

use std::path::Path;

use latent_core::Family;
use latent_report::{Block, GridLabels, Report, RgbImage, Scale, Section};

use crate::compare::{CompareSummary, Record};
use crate::eval::Bench;
use crate::figures;
use crate::run::{Model, RunConfig};
use crate::sampler::LatentSource;
use crate::{Error, Result};

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    }
}

fn count(v: Option<usize>) -> String {
    v.map_or("–".into(), |v| v.to_string())
}

/// A figure, saved as `images/NAME` and embedded.
fn figure(out: &Path, name: &str, image: &RgbImage) -> Result<Vec<u8>> {
    let bytes = image.png_bytes()?;
    let path = out.join("images").join(name);
    latent_core::fsutil::atomic_write_bytes(&path, &bytes)?;
    Ok(bytes)
}

/// A line plot with axes of `scales` (x, y), saved and embedded.
fn plot(
    out: &Path,
    name: &str,
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
    axes: (&str, &str),
    scales: (Scale, Scale),
) -> Result<Vec<u8>> {
    let refs: Vec<latent_report::Series<'_>> = series
        .iter()
        .map(|(n, p)| (n.as_str(), p.clone()))
        .collect();
    let img = latent_report::line_plot_scaled(&refs, title, axes, scales)?;
    figure(out, name, &img)
}

/// The fitted models of the comparison, index for index with its records.
pub struct Fits<'a> {
    /// `(config, model)` of each record.
    pub models: &'a [(RunConfig, Model)],
    /// The bench they were measured on.
    pub bench: &'a Bench,
}

/// Draw the figures (into `out/images` too) and assemble the report.
///
/// # Errors
/// Drawing failures.
pub fn build(
    out: &Path,
    summary: &CompareSummary,
    fits: &Fits<'_>,
    command: &str,
) -> Result<Report> {
    let mut sections = Vec::new();
    let dims = &summary.latent_dims;
    let main_models = [Family::Pca, Family::LinearAe, Family::Ae, Family::Vae];

    // ---- the reading first: what a reader came for
    sections.push(reading(summary));

    // ---- reconstruction error against latent dimension
    let mut s = Section::new("Reconstruction error against latent dimension");
    let series: Vec<(String, Vec<(f64, f64)>)> = main_models
        .iter()
        .filter_map(|&m| {
            let pts: Vec<(f64, f64)> = dims
                .iter()
                .filter_map(|&k| {
                    let e = summary.main_model(m, k)?;
                    Some((k as f64, e.metrics.recon_mse))
                })
                .collect();
            let name = match m {
                Family::Vae => "VAE (β = 1)",
                other => other.label(),
            };
            (!pts.is_empty()).then(|| (name.to_string(), pts))
        })
        .collect();
    s.push(Block::Image {
        png: plot(
            out,
            "recon-vs-dim.png",
            &series,
            "Test reconstruction error",
            ("latent dimension K", "squared error per example"),
            (Scale::Integer, Scale::Linear),
        )?,
        alt: "reconstruction error against latent dimension".into(),
        caption: "Squared error per test example, summed over features (recon_mse), for each method and latent dimension.".into(),
    });
    let mut rows = Vec::new();
    for &k in dims {
        for e in summary.records.iter().filter(|e| e.latent_dim == k) {
            let m = &e.metrics;
            rows.push(vec![
                e.label(),
                k.to_string(),
                f(Some(m.recon_mse), 3),
                f(m.recon_bce, 2),
                f(m.kl, 2),
                f(m.elbo, 2),
                f(m.nll_is, 2),
                count(m.active_units),
                f(m.fit_seconds, 1),
            ]);
        }
    }
    s.push(Block::Table {
        header: [
            "model",
            "K",
            "recon_mse",
            "recon_bce",
            "kl",
            "elbo",
            "nll_is",
            "active",
            "fit s",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    });
    sections.push(s);

    // ---- PCA vs linear AE
    let mut s = Section::new("PCA and the linear autoencoder");
    s.paragraph(
        "A linear autoencoder trained on squared error finds the same optimal subspace as PCA, \
         but its basis need not be orthogonal. The largest principal angle between the two \
         decoders' subspaces measures the agreement (0° = the same subspace).",
    );
    let mut rows = Vec::new();
    for &k in dims {
        let (Some(p), Some(l)) = (
            summary.find(Family::Pca, k, None),
            summary.find(Family::LinearAe, k, None),
        ) else {
            continue;
        };
        let (pm, lm) = (p.metrics.recon_mse, l.metrics.recon_mse);
        rows.push(vec![
            k.to_string(),
            f(l.metrics.pca_angle_deg, 2),
            f(Some(pm), 3),
            f(Some(lm), 3),
            if pm > 0.0 {
                format!("{:+.2} %", 100.0 * (lm - pm) / pm)
            } else {
                "–".into()
            },
        ]);
    }
    s.push(Block::Table {
        header: [
            "K",
            "largest angle (°)",
            "PCA recon_mse",
            "linear AE recon_mse",
            "difference",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    });
    sections.push(s);

    // ---- regularity
    let mut s = Section::new("Regularity: continuity and completeness");
    s.paragraph(
        "Continuity: relative change of the decoding per relative latent step around encoded \
         test points (mean and 95th percentile; small and uniform is regular). Completeness: \
         median distance from decoded prior samples to their nearest training example, divided \
         by the same for real test examples (1 = as close to the data as real data). Sample \
         confidence: the feature classifier's mean top-class probability on decoded samples. \
         Fréchet: distance between classifier features of decoded samples and of test images \
         (lower is better). PCA and the deep AE have no prior: their samples come from a \
         Gaussian fitted to their training codes.",
    );
    let bench = &summary.bench;
    if let Some(a) = bench.classifier_accuracy {
        s.paragraph(format!(
            "Feature classifier: test accuracy {:.1} %; on real test images its mean confidence \
             is {} and the Fréchet distance between {} test and {} training images is {} \
             (the floor at this sample size).",
            100.0 * a,
            f(bench.data_confidence, 3),
            count(bench.samples),
            count(bench.samples),
            f(bench.frechet_data, 2)
        ));
    }
    let mut rows = Vec::new();
    for &k in dims {
        for e in summary
            .records
            .iter()
            .filter(|e| e.latent_dim == k && e.model != Family::LinearAe)
        {
            let m = &e.metrics;
            rows.push(vec![
                e.label(),
                k.to_string(),
                f(m.continuity, 3),
                f(m.continuity_q95, 3),
                f(m.completeness, 3),
                f(m.sample_confidence, 3),
                f(m.frechet, 2),
            ]);
        }
    }
    s.push(Block::Table {
        header: [
            "model",
            "K",
            "continuity",
            "q95",
            "completeness",
            "sample conf.",
            "Fréchet",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    });
    sections.push(s);

    if fits.bench.test().image_shape().is_some() {
        image_sections(out, summary, fits, &mut sections)?;
    } else {
        feature_sections(out, summary, fits, &mut sections)?;
    }

    // ---- rate–distortion
    let mut s = Section::new("Rate–distortion over β");
    s.paragraph(
        "Each VAE minimises reconstruction + β·KL. A larger β buys a smaller rate (KL, nats) \
         with more distortion (the reconstruction term, nats); the curve should be monotone.",
    );
    let rd: Vec<(String, Vec<(f64, f64)>)> = dims
        .iter()
        .filter_map(|&k| {
            let mut pts: Vec<(f64, f64)> = summary
                .betas
                .iter()
                .filter_map(|&b| {
                    let e = summary.find(Family::Vae, k, Some(b))?;
                    Some((e.metrics.kl?, e.metrics.recon_term()?))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (!pts.is_empty()).then(|| (format!("K = {k}"), pts))
        })
        .collect();
    if !rd.is_empty() {
        s.push(Block::Image {
            png: plot(
                out,
                "rate-distortion.png",
                &rd,
                "Rate–distortion of the VAEs over β",
                ("rate: KL (nats)", "distortion: reconstruction (nats)"),
                (Scale::Linear, Scale::Linear),
            )?,
            alt: "rate-distortion curves".into(),
            caption: format!(
                "One point per β in {:?}; test split, per example.",
                summary.betas
            ),
        });
    }
    let mut rows = Vec::new();
    for &k in dims {
        for &b in &summary.betas {
            if let Some(e) = summary.find(Family::Vae, k, Some(b)) {
                let m = &e.metrics;
                rows.push(vec![
                    k.to_string(),
                    format!("{b}"),
                    f(m.kl, 2),
                    f(m.recon_term(), 2),
                    f(Some(m.recon_mse), 3),
                    count(m.active_units),
                ]);
            }
        }
    }
    s.push(Block::Table {
        header: [
            "K",
            "β",
            "KL (rate)",
            "reconstruction (distortion)",
            "recon_mse",
            "active units",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    });
    sections.push(s);

    // ---- loss curves
    let mut s = Section::new("Loss curves");
    for (model, what, unit) in [
        (Family::Vae, "VAE (β = 1)", "loss (nats per example)"),
        (Family::Ae, "deep AE", "loss (squared error per example)"),
        (
            Family::LinearAe,
            "linear AE",
            "loss (squared error per example)",
        ),
    ] {
        let mut series = Vec::new();
        for &k in dims {
            let Some(e) = summary.main_model(model, k) else {
                continue;
            };
            let pts: Vec<(f64, f64)> = crate::run::read_metrics(&out.join(&e.run))?
                .iter()
                .filter(|m| m.train_loss.is_finite())
                .map(|m| (m.epoch as f64, m.train_loss))
                .collect();
            if !pts.is_empty() {
                series.push((format!("K = {k}"), pts));
            }
        }
        if series.is_empty() {
            continue;
        }
        // A log axis where every loss is positive (numbered even over less than a decade);
        // whole epochs along x.
        let log_y = series.iter().all(|(_, p)| p.iter().all(|&(_, y)| y > 0.0));
        let y_scale = if log_y { Scale::Log } else { Scale::Linear };
        s.push(Block::Image {
            png: plot(
                out,
                &format!("loss-{}.png", model.name()),
                &series,
                &format!("Training loss, {what}"),
                ("epoch", unit),
                (Scale::Integer, y_scale),
            )?,
            alt: format!("training loss of the {what}"),
            caption: format!("Training loss per epoch of the {what} at each latent dimension (metrics.jsonl of each run)."),
        });
    }
    sections.push(s);

    // ---- definitions and provenance
    let mut s = Section::new("How this was made");
    s.push(Block::List(vec![
        format!("data: {} ({}); {} training rows, {} test rows", summary.data, summary.split, summary.train_rows, summary.test_rows),
        format!("latent dimensions {:?}, β {:?}, {} epochs (linear AE: {}), hidden layers {}, batch {}, seed {}", summary.latent_dims, summary.betas, summary.epochs, summary.linear_epochs, summary.hidden, summary.batch_size, summary.seed),
        "every figure is on the test split; squared errors are summed over features and averaged over examples; likelihoods are nats per example".into(),
        "the run directories are in runs/, the figures in images/, every number in summary.json".into(),
        format!("took {:.0} s", summary.seconds),
    ]));
    s.push(Block::Code(command.to_string()));
    sections.push(s);

    Ok(Report {
        title: format!(
            "latent compare: PCA, autoencoders and VAEs on {}",
            summary.data
        ),
        intro: vec![
            "Dimensionality reduction as encoder/decoder pairs: PCA, a linear autoencoder, a deep \
             autoencoder and variational autoencoders, fitted to the same training rows and \
             measured on the same test rows with the same seeds."
                .into(),
        ],
        sections,
    })
}

/// The fitted model of a record: the one at the index of the record with its run directory
/// (each record has its own).
fn fit_of<'a>(
    summary: &CompareSummary,
    fits: &'a Fits<'_>,
    e: &Record,
) -> Result<&'a (RunConfig, Model)> {
    summary
        .records
        .iter()
        .position(|r| r.run == e.run)
        .and_then(|i| fits.models.get(i))
        .ok_or_else(|| Error::Internal(format!("no model for {}", e.run)))
}

/// The models the image sections show side by side: PCA, the deep AE, the VAE (β = 1).
const THREE: [(Family, Option<f64>); 3] = [
    (Family::Pca, None),
    (Family::Ae, None),
    (Family::Vae, Some(1.0)),
];

/// Decoded strips of one model (model space).
type Strips<'a> = dyn Fn(&Model, &RunConfig) -> Result<Vec<ndarray::Array2<f32>>> + 'a;

/// One figure per model of [`THREE`] at latent dimension `k`: the strips `draw` decodes,
/// labelled with `labels`, saved as `images/{what}-{family}-k{k}.png`, with the model's label.
fn gallery(
    out: &Path,
    summary: &CompareSummary,
    fits: &Fits<'_>,
    (k, what): (usize, &str),
    labels: &GridLabels,
    draw: &Strips<'_>,
) -> Result<Vec<(Vec<u8>, String)>> {
    let mut items = Vec::new();
    for (model, beta) in THREE {
        let Some(e) = summary.find(model, k, beta) else {
            continue;
        };
        let (config, m) = fit_of(summary, fits, e)?;
        let strips = draw(m, config)?;
        let img = figures::labelled_rows(&strips, labels, config, &out.join(&e.run), None)?;
        let name = format!("{what}-{}-k{k}.png", model.name());
        items.push((figure(out, &name, &img)?, e.label()));
    }
    Ok(items)
}

/// Per column of `x`: mean and standard deviation (n − 1).
fn column_stats(x: ndarray::ArrayView2<'_, f32>) -> Vec<(f64, f64)> {
    let n = x.nrows() as f64;
    x.columns()
        .into_iter()
        .map(|c| {
            let mean = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1.0);
            let ss: f64 = c.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
            (mean, (ss / (n - 1.0).max(1.0)).sqrt())
        })
        .collect()
}

/// The features shown in the table of [`feature_sections`] (all are plotted).
const FEATURES_SHOWN: usize = 40;

/// For data that are not images: the decodings compared with the data feature by feature,
/// in the data's units — each model's reconstruction error per feature of the test rows,
/// and whether its samples reproduce each feature's mean and spread.
fn feature_sections(
    out: &Path,
    summary: &CompareSummary,
    fits: &Fits<'_>,
    sections: &mut Vec<Section>,
) -> Result<()> {
    let Some((config, _)) = fits.models.first() else {
        return Ok(());
    };
    let test = fits.bench.test();
    let names = crate::rows::column_names(config);
    // every model of the comparison shares the preprocessing (fitted on the same rows)
    let data = config.preprocess.invert(test.x());
    let stats = column_stats(data.view());
    let d = stats.len();
    let samples = 2000;
    let mut s = Section::new("Decoded rows, feature by feature");
    s.paragraph(format!(
        "The data are not images, so the decodings are compared with the test rows feature by \
         feature, in the data's units: each model's reconstruction error per feature (RMSE, \
         and on the plot divided by the feature's standard deviation, so that features of \
         different units compare), and the mean ± standard deviation of {samples} decoded \
         samples against the test rows' (samples of the VAE's prior; of a Gaussian fitted to \
         the training codes for PCA and the deep autoencoder), each decoded to its mean — without \
         the likelihood's noise, so a spread below the data's is expected, more so at small K. \
         A model whose samples miss a feature's mean does not generate data like these."
    ));
    let models = [
        (Family::Pca, None, "PCA"),
        (Family::Ae, None, "deep AE"),
        (Family::Vae, Some(1.0), "VAE β = 1"),
    ];
    for &k in &summary.latent_dims {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        let mut header = vec!["feature".to_string(), "test: mean ± sd".to_string()];
        let mut columns: Vec<Vec<String>> = Vec::new();
        for (family, beta, label) in models {
            let Some(e) = summary.find(family, k, beta) else {
                continue;
            };
            let (config, m) = fit_of(summary, fits, e)?;
            let recon = config
                .preprocess
                .invert(m.reduction().reconstruct(test.x())?.view());
            let rmse: Vec<f64> = (0..d)
                .map(|j| {
                    let se: f64 = data
                        .column(j)
                        .iter()
                        .zip(recon.column(j))
                        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                        .sum();
                    (se / data.nrows().max(1) as f64).sqrt()
                })
                .collect();
            let source = LatentSource::for_training_data(m, || {
                Ok(m.reduction().encode(fits.bench.train().x())?)
            })?;
            let (strips, _) = figures::sample_strips(m, &source, samples, 1.0, 0, samples)?;
            let views: Vec<_> = strips.iter().map(|a| a.view()).collect();
            let decoded = ndarray::concatenate(ndarray::Axis(0), &views)
                .map_err(|e| Error::Internal(format!("joining the samples: {e}")))?;
            let sample_stats = column_stats(config.preprocess.invert(decoded.view()).view());
            series.push((
                label.to_string(),
                (0..d)
                    .map(|j| {
                        let sd = stats[j].1;
                        let rel = if sd > 0.0 { rmse[j] / sd } else { 0.0 };
                        ((j + 1) as f64, rel)
                    })
                    .collect(),
            ));
            header.push(format!("{label}: recon RMSE"));
            header.push(format!("{label}: samples mean ± sd"));
            columns.push(rmse.iter().map(|&v| format!("{v:.4}")).collect());
            columns.push(
                sample_stats
                    .iter()
                    .map(|&(m, sd)| format!("{m:.4} ± {sd:.4}"))
                    .collect(),
            );
        }
        if series.is_empty() {
            continue;
        }
        s.push(Block::Image {
            png: plot(
                out,
                &format!("features-k{k}.png"),
                &series,
                &format!("Reconstruction error per feature, K = {k}"),
                (
                    "feature (1 … D, as in the table)",
                    "RMSE / standard deviation",
                ),
                (Scale::Integer, Scale::Linear),
            )?,
            alt: format!("reconstruction error per feature at K = {k}"),
            caption: format!(
                "K = {k}: test split; 1 is the error of predicting every row by its feature's \
                 mean, 0 a perfect reconstruction."
            ),
        });
        let rows = (0..d.min(FEATURES_SHOWN))
            .map(|j| {
                let mut row = vec![
                    format!("{} {}", j + 1, names[j]),
                    format!("{:.4} ± {:.4}", stats[j].0, stats[j].1),
                ];
                row.extend(columns.iter().map(|c| c[j].clone()));
                row
            })
            .collect();
        s.push(Block::Table { header, rows });
        if d > FEATURES_SHOWN {
            s.paragraph(format!(
                "The table shows the first {FEATURES_SHOWN} of the {d} features; the plot all."
            ));
        }
    }
    sections.push(s);
    Ok(())
}

fn image_sections(
    out: &Path,
    summary: &CompareSummary,
    fits: &Fits<'_>,
    sections: &mut Vec<Section>,
) -> Result<()> {
    let dims = &summary.latent_dims;
    let test = fits.bench.test();
    // prior samples
    let mut s = Section::new("Samples: decoding random latent points");
    s.paragraph(
        "The chapter's test of completeness: decode random points of the latent space. The VAE \
         samples its prior N(0, I); PCA and the deep autoencoder have no prior, so a Gaussian \
         fitted to their training codes is sampled (the most favourable choice for them).",
    );
    for &k in dims {
        let items = gallery(
            out,
            summary,
            fits,
            (k, "samples"),
            &GridLabels::none(),
            &|m, _| {
                let source = LatentSource::for_training_data(m, || {
                    Ok(m.reduction().encode(fits.bench.train().x())?)
                })?;
                Ok(figures::sample_strips(m, &source, 32, 1.0, 0, 8)?.0)
            },
        )?;
        s.push(Block::Gallery {
            items,
            caption: format!("K = {k}: 32 decoded samples each."),
        });
    }
    sections.push(s);

    // interpolations
    let mut s = Section::new("Interpolations between test images");
    s.paragraph(
        "Continuity: the straight path between the codes of two test images, decoded in 10 \
         steps. A regular space gives a gradual blend.",
    );
    let pairs: Vec<(usize, usize)> = [(0, 1), (2, 3), (4, 5), (6, 7)]
        .into_iter()
        .filter(|&(a, b)| a.max(b) < test.n())
        .collect();
    let steps = 10;
    let labels = figures::interpolation_labels(&pairs, steps);
    for &k in dims {
        let items = gallery(
            out,
            summary,
            fits,
            (k, "interpolation"),
            &labels,
            &|m, _| {
                Ok(latent_explore::interpolate(
                    m.reduction(),
                    test.x(),
                    &pairs,
                    steps,
                    latent_explore::Interpolation::Lerp,
                )?)
            },
        )?;
        s.push(Block::Gallery {
            items,
            caption: format!(
                "K = {k}: one row per pair of test rows (0 → 1, 2 → 3, 4 → 5, 6 → 7); t = 0 \
                 decodes the first row's code, t = 1 the second's."
            ),
        });
    }
    sections.push(s);

    // traversals
    let mut s = Section::new("Traversals of the VAE's latent dimensions");
    s.paragraph(
        "Each row sweeps one latent coordinate of the VAE (β = 1) from −3 to 3 standard \
         deviations of the prior, the others at 0. Inactive dimensions (KL ≈ 0) leave the image \
         unchanged.",
    );
    for &k in dims {
        let Some(e) = summary.find(Family::Vae, k, Some(1.0)) else {
            continue;
        };
        let (config, m) = fit_of(summary, fits, e)?;
        let dims: Vec<usize> = (0..k.min(10)).collect();
        let (range, steps) = (3.0, 9);
        let strips = latent_explore::traverse(m.reduction(), None, &dims, range, steps)?;
        let labels = figures::traversal_labels(&dims, range, steps);
        let img = figures::labelled_rows(&strips, &labels, config, &out.join(&e.run), None)?;
        s.push(Block::Image {
            png: figure(out, &format!("traversal-vae-k{k}.png"), &img)?,
            alt: format!("traversal of the K = {k} VAE"),
            caption: format!(
                "K = {k}: one row per dimension z0 to z{}; the columns give the value of that \
                 coordinate, the others at 0.",
                k.min(10) - 1
            ),
        });
    }
    sections.push(s);

    // 2-D maps
    if dims.contains(&2) {
        let mut s = Section::new("The 2-D latent spaces");
        s.paragraph(
            "Left: the codes of the test images, coloured by class. Right: the decoded \
             manifold, a grid over the prior's quantiles (VAE) or over the quantiles of a \
             Gaussian fitted to the codes (PCA, deep AE).",
        );
        for (model, beta) in THREE {
            let Some(e) = summary.find(model, 2, beta) else {
                continue;
            };
            let (config, m) = fit_of(summary, fits, e)?;
            let (img, _) = figures::map(m, config, &out.join(&e.run), test, 15, None)?;
            s.push(Block::Image {
                png: figure(out, &format!("map-{}-k2.png", model.name()), &img)?,
                alt: format!("2-D latent map of the {}", e.label()),
                caption: e.label(),
            });
        }
        sections.push(s);
    }
    Ok(())
}

/// The plain-language reading: each claim of the chapter checked against the numbers.
fn reading(summary: &CompareSummary) -> Section {
    let mut s = Section::new("What the numbers show");
    s.push(Block::List(summary.reading.clone()));
    if let Some(acc) = summary.bench.classifier_accuracy {
        s.paragraph(format!(
            "The classifier behind the Fréchet distance and the confidence reaches {:.1} % test \
             accuracy; its figures are only as good as it is.",
            100.0 * acc
        ));
    }
    s.paragraph(
        "Every claim above is computed from summary.json by the code that wrote this page; a \
         claim that fails is reported as failing, not tuned away.",
    );
    s
}

/// Each of the chapter's claims, checked against the entries: one sentence per claim saying
/// at which latent dimensions it holds, with the numbers.
pub fn claims(summary: &CompareSummary) -> Vec<String> {
    let (dims, betas) = (&summary.latent_dims[..], &summary.betas[..]);
    let pick = |m: &str, k: usize| summary.main_model(family(m), k);
    let ks = |v: &[usize]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    // One sentence: where `holds(k)` is true, false, or unmeasured, and the figures.
    let verdict = |claim: &str, holds: &dyn Fn(usize) -> Option<bool>, detail: String| {
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        for &k in dims {
            match holds(k) {
                Some(true) => yes.push(k),
                Some(false) => no.push(k),
                None => {}
            }
        }
        let head = match (yes.is_empty(), no.is_empty()) {
            (false, true) => format!("{claim}: holds at every K ({}).", ks(&yes)),
            (true, false) => format!("{claim}: does NOT hold here (K = {}).", ks(&no)),
            (true, true) => format!("{claim}: not measured."),
            (false, false) => {
                format!(
                    "{claim}: holds at K = {}, not at K = {}.",
                    ks(&yes),
                    ks(&no)
                )
            }
        };
        format!("{head} {detail}")
    };
    // `a` beats `b` on `key` (lower or higher is better), with both figures per K.
    let pair = |claim: &str, a: &str, b: &str, key: &str, lower: bool, what: &str| -> String {
        let val = |m: &str, k: usize| pick(m, k).and_then(|e| metric(e, key));
        let detail = dims
            .iter()
            .filter_map(|&k| Some(format!("K = {k}: {:.3} vs {:.3}", val(a, k)?, val(b, k)?)))
            .collect::<Vec<_>>()
            .join(", ");
        verdict(
            claim,
            &|k| {
                let (x, y) = (val(a, k)?, val(b, k)?);
                Some(if lower { x < y } else { x > y })
            },
            format!("{what}: {detail}."),
        )
    };

    let mut items = Vec::new();
    let angle = |k: usize| pick("linear-ae", k).and_then(|e| e.metrics.pca_angle_deg);
    let angles = dims
        .iter()
        .filter_map(|&k| angle(k).map(|a| format!("K = {k}: {a:.2}°")))
        .collect::<Vec<_>>()
        .join(", ");
    let mse_gap = dims
        .iter()
        .filter_map(|&k| {
            let (l, p) = (
                pick("linear-ae", k)?.metrics.recon_mse,
                pick("pca", k)?.metrics.recon_mse,
            );
            let pct = 100.0 * (l - p) / p;
            if !pct.is_finite() {
                // PCA reconstructs the test rows exactly (constant or low-rank data)
                return Some(format!(
                    "K = {k}: PCA's error is {p:.3}, linear AE's {l:.3}"
                ));
            }
            // no "−0.000 %": below the printed precision the sign means nothing
            let pct = if pct.abs() < 5e-4 { 0.0 } else { pct };
            Some(format!("K = {k}: {pct:+.3} %"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    items.push(verdict(
        "The linear autoencoder finds PCA's subspace (largest principal angle below 2°)",
        &|k| angle(k).map(|a| a < 2.0),
        format!(
            "Largest angles: {angles}; reconstruction error relative to PCA: {mse_gap}. A \
             larger angle with the same error means the last directions, of nearly equal \
             variance, have not settled yet: the linear AE converges late (--linear-epochs)."
        ),
    ));
    items.push(pair(
        "The deep autoencoder reconstructs better than PCA",
        "ae",
        "pca",
        "recon_mse",
        true,
        "Test squared error, deep AE vs PCA",
    ));
    items.push(pair(
        "The VAE pays for regularity with some reconstruction error (VAE worse than deep AE)",
        "vae",
        "ae",
        "recon_mse",
        false,
        "Test squared error, VAE vs deep AE",
    ));
    for (key, name, lower) in [
        ("continuity", "continuity (mean)", true),
        ("continuity_q95", "continuity (95th percentile)", true),
        (
            "completeness",
            "completeness (nearest-neighbour ratio)",
            true,
        ),
        (
            "sample_confidence",
            "classifier confidence on samples",
            false,
        ),
        ("frechet", "Fréchet distance", true),
    ] {
        if dims
            .iter()
            .any(|&k| pick("vae", k).and_then(|e| metric(e, key)).is_some())
        {
            items.push(pair(
                &format!("The VAE's latent space is more regular than the deep AE's by {name}"),
                "vae",
                "ae",
                key,
                lower,
                if lower {
                    "VAE vs deep AE (lower is better)"
                } else {
                    "VAE vs deep AE (higher is better)"
                },
            ));
        }
    }
    if betas.len() > 1 {
        items.push(verdict(
            "β trades rate for distortion monotonically (larger β: less KL, more reconstruction error)",
            &|k| {
                let pts: Vec<(f64, f64)> = betas
                    .iter()
                    .filter_map(|&b| {
                        let e = summary.find(Family::Vae, k, Some(b))?;
                        Some((e.metrics.kl?, e.metrics.recon_term()?))
                    })
                    .collect();
                // β ascending: the rate must fall and the distortion rise
                (pts.len() >= 2)
                    .then(|| pts.windows(2).all(|w| w[1].0 <= w[0].0 && w[1].1 >= w[0].1))
            },
            "See the rate–distortion section.".into(),
        ));
    }
    items
}

/// The family of a name used in the claims.
fn family(name: &str) -> Family {
    match name {
        "pca" => Family::Pca,
        "linear-ae" => Family::LinearAe,
        "ae" => Family::Ae,
        _ => Family::Vae,
    }
}

/// The figure `key` of a record (its JSON name), when measured.
fn metric(e: &Record, key: &str) -> Option<f64> {
    e.metrics
        .to_json()
        .get(key)
        .and_then(serde_json::Value::as_f64)
}
