//! Figures for backup-hooks (issue 5):
//! - `backup-hooks run` against the same `restic backup` by hand on the same 1 GiB of files;
//! - peak RSS of backup-hooks itself while a ≥ 500 MB SQLite database is dumped (in-process, so the
//!   figure is ours alone) and while a ≥ 500 MB PostgreSQL database is dumped (pg_dump is our child);
//! - the maintenance window `status` reports for the example setup (whole-backup and dumps-only).

use super::Bench;
use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const GIB: u64 = 1 << 30;
const FILES: u64 = 64;
const RUNS: usize = 5;

fn timed(c: &mut Command) -> anyhow::Result<Duration> {
    let t = std::time::Instant::now();
    let st = c.status()?;
    let e = t.elapsed();
    anyhow::ensure!(st.success(), "{c:?} exited {st}");
    Ok(e)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let d = &b.dir;
    let secrets = d.join("secrets");
    std::fs::create_dir_all(&secrets)?;
    let pw = secrets.join("restic-password");
    std::fs::write(&pw, "bench-password\n")?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    let data = d.join("data");
    make_files(&data, GIB, FILES)?;
    let occ = occ_stand_in(d)?;
    let path_env = format!("{}:{}", occ.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());

    // 1. Wall time: each measured run is a first backup into a fresh repository (so both do the same work).
    let mut n = 0;
    let mut fresh_repo = |tag: &str| -> PathBuf {
        n += 1;
        let repo = d.join(format!("repo-{tag}-{n}"));
        let _ = std::fs::remove_dir_all(&repo);
        let _ = std::fs::remove_dir_all(d.join("state"));
        restic(&repo, &pw, d).args(["init"]).output().expect("restic init");
        repo
    };
    let config_for = |repo: &Path, extra: &str| -> anyhow::Result<PathBuf> {
        let cfg = d.join("bench.toml");
        std::fs::write(
            &cfg,
            format!(
                "state_dir = \"{d}/state\"\nstaging_dir = \"{d}/state/staging\"\n[repository]\nurl = \"{repo}\"\n\
                 password_file = \"{pw}\"\ncache_dir = \"{d}/cache\"\n[backup]\npaths = [\"{data}\"]\ntags = [\"nightly\"]\n{extra}",
                d = d.display(),
                repo = repo.display(),
                pw = pw.display(),
                data = data.display()
            ),
        )?;
        Ok(cfg)
    };
    // Interleaved (hand, tool, hand, tool, …) so load from other work on the machine hits both alike.
    let (mut hand, mut tool, mut own) = (vec![], vec![], vec![]);
    for i in 0..=RUNS {
        let repo = fresh_repo("hand");
        let mut c = restic(&repo, &pw, d);
        c.args(["backup", "--json", "--tag", "nightly", "--"]).arg(&data);
        let t = timed(&mut c)?;
        let repo = fresh_repo("tool");
        let cfg = config_for(&repo, "")?;
        let mut c = Command::new(b.bin("backup-hooks"));
        c.arg("--config").arg(cfg).arg("run").stdout(Stdio::null()).stderr(Stdio::null());
        let u = timed(&mut c)?;
        // What the tool adds around restic, independent of the machine's load on restic itself.
        let st: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("state/status.json"))?)?;
        let restic_step = st["steps"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "backup"))
            .and_then(|s| s["seconds"].as_f64())
            .unwrap_or(0.0);
        // The first pair warms the page cache.
        if i > 0 {
            hand.push(t);
            tool.push(u);
            own.push(Duration::from_secs_f64((u.as_secs_f64() - restic_step).max(0.0)));
        }
    }
    let by_hand = median(&mut hand);
    let tool = median(&mut tool);
    let overhead = (tool.as_secs_f64() / by_hand.as_secs_f64() - 1.0) * 100.0;
    b.report(
        &format!("restic backup by hand, 1 GiB in 64 files (median of {RUNS})"),
        format!("{:.2} s", by_hand.as_secs_f64()),
        "-",
    );
    b.report(&format!("backup-hooks run, same files (median of {RUNS})"), format!("{:.2} s", tool.as_secs_f64()), "-");
    b.report(
        "backup-hooks run overhead (wall, medians; includes load noise on restic)",
        format!("{overhead:+.1} %"),
        "<= 5 %",
    );
    let own = median(&mut own);
    b.report(
        "backup-hooks' own time around restic (wall minus the restic step; median)",
        format!(
            "{:.3} s = {:.2} % of the backup by hand",
            own.as_secs_f64(),
            own.as_secs_f64() / by_hand.as_secs_f64() * 100.0
        ),
        "<= 5 %",
    );
    let repo = fresh_repo("preflight");
    let preflight = b.median_wall(5, || {
        let mut c = restic(&repo, &pw, d);
        c.args(["cat", "config"]);
        c
    })?;
    b.report(
        "fixed cost of the repository check (restic cat config) that runs with Nextcloud or dumps configured",
        format!("{:.2} s", preflight.as_secs_f64()),
        "-",
    );

    // 2. Peak RSS while a 500+ MB database is dumped.
    let big = d.join("big.db");
    make_sqlite(&big, 540_000)?;
    let db_mb = std::fs::metadata(&big)?.len() / 1_000_000;
    let cfg =
        config_for(&d.join("unused-repo"), &format!("[[sqlite]]\nname = \"big\"\npath = \"{}\"\n", big.display()))?;
    let mut c = Command::new(b.bin("backup-hooks"));
    c.arg("--config").arg(&cfg).arg("pre");
    let (code, kib) = b.peak_rss_kib(&mut c)?;
    anyhow::ensure!(code == 0, "backup-hooks pre (SQLite dump) exited {code}");
    let dumped = std::fs::metadata(d.join("state/staging/big.sqlite")).map(|m| m.len() / 1_000_000).unwrap_or(0);
    b.report(
        &format!(
            "peak RSS of backup-hooks dumping a {db_mb} MB SQLite database (in-process VACUUM INTO, {dumped} MB dump)"
        ),
        format!("{:.1} MiB", kib as f64 / 1024.0),
        "<= 32 MiB",
    );
    let mut post = Command::new(b.bin("backup-hooks"));
    post.arg("--config").arg(&cfg).arg("post").output()?;

    if let Some((mb, kib)) = postgres_rss(b, d, &config_for)? {
        b.report(
            &format!("peak RSS of backup-hooks itself while pg_dump dumps a {mb} MB PostgreSQL database"),
            format!("{:.1} MiB", kib as f64 / 1024.0),
            "<= 32 MiB",
        );
    }

    // 3. The maintenance window for the example setup: occ, a SQLite dump, the 1 GiB of files.
    let kuma = d.join("kuma.db");
    make_sqlite(&kuma, 20_000)?;
    for scope in ["whole-backup", "dumps-only"] {
        let repo = fresh_repo("window");
        let cfg = config_for(
            &repo,
            &format!(
                "[nextcloud]\nocc = \"nextcloud-occ\"\nmaintenance = \"{scope}\"\n[[sqlite]]\nname = \"uptime-kuma\"\npath = \"{}\"\n",
                kuma.display()
            ),
        )?;
        let out =
            Command::new(b.bin("backup-hooks")).arg("--config").arg(&cfg).arg("run").env("PATH", &path_env).output()?;
        anyhow::ensure!(out.status.success(), "run: {}", String::from_utf8_lossy(&out.stderr));
        let st = Command::new(b.bin("backup-hooks")).arg("--config").arg(&cfg).args(["status", "--json"]).output()?;
        let st: serde_json::Value = serde_json::from_slice(&st.stdout)?;
        b.report(
            &format!("maintenance window reported by `status`, maintenance = \"{scope}\""),
            format!("{:.2} s", st["maintenance_seconds"].as_f64().unwrap_or(f64::NAN)),
            "as short as the job allows",
        );
    }
    Ok(())
}

/// Issue 15's figures on S3 (`cargo xtask bench backup-hooks-s3`): moto's server on loopback (installed by
/// `cargo xtask test`), restic's s3 backend, keys from `environment_file`.
/// - the tool's own time around restic: wall time of `run` minus its restic steps (locks, backup), as a share
///   of the run, beside the same `restic backup` by hand;
/// - peak RSS of backup-hooks itself (VmHWM of its process, sampled) during a run to S3 that dumps SQLite.
pub fn run_s3(b: &Bench) -> anyhow::Result<()> {
    let d = &b.dir;
    let server = crate::s3server::venv().join("bin/moto_server");
    anyhow::ensure!(server.is_file(), "{} is missing: run `cargo xtask deps` first", server.display());
    let secrets = d.join("secrets");
    std::fs::create_dir_all(&secrets)?;
    let pw = secrets.join("restic-password");
    let env_file = secrets.join("restic-env");
    for (f, body) in [(&pw, "bench-password\n"), (&env_file, "AWS_ACCESS_KEY_ID=bench\nAWS_SECRET_ACCESS_KEY=bench\n")]
    {
        std::fs::write(f, body)?;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600))?;
    }
    let data = d.join("data-s3");
    make_files(&data, 256 << 20, 32)?;
    let kuma = d.join("kuma-s3.db");
    make_sqlite(&kuma, 100_000)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut moto = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut n = 0;
        let mut fresh_bucket = || -> anyhow::Result<String> {
            n += 1;
            let url = format!("s3:http://127.0.0.1:{port}/bench-{n}");
            let _ = std::fs::remove_dir_all(d.join("state"));
            let ok = restic_s3(&url, &pw, d).arg("init").status()?;
            anyhow::ensure!(ok.success(), "restic init {url}");
            Ok(url)
        };
        let config = |url: &str, extra: &str| -> anyhow::Result<PathBuf> {
            let cfg = d.join("bench-s3.toml");
            std::fs::write(
                &cfg,
                format!(
                    "state_dir = \"{d}/state\"\nstaging_dir = \"{d}/state/staging\"\n[repository]\nurl = \"{url}\"\n\
                     password_file = \"{pw}\"\nenvironment_file = \"{env}\"\ncache_dir = \"{d}/cache\"\n\
                     [backup]\npaths = [\"{data}\"]\ntags = [\"nightly\"]\n{extra}",
                    d = d.display(),
                    pw = pw.display(),
                    env = env_file.display(),
                    data = data.display()
                ),
            )?;
            Ok(cfg)
        };
        let (mut hand, mut wall, mut own) = (vec![], vec![], vec![]);
        for i in 0..=RUNS {
            let url = fresh_bucket()?;
            let mut c = restic_s3(&url, &pw, d);
            c.args(["backup", "--json", "--tag", "nightly", "--"]).arg(&data);
            let t = timed(&mut c)?;
            let url = fresh_bucket()?;
            let mut c = Command::new(b.bin("backup-hooks"));
            c.arg("--config").arg(config(&url, "")?).arg("run").stdout(Stdio::null()).stderr(Stdio::null());
            let u = timed(&mut c)?;
            let st: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("state/status.json"))?)?;
            let in_restic: f64 = st["steps"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|s| ["repository", "locks", "backup"].contains(&s["name"].as_str().unwrap_or("")))
                        .filter_map(|s| s["seconds"].as_f64())
                        .sum()
                })
                .unwrap_or(0.0);
            if i > 0 {
                hand.push(t);
                wall.push(u);
                own.push(Duration::from_secs_f64((u.as_secs_f64() - in_restic).max(0.0)));
            }
        }
        let (hand, wall, own) = (median(&mut hand), median(&mut wall), median(&mut own));
        b.report(
            &format!("S3 (moto on loopback): restic backup by hand, 256 MiB in 32 files (median of {RUNS})"),
            format!("{:.2} s", hand.as_secs_f64()),
            "-",
        );
        b.report(
            &format!("S3: backup-hooks run, same files (median of {RUNS}; adds restic list locks)"),
            format!("{:.2} s", wall.as_secs_f64()),
            "-",
        );
        b.report(
            "S3: backup-hooks' own time around restic (wall minus its restic steps; median)",
            format!("{:.3} s = {:.2} % of the run", own.as_secs_f64(), own.as_secs_f64() / wall.as_secs_f64() * 100.0),
            "<= 5 %",
        );
        let url = fresh_bucket()?;
        let cfg = config(&url, &format!("[[sqlite]]\nname = \"uptime-kuma\"\npath = \"{}\"\n", kuma.display()))?;
        let mut child = Command::new(b.bin("backup-hooks"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak = 0u64;
        while child.try_wait()?.is_none() {
            if let Ok(s) = std::fs::read_to_string(&status_file) {
                if let Some(hwm) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                    peak = peak.max(hwm.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::ensure!(child.wait()?.success(), "backup-hooks run to S3 with a SQLite dump failed");
        let db_mb = std::fs::metadata(&kuma)?.len() / 1_000_000;
        b.report(
            &format!("S3: peak RSS of backup-hooks itself, run with a {db_mb} MB SQLite dump (VmHWM, sampled)"),
            format!("{:.1} MiB", peak as f64 / 1024.0),
            "<= 32 MiB",
        );
        Ok(())
    })();
    let _ = moto.kill();
    let _ = moto.wait();
    result
}

fn restic_s3(url: &str, pw: &Path, d: &Path) -> Command {
    let mut c = restic(Path::new(url), pw, d);
    c.env("AWS_ACCESS_KEY_ID", "bench").env("AWS_SECRET_ACCESS_KEY", "bench");
    c
}

fn restic(repo: &Path, pw: &Path, d: &Path) -> Command {
    let mut c = Command::new("restic");
    c.env("RESTIC_REPOSITORY", repo).env("RESTIC_PASSWORD_FILE", pw).env("RESTIC_CACHE_DIR", d.join("cache"));
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Incompressible, non-repeating files (xorshift), so restic does the full work of chunking and encrypting.
fn make_files(dir: &Path, total: u64, files: u64) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let each = total / files;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..files {
        let p = dir.join(format!("file-{i:03}.bin"));
        if std::fs::metadata(&p).is_ok_and(|m| m.len() == each) {
            continue;
        }
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p)?);
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..each / buf.len() as u64 {
            for chunk in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            f.write_all(&buf)?;
        }
    }
    Ok(())
}

fn make_sqlite(path: &Path, rows: u64) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path);
    let sql = format!(
        "PRAGMA journal_mode=WAL; CREATE TABLE heartbeat(id INTEGER PRIMARY KEY, msg BLOB); \
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT {rows}) \
         INSERT INTO heartbeat(msg) SELECT randomblob(1000) FROM c;"
    );
    let out = Command::new("sqlite3").arg(path).arg(sql).output().context("sqlite3 (Debian package sqlite3)")?;
    anyhow::ensure!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

fn occ_stand_in(d: &Path) -> anyhow::Result<PathBuf> {
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin)?;
    let p = bin.join("nextcloud-occ");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nstate={}/occ-state\ncase \"$*\" in\n\
             'maintenance:mode --on') echo enabled > \"$state\"; echo 'Maintenance mode enabled';;\n\
             'maintenance:mode --off') echo disabled > \"$state\"; echo 'Maintenance mode disabled';;\n\
             'maintenance:mode') echo \"Maintenance mode is currently $(cat \"$state\" 2>/dev/null || echo disabled)\";;\n\
             esac\n",
            d.display()
        ),
    )?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

/// A throw-away cluster with a ≥ 500 MB table; the RSS of backup-hooks is sampled from /proc while
/// pg_dump (its child) runs, because wait4's figure would include the child.
fn postgres_rss(
    b: &Bench,
    d: &Path,
    config_for: &dyn Fn(&Path, &str) -> anyhow::Result<PathBuf>,
) -> anyhow::Result<Option<(u64, u64)>> {
    let pg = d.join("pg");
    if Command::new("runuser").arg("--help").output().is_err() {
        return Ok(None);
    }
    let _ = std::fs::remove_dir_all(&pg);
    std::fs::create_dir_all(&pg)?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711))?;
    let chown = Command::new("chown").arg("postgres:").arg(&pg).status()?;
    if !chown.success() {
        println!("(PostgreSQL figure skipped: needs root to run a throw-away cluster as postgres)");
        return Ok(None);
    }
    let data = pg.join("data");
    let as_pg = |args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    };
    let ok = as_pg(&[
        &pg_bin("initdb"),
        "--auth=trust",
        "--no-locale",
        "-E",
        "UTF8",
        "-U",
        "postgres",
        "-D",
        data.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .status()?;
    anyhow::ensure!(ok.success(), "initdb failed");
    let opts = format!("-k {} -c listen_addresses='' -F", pg.display());
    let log = pg.join("log");
    let ok = as_pg(&[
        &pg_bin("pg_ctl"),
        "-w",
        "-D",
        data.to_str().unwrap(),
        "-o",
        &opts,
        "-l",
        log.to_str().unwrap(),
        "start",
    ])
    .stdout(Stdio::null())
    .status()?;
    anyhow::ensure!(ok.success(), "pg_ctl start failed");
    let stop = || {
        let _ = as_pg(&[&pg_bin("pg_ctl"), "-m", "immediate", "-D", data.to_str().unwrap(), "stop"]).output();
    };
    let psql = |db: &str, sql: &str| {
        Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-U", "postgres", "-h", pg.to_str().unwrap(), "-d", db, "-c", sql])
            .output()
    };
    let result = (|| -> anyhow::Result<(u64, u64)> {
        psql("postgres", "CREATE DATABASE nextcloud")?;
        // Random bytes so the compressed dump stays big too.
        let out = psql(
            "nextcloud",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE oc_filecache AS \
             SELECT g AS id, gen_random_bytes(1000) AS blob FROM generate_series(1, 540000) g",
        )?;
        anyhow::ensure!(out.status.success(), "filling PostgreSQL: {}", String::from_utf8_lossy(&out.stderr));
        let size = psql("nextcloud", "SELECT pg_database_size('nextcloud')")?;
        let mb = String::from_utf8_lossy(&size.stdout).trim().parse::<u64>().unwrap_or(0) / 1_000_000;
        let cfg = config_for(
            &d.join("unused-repo"),
            &format!(
                "[[postgres]]\nname = \"nextcloud\"\ndatabase = \"nextcloud\"\nhost = \"{}\"\nuser = \"postgres\"\n",
                pg.display()
            ),
        )?;
        let mut child = Command::new(b.bin("backup-hooks"))
            .arg("--config")
            .arg(&cfg)
            .arg("pre")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let status_file = format!("/proc/{}/status", child.id());
        let mut peak = 0u64;
        loop {
            if let Ok(s) = std::fs::read_to_string(&status_file) {
                if let Some(hwm) = s.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                    peak = peak.max(hwm.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
                }
            }
            if child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        anyhow::ensure!(child.wait()?.success(), "backup-hooks pre (PostgreSQL dump) failed");
        Command::new(b.bin("backup-hooks")).arg("--config").arg(&cfg).arg("post").output()?;
        Ok((mb, peak))
    })();
    stop();
    result.map(Some)
}

/// initdb and pg_ctl: on PATH, else where Debian keeps them (only its wrappers are in /usr/bin).
fn pg_bin(name: &str) -> String {
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if on_path {
        return name.to_owned();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin").join(name)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().map(|p| p.display().to_string()).unwrap_or_else(|| name.to_owned())
}
