//! English / 中文. English text is the key; [`tr`] returns its Chinese translation when the language is
//! Chinese and a translation exists (anything missing falls back to English, never to a blank).
//! The language is per thread (the UI thread), so tests in parallel threads do not disturb each other.

use std::cell::Cell;

use crate::ui::prefs::Lang;

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::English) };
}

pub fn set_lang(l: Lang) {
    LANG.with(|c| c.set(l));
}

pub fn lang() -> Lang {
    LANG.with(|c| c.get())
}

/// The text in the current language.
pub fn tr(en: &'static str) -> &'static str {
    match lang() {
        Lang::English => en,
        Lang::Chinese => zh(en).unwrap_or(en),
    }
}

/// The Chinese translation of an English text, if there is one.
pub fn zh(en: &str) -> Option<&'static str> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        ZH.iter()
            .chain(crate::ui::i18n_more::ZH_MORE)
            .chain(crate::ui::i18n_traffic::ZH_TRAFFIC)
            .copied()
            .collect()
    })
    .get(en)
    .copied()
}

/// (English, 中文).
const ZH: &[(&str, &str)] = &[
    (
        "$dp time zone (hours from UTC)",
        "$dp 时区（相对 UTC 的小时数）",
    ),
    ("0 = all.", "0 = 全部保留。"),
    ("0 = forever.", "0 = 永久保留。"),
    (
        "0: online only (status 0 if the device is offline). More: delivered when the device connects within this time.",
        "0：仅在线下发（设备离线则状态为 0）。大于 0：设备在此时间内上线时下发。",
    ),
    ("1 day", "1 天"),
    ("1 h", "1 小时"),
    ("1 min", "1 分钟"),
    ("10 min", "10 分钟"),
    (
        "A device id that is not registered may connect; its password becomes its auth_info. Restarts the broker.",
        "未注册的设备 ID 可以连接，其密码成为 auth_info。会重启代理。",
    ),
    (
        "A local OneNET: point your devices here instead of the cloud.",
        "本地 OneNET：让设备连到这里，而不是云端。",
    ),
    (
        "A random 16-character secret, unique within the product",
        "随机 16 位密钥，在产品内唯一",
    ),
    ("A random 28-character key", "随机 28 位密钥"),
    ("A random 6-digit id", "随机 6 位 ID"),
    ("A random 8-digit id", "随机 8 位 ID"),
    ("API key", "API 密钥"),
    ("Add a product first.", "请先添加产品。"),
    ("Add device", "添加设备"),
    ("Add product", "添加产品"),
    ("Age", "时长"),
    ("All", "全部"),
    (
        "All its devices are deleted too.",
        "其下所有设备也会被删除。",
    ),
    ("Apply", "应用"),
    ("Auto-register", "自动注册"),
    (
        "Auto-register unknown devices of known products",
        "自动注册已知产品下的未知设备",
    ),
    (
        "Beyond this, CONNACK 3 (server unavailable).",
        "超过此数回复 CONNACK 3（服务器不可用）。",
    ),
    ("Body", "内容"),
    ("Body as", "内容格式"),
    ("Broker", "代理"),
    ("Broker not running", "代理未运行"),
    ("By device", "按设备"),
    ("By topic", "按主题"),
    ("Bytes as hex, e.g. 01 A0 FF", "十六进制字节，例如 01 A0 FF"),
    ("Cancel", "取消"),
    (
        "Checked to be valid JSON before sending",
        "发送前检查是否为有效 JSON",
    ),
    (
        "Choose where to save; the export runs in the background",
        "选择保存位置；导出在后台进行",
    ),
    ("Clean", "清除会话"),
    ("Clean session", "清除会话"),
    ("Clear", "清空"),
    ("Clear queue", "清空队列"),
    ("Click to copy", "点击复制"),
    (
        "Clock used for every time in the console",
        "控制台中所有时间使用的时钟",
    ),
    ("Close", "关闭"),
    (
        "Close the connection (after the ack) when a $dp payload does not decode.",
        "$dp 负载无法解析时（应答后）断开连接。",
    ),
    ("Close the detail", "关闭详情"),
    (
        "Close the device's connection (its persistent session stays)",
        "断开设备连接（持久会话保留）",
    ),
    (
        "Close to the age limit: dropped soon if the device stays away",
        "接近时长上限：设备不上线将很快被丢弃",
    ),
    ("Command body", "命令内容"),
    ("Command reply limit (bytes)", "命令回复上限（字节）"),
    ("Command reply window (s)", "命令回复时限（秒）"),
    ("Commands", "命令"),
    (
        "Conformance diagnostics recorded (see a device's detail)",
        "已记录的协议一致性诊断（见设备详情）",
    ),
    ("Connect your device to", "设备连接地址"),
    ("Connected", "连接时间"),
    ("Copy", "复制"),
    ("Copy credentials", "复制凭据"),
    (
        "Copy product id, device id and auth_info (what the firmware needs)",
        "复制产品 ID、设备 ID 和 auth_info（固件所需）",
    ),
    ("Copy to the clipboard:", "复制到剪贴板："),
    (
        "Counted from the traffic seen since the console started",
        "自控制台启动以来的流量统计",
    ),
    ("Created", "创建时间"),
    ("Dark", "深色"),
    ("Data directory", "数据目录"),
    ("Database", "数据库"),
    ("Datapoint subscription as JSON", "数据点订阅使用 JSON"),
    ("Datapoints", "数据点"),
    ("Datapoints/s", "数据点/秒"),
    ("Defaults", "默认值"),
    ("Delete", "删除"),
    ("Delete all", "全部删除"),
    ("Delete device", "删除设备"),
    (
        "Delete every retained message (asks first)",
        "删除所有保留消息（会先确认）",
    ),
    ("Delete every retained message?", "删除所有保留消息？"),
    ("Delete product", "删除产品"),
    ("Delete the retained message of", "删除保留消息："),
    ("Delete the template", "删除模板"),
    ("Delete this retained message", "删除此保留消息"),
    ("Device", "设备"),
    ("Device ID", "设备 ID"),
    ("Device filter", "设备筛选"),
    ("Devices", "设备"),
    ("Devices of product", "产品下的设备"),
    ("Devices online", "在线设备"),
    ("Diagnostics", "诊断"),
    (
        "Disconnect every device and stop listening",
        "断开所有设备并停止监听",
    ),
    ("Disconnect on bad $dp", "$dp 错误时断开"),
    ("Dismiss", "关闭提示"),
    (
        "Drag to pan, Ctrl+scroll to zoom, double-click to reset",
        "拖动平移，Ctrl+滚轮缩放，双击复位",
    ),
    (
        "Drop every queued message of device",
        "丢弃该设备的所有排队消息：",
    ),
    (
        "Drop the queued messages (not those in flight)",
        "丢弃排队消息（不含发送中的）",
    ),
    ("Dropped", "已丢弃"),
    ("Edit", "编辑"),
    ("Empty the log", "清空日志"),
    ("Export datapoints", "导出数据点"),
    (
        "Export datapoints to CSV or JSON Lines",
        "导出数据点为 CSV 或 JSON Lines",
    ),
    ("Export to file…", "导出到文件…"),
    ("Exporting…", "正在导出…"),
    ("Export…", "导出…"),
    ("Fields", "字段"),
    ("Filter", "筛选"),
    ("Filter devices or streams", "筛选设备或数据流"),
    ("Follow", "跟随"),
    ("Follow the system, or choose", "跟随系统，或手动选择"),
    ("Forget the changes not applied", "放弃未应用的修改"),
    ("Format", "格式"),
    (
        "Freeze the list; packets are still recorded",
        "冻结列表；报文仍会记录",
    ),
    (
        "Freeze the view; data keeps arriving",
        "冻结视图；数据仍在接收",
    ),
    ("From", "起始"),
    ("From will of", "来自遗嘱"),
    ("Generate", "生成"),
    ("Hex", "十六进制"),
    ("History", "历史"),
    (
        "IP:port of the MQTT listener; OneNET devices use port 6002. 0.0.0.0 = every interface.",
        "MQTT 监听的 IP:端口；OneNET 设备使用 6002 端口。0.0.0.0 = 所有网卡。",
    ),
    ("In", "收"),
    ("Invalid JSON:", "JSON 无效："),
    ("Keep datapoints (days)", "数据点保留（天）"),
    ("Keep per stream (points)", "每个数据流保留（点数）"),
    (
        "Keep the newest data in view (turns off when you pan or zoom)",
        "保持显示最新数据（平移或缩放时关闭）",
    ),
    ("Keep this body for this device", "为此设备保存该内容"),
    ("Keepalive", "心跳"),
    ("Kept per device:", "每设备保留："),
    ("Kick", "踢下线"),
    ("Kind", "类型"),
    ("Language", "语言"),
    ("Last seen", "最后活动"),
    ("Latest binary value:", "最新二进制值："),
    ("Light", "浅色"),
    ("Listen address", "监听地址"),
    ("Loading history…", "正在加载历史…"),
    ("Loading…", "加载中…"),
    ("Logs", "日志"),
    (
        "Local time as shown; empty = from the first datapoint",
        "按显示的时区；留空 = 从第一个数据点开始",
    ),
    (
        "Local time as shown; empty = up to the last datapoint",
        "按显示的时区；留空 = 到最后一个数据点",
    ),
    (
        "MQTT 3.1.1, user name = product id, password = auth_info, client id = device id; data in",
        "MQTT 3.1.1，用户名 = 产品 ID，密码 = auth_info，客户端 ID = 设备 ID；数据目录",
    ),
    ("Max connections", "最大连接数"),
    ("Max floats per type 7 payload", "类型 7 每包最多浮点数"),
    ("Max queued per session", "每会话最多排队消息"),
    ("Max subscriptions per client", "每客户端最多订阅数"),
    ("Max type 2 binary (bytes)", "类型 2 二进制上限（字节）"),
    ("Messages in / out", "消息 收 / 发"),
    (
        "Messages kept for future subscribers of a topic.",
        "为主题的后续订阅者保留的消息。",
    ),
    ("Messages per topic", "各主题消息数"),
    (
        "Messages waiting for devices that are offline or busy.",
        "等待离线或繁忙设备的消息。",
    ),
    (
        "Messages waiting for one session; the oldest are dropped beyond it.",
        "单个会话的排队消息；超出后丢弃最旧的。",
    ),
    ("Messages/s in", "消息/秒 收"),
    ("Messages/s out", "消息/秒 发"),
    ("Name", "名称"),
    ("New API key", "新 API 密钥"),
    ("New auth_info", "新 auth_info"),
    ("New device", "新设备"),
    ("New device id", "新设备 ID"),
    ("New device name", "新设备名称"),
    ("New product", "新产品"),
    ("New product id", "新产品 ID"),
    ("New product name", "新产品名称"),
    (
        "No command sent to this device yet.",
        "尚未向此设备发送命令。",
    ),
    ("No datapoints yet.", "暂无数据点。"),
    ("No device has messages waiting.", "没有设备有待发消息。"),
    ("None ticked: every stream", "不勾选：全部数据流"),
    (
        "Nothing that could not be saved is acknowledged; devices wait and saving resumes when the store can write again.",
        "未能保存的内容一律不确认；设备会等待，存储恢复可写后继续保存。",
    ),
    ("UTF-8 BOM (for Excel)", "UTF-8 BOM（供 Excel 打开）"),
    (
        "Excel on a Chinese Windows shows UTF-8 text as mojibake without it",
        "不加 BOM 时，中文 Windows 上的 Excel 会把 UTF-8 文字显示为乱码",
    ),
    ("Offline", "离线"),
    ("Offline message age (hours)", "离线消息保留（小时）"),
    ("Offline messages kept", "离线消息保留条数"),
    ("Offline queue", "离线队列"),
    ("Offline validity", "离线有效期"),
    ("OneNET decisions (spec §13)", "OneNET 规则选项（规范 §13）"),
    (
        "OneNET's defaults (not applied until you press Apply)",
        "OneNET 默认值（按“应用”后生效）",
    ),
    ("Online devices are listed first", "在线设备排在前面"),
    ("Online only", "仅在线"),
    (
        "Only packets of devices whose id contains this",
        "仅显示 ID 包含此内容的设备的报文",
    ),
    (
        "Only packets whose topic contains this",
        "仅显示主题包含此内容的报文",
    ),
    ("Only the first bytes are kept:", "仅保留前面的字节："),
    ("Open", "打开"),
    (
        "Open the data directory in the file manager",
        "在文件管理器中打开数据目录",
    ),
    ("Out", "发"),
    ("Overview", "概览"),
    ("Pause", "暂停"),
    ("Payload", "负载"),
    ("Pending QoS 1/2", "待确认 QoS 1/2"),
    ("starting on", "正在启动于"),
    ("stopping…", "正在停止…"),
    (
        "1 device is online and will be disconnected.",
        "1 台设备在线，将被断开。",
    ),
    (
        "devices are online and will be disconnected.",
        "台设备在线，将被断开。",
    ),
    (
        "MQTT 3.1.1, user name = product id, password = auth_info, client id = device id",
        "MQTT 3.1.1，用户名 = 产品 ID，密码 = auth_info，客户端 ID = 设备 ID",
    ),
    (
        "plain MQTT 3.1.1: any client id, user name and password optional, + and # wildcards",
        "标准 MQTT 3.1.1：任意客户端 ID，用户名和密码可选，支持 + 和 # 通配符",
    ),
    ("HTTP API", "HTTP API"),
    ("header", "请求头"),
    (
        "header api-key: a product's API key (add a product in Registry)",
        "请求头 api-key：产品的 API key（请先在注册表中添加产品）",
    ),
    ("off (turn it on in Settings)", "已关闭（可在设置中开启）"),
    ("off:", "已关闭："),
    ("Stop the broker?", "停止服务？"),
    ("Yes, stop", "确定停止"),
    ("Restart the broker?", "重启服务？"),
    ("disconnected.", "断开。"),
    ("disconnected and reconnect.", "断开并重新连接。"),
    ("Yes, restart", "确定重启"),
    ("data in", "数据目录"),
    ("Apply and restart", "应用并重启"),
    ("All its devices are deleted too", "其下所有设备也会被删除"),
    (
        "of them are online and will be disconnected",
        "台在线，将被断开",
    ),
    (
        "It is online and will be disconnected; it cannot log in again.",
        "它当前在线，将被断开，且无法再次登录。",
    ),
    ("Restarts the broker", "需要重启服务"),
    ("device will reconnect.", "台设备将重新连接。"),
    ("devices will reconnect.", "台设备将重新连接。"),
    ("subscriptions", "个订阅"),
    (
        "Persistent sessions are lost when switching profile",
        "切换协议模式会丢失持久会话",
    ),
    (
        "Those devices log in with session present 0 and must subscribe again.",
        "这些设备重新登录时 session present 为 0，需要重新订阅。",
    ),
    (
        "Broker settings are saved in onenet-desk.toml in the data directory (serve reads it too) and take effect when you apply them; only addresses, profile and connection limits restart the broker.",
        "服务设置保存在数据目录的 onenet-desk.toml 中（serve 也读取它），点击应用后生效；只有地址、协议模式和连接限制需要重启服务。",
    ),
    (
        "OneNET's HTTP API (commands, topics, datapoints) for applications and `onenet-desk cmd send`; keep it on 127.0.0.1 unless other computers need it.",
        "OneNET 的 HTTP API（命令、主题、数据点），供应用和 `onenet-desk cmd send` 使用；除非其他电脑需要访问，请保持 127.0.0.1。",
    ),
    ("on", "开启"),
    (
        "Save to onenet-desk.toml and apply; asks first when the broker must restart",
        "保存到 onenet-desk.toml 并应用；需要重启服务时会先询问",
    ),
    ("text", "文本"),
    ("binary", "二进制"),
    (
        "No file was chosen: the system file dialog was cancelled or is not available on this desktop (no desktop portal or zenity). Type the path above and press Save.",
        "未选择文件：系统文件对话框被取消，或此桌面上不可用（没有桌面门户或 zenity）。请在上方输入路径并点击保存。",
    ),
    (
        "Type the path of the file to write.",
        "请输入要写入的文件路径。",
    ),
    ("is a folder; add a file name", "是一个文件夹，请加上文件名"),
    ("Save to file", "保存到文件"),
    ("File path", "文件路径"),
    (
        "This file exists and will be replaced.",
        "该文件已存在，将被替换。",
    ),
    (
        "Folders that do not exist are created.",
        "不存在的文件夹会被创建。",
    ),
    ("Browse…", "浏览…"),
    (
        "Choose with the system's file dialog",
        "用系统文件对话框选择",
    ),
    ("waiting for the system file dialog…", "等待系统文件对话框…"),
    ("Please confirm", "请确认"),
    ("Plot", "绘制"),
    (
        "Plot this stream (loads its history)",
        "绘制此数据流（加载历史）",
    ),
    ("Product", "产品"),
    ("Product ID", "产品 ID"),
    ("Products", "产品"),
    (
        "Products and devices: use the ids and auth_info your firmware already carries.",
        "产品与设备：使用固件中已有的 ID 和 auth_info。",
    ),
    ("Profile", "协议模式"),
    ("Put this template in the composer", "将此模板放入编辑器"),
    ("Recent packets", "最近报文"),
    ("Refresh", "刷新"),
    (
        "Registered automatically since the console started",
        "控制台启动后自动注册",
    ),
    ("Registry", "注册表"),
    ("Reload the queue and diagnostics", "重新加载队列和诊断"),
    ("Remote", "远端地址"),
    ("Reply", "回复"),
    ("Resend", "重发"),
    ("Restart", "重启"),
    (
        "Restart the broker with the current settings",
        "用当前设置重启代理",
    ),
    ("Resume", "继续"),
    ("Retained", "保留消息"),
    ("Retention", "数据保留"),
    ("Revert", "还原"),
    ("Save", "保存"),
    (
        "Save and restart the broker with these settings (devices reconnect)",
        "保存并用这些设置重启代理（设备会重连）",
    ),
    ("Save as…", "另存为…"),
    ("Save template", "保存模板"),
    ("Save the bytes to a file", "将字节保存到文件"),
    ("Save the log as JSON Lines", "将日志保存为 JSON Lines"),
    (
        "Save this device's diagnostics as JSON",
        "将此设备的诊断保存为 JSON",
    ),
    (
        "Saved automatically; broker settings take effect when you apply them.",
        "自动保存；代理设置在应用后生效。",
    ),
    ("Send", "发送"),
    (
        "Send $creq commands to a device and read its $crsp reply.",
        "向设备发送 $creq 命令并查看其 $crsp 回复。",
    ),
    ("Send command", "发送命令"),
    ("Send the command (Ctrl+Enter)", "发送命令（Ctrl+Enter）"),
    ("Send the same body again", "再次发送相同内容"),
    (
        "Send {\"ds_id\",\"at\",\"value\"} instead of the value text.",
        "发送 {\"ds_id\",\"at\",\"value\"} 而不是值文本。",
    ),
    (
        "Set RETAIN on retained deliveries",
        "下发保留消息时置 RETAIN",
    ),
    ("Settings", "设置"),
    ("Settings not valid:", "设置无效："),
    (
        "Show only devices whose id, name, product or address contains this",
        "仅显示 ID、名称、产品或地址包含此内容的设备",
    ),
    (
        "Show only topics or devices containing this",
        "仅显示包含此内容的主题或设备",
    ),
    ("Show the values in a table", "以表格显示数值"),
    ("Show the whole payload", "显示完整负载"),
    ("Show this command", "显示此命令"),
    ("Show this product's devices", "显示此产品的设备"),
    ("Size", "大小"),
    ("Sort by this column", "按此列排序"),
    ("Start", "启动"),
    (
        "Start the broker with the current settings",
        "用当前设置启动代理",
    ),
    ("Status", "状态"),
    ("Stop", "停止"),
    ("Streams", "数据流"),
    ("Subs", "订阅"),
    ("Subscriptions", "订阅"),
    ("System", "跟随系统"),
    ("Templates", "模板"),
    ("Text", "文本"),
    ("The body is empty.", "内容为空。"),
    (
        "The doc's rule. Turn off for firmware built on the official C SDK, which rejects RETAIN=1.",
        "文档规定。使用官方 C SDK 的固件会拒绝 RETAIN=1，此时请关闭。",
    ),
    ("The reply is not JSON.", "回复不是 JSON。"),
    ("The start is after the end.", "起始时间晚于结束时间。"),
    (
        "The wall clock $dp times are written in; OneNET uses UTC+8.",
        "$dp 时间所用的时区；OneNET 使用 UTC+8。",
    ),
    ("Theme", "主题"),
    ("This computer", "本机时间"),
    ("Throughput (last 5 minutes)", "吞吐量（最近 5 分钟）"),
    (
        "Tick numeric streams on the left to plot them.",
        "在左侧勾选数值数据流以绘图。",
    ),
    ("Time", "时间"),
    ("Time span shown while following", "跟随时显示的时间跨度"),
    ("Times shown in", "时间显示"),
    ("To", "结束"),
    ("Topic", "主题"),
    ("Topic filter", "主题筛选"),
    ("Traffic", "流量"),
    ("Type", "类型"),
    (
        "Unknown device ids of known products are registered on first connect.",
        "已知产品的未知设备 ID 在首次连接时注册。",
    ),
    ("Uptime", "运行时间"),
    ("Value", "值"),
    ("View", "查看"),
    ("Warnings", "警告"),
    (
        "Where the database lives (applies on restart of the broker).",
        "数据库所在位置（重启代理后生效）。",
    ),
    ("Will", "遗嘱"),
    ("Yes, clear", "确认清空"),
    ("Yes, delete", "确认删除"),
    ("address", "地址"),
    ("all", "全部"),
    ("all devices", "所有设备"),
    ("bytes", "字节"),
    ("choose a device", "选择设备"),
    ("created", "已创建"),
    ("datapoints/s", "数据点/秒"),
    ("db", "数据库"),
    ("device", "设备"),
    ("device offline", "设备离线"),
    ("devices shown", "个设备"),
    ("dp/s", "数据点/秒"),
    ("dropped", "已丢弃"),
    ("expired", "已过期"),
    ("expiring", "即将过期"),
    ("for at most", "最长"),
    ("from the device", "来自设备"),
    ("generated if empty", "留空则自动生成"),
    ("granted", "授予"),
    ("id, name, product or address", "ID、名称、产品或地址"),
    ("in flight", "发送中"),
    ("messages/s in", "消息/秒 收"),
    ("messages/s out", "消息/秒 发"),
    ("missed by the console", "控制台未来得及读取"),
    ("more bytes", "更多字节"),
    ("msg/s in", "消息/秒 收"),
    ("new", "新"),
    ("no", "否"),
    ("none", "无"),
    ("not running:", "未运行："),
    ("now", "现在"),
    ("offline", "离线"),
    (
        "onenet: registered devices and OneNET's rules. mqtt: plain MQTT 3.1.1, anonymous, wildcards.",
        "onenet：仅注册设备，遵循 OneNET 规则。mqtt：标准 MQTT 3.1.1，匿名，支持通配符。",
    ),
    ("online", "在线"),
    ("out", "发"),
    ("packet bytes as hex", "报文十六进制"),
    ("packets", "个报文"),
    ("payload", "负载"),
    ("points", "个点"),
    ("product", "产品"),
    ("profile", "模式"),
    ("pushed out of the log", "被挤出日志"),
    ("queued", "排队"),
    ("replied", "已回复"),
    ("reply", "回复"),
    ("reply too large", "回复过大"),
    (
        "qos 1: sent again at each login of the device until answered or no longer valid",
        "qos 1：设备每次上线时重发，直到应答或不再有效",
    ),
    ("retained messages", "条保留消息"),
    ("running on", "运行于"),
    ("sent", "已发送"),
    ("sends", "发送次数"),
    ("store cannot save:", "存储无法保存："),
    ("starting…", "启动中…"),
    ("stopped", "已停止"),
    ("subscribers", "个订阅者"),
    ("template name", "模板名称"),
    ("timeout", "超时"),
    ("to the device", "发往设备"),
    ("topic", "主题"),
    ("up", "运行"),
    ("warnings", "警告"),
    ("write YYYY-MM-DD hh:mm:ss", "格式为 YYYY-MM-DD hh:mm:ss"),
    ("yes", "是"),
    ("§6.2: 3 MiB.", "§6.2：3 MiB。"),
    ("§6.7: 500.", "§6.7：500。"),
    (
        "§7.2: a larger $crsp gives status 6.",
        "§7.2：更大的 $crsp 状态为 6。",
    ),
    (
        "§7.2: no $crsp by then gives status 5.",
        "§7.2：超时无 $crsp 状态为 5。",
    ),
    (
        "§8.1: 100 on OneNET; later filters get SUBACK 0x80.",
        "§8.1：OneNET 为 100；超出的订阅回复 SUBACK 0x80。",
    ),
    ("§9: 2 days.", "§9：2 天。"),
    ("§9: the latest 10 per device.", "§9：每设备最新 10 条。"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_english() {
        set_lang(Lang::Chinese);
        assert_eq!(tr("Devices"), "设备");
        assert_eq!(tr("no such text"), "no such text");
        set_lang(Lang::English);
        assert_eq!(tr("Devices"), "Devices");
    }

    /// Every `tr("…")` in the console's sources has a Chinese translation.
    #[test]
    fn every_text_is_translated() {
        let sources = [
            include_str!("app.rs"),
            include_str!("app/broker.rs"),
            include_str!("app/handle.rs"),
            include_str!("panels/commands.rs"),
            include_str!("panels/datapoints.rs"),
            include_str!("panels/devices.rs"),
            include_str!("panels/devices/detail.rs"),
            include_str!("panels/export.rs"),
            include_str!("panels/offline.rs"),
            include_str!("panels/overview.rs"),
            include_str!("plot.rs"),
            include_str!("panels/registry.rs"),
            include_str!("panels/registry/dialogs.rs"),
            include_str!("panels/retained.rs"),
            include_str!("panels/settings.rs"),
            include_str!("panels/subscriptions.rs"),
            include_str!("panels/traffic.rs"),
            include_str!("widgets.rs"),
            include_str!("savefile.rs"),
            include_str!("panels/notices.rs"),
            include_str!("panels/first_run.rs"),
            include_str!("json_fields.rs"),
            include_str!("panels/traffic_record.rs"),
            include_str!("panels/traffic_replay.rs"),
        ];
        let mut missing = Vec::new();
        for src in sources {
            for (i, _) in src.match_indices("tr(") {
                let rest = src[i + 3..].trim_start();
                let Some(body) = rest.strip_prefix('"') else {
                    continue;
                };
                let mut text = String::new();
                let mut chars = body.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        c => text.push(c),
                    }
                }
                if zh(&text).is_none() {
                    missing.push(text);
                }
            }
        }
        for (_, label) in crate::ui::plot::WINDOWS {
            if zh(label).is_none() {
                missing.push(label.to_string());
            }
        }
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }
}
