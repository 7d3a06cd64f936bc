//! Human units on the command line: durations (`30s`, `5m`, `24h`, `1h30m`, bare seconds) and sizes.

use std::time::Duration;

/// Parse `90`, `30s`, `5m`, `24h`, `7d`, `1h30m`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{s:?}: expected a number like 30s, 5m, 24h"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" | "sec" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86400),
            _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m, h, d)")),
        };
        total += d;
    }
    Ok(total)
}

/// A duration as the operator wrote it: compared as a [`Duration`], echoed as given (`24h` stays `24h`,
/// never `1d`), so a message quotes the flag's value back. A clap `value_parser` for duration flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenDuration {
    pub value: Duration,
    pub text: String,
}

impl GivenDuration {
    pub fn parse(s: &str) -> Result<GivenDuration, String> {
        Ok(GivenDuration { value: parse_duration(s)?, text: s.trim().to_owned() })
    }

    /// For values that did not come from a person (defaults in code, tests): seconds as `90s`.
    pub fn secs(secs: u64) -> GivenDuration {
        GivenDuration { value: Duration::from_secs(secs), text: format!("{secs}s") }
    }
}

impl std::str::FromStr for GivenDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GivenDuration::parse(s)
    }
}

impl std::fmt::Display for GivenDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `1.5 GiB`, `512 B`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[i]) }
}

/// A UTC calendar date and time of day, from seconds since 1970, without a date library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    pub fn from_unix(unix: i64) -> Utc {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// `2026-11-27T07:31:39Z`, for files and JSON.
    pub fn rfc3339(&self) -> String {
        let Utc { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }

    /// `2026-11-27 07:31:39 UTC`, for people.
    pub fn human(&self) -> String {
        let Utc { year, month, day, hour, minute, second } = self;
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
    }
}

/// "1 reboot", "2 reboots", "0 groups": the count with the word that agrees with it.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates() {
        assert_eq!(Utc::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Utc::from_unix(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Utc::from_unix(1_795_764_699).human(), "2026-11-27 07:31:39 UTC");
        assert_eq!(Utc::from_unix(-1).rfc3339(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
    }

    #[test]
    fn counts_agree() {
        assert_eq!(count(1, "reboot", "reboots"), "1 reboot");
        assert_eq!(count(0, "group", "groups"), "0 groups");
        assert_eq!(count(2, "entry", "entries"), "2 entries");
    }

    #[test]
    fn durations_are_echoed_as_given() {
        let d = GivenDuration::parse("24h").unwrap();
        assert_eq!((d.value, d.to_string()), (Duration::from_secs(86400), "24h".to_owned()));
        assert_eq!(GivenDuration::parse("1440m").unwrap().to_string(), "1440m");
        assert!(GivenDuration::parse("1 fortnight").is_err());
    }
}
