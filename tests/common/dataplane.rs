//! Helpers for the data-plane tests (`tests/dataplane_*.rs`): spec hex captures, `$dp` frames, reading
//! datapoints back, taking deliveries with their acknowledgements, and waiting for events.

use std::time::{SystemTime, UNIX_EPOCH};

use onenet_desk::ServiceHandle;
use onenet_desk::events::{Event, EventReceiver, Received};
use onenet_desk::mqtt::{Packet, Publish, QoS, QosPid};
use onenet_desk::onenet::diagnostics::{DiagKind, Diagnostic};
use onenet_desk::store::{DpFilter, StoredDatapoint, StreamSummary};

use super::{Raw, WAIT, publish};

/// Bytes from spec-style hex (`"32 1E 00 03 …"`; whitespace and newlines ignored).
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits in {s:?}"
    );
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).expect("hex digit"))
        .collect()
}

/// A PUBLISH to `$dp` carrying `payload` (the `$dp` body: type byte onwards).
pub fn dp(payload: &[u8], qos: QoS, id: u16) -> Packet {
    publish("$dp", payload, qos, id, false)
}

/// `type | u16 len | body` for the length-framed JSON types (1, 3, 4) and the text types (5, 6 without time).
pub fn framed(dp_type: u8, body: &str) -> Vec<u8> {
    let mut v = vec![dp_type];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body.as_bytes());
    v
}

/// Wall clock, Unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every datapoint of `device`, oldest first (straight from SQLite, no flush).
pub fn points(h: &ServiceHandle, device: &str) -> Vec<StoredDatapoint> {
    super::open_db(h)
        .datapoints(
            &DpFilter {
                device_id: Some(device.into()),
                ..Default::default()
            },
            1000,
            false,
        )
        .expect("datapoints query")
}

/// The device's datastreams (straight from SQLite, no flush).
pub fn streams(h: &ServiceHandle, device: &str) -> Vec<StreamSummary> {
    super::open_db(h)
        .datastreams(device)
        .expect("datastreams query")
}

/// Datapoints of one upload, in payload order (the upload id of `points` rows).
pub fn points_of_upload(all: &[StoredDatapoint], upload_id: i64) -> Vec<StoredDatapoint> {
    let mut v: Vec<_> = all
        .iter()
        .filter(|p| p.upload_id == upload_id)
        .cloned()
        .collect();
    v.sort_by_key(|p| p.id);
    v
}

/// The next PUBLISH; fails on any other packet.
pub async fn next_publish(r: &mut Raw) -> Publish {
    match r.recv().await {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Takes `n` PUBLISHes, acknowledging each as a well-behaved client does (PUBACK; PUBREC, then PUBCOMP
/// for the PUBREL that comes back). Returns them in arrival order. Fails on anything unexpected.
pub async fn take_publishes(r: &mut Raw, n: usize) -> Vec<Publish> {
    let mut got = Vec::new();
    let mut awaiting_rel = 0usize;
    while got.len() < n || awaiting_rel > 0 {
        match r.recv().await {
            Packet::Publish(p) => {
                match p.qos_pid {
                    QosPid::AtMostOnce => {}
                    QosPid::AtLeastOnce(id) => r.send(&Packet::PubAck(id)).await,
                    QosPid::ExactlyOnce(id) => {
                        r.send(&Packet::PubRec(id)).await;
                        awaiting_rel += 1;
                    }
                }
                got.push(p);
            }
            Packet::PubRel(id) => {
                r.send(&Packet::PubComp(id)).await;
                awaiting_rel -= 1;
            }
            other => panic!("expected PUBLISH or PUBREL, got {other:?} after {got:?}"),
        }
    }
    got
}

/// Asserts that the broker owes `r` nothing (see [`Raw::assert_silent`]: a barrier, not a time window).
pub async fn assert_silent(r: &mut Raw, what: &str) {
    r.assert_silent(what).await;
}

/// Publishes at `qos` and completes the publisher's side of the handshake (PUBACK, or PUBREC → PUBREL →
/// PUBCOMP). QoS 0 returns at once.
pub async fn publish_acked(r: &mut Raw, p: Packet) {
    let Packet::Publish(ref publ) = p else {
        panic!("not a PUBLISH")
    };
    let qos_pid = publ.qos_pid;
    r.send(&p).await;
    match qos_pid {
        QosPid::AtMostOnce => {}
        QosPid::AtLeastOnce(id) => assert_eq!(r.recv().await, Packet::PubAck(id)),
        QosPid::ExactlyOnce(id) => {
            assert_eq!(r.recv().await, Packet::PubRec(id));
            r.send(&Packet::PubRel(id)).await;
            assert_eq!(r.recv().await, Packet::PubComp(id));
        }
    }
}

/// Round trip through the connection (PINGREQ → PINGRESP): everything sent before was read.
pub async fn ping(r: &mut Raw) {
    r.send_bytes(&[0xC0, 0x00]).await;
    assert_eq!(r.recv().await, Packet::PingResp);
}

/// The device's diagnostics of one kind.
pub async fn diags_of(h: &ServiceHandle, device: &str, kind: DiagKind) -> Vec<Diagnostic> {
    h.diagnostics(device)
        .await
        .into_iter()
        .filter(|d| d.kind == kind)
        .collect()
}

/// Waits until the device has at least `n` diagnostics of `kind` and returns them.
pub async fn wait_diags(
    h: &ServiceHandle,
    device: &str,
    kind: DiagKind,
    n: usize,
) -> Vec<Diagnostic> {
    super::eventually(
        &format!("{n} {kind:?} diagnostic(s) for {device}"),
        || async {
            let v = diags_of(h, device, kind).await;
            (v.len() >= n).then_some(v)
        },
    )
    .await
}

/// Reads events until `f` picks one, failing after [`WAIT`]. Missed-event notices are skipped.
pub async fn wait_event<T>(
    rx: &mut EventReceiver,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => panic!("no event {what} within {WAIT:?}"),
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Ok(Some(Received::Missed(_))) => {}
            Ok(Some(Received::Event(e))) => {
                if let Some(v) = f(&e) {
                    return v;
                }
            }
        }
    }
}
