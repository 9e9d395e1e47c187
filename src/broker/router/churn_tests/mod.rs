//! Flow control under churn, in virtual time. Three publishers and four persistent QoS 1 subscribers (one
//! of them fed by every publisher through a wildcard, so each publisher feeds two sessions), and a client
//! that publishes to what it subscribes to (publisher 3 and subscriber 4 on one connection and session,
//! `echo.rs`: its own session, and in `mqtt` the wildcard's, hold it back), with bounds
//! small enough that backpressure engages again and again, and a seeded random mix of publishing,
//! writing, acknowledging, disconnecting, reconnecting, taking over, starting afresh with a clean session,
//! unsubscribing and subscribing again,
//! and the clock running past the acknowledgement timeout, in both profiles, with QoS 0 messages among
//! the others (`qos0.rs`). Whatever the order:
//!
//! * pause and resume alternate for each connection, and only live publishers are paused;
//! * a client held back by its own session drains it: its acknowledgements are still read while held
//!   (`connection::read::take_acks`), only its PUBLISHes and PUBRELs wait;
//! * once the subscribers have drained, no publisher is held back and the router keeps no hold;
//! * every message routed to a subscriber is delivered to it or counted as dropped, never lost silently
//!   (a QoS 0 message may also go with the connection it was not yet written to: at most once);
//! * at QoS 2 (publishers and subscribers), no message reaches a subscriber's application twice, and none
//!   is swallowed as a resend of a packet id the client still holds;
//! * a session's window and queue stay within their bounds.
//!
//! The queue bound is what found a held publisher's reconnection adding a read to a full queue with each
//! new connection, and the drain what found a session replaced by a clean login leaving its publishers
//! held (`router/holds`); `holds_tests.rs` takes those cases step by step.

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::Bytes;

use super::Effect;
use super::burst_tests::Rng;
use super::tests::{H, config, pid};

mod drain;
mod echo;
mod qos0;
use crate::broker::message::{ConnId, Ending, Input, Outbound};
use crate::config::Profile;
use crate::mqtt::{Packet, QoS, TopicFilter};
use echo::{ECHO_PUB, ECHO_SUB};

const PUBS: usize = 4;
/// Subscriber `j`'s filter: publisher 0's topic, publisher 1's, every publisher's, publisher 2's, and the
/// echo client's own (publisher 3's).
const FILTERS: [&str; 5] = ["t/0", "t/1", "t/+", "t/2", "t/3"];
/// Unacknowledged PUBLISHes a publisher keeps going.
const PUB_WINDOW: usize = 16;

/// Whether subscriber `j` is owed what publisher `i` publishes (OneNET's wildcard subscriber takes the
/// first three publishers' topics by name).
fn feeds(i: usize, j: usize, onenet: bool) -> bool {
    match (i, j) {
        (3, 2) => !onenet,
        (_, 2) | (0, 0) | (1, 1) | (2, 3) | (3, 4) => true,
        _ => false,
    }
}

#[derive(Default)]
struct Publisher {
    conn: Option<ConnId>,
    unacked: usize,
    paused: bool,
    /// QoS 2: PUBRELs owed for the PUBRECs received, sent before anything new.
    rels: VecDeque<u16>,
}

/// What a subscriber's client sends back, in order.
enum Reply {
    /// PUBACK of a QoS 1 message (its number).
    Ack(u16, u64),
    Rec(u16),
    Comp(u16),
}

#[derive(Default)]
struct Subscriber {
    conn: Option<ConnId>,
    /// What the router queued for the connection and it has not written yet.
    wire: VecDeque<Outbound>,
    /// What the client has to answer, not sent yet (lost with the connection).
    replies: VecDeque<Reply>,
    /// QoS 2: packet ids received and not yet released, with their message: the client's session state,
    /// kept across connections; a PUBLISH with one of these ids is a resend, not a new message.
    received: HashMap<u16, u64>,
    /// Message numbers delivered: at QoS 1 acknowledged (a redelivery may repeat one; what the client
    /// received and never acknowledged may be dropped later, counted, as OneNET keeps the latest 10 at
    /// login), at QoS 2 given to the application, once. Delivered and dropped are what the broker answers
    /// for.
    delivered: BTreeSet<u64>,
    /// Messages routed to its session.
    owed: u64,
    /// QoS 0 messages that went with a connection before it wrote them.
    lost0: u64,
    subscribed: bool,
}

struct Churn {
    h: H,
    pubs: Vec<Publisher>,
    subs: Vec<Subscriber>,
    next_conn: ConnId,
    next_seq: u64,
    /// Connections the router asked to close, which end (report `Closed`) at the next step.
    closing: VecDeque<ConnId>,
    pauses: usize,
    /// Of them, the echo client's.
    echo_pauses: usize,
    reconnects: usize,
    window: usize,
    max_queued: usize,
    /// Every publish and subscription at this QoS (1 or 2).
    qos: QoS,
    /// Messages delivered to sessions that a clean login ended since (for the totals only).
    delivered_before_restarts: u64,
    /// QoS 0 messages received, by every subscriber in every session (for the totals only).
    got0: u64,
}

impl Churn {
    fn new(profile: Profile, qos: QoS, window: usize, max_queued: usize) -> Churn {
        let mut cfg = config(profile);
        cfg.limits.inflight_window = window;
        cfg.limits.max_queued_per_session = max_queued;
        cfg.limits.max_outbound_messages = 4;
        let mut c = Churn {
            h: H::new(cfg),
            pubs: (0..PUBS).map(|_| Publisher::default()).collect(),
            subs: (0..FILTERS.len()).map(|_| Subscriber::default()).collect(),
            next_conn: 1,
            next_seq: 0,
            closing: VecDeque::new(),
            pauses: 0,
            echo_pauses: 0,
            reconnects: 0,
            window,
            max_queued,
            qos,
            delivered_before_restarts: 0,
            got0: 0,
        };
        for i in 0..PUBS {
            c.connect_pub(i);
        }
        for j in 0..FILTERS.len() {
            c.connect_sub(j);
            c.subscribe(j);
        }
        c
    }

    /// Subscriber `j`'s filters: `FILTERS[j]`, where OneNET (exact topics only) takes every publisher's
    /// topic for the wildcard.
    fn filters(&self, j: usize) -> Vec<TopicFilter> {
        let all = ["t/0", "t/1", "t/2"];
        let f: &[&str] = if FILTERS[j] == "t/+" && self.h.r.onenet() {
            &all
        } else {
            std::slice::from_ref(&FILTERS[j])
        };
        f.iter()
            .map(|f| TopicFilter::new(*f).expect("filter"))
            .collect()
    }

    fn subscribe(&mut self, j: usize) {
        let Some(conn) = self.subs[j].conn else {
            return;
        };
        let filters = self.filters(j).into_iter().map(|f| (f, self.qos)).collect();
        self.on(Input::Subscribe {
            conn,
            pid: pid(1),
            filters,
        });
        self.subs[j].subscribed = true;
    }

    /// What was routed to it before stays owed (queued and in flight go on); nothing after.
    fn unsubscribe(&mut self, j: usize) {
        let Some(conn) = self.subs[j].conn else {
            return;
        };
        let filters = self.filters(j);
        self.on(Input::Unsubscribe {
            conn,
            pid: pid(1),
            filters,
        });
        self.subs[j].subscribed = false;
    }

    fn conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    /// Applies effects as the driver, the connections and the clients would.
    fn apply(&mut self, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Send(conn, o) => {
                    if let Some(s) = self.subs.iter_mut().find(|s| s.conn == Some(conn)) {
                        self.h.gauges[&conn].add(o.weight());
                        s.wire.push_back(o);
                    } else if let Some(p) = self.pubs.iter_mut().find(|p| p.conn == Some(conn)) {
                        match o {
                            Outbound::Packet(Packet::PubAck(_) | Packet::PubComp(_)) => {
                                p.unacked -= 1
                            }
                            Outbound::Packet(Packet::PubRec(id)) => p.rels.push_back(id.get()),
                            Outbound::Close(_) => self.closing.push_back(conn),
                            _ => {}
                        }
                    } else if let Outbound::Close(_) = o {
                        // A connection already replaced (takeover): it ends as the router asked.
                        self.closing.push_back(conn);
                    }
                }
                Effect::Pause(conn, paused) => {
                    self.echo_pauses +=
                        usize::from(paused && self.pubs[ECHO_PUB].conn == Some(conn));
                    let p = self
                        .pubs
                        .iter_mut()
                        .find(|p| p.conn == Some(conn))
                        .unwrap_or_else(|| {
                            panic!("{conn} paused ({paused}) but not a live publisher")
                        });
                    assert_ne!(p.paused, paused, "pause and resume alternate for {conn}");
                    p.paused = paused;
                    self.pauses += usize::from(paused);
                }
                Effect::Store(..) | Effect::Event(_) => {}
            }
        }
    }

    fn on(&mut self, input: Input) {
        let fx = self.h.on(input);
        self.apply(fx);
    }

    fn connect_pub(&mut self, i: usize) {
        if i == ECHO_PUB {
            return self.connect_echo();
        }
        let conn = self.conn();
        self.pubs[i] = Publisher {
            conn: Some(conn),
            ..Publisher::default()
        };
        let fx = self.h.login(conn, &format!("p{i}"), true);
        self.apply(fx);
    }

    /// Logs subscriber `j` in on a new connection (a takeover when it is still connected: the old
    /// connection's unwritten output and the client's unacknowledged messages go with it, and the
    /// persistent session sends them again).
    fn connect_sub(&mut self, j: usize) {
        if j == ECHO_SUB {
            return self.connect_echo();
        }
        let conn = self.conn();
        let s = &mut self.subs[j];
        s.conn = Some(conn);
        s.lose_connection();
        self.reconnects += 1;
        let fx = self.h.login(conn, &format!("s{j}"), false);
        self.apply(fx);
    }

    /// Subscriber `j`'s client starts afresh: a clean login (taking its connection over, if it has one)
    /// ends its session and all it held, then a persistent login and its subscriptions again. Nothing
    /// routed before is owed any more, and the client forgets what it held too.
    fn restart_sub(&mut self, j: usize) {
        let conn = self.conn();
        self.delivered_before_restarts += self.subs[j].delivered.len() as u64;
        let s = &mut self.subs[j];
        *s = Subscriber {
            conn: Some(conn),
            ..Subscriber::default()
        };
        if j == ECHO_SUB {
            self.pubs[ECHO_PUB] = Publisher {
                conn: Some(conn),
                ..Publisher::default()
            };
        }
        let fx = self.h.login(conn, &format!("s{j}"), true);
        self.apply(fx);
        self.connect_sub(j);
        self.subscribe(j);
    }

    fn disconnect_sub(&mut self, j: usize, ending: Ending) {
        if j == ECHO_SUB {
            return self.end_echo(ending);
        }
        let Some(conn) = self.subs[j].conn.take() else {
            return;
        };
        self.subs[j].lose_connection();
        self.on(Input::Closed { conn, ending });
    }

    fn disconnect_pub(&mut self, i: usize) {
        if i == ECHO_PUB {
            return self.end_echo(Ending::Graceful);
        }
        if let Some(conn) = self.pubs[i].conn.take() {
            self.pubs[i] = Publisher::default();
            self.on(Input::Closed {
                conn,
                ending: Ending::Graceful,
            });
        }
    }

    /// Connections the router closed report their end.
    fn end_closing(&mut self) {
        while let Some(conn) = self.closing.pop_front() {
            // (The echo client's connection is found as its subscriber side: both sides end.)
            if let Some(j) = self.subs.iter().position(|s| s.conn == Some(conn)) {
                self.disconnect_sub(j, Ending::ClosedByBroker);
            } else if let Some(i) = self.pubs.iter().position(|p| p.conn == Some(conn)) {
                self.pubs[i] = Publisher::default();
                self.on(Input::Closed {
                    conn,
                    ending: Ending::ClosedByBroker,
                });
            } else {
                self.on(Input::Closed {
                    conn,
                    ending: Ending::ClosedByBroker,
                });
            }
        }
    }

    /// Publisher `i` sends its next packet: a PUBREL it owes, or a new message. At QoS 2 the broker routes
    /// the message when the PUBREL comes (so it is owed to the subscribers from then on).
    fn publish(&mut self, i: usize) {
        let p = &mut self.pubs[i];
        let Some(conn) = p.conn else { return };
        if p.paused {
            return;
        }
        if let Some(id) = p.rels.pop_front() {
            self.owe(i);
            self.on(Input::PubRel { conn, pid: pid(id) });
            return;
        }
        if p.unacked >= PUB_WINDOW {
            return;
        }
        p.unacked += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.qos == QoS::AtLeastOnce {
            self.owe(i);
        }
        let fx = self.h.publish_bytes(
            conn,
            &format!("t/{i}"),
            self.qos,
            (seq % 60_000 + 1) as u16,
            Bytes::from(seq.to_be_bytes().to_vec()),
        );
        self.apply(fx);
    }

    /// A message of publisher `i` is routed: owed to every subscriber of its topic.
    fn owe(&mut self, i: usize) {
        let onenet = self.h.r.onenet();
        for (j, s) in self.subs.iter_mut().enumerate() {
            s.owed += u64::from(feeds(i, j, onenet) && s.subscribed);
        }
    }

    /// Subscriber `j`'s connection writes up to `n` outputs and its client receives them.
    fn write(&mut self, j: usize, n: usize) {
        let Some(conn) = self.subs[j].conn else {
            return;
        };
        for _ in 0..n {
            let Some(o) = self.subs[j].wire.pop_front() else {
                break;
            };
            self.h.gauges[&conn].sub(o.weight());
            if j == ECHO_SUB && self.echo_answer(&o) {
                continue;
            }
            match o {
                Outbound::Publish { msg, pid, qos, .. } => {
                    let seq = u64::from_be_bytes(msg.payload[..8].try_into().expect("8 bytes"));
                    if qos == QoS::AtMostOnce {
                        self.received0(j, seq, pid);
                        continue;
                    }
                    let id = pid.expect("QoS 1 and 2 have a packet id").get();
                    let s = &mut self.subs[j];
                    if qos == QoS::AtLeastOnce {
                        s.replies.push_back(Reply::Ack(id, seq));
                        continue;
                    }
                    match s.received.get(&id) {
                        // A resend of what the client holds: answered again, not delivered again.
                        Some(&held) => assert_eq!(
                            held, seq,
                            "subscriber {j}: packet id {id} reused while the client holds it: message {seq} lost"
                        ),
                        None => {
                            assert!(
                                s.delivered.insert(seq),
                                "subscriber {j}: message {seq} delivered twice"
                            );
                            s.received.insert(id, seq);
                        }
                    }
                    s.replies.push_back(Reply::Rec(id));
                }
                Outbound::Packet(Packet::PubRel(id)) => {
                    let s = &mut self.subs[j];
                    s.received.remove(&id.get());
                    s.replies.push_back(Reply::Comp(id.get()));
                }
                Outbound::Close(_) => {
                    self.closing.push_back(conn);
                    break;
                }
                _ => {}
            }
        }
    }

    /// Subscriber `j`'s client sends up to `n` of its answers (the echo client's too while it is held: its
    /// connection reads acknowledgements whatever the pause).
    fn ack(&mut self, j: usize, n: usize) {
        let Some(conn) = self.subs[j].conn else {
            return;
        };
        for _ in 0..n {
            let Some(r) = self.subs[j].replies.pop_front() else {
                break;
            };
            let input = match r {
                Reply::Ack(id, seq) => {
                    self.subs[j].delivered.insert(seq);
                    Input::PubAck { conn, pid: pid(id) }
                }
                Reply::Rec(id) => Input::PubRec { conn, pid: pid(id) },
                Reply::Comp(id) => Input::PubComp { conn, pid: pid(id) },
            };
            self.on(input);
        }
    }
}

/// One seeded run of `steps` random steps, then the drain and the checks.
fn run(profile: Profile, qos: QoS, seed: u64, steps: usize) -> Churn {
    let mut c = Churn::new(profile, qos, 4, 8);
    let mut rng = Rng(seed);
    let ack_timeout = c.h.r.cfg.limits.ack_timeout.as_millis() as usize;
    for step in 0..steps {
        c.end_closing();
        let j = rng.below(FILTERS.len());
        let i = rng.below(PUBS);
        match rng.below(1000) {
            0..400 => c.publish(i),
            400..480 => c.publish0(i),
            480..680 => c.write(j, 1 + rng.below(4)),
            680..880 => c.ack(j, 1 + rng.below(4)),
            880..895 => c.disconnect_sub(j, Ending::Abnormal("reset".into())),
            895..960 => {
                if c.subs[j].conn.is_none() {
                    c.connect_sub(j);
                }
            }
            960..964 => c.connect_sub(j),
            964..968 => c.restart_sub(j),
            968..972 => c.disconnect_pub(i),
            // A publisher logs in again on a new connection: a takeover when it is connected.
            972..976 => c.connect_pub(i),
            976..986 => {
                if c.pubs[i].conn.is_none() {
                    c.connect_pub(i);
                }
            }
            986..988 => c.unsubscribe(j),
            988..990 => {
                if !c.subs[j].subscribed {
                    c.subscribe(j);
                }
            }
            _ => {
                // The clock runs, sometimes past the acknowledgement timeout: the router closes the
                // connections whose oldest delivery waited that long.
                c.h.now += 1 + rng.below(ack_timeout / 4) as i64;
                c.on(Input::Tick);
            }
        }
        if step % 64 == 0 {
            c.check_bounds();
        }
    }
    c.drain();
    c
}

/// Runs `seeds` seeded runs (`profile` of each seed) at `qos` and checks what every run must end with;
/// returns the totals (pauses, reconnections, delivered, dropped) so a test can check the mix did its job.
fn check_runs(seeds: u64, qos: QoS, profile: impl Fn(u64) -> Profile) -> (usize, usize, u64, u64) {
    let (mut pauses, mut reconnects, mut dropped, mut delivered) = (0, 0, 0, 0);
    let (mut echo_pauses, mut echo_delivered) = (0, 0);
    let (mut got0, mut dropped0) = (0, 0);
    for seed in 1..=seeds {
        let c = run(
            profile(seed),
            qos,
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            25_000,
        );
        for p in &c.pubs {
            assert!(!p.paused, "seed {seed}: a publisher is still held back");
        }
        assert!(
            c.h.r.holds.is_empty(),
            "seed {seed}: the router keeps holds"
        );
        let infos = c.h.r.session_infos();
        for (j, s) in c.subs.iter().enumerate() {
            let info = infos
                .iter()
                .find(|x| x.client_id == format!("s{j}"))
                .expect("a persistent session");
            assert_eq!(
                s.delivered.len() as u64 + info.dropped + s.lost0,
                s.owed,
                "seed {seed}, subscriber {j}: {} delivered, {} dropped and {} QoS 0 gone with their \
                 connection of {} routed to it",
                s.delivered.len(),
                info.dropped,
                s.lost0,
                s.owed
            );
            dropped += info.dropped;
            dropped0 += info.dropped_qos0;
            delivered += s.delivered.len() as u64;
        }
        pauses += c.pauses;
        echo_pauses += c.echo_pauses;
        echo_delivered += c.subs[ECHO_SUB].delivered.len();
        reconnects += c.reconnects;
        got0 += c.got0;
        delivered += c.delivered_before_restarts;
    }
    // The mix did what it is for: holds, reconnections, and both deliveries and offline drops.
    assert!(pauses > 100, "{pauses} pauses");
    assert!(
        echo_pauses > 10 && echo_delivered > 50,
        "the echo client: {echo_pauses} pauses, {echo_delivered} delivered"
    );
    assert!(reconnects > 100, "{reconnects} reconnections");
    assert!(
        got0 > 100 * seeds && dropped0 > 0,
        "QoS 0: {got0} received, {dropped0} dropped at a full connection"
    );
    assert!(
        delivered > 1_000 * seeds && dropped > 0,
        "{delivered} delivered, {dropped} dropped"
    );
    (pauses, reconnects, delivered, dropped)
}

#[test]
fn under_churn_no_publisher_stays_held_and_no_message_is_lost_silently() {
    // Half in each profile: `mqtt` keeps QoS 1/2 for offline sessions up to the queue's bound, `onenet`
    // keeps every message and replays the latest 10 at login (spec §9).
    check_runs(16, QoS::AtLeastOnce, |seed| {
        if seed % 2 == 0 {
            Profile::OneNet
        } else {
            Profile::Mqtt
        }
    });
}

/// QoS 2 both ways (`mqtt`): the broker forwards a publisher's message at its PUBREL, and a subscriber's
/// client keeps the packet ids it has received until their PUBREL, across connections. No message reaches
/// the application twice, none is swallowed as a resend because its packet id was reused too early, and
/// every one routed is delivered or counted dropped.
#[test]
fn under_churn_qos2_is_delivered_exactly_once() {
    check_runs(8, QoS::ExactlyOnce, |_| Profile::Mqtt);
}
