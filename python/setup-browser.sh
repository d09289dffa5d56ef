#!/usr/bin/env bash
# One command for the explorer's browser tests (python/tests/test_explore.py):
#   python/setup-browser.sh
# Installs Debian's chromium (apt-get, as root) when /usr/bin/chromium is missing, and
# Playwright from PyPI into python/.venv (made by python/setup-dev.sh, run that first).
# Playwright drives the system browser (executable_path=/usr/bin/chromium): it downloads no
# browser of its own (no `playwright install`), now or at run time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "python/.venv is missing: run python/setup-dev.sh first" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian)"
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing and this is not root: run 'apt-get install chromium' as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "== installing playwright (PyPI) into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "playwright==1.65.2"
dpkg-query -W -f='chromium ${Version}\n' chromium
"$venv/bin/python" -c 'import playwright; print("playwright", __import__("importlib.metadata").metadata.version("playwright"))'
