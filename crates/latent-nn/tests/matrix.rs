//! The per-model test matrix (DESIGN.md): builds from config, output shapes, save → load
//! gives identical outputs, one optimiser step lowers the loss, KL closed form equals a
//! Monte-Carlo estimate, reconstruct = decode(encode(x)).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use burn::tensor::{Tensor, TensorData};
use latent_core::{Posterior, Probabilistic, Reduction, seed};
use latent_nn::optim::{Adam, AdamSettings, named_grads};
use latent_nn::params::named_params;
use latent_nn::{Likelihood, ModelKind, NetConfig, NnModel, PosteriorKind, cpu_device, model::Net};
use ndarray::Array2;
use rand::Rng;

fn configs() -> Vec<NetConfig> {
    let base = NetConfig {
        kind: ModelKind::Vae,
        arch: latent_nn::Arch::Mlp,
        input_dim: 12,
        latent_dim: 3,
        hidden: vec![16, 8],
        activation: latent_nn::Activation::Relu,
        posterior: PosteriorKind::Diagonal,
        likelihood: Likelihood::Bernoulli,
        ..NetConfig::reference_vae()
    };
    vec![
        NetConfig {
            kind: ModelKind::LinearAe,
            hidden: vec![],
            ..base.clone()
        },
        NetConfig {
            kind: ModelKind::Ae,
            activation: latent_nn::Activation::Tanh,
            ..base.clone()
        },
        base.clone(),
        NetConfig {
            posterior: PosteriorKind::Full,
            likelihood: Likelihood::Gaussian { sigma: 0.3 },
            ..base.clone()
        },
        NetConfig {
            likelihood: Likelihood::GaussianLearned { shared: false },
            ..base.clone()
        },
        NetConfig {
            posterior: PosteriorKind::Full,
            likelihood: Likelihood::GaussianLearned { shared: true },
            ..base
        },
    ]
}

fn data(n: usize, d: usize, seed_: u64) -> Array2<f32> {
    let mut rng = seed::rng(seed_);
    Array2::from_shape_simple_fn((n, d), || rng.random::<f32>())
}

fn tensor(x: &Array2<f32>, device: &burn::tensor::Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(
            x.iter().copied().collect::<Vec<_>>(),
            [x.nrows(), x.ncols()],
        ),
        device,
    )
}

#[test]
fn builds_with_named_parameters_and_right_shapes() {
    let device = cpu_device();
    for cfg in configs() {
        cfg.check().unwrap();
        let net = Net::new(&cfg, &mut seed::rng(1), &device);
        let names: Vec<String> = named_params(&net).unwrap().into_keys().collect();
        assert!(names.contains(&"mean.weight".to_string()), "{names:?}");
        assert!(names.iter().any(|n| n.starts_with("decoder.")), "{names:?}");
        if cfg.kind == ModelKind::Vae {
            assert!(names.contains(&"log_var.bias".to_string()), "{names:?}");
        }
        if cfg.posterior == PosteriorKind::Full && cfg.kind == ModelKind::Vae {
            assert!(names.contains(&"off_diag.weight".to_string()), "{names:?}");
        }
        if matches!(cfg.likelihood, Likelihood::GaussianLearned { .. }) {
            assert!(names.contains(&"log_sigma".to_string()), "{names:?}");
        }
        let model = NnModel::new(net, &device).unwrap();
        let x = data(5, 12, 2);
        let z = model.encode(x.view()).unwrap();
        assert_eq!(z.dim(), (5, 3));
        let xr = model.decode(z.view()).unwrap();
        assert_eq!(xr.dim(), (5, 12));
        assert_eq!(model.reconstruct(x.view()).unwrap(), xr);
        assert!(model.encode(Array2::<f32>::zeros((2, 11)).view()).is_err());
        assert!(model.decode(Array2::<f32>::zeros((2, 4)).view()).is_err());
        if cfg.kind == ModelKind::Vae {
            let post = model.encode_distribution(x.view()).unwrap();
            assert_eq!(post.mean(), &z);
            if let Likelihood::Bernoulli = cfg.likelihood {
                assert!(xr.iter().all(|&p| (0.0..=1.0).contains(&p)));
            }
        } else {
            assert!(model.as_probabilistic().is_none());
        }
    }
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let device = cpu_device();
    for cfg in configs() {
        let model = NnModel::new(Net::new(&cfg, &mut seed::rng(4), &device), &device).unwrap();
        let bytes = model
            .tensors()
            .unwrap()
            .to_bytes(Default::default())
            .unwrap();
        let back =
            NnModel::from_safetensors(&cfg, std::path::Path::new("m.safetensors"), &bytes, &device)
                .unwrap();
        let x = data(7, 12, 5);
        assert_eq!(
            model.encode(x.view()).unwrap(),
            back.encode(x.view()).unwrap()
        );
        assert_eq!(
            model.reconstruct(x.view()).unwrap(),
            back.reconstruct(x.view()).unwrap()
        );
        // a config that does not fit the weights is an error naming the file
        let other = NetConfig {
            latent_dim: 4,
            ..cfg.clone()
        };
        let err = NnModel::from_safetensors(
            &other,
            std::path::Path::new("m.safetensors"),
            &bytes,
            &device,
        )
        .unwrap_err();
        assert!(err.to_string().contains("m.safetensors"), "{err}");
        // a non-finite weight is refused, naming the file and the parameter
        let path = std::path::Path::new("m.safetensors");
        let tensors = latent_core::tensors::Tensors::from_bytes(path, &bytes).unwrap();
        let mut params: latent_nn::params::HostTensors = tensors
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for value in [f32::NAN, f32::INFINITY] {
            let (name, a) = params.iter_mut().last().unwrap();
            a.iter_mut().for_each(|v| *v = 0.5);
            if let Some(v) = a.iter_mut().next() {
                *v = value;
            }
            let name = name.clone();
            let err = NnModel::from_params(&cfg, &params, path, &device).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("m.safetensors") && msg.contains(&name),
                "{msg}"
            );
            assert!(msg.contains("non-finite"), "{msg}");
        }
    }
}

#[test]
fn one_adam_step_lowers_the_loss() {
    let device = cpu_device().autodiff();
    for cfg in configs() {
        let mut net = Net::new(&cfg, &mut seed::rng(7), &device);
        let x = tensor(&data(32, 12, 8), &device);
        let eps = tensor(&data(32, 3, 9).mapv(|v| v - 0.5), &device);
        let before = net.step_loss(x.clone(), eps.clone(), 1.0);
        let l0: f32 = before.loss.clone().into_scalar();
        let grads = before.loss.backward();
        let named = named_grads(&net, &grads);
        assert!(!named.is_empty());
        let mut adam = Adam::new(AdamSettings {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
        net = adam.step(net, named, 1e-3).unwrap();
        let l1: f32 = net.step_loss(x, eps, 1.0).loss.into_scalar();
        assert!(l1 < l0, "{:?}: {l0} → {l1}", cfg.kind);
    }
}

/// KL(q‖p) = E_q[log q(z) − log p(z)] estimated with draws from the posterior.
fn monte_carlo_kl(post: &Posterior, draws: usize) -> Vec<f64> {
    let mean = post.mean();
    let (n, k) = mean.dim();
    let mut rng = seed::rng(11);
    let mut acc = vec![0.0f64; n];
    // log q(z) for a Gaussian with Cholesky L: −½‖L⁻¹(z−μ)‖² − Σ log L_ii − k/2 log 2π
    let chol: Vec<Array2<f64>> = (0..n)
        .map(|i| match post {
            Posterior::Diagonal { log_var, .. } => Array2::from_shape_fn((k, k), |(r, c)| {
                if r == c {
                    f64::from(log_var[[i, r]]).mul_add(0.5, 0.0).exp()
                } else {
                    0.0
                }
            }),
            Posterior::Full { scale_tril, .. } => Array2::from_shape_fn((k, k), |(r, c)| {
                if c <= r {
                    f64::from(scale_tril[[i, r, c]])
                } else {
                    0.0
                }
            }),
        })
        .collect();
    for _ in 0..draws {
        let z = post.sample(&mut rng);
        for i in 0..n {
            let l = &chol[i];
            // forward substitution for u = L⁻¹ (z − μ)
            let mut u = vec![0.0f64; k];
            for r in 0..k {
                let mut s = f64::from(z[[i, r]] - mean[[i, r]]);
                for c in 0..r {
                    s -= l[[r, c]] * u[c];
                }
                u[r] = s / l[[r, r]];
            }
            let log_det: f64 = (0..k).map(|r| l[[r, r]].ln()).sum();
            let log_q = -0.5 * u.iter().map(|v| v * v).sum::<f64>() - log_det;
            let log_p = -0.5 * (0..k).map(|r| f64::from(z[[i, r]]).powi(2)).sum::<f64>();
            acc[i] += log_q - log_p;
        }
    }
    acc.iter().map(|a| a / draws as f64).collect()
}

#[test]
fn kl_closed_form_matches_monte_carlo_for_both_posteriors() {
    let device = cpu_device();
    for posterior in [PosteriorKind::Diagonal, PosteriorKind::Full] {
        let cfg = NetConfig {
            posterior,
            ..configs()[2].clone()
        };
        let net = Net::new(&cfg, &mut seed::rng(21), &device);
        let model = NnModel::new(net.clone(), &device).unwrap();
        // inputs scaled up so the posteriors are far from the prior (a KL worth measuring)
        let x = data(4, 12, 22).mapv(|v| 150.0 * v);
        let post = model.encode_distribution(x.view()).unwrap();
        // the network's own (tensor) KL equals the host closed form
        let enc = net.encode(tensor(&x, &device));
        let net_kl = latent_nn::train::to_array2(net.kl_per_example(&enc).reshape([4, 1])).unwrap();
        let closed = post.kl_to_standard_normal();
        for i in 0..4 {
            assert!(
                (net_kl[[i, 0]] - closed[i]).abs() <= 1e-4 * closed[i].abs().max(1.0),
                "{posterior:?}"
            );
        }
        let mc = monte_carlo_kl(&post, 100_000);
        for i in 0..4 {
            let c = f64::from(closed[i]);
            assert!(c > 1.0, "KL too small to test: {c}");
            assert!(
                (c - mc[i]).abs() / c < 0.01,
                "{posterior:?} row {i}: closed {c}, MC {}",
                mc[i]
            );
        }
    }
}

fn conv_configs() -> Vec<NetConfig> {
    let base = NetConfig {
        kind: ModelKind::Vae,
        arch: latent_nn::Arch::Conv,
        input_dim: 8 * 8 * 3,
        latent_dim: 2,
        hidden: vec![16],
        image: Some([8, 8, 3]),
        conv_channels: vec![4, 8],
        ..NetConfig::reference_vae()
    };
    vec![
        NetConfig {
            kind: ModelKind::Ae,
            ..base.clone()
        },
        base.clone(),
        NetConfig {
            input_dim: 64,
            image: Some([8, 8, 1]),
            posterior: PosteriorKind::Full,
            likelihood: Likelihood::GaussianLearned { shared: true },
            ..base
        },
    ]
}

#[test]
fn conv_models_pass_the_same_matrix() {
    let device = cpu_device();
    for cfg in conv_configs() {
        cfg.check().unwrap();
        let d = cfg.input_dim;
        let net = Net::new(&cfg, &mut seed::rng(1), &device);
        let names: Vec<String> = named_params(&net).unwrap().into_keys().collect();
        assert!(
            names.contains(&"conv_encoder.1.weight".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"conv_decoder.1.bias".to_string()),
            "{names:?}"
        );
        let model = NnModel::new(net, &device).unwrap();
        let x = data(5, d, 2);
        let z = model.encode(x.view()).unwrap();
        assert_eq!(z.dim(), (5, 2));
        assert_eq!(model.decode(z.view()).unwrap().dim(), (5, d));
        // save → load
        let bytes = model
            .tensors()
            .unwrap()
            .to_bytes(Default::default())
            .unwrap();
        let back =
            NnModel::from_safetensors(&cfg, std::path::Path::new("c.safetensors"), &bytes, &device)
                .unwrap();
        assert_eq!(
            model.reconstruct(x.view()).unwrap(),
            back.reconstruct(x.view()).unwrap()
        );
        // one step lowers the loss
        let ad = cpu_device().autodiff();
        let mut net = Net::new(&cfg, &mut seed::rng(7), &ad);
        let xb = tensor(&data(16, d, 8), &ad);
        let eps = tensor(&data(16, 2, 9).mapv(|v| v - 0.5), &ad);
        let before = net.step_loss(xb.clone(), eps.clone(), 1.0);
        let l0: f32 = before.loss.clone().into_scalar();
        let named = named_grads(&net, &before.loss.backward());
        let mut adam = Adam::new(AdamSettings {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        });
        net = adam.step(net, named, 1e-3).unwrap();
        let l1: f32 = net.step_loss(xb, eps, 1.0).loss.into_scalar();
        assert!(l1 < l0, "{:?}: {l0} → {l1}", cfg.kind);
    }
    // sides not divisible by 2^layers are refused
    let bad = NetConfig {
        image: Some([6, 6, 3]),
        input_dim: 108,
        ..conv_configs()[1].clone()
    };
    assert!(
        bad.check()
            .unwrap_err()
            .to_string()
            .contains("divisible by 4")
    );
}
