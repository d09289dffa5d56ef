//! What every command shares: user errors, output files (checked before anything is read,
//! recorded once written), comma-separated lists.

use std::path::Path;

use anyhow::Result;

use crate::UserError;

/// A mistake in the user's input (exit code 1).
pub fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// A comma-separated list of `T` given to `flag`; `what` names one item in the error
/// (`--hidden 400,x: `x` is not a layer width`).
pub fn parse_list<T: std::str::FromStr>(s: &str, flag: &str, what: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<T>()
                .map_err(|_| user(format!("{flag} {s}: `{p}` is not {what}")))
        })
        .collect()
}

/// Hidden widths: a list, or `none` / empty for none.
pub fn parse_hidden(s: &str, flag: &str) -> Result<Vec<usize>> {
    if s.trim().is_empty() || s == "none" {
        return Ok(Vec::new());
    }
    parse_list(s, flag, "a layer width")
}

/// The kinds of file a command writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutKind {
    /// NumPy array.
    Npy,
    /// Comma-separated values.
    Csv,
    /// An image.
    Png,
}

/// The kind of `path` by its extension, among `allowed`.
pub fn out_kind(path: &Path, allowed: &[OutKind]) -> Result<OutKind> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let kind = if name.ends_with(".npy") {
        Some(OutKind::Npy)
    } else if name.ends_with(".csv") {
        Some(OutKind::Csv)
    } else if name.ends_with(".png") {
        Some(OutKind::Png)
    } else {
        None
    };
    match kind {
        Some(k) if allowed.contains(&k) => Ok(k),
        _ => {
            let names: Vec<&str> = allowed
                .iter()
                .map(|k| match k {
                    OutKind::Npy => ".npy",
                    OutKind::Csv => ".csv",
                    OutKind::Png => ".png",
                })
                .collect();
            Err(user(format!(
                "{}: unsupported output type (expected {})",
                path.display(),
                names.join(" or ")
            )))
        }
    }
}

/// Check that the file output `path` may be written (new, or with `force` a file latent
/// wrote that is none of `inputs`) and create its directory. Once written, the output is
/// recorded with [`record`].
pub fn prepare(path: &Path, force: bool, inputs: &[&Path]) -> Result<()> {
    latent_core::output::check_file(path, force, inputs)?;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: cannot create directory: {e}", parent.display()))?;
    }
    Ok(())
}

/// The inputs of a command reading run `run` and data `data`.
pub fn inputs<'a>(run: &'a Path, data: &'a latent::DataSource) -> [&'a Path; 2] {
    [run, Path::new(&data.data)]
}

/// Record the file output `path`, just written, as latent's (a later `--force` may replace
/// it).
pub fn record(path: &Path) -> Result<()> {
    Ok(latent_core::output::record_file(path)?)
}

/// The table format of an output kind (`None` for a picture).
pub fn table(kind: OutKind) -> Option<latent::rows::Table> {
    match kind {
        OutKind::Npy => Some(latent::rows::Table::Npy),
        OutKind::Csv => Some(latent::rows::Table::Csv),
        OutKind::Png => None,
    }
}

/// Refuse a picture of data that are not images before any work is done (the message says to
/// write .csv or .npy); the image layout otherwise.
pub fn image_shape(
    kind: OutKind,
    (config, run_dir): (&latent::RunConfig, &Path),
) -> Result<Option<latent_core::ImageShape>> {
    match kind {
        OutKind::Png => Ok(Some(config.image_shape(run_dir)?)),
        _ => Ok(None),
    }
}

/// Write decoded rows (model space), one strip per entry: as `kind` — a PNG grid (labelled
/// with `labels`, enlarged by `zoom` or the default zoom), or all the rows in the data's
/// units as NPY or CSV (`lead` columns first: see [`latent::rows::write_decoded`]) — and
/// record the file.
pub fn write_rows(
    path: &Path,
    kind: OutKind,
    strips: &[ndarray::Array2<f32>],
    (config, run_dir): (&latent::RunConfig, &Path),
    (labels, zoom): (&latent_report::GridLabels, Option<u32>),
    lead: &[latent_data::csv::TextColumn],
) -> Result<()> {
    match table(kind) {
        Some(format) => {
            let views: Vec<ndarray::ArrayView2<'_, f32>> =
                strips.iter().map(|a| a.view()).collect();
            let all = ndarray::concatenate(ndarray::Axis(0), &views)?;
            latent::rows::write_decoded(path, format, all.view(), config, lead)?;
        }
        None => {
            let img = latent::figures::labelled_rows(strips, labels, config, run_dir, zoom)?;
            latent_report::write_png(path, &img)?;
        }
    }
    record(path)
}

/// Check an output of decoded rows (.png, .npy or .csv) as [`prepare`] does; its kind.
pub fn prepare_rows(path: &Path, force: bool, inputs: &[&Path]) -> Result<OutKind> {
    let kind = out_kind(path, &[OutKind::Png, OutKind::Npy, OutKind::Csv])?;
    prepare(path, force, inputs)?;
    Ok(kind)
}
