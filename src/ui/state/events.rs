//! The event reducer: what the broker's event channel delivers (connections, subscriptions, datapoints,
//! commands, diagnostics, packets) folded into the [`Model`], one event at a time.

use crate::events::{Event, Received};
use crate::onenet::commands::{Command, CommandStatus};
use crate::service::api::SessionInfo;
use crate::ui::state::Model;

/// Diagnostics kept per device in the console.
const DIAG_KEEP: usize = 200;

/// The row of "messages per topic" a topic is counted in: each command's `$creq/<uuid>` and
/// `$crsp/<uuid>` in one row per kind (a row per uuid would grow without bound and say nothing).
pub fn topic_group(topic: &str) -> String {
    for kind in ["$creq/", "$crsp/"] {
        if topic.starts_with(kind) {
            return format!("{kind}+");
        }
    }
    topic.to_string()
}

impl Model {
    fn session_mut(&mut self, client: &str) -> &mut SessionInfo {
        let i = match self.sessions.iter().position(|s| s.client_id == client) {
            Some(i) => i,
            None => {
                self.sessions.push(SessionInfo {
                    client_id: client.to_string(),
                    namespace: String::new(),
                    online: false,
                    remote: None,
                    clean_session: true,
                    keep_alive: 0,
                    subscriptions: Vec::new(),
                    inflight: 0,
                    queued: 0,
                    held_bytes: 0,
                    dropped: 0,
                    dropped_qos0: 0,
                    held_back: 0,
                    messages_in: 0,
                    messages_out: 0,
                    warnings: 0,
                    connected_at: None,
                    last_seen: None,
                    will: None,
                });
                self.sessions.len() - 1
            }
        };
        &mut self.sessions[i]
    }

    /// Takes in what the event channel delivered.
    pub fn apply_received(&mut self, r: Received) {
        match r {
            Received::Event(e) => self.apply_event(e),
            Received::Missed(n) => self.traffic.missed += n,
        }
    }

    pub fn apply_event(&mut self, e: Event) {
        let now = crate::ui::format::now_ms();
        match e {
            Event::Connected {
                client_id,
                namespace,
                remote,
                clean_session,
                keep_alive,
                ..
            } => {
                let s = self.session_mut(&client_id);
                s.online = true;
                s.namespace = namespace;
                s.remote = Some(remote);
                s.clean_session = clean_session;
                s.keep_alive = keep_alive;
                s.connected_at = Some(now);
                s.last_seen = Some(now);
            }
            Event::Disconnected { client_id, .. } => {
                let s = self.session_mut(&client_id);
                s.online = false;
                s.connected_at = None;
            }
            Event::Subscription {
                client_id,
                filter,
                qos,
            } => {
                let s = self.session_mut(&client_id);
                s.subscriptions.retain(|(f, _)| *f != filter);
                if let Some(q) = qos {
                    s.subscriptions.push((filter, q));
                }
            }
            Event::Datapoints(sp) => {
                let fields = self.prefs.plot_fields.get(&sp.device_id);
                let dev = self.streams.entry(sp.device_id.clone()).or_default();
                for p in sp.points() {
                    let at = sp.at(p);
                    let st = dev.entry(p.stream.clone()).or_default();
                    st.take_field(fields.and_then(|f| f.get(&p.stream)));
                    st.add(at, &p.value);
                }
            }
            Event::Command(c) => self.upsert_command(*c),
            Event::Retained { .. } => {}
            Event::StoreStatus { error } => self.store_error = error,
            Event::OfflineQueue {
                client_id, queued, ..
            } => {
                self.session_mut(&client_id).queued = queued;
            }
            Event::Diagnostic(d) => {
                self.warnings_total += 1;
                let ring = self.diagnostics.entry(d.device.clone()).or_default();
                if ring.len() == DIAG_KEEP {
                    ring.pop_front();
                }
                ring.push_back(*d);
            }
            Event::Packet {
                at,
                client_id,
                direction,
                bytes,
                dp,
            } => {
                if let Some(c) = &client_id
                    && let Some(s) = self.sessions.iter_mut().find(|s| s.client_id == *c)
                {
                    s.last_seen = Some(at);
                }
                self.traffic
                    .push(at, client_id, direction, &bytes, dp.as_ref());
                if let Some(row) = self.traffic.rows.back()
                    && row.kind == "PUBLISH"
                    && let Some(t) = &row.topic
                {
                    let c = self.topic_counts.entry(topic_group(t)).or_default();
                    match direction {
                        crate::events::Direction::In => c.0 += 1,
                        crate::events::Direction::Out => c.1 += 1,
                    }
                }
            }
        }
    }

    /// Adds or updates a command. Updates arrive by two paths (events, replies) in any order, so a
    /// command never goes back to an earlier state.
    pub(super) fn upsert_command(&mut self, c: Command) {
        fn stage(c: &Command) -> u8 {
            match c.status {
                CommandStatus::Created => 1,
                CommandStatus::Sent => 2,
                _ => 3,
            }
        }
        let list = self.commands.entry(c.device_id.clone()).or_default();
        match list.iter_mut().find(|x| x.uuid == c.uuid) {
            Some(x) => {
                if stage(&c) >= stage(x) {
                    *x = c;
                }
            }
            None => {
                list.insert(0, c);
                list.truncate(500);
            }
        }
    }
}
