//! Token validity in atticadm's syntax (humantime): `3 months`, `1y`, `90d`, `1.5h`, `1month 2d`.
//!
//! atticadm adds the parsed duration to "now" in whole seconds, so the units must be humantime's:
//! a month is 30.44 days (2,630,016 s), a year 365.25 days (31,557,600 s), and `m` means minutes while
//! `M` means months. A bare number is rejected, as atticadm rejects it.

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
const MONTH: f64 = 2_630_016.0;
const YEAR: f64 = 31_557_600.0;

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "nsec" | "ns" => 1e-9,
        "usec" | "us" | "µs" => 1e-6,
        "msec" | "ms" => 1e-3,
        "seconds" | "second" | "secs" | "sec" | "s" => 1.0,
        "minutes" | "minute" | "mins" | "min" | "m" => MINUTE,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "days" | "day" | "d" => DAY,
        "weeks" | "week" | "wk" | "w" => 7.0 * DAY,
        "months" | "month" | "M" => MONTH,
        "years" | "year" | "yr" | "y" => YEAR,
        _ => return None,
    })
}

/// The validity in whole seconds (fractions of a second are dropped, as atticadm's timestamps are).
pub fn parse_validity(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty validity (examples: 3 months, 1y, 90d, 12h)".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("{text:?}: expected a number at {rest:?} (examples: 3 months, 1y, 90d)"));
        }
        let number: f64 =
            rest[..num_len].parse().map_err(|_| format!("{text:?}: {:?} is not a number", &rest[..num_len]))?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!("{text:?}: a number needs a unit (examples: 3 months, 1y, 90d, 12h)"));
        }
        let per = unit_seconds(unit).ok_or_else(|| {
            format!("{text:?}: unknown unit {unit:?} (use s, m = minutes, h, d, w, M = months, y, or the words)")
        })?;
        total += number * per;
        rest = rest[unit_len..].trim_start();
    }
    if !total.is_finite() || total >= i64::MAX as f64 / 2.0 {
        return Err(format!("{text:?}: too long"));
    }
    let secs = total.floor() as u64;
    if secs == 0 {
        return Err(format!("{text:?}: the validity must be at least one second"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atticadm_units() {
        assert_eq!(parse_validity("3 months"), Ok(3 * 2_630_016));
        assert_eq!(parse_validity("1y"), Ok(31_557_600));
        assert_eq!(parse_validity("90d"), Ok(90 * 86_400));
        assert_eq!(parse_validity("1.5h"), Ok(5400));
        assert_eq!(parse_validity("1month 2d"), Ok(2_630_016 + 2 * 86_400));
        assert_eq!(parse_validity("10m"), Ok(600));
        assert_eq!(parse_validity("10M"), Ok(10 * 2_630_016));
        assert_eq!(parse_validity("2 weeks"), Ok(14 * 86_400));
    }

    #[test]
    fn refuses_bare_numbers_zero_and_nonsense() {
        assert!(parse_validity("90").unwrap_err().contains("needs a unit"));
        assert!(parse_validity("0d").unwrap_err().contains("at least one second"));
        assert!(parse_validity("500ms").unwrap_err().contains("at least one second"));
        assert!(parse_validity("-1d").is_err());
        assert!(parse_validity("3 fortnights").unwrap_err().contains("unknown unit"));
        assert!(parse_validity("").is_err());
        assert!(parse_validity("d").is_err());
    }
}
