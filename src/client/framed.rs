//! Packet-level I/O over one TCP stream, with no protocol logic: what replay and byte-exact tests need.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::mqtt::{self, Packet};

use super::ClientError;

/// A TCP stream read and written as MQTT packets.
pub struct Framed {
    stream: TcpStream,
    buf: BytesMut,
    max_packet: usize,
}

impl Framed {
    pub async fn connect(addr: &str, max_packet: usize) -> Result<Framed, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        Ok(Framed::new(stream, max_packet))
    }

    pub fn new(stream: TcpStream, max_packet: usize) -> Framed {
        Framed {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            max_packet,
        }
    }

    /// The next packet and its exact bytes; `None` on a clean EOF between packets.
    pub async fn read(&mut self) -> Result<Option<(Packet, Bytes)>, ClientError> {
        loop {
            if let Some(h) = mqtt::check(&self.buf, self.max_packet)?
                && self.buf.len() >= h.total_len()
            {
                let raw = Bytes::copy_from_slice(self.buf.get(..h.total_len()).unwrap_or_default());
                let Some(d) = mqtt::decode(&mut self.buf, self.max_packet)? else {
                    return Err(ClientError::Io("frame vanished while decoding".into()));
                };
                return Ok(Some((d.packet, raw)));
            }
            // Bounded: `check` rejects a frame larger than max_packet before it is buffered.
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ClientError::Closed(Some(format!(
                        "EOF inside a packet ({} bytes buffered)",
                        self.buf.len()
                    ))))
                };
            }
        }
    }

    /// Encodes and writes one packet.
    pub async fn write(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let bytes = packet.to_bytes()?;
        self.write_raw(&bytes).await
    }

    /// Writes bytes as they are (recorded packets, deliberately malformed ones).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    pub fn into_inner(self) -> (TcpStream, BytesMut) {
        (self.stream, self.buf)
    }
}
