//! Grids of image cells — samples, traversals, interpolations, the decoded manifold — enlarged
//! by an integer factor, separated by thin grey lines, and labelled along the rows and columns.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::canvas::{Canvas, text_width};
use crate::font::{FONT, ensure_font};
use crate::image::MAX_IMAGE_BYTES;
use crate::{ReportError, Result, RgbImage};

/// The largest zoom factor of [`image_grid`].
pub const MAX_ZOOM: u32 = 16;

/// [`default_zoom`] enlarges cells to at least this many pixels across (when
/// [`MAX_ZOOM`] allows).
pub const MIN_CELL: u32 = 56;

/// The width of the lines between and around cells, in pixels.
const LINE: u32 = 2;
/// Their colour: a neutral grey, visible against black and white cells alike.
const SEPARATOR: [u8; 3] = [128, 128, 128];
/// The background of the labels: white.
const BACKGROUND: [u8; 3] = [255, 255, 255];
/// Font size of the labels, in pixels; column labels shrink (down to [`MIN_LABEL_SIZE`]) to
/// fit a cell's width.
const LABEL_SIZE: u32 = 14;
const MIN_LABEL_SIZE: u32 = 9;
/// Space between a label and the grid, in pixels.
const MARGIN: u32 = 6;

/// The zoom factor that shows a `width × height` cell at least [`MIN_CELL`] pixels across:
/// `⌈56 / longest side⌉` within `1..=MAX_ZOOM` (a 28-pixel digit ×2, a 32-pixel image ×2, an
/// 8-pixel one ×7).
pub fn default_zoom(width: u32, height: u32) -> u32 {
    MIN_CELL
        .div_ceil(width.max(height).max(1))
        .clamp(1, MAX_ZOOM)
}

/// Check a zoom factor asked for: `1..=MAX_ZOOM`.
///
/// # Errors
/// [`ReportError::Invalid`] naming the range otherwise.
pub fn check_zoom(zoom: u32) -> Result<u32> {
    if (1..=MAX_ZOOM).contains(&zoom) {
        Ok(zoom)
    } else {
        Err(ReportError::invalid(
            "zoom",
            format!("{zoom} is not a zoom factor: give an integer from 1 to {MAX_ZOOM}"),
        ))
    }
}

/// What an [`image_grid`] says about its rows and columns. Empty fields draw nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GridLabels {
    /// Above the row labels: what the columns vary (`t`, `value`), or a heading for the rows.
    pub corner: String,
    /// One label per row, drawn on its left (`z3`, `12 → 40`); empty for none.
    pub rows: Vec<String>,
    /// One label per column, drawn above it (`-3.00`, `0.25`); empty for none.
    pub columns: Vec<String>,
}

impl GridLabels {
    /// No labels.
    pub fn none() -> GridLabels {
        GridLabels::default()
    }

    fn is_empty(&self) -> bool {
        self.corner.is_empty() && self.rows.is_empty() && self.columns.is_empty()
    }
}

/// Compose cells into a grid: row `r` of the result shows `rows[r]` left to right, each cell
/// enlarged `zoom` times (nearest neighbour, [`RgbImage::zoom`]), with grey lines 2 pixels wide
/// between and around the cells; a row shorter than the longest is completed in grey (an
/// empty row is a grey band). `labels` are set in the embedded font on a white margin: row
/// labels right-aligned on the left, column labels centred above the columns (in a smaller
/// size if they do not fit a cell's width), `corner` above the row labels.
///
/// # Errors
/// [`ReportError::Invalid`] for no cell, cells of different sizes, a zoom outside
/// `1..=MAX_ZOOM`, a number of row (column) labels other than the number of rows (of the
/// longest row) when there are any, or a result of more than 2³⁰ bytes; [`ReportError::Draw`]
/// if the text cannot be drawn.
pub fn image_grid(rows: &[Vec<RgbImage>], labels: &GridLabels, zoom: u32) -> Result<RgbImage> {
    let what = "image grid";
    let zoom = check_zoom(zoom)?;
    let first = rows
        .iter()
        .flatten()
        .next()
        .ok_or_else(|| ReportError::invalid(what, "no image to draw"))?;
    let (w0, h0) = (first.width(), first.height());
    if let Some(c) = rows
        .iter()
        .flatten()
        .find(|c| (c.width(), c.height()) != (w0, h0))
    {
        return Err(ReportError::invalid(
            what,
            format!(
                "cells of different sizes: {w0}×{h0} and {}×{}",
                c.width(),
                c.height()
            ),
        ));
    }
    let nrows = rows.len();
    let ncols = rows.iter().map(Vec::len).max().unwrap_or(0);
    if !labels.rows.is_empty() && labels.rows.len() != nrows {
        return Err(ReportError::invalid(
            what,
            format!("{} row labels for {nrows} rows", labels.rows.len()),
        ));
    }
    if !labels.columns.is_empty() && labels.columns.len() != ncols {
        return Err(ReportError::invalid(
            what,
            format!("{} column labels for {ncols} columns", labels.columns.len()),
        ));
    }
    let too_big = || ReportError::invalid(what, "the image grid would be too large to draw");
    let (cw, ch) = (
        u64::from(w0) * u64::from(zoom),
        u64::from(h0) * u64::from(zoom),
    );
    let (line, margin) = (u64::from(LINE), u64::from(MARGIN));

    // Label sizes.
    let has_labels = !labels.is_empty();
    if has_labels {
        ensure_font()?;
    }
    let width_of =
        |size: u32, text: &str| u64::from(text_width(f64::from(size), text).ceil() as u32);
    let widest =
        |size: u32, texts: &[String]| texts.iter().map(|t| width_of(size, t)).max().unwrap_or(0);
    let mut col_size = LABEL_SIZE;
    while col_size > MIN_LABEL_SIZE && widest(col_size, &labels.columns) + 4 > cw {
        col_size -= 1;
    }
    let left = if labels.rows.is_empty() && labels.corner.is_empty() {
        0
    } else {
        widest(LABEL_SIZE, &labels.rows).max(width_of(LABEL_SIZE, &labels.corner)) + 2 * margin
    };
    let top = if labels.columns.is_empty() && labels.corner.is_empty() {
        0
    } else {
        (f64::from(LABEL_SIZE) * 1.3).ceil() as u64 + margin + 2
    };
    // Room for a last column label wider than its cell.
    let right = if labels.columns.is_empty() {
        0
    } else {
        (widest(col_size, &labels.columns).saturating_sub(cw) / 2).max(if has_labels {
            margin
        } else {
            0
        })
    };
    let grid_w = (ncols as u64)
        .saturating_mul(cw + line)
        .saturating_add(line);
    let grid_h = (nrows as u64)
        .saturating_mul(ch + line)
        .saturating_add(line);
    let width = left.saturating_add(grid_w).saturating_add(right);
    let height = top.saturating_add(grid_h);
    if width.saturating_mul(height).saturating_mul(3) > MAX_IMAGE_BYTES as u64 {
        return Err(too_big());
    }
    let (width, height) = (
        u32::try_from(width).map_err(|_| too_big())?,
        u32::try_from(height).map_err(|_| too_big())?,
    );
    // Within MAX_IMAGE_BYTES, so every coordinate below fits in u32.
    let (left, top, cw, ch, grid_w, grid_h) = (
        left as u32,
        top as u32,
        cw as u32,
        ch as u32,
        grid_w as u32,
        grid_h as u32,
    );

    let mut out = RgbImage::filled(width, height, BACKGROUND)?;
    let grey = RgbImage::filled(grid_w, grid_h, SEPARATOR)?;
    out.blit(&grey, left, top);
    for (r, row) in rows.iter().enumerate() {
        let y = top + LINE + r as u32 * (ch + LINE);
        for (c, cell) in row.iter().enumerate() {
            let x = left + LINE + c as u32 * (cw + LINE);
            out.blit(&cell.zoom(zoom)?, x, y);
        }
    }
    if has_labels {
        let draw_err = |e| ReportError::draw(what, e);
        let root = Canvas::with_buffer(out.pixels_mut(), (width, height)).into_drawing_area();
        let style = |size: u32, h: HPos, v: VPos| {
            TextStyle::from((FONT, size).into_font())
                .color(&BLACK)
                .pos(Pos::new(h, v))
        };
        let label_x = left as i32 - MARGIN as i32;
        let label_y = top as i32 - 4;
        for (r, text) in labels.rows.iter().enumerate() {
            let y = (top + LINE + r as u32 * (ch + LINE) + ch / 2) as i32;
            root.draw_text(
                text,
                &style(LABEL_SIZE, HPos::Right, VPos::Center),
                (label_x, y),
            )
            .map_err(draw_err)?;
        }
        for (c, text) in labels.columns.iter().enumerate() {
            let x = (left + LINE + c as u32 * (cw + LINE) + cw / 2) as i32;
            root.draw_text(
                text,
                &style(col_size, HPos::Center, VPos::Bottom),
                (x, label_y),
            )
            .map_err(draw_err)?;
        }
        if !labels.corner.is_empty() {
            let x = if left > 0 { label_x } else { MARGIN as i32 };
            let h = if left > 0 { HPos::Right } else { HPos::Left };
            root.draw_text(
                &labels.corner,
                &style(LABEL_SIZE, h, VPos::Bottom),
                (x, label_y),
            )
            .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cell(v: u8) -> RgbImage {
        RgbImage::filled(3, 2, [v, v, v]).unwrap()
    }

    #[test]
    fn default_zoom_reaches_56_pixels() {
        assert_eq!(default_zoom(28, 28), 2);
        assert_eq!(default_zoom(32, 32), 2);
        assert_eq!(default_zoom(8, 8), 7);
        assert_eq!(default_zoom(64, 64), 1);
        assert_eq!(default_zoom(1, 1), MAX_ZOOM);
        assert_eq!(default_zoom(0, 0), MAX_ZOOM);
        for side in 1..200 {
            let z = default_zoom(side, side);
            assert!(side * z >= MIN_CELL || z == MAX_ZOOM, "{side}");
            assert!(
                side * (z - 1) < MIN_CELL || z == 1,
                "{side}: not the least zoom"
            );
        }
    }

    #[test]
    fn unlabelled_grid_layout() {
        // Two rows, the second shorter; zoom 2: cells 6×4, lines 2 wide.
        let rows = vec![vec![cell(0), cell(255)], vec![cell(10)]];
        let g = image_grid(&rows, &GridLabels::none(), 2).unwrap();
        assert_eq!((g.width(), g.height()), (2 * 6 + 3 * 2, 2 * 4 + 3 * 2));
        // Borders around and between.
        assert_eq!(g.pixel(0, 0), Some(SEPARATOR));
        assert_eq!(g.pixel(8, 3), Some(SEPARATOR));
        assert_eq!(g.pixel(3, 6), Some(SEPARATOR));
        // Cells enlarged: (2..8, 2..6) black, (10..16, 2..6) white, (2..8, 8..12) 10.
        assert_eq!(g.pixel(2, 2), Some([0; 3]));
        assert_eq!(g.pixel(7, 5), Some([0; 3]));
        assert_eq!(g.pixel(10, 2), Some([255; 3]));
        assert_eq!(g.pixel(15, 5), Some([255; 3]));
        assert_eq!(g.pixel(2, 8), Some([10; 3]));
        // The missing cell is grey.
        assert_eq!(g.pixel(12, 9), Some(SEPARATOR));
    }

    #[test]
    fn labels_add_margins_with_text() {
        let rows = vec![vec![cell(0); 3], vec![cell(0); 3]];
        let labels = GridLabels {
            corner: "t".into(),
            rows: vec!["z0".into(), "z12".into()],
            columns: vec!["-3.00".into(), "0.00".into(), "3.00".into()],
        };
        let plain = image_grid(&rows, &GridLabels::none(), 10).unwrap();
        let g = image_grid(&rows, &labels, 10).unwrap();
        assert!(
            g.width() > plain.width() + 20,
            "{} vs {}",
            g.width(),
            plain.width()
        );
        assert!(g.height() > plain.height() + 14);
        // The grid is the unlabelled one, below the top margin and right of the left one: its
        // bottom line is grey from `left` on, white before.
        let top = g.height() - plain.height();
        let bottom = g.height() - 1;
        let left = (0..g.width())
            .find(|&x| g.pixel(x, bottom) == Some(SEPARATOR))
            .unwrap();
        assert!(left > 20, "a margin for the row labels: {left}");
        assert!(g.width() >= left + plain.width());
        for y in 0..plain.height() {
            for x in 0..plain.width() {
                assert_eq!(g.pixel(left + x, top + y), plain.pixel(x, y), "({x}, {y})");
            }
        }
        // Dark text pixels in the left margin and in the top margin.
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (y0..y1).any(|y| (x0..x1).any(|x| g.pixel(x, y).is_some_and(|p| p[0] < 100)))
        };
        assert!(dark(0, left, top, g.height()), "row labels drawn");
        assert!(dark(left, g.width(), 0, top), "column labels drawn");
        assert!(dark(0, left, 0, top), "corner drawn");
    }

    #[test]
    fn rejects_bad_grids() {
        let err = image_grid(&[], &GridLabels::none(), 1).unwrap_err();
        assert!(err.to_string().contains("no image"), "{err}");
        assert!(image_grid(&[vec![]], &GridLabels::none(), 1).is_err());
        let mixed = vec![vec![cell(0), RgbImage::filled(2, 2, [0; 3]).unwrap()]];
        let err = image_grid(&mixed, &GridLabels::none(), 1).unwrap_err();
        assert!(err.to_string().contains("different sizes"), "{err}");
        for zoom in [0, MAX_ZOOM + 1] {
            let err = image_grid(&[vec![cell(0)]], &GridLabels::none(), zoom).unwrap_err();
            assert!(err.to_string().contains("from 1 to 16"), "{err}");
            assert!(err.is_user_error());
        }
        let labels = GridLabels {
            rows: vec!["a".into(), "b".into()],
            ..GridLabels::none()
        };
        let err = image_grid(&[vec![cell(0)]], &labels, 1).unwrap_err();
        assert!(err.to_string().contains("2 row labels for 1 rows"), "{err}");
        let labels = GridLabels {
            columns: vec!["a".into()],
            ..GridLabels::none()
        };
        let err = image_grid(&[vec![cell(0), cell(0)]], &labels, 1).unwrap_err();
        assert!(
            err.to_string().contains("1 column labels for 2 columns"),
            "{err}"
        );
        // Too large: refused before allocating.
        let big = RgbImage::filled(4000, 4000, [0; 3]).unwrap();
        let err = image_grid(&[vec![big.clone(), big]], &GridLabels::none(), 16).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }

    #[test]
    fn zoom_is_nearest_neighbour() {
        let img = RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        let z = img.zoom(3).unwrap();
        assert_eq!((z.width(), z.height()), (6, 3));
        for y in 0..3 {
            for x in 0..6 {
                let want = if x < 3 { [1, 2, 3] } else { [4, 5, 6] };
                assert_eq!(z.pixel(x, y), Some(want), "({x}, {y})");
            }
        }
        assert_eq!(img.zoom(1).unwrap(), img);
        assert!(img.zoom(0).is_err());
    }
}
