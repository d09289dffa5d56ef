//! RGB pixel buffers: writing them as PNG, putting them side by side, captioning them.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::canvas::{Canvas, text_width};
use crate::font::{FONT, ensure_font};
use crate::{ReportError, Result};

/// An 8-bit RGB image, pixels row by row (`width · height · 3` bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl RgbImage {
    /// Wrap `pixels` (e.g. the output of `latent_data::image::grid_pixels`).
    ///
    /// # Errors
    /// [`ReportError::Invalid`] when a side is 0 or `pixels` is not `width · height · 3` bytes.
    pub fn from_raw(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self> {
        let want = (width as usize)
            .checked_mul(height as usize)
            .and_then(|v| v.checked_mul(3));
        if width == 0 || height == 0 || want != Some(pixels.len()) {
            return Err(ReportError::invalid(
                "RGB image",
                format!("{} bytes are not {width}×{height} RGB pixels", pixels.len()),
            ));
        }
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// A `width × height` image of one colour.
    ///
    /// # Errors
    /// [`ReportError::Invalid`] when a side is 0.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Result<Self> {
        let n = (width as usize) * (height as usize);
        RgbImage::from_raw(width, height, rgb.repeat(n))
    }

    /// The width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// The height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, RGB, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// `(width, height, pixels)`.
    pub fn into_raw(self) -> (u32, u32, Vec<u8>) {
        (self.width, self.height, self.pixels)
    }

    /// The colour at `(x, y)`, or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (y as usize * self.width as usize + x as usize);
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// The pixels, to draw on.
    pub(crate) fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.pixels
    }

    /// The image enlarged `factor` times in each direction, each pixel becoming a
    /// `factor × factor` block (nearest neighbour: no blurring of small images).
    ///
    /// # Errors
    /// [`ReportError::Invalid`] for a factor of 0 or a result of more than 2³⁰ bytes.
    pub fn zoom(&self, factor: u32) -> Result<RgbImage> {
        let what = "enlarged image";
        if factor == 0 {
            return Err(ReportError::invalid(what, "a zoom factor of 0"));
        }
        if factor == 1 {
            return Ok(self.clone());
        }
        let too_big = || {
            ReportError::invalid(
                what,
                format!(
                    "{}×{} pixels enlarged {factor} times is too large",
                    self.width, self.height
                ),
            )
        };
        let width = self.width.checked_mul(factor).ok_or_else(too_big)?;
        let height = self.height.checked_mul(factor).ok_or_else(too_big)?;
        let bytes = (width as usize)
            .checked_mul(height as usize)
            .and_then(|v| v.checked_mul(3))
            .filter(|&b| b <= MAX_IMAGE_BYTES)
            .ok_or_else(too_big)?;
        let f = factor as usize;
        let row_bytes = 3 * width as usize;
        let mut pixels = Vec::with_capacity(bytes);
        for src_row in self.pixels.chunks_exact(3 * self.width as usize) {
            let start = pixels.len();
            for px in src_row.chunks_exact(3) {
                for _ in 0..f {
                    pixels.extend_from_slice(px);
                }
            }
            for _ in 1..f {
                pixels.extend_from_within(start..start + row_bytes);
            }
        }
        RgbImage::from_raw(width, height, pixels)
    }

    /// Copy `src` with its top-left corner at `(x, y)`; what falls outside is clipped.
    pub(crate) fn blit(&mut self, src: &RgbImage, x: u32, y: u32) {
        let w = src.width.min(self.width.saturating_sub(x)) as usize;
        for row in 0..src.height.min(self.height.saturating_sub(y)) as usize {
            let from = 3 * row * src.width as usize;
            let to = 3 * ((y as usize + row) * self.width as usize + x as usize);
            self.pixels[to..to + 3 * w].copy_from_slice(&src.pixels[from..from + 3 * w]);
        }
    }
}

/// Write an image as a PNG file, atomically (a temporary file renamed into place).
///
/// # Errors
/// [`ReportError::Io`] naming `path` when the file cannot be written.
pub fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    latent_core::fsutil::atomic_write(path, |w| encode_png(w, image))
        .map_err(|e| ReportError::write(path, e))
}

fn encode_png(w: &mut dyn std::io::Write, image: &RgbImage) -> std::io::Result<()> {
    let mut enc = png::Encoder::new(w, image.width, image.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&image.pixels)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

impl RgbImage {
    /// The image as the bytes of a PNG file (what [`write_png`] writes).
    ///
    /// # Errors
    /// [`ReportError::Draw`] when the encoder fails.
    pub fn png_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        encode_png(&mut out, self).map_err(|e| ReportError::Draw {
            what: "a PNG".into(),
            reason: e.to_string(),
        })?;
        Ok(out)
    }
}

/// The largest image the compositions make, in bytes (1 GiB).
pub(crate) const MAX_IMAGE_BYTES: usize = 1 << 30;

/// The background of compositions: white.
const BACKGROUND: [u8; 3] = [255, 255, 255];

/// Put images side by side, left to right, `gap` pixels of white between them, each centred
/// vertically on a white background as tall as the tallest. E.g. `latent map`'s scatter plot of
/// the codes next to the manifold grid.
///
/// # Errors
/// [`ReportError::Invalid`] for no image or a result wider than `u32::MAX`.
pub fn hstack(images: &[&RgbImage], gap: u32) -> Result<RgbImage> {
    let what = "side-by-side images";
    if images.is_empty() {
        return Err(ReportError::invalid(what, "no image"));
    }
    let height = images.iter().map(|i| i.height).max().unwrap_or(1);
    let width = images
        .iter()
        .map(|i| u64::from(i.width))
        .sum::<u64>()
        .saturating_add(u64::from(gap) * (images.len() as u64 - 1));
    let width =
        u32::try_from(width).map_err(|_| ReportError::invalid(what, "too wide an image"))?;
    let mut out = RgbImage::filled(width, height, BACKGROUND)?;
    let mut x = 0;
    for img in images {
        out.blit(img, x, (height - img.height) / 2);
        x += img.width + gap;
    }
    Ok(out)
}

/// Height of the band that [`caption`] adds above an image.
const CAPTION_HEIGHT: u32 = 40;

/// Font size of [`caption`], in pixels.
const CAPTION_SIZE: u32 = 20;

/// `image` with `text` centred in a white band above it (and as wide as the text needs, the
/// image then centred horizontally): a title for an image grid.
///
/// # Errors
/// [`ReportError::Draw`] if the text cannot be drawn.
pub fn caption(image: &RgbImage, text: &str) -> Result<RgbImage> {
    ensure_font()?;
    let what = "caption";
    let style = TextStyle::from((FONT, CAPTION_SIZE).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let width = image
        .width
        .max(text_width(f64::from(CAPTION_SIZE), text).ceil() as u32 + 24);
    let height = image.height + CAPTION_HEIGHT;
    let mut out = RgbImage::filled(width, height, BACKGROUND)?;
    {
        let root = Canvas::with_buffer(&mut out.pixels, (width, height)).into_drawing_area();
        root.draw_text(text, &style, (width as i32 / 2, CAPTION_HEIGHT as i32 / 2))
            .map_err(|e| ReportError::draw(what, e))?;
        root.present().map_err(|e| ReportError::draw(what, e))?;
    }
    out.blit(image, (width - image.width) / 2, CAPTION_HEIGHT);
    Ok(out)
}
