//! Command-line arguments (clap derive). Parsing only: validation happens when the arguments
//! are turned into library settings, so every bad value becomes a clear user error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use latent::CsvHeader;
use latent::fit::{LikelihoodChoice, NetSettings, PcaSettings, TrainSettings};
use latent_core::Family;
use latent_data::source::Split;
use latent_data::transform::ScaleChoice;
use latent_nn::{Activation, Arch, Engine, PosteriorKind};
use latent_pca::{Precision, Solver};

/// latent: dimensionality reduction and generative autoencoders.
///
/// Every method is an encoder/decoder pair: `fit` finds the pair on your data and writes a
/// self-describing run directory; `encode`, `decode`, `reconstruct` and `info` use it.
#[derive(Debug, Parser)]
#[command(name = "latent", version, propagate_version = true)]
#[command(after_help = "\
Data (--data) is a named dataset or a path:
  fashion-mnist-10k   Fashion-MNIST test split, 10,000 28×28 images (embedded)
  digits              UCI handwritten digits, 1,797 8×8 images (embedded)
  fashion-mnist       full Fashion-MNIST from Debian's dataset-fashion-mnist package
  DIR                 MNIST layout (train-images-idx3-ubyte[.gz] …) or a folder of PNGs
                      (sub-folders become labels)
  FILE                .npy (u8/f32/f64/integers, N×D or N×H×W[×C]), .csv[.gz], IDX
                      (*-idx3-ubyte[.gz]); --labels FILE gives labels to any data

Examples:
  latent demo
  latent fit --model pca --data fashion-mnist-10k --latent-dim 50 --out runs/pca
  latent reconstruct --run runs/pca --data fashion-mnist-10k --out recon.png
  latent info --run runs/pca")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The most memory latent may use, e.g. 8G or 512M (default: the memory available, or
    /// the LATENT_MAX_MEMORY environment variable). A data file, `--n`, `--steps`, `--grid`
    /// or `--iw-samples` that would need more is refused before anything is allocated.
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_memory)]
    pub max_memory: Option<u64>,
}

fn parse_memory(s: &str) -> Result<u64, String> {
    latent_core::memory::parse_size(s)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a model to data and write a run directory.
    #[command(after_help = "\
Examples:
  latent fit --model pca --data fashion-mnist-10k --latent-dim 50 --out runs/pca
  latent fit --model pca --data digits --latent-dim 0.95 --out runs/digits   # 95 % of the variance
  latent fit --model pca --data fashion-mnist --solver incremental --latent-dim 50 --out runs/ipca
  latent fit --model pca --data faces/ --latent-dim 20 --whiten --solver randomized --seed 7 --out runs/faces
  latent fit --model vae --data fashion-mnist-10k --latent-dim 20 --epochs 10 --out runs/vae
  latent fit --model vae --data digits --latent-dim 2 --hidden 256,128 --beta 4 --kl-warmup 5 --out runs/bvae
  latent fit --model ae --data fashion-mnist-10k --latent-dim 10 --val-fraction 0.1 --early-stopping 3 --out runs/ae
  latent fit --model vae --arch conv --data fashion-mnist-10k --latent-dim 16 --hidden 256 --out runs/cvae
  latent fit --resume --out runs/vae --epochs 20   # continue (or extend) an interrupted run")]
    Fit(Box<FitArgs>),
    /// Encode data to latent codes (the deterministic code: the posterior mean for a VAE).
    #[command(after_help = "\
Examples:
  latent encode --run runs/pca --data fashion-mnist-10k --out codes.npy
  latent encode --run runs/pca --data my.csv --label-column label --out codes.csv")]
    Encode(EncodeArgs),
    /// Decode latent codes back to data space.
    #[command(after_help = "\
Examples:
  latent decode --run runs/pca --codes codes.npy --out images.npy
  latent decode --run runs/pca --codes codes.csv --out grid.png
  latent decode --run runs/wine --codes codes.npy --out rows.csv   # named columns, data units")]
    Decode(DecodeArgs),
    /// Reconstruct inputs: originals above, reconstructions below (or the reconstructions as
    /// .csv/.npy, with a table of a few rows); prints the error.
    #[command(after_help = "\
Examples:
  latent reconstruct --run runs/pca --data fashion-mnist-10k --out recon.png
  latent reconstruct --run runs/pca --data fashion-mnist-10k --n 16 --seed 3 --out recon.png
  latent reconstruct --run runs/wine --data wine.csv --n 1000000 --out recon.csv   # every row")]
    Reconstruct(ReconstructArgs),
    /// Draw new data: decode samples of the prior (VAE), or of a Gaussian fitted to the
    /// training codes (PCA, autoencoders: they have no prior).
    #[command(after_help = "\
Examples:
  latent sample --run runs/vae --n 64 --out samples.png
  latent sample --run runs/vae --n 64 --temperature 0.7 --seed 3 --out samples.png
  latent sample --run runs/pca --n 1000 --out samples.npy
  latent sample --run runs/wine --n 100 --out samples.csv")]
    Sample(SampleArgs),
    /// Decode the straight (or spherical) path between the codes of two inputs.
    #[command(after_help = "\
Examples:
  latent interpolate --run runs/vae --data fashion-mnist-10k --from 0 --to 1 --steps 10 --out strip.png
  latent interpolate --run runs/vae --data fashion-mnist-10k --from 0,2,4 --to 1,3,5 --slerp --out strips.png")]
    Interpolate(InterpolateArgs),
    /// Vary one latent dimension at a time around the origin and decode.
    #[command(after_help = "\
Examples:
  latent traverse --run runs/vae --dims 0..10 --range 3 --steps 9 --out traverse.png
  latent traverse --run runs/vae --dims 0,4,7 --out traverse.png")]
    Traverse(TraverseArgs),
    /// Plot the codes in 2-D coloured by label; for a 2-D latent, also the decoded manifold.
    #[command(after_help = "\
Examples:
  latent map --run runs/vae2d --data fashion-mnist-10k --out map.png
  latent map --run runs/pca --data digits --out map.png")]
    Map(MapArgs),
    /// Explore latent spaces in the browser: a local page with the map of the codes, a
    /// click-to-decode canvas, one slider per latent coordinate, interpolation strips and
    /// four-corner grids, nearest neighbours and sampling; two runs side by side.
    #[command(after_help = "\
Examples:
  latent explore --run runs/vae --data fashion-mnist-10k
  latent explore --run runs/ae --run runs/vae --data fashion-mnist-10k --open
  latent explore --run runs/vae --data fashion-mnist-10k --points 2000 --export vae.html

The page's address (with the session's token) is printed; the server listens on 127.0.0.1
until Ctrl-C, reads only the runs and the data given here and writes nothing.")]
    Explore(ExploreArgs),
    /// Measure a model on data: reconstruction error; for a VAE the ELBO and its terms.
    #[command(after_help = "\
Examples:
  latent eval --run runs/vae --data fashion-mnist --split test
  latent eval --run runs/pca --data fashion-mnist-10k --json")]
    Eval(EvalArgs),
    /// Describe a run: model, data, latent dimension, explained variance.
    #[command(after_help = "\
Examples:
  latent info --run runs/pca
  latent info --run runs/pca --json")]
    Info(InfoArgs),
    /// Fit PCA, a linear AE, a deep AE and VAEs (over β) at several latent dimensions, measure
    /// each on the test split, and write summary.json and a self-contained report.html.
    #[command(after_help = "\
Examples:
  latent compare --data fashion-mnist-10k --latent-dims 2,10 --epochs 10 --out cmp
  latent compare --data fashion-mnist --latent-dims 2,10,20 --betas 0.5,1,4 --out cmp-all")]
    Compare(CompareArgs),
    /// The main job on the embedded default data: `latent compare` on Fashion-MNIST-10k
    /// (PCA, linear AE, deep AE, VAEs over β at K = 2, 10, 20; about three minutes), writing
    /// a report.
    #[command(after_help = "\
Examples:
  latent demo
  latent demo --out /tmp/latent-demo --force")]
    Demo(DemoArgs),
}

/// Where the data comes from and how it is read (the library's own type, with clap's
/// derives from its `clap` feature).
pub use latent::DataSource as DataArgs;
/// `latent fit`.
#[derive(Debug, Args, Clone)]
pub struct FitArgs {
    /// The kind of model.
    #[arg(long, value_enum, default_value_t = Family::Pca)]
    pub model: Family,
    /// A dataset name or a path (see `latent --help`).
    #[arg(long, value_name = "DATA", required_unless_present = "resume")]
    pub data: Option<String>,
    /// Which split of a dataset that has them (MNIST layout, fashion-mnist).
    #[arg(long, value_enum)]
    pub split: Option<Split>,
    /// Whether a CSV file's first row is a header (auto: when it is not all numbers).
    #[arg(long, value_enum, default_value_t = CsvHeader::Auto)]
    pub csv_header: CsvHeader,
    /// CSV column holding the labels (integers or class names): a header name, a 0-based
    /// index, `last`, or `none` (every column a feature). Default: a column named label,
    /// class, target or y.
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
    /// A labels file for any data: .npy (N or N×1 integers) or a one-column .csv (numbers
    /// or class names); one label per row, in order. Recorded in the run.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<String>,
    /// For data without train/test splits: hold out this percentage of the rows as the
    /// test split (see `latent eval --help`); fitting uses the rest.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=99))]
    pub holdout: Option<u8>,
    /// Seed of the `--holdout` shuffle.
    #[arg(long, default_value_t = 0, requires = "holdout")]
    pub holdout_seed: u64,
    /// Latent dimension K; for PCA also a fraction in (0, 1): keep that share of the variance.
    #[arg(long, value_name = "K", required_unless_present = "resume")]
    pub latent_dim: Option<String>,
    /// The run directory to create.
    #[arg(long, value_name = "RUN_DIR")]
    pub out: PathBuf,
    /// Replace an existing run directory.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted training run in --out from its newest valid checkpoint
    /// (all settings come from the run; --epochs may extend it; other flags may be repeated
    /// from the original command, and are refused where they differ from the run's).
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Seed for every random choice of the fit.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How to scale the features before fitting (recorded; reapplied by every command).
    #[arg(long, value_enum, default_value_t = ScaleChoice::Auto)]
    pub scale: ScaleChoice,
    /// Binarize after scaling: `threshold` (at 0.5), `threshold=T`, or `bernoulli` (one seeded draw).
    #[arg(long, value_name = "MODE")]
    pub binarize: Option<String>,

    /// PCA solver.
    #[arg(long, value_enum, default_value_t = PcaSettings::default().solver, help_heading = "PCA")]
    pub solver: Solver,
    /// Scale codes to unit variance (PCA).
    #[arg(long, help_heading = "PCA")]
    pub whiten: bool,
    /// Arithmetic precision of the fit.
    #[arg(long, value_enum, default_value_t = PcaSettings::default().precision, help_heading = "PCA")]
    pub precision: Precision,
    /// Power iterations of the randomized solver (default: 7, or 4 when K is large).
    #[arg(long, help_heading = "PCA")]
    pub power_iters: Option<usize>,
    /// Extra random directions of the randomized solver.
    #[arg(long, default_value_t = PcaSettings::default().oversamples, help_heading = "PCA")]
    pub oversamples: usize,

    /// Rows per batch (training minibatch; incremental PCA's read batch).
    #[arg(long)]
    pub batch_size: Option<usize>,

    /// Hidden layer widths of the encoder, comma-separated (the decoder mirrors them).
    #[arg(
        long,
        default_value_t = widths(&NetSettings::default().hidden),
        value_name = "W[,W…]",
        help_heading = "Autoencoders"
    )]
    pub hidden: String,
    /// Network architecture: fully connected, or strided convolutions for images.
    #[arg(long, value_enum, default_value_t = NetSettings::default().arch, help_heading = "Autoencoders")]
    pub arch: Arch,
    /// Output channels of each stride-2 convolution (`--arch conv`).
    #[arg(
        long,
        default_value_t = widths(&NetSettings::default().conv_channels),
        value_name = "C[,C…]",
        help_heading = "Autoencoders"
    )]
    pub conv_channels: String,
    /// Hidden non-linearity.
    #[arg(long, value_enum, default_value_t = NetSettings::default().activation, help_heading = "Autoencoders")]
    pub activation: Activation,
    /// VAE posterior covariance.
    #[arg(long, value_enum, default_value_t = NetSettings::default().posterior, help_heading = "Autoencoders")]
    pub posterior: PosteriorKind,
    /// VAE decoder likelihood (default: bernoulli for data in [0, 1], else gaussian-learned).
    #[arg(long, value_enum, help_heading = "Autoencoders")]
    pub likelihood: Option<LikelihoodChoice>,
    /// σ of the fixed Gaussian likelihood.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = NetSettings::default().sigma,
        help_heading = "Autoencoders"
    )]
    pub sigma: f32,
    /// One learned σ for all features (gaussian-learned).
    #[arg(long, help_heading = "Autoencoders")]
    pub shared_sigma: bool,
    /// Passes over the training data [default: 10, or on small data enough for 750
    /// optimiser steps]; with --resume, the new total.
    #[arg(long, help_heading = "Training")]
    pub epochs: Option<usize>,
    /// Adam learning rate.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().lr,
        help_heading = "Training"
    )]
    pub lr: f64,
    /// Adam β₁.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().adam_beta1,
        help_heading = "Training"
    )]
    pub adam_beta1: f64,
    /// Adam β₂.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().adam_beta2,
        help_heading = "Training"
    )]
    pub adam_beta2: f64,
    /// Adam ε (PyTorch's default).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().adam_eps,
        help_heading = "Training"
    )]
    pub adam_eps: f64,
    /// L2 weight decay.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().weight_decay,
        help_heading = "Training"
    )]
    pub weight_decay: f64,
    /// Learning-rate schedule: constant, cosine[=FINAL_FRACTION], step=EVERY:GAMMA.
    #[arg(long, default_value = "constant", help_heading = "Training")]
    pub lr_schedule: String,
    /// KL weight β of the VAE loss (β-VAE; 1 is the ELBO).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().beta,
        help_heading = "Training"
    )]
    pub beta: f64,
    /// Epochs over which β rises linearly from 0.
    #[arg(long, default_value_t = TrainSettings::default().kl_warmup, help_heading = "Training")]
    pub kl_warmup: usize,
    /// Share of the rows held out (seeded) for validation.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = TrainSettings::default().val_fraction,
        help_heading = "Training"
    )]
    pub val_fraction: f64,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, value_name = "EPOCHS", help_heading = "Training")]
    pub early_stopping: Option<usize>,
    /// A fresh Bernoulli binarization of every batch (values are probabilities).
    #[arg(long, help_heading = "Training")]
    pub dynamic_binarize: bool,
    /// Compute device: cpu (burn flex), or vulkan in a build with the `wgpu` feature.
    #[arg(long, default_value = "cpu", help_heading = "Training")]
    pub device: String,
    /// Training engine: `auto` trains MLP and conv networks on the CPU through latent's fused
    /// kernels and everything else (a GPU device) through burn; `burn` always uses burn's
    /// autodiff graph (the same mathematics, slower; for comparisons: the release build
    /// compiles burn's CPU backend unoptimised, `cargo build --profile burn-ref` optimises it).
    #[arg(long, value_enum, default_value_t = Engine::Auto, help_heading = "Training")]
    pub engine: Engine,
    /// How often a checkpoint is written: every N epochs (`5`), or after the first epoch
    /// that ends this long after the last one (`30s`, `10m`, `1h`). The last epoch always
    /// gets one; a killed run resumes from the newest (`--resume`) and replays the epochs
    /// after it exactly.
    #[arg(
        long,
        value_name = "N|DURATION",
        default_value_t = latent_nn::CheckpointEvery::default(),
        help_heading = "Training"
    )]
    pub checkpoint_every: latent_nn::CheckpointEvery,
}

impl FitArgs {
    /// `--epochs`, when given.
    pub fn epochs_given(&self) -> Option<usize> {
        self.epochs
    }

    /// The data arguments (when given).
    pub fn data_args(&self) -> Option<DataArgs> {
        self.data.as_ref().map(|data| DataArgs {
            data: data.clone(),
            split: self.split,
            csv_header: self.csv_header,
            label_column: self.label_column.clone(),
            find_label_column: true,
            labels: self.labels.clone(),
            holdout: self.holdout,
            holdout_seed: self.holdout_seed,
        })
    }
}

/// `latent encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The input data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output: codes.npy (N×K float32) or codes.csv (header z0…).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Codes to decode: .npy (2-D float) or .csv.
    #[arg(long, value_name = "FILE")]
    pub codes: PathBuf,
    /// Output: .npy (decoded rows, in the data's units; images as N×H×W[×C]), .csv (the
    /// data's column names as header) or .png (a grid of at most 4096 images).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Images per row of a PNG grid.
    #[arg(long, default_value_t = 16)]
    pub columns: usize,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent reconstruct`.
#[derive(Debug, Args)]
pub struct ReconstructArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The input data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output: .png (the inputs above, their reconstructions below), or the reconstructions
    /// in the data's units as .csv (a `row` column, the label, the data's column names) or
    /// .npy.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How many rows: a seeded spread over the classes (at random without labels); every
    /// row, in order, when N is at least the number of rows.
    #[arg(long, visible_alias = "rows", default_value_t = 32)]
    pub n: usize,
    /// Seed of the choice of rows (default: the run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Images per row.
    #[arg(long, default_value_t = 16)]
    pub columns: usize,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// How many samples.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Output: .png (a grid), .npy or .csv (decoded rows in the data's units; CSV under the
    /// data's column names).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Scale of the prior's standard deviation (1: the prior itself).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    pub temperature: f32,
    /// Images per row.
    #[arg(long, default_value_t = 8)]
    pub columns: usize,
    /// For models without a prior: the data whose codes the Gaussian is fitted to
    /// (default: the run's training data).
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,
    /// Split of --data.
    #[arg(long, value_enum)]
    pub split: Option<Split>,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The data holding the endpoints.
    #[command(flatten)]
    pub data: DataArgs,
    /// Row index of each start (comma-separated for several strips).
    #[arg(long, value_name = "I[,I…]")]
    pub from: String,
    /// Row index of each end.
    #[arg(long, value_name = "J[,J…]")]
    pub to: String,
    /// Points per strip, endpoints included.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Spherical interpolation instead of a straight line.
    #[arg(long)]
    pub slerp: bool,
    /// Output: .png (one strip per pair), .npy, or .csv (`from`, `to`, `t`, then the data's
    /// columns), in the data's units.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent traverse`.
#[derive(Debug, Args)]
pub struct TraverseArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Latent dimensions: `0..10` (end excluded), `0,3,5`, or `all`; each must exist (K is
    /// the run's latent dimension). Default: the first 10 (all of them when K ≤ 10).
    #[arg(long)]
    pub dims: Option<String>,
    /// Each dimension goes from −RANGE to +RANGE (absolute values; the others stay 0).
    #[arg(long, allow_negative_numbers = true, default_value_t = 3.0)]
    pub range: f32,
    /// Points per dimension.
    #[arg(long, default_value_t = 9)]
    pub steps: usize,
    /// Output: .png (one strip per dimension), .npy or .csv (the decoded rows in the data's
    /// units, under its column names, after the columns `dim` and `value`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The data to map (labels colour the points).
    #[command(flatten)]
    pub data: DataArgs,
    /// Output PNG.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Images per side of the decoded manifold (2-D latents).
    #[arg(long, default_value_t = 20)]
    pub grid: usize,
    /// Enlarge each image N times in a PNG (nearest neighbour; 1 to 16). Default: enough
    /// for 56 pixels across (×2 for 28-pixel images).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: Option<u32>,
    /// Overwrite the output file.
    #[arg(long)]
    pub force: bool,
}

/// `latent explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// A run directory written by `latent fit`; give `--run` twice to see two runs side by
    /// side (fitted on data of the same shape).
    #[arg(long, value_name = "RUN_DIR", required = true)]
    pub run: Vec<PathBuf>,
    /// The data whose rows are mapped (labels colour them) and searched for neighbours.
    #[command(flatten)]
    pub data: DataArgs,
    /// The most rows to map: a seeded random choice of this many when the data has more.
    #[arg(long, value_name = "N", default_value_t = latent::explore::DEFAULT_POINTS)]
    pub points: usize,
    /// Map two chosen latent coordinates `X,Y` instead of the codes' top two principal axes.
    #[arg(long, value_name = "X,Y", value_parser = parse_dims_pair)]
    pub dims: Option<(usize, usize)>,
    /// Seed of the choice of mapped rows.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The address to listen on (default 127.0.0.1, this machine only). Another address
    /// lets other machines reach the page (still only with the token).
    #[arg(long, value_name = "ADDRESS")]
    pub host: Option<std::net::IpAddr>,
    /// The port (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the page in the default browser (`xdg-open`, `open` on macOS).
    #[arg(long)]
    pub open: bool,
    /// Write the page as one self-contained HTML file instead of serving it: the mapped rows,
    /// codes and decoder weights embedded, decoding in JavaScript (dense decoders: PCA,
    /// linear AE, MLP AE and VAE; a conv decoder is refused). Shareable without a server.
    #[arg(long, value_name = "FILE.html", conflicts_with_all = ["host", "port", "open"])]
    pub export: Option<PathBuf>,
    /// Overwrite the --export file.
    #[arg(long, requires = "export")]
    pub force: bool,
}

fn parse_dims_pair(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?}: give two latent coordinates as X,Y (e.g. 0,1)");
    let (x, y) = s.split_once(',').ok_or_else(bad)?;
    Ok((
        x.trim().parse().map_err(|_| bad())?,
        y.trim().parse().map_err(|_| bad())?,
    ))
}

/// `latent eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The data to evaluate on.
    #[command(flatten)]
    pub data: DataArgs,
    /// Seed of the posterior samples (VAE).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Importance samples per row for the VAE's −log p(x) (`nll_is`; 0 skips it).
    #[arg(long, default_value_t = 100)]
    pub iw_samples: usize,
    /// Decoded latent samples for completeness and the Fréchet distance (0 skips them).
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Encoded test points probed for continuity (0 skips it).
    #[arg(long, default_value_t = 1000)]
    pub continuity_points: usize,
    /// Do not train the feature classifier (no Fréchet distance, no sample confidence).
    #[arg(long)]
    pub no_classifier: bool,
    /// Print the figures as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `latent info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A run directory written by `latent fit`.
    #[arg(long, value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Print the run's description as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `latent compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A dataset name or a path (see `latent --help`).
    #[arg(long, value_name = "DATA")]
    pub data: String,
    /// Whether a CSV file's first row is a header (auto: when it is not all numbers).
    #[arg(long, value_enum, default_value_t = CsvHeader::Auto)]
    pub csv_header: CsvHeader,
    /// CSV column holding the labels (integers or class names): a header name, a 0-based
    /// index, `last`, or `none` (every column a feature). Default: a column named label,
    /// class, target or y.
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
    /// A labels file for any data: .npy (N or N×1 integers) or a one-column .csv (numbers
    /// or class names); one label per row, in order.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<String>,
    /// For data without train/test splits: the percentage of rows held out (seeded by
    /// `--holdout-seed`) as the test split.
    #[arg(long, value_name = "PERCENT", default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=99))]
    pub holdout: u8,
    /// Seed of the `--holdout` shuffle [default: --seed]: `latent fit --holdout-seed`'s, to
    /// compare on the rows a fit held out.
    #[arg(long, value_name = "SEED")]
    pub holdout_seed: Option<u64>,
    /// Latent dimensions, comma-separated.
    #[arg(long, default_value = "2,10,20")]
    pub latent_dims: String,
    /// KL weights of the VAEs, comma-separated (β = 1 is always included).
    #[arg(long, default_value = "0.5,1,4")]
    pub betas: String,
    /// Training epochs of the deep autoencoder and the VAEs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Training epochs of the linear autoencoder (default: about 40,000 steps, 10 to 1,000
    /// epochs; it converges late).
    #[arg(long)]
    pub linear_epochs: Option<usize>,
    /// Hidden layer widths of the deep models, comma-separated.
    #[arg(long, default_value = "400")]
    pub hidden: String,
    /// Rows per training step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// How to scale the features before every model (as `latent fit --scale`; fitted on the
    /// training split).
    #[arg(long, value_enum, default_value_t = ScaleChoice::Auto)]
    pub scale: ScaleChoice,
    /// Binarize after scaling: `threshold` (at 0.5), `threshold=T`, or `bernoulli` (one seeded draw).
    #[arg(long, value_name = "MODE")]
    pub binarize: Option<String>,
    /// Adam learning rate of the deep autoencoder and the VAEs.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam learning rate of the linear autoencoder (cosine schedule).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.01)]
    pub linear_lr: f64,
    /// Importance samples per test row for the VAEs' nll_is (0 skips it).
    #[arg(long, default_value_t = 100)]
    pub iw_samples: usize,
    /// Decoded latent samples per model for completeness and the Fréchet distance.
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Seed of everything (initialisation, hold-out, samples).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute device of the fits: cpu, or vulkan in a build with the `wgpu` feature.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The output directory (runs/, images/, summary.json, report.html).
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// Replace an existing output directory.
    #[arg(long)]
    pub force: bool,
    /// No progress on stderr (notes and errors still go there); stdout gets the findings.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `latent demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the demo's run and images.
    #[arg(long, default_value = "latent-demo")]
    pub out: PathBuf,
    /// Replace an existing demo directory.
    #[arg(long)]
    pub force: bool,
    /// A much smaller run (2 epochs, K = 2 and 5, fewer samples): a smoke test, not a result.
    #[arg(long)]
    pub quick: bool,
}

/// Comma-separated widths, as `--hidden` and `--conv-channels` take them (their defaults are
/// the library's: `latent::fit::NetSettings::default()`).
fn widths(w: &[usize]) -> String {
    w.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}
