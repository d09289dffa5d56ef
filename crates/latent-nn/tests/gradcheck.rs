//! Gradient checks, as PyTorch's `gradcheck`, for every loss in `latent_nn::loss`.
//!
//! Each loss is re-implemented on the host in f64 from its textbook definition (not from the
//! stable form the library uses). The burn forward value (f32) is compared with that
//! reference, and burn's autodiff gradient with the reference's central finite difference
//! in f64. Per-example losses are weighted by distinct random weights before summing, so a
//! gradient that mixes up examples fails too. A last group checks extreme inputs: the losses
//! and their gradients stay finite and equal the analytic limits.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use burn::tensor::{Device, Tensor, TensorData};
use latent_nn::cpu_device;
use latent_nn::loss::{
    bernoulli_nll_logits, gaussian_nll_fixed, gaussian_nll_learned, kl_diagonal, kl_full,
    strict_lower_indices, strict_lower_matvec,
};

const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// SplitMix64: a small deterministic generator (no dependency on `rand`'s streams).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi), rounded to f32 (the values the tensors hold).
    fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                (lo + (hi - lo) * u) as f32
            })
            .collect()
    }
}

fn ad() -> Device {
    cpu_device().autodiff()
}

fn t1(v: &[f32], grad: bool) -> Tensor<1> {
    let t = Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &ad());
    if grad { t.require_grad() } else { t }
}

fn t2(v: &[f32], shape: [usize; 2], grad: bool) -> Tensor<2> {
    let t = Tensor::from_data(TensorData::new(v.to_vec(), shape), &ad());
    if grad { t.require_grad() } else { t }
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `Σ_b w_b · loss_b` on the host.
fn weighted(per: &[f64], w: &[f32]) -> f64 {
    per.iter().zip(w).map(|(l, &w)| l * f64::from(w)).sum()
}

/// Compare burn's per-example values with the f64 reference: relative error ≤ `rtol`.
fn check_forward(name: &str, got: &[f32], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            g.is_finite() && err <= rtol * w.abs().max(1.0),
            "{name}: value {i}: burn {g} vs f64 reference {w} (error {err:e})"
        );
    }
}

/// Central differences of `f` around `inputs` (f64), one input at a time; the maximum
/// error of `analytic` relative to `max(|fd|, 1)`. `Err` names the first element beyond
/// `rtol`.
fn gradcheck(
    name: &str,
    inputs: &[(&str, &[f32])],
    analytic: &[Vec<f32>],
    f: &dyn Fn(&[Vec<f64>]) -> f64,
    rtol: f64,
) -> Result<f64, String> {
    let base: Vec<Vec<f64>> = inputs.iter().map(|(_, v)| f64s(v)).collect();
    let mut worst = 0.0f64;
    for (a, (input, _)) in inputs.iter().enumerate() {
        assert_eq!(
            analytic[a].len(),
            base[a].len(),
            "{name}: {input} gradient length"
        );
        for i in 0..base[a].len() {
            let h = 1e-6 * base[a][i].abs().max(1.0);
            let mut plus = base.clone();
            plus[a][i] += h;
            let mut minus = base.clone();
            minus[a][i] -= h;
            let fd = (f(&plus) - f(&minus)) / (2.0 * h);
            let g = f64::from(analytic[a][i]);
            let err = (g - fd).abs() / fd.abs().max(1.0);
            if !g.is_finite() || err > rtol {
                return Err(format!(
                    "{name}: d/d{input}[{i}]: autodiff {g} vs finite difference {fd} (relative error {err:e})"
                ));
            }
            worst = worst.max(err);
        }
    }
    Ok(worst)
}

const RTOL_VALUE: f64 = 2e-6;
const RTOL_GRAD: f64 = 1e-4;

// ---- f64 references, from the definitions ----------------------------------------------

/// `−log Bernoulli(x; σ(l))` with soft targets, the cross-entropy definition.
fn ref_bernoulli(l: &[f64], x: &[f64], d: usize) -> Vec<f64> {
    l.chunks(d)
        .zip(x.chunks(d))
        .map(|(l, x)| {
            l.iter()
                .zip(x)
                .map(|(&l, &x)| {
                    let p = 1.0 / (1.0 + (-l).exp());
                    -(x * p.ln() + (1.0 - x) * (1.0 - p).ln())
                })
                .sum()
        })
        .collect()
}

/// `−log N(x; μ, σ²)` summed over features; `sigma(j)` is σ of feature j.
fn ref_gaussian(mean: &[f64], x: &[f64], d: usize, sigma: &dyn Fn(usize) -> f64) -> Vec<f64> {
    mean.chunks(d)
        .zip(x.chunks(d))
        .map(|(m, x)| {
            (0..d)
                .map(|j| {
                    let s = sigma(j);
                    let density = (-(x[j] - m[j]).powi(2) / (2.0 * s * s)).exp()
                        / (s * (2.0 * std::f64::consts::PI).sqrt());
                    -density.ln()
                })
                .sum()
        })
        .collect()
}

/// The same in log space (the density underflows at extreme σ).
fn ref_gaussian_log(
    mean: &[f64],
    x: &[f64],
    d: usize,
    log_sigma: &dyn Fn(usize) -> f64,
) -> Vec<f64> {
    mean.chunks(d)
        .zip(x.chunks(d))
        .map(|(m, x)| {
            (0..d)
                .map(|j| {
                    let ls = log_sigma(j);
                    0.5 * (x[j] - m[j]).powi(2) * (-2.0 * ls).exp() + ls + HALF_LOG_2PI
                })
                .sum()
        })
        .collect()
}

/// `KL(N(μ, diag σ²) ‖ N(0, I))` from the general Gaussian KL,
/// `½(tr Σ + μᵀμ − K − log det Σ)`.
fn ref_kl_diagonal(mean: &[f64], log_var: &[f64], k: usize) -> Vec<f64> {
    mean.chunks(k)
        .zip(log_var.chunks(k))
        .map(|(m, lv)| {
            let trace: f64 = lv.iter().map(|v| v.exp()).sum();
            let log_det: f64 = lv.iter().sum();
            let mm: f64 = m.iter().map(|v| v * v).sum();
            0.5 * (trace + mm - k as f64 - log_det)
        })
        .collect()
}

/// The K×K lower-triangular Cholesky factor, row-major, from its log-diagonal and the
/// strictly-lower entries in the order (1,0), (2,0), (2,1), (3,0) …
fn cholesky(log_diag: &[f64], off: &[f64], k: usize) -> Vec<f64> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        l[i * k + i] = log_diag[i].exp();
    }
    let mut p = 0;
    for i in 1..k {
        for j in 0..i {
            l[i * k + j] = off[p];
            p += 1;
        }
    }
    l
}

/// `KL(N(μ, LLᵀ) ‖ N(0, I))` with Σ = LLᵀ formed explicitly; log det Σ = 2 Σ log L_ii.
fn ref_kl_full(mean: &[f64], log_diag: &[f64], off: &[f64], k: usize) -> Vec<f64> {
    let m_len = k * (k - 1) / 2;
    let b = mean.len() / k;
    (0..b)
        .map(|r| {
            let m = &mean[r * k..(r + 1) * k];
            let ld = &log_diag[r * k..(r + 1) * k];
            let l = cholesky(ld, &off[r * m_len..(r + 1) * m_len], k);
            let trace: f64 = (0..k)
                .map(|i| (0..k).map(|j| l[i * k + j] * l[i * k + j]).sum::<f64>())
                .sum();
            let log_det = 2.0 * ld.iter().sum::<f64>();
            let mm: f64 = m.iter().map(|v| v * v).sum();
            0.5 * (trace + mm - k as f64 - log_det)
        })
        .collect()
}

/// `L_strict ε` per row, `[B, K]` row-major.
fn ref_matvec(off: &[f64], eps: &[f64], k: usize) -> Vec<f64> {
    let m_len = k * (k - 1) / 2;
    let b = eps.len() / k;
    let mut out = vec![0.0; b * k];
    for r in 0..b {
        let l = cholesky(
            &vec![f64::NEG_INFINITY; k],
            &off[r * m_len..(r + 1) * m_len],
            k,
        );
        for i in 0..k {
            out[r * k + i] = (0..k).map(|j| l[i * k + j] * eps[r * k + j]).sum();
        }
    }
    out
}

// ---- gradient checks --------------------------------------------------------------------

const B: usize = 3;
const D: usize = 5;
const K: usize = 4;

#[test]
fn bernoulli_nll_logits_gradient() {
    let mut rng = Rng(1);
    let mut logits = rng.vec(B * D, -6.0, 6.0);
    let mut x = rng.vec(B * D, 0.0, 1.0);
    // binary targets, and a logit exactly at 0 (the kink of max(l, 0) and |l|)
    x[0] = 0.0;
    x[1] = 1.0;
    logits[2] = 0.0;
    x[2] = 0.0;
    logits[7] = 0.0;
    x[7] = 0.75;
    let w = rng.vec(B, 0.5, 2.0);
    let l = t2(&logits, [B, D], true);
    let per = bernoulli_nll_logits(l.clone(), t2(&x, [B, D], false));
    let grads = (per.clone() * t1(&w, false)).sum().backward();
    let g = host(l.grad(&grads).unwrap());
    let xs = f64s(&x);
    check_forward(
        "bernoulli",
        &host(per),
        &ref_bernoulli(&f64s(&logits), &xs, D),
        RTOL_VALUE,
    );
    let f = |v: &[Vec<f64>]| weighted(&ref_bernoulli(&v[0], &xs, D), &w);
    gradcheck("bernoulli", &[("logits", &logits)], &[g], &f, RTOL_GRAD).unwrap();
}

#[test]
fn gaussian_nll_fixed_gradient() {
    for (seed, sigma) in [(2u64, 1.0f32), (3, 0.3), (4, 2.5)] {
        let mut rng = Rng(seed);
        let mean = rng.vec(B * D, -2.0, 2.0);
        let x = rng.vec(B * D, -2.0, 2.0);
        let w = rng.vec(B, 0.5, 2.0);
        let m = t2(&mean, [B, D], true);
        let per = gaussian_nll_fixed(m.clone(), t2(&x, [B, D], false), sigma);
        let grads = (per.clone() * t1(&w, false)).sum().backward();
        let g = host(m.grad(&grads).unwrap());
        let xs = f64s(&x);
        let s = f64::from(sigma);
        let name = format!("gaussian fixed σ={sigma}");
        let want = ref_gaussian(&f64s(&mean), &xs, D, &|_| s);
        check_forward(&name, &host(per), &want, RTOL_VALUE);
        let f = |v: &[Vec<f64>]| weighted(&ref_gaussian(&v[0], &xs, D, &|_| s), &w);
        gradcheck(&name, &[("mean", &mean)], &[g], &f, RTOL_GRAD).unwrap();
    }
}

#[test]
fn gaussian_nll_learned_gradient_per_feature_and_shared() {
    for (seed, n_sigma) in [(5u64, D), (6, 1)] {
        let mut rng = Rng(seed);
        let mean = rng.vec(B * D, -2.0, 2.0);
        let x = rng.vec(B * D, -2.0, 2.0);
        let log_sigma = rng.vec(n_sigma, -1.5, 1.0);
        let w = rng.vec(B, 0.5, 2.0);
        let m = t2(&mean, [B, D], true);
        let ls = t1(&log_sigma, true);
        let per = gaussian_nll_learned(m.clone(), t2(&x, [B, D], false), ls.clone());
        let grads = (per.clone() * t1(&w, false)).sum().backward();
        let gm = host(m.grad(&grads).unwrap());
        let gs = host(ls.grad(&grads).unwrap());
        let xs = f64s(&x);
        let name = format!("gaussian learned σ [{n_sigma}]");
        // σ of feature j: its own, or the shared one
        let pick = move |v: &[f64], j: usize| v[if n_sigma == 1 { 0 } else { j }];
        let lsf = f64s(&log_sigma);
        let want = ref_gaussian(&f64s(&mean), &xs, D, &|j| pick(&lsf, j).exp());
        check_forward(&name, &host(per), &want, RTOL_VALUE);
        let f =
            |v: &[Vec<f64>]| weighted(&ref_gaussian(&v[0], &xs, D, &|j| pick(&v[1], j).exp()), &w);
        gradcheck(
            &name,
            &[("mean", &mean), ("log_sigma", &log_sigma)],
            &[gm, gs],
            &f,
            RTOL_GRAD,
        )
        .unwrap();
    }
}

#[test]
fn kl_diagonal_gradient() {
    let mut rng = Rng(7);
    let mean = rng.vec(B * K, -2.0, 2.0);
    let log_var = rng.vec(B * K, -3.0, 2.0);
    let w = rng.vec(B, 0.5, 2.0);
    let m = t2(&mean, [B, K], true);
    let lv = t2(&log_var, [B, K], true);
    let per = kl_diagonal(m.clone(), lv.clone());
    let grads = (per.clone() * t1(&w, false)).sum().backward();
    let gm = host(m.grad(&grads).unwrap());
    let gl = host(lv.grad(&grads).unwrap());
    let want = ref_kl_diagonal(&f64s(&mean), &f64s(&log_var), K);
    check_forward("kl diagonal", &host(per), &want, RTOL_VALUE);
    let f = |v: &[Vec<f64>]| weighted(&ref_kl_diagonal(&v[0], &v[1], K), &w);
    gradcheck(
        "kl diagonal",
        &[("mean", &mean), ("log_var", &log_var)],
        &[gm, gl],
        &f,
        RTOL_GRAD,
    )
    .unwrap();
}

#[test]
fn kl_full_gradient() {
    let m_len = K * (K - 1) / 2;
    let mut rng = Rng(8);
    let mean = rng.vec(B * K, -2.0, 2.0);
    let log_diag = rng.vec(B * K, -1.5, 1.0);
    let off = rng.vec(B * m_len, -1.5, 1.5);
    let w = rng.vec(B, 0.5, 2.0);
    let m = t2(&mean, [B, K], true);
    let ld = t2(&log_diag, [B, K], true);
    let od = t2(&off, [B, m_len], true);
    let per = kl_full(m.clone(), ld.clone(), Some(od.clone()));
    let grads = (per.clone() * t1(&w, false)).sum().backward();
    let gm = host(m.grad(&grads).unwrap());
    let gl = host(ld.grad(&grads).unwrap());
    let go = host(od.grad(&grads).unwrap());
    let want = ref_kl_full(&f64s(&mean), &f64s(&log_diag), &f64s(&off), K);
    check_forward("kl full", &host(per), &want, RTOL_VALUE);
    let f = |v: &[Vec<f64>]| weighted(&ref_kl_full(&v[0], &v[1], &v[2], K), &w);
    gradcheck(
        "kl full",
        &[("mean", &mean), ("log_diag", &log_diag), ("off_diag", &off)],
        &[gm, gl, go],
        &f,
        RTOL_GRAD,
    )
    .unwrap();

    // Without off-diagonal entries it is the diagonal KL with log_var = 2·log_diag.
    let m = t2(&mean, [B, K], true);
    let ld = t2(&log_diag, [B, K], true);
    let per = kl_full(m.clone(), ld.clone(), None);
    let grads = (per.clone() * t1(&w, false)).sum().backward();
    let gm = host(m.grad(&grads).unwrap());
    let gl = host(ld.grad(&grads).unwrap());
    let zeros = vec![0.0; B * m_len];
    let want = ref_kl_full(&f64s(&mean), &f64s(&log_diag), &zeros, K);
    check_forward("kl full (no off-diagonal)", &host(per), &want, RTOL_VALUE);
    let f = |v: &[Vec<f64>]| weighted(&ref_kl_full(&v[0], &v[1], &zeros, K), &w);
    gradcheck(
        "kl full (no off-diagonal)",
        &[("mean", &mean), ("log_diag", &log_diag)],
        &[gm, gl],
        &f,
        RTOL_GRAD,
    )
    .unwrap();
}

#[test]
fn strict_lower_matvec_gradient() {
    assert_eq!(
        strict_lower_indices(4),
        [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    );
    let m_len = K * (K - 1) / 2;
    let mut rng = Rng(9);
    let off = rng.vec(B * m_len, -2.0, 2.0);
    let eps = rng.vec(B * K, -2.0, 2.0);
    // a random linear functional of the [B, K] output
    let w = rng.vec(B * K, -1.5, 1.5);
    let od = t2(&off, [B, m_len], true);
    let e = t2(&eps, [B, K], true);
    let out = strict_lower_matvec(od.clone(), e.clone(), K);
    let grads = (out.clone() * t2(&w, [B, K], false)).sum().backward();
    let go = host(od.grad(&grads).unwrap());
    let ge = host(e.grad(&grads).unwrap());
    check_forward(
        "strict_lower_matvec",
        &host(out),
        &ref_matvec(&f64s(&off), &f64s(&eps), K),
        RTOL_VALUE,
    );
    let f = |v: &[Vec<f64>]| weighted(&ref_matvec(&v[0], &v[1], K), &w);
    gradcheck(
        "strict_lower_matvec",
        &[("off_diag", &off), ("eps", &eps)],
        &[go, ge],
        &f,
        RTOL_GRAD,
    )
    .unwrap();
}

/// The checker itself can fail: a gradient off by 0.1 % or sent to the wrong element is
/// caught.
#[test]
fn gradcheck_rejects_wrong_gradients() {
    let mut rng = Rng(10);
    let mean = rng.vec(B * K, -2.0, 2.0);
    let log_var = rng.vec(B * K, -1.0, 1.0);
    let f = |v: &[Vec<f64>]| {
        ref_kl_diagonal(
            &v[0],
            &log_var.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
            K,
        )
        .iter()
        .sum()
    };
    // the exact gradient of Σ KL w.r.t. μ is μ
    assert!(
        gradcheck(
            "exact",
            &[("mean", &mean)],
            std::slice::from_ref(&mean),
            &f,
            RTOL_GRAD
        )
        .is_ok()
    );
    let scaled: Vec<f32> = mean.iter().map(|v| v * 1.001).collect();
    assert!(gradcheck("scaled", &[("mean", &mean)], &[scaled], &f, RTOL_GRAD).is_err());
    let mut swapped = mean.clone();
    swapped.swap(0, K);
    assert!(gradcheck("swapped", &[("mean", &mean)], &[swapped], &f, RTOL_GRAD).is_err());
}

// ---- extreme inputs ---------------------------------------------------------------------

fn assert_close(name: &str, got: &[f32], want: &[f64], rtol: f64, atol: f64) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && (f64::from(g) - w).abs() <= atol + rtol * w.abs(),
            "{name}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn bernoulli_is_stable_at_extreme_logits() {
    let mut logits = Vec::new();
    let mut x = Vec::new();
    for l in [80.0f32, -80.0, 1e4, -1e4, 30.0, -30.0] {
        for t in [0.0f32, 1.0, 0.5] {
            logits.push(l);
            x.push(t);
        }
    }
    let n = logits.len();
    let lt = t2(&logits, [n, 1], true);
    let per = bernoulli_nll_logits(lt.clone(), t2(&x, [n, 1], false));
    let grads = per.clone().sum().backward();
    let g = host(lt.grad(&grads).unwrap());
    // the limits: l(1 − x) for l ≫ 0, −l·x for l ≪ 0, plus log(1 + e^−|l|) (≈ 0 here)
    let want: Vec<f64> = logits
        .iter()
        .zip(&x)
        .map(|(&l, &x)| {
            let (l, x) = (f64::from(l), f64::from(x));
            l.max(0.0) - l * x + (-l.abs()).exp().ln_1p()
        })
        .collect();
    let values = host(per);
    assert_close("bernoulli at extreme logits", &values, &want, 1e-6, 1e-6);
    assert!(values[0] > 79.99 && values[1] < 1e-30 && values[3] < 1e-30 && values[4] > 79.99);
    // dℓ/dl = σ(l) − x
    let want_g: Vec<f64> = logits
        .iter()
        .zip(&x)
        .map(|(&l, &x)| 1.0 / (1.0 + (-f64::from(l)).exp()) - f64::from(x))
        .collect();
    assert_close(
        "bernoulli gradient at extreme logits",
        &g,
        &want_g,
        1e-6,
        1e-6,
    );
}

#[test]
fn learned_gaussian_is_stable_at_extreme_sigma() {
    let n = 6;
    let mean = [0.0f32, 0.5, -1.0, 0.0, 0.5, -1.0];
    let x = [0.0f32, 0.501, 1.0, 0.0, 0.501, 1.0];
    // below the floor (−20), log σ is used as the floor and gets no gradient; at the floor
    // itself the gradient passes (as burn's `clamp_min`)
    for log_sigma in [-20.0f32, latent_nn::loss::LOG_SIGMA_FLOOR, 20.0] {
        for shared in [true, false] {
            let ls_v = if shared {
                vec![log_sigma]
            } else {
                vec![log_sigma; n]
            };
            let m = t2(&mean, [1, n], true);
            let ls = t1(&ls_v, true);
            let per = gaussian_nll_learned(m.clone(), t2(&x, [1, n], false), ls.clone());
            let grads = per.clone().sum().backward();
            let name = format!("gaussian learned log σ = {log_sigma}, shared {shared}");
            let lsf = f64::from(log_sigma.max(latent_nn::loss::LOG_SIGMA_FLOOR));
            let below = log_sigma < latent_nn::loss::LOG_SIGMA_FLOOR;
            let want = ref_gaussian_log(&f64s(&mean), &f64s(&x), n, &|_| lsf);
            assert_close(&name, &host(per), &want, 1e-5, 1e-5);
            // d/dμ = −(x − μ)/σ²; d/dlog σ = 1 − (x − μ)²/σ² per feature
            let inv_var = (-2.0 * lsf).exp();
            let r: Vec<f64> = x
                .iter()
                .zip(&mean)
                .map(|(&x, &m)| f64::from(x) - f64::from(m))
                .collect();
            let want_gm: Vec<f64> = r.iter().map(|r| -r * inv_var).collect();
            let per_feature: Vec<f64> = r
                .iter()
                .map(|r| if below { 0.0 } else { 1.0 - r * r * inv_var })
                .collect();
            let want_gs = if shared {
                vec![per_feature.iter().sum()]
            } else {
                per_feature
            };
            assert_close(&name, &host(m.grad(&grads).unwrap()), &want_gm, 1e-5, 1e-5);
            assert_close(&name, &host(ls.grad(&grads).unwrap()), &want_gs, 1e-5, 1e-5);
        }
    }
}

#[test]
fn kl_is_stable_at_extreme_log_variance() {
    let mean = [0.0f32, 1.0, -3.0, 0.0];
    for lv in [-30.0f32, 30.0] {
        let lvs = [lv; 4];
        let m = t2(&mean, [1, 4], true);
        let l = t2(&lvs, [1, 4], true);
        let per = kl_diagonal(m.clone(), l.clone());
        let grads = per.clone().sum().backward();
        let want = ref_kl_diagonal(&f64s(&mean), &f64s(&lvs), 4);
        assert_close(
            &format!("kl diagonal log_var {lv}"),
            &host(per),
            &want,
            1e-5,
            1e-5,
        );
        let want_gl: Vec<f64> = lvs
            .iter()
            .map(|&v| 0.5 * (f64::from(v).exp() - 1.0))
            .collect();
        assert_close(
            "kl diagonal d/dlog_var",
            &host(l.grad(&grads).unwrap()),
            &want_gl,
            1e-5,
            1e-5,
        );
        assert_close(
            "kl diagonal d/dμ",
            &host(m.grad(&grads).unwrap()),
            &f64s(&mean),
            1e-6,
            1e-6,
        );

        // full posterior: log L_ii = lv / 2 (the same variances), with off-diagonal entries
        let ld = [lv / 2.0; 4];
        let off = [0.5f32, -1.0, 2.0, 0.0, 0.25, -0.5];
        let m = t2(&mean, [1, 4], true);
        let l = t2(&ld, [1, 4], true);
        let o = t2(&off, [1, 6], true);
        let per = kl_full(m.clone(), l.clone(), Some(o.clone()));
        let grads = per.clone().sum().backward();
        let want = ref_kl_full(&f64s(&mean), &f64s(&ld), &f64s(&off), 4);
        assert_close(
            &format!("kl full log_diag {}", lv / 2.0),
            &host(per),
            &want,
            1e-5,
            1e-5,
        );
        let want_gl: Vec<f64> = ld
            .iter()
            .map(|&v| (2.0 * f64::from(v)).exp() - 1.0)
            .collect();
        assert_close(
            "kl full d/dlog_diag",
            &host(l.grad(&grads).unwrap()),
            &want_gl,
            1e-5,
            1e-5,
        );
        assert_close(
            "kl full d/doff_diag",
            &host(o.grad(&grads).unwrap()),
            &f64s(&off),
            1e-6,
            1e-6,
        );
    }
    // the full KL at log_diag = ±30 (σ² = e^±60) stays finite too
    for v in [-30.0f32, 30.0] {
        let l = t2(&[v; 4], [1, 4], true);
        let per = kl_full(t2(&mean, [1, 4], false), l.clone(), None);
        let grads = per.clone().sum().backward();
        assert!(host(per)[0].is_finite(), "kl full at log_diag {v}");
        assert!(host(l.grad(&grads).unwrap()).iter().all(|g| g.is_finite()));
    }
}
