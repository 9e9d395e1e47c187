//! The scenarios that measure the broker's memory with the crate's full client: `stalled` (a subscriber
//! that never reads under a QoS 0 flood), `idle` (RSS per idle connection) and `silent` (sockets that
//! never send CONNECT).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use onenet_desk::client::{self, ClientError};
use onenet_desk::mqtt::QoS;
use serde_json::{Value, json};

use super::{Lg, Res, hwm, rss};

/// The broker's RSS (KiB), sampled every 20 ms while a flood runs, for its peak.
pub struct PeakRss {
    pid: Option<u32>,
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    /// Starts sampling the broker `pid`, from `before` (its RSS now).
    pub fn start(pid: Option<u32>, before: Option<u64>) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(before.unwrap_or(0)));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    peak.fetch_max(rss(pid).unwrap_or(0), Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        PeakRss {
            pid,
            peak,
            done,
            sampler,
        }
    }

    /// Stops sampling: (the RSS now, the peak including it).
    pub async fn stop(self) -> (Option<u64>, u64) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.sampler.await;
        let after = rss(self.pid);
        let peak = self.peak.fetch_max(after.unwrap_or(0), Ordering::SeqCst);
        (after, peak.max(after.unwrap_or(0)))
    }
}

impl Lg {
    /// A subscriber that never reads, under a flood of 1 KiB QoS 0 messages: does the broker stay bounded?
    pub(super) async fn stalled(&self) -> Res<Value> {
        let total = self.a.stalled_msgs;
        let deadline = self.deadline();
        let topic = self.topic(self.name);
        let rss_before = rss(self.a.broker_pid);
        // Capacity 1 and never read: the driver stops reading the socket, so TCP pushes back on the broker.
        let (_c, inc, _) = client::connect(
            self.opts(&format!("{}-s", self.name))
                .with_incoming_capacity(1),
        )
        .await?;
        _c.subscribe(&[(topic.as_str(), QoS::AtMostOnce)]).await?;
        let (pc, _, _) = client::connect(self.opts(&format!("{}-p", self.name))).await?;
        let payload = Bytes::from(vec![b'x'; 1024]);
        let t0 = Instant::now();
        let mut sent = 0u64;
        let mut peak = rss_before.unwrap_or(0);
        while sent < total && Instant::now() < deadline {
            let _ = pc.publish(&topic, QoS::AtMostOnce, payload.clone()).await?;
            sent += 1;
            if sent.is_multiple_of(50_000) {
                peak = peak.max(rss(self.a.broker_pid).unwrap_or(0));
            }
        }
        pc.ping().await?; // everything sent has been read by the broker
        let secs = t0.elapsed().as_secs_f64();
        let after = rss(self.a.broker_pid);
        peak = peak.max(after.unwrap_or(0));
        let hwm = hwm(self.a.broker_pid);
        drop(inc);
        Ok(json!({
            "sent": sent, "payload_bytes": 1024, "secs": secs, "msgs_per_s": sent as f64 / secs,
            "broker_rss_kib_before": rss_before, "broker_rss_kib_after": after,
            "broker_rss_kib_peak_sampled": self.a.broker_pid.map(|_| peak), "broker_vmhwm_kib": hwm,
            "complete": sent == total,
        }))
    }

    /// N connections that only keep alive; broker RSS per connection.
    pub(super) async fn idle(&self) -> Res<Value> {
        let n = self.a.idle;
        let deadline = self.deadline();
        let before = rss(self.a.broker_pid);
        let mut conns = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n {
            if Instant::now() >= deadline {
                break;
            }
            let (c, inc, _) = client::connect(
                self.opts(&format!("{}-{i}", self.name))
                    .with_keep_alive(600),
            )
            .await?;
            conns.push((c, inc));
        }
        // A round trip on the last one: the broker has settled every CONNECT before.
        if let Some((c, _)) = conns.last() {
            c.ping().await?;
        }
        let after = rss(self.a.broker_pid);
        let per = match (before, after) {
            (Some(b), Some(a)) if !conns.is_empty() => {
                Some((a as f64 - b as f64) * 1024.0 / conns.len() as f64)
            }
            _ => None,
        };
        let opened = conns.len();
        let burst = if self.a.idle_burst > 0 {
            Some(self.burst_then_idle(&mut conns, before, deadline).await?)
        } else {
            None
        };
        for (c, _) in &conns {
            let _ = c.disconnect().await;
        }
        let mut v = json!({
            "connections": opened, "secs_to_open": t0.elapsed().as_secs_f64(),
            "broker_rss_kib_before": before, "broker_rss_kib_after": after,
            "rss_bytes_per_connection": per, "complete": opened == n,
        });
        if let (Some(o), Some(Value::Object(b))) = (v.as_object_mut(), burst) {
            let delivered_all = b.get("burst_complete") == Some(&json!(true));
            o.extend(b);
            o.insert("complete".into(), json!(opened == n && delivered_all));
        }
        Ok(v)
    }

    /// `idle --idle-burst K`: every connection subscribes to one topic (RSS measured), K 1 KiB QoS 0
    /// messages go to all of them and are read, and once they are idle again the RSS is measured once
    /// more: per connection, what subscribing costs and what the burst left behind (buffers sized for it
    /// and not released would show here).
    async fn burst_then_idle(
        &self,
        conns: &mut [(client::Client, client::Incoming)],
        before: Option<u64>,
        deadline: Instant,
    ) -> Res<Value> {
        let k = self.a.idle_burst;
        let topic = self.topic(&format!("{}-all", self.name));
        for (c, _) in conns.iter() {
            c.subscribe(&[(topic.as_str(), QoS::AtMostOnce)]).await?;
        }
        let subscribed = rss(self.a.broker_pid);
        let (p, _, _) = client::connect(self.opts(&format!("{}-burst", self.name))).await?;
        let payload = Bytes::from(vec![b'b'; 1024]);
        for _ in 0..k {
            let _ = p.publish(&topic, QoS::AtMostOnce, payload.clone()).await?;
        }
        p.ping().await?;
        let peak = PeakRss::start(self.a.broker_pid, subscribed);
        let mut received = 0u64;
        for (_, inc) in conns.iter_mut() {
            for _ in 0..k {
                match tokio::time::timeout_at(deadline.into(), inc.recv()).await {
                    Ok(Some(_)) => received += 1,
                    _ => break,
                }
            }
        }
        // A round trip on each: every connection has written all it had and gone idle.
        for (c, _) in conns.iter() {
            c.ping().await?;
        }
        let (after_burst, peak) = peak.stop().await;
        let _ = p.disconnect().await;
        let n = conns.len().max(1) as f64;
        let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some((a as f64 - b as f64) * 1024.0 / n),
            _ => None,
        };
        Ok(json!({
            "burst_msgs_per_connection": k, "burst_received": received,
            "burst_complete": received == k * conns.len() as u64,
            "broker_rss_kib_subscribed": subscribed, "broker_rss_kib_after_burst": after_burst,
            "broker_rss_kib_burst_peak_sampled": self.a.broker_pid.map(|_| peak),
            "rss_bytes_per_connection_subscribed": per(subscribed, before),
            "rss_bytes_per_connection_after_burst": per(after_burst, before),
        }))
    }

    /// N sockets that never send CONNECT (a hostile client): while they are open a real client connects,
    /// subscribes and gets its own message back; then every silent one must be closed by the broker at its
    /// CONNECT timeout. Broker and load generator are separate processes, so each holds one end.
    pub(super) async fn silent(&self) -> Res<Value> {
        let n = self.a.idle;
        let deadline = self.deadline();
        let before = rss(self.a.broker_pid);
        let t0 = Instant::now();
        let mut socks = Vec::with_capacity(n);
        for _ in 0..n {
            if Instant::now() >= deadline {
                break;
            }
            socks.push(
                tokio::net::TcpStream::connect(&self.a.addr)
                    .await
                    .map_err(|e| ClientError::Io(e.to_string()))?,
            );
        }
        let opened = socks.len();
        let opened_secs = t0.elapsed().as_secs_f64();
        let during = rss(self.a.broker_pid);
        // A real client among them.
        let t1 = Instant::now();
        let topic = self.topic(self.name);
        let (c, mut inc) = self
            .subscriber(&format!("{}-real", self.name), &topic, QoS::AtLeastOnce)
            .await?;
        c.publish(&topic, QoS::AtLeastOnce, &b"hello"[..])
            .await?
            .wait()
            .await?;
        let echoed = tokio::time::timeout_at(deadline.into(), inc.recv())
            .await
            .ok()
            .flatten()
            .is_some();
        let real_ms = t1.elapsed().as_secs_f64() * 1e3;
        let _ = c.disconnect().await;
        // Each silent socket reads EOF (or a reset) when the broker closes it.
        let mut closed = 0usize;
        for mut s in socks {
            let mut b = [0u8; 1];
            match tokio::time::timeout_at(
                deadline.into(),
                tokio::io::AsyncReadExt::read(&mut s, &mut b),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
                _ => {}
            }
        }
        let all_closed_secs = t0.elapsed().as_secs_f64();
        let complete = opened == n && closed == n && echoed;
        let mut v = json!({
            "sockets": opened, "opened_secs": opened_secs, "real_client_ms": real_ms, "real_client_ok": echoed,
            "closed_by_broker": closed, "all_closed_secs": all_closed_secs,
            "broker_rss_kib_before": before, "broker_rss_kib_with_sockets": during, "complete": complete,
        });
        if !complete && let Some(o) = v.as_object_mut() {
            o.insert(
                "error".into(),
                json!(format!(
                    "{closed} of {n} silent sockets closed; real client ok: {echoed}"
                )),
            );
        }
        Ok(v)
    }
}
