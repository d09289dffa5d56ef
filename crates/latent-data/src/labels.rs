//! A labels file for any data (`latent … --labels FILE`): one label per row of the data, in
//! the same order, so that an NPY array (which has no label column) or any other data gets
//! classes to colour maps and train the evaluation classifier.
//!
//! - `.npy`: shape `(N,)` or `(N, 1)`, any integer dtype, or floats holding integers
//!   ([`crate::npy::read_labels`]);
//! - `.csv`, `.tsv`, `.txt` (optionally `.gz`): one column of non-negative integers or of class
//!   names (sorted distinct names become the classes `0..n`), with an optional header row.

use std::path::Path;

use latent_core::Dataset;

use crate::util::{core_err, format_err, invalid};
use crate::{Result, csv, npy};

/// The labels a file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    /// One label per row.
    pub values: Vec<u32>,
    /// The class names (`names[label]`) when the file holds names rather than numbers.
    pub names: Option<Vec<String>>,
    /// The header row of a CSV file, when it had one.
    pub header: Option<String>,
}

/// Read a labels file, its kind told by its name (see the module's documentation).
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid) for a name of another kind; the
/// readers' format errors naming the file (a second column, a negative or fractional label,
/// an empty one, another array shape…).
pub fn read(path: &Path) -> Result<Labels> {
    match kind(path)? {
        Kind::Npy => Ok(Labels {
            values: npy::read_labels(path)?,
            names: None,
            header: None,
        }),
        Kind::Text => csv::read_labels(path),
    }
}

enum Kind {
    Npy,
    Text,
}

fn kind(path: &Path) -> Result<Kind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let ends = |s: &[&str]| s.iter().any(|x| name.ends_with(x));
    if ends(&[".npy"]) {
        Ok(Kind::Npy)
    } else if ends(&[".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz"]) {
        Ok(Kind::Text)
    } else {
        Err(invalid(
            "labels file",
            format!(
                "{}: expected a .npy file (N or N×1 integers) or a one-column .csv / .txt file",
                path.display()
            ),
        ))
    }
}

/// Parse the content of a labels file named `name` (its kind told by the name, as [`read`]).
///
/// # Errors
/// As [`read`], for the content.
pub fn parse(name: &Path, bytes: &[u8]) -> Result<Labels> {
    match kind(name)? {
        Kind::Npy => Ok(Labels {
            values: npy::parse_labels(name, bytes)?,
            names: None,
            header: None,
        }),
        Kind::Text => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                format_err(
                    name,
                    format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                )
            })?;
            csv::parse_labels(name, text)
        }
    }
}

/// `data` with the labels of `path` (replacing any labels and class names it had).
///
/// # Errors
/// As [`read`]; [`DataError::Invalid`](crate::DataError::Invalid) naming both files and both
/// counts when the number of labels differs from the number of rows.
pub fn attach(data: Dataset, path: &Path) -> Result<Dataset> {
    let n = data.n();
    attach_rows(data, path, 0..n, n)
}

/// `data`, rows `rows` of data holding `n` rows in all, with the labels of those rows in
/// `path` (a file of `n` labels; read whole, labels files are small).
pub(crate) fn attach_rows(
    data: Dataset,
    path: &Path,
    rows: std::ops::Range<usize>,
    n: usize,
) -> Result<Dataset> {
    let labels = read(path)?;
    if labels.values.len() != n {
        let header = labels
            .header
            .as_ref()
            .map(|h| format!(" (after its header row `{h}`)"))
            .unwrap_or_default();
        return Err(invalid(
            "labels file",
            format!(
                "{} holds {} labels{header}, but {} has {} rows: one label per row, in order",
                path.display(),
                labels.values.len(),
                data.name(),
                n
            ),
        ));
    }
    let values = if rows == (0..n) {
        labels.values
    } else {
        labels
            .values
            .get(rows)
            .map(<[u32]>::to_vec)
            .unwrap_or_default()
    };
    data.with_classes(values, labels.names)
        .map_err(|e| core_err(path, e))
}
