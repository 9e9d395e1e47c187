//! The fuzz targets' bodies, as plain functions: the AFL binaries call them with AFL's input, and the
//! `replay` binary (and the main crate's regression tests) call them with files from the corpus. Each
//! one panics only when it finds a bug: a decoder must return an error for bad input, never panic, and
//! what it accepts must survive a round trip.

use bytes::BytesMut;
use onenet_desk::mqtt::{self, Packet};
use onenet_desk::onenet::datapoint::{self, DpOptions};

/// Largest packet the fuzzer lets the decoder accept (small, so huge claims hit the limit path too).
const MAX_PACKET: usize = 64 * 1024;

/// Decodes every packet in `data` as a connection would (byte stream, several packets), checking that
/// the slice and the buffer decoders agree and that each packet re-encodes to bytes that decode to the
/// same packet.
pub fn mqtt_decode(data: &[u8]) {
    // Stage one alone, on every prefix length a socket read could produce.
    for end in [1, 2, 3, 5].into_iter().filter(|&n| n <= data.len()) {
        let _ = mqtt::check(&data[..end], MAX_PACKET);
    }
    let mut buf = BytesMut::from(data);
    let mut rest = data;
    loop {
        let from_slice = mqtt::decode_slice(rest, MAX_PACKET);
        let from_buf = mqtt::decode(&mut buf, MAX_PACKET);
        match (from_slice, from_buf) {
            (Ok(Some(a)), Ok(Some(b))) => {
                assert_eq!(a.packet, b.packet, "slice and buffer decoders disagree");
                assert_eq!(a.len, b.len);
                assert!(
                    a.len >= 2 && a.len <= rest.len(),
                    "consumed {} of {}",
                    a.len,
                    rest.len()
                );
                round_trip(&a.packet);
                rest = &rest[a.len..];
            }
            (Ok(None), Ok(None)) => break,
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "slice and buffer decoders disagree on the error");
                let _ = a.to_string();
                break;
            }
            (a, b) => panic!("slice and buffer decoders disagree: {a:?} vs {b:?}"),
        }
    }
}

fn round_trip(p: &Packet) {
    // Not every decoded packet is encodable by the strict encoder (e.g. a 0x80 SUBSCRIBE is
    // re-encoded as 0x82); what is encoded must decode to the same packet.
    let Ok(bytes) = p.to_bytes() else { return };
    assert_eq!(
        bytes.len(),
        p.encoded_len(),
        "encoded_len disagrees with encode"
    );
    match mqtt::decode_slice(&bytes, usize::MAX) {
        Ok(Some(d)) => {
            assert_eq!(&d.packet, p, "re-encoded packet decodes differently");
            assert_eq!(d.len, bytes.len());
        }
        other => panic!("re-encoded packet does not decode: {other:?} from {bytes:02X?}"),
    }
}

/// Decodes a `$dp` payload (all seven types) under the default options and under tight ones, and
/// exercises everything the broker derives from an accepted upload.
pub fn dp_decode(data: &[u8]) {
    let tight = DpOptions {
        utc_offset_secs: -12 * 3600,
        max_type7_floats: 3,
        max_binary: 16,
    };
    for opts in [DpOptions::default(), tight] {
        match datapoint::decode(data, &opts) {
            Ok(up) => {
                assert!((1..=7).contains(&up.dp_type));
                for p in &up.points {
                    let _ = p.value.subscription_payload();
                    let _ = p.value.display_json().to_string();
                    let _ = p.value.display_text();
                    let _ = p.value.kind();
                    if let Some(at) = p.at {
                        let _ = datapoint::time::format_datetime(at, opts.utc_offset_secs);
                    }
                }
            }
            Err(e) => {
                assert!(
                    e.offset <= data.len(),
                    "error offset {} past the payload",
                    e.offset
                );
                let _ = e.to_string();
            }
        }
    }
}

/// Every JSON body of the HTTP API, as the handlers parse it. The first byte picks the endpoint.
pub fn http_json(data: &[u8]) {
    use onenet_desk::http::bodies;
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            let _ = bodies::optional::<bodies::ProductBody>(body);
        }
        1 => {
            let _ = bodies::optional::<bodies::DeviceBody>(body);
        }
        2 => {
            let _ = bodies::topic_name(body);
        }
        _ => {
            if let Ok((payload, up)) = bodies::datapoints(body, &DpOptions::default()) {
                assert_eq!(up.dp_type, 1);
                assert_eq!(&payload[3..], body);
                dp_decode(&payload);
            }
        }
    }
}
