//! What a run records of its network: the settings the network uses, and only those.
//!
//! A [`NetConfig`] and a [`TrainConfig`] have a field for every setting of every family, but
//! an autoencoder has no posterior, likelihood, β or KL warm-up, a linear autoencoder no
//! hidden layers (so no widths and no activation), and a fully connected network no
//! convolutions. A fit sets those fields to fixed values ([`canonicalize`]), and
//! `config.json` / `training.json` leave them out ([`ModelRepr`], the written form of
//! [`ModelConfig`]); reading puts the same fixed values back. Runs written before record
//! every field, and are read as they are.

use latent_nn::{Activation, Arch, Likelihood, ModelKind, NetConfig, PosteriorKind, TrainConfig};
use latent_pca::PcaParams;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::run::ModelConfig;

/// The posterior a network without one is built with.
const POSTERIOR: PosteriorKind = PosteriorKind::Diagonal;
/// The likelihood field of an autoencoder (its loss is the squared error).
const LIKELIHOOD: Likelihood = Likelihood::Gaussian { sigma: 1.0 };
/// β and the KL warm-up of a model without a KL term.
const BETA: f64 = 1.0;
const KL_WARMUP: usize = 0;
/// The activation of a network without hidden layers.
const ACTIVATION: Activation = Activation::Relu;

/// The convolution channels of a network without convolutions (what older runs carry).
fn conv_channels() -> Vec<usize> {
    vec![32, 64]
}

/// The `NetConfig` keys a network of `kind` and `arch` does not use.
fn unused_net_keys(kind: ModelKind, arch: Arch) -> Vec<&'static str> {
    let mut keys = Vec::new();
    if kind != ModelKind::Vae {
        keys.extend(["posterior", "likelihood"]);
    }
    if kind == ModelKind::LinearAe {
        keys.extend(["hidden", "activation"]);
    }
    if kind == ModelKind::LinearAe || arch != Arch::Conv {
        keys.push("conv_channels");
    }
    keys
}

/// The `TrainConfig` keys the training of a `kind` does not use.
fn unused_train_keys(kind: ModelKind) -> &'static [&'static str] {
    if kind == ModelKind::Vae {
        &[]
    } else {
        &["beta", "kl_warmup_epochs"]
    }
}

/// Set the fields `net` and `train` do not use to the values a run without them is read
/// back with (what a fit trains and checkpoints, so that resuming compares equal).
pub(crate) fn canonicalize(net: &mut NetConfig, train: &mut TrainConfig) {
    if net.kind != ModelKind::Vae {
        net.posterior = POSTERIOR;
        net.likelihood = LIKELIHOOD;
        train.beta = BETA;
        train.kl_warmup_epochs = KL_WARMUP;
    }
    if net.kind == ModelKind::LinearAe {
        net.hidden = Vec::new();
        net.activation = ACTIVATION;
    }
    if net.kind == ModelKind::LinearAe || net.arch != Arch::Conv {
        net.conv_channels = conv_channels();
    }
}

/// A value as JSON (for the fixed values put back when reading).
fn json<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// [`ModelConfig`] as `config.json` and `training.json` hold it: a network's settings
/// without the ones it does not use.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum ModelRepr {
    /// [`ModelConfig::Pca`], as it is.
    Pca {
        params: PcaParams,
        total_variance: f64,
        noise_variance: f64,
        n_samples: usize,
        whiten: bool,
    },
    /// [`ModelConfig::Nn`] with its network's and training's settings as JSON objects.
    Nn {
        net: Map<String, Value>,
        train: Map<String, Value>,
        device: String,
        epochs_run: usize,
        stopped_early: bool,
    },
}

impl From<ModelConfig> for ModelRepr {
    fn from(m: ModelConfig) -> Self {
        match m {
            ModelConfig::Pca {
                params,
                total_variance,
                noise_variance,
                n_samples,
                whiten,
            } => ModelRepr::Pca {
                params,
                total_variance,
                noise_variance,
                n_samples,
                whiten,
            },
            ModelConfig::Nn {
                net,
                train,
                device,
                epochs_run,
                stopped_early,
            } => {
                let object = |v: Result<Value, String>| match v {
                    Ok(Value::Object(map)) => map,
                    // plain structs serialize to objects
                    _ => Map::new(),
                };
                let mut net_map = object(json(&net));
                let mut train_map = object(json(&train));
                for key in unused_net_keys(net.kind, net.arch) {
                    net_map.remove(key);
                }
                for key in unused_train_keys(net.kind) {
                    train_map.remove(*key);
                }
                ModelRepr::Nn {
                    net: net_map,
                    train: train_map,
                    device,
                    epochs_run,
                    stopped_early,
                }
            }
        }
    }
}

impl TryFrom<ModelRepr> for ModelConfig {
    type Error = String;
    fn try_from(r: ModelRepr) -> Result<Self, String> {
        Ok(match r {
            ModelRepr::Pca {
                params,
                total_variance,
                noise_variance,
                n_samples,
                whiten,
            } => ModelConfig::Pca {
                params,
                total_variance,
                noise_variance,
                n_samples,
                whiten,
            },
            ModelRepr::Nn {
                mut net,
                mut train,
                device,
                epochs_run,
                stopped_early,
            } => {
                let kind: ModelKind = serde_json::from_value(
                    net.get("kind")
                        .cloned()
                        .ok_or("model.net: missing field `kind`")?,
                )
                .map_err(|e| format!("model.net.kind: {e}"))?;
                let arch: Arch = match net.get("arch") {
                    Some(a) => serde_json::from_value(a.clone())
                        .map_err(|e| format!("model.net.arch: {e}"))?,
                    None => Arch::default(),
                };
                for key in unused_net_keys(kind, arch) {
                    if !net.contains_key(key) {
                        let value = match key {
                            "posterior" => json(&POSTERIOR)?,
                            "likelihood" => json(&LIKELIHOOD)?,
                            "hidden" => json(&Vec::<usize>::new())?,
                            "activation" => json(&ACTIVATION)?,
                            _ => json(&conv_channels())?,
                        };
                        net.insert(key.to_string(), value);
                    }
                }
                for key in unused_train_keys(kind) {
                    if !train.contains_key(*key) {
                        let value = match *key {
                            "beta" => json(&BETA)?,
                            _ => json(&KL_WARMUP)?,
                        };
                        train.insert((*key).to_string(), value);
                    }
                }
                ModelConfig::Nn {
                    net: serde_json::from_value(Value::Object(net))
                        .map_err(|e| format!("model.net: {e}"))?,
                    train: serde_json::from_value(Value::Object(train))
                        .map_err(|e| format!("model.train: {e}"))?,
                    device,
                    epochs_run,
                    stopped_early,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(kind: ModelKind, arch: Arch) -> NetConfig {
        NetConfig {
            kind,
            arch,
            input_dim: 64,
            latent_dim: 2,
            hidden: vec![32],
            activation: Activation::Silu,
            posterior: PosteriorKind::Full,
            likelihood: Likelihood::Bernoulli,
            image: Some([8, 8, 1]),
            conv_channels: vec![4],
        }
    }

    fn nn(net: NetConfig, train: TrainConfig) -> ModelConfig {
        ModelConfig::Nn {
            net,
            train,
            device: "cpu".into(),
            epochs_run: 1,
            stopped_early: false,
        }
    }

    #[test]
    fn runs_record_only_the_settings_their_network_uses() {
        let train = TrainConfig {
            beta: 4.0,
            kl_warmup_epochs: 3,
            ..TrainConfig::default()
        };
        for (kind, arch, absent, present) in [
            (
                ModelKind::Ae,
                Arch::Mlp,
                &[
                    "posterior",
                    "likelihood",
                    "conv_channels",
                    "beta",
                    "kl_warmup_epochs",
                ][..],
                &["hidden", "activation"][..],
            ),
            (
                ModelKind::LinearAe,
                Arch::Mlp,
                &["posterior", "likelihood", "hidden", "activation", "beta"][..],
                &["input_dim", "lr"][..],
            ),
            (
                ModelKind::Vae,
                Arch::Mlp,
                &["conv_channels"][..],
                &["posterior", "likelihood", "beta", "kl_warmup_epochs"][..],
            ),
            (
                ModelKind::Vae,
                Arch::Conv,
                &[][..],
                &["posterior", "conv_channels", "beta"][..],
            ),
        ] {
            let (mut n, mut t) = (net(kind, arch), train.clone());
            canonicalize(&mut n, &mut t);
            let config = nn(n, t);
            let text = serde_json::to_string(&config).unwrap_or_default();
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            let model = &v;
            for key in absent {
                assert!(
                    model["net"].get(key).is_none() && model["train"].get(key).is_none(),
                    "{kind:?} {arch:?} records {key}: {text}"
                );
            }
            for key in present {
                assert!(
                    model["net"].get(key).is_some() || model["train"].get(key).is_some(),
                    "{kind:?} {arch:?} lacks {key}: {text}"
                );
            }
            // read back as the fit left it (what its checkpoints hold)
            let back: ModelConfig = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, config, "{kind:?} {arch:?}");
        }
    }

    #[test]
    fn runs_that_recorded_every_setting_read_as_written() {
        // an autoencoder of a run written before: posterior, likelihood and β recorded
        let old = nn(
            net(ModelKind::Ae, Arch::Mlp),
            TrainConfig {
                beta: 4.0,
                ..TrainConfig::default()
            },
        );
        let mut full = serde_json::to_value(ModelRepr::from(old.clone())).unwrap_or_default();
        full["net"]["posterior"] = json!("full");
        full["net"]["likelihood"] = json!({"kind": "bernoulli"});
        full["net"]["conv_channels"] = json!([4]);
        full["train"]["beta"] = json!(4.0);
        full["train"]["kl_warmup_epochs"] = json!(0);
        let back: ModelConfig = serde_json::from_value(full).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, old);
        // a VAE must record its likelihood
        let mut vae = serde_json::to_value(ModelRepr::from(nn(
            net(ModelKind::Vae, Arch::Mlp),
            TrainConfig::default(),
        )))
        .unwrap_or_default();
        if let Some(n) = vae["net"].as_object_mut() {
            n.remove("likelihood");
        }
        let err = serde_json::from_value::<ModelConfig>(vae)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("likelihood"), "{err}");
    }

    use serde_json::json;
}
