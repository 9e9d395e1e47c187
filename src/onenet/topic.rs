//! OneNET topic rules (spec §8.1, §5, §6, §7.1): what a device may subscribe to, and what a topic it
//! publishes to means.

/// Longest topic the platform accepts (create-topic API, §8.4).
pub const MAX_TOPIC_LEN: usize = 1024;

/// Why a SUBSCRIBE filter is refused with 0x80 in the `onenet` profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterRefusal {
    #[error("topics starting with '$' are reserved and cannot be subscribed (§8.1)")]
    Reserved,
    #[error("wildcards '+' and '#' are not supported by OneNET (§8.1)")]
    Wildcard,
    #[error("character {0:?} is outside OneNET's topic charset [A-Za-z0-9_/] (§8.1)")]
    Charset(char),
    #[error("topic is {0} bytes long; OneNET allows at most 1024 (§8.4)")]
    TooLong(usize),
}

/// Checks a SUBSCRIBE filter against the `onenet` profile's rules.
pub fn check_filter(filter: &str) -> Result<(), FilterRefusal> {
    if filter.starts_with('$') {
        return Err(FilterRefusal::Reserved);
    }
    if filter.contains(['+', '#']) {
        return Err(FilterRefusal::Wildcard);
    }
    if filter.len() > MAX_TOPIC_LEN {
        return Err(FilterRefusal::TooLong(filter.len()));
    }
    if let Some(c) = filter
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '/'))
    {
        return Err(FilterRefusal::Charset(c));
    }
    Ok(())
}

/// A datapoint-subscription topic `/{device_id}/{stream}` (§10): the device id and the stream name, when
/// `filter` has that shape (a device id of `[A-Za-z0-9_]`, a non-empty stream). The stream is whatever
/// follows the second `/`, so a name with `/` in it works too.
pub fn datapoint_topic(filter: &str) -> Option<(&str, &str)> {
    let (device, stream) = filter.strip_prefix('/')?.split_once('/')?;
    let id_ok = !device.is_empty()
        && device
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    (id_ok && !stream.is_empty()).then_some((device, stream))
}

/// Checks a SUBSCRIBE filter in the `onenet` profile: [`check_filter`]'s rules, except that a datapoint
/// topic (`/{device_id}/{stream}`, §10) takes every stream name `$dp` accepts (`pm2.5`, `温度`,
/// `temp-1`): the §8.1 charset is about device topics, and §6.5's own example stream is `pm2.5`.
/// Reserved (`$`) topics, wildcards and the length limit still apply.
pub fn check_subscription(filter: &str) -> Result<(), FilterRefusal> {
    match check_filter(filter) {
        Err(FilterRefusal::Charset(_)) if datapoint_topic(filter).is_some() => Ok(()),
        other => other,
    }
}

/// What a PUBLISH from a device addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishTarget<'a> {
    /// `$dp`: datapoint upload (§6).
    Datapoints,
    /// `$crsp/{uuid}`: reply to a platform command (§7.1).
    CommandReply { uuid: &'a str },
    /// Any other `$` topic: reserved, not routed.
    Reserved,
    /// A device topic, routed to subscribers of the same product.
    Device,
}

pub fn classify_publish(topic: &str) -> PublishTarget<'_> {
    if topic == "$dp" {
        PublishTarget::Datapoints
    } else if let Some(uuid) = topic.strip_prefix("$crsp/") {
        PublishTarget::CommandReply { uuid }
    } else if topic.starts_with('$') {
        PublishTarget::Reserved
    } else {
        PublishTarget::Device
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(check_filter("/topic_test"), Ok(()));
        assert_eq!(check_filter("test_observe_data"), Ok(()));
        assert_eq!(check_filter("$creq/x"), Err(FilterRefusal::Reserved));
        assert_eq!(check_filter("a/+"), Err(FilterRefusal::Wildcard));
        assert_eq!(check_filter("#"), Err(FilterRefusal::Wildcard));
        assert_eq!(check_filter("a b"), Err(FilterRefusal::Charset(' ')));
        assert_eq!(check_filter("温度"), Err(FilterRefusal::Charset('温')));
        assert_eq!(
            check_filter(&"a".repeat(1025)),
            Err(FilterRefusal::TooLong(1025))
        );
    }

    #[test]
    fn datapoint_topics_take_any_stream_name() {
        for f in [
            "/9277/pm2.5",
            "/9277/温度",
            "/9277/temp-1",
            "/9277/a b",
            "/9277/x/y",
        ] {
            assert_eq!(check_subscription(f), Ok(()), "{f}");
        }
        assert_eq!(datapoint_topic("/9277/pm2.5"), Some(("9277", "pm2.5")));
        assert_eq!(
            check_subscription("/温度"),
            Err(FilterRefusal::Charset('温'))
        );
        assert_eq!(
            check_subscription("/92-77/t"),
            Err(FilterRefusal::Charset('-'))
        );
        assert_eq!(check_subscription("/9277/a+"), Err(FilterRefusal::Wildcard));
        assert_eq!(check_subscription("$dp/x"), Err(FilterRefusal::Reserved));
        // The create-topic rule is unchanged.
        assert_eq!(
            check_filter("/9277/pm2.5"),
            Err(FilterRefusal::Charset('.'))
        );
    }

    #[test]
    fn publish_targets() {
        assert_eq!(classify_publish("$dp"), PublishTarget::Datapoints);
        assert_eq!(
            classify_publish("$crsp/81572aae-fc34-5deb-8f06-ab45d73cb12b"),
            PublishTarget::CommandReply {
                uuid: "81572aae-fc34-5deb-8f06-ab45d73cb12b"
            }
        );
        assert_eq!(classify_publish("$creq/x"), PublishTarget::Reserved);
        assert_eq!(classify_publish("/topic_test"), PublishTarget::Device);
    }
}
