//! Devices: every registered device and every session, sortable and filterable; the selected device's
//! detail (subscriptions, pending and queued messages, will, diagnostics, recent packets) and actions.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::ui::actions::Action;
use crate::ui::format;
use crate::ui::i18n::tr;
use crate::ui::state::Model;
use crate::ui::widgets::{self, AMBER, GREY};

mod detail;
use detail::detail;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    Product,
    #[default]
    Id,
    Name,
    Online,
    ConnectedSince,
    MessagesIn,
    MessagesOut,
    LastSeen,
    Warnings,
    Dropped,
}

/// One line of the table: a registered device joined with its session.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    pub product: String,
    pub id: String,
    pub name: String,
    pub online: bool,
    pub remote: String,
    pub connected_at: Option<i64>,
    /// The live connection's keepalive, or the last one known (offline); None: unknown.
    pub keep_alive: Option<u16>,
    pub clean_session: Option<bool>,
    pub subscriptions: usize,
    pub messages_in: u64,
    pub messages_out: u64,
    pub last_seen: Option<i64>,
    pub warnings: u64,
    /// Deliveries the broker dropped for it (a full offline queue, QoS 0 to a full connection) and, of
    /// them, QoS 0 to a full connection: its session's counts (since the session began; a clean session
    /// starts from 0 at each connection).
    pub dropped: u64,
    pub dropped_qos0: u64,
    /// How many full subscribers its reading waits for (backpressure; 0: read as usual).
    pub held_back: u32,
    /// Auto-registered since the console started.
    pub new: bool,
}

/// The rows to show: filtered by `filter` (id, name, product or remote address contain it), online only
/// if asked, sorted.
pub fn rows(m: &Model, filter: &str, online_only: bool, sort: SortBy, asc: bool) -> Vec<DeviceRow> {
    let sessions: std::collections::HashMap<&str, &crate::service::api::SessionInfo> = m
        .sessions
        .iter()
        .map(|s| (s.client_id.as_str(), s))
        .collect();
    let registered: std::collections::HashSet<&str> =
        m.devices.iter().map(|d| d.id.as_str()).collect();
    let mut v: Vec<DeviceRow> = m
        .devices
        .iter()
        .map(|d| (d.id.as_str(), Some(d)))
        .chain(
            m.sessions
                .iter()
                .filter(|s| !registered.contains(s.client_id.as_str()))
                .map(|s| (s.client_id.as_str(), None)),
        )
        .map(|(id, d)| {
            let s = sessions.get(id).copied();
            let seen = m.seen.get(id).copied().unwrap_or_default();
            DeviceRow {
                product: d.map_or_else(
                    || s.map(|s| s.namespace.clone()).unwrap_or_default(),
                    |d| d.product_id.clone(),
                ),
                id: id.to_string(),
                name: d.map(|d| d.name.clone()).unwrap_or_default(),
                online: s.is_some_and(|s| s.online),
                remote: s.and_then(|s| s.remote.clone()).unwrap_or_default(),
                connected_at: s.and_then(|s| s.connected_at),
                keep_alive: match s.filter(|s| s.online) {
                    Some(s) => Some(s.keep_alive),
                    None => (seen.keep_alive > 0).then_some(seen.keep_alive),
                },
                clean_session: s.map(|s| s.clean_session),
                subscriptions: s.map_or(0, |s| s.subscriptions.len()),
                // Kept across disconnects and broker restarts.
                messages_in: seen.messages_in().max(s.map_or(0, |s| s.messages_in)),
                messages_out: seen.messages_out().max(s.map_or(0, |s| s.messages_out)),
                last_seen: seen.last_seen.max(s.and_then(|s| s.last_seen)),
                warnings: s
                    .map_or(0, |s| s.warnings)
                    .max(m.diagnostics.get(id).map_or(0, |d| d.len() as u64)),
                dropped: s.map_or(0, |s| s.dropped),
                dropped_qos0: s.map_or(0, |s| s.dropped_qos0),
                held_back: s.map_or(0, |s| s.held_back),
                new: d.is_some_and(|d| m.is_new_auto(d)),
            }
        })
        .collect();
    let f = filter.trim().to_lowercase();
    if !f.is_empty() {
        v.retain(|r| {
            [&r.id, &r.name, &r.product, &r.remote]
                .iter()
                .any(|s| s.to_lowercase().contains(&f))
        });
    }
    if online_only {
        v.retain(|r| r.online);
    }
    v.sort_by(|a, b| {
        let o = match sort {
            SortBy::Product => a.product.cmp(&b.product),
            SortBy::Id => natural(&a.id, &b.id),
            SortBy::Name => a.name.cmp(&b.name),
            SortBy::Online => a.online.cmp(&b.online),
            SortBy::ConnectedSince => a.connected_at.cmp(&b.connected_at),
            SortBy::MessagesIn => a.messages_in.cmp(&b.messages_in),
            SortBy::MessagesOut => a.messages_out.cmp(&b.messages_out),
            SortBy::LastSeen => a.last_seen.cmp(&b.last_seen),
            SortBy::Warnings => a.warnings.cmp(&b.warnings),
            SortBy::Dropped => a.dropped.cmp(&b.dropped),
        }
        .then_with(|| natural(&a.id, &b.id));
        if asc { o } else { o.reverse() }
    });
    v
}

/// What a held publisher's In count says on hover.
pub fn held_text(full: u32) -> String {
    format!(
        "{} {full}",
        tr("Reading held back until its full subscribers drain:")
    )
}

/// What a device's dropped count is made of (the table's hover, the detail's line).
pub fn dropped_text(dropped: u64, qos0: u64) -> String {
    format!(
        "{qos0} {}; {} {}",
        tr("QoS 0 at a full connection (its output bound waiting)"),
        dropped.saturating_sub(qos0),
        tr("from a full or expired offline queue"),
    )
}

/// A keepalive for the table: "—" when not known (never a made-up 0 s), "off" for an MQTT keepalive of 0.
pub fn keep_alive_text(k: Option<u16>) -> String {
    match k {
        None => "—".into(),
        Some(0) => tr("off").into(),
        Some(k) => format!("{k} s"),
    }
}

/// The time of day when it is today, else date and time.
fn last_seen_text(t: i64, off: i32) -> String {
    let day = |ms: i64| (ms + off as i64 * 1000).div_euclid(86_400_000);
    if day(t) == day(format::now_ms()) {
        format::time_of_day(t, off)
    } else {
        format::datetime(t, off)
    }
}

/// Numeric ids sort as numbers.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

pub struct DevicesPanel {
    pub filter: String,
    pub online_only: bool,
    pub sort: SortBy,
    pub asc: bool,
}

impl Default for DevicesPanel {
    fn default() -> Self {
        DevicesPanel {
            filter: String::new(),
            online_only: false,
            sort: SortBy::Id,
            asc: true,
        }
    }
}

impl DevicesPanel {
    pub fn ui(&mut self, ui: &mut Ui, m: &Model, out: &mut Vec<Action>) {
        if let Some(id) = m.selected.clone() {
            // Bounded: a long line in the detail (the dropped count's explanation) would otherwise widen
            // it until the table beside it had no room left.
            egui::Panel::right("device-detail")
                .default_size(380.0)
                .size_range(280.0..=480.0)
                .resizable(true)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| detail(ui, m, &id, out));
                });
        }
        widgets::title(ui, tr("Devices"), "");
        ui.horizontal(|ui| {
            ui.label(tr("Filter"));
            ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text(tr("id, name, product or address"))
                    .desired_width(220.0),
            )
            .accessible_name(tr("Device filter"))
            .on_hover_text(tr(
                "Show only devices whose id, name, product or address contains this",
            ));
            ui.checkbox(&mut self.online_only, tr("Online only"));
        });
        let rows = rows(m, &self.filter, self.online_only, self.sort, self.asc);
        ui.weak(format!("{} {}", rows.len(), tr("devices shown")));
        // Clicks on a cell select the row rather than the cell's text.
        ui.style_mut().interaction.selectable_labels = false;
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        // Fourteen columns: a little less space between them, so a lab's figures (eight-digit ids,
        // five-digit counters) fit a 1024 px window with the last column, Warnings, on screen; a wider
        // table scrolls sideways.
        ui.spacing_mut().item_spacing.x = 6.0;
        egui::ScrollArea::horizontal()
            .id_salt("devices-h")
            .show(ui, |ui| self.table(ui, m, &rows, out));
    }

    fn header(&mut self, ui: &mut Ui, label: &str, by: Option<SortBy>) {
        let Some(by) = by else {
            ui.strong(label);
            return;
        };
        let arrow = if self.sort == by {
            if self.asc { " ▲" } else { " ▼" }
        } else {
            ""
        };
        if ui
            .add(egui::Button::new(RichText::new(format!("{label}{arrow}")).strong()).frame(false))
            .on_hover_text(tr("Sort by this column"))
            .clicked()
        {
            if self.sort == by {
                self.asc = !self.asc;
            } else {
                self.sort = by;
                self.asc = true;
            }
        }
    }

    fn table(&mut self, ui: &mut Ui, m: &Model, rows: &[DeviceRow], out: &mut Vec<Action>) {
        let off = m.offset();
        // With the detail open the table has about 600 px of a 1024 px window: the columns the detail
        // repeats go, so Dropped and Warnings stay on screen instead of behind a sideways scroll.
        let cols: &[Col] = if m.selected.is_some() { &COMPACT } else { &ALL };
        let mut t = TableBuilder::new(ui)
            .striped(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        for _ in cols {
            t = t.column(Column::auto().at_least(24.0).resizable(true));
        }
        t.header(22.0, |mut h| {
            for &c in cols {
                let (label, by) = c.header();
                h.col(|ui| self.header(ui, label, by));
            }
        })
        .body(|body| {
            body.rows(22.0, rows.len(), |mut row| {
                let r = &rows[row.index()];
                row.set_selected(m.selected.as_deref() == Some(r.id.as_str()));
                for &c in cols {
                    row.col(|ui| c.cell(ui, r, off));
                }
                if row.response().clicked() {
                    out.push(Action::SelectDevice(Some(r.id.clone())));
                }
            });
        });
    }
}

/// The table's columns, in order.
#[derive(Clone, Copy)]
enum Col {
    Product,
    Id,
    Name,
    Status,
    Remote,
    Connected,
    Keepalive,
    Clean,
    Subs,
    In,
    Out,
    Dropped,
    LastSeen,
    Warnings,
}

const ALL: [Col; 14] = [
    Col::Product,
    Col::Id,
    Col::Name,
    Col::Status,
    Col::Remote,
    Col::Connected,
    Col::Keepalive,
    Col::Clean,
    Col::Subs,
    Col::In,
    Col::Out,
    Col::Dropped,
    Col::LastSeen,
    Col::Warnings,
];

/// Beside the detail: what tells devices apart and what changes as they run.
const COMPACT: [Col; 7] = [
    Col::Id,
    Col::Name,
    Col::Status,
    Col::In,
    Col::Out,
    Col::Dropped,
    Col::Warnings,
];

impl Col {
    fn header(self) -> (&'static str, Option<SortBy>) {
        match self {
            Col::Product => (tr("Product"), Some(SortBy::Product)),
            Col::Id => (tr("Device ID"), Some(SortBy::Id)),
            Col::Name => (tr("Name"), Some(SortBy::Name)),
            Col::Status => (tr("Status"), Some(SortBy::Online)),
            Col::Remote => (tr("Remote"), None),
            Col::Connected => (tr("Connected"), Some(SortBy::ConnectedSince)),
            Col::Keepalive => (tr("Keepalive"), None),
            Col::Clean => (tr("Clean"), None),
            Col::Subs => (tr("Subs"), None),
            Col::In => (tr("In"), Some(SortBy::MessagesIn)),
            Col::Out => (tr("Out"), Some(SortBy::MessagesOut)),
            Col::Dropped => (tr("Dropped"), Some(SortBy::Dropped)),
            Col::LastSeen => (tr("Last seen"), Some(SortBy::LastSeen)),
            Col::Warnings => (tr("Warnings"), Some(SortBy::Warnings)),
        }
    }

    /// Draws row `r`'s cell of this column (`off`: the display's UTC offset).
    fn cell(self, ui: &mut Ui, r: &DeviceRow, off: i32) {
        match self {
            Col::Product => {
                ui.label(&r.product);
            }
            Col::Id => {
                let t = RichText::new(&r.id).monospace();
                ui.label(if r.new { t.color(AMBER).strong() } else { t })
                    .on_hover_text(if r.new {
                        tr("Registered automatically since the console started")
                    } else {
                        ""
                    });
            }
            Col::Name => {
                ui.label(&r.name);
            }
            Col::Status => widgets::online_dot(ui, r.online),
            Col::Remote => {
                ui.label(&r.remote);
            }
            // Today's as a time of day (like Last seen), so the table's columns fit a 1024 px window;
            // the whole date and time on hover.
            Col::Connected => {
                if let Some(t) = r.connected_at {
                    ui.label(last_seen_text(t, off)).on_hover_ui(|ui| {
                        ui.label(format::datetime(t, off));
                    });
                }
            }
            Col::Keepalive => {
                ui.label(keep_alive_text(r.keep_alive))
                    .on_hover_text(if r.online {
                        ""
                    } else {
                        tr("Asked for at its last login")
                    });
            }
            Col::Clean => {
                ui.label(match r.clean_session {
                    Some(true) => tr("yes"),
                    Some(false) => tr("no"),
                    None => "",
                });
            }
            Col::Subs => {
                ui.label(r.subscriptions.to_string());
            }
            // Held back (a subscriber it feeds is full): its count in stops, so it says why, in amber and
            // on hover, without a column of its own.
            Col::In => {
                if r.held_back > 0 {
                    ui.label(RichText::new(r.messages_in.to_string()).color(AMBER))
                        .on_hover_ui(|ui| {
                            ui.label(held_text(r.held_back));
                        });
                } else {
                    ui.label(r.messages_in.to_string());
                }
            }
            Col::Out => {
                ui.label(r.messages_out.to_string());
            }
            Col::Dropped => {
                let c = if r.dropped > 0 { AMBER } else { GREY };
                ui.label(RichText::new(r.dropped.to_string()).color(c))
                    // Built only when hovered: the table draws every row each frame.
                    .on_hover_ui(|ui| {
                        ui.label(dropped_text(r.dropped, r.dropped_qos0));
                    });
            }
            Col::LastSeen => {
                ui.label(
                    r.last_seen
                        .map_or_else(|| "—".into(), |t| last_seen_text(t, off)),
                );
            }
            Col::Warnings => {
                let c = if r.warnings > 0 { AMBER } else { GREY };
                ui.label(RichText::new(r.warnings.to_string()).color(c));
            }
        }
    }
}
