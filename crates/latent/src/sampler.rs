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

    /// The source for sampling `model` as its own training rows describe it: the prior of a
    /// model that has one; for PCA, the Gaussian of its training codes in closed form
    /// ([`pca_code_gaussian`], `codes` is not called); otherwise a Gaussian fitted to
    /// `codes()`, which must be the codes of the rows the model was fitted on.
    ///
    /// # Errors
    /// `codes`' errors; a degenerate code distribution.
    pub fn for_training_data(
        model: &Model,
        codes: impl FnOnce() -> Result<Array2<f32>>,
    ) -> Result<Self> {
        match model {
            Model::Pca(p) => Ok(LatentSource::Fitted(pca_code_gaussian(p)?)),
            _ => Self::for_model(model, codes),
        }
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

    /// The fitted Gaussian, owned, for a model without a prior.
    pub fn into_gaussian(self) -> Option<CodeGaussian> {
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

/// The Gaussian of a PCA's codes of its own training rows, in closed form: the codes
/// `(x − μ) Vᵀ` of the rows the mean and covariance `S` were computed from have mean 0 and
/// covariance `V S Vᵀ = diag(explained_variance)` (divided by `n − 1`, as
/// [`CodeGaussian::fit`] divides); whitened codes have the identity (0 for a component of zero
/// variance, which whitening encodes to 0). It equals [`CodeGaussian::fit`] of those codes up
/// to their f32 rounding, without encoding the rows again.
///
/// # Errors
/// [`crate::Error`] for a degenerate variance that no jitter makes positive definite.
pub fn pca_code_gaussian(pca: &latent_pca::Pca) -> Result<CodeGaussian> {
    let var = pca.explained_variance();
    let k = var.len();
    let mut cov = vec![0.0f64; k * k];
    for (i, &v) in var.iter().enumerate() {
        cov[i * k + i] = match (pca.whiten(), v > 0.0) {
            (true, true) => 1.0,
            (true, false) => 0.0,
            (false, _) => f64::from(v.max(0.0)),
        };
    }
    Ok(CodeGaussian::from_moments(&vec![0.0; k], &cov)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use latent_core::{Fit, ParamGuard, Reduction};
    use latent_pca::{Components, PcaParams, Solver};

    /// The closed form is the Gaussian `CodeGaussian::fit` finds in PCA's codes of its own
    /// training rows (up to their f32 rounding), plain and whitened, for each solver.
    #[test]
    fn pca_closed_form_is_the_gaussian_of_its_training_codes() {
        let x = latent_data::embedded::digits().unwrap().x().to_owned();
        for solver in [Solver::Exact, Solver::Randomized, Solver::Incremental] {
            for whiten in [false, true] {
                let pca = PcaParams::new(Components::Count(10))
                    .solver(solver)
                    .whiten(whiten)
                    .check()
                    .unwrap()
                    .fit(&x.view())
                    .unwrap();
                let fitted = CodeGaussian::fit(pca.encode(x.view()).unwrap().view()).unwrap();
                let closed = pca_code_gaussian(&pca).unwrap();
                let (a, b) = (fitted.covariance(), closed.covariance());
                let largest = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let gap = (&a - &b).iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let drift = fitted.mean().iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let what = format!("{solver:?} whiten={whiten}");
                // measured: 4e-8 exact, 3e-6 randomized (approximate eigenvectors)
                assert!(
                    gap <= 1e-5 * largest,
                    "{what}: covariance off by {gap} of {largest}"
                );
                assert!(drift <= 1e-6 * largest.sqrt(), "{what}: code mean {drift}");
                assert!(closed.mean().iter().all(|&m| m == 0.0), "{what}");
                assert_eq!(closed.jitter(), 0.0, "{what}");
            }
        }
    }
}
