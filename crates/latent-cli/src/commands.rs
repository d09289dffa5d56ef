//! The subcommands: arguments → validated settings → library calls → files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use latent_core::{Dataset, Fit, ImageShape, ParamGuard, RowSource, ValueRange};
use latent_data::csv::{CsvOptions, Header, LabelColumn};
use latent_data::source::{DataSpec, LoadOptions, Split};
use latent_data::transform::{Binarize, Preprocess, ScaleChoice, Scaling};
use latent_data::{csv, image, npy};
use latent_pca::{Components, PcaParams, Precision, Solver};
use ndarray::{Array2, ArrayView2};
use serde_json::json;

use crate::UserError;
use crate::cli::{
    DataArgs, DecodeArgs, DemoArgs, EncodeArgs, FitArgs, HeaderArg, InfoArgs, ModelArg,
    PrecisionArg, ReconstructArgs, ScaleArg, SolverArg, SplitArg,
};
use crate::progress;
use crate::run::{self, DataInfo, Model, RunConfig, WeightsInfo};

pub(crate) fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

pub(crate) fn load_options(args: &DataArgs) -> LoadOptions {
    let label = args.label_column.as_deref().map(|c| match c {
        "last" => LabelColumn::Last,
        _ => match c.parse::<usize>() {
            Ok(i) => LabelColumn::Index(i),
            Err(_) => LabelColumn::Name(c.to_string()),
        },
    });
    LoadOptions {
        // with --holdout the split is made here, after loading the whole set
        split: args
            .split
            .filter(|_| args.holdout.is_none())
            .map(|s| match s {
                SplitArg::Train => Split::Train,
                SplitArg::Test => Split::Test,
            }),
        csv: CsvOptions {
            header: match args.csv_header {
                HeaderArg::Auto => Header::Auto,
                HeaderArg::Yes => Header::Present,
                HeaderArg::No => Header::Absent,
            },
            label,
        },
    }
}

/// A comma-separated list of `T` given to `flag`; `what` names one item in the error
/// (`--hidden 400,x: `x` is not a layer width`).
pub(crate) fn parse_list<T: std::str::FromStr>(s: &str, flag: &str, what: &str) -> Result<Vec<T>> {
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<T>()
                .map_err(|_| user(format!("{flag} {s}: `{p}` is not {what}")))
        })
        .collect()
}

/// Read the `--data` argument into a dataset (raw values, no preprocessing), applying
/// `--holdout` and `--split`.
pub(crate) fn load_raw(args: &DataArgs) -> Result<Dataset> {
    let spec = DataSpec::parse(&args.data)?;
    let data = spec.load(&load_options(args))?;
    let Some(percent) = args.holdout else {
        return Ok(data);
    };
    if spec.has_own_splits() {
        return Err(user(format!(
            "{}: has its own train/test splits; use --split instead of --holdout",
            args.data
        )));
    }
    let (train, test) = data.split(
        f64::from(percent) / 100.0,
        latent_core::seed::derive(args.holdout_seed, "holdout"),
    )?;
    Ok(match args.split {
        Some(SplitArg::Test) => test,
        _ => train,
    })
}

/// Read data for an existing run: same width as the training data, run's preprocessing.
pub(crate) fn load_data_for_run(config: &RunConfig, args: &DataArgs) -> Result<Dataset> {
    let data = load_raw(args)?;
    if data.dim() != config.input_dim {
        return Err(user(format!(
            "{}: rows have {} features, but the run was fitted on {} ({})",
            data.name(),
            data.dim(),
            config.input_dim,
            config.data.spec
        )));
    }
    Ok(config.preprocess.apply(data)?)
}

fn parse_components(s: &str) -> Result<Components> {
    if let Ok(k) = s.parse::<usize>() {
        return Ok(Components::Count(k));
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(Components::Fraction(f)),
        _ => Err(user(format!(
            "--latent-dim {s}: expected a positive integer, or a fraction in (0, 1) of the variance to keep"
        ))),
    }
}

pub(crate) fn parse_binarize(s: Option<&str>, seed: u64) -> Result<Binarize> {
    Ok(match s {
        None | Some("none") => Binarize::None,
        Some("threshold") => Binarize::Threshold { at: 0.5 },
        Some("bernoulli") => Binarize::Bernoulli {
            seed: latent_core::seed::derive(seed, "binarize"),
        },
        Some(other) => match other.strip_prefix("threshold=").map(str::parse::<f32>) {
            Some(Ok(at)) if at.is_finite() => Binarize::Threshold { at },
            _ => {
                return Err(user(format!(
                    "--binarize {other}: expected none, threshold, threshold=T or bernoulli"
                )));
            }
        },
    })
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn scale_choice(s: ScaleArg) -> ScaleChoice {
    match s {
        ScaleArg::Auto => ScaleChoice::Auto,
        ScaleArg::None => ScaleChoice::None,
        ScaleArg::Unit => ScaleChoice::Unit,
        ScaleArg::Standardize => ScaleChoice::Standardize,
    }
}

/// A [`RowSource`] that applies the run's preprocessing to each batch and tracks the raw
/// values' extent (for display).
struct Preprocessed<'a> {
    inner: Box<dyn RowSource>,
    pre: &'a Preprocess,
    seen: usize,
    lo: f32,
    hi: f32,
    bar: indicatif::ProgressBar,
}

impl RowSource for Preprocessed<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn len_hint(&self) -> Option<usize> {
        self.inner.len_hint()
    }
    fn next_batch(&mut self, max_rows: usize) -> latent_core::Result<Option<Array2<f32>>> {
        let Some(raw) = self.inner.next_batch(max_rows)? else {
            return Ok(None);
        };
        for &v in &raw {
            self.lo = self.lo.min(v);
            self.hi = self.hi.max(v);
        }
        self.seen += raw.nrows();
        self.bar.set_position(self.seen as u64);
        let x = self
            .pre
            .apply_rows(raw.view())
            .map_err(|e| latent_core::Error::Source(Box::new(e)))?;
        Ok(Some(x))
    }
}

pub(crate) fn display_range(data: &Dataset) -> ValueRange {
    data.range().unwrap_or_else(|| {
        let (lo, hi) = data
            .x()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        ValueRange { min: lo, max: hi }
    })
}

/// `latent fit`.
pub fn fit(args: &FitArgs, command_line: Vec<String>) -> Result<()> {
    if args.resume || args.model != ModelArg::Pca {
        return crate::train_cmd::fit_nn(args, command_line);
    }
    run::check_writable(&args.out, args.force)?;
    let (Some(data_args), Some(latent_dim)) = (args.data_args(), args.latent_dim.as_deref()) else {
        return Err(user("--data and --latent-dim are required"));
    };
    let components = parse_components(latent_dim)?;
    let solver = match args.solver {
        SolverArg::Exact => Solver::Exact,
        SolverArg::Randomized => Solver::Randomized,
        SolverArg::Incremental => Solver::Incremental,
    };
    let params = PcaParams::new(components)
        .solver(solver)
        .whiten(args.whiten)
        .seed(latent_core::seed::derive(args.seed, "pca"))
        .oversamples(args.oversamples)
        .power_iters(args.power_iters)
        .batch_size(args.batch_size)
        .precision(match args.precision {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::F64 => Precision::F64,
        });
    let checked = params.clone().check()?;
    let scale = scale_choice(args.scale);
    let binarize = parse_binarize(args.binarize.as_deref(), args.seed)?;
    let spec = DataSpec::parse(&data_args.data)?;
    let opts = load_options(&data_args);

    // The incremental solver streams sequential files (IDX, NPY) without loading them, when
    // the preprocessing needs no statistics of the whole data set.
    let streamable = solver == Solver::Incremental
        && data_args.holdout.is_none()
        && matches!(scale, ScaleChoice::Auto | ScaleChoice::None)
        && binarize == Binarize::None;
    let stream = if streamable {
        spec.stream(&opts)?
    } else {
        None
    };

    let started = Instant::now();
    let mut fit_seconds = None;
    let (pca, data_info, preprocess, display) = if let Some(inner) = stream {
        let range = inner.range();
        let scaling = match (scale, range) {
            (ScaleChoice::Auto, Some(r)) => Scaling::Unit {
                min: r.min,
                max: r.max,
            },
            _ => Scaling::None,
        };
        let preprocess = Preprocess {
            scaling,
            binarize: Binarize::None,
        };
        let (dim, image_shape) = (inner.dim(), inner.image_shape());
        let bar = progress::bar(inner.len_hint(), "incremental PCA: rows");
        let mut src = Preprocessed {
            inner,
            pre: &preprocess,
            seen: 0,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
            bar,
        };
        let pca = checked.fit_stream(&mut src, &mut |_| {})?;
        src.bar.finish_and_clear();
        let display = range.unwrap_or(ValueRange {
            min: src.lo,
            max: src.hi,
        });
        let info = DataInfo {
            spec: data_args.data.clone(),
            split: opts.split,
            n: pca.n_samples(),
            dim,
            image_shape,
            class_names: None,
            range,
            args: Some(data_args.clone()),
        };
        (pca, info, preprocess, display)
    } else {
        let bar = progress::spinner("loading data");
        let raw = load_raw(&data_args)?;
        bar.set_message(format!("fitting PCA to {} × {}", raw.n(), raw.dim()));
        let preprocess = Preprocess::fit(&raw, scale, binarize)?;
        let info = DataInfo {
            spec: data_args.data.clone(),
            split: opts.split,
            n: raw.n(),
            dim: raw.dim(),
            image_shape: raw.image_shape(),
            class_names: raw.class_names().map(<[String]>::to_vec),
            range: raw.range(),
            args: Some(data_args.clone()),
        };
        let display = display_range(&raw);
        let data = preprocess.apply(raw)?;
        // the fit alone: loading and preprocessing are timed apart (`load_seconds`), as a
        // fit of data already in memory is what the benchmarks compare
        let fit_started = Instant::now();
        let pca = checked.fit(&data)?;
        fit_seconds = Some(fit_started.elapsed().as_secs_f64());
        bar.finish_and_clear();
        (pca, info, preprocess, display)
    };
    let total_seconds = started.elapsed().as_secs_f64();
    // a streamed fit reads the data as it fits: its time includes the reading
    let seconds = fit_seconds.unwrap_or(total_seconds);

    let ratio_sum: f64 = pca
        .explained_variance_ratio()
        .iter()
        .map(|&v| f64::from(v))
        .sum();
    let ev_sum: f64 = pca.explained_variance().iter().map(|&v| f64::from(v)).sum();
    let n = pca.n_samples() as f64;
    // For PCA the mean squared reconstruction error of the training rows is exactly the
    // variance left out: (total − Σ kept eigenvalues) · (n − 1) / n.
    let recon = ((pca.total_variance() - ev_sum) * (n - 1.0) / n).max(0.0);
    let mut summary = BTreeMap::new();
    summary.insert("fit_seconds".to_string(), json!(seconds));
    if fit_seconds.is_some() {
        summary.insert(
            "load_seconds".to_string(),
            json!((total_seconds - seconds).max(0.0)),
        );
    }
    summary.insert("explained_variance_ratio_sum".to_string(), json!(ratio_sum));
    summary.insert("train_recon_sse_per_example".to_string(), json!(recon));

    let model_config = Model::pca_config(&pca, &params);
    let model = Model::Pca(pca);
    let latent_dim = model.reduction().latent_dim();
    let config = RunConfig {
        format: "latent-run".to_string(),
        format_version: run::FORMAT_VERSION,
        latent_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: now_unix(),
        command: command_line,
        seed: args.seed,
        model: model_config,
        input_dim: data_info.dim,
        latent_dim,
        data: data_info,
        preprocess,
        display_range: display,
        summary,
        weights: WeightsInfo {
            file: String::new(),
            sha256: String::new(),
            layout: BTreeMap::new(),
        },
    };
    run::save(&args.out, &model, config, args.force)?;
    outln!(
        "fitted pca: {} → {latent_dim} dims, {:.1} % of the variance, in {seconds:.2} s",
        model.reduction().input_dim(),
        100.0 * ratio_sum
    );
    outln!(
        "training reconstruction error: {recon:.4} (squared error per example, summed over {} features)",
        model.reduction().input_dim()
    );
    outln!("run written to {}", args.out.display());
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Npy,
    Csv,
    Png,
}

fn out_kind(path: &Path, allowed: &[OutKind]) -> Result<OutKind> {
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

pub(crate) fn prepare_out(path: &Path, force: bool) -> Result<()> {
    run::check_writable(path, force)?;
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create directory", parent.display()))?;
    }
    Ok(())
}

/// `latent encode`.
pub fn encode(args: &EncodeArgs) -> Result<()> {
    let kind = out_kind(&args.out, &[OutKind::Npy, OutKind::Csv])?;
    prepare_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let data = load_data_for_run(&config, &args.data)?;
    let started = Instant::now();
    let codes = model.reduction().encode(data.x())?;
    let seconds = started.elapsed().as_secs_f64();
    match kind {
        OutKind::Csv => {
            let header: Vec<String> = (0..codes.ncols()).map(|j| format!("z{j}")).collect();
            csv::write_f32(&args.out, codes.view(), Some(&header))?;
        }
        _ => npy::write_f32(&args.out, codes.view())?,
    }
    outln!(
        "wrote {} codes of dimension {} to {} (encoded in {seconds:.3} s, {:.0} rows/s)",
        codes.nrows(),
        codes.ncols(),
        args.out.display(),
        codes.nrows() as f64 / seconds.max(1e-9)
    );
    Ok(())
}

fn read_codes(path: &Path) -> Result<Array2<f32>> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".npy") {
        Ok(npy::read_matrix(path)?)
    } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        Ok(csv::read_matrix(path)?)
    } else {
        Err(user(format!(
            "{}: codes must be a .npy or .csv file",
            path.display()
        )))
    }
}

fn image_shape_of(config: &RunConfig, run_dir: &Path) -> Result<ImageShape> {
    config.data.image_shape.ok_or_else(|| {
        user(format!(
            "{}: the run's data ({}) are not images; write .npy instead of .png",
            run_dir.display(),
            config.data.spec
        ))
    })
}

/// `latent decode`.
pub fn decode(args: &DecodeArgs) -> Result<()> {
    let kind = out_kind(&args.out, &[OutKind::Npy, OutKind::Png])?;
    prepare_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let codes = read_codes(&args.codes)?;
    if codes.ncols() != config.latent_dim {
        return Err(user(format!(
            "{}: codes have {} columns, but the run's latent dimension is {}",
            args.codes.display(),
            codes.ncols(),
            config.latent_dim
        )));
    }
    let decoded = config
        .preprocess
        .invert(model.reduction().decode(codes.view())?.view());
    match kind {
        OutKind::Png => {
            let shape = image_shape_of(&config, &args.run)?;
            let (big, big_shape) = crate::explore_cmd::zoom(decoded.view(), shape);
            image::write_grid(
                &args.out,
                big.view(),
                big_shape,
                args.columns.max(1),
                config.display_range,
            )?;
        }
        _ => match config.data.image_shape {
            Some(shape) => npy::write_f32_images(&args.out, decoded.view(), shape)?,
            None => npy::write_f32(&args.out, decoded.view())?,
        },
    }
    outln!(
        "decoded {} codes to {}",
        decoded.nrows(),
        args.out.display()
    );
    Ok(())
}

/// Mean over rows of the squared error summed over features.
pub fn sse_per_example(x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> f64 {
    let total: f64 = x
        .iter()
        .zip(y.iter())
        .map(|(&a, &b)| f64::from(a - b).powi(2))
        .sum();
    total / x.nrows().max(1) as f64
}

/// `latent reconstruct`.
pub fn reconstruct(args: &ReconstructArgs) -> Result<()> {
    out_kind(&args.out, &[OutKind::Png])?;
    if args.n == 0 {
        bail!(UserError("--n must be at least 1".into()));
    }
    prepare_out(&args.out, args.force)?;
    let (config, model) = run::load(&args.run)?;
    let shape = image_shape_of(&config, &args.run)?;
    let data = load_data_for_run(&config, &args.data)?;
    let recon = model.reduction().reconstruct(data.x())?;
    let err = sse_per_example(data.x(), recon.view());
    let n = args.n.min(data.n());
    let originals = config
        .preprocess
        .invert(data.x().slice(ndarray::s![..n, ..]));
    let recons = config.preprocess.invert(recon.slice(ndarray::s![..n, ..]));
    let (originals, big_shape) = crate::explore_cmd::zoom(originals.view(), shape);
    let (recons, _) = crate::explore_cmd::zoom(recons.view(), shape);
    image::write_comparison(
        &args.out,
        originals.view(),
        recons.view(),
        big_shape,
        args.columns.max(1),
        config.display_range,
    )?;
    outln!(
        "reconstruction error on {} ({} rows): {err:.4} (squared error per example, summed over {} features, model space)",
        data.name(),
        data.n(),
        data.dim()
    );
    outln!(
        "wrote {n} originals (top) and reconstructions (bottom) to {}",
        args.out.display()
    );
    Ok(())
}

fn describe_preprocess(p: &Preprocess) -> String {
    let scale = match &p.scaling {
        Scaling::None => "none".to_string(),
        Scaling::Unit { min, max } => format!("unit: [{min}, {max}] → [0, 1]"),
        Scaling::Standardize { .. } => "standardize: per-feature mean 0, std 1".to_string(),
    };
    match p.binarize {
        Binarize::None => scale,
        Binarize::Threshold { at } => format!("{scale}; binarized at {at}"),
        Binarize::Bernoulli { seed } => {
            format!("{scale}; binarized by one Bernoulli draw (seed {seed})")
        }
    }
}

/// `latent info`.
pub fn info(args: &InfoArgs) -> Result<()> {
    let (config, model) = run::load(&args.run)?;
    let r = model.reduction();
    let ratios: Option<Vec<f32>> = match &model {
        Model::Pca(p) => Some(p.explained_variance_ratio().to_vec()),
        Model::Nn(_) => None,
    };
    if args.json {
        let mut value = json!({
            "run": args.run,
            "method": r.method(),
            "input_dim": r.input_dim(),
            "latent_dim": r.latent_dim(),
            "config": config,
        });
        if let Some(ratios) = &ratios {
            value["explained_variance_ratio"] = json!(ratios);
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    outln!("run          {}", args.run.display());
    match &config.model {
        run::ModelConfig::Pca { params, whiten, .. } => {
            let params = params.check_ref()?;
            outln!(
                "model        pca ({} solver, {} precision, {}, seed {})",
                format!("{:?}", params.solver()).to_lowercase(),
                format!("{:?}", params.precision()).to_lowercase(),
                if *whiten { "whitened" } else { "not whitened" },
                config.seed
            );
        }
        run::ModelConfig::Nn {
            net,
            train,
            device,
            epochs_run,
            stopped_early,
        } => {
            let arch = if net.kind == latent_nn::ModelKind::LinearAe {
                "linear".to_string()
            } else if net.arch == latent_nn::Arch::Conv {
                format!(
                    "conv {:?} then dense {:?}, {:?}",
                    net.conv_channels, net.hidden, net.activation
                )
                .to_lowercase()
            } else {
                format!(
                    "mlp {}-{}-{}, {:?}",
                    net.input_dim,
                    net.hidden
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join("-"),
                    net.latent_dim,
                    net.activation
                )
                .to_lowercase()
            };
            let vae = if net.is_vae() {
                format!(
                    ", {:?} posterior, {:?} likelihood, β {}",
                    net.posterior, net.likelihood, train.beta
                )
            } else {
                ", squared error".to_string()
            };
            outln!("model        {} ({arch}{vae})", net.kind.name());
            outln!(
                "training     {epochs_run} epochs{}, Adam lr {} batch {}, seed {}, device {device}",
                if *stopped_early {
                    " (stopped early)"
                } else {
                    ""
                },
                train.lr,
                train.batch_size,
                config.seed
            );
        }
    }
    let split = config
        .data
        .split
        .map(|s| format!(" ({s:?} split)").to_lowercase())
        .unwrap_or_default();
    let img = config
        .data
        .image_shape
        .map(|s| format!(", images {s}"))
        .unwrap_or_default();
    outln!(
        "data         {}{split}: {} × {}{img}",
        config.data.spec,
        config.data.n,
        config.data.dim
    );
    outln!("preprocess   {}", describe_preprocess(&config.preprocess));
    outln!("latent dim   {}", r.latent_dim());
    if let Some(ratios) = &ratios {
        let total: f32 = ratios.iter().sum();
        let first: Vec<String> = ratios
            .iter()
            .take(5)
            .map(|v| format!("{:.1} %", 100.0 * v))
            .collect();
        outln!(
            "explained    {:.1} % of the total variance (first components: {})",
            100.0 * total,
            first.join(", ")
        );
    }
    if let Some(v) = config.summary.get("train_recon_sse_per_example") {
        outln!(
            "recon error  {:.4} on the training data (squared error per example, summed over features)",
            v.as_f64().unwrap_or(f64::NAN)
        );
    }
    let get = |k: &str| config.summary.get(k).and_then(serde_json::Value::as_f64);
    if let Some(loss) = get("train_loss") {
        let units = config
            .summary
            .get("loss_units")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let val = get("val_loss")
            .map(|v| format!(", validation {v:.4}"))
            .unwrap_or_default();
        outln!(
            "final loss   {loss:.4} (recon {:.4} + kl {:.4}){val}, {units}",
            get("train_recon").unwrap_or(f64::NAN),
            get("train_kl").unwrap_or(f64::NAN)
        );
    }
    if let Some(v) = get("fit_seconds") {
        outln!("fit time     {v:.2} s");
    }
    outln!(
        "written by   latent {} (run format {})",
        config.latent_version,
        config.format_version
    );
    Ok(())
}

/// `latent eval`: per-example figures on a data set. Metrics that do not apply to the model
/// are absent, not zero.
pub fn eval(args: &crate::cli::EvalArgs) -> Result<()> {
    let (config, model) = run::load(&args.run)?;
    let data = load_data_for_run(&config, &args.data)?;
    // The reference rows (nearest neighbours, the classifier, the code Gaussian) are the run's
    // training data; when the evaluation data is that same data, a seeded half of it is
    // (`Err` says why).
    let reference = match &config.data.args {
        Some(a) if *a == args.data => {
            Err("the evaluation data is the training data: half of it serves as the reference set")
        }
        Some(a) => Ok(a),
        None => Err(
            "the run does not record its training data: half of the evaluation data serves as the reference set",
        ),
    };
    let (train, test) = match reference {
        Ok(a) => (config.preprocess.apply(load_raw(a)?)?, data),
        Err(why) => {
            outln_err(why, args.json);
            data.split(0.5, latent_core::seed::derive(args.seed, "eval-halves"))?
        }
    };
    let settings = crate::evaluate::EvalSettings {
        seed: args.seed,
        iw_samples: args.iw_samples,
        samples: args.samples,
        continuity_points: args.continuity_points,
        classifier: !args.no_classifier,
        ..Default::default()
    };
    let quiet = args.json;
    let mut log = |m: &str| outln_err(m, quiet);
    let bench =
        crate::evaluate::Bench::new(train, test, settings, &latent_nn::cpu_device(), &mut log)?;
    for n in bench.notes() {
        log(n);
    }
    let mut out = crate::evaluate::evaluate(&model, &bench, &mut log)?;
    for (k, v) in bench.summary() {
        if matches!(
            k.as_str(),
            "frechet_data" | "data_confidence" | "test_nn_distance"
        ) {
            out.insert(k, v);
        }
    }
    if args.json {
        let mut o = std::io::stdout().lock();
        serde_json::to_writer(&mut o, &serde_json::Value::Object(out))
            .map_err(std::io::Error::from)?;
        writeln!(o)?;
        return Ok(());
    }
    outln!(
        "{} on {} ({} rows), per example:",
        model.reduction().method(),
        bench.test().name(),
        bench.test().n()
    );
    for (k, v) in &out {
        if k == "n" || k == "kl_per_dim" {
            continue;
        }
        let shown = match v.as_u64() {
            Some(i) => i.to_string(),
            None => v
                .as_f64()
                .map_or_else(|| v.to_string(), |f| format!("{f:.4}")),
        };
        outln!("  {k:<20} {shown}");
    }
    outln!(
        "  (recon_mse: squared error summed over features; likelihoods in nats; elbo from one posterior sample per row;\n   \
         continuity, completeness, frechet: see README, \"Metrics\")"
    );
    Ok(())
}

/// A progress remark on stderr (not with `--json`, which keeps stdout clean anyway).
fn outln_err(msg: &str, quiet: bool) {
    if !quiet {
        eprintln!("{msg}");
    }
}

/// `FitArgs` from `latent fit` arguments, as the command line would give them.
pub(crate) fn parse_fit(args: &[&str]) -> Result<FitArgs> {
    let argv = ["latent", "fit"].iter().chain(args.iter());
    match crate::cli::Cli::try_parse_from(argv) {
        Ok(crate::cli::Cli {
            command: crate::cli::Command::Fit(a),
        }) => Ok(*a),
        Ok(_) => Err(anyhow::anyhow!("internal: not a fit command")),
        Err(e) => Err(anyhow::anyhow!("internal: demo arguments rejected: {e}")),
    }
}

/// `latent demo`: `latent compare` on the embedded Fashion-MNIST-10k with settings that
/// finish in about three minutes on two cores; prints the reading and where the report is.
pub fn demo(args: &DemoArgs) -> Result<()> {
    let out = args.out.to_string_lossy().into_owned();
    // (latent dims, epochs, hidden, importance samples, decoded samples)
    let (dims, epochs, hidden, iw, samples) = if args.quick {
        ("2,5", "2", "128", "10", "500")
    } else {
        ("2,10,20", "20", "256", "100", "2000")
    };
    let mut argv = vec![
        "latent",
        "compare",
        "--data",
        "fashion-mnist-10k",
        "--latent-dims",
        dims,
        "--betas",
        "0.5,1,4",
        "--epochs",
        epochs,
        "--hidden",
        hidden,
        "--iw-samples",
        iw,
        "--samples",
        samples,
        "--out",
        &out,
    ];
    if args.force {
        argv.push("--force");
    }
    outln!(
        "latent demo: PCA, a linear autoencoder, a deep autoencoder and VAEs (β = 0.5, 1, 4) at \
         latent dimensions {dims} on the embedded Fashion-MNIST-10k (80 % train, 20 % test).\n\
         Same as: {}\n",
        argv.join(" ")
    );
    let cmd = match crate::cli::Cli::try_parse_from(&argv) {
        Ok(crate::cli::Cli {
            command: crate::cli::Command::Compare(a),
        }) => a,
        Ok(_) => bail!("internal: not a compare command"),
        Err(e) => bail!("internal: demo arguments rejected: {e}"),
    };
    crate::compare::compare(&cmd)?;
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(args.out.join("summary.json"))
            .with_context(|| format!("{}: cannot read", args.out.display()))?,
    )
    .context("summary.json")?;
    outln!("\n== what the numbers show (details in the report)");
    if let Some(lines) = summary["reading"].as_array() {
        for l in lines.iter().filter_map(serde_json::Value::as_str) {
            outln!("- {l}");
        }
    }
    outln!(
        "\ndemo written to {}: open {} in a browser",
        args.out.display(),
        args.out.join("report.html").display()
    );
    Ok(())
}
