//! Every figure of a model on data, computed the same way for PCA, autoencoders and VAEs:
//! the same test rows, the same sample counts, the same seeds.
//!
//! A [`Bench`] holds what the models are measured against — the test rows, a reference set of
//! training rows, the classifier whose features define the Fréchet distance — built once per
//! data set; [`evaluate`] measures one model on it and returns typed [`Metrics`] (serialised
//! with the keys of `latent eval --json` and `summary.json`). The definitions are in the
//! README's "Metrics" section.

use latent_core::seed::{derive, rng};
use latent_core::{Dataset, Reduction};
use latent_explore::{continuity, frechet_distance, nearest_distances, pick_rows, quantile_sorted};
use latent_nn::{Classifier, ClassifierConfig, Device, Likelihood};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::run::Model;
use crate::sampler::LatentSource;
use crate::{Error, Result};

/// Every figure of one model on one data set, per example. A figure that does not apply to
/// the model, or was not asked for, is `None` (absent from the JSON, never zero).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metrics {
    /// VAE: latent dimensions whose posterior mean varies over the data by more than 0.01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_units: Option<usize>,
    /// The feature classifier's test accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_accuracy: Option<f64>,
    /// Median nearest-training-row distance of decoded samples ÷ the same for test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    /// Mean relative decoded change per relative latent step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity: Option<f64>,
    /// Encoded points probed for continuity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity_points: Option<usize>,
    /// The 95th percentile of continuity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity_q95: Option<f64>,
    /// Continuity's step, a fraction of the codes' RMS pairwise distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuity_step: Option<f64>,
    /// The classifier's mean top-class probability on real test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_confidence: Option<f64>,
    /// VAE: the evidence lower bound, one posterior sample per row (nats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elbo: Option<f64>,
    /// Seconds the model took to fit (`compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_seconds: Option<f64>,
    /// Fréchet distance between classifier features of samples and of test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frechet: Option<f64>,
    /// The same between test and training rows: the floor at this sample size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frechet_data: Option<f64>,
    /// Samples behind the Fréchet distance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frechet_samples: Option<usize>,
    /// Importance samples per row behind `nll_is`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iw_samples: Option<usize>,
    /// VAE: the closed-form KL to N(0, I) (nats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl: Option<f64>,
    /// VAE: the KL of each latent dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_per_dim: Option<Vec<f64>>,
    /// Rows measured.
    pub n: usize,
    /// VAE: −log p(x) by importance sampling (nats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nll_is: Option<f64>,
    /// Linear AE: the largest principal angle to PCA's subspace (`compare`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca_angle_deg: Option<f64>,
    /// VAE with a Bernoulli likelihood: the reconstruction term (nats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon_bce: Option<f64>,
    /// Squared error summed over features, averaged over rows.
    pub recon_mse: f64,
    /// VAE with a Gaussian likelihood: the reconstruction term (nats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon_nll: Option<f64>,
    /// The classifier's mean top-class probability on decoded samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_confidence: Option<f64>,
    /// Median distance from a decoded sample to its nearest training row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_nn_distance: Option<f64>,
    /// Where the samples came from: `prior`, or a Gaussian fitted to the training codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_source: Option<String>,
    /// Decoded samples behind completeness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Median distance from a test row to its nearest training row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_nn_distance: Option<f64>,
}

impl Metrics {
    /// The VAE's reconstruction term, whichever likelihood it used.
    pub fn recon_term(&self) -> Option<f64> {
        self.recon_bce.or(self.recon_nll)
    }

    /// The figures as one JSON object (the keys of `latent eval --json`).
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// Figures of a [`Bench`] itself (not of a model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchSummary {
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Training rows nearest-neighbour distances are measured to.
    pub reference_rows: usize,
    /// Decoded samples per model (and test rows they are compared with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Median distance from a test row to its nearest training row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_nn_distance: Option<f64>,
    /// The classifier's test accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier_accuracy: Option<f64>,
    /// Its mean confidence on real test rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_confidence: Option<f64>,
    /// The Fréchet floor at this sample size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frechet_data: Option<f64>,
}

/// Every figure of `model` (fitted as `config` says) on the rows `data` (preprocessed as
/// the model takes them): what `latent eval` prints and the Python `evaluate` returns.
///
/// The reference rows (nearest neighbours, the feature classifier, the code Gaussian) are
/// `reference` when given; else the run's recorded training data less every row that is
/// also evaluated (found by content, whatever the data's name or hold-out); and when nothing
/// is left, or the run records no data (fitted in memory), a seeded half of `data`. `say`
/// gets a line for each such choice and the measurement's progress.
///
/// # Errors
/// Reading the recorded training data; the measurement's errors.
pub fn evaluate_on(
    model: &Model,
    config: &crate::run::RunConfig,
    data: Dataset,
    reference: Option<Dataset>,
    settings: EvalSettings,
    say: &mut dyn FnMut(&str),
) -> Result<Metrics> {
    let seed = settings.seed;
    // a seeded half of the evaluated rows as the reference set, saying why
    let halves = |data: Dataset, why: &str, say: &mut dyn FnMut(&str)| {
        say(why);
        data.split(0.5, derive(seed, "eval-halves"))
    };
    let (train, test) = match (reference, &config.data.args) {
        (Some(r), _) => (r, data),
        (None, None) => halves(
            data,
            "the run does not record its training data: half of the evaluation data serves as \
             the reference set",
            say,
        )?,
        (None, Some(a)) => {
            let (train, dropped) = disjoint_from(config.preprocess.apply(a.load()?)?, &data)?;
            match train.filter(|t| t.n() >= 2) {
                None => halves(
                    data,
                    "the evaluation data is the training data: half of it serves as the \
                     reference set",
                    say,
                )?,
                Some(train) => {
                    if dropped > 0 {
                        say(&format!(
                            "{dropped} of the run's training rows are also evaluated: they are \
                             left out of the reference set and of the classifier's training rows"
                        ));
                    }
                    say(&format!(
                        "reference set: {} rows of {} (the run's training data, none of them \
                         evaluated)",
                        train.n(),
                        a.data
                    ));
                    (train, data)
                }
            }
        }
    };
    let bench = Bench::new(train, test, settings, &latent_nn::cpu_device(), say)?;
    for n in bench.notes() {
        say(n);
    }
    let mut metrics = evaluate(model, &bench, say)?;
    let b = bench.summary();
    metrics.frechet_data = b.frechet_data;
    metrics.data_confidence = b.data_confidence;
    metrics.test_nn_distance = b.test_nn_distance;
    Ok(metrics)
}

/// `train` without the rows that also occur in `test` (the same values, bit for bit; `None`
/// when no row is left), and how many were left out: the reference rows and the feature classifier of a [`Bench`] must
/// never include a row they are used to judge, whatever the data's name or path.
///
/// # Errors
/// Shape errors.
pub fn disjoint_from(train: Dataset, test: &Dataset) -> Result<(Option<Dataset>, usize)> {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};
    let key = |row: ndarray::ArrayView1<'_, f32>| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for v in row {
            v.to_bits().hash(&mut h);
        }
        h.finish()
    };
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, row) in test.x().outer_iter().enumerate() {
        seen.entry(key(row)).or_default().push(i);
    }
    let same = |a: ndarray::ArrayView1<'_, f32>, b: ndarray::ArrayView1<'_, f32>| {
        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    };
    let keep: Vec<usize> = train
        .x()
        .outer_iter()
        .enumerate()
        .filter(|(_, row)| {
            !seen
                .get(&key(*row))
                .is_some_and(|ids| ids.iter().any(|&j| same(*row, test.x().row(j))))
        })
        .map(|(i, _)| i)
        .collect();
    let dropped = train.n() - keep.len();
    if dropped == 0 {
        return Ok((Some(train), 0));
    }
    if keep.is_empty() {
        return Ok((None, dropped));
    }
    Ok((Some(train.select(&keep)?), dropped))
}

/// Mean over rows of the squared error summed over features.
pub fn sse_per_example(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> f64 {
    let total: f64 = x
        .iter()
        .zip(y.iter())
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    total / x.nrows().max(1) as f64
}

/// How much work the sample-based figures do.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSettings {
    /// Seed of every random choice (row subsets, posterior noise, latent samples).
    pub seed: u64,
    /// Importance samples per row for `nll_is` (VAEs; 0 skips it).
    pub iw_samples: usize,
    /// Decoded latent samples for completeness and the Fréchet distance, and test rows they
    /// are compared with (0 skips both).
    pub samples: usize,
    /// Encoded test points probed for continuity (0 skips it).
    pub continuity_points: usize,
    /// Continuity's step, as a fraction of the codes' RMS pairwise distance.
    pub continuity_step: f64,
    /// Training rows the nearest-neighbour distances are measured to.
    pub reference_rows: usize,
    /// Train the feature classifier (needs labels).
    pub classifier: bool,
    /// Its settings.
    pub classifier_config: ClassifierConfig,
}

impl EvalSettings {
    /// Refuse settings whose figures would need more memory than latent may use (see
    /// [`latent_core::memory`]): `iw_samples` keeps one f64 log-weight per sample of a row.
    /// Checked by [`Bench::new`], before any work.
    ///
    /// # Errors
    /// [`latent_core::Error::TooLarge`] naming the flag.
    pub fn check_memory(&self) -> Result<()> {
        latent_core::memory::check(
            format!("--iw-samples {}", self.iw_samples),
            latent_core::memory::cost(&[self.iw_samples, 8]),
        )?;
        Ok(())
    }
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            seed: 0,
            iw_samples: 100,
            samples: 2000,
            continuity_points: 1000,
            continuity_step: 0.05,
            reference_rows: 10_000,
            classifier: true,
            classifier_config: ClassifierConfig::default(),
        }
    }
}

/// The classifier that judges decoded samples, and its figures on real data.
pub struct Judge {
    /// The trained classifier.
    pub classifier: Classifier,
    /// Its accuracy on the test rows.
    pub accuracy: f64,
    /// Its mean top-class probability on the query rows (real test images).
    pub data_confidence: f64,
    /// The Fréchet distance between the query rows and as many training rows: the floor a
    /// perfect generator would reach with this sample size.
    pub frechet_data: f64,
    query_features: Array2<f32>,
}

/// What every model is measured against.
pub struct Bench {
    settings: EvalSettings,
    test: Dataset,
    /// Training rows (preprocessed): codes of all of them fit the sampling Gaussian of models
    /// without a prior.
    train: Dataset,
    reference: Array2<f32>,
    queries: Array2<f32>,
    query_nn_median: f64,
    judge: Option<Judge>,
    notes: Vec<String>,
}

/// The distinct values of `a` and `b` numbered in increasing order: their count and both
/// label lists in those numbers.
fn dense_labels(a: &[u32], b: &[u32]) -> (usize, Vec<u32>, Vec<u32>) {
    let mut values: Vec<u32> = a.iter().chain(b).copied().collect();
    values.sort_unstable();
    values.dedup();
    let number = |l: &u32| values.binary_search(l).map_or(0, |i| i as u32);
    (
        values.len(),
        a.iter().map(number).collect(),
        b.iter().map(number).collect(),
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, 0.5)
}

fn mean_top_probability(p: ArrayView2<'_, f32>) -> f64 {
    let n = p.nrows().max(1) as f64;
    p.rows()
        .into_iter()
        .map(|r| f64::from(r.iter().copied().fold(0.0f32, f32::max)))
        .sum::<f64>()
        / n
}

impl Bench {
    /// Build the bench: pick the reference and query rows, and train the classifier when
    /// the training rows have labels. `train` and `test` are preprocessed as the models'
    /// inputs, and disjoint. `log` hears what is being done.
    ///
    /// # Errors
    /// Shape mismatches, classifier training failures.
    pub fn new(
        train: Dataset,
        test: Dataset,
        settings: EvalSettings,
        device: &Device,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        settings.check_memory()?;
        if train.dim() != test.dim() {
            return Err(Error::invalid(format!(
                "training rows have {} features, test rows {}",
                train.dim(),
                test.dim()
            )));
        }
        let mut notes = Vec::new();
        let reference = pick_rows(
            train.x(),
            settings.reference_rows.max(1),
            &mut rng(derive(settings.seed, "eval-reference")),
        );
        let (queries, query_nn_median) = if settings.samples > 0 {
            let q = pick_rows(
                test.x(),
                settings.samples,
                &mut rng(derive(settings.seed, "eval-queries")),
            );
            if q.nrows() < settings.samples {
                notes.push(format!(
                    "only {} test rows: completeness and the Fréchet distance use {} samples",
                    q.nrows(),
                    q.nrows()
                ));
            }
            let nn = nearest_distances(q.view(), reference.view())?;
            (q, median(nn.to_vec()))
        } else {
            (Array2::zeros((0, test.dim())), f64::NAN)
        };
        let judge = 'judge: {
            match (settings.classifier, train.labels(), test.labels()) {
                (false, _, _) => None,
                (true, Some(train_labels), Some(test_labels)) => {
                    // the classes are the distinct label values, numbered densely: a CSV label of
                    // 50,000,000 is one class, not an output layer of 50 million
                    let (classes, train_labels, test_labels) =
                        dense_labels(train_labels, test_labels);
                    let (train_labels, test_labels) = (&train_labels[..], &test_labels[..]);
                    if classes < 2 {
                        notes.push(
                            "one label value only: the classifier-based figures (frechet, \
                         sample_confidence) are absent"
                                .into(),
                        );
                        break 'judge None;
                    }
                    log(&format!(
                        "training the feature classifier (MLP {:?}, {} epochs) on {} labelled rows",
                        settings.classifier_config.hidden,
                        settings.classifier_config.epochs,
                        train.n()
                    ));
                    let classifier = Classifier::train(
                        train.x(),
                        train_labels,
                        classes,
                        &settings.classifier_config,
                        device,
                    )?;
                    let accuracy = classifier.accuracy(test.x(), test_labels)?;
                    log(&format!(
                        "classifier accuracy on the {} test rows: {:.2} %",
                        test.n(),
                        100.0 * accuracy
                    ));
                    let query_features = classifier.features(queries.view())?;
                    let data_confidence =
                        mean_top_probability(classifier.probabilities(queries.view())?.view());
                    let frechet_data = if queries.nrows() >= 2 {
                        let same = pick_rows(
                            train.x(),
                            queries.nrows(),
                            &mut rng(derive(settings.seed, "eval-frechet-floor")),
                        );
                        frechet_distance(
                            classifier.features(same.view())?.view(),
                            query_features.view(),
                        )?
                    } else {
                        f64::NAN
                    };
                    Some(Judge {
                        classifier,
                        accuracy,
                        data_confidence,
                        frechet_data,
                        query_features,
                    })
                }
                (true, _, _) => {
                    notes.push(
                    "no labels: the classifier-based figures (frechet, sample_confidence) are absent"
                        .into(),
                );
                    None
                }
            }
        };
        Ok(Bench {
            settings,
            test,
            train,
            reference,
            queries,
            query_nn_median,
            judge,
            notes,
        })
    }

    /// The test rows.
    pub fn test(&self) -> &Dataset {
        &self.test
    }

    /// Remarks on what could not be measured.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Figures of the bench itself (not of a model): counts, the classifier's accuracy, the
    /// data's own Fréchet floor and confidence.
    pub fn summary(&self) -> BenchSummary {
        let mut out = BenchSummary {
            train_rows: self.train.n(),
            test_rows: self.test.n(),
            reference_rows: self.reference.nrows(),
            ..BenchSummary::default()
        };
        if self.queries.nrows() > 0 {
            out.samples = Some(self.queries.nrows());
            out.test_nn_distance = Some(self.query_nn_median);
        }
        if let Some(j) = &self.judge {
            out.classifier_accuracy = Some(j.accuracy);
            out.data_confidence = Some(j.data_confidence);
            if j.frechet_data.is_finite() {
                out.frechet_data = Some(j.frechet_data);
            }
        }
        out
    }

    /// The training rows (preprocessed).
    pub fn train(&self) -> &Dataset {
        &self.train
    }
}

/// Samples from the model's prior (VAE), or from a Gaussian fitted to the codes of the
/// training rows (PCA, autoencoders): the same rule as `latent sample` ([`LatentSource`]).
///
/// # Errors
/// The model's errors; a degenerate code distribution.
pub fn prior_samples(
    model: &Model,
    train: ArrayView2<'_, f32>,
    n: usize,
    seed: u64,
) -> Result<(Array2<f32>, LatentSource)> {
    let mut r = rng(derive(seed, "eval-samples"));
    let source = LatentSource::for_model(model, || Ok(model.reduction().encode(train)?))?;
    let s = source.sample(model, n, 1.0, &mut r)?;
    Ok((s.decoded, source))
}

/// Every figure that applies to `model`, measured on `bench`. Keys that do not apply are
/// absent. `log` hears about the slow steps.
///
/// # Errors
/// The model's errors and numerical failures.
pub fn evaluate(model: &Model, bench: &Bench, log: &mut dyn FnMut(&str)) -> Result<Metrics> {
    let s = &bench.settings;
    let x = bench.test.x();
    let red: &dyn Reduction = model.reduction();
    let recon = red.reconstruct(x)?;
    let mut out = Metrics {
        n: bench.test.n(),
        recon_mse: sse_per_example(x, recon.view()),
        ..Metrics::default()
    };
    if let Model::Nn(m) = model
        && m.config().is_vae()
    {
        let [loss, rec, kl] = m.losses(x, derive(s.seed, "eval"))?;
        match m.config().likelihood {
            Likelihood::Bernoulli => out.recon_bce = Some(rec),
            _ => out.recon_nll = Some(rec),
        }
        out.kl = Some(kl);
        out.elbo = Some(-loss);
        let post = latent_core::Probabilistic::encode_distribution(m.as_ref(), x)?;
        out.kl_per_dim = Some(latent_explore::kl_per_dim(&post).to_vec());
        out.active_units = Some(latent_explore::active_units(post.mean().view(), 0.01));
        if s.iw_samples > 0 {
            // its memory was checked when the bench was built (`EvalSettings::check_memory`)
            log(&format!(
                "importance sampling ({} samples per row)",
                s.iw_samples
            ));
            let lp = m.log_likelihood_is(x, s.iw_samples, derive(s.seed, "nll"))?;
            out.nll_is = Some(-lp.mean().unwrap_or(f64::NAN));
            out.iw_samples = Some(s.iw_samples);
        }
    }
    if s.continuity_points >= 2 && bench.test.n() >= 2 {
        match continuity(
            red,
            x,
            s.continuity_points,
            s.continuity_step,
            &mut rng(derive(s.seed, "eval-continuity")),
        ) {
            Ok(c) => {
                out.continuity = Some(c.mean);
                out.continuity_q95 = Some(c.q95);
                out.continuity_points = Some(c.points);
                out.continuity_step = Some(c.step);
            }
            // constant data, or a model that maps every row to one code: no continuity figure
            Err(latent_core::Error::Degenerate(why)) => {
                log(&format!("continuity is not measured: {why}"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let n = bench.queries.nrows();
    if n >= 2 {
        log(&format!("decoding {n} latent samples"));
        let (samples, source) = prior_samples(model, bench.train.x(), n, s.seed)?;
        out.sample_source = Some(source.describe().to_string());
        let nn = median(nearest_distances(samples.view(), bench.reference.view())?.to_vec());
        out.completeness = Some(nn / bench.query_nn_median);
        out.sample_nn_distance = Some(nn);
        out.samples = Some(n);
        if let Some(j) = &bench.judge {
            let p = j.classifier.probabilities(samples.view())?;
            out.sample_confidence = Some(mean_top_probability(p.view()));
            let f = j.classifier.features(samples.view())?;
            out.frechet = Some(frechet_distance(f.view(), j.query_features.view())?);
            out.frechet_samples = Some(n);
            out.classifier_accuracy = Some(j.accuracy);
        }
    }
    Ok(out)
}
