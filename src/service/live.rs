//! What the router knows and does on request: sessions, queues, retained messages, commands,
//! diagnostics, HTTP push and datapoints ingested over HTTP. Each call is one message to the router task
//! and its answer; a stopped service answers empty (or `Stopped`).

use super::api::{DataError, QueuedInfo, RetainedInfo, RetainedPage, RetainedQuery, SessionInfo};
use super::{IngestError, MAX_COMMAND_BODY, ServiceHandle};
use crate::broker::message::RouterMsg;
use crate::events::EventReceiver;
use crate::metrics::MetricsSnapshot;
use crate::onenet::commands::{Command, CommandError};
use crate::onenet::diagnostics::Diagnostic;
use crate::store::StoreError;

impl ServiceHandle {
    /// The namespace a product's HTTP calls act in: the product's own in `onenet`; in `mqtt`, where
    /// every client logs in anonymously to one namespace, that one, so that a key of the local registry
    /// reaches the plain MQTT clients (their sessions, retained messages, pushes).
    pub fn namespace_for(&self, product_id: &str) -> String {
        match self.config().profile {
            crate::config::Profile::OneNet => product_id.to_string(),
            crate::config::Profile::Mqtt => String::new(),
        }
    }

    /// Every session, online or kept for a clean-session-0 client, sorted by client id.
    pub async fn sessions(&self) -> Vec<SessionInfo> {
        self.ask(RouterMsg::Sessions).await.unwrap_or_default()
    }

    /// Every retained message.
    pub async fn retained(&self) -> Vec<RetainedInfo> {
        self.try_retained().await.unwrap_or_default()
    }

    /// Every retained message; `None` when the broker did not answer (it is stopping), which is not
    /// the same as having none.
    pub async fn try_retained(&self) -> Option<Vec<RetainedInfo>> {
        self.ask(RouterMsg::Retained).await
    }

    /// One window of `namespace`'s retained messages (see [`RetainedQuery`]); empty when the broker is
    /// stopped.
    pub async fn retained_page(&self, namespace: &str, query: RetainedQuery) -> RetainedPage {
        let namespace = namespace.to_string();
        self.ask(|reply| RouterMsg::RetainedPage {
            namespace,
            query,
            reply,
        })
        .await
        .unwrap_or_default()
    }

    /// Closes the client's connection (its session stays if persistent). False if it was not online.
    pub async fn kick(&self, client_id: &str) -> bool {
        let client_id = client_id.to_string();
        self.ask(|done| RouterMsg::Kick { client_id, done })
            .await
            .unwrap_or(false)
    }

    /// Counters since start (the console turns them into rates).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Watches what happens: connections, datapoints, commands, diagnostics, every packet.
    pub fn events(&self) -> EventReceiver {
        self.inner.events.subscribe()
    }

    /// Sends a platform command (§7): `$creq/{uuid}` now if the device is online; otherwise, with
    /// `validity_s` > 0, when it next connects within that many seconds; with 0 the command is recorded
    /// with status 0 (device not online). The returned command carries the uuid and status.
    pub async fn send_command(
        &self,
        device_id: &str,
        body: bytes::Bytes,
        validity_s: u32,
    ) -> Result<Command, CommandError> {
        self.send_command_qos(device_id, body, validity_s, 0).await
    }

    /// [`Self::send_command`] with the API's `qos` (§7.2): 1 resends the command at each login of the
    /// device until it is answered or its validity runs out.
    pub async fn send_command_qos(
        &self,
        device_id: &str,
        body: bytes::Bytes,
        validity_s: u32,
        qos: u8,
    ) -> Result<Command, CommandError> {
        if qos > 1 {
            return Err(CommandError::Qos(qos));
        }
        if !matches!(self.device(device_id).await, Ok(Some(_))) {
            return Err(CommandError::UnknownDevice(device_id.to_string()));
        }
        if body.len() >= MAX_COMMAND_BODY {
            return Err(CommandError::BodyTooLarge(body.len(), MAX_COMMAND_BODY));
        }
        let device_id = device_id.to_string();
        self.ask(|reply| RouterMsg::SendCommand {
            device_id: device_id.clone(),
            body,
            validity_s,
            qos,
            reply,
        })
        .await
        .unwrap_or(Err(CommandError::UnknownDevice(device_id)))
    }

    /// A command by uuid, live or finished.
    pub async fn command(&self, uuid: &str) -> Option<Command> {
        let u = uuid.to_string();
        if let Some(c) = self
            .ask(|reply| RouterMsg::LiveCommand { uuid: u, reply })
            .await
            .flatten()
        {
            return Some(c);
        }
        self.flush().await;
        let store = self.inner.data.clone();
        let u = uuid.to_string();
        tokio::task::spawn_blocking(move || store.command(&u))
            .await
            .ok()?
            .ok()?
    }

    /// A device's commands created in [since, until] (Unix ms), newest first, and the total for paging.
    pub async fn command_history(
        &self,
        device_id: &str,
        since: Option<i64>,
        until: Option<i64>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Command>, u64), StoreError> {
        self.flush().await;
        let store = self.inner.data.clone();
        let d = device_id.to_string();
        tokio::task::spawn_blocking(move || store.commands(&d, since, until, offset, limit))
            .await
            .unwrap_or_else(|_| Ok((Vec::new(), 0)))
    }

    /// The device's recent conformance diagnostics, oldest first.
    pub async fn diagnostics(&self, device_id: &str) -> Vec<Diagnostic> {
        let device_id = device_id.to_string();
        self.ask(|reply| RouterMsg::Diagnostics { device_id, reply })
            .await
            .unwrap_or_default()
    }

    /// Deletes retained messages: one (`namespace` and `topic`), a namespace's, or all. Returns how many.
    pub async fn delete_retained(&self, namespace: Option<&str>, topic: Option<&str>) -> usize {
        let (namespace, topic) = (namespace.map(str::to_string), topic.map(str::to_string));
        self.ask(|reply| RouterMsg::DeleteRetained {
            namespace,
            topic,
            reply,
        })
        .await
        .unwrap_or(0)
    }

    /// The deliveries waiting for a session: in flight (with packet id) and queued.
    pub async fn queue(&self, client_id: &str) -> Vec<QueuedInfo> {
        let client_id = client_id.to_string();
        self.ask(|reply| RouterMsg::Queue { client_id, reply })
            .await
            .unwrap_or_default()
    }

    /// Drops a session's queued deliveries (not those in flight). Returns how many.
    pub async fn clear_queue(&self, client_id: &str) -> usize {
        let client_id = client_id.to_string();
        self.ask(|reply| RouterMsg::ClearQueue { client_id, reply })
            .await
            .unwrap_or(0)
    }

    /// HTTP push (§8.3): `payload` at QoS 0 to the online subscribers of `topic` in the product; offline
    /// sessions do not get it. Returns how many received it.
    pub async fn push(
        &self,
        product_id: &str,
        topic: &str,
        payload: bytes::Bytes,
    ) -> Result<usize, crate::mqtt::TopicError> {
        let topic = crate::mqtt::TopicName::new(topic)?;
        let namespace = self.namespace_for(product_id);
        Ok(self
            .ask(|reply| RouterMsg::Push {
                namespace,
                topic,
                payload,
                reply,
            })
            .await
            .unwrap_or(0))
    }

    /// Stores datapoints for `device_id` as if it had uploaded `$dp` type 1 with this JSON body
    /// (`{"datastreams":[{"id":…,"datapoints":[{"at":…,"value":…}]}]}`), and returns once they are
    /// committed. Datapoint subscribers and the console see them like any upload.
    pub async fn ingest_datapoints(
        &self,
        device_id: &str,
        json: &[u8],
    ) -> Result<usize, IngestError> {
        let device = self
            .device(device_id)
            .await
            .map_err(|e| match e {
                DataError::Store(e) => IngestError::Store(e),
                DataError::Stopped => IngestError::Stopped,
            })?
            .ok_or_else(|| IngestError::UnknownDevice(device_id.to_string()))?;
        let len = u16::try_from(json.len()).map_err(|_| IngestError::TooLarge(json.len()))?;
        let mut payload = Vec::with_capacity(json.len() + 3);
        payload.push(1);
        payload.extend_from_slice(&len.to_be_bytes());
        payload.extend_from_slice(json);
        let upload = crate::onenet::datapoint::decode(&payload, &self.dp_options())?;
        let n = upload.points.len();
        let namespace = self.namespace_for(&device.product_id);
        let seq = self
            .ask(|reply| RouterMsg::Ingest {
                device_id: device.id,
                namespace,
                payload: bytes::Bytes::from(payload),
                upload,
                reply,
            })
            .await
            .ok_or(IngestError::Stopped)?;
        let mut committed = self.inner.store.committed();
        committed
            .wait_for(|c| *c >= seq)
            .await
            .map_err(|_| IngestError::Stopped)?;
        Ok(n)
    }
}
