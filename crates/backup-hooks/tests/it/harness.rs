//! A sandbox per test: a real local restic repository, the occ fake, a loopback Kuma stub, and on
//! demand a throw-away PostgreSQL cluster, an OpenLDAP slapd and a SQLite database in WAL mode.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use test_support::Fakes;
use test_support::http::{Request, Response, Stub};
use test_support::proxy::Proxy;
use test_support::s3::S3;
pub use test_support::slapd::{Directory, Slapd, write_conf};

pub const RESTIC_PW: &str = "restic-pw-do-not-leak";
pub const LDAP_PW: &str = "ldap-pw-do-not-leak";
pub const AWS_SECRET: &str = "aws-secret-do-not-leak";

pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub fakes: Fakes,
    pub kuma: Stub,
    pub sections: Mutex<Vec<String>>,
    /// More keys for `[repository]` and `[backup]`, as (table, line).
    pub keys: Mutex<Vec<(&'static str, String)>>,
    /// Name every secret by credential (secrets/ is then $CREDENTIALS_DIRECTORY) instead of by file.
    pub by_credential: std::sync::atomic::AtomicBool,
    /// The repository on a real S3 server, reached by backup-hooks through the fault proxy.
    pub s3: Option<(S3, Proxy)>,
}

pub const OCC_OK: &str = "when maintenance:mode --on\nset mode=enabled\nstdout Maintenance mode enabled\n---\n\
when maintenance:mode --off\nset mode=disabled\nstdout Maintenance mode disabled\n---\n\
when maintenance:mode\nstdout Maintenance mode is currently {mode}\n";

pub fn write_secret(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        // PostgreSQL runs as its own user and must traverse to its data dir.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let root = tmp.path();
        for d in ["data", "state", "textfile", "secrets"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("data/notes.txt"), "the files Nextcloud keeps\n").unwrap();
        write_secret(&root.join("secrets/restic-password"), &format!("{RESTIC_PW}\n"));
        write_secret(
            &root.join("secrets/restic-env"),
            &format!("AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"),
        );
        write_secret(&root.join("secrets/offload-password"), "offload-pw\n");
        let fakes = Fakes::new(&root.join("fakes"));
        fakes.script("nextcloud-occ", OCC_OK);
        fakes.set_state("mode", "disabled");
        let kuma = Stub::start(|_: &Request| Response::json(200, "{\"ok\":true}"));
        write_secret(&root.join("secrets/kuma-push-url"), &kuma.url("/api/push/PUSHTOKEN"));
        Sandbox {
            tmp,
            fakes,
            kuma,
            sections: Mutex::default(),
            keys: Mutex::default(),
            by_credential: Default::default(),
            s3: None,
        }
    }

    /// The repository is `s3:http://127.0.0.1:PROXY/backups` on moto's server; the keys come from
    /// `environment_file`. The test's own restic commands go to the server directly, past the proxy's faults.
    pub fn on_s3() -> Sandbox {
        Sandbox::on_s3_with(false)
    }

    /// On an S3 server that checks keys and knows none: every key is refused.
    pub fn on_s3_with(check_keys: bool) -> Sandbox {
        let mut sb = Sandbox::new();
        let dir = sb.root().join("s3");
        std::fs::create_dir(&dir).unwrap();
        let s3 = S3::start_with(&dir, check_keys);
        let proxy = Proxy::start(s3.port);
        sb.s3 = Some((s3, proxy));
        sb
    }

    pub fn proxy(&self) -> &Proxy {
        &self.s3.as_ref().expect("an S3 sandbox").1
    }

    /// The repository as backup-hooks' config names it.
    pub fn repo_url(&self) -> String {
        match &self.s3 {
            Some((_, proxy)) => format!("s3:{}/backups", proxy.endpoint()),
            None => self.repo().display().to_string(),
        }
    }

    /// The same repository, past the proxy.
    fn direct_url(&self) -> String {
        match &self.s3 {
            Some((s3, _)) => format!("s3:{}/backups", s3.endpoint()),
            None => self.repo().display().to_string(),
        }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }
    pub fn repo(&self) -> PathBuf {
        self.root().join("repo")
    }
    pub fn staging(&self) -> PathBuf {
        self.root().join("state/staging")
    }
    pub fn state(&self) -> PathBuf {
        self.root().join("state")
    }

    /// A restic command against the sandbox repository, for setting up and checking.
    pub fn restic(&self, args: &[&str]) -> Output {
        let out = self.try_restic(args);
        assert!(out.status.success(), "restic {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn try_restic(&self, args: &[&str]) -> Output {
        self.restic_cmd(args).output().unwrap()
    }

    /// restic against the sandbox repository (past the S3 proxy), not yet started.
    pub fn restic_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("restic");
        c.args(args)
            .env("RESTIC_REPOSITORY", self.direct_url())
            .env("RESTIC_PASSWORD_FILE", self.root().join("secrets/restic-password"))
            .env("RESTIC_CACHE_DIR", self.root().join("cache"))
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
        c
    }

    pub fn init_repo(&self) {
        self.restic(&["init"]);
    }

    pub fn snapshots(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice(&self.restic(&["snapshots", "--json"]).stdout).unwrap()
    }

    /// Add a key to `[repository]` or `[backup]`.
    pub fn key(&self, table: &'static str, line: &str) {
        self.keys.lock().unwrap().push((table, line.to_owned()));
    }

    fn keys_of(&self, table: &str) -> String {
        self.keys.lock().unwrap().iter().filter(|(t, _)| *t == table).map(|(_, l)| format!("{l}\n")).collect()
    }

    /// Add a section (or any TOML) to the config.
    pub fn add(&self, toml: &str) {
        self.sections.lock().unwrap().push(toml.to_owned());
    }

    pub fn use_credentials(&self) {
        self.by_credential.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn credentials(&self) -> bool {
        self.by_credential.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `KEY_file = "…/secrets/NAME"`, or `KEY_credential = "NAME"` in credential mode.
    pub fn secret_key(&self, key: &str, name: &str) -> String {
        if self.credentials() {
            format!("{key}_credential = \"{name}\"")
        } else {
            format!("{key}_file = \"{}/secrets/{name}\"", self.root().display())
        }
    }

    pub fn config(&self) -> PathBuf {
        let r = self.root().display().to_string();
        let kuma = if self.credentials() {
            self.secret_key("kuma_push_url", "kuma-push-url")
        } else {
            format!("kuma_push_url = \"{}\"", self.kuma.url("/api/push/PUSHTOKEN"))
        };
        let mut text = format!(
            "state_dir = \"{r}/state\"\nstaging_dir = \"{r}/state/staging\"\n\n[repository]\nurl = \"{}\"\n\
             {}\n{}\n\
             cache_dir = \"{r}/cache\"\n{}\n[backup]\npaths = [\"{r}/data\"]\nexclude = [\"{r}/data/media\"]\ntags = [\"nightly\"]\n{}\n\
             [nextcloud]\nocc = \"nextcloud-occ\"\n\n[report]\n{kuma}\ntextfile_dir = \"{r}/textfile\"\n",
            self.repo_url(),
            self.secret_key("password", "restic-password"),
            self.secret_key("environment", "restic-env"),
            self.keys_of("repository"),
            self.keys_of("backup"),
        );
        for s in self.sections.lock().unwrap().iter() {
            text.push('\n');
            text.push_str(s);
            text.push('\n');
        }
        let p = self.root().join("backup.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backup-hooks"));
        c.arg("--config").arg(self.config()).args(args).env("PATH", self.fakes.path_env()).env_remove("JOURNAL_STREAM");
        c.env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1);
        if self.credentials() {
            c.env("CREDENTIALS_DIRECTORY", self.root().join("secrets"));
        } else {
            c.env_remove("CREDENTIALS_DIRECTORY");
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out(self.cmd(args).output().unwrap())
    }

    pub fn occ_lines(&self) -> Vec<String> {
        self.fakes.calls_of("nextcloud-occ").iter().map(|c| c.args().join(" ")).collect()
    }

    pub fn maintenance_mode(&self) -> String {
        self.fakes.state("mode").unwrap_or_default()
    }

    /// The Kuma pushes as (status, msg).
    pub fn kuma_pushes(&self) -> Vec<(String, String)> {
        self.kuma
            .requests()
            .iter()
            .map(|r| {
                let q = r.target.split_once('?').map(|(_, q)| q).unwrap_or("");
                let get = |k: &str| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                        .map(percent_decode)
                        .unwrap_or_default()
                };
                (get("status"), get("msg"))
            })
            .collect()
    }

    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        serde_json::from_str(&out.stdout()).unwrap_or_else(|e| panic!("status --json: {e}: {}", out.all()))
    }

    /// Files left in the staging dir.
    pub fn staged(&self) -> Vec<String> {
        std::fs::read_dir(self.staging())
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?');
                out.push(h);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn all(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code(), self.stdout(), self.stderr())
    }
}

/// Wait for a condition a child process brings about; the deadline only guards against a hang.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// initdb and pg_ctl: on PATH, else where Debian keeps them (only its wrappers are in /usr/bin).
pub fn pg_bin(name: &str) -> String {
    let on_path =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false);
    if on_path {
        return name.to_owned();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("{name} not found: install the Debian package postgresql"))
        .display()
        .to_string()
}

/// A throw-away PostgreSQL cluster on a unix socket: as root, owned by the `postgres` user (initdb refuses root);
/// as anyone else, by whoever runs the tests.
pub struct Postgres {
    pub dir: PathBuf,
}

/// A PostgreSQL server program, run as `postgres` when we are root.
fn pg_cmd(name: &str) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Command::new(pg_bin(name));
    }
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", &pg_bin(name)]);
    c
}

impl Postgres {
    /// A cluster with a database `nextcloud` whose table oc_files has `rows` rows, for the restore drills.
    pub fn with_nextcloud_files(root: &Path, rows: u32) -> Postgres {
        let pg = Postgres::start(root);
        pg.psql("postgres", "CREATE DATABASE nextcloud");
        pg.psql(
            "nextcloud",
            &format!(
                "CREATE TABLE oc_files(id serial PRIMARY KEY, path text); \
                 INSERT INTO oc_files(path) SELECT 'files/photo-' || g || '.jpg' FROM generate_series(1, {rows}) g"
            ),
        );
        pg
    }

    pub fn start(root: &Path) -> Postgres {
        let dir = root.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            sh(Command::new("chown").arg("postgres:").arg(&dir));
        }
        let data = dir.join("data");
        sh(pg_cmd("initdb")
            .args(["--auth=trust", "--no-locale", "-E", "UTF8", "-U", "postgres", "-D"])
            .arg(&data)
            .stdout(Stdio::null()));
        let opts =
            format!("-k {} -c listen_addresses='' -F -c max_connections=20 -c shared_buffers=16MB", dir.display());
        sh(pg_cmd("pg_ctl")
            .args(["-w", "-D"])
            .arg(&data)
            .args(["-o", &opts, "-l"])
            .arg(dir.join("log"))
            .arg("start")
            .stdout(Stdio::null()));
        Postgres { dir }
    }

    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = sh(Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
            .arg(&self.dir)
            .args(["-d", db, "-c", sql]));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg_cmd("pg_ctl").args(["-m", "immediate", "-D"]).arg(self.dir.join("data")).arg("stop").output();
    }
}

/// The small tree the LDAP dump is tested on: a non-ASCII value (base64 in LDIF) and one long enough to fold.
pub const TREE: &str = "dn: dc=example,dc=com
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=jose,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: jose
sn: Núñez
cn:: Sm9zw6kgTsO6w7FleiA=
description: a description long enough that the LDIF writer has to fold it across more than one line of output

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
sn: Liddell
cn: Alice Liddell
";

/// The directory the backup dumps: [`TREE`] under dc=example,dc=com, administered with [`LDAP_PW`].
pub fn directory() -> Directory<'static> {
    Directory {
        suffix: "dc=example,dc=com",
        root_dn: "cn=admin,dc=example,dc=com",
        root_pw: LDAP_PW,
        acl: None,
        ldif: TREE,
    }
}

/// A SQLite database in WAL mode, and a writer that keeps committing while the backup runs. Every
/// transaction adds one row to each of two tables, so a torn copy shows as unequal counts.
pub struct SqliteWriter {
    pub path: PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl SqliteWriter {
    pub fn start(root: &Path) -> SqliteWriter {
        let path = root.join("kuma.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap();
        c.execute_batch(
            "CREATE TABLE heartbeat(id INTEGER PRIMARY KEY, msg TEXT); CREATE TABLE ledger(id INTEGER PRIMARY KEY, n INT);",
        )
        .unwrap();
        for i in 0..200 {
            c.execute_batch(&format!(
                "BEGIN; INSERT INTO heartbeat(msg) VALUES('seed {i}'); INSERT INTO ledger(n) VALUES({i}); COMMIT;"
            ))
            .unwrap();
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let p2 = path.clone();
        let thread = std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&p2).unwrap();
            c.busy_timeout(Duration::from_secs(10)).unwrap();
            let mut n = 0u64;
            while !s2.load(std::sync::atomic::Ordering::SeqCst) {
                c.execute_batch(&format!(
                    "BEGIN IMMEDIATE; INSERT INTO heartbeat(msg) VALUES('live {n}'); INSERT INTO ledger(n) VALUES({n}); COMMIT;"
                ))
                .unwrap();
                n += 1;
            }
            n
        });
        SqliteWriter { path, stop, thread: Some(thread) }
    }

    /// Stop writing; the number of transactions written while running.
    pub fn stop(&mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().map(|t| t.join().unwrap()).unwrap_or(0)
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        self.stop();
    }
}
