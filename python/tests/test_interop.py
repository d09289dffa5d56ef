"""Python and the CLI share one library and one run-directory format: the same data,
settings and seed give bit-identical weights, and a run written by either is read by the
other."""

from __future__ import annotations

import json

import numpy as np
import pytest

import latent


def _weights(run_dir) -> bytes:
    return (run_dir / "model.safetensors").read_bytes()


# (estimator, the `latent fit` flags of the same settings)
CASES = [
    pytest.param(
        lambda: latent.PCA(n_components=4, scale="auto"),
        ["--model", "pca", "--latent-dim", "4"],
        id="pca",
    ),
    pytest.param(
        lambda: latent.PCA(n_components=3, solver="randomized", seed=5, whiten=True),
        ["--model", "pca", "--latent-dim", "3", "--solver", "randomized", "--seed", "5",
         "--whiten", "--scale", "none"],
        id="pca-randomized",
    ),
    pytest.param(
        lambda: latent.LinearAE(latent_dim=3, epochs=2, batch_size=32, seed=2),
        ["--model", "linear-ae", "--latent-dim", "3", "--epochs", "2", "--batch-size", "32",
         "--seed", "2"],
        id="linear-ae",
    ),
    pytest.param(
        lambda: latent.AE(latent_dim=2, hidden=(16, 8), epochs=2, batch_size=50, lr=3e-3),
        ["--model", "ae", "--latent-dim", "2", "--hidden", "16,8", "--epochs", "2",
         "--batch-size", "50", "--lr", "3e-3"],
        id="ae",
    ),
    pytest.param(
        lambda: latent.VAE(latent_dim=2, hidden=(16,), epochs=3, batch_size=32, beta=0.5,
                           kl_warmup=1, seed=7),
        ["--model", "vae", "--latent-dim", "2", "--hidden", "16", "--epochs", "3",
         "--batch-size", "32", "--beta", "0.5", "--kl-warmup", "1", "--seed", "7"],
        id="vae",
    ),
]


@pytest.mark.parametrize("make, flags", CASES)
def test_same_weights_as_latent_fit(make, flags, blobs, cli, tmp_path):
    """The array written to .npy and fitted by `latent fit` gives the same bytes of
    model.safetensors as the estimator fitted on the array."""
    np.save(tmp_path / "x.npy", blobs)
    cli("fit", "--data", tmp_path / "x.npy", *flags, "--out", tmp_path / "cli")
    est = make().fit(blobs)
    est.save(tmp_path / "py")
    assert _weights(tmp_path / "py") == _weights(tmp_path / "cli")
    # and the same preprocessing recorded
    cfg = lambda d: json.loads((d / "config.json").read_text())  # noqa: E731
    assert cfg(tmp_path / "py")["preprocess"] == cfg(tmp_path / "cli")["preprocess"]


def test_same_weights_for_8bit_data(cli, tmp_path):
    """uint8 rows are 8-bit data for both (range 0..255, unit scaling under `auto`)."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, size=(120, 20), dtype=np.uint8)
    np.save(tmp_path / "x.npy", X)
    cli("fit", "--model", "vae", "--data", tmp_path / "x.npy", "--latent-dim", "2",
        "--hidden", "8", "--epochs", "2", "--out", tmp_path / "cli")
    latent.VAE(latent_dim=2, hidden=(8,), epochs=2).fit(X).save(tmp_path / "py")
    assert _weights(tmp_path / "py") == _weights(tmp_path / "cli")


def test_a_run_saved_in_python_works_with_the_cli(unit_rows, cli, tmp_path):
    vae = latent.VAE(latent_dim=2, hidden=(16,), epochs=2, scale="none", seed=1).fit(unit_rows)
    run = tmp_path / "run"
    vae.save(run)
    np.save(tmp_path / "x.npy", unit_rows)
    # codes: `latent encode` gives what transform gives
    cli("encode", "--run", run, "--data", tmp_path / "x.npy", "--out", tmp_path / "codes.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), vae.transform(unit_rows))
    # samples: `latent sample --seed S` gives what sample(seed=S) gives
    cli("sample", "--run", run, "--n", "6", "--seed", "4", "--out", tmp_path / "s.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), vae.sample(6, seed=4))
    info = cli("info", "--run", run).stdout
    assert "vae" in info
    # saving again is refused without force, as the CLI refuses an existing --out
    with pytest.raises(ValueError, match="exists"):
        vae.save(run)
    vae.save(run, force=True)


def test_a_pca_saved_in_python_samples_with_the_cli(blobs, cli, tmp_path):
    pca = latent.PCA(n_components=3).fit(blobs)
    pca.save(tmp_path / "run")
    np.save(tmp_path / "x.npy", blobs)
    # the Gaussian of PCA's training codes is known in closed form (mean 0, the explained
    # variances): the CLI samples the run without the array, which the run does not record
    cli("sample", "--run", tmp_path / "run", "--n", "4", "--seed", "2", "--out",
        tmp_path / "s.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), pca.sample(4, seed=2))
    # given rows, both fit the Gaussian to their codes
    cli("sample", "--run", tmp_path / "run", "--n", "4", "--seed", "2", "--data",
        tmp_path / "x.npy", "--out", tmp_path / "g.npy")
    given = pca.sample(4, seed=2, X=blobs)
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), given)
    # the same distribution up to the codes' rounding, not the same bits
    np.testing.assert_allclose(given, pca.sample(4, seed=2), rtol=1e-4, atol=1e-4)


def test_an_autoencoder_saved_in_python_samples_with_the_cli_given_data(blobs, cli, tmp_path):
    ae = latent.AE(latent_dim=2, hidden=(8,), epochs=2, seed=3).fit(blobs)
    ae.save(tmp_path / "run")
    np.save(tmp_path / "x.npy", blobs)
    # the run does not record the array, so the CLI asks for --data (the codes' Gaussian)
    p = cli("sample", "--run", tmp_path / "run", "--n", "4", "--out", tmp_path / "s.npy",
            check=False)
    assert p.returncode == 1 and "--data" in p.stderr, p.stderr
    cli("sample", "--run", tmp_path / "run", "--n", "4", "--seed", "2", "--data",
        tmp_path / "x.npy", "--out", tmp_path / "s.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), ae.sample(4, seed=2))


def test_a_cli_run_loads_in_python(cli, tmp_path):
    cli("fit", "--model", "vae", "--data", "digits", "--latent-dim", "2", "--hidden", "32",
        "--epochs", "2", "--out", tmp_path / "run")
    vae = latent.load(tmp_path / "run")
    assert isinstance(vae, latent.VAE)
    assert (vae.n_features_in_, vae.n_components_, vae.hidden) == (64, 2, (32,))
    assert [h["epoch"] for h in vae.history_] == [1, 2]
    X = latent.datasets.load("digits").X
    cli("encode", "--run", tmp_path / "run", "--data", "digits", "--out", tmp_path / "c.npy")
    np.testing.assert_array_equal(vae.transform(X), np.load(tmp_path / "c.npy"))
    cli("sample", "--run", tmp_path / "run", "--n", "3", "--seed", "9", "--out",
        tmp_path / "s.npy")
    # (the CLI writes image rows as images, N × 8 × 8; sample gives rows, as transform takes)
    np.testing.assert_array_equal(
        vae.sample(3, seed=9), np.load(tmp_path / "s.npy").reshape(3, 64)
    )
    # decoded rows are in the data's units (digits: 0..16)
    assert vae.inverse_transform(vae.transform(X[:5])).max() <= 16.0 + 1e-4

    cli("fit", "--model", "pca", "--data", "digits", "--latent-dim", "5", "--out",
        tmp_path / "pca")
    pca = latent.load(tmp_path / "pca")
    assert isinstance(pca, latent.PCA) and pca.components_.shape == (5, 64)
    # the run records its data (digits), so a PCA loaded from it samples without X
    cli("sample", "--run", tmp_path / "pca", "--n", "3", "--seed", "1", "--out",
        tmp_path / "p.npy")
    np.testing.assert_array_equal(
        pca.sample(3, seed=1), np.load(tmp_path / "p.npy").reshape(3, 64)
    )


def test_load_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="not a latent run directory"):
        latent.load(tmp_path)


def test_evaluate_gives_latent_evals_numbers(cli, tmp_path):
    """evaluate() on the rows `latent eval --data digits` reads gives its --json, key for
    key (the same reference rows, seeds, classifier)."""
    cli("fit", "--model", "vae", "--data", "digits", "--latent-dim", "2", "--hidden", "32",
        "--epochs", "2", "--out", tmp_path / "run")
    flags = dict(seed=3, iw_samples=10, samples=200, continuity_points=100)
    p = cli("eval", "--run", tmp_path / "run", "--data", "digits", "--json",
            *[f"--{k.replace('_', '-')}={v}" for k, v in flags.items()])
    expected = json.loads(p.stdout)
    d = latent.datasets.load("digits")
    got = latent.load(tmp_path / "run").evaluate(d.X, d.y, **flags)
    assert got == expected
    assert {"elbo", "kl", "nll_is", "recon_bce", "classifier_accuracy", "continuity",
            "completeness", "frechet"} <= set(got)


def test_evaluate_a_model_fitted_in_python(blobs):
    y = (blobs[:, 0] > 0).astype(int)
    pca = latent.PCA(n_components=3).fit(blobs)
    m = pca.evaluate(blobs, y, samples=100, continuity_points=50)
    assert m["n"] == 150  # the other half is the reference set
    assert m["recon_mse"] >= 0 and 0 <= m["classifier_accuracy"] <= 1
    assert "elbo" not in m
    m = pca.evaluate(blobs[:100], X_reference=blobs[100:], samples=50, classifier=False)
    assert m["n"] == 100 and "classifier_accuracy" not in m
