//! PNG images: reading a folder of PNG files as a dataset, and writing grids of images.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use latent_core::{Dataset, ImageShape, ValueRange};
use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::Result;
use crate::util::{core_err, format_err, invalid, io_err, write_atomic};

/// The largest decoded image (bytes) accepted from one PNG file.
const MAX_IMAGE_BYTES: usize = 256 << 20;
/// The largest grid (bytes of RGB) that will be drawn.
const MAX_GRID_BYTES: usize = 1 << 30;
/// The background of grids: neutral gray.
const BACKGROUND: u8 = 128;

fn is_png(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The PNG files and the sub-folders directly in `dir`, each sorted by name.
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut pngs = Vec::new();
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        // Follows symbolic links, as a user would expect.
        let meta = fs::metadata(&path).map_err(|e| io_err(&path, e))?;
        if meta.is_dir() {
            dirs.push(path);
        } else if meta.is_file() && is_png(&path) {
            pngs.push(path);
        }
    }
    pngs.sort();
    dirs.sort();
    Ok((pngs, dirs))
}

/// One decoded image: 8-bit samples, HWC, 1 or 3 channels.
struct Decoded {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

fn channel_name(c: usize) -> &'static str {
    if c == 1 { "grayscale" } else { "RGB" }
}

/// Decode a PNG to 8-bit gray (gray or gray+alpha) or RGB (RGB, RGBA, palette), dropping
/// alpha.
fn decode_png(path: &Path) -> Result<Decoded> {
    let bytes = fs::read(path).map_err(|e| io_err(path, e))?;
    let bad = |e: png::DecodingError| format_err(path, format!("not a valid PNG: {e}"));
    let limits = png::Limits {
        bytes: MAX_IMAGE_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad)?;
    let size = match reader.output_buffer_size() {
        Some(s) if s <= MAX_IMAGE_BYTES => s,
        _ => {
            let (w, h) = reader.info().size();
            return Err(crate::DataError::TooLarge {
                path: path.to_path_buf(),
                reason: format!(
                    "{w}×{h} image is larger than the {MAX_IMAGE_BYTES} bytes accepted"
                ),
            });
        }
    };
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    buf.truncate(info.buffer_size());
    if info.bit_depth != png::BitDepth::Eight {
        return Err(format_err(
            path,
            format!(
                "unsupported bit depth {:?} after conversion",
                info.bit_depth
            ),
        ));
    }
    let (width, height) = (info.width as usize, info.height as usize);
    let (in_ch, out_ch) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => {
            return Err(format_err(path, "palette image was not expanded"));
        }
    };
    let line = info.line_size;
    let mut data = Vec::with_capacity(width * height * out_ch);
    for y in 0..height {
        let row = buf
            .get(y * line..y * line + width * in_ch)
            .ok_or_else(|| format_err(path, "decoded image is shorter than its size"))?;
        for px in row.chunks_exact(in_ch) {
            data.extend_from_slice(px.get(..out_ch).unwrap_or_default());
        }
    }
    Ok(Decoded {
        width,
        height,
        channels: out_ch,
        data,
    })
}

fn relative<'a>(dir: &Path, path: &'a Path) -> std::borrow::Cow<'a, str> {
    path.strip_prefix(dir).unwrap_or(path).to_string_lossy()
}

/// Read a folder of PNG images as a dataset.
///
/// Two layouts are accepted:
/// - `*.png` files (extension in any case) directly in `dir`, read in name order, unlabelled;
/// - no PNG files in `dir` but sub-folders: each sub-folder is a class, labelled `0, 1, …` in
///   name order with the folder names as class names, its PNG files read in name order.
///
/// Hidden entries (names starting with `.`) are skipped. All images must have the same size
/// and the same number of channels: grayscale (with or without alpha) gives 1 channel; RGB,
/// RGBA and palette images give 3; alpha is dropped and 16-bit samples are reduced to 8
/// bits. Rows are the HWC byte values as `f32`, with the range `0..255`.
///
/// # Errors
/// [`DataError::Format`](crate::DataError::Format) naming the file: a corrupt PNG, a size or
/// channel count different from the first image's (`b/3.png: 32×32, expected 28×28 like
/// a/1.png`); naming the folder: no PNG files, or a class folder without any;
/// [`DataError::Io`](crate::DataError::Io) when the folder or a file cannot be read.
pub fn read_png_folder(dir: &Path) -> Result<Dataset> {
    let (pngs, dirs) = list(dir)?;
    let mut files: Vec<(PathBuf, u32)> = Vec::new();
    let mut class_names = None;
    if !pngs.is_empty() {
        files.extend(pngs.into_iter().map(|p| (p, 0)));
    } else if !dirs.is_empty() {
        let mut names = Vec::with_capacity(dirs.len());
        for (label, sub) in dirs.iter().enumerate() {
            let (sub_pngs, _) = list(sub)?;
            if sub_pngs.is_empty() {
                return Err(format_err(
                    sub,
                    "class folder has no PNG files (every sub-folder of the dataset folder is a \
                     class)",
                ));
            }
            let label = u32::try_from(label).unwrap_or(u32::MAX);
            files.extend(sub_pngs.into_iter().map(|p| (p, label)));
            names.push(relative(dir, sub).into_owned());
        }
        class_names = Some(names);
    }
    if files.is_empty() {
        return Err(format_err(
            dir,
            "no PNG files (expected *.png files, or one sub-folder of PNG files per class)",
        ));
    }
    let mut values: Vec<f32> = Vec::new();
    let mut labels = Vec::with_capacity(files.len());
    let mut first: Option<(PathBuf, usize, usize, usize)> = None;
    for (path, label) in &files {
        let img = decode_png(path)?;
        match &first {
            None => {
                first = Some((path.clone(), img.height, img.width, img.channels));
                values.reserve(files.len().saturating_mul(img.data.len()).min(1 << 28));
            }
            Some((fp, h, w, c)) => {
                let like = relative(dir, fp);
                if (img.height, img.width) != (*h, *w) {
                    return Err(format_err(
                        path,
                        format!("{}×{}, expected {h}×{w} like {like}", img.height, img.width),
                    ));
                }
                if img.channels != *c {
                    return Err(format_err(
                        path,
                        format!(
                            "{}, expected {} like {like}",
                            channel_name(img.channels),
                            channel_name(*c)
                        ),
                    ));
                }
            }
        }
        values.extend(img.data.iter().map(|&b| f32::from(b)));
        labels.push(*label);
    }
    let Some((_, height, width, channels)) = first else {
        return Err(format_err(dir, "no PNG files"));
    };
    let shape = ImageShape {
        height,
        width,
        channels,
    };
    let dim = height * width * channels;
    let x = Array2::from_shape_vec((files.len(), dim), values)
        .map_err(|e| format_err(dir, format!("array: {e}")))?;
    let mut ds = Dataset::new(dir.display().to_string(), x)
        .and_then(|d| d.with_image_shape(shape))
        .map_err(|e| core_err(dir, e))?
        .with_range(Some(ValueRange {
            min: 0.0,
            max: 255.0,
        }));
    if let Some(names) = class_names {
        ds = ds
            .with_labels(labels)
            .and_then(|d| d.with_class_names(names))
            .map_err(|e| core_err(dir, e))?;
    }
    Ok(ds)
}

// ---- grids -------------------------------------------------------------------------------

/// One row of tiles in a canvas, with extra background above it.
struct Strip<'a> {
    images: Vec<ArrayView1<'a, f32>>,
    gap_above: usize,
}

fn check_images(what: &str, images: ArrayView2<'_, f32>, shape: ImageShape) -> Result<()> {
    if !matches!(shape.channels, 1 | 3) {
        return Err(invalid(
            what,
            format!(
                "{} channels: only 1 (gray) or 3 (RGB) can be drawn",
                shape.channels
            ),
        ));
    }
    if shape.numel() != Some(images.ncols()) {
        return Err(invalid(
            what,
            format!("rows of {} values are not {shape} images", images.ncols()),
        ));
    }
    Ok(())
}

fn check_range(what: &str, range: ValueRange) -> Result<()> {
    if !(range.min.is_finite() && range.max.is_finite() && range.max > range.min) {
        return Err(invalid(
            what,
            format!(
                "display range {}..{} must be finite with min < max",
                range.min, range.max
            ),
        ));
    }
    Ok(())
}

/// Draw strips of tiles on a gray canvas; returns `(width, height, rgb)`.
fn render(
    what: &str,
    strips: &[Strip<'_>],
    shape: ImageShape,
    range: ValueRange,
    pad: usize,
) -> Result<(u32, u32, Vec<u8>)> {
    check_range(what, range)?;
    let (h, w, c) = (shape.height, shape.width, shape.channels);
    let max_cols = strips.iter().map(|s| s.images.len()).max().unwrap_or(0);
    if max_cols == 0 || h == 0 || w == 0 {
        return Err(invalid(what, "no images to draw"));
    }
    let too_big = || invalid(what, "the image grid would be too large to draw");
    let width = max_cols
        .checked_mul(w + pad)
        .and_then(|v| v.checked_add(pad))
        .ok_or_else(too_big)?;
    let mut height = pad;
    for s in strips {
        height = height
            .checked_add(s.gap_above + h + pad)
            .ok_or_else(too_big)?;
    }
    let bytes = width
        .checked_mul(height)
        .and_then(|v| v.checked_mul(3))
        .filter(|&b| b <= MAX_GRID_BYTES)
        .ok_or_else(too_big)?;
    let (w32, h32) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Err(too_big()),
    };
    let mut rgb = vec![BACKGROUND; bytes];
    let scale = 255.0 / (range.max - range.min);
    let mut y0 = pad;
    for strip in strips {
        y0 += strip.gap_above;
        for (i, img) in strip.images.iter().enumerate() {
            let x0 = pad + i * (w + pad);
            for y in 0..h {
                for x in 0..w {
                    let dst = ((y0 + y) * width + x0 + x) * 3;
                    for ch in 0..3 {
                        let src = (y * w + x) * c + if c == 3 { ch } else { 0 };
                        let v = img.get(src).copied().unwrap_or(range.min);
                        let byte = ((v - range.min) * scale).round().clamp(0.0, 255.0) as u8;
                        if let Some(d) = rgb.get_mut(dst + ch) {
                            *d = byte;
                        }
                    }
                }
            }
        }
        y0 += h + pad;
    }
    Ok((w32, h32, rgb))
}

fn grid_strips(images: ArrayView2<'_, f32>, ncols: usize, gap_first: usize) -> Vec<Strip<'_>> {
    let rows: Vec<ArrayView1<'_, f32>> = images.into_outer_iter().collect();
    rows.chunks(ncols.max(1))
        .enumerate()
        .map(|(i, chunk)| Strip {
            images: chunk.to_vec(),
            gap_above: if i == 0 { gap_first } else { 0 },
        })
        .collect()
}

/// Tile the images (one per row of `images`) in rows of `ncols`, with `pad` pixels of neutral
/// gray around and between them. Values are mapped linearly from `range.min..range.max` to
/// `0..255` and clamped; gray images are replicated to RGB.
///
/// Returns `(width, height, rgb)`, the RGB bytes row by row.
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid): no images, `ncols = 0`, rows that do not
/// match `shape`, an empty or non-finite range, a grid too large to draw.
pub fn grid_pixels(
    images: ArrayView2<'_, f32>,
    shape: ImageShape,
    ncols: usize,
    range: ValueRange,
    pad: usize,
) -> Result<(u32, u32, Vec<u8>)> {
    let what = "image grid";
    check_images(what, images, shape)?;
    if ncols == 0 {
        return Err(invalid(what, "0 images per row"));
    }
    render(what, &grid_strips(images, ncols, 0), shape, range, pad)
}

/// Write 8-bit RGB pixels (row by row) as a PNG file, atomically.
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid) when `rgb` is not `width · height · 3`
/// bytes; [`DataError::Io`](crate::DataError::Io) when the file cannot be written.
pub fn write_png_rgb(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<()> {
    let want = (width as usize)
        .checked_mul(height as usize)
        .and_then(|v| v.checked_mul(3));
    if want != Some(rgb.len()) || width == 0 || height == 0 {
        return Err(invalid(
            format!("PNG {}", path.display()),
            format!("{} bytes are not {width}×{height} RGB pixels", rgb.len()),
        ));
    }
    write_atomic(path, |w| {
        let mut enc = png::Encoder::new(w, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(rgb)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })
}

/// Write a grid of images ([`grid_pixels`] with a 2-pixel padding) as a PNG file.
///
/// # Errors
/// As [`grid_pixels`] and [`write_png_rgb`].
pub fn write_grid(
    path: &Path,
    images: ArrayView2<'_, f32>,
    shape: ImageShape,
    ncols: usize,
    range: ValueRange,
) -> Result<()> {
    let (w, h, rgb) = grid_pixels(images, shape, ncols, range, 2)?;
    write_png_rgb(path, w, h, &rgb)
}

/// Gap between the two grids of [`write_comparison`], in pixels of background.
const COMPARISON_GAP: usize = 6;

/// Write originals (`top`) as a grid above their reconstructions (`bottom`), same layout, the
/// two grids separated by a thicker band of background (6 pixels instead of 2).
///
/// # Errors
/// [`DataError::Invalid`](crate::DataError::Invalid) when `top` and `bottom` differ in shape;
/// otherwise as [`write_grid`].
pub fn write_comparison(
    path: &Path,
    top: ArrayView2<'_, f32>,
    bottom: ArrayView2<'_, f32>,
    shape: ImageShape,
    ncols: usize,
    range: ValueRange,
) -> Result<()> {
    let what = "comparison grid";
    check_images(what, top, shape)?;
    check_images(what, bottom, shape)?;
    if top.nrows() != bottom.nrows() {
        return Err(invalid(
            what,
            format!(
                "{} originals but {} reconstructions",
                top.nrows(),
                bottom.nrows()
            ),
        ));
    }
    if ncols == 0 {
        return Err(invalid(what, "0 images per row"));
    }
    let pad = 2;
    let mut strips = grid_strips(top, ncols, 0);
    strips.extend(grid_strips(bottom, ncols, COMPARISON_GAP - pad));
    let (w, h, rgb) = render(what, &strips, shape, range, pad)?;
    write_png_rgb(path, w, h, &rgb)
}

/// Write rows of images: each entry of `rows` is drawn as one row (e.g. an interpolation or a
/// traversal), left-aligned; rows may differ in length (an empty entry is a blank row).
///
/// # Errors
/// As [`write_grid`].
pub fn write_image_rows(
    path: &Path,
    rows: &[ArrayView2<'_, f32>],
    shape: ImageShape,
    range: ValueRange,
) -> Result<()> {
    let (w, h, rgb) = rows_pixels(rows, shape, range)?;
    write_png_rgb(path, w, h, &rgb)
}

/// The pixels of [`write_image_rows`]: `(width, height, rgb)`.
///
/// # Errors
/// As [`grid_pixels`].
pub fn rows_pixels(
    rows: &[ArrayView2<'_, f32>],
    shape: ImageShape,
    range: ValueRange,
) -> Result<(u32, u32, Vec<u8>)> {
    let what = "image rows";
    let mut strips = Vec::with_capacity(rows.len());
    for r in rows {
        check_images(what, *r, shape)?;
        strips.push(Strip {
            images: r.into_outer_iter().collect(),
            gap_above: 0,
        });
    }
    render(what, &strips, shape, range, 2)
}
