//! Scatter plots of codes and line plots of curves.

use std::ops::Range;
use std::path::Path;

use ndarray::ArrayView2;
use plotters::coord::ranged1d::{
    KeyPointHint, KeyPointWeight, NoDefaultFormatting, Ranged, ValueFormatter,
};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rand::seq::SliceRandom;

use plotters::coord::Shift;

use crate::canvas::{Canvas, text_width};
use crate::font::{FONT, ensure_font};
use crate::ticks::{Axis, Scale};
use crate::{ReportError, Result, RgbImage, write_png};

/// The size of [`scatter_plot`]'s image, `(width, height)`.
pub const SCATTER_SIZE: (u32, u32) = (800, 700);
/// The size of [`line_plot`]'s image, `(width, height)`.
pub const LINE_SIZE: (u32, u32) = (800, 500);

/// Matplotlib's `tab10` colours, in order: label `l` is drawn in `TAB10[l % 10]`.
pub const TAB10: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

fn tab10(i: usize) -> RGBColor {
    let [r, g, b] = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// Font sizes, in pixels.
const TITLE_SIZE: u32 = 22;
const AXIS_DESC_SIZE: u32 = 17;
const TICK_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 15;
/// Width of the legend column of a labelled scatter plot.
const LEGEND_WIDTH: u32 = 180;
/// Height of one legend entry.
const LEGEND_ROW: i32 = 24;
/// The seed of the (fixed) order in which scatter points are drawn.
const DRAW_ORDER_SEED: u64 = 0x5ca7;

/// The padding of a data range on each side, as a fraction of the span.
const PAD: f64 = 0.04;

/// An [`Axis`] as plotters' coordinate: values placed linearly or logarithmically between the
/// ends of its range, grid lines and numbers at its ticks only.
struct Coord(Axis);

impl Ranged for Coord {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let Range { start, end } = self.0.range;
        let (v, a, b) = if self.0.log {
            (value.ln(), start.ln(), end.ln())
        } else {
            (*value, start, end)
        };
        let f = (v - a) / (b - a);
        let px = f64::from(limit.1 - limit.0) * f + 1e-3;
        // `as` saturates (and sends NaN to 0): a value far outside lands off the canvas.
        limit.0.saturating_add(px.floor() as i32)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.0.ticks.values.clone(),
            KeyPointWeight::Any => Vec::new(),
        }
    }

    fn range(&self) -> Range<f64> {
        self.0.range.clone()
    }
}

impl ValueFormatter<f64> for Coord {
    fn format(value: &f64) -> String {
        value.to_string()
    }

    fn format_ext(&self, value: &f64) -> String {
        let ticks = &self.0.ticks;
        ticks
            .values
            .iter()
            .position(|v| v == value)
            .and_then(|i| ticks.labels.get(i))
            .cloned()
            .unwrap_or_else(|| value.to_string())
    }
}

/// The width of the area left of a plot for the y axis: its widest number, the gap to the axis
/// and the (rotated) axis title.
fn y_label_area(axis: &Axis) -> u32 {
    let widest = axis
        .ticks
        .labels
        .iter()
        .map(|l| text_width(f64::from(TICK_SIZE), l).ceil() as u32)
        .max()
        .unwrap_or(0);
    (widest + 20 + 2 * AXIS_DESC_SIZE).max(62)
}

/// Draw `title` centred at the top of `area` and return the area below it. The font shrinks
/// (down to 15 px) for a long title, which is then broken into two lines at the space nearest
/// its middle if it still does not fit.
fn draw_title<'a>(
    area: &DrawingArea<Canvas<'a>, Shift>,
    title: &str,
    what: &str,
) -> Result<DrawingArea<Canvas<'a>, Shift>> {
    let width = area.dim_in_pixel().0 as f32 - 24.0;
    let mut size = TITLE_SIZE;
    while size > 15 && text_width(f64::from(size), title) > width {
        size -= 1;
    }
    let lines: Vec<&str> = if text_width(f64::from(size), title) <= width {
        vec![title]
    } else {
        let mid = title.len() / 2;
        match title
            .match_indices(' ')
            .map(|(i, _)| i)
            .min_by_key(|&i| i.abs_diff(mid))
        {
            Some(i) => vec![&title[..i], &title[i + 1..]],
            None => vec![title],
        }
    };
    let line_height = (f64::from(size) * 1.3).round() as i32;
    let band = 10 + line_height * lines.len() as i32 + 4;
    let (head, body) = area.split_vertically(band);
    let style = TextStyle::from((FONT, size).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let centre = head.dim_in_pixel().0 as i32 / 2;
    for (i, line) in lines.iter().enumerate() {
        head.draw_text(line, &style, (centre, 10 + line_height * i as i32))
            .map_err(|e| ReportError::draw(what, e))?;
    }
    Ok(body)
}

/// A scatter plot of `points` (`n × 2`) as an [`SCATTER_SIZE`] image: small semi-transparent
/// markers, coloured by `labels` ([`TAB10`], reused cyclically beyond 10 labels) with a legend
/// in a column on the right naming each label present by `class_names[label]` (or its number),
/// or all in one colour without a legend when `labels` is `None`. Points are drawn in a fixed
/// pseudo-random order, so that no class is systematically painted over the others.
///
/// # Errors
/// [`ReportError::Invalid`] for a shape other than `n × 2` with `n ≥ 1`, a NaN or infinite
/// coordinate, or a number of labels different from `n`; [`ReportError::Draw`] if plotting
/// fails.
pub fn scatter_plot(
    points: ArrayView2<'_, f32>,
    labels: Option<&[u32]>,
    class_names: Option<&[String]>,
    title: &str,
    axis_labels: (&str, &str),
) -> Result<RgbImage> {
    let what = "scatter plot";
    let (n, cols) = points.dim();
    if n == 0 || cols != 2 {
        return Err(ReportError::invalid(
            what,
            format!("expected n × 2 points with n ≥ 1, got {n} × {cols}"),
        ));
    }
    if let Some(((i, j), v)) = points.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(ReportError::invalid(
            what,
            format!("point [{i}, {j}] is {v}"),
        ));
    }
    if let Some(count) = labels.map(<[u32]>::len).filter(|&c| c != n) {
        return Err(ReportError::invalid(
            what,
            format!("{count} labels for {n} points"),
        ));
    }
    ensure_font()?;
    let draw_err = |e| ReportError::draw(what, e);

    let (width, height) = SCATTER_SIZE;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    {
        let root = Canvas::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let body = draw_title(&root, title, what)?;
        let (plot_area, legend_area) = if labels.is_some() {
            body.split_horizontally(width - LEGEND_WIDTH)
        } else {
            body.split_horizontally(width)
        };

        let axis = |c: usize| {
            let col = points.column(c);
            let lo = col.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = col.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            Axis::new(f64::from(lo), f64::from(hi), Scale::Linear, PAD)
        };
        let (x_axis, y_axis) = (axis(0), axis(1));
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(y_label_area(&y_axis))
            .build_cartesian_2d(Coord(x_axis), Coord(y_axis))
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(axis_labels.0)
            .y_desc(axis_labels.1)
            .label_style((FONT, TICK_SIZE))
            .axis_desc_style((FONT, AXIS_DESC_SIZE))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_err)?;

        let (radius, alpha) = if n > 2000 { (2, 0.5) } else { (3, 0.75) };
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut latent_core::seed::rng(DRAW_ORDER_SEED));
        chart
            .draw_series(order.iter().map(|&i| {
                let colour = tab10(labels.map_or(0, |l| l[i] as usize));
                Circle::new(
                    (f64::from(points[[i, 0]]), f64::from(points[[i, 1]])),
                    radius,
                    colour.mix(alpha).filled(),
                )
            }))
            .map_err(draw_err)?;

        if let Some(labels) = labels {
            let mut present: Vec<u32> = labels.to_vec();
            present.sort_unstable();
            present.dedup();
            let top = 20;
            let max_rows = ((legend_area.dim_in_pixel().1 as i32 - top) / LEGEND_ROW).max(1);
            let style = TextStyle::from((FONT, LEGEND_SIZE).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            for (row, &label) in present.iter().enumerate() {
                let y = top + LEGEND_ROW * row as i32;
                if row as i32 == max_rows - 1 && present.len() as i32 > max_rows {
                    let rest = present.len() - row;
                    legend_area
                        .draw_text(&format!("… {rest} more"), &style, (30, y))
                        .map_err(draw_err)?;
                    break;
                }
                let name = class_names
                    .and_then(|c| c.get(label as usize))
                    .cloned()
                    .unwrap_or_else(|| label.to_string());
                legend_area
                    .draw(&Circle::new((14, y), 6, tab10(label as usize).filled()))
                    .map_err(draw_err)?;
                legend_area
                    .draw_text(&name, &style, (30, y))
                    .map_err(draw_err)?;
            }
        }
        root.present().map_err(draw_err)?;
    }
    RgbImage::from_raw(width, height, buf)
}

/// [`scatter_plot`] written to `path` as a PNG, atomically.
///
/// # Errors
/// As [`scatter_plot`]; [`ReportError::Io`] naming `path` when it cannot be written.
pub fn scatter_png(
    path: &Path,
    points: ArrayView2<'_, f32>,
    labels: Option<&[u32]>,
    class_names: Option<&[String]>,
    title: &str,
    axis_labels: (&str, &str),
) -> Result<()> {
    let image = scatter_plot(points, labels, class_names, title, axis_labels)?;
    write_png(path, &image)
}

/// One named curve of a [`line_plot`]: `(name, points (x, y))`.
pub type Series<'a> = (&'a str, Vec<(f64, f64)>);

/// A line plot of `series` as a [`LINE_SIZE`] image, the x axis linear: [`line_plot_scaled`]
/// with [`Scale::Linear`] along x and, along y, [`Scale::Log`] when `log_y` (loss curves
/// spanning decades) or [`Scale::Linear`].
///
/// # Errors
/// As [`line_plot_scaled`].
pub fn line_plot(
    series: &[Series<'_>],
    title: &str,
    axis_labels: (&str, &str),
    log_y: bool,
) -> Result<RgbImage> {
    let y = if log_y { Scale::Log } else { Scale::Linear };
    line_plot_scaled(series, title, axis_labels, (Scale::Linear, y))
}

/// A line plot of `series` as a [`LINE_SIZE`] image: one line per series in the [`TAB10`]
/// colours, with a legend in the upper right when there is more than one series; markers at
/// the points when a series has 30 points or fewer (or a single one). `scales` are those of
/// the x and y axes: numbers at nice steps ([`crate::ticks`]), integers only for
/// [`Scale::Integer`] (epochs), a logarithmic axis for [`Scale::Log`] numbered even when it
/// spans less than a decade.
///
/// # Errors
/// [`ReportError::Invalid`] for no series, an empty series, a NaN or infinite value, or (on a
/// [`Scale::Log`] axis) a value `≤ 0`, each naming the series; [`ReportError::Draw`] if
/// plotting fails.
pub fn line_plot_scaled(
    series: &[Series<'_>],
    title: &str,
    axis_labels: (&str, &str),
    scales: (Scale, Scale),
) -> Result<RgbImage> {
    let what = "line plot";
    if series.is_empty() {
        return Err(ReportError::invalid(what, "no series to plot"));
    }
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (name, pts) in series {
        if pts.is_empty() {
            return Err(ReportError::invalid(
                what,
                format!("series `{name}` is empty"),
            ));
        }
        for (i, &(x, y)) in pts.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                return Err(ReportError::invalid(
                    what,
                    format!("series `{name}`, point {i}: ({x}, {y}) is not finite"),
                ));
            }
            for (axis, v, scale) in [("x", x, scales.0), ("y", y, scales.1)] {
                if scale == Scale::Log && v <= 0.0 {
                    return Err(ReportError::invalid(
                        what,
                        format!(
                            "series `{name}`, point {i}: {axis} = {v} cannot go on a log scale"
                        ),
                    ));
                }
            }
            x_lo = x_lo.min(x);
            x_hi = x_hi.max(x);
            y_lo = y_lo.min(y);
            y_hi = y_hi.max(y);
        }
    }
    ensure_font()?;
    // The x axis ends at the data (a little room for the markers); the y axis is padded.
    let x_axis = Axis::new(x_lo, x_hi, scales.0, PAD / 2.0);
    let y_axis = Axis::new(y_lo, y_hi, scales.1, PAD);
    let (width, height) = LINE_SIZE;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    draw_lines(&mut buf, series, title, axis_labels, x_axis, y_axis)?;
    RgbImage::from_raw(width, height, buf)
}

/// The drawing of [`line_plot_scaled`].
fn draw_lines(
    buf: &mut [u8],
    series: &[Series<'_>],
    title: &str,
    axis_labels: (&str, &str),
    x_axis: Axis,
    y_axis: Axis,
) -> Result<()> {
    let what = "line plot";
    let draw_err = |e| ReportError::draw(what, e);
    let root = Canvas::with_buffer(buf, LINE_SIZE).into_drawing_area();
    let body = draw_title(&root, title, what)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(y_label_area(&y_axis))
        .build_cartesian_2d(Coord(x_axis), Coord(y_axis))
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc(axis_labels.0)
        .y_desc(axis_labels.1)
        .label_style((FONT, TICK_SIZE))
        .axis_desc_style((FONT, AXIS_DESC_SIZE))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(draw_err)?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let colour = tab10(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
            .map_err(draw_err)?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3))
            });
        if pts.len() <= 30 {
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, colour.filled())),
                )
                .map_err(draw_err)?;
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, LEGEND_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(draw_err)?;
    }
    root.present().map_err(draw_err)?;
    Ok(())
}

/// [`line_plot`] written to `path` as a PNG, atomically.
///
/// # Errors
/// As [`line_plot`]; [`ReportError::Io`] naming `path` when it cannot be written.
pub fn line_plot_png(
    path: &Path,
    series: &[Series<'_>],
    title: &str,
    axis_labels: (&str, &str),
    log_y: bool,
) -> Result<()> {
    let image = line_plot(series, title, axis_labels, log_y)?;
    write_png(path, &image)
}
