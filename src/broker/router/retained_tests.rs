//! The retained messages' bounds (`limits.max_retained_messages`, `limits.max_retained_bytes`), in
//! virtual time: past them a retained message is delivered but not kept, its topic's older one goes, the
//! refusal is counted and reported to the publisher at most once per 10 s.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::tests::{H, config, ops, pubs};
use crate::broker::message::Input;
use crate::broker::tally::REPORT_EVERY_MS;
use crate::config::Profile;
use crate::mqtt::QoS;
use crate::onenet::diagnostics::DiagKind;
use crate::store::StoreOp;

/// `mqtt`, at most 2 retained messages and 1,000 payload bytes; "dev" (1) publishes, "app" (2)
/// subscribes to everything.
fn bounded() -> H {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_retained_messages = 2;
    cfg.limits.max_retained_bytes = 1_000;
    let mut h = H::new(cfg);
    h.login(1, "dev", true);
    h.login(2, "app", true);
    h.subscribe(2, "#", QoS::AtMostOnce);
    h
}

fn kept(h: &H) -> Vec<(String, usize)> {
    h.r.retained_list()
        .into_iter()
        .map(|r| (r.topic, r.payload.len()))
        .collect()
}

fn refusals(h: &H) -> Vec<String> {
    h.r.diagnostics("dev")
        .into_iter()
        .filter(|d| d.kind == DiagKind::RetainedFull)
        .map(|d| d.message)
        .collect()
}

fn bytes(n: usize) -> Bytes {
    Bytes::from(vec![b'r'; n])
}

#[test]
fn past_the_count_a_retained_message_is_delivered_but_not_kept() {
    let mut h = bounded();
    h.publish_retained(1, "a", bytes(10), 1);
    h.publish_retained(1, "b", bytes(10), 2);
    // Replacing a topic's message takes no new place.
    h.publish_retained(1, "a", bytes(20), 3);
    assert!(refusals(&h).is_empty());
    let fx = h.publish_retained(1, "c", bytes(10), 4);
    assert_eq!(pubs(&fx, 2).len(), 1, "delivered all the same");
    assert!(
        !ops(&fx)
            .iter()
            .any(|op| matches!(op, StoreOp::SetRetained { .. })),
        "not stored"
    );
    assert_eq!(kept(&h), vec![("a".into(), 20), ("b".into(), 10)]);
    assert_eq!(h.r.metrics.retained_refused.load(Ordering::Relaxed), 1);
    let r = refusals(&h);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].contains("'c' was delivered but not kept")
            && r[0].contains("2 of limits.max_retained_messages 2"),
        "{}",
        r[0]
    );
    // Clearing one makes room again.
    h.publish_retained(1, "b", Bytes::new(), 5);
    h.publish_retained(1, "c", bytes(10), 6);
    assert_eq!(kept(&h), vec![("a".into(), 20), ("c".into(), 10)]);
}

/// A replacement that would pass the byte bound is refused, and the topic's older message goes with it:
/// a later subscriber must not take it for the latest.
#[test]
fn past_the_bytes_the_older_message_goes_too() {
    let mut h = bounded();
    h.publish_retained(1, "a", bytes(600), 1);
    h.publish_retained(1, "b", bytes(300), 2);
    let fx = h.publish_retained(1, "b", bytes(500), 3);
    assert_eq!(pubs(&fx, 2).len(), 1);
    assert!(
        ops(&fx)
            .iter()
            .any(|op| matches!(op, StoreOp::ClearRetained { topic, .. } if topic == "b")),
        "the older one is cleared on disk too"
    );
    assert_eq!(kept(&h), vec![("a".into(), 600)]);
    // 600 + 400 is exactly the bound.
    h.publish_retained(1, "b", bytes(400), 4);
    assert_eq!(kept(&h), vec![("a".into(), 600), ("b".into(), 400)]);
}

/// A device that keeps retaining on new topics gets one diagnostic per 10 s with the count, not one per
/// message; every refusal is in the metrics.
#[test]
fn refusals_are_reported_at_most_once_per_interval_with_their_count() {
    let mut h = bounded();
    h.publish_retained(1, "a", bytes(1), 1);
    h.publish_retained(1, "b", bytes(1), 2);
    for i in 0..50u16 {
        h.publish_retained(1, &format!("new/{i}"), bytes(1), 3 + i);
    }
    assert_eq!(refusals(&h).len(), 1, "the first, at once");
    h.now += REPORT_EVERY_MS;
    h.publish_retained(1, "new/last", bytes(1), 99);
    let r = refusals(&h);
    assert_eq!(r.len(), 2);
    assert!(
        r[1].contains("50 of this client's refused since its last report"),
        "{}",
        r[1]
    );
    assert_eq!(h.r.metrics.retained_refused.load(Ordering::Relaxed), 51);
}

/// The refusals of a burst's last interval are reported when the interval ends, by the router's clock,
/// even if the device publishes nothing more (before, they waited for its next refusal).
#[test]
fn the_last_refusals_of_a_burst_are_reported_when_their_interval_ends() {
    let mut h = bounded();
    h.publish_retained(1, "a", bytes(1), 1);
    h.publish_retained(1, "b", bytes(1), 2);
    assert_eq!(h.r.next_deadline(), None, "nothing waits for time");
    for i in 0..50u16 {
        h.publish_retained(1, &format!("new/{i}"), bytes(1), 3 + i);
    }
    assert_eq!(refusals(&h).len(), 1, "the first, at once");
    let due = h.r.next_deadline().expect("the rest are due later");
    assert_eq!(due, h.now + REPORT_EVERY_MS);
    h.now = due - 1;
    h.on(Input::Tick);
    assert_eq!(refusals(&h).len(), 1, "not before the interval ends");
    h.now = due;
    h.on(Input::Tick);
    let r = refusals(&h);
    assert_eq!(
        r.len(),
        2,
        "reported by the tick, with no refusal after them"
    );
    assert!(
        r[1].contains("49 more of this client's retained messages were delivered but not kept"),
        "{}",
        r[1]
    );
    assert_eq!(h.r.next_deadline(), None, "and nothing more is due");
}

/// Bounds lowered at run time leave the store over them: updates to what is kept still replace it (a
/// device's next status must not wipe its last), only a new topic is refused.
#[test]
fn under_a_lowered_bound_kept_topics_still_update() {
    let mut h = bounded();
    h.publish_retained(1, "a", bytes(100), 1);
    h.publish_retained(1, "b", bytes(100), 2);
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_retained_messages = 1;
    cfg.limits.max_retained_bytes = 1_024;
    h.r.set_config(Arc::new(cfg));
    h.publish_retained(1, "a", bytes(50), 3);
    h.publish_retained(1, "b", bytes(100), 4);
    h.publish_retained(1, "c", bytes(1), 5);
    assert_eq!(kept(&h), vec![("a".into(), 50), ("b".into(), 100)]);
    assert_eq!(refusals(&h).len(), 1, "only 'c'");
}

/// Each publisher hears of its own refusals: another device's first one within the same 10 s is
/// reported to it, with its own count.
#[test]
fn each_publisher_gets_its_own_reports() {
    let mut h = bounded();
    h.login(3, "other", true);
    h.publish_retained(1, "a", bytes(1), 1);
    h.publish_retained(1, "b", bytes(1), 2);
    h.publish_retained(1, "x", bytes(1), 3);
    h.publish_retained(1, "y", bytes(1), 4);
    h.publish_retained(3, "z", bytes(1), 5);
    assert_eq!(refusals(&h).len(), 1);
    let theirs: Vec<String> =
        h.r.diagnostics("other")
            .into_iter()
            .filter(|d| d.kind == DiagKind::RetainedFull)
            .map(|d| d.message)
            .collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert!(
        theirs[0].contains("'z' was delivered but not kept")
            && theirs[0].contains("1 of this client's")
    );
}
