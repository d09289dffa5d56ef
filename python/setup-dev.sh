#!/usr/bin/env bash
# One command from a clean clone to a working `latent` Python package:
#   python/setup-dev.sh            # creates python/.venv, builds and installs latent into it
#   python/.venv/bin/python -c 'import latent; print(latent.__version__)'
#   python/.venv/bin/pytest python/tests
#
# It installs maturin, numpy, scikit-learn, pandas and pytest from PyPI into the venv (nothing
# else is downloaded, now or at run time), then builds the native module (crates/latent-py) with the
# workspace's cargo and target directory, and installs the package in development mode
# (`maturin develop`: the .so goes beside python/latent/*.py, edits to the .py files take
# effect at once). The first build compiles burn's tree once more in its profile: pyo3 and
# numpy change features of `syn` and `num-integer` (see the workspace Cargo.toml); later
# builds reuse it.
#
# Environment: PYTHON (default python3) picks the interpreter (CPython >= 3.9);
# LATENT_PY_RELEASE=1 builds with optimisations (slower to build, faster to train).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv ($("$python" --version 2>&1))"
  "$python" -m venv "$venv"
fi
echo "== installing maturin, numpy, scikit-learn, pandas, pytest"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9.4,<2" "numpy>=1.21" "scikit-learn>=1.6" pandas pytest

echo "== building and installing latent (maturin develop)"
profile=()
if [ "${LATENT_PY_RELEASE:-0}" = 1 ]; then profile=(--release); fi
cd "$here"
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
  "$venv/bin/maturin" develop --quiet "${profile[@]}"
"$venv/bin/python" -c 'import latent; print("latent", latent.__version__, "installed in", __import__("sys").prefix)'
