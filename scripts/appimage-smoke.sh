#!/usr/bin/env bash
# Checks the AppImage built by scripts/appimage.sh as a user gets it (x86_64):
#
#   scripts/appimage-smoke.sh [path/to/onenet-desk-<version>-x86_64.AppImage]
#
# 1. The file: an ELF executable with the type-2 magic ("AI" 0x02 at offset 8), the optional
#    .upd_info/.sha256_sig sections, and a SquashFS ("hsqs") where the ELF ends, at the offset the
#    AppImage itself reports (--appimage-offset); unsquashfs lists AppRun, the desktop entry, the icon
#    and the binary in it.
# 2. --appimage-extract unpacks the AppDir into squashfs-root/, whose binary runs (--version).
# 3. Four starts under Xvfb, each with a fresh data dir (temporary HOME): mounted with FUSE (twice),
#    --appimage-extract-and-run (no FUSE), and the extracted squashfs-root/AppRun. Each must open the
#    window titled "onenet-desk" and listen on MQTT port 6002; the arguments reach the app (its log file
#    appears in the given --data-dir) and APPIMAGE/APPDIR are set for it. The time from launch to
#    window + port is printed. The app is then stopped (SIGTERM) and the FUSE mount or the extracted
#    copy must be gone.
# Installs xvfb, xauth, x11-utils, xdotool, squashfs-tools, file and libfuse2 when missing (as root).
set -euo pipefail

die() {
    echo "appimage-smoke: $*" >&2
    exit 1
}

if [[ "${1:-}" == "--inside-xvfb" ]]; then
    shift
    IMG=$1 WORK=$2
    PORT=6002
    port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
    now() { date +%s.%N; }
    # A failed check must not leave the app running (it holds port 6002 and maybe a FUSE mount).
    RUNNING=()
    trap 'kill "${RUNNING[@]}" 2>/dev/null || true' EXIT

    # start NAME MODE: launches the app one way, checks it, stops it. MODE is fuse, extract-and-run or
    # extracted.
    start() {
        local name=$1 mode=$2 data="$WORK/data-$1" log="$WORK/$1.log"
        port_open && die "port $PORT is already in use: cannot tell our app from another listener"
        local t0 app
        t0=$(now)
        case $mode in
        fuse) "$IMG" --data-dir "$data" >"$log" 2>&1 & ;;
        extract-and-run) APPIMAGE_EXTRACT_AND_RUN=1 "$IMG" --data-dir "$data" >"$log" 2>&1 & ;;
        extracted) "$WORK/squashfs-root/AppRun" --data-dir "$data" >"$log" 2>&1 & ;;
        esac
        app=$!
        RUNNING=("$app")
        local deadline=$((SECONDS + 90)) wid=
        until [[ -n $wid ]] && port_open; do
            if ! kill -0 "$app" 2>/dev/null; then
                cat "$log" >&2
                die "$name: the app exited before its window and port were up"
            fi
            if ((SECONDS >= deadline)); then
                xwininfo -root -tree >&2 || true
                cat "$log" >&2
                kill "$app" 2>/dev/null || true
                die "$name: no window or no port $PORT within 90 s"
            fi
            sleep 0.1
            wid=$(xwininfo -root -tree | awk '/"onenet-desk"/ { print $1; exit }')
        done
        local t1
        t1=$(now)
        # The process that owns the window is the app (with FUSE the launched process became it by
        # exec; extract-and-run keeps the runtime as its parent).
        local pid
        pid=$(xdotool getwindowpid "$wid")
        RUNNING+=("$pid")
        [[ $(readlink "/proc/$pid/exe") == */usr/bin/onenet-desk ]] ||
            die "$name: the window's process $pid is $(readlink "/proc/$pid/exe"), not the bundled binary"
        local env appdir
        env=$(tr '\0' '\n' <"/proc/$pid/environ")
        appdir=$(sed -n 's/^APPDIR=//p' <<<"$env")
        if [[ $mode != extracted ]]; then
            grep -qx "APPIMAGE=$IMG" <<<"$env" || die "$name: APPIMAGE is not $IMG in the app's environment"
            [[ -n $appdir && $(readlink "/proc/$pid/exe") == "$appdir/usr/bin/onenet-desk" ]] ||
                die "$name: the app does not run from APPDIR ($appdir)"
        fi
        if [[ $mode == fuse ]]; then
            grep -q " $appdir fuse" /proc/mounts || die "$name: APPDIR $appdir is not a FUSE mount"
        fi
        [[ -s $data/logs/onenet-desk.log ]] || die "$name: no log file in the --data-dir given ($data)"
        printf 'appimage-smoke: %-22s window "onenet-desk" (%s) and port %s up %.2f s after launch (APPDIR %s)\n' \
            "$name" "$wid" "$PORT" "$(echo "$t1 - $t0" | bc)" "${appdir:-none}"

        kill -TERM "$pid"
        deadline=$((SECONDS + 30))
        while kill -0 "$app" 2>/dev/null || kill -0 "$pid" 2>/dev/null || port_open ||
            { [[ -n $appdir && $mode != extracted ]] && { grep -q " $appdir " /proc/mounts || [[ -e $appdir ]]; }; }; do
            ((SECONDS < deadline)) || die "$name: the app, its port or APPDIR $appdir still there 30 s after SIGTERM"
            sleep 0.1
        done
        wait "$app" 2>/dev/null || true
    }

    start "fuse, 1st start" fuse
    start "fuse, 2nd start" fuse
    start "extract-and-run" extract-and-run
    start "extracted AppRun" extracted
    exit 0
fi

cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IMG=$(realpath "${1:-target/appimage/onenet-desk-$version-x86_64.AppImage}")
[[ -f $IMG ]] || die "no AppImage at $IMG (run scripts/package.sh or scripts/appimage.sh)"

need=()
command -v xvfb-run >/dev/null || need+=(xvfb)
command -v xauth >/dev/null || need+=(xauth)
command -v xwininfo >/dev/null || need+=(x11-utils)
command -v xdotool >/dev/null || need+=(xdotool)
command -v unsquashfs >/dev/null || need+=(squashfs-tools)
command -v file >/dev/null || need+=(file)
command -v bc >/dev/null || need+=(bc)
ldconfig -p | grep -q 'libfuse\.so\.2' || need+=(libfuse2)
if ((${#need[@]})); then
    ((EUID == 0)) || die "missing: ${need[*]} (install them, or run as root)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 1. The file format.
desc=$(file -b "$IMG")
echo "appimage-smoke: file: $desc"
[[ $desc == "ELF 64-bit LSB executable, x86-64"* ]] || die "not an x86-64 ELF executable"
magic=$(od -An -tx1 -j8 -N3 "$IMG" | tr -d ' \n')
[[ $magic == 414902 ]] || die "no type-2 magic at offset 8 (found $magic, want 41 49 02)"
readelf -h "$IMG" | grep -qE 'OS/ABI: +UNIX - System V' || die "readelf cannot read the ELF header"
sections=$(readelf -SW "$IMG")
for s in .upd_info .sha256_sig; do
    grep -qF " $s " <<<"$sections" || die "no $s section"
done
elf_end=$(readelf -h "$IMG" | awk -F: '
    /Start of section headers/ { off = $2 + 0 }
    /Size of section headers/ { size = $2 + 0 }
    /Number of section headers/ { n = $2 + 0 }
    END { print off + size * n }')
offset=$("$IMG" --appimage-offset)
[[ $offset == "$elf_end" ]] || die "--appimage-offset says $offset, the ELF ends at $elf_end"
[[ $(od -An -c -j "$offset" -N4 "$IMG" | tr -d ' \n') == hsqs ]] || die "no SquashFS at offset $offset"
listing=$(unsquashfs -o "$offset" -l -d '' "$IMG")
for f in /AppRun /onenet-desk.desktop /onenet-desk.png /usr/bin/onenet-desk; do
    grep -qx "$f" <<<"$listing" || die "the image has no $f"
done
echo "appimage-smoke: magic AI\\x02 at offset 8, .upd_info/.sha256_sig present, SquashFS at $offset ($(wc -l <<<"$listing") entries)"

# 2. --appimage-extract.
(cd "$WORK" && "$IMG" --appimage-extract >/dev/null)
for f in AppRun onenet-desk.desktop onenet-desk.png usr/bin/onenet-desk; do
    [[ -e $WORK/squashfs-root/$f ]] || die "--appimage-extract did not produce squashfs-root/$f"
done
got=$("$WORK/squashfs-root/usr/bin/onenet-desk" --version)
[[ $got == "onenet-desk $version" ]] || die "the extracted binary says '$got', expected 'onenet-desk $version'"
echo "appimage-smoke: --appimage-extract gave squashfs-root/ (AppRun, desktop entry, icon; $got)"

# 3. Starts under Xvfb.
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share" XDG_CONFIG_HOME="$WORK/home/.config"
export XDG_CACHE_HOME="$WORK/home/.cache"
mkdir -p "$HOME"
xvfb-run -a -s "-screen 0 1280x800x24" "$0" --inside-xvfb "$IMG" "$WORK"
echo "appimage-smoke: passed"
