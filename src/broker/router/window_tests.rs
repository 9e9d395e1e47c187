//! What takes room in a subscriber's in-flight window and what does not, in virtual time: a QoS 2
//! delivery holds its payload only until PUBREC, and a QoS 0 message queued while the client was away
//! never waits for the window; QoS 2 with nothing durable is received (PUBREC) without a store barrier.

use bytes::Bytes;

use super::tests::{H, config, ops, pid, pubs, to};
use crate::broker::message::{Ending, Input, Outbound};
use crate::config::Profile;
use crate::mqtt::{Packet, QoS};

/// Publisher 1 → persistent subscriber 2 of `t` at QoS 2, a window of 10,000 payload bytes.
fn qos2_pair() -> H {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.inflight_window = 128;
    cfg.limits.max_inflight_bytes = 10_000;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", false);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h
}

/// A QoS 2 PUBLISH from connection 1 with a `size`-byte payload, released (PUBREL) so it is routed.
fn publish2(h: &mut H, id: u16, size: usize) -> Vec<super::Effect> {
    h.publish_bytes(1, "t", QoS::ExactlyOnce, id, Bytes::from(vec![b'q'; size]));
    h.on(Input::PubRel {
        conn: 1,
        pid: pid(id),
    })
}

/// After PUBREC only PUBREL is ever sent again (MQTT 3.1.1 §4.3.3), so the payload goes then: a
/// subscriber slow to send PUBCOMP holds no payload bytes, and the window's byte bound lets the next
/// message in. Before, the payload stayed until PUBCOMP and counted against the bound.
#[test]
fn a_qos2_delivery_lets_go_of_its_payload_at_pubrec() {
    let mut h = qos2_pair();
    let mut sent = Vec::new();
    for id in 1..=3u16 {
        sent.extend(pubs(&publish2(&mut h, id, 4_000), 2));
    }
    assert_eq!(
        sent.len(),
        2,
        "8,000 bytes in flight; a third would be 12,000"
    );
    assert_eq!(h.r.session_infos()[1].held_bytes, 12_000);

    // PUBREC for the first: PUBREL goes, and its 4,000 bytes make room for the third.
    let fx = h.on(Input::PubRec {
        conn: 2,
        pid: pid(1),
    });
    let out = to(&fx, 2);
    assert!(
        matches!(out.first(), Some(Outbound::Packet(Packet::PubRel(p))) if p.get() == 1),
        "{out:?}"
    );
    assert_eq!(
        pubs(&fx, 2),
        vec![("t".into(), QoS::ExactlyOnce, Some(3), false)]
    );
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.queued), (3, 0));
    assert_eq!(
        info.held_bytes, 8_000,
        "ids 2 and 3; id 1 waits for PUBCOMP with no payload"
    );

    // A repeated PUBREC is answered again and changes no count.
    let fx = h.on(Input::PubRec {
        conn: 2,
        pid: pid(1),
    });
    assert!(matches!(
        to(&fx, 2)[..],
        [Outbound::Packet(Packet::PubRel(_))]
    ));
    assert_eq!(h.r.session_infos()[1].held_bytes, 8_000);

    // Away and back: PUBREL again for id 1, the PUBLISH again (DUP) for 2 and 3.
    h.close(2, Ending::Abnormal("gone".into()));
    let fx = h.login(2, "sub", false);
    assert!(
        to(&fx, 2)
            .iter()
            .any(|o| matches!(o, Outbound::Packet(Packet::PubRel(p)) if p.get() == 1)),
        "PUBREL for 1"
    );
    assert_eq!(
        pubs(&fx, 2),
        vec![
            ("t".into(), QoS::ExactlyOnce, Some(2), true),
            ("t".into(), QoS::ExactlyOnce, Some(3), true),
        ],
        "the PUBLISH again only for those not received"
    );
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.held_bytes), (3, 8_000));
    let fx = h.on(Input::PubComp {
        conn: 2,
        pid: pid(1),
    });
    assert!(pubs(&fx, 2).is_empty(), "nothing waits");
    assert_eq!(h.r.session_infos()[1].inflight, 2);
}

/// A QoS 0 message queued for an offline session (`onenet` keeps them, OneNET §9) goes out when the
/// client is back, whatever the window holds: it takes no place in it. It used to wait at the queue's
/// front until the window had room for it, and hold back what came after it.
#[test]
fn a_queued_qos0_message_does_not_wait_for_the_window() {
    let mut cfg = config(Profile::OneNet);
    cfg.limits.inflight_window = 1;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", false);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.close(2, Ending::Abnormal("gone".into()));
    h.publish(1, "t", QoS::AtLeastOnce, 1);
    h.publish(1, "t", QoS::AtMostOnce, 2);
    h.publish(1, "t", QoS::AtMostOnce, 3);
    assert_eq!(h.r.session_infos()[1].queued, 3);
    let fx = h.login(2, "sub", false);
    assert_eq!(
        pubs(&fx, 2),
        vec![
            ("t".into(), QoS::AtLeastOnce, Some(1), false),
            ("t".into(), QoS::AtMostOnce, None, false),
            ("t".into(), QoS::AtMostOnce, None, false),
        ],
        "the QoS 1 message fills the window; the QoS 0 ones go anyway"
    );
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.queued), (1, 0));
}

/// QoS 2 from a clean-session publisher to a clean subscriber has nothing durable to write either: its
/// PUBREC goes at once, with no store barrier in front (its exactly-once state lives as long as the
/// session, in memory).
#[test]
fn qos2_without_anything_durable_is_received_without_a_barrier() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    let fx = h.publish(1, "t", QoS::ExactlyOnce, 9);
    assert!(ops(&fx).is_empty(), "clean sessions: nothing to store");
    let out = to(&fx, 1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(matches!(out[0], Outbound::Packet(Packet::PubRec(p)) if p.get() == 9));
}
