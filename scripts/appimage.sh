#!/usr/bin/env bash
# Turns the AppDir laid out by scripts/package.sh into a type-2 AppImage (x86_64):
#
#   scripts/appimage.sh [APPDIR] [OUT]
#     APPDIR  default target/appimage/onenet-desk.AppDir
#     OUT     default target/appimage/onenet-desk-<version>-<arch>.AppImage
#
# A type-2 AppImage is an ELF executable (the runtime, with the bytes "AI" 0x02 at offset 8 of its
# ELF header) followed directly by a SquashFS image of the AppDir; the runtime finds the image where
# its own ELF ends (section header table offset + its size). Run, it mounts the image with FUSE and
# starts AppRun; `--appimage-extract` unpacks it and `--appimage-extract-and-run` runs it without
# FUSE. `appimagetool` is not in the registries this project uses, but the runtime is: crates.io's
# `appimage` package ships it as `assets/runtime-x86_64`. packaging/appimage-runtime/ pins that package
# (Cargo.lock) and this script checks the file's SHA-256, so the same bytes are used every time.
# The SquashFS is made with Debian's mksquashfs (squashfs-tools, installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# SHA-256 of assets/runtime-x86_64 in crates.io's appimage 0.4.0 (the runtime's --appimage-version
# prints 8bbf694).
RUNTIME_SHA256=328e0d745c5c6817048c27bc3e8314871703f8f47ffa81a37cb06cd95a94b323

die() {
    echo "appimage: $*" >&2
    exit 1
}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(uname -m)
app=${1:-target/appimage/onenet-desk.AppDir}
out=${2:-target/appimage/onenet-desk-$version-$arch.AppImage}
(($# <= 2)) || die "usage: scripts/appimage.sh [APPDIR] [OUT]"
[[ $arch == x86_64 ]] || die "only x86_64 is supported: the pinned runtime is an x86_64 executable (this is $arch)"

# The AppDir must hold what the format requires at its top: AppRun, one desktop entry, its icon.
[[ -d $app ]] || die "no AppDir at $app (scripts/package.sh lays it out)"
[[ -x $app/AppRun ]] || die "$app/AppRun is missing or not executable"
desktops=("$app"/*.desktop)
[[ ${#desktops[@]} == 1 && -f ${desktops[0]} ]] || die "$app must hold exactly one .desktop file at its top"
icon=$(sed -n 's/^Icon=//p' "${desktops[0]}" | head -n 1)
[[ -n $icon ]] && compgen -G "$app/$icon.*" >/dev/null || die "$app has no icon file named $icon.* (the desktop entry's Icon=)"

if ! command -v mksquashfs >/dev/null; then
    ((EUID == 0)) || die "mksquashfs is missing: install squashfs-tools (apt-get install squashfs-tools)"
    echo "appimage: installing squashfs-tools"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq squashfs-tools >/dev/null
fi

# The runtime, downloaded (once) by cargo from crates.io at the version Cargo.lock pins.
manifest=packaging/appimage-runtime/Cargo.toml
crate=$(cargo metadata --locked --format-version 1 --manifest-path "$manifest" |
    sed -n 's/.*"manifest_path":"\([^"]*\/appimage-0\.4\.0\/Cargo\.toml\)".*/\1/p' | head -n 1)
[[ -n $crate ]] || die "cargo metadata did not report the appimage 0.4.0 package for $manifest"
runtime=$(dirname "$crate")/assets/runtime-x86_64
[[ -f $runtime ]] || die "the runtime is missing from the downloaded package: $runtime"
sum=$(sha256sum "$runtime" | cut -d' ' -f1)
[[ $sum == "$RUNTIME_SHA256" ]] || die "$runtime has SHA-256 $sum, expected $RUNTIME_SHA256"
magic=$(od -An -tx1 -j8 -N3 "$runtime" | tr -d ' \n')
[[ $magic == 414902 ]] || die "$runtime lacks the type-2 magic (AI 0x02 at offset 8): $magic"
# The image is found where the ELF ends, so the runtime file must end exactly there.
elf_end=$(readelf -h "$runtime" | awk -F: '
    /Start of section headers/ { off = $2 + 0 }
    /Size of section headers/ { size = $2 + 0 }
    /Number of section headers/ { n = $2 + 0 }
    END { print off + size * n }')
runtime_size=$(stat -c %s "$runtime")
((elf_end == runtime_size)) || die "$runtime is $runtime_size bytes but its ELF ends at $elf_end"

# The SquashFS: files owned by root (not by whoever built it), no extended attributes; gzip, which
# every type-2 runtime reads.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mksquashfs "$app" "$work/image.squashfs" -root-owned -no-xattrs -noappend -comp gzip -quiet -no-progress >/dev/null
mkdir -p "$(dirname "$out")"
cat "$runtime" "$work/image.squashfs" >"$work/out.AppImage"
chmod 755 "$work/out.AppImage"

# The result must say where its image is, and the SquashFS magic must be there.
offset=$("$work/out.AppImage" --appimage-offset)
[[ $offset == "$runtime_size" ]] || die "the AppImage reports its image at offset $offset, expected $runtime_size"
[[ $(od -An -c -j "$offset" -N4 "$work/out.AppImage" | tr -d ' \n') == hsqs ]] ||
    die "no SquashFS magic at offset $offset"
mv -f "$work/out.AppImage" "$out"
echo "appimage: $out ($(du -h "$out" | cut -f1); runtime $runtime_size bytes, image at offset $offset)"
