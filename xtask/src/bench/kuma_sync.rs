//! Figures for kuma-sync (issues 3 and 13): the no-op run behind the hash gate; a whole file — 200
//! monitors, a notification with a secret, a docker host, a status page and a maintenance window — synced
//! into an empty server and then `--force`d with no changes (wall time, writes across every entity, peak
//! RSS), against the stand-in Uptime Kuma imitating 2.x and 1.23 (which sends the whole list after every
//! write).

use super::Bench;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

struct Standin {
    child: Child,
    out: BufReader<ChildStdout>,
    url: String,
}

impl Standin {
    fn start(b: &Bench, v1: bool) -> anyhow::Result<Standin> {
        let pw = b.dir.join("password");
        let mut c = Command::new(b.bin("kuma-standin"));
        c.args(["--user", "admin", "--password-file"]).arg(&pw);
        if v1 {
            c.arg("--v1");
        }
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut url = String::new();
        out.read_line(&mut url)?;
        Ok(Standin { child, out, url: url.trim().to_owned() })
    }

    fn ask(&mut self, what: &str) -> anyhow::Result<u64> {
        writeln!(self.child.stdin.as_mut().expect("piped"), "{what}")?;
        let mut l = String::new();
        self.out.read_line(&mut l)?;
        Ok(l.trim().parse()?)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn monitors(n: usize) -> String {
    let entries: Vec<String> = (0..n)
        .map(|i| match i % 4 {
            _ if i % 50 == 49 => format!(
                r#"{{"name": "container {i}", "type": "docker", "docker_container": "c{i}", "docker_host": "podman"}}"#
            ),
            0 => format!(r#"{{"name": "site {i}", "url": "https://s{i}.example.com", "interval": 60}}"#),
            1 => format!(
                r#"{{"name": "site {i}", "url": "https://s{i}.example.com", "keyword": "ok", "maxretries": 2}}"#
            ),
            2 => format!(
                r#"{{"name": "host {i}", "type": "ping", "hostname": "10.0.{}.{}", "tags": ["lan"]}}"#,
                i / 250,
                i % 250
            ),
            _ => format!(r#"{{"name": "port {i}", "type": "port", "hostname": "10.1.0.1", "port": {}}}"#, 1000 + i),
        })
        .collect();
    format!(
        r#"{{
  "notifications": [{{"name": "ntfy", "type": "ntfy", "default": true,
                      "settings": {{"ntfyserverurl": "https://ntfy.sh", "ntfytopic": "bench"}},
                      "secrets": {{"ntfyaccesstoken": "ntfy-token"}}}}],
  "docker_hosts": [{{"name": "podman", "type": "socket", "daemon": "/run/podman/podman.sock"}}],
  "status_pages": [{{"slug": "home", "title": "Home", "groups": [{{"name": "Sites", "monitors": ["site 0", "site 1"]}}]}}],
  "maintenance": [{{"title": "Nightly", "strategy": "recurring-weekday", "weekdays": [1, 2, 3, 4, 5, 6, 7],
                    "start_time": "03:00", "end_time": "03:30", "monitors": ["site 0"]}}],
  "monitors": [
{}
  ]
}}
"#,
        entries.join(",\n")
    )
}

fn sync(b: &Bench, url: &str, file: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(b.bin("kuma-sync"));
    c.args(["-q", "sync", "--url", url, "--username", "admin"])
        .arg("--monitors")
        .arg(file)
        .arg("--password-file")
        .arg(b.dir.join("password"))
        .arg("--state-dir")
        .arg(state)
        .env("CREDENTIALS_DIRECTORY", b.dir.join("credentials"))
        .args(extra);
    c
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub fn run(b: &Bench) -> anyhow::Result<()> {
    let pw = b.dir.join("password");
    std::fs::write(&pw, "bench-password-123\n")?;
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    std::fs::create_dir_all(b.dir.join("credentials"))?;
    std::fs::write(b.dir.join("credentials/ntfy-token"), "bench-ntfy-token\n")?;
    let file = b.dir.join("monitors.json");
    std::fs::write(&file, monitors(200))?;

    for (label, v1) in [("2.x", false), ("1.23", true)] {
        let mut kuma = Standin::start(b, v1)?;
        let state = b.dir.join(format!("state-{label}"));
        let t = Instant::now();
        let (code, rss) = b.peak_rss_kib(&mut sync(b, &kuma.url, &file, &state, &[]))?;
        let wall = t.elapsed();
        anyhow::ensure!(code == 0, "sync into the empty {label} stand-in exited {code}");
        let writes = kuma.ask("writes")?;
        anyhow::ensure!(kuma.ask("monitors")? == 200, "the {label} stand-in does not hold 200 monitors");
        b.report(
            &format!("sync the whole file (200 monitors, every kind) into an empty {label} server: wall"),
            ms(wall),
            "-",
        );
        b.report(&format!("sync the whole file into an empty {label} server: writes"), writes.to_string(), "-");
        b.report(
            &format!("sync the whole file into an empty {label} server: peak RSS"),
            format!("{rss} KiB"),
            "≤ 16384 KiB",
        );

        let t = Instant::now();
        let (code, rss) = b.peak_rss_kib(&mut sync(b, &kuma.url, &file, &state, &["--force"]))?;
        let wall = t.elapsed();
        anyhow::ensure!(code == 0, "--force against {label} exited {code}");
        let forced_writes = kuma.ask("writes")? - writes;
        b.report(&format!("--force, whole file, no changes ({label}): wall"), ms(wall), "-");
        b.report(
            &format!("--force, whole file, no changes ({label}): writes (every entity)"),
            forced_writes.to_string(),
            "0",
        );
        b.report(&format!("--force, whole file, no changes ({label}): peak RSS"), format!("{rss} KiB"), "≤ 16384 KiB");

        if !v1 {
            let noop = b.median_wall(50, || sync(b, &kuma.url, &file, &state, &[]))?;
            b.report("no-op run (hash unchanged), whole process, median of 50", ms(noop), "≤ 5 ms");
            let (code, rss) = b.peak_rss_kib(&mut sync(b, &kuma.url, &file, &state, &[]))?;
            anyhow::ensure!(code == 0, "no-op run exited {code}");
            b.report("no-op run: peak RSS", format!("{rss} KiB"), "-");
            anyhow::ensure!(kuma.ask("writes")? == writes, "the no-op runs wrote something");
        }
    }
    Ok(())
}
