//! Topic names, topic filters and subscription matching (§4.7).
//!
//! Names and filters are validated once, when built, so that matching and
//! routing in the broker can assume well-formed input and stay allocation
//! free. Validation errors point at the offending byte so that a decode
//! error can be reported at its exact position in the packet.
//!
//! Matching follows §4.7.1 – §4.7.2: levels are separated by '/', empty
//! levels are levels ("/a" has the levels "" and "a"), '+' matches exactly one
//! level, '#' matches its own level and everything below, including the
//! parent ("sport/#" matches "sport"), and topics starting with '$' are not
//! matched by filters starting with a wildcard [MQTT-4.7.2-1].

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// Longest topic: it is a UTF-8 string with a u16 length prefix [MQTT-4.7.3-3].
pub const MAX_TOPIC_LEN: usize = u16::MAX as usize;

/// Why a string is not a valid topic name or filter. Every variant names the
/// normative statement it breaks; `at` is a byte index into the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("[MQTT-4.7.3-1] topic is empty; it must be at least one character long")]
    Empty,
    #[error("[MQTT-4.7.3-3] topic is {len} bytes; at most 65535 are allowed")]
    TooLong { len: usize },
    #[error("[MQTT-4.7.3-2] topic contains U+0000 at byte {at}")]
    NullChar { at: usize },
    #[error(
        "[MQTT-3.3.2-2] topic name contains wildcard '{ch}' at byte {at}; wildcards are only allowed in filters"
    )]
    WildcardInName { at: usize, ch: char },
    #[error("[MQTT-4.7.1-2] '#' at byte {at} must be the last character and occupy a whole level")]
    MultiLevelWildcard { at: usize },
    #[error("[MQTT-4.7.1-3] '+' at byte {at} must occupy a whole level")]
    SingleLevelWildcard { at: usize },
}

impl TopicError {
    /// The normative statement that was violated, e.g. "MQTT-4.7.1-2".
    pub fn rule(&self) -> &'static str {
        match self {
            TopicError::Empty => "MQTT-4.7.3-1",
            TopicError::TooLong { .. } => "MQTT-4.7.3-3",
            TopicError::NullChar { .. } => "MQTT-4.7.3-2",
            TopicError::WildcardInName { .. } => "MQTT-3.3.2-2",
            TopicError::MultiLevelWildcard { .. } => "MQTT-4.7.1-2",
            TopicError::SingleLevelWildcard { .. } => "MQTT-4.7.1-3",
        }
    }

    /// Byte index of the offending character, if there is one.
    pub fn at(&self) -> Option<usize> {
        match self {
            TopicError::Empty | TopicError::TooLong { .. } => None,
            TopicError::NullChar { at }
            | TopicError::WildcardInName { at, .. }
            | TopicError::MultiLevelWildcard { at }
            | TopicError::SingleLevelWildcard { at } => Some(*at),
        }
    }

    /// What is wrong, without rule or position (used inside decode errors).
    pub fn problem(&self) -> String {
        match self {
            TopicError::Empty => "is empty".into(),
            TopicError::TooLong { len } => format!("is {len} bytes, more than 65535"),
            TopicError::NullChar { .. } => "contains U+0000".into(),
            TopicError::WildcardInName { ch, .. } => format!("contains wildcard '{ch}'"),
            TopicError::MultiLevelWildcard { .. } => {
                "has a '#' that is not the whole last level".into()
            }
            TopicError::SingleLevelWildcard { .. } => "has a '+' that is not a whole level".into(),
        }
    }
}

/// Checks shared by names and filters (§4.7.3), then `per_byte` on each byte
/// in order so the first problem is the one reported.
fn validate(
    s: &str,
    mut per_byte: impl FnMut(usize, u8, &[u8]) -> Result<(), TopicError>,
) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong { len: s.len() });
    }
    let bytes = s.as_bytes();
    for (at, &b) in bytes.iter().enumerate() {
        if b == 0 {
            return Err(TopicError::NullChar { at });
        }
        per_byte(at, b, bytes)?;
    }
    Ok(())
}

/// True if the byte at `at` starts a level (first byte or right after '/').
fn starts_level(bytes: &[u8], at: usize) -> bool {
    at == 0 || bytes.get(at - 1) == Some(&b'/')
}

macro_rules! topic_string_type {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Hash/Eq/Ord are the derived ones of the inner `String`, so
        /// borrowing as `str` for map lookups is consistent.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = TopicError;
            fn from_str(s: &str) -> Result<Self, TopicError> {
                $name::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TopicError;
            fn try_from(s: String) -> Result<Self, TopicError> {
                $name::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = TopicError;
            fn try_from(s: &str) -> Result<Self, TopicError> {
                $name::new(s)
            }
        }
    };
}

/// A topic name as used in PUBLISH and the Will (§4.7): non-empty
/// [MQTT-4.7.3-1], no wildcards [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2],
/// at most 65535 bytes [MQTT-4.7.3-3].
///
/// Shared (`Arc<str>`): the broker hands the same topic to every subscriber of a message, and a clone is
/// a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(std::sync::Arc<str>);

impl TopicName {
    pub fn new(s: impl Into<String>) -> Result<TopicName, TopicError> {
        TopicName::from_ref(&s.into())
    }

    /// Validates `s` and copies it once, into the shared allocation.
    pub fn from_ref(s: &str) -> Result<TopicName, TopicError> {
        validate(s, |at, b, _| match b {
            b'+' | b'#' => Err(TopicError::WildcardInName {
                at,
                ch: char::from(b),
            }),
            _ => Ok(()),
        })?;
        Ok(TopicName(std::sync::Arc::from(s)))
    }

    /// The same shared topic (one decoded string handed on), not just an equal one: a test that
    /// costs no string comparison.
    pub fn same(&self, other: &TopicName) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

topic_string_type!(TopicName);

/// A topic filter as used in SUBSCRIBE/UNSUBSCRIBE (§4.7): non-empty
/// [MQTT-4.7.3-1], '#' only as the whole last level [MQTT-4.7.1-2], '+' only
/// as a whole level [MQTT-4.7.1-3], no U+0000, at most 65535 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(String);

impl TopicFilter {
    pub fn new(s: impl Into<String>) -> Result<TopicFilter, TopicError> {
        let s = s.into();
        validate(&s, |at, b, bytes| match b {
            b'#' if !starts_level(bytes, at) || at + 1 != bytes.len() => {
                Err(TopicError::MultiLevelWildcard { at })
            }
            b'+' if !starts_level(bytes, at) || !matches!(bytes.get(at + 1), None | Some(b'/')) => {
                Err(TopicError::SingleLevelWildcard { at })
            }
            _ => Ok(()),
        })?;
        Ok(TopicFilter(s))
    }

    /// A filter whose only fault is a `+`/`#` that is not a whole level, kept so that a profile can refuse
    /// it alone (`DecodeOptions::lenient_wildcards`). Never to be matched against: the caller refuses it.
    pub(crate) fn misplaced_wildcard(s: String) -> TopicFilter {
        TopicFilter(s)
    }

    /// True if the filter contains '+' or '#', i.e. can match more than one name.
    pub fn has_wildcards(&self) -> bool {
        self.0.bytes().any(|b| b == b'+' || b == b'#')
    }

    /// Same as [`fn@matches`]`(self, topic)`.
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches(self, topic)
    }
}

topic_string_type!(TopicFilter);

/// Whether `topic` is matched by `filter` (§4.7.1, §4.7.2). Allocation free.
pub fn matches(filter: &TopicFilter, topic: &TopicName) -> bool {
    let f = filter.as_str();
    let t = topic.as_str();
    // [MQTT-4.7.2-1]: "$SYS/x" is not matched by "#" or "+/x", only by
    // filters that spell out the '$' level.
    if t.starts_with('$') && (f.starts_with('+') || f.starts_with('#')) {
        return false;
    }
    // Levels split on the byte '/' (never part of a multi-byte UTF-8 sequence): the `str` splitter's
    // searcher was 1.7 % of the broker's samples routing to a wildcard subscriber.
    let mut topic_levels = t.as_bytes().split(|&b| b == b'/');
    for level in f.as_bytes().split(|&b| b == b'/') {
        if level == b"#" {
            // Validation guarantees '#' is the last level; it also matches
            // the parent, so it does not need a topic level of its own.
            return true;
        }
        match topic_levels.next() {
            Some(t_level) if level == b"+" || level == t_level => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}
