//! Topic name/filter validation (§4.7.1, §4.7.3) and matching (§4.7).

use super::{filter, name};
use crate::mqtt::{TopicError, TopicFilter, TopicName, matches};

#[test]
fn topic_name_validation() {
    let long = "a".repeat(65_536);
    let cases: &[(&str, Result<(), TopicError>)] = &[
        ("a", Ok(())),
        ("/", Ok(())),
        ("//", Ok(())),
        ("$SYS/broker", Ok(())),
        ("$dp", Ok(())),
        ("温度/传感器", Ok(())),
        ("a b", Ok(())),
        ("", Err(TopicError::Empty)),
        ("a/+", Err(TopicError::WildcardInName { at: 2, ch: '+' })),
        ("#", Err(TopicError::WildcardInName { at: 0, ch: '#' })),
        ("a#b", Err(TopicError::WildcardInName { at: 1, ch: '#' })),
        ("a\0b", Err(TopicError::NullChar { at: 1 })),
        (&long, Err(TopicError::TooLong { len: 65_536 })),
    ];
    for (s, expected) in cases {
        let got = TopicName::new(*s).map(|_| ());
        assert_eq!(&got, expected, "{s:?}");
    }
    assert!(TopicName::new("a".repeat(65_535)).is_ok());
}

#[test]
fn topic_filter_validation() {
    let cases: &[(&str, Result<(), TopicError>)] = &[
        ("a", Ok(())),
        ("#", Ok(())),
        ("+", Ok(())),
        ("/", Ok(())),
        ("a/#", Ok(())),
        ("/#", Ok(())),
        ("+/+", Ok(())),
        ("/+", Ok(())),
        ("+/", Ok(())),
        ("a/+/c", Ok(())),
        ("+/#", Ok(())),
        ("$SYS/#", Ok(())),
        ("", Err(TopicError::Empty)),
        ("a#", Err(TopicError::MultiLevelWildcard { at: 1 })),
        ("a/#/b", Err(TopicError::MultiLevelWildcard { at: 2 })),
        ("#/", Err(TopicError::MultiLevelWildcard { at: 0 })),
        ("##", Err(TopicError::MultiLevelWildcard { at: 0 })),
        ("a+", Err(TopicError::SingleLevelWildcard { at: 1 })),
        ("+a", Err(TopicError::SingleLevelWildcard { at: 0 })),
        ("a/b+/c", Err(TopicError::SingleLevelWildcard { at: 3 })),
        ("++", Err(TopicError::SingleLevelWildcard { at: 0 })),
        ("a\0", Err(TopicError::NullChar { at: 1 })),
    ];
    for (s, expected) in cases {
        let got = TopicFilter::new(*s).map(|_| ());
        assert_eq!(&got, expected, "{s:?}");
    }
}

#[test]
fn topic_error_rules_and_messages() {
    let e = TopicFilter::new("a/#/b").expect_err("invalid");
    assert_eq!(e.rule(), "MQTT-4.7.1-2");
    assert_eq!(e.at(), Some(2));
    assert_eq!(
        e.to_string(),
        "[MQTT-4.7.1-2] '#' at byte 2 must be the last character and occupy a whole level"
    );
    assert_eq!(TopicFilter::new("a+").expect_err("").rule(), "MQTT-4.7.1-3");
    assert_eq!(TopicName::new("").expect_err("").rule(), "MQTT-4.7.3-1");
    assert_eq!(TopicName::new("+").expect_err("").rule(), "MQTT-3.3.2-2");
    assert_eq!(TopicName::new("\0").expect_err("").rule(), "MQTT-4.7.3-2");
    assert_eq!(
        TopicName::new("x".repeat(70_000)).expect_err("").rule(),
        "MQTT-4.7.3-3"
    );
}

#[test]
fn has_wildcards() {
    assert!(!filter("a/b").has_wildcards());
    assert!(filter("a/+").has_wildcards());
    assert!(filter("#").has_wildcards());
    assert!(!filter("$dp").has_wildcards());
}

#[test]
fn matching_table() {
    // (filter, topic, matches)
    let cases: &[(&str, &str, bool)] = &[
        // Exact.
        ("a/b", "a/b", true),
        ("a/b", "a/c", false),
        ("a/b", "a/b/c", false),
        ("a/b/c", "a/b", false),
        ("a", "A", false),
        // '+' is exactly one level.
        ("a/+", "a/b", true),
        ("a/+", "a/", true),
        ("a/+", "a", false),
        ("a/+", "a/b/c", false),
        ("+/+", "/a", true),
        ("+", "/a", false),
        ("/+", "/a", true),
        ("+", "a", true),
        ("+/b/+", "x/b/y", true),
        ("+/b/+", "x/c/y", false),
        // '#' is this level and everything below, including the parent.
        ("#", "a", true),
        ("#", "a/b/c", true),
        ("#", "/", true),
        ("sport/#", "sport", true),
        ("sport/#", "sport/", true),
        ("sport/#", "sport/tennis/player1", true),
        ("sport/#", "sports", false),
        ("sport/tennis/#", "sport/tennis", true),
        ("sport/tennis/#", "sport", false),
        ("+/#", "a", true),
        ("+/#", "a/b/c", true),
        ("/#", "/a", true),
        ("/#", "a", false),
        // Empty levels are levels.
        ("/", "/", true),
        ("+/+", "/", true),
        ("+", "/", false),
        ("a//b", "a//b", true),
        ("a/+/b", "a//b", true),
        // '$' topics: not matched by a leading wildcard [MQTT-4.7.2-1].
        ("#", "$SYS/x", false),
        ("+/x", "$SYS/x", false),
        ("+", "$dp", false),
        ("$SYS/#", "$SYS/x", true),
        ("$SYS/#", "$SYS", true),
        ("$SYS/+", "$SYS/x", true),
        ("$dp", "$dp", true),
        ("a/#", "a/$x", true),
        ("a/+", "a/$x", true),
        // Multi-byte UTF-8 levels split only at '/'.
        ("温度/+", "温度/房间", true),
        ("温度/#", "温度", true),
        ("+/é", "x/é", true),
        ("+/é", "x/e", false),
    ];
    for &(f, t, expected) in cases {
        assert_eq!(matches(&filter(f), &name(t)), expected, "{f:?} vs {t:?}");
        assert_eq!(filter(f).matches(&name(t)), expected);
    }
}

#[test]
fn conversions() {
    let n: TopicName = "a/b".parse().expect("valid");
    assert_eq!(n.as_str(), "a/b");
    assert_eq!(n.to_string(), "a/b");
    assert_eq!(TopicName::try_from(String::from("x")), Ok(name("x")));
    assert!(TopicFilter::try_from("a#").is_err());
    let mut set = std::collections::HashSet::new();
    set.insert(filter("a/+"));
    assert!(set.contains("a/+"), "Borrow<str> lookups");
    assert_eq!(filter("#").into_string(), "#");
}
