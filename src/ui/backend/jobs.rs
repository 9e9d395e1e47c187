//! The console's actions on the running broker, each one task on the runtime through
//! [`Backend::with_service`]: sessions and queues, retained messages, the registry, datapoints and
//! commands. Each answers the window with one [`Reply`].

use bytes::Bytes;

use super::Backend;
use crate::service::api::{NewDevice, NewProduct};
use crate::ui::state::Reply;

/// Most history points loaded for a plot.
pub const HISTORY_MAX: usize = 1_000_000;

/// What a registry action says when the broker is stopped.
fn not_running() -> Option<Reply> {
    Some(Reply::Error("The broker is not running.".into()))
}

/// A registry change's outcome as a notice.
fn said<T, E: std::fmt::Display>(r: Result<T, E>, ok: impl FnOnce(T) -> String) -> Option<Reply> {
    Some(match r {
        Ok(v) => Reply::Info(ok(v)),
        Err(e) => Reply::Error(e.to_string()),
    })
}

impl Backend {
    pub fn kick(&self, client: String) {
        self.with_service(None, |s| async move {
            let ok = s.kick(&client).await;
            Some(if ok {
                Reply::Info(format!("Device {client} disconnected."))
            } else {
                Reply::Error(format!("Device {client} is not online."))
            })
        });
    }

    pub fn load_detail(&self, client: String) {
        self.with_service(None, |s| async move {
            let queue = s.queue(&client).await;
            let diagnostics = s.diagnostics(&client).await;
            Some(Reply::Detail {
                client,
                queue,
                diagnostics,
            })
        });
    }

    pub fn clear_queue(&self, client: String) {
        self.with_service(None, |s| async move {
            s.clear_queue(&client).await;
            let queue = s.queue(&client).await;
            Some(Reply::Detail {
                client,
                queue,
                diagnostics: Vec::new(),
            })
        });
    }

    pub fn delete_retained(&mut self, target: Option<(String, String)>) {
        self.with_service(None, |s| async move {
            let n = match &target {
                Some((ns, t)) => s.delete_retained(Some(ns), Some(t)).await,
                None => s.delete_retained(None, None).await,
            };
            Some(Reply::Info(format!("{n} retained message(s) deleted.")))
        });
    }

    pub fn add_product(&self, p: NewProduct) {
        self.with_service(not_running(), |s| async move {
            Some(Reply::Added(
                s.add_product(p)
                    .await
                    .map(|p| format!("Product {} added.", p.id))
                    .map_err(|e| format!("Product not added: {e}")),
            ))
        });
    }

    pub fn add_device(&self, d: NewDevice) {
        self.with_service(not_running(), |s| async move {
            Some(Reply::Added(
                s.add_device(d)
                    .await
                    .map(|d| format!("Device {} added.", d.id))
                    .map_err(|e| format!("Device not added: {e}")),
            ))
        });
    }

    pub fn update_product(&self, id: String, name: Option<String>, api_key: Option<String>) {
        self.with_service(not_running(), |s| async move {
            said(s.update_product(&id, name, api_key).await, |p| {
                format!("Product {} saved.", p.id)
            })
        });
    }

    pub fn update_device(&self, id: String, name: Option<String>, auth_info: Option<String>) {
        self.with_service(not_running(), |s| async move {
            said(s.update_device(&id, name, auth_info).await, |d| {
                format!("Device {} saved.", d.id)
            })
        });
    }

    pub fn delete_product(&self, id: String) {
        self.with_service(not_running(), |s| async move {
            said(s.delete_product(&id).await, |_| {
                format!("Product {id} and its devices deleted.")
            })
        });
    }

    pub fn delete_device(&self, id: String) {
        self.with_service(not_running(), |s| async move {
            said(s.delete_device(&id).await, |_| {
                format!("Device {id} deleted.")
            })
        });
    }

    pub fn load_streams(&self, device: String) {
        self.with_service(not_running(), |s| async move {
            Some(match s.datastreams(&device).await {
                Ok(streams) => Reply::Streams { device, streams },
                Err(e) => Reply::Error(format!("Cannot read datastreams: {e}")),
            })
        });
    }

    /// Loads the newest [`HISTORY_MAX`] points of a stream, in pages, newest page first.
    pub fn load_history(&self, device: String, stream: String) {
        self.with_service(not_running(), |s| async move {
            Some(
                match s.stream_history(&device, &stream, HISTORY_MAX).await {
                    Ok(points) => Reply::History {
                        device,
                        stream,
                        points,
                    },
                    Err(e) => Reply::Error(format!("Cannot read datapoints: {e}")),
                },
            )
        });
    }

    pub fn send_command(&self, device: String, body: Vec<u8>, validity_s: u32, qos: u8) {
        let stopped = Reply::CommandSent(Err("the broker is not running".into()));
        self.with_service(Some(stopped), move |s| async move {
            let r = s
                .send_command_qos(&device, Bytes::from(body), validity_s, qos)
                .await
                .map_err(|e| e.to_string());
            Some(Reply::CommandSent(r))
        });
    }

    pub fn command_history(&self, device: String) {
        self.with_service(None, |s| async move {
            match s.command_history(&device, None, None, 0, 200).await {
                Ok((commands, _)) => Some(Reply::CommandHistory { device, commands }),
                Err(e) => Some(Reply::Error(format!("Cannot read command history: {e}"))),
            }
        });
    }
}
