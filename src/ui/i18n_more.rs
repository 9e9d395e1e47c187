//! Chinese translations of the console's second cut (notices, first run, settings in the user's words,
//! charts, tables), kept apart from the main table so panels changed in parallel do not collide;
//! [`crate::ui::i18n::zh`] reads both.

/// (English, 中文).
pub const ZH_MORE: &[(&str, &str)] = &[(
    "Messages and datapoints per second, averaged over 5 s",
    "每秒消息数和数据点数（5 秒平均）",
)];
