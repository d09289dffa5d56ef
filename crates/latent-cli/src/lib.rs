//! The `latent` command-line tool, as a library so that it can be tested in-process.
//!
//! Glue only: arguments are parsed ([`cli`]) into the `latent` library's own settings types,
//! one module per subcommand ([`cmd`]) makes one library call and writes its files and lines;
//! [`out`] checks and records output files, [`progress`] draws progress on a terminal.

/// `println!` that returns write errors (a closed pipe) instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod cli;
pub mod cmd;
pub mod out;
pub mod progress;

use std::process::ExitCode;

/// A mistake in the user's input or flags (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(pub String);

/// Exit code 1 for errors caused by the user's input, 2 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<latent::Error>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
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
        if let Some(e) = cause.downcast_ref::<latent::run::RunError>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
        if let Some(e) = cause.downcast_ref::<latent_core::Error>() {
            return if e.is_user_error() { 1 } else { 2 };
        }
    }
    2
}

/// A line on standard error; a standard error that cannot be written (`2>/dev/full`, a
/// closed pipe) loses the line, never the exit code (`eprintln!` would panic).
pub fn errln(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A note from the library (a label column found by name…) on standard error, each distinct
/// note once per process.
fn note(message: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if let Ok(mut seen) = SEEN.lock() {
        if seen.iter().any(|m| m == message) {
            return;
        }
        seen.push(message.to_string());
    }
    errln(&format!("note: {message}"));
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

/// The flags of subcommand `name` given on the command line (not defaults), by id.
fn given_flags(matches: &clap::ArgMatches, name: &str) -> Vec<String> {
    let Some(sub) = matches.subcommand_matches(name) else {
        return Vec::new();
    };
    // the subcommand's own arguments: a group (the derive's `FitArgs`) is reported as given
    // too, and is not one
    use clap::CommandFactory;
    let command = cli::Cli::command();
    let Some(args) = command.find_subcommand(name) else {
        return Vec::new();
    };
    let is_arg = |id: &str| args.get_arguments().any(|a| a.get_id() == id);
    sub.ids()
        .map(clap::Id::as_str)
        .filter(|id| is_arg(id))
        .filter(|id| sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
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
    use clap::{CommandFactory, FromArgMatches};
    let parsed = cli::Cli::command()
        .try_get_matches_from(&args)
        .and_then(|m| cli::Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    let limit = match cli.max_memory {
        Some(bytes) => Some(Ok(bytes)),
        // an empty variable is unset
        None => std::env::var(latent_core::memory::ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                latent_core::memory::parse_size(&v)
                    .map_err(|e| format!("{}={v}: {e}", latent_core::memory::ENV))
            }),
    };
    match limit {
        Some(Ok(bytes)) => latent_core::memory::set_limit(bytes),
        Some(Err(e)) => {
            errln(&format!("error: {e}"));
            return ExitCode::from(1);
        }
        None => {}
    }
    latent_data::notes::set_sink(note);
    if let Some(job) = latent_mpi::launch().filter(|j| j.size > 1) {
        return run_job(&cli, &matches, command_line, job);
    }
    let result = match &cli.command {
        cli::Command::Fit(a) => cmd::fit::run(
            a,
            command_line,
            &given_flags(&matches, "fit"),
            &latent_core::Single,
        ),
        cli::Command::Encode(a) => cmd::encode::run(a),
        cli::Command::Decode(a) => cmd::decode::run(a),
        cli::Command::Reconstruct(a) => cmd::reconstruct::run(a),
        cli::Command::Info(a) => cmd::info::run(a),
        cli::Command::Eval(a) => cmd::eval::run(a),
        cli::Command::Sample(a) => cmd::sample::run(a),
        cli::Command::Interpolate(a) => cmd::interpolate::run(a),
        cli::Command::Traverse(a) => cmd::traverse::run(a),
        cli::Command::Map(a) => cmd::map::run(a),
        cli::Command::Explore(a) => cmd::explore::run(a),
        cli::Command::Compare(a) => cmd::compare::run(a, &command_line),
        cli::Command::Demo(a) => cmd::demo::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            errln(&render_error(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The command as one rank of an MPI job (`mpirun -np N latent fit …`): only `fit` runs so,
/// and only in a build with the `mpi` feature; anything else is refused on every rank before
/// anything is read or written, so that `N` copies never run alone and race for the same
/// output.
fn run_job(
    cli: &cli::Cli,
    matches: &clap::ArgMatches,
    command_line: Vec<String>,
    job: latent_mpi::Launch,
) -> ExitCode {
    let refuse = |why: String| {
        if job.rank == 0 {
            errln(&format!("error: {why}"));
        }
        ExitCode::from(1)
    };
    // notes (what latent decided on its own about the data) come from every rank alike:
    // rank 0 prints them
    if job.rank != 0 {
        latent_data::notes::set_sink(|_| {});
    }
    let cli::Command::Fit(args) = &cli.command else {
        return refuse(format!(
            "started as rank {} of {} by an MPI launcher: only `latent fit` runs as a job of \
             several processes; run the other commands as one process",
            job.rank, job.size
        ));
    };
    join_job(args, &given_flags(matches, "fit"), command_line, refuse)
}

#[cfg(feature = "mpi")]
fn join_job(
    args: &cli::FitArgs,
    given: &[String],
    command_line: Vec<String>,
    _refuse: impl Fn(String) -> ExitCode,
) -> ExitCode {
    let world = match latent_mpi::World::join() {
        Ok(w) => w,
        Err(e) => {
            errln(&format!("error: joining the MPI job: {e}"));
            return ExitCode::from(1);
        }
    };
    match cmd::fit::run(args, command_line, given, &world) {
        Ok(()) => ExitCode::SUCCESS,
        // a rank that fails ends the whole job (the others would wait for it forever)
        Err(err) => world.fail(&render_error(&err), i32::from(exit_code(&err))),
    }
}

#[cfg(not(feature = "mpi"))]
fn join_job(
    _args: &cli::FitArgs,
    _given: &[String],
    _command_line: Vec<String>,
    refuse: impl Fn(String) -> ExitCode,
) -> ExitCode {
    refuse(
        "started by an MPI launcher as one of several ranks, but this latent was built \
         without MPI: build it with `cargo build --release --features mpi` (Open MPI: \
         scripts/setup-mpi.sh), or run it as one process"
            .into(),
    )
}
