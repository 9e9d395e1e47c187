#!/usr/bin/env bash
# Compares onenet-desk binaries (e.g. before/after a change) on the load generator's scenarios, run
# interleaved, each broker fresh per run, and prints for every run the figure of merit and the broker's
# CPU time for the whole run (utime + stime from /proc/PID/stat). On a machine shared with the load
# generator, CPU per fixed workload varies far less from run to run than throughput does, so a change of
# 10 % shows in a few runs.
#
#   scripts/bench-ab.sh /tmp/serve-before /tmp/serve-after
#   RUNS=6 SCALE=10 SCENARIOS="qos1-4x4 qos1-100x1" scripts/bench-ab.sh A B C
#
# Binaries: `cargo build --release --no-default-features --bin onenet-desk`, copied aside per version.
# LOADGEN: a loadgen binary (default target/release/examples/loadgen, built when missing). Loopback only.
set -euo pipefail

# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
take_binaries "$@"
cd "$(dirname "$0")/.."

RUNS=${RUNS:-4}
SCALE=${SCALE:-1}
SCENARIOS=${SCENARIOS:-"qos1-4x4 qos1-100x1 qos0-4x4 latency-qos1 connect-rate"}
default_loadgen
TCK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%-14s %-24s %14s %8s %8s\n' scenario binary "rate or p99" delivered cpu_ms
for _ in $(seq 1 "$RUNS"); do
    for sc in $SCENARIOS; do
        for bin in "${BINS[@]}"; do
            start_serve "$bin" || continue
            before=$(cpu_ticks "$PID")
            line=$("$LOADGEN" --addr "127.0.0.1:$PORT" --scenario "$sc" --scale "$SCALE" \
                --broker-pid "$PID" --deadline 120 2>/dev/null | tail -n 1 || true)
            if ! after=$(cpu_ticks "$PID" 2>/dev/null); then
                echo "$(basename "$bin") ended during $sc; its log:" >&2
                cat "$DIR/serve.log" >&2
                stop
                continue
            fi
            figures=$(python3 -c '
import json, sys
try:
    r = json.loads(sys.argv[1])
except ValueError:
    print("no-output -"); sys.exit()
keys = ("p99_ms", "deliveries_per_s", "connections_per_s", "datapoints_per_s")
k = next((k for k in keys if r.get(k) is not None), None)
v = "-" if k is None else ("%.3f" if k == "p99_ms" else "%.0f") % r[k]
print(v, r.get("delivered_pct", "-"))
' "$line")
            read -r figure delivered <<<"$figures"
            printf '%-14s %-24s %14s %8s %8d\n' "$sc" "$(basename "$bin")" "$figure" "$delivered" \
                $(((after - before) * 1000 / TCK))
            stop
        done
    done
done
