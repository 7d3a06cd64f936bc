//! Docker hosts, declared: the daemons `docker` monitors ask about their containers (Podman's
//! docker-compatible socket on the homelab).
//!
//! Uptime Kuma keeps a docker host as three columns (name, docker_type, docker_daemon) and nothing else: there is
//! no place to mark one as kuma-sync's. So they are matched by name, created and updated, but never deleted:
//! kuma-sync cannot tell one it made from one somebody else made, and deleting a docker host unlinks every
//! monitor that uses it.

use crate::monitors::{BadInput, entry_label, kind_of};
use crate::plan::Change;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DockerHost {
    pub name: String,
    /// `socket` or `tcp`, as the server stores it.
    #[serde(rename = "type")]
    pub kind: String,
    /// A socket path (`/run/podman/podman.sock`) or a daemon URL (`tcp://10.0.0.2:2375`).
    pub daemon: String,
}

const KEYS: &[&str] = &["name", "type", "daemon"];

pub fn parse(file: &str, entries: &[Value]) -> Result<Vec<DockerHost>, BadInput> {
    let mut out: Vec<DockerHost> = vec![];
    for (i, entry) in entries.iter().enumerate() {
        let name = entry.get("name").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        let err = |field: Option<&str>, problem: String| BadInput {
            file: file.into(),
            entry: format!("docker_hosts: {}", entry_label(i + 1, name)),
            field: field.map(str::to_owned),
            problem,
        };
        let Value::Object(o) = entry else {
            return Err(err(None, format!("expected an object, got {}", kind_of(entry))));
        };
        let Some(name) = name else {
            return Err(err(Some("name"), "required (it is the docker host's identity)".into()));
        };
        if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(Some(k), format!("unknown key (a docker host has {})", KEYS.join(", "))));
        }
        let text = |key: &str| match o.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            None | Some(Value::Null) => Err(err(Some(key), "required".into())),
            Some(v) => Err(err(Some(key), format!("expected a string, got {}", kind_of(v)))),
        };
        let kind = text("type")?;
        let daemon = text("daemon")?;
        match kind.as_str() {
            "socket" if !daemon.starts_with('/') => {
                return Err(err(
                    Some("daemon"),
                    format!("{daemon:?}: a socket is an absolute path, e.g. /run/podman/podman.sock"),
                ));
            }
            "tcp" if !["tcp://", "http://", "https://"].iter().any(|p| daemon.starts_with(p)) => {
                return Err(err(
                    Some("daemon"),
                    format!("{daemon:?}: a TCP daemon is a URL, e.g. tcp://10.0.0.2:2375"),
                ));
            }
            "socket" | "tcp" => {}
            other => return Err(err(Some("type"), format!("{other:?}: expected \"socket\" or \"tcp\""))),
        }
        if let Some(first) = out.iter().position(|h| h.name == name) {
            return Err(err(Some("name"), format!("duplicate name: entry {} has the same name", first + 1)));
        }
        out.push(DockerHost { name: name.to_owned(), kind, daemon });
    }
    Ok(out)
}

/// A docker host as `dockerHostList` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDockerHost {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub daemon: String,
}

pub fn from_list(list: &Value) -> Vec<ServerDockerHost> {
    let mut out: Vec<ServerDockerHost> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some(ServerDockerHost {
                id: h.get("id").and_then(Value::as_i64)?,
                name: h.get("name").and_then(Value::as_str)?.to_owned(),
                kind: h.get("dockerType").and_then(Value::as_str).unwrap_or("").to_owned(),
                daemon: h.get("dockerDaemon").and_then(Value::as_str).unwrap_or("").to_owned(),
            })
        })
        .collect();
    out.sort_by_key(|h| h.id);
    out
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create { name: String },
    Update { name: String, id: i64, changes: Vec<Change> },
}

impl Action {
    pub fn name(&self) -> &str {
        match self {
            Action::Create { name } | Action::Update { name, .. } => name,
        }
    }

    pub fn line(&self) -> String {
        match self {
            Action::Create { name } => format!("+ create docker host {name}"),
            Action::Update { name, changes, .. } => {
                let detail: Vec<String> =
                    changes.iter().map(|c| format!("{} {} → {}", c.field, c.from, c.to)).collect();
                format!("~ update docker host {name}: {}", detail.join(", "))
            }
        }
    }
}

/// What `addDockerHost` is sent.
pub fn payload(h: &DockerHost) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("name".into(), json!(h.name));
    p.insert("dockerType".into(), json!(h.kind));
    p.insert("dockerDaemon".into(), json!(h.daemon));
    p
}

pub struct DockerHostPlan {
    pub actions: Vec<Action>,
    pub unchanged: usize,
    /// Declared name → the server id that stands for it (the lowest of that name).
    pub ids: BTreeMap<String, i64>,
}

pub fn plan(declared: &[DockerHost], server: &[ServerDockerHost]) -> DockerHostPlan {
    let mut actions = vec![];
    let mut unchanged = 0;
    let mut ids = BTreeMap::new();
    for h in declared {
        let Some(sh) = server.iter().find(|s| s.name == h.name) else {
            actions.push(Action::Create { name: h.name.clone() });
            continue;
        };
        ids.insert(h.name.clone(), sh.id);
        let mut changes = vec![];
        for (field, have, want) in [("type", &sh.kind, &h.kind), ("daemon", &sh.daemon, &h.daemon)] {
            if have != want {
                changes.push(Change { field: field.into(), from: format!("{have:?}"), to: format!("{want:?}") });
            }
        }
        if changes.is_empty() {
            unchanged += 1;
        } else {
            actions.push(Action::Update { name: h.name.clone(), id: sh.id, changes });
        }
    }
    DockerHostPlan { actions, unchanged, ids }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_docker_hosts_name_the_entry_and_the_field() {
        let cases = [
            (
                json!([{"name": "p", "type": "socket", "daemon": "run/podman.sock"}]),
                r#"docker_hosts: entry 1 ("p"): field "daemon": "run/podman.sock": a socket is an absolute path"#,
            ),
            (
                json!([{"name": "p", "type": "tcp", "daemon": "10.0.0.2:2375"}]),
                r#"field "daemon": "10.0.0.2:2375": a TCP daemon is a URL"#,
            ),
            (
                json!([{"name": "p", "type": "ssh", "daemon": "/x"}]),
                r#"field "type": "ssh": expected "socket" or "tcp""#,
            ),
            (json!([{"name": "p", "type": "socket"}]), r#"field "daemon": required"#),
            (
                json!([{"name": "p", "type": "socket", "daemon": "/a"}, {"name": "p", "type": "socket", "daemon": "/b"}]),
                r#"entry 2 ("p"): field "name": duplicate name"#,
            ),
        ];
        for (input, want) in cases {
            let got = parse("m.json", input.as_array().unwrap()).unwrap_err().to_string();
            assert!(got.contains(want), "{input}\n  got:  {got}\n  want: {want}");
        }
    }

    #[test]
    fn matched_by_name_updated_in_place_never_deleted() {
        let d = parse(
            "m",
            json!([{"name": "podman", "type": "socket", "daemon": "/run/podman/podman.sock"},
                   {"name": "nas", "type": "tcp", "daemon": "tcp://10.0.0.2:2375"}])
            .as_array()
            .unwrap(),
        )
        .unwrap();
        let server = from_list(&json!([
            {"id": 1, "name": "podman", "dockerType": "socket", "dockerDaemon": "/var/run/docker.sock", "userID": 1},
            {"id": 2, "name": "someone-else", "dockerType": "socket", "dockerDaemon": "/x"}
        ]));
        let p = plan(&d, &server);
        let lines: Vec<String> = p.actions.iter().map(Action::line).collect();
        assert_eq!(
            lines,
            [
                r#"~ update docker host podman: daemon "/var/run/docker.sock" → "/run/podman/podman.sock""#,
                "+ create docker host nas"
            ]
        );
        assert_eq!(p.ids.get("podman"), Some(&1));
    }
}
