//! `kuma-sync export`: a server as a file sync accepts, secrets as named credentials; export → sync on
//! the same server changes nothing (only the ownership marks of what it had not marked yet).

use crate::{Env, PASSWORD, Run, USER, bin};
use serde_json::json;
use test_support::kuma::{Flavor, Kuma};

fn export(env: &Env, extra: &[&str]) -> Run {
    let out = bin()
        .arg("export")
        .args(["--url", &env.kuma.url(), "--username", USER, "--wait", "5", "--ack-timeout", "5"])
        .arg("--password-file")
        .arg(env.path("password"))
        .args(extra)
        .env_remove("KUMA_URL")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    Run::of(out)
}

const MANAGED: &str = r#"{
  "maintenance": [{"title": "Nightly", "description": "Backups", "strategy": "recurring-weekday", "weekdays": [1, 3],
                   "start_time": "03:00", "end_time": "04:00", "monitors": ["Web"], "status_pages": ["home"]},
                  {"title": "Move", "strategy": "single", "start_date": "2026-12-24 08:00",
                   "end_date": "2026-12-24 18:00", "active": false}],
  "status_pages": [{"slug": "home", "title": "Home", "description": "At home", "custom_css": "h1 { color: red; }",
                    "groups": [{"name": "Net", "monitors": ["Router"]}]}],
  "docker_hosts": [{"name": "podman", "type": "socket", "daemon": "/run/podman/podman.sock"}],
  "notifications": [{"name": "ntfy", "type": "ntfy", "default": true,
                     "settings": {"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "home"},
                     "secrets": {"ntfyaccesstoken": "ntfy-token"}}],
  "monitors": [
    {"name": "Infra", "type": "group"},
    {"name": "Router", "type": "ping", "hostname": "192.168.1.1", "parent": "Infra", "tags": ["net"], "interval": 30},
    {"name": "Backup", "type": "push", "push_token_credential": "backup-push", "interval": 90000, "active": false},
    {"name": "Cloud", "type": "docker", "docker_container": "nextcloud", "docker_host": "podman",
     "notifications": ["ntfy"], "status_pages": ["home"]},
    {"name": "Web", "type": "keyword", "url": "https://web.example.com", "keyword": "ok", "maxretries": 3,
     "accepted_status_codes": ["200-299", "301"]}
  ]
}"#;

fn export_of_a_managed_server_syncs_with_zero_writes(flavor: Flavor) {
    let b = match flavor {
        Flavor::V1 => Kuma::v1(),
        Flavor::V2 => Kuma::v2(),
    };
    let env = Env::new(b.user(USER, PASSWORD));
    let creds = env.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("ntfy-token"), "tk_s3cret").unwrap();
    std::fs::write(creds.join("backup-push"), "s3cretpush01").unwrap();
    env.monitors(MANAGED);
    Run::of(env.cmd("sync", &[]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap()).expect(0);
    let writes = env.writes();

    let exported = env.path("exported.json");
    let secrets = env.path("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let run = export(&env, &["--out", exported.to_str().unwrap(), "--secrets-dir", secrets.to_str().unwrap()]);
    run.expect(0);
    assert_eq!(env.writes(), writes, "export writes nothing");
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(!text.contains("s3cret") && !run.stderr.contains("s3cret"), "{text}");
    assert!(text.contains(r#""push_token_credential": "backup-push-token""#), "{text}");
    assert_eq!(std::fs::read_to_string(secrets.join("backup-push-token")).unwrap(), "s3cretpush01");
    // A window's pages by slug, and an empty list where it has none (the file then manages them).
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pages_of = |title: &str| {
        doc["maintenance"].as_array().unwrap().iter().find(|w| w["title"] == title).unwrap()["status_pages"].clone()
    };
    assert_eq!((pages_of("Nightly"), pages_of("Move")), (json!(["home"]), json!([])));
    assert_eq!(std::fs::read_to_string(secrets.join("ntfy-ntfyaccesstoken")).unwrap(), "tk_s3cret");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(secrets.join("ntfy-ntfyaccesstoken")).unwrap().permissions().mode() & 0o777, 0o600);

    // The exported file, synced to the same server with the exported secrets: nothing to do.
    std::fs::copy(&exported, env.path("monitors.json")).unwrap();
    let run = Run::of(env.cmd("sync", &["--force"]).env("CREDENTIALS_DIRECTORY", &secrets).output().unwrap());
    run.expect(0);
    assert_eq!(run.stdout, "= 10 unchanged\n");
    assert!(text.contains(r#""custom_css": "h1 { color: red; }""#), "{text}");
    assert_eq!(env.writes(), writes);
}

#[test]
fn export_then_sync_on_the_same_server_is_a_no_op_2x() {
    export_of_a_managed_server_syncs_with_zero_writes(Flavor::V2);
}

#[test]
fn export_then_sync_on_the_same_server_is_a_no_op_1_23() {
    export_of_a_managed_server_syncs_with_zero_writes(Flavor::V1);
}

#[test]
fn an_installation_made_by_hand_is_adopted_in_one_step_without_changing_a_field() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD));
    env.kuma.insert_notification(json!({"name": "hook", "type": "webhook", "isDefault": false,
        "webhookURL": "https://hooks.example.com/s3cret", "webhookContentType": "json"}));
    let g = env.kuma.insert_monitor(json!({"name": "Group", "type": "group", "interval": 60, "retryInterval": 60,
        "timeout": 48}));
    env.kuma.insert_monitor(json!({"name": "Site", "type": "http", "url": "https://site.example.com",
        "interval": 120, "retryInterval": 60, "timeout": 30, "maxretries": 1, "parent": g,
        "accepted_statuscodes": ["200-299"]}));
    env.kuma.insert_monitor(json!({"name": "Broker", "type": "mqtt", "hostname": "mqtt.local"}));
    let run = export(&env, &[]);
    run.expect(0);
    assert!(run.stderr.contains(r#"left out: "Broker": type "mqtt" is not one kuma-sync declares"#), "{}", run.stderr);
    assert!(run.stderr.contains("hook-webhookurl"), "{}", run.stderr);
    assert!(!run.stdout.contains("s3cret"));
    env.monitors(&run.stdout);
    let creds = env.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("hook-webhookurl"), "https://hooks.example.com/s3cret").unwrap();

    let run = Run::of(env.cmd("sync", &[]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    run.expect(0);
    // Only ownership marks: no field of any monitor or notification changes.
    assert_eq!(
        run.stdout,
        "~ adopt notification hook (now marked managedBy: kuma-sync)\n+ create tag managed-by\n\
         ~ adopt Group (unmarked monitor with a declared name; now marked managed-by: kuma-sync)\n\
         ~ adopt Site (unmarked monitor with a declared name; now marked managed-by: kuma-sync)\n= 0 unchanged\n"
    );
    assert!(!env.kuma.writes().iter().any(|w| w.name == "editMonitor"));
    assert_eq!(env.kuma.monitors().len(), 3, "Broker stays, not ours");
    let writes = env.writes();
    Run::of(env.cmd("sync", &["--force"]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap()).expect(0);
    assert_eq!(env.writes(), writes);
}
