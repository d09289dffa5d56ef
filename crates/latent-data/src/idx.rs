//! IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (magic number, then
//! one `u32` per dimension) followed by unsigned bytes. Files may be gzip-compressed; that is
//! detected from the first two bytes, not from the name.
//!
//! Sizes in the header are checked against the file before anything is allocated: against
//! the file's length for raw files, and by reading at most one byte more than declared for
//! compressed ones.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use latent_core::{Dataset, ImageShape, RowSource, ValueRange};
use ndarray::Array2;

use crate::util::{
    MAX_BYTES, check_rows, core_err, format_err, io_err, is_gzip, open_buffered, open_maybe_gz,
    read_err, read_up_to, too_large,
};
use crate::{DataError, Result};

/// Magic number of an IDX file of unsigned-byte images (`0x00000803`).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (`0x00000801`).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The content of an IDX image file: `n` images of `height × width` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Rows of pixels per image.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
    /// `n · height · width` pixel values, image after image.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// The layout of one image (grayscale).
    pub fn image_shape(&self) -> ImageShape {
        ImageShape::gray(self.height, self.width)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }
    fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Labels => "labels",
        }
    }
}

/// A checked header: the declared dimensions and the number of data bytes they imply.
struct Header {
    n: usize,
    height: usize,
    width: usize,
    payload: usize,
}

impl Header {
    fn describe(&self, kind: Kind) -> String {
        match kind {
            Kind::Images => format!(
                "{} images of {}×{} ({} bytes of pixels)",
                self.n, self.height, self.width, self.payload
            ),
            Kind::Labels => format!("{} labels ({} bytes)", self.n, self.payload),
        }
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Check the header at the start of `head` (which may be shorter than a header).
fn parse_header(name: &Path, kind: Kind, head: &[u8]) -> Result<Header> {
    let hl = kind.header_len();
    if head.len() < 4 {
        return Err(format_err(
            name,
            format!(
                "truncated: {} bytes, an IDX {} header needs {hl}",
                head.len(),
                kind.noun()
            ),
        ));
    }
    let magic = be_u32(head, 0).unwrap_or(0);
    if magic != kind.magic() {
        let hint = if is_gzip(head) {
            " — this is gzip data; decompress it first"
        } else if magic == IMAGES_MAGIC {
            " — this is an IDX images file, not labels"
        } else if magic == LABELS_MAGIC {
            " — this is an IDX labels file, not images"
        } else if magic >> 16 == 0 {
            " — only unsigned-byte IDX files are supported"
        } else {
            " — not an IDX file"
        };
        return Err(format_err(
            name,
            format!(
                "bad magic 0x{magic:08x} (expected {} = 0x{:08x}){hint}",
                kind.magic(),
                kind.magic()
            ),
        ));
    }
    if head.len() < hl {
        return Err(format_err(
            name,
            format!(
                "truncated header: {} bytes, an IDX {} header needs {hl}",
                head.len(),
                kind.noun()
            ),
        ));
    }
    let dim = |i: usize| be_u32(head, 4 + 4 * i).map_or(0, u64::from);
    let (n, height, width) = match kind {
        Kind::Images => (dim(0), dim(1), dim(2)),
        Kind::Labels => (dim(0), 1, 1),
    };
    if n == 0 {
        return Err(format_err(
            name,
            format!("the header declares 0 {}", kind.noun()),
        ));
    }
    if height == 0 || width == 0 {
        return Err(format_err(
            name,
            format!("the header declares images of {height}×{width} pixels"),
        ));
    }
    let payload = n.saturating_mul(height).saturating_mul(width);
    if payload > MAX_BYTES {
        let what = match kind {
            Kind::Images => format!("{n} images of {height}×{width}"),
            Kind::Labels => format!("{n} labels"),
        };
        return Err(too_large(
            name,
            format!(
                "the header declares {what} = {payload} bytes, more than the {MAX_BYTES} bytes \
                 latent accepts"
            ),
        ));
    }
    let to_usize = |v: u64| {
        usize::try_from(v).map_err(|_| too_large(name, "the header's sizes overflow memory"))
    };
    Ok(Header {
        n: to_usize(n)?,
        height: to_usize(height)?,
        width: to_usize(width)?,
        payload: to_usize(payload)?,
    })
}

/// Compare the declared data size with the bytes actually present.
fn check_payload_len(name: &Path, kind: Kind, h: &Header, got: u64) -> Result<()> {
    let want = h.payload as u64;
    if got < want {
        return Err(format_err(
            name,
            format!(
                "truncated: the header declares {}, but only {got} bytes follow the {}-byte \
                 header (expected {want})",
                h.describe(kind),
                kind.header_len()
            ),
        ));
    }
    if got > want {
        return Err(format_err(
            name,
            format!(
                "{} unexpected bytes after the {}",
                got - want,
                h.describe(kind)
            ),
        ));
    }
    Ok(())
}

/// Bytes of memory a whole-file read holds per pixel: the byte read and its f32.
const HELD_PER_PIXEL: u64 = 5;

/// Refuse to read the whole of a file whose images (their bytes and the f32 array made of
/// them) would need more memory than latent may use. Streaming reads are not bounded by it.
fn check_memory(name: &Path, kind: Kind, h: &Header) -> Result<()> {
    if kind != Kind::Images {
        return Ok(());
    }
    crate::util::check_memory(
        name,
        &format!(
            "{} images of {}×{} (as the header declares)",
            h.n, h.height, h.width
        ),
        h.payload as u128 * u128::from(HELD_PER_PIXEL),
    )
}

/// Parse an IDX file held in memory: header then data.
fn parse_kind<'a>(name: &Path, kind: Kind, bytes: &'a [u8]) -> Result<(Header, &'a [u8])> {
    let header = parse_header(name, kind, bytes)?;
    let data = bytes.get(kind.header_len()..).unwrap_or_default();
    check_payload_len(name, kind, &header, data.len() as u64)?;
    check_memory(name, kind, &header)?;
    Ok((header, data))
}

/// Read an IDX stream: header, size check, then at most one byte more than declared.
/// `raw_len` is the length of the whole stream when known (an uncompressed file), checked
/// before the data is read.
fn read_kind(
    name: &Path,
    kind: Kind,
    r: &mut dyn Read,
    gzip: bool,
    raw_len: Option<u64>,
) -> Result<(Header, Vec<u8>)> {
    let mut head = [0u8; 16];
    let hl = kind.header_len();
    let got = read_up_to(r, &mut head[..hl]).map_err(|e| read_err(name, gzip, e))?;
    let header = parse_header(name, kind, &head[..got])?;
    if let Some(len) = raw_len {
        check_payload_len(name, kind, &header, len.saturating_sub(hl as u64))?;
        check_memory(name, kind, &header)?;
    }
    // Capacity only once the size is known to be real; otherwise the buffer grows with the
    // data actually decompressed, up to what latent may hold: a stream that ends before is
    // truncated, one that goes on is too large.
    let want = header.payload as u64;
    let hold = match kind {
        Kind::Images => want.min(latent_core::memory::limit() / HELD_PER_PIXEL),
        Kind::Labels => want,
    };
    let mut data = Vec::with_capacity(if raw_len.is_some() { header.payload } else { 0 });
    r.take(hold + 1)
        .read_to_end(&mut data)
        .map_err(|e| read_err(name, gzip, e))?;
    if hold < want && data.len() as u64 > hold {
        check_memory(name, kind, &header)?;
    }
    check_payload_len(name, kind, &header, data.len() as u64)?;
    Ok((header, data))
}

fn images_from(h: Header, pixels: Vec<u8>) -> IdxImages {
    IdxImages {
        n: h.n,
        height: h.height,
        width: h.width,
        pixels,
    }
}

/// Parse an uncompressed IDX image file (magic `0x00000803`) held in memory.
///
/// # Errors
/// [`DataError::Format`] naming `name`: bad magic, a zero size, truncated or trailing data
/// (with the expected and actual byte counts); [`DataError::TooLarge`] when the header
/// declares more than 16 GiB.
pub fn parse_images(name: &Path, bytes: &[u8]) -> Result<IdxImages> {
    let (h, data) = parse_kind(name, Kind::Images, bytes)?;
    Ok(images_from(h, data.to_vec()))
}

/// Parse an uncompressed IDX label file (magic `0x00000801`) held in memory.
///
/// # Errors
/// As [`parse_images`].
pub fn parse_labels(name: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, data) = parse_kind(name, Kind::Labels, bytes)?;
    Ok(data.to_vec())
}

fn read_file_kind(path: &Path, kind: Kind) -> Result<(Header, Vec<u8>)> {
    let mut f = open_maybe_gz(path)?;
    let raw_len = (!f.gzip).then_some(f.file_len);
    read_kind(path, kind, &mut f.reader, f.gzip, raw_len)
}

/// Read an IDX image file, raw or gzip-compressed.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; otherwise as [`parse_images`], plus
/// [`DataError::Format`] for corrupt gzip data.
pub fn read_images(path: &Path) -> Result<IdxImages> {
    let (h, data) = read_file_kind(path, Kind::Images)?;
    Ok(images_from(h, data))
}

/// Read an IDX label file, raw or gzip-compressed.
///
/// # Errors
/// As [`read_images`].
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    Ok(read_file_kind(path, Kind::Labels)?.1)
}

/// Build the dataset: raw pixel values `0..=255` as `f32`, a grayscale image shape, the range
/// `0..255`, and the labels when given (counts already checked).
fn to_dataset(name: &Path, images: IdxImages, labels: Option<Vec<u8>>) -> Result<Dataset> {
    let dim = images.height * images.width;
    let values: Vec<f32> = images.pixels.iter().map(|&b| f32::from(b)).collect();
    let x = Array2::from_shape_vec((images.n, dim), values)
        .map_err(|e| format_err(name, format!("pixel array: {e}")))?;
    build_dataset(name, x, images.image_shape(), labels)
}

/// The dataset of pixel rows already converted to `f32` (see [`to_dataset`]).
fn build_dataset(
    name: &Path,
    x: Array2<f32>,
    shape: ImageShape,
    labels: Option<Vec<u8>>,
) -> Result<Dataset> {
    let mut ds = Dataset::new(name.display().to_string(), x)
        .and_then(|d| d.with_image_shape(shape))
        .map_err(|e| core_err(name, e))?
        .with_range(Some(ValueRange {
            min: 0.0,
            max: 255.0,
        }));
    if let Some(labels) = labels {
        ds = ds
            .with_labels(labels.into_iter().map(u32::from).collect())
            .map_err(|e| core_err(name, e))?;
    }
    Ok(ds)
}

fn check_counts(images: &Path, n: usize, labels_name: &Path, m: usize) -> Result<()> {
    if n != m {
        return Err(format_err(
            labels_name,
            format!(
                "{m} labels, but {} holds {n} images (the counts must agree)",
                images.display()
            ),
        ));
    }
    Ok(())
}

/// Load an IDX image file and, optionally, its label file as a dataset: rows are the raw
/// pixel values `0..=255` as `f32`, the image shape is grayscale `height × width`, the range
/// is `0..255`. The dataset is named after the image file.
///
/// # Errors
/// As [`read_images`] for either file, and [`DataError::Format`] naming both files when the
/// number of labels differs from the number of images.
pub fn load_pair(images: &Path, labels: Option<&Path>) -> Result<Dataset> {
    let imgs = read_images(images)?;
    let labels = match labels {
        Some(lp) => {
            let l = read_labels(lp)?;
            check_counts(images, imgs.n, lp, l.len())?;
            Some(l)
        }
        None => None,
    };
    to_dataset(images, imgs, labels)
}

/// Rows `rows` of what [`load_pair`] gives, and only those held in memory: the same values,
/// labels, image shape, range and name as `load_pair(images, labels)?.select(rows)`. A raw file
/// is read from the first row's offset; a gzip stream is decompressed from its start, the rows
/// before the range discarded batch by batch, and then decompressed to its end (discarded too)
/// so that a truncated or over-long file is refused whatever the range, as [`load_pair`]
/// refuses it. The label file is read whole and its count checked against all the images.
///
/// # Errors
/// As [`load_pair`] (the memory limit is checked for the rows read, not the whole file);
/// [`DataError::Invalid`] naming the image file and its number of images for a range that ends
/// past them or starts after its end; an empty range is [`DataError::Core`] wrapping
/// [`latent_core::Error::Empty`], as a [`Dataset`] has at least one row.
pub fn load_pair_rows(images: &Path, labels: Option<&Path>, rows: Range<usize>) -> Result<Dataset> {
    Ok(load_pair_rows_counted(images, labels, rows)?.0)
}

/// [`load_pair_rows`], and the number of images in the whole file.
pub(crate) fn load_pair_rows_counted(
    images: &Path,
    labels: Option<&Path>,
    rows: Range<usize>,
) -> Result<(Dataset, usize)> {
    let mut src = IdxRowSource::open_rows(images, rows.clone())?;
    let (n, shape, dim) = (src.n, src.shape, src.dim());
    let k = rows.end - rows.start;
    let labels = match labels {
        Some(lp) => {
            let l = read_labels(lp)?;
            check_counts(images, n, lp, l.len())?;
            Some(l.get(rows.clone()).map(<[u8]>::to_vec).unwrap_or_default())
        }
        None => None,
    };
    crate::util::check_memory(
        images,
        &format!(
            "rows {}..{} ({k} images of {}×{})",
            rows.start, rows.end, shape.height, shape.width
        ),
        (k * dim) as u128 * u128::from(HELD_PER_PIXEL),
    )?;
    // A raw file's size was checked against its header; a gzip stream's was not, so the rows
    // grow with the data actually decompressed.
    let mut values = Vec::with_capacity(if src.gzip { 0 } else { k * dim });
    while let Some(b) = src.read_batch(usize::MAX)? {
        values.extend(b.iter().copied());
    }
    let x = Array2::from_shape_vec((k, dim), values)
        .map_err(|e| format_err(images, format!("pixel array: {e}")))?;
    Ok((build_dataset(images, x, shape, labels)?, n))
}

/// Like [`load_pair`] for files held in memory (raw or gzip, detected from the bytes); `name`
/// names the dataset and appears in error messages. Used for the embedded Fashion-MNIST.
///
/// # Errors
/// As [`load_pair`].
pub fn load_bytes(name: &str, images_gz_or_raw: &[u8], labels: Option<&[u8]>) -> Result<Dataset> {
    let img_name = PathBuf::from(name);
    let (h, pixels) = read_slice(&img_name, Kind::Images, images_gz_or_raw)?;
    let imgs = images_from(h, pixels);
    let labels = match labels {
        Some(b) => {
            let lname = PathBuf::from(format!("{name} (labels)"));
            let (_, l) = read_slice(&lname, Kind::Labels, b)?;
            check_counts(&img_name, imgs.n, &lname, l.len())?;
            Some(l)
        }
        None => None,
    };
    to_dataset(&img_name, imgs, labels)
}

fn read_slice(name: &Path, kind: Kind, bytes: &[u8]) -> Result<(Header, Vec<u8>)> {
    if is_gzip(bytes) {
        let mut dec = flate2::read::MultiGzDecoder::new(bytes);
        read_kind(name, kind, &mut dec, true, None)
    } else {
        let (h, data) = parse_kind(name, kind, bytes)?;
        Ok((h, data.to_vec()))
    }
}

/// The largest batch, in bytes, that [`IdxRowSource`] reads at once (a batch may hold fewer
/// rows than asked for, as [`RowSource`] allows).
const MAX_BATCH_BYTES: usize = 64 << 20;

/// Streams the images of an IDX file (raw or gzip) as rows of `f32`, batch by batch, without
/// loading the file: memory stays at one batch. Values are the pixel bytes times a scale
/// factor (1 by default, so `0..=255`; see [`IdxRowSource::scaled`]).
///
/// [`IdxRowSource::open_rows`] streams only a range of the images.
///
/// Errors met while streaming (truncated or corrupt data) are
/// [`latent_core::Error::Source`] wrapping a [`DataError`] that names the file.
pub struct IdxRowSource {
    name: PathBuf,
    reader: Box<dyn Read + Send>,
    gzip: bool,
    n: usize,
    shape: ImageShape,
    /// The first row streamed.
    first: usize,
    /// The next row to read.
    pos: usize,
    /// The row the stream stops before.
    end: usize,
    scale: f32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for IdxRowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxRowSource")
            .field("name", &self.name)
            .field("n", &self.n)
            .field("shape", &self.shape)
            .field("rows", &(self.first..self.end))
            .field("pos", &self.pos)
            .field("scale", &self.scale)
            .finish_non_exhaustive()
    }
}

impl IdxRowSource {
    /// Open an IDX image file and check its header (and, for a raw file, its length).
    ///
    /// # Errors
    /// As [`read_images`], for the header and length checks.
    pub fn open(path: &Path) -> Result<Self> {
        let f = open_maybe_gz(path)?;
        let raw_len = (!f.gzip).then_some(f.file_len);
        Self::start(path.to_path_buf(), f.reader, f.gzip, raw_len)
    }

    /// Stream IDX image data held in memory (raw or gzip), e.g. an embedded copy.
    ///
    /// # Errors
    /// As [`IdxRowSource::open`].
    pub fn from_bytes(name: &str, bytes: &'static [u8]) -> Result<Self> {
        let gzip = is_gzip(bytes);
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(bytes))
        } else {
            Box::new(bytes)
        };
        let raw_len = (!gzip).then_some(bytes.len() as u64);
        Self::start(PathBuf::from(name), reader, gzip, raw_len)
    }

    /// Open an IDX image file to stream only the images `rows` (their indices in the file),
    /// checking the header (and, for a raw file, its length) as [`IdxRowSource::open`] does.
    /// A raw file is read from the first row's offset; a gzip stream is decompressed from its
    /// start and the rows before the range are read and discarded (a bounded buffer at a
    /// time) here. When the last row of the range has been read, the rest of a gzip stream is
    /// decompressed and discarded too, so that truncated or trailing data is an error whatever
    /// the range.
    ///
    /// # Errors
    /// As [`IdxRowSource::open`]; [`DataError::Invalid`] naming the file and its number of
    /// images for a range that ends past them or starts after its end; [`DataError::Format`]
    /// when a gzip stream ends before the range starts.
    pub fn open_rows(path: &Path, rows: Range<usize>) -> Result<Self> {
        let (mut buf, gzip, file_len) = open_buffered(path)?;
        if gzip {
            let reader = Box::new(flate2::read::MultiGzDecoder::new(buf));
            let mut s = Self::start(path.to_path_buf(), reader, true, None)?;
            check_rows(path, &rows, s.n)?;
            s.discard(rows.start)?;
            s.first = rows.start;
            s.end = rows.end;
            return Ok(s);
        }
        let header = read_stream_header(path, &mut buf, false, Some(file_len))?;
        check_rows(path, &rows, header.n)?;
        // the file's length was checked against the header: the offset is in the file
        let at =
            Kind::Images.header_len() as u64 + (rows.start * header.height * header.width) as u64;
        buf.seek(SeekFrom::Start(at)).map_err(|e| io_err(path, e))?;
        let mut s = Self::with_header(path.to_path_buf(), Box::new(buf), false, &header);
        s.first = rows.start;
        s.pos = rows.start;
        s.end = rows.end;
        Ok(s)
    }

    fn start(
        name: PathBuf,
        mut reader: Box<dyn Read + Send>,
        gzip: bool,
        raw_len: Option<u64>,
    ) -> Result<Self> {
        let header = read_stream_header(&name, &mut reader, gzip, raw_len)?;
        Ok(Self::with_header(name, reader, gzip, &header))
    }

    fn with_header(
        name: PathBuf,
        reader: Box<dyn Read + Send>,
        gzip: bool,
        header: &Header,
    ) -> Self {
        Self {
            name,
            reader,
            gzip,
            n: header.n,
            shape: ImageShape::gray(header.height, header.width),
            first: 0,
            pos: 0,
            end: header.n,
            scale: 1.0,
            buf: Vec::new(),
        }
    }

    /// Multiply every value by `scale` (e.g. `1.0 / 255.0` for values in `[0, 1]`).
    pub fn scaled(mut self, scale: f32) -> Self {
        self.scale = scale;
        self
    }

    /// The number of images the header declares (all of them, whatever rows are streamed).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The indices of the images streamed: `0..n` unless opened with
    /// [`IdxRowSource::open_rows`].
    pub fn rows(&self) -> Range<usize> {
        self.first..self.end
    }

    /// The layout of one image.
    pub fn image_shape(&self) -> ImageShape {
        self.shape
    }

    fn truncated(&self, done: usize) -> DataError {
        format_err(
            &self.name,
            format!(
                "truncated: the data ends after {done} of the {} images the header declares",
                self.n
            ),
        )
    }

    /// Read and discard the next `rows` images (a bounded buffer at a time).
    fn discard(&mut self, rows: usize) -> Result<()> {
        let dim = self.dim();
        let bytes = (rows * dim) as u64;
        let got = std::io::copy(&mut self.reader.by_ref().take(bytes), &mut std::io::sink())
            .map_err(|e| read_err(&self.name, self.gzip, e))?;
        if got < bytes {
            let done = self.pos + (got / dim as u64) as usize;
            return Err(self.truncated(done));
        }
        self.pos += rows;
        Ok(())
    }

    /// After the last row of the range: the rest of a gzip stream is read through (a raw
    /// file's length was checked when it was opened), and no data may follow the images.
    fn finish(&mut self) -> Result<()> {
        if self.end < self.n {
            if !self.gzip {
                return Ok(());
            }
            self.discard(self.n - self.end)?;
        }
        let mut extra = [0u8; 1];
        let more = read_up_to(&mut self.reader, &mut extra)
            .map_err(|e| read_err(&self.name, self.gzip, e))?;
        if more > 0 {
            return Err(format_err(
                &self.name,
                format!(
                    "unexpected data after the {} images the header declares",
                    self.n
                ),
            ));
        }
        Ok(())
    }

    /// The next batch of at most `max_rows` rows of the range, or `None` at its end.
    fn read_batch(&mut self, max_rows: usize) -> Result<Option<Array2<f32>>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let dim = self.dim();
        let rows = max_rows
            .max(1)
            .min(self.end - self.pos)
            .min((MAX_BATCH_BYTES / dim).max(1));
        let bytes = rows * dim;
        // The buffer grows with the data actually read: a gzip stream's declared size has not
        // been checked against anything, so it must not size an allocation (one image may
        // claim up to 16 GiB). A raw file's size was checked when it was opened.
        self.buf.clear();
        if !self.gzip {
            self.buf.reserve(bytes);
        }
        self.reader
            .by_ref()
            .take(bytes as u64)
            .read_to_end(&mut self.buf)
            .map_err(|e| read_err(&self.name, self.gzip, e))?;
        let got = self.buf.len();
        if got < bytes {
            return Err(self.truncated(self.pos + got / dim));
        }
        self.pos += rows;
        if self.pos == self.end {
            self.finish()?;
        }
        let scale = self.scale;
        let values: Vec<f32> = self.buf.iter().map(|&b| f32::from(b) * scale).collect();
        Array2::from_shape_vec((rows, dim), values)
            .map(Some)
            .map_err(|e| format_err(&self.name, format!("batch array: {e}")))
    }
}

/// Read and check the header of an IDX image stream (and, when `raw_len` gives the length of
/// an uncompressed file, that length); the stream is left at the first pixel.
fn read_stream_header(
    name: &Path,
    reader: &mut dyn Read,
    gzip: bool,
    raw_len: Option<u64>,
) -> Result<Header> {
    let kind = Kind::Images;
    let mut head = [0u8; 16];
    let got = read_up_to(reader, &mut head).map_err(|e| read_err(name, gzip, e))?;
    let header = parse_header(name, kind, &head[..got])?;
    if let Some(len) = raw_len {
        check_payload_len(name, kind, &header, len.saturating_sub(16))?;
    }
    Ok(header)
}

impl RowSource for IdxRowSource {
    fn dim(&self) -> usize {
        self.shape.height * self.shape.width
    }

    fn range(&self) -> Option<ValueRange> {
        Some(ValueRange {
            min: 0.0,
            max: 255.0 * self.scale,
        })
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(self.shape)
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.end - self.first)
    }

    fn next_batch(&mut self, max_rows: usize) -> latent_core::Result<Option<Array2<f32>>> {
        self.read_batch(max_rows)
            .map_err(|e| latent_core::Error::Source(Box::new(e)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn parses_a_tiny_file() {
        let mut b = header(IMAGES_MAGIC, &[2, 2, 3]);
        b.extend(0..12u8);
        let im = parse_images(Path::new("t.idx"), &b).unwrap();
        assert_eq!((im.n, im.height, im.width), (2, 2, 3));
        assert_eq!(im.pixels, (0..12u8).collect::<Vec<_>>());
        let mut l = header(LABELS_MAGIC, &[3]);
        l.extend([7, 8, 9]);
        assert_eq!(parse_labels(Path::new("l"), &l).unwrap(), vec![7, 8, 9]);
    }

    #[test]
    fn header_errors_name_the_cause() {
        let name = Path::new("x.idx");
        let e = parse_images(name, &header(LABELS_MAGIC, &[1])).unwrap_err();
        assert!(e.to_string().contains("labels file, not images"), "{e}");
        let e = parse_images(name, &header(IMAGES_MAGIC, &[0, 28, 28])).unwrap_err();
        assert!(e.to_string().contains("0 images"), "{e}");
        let e = parse_images(name, &header(IMAGES_MAGIC, &[1, 0, 28])).unwrap_err();
        assert!(e.to_string().contains("0×28"), "{e}");
        let e = parse_images(name, &[0x1f, 0x8b, 8, 0, 0]).unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
        let mut b = header(IMAGES_MAGIC, &[1, 1, 1]);
        b.extend([1, 2]);
        let e = parse_images(name, &b).unwrap_err();
        assert!(e.to_string().contains("1 unexpected bytes"), "{e}");
    }

    #[test]
    fn stream_caps_batches_and_reports_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("imgs-idx3-ubyte");
        let mut b = header(IMAGES_MAGIC, &[3, 1, 2]);
        b.extend(0..6u8);
        std::fs::write(&p, &b).unwrap();
        let mut s = IdxRowSource::open(&p).unwrap().scaled(0.5);
        let a = s.next_batch(2).unwrap().unwrap();
        assert_eq!(a.as_slice().unwrap(), &[0.0, 0.5, 1.0, 1.5]);
        let c = s.next_batch(0).unwrap().unwrap();
        assert_eq!(c.nrows(), 1);
        assert!(s.next_batch(5).unwrap().is_none());
    }
}
