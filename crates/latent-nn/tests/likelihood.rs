//! The importance-sampled log-likelihood against exact integration: a VAE with a 1-D latent
//! space, where `log p(x) = log ∫ p(x|z) N(z; 0, 1) dz` is computed by quadrature.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use burn::tensor::{Tensor, TensorData};
use latent_nn::{NetConfig, NnModel, Silent, TrainConfig, cpu_device, train};

#[test]
fn importance_sampling_agrees_with_exact_integration_in_one_dimension() {
    let d = common::digits_set();
    let cfg = NetConfig {
        input_dim: 64,
        latent_dim: 1,
        hidden: vec![32],
        ..NetConfig::reference_vae()
    };
    let t = TrainConfig {
        epochs: 5,
        batch_size: 64,
        seed: 1,
        ..TrainConfig::default()
    };
    let device = cpu_device();
    let out = train(&cfg, &t, d.x(), None, &device, None, &mut Silent).unwrap();
    let net = out.net.clone();
    let model = NnModel::new(out.net, &device).unwrap();
    let rows = 40;
    let x = d.x().slice(ndarray::s![..rows, ..]).to_owned();

    // exact: trapezoid rule on z ∈ [−10, 10]
    let n = 20_001;
    let (lo, hi) = (-10.0f64, 10.0f64);
    let h = (hi - lo) / (n - 1) as f64;
    let zs: Vec<f32> = (0..n).map(|i| (lo + h * i as f64) as f32).collect();
    let z = Tensor::<2>::from_data(TensorData::new(zs.clone(), [n, 1]), &device);
    let logits = net.decode_raw(z);
    let mut exact = Vec::new();
    for r in 0..rows {
        let xr: Vec<f32> = x.row(r).iter().copied().cycle().take(n * 64).collect();
        let xt = Tensor::<2>::from_data(TensorData::new(xr, [n, 64]), &device);
        let nll =
            latent_nn::train::to_array2(net.recon_per_example(logits.clone(), xt).reshape([n, 1]))
                .unwrap();
        // log of Σ w_i p(x|z_i) N(z_i), w the trapezoid weights
        let terms: Vec<f64> = (0..n)
            .map(|i| {
                let zi = f64::from(zs[i]);
                let w = if i == 0 || i == n - 1 { 0.5 * h } else { h };
                -f64::from(nll[[i, 0]]) - 0.5 * zi * zi - 0.918_938_533_204_672_7 + w.ln()
            })
            .collect();
        let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        exact.push(m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln());
    }

    let is = model.log_likelihood_is(x.view(), 5000, 3).unwrap();
    for r in 0..rows {
        let rel = (is[r] - exact[r]).abs() / exact[r].abs();
        assert!(
            rel < 0.005,
            "row {r}: IS {} vs exact {} ({rel})",
            is[r],
            exact[r]
        );
    }
    // the bound tightens (on average) as K grows; K = 1 is the ELBO
    let mean = |k: usize| {
        model
            .log_likelihood_is(x.view(), k, 3)
            .unwrap()
            .mean()
            .unwrap()
    };
    let (m1, m10, m100, m5000) = (mean(1), mean(10), mean(100), is.mean().unwrap());
    assert!(
        m1 <= m10 && m10 <= m100 && m100 <= m5000 + 1e-6,
        "{m1} {m10} {m100} {m5000}"
    );
    let exact_mean = exact.iter().sum::<f64>() / rows as f64;
    let worst = (0..rows)
        .map(|r| (is[r] - exact[r]).abs() / exact[r].abs())
        .fold(0.0, f64::max);
    eprintln!(
        "mean log p(x): exact {exact_mean:.4}, IS K=5000 {m5000:.4} (worst row {worst:.2e}), K=100 {m100:.4}, K=10 {m10:.4}, K=1 {m1:.4}"
    );
    assert!(
        m5000 <= exact_mean + 0.05,
        "IS is a lower bound in expectation: {m5000} vs {exact_mean}"
    );
}
