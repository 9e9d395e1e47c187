//! Record & replay from the console (issue 15): the Traffic panel records a device's session to the
//! file chosen in the save-as dialog (the `record` CLI's JSON Lines), and that file replays against the
//! broker with no difference — through `record::replay` and through the console's Replay window, which
//! also reports a recording whose broker reply was altered. Real broker on 127.0.0.1:0, real console.
#![cfg(feature = "gui")]

mod common;

use std::path::PathBuf;

use common::dataplane::framed;
use common::ui::{has, has_part, live_app, live_config, step_until};
use common::{Raw, publish};
use egui_kittest::kittest::Queryable;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::record::{self, replay};
use onenet_desk::ui::actions::{Action, Tab};

#[test]
fn a_session_recorded_in_the_traffic_panel_replays_with_no_difference_and_an_altered_one_differs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let addr = h.state().service().unwrap().mqtt_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    h.state_mut().handle(Action::Navigate(Tab::Traffic));
    h.state_mut().panels.traffic.record_device = "9277".into();
    step_until(&mut h, "the Record button", |h| has(h, "● Record…"));
    h.get_by_label("● Record…").click();
    step_until(&mut h, "the save-as dialog", |h| has(h, "Save"));
    h.get_by_label("Save").click();
    step_until(&mut h, "recording", |h| {
        has_part(h, "● recording 9277 · 0 packets")
    });
    let path: PathBuf = h
        .state()
        .panels
        .traffic
        .recording
        .as_ref()
        .unwrap()
        .path
        .clone();
    assert!(path.starts_with(dir.path()), "{path:?} in the data dir");

    // The device's session: login, a `$dp` upload (QoS 1), a subscription, DISCONNECT = 7 packets.
    rt.block_on(async {
        let mut d = Raw::device(addr, "9277", "abc123", true).await;
        d.send(&publish(
            "$dp",
            &framed(3, r#"{"temperature":22.5}"#),
            QoS::AtLeastOnce,
            1,
            false,
        ))
        .await;
        assert!(matches!(d.recv().await, Packet::PubAck(_)));
        assert_eq!(
            d.subscribe(&[("/lab/cmd", QoS::AtLeastOnce)]).await.len(),
            1
        );
        d.send(&Packet::Disconnect).await;
    });
    step_until(&mut h, "seven packets recorded", |h| {
        has_part(h, "● recording 9277 · 7 packets")
    });
    h.get_by_label("■ Stop").click();
    step_until(&mut h, "the recording saved", |h| {
        has_part(h, "Recorded 7 packets")
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = record::parse(&text).expect("the file is a recording");
    let summaries: Vec<&str> = lines.iter().map(|l| l.summary.as_str()).collect();
    assert_eq!(lines.len(), 7, "{summaries:?}");
    assert!(
        summaries[0].starts_with("CONNECT client 9277"),
        "{summaries:?}"
    );
    assert!(summaries[1].starts_with("CONNACK code 0"), "{summaries:?}");

    // The file replays against the broker with no difference (what `onenet-desk replay` runs).
    let mut opts = replay::ReplayOptions::new(addr.to_string());
    opts.speed = 20.0;
    let report = rt.block_on(replay::replay(&lines, &opts)).unwrap();
    assert!(report.differences.is_empty(), "{report:?}");
    assert_eq!((report.sent, report.compared), (4, 3));

    // The console's Replay window: the recording just made, suggested, replays with no differences.
    h.get_by_label("Replay…").click();
    step_until(&mut h, "the Replay window", |h| has(h, "Replay"));
    assert_eq!(
        h.state().panels.traffic.replay.path,
        path.display().to_string(),
        "the last recording is suggested"
    );
    h.get_by_label("Replay").click();
    step_until(&mut h, "the report", |h| has(h, "No differences"));
    assert!(has_part(&h, "4 packets sent · 3 broker packets compared"));

    // The same recording with the SUBACK changed to "granted QoS 0": the difference is listed.
    let suback = lines
        .iter()
        .position(|l| l.summary.starts_with("SUBACK"))
        .unwrap();
    let altered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut l = l.to_string();
            if i == suback {
                let mut line: record::Line = serde_json::from_str(&l).unwrap();
                assert!(line.hex.ends_with("01"), "{}", line.hex);
                line.hex.replace_range(line.hex.len() - 2.., "00");
                l = serde_json::to_string(&line).unwrap();
            }
            l + "\n"
        })
        .collect();
    let altered_path = dir.path().join("altered.jsonl");
    std::fs::write(&altered_path, altered).unwrap();
    h.state_mut().panels.traffic.replay.path = altered_path.display().to_string();
    h.get_by_label("Replay").click();
    step_until(&mut h, "the difference", |h| has(h, "1 differences"));
    assert!(has_part(
        &h,
        &format!("line {}: SUBACK return codes", suback + 1)
    ));
    assert!(has_part(&h, "expected: SUBACK pid 1 codes [0]"));
    assert!(has_part(&h, "got: SUBACK pid 1 codes [1]"));

    // A file that is not a recording is refused with the line named.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "not json\n").unwrap();
    h.state_mut().panels.traffic.replay.path = bad.display().to_string();
    h.get_by_label("Replay").click();
    step_until(&mut h, "the error", |h| {
        has_part(h, "line 1: not a recording line")
    });
    h.state_mut().shutdown();
}
