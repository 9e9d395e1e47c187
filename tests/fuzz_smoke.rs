//! The fuzz targets' checks (`fuzz/src/lib.rs`, shared verbatim) run without AFL:
//! * `corpus_and_regressions` (always): every seed of `fuzz/corpus/` and every past finding of
//!   `fuzz/regressions/` must pass — a fixed finding stays fixed.
//! * `mutation_smoke` (`--ignored`; `scripts/fuzz-smoke.sh` runs it in CI): a bounded random campaign,
//!   mutating the corpus with a seeded generator for `FUZZ_SMOKE_SECS` seconds per target (default 20).
//!   The coverage-guided campaign itself is AFL++ (`fuzz/README.md`).

#[allow(dead_code, clippy::indexing_slicing)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;
use std::time::{Duration, Instant};

const TARGETS: [(&str, fn(&[u8])); 3] = [
    ("mqtt_decode", checks::mqtt_decode),
    ("dp_decode", checks::dp_decode),
    ("http_json", checks::http_json),
];

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_and_regressions() {
    for (name, check) in TARGETS {
        let seeds = files(&root().join("fuzz/corpus").join(name));
        assert!(!seeds.is_empty(), "no corpus for {name}");
        let found = files(&root().join("fuzz/regressions").join(name));
        for (file, data) in seeds.iter().chain(found.iter()) {
            let r = std::panic::catch_unwind(|| check(data));
            assert!(r.is_ok(), "{name}: {file} panics");
        }
    }
}

/// xorshift64*: deterministic, so a failure is reproducible from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u8; 10] = [0x00, 0x01, 0x7F, 0x80, 0xFF, b'{', b'"', b'[', b',', b';'];

/// One to eight stacked mutations: bit flips, interesting bytes, inserts, deletes, length-field
/// rewrites and splices with another seed.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(8) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let b = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, std::iter::repeat_n(b, n));
            }
            3 if len > 1 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            4 if len > 2 => {
                let i = rng.below(len - 1);
                let x = (rng.next() as u16).to_be_bytes();
                v[i] = x[0];
                v[i + 1] = x[1];
            }
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                v.truncate(rng.below(len));
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

#[test]
#[ignore = "a bounded random campaign; scripts/fuzz-smoke.sh runs it"]
fn mutation_smoke() {
    let secs: u64 = std::env::var("FUZZ_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("FUZZ_SMOKE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0F_0E7E7);
    for (name, check) in TARGETS {
        let corpus: Vec<Vec<u8>> = files(&root().join("fuzz/corpus").join(name))
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let mut rng = Rng(seed | 1);
        let until = Instant::now() + Duration::from_secs(secs);
        let mut n = 0u64;
        while Instant::now() < until {
            for _ in 0..256 {
                let a = &corpus[rng.below(corpus.len())];
                let b = &corpus[rng.below(corpus.len())];
                let input = mutate(&mut rng, a, b);
                let r = std::panic::catch_unwind(|| check(&input));
                assert!(
                    r.is_ok(),
                    "{name}: input {n} (seed {seed}) panics: {input:02X?}"
                );
                n += 1;
            }
        }
        println!("{name}: {n} mutated inputs in {secs} s, no panic");
    }
}
