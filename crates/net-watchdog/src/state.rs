//! What survives a reboot: the reboots asked for (the budget) and a short history of checks and
//! actions, so after a reboot anyone can read why it happened.
//!
//! Healthy checks every two minutes would mean hundreds of fsyncs a day on an SD card; runs of the
//! same outcome are therefore folded into one event and written at most once an hour.

use homey_kit::units::GivenDuration;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE: &str = "state.json";
const MAX_EVENTS: usize = 50;
const MAX_REBOOTS: usize = 50;
/// How stale a folded run of identical outcomes may get before it is written again.
pub const FOLD_REWRITE_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Healthy,
    Recovered,
    ProbeBroken,
    HeldBack,
    Reboot,
}

impl Kind {
    const ALL: [Kind; 5] = [Kind::Healthy, Kind::Recovered, Kind::ProbeBroken, Kind::HeldBack, Kind::Reboot];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::Recovered => "recovered",
            Kind::ProbeBroken => "probe-broken",
            Kind::HeldBack => "held-back",
            Kind::Reboot => "reboot",
        }
    }

    /// Outcomes that repeat every run while nothing changes.
    fn folds(self) -> bool {
        matches!(self, Kind::Healthy | Kind::ProbeBroken | Kind::HeldBack)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When this outcome was first seen (unix seconds).
    pub at: u64,
    /// When a run with the same outcome was last written (equal to `at` for a single event).
    pub last_at: u64,
    pub kind: Kind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reboot {
    pub at: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct State {
    pub version: u32,
    pub reboots: Vec<Reboot>,
    pub events: Vec<Event>,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Read the state; a missing file is a fresh start, a damaged one is bad input naming the field.
pub fn load(file: &Path) -> anyhow::Result<State> {
    use homey_kit::{Exit, ResultExt};
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State { version: 1, ..State::default() }),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", file.display()))),
    };
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display())).exit_code(Exit::BadInput)
}

pub fn parse(text: &str) -> Result<State, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let version = match obj.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
        Some(other) => return Err(format!("version: expected 1, found {other}")),
        None => return Err("version: missing".into()),
    };
    let list = |key: &str| -> Result<Vec<Value>, String> {
        match obj.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(other) => Err(format!("{key}: expected a list, found {other}")),
        }
    };
    let secs = |entry: &Value, at: &str, key: &str| -> Result<u64, String> {
        entry
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{at}.{key}: expected seconds since 1970, found {}", show(entry.get(key))))
    };
    let text = |entry: &Value, at: &str, key: &str| -> Result<String, String> {
        entry
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{at}.{key}: expected a string, found {}", show(entry.get(key))))
    };
    let mut state = State { version, ..State::default() };
    for (i, r) in list("reboots")?.iter().enumerate() {
        let at = format!("reboots[{i}]");
        state.reboots.push(Reboot { at: secs(r, &at, "at")?, reason: text(r, &at, "reason")? });
    }
    for (i, e) in list("events")?.iter().enumerate() {
        let at = format!("events[{i}]");
        let kind_name = text(e, &at, "kind")?;
        let kind = Kind::ALL.into_iter().find(|k| k.name() == kind_name).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!("{at}.kind: {kind_name:?} is not one of {}", names.join(", "))
        })?;
        let first = secs(e, &at, "at")?;
        let last = secs(e, &at, "last_at")?;
        state.events.push(Event { at: first, last_at: last, kind, detail: text(e, &at, "detail")? });
    }
    Ok(state)
}

fn show(v: Option<&Value>) -> String {
    v.map_or("nothing".to_owned(), Value::to_string)
}

impl State {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("state serialises") + "\n"
    }

    /// Reboots asked for within `window` before `now`. One recorded "in the future" counts too: the
    /// Pi has no RTC, and a clock that went back after a reboot without network must not reset the
    /// budget and allow a loop.
    pub fn reboots_within(&self, now: u64, window: Duration) -> Vec<&Reboot> {
        let since = now.saturating_sub(window.as_secs());
        self.reboots.iter().filter(|r| r.at > since).collect()
    }

    /// Add an outcome; returns whether the file needs writing. A run of the same outcome and detail
    /// is one event whose `last_at` moves, written again only once it is an hour stale.
    pub fn record(&mut self, now: u64, kind: Kind, detail: &str) -> bool {
        if let Some(last) =
            self.events.last_mut().filter(|last| kind.folds() && last.kind == kind && last.detail == detail)
        {
            if now.saturating_sub(last.last_at) < FOLD_REWRITE_SECS {
                return false;
            }
            last.last_at = now;
            return true;
        }
        self.events.push(Event { at: now, last_at: now, kind, detail: detail.to_owned() });
        if self.events.len() > MAX_EVENTS {
            self.events.drain(..self.events.len() - MAX_EVENTS);
        }
        true
    }

    pub fn record_reboot(&mut self, now: u64, reason: &str) {
        self.reboots.push(Reboot { at: now, reason: reason.to_owned() });
        if self.reboots.len() > MAX_REBOOTS {
            self.reboots.drain(..self.reboots.len() - MAX_REBOOTS);
        }
        self.record(now, Kind::Reboot, reason);
    }
}

/// Whether a reboot may be asked for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebootDecision {
    Allowed { used: usize, max: u32 },
    HeldBack(String),
}

pub fn decide_reboot(
    state: &State,
    now: u64,
    uptime: Duration,
    grace: &GivenDuration,
    max: u32,
    window: &GivenDuration,
) -> RebootDecision {
    use crate::args::{human, utc};
    if uptime < grace.value {
        return RebootDecision::HeldBack(format!("uptime {} is within the boot grace of {grace}", human(uptime)));
    }
    let recent = state.reboots_within(now, window.value);
    if recent.len() >= max as usize {
        if max == 0 {
            return RebootDecision::HeldBack("reboots are disabled (--max-reboots 0)".into());
        }
        let secs = window.value.as_secs();
        let frees = recent.iter().map(|r| r.at).min().unwrap_or(now).max(now.saturating_sub(secs)) + secs;
        return RebootDecision::HeldBack(format!(
            "reboot budget spent: {} in the last {window} (max {max}); the next one is allowed after {}",
            homey_kit::units::count(recent.len(), "reboot", "reboots"),
            utc(frees)
        ));
    }
    RebootDecision::Allowed { used: recent.len(), max }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn budget_counts_only_reboots_inside_the_window() {
        let mut s = State::default();
        let day = &GivenDuration::parse("24h").unwrap();
        let now = 100 * H;
        for at in [now - 30 * H, now - 20 * H, now - H] {
            s.record_reboot(at, "dead");
        }
        let up = Duration::from_secs(600);
        let grace = &GivenDuration::parse("5m").unwrap();
        assert_eq!(decide_reboot(&s, now, up, grace, 3, day), RebootDecision::Allowed { used: 2, max: 3 });
        let RebootDecision::HeldBack(why) = decide_reboot(&s, now, up, grace, 2, day) else { panic!() };
        assert!(why.contains("2 reboots in the last 24h (max 2)"), "{why}");
        // The oldest of the two in the window (20 h ago) leaves it 4 h from now.
        assert!(why.ends_with(&crate::args::utc(now + 4 * H)), "{why}");
        assert!(
            matches!(decide_reboot(&s, now, up, grace, 0, day), RebootDecision::HeldBack(w) if w.contains("disabled"))
        );
    }

    #[test]
    fn a_clock_that_went_back_does_not_reset_the_budget() {
        let mut s = State::default();
        s.record_reboot(100 * H, "dead");
        // After the reboot, without network or RTC, the clock reads an hour earlier.
        let d = decide_reboot(
            &s,
            99 * H,
            Duration::from_secs(600),
            &GivenDuration::secs(0),
            1,
            &GivenDuration::parse("1d").unwrap(),
        );
        assert!(matches!(&d, RebootDecision::HeldBack(w) if w.contains("1 reboot in the last 1d (max 1)")), "{d:?}");
    }

    #[test]
    fn boot_grace_holds_back_before_the_budget_is_looked_at() {
        let s = State::default();
        let grace = GivenDuration::parse("300s").unwrap();
        let d = decide_reboot(&s, 1000, Duration::from_secs(90), &grace, 3, &GivenDuration::parse("24h").unwrap());
        assert_eq!(d, RebootDecision::HeldBack("uptime 1m30s is within the boot grace of 300s".into()));
    }

    #[test]
    fn repeated_outcomes_fold_and_are_written_hourly() {
        let mut s = State::default();
        assert!(s.record(0, Kind::Healthy, "gateway answered"));
        assert!(!s.record(120, Kind::Healthy, "gateway answered"));
        assert!(!s.record(H - 1, Kind::Healthy, "gateway answered"));
        assert!(s.record(H, Kind::Healthy, "gateway answered"));
        assert_eq!(s.events.len(), 1);
        assert_eq!((s.events[0].at, s.events[0].last_at), (0, H));
        assert!(s.record(H + 1, Kind::Recovered, "restart helped"));
        assert!(s.record(H + 2, Kind::Recovered, "restart helped"), "actions are never folded");
        assert!(s.record(H + 3, Kind::Healthy, "gateway answered"));
        assert_eq!(s.events.len(), 4);
        for i in 0..100 {
            s.record_reboot(10 * H + i, "dead");
        }
        assert_eq!(s.events.len(), MAX_EVENTS);
        assert_eq!(s.reboots.len(), MAX_REBOOTS);
        assert_eq!(s.reboots.last().unwrap().at, 10 * H + 99);
    }

    #[test]
    fn round_trip_and_damaged_files_name_the_field() {
        let mut s = State { version: 1, ..State::default() };
        s.record_reboot(5, "gateway dead after restart");
        s.record(9, Kind::Healthy, "ok");
        assert_eq!(parse(&s.to_json()).unwrap(), s);
        let bad = s.to_json().replace("\"at\": 5", "\"at\": \"yesterday\"");
        assert_eq!(parse(&bad).unwrap_err(), "reboots[0].at: expected seconds since 1970, found \"yesterday\"");
        let bad = s.to_json().replace("\"healthy\"", "\"fine\"");
        assert!(parse(&bad).unwrap_err().starts_with("events[1].kind: \"fine\" is not one of healthy, "));
        assert!(parse("{\"version\": 2}").unwrap_err().starts_with("version: expected 1"));
        assert!(parse("[]").unwrap_err().contains("object"));
        assert!(parse("{\"version\":1,").unwrap_err().starts_with("not JSON"));
    }
}
