//! The harness the end-to-end suites share (ripgrep's style): run the real binary in a
//! temporary directory of its own, check the exit code, the output and the files.
// each suite uses its own part of it
#![allow(dead_code, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A temporary working directory for the `latent` binary.
pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Dir(tempfile::tempdir().expect("tempdir"))
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.0.path().join(p)
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        self.0.path()
    }
    /// Run with any arguments and require exit code 0; returns the whole output.
    pub fn run<S: AsRef<OsStr> + std::fmt::Debug>(&self, args: &[S]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_latent"))
            .args(args)
            .current_dir(self.0.path())
            .output()
            .expect("run latent");
        assert!(
            out.status.success(),
            "latent {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
    /// Start the binary without waiting, its stdout and stderr piped.
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_latent"))
            .args(args)
            .current_dir(self.0.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn latent")
    }
    pub fn latent(&self, args: &[&str]) -> Output {
        self.latent_env(args, &[])
    }
    /// Run with extra environment variables.
    pub fn latent_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latent"));
        c.args(args).current_dir(self.0.path());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run latent")
    }
    /// Run and require exit code 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.latent(args);
        assert!(
            out.status.success(),
            "latent {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Run and require the exit code `code` and no panic; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        self.fails_env(args, &[], code)
    }
    /// [`Dir::fails`] with extra environment variables.
    pub fn fails_env(&self, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
        let out = self.latent_env(args, env);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "latent {args:?}: {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }
}
