//! Numeric delimited text: comma-separated (tab- or whitespace-separated files are detected
//! from the first line), optionally gzip-compressed (detected from the magic bytes).
//!
//! Cells are trimmed; surrounding double quotes are removed; blank lines and lines starting
//! with `#` (NumPy's `savetxt` header) are skipped. Errors give 1-based line and column
//! numbers, as an editor shows them.

use std::path::Path;

use latent_core::Dataset;
use ndarray::{Array2, ArrayView2};

use crate::Result;
use crate::util::{core_err, format_err, invalid, read_all_maybe_gz, write_atomic};

/// Whether the first row holds column names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Header {
    /// The first row is a header if any of its cells is not a number.
    #[default]
    Auto,
    /// The first row is a header.
    Present,
    /// Every row is data.
    Absent,
}

/// Which column holds integer class labels (the others are features).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// By position, counted from 0.
    Index(usize),
    /// By header name (the file must have a header).
    Name(String),
    /// The last column.
    Last,
}

/// How to read a CSV file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row is a header.
    pub header: Header,
    /// The label column, if any; labels must be non-negative integers.
    pub label: Option<LabelColumn>,
}

#[derive(Clone, Copy)]
enum Delim {
    Comma,
    Tab,
    Whitespace,
}

impl Delim {
    fn detect(line: &str) -> Self {
        if line.contains(',') {
            Delim::Comma
        } else if line.contains('\t') {
            Delim::Tab
        } else if line.split_whitespace().nth(1).is_some() {
            Delim::Whitespace
        } else {
            Delim::Comma
        }
    }

    fn split(self, line: &str) -> Vec<&str> {
        let cells: Vec<&str> = match self {
            Delim::Comma => line.split(',').collect(),
            Delim::Tab => line.split('\t').collect(),
            Delim::Whitespace => line.split_whitespace().collect(),
        };
        cells.into_iter().map(clean).collect()
    }
}

fn clean(cell: &str) -> &str {
    let t = cell.trim();
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map_or(t, str::trim)
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f32>().is_ok()
}

/// `(line number, cells)` of every non-blank, non-comment line.
fn records(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // lines end in LF or CRLF; a file with CR alone (classic Mac OS, some spreadsheet
    // exports) ends them in CR
    let lines: Box<dyn Iterator<Item = &str>> = if !text.contains('\n') && text.contains('\r') {
        Box::new(text.split('\r'))
    } else {
        Box::new(text.lines())
    };
    lines.enumerate().filter_map(|(i, l)| {
        let t = l.trim();
        (!t.is_empty() && !t.starts_with('#')).then_some((i + 1, l))
    })
}

fn parse_value(name: &Path, line: usize, col: usize, cell: &str) -> Result<f32> {
    if cell.is_empty() {
        return Err(format_err(
            name,
            format!("line {line}, column {}: empty cell", col + 1),
        ));
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(format_err(
            name,
            format!(
                "line {line}, column {}: {v} (values must be finite)",
                col + 1
            ),
        )),
        Err(_) => Err(format_err(
            name,
            format!("line {line}, column {}: `{cell}` is not a number", col + 1),
        )),
    }
}

fn parse_label(name: &Path, line: usize, col: usize, cell: &str) -> Result<u32> {
    if let Ok(v) = cell.parse::<u32>() {
        return Ok(v);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => Ok(v as u32),
        _ => Err(format_err(
            name,
            format!(
                "line {line}, column {}: label `{cell}` is not a non-negative integer",
                col + 1
            ),
        )),
    }
}

fn resolve_label(
    name: &Path,
    label: &LabelColumn,
    header: Option<&[&str]>,
    ncols: usize,
) -> Result<usize> {
    let what = "label column";
    let col = match label {
        LabelColumn::Last => ncols - 1,
        LabelColumn::Index(i) if *i < ncols => *i,
        LabelColumn::Index(i) => {
            return Err(invalid(
                what,
                format!(
                    "index {i} is out of range: {} has {ncols} columns (indices 0..{})",
                    name.display(),
                    ncols - 1
                ),
            ));
        }
        LabelColumn::Name(n) => {
            let Some(h) = header else {
                return Err(invalid(
                    what,
                    format!(
                        "`{n}` names a column, but {} has no header row",
                        name.display()
                    ),
                ));
            };
            match h.iter().position(|c| c == n) {
                Some(i) => i,
                None => {
                    let mut shown: Vec<&str> = h.iter().take(12).copied().collect();
                    if h.len() > 12 {
                        shown.push("…");
                    }
                    return Err(invalid(
                        what,
                        format!(
                            "`{n}` is not a column of {} (columns: {})",
                            name.display(),
                            shown.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    if ncols < 2 {
        return Err(invalid(
            what,
            format!(
                "{} has a single column: no features are left besides the labels",
                name.display()
            ),
        ));
    }
    Ok(col)
}

/// Parse numeric CSV text. Features become `f32` rows (no known range); the label column, if
/// any, must hold non-negative integers.
///
/// # Errors
/// [`DataError::Format`](crate::DataError::Format) naming `name` and the line and column
/// (1-based): a row with a different number of fields than the first (`line 7: 63 fields,
/// expected 65`), a cell that is not a number, NaN or infinite, a bad label, no data rows;
/// [`DataError::Invalid`](crate::DataError::Invalid) for a label column that does not exist.
pub fn parse(name: &Path, text: &str, opts: &CsvOptions) -> Result<Dataset> {
    let mut recs = records(text).peekable();
    let Some(&(first_line, first)) = recs.peek() else {
        return Err(format_err(name, "no data: the file is empty"));
    };
    let delim = Delim::detect(first);
    let first_cells = delim.split(first);
    let ncols = first_cells.len();
    let has_header = match opts.header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => first_cells.iter().any(|c| !is_number(c)),
    };
    let header = if has_header {
        recs.next();
        Some(first_cells)
    } else {
        None
    };
    let label = match &opts.label {
        Some(l) => Some(resolve_label(name, l, header.as_deref(), ncols)?),
        None => None,
    };
    let dim = ncols - usize::from(label.is_some());
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut rows = 0usize;
    for (line, text) in recs {
        let cells = delim.split(text);
        if cells.len() != ncols {
            let basis = if header.is_some() {
                "the header".to_string()
            } else {
                format!("line {first_line}")
            };
            return Err(format_err(
                name,
                format!(
                    "line {line}: {} fields, expected {ncols} like {basis}",
                    cells.len()
                ),
            ));
        }
        for (col, cell) in cells.iter().enumerate() {
            if Some(col) == label {
                labels.push(parse_label(name, line, col, cell)?);
            } else {
                values.push(parse_value(name, line, col, cell)?);
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(format_err(name, "no data rows (only a header)"));
    }
    let x = Array2::from_shape_vec((rows, dim), values)
        .map_err(|e| format_err(name, format!("array: {e}")))?;
    let mut ds = Dataset::new(name.display().to_string(), x).map_err(|e| core_err(name, e))?;
    if label.is_some() {
        ds = ds.with_labels(labels).map_err(|e| core_err(name, e))?;
    }
    Ok(ds)
}

fn read_text(path: &Path) -> Result<String> {
    // the text, the parsed rows (f32, at most 2 bytes of text per value) and the dataset
    let bytes = read_all_maybe_gz(path, 5)?;
    String::from_utf8(bytes).map_err(|e| {
        format_err(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Read a CSV file (raw or gzip), see [`parse`].
///
/// # Errors
/// [`DataError::Io`](crate::DataError::Io) when the file cannot be read,
/// [`DataError::TooLarge`](crate::DataError::TooLarge) over 16 GiB, a format error for
/// non-UTF-8 text; otherwise as [`parse`].
pub fn read(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    parse(path, &read_text(path)?, opts)
}

/// Read a numeric matrix (e.g. latent codes), with an optional header row; every column is a
/// feature.
///
/// # Errors
/// As [`read`].
pub fn read_matrix(path: &Path) -> Result<Array2<f32>> {
    Ok(read(path, &CsvOptions::default())?.into_x())
}

/// Write rows as CSV, with an optional header row, atomically. Values are written with the
/// shortest decimal form that reads back to the same `f32`, so a write → read round trip is
/// exact.
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid) when the header's length differs from the
/// number of columns, when a name contains a comma, quote or line break, when every name is a
/// number (a reader could not tell the header from data), or when a value is NaN or infinite
/// (it could not be read back);
/// [`DataError::Io`](crate::DataError::Io) when the file cannot be written.
pub fn write_f32(path: &Path, x: ArrayView2<'_, f32>, header: Option<&[String]>) -> Result<()> {
    let what = || format!("CSV output {}", path.display());
    if let Some(h) = header {
        if h.len() != x.ncols() {
            return Err(invalid(
                what(),
                format!("{} header names for {} columns", h.len(), x.ncols()),
            ));
        }
        if let Some(bad) = h.iter().find(|n| n.contains([',', '"', '\n', '\r'])) {
            return Err(invalid(
                what(),
                format!(
                    "header name `{}` contains a comma, quote or line break",
                    bad.escape_debug()
                ),
            ));
        }
        if h.iter().all(|n| is_number(n.trim())) {
            return Err(invalid(
                what(),
                "every header name is a number, so the header could not be told from data",
            ));
        }
    }
    for (r, row) in x.outer_iter().enumerate() {
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(invalid(
                what(),
                format!("row {r}, column {c} is {v}; CSV output must be finite"),
            ));
        }
    }
    write_atomic(path, |w| {
        let mut line = String::new();
        if let Some(h) = header {
            line.push_str(&h.join(","));
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        for row in x.outer_iter() {
            line.clear();
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    line.push(',');
                }
                use std::fmt::Write as _;
                let _ = write!(line, "{v}");
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::DataError;

    fn p(text: &str, opts: &CsvOptions) -> Result<Dataset> {
        parse(Path::new("t.csv"), text, opts)
    }

    #[test]
    fn header_auto_detection_and_labels() {
        let d = p(
            "a,b,label\n1,2,0\n3,4,1\n",
            &CsvOptions {
                label: Some(LabelColumn::Name("label".into())),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(d.x().as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(d.labels().unwrap(), &[0, 1]);
        let d = p("1,2\n3,4\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.n(), 2);
        let d = p(
            "1,2\n3,4\n",
            &CsvOptions {
                header: Header::Present,
                label: None,
            },
        )
        .unwrap();
        assert_eq!(d.n(), 1);
    }

    #[test]
    fn other_delimiters_comments_and_quotes() {
        let d = p("# x y\n1.5e0 2\n\n  3 4  \n", &CsvOptions::default()).unwrap();
        assert_eq!(d.x().as_slice().unwrap(), &[1.5, 2.0, 3.0, 4.0]);
        let d = p("\"a\"\t\"b\"\r\n\"1\"\t2\r\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.x().as_slice().unwrap(), &[1.0, 2.0]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let o = CsvOptions::default();
        let e = p("1,2,3\n1,2\n", &o).unwrap_err().to_string();
        assert!(e.contains("line 2: 2 fields, expected 3"), "{e}");
        let e = p("1,2\n1,inf\n", &o).unwrap_err().to_string();
        assert!(e.contains("line 2, column 2: inf"), "{e}");
        let e = p("1,2\n1,\n", &o).unwrap_err().to_string();
        assert!(e.contains("line 2, column 2: empty cell"), "{e}");
        let last = CsvOptions {
            label: Some(LabelColumn::Last),
            ..o.clone()
        };
        let e = p("1,2\n1,-1\n", &last).unwrap_err().to_string();
        assert!(e.contains("label `-1`"), "{e}");
        let e = p(
            "1,2\n",
            &CsvOptions {
                label: Some(LabelColumn::Index(5)),
                ..o.clone()
            },
        )
        .unwrap_err();
        assert!(matches!(e, DataError::Invalid { .. }), "{e}");
        let e = p(
            "1,2\n",
            &CsvOptions {
                label: Some(LabelColumn::Name("y".into())),
                ..o
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no header"), "{e}");
    }
}
