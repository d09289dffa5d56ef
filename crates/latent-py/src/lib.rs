//! `latent._latent`: the native core of the Python package `latent` (`python/latent`).
//!
//! A thin layer over the `latent` library, the same one the `latent` command calls:
//! - `fit` trains any family on a NumPy array lent to [`latent::fit::fit_lent`] (the code
//!   path of `latent fit`: same preprocessing, seeds and training, so the same rows, settings
//!   and seed give the same weights; PCA reads the array in place), in a temporary run
//!   directory that is read back and removed;
//! - `Native` holds a fitted model (its `config.json` and weights, the training history, the
//!   Gaussian fitted to the training codes of a model without a prior) and encodes, decodes,
//!   samples, interpolates, scores, saves ([`latent::run::save`]: a run directory the CLI
//!   reads) and serialises itself for pickling;
//! - `load` reads a run directory written by the CLI or by `Native.save`.
//!
//! Arrays come in as NumPy `float32`, `float64` or `uint8` (2-D, any order): a C-ordered
//! `float32` array is read in place (no copy); others are converted once. Arrays go out as
//! `float32`. Long work runs with the GIL released; every error becomes a Python exception
//! (`ValueError` for the user's input or settings, with the CLI's message; `RuntimeError`
//! otherwise), and a panic is caught before it reaches Python.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use clap::ValueEnum;
use latent::compare::CompareSpec;
use latent::fit::{BinarizeChoice, FitEvents, FitSpec, LatentDim, LikelihoodChoice};
use latent::run::{self, Model, ModelConfig, RunConfig};
use latent::{DataSource, Error, Family};
use latent_core::{Dataset, ImageShape, Posterior, ValueRange};
use latent_data::lent::LentRows;
use latent_explore::CodeGaussian;
use latent_nn::{EpochMetrics, Observer};
use ndarray::{Array1, Array2, ArrayView2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------
// errors

/// An error's message with its causes, as the CLI prints them (`caused by:` lines for the
/// causes whose text the message does not already hold).
fn message(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str("\n  caused by: ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// `ValueError` for what the user's input or settings caused (the CLI's exit code 1),
/// `RuntimeError` for the rest (exit code 2).
fn py_err(e: Error) -> PyErr {
    let text = message(&e);
    if e.is_user_error() {
        PyValueError::new_err(text)
    } else {
        PyRuntimeError::new_err(text)
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Run `f` with the GIL released and any panic caught: the result, or the Python exception
/// for its error.
fn guarded<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> latent::Result<T> + Send,
    T: Send,
{
    match py.detach(move || catch_unwind(AssertUnwindSafe(f))) {
        Ok(result) => result.map_err(py_err),
        Err(payload) => Err(PyRuntimeError::new_err(format!(
            "internal error (a bug in latent, please report it): {}",
            panic_text(payload.as_ref())
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// arrays in and out

/// Rows given from Python: a C-ordered `float32` array read in place, or a converted copy.
enum Rows<'py> {
    /// Borrowed: no copy.
    Borrowed(PyReadonlyArray2<'py, f32>),
    /// Converted to `float32`, C order.
    Owned(Array2<f32>),
}

impl Rows<'_> {
    fn view(&self) -> ArrayView2<'_, f32> {
        match self {
            Rows::Borrowed(a) => a.as_array(),
            Rows::Owned(a) => a.view(),
        }
    }
}

/// The rows of `x`, a 2-D NumPy array of `float32`, `float64` or `uint8` in any order, and
/// whether they are 8-bit values (whose range, 0..255, is known, as for a `|u1` `.npy`
/// file).
fn rows<'py>(x: &Bound<'py, PyAny>, what: &str) -> PyResult<(Rows<'py>, bool)> {
    let busy = |e: numpy::BorrowError| PyValueError::new_err(format!("{what}: {e}"));
    if let Ok(a) = x.cast::<PyArray2<f32>>() {
        let r = a.try_readonly().map_err(busy)?;
        if a.is_c_contiguous() {
            return Ok((Rows::Borrowed(r), false));
        }
        let v = r.as_array();
        return Ok((
            Rows::Owned(Array2::from_shape_fn(v.dim(), |(i, j)| v[[i, j]])),
            false,
        ));
    }
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        let r = a.try_readonly().map_err(busy)?;
        let v = r.as_array();
        // as the NPY reader converts `<f8`: rounded to the nearest f32
        let owned = Array2::from_shape_fn(v.dim(), |(i, j)| v[[i, j]] as f32);
        return Ok((Rows::Owned(owned), false));
    }
    if let Ok(a) = x.cast::<PyArray2<u8>>() {
        let r = a.try_readonly().map_err(busy)?;
        let v = r.as_array();
        let owned = Array2::from_shape_fn(v.dim(), |(i, j)| f32::from(v[[i, j]]));
        return Ok((Rows::Owned(owned), true));
    }
    let described = match x.cast::<PyUntypedArray>() {
        Ok(a) => format!(
            "a {}-D array of dtype {}",
            a.ndim(),
            a.dtype()
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into())
        ),
        Err(_) => x
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into()),
    };
    Err(PyValueError::new_err(format!(
        "{what}: expected a 2-D NumPy array of float32, float64 or uint8, got {described}"
    )))
}

fn out2<'py>(py: Python<'py>, a: Array2<f32>) -> Bound<'py, PyArray2<f32>> {
    a.into_pyarray(py)
}

// ---------------------------------------------------------------------------------------
// settings: the Python estimator's parameters, mirroring `latent fit`'s flags

/// The settings of one fit, as the Python estimator passes them (JSON: a key per
/// parameter, `null` for "the default").
struct Settings<'a> {
    map: &'a Map<String, Value>,
}

impl Settings<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn bad(key: &str, v: &Value, expected: &str) -> Error {
        invalid(format!(
            "{key}={v} (--{}): expected {expected}",
            key.replace('_', "-")
        ))
    }

    fn usize(&self, key: &str) -> latent::Result<Option<usize>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Self::bad(key, v, "a non-negative integer"))
            })
            .transpose()
    }

    fn u64(&self, key: &str) -> latent::Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| Self::bad(key, v, "a non-negative integer"))
            })
            .transpose()
    }

    fn f64(&self, key: &str) -> latent::Result<Option<f64>> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| Self::bad(key, v, "a number")))
            .transpose()
    }

    fn bool(&self, key: &str) -> latent::Result<Option<bool>> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| Self::bad(key, v, "True or False"))
            })
            .transpose()
    }

    fn str(&self, key: &str) -> latent::Result<Option<&str>> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| Self::bad(key, v, "a string")))
            .transpose()
    }

    /// One of the CLI's values for the flag (the same names: clap's `ValueEnum`).
    fn choice<T: ValueEnum>(&self, key: &str) -> latent::Result<Option<T>> {
        let Some(s) = self.str(key)? else {
            return Ok(None);
        };
        T::from_str(s, false).map(Some).map_err(|_| {
            let names: Vec<String> = T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|p| p.get_name().to_string())
                .collect();
            invalid(format!(
                "invalid value '{s}' for {key} (--{}): possible values: {}",
                key.replace('_', "-"),
                names.join(", ")
            ))
        })
    }

    /// A list of positive widths (`hidden`, `conv_channels`).
    fn widths(&self, key: &str) -> latent::Result<Option<Vec<usize>>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let expected = "a list of positive integers (layer widths)";
        let items = v.as_array().ok_or_else(|| Self::bad(key, v, expected))?;
        items
            .iter()
            .map(|w| {
                w.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Self::bad(key, v, expected))
            })
            .collect::<latent::Result<Vec<_>>>()
            .map(Some)
    }
}

/// Every key the Python estimators pass.
const KNOWN: &[&str] = &[
    "family",
    "latent",
    "seed",
    "scale",
    "binarize",
    "image_shape",
    "solver",
    "whiten",
    "precision",
    "power_iters",
    "oversamples",
    "batch_size",
    "hidden",
    "arch",
    "conv_channels",
    "activation",
    "posterior",
    "likelihood",
    "sigma",
    "shared_sigma",
    "epochs",
    "lr",
    "adam_beta1",
    "adam_beta2",
    "adam_eps",
    "weight_decay",
    "lr_schedule",
    "beta",
    "kl_warmup",
    "val_fraction",
    "early_stopping",
    "dynamic_binarize",
    "device",
    "engine",
];

/// The fit the settings describe (`name` names the data in messages and in the run), and the
/// image layout of the rows, if given.
fn spec_of(settings: &Value, name: &str) -> latent::Result<(FitSpec, Option<ImageShape>)> {
    let map = settings
        .as_object()
        .ok_or_else(|| Error::Internal("settings are not a JSON object".into()))?;
    if let Some(k) = map.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::Internal(format!("unknown setting `{k}`")));
    }
    let s = Settings { map };
    let family: Family = s
        .choice("family")?
        .ok_or_else(|| Error::Internal("no family".into()))?;
    let latent = match s.get("latent") {
        Some(Value::Number(n)) => LatentDim::parse(&n.to_string(), family)?,
        Some(v) => return Err(Settings::bad("latent_dim", v, "a positive integer")),
        None => return Err(Error::Internal("no latent dimension".into())),
    };
    let mut spec = FitSpec::new(family, DataSource::new(name), latent);
    if let Some(v) = s.u64("seed")? {
        spec.seed = v;
    }
    if let Some(v) = s.choice("scale")? {
        spec.scale = v;
    }
    spec.binarize = match s.str("binarize")? {
        None => BinarizeChoice::None,
        Some(b) => b.parse()?,
    };
    let p = &mut spec.pca;
    if let Some(v) = s.choice("solver")? {
        p.solver = v;
    }
    if let Some(v) = s.bool("whiten")? {
        p.whiten = v;
    }
    if let Some(v) = s.choice("precision")? {
        p.precision = v;
    }
    p.power_iters = s.usize("power_iters")?;
    if let Some(v) = s.usize("oversamples")? {
        p.oversamples = v;
    }
    spec.batch_size = s.usize("batch_size")?;
    let n = &mut spec.net;
    if let Some(v) = s.widths("hidden")? {
        n.hidden = v;
    }
    if let Some(v) = s.choice("arch")? {
        n.arch = v;
    }
    if let Some(v) = s.widths("conv_channels")? {
        n.conv_channels = v;
    }
    if let Some(v) = s.choice("activation")? {
        n.activation = v;
    }
    if let Some(v) = s.choice("posterior")? {
        n.posterior = v;
    }
    n.likelihood = s.choice::<LikelihoodChoice>("likelihood")?;
    if let Some(v) = s.f64("sigma")? {
        n.sigma = v as f32;
    }
    if let Some(v) = s.bool("shared_sigma")? {
        n.shared_sigma = v;
    }
    let t = &mut spec.train;
    t.epochs = s.usize("epochs")?;
    if let Some(v) = s.f64("lr")? {
        t.lr = v;
    }
    if let Some(v) = s.f64("adam_beta1")? {
        t.adam_beta1 = v;
    }
    if let Some(v) = s.f64("adam_beta2")? {
        t.adam_beta2 = v;
    }
    if let Some(v) = s.f64("adam_eps")? {
        t.adam_eps = v;
    }
    if let Some(v) = s.f64("weight_decay")? {
        t.weight_decay = v;
    }
    if let Some(v) = s.str("lr_schedule")? {
        t.schedule = latent::fit::parse_schedule(v)?;
    }
    if let Some(v) = s.f64("beta")? {
        t.beta = v;
    }
    if let Some(v) = s.usize("kl_warmup")? {
        t.kl_warmup = v;
    }
    if let Some(v) = s.f64("val_fraction")? {
        t.val_fraction = v;
    }
    t.early_stopping = s.usize("early_stopping")?;
    if let Some(v) = s.bool("dynamic_binarize")? {
        t.dynamic_binarize = v;
    }
    if let Some(v) = s.str("device")? {
        spec.device = v.to_string();
    }
    if let Some(v) = s.choice("engine")? {
        spec.engine = v;
    }
    let image = image_shape_of(&s)?;
    Ok((spec, image))
}

/// The image layout of the rows, if `image_shape` gives it.
fn image_shape_of(s: &Settings<'_>) -> latent::Result<Option<ImageShape>> {
    Ok(match s.get("image_shape") {
        None => None,
        Some(v) => {
            let dims: Option<Vec<usize>> = v.as_array().and_then(|a| {
                a.iter()
                    .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                    .collect()
            });
            match dims.as_deref() {
                Some(&[height, width]) => Some(ImageShape::gray(height, width)),
                Some(&[height, width, channels]) => Some(ImageShape {
                    height,
                    width,
                    channels,
                }),
                _ => {
                    return Err(Settings::bad(
                        "image_shape",
                        v,
                        "(height, width) or (height, width, channels)",
                    ));
                }
            }
        }
    })
}

/// The rows of `x` as a data set named `name`: 8-bit values with their known range, the
/// image layout and the labels when given.
fn dataset_of(
    name: &str,
    x: ArrayView2<'_, f32>,
    eight_bit: bool,
    image: Option<ImageShape>,
    y: Option<&[i64]>,
) -> latent::Result<Dataset> {
    let mut data = Dataset::new(name, x.to_owned())?;
    if eight_bit {
        data = data.with_range(Some(ValueRange {
            min: 0.0,
            max: 255.0,
        }));
    }
    if let Some(shape) = image {
        data = data.with_image_shape(shape)?;
    }
    if let Some(y) = y {
        let labels = y
            .iter()
            .map(|&v| u32::try_from(v))
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| invalid(format!("{name}: labels must be integers ≥ 0")))?;
        data = data.with_labels(labels)?;
    }
    Ok(data)
}

// ---------------------------------------------------------------------------------------
// progress and interrupts

/// What a fit reports to Python: each event to the estimator's callback (when verbose), and
/// after every step a check for a pending signal (Ctrl-C), which stops training.
struct Events {
    callback: Option<Py<PyAny>>,
    /// The exception a signal handler raised (KeyboardInterrupt), to re-raise.
    interrupt: Option<PyErr>,
}

impl Events {
    fn tell(&mut self, kind: &str, payload: impl FnOnce(Python<'_>) -> PyResult<Py<PyAny>>) {
        let Some(cb) = &self.callback else {
            return;
        };
        let outcome =
            Python::attach(
                |py| match payload(py).and_then(|p| cb.call1(py, (kind, p))) {
                    Ok(_) => Ok(()),
                    // Ctrl-C handled while the callback ran Python: the fit stops at the next step,
                    // as when `proceed` sees it (printing it here would lose the user's Ctrl-C)
                    Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => Err(Some(e)),
                    Err(e) => {
                        e.print(py);
                        Err(None)
                    }
                },
            );
        match outcome {
            Ok(()) => {}
            Err(Some(interrupt)) => self.interrupt = Some(interrupt),
            // a callback that fails is dropped (progress is not worth stopping a fit for)
            Err(None) => self.callback = None,
        }
    }
}

impl Observer for Events {
    fn epoch_start(&mut self, epoch: usize, steps: usize) {
        self.tell("epoch_start", |py| {
            Ok((epoch, steps).into_pyobject(py)?.into_any().unbind())
        });
    }
    fn epoch_end(&mut self, m: &EpochMetrics, _history: &[EpochMetrics]) -> latent_nn::Result<()> {
        let json = serde_json::to_string(m).unwrap_or_default();
        self.tell("epoch", |py| {
            Ok(json.into_pyobject(py)?.into_any().unbind())
        });
        Ok(())
    }
    fn proceed(&mut self) -> Result<(), String> {
        if self.interrupt.is_some() {
            return Err("interrupted from Python (KeyboardInterrupt)".into());
        }
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            self.interrupt = Some(e);
            return Err("interrupted from Python (KeyboardInterrupt)".into());
        }
        Ok(())
    }
    fn note(&mut self, message: &str) {
        self.tell("note", |py| {
            Ok(message.into_pyobject(py)?.into_any().unbind())
        });
    }
}

impl FitEvents for Events {
    fn stage(&mut self, what: &str) {
        self.tell("stage", |py| {
            Ok(what.into_pyobject(py)?.into_any().unbind())
        });
    }
    fn info(&mut self, line: &str) {
        self.tell("info", |py| Ok(line.into_pyobject(py)?.into_any().unbind()));
    }
    fn training(&mut self, epochs: usize, vae: bool) {
        self.tell("training", |py| {
            Ok((epochs, vae).into_pyobject(py)?.into_any().unbind())
        });
    }
}

impl latent::compare::CompareEvents for Events {
    fn log(&mut self, line: &str) {
        self.tell("log", |py| Ok(line.into_pyobject(py)?.into_any().unbind()));
    }
}

// ---------------------------------------------------------------------------------------
// the fitted model

/// A fitted model and what the Python estimator needs besides.
struct Inner {
    config: RunConfig,
    model: Model,
    history: Vec<EpochMetrics>,
    /// The Gaussian fitted to the training codes (models without a prior), for `sample`.
    gaussian: Option<CodeGaussian>,
}

impl Inner {
    fn family(&self) -> Family {
        match &self.config.model {
            ModelConfig::Pca { .. } => Family::Pca,
            ModelConfig::Nn { net, .. } => match net.kind {
                latent_nn::ModelKind::LinearAe => Family::LinearAe,
                latent_nn::ModelKind::Ae => Family::Ae,
                latent_nn::ModelKind::Vae => Family::Vae,
            },
        }
    }

    /// `x` checked against the model's width and preprocessed as the run says (no copy when
    /// the run's preprocessing is the identity).
    fn prepared<'a>(&self, x: ArrayView2<'a, f32>) -> latent::Result<Prepared<'a>> {
        self.model.reduction().check_input("X", x)?;
        if self.config.preprocess == latent_data::transform::Preprocess::identity() {
            Ok(Prepared::Same(x))
        } else {
            Ok(Prepared::Scaled(self.config.preprocess.apply_rows(x)?))
        }
    }

    /// The Gaussian of the training codes, fitted now from the run's own data when the
    /// model was not fitted in this process.
    fn code_gaussian(&mut self) -> latent::Result<&CodeGaussian> {
        if self.gaussian.is_none() {
            // PCA's in closed form; otherwise fitted to the codes of the run's training data
            let source = latent::sampler::LatentSource::for_training_data(&self.model, || {
                let data = self.config.training_data().map_err(|e| {
                    invalid(format!(
                        "{e}: a {} has no prior, so samples come from a Gaussian fitted to \
                         the codes of its training data, which this run does not record; pass \
                         X= (the training rows) to sample",
                        self.family().label()
                    ))
                })?;
                Ok(self.model.reduction().encode(data.x())?)
            })?;
            self.gaussian = source.into_gaussian();
        }
        self.gaussian
            .as_ref()
            .ok_or_else(|| Error::Internal("no code Gaussian".into()))
    }
}

/// Rows as the model takes them.
enum Prepared<'a> {
    Same(ArrayView2<'a, f32>),
    Scaled(Array2<f32>),
}

impl Prepared<'_> {
    fn view(&self) -> ArrayView2<'_, f32> {
        match self {
            Prepared::Same(v) => v.view(),
            Prepared::Scaled(a) => a.view(),
        }
    }
}

/// A fitted latent model (any family): what `latent.PCA`, `latent.VAE`… hold once fitted.
#[pyclass(module = "latent._latent", name = "Native", frozen)]
struct Native {
    inner: Mutex<Inner>,
}

impl Native {
    fn new(inner: Inner) -> Self {
        Native {
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> latent::Result<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Internal("a previous call panicked while using this model".into()))
    }

    fn locked(&self) -> PyResult<MutexGuard<'_, Inner>> {
        self.lock().map_err(py_err)
    }
}

/// The fitted model's files, written to a temporary directory and read back: what a pickle
/// holds.
fn files_of(inner: &Inner) -> latent::Result<(Vec<u8>, Vec<u8>)> {
    let tmp = tempdir()?;
    run::write_files(tmp.path(), &inner.model, inner.config.clone())?;
    let read = |name: &str| {
        let path = tmp.path().join(name);
        std::fs::read(&path).map_err(|source| Error::Io { path, source })
    };
    Ok((read(run::CONFIG_FILE)?, read(run::WEIGHTS_FILE)?))
}

fn tempdir() -> latent::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("latent-py-")
        .tempdir()
        .map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            source,
        })
}

#[pymethods]
impl Native {
    /// The family: "pca", "linear-ae", "ae" or "vae".
    #[getter]
    fn family(&self) -> PyResult<&'static str> {
        Ok(self.locked()?.family().name())
    }

    /// Features of an input row.
    #[getter]
    fn input_dim(&self) -> PyResult<usize> {
        Ok(self.locked()?.config.input_dim)
    }

    /// The latent dimension.
    #[getter]
    fn latent_dim(&self) -> PyResult<usize> {
        Ok(self.locked()?.config.latent_dim)
    }

    /// The run's `config.json` (without the weights' checksum, filled in when written).
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.locked()?.config)
            .map_err(|e| PyRuntimeError::new_err(format!("serializing the config: {e}")))
    }

    /// The per-epoch metrics of training, as JSON (an empty list for PCA).
    fn history_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.locked()?.history)
            .map_err(|e| PyRuntimeError::new_err(format!("serializing the history: {e}")))
    }

    /// The codes of the rows of `x` (the posterior mean for a VAE), `n × K`.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, _) = rows(x, "X")?;
        let x = x.view();
        let z = guarded(py, || {
            let inner = self.lock()?;
            let prepared = inner.prepared(x)?;
            Ok(inner.model.reduction().encode(prepared.view())?)
        })?;
        Ok(out2(py, z))
    }

    /// The decodings of the codes `z`, in the data's own units (the run's scaling inverted).
    fn decode<'py>(
        &self,
        py: Python<'py>,
        z: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (z, _) = rows(z, "Z")?;
        let z = z.view();
        let x = guarded(py, || {
            let inner = self.lock()?;
            let decoded = inner.model.reduction().decode(z)?;
            Ok(inner.config.preprocess.invert(decoded.view()))
        })?;
        Ok(out2(py, x))
    }

    /// The posterior of each row (VAE): a dict with `mean` (n × K) and `log_var` (n × K,
    /// diagonal posterior) or `scale_tril` (n × K × K Cholesky factors, full posterior).
    fn encode_distribution<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (x, _) = rows(x, "X")?;
        let x = x.view();
        let posterior = guarded(py, || {
            let inner = self.lock()?;
            let Some(p) = inner.model.probabilistic() else {
                return Err(invalid(format!(
                    "a {} has a deterministic encoder and no posterior (transform gives its \
                     codes); encode_distribution is for the VAE",
                    inner.family().label()
                )));
            };
            let prepared = inner.prepared(x)?;
            Ok(p.encode_distribution(prepared.view())?)
        })?;
        let d = PyDict::new(py);
        match posterior {
            Posterior::Diagonal { mean, log_var } => {
                d.set_item("mean", mean.into_pyarray(py))?;
                d.set_item("log_var", log_var.into_pyarray(py))?;
            }
            Posterior::Full { mean, scale_tril } => {
                d.set_item("mean", mean.into_pyarray(py))?;
                d.set_item("scale_tril", scale_tril.into_pyarray(py))?;
            }
        }
        Ok(d)
    }

    /// VAE: the mean ELBO per example (one posterior sample per row, seeded from the run's
    /// seed); other families: minus the mean squared reconstruction error per example (summed
    /// over features, in the model's scaled space, as `latent eval`'s `recon_mse`).
    fn score(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<f64> {
        let (x, _) = rows(x, "X")?;
        let x = x.view();
        guarded(py, || {
            let inner = self.lock()?;
            let prepared = inner.prepared(x)?;
            let xs = prepared.view();
            if let (Model::Nn(m), true) = (&inner.model, inner.family() == Family::Vae) {
                let seed = latent_core::seed::derive(inner.config.seed, "score");
                let [loss, _, _] = m.losses(xs, seed)?;
                return Ok(-loss);
            }
            let recon = inner.model.reduction().reconstruct(xs)?;
            let sse: f64 = xs
                .iter()
                .zip(recon.iter())
                .map(|(&a, &b)| f64::from(a - b).powi(2))
                .sum();
            Ok(-sse / xs.nrows() as f64)
        })
    }

    /// `n` decoded samples in the data's units: the prior of a VAE (as `latent sample`), or
    /// a Gaussian fitted to the training codes (of `x` when given) for the other families.
    #[pyo3(signature = (n, seed, temperature, x=None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        temperature: f32,
        x: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let given = x.map(|x| rows(x, "X")).transpose()?;
        let given = given.as_ref().map(|(r, _)| r.view());
        let out = guarded(py, || {
            let mut inner = self.lock()?;
            let source = if inner.model.probabilistic().is_some() {
                latent::sampler::LatentSource::Prior
            } else if let Some(x) = given {
                let prepared = inner.prepared(x)?;
                let codes = inner.model.reduction().encode(prepared.view())?;
                latent::sampler::LatentSource::Fitted(CodeGaussian::fit(codes.view())?)
            } else {
                latent::sampler::LatentSource::Fitted(inner.code_gaussian()?.clone())
            };
            let (_, samples) = latent::figures::sample_strips(
                &inner.model,
                &source,
                n,
                temperature,
                seed,
                n.max(1),
            )?;
            Ok(inner.config.preprocess.invert(samples.decoded.view()))
        })?;
        Ok(out2(py, out))
    }

    /// `steps` decodings (data units) on the path between the codes of the two rows of `x`.
    fn interpolate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        steps: usize,
        slerp: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (x, _) = rows(x, "the endpoints")?;
        let x = x.view();
        let out = guarded(py, || {
            let inner = self.lock()?;
            let prepared = inner.prepared(x)?;
            let path = if slerp {
                latent_explore::Interpolation::Slerp
            } else {
                latent_explore::Interpolation::Lerp
            };
            let strips = latent_explore::interpolate(
                inner.model.reduction(),
                prepared.view(),
                &[(0, 1)],
                steps,
                path,
            )?;
            let strip = strips
                .into_iter()
                .next()
                .ok_or_else(|| Error::Internal("no interpolation".into()))?;
            Ok(inner.config.preprocess.invert(strip.view()))
        })?;
        Ok(out2(py, out))
    }

    /// The model's arrays by name: PCA's `components`, `explained_variance`,
    /// `explained_variance_ratio`, `singular_values`, `mean` (and the scalar
    /// `noise_variance`); a network's parameters (burn's layout, `[d_in, d_out]`).
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = self.locked()?;
        let d = PyDict::new(py);
        match &inner.model {
            Model::Pca(p) => {
                let parts = p.to_parts();
                d.set_item("components", parts.components.into_pyarray(py))?;
                d.set_item(
                    "explained_variance",
                    parts.explained_variance.into_pyarray(py),
                )?;
                d.set_item(
                    "explained_variance_ratio",
                    parts.explained_variance_ratio.into_pyarray(py),
                )?;
                d.set_item("singular_values", parts.singular_values.into_pyarray(py))?;
                d.set_item("mean", parts.mean.into_pyarray(py))?;
                d.set_item("noise_variance", parts.noise_variance)?;
            }
            Model::Nn(m) => {
                let params = m.params().map_err(|e| py_err(e.into()))?;
                for (k, v) in params {
                    d.set_item(k, v.into_pyarray(py))?;
                }
            }
        }
        Ok(d)
    }

    /// Every figure `latent eval` gives of the model on the rows of `x` (labels `y`, for the
    /// classifier-based figures), as `latent eval --json`'s keys (JSON text). The reference
    /// rows (nearest neighbours, the classifier's training rows, the code Gaussian of a model
    /// without a prior) are `reference` when given; else, as `latent eval` does, the run's
    /// recorded training data less the rows of `x`, or, when the run records none (a model
    /// fitted in Python) or nothing is left, a seeded half of `x`. `log` hears each step.
    #[pyo3(signature = (x, y, reference, reference_y, seed, iw_samples, samples, continuity_points, classifier, log=None))]
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: Option<Vec<i64>>,
        reference: Option<&Bound<'_, PyAny>>,
        reference_y: Option<Vec<i64>>,
        seed: u64,
        iw_samples: usize,
        samples: usize,
        continuity_points: usize,
        classifier: bool,
        log: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let (x, _) = rows(x, "X")?;
        let x = x.view();
        let given = reference.map(|r| rows(r, "X_reference")).transpose()?;
        let given = given.as_ref().map(|(r, _)| r.view());
        guarded(py, || {
            let inner = self.lock()?;
            let mut say = |m: &str| {
                if let Some(cb) = &log {
                    Python::attach(|py| {
                        if let Err(e) = cb.call1(py, (m,)) {
                            e.print(py);
                        }
                    });
                }
            };
            let labelled = |name: &str, x: ArrayView2<'_, f32>, y: &Option<Vec<i64>>| {
                let d = dataset_of(name, x, false, None, y.as_deref())?;
                inner.model.reduction().check_input(name, d.x())?;
                Ok::<_, Error>(inner.config.preprocess.apply(d)?)
            };
            let data = labelled("X", x, &y)?;
            let reference = given
                .map(|r| labelled("X_reference", r, &reference_y))
                .transpose()?;
            let settings = latent::eval::EvalSettings {
                seed,
                iw_samples,
                samples,
                continuity_points,
                classifier,
                ..Default::default()
            };
            let metrics = latent::eval::evaluate_on(
                &inner.model,
                &inner.config,
                data,
                reference,
                settings,
                &mut say,
            )?;
            serde_json::to_string(&Value::Object(metrics.to_json()))
                .map_err(|e| Error::Internal(format!("serializing the metrics: {e}")))
        })
    }

    /// Write the run directory `path` (the CLI's format: `latent sample --run PATH` …);
    /// an existing run latent wrote is replaced only with `force`.
    fn save(&self, py: Python<'_>, path: PathBuf, force: bool) -> PyResult<()> {
        guarded(py, || {
            let inner = self.lock()?;
            let command = inner.config.command.clone();
            let (_, _lock) = run::claim_run_dir(&path, force, &[], &command)?;
            run::save(&path, &inner.model, inner.config.clone(), force)?;
            if !inner.history.is_empty() {
                run::write_metrics(&path, &inner.history)?;
            }
            Ok(())
        })
    }

    /// The state a pickle keeps: the run's `config.json` and weights, the training history
    /// and the code Gaussian (mean, Cholesky factor, jitter), never the data.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (config, weights, history, gaussian) = guarded(py, || {
            let inner = self.lock()?;
            let (config, weights) = files_of(&inner)?;
            let history = serde_json::to_vec(&inner.history)
                .map_err(|e| Error::Internal(format!("serializing the history: {e}")))?;
            let gaussian = inner
                .gaussian
                .as_ref()
                .map(|g| (g.mean().to_owned(), g.chol().to_owned(), g.jitter()));
            Ok((config, weights, history, gaussian))
        })?;
        let d = PyDict::new(py);
        d.set_item("format", 1)?;
        d.set_item("config", PyBytes::new(py, &config))?;
        d.set_item("weights", PyBytes::new(py, &weights))?;
        d.set_item("history", PyBytes::new(py, &history))?;
        match gaussian {
            Some((mean, chol, jitter)) => {
                d.set_item(
                    "gaussian",
                    (mean.into_pyarray(py), chol.into_pyarray(py), jitter),
                )?;
            }
            None => d.set_item("gaussian", py.None())?,
        }
        Ok(d)
    }

    /// A model from `Native.state`'s dict (checked as a run directory is: the weights'
    /// checksum, the shapes).
    #[staticmethod]
    fn from_state(py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<Native> {
        let item = |k: &str| -> PyResult<Bound<'_, PyAny>> {
            state
                .get_item(k)?
                .ok_or_else(|| PyValueError::new_err(format!("pickled latent model: no `{k}`")))
        };
        let config: Vec<u8> = item("config")?.extract()?;
        let weights: Vec<u8> = item("weights")?.extract()?;
        let history: Vec<u8> = item("history")?.extract()?;
        let gaussian = item("gaussian")?;
        let gaussian: Option<(Vec<f32>, Vec<Vec<f32>>, f64)> = if gaussian.is_none() {
            None
        } else {
            let (m, c, j): (Bound<'_, PyArray1<f32>>, Bound<'_, PyArray2<f32>>, f64) =
                gaussian.extract()?;
            let m = m.readonly().as_array().to_vec();
            let c = c
                .readonly()
                .as_array()
                .outer_iter()
                .map(|r| r.to_vec())
                .collect();
            Some((m, c, j))
        };
        guarded(py, move || {
            let tmp = tempdir()?;
            let write = |name: &str, bytes: &[u8]| {
                let path = tmp.path().join(name);
                std::fs::write(&path, bytes).map_err(|source| Error::Io { path, source })
            };
            write(run::CONFIG_FILE, &config)?;
            write(run::WEIGHTS_FILE, &weights)?;
            let (config, model) = run::load(tmp.path())?;
            let history: Vec<EpochMetrics> = serde_json::from_slice(&history)
                .map_err(|e| invalid(format!("pickled latent model: history: {e}")))?;
            let gaussian = match gaussian {
                None => None,
                Some((m, c, j)) => {
                    let k = m.len();
                    let chol = Array2::from_shape_vec((k, k), c.concat())
                        .map_err(|e| invalid(format!("pickled latent model: {e}")))?;
                    Some(CodeGaussian::from_parts(Array1::from(m), chol, j)?)
                }
            };
            Ok(Native::new(Inner {
                config,
                model,
                history,
                gaussian,
            }))
        })
    }
}

// ---------------------------------------------------------------------------------------
// module functions

/// Fit a model to the rows of `x` (a 2-D NumPy array) with `settings` (JSON: the
/// estimator's parameters), naming the data `name` and recording `command` in the run.
/// `callback(kind, payload)` gets the fit's progress when given. Raises `ValueError` for bad
/// settings or data (the CLI's messages), `KeyboardInterrupt` when Ctrl-C stopped training
/// (nothing is kept).
#[pyfunction]
#[pyo3(signature = (settings, x, name, command, callback=None))]
fn fit(
    py: Python<'_>,
    settings: &str,
    x: &Bound<'_, PyAny>,
    name: String,
    command: Vec<String>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Native> {
    let value: Value = serde_json::from_str(settings)
        .map_err(|e| PyRuntimeError::new_err(format!("settings: {e}")))?;
    let (spec, image) = spec_of(&value, &name).map_err(py_err)?;
    let (x, eight_bit) = rows(x, "X")?;
    let x = x.view();
    let mut events = Events {
        callback,
        interrupt: None,
    };
    let result = guarded(py, || {
        // lent, not copied: PCA reads the array where it is
        let mut rows =
            LentRows::new(name.as_str(), x)?.with_range(eight_bit.then_some(ValueRange {
                min: 0.0,
                max: 255.0,
            }));
        if let Some(shape) = image {
            rows = rows.with_image_shape(shape)?;
        }
        let tmp = tempdir()?;
        let dir = tmp.path().join("run");
        let fitted = latent::fit::fit_lent(&spec, rows, &dir, false, command, &mut events)?;
        let history = run::read_metrics(&dir)?;
        let mut inner = Inner {
            config: fitted.config,
            model: fitted.model,
            history,
            gaussian: None,
        };
        if inner.model.probabilistic().is_none() {
            // PCA's in closed form; otherwise the codes of the rows as the model took them (no
            // copy when unscaled). Fewer than 2 rows or a degenerate code distribution:
            // sampling will say so.
            let source = latent::sampler::LatentSource::for_training_data(&inner.model, || {
                Ok(inner.model.reduction().encode(inner.prepared(x)?.view())?)
            });
            inner.gaussian = source
                .ok()
                .and_then(latent::sampler::LatentSource::into_gaussian);
        }
        Ok(inner)
    });
    match (result, events.interrupt.take()) {
        // a Ctrl-C a progress callback saw after the last step: the fit is not kept either
        (Ok(_), Some(interrupt)) => Err(interrupt),
        (Ok(inner), None) => Ok(Native::new(inner)),
        (Err(e), Some(_)) => Err(PyKeyboardInterrupt::new_err(e.value(py).to_string())),
        (Err(e), None) => Err(e),
    }
}

/// Every key `latent.compare` passes.
const COMPARE_KNOWN: &[&str] = &[
    "latent_dims",
    "betas",
    "epochs",
    "linear_epochs",
    "hidden",
    "batch_size",
    "scale",
    "binarize",
    "lr",
    "linear_lr",
    "iw_samples",
    "samples",
    "seed",
    "device",
    "holdout",
    "holdout_seed",
    "image_shape",
];

/// The comparison the settings describe (JSON, a key per parameter of `latent.compare`,
/// `null` for the CLI's default), the fraction of rows to hold out and the image layout of
/// the rows, if given.
fn compare_spec_of(
    settings: &Value,
    name: &str,
) -> latent::Result<(CompareSpec, f64, Option<ImageShape>)> {
    let map = settings
        .as_object()
        .ok_or_else(|| Error::Internal("settings are not a JSON object".into()))?;
    if let Some(k) = map.keys().find(|k| !COMPARE_KNOWN.contains(&k.as_str())) {
        return Err(Error::Internal(format!("unknown setting `{k}`")));
    }
    let s = Settings { map };
    let mut spec = CompareSpec::new(DataSource::new(name));
    if let Some(v) = s.widths("latent_dims")? {
        spec.latent_dims = v;
    }
    if let Some(v) = s.get("betas") {
        let expected = "a list of positive numbers";
        spec.betas = v
            .as_array()
            .ok_or_else(|| Settings::bad("betas", v, expected))?
            .iter()
            .map(|b| {
                b.as_f64()
                    .ok_or_else(|| Settings::bad("betas", v, expected))
            })
            .collect::<latent::Result<_>>()?;
    }
    if let Some(v) = s.usize("epochs")? {
        spec.epochs = v;
    }
    spec.linear_epochs = s.usize("linear_epochs")?;
    if let Some(v) = s.widths("hidden")? {
        spec.hidden = v;
    }
    if let Some(v) = s.usize("batch_size")? {
        spec.batch_size = v;
    }
    if let Some(v) = s.choice("scale")? {
        spec.scale = v;
    }
    if let Some(b) = s.str("binarize")? {
        spec.binarize = b.parse()?;
    }
    if let Some(v) = s.f64("lr")? {
        spec.lr = v;
    }
    if let Some(v) = s.f64("linear_lr")? {
        spec.linear_lr = v;
    }
    if let Some(v) = s.usize("iw_samples")? {
        spec.iw_samples = v;
    }
    if let Some(v) = s.usize("samples")? {
        spec.samples = v;
    }
    if let Some(v) = s.u64("seed")? {
        spec.seed = v;
    }
    if let Some(v) = s.str("device")? {
        spec.device = v.to_string();
    }
    spec.holdout_seed = s.u64("holdout_seed")?;
    let holdout = s.f64("holdout")?.unwrap_or(f64::from(spec.holdout) / 100.0);
    if !(holdout > 0.0 && holdout < 1.0) {
        return Err(invalid(format!(
            "holdout={holdout}: expected a fraction of the rows, above 0 and below 1"
        )));
    }
    // the summary records the percentage
    spec.holdout = (holdout * 100.0).round().clamp(1.0, 99.0) as u8;
    Ok((spec, holdout, image_shape_of(&s)?))
}

/// Compare PCA, the linear autoencoder, the deep autoencoder and VAEs (`latent compare`) on
/// the rows of `x` (labels `y`): fitted on them, measured on `x_test` (labels `y_test`), or,
/// without it, on the rows a seeded hold-out of `x` keeps aside (the rows `latent compare
/// --holdout` holds out of the same data). Writes the runs, the summary and `report.html`
/// into `out` (replaced only with `force`; without `out`, a temporary directory removed
/// afterwards). Returns the summary (JSON: `summary.json`'s text).
#[pyfunction]
#[pyo3(signature = (settings, x, y, x_test, y_test, name, out, force, command, callback=None))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    settings: &str,
    x: &Bound<'_, PyAny>,
    y: Option<Vec<i64>>,
    x_test: Option<&Bound<'_, PyAny>>,
    y_test: Option<Vec<i64>>,
    name: String,
    out: Option<PathBuf>,
    force: bool,
    command: String,
    callback: Option<Py<PyAny>>,
) -> PyResult<String> {
    let value: Value = serde_json::from_str(settings)
        .map_err(|e| PyRuntimeError::new_err(format!("settings: {e}")))?;
    let (spec, holdout, image) = compare_spec_of(&value, &name).map_err(py_err)?;
    let (x, eight_bit) = rows(x, "X")?;
    let x = x.view();
    let given = x_test.map(|t| rows(t, "X_test")).transpose()?;
    let given = given.as_ref().map(|(t, t8)| (t.view(), *t8));
    if y_test.is_some() && given.is_none() {
        return Err(PyValueError::new_err("y_test given without X_test"));
    }
    let mut events = Events {
        callback,
        interrupt: None,
    };
    let result = guarded(py, || {
        let data = dataset_of(&name, x, eight_bit, image, y.as_deref())?;
        let (train, test) = match &given {
            Some((t, t8)) => (data, dataset_of(&name, *t, *t8, image, y_test.as_deref())?),
            None => {
                let n = data.n();
                let seed = spec.holdout_seed.unwrap_or(spec.seed);
                data.split(holdout, latent_core::seed::derive(seed, "holdout"))
                    .map_err(|e| match e {
                        latent_core::Error::InvalidParam { .. } => invalid(format!(
                            "holdout={holdout}: {n} rows cannot give both a training and a \
                             test split of at least one row"
                        )),
                        e => e.into(),
                    })?
            }
        };
        let tmp;
        let out = match &out {
            Some(o) => o.clone(),
            None => {
                tmp = tempdir()?;
                tmp.path().join("compare")
            }
        };
        let summary = latent::compare::compare_datasets(
            &spec,
            train,
            test,
            &out,
            force,
            &command,
            &mut events,
        )?;
        serde_json::to_string(&summary)
            .map_err(|e| Error::Internal(format!("serializing the summary: {e}")))
    });
    match (result, events.interrupt.take()) {
        (Ok(summary), _) => Ok(summary),
        (Err(e), Some(_)) => Err(PyKeyboardInterrupt::new_err(e.value(py).to_string())),
        (Err(e), None) => Err(e),
    }
}

/// Read the run directory `path` (written by `latent fit` or by `Native.save`).
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> PyResult<Native> {
    guarded(py, || {
        let (config, model) = run::load(&path)?;
        let history = run::read_metrics(&path)?;
        Ok(Native::new(Inner {
            config,
            model,
            history,
            gaussian: None,
        }))
    })
}

/// A dataset latent knows by name (`digits`, `fashion-mnist-10k`, `fashion-mnist` with
/// `split`): its raw rows (`float32`, the values as stored: 0..255 for 8-bit images), its
/// labels (`int64`, or `None`) and its image shape (or `None`).
#[pyfunction]
#[pyo3(signature = (name, split=None))]
#[allow(clippy::type_complexity)]
fn dataset<'py>(
    py: Python<'py>,
    name: &str,
    split: Option<&str>,
) -> PyResult<(
    Bound<'py, PyArray2<f32>>,
    Option<Bound<'py, PyArray1<i64>>>,
    Option<(usize, usize, usize)>,
)> {
    let split = split
        .map(|s| {
            latent_data::source::Split::from_str(s, false).map_err(|_| {
                PyValueError::new_err(format!(
                    "invalid value '{s}' for split: possible values: train, test"
                ))
            })
        })
        .transpose()?;
    let mut source = DataSource::new(name);
    source.split = split;
    let data = guarded(py, move || source.load())?;
    let labels = data
        .labels()
        .map(|l| Array1::from_iter(l.iter().map(|&v| i64::from(v))).into_pyarray(py));
    let shape = data.image_shape().map(|s| (s.height, s.width, s.channels));
    Ok((out2(py, data.into_x()), labels, shape))
}

/// The native core of the `latent` Python package.
#[pymodule]
fn _latent(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Native>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(dataset, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
