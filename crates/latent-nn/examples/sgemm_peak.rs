//! The sgemm rate faer (the product the fused kernels use) reaches on this machine: a
//! 4096 × 4096 × 4096 f32 product on N threads (argument 1, default 2), best of five after two
//! warm-up runs. Prints one JSON line; `bench/run` takes the best of this, NumPy's and
//! PyTorch's as the machine's measured peak.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
        .max(1);
    let n = 4096;
    let a = Mat::<f32>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 17) as f32 / 17.0 - 0.5);
    let b = Mat::<f32>::from_fn(n, n, |i, j| ((i * 5 + j * 11) % 13) as f32 / 13.0 - 0.5);
    let mut c = Mat::<f32>::zeros(n, n);
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    let mut best = 0.0f64;
    for run in 0..7 {
        let t0 = Instant::now();
        matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par);
        let secs = t0.elapsed().as_secs_f64();
        if run >= 2 {
            best = best.max(2.0 * (n as f64).powi(3) / secs / 1e9);
        }
    }
    // keep the product observable so that it is not optimised away
    let probe = c[(n / 2, n / 3)];
    println!(
        "{{\"library\": \"faer\", \"threads\": {threads}, \"sgemm_gflops\": {best:.1}, \"probe\": {probe}}}"
    );
}
