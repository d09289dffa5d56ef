//! The processes of a data-parallel job and the collective operations between them.
//!
//! A fit can run as `N` cooperating processes (ranks), each holding a share of the rows: the
//! training loop sums the ranks' gradients before every optimizer step, PCA sums their
//! scatter matrices. What the code needs of such a job is this trait, [`Collective`]; it names
//! no transport. [`Single`] is the one-process job (every operation is the identity); the
//! `latent-mpi` crate implements it over MPI (Open MPI through rsmpi), which is how
//! `mpirun -np N latent fit …` runs.
//!
//! Every rank must call the same operations in the same order with buffers of the same
//! length; the results are the same on every rank (MPI's reductions of a commutative
//! operation are, in practice and in Open MPI's algorithms, bit-identical across ranks — the
//! training loop checks it at every checkpoint).

use std::ops::Range;

use crate::Result;

/// The ranks of a job and their collective operations. See the [module docs](self).
pub trait Collective {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn size(&self) -> usize;

    /// The element-wise sum over the ranks of `values`, in place on every rank.
    ///
    /// # Errors
    /// A transport failure.
    fn sum_f32(&self, values: &mut [f32]) -> Result<()>;

    /// The element-wise sum over the ranks of `values`, in place on every rank.
    ///
    /// # Errors
    /// A transport failure.
    fn sum_f64(&self, values: &mut [f64]) -> Result<()>;

    /// The element-wise maximum over the ranks of `values`, in place on every rank.
    ///
    /// # Errors
    /// A transport failure.
    fn max_f64(&self, values: &mut [f64]) -> Result<()>;

    /// Rank 0's `bytes` on every rank (the others' contents and lengths are replaced).
    ///
    /// # Errors
    /// A transport failure.
    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()>;

    /// Whether this rank writes the job's files (rank 0).
    fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// The element-wise minimum over the ranks of `values`, in place on every rank.
    ///
    /// # Errors
    /// A transport failure.
    fn min_f64(&self, values: &mut [f64]) -> Result<()> {
        values.iter_mut().for_each(|v| *v = -*v);
        self.max_f64(values)?;
        values.iter_mut().for_each(|v| *v = -*v);
        Ok(())
    }

    /// Whether `value` holds on every rank.
    ///
    /// # Errors
    /// A transport failure.
    fn all(&self, value: bool) -> Result<bool> {
        let mut v = [if value { 0.0 } else { 1.0 }];
        self.max_f64(&mut v)?;
        Ok(v[0] == 0.0)
    }

    /// The rows of `0..n` this rank holds: a contiguous share, the first `n mod size` ranks
    /// holding one more.
    fn share(&self, n: usize) -> Range<usize> {
        share(n, self.size(), self.rank())
    }
}

/// The rows of `0..n` that rank `rank` of `size` holds (see [`Collective::share`]).
pub fn share(n: usize, size: usize, rank: usize) -> Range<usize> {
    let size = size.max(1);
    let (base, extra) = (n / size, n % size);
    let start = rank * base + rank.min(extra);
    let len = base + usize::from(rank < extra);
    start.min(n)..(start + len).min(n)
}

/// A job of one process: every collective operation leaves its buffer as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&self, _values: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn sum_f64(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn max_f64(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }
    fn broadcast(&self, _bytes: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
}

/// The ranks of a job as threads of one process ([`LocalGroup::new`] gives one handle per
/// rank, each moved to its thread): the collective operations of MPI over shared memory,
/// summing in rank order. For tests of code written against [`Collective`], and for checking
/// a job's equivalence to one process without an MPI installation.
#[derive(Debug, Clone)]
pub struct LocalGroup {
    rank: usize,
    shared: std::sync::Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    barrier: Barrier,
    slots: std::sync::Mutex<Vec<Vec<f64>>>,
    bytes: std::sync::Mutex<Vec<u8>>,
}

impl LocalGroup {
    /// Handles for the `size` ranks of a group (`size ≥ 1`).
    pub fn new(size: usize) -> Vec<LocalGroup> {
        let size = size.max(1);
        let shared = std::sync::Arc::new(Shared {
            size,
            barrier: Barrier {
                state: std::sync::Mutex::new(BarrierState::default()),
                turn: std::sync::Condvar::new(),
                size,
            },
            slots: std::sync::Mutex::new(vec![Vec::new(); size]),
            bytes: std::sync::Mutex::new(Vec::new()),
        });
        (0..size)
            .map(|rank| LocalGroup {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    fn wait(&self) -> Result<()> {
        self.shared.barrier.wait()
    }

    fn poisoned() -> crate::Error {
        crate::Error::Collective("a rank (thread) of the group panicked".into())
    }

    /// Every rank's `values`, combined element-wise in rank order by `op`.
    fn reduce(&self, values: &mut [f64], op: fn(f64, f64) -> f64) -> Result<()> {
        {
            let mut slots = self.shared.slots.lock().map_err(|_| Self::poisoned())?;
            slots[self.rank] = values.to_vec();
        }
        self.wait()?;
        {
            let slots = self.shared.slots.lock().map_err(|_| Self::poisoned())?;
            if slots.iter().any(|s| s.len() != values.len()) {
                return Err(crate::Error::Collective(
                    "the ranks gave buffers of different lengths".into(),
                ));
            }
            for (i, v) in values.iter_mut().enumerate() {
                *v = slots[1..].iter().fold(slots[0][i], |acc, s| op(acc, s[i]));
            }
        }
        self.wait()?;
        Ok(())
    }
}

/// A barrier that a rank leaving by a panic breaks: the others' waits fail instead of
/// hanging (what MPI's abort does for a job of processes).
#[derive(Debug)]
struct Barrier {
    state: std::sync::Mutex<BarrierState>,
    turn: std::sync::Condvar,
    size: usize,
}

#[derive(Debug, Default)]
struct BarrierState {
    waiting: usize,
    generation: u64,
    broken: bool,
}

impl Barrier {
    fn wait(&self) -> Result<()> {
        let broken =
            || crate::Error::Collective("a rank of the group stopped (it panicked)".into());
        let mut s = self.state.lock().map_err(|_| broken())?;
        if s.broken {
            return Err(broken());
        }
        s.waiting += 1;
        if s.waiting == self.size {
            s.waiting = 0;
            s.generation += 1;
            self.turn.notify_all();
            return Ok(());
        }
        let generation = s.generation;
        while s.generation == generation && !s.broken {
            s = self.turn.wait(s).map_err(|_| broken())?;
        }
        if s.broken { Err(broken()) } else { Ok(()) }
    }

    fn breaks(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.broken = true;
        }
        self.turn.notify_all();
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.shared.barrier.breaks();
        }
    }
}

impl Collective for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sum_f32(&self, values: &mut [f32]) -> Result<()> {
        // summed in f32, in rank order, as an f32 all-reduce does
        let mut wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        self.reduce(&mut wide, |a, b| f64::from(a as f32 + b as f32))?;
        values.iter_mut().zip(wide).for_each(|(v, w)| *v = w as f32);
        Ok(())
    }
    fn sum_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce(values, |a, b| a + b)
    }
    fn max_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce(values, f64::max)
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()> {
        if self.rank == 0 {
            *self.shared.bytes.lock().map_err(|_| Self::poisoned())? = bytes.clone();
        }
        self.wait()?;
        if self.rank != 0 {
            *bytes = self
                .shared
                .bytes
                .lock()
                .map_err(|_| Self::poisoned())?
                .clone();
        }
        self.wait()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_rows_once_in_order() {
        for n in [0usize, 1, 2, 5, 7, 100, 1001] {
            for size in 1..=9 {
                let mut next = 0;
                for rank in 0..size {
                    let r = share(n, size, rank);
                    assert_eq!(r.start, next, "n {n} size {size} rank {rank}");
                    assert!(r.len() == n / size || r.len() == n / size + 1);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
    }

    #[test]
    fn a_local_group_sums_maxes_and_broadcasts() {
        let handles = LocalGroup::new(3);
        let results: Vec<_> = std::thread::scope(|scope| {
            let jobs: Vec<_> = handles
                .into_iter()
                .map(|g| {
                    scope.spawn(move || {
                        let r = g.rank() as f32;
                        let mut a = [r, 1.0];
                        g.sum_f32(&mut a).unwrap_or_else(|e| panic!("{e}"));
                        let mut m = [f64::from(r), -f64::from(r)];
                        g.max_f64(&mut m).unwrap_or_else(|e| panic!("{e}"));
                        let mut b = if g.rank() == 0 {
                            vec![7u8, 8]
                        } else {
                            Vec::new()
                        };
                        g.broadcast(&mut b).unwrap_or_else(|e| panic!("{e}"));
                        let all = g.all(g.rank() != 1).unwrap_or(true);
                        (a, m, b, all)
                    })
                })
                .collect();
            jobs.into_iter().map(|j| j.join().ok()).collect()
        });
        for r in results {
            let (a, m, b, all) = r.unwrap_or_else(|| panic!("a rank panicked"));
            assert_eq!(a, [3.0, 3.0]);
            assert_eq!(m, [2.0, 0.0]);
            assert_eq!(b, vec![7, 8]);
            assert!(!all);
        }
    }

    #[test]
    fn one_process_is_the_identity() {
        let s = Single;
        let mut v = [1.0f32, -2.0];
        s.sum_f32(&mut v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v, [1.0, -2.0]);
        let mut m = [3.0f64, -4.0];
        s.min_f64(&mut m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m, [3.0, -4.0]);
        assert!(s.all(true).unwrap_or(false));
        assert!(!s.all(false).unwrap_or(true));
        assert_eq!(s.share(10), 0..10);
        assert!(s.is_root());
    }
}
