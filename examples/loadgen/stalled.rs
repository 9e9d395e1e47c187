//! `stalled-qos1`: a QoS 1 subscriber that never reads (nor acknowledges), and a publisher of large QoS 1
//! messages to it. The broker must hold back the publisher (stop reading it) once the subscriber's queue
//! is full, in bytes as well as in messages; the scenario reports how much it took in, and its RSS.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::memory::PeakRss;
use super::{Res, hwm, raw, rss};

/// A write that waits this long means the broker has stopped reading the publisher.
const HELD_BACK: Duration = Duration::from_secs(3);

pub async fn stalled_qos1(
    sub: raw::Raw,
    mut publisher: raw::Raw,
    topic: &str,
    (msgs, size): (u64, usize),
    broker_pid: Option<u32>,
    deadline: Instant,
) -> Res<Value> {
    let before = rss(broker_pid);
    let sampled = PeakRss::start(broker_pid, before);
    let payload = vec![b's'; size];
    let t0 = Instant::now();
    let (mut sent, mut held_back) = (0u64, false);
    let mut packet = Vec::with_capacity(size + topic.len() + 8);
    while sent < msgs && Instant::now() < deadline {
        packet.clear();
        // Packet ids 1..=65535 in turn; the broker acknowledges each as it routes it, so none is reused
        // while in flight.
        let pid = (sent % 65_535) as u16 + 1;
        raw::put_publish(&mut packet, topic.as_bytes(), 1, pid, &payload);
        match tokio::time::timeout(HELD_BACK, publisher.write(&packet)).await {
            Ok(r) => r?,
            Err(_) => {
                held_back = true;
                break;
            }
        }
        sent += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    // The broker's RSS once it has settled with what it took in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (after, peak) = sampled.stop().await;
    drop((sub, publisher));
    let mib = |n: u64| (n * size as u64) as f64 / (1024.0 * 1024.0);
    Ok(json!({
        "payload_bytes": size, "sent": sent, "sent_mib": mib(sent), "secs": secs,
        // True when the broker stopped reading the publisher before all `msgs` went.
        "publisher_held_back": held_back,
        "broker_rss_kib_before": before, "broker_rss_kib_after": after,
        "broker_rss_kib_peak_sampled": broker_pid.map(|_| peak),
        "rss_growth_mib": match (before, after) {
            (Some(b), Some(_)) => Some((peak as f64 - b as f64) / 1024.0),
            _ => None,
        },
        "broker_vmhwm_kib": hwm(broker_pid),
        // Not complete when the deadline came first (neither held back nor all sent).
        "complete": held_back || sent == msgs,
    }))
}
