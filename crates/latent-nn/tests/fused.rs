//! The fused host path (`latent_nn::fused`) computes what burn's graph computes: the same
//! losses and gradients for every network it supports, the same training runs, the same
//! codes; and its results do not depend on the number of threads.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::digits;
use latent_nn::fused::{FusedNet, supports};
use latent_nn::model::Net;
use latent_nn::optim::named_grads;
use latent_nn::params::{named_params, to_host};
use latent_nn::{
    Activation, Arch, Engine, Likelihood, ModelKind, NetConfig, PosteriorKind, Silent, TrainConfig,
    cpu_device, train_with,
};
use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

fn base() -> NetConfig {
    NetConfig {
        input_dim: 64,
        latent_dim: 5,
        hidden: vec![48],
        ..NetConfig::reference_vae()
    }
}

/// A conv network on the 8 × 8 digits: two convolutions (8 → 4 → 2) around the dense
/// layers.
fn conv() -> NetConfig {
    NetConfig {
        arch: Arch::Conv,
        image: Some([8, 8, 1]),
        conv_channels: vec![4, 6],
        ..base()
    }
}

/// Every network the fused path computes: each family, activation and likelihood, MLP and
/// conv.
fn matrix() -> Vec<NetConfig> {
    let b = base();
    let c = conv();
    vec![
        c.clone(),
        NetConfig {
            kind: ModelKind::Ae,
            activation: Activation::Silu,
            hidden: vec![],
            ..c.clone()
        },
        NetConfig {
            conv_channels: vec![3, 5, 7],
            activation: Activation::LeakyRelu,
            likelihood: Likelihood::GaussianLearned { shared: false },
            hidden: vec![16, 12],
            ..c.clone()
        },
        NetConfig {
            conv_channels: vec![5],
            activation: Activation::Tanh,
            likelihood: Likelihood::Gaussian { sigma: 0.4 },
            ..c.clone()
        },
        // a full posterior: the off-diagonal head beside the log Cholesky diagonal
        NetConfig {
            posterior: PosteriorKind::Full,
            activation: Activation::Silu,
            likelihood: Likelihood::GaussianLearned { shared: true },
            ..c.clone()
        },
        NetConfig {
            kind: ModelKind::LinearAe,
            ..b.clone()
        },
        NetConfig {
            kind: ModelKind::Ae,
            activation: Activation::Tanh,
            ..b.clone()
        },
        b.clone(),
        NetConfig {
            hidden: vec![40, 24],
            activation: Activation::Silu,
            likelihood: Likelihood::Gaussian { sigma: 0.3 },
            ..b.clone()
        },
        NetConfig {
            activation: Activation::LeakyRelu,
            likelihood: Likelihood::GaussianLearned { shared: false },
            ..b.clone()
        },
        NetConfig {
            likelihood: Likelihood::GaussianLearned { shared: true },
            ..b.clone()
        },
        NetConfig {
            hidden: vec![],
            ..b.clone()
        },
        NetConfig {
            posterior: PosteriorKind::Full,
            ..b.clone()
        },
        // K = 1: a full posterior without off-diagonal entries
        NetConfig {
            posterior: PosteriorKind::Full,
            latent_dim: 1,
            likelihood: Likelihood::Gaussian { sigma: 0.5 },
            ..b.clone()
        },
        // units off for the whole batch (`with_units_off`)
        NetConfig {
            hidden: vec![48, 32],
            ..b.clone()
        },
        NetConfig {
            hidden: vec![32],
            ..b.clone()
        },
    ]
}

/// Encoder units that no row turns on, in the matrix's networks made for them: a third of
/// the first layer's for `[48, 32]`, all of them for `[32]` (their gradient columns are
/// zero for the whole batch, which the weight gradients' tiles leave out).
fn with_units_off(cfg: &NetConfig, params: &mut latent_nn::params::HostTensors) {
    let step = match cfg.hidden.as_slice() {
        [48, 32] => 3,
        [32] => 1,
        _ => return,
    };
    let bias = params
        .get_mut("encoder.0.bias")
        .expect("a first encoder layer");
    bias.iter_mut().step_by(step).for_each(|v| *v = -1e3);
}

fn rows(x: &Array2<f32>, n: usize) -> Vec<f32> {
    x.rows().into_iter().take(n).flatten().copied().collect()
}

/// `f` on a pool of `threads` threads.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1.0)
}

/// Losses and every parameter's gradient equal burn's autodiff, to float rounding.
#[test]
fn losses_and_gradients_equal_burns() {
    let x = digits();
    let b = 37;
    let xb = rows(&x, b);
    let device = cpu_device().autodiff();
    for cfg in matrix() {
        assert!(supports(&cfg), "{cfg:?}");
        let mut rng = latent_core::seed::rng(11);
        let net = Net::new(&cfg, &mut latent_core::seed::rng(5), &device);
        // move the learned σ away from 0 so that its gradient is exercised
        let mut params = named_params(&net).unwrap();
        if let Some(ls) = params.get_mut("log_sigma") {
            ls.iter_mut()
                .for_each(|v| *v = rng.random::<f32>() * 0.6 - 0.3);
            // and, per feature, one below the floor (no gradient) and one at it (gradient)
            if ls.len() > 2 {
                let floor = latent_nn::loss::LOG_SIGMA_FLOOR;
                ls[3] = floor - 1.5;
                ls[5] = floor;
            }
        }
        with_units_off(&cfg, &mut params);
        let net = latent_nn::params::load_params(net, &params, std::path::Path::new("t")).unwrap();
        let k = cfg.latent_dim;
        let eps: Vec<f32> = (0..b * k)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let beta = 0.7;

        let xt = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(xb.clone(), [b, 64]),
            &device,
        );
        let et = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(eps.clone(), [b, k]),
            &device,
        );
        let out = net.step_loss(xt, et, beta);
        let want: Vec<f64> = [out.loss.clone(), out.recon.clone(), out.kl.clone()]
            .into_iter()
            .map(|t| f64::from(to_host(t).unwrap().iter().copied().next().unwrap()))
            .collect();
        let grads = named_grads(&net, &out.loss.backward());

        let mut fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
        let got = fused.train_step(&xb, &eps, b, beta);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                close(*g, *w, 1e-5),
                "{cfg:?}: losses {got:?} vs burn {want:?}"
            );
        }
        let evaluated = fused.losses(&xb, &eps, b, beta);
        assert_eq!(
            evaluated, got,
            "forward-only losses differ from the training step's"
        );
        let fused_grads: Vec<(String, Vec<f32>)> = fused
            .grads()
            .map(|(n, g)| (n.to_string(), g.to_vec()))
            .collect();
        assert_eq!(fused_grads.len(), grads.len(), "{cfg:?}: parameter count");
        for (name, g) in fused_grads {
            let w = to_host(grads[&name].clone()).unwrap();
            let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
            for (i, (a, e)) in g.iter().zip(w.iter()).enumerate() {
                assert!(
                    (a - e).abs() <= 2e-4 * scale,
                    "{cfg:?}: gradient of {name}[{i}]: fused {a}, burn {e} (scale {scale})"
                );
            }
        }
    }
}

/// The fused encoder gives burn's codes (the posterior mean).
#[test]
fn codes_equal_burns() {
    let x = digits();
    let device = cpu_device();
    for cfg in matrix() {
        let net = Net::new(&cfg, &mut latent_core::seed::rng(2), &device);
        let n = 100;
        let xb = rows(&x, n);
        let t = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(xb.clone(), [n, 64]),
            &device,
        );
        let want = to_host(net.encode(t).mean).unwrap();
        let fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
        let mut got = vec![0.0; n * cfg.latent_dim];
        fused.encode_mean(&xb, n, &mut got);
        for (a, e) in got.iter().zip(want.iter()) {
            assert!(
                (a - e).abs() <= 1e-5 * e.abs().max(1.0),
                "{cfg:?}: {a} vs {e}"
            );
        }
    }
}

/// Whole training runs: the fused engine follows burn's epoch by epoch (the differences are
/// float rounding, amplified a little by Adam over the steps).
#[test]
fn training_follows_burns() {
    let x = digits();
    let train_x = x.slice(ndarray::s![..1400, ..]);
    let val_x = x.slice(ndarray::s![1400.., ..]);
    let cfg = TrainConfig {
        epochs: 3,
        batch_size: 64,
        seed: 9,
        dynamic_binarize: true,
        ..TrainConfig::default()
    };
    for net in [
        base(),
        NetConfig {
            kind: ModelKind::Ae,
            ..base()
        },
        conv(),
    ] {
        let run = |engine| {
            train_with(
                engine,
                &net,
                &cfg,
                train_x,
                Some(val_x),
                &cpu_device(),
                None,
                &mut Silent,
            )
            .unwrap()
            .history
        };
        let (fused, burn) = (run(Engine::Auto), run(Engine::Burn));
        for (f, b) in fused.iter().zip(&burn) {
            for (got, want) in [
                (f.train_loss, b.train_loss),
                (f.train_kl, b.train_kl),
                (f.val_loss.unwrap(), b.val_loss.unwrap()),
            ] {
                assert!(
                    close(got, want, 2e-3),
                    "{:?} epoch {}: fused {got} vs burn {want}",
                    net.kind,
                    f.epoch
                );
            }
        }
    }
}

/// The same bits with one thread and with three: the products' split does not depend on
/// the pool.
#[test]
fn fused_training_is_independent_of_the_thread_count() {
    let x = digits();
    // wide enough that the products are split across threads
    let mlp = NetConfig {
        hidden: vec![512],
        ..base()
    };
    let conv = NetConfig {
        hidden: vec![512],
        conv_channels: vec![16, 32],
        ..conv()
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 256,
        seed: 4,
        ..TrainConfig::default()
    };
    for net in [mlp, conv] {
        let run = |threads: usize| {
            on_threads(threads, || {
                let t = train_with(
                    Engine::Auto,
                    &net,
                    &cfg,
                    x.view(),
                    None,
                    &cpu_device(),
                    None,
                    &mut Silent,
                )
                .unwrap();
                named_params(&t.net).unwrap()
            })
        };
        let bits = |p: &latent_nn::params::HostTensors| -> Vec<u32> {
            p.values()
                .flat_map(|a| a.iter().map(|v| v.to_bits()))
                .collect()
        };
        assert_eq!(bits(&run(1)), bits(&run(3)), "{:?}", net.arch);
    }
}

/// Inference cuts its rows into blocks that depend on the row count alone: codes (with the
/// log-variance head) and decodings are the same bits on one thread and on three, for every
/// network of the matrix, with a row count that is no multiple of the blocks.
#[test]
fn inference_is_independent_of_the_thread_count() {
    let x = digits();
    let device = cpu_device();
    let n = 333;
    let xb: Vec<f32> = (0..n).flat_map(|i| x.row(i % x.nrows()).to_vec()).collect();
    for cfg in matrix() {
        let net = Net::new(&cfg, &mut latent_core::seed::rng(6), &device);
        let fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
        let k = cfg.latent_dim;
        let run = |threads: usize| {
            on_threads(threads, || {
                let (mut mean, mut lv) = (vec![0.0; n * k], vec![0.0; n * k]);
                fused.encode_into(&xb, n, &mut mean, Some(&mut lv));
                let mut out = vec![0.0; n * 64];
                fused.decode_raw(&mean, n, &mut out);
                [mean, lv, out].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
            })
        };
        let one = run(1);
        assert!(one[0].iter().any(|&b| b != 0), "{cfg:?}: codes computed");
        assert_eq!(one, run(3), "{cfg:?}");
    }
}

/// Parameters of another posterior are refused, not approximated: a diagonal posterior's
/// lack the off-diagonal head a full one needs, a full posterior's have one too many.
#[test]
fn parameters_of_another_posterior_are_refused() {
    let diagonal = base();
    let full = NetConfig {
        posterior: PosteriorKind::Full,
        ..base()
    };
    for (cfg, params_of) in [(&full, &diagonal), (&diagonal, &full)] {
        assert!(supports(cfg));
        let net = Net::new(params_of, &mut latent_core::seed::rng(0), &cpu_device());
        let err = FusedNet::new(cfg, &named_params(&net).unwrap()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("off_diag") || msg.contains("parameters given"),
            "{msg}"
        );
    }
}

/// The two engines behind the `Network` seam compute the same network: encoder heads,
/// decoder, losses and a training step's gradients agree to float rounding, and the
/// choice is made in one place (fused for the MLP and conv networks on the CPU unless burn
/// is asked for).
#[test]
fn engines_agree_through_the_network_trait() {
    use latent_nn::engine::{EngineKind, build, choose};
    let x = digits();
    let device = cpu_device();
    let n = 50;
    let xb = rows(&x, n);
    let xv = ndarray::ArrayView2::from_shape((n, 64), &xb).unwrap();
    let close_all = |a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>, what: &str| {
        assert_eq!(a.dim(), b.dim(), "{what}");
        for (p, q) in a.iter().zip(b) {
            assert!(
                (p - q).abs() <= 1e-4 * q.abs().max(1.0),
                "{what}: {p} vs {q}"
            );
        }
    };
    for cfg in matrix() {
        assert_eq!(choose(Engine::Auto, &cfg, &device), EngineKind::Fused);
        assert_eq!(choose(Engine::Burn, &cfg, &device), EngineKind::Burn);
        let net = Net::new(&cfg, &mut latent_core::seed::rng(5), &device);
        let fused = build(Engine::Auto, net.clone(), false).unwrap();
        let burn = build(Engine::Burn, net, false).unwrap();
        assert_eq!(
            (fused.kind(), burn.kind()),
            (EngineKind::Fused, EngineKind::Burn)
        );
        assert_eq!(fused.params().unwrap(), burn.params().unwrap());
        let (ef, eb) = (fused.encode(xv).unwrap(), burn.encode(xv).unwrap());
        close_all(&ef.mean, &eb.mean, "mean");
        close_all(&fused.encode_mean(xv).unwrap(), &eb.mean, "encode_mean");
        assert_eq!(ef.log_scale.is_some(), cfg.is_vae());
        if let (Some(a), Some(b)) = (&ef.log_scale, &eb.log_scale) {
            close_all(a, b, "log-variance");
        }
        let has_off_diag = cfg.posterior == PosteriorKind::Full && cfg.latent_dim > 1;
        assert_eq!(ef.off_diag.is_some(), has_off_diag, "{cfg:?}");
        assert_eq!(eb.off_diag.is_some(), has_off_diag, "{cfg:?}");
        if let (Some(a), Some(b)) = (&ef.off_diag, &eb.off_diag) {
            close_all(a, b, "off-diagonal");
        }
        close_all(
            &fused.decode_raw(ef.mean.view()).unwrap(),
            &burn.decode_raw(ef.mean.view()).unwrap(),
            "decoder",
        );
        let k = cfg.latent_dim;
        let mut rng = latent_core::seed::rng(8);
        let eps: Vec<f32> = (0..n * k)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let (lf, lb) = (
            fused.losses(&xb, &eps, n, 0.5).unwrap(),
            burn.losses(&xb, &eps, n, 0.5).unwrap(),
        );
        for (a, b) in lf.iter().zip(&lb) {
            assert!(close(*a, *b, 1e-5), "{cfg:?}: losses {lf:?} vs {lb:?}");
        }
        assert_eq!(
            fused.log_sigma().unwrap().is_some(),
            matches!(cfg.likelihood, Likelihood::GaussianLearned { .. })
        );
        // an inference engine refuses to train instead of differentiating nothing
        let mut burn = burn;
        assert!(burn.step(&xb, &eps, n, 0.5).is_err());
    }
}

/// A training engine's step gives the gradients the update applies, by parameter name, for
/// both engines; an update without a step is refused.
#[test]
fn a_training_engine_steps_then_updates() {
    use latent_nn::engine::build;
    use latent_nn::optim::{Adam, AdamSettings};
    let x = digits();
    let device = cpu_device().autodiff();
    let n = 32;
    let xb = rows(&x, n);
    let cfg = base();
    let k = cfg.latent_dim;
    let mut rng = latent_core::seed::rng(3);
    let eps: Vec<f32> = (0..n * k)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let settings = AdamSettings {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mut after = Vec::new();
    for choice in [Engine::Auto, Engine::Burn] {
        let net = Net::new(&cfg, &mut latent_core::seed::rng(6), &device);
        let mut engine = build(choice, net, true).unwrap();
        let mut adam = Adam::new(settings);
        assert!(
            engine.update(&mut adam, 1e-3).is_err(),
            "an update before any step"
        );
        let before = engine.params().unwrap();
        engine.step(&xb, &eps, n, 1.0).unwrap();
        let grads = engine.grads().unwrap();
        assert_eq!(grads.len(), before.len());
        assert!(grads.values().any(|g| g.iter().any(|v| *v != 0.0)));
        engine.update(&mut adam, 1e-3).unwrap();
        let p = engine.params().unwrap();
        assert!(
            p.iter().any(|(name, a)| *a != before[name]),
            "the update changed nothing"
        );
        after.push(p);
    }
    for (name, a) in &after[0] {
        let b = &after[1][name];
        for (p, q) in a.iter().zip(b.iter()) {
            assert!((p - q).abs() <= 1e-4, "{name}: fused {p} vs burn {q}");
        }
    }
}

/// Inference's tile products skip the inputs' zeros; a weight made non-finite (through the
/// optimizer's access, after an inference that found every weight finite) must still reach
/// the codes as NaN, as faer's product gives it, not be skipped over: the weight of an input
/// that is zero in every row is set to NaN. (tanh: a ReLU maps NaN to 0 on either path.)
#[test]
fn a_non_finite_weight_reaches_the_codes() {
    let x = digits();
    let cfg = NetConfig {
        activation: Activation::Tanh,
        ..base()
    };
    let net = Net::new(&cfg, &mut latent_core::seed::rng(6), &cpu_device());
    let mut fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
    let n = 40;
    let xb: Vec<f32> = (0..n).flat_map(|i| x.row(i).to_vec()).collect();
    let (d, k, h) = (cfg.input_dim, cfg.latent_dim, cfg.hidden[0]);
    let zero_input = (0..d)
        .find(|&p| (0..n).all(|i| xb[i * d + p] == 0.0))
        .expect("the digits have an input that is zero in every row");
    let mut mean = vec![0.0; n * k];
    fused.encode_into(&xb, n, &mut mean, None);
    assert!(mean.iter().all(|v| v.is_finite()));
    for (name, p, _) in fused.params_and_grads() {
        if name == "encoder.0.weight" {
            p[zero_input * h] = f32::NAN;
        }
    }
    fused.encode_into(&xb, n, &mut mean, None);
    assert!(mean.iter().all(|v| v.is_nan()), "{mean:?}");
}
