//! Status pages, declared: identity by slug, groups of monitors by name, planned as data.
//!
//! Uptime Kuma keeps a page's settings in its row (sent in `statusPageList`) and its groups of monitors in
//! other tables, read through the page's public API (`GET /api/status-page/SLUG`). `saveStatusPage` writes
//! settings and groups together, so one write brings a page in line. The page is marked as kuma-sync's by a
//! comment at the end of its custom CSS (invisible to visitors, kept by the web UI's editor).

use crate::monitors::{BadInput, entry_label, kind_of};
use crate::plan::Change;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::owner::STATUS_PAGE_MARK as OWNER_MARK;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    /// Monitor names, in the order shown.
    pub monitors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusPage {
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub footer_text: Option<String>,
    pub custom_css: Option<String>,
    pub show_tags: bool,
    pub show_powered_by: bool,
    pub show_certificate_expiry: bool,
    pub groups: Vec<Group>,
}

const KEYS: &[&str] = &[
    "slug",
    "title",
    "description",
    "footer_text",
    "custom_css",
    "show_tags",
    "show_powered_by",
    "show_certificate_expiry",
    "groups",
];

/// As the server's checkSlug, lower case as addStatusPage makes it.
pub fn slug_ok(slug: &str) -> bool {
    !slug.is_empty()
        && slug
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

pub fn parse(file: &str, entries: &[Value]) -> Result<Vec<StatusPage>, BadInput> {
    let mut out: Vec<StatusPage> = vec![];
    for (i, entry) in entries.iter().enumerate() {
        let slug = entry.get("slug").and_then(Value::as_str);
        let err = |field: Option<&str>, problem: String| BadInput {
            file: file.into(),
            entry: format!("status_pages: {}", entry_label(i + 1, slug)),
            field: field.map(str::to_owned),
            problem,
        };
        let Value::Object(o) = entry else {
            return Err(err(None, format!("expected an object, got {}", kind_of(entry))));
        };
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            let hint = if k == "published" {
                " (Uptime Kuma's API does not change it: a page is published when made)".to_owned()
            } else {
                format!(" (a status page has {})", KEYS.join(", "))
            };
            return Err(err(Some(k), format!("unknown key{hint}")));
        }
        let Some(slug) = slug else {
            return Err(err(Some("slug"), "required (it is the page's identity and address, /status/SLUG)".into()));
        };
        if !slug_ok(slug) {
            return Err(err(Some("slug"), format!("{slug:?}: lower-case letters and digits, words joined by '-'")));
        }
        let text = |key: &str| match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(err(Some(key), format!("expected a string, got {}", kind_of(v)))),
        };
        let flag = |key: &str, default: bool| match o.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(err(Some(key), format!("expected true or false, got {}", kind_of(v)))),
        };
        let Some(title) = text("title")?.filter(|t| !t.trim().is_empty()) else {
            return Err(err(Some("title"), "required".into()));
        };
        let mut groups: Vec<Group> = vec![];
        match o.get("groups") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for g in a {
                    let name = g.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
                    let monitors = match g.get("monitors") {
                        None | Some(Value::Null) => Some(vec![]),
                        Some(Value::Array(ms)) => {
                            ms.iter().map(|m| m.as_str().filter(|s| !s.is_empty()).map(str::to_owned)).collect()
                        }
                        _ => None,
                    };
                    let extra = g.as_object().and_then(|o| o.keys().find(|k| *k != "name" && *k != "monitors"));
                    match (name, monitors, extra) {
                        (Some(n), Some(ms), None) => {
                            if groups.iter().any(|x| x.name == n) {
                                return Err(err(Some("groups"), format!("two groups named {n:?}")));
                            }
                            groups.push(Group { name: n.to_owned(), monitors: ms });
                        }
                        _ => {
                            return Err(err(
                                Some("groups"),
                                format!("{g} is not a group: {{\"name\": …, \"monitors\": [monitor names]}}"),
                            ));
                        }
                    }
                }
            }
            Some(v) => return Err(err(Some("groups"), format!("expected an array, got {}", kind_of(v)))),
        }
        if out.iter().any(|p| p.slug == slug) {
            return Err(err(Some("slug"), "duplicate slug".into()));
        }
        out.push(StatusPage {
            slug: slug.to_owned(),
            title,
            description: text("description")?,
            footer_text: text("footer_text")?,
            custom_css: text("custom_css")?,
            show_tags: flag("show_tags", false)?,
            show_powered_by: flag("show_powered_by", true)?,
            show_certificate_expiry: flag("show_certificate_expiry", false)?,
            groups,
        });
    }
    Ok(out)
}

/// A page as the server has it: `statusPageList`'s entry, and its groups once read.
#[derive(Debug, Clone, Default)]
pub struct ServerStatusPage {
    pub id: i64,
    pub slug: String,
    /// The row as `toJSON` shows it (title, description, icon, theme, customCSS, …).
    pub config: Map<String, Value>,
    /// Group id, name and monitor ids, in order; `None` until read.
    pub groups: Option<Vec<(i64, String, Vec<i64>)>>,
}

impl ServerStatusPage {
    pub fn owned(&self) -> bool {
        self.config.get("customCSS").and_then(Value::as_str).is_some_and(|c| c.contains(OWNER_MARK))
    }
}

/// `statusPageList`: an object keyed by id.
pub fn from_list(list: &Value) -> Vec<ServerStatusPage> {
    let mut out: Vec<ServerStatusPage> = list
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, p)| {
            let config = p.as_object()?.clone();
            Some(ServerStatusPage {
                id: p.get("id").and_then(Value::as_i64).or_else(|| key.parse().ok())?,
                slug: p.get("slug").and_then(Value::as_str)?.to_owned(),
                config,
                groups: None,
            })
        })
        .collect();
    out.sort_by_key(|p| p.id);
    out
}

/// The groups of the public API's answer (`publicGroupList`).
pub fn groups_from(data: &Value) -> Vec<(i64, String, Vec<i64>)> {
    data.get("publicGroupList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|g| {
            let ids = g
                .get("monitorList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("id").and_then(Value::as_i64))
                .collect();
            (
                g.get("id").and_then(Value::as_i64).unwrap_or(0),
                g.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
                ids,
            )
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create { slug: String },
    Update { slug: String, adopt: bool, changes: Vec<Change> },
    Delete { slug: String },
    Keep { slug: String },
}

impl Action {
    pub fn slug(&self) -> &str {
        match self {
            Action::Create { slug } | Action::Update { slug, .. } | Action::Delete { slug } | Action::Keep { slug } => {
                slug
            }
        }
    }

    pub fn line(&self) -> String {
        match self {
            Action::Create { slug } => format!("+ create status page {slug}"),
            Action::Update { slug, adopt, changes } => {
                let verb = if *adopt { "adopt" } else { "update" };
                let detail: Vec<String> =
                    changes.iter().map(|c| format!("{} {} → {}", c.field, c.from, c.to)).collect();
                if detail.is_empty() {
                    format!("~ {verb} status page {slug} (now marked {OWNER_MARK})")
                } else {
                    format!("~ {verb} status page {slug}: {}", detail.join(", "))
                }
            }
            Action::Delete { slug } => format!("- delete status page {slug}"),
            Action::Keep { slug } => {
                format!("! keep status page {slug}: no longer declared; kept because of --no-prune")
            }
        }
    }
}

/// The custom CSS the page must keep: the file's, then the mark.
pub fn css(p: &StatusPage) -> String {
    match &p.custom_css {
        Some(c) if !c.trim().is_empty() => format!("{}\n{OWNER_MARK}", c.trim_end()),
        _ => OWNER_MARK.to_owned(),
    }
}

/// The settings `saveStatusPage` is sent: the server's own (icon, theme, refresh, domains, analytics)
/// with the managed ones laid over them.
pub fn config(p: &StatusPage, current: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut c = current.cloned().unwrap_or_default();
    c.insert("slug".into(), json!(p.slug));
    c.insert("title".into(), json!(p.title));
    c.insert("description".into(), json!(p.description));
    c.insert("footerText".into(), json!(p.footer_text));
    c.insert("customCSS".into(), json!(css(p)));
    c.insert("showTags".into(), json!(p.show_tags));
    c.insert("showPoweredBy".into(), json!(p.show_powered_by));
    c.insert("showCertificateExpiry".into(), json!(p.show_certificate_expiry));
    c.entry("theme").or_insert(json!("auto"));
    c.entry("autoRefreshInterval").or_insert(json!(300));
    c.entry("domainNameList").or_insert(json!([]));
    c.entry("googleAnalyticsId").or_insert(Value::Null);
    c
}

fn text_of(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The page's groups as names: (group name, monitor names).
pub type GroupNames = Vec<(String, Vec<String>)>;

pub fn show_groups(groups: &GroupNames) -> String {
    let parts: Vec<String> = groups.iter().map(|(g, ms)| format!("{g}: [{}]", ms.join(", "))).collect();
    format!("[{}]", parts.join("; "))
}

pub struct StatusPagePlan {
    pub actions: Vec<Action>,
    pub unchanged: usize,
}

/// `want_groups` are the declared groups with the monitors that name the page added; `monitor_name`
/// names a server monitor id.
pub fn plan(
    declared: &[StatusPage],
    want_groups: &BTreeMap<String, GroupNames>,
    server: &[ServerStatusPage],
    monitor_name: &dyn Fn(i64) -> String,
    prune: bool,
) -> StatusPagePlan {
    let mut actions = vec![];
    let mut unchanged = 0;
    for p in declared {
        let Some(sp) = server.iter().find(|s| s.slug == p.slug) else {
            actions.push(Action::Create { slug: p.slug.clone() });
            continue;
        };
        let mut changes = vec![];
        let want = config(p, Some(&sp.config));
        for (key, label) in [
            ("title", "title"),
            ("description", "description"),
            ("footerText", "footer_text"),
            ("showTags", "show_tags"),
            ("showPoweredBy", "show_powered_by"),
            ("showCertificateExpiry", "show_certificate_expiry"),
        ] {
            let (have, to) = (sp.config.get(key).cloned().unwrap_or(Value::Null), want[key].clone());
            let differs = match (&have, &to) {
                (Value::Bool(_), _) | (_, Value::Bool(_)) => {
                    have.as_bool().unwrap_or(false) != to.as_bool().unwrap_or(false)
                }
                _ => text_of(Some(&have)) != text_of(Some(&to)),
            };
            if differs {
                changes.push(Change {
                    field: label.into(),
                    from: crate::plan::show(Some(&have)),
                    to: crate::plan::show(Some(&to)),
                });
            }
        }
        // The mark alone missing is adoption, not a change of the file's CSS.
        let have_css = text_of(sp.config.get("customCSS"));
        if have_css != text_of(want.get("customCSS")) && sp.owned() {
            changes.push(Change {
                field: "custom_css".into(),
                from: format!("{} characters", have_css.len()),
                to: format!("{} characters", css(p).len()),
            });
        }
        let groups_now: GroupNames = sp
            .groups
            .iter()
            .flatten()
            .map(|(_, name, ids)| (name.clone(), ids.iter().map(|id| monitor_name(*id)).collect()))
            .collect();
        let wanted = want_groups.get(&p.slug).cloned().unwrap_or_default();
        if groups_now != wanted {
            changes.push(Change { field: "groups".into(), from: show_groups(&groups_now), to: show_groups(&wanted) });
        }
        let adopt = !sp.owned();
        if changes.is_empty() && !adopt {
            unchanged += 1;
        } else {
            actions.push(Action::Update { slug: p.slug.clone(), adopt, changes });
        }
    }
    for sp in server.iter().filter(|s| s.owned() && !declared.iter().any(|p| p.slug == s.slug)) {
        let slug = sp.slug.clone();
        actions.push(if prune { Action::Delete { slug } } else { Action::Keep { slug } });
    }
    StatusPagePlan { actions, unchanged }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_status_pages_name_the_entry_and_the_field() {
        let cases = [
            (
                json!([{"slug": "Home", "title": "t"}]),
                r#"status_pages: entry 1 ("Home"): field "slug": "Home": lower-case"#,
            ),
            (json!([{"slug": "home"}]), r#"field "title": required"#),
            (
                json!([{"slug": "home", "title": "t", "published": true}]),
                r#"field "published": unknown key (Uptime Kuma's API does not change it"#,
            ),
            (json!([{"slug": "home", "title": "t", "groups": [{"name": "g", "monitors": [1]}]}]), r#"field "groups""#),
            (
                json!([{"slug": "home", "title": "t"}, {"slug": "home", "title": "u"}]),
                r#"entry 2 ("home"): field "slug": duplicate slug"#,
            ),
        ];
        for (input, want) in cases {
            let got = parse("m.json", input.as_array().unwrap()).unwrap_err().to_string();
            assert!(got.contains(want), "{input}\n  got:  {got}\n  want: {want}");
        }
        assert!(slug_ok("home-lab-2") && !slug_ok("home--lab") && !slug_ok("-x") && !slug_ok("a_b"));
    }
}
