//! One case (at least) per [`DecodeError`] variant, asserting the rule id
//! and the byte offset, plus exact messages for a few.

use std::collections::BTreeSet;

use super::{MAX, dec_err, dec_err_max};
use crate::mqtt::{DecodeError, PacketType, TopicError, check};

/// Exhaustive, so adding a variant breaks the build until it gets a case.
fn variant(e: &DecodeError) -> &'static str {
    use DecodeError as E;
    match e {
        E::ReservedPacketType { .. } => "ReservedPacketType",
        E::InvalidFlags { .. } => "InvalidFlags",
        E::PublishQos3 { .. } => "PublishQos3",
        E::PublishDupQos0 { .. } => "PublishDupQos0",
        E::RemainingLengthOverflow => "RemainingLengthOverflow",
        E::TooLarge { .. } => "TooLarge",
        E::BadLength { .. } => "BadLength",
        E::ZeroPid { .. } => "ZeroPid",
        E::Truncated { .. } => "Truncated",
        E::InvalidUtf8 { .. } => "InvalidUtf8",
        E::NullChar { .. } => "NullChar",
        E::ProtocolName { .. } => "ProtocolName",
        E::ConnectReservedFlag { .. } => "ConnectReservedFlag",
        E::WillQosWithoutWill { .. } => "WillQosWithoutWill",
        E::WillRetainWithoutWill { .. } => "WillRetainWithoutWill",
        E::WillQos3 { .. } => "WillQos3",
        E::PasswordWithoutUsername { .. } => "PasswordWithoutUsername",
        E::TrailingBytes { .. } => "TrailingBytes",
        E::EmptyPayload { .. } => "EmptyPayload",
        E::SubscribeQos { .. } => "SubscribeQos",
        E::InvalidTopic { .. } => "InvalidTopic",
        E::SubackCode { .. } => "SubackCode",
        E::ConnAckFlags { .. } => "ConnAckFlags",
        E::ConnAckCode { .. } => "ConnAckCode",
    }
}

const VARIANT_COUNT: usize = 24;

/// A CONNECT header up to and including the connect flags (byte 9), for
/// cases about the flags. Remaining length is patched by `connect`.
fn connect(flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0x10, // CONNECT
        0x00, // remaining length (patched below)
        0x00, 0x04, b'M', b'Q', b'T', b'T',  // protocol name (bytes 2-7)
        0x04,  // protocol level (byte 8)
        flags, // connect flags (byte 9)
        0x00, 0x3C, // keep alive (bytes 10-11)
    ];
    v.extend_from_slice(rest);
    v[1] = u8::try_from(v.len() - 2).expect("short test packet");
    v
}

/// (variant, bytes, expected rule, expected offset). Offsets count from
/// byte 0 = the first fixed-header byte. One case per line, so unformatted.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Vec<u8>, Option<&'static str>, usize)> {
    vec![
        ("ReservedPacketType", vec![0x00, 0x00], None, 0),
        ("ReservedPacketType", vec![0xF0, 0x00], None, 0),
        ("InvalidFlags", vec![0x84, 0x02, 0x00, 0x01], Some("MQTT-3.8.1-1"), 0),
        ("InvalidFlags", vec![0xA8, 0x02, 0x00, 0x01], Some("MQTT-3.10.1-1"), 0),
        ("InvalidFlags", vec![0x63, 0x02, 0x00, 0x01], Some("MQTT-3.6.1-1"), 0),
        ("InvalidFlags", vec![0x41, 0x02, 0x00, 0x01], Some("MQTT-2.2.2-1"), 0),
        ("InvalidFlags", vec![0x12, 0x00], Some("MQTT-2.2.2-1"), 0),
        ("PublishQos3", vec![0x36, 0x03, 0x00, 0x01, b'a'], Some("MQTT-3.3.1-4"), 0),
        ("PublishDupQos0", vec![0x38, 0x03, 0x00, 0x01, b'a'], Some("MQTT-3.3.1-2"), 0),
        // Fourth length byte (byte 4) still has the continuation bit.
        ("RemainingLengthOverflow", vec![0x30, 0xFF, 0xFF, 0xFF, 0x80], None, 4),
        // PUBACK with remaining length 3; PINGREQ with 1; CONNACK with 1.
        ("BadLength", vec![0x40, 0x03, 0x00, 0x01, 0x00], None, 1),
        ("BadLength", vec![0xC0, 0x01, 0x00], None, 1),
        ("BadLength", vec![0x20, 0x01, 0x00], None, 1),
        ("ZeroPid", vec![0x40, 0x02, 0x00, 0x00], Some("MQTT-2.3.1-1"), 2),
        // PUBLISH QoS 1, topic "a", packet identifier 0 at byte 5.
        ("ZeroPid", vec![0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00], Some("MQTT-2.3.1-1"), 5),
        ("ZeroPid", vec![0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], Some("MQTT-2.3.1-1"), 2),
        // Topic length prefix at byte 2 says 11, only 3 bytes follow.
        ("Truncated", vec![0x30, 0x05, 0x00, 0x0B, b'/', b't', b'o'], Some("MQTT-3.3.2-1"), 2),
        // Packet ends inside the topic's length prefix (byte 2).
        ("Truncated", vec![0x30, 0x01, 0x00], Some("MQTT-3.3.2-1"), 2),
        // QoS 1 PUBLISH without packet identifier (byte 5).
        ("Truncated", vec![0x32, 0x03, 0x00, 0x01, b'a'], None, 5),
        // Missing requested QoS byte after the filter (byte 7).
        ("Truncated", vec![0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'], None, 7),
        // CONNECT fields announced by the flags but missing: user name
        // (byte 15), client id (byte 12), will topic (14), password (16).
        ("Truncated", connect(0x82, &[0x00, 0x01, b'c']), Some("MQTT-3.1.2-19"), 15),
        ("Truncated", connect(0x02, &[0x00]), Some("MQTT-3.1.3-3"), 12),
        ("Truncated", connect(0x06, &[0x00, 0x00]), Some("MQTT-3.1.2-9"), 14),
        ("Truncated", connect(0xC2, &[0x00, 0x00, 0x00, 0x00]), Some("MQTT-3.1.2-21"), 16),
        // "a" then 0xFF at byte 5.
        ("InvalidUtf8", vec![0x30, 0x04, 0x00, 0x02, b'a', 0xFF], Some("MQTT-1.5.3-1"), 5),
        // A surrogate (U+D800 encoded as 3 bytes) is ill-formed too, at byte 4.
        ("InvalidUtf8", vec![0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80], Some("MQTT-1.5.3-1"), 4),
        // Client identifier "a\0" with the NUL at byte 15.
        ("NullChar", connect(0x02, &[0x00, 0x02, b'a', 0x00]), Some("MQTT-1.5.3-2"), 15),
        // Protocol name "MQTX" starting at byte 4.
        ("ProtocolName", vec![0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00], Some("MQTT-3.1.2-1"), 4),
        // Connect flags are byte 9.
        ("ConnectReservedFlag", connect(0x03, &[0x00, 0x00]), Some("MQTT-3.1.2-3"), 9),
        ("WillQosWithoutWill", connect(0x0A, &[0x00, 0x00]), Some("MQTT-3.1.2-13"), 9),
        ("WillQosWithoutWill", connect(0x1A, &[0x00, 0x00]), Some("MQTT-3.1.2-13"), 9),
        ("WillRetainWithoutWill", connect(0x22, &[0x00, 0x00]), Some("MQTT-3.1.2-15"), 9),
        ("WillQos3", connect(0x1E, &[0x00, 0x00]), Some("MQTT-3.1.2-14"), 9),
        ("PasswordWithoutUsername", connect(0x42, &[0x00, 0x00]), Some("MQTT-3.1.2-22"), 9),
        // One stray byte after the empty client identifier, at byte 14.
        ("TrailingBytes", connect(0x02, &[0x00, 0x00, 0x99]), None, 14),
        // Nothing after the packet identifier: the payload would start at byte 4.
        ("EmptyPayload", vec![0x82, 0x02, 0x00, 0x01], Some("MQTT-3.8.3-3"), 4),
        ("EmptyPayload", vec![0xA2, 0x02, 0x00, 0x01], Some("MQTT-3.10.3-2"), 4),
        ("EmptyPayload", vec![0x90, 0x02, 0x00, 0x01], None, 4),
        // Requested QoS 3 at byte 7; reserved bit 2 set at byte 7.
        ("SubscribeQos", vec![0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], Some("MQTT-3-8.3-4"), 7),
        ("SubscribeQos", vec![0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04], Some("MQTT-3-8.3-4"), 7),
        // PUBLISH topic "a/+": the '+' is byte 6.
        ("InvalidTopic", vec![0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'], Some("MQTT-3.3.2-2"), 6),
        // PUBLISH with an empty topic: points at the length prefix, byte 2.
        ("InvalidTopic", vec![0x30, 0x02, 0x00, 0x00], Some("MQTT-4.7.3-1"), 2),
        // SUBSCRIBE filter "a/b#": the '#' is byte 9.
        ("InvalidTopic", vec![0x82, 0x09, 0x00, 0x01, 0x00, 0x04, b'a', b'/', b'b', b'#', 0x00], Some("MQTT-4.7.1-2"), 9),
        // UNSUBSCRIBE filter "a+": the '+' is byte 7.
        ("InvalidTopic", vec![0xA2, 0x06, 0x00, 0x01, 0x00, 0x02, b'a', b'+'], Some("MQTT-4.7.1-3"), 7),
        // Will topic "#": the '#' is byte 16.
        ("InvalidTopic", connect(0x06, &[0x00, 0x00, 0x00, 0x01, b'#', 0x00, 0x00]), Some("MQTT-3.3.2-2"), 16),
        ("SubackCode", vec![0x90, 0x04, 0x00, 0x01, 0x00, 0x03], Some("MQTT-3.9.3-2"), 5),
        ("SubackCode", vec![0x90, 0x03, 0x00, 0x01, 0x81], Some("MQTT-3.9.3-2"), 4),
        ("ConnAckFlags", vec![0x20, 0x02, 0x02, 0x00], None, 2),
        ("ConnAckCode", vec![0x20, 0x02, 0x00, 0x06], None, 3),
    ]
}

#[test]
fn every_variant_rule_and_offset() {
    let mut seen = BTreeSet::new();
    for (name, bytes, rule, offset) in cases() {
        let e = dec_err(&bytes);
        assert_eq!(variant(&e), name, "{bytes:02X?}: {e}");
        assert_eq!(e.rule(), rule, "{bytes:02X?}: {e}");
        assert_eq!(e.offset(), offset, "{bytes:02X?}: {e}");
        seen.insert(name);
    }
    // TooLarge needs a limit, see below.
    let e = dec_err_max(&[0x30, 0x05, 0x00, 0x01, b'a', b'x', b'y'], 6);
    assert_eq!(e, DecodeError::TooLarge { size: 7, max: 6 });
    assert_eq!((e.rule(), e.offset()), (None, 1));
    seen.insert(variant(&e));
    assert_eq!(seen.len(), VARIANT_COUNT, "variants without a case");
}

#[test]
fn messages_read_like_the_spec() {
    let msg = |b: &[u8]| dec_err(b).to_string();
    assert_eq!(
        msg(&[0x84, 0x02, 0x00, 0x01]),
        "[MQTT-3.8.1-1] SUBSCRIBE: fixed header flags are 0100, must be 0010 (byte 0)"
    );
    assert_eq!(
        msg(&[0x40, 0x03, 0x00, 0x01, 0x00]),
        "[§3.4] PUBACK: remaining length is 3, must be 2 (byte 1)"
    );
    assert_eq!(
        msg(&[0x30, 0x05, 0x00, 0x0B, b'/', b't', b'o']),
        "[MQTT-3.3.2-1] PUBLISH: topic name needs 13 bytes but only 5 remain in the packet (byte 2)"
    );
    assert_eq!(
        msg(&[0x30, 0x01, 0x00]),
        "[MQTT-3.3.2-1] PUBLISH: topic name length prefix needs 2 bytes but only 1 remain in the packet (byte 2)"
    );
    assert_eq!(
        msg(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+']),
        "[MQTT-3.3.2-2] PUBLISH: topic name contains wildcard '+' (byte 6)"
    );
    assert_eq!(
        msg(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03]),
        "[MQTT-3-8.3-4] SUBSCRIBE: requested QoS byte is 0x03; bits 7-2 must be 0 and QoS at most 2 (byte 7)"
    );
    assert_eq!(
        msg(&[0xF0, 0x00]),
        "[§2.2.1] packet type 15 is reserved (first byte 0xF0) (byte 0)"
    );
    assert_eq!(
        msg(&[0x20, 0x02, 0x00, 0x06]),
        "[§3.2.2.3] CONNACK: return code 6 is reserved; only 0-5 are defined (byte 3)"
    );
    assert_eq!(
        dec_err_max(&[0x30, 0x05, 0x00, 0x01, b'a', b'x', b'y'], 6).to_string(),
        "[§2.2.3] packet would be 7 bytes (fixed header + remaining length), over the limit of 6 (byte 1)"
    );
}

#[test]
fn invalid_topic_keeps_the_topic_error_as_source() {
    let e = dec_err(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#']);
    let DecodeError::InvalidTopic { packet, source, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(*packet, PacketType::Publish);
    assert_eq!(*source, TopicError::WildcardInName { at: 2, ch: '#' });
    assert!(std::error::Error::source(&e).is_some());
}

/// The limit is enforced from the header alone, before the body arrives.
#[test]
fn too_large_from_header_alone() {
    let header = [
        0x30, // PUBLISH QoS 0
        0xFF, 0xFF, 0xFF, 0x7F, // remaining length 268,435,455 (the maximum)
    ];
    let e = check(&header, 4 << 20).expect_err("over 4 MiB");
    assert_eq!(
        e,
        DecodeError::TooLarge {
            size: 5 + 268_435_455,
            max: 4 << 20
        }
    );
    assert_eq!(e.offset(), 1);
    assert_eq!(dec_err_max(&header, 4 << 20), e);
    // A 2-byte length is enough to know: 16,383 + 3 > 1 KiB.
    assert!(matches!(
        check(&[0x30, 0xFF, 0x7F], 1024),
        Err(DecodeError::TooLarge {
            size: 16_386,
            max: 1024
        })
    ));
    // Exactly at the limit is fine; the body is just not there yet.
    assert_eq!(
        check(&[0x30, 0xFF, 0x7F], 16_386)
            .expect("at the limit")
            .map(|h| h.total_len()),
        Some(16_386)
    );
}

/// Flag errors need only byte 0; length errors only the header.
#[test]
fn header_errors_need_no_body() {
    assert!(matches!(
        check(&[0x84], MAX),
        Err(DecodeError::InvalidFlags { .. })
    ));
    assert!(matches!(
        check(&[0x40, 0x05], MAX),
        Err(DecodeError::BadLength { .. })
    ));
    assert!(matches!(
        check(&[0x30, 0x80, 0x80, 0x80, 0x80], MAX),
        Err(DecodeError::RemainingLengthOverflow)
    ));
    assert_eq!(check(&[0x30, 0x80, 0x80, 0x80], MAX), Ok(None));
}
