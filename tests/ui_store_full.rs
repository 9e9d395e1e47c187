//! Disk full, as the console shows it: the real app (kittest over `ConsoleApp`) with its broker's data dir
//! on a 4 MiB tmpfs made by the test. While a device uploads into the full disk, the status bar names the
//! store error ("database or disk is full") and the data dir, and keeps showing it; once space returns and
//! the held upload is saved, the entry goes away. (Needs root to mount the tmpfs; skipped otherwise.)
#![cfg(feature = "gui")]

mod common;

use common::tmpfs::Tmpfs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::dataplane::{dp, framed};
use common::ui::{has_part, live_app, live_config, step_until};
use common::{connect_packet, pid};
use onenet_desk::mqtt::QoS;

/// The file that fills the disk, deleted on drop, so a failing test frees the space before the app
/// (declared earlier, dropped later) shuts its broker down.
struct Filler(PathBuf);
impl Drop for Filler {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Fills the file system of `dir` with a file, leaving about `free` bytes; returns the file.
fn fill(dir: &Path, free: u64) -> Filler {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0xA5u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    let len = std::fs::metadata(&filler).unwrap().len();
    f.set_len(len.saturating_sub(free)).unwrap();
    Filler(filler)
}

#[test]
fn the_status_bar_names_a_full_disk_and_the_data_dir_until_space_returns() {
    let outer = tempfile::tempdir().unwrap();
    let mnt = outer.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_fs) = Tmpfs::mount(&mnt, "4m") else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the console disk-full test did not run"
        );
        return;
    };
    let mut h = live_app(live_config(&mnt));
    let addr = h.state().service().expect("running").mqtt_addr();
    assert!(!has_part(&h, "store cannot save"), "healthy at start");

    let filler = fill(&mnt, 256 * 1024);
    // A device uploads ~800 KB into the ~256 KiB left, without waiting for its PUBACKs.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        &connect_packet("9277", Some("339"), Some("abc123"), true, 120)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    let value = "v".repeat(8000);
    for i in 1..=100u16 {
        let body = format!(r#"{{"s{i}":"{value}"}}"#);
        s.write_all(
            &dp(&framed(3, &body), QoS::AtLeastOnce, i)
                .to_bytes()
                .unwrap(),
        )
        .unwrap();
    }
    let dir = mnt.display().to_string();
    step_until(&mut h, "the status bar to name the full disk", |h| {
        has_part(
            h,
            "store cannot save: database error: database or disk is full",
        ) && has_part(h, &format!("(data dir {dir})"))
    });
    // It stays: the next frames still show it while the disk is full.
    for _ in 0..5 {
        h.step();
    }
    assert!(has_part(&h, "database or disk is full"));

    // Space returns: the held uploads are saved and the entry goes away.
    std::fs::remove_file(&filler.0).unwrap();
    step_until(&mut h, "the status bar to clear", |h| {
        !has_part(h, "store cannot save")
    });
    // Every upload was acknowledged in the end (PUBACK of the last one arrives).
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut acks = vec![0u8; 4 * 100];
    s.read_exact(&mut acks).unwrap();
    let last = onenet_desk::mqtt::Packet::PubAck(pid(100))
        .to_bytes()
        .unwrap();
    assert_eq!(&acks[acks.len() - 4..], last.as_ref());
}
