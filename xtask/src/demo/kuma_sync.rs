//! The kuma-sync part of the demo: a fresh stand-in Uptime Kuma (2.x) on loopback, the example monitors
//! synced into it with `--setup`, the hash gate skipping an unchanged file, a change planned and synced,
//! and a forced run that finds nothing to write.

use super::Ctx;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Ends the stand-in when the demo part ends, however it ends.
struct Standin(std::process::Child);

impl Drop for Standin {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let d = &ctx.dir;
    let mut standin = Standin(
        Command::new(ctx.bin("kuma-standin"))
            .args(["--notification", "ntfy:default", "--notification", "mail"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let mut out = BufReader::new(standin.0.stdout.take().expect("piped"));
    let mut url = String::new();
    out.read_line(&mut url)?;
    let url = url.trim().to_owned();
    println!("\n(a fresh stand-in Uptime Kuma 2.x listens on {url}; it needs setup)");

    // A throwaway password, in a 0600 file as a systemd credential would be.
    let pw = d.join("kuma-password");
    std::fs::write(&pw, "demo-password-123\n")?;
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    std::fs::copy(ctx.examples().join("monitors.json"), d.join("monitors.json"))?;
    // The push monitor's token is a credential, as the unit's LoadCredential= hands it over.
    let creds = d.join("credentials");
    std::fs::create_dir_all(&creds)?;
    std::fs::write(creds.join("nightly-backup-push"), "demo-push-token-1\n")?;

    let expect = |code: i32, want: i32, what: &str| -> anyhow::Result<()> {
        anyhow::ensure!(code == want, "{what}: exit {code}, expected {want}");
        Ok(())
    };
    let kuma = |sub: &str, extra: &[&str]| {
        let mut c = ctx.tool("kuma-sync");
        c.arg(sub).args(["--monitors", "monitors.json", "--url", &url, "--username", "admin"]);
        c.env("CREDENTIALS_DIRECTORY", &creds);
        c.args(["--password-file", "kuma-password"]);
        if sub == "sync" {
            c.args(["--state-dir", "state"]);
        }
        c.args(extra);
        c
    };

    expect(ctx.show(ctx.tool("kuma-sync").args(["validate", "monitors.json"]))?, 0, "validate")?;
    expect(ctx.show(&mut kuma("sync", &["--setup"]))?, 0, "first sync")?;
    println!("\n(the file has not changed: the hash gate skips without connecting)");
    expect(ctx.show(&mut kuma("sync", &[]))?, 0, "gated sync")?;

    let text = std::fs::read_to_string(d.join("monitors.json"))?;
    let edited: Vec<&str> = text.lines().filter(|l| !l.contains("\"Attic\"")).collect();
    let edited = edited.join("\n").replace(r#""interval": 120"#, r#""interval": 30, "maxretries": 3"#);
    std::fs::write(d.join("monitors.json"), edited)?;
    println!("\n(edited monitors.json: Grafana every 30 s with 3 retries, Attic removed)");
    expect(ctx.show(&mut kuma("plan", &[]))?, 0, "plan")?;
    expect(ctx.show(&mut kuma("sync", &[]))?, 0, "second sync")?;
    println!("\n(--force compares everything again; nothing differs, so nothing is written)");
    expect(ctx.show(&mut kuma("sync", &["--force", "--json"]))?, 0, "forced sync")?;

    let stdin = standin.0.stdin.as_mut().expect("piped");
    writeln!(stdin, "names")?;
    let mut names = vec![];
    for _ in 0..10 {
        let mut l = String::new();
        out.read_line(&mut l)?;
        names.push(l.trim().to_owned());
    }
    println!("\n(the stand-in now holds: {})", names.join(", "));
    Ok(())
}
