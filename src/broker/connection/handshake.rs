//! The CONNECT handshake: wait for CONNECT (at most `connect_timeout`), then admission, which decides on
//! it (`onenet::auth`), registers a device when the product auto-registers, and answers a refusal.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::Profile;
use crate::events::Direction;
use crate::mqtt::{ConnAck, Connect, ConnectReturnCode, Packet, decode};
use crate::onenet::auth::{Decision, Lookup, decide};
use crate::onenet::registry::{Device, Product};
use crate::store::{Db, NewDevice, StoreError};

use super::{ConnCtx, packet_event};

struct DbLookup<'a>(&'a Db);

impl Lookup for DbLookup<'_> {
    type Error = StoreError;
    fn product(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.0.product(id)
    }
    fn device(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.0.device(id)
    }
}

pub(super) async fn write_packet(stream: &mut TcpStream, p: &Packet) {
    if let Ok(bytes) = p.to_bytes() {
        let _ = stream.write_all(&bytes).await;
    }
}

/// CONNACK with a refusal code.
pub(super) fn refuse(code: ConnectReturnCode) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present: false,
        code,
    })
}

/// Admission (spec §3, §13): the namespace (the product id; empty in `mqtt`) and the CONNECT, or None
/// when the connection ends here (refused with its CONNACK, closed without one, or the store failed).
pub(super) async fn admit(
    stream: &mut TcpStream,
    remote: SocketAddr,
    ctx: &ConnCtx,
    connect: Box<Connect>,
) -> Option<(String, Box<Connect>)> {
    // Admission: the registry is SQLite, so it runs off the async threads. The `mqtt` profile reads no
    // registry (anonymous), so it is decided here without the hop to a blocking thread.
    let cfg = ctx.live.borrow().clone();
    let db = ctx.db.clone();
    let decision = if cfg.profile == Profile::Mqtt {
        let d = decide(cfg.profile, &connect, cfg.auto_register, &DbLookup(&db));
        Ok((d, connect))
    } else {
        tokio::task::spawn_blocking(move || {
            let d = decide(cfg.profile, &connect, cfg.auto_register, &DbLookup(&db));
            (d, connect)
        })
        .await
    };
    let Ok((decision, connect)) = decision else {
        return None;
    };
    let namespace = match decision {
        Err(e) => {
            tracing::error!(%remote, error = %e, "registry unavailable during CONNECT: CONNACK 3");
            write_packet(stream, &refuse(ConnectReturnCode::ServerUnavailable)).await;
            return None;
        }
        Ok(Decision::Close(why)) => {
            tracing::warn!(%remote, client = %connect.client_id, "CONNECT refused without CONNACK: {why}");
            return None;
        }
        Ok(Decision::Refuse(code, why)) => {
            tracing::warn!(%remote, client = %connect.client_id, code = code as u8, "CONNECT refused: {why}");
            write_packet(stream, &refuse(code)).await;
            return None;
        }
        Ok(Decision::Accept {
            namespace,
            register,
            method,
        }) => {
            if let Some((id, auth_info)) = register {
                let db = ctx.db.clone();
                let product = namespace.clone();
                let added = tokio::task::spawn_blocking(move || {
                    db.add_device(NewDevice {
                        product_id: product,
                        id: Some(id),
                        name: None,
                        auth_info: Some(auth_info),
                        auto_registered: true,
                    })
                })
                .await;
                match added {
                    Ok(Ok(d)) => {
                        tracing::info!(device = %d.id, product = %d.product_id, "new device auto-registered")
                    }
                    Ok(Err(e)) => {
                        // A store failure (busy, disk full) is not the device's fault: CONNACK 3, not 4.
                        let code = if e.is_transient() {
                            ConnectReturnCode::ServerUnavailable
                        } else {
                            ConnectReturnCode::BadUserNameOrPassword
                        };
                        tracing::warn!(%remote, client = %connect.client_id, error = %e, "auto-register failed: CONNACK {}", code as u8);
                        write_packet(stream, &refuse(code)).await;
                        return None;
                    }
                    Err(_) => return None,
                }
            }
            tracing::debug!(%remote, client = %connect.client_id, ?method, "CONNECT accepted");
            namespace
        }
    };
    Some((namespace, connect))
}

/// Waits for CONNECT (at most `connect_timeout`). `onenet` drops other packets before it (spec §3.2);
/// `mqtt` closes [MQTT-3.1.0-1].
pub(super) async fn read_connect(
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    remote: SocketAddr,
    ctx: &ConnCtx,
) -> Option<Box<Connect>> {
    let deadline = Instant::now() + ctx.cfg.limits.connect_timeout;
    loop {
        match decode(inbuf, ctx.cfg.limits.max_packet) {
            Ok(Some(d)) => match d.packet {
                Packet::Connect(mut c) => {
                    if ctx.events.watched() {
                        packet_event(
                            &ctx.events,
                            Some(&c.client_id),
                            Direction::In,
                            &d.frame,
                            None,
                        );
                    }
                    // The password and will payload are slices of the read buffer: copied, so the
                    // buffer is freed now rather than held for the whole connection.
                    if let Some(p) = c.password.as_mut() {
                        *p = bytes::Bytes::copy_from_slice(p);
                    }
                    if let Some(w) = c.will.as_mut() {
                        w.message = bytes::Bytes::copy_from_slice(&w.message);
                    }
                    return Some(c);
                }
                other if ctx.cfg.profile == Profile::OneNet => {
                    tracing::warn!(%remote, packet = other.packet_type().name(), "packet before CONNECT dropped (spec §3.2)");
                }
                other => {
                    tracing::warn!(%remote, packet = other.packet_type().name(),
                        "[MQTT-3.1.0-1] the first packet must be CONNECT: connection closed");
                    return None;
                }
            },
            // Readiness first, then a buffer (as after CONNECT).
            Ok(None) => match tokio::time::timeout_at(deadline, stream.readable()).await {
                Err(_) => {
                    tracing::warn!(%remote, "no CONNECT within {:?}: connection closed", ctx.cfg.limits.connect_timeout);
                    return None;
                }
                Ok(Err(_)) => return None,
                Ok(Ok(())) => match super::read::read_some(stream, inbuf, None) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return None,
                },
            },
            Err(e) => {
                tracing::warn!(%remote, "malformed packet before CONNECT: {e}");
                return None;
            }
        }
    }
}
