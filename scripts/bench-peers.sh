#!/usr/bin/env bash
# Benchmarks onenet-desk (`serve --profile mqtt`) against mosquitto (Debian's package, queue limits off)
# and, as a second peer, rumqttd 0.20 (from the Rust registry) on the loopback interface, with the crate's
# load generator (examples/loadgen/). The brokers are run interleaved (scenario by scenario, run by run),
# each fresh for each scenario, RUNS times; the medians go into a table with ratios (stdout and
# bench/peers.md) and a PNG chart (bench/peers.png, gnuplot).
#
#   scripts/bench-peers.sh                      # 3 runs of every scenario
#   RUNS=1 SCENARIOS="qos1-4x4 idle" scripts/bench-peers.sh
#   RUMQTTD=install scripts/bench-peers.sh      # cargo install rumqttd 0.20.0 first if it is missing
#   RUMQTTD=off scripts/bench-peers.sh          # mosquitto only
#   FLOOR=on scripts/bench-peers.sh             # also examples/floor.rs, in the latency and
#                                               # connect-rate scenarios only
#
# RUMQTTD=auto (the default) includes rumqttd when version 0.20.0 is installed.
# Needs: cargo, python3, apt-get (installs mosquitto and gnuplot-nox when missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-"qos0-4x4 qos1-4x4 qos1-100x1 latency-qos0 latency-qos1 stalled stalled-qos1 idle connect-rate"}
DEADLINE=${DEADLINE:-120}
IDLE=${IDLE:-10000}
OUT=${OUT:-bench}
mkdir -p "$OUT"
RAW="$OUT/peers-raw.jsonl"
: >"$RAW"

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (apt-get)" >&2
    # A fresh machine's package lists may be empty or stale: read them first.
    apt-get update -qq >/dev/null
    apt-get install -y "${need[@]}" >/dev/null
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# rumqttd 0.20.0 exactly (the configuration below is that version's); `cargo install` puts it in
# ~/.cargo/bin, which need not be on PATH.
RUMQTTD_BIN=$(command -v rumqttd || echo "${CARGO_HOME:-$HOME/.cargo}/bin/rumqttd")
rumqttd_ok() { [ -x "$RUMQTTD_BIN" ] && [ "$("$RUMQTTD_BIN" --version 2>/dev/null)" = "rumqttd 0.20.0" ]; }
BROKERS="onenet-desk mosquitto"
case ${RUMQTTD:-auto} in
install)
    rumqttd_ok || cargo install rumqttd --version 0.20.0 --force >&2
    BROKERS="$BROKERS rumqttd"
    ;;
auto)
    if rumqttd_ok; then
        BROKERS="$BROKERS rumqttd"
    else
        echo "rumqttd 0.20.0 not found: mosquitto only (RUMQTTD=install to add it)" >&2
    fi
    ;;
off) ;;
*)
    echo "RUMQTTD must be auto, install or off" >&2
    exit 2
    ;;
esac

# The floor (examples/floor.rs): what this machine allows a one-thread broker that does nothing but
# answer; a yardstick for the scenarios where kernel and scheduler costs dominate, not a peer.
# FLOOR_BIN may name a floor binary built elsewhere.
case ${FLOOR:-off} in
on)
    if [ -z "${FLOOR_BIN:-}" ]; then
        cargo build --release --no-default-features --example floor >&2
        FLOOR_BIN=target/release/examples/floor
    fi
    [ -x "$FLOOR_BIN" ] || {
        echo "FLOOR_BIN $FLOOR_BIN is not an executable" >&2
        exit 2
    }
    BROKERS="$BROKERS floor"
    ;;
off) ;;
*)
    echo "FLOOR must be on or off" >&2
    exit 2
    ;;
esac

# LOADGEN may name a loadgen binary built elsewhere (examples build with the dev-dependencies, which
# include the GUI stack: the first release build of the example is long).
# BIN may name a broker binary built elsewhere (then nothing is built when LOADGEN is given too).
if [ -z "${LOADGEN:-}" ]; then
    cargo build --release --no-default-features --bin onenet-desk --example loadgen >&2
    LOADGEN=target/release/examples/loadgen
elif [ -z "${BIN:-}" ]; then
    cargo build --release --no-default-features --bin onenet-desk >&2
fi
BIN=${BIN:-target/release/onenet-desk}

# More descriptors for the idle and connect-rate scenarios (10,000 connections: both ends in this shell).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

start_broker() { # name port dir
    case $1 in
    onenet-desk)
        "$BIN" --data-dir "$3" serve --profile mqtt --mqtt "127.0.0.1:$2" --http 127.0.0.1:0 \
            >"$3/serve.log" 2>&1 &
        PID=$!
        ;;
    mosquitto)
        cat >"$3/mosquitto.conf" <<EOF
listener $2 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_connections -1
log_dest none
EOF
        "$MOSQUITTO" -c "$3/mosquitto.conf" >"$3/mosquitto.log" 2>&1 &
        PID=$!
        ;;
    rumqttd)
        # rumqttd's example configuration, on loopback only, without its 1 ms pause between accepts
        # (which would cap it at 1,000 connections/s), with room for the idle scenario's connections and
        # for stalled-qos1's 1 MiB payloads (its example's 20 KiB limit closes that connection).
        cat >"$3/rumqttd.toml" <<EOF
id = 0
[router]
id = 0
max_connections = $((IDLE + 1000))
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:$2"
next_connection_delay_ms = 0
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 2097152
max_inflight_count = 100
dynamic_filters = true
EOF
        "$RUMQTTD_BIN" -q -c "$3/rumqttd.toml" >"$3/rumqttd.log" 2>&1 &
        PID=$!
        ;;
    floor)
        "$FLOOR_BIN" "127.0.0.1:$2" >"$3/floor.log" 2>&1 &
        PID=$!
        ;;
    esac
    wait_port "$2"
}

for run in $(seq 1 "$RUNS"); do
    for sc in $SCENARIOS; do
        for broker in $BROKERS; do
            # The floor has no topics or queues: only the scenarios it can answer.
            if [ "$broker" = floor ]; then
                case $sc in latency-* | connect-rate) ;; *) continue ;; esac
            fi
            dir=$(mktemp -d)
            port=$(free_port)
            start_broker "$broker" "$port" "$dir"
            echo "run $run · $sc · $broker" >&2
            line=$("$LOADGEN" --addr "127.0.0.1:$port" --scenario "$sc" --broker-pid "$PID" \
                --deadline "$DEADLINE" --idle "$IDLE" 2>>"$dir/loadgen.err" | tail -n 1 || true)
            [ -n "$line" ] || line="{\"scenario\":\"$sc\",\"error\":\"no output\"}"
            echo "{\"run\":$run,\"broker\":\"$broker\",\"result\":$line}" >>"$RAW"
            stop
            rm -rf "$dir"
        done
    done
done

python3 - "$RAW" "$OUT" "$BROKERS" <<'PY'
import json, statistics, sys
raw, out, brokers = sys.argv[1], sys.argv[2], sys.argv[3].split()
peers = brokers[1:]
# scenario → (metric, unit, higher is better)
METRIC = {
    "qos0-4x4": ("deliveries_per_s", "deliveries/s", True),
    "qos1-4x4": ("deliveries_per_s", "deliveries/s", True),
    "qos1-100x1": ("deliveries_per_s", "deliveries/s", True),
    "latency-qos0": ("p99_ms", "p99 ms", False),
    "latency-qos1": ("p99_ms", "p99 ms", False),
    "stalled": ("rss_growth_mib", "RSS growth MiB", False),
    # A QoS 1 subscriber that never reads, 1,000 messages of 1 MiB at it: how much the broker holds.
    "stalled-qos1": ("rss_growth_mib", "RSS growth MiB", False),
    "idle": ("rss_bytes_per_connection", "RSS B/conn", False),
    "connect-rate": ("connections_per_s", "connections/s", True),
    "dp": ("datapoints_per_s", "datapoints/s", True),
}
vals, pct, fails = {}, {}, {}
for l in open(raw):
    r = json.loads(l)
    res, b = r["result"], r["broker"]
    sc = res.get("scenario")
    if sc not in METRIC:
        continue
    if "error" in res:
        # An incomplete QoS 1 run (a message not delivered by the deadline) is a failure, never a figure.
        fails.setdefault((sc, b), []).append(res["error"])
        if "delivered_pct" in res:
            pct.setdefault((sc, b), []).append(res["delivered_pct"])
        continue
    if sc == "stalled" and res.get("broker_rss_kib_after") is not None:
        res["rss_growth_mib"] = (res["broker_rss_kib_after"] - res["broker_rss_kib_before"]) / 1024
    v = res.get(METRIC[sc][0])
    if v is not None:
        vals.setdefault((sc, b), []).append(v)
    if "delivered_pct" in res:
        pct.setdefault((sc, b), []).append(res["delivered_pct"])

fmt = lambda x: "—" if x is None else (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}")
med = lambda k: statistics.median(vals[k]) if vals.get(k) else None
head = ["scenario", "metric", *brokers]
# The floor is a yardstick, not a peer: onenet-desk is expected below it (1 = nothing above the floor).
head += [f"onenet-desk / {p} (" + ("≤ 1" if p == "floor" else "better ≥ 1") + ")" for p in peers]
head += ["delivered %, lowest run (" + " / ".join(brokers) + ")"]
rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
chart = []
for sc, (m, unit, up) in METRIC.items():
    if not any(vals.get((sc, b)) or fails.get((sc, b)) for b in brokers):
        continue
    cells = [sc, unit]
    for b in brokers:
        f = fails.get((sc, b), [])
        cells.append(fmt(med((sc, b))) + (f" (FAILED in {len(f)} run(s))" if f else ""))
    ours = med((sc, "onenet-desk"))
    ratios = []
    for p in peers:
        theirs = med((sc, p))
        ratio = None
        if ours and theirs:
            ratio = ours / theirs if up else theirs / ours
        ratios.append(ratio)
        cells.append("—" if ratio is None else f"{ratio:.2f}×")
    ps = [pct.get((sc, b)) for b in brokers]
    # The lowest run, not the median: a QoS 0 run that lost messages at a full connection must show.
    cells.append("" if not any(ps) else " / ".join(fmt(min(x)) if x else "—" for x in ps))
    rows.append("| " + " | ".join(cells) + " |")
    if any(r is not None for r in ratios):
        chart.append((sc, ratios))
table = "\n".join(rows)
for (sc, b), f in sorted(fails.items()):
    print(f"FAILED: {sc} on {b}: {'; '.join(f)}", file=sys.stderr)
print(table)
open(f"{out}/peers.md", "w").write(table + "\n")
with open(f"{out}/peers.dat", "w") as f:
    for sc, rs in chart:
        f.write(f"\"{sc}\" " + " ".join("NaN" if r is None else f"{r:.4f}" for r in rs) + "\n")
PY

if [ -s "$OUT/peers.dat" ]; then
    read -r -a peer_list <<<"${BROKERS#onenet-desk }"
    colours=("#2f6fb0" "#e08a1e" "#6a6a6a")
    plot=""
    for i in "${!peer_list[@]}"; do
        plot+="\"$OUT/peers.dat\" using $((i + 2)):xtic(1) title \"vs ${peer_list[$i]}\" lc rgb \"${colours[$i]}\", "
    done
    gnuplot <<EOF
set terminal pngcairo size 900,420 noenhanced font "sans,10"
set output "$OUT/peers.png"
set title "onenet-desk / peer (medians of $RUNS runs, loopback; > 1 = onenet-desk better)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8
set boxwidth 0.9
set logscale y
set grid ytics
set ylabel "ratio (log scale)"
set xtics rotate by -25
set key top right
plot $plot 1 with lines lc rgb "#c03030" lw 2 notitle
EOF
    echo "chart: $OUT/peers.png" >&2
fi
