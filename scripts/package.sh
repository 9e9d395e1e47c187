#!/usr/bin/env bash
# Builds the installable packages of onenet-desk from this checkout (Linux).
#
#   scripts/package.sh              # release build + .deb + AppDir + .AppImage
#   scripts/package.sh --no-build   # package the existing target/release/onenet-desk
#   scripts/package.sh --deb-only   # only the .deb (CI: scripts/package-smoke.sh installs it)
#
# Outputs:
#   target/debian/onenet-desk_<version>-1_<arch>.deb   (config in Cargo.toml [package.metadata.deb])
#   target/appimage/onenet-desk.AppDir                 (the AppImage's contents: AppRun, .desktop, icon, binary)
#   target/appimage/onenet-desk-<version>-<arch>.AppImage            (scripts/appimage.sh; x86_64)
# The .deb is assembled by Debian's own dpkg-deb from the [package.metadata.deb] table (read with
# `cargo metadata` and jq; `$auto` in `depends` is resolved by dpkg-shlibdeps), so packaging compiles and
# installs nothing from crates.io; `cargo deb --no-build` reads the same table. Needs dpkg-dev and jq
# (installed with apt-get when missing and running as root). Windows and macOS: see README "Installing".
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
deb_only=0
for a in "$@"; do
    case $a in
    --no-build) build=0 ;;
    --deb-only) deb_only=1 ;;
    *)
        echo "usage: scripts/package.sh [--no-build] [--deb-only]" >&2
        exit 2
        ;;
    esac
done

if ! command -v dpkg-shlibdeps >/dev/null || ! command -v jq >/dev/null; then
    if ((EUID == 0)) && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev jq >/dev/null
    else
        echo "package: needs dpkg-shlibdeps (package dpkg-dev) and jq: apt-get install dpkg-dev jq" >&2
        exit 1
    fi
fi

if ((build)); then
    cargo build --release --locked
fi
bin=target/release/onenet-desk
[[ -x $bin ]] || {
    echo "package: $bin is missing: run without --no-build" >&2
    exit 1
}

# ---- .deb ----
meta=$(cargo metadata --no-deps --format-version 1 --locked |
    jq -c '.packages[] | select(.name == "onenet-desk")')
field() { jq -r "$1 // empty" <<<"$meta"; }
name=$(field .name)
version=$(field .version)
deb_arch=$(dpkg --print-architecture)
stage=target/debian/stage
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" target/debian
# Assets: [source, destination, mode]; a destination ending in / is a directory.
while IFS=$'\t' read -r src dest mode; do
    [[ $dest == */ ]] && dest=$dest$(basename "$src")
    install -D -m "$mode" "$src" "$stage/$dest"
done < <(jq -r '.metadata.deb.assets[] | @tsv' <<<"$meta")
doc=$stage/usr/share/doc/$name
mkdir -p "$doc"
cat >"$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name

Files: *
Copyright: $(field .metadata.deb.copyright)
License: $(field .license)
COPYRIGHT
chmod 644 "$doc/copyright"
# The packaged binary drops its debug sections (172 MB -> 33 MB to install and to compress): a panic
# still names its file and line, backtraces keep function names. target/release keeps the full binary.
strip --strip-debug "$stage/usr/bin/$name"
# $auto: the shared libraries the binary links (dpkg-shlibdeps wants a debian/control to run beside).
shlib_dir=$(mktemp -d)
trap 'rm -rf "$shlib_dir"' EXIT
mkdir "$shlib_dir/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$shlib_dir/debian/control"
shlib_bin=$(realpath "$stage/usr/bin/$name")
if ! shlibs=$(cd "$shlib_dir" && dpkg-shlibdeps -O -e "$shlib_bin" 2>"$shlib_dir/err"); then
    cat "$shlib_dir/err" >&2
    exit 1
fi
auto=$(sed -n 's/^shlibs:Depends=//p' <<<"$shlibs")
[[ -n $auto ]] || {
    echo "package: dpkg-shlibdeps found no library dependencies of $bin" >&2
    exit 1
}
depends=$(field .metadata.deb.depends)
depends=${depends//\$auto/$auto}
{
    echo "Package: $name"
    echo "Version: $version-1"
    echo "Architecture: $deb_arch"
    echo "Maintainer: $(field .metadata.deb.maintainer)"
    echo "Installed-Size: $(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)"
    echo "Depends: $depends"
    [[ -z $(field .metadata.deb.recommends) ]] || echo "Recommends: $(field .metadata.deb.recommends)"
    echo "Section: $(field .metadata.deb.section)"
    echo "Priority: $(field .metadata.deb.priority)"
    echo "Description: $(field .description)"
    # The long description: folded lines, each starting with a space.
    field '.metadata.deb."extended-description"' | fold -s -w 78 | sed 's/ *$//; s/^/ /'
} >"$stage/DEBIAN/control"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$stage/DEBIAN/md5sums"
deb=target/debian/${name}_$version-1_$deb_arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "package: deb $deb ($(du -h "$deb" | cut -f1))"
((deb_only)) && exit 0

# ---- AppDir / AppImage ----
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch=$(uname -m)
out=target/appimage
app=$out/onenet-desk.AppDir
rm -rf "$app"
mkdir -p "$app/usr/bin" "$app/usr/share/applications" "$app/usr/share/icons/hicolor/256x256/apps"
cp "$bin" "$app/usr/bin/onenet-desk"
cp assets/onenet-desk.desktop "$app/usr/share/applications/"
cp assets/onenet-desk.desktop "$app/onenet-desk.desktop"
cp assets/onenet-desk.png "$app/usr/share/icons/hicolor/256x256/apps/"
cp assets/onenet-desk.png "$app/onenet-desk.png"
ln -s onenet-desk.png "$app/.DirIcon"
cat >"$app/AppRun" <<'RUN'
#!/bin/sh
# Starts the bundled binary (the window's libraries come from the system, as for the .deb).
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/bin/onenet-desk" "$@"
RUN
chmod 755 "$app/AppRun"
echo "package: AppDir $app"
# The .AppImage: the pinned type-2 runtime from crates.io + a SquashFS of the AppDir (scripts/appimage.sh).
if [[ $arch == x86_64 ]]; then
    scripts/appimage.sh "$app" "$out/onenet-desk-$version-$arch.AppImage"
else
    echo "package: no AppImage: the pinned runtime is x86_64 only (this is $arch)"
fi
