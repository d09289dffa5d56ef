#!/usr/bin/env bash
# The README's two commands from a cold build, timed one after the other:
#   cargo run --release -p latent-cli -- demo     (the demo's output in a temporary folder)
#   cargo test --release
# in a fresh, empty target directory (the crates are downloaded first and not timed: a
# fresh machine's download time is its network's). Prints one JSON line; ~12 minutes on 2
# cores. Run by `bench/run --readme-commands`, or alone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fetch --locked --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="$work/target"
now() { date +%s.%N; }
t0=$(now)
cargo run --release --locked -p latent-cli -- demo --out "$work/demo" > "$work/first.log" 2>&1 ||
  { tail -20 "$work/first.log" >&2; exit 1; }
t1=$(now)
cargo test --release --locked > "$work/second.log" 2>&1 || { tail -40 "$work/second.log" >&2; exit 1; }
t2=$(now)
# cargo's own build time in a log ("Finished `release` profile ... in 6m 09s")
build_time() { sed -n 's/.*Finished `release` profile .* in \(.*\)$/\1/p' "$1" | head -1; }
python3 - "$t0" "$t1" "$t2" "$(build_time "$work/first.log")" "$(build_time "$work/second.log")" \
  "$(nproc)" <<'PY'
import json, sys
t0, t1, t2 = map(float, sys.argv[1:4])
print(json.dumps({"benchmark": "readme_commands", "cores": int(sys.argv[6]),
                  "first_seconds": round(t1 - t0), "first_build": sys.argv[4],
                  "second_seconds": round(t2 - t1), "second_build": sys.argv[5],
                  "total_seconds": round(t2 - t0), "target_seconds": 600}))
PY
