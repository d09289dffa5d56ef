//! # latent-nn
//!
//! Learned encoder/decoder pairs on [burn](https://burn.dev): the linear autoencoder, the
//! deep autoencoder and the variational autoencoder, their likelihoods and KL divergences,
//! a hand-written training loop with Adam, and checkpoints that resume exactly.
//!
//! This is the only crate of latent that names burn. The backend is a runtime
//! [`burn::tensor::Device`]: [`cpu_device`] (burn's pure-Rust `flex` backend) by default, a
//! Vulkan GPU through the `wgpu` feature.
//!
//! Losses are per example: summed over features (and latent dimensions), averaged over the
//! batch — nats for VAEs, squared error for autoencoders.

mod awake;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod engine;
mod error;
pub mod fitted;
pub mod fused;
pub mod likelihood;
pub mod loss;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod params;
pub mod topology;
pub mod train;

pub use burn::tensor::Device;
pub use classifier::{Classifier, ClassifierConfig};
pub use config::{
    Activation, Arch, Likelihood, LrSchedule, ModelKind, NetConfig, PosteriorKind, TrainConfig,
};
pub use error::{NnError, Result};
pub use fitted::NnModel;
pub use parallel::{RowMap, Shards};
pub use train::{
    CheckpointEvery, Checkpointing, Engine, EpochMetrics, Observer, Silent, Trained, train,
    train_sharded, train_with,
};

/// burn's pure-Rust CPU device.
pub fn cpu_device() -> Device {
    Device::flex()
}

/// A device by name: `cpu` (flex), or `wgpu` / `gpu` / `vulkan` (burn's wgpu backend on
/// the best GPU it finds; Vulkan on Linux) with the `wgpu` feature.
///
/// # Errors
/// [`NnError::InvalidParam`] for an unknown name or one this build lacks.
pub fn device_by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(cpu_device()),
        #[cfg(feature = "wgpu")]
        "vulkan" | "gpu" | "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        other => Err(NnError::param(
            "device",
            format!(
                "unknown device `{other}` (this build has: cpu{})",
                if cfg!(feature = "wgpu") {
                    ", vulkan"
                } else {
                    "; rebuild with --features wgpu for vulkan"
                }
            ),
        )),
    }
}
