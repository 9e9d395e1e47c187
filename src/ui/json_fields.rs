//! Plotting a field of JSON-object datapoints: `{"pos":{"x":1.5,"y":2}}` plots as `pos.x`. The field is
//! chosen per stream (kept in the prefs) from the numeric fields of the stream's latest value.

use egui::Ui;

use crate::onenet::datapoint::DpValue;
use crate::ui::actions::Action;
use crate::ui::i18n::tr;
use crate::ui::state::StreamState;

/// Numeric fields listed for one value, at most (a wide object lists its first ones).
const PATHS_MAX: usize = 64;
/// Depth searched for numeric fields.
const DEPTH_MAX: usize = 6;

/// The number at `path` ("pos.x", "list.0.v") in a JSON value: a number, or text that reads as one.
pub fn at_path(v: &serde_json::Value, path: &str) -> Option<f64> {
    let mut cur = v;
    for key in path.split('.') {
        cur = match cur {
            serde_json::Value::Object(o) => o.get(key)?,
            serde_json::Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    match cur {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// The number a datapoint gives for `field` (None: the value itself).
pub fn value_at(v: &DpValue, field: Option<&str>) -> Option<f64> {
    match (field, v) {
        (Some(f), DpValue::Json(j)) => at_path(j, f),
        (Some(_), _) => None,
        (None, v) => StreamState::numeric(v),
    }
}

/// The paths of the numeric fields of a value, in document order (bounded by [`PATHS_MAX`]).
pub fn numeric_paths(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, prefix: &str, depth: usize, out: &mut Vec<String>) {
        if out.len() >= PATHS_MAX || depth > DEPTH_MAX {
            return;
        }
        let join = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    walk(x, &join(k), depth + 1, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, &join(&i.to_string()), depth + 1, out);
                }
            }
            serde_json::Value::Number(n)
                if n.as_f64().is_some_and(f64::is_finite)
                    && !prefix.is_empty()
                    && out.len() < PATHS_MAX =>
            {
                out.push(prefix.to_string());
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", 0, &mut out);
    out
}

/// True for values with fields to pick from (JSON objects and arrays).
pub fn has_fields(st: &StreamState) -> bool {
    matches!(
        &st.latest,
        Some((
            _,
            DpValue::Json(serde_json::Value::Object(_) | serde_json::Value::Array(_))
        ))
    )
}

/// "plot: pos.x ▾": picks the field to plot; the list is built only while it is open.
pub fn picker(ui: &mut Ui, dev: &str, stream: &str, st: &StreamState, out: &mut Vec<Action>) {
    let Some((_, DpValue::Json(latest))) = &st.latest else {
        return;
    };
    let shown = st.field.clone().unwrap_or_else(|| tr("field…").to_string());
    egui::ComboBox::from_id_salt(("dp-field", dev, stream))
        .selected_text(shown)
        .width(90.0)
        .show_ui(ui, |ui| {
            let paths = numeric_paths(latest);
            if paths.is_empty() {
                ui.weak(tr("No numeric field in the latest value."));
            }
            for p in paths {
                if ui
                    .selectable_label(st.field.as_deref() == Some(p.as_str()), &p)
                    .clicked()
                {
                    out.push(Action::PlotField {
                        device: dev.to_string(),
                        stream: stream.to_string(),
                        field: Some(p),
                    });
                }
            }
            if st.field.is_some() && ui.button(tr("Plot no field")).clicked() {
                out.push(Action::PlotField {
                    device: dev.to_string(),
                    stream: stream.to_string(),
                    field: None,
                });
            }
        })
        .response
        .on_hover_text(tr("Plot a numeric field of these JSON values"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_values() {
        let v = json!({"pos": {"x": 1.5, "y": "2"}, "name": "a", "list": [{"v": 3}], "ok": true});
        assert_eq!(numeric_paths(&v), vec!["pos.x", "list.0.v"]);
        assert_eq!(at_path(&v, "pos.x"), Some(1.5));
        assert_eq!(at_path(&v, "pos.y"), Some(2.0));
        assert_eq!(at_path(&v, "list.0.v"), Some(3.0));
        assert_eq!(at_path(&v, "name"), None);
        assert_eq!(at_path(&v, "pos.z"), None);
    }
}
