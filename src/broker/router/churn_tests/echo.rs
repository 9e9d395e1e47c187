//! The churn's client fed by itself: publisher `ECHO_PUB` and subscriber `ECHO_SUB` are one client ("s4")
//! on one connection with one persistent session, publishing to the topic it subscribes to. A full own
//! session holds its reading back; what its connection still reads while held, as the real one does, is
//! its acknowledgements of what it receives (`connection::read::take_acks`), so it can drain that session:
//! in the model, its subscriber side writes and acknowledges whatever the pause, and its publisher side
//! sends nothing (no PUBLISH, no PUBREL) until resumed.

use super::{Churn, Publisher};
use crate::broker::message::{Ending, Input, Outbound};
use crate::mqtt::Packet;

/// The echo client's publisher (topic `t/3`) and subscriber (filter `t/3`) sides.
pub(super) const ECHO_PUB: usize = 3;
pub(super) const ECHO_SUB: usize = 4;

impl Churn {
    /// Logs the echo client in on a new connection (a takeover when it is connected): both sides move to
    /// it, what the old one had not written or answered goes with it.
    pub(super) fn connect_echo(&mut self) {
        let conn = self.conn();
        // Both sides name the connection before the login: a hold carried over pauses it at once.
        self.pubs[ECHO_PUB] = Publisher {
            conn: Some(conn),
            ..Publisher::default()
        };
        let s = &mut self.subs[ECHO_SUB];
        s.conn = Some(conn);
        s.lose_connection();
        self.reconnects += 1;
        let fx = self.h.login(conn, &format!("s{ECHO_SUB}"), false);
        self.apply(fx);
    }

    /// The echo client's connection ends: both sides.
    pub(super) fn end_echo(&mut self, ending: Ending) {
        self.pubs[ECHO_PUB] = Publisher::default();
        let Some(conn) = self.subs[ECHO_SUB].conn.take() else {
            return;
        };
        self.subs[ECHO_SUB].lose_connection();
        self.on(Input::Closed { conn, ending });
    }

    /// What the echo client's connection writes for its publisher side: the broker's answers to its
    /// PUBLISHes, which share the socket (and the output's order) with its deliveries. True when `o`
    /// was one.
    pub(super) fn echo_answer(&mut self, o: &Outbound) -> bool {
        let p = &mut self.pubs[ECHO_PUB];
        match o {
            Outbound::Packet(Packet::PubAck(_) | Packet::PubComp(_)) => p.unacked -= 1,
            Outbound::Packet(Packet::PubRec(id)) => p.rels.push_back(id.get()),
            _ => return false,
        }
        true
    }
}
