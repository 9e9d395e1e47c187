//! Chinese translations of the Devices statistics, the Traffic panel's recording and the Replay window,
//! kept apart from the main table so panels changed in parallel do not collide; [`crate::ui::i18n::zh`]
//! reads it too.

/// (English, 中文).
pub const ZH_TRAFFIC: &[(&str, &str)] = &[
    (
        "Not recorded: the broker is not running.",
        "未录制：代理未运行。",
    ),
    ("off", "关闭"),
    ("Asked for at its last login", "设备上次登录时请求的值"),
    (
        "End the recording; the file is then complete",
        "结束录制；之后文件即完整",
    ),
    ("recording", "正在录制"),
    ("Record device", "录制设备"),
    ("Record…", "录制…"),
    (
        "Record this device's packets, both directions, to a JSON Lines file that Replay (or `onenet-desk replay`) plays back",
        "将该设备双向的报文录制到 JSON Lines 文件，可用“回放”（或 `onenet-desk replay`）重放",
    ),
    ("Recorded", "已录制"),
    ("Replay…", "回放…"),
    (
        "Play a recording against this broker and compare its answers",
        "对本代理回放录制文件并比较其应答",
    ),
    ("of", "/"),
    ("As device", "作为设备"),
    ("No differences", "没有差异"),
    (
        "No file was chosen: the system file dialog was cancelled or is not available on this desktop. Type the path instead.",
        "未选择文件：系统文件对话框被取消或在此桌面上不可用。请直接输入路径。",
    ),
    ("No such registered device", "没有该已注册设备"),
    ("Recording", "录制文件"),
    ("Replay a recording", "回放录制文件"),
    ("Replay", "回放"),
    ("Speed must be positive", "速度必须为正数"),
    ("Speed", "速度"),
    ("Start the broker to replay.", "请先启动代理再回放。"),
    (
        "The broker is not running, or a replay is under way",
        "代理未运行，或正在回放",
    ),
    (
        "Type the path of a recording (JSON Lines).",
        "请输入录制文件（JSON Lines）的路径。",
    ),
    ("after the last line", "最后一行之后"),
    ("as recorded", "按录制时的设备"),
    ("broker packets compared", "个代理报文已比较"),
    ("differences", "处差异"),
    ("expected", "预期"),
    ("got", "实际"),
    ("line", "行"),
    ("lines", "行"),
    ("packets sent", "个报文已发送"),
    ("skipped", "已跳过"),
    ("the recording has no packets", "录制文件中没有报文"),
    (
        "1 × keeps the recorded spacing; 10 × plays ten times faster",
        "1 × 保持录制时的间隔；10 × 表示快十倍",
    ),
    (
        "Connect as this registered device (its auth_info from the registry) instead of the recorded one",
        "以该已注册设备（使用注册表中的 auth_info）连接，而不是录制时的设备",
    ),
];
