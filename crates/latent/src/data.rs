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

/// A data set and how to read it: a dataset name or a path, the split, the CSV options and a
/// seeded hold-out. Serialised into a run's `config.json` (as `data.args`).
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
    /// CSV column holding integer labels: a header name, a 0-based index, or `last`.
    #[cfg_attr(feature = "clap", arg(long, value_name = "COLUMN"))]
    pub label_column: Option<String>,
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

    /// How latent-data reads it. With a hold-out, the split is made after loading the whole
    /// set, so the reader is asked for no split.
    pub fn load_options(&self) -> LoadOptions {
        let label = self.label_column.as_deref().map(|c| match c {
            "last" => LabelColumn::Last,
            _ => match c.parse::<usize>() {
                Ok(i) => LabelColumn::Index(i),
                Err(_) => LabelColumn::Name(c.to_string()),
            },
        });
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
            return Err(Error::invalid(format!(
                "{}: has its own train/test splits; use --split instead of --holdout",
                self.data
            )));
        }
        let n = data.n();
        let (train, test) = data
            .split(
                f64::from(percent) / 100.0,
                latent_core::seed::derive(self.holdout_seed, "holdout"),
            )
            .map_err(|e| match e {
                latent_core::Error::InvalidParam { .. } => Error::invalid(format!(
                    "--holdout {percent}: {}: {n} rows cannot give both a training and a test \
                     split of at least one row",
                    self.data
                )),
                e => e.into(),
            })?;
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
