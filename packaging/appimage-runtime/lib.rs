//! Nothing to build: `Cargo.toml` next to this file pins the package that carries the AppImage runtime
//! (see `scripts/appimage.sh`).
