use std::path::PathBuf;

/// Everything that can go wrong drawing or writing a figure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Writing the file failed (a missing directory, no permission, a full disk); the previous
    /// content of the file, if any, is intact.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data to plot is unusable: no points, a NaN, a label per point missing, a
    /// non-positive value on a log axis, pixel buffers of the wrong size…
    #[error("{what}: {reason}")]
    Invalid {
        /// The figure or argument concerned.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The plotting library failed to draw (an internal failure: the embedded font did not
    /// load, a backend error).
    #[error("drawing {what}: {reason}")]
    Draw {
        /// The figure being drawn.
        what: String,
        /// The plotting library's message.
        reason: String,
    },
}

impl ReportError {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        ReportError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// A failed atomic write of `path` (latent-core's error) as [`ReportError::Io`].
    pub(crate) fn write(path: &std::path::Path, e: latent_core::Error) -> Self {
        match e {
            latent_core::Error::Io { path, source } => ReportError::Io { path, source },
            other => ReportError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }

    pub(crate) fn draw(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        ReportError::Draw {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// Whether the error was caused by the caller's data (exit code 1 in the CLI) rather than
    /// the environment or a bug.
    pub fn is_user_error(&self) -> bool {
        matches!(self, ReportError::Invalid { .. })
    }
}

/// Result with [`ReportError`].
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
