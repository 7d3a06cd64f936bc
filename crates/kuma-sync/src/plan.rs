//! The pure core: what the server has, what the file declares, and the changes between them.
//!
//! No I/O here. [`Server`] is read from the server's lists by the session layer; [`plan`] compares it
//! with the declared monitors field by field and returns the changes as data; [`payload`] renders the
//! JSON a monitor is written with, per server generation.

use crate::docker_hosts::{self, ServerDockerHost};
use crate::maintenance::{self, ServerMaintenance};
use crate::monitors::{BadInput, Declared, Kind, Monitor, Tag, parents_first};
use crate::notifications::{self, ServerNotification};
use crate::owner::{OWNER_TAG, OWNER_VALUE};
use crate::status_pages::{self, ServerStatusPage};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Part of the hash gate's digest: bump it when the mapping from file to payload changes, so every
/// server is compared again after an upgrade of the tool.
pub const MAPPING_VERSION: &str = "kuma-sync mapping 2";

/// Keys `getMonitor`/`monitorList` return that are not database columns: sending them back fails.
pub const READ_ONLY_KEYS: &[&str] =
    &["path", "pathName", "childrenIDs", "forceInactive", "maintenance", "screenshot", "includeSensitiveData", "tags"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Generation {
    #[serde(rename = "1.x")]
    V1,
    #[serde(rename = "2.x")]
    V2,
}

impl Generation {
    /// From the `version` the server reports after login ("1.23.16", "2.0.1", "2.0.0-beta.2").
    pub fn from_version(version: &str) -> Option<Generation> {
        let major: u32 = version.trim_start_matches('v').split('.').next()?.parse().ok()?;
        match major {
            0 | 1 => Some(Generation::V1),
            _ => Some(Generation::V2),
        }
    }

    pub fn max_push_token(self) -> usize {
        match self {
            Generation::V1 => 20,
            Generation::V2 => 32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorTag {
    pub tag_id: i64,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct ServerMonitor {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub parent: Option<i64>,
    pub notifications: BTreeSet<i64>,
    pub tags: Vec<MonitorTag>,
    pub raw: Map<String, Value>,
}

impl ServerMonitor {
    pub fn owned(&self) -> bool {
        self.tags.iter().any(|t| t.name == OWNER_TAG && t.value == OWNER_VALUE)
    }
}

/// What the server has, as read after login.
#[derive(Debug, Clone)]
pub struct Server {
    pub version: String,
    pub generation: Generation,
    pub monitors: Vec<ServerMonitor>,
    pub notifications: Vec<ServerNotification>,
    /// Tag names → ids (the lowest id when the server holds duplicates).
    pub tags: BTreeMap<String, i64>,
    /// The notification that stands for a name the file declares (else the lowest id of that name).
    pub notification_for: BTreeMap<String, i64>,
    pub docker_hosts: Vec<ServerDockerHost>,
    pub status_pages: Vec<ServerStatusPage>,
    pub maintenance: Vec<ServerMaintenance>,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn as_id(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl Server {
    /// Read the server's `monitorList` (an object keyed by id), `notificationList` and `getTags` answers.
    pub fn from_lists(version: &str, monitors: &Value, notifications: &Value, tags: &Value) -> anyhow::Result<Server> {
        let generation = Generation::from_version(version)
            .ok_or_else(|| anyhow::anyhow!("the server reported a version kuma-sync cannot read: {version:?}"))?;
        let Value::Object(list) = monitors else { anyhow::bail!("monitorList is not an object keyed by id") };
        let mut out = vec![];
        for (key, m) in list {
            let Value::Object(raw) = m else { anyhow::bail!("monitorList entry {key} is not an object") };
            let id = raw.get("id").and_then(as_id).or_else(|| key.parse().ok());
            let Some(id) = id else { anyhow::bail!("monitorList entry {key} has no id") };
            let tags = raw
                .get("tags")
                .and_then(Value::as_array)
                .map(|ts| {
                    ts.iter()
                        .filter_map(|t| {
                            Some(MonitorTag {
                                tag_id: t.get("tag_id").and_then(as_id)?,
                                name: t.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
                                value: match t.get("value") {
                                    Some(Value::String(s)) => s.clone(),
                                    Some(Value::Null) | None => String::new(),
                                    Some(v) => v.to_string(),
                                },
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let notifications = match raw.get("notificationIDList") {
                Some(Value::Object(o)) => {
                    o.iter().filter(|(_, v)| truthy(v)).filter_map(|(k, _)| k.parse().ok()).collect()
                }
                _ => BTreeSet::new(),
            };
            out.push(ServerMonitor {
                id,
                name: raw.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
                active: raw.get("active").is_none_or(truthy),
                parent: raw.get("parent").and_then(as_id),
                notifications,
                tags,
                raw: raw.clone(),
            });
        }
        out.sort_by_key(|m| m.id);
        let notifications = notifications
            .as_array()
            .map(|ns| {
                ns.iter()
                    .filter_map(|n| {
                        Some(ServerNotification {
                            id: n.get("id").and_then(as_id)?,
                            name: n.get("name").and_then(Value::as_str)?.to_owned(),
                            is_default: n.get("isDefault").is_some_and(truthy),
                            config: match n.get("config") {
                                Some(Value::String(text)) => match serde_json::from_str(text) {
                                    Ok(Value::Object(o)) => o,
                                    _ => Map::new(),
                                },
                                Some(Value::Object(o)) => o.clone(),
                                _ => Map::new(),
                            },
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut tag_ids = BTreeMap::new();
        for t in tags.as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (t.get("id").and_then(as_id), t.get("name").and_then(Value::as_str)) {
                let e = tag_ids.entry(name.to_owned()).or_insert(id);
                *e = (*e).min(id);
            }
        }
        Ok(Server {
            version: version.to_owned(),
            generation,
            monitors: out,
            notifications,
            tags: tag_ids,
            notification_for: BTreeMap::new(),
            docker_hosts: vec![],
            status_pages: vec![],
            maintenance: vec![],
        })
    }

    fn notification_id(&self, name: &str) -> Option<i64> {
        if let Some(id) = self.notification_for.get(name) {
            return Some(*id);
        }
        self.notifications.iter().filter(|n| n.name == name).map(|n| n.id).min()
    }

    /// The docker host a name stands for: the lowest id of that name (a stand-in id when created in this run).
    pub fn docker_host_id(&self, name: &str) -> Option<i64> {
        self.docker_hosts.iter().filter(|h| h.name == name).map(|h| h.id).min()
    }

    fn docker_host_name(&self, id: i64) -> String {
        self.docker_hosts.iter().find(|h| h.id == id).map(|h| h.name.clone()).unwrap_or_else(|| format!("#{id}"))
    }

    fn notification_name(&self, id: i64) -> String {
        self.notifications.iter().find(|n| n.id == id).map(|n| n.name.clone()).unwrap_or_else(|| format!("#{id}"))
    }

    fn monitor_name(&self, id: i64) -> String {
        self.monitors.iter().find(|m| m.id == id).map(|m| m.name.clone()).unwrap_or_else(|| format!("#{id}"))
    }
}

/// One field that differs, in the file's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create {
        name: String,
    },
    Update {
        name: String,
        id: i64,
        /// It was not marked as ours: it is marked now.
        adopt: bool,
        changes: Vec<Change>,
        /// Some column differs: get → merge → editMonitor.
        edit: bool,
        tags_add: Vec<Tag>,
        tags_remove: Vec<MonitorTagRef>,
        set_active: Option<bool>,
    },
    Delete {
        name: String,
        id: i64,
        /// Another monitor of ours with the same name is kept.
        duplicate: bool,
    },
    /// Ours, no longer declared, kept because of `--no-prune`.
    Keep {
        name: String,
        id: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitorTagRef {
    pub tag_id: i64,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub server_version: String,
    pub generation: Generation,
    /// Docker host changes (before the monitors that use them).
    pub docker_hosts: Vec<docker_hosts::Action>,
    /// What each docker host create/update sends.
    #[serde(skip)]
    pub docker_host_payloads: BTreeMap<String, Map<String, Value>>,
    /// The stand-in ids (negative) of docker hosts created in this run.
    #[serde(skip)]
    pub docker_placeholders: BTreeMap<i64, String>,
    /// Notification changes: creates and updates go first (monitors may name them), deletes last.
    pub notifications: Vec<notifications::Action>,
    /// Maintenance window changes, after the monitors they affect (deletes last).
    pub maintenance: Vec<maintenance::Action>,
    /// What each maintenance create/update sends, the monitors (names) it affects, the pages that show it.
    #[serde(skip)]
    pub maintenance_saves: BTreeMap<String, MaintenanceSave>,
    /// Status page changes, after the monitors they show.
    pub status_pages: Vec<status_pages::Action>,
    /// What each status page create/update saves: its settings, its groups (names), its groups' ids.
    #[serde(skip)]
    pub status_page_saves: BTreeMap<String, StatusPageSave>,
    /// What each notification create/update sends (secrets included: never serialised or shown).
    #[serde(skip)]
    pub notification_payloads: BTreeMap<String, Map<String, Value>>,
    /// The stand-in ids (negative) of notifications created in this run, by name: monitors refer to them
    /// until the server has given each its real id.
    #[serde(skip)]
    pub placeholders: BTreeMap<i64, String>,
    /// The docker host id each docker monitor is written with (a stand-in id until created).
    #[serde(skip)]
    pub docker_host_ids: BTreeMap<String, i64>,
    /// The notification ids each monitor is written with (creates always; updates when the file says).
    #[serde(skip)]
    pub monitor_notifications: BTreeMap<String, BTreeSet<i64>>,
    /// Tags to create before anything uses them.
    pub new_tags: Vec<String>,
    pub actions: Vec<Action>,
    pub unchanged: usize,
    /// Things worth a look that change nothing (unmarked monitors sharing a declared name).
    pub warnings: Vec<String>,
    /// The server id of each declared monitor that exists already.
    #[serde(skip)]
    pub ids: BTreeMap<String, i64>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.new_tags.is_empty()
            && self.docker_hosts.is_empty()
            && self.actions.iter().all(|a| matches!(a, Action::Keep { .. }))
            && self.notifications.iter().all(|a| matches!(a, notifications::Action::Keep { .. }))
            && self.status_pages.iter().all(|a| matches!(a, status_pages::Action::Keep { .. }))
            && self.maintenance.iter().all(|a| matches!(a, maintenance::Action::Keep { .. }))
    }

    /// Things of ours left in place by --no-prune.
    pub fn kept(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .notifications
            .iter()
            .filter(|a| matches!(a, notifications::Action::Keep { .. }))
            .map(|a| a.line())
            .collect();
        out.extend(self.actions.iter().filter(|a| matches!(a, Action::Keep { .. })).map(Action::line));
        out.extend(
            self.status_pages
                .iter()
                .filter(|a| matches!(a, status_pages::Action::Keep { .. }))
                .map(status_pages::Action::line),
        );
        out.extend(
            self.maintenance
                .iter()
                .filter(|a| matches!(a, maintenance::Action::Keep { .. }))
                .map(maintenance::Action::line),
        );
        out
    }

    /// One line per change, as the operator reads it.
    pub fn lines(&self) -> Vec<String> {
        let (late, early): (Vec<&notifications::Action>, Vec<&notifications::Action>) =
            self.notifications.iter().partition(|a| matches!(a, notifications::Action::Delete { .. }));
        let mut out: Vec<String> = self.docker_hosts.iter().map(docker_hosts::Action::line).collect();
        out.extend(early.iter().map(|a| a.line()));
        out.extend(self.new_tags.iter().map(|t| format!("+ create tag {t}")));
        out.extend(self.actions.iter().map(Action::line));
        out.extend(self.maintenance.iter().map(maintenance::Action::line));
        out.extend(self.status_pages.iter().map(status_pages::Action::line));
        out.extend(late.iter().map(|a| a.line()));
        out.push(format!("= {} unchanged", self.unchanged));
        out
    }
}

impl Action {
    pub fn name(&self) -> &str {
        match self {
            Action::Create { name }
            | Action::Update { name, .. }
            | Action::Delete { name, .. }
            | Action::Keep { name, .. } => name,
        }
    }

    pub fn line(&self) -> String {
        match self {
            Action::Create { name } => format!("+ create {name}"),
            Action::Update { name, adopt, changes, .. } => {
                let verb = if *adopt { "adopt" } else { "update" };
                let detail: Vec<String> =
                    changes.iter().map(|c| format!("{} {} → {}", c.field, c.from, c.to)).collect();
                match (detail.is_empty(), *adopt) {
                    (true, true) => format!(
                        "~ adopt {name} (unmarked monitor with a declared name; now marked {OWNER_TAG}: {OWNER_VALUE})"
                    ),
                    (true, false) => format!("~ {verb} {name}"),
                    _ => format!("~ {verb} {name}: {}", detail.join(", ")),
                }
            }
            Action::Delete { name, duplicate: false, .. } => format!("- delete {name}"),
            Action::Delete { name, duplicate: true, id } => format!("- delete {name} (duplicate #{id})"),
            Action::Keep { name, id } => {
                format!("! keep {name} (#{id}): no longer declared; kept because of --no-prune")
            }
        }
    }
}

/// A number as the web UI would send it: whole numbers without a fraction.
fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 { json!(f as i64) } else { json!(f) }
}

/// A payload field: the server's key, the file's name for it, the value.
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub value: Value,
}

/// The server ids a monitor's payload refers to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refs {
    /// The group's id.
    pub parent: Option<i64>,
    /// A docker monitor's docker host id.
    pub docker_host: Option<i64>,
}

impl From<Option<i64>> for Refs {
    fn from(parent: Option<i64>) -> Refs {
        Refs { parent, docker_host: None }
    }
}

/// Every column kuma-sync manages for `m`, with an explicit value wherever the database default
/// differs from what the web UI would send.
pub fn fields(m: &Monitor, generation: Generation, refs: impl Into<Refs>) -> Vec<Field> {
    let Refs { parent, docker_host } = refs.into();
    let f = |key, label, value| Field { key, label, value };
    let opt = |s: &Option<String>| s.clone().map(Value::String).unwrap_or(Value::Null);
    let mut out = vec![
        f("type", "type", json!(m.kind.as_str())),
        f("description", "description", opt(&m.description)),
        f("interval", "interval", json!(m.interval)),
        f("retryInterval", "retry_interval", json!(m.retry_interval)),
        f("resendInterval", "resend_interval", json!(m.resend_interval)),
        f("maxretries", "maxretries", json!(m.maxretries)),
        f("timeout", "timeout", num(m.timeout)),
        f("upsideDown", "upside_down", json!(m.upside_down)),
        f("parent", "parent", parent.map(Value::from).unwrap_or(Value::Null)),
        f("accepted_statuscodes", "accepted_status_codes", json!(m.accepted_status_codes)),
        f("method", "method", json!(m.method)),
        f("maxredirects", "max_redirects", json!(m.max_redirects)),
        f("ignoreTls", "ignore_tls", json!(m.ignore_tls)),
        f("expiryNotification", "expiry_notification", json!(m.expiry_notification)),
        f("httpBodyEncoding", "http_body_encoding", json!("json")),
        f("dns_resolve_type", "dns_resolve_type", json!(m.dns_resolve_type)),
        f("dns_resolve_server", "dns_resolve_server", json!(m.dns_resolve_server)),
    ];
    if m.kind.has_url() {
        out.push(f("url", "url", opt(&m.url)));
    }
    // The type-specific columns of the other types are cleared (null), not left as they were: the server
    // keeps every column an edit does not send, so a monitor whose type changed would carry the old
    // type's values, and a push token left behind keeps receiving pushes (the server finds push
    // monitors by token alone, whatever their type).
    let only = |applies: bool, v: Value| if applies { v } else { Value::Null };
    out.push(f("hostname", "hostname", only(matches!(m.kind, Kind::Ping | Kind::Port | Kind::Dns), opt(&m.hostname))));
    out.push(f(
        "port",
        "port",
        only(matches!(m.kind, Kind::Port | Kind::Dns), m.port.map(Value::from).unwrap_or(Value::Null)),
    ));
    out.push(f("keyword", "keyword", only(m.kind == Kind::Keyword, opt(&m.keyword))));
    if m.kind == Kind::Keyword {
        out.push(f("invertKeyword", "invert_keyword", json!(m.invert_keyword)));
    }
    out.push(f("jsonPath", "json_path", only(m.kind == Kind::JsonQuery, opt(&m.json_path))));
    out.push(f("expectedValue", "expected_value", only(m.kind == Kind::JsonQuery, opt(&m.expected_value))));
    if m.kind == Kind::JsonQuery && generation == Generation::V2 {
        out.push(f("jsonPathOperator", "json_path_operator", json!("==")));
    }
    out.push(f("pushToken", "push_token", only(m.kind == Kind::Push, m.push_token_value())));
    out.push(f("docker_container", "docker_container", only(m.kind == Kind::Docker, opt(&m.docker_container))));
    out.push(f(
        "docker_host",
        "docker_host",
        only(m.kind == Kind::Docker, docker_host.map(Value::from).unwrap_or(Value::Null)),
    ));
    match generation {
        Generation::V1 => out.push(f("packetSize", "packet_size", json!(56))),
        Generation::V2 => out.push(f("conditions", "conditions", json!([]))),
    }
    out
}

/// The JSON `add` is sent: the managed fields, the name, the notifications. Never an `id`.
pub fn payload(
    m: &Monitor,
    generation: Generation,
    refs: impl Into<Refs>,
    notifications: &BTreeSet<i64>,
) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("name".into(), json!(m.name));
    for f in fields(m, generation, refs) {
        p.insert(f.key.into(), f.value);
    }
    p.insert("notificationIDList".into(), notification_list(notifications));
    p
}

pub fn notification_list(ids: &BTreeSet<i64>) -> Value {
    Value::Object(ids.iter().map(|id| (id.to_string(), Value::Bool(true))).collect())
}

/// `getMonitor`'s answer with our fields laid over it, minus what the server would refuse.
pub fn merge_for_edit(
    current: &Map<String, Value>,
    m: &Monitor,
    generation: Generation,
    refs: impl Into<Refs>,
    notifications: Option<&BTreeSet<i64>>,
) -> Map<String, Value> {
    let refs = refs.into();
    let mut p = current.clone();
    for k in READ_ONLY_KEYS {
        p.remove(*k);
    }
    if generation == Generation::V1 {
        // 1.23 has no such columns; a value that came from somewhere else must not be echoed back.
        p.remove("conditions");
        p.remove("jsonPathOperator");
    }
    p.insert("name".into(), json!(m.name));
    for f in fields(m, generation, refs) {
        p.insert(f.key.into(), f.value);
    }
    if let Some(ids) = notifications {
        p.insert("notificationIDList".into(), notification_list(ids));
    }
    p
}

/// Equal as the server means it: 1 is true, "30" is 30, null is "".
pub fn same(want: &Value, have: Option<&Value>) -> bool {
    let have = have.unwrap_or(&Value::Null);
    match (want, have) {
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (Value::Bool(b), Value::Number(n)) | (Value::Number(n), Value::Bool(b)) => {
            n.as_f64() == Some(if *b { 1.0 } else { 0.0 })
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Number(a), Value::String(s)) | (Value::String(s), Value::Number(a)) => {
            s.trim().parse::<f64>().ok() == a.as_f64()
        }
        (Value::Array(_), Value::String(s)) => serde_json::from_str::<Value>(s).is_ok_and(|h| same(want, Some(&h))),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, Some(y))),
        _ => want == have,
    }
}

pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "none".into(),
        Some(Value::Number(n)) => n.as_f64().map(num).unwrap_or(Value::Number(n.clone())).to_string(),
        Some(v) => v.to_string(),
    }
}

fn show_secret(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "none".into(),
        Some(Value::String(s)) if s.is_empty() => "none".into(),
        Some(_) => "(secret)".into(),
    }
}

fn show_names<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<&String> = names.into_iter().collect();
    if names.is_empty() {
        "[]".into()
    } else {
        format!("[{}]", names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", "))
    }
}

fn show_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> =
        tags.into_iter().map(|(n, v)| if v.is_empty() { n.to_owned() } else { format!("{n}={v}") }).collect();
    format!("[{}]", parts.join(", "))
}

/// Which server monitor stands for each declared name, and which of ours are left over.
struct Matching<'a> {
    matched: BTreeMap<&'a str, &'a ServerMonitor>,
    leftover: Vec<(&'a ServerMonitor, bool)>,
    warnings: Vec<String>,
}

fn match_monitors<'a>(declared: &'a [Monitor], server: &'a Server) -> Matching<'a> {
    let names: BTreeSet<&str> = declared.iter().map(|m| m.name.as_str()).collect();
    let mut matched: BTreeMap<&str, &ServerMonitor> = BTreeMap::new();
    let mut leftover = vec![];
    let mut warnings = vec![];
    // Ours first (lowest id), then an unmarked one to adopt; other monitors of ours with the same name
    // are duplicates to remove, other unmarked ones are not ours to touch.
    for owned_pass in [true, false] {
        for sm in server.monitors.iter().filter(|m| m.owned() == owned_pass) {
            let declared_name = names.get(sm.name.as_str()).copied();
            match declared_name {
                Some(n) if !matched.contains_key(n) => {
                    matched.insert(n, sm);
                }
                Some(_) if owned_pass => leftover.push((sm, true)),
                None if owned_pass => leftover.push((sm, false)),
                Some(n) => warnings.push(format!(
                    "another monitor named {n:?} (#{}) is not marked as kuma-sync's; it is left alone (#{} stands for the declared one)",
                    sm.id, matched[n].id
                )),
                None => {}
            }
        }
    }
    Matching { matched, leftover, warnings }
}

/// Compare the declared monitors with the server and return what to change. Errors are input
/// errors that only the server can reveal (an unknown notification name, a push token too long for
/// this server): they are found before anything is written.
pub fn plan(file: &str, declared: &Declared, server: &Server, prune: bool) -> Result<Plan, BadInput> {
    let generation = server.generation;
    for (i, n) in declared.notifications.iter().enumerate() {
        if !notifications::type_known(&n.kind, generation == Generation::V2) {
            return Err(BadInput {
                file: file.into(),
                entry: format!("notifications: {}", crate::monitors::entry_label(i + 1, Some(&n.name))),
                field: Some("type".into()),
                problem: format!(
                    "Uptime Kuma {} has no notification type {:?} (it came with 2.0)",
                    server.version, n.kind
                ),
            });
        }
    }
    let np = notifications::plan(&declared.notifications, &server.notifications, prune);
    let (mut projected, payloads, placeholders) = project(declared, server, &np);
    // Docker hosts created in this run stand in under negative ids until the server gives theirs.
    let dp = docker_hosts::plan(&declared.docker_hosts, &server.docker_hosts);
    let mut docker_payloads = BTreeMap::new();
    let mut docker_placeholders = BTreeMap::new();
    for (i, a) in dp.actions.iter().enumerate() {
        let Some(h) = declared.docker_hosts.iter().find(|h| h.name == a.name()) else { continue };
        docker_payloads.insert(h.name.clone(), docker_hosts::payload(h));
        if let docker_hosts::Action::Create { name } = a {
            let id = -(i as i64) - 1;
            docker_placeholders.insert(id, name.clone());
            projected.docker_hosts.push(ServerDockerHost {
                id,
                name: name.clone(),
                kind: h.kind.clone(),
                daemon: h.daemon.clone(),
            });
        }
    }
    let mut p = plan_monitors(file, &declared.monitors, &projected, prune)?;
    // Status pages: their groups as the file gives them, plus the monitors that name a page (in its first
    // group, or "Services" when it declares none), compared by monitor name.
    let mut want_groups: BTreeMap<String, status_pages::GroupNames> = BTreeMap::new();
    for page in &declared.status_pages {
        let mut groups: status_pages::GroupNames =
            page.groups.iter().map(|g| (g.name.clone(), g.monitors.clone())).collect();
        for m in declared.monitors.iter().filter(|m| m.status_pages.contains(&page.slug)) {
            if groups.is_empty() {
                groups.push(("Services".into(), vec![]));
            }
            if !groups[0].1.contains(&m.name) {
                groups[0].1.push(m.name.clone());
            }
        }
        want_groups.insert(page.slug.clone(), groups);
    }
    let monitor_name = |id: i64| server.monitor_name(id);
    let sp = status_pages::plan(&declared.status_pages, &want_groups, &server.status_pages, &monitor_name, prune);
    for a in &sp.actions {
        let (status_pages::Action::Create { slug } | status_pages::Action::Update { slug, .. }) = a else { continue };
        let Some(page) = declared.status_pages.iter().find(|p| &p.slug == slug) else { continue };
        let current = server.status_pages.iter().find(|s| &s.slug == slug);
        p.status_page_saves.insert(
            slug.clone(),
            StatusPageSave {
                title: page.title.clone(),
                config: status_pages::config(page, current.map(|c| &c.config)),
                icon: current
                    .and_then(|c| c.config.get("icon"))
                    .and_then(Value::as_str)
                    .filter(|i| !i.is_empty())
                    .unwrap_or("/icon.svg")
                    .to_owned(),
                groups: want_groups.get(slug).cloned().unwrap_or_default(),
                group_ids: current
                    .and_then(|c| c.groups.as_ref())
                    .map(|gs| gs.iter().map(|(id, name, _)| (name.clone(), *id)).collect())
                    .unwrap_or_default(),
            },
        );
    }
    p.status_pages = sp.actions;
    let (actions, saves, unchanged) = plan_maintenance(file, declared, server, prune)?;
    p.maintenance = actions;
    p.maintenance_saves = saves;
    p.unchanged += unchanged;
    p.unchanged += sp.unchanged;
    p.docker_hosts = dp.actions;
    p.docker_host_payloads = docker_payloads;
    p.docker_placeholders = docker_placeholders;
    p.unchanged += dp.unchanged;
    p.notifications = np.actions;
    p.notification_payloads = payloads;
    p.placeholders = placeholders;
    p.unchanged += np.unchanged;
    p.warnings.splice(0..0, np.warnings);
    Ok(p)
}

type Projection = (Server, BTreeMap<String, Map<String, Value>>, BTreeMap<i64, String>);

type MaintenancePlan = (Vec<maintenance::Action>, BTreeMap<String, MaintenanceSave>, usize);

/// What one maintenance create/update writes.
#[derive(Debug, Clone)]
pub struct MaintenanceSave {
    /// What `addMaintenance`/`editMaintenance` are sent.
    pub payload: Map<String, Value>,
    /// The monitors it affects, by name.
    pub monitors: Vec<String>,
    /// The status pages that show it, by slug; `None` leaves the server's alone.
    pub status_pages: Option<Vec<String>>,
}

/// A slug a window names must be a page this run leaves in place: declared, or on the server and not
/// about to be pruned (a page deleted in the same run would take the window's link with it, and the next
/// run would fail on a slug that no longer exists).
fn check_maintenance_pages(file: &str, declared: &Declared, server: &Server, prune: bool) -> Result<(), BadInput> {
    for (i, w) in declared.maintenance.iter().enumerate() {
        for slug in w.status_pages.iter().flatten() {
            if declared.status_pages.iter().any(|p| &p.slug == slug) {
                continue;
            }
            let on_server = server.status_pages.iter().find(|p| &p.slug == slug);
            let problem = match on_server {
                Some(p) if p.owned() && prune => format!(
                    "status page {slug:?} is kuma-sync's and no longer declared, so this sync deletes it: declare it in \"status_pages\" or drop it here"
                ),
                Some(_) => continue,
                None => {
                    let known: Vec<&str> = server.status_pages.iter().map(|p| p.slug.as_str()).collect();
                    format!(
                        "neither the file nor the server has a status page {slug:?} (the server has: {})",
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    )
                }
            };
            return Err(BadInput {
                file: file.into(),
                entry: format!("maintenance: {}", crate::monitors::entry_label(i + 1, Some(&w.title))),
                field: Some("status_pages".into()),
                problem,
            });
        }
    }
    Ok(())
}

/// Maintenance windows by title: ours first (lowest id), then an unmarked one to adopt; other windows of
/// ours with a declared title, and ours no longer declared, are deleted (or kept with --no-prune).
fn plan_maintenance(
    file: &str,
    declared: &Declared,
    server: &Server,
    prune: bool,
) -> Result<MaintenancePlan, BadInput> {
    check_maintenance_pages(file, declared, server, prune)?;
    let mut actions = vec![];
    let mut saves = BTreeMap::new();
    let mut unchanged = 0;
    let mut taken: BTreeSet<i64> = BTreeSet::new();
    let slug_of = |id: i64| {
        server.status_pages.iter().find(|p| p.id == id).map(|p| p.slug.clone()).unwrap_or_else(|| format!("#{id}"))
    };
    for w in &declared.maintenance {
        let matched = server
            .maintenance
            .iter()
            .filter(|s| s.title() == w.title && s.owned())
            .chain(server.maintenance.iter().filter(|s| s.title() == w.title && !s.owned()))
            .find(|s| !taken.contains(&s.id));
        saves.insert(
            w.title.clone(),
            MaintenanceSave {
                payload: maintenance::payload(w),
                monitors: w.monitors.clone(),
                status_pages: w.status_pages.clone(),
            },
        );
        let Some(s) = matched else {
            actions.push(maintenance::Action::Create { title: w.title.clone() });
            continue;
        };
        taken.insert(s.id);
        let mut changes = maintenance::changes(w, s);
        let have: BTreeSet<String> = s.monitors.iter().flatten().map(|id| server.monitor_name(*id)).collect();
        let want: BTreeSet<String> = w.monitors.iter().cloned().collect();
        let monitors = have != want;
        if monitors {
            changes.push(Change { field: "monitors".into(), from: show_names(&have), to: show_names(&want) });
        }
        let mut status_pages = false;
        if let Some(slugs) = &w.status_pages {
            let have: BTreeSet<String> = s.status_pages.iter().flatten().map(|id| slug_of(*id)).collect();
            let want: BTreeSet<String> = slugs.iter().cloned().collect();
            status_pages = have != want;
            if status_pages {
                changes.push(Change { field: "status_pages".into(), from: show_names(&have), to: show_names(&want) });
            }
        }
        let adopt = !s.owned();
        let edit = adopt || changes.iter().any(|c| c.field != "monitors" && c.field != "status_pages");
        if !edit && !monitors && !status_pages {
            unchanged += 1;
            continue;
        }
        actions.push(maintenance::Action::Update {
            title: w.title.clone(),
            id: s.id,
            adopt,
            edit,
            monitors,
            status_pages,
            changes,
        });
    }
    for s in server.maintenance.iter().filter(|s| s.owned() && !taken.contains(&s.id)) {
        let (title, id) = (s.title().to_owned(), s.id);
        actions.push(if prune {
            maintenance::Action::Delete { title, id }
        } else {
            maintenance::Action::Keep { title, id }
        });
    }
    Ok((actions, saves, unchanged))
}

/// What one `saveStatusPage` sends.
#[derive(Debug, Clone)]
pub struct StatusPageSave {
    pub title: String,
    pub config: Map<String, Value>,
    /// The logo as the server has it (a URL; the default one for a new page).
    pub icon: String,
    /// Group names and their monitors' names, in order.
    pub groups: status_pages::GroupNames,
    /// The ids of the groups the page has now, by name, so a group keeps its id.
    pub group_ids: BTreeMap<String, i64>,
}

/// The server as it will be once the notification changes are made — new ones under stand-in
/// (negative) ids, deleted ones gone from every monitor, `apply_existing` applied as the server applies
/// it on every save — so the monitors are compared with what they will meet.
fn project(declared: &Declared, server: &Server, np: &notifications::NotificationPlan) -> Projection {
    let mut s = server.clone();
    let mut payloads = BTreeMap::new();
    let mut placeholders = BTreeMap::new();
    let by_name: BTreeMap<&str, &notifications::Notification> =
        declared.notifications.iter().map(|n| (n.name.as_str(), n)).collect();
    s.notification_for = np.ids.clone();
    let mut next = -1;
    for a in &np.actions {
        let applied = match a {
            notifications::Action::Create { name } => {
                let n = by_name[name.as_str()];
                let payload = notifications::payload(n, None);
                s.notifications.push(ServerNotification {
                    id: next,
                    name: name.clone(),
                    is_default: n.default,
                    config: payload.clone(),
                });
                payloads.insert(name.clone(), payload);
                placeholders.insert(next, name.clone());
                s.notification_for.insert(name.clone(), next);
                next -= 1;
                n.apply_existing.then_some(next + 1)
            }
            notifications::Action::Update { name, id, .. } => {
                let n = by_name[name.as_str()];
                let Some(sn) = s.notifications.iter_mut().find(|x| x.id == *id) else { continue };
                let payload = notifications::payload(n, Some(&sn.config));
                sn.is_default = n.default;
                sn.config = payload.clone();
                payloads.insert(name.clone(), payload);
                n.apply_existing.then_some(*id)
            }
            notifications::Action::Delete { id, .. } => {
                s.notifications.retain(|x| x.id != *id);
                for m in &mut s.monitors {
                    m.notifications.remove(id);
                }
                None
            }
            notifications::Action::Keep { .. } => None,
        };
        if let Some(id) = applied {
            for m in &mut s.monitors {
                m.notifications.insert(id);
            }
        }
    }
    (s, payloads, placeholders)
}

fn plan_monitors(file: &str, declared: &[Monitor], server: &Server, prune: bool) -> Result<Plan, BadInput> {
    let generation = server.generation;
    let label = |m: &Monitor| {
        let n = declared.iter().position(|d| d.name == m.name).unwrap_or(0) + 1;
        format!("entry {n} ({:?})", m.name)
    };
    for m in declared {
        for n in m.notifications.iter().flatten() {
            if server.notification_id(n).is_none() {
                let known: Vec<&str> = server.notifications.iter().map(|n| n.name.as_str()).collect();
                return Err(BadInput {
                    file: file.into(),
                    entry: label(m),
                    field: Some("notifications".into()),
                    problem: format!(
                        "the server has no notification named {n:?} (it has: {})",
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    ),
                });
            }
        }
        if let Some(h) = m.docker_host.as_ref().filter(|h| server.docker_host_id(h).is_none()) {
            let known: Vec<&str> = server.docker_hosts.iter().map(|h| h.name.as_str()).collect();
            return Err(BadInput {
                file: file.into(),
                entry: label(m),
                field: Some("docker_host".into()),
                problem: format!(
                    "neither the file nor the server has a docker host named {h:?} (the server has: {})",
                    if known.is_empty() { "none".into() } else { known.join(", ") }
                ),
            });
        }
        if let Some(t) = m.push_token.as_ref().filter(|t| t.len() > generation.max_push_token()) {
            return Err(BadInput {
                file: file.into(),
                entry: label(m),
                field: Some("push_token".into()),
                problem: format!(
                    "{} characters; Uptime Kuma {} takes at most {}",
                    t.len(),
                    server.version,
                    generation.max_push_token()
                ),
            });
        }
    }

    let matching = match_monitors(declared, server);
    let mut new_tags: BTreeSet<String> = BTreeSet::new();
    // Needed as soon as one monitor is created or adopted (a file with no monitors needs none).
    if !server.tags.contains_key(OWNER_TAG) && !declared.is_empty() {
        new_tags.insert(OWNER_TAG.into());
    }
    for m in declared {
        for t in m.tags.iter().flatten() {
            if !server.tags.contains_key(&t.name) {
                new_tags.insert(t.name.clone());
            }
        }
    }

    let mut actions = vec![];
    let mut unchanged = 0;
    for m in parents_first(declared) {
        let Some(sm) = matching.matched.get(m.name.as_str()) else {
            actions.push(Action::Create { name: m.name.clone() });
            continue;
        };
        let parent_id = m.parent.as_deref().and_then(|p| matching.matched.get(p)).map(|p| p.id);
        let docker_host = m.docker_host.as_deref().and_then(|h| server.docker_host_id(h));
        let mut changes = vec![];
        let mut edit = false;
        for f in fields(m, generation, Refs { parent: parent_id, docker_host }) {
            if f.key == "docker_host" && !same(&f.value, sm.raw.get(f.key)) {
                edit = true;
                let have = sm.raw.get(f.key).and_then(as_id);
                changes.push(Change {
                    field: "docker_host".into(),
                    from: have.map(|id| server.docker_host_name(id)).unwrap_or_else(|| "none".into()),
                    to: m.docker_host.clone().unwrap_or_else(|| "none".into()),
                });
                continue;
            }
            if f.key == "parent" {
                let have = sm.parent;
                let differs = match (&m.parent, parent_id) {
                    (None, _) => have.is_some(),
                    (Some(_), Some(want)) => have != Some(want),
                    // The group is created in this run: the child moves to it.
                    (Some(_), None) => true,
                };
                if differs {
                    edit = true;
                    changes.push(Change {
                        field: "parent".into(),
                        from: have.map(|id| server.monitor_name(id)).unwrap_or_else(|| "none".into()),
                        to: m.parent.clone().unwrap_or_else(|| "none".into()),
                    });
                }
                continue;
            }
            // The server reads a missing body encoding as JSON.
            let have = match (f.key, sm.raw.get(f.key)) {
                ("httpBodyEncoding", None | Some(Value::Null)) => Some(&f.value).filter(|v| *v == "json"),
                (_, have) => have,
            };
            if !same(&f.value, have) {
                edit = true;
                let (from, to) = if f.key == "pushToken" {
                    // A push token is a secret: say that it changes, never what it is.
                    (show_secret(sm.raw.get(f.key)), show_secret(Some(&f.value)))
                } else {
                    (show(sm.raw.get(f.key)), show(Some(&f.value)))
                };
                changes.push(Change { field: f.label.into(), from, to });
            }
        }
        if let Some(names) = &m.notifications {
            let want: BTreeSet<i64> = names.iter().filter_map(|n| server.notification_id(n)).collect();
            if want != sm.notifications {
                edit = true;
                let have: Vec<String> = sm.notifications.iter().map(|id| server.notification_name(*id)).collect();
                changes.push(Change { field: "notifications".into(), from: show_names(&have), to: show_names(names) });
            }
        }
        let mut want_tags: Vec<Tag> = m.tags.clone().unwrap_or_default();
        want_tags.push(Tag { name: OWNER_TAG.into(), value: OWNER_VALUE.into() });
        let has = |t: &Tag| sm.tags.iter().any(|h| h.name == t.name && h.value == t.value);
        let tags_add: Vec<Tag> = want_tags.iter().filter(|t| !has(t)).cloned().collect();
        let tags_remove: Vec<MonitorTagRef> = match &m.tags {
            None => vec![],
            Some(_) => sm
                .tags
                .iter()
                .filter(|h| !want_tags.iter().any(|t| t.name == h.name && t.value == h.value))
                .map(|h| MonitorTagRef { tag_id: h.tag_id, name: h.name.clone(), value: h.value.clone() })
                .collect(),
        };
        if m.tags.is_some() && (tags_remove.len() + tags_add.iter().filter(|t| t.name != OWNER_TAG).count()) > 0 {
            let shown = |ts: Vec<(&str, &str)>| show_tags(ts);
            changes.push(Change {
                field: "tags".into(),
                from: shown(
                    sm.tags
                        .iter()
                        .filter(|t| t.name != OWNER_TAG)
                        .map(|t| (t.name.as_str(), t.value.as_str()))
                        .collect(),
                ),
                to: shown(m.tags.iter().flatten().map(|t| (t.name.as_str(), t.value.as_str())).collect()),
            });
        }
        let set_active = (m.active != sm.active).then_some(m.active);
        if let Some(a) = set_active {
            changes.push(Change { field: "active".into(), from: (!a).to_string(), to: a.to_string() });
        }
        let adopt = !sm.owned();
        if changes.is_empty() && tags_add.is_empty() && tags_remove.is_empty() {
            unchanged += 1;
            continue;
        }
        actions.push(Action::Update {
            name: m.name.clone(),
            id: sm.id,
            adopt,
            changes,
            edit,
            tags_add,
            tags_remove,
            set_active,
        });
    }
    // Children before their groups, so no monitor is ever left pointing at a deleted group.
    let mut leftover = matching.leftover.clone();
    leftover.sort_by_key(|(m, _)| std::cmp::Reverse(depth(server, m)));
    for (sm, duplicate) in leftover {
        let (name, id) = (sm.name.clone(), sm.id);
        actions.push(if prune { Action::Delete { name, id, duplicate } } else { Action::Keep { name, id } });
    }
    Ok(Plan {
        server_version: server.version.clone(),
        generation,
        docker_hosts: vec![],
        docker_host_payloads: BTreeMap::new(),
        docker_placeholders: BTreeMap::new(),
        docker_host_ids: declared
            .iter()
            .filter_map(|m| Some((m.name.clone(), server.docker_host_id(m.docker_host.as_deref()?)?)))
            .collect(),
        notifications: vec![],
        status_pages: vec![],
        status_page_saves: BTreeMap::new(),
        maintenance: vec![],
        maintenance_saves: BTreeMap::new(),
        notification_payloads: BTreeMap::new(),
        placeholders: BTreeMap::new(),
        monitor_notifications: declared
            .iter()
            .filter_map(|m| {
                let ids = if matching.matched.contains_key(m.name.as_str()) {
                    notifications_declared(m, server)?
                } else {
                    notifications_for_create(m, server)
                };
                Some((m.name.clone(), ids))
            })
            .collect(),
        new_tags: new_tags.into_iter().collect(),
        actions,
        unchanged,
        ids: matching.matched.iter().map(|(n, m)| ((*n).to_owned(), m.id)).collect(),
        warnings: matching.warnings.clone(),
    })
}

fn depth(server: &Server, m: &ServerMonitor) -> usize {
    crate::owner::depth(m.parent, server.monitors.len(), |p| {
        server.monitors.iter().find(|x| x.id == p).and_then(|x| x.parent)
    })
}

/// The notification ids a new monitor gets: the declared ones, or the server's defaults (what the
/// web UI pre-selects) when the file does not say.
pub fn notifications_for_create(m: &Monitor, server: &Server) -> BTreeSet<i64> {
    match &m.notifications {
        Some(names) => names.iter().filter_map(|n| server.notification_id(n)).collect(),
        None => server.notifications.iter().filter(|n| n.is_default).map(|n| n.id).collect(),
    }
}

pub fn notifications_declared(m: &Monitor, server: &Server) -> Option<BTreeSet<i64>> {
    m.notifications.as_ref().map(|names| names.iter().filter_map(|n| server.notification_id(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitors::parse;
    use crate::owner::OWNER_COLOR;

    const FILE: &str = r#"[
      {"name": "Nextcloud", "url": "https://cloud.example.com", "interval": 30},
      {"name": "Grafana", "url": "https://grafana.example.com", "keyword": "Grafana", "maxretries": 3},
      {"name": "Infra", "type": "group"},
      {"name": "Router", "type": "ping", "hostname": "192.168.1.1", "parent": "Infra", "tags": ["net"],
       "notifications": ["mail"]},
      {"name": "API", "type": "json-query", "url": "https://api.example.com/health", "json_path": "$.status",
       "expected_value": "ok", "active": false}
    ]"#;

    fn owned_tag() -> Value {
        json!({"tag_id": 1, "name": OWNER_TAG, "value": OWNER_VALUE})
    }

    /// A server as `monitorList` shows it: Nextcloud ours with another interval, Grafana unmarked
    /// (to adopt), Infra ours and right, Old ours and no longer declared, Manual not ours.
    fn server(version: &str) -> Server {
        let d = declared();
        let g = if version.starts_with('1') { Generation::V1 } else { Generation::V2 };
        let as_server = |m: &Monitor, id: i64, tags: Value| {
            let mut p = payload(m, g, None, &BTreeSet::new());
            p.insert("id".into(), json!(id));
            p.insert("active".into(), json!(1));
            p.insert("tags".into(), tags);
            p.insert("pathName".into(), json!(m.name));
            Value::Object(p)
        };
        let mut nc = as_server(&d[0], 1, json!([owned_tag()]));
        nc["interval"] = json!(60);
        nc["timeout"] = json!(48.0);
        let monitors = json!({
            "1": nc,
            "2": as_server(&d[1], 2, json!([])),
            "3": as_server(&d[2], 3, json!([owned_tag()])),
            "4": {"id": 4, "name": "Old", "type": "http", "parent": 3, "tags": [owned_tag()]},
            "5": {"id": 5, "name": "Manual", "type": "http", "tags": []},
        });
        let notifications =
            json!([{"id": 1, "name": "ntfy", "isDefault": true}, {"id": 2, "name": "mail", "isDefault": false}]);
        let tags = json!([{"id": 1, "name": OWNER_TAG, "color": OWNER_COLOR}]);
        Server::from_lists(version, &monitors, &notifications, &tags).unwrap()
    }

    fn only(monitors: Vec<Monitor>) -> Declared {
        Declared { monitors, ..Declared::default() }
    }

    fn declared() -> Vec<Monitor> {
        parse("monitors.json", FILE).unwrap()
    }

    #[test]
    fn plan_lines() {
        let p = plan("monitors.json", &only(declared()), &server("2.0.1"), true).unwrap();
        insta::assert_snapshot!(p.lines().join("\n"), @r"
        + create tag net
        ~ update Nextcloud: interval 60 → 30, timeout 48 → 24
        ~ adopt Grafana (unmarked monitor with a declared name; now marked managed-by: kuma-sync)
        + create API
        + create Router
        - delete Old
        = 1 unchanged
        ");
        assert_eq!(p.new_tags, ["net"]);
        assert_eq!(p.ids.get("Infra"), Some(&3));
        let kept = plan("monitors.json", &only(declared()), &server("2.0.1"), false).unwrap();
        assert!(kept.lines().contains(&"! keep Old (#4): no longer declared; kept because of --no-prune".to_owned()));
    }

    #[test]
    fn payloads_differ_by_generation() {
        let d = declared();
        let api = &d[4];
        let v2 = payload(api, Generation::V2, Some(3), &BTreeSet::from([2]));
        insta::assert_json_snapshot!(v2, @r#"
        {
          "accepted_statuscodes": [
            "200-299"
          ],
          "conditions": [],
          "description": null,
          "dns_resolve_server": "1.1.1.1",
          "dns_resolve_type": "A",
          "docker_container": null,
          "docker_host": null,
          "expectedValue": "ok",
          "expiryNotification": false,
          "hostname": null,
          "httpBodyEncoding": "json",
          "ignoreTls": false,
          "interval": 60,
          "jsonPath": "$.status",
          "jsonPathOperator": "==",
          "keyword": null,
          "maxredirects": 10,
          "maxretries": 0,
          "method": "GET",
          "name": "API",
          "notificationIDList": {
            "2": true
          },
          "parent": 3,
          "port": null,
          "pushToken": null,
          "resendInterval": 0,
          "retryInterval": 60,
          "timeout": 48,
          "type": "json-query",
          "upsideDown": false,
          "url": "https://api.example.com/health"
        }
        "#);
        let v1 = payload(api, Generation::V1, None, &BTreeSet::new());
        assert!(!v1.contains_key("conditions") && !v1.contains_key("jsonPathOperator"));
        assert_eq!(v1["packetSize"], 56);
        assert!(!v1.contains_key("id"));
    }

    #[test]
    fn edits_drop_what_the_server_refuses() {
        let s = server("1.23.16");
        let d = declared();
        let mut current = s.monitors[0].raw.clone();
        current.insert("conditions".into(), json!("[]"));
        current.insert("childrenIDs".into(), json!([]));
        let merged = merge_for_edit(&current, &d[0], Generation::V1, None, None);
        for k in READ_ONLY_KEYS.iter().chain(&["conditions"]) {
            assert!(!merged.contains_key(*k), "{k}");
        }
        assert_eq!(merged["id"], 1);
        assert_eq!(merged["interval"], 30);
    }

    #[test]
    fn values_compare_as_the_server_means_them() {
        assert!(same(&json!(true), Some(&json!(1))));
        assert!(same(&json!(30), Some(&json!(30.0))));
        assert!(same(&json!(30), Some(&json!("30"))));
        assert!(same(&Value::Null, Some(&json!(""))));
        assert!(same(&Value::Null, None));
        assert!(same(&json!(["200-299"]), Some(&json!("[\"200-299\"]"))));
        assert!(!same(&json!(false), Some(&json!(1))));
        assert!(!same(&json!(["200-299"]), Some(&json!(["200-399"]))));
    }

    #[test]
    fn server_only_input_errors_name_the_entry_and_field() {
        let mut d = declared();
        d[3].notifications = Some(vec!["pager".into()]);
        let e = plan("monitors.json", &only(d), &server("2.0.1"), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"monitors.json: entry 4 ("Router"): field "notifications": the server has no notification named "pager" (it has: ntfy, mail)"#
        );
    }

    #[test]
    fn a_type_change_clears_the_old_types_columns_and_a_push_token_is_never_shown() {
        let was_push = parse("m", r#"[{"name":"Job","type":"push","push_token":"job-token-1"}]"#).unwrap();
        let mut p = payload(&was_push[0], Generation::V2, None, &BTreeSet::new());
        p.insert("id".into(), json!(1));
        p.insert("tags".into(), json!([owned_tag()]));
        let server = Server::from_lists("2.0.1", &json!({"1": p}), &json!([]), &json!([])).unwrap();
        let now_http = parse("m", r#"[{"name":"Job","url":"https://job.example.com"}]"#).unwrap();
        let plan = plan("m", &only(now_http.clone()), &server, true).unwrap();
        let line = plan.lines().join("\n");
        assert!(line.contains("type \"push\" → \"http\"") && line.contains("push_token (secret) → none"), "{line}");
        assert!(!line.contains("job-token-1"), "{line}");
        let merged = merge_for_edit(&server.monitors[0].raw, &now_http[0], Generation::V2, None, None);
        assert_eq!(merged["pushToken"], Value::Null);
        assert_eq!(merged["type"], "http");
    }

    #[test]
    fn a_window_s_status_pages_are_planned_by_slug_in_any_order() {
        let d = crate::monitors::parse_file(
            "m.json",
            r#"{"status_pages": [{"slug": "home", "title": "Home"}],
                "maintenance": [{"title": "Move", "status_pages": ["public", "home"]}, {"title": "Quiet"},
                                {"title": "Same", "status_pages": ["public", "home"]}]}"#,
        )
        .unwrap();
        let mut s = Server::from_lists("1.23.16", &json!({}), &json!([]), &json!([])).unwrap();
        let home = status_pages::config(&d.status_pages[0], None);
        s.status_pages = status_pages::from_list(&json!({"7": {"id": 7, "slug": "public", "title": "Public"},
                                                          "8": home}));
        s.status_pages[1].groups = Some(vec![]);
        let window = |id: i64, title: &str, pages: &[i64]| {
            let w = d.maintenance.iter().find(|w| w.title == title).unwrap();
            let mut config = maintenance::payload(w);
            config.insert("id".into(), json!(id));
            ServerMaintenance {
                id,
                config,
                monitors: Some(BTreeSet::new()),
                status_pages: Some(pages.iter().copied().collect()),
            }
        };
        // Quiet's file says nothing of its pages: the server's (public) stay, whatever they are.
        s.maintenance = vec![window(1, "Move", &[7]), window(2, "Quiet", &[7]), window(3, "Same", &[8, 7])];
        let p = plan("m.json", &d, &s, true).unwrap();
        insta::assert_snapshot!(p.lines().join("\n"), @r"
        ~ update maintenance Move: status_pages [public] → [home, public]
        = 3 unchanged
        ");
        insta::assert_json_snapshot!(p.maintenance, @r#"
        [
          {
            "action": "update",
            "title": "Move",
            "id": 1,
            "adopt": false,
            "edit": false,
            "monitors": false,
            "status_pages": true,
            "changes": [
              {
                "field": "status_pages",
                "from": "[public]",
                "to": "[home, public]"
              }
            ]
          }
        ]
        "#);
        assert_eq!(p.maintenance_saves["Move"].status_pages, Some(vec!["home".to_owned(), "public".to_owned()]));
        assert_eq!(p.maintenance_saves["Quiet"].status_pages, None);
    }

    #[test]
    fn versions() {
        assert_eq!(Generation::from_version("1.23.16"), Some(Generation::V1));
        assert_eq!(Generation::from_version("2.0.1"), Some(Generation::V2));
        assert_eq!(Generation::from_version("2.0.0-beta.2"), Some(Generation::V2));
        assert_eq!(Generation::from_version("nightly"), None);
    }
}
