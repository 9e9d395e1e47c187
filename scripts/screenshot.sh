#!/usr/bin/env bash
# The README's screenshots: the console at 1024×700 with real and virtual devices, on the Datapoints panel.
#
#   scripts/screenshot.sh path/to/onenet-desk [OUT_DIR]      # OUT_DIR defaults to assets/
#
# Writes OUT_DIR/screenshot.png (English) and OUT_DIR/screenshot-zh.png (中文, chosen through the console's
# saved preferences). Each run starts the console under Xvfb on a fresh temporary HOME and data dir:
#   * product 339 with devices 9277 (greenhouse sensor), 9278 and 9279; 9278/9279 stay online
#     (mosquitto_sub), 9277 uploads 20 `$dp` type 3 readings (temperature, humidity) with a long JSON
#     `config` value;
#   * virtual devices from `onenet-desk simulate`: a numeric group (types 3 and 7) that runs a few
#     seconds before 9277 uploads, and a binary group (type 2) that stays online for the picture. The
#     Datapoints panel plots the device with the newest numeric data, so 9277 is the one shown.
# Every wait is a deadline loop on something observable (a port, a window, stored rows, pixels).
# Needs: xvfb-run (xvfb, xauth), imagemagick (import, convert, compare), mosquitto-clients, xdotool,
# python3, fonts-noto-cjk for the 中文 picture.
set -euo pipefail

W=1024 H=700

fail() {
    echo "screenshot: $*" >&2
    exit 1
}

if [[ "${1:-}" == "--inside-xvfb" ]]; then
    shift
    BIN=$1 DATA=$2 SHOT=$3 WORK=$4 PORT=$5
    "$BIN" --data-dir "$DATA" >"$WORK/app.log" 2>&1 &
    APP=$!
    PIDS=()
    cleanup() {
        for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
        kill "$APP" 2>/dev/null || true
        wait 2>/dev/null || true
    }
    trap cleanup EXIT
    alive() {
        kill -0 "$APP" 2>/dev/null || {
            cat "$WORK/app.log" >&2
            fail "the console exited"
        }
    }
    # The MQTT port, then the window (deadline loops).
    deadline=$((SECONDS + 60))
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        alive
        ((SECONDS < deadline)) || fail "port $PORT did not open within 60 s"
        sleep 0.2
    done
    until WIN=$(xdotool search --name '^onenet-desk$' 2>/dev/null | head -1) && [[ -n "$WIN" ]]; do
        alive
        ((SECONDS < deadline)) || fail "no window within 60 s"
        sleep 0.2
    done
    # No window manager under Xvfb: size and place the window ourselves.
    xdotool windowsize "$WIN" "$W" "$H" windowmove "$WIN" 0 0
    xdotool mousemove "$((W - 1))" "$((H - 1))" # no hover tooltip in the picture
    # Real devices 9278 and 9279 online.
    for dev in "9278 def456" "9279 ghi789"; do
        set -- $dev
        mosquitto_sub -h 127.0.0.1 -p "$PORT" -i "$1" -u 339 -P "$2" -k 120 -q 1 -t "/lab/$1/cmd" >/dev/null 2>&1 &
        PIDS+=($!)
    done
    # Virtual devices: a numeric group that finishes first, then a binary group that stays online.
    "$BIN" --data-dir "$DATA" simulate --product 339 --devices 3 --types 3,7 --rate 2 --duration 3 \
        --mqtt "127.0.0.1:$PORT" >"$WORK/sim-numeric.json" 2>"$WORK/sim-numeric.log" ||
        fail "simulate (numeric) failed: $(cat "$WORK/sim-numeric.log")"
    "$BIN" --data-dir "$DATA" simulate --product 339 --devices 2 --types 2 --blob-bytes 24 --rate 0.5 \
        --duration 600 --mqtt "127.0.0.1:$PORT" >"$WORK/sim-binary.json" 2>"$WORK/sim-binary.log" &
    PIDS+=($!)
    # 9277: 20 readings, paced so the plot's minute shows a curve; QoS 1, so each is stored when
    # mosquitto_pub returns.
    dp3() {
        local json=$1 len=${#1}
        printf "\\x03\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))%s" "$json" >"$WORK/dp.bin"
    }
    temps=(21.0 21.4 22.1 22.9 23.4 23.1 22.6 22.0 21.7 21.9 22.8 23.9 24.6 24.2 23.5 22.9 22.4 22.8 23.6 24.4)
    hums=(61 60 58 57 55 56 58 60 62 63 61 59 57 56 57 59 61 62 60 58)
    config='{"firmware":"v2.6.1-build.20261129","wifi":{"ssid":"greenhouse-lab-2.4G","rssi":-61},"thresholds":{"temperature":[18.5,26.0],"humidity":[40,85]},"irrigation":"06:00-07:30"}'
    for i in "${!temps[@]}"; do
        alive
        dp3 "{\"temperature\":${temps[$i]},\"humidity\":${hums[$i]},\"config\":$config}"
        mosquitto_pub -h 127.0.0.1 -p "$PORT" -i 9277 -u 339 -P abc123 -k 120 -t '$dp' -q 1 -f "$WORK/dp.bin" ||
            fail "upload $i of 9277 not acknowledged"
        sleep 0.8 # pacing of the readings (the plot's x axis), not a wait for anything
    done
    # All 20 stored (the CLI reads the app's database while it runs).
    deadline=$((SECONDS + 30))
    until [[ $("$BIN" --data-dir "$DATA" datapoints --device 9277 --stream temperature --limit 100 | wc -l) -ge 20 ]]; do
        ((SECONDS < deadline)) || fail "9277's readings are not stored after 30 s"
        sleep 0.2
    done
    # The binary group online (its devices registered and connected).
    deadline=$((SECONDS + 30))
    until grep -q '"registered"' "$WORK/sim-binary.json" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "the binary virtual devices did not start: $(cat "$WORK/sim-binary.log")"
        sleep 0.2
    done
    # Datapoints (Alt+7), retried until the side bar's selection moves.
    alive
    import -window root "$WORK/before.png"
    convert "$WORK/before.png" -crop 140x$((H - 40))+0+0 +repage "$WORK/before-bar.png"
    deadline=$((SECONDS + 30))
    while :; do
        alive
        xdotool windowfocus --sync "$WIN" key alt+7
        sleep 0.3
        import -window root "$WORK/now.png"
        convert "$WORK/now.png" -crop 140x$((H - 40))+0+0 +repage "$WORK/after-bar.png"
        changed=$(compare -metric AE "$WORK/before-bar.png" "$WORK/after-bar.png" null: 2>&1 || true)
        if awk -v c="$changed" 'BEGIN { exit !(c + 0 > 300) }'; then
            break
        fi
        ((SECONDS < deadline)) || fail "Alt+7 did not open the Datapoints panel within 30 s"
    done
    # The tree and plot fill in (history loads off the UI thread): wait until the stream tree (left part
    # of the panel) is the same in two captures in a row.
    deadline=$((SECONDS + 20))
    convert "$WORK/now.png" -crop 330x$((H - 80))+150+60 +repage "$WORK/tree-a.png"
    while :; do
        sleep 0.3
        import -window root "$WORK/now.png"
        convert "$WORK/now.png" -crop 330x$((H - 80))+150+60 +repage "$WORK/tree-b.png"
        d=$(compare -metric AE "$WORK/tree-a.png" "$WORK/tree-b.png" null: 2>&1 || true)
        if awk -v c="$d" 'BEGIN { exit !(c + 0 < 50) }'; then
            break
        fi
        mv "$WORK/tree-b.png" "$WORK/tree-a.png"
        ((SECONDS < deadline)) || break # a live panel never settles completely: take it as it is
    done
    alive
    convert "$WORK/now.png" -crop "${W}x${H}+0+0" +repage "$SHOT"
    sd=$(convert "$SHOT" -format '%[fx:standard_deviation]' info:)
    awk -v sd="$sd" 'BEGIN { exit !(sd < 0.01) }' && fail "the screenshot is blank"
    echo "screenshot: $SHOT"
    exit 0
fi

BIN=$(realpath "${1:?usage: screenshot.sh path/to/onenet-desk [OUT_DIR]}")
OUT=$(realpath -m "${2:-$(dirname "$0")/../assets}")
mkdir -p "$OUT"
for tool in xvfb-run import convert compare xdotool mosquitto_pub mosquitto_sub python3; do
    command -v "$tool" >/dev/null || fail "needs $tool"
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One picture: fresh HOME and data dir, language $1 ("" = English, else the prefs' value), file $2.
shoot() {
    local lang=$1 shot=$2 run
    run=$(mktemp -d "$WORK/run.XXXX")
    export HOME="$run/home" XDG_DATA_HOME="$run/home/.local/share" XDG_CONFIG_HOME="$run/home/.config"
    mkdir -p "$HOME"
    if [[ -n "$lang" ]]; then
        # The console's saved preferences (eframe's app.ron): only the language; the rest defaults.
        mkdir -p "$XDG_DATA_HOME/onenet-desk"
        printf '{\n    "onenet-desk-prefs": "(lang:%s)",\n}\n' "$lang" >"$XDG_DATA_HOME/onenet-desk/app.ron"
    fi
    local data="$run/data" port=6002
    # The usual port when it is free (the picture shows it), else any free one.
    if (exec 3<>"/dev/tcp/127.0.0.1/6002") 2>/dev/null; then
        port=$(free_port)
    fi
    mkdir -p "$data"
    printf 'mqtt_addr = "0.0.0.0:%s"\nhttp_addr = "127.0.0.1:%s"\n' "$port" "$(free_port)" >"$data/onenet-desk.toml"
    "$BIN" --data-dir "$data" product add --id 339 --name lab --api-key KEY339 >/dev/null
    "$BIN" --data-dir "$data" device add --product 339 --id 9277 --auth-info abc123 --name "greenhouse sensor" >/dev/null
    "$BIN" --data-dir "$data" device add --product 339 --id 9278 --auth-info def456 --name "door controller" >/dev/null
    "$BIN" --data-dir "$data" device add --product 339 --id 9279 --auth-info ghi789 --name "pump" >/dev/null
    xvfb-run -a -s "-screen 0 ${W}x${H}x24" "$0" --inside-xvfb "$BIN" "$data" "$shot" "$run" "$port"
}

shoot "" "$OUT/screenshot.png"
shoot "Chinese" "$OUT/screenshot-zh.png"
echo "screenshot: done"
