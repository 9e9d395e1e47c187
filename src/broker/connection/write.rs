//! The connection task's write of its encoded output: at once when the socket takes it all (the usual
//! case), else chunk by chunk within the stuck-reader deadline, and never past a shutdown.

use std::pin::Pin;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFuture;

use super::super::message::Ending;
use super::run::Conn;
use crate::metrics::Metrics;
use crate::onenet::diagnostics::DiagKind;

impl Conn {
    /// Writes the whole write buffer. `Err` ends the connection: a socket error, a client that did not
    /// take the output it was given within `stuck_timeout` (a stuck reader, with a diagnostic), or the
    /// broker stopping.
    pub(super) async fn write_out(
        &mut self,
        mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    ) -> Result<(), Ending> {
        self.mark_writing();
        // The stuck-reader timer only for what the socket does not take at once (the usual case
        // takes all of it: no timer is armed and dropped per write).
        let done = match self.stream.try_write(&self.outbuf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(Ending::Abnormal(format!("socket error: {e}"))),
        };
        let rest = self.outbuf.get(done..).unwrap_or_default();
        let written = if rest.is_empty() {
            Ok(Ok(()))
        } else {
            // One deadline for everything taken at once, however many chunks it goes out in. The timeout
            // is the one in effect now (Settings applies it to open connections: read from `live`, only
            // on this path, where the socket did not take everything).
            let (deadline, _) = *self.write_deadline.get_or_insert_with(|| {
                let stuck = self.ctx.live.borrow().limits.stuck_timeout;
                (Instant::now() + stuck, stuck)
            });
            // A shutdown does not wait for a client that does not read: the broker's stop (Ctrl+C,
            // the console's restart) waited for every such write until `stuck_timeout` (60 s).
            // What was taken and not written goes as at any close: QoS 1/2 stay in flight in the
            // session (a persistent one resends them), a publisher resends what was not acknowledged.
            tokio::select! {
                biased;
                _ = &mut cancelled => return Err(Ending::ClosedByBroker),
                r = tokio::time::timeout_at(deadline, write_all(&self.stream, rest)) => r,
            }
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Ending::Abnormal(format!("socket error: {e}"))),
            Err(_) => {
                // The timeout this deadline was armed with (the setting may have changed since).
                let stuck = self.write_deadline.map(|(_, t)| t).unwrap_or_default();
                let why = format!(
                    "stuck reader: {} bytes of output not taken by the client within {stuck:?}; connection closed",
                    self.outbuf.len()
                );
                tracing::warn!(client = %self.client_id, "{why}");
                self.diagnostic(DiagKind::StuckReader, why.clone()).await;
                return Err(Ending::Abnormal(why));
            }
        }
        Metrics::add(&self.ctx.metrics.bytes_out, self.outbuf.len() as u64);
        Ok(())
    }
}

/// Writes all of `buf` to the shared socket (the outbox may write to it too, but only while this task
/// has told it that it is not writing).
async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = buf.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
