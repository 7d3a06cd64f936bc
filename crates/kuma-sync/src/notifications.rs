//! Notifications, declared: parsed and checked offline, compared with what the server keeps, planned as
//! data.
//!
//! Uptime Kuma keeps a notification as a row (name, is_default) plus `config`: the JSON text of the whole
//! object the client saved. That text is what is compared — never an echo of it — and only the keys the
//! file manages (type, default, apply_existing, each setting and secret it names) and the ownership mark.
//! Keys the file does not name (added in the web UI) are kept as they are. Secrets come from credentials
//! only; their values are compared but never shown.

use crate::monitors::{BadInput, entry_label, kind_of};
use crate::plan::{Change, same, show};
use homey_kit::Exit;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::owner::NOTIFICATION_KEY as OWNER_KEY;

/// Keys of the saved object that are not a provider's settings.
const RESERVED: &[&str] = &["name", "type", "isDefault", "applyExisting", "id", "userId", "active", OWNER_KEY];

/// The notification types of Uptime Kuma 1.23 (server/notification.js).
const TYPES_1: &[&str] = &[
    "alerta",
    "AlertNow",
    "AliyunSMS",
    "apprise",
    "Bark",
    "clicksendsms",
    "smsc",
    "DingDing",
    "discord",
    "Feishu",
    "FreeMobile",
    "GoogleChat",
    "gorush",
    "gotify",
    "HomeAssistant",
    "Kook",
    "line",
    "LineNotify",
    "lunasea",
    "matrix",
    "mattermost",
    "nostr",
    "ntfy",
    "octopush",
    "OneBot",
    "Opsgenie",
    "PagerDuty",
    "FlashDuty",
    "PagerTree",
    "promosms",
    "pushbullet",
    "PushDeer",
    "pushover",
    "pushy",
    "rocket.chat",
    "ServerChan",
    "serwersms",
    "signal",
    "SMSManager",
    "slack",
    "SMSEagle",
    "smtp",
    "squadcast",
    "stackfield",
    "teams",
    "PushByTechulus",
    "telegram",
    "twilio",
    "Splunk",
    "webhook",
    "WeCom",
    "GoAlert",
    "ZohoCliq",
];
/// The types 2.0 added.
const TYPES_2_ONLY: &[&str] = &[
    "Bitrix24",
    "CallMeBot",
    "Elks",
    "GrafanaOncall",
    "HeiiOnCall",
    "Keep",
    "nextcloudtalk",
    "OneChat",
    "Onesender",
    "pumble",
    "PushPlus",
    "SIGNL4",
    "SMSPartner",
    "threema",
    "SevenIO",
    "whapi",
    "waha",
    "evolution",
    "gtxmessaging",
    "Cellsynt",
    "WPush",
    "SendGrid",
    "Brevo",
    "YZJ",
    "SMSPlanet",
    "SpugPush",
    "notifery",
];

/// Whether a server generation knows this type.
pub fn type_known(kind: &str, v2: bool) -> bool {
    TYPES_1.contains(&kind) || (v2 && TYPES_2_ONLY.contains(&kind))
}

/// One declared notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub default: bool,
    pub apply_existing: bool,
    /// Provider settings as the server stores them (`ntfytopic`, `discordWebhookUrl`, …).
    pub settings: BTreeMap<String, Value>,
    /// Setting key → the credential that holds its value.
    pub secrets: BTreeMap<String, String>,
    /// The secrets' values once read (never serialised, never shown).
    #[serde(skip)]
    pub resolved: BTreeMap<String, String>,
}

const KEYS: &[&str] = &["name", "type", "default", "apply_existing", "settings", "secrets"];

pub fn parse(file: &str, entries: &[Value]) -> Result<Vec<Notification>, BadInput> {
    let mut out: Vec<Notification> = vec![];
    for (i, entry) in entries.iter().enumerate() {
        let n = i + 1;
        let err = |label: String, field: Option<&str>, problem: String| BadInput {
            file: file.into(),
            entry: format!("notifications: {label}"),
            field: field.map(str::to_owned),
            problem,
        };
        let Value::Object(o) = entry else {
            return Err(err(entry_label(n, None), None, format!("expected an object, got {}", kind_of(entry))));
        };
        let name = o.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let label = entry_label(n, name);
        let Some(name) = name else {
            return Err(err(label, Some("name"), "required (it is the notification's identity)".into()));
        };
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(label, Some(k), format!("unknown key (a notification has {})", KEYS.join(", "))));
        }
        let kind = match o.get("type") {
            Some(Value::String(t)) if type_known(t, true) => t.clone(),
            Some(Value::String(t)) => {
                let near: Vec<&&str> =
                    TYPES_1.iter().chain(TYPES_2_ONLY).filter(|k| k.eq_ignore_ascii_case(t)).collect();
                let hint = near.first().map(|k| format!("; did you mean {k:?}?")).unwrap_or_default();
                return Err(err(
                    label,
                    Some("type"),
                    format!("{t:?} is not a notification type Uptime Kuma knows{hint}"),
                ));
            }
            Some(v) => return Err(err(label, Some("type"), format!("expected a string, got {}", kind_of(v)))),
            None => return Err(err(label, Some("type"), "required (ntfy, discord, smtp, …)".into())),
        };
        let flag = |key: &str| match o.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(err(label.clone(), Some(key), format!("expected true or false, got {}", kind_of(v)))),
        };
        let (default, apply_existing) = (flag("default")?, flag("apply_existing")?);
        let mut settings = BTreeMap::new();
        match o.get("settings") {
            None | Some(Value::Null) => {}
            Some(Value::Object(s)) => {
                for (k, v) in s {
                    if RESERVED.contains(&k.as_str()) {
                        return Err(err(
                            label,
                            Some("settings"),
                            format!("{k:?} is not a setting (name, type and default are the entry's own keys)"),
                        ));
                    }
                    if matches!(v, Value::Object(_) | Value::Array(_)) {
                        return Err(err(
                            label,
                            Some("settings"),
                            format!("{k:?}: expected a string, number, true/false or null"),
                        ));
                    }
                    settings.insert(k.clone(), v.clone());
                }
            }
            Some(v) => return Err(err(label, Some("settings"), format!("expected an object, got {}", kind_of(v)))),
        }
        let mut secrets = BTreeMap::new();
        match o.get("secrets") {
            None | Some(Value::Null) => {}
            Some(Value::Object(s)) => {
                for (k, v) in s {
                    let Some(cred) = v.as_str().filter(|c| crate::monitors::credential_name_ok(c) && !c.is_empty())
                    else {
                        return Err(err(
                            label,
                            Some("secrets"),
                            format!("{k:?}: expected a credential name, got {}", kind_of(v)),
                        ));
                    };
                    if RESERVED.contains(&k.as_str()) || settings.contains_key(k) {
                        return Err(err(
                            label,
                            Some("secrets"),
                            format!("{k:?} is also given in settings (a secret comes from its credential only)"),
                        ));
                    }
                    secrets.insert(k.clone(), cred.to_owned());
                }
            }
            Some(v) => {
                return Err(err(
                    label,
                    Some("secrets"),
                    format!("expected an object of setting → credential, got {}", kind_of(v)),
                ));
            }
        }
        if let Some(first) = out.iter().position(|x| x.name == name) {
            return Err(err(label, Some("name"), format!("duplicate name: entry {} has the same name", first + 1)));
        }
        out.push(Notification {
            name: name.to_owned(),
            kind,
            default,
            apply_existing,
            settings,
            secrets,
            resolved: BTreeMap::new(),
        });
    }
    Ok(out)
}

/// Read every secret from its credential.
pub fn resolve_credentials(
    file: &str,
    notifications: &mut [Notification],
    load: &dyn Fn(&str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    for (i, n) in notifications.iter_mut().enumerate() {
        for (key, cred) in &n.secrets {
            let value = load(cred).map_err(|e| {
                let exit = Exit::of(&e);
                homey_kit::exit::coded(
                    exit,
                    anyhow::anyhow!(
                        "{file}: notifications: {}: field \"secrets\": {key:?}: {e:#}",
                        entry_label(i + 1, Some(&n.name))
                    ),
                )
            })?;
            n.resolved.insert(key.clone(), value);
        }
    }
    Ok(())
}

/// The bytes the hash gate digests: the declarations and the secrets' values (digested, never stored).
pub fn canonical(notifications: &[Notification]) -> Vec<u8> {
    let mut sorted: Vec<&Notification> = notifications.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let docs: Vec<Value> = sorted.iter().map(|n| json!([n, n.resolved])).collect();
    serde_json::to_vec(&docs).expect("notifications serialise")
}

/// A notification as the server has it.
#[derive(Debug, Clone)]
pub struct ServerNotification {
    pub id: i64,
    pub name: String,
    pub is_default: bool,
    /// The parsed `config` text (empty when it is not a JSON object).
    pub config: Map<String, Value>,
}

impl ServerNotification {
    pub fn owned(&self) -> bool {
        self.config.get(OWNER_KEY).and_then(Value::as_str) == Some(crate::owner::OWNER_VALUE)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create { name: String },
    Update { name: String, id: i64, adopt: bool, changes: Vec<Change> },
    Delete { name: String, id: i64, duplicate: bool },
    Keep { name: String, id: i64 },
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
            Action::Create { name } => format!("+ create notification {name}"),
            Action::Update { name, adopt, changes, .. } => {
                let verb = if *adopt { "adopt" } else { "update" };
                let detail: Vec<String> =
                    changes.iter().map(|c| format!("{} {} → {}", c.field, c.from, c.to)).collect();
                if detail.is_empty() {
                    format!("~ {verb} notification {name} (now marked {OWNER_KEY}: {})", crate::owner::OWNER_VALUE)
                } else {
                    format!("~ {verb} notification {name}: {}", detail.join(", "))
                }
            }
            Action::Delete { name, duplicate: false, .. } => format!("- delete notification {name}"),
            Action::Delete { name, duplicate: true, id } => format!("- delete notification {name} (duplicate #{id})"),
            Action::Keep { name, id } => {
                format!("! keep notification {name} (#{id}): no longer declared; kept because of --no-prune")
            }
        }
    }
}

/// What the server must keep for `n`: every managed key of its config.
fn managed(n: &Notification) -> Vec<(String, Value, bool)> {
    let mut out =
        vec![("type".to_owned(), json!(n.kind), false), ("applyExisting".to_owned(), json!(n.apply_existing), false)];
    for (k, v) in &n.settings {
        out.push((k.clone(), v.clone(), false));
    }
    for (k, v) in &n.resolved {
        out.push((k.clone(), json!(v), true));
    }
    out
}

/// The object `addNotification` is sent: the current config (keys the web UI added are kept) with every
/// managed key, the mark, name and default laid over it.
pub fn payload(n: &Notification, current: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut p = current.cloned().unwrap_or_default();
    p.remove("id");
    p.insert("name".into(), json!(n.name));
    p.insert("isDefault".into(), json!(n.default));
    for (k, v, _) in managed(n) {
        p.insert(k, v);
    }
    p.insert(OWNER_KEY.into(), json!(crate::owner::OWNER_VALUE));
    p
}

fn show_value(v: Option<&Value>, secret: bool) -> String {
    if secret {
        return match v {
            None | Some(Value::Null) => "none".into(),
            Some(_) => "(secret)".into(),
        };
    }
    show(v)
}

/// The notification changes, and the number already right.
pub struct NotificationPlan {
    pub actions: Vec<Action>,
    pub unchanged: usize,
    pub warnings: Vec<String>,
    /// Declared name → the server id that stands for it.
    pub ids: BTreeMap<String, i64>,
}

pub fn plan(declared: &[Notification], server: &[ServerNotification], prune: bool) -> NotificationPlan {
    let names: BTreeSet<&str> = declared.iter().map(|n| n.name.as_str()).collect();
    let mut matched: BTreeMap<&str, &ServerNotification> = BTreeMap::new();
    let mut leftover = vec![];
    let mut warnings = vec![];
    let mut sorted: Vec<&ServerNotification> = server.iter().collect();
    sorted.sort_by_key(|n| n.id);
    for owned_pass in [true, false] {
        for sn in sorted.iter().filter(|n| n.owned() == owned_pass) {
            match names.get(sn.name.as_str()).copied() {
                Some(n) if !matched.contains_key(n) => {
                    matched.insert(n, sn);
                }
                Some(_) if owned_pass => leftover.push((*sn, true)),
                None if owned_pass => leftover.push((*sn, false)),
                Some(n) => warnings.push(format!(
                    "another notification named {n:?} (#{}) is not marked as kuma-sync's; it is left alone (#{} stands for the declared one)",
                    sn.id, matched[n].id
                )),
                None => {}
            }
        }
    }
    let mut actions = vec![];
    let mut unchanged = 0;
    for n in declared {
        let Some(sn) = matched.get(n.name.as_str()) else {
            actions.push(Action::Create { name: n.name.clone() });
            continue;
        };
        let mut changes = vec![];
        if n.default != sn.is_default {
            changes.push(Change {
                field: "default".into(),
                from: sn.is_default.to_string(),
                to: n.default.to_string(),
            });
        }
        for (key, want, secret) in managed(n) {
            let have = sn.config.get(&key);
            // applyExisting is absent until someone sets it: absent means false.
            let have_or_false = if key == "applyExisting" && have.is_none() { Some(&Value::Bool(false)) } else { have };
            if !same(&want, have_or_false) {
                let field = match key.as_str() {
                    "applyExisting" => "apply_existing".to_owned(),
                    k => k.to_owned(),
                };
                changes.push(Change { field, from: show_value(have, secret), to: show_value(Some(&want), secret) });
            }
        }
        let adopt = !sn.owned();
        if changes.is_empty() && !adopt {
            unchanged += 1;
            continue;
        }
        actions.push(Action::Update { name: n.name.clone(), id: sn.id, adopt, changes });
    }
    for (sn, duplicate) in leftover {
        let (name, id) = (sn.name.clone(), sn.id);
        actions.push(if prune { Action::Delete { name, id, duplicate } } else { Action::Keep { name, id } });
    }
    NotificationPlan {
        actions,
        unchanged,
        warnings,
        ids: matched.iter().map(|(n, s)| ((*n).to_owned(), s.id)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(v: Value) -> Result<Vec<Notification>, String> {
        parse("m.json", v.as_array().unwrap()).map_err(|e| e.to_string())
    }

    fn server_copy(n: &Notification, id: i64, owned: bool) -> ServerNotification {
        let mut config = payload(n, None);
        if !owned {
            config.remove(OWNER_KEY);
        }
        ServerNotification { id, name: n.name.clone(), is_default: n.default, config }
    }

    #[test]
    fn bad_notifications_name_the_entry_and_the_field() {
        let cases = [
            (json!([{"name": "n"}]), r#"notifications: entry 1 ("n"): field "type": required"#),
            (
                json!([{"name": "n", "type": "Ntfy"}]),
                r#"field "type": "Ntfy" is not a notification type Uptime Kuma knows; did you mean "ntfy"?"#,
            ),
            (json!([{"name": "n", "type": "ntfy", "colour": 1}]), r#"field "colour": unknown key"#),
            (
                json!([{"name": "n", "type": "ntfy", "settings": {"name": "x"}}]),
                r#"field "settings": "name" is not a setting"#,
            ),
            (
                json!([{"name": "n", "type": "ntfy", "settings": {"ntfyaccesstoken": "x"}, "secrets": {"ntfyaccesstoken": "tok"}}]),
                r#"field "secrets": "ntfyaccesstoken" is also given in settings"#,
            ),
            (
                json!([{"name": "n", "type": "ntfy", "secrets": {"ntfyaccesstoken": "../x"}}]),
                r#"field "secrets": "ntfyaccesstoken": expected a credential name"#,
            ),
            (
                json!([{"name": "n", "type": "ntfy"}, {"name": "n", "type": "discord"}]),
                r#"entry 2 ("n"): field "name": duplicate name: entry 1"#,
            ),
            (json!([{"name": "n", "type": "ntfy", "default": "yes"}]), r#"field "default": expected true or false"#),
        ];
        for (input, want) in cases {
            let got = parse_one(input.clone()).unwrap_err();
            assert!(
                got.starts_with("m.json: notifications: ") && got.contains(want),
                "{input}\n  got:  {got}\n  want: {want}"
            );
        }
    }

    #[test]
    fn compares_what_the_server_keeps_and_never_shows_a_secret() {
        let mut d = parse_one(json!([
            {"name": "ntfy", "type": "ntfy", "default": true,
             "settings": {"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "home", "ntfyPriority": 5},
             "secrets": {"ntfyaccesstoken": "ntfy-token"}},
            {"name": "hooks", "type": "webhook", "secrets": {"webhookURL": "hook-url"}}
        ]))
        .unwrap();
        d[0].resolved.insert("ntfyaccesstoken".into(), "tk_1".into());
        d[1].resolved.insert("webhookURL".into(), "https://h.example.com/abc".into());
        // What the server keeps after a save of exactly this, plus a key the web UI added: no change.
        let mut same0 = server_copy(&d[0], 1, true);
        same0.config.insert("ntfyIcon".into(), json!("https://icon"));
        let p = plan(&d[..1], &[same0.clone()], true);
        assert!(p.actions.is_empty() && p.unchanged == 1);
        // The priority kept as a string, as a form may save it: still the same.
        same0.config.insert("ntfyPriority".into(), json!("5"));
        assert!(plan(&d[..1], &[same0.clone()], true).actions.is_empty());

        let mut changed = same0.clone();
        changed.config.insert("ntfytopic".into(), json!("work"));
        changed.config.insert("ntfyaccesstoken".into(), json!("tk_old"));
        let mut unmarked = server_copy(&d[1], 2, false);
        unmarked.config.insert("webhookURL".into(), json!("https://h.example.com/old"));
        let foreign = ServerNotification { id: 3, name: "mail".into(), is_default: false, config: Map::new() };
        let mut gone = server_copy(&d[1], 4, true);
        gone.name = "old".into();
        let p = plan(&d, &[changed, unmarked, foreign, gone], true);
        let lines: Vec<String> = p.actions.iter().map(Action::line).collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        ~ update notification ntfy: ntfytopic "work" → "home", ntfyaccesstoken (secret) → (secret)
        ~ adopt notification hooks: webhookURL (secret) → (secret)
        - delete notification old
        "#);
        assert!(!lines.join("").contains("tk_"), "{lines:?}");
        let edited = payload(&d[0], Some(&same0.config));
        assert_eq!(edited["ntfyIcon"], "https://icon");
        assert_eq!(edited["ntfyaccesstoken"], "tk_1");
        assert_eq!(edited[OWNER_KEY], "kuma-sync");
        assert!(!edited.contains_key("id"));
    }
}
