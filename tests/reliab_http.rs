//! HTTP hardening over a real socket: the body limit is "< 64 KB" (65,535 accepted, 65,536 refused with
//! errno 5), and request heads, header count, head time (slowloris), connections and request time are
//! bounded, each breach costing only the offender its connection or request.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use onenet_desk::ServiceHandle;
use onenet_desk::config::Profile;
use onenet_desk::http::server::{HttpLimits, serve_with_limits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A broker with the sample registry and its HTTP API on 127.0.0.1:0 under `limits`.
async fn setup(
    limits: HttpLimits,
) -> (
    tempfile::TempDir,
    ServiceHandle,
    SocketAddr,
    CancellationToken,
) {
    let dir = tempfile::tempdir().unwrap();
    let h = broker(dir.path(), Profile::OneNet).await;
    seed_registry(&h);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve_with_limits(
        l,
        onenet_desk::http::router(h.clone()),
        limits,
        stop.clone(),
    ));
    (dir, h, addr, stop)
}

/// Reads until the server closes or `t` passes; returns the bytes and whether it closed.
async fn read_all(s: &mut TcpStream, t: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + t;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into(), false),
        }
    }
}

/// One request on a fresh connection (`Connection: close`); the response's status line and body.
async fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let (text, _) = read_all(&mut s, WAIT).await;
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn post(uri: &str, len: usize) -> String {
    format!(
        "POST {uri} HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    )
}

fn errno(body: &str) -> i64 {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    v["errno"].as_i64().unwrap()
}

#[tokio::test]
async fn body_limit_is_strictly_below_64_kb() {
    let (_d, h, addr, stop) = setup(HttpLimits::default()).await;
    // A command body to an offline device with a validity: accepted up to 65,535 bytes.
    let uri = "/cmds?device_id=9277&timeout=60";
    let (st, body) = request(addr, &post(uri, 65_535), &vec![b'x'; 65_535]).await;
    assert!(st.contains("200"), "{st}");
    assert_eq!(errno(&body), 0, "65,535 bytes: {body}");
    for n in [65_536, 65_537] {
        let (_, body) = request(addr, &post(uri, n), &vec![b'x'; n]).await;
        assert_eq!(errno(&body), 5, "{n} bytes: {body}");
        assert!(body.contains("smaller than 65536"), "{body}");
    }
    // The same limit without a declared length (chunked): refused once the 65,536th byte arrives.
    let chunked = format!(
        "POST {uri} HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n10000\r\n{}\r\n0\r\n\r\n",
        "y".repeat(65_536)
    );
    let (_, body) = request(addr, &chunked, b"").await;
    assert_eq!(errno(&body), 5, "chunked 65,536: {body}");
    // HTTP push has the same rule.
    let (_, body) = request(addr, &post("/mqtt?topic=/t", 65_536), &vec![b'x'; 65_536]).await;
    assert_eq!(errno(&body), 5);
    stop.cancel();
    h.shutdown().await;
}

#[tokio::test]
async fn oversize_heads_and_too_many_headers_get_431_and_the_api_keeps_serving() {
    let (_d, h, addr, stop) = setup(HttpLimits::default()).await;
    let big = format!(
        "GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let (st, _) = request(addr, &big, b"").await;
    assert!(st.contains("431"), "64 KiB header: {st:?}");
    let mut many = String::from("GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\n");
    for i in 0..200 {
        many.push_str(&format!("x-h{i}: 1\r\n"));
    }
    many.push_str("connection: close\r\n\r\n");
    let (st, _) = request(addr, &many, b"").await;
    assert!(st.contains("431"), "200 headers: {st:?}");
    let (st, body) = request(
        addr,
        "GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\nconnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert!(st.contains("200"), "{st}");
    assert_eq!(errno(&body), 0);
    stop.cancel();
    h.shutdown().await;
}

/// Slowloris: a head sent one byte at a time never completes within the head timeout, so the
/// connection is closed; a normal client is served meanwhile.
#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let (_d, h, addr, stop) = setup(limits).await;
    // Paused time: each 100 ms between bytes and the head timeout pass as soon as nothing else runs.
    tokio::time::pause();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let started = tokio::time::Instant::now();
    let head = b"GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\n\r\n";
    let mut closed_after = None;
    for b in head.iter() {
        if slow.write_all(&[*b]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let (_, closed) = read_all(&mut slow, Duration::from_millis(100)).await;
        if closed {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the slow head was served to the end");
    assert!(
        closed_after >= Duration::from_secs(2) && closed_after <= Duration::from_millis(2100),
        "closed after {closed_after:?}"
    );
    tokio::time::resume();
    let (st, _) = request(
        addr,
        "GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\nconnection: close\r\n\r\n",
        b"",
    )
    .await;
    assert!(st.contains("200"), "{st}");
    stop.cancel();
    h.shutdown().await;
}

/// A body that stops arriving gets errno 14 when the request time is up.
#[tokio::test]
async fn a_stalled_body_times_out_with_errno_14() {
    let limits = HttpLimits {
        request_timeout: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let (_d, h, addr, stop) = setup(limits).await;
    // Paused time: the request timeout passes as soon as nothing else runs.
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(post("/mqtt?topic=/t", 100).as_bytes())
        .await
        .unwrap();
    s.write_all(b"only ten b").await.unwrap();
    let (text, _) = read_all(&mut s, WAIT).await;
    let waited = started.elapsed();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(errno(body), 14, "{text}");
    assert!(
        waited >= Duration::from_secs(2) && waited <= Duration::from_millis(2100),
        "answered after {waited:?}"
    );
    tokio::time::resume();
    stop.cancel();
    h.shutdown().await;
}

/// Past `max_connections` a new connection is closed at once; when one leaves, new ones are served.
#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let limits = HttpLimits {
        max_connections: 3,
        ..HttpLimits::default()
    };
    let (_d, h, addr, stop) = setup(limits).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Wait until the three are accepted (a request on the third is served).
    let third = idle.last_mut().unwrap();
    third
        .write_all(b"GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(WAIT, third.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let (_, closed) = read_all(&mut extra, WAIT).await;
    assert!(closed, "the fourth connection was kept open");
    drop(idle);
    let (st, _) = eventually("a slot frees", || async {
        let (st, b) = request(
            addr,
            "GET /mqtt/topic HTTP/1.1\r\nhost: x\r\napi-key: KEY339\r\nconnection: close\r\n\r\n",
            b"",
        )
        .await;
        st.contains("200").then_some((st, b))
    })
    .await;
    assert!(st.contains("200"));
    stop.cancel();
    h.shutdown().await;
}
