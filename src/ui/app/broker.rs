//! Broker settings from the console: starting and restarting the broker on new prefs (off the UI
//! thread), and applying prefs that need no restart to the running broker.

use crate::ui::app::ConsoleApp;
use crate::ui::i18n::{set_lang, tr};
use crate::ui::panels::settings;
use crate::ui::prefs::Prefs;
use crate::ui::state::{BrokerState, Level, Reply};

impl ConsoleApp {
    /// Starts the broker, or restarts it, on `prefs` (the applied prefs when None); off the UI thread.
    /// New prefs become the applied ones only once the broker runs on them.
    pub(super) fn start_broker(&mut self, prefs: Option<Prefs>) {
        let Some(b) = self.backend.as_mut() else {
            return;
        };
        let p = prefs.as_ref().unwrap_or(&self.model.prefs);
        match p.to_config(&self.base) {
            Ok(c) => {
                let running = self.model.is_running().then(|| self.model.config.clone());
                self.pending = prefs;
                self.model.apply_reply(Reply::BrokerProgress(format!(
                    "{} {}…",
                    tr("starting on"),
                    c.mqtt_addr
                )));
                let save = self.pending.is_some();
                b.change(Some(c), running, save);
            }
            Err(e) => {
                if !self.model.is_running() {
                    self.model.broker = BrokerState::Failed(e.clone());
                }
                self.model
                    .notify(Level::Error, format!("{} {e}", tr("Settings not valid:")));
            }
        }
    }

    /// Applies new prefs: look, language and templates at once; broker settings to the running broker
    /// (and the settings file) without a restart when none of them needs one, else with a restart that
    /// makes them the applied ones only once the broker runs on them.
    pub(super) fn apply_settings(&mut self, p: Prefs) {
        let m = &mut self.model;
        let mut now = m.prefs.clone();
        now.theme = p.theme;
        now.lang = p.lang;
        now.time_zone = p.time_zone;
        now.templates = p.templates.clone();
        now.plot_fields = p.plot_fields.clone();
        now.cjk_notice_shown = p.cjk_notice_shown;
        m.prefs = now;
        set_lang(m.prefs.lang);
        let new = match p.to_config(&self.base) {
            Ok(c) => c,
            Err(e) => {
                m.notify(Level::Error, format!("{} {e}", tr("Settings not valid:")));
                return;
            }
        };
        if p == m.prefs {
            return;
        }
        let restart = m.is_running() && !settings::restart_keys(&m.config, &new).is_empty();
        if restart {
            self.start_broker(Some(p));
            return;
        }
        let broker_changed = m.prefs.to_config(&self.base).ok().as_ref() != Some(&new);
        m.prefs = p;
        if broker_changed && let Some(b) = self.backend.as_ref() {
            b.apply_config(new);
        }
    }
}
