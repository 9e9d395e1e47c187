//! Carrying out the panels' actions: navigation and view state at once in the model, everything that
//! needs the broker through the backend, every save through the in-window save dialog first.

use crate::service::api::{NewDevice, NewProduct};
use crate::ui::actions::{Action, Tab};
use crate::ui::app::ConsoleApp;
use crate::ui::i18n::tr;
use crate::ui::savefile;
use crate::ui::state::{Level, Reply};

impl ConsoleApp {
    /// Carries out one action.
    pub fn handle(&mut self, a: Action) {
        if self.log.len() >= 1000 {
            self.log.drain(..500);
        }
        self.log.push(a.clone());
        let m = &mut self.model;
        match a {
            Action::Navigate(t) => m.tab = t,
            Action::SelectDevice(d) => {
                m.selected = d.clone();
                if let (Some(d), Some(b)) = (d, &self.backend) {
                    b.load_detail(d);
                }
            }
            Action::OpenDatapoints(d) => {
                m.selected = Some(d.clone());
                m.tab = Tab::Datapoints;
                if let Some(b) = &self.backend {
                    b.load_streams(d);
                }
            }
            Action::OpenCommands(d) => {
                m.selected = Some(d.clone());
                m.tab = Tab::Commands;
                self.panels.commands.device = d.clone();
                if let Some(b) = &self.backend {
                    b.command_history(d);
                }
            }
            Action::StartBroker | Action::RestartBroker => self.start_broker(None),
            Action::StopBroker => {
                if let Some(b) = self.backend.as_mut() {
                    m.apply_reply(Reply::BrokerProgress(tr("stopping…").into()));
                    b.change(None, None, false);
                }
            }
            Action::ApplySettings(p) => self.apply_settings(*p),
            Action::SetAutoRegister(on) => {
                // One setting, one source: the same field Settings edits, applied without a restart.
                let mut p = m.prefs.clone();
                p.broker.auto_register = on;
                self.apply_settings(p);
            }
            Action::SaveTemplate { device, template } => {
                let list = m.prefs.templates.entry(device).or_default();
                list.retain(|t| t.name != template.name);
                list.push(template);
            }
            Action::DeleteTemplate { device, name } => {
                if let Some(list) = m.prefs.templates.get_mut(&device) {
                    list.retain(|t| t.name != name);
                }
            }
            Action::OpenStream { device, stream } => {
                let st = m
                    .streams
                    .entry(device.clone())
                    .or_default()
                    .entry(stream.clone())
                    .or_default();
                if !st.open {
                    st.open = true;
                    st.loading = true;
                    if let Some(b) = &self.backend {
                        b.load_history(device, stream);
                    } else {
                        st.loading = false;
                    }
                }
            }
            Action::PlotField {
                device,
                stream,
                field,
            } => {
                // Kept per stream; the stream's history is read again through the new field.
                let per_dev = m.prefs.plot_fields.entry(device.clone()).or_default();
                match &field {
                    Some(f) => {
                        per_dev.insert(stream.clone(), f.clone());
                    }
                    None => {
                        per_dev.remove(&stream);
                    }
                }
                if let Some(st) = m.streams.get_mut(&device).and_then(|d| d.get_mut(&stream)) {
                    st.field = field;
                    st.open = false;
                    st.series = Default::default();
                    st.recent.clear();
                }
                self.handle(Action::OpenStream { device, stream });
            }
            Action::CloseStream { device, stream } => {
                if let Some(st) = m.streams.get_mut(&device).and_then(|d| d.get_mut(&stream)) {
                    st.open = false;
                    st.series = Default::default();
                    st.recent.clear();
                }
            }
            Action::ClearTraffic => m.traffic.clear(),
            Action::SetTrafficPaused(p) => {
                m.traffic.paused_at = p.then(|| m.traffic.rows.back().map_or(0, |r| r.seq));
            }
            Action::DismissNotice(id) => m.notices.retain(|n| n.id != id),
            Action::CancelSave => self.panels.save.job = None,
            Action::SaveTo(path) => {
                if let Some(job) = self.panels.save.job.take() {
                    self.save_to(job.what, path);
                }
            }
            Action::BrowseSave(suggested) => match self.backend.as_ref() {
                Some(b) => b.pick_file(suggested),
                None => self.panels.save.picked(None),
            },
            other => match savefile::save_request(&other) {
                // Every save asks where first, in the window (the system dialog may be missing).
                Some((what, name)) => {
                    let dir = savefile::default_dir(&m.config.data_dir);
                    self.panels.save.ask(what, &dir, &name);
                }
                None => self.backend_action(other),
            },
        }
    }

    /// Writes what the save-as dialog held to `path`.
    fn save_to(&mut self, what: savefile::SaveWhat, path: std::path::PathBuf) {
        let Some(b) = self.backend.as_mut() else {
            return;
        };
        let m = &self.model;
        match what {
            savefile::SaveWhat::Bytes(bytes) => b.save_bytes(path, bytes),
            savefile::SaveWhat::Datapoints(mut spec) => {
                spec.path = Some(path);
                b.export_datapoints(spec, m.offset());
            }
            savefile::SaveWhat::Traffic => {
                b.export_traffic(path, m.traffic.rows.iter().cloned().collect())
            }
            savefile::SaveWhat::Diagnostics(d) => b.export_diagnostics(path, d),
            savefile::SaveWhat::Recording(d) => match b.runtime() {
                (rt, Some(svc)) => self.panels.traffic.start_recording(&d, path, &svc, &rt),
                _ => self
                    .model
                    .notify(Level::Error, tr("Not recorded: the broker is not running.")),
            },
        }
    }

    fn backend_action(&mut self, a: Action) {
        let Some(b) = self.backend.as_mut() else {
            return;
        };
        let m = &mut self.model;
        match a {
            Action::Refresh => b.poll(true),
            Action::Kick(c) => b.kick(c),
            Action::LoadDetail(c) => b.load_detail(c),
            Action::ClearQueue(c) => b.clear_queue(c),
            Action::DeleteRetained { namespace, topic } => {
                b.delete_retained(Some((namespace, topic)))
            }
            Action::DeleteAllRetained => b.delete_retained(None),
            Action::AddProduct { id, name, api_key } => {
                b.add_product(NewProduct { id, name, api_key })
            }
            Action::AddDevice {
                product,
                id,
                name,
                auth_info,
            } => b.add_device(NewDevice {
                product_id: product,
                id,
                name,
                auth_info,
                auto_registered: false,
            }),
            Action::UpdateProduct { id, name, api_key } => b.update_product(id, name, api_key),
            Action::UpdateDevice {
                id,
                name,
                auth_info,
            } => b.update_device(id, name, auth_info),
            Action::DeleteProduct(id) => b.delete_product(id),
            Action::DeleteDevice(id) => b.delete_device(id),
            Action::LoadStreams(d) => b.load_streams(d),
            Action::SendCommand {
                device,
                body,
                validity_s,
                qos,
            } => b.send_command(device, body, validity_s, qos),
            Action::LoadCommandHistory(d) => b.command_history(d),
            Action::ExportDatapoints(spec) => b.export_datapoints(spec, m.offset()),
            Action::CancelExport => b.cancel_export(),
            Action::OpenDataDir => b.open_path(m.config.data_dir.clone()),
            Action::OpenPath(p) => b.open_path(p),
            _ => {}
        }
    }
}
