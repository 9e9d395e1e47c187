//! Console actions that write files or load into the view (Save as…, traffic and diagnostics export,
//! export cancel, device detail, plotted streams), carried out by the real app (kittest harness over
//! `ConsoleApp::start`) on its real broker, and checked where they land: the file on disk, byte for byte,
//! and what the window shows.
#![cfg(feature = "gui")]

mod common;

use std::path::Path;

use common::connect_packet;
use common::dataplane::{framed, hex};
use common::ui::{Dev, addr, has, has_part, live_app, live_config, step_until, until_offline};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::export::ExportFormat;
use onenet_desk::mqtt::Packet;
use onenet_desk::onenet::datapoint::DpValue;
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::actions::{Action, ExportSpec, Tab};
use onenet_desk::ui::savefile::SaveWhat;

fn notice(h: &Harness<'_, ConsoleApp>, part: &str) -> bool {
    h.state()
        .model
        .notices
        .iter()
        .any(|n| n.text.contains(part))
}

/// Asks the app to save (`a`), checks that it asks where first, and answers with `path`.
fn save_as(h: &mut Harness<'_, ConsoleApp>, a: Action, what: SaveWhat, path: &Path) {
    h.state_mut().handle(a);
    let job = h
        .state()
        .panels
        .save
        .job
        .as_ref()
        .expect("asks where first");
    assert_eq!(job.what, what);
    h.state_mut().handle(Action::SaveTo(path.to_path_buf()));
}

#[test]
fn save_as_writes_the_binary_value_a_device_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    // Spec §14.1's type-2 frame: stream "image", 4 bytes DE AD BE EF.
    d.send_bytes(&hex("32 23 00 03 24 64 70 00 02 02 00 11 7B 22 64 73 5F 69 64 22 3A 22 69 6D 61 67 65 22 7D 00 00 00 04 DE AD BE EF"));
    assert_eq!(d.next(), Some(Packet::PubAck(common::pid(2))));
    step_until(&mut h, "the binary value in the model", |h| {
        h.state()
            .model
            .streams
            .get("9277")
            .and_then(|s| s.get("image"))
            .is_some_and(|st| matches!(st.latest, Some((_, DpValue::Binary { .. }))))
    });
    // In the window: the stream's table, then "Save as…", then "Save" in the save dialog.
    h.state_mut().handle(Action::Navigate(Tab::Datapoints));
    h.state_mut().panels.datapoints.table = Some(("9277".into(), "image".into()));
    step_until(&mut h, "the Save as… button", |h| has(h, "Save as…"));
    h.get_by_label("Save as…").click();
    step_until(&mut h, "the save dialog", |h| has(h, "File path"));
    let expected = dir.path().join("exports").join("9277-image.bin");
    assert_eq!(
        h.get_by_label("File path").value().as_deref(),
        Some(expected.display().to_string().as_str())
    );
    h.get_by_label("Save").click();
    step_until(&mut h, "the saved notice", |h| notice(h, "Saved 4 bytes"));
    assert_eq!(std::fs::read(&expected).unwrap(), [0xDE, 0xAD, 0xBE, 0xEF]);
    h.state_mut().shutdown();
}

#[test]
fn traffic_export_writes_each_row_with_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    d.publish("/t", b"hello", false, 1);
    step_until(&mut h, "the PUBLISH and its PUBACK in the log", |h| {
        h.state().model.traffic.rows.len() >= 4
    });
    let rows = h.state().model.traffic.rows.len();
    let out = dir.path().join("traffic.jsonl");
    save_as(&mut h, Action::ExportTraffic, SaveWhat::Traffic, &out);
    step_until(&mut h, "the export's notice", |h| notice(h, "Exported to"));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), rows, "{text}");
    let hexes: Vec<&str> = lines.iter().filter_map(|l| l["hex"].as_str()).collect();
    assert!(
        hexes.contains(&"32 0B 00 02 2F 74 00 01 68 65 6C 6C 6F"),
        "the PUBLISH's bytes: {hexes:?}"
    );
    assert!(hexes.contains(&"40 02 00 01"), "its PUBACK: {hexes:?}");
    h.state_mut().shutdown();
}

#[test]
fn diagnostics_export_writes_the_device_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    // Keepalive 30 s is outside 120–1200: one diagnostic (spec §3.2).
    let (_d, code) = Dev::login_with(
        addr(&h),
        &connect_packet("9277", Some("339"), Some("abc123"), true, 30),
    );
    assert_eq!(code, Some(0));
    let out = dir.path().join("diag.json");
    // The service records it when the CONNECT is handled; the export asks the service itself.
    step_until(&mut h, "9277 online", |h| {
        h.state()
            .model
            .sessions
            .iter()
            .any(|s| s.client_id == "9277" && s.online)
    });
    save_as(
        &mut h,
        Action::ExportDiagnostics("9277".into()),
        SaveWhat::Diagnostics("9277".into()),
        &out,
    );
    step_until(&mut h, "the saved notice", |h| {
        notice(h, "Diagnostics saved to")
    });
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let list = v.as_array().expect("a JSON array");
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["device"], "9277");
    assert_eq!(list[0]["kind"], "keep_alive");
    assert_eq!(list[0]["section"], "§3.2");
    assert!(list[0]["message"].as_str().unwrap().contains("30"), "{v}");
    h.state_mut().shutdown();
}

fn export_spec(path: &Path) -> ExportSpec {
    ExportSpec {
        device: Some("9277".into()),
        streams: vec![],
        since: None,
        until: None,
        format: ExportFormat::Csv,
        path: Some(path.to_path_buf()),
        bom: false,
    }
}

#[test]
#[cfg(unix)] // a FIFO holds the export until the cancel is in
fn a_cancelled_export_leaves_no_file_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    for i in 1..=3 {
        d.publish("$dp", &framed(3, &format!("{{\"t\":{i}}}")), false, i);
    }
    let out = dir.path().join("cancelled.csv");
    // The export writes `cancelled.csv.tmp` first. Made a FIFO here, opening it for writing blocks the export
    // until this test opens the reading end, which it does only after the cancel: the export cannot finish
    // before the cancel, however the threads are scheduled. Its progress check (at least once, at the end)
    // then sees the cancel.
    let tmp = dir.path().join("cancelled.csv.tmp");
    let made = std::process::Command::new("mkfifo")
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo {}", tmp.display());
    h.state_mut()
        .handle(Action::ExportDatapoints(export_spec(&out)));
    h.state_mut().handle(Action::CancelExport);
    let reader = std::thread::spawn(move || std::fs::read(&tmp).unwrap());
    step_until(&mut h, "the cancelled notice", |h| {
        notice(h, "export cancelled")
    });
    reader.join().unwrap();
    assert!(h.state().model.export.is_none(), "no export in progress");
    assert!(!out.exists(), "no file under the final name");
    assert!(
        !dir.path().join("cancelled.csv.tmp").exists(),
        "no partial file left"
    );
    // The same export, not cancelled, writes the file: what the cancel prevented.
    h.state_mut()
        .handle(Action::ExportDatapoints(export_spec(&out)));
    step_until(&mut h, "the export's notice", |h| {
        notice(h, "Exported 3 datapoints")
    });
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 4);
    h.state_mut().shutdown();
}

#[test]
fn refresh_loads_the_offline_queue_into_the_device_detail() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut sub = Dev::online(addr(&h), "9278", "def456", false);
    sub.subscribe("/q");
    sub.leave();
    until_offline(&mut h, "9278");
    let mut p = Dev::online(addr(&h), "9277", "abc123", true);
    p.publish("/q", b"first", false, 1);
    p.publish("/q", b"second!", false, 2);
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    h.state_mut().model.selected = Some("9278".into());
    step_until(&mut h, "the detail's Refresh", |h| has(h, "Refresh"));
    h.get_by_label("Refresh").click();
    step_until(&mut h, "the queue in the detail", |h| {
        has(h, "Offline queue (2)")
    });
    let q = &h.state().model.queues["9278"];
    let payloads: Vec<&[u8]> = q.iter().map(|m| m.payload.as_ref()).collect();
    assert_eq!(payloads, [&b"first"[..], &b"second!"[..]]);
    assert!(has_part(&h, "/q QoS 1 · 5 B"), "the first row is shown");
    assert!(has_part(&h, "/q QoS 1 · 7 B"), "the second row is shown");
    h.state_mut().shutdown();
}

#[test]
fn streams_open_with_their_history_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let mut d = Dev::online(addr(&h), "9277", "abc123", true);
    for (i, v) in [20.5, 21.0, 21.5].iter().enumerate() {
        let id = i as u16 + 1;
        d.publish("$dp", &framed(3, &format!("{{\"temp\":{v}}}")), false, id);
    }
    let st = |h: &Harness<'_, ConsoleApp>| {
        h.state()
            .model
            .streams
            .get("9277")
            .and_then(|s| s.get("temp"))
            .map(|st| (st.open, st.loading, st.series.len()))
    };
    step_until(&mut h, "the stream known", |h| st(h).is_some());
    // The Datapoints panel plots a device's numeric streams on first view (its own OpenStream).
    h.state_mut().handle(Action::Navigate(Tab::Datapoints));
    step_until(&mut h, "its 3 stored points loaded and drawn", |h| {
        st(h) == Some((true, false, 3)) && h.state().panels.datapoints.plot.drawn == 3
    });
    assert!(!has(&h, "Tick numeric streams on the left to plot them."));

    h.state_mut().handle(Action::CloseStream {
        device: "9277".into(),
        stream: "temp".into(),
    });
    assert_eq!(st(&h), Some((false, false, 0)), "closed, points dropped");
    for _ in 0..3 {
        h.step();
    }
    assert_eq!(st(&h), Some((false, false, 0)), "stays closed");
    assert!(has(&h, "Tick numeric streams on the left to plot them."));

    // Opened again: the history is read from the store again.
    h.state_mut().handle(Action::OpenStream {
        device: "9277".into(),
        stream: "temp".into(),
    });
    step_until(&mut h, "reloaded and drawn", |h| {
        st(h) == Some((true, false, 3)) && h.state().panels.datapoints.plot.drawn == 3
    });
    h.state_mut().shutdown();
}

#[test]
fn a_typed_save_path_in_a_new_folder_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let out = dir.path().join("new").join("dir").join("b.bin");
    save_as(
        &mut h,
        Action::SaveBytes {
            name: "b.bin".into(),
            bytes: vec![0, 1, 0xFF],
        },
        SaveWhat::Bytes(vec![0, 1, 0xFF]),
        &out,
    );
    step_until(&mut h, "the saved notice", |h| notice(h, "Saved 3 bytes"));
    assert_eq!(std::fs::read(&out).unwrap(), [0, 1, 0xFF]);
    h.state_mut().shutdown();
}
