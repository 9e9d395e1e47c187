//! AFL++ target: see `onenet_desk_fuzz::dp_decode`.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        onenet_desk_fuzz::dp_decode(data);
    });
}
