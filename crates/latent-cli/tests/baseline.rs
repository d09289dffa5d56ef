//! Behaviour kept across the redesign of the application code: `latent compare` on the
//! embedded digits gives the numbers it gave before (every figure of `summary.json` except
//! times).
//!
//! Two fixtures, both written on an x86-64 host with AVX2 and no AVX-512:
//!
//! - `fixtures/compare-digits-1851f13.json`, by the release binary at commit 1851f13, before
//!   the application logic left the binary. The figures must agree with it to 1e-4 relative
//!   (measured: 2e-6 at most), for two deliberate changes since: PCA in f32 accumulates its
//!   covariance and finishes with a Rayleigh–Ritz step in f64 (issue 16: f32 drifted on badly
//!   scaled data; the linear autoencoders' angle to PCA's subspace is compared to 0.01°), and
//!   the engine seam (issue 12) computes every result of a model on one engine — decoding,
//!   the posterior's log-variance, the ELBO and the importance-sampled likelihood now come
//!   from the fused kernels that already computed the codes, where burn's graph computed them
//!   before (float rounding: 1e-6 relative at most).
//! - `fixtures/compare-digits-engine-seam.json`, by this test's command at the commit that
//!   introduced the engine seam: compared bit for bit, so that any later change that moves a
//!   figure is seen. The kernels dispatch on the CPU's features, so on a host of another
//!   class the last bits may differ: there it is compared to 1e-4 relative as well, and the
//!   test says which comparison it made.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

/// Keys that measure time, not the model.
const TIMES: [&str; 2] = ["seconds", "fit_seconds"];

/// Whether this host is of the class the fixture was written on.
fn same_host_class() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && !std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Differences between `a` (expected) and `b`, with their JSON paths: bit for bit when
/// `exact`, else numbers to 1e-4 relative, the angle to PCA's subspace to 0.01°, and the
/// readings (which quote figures) not at all.
fn diff(path: &str, a: &Value, b: &Value, exact: bool, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                if TIMES.contains(&k.as_str()) {
                    continue;
                }
                if k == "pca_angle_deg" && !exact {
                    let (p, q) = (v.as_f64(), y.get(k).and_then(Value::as_f64));
                    if !matches!((p, q), (Some(p), Some(q)) if (p - q).abs() <= 0.01) {
                        out.push(format!("{path}.{k}: {v} vs {:?}", y.get(k)));
                    }
                    continue;
                }
                match y.get(k) {
                    Some(w) => diff(&format!("{path}.{k}"), v, w, exact, out),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
            for k in y.keys() {
                if !x.contains_key(k) && !TIMES.contains(&k.as_str()) {
                    out.push(format!("{path}.{k}: not in the fixture"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, exact, out);
            }
        }
        (Value::Number(x), Value::Number(y)) if !exact => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() > 1e-4 * x.abs().max(y.abs()).max(1e-12) {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        // the reading quotes figures: compared as text only bit for bit
        (Value::String(_), Value::String(_)) if !exact && path.contains("reading") => {}
        _ => {
            if a != b {
                out.push(format!("{path}: {a} vs {b}"));
            }
        }
    }
}

#[test]
fn compare_on_digits_gives_the_numbers_it_gave_before_the_redesign() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latent"))
        .args([
            "compare",
            "--data",
            "digits",
            "--latent-dims",
            "2,5",
            "--epochs",
            "30",
            "--hidden",
            "128",
            "--out",
            "cmp",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cmp/summary.json")).unwrap())
            .unwrap();
    let redesign: Value =
        serde_json::from_str(include_str!("fixtures/compare-digits-1851f13.json")).unwrap();
    let seam: Value =
        serde_json::from_str(include_str!("fixtures/compare-digits-engine-seam.json")).unwrap();
    let exact = same_host_class();
    let mut differences = Vec::new();
    diff("1851f13", &redesign, &now, false, &mut differences);
    diff("engine-seam", &seam, &now, exact, &mut differences);
    eprintln!(
        "compared with the pre-redesign fixture to 1e-4 relative, and {} with the engine-seam fixture",
        if exact {
            "bit for bit (same host class)"
        } else {
            "to 1e-4 relative (another host class than the fixture's)"
        }
    );
    assert!(
        differences.is_empty(),
        "summary.json differs from a fixture:\n{}",
        differences.join("\n")
    );
}
