//! One configuration for the console and `serve` (issue 11 item 2): `onenet-desk.toml` in the data dir,
//! `serve --config FILE` and flags on top, `config show` with each value's source, key-named errors, an
//! atomic save, and `ServiceHandle::apply_config` at run time. Item 11: a taken HTTP port.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use common::dataplane::{next_publish, ping};
use common::{Raw, Serve, cli, publish, subscribe};
use onenet_desk::config::{self, CONFIG_FILE, Config, FileError, Override, Profile, Source};
use onenet_desk::mqtt::{Packet, QoS};
use onenet_desk::store::{Db, NewDevice, NewProduct};

fn seed(dir: &Path) {
    let db = Db::open(&dir.join(config::DB_FILE)).unwrap();
    db.add_product(NewProduct {
        id: Some("339".into()),
        name: None,
        api_key: Some("KEY339".into()),
    })
    .unwrap();
    for (id, auth) in [("9277", "abc123"), ("9278", "def456")] {
        db.add_device(NewDevice {
            product_id: "339".into(),
            id: Some(id.into()),
            auth_info: Some(auth.into()),
            ..Default::default()
        })
        .unwrap();
    }
}

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
}

/// Device 9278 leaves a retained message on `/t`; a fresh subscriber 9277 gets it. Returns its RETAIN flag.
async fn retained_delivery_flag(mqtt: std::net::SocketAddr) -> bool {
    let mut publisher = Raw::device(mqtt, "9278", "def456", true).await;
    publisher
        .send(&publish("/t", b"kept", QoS::AtMostOnce, 0, true))
        .await;
    ping(&mut publisher).await;
    let mut sub = Raw::device(mqtt, "9277", "abc123", true).await;
    sub.send(&subscribe(1, &[("/t", QoS::AtMostOnce)])).await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let p = next_publish(&mut sub).await;
    assert_eq!(&p.payload[..], b"kept");
    p.retain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_a_onenet_decision_from_the_data_dir_file() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    // Without a file: the doc's rule, RETAIN=1 on a retained delivery.
    let s = Serve::start(dir.path(), &[]);
    assert!(retained_delivery_flag(s.mqtt).await, "default sets RETAIN");
    s.stop();
    // The setting firmware on the official SDK needs (it rejects RETAIN=1), from the shared file.
    write(
        dir.path(),
        "# set in the console\n[onenet]\nretain_flag_on_delivery = false\n",
    );
    let s = Serve::start(dir.path(), &[]);
    assert!(
        !retained_delivery_flag(s.mqtt).await,
        "serve must read onenet-desk.toml"
    );
    s.stop();
    // A flag beats the file.
    let s = Serve::start(
        dir.path(),
        &["--set", "onenet.retain_flag_on_delivery=true"],
    );
    assert!(
        retained_delivery_flag(s.mqtt).await,
        "--set overrides the file"
    );
    s.stop();
}

#[test]
fn config_show_prints_every_value_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mqtt_addr = \"0.0.0.0:7000\"\n[onenet]\noffline_max_messages = 20\n",
    );
    let out = cli(
        dir.path(),
        &[
            "config",
            "show",
            "--mqtt",
            "127.0.0.1:7001",
            "--set",
            "onenet.dp_subscription_json=true",
            "--keep-days",
            "30",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let file = dir.path().join(CONFIG_FILE);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no line for {key} in\n{text}"))
            .to_string()
    };
    let mqtt = line("mqtt_addr");
    assert!(
        mqtt.contains("\"127.0.0.1:7001\"") && mqtt.ends_with("# flag --mqtt"),
        "{mqtt}"
    );
    let offline = line("offline_max_messages");
    assert!(
        offline.contains("= 20") && offline.ends_with(&format!("# file {}", file.display())),
        "{offline}"
    );
    assert!(line("dp_subscription_json").ends_with("# flag --set onenet.dp_subscription_json"));
    assert!(line("max_age_days").contains("= 30"));
    let retain = line("retain_flag_on_delivery");
    assert!(
        retain.contains("= true") && retain.ends_with("# default"),
        "{retain}"
    );
    assert!(line("http_addr").contains("\"127.0.0.1:8080\""));
    // Every setting is listed, and the output is a settings file that reads back to the same values.
    let shown: toml::Table = toml::from_str(&text).expect("config show prints TOML");
    assert_eq!(
        shown["onenet"]["offline_max_messages"].as_integer(),
        Some(20)
    );
    for key in ["limits", "onenet", "retention"] {
        assert!(shown.contains_key(key), "section {key} missing");
    }
}

#[test]
fn unknown_keys_and_bad_values_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(CONFIG_FILE);
    let cases: &[(&str, &str)] = &[
        (
            "[onenet]\noffline_max_msgs = 3\n",
            "onenet.offline_max_msgs",
        ),
        ("max_packet = 5000\n", "did you mean `limits.max_packet`"),
        ("[limits]\nmax_packet = \"big\"\n", "limits.max_packet"),
        (
            "[onenet]\noffline_max_messages = 0\n",
            "onenet.offline_max_messages",
        ),
        ("http_addr = \"localhost\"\n", "http_addr"),
        (
            "[limits]\nconnect_timeout_secs = -1\n",
            "limits.connect_timeout_secs",
        ),
        ("profile = \"amqp\"\n", "profile"),
        ("onenet = 3\n", "`onenet` is a section"),
        ("[onenet\n", "not valid TOML"),
    ];
    for (text, want) in cases {
        write(dir.path(), text);
        for args in [
            &["config", "show"][..],
            &["serve", "--mqtt", "127.0.0.1:0"][..],
        ] {
            let out = cli(dir.path(), args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{text:?} {args:?}: {err}");
            assert!(err.contains(want), "{text:?} {args:?}: {err}");
            assert!(
                err.contains(&file.display().to_string()),
                "{text:?}: the error names the file: {err}"
            );
        }
    }
    // A flag's bad value names the flag.
    std::fs::remove_file(&file).unwrap();
    let out = cli(
        dir.path(),
        &["config", "show", "--set", "limits.inflight_window=0"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("limits.inflight_window") && err.contains("--set"),
        "{err}"
    );
    let out = cli(dir.path(), &["config", "show", "--set", "onenet.nope=1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `onenet.nope`"));
    // `--config FILE` that does not exist is an error, not silently the defaults.
    let out = cli(
        dir.path(),
        &["config", "show", "--config", "/nonexistent/x.toml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
}

#[test]
fn save_is_atomic_writes_only_changes_and_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    assert_eq!(
        Config::load(&data).unwrap(),
        Config::app_default(data.clone())
    );
    let mut c = Config::load(&data).unwrap();
    c.onenet.offline_max_messages = 25;
    c.onenet.command_response_window = Duration::from_millis(1500);
    c.retention.max_rows_per_stream = Some(1000);
    c.http_addr = None;
    c.profile = Profile::Mqtt;
    let path = c.save().unwrap();
    assert_eq!(path, data.join(CONFIG_FILE));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("offline_max_messages = 25"), "{text}");
    assert!(
        text.contains("command_response_window_secs = 1.5"),
        "{text}"
    );
    assert!(text.contains("http_addr = \"off\""), "{text}");
    assert!(
        !text.contains("max_packet"),
        "defaults are not pinned: {text}"
    );
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [CONFIG_FILE], "no temporary file left behind");
    assert_eq!(Config::load(&data).unwrap(), c);
    // An invalid config is refused before anything is written.
    let mut bad = c.clone();
    bad.limits.inflight_window = 0;
    assert!(matches!(bad.save(), Err(FileError::Invalid(e)) if e.name == "limits.inflight_window"));
    assert_eq!(Config::load(&data).unwrap(), c);
    // Sources, through the library.
    let eff = config::resolve(
        &data,
        None,
        &[Override::new("auto_register", true, "--auto-register")],
    )
    .unwrap();
    assert_eq!(
        eff.source("onenet.offline_max_messages"),
        Some(&Source::File(path.clone()))
    );
    assert_eq!(eff.source("limits.max_packet"), Some(&Source::Default));
    assert_eq!(
        eff.source("auto_register"),
        Some(&Source::Flag("--auto-register".into()))
    );
    assert!(eff.config.auto_register);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_config_changes_a_running_broker() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::broker(dir.path(), Profile::OneNet).await;
    common::seed_registry(&h);
    assert!(retained_delivery_flag(h.mqtt_addr()).await);
    let mut next = (*h.config()).clone();
    next.onenet.retain_flag_on_delivery = false;
    next.auto_register = true;
    next.mqtt_addr = "127.0.0.1:1".parse().unwrap();
    let applied = h.apply_config(next).await.unwrap();
    assert_eq!(applied.restart_needed, ["mqtt_addr"]);
    assert_eq!(
        h.config().mqtt_addr,
        "127.0.0.1:0".parse().unwrap(),
        "config() shows what runs"
    );
    assert!(!h.config().onenet.retain_flag_on_delivery);
    // In effect for the next subscriber, without a restart.
    assert!(!retained_delivery_flag(h.mqtt_addr()).await);
    // Auto-register now admits an unknown device id of product 339.
    let (_r, ack) = Raw::login(
        h.mqtt_addr(),
        &common::connect_packet("7777", Some("339"), Some("pw7777"), true, 120),
    )
    .await;
    assert!(
        matches!(ack, Packet::ConnAck(ref a) if a.code as u8 == 0),
        "{ack:?}"
    );
    // Retention applies at once: three datapoints of one stream, then "keep 1 per stream".
    let json = br#"{"datastreams":[{"id":"t","datapoints":[{"at":"2026-01-01 00:00:01","value":1},{"at":"2026-01-01 00:00:02","value":2},{"at":"2026-01-01 00:00:03","value":3}]}]}"#;
    assert_eq!(h.ingest_datapoints("9277", json).await.unwrap(), 3);
    assert_eq!(common::dataplane::points(&h, "9277").len(), 3);
    let mut next = (*h.config()).clone();
    next.retention.max_rows_per_stream = Some(1);
    assert!(
        h.apply_config(next)
            .await
            .unwrap()
            .restart_needed
            .is_empty()
    );
    h.flush().await;
    let left = common::dataplane::points(&h, "9277");
    assert_eq!(left.len(), 1, "{left:?}");
    // A bad config is refused whole.
    let mut bad = (*h.config()).clone();
    bad.onenet.offline_max_messages = 0;
    assert_eq!(
        h.apply_config(bad).await.unwrap_err().name,
        "onenet.offline_max_messages"
    );
    h.shutdown().await;
}

/// Item 11: a second `serve` on the same machine finds 127.0.0.1:8080 (here: any HTTP port) taken. It
/// says so in one line on stderr and keeps the MQTT broker running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_http_port_leaves_mqtt_running_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap();
    let mut child = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "serve",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("RUST_LOG", "off")
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = out.next().unwrap().unwrap();
    let mqtt: std::net::SocketAddr = first
        .strip_prefix("mqtt listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    let second = out.next().unwrap().unwrap();
    assert_eq!(second, "http off", "stdout says the API is off");
    // The broker works.
    let mut d = Raw::device(mqtt, "9277", "abc123", true).await;
    ping(&mut d).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].contains(&port.to_string()) && lines[0].contains("--http"),
        "names the address and the fix: {err}"
    );
    drop(taken);
}
