//! The training step of the reference VAE (784-400-20, batch 128) and its parts, and of the
//! conv VAE (`conv_vae_step`; `STEP_BENCH=conv` runs it alone), fused host
//! path against burn's graph, on this machine, in the same run.
//!
//! `cargo bench -p latent-nn --bench step` prints one JSON object per measurement: the
//! median time of a step (or part), its GFLOP/s and, for the whole step, the ratio of the
//! two engines. Timings are medians of repeated runs, interleaved, on whatever threads
//! rayon's global pool has (set `RAYON_NUM_THREADS`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use latent_nn::fused::FusedNet;
use latent_nn::model::Net;
use latent_nn::optim::{Adam, AdamSettings, named_grads};
use latent_nn::params::named_params;
use latent_nn::{NetConfig, cpu_device};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

const B: usize = 128;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds per call of `f` over `rounds` rounds of `reps` calls.
fn time(rounds: usize, reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..reps {
        f();
    }
    median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                t.elapsed().as_secs_f64() / reps as f64
            })
            .collect(),
    )
}

/// A batch of Fashion-MNIST-like inputs (half zeros, the rest grey levels) of `d` features
/// and its standard-normal noise of `k`.
fn inputs(d: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = latent_core::seed::rng(seed);
    let x: Vec<f32> = (0..B * d)
        .map(|_| {
            if rng.random::<bool>() {
                0.0
            } else {
                rng.random::<f32>()
            }
        })
        .collect();
    let eps: Vec<f32> = (0..B * k)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    (x, eps)
}

/// PyTorch's Adam defaults.
fn adam_settings() -> AdamSettings {
    AdamSettings {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    }
}

/// Median seconds of one training step of `net` through burn's autodiff graph, with its
/// Adam update, over `(rounds, reps)`.
fn burn_step(net: Net, x: &[f32], eps: &[f32], (rounds, reps): (usize, usize)) -> f64 {
    let (d, k) = (net.config().input_dim, net.config().latent_dim);
    let device = cpu_device().autodiff();
    let mut burn_net = Some(net);
    let mut burn_adam = Adam::new(adam_settings());
    time(rounds, reps, || {
        let net = burn_net.take().unwrap();
        let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [B, d]), &device);
        let et = Tensor::<2>::from_data(TensorData::new(eps.to_vec(), [B, k]), &device);
        let out = net.step_loss(xt, et, 1.0);
        let grads = named_grads(&net, &out.loss.backward());
        burn_net = Some(burn_adam.step(net, grads, 1e-9).unwrap());
    })
}

/// The conv VAE of `bench/run`'s conv row (latent's `--arch conv` on 28 × 28 images:
/// convolutions 1 → 32 → 64, dense 3136 → 400 → 20, and back) — one fused training step
/// with its Adam update, and the same step through burn's graph.
fn conv_step() {
    let cfg = NetConfig {
        arch: latent_nn::Arch::Conv,
        image: Some([28, 28, 1]),
        ..NetConfig::reference_vae()
    };
    let (d, k) = (cfg.input_dim, cfg.latent_dim);
    let (x, eps) = inputs(d, k, 2);
    // multiply-adds per example: each convolution is (output positions) · 16 · c_in · c_out,
    // each transposed one (input positions) · 16 · c_in · c_out; backward the weight
    // gradients (as many) and the input gradients except the image's
    let conv1 = (14 * 14 * 16 * 32) as f64;
    let conv2 = (7 * 7 * 16 * 32 * 64) as f64;
    let dense = (3136 * 400 + 400 * 2 * k + k * 400 + 400 * 3136) as f64;
    let fwd = 2.0 * (conv1 + conv2) + dense;
    let bwd = fwd + (fwd - conv1);
    let step_flops = 2.0 * B as f64 * (fwd + bwd);
    let device = cpu_device().autodiff();
    let net = Net::new(&cfg, &mut latent_core::seed::rng(0), &device);
    let mut fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
    let mut adam = Adam::new(adam_settings());
    let t_fused = time(11, 10, || {
        std::hint::black_box(fused.train_step(&x, &eps, B, 1.0));
        adam.step_host(fused.params_and_grads(), 1e-9);
    });
    let t_fwd = time(11, 10, || {
        std::hint::black_box(fused.losses(&x, &eps, B, 1.0));
    });
    let t_burn = burn_step(net, &x, &eps, (3, 5));
    let gflops = |t: f64| (step_flops / t / 1e9 * 10.0).round() / 10.0;
    let us = |t: f64| (t * 1e7).round() / 10.0;
    println!(
        "{{\"bench\":\"conv_vae_step\",\"batch\":{B},\"threads\":{},\"fused_us\":{},\"fused_gflops\":{},\"forward_only_us\":{},\"burn_us\":{},\"burn_gflops\":{},\"fused_speedup\":{:.2},\"epoch_10k_fused_s\":{:.3}}}",
        rayon::current_num_threads(),
        us(t_fused),
        gflops(t_fused),
        us(t_fwd),
        us(t_burn),
        gflops(t_burn),
        t_burn / t_fused,
        t_fused * 10000.0 / B as f64,
    );
}

fn main() {
    // `STEP_BENCH=conv` measures the conv network's step alone
    if std::env::var("STEP_BENCH").as_deref() == Ok("conv") {
        conv_step();
        return;
    }
    let cfg = NetConfig::reference_vae();
    let (d, k) = (cfg.input_dim, cfg.latent_dim);
    let (x, eps) = inputs(d, k, 1);

    // multiply-adds per example: forward 784·400 + 400·40 + 20·400 + 400·784; backward the
    // weight gradients (as many) and the input gradients except the first layer's
    let fwd = (d * 400 + 400 * 2 * k + k * 400 + 400 * d) as f64;
    let bwd = fwd + (400 * 2 * k + k * 400 + 400 * d) as f64;
    let step_flops = 2.0 * B as f64 * (fwd + bwd);

    let device = cpu_device().autodiff();
    let net = Net::new(&cfg, &mut latent_core::seed::rng(0), &device);
    let mut fused = FusedNet::new(&cfg, &named_params(&net).unwrap()).unwrap();
    let mut adam = Adam::new(adam_settings());

    // `STEP_PROFILE=forward|step` loops that part for a profiler and prints nothing else
    if let Ok(part) = std::env::var("STEP_PROFILE") {
        for _ in 0..2000 {
            match part.as_str() {
                "forward" => {
                    std::hint::black_box(fused.losses(&x, &eps, B, 1.0));
                }
                _ => {
                    std::hint::black_box(fused.train_step(&x, &eps, B, 1.0));
                    adam.step_host(fused.params_and_grads(), 1e-9);
                }
            }
        }
        return;
    }
    let rounds = 15;
    let reps = 20;
    let t_fwd_bwd = time(rounds, reps, || {
        std::hint::black_box(fused.train_step(&x, &eps, B, 1.0));
    });
    let t_adam = time(rounds, reps, || {
        adam.step_host(fused.params_and_grads(), 1e-9)
    });
    let t_fused = time(rounds, reps, || {
        std::hint::black_box(fused.train_step(&x, &eps, B, 1.0));
        adam.step_host(fused.params_and_grads(), 1e-9);
    });
    let t_fwd = time(rounds, reps, || {
        std::hint::black_box(fused.losses(&x, &eps, B, 1.0));
    });

    // burn: the same step through the autodiff graph
    let t_burn = burn_step(net, &x, &eps, (5, 10));

    let gflops = |t: f64, f: f64| (f / t / 1e9 * 10.0).round() / 10.0;
    let us = |t: f64| (t * 1e7).round() / 10.0;
    println!(
        "{{\"bench\":\"vae_step\",\"batch\":{B},\"threads\":{},\"fused_us\":{},\"fused_gflops\":{},\"burn_us\":{},\"burn_gflops\":{},\"fused_speedup\":{:.2},\"epoch_60k_fused_s\":{:.3},\"epoch_60k_burn_s\":{:.3}}}",
        rayon::current_num_threads(),
        us(t_fused),
        gflops(t_fused, step_flops),
        us(t_burn),
        gflops(t_burn, step_flops),
        t_burn / t_fused,
        t_fused * 60000.0 / B as f64,
        t_burn * 60000.0 / B as f64,
    );
    println!(
        "{{\"bench\":\"vae_step_parts\",\"forward_backward_us\":{},\"forward_backward_gflops\":{},\"forward_only_us\":{},\"adam_us\":{},\"params\":{}}}",
        us(t_fwd_bwd),
        gflops(t_fwd_bwd, step_flops),
        us(t_fwd),
        us(t_adam),
        fused.grads().map(|(_, g)| g.len()).sum::<usize>(),
    );
    conv_step();
}
