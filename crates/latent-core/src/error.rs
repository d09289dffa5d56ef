use std::path::PathBuf;

/// Errors of the core types: shapes, parameters and file system writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An array had the wrong shape for the operation.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        /// What was being checked, e.g. "encode input".
        what: String,
        /// The expected shape, in words.
        expected: String,
        /// The shape that was found.
        got: String,
    },
    /// A hyper-parameter is outside its valid range (reported by `check()`).
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParam {
        /// The parameter's name as the user spells it.
        name: String,
        /// Why the value is invalid.
        reason: String,
    },
    /// A dataset had no rows or no columns where some were needed.
    #[error("empty dataset: {0}")]
    Empty(String),
    /// A measurement has nothing to measure (e.g. rows that are all equal have no scale).
    #[error("nothing to measure: {0}")]
    Degenerate(String),
    /// A value that must be finite was NaN or infinite.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// A streamed data source failed to produce rows (its message names the file).
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A saved artefact (weights, checkpoint) is malformed or fails its checksum.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The output exists and `--force` was not given.
    #[error("{}: already exists (use --force to replace it)", path.display())]
    Exists {
        /// The existing path.
        path: PathBuf,
    },
    /// The output may not be written or replaced (it is not latent's, or holds an input).
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The output path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another process is writing the same output.
    #[error("{}: another latent process (pid {pid}) is writing it: `{command}`", path.display())]
    Locked {
        /// The output path.
        path: PathBuf,
        /// The process holding the lock.
        pid: u32,
        /// Its command line.
        command: String,
    },
    /// An input or a request would need more memory than latent may use
    /// ([`crate::memory`]).
    #[error(
        "{what} would need {}, more than the {} latent may use ({})",
        crate::memory::format_size(*needed),
        crate::memory::format_size(u128::from(*limit)),
        if *explicit {
            "the limit set by --max-memory or LATENT_MAX_MEMORY"
        } else {
            "the memory available now; --max-memory or LATENT_MAX_MEMORY sets another limit"
        }
    )]
    TooLarge {
        /// What would be allocated, in words (names the flag or the file).
        what: String,
        /// Its cost in bytes.
        needed: u128,
        /// The limit in bytes.
        limit: u64,
        /// Whether the limit was set explicitly.
        explicit: bool,
    },
    /// The processes of a job failed to exchange data ([`crate::collective`]).
    #[error("exchange between the ranks of the job: {0}")]
    Collective(String),
    /// Writing a file failed; the previous content (if any) is intact.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A shape error, built from any displayable parts.
    pub fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// An invalid-parameter error.
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParam {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Whether the error was caused by the user's input or settings (as opposed to the
    /// environment or a bug). The CLI maps this to exit code 1.
    pub fn is_user_error(&self) -> bool {
        match self {
            // a missing or unreadable input, a path that is not a regular file
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
            ),
            _ => true,
        }
    }
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
