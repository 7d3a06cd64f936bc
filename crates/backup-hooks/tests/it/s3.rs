//! The nightly path as the homelab runs it: restic's s3 backend against a real S3 server (moto's) on loopback,
//! keys from `environment_file`, and the network between them failing on purpose (test-support's proxy).

use crate::harness::*;
use test_support::proxy::Mode;

fn sqlite_dump(sb: &Sandbox) {
    let mut w = SqliteWriter::start(sb.root());
    w.stop();
    sb.add(&format!("[[sqlite]]\nname = \"kuma\"\npath = \"{}\"\n", w.path.display()));
}

fn no_secret_in(sb: &Sandbox, out: &Out) {
    let status = std::fs::read_to_string(sb.state().join("status.json")).unwrap_or_default();
    let prom = std::fs::read_to_string(sb.root().join("textfile/backup-hooks.prom")).unwrap_or_default();
    for secret in [AWS_SECRET, RESTIC_PW] {
        assert!(!out.all().contains(secret), "a secret reached the log: {}", out.all());
        assert!(!status.contains(secret) && !prom.contains(secret), "a secret reached the status or metrics");
    }
}

#[test]
fn run_to_s3_makes_a_snapshot_with_the_dumps_inside() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    sqlite_dump(&sb);
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    no_secret_in(&sb, &out);
    let snaps = sb.snapshots();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let ls = String::from_utf8_lossy(&sb.restic(&["ls", "latest"]).stdout).into_owned();
    assert!(ls.contains("notes.txt") && ls.contains("kuma.sqlite"), "{ls}");
    assert!(sb.proxy().upstream_bytes() > 0, "backup-hooks did not go through the proxy");
    assert_eq!(sb.status_json()["outcome"], "success");
}

#[test]
fn a_missing_s3_repository_is_created_only_when_the_config_says_so() {
    let sb = Sandbox::on_s3();
    sqlite_dump(&sb);
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("the repository does not exist"), "{}", out.all());
    assert!(sb.occ_lines().is_empty(), "maintenance touched for a missing repository");
    assert!(!sb.try_restic(&["cat", "config"]).status.success(), "the run created the repository");

    sb.key("repository", "init_if_missing = true");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert!(out.stderr().contains("does not exist: creating it"), "{}", out.all());
    assert_eq!(sb.snapshots().len(), 1);
}

#[test]
fn s3_down_before_the_run_is_unreachable_and_maintenance_never_goes_on() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    sqlite_dump(&sb);
    sb.proxy().set(Mode::Refuse);
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    let err = out.stderr();
    assert!(err.contains("could not be reached") && err.contains("connection refused"), "{err}");
    assert!(!err.contains("does not exist"), "a refused connection read as a missing repository: {err}");
    assert!(sb.occ_lines().is_empty(), "maintenance touched with the server down: {:?}", sb.occ_lines());
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
    assert_eq!(sb.status_json()["outcome"], "failed");
    no_secret_in(&sb, &out);
}

#[test]
fn s3_vanishing_mid_upload_fails_safe_and_the_next_run_succeeds() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    sqlite_dump(&sb);
    // Incompressible, so restic really uploads it (several pack files).
    let mut data = vec![0u8; 12 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(sb.root().join("data/big.bin"), &data).unwrap();
    sb.proxy().refuse_after(4 << 20);
    // restic 0.14 retries a vanished remote for minutes; the run's own limit ends it (the unit's nights too).
    sb.key("backup", "timeout = \"20s\"");
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("[backup] timeout (20s)"), "{}", out.all());
    assert_eq!(sb.proxy().mode(), Mode::Refuse, "the cut never happened");
    assert_eq!(sb.maintenance_mode(), "disabled");
    assert!(sb.snapshots().is_empty(), "a snapshot was saved");
    let st = sb.status_json();
    assert_eq!(st["outcome"], "failed");
    assert_eq!(st["snapshot_id"], serde_json::Value::Null);
    let prom = std::fs::read_to_string(sb.root().join("textfile/backup-hooks.prom")).unwrap();
    assert!(prom.contains("\nhomey_backup_status 0\n"), "{prom}");
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
    assert_eq!(sb.staged(), Vec::<String>::new());

    sb.proxy().set(Mode::Pass);
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(sb.snapshots().len(), 1);
    // The killed upload left a lock behind (restic could not remove it with the server gone): --no-lock.
    let check = sb.try_restic(&["--no-lock", "check", "--read-data"]);
    assert!(check.status.success(), "restic check: {}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn offload_from_s3_to_a_local_disk_then_restore_db_from_the_local_copy() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    let pg = Postgres::with_nextcloud_files(sb.root(), 500);
    let usb = sb.root().join("usb/restic");
    sb.add(&format!(
        "[[postgres]]\nname = \"nextcloud\"\ndatabase = \"nextcloud\"\nhost = \"{}\"\nuser = \"postgres\"\n\n\
         [offload]\nrepository = \"{}\"\n{}\n",
        pg.dir.display(),
        usb.display(),
        sb.secret_key("password", "offload-password")
    ));
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let out = sb.run(&["offload"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert!(out.stderr().contains("1 snapshot copied"), "{}", out.all());
    no_secret_in(&sb, &out);

    // B2 is down tonight: the drill reads the local copy only.
    sb.proxy().set(Mode::Refuse);
    let restore = sb.root().join("restore");
    let out = sb.run(&[
        "restore-db",
        "nextcloud",
        "--from-offload",
        "--to",
        restore.to_str().unwrap(),
        "--into-database",
        "drill",
    ]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(pg.psql("drill", "SELECT count(*) FROM oc_files"), "500");
    assert_eq!(pg.psql("drill", "SELECT path FROM oc_files WHERE id = 7"), "files/photo-7.jpg");
    // From S3 itself, with the server gone: unreachable, said so.
    let out = sb.run(&["restore-db", "nextcloud", "--to", restore.to_str().unwrap()]);
    assert_eq!(out.code(), 1, "{}", out.all());
    assert!(out.stderr().contains("could not be reached"), "{}", out.all());
}

#[test]
fn retention_on_s3_prunes_only_after_a_complete_snapshot() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    sb.add("[retention]\nkeep_last = 1\nprune = true\n");
    for _ in 0..2 {
        let out = sb.run(&["run"]);
        assert_eq!(out.code(), 0, "{}", out.all());
        std::fs::write(sb.root().join("data/notes.txt"), format!("{:?}\n", std::time::SystemTime::now())).unwrap();
    }
    assert_eq!(sb.snapshots().len(), 1, "keep_last = 1 after two runs");
    let kept = sb.snapshots()[0]["id"].clone();

    // The server vanishes as the third run starts: no snapshot, so nothing is forgotten.
    sb.proxy().refuse_after(1);
    sb.key("backup", "timeout = \"20s\"");
    let out = sb.run(&["run"]);
    assert_ne!(out.code(), 0, "{}", out.all());
    let retention = sb.status_json()["steps"].as_array().unwrap().iter().find(|s| s["name"] == "retention").cloned();
    assert_eq!(retention.map(|s| s["result"].clone()), Some(serde_json::json!("skipped")));
    let snaps = sb.snapshots();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0]["id"], kept);
}

/// The ids of the repository's locks, read past the proxy.
fn locks(sb: &Sandbox) -> Vec<String> {
    let out = sb.restic(&["--no-lock", "list", "locks"]);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn a_killed_runs_lock_is_reported_with_its_age_and_cleared_only_once_stale() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    // A restic that holds its lock (waiting on stdin), then SIGKILLed: what a killed night leaves behind.
    let mut held = sb
        .restic_cmd(&["backup", "--stdin", "--stdin-filename", "held"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while locks(&sb).is_empty() {
        assert!(std::time::Instant::now() < deadline, "restic never took its lock");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    held.kill().unwrap();
    held.wait().unwrap();
    let left = locks(&sb);
    assert_eq!(left.len(), 1);

    // Younger than the interval (24h by default): reported, left alone, and the backup still runs.
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let short = &left[0][..8];
    let line = out.stderr().lines().find(|l| l.contains(short)).map(str::to_owned).unwrap_or_default();
    assert!(line.contains("old: left: younger than stale_lock_after 24h"), "{}", out.all());
    assert!(line.contains(" is ") && line.contains("s old"), "no age: {line}");
    assert_eq!(locks(&sb), left);

    // Once older than the interval, from this host, its process gone: cleared.
    sb.key("repository", "stale_lock_after = \"1s\"");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert!(out.stderr().contains(&format!("{short} from")) && out.stderr().contains("cleared"), "{}", out.all());
    assert_eq!(locks(&sb), Vec::<String>::new());
}

#[test]
fn refused_keys_exit_78_naming_the_environment_file_never_the_keys() {
    let sb = Sandbox::on_s3_with(true);
    sqlite_dump(&sb);
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 78, "{}", out.all());
    let err = out.stderr();
    assert!(err.contains("the server refused the access keys"), "{err}");
    let env_file = sb.root().join("secrets/restic-env").display().to_string();
    assert!(err.contains(&format!("check [repository] environment_file {env_file}")), "{err}");
    assert!(!out.all().contains("AKIAEXAMPLE"), "the key id reached the log: {}", out.all());
    no_secret_in(&sb, &out);
    assert!(sb.occ_lines().is_empty(), "maintenance touched with refused keys");
    assert_eq!(sb.kuma_pushes().last().unwrap().0, "down");
}

#[test]
fn a_slow_server_is_waited_for_within_the_timeout_and_the_run_says_how_long() {
    let sb = Sandbox::on_s3();
    sb.init_repo();
    sqlite_dump(&sb);
    // Every chunk either way waits 250 ms: a remote at the end of a bad uplink, not a dead one.
    sb.proxy().set(Mode::Delay(std::time::Duration::from_millis(250)));
    let out = sb.run(&["run"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(sb.snapshots().len(), 1);
    let repo = out.stderr().lines().find(|l| l.starts_with("repository: ok")).map(str::to_owned).unwrap_or_default();
    assert!(repo.contains("answered in"), "{}", out.all());
    assert!(out.stderr().contains("the repository's server is slow"), "the slow answer is not reported: {}", out.all());
}
