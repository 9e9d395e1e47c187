//! End to end: the real console app (kittest harness over `ConsoleApp`) with a real broker on
//! 127.0.0.1:0, and a real MQTT client (rumqttc) as device 9277 that uploads `$dp` types 3 and 7 and
//! answers `$creq`. The test checks, by what the UI shows, that the device is online, its datapoints
//! appear in the Datapoints panel, and a command sent by clicking shows the device's `$crsp` reply.
#![cfg(feature = "gui")]

mod common;

use std::time::Duration;

use common::dataplane::{framed, hex};
use common::ui::{has, live_app, live_config, step_until};
use egui_kittest::kittest::Queryable;
use onenet_desk::ui::actions::{Action, Tab};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// `$dp` type 3: `{"temperature":22.5,"humidity":"95.2%"}`.
fn type3() -> Vec<u8> {
    framed(3, r#"{"temperature":22.5,"humidity":"95.2%"}"#)
}

/// `$dp` type 7 without time: ds_id 1 with one float 34.0.
fn type7() -> Vec<u8> {
    hex("07 0001 0001 00000842")
}

/// Device 9277 on its own thread: uploads, then answers every `$creq/{uuid}` with `pong`.
fn device(port: u16) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut o = MqttOptions::new("9277", "127.0.0.1", port);
            o.set_credentials("339", "abc123");
            o.set_keep_alive(Duration::from_secs(120));
            let (c, mut el) = AsyncClient::new(o, 100);
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        c.publish("$dp", QoS::AtLeastOnce, false, type3())
                            .await
                            .unwrap();
                        c.publish("$dp", QoS::AtLeastOnce, false, type7())
                            .await
                            .unwrap();
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Some(uuid) = p.topic.strip_prefix("$creq/") {
                            c.publish(format!("$crsp/{uuid}"), QoS::AtLeastOnce, false, "pong")
                                .await
                                .unwrap();
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("device error {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                }
            }
        });
    });
}

#[test]
fn a_real_device_appears_online_its_datapoints_show_and_a_command_gets_its_reply() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    let port = h
        .state()
        .service()
        .expect("the broker runs")
        .mqtt_addr()
        .port();
    device(port);

    // The device is online in the Devices panel.
    h.state_mut().handle(Action::Navigate(Tab::Devices));
    step_until(&mut h, "device 9277 online", |h| {
        has(h, "9277") && has(h, "● online")
    });

    // Its datapoints: type 3 streams and the type 7 stream "1" with its values.
    h.state_mut().handle(Action::OpenDatapoints("9277".into()));
    step_until(&mut h, "datapoints in the Datapoints panel", |h| {
        has(h, "temperature") && has(h, "22.5") && has(h, "95.2%") && has(h, "34")
    });

    // A command sent by clicking shows the device's reply.
    h.state_mut().handle(Action::OpenCommands("9277".into()));
    step_until(&mut h, "the composer", |h| has(h, "Command body"));
    h.get_by_label("Command body").focus();
    h.get_by_label("Command body").type_text("ping");
    h.step();
    h.get_by_label("Send").click();
    step_until(&mut h, "the $crsp reply", |h| {
        has(h, "pong")
            && h.query_all_by_label_contains("Command Response Received")
                .next()
                .is_some()
    });
    h.state_mut().shutdown();
}
