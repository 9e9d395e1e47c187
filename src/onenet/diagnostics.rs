//! Conformance diagnostics: what the real platform would reject or treat differently, recorded per device
//! with the spec section, so an engineer sees why firmware that works here may fail on OneNET (and why a
//! packet was refused here). A diagnostic never changes what the broker does; it is a record.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// What was noticed. Each kind names its spec section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagKind {
    /// Keepalive outside 120–1200 s (§3.2, §13).
    KeepAlive,
    /// SUBSCRIBE/UNSUBSCRIBE with reserved flags 0000 (§4, §13).
    ReservedFlags,
    /// PUBREL with flags 0000 (§4, §13).
    PubRelFlags,
    /// RETAIN=1 on `$dp` (§6).
    RetainOnDp,
    /// A `$dp` payload that does not decode (§6); carries the EDP-style code.
    BadDp,
    /// SUBSCRIBE to a `$` topic or with a wildcard (§8.1).
    ReservedOrWildcardFilter,
    /// More than the allowed subscriptions (§8.1).
    TooManySubscriptions,
    /// `$crsp` for a command uuid that is not this device's pending command (§7.1).
    UnknownCommandReply,
    /// PUBLISH to `$creq/…` or another reserved `$` topic (§7.1, §8.1).
    ReservedPublish,
    /// Topic with characters outside `[A-Za-z0-9_/]` or longer than 1024 bytes (§8.1).
    TopicCharset,
    /// A packet sent before CONNACK, dropped (§3.2).
    BeforeConnAck,
    /// A malformed packet that closed the connection (MQTT 3.1.1 rule in the message).
    Malformed,
    /// An outbound QoS 1/2 PUBLISH or PUBREL not acknowledged in time: the connection was closed (§5).
    AckTimeout,
    /// The client read nothing of its waiting output for too long: the connection was closed.
    StuckReader,
    /// A retained message not kept: the retained messages were at `limits.max_retained_*` (§13).
    RetainedFull,
}

impl DiagKind {
    /// Where the rule is written.
    pub fn section(self) -> &'static str {
        match self {
            DiagKind::KeepAlive => "§3.2",
            DiagKind::ReservedFlags | DiagKind::PubRelFlags => "§4",
            DiagKind::RetainOnDp | DiagKind::BadDp => "§6",
            DiagKind::ReservedOrWildcardFilter
            | DiagKind::TooManySubscriptions
            | DiagKind::TopicCharset
            | DiagKind::ReservedPublish => "§8.1",
            DiagKind::UnknownCommandReply => "§7.1",
            DiagKind::BeforeConnAck => "§3.2",
            DiagKind::Malformed => "MQTT 3.1.1",
            DiagKind::AckTimeout => "§5",
            DiagKind::StuckReader | DiagKind::RetainedFull => "§13",
        }
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Unix milliseconds.
    pub at: i64,
    pub device: String,
    pub kind: DiagKind,
    pub section: &'static str,
    pub message: String,
}

/// Per-device ring of the most recent diagnostics plus a count per kind (which does not roll over).
#[derive(Debug)]
pub struct Diagnostics {
    per_device: usize,
    by_device: HashMap<String, (VecDeque<Diagnostic>, HashMap<DiagKind, u64>)>,
}

impl Diagnostics {
    pub fn new(per_device: usize) -> Diagnostics {
        Diagnostics {
            per_device: per_device.max(1),
            by_device: HashMap::new(),
        }
    }

    /// Changes how many diagnostics each device keeps (a settings change at run time); longer rings shrink
    /// at their next record.
    pub fn set_per_device(&mut self, per_device: usize) {
        self.per_device = per_device.max(1);
    }

    /// Records and returns the diagnostic (for logging and events).
    pub fn record(&mut self, at: i64, device: &str, kind: DiagKind, message: String) -> Diagnostic {
        let d = Diagnostic {
            at,
            device: device.to_string(),
            kind,
            section: kind.section(),
            message,
        };
        let (ring, counts) = self.by_device.entry(device.to_string()).or_default();
        while ring.len() >= self.per_device {
            ring.pop_front();
        }
        ring.push_back(d.clone());
        *counts.entry(kind).or_default() += 1;
        d
    }

    /// The device's most recent diagnostics, oldest first.
    pub fn of(&self, device: &str) -> Vec<Diagnostic> {
        self.by_device
            .get(device)
            .map(|(r, _)| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many of each kind the device produced since start (not bounded by the ring).
    pub fn counts(&self, device: &str) -> Vec<(DiagKind, u64)> {
        let mut v: Vec<_> = self
            .by_device
            .get(device)
            .map(|(_, c)| c.iter().map(|(k, n)| (*k, *n)).collect())
            .unwrap_or_default();
        v.sort_by_key(|(k, _)| k.section());
        v
    }

    /// Total recorded for the device.
    pub fn total(&self, device: &str) -> u64 {
        self.by_device
            .get(device)
            .map(|(_, c)| c.values().sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_counts_are_not() {
        let mut d = Diagnostics::new(3);
        for i in 0..5 {
            d.record(i, "9277", DiagKind::KeepAlive, format!("k{i}"));
        }
        d.record(9, "9278", DiagKind::BadDp, "x".into());
        let v = d.of("9277");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].message, "k2");
        assert_eq!(v[0].section, "§3.2");
        assert_eq!(d.counts("9277"), vec![(DiagKind::KeepAlive, 5)]);
        assert_eq!(d.total("9278"), 1);
        assert!(d.of("1").is_empty());
    }
}
