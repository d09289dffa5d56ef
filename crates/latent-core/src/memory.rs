//! How much memory latent may use, and the check every large allocation passes first.
//!
//! The policy: before latent allocates for something whose size comes from an input or a
//! flag — a data file's rows, `--n` samples, `--steps`, a `--grid`, `--iw-samples` — it works
//! out what that will cost and refuses, with [`Error::TooLarge`], when the cost exceeds the
//! **limit**. The limit is what [`set_limit`] set (the command line's `--max-memory` or the
//! `LATENT_MAX_MEMORY` environment variable), else the memory the system reports available
//! when it is first asked (`MemAvailable` in `/proc/meminfo`, lowered to a cgroup's
//! `memory.max` when one is set). An allocation that fails anyway (the estimate is of the
//! largest parts, not every byte) ends the `latent` binary with exit code 2 and a message,
//! never an abort.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// 0 while no limit was set.
static LIMIT: AtomicU64 = AtomicU64::new(0);
static AVAILABLE: OnceLock<u64> = OnceLock::new();

/// The environment variable the command line reads a limit from (`--max-memory` wins).
pub const ENV: &str = "LATENT_MAX_MEMORY";

/// Assumed when the system does not say how much memory is available.
const FALLBACK: u64 = 16 << 30;

/// Set the limit for this process (bytes, at least 1).
pub fn set_limit(bytes: u64) {
    LIMIT.store(bytes.max(1), Ordering::Relaxed);
}

/// The limit: the one set, else the memory available when first asked.
pub fn limit() -> u64 {
    match LIMIT.load(Ordering::Relaxed) {
        0 => *AVAILABLE.get_or_init(available),
        set => set,
    }
}

/// Whether the limit was set explicitly (rather than read from the system).
pub fn is_set() -> bool {
    LIMIT.load(Ordering::Relaxed) != 0
}

/// The memory the system reports available, bounded by the cgroup's limit.
fn available() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|kb| kb.saturating_mul(1024))
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    // 0 is no figure (an unset cgroup file, a sandbox), not a limit of nothing
    let (meminfo, cgroup) = (meminfo.filter(|&m| m > 0), cgroup.filter(|&c| c > 0));
    match (meminfo, cgroup) {
        (Some(m), Some(c)) => m.min(c),
        (Some(m), None) => m,
        (None, Some(c)) => c,
        (None, None) => FALLBACK,
    }
}

/// Refuse `bytes` for `what` when it exceeds the limit.
///
/// # Errors
/// [`Error::TooLarge`] naming `what`, the cost and the limit.
pub fn check(what: impl Into<String>, bytes: u128) -> Result<()> {
    let limit = limit();
    if bytes > u128::from(limit) {
        return Err(Error::TooLarge {
            what: what.into(),
            needed: bytes,
            limit,
            explicit: is_set(),
        });
    }
    Ok(())
}

/// `a · b · …` bytes, saturating (a cost too large to count is refused all the same).
pub fn cost(factors: &[usize]) -> u128 {
    factors
        .iter()
        .fold(1u128, |acc, &f| acc.saturating_mul(f as u128))
}

/// A size as the user writes it: bytes, or a number with a unit `K`, `M`, `G` or `T`
/// (powers of 1024; `KB`, `KiB` … mean the same), e.g. `512M`, `1.5G`.
///
/// # Errors
/// The reason in words.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use K, M, G or T)"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512M, 8G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}`: a size from 1 byte to 16 EiB"));
    }
    Ok(bytes as u64)
}

/// A byte count in words: `25.6 GiB`, `312 MiB`, `900 bytes`.
pub fn format_size(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_as_written() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("8 GiB"), Ok(8 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        for bad in ["", "G", "-1G", "0", "1X", "nanG", "1e30T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_size(900), "900 bytes");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
        assert_eq!(format_size(25_600_000_000), "24 GiB");
        assert_eq!(cost(&[1_000_000_000, 784, 4]), 3_136_000_000_000);
        assert_eq!(cost(&[usize::MAX, usize::MAX, usize::MAX]), u128::MAX);
    }

    #[test]
    fn the_limit_refuses_larger_costs_and_says_how_to_raise_it() {
        // the system's figure is positive; an explicit limit replaces it
        assert!(available() > 0);
        set_limit(1 << 20);
        assert!(check("a small array", 1 << 19).is_ok());
        let err = check("`--n 1000000000` samples", 1 << 21)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--n 1000000000") && err.contains("2.0 MiB") && err.contains("1.0 MiB"),
            "{err}"
        );
        assert!(err.contains("--max-memory"), "{err}");
        assert!(check("anything", u128::MAX).is_err());
    }
}
