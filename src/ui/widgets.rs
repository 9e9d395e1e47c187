//! Small reusable widgets: copyable text, hex dump with highlighted spans, status dots, confirm dialogs.

use std::ops::Range;

use egui::text::LayoutJob;
use egui::{Color32, RichText, TextFormat, TextStyle, Ui};

use crate::ui::i18n::tr;
use crate::ui::state::packets::Part;

pub const GREEN: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
pub const GREY: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);
pub const AMBER: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
pub const RED: Color32 = Color32::from_rgb(0xe5, 0x48, 0x4d);
pub const BLUE: Color32 = Color32::from_rgb(0x38, 0x8b, 0xfd);

/// Colours for plot lines, chosen to read on light and dark backgrounds.
pub const PALETTE: [Color32; 8] = [
    Color32::from_rgb(0x38, 0x8b, 0xfd),
    Color32::from_rgb(0xf7, 0x81, 0x66),
    Color32::from_rgb(0x3f, 0xb9, 0x50),
    Color32::from_rgb(0xbc, 0x8c, 0xff),
    Color32::from_rgb(0xd2, 0x99, 0x22),
    Color32::from_rgb(0x39, 0xc5, 0xcf),
    Color32::from_rgb(0xff, 0x7b, 0xa0),
    Color32::from_rgb(0x8b, 0x94, 0x9e),
];

/// A green or grey dot with "online"/"offline".
pub fn online_dot(ui: &mut Ui, online: bool) {
    let (c, t) = if online {
        (GREEN, tr("online"))
    } else {
        (GREY, tr("offline"))
    };
    ui.label(RichText::new(format!("● {t}")).color(c));
}

/// A label that copies `text` to the clipboard when clicked.
pub fn copyable(ui: &mut Ui, text: &str) -> egui::Response {
    let r = ui
        .add(egui::Label::new(RichText::new(text).monospace()).sense(egui::Sense::click()))
        .on_hover_text(tr("Click to copy"));
    if r.clicked() {
        ui.ctx().copy_text(text.to_string());
    }
    r
}

/// A small "Copy" button.
pub fn copy_button(ui: &mut Ui, text: &str, what: &str) {
    if ui
        .small_button(tr("Copy"))
        .on_hover_text(format!("{} {what}", tr("Copy to the clipboard:")))
        .clicked()
    {
        ui.ctx().copy_text(text.to_string());
    }
}

fn part_color(p: Part, dark: bool) -> Color32 {
    match p {
        Part::FixedHeader => GREY,
        Part::Topic => BLUE,
        Part::PacketId => Color32::from_rgb(0x39, 0xc5, 0xcf),
        Part::Payload => {
            if dark {
                Color32::LIGHT_GRAY
            } else {
                Color32::DARK_GRAY
            }
        }
        Part::DpType => RED,
        Part::DpTime => Color32::from_rgb(0xbc, 0x8c, 0xff),
        Part::DpLength | Part::DpCount => AMBER,
        Part::DpBody | Part::DpFloats => GREEN,
        Part::DpStreamId => Color32::from_rgb(0xff, 0x7b, 0xa0),
    }
}

/// A hex dump, 16 bytes a line, bytes coloured by the span they belong to; a legend of the spans used.
pub fn hex_dump(ui: &mut Ui, data: &[u8], spans: &[(Range<usize>, Part)], max_lines: usize) {
    let dark = ui.visuals().dark_mode;
    let font = TextStyle::Monospace.resolve(ui.style());
    let plain = ui.visuals().text_color();
    let color_at = |i: usize| {
        spans
            .iter()
            .rev()
            .find(|(r, _)| r.contains(&i))
            .map_or(plain, |(_, p)| part_color(*p, dark))
    };
    let mut job = LayoutJob::default();
    for line in crate::ui::format::hex_lines(data).iter().take(max_lines) {
        job.append(
            &format!("{:06X}  ", line.offset),
            0.0,
            TextFormat::simple(font.clone(), GREY),
        );
        for (k, h) in line.hex.iter().enumerate() {
            job.append(
                &format!("{h} "),
                0.0,
                TextFormat::simple(font.clone(), color_at(line.offset + k)),
            );
        }
        let pad = (16 - line.hex.len()) * 3;
        job.append(
            &format!("{} {}\n", " ".repeat(pad), line.ascii),
            0.0,
            TextFormat::simple(font.clone(), GREY),
        );
    }
    // Never wrapped: a wrapped line would break the 16-byte rows and their ASCII column.
    ui.add(egui::Label::new(job).extend());
    if data.len() > max_lines * 16 {
        ui.weak(format!(
            "… {} {}",
            data.len() - max_lines * 16,
            tr("more bytes")
        ));
    }
    let mut seen: Vec<Part> = Vec::new();
    for (_, p) in spans {
        if !seen.contains(p) {
            seen.push(*p);
        }
    }
    if !seen.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for p in seen {
                ui.label(RichText::new(format!("■ {}", p.name())).color(part_color(p, dark)));
            }
        });
    }
}

/// A modal asking to confirm; returns Some(true) on confirm, Some(false) on cancel (the button,
/// Escape, or a click outside), None while open.
pub fn confirm(ui: &Ui, id: &str, question: &str, confirm_label: &str) -> Option<bool> {
    let mut out = None;
    let r = egui::Modal::new(egui::Id::unique(id)).show(ui.ctx(), |ui| {
        ui.set_max_width(420.0);
        ui.heading(tr("Please confirm"));
        ui.label(question);
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button(RichText::new(confirm_label).color(RED)).clicked() {
                out = Some(true);
            }
            if ui.button(tr("Cancel")).clicked() {
                out = Some(false);
            }
        });
    });
    if out.is_none() && r.should_close() {
        out = Some(false);
    }
    out
}

/// A payload in full: indented JSON when it is JSON, the text when it is UTF-8 (lines kept, never
/// wrapped letter by letter), then the hex dump. Scrolls both ways. Retained, Offline and Commands share it.
pub fn payload_view(ui: &mut Ui, id: &str, data: &[u8], max_hex_lines: usize) {
    egui::ScrollArea::both()
        .id_salt(("payload-view", id))
        .auto_shrink([false, true])
        .show(ui, |ui| {
            if let Some(j) = crate::ui::format::pretty_json(data) {
                ui.weak("JSON");
                ui.add(egui::Label::new(RichText::new(j).monospace()).extend());
            } else if let Ok(t) = std::str::from_utf8(data) {
                ui.weak(tr("text"));
                ui.add(egui::Label::new(RichText::new(t).monospace()).extend());
            } else {
                ui.weak(tr("binary"));
            }
            ui.add_space(4.0);
            hex_dump(ui, data, &[], max_hex_lines);
        });
}

/// A heading with a one-line explanation under it.
pub fn title(ui: &mut Ui, text: &str, hint: &str) {
    ui.heading(text);
    if !hint.is_empty() {
        ui.weak(hint);
    }
    ui.add_space(4.0);
}
