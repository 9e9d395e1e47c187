//! Chinese text: egui's own fonts have no CJK glyphs, so one CJK font from the system is added as a
//! fallback at start-up. eframe's system-font provider may also find one on demand; this makes it certain
//! on the usual platforms and tells the user once when nothing is found.

use std::path::{Path, PathBuf};

use egui::{FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

/// Common CJK font files on Linux, macOS and Windows, best first.
pub const CANDIDATES: &[&str] = &[
    // Linux (Debian/Ubuntu/Fedora/Arch packages)
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/google-droid/DroidSansFallback.ttf",
    // macOS
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    // Windows
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\msyh.ttf",
    "C:\\Windows\\Fonts\\simhei.ttf",
    "C:\\Windows\\Fonts\\simsun.ttc",
];

/// The first candidate that exists.
pub fn find_cjk_font(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf)
}

/// Adds a system CJK font as the last fallback of both families. Returns the file used, or None (the
/// caller shows a one-time notice).
pub fn install_cjk(ctx: &egui::Context) -> Option<PathBuf> {
    let path = find_cjk_font(CANDIDATES)?;
    let data = std::fs::read(&path).ok()?;
    ctx.add_font(FontInsert::new(
        "cjk-fallback",
        FontData::from_owned(data),
        vec![
            InsertFontFamily {
                family: FontFamily::Proportional,
                priority: FontPriority::Lowest,
            },
            InsertFontFamily {
                family: FontFamily::Monospace,
                priority: FontPriority::Lowest,
            },
        ],
    ));
    tracing::info!("CJK font: {}", path.display());
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_font_is_none_not_a_panic() {
        assert_eq!(find_cjk_font(&["/nonexistent/font.ttc"]), None);
    }
}
