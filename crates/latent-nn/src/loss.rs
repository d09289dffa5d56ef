//! Likelihoods and KL divergences, per example (summed over features or latent dimensions).
//! All are written in numerically stable forms.

use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

const HALF_LOG_2PI: f32 = 0.918_938_5;

/// The smallest log σ a learned Gaussian likelihood uses: σ ≥ e⁻⁶ ≈ 0.0025 (as the σ-VAE of
/// Rybkin et al., 2021). A feature that is (nearly) constant — a pixel that is always 0 —
/// would otherwise drive its σ to 0 and the loss to −∞; at the floor its term stops
/// falling (no gradient pushes log σ lower). The value is in the data's units after
/// preprocessing.
pub const LOG_SIGMA_FLOOR: f32 = -6.0;

/// Bernoulli negative log-likelihood from logits `l` and targets `x ∈ [0, 1]`, summed over
/// features: `−x log σ(l) − (1 − x) log σ(−l) = l·(1 − x) − log σ(l)`, with burn's stable
/// `log_sigmoid` (finite at any logit). Its gradient is `σ(l) − x` everywhere, also at
/// `l = 0`, where the form `max(l, 0) − l·x + log(1 + e^−|l|)` got `1 − x` from autodiff
/// (the subgradients of `max` and `|·|` at the kink).
///
/// # Shapes
/// - logits, x: `[B, D]`
/// - output: `[B]`
pub fn bernoulli_nll_logits(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let per = logits.clone() * (x.neg() + 1.0) - log_sigmoid(logits);
    per.sum_dim(1).squeeze_dim(1)
}

/// Gaussian negative log-likelihood with a fixed σ, summed over features:
/// `½((x − μ)/σ)² + log σ + ½ log 2π`.
///
/// # Shapes
/// - mean, x: `[B, D]`
/// - output: `[B]`
pub fn gaussian_nll_fixed(mean: Tensor<2>, x: Tensor<2>, sigma: f32) -> Tensor<1> {
    let [_, d] = x.dims();
    let sq = (x - mean).square().sum_dim(1).squeeze_dim(1);
    sq * (0.5 / (sigma * sigma)) + d as f32 * (sigma.ln() + HALF_LOG_2PI)
}

/// Gaussian negative log-likelihood with a learned log σ (`[D]` per feature or `[1]` shared,
/// bounded below by [`LOG_SIGMA_FLOOR`]), summed over features.
///
/// # Shapes
/// - mean, x: `[B, D]`; log_sigma: `[D]` or `[1]`
/// - output: `[B]`
pub fn gaussian_nll_learned(mean: Tensor<2>, x: Tensor<2>, log_sigma: Tensor<1>) -> Tensor<1> {
    let [_, d] = x.dims();
    let [s] = log_sigma.dims();
    let ls = log_sigma.clamp_min(LOG_SIGMA_FLOOR).reshape([1, s]);
    let inv_var = (ls.clone() * -2.0).exp();
    let per = (x - mean).square() * inv_var * 0.5 + ls;
    // With a shared σ, `[1, 1]` broadcasts over the features: log σ is counted D times.
    per.sum_dim(1).squeeze_dim(1) + d as f32 * HALF_LOG_2PI
}

/// Squared error summed over features.
///
/// # Shapes
/// - out, x: `[B, D]`
/// - output: `[B]`
pub fn squared_error(out: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    (out - x).square().sum_dim(1).squeeze_dim(1)
}

/// `KL(N(μ, diag(e^lv)) ‖ N(0, I)) = ½ Σ (e^lv + μ² − 1 − lv)`.
///
/// # Shapes
/// - mean, log_var: `[B, K]`
/// - output: `[B]`
pub fn kl_diagonal(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let per = log_var.clone().exp() + mean.square() - log_var - 1.0;
    per.sum_dim(1).squeeze_dim(1) * 0.5
}

/// `KL(N(μ, LLᵀ) ‖ N(0, I)) = ½ (‖L‖²_F + ‖μ‖² − K − 2 Σ log L_ii)` with
/// `L_ii = e^{log_diag_i}` and the strictly-lower entries `off_diag`.
///
/// # Shapes
/// - mean, log_diag: `[B, K]`; off_diag: `[B, K(K−1)/2]`
/// - output: `[B]`
pub fn kl_full(mean: Tensor<2>, log_diag: Tensor<2>, off_diag: Option<Tensor<2>>) -> Tensor<1> {
    let [_, k] = mean.dims();
    let per = (log_diag.clone() * 2.0).exp() + mean.square() - log_diag * 2.0;
    let mut total = per.sum_dim(1).squeeze_dim::<1>(1);
    if let Some(off) = off_diag {
        total = total + off.square().sum_dim(1).squeeze_dim(1);
    }
    (total - k as f32) * 0.5
}

/// The row and column of each strictly-lower entry, row-major: (1,0), (2,0), (2,1), (3,0) …
pub fn strict_lower_indices(k: usize) -> Vec<(usize, usize)> {
    (1..k).flat_map(|i| (0..i).map(move |j| (i, j))).collect()
}

fn selection(k: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let idx = strict_lower_indices(k);
    let m = idx.len();
    let mut cols = vec![0.0f32; k * m];
    let mut rows = vec![0.0f32; m * k];
    for (p, &(i, j)) in idx.iter().enumerate() {
        cols[j * m + p] = 1.0; // [K, M]: picks ε_j for entry p
        rows[p * k + i] = 1.0; // [M, K]: adds entry p into row i
    }
    (
        Tensor::from_data(TensorData::new(cols, [k, m]), device),
        Tensor::from_data(TensorData::new(rows, [m, k]), device),
    )
}

/// `(L_strict ε)` per row, where `L_strict` holds `off_diag` below the diagonal.
///
/// # Shapes
/// - off_diag: `[B, K(K−1)/2]`; eps: `[B, K]`
/// - output: `[B, K]`
pub fn strict_lower_matvec(off_diag: Tensor<2>, eps: Tensor<2>, k: usize) -> Tensor<2> {
    let (pick, scatter) = selection(k, &eps.device());
    (off_diag * eps.matmul(pick)).matmul(scatter)
}
