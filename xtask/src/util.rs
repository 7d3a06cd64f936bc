use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// A cargo command at the workspace's root, started as if from the shell that ran `cargo xtask`.
///
/// `cargo run` hands xtask the variables it sets for the crate it runs (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, …);
/// passed on, build scripts that watch them (ring's, through cc) see a change and rebuild, so alternating
/// `cargo xtask test` and `cargo nextest run -p X` would rebuild them every time.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if set_by_cargo_run(&key) {
            c.env_remove(&*key);
        }
    }
    c
}

/// The variables `cargo run` sets for the program it runs (cargo's "Environment variables Cargo sets for
/// crates"), as opposed to those a user sets to configure cargo (CARGO_HOME, CARGO_TARGET_DIR, CARGO_TERM_*, …).
fn set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || matches!(
            key,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
        )
}

/// Run a command, echoing it; fail with its status.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    run_shown(cmd, &shown)
}

/// Run a command, echoing it as `shown` (shorter than the real thing); fail with its status.
pub fn run_shown(cmd: &mut Command, shown: &str) -> anyhow::Result<()> {
    eprintln!("$ {shown}");
    let st = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !st.success() {
        bail!("{shown} failed: {st}");
    }
    Ok(())
}

pub fn show(cmd: &Command) -> String {
    // The cargo that runs xtask, by the name a person types.
    let program = cmd.get_program();
    let program = if std::env::var_os("CARGO").is_some_and(|c| c == program) { "cargo".as_ref() } else { program };
    std::iter::once(program)
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    // A user's PATH on Debian has no sbin, where losetup and mkfs.ext4 live: installed all the same.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]).any(|d| d.join(program).is_file())
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// One tool's part of the demo or the benchmark: its name and what it does given its context.
pub type Part<C> = (&'static str, fn(&C) -> anyhow::Result<()>);

/// The demo's and the benchmark's common frame: build, then run each part (all, or the one tool `args` names)
/// in a fresh `target/<area>/<tool>`, with the context `make` gives for that directory. Every part runs; the
/// result says which failed.
pub fn run_parts<C>(
    area: &str,
    parts: &[Part<C>],
    args: &[String],
    build: &mut Command,
    make: impl Fn(PathBuf) -> C,
) -> anyhow::Result<Vec<(&'static str, anyhow::Result<()>)>> {
    let only = args.first().map(String::as_str);
    if let Some(tool) = only {
        let names: Vec<&str> = parts.iter().map(|(n, _)| *n).collect();
        anyhow::ensure!(names.contains(&tool), "no tool named {tool}; the tools: {}", names.join(", "));
    }
    run(build)?;
    let mut verdicts = vec![];
    for (name, part) in parts.iter().filter(|(n, _)| only.is_none_or(|o| o == *n)) {
        println!("\n=== {area} {name} ===");
        let dir = target_dir().join(area).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let result = part(&make(dir));
        if let Err(e) = &result {
            println!("{area} of {name} failed: {e:#}");
        }
        verdicts.push((*name, result));
    }
    Ok(verdicts)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `target/` in the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}
