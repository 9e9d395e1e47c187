//! Type 7 — floats (spec §6.7): `0x07` or `0x87 | YY MM DD hh mm ss`, then one or more
//! groups up to the end of the payload: `u16 ds_id | u16 n | n × f32 little-endian`.
//! ds_id 0–65535 becomes the stream name in decimal; n ≥ 1; at most
//! [`DpOptions::max_type7_floats`] floats per payload; every float gets the 6-byte time
//! (or none). NaN and infinities are kept as sent.

use super::type6::six_byte_time;
use super::{Datapoint, DpError, DpOptions, DpValue, u16_at};

pub(super) fn decode(payload: &[u8], opts: &DpOptions) -> Result<Vec<Datapoint>, DpError> {
    let timed = payload.first().is_some_and(|b| b & 0x80 != 0);
    let (at, mut pos) = if timed {
        (
            Some(six_byte_time(payload, DpError::T7_TRUNCATED, 7, opts)?),
            7,
        )
    } else {
        (None, 1)
    };
    if pos == payload.len() {
        return Err(DpError::new(
            DpError::T7_COUNT,
            pos,
            "no groups: type 7 payload ends before the first ds_id/count group",
        ));
    }
    let mut points = Vec::new();
    while pos < payload.len() {
        let (Some(ds_id), Some(n)) = (u16_at(payload, pos), u16_at(payload, pos + 2)) else {
            return Err(DpError::new(
                DpError::T7_TRUNCATED,
                pos,
                format!(
                    "group truncated: type 7 group header needs 4 bytes but only {} remain",
                    payload.len() - pos
                ),
            ));
        };
        let n = usize::from(n);
        if n == 0 {
            return Err(DpError::new(
                DpError::T7_COUNT,
                pos + 2,
                format!(
                    "zero count: type 7 group for ds_id {ds_id} declares 0 floats (n must be >= 1)"
                ),
            ));
        }
        if points.len() + n > opts.max_type7_floats {
            return Err(DpError::new(
                DpError::T7_COUNT,
                pos + 2,
                format!(
                    "too many floats: type 7 payload carries more than {} floats ({} with this group)",
                    opts.max_type7_floats,
                    points.len() + n
                ),
            ));
        }
        let floats_start = pos + 4;
        let Some(floats) = payload.get(floats_start..floats_start + 4 * n) else {
            return Err(DpError::new(
                DpError::T7_TRUNCATED,
                pos,
                format!(
                    "group truncated: type 7 group for ds_id {ds_id} declares {n} floats ({} bytes) but only {} bytes remain",
                    4 * n,
                    payload.len() - floats_start
                ),
            ));
        };
        let stream = ds_id.to_string();
        for chunk in floats.chunks_exact(4) {
            let value = f32::from_le_bytes(chunk.try_into().unwrap_or_default());
            points.push(Datapoint {
                stream: stream.clone(),
                at,
                value: DpValue::Float(value),
            });
        }
        pos = floats_start + 4 * n;
    }
    Ok(points)
}
