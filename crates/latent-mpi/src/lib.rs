//! # latent-mpi
//!
//! latent's data-parallel jobs over MPI. `mpirun -np N latent fit …` starts `N` processes;
//! each finds its rank in the launcher's environment ([`launch`]), joins the job
//! (`World::join`, feature `mpi`), and trains on its share of the rows through
//! [`latent_core::Collective`], which `World` implements over MPI's collectives
//! (`MPI_Allreduce`, `MPI_Bcast`).
//!
//! Without the `mpi` feature only [`launch`] is here: a build without MPI that finds itself
//! started as one of several ranks refuses to run, rather than letting `N` copies train
//! alone and race to write the same run directory.
//!
//! A rank that fails must end the whole job: if it returned normally, `MPI_Finalize` would
//! wait for the others, who wait in a collective for it — forever. `World::fail` prints the
//! error with the rank and calls `MPI_Abort`; `World::join` installs a panic hook doing the
//! same.

/// The job this process was started in by an MPI launcher, as its environment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// This process's rank.
    pub rank: usize,
    /// The number of ranks.
    pub size: usize,
}

/// The launcher's job, when this process was started by one (Open MPI's `mpirun`:
/// `OMPI_COMM_WORLD_SIZE` and `OMPI_COMM_WORLD_RANK`; MPICH's and Slurm's PMI: `PMI_SIZE`
/// and `PMI_RANK`); `None` for a process started on its own.
pub fn launch() -> Option<Launch> {
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    [
        ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
        ("PMI_SIZE", "PMI_RANK"),
    ]
    .iter()
    .find_map(|(size, rank)| {
        Some(Launch {
            size: var(size)?,
            rank: var(rank)?,
        })
    })
}

/// Whether this build can join an MPI job (the `mpi` feature).
pub const AVAILABLE: bool = cfg!(feature = "mpi");

#[cfg(feature = "mpi")]
mod world;
#[cfg(feature = "mpi")]
pub use world::World;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_started_alone_is_no_job() {
        // the test harness is not started by mpirun
        if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_none()
            && std::env::var_os("PMI_SIZE").is_none()
        {
            assert_eq!(launch(), None);
        }
    }
}
