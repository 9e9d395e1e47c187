//! Export fidelity (issue 11 item 7), as a user sees it: a device uploads over a raw socket, then
//! `onenet-desk export` writes the file. Type 2's `desc` survives, NaN / +inf / -inf stay distinct in JSON
//! Lines, `--bom` starts a CSV with the UTF-8 byte order mark, and the `kind` column tells the string
//! "22.5" from the number 22.5.

mod common;

use common::dataplane::{dp, framed, publish_acked};
use common::{Raw, cli};
use onenet_desk::config::Profile;
use onenet_desk::mqtt::QoS;
use serde_json::{Value, json};

fn binary(desc: &Value, data: &[u8]) -> Vec<u8> {
    let d = desc.to_string();
    let mut p = vec![0x02];
    p.extend_from_slice(&(d.len() as u16).to_be_bytes());
    p.extend_from_slice(d.as_bytes());
    p.extend_from_slice(&(data.len() as u32).to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// Type 7 without time: ds 1 with NaN, +inf, -inf, 1.5.
fn floats() -> Vec<u8> {
    let mut p = vec![0x07, 0x00, 0x01, 0x00, 0x04];
    for f in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.5] {
        p.extend_from_slice(&f.to_le_bytes());
    }
    p
}

fn run(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out_file = dir.join("out");
    let mut all = vec!["export", "--out", out_file.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = cli(dir, &all);
    assert!(o.status.success(), "{o:?}");
    std::fs::read(&out_file).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_keep_desc_non_finite_floats_kinds_and_offer_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::broker(dir.path(), Profile::OneNet).await;
    common::seed_registry(&h);
    let mut d = Raw::device(h.mqtt_addr(), "9277", "abc123", true).await;
    let uploads = [
        binary(
            &json!({"ds_id": "image", "desc": "front door"}),
            b"\xde\xad",
        ),
        binary(
            &json!({"ds_id": "snap", "desc": {"w": 2, "note": "a,b"}}),
            b"\x01",
        ),
        binary(&json!({"ds_id": "plain"}), b"\x02"),
        floats(),
        framed(3, r#"{"s":"22.5","n":22.5,"温度":1}"#),
    ];
    for (i, p) in uploads.iter().enumerate() {
        publish_acked(&mut d, dp(p, QoS::AtLeastOnce, i as u16 + 1)).await;
    }
    h.flush().await;

    // CSV with --bom: BOM, header with kind and desc, desc text, kinds.
    let csv = run(dir.path(), &["--bom"]);
    assert_eq!(&csv[..3], b"\xef\xbb\xbf", "UTF-8 BOM first");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "device_id,stream,at,value,type,received_at,kind,desc"
    );
    let row = |stream: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!("9277,{stream},")))
            .copied()
            .collect()
    };
    let image = row("image");
    assert_eq!(image[0].split(',').nth(3), Some("3q0="), "{image:?}");
    assert!(image[0].ends_with(",binary,front door"), "{image:?}");
    assert!(
        row("snap")[0].ends_with(r#",binary,"{""w"":2,""note"":""a,b""}""#),
        "object desc as quoted JSON: {:?}",
        row("snap")
    );
    assert!(row("plain")[0].ends_with(",binary,"), "no desc: empty");
    let s = row("s");
    let n = row("n");
    assert!(
        s[0].contains(",22.5,3,") && s[0].ends_with(",string,"),
        "{s:?}"
    );
    assert!(
        n[0].contains(",22.5,3,") && n[0].ends_with(",number,"),
        "{n:?}"
    );
    let floats: Vec<&str> = row("1")
        .iter()
        .map(|l| l.split(',').nth(3).unwrap())
        .collect();
    assert_eq!(floats, ["NaN", "Infinity", "-Infinity", "1.5"]);
    assert!(row("温度")[0].ends_with(",number,"), "UTF-8 names: {text}");
    // Without --bom: no BOM.
    let plain = run(dir.path(), &[]);
    assert!(plain.starts_with(b"device_id,"));

    // JSON Lines: NaN, +inf, -inf distinct (and not null); desc as JSON; kinds.
    let jsonl = run(dir.path(), &["--format", "jsonl"]);
    let objs: Vec<Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of =
        |stream: &str| -> Vec<&Value> { objs.iter().filter(|o| o["stream"] == stream).collect() };
    let values: Vec<&Value> = of("1").iter().map(|o| &o["value"]).collect();
    assert_eq!(
        values,
        [
            &json!("NaN"),
            &json!("Infinity"),
            &json!("-Infinity"),
            &json!(1.5)
        ]
    );
    assert!(of("1").iter().all(|o| o["kind"] == "float"));
    assert_eq!(of("image")[0]["desc"], json!("front door"));
    assert_eq!(of("snap")[0]["desc"], json!({"w": 2, "note": "a,b"}));
    assert_eq!(of("plain")[0]["desc"], Value::Null);
    assert_eq!(
        (&of("s")[0]["value"], &of("s")[0]["kind"]),
        (&json!("22.5"), &json!("string"))
    );
    assert_eq!(
        (&of("n")[0]["value"], &of("n")[0]["kind"]),
        (&json!(22.5), &json!("number"))
    );

    // --bom is for CSV.
    let o = cli(
        dir.path(),
        &[
            "export",
            "--out",
            "/tmp/x.jsonl",
            "--format",
            "jsonl",
            "--bom",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bom"));
    h.shutdown().await;
}

/// The console's export dialog: the BOM is on by default when the console speaks Chinese, off in
/// English, can be unticked, and never applies to JSON Lines.
#[cfg(feature = "gui")]
#[test]
fn console_export_turns_the_bom_on_for_chinese() {
    use onenet_desk::export::ExportFormat;
    use onenet_desk::ui::i18n::set_lang;
    use onenet_desk::ui::panels::export::ExportDialog;
    use onenet_desk::ui::prefs::Lang;
    let mut d = ExportDialog::default();
    set_lang(Lang::English);
    assert!(!d.spec(0).unwrap().bom);
    set_lang(Lang::Chinese);
    assert!(d.spec(0).unwrap().bom);
    d.format = ExportFormat::JsonLines;
    assert!(!d.spec(0).unwrap().bom);
    d.format = ExportFormat::Csv;
    d.bom = Some(false);
    assert!(!d.spec(0).unwrap().bom);
    set_lang(Lang::English);
}
