#!/usr/bin/env bash
# Render an HTML report in headless Chromium (Debian's `chromium` package, installed here if
# missing) and save a full-page screenshot, to check what a person sees.
#
#   scripts/screenshot-report.sh latent-demo/report.html report.png [WIDTH] [HEIGHT]
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTH] [HEIGHT]" >&2
    exit 1
fi
report="$(realpath "$1")"
out="$(realpath -m "$2")"
width="${3:-1200}"
height="${4:-8000}"
if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
# a scratch profile, no network, no GPU: the page must stand alone
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --proxy-server='127.0.0.1:9' \
    --window-size="$width,$height" --screenshot="$out" "file://$report" 2>/dev/null
echo "wrote $out"
