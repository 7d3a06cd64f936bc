//! restic as data: the commands we run (built from the config and the installed version) and what
//! their exit codes and `--json` output mean. Nothing here starts a process.

use crate::config::{Backup, Check, Retention};
use homey_kit::process::{Cancel, Cmd, Status};
use homey_kit::secret::Secret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// `restic 0.14.0 compiled with go1.19.8 on linux/amd64`
    pub fn parse(text: &str) -> Option<Version> {
        let word = text.split_whitespace().skip_while(|w| *w != "restic").nth(1)?;
        let mut nums = word.trim_start_matches('v').split(['.', '-']).map(|n| n.parse::<u32>());
        Some(Version(nums.next()?.ok()?, nums.next()?.ok()?, nums.next().and_then(Result::ok).unwrap_or(0)))
    }

    /// `--retry-lock` arrived in 0.16: a repository briefly locked by `check` elsewhere is waited for.
    pub fn has_retry_lock(self) -> bool {
        self >= Version(0, 16, 0)
    }
}

/// How to reach one repository: everything secret is in files or in the child's environment.
#[derive(Debug, Clone)]
pub struct Repo {
    pub url: String,
    /// Given as `RESTIC_PASSWORD` in restic's environment: one way for files and credentials alike.
    pub password: Secret,
    pub env: Vec<(String, Secret)>,
    pub cache_dir: Option<PathBuf>,
}

/// The restic commands for one repository at one installed version.
#[derive(Debug, Clone)]
pub struct Restic {
    pub program: String,
    pub repo: Repo,
    pub version: Version,
    pub cancel: Option<Cancel>,
    /// For each long step (backup, forget, check, dump, copy): `[backup] timeout`, else [`BACKUP_TIMEOUT`].
    pub timeout: Duration,
}

/// Long enough for a slow upload to B2 of a night's changes; a hung restic still ends.
pub const BACKUP_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
const RETRY_LOCK: &str = "10m";

impl Restic {
    pub fn cmd<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Cmd {
        let mut c = Cmd::new(&self.program)
            .args(args)
            .env("RESTIC_REPOSITORY", &self.repo.url)
            .secret_env("RESTIC_PASSWORD", &self.repo.password)
            // Progress lines are only noise in the journal and in memory.
            .env("RESTIC_PROGRESS_FPS", "0.016666");
        if let Some(d) = &self.repo.cache_dir {
            c = c.env("RESTIC_CACHE_DIR", d);
        }
        for (k, v) in &self.repo.env {
            c = c.secret_env(k, v);
        }
        if let Some(cancel) = &self.cancel {
            c = c.cancel_on(cancel);
        }
        c
    }

    fn retry_lock(&self) -> Vec<&'static str> {
        if self.version.has_retry_lock() { vec!["--retry-lock", RETRY_LOCK] } else { vec![] }
    }

    /// Reads the repository's config: proves it exists, is reachable and the password opens it,
    /// before anything (maintenance mode) is changed.
    pub fn cat_config(&self) -> Cmd {
        self.cmd(["cat", "config"]).timeout(Duration::from_secs(300))
    }

    pub fn backup(&self, backup: &Backup, staging: &Path) -> Cmd {
        let mut args: Vec<String> = vec!["backup".into(), "--json".into()];
        args.extend(self.retry_lock().into_iter().map(String::from));
        for t in &backup.tags {
            args.extend(["--tag".into(), t.clone()]);
        }
        for e in &backup.exclude {
            args.extend(["--exclude".into(), e.clone()]);
        }
        args.push("--".into());
        args.extend(backup.paths.iter().map(|p| p.display().to_string()));
        args.push(staging.display().to_string());
        self.cmd(args).timeout(self.timeout)
    }

    pub fn forget(&self, r: &Retention, tags: &[String]) -> Cmd {
        let mut args: Vec<String> = vec!["forget".into()];
        args.extend(self.retry_lock().into_iter().map(String::from));
        let keeps = [
            ("--keep-last", r.keep_last),
            ("--keep-hourly", r.keep_hourly),
            ("--keep-daily", r.keep_daily),
            ("--keep-weekly", r.keep_weekly),
            ("--keep-monthly", r.keep_monthly),
            ("--keep-yearly", r.keep_yearly),
        ];
        for (flag, n) in keeps {
            if let Some(n) = n {
                args.extend([flag.to_owned(), n.to_string()]);
            }
        }
        if let Some(w) = &r.keep_within {
            args.extend(["--keep-within".into(), w.clone()]);
        }
        // Only our own snapshots: others in the same repository are someone else's to forget.
        if !tags.is_empty() {
            args.extend(["--tag".into(), tags.join(",")]);
        }
        if r.prune {
            args.push("--prune".into());
        }
        self.cmd(args).timeout(self.timeout)
    }

    pub fn check(&self, c: &Check) -> Cmd {
        let mut args: Vec<String> = vec!["check".into()];
        args.extend(self.retry_lock().into_iter().map(String::from));
        if let Some(s) = &c.read_data_subset {
            args.extend(["--read-data-subset".into(), s.clone()]);
        }
        self.cmd(args).timeout(self.timeout)
    }

    /// One file of a snapshot to stdout.
    pub fn dump(&self, snapshot: &str, tags: &[String], path: &Path) -> Cmd {
        let mut args: Vec<String> = vec!["dump".into()];
        if snapshot == "latest" && !tags.is_empty() {
            args.extend(["--tag".into(), tags.join(",")]);
        }
        args.extend([snapshot.to_owned(), path.display().to_string()]);
        self.cmd(args).timeout(self.timeout)
    }

    /// The repository's lock ids; `--no-lock` so listing needs no lock of its own.
    pub fn list_locks(&self) -> Cmd {
        self.cmd(["--no-lock", "list", "locks"]).timeout(Duration::from_secs(300))
    }

    pub fn cat_lock(&self, id: &str) -> Cmd {
        self.cmd(["--no-lock", "cat", "lock", id]).timeout(Duration::from_secs(300))
    }

    /// Removes the locks restic itself deems stale (see [`judge_locks`] for when we ask).
    pub fn unlock(&self) -> Cmd {
        self.cmd(["unlock"]).timeout(Duration::from_secs(300))
    }

    pub fn init(&self) -> Cmd {
        self.cmd(["init"]).timeout(Duration::from_secs(300))
    }

    /// `init` of `self` (the destination) with `from`'s chunker parameters, so copies deduplicate.
    pub fn init_copy_of(&self, from: &Repo) -> Cmd {
        from_env(self.cmd(["init", "--copy-chunker-params"]), from)
    }

    /// `copy` every snapshot of `from` that `self` does not have yet.
    pub fn copy_from(&self, from: &Repo) -> Cmd {
        let mut args = vec!["copy"];
        args.extend(self.retry_lock());
        from_env(self.cmd(args), from).timeout(self.timeout)
    }
}

fn from_env(mut c: Cmd, from: &Repo) -> Cmd {
    c = c.env("RESTIC_FROM_REPOSITORY", &from.url).secret_env("RESTIC_FROM_PASSWORD", &from.password);
    for (k, v) in &from.env {
        c = c.secret_env(k, v);
    }
    c
}

/// Go's and restic's words for a remote that did not answer at all.
const UNREACHABLE: &[&str] = &[
    "connection refused",
    "connection reset by peer",
    "no route to host",
    "network is unreachable",
    "no such host",
    "i/o timeout",
    "TLS handshake timeout",
    "context deadline exceeded",
    "server misbehaving",
    "unexpected EOF",
    "broken pipe",
];

/// S3's (and B2's S3 API's) answers to keys it does not accept.
const KEYS_REFUSED: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "The AWS Access Key Id you provided does not exist",
    "The request signature we calculated does not match",
    "Access Denied",
    "AccessDenied",
];

/// The backend's "not there" (local: ENOENT; S3: no bucket, no config object).
const NOT_THERE: &[&str] =
    &["no such file or directory", "does not exist", "NoSuchBucket", "NoSuchKey", "key does not exist"];

/// One restic lock as `restic cat lock ID` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LockInfo {
    pub time: String,
    #[serde(default)]
    pub exclusive: bool,
    pub hostname: String,
    #[serde(default)]
    pub pid: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub id: String,
    pub info: LockInfo,
    /// Seconds since the lock's time (restic refreshes a live lock every 5 minutes).
    pub age: u64,
    /// On this host and its process still exists.
    pub alive: bool,
}

/// restic's own rule (`Lock.Stale`): older than 30 minutes, or from this host and its process is gone.
const RESTIC_STALE_AFTER: u64 = 30 * 60;

/// What to do about the locks found before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockVerdict {
    /// Run `restic unlock`: every lock it removes is one of ours and older than `stale_after`.
    pub unlock: bool,
    /// One line per lock: id, host, pid, age, and what is done about it.
    pub lines: Vec<String>,
    /// Some lock stays: the run goes on (backup takes a shared lock), but retention and check may be refused.
    pub kept: usize,
}

/// Clear a lock only when it is older than `stale_after` (the run interval) and its host is ours; since
/// `restic unlock` removes every lock *restic* deems stale, unlock only when that set holds nothing else.
pub fn judge_locks(locks: &[Lock], our_host: &str, stale_after: u64, stale_after_text: &str) -> LockVerdict {
    let ours = |l: &Lock| l.info.hostname == our_host && l.age > stale_after && !l.alive;
    let restic_removes = |l: &Lock| l.age > RESTIC_STALE_AFTER || (l.info.hostname == our_host && !l.alive);
    let clearable = locks.iter().any(ours);
    let blocked: Vec<&Lock> = locks.iter().filter(|l| restic_removes(l) && !ours(l)).collect();
    let unlock = clearable && blocked.is_empty();
    let mut lines = vec![];
    let mut kept = 0;
    for l in locks {
        let what = format!(
            "{} lock {} from {} (pid {}) is {} old",
            if l.info.exclusive { "exclusive" } else { "shared" },
            short(&l.id),
            l.info.hostname,
            l.info.pid,
            age_text(l.age)
        );
        let done = if ours(l) && unlock {
            format!("cleared (older than stale_lock_after {stale_after_text}, from this host, its process gone)")
        } else {
            kept += 1;
            if ours(l) {
                let others: Vec<String> = blocked.iter().map(|b| short(&b.id).to_owned()).collect();
                format!("left: `restic unlock` would also remove {}; check them and unlock by hand", others.join(", "))
            } else if l.info.hostname != our_host {
                format!("left: from another host ({})", l.info.hostname)
            } else if l.alive {
                "left: its process is still running".to_owned()
            } else {
                format!("left: younger than stale_lock_after {stale_after_text}")
            }
        };
        lines.push(format!("{what}: {done}"));
    }
    LockVerdict { unlock, lines, kept }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// `3d 4h`, `2h 5m`, `40s`: enough to judge a lock at a glance.
pub fn age_text(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Seconds since 1970 of an RFC 3339 time as Go writes it (`2026-12-03T00:29:42.123456789+01:00`, `…Z`).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|n| n.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let tz_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, tz) = rest.split_at(tz_at);
    let mut c = clock.split(':');
    let (h, mi) = (c.next()?.parse::<i64>().ok()?, c.next()?.parse::<i64>().ok()?);
    let sec = c.next()?.split('.').next()?.parse::<i64>().ok()?;
    let offset = match tz {
        "Z" | "z" => 0,
        _ => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let (oh, om) = tz[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// What a restic exit means (codes from the restic docs; unknown codes are failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Some source files could not be read; the snapshot was saved.
    Incomplete,
    RepoMissing,
    /// The remote did not answer: refused, reset, timed out, no route, no such host.
    Unreachable,
    /// The remote answered but refused the keys (S3 InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied).
    KeysRefused,
    /// restic could not open the repository for another reason (its message says which).
    CannotOpen,
    /// It ran past `[backup] timeout` and was stopped.
    TimedOut,
    Locked,
    WrongPassword,
    Interrupted,
    Failed,
}

pub fn classify(status: &Status, stderr: &str) -> Outcome {
    if status.cancelled {
        return Outcome::Interrupted;
    }
    if status.timed_out {
        return Outcome::TimedOut;
    }
    match status.code {
        Some(0) if !status.timed_out => Outcome::Ok,
        Some(3) => Outcome::Incomplete,
        Some(10) => Outcome::RepoMissing,
        Some(11) => Outcome::Locked,
        Some(12) => Outcome::WrongPassword,
        Some(130) => Outcome::Interrupted,
        // Before 0.17 every fatal error is 1; the message is the only way to tell. 0.14 prints "Is there a
        // repository at the following location?" after *every* failure to open one, a refused connection
        // included, so what decides is the error above it.
        Some(1) if UNREACHABLE.iter().any(|m| stderr.contains(m)) => Outcome::Unreachable,
        Some(1) if KEYS_REFUSED.iter().any(|m| stderr.contains(m)) => Outcome::KeysRefused,
        Some(1) if stderr.contains("wrong password or no key found") => Outcome::WrongPassword,
        Some(1) if stderr.contains("Is there a repository at the following location?") => {
            if NOT_THERE.iter().any(|m| stderr.contains(m)) { Outcome::RepoMissing } else { Outcome::CannotOpen }
        }
        Some(1) if stderr.contains("unable to create lock") || stderr.contains("repository is already locked") => {
            Outcome::Locked
        }
        _ => Outcome::Failed,
    }
}

impl Outcome {
    pub fn explain(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Incomplete => "some files could not be read (the snapshot was saved without them)",
            Outcome::RepoMissing => "the repository does not exist (create it once with `restic init`)",
            Outcome::Unreachable => "the repository's server could not be reached",
            Outcome::KeysRefused => "the server refused the access keys (the [repository] environment secret)",
            Outcome::CannotOpen => "restic could not open the repository",
            Outcome::TimedOut => "it did not finish within the [backup] timeout and was stopped",
            Outcome::Locked => "the repository is locked by another restic",
            Outcome::WrongPassword => "the password does not open the repository",
            Outcome::Interrupted => "interrupted",
            Outcome::Failed => "failed",
        }
    }
}

/// The `summary` line of `restic backup --json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct Summary {
    #[serde(default)]
    pub files_new: u64,
    #[serde(default)]
    pub files_changed: u64,
    #[serde(default)]
    pub files_unmodified: u64,
    #[serde(default)]
    pub data_added: u64,
    /// Since 0.17.
    #[serde(default)]
    pub data_added_packed: Option<u64>,
    #[serde(default)]
    pub total_files_processed: u64,
    #[serde(default)]
    pub total_bytes_processed: u64,
    #[serde(default)]
    pub total_duration: f64,
    pub snapshot_id: String,
}

pub fn parse_summary(stdout: &str) -> Option<Summary> {
    stdout.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l.trim()).ok()?;
        (v.get("message_type")?.as_str()? == "summary").then(|| serde_json::from_value(v).ok())?
    })
}

/// Error lines from restic's stderr, shortest useful form (0.17.1+ writes JSON errors with --json).
pub fn error_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() {
                return None;
            }
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l) {
                let msg = v.pointer("/error/message").and_then(|m| m.as_str()).unwrap_or(l);
                let item = v.get("item").and_then(|m| m.as_str()).unwrap_or("");
                return Some(if item.is_empty() { msg.to_owned() } else { format!("{item}: {msg}") });
            }
            Some(l.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restic(v: Version) -> Restic {
        Restic {
            program: "restic".into(),
            repo: Repo {
                url: "s3:https://s3.example.com/b".into(),
                password: Secret::new("pw"),
                env: vec![("AWS_SECRET_ACCESS_KEY".into(), Secret::new("k3y"))],
                cache_dir: None,
            },
            version: v,
            cancel: None,
            timeout: BACKUP_TIMEOUT,
        }
    }

    #[test]
    fn versions() {
        assert_eq!(Version::parse("restic 0.14.0 compiled with go1.19.8 on linux/amd64"), Some(Version(0, 14, 0)));
        assert_eq!(Version::parse("restic 0.18.1 compiled with go1.24.4 on linux/arm64"), Some(Version(0, 18, 1)));
        assert_eq!(Version::parse("restic 0.17.0-dev (compiled manually)"), Some(Version(0, 17, 0)));
        assert_eq!(Version::parse("nonsense"), None);
    }

    #[test]
    fn retry_lock_only_where_it_exists() {
        let b = Backup {
            paths: vec!["/data".into()],
            exclude: vec!["/data/media".into()],
            tags: vec!["nightly".into()],
            timeout: None,
        };
        let old = restic(Version(0, 14, 0)).backup(&b, Path::new("/st"));
        assert_eq!(old.argv().join(" "), "restic backup --json --tag nightly --exclude /data/media -- /data /st");
        let new = restic(Version(0, 18, 0)).backup(&b, Path::new("/st"));
        assert!(new.argv().join(" ").contains("--retry-lock 10m"));
    }

    #[test]
    fn secrets_go_by_environment_only() {
        let c = restic(Version(0, 14, 0)).cat_config();
        assert!(!c.argv().join(" ").contains("k3y"));
        let env = c.env_redacted();
        assert!(env.contains(&("AWS_SECRET_ACCESS_KEY".into(), "<redacted>".into())));
        assert!(env.contains(&("RESTIC_PASSWORD".into(), "<redacted>".into())));
    }

    #[test]
    fn forget_keeps_only_what_is_set_and_only_our_tags() {
        let r = Retention { keep_daily: Some(7), keep_monthly: Some(12), prune: true, ..Retention::default() };
        let c = restic(Version(0, 14, 0)).forget(&r, &["nightly".into()]);
        assert_eq!(c.argv().join(" "), "restic forget --keep-daily 7 --keep-monthly 12 --tag nightly --prune");
    }

    #[test]
    fn exit_codes_old_and_new() {
        let st = |c| Status::exited(c);
        assert_eq!(classify(&st(0), ""), Outcome::Ok);
        assert_eq!(classify(&st(3), ""), Outcome::Incomplete);
        assert_eq!(classify(&st(10), ""), Outcome::RepoMissing);
        assert_eq!(
            classify(
                &st(1),
                "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r"
            ),
            Outcome::RepoMissing
        );
        assert_eq!(classify(&st(130), ""), Outcome::Interrupted);
        // restic 0.14 against a stopped S3 server: "Is there a repository" too, but it is not missing.
        let refused = "Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:47111/bucket/?location=\": \
                       dial tcp 127.0.0.1:47111: connect: connection refused\n\
                       Is there a repository at the following location?\ns3:http://127.0.0.1:47111/bucket\n";
        assert_eq!(classify(&st(1), refused), Outcome::Unreachable);
        let no_bucket = "Fatal: unable to open config file: Stat: The specified bucket does not exist\n\
                         Is there a repository at the following location?\ns3:http://127.0.0.1:47112/nobucket\n";
        assert_eq!(classify(&st(1), no_bucket), Outcome::RepoMissing);
        let keys = "Fatal: unable to open config file: Stat: The AWS Access Key Id you provided does not exist in \
                    our records.\nIs there a repository at the following location?\ns3:http://127.0.0.1:1/b\n";
        assert_eq!(classify(&st(1), keys), Outcome::KeysRefused);
        let odd = "Fatal: unable to open config file: Stat: 500 Internal Server Error\nIs there a repository at the \
                   following location?\ns3:http://127.0.0.1:1/b\n";
        assert_eq!(classify(&st(1), odd), Outcome::CannotOpen);
        assert_eq!(classify(&Status { cancelled: true, code: Some(1), ..Status::default() }, ""), Outcome::Interrupted);
        assert_eq!(classify(&st(1), "Fatal: boom"), Outcome::Failed);
        assert_eq!(classify(&st(42), ""), Outcome::Failed);
    }

    #[test]
    fn rfc3339_as_go_writes_it() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-27T03:00:00Z"), Some(1_795_748_400));
        assert_eq!(parse_rfc3339("2026-11-27T04:00:00.123456789+01:00"), Some(1_795_748_400));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00-00:30"), Some(951_784_200));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    fn lock(id: &str, host: &str, age: u64, alive: bool) -> Lock {
        let info = LockInfo { time: String::new(), exclusive: false, hostname: host.into(), pid: 42 };
        Lock { id: id.into(), info, age, alive }
    }

    #[test]
    fn a_lock_is_cleared_only_when_old_ours_and_dead_and_nothing_else_would_go() {
        const DAY: u64 = 86_400;
        let v = judge_locks(&[lock("aaaaaaaaaa", "pi", DAY + 60, false)], "pi", DAY, "24h");
        assert!(v.unlock && v.kept == 0, "{v:?}");
        assert!(v.lines[0].contains("aaaaaaaa from pi (pid 42) is 1d 0h old: cleared"), "{v:?}");
        // Younger than the interval: reported with its age, left.
        let v = judge_locks(&[lock("bbbbbbbbbb", "pi", 2 * 3600 + 300, false)], "pi", DAY, "24h");
        assert!(!v.unlock && v.kept == 1);
        assert!(v.lines[0].contains("is 2h 5m old: left: younger than stale_lock_after 24h"), "{v:?}");
        // Another host's lock, however old, is never ours to clear.
        let v = judge_locks(&[lock("cccccccccc", "laptop", 3 * DAY, false)], "pi", DAY, "24h");
        assert!(!v.unlock && v.lines[0].contains("from another host (laptop)"), "{v:?}");
        // Ours is old, but `restic unlock` would also remove the laptop's 1-hour-old lock: leave both.
        let v = judge_locks(
            &[lock("aaaaaaaaaa", "pi", 2 * DAY, false), lock("cccccccccc", "laptop", 3600, false)],
            "pi",
            DAY,
            "24h",
        );
        assert!(!v.unlock && v.kept == 2, "{v:?}");
        assert!(v.lines[0].contains("would also remove cccccccc"), "{v:?}");
        // A running process keeps its lock.
        let v = judge_locks(&[lock("dddddddddd", "pi", 2 * DAY, true)], "pi", DAY, "24h");
        assert!(!v.unlock && v.lines[0].contains("still running"), "{v:?}");
    }

    #[test]
    fn summary_is_the_last_summary_line() {
        let out = r#"{"message_type":"status","percent_done":0.5}
{"message_type":"summary","files_new":3,"files_changed":0,"files_unmodified":0,"dirs_new":2,"data_added":1234,"total_files_processed":3,"total_bytes_processed":99,"total_duration":0.5,"snapshot_id":"abcdef12"}
"#;
        let s = parse_summary(out).unwrap();
        assert_eq!((s.files_new, s.data_added, s.snapshot_id.as_str()), (3, 1234, "abcdef12"));
        assert_eq!(s.data_added_packed, None);
        assert_eq!(parse_summary("{\"message_type\":\"status\"}"), None);
    }

    #[test]
    fn error_lines_read_json_and_text() {
        let e = error_lines(
            "{\"message_type\":\"error\",\"error\":{\"message\":\"permission denied\"},\"during\":\"archival\",\"item\":\"/d/x\"}\nerror: open /d/y: denied\n",
        );
        assert_eq!(e, ["/d/x: permission denied", "error: open /d/y: denied"]);
    }
}
