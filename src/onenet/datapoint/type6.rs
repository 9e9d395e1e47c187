//! Type 6 — custom-separator string with a default time (spec §6.6):
//! `0x06 | u16 N | text` or `0x86 | YY MM DD hh mm ss | u16 N | text`; the text is type 5's,
//! and its fields without a time of their own get the 6-byte time.

use super::text::{self, TextKind};
use super::{BodyCodes, Datapoint, DpError, DpOptions, framed_body, time};

const CODES: BodyCodes = BodyCodes {
    what: "type 6 text",
    past_end: DpError::TEXT_DECODE,
    trailing: DpError::TEXT_DECODE,
};

/// Reads and validates the 6-byte time at offset 1 (types 6 and 7); errors get `code`.
pub(super) fn six_byte_time(
    payload: &[u8],
    code: u8,
    dp_type: u8,
    opts: &DpOptions,
) -> Result<i64, DpError> {
    let Some(&[yy, mo, dd, hh, mi, ss]) = payload.get(1..7) else {
        return Err(DpError::new(
            code,
            1,
            format!(
                "time truncated: type {dp_type} time flag is set but only {} of the 6 time bytes are present",
                payload.len().saturating_sub(1)
            ),
        ));
    };
    time::check_six_bytes([yy, mo, dd, hh, mi, ss], opts.utc_offset_secs).map_err(
        |(index, field)| {
            let byte = [yy, mo, dd, hh, mi, ss]
                .get(index)
                .copied()
                .unwrap_or_default();
            DpError::new(
                code,
                1 + index,
                format!("bad time: type {dp_type} 6-byte time has an invalid {field}: {byte}"),
            )
        },
    )
}

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let timed = payload.first().is_some_and(|b| b & 0x80 != 0);
    let (default_at, len_at) = if timed {
        (Some(six_byte_time(payload, DpError::T6_TIME, 6, opts)?), 7)
    } else {
        (None, 1)
    };
    let (start, body) = framed_body(payload, len_at, &CODES)?;
    let kind = TextKind {
        dp_type: 6,
        format_code: DpError::T6_FORMAT,
    };
    text::parse(body, start, default_at, &kind, opts)
}
