#!/usr/bin/env bash
# Benchmarks onenet-desk (`serve --profile mqtt`) against mosquitto (Debian's package, queue limits off) on
# the loopback interface, with the crate's load generator (examples/loadgen/). The brokers are run
# interleaved (scenario by scenario, run by run), each fresh for each scenario, RUNS times; the medians go
# into a table with ratios (stdout and bench/peers.md) and a PNG chart (bench/peers.png, gnuplot).
#
#   scripts/bench-peers.sh                      # 3 runs of every scenario
#   RUNS=1 SCENARIOS="qos1-4x4 idle" scripts/bench-peers.sh
#
# Needs: cargo, python3, apt-get (installs mosquitto and gnuplot-nox when missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-"qos0-4x4 qos1-4x4 qos1-100x1 latency-qos0 latency-qos1 stalled idle connect-rate"}
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
    apt-get install -y "${need[@]}" >/dev/null
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "broker did not listen on $1" >&2
    return 1
}

PID=
stop() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
trap stop EXIT

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
    esac
    wait_port "$2"
}

for run in $(seq 1 "$RUNS"); do
    for sc in $SCENARIOS; do
        for broker in onenet-desk mosquitto; do
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

python3 - "$RAW" "$OUT" <<'PY'
import json, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
# scenario → (metric, unit, higher is better)
METRIC = {
    "qos0-4x4": ("deliveries_per_s", "deliveries/s", True),
    "qos1-4x4": ("deliveries_per_s", "deliveries/s", True),
    "qos1-100x1": ("deliveries_per_s", "deliveries/s", True),
    "latency-qos0": ("p99_ms", "p99 ms", False),
    "latency-qos1": ("p99_ms", "p99 ms", False),
    "stalled": ("rss_growth_mib", "RSS growth MiB", False),
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
rows = ["| scenario | metric | onenet-desk | mosquitto | onenet-desk / mosquitto (better ≥ 1) | delivered % (od / mosq) |",
        "|---|---|---|---|---|---|"]
chart = []
for sc, (m, unit, up) in METRIC.items():
    a, b = vals.get((sc, "onenet-desk")), vals.get((sc, "mosquitto"))
    fa, fb = fails.get((sc, "onenet-desk"), []), fails.get((sc, "mosquitto"), [])
    if not a and not b and not fa and not fb:
        continue
    ma = statistics.median(a) if a else None
    mb = statistics.median(b) if b else None
    ratio = None
    if ma and mb:
        ratio = ma / mb if up else mb / ma
    fmt = lambda x: "—" if x is None else (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}")
    pa, pb = pct.get((sc, "onenet-desk")), pct.get((sc, "mosquitto"))
    p = "" if not (pa or pb) else f"{fmt(statistics.median(pa)) if pa else '—'} / {fmt(statistics.median(pb)) if pb else '—'}"
    ca = fmt(ma) + (f" (FAILED in {len(fa)} run(s))" if fa else "")
    cb = fmt(mb) + (f" (FAILED in {len(fb)} run(s))" if fb else "")
    rows.append(f"| {sc} | {unit} | {ca} | {cb} | {'—' if ratio is None else f'{ratio:.2f}×'} | {p} |")
    if ratio is not None:
        chart.append((sc, ratio))
table = "\n".join(rows)
for (sc, b), f in sorted(fails.items()):
    print(f"FAILED: {sc} on {b}: {'; '.join(f)}", file=sys.stderr)
print(table)
open(f"{out}/peers.md", "w").write(table + "\n")
with open(f"{out}/peers.dat", "w") as f:
    for sc, r in chart:
        f.write(f"\"{sc}\" {r:.4f}\n")
PY

if [ -s "$OUT/peers.dat" ]; then
    gnuplot <<EOF
set terminal pngcairo size 900,420 noenhanced font "sans,10"
set output "$OUT/peers.png"
set title "onenet-desk vs mosquitto 2.0 (medians of $RUNS runs, loopback; > 1 = onenet-desk better)"
set style fill solid 0.8
set boxwidth 0.6
set logscale y
set grid ytics
set ylabel "ratio (log scale)"
set xtics rotate by -25
unset key
plot "$OUT/peers.dat" using 0:2:xtic(1) with boxes lc rgb "#2f6fb0", \
     1 with lines lc rgb "#c03030" lw 2
EOF
    echo "chart: $OUT/peers.png" >&2
fi
