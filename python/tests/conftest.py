"""Shared fixtures: the `latent` binary (for interop with the CLI) and small data."""

from __future__ import annotations

import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _target_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


@pytest.fixture(scope="session")
def latent_bin() -> pathlib.Path:
    """The CLI binary of this checkout (LATENT_BIN, else target/debug/latent, built with
    `cargo build -p latent-cli` when missing: it must be the same build of the library)."""
    given = os.environ.get("LATENT_BIN")
    if given:
        return pathlib.Path(given)
    path = _target_dir() / "debug" / "latent"
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--quiet", "-p", "latent-cli"], cwd=ROOT, check=True
        )
    return path


@pytest.fixture(scope="session")
def cli(latent_bin):
    """Run `latent ARGS…`; returns the completed process (check=False: tests look at it)."""

    def run(*args, check=True):
        p = subprocess.run(
            [str(latent_bin), *map(str, args)], capture_output=True, text=True
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"latent {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}"
            )
        return p

    return run


@pytest.fixture(scope="session")
def blobs() -> np.ndarray:
    """300 × 12 float32 rows: three Gaussian clusters in a 3-D subspace, plus noise."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(3, 3))
    z = centres[rng.integers(0, 3, size=300)] + rng.normal(size=(300, 3))
    mix = rng.normal(size=(3, 12))
    X = z @ mix + 0.1 * rng.normal(size=(300, 12))
    return np.ascontiguousarray(X, dtype=np.float32)


@pytest.fixture(scope="session")
def unit_rows() -> np.ndarray:
    """200 × 16 float32 values in [0, 1] (a VAE's Bernoulli likelihood applies)."""
    rng = np.random.default_rng(1)
    return rng.uniform(size=(200, 16)).astype(np.float32)
