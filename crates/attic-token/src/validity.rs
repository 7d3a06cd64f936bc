//! Token validity in atticadm's syntax, which is humantime's: `3 months`, `1y`, `90d`, `1.5h`,
//! `1month 2d`, `2wks`. atticadm parses `--validity` with `humantime::Duration`, so the grammar here is
//! that crate itself — units, fractions that must come out exact (`0.1M` is refused), `m` for minutes
//! and `M` for months, a month of 2,630,016 s and a year of 31,557,600 s, no bare numbers.

/// A validity as given and as whole seconds (atticadm's timestamps drop the fraction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    pub text: String,
    pub secs: u64,
}

const EXAMPLES: &str = "atticadm's syntax, e.g. 3 months, 1y, 90d, 12h; m = minutes, M = months";

pub fn parse_validity(text: &str) -> Result<Validity, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e} ({EXAMPLES})"))?;
    // atticadm would mint a token that expired as it was made; that is never what was meant.
    if d.as_secs() == 0 {
        return Err(format!("{text:?}: the validity must be at least one second"));
    }
    Ok(Validity { text: text.to_owned(), secs: d.as_secs() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONTH: u64 = 2_630_016;
    const YEAR: u64 = 31_557_600;
    const DAY: u64 = 86_400;

    /// Every form of humantime's grammar, as atticadm takes it: `Some(seconds)` accepted, `None` refused.
    const TABLE: &[(&str, Option<u64>)] = &[
        ("3 months", Some(3 * MONTH)),
        ("1y", Some(YEAR)),
        ("90d", Some(90 * DAY)),
        ("12h", Some(12 * 3600)),
        ("1.5h", Some(5400)),
        ("1month 2d", Some(MONTH + 2 * DAY)),
        ("10m", Some(600)),
        ("10M", Some(10 * MONTH)),
        ("2 weeks", Some(14 * DAY)),
        ("2wks", Some(14 * DAY)),
        ("1wk", Some(7 * DAY)),
        ("1w", Some(7 * DAY)),
        ("2yrs", Some(2 * YEAR)),
        ("1yr", Some(YEAR)),
        ("1 year", Some(YEAR)),
        ("1hr", Some(3600)),
        ("2hrs", Some(7200)),
        ("1h30m", Some(5400)),
        ("1hour 12min 5s", Some(4325)),
        ("30 seconds", Some(30)),
        ("30secs", Some(30)),
        ("5 mins", Some(300)),
        ("1500millis", Some(1)),
        ("2000msec", Some(2)),
        ("3000000usec", Some(3)),
        ("1000000000 nanos", Some(1)),
        ("1000000000ns", Some(1)),
        ("0.5d", Some(DAY / 2)),
        ("0.5M", Some(MONTH / 2)),
        ("1.25y", Some(YEAR + YEAR / 4)),
        ("  1d  ", Some(DAY)),
        // humantime runs the digits of one number together across spaces.
        ("1 2h", Some(12 * 3600)),
        // a fraction that does not come out in whole seconds (months, years, hours and up)
        ("0.1M", None),
        ("0.7M", None),
        ("0.3y", Some(9_467_280)),
        (".5h", None),
        ("1.h", None),
        ("90", None),
        ("1d 5", None),
        ("-1d", None),
        ("+1d", None),
        ("1 fortnight", None),
        ("1 mon", None),
        ("1Y", None),
        ("1D", None),
        ("1H", None),
        ("d", None),
        ("", None),
        ("   ", None),
        ("1d,2h", None),
        ("99999999999999999999y", None),
        // humantime's own: below one second, and zero; valid for atticadm, refused here (see parse_validity)
        ("0", None),
        ("0d", None),
        ("500ms", None),
    ];

    #[test]
    fn humantimes_grammar_form_by_form() {
        for (text, want) in TABLE {
            let got = parse_validity(text).map(|v| v.secs);
            match want {
                Some(secs) => assert_eq!(got, Ok(*secs), "{text:?}"),
                None => assert!(got.is_err(), "{text:?} should be refused, got {got:?}"),
            }
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(parse_validity("90").unwrap_err().contains("time unit needed"));
        assert!(parse_validity("3 fortnights").unwrap_err().contains("unknown time unit \"fortnights\""));
        assert!(parse_validity("0d").unwrap_err().contains("at least one second"));
        assert!(parse_validity("1y").is_ok_and(|v| v.text == "1y"));
    }
}
