//! Codec tests. Vectors are written one field per line with a comment so a
//! failing test can be compared against a hex dump by eye.

mod errors;
mod first_byte;
mod misc;
mod props;
mod topic;
mod vectors;
mod vectors_connect;

use bytes::{Bytes, BytesMut};

use super::{
    DecodeError, Decoded, Packet, Pid, QoS, TopicFilter, TopicName, check, decode, decode_slice,
};

/// A generous limit for tests that are not about the limit.
pub(super) const MAX: usize = 1 << 20;

pub(super) fn pid(v: u16) -> Pid {
    Pid::new(v).expect("test pid is non-zero")
}

pub(super) fn name(s: &str) -> TopicName {
    TopicName::new(s).expect("test topic name is valid")
}

pub(super) fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("test topic filter is valid")
}

pub(super) fn qos(v: u8) -> QoS {
    QoS::from_u8(v).expect("test QoS is 0..=2")
}

/// Encodes `p`, checking `encoded_len` and that `to_bytes` and `encode`
/// into a non-empty buffer agree.
pub(super) fn enc(p: &Packet) -> Vec<u8> {
    let bytes = p.to_bytes().expect("test packet encodes");
    assert_eq!(bytes.len(), p.encoded_len(), "encoded_len of {p:?}");
    let mut out = BytesMut::from(&b"prefix"[..]);
    p.encode(&mut out).expect("test packet encodes");
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(&out[6..], &bytes[..]);
    bytes.to_vec()
}

/// Decodes exactly one packet from `bytes` through both entry points and
/// checks they agree and consume everything.
pub(super) fn dec(bytes: &[u8]) -> Decoded {
    let mut buf = BytesMut::from(bytes);
    let d = decode(&mut buf, MAX)
        .expect("test vector decodes")
        .expect("test vector is complete");
    assert!(buf.is_empty(), "decode left {} bytes", buf.len());
    assert_eq!(d.len, bytes.len());
    let s = decode_slice(bytes, MAX)
        .expect("decode_slice agrees")
        .expect("complete");
    assert_eq!(s, d);
    let h = check(bytes, MAX)
        .expect("header ok")
        .expect("header complete");
    assert_eq!(h.total_len(), bytes.len());
    d
}

/// Decodes `bytes` expecting an error; checks both entry points agree, that
/// the message starts with the rule (or section) in brackets and ends with
/// the offset, and that the offset lies within the packet.
pub(super) fn dec_err_max(bytes: &[u8], max: usize) -> DecodeError {
    let e = decode_slice(bytes, max).expect_err("test vector must fail");
    let mut buf = BytesMut::from(bytes);
    assert_eq!(decode(&mut buf, max).expect_err("decode agrees"), e);
    let msg = e.to_string();
    let tag = e.rule().unwrap_or(e.section());
    assert!(msg.starts_with(&format!("[{tag}] ")), "{msg}");
    assert!(msg.ends_with(&format!("(byte {})", e.offset())), "{msg}");
    assert!(e.offset() <= bytes.len(), "offset past the end: {msg}");
    e
}

pub(super) fn dec_err(bytes: &[u8]) -> DecodeError {
    dec_err_max(bytes, MAX)
}

pub(super) fn payload(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}
