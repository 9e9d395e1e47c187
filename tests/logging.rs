//! The log file: rolls by size, keeps a bounded number of files (so a bounded total size), never splits a
//! line across files; `serve` writes it in the data dir.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use onenet_desk::logging::{LOG_DIR, LOG_FILE, RollPolicy, RollingFile};

/// The log files in `dir`, as (name, size), sorted by name.
fn files(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn the_log_rolls_by_size_and_stays_bounded_in_count_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = RollPolicy {
        max_file_bytes: 1000,
        keep_old: 3,
    };
    let mut f = RollingFile::open(dir.path(), policy).unwrap();
    // 2000 lines of 39–42 bytes: about 80 KB written, 80 times the file limit.
    for i in 0..2000 {
        f.write_all(format!("2026-11-29 line {i:05} of the rolling test\n").as_bytes())
            .unwrap();
    }
    f.flush().unwrap();
    let got = files(dir.path());
    let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            LOG_FILE.to_string(),
            format!("{LOG_FILE}.1"),
            format!("{LOG_FILE}.2"),
            format!("{LOG_FILE}.3")
        ]
    );
    let total: u64 = got.iter().map(|(_, s)| s).sum();
    assert!(got.iter().all(|(_, s)| *s <= 1000), "{got:?}");
    assert!(total <= policy.max_total_bytes(), "{total}");
    // The newest lines are in the current file, the one before in `.1`; the oldest are gone.
    let current = fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
    assert!(current.ends_with("line 01999 of the rolling test\n"));
    let one = fs::read_to_string(RollingFile::old_path(dir.path(), 1)).unwrap();
    let first_current: u32 = current[16..21].parse().unwrap();
    assert!(one.ends_with(&format!(
        "line {:05} of the rolling test\n",
        first_current - 1
    )));
    let all: String = (1..=3)
        .rev()
        .map(|n| fs::read_to_string(RollingFile::old_path(dir.path(), n)).unwrap())
        .chain([current])
        .collect();
    assert!(
        !all.contains("line 00000 "),
        "the oldest lines were deleted"
    );
    // Every kept line is whole and the kept lines are consecutive.
    let numbers: Vec<u32> = all
        .lines()
        .map(|l| {
            assert!(l.starts_with("2026-11-29 line ") && l.ends_with(" of the rolling test"));
            l[16..21].parse().unwrap()
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(*numbers.last().unwrap(), 1999);
}

#[test]
fn reopening_appends_and_removes_files_beyond_a_smaller_policy() {
    let dir = tempfile::tempdir().unwrap();
    let big = RollPolicy {
        max_file_bytes: 100,
        keep_old: 6,
    };
    let mut f = RollingFile::open(dir.path(), big).unwrap();
    for i in 0..100 {
        writeln!(f, "line {i:03} ....................").unwrap(); // 30 bytes
    }
    drop(f);
    assert_eq!(files(dir.path()).len(), 7);
    let small = RollPolicy {
        max_file_bytes: 100,
        keep_old: 2,
    };
    let mut f = RollingFile::open(dir.path(), small).unwrap();
    assert_eq!(
        files(dir.path()).len(),
        3,
        "old files beyond the count deleted"
    );
    let before = fs::metadata(f.path()).unwrap().len();
    writeln!(f, "x").unwrap();
    assert_eq!(
        fs::metadata(f.path()).unwrap().len(),
        before + 2,
        "appended"
    );
}

#[test]
fn an_over_long_line_is_cut_to_the_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = RollPolicy {
        max_file_bytes: 64,
        keep_old: 1,
    };
    let mut f = RollingFile::open(dir.path(), policy).unwrap();
    f.write_all(&[b'a'; 500]).unwrap();
    f.write_all(b"next\n").unwrap();
    let got = files(dir.path());
    assert!(got.iter().all(|(_, s)| *s <= 64), "{got:?}");
    assert_eq!(fs::read_to_string(f.path()).unwrap(), "next\n");
}

#[test]
fn keeping_no_old_file_truncates_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let policy = RollPolicy {
        max_file_bytes: 50,
        keep_old: 0,
    };
    let mut f = RollingFile::open(dir.path(), policy).unwrap();
    for i in 0..20 {
        writeln!(f, "line {i:02} ...........").unwrap();
    }
    let got = files(dir.path());
    assert_eq!(got.len(), 1);
    assert!(got[0].1 <= 50);
    assert!(
        fs::read_to_string(f.path())
            .unwrap()
            .ends_with("line 19 ...........\n")
    );
}

#[test]
fn serve_writes_its_log_file_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let serve = common::Serve::start(dir.path(), &[]);
    let status = serve.stop();
    assert!(status.success() || cfg!(not(unix)), "{status:?}");
    let log = fs::read_to_string(dir.path().join(LOG_DIR).join(LOG_FILE)).unwrap();
    assert!(log.contains("state loaded from"), "{log}");
    if cfg!(unix) {
        assert!(log.contains("broker stopped; store flushed"), "{log}");
    }
    assert!(!log.contains('\u{1b}'), "no colour codes in the file");
}
