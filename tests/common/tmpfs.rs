//! A small file system made by a test: the disk-full tests mount a tmpfs of a few MiB as the broker's
//! data dir. Mounting needs root; without it `mount` returns `None` and the test says it was skipped.

use std::path::{Path, PathBuf};

/// A tmpfs of `size` mounted on a directory, unmounted (lazily) on drop.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "4m") on `dir`; `None` when mounting is refused.
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
