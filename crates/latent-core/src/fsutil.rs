//! File-system helpers that never leave a half-written file behind.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Write a file atomically: the content goes to a temporary file in the same directory, is
/// flushed to disk, and is renamed over `path` only when complete. A crash or a full disk at
/// any point leaves either the old file or the new one, never a mix; the temporary file is
/// removed on error.
///
/// # Errors
/// [`Error::Io`] naming `path` when any step fails (including an error returned by `write`).
pub fn atomic_write<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io_err(std::io::Error::other("path has no file name")))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

/// Whether `pid` is a running process. On Linux, from `/proc`; elsewhere only our own
/// process is known to be alive.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Remove the temporary files that [`atomic_write`] calls killed in the middle left in
/// `dir` (`.NAME.PID.tmp` whose process is no longer running); returns their names. Files
/// of a live writer and everything else are left alone; errors are ignored (a file that
/// cannot be removed is only clutter).
pub fn remove_stale_temps(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
            continue;
        };
        let Some(pid) = stem
            .rsplit_once('.')
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && !process_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

/// [`atomic_write`] of a byte slice.
///
/// # Errors
/// As [`atomic_write`].
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| w.write_all(bytes))
}

/// Read a file latent wrote (weights, a checkpoint, a run's JSON) whole, refusing what is not
/// a regular file (a link to `/dev/zero` would never end) or is larger than the memory latent
/// may use ([`crate::memory`]).
///
/// # Errors
/// [`Error::Io`] naming the path (a device or a directory gives `InvalidInput`);
/// [`Error::TooLarge`].
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    crate::memory::check(format!("{}", path.display()), u128::from(meta.len()))?;
    fs::read(path).map_err(io)
}

/// The key under which a sealed JSON file carries the SHA-256 of its own content.
pub const CHECKSUM_KEY: &str = "checksum";

/// The SHA-256 (hex) of a JSON object's content without its [`CHECKSUM_KEY`]: the compact
/// serialisation of the parsed value, keys sorted at every level. Whitespace and key order
/// do not count; every value, key and number does.
fn content_sha256(
    mut value: serde_json::Value,
) -> std::result::Result<(Option<serde_json::Value>, String), String> {
    let object = value
        .as_object_mut()
        .ok_or_else(|| "not a JSON object".to_string())?;
    let recorded = object.remove(CHECKSUM_KEY);
    // keys sorted at every level, whatever the map type (serde_json's `preserve_order`,
    // which another crate of a program may enable, keeps them in file order)
    value.sort_all_objects();
    let compact = serde_json::to_vec(&value).map_err(|e| format!("serialising JSON: {e}"))?;
    Ok((recorded, crate::tensors::sha256_hex(&compact)))
}

/// `value` as pretty-printed JSON with the SHA-256 of its content added as a last key,
/// [`CHECKSUM_KEY`] (see [`check_sealed_json`]).
///
/// # Errors
/// In words: `value` does not serialise to a JSON object, or has a [`CHECKSUM_KEY`] field.
pub fn seal_json<T: serde::Serialize>(value: &T) -> std::result::Result<Vec<u8>, String> {
    let json = |e: serde_json::Error| format!("serialising JSON: {e}");
    // the checksum covers the value as it reads back from the text written (an f32 field
    // prints shorter than its f64 widening)
    let mut pretty = serde_json::to_vec_pretty(value).map_err(json)?;
    let reread: serde_json::Value = serde_json::from_slice(&pretty).map_err(json)?;
    let Some(fields) = reread.as_object().map(serde_json::Map::len) else {
        return Err("not a JSON object".into());
    };
    if reread.get(CHECKSUM_KEY).is_some() {
        return Err(format!("the value has its own `{CHECKSUM_KEY}` field"));
    }
    let (_, sum) = content_sha256(reread)?;
    // the fields stay in their declared order; the checksum is appended as the last key
    let trim = |p: &mut Vec<u8>| {
        while p.last().is_some_and(u8::is_ascii_whitespace) {
            p.pop();
        }
    };
    trim(&mut pretty);
    if pretty.pop() != Some(b'}') {
        return Err("not a JSON object".into());
    }
    trim(&mut pretty);
    if fields > 0 {
        pretty.push(b',');
    }
    pretty.extend_from_slice(format!("\n  \"{CHECKSUM_KEY}\": \"{sum}\"\n}}").as_bytes());
    Ok(pretty)
}

/// What [`check_sealed_json`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seal {
    /// The file carries its checksum and its content matches it.
    Intact,
    /// The file carries no checksum (written before files were sealed).
    Absent,
}

/// Check a JSON file written by [`seal_json`]: its content must match the SHA-256 it
/// carries. A reason in words when it does not (or is not a JSON object).
///
/// # Errors
/// The reason, in words: not JSON, not an object, a checksum that is not a string, or a
/// content that does not match it (the file was edited or is corrupt).
pub fn check_sealed_json(bytes: &[u8]) -> std::result::Result<Seal, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("malformed JSON: {e}"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    let (recorded, sum) = content_sha256(value)?;
    match recorded {
        None => Ok(Seal::Absent),
        Some(serde_json::Value::String(r)) if r == sum => Ok(Seal::Intact),
        Some(serde_json::Value::String(r)) => Err(format!(
            "checksum mismatch (the content hashes to sha256 {sum}, the file says {r}): it \
             was edited or is corrupt"
        )),
        Some(_) => Err(format!("`{CHECKSUM_KEY}` is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.json");
        atomic_write_bytes(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        // A writer that fails half-way leaves the old content and no temporary file.
        let err = atomic_write(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("model.json"), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        atomic_write_bytes(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
    }

    #[derive(serde::Serialize)]
    struct Sample {
        name: &'static str,
        ratio: f32,
        nested: std::collections::BTreeMap<&'static str, Vec<f64>>,
    }

    #[test]
    fn a_sealed_file_detects_every_change_of_its_content() {
        let value = Sample {
            name: "run",
            ratio: 0.1,
            nested: [("a", vec![1.5, -2.0e-7]), ("b", vec![])]
                .into_iter()
                .collect(),
        };
        let bytes = seal_json(&value).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\n  \"name\": \"run\""), "{text}");
        assert!(text.ends_with("\"\n}"), "{text}");
        assert_eq!(check_sealed_json(&bytes), Ok(Seal::Intact));
        // whitespace is not content
        let reflowed = text.replace("\n", "\n\n");
        assert_eq!(check_sealed_json(reflowed.as_bytes()), Ok(Seal::Intact));
        // every single-bit flip of the file is refused or still parses to the same content
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                if let Ok(Seal::Intact) = check_sealed_json(&flipped) {
                    let v: serde_json::Value = serde_json::from_slice(&flipped).unwrap();
                    assert_eq!(v, original, "byte {i} bit {bit} changed content unnoticed");
                }
            }
        }
        let edited = text.replace("0.1", "0.2");
        let err = check_sealed_json(edited.as_bytes()).unwrap_err();
        assert!(err.contains("checksum mismatch"), "{err}");
        assert_eq!(check_sealed_json(b"{\"a\": 1}"), Ok(Seal::Absent));
        assert!(check_sealed_json(b"[1]").is_err());
        let empty: std::collections::BTreeMap<String, u8> = Default::default();
        let sealed_empty = seal_json(&empty).unwrap();
        assert_eq!(check_sealed_json(&sealed_empty), Ok(Seal::Intact));
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = atomic_write_bytes(Path::new("/nonexistent-dir/x.bin"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.bin"));
    }

    #[test]
    fn stale_temporaries_of_dead_writers_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let dead = d.path().join(".model.safetensors.4000000000.tmp");
        let live = d
            .path()
            .join(format!(".config.json.{}.tmp", std::process::id()));
        let other = d.path().join(".notes.tmp");
        let keep = d.path().join("metrics.jsonl");
        for p in [&dead, &live, &other, &keep] {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(
            remove_stale_temps(d.path()),
            vec![".model.safetensors.4000000000.tmp".to_string()]
        );
        assert!(!dead.exists() && live.exists() && other.exists() && keep.exists());
        assert!(remove_stale_temps(&d.path().join("missing")).is_empty());
    }
}
