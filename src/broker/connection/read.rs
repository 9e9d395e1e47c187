//! One read from a client's socket into its input buffer.

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::run::READ_CHUNK;

/// The most a connection reads at once: a client that keeps its socket full is read in up to 16 KiB at a
/// time instead of 4 KiB. `loadgen --scenario qos0-4x4`, 10 alternating runs each: 3.03M deliveries/s and
/// 27.1 ms of broker CPU at 16 KiB against 2.65M and 30.7 ms at 4 KiB (bench/README, tenth round); 64
/// KiB did no better. Not more: every payload routed from a read is a slice of its buffer, and one that is
/// kept (a queued message) keeps the whole buffer alive.
pub(crate) const MAX_READ_CHUNK: usize = 16 * 1024;

/// How much a connection reads next: [`READ_CHUNK`], doubled after each read that filled its room (more
/// was waiting), up to [`MAX_READ_CHUNK`]; back to `READ_CHUNK` after one that did not. A client that
/// sends now and then is read 4 KiB at a time, as before; one that floods is read in fewer, larger reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunk(usize);

impl Default for Chunk {
    fn default() -> Self {
        Chunk(READ_CHUNK)
    }
}

impl Chunk {
    fn after(self, read: usize, room: usize) -> Chunk {
        if read >= room {
            Chunk((self.0 * 2).min(MAX_READ_CHUNK))
        } else {
            Chunk::default()
        }
    }
}

/// Reads what the socket holds into `buf` (after making room for `chunk` more bytes, or, once the client
/// is admitted and `frames` says up to what size, for the rest of a large frame: see [`room`]), and
/// sizes the next read (`chunk`, see [`Chunk`]); `Ok(0)` is the end of the stream.
///
/// A read that did not fill the room took everything the kernel had, so the socket's readiness is
/// cleared then and there: the next wait for readiness (`poll_read_ready` in the connection's loop,
/// `readable()` in the handshake) waits for new bytes instead of returning at once and
/// costing a read that finds nothing. Those empty reads (EAGAIN) were 42% of the read calls in a QoS 1
/// run and one of the three reads per connection in a connect/disconnect cycle (strace). Clearing is
/// race-free: the runtime clears only if no readiness event came in since this read began, and it keeps
/// the end-of-stream state, so a FIN that arrived with the data is still seen.
pub(super) fn read_some(
    stream: &TcpStream,
    buf: &mut BytesMut,
    frames: Option<usize>,
    chunk: &mut Chunk,
) -> std::io::Result<usize> {
    buf.reserve(frames.map_or(chunk.0, |max_packet| room(buf, max_packet, *chunk)));
    let room = buf.capacity() - buf.len();
    let mut got = None;
    let r = stream.try_io(Interest::READABLE, || {
        let n = stream.try_read_buf(buf)?;
        got = Some(n);
        if n > 0 && n < room {
            // Drained: report "would block" so the readiness goes (the bytes are in `buf`, `got` says how many).
            Err(std::io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match got {
        Some(n) => {
            *chunk = chunk.after(n, room);
            Ok(n)
        }
        None => r,
    }
}

/// The room to make before a read. A frame larger than `chunk` whose header is in (`check` has read its
/// length, within `max_packet`) gets room for exactly the rest of it. Grown a chunk at a time,
/// the buffer doubled: a 1 MiB message ended in a 2 MiB allocation, which the routed payload, a slice
/// of it, kept alive until delivered or stored (the mailbox's and the store backlog's byte bounds
/// count payloads, so the memory behind them was twice that), after copying it at every doubling.
/// Only for an admitted client: before CONNECT a 5-byte header would otherwise reserve `max_packet` for
/// any socket (untouched pages on Linux, but committed memory where the allocator commits, as on Windows).
fn room(buf: &[u8], max_packet: usize, chunk: Chunk) -> usize {
    match crate::mqtt::check(buf, max_packet) {
        Ok(Some(h)) if h.total_len() > chunk.0 && h.total_len() > buf.len() => {
            h.total_len() - buf.len()
        }
        _ => chunk.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A short read clears the readiness: `readable()` then waits until more bytes come, and the bytes
    /// that come later (and the end of the stream) are still read.
    #[tokio::test]
    async fn a_drained_socket_waits_for_new_bytes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        client.write_all(b"abc").await.unwrap();
        let mut buf = BytesMut::new();
        // Until the 3 bytes are in (the first readiness may come before them).
        while buf.len() < 3 {
            server.readable().await.unwrap();
            match read_some(&server, &mut buf, Some(1 << 20), &mut Chunk::default()) {
                Ok(n) => assert!(n > 0),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(&buf[..], b"abc");
        // Drained: the socket is no longer marked readable (`try_io` runs its closure only when it is),
        // so the next `readable()` waits for the client's next bytes.
        let probe = server.try_io(Interest::READABLE, || Ok(()));
        assert!(
            probe.is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "readiness was not cleared by the short read"
        );
        client.write_all(b"de").await.unwrap();
        client.shutdown().await.unwrap();
        loop {
            server.readable().await.unwrap();
            match read_some(&server, &mut buf, Some(1 << 20), &mut Chunk::default()) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(&buf[..], b"abcde");
    }

    /// A large PUBLISH read in pieces ends in a buffer of its own size, not one grown by doubling.
    #[tokio::test]
    async fn a_large_frame_gets_room_for_exactly_itself() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let mut frame = BytesMut::new();
        crate::mqtt::encode_publish(
            &mut frame,
            "big",
            crate::mqtt::QosPid::AtMostOnce,
            false,
            false,
            &vec![7u8; 1 << 20],
        )
        .unwrap();
        let total = frame.len();
        let writer = tokio::spawn(async move {
            // In pieces, as a network delivers it.
            for piece in frame.chunks(10_000) {
                client.write_all(piece).await.unwrap();
            }
            client
        });
        let mut buf = BytesMut::new();
        while buf.len() < total {
            server.readable().await.unwrap();
            match read_some(&server, &mut buf, Some(4 << 20), &mut Chunk::default()) {
                Ok(n) => assert!(n > 0),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(buf.len(), total);
        assert!(
            buf.capacity() < total + READ_CHUNK,
            "capacity {} for a frame of {total}",
            buf.capacity()
        );
        // Small frames still read a chunk at a time, and an oversize header reserves no more than that.
        assert_eq!(
            room(
                &[0x30, 5, 0, 1, b'a', b'x', b'y'],
                1 << 20,
                Chunk::default()
            ),
            READ_CHUNK
        );
        assert_eq!(
            room(&[0x30, 0xff, 0xff, 0x7f], 1 << 20, Chunk::default()),
            READ_CHUNK
        );
        drop(writer.await.unwrap());
    }

    /// A client that keeps the socket full is read in growing chunks, up to `MAX_READ_CHUNK`: 40,000
    /// bytes waiting take 4 reads (4, 8, 16 KiB and the rest) where 4 KiB reads took 10; the read that
    /// drains the socket sizes the next one back to `READ_CHUNK`.
    #[tokio::test]
    async fn a_full_socket_is_read_in_growing_chunks() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        client.write_all(&[0u8; 40_000]).await.unwrap();
        let mut chunk = Chunk::default();
        let (mut reads, mut total) = (Vec::new(), 0);
        while total < 40_000 {
            server.readable().await.unwrap();
            // A fresh buffer per read, as a connection's is once it has handled what it read.
            let mut buf = BytesMut::new();
            match read_some(&server, &mut buf, Some(1 << 20), &mut chunk) {
                Ok(n) => {
                    reads.push(n);
                    total += n;
                }
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(
            &reads[..3],
            [READ_CHUNK, 2 * READ_CHUNK, MAX_READ_CHUNK],
            "{reads:?}"
        );
        assert!(reads.len() <= 5, "{reads:?}");
        assert!(reads.iter().all(|&n| n <= MAX_READ_CHUNK), "{reads:?}");
        assert_eq!(chunk, Chunk::default(), "drained: back to {READ_CHUNK}");
    }
}
