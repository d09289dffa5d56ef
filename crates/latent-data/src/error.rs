use std::path::PathBuf;

/// Everything that can go wrong reading, writing or transforming data.
///
/// Every variant names what it is about (a path, a dataset name, an option) and the cause, so
/// its `Display` is a complete one-line message, e.g.
/// `t10k-images.gz: bad magic 0x00000803 (expected 2049)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder being read or written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The content of a file is malformed: bad magic, unsupported type, wrong shape,
    /// truncated or trailing data, a ragged CSV row, a non-numeric or non-finite cell, images of
    /// different sizes, no data at all…
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file (or folder, or dataset name) whose content is wrong.
        path: PathBuf,
        /// What is wrong, with positions and expected-versus-found values.
        reason: String,
    },
    /// The file declares (or decompresses to) more data than latent accepts in memory; refused
    /// before allocating.
    #[error("{}: {reason}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The size that was claimed and the bound it exceeds.
        reason: String,
    },
    /// A named dataset that is not embedded and is not installed on this machine.
    #[error("dataset `{name}` is not available: {hint}")]
    MissingDataset {
        /// The dataset's name, e.g. `fashion-mnist`.
        name: String,
        /// Where it was looked for and how to install it.
        hint: String,
    },
    /// A `--data` argument that is neither a known dataset name nor a readable kind of path.
    #[error("`{spec}`: {reason}")]
    UnknownDataset {
        /// The argument as given.
        spec: String,
        /// Why it was not recognised, and what is accepted.
        reason: String,
    },
    /// An option or argument that does not apply (a split the dataset does not have, a label
    /// column that does not exist, arrays of mismatched sizes…).
    #[error("{what}: {reason}")]
    Invalid {
        /// The option or argument, as the user would spell it.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The data was read but does not form a valid [`latent_core::Dataset`] (its message
    /// already names the file, which is also kept in `path`).
    #[error("{source}")]
    Core {
        /// The file the dataset came from.
        path: PathBuf,
        /// The core error.
        #[source]
        source: latent_core::Error,
    },
}

impl DataError {
    /// Whether the error was caused by the user's input or options (exit code 1) rather than
    /// by the environment or a bug (exit code 2).
    ///
    /// Everything is a user error except I/O errors other than "not found", "permission
    /// denied", "is a directory" / "not a directory", "already exists", invalid data and
    /// unexpected end of file — all of which point at a path the user gave. A failing disk or a
    /// full file system while writing is therefore an internal failure.
    pub fn is_user_error(&self) -> bool {
        use std::io::ErrorKind as K;
        match self {
            DataError::Io { source, .. } => matches!(
                source.kind(),
                K::NotFound
                    | K::PermissionDenied
                    | K::IsADirectory
                    | K::NotADirectory
                    | K::AlreadyExists
                    | K::InvalidData
                    | K::UnexpectedEof
            ),
            DataError::Core { source, .. } => source.is_user_error(),
            _ => true,
        }
    }
}

/// Result with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;
