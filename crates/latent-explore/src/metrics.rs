//! Measures of a latent space that need only the traits.

use latent_core::Posterior;
use ndarray::{Array1, ArrayView2, Axis};

/// Burda et al.'s activity of each latent dimension: the variance over the data of the
/// posterior mean (or code), `Cov_x(E_q[z_d])`. A dimension is *active* when it exceeds 0.01.
pub fn activity(means: ArrayView2<'_, f32>) -> Array1<f64> {
    let n = means.nrows().max(2) as f64;
    means
        .axis_iter(Axis(1))
        .map(|col| {
            let m = col.iter().map(|&v| f64::from(v)).sum::<f64>() / col.len().max(1) as f64;
            col.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / (n - 1.0)
        })
        .collect()
}

/// The number of active units: dimensions whose [`activity`] exceeds `threshold` (0.01).
pub fn active_units(means: ArrayView2<'_, f32>, threshold: f64) -> usize {
    activity(means).iter().filter(|&&a| a > threshold).count()
}

/// The KL divergence of each latent dimension's posterior marginal `q(z_d|x) = N(μ_d, Σ_dd)`
/// to `N(0, 1)`, averaged over the rows, in nats. For a diagonal posterior the entries add up
/// to the total KL; for a full covariance they ignore the correlations (the total KL is
/// larger by the total correlation of q).
pub fn kl_per_dim(posterior: &Posterior) -> Array1<f64> {
    let mean = posterior.mean();
    let (n, k) = mean.dim();
    let mut out = Array1::zeros(k);
    for i in 0..n {
        for d in 0..k {
            let var = match posterior {
                Posterior::Diagonal { log_var, .. } => f64::from(log_var[[i, d]]).exp(),
                Posterior::Full { scale_tril, .. } => (0..=d)
                    .map(|c| f64::from(scale_tril[[i, d, c]]).powi(2))
                    .sum(),
            };
            let mu = f64::from(mean[[i, d]]);
            out[d] += 0.5 * (var + mu * mu - 1.0 - var.ln());
        }
    }
    out / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn activity_and_active_units() {
        let m = array![[0.0f32, 1.0, 5.0], [0.0, -1.0, 5.01], [0.0, 1.0, 4.99]];
        let a = activity(m.view());
        assert_eq!(a[0], 0.0);
        assert!((a[1] - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(active_units(m.view(), 0.01), 1);
    }

    #[test]
    fn kl_per_dim_sums_to_the_diagonal_kl() {
        let post = Posterior::Diagonal {
            mean: array![[0.3f32, -1.0], [1.5, 0.2]],
            log_var: array![[-0.5f32, 0.1], [0.0, -2.0]],
        };
        let per = kl_per_dim(&post);
        let total = post.kl_to_standard_normal().mean().unwrap();
        assert!(
            (per.sum() - f64::from(total)).abs() < 1e-5,
            "{per} vs {total}"
        );
        assert!(per.iter().all(|&v| v > 0.0));
    }
}
