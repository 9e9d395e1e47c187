//! The backend's replies (broker started or stopped, readings, history, command outcomes, exports …)
//! and the reducer that folds each into the [`Model`].

use std::net::SocketAddr;
use std::time::Instant;

use crate::config::Config;
use crate::onenet::commands::Command;
use crate::onenet::diagnostics::Diagnostic;
use crate::service::api::QueuedInfo;
use crate::service::api::{StoredDatapoint, StreamSummary};
use crate::ui::state::{BrokerState, ExportState, Level, Model, Snapshot};

/// Results of the backend's work.
#[derive(Debug)]
pub enum Reply {
    BrokerStarted {
        addr: SocketAddr,
        config: Box<Config>,
        /// Where the HTTP API listens, or why it does not although it is on.
        http: Result<Option<SocketAddr>, String>,
    },
    /// Settings applied while the broker runs (no restart) and saved: the config now in effect.
    ConfigApplied(Box<Config>),
    BrokerFailed(String),
    BrokerStopped,
    /// A step of a start, stop or restart under way.
    BrokerProgress(String),
    /// New settings could not be used (`error`); the broker goes on serving on `addr` with its old ones.
    BrokerKept {
        addr: SocketAddr,
        error: String,
    },
    Snapshot(Box<Snapshot>),
    Detail {
        client: String,
        queue: Vec<QueuedInfo>,
        diagnostics: Vec<Diagnostic>,
    },
    Streams {
        device: String,
        streams: Vec<StreamSummary>,
    },
    History {
        device: String,
        stream: String,
        points: Vec<StoredDatapoint>,
    },
    CommandSent(Result<Command, String>),
    CommandHistory {
        device: String,
        commands: Vec<Command>,
    },
    ExportProgress {
        done: u64,
        total: u64,
    },
    ExportDone(Result<String, String>),
    Info(String),
    Error(String),
    /// The system file dialog answered (None: cancelled or not available).
    Picked(Option<std::path::PathBuf>),
    /// The outcome of adding a product or device (the form keeps its input when it failed).
    Added(Result<String, String>),
    /// The registry changed: poll again.
    RegistryChanged,
}

impl Model {
    pub fn apply_reply(&mut self, r: Reply) {
        match r {
            Reply::BrokerStarted { addr, config, http } => {
                self.broker = BrokerState::Running {
                    addr,
                    since: Instant::now(),
                };
                self.config = *config;
                // A new store writer: an error the old one reported (disk full) is not this one's. If
                // the cause remains, the first failed commit reports it again.
                self.store_error = None;
                if let Err(e) = &http {
                    self.notify(Level::Error, format!("HTTP API off: {e}"));
                }
                self.http = http;
            }
            Reply::ConfigApplied(config) => {
                self.config = *config;
                self.notify(
                    Level::Info,
                    format!(
                        "Settings applied without a restart and saved to {}.",
                        Config::file_path(&self.config.data_dir).display()
                    ),
                );
            }
            Reply::BrokerProgress(step) => {
                let was_running_since = match &self.broker {
                    BrokerState::Running { since, .. } => Some(*since),
                    BrokerState::Busy {
                        was_running_since, ..
                    } => *was_running_since,
                    _ => None,
                };
                self.broker = BrokerState::Busy {
                    step,
                    was_running_since,
                };
            }
            Reply::BrokerKept { addr, error } => {
                self.notify(
                    Level::Error,
                    format!(
                        "{error}. The broker goes on serving on {addr} with its previous settings."
                    ),
                );
                let since = match &self.broker {
                    BrokerState::Running { since, .. } => *since,
                    BrokerState::Busy {
                        was_running_since: Some(s),
                        ..
                    } => *s,
                    _ => Instant::now(),
                };
                self.broker = BrokerState::Running { addr, since };
            }
            Reply::BrokerFailed(e) => {
                self.notify(Level::Error, format!("The broker did not start: {e}"));
                self.broker = BrokerState::Failed(e);
            }
            Reply::BrokerStopped => {
                self.broker = BrokerState::Stopped;
                self.http = Ok(None);
                for s in &mut self.sessions {
                    s.online = false;
                }
            }
            Reply::Snapshot(s) => self.apply_snapshot(*s, Instant::now()),
            Reply::Detail {
                client,
                queue,
                diagnostics,
            } => {
                self.queues.insert(client.clone(), queue);
                if !diagnostics.is_empty() {
                    self.diagnostics
                        .insert(client, diagnostics.into_iter().collect());
                }
            }
            Reply::Streams { device, streams } => {
                let dev = self.streams.entry(device).or_default();
                for s in streams {
                    let st = dev.entry(s.stream).or_default();
                    st.count = st.count.max(s.count);
                    if let Some(last) = s.last
                        && st.latest.as_ref().is_none_or(|(t, _)| last.at >= *t)
                    {
                        st.latest = Some((last.at, last.value));
                    }
                }
            }
            Reply::History {
                device,
                stream,
                points,
            } => {
                let field = self
                    .prefs
                    .plot_fields
                    .get(&device)
                    .and_then(|f| f.get(&stream))
                    .cloned();
                let st = self
                    .streams
                    .entry(device)
                    .or_default()
                    .entry(stream)
                    .or_default();
                st.take_field(field.as_ref());
                st.merge_history(points);
            }
            Reply::CommandSent(Ok(c)) => {
                self.last_sent = Some(c.uuid.clone());
                self.upsert_command(c);
            }
            Reply::CommandSent(Err(e)) => {
                self.notify(Level::Error, format!("Command not sent: {e}"))
            }
            Reply::CommandHistory { device, commands } => {
                for c in commands.into_iter().rev() {
                    if !self
                        .commands
                        .get(&device)
                        .is_some_and(|l| l.iter().any(|x| x.uuid == c.uuid))
                    {
                        self.upsert_command(c);
                    }
                }
                if let Some(l) = self.commands.get_mut(&device) {
                    l.sort_by_key(|c| std::cmp::Reverse(c.created_at));
                }
            }
            Reply::ExportProgress { done, total } => {
                self.export = Some(ExportState { done, total })
            }
            Reply::ExportDone(r) => {
                self.export = None;
                match r {
                    Ok(msg) => self.notify(Level::Info, msg),
                    Err(e) => self.notify(Level::Error, e),
                }
            }
            Reply::Added(r) => {
                match &r {
                    Ok(m) => self.notify(Level::Info, m.clone()),
                    Err(e) => self.notify(Level::Error, e.clone()),
                }
                let seq = self.add_outcome.as_ref().map_or(1, |(n, _)| n + 1);
                self.add_outcome = Some((seq, r));
            }
            Reply::Info(m) => self.notify(Level::Info, m),
            Reply::Error(e) => self.notify(Level::Error, e),
            Reply::RegistryChanged | Reply::Picked(_) => {}
        }
    }
}
