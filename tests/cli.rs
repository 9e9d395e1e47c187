//! The command line as scripts use it: the real binary, a temp data dir, port 0.

mod common;

use std::process::Command;

use common::*;
use onenet_desk::mqtt::Packet;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON value")
}

#[test]
fn product_and_device_commands_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = json(&cli(
        dir.path(),
        &[
            "product",
            "add",
            "--id",
            "339",
            "--name",
            "lab",
            "--api-key",
            "KEY339",
        ],
    ));
    assert_eq!(p["id"], "339");
    assert_eq!(p["name"], "lab");
    assert_eq!(p["api_key"], "KEY339");
    let generated = json(&cli(dir.path(), &["product", "add"]));
    assert!(
        generated["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    assert!(!generated["api_key"].as_str().unwrap().is_empty());
    let d = json(&cli(
        dir.path(),
        &[
            "device",
            "add",
            "--product",
            "339",
            "--id",
            "9277",
            "--auth-info",
            "abc123",
            "--name",
            "温度计",
        ],
    ));
    assert_eq!(d["id"], "9277");
    assert_eq!(d["product_id"], "339");
    assert_eq!(d["auth_info"], "abc123");
    assert_eq!(d["name"], "温度计");
    let list = json(&cli(dir.path(), &["product", "list"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let list = json(&cli(dir.path(), &["device", "list", "--product", "339"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "9277");
    let list = json(&cli(
        dir.path(),
        &[
            "device",
            "list",
            "--product",
            generated["id"].as_str().unwrap(),
        ],
    ));
    assert!(list.as_array().unwrap().is_empty());
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["device", "add", "--id", "1"], "--product"),
        (&["product", "add", "--id", "12ab"], "decimal digits"),
        (
            &["device", "add", "--product", "77", "--id", "1"],
            "no product 77",
        ),
        (&["serve", "--profile", "amqp"], "amqp"),
        (&["serve", "--mqtt", "not-an-address"], "not-an-address"),
    ];
    for (args, needle) in cases {
        let out = cli(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    json(&cli(dir.path(), &["product", "add", "--id", "1"]));
    let out = cli(dir.path(), &["product", "add", "--id", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[tokio::test]
async fn serve_accepts_devices_added_while_running_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    json(&cli(
        dir.path(),
        &["product", "add", "--id", "339", "--api-key", "KEY339"],
    ));
    let server = Serve::start(dir.path(), &[]);
    let addr = server.mqtt;
    // unknown yet: CONNACK 2
    let (_r, ack) = Raw::login(
        addr,
        &connect_packet("9277", Some("339"), Some("abc123"), true, 120),
    )
    .await;
    assert!(matches!(ack, Packet::ConnAck(a) if a.code as u8 == 2));
    // added from another process while serve runs: accepted at once
    json(&cli(
        dir.path(),
        &[
            "device",
            "add",
            "--product",
            "339",
            "--id",
            "9277",
            "--auth-info",
            "abc123",
        ],
    ));
    let (_r, ack) = Raw::login(
        addr,
        &connect_packet("9277", Some("339"), Some("abc123"), true, 120),
    )
    .await;
    assert!(matches!(ack, Packet::ConnAck(a) if a.code as u8 == 0));
    let status = server.stop();
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn a_port_in_use_is_a_one_line_error_naming_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "serve",
            "--mqtt",
            &format!("127.0.0.1:{port}"),
            "--http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains(&format!("port {port}")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Running under CI (`CI` set to `true` or `1`, as CI services and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Debian's mosquitto clients against `serve`, in both profiles. Skipped (with the reason printed) when
/// they are not installed, except in CI (`CI=true`), where a missing client is a failure: CI installs them,
/// so their absence means the interop check silently stopped running.
#[test]
fn mosquitto_clients_interoperate() {
    if Command::new("mosquitto_pub")
        .arg("--help")
        .output()
        .is_err()
    {
        let why = "mosquitto_pub/mosquitto_sub not installed (apt-get install mosquitto-clients)";
        assert!(
            !in_ci(),
            "mosquitto_clients_interoperate cannot run in CI: {why}"
        );
        println!("SKIPPED mosquitto_clients_interoperate: {why}");
        return;
    }
    for profile in ["mqtt", "onenet"] {
        let dir = tempfile::tempdir().unwrap();
        let (sub_auth, pub_auth): (Vec<&str>, Vec<&str>) = if profile == "onenet" {
            json(&cli(
                dir.path(),
                &["product", "add", "--id", "339", "--api-key", "KEY339"],
            ));
            json(&cli(
                dir.path(),
                &[
                    "device",
                    "add",
                    "--product",
                    "339",
                    "--id",
                    "9277",
                    "--auth-info",
                    "abc123",
                ],
            ));
            json(&cli(
                dir.path(),
                &[
                    "device",
                    "add",
                    "--product",
                    "339",
                    "--id",
                    "9278",
                    "--auth-info",
                    "def456",
                ],
            ));
            (
                vec!["-i", "9278", "-u", "339", "-P", "def456"],
                vec!["-i", "9277", "-u", "339", "-P", "KEY339"],
            )
        } else {
            (vec!["-i", "msub"], vec!["-i", "mpub"])
        };
        let server = Serve::start(dir.path(), &["--profile", profile]);
        let port = server.mqtt.port().to_string();
        let mosq = |tool: &str, args: &[&str], auth: &[&str]| {
            let out = Command::new(tool)
                .args(["-h", "127.0.0.1", "-p", &port, "-q", "1"])
                .args(args)
                .args(auth)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{tool} {args:?} failed in profile {profile}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // 1. a persistent subscription (clean session 0), then exit once SUBACKed (-E)
        mosq("mosquitto_sub", &["-c", "-t", "/lab/temp", "-E"], &sub_auth);
        // 2. published at QoS 1 while the subscriber is offline, and a retained message
        mosq(
            "mosquitto_pub",
            &["-t", "/lab/temp", "-m", "22.5"],
            &pub_auth,
        );
        mosq(
            "mosquitto_pub",
            &["-t", "/lab/cfg", "-m", "on", "-r"],
            &pub_auth,
        );
        // 3. the subscriber comes back and gets the queued message
        let got = mosq(
            "mosquitto_sub",
            &["-c", "-t", "/lab/temp", "-C", "1", "-W", "10", "-v"],
            &sub_auth,
        );
        assert_eq!(got.trim(), "/lab/temp 22.5", "{profile}");
        // 4. a new subscription gets the retained message
        let got = mosq(
            "mosquitto_sub",
            &["-t", "/lab/cfg", "-C", "1", "-W", "10", "-v"],
            &pub_auth,
        );
        assert_eq!(got.trim(), "/lab/cfg on", "{profile}");
        assert!(server.stop().success());
    }
}
