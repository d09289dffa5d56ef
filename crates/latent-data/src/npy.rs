//! NumPy `.npy` files: format versions 1.0, 2.0 and 3.0; dtypes `|u1`, `<f4` and `<f8`, and
//! the other little-endian integers (`|i1`, `<i2`, `<u2`, `<i4`, `<u4`, `<i8`, `<u8`, read as
//! `f32`); C order only.
//!
//! Arrays of shape `(N, D)` are `N` rows of `D` features; `(N, H, W)` are grayscale images
//! and `(N, H, W, C)` with `C ∈ {1, 3}` are images with channels last. A labels file
//! ([`read_labels`]) is `(N,)` or `(N, 1)` of any integer dtype, or of floats holding
//! integers. The header is parsed by a small strict parser, and the data length it implies is
//! checked against the file before anything is allocated.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use latent_core::{Dataset, ImageShape, RowSource, ValueRange};
use ndarray::{Array2, ArrayView2};

use crate::util::{
    MAX_BYTES, check_rows, checked_product, core_err, format_err, invalid, io_err, read_up_to,
    too_large, write_atomic,
};
use crate::{DataError, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Headers longer than this are refused (NumPy writes a few hundred bytes at most).
const MAX_HEADER_LEN: usize = 1 << 20;
/// The largest batch, in bytes, that [`NpyRowSource`] reads at once.
const MAX_BATCH_BYTES: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    U1,
    F4,
    F8,
    /// Another integer type: signedness and size in bytes (1, 2, 4 or 8).
    Int {
        signed: bool,
        size: usize,
    },
}

/// The dtypes the reader accepts, as an error message lists them.
const SUPPORTED: &str = "|u1, <f4, <f8, and the integers |i1, <i2, <u2, <i4, <u4, <i8, <u8";

/// A little-endian integer of `c.len()` (1 to 8) bytes, as `i128`.
fn le_int(c: &[u8], signed: bool) -> i128 {
    let mut b = [0u8; 8];
    let n = c.len().min(8);
    b[..n].copy_from_slice(&c[..n]);
    if signed && n > 0 && n < 8 && c[n - 1] & 0x80 != 0 {
        b[n..].fill(0xff);
    }
    if signed {
        i128::from(i64::from_le_bytes(b))
    } else {
        i128::from(u64::from_le_bytes(b))
    }
}

impl Dtype {
    fn from_descr(s: &str) -> Option<Self> {
        let int = |signed, size| Some(Dtype::Int { signed, size });
        match s {
            "|u1" | "<u1" | "u1" | "|B" | "B" => Some(Dtype::U1),
            "<f4" => Some(Dtype::F4),
            "<f8" => Some(Dtype::F8),
            "|i1" | "<i1" | "i1" | "|b" | "b" => int(true, 1),
            "<i2" => int(true, 2),
            "<u2" => int(false, 2),
            "<i4" => int(true, 4),
            "<u4" => int(false, 4),
            "<i8" => int(true, 8),
            "<u8" => int(false, 8),
            _ => None,
        }
    }
    fn size(self) -> usize {
        match self {
            Dtype::U1 => 1,
            Dtype::F4 => 4,
            Dtype::F8 => 8,
            Dtype::Int { size, .. } => size,
        }
    }
    fn descr(self) -> String {
        match self {
            Dtype::U1 => "|u1".into(),
            Dtype::F4 => "<f4".into(),
            Dtype::F8 => "<f8".into(),
            Dtype::Int { signed, size } => format!(
                "{}{}{size}",
                if size == 1 { '|' } else { '<' },
                if signed { 'i' } else { 'u' }
            ),
        }
    }
    /// Convert little-endian bytes to `f32` (`f64` values and wide integers are rounded to
    /// the nearest `f32`).
    fn decode_into(self, bytes: &[u8], scale: f32, out: &mut Vec<f32>) {
        match self {
            Dtype::U1 => out.extend(bytes.iter().map(|&b| f32::from(b) * scale)),
            Dtype::F4 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * scale),
            ),
            Dtype::F8 => out.extend(bytes.chunks_exact(8).map(|c| {
                let v = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                (v * f64::from(scale)) as f32
            })),
            Dtype::Int { signed, size } => out.extend(
                bytes
                    .chunks_exact(size)
                    .map(|c| (le_int(c, signed) as f64 * f64::from(scale)) as f32),
            ),
        }
    }
    /// Element `i` as text, for messages.
    fn text_at(self, bytes: &[u8], i: usize) -> String {
        let s = self.size();
        let Some(c) = bytes.get(i * s..(i + 1) * s) else {
            return "?".into();
        };
        match self {
            Dtype::U1 => c[0].to_string(),
            Dtype::Int { signed, .. } => le_int(c, signed).to_string(),
            Dtype::F4 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string(),
            Dtype::F8 => {
                f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]).to_string()
            }
        }
    }
    /// The value of element `i` as an exact label: integers as they are, floats when finite
    /// and integral (`None` otherwise).
    fn label_at(self, bytes: &[u8], i: usize) -> Option<i128> {
        let s = self.size();
        let c = bytes.get(i * s..(i + 1) * s)?;
        let float =
            |v: f64| (v.is_finite() && v.fract() == 0.0 && v.abs() < 1e30).then_some(v as i128);
        match self {
            Dtype::U1 => Some(i128::from(c[0])),
            Dtype::Int { signed, .. } => Some(le_int(c, signed)),
            Dtype::F4 => float(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
            Dtype::F8 => float(f64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ])),
        }
    }
}

/// What an array is read as: data rows, or one label per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `(N, D)`, `(N, H, W)` or `(N, H, W, C)`.
    Data,
    /// `(N,)` or `(N, 1)`.
    Labels,
}

/// A checked header.
#[derive(Debug)]
struct Header {
    dtype: Dtype,
    shape: Vec<usize>,
    /// Rows (`shape[0]`).
    n: usize,
    /// Values per row (product of the other dimensions).
    dim: usize,
    /// Bytes of data after the header.
    nbytes: usize,
    /// Bytes from the start of the file to the data.
    offset: usize,
}

impl Header {
    fn image_shape(&self) -> Option<ImageShape> {
        match *self.shape.as_slice() {
            [_, h, w] => Some(ImageShape::gray(h, w)),
            [_, h, w, c] => Some(ImageShape {
                height: h,
                width: w,
                channels: c,
            }),
            _ => None,
        }
    }
    fn range(&self) -> Option<ValueRange> {
        (self.dtype == Dtype::U1).then_some(ValueRange {
            min: 0.0,
            max: 255.0,
        })
    }
}

fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts.join(", "))
    } else {
        format!("({})", parts.join(", "))
    }
}

/// Read and check the prelude and header from the start of a stream; the stream is left at
/// the first data byte.
fn read_header(name: &Path, r: &mut dyn Read, kind: Kind) -> Result<Header> {
    let mut pre = [0u8; 12];
    let got = read_up_to(r, &mut pre[..10]).map_err(|e| io_err(name, e))?;
    if got < MAGIC.len() || &pre[..6] != MAGIC {
        let shown: Vec<String> = pre[..got.min(6)]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        return Err(format_err(
            name,
            format!(
                "bad magic `{}` (expected 93 4e 55 4d 50 59, \"\\x93NUMPY\"): not an .npy file",
                shown.join(" ")
            ),
        ));
    }
    if got < 10 {
        return Err(format_err(
            name,
            format!("truncated: {got} bytes, shorter than the .npy prelude"),
        ));
    }
    let (major, minor) = (pre[6], pre[7]);
    let (len_bytes, header_len) = match major {
        1 => (2, usize::from(u16::from_le_bytes([pre[8], pre[9]]))),
        2 | 3 => {
            let more = read_up_to(r, &mut pre[10..12]).map_err(|e| io_err(name, e))?;
            if more < 2 {
                return Err(format_err(name, "truncated .npy prelude"));
            }
            let v = u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]);
            (4, usize::try_from(v).unwrap_or(usize::MAX))
        }
        _ => {
            return Err(format_err(
                name,
                format!(
                    "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
                ),
            ));
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(format_err(
            name,
            format!("implausible header length {header_len} bytes (at most {MAX_HEADER_LEN})"),
        ));
    }
    let mut text = vec![0u8; header_len];
    let got = read_up_to(r, &mut text).map_err(|e| io_err(name, e))?;
    if got < header_len {
        return Err(format_err(
            name,
            format!("truncated header: {got} of the {header_len} bytes the prelude declares"),
        ));
    }
    let dict = parse_dict(&text).map_err(|e| format_err(name, format!("header: {e}")))?;
    let offset = 8 + len_bytes + header_len;
    check_header(name, dict, offset, kind)
}

/// The three fields of the header dictionary, as found.
struct Dict {
    descr: Option<String>,
    fortran: Option<bool>,
    shape: Option<Vec<u64>>,
}

fn check_header(name: &Path, d: Dict, offset: usize, kind: Kind) -> Result<Header> {
    let descr = d
        .descr
        .ok_or_else(|| format_err(name, "header has no `descr`"))?;
    let fortran = d
        .fortran
        .ok_or_else(|| format_err(name, "header has no `fortran_order`"))?;
    let shape = d
        .shape
        .ok_or_else(|| format_err(name, "header has no `shape`"))?;
    let dtype = Dtype::from_descr(&descr).ok_or_else(|| {
        format_err(
            name,
            format!("unsupported dtype `{descr}` (supported: {SUPPORTED})"),
        )
    })?;
    if fortran {
        return Err(format_err(
            name,
            "fortran_order is True: only C-order arrays are supported (save \
             np.ascontiguousarray(x) instead)",
        ));
    }
    let mut dims = Vec::with_capacity(shape.len());
    for &d in &shape {
        dims.push(usize::try_from(d).map_err(|_| {
            too_large(
                name,
                format!("dimension {d} of the shape does not fit in memory"),
            )
        })?);
    }
    let shape_s = shape_str(&dims);
    match (kind, dims.as_slice()) {
        (Kind::Labels, [_] | [_, 1]) => {}
        (Kind::Labels, _) => {
            return Err(format_err(
                name,
                format!("shape {shape_s}: a labels file is (N,) or (N, 1), one label per row"),
            ));
        }
        (Kind::Data, _) => check_data_shape(name, &dims, &shape_s)?,
    }
    let numel = checked_product(&dims);
    let nbytes = numel.and_then(|n| n.checked_mul(dtype.size()));
    let nbytes = match nbytes {
        Some(b) if b as u64 <= MAX_BYTES => b,
        _ => {
            return Err(too_large(
                name,
                format!(
                    "shape {shape_s} of {descr} claims more than the {MAX_BYTES} bytes latent \
                     accepts"
                ),
            ));
        }
    };
    if nbytes == 0 {
        return Err(format_err(
            name,
            format!("shape {shape_s} holds no values (empty dataset)"),
        ));
    }
    let n = dims.first().copied().unwrap_or(0);
    Ok(Header {
        dtype,
        dim: nbytes / dtype.size() / n,
        n,
        shape: dims,
        nbytes,
        offset,
    })
}

/// The shapes a data array may have: rows, gray images, images with 1 or 3 channels.
fn check_data_shape(name: &Path, dims: &[usize], shape_s: &str) -> Result<()> {
    match dims {
        [_, _] | [_, _, _] => Ok(()),
        [_, _, _, c] if *c == 1 || *c == 3 => Ok(()),
        [_, _, _, c] => Err(format_err(
            name,
            format!("shape {shape_s}: {c} channels, only 1 (gray) or 3 (RGB) are supported"),
        )),
        _ => Err(format_err(
            name,
            format!("shape {shape_s}: expected 2 dimensions (N, D), 3 (N, H, W) or 4 (N, H, W, C)"),
        )),
    }
}

/// Refuse to read the whole of a file whose values (their bytes and the f32 array made of
/// them) would need more memory than latent may use. Streaming reads are not bounded by it.
fn check_memory(name: &Path, h: &Header) -> Result<()> {
    crate::util::check_memory(
        name,
        &format!(
            "shape {} of {} (as the header declares)",
            shape_str(&h.shape),
            h.dtype.descr()
        ),
        h.nbytes as u128 + (h.nbytes / h.dtype.size()) as u128 * 4,
    )
}

fn check_data_len(name: &Path, h: &Header, got: u64) -> Result<()> {
    let want = h.nbytes as u64;
    if got != want {
        let what = if got < want {
            "truncated"
        } else {
            "size mismatch"
        };
        return Err(format_err(
            name,
            format!(
                "{what}: shape {} of {} needs {want} bytes of data, the file has {got}",
                shape_str(&h.shape),
                h.dtype.descr()
            ),
        ));
    }
    Ok(())
}

// ---- the header dictionary ---------------------------------------------------------------

enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected `{}` at byte {}, found {}",
                c as char,
                self.i,
                self.found()
            ))
        }
    }
    fn found(&self) -> String {
        match self.s.get(self.i) {
            Some(b) => format!("`{}`", b.escape_ascii()),
            None => "the end".into(),
        }
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "expected a string at byte {}, found {}",
                    self.i,
                    self.found()
                ));
            }
        };
        self.i += 1;
        let start = self.i;
        while let Some(&b) = self.s.get(self.i) {
            if b == q {
                let v = String::from_utf8_lossy(self.s.get(start..self.i).unwrap_or_default());
                self.i += 1;
                return Ok(v.into_owned());
            }
            self.i += 1;
        }
        Err("unterminated string".into())
    }
    fn int(&mut self) -> std::result::Result<u64, String> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&b) = self.s.get(self.i).filter(|b| b.is_ascii_digit()) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| "a dimension of the shape overflows 64 bits".to_string())?;
            self.i += 1;
        }
        if self.i == start {
            return Err(format!(
                "expected a non-negative integer at byte {}, found {}",
                self.i,
                self.found()
            ));
        }
        // Python 2 wrote long integers as `3L`.
        if self.s.get(self.i) == Some(&b'L') {
            self.i += 1;
        }
        Ok(v)
    }
    fn value(&mut self) -> std::result::Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    if self.eat(b')') {
                        break;
                    }
                    if dims.len() >= 32 {
                        return Err("more than 32 dimensions".into());
                    }
                    dims.push(self.int()?);
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        break;
                    }
                }
                Ok(Value::Tuple(dims))
            }
            Some(b'T') if self.s.get(self.i..self.i + 4) == Some(b"True") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            Some(b'F') if self.s.get(self.i..self.i + 5) == Some(b"False") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            Some(b'[') => Err("structured dtypes are not supported".into()),
            _ => Err(format!("unexpected {} at byte {}", self.found(), self.i)),
        }
    }
}

fn parse_dict(text: &[u8]) -> std::result::Result<Dict, String> {
    let mut p = Parser { s: text, i: 0 };
    let mut d = Dict {
        descr: None,
        fortran: None,
        shape: None,
    };
    p.expect(b'{')?;
    loop {
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        let v = p.value()?;
        match (key.as_str(), v) {
            ("descr", Value::Str(s)) => d.descr = Some(s),
            ("fortran_order", Value::Bool(b)) => d.fortran = Some(b),
            ("shape", Value::Tuple(t)) => d.shape = Some(t),
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(format!("`{key}` has the wrong type"));
            }
            _ => {}
        }
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    Ok(d)
}

// ---- reading -----------------------------------------------------------------------------

fn decode(name: &Path, h: &Header, data: &[u8]) -> Result<Array2<f32>> {
    let mut values = Vec::with_capacity(h.n * h.dim);
    h.dtype.decode_into(data, 1.0, &mut values);
    Array2::from_shape_vec((h.n, h.dim), values)
        .map_err(|e| format_err(name, format!("array: {e}")))
}

fn to_dataset(name: &Path, h: &Header, x: Array2<f32>) -> Result<Dataset> {
    let mut ds = Dataset::new(name.display().to_string(), x).map_err(|e| core_err(name, e))?;
    if let Some(shape) = h.image_shape() {
        ds = ds.with_image_shape(shape).map_err(|e| core_err(name, e))?;
    }
    Ok(ds.with_range(h.range()))
}

/// Parse an `.npy` file held in memory. `|u1` data gets the range `0..255`; float data has no
/// known range. Shapes `(N, H, W)` and `(N, H, W, C)` set the image shape.
///
/// # Errors
/// [`DataError::Format`] naming `name`: bad magic, unsupported version or dtype, Fortran
/// order, an unsupported shape, a data length that differs from the shape's, an empty array;
/// [`DataError::TooLarge`] for a shape claiming more than 16 GiB; [`DataError::Core`] for a
/// NaN or infinite value.
pub fn parse(name: &Path, bytes: &[u8]) -> Result<Dataset> {
    let mut r = bytes;
    let h = read_header(name, &mut r, Kind::Data)?;
    check_data_len(name, &h, r.len() as u64)?;
    check_memory(name, &h)?;
    let x = decode(name, &h, r)?;
    to_dataset(name, &h, x)
}

/// Open `path`, check its header and its length against the header; the reader is left at
/// the first data byte.
fn open_checked(path: &Path, kind: Kind) -> Result<(Header, BufReader<File>)> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let h = read_header(path, &mut r, kind)?;
    check_data_len(path, &h, len.saturating_sub(h.offset as u64))?;
    Ok((h, r))
}

/// The header and the data bytes of a whole file, checked against each other.
fn read_bytes(path: &Path, kind: Kind) -> Result<(Header, Vec<u8>)> {
    let (h, r) = open_checked(path, kind)?;
    check_memory(path, &h)?;
    let mut data = Vec::with_capacity(h.nbytes);
    r.take(h.nbytes as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| io_err(path, e))?;
    check_data_len(path, &h, data.len() as u64)?;
    Ok((h, data))
}

fn read_array(path: &Path) -> Result<(Header, Array2<f32>)> {
    let (h, data) = read_bytes(path, Kind::Data)?;
    let x = decode(path, &h, &data)?;
    Ok((h, x))
}

/// The labels of a checked header and its data bytes.
fn labels_of(path: &Path, h: &Header, data: &[u8]) -> Result<Vec<u32>> {
    (0..h.n)
        .map(|i| {
            h.dtype
                .label_at(data, i)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    format_err(
                        path,
                        format!(
                            "row {i}: label {} is not a non-negative integer below 2^32",
                            h.dtype.text_at(data, i)
                        ),
                    )
                })
        })
        .collect()
}

/// Parse a labels file held in memory: shape `(N,)` or `(N, 1)`, any integer dtype, or floats
/// holding integers; every label a non-negative integer below 2³².
///
/// # Errors
/// [`DataError::Format`] naming `name`: another shape, a label that is negative, not an
/// integer or too large (naming its row, 0-based); otherwise as [`parse`].
pub fn parse_labels(name: &Path, bytes: &[u8]) -> Result<Vec<u32>> {
    let mut r = bytes;
    let h = read_header(name, &mut r, Kind::Labels)?;
    check_data_len(name, &h, r.len() as u64)?;
    check_memory(name, &h)?;
    labels_of(name, &h, r)
}

/// Read a labels file (see [`parse_labels`]).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; otherwise as [`parse_labels`].
pub fn read_labels(path: &Path) -> Result<Vec<u32>> {
    let (h, data) = read_bytes(path, Kind::Labels)?;
    labels_of(path, &h, &data)
}

/// Read an `.npy` file as a dataset (see [`parse`]).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read; otherwise as [`parse`].
pub fn read(path: &Path) -> Result<Dataset> {
    let (h, x) = read_array(path)?;
    to_dataset(path, &h, x)
}

/// Rows `rows` of what [`read`] gives, and only those read and held in memory (the file is
/// read from the first row's offset): the same values, image shape, range and name as
/// `read(path)?.select(rows)`. The header and the file's length are checked as [`read`]
/// checks them; NaN and infinite values are looked for in the rows read only.
///
/// # Errors
/// As [`read`] (the memory limit is checked for the rows read; a NaN or infinite value in
/// them is the same [`DataError::Core`] as [`read`] gives, naming its row in the file);
/// [`DataError::Invalid`] naming the file and its number of rows for a range that ends past
/// them or starts after its end; an empty range is [`DataError::Core`] wrapping
/// [`latent_core::Error::Empty`], as a [`Dataset`] has at least one row.
pub fn read_rows(path: &Path, rows: Range<usize>) -> Result<Dataset> {
    Ok(read_rows_counted(path, rows)?.0)
}

/// [`read_rows`], and the number of rows of the whole file.
pub(crate) fn read_rows_counted(path: &Path, rows: Range<usize>) -> Result<(Dataset, usize)> {
    let mut src = NpyRowSource::open_rows(path, rows.clone())?;
    let h = &src.header;
    let (n, dim, size) = (h.n, h.dim, h.dtype.size());
    let k = rows.end - rows.start;
    crate::util::check_memory(
        path,
        &format!(
            "rows {}..{} of shape {} of {} (as the header declares)",
            rows.start,
            rows.end,
            shape_str(&h.shape),
            h.dtype.descr()
        ),
        (k * dim) as u128 * (size as u128 + 4),
    )?;
    // the file's length was checked against the header
    let mut values = Vec::with_capacity(k * dim);
    while let Some(b) = src.read_raw_batch(usize::MAX)? {
        values.extend(b.iter().copied());
    }
    let x = Array2::from_shape_vec((k, dim), values)
        .map_err(|e| format_err(path, format!("array: {e}")))?;
    // the error `read` gives for the first NaN or infinite value, with its row in the file
    if let Some((r, c, v)) = x.outer_iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|v| !v.is_finite())
            .map(|c| (r, c, row[c]))
    }) {
        return Err(DataError::Core {
            path: path.to_path_buf(),
            source: latent_core::Error::NonFinite(format!(
                "{}: row {}, column {c} is {v}",
                path.display(),
                rows.start + r
            )),
        });
    }
    Ok((to_dataset(path, &src.header, x)?, n))
}

/// Read a 2-D array (e.g. a file of latent codes) as `f32`.
///
/// # Errors
/// As [`read`], plus [`DataError::Format`] when the array is not 2-D or holds a NaN or
/// infinite value (naming its row and column, 0-based).
pub fn read_matrix(path: &Path) -> Result<Array2<f32>> {
    let (h, x) = read_array(path)?;
    if h.shape.len() != 2 {
        return Err(format_err(
            path,
            format!(
                "shape {}: expected a 2-D array (rows × columns)",
                shape_str(&h.shape)
            ),
        ));
    }
    if let Some(e) = non_finite(path, x.view(), 0) {
        return Err(e);
    }
    Ok(x)
}

fn non_finite(name: &Path, x: ArrayView2<'_, f32>, first_row: usize) -> Option<DataError> {
    for (r, row) in x.outer_iter().enumerate() {
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Some(format_err(
                name,
                format!(
                    "row {}, column {c}: {v} (values must be finite)",
                    first_row + r
                ),
            ));
        }
    }
    None
}

// ---- writing -----------------------------------------------------------------------------

/// A version 1.0 header (prelude included), padded so the data starts on a 64-byte boundary.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_str(shape)
    );
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(' ', (64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // The dictionary is a few hundred bytes at most.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

fn write_rows(path: &Path, x: ArrayView2<'_, f32>, shape: &[usize]) -> Result<()> {
    let header = header_bytes("<f4", shape);
    write_atomic(path, |w| {
        w.write_all(&header)?;
        let mut buf = Vec::with_capacity(x.ncols() * 4);
        for row in x.outer_iter() {
            buf.clear();
            for v in row {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        Ok(())
    })
}

/// Write rows as a version 1.0 `.npy` file of `<f4`, shape `(N, D)`, C order; atomically.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be written (the previous content is kept).
pub fn write_f32(path: &Path, x: ArrayView2<'_, f32>) -> Result<()> {
    write_rows(path, x, &[x.nrows(), x.ncols()])
}

/// Write rows that are images as `(N, H, W)` (one channel) or `(N, H, W, C)`; atomically.
///
/// # Errors
/// [`DataError::Invalid`] when `shape` does not describe a row; otherwise as [`write_f32`].
pub fn write_f32_images(path: &Path, x: ArrayView2<'_, f32>, shape: ImageShape) -> Result<()> {
    if shape.numel() != Some(x.ncols()) || shape.channels == 0 {
        return Err(invalid(
            format!("image shape for {}", path.display()),
            format!("{shape} does not describe rows of {} values", x.ncols()),
        ));
    }
    let mut dims = vec![x.nrows(), shape.height, shape.width];
    if shape.channels != 1 {
        dims.push(shape.channels);
    }
    write_rows(path, x, &dims)
}

// ---- streaming ---------------------------------------------------------------------------

/// Streams the rows of an `.npy` file (2-D, 3-D or 4-D) batch by batch without loading it;
/// memory stays at one batch. Values are multiplied by a scale factor (1 by default, see
/// [`NpyRowSource::scaled`]).
///
/// [`NpyRowSource::open_rows`] streams only a range of the rows.
///
/// Errors met while streaming (truncated data, a NaN) are [`latent_core::Error::Source`]
/// wrapping a [`DataError`] that names the file.
#[derive(Debug)]
pub struct NpyRowSource {
    path: PathBuf,
    reader: BufReader<File>,
    header: Header,
    /// The first row streamed.
    first: usize,
    /// The next row to read.
    pos: usize,
    /// The row the stream stops before.
    end: usize,
    scale: f32,
    buf: Vec<u8>,
}

impl NpyRowSource {
    /// Open an `.npy` file and check its header and length.
    ///
    /// # Errors
    /// As [`read`], for the header and length checks.
    pub fn open(path: &Path) -> Result<Self> {
        let (header, reader) = open_checked(path, Kind::Data)?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            first: 0,
            pos: 0,
            end: header.n,
            header,
            scale: 1.0,
            buf: Vec::new(),
        })
    }

    /// Open an `.npy` file to stream only the rows `rows` (their indices in the file),
    /// checking its header and length as [`NpyRowSource::open`] does; the file is read from
    /// the first row's offset.
    ///
    /// # Errors
    /// As [`NpyRowSource::open`]; [`DataError::Invalid`] naming the file and its number of
    /// rows for a range that ends past them or starts after its end.
    pub fn open_rows(path: &Path, rows: Range<usize>) -> Result<Self> {
        let mut s = Self::open(path)?;
        check_rows(path, &rows, s.header.n)?;
        let h = &s.header;
        // the file's length was checked against the header: the offset is in the file
        let at = h.offset as u64 + (rows.start * h.dim * h.dtype.size()) as u64;
        s.reader
            .seek(SeekFrom::Start(at))
            .map_err(|e| io_err(path, e))?;
        s.first = rows.start;
        s.pos = rows.start;
        s.end = rows.end;
        Ok(s)
    }

    /// Multiply every value by `scale`.
    pub fn scaled(mut self, scale: f32) -> Self {
        self.scale = scale;
        self
    }

    /// The number of rows of the file (all of them, whatever rows are streamed).
    pub fn n(&self) -> usize {
        self.header.n
    }

    /// The indices of the rows streamed: `0..n` unless opened with
    /// [`NpyRowSource::open_rows`].
    pub fn rows(&self) -> Range<usize> {
        self.first..self.end
    }

    /// The image layout of a row, for 3-D and 4-D arrays.
    pub fn image_shape(&self) -> Option<ImageShape> {
        self.header.image_shape()
    }

    /// The range of the values before scaling: `0..255` for `|u1` data, unknown for floats.
    pub fn range(&self) -> Option<ValueRange> {
        self.header.range()
    }

    /// The next batch of at most `max_rows` rows of the range, or `None` at its end; values
    /// not checked for finiteness.
    fn read_raw_batch(&mut self, max_rows: usize) -> Result<Option<Array2<f32>>> {
        let h = &self.header;
        if self.pos >= self.end {
            return Ok(None);
        }
        let row_bytes = h.dim * h.dtype.size();
        let rows = max_rows
            .max(1)
            .min(self.end - self.pos)
            .min((MAX_BATCH_BYTES / row_bytes).max(1));
        self.buf.resize(rows * row_bytes, 0);
        let got = read_up_to(&mut self.reader, &mut self.buf).map_err(|e| io_err(&self.path, e))?;
        if got < self.buf.len() {
            let msg = format!(
                "truncated: the data ends after {} of {} rows",
                self.pos + got / row_bytes,
                h.n
            );
            return Err(format_err(&self.path, msg));
        }
        let mut values = Vec::with_capacity(rows * h.dim);
        h.dtype.decode_into(&self.buf, self.scale, &mut values);
        let x = Array2::from_shape_vec((rows, h.dim), values)
            .map_err(|e| format_err(&self.path, format!("batch array: {e}")))?;
        self.pos += rows;
        Ok(Some(x))
    }

    /// [`NpyRowSource::read_raw_batch`], refusing NaN and infinite values.
    fn read_batch(&mut self, max_rows: usize) -> Result<Option<Array2<f32>>> {
        let first = self.pos;
        let Some(x) = self.read_raw_batch(max_rows)? else {
            return Ok(None);
        };
        if let Some(e) = non_finite(&self.path, x.view(), first) {
            return Err(e);
        }
        Ok(Some(x))
    }
}

impl RowSource for NpyRowSource {
    fn dim(&self) -> usize {
        self.header.dim
    }

    fn range(&self) -> Option<ValueRange> {
        self.header.range().map(|r| ValueRange {
            min: r.min * self.scale,
            max: r.max * self.scale,
        })
    }

    fn image_shape(&self) -> Option<ImageShape> {
        self.header.image_shape()
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

    #[test]
    fn header_is_padded_to_64_bytes_and_parses_back() {
        let h = header_bytes("<f4", &[3, 4]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(h.last(), Some(&b'\n'));
        let mut r = h.as_slice();
        let parsed = read_header(Path::new("h.npy"), &mut r, Kind::Data).unwrap();
        assert_eq!(parsed.shape, vec![3, 4]);
        assert_eq!((parsed.offset, parsed.nbytes), (h.len(), 48));
        assert!(r.is_empty());
    }

    #[test]
    fn dict_parser_accepts_numpy_variants() {
        let d = parse_dict(b"{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }").unwrap();
        assert_eq!(d.shape, Some(vec![10]));
        let d =
            parse_dict(b"{\"shape\":(2L,3L),\"descr\":\"|u1\",\"fortran_order\":True}").unwrap();
        assert_eq!(d.shape, Some(vec![2, 3]));
        assert_eq!(d.fortran, Some(true));
        assert!(parse_dict(b"{'descr': [('a', '<f4')]}").is_err());
        assert!(parse_dict(b"{'shape': (99999999999999999999999,)}").is_err());
    }

    #[test]
    fn f64_u8_and_images_parse() {
        let mut b = header_bytes("<f8", &[2, 2]);
        for v in [1.5f64, -2.0, 3.25, 0.0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let d = parse(Path::new("a.npy"), &b).unwrap();
        assert_eq!(d.x().as_slice().unwrap(), &[1.5, -2.0, 3.25, 0.0]);
        assert_eq!(d.range(), None);
        let mut b = header_bytes("|u1", &[2, 1, 2, 3]);
        b.extend(0..12u8);
        let d = parse(Path::new("b.npy"), &b).unwrap();
        assert_eq!(
            d.image_shape(),
            Some(ImageShape {
                height: 1,
                width: 2,
                channels: 3
            })
        );
        assert_eq!(d.range().map(|r| r.max), Some(255.0));
        assert_eq!(d.x()[[1, 5]], 11.0);
    }
}
