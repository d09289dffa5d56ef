//! A run directory's `config.json`: `serde_json::from_slice::<RunConfig>` and
//! `latent::run::load` on a directory holding the fuzzed config.json and valid weights
//! files (`model.safetensors`: a 4 → 2 PCA; `vae.safetensors`, `ae.safetensors`: 4 → [3] → 2
//! networks, see fuzz/fixtures/). The seeds name those files with their real checksums.
//!
//! A config that parses is loaded a second time with `weights.sha256` replaced by the
//! checksum of the file it names, so the fuzzer reaches model rebuilding without having to
//! guess a SHA-256.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use latent::run::{self, RunConfig};
use latent_core::tensors::sha256_hex;
use libfuzzer_sys::fuzz_target;

const WEIGHTS: [(&str, &[u8]); 3] = [
    (
        "model.safetensors",
        include_bytes!("../fixtures/pca.safetensors"),
    ),
    (
        "vae.safetensors",
        include_bytes!("../fixtures/vae.safetensors"),
    ),
    (
        "ae.safetensors",
        include_bytes!("../fixtures/ae.safetensors"),
    ),
];

fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("latent-fuzz-run")
            .tempdir()
            .expect("temp dir")
            .keep();
        for (name, bytes) in WEIGHTS {
            fs::write(dir.join(name), bytes).expect("write weights");
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = run_dir();
    let config_path = dir.join(run::CONFIG_FILE);
    let parsed = serde_json::from_slice::<RunConfig>(data);
    if fs::write(&config_path, data).is_err() {
        return;
    }
    let loaded = run::load(dir);
    assert!(
        loaded.is_err() || parsed.is_ok(),
        "load accepted what serde rejects"
    );
    let Ok(mut config) = parsed else { return };
    let Some((_, bytes)) = WEIGHTS.iter().find(|(n, _)| *n == config.weights.file) else {
        return;
    };
    config.weights.sha256 = sha256_hex(bytes);
    let Ok(json) = serde_json::to_vec(&config) else {
        return;
    };
    if fs::write(&config_path, &json).is_err() {
        return;
    }
    if let Ok((back, model)) = run::load(dir) {
        assert_eq!(back, config);
        let r = model.reduction();
        assert_eq!(
            (r.input_dim(), r.latent_dim()),
            (config.input_dim, config.latent_dim)
        );
    }
});
