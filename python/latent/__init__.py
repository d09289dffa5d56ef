"""latent: dimensionality reduction and generative autoencoders with a scikit-learn API.

Every method is an encoder/decoder pair (e, d) chosen to minimise the reconstruction error
between x and d(e(x)): :class:`PCA`, :class:`LinearAE`, :class:`AE` and :class:`VAE`. The
estimators are thin Python classes over the ``latent`` Rust library (the native module
``latent._latent``), the one the ``latent`` command calls: the same settings, seeds and run
directories, so a model fitted here works with ``latent sample --run DIR`` and a run written
by ``latent fit`` loads here with :func:`load`.

>>> import numpy as np, latent
>>> X = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
>>> latent.PCA(n_components=2).fit(X).transform(X).shape
(100, 2)
"""

from . import _latent, datasets
from ._compare import compare
from ._estimators import AE, PCA, VAE, LinearAE, load

__version__ = _latent.__version__

__all__ = ["PCA", "LinearAE", "AE", "VAE", "load", "compare", "datasets", "__version__"]
