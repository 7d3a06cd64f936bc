//! Bad input: one clear line naming the file, the entry and the field; exit 65; nothing on the server
//! changes. And the password: from a file, $KUMA_PASSWORD_FILE or a credential, never in output.

use crate::{Env, PASSWORD, Run, USER, bin};
use std::os::unix::fs::PermissionsExt;
use test_support::kuma::Kuma;

#[test]
fn validate_checks_offline() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.json");
    std::fs::write(
        &ok,
        r#"[{"name": "G", "type": "group"}, {"name": "A", "url": "https://a.example.com", "parent": "G"}]"#,
    )
    .unwrap();
    let run = Run::of(bin().arg("validate").arg(&ok).output().unwrap());
    run.expect(0);
    assert!(run.stdout.contains("2 monitors (1 group) OK"), "{}", run.stdout);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"name": "A", "url": "https://a.example.com", "interval": 5}]"#).unwrap();
    let run = Run::of(bin().arg("validate").arg(&bad).output().unwrap());
    run.expect(65);
    let want = format!("{}: entry 1 (\"A\"): field \"interval\": 5 is outside 20…2073600", bad.display());
    assert_eq!(run.stderr.trim(), format!("error: {want}"));
}

#[test]
fn every_offline_bad_input_exits_65_without_connecting() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    let cases = [
        (r#"[{"name": "A", "url": "https://a", "colour": "red"}]"#, r#"entry 1 ("A"): field "colour": unknown key"#),
        (r#"[{"name": "A", "url": "https://a", "maxretries": "3"}]"#, r#"field "maxretries": expected a whole number"#),
        (
            r#"[{"name": "A", "url": "https://a"}, {"name": "A", "url": "https://b"}]"#,
            r#"entry 2 ("A"): field "name": duplicate name"#,
        ),
        (
            r#"[{"name": "A", "url": "https://a", "interval": 3000000}]"#,
            r#"field "interval": 3000000 is outside 20…2073600"#,
        ),
        (
            r#"[{"name": "K", "type": "keyword", "url": "https://a"}]"#,
            r#"entry 1 ("K"): field "keyword": required for a keyword monitor"#,
        ),
        (
            r#"[{"name": "A", "url": "https://a", "parent": "Nope"}]"#,
            r#"field "parent": "Nope" is not a monitor in this file"#,
        ),
    ];
    for (json, want) in cases {
        env.monitors(json);
        let run = env.sync(&[]);
        run.expect(65);
        assert!(run.stderr.contains("monitors.json: ") && run.stderr.contains(want), "{json}\n{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    }
    assert_eq!(env.kuma.connections(), 0);
}

#[test]
fn an_unknown_notification_name_is_found_before_anything_is_written() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD).notification("ntfy", false));
    env.monitors(
        r#"[{"name": "A", "url": "https://a.example.com"},
            {"name": "B", "url": "https://b.example.com", "notifications": ["ntfy", "pager"]}]"#,
    );
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(
            r#"entry 2 ("B"): field "notifications": the server has no notification named "pager" (it has: ntfy)"#
        ),
        "{}",
        run.stderr
    );
    assert_eq!(env.writes(), 0);
    assert!(env.kuma.monitors().is_empty());
}

#[test]
fn a_push_token_too_long_for_1_23_is_found_before_anything_is_written() {
    let env = Env::new(Kuma::v1().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "P", "type": "push", "push_token": "abcdefghijklmnopqrstuvwxyz"}]"#);
    let run = env.sync(&[]);
    run.expect(65);
    assert!(
        run.stderr.contains(r#"field "push_token": 26 characters; Uptime Kuma 1.23.16 takes at most 20"#),
        "{}",
        run.stderr
    );
    assert_eq!(env.writes(), 0);
}

#[test]
fn the_password_comes_from_a_credential_or_env_file_and_never_shows() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    let creds = env.path("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("kuma-password"), PASSWORD).unwrap();
    let sync = |configure: &dyn Fn(&mut std::process::Command)| {
        let mut c = bin();
        c.args(["-v", "sync", "--force", "--username", USER, "--url", &env.kuma.url(), "--wait", "5"])
            .arg("--monitors")
            .arg(env.path("monitors.json"))
            .arg("--state-dir")
            .arg(env.path("state"))
            .env_remove("KUMA_PASSWORD_FILE")
            .env_remove("CREDENTIALS_DIRECTORY");
        configure(&mut c);
        let run = Run::of(c.output().unwrap());
        // Run::expect also checks that the password is in neither stdout nor stderr (-v: debug lines too).
        run.expect(0);
    };
    sync(&|c| {
        c.env("CREDENTIALS_DIRECTORY", &creds);
    });
    sync(&|c| {
        c.env("KUMA_PASSWORD_FILE", env.path("password"));
    });
    // The login happened with the password, over the socket; never as an argument.
    let logins: Vec<_> = env.kuma.events().into_iter().filter(|e| e.name == "login").collect();
    assert_eq!(logins.len(), 2);
    assert_eq!(logins[0].args[0]["password"], PASSWORD);

    // No password anywhere: a config error naming where it looked.
    let run = Run::of(
        bin()
            .args(["sync", "--username", USER, "--url", &env.kuma.url(), "--force"])
            .arg("--monitors")
            .arg(env.path("monitors.json"))
            .arg("--state-dir")
            .arg(env.path("state"))
            .env_remove("KUMA_PASSWORD_FILE")
            .env_remove("CREDENTIALS_DIRECTORY")
            .output()
            .unwrap(),
    );
    run.expect(78);
    assert!(run.stderr.contains("kuma-password"), "{}", run.stderr);

    // A password file every user can read is refused, without showing it.
    std::fs::set_permissions(env.path("password"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = env.sync(&["--force"]);
    run.expect(78);
    assert!(run.stderr.contains("lets every user read it"), "{}", run.stderr);
}

#[test]
fn there_is_no_password_flag() {
    let run = Run::of(bin().args(["sync", "--monitors", "m.json", "--password", "x"]).output().unwrap());
    assert_eq!(run.code, 2);
}

#[test]
fn two_monitors_with_one_push_token_are_refused_naming_both() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(
        r#"[{"name": "Job", "type": "push", "push_token": "job-token-1"},
            {"name": "Job2", "type": "push", "push_token": "job-token-1"}]"#,
    );
    for run in [env.sync(&[]), Run::of(bin().arg("validate").arg(env.path("monitors.json")).output().unwrap())] {
        run.expect(65);
        assert!(
            run.stderr.contains(r#"entry 2 ("Job2"): field "push_token": entry 1 ("Job") has the same push token"#),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.kuma.connections(), 0);
}

#[test]
fn a_missing_push_token_credential_is_a_config_error_before_connecting() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    let creds = env.path("credentials");
    std::fs::create_dir(&creds).unwrap();
    env.monitors(r#"[{"name": "Backup", "type": "push", "push_token_credential": "nightly-backup-push"}]"#);
    let run = Run::of(env.cmd("sync", &[]).env("CREDENTIALS_DIRECTORY", &creds).output().unwrap());
    run.expect(78);
    assert!(
        run.stderr.contains(r#"entry 1 ("Backup"): field "push_token_credential": "#)
            && run.stderr.contains("nightly-backup-push"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(env.kuma.connections(), 0);
}

#[test]
fn a_world_readable_password_file_is_refused_without_naming_a_flag_that_does_not_exist() {
    let env = Env::new(Kuma::v2().user(USER, PASSWORD));
    env.monitors(r#"[{"name": "A", "url": "https://a.example.com"}]"#);
    std::fs::set_permissions(env.path("password"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = env.sync(&[]);
    run.expect(78);
    assert!(run.stderr.contains("0644") && run.stderr.contains("chmod o-r"), "{}", run.stderr);
    assert!(!run.stderr.contains("flag"), "{}", run.stderr);
    assert_eq!(env.kuma.connections(), 0);
}
