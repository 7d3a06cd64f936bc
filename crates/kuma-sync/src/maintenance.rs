//! Maintenance windows, declared: manual, single, recurring (interval, weekday, day of month) and cron,
//! with the monitors they affect by name and the status pages that show them by slug; identity by title;
//! planned as data.
//!
//! Uptime Kuma keeps a window as a row with no free field but its description, so that is where it is
//! marked as kuma-sync's: a last line `(managed by kuma-sync)`. It is visible where the description is
//! (the status page's maintenance note): an honest mark an operator can read, rather than a hidden one.

use crate::monitors::{BadInput, entry_label, kind_of};
use crate::plan::Change;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use crate::owner::MAINTENANCE_MARK as OWNER_MARK;

const STRATEGIES: &[&str] =
    &["manual", "single", "recurring-interval", "recurring-weekday", "recurring-day-of-month", "cron"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maintenance {
    pub title: String,
    pub description: Option<String>,
    pub strategy: String,
    pub active: bool,
    /// `YYYY-MM-DD HH:MM`: single (both required), recurring (optional bounds).
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// `HH:MM`, recurring strategies.
    pub start_time: Option<(u32, u32)>,
    pub end_time: Option<(u32, u32)>,
    pub interval_days: Option<u32>,
    /// 1 (Monday) … 7 (Sunday).
    pub weekdays: Vec<u32>,
    /// 1 … 31, or "lastDay1" … "lastDay4".
    pub days_of_month: Vec<Value>,
    pub cron: Option<String>,
    pub duration_minutes: Option<u32>,
    /// `SAME_AS_SERVER`, `UTC` or a zone name.
    pub timezone: String,
    /// The monitors it affects, by name (monitors of the file).
    pub monitors: Vec<String>,
    /// The status pages that show it, by slug (of the file or the server), sorted. `None`: the file does
    /// not manage them, so pages picked in the web UI stay (as `tags` absent on a monitor). Left out of the
    /// hash's input when absent, so files written before this field keep their digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_pages: Option<Vec<String>>,
}

const KEYS: &[&str] = &[
    "title",
    "description",
    "strategy",
    "active",
    "start_date",
    "end_date",
    "start_time",
    "end_time",
    "interval_days",
    "weekdays",
    "days_of_month",
    "cron",
    "duration_minutes",
    "timezone",
    "monitors",
    "status_pages",
];

fn hh_mm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some((h, m))
}

fn date_ok(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

pub fn parse(file: &str, entries: &[Value]) -> Result<Vec<Maintenance>, BadInput> {
    let mut out: Vec<Maintenance> = vec![];
    for (i, entry) in entries.iter().enumerate() {
        let title = entry.get("title").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let err = |field: Option<&str>, problem: String| BadInput {
            file: file.into(),
            entry: format!("maintenance: {}", entry_label(i + 1, title)),
            field: field.map(str::to_owned),
            problem,
        };
        let Value::Object(o) = entry else {
            return Err(err(None, format!("expected an object, got {}", kind_of(entry))));
        };
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(Some(k), format!("unknown key (a maintenance window has {})", KEYS.join(", "))));
        }
        let Some(title) = title else {
            return Err(err(Some("title"), "required (it is the window's identity)".into()));
        };
        let text = |key: &str| match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(v) => Err(err(Some(key), format!("expected a non-empty string, got {}", kind_of(v)))),
        };
        let strategy = text("strategy")?.unwrap_or_else(|| "manual".into());
        if !STRATEGIES.contains(&strategy.as_str()) {
            return Err(err(Some("strategy"), format!("{strategy:?}: one of {}", STRATEGIES.join(", "))));
        }
        let time = |key: &str| match text(key)? {
            None => Ok(None),
            Some(t) => hh_mm(&t).map(Some).ok_or_else(|| err(Some(key), format!("{t:?}: expected HH:MM"))),
        };
        let date = |key: &str| match text(key)? {
            None => Ok(None),
            Some(d) if date_ok(&d) => Ok(Some(d)),
            Some(d) => Err(err(Some(key), format!("{d:?}: expected YYYY-MM-DD HH:MM"))),
        };
        let uint = |key: &str, max: u64| match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| (1..=max).contains(&v)) => {
                Ok(n.as_u64().map(|v| v as u32))
            }
            Some(v) => Err(err(Some(key), format!("expected a whole number 1…{max}, got {}", kind_of(v)))),
        };
        let weekdays: Vec<u32> = match o.get("weekdays") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => {
                let days: Option<Vec<u32>> =
                    a.iter().map(|d| d.as_u64().filter(|d| (1..=7).contains(d)).map(|d| d as u32)).collect();
                let mut days =
                    days.ok_or_else(|| err(Some("weekdays"), "expected days 1 (Monday) … 7 (Sunday)".into()))?;
                days.sort();
                days.dedup();
                days
            }
            Some(v) => return Err(err(Some("weekdays"), format!("expected an array, got {}", kind_of(v)))),
        };
        let days_of_month: Vec<Value> = match o.get("days_of_month") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => {
                for d in a {
                    let ok = d.as_u64().is_some_and(|d| (1..=31).contains(&d))
                        || d.as_str().is_some_and(|s| ["lastDay1", "lastDay2", "lastDay3", "lastDay4"].contains(&s));
                    if !ok {
                        return Err(err(
                            Some("days_of_month"),
                            format!("{d}: expected 1 … 31 or \"lastDay1\" … \"lastDay4\""),
                        ));
                    }
                }
                a.clone()
            }
            Some(v) => return Err(err(Some("days_of_month"), format!("expected an array, got {}", kind_of(v)))),
        };
        let monitors: Vec<String> = match o.get("monitors") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .map(|m| m.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| err(Some("monitors"), "expected monitor names".into()))?,
            Some(v) => return Err(err(Some("monitors"), format!("expected an array of names, got {}", kind_of(v)))),
        };
        let status_pages: Option<Vec<String>> = match o.get("status_pages") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => {
                let mut slugs = a
                    .iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(Some("status_pages"), "expected status page slugs".into()))?;
                if let Some(bad) = slugs.iter().find(|s| !crate::status_pages::slug_ok(s)) {
                    return Err(err(
                        Some("status_pages"),
                        format!("{bad:?}: a slug is lower-case letters and digits, words joined by '-'"),
                    ));
                }
                // The server keeps a set: the order of the file means nothing, nor does it to the hash.
                slugs.sort();
                slugs.dedup();
                Some(slugs)
            }
            Some(v) => {
                return Err(err(Some("status_pages"), format!("expected an array of slugs, got {}", kind_of(v))));
            }
        };
        let m = Maintenance {
            title: title.to_owned(),
            description: text("description")?,
            active: match o.get("active") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(v) => return Err(err(Some("active"), format!("expected true or false, got {}", kind_of(v)))),
            },
            start_date: date("start_date")?,
            end_date: date("end_date")?,
            start_time: time("start_time")?,
            end_time: time("end_time")?,
            interval_days: uint("interval_days", 3650)?,
            weekdays,
            days_of_month,
            cron: text("cron")?,
            duration_minutes: uint("duration_minutes", 525_600)?,
            timezone: text("timezone")?.unwrap_or_else(|| "SAME_AS_SERVER".into()),
            monitors,
            status_pages,
            strategy,
        };
        let need: &[(&str, bool)] = match m.strategy.as_str() {
            "single" => &[("start_date", m.start_date.is_some()), ("end_date", m.end_date.is_some())],
            "recurring-interval" => &[
                ("interval_days", m.interval_days.is_some()),
                ("start_time", m.start_time.is_some()),
                ("end_time", m.end_time.is_some()),
            ],
            "recurring-weekday" => &[
                ("weekdays", !m.weekdays.is_empty()),
                ("start_time", m.start_time.is_some()),
                ("end_time", m.end_time.is_some()),
            ],
            "recurring-day-of-month" => &[
                ("days_of_month", !m.days_of_month.is_empty()),
                ("start_time", m.start_time.is_some()),
                ("end_time", m.end_time.is_some()),
            ],
            "cron" => &[
                ("cron", m.cron.as_ref().is_some_and(|c| c.split_whitespace().count() == 5)),
                ("duration_minutes", m.duration_minutes.is_some()),
            ],
            _ => &[],
        };
        if let Some((field, _)) = need.iter().find(|(_, ok)| !ok) {
            let what = if *field == "cron" { " (five fields: minute hour day month weekday)" } else { "" };
            return Err(err(Some(field), format!("required for a {} window{what}", m.strategy)));
        }
        if out.iter().any(|x| x.title == m.title) {
            return Err(err(Some("title"), "duplicate title".into()));
        }
        out.push(m);
    }
    Ok(out)
}

/// A window as `maintenanceList` shows it, with its monitors and its status pages (ids) once read.
#[derive(Debug, Clone, Default)]
pub struct ServerMaintenance {
    pub id: i64,
    pub config: Map<String, Value>,
    pub monitors: Option<BTreeSet<i64>>,
    pub status_pages: Option<BTreeSet<i64>>,
}

impl ServerMaintenance {
    pub fn title(&self) -> &str {
        self.config.get("title").and_then(Value::as_str).unwrap_or("")
    }

    pub fn owned(&self) -> bool {
        self.config.get("description").and_then(Value::as_str).is_some_and(|d| d.trim_end().ends_with(OWNER_MARK))
    }
}

pub fn from_list(list: &Value) -> Vec<ServerMaintenance> {
    let mut out: Vec<ServerMaintenance> = list
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, m)| {
            Some(ServerMaintenance {
                id: m.get("id").and_then(Value::as_i64).or_else(|| k.parse().ok())?,
                config: m.as_object()?.clone(),
                monitors: None,
                status_pages: None,
            })
        })
        .collect();
    out.sort_by_key(|m| m.id);
    out
}

/// The description the server keeps: the file's, then the mark.
pub fn description(m: &Maintenance) -> String {
    match &m.description {
        Some(d) => format!("{}\n\n{OWNER_MARK}", d.trim_end()),
        None => OWNER_MARK.to_owned(),
    }
}

fn time_object(t: Option<(u32, u32)>) -> Value {
    match t {
        Some((h, m)) => json!({"hours": h, "minutes": m}),
        None => json!({"hours": 0, "minutes": 0}),
    }
}

/// The object `addMaintenance`/`editMaintenance` are sent (the web UI's shape).
pub fn payload(m: &Maintenance) -> Map<String, Value> {
    let mut date_range = vec![m.start_date.clone().map(Value::from).unwrap_or(Value::Null)];
    if let Some(end) = &m.end_date {
        date_range.push(json!(end));
    }
    let p = json!({
        "title": m.title,
        "description": description(m),
        "strategy": m.strategy,
        "active": m.active,
        "intervalDay": m.interval_days.unwrap_or(1),
        "dateRange": date_range,
        "timeRange": [time_object(m.start_time), time_object(m.end_time)],
        "weekdays": m.weekdays,
        "daysOfMonth": m.days_of_month,
        "cron": m.cron.clone().unwrap_or_else(|| "30 3 * * *".into()),
        "durationMinutes": m.duration_minutes.unwrap_or(60),
        "timezoneOption": m.timezone,
    });
    p.as_object().expect("an object").clone()
}

/// A date as stored, compared to the minute (`2026-12-01T03:00:00` and `2026-12-01 03:00` are one).
fn minute(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.replace('T', " ");
    Some(s.chars().take(16).collect())
}

fn time_of(v: Option<&Value>) -> Option<(u32, u32)> {
    let v = v?;
    Some((v.get("hours")?.as_u64()? as u32, v.get("minutes")?.as_u64()? as u32))
}

/// A whole number as the server may send it (a number, or a string of one).
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The fields that differ, in the file's words: only those the strategy uses.
pub fn changes(m: &Maintenance, s: &ServerMaintenance) -> Vec<Change> {
    let c = &s.config;
    let mut out = vec![];
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            out.push(Change { field: field.into(), from, to });
        }
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let show = |v: Option<String>| v.map(|s| format!("{s:?}")).unwrap_or_else(|| "none".into());
    diff("strategy", text(c.get("strategy")), m.strategy.clone());
    diff("active", c.get("active").and_then(Value::as_bool).unwrap_or(false).to_string(), m.active.to_string());
    if s.owned() {
        let have = text(c.get("description"));
        diff("description", format!("{:?}", have), format!("{:?}", description(m)));
    }
    diff("timezone", text(c.get("timezoneOption")), m.timezone.clone());
    let range = c.get("dateRange").and_then(Value::as_array);
    let (start, end) = (minute(range.and_then(|r| r.first())), minute(range.and_then(|r| r.get(1))));
    if m.strategy != "manual" {
        diff("start_date", show(start), show(m.start_date.clone()));
        diff("end_date", show(end), show(m.end_date.clone()));
    }
    let hm = |t: Option<(u32, u32)>| t.map(|(h, m)| format!("{h:02}:{m:02}")).unwrap_or_else(|| "none".into());
    if m.strategy.starts_with("recurring-") {
        let times = c.get("timeRange").and_then(Value::as_array);
        diff("start_time", hm(time_of(times.and_then(|t| t.first()))), hm(m.start_time));
        diff("end_time", hm(time_of(times.and_then(|t| t.get(1)))), hm(m.end_time));
    }
    match m.strategy.as_str() {
        "recurring-interval" => diff(
            "interval_days",
            number(c.get("intervalDay")).map(|n| n.to_string()).unwrap_or_else(|| "none".into()),
            m.interval_days.unwrap_or(1).to_string(),
        ),
        "recurring-weekday" => {
            let mut have: Vec<u64> =
                c.get("weekdays").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_u64).collect();
            have.sort();
            diff("weekdays", format!("{have:?}"), format!("{:?}", m.weekdays));
        }
        "recurring-day-of-month" => diff(
            "days_of_month",
            c.get("daysOfMonth").map(|v| v.to_string()).unwrap_or_default(),
            Value::from(m.days_of_month.clone()).to_string(),
        ),
        "cron" => {
            diff("cron", text(c.get("cron")), m.cron.clone().unwrap_or_default());
            diff(
                "duration_minutes",
                number(c.get("durationMinutes")).map(|n| n.to_string()).unwrap_or_else(|| "none".into()),
                m.duration_minutes.unwrap_or(0).to_string(),
            );
        }
        _ => {}
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create {
        title: String,
    },
    Update {
        title: String,
        id: i64,
        adopt: bool,
        edit: bool,
        monitors: bool,
        /// The status pages differ: one `addMaintenanceStatusPage`, after the status pages are written.
        status_pages: bool,
        changes: Vec<Change>,
    },
    Delete {
        title: String,
        id: i64,
    },
    Keep {
        title: String,
        id: i64,
    },
}

impl Action {
    pub fn title(&self) -> &str {
        match self {
            Action::Create { title }
            | Action::Update { title, .. }
            | Action::Delete { title, .. }
            | Action::Keep { title, .. } => title,
        }
    }

    pub fn line(&self) -> String {
        match self {
            Action::Create { title } => format!("+ create maintenance {title}"),
            Action::Update { title, adopt, changes, .. } => {
                let verb = if *adopt { "adopt" } else { "update" };
                let detail: Vec<String> =
                    changes.iter().map(|c| format!("{} {} → {}", c.field, c.from, c.to)).collect();
                if detail.is_empty() {
                    format!("~ {verb} maintenance {title} (now marked {OWNER_MARK})")
                } else {
                    format!("~ {verb} maintenance {title}: {}", detail.join(", "))
                }
            }
            Action::Delete { title, .. } => format!("- delete maintenance {title}"),
            Action::Keep { title, id } => {
                format!("! keep maintenance {title} (#{id}): no longer declared; kept because of --no-prune")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_compares_as_the_server_keeps_it() {
        let w = parse(
            "m",
            json!([{"title": "w", "strategy": "recurring-interval", "interval_days": 2, "start_time": "03:00",
                    "end_time": "04:00", "start_date": "2026-12-01 00:00"}])
            .as_array()
            .unwrap(),
        )
        .unwrap();
        let mut config = payload(&w[0]);
        // What a server may send back: the interval as text, the date with seconds, no end date.
        config.insert("intervalDay".into(), json!("2"));
        config.insert("dateRange".into(), json!(["2026-12-01T00:00:00"]));
        let s = ServerMaintenance { id: 1, config, monitors: Some(BTreeSet::new()), status_pages: None };
        assert_eq!(changes(&w[0], &s), vec![]);
        assert!(s.owned());
    }

    #[test]
    fn bad_windows_name_the_entry_and_the_field() {
        let cases = [
            (
                json!([{"title": "w", "strategy": "weekly"}]),
                r#"maintenance: entry 1 ("w"): field "strategy": "weekly": one of manual"#,
            ),
            (
                json!([{"title": "w", "strategy": "single", "start_date": "2026-12-01 03:00"}]),
                r#"field "end_date": required for a single window"#,
            ),
            (
                json!([{"title": "w", "strategy": "recurring-weekday", "weekdays": [8]}]),
                r#"field "weekdays": expected days 1 (Monday)"#,
            ),
            (
                json!([{"title": "w", "strategy": "recurring-weekday", "weekdays": [1], "start_time": "3:00"}]),
                r#"field "start_time": "3:00": expected HH:MM"#,
            ),
            (
                json!([{"title": "w", "strategy": "cron", "cron": "0 3 * *", "duration_minutes": 60}]),
                r#"field "cron": required for a cron window (five fields"#,
            ),
            (
                json!([{"title": "w", "strategy": "single", "start_date": "2026-12-01", "end_date": "2026-12-02"}]),
                r#"field "start_date": "2026-12-01": expected YYYY-MM-DD HH:MM"#,
            ),
            (json!([{"title": "w"}, {"title": "w"}]), r#"entry 2 ("w"): field "title": duplicate title"#),
            (
                json!([{"title": "w", "status_pages": ["Home"]}]),
                r#"entry 1 ("w"): field "status_pages": "Home": a slug is lower-case"#,
            ),
            (json!([{"title": "w", "status_pages": "home"}]), r#"field "status_pages": expected an array of slugs"#),
            (json!([{"title": "w", "status_pages": [1]}]), r#"field "status_pages": expected status page slugs"#),
        ];
        for (input, want) in cases {
            let got = parse("m.json", input.as_array().unwrap()).unwrap_err().to_string();
            assert!(got.contains(want), "{input}\n  got:  {got}\n  want: {want}");
        }
    }
}
