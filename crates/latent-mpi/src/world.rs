//! [`World`]: [`Collective`] over MPI's world communicator.

use latent_core::{Collective, Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// Elements per MPI call (MPI counts are `i32`).
const CHUNK: usize = 1 << 28;

/// This process's membership of an MPI job: the world communicator. Dropping it finalizes
/// MPI (every rank must get there; a failing rank calls [`World::fail`] instead).
pub struct World {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    /// The receive buffer of `sum_f32`, kept between calls: a fresh one each time (the
    /// size of a network's gradient) measured 3× slower all-reduces after smaller ones.
    scratch: std::cell::RefCell<Vec<f32>>,
    // last: MPI_Finalize runs when it drops
    _universe: Universe,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl World {
    /// Join the job (`MPI_Init`; a process started without a launcher is a job of one), and
    /// make a panic on this rank abort the whole job, naming the rank.
    ///
    /// # Errors
    /// [`Error::Collective`] when MPI was already initialized.
    pub fn join() -> Result<World> {
        let universe = mpi::initialize()
            .ok_or_else(|| Error::Collective("MPI was already initialized".into()))?;
        let world = universe.world();
        let (rank, size) = (world.rank().max(0) as usize, world.size().max(1) as usize);
        if size > 1 {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                previous(info);
                eprintln!(
                    "latent: rank {rank} of {size} panicked; ending the job (the last \
                     checkpoint is kept: resume with `latent fit --resume`)"
                );
                SimpleCommunicator::world().abort(70)
            }));
        }
        Ok(World {
            world,
            rank,
            size,
            scratch: std::cell::RefCell::new(Vec::new()),
            _universe: universe,
        })
    }

    /// End the whole job because this rank failed: the message, naming the rank, on
    /// standard error, then `MPI_Abort` with `code` (the launcher stops every rank). A job
    /// of one process just exits with `code`.
    pub fn fail(&self, message: &str, code: i32) -> ! {
        if self.size > 1 {
            eprintln!("error (rank {} of {}): {message}", self.rank, self.size);
            self.world.abort(code)
        } else {
            eprintln!("error: {message}");
            std::process::exit(code)
        }
    }
}

impl Collective for World {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn sum_f32(&self, values: &mut [f32]) -> Result<()> {
        if self.size > 1 {
            let mut out = self.scratch.borrow_mut();
            out.resize(values.len().min(CHUNK), 0.0);
            for part in values.chunks_mut(CHUNK) {
                let out = &mut out[..part.len()];
                self.world
                    .all_reduce_into(&*part, out, SystemOperation::sum());
                part.copy_from_slice(out);
            }
        }
        Ok(())
    }

    fn sum_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce_f64(values, SystemOperation::sum())
    }

    fn max_f64(&self, values: &mut [f64]) -> Result<()> {
        self.reduce_f64(values, SystemOperation::max())
    }

    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()> {
        if self.size == 1 {
            return Ok(());
        }
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        let len = usize::try_from(len)
            .map_err(|_| Error::Collective(format!("a broadcast of {len} bytes")))?;
        bytes.resize(len, 0);
        for part in bytes.chunks_mut(CHUNK) {
            root.broadcast_into(part);
        }
        Ok(())
    }
}

impl World {
    fn reduce_f64(&self, values: &mut [f64], op: SystemOperation) -> Result<()> {
        if self.size > 1 {
            let mut out = vec![0.0f64; values.len().min(CHUNK)];
            for part in values.chunks_mut(CHUNK) {
                let out = &mut out[..part.len()];
                self.world.all_reduce_into(&*part, out, op);
                part.copy_from_slice(out);
            }
        }
        Ok(())
    }
}
