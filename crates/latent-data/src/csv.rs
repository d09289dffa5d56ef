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

/// Which column holds the class labels (the others are features).
///
/// A label column holds either non-negative integers (the labels themselves) or, when any of
/// its cells is not a number, class names: the distinct names, sorted, become the classes
/// `0..n` and are kept as the dataset's class names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// By position, counted from 0.
    Index(usize),
    /// By header name (the file must have a header).
    Name(String),
    /// The last column.
    Last,
    /// Found by name: the one header column named one of [`LABEL_NAMES`] (case-insensitive),
    /// announced through [`crate::notes`]; no labels when there is no header or no such
    /// column; an error when two columns are so named.
    ByName,
}

/// The header names [`LabelColumn::ByName`] takes for the label column (compared
/// case-insensitively).
pub const LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

/// How to read a CSV file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first row is a header.
    pub header: Header,
    /// The label column, if any (`None`: every column is a feature).
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

/// What a feature cell that is not a number is told: the column's name, and how to read the
/// column as labels instead.
fn text_hint(header: Option<&[&str]>, col: usize) -> String {
    match header.and_then(|h| h.get(col)).filter(|n| !n.is_empty()) {
        Some(n) => format!(
            " (column `{n}`): only the label column may hold text; if `{n}` holds the labels, \
             choose it with --label-column {n}"
        ),
        None => format!(
            ": only the label column may hold text; if column {} holds the labels, choose it \
             with --label-column {col}",
            col + 1
        ),
    }
}

fn parse_value(
    name: &Path,
    line: usize,
    col: usize,
    cell: &str,
    header: Option<&[&str]>,
) -> Result<f32> {
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
            format!(
                "line {line}, column {}: `{cell}` is not a number{}",
                col + 1,
                text_hint(header, col)
            ),
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

/// The column [`LabelColumn::ByName`] finds, announced; `None` without a header, without a
/// column so named, or when that column is the only one (it is then the feature).
fn find_by_name(name: &Path, header: Option<&[&str]>, ncols: usize) -> Result<Option<usize>> {
    let Some(h) = header else {
        return Ok(None);
    };
    let found: Vec<usize> = h
        .iter()
        .enumerate()
        .filter(|(_, c)| LABEL_NAMES.iter().any(|n| c.eq_ignore_ascii_case(n)))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [_] if ncols < 2 => Ok(None),
        [i] => {
            crate::notes::emit(&format!(
                "{}: using column `{}` as labels (a column named {}); --label-column none \
                 keeps it as a feature",
                name.display(),
                h[*i],
                LABEL_NAMES.join(", ")
            ));
            Ok(Some(*i))
        }
        many => {
            let names: Vec<String> = many.iter().map(|&i| format!("`{}`", h[i])).collect();
            Err(invalid(
                "label column",
                format!(
                    "{}: columns {} could each be the labels; choose one with --label-column \
                     NAME (the others stay features), or keep them all as features with \
                     --label-column none",
                    name.display(),
                    names.join(" and ")
                ),
            ))
        }
    }
}

/// The label column `label` names, `None` when [`LabelColumn::ByName`] finds none.
fn resolve_label(
    name: &Path,
    label: &LabelColumn,
    header: Option<&[&str]>,
    ncols: usize,
) -> Result<Option<usize>> {
    let what = "label column";
    let col = match label {
        LabelColumn::Last => ncols - 1,
        LabelColumn::ByName => match find_by_name(name, header, ncols)? {
            Some(i) => i,
            None => return Ok(None),
        },
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
    Ok(Some(col))
}

/// Labels from the cells of a label column (`(line, column, cell)`): non-negative integers
/// when every cell is a number, else class names (sorted distinct names → `0..n`).
pub(crate) fn labels_from_cells(
    name: &Path,
    cells: &[(usize, usize, &str)],
) -> Result<(Vec<u32>, Option<Vec<String>>)> {
    if cells.iter().all(|(_, _, c)| is_number(c)) {
        let labels = cells
            .iter()
            .map(|&(line, col, c)| parse_label(name, line, col, c))
            .collect::<Result<Vec<u32>>>()?;
        return Ok((labels, None));
    }
    if let Some((line, col, _)) = cells.iter().find(|(_, _, c)| c.is_empty()) {
        return Err(format_err(
            name,
            format!(
                "line {line}, column {}: empty label (the column holds class names, and every \
                 row needs one)",
                col + 1
            ),
        ));
    }
    let mut names: Vec<&str> = cells.iter().map(|(_, _, c)| *c).collect();
    names.sort_unstable();
    names.dedup();
    let index: std::collections::HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, i as u32))
        .collect();
    let labels = cells
        .iter()
        .map(|(_, _, c)| index.get(c).copied().unwrap_or(0))
        .collect();
    Ok((labels, Some(names.into_iter().map(String::from).collect())))
}

/// Whether the first record is a header: told by `header`, or (auto) when one of its cells
/// is not a number where the next record has a number in that column (a column of class
/// names is text in every row, so it alone does not make a header); with no next record,
/// when any cell is not a number.
fn is_header(header: &Header, first: &[&str], second: Option<&[&str]>) -> bool {
    match header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => match second {
            Some(next) => first
                .iter()
                .zip(next)
                .any(|(a, b)| !is_number(a) && is_number(b)),
            None => first.iter().any(|c| !is_number(c)),
        },
    }
}

/// The names of the feature columns of a header (the label column left out): each cell as
/// written, an empty one named by its position among the features (`x3`).
fn feature_names(header: &[&str], label: Option<usize>) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .filter(|&(col, _)| Some(col) != label)
        .enumerate()
        .map(|(j, (_, cell))| {
            if cell.is_empty() {
                format!("x{j}")
            } else {
                (*cell).to_string()
            }
        })
        .collect()
}

/// Parse numeric CSV text. Features become `f32` rows (no known range), named by the header
/// when there is one ([`Dataset::feature_names`]); the label column, if any, holds
/// non-negative integers or class names (see [`LabelColumn`]).
///
/// # Errors
/// [`DataError::Format`](crate::DataError::Format) naming `name` and the line and column
/// (1-based): a row with a different number of fields than the first (`line 7: 63 fields,
/// expected 65`), a feature cell that is not a number (naming its column and how to read it
/// as labels instead), NaN or infinite, a bad label, no data rows;
/// [`DataError::Invalid`](crate::DataError::Invalid) for a label column that does not exist,
/// or two columns that [`LabelColumn::ByName`] could take.
pub fn parse(name: &Path, text: &str, opts: &CsvOptions) -> Result<Dataset> {
    let mut recs = records(text).peekable();
    let Some((first_line, first)) = recs.next() else {
        return Err(format_err(name, "no data: the file is empty"));
    };
    let delim = Delim::detect(first);
    let first_cells = delim.split(first);
    let ncols = first_cells.len();
    let second = recs.peek().map(|&(_, t)| delim.split(t));
    let (header, mut pending) = if is_header(&opts.header, &first_cells, second.as_deref()) {
        (Some(first_cells), None)
    } else {
        (None, Some((first_line, first)))
    };
    let label = match &opts.label {
        Some(l) => resolve_label(name, l, header.as_deref(), ncols)?,
        None => None,
    };
    let dim = ncols - usize::from(label.is_some());
    let mut values = Vec::new();
    let mut label_cells = Vec::new();
    let mut rows = 0usize;
    let recs = std::iter::from_fn(|| pending.take()).chain(recs);
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
        for (col, cell) in cells.into_iter().enumerate() {
            if Some(col) == label {
                label_cells.push((line, col, cell));
            } else {
                values.push(parse_value(name, line, col, cell, header.as_deref())?);
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
    if let Some(h) = &header {
        ds = ds
            .with_feature_names(feature_names(h, label))
            .map_err(|e| core_err(name, e))?;
    }
    if label.is_some() {
        let (labels, names) = labels_from_cells(name, &label_cells)?;
        ds = ds
            .with_classes(labels, names)
            .map_err(|e| core_err(name, e))?;
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

/// Header names that mark the first row of a labels file as a header even when the rows below
/// are class names.
const LABEL_HEADERS: [&str; 9] = [
    "label", "labels", "class", "classes", "target", "y", "species", "category", "name",
];

/// Parse the text of a one-column labels file (see [`crate::labels`]). The first row is a
/// header when it is not a number and every other row is; when it is one of the usual names
/// (`label`, `class`, `species`…); or when it is a name found nowhere else while every other
/// name occurs at least twice.
///
/// # Errors
/// [`DataError::Format`](crate::DataError::Format) naming `name`: no rows, a row with more
/// than one field, a bad or empty label.
pub(crate) fn parse_labels(name: &Path, text: &str) -> Result<crate::labels::Labels> {
    let recs: Vec<(usize, &str)> = records(text).collect();
    let Some(&(_, first)) = recs.first() else {
        return Err(format_err(name, "no labels: the file is empty"));
    };
    let delim = Delim::detect(first);
    let mut cells = Vec::with_capacity(recs.len());
    for &(line, t) in &recs {
        let c = delim.split(t);
        if c.len() != 1 {
            return Err(format_err(
                name,
                format!(
                    "line {line}: {} fields; a labels file has one column (one label per row)",
                    c.len()
                ),
            ));
        }
        cells.push((line, 0, c[0]));
    }
    let head = cells[0].2;
    let rest = &cells[1..];
    let is_header = !is_number(head)
        && !rest.is_empty()
        && (rest.iter().all(|(_, _, c)| is_number(c))
            || LABEL_HEADERS.iter().any(|h| head.eq_ignore_ascii_case(h))
            || {
                let mut counts: std::collections::HashMap<&str, usize> =
                    std::collections::HashMap::new();
                for (_, _, c) in rest {
                    *counts.entry(c).or_default() += 1;
                }
                !counts.contains_key(head) && counts.values().all(|&n| n >= 2)
            });
    let (header, body) = if is_header {
        (Some(head.to_string()), rest)
    } else {
        (None, &cells[..])
    };
    if body.is_empty() {
        return Err(format_err(name, "no labels (only a header)"));
    }
    let (values, names) = labels_from_cells(name, body)?;
    Ok(crate::labels::Labels {
        values,
        names,
        header,
    })
}

/// Read a one-column labels file (raw or gzip), see [`parse_labels`].
///
/// # Errors
/// As [`read`] for reading, as [`parse_labels`] for the content.
pub(crate) fn read_labels(path: &Path) -> Result<crate::labels::Labels> {
    parse_labels(path, &read_text(path)?)
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
    write_rows(path, &[], x, header)
}

/// A column of text cells written before the values by [`write_table`] (a row index, a class
/// name, a position along a path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextColumn {
    /// The header name.
    pub name: String,
    /// One cell per row.
    pub cells: Vec<String>,
}

/// Write rows as CSV under a header, atomically: the `lead` columns first (text cells, one
/// per row), then the values of `x` under `names` (as [`write_f32`] writes them).
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid) when a lead column has another number of
/// cells than `x` has rows, when a cell contains a comma, quote or line break; otherwise as
/// [`write_f32`].
pub fn write_table(
    path: &Path,
    lead: &[TextColumn],
    x: ArrayView2<'_, f32>,
    names: &[String],
) -> Result<()> {
    write_rows(path, lead, x, Some(names))
}

/// Whether `s` would break a CSV line the reader splits on commas.
fn breaks_csv(s: &str) -> bool {
    s.contains([',', '"', '\n', '\r'])
}

fn write_rows(
    path: &Path,
    lead: &[TextColumn],
    x: ArrayView2<'_, f32>,
    header: Option<&[String]>,
) -> Result<()> {
    let what = || format!("CSV output {}", path.display());
    let mut names: Vec<&str> = lead.iter().map(|c| c.name.as_str()).collect();
    if let Some(h) = header {
        if h.len() != x.ncols() {
            return Err(invalid(
                what(),
                format!("{} header names for {} columns", h.len(), x.ncols()),
            ));
        }
        names.extend(h.iter().map(String::as_str));
    }
    if let Some(bad) = names.iter().find(|n| breaks_csv(n)) {
        return Err(invalid(
            what(),
            format!(
                "header name `{}` contains a comma, quote or line break",
                bad.escape_debug()
            ),
        ));
    }
    if !names.is_empty() && names.iter().all(|n| is_number(n.trim())) {
        return Err(invalid(
            what(),
            "every header name is a number, so the header could not be told from data",
        ));
    }
    for c in lead {
        if c.cells.len() != x.nrows() {
            return Err(invalid(
                what(),
                format!(
                    "column `{}` has {} cells for {} rows",
                    c.name,
                    c.cells.len(),
                    x.nrows()
                ),
            ));
        }
        if let Some(bad) = c.cells.iter().find(|v| breaks_csv(v)) {
            return Err(invalid(
                what(),
                format!(
                    "column `{}`: cell `{}` contains a comma, quote or line break",
                    c.name,
                    bad.escape_debug()
                ),
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
        if !names.is_empty() {
            line.push_str(&names.join(","));
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        for (r, row) in x.outer_iter().enumerate() {
            line.clear();
            let mut first = true;
            let mut sep = |line: &mut String| {
                if !first {
                    line.push(',');
                }
                first = false;
            };
            for c in lead {
                sep(&mut line);
                line.push_str(&c.cells[r]);
            }
            for v in row {
                sep(&mut line);
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
        assert_eq!(d.feature_names().unwrap(), ["a", "b"]);
        let d = p("1,2\n3,4\n", &CsvOptions::default()).unwrap();
        assert_eq!(d.n(), 2);
        assert_eq!(d.feature_names(), None);
        // the label column in the middle, an unnamed column
        let d = p(
            "label,,c\n0,1,2\n",
            &CsvOptions {
                header: Header::Present,
                label: Some(LabelColumn::Index(0)),
            },
        )
        .unwrap();
        assert_eq!(d.feature_names().unwrap(), ["x0", "c"]);
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
    fn tables_with_lead_columns_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let x = ndarray::array![[1.5f32, -2.0], [1000.25, 0.125]];
        let lead = [TextColumn {
            name: "row".into(),
            cells: vec!["7".into(), "3".into()],
        }];
        let names = vec!["alcohol".to_string(), "proline".to_string()];
        write_table(&path, &lead, x.view(), &names).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "row,alcohol,proline\n7,1.5,-2\n3,1000.25,0.125\n");
        let back = read(&path, &CsvOptions::default()).unwrap();
        assert_eq!(back.feature_names().unwrap(), ["row", "alcohol", "proline"]);
        assert_eq!(back.x().column(2).to_vec(), [-2.0, 0.125]);
        // cells that would break the file, cells missing
        let bad = [TextColumn {
            name: "class".into(),
            cells: vec!["a,b".into(), "c".into()],
        }];
        let e = write_table(&path, &bad, x.view(), &names).unwrap_err();
        assert!(e.to_string().contains("`a,b`"), "{e}");
        let short = [TextColumn {
            name: "row".into(),
            cells: vec!["1".into()],
        }];
        let e = write_table(&path, &short, x.view(), &names).unwrap_err();
        assert!(e.to_string().contains("1 cells for 2 rows"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
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
