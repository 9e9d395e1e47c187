#!/usr/bin/env bash
# Builds the installable packages of onenet-desk from this checkout (Linux).
#
#   scripts/package.sh            # release build + .deb + AppDir + .AppImage
#   scripts/package.sh --no-build # package the existing target/release/onenet-desk
#
# Outputs:
#   target/debian/onenet-desk_<version>-1_<arch>.deb   (cargo-deb, config in Cargo.toml [package.metadata.deb])
#   target/appimage/onenet-desk.AppDir                 (the AppImage's contents: AppRun, .desktop, icon, binary)
#   target/appimage/onenet-desk-<version>-<arch>.AppImage            (scripts/appimage.sh; x86_64)
# Installs cargo-deb with `cargo install --locked` when missing. Windows and macOS: see README "Installing".
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
build=1
for a in "$@"; do
    case $a in
    --no-build) build=0 ;;
    *)
        echo "usage: scripts/package.sh [--no-build]" >&2
        exit 2
        ;;
    esac
done

if ! cargo deb --version >/dev/null 2>&1; then
    echo "package: installing cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi

if ((build)); then
    cargo build --release --locked
fi
bin=target/release/onenet-desk
[[ -x $bin ]] || {
    echo "package: $bin is missing: run without --no-build" >&2
    exit 1
}

# --no-build: cargo-deb must not rebuild (the binary above is what gets packaged). --no-strip: the
# release profile keeps line tables for readable panics; stripping is left to distributions.
deb=$(cargo deb --no-build --no-strip 2>&1 | tee /dev/stderr | grep -E '\.deb$' | tail -n 1)
[[ -f $deb ]] || {
    echo "package: cargo deb did not report a .deb" >&2
    exit 1
}
echo "package: deb $deb ($(du -h "$deb" | cut -f1))"

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
