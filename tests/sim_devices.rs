//! Virtual devices against the broker over TCP: the datapoints a group promises are exactly what export
//! finds, every `$creq` answer mode ends as labelled (status 4 / 5, diagnostics), faults show up as the
//! matching diagnostics and session state, and `simulate` registers, runs and summarizes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{WAIT, broker, eventually, open_db, seed_registry};
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::export::{ExportFormat, ExportRequest, export_to_file};
use onenet_desk::mqtt::QoS;
use onenet_desk::onenet::commands::CommandStatus;
use onenet_desk::onenet::diagnostics::DiagKind;
use onenet_desk::service::DataStore;
use onenet_desk::sim::{
    Faults, Generator, Group, GroupConfig, Reply, ReplyKind, StatsSnapshot, Stream,
    register_devices,
};
use onenet_desk::store::DpFilter;

fn group(h: &ServiceHandle, n: usize) -> GroupConfig {
    let devices = register_devices(
        &DataStore::open(&h.config().data_dir).unwrap(),
        "339",
        n,
        None,
    )
    .unwrap();
    let mut g = GroupConfig::new("339", devices, &h.mqtt_addr().to_string());
    g.interval = Duration::from_millis(20);
    g
}

async fn until(g: &Group, what: &str, f: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    eventually(what, || async {
        let s = g.stats();
        f(&s).then_some(s)
    })
    .await
}

/// Every exported datapoint of `device` as (stream, value as text, dp_type).
async fn exported(
    h: &ServiceHandle,
    dir: &std::path::Path,
    device: &str,
) -> Vec<(String, String, u8)> {
    h.flush().await;
    let out = dir.join(format!("{device}.jsonl"));
    let req = ExportRequest {
        filter: DpFilter {
            device_id: Some(device.into()),
            ..Default::default()
        },
        format: ExportFormat::JsonLines,
        utc_offset_secs: 8 * 3600,
        bom: false,
    };
    export_to_file(&h.config().db_path(), &req, &out, &mut |_| true).unwrap();
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let value = match &v["value"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (
                v["stream"].as_str().unwrap().to_string(),
                value,
                v["type"].as_u64().unwrap() as u8,
            )
        })
        .collect()
}

/// A stored number in shortest form (type 7 floats export as `5.0`, JSON integers as `5`).
fn num(v: &str) -> String {
    format!("{}", v.parse::<f64>().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_stores_exactly_the_datapoints_it_promises_in_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let mut g = group(&h, 2);
    g.types = vec![1, 2, 3, 4, 5, 6, 7];
    g.streams = vec![
        Stream {
            name: "1".into(),
            generator: Generator::Counter {
                start: 0.0,
                step: 1.0,
            },
        },
        Stream {
            name: "2".into(),
            generator: Generator::Constant(7.5),
        },
        Stream {
            name: "img".into(),
            generator: Generator::Blob { len: 5 },
        },
    ];
    g.max_uploads = Some(7);
    let ids: Vec<String> = g.devices.iter().map(|d| d.id.clone()).collect();
    let names: Vec<String> = ids
        .iter()
        .map(|id| open_db(&h).device(id).unwrap().unwrap().name)
        .collect();
    assert_eq!(
        names,
        ids.iter()
            .map(|i| format!("virtual {i}"))
            .collect::<Vec<_>>()
    );
    let grp = Group::start(g).unwrap();
    let s = until(&grp, "14 acknowledged uploads", |s| s.acknowledged == 14).await;
    let s2 = grp.stop().await;
    assert_eq!((s.sent, s2.sent, s.datapoints), (14, 14, 2 * (6 * 2 + 1)));
    for id in &ids {
        let got = exported(&h, dir.path(), id).await;
        let counter: BTreeSet<(String, u8)> = got
            .iter()
            .filter(|p| p.0 == "1")
            .map(|p| (num(&p.1), p.2))
            .collect();
        // One upload per type in turn; type 2 carries only the blob, so the counter goes 0..5 over 1,3,4,5,6,7.
        let want: BTreeSet<(String, u8)> = [(0, 1), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)]
            .iter()
            .map(|(v, t)| (v.to_string(), *t))
            .collect();
        assert_eq!(counter, want, "device {id}: {got:?}");
        let constant: Vec<_> = got.iter().filter(|p| p.0 == "2").collect();
        assert_eq!(constant.len(), 6);
        assert!(constant.iter().all(|p| num(&p.1) == "7.5"), "{constant:?}");
        let blobs: Vec<_> = got.iter().filter(|p| p.0 == "img").collect();
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs[0].2, 2);
        assert_eq!(got.len(), 13, "nothing else stored");
    }
    h.shutdown().await;
}

async fn command_outcome(
    reply: Reply,
    window: Duration,
) -> (
    onenet_desk::onenet::commands::Command,
    ServiceHandle,
    String,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path(), Profile::OneNet);
    cfg.onenet.command_response_window = window;
    let h = onenet_desk::start(cfg).await.unwrap();
    seed_registry(&h);
    let mut g = group(&h, 1);
    g.reply = reply;
    g.max_uploads = Some(0);
    let id = g.devices[0].id.clone();
    let grp = Group::start(g).unwrap();
    until(&grp, "connected", |s| s.connected == 1).await;
    eventually("online", || async {
        h.sessions()
            .await
            .iter()
            .any(|s| s.client_id == id && s.online)
            .then_some(())
    })
    .await;
    let cmd = h
        .send_command(&id, bytes::Bytes::from_static(b"{\"led\":1}"), 0)
        .await
        .unwrap();
    let uuid = cmd.uuid.clone();
    let done = eventually("the command's final status", || async {
        h.command(&uuid).await.filter(|c| c.status.is_final())
    })
    .await;
    grp.stop().await;
    (done, h, id, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_mode_ends_as_labelled() {
    let window = Duration::from_millis(800);
    // echo → 4 with the body back.
    let (c, h, _, _d) = command_outcome(Reply::echo(), window).await;
    assert_eq!(c.status, CommandStatus::Replied);
    assert_eq!(c.reply.as_deref(), Some(&b"{\"led\":1}"[..]));
    h.shutdown().await;
    // template → 4 with the text filled in.
    let (c, h, id, _d) = command_outcome(Reply::parse("ok {device} {body}"), window).await;
    assert_eq!(c.status, CommandStatus::Replied);
    assert_eq!(
        c.reply.unwrap(),
        format!("ok {id} {{\"led\":1}}").as_bytes()
    );
    h.shutdown().await;
    // after a delay → 4, no sooner than the delay.
    let mut delayed = Reply::echo();
    delayed.delay = Duration::from_millis(100);
    let (c, h, _, _d) = command_outcome(delayed, window).await;
    assert_eq!(c.status, CommandStatus::Replied);
    assert!(c.replied_at.unwrap() - c.sent_at.unwrap() >= 100, "{c:?}");
    h.shutdown().await;
    // never → 5 (timeout), no diagnostic. The window (wall clock) is waited out: a short one here, the
    // replies above need the longer one to arrive in time under load.
    let (c, h, id, _d) = command_outcome(Reply::parse("none"), Duration::from_millis(100)).await;
    assert_eq!(c.status, CommandStatus::Timeout);
    assert!(
        common::dataplane::diags_of(&h, &id, DiagKind::UnknownCommandReply)
            .await
            .is_empty()
    );
    h.shutdown().await;
    // malformed → 5 and an "unknown command reply" diagnostic naming the cut uuid.
    let (c, h, id, _d) = command_outcome(
        Reply {
            kind: ReplyKind::Malformed,
            ..Reply::echo()
        },
        window,
    )
    .await;
    assert_eq!(c.status, CommandStatus::Timeout);
    let diags = common::dataplane::wait_diags(&h, &id, DiagKind::UnknownCommandReply, 1).await;
    assert!(diags[0].message.contains(&c.uuid[..35]), "{diags:?}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_show_up_as_diagnostics_and_session_state() {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    // Bad $dp every 2nd upload: one BadDp diagnostic per bad upload, good uploads still stored.
    let mut g = group(&h, 1);
    g.faults = Faults {
        bad_dp_every: Some(2),
        ..Faults::default()
    };
    g.max_uploads = Some(4);
    let id = g.devices[0].id.clone();
    let grp = Group::start(g).unwrap();
    let s = until(&grp, "4 acknowledged uploads", |s| s.acknowledged == 4).await;
    grp.stop().await;
    assert_eq!(s.bad_dp_sent, 2);
    let diags = common::dataplane::wait_diags(&h, &id, DiagKind::BadDp, 2).await;
    assert_eq!(diags.len(), 2);
    assert_eq!(
        exported(&h, dir.path(), &id).await.len(),
        2,
        "only the good uploads are stored"
    );

    // Drop every 200 ms: the device reconnects; the broker saw connections end without DISCONNECT.
    let mut events = h.events();
    let mut g = group(&h, 1);
    g.faults = Faults {
        drop_every: Some(Duration::from_millis(200)),
        ..Faults::default()
    };
    let id = g.devices[0].id.clone();
    let grp = Group::start(g).unwrap();
    let s = until(&grp, "two drops and a reconnect", |s| {
        s.connection_drops >= 2 && s.connects >= 3
    })
    .await;
    grp.stop().await;
    assert!(s.connects > s.connection_drops);
    let reason = common::dataplane::wait_event(&mut events, "a dropped connection", |e| match e {
        onenet_desk::events::Event::Disconnected { client_id, reason } if *client_id == id => {
            Some(reason.clone())
        }
        _ => None,
    })
    .await;
    assert!(
        !reason.to_lowercase().contains("disconnect packet"),
        "{reason}"
    );

    // Skip PUBACK: a QoS 1 message to the device stays in flight at the broker.
    let mut g = group(&h, 1);
    g.faults = Faults {
        skip_puback: true,
        ..Faults::default()
    };
    g.subscribe = vec!["/alerts".into()];
    g.max_uploads = Some(0);
    let id = g.devices[0].id.clone();
    let grp = Group::start(g).unwrap();
    eventually("subscribed", || async {
        h.sessions()
            .await
            .iter()
            .any(|s| s.client_id == id && !s.subscriptions.is_empty())
            .then_some(())
    })
    .await;
    let (p, _, _) = onenet_desk::client::connect(
        onenet_desk::client::ConnectOptions::new(h.mqtt_addr().to_string(), "9277")
            .with_credentials("339", "abc123"),
    )
    .await
    .unwrap();
    p.publish("/alerts", QoS::AtLeastOnce, "fire")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    until(&grp, "the message received", |s| s.messages_received == 1).await;
    let inflight = eventually("unacknowledged at the broker", || async {
        h.sessions()
            .await
            .into_iter()
            .find(|s| s.client_id == id && s.inflight == 1)
            .map(|s| s.inflight)
    })
    .await;
    assert_eq!(inflight, 1);
    grp.stop().await;
    h.shutdown().await;
}

#[test]
fn simulate_registers_runs_and_summarizes() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::cli(
        dir.path(),
        &["product", "add", "--id", "500", "--api-key", "K500"],
    );
    assert!(out.status.success());
    let serve = common::Serve::start(dir.path(), &[]);
    let mqtt = serve.mqtt.to_string();
    let out = common::cli(
        dir.path(),
        &[
            "simulate",
            "--product",
            "500",
            "--devices",
            "3",
            "--rate",
            "20",
            "--types",
            "3,7",
            "--mqtt",
            &mqtt,
            "--duration",
            "1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let reg: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let ids: Vec<String> = reg["registered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["10000000", "10000001", "10000002"]);
    let sum: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(sum["devices"], 3);
    assert_eq!(sum["connects"], 3);
    assert!(sum["sent"].as_u64().unwrap() >= 3, "{sum}");
    assert_eq!(sum["acknowledged"], sum["sent"], "{sum}");
    let listed = common::cli(dir.path(), &["device", "list", "--product", "500"]);
    let devices: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(devices.as_array().unwrap().len(), 3);
    assert!(devices[0]["name"].as_str().unwrap().starts_with("virtual "));
    // A product that does not exist: exit 2, nothing registered.
    let bad = common::cli(
        dir.path(),
        &[
            "simulate",
            "--product",
            "nope",
            "--devices",
            "1",
            "--mqtt",
            &mqtt,
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no product nope"));
    let _ = WAIT;
    serve.stop();
}
