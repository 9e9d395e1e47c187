//! How the config's typed values are written in `onenet-desk.toml`: durations as seconds (an integer when
//! whole, else a decimal), "no limit" as 0, "no HTTP API" as `"off"`. Plain scalars, so the file reads like
//! what the console's Settings show and each key has one value a flag can replace.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// A non-negative, finite number (integer or decimal) of some unit.
struct Amount(&'static str);

impl Visitor<'_> for Amount {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number of {} (0 or more)", self.0)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        if v < 0 {
            return Err(E::invalid_value(de::Unexpected::Signed(v), &self));
        }
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        if !v.is_finite() || v < 0.0 {
            return Err(E::invalid_value(de::Unexpected::Float(v), &self));
        }
        Ok(v)
    }
}

/// Largest amount accepted: about 31 years in seconds; more is a typo, and `Duration` math stays safe.
const MAX_SECS: f64 = 1e9;

fn duration<'de, D: Deserializer<'de>>(
    d: D,
    unit: &'static str,
    scale: f64,
) -> Result<Duration, D::Error> {
    let v = d.deserialize_any(Amount(unit))?;
    let secs = v * scale;
    if secs > MAX_SECS {
        return Err(de::Error::custom(format!(
            "{v} {unit} is too long (more than 31 years)"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn write_amount<S: Serializer>(s: S, d: Duration, scale: u64) -> Result<S::Ok, S::Error> {
    if d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(scale) {
        s.serialize_u64(d.as_secs() / scale)
    } else {
        s.serialize_f64(d.as_secs_f64() / scale as f64)
    }
}

/// `Duration` as seconds.
pub mod secs {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        write_amount(s, *d, 1)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        duration(d, "seconds", 1.0)
    }
}

/// `Option<Duration>` as days; 0 = none (keep forever).
pub mod opt_days {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        write_amount(s, d.unwrap_or_default(), 86_400)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let v = duration(d, "days", 86_400.0)?;
        Ok((!v.is_zero()).then_some(v))
    }
}

/// `Option<u64>` as a count; 0 = none (no limit).
pub mod opt_count {
    use super::*;
    use serde::Deserialize;

    pub fn serialize<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(n.unwrap_or(0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let n = u64::deserialize(d)?;
        Ok((n > 0).then_some(n))
    }
}

/// `Option<SocketAddr>` as `"IP:port"` or `"off"`.
pub mod opt_addr {
    use super::*;

    pub fn serialize<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match a {
            Some(a) => s.collect_str(a),
            None => s.serialize_str("off"),
        }
    }

    struct Addr;

    impl Visitor<'_> for Addr {
        type Value = Option<SocketAddr>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an address IP:port (e.g. \"127.0.0.1:8080\"; port 0 picks one) or \"off\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            if v.eq_ignore_ascii_case("off") {
                return Ok(None);
            }
            v.parse::<SocketAddr>()
                .map(Some)
                .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        d.deserialize_str(Addr)
    }
}
