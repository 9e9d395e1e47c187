//! Platform commands (spec §7): `$creq/{uuid}` down at QoS 0, `$crsp/{uuid}` back at any QoS, the status
//! codes 0–6 of `GET /cmds/{uuid}`, offline commands with a validity, the response window, the reply size
//! limit, and persistence across a restart.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::dataplane::*;
use common::*;
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::onenet::commands::{Command, CommandError, CommandStatus};
use onenet_desk::onenet::diagnostics::DiagKind;

/// Canonical lowercase 36-char UUID v4 (§13).
fn assert_uuid_v4(u: &str) {
    assert_eq!(u.len(), 36, "{u}");
    for (i, c) in u.chars().enumerate() {
        if [8, 13, 18, 23].contains(&i) {
            assert_eq!(c, '-', "{u}");
        } else {
            assert!(
                c.is_ascii_digit() || ('a'..='f').contains(&c),
                "{u}: not lowercase hex at {i}"
            );
        }
    }
    assert_eq!(&u[14..15], "4", "{u}: version 4");
    assert!("89ab".contains(&u[19..20]), "{u}: RFC 4122 variant");
}

/// The next packet must be the `$creq` for a command: QoS 0, not retained. Returns (uuid, body).
async fn creq(r: &mut Raw) -> (String, Bytes) {
    let p = next_publish(r).await;
    assert_eq!(p.qos_pid.qos(), QoS::AtMostOnce, "$creq is always QoS 0");
    assert!(!p.retain && !p.dup);
    let uuid = p
        .topic
        .as_str()
        .strip_prefix("$creq/")
        .unwrap_or_else(|| panic!("expected $creq/…, got {}", p.topic.as_str()))
        .to_string();
    assert_uuid_v4(&uuid);
    (uuid, p.payload)
}

async fn wait_status(h: &ServiceHandle, uuid: &str, status: CommandStatus) -> Command {
    eventually(&format!("command {uuid} status {status:?}"), || async {
        h.command(uuid).await.filter(|c| c.status == status)
    })
    .await
}

fn crsp(uuid: &str, body: &[u8], qos: QoS, id: u16) -> Packet {
    publish(&format!("$crsp/{uuid}"), body, qos, id, false)
}

/// Sends an online command to 9277 and returns it with the uuid seen on the wire.
async fn command_to(h: &ServiceHandle, d: &mut Raw, body: &'static [u8]) -> Command {
    let c = h
        .send_command("9277", Bytes::from_static(body), 0)
        .await
        .expect("command accepted");
    assert_eq!(c.status, CommandStatus::Sent);
    assert_eq!(c.device_id, "9277");
    let (uuid, got) = creq(d).await;
    assert_eq!(uuid, c.uuid, "the $creq topic carries the command's uuid");
    assert_eq!(got.as_ref(), body, "the body, byte for byte");
    c
}

#[tokio::test]
async fn online_command_and_qos0_reply() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let c = command_to(&h, &mut d, b"{\"led\":1}").await;
    let live = h.command(&c.uuid).await.unwrap();
    assert_eq!(live.status, CommandStatus::Sent);
    assert!(live.sent_at.is_some());
    d.send(&crsp(&c.uuid, b"ok \x00\xff", QoS::AtMostOnce, 0))
        .await;
    let done = wait_status(&h, &c.uuid, CommandStatus::Replied).await;
    assert_eq!(done.reply.as_deref(), Some(&b"ok \x00\xff"[..]));
    assert_eq!(done.body.as_ref(), b"{\"led\":1}");
    assert!(done.replied_at.is_some());
    assert!(h.diagnostics("9277").await.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn qos1_reply_is_pubacked_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let c = command_to(&h, &mut d, b"reboot").await;
    // as the official SDK sends it (§7.1): QoS 1, pid 1, "hello MQTT\0"
    d.send(&crsp(&c.uuid, b"hello MQTT\x00", QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let done = h.command(&c.uuid).await.unwrap();
    assert_eq!(done.status, CommandStatus::Replied);
    assert_eq!(done.reply.as_deref(), Some(&b"hello MQTT\x00"[..]));
    h.shutdown().await;
}

#[tokio::test]
async fn qos2_reply_full_handshake_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let c = command_to(&h, &mut d, b"x").await;
    d.send(&crsp(&c.uuid, b"done", QoS::ExactlyOnce, 9)).await;
    assert_eq!(d.recv().await, Packet::PubRec(pid(9)));
    d.send(&Packet::PubRel(pid(9))).await;
    assert_eq!(d.recv().await, Packet::PubComp(pid(9)));
    let done = wait_status(&h, &c.uuid, CommandStatus::Replied).await;
    assert_eq!(done.reply.as_deref(), Some(&b"done"[..]));
    assert!(h.diagnostics("9277").await.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn first_reply_wins_and_stray_replies_are_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let mut other = Raw::device(h.mqtt_addr(), "9278", "def456", true).await;
    let c = command_to(&h, &mut d, b"q").await;
    // another device cannot answer 9277's command
    other
        .send(&crsp(&c.uuid, b"not mine", QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(other.recv().await, Packet::PubAck(pid(1)));
    wait_diags(&h, "9278", DiagKind::UnknownCommandReply, 1).await;
    assert_eq!(
        h.command(&c.uuid).await.unwrap().status,
        CommandStatus::Sent
    );
    // first reply wins
    d.send(&crsp(&c.uuid, b"first", QoS::AtLeastOnce, 1)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    d.send(&crsp(&c.uuid, b"second", QoS::AtLeastOnce, 2)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(2)));
    let v = wait_diags(&h, "9277", DiagKind::UnknownCommandReply, 1).await;
    assert!(v[0].message.contains(&c.uuid), "{}", v[0].message);
    let done = h.command(&c.uuid).await.unwrap();
    assert_eq!(done.status, CommandStatus::Replied);
    assert_eq!(done.reply.as_deref(), Some(&b"first"[..]));
    // a reply for a uuid nobody sent
    d.send(&crsp(
        "00000000-0000-4000-8000-000000000000",
        b"?",
        QoS::AtMostOnce,
        0,
    ))
    .await;
    wait_diags(&h, "9277", DiagKind::UnknownCommandReply, 2).await;
    h.shutdown().await;
}

#[tokio::test]
async fn offline_device_validity_0_is_status_0_and_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let c = h
        .send_command("9277", Bytes::from_static(b"now or never"), 0)
        .await
        .unwrap();
    assert_eq!(c.status, CommandStatus::DeviceOffline);
    assert_uuid_v4(&c.uuid);
    assert_eq!(
        h.command(&c.uuid).await.unwrap().status,
        CommandStatus::DeviceOffline
    );
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    assert_silent(&mut d, "a status-0 command is not delivered later").await;
    // refused, each for its own reason (the HTTP API maps them to errno 8, 5 and 6)
    assert_eq!(
        h.send_command("nope", Bytes::new(), 0).await,
        Err(CommandError::UnknownDevice("nope".into()))
    );
    assert_eq!(
        h.send_command("9277", Bytes::from(vec![0u8; 64 * 1024 + 1]), 0)
            .await,
        Err(CommandError::BodyTooLarge(64 * 1024 + 1, 64 * 1024))
    );
    let e = h
        .send_command("9277", Bytes::new(), 2_678_401)
        .await
        .unwrap_err();
    assert_eq!(e, CommandError::Validity(2_678_401));
    assert_eq!(
        e.to_string(),
        "validity 2678401 s is out of range: 0 to 2678400 s (31 days)"
    );
    // the limits themselves are accepted: validity 31 days, a body one byte under 64 KB (§7.2 "< 64 KB")
    assert!(
        h.send_command("9277", Bytes::from(vec![0u8; 64 * 1024 - 1]), 2_678_400)
            .await
            .is_ok()
    );
    let e = h
        .send_command("9277", Bytes::from(vec![0u8; 64 * 1024]), 2_678_400)
        .await
        .unwrap_err();
    assert_eq!(e, CommandError::BodyTooLarge(65_536, 65_536));
    let (_, total) = h.command_history("9277", None, None, 0, 30).await.unwrap();
    assert_eq!(
        total, 2,
        "refused commands are not recorded (the status-0 one and the accepted one are)"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn offline_command_with_validity_is_delivered_right_after_connack() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let c = h
        .send_command("9277", Bytes::from_static(b"{\"led\":0}"), 60)
        .await
        .unwrap();
    assert_eq!(c.status, CommandStatus::Created);
    assert_eq!(c.validity_s, 60);
    assert_eq!(c.expire_at, Some(c.created_at + 60_000));
    assert_eq!(
        h.command(&c.uuid).await.unwrap().status,
        CommandStatus::Created
    );
    let mut d = Raw::connect(h.mqtt_addr()).await;
    d.send(&connect_packet(
        "9277",
        Some("339"),
        Some("abc123"),
        true,
        120,
    ))
    .await;
    assert!(matches!(d.recv().await, Packet::ConnAck(a) if a.code as u8 == 0));
    let (uuid, body) = creq(&mut d).await;
    assert_eq!(uuid, c.uuid);
    assert_eq!(body.as_ref(), b"{\"led\":0}");
    let sent = h.command(&c.uuid).await.unwrap();
    assert_eq!(sent.status, CommandStatus::Sent);
    d.send(&crsp(&uuid, b"led off", QoS::AtLeastOnce, 1)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let done = h.command(&uuid).await.unwrap();
    assert_eq!(done.status, CommandStatus::Replied);
    assert_eq!(done.reply.as_deref(), Some(&b"led off"[..]));
    // delivered once: a second login gets nothing
    drop(d);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    assert_silent(&mut d, "second login").await;
    h.shutdown().await;
}

#[tokio::test]
async fn offline_command_whose_validity_runs_out_is_send_failed() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let c = h
        .send_command("9277", Bytes::from_static(b"late"), 1)
        .await
        .unwrap();
    assert_eq!(c.status, CommandStatus::Created);
    wait_status(&h, &c.uuid, CommandStatus::SendFailed).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    assert_silent(&mut d, "an expired command").await;
    h.shutdown().await;
}

#[tokio::test]
async fn no_reply_within_the_response_window_is_status_5() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    // Wall-clock window (the router's deadlines hold across restarts), so it is waited out for real:
    // short, as nothing here needs to happen inside it. The boundary itself is the router's
    // virtual-time test `command_times_out_on_the_routers_clock`.
    cfg.onenet.command_response_window = Duration::from_millis(50);
    let h = seeded_with(cfg).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let c = command_to(&h, &mut d, b"ping").await;
    let t = wait_status(&h, &c.uuid, CommandStatus::Timeout).await;
    assert_eq!(t.reply, None);
    let sent_at = t.sent_at.expect("sent");
    assert!(
        sent_at - c.created_at < 300,
        "sent at creation (online command)"
    );
    // a late reply changes nothing
    d.send(&crsp(&c.uuid, b"late", QoS::AtLeastOnce, 1)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    wait_diags(&h, "9277", DiagKind::UnknownCommandReply, 1).await;
    let after = h.command(&c.uuid).await.unwrap();
    assert_eq!(after.status, CommandStatus::Timeout);
    assert_eq!(after.reply, None);
    h.shutdown().await;
}

#[tokio::test]
async fn reply_over_the_limit_is_status_6() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), Profile::OneNet);
    cfg.onenet.command_reply_limit = 8;
    let h = seeded_with(cfg).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let small = command_to(&h, &mut d, b"a").await;
    d.send(&crsp(&small.uuid, b"12345678", QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let ok = h.command(&small.uuid).await.unwrap();
    assert_eq!(
        ok.status,
        CommandStatus::Replied,
        "exactly the limit is fine"
    );
    let big = command_to(&h, &mut d, b"b").await;
    d.send(&crsp(&big.uuid, b"123456789", QoS::AtLeastOnce, 2))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(2)));
    let too = h.command(&big.uuid).await.unwrap();
    assert_eq!(too.status, CommandStatus::ReplyTooLarge);
    assert_eq!(too.reply, None);
    h.shutdown().await;
}

#[tokio::test]
async fn commands_survive_a_restart_and_history_is_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let waiting = h
        .send_command("9277", Bytes::from_static(&[0x00, 0xFF, 0x01]), 600)
        .await
        .unwrap();
    assert_eq!(waiting.status, CommandStatus::Created);
    // a later creation time for the second command
    eventually("the clock to move", || async {
        (now_ms() > waiting.created_at).then_some(())
    })
    .await;
    let missed = h
        .send_command("9277", Bytes::from_static(b"missed"), 0)
        .await
        .unwrap();
    assert_eq!(missed.status, CommandStatus::DeviceOffline);
    h.shutdown().await;

    let h = broker(dir.path(), Profile::OneNet).await;
    let (items, total) = h.command_history("9277", None, None, 0, 30).await.unwrap();
    assert_eq!(total, 2);
    let order: Vec<_> = items.iter().map(|c| (c.uuid.clone(), c.status)).collect();
    assert_eq!(
        order,
        vec![
            (missed.uuid.clone(), CommandStatus::DeviceOffline),
            (waiting.uuid.clone(), CommandStatus::Created)
        ],
        "newest first"
    );
    assert_eq!(
        h.command(&waiting.uuid).await.unwrap().status,
        CommandStatus::Created
    );
    // the offline command created before the restart is delivered after it
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let (uuid, body) = creq(&mut d).await;
    assert_eq!(uuid, waiting.uuid);
    assert_eq!(body.as_ref(), &[0x00, 0xFF, 0x01]);
    assert_silent(&mut d, "only the valid command").await;
    d.send(&crsp(&uuid, b"ok", QoS::AtLeastOnce, 1)).await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let (items, _) = h.command_history("9277", None, None, 0, 30).await.unwrap();
    assert_eq!(items[1].uuid, waiting.uuid);
    assert_eq!(items[1].status, CommandStatus::Replied);
    assert_eq!(items[1].reply.as_deref(), Some(&b"ok"[..]));
    // a time window
    let (since, _) = h
        .command_history("9277", Some(missed.created_at), None, 0, 30)
        .await
        .unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].uuid, missed.uuid);
    let (until, _) = h
        .command_history("9277", None, Some(waiting.created_at), 0, 30)
        .await
        .unwrap();
    assert_eq!(until.len(), 1);
    assert_eq!(until[0].uuid, waiting.uuid);
    // paging
    let (page, total) = h.command_history("9277", None, None, 1, 1).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].uuid, waiting.uuid);
    h.shutdown().await;
}

#[tokio::test]
async fn a_sent_command_can_still_be_answered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let h = seeded(dir.path()).await;
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let c = command_to(&h, &mut d, b"slow job").await;
    drop(d);
    h.shutdown().await;

    let h = broker(dir.path(), Profile::OneNet).await;
    assert_eq!(
        h.command(&c.uuid).await.unwrap().status,
        CommandStatus::Sent
    );
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    assert_silent(&mut d, "a sent command is not sent again").await;
    d.send(&crsp(&c.uuid, b"finished", QoS::AtLeastOnce, 1))
        .await;
    assert_eq!(d.recv().await, Packet::PubAck(pid(1)));
    let done = h.command(&c.uuid).await.unwrap();
    assert_eq!(done.status, CommandStatus::Replied);
    assert_eq!(done.reply.as_deref(), Some(&b"finished"[..]));
    h.shutdown().await;
}
