//! AFL++ target: see `onenet_desk_fuzz::http_json`.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        onenet_desk_fuzz::http_json(data);
    });
}
