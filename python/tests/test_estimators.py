"""The estimators' own behaviour: inputs, outputs, pickling, errors, the GIL, zero copy."""

from __future__ import annotations

import copy
import os
import pickle
import signal
import threading
import time
import tracemalloc

import numpy as np
import pytest

import latent

FAMILIES = [
    pytest.param(lambda: latent.PCA(n_components=3), id="pca"),
    pytest.param(lambda: latent.LinearAE(latent_dim=3, epochs=2), id="linear-ae"),
    pytest.param(lambda: latent.AE(latent_dim=3, hidden=(16,), epochs=2), id="ae"),
    pytest.param(lambda: latent.VAE(latent_dim=3, hidden=(16,), epochs=2), id="vae"),
]


@pytest.mark.parametrize("make", FAMILIES)
def test_dtypes_and_orders_give_the_same_codes(make, blobs):
    est = make().fit(blobs)
    z = est.transform(blobs)
    assert z.dtype == np.float32 and z.shape == (300, 3) and z.flags.c_contiguous
    np.testing.assert_array_equal(est.transform(np.asfortranarray(blobs)), z)
    np.testing.assert_array_equal(est.transform(blobs.astype(np.float64)), z)
    np.testing.assert_array_equal(est.transform(blobs.tolist()), z)
    # a strided view (every other row) reads the same rows
    np.testing.assert_array_equal(est.transform(blobs[::2]), z[::2])
    x_hat = est.inverse_transform(z)
    assert x_hat.dtype == np.float32 and x_hat.shape == blobs.shape
    assert est.fit_transform(blobs).shape == (300, 3)
    assert np.isfinite(est.score(blobs))


@pytest.mark.parametrize("make", FAMILIES)
def test_pickle_and_deepcopy_keep_the_model(make, blobs, tmp_path):
    est = make().fit(blobs)
    z = est.transform(blobs)
    for copied in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        assert copied is not est
        np.testing.assert_array_equal(copied.transform(blobs), z)
        np.testing.assert_array_equal(copied.sample(5, seed=3), est.sample(5, seed=3))
        assert copied.history_ == est.history_
        assert copied.get_params() == est.get_params()
    # a pickle holds the weights, not the data, and is not refitted on load
    assert len(pickle.dumps(est)) < blobs.nbytes
    # an unfitted estimator pickles too
    assert pickle.loads(pickle.dumps(make())).get_params() == make().get_params()


def test_pca_attributes(blobs):
    pca = latent.PCA(n_components=4).fit(blobs)
    assert pca.components_.shape == (4, 12)
    assert pca.explained_variance_.shape == pca.explained_variance_ratio_.shape == (4,)
    assert pca.mean_.shape == (12,)
    assert pca.n_features_in_ == 12 and pca.n_components_ == 4
    assert pca.history_ == []
    np.testing.assert_allclose(pca.mean_, blobs.mean(axis=0), atol=1e-4)
    assert list(pca.get_feature_names_out()) == [f"pca{i}" for i in range(4)]


def test_vae_distribution_sample_interpolate(unit_rows):
    vae = latent.VAE(latent_dim=2, hidden=(16,), epochs=3, scale="none").fit(unit_rows)
    assert [h["epoch"] for h in vae.history_] == [1, 2, 3]
    assert all(h["train_kl"] >= 0 for h in vae.history_)
    d = vae.encode_distribution(unit_rows[:7])
    assert set(d) == {"mean", "log_var"}
    np.testing.assert_array_equal(d["mean"], vae.transform(unit_rows[:7]))
    s = vae.sample(9, seed=1)
    assert s.shape == (9, 16) and s.dtype == np.float32
    np.testing.assert_array_equal(s, vae.sample(9, seed=1))
    assert not np.array_equal(s, vae.sample(9, seed=2))
    # temperature 0 decodes the prior's mean, the origin
    np.testing.assert_allclose(
        vae.sample(2, seed=5, temperature=0.0),
        vae.inverse_transform(np.zeros((2, 2), np.float32)),
        atol=1e-6,
    )
    path = vae.interpolate(unit_rows[0], unit_rows[1], steps=5)
    assert path.shape == (5, 16)
    recon = vae.inverse_transform(vae.transform(unit_rows[:2]))
    np.testing.assert_allclose(path[[0, -1]], recon, atol=1e-6)
    assert vae.interpolate(unit_rows[0], unit_rows[1], steps=4, slerp=True).shape == (4, 16)
    # the score is the mean ELBO: minus (reconstruction + KL), below 0 for Bernoulli data
    assert vae.score(unit_rows) < 0

    full = latent.VAE(latent_dim=2, hidden=(8,), epochs=1, posterior="full", scale="none")
    d = full.fit(unit_rows).encode_distribution(unit_rows[:3])
    assert set(d) == {"mean", "scale_tril"} and d["scale_tril"].shape == (3, 2, 2)


def test_models_without_a_prior_sample_a_gaussian_of_their_codes(blobs):
    ae = latent.AE(latent_dim=2, hidden=(16,), epochs=2).fit(blobs)
    with pytest.raises(ValueError, match="no posterior"):
        ae.encode_distribution(blobs)
    assert ae.sample(4, seed=0).shape == (4, 12)


def test_zero_copy_transform_of_c_ordered_float32():
    """transform reads a C-ordered float32 array in place: the memory Python allocates
    while it runs (tracemalloc: NumPy's buffers included) stays far below the input's size."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 500)).astype(np.float32)  # 40 MB
    pca = latent.PCA(n_components=8).fit(X[:2000])
    pca.transform(X[:10])  # warm up (imports, caches)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        z = pca.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert z.shape == (20_000, 8)
    extra = peak - before
    # the same measurement sees a copy: NumPy's buffers are traced
    tracemalloc.start()
    try:
        np.ascontiguousarray(X.T)
        _, copy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copy_peak >= X.nbytes
    print(f"\ntransform of {X.nbytes / 1e6:.0f} MB: peak traced Python allocation {extra / 1e6:.2f} MB")
    # the output (0.64 MB) and small objects, never a copy of X (40 MB)
    assert extra < X.nbytes / 20
    # a float64 input is converted (inside the native core, not by NumPy)
    assert np.array_equal(pca.transform(X[:100].astype(np.float64)), z[:100])


def test_long_work_releases_the_gil(blobs):
    """Another Python thread runs while a fit trains."""
    X = np.tile(blobs, (20, 1))
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.perf_counter()
        latent.VAE(latent_dim=2, hidden=(64,), epochs=4).fit(X)
        elapsed = time.perf_counter() - start
    finally:
        done.set()
        t.join()
    during = [x for x in ticks if start <= x <= start + elapsed]
    # the ticker ran all along (a held GIL would leave it a tick or two)
    assert len(during) >= max(3, elapsed / 0.005 / 4), (len(during), elapsed)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "row 0, column 1 is NaN"),
        (np.array([[1.0, 2.0], [-np.inf, 3.0]]), "row 1, column 0 is -inf"),
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros(5), "2D array"),
        (np.array([["a", "b"], ["c", "d"]]), "string|convert"),
        (np.ones((1, 3)), "1 sample"),
    ],
)
def test_bad_input_is_a_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        latent.PCA(n_components=1).fit(X)


def test_non_finite_rows_are_refused_by_every_family():
    X = np.ones((20, 4), dtype=np.float32)
    X[13, 2] = np.nan
    for est in (latent.LinearAE(epochs=1), latent.AE(epochs=1), latent.VAE(epochs=1)):
        with pytest.raises(ValueError, match="row 13, column 2 is NaN"):
            est.fit(X)
        assert not est.__sklearn_is_fitted__()


def test_bad_settings_are_value_errors_with_the_clis_message(blobs, cli, tmp_path):
    np.save(tmp_path / "x.npy", blobs)
    cases = [
        (latent.VAE(lr=-1.0, epochs=1), ["--model", "vae", "--lr", "-1", "--epochs", "1"]),
        (latent.AE(epochs=0), ["--model", "ae", "--epochs", "0"]),
        (latent.VAE(lr_schedule="zigzag"), ["--model", "vae", "--lr-schedule", "zigzag"]),
        (latent.PCA(n_components=20), ["--model", "pca", "--latent-dim", "20", "--scale", "none"]),
        (latent.VAE(binarize="maybe"), ["--model", "vae", "--binarize", "maybe"]),
        (latent.VAE(likelihood="bernoulli", scale="standardize"),
         ["--model", "vae", "--likelihood", "bernoulli", "--scale", "standardize"]),
    ]
    for est, flags in cases:
        with pytest.raises(ValueError) as err:
            est.fit(blobs)
        if "--latent-dim" not in flags:
            flags = flags + ["--latent-dim", str(est.latent_dim)]
        p = cli("fit", "--data", tmp_path / "x.npy", *flags, "--out", tmp_path / "r",
                check=False)
        assert p.returncode == 1, p.stderr
        cli_message = p.stderr.strip().removeprefix("error: ")
        assert str(err.value) == cli_message.replace(str(tmp_path / "x.npy"), _name(blobs)), (
            str(err.value), cli_message)


def _name(X):
    return f"array {X.shape[0]}×{X.shape[1]} {X.dtype} (from Python)"


def test_unknown_choices_name_the_possible_values(blobs):
    with pytest.raises(ValueError, match=r"invalid value 'nope' for solver \(--solver\): "
                                         r"possible values: exact, randomized, incremental"):
        latent.PCA(solver="nope").fit(blobs)
    with pytest.raises(ValueError, match="hidden"):
        latent.AE(hidden=(8, -1)).fit(blobs)


def test_width_mismatch_and_unfitted_use(blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        latent.VAE().transform(blobs)
    pca = latent.PCA(n_components=2).fit(blobs)
    with pytest.raises(ValueError, match="12 features"):
        pca.transform(blobs[:, :5])
    with pytest.raises(ValueError, match="2 latent dimensions"):
        pca.inverse_transform(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="n=0"):
        pca.sample(0)


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler (KeyboardInterrupt), as an interactive session has it: a
    process started in the background by a non-interactive shell (a CI runner's, say) starts
    with SIGINT ignored, and Python then installs no handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_training_and_keeps_the_estimator_as_it_was(blobs, ctrl_c):
    """SIGINT during a fit: KeyboardInterrupt between two steps, saying where; the estimator
    keeps its previous state (unfitted here, or the earlier fit)."""
    X = np.tile(blobs, (40, 1))  # 12,000 rows: ~94 steps an epoch
    vae = latent.VAE(latent_dim=2, hidden=(32,), epochs=1000)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt, match=r"training interrupted at epoch \d+, step \d+.*not fitted"):
            vae.fit(X)
    finally:
        timer.cancel()
    assert time.perf_counter() - started < 30
    assert not hasattr(vae, "_native") or vae._native is None
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        vae.transform(blobs)
    # fitted before: an interrupted refit leaves the earlier model
    vae.set_params(epochs=1)
    vae.fit(blobs)
    z = vae.transform(blobs)
    vae.set_params(epochs=1000)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt, match="fitted by an earlier fit"):
            vae.fit(X)
    finally:
        timer.cancel()
    np.testing.assert_array_equal(vae.transform(blobs), z)


def test_ctrl_c_seen_by_the_progress_callback_stops_training(blobs, monkeypatch):
    """Ctrl-C handled while the verbose progress callback runs Python (it raises there, not
    in the check between steps) stops training too, instead of being printed and lost; one
    seen after the last step discards the fit as well."""
    import latent._estimators as est

    class Pressed(est._Progress):
        def __call__(self, kind, payload):
            if kind == "epoch":
                raise KeyboardInterrupt
            super().__call__(kind, payload)

    monkeypatch.setattr(est, "_Progress", Pressed)
    X = np.tile(blobs, (40, 1))
    vae = latent.VAE(latent_dim=2, hidden=(32,), epochs=1000, verbose=True)
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt, match=r"training interrupted at epoch 2, step 1\b.*not fitted"):
        vae.fit(X)
    assert time.perf_counter() - started < 30
    assert not hasattr(vae, "_native") or vae._native is None
    # the last epoch's report: the fit had finished, and is not kept
    vae.set_params(epochs=1)
    with pytest.raises(KeyboardInterrupt, match="not fitted"):
        vae.fit(X)
    assert not hasattr(vae, "_native") or vae._native is None


def test_verbose_prints_progress(blobs, capsys):
    latent.VAE(latent_dim=2, hidden=(8,), epochs=2, verbose=True).fit(blobs)
    err = capsys.readouterr().err
    assert "training vae 12→2" in err and "epoch 2/2: loss" in err, err
