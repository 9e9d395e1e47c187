//! Retained messages: the latest per topic and namespace (MQTT 3.1.1 §3.3.1.3, OneNET spec §5).
//! Wills published with retain remember their sender, because OneNET clears them at the sender's next
//! normal login.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::mqtt::{QoS, TopicFilter, matches};

use super::message::{FastMap, Message, RetainedInfo};

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
}

impl RetainedStore {
    pub fn set(&mut self, ns: &str, r: Retained) {
        let topic = r.msg.topic.as_str().to_string();
        let added_will = r.will_of.is_some();
        let old = self
            .by_ns
            .entry(ns.to_string())
            .or_default()
            .insert(topic, r);
        if old.is_some_and(|o| o.will_of.is_some()) {
            self.wills -= 1;
        }
        if added_will {
            self.wills += 1;
        }
    }

    pub fn clear(&mut self, ns: &str, topic: &str) -> bool {
        let Some(m) = self.by_ns.get_mut(ns) else {
            return false;
        };
        let old = m.remove(topic);
        if m.is_empty() {
            self.by_ns.remove(ns);
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
            .flat_map(|(ns, m)| {
                m.values().map(move |r| RetainedInfo {
                    namespace: ns.clone(),
                    topic: r.msg.topic.as_str().to_string(),
                    payload: r.msg.payload.to_vec(),
                    qos: r.qos as u8,
                    from_will_of: r.will_of.as_ref().map(|c| c.to_string()),
                })
            })
            .collect()
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
    }
}
