//! Inputs found with the cargo-fuzz `run_config` target (fuzz/ at the root of the
//! repository) that crashed `run::load`, kept under `tests/corpus/fuzz-regressions/`: each is
//! a run directory's `config.json` (with the real checksum of `vae.safetensors`, the weights
//! of a 4 → [3] → 2 VAE) and must now be refused with an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use latent::run::{self, RunError};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/fuzz-regressions")
        .join(name)
}

/// Load a run directory made of the stored config and the weights file it names.
fn load(config: &str) -> Result<(), RunError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(corpus(config), dir.path().join(run::CONFIG_FILE)).unwrap();
    std::fs::copy(
        corpus("vae.safetensors"),
        dir.path().join("vae.safetensors"),
    )
    .unwrap();
    run::load(dir.path()).map(|_| ())
}

/// `net.input_dim` of 10^11 with hidden [3]: the network used to be built (and its
/// 10^11 × 3 first layer allocated) before its parameters were compared with the weights
/// file, so loading aborted out of memory. The configuration is now refused first.
#[test]
fn nn_config_larger_than_its_weights_is_refused_before_building() {
    let err = load("run-config-huge-input-dim.json").unwrap_err();
    assert!(matches!(err, RunError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("vae.safetensors") && msg.contains("holds 56 values"),
        "{msg}"
    );
}

/// `arch: conv` with `image: [2^32, 2^32, 1]`: `NetConfig::check` multiplied the sides
/// unchecked (a panic with overflow checks, a wrapped product without). Now an error.
#[test]
fn conv_image_whose_size_overflows_is_an_error() {
    let err = load("run-config-conv-image-overflow.json").unwrap_err();
    assert!(matches!(err, RunError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("is not 4 features"), "{err}");
}
