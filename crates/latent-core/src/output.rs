//! What an output path (`--out`) may touch, and what `--force` may replace.
//!
//! latent replaces only what it wrote itself, and checks that before it touches anything:
//! - a **file** output (codes, decoded rows, images) is replaced only when the manifest of its
//!   directory ([`MANIFEST`]) lists it with the SHA-256 of its present content: every file
//!   output is recorded there once written ([`record_file`]), so a file of the user's — or one
//!   of latent's that was edited since — is never overwritten;
//! - a **directory** output (a run, a `compare` output) is replaced only when the caller's
//!   recogniser accepts every entry in it as latent's (an empty directory holds nothing);
//! - never the root, the current directory or a directory holding it, a symbolic link, nor a
//!   path that is, or contains, one of the command's inputs.
//!
//! A directory output is locked while it is written ([`lock_dir`]: `.NAME.lock` beside it,
//! holding the writer's process id and command line), so two writers never mix their files;
//! the second is refused and told who holds the lock. A lock left by a killed writer is taken
//! over.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::{self, process_alive};
use crate::{Error, Result};

/// The manifest of the file outputs latent wrote in a directory (JSON).
pub const MANIFEST: &str = ".latent-outputs";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn refuse(path: &Path, reason: impl Into<String>) -> Error {
    Error::Refused {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The last component of `out`, which must name something (not `.`, `..` or the root).
fn final_name(out: &Path) -> Result<&OsStr> {
    match out.components().next_back() {
        Some(Component::Normal(name)) => Ok(name),
        _ => Err(refuse(
            out,
            "not a usable output name (name the file or directory to create, e.g. `--out runs/pca`)",
        )),
    }
}

/// The directory `out` is written in.
fn parent_dir(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The inputs that exist, made absolute and resolved.
fn canonical(paths: &[&Path]) -> Vec<PathBuf> {
    paths.iter().filter_map(|p| p.canonicalize().ok()).collect()
}

/// The SHA-256 of a file's content, hex.
fn file_sha256(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    format: String,
    files: BTreeMap<String, Recorded>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Recorded {
    sha256: String,
    bytes: u64,
}

/// The manifest of `dir`: `Ok(None)` when there is none, `Err` when a file of that name is
/// not one latent wrote.
fn read_manifest(dir: &Path) -> std::result::Result<Option<Manifest>, ()> {
    let Ok(text) = fs::read(dir.join(MANIFEST)) else {
        return Ok(None);
    };
    match serde_json::from_slice::<Manifest>(&text) {
        Ok(m) if m.format == "latent-outputs" => Ok(Some(m)),
        _ => Err(()),
    }
}

/// Whether the file `dir/name` is a file output latent recorded in `dir`'s manifest, with its
/// present content.
pub fn is_recorded(dir: &Path, name: &str) -> bool {
    let path = dir.join(name);
    let Ok(Some(manifest)) = read_manifest(dir) else {
        return false;
    };
    let Some(r) = manifest.files.get(name) else {
        return false;
    };
    fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == r.bytes)
        && file_sha256(&path).is_ok_and(|h| h == r.sha256)
}

/// Whether `name` is a hidden file or directory that latent's own writers leave while they
/// work (or when killed): atomic-write temporaries, staging and old copies of runs and
/// checkpoints, locks, the output manifest.
pub fn is_leftover(name: &str) -> bool {
    name == MANIFEST
        || (name.starts_with('.')
            && (name.ends_with(".tmp")
                || name.ends_with(".lock")
                || name.contains(".partial-")
                || name.contains(".old-")
                || name.starts_with(".staging-")))
}

/// What is at `out` (`None`: nothing), refusing it without `force` and when it is a
/// symbolic link (`what`: the kind of output, for the message).
fn existing(out: &Path, force: bool, what: &str) -> Result<Option<fs::Metadata>> {
    let meta = match fs::symlink_metadata(out) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(out)(e)),
        Ok(m) => m,
    };
    if !force {
        return Err(Error::Exists {
            path: out.to_path_buf(),
        });
    }
    if meta.file_type().is_symlink() {
        return Err(refuse(
            out,
            format!("is a symbolic link; --force replaces only {what} latent wrote"),
        ));
    }
    Ok(Some(meta))
}

/// Check that `out` may be written as a file output: it does not exist, or `force` is given
/// and it is a regular file latent wrote (recorded in its directory's manifest with its
/// present content) that is not one of `inputs`.
///
/// # Errors
/// [`Error::Exists`] without `force`; [`Error::Refused`] naming the reason otherwise.
pub fn check_file(out: &Path, force: bool, inputs: &[&Path]) -> Result<()> {
    let name = final_name(out)?;
    let Some(meta) = existing(out, force, "files")? else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(refuse(out, "is a directory, not a file latent wrote"));
    }
    if let Ok(me) = out.canonicalize()
        && canonical(inputs).contains(&me)
    {
        return Err(refuse(out, "is an input of this command"));
    }
    let name = name.to_string_lossy();
    let recorded = read_manifest(&parent_dir(out))
        .ok()
        .flatten()
        .and_then(|m| m.files.get(name.as_ref()).cloned());
    match recorded {
        Some(r) if r.bytes == meta.len() && r.sha256 == file_sha256(out)? => Ok(()),
        Some(_) => Err(refuse(
            out,
            "was changed since latent wrote it; --force replaces only files latent wrote \
             (remove it yourself, or choose another name)",
        )),
        None => Err(refuse(
            out,
            "was not written by latent; --force replaces only files latent wrote \
             (remove it yourself, or choose another name)",
        )),
    }
}

/// Record the file output `out`, just written, in its directory's manifest (so that a later
/// `--force` may replace it). Entries of files that are gone are dropped. A manifest that is
/// not latent's is left alone (the file is then not recorded: a later `--force` refuses).
///
/// # Errors
/// Reading the output or writing the manifest failed.
pub fn record_file(out: &Path) -> Result<()> {
    let name = final_name(out)?.to_string_lossy().into_owned();
    let dir = parent_dir(out);
    let Ok(existing) = read_manifest(&dir) else {
        return Ok(());
    };
    let mut manifest = existing.unwrap_or_default();
    manifest.format = "latent-outputs".into();
    manifest
        .files
        .retain(|n, _| fs::symlink_metadata(dir.join(n)).is_ok_and(|m| m.is_file()));
    let bytes = fs::metadata(out).map_err(io_err(out))?.len();
    manifest.files.insert(
        name,
        Recorded {
            sha256: file_sha256(out)?,
            bytes,
        },
    );
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        path: dir.join(MANIFEST),
        source: std::io::Error::other(e),
    })?;
    fsutil::atomic_write_bytes(&dir.join(MANIFEST), &json)
}

/// What [`check_dir`] found at the output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirOutput {
    /// Nothing there: it will be created.
    New,
    /// A directory latent may replace (with `--force`).
    Replace,
}

/// Check that `out` may be written as a directory output: it does not exist, or `force` is
/// given and it is a directory that `owned` accepts as latent's (or an empty one), that is
/// not the root, the current directory or one holding it, and that holds none of `inputs`.
/// `owned` returns why a directory is not latent's (naming the foreign entry).
///
/// # Errors
/// [`Error::Exists`] without `force`; [`Error::Refused`] naming the reason otherwise.
pub fn check_dir(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    owned: &dyn Fn(&Path) -> std::result::Result<(), String>,
) -> Result<DirOutput> {
    final_name(out)?;
    let Some(meta) = existing(out, force, "directories")? else {
        return Ok(DirOutput::New);
    };
    if !meta.is_dir() {
        return Err(refuse(out, "is a file, not a directory latent wrote"));
    }
    let me = out.canonicalize().map_err(io_err(out))?;
    if me.parent().is_none() {
        return Err(refuse(out, "is the root directory"));
    }
    if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize())
        && cwd.starts_with(&me)
    {
        return Err(refuse(
            out,
            "is the current directory or holds it; --force replaces only directories latent wrote",
        ));
    }
    if let Some(input) = canonical(inputs).iter().find(|i| i.starts_with(&me)) {
        return Err(refuse(
            out,
            format!(
                "holds `{}`, an input of this command; choose another output",
                input.display()
            ),
        ));
    }
    let mut entries = fs::read_dir(out).map_err(io_err(out))?;
    if entries.next().is_none() {
        return Ok(DirOutput::Replace);
    }
    owned(out).map_err(|why| {
        refuse(
            out,
            format!("{why}; --force replaces only directories latent wrote"),
        )
    })?;
    Ok(DirOutput::Replace)
}

/// A lock on a directory output, released (its file removed) when dropped.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Lock the directory output `out` for this process (`.NAME.lock` beside it, holding the
/// process id and `command`), creating its parent directory. A lock whose process is gone is
/// taken over.
///
/// # Errors
/// [`Error::Locked`] when a live process holds it; I/O errors naming the lock file.
pub fn lock_dir(out: &Path, command: &str) -> Result<DirLock> {
    let name = final_name(out)?.to_string_lossy().into_owned();
    let parent = parent_dir(out);
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let path = parent.join(format!(".{name}.lock"));
    for _ in 0..3 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                writeln!(f, "{}\n{command}", std::process::id()).map_err(io_err(&path))?;
                return Ok(DirLock { path });
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = fs::read_to_string(&path).unwrap_or_default();
                let mut lines = text.lines();
                let pid = lines.next().and_then(|l| l.trim().parse::<u32>().ok());
                match pid {
                    Some(pid) if process_alive(pid) => {
                        return Err(Error::Locked {
                            path: out.to_path_buf(),
                            pid,
                            command: lines.next().unwrap_or("").to_string(),
                        });
                    }
                    // a writer killed before it could release its lock (or one caught
                    // between creating the file and writing its pid: retried)
                    Some(_) => {
                        let _ = fs::remove_file(&path);
                    }
                    None => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Err(refuse(
        out,
        format!(
            "cannot take the lock {} (remove it if no latent process writes here)",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_owner(_: &Path) -> std::result::Result<(), String> {
        Err("holds files latent did not write".into())
    }

    #[test]
    fn files_are_replaced_only_when_latent_wrote_them() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("codes.npy");
        // absent: fine with or without force
        check_file(&out, false, &[]).unwrap();
        fs::write(&out, b"the user's own file").unwrap();
        assert!(matches!(
            check_file(&out, false, &[]),
            Err(Error::Exists { .. })
        ));
        let err = check_file(&out, true, &[]).unwrap_err().to_string();
        assert!(err.contains("not written by latent"), "{err}");
        // written and recorded by latent: replaceable
        fsutil::atomic_write_bytes(&out, b"latent's codes").unwrap();
        record_file(&out).unwrap();
        check_file(&out, true, &[]).unwrap();
        assert!(is_recorded(d.path(), "codes.npy"));
        // edited since: refused
        fs::write(&out, b"latent's codes, edited").unwrap();
        let err = check_file(&out, true, &[]).unwrap_err().to_string();
        assert!(err.contains("changed since"), "{err}");
        assert!(!is_recorded(d.path(), "codes.npy"));
        // an input of the command: refused even when recorded
        fsutil::atomic_write_bytes(&out, b"again").unwrap();
        record_file(&out).unwrap();
        let err = check_file(&out, true, &[&out]).unwrap_err().to_string();
        assert!(err.contains("input"), "{err}");
        // a directory or `.`: refused
        assert!(check_file(d.path(), true, &[]).is_err());
        assert!(check_file(Path::new("."), true, &[]).is_err());
    }

    #[test]
    fn a_foreign_manifest_is_left_alone() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(MANIFEST), b"not ours").unwrap();
        let out = d.path().join("x.npy");
        fs::write(&out, b"x").unwrap();
        record_file(&out).unwrap();
        assert_eq!(fs::read(d.path().join(MANIFEST)).unwrap(), b"not ours");
        assert!(check_file(&out, true, &[]).is_err());
    }

    #[test]
    fn directories_are_replaced_only_when_owned() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("run");
        assert_eq!(
            check_dir(&out, false, &[], &no_owner).unwrap(),
            DirOutput::New
        );
        fs::create_dir(&out).unwrap();
        assert!(matches!(
            check_dir(&out, false, &[], &no_owner),
            Err(Error::Exists { .. })
        ));
        // empty: nothing to lose
        assert_eq!(
            check_dir(&out, true, &[], &no_owner).unwrap(),
            DirOutput::Replace
        );
        fs::write(out.join("notes.txt"), b"mine").unwrap();
        let err = check_dir(&out, true, &[], &no_owner)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not write"), "{err}");
        assert_eq!(
            check_dir(&out, true, &[], &|_| Ok(())).unwrap(),
            DirOutput::Replace
        );
        // holding an input: refused even when owned
        let data = out.join("data.npy");
        fs::write(&data, b"x").unwrap();
        let err = check_dir(&out, true, &[&data], &|_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("input"), "{err}");
        // a file, `..`, `.` and the root
        assert!(check_dir(&data, true, &[], &|_| Ok(())).is_err());
        assert!(check_dir(&out.join(".."), true, &[], &|_| Ok(())).is_err());
        assert!(check_dir(Path::new("."), true, &[], &|_| Ok(())).is_err());
        assert!(check_dir(Path::new("/"), true, &[], &|_| Ok(())).is_err());
    }

    #[test]
    fn a_live_lock_refuses_and_a_dead_one_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("run");
        let lock = lock_dir(&out, "latent fit --out run").unwrap();
        let err = lock_dir(&out, "latent fit again").unwrap_err().to_string();
        assert!(
            err.contains(&std::process::id().to_string()) && err.contains("latent fit --out run"),
            "{err}"
        );
        drop(lock);
        assert!(!d.path().join(".run.lock").exists());
        fs::write(d.path().join(".run.lock"), "4000000000\nlatent fit\n").unwrap();
        let lock = lock_dir(&out, "latent fit").unwrap();
        drop(lock);
    }

    #[test]
    fn leftovers_are_recognised() {
        for n in [
            ".config.json.123.tmp",
            ".run.lock",
            ".run.partial-12",
            ".run.old-12",
            ".staging-3-12",
            MANIFEST,
        ] {
            assert!(is_leftover(n), "{n}");
        }
        for n in ["notes.txt", "run.lock", ".bashrc"] {
            assert!(!is_leftover(n), "{n}");
        }
    }
}
