"""`latent.compare`: `latent compare` on arrays — the same fits and figures as the CLI on the
same rows, labels and DataFrames, the report written where asked, errors as ValueError."""

from __future__ import annotations

import json

import numpy as np
import pytest

import latent

# a small comparison: one latent dimension, β = 1 only, short training
SMALL = dict(latent_dims=[2], betas=[1.0], epochs=2, linear_epochs=5, hidden=[16],
             iw_samples=5, samples=100, seed=3)
SMALL_FLAGS = ["--latent-dims", "2", "--betas", "1", "--epochs", "2", "--linear-epochs", "5",
               "--hidden", "16", "--iw-samples", "5", "--samples", "100", "--seed", "3"]

# what is not a figure of the model (the record's name), or differs between two identical
# comparisons (the clocks)
NOT_FIGURES = {"model", "latent_dim", "beta", "run", "fit_seconds", "seconds"}


def _figures(record):
    return {k: v for k, v in record.items() if k not in NOT_FIGURES}


def test_compare_equals_latent_compare(blobs, cli, tmp_path):
    """The array fitted by latent.compare and the same rows in a .npy file given to
    `latent compare` hold out the same rows and give the same figures, model for model."""
    np.save(tmp_path / "x.npy", blobs)
    cli("compare", "--data", tmp_path / "x.npy", *SMALL_FLAGS, "--holdout-seed", "5", "--out",
        tmp_path / "cli", "--quiet")
    from_cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    ours = latent.compare(blobs, **SMALL, holdout_seed=5, out=tmp_path / "py")
    # another shuffle holds out other rows: other figures
    other = latent.compare(blobs, **SMALL)
    assert other["records"][0]["recon_mse"] != ours["records"][0]["recon_mse"]

    assert (tmp_path / "py" / "report.html").is_file()
    assert json.loads((tmp_path / "py" / "summary.json").read_text())["records"] == \
        ours["records"]
    assert (ours["train_rows"], ours["test_rows"]) == (240, 60)
    assert (from_cli["train_rows"], from_cli["test_rows"]) == (240, 60)
    models = [(r["model"], r["latent_dim"], r["beta"]) for r in ours["records"]]
    assert models == [(r["model"], r["latent_dim"], r["beta"]) for r in from_cli["records"]]
    assert {m for m, _, _ in models} == {"pca", "linear-ae", "ae", "vae"}
    for a, b in zip(ours["records"], from_cli["records"]):
        fa, fb = _figures(a), _figures(b)
        assert fa.keys() == fb.keys(), a["model"]
        for key in fa:
            if isinstance(fa[key], (int, float)) or isinstance(fa[key], list):
                assert fa[key] == pytest.approx(fb[key], rel=1e-6, abs=1e-9), (a["model"], key)
            else:
                assert fa[key] == fb[key], (a["model"], key)
    # PCA's reconstruction error is the one a direct fit gives on the held-out rows
    pca = next(r for r in ours["records"] if r["model"] == "pca")
    assert pca["recon_mse"] > 0


def test_given_test_rows_text_labels_and_a_dataframe(blobs, tmp_path):
    """X_test replaces the hold-out; text labels (a pandas Series) enable the classifier
    figures; a DataFrame is read through NumPy; without `out`, nothing is left behind."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    names = np.array(["wool", "silk", "linen"])[rng.integers(0, 3, size=300)]
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(12)])
    summary = latent.compare(df.iloc[:250], pd.Series(names[:250]), X_test=df.iloc[250:],
                             y_test=names[250:], **SMALL)
    assert (summary["train_rows"], summary["test_rows"]) == (250, 50)
    assert "given in memory" in summary["split"]
    accuracies = [r.get("classifier_accuracy") for r in summary["records"]]
    assert all(a is not None and 0.0 <= a <= 1.0 for a in accuracies), accuracies


def test_compare_reports_bad_settings_as_value_errors(blobs, tmp_path):
    with pytest.raises(ValueError, match="--betas"):
        latent.compare(blobs, **{**SMALL, "betas": [-1.0]})
    with pytest.raises(ValueError, match="X_test has 3 features"):
        latent.compare(blobs, X_test=blobs[:, :3], **SMALL)
    with pytest.raises(ValueError, match="holdout"):
        latent.compare(blobs, holdout=1.5, **SMALL)
    with pytest.raises(ValueError, match="y_test given without X_test"):
        latent.compare(blobs, y_test=np.zeros(10), **SMALL)
    # a directory latent did not write is never touched
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError):
        latent.compare(blobs, out=tmp_path / "mine", force=True, **SMALL)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_estimators_take_dataframes(blobs):
    """A pandas DataFrame is read through NumPy: the same codes as the array, and its column
    names kept as scikit-learn's feature_names_in_."""
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(12)])
    pca = latent.PCA(n_components=3).fit(df)
    assert list(pca.feature_names_in_) == list(df.columns)
    np.testing.assert_array_equal(pca.transform(df), latent.PCA(n_components=3).fit(blobs)
                                  .transform(blobs))
    with pytest.warns(UserWarning, match="feature names"):
        pca.transform(blobs)
