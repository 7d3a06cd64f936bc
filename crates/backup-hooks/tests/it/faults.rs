//! Faults: each leaves Nextcloud serving, no truncated dump under its final name, no prune after a
//! failed backup, and says so to Kuma and in the status.

use crate::harness::*;

const VERSION_0_14: &str = "when version\nstdout restic 0.14.0 compiled with go1.19.8 on linux/amd64\n---\n\
when cat config\nstdout ok\n---\n";

const SUMMARY: &str = r#"{"message_type":"summary","files_new":1,"files_changed":0,"files_unmodified":0,"dirs_new":1,"dirs_changed":0,"dirs_unmodified":0,"data_blobs":1,"tree_blobs":1,"data_added":4242,"total_files_processed":1,"total_bytes_processed":27,"total_duration":0.2,"snapshot_id":"f00dfeed0123"}"#;

/// restic as the fake, answering `backup` as `rule` says (for exit codes a real restic cannot be made to give here).
fn fake_restic(sb: &Sandbox, backup_rule: &str) {
    sb.fakes
        .script("restic", &format!("{VERSION_0_14}when backup\n{backup_rule}\n---\nwhen forget\n---\nwhen check\n"));
}

fn step<'a>(st: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    st["steps"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}: {st}"))
}

fn assert_left_safe(sb: &Sandbox) {
    assert_eq!(sb.maintenance_mode(), "disabled", "Nextcloud left in maintenance mode: {:?}", sb.occ_lines());
    assert_eq!(sb.staged(), Vec::<String>::new(), "staging not emptied");
    let pushes = sb.kuma_pushes();
    assert_eq!(pushes.last().map(|p| p.0.as_str()), Some("down"), "{pushes:?}");
}

#[test]
fn pg_dump_killed_midway_saves_no_snapshot_and_turns_maintenance_off() {
    let sb = Sandbox::new();
    sb.init_repo();
    sb.fakes.script("pg_dump", "stdout PGDMP-partial-archive\nsignal 9\n");
    std::fs::create_dir(sb.root().join("socket")).unwrap();
    sb.add(&format!(
        "[[postgres]]\nname = \"nextcloud\"\ndatabase = \"nextcloud\"\nhost = \"{}/socket\"\n\n[retention]\nkeep_last = 1\n",
        sb.root().display()
    ));
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("dump nextcloud") && out.stderr().contains("signal 9"), "{}", out.all());
    assert_eq!(sb.snapshots().len(), 0, "a snapshot was saved after a failed dump");
    assert_eq!(sb.occ_lines(), ["maintenance:mode --on", "maintenance:mode --off", "maintenance:mode"]);
    assert_left_safe(&sb);
    let st = sb.status_json();
    assert_eq!(st["outcome"], "failed");
    assert_eq!(step(&st, "dump nextcloud")["result"], "failed");
    assert_eq!(step(&st, "backup")["result"], "skipped");
    assert_eq!(step(&st, "retention")["result"], "skipped");
    let prom = std::fs::read_to_string(sb.root().join("textfile/backup-hooks.prom")).unwrap();
    assert!(prom.contains("\nhomey_backup_status 0\n"), "{prom}");
    assert!(!prom.contains("last_success"), "a failed run claimed a success: {prom}");
}

#[test]
fn restic_exit_1_fails_the_run_and_never_prunes() {
    let sb = Sandbox::new();
    fake_restic(&sb, "exit 1\nstderr Fatal: unable to save snapshot: disk full");
    sb.add("[retention]\nkeep_daily = 7\n");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("disk full"), "{}", out.all());
    let restic: Vec<String> = sb.fakes.calls_of("restic").iter().map(|c| c.args()[0].clone()).collect();
    assert_eq!(restic, ["version", "cat", "--no-lock", "backup"], "forget ran after a failed backup");
    assert_left_safe(&sb);
    assert!(sb.kuma_pushes().last().unwrap().1.contains("disk full"));
}

#[test]
fn restic_exit_3_is_a_warning_with_the_snapshot_recorded() {
    let sb = Sandbox::new();
    fake_restic(&sb, &format!("exit 3\nstdout {SUMMARY}\nstderr error: open /data/locked.db: permission denied"));
    sb.add("[retention]\nkeep_daily = 7\n");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 3, "{}", out.all());
    assert!(out.stderr().contains("permission denied"), "{}", out.all());
    let st = sb.status_json();
    assert_eq!(st["outcome"], "warning");
    assert_eq!(st["snapshot_id"], "f00dfeed0123");
    assert_eq!(st["bytes_added"], 4242);
    assert_eq!(step(&st, "backup")["result"], "warning");
    // An incomplete snapshot never makes retention forget a complete one.
    assert_eq!(step(&st, "retention")["result"], "skipped");
    assert_eq!(sb.maintenance_mode(), "disabled");
    let pushes = sb.kuma_pushes();
    assert_eq!(pushes.last().unwrap().0, "up", "{pushes:?}");
    let prom = std::fs::read_to_string(sb.root().join("textfile/backup-hooks.prom")).unwrap();
    assert!(prom.contains("\nhomey_backup_status 1\n"), "{prom}");
}

#[test]
fn restic_gets_secrets_by_environment_never_argv() {
    for by_credential in [false, true] {
        let sb = Sandbox::new();
        if by_credential {
            sb.use_credentials();
        }
        fake_restic(&sb, &format!("stdout {SUMMARY}"));
        let out = sb.run(&["run"]);
        assert_eq!(out.code(), 0, "{}", out.all());
        for call in sb.fakes.calls_of("restic") {
            let argv = call.line();
            assert!(!argv.contains(RESTIC_PW) && !argv.contains(AWS_SECRET), "{argv}");
            if call.args()[0] != "version" {
                assert_eq!(call.env.get("AWS_SECRET_ACCESS_KEY").map(String::as_str), Some(AWS_SECRET));
                assert_eq!(call.env.get("RESTIC_PASSWORD").map(String::as_str), Some(RESTIC_PW));
            }
        }
        assert!(!out.all().contains(RESTIC_PW) && !out.all().contains("PUSHTOKEN"), "{}", out.all());
    }
    let sb = Sandbox::new();
    fake_restic(&sb, &format!("stdout {SUMMARY}"));
    assert_eq!(sb.run(&["run"]).code(), 0);
    let backup = sb.fakes.calls_of("restic").into_iter().find(|c| c.args()[0] == "backup").unwrap();
    let staging = sb.staging().display().to_string();
    assert_eq!(backup.args().last().unwrap(), &staging, "the staging dir is always backed up");
}

#[test]
fn occ_off_failing_once_is_retried_and_confirmed() {
    let sb = Sandbox::new();
    sb.init_repo();
    sb.fakes.script(
        "nextcloud-occ",
        &format!("when maintenance:mode --off\ntimes 1\nexit 1\nstderr An unhandled exception has been thrown: database is locked\n---\n{OCC_OK}"),
    );
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(
        sb.occ_lines(),
        ["maintenance:mode --on", "maintenance:mode --off", "maintenance:mode --off", "maintenance:mode"]
    );
    assert_eq!(sb.maintenance_mode(), "disabled");
    assert!(out.stderr().contains("database is locked"), "{}", out.all());
    let st = sb.status_json();
    assert!(step(&st, "maintenance off")["detail"].as_str().unwrap().contains("2 attempts"), "{st}");
}

#[test]
fn occ_off_that_never_works_is_a_loud_failure() {
    let sb = Sandbox::new();
    sb.init_repo();
    sb.fakes.script(
        "nextcloud-occ",
        "when maintenance:mode --on\nset mode=enabled\n---\nwhen maintenance:mode --off\nexit 1\nstderr boom\n---\n\
         when maintenance:mode\nstdout Maintenance mode is currently {mode}\n",
    );
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("NEXTCLOUD IS STILL IN MAINTENANCE MODE"), "{}", out.all());
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
    // The snapshot itself was saved; the status says both.
    let st = sb.status_json();
    assert!(st["snapshot_id"].is_string());
    assert!(st["message"].as_str().unwrap().contains("STILL IN MAINTENANCE MODE"));
}

#[test]
fn sigterm_during_restic_stops_it_and_turns_maintenance_off() {
    let sb = Sandbox::new();
    fake_restic(&sb, &format!("delay_ms 60000\nstdout {SUMMARY}"));
    let child =
        sb.cmd(&["run"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    wait_for("restic backup to start", || sb.fakes.calls_of("restic").iter().any(|c| c.args()[0] == "backup"));
    assert_eq!(sb.maintenance_mode(), "enabled");
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = Out(child.wait_with_output().unwrap());
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("SIGTERM"), "{}", out.all());
    assert_left_safe(&sb);
    let st = sb.status_json();
    assert_eq!(step(&st, "backup")["result"], "failed");
    assert!(st["message"].as_str().unwrap().contains("SIGTERM"), "{st}");
}

#[test]
fn a_second_run_exits_75_naming_the_holder_and_touches_nothing() {
    let sb = Sandbox::new();
    sb.init_repo();
    let _held =
        homey_kit::state::Lock::acquire(&sb.state().join("backup.lock"), "backup-hooks run (the 03:00 one)").unwrap();
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 75, "{}", out.all());
    assert!(out.stderr().contains("the 03:00 one"), "{}", out.all());
    assert!(sb.occ_lines().is_empty());
    assert!(sb.kuma_pushes().is_empty());
    assert_eq!(sb.run(&["post"]).code(), 75, "post must not empty staging under a running backup");
}

#[test]
fn a_missing_repository_fails_before_maintenance_and_is_not_created() {
    let sb = Sandbox::new();
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("does not exist"), "{}", out.all());
    assert!(sb.occ_lines().is_empty(), "maintenance mode touched: {:?}", sb.occ_lines());
    assert!(!sb.repo().exists(), "the run created a repository");
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
}

#[test]
fn dumps_only_turns_maintenance_off_before_the_upload() {
    let sb = Sandbox::new();
    fake_restic(&sb, &format!("stdout {SUMMARY}"));
    let cfg_extra = "[[sqlite]]\nname = \"kuma\"\npath = \"KUMA\"\n";
    let mut w = SqliteWriter::start(sb.root());
    w.stop();
    sb.add(&cfg_extra.replace("KUMA", &w.path.display().to_string()));
    let text = std::fs::read_to_string(sb.config())
        .unwrap()
        .replace("occ = \"nextcloud-occ\"", "occ = \"nextcloud-occ\"\nmaintenance = \"dumps-only\"");
    let cfg = sb.root().join("dumps-only.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = Out(std::process::Command::new(env!("CARGO_BIN_EXE_backup-hooks"))
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env("PATH", sb.fakes.path_env())
        .env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1)
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.all());
    let order: Vec<String> = sb
        .fakes
        .calls()
        .iter()
        .filter(|c| c.name == "nextcloud-occ" || c.args()[0] == "backup")
        .map(|c| c.line())
        .collect();
    assert_eq!(
        order[..3],
        [
            "nextcloud-occ maintenance:mode --on",
            "nextcloud-occ maintenance:mode --off",
            "nextcloud-occ maintenance:mode"
        ]
    );
    assert!(order[3].starts_with("restic backup"), "{order:?}");
}

#[test]
fn newer_restic_gets_retry_lock_and_its_exit_codes_are_understood() {
    let sb = Sandbox::new();
    sb.fakes.script(
        "restic",
        "when version\nstdout restic 0.18.0 compiled with go1.24.1 on linux/arm64\n---\n\
         when cat config\nexit 12\nstderr Fatal: wrong password or no key found\n",
    );
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "a refused password is the config's fault: {}", out.all());
    assert!(out.stderr().contains("the password does not open the repository"), "{}", out.all());
    assert!(out.stderr().contains("check [repository] password_file"), "{}", out.all());
    assert!(sb.occ_lines().is_empty(), "maintenance touched with a wrong password");
    sb.fakes.script(
        "restic",
        &format!(
            "when version\nstdout restic 0.18.0 compiled with go1.24.1 on linux/arm64\n---\nwhen cat config\n---\n\
             when backup\nstdout {SUMMARY}\n"
        ),
    );
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let backup = sb.fakes.calls_of("restic").into_iter().find(|c| c.args()[0] == "backup").unwrap();
    assert_eq!(backup.args()[1..4], ["--json", "--retry-lock", "10m"]);
}

#[test]
fn a_full_disk_during_a_dump_leaves_no_dump_and_no_snapshot() {
    test_support::need(&[test_support::Need::MountNamespace]);
    let sb = Sandbox::new();
    sb.init_repo();
    let db = sb.root().join("big.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE t(b BLOB); WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n LIMIT 3000) \
         INSERT INTO t SELECT randomblob(1000) FROM n;",
    )
    .unwrap();
    drop(c);
    sb.add(&format!("[[sqlite]]\nname = \"kuma\"\npath = \"{}\"\n", db.display()));
    std::fs::create_dir_all(sb.staging()).unwrap();
    // A 1 MiB tmpfs as the staging dir, in a mount namespace of its own: a real ENOSPC, the host untouched.
    let run = sb.cmd(&["run"]);
    let out = Out(std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=1m,mode=0700 tmpfs \"$0\" || exit 99; \"$@\"; rc=$?; echo \"left: $(ls -A \"$0\")\"; exit $rc"])
        .arg(sb.staging())
        .arg(run.get_program())
        .args(run.get_args())
        .env("PATH", sb.fakes.path_env())
        .output()
        .unwrap());
    assert_ne!(out.code(), 99, "no tmpfs in a mount namespace: {}", out.all());
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("dump kuma") && out.stderr().contains("full"), "{}", out.all());
    assert_eq!(out.stdout().trim(), "left:", "a dump or temporary file stayed behind: {}", out.all());
    assert_eq!(sb.snapshots().len(), 0);
    assert_eq!(sb.maintenance_mode(), "disabled");
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
}

#[test]
fn a_pg_dump_that_exits_0_with_a_truncated_archive_is_caught_by_the_real_pg_restore() {
    let sb = Sandbox::new();
    sb.init_repo();
    // The first bytes of a custom-format archive, then nothing: what a dying disk or a lying wrapper leaves.
    sb.fakes.script("pg_dump", "stdout PGDMP\n");
    std::fs::create_dir(sb.root().join("socket")).unwrap();
    sb.add(&format!(
        "[[postgres]]\nname = \"nextcloud\"\ndatabase = \"nextcloud\"\nhost = \"{}/socket\"\n",
        sb.root().display()
    ));
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("pg_restore --list"), "{}", out.all());
    assert!(sb.fakes.calls_of("pg_restore").is_empty(), "the check must be the real pg_restore");
    assert_eq!(sb.snapshots().len(), 0);
    assert_left_safe(&sb);
}
