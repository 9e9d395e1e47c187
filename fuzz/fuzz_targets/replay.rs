//! Runs a target's function over files or directories (a corpus, AFL's crashes) without AFL:
//! `replay <mqtt_decode|dp_decode|http_json> PATH...`. Prints how many inputs ran; a panic names the file.
use std::path::Path;

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay TARGET PATH...");
    let f: fn(&[u8]) = match target.as_str() {
        "mqtt_decode" => onenet_desk_fuzz::mqtt_decode,
        "dp_decode" => onenet_desk_fuzz::dp_decode,
        "http_json" => onenet_desk_fuzz::http_json,
        t => panic!("unknown target {t}"),
    };
    let mut n = 0usize;
    for a in args {
        let p = Path::new(&a);
        let files: Vec<_> = if p.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
            v.sort();
            v
        } else {
            vec![p.to_path_buf()]
        };
        for file in files {
            let data = std::fs::read(&file).unwrap();
            eprintln!("{}", file.display());
            f(&data);
            n += 1;
        }
    }
    println!("{target}: {n} inputs, no panic");
}
