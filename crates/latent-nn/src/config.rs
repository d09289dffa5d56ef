//! Settings of the learned encoder/decoder pairs: which family, which architecture, which
//! likelihood, and how they are trained. Plain serde data, recorded in a run's `config.json`;
//! [`NetConfig::check`] and [`TrainConfig::check`] turn invalid settings into errors before
//! anything is built.

use serde::{Deserialize, Serialize};

use crate::{NnError, Result};

/// The family `E × D` of the encoder/decoder pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// One linear encoder, one linear decoder, squared error: spans PCA's subspace.
    LinearAe,
    /// A deterministic non-linear autoencoder, squared error.
    Ae,
    /// A variational autoencoder: Gaussian posterior, decoder likelihood, KL to `N(0, I)`.
    Vae,
}

impl ModelKind {
    /// The name used on the command line and in `Reduction::method`.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LinearAe => "linear-ae",
            ModelKind::Ae => "ae",
            ModelKind::Vae => "vae",
        }
    }
}

/// Non-linearity between hidden layers.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x · σ(x)`.
    Silu,
    /// `max(0.01 x, x)`.
    LeakyRelu,
}

/// The shape of the posterior covariance of a VAE.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PosteriorKind {
    /// Mean and log-variance per latent dimension.
    #[default]
    Diagonal,
    /// Mean and a lower-triangular Cholesky factor with a positive (exp) diagonal.
    Full,
}

/// The decoder's likelihood `p(x|z)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Likelihood {
    /// Independent Bernoulli per feature; the decoder outputs logits. For binary or
    /// binarized data (values in [0, 1] are accepted as soft targets).
    Bernoulli,
    /// Gaussian with a fixed standard deviation; the decoder outputs the mean.
    Gaussian {
        /// The fixed σ.
        sigma: f32,
    },
    /// Gaussian with a learned σ, one per feature or one shared.
    GaussianLearned {
        /// One σ for all features instead of one per feature.
        shared: bool,
    },
}

/// The architecture of the encoder and decoder networks.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// Fully connected layers.
    #[default]
    Mlp,
    /// For images: strided convolutions (kernel 4, stride 2, padding 1; each halves the
    /// sides) then the dense layers in the encoder; the mirror image with transposed
    /// convolutions in the decoder.
    Conv,
}

/// Everything needed to build the network (and rebuild it from saved weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// The family.
    pub kind: ModelKind,
    /// The architecture.
    #[serde(default)]
    pub arch: Arch,
    /// Features per input row, `D`.
    pub input_dim: usize,
    /// Latent dimension, `K`.
    pub latent_dim: usize,
    /// Hidden layer widths of the encoder (the decoder mirrors them). Ignored by `linear-ae`.
    pub hidden: Vec<usize>,
    /// Hidden non-linearity.
    #[serde(default)]
    pub activation: Activation,
    /// VAE posterior covariance.
    #[serde(default)]
    pub posterior: PosteriorKind,
    /// VAE decoder likelihood (autoencoders use squared error).
    pub likelihood: Likelihood,
    /// Image layout `[height, width, channels]` of a row (rows are HWC); needed by `conv`.
    #[serde(default)]
    pub image: Option<[usize; 3]>,
    /// Output channels of each strided convolution (`conv`).
    #[serde(default = "default_conv_channels")]
    pub conv_channels: Vec<usize>,
}

fn default_conv_channels() -> Vec<usize> {
    vec![32, 64]
}

impl NetConfig {
    /// The classic PyTorch example VAE: 784-400-20, ReLU, Bernoulli.
    pub fn reference_vae() -> Self {
        NetConfig {
            kind: ModelKind::Vae,
            arch: Arch::Mlp,
            input_dim: 784,
            latent_dim: 20,
            hidden: vec![400],
            activation: Activation::Relu,
            posterior: PosteriorKind::Diagonal,
            likelihood: Likelihood::Bernoulli,
            image: None,
            conv_channels: default_conv_channels(),
        }
    }

    /// For `conv`: the feature map after the convolutions, `[channels, height, width]`.
    pub fn conv_features(&self) -> Option<[usize; 3]> {
        let [h, w, _] = self.image?;
        let f = 1usize.checked_shl(self.conv_channels.len() as u32)?;
        let c = *self.conv_channels.last()?;
        (self.arch == Arch::Conv).then_some([c, h / f, w / f])
    }

    /// Validate.
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] naming the setting.
    pub fn check(&self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(NnError::param("input dim", "must be at least 1"));
        }
        if self.latent_dim == 0 {
            return Err(NnError::param("latent-dim", "must be at least 1"));
        }
        if self.latent_dim > 4096 {
            return Err(NnError::param("latent-dim", "must be at most 4096"));
        }
        if let Some(&w) = self.hidden.iter().find(|&&w| w == 0 || w > 1 << 16) {
            return Err(NnError::param(
                "hidden",
                format!("layer width {w} must be in 1..=65536"),
            ));
        }
        if self.kind != ModelKind::LinearAe && self.hidden.len() > 8 {
            return Err(NnError::param("hidden", "at most 8 hidden layers"));
        }
        if self.kind == ModelKind::Vae
            && self.posterior == PosteriorKind::Full
            && self.latent_dim > 256
        {
            return Err(NnError::param(
                "posterior",
                "a full covariance needs latent-dim ≤ 256",
            ));
        }
        if self.arch == Arch::Conv {
            let Some([h, w, c]) = self.image else {
                return Err(NnError::param(
                    "arch",
                    "conv needs image data (rows with an image shape)",
                ));
            };
            if self.kind == ModelKind::LinearAe {
                return Err(NnError::param(
                    "arch",
                    "a linear autoencoder has no convolutions",
                ));
            }
            let layers = self.conv_channels.len();
            if layers == 0
                || layers > 5
                || self.conv_channels.iter().any(|&ch| ch == 0 || ch > 1024)
            {
                return Err(NnError::param(
                    "conv-channels",
                    "1 to 5 layers of 1..=1024 channels",
                ));
            }
            let f = 1usize << layers;
            if h % f != 0 || w % f != 0 || h < f || w < f {
                return Err(NnError::param(
                    "arch",
                    format!(
                        "conv with {layers} stride-2 layers needs image sides divisible by {f}, got {h}×{w} (use --arch mlp)"
                    ),
                ));
            }
            if h.checked_mul(w).and_then(|hw| hw.checked_mul(c)) != Some(self.input_dim) {
                return Err(NnError::param(
                    "image",
                    format!("{h}×{w}×{c} is not {} features", self.input_dim),
                ));
            }
        }
        if let Likelihood::Gaussian { sigma } = self.likelihood
            && !(sigma.is_finite() && sigma > 0.0)
        {
            return Err(NnError::param(
                "sigma",
                format!("must be positive and finite, got {sigma}"),
            ));
        }
        Ok(())
    }

    /// Whether the model is a VAE.
    pub fn is_vae(&self) -> bool {
        self.kind == ModelKind::Vae
    }
}

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LrSchedule {
    /// Constant.
    #[default]
    Constant,
    /// Cosine decay from `lr` to `lr · final_fraction` over the epochs.
    Cosine {
        /// The last epoch's learning rate as a fraction of the first's.
        final_fraction: f64,
    },
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor.
        gamma: f64,
    },
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε (PyTorch's default 1e-8).
    pub eps: f64,
    /// L2 weight decay added to the gradient (PyTorch Adam's `weight_decay`).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    #[serde(default)]
    pub schedule: LrSchedule,
    /// The KL weight β (β-VAE; 1 is the ELBO).
    pub beta: f64,
    /// Epochs over which β rises linearly from 0 (0: no warm-up).
    pub kl_warmup_epochs: usize,
    /// Share of the rows held out for validation (0: none).
    pub val_fraction: f64,
    /// Stop when the validation loss has not improved for this many epochs (needs a
    /// validation split).
    pub early_stopping: Option<usize>,
    /// Draw a fresh binarization of each batch (values are Bernoulli probabilities).
    pub dynamic_binarize: bool,
    /// The seed every random choice derives from.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 128,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            schedule: LrSchedule::Constant,
            beta: 1.0,
            kl_warmup_epochs: 0,
            val_fraction: 0.0,
            early_stopping: None,
            dynamic_binarize: false,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Validate.
    ///
    /// # Errors
    /// [`NnError::InvalidParam`] naming the setting.
    pub fn check(&self) -> Result<()> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(NnError::param(
                    name,
                    format!("must be positive and finite, got {v}"),
                ))
            }
        };
        if self.epochs == 0 {
            return Err(NnError::param("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(NnError::param("batch-size", "must be at least 1"));
        }
        pos("lr", self.lr)?;
        pos("eps", self.eps)?;
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(NnError::param(name, format!("must be in [0, 1), got {b}")));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(NnError::param("weight-decay", "must be ≥ 0"));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(NnError::param("beta", "must be ≥ 0"));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(NnError::param("val-fraction", "must be in [0, 1)"));
        }
        if self.early_stopping.is_some() && self.val_fraction == 0.0 {
            return Err(NnError::param(
                "early-stopping",
                "needs a validation split (--val-fraction)",
            ));
        }
        match self.schedule {
            LrSchedule::Constant => {}
            LrSchedule::Cosine { final_fraction } => {
                if !(0.0..=1.0).contains(&final_fraction) {
                    return Err(NnError::param(
                        "lr-schedule",
                        "final fraction must be in [0, 1]",
                    ));
                }
            }
            LrSchedule::Step { every, gamma } => {
                if every == 0 || !(gamma > 0.0 && gamma <= 1.0) {
                    return Err(NnError::param(
                        "lr-schedule",
                        "step needs every ≥ 1 and gamma in (0, 1]",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The learning rate of `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine { final_fraction } => {
                let t = if self.epochs <= 1 {
                    0.0
                } else {
                    epoch as f64 / (self.epochs - 1) as f64
                };
                let f = final_fraction
                    + (1.0 - final_fraction) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                self.lr * f
            }
            LrSchedule::Step { every, gamma } => {
                self.lr * gamma.powi((epoch / every.max(1)) as i32)
            }
        }
    }

    /// The KL weight of `epoch` (0-based): β, ramped linearly over the warm-up epochs.
    pub fn beta_at(&self, epoch: usize) -> f64 {
        if self.kl_warmup_epochs == 0 {
            self.beta
        } else {
            self.beta * ((epoch + 1) as f64 / self.kl_warmup_epochs as f64).min(1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_errors() {
        let mut c = NetConfig::reference_vae();
        assert!(c.check().is_ok());
        c.latent_dim = 0;
        assert!(c.check().is_err());
        let mut c = NetConfig::reference_vae();
        c.likelihood = Likelihood::Gaussian { sigma: -1.0 };
        assert!(c.check().is_err());
        let t = TrainConfig {
            lr: f64::NAN,
            ..TrainConfig::default()
        };
        assert!(t.check().is_err());
        let t = TrainConfig {
            early_stopping: Some(3),
            ..TrainConfig::default()
        };
        assert!(t.check().is_err());
        assert!(TrainConfig::default().check().is_ok());
    }

    #[test]
    fn schedules() {
        let t = TrainConfig {
            kl_warmup_epochs: 4,
            beta: 2.0,
            ..TrainConfig::default()
        };
        assert_eq!(t.beta_at(0), 0.5);
        assert_eq!(t.beta_at(3), 2.0);
        assert_eq!(t.beta_at(10), 2.0);
        let t = TrainConfig {
            epochs: 5,
            schedule: LrSchedule::Cosine {
                final_fraction: 0.1,
            },
            ..TrainConfig::default()
        };
        assert!((t.lr_at(0) - 1e-3).abs() < 1e-12);
        assert!((t.lr_at(4) - 1e-4).abs() < 1e-12);
        let t = TrainConfig {
            schedule: LrSchedule::Step {
                every: 2,
                gamma: 0.5,
            },
            ..TrainConfig::default()
        };
        assert_eq!(t.lr_at(3), 5e-4);
    }
}
