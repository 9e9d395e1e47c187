//! AFL++ target: see `onenet_desk_fuzz::mqtt_decode`.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        onenet_desk_fuzz::mqtt_decode(data);
    });
}
