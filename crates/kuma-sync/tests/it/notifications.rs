//! Notifications declared in the file: created, compared with what the server keeps (no perpetual
//! diffs), secrets from credentials only, adopted, pruned; monitors name them; on 1.23 and 2.x.

use crate::{Env, PASSWORD, Run, USER};
use serde_json::{Value, json};
use std::path::PathBuf;
use test_support::kuma::{Flavor, Kuma};

const TOKEN: &str = "tk_s3cret_ntfy";
const HOOK: &str = "https://hooks.example.com/s3cret-path";

const FILE: &str = r#"{
  "notifications": [
    {"name": "ntfy", "type": "ntfy", "default": true,
     "settings": {"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "home", "ntfyPriority": 5},
     "secrets": {"ntfyaccesstoken": "ntfy-token"}},
    {"name": "hooks", "type": "webhook", "settings": {"webhookContentType": "json"},
     "secrets": {"webhookURL": "hook-url"}}
  ],
  "monitors": [
    {"name": "A", "url": "https://a.example.com", "notifications": ["ntfy", "hooks"]},
    {"name": "B", "url": "https://b.example.com"}
  ]
}"#;

fn start(flavor: Flavor) -> (Env, PathBuf) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    let creds = env.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("ntfy-token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(creds.join("hook-url"), HOOK).unwrap();
    (env, creds)
}

fn sync(env: &Env, creds: &PathBuf, extra: &[&str]) -> Run {
    let run = Run::of(env.cmd("sync", extra).env("CREDENTIALS_DIRECTORY", creds).output().unwrap());
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains(TOKEN) && !out.contains("s3cret"), "a secret leaked: {out}");
    }
    run
}

fn notification(env: &Env, name: &str) -> (i64, bool, Value) {
    let all: Vec<_> = env.kuma.notifications().into_iter().filter(|n| n.1 == name).collect();
    assert_eq!(all.len(), 1, "exactly one notification named {name}: {all:?}");
    let (id, _, default, config) = all.into_iter().next().unwrap();
    (id, default, config)
}

fn notification_names(env: &Env, monitor: &str) -> Vec<String> {
    let id = env.monitor(monitor)["id"].as_i64().unwrap();
    let all = env.kuma.notifications();
    let mut names: Vec<String> = env
        .kuma
        .monitor_notifications(id)
        .iter()
        .map(|n| all.iter().find(|x| x.0 == *n).map(|x| x.1.clone()).unwrap())
        .collect();
    names.sort();
    names
}

fn converges_and_is_idempotent(flavor: Flavor) {
    let (env, creds) = start(flavor);
    env.monitors(FILE);
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert!(run.stdout.starts_with("+ create notification ntfy\n+ create notification hooks\n"), "{}", run.stdout);
    let (_, default, config) = notification(&env, "ntfy");
    assert!(default);
    assert_eq!(config["type"], "ntfy");
    assert_eq!(config["ntfytopic"], "home");
    assert_eq!(config["ntfyaccesstoken"], TOKEN);
    assert_eq!(config["managedBy"], "kuma-sync");
    assert_eq!(notification(&env, "hooks").2["webhookURL"], HOOK);
    // A names both; B names none, so it gets the default one, as in the web UI.
    assert_eq!(notification_names(&env, "A"), ["hooks", "ntfy"]);
    assert_eq!(notification_names(&env, "B"), ["ntfy"]);
    // The file never held a secret.
    assert!(!std::fs::read_to_string(env.path("monitors.json")).unwrap().contains("s3cret"));

    // Compared again with nothing changed: no write at all, on every kind.
    let writes = env.writes();
    let forced = sync(&env, &creds, &["--force"]);
    forced.expect(0);
    assert_eq!(forced.stdout, "= 4 unchanged\n");
    assert_eq!(env.writes(), writes);
    // A lost state directory: compared again, nothing created twice.
    std::fs::remove_dir_all(env.path("state")).unwrap();
    sync(&env, &creds, &[]).expect(0);
    assert_eq!(env.writes(), writes);
    assert_eq!(env.kuma.notifications().len(), 2);

    // A changed setting and a rotated secret: one edit, keys the web UI added kept.
    let (ntfy_id, ..) = notification(&env, "ntfy");
    std::fs::write(creds.join("ntfy-token"), "tk_s3cret_rotated").unwrap();
    env.monitors(&FILE.replace(r#""ntfytopic": "home""#, r#""ntfytopic": "alerts""#));
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert!(
        run.stdout.contains(
            "~ update notification ntfy: ntfytopic \"home\" → \"alerts\", ntfyaccesstoken (secret) → (secret)\n"
        ),
        "{}",
        run.stdout
    );
    let (id, _, config) = notification(&env, "ntfy");
    assert_eq!(
        (id, config["ntfytopic"].as_str(), config["ntfyaccesstoken"].as_str()),
        (ntfy_id, Some("alerts"), Some("tk_s3cret_rotated"))
    );

    // Dropped from the file: deleted (after the monitors stop naming it).
    env.monitors(
        r#"{"notifications": [{"name": "ntfy", "type": "ntfy", "default": true,
              "settings": {"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "alerts", "ntfyPriority": 5},
              "secrets": {"ntfyaccesstoken": "ntfy-token"}}],
            "monitors": [{"name": "A", "url": "https://a.example.com", "notifications": ["ntfy"]},
                         {"name": "B", "url": "https://b.example.com"}]}"#,
    );
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert!(run.stdout.ends_with("- delete notification hooks\n= 3 unchanged\n"), "{}", run.stdout);
    assert_eq!(env.kuma.notifications().len(), 1);
    assert_eq!(notification_names(&env, "A"), ["ntfy"]);
    let writes = env.writes();
    sync(&env, &creds, &["--force"]).expect(0);
    assert_eq!(env.writes(), writes);
}

#[test]
fn notifications_converge_and_a_forced_run_writes_nothing_2x() {
    converges_and_is_idempotent(Flavor::V2);
}

#[test]
fn notifications_converge_and_a_forced_run_writes_nothing_1_23() {
    converges_and_is_idempotent(Flavor::V1);
}

#[test]
fn apply_existing_reaches_unmanaged_lists_and_declared_lists_stay_as_declared() {
    let (env, creds) = start(Flavor::V2);
    let manual = env.kuma.insert_monitor(json!({"name": "Manual", "type": "http", "url": "https://m.example.com"}));
    env.monitors(
        r#"[{"name": "Quiet", "url": "https://q.example.com", "notifications": []},
            {"name": "Loud", "url": "https://l.example.com"}]"#,
    );
    sync(&env, &creds, &[]).expect(0);
    env.monitors(
        r#"{"notifications": [{"name": "pager", "type": "webhook", "apply_existing": true,
                               "secrets": {"webhookURL": "hook-url"}}],
            "monitors": [{"name": "Quiet", "url": "https://q.example.com", "notifications": []},
                         {"name": "Loud", "url": "https://l.example.com"}]}"#,
    );
    let plan = Run::of(env.cmd("plan", &[]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    plan.expect(0);
    // The plan knows the server will add it everywhere, and that Quiet must not keep it.
    assert_eq!(plan.stdout, "+ create notification pager\n~ update Quiet: notifications [pager] → []\n= 1 unchanged\n");
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert_eq!(notification_names(&env, "Quiet"), Vec::<String>::new());
    assert_eq!(notification_names(&env, "Loud"), ["pager"]);
    assert_eq!(env.kuma.monitor_notifications(manual).len(), 1, "the server applies it to every monitor");
    let writes = env.writes();
    sync(&env, &creds, &["--force"]).expect(0);
    assert_eq!(env.writes(), writes, "converged in one run");
}

#[test]
fn an_unmarked_notification_with_a_declared_name_is_adopted_and_a_foreign_one_never_touched() {
    let (env, creds) = start(Flavor::V1);
    let made = env.kuma.insert_notification(json!({"name": "ntfy", "type": "ntfy", "isDefault": false,
        "ntfyserverurl": "https://ntfy.sh", "ntfytopic": "home", "ntfyIcon": "https://icon.example.com"}));
    let foreign = env.kuma.insert_notification(json!({"name": "mail", "type": "smtp", "smtpHost": "mx"}));
    env.monitors(
        r#"{"notifications": [{"name": "ntfy", "type": "ntfy",
              "settings": {"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "home"}}], "monitors": []}"#,
    );
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert_eq!(run.stdout, "~ adopt notification ntfy (now marked managedBy: kuma-sync)\n= 0 unchanged\n");
    let (id, _, config) = notification(&env, "ntfy");
    assert_eq!(id, made);
    assert_eq!(config["ntfyIcon"], "https://icon.example.com", "keys the file does not name are kept");
    // Now ours: dropped from the file, deleted; the foreign one stays.
    env.monitors(r#"{"notifications": [], "monitors": []}"#);
    let run = sync(&env, &creds, &[]);
    run.expect(0);
    assert_eq!(run.stdout, "- delete notification ntfy\n= 0 unchanged\n");
    let left: Vec<i64> = env.kuma.notifications().iter().map(|n| n.0).collect();
    assert_eq!(left, [foreign]);
}

#[test]
fn a_missing_secret_or_a_type_the_server_lacks_is_found_before_any_write() {
    let (env, creds) = start(Flavor::V1);
    env.monitors(r#"{"notifications": [{"name": "n", "type": "ntfy", "secrets": {"ntfyaccesstoken": "nope"}}]}"#);
    let run = sync(&env, &creds, &[]);
    run.expect(78);
    assert!(
        run.stderr.contains(r#"notifications: entry 1 ("n"): field "secrets": "ntfyaccesstoken": "#),
        "{}",
        run.stderr
    );
    assert_eq!(env.kuma.connections(), 0);
    env.monitors(r#"{"notifications": [{"name": "n", "type": "threema"}]}"#);
    let run = sync(&env, &creds, &[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"field "type": Uptime Kuma 1.23.16 has no notification type "threema""#),
        "{}",
        run.stderr
    );
    assert_eq!(env.writes(), 0);
    // A monitor may name a notification the file declares, not one that exists nowhere.
    env.monitors(r#"{"monitors": [{"name": "A", "url": "https://a.example.com", "notifications": ["pager"]}]}"#);
    sync(&env, &creds, &[]).expect(65);
    assert_eq!(env.writes(), 0);
}
