//! The monitors file: parsed, checked and normalised offline (no server needed).
//!
//! The normalised form has every default filled in, so two files that mean the same monitors (the
//! seed's five-field entries, or the same entries with the defaults spelled out, in any order) give
//! the same digest.

use homey_kit::Exit;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

pub const MIN_INTERVAL: u64 = 20;
pub const MAX_INTERVAL: u64 = 2_073_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Http,
    Keyword,
    JsonQuery,
    Ping,
    Port,
    Dns,
    Push,
    Group,
    Docker,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Http,
        Kind::Keyword,
        Kind::JsonQuery,
        Kind::Ping,
        Kind::Port,
        Kind::Dns,
        Kind::Push,
        Kind::Group,
        Kind::Docker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Keyword => "keyword",
            Kind::JsonQuery => "json-query",
            Kind::Ping => "ping",
            Kind::Port => "port",
            Kind::Dns => "dns",
            Kind::Push => "push",
            Kind::Group => "group",
            Kind::Docker => "docker",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn has_url(self) -> bool {
        matches!(self, Kind::Http | Kind::Keyword | Kind::JsonQuery)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Tag {
    pub name: String,
    pub value: String,
}

/// One declared monitor with every default applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub url: Option<String>,
    pub hostname: Option<String>,
    pub port: Option<u16>,
    pub method: String,
    pub accepted_status_codes: Vec<String>,
    pub interval: u64,
    pub retry_interval: u64,
    pub resend_interval: u64,
    pub maxretries: u64,
    pub timeout: f64,
    pub max_redirects: u64,
    pub ignore_tls: bool,
    pub upside_down: bool,
    /// Notify before the TLS certificate expires.
    pub expiry_notification: bool,
    pub keyword: Option<String>,
    pub invert_keyword: bool,
    pub json_path: Option<String>,
    pub expected_value: Option<String>,
    pub dns_resolve_type: String,
    pub dns_resolve_server: String,
    /// The push token itself: from the file (`push_token`), or from the credential the file names
    /// once [`resolve_credentials`] has read it.
    pub push_token: Option<String>,
    /// `push_token_credential`: the token is a secret kept outside the file (and the Nix store).
    pub push_token_credential: Option<String>,
    /// A docker monitor's container, by name.
    pub docker_container: Option<String>,
    /// A docker monitor's docker host, by name (declared in the file, or already on the server).
    pub docker_host: Option<String>,
    /// The status pages (slugs of the file) this monitor appears on, in their first group.
    pub status_pages: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub parent: Option<String>,
    /// `None`: the file does not manage this monitor's tags (only the ownership mark is kept).
    pub tags: Option<Vec<Tag>>,
    /// `None`: the file does not manage notifications (new monitors get the server's defaults).
    pub notifications: Option<Vec<String>>,
}

/// Every key an entry may have.
pub const KEYS: &[&str] = &[
    "name",
    "url",
    "interval",
    "keyword",
    "maxretries",
    "type",
    "hostname",
    "port",
    "method",
    "accepted_status_codes",
    "timeout",
    "retry_interval",
    "resend_interval",
    "max_redirects",
    "ignore_tls",
    "upside_down",
    "expiry_notification",
    "invert_keyword",
    "json_path",
    "expected_value",
    "dns_resolve_type",
    "dns_resolve_server",
    "push_token",
    "push_token_credential",
    "docker_container",
    "docker_host",
    "status_pages",
    "description",
    "active",
    "parent",
    "tags",
    "notifications",
];

/// Keys that only make sense for some types; anywhere else they are a mistake worth reporting.
fn applies(key: &str, kind: Kind) -> bool {
    match key {
        "url" | "method" | "accepted_status_codes" | "max_redirects" | "ignore_tls" => kind.has_url(),
        "keyword" | "invert_keyword" => kind == Kind::Keyword,
        "json_path" | "expected_value" => kind == Kind::JsonQuery,
        "hostname" => matches!(kind, Kind::Ping | Kind::Port | Kind::Dns),
        "port" => matches!(kind, Kind::Port | Kind::Dns),
        "dns_resolve_type" | "dns_resolve_server" => kind == Kind::Dns,
        "push_token" | "push_token_credential" => kind == Kind::Push,
        "docker_container" | "docker_host" => kind == Kind::Docker,
        _ => true,
    }
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const DNS_TYPES: &[&str] = &["A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"];

/// An input error: which file, which entry, which field, what is wrong. Exit 65.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    pub file: String,
    /// `entry 3 ("Nextcloud")`, or empty for the file as a whole.
    pub entry: String,
    pub field: Option<String>,
    pub problem: String,
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.entry.is_empty() {
            write!(f, ": {}", self.entry)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field {field:?}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for BadInput {}

impl BadInput {
    pub fn into_anyhow(self) -> anyhow::Error {
        homey_kit::exit::coded(Exit::BadInput, self)
    }
}

/// Everything a file declares.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub monitors: Vec<Monitor>,
    pub notifications: Vec<crate::notifications::Notification>,
    pub docker_hosts: Vec<crate::docker_hosts::DockerHost>,
    pub status_pages: Vec<crate::status_pages::StatusPage>,
    pub maintenance: Vec<crate::maintenance::Maintenance>,
}

/// The top-level keys of the object form.
pub const TOP_LEVEL: &[&str] = &["monitors", "notifications", "docker_hosts", "status_pages", "maintenance"];

/// Read and check a monitors file.
pub fn load(path: &Path) -> anyhow::Result<Declared> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| homey_kit::exit::coded(Exit::BadInput, anyhow::anyhow!("{}: {e}", path.display())))?;
    parse_file(&path.display().to_string(), &text).map_err(BadInput::into_anyhow)
}

/// The monitors of a file (its other kinds checked, then left out).
pub fn parse(file: &str, text: &str) -> Result<Vec<Monitor>, BadInput> {
    parse_file(file, text).map(|d| d.monitors)
}

pub fn parse_file(file: &str, text: &str) -> Result<Declared, BadInput> {
    let whole = |problem: String| BadInput { file: file.into(), entry: String::new(), field: None, problem };
    let doc: Value = serde_json::from_str(text).map_err(|e| whole(format!("not valid JSON: {e}")))?;
    let (entries, notifications, docker_hosts, pages, windows) = match doc {
        Value::Array(a) => (a, vec![], vec![], vec![], vec![]),
        Value::Object(mut o) => {
            if let Some(k) = o.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
                return Err(whole(format!(
                    "unknown top-level key {k:?} (expected an array of monitors, or an object of {})",
                    TOP_LEVEL.join(", ")
                )));
            }
            let list = |o: &mut Map<String, Value>, key: &str| match o.remove(key) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(a)) => Ok(a),
                Some(_) => Err(whole(format!("{key:?} must be an array of objects"))),
            };
            (
                list(&mut o, "monitors")?,
                list(&mut o, "notifications")?,
                list(&mut o, "docker_hosts")?,
                list(&mut o, "status_pages")?,
                list(&mut o, "maintenance")?,
            )
        }
        _ => return Err(whole("expected an array of monitors, or {\"monitors\": [...]}".into())),
    };
    let notifications = crate::notifications::parse(file, &notifications)?;
    let docker_hosts = crate::docker_hosts::parse(file, &docker_hosts)?;
    let status_pages = crate::status_pages::parse(file, &pages)?;
    let maintenance = crate::maintenance::parse(file, &windows)?;
    let mut monitors = Vec::with_capacity(entries.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let m = entry_to_monitor(file, i + 1, entry)?;
        if let Some(first) = seen.insert(m.name.clone(), i + 1) {
            return Err(BadInput {
                file: file.into(),
                entry: entry_label(i + 1, Some(&m.name)),
                field: Some("name".into()),
                problem: format!(
                    "duplicate name: entry {first} has the same name (the name is the monitor's identity)"
                ),
            });
        }
        monitors.push(m);
    }
    check_parents(file, &monitors)?;
    check_push_tokens(file, &monitors)?;
    check_status_pages(file, &monitors, &status_pages)?;
    for (i, w) in maintenance.iter().enumerate() {
        if let Some(name) = w.monitors.iter().find(|n| !monitors.iter().any(|m| &m.name == *n)) {
            return Err(BadInput {
                file: file.into(),
                entry: format!("maintenance: {}", entry_label(i + 1, Some(&w.title))),
                field: Some("monitors".into()),
                problem: format!("{name:?} is not a monitor in this file"),
            });
        }
    }
    Ok(Declared { monitors, notifications, docker_hosts, status_pages, maintenance })
}

/// A monitor names pages of this file; a page's groups name monitors of this file (a page shows what
/// the file declares).
fn check_status_pages(
    file: &str,
    monitors: &[Monitor],
    pages: &[crate::status_pages::StatusPage],
) -> Result<(), BadInput> {
    for (i, m) in monitors.iter().enumerate() {
        if let Some(slug) = m.status_pages.iter().find(|s| !pages.iter().any(|p| &p.slug == *s)) {
            return Err(BadInput {
                file: file.into(),
                entry: entry_label(i + 1, Some(&m.name)),
                field: Some("status_pages".into()),
                problem: format!("{slug:?} is not a status page in this file"),
            });
        }
    }
    for (i, p) in pages.iter().enumerate() {
        for g in &p.groups {
            if let Some(name) = g.monitors.iter().find(|n| !monitors.iter().any(|m| &m.name == *n)) {
                return Err(BadInput {
                    file: file.into(),
                    entry: format!("status_pages: {}", entry_label(i + 1, Some(&p.slug))),
                    field: Some("groups".into()),
                    problem: format!("group {:?}: {name:?} is not a monitor in this file", g.name),
                });
            }
        }
    }
    Ok(())
}

/// Uptime Kuma finds a push monitor by its token alone: two monitors with one token means pushes reach
/// only the lower id. The same credential named twice is the same token.
fn check_push_tokens(file: &str, monitors: &[Monitor]) -> Result<(), BadInput> {
    let mut seen: BTreeMap<(bool, &str), usize> = BTreeMap::new();
    for (i, m) in monitors.iter().enumerate() {
        let (key, field) = match (&m.push_token, &m.push_token_credential) {
            (_, Some(c)) => ((true, c.as_str()), "push_token_credential"),
            (Some(t), None) => ((false, t.as_str()), "push_token"),
            (None, None) => continue,
        };
        if let Some(first) = seen.insert(key, i) {
            return Err(BadInput {
                file: file.into(),
                entry: entry_label(i + 1, Some(&m.name)),
                field: Some(field.into()),
                problem: format!(
                    "entry {} ({:?}) has the same {}; Uptime Kuma finds push monitors by token, so only one of them would hear its pushes",
                    first + 1,
                    monitors[first].name,
                    if key.0 { "credential" } else { "push token" }
                ),
            });
        }
    }
    Ok(())
}

/// A credential name is a file name in `$CREDENTIALS_DIRECTORY`: no path, nothing hidden.
pub fn credential_name_ok(name: &str) -> bool {
    !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read every secret the file names by credential (push tokens), so the rest of the run sees values.
/// `load` reads one credential (homey-kit's lookup: `$CREDENTIALS_DIRECTORY`, then the fallback).
/// Two credentials holding the same token are refused like two equal `push_token`s.
pub fn resolve_credentials(
    file: &str,
    monitors: &mut [Monitor],
    load: &dyn Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    for (i, m) in monitors.iter_mut().enumerate() {
        let Some(name) = m.push_token_credential.clone() else { continue };
        let token = load(&name).map_err(|e| {
            let exit = Exit::of(&e);
            homey_kit::exit::coded(
                exit,
                anyhow::anyhow!(
                    "{file}: {}: field \"push_token_credential\": {e:#}",
                    entry_label(i + 1, Some(&m.name))
                ),
            )
        })?;
        if token.len() > 32 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(BadInput {
                file: file.into(),
                entry: entry_label(i + 1, Some(&m.name)),
                field: Some("push_token_credential".into()),
                problem: format!("the credential {name:?} must hold at most 32 letters, digits, '-' or '_'"),
            }
            .into_anyhow());
        }
        m.push_token = Some(token);
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, m) in monitors.iter().enumerate() {
        let Some(t) = &m.push_token else { continue };
        if let Some(first) = seen.insert(t.as_str(), i) {
            return Err(BadInput {
                file: file.into(),
                entry: entry_label(i + 1, Some(&m.name)),
                field: Some(if m.push_token_credential.is_some() { "push_token_credential" } else { "push_token" }.into()),
                problem: format!(
                    "holds the same push token as entry {} ({:?}); Uptime Kuma finds push monitors by token, so only one of them would hear its pushes",
                    first + 1,
                    monitors[first].name
                ),
            }
            .into_anyhow());
        }
    }
    Ok(())
}

impl Monitor {
    /// The push token as the payload carries it (null when there is none).
    pub fn push_token_value(&self) -> Value {
        self.push_token.clone().map(Value::String).unwrap_or(Value::Null)
    }
}

pub(crate) fn entry_label(n: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("entry {n} ({name:?})"),
        None => format!("entry {n}"),
    }
}

struct Entry<'a> {
    file: &'a str,
    label: String,
    obj: &'a Map<String, Value>,
}

impl Entry<'_> {
    fn err(&self, field: &str, problem: impl Into<String>) -> BadInput {
        BadInput {
            file: self.file.into(),
            entry: self.label.clone(),
            field: Some(field.into()),
            problem: problem.into(),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, BadInput> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Err(self.err(key, "must not be empty")),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(key, format!("expected a string, got {}", kind_of(v)))),
        }
    }

    fn uint(&self, key: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>, BadInput> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if range.contains(&v) => Ok(Some(v)),
                _ if n.as_f64().is_some_and(|f| f.fract() != 0.0) => {
                    Err(self.err(key, format!("expected a whole number, got {n}")))
                }
                _ => Err(self.err(key, format!("{n} is outside {}…{}", range.start(), range.end()))),
            },
            Some(v) => Err(self.err(key, format!("expected a whole number, got {}", kind_of(v)))),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, BadInput> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(key, format!("expected true or false, got {}", kind_of(v)))),
        }
    }
}

pub(crate) fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn entry_to_monitor(file: &str, n: usize, entry: &Value) -> Result<Monitor, BadInput> {
    let Value::Object(obj) = entry else {
        return Err(BadInput {
            file: file.into(),
            entry: entry_label(n, None),
            field: None,
            problem: format!("expected an object, got {}", kind_of(entry)),
        });
    };
    let name = obj.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
    let e = Entry { file, label: entry_label(n, name), obj };
    let name = match e.string("name")? {
        Some(n) => n,
        None => return Err(e.err("name", "required (it is the monitor's identity)")),
    };
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        let hint =
            KEYS.iter().find(|known| close(k, known)).map(|s| format!("; did you mean {s:?}?")).unwrap_or_default();
        return Err(e.err(k, format!("unknown key{hint}")));
    }
    let keyword = e.string("keyword")?;
    let kind = match e.string("type")? {
        Some(t) => Kind::parse(&t).ok_or_else(|| {
            let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            e.err("type", format!("unknown type {t:?} (one of {})", all.join(", ")))
        })?,
        None if keyword.is_some() => Kind::Keyword,
        None => Kind::Http,
    };
    for key in obj.keys() {
        if !obj[key].is_null() && !applies(key, kind) {
            return Err(e.err(key, format!("does not apply to a {} monitor", kind.as_str())));
        }
    }
    let interval = e.uint("interval", MIN_INTERVAL..=MAX_INTERVAL)?.unwrap_or(60);
    let url = e.string("url")?;
    if let Some(u) = url.as_ref().filter(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
        return Err(e.err("url", format!("{u:?} is not an http:// or https:// URL")));
    }
    let hostname = e.string("hostname")?;
    let port = e.uint("port", 1..=65535)?.map(|p| p as u16);
    let method = match e.string("method")? {
        Some(m) if METHODS.contains(&m.to_ascii_uppercase().as_str()) => m.to_ascii_uppercase(),
        Some(m) => return Err(e.err("method", format!("unknown HTTP method {m:?} (one of {})", METHODS.join(", ")))),
        None => "GET".into(),
    };
    let accepted_status_codes = match obj.get("accepted_status_codes") {
        None | Some(Value::Null) => vec!["200-299".to_owned()],
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut codes = vec![];
            for v in a {
                match v.as_str() {
                    Some(s) if status_range_ok(s) => codes.push(s.to_owned()),
                    _ => match v.as_u64() {
                        Some(c) if (100..=599).contains(&c) => codes.push(c.to_string()),
                        _ => {
                            return Err(e.err(
                                "accepted_status_codes",
                                format!("{v} is not a status code or a range such as \"200-299\""),
                            ));
                        }
                    },
                }
            }
            codes
        }
        Some(v) => {
            return Err(e.err(
                "accepted_status_codes",
                format!("expected a non-empty array such as [\"200-299\"], got {}", kind_of(v)),
            ));
        }
    };
    let timeout = match obj.get("timeout") {
        None | Some(Value::Null) => (interval as f64 * 0.8).min(48.0),
        Some(Value::Number(t)) => match t.as_f64() {
            Some(t) if t > 0.0 && t <= interval as f64 => t,
            _ => return Err(e.err("timeout", format!("{t} must be more than 0 and at most the interval ({interval})"))),
        },
        Some(v) => return Err(e.err("timeout", format!("expected a number of seconds, got {}", kind_of(v)))),
    };
    let retry_interval = e.uint("retry_interval", MIN_INTERVAL..=MAX_INTERVAL)?.unwrap_or(interval);
    let resend_interval = e.uint("resend_interval", 0..=u32::MAX as u64)?.unwrap_or(0);
    let maxretries = e.uint("maxretries", 0..=1000)?.unwrap_or(0);
    let max_redirects = e.uint("max_redirects", 0..=1000)?.unwrap_or(10);
    let dns_resolve_type = match e.string("dns_resolve_type")? {
        Some(t) if DNS_TYPES.contains(&t.as_str()) => t,
        Some(t) => {
            return Err(
                e.err("dns_resolve_type", format!("unknown record type {t:?} (one of {})", DNS_TYPES.join(", ")))
            );
        }
        None => "A".into(),
    };
    let dns_resolve_server = e.string("dns_resolve_server")?.unwrap_or_else(|| "1.1.1.1".into());
    let push_token = e.string("push_token")?;
    if push_token
        .as_ref()
        .is_some_and(|t| t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(e.err("push_token", "must be at most 32 letters, digits, '-' or '_'"));
    }
    let push_token_credential = e.string("push_token_credential")?;
    if push_token.is_some() && push_token_credential.is_some() {
        return Err(e.err("push_token_credential", "give the token or the credential that holds it, not both"));
    }
    if let Some(c) = push_token_credential.as_ref().filter(|c| !credential_name_ok(c)) {
        return Err(
            e.err("push_token_credential", format!("{c:?} is not a credential name (letters, digits, '-', '_', '.')"))
        );
    }
    let docker_container = e.string("docker_container")?;
    let docker_host = e.string("docker_host")?;
    let json_path = e.string("json_path")?;
    let expected_value = e.string("expected_value")?;
    let required: &[(&str, bool)] = match kind {
        Kind::Http => &[("url", url.is_some())],
        Kind::Keyword => &[("url", url.is_some()), ("keyword", keyword.is_some())],
        Kind::JsonQuery => {
            &[("url", url.is_some()), ("json_path", json_path.is_some()), ("expected_value", expected_value.is_some())]
        }
        Kind::Ping => &[("hostname", hostname.is_some())],
        Kind::Port => &[("hostname", hostname.is_some()), ("port", port.is_some())],
        Kind::Dns => &[("hostname", hostname.is_some())],
        Kind::Push => &[("push_token", push_token.is_some() || push_token_credential.is_some())],
        Kind::Group => &[],
        Kind::Docker => &[("docker_container", docker_container.is_some()), ("docker_host", docker_host.is_some())],
    };
    if let Some((field, _)) = required.iter().find(|(_, present)| !present) {
        return Err(e.err(field, format!("required for a {} monitor", kind.as_str())));
    }
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut tags = vec![];
            for t in a {
                let tag = match t {
                    Value::String(n) if !n.trim().is_empty() => Tag { name: n.clone(), value: String::new() },
                    Value::Object(o) => {
                        if let Some(k) = o.keys().find(|k| *k != "name" && *k != "value") {
                            return Err(e.err("tags", format!("unknown key {k:?} in a tag (a tag has name and value)")));
                        }
                        let name = o.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
                        let value = match o.get("value") {
                            None | Some(Value::Null) => Some(String::new()),
                            Some(Value::String(s)) => Some(s.clone()),
                            Some(Value::Number(n)) => Some(n.to_string()),
                            _ => None,
                        };
                        match (name, value) {
                            (Some(n), Some(v)) => Tag { name: n.into(), value: v },
                            _ => {
                                return Err(
                                    e.err("tags", format!("{t} needs a non-empty \"name\" and a string \"value\""))
                                );
                            }
                        }
                    }
                    _ => {
                        return Err(e.err(
                            "tags",
                            format!("expected \"name\" or {{\"name\":…,\"value\":…}}, got {}", kind_of(t)),
                        ));
                    }
                };
                if tag.name == crate::owner::OWNER_TAG {
                    return Err(e.err("tags", format!("{:?} is kuma-sync's own ownership tag", tag.name)));
                }
                tags.push(tag);
            }
            tags.sort();
            tags.dedup();
            Some(tags)
        }
        Some(v) => return Err(e.err("tags", format!("expected an array, got {}", kind_of(v)))),
    };
    let notifications = match obj.get("notifications") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let mut names = BTreeSet::new();
            for n in a {
                match n.as_str().filter(|s| !s.trim().is_empty()) {
                    Some(s) => names.insert(s.to_owned()),
                    None => {
                        return Err(e.err("notifications", format!("expected notification names, got {}", kind_of(n))));
                    }
                };
            }
            Some(names.into_iter().collect())
        }
        Some(v) => return Err(e.err("notifications", format!("expected an array of names, got {}", kind_of(v)))),
    };
    Ok(Monitor {
        name,
        kind,
        url,
        hostname,
        port: port.or((kind == Kind::Dns).then_some(53)),
        method,
        accepted_status_codes,
        interval,
        retry_interval,
        resend_interval,
        maxretries,
        timeout,
        max_redirects,
        ignore_tls: e.boolean("ignore_tls")?.unwrap_or(false),
        upside_down: e.boolean("upside_down")?.unwrap_or(false),
        expiry_notification: e.boolean("expiry_notification")?.unwrap_or(false),
        keyword,
        invert_keyword: e.boolean("invert_keyword")?.unwrap_or(false),
        json_path,
        expected_value,
        dns_resolve_type,
        dns_resolve_server,
        push_token,
        push_token_credential,
        docker_container,
        docker_host,
        status_pages: match obj.get("status_pages") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => {
                let slugs: Option<Vec<String>> = a.iter().map(|s| s.as_str().map(str::to_owned)).collect();
                slugs.ok_or_else(|| e.err("status_pages", "expected the slugs of status pages in this file"))?
            }
            Some(v) => return Err(e.err("status_pages", format!("expected an array of slugs, got {}", kind_of(v)))),
        },
        description: e.string("description")?,
        active: e.boolean("active")?.unwrap_or(true),
        parent: e.string("parent")?,
        tags,
        notifications,
    })
}

fn status_range_ok(s: &str) -> bool {
    let code = |c: &str| c.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c));
    match s.split_once('-') {
        Some((a, b)) => code(a) && code(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => code(s),
    }
}

/// A likely typo: same letters but one, or snake_case written in camelCase.
fn close(typed: &str, known: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    if norm(typed) == norm(known) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (typed.chars().collect(), known.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()] <= 1
}

/// Parents must be group monitors in the same file, without cycles.
fn check_parents(file: &str, monitors: &[Monitor]) -> Result<(), BadInput> {
    let by_name: BTreeMap<&str, (usize, &Monitor)> =
        monitors.iter().enumerate().map(|(i, m)| (m.name.as_str(), (i, m))).collect();
    for (i, m) in monitors.iter().enumerate() {
        let Some(parent) = &m.parent else { continue };
        let err = |problem: String| BadInput {
            file: file.into(),
            entry: entry_label(i + 1, Some(&m.name)),
            field: Some("parent".into()),
            problem,
        };
        match by_name.get(parent.as_str()) {
            None => return Err(err(format!("{parent:?} is not a monitor in this file"))),
            Some((_, p)) if p.kind != Kind::Group => {
                return Err(err(format!("{parent:?} is a {} monitor, not a group", p.kind.as_str())));
            }
            _ => {}
        }
        let mut cur = Some(parent.as_str());
        let mut steps = 0;
        while let Some(c) = cur {
            if c == m.name || steps > monitors.len() {
                return Err(err(format!("{parent:?} leads back to this monitor (a cycle of groups)")));
            }
            cur = by_name.get(c).and_then(|(_, p)| p.parent.as_deref());
            steps += 1;
        }
    }
    Ok(())
}

/// Groups before their children (stable otherwise): the order monitors are created in.
pub fn parents_first(monitors: &[Monitor]) -> Vec<&Monitor> {
    let by_name: BTreeMap<&str, &Monitor> = monitors.iter().map(|m| (m.name.as_str(), m)).collect();
    let depth = |m: &Monitor| {
        crate::owner::depth(m.parent.as_deref(), monitors.len(), |p| by_name.get(p).and_then(|p| p.parent.as_deref()))
    };
    let mut out: Vec<&Monitor> = monitors.iter().collect();
    out.sort_by_key(|m| depth(m));
    out
}

/// The normalised set as bytes for the hash gate: sorted by name, defaults filled in.
pub fn canonical(monitors: &[Monitor]) -> Vec<u8> {
    let mut sorted: Vec<&Monitor> = monitors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    serde_json::to_vec(&sorted).expect("monitors serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("monitors.json", text).unwrap_err().to_string()
    }

    #[test]
    fn seed_format_keeps_working_with_ui_defaults() {
        let ms = parse(
            "m.json",
            r#"[{"name":"Nextcloud","url":"https://cloud.example.com","interval":30},
                {"name":"Grafana","url":"https://grafana.example.com","keyword":"Grafana","maxretries":3}]"#,
        )
        .unwrap();
        assert_eq!(ms[0].kind, Kind::Http);
        assert_eq!((ms[0].interval, ms[0].retry_interval, ms[0].maxretries), (30, 30, 0));
        assert_eq!(ms[0].timeout, 24.0);
        assert_eq!(ms[1].kind, Kind::Keyword);
        assert_eq!((ms[1].interval, ms[1].timeout, ms[1].maxretries), (60, 48.0, 3));
        assert_eq!(ms[1].accepted_status_codes, ["200-299"]);
        assert!(ms[1].active && ms[1].tags.is_none() && ms[1].notifications.is_none());
    }

    #[test]
    fn object_form_and_explicit_defaults_give_the_same_digest() {
        let a = parse("a", r#"[{"name":"A","url":"https://a.example.com"}]"#).unwrap();
        let b = parse(
            "b",
            r#"{"monitors":[{"name":"A","type":"http","url":"https://a.example.com","interval":60,"maxretries":0,"method":"get"}]}"#,
        )
        .unwrap();
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[test]
    fn each_bad_input_names_the_entry_and_the_field() {
        let cases = [
            (
                r#"[{"name":"A","url":"https://a","intervall":30}]"#,
                r#"entry 1 ("A"): field "intervall": unknown key; did you mean "interval"?"#,
            ),
            (
                r#"[{"name":"A","url":"https://a","interval":"30"}]"#,
                r#"field "interval": expected a whole number, got the string "30""#,
            ),
            (r#"[{"name":"A","url":"https://a","interval":10}]"#, r#"field "interval": 10 is outside 20…2073600"#),
            (
                r#"[{"name":"A","url":"https://a","interval":60.5}]"#,
                r#"field "interval": expected a whole number, got 60.5"#,
            ),
            (r#"[{"name":"A","url":"https://a","maxretries":-1}]"#, r#"field "maxretries": -1 is outside 0…1000"#),
            (r#"[{"name":"A","url":"https://a","interval":2073601}]"#, "2073601 is outside 20…2073600"),
            (
                r#"[{"name":"A","url":"https://a"},{"name":"A","url":"https://b"}]"#,
                r#"entry 2 ("A"): field "name": duplicate name: entry 1"#,
            ),
            (r#"[{"url":"https://a"}]"#, r#"entry 1: field "name": required"#),
            (r#"[{"name":"P","type":"ping"}]"#, r#"entry 1 ("P"): field "hostname": required for a ping monitor"#),
            (
                r#"[{"name":"J","type":"json-query","url":"https://a","json_path":"$.x"}]"#,
                r#"field "expected_value": required for a json-query monitor"#,
            ),
            (r#"[{"name":"T","type":"port","hostname":"h"}]"#, r#"field "port": required for a port monitor"#),
            (r#"[{"name":"U","type":"push"}]"#, r#"field "push_token": required"#),
            (r#"[{"name":"X","type":"tcp"}]"#, r#"field "type": unknown type "tcp""#),
            (
                r#"[{"name":"C","url":"https://a","parent":"G"}]"#,
                r#"field "parent": "G" is not a monitor in this file"#,
            ),
            (
                r#"[{"name":"G","url":"https://g"},{"name":"C","url":"https://a","parent":"G"}]"#,
                r#"entry 2 ("C"): field "parent": "G" is a http monitor, not a group"#,
            ),
            (r#"[{"name":"A","url":"https://a","tags":"x"}]"#, r#"field "tags": expected an array"#),
            (r#"[{"name":"A","url":"https://a","tags":[{"value":"x"}]}]"#, r#"field "tags""#),
            (
                r#"[{"name":"A","url":"https://a","notifications":[1]}]"#,
                r#"field "notifications": expected notification names"#,
            ),
            (r#"[{"name":"A","url":"https://a","active":"no"}]"#, r#"field "active": expected true or false"#),
            (
                r#"[{"name":"P","type":"ping","hostname":"h","keyword":"k"}]"#,
                r#"field "keyword": does not apply to a ping monitor"#,
            ),
            (r#"[{"name":"A","url":"ftp://a"}]"#, r#"field "url""#),
            (r#"[{"name":"A","url":"https://a","accepted_status_codes":["2xx"]}]"#, r#"field "accepted_status_codes""#),
            (
                r#"[{"name":"J","type":"push","push_token":"t1"},{"name":"K","type":"push","push_token":"t1"}]"#,
                r#"entry 2 ("K"): field "push_token": entry 1 ("J") has the same push token"#,
            ),
            (
                r#"[{"name":"J","type":"push","push_token_credential":"c"},{"name":"K","type":"push","push_token_credential":"c"}]"#,
                r#"entry 2 ("K"): field "push_token_credential": entry 1 ("J") has the same credential"#,
            ),
            (
                r#"[{"name":"J","type":"push","push_token":"t1","push_token_credential":"c"}]"#,
                r#"field "push_token_credential": give the token or the credential that holds it, not both"#,
            ),
            (
                r#"[{"name":"J","type":"push","push_token_credential":"../etc/shadow"}]"#,
                r#"field "push_token_credential": "../etc/shadow" is not a credential name"#,
            ),
            (
                r#"[{"name":"A","url":"https://a","push_token_credential":"c"}]"#,
                r#"field "push_token_credential": does not apply to a http monitor"#,
            ),
            (r#"{"monitor":[]}"#, "unknown top-level key \"monitor\""),
            ("[", "not valid JSON"),
        ];
        for (input, want) in cases {
            let got = err(input);
            assert!(got.starts_with("monitors.json: ") && got.contains(want), "{input}\n  got:  {got}\n  want: {want}");
        }
    }

    #[test]
    fn push_tokens_from_credentials_are_read_and_checked_like_literal_ones() {
        let text = r#"[{"name":"J","type":"push","push_token_credential":"job-push"},
                       {"name":"K","type":"push","push_token":"literal-1"}]"#;
        let mut ms = parse("m.json", text).unwrap();
        assert_eq!(ms[0].push_token, None);
        resolve_credentials("m.json", &mut ms, &|name| Ok(format!("tok-{name}"))).unwrap();
        assert_eq!(ms[0].push_token.as_deref(), Some("tok-job-push"));
        let mut ms = parse("m.json", text).unwrap();
        let err = resolve_credentials("m.json", &mut ms, &|_| Ok("literal-1".into())).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::BadInput);
        assert!(
            format!("{err:#}")
                .contains(r#"entry 2 ("K"): field "push_token": holds the same push token as entry 1 ("J")"#),
            "{err:#}"
        );
        let mut ms = parse("m.json", text).unwrap();
        let err = resolve_credentials("m.json", &mut ms, &|_| {
            Err(homey_kit::exit::coded(
                Exit::Config,
                anyhow::anyhow!("no secret given: provide the credential job-push"),
            ))
        })
        .unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        assert_eq!(
            format!("{err:#}"),
            r#"m.json: entry 1 ("J"): field "push_token_credential": no secret given: provide the credential job-push"#
        );
    }

    #[test]
    fn cycles_of_groups_are_refused() {
        let got = err(r#"[{"name":"G","type":"group","parent":"H"},{"name":"H","type":"group","parent":"G"}]"#);
        assert!(got.contains("cycle"), "{got}");
    }

    #[test]
    fn groups_come_before_their_children() {
        let ms = parse(
            "m",
            r#"[{"name":"C","url":"https://c","parent":"Inner"},{"name":"Inner","type":"group","parent":"Outer"},
                {"name":"Outer","type":"group"},{"name":"Z","url":"https://z"}]"#,
        )
        .unwrap();
        let order: Vec<&str> = parents_first(&ms).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(order, ["Outer", "Z", "Inner", "C"]);
    }
}
