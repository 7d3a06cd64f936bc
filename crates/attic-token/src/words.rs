//! Times and server answers put in words for an operator.

use crate::token::{Parsed, TimeStatus, time_status};
use homey_kit::Exit;

/// `2026-11-27 07:31:39 UTC`.
pub fn utc(unix: i64) -> String {
    homey_kit::units::Utc::from_unix(unix).human()
}

/// `3 months`, `2 days`, `5 minutes`: the largest unit that fits, rounded down.
pub fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (n, unit) = [(31_557_600, "year"), (2_630_016, "month"), (86_400, "day"), (3600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| s >= *size)
        .map(|(size, unit)| (s / size, unit))
        .unwrap_or((s, "second"));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `expires 2027-02-26 … (in 3 months)` / `expired … (2 days ago)` / `not valid before …`.
pub fn validity(parsed: &Parsed, now: i64) -> String {
    let c = &parsed.claims;
    let expires = |exp: Option<i64>| match exp {
        Some(exp) => format!("expires {}", utc(exp)),
        None => "never expires (no \"exp\")".to_owned(),
    };
    match time_status(c, now) {
        TimeStatus::Expired => {
            let exp = c.exp.unwrap_or(now);
            format!("EXPIRED at {} ({} ago)", utc(exp), span(now - exp))
        }
        TimeStatus::NotYetValid => {
            let from = c.nbf.into_iter().chain(c.iat).max().unwrap_or(now);
            format!("NOT YET VALID: valid from {} (in {}), {}", utc(from), span(from - now), expires(c.exp))
        }
        TimeStatus::Valid => match c.exp {
            Some(exp) => format!("valid, expires {} (in {})", utc(exp), span(exp - now)),
            None => format!("valid, {}", expires(None)),
        },
    }
}

/// What `GET /_api/v1/cache-config/CACHE` answered, in words, with the exit code it earns. The token,
/// read locally, narrows down why a request was refused.
pub fn check_answer(status: u16, cache: &str, token: Result<&Parsed, &str>, now: i64) -> (Exit, String) {
    let grant = token.ok().and_then(|p| p.claims.caches.lookup(cache));
    match status {
        200 => {
            let what = match grant {
                Some((pattern, perms)) => format!(" (granted by pattern {pattern:?}: {})", perms.words().join(", ")),
                None => " (the cache is public; the token itself grants nothing on it)".into(),
            };
            (Exit::Ok, format!("works: the server accepts the token for cache {cache:?}{what}"))
        }
        401 => {
            let why = match token {
                Err(e) => format!("the token is not one attic accepts: {e}"),
                Ok(p) if time_status(&p.claims, now) != TimeStatus::Valid => format!("the token is {}", validity(p, now)),
                Ok(_) if grant.is_none() => format!(
                    "the token grants nothing on cache {cache:?}, so the server treats the request as anonymous and the cache is private"
                ),
                Ok(_) => "the server rejects the token: it was signed with another key than the server's (or the server binds tokens to an issuer or audience this one lacks)".into(),
            };
            (Exit::Failed, format!("refused (401 Unauthorized): {why}"))
        }
        403 => {
            let why = match grant {
                Some((pattern, perms)) => format!(
                    "the token's grant on {cache:?} (pattern {pattern:?}: {}) lacks pull, which reading the cache needs",
                    if perms.any() { perms.words().join(", ") } else { "nothing".into() }
                ),
                None => "the token has some permission on this cache but not pull".into(),
            };
            (Exit::Failed, format!("refused (403 Forbidden): the server accepts the token, but {why}"))
        }
        404 => (
            Exit::Failed,
            format!(
                "no such cache: the server has no cache named {cache:?} (the token may see it, so the server says so)"
            ),
        ),
        500..=599 => (Exit::Unavailable, format!("the server failed ({status}); try again later")),
        other => (Exit::Failed, format!("unexpected answer {other} from the server")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_803_647_288), "2027-02-26 13:08:08 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn spans() {
        assert_eq!(span(3 * 2_630_016), "3 months");
        assert_eq!(span(86_400), "1 day");
        assert_eq!(span(-120), "2 minutes");
        assert_eq!(span(5), "5 seconds");
    }
}
