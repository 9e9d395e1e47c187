//! The churn's checks of the router's state: bounds during a run, and the drain that ends one.

use super::{Churn, PUBS};

impl Churn {
    /// Every session's window and queue within their bounds.
    pub(super) fn check_bounds(&self) {
        for s in self.h.r.session_infos() {
            assert!(s.inflight <= self.window, "window passed: {s:?}");
            // Publishers are held at the queue's high watermark; what they had sent before that (one
            // publish each, as the model sends one at a time) may still arrive.
            assert!(
                s.queued <= self.max_queued + PUBS,
                "queue passed its bound: {s:?}"
            );
        }
    }

    /// Everyone back online, publishers quiet, subscribers read and acknowledge everything.
    pub(super) fn drain(&mut self) {
        for j in 0..self.subs.len() {
            if self.subs[j].conn.is_none() {
                self.connect_sub(j);
            }
        }
        for _ in 0..100_000 {
            self.end_closing();
            for j in 0..self.subs.len() {
                if self.subs[j].conn.is_none() {
                    self.connect_sub(j);
                }
                self.write(j, usize::MAX);
                self.ack(j, usize::MAX);
            }
            let idle = self.closing.is_empty()
                && self.subs.iter().all(|s| {
                    s.conn.is_some()
                        && s.wire.is_empty()
                        && s.replies.is_empty()
                        && s.received.is_empty()
                })
                && self
                    .h
                    .r
                    .session_infos()
                    .iter()
                    .all(|s| s.inflight == 0 && s.queued == 0);
            if idle {
                return;
            }
        }
        panic!("the subscribers never drained");
    }
}
