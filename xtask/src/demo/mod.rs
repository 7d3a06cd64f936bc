//! `cargo xtask demo [TOOL]`: build the tools and run each one's real job in a sandbox under
//! `target/demo`, with local stand-ins for what lives elsewhere (a local restic repository instead of
//! B2, a throwaway Attic secret, a stand-in Kuma server on loopback, a regular file as the SD card).
//! Each tool's part lives in its own module.

mod attic_token;
mod authelia_rules;
mod backup_hooks;
mod kuma_sync;
mod net_watchdog;
mod sdimage;

use crate::util::{Part, cargo, root, run_parts, target_dir};
use anyhow::Context;
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;

pub struct Ctx {
    /// `target/demo/<tool>`, emptied before the tool's part runs.
    pub dir: PathBuf,
    bin_dir: PathBuf,
}

impl Ctx {
    pub fn bin(&self, tool: &str) -> PathBuf {
        self.bin_dir.join(tool)
    }

    /// A command for one of the built tools.
    pub fn tool(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin(tool));
        c.current_dir(&self.dir);
        c
    }

    /// Run, print the command line and what it printed; return the exit code.
    pub fn show(&self, cmd: &mut Command) -> anyhow::Result<i32> {
        // Show the tools by name, as an operator would type them.
        let line = self.relative(&crate::util::show(cmd).replace(&format!("{}/", self.bin_dir.display()), ""));
        println!("\n$ {line}");
        // One pipe for stdout and stderr, so the lines show in the order the tool wrote them.
        let (mut reader, writer) = pipe()?;
        cmd.stdout(writer.try_clone()?).stderr(writer);
        let mut child = cmd.spawn().with_context(|| format!("running {line}"))?;
        // The command keeps its copies of the write end until told otherwise; without this no EOF.
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text)?;
        let status = child.wait()?;
        for l in text.lines() {
            println!("  {}", self.relative(l));
        }
        let code = status.code().unwrap_or(-1);
        println!("  [exit {code}]");
        Ok(code)
    }

    /// Paths inside the sandbox as seen from it (where the tools run): `state/x`, not `/home/…/target/demo/…/state/x`.
    pub fn relative(&self, text: &str) -> String {
        let dir = self.dir.display().to_string();
        text.replace(&format!("{dir}/"), "").replace(&dir, ".")
    }

    #[allow(dead_code)]
    pub fn examples(&self) -> PathBuf {
        root().join("examples")
    }
}

/// A pipe with both ends closed on exec, as `std::io::pipe` makes it (1.87, newer than the workspace's
/// rust-version).
fn pipe() -> std::io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room for two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

const PARTS: &[Part<Ctx>] = &[
    ("kuma-sync", kuma_sync::run),
    ("authelia-rules", authelia_rules::run),
    ("backup-hooks", backup_hooks::run),
    ("attic-token", attic_token::run),
    ("net-watchdog", net_watchdog::run),
    ("sdimage", sdimage::run),
];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    // What the parts run besides the tools (restic, slapd, …): installed first, or named, before a long build.
    crate::test::ensure_demo_deps()?;
    // The whole workspace with its tests, even for one tool: the feature set `cargo xtask test` and
    // `cargo nextest run --workspace` build, so none of them rebuilds what another built. Cargo's progress shows.
    let mut build = cargo();
    build.args(["build", "--workspace", "--bins", "--tests"]);
    let bin_dir = target_dir().join("debug");
    let verdicts = run_parts("demo", PARTS, args, &mut build, |dir| Ctx { dir, bin_dir: bin_dir.clone() })?;
    let sandbox = target_dir().join("demo");
    println!("\nThe sandbox is under {}\n", sandbox.strip_prefix(root()).unwrap_or(&sandbox).display());
    let width = verdicts.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, result) in &verdicts {
        match result {
            Ok(()) => println!("{name:width$}  ok"),
            Err(e) => println!("{name:width$}  FAILED: {e:#}"),
        }
    }
    let failed: Vec<&str> = verdicts.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| *n).collect();
    anyhow::ensure!(failed.is_empty(), "demo parts failed: {}", failed.join(", "));
    Ok(())
}
