//! Starting, stopping and restarting the broker as one task on the console's runtime: probe-bind the new
//! address while the old listener still serves, stop, start, and fall back to the old settings when the
//! new ones cannot start. Each step is reported to the window as it happens.

use std::net::SocketAddr;

use crate::config::Config;
use crate::events::EventReceiver;
use crate::service::ServiceHandle;
use crate::ui::state::Reply;

/// How a start/stop/restart ended.
pub(super) struct Outcome {
    pub(super) service: Option<ServiceHandle>,
    /// Subscribed as soon as the service runs, so the window misses no event while it catches up.
    pub(super) events: Option<EventReceiver>,
    pub(super) reply: Reply,
}

impl Outcome {
    pub(super) fn failed(e: String) -> Outcome {
        Outcome {
            service: None,
            events: None,
            reply: Reply::BrokerFailed(e),
        }
    }

    fn started(s: ServiceHandle, events: EventReceiver) -> Outcome {
        let http = match s.http_error() {
            Some(e) => Err(e.to_string()),
            None => Ok(s.http_addr()),
        };
        Outcome {
            events: Some(events),
            reply: Reply::BrokerStarted {
                addr: s.mqtt_addr(),
                config: Box::new((*s.config()).clone()),
                http,
            },
            service: Some(s),
        }
    }
}

/// Whether `to` could be bound while the broker still listens on `old`. Ok(true): bindable (the probe
/// is released at once). Ok(false): refused only because our own listener holds that port, so it can
/// be tried after the old one stops. Err: refused for another reason (taken by another program, no such
/// address): keep serving on the old one.
fn can_bind(to: SocketAddr, old: SocketAddr) -> std::io::Result<bool> {
    if to.port() == 0 || to == old {
        return Ok(true);
    }
    match std::net::TcpListener::bind(to) {
        Ok(_) => Ok(true),
        Err(e) => {
            let ours = to.port() == old.port()
                && (old.ip().is_unspecified() || to.ip().is_unspecified() || old.ip() == to.ip());
            if e.kind() == std::io::ErrorKind::AddrInUse && ours {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// The steps of a start/stop/restart; `step` reports each one to the window.
pub(super) async fn lifecycle(
    old: Option<ServiceHandle>,
    to: Option<Config>,
    fallback: Option<Config>,
    save: bool,
    say: impl Fn(Reply),
) -> Outcome {
    let step = |s: String| say(Reply::BrokerProgress(s));
    if let (Some(o), Some(new)) = (&old, &to) {
        let old_addr = o.mqtt_addr();
        let probe = new.mqtt_addr;
        let r = tokio::task::spawn_blocking(move || can_bind(probe, old_addr)).await;
        if let Ok(Err(e)) = r {
            let error = crate::service::StartError::Bind {
                addr: new.mqtt_addr,
                source: e,
            }
            .to_string();
            tracing::warn!("{error}; still serving on {old_addr}");
            return Outcome {
                reply: Reply::BrokerKept {
                    addr: old_addr,
                    error,
                },
                events: old.as_ref().map(|s| s.events()),
                service: old,
            };
        }
    }
    if let Some(o) = old {
        step(format!(
            "stopping: disconnecting {} and writing the store to disk…",
            o.mqtt_addr()
        ));
        o.shutdown().await;
    }
    let Some(config) = to else {
        return Outcome {
            service: None,
            events: None,
            reply: Reply::BrokerStopped,
        };
    };
    step(format!(
        "starting on {}: opening {}…",
        config.mqtt_addr,
        config.db_path().display()
    ));
    let e = match crate::start_watched(config.clone()).await {
        Ok((s, events)) => {
            tracing::info!("mqtt listening on {}", s.mqtt_addr());
            if save {
                let c = config.clone();
                match tokio::task::spawn_blocking(move || c.save()).await {
                    Ok(Ok(path)) => say(Reply::Info(format!(
                        "Settings saved to {}.",
                        path.display()
                    ))),
                    Ok(Err(e)) => say(Reply::Error(format!("Settings not saved: {e}"))),
                    Err(e) => say(Reply::Error(format!("Settings not saved: {e}"))),
                }
            }
            return Outcome::started(s, events);
        }
        Err(e) => e.to_string(),
    };
    tracing::error!("broker did not start: {e}");
    let Some(back) = fallback.filter(|b| *b != config) else {
        return Outcome::failed(e);
    };
    step(format!("going back to {}…", back.mqtt_addr));
    match crate::start_watched(back.clone()).await {
        Ok((s, events)) => Outcome {
            reply: Reply::BrokerKept {
                addr: s.mqtt_addr(),
                error: e,
            },
            events: Some(events),
            service: Some(s),
        },
        Err(e2) => Outcome::failed(format!(
            "{e}; going back to the previous settings failed too: {e2}"
        )),
    }
}
