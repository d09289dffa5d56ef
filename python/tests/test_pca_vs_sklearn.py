"""latent.PCA against scikit-learn's PCA on the same data: explained variance ratio to
1e-5, components equal up to sign."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA

import latent

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def _compare(X, k, **kw):
    t = time.perf_counter()
    ours = latent.PCA(n_components=k, **kw).fit(X)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ref = SkPCA(n_components=k, svd_solver="full").fit(X.astype(np.float64))
    t_ref = time.perf_counter() - t
    ratio_diff = np.abs(ours.explained_variance_ratio_ - ref.explained_variance_ratio_).max()
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))
    comp_diff = np.abs(ours.components_ * signs[:, None] - ref.components_).max()
    mean_diff = np.abs(ours.mean_ - ref.mean_).max()
    print(
        f"\n{X.shape[0]}×{X.shape[1]}, k={k}, {kw}: ratio max |Δ| {ratio_diff:.2e}, "
        f"components max |Δ| (up to sign) {comp_diff:.2e}, mean max |Δ| {mean_diff:.2e}; "
        f"fit {t_ours:.3f} s (latent) vs {t_ref:.3f} s (scikit-learn, full SVD)"
    )
    return ours, ref, ratio_diff, comp_diff, signs


def test_digits_equals_sklearn():
    X = load_digits().data  # the same 1,797 × 64 as latent's embedded `digits`
    np.testing.assert_array_equal(X.astype(np.float32), latent.datasets.load("digits").X)
    ours, ref, ratio_diff, comp_diff, signs = _compare(X, 20)
    assert ratio_diff <= 1e-5
    assert comp_diff <= 1e-3
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-4)
    # codes and reconstructions agree too (codes up to the components' signs)
    np.testing.assert_allclose(ours.transform(X) * signs, ref.transform(X), atol=2e-3)
    np.testing.assert_allclose(
        ours.inverse_transform(ours.transform(X)),
        ref.inverse_transform(ref.transform(X)),
        atol=2e-3,
    )


def test_fashion_mnist_10k_equals_sklearn():
    X = latent.datasets.load("fashion-mnist-10k").X  # float32, 0..255
    _, _, ratio_diff, comp_diff, _ = _compare(X / 255.0, 50)
    assert ratio_diff <= 1e-5
    assert comp_diff <= 1e-3


@pytest.mark.skipif(
    not os.path.exists(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz")),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_fashion_mnist_60k_equals_sklearn():
    X = latent.datasets.load("fashion-mnist", split="train").X
    assert X.shape == (60000, 784)
    _, _, ratio_diff, comp_diff, _ = _compare(X / 255.0, 50)
    assert ratio_diff <= 1e-5
    assert comp_diff <= 1e-3


def test_variance_fraction_keeps_the_fewest_components():
    X = load_digits().data
    ours = latent.PCA(n_components=0.9).fit(X)
    ref = SkPCA(n_components=0.9, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
