//! Flow control as plain data: backpressure, QoS 0 drops, acknowledgement timeouts, the store backlog and
//! the offline cap over what was in flight — all in virtual time.

use bytes::Bytes;

use super::Effect;
use super::tests::{H, T0, config, pid, pubs, to};
use crate::broker::message::{CloseReason, Ending, Input, Outbound};
use crate::config::Profile;
use crate::events::Event;
use crate::mqtt::QoS;
use crate::onenet::diagnostics::DiagKind;

pub(super) fn pauses(fx: &[Effect]) -> Vec<(u64, bool)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Pause(c, p) => Some((*c, *p)),
            _ => None,
        })
        .collect()
}

/// `mqtt`, `limits` applied: publisher 1 ("pub") → subscriber 2 ("sub", persistent when `persistent`)
/// of `t` at QoS 1.
pub(super) fn pub_sub(persistent: bool, limits: impl FnOnce(&mut crate::config::Limits)) -> H {
    let mut cfg = config(Profile::Mqtt);
    limits(&mut cfg.limits);
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", !persistent);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h
}

/// Window 1, high watermark 4: publisher 1 → subscriber 2 (QoS 1).
pub(super) fn small() -> H {
    pub_sub(false, |l| {
        l.inflight_window = 1;
        l.max_queued_per_session = 4;
    })
}

#[test]
fn backpressure_engages_at_the_high_watermark_and_releases_at_half() {
    let mut h = small();
    let mut delivered = Vec::new();
    let mut paused_at = None;
    for i in 1..=5u16 {
        let fx = h.publish(1, "t", QoS::AtLeastOnce, i);
        delivered.extend(pubs(&fx, 2));
        if pauses(&fx) == vec![(1, true)] {
            paused_at = Some(i);
        }
    }
    // 1 in flight + 4 queued = the high watermark: the publisher is paused, nothing dropped.
    assert_eq!(paused_at, Some(5));
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.queued, info.dropped), (1, 4, 0));
    // Slack (what the publisher sent before the pause took effect) is queued, not dropped.
    h.publish(1, "t", QoS::AtLeastOnce, 6);
    assert_eq!(h.r.session_infos()[1].queued, 5);
    // Acks drain it: the resume comes once the queue is down to half (2).
    let mut resumed_after = None;
    for n in 1..=6u16 {
        let fx = h.on(Input::PubAck {
            conn: 2,
            pid: pid(n),
        });
        delivered.extend(pubs(&fx, 2));
        if pauses(&fx) == vec![(1, false)] {
            resumed_after = Some(n);
        }
    }
    assert_eq!(resumed_after, Some(3), "queue 5 → 2 after three acks");
    let ids: Vec<u16> = delivered.iter().filter_map(|d| d.2).collect();
    assert_eq!(
        ids,
        vec![1, 2, 3, 4, 5, 6],
        "every message delivered, in order"
    );
    assert_eq!(h.r.session_infos()[1].dropped, 0);
}

#[test]
fn a_publisher_feeding_two_full_subscribers_resumes_only_when_both_drain() {
    let mut h = small();
    h.login(3, "sub2", true);
    h.subscribe(3, "t", QoS::AtLeastOnce);
    let mut p = Vec::new();
    for i in 1..=5u16 {
        p.extend(pauses(&h.publish(1, "t", QoS::AtLeastOnce, i)));
    }
    assert_eq!(p, vec![(1, true)], "one pause effect for two reasons");
    for n in 1..=3u16 {
        assert!(
            pauses(&h.on(Input::PubAck {
                conn: 2,
                pid: pid(n)
            }))
            .is_empty()
        );
    }
    let mut p = Vec::new();
    for n in 1..=3u16 {
        p.extend(pauses(&h.on(Input::PubAck {
            conn: 3,
            pid: pid(n),
        })));
    }
    assert_eq!(p, vec![(1, false)]);
}

#[test]
fn qos0_to_a_full_connection_is_dropped_counted_and_summarised() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_messages = 3;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    let gauge = h.gauges[&2].clone();
    // The connection has not written 3 earlier messages yet: the bound is reached.
    for _ in 0..3 {
        gauge.add(10);
    }
    for i in 0..5 {
        let fx = h.publish_bytes(1, "t", QoS::AtMostOnce, 1, Bytes::from(format!("{i}")));
        assert!(pubs(&fx, 2).is_empty(), "dropped, not queued");
    }
    let info = &h.r.session_infos()[1];
    assert_eq!((info.dropped, info.dropped_qos0, info.queued), (5, 5, 0));
    // Written out: the next one goes.
    gauge.sub(10);
    assert_eq!(pubs(&h.publish(1, "t", QoS::AtMostOnce, 1), 2).len(), 1);
    // Summaries, not one line per drop: the unlogged count is reset at most once per interval.
    let s = &h.r.sessions["sub"];
    assert_eq!(
        s.drops_unlogged.unreported(),
        4,
        "first drop logged at once, the next 4 wait for the interval"
    );
    gauge.add(10);
    h.now += crate::broker::tally::REPORT_EVERY_MS;
    h.publish(1, "t", QoS::AtMostOnce, 1);
    assert_eq!(h.r.sessions["sub"].drops_unlogged.unreported(), 0);
}

#[test]
fn qos1_waits_for_a_full_connection_instead_of_being_dropped() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_bytes = 1024;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.gauges[&2].add(4096);
    let a = pubs(&h.publish(1, "t", QoS::AtLeastOnce, 1), 2);
    let b = pubs(&h.publish(1, "t", QoS::AtLeastOnce, 2), 2);
    assert_eq!(
        (a.len(), b.len()),
        (1, 0),
        "one in flight, the next waits for room"
    );
    h.gauges[&2].sub(4096);
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(1),
    });
    assert_eq!(pubs(&fx, 2).len(), 1);
    assert_eq!(h.r.session_infos()[1].dropped, 0);
}

#[test]
fn ack_timeout_closes_with_a_diagnostic_naming_the_packet_id() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.publish(1, "t", QoS::AtLeastOnce, 1);
    let due =
        h.r.next_deadline()
            .expect("sweep scheduled while something is in flight");
    assert_eq!(due, T0 + 1000);
    h.now = T0 + 29_999;
    assert!(h.on(Input::Tick).is_empty());
    // Swept once a second: the close comes within a second of the timeout.
    let due = h.r.next_deadline().expect("next sweep");
    assert!(due <= T0 + 31_000, "{due}");
    h.now = due;
    let fx = h.on(Input::Tick);
    let closed = to(&fx, 2);
    assert!(
        matches!(closed[..], [Outbound::Close(CloseReason::Protocol(why))] if why.contains("PUBACK for packet id 1")),
        "{closed:?}"
    );
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Event(Event::Diagnostic(d)) if d.kind == DiagKind::AckTimeout && d.device == "sub"
    )));
    // Asked once: the next sweep does not repeat it while the close is under way.
    h.now += 1000;
    assert!(to(&h.on(Input::Tick), 2).is_empty());
}

#[test]
fn pubrec_without_pubcomp_times_out_too() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h.publish(1, "t", QoS::ExactlyOnce, 1);
    h.on(Input::PubRel {
        conn: 1,
        pid: pid(1),
    });
    h.now += 10_000;
    h.on(Input::PubRec {
        conn: 2,
        pid: pid(1),
    });
    h.now += 29_000;
    assert!(
        to(&h.on(Input::Tick), 2).is_empty(),
        "counted from the PUBREL"
    );
    h.now += 1_000;
    let fx = h.on(Input::Tick);
    assert!(matches!(
        to(&fx, 2)[..],
        [Outbound::Close(CloseReason::Protocol(why))] if why.contains("PUBCOMP for packet id 1")
    ));
}

#[test]
fn a_stuck_subscriber_is_closed_and_the_others_keep_flowing() {
    let mut h = small();
    h.login(3, "ok", true);
    h.subscribe(3, "t", QoS::AtLeastOnce);
    let mut ok_got = 0;
    let mut acked = 0u16;
    let mut paused = false;
    // "sub" never acknowledges; "ok" acknowledges everything.
    for i in 1..=5u16 {
        let fx = h.publish(1, "t", QoS::AtLeastOnce, i);
        paused |= pauses(&fx).contains(&(1, true));
        for _ in pubs(&fx, 3) {
            ok_got += 1;
            acked += 1;
            let fx = h.on(Input::PubAck {
                conn: 3,
                pid: pid(acked),
            });
            ok_got += pubs(&fx, 3).len();
        }
    }
    assert!(paused, "the stuck subscriber holds the publisher back");
    h.now += 30_000;
    let fx = h.on(Input::Tick);
    assert!(matches!(to(&fx, 2)[..], [Outbound::Close(_)]));
    // Its connection ends: the publisher resumes, the other subscriber keeps receiving.
    let fx = h.close(2, Ending::Abnormal("ack timeout".into()));
    assert_eq!(pauses(&fx), vec![(1, false)]);
    let fx = h.publish(1, "t", QoS::AtLeastOnce, 6);
    assert_eq!(pubs(&fx, 3).len(), 1);
    assert!(ok_got >= 4);
}

/// `mqtt`, window 1, `limits` applied: publisher 1 → persistent subscriber 2 of `t` (QoS 1).
fn to_persistent(limits: impl FnOnce(&mut crate::config::Limits)) -> H {
    pub_sub(true, |l| {
        l.inflight_window = 1;
        limits(l);
    })
}

#[test]
fn a_persistent_subscriber_that_goes_away_keeps_only_what_the_offline_rules_allow() {
    let mut h = to_persistent(|l| l.max_queued_per_session = 4);
    for i in 1..=8u16 {
        h.publish(1, "t", QoS::AtLeastOnce, i);
    }
    assert_eq!(h.r.session_infos()[1].queued, 7, "online: nothing dropped");
    h.close(2, Ending::Abnormal("stuck".into()));
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.queued, info.dropped), (1, 4, 3));
}

#[test]
fn onenet_offline_cap_covers_what_was_in_flight_at_disconnect() {
    let mut h = H::onenet();
    h.login(1, "sub", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    h.login(2, "pub", true);
    // 15 sent and never acknowledged (window 32), then 5 more while offline.
    for i in 1..=15u16 {
        h.now = T0 + i64::from(i);
        h.publish_bytes(2, "t", QoS::AtLeastOnce, i, Bytes::from(i.to_string()));
    }
    h.close(1, Ending::Abnormal("cable".into()));
    for i in 16..=20u16 {
        h.now = T0 + i64::from(i);
        h.publish_bytes(2, "t", QoS::AtLeastOnce, i, Bytes::from(i.to_string()));
    }
    h.now = T0 + 1000;
    let fx = h.login(3, "sub", false);
    let got: Vec<(String, bool)> = to(&fx, 3)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish { msg, dup, .. } => {
                Some((String::from_utf8_lossy(&msg.payload).into_owned(), *dup))
            }
            _ => None,
        })
        .collect();
    let want: Vec<(String, bool)> = (11..=20).map(|i| (i.to_string(), i <= 15)).collect();
    assert_eq!(
        got, want,
        "the latest 10 of everything missed; the in-flight ones with DUP"
    );
    assert_eq!(h.r.session_infos()[1].dropped, 10);
}

#[test]
fn mqtt_profile_redelivers_everything_in_flight() {
    let mut h = H::mqtt();
    h.login(1, "sub", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    h.login(2, "pub", true);
    for i in 1..=15u16 {
        h.publish(2, "t", QoS::AtLeastOnce, i);
    }
    h.close(1, Ending::Abnormal("cable".into()));
    let fx = h.login(3, "sub", false);
    assert_eq!(pubs(&fx, 3).len(), 15);
    assert!(pubs(&fx, 3).iter().all(|p| p.3), "all with DUP=1");
}

#[test]
fn the_store_backlog_bound_stops_input_until_the_writer_catches_up() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_store_backlog = 3;
    let mut h = H::new(cfg);
    h.login(1, "sub", false); // UpsertSession: op 1
    h.subscribe(1, "t", QoS::AtLeastOnce); // PutSubscription: op 2
    assert!(!h.r.store_backlogged(0));
    h.login(2, "pub", true);
    h.publish(2, "t", QoS::AtLeastOnce, 1); // Enqueue + MarkSent: ops 3, 4
    assert!(h.r.store_backlogged(0));
    assert!(h.r.store_backlogged(1));
    assert!(!h.r.store_backlogged(2));
}

/// The backlog is bounded in payload bytes too: a few large retained messages stop input as 50,000
/// small ops would, and the writer's watermark passing them lets it go on.
#[test]
fn the_store_backlog_bound_counts_payload_bytes() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_store_backlog_bytes = 10_000;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    let big = Bytes::from(vec![b'x'; 4_000]);
    let mut ops = Vec::new();
    for i in 1..=3u16 {
        let fx = h.publish_retained(1, "big", big.clone(), i);
        ops.extend(fx.iter().filter_map(|e| match e {
            Effect::Store(n, op) => Some((*n, op.payload_bytes())),
            _ => None,
        }));
        // 4,000 and 8,000 bytes wait: under the bound; 12,000: over it.
        assert_eq!(h.r.store_backlogged(0), i == 3, "after message {i}");
    }
    assert_eq!(ops.len(), 3, "one op per retained message: {ops:?}");
    assert!(ops.iter().all(|(_, b)| *b == 4_000));
    // The writer commits the first: 8,000 bytes wait, under the bound again.
    assert!(!h.r.store_backlogged(ops[0].0));
    // Ops without a payload add no bytes: a persistent session's 40 subscriptions are 40 ops, and the
    // backlog stays under the byte bound (the op count is its own bound).
    h.login(2, "keeper", false);
    let mut small = 0;
    for i in 0..40 {
        let fx = h.subscribe(2, &format!("f/{i}"), QoS::AtLeastOnce);
        small += fx
            .iter()
            .filter(|e| matches!(e, Effect::Store(_, op) if op.payload_bytes() == 0))
            .count();
    }
    assert!(small >= 40, "{small} ops without a payload");
    assert!(!h.r.store_backlogged(ops[0].0));
    assert!(!h.r.store_backlogged(ops[2].0), "everything committed");
}

/// A session's queue is bounded in payload bytes as well as in messages: online, the publisher is paused
/// when the bytes reach the bound (long before 1,000 messages) and resumed at half; offline, the oldest
/// are dropped down to the bound, the newest always kept; OneNET's replay of the latest N keeps within it.
#[test]
fn a_session_queue_is_bounded_in_bytes_too() {
    let mut h = to_persistent(|l| l.max_queued_bytes_per_session = 10_000);
    let big = Bytes::from(vec![b'b'; 4_000]);
    let mut paused_at = None;
    for i in 1..=4u16 {
        let fx = h.publish_bytes(1, "t", QoS::AtLeastOnce, i, big.clone());
        if pauses(&fx) == vec![(1, true)] {
            paused_at = Some(i);
        }
    }
    // 1 in flight, then 4,000, 8,000, 12,000 bytes queued: paused at the third queued message.
    assert_eq!(paused_at, Some(4));
    assert_eq!(h.r.session_infos()[1].queued, 3);
    // Two acknowledgements: 4,000 bytes queued, under half: resumed.
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(1),
    });
    assert!(pauses(&fx).is_empty(), "8,000 bytes still queued");
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(2),
    });
    assert_eq!(pauses(&fx), vec![(1, false)]);

    // Offline: 2 of 4,000 bytes fit; each later one drops the oldest.
    h.close(2, Ending::Abnormal("gone".into()));
    for i in 5..=9u16 {
        h.publish_bytes(1, "t", QoS::AtLeastOnce, i, big.clone());
    }
    let info = &h.r.session_infos()[1];
    assert_eq!((info.queued, info.dropped), (2, 4));
    // One message larger than the bound is kept (the newest always is), alone.
    h.publish_bytes(
        1,
        "t",
        QoS::AtLeastOnce,
        10,
        Bytes::from(vec![b'h'; 20_000]),
    );
    let info = &h.r.session_infos()[1];
    assert_eq!((info.queued, info.dropped), (1, 6));

    // OneNET: the latest 10 it missed (§9), here 5 sent and never acknowledged, within the byte bound:
    // the newest 2.
    let mut cfg = config(Profile::OneNet);
    cfg.limits.max_queued_bytes_per_session = 10_000;
    let mut h = H::new(cfg);
    h.login(1, "sub", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    h.login(2, "pub", true);
    for i in 1..=5u16 {
        h.publish_bytes(
            2,
            "t",
            QoS::AtLeastOnce,
            i,
            Bytes::from(vec![b'0' + i as u8; 4_000]),
        );
    }
    h.close(1, Ending::Abnormal("cable".into()));
    let fx = h.login(3, "sub", false);
    let got: Vec<u8> = to(&fx, 3)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish { msg, .. } => msg.payload.first().copied(),
            _ => None,
        })
        .collect();
    assert_eq!(got, [b'4', b'5'], "the newest that fit");
}

/// The window is bounded in payload bytes as well as in messages: at 10,000 bytes, two 4,000-byte
/// messages are in flight, not 128; each acknowledgement lets the next one in, and a message larger than
/// the bound still goes, alone, once nothing is in flight. The session reports the bytes it holds.
#[test]
fn the_window_is_bounded_in_bytes_too() {
    let mut h = pub_sub(false, |l| {
        l.inflight_window = 128;
        l.max_inflight_bytes = 10_000;
    });
    let mut sent = Vec::new();
    for i in 1..=4u16 {
        let fx = h.publish_bytes(1, "t", QoS::AtLeastOnce, i, Bytes::from(vec![b'w'; 4_000]));
        sent.extend(pubs(&fx, 2));
    }
    let fx = h.publish_bytes(1, "t", QoS::AtLeastOnce, 5, Bytes::from(vec![b'W'; 20_000]));
    sent.extend(pubs(&fx, 2));
    assert_eq!(
        sent.len(),
        2,
        "8,000 bytes in flight; a third would be 12,000"
    );
    let info = &h.r.session_infos()[1];
    assert_eq!((info.inflight, info.queued), (2, 3));
    assert_eq!(info.held_bytes, 4 * 4_000 + 20_000);
    // Each acknowledgement makes room for one more 4,000-byte message.
    for n in 1..=2u16 {
        let fx = h.on(Input::PubAck {
            conn: 2,
            pid: pid(n),
        });
        assert_eq!(pubs(&fx, 2).len(), 1, "after PUBACK {n}");
    }
    // Two in flight (3, 4); the 20,000-byte one waits until both are acknowledged, then goes alone.
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(3),
    });
    assert!(pubs(&fx, 2).is_empty(), "4,000 + 20,000 is over the bound");
    let fx = h.on(Input::PubAck {
        conn: 2,
        pid: pid(4),
    });
    assert_eq!(
        pubs(&fx, 2),
        vec![("t".into(), QoS::AtLeastOnce, Some(5), false)]
    );
    let info = &h.r.session_infos()[1];
    assert_eq!(
        (info.inflight, info.queued, info.held_bytes),
        (1, 0, 20_000)
    );
    assert_eq!(info.dropped, 0);
}

/// What waits for an offline session (or stays retained) may wait for days: its payload is its own, not
/// a slice that keeps the whole read it came in alive. One copy serves every offline session it goes to;
/// an online subscriber still gets the slice, with no copy.
#[test]
fn kept_messages_let_go_of_their_read_buffer() {
    let mut h = H::mqtt();
    h.login(1, "pub", true);
    for (conn, id) in [(2, "away1"), (3, "away2")] {
        h.login(conn, id, false);
        h.subscribe(conn, "t", QoS::AtLeastOnce);
        h.close(conn, Ending::Abnormal("gone".into()));
    }
    h.login(4, "here", true);
    h.subscribe(4, "t", QoS::AtLeastOnce);
    let read = Bytes::from(vec![b'r'; 16 * 1024]);
    let inside = read.as_ptr_range();
    let fx = h.publish_bytes(1, "t", QoS::AtLeastOnce, 1, read.slice(100..120));
    let online: Vec<_> = to(&fx, 4)
        .into_iter()
        .filter_map(|o| match o {
            Outbound::Publish { msg, .. } => Some(msg.payload.clone()),
            _ => None,
        })
        .collect();
    assert!(
        inside.contains(&online[0].as_ptr()),
        "online: the slice itself"
    );
    let kept: Vec<_> = ["away1", "away2"]
        .iter()
        .map(|id| h.r.queue(id)[0].payload.clone())
        .collect();
    assert_eq!(&kept[0][..], &read[100..120]);
    assert!(!inside.contains(&kept[0].as_ptr()), "offline: a copy");
    assert_eq!(kept[0].as_ptr(), kept[1].as_ptr(), "one copy for both");

    // A persistent session that goes offline with messages received while online (one in flight, one
    // queued behind a window of 1): both get payloads of their own.
    let mut h = to_persistent(|_| {});
    for id in 1..=2u16 {
        h.publish_bytes(1, "t", QoS::AtLeastOnce, id, read.slice(200..220));
    }
    let held = |h: &H| {
        h.r.queue("sub")
            .iter()
            .map(|q| q.payload.as_ptr())
            .collect::<Vec<_>>()
    };
    assert!(
        held(&h).iter().all(|p| inside.contains(p)),
        "online: slices"
    );
    h.close(2, Ending::Abnormal("gone".into()));
    let after = held(&h);
    assert_eq!(after.len(), 2, "one in flight, one queued");
    assert!(after.iter().all(|p| !inside.contains(p)), "offline: copies");
}
