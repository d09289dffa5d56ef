//! The all-reduce of a data-parallel step, alone: how long [`World`]'s `sum_f32` (the
//! gradient exchange of `latent fit` under `mpirun`) takes for a given number of floats.
//!
//! ```text
//! mpirun -np 2 target/release/examples/allreduce [FLOATS ...]
//! ```
//!
//! For each size, every rank calls `sum_f32` a number of times (a few warm-up calls first);
//! a call's time is the slowest rank's, and the median and the fastest are kept. Rank 0
//! prints one JSON object per size. `bench/mpi_scaling.py` fits latency and bandwidth to them.
//! Built only with the `mpi` feature (`scripts/setup-mpi.sh` installs Open MPI).

use latent_core::Collective;
use latent_mpi::World;
use std::time::Instant;

fn main() {
    let world = match World::join() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| world.fail(&format!("not a number of floats: {a:?}"), 2))
        })
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1, 1_000, 10_000, 100_000, 1_000_000, 4_000_000]
    } else {
        sizes
    };
    for n in sizes {
        let mut values: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        // about 0.5 GB moved per size, between 20 and 2,000 calls
        let calls = (500_000_000 / (4 * n.max(1))).clamp(20, 2_000);
        let mut times = Vec::with_capacity(calls);
        for call in 0..calls + 5 {
            // line the ranks up first, so a call's time is the exchange, not a wait
            let mut line_up = [0.0f64];
            if let Err(e) = world.sum_f64(&mut line_up) {
                world.fail(&e.to_string(), 1)
            }
            let t = Instant::now();
            if let Err(e) = world.sum_f32(&mut values) {
                world.fail(&e.to_string(), 1)
            }
            let mut slowest = [t.elapsed().as_secs_f64()];
            if let Err(e) = world.max_f64(&mut slowest) {
                world.fail(&e.to_string(), 1)
            }
            if call >= 5 {
                times.push(slowest[0]);
            }
            // keep the values small: they are summed on every call
            values.iter_mut().for_each(|v| *v = (*v).min(1.0));
        }
        times.sort_by(f64::total_cmp);
        if world.rank() == 0 {
            println!(
                "{{\"floats\": {n}, \"bytes\": {}, \"ranks\": {}, \"calls\": {calls}, \
                 \"median_seconds\": {:.9}, \"min_seconds\": {:.9}}}",
                4 * n,
                world.size(),
                times[times.len() / 2],
                times[0]
            );
        }
    }
}
