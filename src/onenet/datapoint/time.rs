//! Datapoint times: wall-clock text and the 6-byte `YY MM DD hh mm ss` form, both read at a
//! configured UTC offset (UTC+8 by default, spec §13), converted to Unix milliseconds.
//! The civil-date arithmetic is the days-from-civil / civil-from-days algorithm on the
//! proleptic Gregorian calendar, done in `i64` so no input can overflow.

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1–12) of `year`; 0 for a month outside 1–12.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1–12, day 1–31).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let mp = (m + 9) % 12; // March = 0 … February = 11
    let doy = (153 * mp + 2) / 5 + d - 1; // 0..=365
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// A validated wall-clock time; `None` when a field is out of range.
fn wall_clock_millis(
    year: i64,
    month: u32,
    day: u32,
    (hour, minute, second): (u32, u32, u32),
    millis: u32,
    utc_offset_secs: i64,
) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour >= 24 || minute >= 60 || second >= 60 || millis >= 1000 {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - utc_offset_secs;
    Some(secs * 1000 + i64::from(millis))
}

/// Why a 6-byte time is invalid: the index (0–5) of the offending byte and a field name.
pub(super) fn check_six_bytes(
    b: [u8; 6],
    utc_offset_secs: i32,
) -> Result<i64, (usize, &'static str)> {
    let [yy, mo, dd, hh, mi, ss] = b;
    if yy > 99 {
        return Err((0, "year (YY must be 0-99)"));
    }
    if !(1..=12).contains(&mo) {
        return Err((1, "month (must be 1-12)"));
    }
    let year = 2000 + i64::from(yy);
    if dd == 0 || u32::from(dd) > days_in_month(year, u32::from(mo)) {
        return Err((2, "day (out of range for the month)"));
    }
    if hh >= 24 {
        return Err((3, "hour (must be 0-23)"));
    }
    if mi >= 60 {
        return Err((4, "minute (must be 0-59)"));
    }
    if ss >= 60 {
        return Err((5, "second (must be 0-59)"));
    }
    let hms = (u32::from(hh), u32::from(mi), u32::from(ss));
    wall_clock_millis(
        year,
        u32::from(mo),
        u32::from(dd),
        hms,
        0,
        i64::from(utc_offset_secs),
    )
    .ok_or((0, "time"))
}

/// `YY MM DD hh mm ss` (year = 2000 + YY) read as wall clock at `utc_offset_secs`, as Unix
/// milliseconds; `None` if any byte is out of range.
pub fn from_six_bytes(b: [u8; 6], utc_offset_secs: i32) -> Option<i64> {
    check_six_bytes(b, utc_offset_secs).ok()
}

/// A fixed-width decimal number of `s[at..at + len]`, all ASCII digits.
fn digits(s: &[u8], at: usize, len: usize) -> Option<u32> {
    let field = s.get(at..at.checked_add(len)?)?;
    field.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// The zone suffix after the seconds (and fraction): `""` = the configured offset, `"Z"` =
/// UTC, `"+hh:mm"`, `"+hhmm"` or `"+hh"` (or `-`). Returns the offset in seconds.
fn zone_offset(rest: &[u8], default_secs: i64) -> Option<i64> {
    match rest {
        [] => Some(default_secs),
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let hours = digits(tail, 0, 2)?;
            let minutes = match tail.len() {
                2 => 0,
                4 => digits(tail, 2, 2)?,
                5 if tail.get(2) == Some(&b':') => digits(tail, 3, 2)?,
                _ => return None,
            };
            if hours >= 24 || minutes >= 60 {
                return None;
            }
            let secs = i64::from(hours * 3600 + minutes * 60);
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

/// Parses `YYYY-MM-DD hh:mm:ss` (or with `T` instead of the space), with an optional
/// fraction `.f…` (1–9 digits, kept to milliseconds, extra digits truncated) and an optional
/// zone suffix (`Z` = UTC, `+08:00`, `+0800`, `+08`, `-05:00` …). Without a zone the time is
/// wall clock at `utc_offset_secs`. Returns Unix milliseconds, `None` when malformed or out
/// of range (month 1–12, day within the month incl. leap years, hh < 24, mm < 60, ss < 60).
pub fn parse_datetime(s: &str, utc_offset_secs: i32) -> Option<i64> {
    let b = s.as_bytes();
    let sep_ok = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep_ok(4, b'-') && sep_ok(7, b'-') && sep_ok(13, b':') && sep_ok(16, b':')) {
        return None;
    }
    if !matches!(b.get(10), Some(b' ' | b'T' | b't')) {
        return None;
    }
    let year = i64::from(digits(b, 0, 4)?);
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hms = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut pos = 19;
    let mut millis = 0u32;
    if b.get(pos) == Some(&b'.') {
        let count = b
            .get(pos + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if count == 0 || count > 9 {
            return None;
        }
        let kept = count.min(3);
        millis = digits(b, pos + 1, kept)? * 10u32.pow(3 - kept as u32);
        pos += 1 + count;
    }
    let offset = zone_offset(b.get(pos..)?, i64::from(utc_offset_secs))?;
    wall_clock_millis(year, month, day, hms, millis, offset)
}

/// `YYYY-MM-DD hh:mm:ss.mmm` (the `.mmm` omitted when the milliseconds are 0): Unix
/// milliseconds shown as wall clock at `utc_offset_secs`. The inverse of [`parse_datetime`]
/// for years 0000–9999; never panics (extreme inputs saturate).
pub fn format_datetime(millis: i64, utc_offset_secs: i32) -> String {
    let local = millis.saturating_add(i64::from(utc_offset_secs) * 1000);
    let days = local.div_euclid(MILLIS_PER_DAY);
    let in_day = local.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (secs, ms) = (in_day / 1000, in_day % 1000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}");
    if ms != 0 {
        out.push_str(&format!(".{ms:03}"));
    }
    out
}
