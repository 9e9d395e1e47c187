//! One read from a client's socket into its input buffer.

use bytes::BytesMut;
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::run::READ_CHUNK;
use crate::mqtt::Pid;

/// Reads what the socket holds into `buf` (after making room for [`READ_CHUNK`] more bytes, or, once the
/// client is admitted and `frames` says up to what size, for the rest of a large frame: see [`room`]);
/// `Ok(0)` is the end of the stream.
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
) -> std::io::Result<usize> {
    buf.reserve(frames.map_or(READ_CHUNK, |max_packet| room(buf, max_packet)));
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
        Some(n) => Ok(n),
        None => r,
    }
}

/// What a held connection acts on at once (see [`take_acks`]).
#[derive(Debug, PartialEq)]
pub(super) enum Taken {
    /// PUBACK, PUBREC or PUBCOMP (the frame, whose first byte says which) of a delivery.
    Ack([u8; 4], Pid),
    /// PINGREQ: answered, so a client held longer than its keepalive is not left thinking the broker gone.
    Ping,
}

/// Takes the acknowledgements of the broker's own deliveries (PUBACK, PUBREC, PUBCOMP), and PINGREQs,
/// out of `buf`, leaving every other packet, and any partial one, in order at its front. For a connection held back
/// by a full subscriber (see `Conn::held_acks`): the client's PUBLISHes wait, but the acknowledgements
/// it sent behind them are acted on, so a session that this very client, or a client it holds back in
/// turn, has to drain can drain. An acknowledgement answers a delivery, not the client's own stream of
/// messages, so taking it early reorders nothing a client can see (nor does a PINGRESP: it says nothing
/// about the packets before the PINGREQ). An acknowledgement of packet id 0
/// stays, for the decoder to explain in order, and scanning stops at a header the decoder refuses (wrong
/// flags or length) for the same reason. `scanned`: how far an earlier call found
/// no acknowledgement (the complete frames before it are not looked at again); moved to where this one
/// stopped.
pub(super) fn take_acks(buf: &mut BytesMut, scanned: &mut usize, max_packet: usize) -> Vec<Taken> {
    let mut acks = Vec::new();
    let (mut at, mut kept) = (*scanned, *scanned);
    while let Ok(Some(h)) = crate::mqtt::check(buf.get(at..).unwrap_or_default(), max_packet) {
        let total = h.total_len();
        let Some(frame) = buf.get(at..at + total) else {
            break;
        };
        let ack = match frame {
            &[first @ (0x40 | 0x50 | 0x70), 2, hi, lo] => Pid::new(u16::from_be_bytes([hi, lo]))
                .map(|pid| Taken::Ack([first, 2, hi, lo], pid)),
            [0xC0, 0] => Some(Taken::Ping),
            _ => None,
        };
        match ack {
            Some(a) => acks.push(a),
            None => {
                buf.copy_within(at..at + total, kept);
                kept += total;
            }
        }
        at += total;
    }
    if !acks.is_empty() {
        let len = buf.len();
        buf.copy_within(at..len, kept);
        buf.truncate(kept + len - at);
    }
    *scanned = kept;
    acks
}

/// The room to make before a read. A frame larger than [`READ_CHUNK`] whose header is in (`check` has
/// read its length, within `max_packet`) gets room for exactly the rest of it. Grown a chunk at a time,
/// the buffer doubled: a 1 MiB message ended in a 2 MiB allocation, which the routed payload, a slice
/// of it, kept alive until delivered or stored (the mailbox's and the store backlog's byte bounds
/// count payloads, so the memory behind them was twice that), after copying it at every doubling.
/// Only for an admitted client: before CONNECT a 5-byte header would otherwise reserve `max_packet` for
/// any socket (untouched pages on Linux, but committed memory where the allocator commits, as on Windows).
fn room(buf: &[u8], max_packet: usize) -> usize {
    match crate::mqtt::check(buf, max_packet) {
        Ok(Some(h)) if h.total_len() > READ_CHUNK && h.total_len() > buf.len() => {
            h.total_len() - buf.len()
        }
        _ => READ_CHUNK,
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
            match read_some(&server, &mut buf, Some(1 << 20)) {
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
            match read_some(&server, &mut buf, Some(1 << 20)) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            }
        }
        assert_eq!(&buf[..], b"abcde");
    }

    /// Acknowledgements and PINGREQs come out from between PUBLISHes, the rest stays in order with a partial frame
    /// at the end; malformed acknowledgements stay for the decoder, and scanning stops at a malformed
    /// header; frames already scanned are not looked at again.
    #[test]
    fn acknowledgements_are_taken_from_between_other_packets() {
        let mut publish = BytesMut::new();
        crate::mqtt::encode_publish(
            &mut publish,
            "t",
            crate::mqtt::QosPid::AtLeastOnce(Pid::new(9).unwrap()),
            false,
            false,
            b"xy",
        )
        .unwrap();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&publish);
        buf.extend_from_slice(&[0x40, 2, 0, 7]); // PUBACK 7
        buf.extend_from_slice(&[0x40, 2, 0, 0]); // PUBACK 0: malformed, stays
        buf.extend_from_slice(&publish);
        buf.extend_from_slice(&[0x50, 2, 1, 0, 0xC0, 0, 0x70, 2, 0, 3]); // PUBREC 256, PINGREQ, PUBCOMP 3
        buf.extend_from_slice(&[0xE0, 0]); // DISCONNECT stays
        buf.extend_from_slice(&publish[..3]); // partial
        let mut scanned = 0;
        let acks = take_acks(&mut buf, &mut scanned, 1 << 20);
        let got: Vec<(u8, u16)> = acks
            .iter()
            .map(|t| match t {
                Taken::Ack(f, p) => (f[0], p.get()),
                Taken::Ping => (0xC0, 0),
            })
            .collect();
        assert_eq!(got, [(0x40, 7), (0x50, 256), (0xC0, 0), (0x70, 3)]);
        let mut rest = BytesMut::new();
        rest.extend_from_slice(&publish);
        rest.extend_from_slice(&[0x40, 2, 0, 0]);
        rest.extend_from_slice(&publish);
        rest.extend_from_slice(&[0xE0, 0]);
        rest.extend_from_slice(&publish[..3]);
        assert_eq!(buf, rest);
        // Scanned up to the partial frame; nothing to take from a second look, even from the start.
        assert_eq!(scanned, rest.len() - 3);
        let before = buf.clone();
        assert!(take_acks(&mut buf, &mut scanned, 1 << 20).is_empty());
        assert!(take_acks(&mut buf, &mut 0, 1 << 20).is_empty());
        assert_eq!(buf, before);
        // The partial frame completed as a PUBACK behind the frames already scanned: only it is taken.
        buf.truncate(buf.len() - 3);
        buf.extend_from_slice(&[0x40, 2, 0, 1]);
        let acks = take_acks(&mut buf, &mut scanned, 1 << 20);
        assert_eq!(acks, [Taken::Ack([0x40, 2, 0, 1], Pid::new(1).unwrap())]);
        assert_eq!(buf.len(), scanned);
        // A header the decoder refuses (PUBACK with flags 0010, or of length 3) stops the scan: what
        // follows waits for the decoder, in order.
        for first in [&[0x42, 2, 0, 5][..], &[0x40, 3, 0, 5, 0]] {
            let mut bad = BytesMut::from(first);
            bad.extend_from_slice(&[0x40, 2, 0, 6]);
            let len = bad.len();
            assert!(take_acks(&mut bad, &mut 0, 1 << 20).is_empty());
            assert_eq!(bad.len(), len);
        }
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
            match read_some(&server, &mut buf, Some(4 << 20)) {
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
            room(&[0x30, 5, 0, 1, b'a', b'x', b'y'], 1 << 20),
            READ_CHUNK
        );
        assert_eq!(room(&[0x30, 0xff, 0xff, 0x7f], 1 << 20), READ_CHUNK);
        drop(writer.await.unwrap());
    }
}
