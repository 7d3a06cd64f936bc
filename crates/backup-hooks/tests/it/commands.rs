//! Bad configs, dry runs, pre/post, offload.

use crate::harness::*;
use std::os::unix::fs::PermissionsExt;

fn nothing_ran(sb: &Sandbox) {
    assert!(sb.occ_lines().is_empty(), "{:?}", sb.occ_lines());
    assert!(sb.kuma_pushes().is_empty());
    assert!(!sb.staging().exists());
}

#[test]
fn unknown_key_exits_78_naming_file_table_and_key() {
    let sb = Sandbox::new();
    sb.add("[retention]\nkeep_daily = 7\nkeep_weakly = 4\n");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    let err = out.stderr();
    assert!(err.contains("backup.toml:") && err.contains("[retention]") && err.contains("keep_weakly"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    nothing_ran(&sb);
}

#[test]
fn world_readable_secret_and_missing_source_exit_78() {
    let sb = Sandbox::new();
    sb.init_repo();
    std::fs::set_permissions(sb.root().join("secrets/restic-env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    assert!(out.stderr().contains("[repository] environment_file") && out.stderr().contains("0644"), "{}", out.all());
    assert!(!out.stderr().contains(AWS_SECRET));
    nothing_ran(&sb);

    std::fs::set_permissions(sb.root().join("secrets/restic-env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_dir_all(sb.root().join("data")).unwrap();
    let out = sb.run(&["check-config"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    assert!(out.stderr().contains("[backup] paths:") && out.stderr().contains("does not exist"), "{}", out.all());
    nothing_ran(&sb);
}

#[test]
fn check_config_and_dry_run_change_nothing() {
    let sb = Sandbox::new();
    sb.init_repo();
    let out = sb.run(&["check-config"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let out = sb.run(&["run", "--dry-run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert!(out.stdout().contains("maintenance on: nextcloud-occ maintenance:mode --on"), "{}", out.stdout());
    assert!(out.stdout().contains("AWS_SECRET_ACCESS_KEY=<redacted>"), "{}", out.stdout());
    assert!(!out.all().contains(AWS_SECRET));
    nothing_ran(&sb);
    assert_eq!(sb.snapshots().len(), 0);
    assert_eq!(sb.run(&["status", "--json"]).stdout().trim(), "null");
}

#[test]
fn pre_then_post_and_post_is_idempotent() {
    let sb = Sandbox::new();
    let mut w = SqliteWriter::start(sb.root());
    w.stop();
    sb.add(&format!("[[sqlite]]\nname = \"kuma\"\npath = \"{}\"\n", w.path.display()));
    let out = sb.run(&["pre"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(sb.maintenance_mode(), "enabled", "whole-backup: pre leaves it on for the backup");
    assert_eq!(sb.staged(), ["kuma.sqlite"]);
    let mode = std::fs::metadata(sb.staging()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    for _ in 0..2 {
        let out = sb.run(&["post"]);
        assert_eq!(out.code(), 0, "{}", out.all());
        assert_eq!(sb.maintenance_mode(), "disabled");
        assert_eq!(sb.staged(), Vec::<String>::new());
    }
}

#[test]
fn a_failed_pre_leaves_maintenance_off() {
    let sb = Sandbox::new();
    sb.fakes.script("pg_dump", "exit 1\nstderr pg_dump: error: connection to server failed");
    std::fs::create_dir(sb.root().join("socket")).unwrap();
    sb.add(&format!("[[postgres]]\nname = \"nc\"\ndatabase = \"nc\"\nhost = \"{}/socket\"\n", sb.root().display()));
    let out = sb.run(&["pre"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert_eq!(sb.maintenance_mode(), "disabled");
    assert_eq!(sb.staged(), Vec::<String>::new());
}

#[test]
fn offload_creates_the_copy_with_the_same_chunker_and_copies_every_snapshot() {
    let sb = Sandbox::new();
    sb.init_repo();
    let usb = sb.root().join("usb/restic");
    sb.add(&format!(
        "[offload]\nrepository = \"{}\"\npassword_file = \"{}/secrets/offload-password\"\n",
        usb.display(),
        sb.root().display()
    ));
    assert_eq!(sb.run(&["run"]).code(), 0);
    for _ in 0..2 {
        let out = sb.run(&["offload"]);
        assert_eq!(out.code(), 0, "{}", out.all());
    }
    let dest = |args: &[&str]| {
        let out = std::process::Command::new("restic")
            .args(args)
            .env("RESTIC_REPOSITORY", &usb)
            .env("RESTIC_PASSWORD_FILE", sb.root().join("secrets/offload-password"))
            .env("RESTIC_CACHE_DIR", sb.root().join("cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let copies = dest(&["snapshots", "--json"]);
    assert_eq!(copies.as_array().unwrap().len(), 1, "{copies}");
    let src_cfg: serde_json::Value = serde_json::from_slice(&sb.restic(&["cat", "config"]).stdout).unwrap();
    let dst_cfg = dest(&["cat", "config"]);
    assert_eq!(src_cfg["chunker_polynomial"], dst_cfg["chunker_polynomial"]);
}

#[test]
fn every_secret_named_by_credential_backs_up_offloads_and_tells_kuma() {
    let sb = Sandbox::new();
    sb.use_credentials();
    sb.init_repo();
    let usb = sb.root().join("usb/restic");
    sb.add(&format!(
        "[offload]\nrepository = \"{}\"\n{}\n",
        usb.display(),
        sb.secret_key("password", "offload-password")
    ));
    let config = std::fs::read_to_string(sb.config()).unwrap();
    assert!(!config.contains("PUSHTOKEN") && !config.contains("_file"), "{config}");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(sb.snapshots().len(), 1);
    let pushes = sb.kuma_pushes();
    assert_eq!(pushes.last().map(|p| p.0.as_str()), Some("up"), "{pushes:?}");
    let out = sb.run(&["offload"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    for secret in [RESTIC_PW, AWS_SECRET, "offload-pw", "PUSHTOKEN"] {
        assert!(!out.all().contains(secret), "{}", out.all());
    }
}

#[test]
fn a_credential_that_is_not_there_exits_78_naming_the_key_and_where_it_looked() {
    let sb = Sandbox::new();
    sb.use_credentials();
    sb.init_repo();
    std::fs::remove_file(sb.root().join("secrets/restic-password")).unwrap();
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    let err = out.stderr();
    assert!(err.contains("[repository] password_credential") && err.contains("\"restic-password\""), "{err}");
    assert!(err.contains(&sb.root().join("secrets/restic-password").display().to_string()), "{err}");
    assert!(err.contains(&format!("{}/restic-password", test_support::NO_HOST_CREDENTIALS.1)), "{err}");
    nothing_ran(&sb);
}

#[test]
fn a_secret_named_twice_or_not_at_all_exits_78() {
    let sb = Sandbox::new();
    sb.init_repo();
    sb.add("[offload]\nrepository = \"/mnt/usb/restic\"\n");
    let out = sb.run(&["check-config"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    assert!(out.stderr().contains("[offload]: set password_file or password_credential"), "{}", out.all());

    let sb = Sandbox::new();
    sb.add(&format!(
        "[[ldap]]\nname = \"dir\"\nurl = \"ldap://127.0.0.1:1\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=a\"\n\
         bind_password_credential = \"ldap-password\"\n{}\n",
        sb.secret_key("bind_password", "restic-password")
    ));
    let out = sb.run(&["check-config"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    assert!(
        out.stderr()
            .contains("[[ldap]] \"dir\" bind_password_file, bind_password_credential: set one of them, not both"),
        "{}",
        out.all()
    );
    nothing_ran(&sb);
}

/// The repository's example, which names the homelab's paths and credentials (none exist here).
fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/backup.toml")
}

fn bare(args: &[&str]) -> Out {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backup-hooks"))
        .args(args)
        .env("PATH", empty.path())
        .env_remove("CREDENTIALS_DIRECTORY")
        .env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1)
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    Out(out)
}

#[test]
fn check_config_file_only_passes_before_the_hosts_paths_exist_and_says_what_it_left() {
    let ex = example();
    let out = bare(&["--config", ex.to_str().unwrap(), "check-config"]);
    assert_eq!(out.code(), 78, "the host check must still see the missing paths: {}", out.all());
    let out = bare(&["--config", ex.to_str().unwrap(), "check-config", "--file-only"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let text = out.stdout();
    assert!(text.contains("ok as a file (3 dumps, 2 paths"), "{text}");
    for left in ["[backup] paths exist", "programs on PATH", "secrets readable", "[[sqlite]] paths exist"] {
        assert!(text.contains(left), "{left:?} not said to be unchecked: {text}");
    }
}

#[test]
fn check_config_file_only_still_finds_what_is_wrong_in_the_file() {
    let d = tempfile::tempdir().unwrap();
    let broken = std::fs::read_to_string(example())
        .unwrap()
        .replace("name = \"uptime-kuma\"", "name = \"nextcloud\"")
        .replace(
            "repository = \"/mnt/usb/restic\"",
            "repository = \"s3:https://s3.eu-central-003.backblazeb2.com/example-com-backup\"",
        )
        .replace(
            "password_credential = \"offload-password\"",
            "password_credential = \"offload-password\"\npassword_file = \"/p\"",
        )
        .replace("keep_daily = 7", "keep_daily = 7\nkeep_within = \"a week\"");
    let f = d.path().join("backup.toml");
    std::fs::write(&f, broken).unwrap();
    let out = bare(&["--config", f.to_str().unwrap(), "check-config", "--file-only"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    let err = out.stderr();
    assert!(err.contains("[[sqlite]] \"nextcloud\" name: used twice"), "{err}");
    assert!(err.contains("[offload] repository: is the same repository"), "{err}");
    assert!(err.contains("[offload] password_file, password_credential: set one of them, not both"), "{err}");
    assert!(err.contains("[retention] keep_within: \"a week\""), "{err}");
    assert!(!err.contains("does not exist") && !err.contains("not on PATH"), "host checks ran: {err}");
}

#[test]
fn dry_run_needs_no_host_paths_programs_or_secrets() {
    let ex = example();
    let out = bare(&["--config", ex.to_str().unwrap(), "run", "--dry-run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert!(out.stdout().contains("back up: restic backup"), "{}", out.stdout());
    assert!(out.stdout().contains("RESTIC_PASSWORD=<redacted>"), "{}", out.stdout());
    assert!(out.stderr().contains("on this host the run would stop here"), "{}", out.all());
    assert!(out.stderr().contains("planning for restic 0.14.0"), "{}", out.all());
}

#[test]
fn each_command_reads_only_its_own_secrets_so_the_offload_unit_needs_only_its_credentials() {
    let sb = Sandbox::new();
    sb.use_credentials();
    sb.init_repo();
    sb.restic(&["backup", "--tag", "nightly", sb.root().join("data").to_str().unwrap()]);
    // The offload unit's $CREDENTIALS_DIRECTORY: no LDAP password, no Kuma push URL.
    std::fs::remove_file(sb.root().join("secrets/kuma-push-url")).unwrap();
    sb.add(&format!(
        "[[ldap]]\nname = \"directory\"\nurl = \"ldap://127.0.0.1:389\"\nbase_dn = \"dc=example,dc=com\"\n\
         bind_dn = \"cn=admin,dc=example,dc=com\"\nbind_password_credential = \"ldap-password\"\n\n\
         [offload]\nrepository = \"{}\"\npassword_credential = \"offload-password\"\n",
        sb.root().join("usb/restic").display()
    ));
    let out = sb.run(&["offload"]);
    assert_eq!(out.code(), 0, "offload needs no LDAP or Kuma secret: {}", out.all());
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    assert!(out.stderr().contains("[[ldap]] \"directory\" bind_password_credential"), "{}", out.all());
    let out = sb.run(&["check-config"]);
    assert_eq!(out.code(), 78, "{}", out.all());
}
