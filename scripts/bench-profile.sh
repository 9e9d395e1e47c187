#!/usr/bin/env bash
# Compares onenet-desk binaries by CPU profile over a fixed workload: for each binary in turn (ROUNDS
# times, interleaved), a fresh broker runs the load generator's SCENARIO REPEAT times under
# `perf record -F 4999`; prints the broker's samples (CPU time at 4,999 per second, all threads) and the
# share of the symbols matching SYMBOLS. Finer than `bench-ab.sh`'s CPU ticks (10 ms) and it says where
# the time went, so a change of a few percent in one function shows in two rounds.
#
#   scripts/bench-profile.sh /tmp/serve-before /tmp/serve-after
#   ROUNDS=3 SCENARIO=qos1-4x4 SYMBOLS='Router::handle$|memcmp' scripts/bench-profile.sh A B
#
# Needs `perf` (Debian: linux-perf; installed when missing) and the right to profile one's own processes
# (kernel.perf_event_paranoid ≤ 2). LOADGEN: as in bench-ab.sh. Loopback only.
set -euo pipefail

# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
take_binaries "$@"
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-2}
REPEAT=${REPEAT:-3}
SCALE=${SCALE:-10}
SCENARIO=${SCENARIO:-qos0-4x4}
SYMBOLS=${SYMBOLS:-'Router::handle$|drain_output$|read_packets|memcmp|shared_v_drop'}
default_loadgen
if ! command -v perf >/dev/null; then
    echo "installing linux-perf (apt-get)" >&2
    apt-get update >/dev/null && apt-get install -y linux-perf >/dev/null
fi

DATA=$(mktemp -d)
PERF=
trap '[ -z "$PERF" ] || kill "$PERF" 2>/dev/null; stop; rm -rf "$DATA"' EXIT
for _ in $(seq 1 "$ROUNDS"); do
    for bin in "${BINS[@]}"; do
        start_serve "$bin" || continue
        rm -f "$DATA/perf.data"
        perf record -q -F 4999 -p "$PID" -o "$DATA/perf.data" >"$DATA/perf.log" 2>&1 &
        PERF=$!
        # perf attaches in a few ms; a perf that could not (kernel.perf_event_paranoid) has ended.
        sleep 0.3
        if ! kill -0 "$PERF" 2>/dev/null; then
            echo "perf record could not profile the broker:" >&2
            cat "$DATA/perf.log" >&2
            exit 1
        fi
        for _ in $(seq 1 "$REPEAT"); do
            "$LOADGEN" --addr "127.0.0.1:$PORT" --scenario "$SCENARIO" --scale "$SCALE" \
                --deadline 120 >/dev/null 2>&1 || echo "$(basename "$bin"): a run failed" >&2
        done
        kill -INT "$PERF" 2>/dev/null || true
        wait "$PERF" || true
        PERF=
        if ! samples=$(perf script -i "$DATA/perf.data" -F period 2>"$DATA/script.log" | wc -l); then
            echo "$(basename "$bin"): perf script failed:" >&2
            cat "$DATA/script.log" >&2
            stop
            continue
        fi
        shares=$(perf report -i "$DATA/perf.data" --no-children --sort sym 2>/dev/null |
            grep -E "$SYMBOLS" | awk '{ $2 = ""; printf "%s |", $0 }' || true)
        printf '%-20s samples %6d | %s\n' "$(basename "$bin")" "$samples" "$shares"
        stop
    done
done
