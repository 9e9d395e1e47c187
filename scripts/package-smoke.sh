#!/usr/bin/env bash
# Installs the .deb built by scripts/package.sh and checks the installed application as a user gets it:
#
#   scripts/package-smoke.sh [path/to/onenet-desk.deb] [screenshot.png]
#
# 1. `apt-get install ./x.deb` (its declared dependencies come from Debian), then the files are where the
#    desktop looks for them: /usr/bin/onenet-desk, the .desktop entry (validated), the 256 px icon.
# 2. The installed binary starts under Xvfb (temporary HOME and data dir, no saved settings), opens its
#    window titled "onenet-desk" with the application icon set (_NET_WM_ICON 256×256), and listens on
#    MQTT port 6002; a screenshot of the screen is taken (`import -window root`) and must not be blank.
# 3. The log file appears in the data dir; the package is removed again.
# Needs root (apt-get, dpkg). Installs xvfb, xauth, imagemagick, x11-utils and desktop-file-utils when missing.
set -euo pipefail

if [[ "${1:-}" == "--inside-xvfb" ]]; then
    shift
    DATA=$1 SHOT=$2 WORK=$3
    PORT=6002
    /usr/bin/onenet-desk --data-dir "$DATA" >"$WORK/app.log" 2>&1 &
    APP=$!
    trap 'kill $APP 2>/dev/null || true; wait $APP 2>/dev/null || true' EXIT
    alive() {
        if ! kill -0 "$APP" 2>/dev/null; then
            echo "package-smoke: the installed app died; its output:" >&2
            cat "$WORK/app.log" >&2
            exit 1
        fi
    }
    # The window and the MQTT port, within 60 s (deadline loop).
    deadline=$((SECONDS + 60))
    wid=
    until [[ -n $wid ]] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        alive
        if ((SECONDS >= deadline)); then
            echo "package-smoke: no window or no port $PORT within 60 s" >&2
            xwininfo -root -tree >&2 || true
            cat "$WORK/app.log" >&2
            exit 1
        fi
        sleep 0.5
        wid=$(xwininfo -root -tree | awk '/"onenet-desk"/ { print $1; exit }')
    done
    echo "package-smoke: window $wid is up and MQTT port $PORT is open"
    icon=$(xprop -id "$wid" _NET_WM_ICON | head -c 60)
    if [[ $icon != "_NET_WM_ICON(CARDINAL) = 256, 256,"* ]]; then
        echo "package-smoke: the window has no 256×256 icon: $icon" >&2
        exit 1
    fi
    echo "package-smoke: the window icon is set (256×256)"
    sleep 2 # let a few frames draw
    alive
    import -window root "$SHOT"
    alive
    sd=$(convert "$SHOT" -format '%[fx:standard_deviation]' info:)
    echo "package-smoke: screenshot $SHOT, standard deviation $sd"
    if awk -v sd="$sd" 'BEGIN { exit !(sd < 0.01) }'; then
        echo "package-smoke: the screenshot is blank" >&2
        exit 1
    fi
    if [[ ! -s $DATA/logs/onenet-desk.log ]]; then
        echo "package-smoke: no log file at $DATA/logs/onenet-desk.log" >&2
        exit 1
    fi
    echo "package-smoke: log file $DATA/logs/onenet-desk.log ($(wc -l <"$DATA/logs/onenet-desk.log") lines)"
    exit 0
fi

cd "$(dirname "$0")/.."
DEB=$(realpath "${1:-$(ls -t target/debian/onenet-desk_*.deb 2>/dev/null | head -n 1)}")
[[ -f $DEB ]] || {
    echo "package-smoke: no .deb given or found in target/debian (run scripts/package.sh)" >&2
    exit 1
}
WORK=$(mktemp -d)
SHOT=$(realpath -m "${2:-$WORK/shot.png}")
trap 'rm -rf "$WORK/home" "$WORK/data"' EXIT

need=()
command -v xvfb-run >/dev/null || need+=(xvfb)
command -v xauth >/dev/null || need+=(xauth)
[[ -x /usr/bin/convert && -x /usr/bin/import ]] || need+=(imagemagick)
command -v xwininfo >/dev/null && command -v xprop >/dev/null || need+=(x11-utils)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "package-smoke: installing $DEB"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$DEB" >/dev/null
for f in /usr/bin/onenet-desk /usr/share/applications/onenet-desk.desktop \
    /usr/share/icons/hicolor/256x256/apps/onenet-desk.png; do
    [[ -f $f ]] || {
        echo "package-smoke: $f is not installed" >&2
        exit 1
    }
done
desktop-file-validate /usr/share/applications/onenet-desk.desktop
dpkg -s onenet-desk | grep -E '^(Version|Depends):'
/usr/bin/onenet-desk --version

export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
mkdir -p "$HOME"
xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside-xvfb "$WORK/data" "$SHOT" "$WORK"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq onenet-desk >/dev/null
[[ ! -e /usr/bin/onenet-desk ]] || {
    echo "package-smoke: /usr/bin/onenet-desk is still there after removal" >&2
    exit 1
}
echo "package-smoke: passed"
