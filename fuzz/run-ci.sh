#!/usr/bin/env bash
# Smoke-fuzz latent's parsers in CI: install cargo-fuzz if missing, build the fuzz targets,
# run each for a few seconds from the committed seeds, and exit non-zero on any crash
# (panic, failed assertion, out-of-memory, timeout, AddressSanitizer report).
#
#   fuzz/run-ci.sh                        # the six data-file targets, 5 s each
#   FUZZ_SECONDS=60 fuzz/run-ci.sh        # longer
#   FUZZ_SANITIZER=none fuzz/run-ci.sh    # no AddressSanitizer: quicker build, faster runs
#   FUZZ_NN=1 fuzz/run-ci.sh              # also run_config and nn_safetensors (compiles burn
#                                         # instrumented: ~20-40 min more on 2 cores)
#
# The stable toolchain is enough: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz
# passes for AddressSanitizer. New corpus entries go to a temporary directory, so the working
# tree is left as it was; a crashing input is kept in fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-5}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version

targets=(idx_images idx_labels npy csv png safetensors)
nn_targets=(run_config nn_safetensors)
# Each sanitizer setting has its own build directory (the flags differ); FUZZ_TARGET_DIR
# overrides it (e.g. a cached directory in CI).
dir=target
[ "$sanitizer" = address ] || dir="target/sanitizer-$sanitizer"
dir="${FUZZ_TARGET_DIR:-$dir}"
common=(--sanitizer "$sanitizer" --target-dir "$dir")
nn=(--sanitizer "$sanitizer" --target-dir "$dir/nn" --features nn)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# run TARGET CARGO-FUZZ-OPTIONS…
run() {
    local t="$1"
    shift
    echo "== fuzzing $t for ${seconds}s"
    mkdir -p "$scratch/$t"
    if ! cargo fuzz run "$@" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$scratch/$t.log" 2>&1; then
        tail -n 80 "$scratch/$t.log" >&2
        echo "FAILED: fuzz target $t crashed; the input is in fuzz/artifacts/$t/" >&2
        return 1
    fi
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$scratch/$t.log" || true
}

status=0
echo "== building the fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build "${common[@]}"
for t in "${targets[@]}"; do
    run "$t" "${common[@]}" || status=1
done

if [ "${FUZZ_NN:-0}" = 1 ]; then
    echo "== building the burn-based fuzz targets"
    cargo fuzz build "${nn[@]}"
    for t in "${nn_targets[@]}"; do
        run "$t" "${nn[@]}" || status=1
    done
fi

if [ "$status" = 0 ]; then
    echo "== fuzzing: no crash"
fi
exit "$status"
