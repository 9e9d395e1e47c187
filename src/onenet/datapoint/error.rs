//! The diagnostic a malformed `$dp` payload produces.
//!
//! OneNET's EDP protocol closes a connection with a numbered reason (codes 63–86) when a
//! datapoint payload is malformed; MQTT has no such channel, so the emulator records the
//! same kind of code with the payload byte offset where the problem was found (spec §13).
//! The numbering below is this project's table, modelled on the EDP ranges of spec §6
//! (63 header, 64–69 type 1, 70–73 type 2, 74–78 types 3/4, 79–80 type 5, 81–82 JSON
//! framing, 83–84 type 6, 85–86 type 7).
//!
//! | code | meaning |
//! |------|---------|
//! | 63 | bad type byte (empty payload, type 0 or 8–63, reserved bit 6 set, time flag on a type 1–5), or the payload is too short for its length field |
//! | 64 | type 1 body is not valid UTF-8 / JSON |
//! | 65 | type 1 `datastreams` missing or not an array (or the body is not an object) |
//! | 66 | type 1 datastream without a non-empty string `id` |
//! | 67 | type 1 `datapoints` missing or not an array |
//! | 68 | type 1 datapoint that is not an object with a `value` |
//! | 69 | type 1 `at` that is not a valid datetime string |
//! | 70 | type 2 descriptor not valid UTF-8 / JSON, not an object, or with a bad `at` |
//! | 71 | type 2 descriptor `ds_id` missing, not a string, or empty |
//! | 72 | type 2 binary length over the limit (3 MiB by default) |
//! | 73 | type 2 length field past the end of the payload, or trailing bytes after the binary |
//! | 74 | type 3/4 body not valid UTF-8 / JSON |
//! | 75 | type 3/4 body not a JSON object |
//! | 76 | type 3/4 empty datastream name |
//! | 77 | type 4 member that is not an object of datetime → value |
//! | 78 | type 4 datetime key that is not a valid datetime |
//! | 79 | type 5/6 text not decodable: length past the end, trailing bytes, not UTF-8 |
//! | 80 | type 5 format error: fewer than 2 separator chars, non-ASCII or equal separators, more than 3 sub-fields, bad datetime in a field |
//! | 81 | type 1/3/4 length field past the end of the payload |
//! | 82 | type 1/3/4 trailing bytes after the declared length |
//! | 83 | type 6 bad or truncated 6-byte time |
//! | 84 | type 6 format error (the type 5 format rules, code 80, applied to type 6) |
//! | 85 | type 7 bad or truncated 6-byte time, or a truncated group |
//! | 86 | type 7 count error: n = 0 in a group, no group at all, more floats than the limit (500 by default) |

/// A `$dp` payload that could not be decoded: an EDP-style `code` (63–86, see the module
/// table), the payload byte `offset` the problem was found at, and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("$dp error {code}: {message} (payload byte {offset})")]
pub struct DpError {
    pub code: u8,
    pub offset: usize,
    pub message: String,
}

impl DpError {
    /// 63: bad type byte or payload too short for its header.
    pub const BAD_HEADER: u8 = 63;
    /// 64: type 1 not valid UTF-8 / JSON.
    pub const T1_JSON: u8 = 64;
    /// 65: type 1 `datastreams` missing or not an array.
    pub const T1_DATASTREAMS: u8 = 65;
    /// 66: type 1 stream without a non-empty string `id`.
    pub const T1_ID: u8 = 66;
    /// 67: type 1 `datapoints` missing or not an array.
    pub const T1_DATAPOINTS: u8 = 67;
    /// 68: type 1 datapoint without `value`.
    pub const T1_VALUE: u8 = 68;
    /// 69: type 1 bad `at`.
    pub const T1_AT: u8 = 69;
    /// 70: type 2 descriptor not valid JSON (or not an object, or bad `at`).
    pub const T2_DESCRIPTOR: u8 = 70;
    /// 71: type 2 `ds_id` missing or empty.
    pub const T2_DS_ID: u8 = 71;
    /// 72: type 2 binary longer than the limit.
    pub const T2_TOO_BIG: u8 = 72;
    /// 73: type 2 length field past the end, or trailing bytes.
    pub const T2_LENGTH: u8 = 73;
    /// 74: type 3/4 not valid UTF-8 / JSON.
    pub const T34_JSON: u8 = 74;
    /// 75: type 3/4 not a JSON object.
    pub const T34_NOT_OBJECT: u8 = 75;
    /// 76: type 3/4 empty datastream name.
    pub const T34_EMPTY_NAME: u8 = 76;
    /// 77: type 4 member not an object of datetime → value.
    pub const T4_MEMBER: u8 = 77;
    /// 78: type 4 bad datetime.
    pub const T4_DATETIME: u8 = 78;
    /// 79: type 5/6 text not decodable.
    pub const TEXT_DECODE: u8 = 79;
    /// 80: type 5 format error.
    pub const T5_FORMAT: u8 = 80;
    /// 81: type 1/3/4 length past the end.
    pub const LENGTH_PAST_END: u8 = 81;
    /// 82: type 1/3/4 trailing bytes.
    pub const TRAILING: u8 = 82;
    /// 83: type 6 bad 6-byte time.
    pub const T6_TIME: u8 = 83;
    /// 84: type 6 format error.
    pub const T6_FORMAT: u8 = 84;
    /// 85: type 7 bad time or truncated group.
    pub const T7_TRUNCATED: u8 = 85;
    /// 86: type 7 count error.
    pub const T7_COUNT: u8 = 86;

    pub fn new(code: u8, offset: usize, message: impl Into<String>) -> Self {
        DpError {
            code,
            offset,
            message: message.into(),
        }
    }
}
