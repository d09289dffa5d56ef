"""The datasets latent knows by name, as NumPy arrays.

``digits`` (1,797 8×8 images, values 0..16; scikit-learn's ``load_digits``) and
``fashion-mnist-10k`` (the 10,000 Fashion-MNIST test images, 28×28, values 0..255) are
embedded in the library; ``fashion-mnist`` (70,000 images) is read from Debian's
``dataset-fashion-mnist`` package when installed (``split="train"`` or ``"test"``).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _latent

__all__ = ["Dataset", "load"]


class Dataset(NamedTuple):
    """Rows, labels and image shape of a dataset."""

    X: np.ndarray
    """``float32``, ``n × d``, the values as stored (0..255 for 8-bit images)."""
    y: Optional[np.ndarray]
    """``int64`` labels, or ``None``."""
    image_shape: Optional[Tuple[int, int, int]]
    """``(height, width, channels)`` of a row, or ``None``."""


def load(name: str, split: Optional[str] = None) -> Dataset:
    """Load the dataset ``name`` (as ``latent fit --data NAME [--split SPLIT]`` reads it).

    Raises ``ValueError`` naming what is missing (an unknown name, Fashion-MNIST not
    installed).
    """
    X, y, shape = _latent.dataset(name, split)
    return Dataset(X, y, shape)
