//! Byte-annotated CONNECT (§3.1) and CONNACK (§3.2) vectors, each encoded
//! and decoded.

use super::{dec, enc, name, payload};
use crate::mqtt::{ConnAck, Connect, ConnectReturnCode, LastWill, Packet, QoS};

/// Generates an encode test and a mirroring decode test for one vector.
macro_rules! vector {
    ($encode:ident, $decode:ident, $bytes:expr, $packet:expr) => {
        #[test]
        fn $encode() {
            assert_eq!(enc(&$packet), $bytes);
        }

        #[test]
        fn $decode() {
            let d = dec($bytes);
            assert_eq!(d.packet, $packet);
            assert_eq!(d.conformance, None);
        }
    };
}
pub(super) use vector;

/// Captured from a OneNET device: client id "9277" (device id), user "339"
/// (product id), password "abc123" (auth info).
const CONNECT_ONENET: &[u8] = &[
    0x10, // CONNECT, flags 0000
    0x1D, // remaining length 29
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4 (3.1.1)
    0xC2, // connect flags: user name, password, clean session
    0x04, 0xB0, // keep alive 1200 s
    0x00, 0x04, b'9', b'2', b'7', b'7', // client identifier "9277"
    0x00, 0x03, b'3', b'3', b'9', // user name "339"
    0x00, 0x06, b'a', b'b', b'c', b'1', b'2', b'3', // password "abc123"
];

fn connect_onenet() -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: true,
        keep_alive: 1200,
        client_id: "9277".into(),
        will: None,
        username: Some("339".into()),
        password: Some(payload(b"abc123")),
    }))
}

vector!(
    encode_connect_onenet,
    decode_connect_onenet,
    CONNECT_ONENET,
    connect_onenet()
);

const CONNECT_WILL: &[u8] = &[
    0x10, // CONNECT, flags 0000
    0x1B, // remaining length 27
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x04, // protocol level 4
    0xAC, // connect flags: user name, will retain, will QoS 1, will flag; clean session 0
    0x00, 0x3C, // keep alive 60 s
    0x00, 0x04, b'd', b'e', b'v', b'1', // client identifier "dev1"
    0x00, 0x02, b's', b't', // will topic "st"
    0x00, 0x02, 0x00, 0xFF, // will message: 2 bytes of binary
    0x00, 0x01, b'u', // user name "u"
];

fn connect_will() -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 4,
        clean_session: false,
        keep_alive: 60,
        client_id: "dev1".into(),
        will: Some(LastWill {
            topic: name("st"),
            message: payload(&[0x00, 0xFF]),
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
        username: Some("u".into()),
        password: None,
    }))
}

vector!(
    encode_connect_will,
    decode_connect_will,
    CONNECT_WILL,
    connect_will()
);

/// MQTT 3.1 CONNECT: protocol "MQIsdp", level 3, empty client identifier.
const CONNECT_MQISDP: &[u8] = &[
    0x10, // CONNECT, flags 0000
    0x0E, // remaining length 14
    0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name "MQIsdp"
    0x03, // protocol level 3 (3.1)
    0x02, // connect flags: clean session
    0x00, 0x00, // keep alive 0 (disabled)
    0x00, 0x00, // client identifier "" (empty)
];

fn connect_mqisdp() -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQIsdp".into(),
        level: 3,
        clean_session: true,
        keep_alive: 0,
        client_id: String::new(),
        will: None,
        username: None,
        password: None,
    }))
}

vector!(
    encode_connect_mqisdp,
    decode_connect_mqisdp,
    CONNECT_MQISDP,
    connect_mqisdp()
);

/// Protocol level 5 is kept as sent: the broker answers CONNACK 0x01
/// [MQTT-3.1.2-2], the codec does not reject it.
const CONNECT_LEVEL_5: &[u8] = &[
    0x10, // CONNECT, flags 0000
    0x0D, // remaining length 13
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name "MQTT"
    0x05, // protocol level 5 (unsupported, kept)
    0x00, // connect flags: none
    0x00, 0x0A, // keep alive 10 s
    0x00, 0x01, b'c', // client identifier "c"
];

fn connect_level_5() -> Packet {
    Packet::Connect(Box::new(Connect {
        protocol_name: "MQTT".into(),
        level: 5,
        clean_session: false,
        keep_alive: 10,
        client_id: "c".into(),
        will: None,
        username: None,
        password: None,
    }))
}

vector!(
    encode_connect_level_5,
    decode_connect_level_5,
    CONNECT_LEVEL_5,
    connect_level_5()
);

const CONNACK_ACCEPTED: &[u8] = &[
    0x20, // CONNACK, flags 0000
    0x02, // remaining length 2
    0x00, // acknowledge flags: session present 0
    0x00, // return code 0: accepted
];

vector!(
    encode_connack_accepted,
    decode_connack_accepted,
    CONNACK_ACCEPTED,
    Packet::ConnAck(ConnAck {
        session_present: false,
        code: ConnectReturnCode::Accepted,
    })
);

const CONNACK_SESSION_PRESENT: &[u8] = &[
    0x20, // CONNACK, flags 0000
    0x02, // remaining length 2
    0x01, // acknowledge flags: session present 1
    0x00, // return code 0: accepted
];

vector!(
    encode_connack_session_present,
    decode_connack_session_present,
    CONNACK_SESSION_PRESENT,
    Packet::ConnAck(ConnAck {
        session_present: true,
        code: ConnectReturnCode::Accepted,
    })
);

const CONNACK_BAD_PASSWORD: &[u8] = &[
    0x20, // CONNACK, flags 0000
    0x02, // remaining length 2
    0x00, // acknowledge flags: session present 0
    0x04, // return code 4: bad user name or password
];

vector!(
    encode_connack_bad_password,
    decode_connack_bad_password,
    CONNACK_BAD_PASSWORD,
    Packet::ConnAck(ConnAck {
        session_present: false,
        code: ConnectReturnCode::BadUserNameOrPassword,
    })
);

#[test]
fn connack_every_return_code_roundtrips() {
    for v in 0..=5u8 {
        let code = ConnectReturnCode::from_u8(v).expect("0..=5 are defined");
        assert_eq!(code.as_u8(), v);
        let p = Packet::ConnAck(ConnAck {
            session_present: false,
            code,
        });
        let bytes = enc(&p);
        assert_eq!(bytes, [0x20, 0x02, 0x00, v]);
        assert_eq!(dec(&bytes).packet, p);
    }
    assert_eq!(ConnectReturnCode::from_u8(6), None);
}

#[test]
fn connect_password_is_binary_and_zero_copy() {
    let mut buf = bytes::BytesMut::from(CONNECT_ONENET);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let d = crate::mqtt::decode(&mut buf, super::MAX)
        .expect("valid")
        .expect("complete");
    let Packet::Connect(c) = d.packet else {
        panic!("not a CONNECT")
    };
    let pw = c.password.expect("password present");
    assert!(
        range.contains(&(pw.as_ptr() as usize)),
        "password was copied"
    );
}
