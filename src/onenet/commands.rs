//! Platform commands (spec §7): `$creq/{uuid}` down at QoS 0, `$crsp/{uuid}` back at any QoS, status 0–6
//! exactly as §7.2, offline commands with a validity, a response window, a reply size limit.
//!
//! Pure: the router owns a [`CommandBook`], feeds it the clock and events (send, login, reply, tick) and
//! carries out what it returns (publish the request, persist the new state, emit an event).

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use serde::Serialize;

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
#[derive(Debug)]
pub struct CommandBook {
    live: HashMap<String, Command>,
    /// (deadline, uuid): response window for sent commands, validity for created ones.
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
            CommandStatus::Sent => c.sent_at.map(|t| t + self.window_ms),
            CommandStatus::Created => c.expire_at,
            _ => None,
        }
    }

    fn insert(&mut self, c: Command) {
        if let Some(d) = self.deadline_of(&c) {
            self.deadlines.insert((d, c.uuid.clone()));
        }
        self.live.insert(c.uuid.clone(), c);
    }

    fn remove(&mut self, uuid: &str) -> Option<Command> {
        let c = self.live.remove(uuid)?;
        if let Some(d) = self.deadline_of(&c) {
            self.deadlines.remove(&(d, c.uuid.clone()));
        }
        Some(c)
    }

    /// Restores a live command loaded from the store.
    pub fn restore(&mut self, c: Command) {
        if !c.status.is_final() {
            self.insert(c);
        }
    }

    /// Creates a command. `online`: the device is connected now. The returned command is `Sent` (publish it
    /// now), `Created` (deliver at login) or `DeviceOffline` (final).
    pub fn create(
        &mut self,
        uuid: String,
        device_id: &str,
        body: Bytes,
        validity_s: u32,
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
        };
        if online {
            c.status = CommandStatus::Sent;
            c.sent_at = Some(now);
        } else if validity_s == 0 {
            c.status = CommandStatus::DeviceOffline;
        }
        if !c.status.is_final() {
            self.insert(c.clone());
        }
        c
    }

    /// The device connected: its created commands still valid become `Sent` (publish them, oldest first).
    pub fn on_login(&mut self, device_id: &str, now: i64) -> Vec<Command> {
        let mut due: Vec<String> = self
            .live
            .values()
            .filter(|c| c.device_id == device_id && c.status == CommandStatus::Created)
            .filter(|c| c.expire_at.is_none_or(|e| e > now))
            .map(|c| c.uuid.clone())
            .collect();
        due.sort_by_key(|u| self.live.get(u).map(|c| c.created_at));
        due.into_iter()
            .filter_map(|u| {
                let mut c = self.remove(&u)?;
                c.status = CommandStatus::Sent;
                c.sent_at = Some(now);
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
        match self.live.get(uuid) {
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
        self.live.get(uuid)
    }

    /// Live commands of a device (created or sent).
    pub fn live_of(&self, device_id: &str) -> Vec<Command> {
        let mut v: Vec<Command> = self
            .live
            .values()
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
        let c = b.create("u".into(), "9277", Bytes::new(), 0, false, 0);
        assert_eq!(c.status, CommandStatus::DeviceOffline);
        assert!(b.get("u").is_none());
    }

    #[test]
    fn offline_command_waits_for_login_within_validity() {
        let mut b = book();
        let c = b.create("u".into(), "9277", Bytes::new(), 60, false, 0);
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
        b.create("u".into(), "9277", Bytes::new(), 1, false, 0);
        assert_eq!(b.next_deadline(), Some(1000));
        let t = b.tick(1000);
        assert_eq!(t[0].status, CommandStatus::SendFailed);
        assert!(b.on_login("9277", 2000).is_empty());
        b.create("v".into(), "9277", Bytes::new(), 0, true, 0);
        let ReplyOutcome::Completed(c) = b.on_reply("9277", "v", Bytes::from(vec![0u8; 9]), 1)
        else {
            panic!()
        };
        assert_eq!(c.status, CommandStatus::ReplyTooLarge);
        assert_eq!(c.reply, None);
    }

    #[test]
    fn uuids_are_canonical_v4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_eq!(u, u.to_lowercase());
    }
}
