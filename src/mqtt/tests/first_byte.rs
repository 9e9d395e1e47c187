//! Every possible first byte, 0x00..=0xFF, against the table of §2.2.1
//! (packet types) and §2.2.2 (flags), plus the OneNET flags-0000 leniency.

use super::MAX;
use crate::mqtt::{Conformance, DecodeError, PacketType, check, decode_slice};

/// Row = packet type (high nibble), column = flags (low nibble).
///   A accepted              C accepted with a conformance note
///   R reserved type (§2.2.1) F invalid flags
///   Q PUBLISH QoS 3 [MQTT-3.3.1-4]  D PUBLISH DUP with QoS 0 [MQTT-3.3.1-2]
const TABLE: [&str; 16] = [
    //      flags: 0 1 2 3 4 5 6 7 8 9 A B C D E F
    /* 0 reserved    */
    "R R R R R R R R R R R R R R R R",
    /* 1 CONNECT     */ "A F F F F F F F F F F F F F F F",
    /* 2 CONNACK     */ "A F F F F F F F F F F F F F F F",
    /* 3 PUBLISH     */ "A A A A A A Q Q D D A A A A Q Q",
    /* 4 PUBACK      */ "A F F F F F F F F F F F F F F F",
    /* 5 PUBREC      */ "A F F F F F F F F F F F F F F F",
    /* 6 PUBREL      */ "C F A F F F F F F F F F F F F F",
    /* 7 PUBCOMP     */ "A F F F F F F F F F F F F F F F",
    /* 8 SUBSCRIBE   */ "C F A F F F F F F F F F F F F F",
    /* 9 SUBACK      */ "A F F F F F F F F F F F F F F F",
    /* A UNSUBSCRIBE */ "C F A F F F F F F F F F F F F F",
    /* B UNSUBACK    */ "A F F F F F F F F F F F F F F F",
    /* C PINGREQ     */ "A F F F F F F F F F F F F F F F",
    /* D PINGRESP    */ "A F F F F F F F F F F F F F F F",
    /* E DISCONNECT  */ "A F F F F F F F F F F F F F F F",
    /* F reserved    */ "R R R R R R R R R R R R R R R R",
];

/// A plausible, valid body for each packet type, so that a rejection can
/// only come from the first byte.
fn body(first: u8) -> Vec<u8> {
    let qos = (first >> 1) & 0b11;
    match first >> 4 {
        // Protocol "MQTT", level 4, clean session, keep alive 60, client id "".
        1 => vec![
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00,
        ],
        2 => vec![0x00, 0x00],
        // Topic "a", packet identifier 1 when QoS > 0, payload "x".
        3 if qos == 0 => vec![0x00, 0x01, b'a', b'x'],
        3 => vec![0x00, 0x01, b'a', 0x00, 0x01, b'x'],
        // Packet identifier 1, filter "a", QoS 0.
        8 => vec![0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        // Packet identifier 1, return code 0.
        9 => vec![0x00, 0x01, 0x00],
        // Packet identifier 1, filter "a".
        10 => vec![0x00, 0x01, 0x00, 0x01, b'a'],
        12..=14 => vec![],
        // PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK and the reserved types:
        // packet identifier 1.
        _ => vec![0x00, 0x01],
    }
}

fn classify(result: Result<Option<Conformance>, DecodeError>) -> char {
    match result {
        Ok(None) => 'A',
        Ok(Some(_)) => 'C',
        Err(DecodeError::ReservedPacketType { .. }) => 'R',
        Err(DecodeError::InvalidFlags { .. }) => 'F',
        Err(DecodeError::PublishQos3 { .. }) => 'Q',
        Err(DecodeError::PublishDupQos0 { .. }) => 'D',
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn all_256_first_bytes() {
    for first in 0..=255u8 {
        let row = TABLE[usize::from(first >> 4)];
        let expected = row
            .chars()
            .filter(|c| !c.is_whitespace())
            .nth(usize::from(first & 0x0F))
            .expect("16 columns");

        let body = body(first);
        let mut frame = vec![first, u8::try_from(body.len()).expect("short body")];
        frame.extend_from_slice(&body);

        // The full decode and the header-only check must agree.
        let decoded = decode_slice(&frame, MAX).map(|d| {
            let d = d.expect("complete frame");
            assert_eq!(d.len, frame.len());
            assert_eq!(d.packet.packet_type() as u8, first >> 4);
            d.conformance
        });
        let header = check(&frame, MAX).map(|h| h.expect("complete header").conformance());
        assert_eq!(decoded, header, "first byte 0x{first:02X}");
        // A single byte is enough for the verdict on byte 0.
        match check(&frame[..1], MAX) {
            Ok(h) => assert!(h.is_none() && decoded.is_ok(), "0x{first:02X} alone"),
            Err(e) => assert_eq!(decoded.as_ref().err(), Some(&e), "0x{first:02X} alone"),
        }

        assert_eq!(
            classify(decoded.clone()),
            expected,
            "first byte 0x{first:02X}: {decoded:?}"
        );

        // Errors sit at byte 0 and name the right rule.
        if let Err(e) = &decoded {
            assert_eq!(e.offset(), 0);
            let rule = match (first >> 4, e) {
                (0 | 15, _) => None,
                (3, DecodeError::PublishQos3 { .. }) => Some("MQTT-3.3.1-4"),
                (3, _) => Some("MQTT-3.3.1-2"),
                (6, _) => Some("MQTT-3.6.1-1"),
                (8, _) => Some("MQTT-3.8.1-1"),
                (10, _) => Some("MQTT-3.10.1-1"),
                _ => Some("MQTT-2.2.2-1"),
            };
            assert_eq!(e.rule(), rule, "0x{first:02X}");
        }
        // Conformance notes only for the three documented OneNET bytes.
        if let Ok(Some(c)) = decoded {
            let expect = match first {
                0x60 => Conformance::PubRelFlags0000,
                0x80 => Conformance::SubscribeFlags0000,
                0xA0 => Conformance::UnsubscribeFlags0000,
                _ => panic!("unexpected conformance for 0x{first:02X}"),
            };
            assert_eq!(c, expect);
            assert_eq!(c.packet_type() as u8, first >> 4);
        }
    }
}

#[test]
fn packet_type_names_and_numbers() {
    let names = [
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
    ];
    assert_eq!(PacketType::from_first_byte(0x05), None);
    assert_eq!(PacketType::from_first_byte(0xFF), None);
    for (i, name) in names.iter().enumerate() {
        let nibble = u8::try_from(i + 1).expect("small");
        let t = PacketType::from_first_byte(nibble << 4 | 0x0F).expect("valid type");
        assert_eq!(t as u8, nibble);
        assert_eq!(t.name(), *name);
        assert_eq!(t.to_string(), *name);
    }
}

#[test]
fn conformance_display_names_rule_and_reason() {
    assert_eq!(
        Conformance::SubscribeFlags0000.to_string(),
        "[MQTT-3.8.1-1] SUBSCRIBE sent with fixed header flags 0000 instead of 0010; \
         accepted because OneNET's official C SDK does this"
    );
    assert_eq!(Conformance::PubRelFlags0000.rule(), "MQTT-3.6.1-1");
    assert_eq!(Conformance::UnsubscribeFlags0000.rule(), "MQTT-3.10.1-1");
}
