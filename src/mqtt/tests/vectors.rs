//! Byte-annotated vectors for PUBLISH, the acks, SUBSCRIBE/UNSUBSCRIBE and
//! the header-only packets (§3.3 – §3.14), each encoded and decoded. The
//! flags-0000 captures from OneNET's C SDK only decode (with a
//! conformance note); re-encoding them gives the standard 0010 form.

use super::vectors_connect::vector;
use super::{dec, enc, filter, name, payload, pid, qos};
use crate::mqtt::{
    Conformance, Packet, Publish, QosPid, SubAck, SubackCode, Subscribe, Unsubscribe,
};

/// Captured from a OneNET device.
const PUBLISH_QOS1_ONENET: &[u8] = &[
    0x32, // PUBLISH, flags 0010: DUP 0, QoS 1, RETAIN 0
    0x11, // remaining length 17
    0x00, 0x0B, // topic name length 11
    b'/', b't', b'o', b'p', b'i', b'c', b'_', b't', b'e', b's',
    b't', // topic name "/topic_test"
    0x00, 0x05, // packet identifier 5
    b'h', b'i', // payload "hi"
];

vector!(
    encode_publish_qos1_onenet,
    decode_publish_qos1_onenet,
    PUBLISH_QOS1_ONENET,
    Packet::Publish(Publish {
        dup: false,
        qos_pid: QosPid::AtLeastOnce(pid(5)),
        retain: false,
        topic: name("/topic_test"),
        payload: payload(b"hi"),
    })
);

/// Captured from a OneNET device: a datapoint upload to the `$dp` system topic.
const PUBLISH_DP_ONENET: &[u8] = &[
    0x30, // PUBLISH, flags 0000: DUP 0, QoS 0, RETAIN 0
    0x0E, // remaining length 14
    0x00, 0x03, b'$', b'd', b'p', // topic name "$dp"
    // (QoS 0: no packet identifier)
    0x07, // payload byte 0: $dp data type 7
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xB4, 0x41, // payload bytes 1-8, opaque to the codec
];

vector!(
    encode_publish_dp_onenet,
    decode_publish_dp_onenet,
    PUBLISH_DP_ONENET,
    Packet::Publish(Publish {
        dup: false,
        qos_pid: QosPid::AtMostOnce,
        retain: false,
        topic: name("$dp"),
        payload: payload(&[0x07, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xB4, 0x41]),
    })
);

const PUBLISH_QOS2_DUP_RETAIN_EMPTY: &[u8] = &[
    0x3D, // PUBLISH, flags 1101: DUP 1, QoS 2, RETAIN 1
    0x07, // remaining length 7
    0x00, 0x03, b'a', b'/', b'b', // topic name "a/b"
    0xFF,
    0xFF, // packet identifier 65535
          // payload: empty (zero-length messages are allowed, §3.3.3)
];

vector!(
    encode_publish_qos2_dup_retain_empty,
    decode_publish_qos2_dup_retain_empty,
    PUBLISH_QOS2_DUP_RETAIN_EMPTY,
    Packet::Publish(Publish {
        dup: true,
        qos_pid: QosPid::ExactlyOnce(pid(65535)),
        retain: true,
        topic: name("a/b"),
        payload: payload(b""),
    })
);

const PUBACK: &[u8] = &[
    0x40, // PUBACK, flags 0000
    0x02, // remaining length 2
    0x00, 0x09, // packet identifier 9
];

vector!(encode_puback, decode_puback, PUBACK, Packet::PubAck(pid(9)));

const PUBREC: &[u8] = &[
    0x50, // PUBREC, flags 0000
    0x02, // remaining length 2
    0x01, 0x00, // packet identifier 256
];

vector!(
    encode_pubrec,
    decode_pubrec,
    PUBREC,
    Packet::PubRec(pid(256))
);

const PUBREL: &[u8] = &[
    0x62, // PUBREL, flags 0010
    0x02, // remaining length 2
    0x00, 0x01, // packet identifier 1
];

vector!(encode_pubrel, decode_pubrel, PUBREL, Packet::PubRel(pid(1)));

/// PUBREL as OneNET's official C SDK sends it: flags 0000.
const PUBREL_FLAGS_0000: &[u8] = &[
    0x60, // PUBREL, flags 0000 (spec: 0010) -- accepted, noted
    0x02, // remaining length 2
    0x00, 0x01, // packet identifier 1
];

#[test]
fn decode_pubrel_flags_0000() {
    let d = dec(PUBREL_FLAGS_0000);
    assert_eq!(d.packet, Packet::PubRel(pid(1)));
    assert_eq!(d.conformance, Some(Conformance::PubRelFlags0000));
    assert_eq!(enc(&d.packet), PUBREL, "re-encoded with the standard flags");
}

const PUBCOMP: &[u8] = &[
    0x70, // PUBCOMP, flags 0000
    0x02, // remaining length 2
    0x12, 0x34, // packet identifier 0x1234
];

vector!(
    encode_pubcomp,
    decode_pubcomp,
    PUBCOMP,
    Packet::PubComp(pid(0x1234))
);

/// Captured from a OneNET device.
const SUBSCRIBE_ONENET: &[u8] = &[
    0x82, // SUBSCRIBE, flags 0010
    0x16, // remaining length 22
    0x00, 0x02, // packet identifier 2
    0x00, 0x11, // topic filter length 17
    b't', b'e', b's', b't', b'_', b'o', b'b', b's', b'e', // topic filter "test_obse..."
    b'r', b'v', b'e', b'_', b'd', b'a', b't', b'a', // ... "rve_data"
    0x01, // requested QoS 1
];

vector!(
    encode_subscribe_onenet,
    decode_subscribe_onenet,
    SUBSCRIBE_ONENET,
    Packet::Subscribe(Subscribe {
        pid: pid(2),
        filters: vec![(filter("test_observe_data"), qos(1))],
    })
);

/// Captured from OneNET's official C SDK: SUBSCRIBE with flags 0000.
const SUBSCRIBE_FLAGS_0000_ONENET: &[u8] = &[
    0x80, // SUBSCRIBE, flags 0000 (spec: 0010) -- accepted, noted
    0x10, // remaining length 16
    0x00, 0x0B, // packet identifier 11
    0x00, 0x0B, // topic filter length 11
    b'/', b't', b'o', b'p', b'i', b'c', b'_', b't', b'e', b's',
    b't', // topic filter "/topic_test"
    0x01, // requested QoS 1
];

#[test]
fn decode_subscribe_flags_0000_onenet() {
    let d = dec(SUBSCRIBE_FLAGS_0000_ONENET);
    assert_eq!(
        d.packet,
        Packet::Subscribe(Subscribe {
            pid: pid(11),
            filters: vec![(filter("/topic_test"), qos(1))],
        })
    );
    assert_eq!(d.conformance, Some(Conformance::SubscribeFlags0000));
    let reencoded = enc(&d.packet);
    assert_eq!(reencoded[0], 0x82, "re-encoded with the standard flags");
    assert_eq!(reencoded[1..], SUBSCRIBE_FLAGS_0000_ONENET[1..]);
}

const SUBSCRIBE_WILDCARDS: &[u8] = &[
    0x82, // SUBSCRIBE, flags 0010
    0x0E, // remaining length 14
    0x12, 0x34, // packet identifier 0x1234
    0x00, 0x05, b'a', b'/', b'+', b'/', b'c', // topic filter "a/+/c"
    0x00, // requested QoS 0
    0x00, 0x01, b'#', // topic filter "#"
    0x02, // requested QoS 2
];

vector!(
    encode_subscribe_wildcards,
    decode_subscribe_wildcards,
    SUBSCRIBE_WILDCARDS,
    Packet::Subscribe(Subscribe {
        pid: pid(0x1234),
        filters: vec![(filter("a/+/c"), qos(0)), (filter("#"), qos(2))],
    })
);

const SUBACK: &[u8] = &[
    0x90, // SUBACK, flags 0000
    0x03, // remaining length 3
    0x00, 0x0B, // packet identifier 11
    0x01, // return code: granted QoS 1
];

vector!(
    encode_suback,
    decode_suback,
    SUBACK,
    Packet::SubAck(SubAck {
        pid: pid(11),
        codes: vec![SubackCode::Granted(qos(1))],
    })
);

const SUBACK_MIXED: &[u8] = &[
    0x90, // SUBACK, flags 0000
    0x06, // remaining length 6
    0x00, 0x01, // packet identifier 1
    0x00, // return code: granted QoS 0
    0x02, // return code: granted QoS 2
    0x80, // return code: failure
    0x01, // return code: granted QoS 1
];

vector!(
    encode_suback_mixed,
    decode_suback_mixed,
    SUBACK_MIXED,
    Packet::SubAck(SubAck {
        pid: pid(1),
        codes: vec![
            SubackCode::Granted(qos(0)),
            SubackCode::Granted(qos(2)),
            SubackCode::Failure,
            SubackCode::Granted(qos(1)),
        ],
    })
);

const UNSUBSCRIBE: &[u8] = &[
    0xA2, // UNSUBSCRIBE, flags 0010
    0x0F, // remaining length 15
    0x00, 0x03, // packet identifier 3
    0x00, 0x0B, // topic filter length 11
    b'/', b't', b'o', b'p', b'i', b'c', b'_', b't', b'e', b's',
    b't', // topic filter "/topic_test"
];

fn unsubscribe() -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        pid: pid(3),
        filters: vec![filter("/topic_test")],
    })
}

vector!(
    encode_unsubscribe,
    decode_unsubscribe,
    UNSUBSCRIBE,
    unsubscribe()
);

/// UNSUBSCRIBE as OneNET's official C SDK sends it: flags 0000.
const UNSUBSCRIBE_FLAGS_0000: &[u8] = &[
    0xA0, // UNSUBSCRIBE, flags 0000 (spec: 0010) -- accepted, noted
    0x0F, // remaining length 15
    0x00, 0x03, // packet identifier 3
    0x00, 0x0B, // topic filter length 11
    b'/', b't', b'o', b'p', b'i', b'c', b'_', b't', b'e', b's',
    b't', // topic filter "/topic_test"
];

#[test]
fn decode_unsubscribe_flags_0000() {
    let d = dec(UNSUBSCRIBE_FLAGS_0000);
    assert_eq!(d.packet, unsubscribe());
    assert_eq!(d.conformance, Some(Conformance::UnsubscribeFlags0000));
    assert_eq!(
        enc(&d.packet),
        UNSUBSCRIBE,
        "re-encoded with the standard flags"
    );
}

const UNSUBSCRIBE_TWO: &[u8] = &[
    0xA2, // UNSUBSCRIBE, flags 0010
    0x0B, // remaining length 11
    0x00, 0x04, // packet identifier 4
    0x00, 0x03, b'a', b'/', b'#', // topic filter "a/#"
    0x00, 0x02, b'/', b'+', // topic filter "/+"
];

vector!(
    encode_unsubscribe_two,
    decode_unsubscribe_two,
    UNSUBSCRIBE_TWO,
    Packet::Unsubscribe(Unsubscribe {
        pid: pid(4),
        filters: vec![filter("a/#"), filter("/+")],
    })
);

const UNSUBACK: &[u8] = &[
    0xB0, // UNSUBACK, flags 0000
    0x02, // remaining length 2
    0x00, 0x03, // packet identifier 3
];

vector!(
    encode_unsuback,
    decode_unsuback,
    UNSUBACK,
    Packet::UnsubAck(pid(3))
);

const PINGREQ: &[u8] = &[
    0xC0, // PINGREQ, flags 0000
    0x00, // remaining length 0
];

vector!(encode_pingreq, decode_pingreq, PINGREQ, Packet::PingReq);

const PINGRESP: &[u8] = &[
    0xD0, // PINGRESP, flags 0000
    0x00, // remaining length 0
];

vector!(encode_pingresp, decode_pingresp, PINGRESP, Packet::PingResp);

const DISCONNECT: &[u8] = &[
    0xE0, // DISCONNECT, flags 0000
    0x00, // remaining length 0
];

vector!(
    encode_disconnect,
    decode_disconnect,
    DISCONNECT,
    Packet::Disconnect
);

/// Remaining-length encoding at every size boundary (§2.2.3, Table 2.4),
/// using a QoS 0 PUBLISH to topic "t" (3 bytes of variable header).
#[test]
fn remaining_length_boundaries() {
    let cases: &[(usize, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
    ];
    for &(remaining, header) in cases {
        if remaining < 3 {
            // Too small for a PUBLISH; PINGREQ has remaining length 0.
            assert_eq!(enc(&Packet::PingReq)[1..], *header);
            continue;
        }
        let p = Packet::Publish(Publish {
            dup: false,
            qos_pid: QosPid::AtMostOnce,
            retain: false,
            topic: name("t"),
            payload: vec![0xAB; remaining - 3].into(),
        });
        let bytes = enc(&p);
        assert_eq!(bytes[0], 0x30);
        assert_eq!(&bytes[1..1 + header.len()], header, "remaining {remaining}");
        assert_eq!(bytes.len(), 1 + header.len() + remaining);
        let d = crate::mqtt::decode_slice(&bytes, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert_eq!(d.packet, p);
    }
}

/// 3.1.1 does not require the shortest remaining-length encoding, so a
/// padded one (0x80 0x00 = 0) is accepted.
#[test]
fn non_minimal_remaining_length_is_accepted() {
    let d = dec(&[
        0xC0, // PINGREQ, flags 0000
        0x80, 0x00, // remaining length 0, in two bytes
    ]);
    assert_eq!(d.packet, Packet::PingReq);
    assert_eq!(d.len, 3);
}
