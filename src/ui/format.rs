//! Pure helpers for showing things: times, sizes, ages, hex dumps, this machine's addresses.
//! No egui here, so all of it is tested as data.

use std::net::Ipv4Addr;

use crate::onenet::datapoint::time::format_datetime;

/// Now as Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD hh:mm:ss` at `offset` seconds from UTC (milliseconds dropped).
pub fn datetime(ms: i64, offset: i32) -> String {
    format_datetime(ms - ms.rem_euclid(1000), offset)
}

/// `hh:mm:ss` at `offset`.
pub fn time_of_day(ms: i64, offset: i32) -> String {
    let s = datetime(ms, offset);
    s.get(11..19).unwrap_or(&s).to_string()
}

/// `hh:mm:ss.mmm` at `offset` (the traffic log wants milliseconds).
pub fn time_ms(ms: i64, offset: i32) -> String {
    format!("{}.{:03}", time_of_day(ms, offset), ms.rem_euclid(1000))
}

/// A short duration: `850 ms`, `42 s`, `5 min`, `3 h 20 min`, `2 d 4 h`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms} ms"),
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3600 % 24),
    }
}

/// `512 B`, `1.5 KiB`, `20.0 MiB`, `1.20 GiB`.
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / K / K)
    } else {
        format!("{:.2} GiB", f / K / K / K)
    }
}

/// A rate with one decimal below 100/s: `0.5`, `12.3`, `5021`.
pub fn rate(r: f64) -> String {
    if r < 100.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// One line of a hex dump: offset, up to 16 bytes as hex, and as ASCII (`.` for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexLine {
    pub offset: usize,
    pub hex: Vec<String>,
    pub ascii: String,
}

/// The classic 16-bytes-per-line dump.
pub fn hex_lines(data: &[u8]) -> Vec<HexLine> {
    data.chunks(16)
        .enumerate()
        .map(|(i, chunk)| HexLine {
            offset: i * 16,
            hex: chunk.iter().map(|b| format!("{b:02X}")).collect(),
            ascii: chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect(),
        })
        .collect()
}

/// Space-separated hex: `01 00 2A`.
pub fn hex_string(data: &[u8]) -> String {
    data.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses hex typed by a person: spaces, commas, `0x` prefixes and newlines are ignored.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = s
        .replace("0x", "")
        .replace("0X", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    if !cleaned.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): each byte needs two",
            cleaned.len()
        ));
    }
    (0..cleaned.len())
        .step_by(2)
        .map(|i| {
            let pair = cleaned.get(i..i + 2).unwrap_or("");
            u8::from_str_radix(pair, 16).map_err(|_| format!("'{pair}' is not a hex byte"))
        })
        .collect()
}

/// Text of a payload for a preview: UTF-8 when it is, else hex; cut to `max` characters.
pub fn preview(data: &[u8], max: usize) -> String {
    let s = match std::str::from_utf8(data) {
        Ok(t) if !t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            t.replace('\n', " ")
        }
        _ => hex_string(&data[..data.len().min(max / 3 + 1)]),
    };
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// Pretty JSON when the bytes are JSON, else None.
pub fn pretty_json(data: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    serde_json::to_string_pretty(&v).ok()
}

/// IPv4 addresses found in the output of `ip -o -4 addr`, `ifconfig` or `ipconfig`: the token after
/// `inet`, or the last token of an `IPv4` line; loopback and link-local ones are left out.
pub fn parse_ipv4_listing(out: &str) -> Vec<Ipv4Addr> {
    let mut found = Vec::new();
    for line in out.lines() {
        let candidate = if line.contains("IPv4") {
            line.rsplit(':')
                .next()
                .map(|s| s.trim().trim_end_matches("(Preferred)"))
        } else {
            let mut words = line.split_whitespace();
            words
                .by_ref()
                .find(|w| *w == "inet")
                .and_then(|_| words.next())
                .map(|w| w.split('/').next().unwrap_or(w))
        };
        let Some(ip) = candidate.and_then(|c| c.trim().parse::<Ipv4Addr>().ok()) else {
            continue;
        };
        if !ip.is_loopback() && !ip.is_link_local() && !ip.is_unspecified() && !found.contains(&ip)
        {
            found.push(ip);
        }
    }
    found
}

/// This machine's LAN addresses (IPv4), asked of the operating system's own tool. Empty if none answers.
pub fn lan_addresses() -> Vec<Ipv4Addr> {
    let tries: &[(&str, &[&str])] = if cfg!(windows) {
        &[("ipconfig", &[])]
    } else {
        &[("ip", &["-o", "-4", "addr", "show"]), ("ifconfig", &[])]
    };
    for (cmd, args) in tries {
        if let Ok(out) = std::process::Command::new(cmd).args(*args).output() {
            let v = parse_ipv4_listing(&String::from_utf8_lossy(&out.stdout));
            if !v.is_empty() {
                return v;
            }
        }
    }
    Vec::new()
}

/// The offset of this machine's local time from UTC in seconds (`date +%z` on Unix), None if unknown.
pub fn system_utc_offset() -> Option<i32> {
    if cfg!(windows) {
        return None;
    }
    let out = std::process::Command::new("date")
        .arg("+%z")
        .output()
        .ok()?;
    parse_utc_offset(String::from_utf8_lossy(&out.stdout).trim())
}

/// `+0800` / `-0530` → seconds.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if rest.len() != 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = rest[..2].parse().ok()?;
    let m: i32 = rest[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// `UTC+08:00`.
pub fn offset_label(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    format!("UTC{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes() {
        // 2015-03-22 22:31:12 at UTC+8 is 14:31:12 UTC.
        let ms = 1_427_034_672_000 + 250;
        assert_eq!(datetime(ms, 8 * 3600), "2015-03-22 22:31:12");
        assert_eq!(time_of_day(ms, 0), "14:31:12");
        assert_eq!(time_ms(ms, 0), "14:31:12.250");
        assert_eq!(duration_ms(500), "500 ms");
        assert_eq!(duration_ms(61_000), "1 min 1 s");
        assert_eq!(duration_ms(90_000_000), "1 d 1 h");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(rate(5021.4), "5021");
    }

    #[test]
    fn hex_both_ways() {
        assert_eq!(parse_hex("0x01 02,ab\nCD").unwrap(), vec![1, 2, 0xab, 0xcd]);
        assert!(parse_hex("123").unwrap_err().contains("odd"));
        assert!(parse_hex("zz").unwrap_err().contains("zz"));
        let l = hex_lines(b"$dp\x03\x00");
        assert_eq!(l[0].hex, vec!["24", "64", "70", "03", "00"]);
        assert_eq!(l[0].ascii, "$dp..");
        assert_eq!(preview(b"hello\nworld", 8), "hello wo…");
        assert_eq!(preview(&[0, 1, 2], 20), "00 01 02");
        assert!(pretty_json(br#"{"a":1}"#).unwrap().contains("\n"));
    }

    #[test]
    fn addresses_from_the_usual_tools() {
        let ip = "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 192.168.1.20/24 brd 192.168.1.255\n";
        assert_eq!(parse_ipv4_listing(ip), vec![Ipv4Addr::new(192, 168, 1, 20)]);
        let ifc = "en0: flags=8863\n\tinet 10.0.0.5 netmask 0xffffff00 broadcast 10.0.0.255\n";
        assert_eq!(parse_ipv4_listing(ifc), vec![Ipv4Addr::new(10, 0, 0, 5)]);
        let win = "   IPv4 Address. . . . . . . . . . . : 172.16.0.9(Preferred)\n";
        assert_eq!(parse_ipv4_listing(win), vec![Ipv4Addr::new(172, 16, 0, 9)]);
        assert_eq!(parse_utc_offset("+0800"), Some(28_800));
        assert_eq!(parse_utc_offset("-0530"), Some(-19_800));
        assert_eq!(offset_label(-19_800), "UTC-05:30");
    }
}
