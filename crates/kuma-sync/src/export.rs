//! `kuma-sync export`: a server's monitors, notifications, docker hosts, status pages and maintenance (with
//! the pages that show it) as a file this tool accepts, so an existing installation is adopted in one step.
//! Pure: the server's lists in, the document out.
//!
//! Fields equal to the file format's defaults are left out, so the file reads like one a person wrote.
//! Secrets never appear in it: a push token or a notification's secret setting becomes a named credential
//! (`push_token_credential`, `secrets`), and its value is handed back separately for the caller to store
//! (0600) or to leave to the operator. Every exported monitor is parsed back with the file's own checks; one
//! that does not pass (a type kuma-sync does not declare, a value the file format refuses) is left out and
//! named.

use crate::monitors::{self, Kind};
use crate::owner::OWNER_TAG;
use crate::owner::{MAINTENANCE_MARK, NOTIFICATION_KEY as OWNER_KEY, STATUS_PAGE_MARK};
use crate::plan::Server;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub struct Export {
    pub doc: Value,
    /// Credential name → its value, for every secret the document names.
    pub secrets: BTreeMap<String, String>,
    /// Monitors left out, with why.
    pub skipped: Vec<String>,
}

/// Setting names that hold secrets: passwords, tokens, keys, and URLs (a webhook URL carries its token).
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // A push server's own address (ntfy, gotify) is not a secret.
    if k.ends_with("serverurl") {
        return false;
    }
    ["password", "passwd", "token", "secret", "apikey", "api_key", "accesskey", "privatekey", "cookie", "dsn"]
        .iter()
        .any(|s| k.contains(s))
        || ["pass", "key", "url", "sid"].iter().any(|s| k.ends_with(s))
}

/// A credential name made of a name and a field: lower case letters, digits and '-'.
fn credential_name(owner: &str, field: &str) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_owned()
    };
    format!("{}-{}", slug(owner), slug(field))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn whole(f: f64) -> Value {
    if f.fract() == 0.0 { json!(f as i64) } else { json!(f) }
}

pub fn export(server: &Server) -> Export {
    let mut secrets = BTreeMap::new();
    let mut skipped = vec![];
    let name_of = |id: i64| server.monitors.iter().find(|m| m.id == id).map(|m| m.name.clone());

    let docker_hosts: Vec<Value> =
        server.docker_hosts.iter().map(|h| json!({"name": h.name, "type": h.kind, "daemon": h.daemon})).collect();

    let mut notifications = vec![];
    for n in &server.notifications {
        let mut settings = Map::new();
        let mut secret_refs = Map::new();
        for (k, v) in &n.config {
            if ["name", "type", "isDefault", "applyExisting", "id", "userId", "active", OWNER_KEY].contains(&k.as_str())
            {
                continue;
            }
            match v {
                Value::String(s) if secret_key(k) && !s.is_empty() => {
                    let cred = credential_name(&n.name, k);
                    secrets.insert(cred.clone(), s.clone());
                    secret_refs.insert(k.clone(), json!(cred));
                }
                Value::Object(_) | Value::Array(_) => {}
                v => {
                    settings.insert(k.clone(), v.clone());
                }
            }
        }
        let mut entry = Map::new();
        entry.insert("name".into(), json!(n.name));
        entry.insert("type".into(), n.config.get("type").cloned().unwrap_or(json!("")));
        if n.is_default {
            entry.insert("default".into(), json!(true));
        }
        if !settings.is_empty() {
            entry.insert("settings".into(), Value::Object(settings));
        }
        if !secret_refs.is_empty() {
            entry.insert("secrets".into(), Value::Object(secret_refs));
        }
        notifications.push(Value::Object(entry));
    }
    let notification_name = |id: i64| server.notifications.iter().find(|n| n.id == id).map(|n| n.name.clone());

    let mut monitors = vec![];
    for m in &server.monitors {
        let raw = &m.raw;
        let kind_text = raw.get("type").and_then(Value::as_str).unwrap_or("http");
        let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == kind_text) else {
            skipped.push(format!("{:?}: type {kind_text:?} is not one kuma-sync declares", m.name));
            continue;
        };
        let mut e = Map::new();
        e.insert("name".into(), json!(m.name));
        if kind != Kind::Http {
            e.insert("type".into(), json!(kind.as_str()));
        }
        let mut put = |key: &str, v: Option<Value>| {
            if let Some(v) = v {
                e.insert(key.into(), v);
            }
        };
        let interval = number(raw.get("interval")).unwrap_or(60.0);
        put("interval", (interval != 60.0).then(|| whole(interval)));
        if kind.has_url() {
            put("url", text(raw.get("url")).map(Value::from));
            let method = text(raw.get("method")).unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
            put("method", (method != "GET").then(|| json!(method)));
            let codes = match raw.get("accepted_statuscodes") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::String(s)) => serde_json::from_str::<Vec<Value>>(s).unwrap_or_default(),
                _ => vec![],
            };
            put("accepted_status_codes", (!codes.is_empty() && codes != [json!("200-299")]).then(|| json!(codes)));
            let redirects = number(raw.get("maxredirects")).unwrap_or(10.0);
            put("max_redirects", (redirects != 10.0).then(|| whole(redirects)));
            put("ignore_tls", truthy(raw.get("ignoreTls")).then_some(json!(true)));
        }
        if matches!(kind, Kind::Ping | Kind::Port | Kind::Dns) {
            put("hostname", text(raw.get("hostname")).map(Value::from));
        }
        if matches!(kind, Kind::Port | Kind::Dns) {
            let port = number(raw.get("port"));
            put("port", port.filter(|p| !(kind == Kind::Dns && *p == 53.0)).map(whole));
        }
        if kind == Kind::Dns {
            let t = text(raw.get("dns_resolve_type")).unwrap_or_else(|| "A".into());
            put("dns_resolve_type", (t != "A").then(|| json!(t)));
            let s = text(raw.get("dns_resolve_server")).unwrap_or_else(|| "1.1.1.1".into());
            put("dns_resolve_server", (s != "1.1.1.1").then(|| json!(s)));
        }
        if kind == Kind::Keyword {
            put("keyword", text(raw.get("keyword")).map(Value::from));
            put("invert_keyword", truthy(raw.get("invertKeyword")).then_some(json!(true)));
        }
        if kind == Kind::JsonQuery {
            put("json_path", text(raw.get("jsonPath")).map(Value::from));
            put("expected_value", text(raw.get("expectedValue")).map(Value::from));
        }
        if kind == Kind::Push {
            if let Some(token) = text(raw.get("pushToken")) {
                let cred = credential_name(&m.name, "push-token");
                secrets.insert(cred.clone(), token);
                put("push_token_credential", Some(json!(cred)));
            }
        }
        if kind == Kind::Docker {
            put("docker_container", text(raw.get("docker_container")).map(Value::from));
            let host = raw.get("docker_host").and_then(Value::as_i64);
            put(
                "docker_host",
                host.and_then(|id| server.docker_hosts.iter().find(|h| h.id == id)).map(|h| json!(h.name)),
            );
        }
        let retry = number(raw.get("retryInterval")).unwrap_or(interval);
        put("retry_interval", (retry != interval).then(|| whole(retry)));
        let resend = number(raw.get("resendInterval")).unwrap_or(0.0);
        put("resend_interval", (resend != 0.0).then(|| whole(resend)));
        let retries = number(raw.get("maxretries")).unwrap_or(0.0);
        put("maxretries", (retries != 0.0).then(|| whole(retries)));
        let timeout = number(raw.get("timeout")).unwrap_or(0.0);
        put("timeout", (timeout != (interval * 0.8).min(48.0)).then(|| whole(timeout)));
        put("upside_down", truthy(raw.get("upsideDown")).then_some(json!(true)));
        put("expiry_notification", truthy(raw.get("expiryNotification")).then_some(json!(true)));
        put("description", text(raw.get("description")).map(Value::from));
        put("active", (!m.active).then_some(json!(false)));
        put("parent", m.parent.and_then(name_of).map(Value::from));
        let tags: Vec<Value> = m
            .tags
            .iter()
            .filter(|t| t.name != OWNER_TAG)
            .map(|t| if t.value.is_empty() { json!(t.name) } else { json!({"name": t.name, "value": t.value}) })
            .collect();
        put("tags", Some(json!(tags)));
        let names: Vec<String> = m.notifications.iter().filter_map(|id| notification_name(*id)).collect();
        put("notifications", Some(json!(names)));
        monitors.push((m.name.clone(), Value::Object(e)));
    }

    // Each monitor must pass the file's own checks on its own, and the whole must pass together (parents
    // that are groups, one name each): what does not is left out, and said.
    let mut kept: Vec<Value> = vec![];
    for (name, entry) in monitors {
        let mut probe = entry.clone();
        probe.as_object_mut().expect("an object").remove("parent");
        match monitors::parse("export", &json!([probe]).to_string()) {
            Err(e) => skipped.push(format!("{name:?}: {}", e.problem)),
            Ok(_) if kept.iter().any(|k| k["name"] == json!(name)) => {
                skipped.push(format!("{name:?}: another monitor has the same name (the name is the identity)"))
            }
            Ok(_) => kept.push(entry),
        }
    }
    // A child whose group was left out loses its group rather than the whole file.
    let names: Vec<Value> = kept.iter().map(|k| k["name"].clone()).collect();
    for k in &mut kept {
        let orphan = k.get("parent").is_some_and(|p| !names.contains(p));
        if orphan {
            k.as_object_mut().expect("an object").remove("parent");
        }
    }

    // Status pages, their groups showing the exported monitors.
    let mut pages = vec![];
    for p in &server.status_pages {
        let c = &p.config;
        let mut e = Map::new();
        e.insert("slug".into(), json!(p.slug));
        e.insert("title".into(), c.get("title").cloned().unwrap_or(json!(p.slug)));
        for (key, label) in [("description", "description"), ("footerText", "footer_text")] {
            if let Some(t) = text(c.get(key)) {
                e.insert(label.into(), json!(t));
            }
        }
        let css = c.get("customCSS").and_then(Value::as_str).unwrap_or("");
        let css = css.strip_suffix(STATUS_PAGE_MARK).unwrap_or(css).trim_end();
        if !css.is_empty() {
            e.insert("custom_css".into(), json!(css));
        }
        for (key, label, default) in [
            ("showTags", "show_tags", false),
            ("showPoweredBy", "show_powered_by", true),
            ("showCertificateExpiry", "show_certificate_expiry", false),
        ] {
            if truthy(c.get(key)) != default {
                e.insert(label.into(), json!(!default));
            }
        }
        let groups: Vec<Value> = p
            .groups
            .iter()
            .flatten()
            .map(|(_, name, ids)| {
                let ms: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| name_of(*id))
                    .filter(|n| names.contains(&json!(n)))
                    .map(Value::from)
                    .collect();
                json!({"name": name, "monitors": ms})
            })
            .collect();
        if !groups.is_empty() {
            e.insert("groups".into(), Value::Array(groups));
        }
        pages.push(Value::Object(e));
    }

    // Maintenance windows, the fields their strategy uses, their monitors by name.
    let mut windows = vec![];
    for w in &server.maintenance {
        let c = &w.config;
        let strategy = c.get("strategy").and_then(Value::as_str).unwrap_or("manual").to_owned();
        let mut e = Map::new();
        e.insert("title".into(), json!(w.title()));
        let description = c.get("description").and_then(Value::as_str).unwrap_or("");
        let description = description.trim_end();
        let description = description.strip_suffix(MAINTENANCE_MARK).unwrap_or(description).trim_end();
        if !description.is_empty() {
            e.insert("description".into(), json!(description));
        }
        e.insert("strategy".into(), json!(strategy));
        if c.get("active").and_then(Value::as_bool) == Some(false) {
            e.insert("active".into(), json!(false));
        }
        if let Some(tz) = text(c.get("timezoneOption")).filter(|t| t != "SAME_AS_SERVER") {
            e.insert("timezone".into(), json!(tz));
        }
        let range = c.get("dateRange").and_then(Value::as_array);
        for (i, key) in ["start_date", "end_date"].iter().enumerate() {
            let d = range.and_then(|r| r.get(i)).and_then(Value::as_str).map(|d| d.replace('T', " "));
            if let Some(d) = d.filter(|_| strategy != "manual") {
                e.insert((*key).into(), json!(d.chars().take(16).collect::<String>()));
            }
        }
        if strategy.starts_with("recurring-") {
            let times = c.get("timeRange").and_then(Value::as_array);
            for (i, key) in ["start_time", "end_time"].iter().enumerate() {
                let t = times.and_then(|t| t.get(i));
                let hm = t.and_then(|t| Some((t.get("hours")?.as_u64()?, t.get("minutes")?.as_u64()?)));
                if let Some((h, m)) = hm {
                    e.insert((*key).into(), json!(format!("{h:02}:{m:02}")));
                }
            }
        }
        match strategy.as_str() {
            "recurring-interval" => {
                e.insert("interval_days".into(), c.get("intervalDay").cloned().unwrap_or(json!(1)));
            }
            "recurring-weekday" => {
                e.insert("weekdays".into(), c.get("weekdays").cloned().unwrap_or(json!([])));
            }
            "recurring-day-of-month" => {
                e.insert("days_of_month".into(), c.get("daysOfMonth").cloned().unwrap_or(json!([])));
            }
            "cron" => {
                e.insert("cron".into(), c.get("cron").cloned().unwrap_or(Value::Null));
                e.insert("duration_minutes".into(), c.get("durationMinutes").cloned().unwrap_or(Value::Null));
            }
            _ => {}
        }
        let ms: Vec<Value> = w
            .monitors
            .iter()
            .flatten()
            .filter_map(|id| name_of(*id))
            .filter(|n| names.contains(&json!(n)))
            .map(Value::from)
            .collect();
        if !ms.is_empty() {
            e.insert("monitors".into(), Value::Array(ms));
        }
        // Written even when empty, as a monitor's tags are: the exported file then manages the window's
        // pages, where an absent key would leave whatever the web UI picks later.
        if let Some(ids) = &w.status_pages {
            let mut slugs: Vec<&str> = ids
                .iter()
                .filter_map(|id| server.status_pages.iter().find(|p| p.id == *id))
                .map(|p| p.slug.as_str())
                .collect();
            slugs.sort();
            e.insert("status_pages".into(), json!(slugs));
        }
        let entry = Value::Object(e);
        match crate::maintenance::parse("export", std::slice::from_ref(&entry)) {
            Ok(_) => windows.push(entry),
            Err(err) => skipped.push(format!("maintenance {:?}: {}", w.title(), err.problem)),
        }
    }

    let mut doc = Map::new();
    if !windows.is_empty() {
        doc.insert("maintenance".into(), Value::Array(windows));
    }
    if !pages.is_empty() {
        doc.insert("status_pages".into(), Value::Array(pages));
    }
    if !docker_hosts.is_empty() {
        doc.insert("docker_hosts".into(), Value::Array(docker_hosts));
    }
    if !notifications.is_empty() {
        doc.insert("notifications".into(), Value::Array(notifications));
    }
    doc.insert("monitors".into(), Value::Array(kept));
    Export { doc: Value::Object(doc), secrets, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker_hosts;

    #[test]
    fn secret_settings_are_told_by_their_names() {
        for k in [
            "ntfyaccesstoken",
            "ntfypassword",
            "webhookURL",
            "discordWebhookUrl",
            "pushoverappkey",
            "smtpPassword",
            "twilioAuthToken",
        ] {
            assert!(secret_key(k), "{k}");
        }
        for k in ["ntfyserverurl", "webhookContentType", "ntfytopic", "smtpHost", "ntfyPriority", "gotifyserverurl"] {
            assert!(!secret_key(k), "{k}");
        }
    }

    #[test]
    fn a_server_made_in_the_web_ui_exports_as_a_file_with_named_credentials() {
        let monitors = json!({
            "1": {"id": 1, "name": "Infra", "type": "group", "interval": 60, "retryInterval": 60, "timeout": 48,
                  "active": 1, "tags": []},
            "2": {"id": 2, "name": "Router", "type": "ping", "hostname": "192.168.1.1", "interval": 30,
                  "retryInterval": 30, "timeout": 24, "maxretries": 2, "parent": 1, "active": 1,
                  "notificationIDList": {"1": true},
                  "tags": [{"tag_id": 1, "name": "managed-by", "value": "kuma-sync"},
                           {"tag_id": 2, "name": "env", "value": "home"}]},
            "3": {"id": 3, "name": "Backup", "type": "push", "pushToken": "s3cretpush", "interval": 90000,
                  "retryInterval": 3600, "timeout": 48, "active": 0, "tags": []},
            "4": {"id": 4, "name": "MQTT", "type": "mqtt", "hostname": "h", "tags": []},
            "5": {"id": 5, "name": "Cloud", "type": "docker", "docker_container": "nextcloud", "docker_host": 1,
                  "interval": 60, "retryInterval": 60, "timeout": 48, "active": 1, "tags": []}
        });
        let notifications = json!([{"id": 1, "name": "ntfy", "isDefault": true, "config":
            json!({"name": "ntfy", "type": "ntfy", "isDefault": true, "ntfyserverurl": "https://ntfy.sh",
                   "ntfytopic": "home", "ntfyPriority": 5, "ntfyaccesstoken": "tk_s3cret", "applyExisting": false})
            .to_string()}]);
        let mut server = Server::from_lists("2.0.1", &monitors, &notifications, &json!([])).unwrap();
        server.docker_hosts = docker_hosts::from_list(
            &json!([{"id": 1, "name": "podman", "dockerType": "socket", "dockerDaemon": "/run/podman/podman.sock"}]),
        );
        let e = export(&server);
        insta::assert_snapshot!(serde_json::to_string_pretty(&e.doc).unwrap(), @r#"
        {
          "docker_hosts": [
            {
              "daemon": "/run/podman/podman.sock",
              "name": "podman",
              "type": "socket"
            }
          ],
          "monitors": [
            {
              "name": "Infra",
              "notifications": [],
              "tags": [],
              "type": "group"
            },
            {
              "hostname": "192.168.1.1",
              "interval": 30,
              "maxretries": 2,
              "name": "Router",
              "notifications": [
                "ntfy"
              ],
              "parent": "Infra",
              "tags": [
                {
                  "name": "env",
                  "value": "home"
                }
              ],
              "type": "ping"
            },
            {
              "active": false,
              "interval": 90000,
              "name": "Backup",
              "notifications": [],
              "push_token_credential": "backup-push-token",
              "retry_interval": 3600,
              "tags": [],
              "type": "push"
            },
            {
              "docker_container": "nextcloud",
              "docker_host": "podman",
              "name": "Cloud",
              "notifications": [],
              "tags": [],
              "type": "docker"
            }
          ],
          "notifications": [
            {
              "default": true,
              "name": "ntfy",
              "secrets": {
                "ntfyaccesstoken": "ntfy-ntfyaccesstoken"
              },
              "settings": {
                "ntfyPriority": 5,
                "ntfyserverurl": "https://ntfy.sh",
                "ntfytopic": "home"
              },
              "type": "ntfy"
            }
          ]
        }
        "#);
        assert_eq!(e.skipped, [r#""MQTT": type "mqtt" is not one kuma-sync declares"#]);
        assert_eq!(e.secrets.get("ntfy-ntfyaccesstoken").map(String::as_str), Some("tk_s3cret"));
        assert_eq!(e.secrets.get("backup-push-token").map(String::as_str), Some("s3cretpush"));
        assert!(!e.doc.to_string().contains("s3cret"));
        // It is a file kuma-sync accepts.
        let back = monitors::parse_file("export", &e.doc.to_string()).unwrap();
        assert_eq!(back.monitors.len(), 4);
    }
}
