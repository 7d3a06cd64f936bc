//! Faults: a server that starts late or answers late, a socket dropped mid-sync, refused logins, a
//! monitor the server rejects. Each says what happened, exits with its code, and stores no hash.

use crate::{Env, PASSWORD, Run, USER, bin};
use std::net::TcpListener;
use std::time::Duration;
use test_support::kuma::Kuma;

const THREE: &str = r#"[{"name": "A", "url": "https://a.example.com"}, {"name": "B", "url": "https://b.example.com"},
                        {"name": "C", "url": "https://c.example.com"}]"#;

fn hash_stored(env: &Env) -> bool {
    env.path("state/kuma-sync.hash").exists()
}

#[test]
fn a_server_that_starts_after_us_is_waited_for() {
    // Something holds the port but is not Uptime Kuma yet: it takes the client's first attempt and hangs
    // up; only then does the server start there.
    let early = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = early.local_addr().unwrap();
    let starter = std::thread::spawn(move || {
        drop(early.accept().unwrap());
        drop(early);
        Kuma::v2().user(USER, PASSWORD).start_on(port)
    });
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path();
    let pw = env_dir.join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(env_dir.join("m.json"), THREE).unwrap();
    let out = bin()
        .args(["sync", "--username", USER, "--wait", "30", "--ack-timeout", "5"])
        .arg("--url")
        .arg(format!("http://{port}"))
        .arg("--monitors")
        .arg(env_dir.join("m.json"))
        .arg("--password-file")
        .arg(&pw)
        .arg("--state-dir")
        .arg(env_dir.join("state"))
        .output()
        .unwrap();
    let run = Run::of(out);
    run.expect(0);
    assert!(run.stderr.contains("not ready yet"), "{}", run.stderr);
    let kuma = starter.join().unwrap();
    assert_eq!(kuma.monitors().len(), 3);
}

#[test]
fn a_server_that_never_comes_up_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(dir.path().join("m.json"), THREE).unwrap();
    let run = Run::of(
        bin()
            .args(["sync", "--username", USER, "--wait", "1"])
            .arg("--url")
            .arg(format!("http://{port}"))
            .arg("--monitors")
            .arg(dir.path().join("m.json"))
            .arg("--password-file")
            .arg(&pw)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .output()
            .unwrap(),
    );
    run.expect(69);
    assert!(run.stderr.contains("is not answering after"), "{}", run.stderr);
    assert!(!dir.path().join("state/kuma-sync.hash").exists());
}

#[test]
fn a_server_whose_database_is_not_ready_is_retried_until_it_answers() {
    // Port open, WebSocket accepted, but no acknowledgement on the first two connections (2.x starting up).
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).silent_connections(2));
    env.monitors(THREE);
    let run = env.sync(&["--ack-timeout", "1", "--wait", "30"]);
    run.expect(0);
    assert_eq!(env.kuma.connections(), 3, "it reconnected until the server answered");
    assert_eq!(run.stderr.matches(r#"no answer to "needSetup" within 1s"#).count(), 2, "{}", run.stderr);
    assert_eq!(env.kuma.monitors().len(), 3);
}

#[test]
fn a_socket_dropped_mid_sync_is_reconnected_and_the_job_finished_without_duplicates() {
    // Writes: addTag managed-by, add A, addMonitorTag A, then the socket drops at add B.
    let env = Env::new(Kuma::v1().user(USER, PASSWORD).drop_after_writes(3));
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(0);
    assert!(run.stderr.contains("the connection to Uptime Kuma was lost after 4 writes"), "{}", run.stderr);
    assert!(run.stderr.contains("finished after 1 reconnect"), "{}", run.stderr);
    assert_eq!(run.stdout, "+ create tag managed-by\n+ create A\n+ create B\n+ create C\n= 0 unchanged\n");
    assert_eq!(env.names(), ["A", "B", "C"]);
    assert!(hash_stored(&env));
    assert_eq!(env.kuma.connections(), 2);
}

#[test]
fn a_server_gone_mid_sync_stores_no_hash_and_the_next_run_finishes_without_duplicates() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).die_after_writes(3));
    env.monitors(THREE);
    let run = env.sync(&["--wait", "1"]);
    run.expect(69);
    assert!(run.stderr.contains("connection to Uptime Kuma was lost part-way (2 changes done"), "{}", run.stderr);
    assert!(run.stderr.contains("reconnecting failed"), "{}", run.stderr);
    assert!(run.stderr.contains("the hash is not stored"), "{}", run.stderr);
    assert!(!hash_stored(&env));
    assert_eq!(env.names(), ["A"]);
    env.kuma.revive();
    let again = env.sync(&[]);
    again.expect(0);
    assert_eq!(again.stdout, "+ create B\n+ create C\n= 1 unchanged\n");
    assert_eq!(env.names(), ["A", "B", "C"]);
    assert!(hash_stored(&env));
}

#[test]
fn a_monitor_the_server_rejects_is_reported_the_rest_carry_on_and_no_hash_is_stored() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).reject_monitor("B", "SQLITE_BUSY: database is locked"));
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(1);
    assert!(run.stdout.contains("+ create A\n") && run.stdout.contains("+ create C\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("create B"), "{}", run.stdout);
    assert!(run.stderr.contains("create B: the server refused: SQLITE_BUSY: database is locked"), "{}", run.stderr);
    assert!(run.stderr.contains("1 of 4 changes failed (B)"), "{}", run.stderr);
    assert!(!hash_stored(&env));
    assert_eq!(env.names(), ["A", "C"]);
}

#[test]
fn bad_credentials_are_a_config_error_on_both_versions() {
    for builder in [Kuma::v1(), Kuma::v2()] {
        let env = Env::new(builder.user(USER, "another-password-1"));
        env.monitors(THREE);
        let run = env.sync(&[]);
        run.expect(78);
        assert!(run.stderr.contains(r#"login to http://127.0.0.1:"#), "{}", run.stderr);
        assert!(run.stderr.to_lowercase().contains("incorrect username or password"), "{}", run.stderr);
        assert!(!hash_stored(&env));
        assert_eq!(env.writes(), 0);
    }
}

#[test]
fn two_factor_accounts_are_refused_with_a_clear_message() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).totp());
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(78);
    assert!(run.stderr.contains("two-factor authentication"), "{}", run.stderr);
    assert_eq!(env.writes(), 0);
}

#[test]
fn a_rate_limited_login_says_try_again() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD).login_limit(0));
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(75);
    assert!(run.stderr.contains("rate-limits logins"), "{}", run.stderr);
    assert!(!hash_stored(&env));
}

#[test]
fn a_fresh_server_needs_setup_to_be_asked_for() {
    let env = Env::new(Kuma::v2());
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(78);
    assert!(run.stderr.contains("no admin account yet; run `kuma-sync sync --setup` once"), "{}", run.stderr);
    assert_eq!(env.writes(), 0);
}

#[test]
fn heartbeats_are_answered_during_a_sync() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD).heartbeat(Duration::from_millis(5), Duration::from_secs(3)));
    let many: Vec<String> =
        (0..30).map(|i| format!(r#"{{"name": "M{i}", "url": "https://m{i}.example.com"}}"#)).collect();
    env.monitors(&format!("[{}]", many.join(",")));
    env.sync(&[]).expect(0);
    assert!(env.kuma.pongs() > 0);
    assert_eq!(env.kuma.dropped_for_heartbeat(), 0);
    assert_eq!(env.kuma.monitors().len(), 30);
}

#[test]
fn sigterm_while_waiting_for_the_server_stops_cleanly_and_says_so() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).silent_for(Duration::from_secs(600)));
    env.monitors(THREE);
    let child = env
        .cmd("sync", &["--wait", "600", "--ack-timeout", "300"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is connected and waiting for an acknowledgement that will not come.
    while !env.kuma.events().iter().any(|e| e.name == "needSetup") {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let run = Run::of(child.wait_with_output().unwrap());
    run.expect(75);
    assert!(
        run.stderr.contains("stopped by a signal while waiting for Uptime Kuma; nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!hash_stored(&env));
}

#[test]
fn when_the_ownership_tag_cannot_be_created_no_monitor_is_written() {
    let env =
        Env::new(Kuma::v2().user(USER, PASSWORD).reject_monitor("managed-by", "SQLITE_FULL: database or disk is full"));
    env.monitors(THREE);
    let run = env.sync(&[]);
    run.expect(1);
    assert!(run.stderr.contains("create tag managed-by: the server refused: SQLITE_FULL"), "{}", run.stderr);
    assert!(env.kuma.monitors().is_empty());
    assert!(!hash_stored(&env));
}

#[test]
fn a_connection_that_keeps_dropping_gives_up_after_three_reconnects() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).drop_every_writes(2));
    let many: Vec<String> =
        (0..10).map(|i| format!(r#"{{"name": "M{i}", "url": "https://m{i}.example.com"}}"#)).collect();
    env.monitors(&format!("[{}]", many.join(",")));
    let run = env.sync(&[]);
    run.expect(75);
    assert!(run.stderr.contains("3 reconnects): the connection was lost"), "{}", run.stderr);
    assert!(!hash_stored(&env));
    assert_eq!(env.kuma.connections(), 4);
    // A drop between `add` and its ownership tag leaves an unmarked monitor with a declared name: the
    // next run adopts it instead of creating a duplicate.
    env.kuma.revive();
    let again = env.sync(&[]);
    again.expect(0);
    assert!(again.stdout.contains("~ adopt M"), "{}", again.stdout);
    let mut names = env.names();
    names.dedup();
    assert_eq!(names.len(), 10);
    assert_eq!(env.kuma.monitors().len(), 10);
}

#[test]
fn a_server_that_never_answers_says_how_long_it_waited_as_given() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).silent_for(Duration::from_secs(600)));
    env.monitors(THREE);
    let run = env.sync(&["--wait", "2", "--ack-timeout", "1"]);
    run.expect(69);
    assert!(run.stderr.contains(r#"no answer to "needSetup" within 1s"#), "{}", run.stderr);
    assert!(!run.stderr.contains("in time") && !run.stderr.contains(".99"), "{}", run.stderr);
}
