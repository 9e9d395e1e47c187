//! The OneNET data plane inside the router: `$dp` uploads (store, datapoint subscriptions, events),
//! platform commands (`$creq` out, `$crsp` in, deadlines).

use std::sync::Arc;

use bytes::Bytes;

use crate::broker::message::Message;
use crate::broker::session::Offline;
use crate::events::{Event, StoredPoints};
use crate::mqtt::{QoS, TopicName};
use crate::onenet::commands::{
    Command, CommandError, CommandStatus, MAX_VALIDITY_S, ReplyOutcome, new_uuid,
};
use crate::onenet::datapoint::{DpOptions, time::format_datetime};
use crate::onenet::diagnostics::DiagKind;
use crate::store::{DpBatch, StoreOp};

use super::Router;
use super::publish::DeliveryQos;

impl Router {
    #[cfg(test)]
    pub(super) fn dp_options(&self) -> DpOptions {
        dp_options(&self.cfg)
    }

    /// A `$dp` upload: stored (the ack waits for the commit), delivered to datapoint subscribers
    /// (`/{device}/{stream}`, §10) at the upload's QoS, announced to watchers. A payload that does not
    /// decode stores nothing and records a diagnostic (§13). Returns false for a bad payload.
    pub(super) fn datapoints(
        &mut self,
        client: &Arc<str>,
        ns: &str,
        qos: QoS,
        payload: Bytes,
        result: crate::events::SharedDp,
    ) -> bool {
        let upload = match result {
            Ok(u) => u,
            Err(e) => {
                self.diag(
                    client,
                    DiagKind::BadDp,
                    format!("$dp payload rejected, nothing stored: {e}"),
                );
                return false;
            }
        };
        let now = self.now;
        crate::metrics::Metrics::add(&self.metrics.datapoints, upload.points.len() as u64);
        // Decoded once (by the connection), shared by the store, the event and the traffic view: no copy
        // of the points. A point without device time was taken at `now` (`StoredPoints::at`).
        let stored = Arc::new(StoredPoints {
            device_id: client.to_string(),
            received_at: now,
            upload,
        });
        self.fx.store(StoreOp::Datapoints(Box::new(DpBatch {
            qos: qos as u8,
            payload,
            upload: stored.clone(),
        })));
        let json = self.cfg.onenet.dp_subscription_json;
        let offset = self.cfg.onenet.dp_utc_offset_secs;
        let offline = self.offline_rule();
        for p in stored.points() {
            let topic = format!("/{client}/{}", p.stream);
            if !self.subs.has_exact(ns, &topic) {
                continue;
            }
            let Ok(topic) = TopicName::new(topic) else {
                continue;
            };
            let payload = if json {
                let at = format_datetime(stored.at(p), offset);
                Bytes::from(
                    serde_json::json!({"ds_id": p.stream, "at": at, "value": p.value.display_json()}).to_string(),
                )
            } else {
                p.value.subscription_payload()
            };
            self.route(
                ns,
                Message { topic, payload },
                DeliveryQos::Published(qos),
                offline,
            );
        }
        self.fx.event(Event::Datapoints(stored));
        true
    }

    /// `$crsp/{uuid}`: completes the device's command (first reply wins).
    pub(super) fn command_reply(&mut self, client: &Arc<str>, uuid: &str, reply: Bytes) {
        match self.commands.on_reply(client, uuid, reply, self.now) {
            ReplyOutcome::Completed(c) => self.command_changed(c),
            ReplyOutcome::Ignored(why) => self.diag(
                client,
                DiagKind::UnknownCommandReply,
                format!("$crsp/{uuid} ignored: {why}"),
            ),
        }
    }

    fn command_changed(&mut self, c: Command) {
        tracing::info!(uuid = %c.uuid, device = %c.device_id, status = c.status.code(), "command {}", c.status.desc());
        self.fx.store(StoreOp::PutCommand(Box::new(c.clone())));
        self.fx.event(Event::Command(Box::new(c)));
    }

    /// Publishes `$creq/{uuid}` at QoS 0 (§7.1) to the device's live connection.
    fn publish_command(&mut self, c: &Command) {
        let Ok(topic) = TopicName::new(format!("$creq/{}", c.uuid)) else {
            return;
        };
        let (limits, now) = (self.limits(), self.now);
        if let Some(s) = self.sessions.get_mut(c.device_id.as_str()) {
            let msg = Message {
                topic,
                payload: c.body.clone(),
            };
            s.deliver(
                msg,
                QoS::AtMostOnce,
                false,
                Offline::Skip,
                now,
                &mut self.fx,
                limits,
            );
        }
    }

    /// Creates a command for `device_id` (checked to exist by the caller) and sends it if the device is
    /// online. The ack of whoever asked does not wait for the store: the command is in memory and its
    /// creation is committed with the next batch.
    #[cfg(test)]
    pub fn send_command(
        &mut self,
        device_id: &str,
        body: Bytes,
        validity_s: u32,
    ) -> Result<Command, CommandError> {
        self.send_command_qos(device_id, body, validity_s, 0)
    }

    /// [`Self::send_command`] with the API's qos: 1 is resent at each login while unanswered and valid.
    pub fn send_command_qos(
        &mut self,
        device_id: &str,
        body: Bytes,
        validity_s: u32,
        qos: u8,
    ) -> Result<Command, CommandError> {
        if validity_s > MAX_VALIDITY_S {
            return Err(CommandError::Validity(validity_s as u64));
        }
        if qos > 1 {
            return Err(CommandError::Qos(qos));
        }
        let online = self.sessions.get(device_id).is_some_and(|s| s.online());
        let c = self.commands.create(
            new_uuid(),
            device_id,
            body,
            validity_s,
            qos,
            online,
            self.now,
        );
        if c.status == CommandStatus::Sent {
            self.publish_command(&c);
        }
        self.command_changed(c.clone());
        Ok(c)
    }

    /// At login: offline commands still valid go out, oldest first, after CONNACK, and so do `qos=1`
    /// commands sent before and not answered (each send is recorded on the command).
    pub(super) fn deliver_pending_commands(&mut self, client: &str, now: i64) {
        for c in self.commands.on_login(client, now) {
            self.publish_command(&c);
            self.command_changed(c);
        }
    }

    /// Response windows and validities that ran out.
    pub(super) fn command_tick(&mut self) {
        for c in self.commands.tick(self.now) {
            self.command_changed(c);
        }
    }
}

/// The `$dp` decoder settings from the config (connections decode with the same ones).
pub(crate) fn dp_options(cfg: &crate::config::Config) -> DpOptions {
    cfg.dp_options()
}
