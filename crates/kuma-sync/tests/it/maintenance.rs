//! Maintenance windows: manual, single, recurring and cron, affecting monitors by name and shown on status
//! pages by slug; marked as ours in their description, adopted by title, pruned; on 1.23 and 2.x.

use crate::{Env, PASSWORD, USER};
use serde_json::json;
use test_support::kuma::{Flavor, Kuma};

const FILE: &str = r#"{
  "maintenance": [
    {"title": "Nightly backup", "description": "Restic runs", "strategy": "recurring-weekday",
     "weekdays": [1, 2, 3, 4, 5, 6, 7], "start_time": "03:00", "end_time": "03:45", "timezone": "Europe/Berlin",
     "monitors": ["Cloud"]},
    {"title": "Move", "strategy": "single", "start_date": "2026-12-24 08:00", "end_date": "2026-12-24 18:00",
     "monitors": ["Cloud", "Router"]},
    {"title": "Updates", "strategy": "cron", "cron": "0 4 1 * *", "duration_minutes": 90},
    {"title": "Rewiring", "strategy": "manual", "active": false}
  ],
  "monitors": [
    {"name": "Cloud", "url": "https://cloud.example.com"},
    {"name": "Router", "type": "ping", "hostname": "192.168.1.1"}
  ]
}"#;

fn windows(flavor: Flavor) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    env.monitors(FILE);
    let run = env.sync(&[]);
    run.expect(0);
    for t in ["Nightly backup", "Move", "Updates", "Rewiring"] {
        assert!(run.stdout.contains(&format!("+ create maintenance {t}\n")), "{}", run.stdout);
    }
    let all = env.kuma.maintenance();
    assert_eq!(all.len(), 4);
    let cloud = env.monitor("Cloud")["id"].as_i64().unwrap();
    let router = env.monitor("Router")["id"].as_i64().unwrap();
    let nightly = all.iter().find(|w| w.0["title"] == "Nightly backup").unwrap();
    assert_eq!(nightly.0["timeRange"], json!([{"hours": 3, "minutes": 0}, {"hours": 3, "minutes": 45}]));
    assert_eq!(nightly.0["timezoneOption"], "Europe/Berlin");
    assert_eq!(nightly.0["description"], "Restic runs\n\n(managed by kuma-sync)");
    assert_eq!(nightly.1, [cloud]);
    let mut moving = all.iter().find(|w| w.0["title"] == "Move").unwrap().1.clone();
    moving.sort();
    assert_eq!(moving, [cloud, router]);
    assert_eq!(all.iter().find(|w| w.0["title"] == "Rewiring").unwrap().0["active"], false);

    let writes = env.writes();
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 6 unchanged\n");
    let doc = env.sync(&["--force", "--json"]).json();
    assert_eq!((doc["writes"].as_u64(), doc["unchanged"].as_u64()), (Some(0), Some(6)));
    assert_eq!(doc["maintenance_changes"], json!([]));
    std::fs::remove_dir_all(env.path("state")).unwrap();
    env.sync(&[]).expect(0);
    assert_eq!(env.writes(), writes, "nothing written twice after a lost state directory");

    // New hours and one monitor fewer for the move: an edit and a new monitor list.
    env.monitors(
        &FILE
            .replace(r#""end_time": "03:45""#, r#""end_time": "04:30""#)
            .replace(r#"["Cloud", "Router"]"#, r#"["Router"]"#),
    );
    let plan = crate::Run::of(env.cmd("plan", &["--json"]).output().unwrap());
    plan.expect(0);
    let changes = &plan.json()["plan"]["maintenance"];
    assert_eq!(changes[0]["action"], "update", "{changes}");
    assert_eq!(changes[0]["changes"][0], json!({"field": "end_time", "from": "03:45", "to": "04:30"}));
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ update maintenance Nightly backup: end_time 03:45 → 04:30\n"), "{}", run.stdout);
    assert!(run.stdout.contains("~ update maintenance Move: monitors [Cloud, Router] → [Router]\n"), "{}", run.stdout);
    env.assert_forced_sync_writes_nothing();

    // Dropped from the file: ours, deleted.
    env.monitors(r#"[{"name": "Cloud", "url": "https://cloud.example.com"}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("- delete maintenance Updates\n"), "{}", run.stdout);
    assert!(env.kuma.maintenance().is_empty());
}

#[test]
fn maintenance_windows_converge_2x() {
    windows(Flavor::V2);
}

#[test]
fn maintenance_windows_converge_1_23() {
    windows(Flavor::V1);
}

#[test]
fn bad_windows_are_refused_before_connecting() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"{"maintenance": [{"title": "w", "monitors": ["Nope"]}]}"#);
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"maintenance: entry 1 ("w"): field "monitors": "Nope" is not a monitor in this file"#),
        "{}",
        run.stderr
    );
    assert_eq!(env.kuma.connections(), 0);
}

#[test]
fn a_window_made_by_hand_is_adopted_by_title_and_a_foreign_one_left_alone() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD));
    let add = |title: &str| {
        let w = json!({"title": title, "description": "by hand", "strategy": "manual", "active": true,
                       "intervalDay": 1, "dateRange": [null], "timeRange": [{"hours": 0, "minutes": 0}, {"hours": 0, "minutes": 0}],
                       "weekdays": [], "daysOfMonth": [], "cron": "30 3 * * *", "durationMinutes": 60,
                       "timezoneOption": "SAME_AS_SERVER"});
        assert_eq!(by_hand(&env, "addMaintenance", &[w])["ok"], true);
    };
    add("Ours");
    add("Theirs");
    env.monitors(r#"{"maintenance": [{"title": "Ours", "description": "by hand"}]}"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "~ adopt maintenance Ours (now marked (managed by kuma-sync))\n= 0 unchanged\n");
    env.monitors(r#"{"maintenance": []}"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "- delete maintenance Ours\n= 0 unchanged\n");
    let left: Vec<String> = env.kuma.maintenance().iter().map(|w| w.0["title"].as_str().unwrap().to_owned()).collect();
    assert_eq!(left, ["Theirs"]);
}

/// An event sent as someone in the web UI would, logged in on a connection of its own.
fn by_hand(env: &Env, event: &str, args: &[serde_json::Value]) -> serde_json::Value {
    use kuma_sync::socketio::{Endpoint, Socket};
    let t = std::time::Duration::from_secs(5);
    let mut s = Socket::connect(&Endpoint::parse(&env.kuma.url()).unwrap(), t, None).unwrap();
    s.wait_for("info", t).unwrap();
    s.call("login", &[json!({"username": USER, "password": PASSWORD, "token": ""})], t).unwrap();
    s.call(event, args, t).unwrap()
}

const PAGES: &str = r#"{
  "status_pages": [{"slug": "home", "title": "Home"}],
  "maintenance": [
    {"title": "Move", "monitors": ["Cloud"], "status_pages": ["public", "home"]},
    {"title": "Updates"}
  ],
  "monitors": [{"name": "Cloud", "url": "https://cloud.example.com"}]
}"#;

fn status_pages(flavor: Flavor) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    // A page made in the web UI, not the file's: a window may still be shown on it.
    assert_eq!(by_hand(&env, "addStatusPage", &[json!("Public"), json!("public")])["ok"], true);
    env.monitors(PAGES);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("+ create maintenance Move\n"), "{}", run.stdout);
    assert_eq!(env.kuma.maintenance_status_pages("Move"), ["home", "public"]);
    assert!(env.kuma.maintenance_status_pages("Updates").is_empty());
    // One write of the whole list, after the page it names was created, with the ids the server gave.
    let writes = env.kuma.writes();
    let names: Vec<&str> = writes.iter().map(|w| w.name.as_str()).collect();
    let link = names.iter().position(|n| *n == "addMaintenanceStatusPage").expect("the pages are written");
    assert!(names.iter().position(|n| *n == "addStatusPage").unwrap() < link, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "addMaintenanceStatusPage").count(), 1, "{names:?}");
    let id =
        |slug: &str| env.kuma.status_pages().iter().find(|p| p.0["slug"] == slug).map(|p| p.0["id"].clone()).unwrap();
    let move_id = env.kuma.maintenance().iter().find(|w| w.0["title"] == "Move").unwrap().0["id"].clone();
    assert_eq!(writes[link].args, [move_id, json!([{"id": id("home")}, {"id": id("public")}])]);

    let count = env.writes();
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 4 unchanged\n");
    assert_eq!(env.writes(), count);
    std::fs::remove_dir_all(env.path("state")).unwrap();
    env.sync(&[]).expect(0);
    assert_eq!(env.writes(), count, "nothing written twice after a lost state directory");
    assert_eq!(env.kuma.maintenance().len(), 2);

    // One page fewer: planned as data, then written as one list (the window itself is not edited).
    env.monitors(&PAGES.replace(r#"["public", "home"]"#, r#"["public"]"#));
    let plan = crate::Run::of(env.cmd("plan", &["--json"]).output().unwrap());
    plan.expect(0);
    let changes = &plan.json()["plan"]["maintenance"];
    assert_eq!(changes[0]["action"], "update", "{changes}");
    assert_eq!(changes[0]["status_pages"], true, "{changes}");
    assert_eq!(changes[0]["changes"], json!([{"field": "status_pages", "from": "[home, public]", "to": "[public]"}]));
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "~ update maintenance Move: status_pages [home, public] → [public]\n= 3 unchanged\n");
    let new: Vec<String> = env.kuma.writes()[count..].iter().map(|w| w.name.clone()).collect();
    assert_eq!(new, ["addMaintenanceStatusPage"]);
    assert_eq!(env.kuma.maintenance_status_pages("Move"), ["public"]);

    // No key: what the web UI picked stays. An empty list clears it.
    env.kuma.set_maintenance_status_pages("Updates", &["home"]);
    env.assert_forced_sync_writes_nothing();
    assert_eq!(env.kuma.maintenance_status_pages("Updates"), ["home"]);
    env.monitors(&PAGES.replace(r#"{"title": "Updates"}"#, r#"{"title": "Updates", "status_pages": []}"#));
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ update maintenance Updates: status_pages [home] → []\n"), "{}", run.stdout);
    assert!(env.kuma.maintenance_status_pages("Updates").is_empty());
    env.assert_forced_sync_writes_nothing();
}

#[test]
fn a_window_is_shown_on_status_pages_by_slug_2x() {
    status_pages(Flavor::V2);
}

#[test]
fn a_window_is_shown_on_status_pages_by_slug_1_23() {
    status_pages(Flavor::V1);
}

#[test]
fn a_status_page_neither_declared_nor_on_the_server_is_refused_before_any_write() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    assert_eq!(by_hand(&env, "addStatusPage", &[json!("Public"), json!("public")])["ok"], true);
    env.monitors(
        r#"{"maintenance": [{"title": "w"}, {"title": "Move", "status_pages": ["public", "nope"]}],
            "monitors": [{"name": "A", "url": "https://a.example.com"}]}"#,
    );
    let count = env.writes();
    let run = env.sync(&[]);
    run.expect(65);
    let want = format!(
        "{}: maintenance: entry 2 (\"Move\"): field \"status_pages\": neither the file nor the server has a status page \"nope\" (the server has: public)",
        env.path("monitors.json").display()
    );
    assert!(run.stderr.lines().any(|l| l.ends_with(&want)), "{}", run.stderr);
    assert_eq!(env.writes(), count);
    // Offline, the server is unknown: validate checks only what the file alone can tell.
    let out = crate::bin().arg("validate").arg(env.path("monitors.json")).output().unwrap();
    assert!(out.status.success());
}

#[test]
fn a_page_this_sync_would_prune_cannot_show_a_window() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD));
    env.monitors(
        r#"{"status_pages": [{"slug": "old", "title": "Old"}],
            "maintenance": [{"title": "Move", "status_pages": ["old"]}]}"#,
    );
    env.sync(&[]).expect(0);
    assert_eq!(env.kuma.maintenance_status_pages("Move"), ["old"]);
    // The page is ours and no longer declared: deleting it would drop the link behind the file's back.
    env.monitors(r#"{"maintenance": [{"title": "Move", "status_pages": ["old"]}]}"#);
    let count = env.writes();
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"field "status_pages": status page "old" is kuma-sync's and no longer declared"#),
        "{}",
        run.stderr
    );
    assert_eq!(env.writes(), count);
    // Kept with --no-prune, it may.
    let run = env.sync(&["--no-prune"]);
    run.expect(0);
    assert_eq!(env.writes(), count);
    assert_eq!(env.kuma.maintenance_status_pages("Move"), ["old"]);
}

#[test]
fn a_connection_lost_between_the_window_and_its_pages_is_finished_without_duplicates() {
    // Writes: addMaintenance, addStatusPage, saveStatusPage, then the pages: the socket drops before them.
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).drop_after_writes(3));
    env.monitors(
        r#"{"status_pages": [{"slug": "home", "title": "Home"}],
            "maintenance": [{"title": "Move", "status_pages": ["home"]}]}"#,
    );
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(env.kuma.connections(), 2, "one reconnect");
    assert_eq!(env.kuma.maintenance().len(), 1);
    assert_eq!(env.kuma.status_pages().len(), 1);
    assert_eq!(env.kuma.maintenance_status_pages("Move"), ["home"]);
    env.assert_forced_sync_writes_nothing();
}
