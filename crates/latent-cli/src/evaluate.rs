//! Every figure of `latent eval` and `latent compare`, computed the same way for PCA,
//! autoencoders and VAEs: the same test rows, the same sample counts, the same seeds.
//!
//! A [`Bench`] holds what the models are measured against — the test rows, a reference set of
//! training rows, the classifier whose features define the Fréchet distance — built once per
//! data set; [`evaluate`] measures one model on it. The definitions are in the README's
//! "Metrics" section.

use anyhow::Result;
use latent_core::seed::{derive, rng};
use latent_core::{Dataset, Reduction};
use latent_explore::{
    CodeGaussian, Sampler, continuity, frechet_distance, nearest_distances, pick_rows,
    quantile_sorted, sample,
};
use latent_nn::{Classifier, ClassifierConfig, Device, Likelihood};
use ndarray::{Array2, ArrayView2};
use serde_json::{Map, Value, json};

use crate::commands::sse_per_example;
use crate::run::Model;

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
        if train.dim() != test.dim() {
            anyhow::bail!(
                "training rows have {} features, test rows {}",
                train.dim(),
                test.dim()
            );
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
        let judge = match (settings.classifier, train.labels(), test.labels()) {
            (false, _, _) => None,
            (true, Some(train_labels), Some(test_labels)) => {
                let classes = train.class_names().map(<[String]>::len).unwrap_or(0).max(
                    train_labels
                        .iter()
                        .chain(test_labels)
                        .max()
                        .map_or(0, |&m| m as usize + 1),
                );
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
    pub fn summary(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("train_rows".into(), json!(self.train.n()));
        out.insert("test_rows".into(), json!(self.test.n()));
        out.insert("reference_rows".into(), json!(self.reference.nrows()));
        if self.queries.nrows() > 0 {
            out.insert("samples".into(), json!(self.queries.nrows()));
            out.insert("test_nn_distance".into(), json!(self.query_nn_median));
        }
        if let Some(j) = &self.judge {
            out.insert("classifier_accuracy".into(), json!(j.accuracy));
            out.insert("data_confidence".into(), json!(j.data_confidence));
            if j.frechet_data.is_finite() {
                out.insert("frechet_data".into(), json!(j.frechet_data));
            }
        }
        out
    }
}

/// Samples from the model's prior (VAE), or from a Gaussian fitted to the codes of the
/// training rows (PCA, autoencoders): the same rule as `latent sample`.
///
/// # Errors
/// The model's errors; a degenerate code distribution.
pub fn prior_samples(
    model: &Model,
    train: ArrayView2<'_, f32>,
    n: usize,
    seed: u64,
) -> Result<Array2<f32>> {
    let mut r = rng(derive(seed, "eval-samples"));
    let s = match model.probabilistic() {
        Some(p) => sample(Sampler::ModelPrior(p), n, 1.0, &mut r)?,
        None => {
            let codes = model.reduction().encode(train)?;
            let g = CodeGaussian::fit(codes.view())?;
            sample(
                Sampler::FittedToCodes {
                    model: model.reduction(),
                    gaussian: &g,
                },
                n,
                1.0,
                &mut r,
            )?
        }
    };
    Ok(s.decoded)
}

/// Every figure that applies to `model`, measured on `bench`. Keys that do not apply are
/// absent. `log` hears about the slow steps.
///
/// # Errors
/// The model's errors and numerical failures.
pub fn evaluate(
    model: &Model,
    bench: &Bench,
    log: &mut dyn FnMut(&str),
) -> Result<Map<String, Value>> {
    let s = &bench.settings;
    let x = bench.test.x();
    let red: &dyn Reduction = model.reduction();
    let mut out = Map::new();
    out.insert("n".into(), json!(bench.test.n()));
    let recon = red.reconstruct(x)?;
    out.insert("recon_mse".into(), json!(sse_per_example(x, recon.view())));
    if let Model::Nn(m) = model
        && m.config().is_vae()
    {
        let [loss, rec, kl] = m.losses(x, derive(s.seed, "eval"))?;
        let key = match m.config().likelihood {
            Likelihood::Bernoulli => "recon_bce",
            _ => "recon_nll",
        };
        out.insert(key.into(), json!(rec));
        out.insert("kl".into(), json!(kl));
        out.insert("elbo".into(), json!(-loss));
        let post = latent_core::Probabilistic::encode_distribution(m.as_ref(), x)?;
        out.insert(
            "kl_per_dim".into(),
            json!(latent_explore::kl_per_dim(&post).to_vec()),
        );
        out.insert(
            "active_units".into(),
            json!(latent_explore::active_units(post.mean().view(), 0.01)),
        );
        if s.iw_samples > 0 {
            log(&format!(
                "importance sampling ({} samples per row)",
                s.iw_samples
            ));
            let lp = m.log_likelihood_is(x, s.iw_samples, derive(s.seed, "nll"))?;
            out.insert("nll_is".into(), json!(-lp.mean().unwrap_or(f64::NAN)));
            out.insert("iw_samples".into(), json!(s.iw_samples));
        }
    }
    if s.continuity_points >= 2 && bench.test.n() >= 2 {
        let c = continuity(
            red,
            x,
            s.continuity_points,
            s.continuity_step,
            &mut rng(derive(s.seed, "eval-continuity")),
        )?;
        out.insert("continuity".into(), json!(c.mean));
        out.insert("continuity_q95".into(), json!(c.q95));
        out.insert("continuity_points".into(), json!(c.points));
        out.insert("continuity_step".into(), json!(c.step));
    }
    let n = bench.queries.nrows();
    if n >= 2 {
        log(&format!("decoding {n} latent samples"));
        let samples = prior_samples(model, bench.train.x(), n, s.seed)?;
        out.insert(
            "sample_source".into(),
            json!(if model.probabilistic().is_some() {
                "prior"
            } else {
                "gaussian fitted to the training codes"
            }),
        );
        let nn = median(nearest_distances(samples.view(), bench.reference.view())?.to_vec());
        out.insert("completeness".into(), json!(nn / bench.query_nn_median));
        out.insert("sample_nn_distance".into(), json!(nn));
        out.insert("samples".into(), json!(n));
        if let Some(j) = &bench.judge {
            let p = j.classifier.probabilities(samples.view())?;
            out.insert(
                "sample_confidence".into(),
                json!(mean_top_probability(p.view())),
            );
            let f = j.classifier.features(samples.view())?;
            out.insert(
                "frechet".into(),
                json!(frechet_distance(f.view(), j.query_features.view())?),
            );
            out.insert("frechet_samples".into(), json!(n));
            out.insert("classifier_accuracy".into(), json!(j.accuracy));
        }
    }
    Ok(out)
}
