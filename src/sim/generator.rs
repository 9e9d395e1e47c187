//! Value generators of virtual datastreams: each produces the next value of one stream.

use std::path::Path;

use rand::Rng;

/// One generated datapoint value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// The value as a JSON value (bytes as a hex string, which only type 2 avoids by sending them raw).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            // Whole numbers as integers, as firmware writes them (`{"t":3}`, not `{"t":3.0}`).
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                serde_json::Value::from(*n as i64)
            }
            Value::Num(n) => serde_json::Number::from_f64(*n)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(t) => serde_json::Value::String(t.clone()),
            Value::Bytes(b) => serde_json::Value::String(hex::encode(b)),
        }
    }

    /// The value as text (types 5 and 6), shortest round-trip form for numbers.
    pub fn to_text(&self) -> String {
        match self {
            Value::Num(n) => format!("{n}"),
            Value::Text(t) => t.clone(),
            Value::Bytes(b) => hex::encode(b),
        }
    }
}

/// How a stream's values are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// `offset + amplitude * sin(2π t / period)`, t = seconds since the group started.
    Sine {
        amplitude: f64,
        period_s: f64,
        offset: f64,
    },
    /// Starts at `start`, moves by a uniform step in [-step, step] each time.
    RandomWalk {
        start: f64,
        step: f64,
    },
    /// start, start + step, start + 2 step, …
    Counter {
        start: f64,
        step: f64,
    },
    Constant(f64),
    /// The values of one CSV column, in order, starting again at the end. Numbers stay numbers.
    Csv {
        column: String,
        values: Vec<String>,
    },
    /// N random bytes (for `$dp` type 2).
    Blob {
        len: usize,
    },
}

/// Largest blob a generator makes: the `$dp` type 2 limit (3 MiB).
pub const MAX_BLOB: usize = 3 * 1024 * 1024;

impl Generator {
    /// Reads column `column` (a header name) of a CSV file with a header line. Simple CSV: commas, optional
    /// double quotes around a field without embedded quotes.
    pub fn csv(path: &Path, column: &str) -> Result<Generator, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read CSV {}: {e}", path.display()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines
            .next()
            .ok_or_else(|| format!("CSV {} is empty", path.display()))?;
        let split = |l: &str| -> Vec<String> {
            l.split(',')
                .map(|f| f.trim().trim_matches('"').to_string())
                .collect()
        };
        let idx = split(header)
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| format!("CSV {} has no column {column:?}", path.display()))?;
        let values: Vec<String> = lines
            .map(|l| split(l).get(idx).cloned().unwrap_or_default())
            .collect();
        if values.is_empty() {
            return Err(format!("CSV {} has no rows", path.display()));
        }
        Ok(Generator::Csv {
            column: column.to_string(),
            values,
        })
    }

    /// Whether this generator's values are raw bytes (sent only as `$dp` type 2).
    pub fn is_blob(&self) -> bool {
        matches!(self, Generator::Blob { .. })
    }

    /// Whether every value is a number (needed by `$dp` type 7).
    pub fn is_numeric(&self) -> bool {
        match self {
            Generator::Csv { values, .. } => values.iter().all(|v| v.parse::<f64>().is_ok()),
            Generator::Blob { .. } => false,
            _ => true,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Generator::Sine { period_s, .. } if *period_s <= 0.0 => {
                Err("sine period must be positive".into())
            }
            Generator::Blob { len } if *len == 0 || *len > MAX_BLOB => {
                Err(format!("blob length must be 1..={MAX_BLOB} bytes"))
            }
            _ => Ok(()),
        }
    }

    /// A short label for the console and summaries.
    pub fn label(&self) -> String {
        match self {
            Generator::Sine { .. } => "sine".into(),
            Generator::RandomWalk { .. } => "random walk".into(),
            Generator::Counter { .. } => "counter".into(),
            Generator::Constant(v) => format!("constant {v}"),
            Generator::Csv { column, .. } => format!("csv column {column}"),
            Generator::Blob { len } => format!("blob {len} B"),
        }
    }
}

/// A generator's running state for one device.
#[derive(Debug, Clone)]
pub struct GenState {
    generator: Generator,
    step: u64,
    walk: f64,
}

impl GenState {
    pub fn new(generator: Generator) -> GenState {
        let walk = match generator {
            Generator::RandomWalk { start, .. } => start,
            _ => 0.0,
        };
        GenState {
            generator,
            step: 0,
            walk,
        }
    }

    /// The next value; `t` = seconds since the group started.
    pub fn next(&mut self, t: f64) -> Value {
        let k = self.step;
        self.step += 1;
        match &self.generator {
            Generator::Sine {
                amplitude,
                period_s,
                offset,
            } => Value::Num(offset + amplitude * (std::f64::consts::TAU * t / period_s).sin()),
            Generator::RandomWalk { step, .. } => {
                let d = if *step > 0.0 {
                    rand::rng().random_range(-*step..=*step)
                } else {
                    0.0
                };
                self.walk += d;
                Value::Num(self.walk)
            }
            Generator::Counter { start, step } => Value::Num(start + step * k as f64),
            Generator::Constant(v) => Value::Num(*v),
            Generator::Csv { values, .. } => {
                let v = values
                    .get((k % values.len().max(1) as u64) as usize)
                    .cloned()
                    .unwrap_or_default();
                match v.parse::<f64>() {
                    Ok(n) if n.is_finite() => Value::Num(n),
                    _ => Value::Text(v),
                }
            }
            Generator::Blob { len } => {
                let mut b = vec![0u8; *len];
                rand::rng().fill(&mut b[..]);
                Value::Bytes(b)
            }
        }
    }
}
