//! The Simulator window: add N virtual devices to a product with per-group settings, start/stop each group,
//! live counts. A thin view over [`crate::sim`]; the groups run on the console's runtime and talk to the
//! broker over TCP like any device.

use std::time::Duration;

use egui::RichText;

use crate::mqtt::QoS;
use crate::service::ServiceHandle;
use crate::sim::{self, Faults, Generator, Group, GroupConfig, Reply, ReplyKind, Stream};

/// Groups kept in the window at most (each may hold up to 1,000 devices).
const MAX_GROUPS: usize = 32;

/// The form and the running groups.
pub struct SimulatorPanel {
    pub open: bool,
    product: String,
    devices: u32,
    types: String,
    interval_ms: u64,
    qos: u8,
    reply: usize,
    template: String,
    delay_ms: u64,
    drop_every_s: u64,
    skip_puback: bool,
    bad_dp_every: u32,
    clean_session: bool,
    keep_alive: u16,
    subscribe: String,
    error: Option<String>,
    groups: Vec<Group>,
    /// `onenet-desk demo`: start one group as soon as the broker runs.
    start_when_running: bool,
}

impl Default for SimulatorPanel {
    fn default() -> Self {
        SimulatorPanel {
            open: false,
            product: String::new(),
            devices: 3,
            types: "3".into(),
            interval_ms: 1000,
            qos: 1,
            reply: 0,
            template: "ok {body}".into(),
            delay_ms: 0,
            drop_every_s: 0,
            skip_puback: false,
            bad_dp_every: 0,
            clean_session: true,
            keep_alive: 120,
            subscribe: String::new(),
            error: None,
            groups: Vec::new(),
            start_when_running: false,
        }
    }
}

const REPLIES: [&str; 4] = [
    "echo",
    "template",
    "never (status 5)",
    "malformed (diagnostic)",
];

impl SimulatorPanel {
    /// The button in the navigation column that opens the window.
    pub fn nav_button(&mut self, ui: &mut egui::Ui) {
        let running = self.groups.iter().filter(|g| !g.is_finished()).count();
        let label = if running > 0 {
            format!("Simulator  {running}")
        } else {
            "Simulator".into()
        };
        if ui.selectable_label(self.open, label).clicked() {
            self.open = !self.open;
        }
    }

    /// Opens the window with a group of `devices` virtual devices of `product` (`$dp` types 3 and 1 in turn,
    /// every second, QoS 1, commands echoed), started as soon as the broker runs: what `onenet-desk demo`
    /// shows a first-time user with no hardware at hand.
    pub fn start_demo(&mut self, product: &str, devices: u32) {
        self.product = product.to_string();
        self.devices = devices;
        self.types = "3,1".into();
        self.open = true;
        self.start_when_running = true;
    }

    /// Shows the window when open; `rt` and `service` are None while the broker is stopped.
    pub fn window(
        &mut self,
        ctx: &egui::Context,
        service: Option<&ServiceHandle>,
        rt: Option<tokio::runtime::Handle>,
    ) {
        if self.start_when_running
            && let (Some(s), Some(rt)) = (service, rt.as_ref())
        {
            self.start_when_running = false;
            if let Err(e) = self.start(s, rt) {
                self.error = Some(e);
            }
        }
        let mut open = self.open;
        // First shown at the right, under the title: at the left it covered the navigation (`demo` opens
        // it at start, so a first look at the console was a window over the panel list).
        let area = ctx.content_rect();
        egui::Window::new("Simulator")
            .open(&mut open)
            .default_width(460.0)
            .default_pos([(area.right() - 480.0).max(area.left()), area.top() + 48.0])
            .show(ctx, |ui| {
                self.form(ui, service, rt);
                ui.separator();
                self.list(ui);
            });
        self.open = open;
    }

    fn form(
        &mut self,
        ui: &mut egui::Ui,
        service: Option<&ServiceHandle>,
        rt: Option<tokio::runtime::Handle>,
    ) {
        egui::Grid::new("sim-form").num_columns(2).show(ui, |ui| {
            let l = ui.label("Product");
            ui.text_edit_singleline(&mut self.product).labelled_by(l.id);
            ui.end_row();
            ui.label("Devices");
            ui.add(egui::DragValue::new(&mut self.devices).range(1..=1000));
            ui.end_row();
            ui.label("$dp types (1–7, in turn)");
            ui.text_edit_singleline(&mut self.types);
            ui.end_row();
            ui.label("Interval (ms)");
            ui.add(egui::DragValue::new(&mut self.interval_ms).range(10..=3_600_000));
            ui.end_row();
            ui.label("QoS");
            ui.horizontal(|ui| {
                for q in 0..=2 {
                    ui.radio_value(&mut self.qos, q, q.to_string());
                }
            });
            ui.end_row();
            ui.label("Clean session / keepalive (s)");
            ui.horizontal(|ui| {
                ui.checkbox(&mut self.clean_session, "");
                ui.add(egui::DragValue::new(&mut self.keep_alive));
            });
            ui.end_row();
            ui.label("Subscribe to (comma-separated)");
            ui.text_edit_singleline(&mut self.subscribe);
            ui.end_row();
            ui.label("Answer $creq");
            ui.horizontal(|ui| {
                egui::ComboBox::from_id_salt("sim-reply")
                    .selected_text(REPLIES[self.reply.min(3)])
                    .show_ui(ui, |ui| {
                        for (i, r) in REPLIES.iter().enumerate() {
                            ui.selectable_value(&mut self.reply, i, *r);
                        }
                    });
                if self.reply == 1 {
                    ui.text_edit_singleline(&mut self.template);
                }
            });
            ui.end_row();
            ui.label("Reply delay (ms)");
            ui.add(egui::DragValue::new(&mut self.delay_ms).range(0..=600_000));
            ui.end_row();
            ui.label("Faults");
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.label("drop connection every (s, 0 = never)");
                    ui.add(egui::DragValue::new(&mut self.drop_every_s));
                });
                ui.checkbox(&mut self.skip_puback, "skip PUBACK");
                ui.horizontal(|ui| {
                    ui.label("bad $dp every Nth upload (0 = never)");
                    ui.add(egui::DragValue::new(&mut self.bad_dp_every));
                });
            });
            ui.end_row();
        });
        let can = service.is_some() && rt.is_some() && self.groups.len() < MAX_GROUPS;
        if ui
            .add_enabled(can, egui::Button::new("Add devices and start"))
            .clicked()
            && let (Some(s), Some(rt)) = (service, rt)
        {
            self.error = self.start(s, &rt).err();
        }
        if service.is_none() {
            ui.label("The broker is not running.");
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    fn config(&self, addr: String) -> Result<GroupConfig, String> {
        let types = self
            .types
            .split(',')
            .map(|t| {
                t.trim()
                    .parse::<u8>()
                    .map_err(|_| format!("$dp type {t:?} is not a number 1–7"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut g = GroupConfig::new(self.product.trim(), Vec::new(), &addr);
        g.name = format!("group {}", self.groups.len() + 1);
        g.streams = Stream::defaults();
        if types.contains(&2) {
            g.streams.push(Stream {
                name: "blob".into(),
                generator: Generator::Blob { len: 16 },
            });
        }
        g.types = types;
        g.interval = Duration::from_millis(self.interval_ms);
        g.qos = QoS::from_u8(self.qos).unwrap_or(QoS::AtLeastOnce);
        g.clean_session = self.clean_session;
        g.keep_alive = self.keep_alive;
        g.subscribe = self
            .subscribe
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        g.reply = Reply {
            kind: match self.reply {
                1 => ReplyKind::Template(self.template.clone()),
                2 => ReplyKind::Never,
                3 => ReplyKind::Malformed,
                _ => ReplyKind::Echo,
            },
            delay: Duration::from_millis(self.delay_ms),
            qos: QoS::AtLeastOnce,
        };
        g.faults = Faults {
            drop_every: (self.drop_every_s > 0).then(|| Duration::from_secs(self.drop_every_s)),
            skip_puback: self.skip_puback,
            bad_dp_every: (self.bad_dp_every > 0).then_some(self.bad_dp_every),
        };
        Ok(g)
    }

    /// Validates, registers the devices (named "virtual ID") and starts the group.
    fn start(&mut self, s: &ServiceHandle, rt: &tokio::runtime::Handle) -> Result<(), String> {
        let mut addr = s.mqtt_addr();
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let mut g = self.config(addr.to_string())?;
        g.devices = vec![sim::DeviceCred {
            id: "0".into(),
            auth_info: "x".into(),
        }];
        g.validate()?;
        let wait = |f| crate::ui::backend::wait_for(rt, f);
        if wait(s.product(&g.product_id))
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err(format!(
                "no product {:?}: add it in Registry first",
                g.product_id
            ));
        }
        g.devices = crate::ui::backend::wait_for(
            rt,
            s.register_virtual_devices(&g.product_id, self.devices as usize, None),
        )
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(sim::DeviceCred::from)
        .collect();
        let _guard = rt.enter();
        self.groups.push(Group::start(g)?);
        Ok(())
    }

    fn list(&mut self, ui: &mut egui::Ui) {
        let mut remove = None;
        for (i, g) in self.groups.iter().enumerate() {
            let c = g.config();
            let s = g.stats();
            let first = c.devices.first().map_or("", |d| d.id.as_str());
            let last = c.devices.last().map_or("", |d| d.id.as_str());
            ui.horizontal(|ui| {
                ui.label(RichText::new(&c.name).strong());
                ui.label(format!(
                    "product {} · virtual {first}–{last} · types {:?}",
                    c.product_id, c.types
                ));
            });
            ui.label(format!(
                "online {}/{} · sent {} · acked {} · datapoints {} · commands {}/{} answered · drops {}",
                s.connected, s.devices, s.sent, s.acknowledged, s.datapoints, s.commands_answered, s.commands_received,
                s.connection_drops
            ));
            if let Some(e) = &s.last_error {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            }
            if g.is_finished() {
                if ui.button("Remove group").clicked() {
                    remove = Some(i);
                }
            } else if ui.button("Stop group").clicked() {
                g.request_stop();
            }
            ui.separator();
        }
        if let Some(i) = remove {
            self.groups.remove(i);
        }
    }

    /// Stops every group (the console is closing).
    pub fn stop_all(&self) {
        for g in &self.groups {
            g.request_stop();
        }
    }
}
