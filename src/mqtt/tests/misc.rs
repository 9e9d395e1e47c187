//! Identifiers, framing behaviour on partial input, zero-copy decoding and
//! encode errors.

use bytes::{Bytes, BytesMut};

use super::{MAX, dec, enc, name, pid};
use crate::mqtt::{
    Connect, EncodeError, Packet, PacketType, Pid, Publish, QoS, QosPid, SubAck, Subscribe, check,
    decode,
};

#[test]
fn pid_is_never_zero_and_wraps() {
    assert_eq!(Pid::new(0), None);
    assert_eq!(pid(1).get(), 1);
    assert_eq!(pid(1).next(), pid(2));
    assert_eq!(pid(65_534).next(), pid(65_535));
    assert_eq!(pid(65_535).next(), pid(1));
    assert_eq!(Pid::default(), pid(1));
}

#[test]
fn qos_pid_is_fused() {
    assert_eq!(
        QosPid::from_parts(QoS::AtMostOnce, pid(7)),
        QosPid::AtMostOnce
    );
    assert_eq!(QosPid::AtMostOnce.pid(), None);
    let q1 = QosPid::from_parts(QoS::AtLeastOnce, pid(7));
    assert_eq!((q1.qos(), q1.pid()), (QoS::AtLeastOnce, Some(pid(7))));
    let q2 = QosPid::from_parts(QoS::ExactlyOnce, pid(8));
    assert_eq!((q2.qos(), q2.pid()), (QoS::ExactlyOnce, Some(pid(8))));
    assert_eq!(QoS::from_u8(3), None);
    assert!(QoS::AtMostOnce < QoS::ExactlyOnce);
}

/// "Need more bytes" is `Ok(None)` and leaves the buffer as it was.
#[test]
fn partial_input_leaves_buffer_untouched() {
    let full = [0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x07];
    for n in 0..full.len() {
        let mut buf = BytesMut::from(&full[..n]);
        assert_eq!(decode(&mut buf, MAX), Ok(None), "{n} bytes");
        assert_eq!(&buf[..], &full[..n]);
        assert_eq!(crate::mqtt::decode_slice(&full[..n], MAX), Ok(None));
    }
    assert_eq!(check(&[], MAX), Ok(None));
    assert_eq!(check(&[0x30], MAX), Ok(None));
}

/// Back-to-back packets come out one at a time, leaving the rest.
#[test]
fn stream_of_packets() {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0xC0, 0x00]); // PINGREQ
    buf.extend_from_slice(&[0x40, 0x02, 0x00, 0x09]); // PUBACK 9
    buf.extend_from_slice(&[0x30, 0x03, 0x00, 0x01, b'a']); // PUBLISH "a", empty payload
    buf.extend_from_slice(&[0xE0]); // start of a DISCONNECT
    let mut got = Vec::new();
    while let Some(d) = decode(&mut buf, MAX).expect("valid stream") {
        got.push((d.packet, d.len));
    }
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (Packet::PingReq, 2));
    assert_eq!(got[1], (Packet::PubAck(pid(9)), 4));
    assert_eq!(got[2].1, 5);
    assert_eq!(&buf[..], &[0xE0]);
}

/// PUBLISH payloads are slices of the receive buffer, not copies.
#[test]
fn publish_payload_is_zero_copy() {
    let p = Packet::Publish(Publish::new(
        name("t"),
        QoS::AtLeastOnce,
        pid(1),
        Bytes::from(vec![7u8; 4096]),
    ));
    let mut buf = BytesMut::from(&enc(&p)[..]);
    let start = buf.as_ptr() as usize;
    let range = start..start + buf.len();
    let d = decode(&mut buf, MAX).expect("valid").expect("complete");
    let Packet::Publish(got) = &d.packet else {
        panic!("not a PUBLISH")
    };
    assert!(range.contains(&(got.payload.as_ptr() as usize)), "copied");
    assert_eq!(d.packet, p);
}

/// DUP is never written for QoS 0 [MQTT-3.3.1-2], e.g. after a downgrade.
#[test]
fn encoder_clears_dup_for_qos0() {
    let p = Packet::Publish(Publish {
        dup: true,
        qos_pid: QosPid::AtMostOnce,
        retain: false,
        topic: name("t"),
        payload: Bytes::new(),
    });
    assert_eq!(enc(&p), [0x30, 0x03, 0x00, 0x01, b't']);
}

fn connect_with(client_id: String, password: Option<Bytes>) -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: true,
        keep_alive: 0,
        client_id,
        will: None,
        username: Some("u".into()),
        password,
    }))
}

#[test]
fn encode_rejects_fields_over_65535_bytes() {
    let mut out = BytesMut::from(&b"keep"[..]);
    let p = connect_with("c".repeat(65_536), None);
    assert_eq!(
        p.encode(&mut out),
        Err(EncodeError::FieldTooLong {
            packet: PacketType::Connect,
            field: "client identifier",
            len: 65_536
        })
    );
    assert_eq!(&out[..], b"keep", "untouched on error");
    let p = connect_with("c".into(), Some(Bytes::from(vec![0; 70_000])));
    assert!(matches!(
        p.to_bytes(),
        Err(EncodeError::FieldTooLong {
            field: "password",
            ..
        })
    ));
    // 65535 is still fine and round-trips.
    let p = connect_with("c".repeat(65_535), Some(Bytes::from(vec![1; 65_535])));
    assert_eq!(dec(&enc(&p)).packet, p);
}

#[test]
fn encode_rejects_remaining_length_over_max() {
    // alloc_zeroed: the pages are never touched because encode fails first.
    let payload = Bytes::from(vec![0u8; 268_435_455]);
    let p = Packet::Publish(Publish::new(name("t"), QoS::AtMostOnce, pid(1), payload));
    let mut out = BytesMut::new();
    assert_eq!(
        p.encode(&mut out),
        Err(EncodeError::TooLarge {
            packet: PacketType::Publish,
            remaining_len: 268_435_455 + 3
        })
    );
    assert!(out.is_empty());
    assert_eq!(
        p.to_bytes().expect_err("too large").to_string(),
        "[§2.2.3] PUBLISH: remaining length would be 268435458; at most 268435455 can be encoded"
    );
}

/// The encoder writes what it is given where the wire format can carry it
/// (here an empty SUBSCRIBE and an empty SUBACK) so tests can send packets
/// the broker must reject; the decoder then rejects them.
#[test]
fn encoder_is_permissive_where_the_format_allows() {
    let s = Packet::Subscribe(Subscribe {
        pid: pid(1),
        filters: vec![],
    });
    assert_eq!(enc(&s), [0x82, 0x02, 0x00, 0x01]);
    assert!(crate::mqtt::decode_slice(&enc(&s), MAX).is_err());
    let a = Packet::SubAck(SubAck {
        pid: pid(1),
        codes: vec![],
    });
    assert_eq!(enc(&a), [0x90, 0x02, 0x00, 0x01]);
}

/// On one connection's stream, a PUBLISH to the topic of the previous one shares that topic (no new
/// allocation); another topic replaces it; a bad topic after a good one is still refused at its byte.
#[test]
fn a_repeated_topic_is_shared_and_a_new_one_checked() {
    use crate::mqtt::{DecodeError, DecodeOptions, LastTopic, decode_stream};
    let publish = |topic: &[u8]| {
        let mut v = vec![0x30, (2 + topic.len() + 1) as u8, 0, topic.len() as u8];
        v.extend_from_slice(topic);
        v.push(b'x');
        v
    };
    let mut last = LastTopic::default();
    let mut next = |bytes: Vec<u8>| {
        let mut buf = BytesMut::from(&bytes[..]);
        decode_stream(&mut buf, MAX, DecodeOptions::default(), &mut last).map(|d| {
            match d.map(|d| d.packet) {
                Some(Packet::Publish(p)) => p.topic,
                other => panic!("{other:?}"),
            }
        })
    };
    let a1 = next(publish(b"a/b")).unwrap();
    let a2 = next(publish(b"a/b")).unwrap();
    assert_eq!(a1.as_str().as_ptr(), a2.as_str().as_ptr(), "not shared");
    let c = next(publish(b"a/c")).unwrap();
    assert_eq!(c.as_str(), "a/c");
    assert_ne!(c.as_str().as_ptr(), a1.as_str().as_ptr());
    let c2 = next(publish(b"a/c")).unwrap();
    assert_eq!(c.as_str().as_ptr(), c2.as_str().as_ptr());
    // A prefix of the last topic, a wildcard, bad UTF-8: each decoded (and refused) on its own.
    assert_eq!(next(publish(b"a/")).unwrap().as_str(), "a/");
    assert!(matches!(
        next(publish(b"a/+")),
        Err(DecodeError::InvalidTopic { offset: 6, .. })
    ));
    assert!(matches!(
        next(publish(b"a/\xff")),
        Err(DecodeError::InvalidUtf8 { offset: 6, .. })
    ));
    // A topic length running past the frame is the same error as without a last topic.
    let short = vec![0x30, 0x03, 0x00, 0x05, b'a'];
    let mut plain = BytesMut::from(&short[..]);
    assert_eq!(
        next(short.clone()).unwrap_err(),
        decode(&mut plain, MAX).unwrap_err()
    );
}

/// A PUBLISH with an empty payload, decoded without its frame, keeps no share of the read buffer (as
/// the framed decoder's empty slice does not): queued for an offline session it would otherwise pin the
/// whole buffer.
#[test]
fn a_frameless_empty_payload_holds_no_share_of_the_buffer() {
    use crate::mqtt::{DecodeOptions, LastTopic, decode_stream_frameless};
    let bytes = [0x30, 0x05, 0x00, 0x03, b'a', b'/', b'b'];
    let mut buf = BytesMut::from(&bytes[..]);
    let start = buf.as_ptr() as usize;
    let d = decode_stream_frameless(
        &mut buf,
        MAX,
        DecodeOptions::default(),
        &mut LastTopic::default(),
    )
    .unwrap()
    .unwrap();
    let Packet::Publish(p) = d.packet else {
        panic!("{:?}", d.packet)
    };
    assert!(p.payload.is_empty());
    let at = p.payload.as_ptr() as usize;
    assert!(
        !(start..=start + bytes.len()).contains(&at),
        "an empty payload points into the read buffer"
    );
}
