//! `latent explore`: open the runs and the data (`latent::explore::Session`), serve the page
//! (`latent-serve`) until Ctrl-C.

use anyhow::Result;
use latent::explore::{ExploreSpec, Session};

use crate::cli::ExploreArgs;
use std::path::PathBuf;

use crate::out::{self, user};

/// `latent explore`.
pub fn run(args: &ExploreArgs) -> Result<()> {
    if args.run.len() > 2 {
        return Err(user(format!(
            "--run was given {} times: the explorer shows one run or two side by side",
            args.run.len()
        )));
    }
    let spec = ExploreSpec {
        runs: args.run.clone(),
        data: args.data.clone(),
        points: args.points,
        seed: args.seed,
        dims: args.dims,
    };
    if let Some(path) = &args.export {
        if !path
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".html")
        {
            return Err(user(format!(
                "{}: the exported page is an .html file",
                path.display()
            )));
        }
        let mut inputs: Vec<&std::path::Path> = args.run.iter().map(PathBuf::as_path).collect();
        inputs.push(std::path::Path::new(&args.data.data));
        out::prepare(path, args.force, &inputs)?;
        let session = Session::open(&spec)?;
        let page = latent_serve::export(&session)?;
        latent_core::fsutil::atomic_write_bytes(path, page.as_bytes())?;
        out::record(path)?;
        outln!(
            "wrote {} ({:.1} MB): {} rows of {}, decoding in the page",
            path.display(),
            page.len() as f64 / 1e6,
            session.data.x.nrows(),
            session.data.name
        );
        return Ok(());
    }
    let session = Session::open(&spec)?;
    let mut options = latent_serve::Options {
        port: args.port,
        ..latent_serve::Options::default()
    };
    if let Some(host) = args.host {
        if !host.is_loopback() {
            crate::errln(&format!(
                "warning: listening on {host}: other machines that reach this address can open the \
                 explorer with its token (the server reads your runs and data; it writes nothing)"
            ));
        }
        options.host = host;
    }
    let summary: Vec<String> = session
        .runs
        .iter()
        .map(|r| {
            format!(
                "{} ({}, K = {})",
                r.name,
                r.model.reduction().method(),
                r.latent_dim()
            )
        })
        .collect();
    let mapped = format!(
        "{} of {} rows of {}",
        session.data.x.nrows(),
        session.data.total,
        session.data.name
    );
    let server = latent_serve::Server::bind(session, &options).map_err(|e| user(e.to_string()))?;
    let url = server.url();
    outln!("exploring {} on {mapped}", summary.join(" and "));
    outln!("open {url}");
    outln!("(Ctrl-C stops the server)");
    if args.open {
        open_browser(&url);
    }
    server.serve_until_interrupted()?;
    Ok(())
}

/// Ask the desktop to open `url`; say so when it cannot (the address is printed anyway).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => crate::errln(&format!(
            "note: could not open a browser ({opener}: {e}); open the address above yourself"
        )),
    }
}
