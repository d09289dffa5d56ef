//! Where latent points come from, decided once for every front end: a model with a prior (a
//! VAE) is sampled from its prior; PCA and autoencoders have none, so a Gaussian fitted to
//! their codes of some data (by default the training data) stands in for it — the most
//! favourable way to sample a model without a prior.

use latent_explore::{CodeGaussian, Sampler, Samples};
use ndarray::Array2;
use rand::RngCore;

use crate::Result;
use crate::run::Model;

/// The distribution latent points are drawn from for one model.
#[derive(Debug, Clone)]
pub enum LatentSource {
    /// The model's own prior `p(z)`.
    Prior,
    /// A Gaussian fitted to the model's codes of some data.
    Fitted(CodeGaussian),
}

impl LatentSource {
    /// The prior of a model that has one; otherwise a Gaussian fitted to `codes()` (called
    /// only then).
    ///
    /// # Errors
    /// `codes`' errors; a degenerate code distribution.
    pub fn for_model(model: &Model, codes: impl FnOnce() -> Result<Array2<f32>>) -> Result<Self> {
        Ok(if model.probabilistic().is_some() {
            LatentSource::Prior
        } else {
            LatentSource::Fitted(CodeGaussian::fit(codes()?.view())?)
        })
    }

    /// The sampler over `model` (the model this source was made for).
    ///
    /// # Errors
    /// [`crate::Error::Internal`] when the source is a prior and the model has none.
    pub fn sampler<'a>(&'a self, model: &'a Model) -> Result<Sampler<'a>> {
        match (self, model.probabilistic()) {
            (LatentSource::Prior, Some(p)) => Ok(Sampler::ModelPrior(p)),
            (LatentSource::Fitted(g), _) => Ok(Sampler::FittedToCodes {
                model: model.reduction(),
                gaussian: g,
            }),
            (LatentSource::Prior, None) => Err(crate::Error::Internal(format!(
                "a prior was asked of a {} model, which has none",
                model.reduction().method()
            ))),
        }
    }

    /// What the points are drawn from, in words (as recorded in `sample_source`).
    pub fn describe(&self) -> &'static str {
        match self {
            LatentSource::Prior => "prior",
            LatentSource::Fitted(_) => "gaussian fitted to the training codes",
        }
    }

    /// The fitted Gaussian, for a model without a prior.
    pub fn gaussian(&self) -> Option<&CodeGaussian> {
        match self {
            LatentSource::Prior => None,
            LatentSource::Fitted(g) => Some(g),
        }
    }

    /// Draw `n` points at `temperature` and decode them.
    ///
    /// # Errors
    /// The model's errors.
    pub fn sample(
        &self,
        model: &Model,
        n: usize,
        temperature: f32,
        rng: &mut dyn RngCore,
    ) -> Result<Samples> {
        Ok(latent_explore::sample(
            self.sampler(model)?,
            n,
            temperature,
            rng,
        )?)
    }
}
