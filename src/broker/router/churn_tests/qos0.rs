//! QoS 0 in the churn: publishers send QoS 0 messages among their QoS 1/2 ones, delivered at QoS 0 whatever
//! the subscription. They take no part in flow control: no publisher waits for them and none is held
//! back by them; one for a connection whose output is at its bound is dropped and counted
//! (`dropped_qos0`, part of `dropped`); an offline session keeps them only in `onenet`, where it keeps
//! every message (spec §9); and one not yet written when its connection goes is gone, as at most once
//! allows (counted by the model, `Subscriber::lost0`). The run's checks then hold for them too: each is
//! received once, dropped, or gone with its connection.

use bytes::Bytes;

use super::{Churn, Subscriber, feeds};
use crate::broker::message::Outbound;
use crate::mqtt::{Pid, QoS};

impl Subscriber {
    /// The connection went: its unwritten output and the client's unsent answers go with it. The
    /// session sends its QoS 1/2 messages again; the QoS 0 ones among the output are lost.
    pub(super) fn lose_connection(&mut self) {
        self.lost0 += self
            .wire
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Outbound::Publish {
                        qos: QoS::AtMostOnce,
                        ..
                    }
                )
            })
            .count() as u64;
        self.wire.clear();
        self.replies.clear();
    }
}

impl Churn {
    /// Publisher `i` sends a QoS 0 message (nothing while held: its connection reads nothing then). It
    /// is owed to each subscriber of its topic that is online, or that keeps it offline (`onenet`).
    pub(super) fn publish0(&mut self, i: usize) {
        let p = &self.pubs[i];
        let Some(conn) = p.conn else { return };
        if p.paused {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let onenet = self.h.r.onenet();
        for (j, s) in self.subs.iter_mut().enumerate() {
            s.owed +=
                u64::from(feeds(i, j, onenet) && s.subscribed && (s.conn.is_some() || onenet));
        }
        let fx = self.h.publish_bytes(
            conn,
            &format!("t/{i}"),
            QoS::AtMostOnce,
            1,
            Bytes::from(seq.to_be_bytes().to_vec()),
        );
        self.apply(fx);
    }

    /// Subscriber `j`'s client receives QoS 0 message `seq`: delivered, once, and not acknowledged.
    pub(super) fn received0(&mut self, j: usize, seq: u64, pid: Option<Pid>) {
        assert_eq!(
            pid, None,
            "subscriber {j}: QoS 0 message {seq} with a packet id"
        );
        let s = &mut self.subs[j];
        assert!(
            s.delivered.insert(seq),
            "subscriber {j}: QoS 0 message {seq} delivered twice"
        );
        self.got0 += 1;
    }
}
