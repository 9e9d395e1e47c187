//! Platform commands (spec §7): `$creq/{uuid}` down at QoS 0, `$crsp/{uuid}` back at any QoS, status 0–6
//! exactly as §7.2, offline commands with a validity, a response window, a reply size limit, and the
//! API's `qos=1`: a command not answered is sent again at each login of the device while still valid.
//!
//! Pure: the router owns a [`CommandBook`], feeds it the clock and events (send, login, reply, tick) and
//! carries out what it returns (publish the request, persist the new state, emit an event).

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Status codes of `GET /cmds/{uuid}` (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum CommandStatus {
    /// An online-only command (validity 0) for a device that is not connected.
    DeviceOffline = 0,
    /// Waiting for an offline device to connect (validity > 0).
    Created = 1,
    /// Published to the device; no reply yet.
    Sent = 2,
    /// Never delivered: the validity ran out while the device stayed offline.
    SendFailed = 3,
    /// The device replied on `$crsp/{uuid}`.
    Replied = 4,
    /// No reply within the response window.
    Timeout = 5,
    /// The reply was larger than the limit.
    ReplyTooLarge = 6,
}

impl CommandStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(c: u8) -> Option<CommandStatus> {
        use CommandStatus::*;
        [
            DeviceOffline,
            Created,
            Sent,
            SendFailed,
            Replied,
            Timeout,
            ReplyTooLarge,
        ]
        .into_iter()
        .find(|s| *s as u8 == c)
    }

    /// The `desc` strings of the HTTP API.
    pub fn desc(self) -> &'static str {
        match self {
            CommandStatus::DeviceOffline => "Device Not Online",
            CommandStatus::Created => "Command Created",
            CommandStatus::Sent => "Command Sent",
            CommandStatus::SendFailed => "Send Command Failed",
            CommandStatus::Replied => "Command Response Received",
            CommandStatus::Timeout => "Command Response Timeout",
            CommandStatus::ReplyTooLarge => "Command Response Too Large",
        }
    }

    /// No further change can happen.
    pub fn is_final(self) -> bool {
        !matches!(self, CommandStatus::Created | CommandStatus::Sent)
    }
}

/// One command and everything that happened to it. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub uuid: String,
    pub device_id: String,
    #[serde(serialize_with = "crate::onenet::commands::ser_bytes")]
    pub body: Bytes,
    pub status: CommandStatus,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub replied_at: Option<i64>,
    #[serde(serialize_with = "crate::onenet::commands::ser_opt_bytes")]
    pub reply: Option<Bytes>,
    /// Offline commands: delivery is possible until then.
    pub expire_at: Option<i64>,
    /// Requested validity in seconds (0 = online only).
    pub validity_s: u32,
    /// The API's `qos`: 0 sends once; 1 resends at each login until answered or no longer valid (§7.2).
    pub qos: u8,
    /// Every time `$creq/{uuid}` went out.
    pub sends: SendLog,
}

/// One `$creq` publication of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSend {
    /// Unix ms.
    pub at: i64,
    /// The PUBLISH's packet id; `$creq` goes out at QoS 0 (§13), so none today.
    pub pid: Option<u16>,
}

/// The sends of a command: how many in all, and the latest [`SENDS_KEPT`] of them, oldest first. A device
/// that logs in again and again without answering a long-lived `qos=1` command would otherwise grow it
/// without bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendLog {
    pub count: u32,
    pub recent: Vec<CommandSend>,
}

/// How many send records a command keeps.
pub const SENDS_KEPT: usize = 32;

impl SendLog {
    pub fn push(&mut self, s: CommandSend) {
        self.count = self.count.saturating_add(1);
        if self.recent.len() >= SENDS_KEPT {
            self.recent.remove(0);
        }
        self.recent.push(s);
    }
}

pub(crate) fn ser_bytes<S: serde::Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

pub(crate) fn ser_opt_bytes<S: serde::Serializer>(
    b: &Option<Bytes>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => ser_bytes(b, s),
        None => s.serialize_none(),
    }
}

/// Longest validity the platform accepts (31 days, §7.2).
pub const MAX_VALIDITY_S: u32 = 2_678_400;

/// Why a command could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no device {0}")]
    UnknownDevice(String),
    #[error("validity {0} s is out of range: 0 to 2678400 s (31 days)")]
    Validity(u64),
    #[error("command body is {0} bytes; the limit is {1}")]
    BodyTooLarge(usize, usize),
    #[error("qos {0} is out of range: 0 or 1")]
    Qos(u8),
}

/// What a `$crsp` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Stored: status 4 or 6.
    Completed(Command),
    /// Not a command of this device awaiting a reply (unknown uuid, other device, already final).
    Ignored(String),
}

/// The live commands: created (waiting for the device) or sent (waiting for the reply). Final commands
/// leave the book (they are in the store).
///
/// A `qos=1` command that was sent and not answered stays `Sent` (status 2) after its response window,
/// for as long as its validity runs: each login of the device sends it again (same uuid) and opens a new
/// window. It ends with its reply (4 or 6), or with status 5 once both the validity and the last window
/// are over. Validity 0 (an online command) has no validity beyond the window: a login within the
/// window of the last send still resends it.
#[derive(Debug)]
pub struct CommandBook {
    /// Each live command with the deadline it was given when it entered this state (kept, so a change of
    /// the window at run time cannot make it unfindable in `deadlines`).
    live: HashMap<String, (Command, Option<i64>)>,
    /// (deadline, uuid): response window for sent commands (for `qos=1` also the validity), validity for
    /// created ones.
    deadlines: BTreeSet<(i64, String)>,
    window_ms: i64,
    reply_limit: usize,
}

impl CommandBook {
    pub fn new(window_ms: i64, reply_limit: usize) -> CommandBook {
        CommandBook {
            live: HashMap::new(),
            deadlines: BTreeSet::new(),
            window_ms,
            reply_limit,
        }
    }

    /// New response window and reply limit (a settings change at run time). Commands already sent keep
    /// the deadline they were given; the window applies from their next send.
    pub fn set_limits(&mut self, window_ms: i64, reply_limit: usize) {
        self.window_ms = window_ms;
        self.reply_limit = reply_limit;
    }

    fn deadline_of(&self, c: &Command) -> Option<i64> {
        match c.status {
            CommandStatus::Sent => {
                let window = c.sent_at.map(|t| t + self.window_ms);
                if c.qos == 1 {
                    window.max(c.expire_at)
                } else {
                    window
                }
            }
            CommandStatus::Created => c.expire_at,
            _ => None,
        }
    }

    fn insert(&mut self, c: Command) {
        let d = self.deadline_of(&c);
        if let Some(d) = d {
            self.deadlines.insert((d, c.uuid.clone()));
        }
        self.live.insert(c.uuid.clone(), (c, d));
    }

    fn remove(&mut self, uuid: &str) -> Option<Command> {
        let (c, d) = self.live.remove(uuid)?;
        if let Some(d) = d {
            self.deadlines.remove(&(d, c.uuid.clone()));
        }
        Some(c)
    }

    /// Records one publication of `$creq/{uuid}` now.
    fn mark_sent(c: &mut Command, now: i64) {
        c.status = CommandStatus::Sent;
        c.sent_at = Some(now);
        c.sends.push(CommandSend { at: now, pid: None });
    }

    /// Restores a live command loaded from the store.
    pub fn restore(&mut self, c: Command) {
        if !c.status.is_final() {
            self.insert(c);
        }
    }

    /// Creates a command. `online`: the device is connected now. The returned command is `Sent` (publish it
    /// now), `Created` (deliver at login) or `DeviceOffline` (final). `qos` is 0 or 1 (checked by the
    /// caller).
    #[allow(clippy::too_many_arguments)] // each is one field of the API request; a struct would only rename them
    pub fn create(
        &mut self,
        uuid: String,
        device_id: &str,
        body: Bytes,
        validity_s: u32,
        qos: u8,
        online: bool,
        now: i64,
    ) -> Command {
        let mut c = Command {
            uuid,
            device_id: device_id.to_string(),
            body,
            status: CommandStatus::Created,
            created_at: now,
            sent_at: None,
            replied_at: None,
            reply: None,
            expire_at: (validity_s > 0).then(|| now + validity_s as i64 * 1000),
            validity_s,
            qos,
            sends: SendLog::default(),
        };
        if online {
            Self::mark_sent(&mut c, now);
        } else if validity_s == 0 {
            c.status = CommandStatus::DeviceOffline;
        }
        if !c.status.is_final() {
            self.insert(c.clone());
        }
        c
    }

    /// The device connected: its created commands still valid become `Sent`, and its `qos=1` commands
    /// sent before and not answered are sent again while still valid. Publish them, oldest first.
    pub fn on_login(&mut self, device_id: &str, now: i64) -> Vec<Command> {
        let mut due: Vec<(i64, String)> = self
            .live
            .values()
            .map(|(c, _)| c)
            .filter(|c| c.device_id == device_id)
            .filter(|c| match c.status {
                CommandStatus::Created => true,
                CommandStatus::Sent => c.qos == 1,
                _ => false,
            })
            .filter(|c| c.expire_at.is_none_or(|e| e > now))
            .map(|c| (c.created_at, c.uuid.clone()))
            .collect();
        due.sort();
        due.into_iter()
            .filter_map(|(_, u)| {
                let mut c = self.remove(&u)?;
                Self::mark_sent(&mut c, now);
                self.insert(c.clone());
                Some(c)
            })
            .collect()
    }

    /// A `$crsp/{uuid}` from `device_id`. The first reply wins.
    pub fn on_reply(
        &mut self,
        device_id: &str,
        uuid: &str,
        reply: Bytes,
        now: i64,
    ) -> ReplyOutcome {
        match self.live.get(uuid).map(|(c, _)| c) {
            None => {
                return ReplyOutcome::Ignored(format!("no command {uuid} is waiting for a reply"));
            }
            Some(c) if c.device_id != device_id => {
                return ReplyOutcome::Ignored(format!(
                    "command {uuid} was sent to device {}, not to this device",
                    c.device_id
                ));
            }
            Some(c) if c.status != CommandStatus::Sent => {
                return ReplyOutcome::Ignored(format!("command {uuid} was not sent yet"));
            }
            Some(_) => {}
        }
        let Some(mut c) = self.remove(uuid) else {
            return ReplyOutcome::Ignored(format!("no command {uuid}"));
        };
        c.replied_at = Some(now);
        if reply.len() > self.reply_limit {
            c.status = CommandStatus::ReplyTooLarge;
        } else {
            c.status = CommandStatus::Replied;
            c.reply = Some(reply);
        }
        ReplyOutcome::Completed(c)
    }

    /// Commands whose deadline passed: sent ones time out (5), created ones fail (3).
    pub fn tick(&mut self, now: i64) -> Vec<Command> {
        let due: Vec<String> = self
            .deadlines
            .iter()
            .take_while(|(d, _)| *d <= now)
            .map(|(_, u)| u.clone())
            .collect();
        due.into_iter()
            .filter_map(|u| {
                let mut c = self.remove(&u)?;
                c.status = match c.status {
                    CommandStatus::Sent => CommandStatus::Timeout,
                    _ => CommandStatus::SendFailed,
                };
                Some(c)
            })
            .collect()
    }

    /// Earliest deadline, for the router's timer.
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    pub fn get(&self, uuid: &str) -> Option<&Command> {
        self.live.get(uuid).map(|(c, _)| c)
    }

    /// Live commands of a device (created or sent).
    pub fn live_of(&self, device_id: &str) -> Vec<Command> {
        let mut v: Vec<Command> = self
            .live
            .values()
            .map(|(c, _)| c)
            .filter(|c| c.device_id == device_id)
            .cloned()
            .collect();
        v.sort_by_key(|c| c.created_at);
        v
    }
}

/// A canonical lowercase 36-character UUID v4 (§13).
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> CommandBook {
        CommandBook::new(10_000, 8)
    }

    #[test]
    fn online_command_is_sent_and_replied() {
        let mut b = book();
        let c = b.create(
            "u1".into(),
            "9277",
            Bytes::from_static(b"{\"led\":1}"),
            0,
            0,
            true,
            1000,
        );
        assert_eq!(c.status, CommandStatus::Sent);
        assert_eq!(c.sent_at, Some(1000));
        // another device cannot answer it
        assert!(matches!(
            b.on_reply("9278", "u1", Bytes::new(), 1100),
            ReplyOutcome::Ignored(_)
        ));
        let ReplyOutcome::Completed(c) = b.on_reply("9277", "u1", Bytes::from_static(b"ok"), 1200)
        else {
            panic!()
        };
        assert_eq!(c.status, CommandStatus::Replied);
        assert_eq!(c.reply.as_deref(), Some(&b"ok"[..]));
        // first reply wins
        assert!(matches!(
            b.on_reply("9277", "u1", Bytes::from_static(b"again"), 1300),
            ReplyOutcome::Ignored(_)
        ));
        assert!(b.tick(1_000_000).is_empty());
    }

    #[test]
    fn offline_only_online_fails_with_status_0() {
        let mut b = book();
        let c = b.create("u".into(), "9277", Bytes::new(), 0, 0, false, 0);
        assert_eq!(c.status, CommandStatus::DeviceOffline);
        assert!(b.get("u").is_none());
    }

    #[test]
    fn offline_command_waits_for_login_within_validity() {
        let mut b = book();
        let c = b.create("u".into(), "9277", Bytes::new(), 60, 0, false, 0);
        assert_eq!(c.status, CommandStatus::Created);
        assert_eq!(c.expire_at, Some(60_000));
        assert!(b.on_login("9278", 100).is_empty());
        let sent = b.on_login("9277", 30_000);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].status, CommandStatus::Sent);
        // response window runs from sending
        assert!(b.tick(39_999).is_empty());
        let t = b.tick(40_000);
        assert_eq!(t[0].status, CommandStatus::Timeout);
    }

    #[test]
    fn expired_offline_command_fails_and_big_reply_is_status_6() {
        let mut b = book();
        b.create("u".into(), "9277", Bytes::new(), 1, 0, false, 0);
        assert_eq!(b.next_deadline(), Some(1000));
        let t = b.tick(1000);
        assert_eq!(t[0].status, CommandStatus::SendFailed);
        assert!(b.on_login("9277", 2000).is_empty());
        b.create("v".into(), "9277", Bytes::new(), 0, 0, true, 0);
        let ReplyOutcome::Completed(c) = b.on_reply("9277", "v", Bytes::from(vec![0u8; 9]), 1)
        else {
            panic!()
        };
        assert_eq!(c.status, CommandStatus::ReplyTooLarge);
        assert_eq!(c.reply, None);
    }

    #[test]
    fn qos1_is_resent_at_each_login_while_valid_and_qos0_is_not() {
        let mut b = book(); // window 10 s
        let one = b.create("q1".into(), "9277", Bytes::new(), 60, 1, true, 0);
        let zero = b.create("q0".into(), "9277", Bytes::new(), 60, 0, true, 0);
        assert_eq!((one.sends.count, zero.sends.count), (1, 1));
        // past the window: qos 0 times out, qos 1 stays sent
        let t = b.tick(10_000);
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].uuid.as_str(), t[0].status),
            ("q0", CommandStatus::Timeout)
        );
        assert_eq!(b.get("q1").unwrap().status, CommandStatus::Sent);
        // another device's login resends nothing; the device's own login resends qos 1 only
        assert!(b.on_login("9278", 20_000).is_empty());
        let again = b.on_login("9277", 20_000);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].uuid, "q1");
        assert_eq!(again[0].sent_at, Some(20_000));
        assert_eq!(
            again[0].sends,
            SendLog {
                count: 2,
                recent: vec![
                    CommandSend { at: 0, pid: None },
                    CommandSend {
                        at: 20_000,
                        pid: None
                    }
                ]
            }
        );
        // a reply after the first window still completes it
        let ReplyOutcome::Completed(c) =
            b.on_reply("9277", "q1", Bytes::from_static(b"ok"), 25_000)
        else {
            panic!()
        };
        assert_eq!(c.status, CommandStatus::Replied);
        assert_eq!(c.sends.count, 2);
        assert!(b.on_login("9277", 30_000).is_empty());
    }

    #[test]
    fn qos1_stops_when_the_validity_and_the_last_window_are_over() {
        let mut b = book();
        b.create("q".into(), "9277", Bytes::new(), 60, 1, true, 0);
        // sent again just before the validity ends: its window runs past it
        assert_eq!(b.on_login("9277", 59_000).len(), 1);
        assert_eq!(b.next_deadline(), Some(69_000));
        // validity over: a login no longer resends it
        assert!(b.on_login("9277", 60_000).is_empty());
        assert!(b.tick(68_999).is_empty());
        let t = b.tick(69_000);
        assert_eq!(t[0].status, CommandStatus::Timeout);
        assert_eq!(t[0].sends.count, 2);
        // validity 0: resent only at a login within the window of the last send
        b.create("z".into(), "9277", Bytes::new(), 0, 1, true, 100_000);
        assert_eq!(b.on_login("9277", 105_000).len(), 1);
        assert_eq!(b.tick(115_000)[0].status, CommandStatus::Timeout);
    }

    #[test]
    fn window_change_keeps_deadlines_findable_and_send_log_is_bounded() {
        let mut b = book();
        b.create("q".into(), "9277", Bytes::new(), 0, 0, true, 0);
        b.set_limits(1_000, 8);
        assert!(matches!(
            b.on_reply("9277", "q", Bytes::new(), 500),
            ReplyOutcome::Completed(_)
        ));
        assert_eq!(b.next_deadline(), None);
        let mut log = SendLog::default();
        for at in 0..(SENDS_KEPT as i64 + 5) {
            log.push(CommandSend { at, pid: None });
        }
        assert_eq!(log.count as usize, SENDS_KEPT + 5);
        assert_eq!(log.recent.len(), SENDS_KEPT);
        assert_eq!(log.recent[0].at, 5);
    }

    #[test]
    fn uuids_are_canonical_v4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_eq!(u, u.to_lowercase());
    }
}
