//! The `latent` binary: see `latent --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    latent_cli::run_main(std::env::args_os())
}
