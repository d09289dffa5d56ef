//! The `latent` binary: see `latent --help`.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: training allocates and frees tensors of the
/// same few sizes thousands of times per epoch, and glibc's malloc returns the large ones to
/// the kernel only to page-fault them back in (measured in bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    latent_cli::run_main(std::env::args_os())
}
