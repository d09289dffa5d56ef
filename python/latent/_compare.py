"""``latent.compare``: the chapter as an experiment on the user's arrays (``latent compare``)."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Sequence

import numpy as np
from sklearn.utils.validation import check_array

from . import _latent
from ._estimators import _DTYPES, _Progress, _describe, _labels, _numbered


class _CompareProgress(_Progress):
    """``verbose=True``: the comparison's lines and each fit's, on stderr."""

    def __call__(self, kind: str, payload: Any) -> None:
        if kind == "log":
            self._line(payload)
        else:
            super().__call__(kind, payload)


def _list(name: str, value, kind) -> Optional[list]:
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        value = [value]
    try:
        return [kind(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a list of numbers") from None


def compare(
    X,
    y=None,
    *,
    X_test=None,
    y_test=None,
    holdout: Optional[float] = None,
    holdout_seed: Optional[int] = None,
    latent_dims: Optional[Sequence[int]] = None,
    betas: Optional[Sequence[float]] = None,
    epochs: Optional[int] = None,
    linear_epochs: Optional[int] = None,
    hidden: Optional[Sequence[int]] = None,
    batch_size: Optional[int] = None,
    scale: Optional[str] = None,
    binarize: Optional[str] = None,
    lr: Optional[float] = None,
    linear_lr: Optional[float] = None,
    iw_samples: Optional[int] = None,
    samples: Optional[int] = None,
    seed: Optional[int] = None,
    device: Optional[str] = None,
    image_shape=None,
    out=None,
    force: bool = False,
    verbose: bool = False,
) -> Dict[str, Any]:
    """Compare PCA, the linear autoencoder, the deep autoencoder and VAEs (over ``betas``) at
    each latent dimension, as ``latent compare`` does, on the rows of ``X``.

    Every model is fitted on ``X`` and measured on ``X_test``; without ``X_test``, a seeded
    hold-out of ``holdout`` (a fraction, default 0.2; shuffled by ``holdout_seed``, default
    ``seed``) of the rows of ``X`` is the test split — the rows ``latent compare --holdout 20
    --holdout-seed S`` (and ``latent fit --holdout 20 --holdout-seed S``) hold out of the same
    data. Labels
    (``y``, ``y_test``: integers or text) colour the maps and enable the classifier-based
    metrics.

    Every other parameter is the flag of ``latent compare`` of the same name; ``None`` takes
    its default (``latent compare --help``). ``image_shape`` — ``(height, width[,
    channels])`` — draws the decodings as images.

    Returns the summary (``summary.json`` as a dict: ``records`` holds one entry per model ×
    dimension × β with its metrics; ``reading`` the report's findings). With ``out``, the run
    directories, the figures and ``report.html`` are written there (an earlier compare output
    is replaced only with ``force=True``); without it, in a temporary directory removed
    afterwards.

    Raises ``ValueError`` for bad data or settings (``latent compare``'s messages) and
    ``KeyboardInterrupt`` when Ctrl-C stops it.
    """
    X = check_array(X, dtype=_DTYPES, ensure_min_samples=2)
    Xt = None if X_test is None else check_array(X_test, dtype=_DTYPES)
    if Xt is not None and Xt.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_test has {Xt.shape[1]} features, but X has {X.shape[1]}"
        )
    if Xt is not None and (holdout is not None or holdout_seed is not None):
        raise ValueError("give X_test or a hold-out (holdout, holdout_seed), not both")
    if y_test is not None and Xt is None:
        raise ValueError("y_test given without X_test")
    yl, yt = _labels(y, X, "y"), _labels(y_test, Xt, "y_test")
    if Xt is not None and (yl is None) != (yt is None):
        raise ValueError("give labels for both X and X_test, or for neither")
    yl, yt = _numbered(yl, yt)
    settings = {
        "latent_dims": _list("latent_dims", latent_dims, int),
        "betas": _list("betas", betas, float),
        "epochs": epochs,
        "linear_epochs": linear_epochs,
        "hidden": _list("hidden", hidden, int),
        "batch_size": batch_size,
        "scale": scale,
        "binarize": binarize,
        "lr": lr,
        "linear_lr": linear_lr,
        "iw_samples": iw_samples,
        "samples": samples,
        "seed": seed,
        "device": device,
        "holdout": holdout,
        "holdout_seed": holdout_seed,
        "image_shape": None if image_shape is None else [int(d) for d in image_shape],
    }
    # NumPy scalars as Python numbers (JSON); the library checks every value
    settings = {
        k: (v.item() if isinstance(v, np.generic) else v)
        for k, v in settings.items()
        if v is not None
    }
    progress = _CompareProgress() if verbose else None
    try:
        summary = _latent.compare(
            json.dumps(settings),
            X,
            yl,
            Xt,
            yt,
            _describe(X),
            None if out is None else os.fspath(out),
            bool(force),
            "latent.compare(X, ...) from Python",
            progress,
        )
    finally:
        if progress is not None:
            progress.close()
    return json.loads(summary)


__all__ = ["compare"]
