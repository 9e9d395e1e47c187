//! Retained messages: the latest per topic and namespace (MQTT 3.1.1 §3.3.1.3, OneNET spec §5).
//! Wills published with retain remember their sender, because OneNET clears them at the sender's next
//! normal login.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::tally::Tally;
use crate::metrics::Metrics;
use crate::mqtt::{QoS, TopicFilter, matches};

use super::info::{RetainedPage, RetainedQuery};
use super::message::{FastMap, Message, RetainedInfo};

/// Publishers whose refused retained messages are tracked for their reports at most (see
/// `RetainedStore::refused`).
const REFUSALS_KEPT: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Retained {
    pub msg: Message,
    pub qos: QoS,
    pub will_of: Option<Arc<str>>,
}

#[derive(Debug, Default)]
pub(crate) struct RetainedStore {
    by_ns: FastMap<String, BTreeMap<String, Retained>>,
    /// How many entries came from wills: the login-time scan is skipped when none did.
    wills: usize,
    /// Messages kept in every namespace, and their payload bytes: what `limits.max_retained_messages` and
    /// `limits.max_retained_bytes` bound (see [`RetainedStore::fits`]).
    count: usize,
    bytes: usize,
    /// Per publisher: its refused retained messages, reported to it at most once per interval with
    /// their count (see [`RetainedStore::refused`]); at most `REFUSALS_KEPT` publishers are tracked.
    refusals: FastMap<Arc<str>, Tally>,
    /// Where every change is counted (`Metrics::retained_changes`): the console re-reads the list only
    /// when it moved (see `ui::backend::poller`).
    metrics: Arc<Metrics>,
}

impl RetainedStore {
    /// An empty store counting its changes in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> RetainedStore {
        RetainedStore {
            metrics,
            ..Default::default()
        }
    }

    fn changed(&self) {
        Metrics::add(&self.metrics.retained_changes, 1);
    }

    /// Keeps `r` as its topic's retained message, replacing the one before. Unconditional (a message
    /// loaded from disk is kept whatever the bounds say now): a new one is checked with `fits` first.
    pub fn set(&mut self, ns: &str, r: Retained) {
        let topic = r.msg.topic.as_str().to_string();
        let added_will = r.will_of.is_some();
        self.count += 1;
        self.bytes += r.msg.payload.len();
        let old = self
            .by_ns
            .entry(ns.to_string())
            .or_default()
            .insert(topic, r);
        if let Some(o) = &old {
            self.count -= 1;
            self.bytes -= o.msg.payload.len();
        }
        if old.is_some_and(|o| o.will_of.is_some()) {
            self.wills -= 1;
        }
        if added_will {
            self.wills += 1;
        }
        self.changed();
    }

    /// Messages kept, and their payload bytes.
    pub fn totals(&self) -> (usize, usize) {
        (self.count, self.bytes)
    }

    /// Whether a retained message of `len` payload bytes for `topic` may be kept: it must not take the
    /// store past `max_count` messages or `max_bytes` of payload. One that replaces its topic's message
    /// counts the difference, and one that grows neither total always may: the store can be over its
    /// bounds (they were lowered at run time, or the database held more), and a device's next status
    /// then replaces its last one instead of wiping it.
    pub fn fits(
        &self,
        ns: &str,
        topic: &str,
        len: usize,
        max_count: usize,
        max_bytes: usize,
    ) -> bool {
        let old = self.by_ns.get(ns).and_then(|m| m.get(topic));
        let old_len = old.map_or(0, |o| o.msg.payload.len());
        let count_ok = old.is_some() || self.count < max_count;
        let bytes_ok = len <= old_len || self.bytes - old_len + len <= max_bytes;
        count_ok && bytes_ok
    }

    /// Counts a message refused from `client`; returns how many of its messages were refused since its
    /// last report when one is due (its first refusal, then at most once per interval), `None` when not.
    pub fn refused(&mut self, client: &Arc<str>, now: i64) -> Option<u64> {
        if self.refusals.len() >= REFUSALS_KEPT && !self.refusals.contains_key(client) {
            // Those with nothing unreported and no recent report tell nothing; if that is not enough,
            // the rest start afresh (their refusals stay counted in the metrics).
            self.refusals.retain(|_, t| !t.idle(now));
            if self.refusals.len() >= REFUSALS_KEPT {
                self.refusals.clear();
            }
        }
        let t = self.refusals.entry(client.clone()).or_default();
        t.add(1);
        t.due(now, false)
    }

    /// When `client`'s refusals counted and not reported yet may be reported (Unix ms), if it has any.
    pub fn refusals_due_at(&self, client: &str) -> Option<i64> {
        self.refusals.get(client).and_then(Tally::due_at)
    }

    /// The reports that fell due by `now` and were not made because no refusal came after them (a
    /// burst's last interval): each publisher with its count, now reported; and when the next one falls
    /// due, if any are left. One pass over the publishers tracked (at most `REFUSALS_KEPT`).
    pub fn due_refusals(&mut self, now: i64) -> (Vec<(Arc<str>, u64)>, Option<i64>) {
        let mut due = Vec::new();
        let mut next: Option<i64> = None;
        for (client, t) in &mut self.refusals {
            if let Some(n) = t.due(now, false) {
                due.push((client.clone(), n));
            }
            if let Some(at) = t.due_at() {
                next = Some(next.map_or(at, |x| x.min(at)));
            }
        }
        (due, next)
    }

    pub fn clear(&mut self, ns: &str, topic: &str) -> bool {
        let Some(m) = self.by_ns.get_mut(ns) else {
            return false;
        };
        let old = m.remove(topic);
        if m.is_empty() {
            self.by_ns.remove(ns);
        }
        if let Some(o) = &old {
            self.count -= 1;
            self.bytes -= o.msg.payload.len();
            self.changed();
        }
        if old.as_ref().is_some_and(|o| o.will_of.is_some()) {
            self.wills -= 1;
        }
        old.is_some()
    }

    /// Removes every retained message of `ns` (or of all namespaces); returns their (namespace, topic).
    pub fn take_all(&mut self, ns: Option<&str>) -> Vec<(String, String)> {
        let keys: Vec<(String, String)> = self
            .by_ns
            .iter()
            .filter(|(n, _)| ns.is_none_or(|x| x == n.as_str()))
            .flat_map(|(n, m)| m.keys().map(move |t| (n.clone(), t.clone())))
            .collect();
        for (n, t) in &keys {
            self.clear(n, t);
        }
        keys
    }

    /// Retained messages a new subscription to `filter` receives.
    pub fn matching(&self, ns: &str, filter: &TopicFilter) -> Vec<Retained> {
        let Some(m) = self.by_ns.get(ns) else {
            return Vec::new();
        };
        if !filter.has_wildcards() {
            return m.get(filter.as_str()).cloned().into_iter().collect();
        }
        m.values()
            .filter(|r| matches(filter, &r.msg.topic))
            .cloned()
            .collect()
    }

    /// Removes the retained wills `client` left; returns their (namespace, topic).
    pub fn take_wills_of(&mut self, client: &str) -> Vec<(String, String)> {
        if self.wills == 0 {
            return Vec::new();
        }
        let found: Vec<(String, String)> = self
            .by_ns
            .iter()
            .flat_map(|(ns, m)| {
                m.iter()
                    .filter(|(_, r)| r.will_of.as_deref() == Some(client))
                    .map(move |(t, _)| (ns.clone(), t.clone()))
            })
            .collect();
        for (ns, t) in &found {
            self.clear(ns, t);
        }
        found
    }

    pub fn list(&self) -> Vec<RetainedInfo> {
        self.by_ns
            .iter()
            .flat_map(|(ns, m)| m.values().map(move |r| info(ns, r)))
            .collect()
    }

    /// One window of `ns`'s retained messages (see [`RetainedQuery`]): the first one always, so a
    /// payload larger than `max_bytes` is still reachable; `next` set when more follow.
    pub fn page(&self, ns: &str, q: &RetainedQuery) -> RetainedPage {
        let Some(m) = self.by_ns.get(ns) else {
            return RetainedPage::default();
        };
        let total = m.len();
        if let Some(t) = &q.topic {
            return RetainedPage {
                items: m.get(t).map(|r| info(ns, r)).into_iter().collect(),
                total,
                next: None,
            };
        }
        let mut rest = match &q.after {
            Some(a) => m.range::<str, _>((Bound::Excluded(a.as_str()), Bound::Unbounded)),
            None => m.range::<str, _>(..),
        }
        .peekable();
        let (mut items, mut bytes) = (Vec::new(), 0usize);
        while let Some((_, r)) = rest.peek() {
            let size = r.msg.payload.len();
            if items.len() >= q.limit.max(1)
                || (!items.is_empty() && bytes.saturating_add(size) > q.max_bytes)
            {
                break;
            }
            bytes += size;
            items.push(info(ns, r));
            rest.next();
        }
        let next = rest
            .peek()
            .and_then(|_| items.last())
            .map(|i: &RetainedInfo| i.topic.clone());
        RetainedPage { items, total, next }
    }
}

fn info(ns: &str, r: &Retained) -> RetainedInfo {
    RetainedInfo {
        namespace: ns.to_string(),
        topic: r.msg.topic.as_str().to_string(),
        payload: r.msg.payload.clone(),
        qos: r.qos as u8,
        from_will_of: r.will_of.as_ref().map(|c| c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::TopicName;
    use bytes::Bytes;

    fn r(topic: &str, will_of: Option<&str>) -> Retained {
        Retained {
            msg: Message {
                topic: TopicName::new(topic).unwrap(),
                payload: Bytes::from_static(b"x"),
            },
            qos: QoS::AtLeastOnce,
            will_of: will_of.map(Arc::from),
        }
    }

    #[test]
    fn set_match_clear() {
        let mut s = RetainedStore::default();
        s.set("p", r("a/b", None));
        s.set("p", r("a/c", Some("dev")));
        assert_eq!(s.matching("p", &TopicFilter::new("a/b").unwrap()).len(), 1);
        assert_eq!(s.matching("p", &TopicFilter::new("a/+").unwrap()).len(), 2);
        assert_eq!(s.matching("q", &TopicFilter::new("a/b").unwrap()).len(), 0);
        assert_eq!(
            s.take_wills_of("dev"),
            vec![("p".to_string(), "a/c".to_string())]
        );
        assert_eq!(s.wills, 0);
        assert!(s.clear("p", "a/b"));
        assert!(s.list().is_empty());
        assert_eq!(s.totals(), (0, 0));
    }

    /// The totals the bounds are checked against follow every change; a replacement counts the difference.
    #[test]
    fn totals_follow_set_replace_and_clear() {
        let mut s = RetainedStore::default();
        let sized = |topic: &str, n: usize| Retained {
            msg: Message {
                topic: TopicName::new(topic).unwrap(),
                payload: Bytes::from(vec![0; n]),
            },
            qos: QoS::AtMostOnce,
            will_of: None,
        };
        s.set("p", sized("a", 100));
        s.set("q", sized("a", 50));
        assert_eq!(s.totals(), (2, 150));
        assert!(s.fits("p", "a", 150, 2, 200), "replaces: 150 + 50");
        assert!(!s.fits("p", "a", 151, 2, 200));
        assert!(!s.fits("p", "b", 1, 2, 200), "a third message");
        // Over both bounds already (lowered): a replacement that grows nothing still may, a new one not.
        assert!(s.fits("p", "a", 100, 1, 10), "same size");
        assert!(s.fits("p", "a", 5, 1, 10), "smaller");
        assert!(!s.fits("p", "a", 101, 1, 10), "larger");
        assert!(!s.fits("p", "c", 1, 1, 10), "new");
        s.set("p", sized("a", 10));
        assert_eq!(s.totals(), (2, 60));
        s.take_all(Some("q"));
        assert_eq!(s.totals(), (1, 10));
    }

    /// Every change is counted where the console looks (it re-reads the list only when the count moved);
    /// what changes nothing is not.
    #[test]
    fn every_change_is_counted_in_the_metrics() {
        let metrics = Arc::new(Metrics::default());
        let changes = || {
            metrics
                .retained_changes
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let mut s = RetainedStore::new(metrics.clone());
        s.set("p", r("a", None));
        s.set("p", r("a", None));
        s.set("p", r("b", Some("dev")));
        assert_eq!(changes(), 3, "kept, replaced, kept");
        assert!(!s.clear("p", "nothing"));
        assert_eq!(changes(), 3);
        s.take_wills_of("dev");
        s.take_all(None);
        assert_eq!(changes(), 5);
    }

    /// A listing walks one namespace in topic order, page by page through `next`, and never returns
    /// more than `limit` messages, or (past the first) more than `max_bytes` of payload.
    #[test]
    fn a_listing_pages_through_one_namespace_within_its_bounds() {
        let mut s = RetainedStore::default();
        let sized = |topic: &str, n: usize| Retained {
            msg: Message {
                topic: TopicName::new(topic).unwrap(),
                payload: Bytes::from(vec![b'x'; n]),
            },
            qos: QoS::AtMostOnce,
            will_of: None,
        };
        for t in ["t/4", "t/1", "t/3", "t/2", "t/5"] {
            s.set("p", sized(t, 10));
        }
        s.set("q", sized("t/0", 10));
        let q = |after: Option<&str>, limit, max_bytes| RetainedQuery {
            after: after.map(str::to_string),
            topic: None,
            limit,
            max_bytes,
        };
        let topics = |p: &RetainedPage| p.items.iter().map(|i| i.topic.clone()).collect::<Vec<_>>();

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s.page("p", &q(after.as_deref(), 2, 1 << 20));
            assert_eq!(page.total, 5, "the namespace's count, not the page's");
            assert!(page.items.len() <= 2);
            seen.extend(topics(&page));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(
            seen,
            ["t/1", "t/2", "t/3", "t/4", "t/5"],
            "each once, in order"
        );

        // The byte bound: 25 bytes hold two 10-byte payloads; a bound below one payload still gives one.
        let page = s.page("p", &q(None, 100, 25));
        assert_eq!(topics(&page), ["t/1", "t/2"]);
        assert_eq!(page.next.as_deref(), Some("t/2"));
        let page = s.page("p", &q(None, 100, 1));
        assert_eq!(
            topics(&page),
            ["t/1"],
            "one payload past the bound still goes, alone"
        );
        assert_eq!(page.next.as_deref(), Some("t/1"));
        let page = s.page("p", &q(Some("t/4"), 100, 1));
        assert_eq!(topics(&page), ["t/5"]);
        assert_eq!(page.next, None, "the last one");

        // One topic; another namespace's are not seen; an unknown namespace is empty.
        let one = RetainedQuery {
            topic: Some("t/3".into()),
            ..q(None, 1, 1)
        };
        assert_eq!(topics(&s.page("p", &one)), ["t/3"]);
        assert!(s.page("q", &one).items.is_empty());
        assert_eq!(s.page("nobody", &q(None, 10, 10)), RetainedPage::default());
    }
}
