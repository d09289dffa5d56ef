#!/usr/bin/env bash
# Smoke-fuzz latent's parsers in CI: install cargo-fuzz if missing, build the fuzz targets,
# run each for a few seconds from the committed seeds, and exit non-zero on any crash
# (panic, failed assertion, out-of-memory, timeout, AddressSanitizer report).
#
#   fuzz/run-ci.sh                     # the six data-file targets, 5 s each
#   FUZZ_SECONDS=60 fuzz/run-ci.sh     # longer
#   FUZZ_NN=1 fuzz/run-ci.sh           # also run_config and nn_safetensors (compiles burn
#                                      # with instrumentation: ~15-20 min more on 2 cores)
#
# The stable toolchain is enough: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz
# passes (AddressSanitizer). New corpus entries go to a temporary directory, so the working
# tree is left as it was; a crashing input is kept in fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-5}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=(idx_images idx_labels npy csv png safetensors)
nn_targets=(run_config nn_safetensors)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# run TARGET [cargo-fuzz options…]
run() {
    local t="$1"
    shift
    echo "== fuzzing $t for ${seconds}s"
    mkdir -p "$scratch/$t"
    if ! cargo fuzz run "$@" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>"$scratch/$t.log"; then
        tail -n 60 "$scratch/$t.log" >&2
        echo "FAILED: fuzz target $t crashed; the input is in fuzz/artifacts/$t/" >&2
        return 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$scratch/$t.log" || true
}

echo "== building fuzz targets"
cargo fuzz build
status=0
for t in "${targets[@]}"; do
    run "$t" || status=1
done

if [ "${FUZZ_NN:-0}" = 1 ]; then
    echo "== building the burn-based fuzz targets"
    cargo fuzz build --features nn --target-dir target/nn
    for t in "${nn_targets[@]}"; do
        run "$t" --features nn --target-dir target/nn || status=1
    done
fi

exit "$status"
