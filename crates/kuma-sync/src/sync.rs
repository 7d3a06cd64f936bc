//! The thin layer that carries a [`Plan`] out, one acknowledged write at a time.
//!
//! A monitor the server rejects is reported and the rest carry on; a lost connection stops the run
//! (the caller does not store the hash, so the next run compares again and finishes the job: ownership
//! lives on the server, so nothing is created twice).

use crate::docker_hosts;
use crate::maintenance;
use crate::monitors::Monitor;
use crate::notifications;
use crate::owner::{NEW_TAG_COLOR, OWNER_COLOR, OWNER_TAG, OWNER_VALUE};
use crate::plan::{self, Action, Plan, Server};
use crate::session::{Session, server_message};
use crate::socketio::SockError;
use crate::status_pages;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub name: String,
    pub action: String,
    pub error: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// The lines of the actions that were carried out.
    pub done: Vec<String>,
    pub failures: Vec<Failure>,
    pub writes: usize,
}

/// The connection failed part-way: what was done before it, and why it stopped.
#[derive(Debug)]
pub struct Interrupted {
    pub outcome: Outcome,
    pub error: SockError,
}

impl Outcome {
    fn done(&mut self, line: String, on_done: &mut impl FnMut(&str)) {
        on_done(&line);
        self.done.push(line);
    }

    /// Logged once, and kept for the summary and `--json`; the run goes on with the next action.
    fn refused(&mut self, action: &str, name: &str, error: String) {
        homey_kit::error!("{action} {name}: the server refused: {error}");
        self.failures.push(Failure { name: name.to_owned(), action: action.to_owned(), error });
    }
}

fn ok(answer: &Value) -> Result<&Value, String> {
    if answer.get("ok") == Some(&Value::Bool(true)) { Ok(answer) } else { Err(server_message(answer)) }
}

enum Step {
    Done,
    Rejected(String),
}

/// Carry out `plan`. `on_done` is called with each action's line as it completes.
pub fn execute(
    session: &mut Session,
    plan: &Plan,
    declared: &[Monitor],
    server: &Server,
    stop: &dyn Fn() -> bool,
    mut on_done: impl FnMut(&str),
) -> Result<Outcome, Interrupted> {
    let mut out = Outcome::default();
    let by_name: BTreeMap<&str, &Monitor> = declared.iter().map(|m| (m.name.as_str(), m)).collect();
    // Stand-in id of a notification created in this run → the id the server gave it.
    let mut created: BTreeMap<i64, i64> = BTreeMap::new();
    let mut tag_ids = server.tags.clone();
    let mut ids = plan.ids.clone();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let start_writes = session.writes;

    macro_rules! net {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(error) => {
                    out.writes = session.writes - start_writes;
                    return Err(Interrupted { outcome: out, error });
                }
            }
        };
    }

    // Docker hosts first: docker monitors name them.
    let mut docker_created: BTreeMap<i64, i64> = BTreeMap::new();
    for action in &plan.docker_hosts {
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let name = action.name();
        let id = match action {
            docker_hosts::Action::Create { .. } => Value::Null,
            docker_hosts::Action::Update { id, .. } => json!(id),
        };
        let payload = plan.docker_host_payloads.get(name).cloned().unwrap_or_default();
        let answer = net!(session.write("addDockerHost", &[Value::Object(payload), id]));
        match ok(&answer).map(|a| a.get("id").and_then(Value::as_i64)) {
            Ok(new_id) => {
                if let (docker_hosts::Action::Create { .. }, Some(new_id)) = (action, new_id) {
                    if let Some((placeholder, _)) = plan.docker_placeholders.iter().find(|(_, n)| n.as_str() == name) {
                        docker_created.insert(*placeholder, new_id);
                    }
                }
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                let verb = if matches!(action, docker_hosts::Action::Create { .. }) { "create" } else { "update" };
                out.refused(&format!("{verb} docker host"), name, error);
            }
        }
    }
    // A docker monitor's docker host id as the server knows it.
    let docker_host_of = |monitor: &str| -> Result<Option<i64>, String> {
        match plan.docker_host_ids.get(monitor).copied() {
            None => Ok(None),
            Some(id) if id >= 0 => Ok(Some(id)),
            Some(id) => docker_created.get(&id).copied().map(Some).ok_or_else(|| {
                format!(
                    "its docker host {:?} could not be created",
                    plan.docker_placeholders.get(&id).cloned().unwrap_or_default()
                )
            }),
        }
    };

    // Notifications next: monitors may name new ones.
    for action in &plan.notifications {
        let (id, verb) = match action {
            notifications::Action::Create { .. } => (Value::Null, "create notification"),
            notifications::Action::Update { id, adopt, .. } => {
                (json!(id), if *adopt { "adopt notification" } else { "update notification" })
            }
            notifications::Action::Delete { .. } | notifications::Action::Keep { .. } => continue,
        };
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let name = action.name();
        let payload = plan.notification_payloads.get(name).cloned().unwrap_or_default();
        let answer = net!(session.write("addNotification", &[Value::Object(payload), id]));
        match ok(&answer).map(|a| a.get("id").and_then(Value::as_i64)) {
            Ok(new_id) => {
                if let (notifications::Action::Create { .. }, Some(new_id)) = (action, new_id) {
                    if let Some((placeholder, _)) = plan.placeholders.iter().find(|(_, n)| n.as_str() == name) {
                        created.insert(*placeholder, new_id);
                    }
                }
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                out.refused(verb, name, error);
            }
        }
    }
    // A monitor's notification ids as the server knows them, or which new notification is missing.
    let real_ids = |ids: &BTreeSet<i64>| -> Result<BTreeSet<i64>, String> {
        ids.iter()
            .map(|id| match *id {
                id if id >= 0 => Ok(id),
                id => created.get(&id).copied().ok_or_else(|| {
                    format!(
                        "its notification {:?} could not be created",
                        plan.placeholders.get(&id).cloned().unwrap_or_default()
                    )
                }),
            })
            .collect()
    };

    for name in &plan.new_tags {
        let color = if name == OWNER_TAG { OWNER_COLOR } else { NEW_TAG_COLOR };
        let answer = net!(session.write("addTag", &[json!({"name": name, "color": color})]));
        match ok(&answer).map(|a| a.pointer("/tag/id").and_then(Value::as_i64)) {
            Ok(Some(id)) => {
                tag_ids.insert(name.clone(), id);
                out.done(format!("+ create tag {name}"), &mut on_done);
            }
            Ok(None) | Err(_) => {
                let error = ok(&answer).err().unwrap_or_else(|| "no tag id in the answer".into());
                out.refused("create tag", name, error);
                if name == OWNER_TAG {
                    // Monitors that cannot be marked as ours would be orphans: write none.
                    out.writes = session.writes - start_writes;
                    return Ok(out);
                }
            }
        }
    }

    for action in &plan.actions {
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let name = action.name().to_owned();
        let step = match action {
            Action::Keep { .. } => continue,
            Action::Create { .. } => {
                let m = by_name[name.as_str()];
                match parent_id(m, &ids, &failed).and_then(|p| {
                    let refs = plan::Refs { parent: p, docker_host: docker_host_of(&name)? };
                    Ok((refs, real_ids(plan.monitor_notifications.get(&name).unwrap_or(&BTreeSet::new()))?))
                }) {
                    Err(why) => Step::Rejected(why),
                    Ok((refs, notifications)) => {
                        let payload = plan::payload(m, plan.generation, refs, &notifications);
                        let answer = net!(session.write("add", &[Value::Object(payload)]));
                        match ok(&answer).map(|a| a.get("monitorID").and_then(Value::as_i64)) {
                            Ok(Some(id)) => {
                                ids.insert(name.clone(), id);
                                let mut tags = vec![(OWNER_TAG.to_owned(), OWNER_VALUE.to_owned())];
                                tags.extend(m.tags.iter().flatten().map(|t| (t.name.clone(), t.value.clone())));
                                let mut step = Step::Done;
                                for (tag, value) in tags {
                                    let Some(tag_id) = tag_ids.get(&tag) else {
                                        step = Step::Rejected(format!("tag {tag:?} could not be created"));
                                        break;
                                    };
                                    let a =
                                        net!(session.write("addMonitorTag", &[json!(tag_id), json!(id), json!(value)]));
                                    if let Err(e) = ok(&a) {
                                        step = Step::Rejected(format!("tagging it {tag}: {e}"));
                                        break;
                                    }
                                }
                                if matches!(step, Step::Done) && !m.active {
                                    let a = net!(session.write("pauseMonitor", &[json!(id)]));
                                    if let Err(e) = ok(&a) {
                                        step = Step::Rejected(format!("pausing it: {e}"));
                                    }
                                }
                                step
                            }
                            Ok(None) => Step::Rejected("the server answered ok but sent no monitorID".into()),
                            Err(e) => Step::Rejected(e),
                        }
                    }
                }
            }
            Action::Update { id, edit, tags_add, tags_remove, set_active, .. } => {
                let m = by_name[name.as_str()];
                let mut step = Step::Done;
                if *edit {
                    let wanted = plan.monitor_notifications.get(&name).map(real_ids).transpose();
                    step = match parent_id(m, &ids, &failed)
                        .and_then(|p| Ok((plan::Refs { parent: p, docker_host: docker_host_of(&name)? }, wanted?)))
                    {
                        Err(why) => Step::Rejected(why),
                        Ok((refs, notifications)) => {
                            let got = net!(session.read("getMonitor", &[json!(id)]));
                            match ok(&got).map(|a| a.get("monitor").and_then(Value::as_object)) {
                                Ok(Some(current)) => {
                                    let merged =
                                        plan::merge_for_edit(current, m, plan.generation, refs, notifications.as_ref());
                                    let answer = net!(session.write("editMonitor", &[Value::Object(merged)]));
                                    match ok(&answer) {
                                        Ok(_) => Step::Done,
                                        Err(e) => Step::Rejected(e),
                                    }
                                }
                                Ok(None) => Step::Rejected("getMonitor sent no monitor".into()),
                                Err(e) => Step::Rejected(format!("getMonitor: {e}")),
                            }
                        }
                    };
                }
                if matches!(step, Step::Done) {
                    for t in tags_add {
                        let Some(tag_id) = tag_ids.get(&t.name) else {
                            step = Step::Rejected(format!("tag {:?} could not be created", t.name));
                            break;
                        };
                        let a = net!(session.write("addMonitorTag", &[json!(tag_id), json!(id), json!(t.value)]));
                        if let Err(e) = ok(&a) {
                            step = Step::Rejected(format!("tagging it {}: {e}", t.name));
                            break;
                        }
                    }
                }
                if matches!(step, Step::Done) {
                    for t in tags_remove {
                        let a = net!(session.write("deleteMonitorTag", &[json!(t.tag_id), json!(id), json!(t.value)]));
                        if let Err(e) = ok(&a) {
                            step = Step::Rejected(format!("removing tag {}: {e}", t.name));
                            break;
                        }
                    }
                }
                if let (Step::Done, Some(active)) = (&step, set_active) {
                    let event = if *active { "resumeMonitor" } else { "pauseMonitor" };
                    let a = net!(session.write(event, &[json!(id)]));
                    if let Err(e) = ok(&a) {
                        step = Step::Rejected(format!("{event}: {e}"));
                    }
                }
                step
            }
            Action::Delete { id, .. } => {
                let answer = net!(session.write("deleteMonitor", &[json!(id)]));
                match ok(&answer) {
                    Ok(_) => Step::Done,
                    Err(e) => Step::Rejected(e),
                }
            }
        };
        match step {
            Step::Done => {
                out.done(action.line(), &mut on_done);
            }
            Step::Rejected(error) => {
                let verb = match action {
                    Action::Create { .. } => "create",
                    Action::Update { adopt: true, .. } => "adopt",
                    Action::Update { .. } => "update",
                    Action::Delete { .. } => "delete",
                    Action::Keep { .. } => "keep",
                };
                out.refused(verb, &name, error);
                failed.insert(name);
            }
        }
    }
    // Maintenance windows once every monitor they affect has its id (deletes at the end). The pages that
    // show a window are written after the status pages, which may be created in this run: its line is
    // reported once they are.
    let mut pages_pending: Vec<(&maintenance::Action, i64, &[String])> = vec![];
    for action in &plan.maintenance {
        let (maintenance::Action::Create { title } | maintenance::Action::Update { title, .. }) = action else {
            continue;
        };
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let save = &plan.maintenance_saves[title];
        let list: Result<Vec<Value>, String> = save
            .monitors
            .iter()
            .map(|m| {
                ids.get(m)
                    .map(|id| json!({"id": id}))
                    .ok_or_else(|| format!("its monitor {m:?} has no id on the server"))
            })
            .collect();
        let step: Result<i64, String> = match (action, list) {
            (_, Err(e)) => Err(e),
            (maintenance::Action::Create { .. }, Ok(list)) => {
                let answer = net!(session.write("addMaintenance", &[Value::Object(save.payload.clone())]));
                match ok(&answer).map(|a| a.get("maintenanceID").and_then(Value::as_i64)) {
                    Ok(Some(id)) if list.is_empty() => Ok(id),
                    Ok(Some(id)) => {
                        let a = net!(session.write("addMonitorMaintenance", &[json!(id), Value::Array(list)]));
                        ok(&a).map(|_| id)
                    }
                    Ok(None) => Err("the server answered ok but sent no maintenanceID".into()),
                    Err(e) => Err(e),
                }
            }
            (maintenance::Action::Update { id, edit, monitors, .. }, Ok(list)) => {
                let mut r = Ok(*id);
                if *edit {
                    let mut p = save.payload.clone();
                    p.insert("id".into(), json!(id));
                    let answer = net!(session.write("editMaintenance", &[Value::Object(p)]));
                    r = ok(&answer).map(|_| *id);
                }
                if r.is_ok() && *monitors {
                    let a = net!(session.write("addMonitorMaintenance", &[json!(id), Value::Array(list)]));
                    r = ok(&a).map(|_| *id);
                }
                r
            }
            _ => continue,
        };
        // A new window starts on no page: an empty list has nothing to write.
        let pages = match action {
            maintenance::Action::Create { .. } => save.status_pages.as_deref().filter(|p| !p.is_empty()),
            maintenance::Action::Update { status_pages: true, .. } => save.status_pages.as_deref(),
            _ => None,
        };
        match (step, pages) {
            (Ok(id), Some(pages)) => pages_pending.push((action, id, pages)),
            (Ok(_), None) => {
                out.done(action.line(), &mut on_done);
            }
            (Err(error), _) => {
                out.refused("maintenance", title, error);
            }
        }
    }

    // Status pages once every monitor they show has its id.
    for action in &plan.status_pages {
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let slug = action.slug();
        let step = match action {
            status_pages::Action::Keep { .. } => continue,
            status_pages::Action::Delete { .. } => {
                let answer = net!(session.write("deleteStatusPage", &[json!(slug)]));
                ok(&answer).map(|_| ())
            }
            status_pages::Action::Create { .. } | status_pages::Action::Update { .. } => {
                let save = &plan.status_page_saves[slug];
                let mut groups = vec![];
                let mut missing = None;
                for (name, monitors) in &save.groups {
                    let mut list = vec![];
                    for m in monitors {
                        match ids.get(m) {
                            Some(id) => list.push(json!({"id": id})),
                            None => missing = Some(m.clone()),
                        }
                    }
                    let mut g = json!({"name": name, "monitorList": list});
                    if let Some(id) = save.group_ids.get(name) {
                        g["id"] = json!(id);
                    }
                    groups.push(g);
                }
                if let Some(m) = missing {
                    Err(format!("its monitor {m:?} has no id on the server (it was not written)"))
                } else {
                    let created = if matches!(action, status_pages::Action::Create { .. }) {
                        let answer = net!(session.write("addStatusPage", &[json!(save.title), json!(slug)]));
                        ok(&answer).map(|_| ())
                    } else {
                        Ok(())
                    };
                    match created {
                        Err(e) => Err(e),
                        Ok(()) => {
                            let args = [
                                json!(slug),
                                Value::Object(save.config.clone()),
                                json!(save.icon),
                                Value::Array(groups),
                            ];
                            let answer = net!(session.write("saveStatusPage", &args));
                            ok(&answer).map(|_| ())
                        }
                    }
                }
            }
        };
        match step {
            Ok(()) => {
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                out.refused("status page", slug, error);
            }
        }
    }
    // The pages that show each window, now that every declared page exists.
    let mut page_ids: BTreeMap<String, i64> = server.status_pages.iter().map(|p| (p.slug.clone(), p.id)).collect();
    for (action, id, slugs) in pages_pending {
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let mut list = vec![];
        let mut missing = None;
        for slug in slugs {
            if !page_ids.contains_key(slug) {
                // Created in this run: addStatusPage answers with the slug, not the id.
                let got = net!(session.read("getStatusPage", &[json!(slug)]));
                if let Some(page) = ok(&got).ok().and_then(|a| a.pointer("/config/id")).and_then(Value::as_i64) {
                    page_ids.insert(slug.clone(), page);
                }
            }
            match page_ids.get(slug) {
                Some(page) => list.push(json!({"id": page})),
                None => {
                    missing = Some(slug);
                    break;
                }
            }
        }
        let step = match missing {
            Some(slug) => Err(format!("its status page {slug:?} has no id on the server (it was not written)")),
            None => {
                let a = net!(session.write("addMaintenanceStatusPage", &[json!(id), Value::Array(list)]));
                ok(&a).map(|_| ())
            }
        };
        match step {
            Ok(()) => {
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                out.refused("maintenance", action.title(), error);
            }
        }
    }
    for action in &plan.maintenance {
        let maintenance::Action::Delete { id, title } = action else { continue };
        let answer = net!(session.write("deleteMaintenance", &[json!(id)]));
        match ok(&answer) {
            Ok(_) => {
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                out.refused("delete maintenance", title, error);
            }
        }
    }
    // Notifications last: no monitor is written with one that is about to go.
    for action in &plan.notifications {
        let notifications::Action::Delete { id, .. } = action else { continue };
        net!(if stop() { Err(SockError::Stopped) } else { Ok(()) });
        let answer = net!(session.write("deleteNotification", &[json!(id)]));
        match ok(&answer) {
            Ok(_) => {
                out.done(action.line(), &mut on_done);
            }
            Err(error) => {
                out.refused("delete notification", action.name(), error);
            }
        }
    }
    out.writes = session.writes - start_writes;
    Ok(out)
}

fn parent_id(m: &Monitor, ids: &BTreeMap<String, i64>, failed: &BTreeSet<String>) -> Result<Option<i64>, String> {
    match &m.parent {
        None => Ok(None),
        Some(p) if failed.contains(p) => Err(format!("its group {p:?} failed, so it was not written")),
        Some(p) => ids.get(p).copied().map(Some).ok_or_else(|| format!("its group {p:?} has no id on the server")),
    }
}
