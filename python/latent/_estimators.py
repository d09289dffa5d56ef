"""scikit-learn estimators over the native core (``latent._latent``).

Each estimator keeps its constructor parameters as given (scikit-learn's rule) and passes
them, by the names of ``latent fit``'s flags, to the library when fitted; the library checks
them and refuses a bad one with the CLI's message, raised here as ``ValueError``.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import sys
from typing import Any, Dict, List, Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _latent

__all__ = ["PCA", "LinearAE", "AE", "VAE", "load"]

# What the native core reads without converting: a C-ordered float32 array is used in place.
# Anything else (ints, other floats) becomes float32 — uint8 stays 8-bit, whose known range
# (0..255) the `auto` scaling uses, as for an 8-bit .npy file given to `latent fit`.
_DTYPES = [np.float32, np.float64, np.uint8]


def _describe(X: np.ndarray) -> str:
    return f"array {X.shape[0]}×{X.shape[1]} {X.dtype} (from Python)"


class _Progress:
    """What ``verbose=True`` shows: the fit's lines on stderr, as ``latent fit`` prints them
    (a tqdm bar over the epochs when tqdm is installed)."""

    def __init__(self) -> None:
        self.epochs = 0
        self.bar = None
        try:
            from tqdm.auto import tqdm  # noqa: F401

            self._tqdm = tqdm
        except ImportError:
            self._tqdm = None

    def _line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def __call__(self, kind: str, payload: Any) -> None:
        if kind in ("info", "stage"):
            self._line(payload)
        elif kind == "note":
            self._line(f"note: {payload}")
        elif kind == "training":
            self.epochs = payload[0]
            if self._tqdm is not None:
                self.bar = self._tqdm(total=self.epochs, unit="epoch", file=sys.stderr)
        elif kind == "epoch":
            m = json.loads(payload)
            kl = f" + kl {m['train_kl']:.3f}" if m.get("train_kl") else ""
            val = f", validation {m['val_loss']:.3f}" if m.get("val_loss") is not None else ""
            self._line(
                f"epoch {m['epoch']}/{self.epochs}: loss {m['train_loss']:.3f} "
                f"(recon {m['train_recon']:.3f}{kl}){val} [{m['seconds']:.1f} s]"
            )
            if self.bar is not None:
                self.bar.update(1)
                if m["epoch"] >= self.epochs:
                    self.bar.close()
                    self.bar = None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _Base(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What every family shares: validation, the native model, save/load, pickling."""

    _family: str = ""
    # the parameter holding the latent dimension
    _latent_param: str = "latent_dim"
    # parameters that are not settings of the fit
    _not_settings = ("verbose",)

    # -- scikit-learn plumbing ------------------------------------------------------------

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # codes and decodings are float32, whatever came in
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = False
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "_native", None) is not None

    @property
    def _n_features_out(self) -> int:
        return self._native.latent_dim

    def _validate(self, X, reset: bool) -> np.ndarray:
        # fit: the native side checks finiteness in the pass that finds each feature's
        # extent (one pass over the rows, not two), with the row and column of the first NaN
        # or infinity in its ValueError
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=_DTYPES,
            ensure_min_samples=2 if reset else 1,
            ensure_all_finite=not reset,
        )

    def _settings(self, X: np.ndarray) -> Dict[str, Any]:
        """The parameters as the library's settings: those given other than their default,
        and always the latent dimension and the scaling."""
        params = self.get_params(deep=False)
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self).__init__).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        out: Dict[str, Any] = {"family": self._family}
        for name, value in params.items():
            if name in self._not_settings or name == self._latent_param:
                continue
            if name != "scale" and _same(value, defaults.get(name, object())):
                continue
            out[name] = _plain(name, value)
        out["latent"] = self._latent_value(X)
        return out

    def _latent_value(self, X: np.ndarray):
        k = getattr(self, self._latent_param)
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.integer, np.floating)):
            raise ValueError(
                f"{self._latent_param}={k!r} (--latent-dim): expected a positive integer"
            )
        return k.item() if isinstance(k, (np.integer, np.floating)) else k

    # -- fitting --------------------------------------------------------------------------

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (``n_samples × n_features``); ``y`` is ignored.

        Raises ``ValueError`` for bad data or settings (the messages of ``latent fit``) and
        ``KeyboardInterrupt`` when Ctrl-C stops training: the estimator is then left as it
        was before this call (unfitted, or fitted by an earlier ``fit``); nothing of the
        interrupted training is kept.
        """
        X = self._validate(X, reset=True)
        settings = self._settings(X)
        progress = _Progress() if self.verbose else None
        try:
            native = _latent.fit(
                json.dumps(settings),
                X,
                _describe(X),
                ["python", f"{type(self).__name__}(...).fit(X)"],
                progress,
            )
        except KeyboardInterrupt as e:
            raise KeyboardInterrupt(
                f"{e}; the {type(self).__name__} is left as it was before fit "
                f"({'fitted by an earlier fit' if self.__sklearn_is_fitted__() else 'not fitted'})"
            ) from None
        finally:
            if progress is not None:
                progress.close()
        self._adopt(native)
        return self

    def _adopt(self, native) -> None:
        """Take a fitted native model: set the fitted attributes from it."""
        self._native = native
        self.n_features_in_ = native.input_dim
        self.n_components_ = native.latent_dim
        self.history_: List[Dict[str, Any]] = json.loads(native.history_json())

    # -- using a fitted model --------------------------------------------------------------

    def transform(self, X):
        """The codes of the rows of ``X`` (``n × K``, float32); for a VAE the posterior mean
        (deterministic), never a sample."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._native.encode(X)

    def inverse_transform(self, X):
        """The decodings of the codes ``X`` (``n × K``), in the data's original units (the
        scaling inverted), float32."""
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float32, np.float64])
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} columns, but {type(self).__name__} has "
                f"{self.n_components_} latent dimensions"
            )
        return self._native.decode(Z)

    def score(self, X, y=None) -> float:
        """VAE: the mean ELBO per example (nats); other families: minus the mean squared
        reconstruction error per example (summed over features, in the model's scaled
        space). Higher is better."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return float(self._native.score(X))

    def sample(self, n: int, seed: Optional[int] = None, temperature: float = 1.0, X=None):
        """``n`` decoded samples (``n × n_features``, data units): the prior of a VAE, or for
        the other families a Gaussian fitted to the training codes (to the codes of ``X``
        when given — needed for a model loaded from a run that does not record its data).
        ``seed`` as ``latent sample --seed`` (None: a fresh one); ``temperature`` scales the
        standard deviation."""
        check_is_fitted(self)
        n = _count("n", n)
        if seed is None:
            seed = random.SystemRandom().getrandbits(63)
        seed = _count("seed", seed, minimum=0)
        if X is not None:
            X = self._validate(X, reset=False)
        return self._native.sample(n, seed, float(temperature), X)

    def interpolate(self, a, b, steps: int = 10, slerp: bool = False):
        """``steps`` decodings (data units) on the path between the codes of rows ``a`` and
        ``b`` (straight, or spherical with ``slerp=True``); the first and last are their
        reconstructions."""
        check_is_fitted(self)
        X = np.vstack([np.asarray(a).reshape(1, -1), np.asarray(b).reshape(1, -1)])
        X = self._validate(X, reset=False)
        return self._native.interpolate(X, _count("steps", steps, minimum=2), bool(slerp))

    def encode_distribution(self, X) -> Dict[str, np.ndarray]:
        """The posterior ``q(z|x)`` of each row (VAE): ``{"mean", "log_var"}`` for a diagonal
        posterior, ``{"mean", "scale_tril"}`` (Cholesky factors) for a full one."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._native.encode_distribution(X)

    def evaluate(
        self,
        X,
        y=None,
        *,
        X_reference=None,
        y_reference=None,
        seed: int = 0,
        iw_samples: int = 100,
        samples: int = 2000,
        continuity_points: int = 1000,
        classifier: bool = True,
    ) -> Dict[str, Any]:
        """Every figure ``latent eval --json`` gives of the model on the rows ``X`` (labels
        ``y`` enable the classifier-based ones), as a dict with its keys: ``recon_mse``, for a
        VAE ``elbo``, ``kl``, ``nll_is``, ``kl_per_dim``, ``active_units``…, ``continuity``,
        ``completeness``, ``frechet``, ``classifier_accuracy``… (see the README, "Metrics").

        The reference rows (nearest neighbours, the classifier's training rows) are
        ``X_reference`` (labels ``y_reference``) when given; otherwise, as ``latent eval``
        does, the run's recorded training data less the rows of ``X``, or a seeded half of
        ``X`` when the model records none (fitted in Python) or nothing is left. The other
        parameters are ``latent eval``'s flags.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        Xr = None if X_reference is None else self._validate(X_reference, reset=False)
        y, yr = _labels(y, X, "y"), _labels(y_reference, Xr, "y_reference")
        if (y is None) != (yr is None) and Xr is not None:
            raise ValueError("give labels for both X and X_reference, or for neither")
        y, yr = _numbered(y, yr)
        log = (lambda m: print(m, file=sys.stderr, flush=True)) if self.verbose else None
        out = self._native.evaluate(
            X, y, Xr, yr, _count("seed", seed, minimum=0), _count("iw_samples", iw_samples, 0),
            _count("samples", samples, 0), _count("continuity_points", continuity_points, 0),
            bool(classifier), log,
        )
        return json.loads(out)

    # -- run directories and pickling -------------------------------------------------------

    def save(self, run_dir, force: bool = False) -> None:
        """Write the fitted model as a run directory, the format of ``latent fit --out``
        (``latent sample --run run_dir`` …). An existing run is replaced only with
        ``force=True``."""
        check_is_fitted(self)
        self._native.save(os.fspath(run_dir), bool(force))

    def __getstate__(self):
        # a copy: object.__getstate__ may return the instance's own __dict__
        state = dict(super().__getstate__())
        native = state.pop("_native", None)
        if native is not None:
            state["_native_state"] = native.state()
        return state

    def __setstate__(self, state):
        state = dict(state)
        native_state = state.pop("_native_state", None)
        super().__setstate__(state)
        if native_state is not None:
            self._native = _latent.Native.from_state(native_state)


def _same(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b) or (a is None and b is None)
    except Exception:
        return False


def _plain(name: str, value):
    """A parameter's value as JSON the library reads."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if name in ("hidden", "conv_channels", "image_shape"):
        if value is None:
            return None
        if isinstance(value, (int, np.integer)):
            return [int(value)]
        if isinstance(value, str):
            if value.strip() in ("", "none"):
                return []
            try:
                return [int(v) for v in value.split(",")]
            except ValueError:
                raise ValueError(
                    f"{name}={value!r} (--{name.replace('_', '-')}): expected a list of "
                    "positive integers (layer widths)"
                ) from None
        try:
            return [v.item() if isinstance(v, np.generic) else v for v in value]
        except TypeError:
            raise ValueError(
                f"{name}={value!r} (--{name.replace('_', '-')}): expected a list of positive "
                "integers"
            ) from None
    return value


def _labels(y, X, name: str):
    """Labels as a list of Python ints (or of values to number), one per row of X."""
    if y is None:
        return None
    y = np.asarray(y).ravel()
    if X is None or y.shape[0] != X.shape[0]:
        rows = "no rows" if X is None else f"{X.shape[0]} rows"
        raise ValueError(f"{name} has {y.shape[0]} labels for {rows}")
    if np.issubdtype(y.dtype, np.integer):
        if y.size and y.min() < 0:
            raise ValueError(f"{name}: integer labels must be ≥ 0")
        return [int(v) for v in y]
    if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0) and np.all(y >= 0):
        return [int(v) for v in y]
    return [str(v) for v in y]


def _numbered(y, y_other):
    """Labels of two sets (lists from :func:`_labels`, the second may be None) as ints: text
    labels are numbered over both together, in sorted order, so a class has one number."""
    if y is None or all(isinstance(v, int) for v in y + (y_other or [])):
        return y, y_other
    _, codes = np.unique(np.asarray(y + (y_other or []), dtype=object).astype(str),
                         return_inverse=True)
    codes = [int(c) for c in codes]
    return codes[: len(y)], (codes[len(y):] if y_other is not None else None)


def _count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an integer ≥ {minimum}")
    return int(value)


class PCA(_Base):
    """Principal component analysis: the encoder projects onto the top eigenvectors of the
    covariance, the decoder is its transpose (``latent fit --model pca``).

    Parameters (keyword-only, the flags of ``latent fit``):

    n_components : int, float in (0, 1), or None
        The latent dimension (``--latent-dim``); a fraction keeps the fewest components
        explaining that share of the variance; None keeps min(n_samples, n_features).
    solver : "exact", "randomized" or "incremental"
    whiten : bool — codes scaled to unit variance.
    precision : "f32" or "f64" — arithmetic of the fit.
    power_iters, oversamples : the randomized solver's.
    batch_size : rows per batch of the incremental solver.
    scale : "none" (default here, as scikit-learn's PCA), "auto", "unit" or "standardize".
        Note: ``latent fit``'s default is ``auto``, which standardizes float features.
    binarize : None, "threshold", "threshold=T" or "bernoulli".
    seed : int — every random choice derives from it.
    verbose : bool

    Fitted attributes: ``components_`` (K × D), ``explained_variance_``,
    ``explained_variance_ratio_``, ``singular_values_``, ``mean_``, ``noise_variance_``,
    ``n_components_``, ``n_features_in_``, ``history_`` (empty: PCA has no epochs).
    """

    _family = "pca"
    _latent_param = "n_components"

    def __init__(
        self,
        *,
        n_components=None,
        solver: str = "exact",
        whiten: bool = False,
        precision: str = "f32",
        power_iters: Optional[int] = None,
        oversamples: int = 10,
        batch_size: Optional[int] = None,
        scale: str = "none",
        binarize: Optional[str] = None,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.n_components = n_components
        self.solver = solver
        self.whiten = whiten
        self.precision = precision
        self.power_iters = power_iters
        self.oversamples = oversamples
        self.batch_size = batch_size
        self.scale = scale
        self.binarize = binarize
        self.seed = seed
        self.verbose = verbose

    def _latent_value(self, X: np.ndarray):
        if self.n_components is None:
            return int(min(X.shape))
        return super()._latent_value(X)

    def _adopt(self, native) -> None:
        super()._adopt(native)
        arrays = native.arrays()
        self.components_ = arrays["components"]
        self.explained_variance_ = arrays["explained_variance"]
        self.explained_variance_ratio_ = arrays["explained_variance_ratio"]
        self.singular_values_ = arrays["singular_values"]
        self.mean_ = arrays["mean"]
        self.noise_variance_ = float(arrays["noise_variance"])


class _Neural(_Base):
    """The networks' shared parameters and attributes."""

    def _adopt(self, native) -> None:
        super()._adopt(native)
        config = json.loads(native.config_json())
        self.epochs_run_ = int(config["model"].get("epochs_run", len(self.history_)))

    def get_weights(self) -> Dict[str, np.ndarray]:
        """The network's parameters by name (burn's layout: linear weights ``[d_in, d_out]``),
        as in the run's ``model.safetensors``."""
        check_is_fitted(self)
        return self._native.arrays()


_NEURAL_DOC = """
    Parameters (keyword-only, the flags of ``latent fit``; None: the CLI's default):

    latent_dim : int — the latent dimension K (``--latent-dim``).
    epochs : int (10; on small data enough for 750 steps), batch_size : int (128), lr : float (1e-3), adam_beta1, adam_beta2,
    adam_eps, weight_decay, lr_schedule ("constant", "cosine[=F]", "step=EVERY:GAMMA"),
    val_fraction, early_stopping, dynamic_binarize : training.
    scale : "auto" (as ``latent fit``: unit scaling of 8-bit data, standardized float
    features), "none", "unit", "standardize"; binarize : None, "threshold[=T]", "bernoulli".
    image_shape : (height, width[, channels]) of a row, for ``arch="conv"``.
    device : "cpu" (or "vulkan" in a GPU build); engine : "auto" or "burn".
    seed : int; verbose : bool — progress on stderr (a tqdm bar when installed).

    Fitted attributes: ``n_components_`` (K), ``n_features_in_``, ``history_`` (one dict per
    epoch: train_loss, train_recon, train_kl, val_loss…, seconds, lr, beta),
    ``epochs_run_``.
"""


class LinearAE(_Neural):
    __doc__ = (
        """Linear autoencoder: one linear encoder and decoder trained by gradient descent on
    the squared error (``latent fit --model linear-ae``); it finds PCA's subspace with a basis
    that need not be orthogonal.
"""
        + _NEURAL_DOC
    )

    _family = "linear-ae"

    def __init__(
        self,
        *,
        latent_dim: int = 2,
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        lr: float = 1e-3,
        adam_beta1: float = 0.9,
        adam_beta2: float = 0.999,
        adam_eps: float = 1e-8,
        weight_decay: float = 0.0,
        lr_schedule: str = "constant",
        val_fraction: float = 0.0,
        early_stopping: Optional[int] = None,
        scale: str = "auto",
        binarize: Optional[str] = None,
        device: str = "cpu",
        engine: str = "auto",
        seed: int = 0,
        verbose: bool = False,
    ):
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.adam_beta1 = adam_beta1
        self.adam_beta2 = adam_beta2
        self.adam_eps = adam_eps
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.scale = scale
        self.binarize = binarize
        self.device = device
        self.engine = engine
        self.seed = seed
        self.verbose = verbose


class AE(_Neural):
    __doc__ = (
        """Deep autoencoder: MLP or convolutional encoder and decoder, squared error
    (``latent fit --model ae``).

    hidden : tuple of ints ((400,)) — encoder widths, mirrored by the decoder; arch : "mlp"
    or "conv"; conv_channels : ((32, 64)); activation : "relu", … .
"""
        + _NEURAL_DOC
    )

    _family = "ae"

    def __init__(
        self,
        *,
        latent_dim: int = 2,
        hidden=(400,),
        arch: str = "mlp",
        conv_channels=(32, 64),
        activation: str = "relu",
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        lr: float = 1e-3,
        adam_beta1: float = 0.9,
        adam_beta2: float = 0.999,
        adam_eps: float = 1e-8,
        weight_decay: float = 0.0,
        lr_schedule: str = "constant",
        val_fraction: float = 0.0,
        early_stopping: Optional[int] = None,
        dynamic_binarize: bool = False,
        scale: str = "auto",
        binarize: Optional[str] = None,
        image_shape=None,
        device: str = "cpu",
        engine: str = "auto",
        seed: int = 0,
        verbose: bool = False,
    ):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.arch = arch
        self.conv_channels = conv_channels
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.adam_beta1 = adam_beta1
        self.adam_beta2 = adam_beta2
        self.adam_eps = adam_eps
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.dynamic_binarize = dynamic_binarize
        self.scale = scale
        self.binarize = binarize
        self.image_shape = image_shape
        self.device = device
        self.engine = engine
        self.seed = seed
        self.verbose = verbose


class VAE(_Neural):
    __doc__ = (
        """Variational autoencoder: a Gaussian posterior (diagonal or full covariance), the
    reparameterisation, a decoder likelihood and the closed-form KL to N(0, I), weighted by β
    (``latent fit --model vae``). ``transform`` gives the posterior mean; ``sample`` decodes
    prior draws; ``score`` is the mean ELBO.

    hidden, arch, conv_channels, activation : as :class:`AE`; posterior : "diagonal" or
    "full"; likelihood : None (Bernoulli for data in [0, 1], else a learned Gaussian),
    "bernoulli", "gaussian", "gaussian-learned"; sigma : the fixed Gaussian's σ;
    shared_sigma : one learned σ; beta : the KL weight; kl_warmup : epochs of linear warm-up.
"""
        + _NEURAL_DOC
    )

    _family = "vae"

    def __init__(
        self,
        *,
        latent_dim: int = 2,
        hidden=(400,),
        arch: str = "mlp",
        conv_channels=(32, 64),
        activation: str = "relu",
        posterior: str = "diagonal",
        likelihood: Optional[str] = None,
        sigma: float = 1.0,
        shared_sigma: bool = False,
        beta: float = 1.0,
        kl_warmup: int = 0,
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        lr: float = 1e-3,
        adam_beta1: float = 0.9,
        adam_beta2: float = 0.999,
        adam_eps: float = 1e-8,
        weight_decay: float = 0.0,
        lr_schedule: str = "constant",
        val_fraction: float = 0.0,
        early_stopping: Optional[int] = None,
        dynamic_binarize: bool = False,
        scale: str = "auto",
        binarize: Optional[str] = None,
        image_shape=None,
        device: str = "cpu",
        engine: str = "auto",
        seed: int = 0,
        verbose: bool = False,
    ):
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.arch = arch
        self.conv_channels = conv_channels
        self.activation = activation
        self.posterior = posterior
        self.likelihood = likelihood
        self.sigma = sigma
        self.shared_sigma = shared_sigma
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.adam_beta1 = adam_beta1
        self.adam_beta2 = adam_beta2
        self.adam_eps = adam_eps
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.val_fraction = val_fraction
        self.early_stopping = early_stopping
        self.dynamic_binarize = dynamic_binarize
        self.scale = scale
        self.binarize = binarize
        self.image_shape = image_shape
        self.device = device
        self.engine = engine
        self.seed = seed
        self.verbose = verbose


_CLASSES = {"pca": PCA, "linear-ae": LinearAE, "ae": AE, "vae": VAE}


def load(run_dir):
    """The model of a run directory (written by ``latent fit`` or by ``save``), as a fitted
    estimator of its family with the run's settings as its parameters.

    Raises ``ValueError`` for a directory that is not a complete run or fails its checksums.
    """
    native = _latent.load(os.fspath(run_dir))
    config = json.loads(native.config_json())
    cls = _CLASSES[native.family]
    params: Dict[str, Any] = {"seed": config.get("seed", 0)}
    model = config["model"]
    if cls is PCA:
        params["n_components"] = native.latent_dim
        p = model.get("params", {})
        for key in ("solver", "whiten", "precision"):
            if isinstance(p.get(key), (str, bool)):
                params[key] = p[key]
        params["scale"] = _scale_name(config.get("preprocess", {}))
    else:
        params["latent_dim"] = native.latent_dim
        net, train = model.get("net", {}), model.get("train", {})
        accepted = inspect.signature(cls.__init__).parameters
        if "hidden" in accepted and isinstance(net.get("hidden"), list):
            params["hidden"] = tuple(net["hidden"])
        for key in ("epochs", "batch_size", "lr", "beta", "kl_warmup"):
            if key in accepted and isinstance(train.get(key), (int, float)):
                params[key] = train[key]
        params["scale"] = _scale_name(config.get("preprocess", {}))
    est = cls(**params)
    est._adopt(native)
    return est


def _scale_name(preprocess: Dict[str, Any]) -> str:
    kind = (preprocess.get("scaling") or {}).get("kind", "none")
    return {"unit": "unit", "standardize": "standardize"}.get(kind, "none")

