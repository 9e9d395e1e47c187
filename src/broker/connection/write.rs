//! The connection task's write of its encoded output: at once when the socket takes it all (the usual
//! case), else as the socket takes it, closing a connection whose socket takes no byte for the
//! stuck-reader timeout, and never past a shutdown.

use std::pin::Pin;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFuture;

use super::super::message::Ending;
use super::run::Conn;
use crate::metrics::Metrics;
use crate::onenet::diagnostics::DiagKind;

impl Conn {
    /// Writes the whole write buffer. `Err` ends the connection: a socket error, a client whose socket
    /// took no byte of it for `stuck_timeout` (a stuck reader, with a diagnostic), or the broker
    /// stopping. A client that reads slowly but keeps reading is not stuck (issue 10: "no progress");
    /// one that reads and does not acknowledge QoS 1/2 is closed by `ack_timeout`, and QoS 0 beyond its
    /// output bound is dropped, so a slow reader holds no publisher back for long.
    pub(super) async fn write_out(
        &mut self,
        mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    ) -> Result<(), Ending> {
        self.mark_writing();
        // One try first, outside the select below (the usual case takes everything: no timer armed, no
        // waiter joined on the shutdown token per write).
        let done = match self.stream.try_write(&self.outbuf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(Ending::Abnormal(format!("socket error: {e}"))),
        };
        if done > 0 {
            self.write_deadline = None;
        }
        let rest = self.outbuf.get(done..).unwrap_or_default();
        let written = if rest.is_empty() {
            Ok(())
        } else {
            // The timeout in effect when a wait begins (Settings applies it to open connections).
            let live = &self.ctx.live;
            let stuck = || live.borrow().limits.stuck_timeout;
            // A shutdown does not wait for a client that does not read: the broker's stop (Ctrl+C,
            // the console's restart) waited for every such write until `stuck_timeout` (60 s).
            // What was taken and not written goes as at any close: QoS 1/2 stay in flight in the
            // session (a persistent one resends them), a publisher resends what was not acknowledged.
            tokio::select! {
                biased;
                _ = &mut cancelled => return Err(Ending::ClosedByBroker),
                r = write_progressing(&*self.stream, rest, &mut self.write_deadline, stuck) => r,
            }
        };
        match written {
            Ok(()) => {}
            Err(Stalled::Io(e)) => return Err(Ending::Abnormal(format!("socket error: {e}"))),
            Err(Stalled::NoProgress) => {
                // The timeout this deadline was armed with (the setting may have changed since).
                let stuck = self.write_deadline.map(|(_, t)| t).unwrap_or_default();
                let why = format!(
                    "stuck reader: the client took no byte of its {} bytes of output within {stuck:?}; connection closed",
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

/// Why [`write_progressing`] stopped short.
#[derive(Debug)]
pub(super) enum Stalled {
    /// The socket took no byte for the timeout.
    NoProgress,
    Io(std::io::Error),
}

/// A socket that takes bytes when it has room: the connection's TCP stream, or a test's stand-in.
pub(super) trait Room {
    /// Waits until a write may take something.
    async fn writable(&self) -> std::io::Result<()>;
    /// Takes what fits now (`WouldBlock` when nothing does).
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize>;
}

/// Writes to the shared socket (the outbox may write to it too, but only while this task has told it
/// that it is not writing).
impl Room for TcpStream {
    async fn writable(&self) -> std::io::Result<()> {
        TcpStream::writable(self).await
    }
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        TcpStream::try_write(self, buf)
    }
}

/// Writes all of `buf`, waiting while the socket is full. Each wait is bounded by the stuck-reader
/// timeout (`stuck()`, read when a wait begins) counted from when the socket last took a byte: the
/// deadline, with its timeout, is kept in `deadline` across calls while nothing is taken, and cleared
/// whenever something is.
pub(super) async fn write_progressing<R: Room>(
    room: &R,
    mut buf: &[u8],
    deadline: &mut Option<(Instant, Duration)>,
    stuck: impl Fn() -> Duration,
) -> Result<(), Stalled> {
    while !buf.is_empty() {
        match room.try_write(buf) {
            Ok(0) => return Err(Stalled::Io(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                buf = buf.get(n..).unwrap_or_default();
                *deadline = None;
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Stalled::Io(e)),
        }
        let (at, _) = *deadline.get_or_insert_with(|| {
            let t = stuck();
            (Instant::now() + t, t)
        });
        match tokio::time::timeout_at(at, room.writable()).await {
            Err(_) => return Err(Stalled::NoProgress),
            Ok(Err(e)) => return Err(Stalled::Io(e)),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket whose room the test hands out: `credit` bytes may be taken, then it is full.
    struct Trickle {
        credit: tokio::sync::watch::Sender<usize>,
    }

    impl Trickle {
        fn new() -> Trickle {
            Trickle {
                credit: tokio::sync::watch::channel(0).0,
            }
        }
        fn give(&self, n: usize) {
            self.credit.send_modify(|c| *c += n);
        }
    }

    impl Room for Trickle {
        async fn writable(&self) -> std::io::Result<()> {
            let mut rx = self.credit.subscribe();
            let _ = rx.wait_for(|c| *c > 0).await;
            Ok(())
        }
        fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
            let mut took = 0;
            self.credit.send_if_modified(|c| {
                took = (*c).min(buf.len());
                *c -= took;
                took > 0
            });
            if took == 0 {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
            Ok(took)
        }
    }

    const STUCK: Duration = Duration::from_secs(5);

    /// A reader that takes 4 KiB every 2 s is slow (100 KiB take 50 s, ten times the timeout) but not
    /// stuck: each byte it takes restarts the timeout.
    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_stuck() {
        let room = std::sync::Arc::new(Trickle::new());
        let feeder = {
            let room = room.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    room.give(4096);
                }
            })
        };
        let t0 = Instant::now();
        let mut deadline = None;
        let r = write_progressing(&*room, &[7u8; 100 * 1024], &mut deadline, || STUCK).await;
        assert!(r.is_ok(), "{r:?}");
        assert!(
            t0.elapsed() >= Duration::from_secs(48),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(deadline, None, "the last write took bytes");
        feeder.abort();
    }

    /// A reader that stops taking bytes is stuck the timeout after its last byte, not after the write
    /// began.
    #[tokio::test(start_paused = true)]
    async fn a_reader_that_stops_is_stuck_the_timeout_after_its_last_byte() {
        let room = std::sync::Arc::new(Trickle::new());
        let feeder = {
            let room = room.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                    room.give(1024);
                }
            })
        };
        let t0 = Instant::now();
        let mut deadline = None;
        let r = write_progressing(&*room, &[7u8; 64 * 1024], &mut deadline, || STUCK).await;
        assert!(matches!(r, Err(Stalled::NoProgress)), "{r:?}");
        // Bytes taken at 4, 8 and 12 s; stuck at 12 + 5.
        assert_eq!(t0.elapsed(), Duration::from_secs(17));
        assert_eq!(
            deadline.map(|(_, t)| t),
            Some(STUCK),
            "the timeout it was armed with"
        );
        feeder.await.unwrap();
    }
}
