use std::path::PathBuf;

/// Errors of the application library: each wraps the error of the layer that failed, so that
/// the message names the file and the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad settings or input, in words (the front end shows the message as it is).
    #[error("{0}")]
    Invalid(String),
    /// Core errors: shapes, parameters, refusals to write, locks.
    #[error(transparent)]
    Core(#[from] latent_core::Error),
    /// Reading or writing data files.
    #[error(transparent)]
    Data(#[from] latent_data::DataError),
    /// The neural models.
    #[error(transparent)]
    Nn(#[from] latent_nn::NnError),
    /// Figures and the report.
    #[error(transparent)]
    Report(#[from] latent_report::ReportError),
    /// Run directories.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// One fit of a comparison failed: the run's name, the error, and what to change.
    #[error("{run}: {source}{hint}")]
    InRun {
        /// The run of the comparison (`vae-k2-beta1`).
        run: String,
        /// Words added after the error (empty, or a flag to try).
        hint: String,
        /// The error of the fit.
        #[source]
        source: Box<Error>,
    },
    /// A bug: something that should not fail did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A bad setting or input, in words.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// Whether the user's input or settings caused it (a front end's exit code 1), rather than
    /// the environment or a bug (exit code 2).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Invalid(_) => true,
            Error::Core(e) => e.is_user_error(),
            Error::Data(e) => e.is_user_error(),
            Error::Nn(e) => e.is_user_error(),
            Error::Report(e) => e.is_user_error(),
            Error::Run(e) => e.is_user_error(),
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            Error::InRun { source, .. } => source.is_user_error(),
            Error::Internal(_) => false,
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
