//! A command's offline validity in the unit a person thinks in: seconds, minutes, hours or days (the
//! protocol carries seconds, up to 31 days).

/// A unit of validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    pub const ALL: [Unit; 4] = [Unit::Seconds, Unit::Minutes, Unit::Hours, Unit::Days];

    pub fn seconds(self) -> u32 {
        match self {
            Unit::Seconds => 1,
            Unit::Minutes => 60,
            Unit::Hours => 3600,
            Unit::Days => 86_400,
        }
    }

    /// The English short name (also the key of its translation).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Minutes => "min",
            Unit::Hours => "h",
            Unit::Days => "d",
        }
    }
}

/// The unit to show `secs` in: the one chosen, else the largest that divides it (seconds for 0).
pub fn unit_of(secs: u32, chosen: Option<Unit>) -> Unit {
    chosen.unwrap_or_else(|| {
        Unit::ALL
            .into_iter()
            .rev()
            .find(|u| secs > 0 && secs.is_multiple_of(u.seconds()))
            .unwrap_or(Unit::Seconds)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_show_a_validity_whole() {
        assert_eq!(unit_of(0, None), Unit::Seconds);
        assert_eq!(unit_of(90, None), Unit::Seconds);
        assert_eq!(unit_of(7200, None), Unit::Hours);
        assert_eq!(unit_of(172_800, None), Unit::Days);
        assert_eq!(unit_of(172_800, Some(Unit::Minutes)), Unit::Minutes);
    }
}
