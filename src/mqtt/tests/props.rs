//! Property tests: round trips of arbitrary valid packets, no panics on
//! arbitrary bytes, and byte-at-a-time streaming.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use crate::mqtt::{
    ConnAck, Connect, ConnectReturnCode, DecodeOptions, LastTopic, LastWill, Packet, Pid, Publish,
    QoS, QosPid, SubAck, SubackCode, Subscribe, TopicFilter, TopicName, Unsubscribe, check, decode,
    decode_slice, decode_stream, decode_stream_frameless,
};

fn pid() -> impl Strategy<Value = Pid> {
    (1..=u16::MAX).prop_filter_map("non-zero", Pid::new)
}

fn qos() -> impl Strategy<Value = QoS> {
    (0..=2u8).prop_filter_map("0..=2", QoS::from_u8)
}

fn topic_name() -> impl Strategy<Value = TopicName> {
    "[a-zA-Z0-9_/$ é中-]{1,24}".prop_filter_map("valid name", |s| TopicName::new(s).ok())
}

fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![3 => "[a-z0-9$_]{0,4}", 1 => Just("+".to_string())];
    (prop::collection::vec(level, 1..5), any::<bool>()).prop_filter_map(
        "valid filter",
        |(mut levels, hash)| {
            if hash {
                levels.push("#".into());
            }
            TopicFilter::new(levels.join("/")).ok()
        },
    )
}

/// Printable text, which excludes U+0000 (a control character).
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,16}"
}

fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn connect() -> impl Strategy<Value = Packet> {
    let will = (topic_name(), binary(32), qos(), any::<bool>()).prop_map(
        |(topic, message, qos, retain)| LastWill {
            topic,
            message,
            qos,
            retain,
        },
    );
    (
        prop_oneof![Just("MQTT"), Just("MQIsdp")],
        any::<u8>(),
        any::<bool>(),
        any::<u16>(),
        text(),
        prop::option::of(will),
        prop::option::of(text()),
        prop::option::of(binary(32)),
    )
        .prop_map(
            |(name, level, clean_session, keep_alive, client_id, will, username, password)| {
                // A password needs a user name [MQTT-3.1.2-22].
                let password = password.filter(|_| username.is_some());
                Packet::Connect(Box::new(Connect {
                    protocol_name: name.into(),
                    level,
                    clean_session,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                }))
            },
        )
}

fn publish() -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        qos(),
        pid(),
        any::<bool>(),
        topic_name(),
        binary(300),
    )
        .prop_map(|(dup, qos, pid, retain, topic, payload)| {
            let qos_pid = QosPid::from_parts(qos, pid);
            Packet::Publish(Publish {
                // DUP is only meaningful (and only encoded) for QoS > 0.
                dup: dup && qos_pid.pid().is_some(),
                qos_pid,
                retain,
                topic,
                payload,
            })
        })
}

fn suback_code() -> impl Strategy<Value = SubackCode> {
    prop_oneof![
        qos().prop_map(SubackCode::Granted),
        Just(SubackCode::Failure)
    ]
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        connect(),
        (any::<bool>(), 0..=5u8).prop_map(|(session_present, code)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code: ConnectReturnCode::from_u8(code).unwrap_or(ConnectReturnCode::Accepted),
            })
        }),
        publish(),
        pid().prop_map(Packet::PubAck),
        pid().prop_map(Packet::PubRec),
        pid().prop_map(Packet::PubRel),
        pid().prop_map(Packet::PubComp),
        (pid(), prop::collection::vec((topic_filter(), qos()), 1..5))
            .prop_map(|(pid, filters)| Packet::Subscribe(Subscribe { pid, filters })),
        (pid(), prop::collection::vec(suback_code(), 1..8))
            .prop_map(|(pid, codes)| Packet::SubAck(SubAck { pid, codes })),
        (pid(), prop::collection::vec(topic_filter(), 1..5))
            .prop_map(|(pid, filters)| Packet::Unsubscribe(Unsubscribe { pid, filters })),
        pid().prop_map(Packet::UnsubAck),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        Just(Packet::Disconnect),
    ]
}

/// A first byte, a remaining length that matches the body, and a random
/// body: gets past framing far more often than uniform bytes do.
fn framed_garbage() -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(first, body)| {
        let mut v = vec![first];
        let mut n = body.len();
        loop {
            let b = u8::try_from(n % 128).unwrap_or(0);
            n /= 128;
            v.push(if n > 0 { b | 0x80 } else { b });
            if n == 0 {
                break;
            }
        }
        v.extend_from_slice(&body);
        v
    })
}

/// Decoding never panics and its result is consistent with the input.
fn check_no_panic(bytes: &[u8], max: usize) {
    let _ = check(bytes, max);
    let slice = decode_slice(bytes, max);
    let mut buf = BytesMut::from(bytes);
    let streamed = decode(&mut buf, max);
    match &streamed {
        Ok(None) => assert_eq!(&buf[..], bytes, "Ok(None) must not touch the buffer"),
        Ok(Some(d)) => {
            assert!(d.len <= bytes.len());
            assert_eq!(buf.len(), bytes.len() - d.len);
        }
        Err(e) => {
            assert!(e.offset() <= bytes.len(), "{e}");
            let _ = e.to_string();
        }
    }
    assert_eq!(slice, streamed);
    assert_frameless_agrees(bytes, max);
}

/// [`decode_stream_frameless`] gives what [`decode_stream`] gives (the same packet, length, conformance
/// note or error, the same bytes left), only without the frame.
fn assert_frameless_agrees(bytes: &[u8], max: usize) {
    let (mut a, mut b) = (BytesMut::from(bytes), BytesMut::from(bytes));
    let (mut la, mut lb) = (LastTopic::default(), LastTopic::default());
    loop {
        let framed = decode_stream(&mut a, max, DecodeOptions::default(), &mut la);
        let lean = decode_stream_frameless(&mut b, max, DecodeOptions::default(), &mut lb);
        assert_eq!(a, b, "same bytes left");
        match (framed, lean) {
            (Ok(Some(f)), Ok(Some(l))) => {
                assert_eq!(
                    (&f.packet, f.len, f.conformance),
                    (&l.packet, l.len, l.conformance)
                );
                assert!(l.frame.is_empty());
            }
            (f, l) => {
                assert_eq!(
                    f.map(|d| d.map(|d| d.packet)),
                    l.map(|d| d.map(|d| d.packet))
                );
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn roundtrip(p in packet()) {
        let bytes = p.to_bytes().expect("valid packets encode");
        prop_assert_eq!(bytes.len(), p.encoded_len());
        let mut buf = BytesMut::from(&bytes[..]);
        let d = decode(&mut buf, usize::MAX).expect("decodes").expect("complete");
        prop_assert_eq!(d.len, p.encoded_len());
        prop_assert_eq!(d.conformance, None);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&d.packet, &p);
        let h = check(&bytes, usize::MAX).expect("header").expect("complete");
        prop_assert_eq!(h.total_len(), bytes.len());
    }

    #[test]
    fn byte_at_a_time(p in packet()) {
        let bytes = p.to_bytes().expect("valid packets encode");
        let mut buf = BytesMut::new();
        for (i, b) in bytes.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let r = decode(&mut buf, usize::MAX).expect("a prefix is never an error");
            if i + 1 < bytes.len() {
                prop_assert!(r.is_none(), "decoded early at byte {}", i);
                prop_assert_eq!(buf.len(), i + 1);
            } else {
                let d = r.expect("complete at the last byte");
                prop_assert_eq!(&d.packet, &p);
                prop_assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn frameless_back_to_back(ps in prop::collection::vec(packet(), 1..6)) {
        let mut buf = BytesMut::new();
        for p in &ps {
            p.encode(&mut buf).expect("valid packets encode");
        }
        assert_frameless_agrees(&buf, usize::MAX);
    }

    #[test]
    fn back_to_back(ps in prop::collection::vec(packet(), 1..6)) {
        let mut buf = BytesMut::new();
        for p in &ps {
            p.encode(&mut buf).expect("valid packets encode");
        }
        for p in &ps {
            let d = decode(&mut buf, usize::MAX).expect("decodes").expect("complete");
            prop_assert_eq!(&d.packet, p);
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        max in prop_oneof![Just(usize::MAX), 0usize..4096],
    ) {
        check_no_panic(&bytes, max);
    }

    #[test]
    fn framed_garbage_never_panics(bytes in framed_garbage()) {
        check_no_panic(&bytes, usize::MAX);
    }

    /// A valid packet with one byte changed: never a panic, errors stay
    /// inside the packet.
    #[test]
    fn mutated_packets_never_panic(p in packet(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut bytes = p.to_bytes().expect("valid packets encode").to_vec();
        let i = at.index(bytes.len());
        bytes[i] = v;
        check_no_panic(&bytes, usize::MAX);
    }
}
