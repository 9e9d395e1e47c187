#!/usr/bin/env bash
# The coverage-guided campaign: AFL++ (cargo-afl) on each target until EXECS inputs (default 10 million).
#   fuzz/run.sh [EXECS] [TARGET...]
# Needs `cargo install cargo-afl` and `cargo afl config --build` once. Findings land in
# fuzz/out/<target>/default/{crashes,hangs}; copy each into fuzz/regressions/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")"
execs="${1:-10000000}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mqtt_decode dp_decode http_json)
cargo afl build --release
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
for t in "${targets[@]}"; do
  # -t 1000: an input that takes over a second is a hang.
  cargo afl fuzz -i "corpus/$t" -o "out/$t" -E "$execs" -t 1000 "target/release/$t" > "out-$t.log" 2>&1 &
done
wait
for t in "${targets[@]}"; do
  s="out/$t/default/fuzzer_stats"
  echo "$t: $(awk -F' *: ' '/^(execs_done|saved_crashes|saved_hangs|corpus_count|run_time)/{printf "%s=%s ", $1, $2}' "$s")"
done
