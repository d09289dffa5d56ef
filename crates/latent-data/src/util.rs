//! Helpers shared by the readers and writers.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::{DataError, Result};

/// The most bytes of decoded data one file may claim or produce: larger claims are refused
/// with [`DataError::TooLarge`] before anything is allocated.
pub(crate) const MAX_BYTES: u64 = 16 << 30;

/// Refuse a file whose data would need `bytes` of memory (its raw values and the `f32`
/// array made of them) when that exceeds what latent may use ([`latent_core::memory`]).
pub(crate) fn check_memory(path: &Path, what: &str, bytes: u128) -> Result<()> {
    latent_core::memory::check(what, bytes).map_err(|e| too_large(path, e.to_string()))
}

/// The gzip magic bytes.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

pub(crate) fn format_err(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(crate) fn too_large(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::TooLarge {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> DataError {
    DataError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

pub(crate) fn io_err(path: &Path, source: io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A core error about the dataset built from `path`; the core's own I/O errors (from atomic
/// writes) become [`DataError::Io`].
pub(crate) fn core_err(path: &Path, e: latent_core::Error) -> DataError {
    match e {
        latent_core::Error::Io { path, source } => DataError::Io { path, source },
        source => DataError::Core {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// An error met while reading a possibly compressed stream: decoding failures are format
/// errors, anything else is an I/O error.
pub(crate) fn read_err(path: &Path, gzip: bool, e: io::Error) -> DataError {
    use io::ErrorKind as K;
    if gzip
        && matches!(
            e.kind(),
            K::InvalidData | K::InvalidInput | K::UnexpectedEof
        )
    {
        format_err(path, format!("corrupt or truncated gzip data: {e}"))
    } else {
        io_err(path, e)
    }
}

/// Write `path` atomically, mapping the core's error.
pub(crate) fn write_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    latent_core::fsutil::atomic_write(path, write).map_err(|e| core_err(path, e))
}

/// A file opened for sequential reading, transparently decompressed when it starts with the
/// gzip magic bytes.
pub(crate) struct Opened {
    pub reader: Box<dyn Read + Send>,
    pub gzip: bool,
    /// The size of the file on disk (compressed size for gzip).
    pub file_len: u64,
}

pub(crate) fn open_maybe_gz(path: &Path) -> Result<Opened> {
    let (buf, gzip, file_len) = open_buffered(path)?;
    let reader: Box<dyn Read + Send> = if gzip {
        Box::new(MultiGzDecoder::new(buf))
    } else {
        Box::new(buf)
    };
    Ok(Opened {
        reader,
        gzip,
        file_len,
    })
}

/// A regular file (or a pipe) opened for buffered reading, not decompressed: the reader,
/// whether it starts with the gzip magic bytes, and its size on disk.
pub(crate) fn open_buffered(path: &Path) -> Result<(BufReader<File>, bool, u64)> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let meta = file.metadata().map_err(|e| io_err(path, e))?;
    if meta.is_dir() {
        return Err(format_err(path, "is a directory, expected a file"));
    }
    #[cfg(unix)]
    {
        // a device never holds a data set, and `/dev/zero` or `/dev/urandom` never ends
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        if t.is_char_device() || t.is_block_device() || t.is_socket() {
            return Err(format_err(
                path,
                "is a device or a socket, not a data file (a regular file or a pipe)",
            ));
        }
    }
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let head = buf.fill_buf().map_err(|e| io_err(path, e))?;
    let gzip = is_gzip(head);
    Ok((buf, gzip, meta.len()))
}

/// Check that `rows` is a range of the `n` rows of `name`: within `0..n`, its start not after
/// its end (an empty range is accepted here; a [`latent_core::Dataset`] of it is not).
pub(crate) fn check_rows(name: &Path, rows: &std::ops::Range<usize>, n: usize) -> Result<()> {
    let (start, end) = (rows.start, rows.end);
    if start > end {
        return Err(invalid(
            "rows",
            format!(
                "{start}..{end} of {}: the start is after the end (the data holds {n} rows)",
                name.display()
            ),
        ));
    }
    if end > n {
        return Err(invalid(
            "rows",
            format!(
                "{start}..{end} of {}: it holds {n} rows (rows 0..{n}), the range ends past them",
                name.display()
            ),
        ));
    }
    Ok(())
}

/// Read until `buf` is full or the stream ends; the number of bytes read.
pub(crate) fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read at most `limit` bytes of `r`; `Ok(None)` when the stream holds more.
/// The buffer grows with the data actually read, never with `limit`.
pub(crate) fn read_at_most(r: &mut dyn Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// The whole content of a file, decompressed when it is gzip data, refusing more than
/// [`MAX_BYTES`] or `1/share` of the memory latent may use (`share` is what the parsed data
/// costs per byte of file, counting the bytes themselves).
pub(crate) fn read_all_maybe_gz(path: &Path, share: u64) -> Result<Vec<u8>> {
    let mut opened = open_maybe_gz(path)?;
    let limit = MAX_BYTES.min(latent_core::memory::limit() / share.max(1));
    let words = || {
        if limit < MAX_BYTES {
            format!(
                "{} bytes, what the memory latent may use allows for this file (--max-memory \
                 or LATENT_MAX_MEMORY sets it)",
                limit
            )
        } else {
            format!("{MAX_BYTES} bytes, the most latent reads from one file")
        }
    };
    if !opened.gzip && opened.file_len > limit {
        return Err(too_large(
            path,
            format!("{} bytes, more than {}", opened.file_len, words()),
        ));
    }
    // read with a bound: a device or a pipe (`/dev/zero`) has no size to check first
    match read_at_most(&mut opened.reader, limit) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(too_large(
            path,
            format!(
                "{} to more than {}",
                if opened.gzip { "decompresses" } else { "reads" },
                words()
            ),
        )),
        Err(e) => Err(read_err(path, opened.gzip, e)),
    }
}

/// Decompress in-memory gzip data, refusing more than `limit` bytes of output.
pub(crate) fn gunzip_bytes(name: &Path, bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
    let mut dec = MultiGzDecoder::new(bytes);
    match read_at_most(&mut dec, limit) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(too_large(
            name,
            format!("decompresses to more than {limit} bytes"),
        )),
        Err(e) => Err(read_err(name, true, e)),
    }
}

/// `a · b · …` with overflow reported as `None`.
pub(crate) fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}
