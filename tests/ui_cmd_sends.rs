//! The console's command history shows how often a command went out: a `qos=1` command resent at a login
//! reads "sends ×2" in its history row and lists both send times in its view; a qos 0 command shows none.
#![cfg(feature = "gui")]

mod common;

use common::ui::{fixture, harness};
use egui_kittest::kittest::Queryable;
use onenet_desk::onenet::commands::{Command, CommandSend, CommandStatus, SendLog};
use onenet_desk::ui::panels::commands::CommandsPanel;
use onenet_desk::ui::prefs::TimeZone;

fn command(uuid: &str, qos: u8, sends: &[i64]) -> Command {
    let mut log = SendLog::default();
    for at in sends {
        log.push(CommandSend { at: *at, pid: None });
    }
    Command {
        uuid: uuid.into(),
        device_id: "9277".into(),
        body: bytes::Bytes::from_static(b"on"),
        status: CommandStatus::Sent,
        created_at: 1_700_000_000_000,
        sent_at: sends.last().copied(),
        replied_at: None,
        reply: None,
        expire_at: Some(1_700_000_600_000),
        validity_s: 600,
        qos,
        sends: log,
    }
}

#[test]
fn history_and_view_show_each_send_of_a_qos1_command() {
    let mut m = fixture();
    m.selected = Some("9277".into());
    m.prefs.time_zone = TimeZone::Utc;
    m.commands.insert(
        "9277".into(),
        vec![command("q1", 1, &[1_700_000_000_458, 1_700_000_042_001])],
    );
    let mut h = harness(CommandsPanel::default(), m, |p, ui, m, o| p.ui(ui, m, o));
    h.run();
    // the history row and the command's own view both carry the count
    assert_eq!(h.query_all_by_label_contains("sends ×2").count(), 2);
    assert!(
        h.query_all_by_label_contains("22:13:20.458, 22:14:02.001")
            .next()
            .is_some(),
        "both send times, oldest first"
    );

    let mut m = fixture();
    m.selected = Some("9277".into());
    m.commands
        .insert("9277".into(), vec![command("q0", 0, &[1_700_000_000_458])]);
    let mut h = harness(CommandsPanel::default(), m, |p, ui, m, o| p.ui(ui, m, o));
    h.run();
    assert!(
        h.query_all_by_label_contains("sends ×").next().is_none(),
        "a qos 0 command sent once shows no send count"
    );
}
