//! One virtual device: connect (auth method 1), upload on its interval, answer `$creq`, inject faults,
//! reconnect after a drop, and stop cleanly when its group is cancelled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{self, Client, ConnectOptions, Incoming};
use crate::mqtt::{Publish, QoS};

use super::dp;
use super::generator::GenState;
use super::group::{GroupConfig, ReplyKind, Stats};

/// Pause before reconnecting after a failure or a drop.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// How long a stopping device waits for its unacknowledged uploads.
const DRAIN: Duration = Duration::from_secs(5);

struct Dev {
    cfg: Arc<GroupConfig>,
    idx: usize,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    started: Instant,
    gens: Vec<GenState>,
    uploads: u64,
    /// Acknowledgement waiters and delayed replies: at most the in-flight window (publish waits for a slot)
    /// plus one per command received, which the broker bounds by the device's live commands.
    side: TaskTracker,
}

pub(super) async fn run(
    cfg: Arc<GroupConfig>,
    idx: usize,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    started: Instant,
) {
    let gens = cfg
        .streams
        .iter()
        .map(|s| GenState::new(s.generator.clone()))
        .collect();
    let mut d = Dev {
        cfg,
        idx,
        stats,
        cancel,
        started,
        gens,
        uploads: 0,
        side: TaskTracker::new(),
    };
    d.run().await;
}

impl Dev {
    async fn run(&mut self) {
        // Spread the first uploads of a group over one interval rather than all at once.
        let n = self.cfg.devices.len().max(1) as u32;
        let offset = self.cfg.interval / n * self.idx as u32;
        while !self.cancel.is_cancelled() {
            match self.connect().await {
                Ok((c, inc)) => {
                    self.stats.connects.fetch_add(1, Ordering::Relaxed);
                    self.stats.connected.fetch_add(1, Ordering::Relaxed);
                    let stop = self.session(&c, inc, offset).await;
                    self.stats.connected.fetch_sub(1, Ordering::Relaxed);
                    if stop {
                        break;
                    }
                }
                Err(e) => {
                    self.stats.connect_failures.fetch_add(1, Ordering::Relaxed);
                    self.stats.error(format!("device {}: {e}", self.id()));
                }
            }
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = tokio::time::sleep(RECONNECT_DELAY) => {}
            }
        }
        self.side.close();
        self.side.wait().await;
    }

    fn id(&self) -> &str {
        self.cfg.devices.get(self.idx).map_or("", |d| d.id.as_str())
    }

    async fn connect(&self) -> Result<(Client, Incoming), client::ClientError> {
        let dev = self
            .cfg
            .devices
            .get(self.idx)
            .ok_or_else(|| client::ClientError::Invalid("no such device".into()))?;
        let mut o = ConnectOptions::new(self.cfg.addr.clone(), dev.id.clone())
            .with_credentials(self.cfg.product_id.clone(), dev.auth_info.as_bytes())
            .with_keep_alive(self.cfg.keep_alive)
            .with_clean_session(self.cfg.clean_session)
            .with_max_inflight(16);
        o.ack_incoming = !self.cfg.faults.skip_puback;
        let (c, inc, _) = client::connect(o).await?;
        if !self.cfg.subscribe.is_empty() {
            let filters: Vec<(&str, QoS)> = self
                .cfg
                .subscribe
                .iter()
                .map(|t| (t.as_str(), QoS::AtLeastOnce))
                .collect();
            c.subscribe(&filters).await?;
        }
        Ok((c, inc))
    }

    /// One connection's life. Returns true when the device should stop.
    async fn session(&mut self, c: &Client, mut inc: Incoming, offset: Duration) -> bool {
        let mut tick = tokio::time::interval_at(Instant::now() + offset, self.cfg.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let drop_at = self.cfg.faults.drop_every.map(|d| Instant::now() + d);
        loop {
            let done = self.cfg.max_uploads.is_some_and(|m| self.uploads >= m);
            tokio::select! {
                _ = self.cancel.cancelled() => {
                    // Wait for outstanding acknowledgements, then leave politely.
                    self.side.close();
                    let _ = tokio::time::timeout(DRAIN, self.side.wait()).await;
                    let _ = c.disconnect().await;
                    return true;
                }
                _ = tick.tick(), if !done => {
                    if let Err(e) = self.upload(c).await {
                        self.stats.publish_failures.fetch_add(1, Ordering::Relaxed);
                        self.stats.error(format!("device {}: {e}", self.id()));
                    }
                }
                m = inc.recv() => match m {
                    Some(p) => self.incoming(c, p),
                    None => {
                        let why = c.closed().await;
                        self.stats.error(format!("device {}: connection lost: {why}", self.id()));
                        return false;
                    }
                },
                _ = sleep_until_opt(drop_at) => {
                    self.stats.drops.fetch_add(1, Ordering::Relaxed);
                    c.abort().await;
                    return false;
                }
            }
        }
    }

    /// Builds and publishes the next `$dp` upload.
    async fn upload(&mut self, c: &Client) -> Result<(), String> {
        let k = self.uploads;
        self.uploads += 1;
        let cfg = self.cfg.clone();
        let dp_type = cfg
            .types
            .get((k % cfg.types.len() as u64) as usize)
            .copied()
            .unwrap_or(3);
        let now = now_millis();
        let t = self.started.elapsed().as_secs_f64();
        let bad = cfg
            .faults
            .bad_dp_every
            .is_some_and(|n| n > 0 && (k + 1).is_multiple_of(u64::from(n)));
        let mut payloads = Vec::new();
        if bad {
            payloads.push((dp::bad_payload(), 0));
        } else if dp_type == 2 {
            for (s, g) in cfg.streams.iter().zip(self.gens.iter_mut()) {
                if s.generator.is_blob() {
                    let bytes = match g.next(t) {
                        super::Value::Bytes(b) => b,
                        v => v.to_text().into_bytes(),
                    };
                    payloads.push((
                        dp::encode_binary(&s.name, &bytes, now, cfg.utc_offset_secs)
                            .map_err(|e| e.to_string())?,
                        1,
                    ));
                }
            }
        } else {
            let mut values = Vec::new();
            for (s, g) in cfg.streams.iter().zip(self.gens.iter_mut()) {
                if !s.generator.is_blob() {
                    values.push((s.name.as_str(), g.next(t)));
                }
            }
            let points: Vec<dp::Point<'_>> = values.iter().map(|(n, v)| (*n, v)).collect();
            let p = dp::encode(dp_type, &points, now, cfg.utc_offset_secs)
                .map_err(|e| e.to_string())?;
            payloads.push((p, points.len() as u64));
        }
        for (payload, points) in payloads {
            let d = c
                .publish("$dp", cfg.qos, payload)
                .await
                .map_err(|e| e.to_string())?;
            self.stats.uploads.fetch_add(1, Ordering::Relaxed);
            self.stats.datapoints.fetch_add(points, Ordering::Relaxed);
            if bad {
                self.stats.bad_dp_sent.fetch_add(1, Ordering::Relaxed);
            }
            if cfg.qos != QoS::AtMostOnce {
                let stats = self.stats.clone();
                self.side.spawn(async move {
                    match d.wait().await {
                        Ok(()) => stats.acked.fetch_add(1, Ordering::Relaxed),
                        Err(_) => stats.publish_failures.fetch_add(1, Ordering::Relaxed),
                    };
                });
            }
        }
        Ok(())
    }

    /// A message from the broker: a command to answer, or a message on a subscribed topic.
    fn incoming(&mut self, c: &Client, p: Publish) {
        let Some(uuid) = p.topic.as_str().strip_prefix("$creq/") else {
            self.stats.messages_received.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.stats.commands_received.fetch_add(1, Ordering::Relaxed);
        let reply = &self.cfg.reply;
        let (topic, body): (String, Bytes) = match &reply.kind {
            ReplyKind::Never => return,
            ReplyKind::Echo => (format!("$crsp/{uuid}"), p.payload.clone()),
            ReplyKind::Template(t) => (
                format!("$crsp/{uuid}"),
                Bytes::from(
                    t.replace("{uuid}", uuid)
                        .replace("{device}", self.id())
                        .replace("{body}", &String::from_utf8_lossy(&p.payload)),
                ),
            ),
            ReplyKind::Malformed => {
                let cut: String = uuid.chars().take(35).collect();
                (format!("$crsp/{cut}"), p.payload.clone())
            }
        };
        let (c, stats, delay, qos, id) = (
            c.clone(),
            self.stats.clone(),
            reply.delay,
            reply.qos,
            self.id().to_string(),
        );
        self.side.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let sent = match c.publish(&topic, qos, body).await {
                Ok(d) => d.wait().await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => {
                    stats.commands_answered.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => stats.error(format!("device {id}: reply to a command: {e}")),
            }
        });
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
