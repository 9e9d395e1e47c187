//! The subscription index: topic → subscribers, per namespace (a product in `onenet`, everything in
//! `mqtt`). Exact filters are one hash lookup; wildcard filters (only the `mqtt` profile has them) are
//! matched one by one.

use std::sync::Arc;

use crate::broker::message::FastMap;
use crate::mqtt::{QoS, TopicFilter, TopicName, matches};

/// A subscriber of a topic and the QoS it gets it at.
pub(crate) type Target = (Arc<str>, QoS);

#[derive(Debug, Default)]
struct Namespace {
    exact: FastMap<String, FastMap<Arc<str>, QoS>>,
    wild: Vec<(TopicFilter, Arc<str>, QoS)>,
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionIndex {
    /// Named namespaces (the `onenet` profile's products).
    namespaces: FastMap<String, Namespace>,
    /// The unnamed namespace `""` (the whole `mqtt` profile), kept out of the map: looking up an empty
    /// key compares two empty strings, and the C library's vectorised `memcmp` on this machine takes
    /// ~190 ns for that (a masked load at an empty string's dangling pointer) against ~20 ns for a
    /// non-empty key; it was 5% of the broker's time per QoS 1 message.
    unnamed: Namespace,
    /// The last [`SubscriptionIndex::targets`]: its namespace, topic and answer, kept until a
    /// subscription changes. A publisher's PUBLISHes to one topic share one topic handle (the decoder
    /// hands the last topic on), so a burst is matched once: the topic's hash, the map's probe and the
    /// string comparison were a tenth of the router's time per QoS 0 message. One entry.
    last: Option<(String, TopicName, Vec<Target>)>,
}

impl SubscriptionIndex {
    fn get(&self, ns: &str) -> Option<&Namespace> {
        if ns.is_empty() {
            Some(&self.unnamed)
        } else {
            self.namespaces.get(ns)
        }
    }

    pub fn insert(&mut self, ns: &str, filter: &TopicFilter, client: &Arc<str>, qos: QoS) {
        self.last = None;
        let n = if ns.is_empty() {
            &mut self.unnamed
        } else {
            self.namespaces.entry(ns.to_string()).or_default()
        };
        if filter.has_wildcards() {
            match n
                .wild
                .iter_mut()
                .find(|(f, c, _)| f == filter && c == client)
            {
                Some(entry) => entry.2 = qos,
                None => n.wild.push((filter.clone(), client.clone(), qos)),
            }
        } else {
            n.exact
                .entry(filter.as_str().to_string())
                .or_default()
                .insert(client.clone(), qos);
        }
    }

    pub fn remove(&mut self, ns: &str, filter: &TopicFilter, client: &str) {
        self.last = None;
        let n = if ns.is_empty() {
            &mut self.unnamed
        } else if let Some(n) = self.namespaces.get_mut(ns) {
            n
        } else {
            return;
        };
        if filter.has_wildcards() {
            n.wild.retain(|(f, c, _)| !(f == filter && &**c == client));
        } else if let Some(m) = n.exact.get_mut(filter.as_str()) {
            m.remove(client);
            if m.is_empty() {
                n.exact.remove(filter.as_str());
            }
        }
        if n.exact.is_empty() && n.wild.is_empty() && !ns.is_empty() {
            self.namespaces.remove(ns);
        }
    }

    /// Whether any subscription could match `topic`: a cheap test before building a message nobody wants.
    pub fn has_exact(&self, ns: &str, topic: &str) -> bool {
        self.get(ns)
            .is_some_and(|n| !n.wild.is_empty() || n.exact.contains_key(topic))
    }

    /// Every subscriber of `topic`, once each, with the highest QoS among its matching filters (MQTT
    /// 3.1.1 §3.3.5: overlapping subscriptions deliver once at the maximum QoS). Borrowed from the last
    /// answer, which this keeps.
    pub fn targets(&mut self, ns: &str, topic: &TopicName) -> &[Target] {
        let hit = self
            .last
            .as_ref()
            .is_some_and(|(lns, ltopic, _)| ltopic.same(topic) && same_ns(lns, ns));
        if !hit {
            // The last answer's string and vector are reused: no allocation per miss (many devices
            // publishing in turn miss every time).
            let (mut lns, mut out) = match self.last.take() {
                Some((mut n, _, mut v)) => {
                    n.clear();
                    v.clear();
                    (n, v)
                }
                None => (String::new(), Vec::new()),
            };
            self.match_all(ns, topic, &mut out);
            lns.push_str(ns);
            self.last = Some((lns, topic.clone(), out));
        }
        self.last.as_ref().map_or(&[], |(_, _, t)| t.as_slice())
    }

    /// [`SubscriptionIndex::targets`] without the last answer.
    fn match_all(&self, ns: &str, topic: &TopicName, out: &mut Vec<Target>) {
        let Some(n) = self.get(ns) else {
            return;
        };
        if let Some(m) = n.exact.get(topic.as_str()) {
            out.extend(m.iter().map(|(c, q)| (c.clone(), *q)));
        }
        if n.wild.is_empty() {
            return;
        }
        for (f, c, q) in &n.wild {
            if !matches(f, topic) {
                continue;
            }
            match out.iter_mut().find(|(oc, _)| oc == c) {
                Some(e) => e.1 = e.1.max(*q),
                None => out.push((c.clone(), *q)),
            }
        }
    }
}

/// Namespace equality without comparing two empty strings (see `SubscriptionIndex::unnamed`).
fn same_ns(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> TopicFilter {
        TopicFilter::new(s).unwrap()
    }
    fn t(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    /// The index's answer for `topic` in `ns`, sorted (its order is the hash map's).
    fn sorted(idx: &mut SubscriptionIndex, ns: &str, topic: &TopicName) -> Vec<Target> {
        let mut out = idx.targets(ns, topic).to_vec();
        out.sort();
        out
    }

    #[test]
    fn exact_and_wildcard_with_overlap_deliver_once_at_max_qos() {
        let mut idx = SubscriptionIndex::default();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        idx.insert("", &f("s/1"), &a, QoS::AtMostOnce);
        idx.insert("", &f("s/+"), &a, QoS::ExactlyOnce);
        idx.insert("", &f("#"), &b, QoS::AtLeastOnce);
        let out = sorted(&mut idx, "", &t("s/1"));
        assert_eq!(
            out,
            vec![(a.clone(), QoS::ExactlyOnce), (b.clone(), QoS::AtLeastOnce)]
        );
        // '#' does not match '$' topics
        let out = sorted(&mut idx, "", &t("$SYS/x"));
        assert!(out.is_empty());
        idx.remove("", &f("s/+"), "a");
        let out = sorted(&mut idx, "", &t("s/1"));
        assert_eq!(out, vec![(a, QoS::AtMostOnce), (b, QoS::AtLeastOnce)]);
    }

    /// The same topic handle again is answered from the last lookup, and every subscribe and
    /// unsubscribe in between is seen; another namespace is not answered from it.
    #[test]
    fn a_repeated_topic_sees_every_change_in_between() {
        let mut idx = SubscriptionIndex::default();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let topic = t("s/1");
        idx.insert("", &f("s/1"), &a, QoS::AtMostOnce);
        let out = sorted(&mut idx, "", &topic);
        assert_eq!(out, vec![(a.clone(), QoS::AtMostOnce)]);
        let out = sorted(&mut idx, "", &topic);
        assert_eq!(out, vec![(a.clone(), QoS::AtMostOnce)]);
        idx.insert("", &f("s/+"), &b, QoS::AtLeastOnce);
        let out = sorted(&mut idx, "", &topic);
        assert_eq!(
            out,
            vec![(a.clone(), QoS::AtMostOnce), (b.clone(), QoS::AtLeastOnce)]
        );
        idx.remove("", &f("s/1"), "a");
        let out = sorted(&mut idx, "", &topic);
        assert_eq!(out, vec![(b.clone(), QoS::AtLeastOnce)]);
        let out = sorted(&mut idx, "339", &topic);
        assert!(out.is_empty(), "another namespace");
        idx.insert("339", &f("s/1"), &a, QoS::ExactlyOnce);
        let out = sorted(&mut idx, "339", &topic);
        assert_eq!(out, vec![(a, QoS::ExactlyOnce)]);
        let out = sorted(&mut idx, "", &topic);
        assert_eq!(out, vec![(b, QoS::AtLeastOnce)]);
    }

    #[test]
    fn namespaces_are_separate() {
        let mut idx = SubscriptionIndex::default();
        let a: Arc<str> = Arc::from("a");
        idx.insert("339", &f("/t"), &a, QoS::AtLeastOnce);
        let out = sorted(&mut idx, "400", &t("/t"));
        assert!(out.is_empty());
        let out = sorted(&mut idx, "339", &t("/t"));
        assert_eq!(out.len(), 1);
        idx.remove("339", &f("/t"), "a");
        assert!(idx.namespaces.is_empty());
    }
}
