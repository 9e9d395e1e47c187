#!/usr/bin/env bash
# Real-window smoke test of the desktop console.
#
#   scripts/smoke.sh path/to/onenet-desk [screenshot.png]
#
# Starts the binary under Xvfb with a temporary data dir (and a temporary HOME, so no saved settings
# leak in), waits for its MQTT port 6002, connects devices with mosquitto_pub / mosquitto_sub (one of
# them uploads `$dp` type 3 datapoints), takes a screenshot of the screen, and fails if the app died or
# the screenshot is blank. Needs: xvfb-run (xvfb, xauth), imagemagick (import, convert),
# mosquitto-clients. Uses xdotool when present to show the Datapoints panel (optional).
set -euo pipefail

if [[ "${1:-}" == "--inside-xvfb" ]]; then
    shift
    BIN=$1 DATA=$2 SHOT=$3 WORK=$4
    PORT=6002
    "$BIN" --data-dir "$DATA" >"$WORK/app.log" 2>&1 &
    APP=$!
    cleanup() {
        kill "${SUBS[@]}" 2>/dev/null || true
        kill "$APP" 2>/dev/null || true
        wait "$APP" 2>/dev/null || true
    }
    SUBS=()
    trap cleanup EXIT
    alive() {
        if ! kill -0 "$APP" 2>/dev/null; then
            echo "smoke: the app died; its log:" >&2
            cat "$WORK/app.log" >&2
            exit 1
        fi
    }
    # Wait for the MQTT port (deadline loop, at most 60 s).
    deadline=$((SECONDS + 60))
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        alive
        if ((SECONDS >= deadline)); then
            echo "smoke: port $PORT did not open within 60 s" >&2
            cat "$WORK/app.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "smoke: MQTT port $PORT is open"
    # Two devices stay online (subscribed to a topic); device 9277 uploads datapoints.
    for dev in "9278 def456" "9279 ghi789"; do
        set -- $dev
        mosquitto_sub -h 127.0.0.1 -p "$PORT" -i "$1" -u 339 -P "$2" -k 120 -q 1 -t "/lab/$1/cmd" >/dev/null 2>&1 &
        SUBS+=($!)
    done
    # `$dp` type 3: 0x03 | u16 BE length | JSON.
    dp3() {
        local json=$1 len=${#1}
        printf "\\x03\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))%s" "$json" >"$WORK/dp.bin"
    }
    values=(21.0 21.4 22.1 22.9 23.4 23.1 22.6 22.0 21.7 21.9 22.8 23.9 24.6 24.2 23.5 22.9 22.4 22.8 23.6 24.4)
    hums=(61 60 58 57 55 56 58 60 62 63 61 59 57 56 57 59 61 62 60 58)
    uploaded=0
    for i in "${!values[@]}"; do
        alive
        dp3 "{\"temperature\":${values[$i]},\"humidity\":${hums[$i]},\"status\":\"ok\"}"
        if mosquitto_pub -h 127.0.0.1 -p "$PORT" -i 9277 -u 339 -P abc123 -k 120 -t '$dp' -q 1 -f "$WORK/dp.bin"; then
            uploaded=$((uploaded + 1))
        fi
        if ((i == 3)) && command -v xdotool >/dev/null; then
            # Show the Datapoints panel (Alt+7) for the screenshot.
            xdotool search --name '^onenet-desk$' windowfocus --sync key alt+7 || true
        fi
        sleep 0.4
    done
    if ((uploaded == 0)); then
        echo "smoke: no datapoint upload succeeded" >&2
        exit 1
    fi
    echo "smoke: $uploaded uploads of datapoints acknowledged"
    sleep 2
    alive
    if command -v xdotool >/dev/null; then
        xdotool mousemove 1 1 || true # no hover tooltip in the picture
        sleep 0.5
    fi
    import -window root "$SHOT"
    alive
    sd=$(convert "$SHOT" -format '%[fx:standard_deviation]' info:)
    echo "smoke: screenshot $SHOT, standard deviation $sd"
    if awk -v sd="$sd" 'BEGIN { exit !(sd < 0.01) }'; then
        echo "smoke: the screenshot is blank" >&2
        exit 1
    fi
    exit 0
fi

BIN=$(realpath "${1:?usage: smoke.sh path/to/onenet-desk [screenshot.png]}")
WORK=$(mktemp -d)
SHOT=$(realpath -m "${2:-$WORK/shot.png}")
trap 'rm -rf "$WORK/home" "$WORK/data"' EXIT
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"
DATA="$WORK/data"
"$BIN" --data-dir "$DATA" product add --id 339 --name lab --api-key KEY339 >/dev/null
"$BIN" --data-dir "$DATA" device add --product 339 --id 9277 --auth-info abc123 --name "greenhouse sensor" >/dev/null
"$BIN" --data-dir "$DATA" device add --product 339 --id 9278 --auth-info def456 --name "door controller" >/dev/null
"$BIN" --data-dir "$DATA" device add --product 339 --id 9279 --auth-info ghi789 --name "pump" >/dev/null
xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside-xvfb "$BIN" "$DATA" "$SHOT" "$WORK"
echo "smoke: passed"
