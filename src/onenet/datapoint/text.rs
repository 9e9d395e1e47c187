//! The custom-separator text shared by types 5 and 6 (spec §6.5):
//! `<c1><c2>field0<c2>field1<c2>…` where `c1` separates sub-fields inside a field and `c2`
//! separates fields (single ASCII bytes, different from each other). A field is
//! `id<c1>time<c1>value`, `id<c1>value`, or `value` (then its 0-based index is the id).
//! `id<c1><c1>value` (empty time) means no time of its own; a field with an empty id (2 or 3
//! sub-fields) is ignored; an empty value is skipped; values are kept as strings; a field
//! without its own time gets `default_at` (type 6's 6-byte time, `None` for type 5).

use super::{Datapoint, DpError, DpOptions, DpValue, clip, time};

/// What differs between type 5 and type 6.
pub(super) struct TextKind {
    pub dp_type: u8,
    /// Code of format errors (80 for type 5, 84 for type 6).
    pub format_code: u8,
}

/// A separator byte as readable text.
fn show(c: u8) -> String {
    char::from(c).escape_default().to_string()
}

/// Parses `text`, found at payload offset `start`.
pub(super) fn parse(
    text: &[u8],
    start: usize,
    default_at: Option<i64>,
    kind: &TextKind,
    opts: &DpOptions,
) -> Result<Vec<Datapoint>, DpError> {
    let t = kind.dp_type;
    let text = std::str::from_utf8(text).map_err(|e| {
        DpError::new(
            DpError::TEXT_DECODE,
            start + e.valid_up_to(),
            format!("text not UTF-8: type {t} text has an invalid UTF-8 sequence"),
        )
    })?;
    let format_err =
        |offset: usize, message: String| DpError::new(kind.format_code, offset, message);
    let bytes = text.as_bytes();
    let (c1, c2) = match bytes {
        [c1, c2, ..] => (*c1, *c2),
        _ => {
            return Err(format_err(
                start,
                format!(
                    "too short for separators: type {t} text has {} bytes, needs 2 separator chars",
                    bytes.len()
                ),
            ));
        }
    };
    if !c1.is_ascii() || !c2.is_ascii() {
        return Err(format_err(
            start,
            format!("separator not ASCII: type {t} separators must be single ASCII chars"),
        ));
    }
    if c1 == c2 {
        return Err(format_err(
            start + 1,
            format!(
                "same separators: type {t} sub-field and field separators are both '{}'",
                show(c1)
            ),
        ));
    }

    let mut points = Vec::new();
    let mut field_start = start + 2;
    for (index, field) in text[2..].split(char::from(c2)).enumerate() {
        let offset = field_start;
        field_start += field.len() + 1;
        let subs: Vec<&str> = field.splitn(4, char::from(c1)).collect();
        let (id, time_text, value) = match subs.as_slice() {
            [value] => (index.to_string(), "", *value),
            [id, value] => ((*id).to_owned(), "", *value),
            [id, time_text, value] => ((*id).to_owned(), *time_text, *value),
            _ => {
                return Err(format_err(
                    offset,
                    format!(
                        "too many sub-fields: type {t} field {index} has more than 3 '{}'-separated sub-fields",
                        show(c1)
                    ),
                ));
            }
        };
        if id.is_empty() || value.is_empty() {
            continue;
        }
        let at = if time_text.is_empty() {
            default_at
        } else {
            match time::parse_datetime(time_text, opts.utc_offset_secs) {
                Some(ms) => Some(ms),
                None => {
                    let time_offset = offset + id.len() + 1;
                    return Err(format_err(
                        time_offset,
                        format!(
                            "bad datetime: type {t} field {index} time \"{}\" is not YYYY-MM-DD hh:mm:ss",
                            clip(time_text)
                        ),
                    ));
                }
            }
        };
        points.push(Datapoint {
            stream: id,
            at,
            value: DpValue::Text(value.to_owned()),
        });
    }
    Ok(points)
}
