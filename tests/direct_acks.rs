//! PUBACKs the router writes straight to an idle publisher's socket (`Outbox::write_direct`) keep MQTT's
//! order (§4.6: PUBACKs in the order of the PUBLISHes) when they mix with output the publisher's
//! connection writes itself: deliveries from another client, and PINGRESPs.

mod common;

use onenet_desk::config::Profile;
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::start;

use common::{Raw, config, connect_packet, publish, subscribe};

async fn client(addr: std::net::SocketAddr, id: &str, filter: &str) -> Raw {
    let (mut c, ack) = Raw::login(addr, &connect_packet(id, None, None, true, 60)).await;
    assert!(matches!(ack, Packet::ConnAck(_)), "{ack:?}");
    c.send(&subscribe(1, &[(filter, QoS::AtLeastOnce)])).await;
    assert!(matches!(c.recv().await, Packet::SubAck(_)));
    c
}

/// What one client has received so far.
#[derive(Default)]
struct Seen {
    acks: Vec<u16>,
    msgs: Vec<String>,
    pongs: usize,
}

/// Reads `c` until it has `n` PUBACKs and `n` deliveries, acknowledging the deliveries.
async fn read_until(c: &mut Raw, seen: &mut Seen, n: usize) {
    while seen.acks.len() < n || seen.msgs.len() < n {
        match c.recv().await {
            Packet::PubAck(p) => seen.acks.push(p.get()),
            Packet::Publish(p) => {
                let id = p.qos_pid.pid().expect("a QoS 1 delivery");
                seen.msgs
                    .push(String::from_utf8(p.payload.to_vec()).unwrap());
                c.send(&Packet::PubAck(id)).await;
            }
            Packet::PingResp => seen.pongs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Two clients publish QoS 1 to each other's subscription, 300 messages each, one at a time (the
/// router idle between them: PUBACKs go straight to the socket) and in bursts of 10 (PUBACKs then
/// also go through the queue), A with a PINGREQ after each round: every PUBACK comes once and in
/// order, every delivery once and in order, one PINGRESP per PINGREQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubacks_keep_their_order_among_deliveries_and_pingresps() {
    const N: u16 = 300;
    let dir = tempfile::tempdir().unwrap();
    let h = start(config(dir.path(), Profile::Mqtt)).await.unwrap();
    let mut a = client(h.mqtt_addr(), "a", "to-a/#").await;
    let mut b = client(h.mqtt_addr(), "b", "to-b/#").await;
    let (mut seen_a, mut seen_b, mut pings) = (Seen::default(), Seen::default(), 0);
    let mut next = 1u16;
    while next <= N {
        let burst = if next % 50 < 10 { 10 } else { 1 };
        for _ in 0..burst.min(N + 1 - next) {
            let (to_b, to_a) = (format!("a{next}"), format!("b{next}"));
            a.send(&publish(
                "to-b/x",
                to_b.as_bytes(),
                QoS::AtLeastOnce,
                next,
                false,
            ))
            .await;
            b.send(&publish(
                "to-a/x",
                to_a.as_bytes(),
                QoS::AtLeastOnce,
                next,
                false,
            ))
            .await;
            next += 1;
        }
        a.send(&Packet::PingReq).await;
        pings += 1;
        read_until(&mut a, &mut seen_a, usize::from(next - 1)).await;
        read_until(&mut b, &mut seen_b, usize::from(next - 1)).await;
    }
    while seen_a.pongs < pings {
        assert_eq!(a.recv().await, Packet::PingResp);
        seen_a.pongs += 1;
    }
    let ids: Vec<u16> = (1..=N).collect();
    for (who, seen) in [("a", &seen_a), ("b", &seen_b)] {
        let from = if who == "a" { "b" } else { "a" };
        let msgs: Vec<String> = (1..=N).map(|k| format!("{from}{k}")).collect();
        assert_eq!(seen.acks, ids, "{who}'s PUBACKs");
        assert_eq!(seen.msgs, msgs, "{who}'s deliveries");
    }
    a.assert_silent("a is owed nothing more").await;
    b.assert_silent("b is owed nothing more").await;
    h.shutdown().await;
}
