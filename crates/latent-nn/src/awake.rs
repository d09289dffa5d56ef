//! Keeping rayon's workers awake through a computation of many short parallel phases.
//!
//! A training step is a chain of products, each split among the threads, with short
//! single-threaded passes between them. Between two products rayon's idle workers go to
//! sleep, and the next product waits for the kernel to wake them: on the 2-vCPU hosts
//! measured, 16 sleeps a step of the reference VAE. [`awake`] runs a computation as one job
//! on the pool while the pool's other workers poll for its work instead of sleeping.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// Whether this thread runs a computation of [`awake`], or watches for one's work.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// `f` as one job on rayon's pool, the pool's other workers looking for its work until it
/// returns (or unwinds). Called inside such a computation (a training step inside the
/// training loop's batch), or by a watcher running stolen work, `f` simply runs: the
/// enclosing computation's watchers are already looking.
pub(crate) fn awake<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if BUSY.get() {
        return f();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        for _ in 1..rayon::current_num_threads() {
            s.spawn(|_| watch(&done));
        }
        // the watchers stop when `f` returns or unwinds: the scope waits for them
        let _finish = Finish {
            done: &done,
            was_busy: BUSY.replace(true),
        };
        f()
    })
}

/// Sets `done` and restores this thread's [`BUSY`] when dropped.
struct Finish<'a> {
    done: &'a AtomicBool,
    was_busy: bool,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        BUSY.set(self.was_busy);
        self.done.store(true, Ordering::Release);
    }
}

/// Runs the pool's pending work until `done`. A thread that runs the computation itself
/// (it may pick a watcher up while it waits for a block), or watches already lower on its
/// stack, returns at once: a watcher nested there would wait for work that only the thread
/// it blocks can finish.
fn watch(done: &AtomicBool) {
    if BUSY.get() {
        return;
    }
    BUSY.set(true);
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            // nothing to run: let the system run another thread, if one waits for this core
            std::thread::yield_now();
        }
    }
    BUSY.set(false);
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use rayon::prelude::*;

    use super::*;

    /// `f`'s value, or a failure (not a hung test) when it does not return within a minute.
    fn within_a_minute<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("finished within a minute: no deadlock")
    }

    fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
            .install(f)
    }

    /// Many short parallel phases, with single-threaded work between them.
    fn phases() -> u64 {
        (0..200u64)
            .map(|p| {
                let s: u64 = (0..2_000u64).into_par_iter().map(|i| i * p % 7).sum();
                s + (0..500u64).map(|i| i ^ p).sum::<u64>() % 3
            })
            .sum()
    }

    #[test]
    fn returns_the_computation_on_any_pool_also_nested_and_concurrent() {
        let want = phases();
        for threads in [1, 2, 3, 8] {
            let got = within_a_minute(move || {
                on_threads(threads, || {
                    let plain = awake(phases);
                    // nested: the inner computation runs on a thread that is already busy
                    let nested = awake(|| awake(phases) + awake(phases));
                    // several computations at once on one pool (data-parallel ranks)
                    let concurrent: Vec<u64> =
                        (0..4).into_par_iter().map(|_| awake(phases)).collect();
                    (plain, nested, concurrent)
                })
            });
            assert_eq!(got, (want, 2 * want, vec![want; 4]), "{threads} threads");
        }
    }

    #[test]
    fn a_panic_unwinds_out_and_releases_the_workers() {
        let (caught, after) = within_a_minute(|| {
            on_threads(3, || {
                let caught = std::panic::catch_unwind(|| {
                    awake(|| {
                        let _ = phases();
                        panic!("inside the computation");
                    })
                });
                (caught.is_err(), awake(phases))
            })
        });
        assert!(caught);
        assert_eq!(after, phases());
    }
}
