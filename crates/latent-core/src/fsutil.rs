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
