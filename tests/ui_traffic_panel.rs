//! Traffic panel (issue 14 item 9): Clear resets "dropped", the count follows the filters, and the Time
//! and Size columns show their whole text.
#![cfg(feature = "gui")]

mod common;

use common::ui::{app_harness, fixture, harness};
use egui_kittest::kittest::Queryable;
use onenet_desk::events::Direction;
use onenet_desk::events::Received;
use onenet_desk::ui::actions::Tab;
use onenet_desk::ui::format;
use onenet_desk::ui::panels::traffic::TrafficPanel;

fn has(h: &egui_kittest::Harness<'_, impl Sized>, part: &str) -> bool {
    h.query_all_by_label_contains(part).next().is_some()
}

#[test]
fn clear_resets_dropped() {
    let mut m = fixture();
    m.apply_received(Received::Missed(5));
    m.tab = Tab::Traffic;
    let mut h = app_harness(m, [1280.0, 800.0]);
    h.run();
    assert!(has(&h, "5 dropped"));
    h.get_by_label("Clear").click();
    h.run();
    assert!(has(&h, "0 dropped"), "nothing shown was lost after Clear");
    assert!(has(&h, "0 packets"));
}

#[test]
fn the_count_follows_the_filters() {
    let mut m = fixture();
    m.tab = Tab::Traffic;
    let mut h = harness(TrafficPanel::default(), m, |p, ui, m, o| p.ui(ui, m, o));
    h.run();
    assert!(has(&h, "2 packets"));
    h.state_mut().panel.filter.device = "9277".into();
    h.run();
    assert!(has(&h, "1 of 2 packets"), "the count is of the rows shown");
}

#[test]
fn time_and_size_are_not_cut() {
    let m = fixture();
    // A large packet on a long topic: a six-digit size, and a Topic column that wants the room.
    let topic = format!("/lab/{}", "sensor-".repeat(12));
    let len = 2 + topic.len() + 100_000;
    let mut p = vec![
        0x30,
        (len & 0x7F) as u8 | 0x80,
        ((len >> 7) & 0x7F) as u8 | 0x80,
        (len >> 14) as u8,
    ];
    p.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    p.extend_from_slice(topic.as_bytes());
    p.resize(p.len() + 100_000, b'x');
    let size_text = p.len().to_string();
    let off = m.offset();
    // The room the panel has in a 1024×700 window (the navigation column takes 150).
    let mut h = egui_kittest::Harness::builder()
        .with_size([874.0, 640.0])
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, fx: &mut common::ui::Fx<TrafficPanel>| fx.panel.ui(ui, &fx.model, &mut fx.out),
            common::ui::Fx {
                panel: TrafficPanel::default(),
                model: m,
                out: Vec::new(),
            },
        );
    h.run();
    // The big packet arrives after the columns were first laid out with small ones.
    h.state_mut()
        .model
        .apply_event(onenet_desk::events::Event::Packet {
            at: 1_700_000_000_987,
            client_id: Some("9277".into()),
            direction: Direction::In,
            bytes: p.into(),
            dp: None,
        });
    h.run();
    let size = h
        .query_all_by_label(&size_text)
        .next()
        .expect("the size cell");
    let time_text = format::time_ms(1_700_000_000_987, off);
    let time = h
        .query_all_by_label(&time_text)
        .next()
        .expect("the time cell");
    let width = |text: &str, style: egui::TextStyle| {
        let font = style.resolve(&h.ctx.global_style());
        h.ctx
            .fonts_mut(|f| f.layout_no_wrap(text.into(), font, egui::Color32::WHITE))
            .size()
            .x
    };
    let need_time = width(&time_text, egui::TextStyle::Monospace);
    let need_size = width(&size_text, egui::TextStyle::Body);
    assert!(
        time.rect().width() + 0.5 >= need_time,
        "time cut: {} < {need_time}",
        time.rect().width()
    );
    assert!(
        size.rect().width() + 0.5 >= need_size,
        "size cut: {} < {need_size}",
        size.rect().width()
    );
}
