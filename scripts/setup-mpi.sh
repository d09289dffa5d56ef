#!/usr/bin/env bash
# One command for data-parallel training (`mpirun -np N latent fit …`, README "Scaling out")
# and for its tests:
#   scripts/setup-mpi.sh
# Installs from Debian (apt-get, as root) what is missing of: Open MPI (openmpi-bin: mpirun;
# libopenmpi-dev: the library and mpi.h) and libclang-dev (rsmpi generates its bindings with
# bindgen, which needs libclang). Then `cargo build --release -p latent-cli --features mpi`.
set -euo pipefail
need=()
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
for pkg in libopenmpi-dev libclang-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "== installing ${need[*]} (Debian)"
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]} and this is not root: run 'apt-get install ${need[*]}' as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
dpkg-query -W -f='openmpi-bin ${Version}\n' openmpi-bin
mpirun --version | head -1
