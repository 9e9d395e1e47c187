//! The Logs panel and the About box (egui_kittest): what the window shows for a given ring of log
//! records, filtered by level and text; the About box's version, data folder, log file and database size.
#![cfg(feature = "gui")]

use std::path::PathBuf;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use onenet_desk::config::{Config, DB_FILE};
use onenet_desk::logging::LogRing;
use onenet_desk::ui::ConsoleApp;
use onenet_desk::ui::actions::{Action, Tab};
use onenet_desk::ui::panels::about::AboutBox;
use onenet_desk::ui::panels::logs::LogsPanel;
use onenet_desk::ui::prefs::{Lang, Prefs};
use onenet_desk::ui::state::Model;
use tracing::Level;

struct Fx {
    logs: LogsPanel,
    about: AboutBox,
    model: Model,
    out: Vec<Action>,
}

fn harness(fx: Fx) -> Harness<'static, Fx> {
    Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, fx: &mut Fx| {
                let ctx = ui.ctx().clone();
                fx.logs.ui(ui, &fx.model, &mut fx.out);
                fx.about.show(&ctx, &fx.model, &mut fx.out);
            },
            fx,
        )
}

fn model(data_dir: PathBuf) -> Model {
    let mut m = Model::new(Config::new(data_dir), Prefs::default());
    m.tab = Tab::Logs;
    m
}

fn ring() -> LogRing {
    let ring = LogRing::new(100);
    let t = 1_764_400_000_000;
    ring.push(
        t,
        Level::INFO,
        "onenet_desk::broker::connection",
        "connected client=\"9277\"",
    );
    ring.push(
        t + 1,
        Level::WARN,
        "onenet_desk::broker::connection",
        "closing connection client=\"9278\" reason=KeepAlive",
    );
    ring.push(
        t + 2,
        Level::ERROR,
        "onenet_desk::store",
        "cannot write datapoints: disk full",
    );
    ring.push(
        t + 3,
        Level::DEBUG,
        "onenet_desk::broker::router",
        "router tick",
    );
    ring
}

fn shows<S>(h: &Harness<'_, S>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn the_logs_panel_filters_by_level_and_text_and_shows_new_lines() {
    let ring = ring();
    let file = PathBuf::from("/var/tmp/onenet-test/logs/onenet-desk.log");
    let mut h = harness(Fx {
        logs: LogsPanel::new(Some(ring.clone()), Some(file.clone())),
        about: AboutBox::new(None),
        model: model(PathBuf::from("/var/tmp/onenet-test")),
        out: Vec::new(),
    });
    h.run();
    // Default level: info and more severe.
    assert!(shows(&h, "connected client=\"9277\""));
    assert!(shows(&h, "reason=KeepAlive"));
    assert!(shows(&h, "disk full"));
    assert!(!shows(&h, "router tick"), "debug hidden at Info");
    assert!(shows(&h, "onenet-desk.log"), "the log file path is shown");

    h.get_by_label("Errors").click();
    h.run();
    assert!(shows(&h, "disk full"));
    assert!(!shows(&h, "9277") && !shows(&h, "9278"), "only errors");

    h.get_by_label("Debug").click();
    h.run();
    assert!(shows(&h, "router tick"));
    assert!(shows(&h, "9277"));

    h.get_by_label("Log filter").focus();
    h.get_by_label("Log filter").type_text("keepalive");
    h.run();
    assert!(shows(&h, "9278"), "text filter is case-insensitive");
    assert!(!shows(&h, "9277") && !shows(&h, "router tick") && !shows(&h, "disk full"));
    assert!(shows(&h, "Shown: 1 / 4"));

    // A line logged now appears on the next frame, filtered like the others.
    ring.push(
        1_764_400_000_100,
        Level::INFO,
        "onenet_desk::broker::connection",
        "closing connection client=\"9279\" reason=KeepAlive",
    );
    ring.push(
        1_764_400_000_101,
        Level::INFO,
        "onenet_desk::broker::connection",
        "connected client=\"9280\"",
    );
    h.run();
    assert!(shows(&h, "9279"));
    assert!(!shows(&h, "9280"));

    h.get_by_label("Open log folder").click();
    h.run();
    assert_eq!(
        h.state().out,
        [Action::OpenPath(PathBuf::from("/var/tmp/onenet-test/logs"))]
    );
}

#[test]
fn the_logs_panel_speaks_chinese() {
    let mut m = model(PathBuf::from("/var/tmp/onenet-test"));
    m.prefs.lang = Lang::Chinese;
    onenet_desk::ui::i18n::set_lang(Lang::Chinese);
    let mut h = harness(Fx {
        logs: LogsPanel::new(Some(ring()), None),
        about: AboutBox::new(None),
        model: m,
        out: Vec::new(),
    });
    h.run();
    assert!(shows(&h, "日志"));
    assert!(h.query_by_label("错误").is_some());
    assert!(shows(&h, "打开日志文件夹"));
    onenet_desk::ui::i18n::set_lang(Lang::English);
}

#[test]
fn the_about_box_shows_version_data_folder_log_file_and_database_size() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0u8; 3 * 1024 * 1024]).unwrap();
    let log = dir.path().join("logs").join("onenet-desk.log");
    let mut about = AboutBox::new(Some(log.clone()));
    about.open = true;
    let mut h = harness(Fx {
        logs: LogsPanel::new(None, None),
        about,
        model: model(dir.path().to_path_buf()),
        out: Vec::new(),
    });
    h.run();
    assert!(shows(&h, "About onenet-desk"));
    assert!(h.query_by_label(env!("CARGO_PKG_VERSION")).is_some());
    assert!(
        h.query_by_label(&dir.path().display().to_string())
            .is_some()
    );
    assert!(h.query_by_label(&log.display().to_string()).is_some());
    assert!(h.query_by_label("3.0 MiB").is_some(), "database size");
    h.get_by_label("Open data folder").click();
    h.run();
    assert_eq!(h.state().out, [Action::OpenPath(dir.path().to_path_buf())]);
    h.get_by_label("Close").click();
    h.run();
    assert!(!h.state().about.open);
    assert!(!shows(&h, "About onenet-desk"));
}

#[test]
fn the_app_opens_the_about_box_and_the_logs_tab() {
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_ui_state(
            |ui, app: &mut ConsoleApp| {
                app.draw(ui);
            },
            ConsoleApp::offline(
                &egui::Context::default(),
                Model::new(
                    Config::new(PathBuf::from("/var/tmp/onenet-app")),
                    Prefs::default(),
                ),
            ),
        );
    h.run();
    h.get_by_label("About").click();
    h.run();
    assert!(shows(&h, "About onenet-desk"));
    assert!(h.query_by_label("/var/tmp/onenet-app").is_some());
    h.get_by_label("Close").click();
    h.run();
    h.get_by_label("Logs").click();
    h.run();
    assert_eq!(h.state().model.tab, Tab::Logs);
    assert!(shows(&h, "What the broker and the console reported"));
}
