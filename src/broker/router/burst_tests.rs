//! A whole burst through the router in virtual time: 4 publishers → 4 subscribers, 10,000 QoS 1 messages
//! each (the load generator's `qos1-4x4`), with small bounds so backpressure engages again and again,
//! and a seeded interleaving of publishing, writing and acknowledging. Plus the drop summaries' last
//! interval, logged by the router's clock when no later drop comes.

use std::collections::VecDeque;

use bytes::Bytes;

use super::Effect;
use super::tests::{H, config, pid};
use crate::broker::message::{ConnId, Input, Outbound};
use crate::config::Profile;
use crate::mqtt::{Packet, QoS};

/// Publishers and their subscribers.
const PAIRS: usize = 4;
/// Messages per publisher.
const PER: u32 = 10_000;
/// Unacknowledged PUBLISHes a publisher keeps going (as `loadgen --scenario qos1-4x4`).
const PUB_WINDOW: usize = 64;

/// A small deterministic generator (xorshift64*), so every run takes the same interleaving.
pub(super) struct Rng(pub u64);

impl Rng {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// One publisher as its client sees it.
#[derive(Default)]
struct Publisher {
    next: u32,
    /// Packet ids sent and not yet acknowledged.
    unacked: usize,
    acked: u32,
    /// The broker stopped reading it (backpressure).
    paused: bool,
}

/// One subscriber's connection: what the router queued for it and the connection has not written yet
/// (counted in its gauge, as the driver counts it), then what the client has received and not yet
/// acknowledged.
#[derive(Default)]
struct Subscriber {
    wire: VecDeque<Outbound>,
    to_ack: VecDeque<u16>,
    /// Sequence numbers received, in order.
    got: Vec<u32>,
}

struct Run {
    h: H,
    pubs: Vec<Publisher>,
    subs: Vec<Subscriber>,
    pauses: usize,
    resumes: usize,
    /// The most messages and bytes any subscriber's connection had waiting, and its session queued.
    peak_out: (usize, usize),
    peak_queued: usize,
}

fn pub_conn(i: usize) -> ConnId {
    1 + i as u64
}

fn sub_conn(i: usize) -> ConnId {
    11 + i as u64
}

impl Run {
    /// Applies effects as the driver and the clients would: output counted in the gauge and put on the
    /// subscriber's wire, PUBACKs to publishers, pauses.
    fn apply(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Send(conn, o) => {
                    if let Some(i) = (0..PAIRS).find(|i| sub_conn(*i) == conn) {
                        self.h.gauges[&conn].add(o.weight());
                        self.subs[i].wire.push_back(o);
                    } else if let Some(i) = (0..PAIRS).find(|i| pub_conn(*i) == conn)
                        && let Outbound::Packet(Packet::PubAck(_)) = o
                    {
                        let p = &mut self.pubs[i];
                        p.unacked -= 1;
                        p.acked += 1;
                    }
                }
                Effect::Pause(conn, paused) => {
                    let i = (conn - 1) as usize;
                    assert!(i < PAIRS, "only publishers are paused: {conn}");
                    assert_ne!(self.pubs[i].paused, paused, "pause and resume alternate");
                    self.pubs[i].paused = paused;
                    if paused {
                        self.pauses += 1;
                    } else {
                        self.resumes += 1;
                    }
                }
                Effect::Store(..) | Effect::Event(_) => {}
            }
        }
        for i in 0..PAIRS {
            let (bytes, msgs) = self.h.gauges[&sub_conn(i)].load();
            self.peak_out = (self.peak_out.0.max(msgs), self.peak_out.1.max(bytes));
        }
        for s in self.h.r.session_infos() {
            self.peak_queued = self.peak_queued.max(s.queued);
        }
    }

    fn publish(&mut self, i: usize) {
        let p = &mut self.pubs[i];
        if p.paused || p.unacked >= PUB_WINDOW || p.next >= PER {
            return;
        }
        let seq = p.next;
        p.next += 1;
        p.unacked += 1;
        let id = (seq % 60_000 + 1) as u16;
        let fx = self.h.publish_bytes(
            pub_conn(i),
            &format!("b/{i}"),
            QoS::AtLeastOnce,
            id,
            Bytes::from(seq.to_be_bytes().to_vec()),
        );
        self.apply(fx);
    }

    /// The subscriber's connection writes up to `n` outputs; its client receives them.
    fn write(&mut self, i: usize, n: usize) {
        let gauge = self.h.gauges[&sub_conn(i)].clone();
        let s = &mut self.subs[i];
        for _ in 0..n {
            let Some(o) = s.wire.pop_front() else { break };
            gauge.sub(o.weight());
            if let Outbound::Publish { msg, pid, dup, .. } = o {
                assert!(!dup, "nothing is resent in a burst without reconnects");
                let seq = u32::from_be_bytes(msg.payload[..4].try_into().expect("4 bytes"));
                s.got.push(seq);
                s.to_ack
                    .push_back(pid.expect("QoS 1 has a packet id").get());
            }
        }
    }

    /// The subscriber acknowledges up to `n` of what it received.
    fn ack(&mut self, i: usize, n: usize) {
        for _ in 0..n {
            let Some(id) = self.subs[i].to_ack.pop_front() else {
                break;
            };
            let fx = self.h.on(Input::PubAck {
                conn: sub_conn(i),
                pid: pid(id),
            });
            self.apply(fx);
        }
    }

    fn done(&self) -> bool {
        self.pubs.iter().all(|p| p.acked == PER)
            && self
                .subs
                .iter()
                .all(|s| s.got.len() == PER as usize && s.to_ack.is_empty())
    }
}

/// No QoS 1 message is lost, duplicated or reordered in a 4 → 4 burst of 40,000, with the session queue
/// (64), the window (16) and the connection's output (8 messages) all small enough that publishers are
/// paused and resumed many times and deliveries wait for the connection; meanwhile every bound holds
/// (memory per connection).
#[test]
fn a_4_to_4_burst_of_40k_qos1_loses_nothing_and_stays_within_the_bounds() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.inflight_window = 16;
    cfg.limits.max_queued_per_session = 64;
    cfg.limits.max_outbound_messages = 8;
    let limits = cfg.limits.clone();
    let mut run = Run {
        h: H::new(cfg),
        pubs: (0..PAIRS).map(|_| Publisher::default()).collect(),
        subs: (0..PAIRS).map(|_| Subscriber::default()).collect(),
        pauses: 0,
        resumes: 0,
        peak_out: (0, 0),
        peak_queued: 0,
    };
    for i in 0..PAIRS {
        run.h.login(pub_conn(i), &format!("p{i}"), true);
        run.h.login(sub_conn(i), &format!("s{i}"), true);
        run.h
            .subscribe(sub_conn(i), &format!("b/{i}"), QoS::AtLeastOnce);
    }
    let mut rng = Rng(0x05EE_D0FB_0057);
    let mut steps = 0u64;
    while !run.done() {
        steps += 1;
        assert!(steps < 5_000_000, "the burst did not finish");
        let i = rng.below(PAIRS);
        // Publishing is likelier than draining, so the subscribers fall behind and their publishers are
        // held back; a subscriber writes and acknowledges in batches of random size.
        match rng.below(10) {
            0..=6 => run.publish(i),
            7..=8 => run.write(i, 1 + rng.below(3)),
            _ => run.ack(i, 1 + rng.below(4)),
        }
    }
    for (i, s) in run.subs.iter().enumerate() {
        assert!(
            s.got.iter().copied().eq(0..PER),
            "subscriber {i}: every message once, in order"
        );
    }
    for s in run.h.r.session_infos() {
        assert_eq!((s.dropped, s.inflight, s.queued), (0, 0, 0), "{s:?}");
    }
    assert!(
        run.pauses > 100 && run.resumes == run.pauses,
        "backpressure engaged and released again and again: {} pauses, {} resumes",
        run.pauses,
        run.resumes
    );
    // Memory per connection: QoS 1 output waiting for the connection never passed the window, and a
    // session's queue never passed its high watermark (without the pauses it would have held most of
    // the 10,000).
    assert!(
        run.peak_out.0 <= limits.inflight_window,
        "output waiting peaked at {} messages",
        run.peak_out.0
    );
    assert!(
        run.peak_queued <= limits.max_queued_per_session,
        "a session queue peaked at {}",
        run.peak_queued
    );
}

/// The drops of a burst's last interval are logged by the router's clock, without waiting for another
/// drop or for the client to leave (which could be hours).
#[test]
fn the_last_drops_of_a_burst_are_logged_when_their_interval_ends() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_messages = 1;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    h.gauges[&2].add(10);
    assert_eq!(h.r.next_deadline(), None, "nothing waits for time");
    for _ in 0..5 {
        h.publish(1, "t", QoS::AtMostOnce, 1);
    }
    let unlogged = |h: &H| h.r.sessions["sub"].drops_unlogged.unreported();
    assert_eq!(unlogged(&h), 4, "the first logged at once, four wait");
    let due = h.r.next_deadline().expect("the summary is due later");
    assert_eq!(due, h.now + crate::broker::tally::REPORT_EVERY_MS);
    h.now = due - 1;
    h.on(Input::Tick);
    assert_eq!(unlogged(&h), 4, "not before the interval ends");
    h.now = due;
    h.on(Input::Tick);
    assert_eq!(
        unlogged(&h),
        0,
        "logged by the tick, with no drop after them"
    );
    assert_eq!(h.r.next_deadline(), None, "and nothing more is due");
}

/// QoS 0 to a subscriber that writes slower than it is fed: what waits for its connection stays within
/// the output bound (plus the one delivery of the input that found it full), and everything else is
/// dropped and counted, none silently.
#[test]
fn a_qos0_flood_to_a_slow_connection_stays_within_its_output_bound() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_messages = 50;
    cfg.limits.max_outbound_bytes = 64 * 1024;
    let limits = cfg.limits.clone();
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    let gauge = h.gauges[&2].clone();
    let mut wire: VecDeque<Outbound> = VecDeque::new();
    let (mut delivered, mut peak) = (0u64, (0usize, 0usize));
    let mut rng = Rng(42);
    for n in 0..10_000u32 {
        let fx = h.publish_bytes(
            1,
            "t",
            QoS::AtMostOnce,
            1,
            Bytes::from(vec![b'x'; 100 + n as usize % 900]),
        );
        for e in fx {
            if let Effect::Send(2, o) = e {
                gauge.add(o.weight());
                wire.push_back(o);
            }
        }
        let (bytes, msgs) = gauge.load();
        peak = (peak.0.max(msgs), peak.1.max(bytes));
        // The connection writes one for every three published, on average.
        if rng.below(3) == 0
            && let Some(o) = wire.pop_front()
        {
            gauge.sub(o.weight());
            delivered += 1;
        }
    }
    delivered += wire.len() as u64;
    let info = &h.r.session_infos()[1];
    assert!(
        peak.0 <= limits.max_outbound_messages + 1 && peak.1 <= limits.max_outbound_bytes + 1024,
        "output waiting peaked at {peak:?}"
    );
    assert!(info.dropped_qos0 > 5_000, "{info:?}");
    assert_eq!(
        delivered + info.dropped_qos0,
        10_000,
        "every message delivered or counted"
    );
}

/// Every QoS 0 delivery dropped at a full connection is counted for the Overview, whatever delivered it:
/// here a retained message sent on SUBSCRIBE, beside routing.
#[test]
fn qos0_drops_are_counted_in_the_metrics_whatever_delivered_them() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_messages = 1;
    let mut h = H::new(cfg);
    h.login(1, "pub", true);
    h.login(2, "sub", true);
    h.publish_retained(1, "r", Bytes::from_static(b"kept"), 1);
    h.gauges[&2].add(10);
    h.subscribe(2, "r", QoS::AtMostOnce);
    h.publish(1, "r", QoS::AtMostOnce, 2);
    assert_eq!(h.r.session_infos()[1].dropped_qos0, 2);
    assert_eq!(
        metric_dropped(&h),
        2,
        "the retained one on SUBSCRIBE and the routed one"
    );
}

/// The Overview's count of QoS 0 drops (`Metrics::qos0_dropped`).
fn metric_dropped(h: &H) -> u64 {
    h.r.metrics
        .qos0_dropped
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// A request that delivers outside an input (HTTP push) reports its drops the same way once the driver
/// settles it: counted, and their summary scheduled.
#[test]
fn drops_of_an_http_push_are_counted_and_their_summary_scheduled() {
    let mut cfg = config(Profile::Mqtt);
    cfg.limits.max_outbound_messages = 1;
    let mut h = H::new(cfg);
    h.login(2, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    h.gauges[&2].add(10);
    let topic = crate::mqtt::TopicName::new("t").unwrap();
    for _ in 0..3 {
        h.r.at(h.now)
            .push("", topic.clone(), Bytes::from_static(b"p"));
    }
    h.r.settle();
    assert_eq!(metric_dropped(&h), 3);
    assert_eq!(
        h.r.next_deadline(),
        Some(h.now + crate::broker::tally::REPORT_EVERY_MS),
        "the two not logged at once are due"
    );
}
