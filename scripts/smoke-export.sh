#!/usr/bin/env bash
# Real-window check of datapoint export where no system file dialog exists (Xvfb: no desktop portal,
# no zenity): the console must say so and still export through the path typed in its own dialog.
#
#   scripts/smoke-export.sh path/to/onenet-desk [screenshot-dir]
#
# Runs the binary under Xvfb at 1024x700 with a temporary HOME and data dir, uploads `$dp` type 3
# datapoints (one stream with a long JSON value), opens Datapoints (Alt+7), clicks Export… → Export to
# file… → Browse… (the missing dialog must be reported in the window) → Save, and checks the CSV written
# to DATA/exports/datapoints-all.csv. Clicks are at the positions of the 1024x700 layout.
# Needs: xvfb-run, xauth, xdotool, imagemagick (import), mosquitto-clients.
set -euo pipefail

if [[ "${1:-}" == "--inside-xvfb" ]]; then
    shift
    BIN=$1 DATA=$2 OUT=$3 WORK=$4
    "$BIN" --data-dir "$DATA" >"$WORK/app.log" 2>&1 &
    APP=$!
    trap 'kill $APP 2>/dev/null || true; wait $APP 2>/dev/null || true' EXIT
    deadline=$((SECONDS + 60))
    until (exec 3<>/dev/tcp/127.0.0.1/6002) 2>/dev/null; do
        kill -0 $APP 2>/dev/null || { echo "smoke-export: the app died" >&2; cat "$WORK/app.log" >&2; exit 1; }
        ((SECONDS < deadline)) || { echo "smoke-export: port 6002 did not open" >&2; exit 1; }
        sleep 0.5
    done
    dp3() {
        local json=$1 len=${#1}
        printf "\\x03\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))%s" "$json" >"$WORK/dp.bin"
    }
    for t in 21.5 22.0 22.5 23.0 23.5; do
        dp3 "{\"temperature\":$t,\"config\":{\"firmware\":\"v2.3.1-greenhouse-build-20261129\",\"note\":\"ventilation schedule follows the irrigation plan\"}}"
        mosquitto_pub -h 127.0.0.1 -p 6002 -i 9277 -u 339 -P abc123 -k 120 -t '$dp' -q 1 -f "$WORK/dp.bin"
    done
    sleep 1
    WIN=$(xdotool search --sync --name '^onenet-desk$' | head -1)
    xdotool windowsize "$WIN" 1024 700 2>/dev/null || true
    xdotool windowmove "$WIN" 0 0 2>/dev/null || true
    sleep 1
    xdotool windowfocus --sync "$WIN" key alt+7
    sleep 1.5
    xdotool mousemove 470 46 click 1     # Export…
    sleep 1.5
    xdotool mousemove 75 218 click 1     # Export to file… (below the UTF-8 BOM row)
    sleep 1.5
    import -window root "$OUT/export-dialog.png"
    xdotool mousemove 338 395 click 1    # Browse… (no dialog exists here)
    sleep 3
    import -window root "$OUT/export-no-dialog.png"
    xdotool mousemove 272 411 click 1    # Save (moved down by the two-line note)
    FILE="$DATA/exports/datapoints-all.csv"
    deadline=$((SECONDS + 30))
    until [[ -s "$FILE" ]] && (( $(wc -l <"$FILE") >= 11 )); do
        ((SECONDS < deadline)) || { echo "smoke-export: $FILE was not written" >&2; cat "$WORK/app.log" >&2; exit 1; }
        sleep 0.5
    done
    sleep 0.5
    import -window root "$OUT/export-done.png"
    rows=$(($(wc -l <"$FILE") - 1))
    echo "smoke-export: $FILE has $rows datapoint rows"
    grep -q "22.5" "$FILE" || { echo "smoke-export: 22.5 missing from $FILE" >&2; exit 1; }
    exit 0
fi

BIN=$(realpath "${1:?usage: smoke-export.sh path/to/onenet-desk [screenshot-dir]}")
WORK=$(mktemp -d)
OUT=$(realpath -m "${2:-$WORK}")
mkdir -p "$OUT"
trap 'rm -rf "$WORK/home" "$WORK/data"' EXIT
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"
DATA="$WORK/data"
"$BIN" --data-dir "$DATA" product add --id 339 --name lab --api-key KEY339 >/dev/null
"$BIN" --data-dir "$DATA" device add --product 339 --id 9277 --auth-info abc123 >/dev/null
xvfb-run -a -s "-screen 0 1024x700x24" "$0" --inside-xvfb "$BIN" "$DATA" "$OUT" "$WORK"
echo "smoke-export: passed"
