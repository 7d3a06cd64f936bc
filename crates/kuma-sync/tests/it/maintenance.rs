//! Maintenance windows: manual, single, recurring and cron, affecting monitors by name; marked as ours in
//! their description, adopted by title, pruned; on 1.23 and 2.x.

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
    let writes = env.writes();
    env.sync(&["--force"]).expect(0);
    assert_eq!(env.writes(), writes);

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
        use kuma_sync::socketio::{Endpoint, Socket};
        let t = std::time::Duration::from_secs(5);
        let mut s = Socket::connect(&Endpoint::parse(&env.kuma.url()).unwrap(), t, None).unwrap();
        s.wait_for("info", t).unwrap();
        s.call("login", &[json!({"username": USER, "password": PASSWORD, "token": ""})], t).unwrap();
        let w = json!({"title": title, "description": "by hand", "strategy": "manual", "active": true,
                       "intervalDay": 1, "dateRange": [null], "timeRange": [{"hours": 0, "minutes": 0}, {"hours": 0, "minutes": 0}],
                       "weekdays": [], "daysOfMonth": [], "cron": "30 3 * * *", "durationMinutes": 60,
                       "timezoneOption": "SAME_AS_SERVER"});
        assert_eq!(s.call("addMaintenance", &[w], t).unwrap()["ok"], true);
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
