//! Decoded rows as files a person or a program reads: NPY (`f32`) and CSV under the data's
//! own column names, in the data's own units (the run's preprocessing inverted); which rows
//! `reconstruct` shows (a seeded spread over the classes); a short text table of originals
//! beside their reconstructions; and the size beyond which a PNG grid is refused.
//!
//! The commands that write decoded rows (`reconstruct`, `sample`, `decode`, `interpolate`)
//! call these; the front end checks and records the output file.

use std::collections::BTreeMap;
use std::path::Path;

use latent_core::{Dataset, ImageShape};
use latent_data::csv::TextColumn;
use ndarray::ArrayView2;
use rand::seq::SliceRandom;

use crate::run::RunConfig;
use crate::{Error, Result};

/// The file formats decoded rows are written in besides a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// NumPy `.npy`: `f32`, `N × D` (images `N × H × W` or `N × H × W × C`).
    Npy,
    /// Comma-separated values under a header of the column names.
    Csv,
}

/// `name` with the characters that would break a CSV line (comma, double quote, line
/// breaks) replaced by `_`: a header read from a tab-separated file may hold commas.
fn csv_safe(name: &str) -> String {
    name.replace([',', '"', '\n', '\r'], "_")
}

/// The names of the run's features, as the columns of decoded rows: the names its data's
/// header gave (recorded at fit time), else `x0 … x{D−1}` (also when every recorded name is
/// a number: a reader could not tell such a header from a row). Names are made safe for a
/// CSV line (see [`Table::Csv`]).
pub fn column_names(config: &RunConfig) -> Vec<String> {
    names_or_default(config.data.feature_names.as_deref(), config.input_dim)
}

fn names_or_default(names: Option<&[String]>, dim: usize) -> Vec<String> {
    match names {
        Some(names)
            if names.len() == dim && !names.iter().all(|n| n.trim().parse::<f64>().is_ok()) =>
        {
            names.iter().map(|n| csv_safe(n)).collect()
        }
        _ => (0..dim).map(|j| format!("x{j}")).collect(),
    }
}

/// Write `decoded` (rows in model space, as the decoder returns them) in the data's units —
/// the run's preprocessing inverted, as the pictures are drawn — to `path` as `format`:
/// NPY of `f32` (`N × D`; image rows as `N × H × W[× C]`), or CSV whose header is the `lead`
/// columns (a row index, a class…) then [`column_names`]. Written atomically; the front end
/// records the file in its directory's output manifest.
///
/// # Errors
/// A lead column of another length than the rows, a cell that would break the CSV; the
/// file cannot be written (naming it).
pub fn write_decoded(
    path: &Path,
    format: Table,
    decoded: ArrayView2<'_, f32>,
    config: &RunConfig,
    lead: &[TextColumn],
) -> Result<()> {
    let units = config.preprocess.invert(decoded);
    match format {
        Table::Npy => match config.data.image_shape {
            Some(shape) => latent_data::npy::write_f32_images(path, units.view(), shape)?,
            None => latent_data::npy::write_f32(path, units.view())?,
        },
        Table::Csv => {
            let lead: Vec<TextColumn> = lead
                .iter()
                .map(|c| TextColumn {
                    name: csv_safe(&c.name),
                    cells: c.cells.iter().map(|v| csv_safe(v)).collect(),
                })
                .collect();
            latent_data::csv::write_table(path, &lead, units.view(), &column_names(config))?;
        }
    }
    Ok(())
}

/// The rows `reconstruct` shows: `k` of `n` rows, all of them (in order) when `k ≥ n`.
/// With labels (one per row), a spread over the classes — the rows of each class in a seeded
/// order, taken one class after another (ascending) in turn, so that `k` rows cover
/// `min(k, classes)` classes; without labels, a seeded random choice, in ascending order.
/// The same seed gives the same rows.
pub fn spread(labels: Option<&[u32]>, n: usize, k: usize, seed: u64) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = latent_core::seed::rng(latent_core::seed::derive(seed, "rows shown"));
    match labels {
        Some(labels) if labels.len() == n => {
            let mut classes: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, &l) in labels.iter().enumerate() {
                classes.entry(l).or_default().push(i);
            }
            let mut queues: Vec<std::vec::IntoIter<usize>> = classes
                .into_values()
                .map(|mut rows| {
                    rows.shuffle(&mut rng);
                    rows.into_iter()
                })
                .collect();
            let mut out = Vec::with_capacity(k);
            while out.len() < k {
                let before = out.len();
                for q in &mut queues {
                    if out.len() == k {
                        break;
                    }
                    if let Some(i) = q.next() {
                        out.push(i);
                    }
                }
                if out.len() == before {
                    break;
                }
            }
            out
        }
        _ => {
            let mut out = rand::seq::index::sample(&mut rng, n, k).into_vec();
            out.sort_unstable();
            out
        }
    }
}

/// How [`spread`] chose the rows of `data`, in words: `"all 178 rows"`, `"32 of 1797 rows,
/// a spread over 10 classes, seed 0"`, `"32 of 500 rows, chosen at random, seed 0"`.
pub fn spread_words(data: &Dataset, shown: usize, seed: u64) -> String {
    if shown >= data.n() {
        return format!("all {} rows", data.n());
    }
    match data.labels() {
        Some(labels) => {
            let classes = labels
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            format!(
                "{shown} of {} rows, a spread over {classes} class{}, seed {seed}",
                data.n(),
                if classes == 1 { "" } else { "es" }
            )
        }
        None => format!(
            "{shown} of {} rows, chosen at random, seed {seed}",
            data.n()
        ),
    }
}

/// Row indices as a list for a terminal: all of them up to 40, else the first 40 and how
/// many there are.
pub fn index_list(rows: &[usize]) -> String {
    const SHOWN: usize = 40;
    let list: Vec<String> = rows.iter().take(SHOWN).map(usize::to_string).collect();
    if rows.len() > SHOWN {
        format!("{}, … ({} in all)", list.join(", "), rows.len())
    } else {
        list.join(", ")
    }
}

/// The label of each of `rows` of `data` in words (its class name, else the number), or
/// `None` for data without labels.
pub fn label_cells(data: &Dataset, rows: &[usize]) -> Option<Vec<String>> {
    let labels = data.labels()?;
    let names = data.class_names();
    Some(
        rows.iter()
            .map(|&i| {
                let l = labels.get(i).copied().unwrap_or(0);
                names
                    .and_then(|n| n.get(l as usize))
                    .cloned()
                    .unwrap_or_else(|| l.to_string())
            })
            .collect(),
    )
}

/// The lead columns of reconstructions written as CSV: `row` (the index of each row in the
/// data as read), and `label` when the data has labels.
pub fn reconstruction_columns(data: &Dataset, rows: &[usize]) -> Vec<TextColumn> {
    let mut lead = vec![TextColumn {
        name: "row".into(),
        cells: rows.iter().map(usize::to_string).collect(),
    }];
    if let Some(cells) = label_cells(data, rows) {
        lead.push(TextColumn {
            name: "label".into(),
            cells,
        });
    }
    lead
}

/// The lead columns of interpolations written as CSV (`steps` rows per pair, in order):
/// `from` and `to` (the endpoints' rows) and `t`, the position from 0 (`from`'s code) to 1
/// (`to`'s).
pub fn interpolation_columns(pairs: &[(usize, usize)], steps: usize) -> Vec<TextColumn> {
    let t = |i: usize| {
        if steps < 2 {
            "0".to_string()
        } else {
            let s = format!("{:.4}", i as f64 / (steps - 1) as f64);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    let column = |name: &str, cell: &dyn Fn(usize, usize, usize) -> String| TextColumn {
        name: name.into(),
        cells: pairs
            .iter()
            .flat_map(|&(a, b)| (0..steps).map(move |i| (a, b, i)))
            .map(|(a, b, i)| cell(a, b, i))
            .collect(),
    };
    vec![
        column("from", &|a, _, _| a.to_string()),
        column("to", &|_, b, _| b.to_string()),
        column("t", &|_, _, i| t(i)),
    ]
}

/// The lead columns of traversals written as CSV (`steps` rows per dimension of `dims`, in
/// order, as [`latent_explore::traverse`] decodes them): `dim` (the latent dimension moved)
/// and `value` (its value in the code, from −range to +range; the others are 0).
///
/// # Errors
/// As [`latent_explore::traversal_codes`].
pub fn traversal_columns(
    latent_dim: usize,
    dims: &[usize],
    range: f32,
    steps: usize,
) -> Result<Vec<TextColumn>> {
    let codes = latent_explore::traversal_codes(latent_dim, None, dims, range, steps)?;
    let (mut dim, mut value) = (Vec::new(), Vec::new());
    for (&d, z) in dims.iter().zip(&codes) {
        for row in z.outer_iter() {
            dim.push(d.to_string());
            value.push(row[d].to_string());
        }
    }
    Ok(vec![
        TextColumn {
            name: "dim".into(),
            cells: dim,
        },
        TextColumn {
            name: "value".into(),
            cells: value,
        },
    ])
}

/// The squared error of each row of `y` against `x` (summed over the features).
pub fn row_errors(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> Vec<f64> {
    x.outer_iter()
        .zip(y.outer_iter())
        .map(|(a, b)| {
            a.iter()
                .zip(b.iter())
                .map(|(&u, &v)| f64::from(u - v).powi(2))
                .sum()
        })
        .collect()
}

/// Originals beside their reconstructions, for [`comparison_table`].
#[derive(Debug, Clone)]
pub struct Comparison<'a> {
    /// The rows' indices in the data.
    pub rows: &'a [usize],
    /// Each row's label in words, when the data has labels.
    pub labels: Option<&'a [String]>,
    /// The features' names.
    pub names: &'a [String],
    /// The rows, in the data's units.
    pub original: ArrayView2<'a, f32>,
    /// Their reconstructions, in the data's units.
    pub reconstruction: ArrayView2<'a, f32>,
    /// Each row's squared error, summed over the features (model space, as the error the
    /// command prints).
    pub errors: &'a [f64],
}

/// `v` with about four significant digits (`13.71`, `1115`, `0.2900`, `-2.000e-5`).
fn short(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let digits = a.log10().floor() as i32;
    let decimals = (3 - digits).clamp(0, 4) as usize;
    format!("{v:.decimals$}")
}

/// At most `max_rows` rows of `c` and its first `max_cols` features as a text table: the row,
/// its label, `original → reconstruction` under each feature's name, and the row's squared
/// error. Lines end in `\n`.
pub fn comparison_table(c: &Comparison<'_>, max_rows: usize, max_cols: usize) -> String {
    let rows = c.rows.len().min(max_rows).min(c.original.nrows());
    let cols = c.names.len().min(max_cols).min(c.original.ncols());
    let clip = |s: &str| -> String {
        if s.chars().count() > 18 {
            format!("{}…", s.chars().take(17).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let mut header = vec!["row".to_string()];
    if c.labels.is_some() {
        header.push("label".into());
    }
    header.extend(c.names.iter().take(cols).map(|n| clip(n)));
    header.push("sq. error".into());
    let mut table = vec![header];
    for r in 0..rows {
        let mut line = vec![c.rows[r].to_string()];
        if let Some(labels) = c.labels {
            line.push(clip(labels.get(r).map_or("", String::as_str)));
        }
        for j in 0..cols {
            line.push(format!(
                "{} → {}",
                short(c.original[[r, j]]),
                short(c.reconstruction[[r, j]])
            ));
        }
        line.push(format!(
            "{:.4}",
            c.errors.get(r).copied().unwrap_or(f64::NAN)
        ));
        table.push(line);
    }
    let width = |j: usize| {
        table
            .iter()
            .map(|l| l.get(j).map_or(0, |s| s.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..table[0].len()).map(width).collect();
    let last = widths.len() - 1;
    let mut out = String::new();
    for line in &table {
        out.push_str("  ");
        for (j, cell) in line.iter().enumerate() {
            let pad = widths[j].saturating_sub(cell.chars().count());
            // numbers to the right (the row, the values, the error), words to the left
            let right = j == 0 || j == last || j > usize::from(c.labels.is_some());
            if right {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            }
            if j < last {
                out.push_str("  ");
            }
        }
        out.push('\n');
    }
    out
}

/// The most cells a PNG grid of decoded rows may have.
pub const MAX_GRID_CELLS: usize = 4096;
/// The most pixels a side of a PNG grid may have (what common image viewers open).
pub const MAX_GRID_SIDE: usize = 16_384;

/// Refuse a PNG grid of `cells` images of `shape` (enlarged by
/// [`crate::figures::zoom_factor`]`(zoom)`), `columns` a row, in `blocks` grids stacked (2
/// for originals above reconstructions), when it would have more than [`MAX_GRID_CELLS`]
/// images or more than [`MAX_GRID_SIDE`] pixels on a side: nobody reads it, and few viewers
/// open it. `what` names the request (`10000 codes`), `fewer` how to ask for fewer (`decode
/// fewer codes`). NPY and CSV outputs have no such limit.
///
/// # Errors
/// [`Error::Invalid`] saying how large the grid would be and what to write instead; a zoom
/// outside `1..=16`.
pub fn check_grid(
    what: &str,
    fewer: &str,
    (cells, columns, blocks): (usize, usize, usize),
    shape: ImageShape,
    zoom: Option<u32>,
) -> Result<()> {
    let f = crate::figures::zoom_factor(shape, zoom)? as usize;
    let per_row = columns.max(1).min(cells.max(1));
    let grid_rows = cells.div_ceil(per_row);
    // 2 pixels between cells and around the grid, as latent_data::image draws them
    let width = per_row
        .saturating_mul(shape.width.saturating_mul(f).saturating_add(2))
        .saturating_add(2);
    let height = grid_rows
        .saturating_mul(blocks.max(1))
        .saturating_mul(shape.height.saturating_mul(f).saturating_add(2))
        .saturating_add(2);
    let images = cells.saturating_mul(blocks.max(1));
    if images <= MAX_GRID_CELLS && width <= MAX_GRID_SIDE && height <= MAX_GRID_SIDE {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "{what} would make a PNG grid of {images} images, {width} × {height} pixels (latent \
         draws at most {MAX_GRID_CELLS} images and {MAX_GRID_SIDE} pixels a side); write the \
         rows as .npy or .csv instead (no such limit), or {fewer}"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ndarray::array;

    #[test]
    fn the_spread_covers_every_class_and_is_seeded() {
        // 16 rows, 14 of class 0 first, then one each of classes 1 and 2 (the file order
        // that made `reconstruct` show one class)
        let labels: Vec<u32> = (0..16)
            .map(|i| match i {
                14 => 1,
                15 => 2,
                _ => 0,
            })
            .collect();
        let rows = spread(Some(&labels), 16, 4, 0);
        assert_eq!(rows.len(), 4);
        let classes: std::collections::BTreeSet<u32> = rows.iter().map(|&i| labels[i]).collect();
        assert_eq!(classes.len(), 3, "{rows:?}");
        // round robin: 0, 1, 2, then 0 again
        assert_eq!(labels[rows[0]], 0);
        assert_eq!((rows[1], rows[2]), (14, 15));
        assert_eq!(rows, spread(Some(&labels), 16, 4, 0));
        let other: Vec<Vec<usize>> = (1..6).map(|s| spread(Some(&labels), 16, 4, s)).collect();
        assert!(other.iter().any(|r| *r != rows), "{other:?}");
        // distinct rows; more than a class holds: the others fill in
        let many = spread(Some(&labels), 16, 10, 3);
        let distinct: std::collections::BTreeSet<usize> = many.iter().copied().collect();
        assert_eq!(distinct.len(), 10);
        // k ≥ n: every row, in order
        assert_eq!(
            spread(Some(&labels), 16, 40, 0),
            (0..16).collect::<Vec<_>>()
        );
        // no labels: a seeded sample in ascending order
        let plain = spread(None, 100, 5, 7);
        assert_eq!(plain.len(), 5);
        assert!(plain.windows(2).all(|w| w[0] < w[1]), "{plain:?}");
        assert_eq!(plain, spread(None, 100, 5, 7));
        assert_ne!(plain, (0..5).collect::<Vec<_>>());
    }

    #[test]
    fn interpolation_columns_name_the_pair_and_position() {
        let c = interpolation_columns(&[(3, 9), (0, 1)], 3);
        assert_eq!(c[0].cells, ["3", "3", "3", "0", "0", "0"]);
        assert_eq!(c[1].cells, ["9", "9", "9", "1", "1", "1"]);
        assert_eq!(c[2].cells, ["0", "0.5", "1", "0", "0.5", "1"]);
        let c = interpolation_columns(&[(0, 1)], 10);
        assert_eq!(c[2].cells[1], "0.1111");
    }

    #[test]
    fn the_table_puts_originals_beside_reconstructions() {
        let names: Vec<String> = ["alcohol", "proline", "hue"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let x = array![[13.71f32, 1115.0, 1.06], [12.3, 520.0, 0.0]];
        let y = array![[13.52f32, 1098.4, 1.1], [12.41, 533.0, 0.00002]];
        let labels = vec!["barolo".to_string(), "grignolino".to_string()];
        let t = comparison_table(
            &Comparison {
                rows: &[12, 40],
                labels: Some(&labels),
                names: &names,
                original: x.view(),
                reconstruction: y.view(),
                errors: &[0.5, 0.25],
            },
            5,
            2,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(
            lines[0].contains("alcohol") && lines[0].contains("proline"),
            "{t}"
        );
        assert!(!lines[0].contains("hue"), "only the first 2 columns: {t}");
        assert!(lines[1].contains("13.71 → 13.52"), "{t}");
        assert!(lines[1].contains("1115 → 1098"), "{t}");
        assert!(
            lines[2].contains("grignolino") && lines[2].contains("0.2500"),
            "{t}"
        );
        assert_eq!(short(0.00002), "2.000e-5");
        assert_eq!(short(0.29), "0.2900");
        assert_eq!(short(0.0), "0");
    }

    #[test]
    fn grids_past_the_limit_are_refused_with_the_way_out() {
        let digits = ImageShape::gray(8, 8);
        // every digit of the embedded set, 40 a row: a picture a person reads
        assert!(check_grid("1797 codes", "decode fewer", (1797, 40, 1), digits, None).is_ok());
        // 10000 codes, 16 a row: 625 rows of 58 pixels
        let e = check_grid(
            "10000 codes",
            "decode fewer codes",
            (10_000, 16, 1),
            ImageShape::gray(28, 28),
            None,
        )
        .unwrap_err();
        assert!(e.is_user_error());
        let e = e.to_string();
        for part in ["10000 codes", ".npy or .csv", "decode fewer codes", "36252"] {
            assert!(e.contains(part), "{part}: {e}");
        }
        // a few cells, but each enlarged 16 times into a tall strip
        assert!(check_grid("x", "y", (1200, 1, 2), ImageShape::gray(28, 28), Some(16)).is_err());
    }

    #[test]
    fn names_are_made_safe_for_csv_or_replaced() {
        assert_eq!(csv_safe("a,b\"c"), "a_b_c");
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            names_or_default(Some(&names(&["a,1", "b"])), 2),
            ["a_1", "b"]
        );
        // none, the wrong count, or only numbers: x0 …
        for given in [None, Some(names(&["a"])), Some(names(&["1", "2"]))] {
            assert_eq!(names_or_default(given.as_deref(), 2), ["x0", "x1"]);
        }
    }
}
