//! The `latent` command-line tool, as a library so that it can be tested in-process.
//!
//! Glue only: arguments are parsed ([`cli`]), turned into validated library settings and
//! passed to the library crates; results are written as files ([`run`] directories, NPY, CSV,
//! PNG).

/// `println!` that returns write errors (a closed pipe) instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod cli;
pub mod commands;
pub mod compare;
pub mod evaluate;
pub mod explore_cmd;
pub mod progress;
pub mod report;
pub mod run;
pub mod train_cmd;

use std::process::ExitCode;

use clap::Parser;

/// A mistake in the user's input or flags (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Exit code 1 for errors caused by the user's input, 2 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UserError>() || cause.is::<clap::Error>() {
            return 1;
        }
        if let Some(e) = cause.downcast_ref::<latent_data::DataError>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
        if let Some(e) = cause.downcast_ref::<latent_nn::NnError>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
        if let Some(e) = cause.downcast_ref::<latent_report::ReportError>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
        if let Some(e) = cause.downcast_ref::<run::RunError>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
        if let Some(e) = cause.downcast_ref::<latent_core::Error>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
    }
    2
}

/// A closed standard output (`latent info | head`) is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, one line each, skipping causes already quoted by the line
/// before.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    let mut last = err.to_string();
    for cause in err.chain().skip(1) {
        let msg = cause.to_string();
        if !last.contains(&msg) {
            out.push_str(&format!("\n  caused by: {msg}"));
        }
        last = msg;
    }
    out
}

/// Run the command line `args` (including the program name); returns the exit code.
pub fn run_main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let command_line: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    let result = match &cli.command {
        cli::Command::Fit(a) => commands::fit(a, command_line),
        cli::Command::Encode(a) => commands::encode(a),
        cli::Command::Decode(a) => commands::decode(a),
        cli::Command::Reconstruct(a) => commands::reconstruct(a),
        cli::Command::Info(a) => commands::info(a),
        cli::Command::Eval(a) => commands::eval(a),
        cli::Command::Sample(a) => explore_cmd::sample(a),
        cli::Command::Interpolate(a) => explore_cmd::interpolate(a),
        cli::Command::Traverse(a) => explore_cmd::traverse(a),
        cli::Command::Map(a) => explore_cmd::map(a),
        cli::Command::Compare(a) => compare::compare(a),
        cli::Command::Demo(a) => commands::demo(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", render_error(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}
