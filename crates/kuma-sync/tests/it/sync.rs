//! Create, update, delete, adopt, prune, the hash gate; on 1.23 and on 2.x.

use crate::{Env, PASSWORD, Run, USER};
use serde_json::json;
use test_support::kuma::{Flavor, Kuma};

/// The seed's five-field format, plus a group, a child with tags and notifications, a paused one.
const FULL: &str = r#"[
  {"name": "Nextcloud", "url": "https://cloud.example.com", "interval": 30},
  {"name": "Grafana", "url": "https://grafana.example.com", "keyword": "Grafana", "maxretries": 3},
  {"name": "Infra", "type": "group"},
  {"name": "Router", "type": "ping", "hostname": "192.168.1.1", "parent": "Infra",
   "tags": ["net", {"name": "env", "value": "home"}], "notifications": ["mail"]},
  {"name": "Heartbeat", "type": "push", "push_token": "abc123", "active": false}
]"#;

fn fresh(flavor: Flavor) -> Env {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    Env::new(b.notification("ntfy", true).notification("mail", false))
}

fn create_on_a_fresh_server(flavor: Flavor) {
    let env = fresh(flavor);
    env.monitors(FULL);
    let run = env.sync(&["--setup"]);
    run.expect(0);
    for name in ["Nextcloud", "Grafana", "Infra", "Router", "Heartbeat"] {
        assert!(run.stdout.contains(&format!("+ create {name}\n")), "{}", run.stdout);
    }
    // The group is created before its child.
    assert!(run.stdout.find("create Infra").unwrap() < run.stdout.find("create Router").unwrap());
    assert!(run.stdout.ends_with("= 0 unchanged\n"), "{}", run.stdout);
    assert_eq!(env.names(), ["Grafana", "Heartbeat", "Infra", "Nextcloud", "Router"]);

    let setup: Vec<_> = env.kuma.events().into_iter().filter(|e| e.name == "setup").collect();
    assert_eq!(setup.len(), 1);
    assert_eq!(setup[0].args[0], USER);

    let nc = env.monitor("Nextcloud");
    assert_eq!(nc["type"], "http");
    assert_eq!(nc["interval"], 30);
    // The web UI's values, not the database defaults (retryInterval 0, timeout 0, expiryNotification true).
    assert_eq!(nc["retryInterval"], 30);
    assert_eq!(nc["timeout"], 24);
    assert_eq!(nc["expiryNotification"], false);
    assert_eq!(nc["maxretries"], 0);
    assert_eq!(nc["accepted_statuscodes"], json!(["200-299"]));
    // No `notifications` in the file: a new monitor gets the server's default notifications, as in the UI.
    assert_eq!(nc["notificationIDList"], json!({"1": true}));
    assert_eq!(nc["tags"][0]["name"], "managed-by");
    assert_eq!(nc["tags"][0]["value"], "kuma-sync");
    match flavor {
        Flavor::V1 => {
            assert!(nc.get("conditions").is_none());
            assert_eq!(nc["packetSize"], 56);
        }
        Flavor::V2 => assert_eq!(nc["conditions"], json!([])),
    }

    let g = env.monitor("Grafana");
    assert_eq!(
        (g["type"].as_str(), g["keyword"].as_str(), g["maxretries"].as_i64()),
        (Some("keyword"), Some("Grafana"), Some(3))
    );
    let infra = env.monitor("Infra");
    let router = env.monitor("Router");
    assert_eq!(router["parent"], infra["id"]);
    assert_eq!(router["notificationIDList"], json!({"2": true}));
    let mut tags: Vec<String> = router["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}={}", t["name"].as_str().unwrap(), t["value"].as_str().unwrap()))
        .collect();
    tags.sort();
    assert_eq!(tags, ["env=home", "managed-by=kuma-sync", "net="]);
    assert_eq!(env.monitor("Heartbeat")["active"], false);
    assert_eq!(env.monitor("Heartbeat")["pushToken"], "abc123");

    // Unchanged file: the hash gate skips without even connecting.
    let connections = env.kuma.connections();
    let writes = env.writes();
    let again = env.sync(&[]);
    again.expect(0);
    assert!(again.stderr.contains("unchanged since the last successful sync"), "{}", again.stderr);
    assert_eq!(env.kuma.connections(), connections, "a skipped run must not connect");

    // --force compares everything again and finds nothing to write.
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 5 unchanged\n");
    assert_eq!(env.writes(), writes, "a forced run with no changes makes zero writes");
}

#[test]
fn creates_everything_on_a_fresh_2x_server_then_the_hash_gate_and_force_write_nothing() {
    create_on_a_fresh_server(Flavor::V2);
}

#[test]
fn creates_everything_on_a_fresh_1_23_server_then_the_hash_gate_and_force_write_nothing() {
    create_on_a_fresh_server(Flavor::V1);
}

fn update_and_delete(flavor: Flavor) {
    let env = fresh(flavor);
    env.kuma.insert_monitor(json!({"name": "Hand-made", "type": "http", "url": "https://x.example.com"}));
    env.monitors(FULL);
    env.sync(&["--setup"]).expect(0);
    let before = env.writes();
    env.monitors(
        r#"[
      {"name": "Nextcloud", "url": "https://cloud.example.com", "interval": 30, "maxretries": 2},
      {"name": "Grafana", "url": "https://grafana.example.com", "keyword": "Grafana", "maxretries": 3},
      {"name": "Infra", "type": "group"},
      {"name": "Router", "type": "ping", "hostname": "192.168.1.1", "parent": "Infra",
       "tags": [{"name": "env", "value": "lab"}], "notifications": []}
    ]"#,
    );
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ update Nextcloud: maxretries 0 → 2\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("~ update Router: notifications [mail] → [], tags [env=home, net] → [env=lab]\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("- delete Heartbeat\n"), "{}", run.stdout);
    assert!(run.stdout.ends_with("= 2 unchanged\n"), "{}", run.stdout);
    assert_eq!(env.names(), ["Grafana", "Hand-made", "Infra", "Nextcloud", "Router"]);
    assert_eq!(env.monitor("Nextcloud")["maxretries"], 2);
    let router = env.monitor("Router");
    assert_eq!(router["notificationIDList"], json!({}));
    let tags: Vec<String> =
        router["tags"].as_array().unwrap().iter().map(|t| format!("{}={}", t["name"], t["value"])).collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    // get → merge → edit: the edit carries the whole monitor, without the keys the server refuses.
    let writes = &env.kuma.writes()[before..];
    let edits: Vec<_> = writes.iter().filter(|w| w.name == "editMonitor").collect();
    assert_eq!(edits.len(), 2);
    for e in &edits {
        for k in ["pathName", "childrenIDs", "tags", "path", "forceInactive", "maintenance", "includeSensitiveData"] {
            assert!(e.args[0].get(k).is_none(), "editMonitor sent {k}");
        }
        assert!(e.args[0]["accepted_statuscodes"].is_array());
    }
    let names: Vec<&str> = writes.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "deleteMonitor").count(), 1);
    assert!(!names.contains(&"add"));
}

#[test]
fn updates_only_what_differs_and_deletes_what_is_no_longer_declared_2x() {
    update_and_delete(Flavor::V2);
}

#[test]
fn updates_only_what_differs_and_deletes_what_is_no_longer_declared_1_23() {
    update_and_delete(Flavor::V1);
}

#[test]
fn adopts_an_unmarked_monitor_with_a_declared_name_and_never_touches_foreign_ones() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    let nc = env.kuma.insert_monitor(json!({"name": "Nextcloud", "type": "http", "url": "https://cloud.example.com",
        "interval": 120, "retryInterval": 120, "timeout": 48}));
    env.kuma.insert_monitor(json!({"name": "Manual", "type": "http", "url": "https://manual.example.com"}));
    // Someone else's tool marks its monitors the same way, with another value: not ours.
    let other = env.kuma.insert_monitor(json!({"name": "Terraformed", "type": "http", "url": "https://t.example.com"}));
    env.kuma.tag_monitor(other, "managed-by", "terraform");
    env.monitors(r#"[{"name": "Nextcloud", "url": "https://cloud.example.com", "interval": 120}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ adopt Nextcloud: "), "{}", run.stdout);
    assert!(!run.stdout.contains("create"), "{}", run.stdout);
    assert_eq!(env.names(), ["Manual", "Nextcloud", "Terraformed"]);
    let m = env.monitor("Nextcloud");
    assert_eq!(m["id"], nc);
    assert!(m["tags"].as_array().unwrap().iter().any(|t| t["name"] == "managed-by" && t["value"] == "kuma-sync"));

    // Now it is ours: dropping it from the file deletes it; Manual and Terraformed stay.
    env.monitors("[]");
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "- delete Nextcloud\n= 0 unchanged\n");
    assert_eq!(env.names(), ["Manual", "Terraformed"]);
}

#[test]
fn losing_the_state_dir_never_creates_duplicates() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(FULL.replace(r#", "notifications": ["mail"]"#, "").as_str());
    env.sync(&[]).expect(0);
    let writes = env.writes();
    std::fs::remove_dir_all(env.path("state")).unwrap();
    let run = env.sync(&[]);
    run.expect(0);
    assert_eq!(run.stdout, "= 5 unchanged\n");
    assert_eq!(env.writes(), writes);
    assert_eq!(env.kuma.monitors().len(), 5);
}

#[test]
fn no_prune_keeps_and_reports_monitors_no_longer_declared() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}, {"name": "B", "url": "https://b.example.com"}]"#);
    env.sync(&[]).expect(0);
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    let run = env.sync(&["--no-prune"]);
    run.expect(0);
    assert!(run.stdout.contains("! keep B (#2): no longer declared; kept because of --no-prune\n"), "{}", run.stdout);
    assert_eq!(env.names(), ["A", "B"]);
}

#[test]
fn duplicate_monitors_of_ours_are_reduced_to_one() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    env.sync(&[]).expect(0);
    let dup = env.kuma.insert_monitor(json!({"name": "A", "type": "http", "url": "https://a.example.com"}));
    env.kuma.tag_monitor(dup, "managed-by", "kuma-sync");
    let run = env.sync(&["--force"]);
    run.expect(0);
    assert_eq!(run.stdout, format!("- delete A (duplicate #{dup})\n= 1 unchanged\n"));
    assert_eq!(env.kuma.monitors().len(), 1);
}

#[test]
fn pausing_and_resuming_follow_active() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    env.sync(&[]).expect(0);
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com", "active": false}]"#);
    env.sync(&[]).expect(0);
    assert_eq!(env.monitor("A")["active"], false);
    assert!(env.kuma.writes().iter().any(|w| w.name == "pauseMonitor"));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com", "active": true}]"#);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("~ update A: active false → true"), "{}", run.stdout);
    assert_eq!(env.monitor("A")["active"], true);
}

#[test]
fn plan_and_dry_run_write_nothing_and_store_no_hash() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    let plan = crate::Run::of(env.cmd("plan", &[]).output().unwrap());
    plan.expect(0);
    assert_eq!(plan.stdout, "+ create tag managed-by\n+ create A\n= 0 unchanged\n");
    let dry = env.sync(&["--dry-run"]);
    dry.expect(0);
    assert_eq!(dry.stdout, plan.stdout);
    assert!(!env.path("state").exists(), "a dry run creates no state directory");
    assert_eq!(env.writes(), 0);
    assert!(env.kuma.monitors().is_empty());
    // No hash was stored: the real run still does the work.
    env.sync(&[]).expect(0);
    assert_eq!(env.names(), ["A"]);
}

#[test]
fn json_output_carries_the_same_changes_as_data() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"{"monitors": [{"name": "A", "url": "https://a.example.com"}]}"#);
    env.sync(&[]).expect(0);
    env.monitors(r#"{"monitors": [{"name": "A", "url": "https://a.example.com", "interval": 90}]}"#);
    let run = env.sync(&["--json"]);
    run.expect(0);
    let doc = run.json();
    assert_eq!(doc["changes"][0]["action"], "update");
    assert_eq!(doc["changes"][0]["name"], "A");
    assert_eq!(doc["changes"][0]["changes"][0], json!({"field": "interval", "from": "60", "to": "90"}));
    assert_eq!(doc["writes"], 1);
    assert_eq!(doc["hash_stored"], true);
    let skipped = env.sync(&["--json"]);
    skipped.expect(0);
    assert_eq!(skipped.json()["skipped"], true);
}

#[test]
fn an_unmarked_namesake_of_an_owned_monitor_is_left_alone_with_a_warning() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    env.sync(&[]).expect(0);
    let other = env.kuma.insert_monitor(json!({"name": "A", "type": "http", "url": "https://elsewhere.example.com"}));
    let run = env.sync(&["--force"]);
    run.expect(0);
    assert_eq!(run.stdout, "= 1 unchanged\n");
    assert!(
        run.stderr.contains(&format!(
            "another monitor named \"A\" (#{other}) is not marked as kuma-sync's; it is left alone (#1 stands"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(env.kuma.monitors().len(), 2);
}

fn push_token_moves_to_a_new_monitor_when_the_old_one_changes_type(flavor: Flavor) {
    let env = fresh(flavor);
    env.monitors(r#"[{"name": "Job", "type": "push", "push_token": "job-token-1"}]"#);
    env.sync(&["--setup"]).expect(0);
    assert_eq!(env.monitor("Job")["pushToken"], "job-token-1");
    env.monitors(
        r#"[{"name": "Job", "url": "https://job.example.com"},
            {"name": "Job2", "type": "push", "push_token": "job-token-1"}]"#,
    );
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stdout.contains("push_token (secret) → none"), "{}", run.stdout);
    assert!(!run.stdout.contains("job-token-1") && !run.stderr.contains("job-token-1"), "{}", run.stdout);
    // Uptime Kuma finds push monitors by token alone: the http monitor must not keep it.
    let job = env.monitor("Job");
    assert_eq!((job["type"].as_str(), job["pushToken"].as_str()), (Some("http"), None));
    assert_eq!(env.monitor("Job2")["pushToken"], "job-token-1");
    let holders: Vec<_> = env.kuma.monitors().into_iter().filter(|m| m["pushToken"] == "job-token-1").collect();
    assert_eq!(holders.len(), 1);
    // And it stays that way: nothing to change on a forced run.
    let forced = env.sync(&["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 2 unchanged\n");
}

#[test]
fn a_push_monitor_changed_to_http_gives_up_its_token_2x() {
    push_token_moves_to_a_new_monitor_when_the_old_one_changes_type(Flavor::V2);
}

#[test]
fn a_push_monitor_changed_to_http_gives_up_its_token_1_23() {
    push_token_moves_to_a_new_monitor_when_the_old_one_changes_type(Flavor::V1);
}

#[test]
fn a_run_with_no_prune_that_kept_monitors_stores_no_hash_so_the_next_plain_sync_prunes() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "Svc", "url": "https://svc.example.com"}]"#);
    env.sync(&[]).expect(0);
    env.monitors(r#"[{"name": "Svc2", "url": "https://svc.example.com"}]"#);
    let kept = env.sync(&["--no-prune", "--json"]);
    kept.expect(0);
    assert_eq!(kept.json()["hash_stored"], false);
    assert!(kept.stderr.contains("1 undeclared item of ours kept (--no-prune)"), "{}", kept.stderr);
    assert_eq!(env.names(), ["Svc", "Svc2"]);
    let plain = env.sync(&[]);
    plain.expect(0);
    assert_eq!(plain.stdout, "- delete Svc\n= 1 unchanged\n");
    assert_eq!(env.names(), ["Svc2"]);
    // With nothing left to keep, --no-prune is in sync and the hash gate skips the next run.
    env.sync(&["--no-prune"]).expect(0);
    assert!(env.sync(&["--no-prune"]).stderr.contains("unchanged since the last successful sync"));
}

fn push_token_from_a_credential(flavor: Flavor) {
    let env = fresh(flavor);
    let creds = env.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("nightly-backup-push"), "s3cret-push-0001\n").unwrap();
    env.monitors(r#"[{"name": "Backup", "type": "push", "push_token_credential": "nightly-backup-push"}]"#);
    let run = Run::of(env.cmd("sync", &["--setup"]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    run.expect(0);
    assert_eq!(env.monitor("Backup")["pushToken"], "s3cret-push-0001");
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains("s3cret-push-0001"), "{out}");
    }
    // A new token in the credential is a change the hash gate sees, shown without its value.
    std::fs::write(creds.join("nightly-backup-push"), "s3cret-push-0002").unwrap();
    let run = Run::of(env.cmd("sync", &["--json"]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    run.expect(0);
    assert_eq!(env.monitor("Backup")["pushToken"], "s3cret-push-0002");
    assert!(!run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"), "{}", run.stdout);
    assert_eq!(
        run.json()["changes"][0]["changes"][0],
        json!({"field": "push_token", "from": "(secret)", "to": "(secret)"})
    );
    let writes = env.writes();
    let forced = Run::of(env.cmd("sync", &["--force"]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    forced.expect(0);
    assert_eq!(env.writes(), writes);
}

#[test]
fn a_push_token_comes_from_a_credential_and_never_shows_2x() {
    push_token_from_a_credential(Flavor::V2);
}

#[test]
fn a_push_token_comes_from_a_credential_and_never_shows_1_23() {
    push_token_from_a_credential(Flavor::V1);
}

#[test]
fn a_2_0_2_server_that_drops_the_first_message_costs_no_timeout() {
    // The window is long: a client that emits before `info` loses that event and waits out its ack.
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).first_message_window(std::time::Duration::from_secs(2)));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    let run = env.sync(&["--ack-timeout", "30", "--wait", "20"]);
    run.expect(0);
    assert_eq!(env.kuma.dropped_before_info(), Vec::<String>::new());
    assert_eq!(env.kuma.connections(), 1, "{}", run.stderr);
    assert_eq!(env.names(), ["A"]);
}
