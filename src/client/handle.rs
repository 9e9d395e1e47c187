//! The user-facing side of a connection: [`connect`], [`Client`], [`Delivery`], [`Incoming`].

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use crate::mqtt::{
    ConnAck, ConnectReturnCode, Packet, Publish, QoS, SubackCode, TopicFilter, TopicName,
};

use super::driver::{Cmd, Driver, OutMsg};
use super::{ClientError, ConnectOptions, Framed};

/// Commands queued for the driver, at most. Publishers wait here (after the in-flight window) when the
/// socket cannot keep up.
const CMD_CAPACITY: usize = 256;

/// Opens TCP, sends CONNECT, waits for CONNACK (up to `opts.connect_timeout`) and starts the driver task on
/// the current tokio runtime. A CONNACK with a non-zero code is [`ClientError::Refused`].
pub async fn connect(opts: ConnectOptions) -> Result<(Client, Incoming, ConnAck), ClientError> {
    opts.validate()?;
    let timeout = opts.connect_timeout;
    let handshake = async {
        let mut framed = Framed::connect(&opts.addr, opts.max_packet).await?;
        framed
            .write(&Packet::Connect(Box::new(opts.connect_packet())))
            .await?;
        match framed.read().await? {
            Some((Packet::ConnAck(ack), _)) => Ok((framed, ack)),
            Some((other, _)) => Err(ClientError::Unexpected {
                expected: "CONNACK",
                got: other.packet_type(),
            }),
            None => Err(ClientError::Closed(Some(
                "the broker closed the connection before CONNACK".into(),
            ))),
        }
    };
    let (framed, ack) = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| ClientError::Timeout(timeout))??;
    if ack.code != ConnectReturnCode::Accepted {
        return Err(ClientError::Refused { code: ack.code });
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(CMD_CAPACITY);
    let (in_tx, in_rx) = mpsc::channel(opts.incoming_capacity);
    let (closed_tx, closed_rx) = watch::channel(None);
    let window = Arc::new(Semaphore::new(opts.max_inflight as usize));
    let (stream, rbuf) = framed.into_inner();
    let driver = Driver::new(stream, rbuf, &opts, cmd_rx, in_tx, closed_tx);
    tokio::spawn(driver.run());
    let client = Client {
        tx: cmd_tx,
        window,
        client_id: Arc::from(opts.client_id.as_str()),
        closed: closed_rx,
    };
    Ok((client, Incoming { rx: in_rx }, ack))
}

/// A handle on one connection. Clones share it; when the last clone is dropped the driver closes the
/// socket without DISCONNECT (so the broker publishes the will, as for a device that lost power).
#[derive(Clone)]
pub struct Client {
    tx: mpsc::Sender<Cmd>,
    window: Arc<Semaphore>,
    client_id: Arc<str>,
    closed: watch::Receiver<Option<String>>,
}

/// The completion of one publish: resolves when the broker acknowledged it (PUBACK for QoS 1, PUBCOMP
/// for QoS 2), at once for QoS 0 (which has no acknowledgement).
#[must_use = "a Delivery says whether the broker acknowledged the message"]
pub struct Delivery(Option<oneshot::Receiver<Result<(), ClientError>>>);

impl Delivery {
    pub async fn wait(self) -> Result<(), ClientError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or(Err(ClientError::Closed(None))),
        }
    }
}

/// What the broker sends this client: PUBLISH packets, in order. `recv` returns `None` once the
/// connection has ended and everything received was read.
pub struct Incoming {
    rx: mpsc::Receiver<Publish>,
}

impl Incoming {
    pub async fn recv(&mut self) -> Option<Publish> {
        self.rx.recv().await
    }

    /// A message already received, without waiting.
    pub fn try_recv(&mut self) -> Option<Publish> {
        self.rx.try_recv().ok()
    }
}

impl Client {
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Publishes with RETAIN clear. Waits for a slot of the in-flight window (QoS 1/2) and for room in the
    /// driver's queue; the returned [`Delivery`] resolves on the acknowledgement.
    pub async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        payload: impl Into<Bytes>,
    ) -> Result<Delivery, ClientError> {
        self.publish_msg(TopicName::new(topic)?, qos, false, payload.into())
            .await
    }

    /// Publishes with RETAIN set.
    pub async fn publish_retained(
        &self,
        topic: &str,
        qos: QoS,
        payload: impl Into<Bytes>,
    ) -> Result<Delivery, ClientError> {
        self.publish_msg(TopicName::new(topic)?, qos, true, payload.into())
            .await
    }

    /// Publishes to an already validated topic.
    pub async fn publish_msg(
        &self,
        topic: TopicName,
        qos: QoS,
        retain: bool,
        payload: Bytes,
    ) -> Result<Delivery, ClientError> {
        let permit: Option<OwnedSemaphorePermit> = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(
                self.window
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ClientError::Closed(None))?,
            )
        };
        let (done, rx) = if qos == QoS::AtMostOnce {
            (None, None)
        } else {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        };
        self.send(Cmd::Publish(OutMsg {
            topic,
            qos,
            retain,
            payload,
            done,
            permit,
        }))
        .await?;
        Ok(Delivery(rx))
    }

    /// SUBSCRIBE; returns the SUBACK codes, one per filter in order.
    pub async fn subscribe(&self, filters: &[(&str, QoS)]) -> Result<Vec<SubackCode>, ClientError> {
        let filters = filters
            .iter()
            .map(|(f, q)| Ok((TopicFilter::new(*f)?, *q)))
            .collect::<Result<Vec<_>, ClientError>>()?;
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Subscribe { filters, done: tx }).await?;
        rx.await.unwrap_or(Err(ClientError::Closed(None)))
    }

    /// UNSUBSCRIBE; returns when the UNSUBACK arrived.
    pub async fn unsubscribe(&self, filters: &[&str]) -> Result<(), ClientError> {
        let filters = filters
            .iter()
            .map(|f| Ok(TopicFilter::new(*f)?))
            .collect::<Result<Vec<_>, ClientError>>()?;
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Unsubscribe { filters, done: tx }).await?;
        rx.await.unwrap_or(Err(ClientError::Closed(None)))
    }

    /// PINGREQ, returns on PINGRESP. The broker answers in order, so everything it sent before is in
    /// [`Incoming`] by then: a barrier for tests.
    pub async fn ping(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Ping { done: tx }).await?;
        rx.await.unwrap_or(Err(ClientError::Closed(None)))
    }

    /// Writes bytes as they are, in order with the packets queued before (fault injection).
    pub async fn send_raw(&self, bytes: Bytes) -> Result<(), ClientError> {
        self.send(Cmd::Raw(bytes)).await
    }

    /// DISCONNECT, then closes the socket once everything queued was written.
    pub async fn disconnect(&self) -> Result<(), ClientError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Disconnect { done: tx }).await?;
        rx.await.unwrap_or(Ok(()))
    }

    /// Closes the socket at once, without DISCONNECT (a dropped connection).
    pub async fn abort(&self) {
        let _ = self.send(Cmd::Abort).await;
        self.closed().await;
    }

    /// Waits until the connection has ended; returns why.
    pub async fn closed(&self) -> String {
        let mut rx = self.closed.clone();
        match rx.wait_for(|r| r.is_some()).await {
            Ok(r) => r.clone().unwrap_or_default(),
            Err(_) => "the driver stopped".into(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some() || self.tx.is_closed()
    }

    async fn send(&self, cmd: Cmd) -> Result<(), ClientError> {
        if self.tx.send(cmd).await.is_err() {
            let reason = self.closed.borrow().clone();
            return Err(ClientError::Closed(reason));
        }
        Ok(())
    }
}
