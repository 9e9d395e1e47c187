//! The holds' cases step by step, in virtual time (`router/holds`): a held publisher that reconnects,
//! and a full session replaced by a clean login. The churn tests (`churn_tests.rs`) found both.

use super::flow_tests::{pauses, pub_sub, small};
use super::tests::{H, pid};
use crate::broker::message::{Ending, Input};
use crate::mqtt::QoS;

/// A held publisher that reconnects is held again on its new connection at once (after a disconnect and on
/// a takeover alike), before it reads anything: reconnecting in a loop cannot add a message to a full
/// session with each new connection (its queue grew by one per connection before). The last connection
/// is let go when the session drains, as the first would have been, and no hold is left behind.
#[test]
fn a_held_publisher_that_reconnects_is_held_again_at_once() {
    let mut h = small();
    for i in 1..=5u16 {
        h.publish(1, "t", QoS::AtLeastOnce, i);
    }
    let queued = |h: &H| {
        h.r.session_infos()
            .into_iter()
            .find(|s| s.client_id == "sub")
            .map(|s| s.queued)
            .unwrap()
    };
    assert_eq!(queued(&h), 4, "at the high watermark, the publisher held");
    let mut conn = 1;
    for round in 0..20u64 {
        // Half the rounds a disconnect then a login, half a takeover (the login closes the old one).
        if round % 2 == 0 {
            h.close(conn, Ending::Graceful);
        }
        let old = conn;
        conn = 100 + round;
        let fx = h.login(conn, "pub", true);
        assert_eq!(pauses(&fx), vec![(conn, true)], "held again at login");
        if round % 2 == 1 {
            h.close(old, Ending::ClosedByBroker);
        }
    }
    assert_eq!(queued(&h), 4, "nothing more was read");
    let mut resumed = Vec::new();
    for n in 1..=5u16 {
        resumed.extend(pauses(&h.on(Input::PubAck {
            conn: 2,
            pid: pid(n),
        })));
    }
    assert_eq!(resumed, vec![(conn, false)], "the last connection let go");
    assert!(h.r.holds.is_empty(), "no hold left behind");
}

/// A full subscriber whose session is replaced (it logs in again with a clean session, which also takes
/// its connection over) lets go of the publishers it held: its queue is gone with it. Before, they stayed
/// held until they disconnected.
#[test]
fn a_replaced_session_lets_go_of_the_publishers_it_held() {
    for clean_before in [true, false] {
        let mut h = pub_sub(!clean_before, |l| {
            l.inflight_window = 1;
            l.max_queued_per_session = 4;
        });
        let mut held = Vec::new();
        for i in 1..=5u16 {
            held.extend(pauses(&h.publish(1, "t", QoS::AtLeastOnce, i)));
        }
        assert_eq!(held, vec![(1, true)]);
        let fx = h.login(3, "sub", true);
        assert_eq!(pauses(&fx), vec![(1, false)], "let go at the clean login");
        assert!(h.r.holds.is_empty());
    }
}

/// A client that subscribes to what it publishes, held back by its own full session, is not held on its
/// next connection: held, it could not read the acknowledgements that would drain its own queue. (Held on
/// one connection, it waits for `ack_timeout`, as before.)
#[test]
fn a_hold_by_the_clients_own_session_is_not_carried_over() {
    let mut cfg = super::tests::config(crate::config::Profile::Mqtt);
    cfg.limits.inflight_window = 1;
    cfg.limits.max_queued_per_session = 4;
    let mut h = H::new(cfg);
    h.login(1, "echo", false);
    h.subscribe(1, "t", QoS::AtLeastOnce);
    let mut held = Vec::new();
    for i in 1..=5u16 {
        held.extend(pauses(&h.publish(1, "t", QoS::AtLeastOnce, i)));
    }
    assert_eq!(held, vec![(1, true)], "held by its own session");
    let fx = h.login(2, "echo", false);
    assert!(pauses(&fx).is_empty(), "not held again: {:?}", pauses(&fx));
    h.close(1, Ending::ClosedByBroker);
    // It reads, and acknowledges what it is sent: its queue drains.
    for n in 1..=5u16 {
        h.on(Input::PubAck {
            conn: 2,
            pid: pid(n),
        });
    }
    let s = &h.r.session_infos()[0];
    assert_eq!((s.inflight, s.queued, s.held_back), (0, 0, 0), "{s:?}");
    assert!(h.r.holds.is_empty());
}
