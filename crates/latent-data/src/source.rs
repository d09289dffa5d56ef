//! What a `--data` argument names, and loading it: an embedded or installed dataset by name,
//! or a path whose kind is recognised from what it is (folder or file) and its name.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use latent_core::{Dataset, RowSource};
use serde::{Deserialize, Serialize};

use crate::csv::{self, CsvOptions, LabelColumn};
use crate::embedded::{self, DIGITS, FASHION_MNIST_10K};
use crate::idx::{self, IdxRowSource};
use crate::npy::{self, NpyRowSource};
use crate::util::{check_rows, core_err, format_err, invalid, io_err};
use crate::{DataError, Result};

/// Where the full Fashion-MNIST is installed by Debian's `dataset-fashion-mnist` package;
/// the environment variable [`FASHION_MNIST_DIR_ENV`] overrides it.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The environment variable that overrides [`FASHION_MNIST_DIR`].
pub const FASHION_MNIST_DIR_ENV: &str = "LATENT_FASHION_MNIST_DIR";
/// Name of the full Fashion-MNIST (60,000 train + 10,000 test images, installed separately).
pub const FASHION_MNIST: &str = "fashion-mnist";
/// The dataset names [`DataSpec::parse`] knows.
pub const NAMED_DATASETS: [&str; 3] = [FASHION_MNIST_10K, DIGITS, FASHION_MNIST];

const INSTALL_HINT: &str = "install it with: apt-get install -y dataset-fashion-mnist";

/// A train/test split of a dataset that has them.
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split (`train-*` files).
    #[default]
    Train,
    /// The test split (`t10k-*` files).
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// The prefix of the split's files in the MNIST layout: `train` or `t10k`.
    pub fn file_prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(invalid(
                "split",
                format!("`{s}` is not a split (train, test)"),
            )),
        }
    }
}

/// Options for loading a [`DataSpec`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The split, for datasets that have splits; `None` is the default (train, where there is
    /// one). Giving a split for a dataset without splits is an error.
    pub split: Option<Split>,
    /// How to read a CSV file; anything but the default (or a label column found by name,
    /// [`LabelColumn::ByName`], which only CSV files have) is an error for other kinds of data.
    pub csv: CsvOptions,
    /// A labels file ([`crate::labels`]) giving one label per row, replacing any labels the
    /// data has of its own; any kind of data.
    pub labels: Option<PathBuf>,
}

/// What a `--data` argument names.
///
/// [`DataSpec::parse`] rules: `fashion-mnist-10k`, `digits` and `fashion-mnist` are dataset
/// names (they win over a file of the same name: write `./digits` for the file). Anything else
/// is a path:
/// - a folder holding `train-images-idx3-ubyte[.gz]` or `t10k-images-idx3-ubyte[.gz]` (also
///   spelled `…-images.idx3-ubyte`) is an MNIST-layout folder;
/// - any other folder is a folder of PNG images ([`crate::image::read_png_folder`]);
/// - a file ending in `.npy` is NumPy, in `.csv`, `.csv.gz`, `.tsv` or `.tsv.gz` is CSV, and a
///   file whose name contains `idx3-ubyte` or ends in `.idx`, `.idx3` (optionally `.gz`) is an
///   IDX image file, whose labels are read from the sibling file with `images-idx3` replaced
///   by `labels-idx1` when it exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataSpec {
    /// An embedded or installed dataset, by name.
    Named(String),
    /// A folder in the MNIST layout (`train-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`…).
    MnistDir(PathBuf),
    /// One IDX image file (labels from its sibling, when present).
    Idx(PathBuf),
    /// A NumPy `.npy` file.
    Npy(PathBuf),
    /// A CSV file (optionally gzip-compressed).
    Csv(PathBuf),
    /// A folder of PNG files, or of one sub-folder of PNG files per class.
    PngFolder(PathBuf),
}

/// The files of one split in an MNIST-layout folder.
struct MnistFiles {
    images: PathBuf,
    labels: Option<PathBuf>,
}

fn first_file(dir: &Path, stems: &[String]) -> Option<PathBuf> {
    stems
        .iter()
        .flat_map(|s| [format!("{s}.gz"), s.clone()])
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn find_mnist(dir: &Path, split: Split) -> Option<MnistFiles> {
    let p = split.file_prefix();
    let images = first_file(
        dir,
        &[
            format!("{p}-images-idx3-ubyte"),
            format!("{p}-images.idx3-ubyte"),
        ],
    )?;
    let labels = first_file(
        dir,
        &[
            format!("{p}-labels-idx1-ubyte"),
            format!("{p}-labels.idx1-ubyte"),
        ],
    );
    Some(MnistFiles { images, labels })
}

/// Say that the labels of `labels` (`--labels`) replace those `data` carries, if it does.
fn note_replaced_labels(data: &Dataset, labels: &Path) {
    if data.labels().is_some() {
        crate::notes::emit(&format!(
            "the labels of {} replace those {} carries",
            labels.display(),
            data.name()
        ));
    }
}

/// The label file beside an IDX image file, when there is one.
fn sibling_labels(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let swapped = name
        .replace("images-idx3", "labels-idx1")
        .replace("images.idx3", "labels.idx1");
    if swapped == name {
        return None;
    }
    let base = swapped.strip_suffix(".gz").unwrap_or(&swapped).to_string();
    [swapped.clone(), format!("{base}.gz"), base]
        .into_iter()
        .map(|n| images.with_file_name(n))
        .find(|p| p.is_file())
}

/// The folder the full Fashion-MNIST is read from: `$LATENT_FASHION_MNIST_DIR` when set and
/// not empty, else [`FASHION_MNIST_DIR`].
pub fn fashion_mnist_dir() -> PathBuf {
    match std::env::var_os(FASHION_MNIST_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(FASHION_MNIST_DIR),
    }
}

fn fashion_files(dir: &Path, split: Split) -> Result<MnistFiles> {
    let missing = |what: &str| DataError::MissingDataset {
        name: FASHION_MNIST.into(),
        hint: format!(
            "no {what} in {} ({} overrides that folder); {INSTALL_HINT}",
            dir.display(),
            FASHION_MNIST_DIR_ENV
        ),
    };
    let p = split.file_prefix();
    let files =
        find_mnist(dir, split).ok_or_else(|| missing(&format!("{p}-images-idx3-ubyte.gz")))?;
    if files.labels.is_none() {
        return Err(missing(&format!("{p}-labels-idx1-ubyte.gz")));
    }
    Ok(files)
}

/// The full Fashion-MNIST `split` from the MNIST-layout folder `dir` (normally
/// [`fashion_mnist_dir`]): 60,000 (train) or 10,000 (test) 28×28 images with labels and class
/// names.
///
/// # Errors
/// [`DataError::MissingDataset`] with the install hint when the files are not there; otherwise
/// as [`idx::load_pair`].
pub fn fashion_mnist_from(dir: &Path, split: Split) -> Result<Dataset> {
    let files = fashion_files(dir, split)?;
    idx::load_pair(&files.images, files.labels.as_deref())?
        .with_class_names(embedded::fashion_mnist_class_names())
        .map_err(|e| core_err(&files.images, e))
}

fn unknown(spec: &str, reason: impl Into<String>) -> DataError {
    DataError::UnknownDataset {
        spec: spec.into(),
        reason: reason.into(),
    }
}

const ACCEPTED: &str = "expected a .npy file, a .csv[.gz] or .tsv[.gz] file, an IDX image file \
                        (*idx3-ubyte[.gz], *.idx, *.idx3), a folder of PNG files, an \
                        MNIST-layout folder, or a dataset name (fashion-mnist-10k, digits, \
                        fashion-mnist)";

impl DataSpec {
    /// Recognise a `--data` argument (see [`DataSpec`] for the rules).
    ///
    /// # Errors
    /// [`DataError::UnknownDataset`] for a path that does not exist (and is not a dataset name)
    /// or a file of an unrecognised kind; [`DataError::Io`] when the path cannot be examined.
    pub fn parse(s: &str) -> Result<DataSpec> {
        if NAMED_DATASETS.contains(&s) {
            return Ok(DataSpec::Named(s.to_string()));
        }
        if s.is_empty() {
            return Err(unknown(s, format!("empty; {ACCEPTED}")));
        }
        let path = PathBuf::from(s);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(unknown(
                    s,
                    "no such file or directory, and not a dataset name (fashion-mnist-10k, \
                     digits, fashion-mnist)",
                ));
            }
            Err(e) => return Err(io_err(&path, e)),
        };
        if meta.is_dir() {
            if find_mnist(&path, Split::Train).is_some() || find_mnist(&path, Split::Test).is_some()
            {
                return Ok(DataSpec::MnistDir(path));
            }
            return Ok(DataSpec::PngFolder(path));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let ends = |suffixes: &[&str]| suffixes.iter().any(|x| name.ends_with(x));
        if ends(&[".npy"]) {
            Ok(DataSpec::Npy(path))
        } else if ends(&[".csv", ".csv.gz", ".tsv", ".tsv.gz"]) {
            Ok(DataSpec::Csv(path))
        } else if name.contains("idx3-ubyte") || ends(&[".idx", ".idx3", ".idx.gz", ".idx3.gz"]) {
            Ok(DataSpec::Idx(path))
        } else if name.contains("idx1-ubyte") {
            Err(unknown(
                s,
                "this is an IDX label file: give the image file (…idx3-ubyte), its labels are \
                 found beside it",
            ))
        } else {
            Err(unknown(s, format!("unrecognised kind of file; {ACCEPTED}")))
        }
    }

    /// Whether the data comes with train/test splits of its own (`fashion-mnist`, MNIST-layout
    /// folders holding both splits), so that `--split` picks one and a seeded hold-out is not
    /// needed. A folder holding only one split's files (`t10k-*` alone, say) is one set: a
    /// hold-out makes its test split.
    pub fn has_own_splits(&self) -> bool {
        match self {
            DataSpec::Named(n) => n == FASHION_MNIST,
            DataSpec::MnistDir(dir) => {
                find_mnist(dir, Split::Train).is_some() && find_mnist(dir, Split::Test).is_some()
            }
            _ => false,
        }
    }

    /// The argument as a user would write it: the dataset name or the path.
    pub fn display(&self) -> String {
        self.to_string()
    }

    /// Check the options against the kind of data.
    fn check_options(&self, opts: &LoadOptions) -> Result<()> {
        let by_name = CsvOptions {
            label: Some(LabelColumn::ByName),
            ..CsvOptions::default()
        };
        if opts.csv != CsvOptions::default()
            && opts.csv != by_name
            && !matches!(self, DataSpec::Csv(_))
        {
            return Err(invalid(
                "CSV options",
                format!("{self} is not a CSV file (header and label options apply to CSV only)"),
            ));
        }
        if opts.labels.is_some()
            && let Some(l) = &opts.csv.label
            && *l != LabelColumn::ByName
        {
            return Err(invalid(
                "labels",
                format!(
                    "{self}: the labels come either from a column (--label-column) or from a \
                     file (--labels), not both"
                ),
            ));
        }
        let Some(split) = opts.split else {
            return Ok(());
        };
        match self {
            DataSpec::Named(n) if n == FASHION_MNIST_10K && split == Split::Train => Err(invalid(
                "split",
                "fashion-mnist-10k holds only the test split (use --split test, or \
                 fashion-mnist for the training images)",
            )),
            DataSpec::Named(n) if n == DIGITS => Err(invalid(
                "split",
                "digits has no train/test splits (it is one set of 1,797 images)",
            )),
            DataSpec::Named(_) | DataSpec::MnistDir(_) => Ok(()),
            _ => Err(invalid(
                "split",
                format!("{self} is a single set with no train/test splits"),
            )),
        }
    }

    /// The images (and labels) of an MNIST-layout folder for the requested split: `None` is
    /// train, or test when the folder holds only the test split.
    fn mnist_files(dir: &Path, split: Option<Split>) -> Result<MnistFiles> {
        let found = match split {
            Some(s) => find_mnist(dir, s).ok_or_else(|| {
                invalid(
                    "split",
                    format!(
                        "{} has no {s} images ({}-images-idx3-ubyte[.gz])",
                        dir.display(),
                        s.file_prefix()
                    ),
                )
            })?,
            None => find_mnist(dir, Split::Train)
                .or_else(|| find_mnist(dir, Split::Test))
                .ok_or_else(|| {
                    format_err(
                        dir,
                        "no train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz]",
                    )
                })?,
        };
        Ok(found)
    }

    /// Load the whole dataset.
    ///
    /// Splits: `fashion-mnist-10k` is the test split (`None` or `Test`); `digits`, single
    /// files and PNG folders have none; `fashion-mnist` and MNIST-layout folders default to
    /// train (a folder holding only the test split defaults to it).
    ///
    /// # Errors
    /// [`DataError::Invalid`] for a split or CSV option that does not apply;
    /// [`DataError::MissingDataset`] when `fashion-mnist` is not installed; otherwise the
    /// reader's errors.
    pub fn load(&self, opts: &LoadOptions) -> Result<Dataset> {
        self.check_options(opts)?;
        let data = self.load_own(opts)?;
        let Some(labels) = &opts.labels else {
            return Ok(data);
        };
        note_replaced_labels(&data, labels);
        crate::labels::attach(data, labels)
    }

    /// The number of rows [`DataSpec::load`] would give, read from the header alone where the
    /// format has one: IDX files (raw or gzip), MNIST-layout folders, `.npy` files, and the
    /// Fashion-MNIST datasets (`fashion-mnist`, `fashion-mnist-10k`). Other kinds (CSV, PNG
    /// folders, `digits`) are loaded to count. A labels file (`opts.labels`) is not read.
    ///
    /// # Errors
    /// As [`DataSpec::load`], for the options and what is read: the header (and, for a raw
    /// IDX or `.npy` file, its length) or the whole data.
    pub fn row_count(&self, opts: &LoadOptions) -> Result<usize> {
        self.check_options(opts)?;
        match self {
            DataSpec::Named(n) if n == FASHION_MNIST_10K => {
                Ok(embedded::fashion_mnist_10k_stream()?.n())
            }
            DataSpec::Named(n) if n == FASHION_MNIST => {
                let f = fashion_files(&fashion_mnist_dir(), opts.split.unwrap_or_default())?;
                Ok(IdxRowSource::open(&f.images)?.n())
            }
            DataSpec::MnistDir(dir) => {
                Ok(IdxRowSource::open(&Self::mnist_files(dir, opts.split)?.images)?.n())
            }
            DataSpec::Idx(p) => Ok(IdxRowSource::open(p)?.n()),
            DataSpec::Npy(p) => Ok(NpyRowSource::open(p)?.n()),
            DataSpec::Named(_) | DataSpec::Csv(_) | DataSpec::PngFolder(_) => {
                Ok(self.load_own(opts)?.n())
            }
        }
    }

    /// Rows `rows` (a range of indices of the rows [`DataSpec::load`] gives) and nothing else:
    /// the same dataset as `load(opts)?.select(&rows.collect::<Vec<_>>())` — name, values,
    /// labels (its own or those of `opts.labels`), class names, image shape, range, feature
    /// names.
    ///
    /// For IDX files (raw or gzip), MNIST-layout folders, `fashion-mnist` and `.npy` files,
    /// only those rows are held in memory (what the data-parallel ranks of one training read,
    /// each its own rows): a raw IDX or `.npy` file is read from the first row's offset; a gzip
    /// stream is decompressed from its start, the rows before the range discarded batch by
    /// batch, and the rest after it read through and discarded too, so that truncated or
    /// trailing data is refused whatever the range ([`idx::load_pair_rows`],
    /// [`npy::read_rows`]). A labels file (an IDX label file, or `opts.labels`) is read whole
    /// and its count checked against all the rows. Every check of the header and the length is
    /// made as [`DataSpec::load`] makes it; a NaN or infinite value of a `.npy` file is looked
    /// for in the rows read only, and the memory limit is checked for them only.
    ///
    /// The other kinds are small: CSV files, PNG folders and the embedded `digits` and
    /// `fashion-mnist-10k` are loaded whole, then the rows selected.
    ///
    /// # Errors
    /// As [`DataSpec::load`]; [`DataError::Invalid`] naming the file (or dataset) and its
    /// number of rows for a range that ends past them or starts after its end. An empty range
    /// (`start == end`, within the rows) is the error a [`Dataset`] of no rows is:
    /// [`DataError::Core`] wrapping [`latent_core::Error::Empty`].
    pub fn load_rows(&self, opts: &LoadOptions, rows: Range<usize>) -> Result<Dataset> {
        self.check_options(opts)?;
        let (data, n) = match self {
            DataSpec::Named(name) if name == FASHION_MNIST => {
                let f = fashion_files(&fashion_mnist_dir(), opts.split.unwrap_or_default())?;
                let (data, n) =
                    idx::load_pair_rows_counted(&f.images, f.labels.as_deref(), rows.clone())?;
                let data = data
                    .with_class_names(embedded::fashion_mnist_class_names())
                    .map_err(|e| core_err(&f.images, e))?;
                (data, n)
            }
            DataSpec::MnistDir(dir) => {
                let f = Self::mnist_files(dir, opts.split)?;
                idx::load_pair_rows_counted(&f.images, f.labels.as_deref(), rows.clone())?
            }
            DataSpec::Idx(p) => {
                idx::load_pair_rows_counted(p, sibling_labels(p).as_deref(), rows.clone())?
            }
            DataSpec::Npy(p) => npy::read_rows_counted(p, rows.clone())?,
            DataSpec::Named(_) | DataSpec::Csv(_) | DataSpec::PngFolder(_) => {
                let data = self.load(opts)?;
                let name = PathBuf::from(data.name());
                check_rows(&name, &rows, data.n())?;
                let idx: Vec<usize> = rows.collect();
                return data.select(&idx).map_err(|e| core_err(&name, e));
            }
        };
        let Some(labels) = &opts.labels else {
            return Ok(data);
        };
        note_replaced_labels(&data, labels);
        crate::labels::attach_rows(data, labels, rows, n)
    }

    /// The data with its own labels, if any.
    fn load_own(&self, opts: &LoadOptions) -> Result<Dataset> {
        match self {
            DataSpec::Named(n) => match n.as_str() {
                FASHION_MNIST_10K => embedded::fashion_mnist_10k(),
                DIGITS => embedded::digits(),
                FASHION_MNIST => {
                    fashion_mnist_from(&fashion_mnist_dir(), opts.split.unwrap_or_default())
                }
                other => Err(unknown(other, format!("not a dataset name; {ACCEPTED}"))),
            },
            DataSpec::MnistDir(dir) => {
                let f = Self::mnist_files(dir, opts.split)?;
                idx::load_pair(&f.images, f.labels.as_deref())
            }
            DataSpec::Idx(p) => idx::load_pair(p, sibling_labels(p).as_deref()),
            DataSpec::Npy(p) => npy::read(p),
            DataSpec::Csv(p) => csv::read(p, &opts.csv),
            DataSpec::PngFolder(d) => crate::image::read_png_folder(d),
        }
    }

    /// A one-pass stream of the rows (no labels), for data too large to load: `Some` for IDX
    /// files, MNIST-layout folders, `.npy` files and the Fashion-MNIST datasets; `None` for
    /// kinds that cannot be streamed (CSV, PNG folders, `digits`). Values are raw (`0..=255`
    /// for IDX).
    ///
    /// # Errors
    /// As [`DataSpec::load`], for the options and the file headers.
    pub fn stream(&self, opts: &LoadOptions) -> Result<Option<Box<dyn RowSource>>> {
        self.check_options(opts)?;
        let src: Box<dyn RowSource> = match self {
            DataSpec::Named(n) => match n.as_str() {
                FASHION_MNIST_10K => Box::new(embedded::fashion_mnist_10k_stream()?),
                DIGITS => return Ok(None),
                FASHION_MNIST => {
                    let f = fashion_files(&fashion_mnist_dir(), opts.split.unwrap_or_default())?;
                    Box::new(IdxRowSource::open(&f.images)?)
                }
                other => return Err(unknown(other, format!("not a dataset name; {ACCEPTED}"))),
            },
            DataSpec::MnistDir(dir) => Box::new(IdxRowSource::open(
                &Self::mnist_files(dir, opts.split)?.images,
            )?),
            DataSpec::Idx(p) => Box::new(IdxRowSource::open(p)?),
            DataSpec::Npy(p) => Box::new(NpyRowSource::open(p)?),
            DataSpec::Csv(_) | DataSpec::PngFolder(_) => return Ok(None),
        };
        Ok(Some(src))
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Named(n) => f.write_str(n),
            DataSpec::MnistDir(p)
            | DataSpec::Idx(p)
            | DataSpec::Npy(p)
            | DataSpec::Csv(p)
            | DataSpec::PngFolder(p) => write!(f, "{}", p.display()),
        }
    }
}

impl std::str::FromStr for DataSpec {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        DataSpec::parse(s)
    }
}
