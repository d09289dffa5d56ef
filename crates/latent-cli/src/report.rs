//! The HTML report of `latent compare`: figures drawn from the fitted runs, tables of the
//! figures in `summary.json`, and a plain-language reading of what they show — each of the
//! chapter's claims checked against the numbers, and said to fail where it fails.

use std::path::Path;

use anyhow::Result;
use latent_report::{Block, Report, Section};
use serde_json::Value;

use crate::cli::{DataArgs, InterpolateArgs, MapArgs, SampleArgs, TraverseArgs};
use crate::compare::{Entry, run_dir};
use crate::explore_cmd;

/// What the report needs besides the entries.
pub struct Inputs<'a> {
    /// The test split's data arguments (maps and interpolations are drawn from it).
    pub test_args: &'a DataArgs,
    /// Latent dimensions compared.
    pub dims: &'a [usize],
    /// The β list (with 1).
    pub betas: &'a [f64],
    /// Whether rows are images (image figures are drawn only then).
    pub image: bool,
    /// The command line that produced it.
    pub command: String,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    }
}

fn label(e: &Entry) -> String {
    match (e.model, e.beta) {
        ("pca", _) => "PCA".into(),
        ("linear-ae", _) => "linear AE".into(),
        ("ae", _) => "deep AE".into(),
        (_, Some(b)) if (b - 1.0).abs() < 1e-12 => "VAE".into(),
        (_, Some(b)) => format!("VAE β={b}"),
        _ => e.model.into(),
    }
}

fn find<'a>(entries: &'a [Entry], model: &str, k: usize, beta: Option<f64>) -> Option<&'a Entry> {
    entries.iter().find(|e| {
        e.model == model
            && e.k == k
            && match (e.beta, beta) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                (None, None) => true,
                _ => false,
            }
    })
}

fn vae1(entries: &[Entry], k: usize) -> Option<&Entry> {
    find(entries, "vae", k, Some(1.0))
}

/// The model of family `model` at `k` that stands for its family: the VAE is the β = 1 one.
fn main_model<'a>(entries: &'a [Entry], model: &str, k: usize) -> Option<&'a Entry> {
    if model == "vae" {
        vae1(entries, k)
    } else {
        find(entries, model, k, None)
    }
}

/// Draw the figures into `out/images` and assemble the report.
///
/// # Errors
/// Drawing and reading failures.
pub fn build(out: &Path, summary: &Value, entries: &[Entry], inp: &Inputs<'_>) -> Result<Report> {
    let img = out.join("images");
    let mut sections = Vec::new();
    let main_models = ["pca", "linear-ae", "ae", "vae"];

    // ---- the reading first: what a reader came for
    sections.push(reading(summary, entries, inp));

    // ---- reconstruction error against latent dimension
    let mut s = Section::new("Reconstruction error against latent dimension");
    let series: Vec<(String, Vec<(f64, f64)>)> = main_models
        .iter()
        .filter_map(|&m| {
            let pts: Vec<(f64, f64)> = inp
                .dims
                .iter()
                .filter_map(|&k| {
                    let e = main_model(entries, m, k)?;
                    Some((k as f64, e.metric("recon_mse")?))
                })
                .collect();
            let name = match m {
                "pca" => "PCA",
                "linear-ae" => "linear AE",
                "ae" => "deep AE",
                _ => "VAE (β = 1)",
            };
            (!pts.is_empty()).then(|| (name.to_string(), pts))
        })
        .collect();
    let refs: Vec<latent_report::Series<'_>> = series
        .iter()
        .map(|(n, p)| (n.as_str(), p.clone()))
        .collect();
    let path = img.join("recon-vs-dim.png");
    latent_report::line_plot_png(
        &path,
        &refs,
        "Test reconstruction error",
        ("latent dimension K", "squared error per example"),
        false,
    )?;
    s.push(Block::Image {
        png: read(&path)?,
        alt: "reconstruction error against latent dimension".into(),
        caption: "Squared error per test example, summed over features (recon_mse), for each method and latent dimension.".into(),
    });
    let mut rows = Vec::new();
    for &k in inp.dims {
        for e in entries.iter().filter(|e| e.k == k) {
            rows.push(vec![
                label(e),
                k.to_string(),
                f(e.metric("recon_mse"), 3),
                f(e.metric("recon_bce"), 2),
                f(e.metric("kl"), 2),
                f(e.metric("elbo"), 2),
                f(e.metric("nll_is"), 2),
                e.metrics
                    .get("active_units")
                    .and_then(Value::as_u64)
                    .map_or("–".into(), |v| v.to_string()),
                f(e.metric("fit_seconds"), 1),
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
    for &k in inp.dims {
        let (Some(p), Some(l)) = (
            find(entries, "pca", k, None),
            find(entries, "linear-ae", k, None),
        ) else {
            continue;
        };
        let (pm, lm) = (p.metric("recon_mse"), l.metric("recon_mse"));
        rows.push(vec![
            k.to_string(),
            f(l.metric("pca_angle_deg"), 2),
            f(pm, 3),
            f(lm, 3),
            match (pm, lm) {
                (Some(a), Some(b)) if a > 0.0 => format!("{:+.2} %", 100.0 * (b - a) / a),
                _ => "–".into(),
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
    let bench = &summary["bench"];
    if let Some(a) = bench["classifier_accuracy"].as_f64() {
        s.paragraph(format!(
            "Feature classifier: test accuracy {:.1} %; on real test images its mean confidence \
             is {} and the Fréchet distance between {} test and {} training images is {} \
             (the floor at this sample size).",
            100.0 * a,
            f(bench["data_confidence"].as_f64(), 3),
            bench["samples"],
            bench["samples"],
            f(bench["frechet_data"].as_f64(), 2)
        ));
    }
    let mut rows = Vec::new();
    for &k in inp.dims {
        for e in entries
            .iter()
            .filter(|e| e.k == k && e.model != "linear-ae")
        {
            rows.push(vec![
                label(e),
                k.to_string(),
                f(e.metric("continuity"), 3),
                f(e.metric("continuity_q95"), 3),
                f(e.metric("completeness"), 3),
                f(e.metric("sample_confidence"), 3),
                f(e.metric("frechet"), 2),
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

    if inp.image {
        image_sections(out, entries, inp, &mut sections)?;
    }

    // ---- rate–distortion
    let mut s = Section::new("Rate–distortion over β");
    s.paragraph(
        "Each VAE minimises reconstruction + β·KL. A larger β buys a smaller rate (KL, nats) \
         with more distortion (the reconstruction term, nats); the curve should be monotone.",
    );
    let rd: Vec<(String, Vec<(f64, f64)>)> = inp
        .dims
        .iter()
        .filter_map(|&k| {
            let mut pts: Vec<(f64, f64)> = inp
                .betas
                .iter()
                .filter_map(|&b| {
                    let e = find(entries, "vae", k, Some(b))?;
                    Some((e.metric("kl")?, recon_term(e)?))
                })
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (!pts.is_empty()).then(|| (format!("K = {k}"), pts))
        })
        .collect();
    if !rd.is_empty() {
        let refs: Vec<latent_report::Series<'_>> =
            rd.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
        let path = img.join("rate-distortion.png");
        latent_report::line_plot_png(
            &path,
            &refs,
            "Rate–distortion of the VAEs over β",
            ("rate: KL (nats)", "distortion: reconstruction (nats)"),
            false,
        )?;
        s.push(Block::Image {
            png: read(&path)?,
            alt: "rate-distortion curves".into(),
            caption: format!(
                "One point per β in {:?}; test split, per example.",
                inp.betas
            ),
        });
    }
    let mut rows = Vec::new();
    for &k in inp.dims {
        for &b in inp.betas {
            if let Some(e) = find(entries, "vae", k, Some(b)) {
                rows.push(vec![
                    k.to_string(),
                    format!("{b}"),
                    f(e.metric("kl"), 2),
                    f(recon_term(e), 2),
                    f(e.metric("recon_mse"), 3),
                    e.metrics
                        .get("active_units")
                        .and_then(Value::as_u64)
                        .map_or("–".into(), |v| v.to_string()),
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
        ("vae", "VAE (β = 1)", "loss (nats per example)"),
        ("ae", "deep AE", "loss (squared error per example)"),
        ("linear-ae", "linear AE", "loss (squared error per example)"),
    ] {
        let mut series = Vec::new();
        for &k in inp.dims {
            let Some(e) = main_model(entries, model, k) else {
                continue;
            };
            let pts = loss_curve(&run_dir(out, e))?;
            if !pts.is_empty() {
                series.push((format!("K = {k}"), pts));
            }
        }
        if series.is_empty() {
            continue;
        }
        let log_y = series.iter().all(|(_, p)| p.iter().all(|&(_, y)| y > 0.0));
        let refs: Vec<latent_report::Series<'_>> = series
            .iter()
            .map(|(n, p)| (n.as_str(), p.clone()))
            .collect();
        let path = img.join(format!("loss-{model}.png"));
        latent_report::line_plot_png(
            &path,
            &refs,
            &format!("Training loss, {what}"),
            ("epoch", unit),
            log_y,
        )?;
        s.push(Block::Image {
            png: read(&path)?,
            alt: format!("training loss of the {what}"),
            caption: format!("Training loss per epoch of the {what} at each latent dimension (metrics.jsonl of each run)."),
        });
    }
    sections.push(s);

    // ---- definitions and provenance
    let mut s = Section::new("How this was made");
    s.push(Block::List(vec![
        format!("data: {} ({}); {} training rows, {} test rows", summary["data"].as_str().unwrap_or("?"), summary["split"].as_str().unwrap_or("?"), summary["train_rows"], summary["test_rows"]),
        format!("latent dimensions {:?}, β {:?}, {} epochs (linear AE: {}), hidden layers {}, batch {}, seed {}", inp.dims, inp.betas, summary["epochs"], summary["linear_epochs"], summary["hidden"].as_str().unwrap_or("?"), summary["batch_size"], summary["seed"]),
        "every figure is on the test split; squared errors are summed over features and averaged over examples; likelihoods are nats per example".into(),
        "the run directories are in runs/, the figures in images/, every number in summary.json".into(),
        format!("took {:.0} s", summary["seconds"].as_f64().unwrap_or(f64::NAN)),
    ]));
    s.push(Block::Code(inp.command.clone()));
    sections.push(s);

    Ok(Report {
        title: format!(
            "latent compare: PCA, autoencoders and VAEs on {}",
            summary["data"].as_str().unwrap_or("?")
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

/// The VAE's reconstruction term, whichever likelihood it used.
fn recon_term(e: &Entry) -> Option<f64> {
    e.metric("recon_bce").or_else(|| e.metric("recon_nll"))
}

fn loss_curve(run: &Path) -> Result<Vec<(f64, f64)>> {
    let path = run.join(crate::run::METRICS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let mut pts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let m: latent_nn::EpochMetrics = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}: malformed line: {e}", path.display()))?;
        if m.train_loss.is_finite() {
            pts.push((m.epoch as f64, m.train_loss));
        }
    }
    Ok(pts)
}

fn image_sections(
    out: &Path,
    entries: &[Entry],
    inp: &Inputs<'_>,
    sections: &mut Vec<Section>,
) -> Result<()> {
    let img = out.join("images");
    // prior samples
    let mut s = Section::new("Samples: decoding random latent points");
    s.paragraph(
        "The chapter's test of completeness: decode random points of the latent space. The VAE \
         samples its prior N(0, I); PCA and the deep autoencoder have no prior, so a Gaussian \
         fitted to their training codes is sampled (the most favourable choice for them).",
    );
    for &k in inp.dims {
        let items = gallery(entries, k, &img, "samples", &|e, path| {
            explore_cmd::sample(&SampleArgs {
                run: run_dir(out, e),
                n: 32,
                out: path.to_path_buf(),
                seed: 0,
                temperature: 1.0,
                columns: 8,
                data: None,
                split: None,
                force: true,
            })
        })?;
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
    for &k in inp.dims {
        let items = gallery(entries, k, &img, "interpolation", &|e, path| {
            explore_cmd::interpolate(&InterpolateArgs {
                run: run_dir(out, e),
                data: inp.test_args.clone(),
                from: "0,2,4,6".into(),
                to: "1,3,5,7".into(),
                steps: 10,
                slerp: false,
                out: path.to_path_buf(),
                force: true,
            })
        })?;
        s.push(Block::Gallery {
            items,
            caption: format!("K = {k}: test pairs (0→1, 2→3, 4→5, 6→7)."),
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
    for &k in inp.dims {
        let Some(e) = vae1(entries, k) else { continue };
        let path = img.join(format!("traversal-vae-k{k}.png"));
        explore_cmd::traverse(&TraverseArgs {
            run: run_dir(out, e),
            dims: format!("0..{}", k.min(10)),
            range: 3.0,
            steps: 9,
            out: path.clone(),
            force: true,
        })?;
        s.push(Block::Image {
            png: read(&path)?,
            alt: format!("traversal of the K = {k} VAE"),
            caption: format!("K = {k}: dimensions 0 to {}.", k.min(10) - 1),
        });
    }
    sections.push(s);

    // 2-D maps
    if inp.dims.contains(&2) {
        let mut s = Section::new("The 2-D latent spaces");
        s.paragraph(
            "Left: the codes of the test images, coloured by class. Right: the decoded \
             manifold, a grid over the prior's quantiles (VAE) or over the quantiles of a \
             Gaussian fitted to the codes (PCA, deep AE).",
        );
        for (model, beta) in [("pca", None), ("ae", None), ("vae", Some(1.0))] {
            let Some(e) = find(entries, model, 2, beta) else {
                continue;
            };
            let path = img.join(format!("map-{model}-k2.png"));
            explore_cmd::map(&MapArgs {
                run: run_dir(out, e),
                data: inp.test_args.clone(),
                out: path.clone(),
                grid: 15,
                force: true,
            })?;
            s.push(Block::Image {
                png: read(&path)?,
                alt: format!("2-D latent map of the {}", label(e)),
                caption: label(e),
            });
        }
        sections.push(s);
    }
    Ok(())
}

/// One image per model (PCA, deep AE, VAE β = 1) at latent dimension `k`, drawn by `draw`
/// into `img/{what}-{model}-k{k}.png`, with the model's label.
fn gallery(
    entries: &[Entry],
    k: usize,
    img: &Path,
    what: &str,
    draw: &dyn Fn(&Entry, &Path) -> Result<()>,
) -> Result<Vec<(Vec<u8>, String)>> {
    let mut items = Vec::new();
    for (model, beta) in [("pca", None), ("ae", None), ("vae", Some(1.0))] {
        let Some(e) = find(entries, model, k, beta) else {
            continue;
        };
        let path = img.join(format!("{what}-{model}-k{k}.png"));
        draw(e, &path)?;
        items.push((read(&path)?, label(e)));
    }
    Ok(items)
}

/// The plain-language reading: each claim of the chapter checked against the numbers.
fn reading(summary: &Value, entries: &[Entry], inp: &Inputs<'_>) -> Section {
    let mut s = Section::new("What the numbers show");
    s.push(Block::List(claims(entries, inp.dims, inp.betas)));
    if let Some(acc) = summary["bench"]["classifier_accuracy"].as_f64() {
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
pub fn claims(entries: &[Entry], dims: &[usize], betas: &[f64]) -> Vec<String> {
    let pick = |m: &str, k: usize| main_model(entries, m, k);
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
        let val = |m: &str, k: usize| pick(m, k).and_then(|e| e.metric(key));
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
    let angle = |k: usize| pick("linear-ae", k).and_then(|e| e.metric("pca_angle_deg"));
    let angles = dims
        .iter()
        .filter_map(|&k| angle(k).map(|a| format!("K = {k}: {a:.2}°")))
        .collect::<Vec<_>>()
        .join(", ");
    let mse_gap = dims
        .iter()
        .filter_map(|&k| {
            let (l, p) = (
                pick("linear-ae", k)?.metric("recon_mse")?,
                pick("pca", k)?.metric("recon_mse")?,
            );
            let pct = 100.0 * (l - p) / p;
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
            .any(|&k| pick("vae", k).and_then(|e| e.metric(key)).is_some())
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
                        let e = find(entries, "vae", k, Some(b))?;
                        Some((e.metric("kl")?, recon_term(e)?))
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
