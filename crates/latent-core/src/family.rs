//! The families of encoder/decoder pairs the chapter compares.

use serde::{Deserialize, Serialize};

/// A family `E × D` of encoder/decoder pairs, and how the pair is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Principal component analysis: the top eigenvectors of the covariance; the decoder is
    /// the encoder's transpose.
    Pca,
    /// Linear autoencoder: one linear encoder and decoder, squared error (PCA's subspace).
    LinearAe,
    /// Deep autoencoder: MLP or convolutional encoder and decoder, squared error.
    Ae,
    /// Variational autoencoder: Gaussian posterior, decoder likelihood, KL to N(0, I).
    Vae,
}

impl Family {
    /// Every family, in the chapter's order.
    pub const ALL: [Family; 4] = [Family::Pca, Family::LinearAe, Family::Ae, Family::Vae];

    /// The name on the command line, in run directories and in `Reduction::method`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Pca => "pca",
            Family::LinearAe => "linear-ae",
            Family::Ae => "ae",
            Family::Vae => "vae",
        }
    }

    /// The name in a report's prose ("PCA", "linear AE", "deep AE", "VAE").
    pub fn label(self) -> &'static str {
        match self {
            Family::Pca => "PCA",
            Family::LinearAe => "linear AE",
            Family::Ae => "deep AE",
            Family::Vae => "VAE",
        }
    }

    /// Whether the pair is trained by gradient descent (a neural network).
    pub fn is_neural(self) -> bool {
        self != Family::Pca
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
