use std::path::PathBuf;

/// Errors of the neural models: settings, shapes, divergence, checkpoints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// A setting is invalid (from `check()`).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParam {
        /// The setting, as the user spells it.
        name: String,
        /// Why.
        reason: String,
    },
    /// Training produced a NaN or infinite value.
    #[error("training diverged at epoch {epoch}, step {step}: {what} is not finite{hint}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// Which quantity.
        what: String,
        /// What is kept and what to try, starting with "; " (empty when unknown).
        hint: String,
    },
    /// A checkpoint or weights file is missing, malformed or fails its checksum.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The observer stopped training between two steps ([`crate::Observer::proceed`]: a
    /// front end's interrupt, Ctrl-C in Python); nothing of the epoch in progress is kept.
    #[error("training interrupted at epoch {epoch}, step {step}: {why}")]
    Interrupted {
        /// 1-based epoch in progress.
        epoch: usize,
        /// 1-based step of it that had just finished.
        step: usize,
        /// Why, in words.
        why: String,
    },
    /// A tensor operation of the backend failed (device errors, unsupported dtypes).
    #[error("backend: {0}")]
    Backend(String),
    /// Shapes, data, file writes.
    #[error(transparent)]
    Core(#[from] latent_core::Error),
}

impl NnError {
    /// An invalid-parameter error.
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        NnError::InvalidParam {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Whether the user can fix it (bad settings, bad files, divergence) — exit code 1 —
    /// rather than an internal or environment failure.
    pub fn is_user_error(&self) -> bool {
        match self {
            NnError::InvalidParam { .. }
            | NnError::Diverged { .. }
            | NnError::Checkpoint { .. }
            | NnError::Interrupted { .. } => true,
            NnError::Backend(_) => false,
            NnError::Core(e) => e.is_user_error(),
        }
    }
}

/// Result with [`NnError`].
pub type Result<T, E = NnError> = std::result::Result<T, E>;
