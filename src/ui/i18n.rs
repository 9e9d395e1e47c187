//! English / 中文. English text is the key: panels call [`tr`] with the English text, and get its Chinese
//! translation when the language is Chinese and a translation exists (anything missing falls back to
//! English, never to a blank). The language is per thread (the UI thread), so tests in parallel threads do
//! not disturb each other.
//!
//! The translations are data, not code: `assets/i18n/zh.json` is one JSON object mapping each English text
//! to its Chinese text. It is compiled into the binary and parsed once, on the first lookup; a lookup is a
//! hash-map read returning a `&'static str`, with no allocation or parsing per frame. The tests below check
//! that the file covers every text the console's sources pass to [`tr`] and holds none they no longer use.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::ui::prefs::Lang;

/// The Chinese locale file. Found through the manifest directory so the module can move within `src/`.
const ZH_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/i18n/zh.json"));

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::English) };
}

pub fn set_lang(l: Lang) {
    LANG.with(|c| c.set(l));
}

pub fn lang() -> Lang {
    LANG.with(|c| c.get())
}

/// The text in the current language.
pub fn tr(en: &'static str) -> &'static str {
    match lang() {
        Lang::English => en,
        Lang::Chinese => zh(en).unwrap_or(en),
    }
}

/// The Chinese translation of an English text, if there is one.
pub fn zh(en: &str) -> Option<&'static str> {
    zh_table().get(en).map(String::as_str)
}

/// The parsed Chinese locale, built on first use and kept for the life of the process.
fn zh_table() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        parse_locale(ZH_JSON).unwrap_or_else(|e| {
            // Only a broken build can get here (the tests parse the same file); the console stays usable.
            tracing::error!("assets/i18n/zh.json: {e}; the console is shown in English");
            HashMap::new()
        })
    })
}

/// Reads a locale file: one JSON object of English text → translated text. Rejects, naming the entry,
/// what would otherwise silently lose or blank a translation: a key given twice (JSON readers keep only
/// one of them), an empty or blank text, a value that is not a string.
pub fn parse_locale(json: &str) -> Result<HashMap<String, String>, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let Entries(entries) = Entries::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let mut map = HashMap::with_capacity(entries.len());
    for (en, text) in entries {
        if text.trim().is_empty() {
            return Err(format!("{en:?} has an empty translation"));
        }
        if map.insert(en.clone(), text).is_some() {
            return Err(format!("{en:?} is given twice"));
        }
    }
    Ok(map)
}

/// The entries of a JSON object in file order, duplicates kept (so they can be reported).
struct Entries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of \"English text\": \"translated text\" entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                // Bounded by the input: one entry per key of the (compiled-in) file.
                let mut v = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, String>()? {
                    v.push(entry);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests;
