//! `onenet-desk.toml`: the one settings file of a data dir, read by both the desktop console and `serve`,
//! so what is set in the window applies to `serve` on that data dir and the other way round.
//!
//! The effective configuration is built in layers, each value remembering where it came from
//! ([`Source`]): the defaults ([`Config::app_default`]), then the file (the data dir's, or the one given
//! with `serve --config FILE` instead), then command-line flags ([`Override`]). Every layer is checked
//! against the keys of the defaults, so an unknown key or a value of the wrong kind is an error that names
//! the key and where it was written — never a silently ignored line.
//!
//! Window-only preferences (theme, language, columns) are not here; they stay with the console.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// Name of the settings file inside the data dir.
pub const CONFIG_FILE: &str = "onenet-desk.toml";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default ([`Config::app_default`]).
    Default,
    /// A settings file.
    File(PathBuf),
    /// A command-line flag, as written (`--mqtt`, `--set onenet.offline_max_messages`).
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// One value set on the command line, on top of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The file key, e.g. `onenet.retain_flag_on_delivery`.
    pub key: String,
    pub value: toml::Value,
    /// The flag as the user wrote it, for `config show` and error messages.
    pub flag: String,
}

impl Override {
    pub fn new(key: &str, value: impl Into<toml::Value>, flag: &str) -> Override {
        Override {
            key: key.to_string(),
            value: value.into(),
            flag: flag.to_string(),
        }
    }

    /// Reads `KEY=VALUE` (the `--set` flag). VALUE is read as a TOML value (`true`, `10`, `0.5`,
    /// `"text"`); anything else (`off`, `0.0.0.0:6002`, `onenet`) is taken as text.
    pub fn parse_set(s: &str) -> Result<Override, String> {
        let (key, value) = s.split_once('=').ok_or_else(|| {
            format!("--set '{s}': expected KEY=VALUE, e.g. onenet.offline_max_messages=20")
        })?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(format!("--set '{s}': the key before '=' is empty"));
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
            flag: format!("--set {key}"),
        })
    }
}

/// Why the configuration could not be read, resolved or saved. Each names the file or the key.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("unknown setting `{key}` ({origin}){hint}")]
    UnknownKey {
        key: String,
        origin: Source,
        hint: String,
    },
    #[error("bad value for `{key}` ({origin}): {message}")]
    BadValue {
        key: String,
        origin: Source,
        message: String,
    },
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

impl FileError {
    /// The setting the error is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            FileError::UnknownKey { key, .. } | FileError::BadValue { key, .. } => Some(key),
            FileError::Invalid(e) => Some(e.name),
            _ => None,
        }
    }
}

/// The configuration in effect and where each value came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub config: Config,
    /// The settings file that was looked for.
    pub file: PathBuf,
    /// Whether it existed (a missing data-dir file means "all defaults"; a missing `--config FILE` is an error).
    pub file_found: bool,
    values: BTreeMap<String, (toml::Value, Source)>,
}

impl Effective {
    /// Where `key` (e.g. `limits.max_packet`) got its value; `None` for a key that does not exist.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.values.get(key).map(|(_, s)| s)
    }

    /// Every key with its value as written in the file, in file order.
    pub fn values(&self) -> impl Iterator<Item = (&str, &toml::Value, &Source)> {
        self.values.iter().map(|(k, (v, s))| (k.as_str(), v, s))
    }

    /// The effective configuration as a TOML document, each line commented with its source (what
    /// `onenet-desk config show` prints; it can be saved as a settings file as it is).
    pub fn render(&self) -> String {
        let mut out = format!(
            "# onenet-desk configuration in effect\n# data dir: {}\n# settings file: {}{}\n",
            self.config.data_dir.display(),
            self.file.display(),
            if self.file_found {
                ""
            } else {
                " (not present: defaults)"
            }
        );
        let lines: Vec<(Option<&str>, String, String)> = self
            .values
            .iter()
            .map(|(k, (v, s))| {
                let (section, name) = split_key(k);
                (section, format!("{name} = {v}"), s.to_string())
            })
            .collect();
        let width = lines.iter().map(|(_, l, _)| l.len()).max().unwrap_or(0);
        let mut section = None;
        for (sec, line, src) in ordered(&lines, |l| l.0) {
            if *sec != section {
                section = *sec;
                out.push_str(&format!("\n[{}]\n", sec.unwrap_or_default()));
            }
            out.push_str(&format!("{line:width$}  # {src}\n"));
        }
        out
    }
}

/// `limits.max_packet` → (Some("limits"), "max_packet"); `profile` → (None, "profile").
fn split_key(k: &str) -> (Option<&str>, &str) {
    match k.split_once('.') {
        Some((s, n)) => (Some(s), n),
        None => (None, k),
    }
}

/// Top-level keys first (TOML needs them before any `[section]`), then section by section.
fn ordered<T>(items: &[T], section: impl Fn(&T) -> Option<&str>) -> Vec<&T> {
    let mut v: Vec<&T> = items.iter().collect();
    v.sort_by_key(|i| section(i).map(str::to_string));
    v
}

/// The config's keys and values, flattened to dotted keys (`limits.max_packet`).
fn leaves(c: &Config) -> BTreeMap<String, toml::Value> {
    let mut out = BTreeMap::new();
    // Serializing our own plain struct cannot fail: every field maps to a TOML scalar (tested).
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(c) {
        flatten(&t, "", &mut out);
    }
    out
}

fn flatten(t: &toml::Table, prefix: &str, out: &mut BTreeMap<String, toml::Value>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(inner, &key, out),
            other => {
                out.insert(key, other.clone());
            }
        }
    }
}

fn unflatten<'a>(values: impl Iterator<Item = (&'a String, &'a toml::Value)>) -> toml::Table {
    let mut root = toml::Table::new();
    for (k, v) in values {
        let (section, name) = split_key(k);
        let table = match section {
            Some(s) => match root
                .entry(s.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                toml::Value::Table(t) => t,
                _ => continue, // cannot happen: a section key is never also a value key
            },
            None => &mut root,
        };
        table.insert(name.to_string(), v.clone());
    }
    root
}

/// Sets `key` in `values` from `origin`, refusing keys the configuration does not have.
fn set(
    values: &mut BTreeMap<String, (toml::Value, Source)>,
    key: String,
    value: toml::Value,
    origin: Source,
) -> Result<(), FileError> {
    if let Some(slot) = values.get_mut(&key) {
        *slot = (value, origin);
        return Ok(());
    }
    if values.keys().any(|k| k.starts_with(&format!("{key}."))) {
        return Err(FileError::BadValue {
            message: format!("`{key}` is a section: write its keys under [{key}]"),
            key,
            origin,
        });
    }
    let last = key.rsplit('.').next().unwrap_or(&key);
    let near: Vec<&str> = values
        .keys()
        .filter(|k| k.rsplit('.').next() == Some(last))
        .map(String::as_str)
        .collect();
    let hint = match near.as_slice() {
        [one] => format!(": did you mean `{one}`?"),
        _ => ": `onenet-desk config show` lists every setting".to_string(),
    };
    Err(FileError::UnknownKey { key, origin, hint })
}

/// Builds the effective configuration for `data_dir`: defaults, then the settings file (`file`, or
/// `data_dir/onenet-desk.toml` when `None`; a missing data-dir file is fine, a missing `file` is an
/// error), then `overrides` in order. The result is validated.
pub fn resolve(
    data_dir: &Path,
    file: Option<&Path>,
    overrides: &[Override],
) -> Result<Effective, FileError> {
    let defaults = Config::app_default(data_dir.to_path_buf());
    let mut values: BTreeMap<String, (toml::Value, Source)> = leaves(&defaults)
        .into_iter()
        .map(|(k, v)| (k, (v, Source::Default)))
        .collect();
    let path = file.map_or_else(|| Config::file_path(data_dir), Path::to_path_buf);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.is_none() => None,
        Err(source) => return Err(FileError::Read { path, source }),
    };
    let file_found = text.is_some();
    if let Some(text) = text {
        let table: toml::Table = toml::from_str(&text).map_err(|e| FileError::Syntax {
            path: path.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut flat = BTreeMap::new();
        flatten(&table, "", &mut flat);
        for (k, v) in flat {
            set(&mut values, k, v, Source::File(path.clone()))?;
        }
    }
    for o in overrides {
        set(
            &mut values,
            o.key.clone(),
            o.value.clone(),
            Source::Flag(o.flag.clone()),
        )?;
    }
    let table = unflatten(values.iter().map(|(k, (v, _))| (k, v)));
    let mut config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let origin = values.get(&key).map_or(Source::Default, |(_, s)| s.clone());
            FileError::BadValue {
                message: e.into_inner().message().to_string(),
                key,
                origin,
            }
        })?;
    config.data_dir = data_dir.to_path_buf();
    config.validate().map_err(|e| FileError::BadValue {
        key: e.name.to_string(),
        origin: values
            .get(e.name)
            .map_or(Source::Default, |(_, s)| s.clone()),
        message: e.why.to_string(),
    })?;
    Ok(Effective {
        config,
        file: path,
        file_found,
        values,
    })
}

impl Config {
    /// Where the settings file of `data_dir` is.
    pub fn file_path(data_dir: &Path) -> PathBuf {
        data_dir.join(CONFIG_FILE)
    }

    /// The configuration of `data_dir`: the defaults and its `onenet-desk.toml` (if any). What the console
    /// starts the broker with; `serve` adds its flags through [`resolve`].
    pub fn load(data_dir: &Path) -> Result<Config, FileError> {
        resolve(data_dir, None, &[]).map(|e| e.config)
    }

    /// Saves the settings to `self.data_dir/onenet-desk.toml` atomically (a temporary file in the same
    /// directory, flushed, then renamed over it), creating the data dir if needed. Only values that differ
    /// from the defaults are written, so a later version's better default is not pinned by a save. Returns
    /// the file's path.
    pub fn save(&self) -> Result<PathBuf, FileError> {
        let path = Config::file_path(&self.data_dir);
        self.save_to(&path)?;
        Ok(path)
    }

    /// [`Config::save`] to another file (e.g. one for `serve --config`).
    pub fn save_to(&self, path: &Path) -> Result<(), FileError> {
        self.validate()?;
        let text = self.to_toml(false);
        let write = |source| FileError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(write)
    }

    /// The settings as a TOML document: every key (`all`), or only those that differ from the defaults.
    pub fn to_toml(&self, all: bool) -> String {
        let defaults = leaves(&Config::app_default(self.data_dir.clone()));
        let lines: Vec<(Option<String>, String)> = leaves(self)
            .iter()
            .filter(|(k, v)| all || defaults.get(*k) != Some(*v))
            .map(|(k, v)| {
                let (section, name) = split_key(k);
                (section.map(str::to_string), format!("{name} = {v}"))
            })
            .collect();
        let mut out = String::from(
            "# onenet-desk settings for this data dir, shared by the desktop console and `onenet-desk serve`.\n\
             # `onenet-desk config show` lists every setting, its value in effect and where it came from.\n",
        );
        let mut section = None;
        for (sec, line) in ordered(&lines, |l| l.0.as_deref()) {
            if sec.as_deref() != section {
                section = sec.as_deref();
                out.push_str(&format!("\n[{}]\n", section.unwrap_or_default()));
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_one_scalar_key_in_a_section_at_most() {
        let c = Config::app_default(PathBuf::from("/d"));
        let keys = leaves(&c);
        assert!(keys.len() >= 20, "{keys:?}");
        for (k, v) in &keys {
            assert!(
                k.matches('.').count() <= 1,
                "{k}: nested deeper than one section"
            );
            assert!(
                !matches!(v, toml::Value::Table(_) | toml::Value::Array(_)),
                "{k} is not a scalar: give the field a serde_units representation"
            );
        }
    }

    #[test]
    fn the_full_document_reads_back_to_the_same_config() {
        let dir = std::env::temp_dir().join(format!("onenet-desk-cfg-{}", std::process::id()));
        let mut c = Config::app_default(dir.clone());
        c.onenet.offline_max_age = std::time::Duration::from_millis(2500);
        c.retention.max_age = Some(std::time::Duration::from_secs(3 * 86_400));
        let file = dir.join("full.toml");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, c.to_toml(true)).unwrap();
        let e = resolve(&dir, Some(&file), &[]).unwrap();
        assert_eq!(e.config, c);
        assert!(e.values().all(|(_, _, s)| *s == Source::File(file.clone())));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn set_values_are_toml_or_text() {
        let o = Override::parse_set("onenet.offline_max_messages=20").unwrap();
        assert_eq!(o.value, toml::Value::Integer(20));
        let o = Override::parse_set("mqtt_addr=0.0.0.0:7000").unwrap();
        assert_eq!(o.value, toml::Value::String("0.0.0.0:7000".into()));
        assert_eq!(o.flag, "--set mqtt_addr");
        assert!(
            Override::parse_set("novalue")
                .unwrap_err()
                .contains("KEY=VALUE")
        );
    }
}
