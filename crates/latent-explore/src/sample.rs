//! Generating new data: codes drawn from a distribution over the latent space, decoded.

use std::fmt;

use latent_core::{Error, Probabilistic, Reduction, Result};
use ndarray::Array2;
use rand::RngCore;

use crate::CodeGaussian;

/// Where the codes of [`sample`] come from, together with the model that decodes them.
///
/// Each variant names its distribution, so a caller cannot sample without choosing one, and the
/// result ([`Samples::source`]) says which was used.
#[derive(Clone, Copy)]
pub enum Sampler<'a> {
    /// The model's own prior `p(z)` ([`Probabilistic::sample_prior`], `N(0, I)` by default);
    /// the same model decodes.
    ModelPrior(&'a dyn Probabilistic),
    /// A Gaussian fitted to the codes of the training data, decoded by `model`: the way to
    /// sample a model without a prior (PCA, a deterministic autoencoder).
    FittedToCodes {
        /// The decoder.
        model: &'a dyn Reduction,
        /// The distribution of the codes, fitted with [`CodeGaussian::fit`].
        gaussian: &'a CodeGaussian,
    },
}

impl fmt::Debug for Sampler<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampler::ModelPrior(m) => f.debug_tuple("ModelPrior").field(&m.method()).finish(),
            Sampler::FittedToCodes { model, gaussian } => f
                .debug_struct("FittedToCodes")
                .field("model", &model.method())
                .field("gaussian", gaussian)
                .finish(),
        }
    }
}

impl Sampler<'_> {
    /// Which distribution this sampler draws from.
    pub fn source(&self) -> PriorSource {
        match self {
            Sampler::ModelPrior(_) => PriorSource::ModelPrior,
            Sampler::FittedToCodes { .. } => PriorSource::FittedToCodes,
        }
    }
}

/// Which distribution a set of samples was drawn from; its `Display` is a phrase for the user
/// ("the model's prior p(z)", "a Gaussian fitted to the training codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PriorSource {
    /// The model's prior `p(z)`.
    ModelPrior,
    /// A full-covariance Gaussian fitted to the codes of the training data.
    FittedToCodes,
}

impl fmt::Display for PriorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PriorSource::ModelPrior => "the model's prior p(z)",
            PriorSource::FittedToCodes => "a Gaussian fitted to the training codes",
        })
    }
}

/// The result of [`sample`]: the codes, their decodings, and where the codes came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// `n × K` codes.
    pub codes: Array2<f32>,
    /// `n × D` decoded points (the decoder's mean, in model space).
    pub decoded: Array2<f32>,
    /// The distribution the codes were drawn from.
    pub source: PriorSource,
    /// The temperature that scaled the standard deviation.
    pub temperature: f32,
}

/// Draw `n` codes from `sampler`'s distribution with its standard deviation scaled by
/// `temperature`, and decode them.
///
/// For [`Sampler::ModelPrior`] the prior draws are multiplied by `temperature`, which scales the
/// standard deviation of the default `N(0, I)` prior (for a prior with a non-zero mean it would
/// scale about the origin). For [`Sampler::FittedToCodes`], `z = μ + T · L ε`
/// ([`CodeGaussian::sample`]). `T = 1` samples the distribution itself; `T < 1` trades
/// diversity for typicality; `T = 0` gives the mean code.
///
/// # Errors
/// [`Error::InvalidParam`] for `n = 0` or a negative or non-finite temperature;
/// [`Error::Shape`] when the fitted Gaussian's dimension is not the model's latent dimension;
/// the decoder's errors.
pub fn sample(
    sampler: Sampler<'_>,
    n: usize,
    temperature: f32,
    rng: &mut dyn RngCore,
) -> Result<Samples> {
    if n == 0 {
        return Err(Error::param("n", "at least one sample is needed"));
    }
    if !(temperature.is_finite() && temperature >= 0.0) {
        return Err(Error::param(
            "temperature",
            format!("must be a finite number ≥ 0, got {temperature}"),
        ));
    }
    let (codes, decoded) = match sampler {
        Sampler::ModelPrior(model) => {
            let mut z = model.sample_prior(n, rng);
            z.mapv_inplace(|v| v * temperature);
            let x = model.decode(z.view())?;
            (z, x)
        }
        Sampler::FittedToCodes { model, gaussian } => {
            if gaussian.dim() != model.latent_dim() {
                return Err(Error::shape(
                    "fitted code distribution",
                    format!("{} dimensions (the model's latent dim)", model.latent_dim()),
                    format!("{} dimensions", gaussian.dim()),
                ));
            }
            let z = gaussian.sample(n, temperature, rng);
            let x = model.decode(z.view())?;
            (z, x)
        }
    };
    Ok(Samples {
        codes,
        decoded,
        source: sampler.source(),
        temperature,
    })
}
