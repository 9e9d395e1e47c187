//! Codec throughput. The broker's hot path is `decode` of many small
//! PUBLISH packets from one receive buffer, and `encode` of the same when
//! fanning out, so those are measured alongside CONNECT and a large PUBLISH.
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use onenet_desk::mqtt::{Packet, Pid, Publish, QoS, TopicName, decode, decode_slice};

/// Limit used by all decode benches (the broker's default is of this order).
const MAX: usize = 8 << 20;

fn publish(qos: QoS, payload_len: usize) -> Packet {
    let topic = TopicName::new("/topic_test").expect("valid topic");
    let pid = Pid::new(5).expect("non-zero");
    let payload = Bytes::from(vec![0x5A; payload_len]);
    Packet::Publish(Publish::new(topic, qos, pid, payload))
}

fn encoded(p: &Packet) -> Bytes {
    p.to_bytes().expect("valid packet")
}

/// Decoding one packet from a fresh `BytesMut` (the copy into it is setup,
/// not measured).
fn bench_decode_one(c: &mut Criterion, group: &str, bytes: &Bytes, batch: BatchSize) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode", |b| {
        b.iter_batched(
            || BytesMut::from(&bytes[..]),
            |mut buf| decode(black_box(&mut buf), MAX).expect("valid"),
            batch,
        )
    });
    g.finish();
}

fn bench_encode_one(c: &mut Criterion, group: &str, p: &Packet) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(p.encoded_len() as u64));
    let mut out = BytesMut::with_capacity(p.encoded_len());
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(p).encode(&mut out).expect("valid");
            black_box(&out);
        })
    });
    g.finish();
}

fn codec(c: &mut Criterion) {
    let small = publish(QoS::AtMostOnce, 16);
    let kib = publish(QoS::AtLeastOnce, 1024);
    let small_bytes = encoded(&small);
    let kib_bytes = encoded(&kib);

    bench_decode_one(c, "publish_qos0_16B", &small_bytes, BatchSize::SmallInput);
    bench_decode_one(c, "publish_qos1_1KiB", &kib_bytes, BatchSize::SmallInput);
    bench_encode_one(c, "publish_qos0_16B", &small);
    bench_encode_one(c, "publish_qos1_1KiB", &kib);

    // The real CONNECT captured from a OneNET device.
    let connect = Bytes::from_static(&[
        0x10, 0x1D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xC2, 0x04, 0xB0, 0x00, 0x04, b'9',
        b'2', b'7', b'7', 0x00, 0x03, b'3', b'3', b'9', 0x00, 0x06, b'a', b'b', b'c', b'1', b'2',
        b'3',
    ]);
    bench_decode_one(c, "connect_onenet", &connect, BatchSize::SmallInput);

    // 1000 back-to-back small PUBLISH in one buffer, decoded until empty.
    let mut stream = BytesMut::new();
    for _ in 0..1000 {
        stream.extend_from_slice(&small_bytes);
    }
    let stream = stream.freeze();
    let mut g = c.benchmark_group("publish_qos0_16B_x1000");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("decode_stream", |b| {
        b.iter_batched(
            || BytesMut::from(&stream[..]),
            |mut buf| {
                let mut n = 0usize;
                while let Some(d) = decode(&mut buf, MAX).expect("valid") {
                    n += d.len;
                    black_box(d);
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // A 3 MB PUBLISH: `decode` slices the payload out of the buffer,
    // `decode_slice` has to copy it.
    let big = encoded(&publish(QoS::AtLeastOnce, 3_000_000));
    let mut g = c.benchmark_group("publish_qos1_3MB");
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("decode", |b| {
        b.iter_batched(
            || BytesMut::from(&big[..]),
            |mut buf| decode(black_box(&mut buf), MAX).expect("valid"),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("decode_slice_copying", |b| {
        b.iter(|| decode_slice(black_box(&big[..]), MAX).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
