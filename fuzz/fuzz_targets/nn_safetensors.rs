//! `latent_nn::NnModel::from_safetensors` with a small fixed network (the reference VAE with
//! 4 → [3] → 2 dims; the seed is a weights file of exactly that network).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use latent_nn::{Device, NetConfig, NnModel};
use libfuzzer_sys::fuzz_target;

fn setup() -> &'static (NetConfig, Device) {
    static S: OnceLock<(NetConfig, Device)> = OnceLock::new();
    S.get_or_init(|| {
        let mut cfg = NetConfig::reference_vae();
        cfg.input_dim = 4;
        cfg.latent_dim = 2;
        cfg.hidden = vec![3];
        (cfg, latent_nn::cpu_device())
    })
}

fuzz_target!(|data: &[u8]| {
    let (cfg, device) = setup();
    if let Ok(m) = NnModel::from_safetensors(cfg, Path::new("fuzz.safetensors"), data, device) {
        assert_eq!(m.config(), cfg);
    }
});
