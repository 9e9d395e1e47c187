//! The 中文 console stays complete: the locale file parses, and it translates exactly the texts the
//! console's sources pass to `tr` (and to the Logs panel's `t`), found by scanning `src/ui`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::*;

#[test]
fn falls_back_to_english() {
    set_lang(Lang::Chinese);
    assert_eq!(tr("Devices"), "设备");
    assert_eq!(tr("no such text"), "no such text");
    set_lang(Lang::English);
    assert_eq!(tr("Devices"), "Devices");
}

#[test]
fn the_locale_file_parses_and_every_text_has_both_languages() {
    let map = parse_locale(ZH_JSON).expect("assets/i18n/zh.json");
    assert!(map.len() > 400, "only {} entries", map.len());
    for (en, text) in &map {
        assert!(!en.trim().is_empty(), "an entry has an empty English key");
        assert!(!text.trim().is_empty(), "{en:?} has no Chinese text");
        // Texts with `{…}` in them show them literally (or fill them in): both sides carry the same ones.
        assert_eq!(
            braces(en),
            braces(text),
            "{en:?} → {text:?}: the {{…}} parts differ"
        );
    }
    // What the console looks up is what the file says.
    assert_eq!(zh("Devices"), Some("设备"));
    assert_eq!(zh_table().len(), map.len());
}

#[test]
fn bad_locale_files_are_rejected_naming_the_entry() {
    let dup =
        parse_locale(r#"{"Devices": "设备", "Close": "关闭", "Devices": "装置"}"#).unwrap_err();
    assert!(dup.contains("\"Devices\" is given twice"), "{dup}");
    let blank = parse_locale(r#"{"Close": "  "}"#).unwrap_err();
    assert!(
        blank.contains("\"Close\" has an empty translation"),
        "{blank}"
    );
    let not_text = parse_locale(r#"{"Close": 1}"#).unwrap_err();
    assert!(not_text.contains("line 1"), "{not_text}");
    let trailing = parse_locale(r#"{"Close": "关闭"} {}"#).unwrap_err();
    assert!(trailing.contains("trailing"), "{trailing}");
    let ok = parse_locale("{\"Send {\\\"at\\\"}\": \"发送 {\\\"at\\\"}\"}").unwrap();
    assert_eq!(ok["Send {\"at\"}"], "发送 {\"at\"}");
}

/// Every text the sources translate is in the file, and every text in the file is still used.
#[test]
fn the_locale_file_covers_exactly_the_texts_in_the_sources() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut files = Vec::new();
    rust_files(&ui, &mut files);
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        ui.display()
    );
    let mut used = BTreeSet::new();
    let mut sites = 0;
    for f in &files {
        // This module's own tests look up texts that must not exist.
        if f.components().any(|c| c.as_os_str() == "i18n") || f.ends_with("i18n.rs") {
            continue;
        }
        let src = std::fs::read_to_string(f).unwrap();
        for text in translated_literals(&src) {
            sites += 1;
            used.insert(text);
        }
    }
    assert!(
        sites > 300,
        "found only {sites} tr(\"…\") calls: is the scanner broken?"
    );
    // Texts that reach `tr` through a value rather than a literal at the call.
    used.extend(crate::ui::actions::Tab::ALL.map(|t| t.name().to_string()));
    used.extend(crate::ui::validity::Unit::ALL.map(|u| u.name().to_string()));
    used.extend(crate::ui::plot::WINDOWS.map(|(_, label)| label.to_string()));
    used.extend(
        (0..=u8::MAX)
            .filter_map(crate::onenet::commands::CommandStatus::from_code)
            .map(|s| s.desc().to_string()),
    );

    let table: &HashMap<String, String> = zh_table();
    let missing: Vec<_> = used.iter().filter(|t| !table.contains_key(*t)).collect();
    assert!(
        missing.is_empty(),
        "texts without a Chinese translation (add them to assets/i18n/zh.json): {missing:#?}"
    );
    let mut unused: Vec<_> = table.keys().filter(|k| !used.contains(*k)).collect();
    unused.sort();
    assert!(
        unused.is_empty(),
        "texts in assets/i18n/zh.json that no source uses any more (delete them): {unused:#?}"
    );
}

/// The scanner finds literals in every argument form the panels use, and nothing in comments.
#[test]
fn the_scanner_reads_calls_as_the_compiler_does() {
    let src = r##"
        // tr("in a comment") and /* tr("in a block") */
        let a = tr("plain");
        let b = i18n::tr(
            "on the next line",
        );
        let c = tr(if yes { "yes" } else { "no" });
        let d = t("logs \"quoted\"");
        let e = format!("{}", tr(r#"raw "text""#));
        let f = c == '"'; let g = portr("not a call"); let h = x.tr("a method");
        fn tr(en: &'static str) -> &'static str { en }
        let i = tr("中文 after a char literal '\"'");
    "##;
    let got = translated_literals(src);
    assert_eq!(
        got,
        [
            "plain",
            "on the next line",
            "yes",
            "no",
            "logs \"quoted\"",
            "raw \"text\"",
            "中文 after a char literal '\"'",
        ]
    );
}

fn braces(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s
        .match_indices('{')
        .filter_map(|(i, _)| s[i..].find('}').map(|j| &s[i..=i + j]))
        .collect();
    v.sort_unstable();
    v
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A token of Rust source, as far as finding `tr("…")` calls needs.
#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// The string literals inside the arguments of every call of `tr(…)` or `t(…)` (not a definition
/// `fn tr(`, not a method `.tr(`), in source order.
fn translated_literals(src: &str) -> Vec<String> {
    let toks = tokens(src);
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let Tok::Ident(name) = &toks[i] else { continue };
        if !(name == "tr" || name == "t") || toks.get(i + 1) != Some(&Tok::Punct('(')) {
            continue;
        }
        match i.checked_sub(1).map(|p| &toks[p]) {
            Some(Tok::Punct('.')) => continue,
            Some(Tok::Ident(k)) if k == "fn" => continue,
            _ => {}
        }
        let mut depth = 0usize;
        for tok in &toks[i + 1..] {
            match tok {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Str(s) => out.push(s.clone()),
                _ => {}
            }
        }
    }
    out
}

fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i < c.len() && !(c[i] == '*' && c.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if ch == '"' {
            let mut s = String::new();
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                    match c.get(i) {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('\n') => {
                            // A line continuation: the newline and the next line's indentation go.
                            while c.get(i + 1).is_some_and(|x| x.is_whitespace()) {
                                i += 1;
                            }
                        }
                        Some(&x) => s.push(x),
                        None => {}
                    }
                } else {
                    s.push(c[i]);
                }
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if ch == 'r' && matches!(c.get(i + 1), Some('"' | '#')) && raw_start(&c, i + 1) {
            let mut j = i + 1;
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            let start = j;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            out.push(Tok::Str(c[start..j.min(c.len())].iter().collect()));
            i = j + 1 + hashes;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\'') is skipped whole; a lifetime ('a) is just an apostrophe.
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else {
            if !ch.is_whitespace() {
                out.push(Tok::Punct(ch));
            }
            i += 1;
        }
    }
    out
}

/// `r` at `at - 1` starts a raw string: `#`s then a quote follow.
fn raw_start(c: &[char], at: usize) -> bool {
    let mut j = at;
    while c.get(j) == Some(&'#') {
        j += 1;
    }
    c.get(j) == Some(&'"')
}
