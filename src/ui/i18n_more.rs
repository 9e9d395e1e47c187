//! Chinese translations of the console's second cut (notices, first run, settings in the user's words,
//! charts, tables), kept apart from the main table so panels changed in parallel do not collide;
//! [`crate::ui::i18n::zh`] reads both.

/// (English, 中文).
pub const ZH_MORE: &[(&str, &str)] = &[
    (
        "Messages and datapoints per second, averaged over 5 s",
        "每秒消息数和数据点数（5 秒平均）",
    ),
    ("Compatibility with OneNET devices", "与 OneNET 设备的兼容"),
    (
        "How the broker treats OneNET firmware where the documents leave a choice: spec §13",
        "文档未规定处代理如何对待 OneNET 固件：规范 §13",
    ),
    (
        "Mark retained messages as retained when delivering them",
        "下发保留消息时带 RETAIN 标志",
    ),
    (
        "Turn this off if your firmware uses OneNET's official C SDK: it rejects messages that arrive with RETAIN=1. Spec §5, §13.",
        "若固件使用 OneNET 官方 C SDK 请关闭：它会拒收 RETAIN=1 的消息。规范 §5、§13。",
    ),
    (
        "Time zone of the times devices upload (hours from UTC)",
        "设备上传时间所用时区（相对 UTC 的小时数）",
    ),
    (
        "Times inside $dp uploads are read as this zone's clock; OneNET uses China time, UTC+8. Spec §6, §13.",
        "$dp 上传中的时间按此时区解读；OneNET 使用北京时间 UTC+8。规范 §6、§13。",
    ),
    (
        "Most values in one float upload",
        "单次浮点上传的最多数值个数",
    ),
    (
        "A type 7 (floats) upload with more values is refused. OneNET allows 500. Spec §6.7.",
        "超过此数的类型 7（浮点）上传会被拒绝。OneNET 允许 500 个。规范 §6.7。",
    ),
    ("Largest binary upload (bytes)", "二进制上传的最大字节数"),
    (
        "A type 2 (binary) upload larger than this is refused. OneNET allows 3 MiB. Spec §6.2.",
        "超过此大小的类型 2（二进制）上传会被拒绝。OneNET 允许 3 MiB。规范 §6.2。",
    ),
    (
        "Disconnect a device whose upload cannot be read",
        "设备上传无法解析时断开连接",
    ),
    (
        "After acknowledging it, close the connection when a $dp payload does not decode, as OneNET does; off: keep the device connected and record a warning. Spec §13.",
        "$dp 负载无法解码时，在确认后关闭连接（与 OneNET 相同）；关闭此项：保持连接并记录警告。规范 §13。",
    ),
    (
        "Send subscribed datapoints as JSON",
        "以 JSON 发送订阅的数据点",
    ),
    (
        "Applications subscribed to a device's datapoints get {\"ds_id\",\"at\",\"value\"} instead of the bare value. Spec §10, §13.",
        "订阅设备数据点的应用收到 {\"ds_id\",\"at\",\"value\"}，而不是单独的值。规范 §10、§13。",
    ),
    (
        "Messages kept for an offline device",
        "为离线设备保留的消息数",
    ),
    (
        "The newest are kept and delivered when it connects; older ones are dropped. OneNET keeps 10. Spec §9.",
        "保留最新的消息，设备上线时下发；更早的被丢弃。OneNET 保留 10 条。规范 §9。",
    ),
    ("How long they are kept (hours)", "保留时长（小时）"),
    (
        "Messages waiting longer for an offline device are dropped. OneNET keeps them 2 days. Spec §9.",
        "等待离线设备超过此时长的消息会被丢弃。OneNET 保留 2 天。规范 §9。",
    ),
    ("Wait for a command's reply (s)", "等待命令回复的时间（秒）"),
    (
        "A command the device does not answer ($crsp) within this time gets status 5, timeout. Spec §7.2.",
        "设备在此时间内未回复（$crsp）的命令状态为 5（超时）。规范 §7.2。",
    ),
    ("Largest command reply (bytes)", "命令回复的最大字节数"),
    (
        "A larger reply is not kept and the command gets status 6. Spec §7.2.",
        "更大的回复不会保存，命令状态为 6。规范 §7.2。",
    ),
    (
        "A device's further subscriptions are refused (SUBACK 0x80). OneNET allows 100. Spec §8.1.",
        "设备超出的订阅会被拒绝（SUBACK 0x80）。OneNET 允许 100 个。规范 §8.1。",
    ),
    ("(start the broker)", "（请先启动代理）"),
    ("Host", "主机"),
    ("this computer's address", "本机地址"),
    ("Port", "端口"),
    ("OneNET devices use 6002", "OneNET 设备使用 6002"),
    ("Client id", "客户端 ID"),
    ("the device id", "设备 ID"),
    ("as registered", "与注册的一致"),
    ("User name", "用户名"),
    ("the product id", "产品 ID"),
    ("Password", "密码"),
    ("the device's auth_info", "设备的 auth_info"),
    ("any", "任意"),
    ("any, or none", "任意，或不填"),
    ("Connect your first device", "连接第一台设备"),
    (
        "1. Register it: add its product and the device with the ids and auth_info your firmware already carries.",
        "1. 注册设备：用固件中已有的 ID 和 auth_info 添加其产品和设备。",
    ),
    ("Add product and device…", "添加产品和设备…"),
    ("Open the Registry", "打开注册表"),
    (
        "Auto-register is on: devices of a known product register on first connect.",
        "自动注册已开启：已知产品的设备首次连接时自动注册。",
    ),
    ("Or turn on auto-register", "或开启自动注册"),
    (
        "Unknown device ids of known products are registered on first connect; their password becomes their auth_info. Add the product first.",
        "已知产品下未注册的设备 ID 在首次连接时注册，其密码成为 auth_info。请先添加产品。",
    ),
    (
        "2. Put these values in the firmware:",
        "2. 在固件中填入以下值：",
    ),
    (
        "Profile mqtt: any MQTT 3.1.1 client may connect. Put these values in it:",
        "mqtt 模式：任何 MQTT 3.1.1 客户端都可连接。填入以下值：",
    ),
    ("subscriber", "个订阅者"),
    (
        "No subscriptions yet: a device or application that subscribes to a topic is listed here.",
        "暂无订阅：设备或应用订阅主题后会列在这里。",
    ),
    ("No messages published yet.", "尚未有消息发布。"),
    (
        "No retained messages. A message published with RETAIN=1 is kept here for the topic's future subscribers.",
        "没有保留消息。以 RETAIN=1 发布的消息会保存在这里，供该主题以后的订阅者接收。",
    ),
    ("Device Not Online", "设备不在线"),
    ("Command Created", "命令已创建"),
    ("Command Sent", "命令已发送"),
    ("Send Command Failed", "命令发送失败"),
    ("Command Response Received", "已收到命令回复"),
    ("Command Response Timeout", "命令回复超时"),
    ("Command Response Too Large", "命令回复过大"),
    ("line", "行"),
    ("column", "列"),
    ("s", "秒"),
    ("min", "分钟"),
    ("h", "小时"),
    ("d", "天"),
    (
        "Saved bodies, shared by every device",
        "已保存的命令内容，所有设备共用",
    ),
    (
        "Keep this body for every device",
        "保存此内容，供所有设备使用",
    ),
    ("field…", "字段…"),
    (
        "No numeric field in the latest value.",
        "最新值中没有数值字段。",
    ),
    ("Plot no field", "不绘制字段"),
    (
        "Plot a numeric field of these JSON values",
        "绘制这些 JSON 值中的一个数值字段",
    ),
    ("Table", "表格"),
];
