//! Notices ("Product 339 added.", "The broker did not start: …"): drawn over the panel's top-right corner
//! so they never push the panel's widgets down; info notices fade after [`INFO_TTL`], errors stay until
//! dismissed.
//!
//! The clock is egui's input time (`InputState::time`): the real time in the window, and a clock tests
//! can set (`RawInput::time`) to see a notice expire without waiting.

use std::collections::HashMap;

use egui::{Align2, RichText};

use crate::ui::actions::Action;
use crate::ui::i18n::tr;
use crate::ui::state::{Level, Model};
use crate::ui::widgets;

/// How long an info notice stays, in seconds (the last [`FADE`] of it fading out).
pub const INFO_TTL: f64 = 6.0;
/// Seconds of fading at the end of an info notice's life.
const FADE: f64 = 1.0;
/// Notices shown at once (newest first); the others wait their turn.
const SHOWN: usize = 3;

/// When each notice was first shown (egui time), to expire info notices. Holds only ids of notices the
/// model still has (pruned every frame), so it is bounded by the model's notice ring.
#[derive(Default)]
pub struct NoticeClock {
    first_shown: HashMap<u64, f64>,
}

impl NoticeClock {
    /// Draws the newest notices over the panel area and pushes a dismiss for expired info notices; asks
    /// for the repaints an expiry or a fade needs (nothing else repaints an idle window).
    pub fn show(&mut self, ctx: &egui::Context, m: &Model, out: &mut Vec<Action>) {
        self.first_shown
            .retain(|id, _| m.notices.iter().any(|n| n.id == *id));
        if m.notices.is_empty() {
            return;
        }
        let now = ctx.input(|i| i.time);
        let mut shown = Vec::new();
        for n in m.notices.iter().rev().take(SHOWN) {
            let since = *self.first_shown.entry(n.id).or_insert(now);
            let opacity = match n.level {
                Level::Error => 1.0,
                Level::Info => {
                    let left = INFO_TTL - (now - since);
                    if left <= 0.0 {
                        out.push(Action::DismissNotice(n.id));
                        continue;
                    }
                    if left > FADE {
                        ctx.request_repaint_after(std::time::Duration::from_secs_f64(left - FADE));
                        1.0
                    } else {
                        // Fading: frames at a gentle rate until it is gone.
                        ctx.request_repaint_after(std::time::Duration::from_millis(50));
                        (left / FADE) as f32
                    }
                }
            };
            shown.push((n, opacity));
        }
        if shown.is_empty() {
            return;
        }
        let area = ctx.content_rect();
        egui::Area::new(egui::Id::unique("notices"))
            .order(egui::Order::Foreground)
            .anchor(Align2::RIGHT_TOP, [-12.0, 40.0])
            .constrain_to(area)
            .interactable(true)
            .show(ctx, |ui| {
                ui.set_max_width(460.0);
                for (n, opacity) in shown {
                    let color = match n.level {
                        Level::Info => widgets::BLUE,
                        Level::Error => widgets::RED,
                    };
                    ui.scope(|ui| {
                        ui.set_opacity(opacity);
                        egui::Frame::popup(ui.style())
                            .stroke(egui::Stroke::new(1.0, color))
                            .show(ui, |ui| {
                                ui.horizontal(|ui| {
                                    ui.add(
                                        egui::Label::new(RichText::new(&n.text).color(color))
                                            .wrap(),
                                    );
                                    if ui.small_button("×").on_hover_text(tr("Dismiss")).clicked()
                                    {
                                        out.push(Action::DismissNotice(n.id));
                                    }
                                });
                            });
                    });
                    ui.add_space(4.0);
                }
            });
    }
}
