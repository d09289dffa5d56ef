//! Where a model's data comes from: [`DataSource`], the library's own description of a data
//! argument (recorded in every run, so that later commands and `--resume` reload the same
//! rows), and the loading rules every front end shares.

use latent_core::Dataset;
use latent_data::csv::{CsvOptions, Header, LabelColumn};
use latent_data::source::{DataSpec, LoadOptions, Split};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Whether a CSV file's first row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum CsvHeader {
    /// A header when the first row is not all numbers.
    #[default]
    Auto,
    /// The first row is a header.
    Yes,
    /// There is no header.
    No,
}

/// A data set and how to read it: a dataset name or a path, the split, the CSV options, a
/// labels file and a seeded hold-out. Serialised into a run's `config.json` (as `data.args`);
/// the fields added later have defaults that read older runs as they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct DataSource {
    /// A dataset name or a path (see `latent --help`).
    #[cfg_attr(feature = "clap", arg(long, value_name = "DATA"))]
    pub data: String,
    /// Which split of a dataset that has them (MNIST layout, fashion-mnist).
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub split: Option<Split>,
    /// Whether a CSV file's first row is a header (auto: when it is not all numbers).
    #[cfg_attr(feature = "clap", arg(long, value_enum, default_value_t = CsvHeader::Auto))]
    pub csv_header: CsvHeader,
    /// CSV column holding the labels (integers or class names): a header name, a 0-based
    /// index, `last`, or `none` (every column is a feature). Without it, a column named
    /// label, class, target or y is the label column (and latent says so).
    #[cfg_attr(feature = "clap", arg(long, value_name = "COLUMN"))]
    pub label_column: Option<String>,
    /// Whether, without `label_column`, a CSV column named label, class, target or y is
    /// taken as the labels. Always true for new sources; false when read from a run written
    /// before latent looked for one (those runs kept such a column as a feature).
    #[cfg_attr(feature = "clap", arg(skip = true))]
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub find_label_column: bool,
    /// A file of labels, one per row of the data in order: `.npy` (N or N×1 integers) or a
    /// one-column `.csv` (numbers or class names, optional header). Replaces any labels the
    /// data has.
    #[cfg_attr(feature = "clap", arg(long, value_name = "FILE"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// For data without train/test splits: hold out this percentage of the rows (a seeded
    /// shuffle, `--holdout-seed`) as the test split; `--split test` selects it, the rest is
    /// the training split (the default).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=99))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<u8>,
    /// Seed of the `--holdout` shuffle.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0, requires = "holdout"))]
    #[serde(default)]
    pub holdout_seed: u64,
}

impl DataSource {
    /// The data set `data` (a name or a path) with the default reading options.
    pub fn new(data: impl Into<String>) -> Self {
        DataSource {
            data: data.into(),
            split: None,
            csv_header: CsvHeader::Auto,
            label_column: None,
            find_label_column: true,
            labels: None,
            holdout: None,
            holdout_seed: 0,
        }
    }

    /// The same source, restricted to `split`.
    pub fn with_split(&self, split: Split) -> Self {
        DataSource {
            split: Some(split),
            ..self.clone()
        }
    }

    /// The same source, reading its labels as the run that recorded `recorded` did, when it
    /// is that run's data (the same path or dataset name) and says nothing of its own about
    /// labels or the CSV header: a later command given `--data` alone then finds the run's
    /// labels file, label column and header choice, and a run from before label columns were
    /// found by name keeps reading its columns as it did.
    pub fn like_recorded(&self, recorded: Option<&DataSource>) -> DataSource {
        let Some(r) = recorded else {
            return self.clone();
        };
        let mut out = self.clone();
        if !self.same_data(r) {
            return out;
        }
        if out.labels.is_none() && out.label_column.is_none() {
            out.labels = r.labels.clone();
            out.label_column = r.label_column.clone();
            out.find_label_column = r.find_label_column;
        }
        if out.csv_header == CsvHeader::Auto {
            out.csv_header = r.csv_header;
        }
        out
    }

    /// Whether this source reads the same data set as `other`: the same dataset name or
    /// path, or paths to the same file.
    pub fn same_data(&self, other: &DataSource) -> bool {
        other.data == self.data
            || matches!(
                (
                    std::fs::canonicalize(&other.data),
                    std::fs::canonicalize(&self.data)
                ),
                (Ok(a), Ok(b)) if a == b
            )
    }

    /// This source as a command given a run should read it, `recorded` being how the run's
    /// fit read its data (`None` for runs that do not record it): read like the run
    /// ([`DataSource::like_recorded`]: labels, label column, CSV header) and, when it is the
    /// run's own data, split as the run split it. A run fitted with a hold-out keeps its
    /// hold-out: given no `--holdout`, the same seeded rows are held out — the training split
    /// by default, the held-out rows with `--split test` — and a `--holdout` of another
    /// percentage or seed is refused, since its test rows would include rows the model was
    /// fitted on. Other data, and a hold-out asked of a run fitted without one, are read as
    /// given.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a hold-out that conflicts with the run's, naming the run's and
    /// how to proceed.
    pub fn for_run(&self, recorded: Option<&DataSource>) -> Result<DataSource> {
        let mut out = self.like_recorded(recorded);
        let Some(r) = recorded.filter(|r| self.same_data(r)) else {
            return Ok(out);
        };
        let Some(run_percent) = r.holdout else {
            return Ok(out);
        };
        match self.holdout {
            None => {
                out.holdout = Some(run_percent);
                out.holdout_seed = r.holdout_seed;
            }
            Some(p) if p == run_percent && self.holdout_seed == r.holdout_seed => {}
            Some(p) => {
                return Err(Error::invalid(format!(
                    "--holdout {p} --holdout-seed {}: the run was fitted on {} with \
                     --holdout {run_percent} --holdout-seed {} (its test split is those \
                     {run_percent} % of the rows), so another hold-out would put rows the model \
                     was fitted on among the test rows; omit --holdout to reuse the run's \
                     (--split test selects its held-out rows), or give the same: --holdout \
                     {run_percent} --holdout-seed {}",
                    self.holdout_seed, self.data, r.holdout_seed, r.holdout_seed
                )));
            }
        }
        Ok(out)
    }

    /// How latent-data reads it. With a hold-out, the split is made after loading the whole
    /// set, so the reader is asked for no split.
    pub fn load_options(&self) -> LoadOptions {
        let label = match self.label_column.as_deref() {
            None if self.find_label_column => Some(LabelColumn::ByName),
            None | Some("none") => None,
            Some("last") => Some(LabelColumn::Last),
            Some(c) => Some(match c.parse::<usize>() {
                Ok(i) => LabelColumn::Index(i),
                Err(_) => LabelColumn::Name(c.to_string()),
            }),
        };
        LoadOptions {
            split: self.split.filter(|_| self.holdout.is_none()),
            csv: CsvOptions {
                header: match self.csv_header {
                    CsvHeader::Auto => Header::Auto,
                    CsvHeader::Yes => Header::Present,
                    CsvHeader::No => Header::Absent,
                },
                label,
            },
            labels: self.labels.as_ref().map(std::path::PathBuf::from),
        }
    }

    /// The split the reader is asked for (what a run records as `data.split`).
    pub fn reader_split(&self) -> Option<Split> {
        self.load_options().split
    }

    /// The path this source reads, when it names one that exists (a dataset name does not).
    pub fn path(&self) -> Option<&std::path::Path> {
        let p = std::path::Path::new(&self.data);
        p.exists().then_some(p)
    }

    /// Read the rows (raw values, no preprocessing), applying the hold-out and the split.
    ///
    /// # Errors
    /// Reading errors naming the file; a hold-out asked of data with its own splits.
    pub fn load(&self) -> Result<Dataset> {
        let spec = DataSpec::parse(&self.data)?;
        let data = spec.load(&self.load_options())?;
        let Some(percent) = self.holdout else {
            return Ok(data);
        };
        if spec.has_own_splits() {
            return Err(own_splits(&self.data));
        }
        let n = data.n();
        let (train, test) = data
            .split(
                f64::from(percent) / 100.0,
                latent_core::seed::derive(self.holdout_seed, "holdout"),
            )
            .map_err(|e| holdout_error(percent, &self.data, n, e))?;
        Ok(match self.split {
            Some(Split::Test) => test,
            _ => train,
        })
    }

    /// Whether the data set has its own train and test splits.
    ///
    /// # Errors
    /// An unparseable data argument.
    pub fn has_own_splits(&self) -> Result<bool> {
        Ok(DataSpec::parse(&self.data)?.has_own_splits())
    }
}

/// The refusal of a hold-out of data that has its own splits.
pub(crate) fn own_splits(data: &str) -> Error {
    Error::invalid(format!(
        "{data}: has its own train/test splits; use --split instead of --holdout"
    ))
}

/// A hold-out split's error, said in the flag's terms.
pub(crate) fn holdout_error(percent: u8, data: &str, n: usize, e: latent_core::Error) -> Error {
    match e {
        latent_core::Error::InvalidParam { .. } => Error::invalid(format!(
            "--holdout {percent}: {data}: {n} rows cannot give both a training and a test \
             split of at least one row"
        )),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_form_is_the_one_runs_have_always_carried() {
        // config.json of runs written before this type existed
        let old = r#"{"data":"digits","split":"test","csv_header":"auto","label_column":null,"holdout":20,"holdout_seed":3}"#;
        let s: DataSource = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.split, Some(Split::Test));
        assert_eq!(s.holdout, Some(20));
        let back = serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(back, old);
        let plain: DataSource = serde_json::from_str(
            r#"{"data":"x.csv","split":null,"csv_header":"yes","label_column":"y"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.holdout, None);
        assert_eq!(plain.csv_header, CsvHeader::Yes);
    }

    #[test]
    fn label_columns_are_found_by_name_for_new_sources_only() {
        let label = |s: &DataSource| s.load_options().csv.label;
        let mut s = DataSource::new("t.csv");
        assert_eq!(label(&s), Some(LabelColumn::ByName));
        s.label_column = Some("none".into());
        assert_eq!(label(&s), None);
        s.label_column = Some("last".into());
        assert_eq!(label(&s), Some(LabelColumn::Last));
        s.label_column = Some("2".into());
        assert_eq!(label(&s), Some(LabelColumn::Index(2)));
        s.label_column = Some("class".into());
        assert_eq!(label(&s), Some(LabelColumn::Name("class".into())));
        // a run written before columns were found by name kept them as features
        let old: DataSource = serde_json::from_str(
            r#"{"data":"t.csv","split":null,"csv_header":"auto","label_column":null}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!old.find_label_column);
        assert_eq!(label(&old), None);
        // the new form says so, and carries its labels file
        let mut new = DataSource::new("roll.npy");
        new.labels = Some("roll-labels.npy".into());
        let text = serde_json::to_string(&new).unwrap_or_default();
        assert!(
            text.contains(r#""find_label_column":true"#)
                && text.contains(r#""labels":"roll-labels.npy""#),
            "{text}"
        );
        let back: DataSource = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, new);
        assert_eq!(
            new.load_options().labels,
            Some(std::path::PathBuf::from("roll-labels.npy"))
        );
    }

    #[test]
    fn later_commands_read_the_runs_own_data_as_the_run_did() {
        let mut recorded = DataSource::new("roll.npy");
        recorded.labels = Some("roll-labels.npy".into());
        recorded.csv_header = CsvHeader::Yes;
        // the same data, nothing said of labels: the run's labels file and header choice
        let given = DataSource::new("roll.npy");
        let like = given.like_recorded(Some(&recorded));
        assert_eq!(like.labels.as_deref(), Some("roll-labels.npy"));
        assert_eq!(like.csv_header, CsvHeader::Yes);
        // labels of its own, or other data: kept as given
        let mut own = DataSource::new("roll.npy");
        own.label_column = Some("none".into());
        assert_eq!(own.like_recorded(Some(&recorded)).labels, None);
        let other = DataSource::new("other.npy");
        assert_eq!(other.like_recorded(Some(&recorded)), other);
        assert_eq!(given.like_recorded(None), given);
        // a run from before columns were found by name keeps its columns
        let mut legacy = DataSource::new("wine.csv");
        legacy.find_label_column = false;
        let like = DataSource::new("wine.csv").like_recorded(Some(&legacy));
        assert!(!like.find_label_column);
        assert_eq!(like.load_options().csv.label, None);
    }

    #[test]
    fn later_commands_keep_the_runs_holdout() {
        let mut recorded = DataSource::new("digits");
        recorded.holdout = Some(25);
        recorded.holdout_seed = 3;
        // the run's data without --holdout: the run's hold-out, either split
        let given = DataSource::new("digits");
        let for_run = given
            .for_run(Some(&recorded))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((for_run.holdout, for_run.holdout_seed), (Some(25), 3));
        assert_eq!(for_run.split, None);
        let test = given
            .with_split(Split::Test)
            .for_run(Some(&recorded))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (test.holdout, test.holdout_seed, test.split),
            (Some(25), 3, Some(Split::Test))
        );
        // the same hold-out repeated: accepted
        let mut same = given.clone();
        same.holdout = Some(25);
        same.holdout_seed = 3;
        assert_eq!(same.for_run(Some(&recorded)).ok(), Some(same.clone()));
        // another percentage or seed: refused, naming the run's and what to do
        for (p, seed) in [(30, 3), (25, 0)] {
            let mut other = given.clone();
            other.holdout = Some(p);
            other.holdout_seed = seed;
            let err = other
                .for_run(Some(&recorded))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("--holdout 25 --holdout-seed 3")
                    && err.contains("omit --holdout")
                    && err.contains(&format!("--holdout {p} --holdout-seed {seed}:")),
                "{err}"
            );
        }
        // other data, a run without a hold-out, a run that records no source: as given
        let other = DataSource::new("fashion-mnist-10k");
        assert_eq!(other.for_run(Some(&recorded)).ok(), Some(other.clone()));
        let mut held = DataSource::new("digits");
        held.holdout = Some(30);
        let plain = DataSource::new("digits");
        assert_eq!(held.for_run(Some(&plain)).ok(), Some(held.clone()));
        assert_eq!(held.for_run(None).ok(), Some(held.clone()));
    }

    #[test]
    fn holdout_splits_are_disjoint_and_complete() {
        let mut s = DataSource::new("digits");
        s.holdout = Some(20);
        let train = s.load().unwrap_or_else(|e| panic!("{e}"));
        let test = s
            .with_split(Split::Test)
            .load()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(train.n() + test.n(), 1797);
        assert_eq!(test.n(), 359);
    }
}
