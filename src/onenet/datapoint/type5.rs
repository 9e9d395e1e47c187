//! Type 5 — custom-separator string (spec §6.5): `0x05 | u16 N | N bytes text` (see `text`).

use super::text::{self, TextKind};
use super::{BodyCodes, Datapoint, DpError, DpOptions, framed_body};

const CODES: BodyCodes = BodyCodes {
    what: "type 5 text",
    past_end: DpError::TEXT_DECODE,
    trailing: DpError::TEXT_DECODE,
};

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let (start, body) = framed_body(payload, 1, &CODES)?;
    let kind = TextKind {
        dp_type: 5,
        format_code: DpError::T5_FORMAT,
    };
    text::parse(body, start, None, &kind, opts)
}
