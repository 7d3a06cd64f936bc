//! The whole nightly run against real components, then the restore drill.

use crate::harness::*;
use std::process::Command;

#[test]
fn nightly_run_with_real_postgres_sqlite_and_ldap_then_restore_drill() {
    let sb = Sandbox::new();
    sb.init_repo();
    let pg = Postgres::with_nextcloud_files(sb.root(), 1000);
    let slapd = Slapd::start(sb.root(), &directory());
    write_secret(&sb.root().join("secrets/ldap-password"), LDAP_PW);
    let mut writer = SqliteWriter::start(sb.root());
    sb.add(&format!(
        "[[postgres]]\nname = \"nextcloud\"\ndatabase = \"nextcloud\"\nhost = \"{}\"\nuser = \"postgres\"\n\n\
         [[sqlite]]\nname = \"uptime-kuma\"\npath = \"{}\"\n\n\
         [[ldap]]\nname = \"directory\"\nurl = \"{}\"\nbase_dn = \"dc=example,dc=com\"\n\
         bind_dn = \"cn=admin,dc=example,dc=com\"\nbind_password_file = \"{}/secrets/ldap-password\"\n\n\
         [retention]\nkeep_daily = 7\nprune = true\n\n[check]\nread_data_subset = \"50%\"\n",
        pg.dir.display(),
        writer.path.display(),
        slapd.url,
        sb.root().display()
    ));

    let out = sb.run(&["run"]);
    let live_writes = writer.stop();
    assert_eq!(out.code(), 0, "{}", out.all());
    for secret in [RESTIC_PW, LDAP_PW, AWS_SECRET] {
        assert!(!out.all().contains(secret), "a secret reached the log: {}", out.all());
    }

    // Maintenance on, then off confirmed by reading it back; Nextcloud is left serving.
    assert_eq!(sb.occ_lines(), ["maintenance:mode --on", "maintenance:mode --off", "maintenance:mode"]);
    assert_eq!(sb.maintenance_mode(), "disabled");

    // One snapshot, tagged, holding the data and the three dumps; the staging dir is empty again.
    let snaps = sb.snapshots();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(snaps[0]["tags"], serde_json::json!(["nightly"]));
    let id = snaps[0]["id"].as_str().unwrap().to_owned();
    let ls = String::from_utf8_lossy(&sb.restic(&["ls", "latest"]).stdout).into_owned();
    for f in ["notes.txt", "nextcloud.pgdump", "uptime-kuma.sqlite", "directory.ldif"] {
        assert!(ls.contains(f), "{f} missing from the snapshot:\n{ls}");
    }
    assert!(!ls.contains(".tmp-"), "a temporary dump name reached the snapshot:\n{ls}");
    assert_eq!(sb.staged(), Vec::<String>::new());

    // status: the snapshot, bytes added, every step, the maintenance window.
    let st = sb.status_json();
    assert_eq!(st["outcome"], "success");
    assert_eq!(st["snapshot_id"].as_str().unwrap(), &id[..st["snapshot_id"].as_str().unwrap().len()]);
    assert!(st["bytes_added"].as_u64().unwrap() > 0);
    assert!(st["maintenance_seconds"].as_f64().is_some());
    let steps: Vec<(String, String)> = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["result"].as_str().unwrap().to_owned()))
        .collect();
    let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "repository",
            "locks",
            "staging",
            "maintenance on",
            "dump nextcloud",
            "dump uptime-kuma",
            "dump directory",
            "backup",
            "maintenance off",
            "clean staging",
            "retention",
            "check"
        ]
    );
    assert!(steps.iter().all(|(_, r)| r == "ok"), "{steps:?}");
    let human = sb.run(&["status"]);
    assert_eq!(human.code(), 0);
    assert!(human.stdout().contains("maintenance mode on for"), "{}", human.stdout());

    // Metrics and monitoring.
    let prom = std::fs::read_to_string(sb.root().join("textfile/backup-hooks.prom")).unwrap();
    assert!(prom.contains("\nhomey_backup_status 2\n"), "{prom}");
    assert!(prom.contains("homey_backup_last_success_timestamp_seconds "), "{prom}");
    let pushes = sb.kuma_pushes();
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert_eq!(pushes[0], ("up".to_owned(), "start".to_owned()));
    assert_eq!(pushes[1].0, "up");
    assert!(pushes[1].1.contains(st["snapshot_id"].as_str().unwrap()), "{pushes:?}");

    // The drill: PostgreSQL back into a new scratch database, with its rows.
    let restore = sb.root().join("restore");
    let out = sb.run(&["restore-db", "nextcloud", "--to", restore.to_str().unwrap(), "--into-database", "drill"]);
    assert_eq!(out.code(), 0, "{}", out.all());
    assert_eq!(pg.psql("drill", "SELECT count(*) FROM oc_files"), "1000");
    assert_eq!(pg.psql("drill", "SELECT path FROM oc_files WHERE id = 7"), "files/photo-7.jpg");
    // Never over an existing database.
    let again = sb.run(&["restore-db", "nextcloud", "--to", restore.to_str().unwrap(), "--into-database", "drill"]);
    assert_eq!(again.code(), 1, "{}", again.all());
    assert!(again.stderr().contains("must not exist"), "{}", again.all());
    let live = sb.run(&["restore-db", "nextcloud", "--to", restore.to_str().unwrap(), "--into-database", "nextcloud"]);
    assert_eq!(live.code(), 2, "{}", live.all());

    // SQLite: consistent although a writer committed throughout.
    let out = sb.run(&["restore-db", "uptime-kuma", "--snapshot", &id, "--to", restore.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let c = rusqlite::Connection::open(restore.join("uptime-kuma.sqlite")).unwrap();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let hb: i64 = c.query_row("SELECT count(*) FROM heartbeat", [], |r| r.get(0)).unwrap();
    let ledger: i64 = c.query_row("SELECT count(*) FROM ledger", [], |r| r.get(0)).unwrap();
    assert_eq!(hb, ledger, "a torn copy");
    assert!(hb >= 200, "{hb}");
    assert!(live_writes > 0, "the writer never ran concurrently");

    // LDAP: parents first, unsafe values base64, operational attributes, and slapadd accepts it.
    let out = sb.run(&["restore-db", "directory", "--to", restore.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{}", out.all());
    let ldif = std::fs::read_to_string(restore.join("directory.ldif")).unwrap();
    let dns: Vec<&str> = ldif.lines().filter(|l| l.starts_with("dn:")).collect();
    assert_eq!(dns[0], "dn: dc=example,dc=com");
    assert_eq!(dns[1], "dn: ou=people,dc=example,dc=com");
    assert_eq!(dns.len(), 4);
    assert!(ldif.contains("\ncn:: Sm9zw6kgTsO6w7FleiA=\n"), "{ldif}");
    assert!(ldif.contains("\nentryUUID: "), "no operational attributes:\n{ldif}");
    assert!(ldif.lines().all(|l| l.len() <= 76), "{ldif}");
    let conf = write_conf(sb.root(), "verify", &directory());
    let check = Command::new("/usr/sbin/slapadd")
        .arg("-f")
        .arg(&conf)
        .arg("-l")
        .arg(restore.join("directory.ldif"))
        .output()
        .unwrap();
    assert!(check.status.success(), "slapadd refused the export: {}", String::from_utf8_lossy(&check.stderr));
    drop(slapd);
}
