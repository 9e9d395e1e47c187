//! What a client puts in its CONNECT (every field of §3.1) and how its driver behaves.

use std::time::Duration;

use bytes::Bytes;

use crate::mqtt::{Connect, LastWill, QoS, TopicName};

use super::{ClientError, DEFAULT_MAX_PACKET};

/// CONNECT fields plus client-side limits. Built with [`ConnectOptions::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `host:port` of the broker.
    pub addr: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Bytes>,
    pub clean_session: bool,
    /// Seconds; 0 disables keepalive (no PINGREQ is sent).
    pub keep_alive: u16,
    pub will: Option<LastWill>,
    /// "MQTT" / 4 for 3.1.1; other values only to test what a broker does with them.
    pub protocol_name: String,
    pub level: u8,
    /// Outgoing QoS 1/2 messages awaiting their acknowledgement, at most (1..=65000).
    pub max_inflight: u16,
    /// Received PUBLISH packets buffered for the reader of [`super::Incoming`], at most.
    pub incoming_capacity: usize,
    /// Largest packet accepted from the broker.
    pub max_packet: usize,
    /// How long CONNECT may wait for its CONNACK.
    pub connect_timeout: Duration,
    /// Acknowledge QoS 1/2 PUBLISH from the broker (a fault injection turns this off: "skip PUBACK").
    pub ack_incoming: bool,
}

impl ConnectOptions {
    /// MQTT 3.1.1, clean session, keepalive 60 s, 64 messages in flight.
    pub fn new(addr: impl Into<String>, client_id: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            addr: addr.into(),
            client_id: client_id.into(),
            username: None,
            password: None,
            clean_session: true,
            keep_alive: 60,
            will: None,
            protocol_name: "MQTT".into(),
            level: 4,
            max_inflight: 64,
            incoming_capacity: 1024,
            max_packet: DEFAULT_MAX_PACKET,
            connect_timeout: Duration::from_secs(10),
            ack_incoming: true,
        }
    }

    /// OneNET auth method 1 or 2: user name = product id, password = auth_info or API key.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl AsRef<[u8]>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(Bytes::copy_from_slice(password.as_ref()));
        self
    }

    pub fn with_keep_alive(mut self, secs: u16) -> Self {
        self.keep_alive = secs;
        self
    }

    pub fn with_clean_session(mut self, clean: bool) -> Self {
        self.clean_session = clean;
        self
    }

    pub fn with_max_inflight(mut self, n: u16) -> Self {
        self.max_inflight = n;
        self
    }

    pub fn with_incoming_capacity(mut self, n: usize) -> Self {
        self.incoming_capacity = n;
        self
    }

    /// A will message published by the broker if this client goes away without DISCONNECT.
    pub fn with_will(
        mut self,
        topic: &str,
        message: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
    ) -> Result<Self, ClientError> {
        self.will = Some(LastWill {
            topic: TopicName::new(topic)?,
            message: message.into(),
            qos,
            retain,
        });
        Ok(self)
    }

    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.max_inflight == 0 || self.max_inflight > 65_000 {
            return Err(ClientError::Invalid(format!(
                "max_inflight must be 1..=65000, not {}",
                self.max_inflight
            )));
        }
        if self.incoming_capacity == 0 {
            return Err(ClientError::Invalid(
                "incoming_capacity must be at least 1".into(),
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            // [MQTT-3.1.2-22]: a password without a user name cannot be encoded.
            return Err(ClientError::Invalid("a password needs a user name".into()));
        }
        Ok(())
    }

    /// The CONNECT packet these options describe.
    pub fn connect_packet(&self) -> Connect {
        Connect {
            protocol_name: self.protocol_name.clone(),
            level: self.level,
            clean_session: self.clean_session,
            keep_alive: self.keep_alive,
            client_id: self.client_id.clone(),
            will: self.will.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}
