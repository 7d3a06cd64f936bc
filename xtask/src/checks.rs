//! Checks of the files that are not Rust, run by `cargo xtask test` before the Rust tests (and alone by
//! `cargo xtask checks`):
//! - every package in Cargo.lock builds with the workspace's `rust-version` (NixOS 25.05's rustc 1.86 must
//!   build the tools), and every member declares that `rust-version` and no newer one;
//! - every `.nix` file parses (`nix-instantiate --parse`);
//! - every unit in contrib/systemd carries exactly the sandbox nix/hardening.nix gives the NixOS module,
//!   plus the settings the project requires of every unit, and no secret in its environment;
//! - every command line in those units parses with the tool it names (built here, run with `--help` at
//!   the end, so the arguments are checked and nothing is done);
//! - the README's flake snippet parses;
//! - the NixOS module, evaluated by nix/tests/offline-eval.nix (a stand-in lib, as nixpkgs is not here) for
//!   the example host and for the README's snippet: assertions hold, units carry their sandbox, command
//!   lines parse, and the generated monitors and rules pass `kuma-sync validate` and `authelia-rules lint`;
//! - `systemd-analyze security --offline=true` rates every service: the exposure is printed per unit,
//!   and one above 3.0 fails.
//!
//! A missing checker (nix-instantiate, systemd-analyze) skips its check with a message; everything else
//! that is wrong fails the run, listing every finding rather than the first.

use crate::util::{cargo, have, is_root, root};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The exposure no unit may exceed, and the one each should reach where its job allows.
const EXPOSURE_LIMIT: f64 = 3.0;
const EXPOSURE_GOAL: f64 = 2.0;

/// A directive, a test of its values, and what it must be (for the message).
type Requirement = (&'static str, fn(&[String]) -> bool, &'static str);

/// What the project requires of every service unit, whatever nix/hardening.nix says.
const REQUIRED: &[Requirement] = &[
    ("ProtectSystem", |v| v == ["strict"], "strict"),
    ("ProtectHome", |v| v == ["yes"] || v == ["read-only"] || v == ["tmpfs"], "yes, read-only or tmpfs"),
    ("PrivateTmp", |v| v == ["yes"], "yes"),
    ("NoNewPrivileges", |v| v == ["yes"], "yes"),
    ("UMask", |v| v == ["0077"], "0077"),
    ("CapabilityBoundingSet", |v| !v.is_empty(), "set (empty or minimal)"),
    ("RestrictAddressFamilies", |v| !v.is_empty(), "set"),
    ("SystemCallFilter", |v| v.first().is_some_and(|f| f == "@system-service"), "@system-service first"),
];

pub fn run() -> anyhow::Result<()> {
    let root = root();
    let mut findings = Vec::new();
    println!("checks: the files that are not Rust");
    check_rust_versions(&root, &mut findings)?;
    parse_nix(&root, &mut findings)?;
    let units = unit_files(&root.join("contrib/systemd"))?;
    check_units(&root, &units, &mut findings)?;
    let mut rated: Vec<RatedUnit> = units
        .iter()
        .filter(|u| u.extension().is_some_and(|e| e == "service"))
        .map(|u| (format!("{} (contrib)", file_name(u)), u.clone()))
        .collect();
    if let Some(bin_dir) = build_tools(&root, &mut findings)? {
        check_command_lines(&bin_dir, &units, &mut findings)?;
        rated.extend(check_module(&root, &bin_dir, &mut findings)?);
    }
    analyze_security(&rated, &mut findings)?;
    if !findings.is_empty() {
        bail!("{} check(s) failed:\n  {}", findings.len(), findings.join("\n  "));
    }
    println!("checks: all passed");
    Ok(())
}

/// A new dependency or `cargo update` can raise the compiler a build needs without any code changing; this
/// catches it here rather than on the NixOS host.
fn check_rust_versions(root: &Path, findings: &mut Vec<String>) -> anyhow::Result<()> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let Some(workspace) = workspace_rust_version(&text) else {
        findings.push("Cargo.toml: [workspace.package] has no rust-version".to_owned());
        return Ok(());
    };
    let out =
        cargo().args(["metadata", "--format-version", "1", "--locked"]).output().context("running cargo metadata")?;
    if !out.status.success() {
        findings.push(format!("cargo metadata --locked failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        return Ok(());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata's JSON")?;
    let problems = rust_version_problems(&workspace, &metadata)?;
    if problems.is_empty() {
        let count = metadata["packages"].as_array().map_or(0, Vec::len);
        println!("  rust-version: all {count} locked packages build with rustc {workspace}");
    }
    findings.extend(problems);
    Ok(())
}

/// `rust-version` of `[workspace.package]` in the root manifest: a plain string is all this workspace uses.
fn workspace_rust_version(manifest: &str) -> Option<String> {
    let package = section(manifest, "workspace.package");
    let value = package.get("rust-version")?.last()?;
    value.split('"').nth(1).map(str::to_owned)
}

/// "1.86" or "1.86.0" as (1, 86, 0); None for anything else.
fn rust_version(s: &str) -> Option<(u64, u64, u64)> {
    let parts: Vec<u64> = s.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    match parts[..] {
        [major, minor] => Some((major, minor, 0)),
        [major, minor, patch] => Some((major, minor, patch)),
        _ => None,
    }
}

/// Packages of `cargo metadata` that need a newer compiler than `workspace`, and members that do not
/// declare it (clippy's `incompatible_msrv` only checks a crate against its own rust-version).
fn rust_version_problems(workspace: &str, metadata: &serde_json::Value) -> anyhow::Result<Vec<String>> {
    let Some(floor) = rust_version(workspace) else {
        bail!("Cargo.toml: rust-version {workspace:?} is not a version like 1.86");
    };
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .context("cargo metadata: no workspace_members")?
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().context("cargo metadata: no packages")? {
        let field = |key: &str| package[key].as_str().unwrap_or("?");
        let (name, version) = (field("name"), field("version"));
        let member = members.contains(&field("id"));
        let needs = package["rust_version"].as_str();
        match needs.map(|v| (v, rust_version(v))) {
            None if member => problems.push(format!(
                "workspace member {name} has no rust-version: add rust-version.workspace = true to its Cargo.toml"
            )),
            None => {}
            Some((v, None)) => problems.push(format!("{name} {version}: rust-version {v:?} is not a version")),
            Some((v, Some(needs))) if needs > floor => problems.push(if member {
                format!(
                    "workspace member {name} sets rust-version {v}, above the workspace's {workspace}: \
                     use rust-version.workspace = true"
                )
            } else {
                format!(
                    "{name} {version} (in Cargo.lock) has rust-version {v}, above the workspace's {workspace}: \
                     pin an older {name} with cargo update --precise"
                )
            }),
            Some(_) => {}
        }
    }
    Ok(problems)
}

fn parse_nix(root: &Path, findings: &mut Vec<String>) -> anyhow::Result<()> {
    let mut files = Vec::new();
    find_files(root, "nix", &mut files)?;
    if !have("nix-instantiate") {
        println!(
            "  SKIPPED: nix-instantiate is not installed (apt-get install nix-bin): {} .nix file(s) unparsed",
            files.len()
        );
        return Ok(());
    }
    for file in &files {
        let out = nix_instantiate().arg("--parse").arg(file).output().context("running nix-instantiate")?;
        let name = file.strip_prefix(root).unwrap_or(file).display();
        if out.status.success() {
            println!("  parses: {name}");
        } else {
            findings.push(format!("{name} does not parse: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    Ok(())
}

/// The `.nix` files of the repository, sorted; build output, VCS data and hidden directories are not ours.
fn find_files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                find_files(&path, ext, out)?;
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}

fn unit_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    units.retain(|p| p.extension().is_some_and(|e| e == "service" || e == "timer"));
    units.sort();
    if !units.iter().any(|u| u.extension().is_some_and(|e| e == "service")) {
        bail!("no service units in {}", dir.display());
    }
    Ok(units)
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn check_units(root: &Path, units: &[PathBuf], findings: &mut Vec<String>) -> anyhow::Result<()> {
    let expected = if have("nix-instantiate") {
        Some(hardening_from_nix(&root.join("nix/hardening.nix"))?)
    } else {
        println!("  SKIPPED: contrib/systemd against nix/hardening.nix (nix-instantiate is not installed)");
        None
    };
    let hardening_keys: Vec<&String> = {
        let mut keys: Vec<&String> = expected.iter().flat_map(|e| e.values().flat_map(|u| u.keys())).collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let mut seen = Vec::new();
    for path in units {
        let name = file_name(path);
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        if let Some(stem) = name.strip_suffix(".timer") {
            let target = section(&text, "Timer").get("Unit").and_then(|v| v.first().cloned());
            let service = target.unwrap_or_else(|| format!("{stem}.service"));
            if !units.iter().any(|u| file_name(u) == service) {
                findings.push(format!("{name}: starts {service}, which contrib/systemd does not have"));
            }
            continue;
        }
        let Some(stem) = name.strip_suffix(".service") else { continue };
        let service = section(&text, "Service");
        let mut problems = required_problems(&service);
        problems.extend(secret_problems(&service));
        if let Some(expected) = &expected {
            match expected.get(stem) {
                None => problems.push(format!("has no entry in nix/hardening.nix's units (add \"{stem}\")")),
                Some(want) => problems.extend(drift(&service, want, &hardening_keys)),
            }
            seen.push(stem.to_owned());
        }
        if problems.is_empty() {
            println!("  hardened: {name}");
        }
        findings.extend(problems.into_iter().map(|p| format!("contrib/systemd/{name}: {p}")));
    }
    for name in expected.iter().flat_map(|e| e.keys()) {
        if !seen.contains(name) {
            findings
                .push(format!("nix/hardening.nix names unit {name}, but contrib/systemd/{name}.service is missing"));
        }
    }
    Ok(())
}

type Directives = BTreeMap<String, Vec<String>>;

/// The directives of one `[section]`, each with its values in order (a directive may repeat). Values are
/// whitespace-normalised; comments and line continuations are not used by our units.
fn section(text: &str, wanted: &str) -> Directives {
    let mut current = String::new();
    let mut out = Directives::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == wanted {
            if let Some((key, value)) = line.split_once('=') {
                let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                out.entry(key.trim().to_owned()).or_default().push(value);
            }
        }
    }
    out
}

fn required_problems(service: &Directives) -> Vec<String> {
    REQUIRED
        .iter()
        .filter_map(|(key, ok, want)| {
            let values = service.get(*key).map(Vec::as_slice).unwrap_or_default();
            (!ok(values)).then(|| format!("{key}= must be {want} (has {values:?})"))
        })
        .collect()
}

/// Secrets reach a unit only through LoadCredential=: an Environment= that sets a password, token or key
/// (other than a path to one, `…_FILE`) or an EnvironmentFile= is refused.
fn secret_problems(service: &Directives) -> Vec<String> {
    let mut problems = Vec::new();
    for value in service.get("Environment").into_iter().flatten() {
        for assignment in value.split_whitespace() {
            let var = assignment.split('=').next().unwrap_or_default().trim_matches('"').to_ascii_uppercase();
            let secretish = ["PASSWORD", "TOKEN", "SECRET", "KEY"].iter().any(|s| var.contains(s));
            if secretish && !var.ends_with("_FILE") {
                problems.push(format!("Environment= sets {var}: pass secrets with LoadCredential= instead"));
            }
        }
    }
    for value in service.get("LoadCredential").into_iter().flatten() {
        if value.starts_with('-') {
            problems.push(format!(
                "LoadCredential={value}: a leading \"-\" is part of the credential's name to systemd, not \"optional\""
            ));
        }
    }
    if service.contains_key("EnvironmentFile") {
        problems.push("EnvironmentFile= can carry secrets into the environment: use LoadCredential=".to_owned());
    }
    problems
}

/// Where the unit's sandbox differs from nix/hardening.nix, for every directive that file governs.
fn drift(service: &Directives, want: &Directives, keys: &[&String]) -> Vec<String> {
    keys.iter()
        .filter_map(|key| {
            let have = service.get(*key);
            let want = want.get(*key);
            (have != want).then(|| format!("{key}= is {have:?}, nix/hardening.nix says {want:?}"))
        })
        .collect()
}

/// nix-instantiate for parsing and evaluating; as a user who cannot write nix's own state (/nix/var/nix, root's
/// in a single-user install) it keeps its state under target/, which --parse and --eval need and never share.
fn nix_instantiate() -> Command {
    let mut c = Command::new("nix-instantiate");
    if !is_root() {
        let state = root().join("target/nix-state");
        c.env("NIX_STATE_DIR", state.join("var")).env("NIX_LOG_DIR", state.join("log"));
    }
    c
}

/// `units` of nix/hardening.nix, rendered the way NixOS writes serviceConfig: booleans as yes/no, a list as
/// one line per element.
fn hardening_from_nix(file: &Path) -> anyhow::Result<BTreeMap<String, Directives>> {
    let out = nix_instantiate()
        .args(["--eval", "--strict", "--json", "-A", "units"])
        .arg(file)
        .output()
        .context("running nix-instantiate --eval")?;
    if !out.status.success() {
        bail!("evaluating {}: {}", file.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading nix-instantiate's JSON")?;
    units_from_json(&json).with_context(|| format!("{}: units", file.display()))
}

fn units_from_json(json: &serde_json::Value) -> anyhow::Result<BTreeMap<String, Directives>> {
    use serde_json::Value;
    let render = |v: &Value| -> anyhow::Result<String> {
        Ok(match v {
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Value::String(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
            Value::Number(n) => n.to_string(),
            other => bail!("unexpected value {other}"),
        })
    };
    let units = json.as_object().context("not an attribute set")?;
    let mut out = BTreeMap::new();
    for (unit, settings) in units {
        let settings = settings.as_object().with_context(|| format!("{unit}: not an attribute set"))?;
        let mut directives = Directives::new();
        for (key, value) in settings {
            let values = match value {
                Value::Array(items) => items.iter().map(render).collect::<Result<_, _>>(),
                single => render(single).map(|v| vec![v]),
            }
            .with_context(|| format!("{unit}.{key}"))?;
            directives.insert(key.clone(), values);
        }
        out.insert(unit.clone(), directives);
    }
    Ok(out)
}

/// The tools a unit may run; a command line whose program has one of these names is checked.
const TOOLS: &[&str] = &["kuma-sync", "authelia-rules", "backup-hooks", "attic-token", "net-watchdog", "sdimage"];

/// Sample values for the specifiers our units use, as systemd would expand them.
fn expand_specifiers(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => out.push_str("/run/credentials/unit"),
                Some('i' | 'I') => out.push_str("wlan0"),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            },
            '$' if chars.clone().next() == Some('$') => {
                chars.next();
                out.push('$');
            }
            _ => out.push(c),
        }
    }
    out
}

/// An `Exec*=` value split into words as systemd does for our units: bare words, or double-quoted words
/// with C escapes (NixOS writes each argument as a JSON string); then specifiers expanded.
fn exec_words(line: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let mut escaped = false;
            let end = rest[1..]
                .char_indices()
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map(|(i, _)| i + 1)
                .with_context(|| format!("unterminated quote in {line:?}"))?;
            let word: String =
                serde_json::from_str(&rest[..=end]).with_context(|| format!("bad quoting in {line:?}"))?;
            words.push(expand_specifiers(&word));
            rest = rest[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(expand_specifiers(&rest[..end]));
            rest = rest[end..].trim_start();
        }
    }
    Ok(words)
}

/// A command line that runs one of our tools: (where it is, directive, tool, arguments).
type ToolCommand = (String, String, String, Vec<String>);

/// The `Exec*=` lines among `directives` that run one of our tools.
fn tool_command_lines(place: &str, directives: &Directives) -> anyhow::Result<Vec<ToolCommand>> {
    let mut lines = Vec::new();
    for (key, values) in directives.iter().filter(|(k, _)| k.starts_with("Exec")) {
        for value in values {
            let mut words = exec_words(value)?.into_iter();
            let Some(program) = words.next() else { continue };
            let program = program.trim_start_matches(['-', '+', '!', '@', ':']);
            let name = program.rsplit('/').next().unwrap_or_default();
            if TOOLS.contains(&name) {
                lines.push((place.to_owned(), key.clone(), name.to_owned(), words.collect()));
            }
        }
    }
    Ok(lines)
}

/// Build the tools once for the checks that run them; None (and a finding) when they do not build.
fn build_tools(root: &Path, findings: &mut Vec<String>) -> anyhow::Result<Option<PathBuf>> {
    // The whole workspace with its tests: the feature set the demo and the tests build, so this build is theirs
    // too (six tools alone resolve other features and build every dependency again); its progress shows.
    let mut build = cargo();
    build.args(["build", "--workspace", "--bins", "--tests"]);
    if !build.status().context("running cargo build")?.success() {
        findings.push(format!("could not build {} to check the units' command lines", TOOLS.join(", ")));
        return Ok(None);
    }
    Ok(Some(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from).join("debug")))
}

/// Each tool is run with the unit's arguments and `--help` last: clap checks every argument before it gets
/// to `--help`, so a renamed flag or a bad value exits 2 and nothing else happens.
fn check_parses(bin_dir: &Path, commands: &[ToolCommand], findings: &mut Vec<String>) -> anyhow::Result<()> {
    for (place, key, tool, args) in commands {
        let out = Command::new(bin_dir.join(tool))
            .args(args)
            .arg("--help")
            .env_clear()
            .output()
            .with_context(|| format!("running {tool}"))?;
        if out.status.success() {
            println!("  command line parses: {place} {key}= {tool} {}", args.join(" "));
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            findings.push(format!("{place}: {key}= does not parse with {tool} ({}): {why}", out.status));
        }
    }
    Ok(())
}

fn check_command_lines(bin_dir: &Path, units: &[PathBuf], findings: &mut Vec<String>) -> anyhow::Result<()> {
    let mut commands = Vec::new();
    for path in units.iter().filter(|u| u.extension().is_some_and(|e| e == "service")) {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let place = format!("contrib/systemd/{}", file_name(path));
        commands.extend(tool_command_lines(&place, &section(&text, "Service"))?);
    }
    check_parses(bin_dir, &commands, findings)
}

/// The first ```nix block of the README's "Use it on NixOS" section: the flake snippet users copy.
fn readme_flake_snippet(readme: &str) -> Option<String> {
    let section = readme.split("<!-- BEGIN nixos -->").nth(1)?.split("<!-- END nixos -->").next()?;
    let block = section.split("```nix\n").nth(1)?.split("\n```").next()?;
    Some(format!("{block}\n"))
}

/// A unit file to rate with `systemd-analyze security`: how it is named in the output, and where it is.
type RatedUnit = (String, PathBuf);

/// `nix-instantiate --eval --strict --json` of nix/tests/offline-eval.nix (attribute `attr`) with the stand-in
/// lib, or with `real_lib` (a nixpkgs `lib` directory) instead.
fn eval_offline(root: &Path, attr: &str, readme_arg: &str, real_lib: Option<&Path>) -> anyhow::Result<Evaluation> {
    let mut cmd = nix_instantiate();
    cmd.args(["--readonly-mode", "--eval", "--strict", "--json", "--arg", "readmeFlake", readme_arg, "-A", attr]);
    if let Some(lib) = real_lib {
        cmd.args(["--arg", "lib", &format!("import {}", lib.display())]);
    }
    Ok(cmd.arg(root.join("nix/tests/offline-eval.nix")).output().context("running nix-instantiate --eval")?.into())
}

struct Evaluation {
    ok: bool,
    json: serde_json::Value,
    stderr: String,
}

impl From<std::process::Output> for Evaluation {
    fn from(out: std::process::Output) -> Self {
        let stderr = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.contains("build-users-group"))
            .collect::<Vec<_>>()
            .join("\n");
        let json = if out.status.success() {
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Null
        };
        Evaluation { ok: out.status.success(), json, stderr }
    }
}

/// nix/tests/offline-eval.nix evaluates the NixOS module with a stand-in of nixos-25.05's lib (nixpkgs is not
/// here) for the example homelab, the README's flake snippet and the VM tests' machines: assertions must
/// hold, each unit must carry its sandbox from nix/hardening.nix, each command line must parse with its tool,
/// the generated monitors and rules must pass the tools' checks, every file a tool reads must be where its
/// unit puts it, the module must refuse what it promises to refuse, and the options reference must be up to
/// date. The units are returned for `systemd-analyze security`. With HOMEY_NIXPKGS_LIB (a nixpkgs `lib`
/// directory) the same evaluation runs with the real lib too, and must give the same output.
fn check_module(root: &Path, bin_dir: &Path, findings: &mut Vec<String>) -> anyhow::Result<Vec<RatedUnit>> {
    if !have("nix-instantiate") {
        println!("  SKIPPED: the NixOS module's offline evaluation (nix-instantiate is not installed)");
        return Ok(Vec::new());
    }
    let scratch = root.join("target/checks");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let snippet = scratch.join("readme-flake.nix");
    let readme_arg = match readme_flake_snippet(&readme) {
        None => {
            findings.push("README.md: the \"Use it on NixOS\" section has no ```nix flake snippet".to_owned());
            "null".to_owned()
        }
        Some(text) => {
            std::fs::write(&snippet, text)?;
            let parse = nix_instantiate().arg("--parse").arg(&snippet).output()?;
            if parse.status.success() {
                println!("  parses: README.md's flake snippet");
                snippet.display().to_string()
            } else {
                findings.push(format!(
                    "README.md: the flake snippet does not parse: {}",
                    String::from_utf8_lossy(&parse.stderr).trim()
                ));
                "null".to_owned()
            }
        }
    };
    let hosts = eval_offline(root, "hosts", &readme_arg, None)?;
    if !hosts.ok {
        findings
            .push(format!("the NixOS module does not evaluate (nix/tests/offline-eval.nix): {}", hosts.stderr.trim()));
        return Ok(Vec::new());
    }
    let mut rated = Vec::new();
    for (host, eval) in hosts.json.as_object().context("no hosts in the evaluation")? {
        rated.extend(check_host(host, eval, bin_dir, &scratch, findings)?);
    }
    check_refusals(root, &readme_arg, findings)?;
    check_options_reference(root, findings)?;
    compare_with_real_lib(root, &readme_arg, &hosts.json, findings)?;
    Ok(rated)
}

fn check_host(
    host: &str,
    eval: &serde_json::Value,
    bin_dir: &Path,
    scratch: &Path,
    findings: &mut Vec<String>,
) -> anyhow::Result<Vec<RatedUnit>> {
    let what = format!("NixOS module ({host})");
    for message in eval["failedAssertions"].as_array().into_iter().flatten() {
        findings.push(format!("{what}: an assertion fails: {message}"));
    }
    let problems = eval["fileProblems"].as_array().map_or(0, Vec::len);
    for problem in eval["fileProblems"].as_array().into_iter().flatten() {
        findings.push(format!("{what}: {}", problem.as_str().unwrap_or_default()));
    }
    let mut commands = Vec::new();
    for (unit, facts) in eval["services"].as_object().into_iter().flatten() {
        for key in facts["sandboxDrift"].as_array().into_iter().flatten() {
            findings.push(format!("{what}: {unit}.service: {key} differs from nix/hardening.nix"));
        }
        let mut directives = Directives::new();
        for (key, value) in facts["exec"].as_object().into_iter().flatten() {
            directives.insert(key.clone(), vec![value.as_str().unwrap_or_default().to_owned()]);
        }
        commands.extend(tool_command_lines(&format!("{what} {unit}.service"), &directives)?);
    }
    if commands.is_empty() {
        findings.push(format!("{what}: no command lines to check"));
    }
    check_parses(bin_dir, &commands, findings)?;
    if problems == 0 {
        println!("  {what}: every config, credential, state and output path is where its unit puts it");
    }

    let generated: [(&str, &str, &[&str], &[i32]); 2] = [
        ("monitors", "kuma-sync", &["validate"], &[0]),
        // 3: lint found only warnings.
        ("rules", "authelia-rules", &["lint"], &[0, 3]),
    ];
    for (name, tool, args, ok_codes) in generated {
        if eval["files"].get(name).is_none() {
            continue;
        }
        let path = scratch.join(format!("{host}-{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&eval["files"][name])?)?;
        let out = Command::new(bin_dir.join(tool)).args(args).arg(&path).env_clear().output()?;
        if out.status.code().is_some_and(|c| ok_codes.contains(&c)) {
            println!("  {what}: generated {name} file passes `{tool} {}`", args.join(" "));
        } else {
            findings.push(format!(
                "{what}: the generated {name} file fails `{tool} {}` ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }

    check_backup_credentials(&what, eval, bin_dir, scratch, host, findings)?;

    // The units as NixOS writes them, for systemd-analyze.
    let dir = scratch.join("units").join(host);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut rated = Vec::new();
    for (unit, text) in eval["unitFiles"].as_object().into_iter().flatten() {
        let path = dir.join(format!("{unit}.service"));
        std::fs::write(&path, text.as_str().unwrap_or_default())?;
        rated.push((format!("{unit}.service (module, {host})"), path));
    }
    Ok(rated)
}

/// backup-hooks itself loads the generated backup.toml in each backup unit's own credentials directory (a
/// temporary one holding exactly the unit's LoadCredential= names): every secret the file names must resolve
/// there (`check-config`'s other complaints, about this machine's missing paths, are not ours). A control run
/// without one credential must fail, naming it, so the check is known to be able to fail.
fn check_backup_credentials(
    what: &str,
    eval: &serde_json::Value,
    bin_dir: &Path,
    scratch: &Path,
    host: &str,
    findings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let Some(config) = eval["files"].get("backup") else { return Ok(()) };
    let toml = scratch.join(format!("{host}-backup.toml"));
    std::fs::write(&toml, json_to_toml(config)).with_context(|| format!("writing {}", toml.display()))?;
    // What each credential holds, as far as its parser cares.
    let content = |name: &str| -> &'static str {
        if config["repository"]["environment_credential"].as_str() == Some(name) {
            "AWS_ACCESS_KEY_ID=placeholder\n"
        } else if config["report"]["kuma_push_url_credential"].as_str() == Some(name) {
            "https://status.example.com/api/push/placeholder\n"
        } else {
            "placeholder\n"
        }
    };
    let check = |unit: &str, creds: &[String]| -> anyhow::Result<Vec<String>> {
        let dir = scratch.join("credentials").join(host).join(unit);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for name in creds {
            let path = dir.join(name);
            std::fs::write(&path, content(name))?;
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        }
        let out = Command::new(bin_dir.join("backup-hooks"))
            .args(["check-config", "--config"])
            .arg(&toml)
            .env_clear()
            .env("CREDENTIALS_DIRECTORY", &dir)
            .output()
            .context("running backup-hooks check-config")?;
        Ok(String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("credential"))
            .map(str::to_owned)
            .collect())
    };
    let mut control_done = false;
    for (unit, text) in eval["unitFiles"].as_object().into_iter().flatten() {
        if !unit.starts_with("backup") {
            continue;
        }
        let creds: Vec<String> = section(text.as_str().unwrap_or_default(), "Service")
            .get("LoadCredential")
            .into_iter()
            .flatten()
            .filter_map(|c| c.split(':').next().map(str::to_owned))
            .collect();
        let problems = check(unit, &creds)?;
        if problems.is_empty() {
            println!(
                "  {what}: {unit}.service: backup-hooks finds every credential backup.toml names in its own directory"
            );
        }
        findings
            .extend(problems.into_iter().map(|p| format!("{what}: {unit}.service: backup-hooks check-config: {p}")));
        if !control_done {
            control_done = true;
            let without: Vec<String> = creds.iter().filter(|c| *c != "restic-password").cloned().collect();
            let control = check(&format!("{unit}-control"), &without)?;
            if !control.iter().any(|l| l.contains("restic-password")) {
                findings.push(format!(
                    "{what}: {unit}.service: without restic-password backup-hooks check-config did not complain \
                     about it, so the credential check cannot fail: {control:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The generated backup.toml from its JSON (the module renders it with pkgs.formats.toml): scalars and
/// arrays first, then tables and arrays of tables, as TOML requires.
fn json_to_toml(value: &serde_json::Value) -> String {
    use serde_json::Value;
    fn scalar(v: &Value) -> String {
        match v {
            Value::Array(items) => format!("[{}]", items.iter().map(scalar).collect::<Vec<_>>().join(", ")),
            Value::Object(_) | Value::Null => String::new(),
            other => other.to_string(),
        }
    }
    fn is_table(v: &Value) -> bool {
        v.is_object()
    }
    fn is_table_array(v: &Value) -> bool {
        v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object))
    }
    fn write(out: &mut String, path: &str, object: &serde_json::Map<String, Value>) {
        for (key, v) in object.iter().filter(|(_, v)| !is_table(v) && !is_table_array(v) && !v.is_null()) {
            out.push_str(&format!("{key} = {}\n", scalar(v)));
        }
        for (key, v) in object {
            let name = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if let Some(table) = v.as_object() {
                out.push_str(&format!("\n[{name}]\n"));
                write(out, &name, table);
            } else if is_table_array(v) {
                for entry in v.as_array().into_iter().flatten().filter_map(Value::as_object) {
                    out.push_str(&format!("\n[[{name}]]\n"));
                    write(out, &name, entry);
                }
            }
        }
    }
    let mut out = String::new();
    if let Some(object) = value.as_object() {
        write(&mut out, "", object);
    }
    out
}

/// Each case of `refusals` must fail: its expected text in a failed assertion or in the evaluation's error.
fn check_refusals(root: &Path, readme_arg: &str, findings: &mut Vec<String>) -> anyhow::Result<()> {
    let expectations = eval_offline(root, "refusalExpectations", readme_arg, None)?;
    let Some(cases) = expectations.json.as_object() else {
        findings.push(format!("nix/tests/offline-eval.nix: no refusalExpectations: {}", expectations.stderr.trim()));
        return Ok(());
    };
    for (name, expect) in cases {
        let expect = expect.as_str().unwrap_or_default();
        let out = eval_offline(root, &format!("refusals.{name}.eval"), readme_arg, None)?;
        let refused = if out.ok {
            out.json.as_array().into_iter().flatten().any(|m| m.as_str().is_some_and(|m| m.contains(expect)))
        } else {
            out.stderr.contains(expect)
        };
        if refused {
            println!("  NixOS module refuses: {name}");
        } else {
            let got = if out.ok { out.json.to_string() } else { out.stderr.trim().to_owned() };
            findings.push(format!("NixOS module: {name} is not refused with \"{expect}\"; got: {got}"));
        }
    }
    Ok(())
}

const OPTIONS_REFERENCE: &str = "docs/nixos-options.md";

/// The options reference as markdown, from the options the module declares (`optionDocs`).
fn options_reference(root: &Path, findings: &mut Vec<String>) -> anyhow::Result<Option<String>> {
    let out = eval_offline(root, "optionDocs", "null", None)?;
    let Some(options) = out.json.as_array() else {
        findings.push(format!("the NixOS module's options do not evaluate: {}", out.stderr.trim()));
        return Ok(None);
    };
    let mut md = String::from(
        "# NixOS options\n\n<!-- Generated from nix/modules by `cargo xtask nixos-options`; \
         `cargo xtask checks` fails when it is out of date. -->\n\n\
         Every option of homey's NixOS module (`homey.nixosModules.default`, or `nix/module.nix`). `*` stands \
         for an entry of a list, `<name>` for an attribute name.\n",
    );
    for option in options {
        let field = |key: &str| option[key].as_str().map(str::trim).filter(|s| !s.is_empty());
        let name = field("name").unwrap_or("?");
        md.push_str(&format!("\n## `{name}`\n\n"));
        match field("description") {
            Some(text) => {
                let text: Vec<&str> = text.lines().map(str::trim).collect();
                md.push_str(&format!("{}\n\n", text.join("\n")));
            }
            None => findings.push(format!("NixOS option {name} has no description")),
        }
        md.push_str(&format!("*Type:* {}", field("type").unwrap_or("?")));
        if option["readOnly"].as_bool() == Some(true) {
            md.push_str(" (read-only)");
        }
        md.push('\n');
        for (key, label) in [("default", "Default"), ("example", "Example")] {
            if let Some(value) = field(key) {
                md.push_str(&format!("\n*{label}:* `{}`\n", value.replace('\n', " ")));
            }
        }
    }
    Ok(Some(md))
}

fn check_options_reference(root: &Path, findings: &mut Vec<String>) -> anyhow::Result<()> {
    let Some(md) = options_reference(root, findings)? else { return Ok(()) };
    let committed = std::fs::read_to_string(root.join(OPTIONS_REFERENCE)).unwrap_or_default();
    if committed == md {
        println!("  {OPTIONS_REFERENCE} is up to date with the module's options");
    } else {
        findings.push(format!("{OPTIONS_REFERENCE} is out of date: run `cargo xtask nixos-options`"));
    }
    let mut stale = Vec::new();
    let mut files = Vec::new();
    find_files(&root.join("nix"), "nix", &mut files)?;
    files.push(root.join("flake.nix"));
    for file in files {
        if std::fs::read_to_string(&file)?.contains("example.invalid") {
            stale.push(file.strip_prefix(root).unwrap_or(&file).display().to_string());
        }
    }
    if !stale.is_empty() {
        findings.push(format!("example.invalid links in {}: point at the man page or the README", stale.join(", ")));
    }
    Ok(())
}

/// `cargo xtask nixos-options`: write the options reference.
pub fn write_options_reference() -> anyhow::Result<()> {
    let root = root();
    let mut findings = Vec::new();
    let md = options_reference(&root, &mut findings)?.context("the module's options do not evaluate")?;
    let path = root.join(OPTIONS_REFERENCE);
    std::fs::create_dir_all(path.parent().unwrap_or(&root))?;
    std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    if !findings.is_empty() {
        bail!("{}", findings.join("\n"));
    }
    Ok(())
}

/// With HOMEY_NIXPKGS_LIB (a nixpkgs `lib` directory, e.g. of nixos-25.05), the evaluation and every refusal
/// must come out the same with the real lib as with the stand-in.
fn compare_with_real_lib(
    root: &Path,
    readme_arg: &str,
    standin_hosts: &serde_json::Value,
    findings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let Some(lib) = std::env::var_os("HOMEY_NIXPKGS_LIB").map(PathBuf::from) else {
        println!(
            "  SKIPPED: the stand-in lib against nixpkgs' own (set HOMEY_NIXPKGS_LIB to a nixpkgs lib directory \
             to compare; nixpkgs is not part of this repository)"
        );
        return Ok(());
    };
    let mut compared = 0;
    for attr in ["hosts", "optionDocs", "refusalExpectations"] {
        let standin = if attr == "hosts" {
            Evaluation { ok: true, json: standin_hosts.clone(), stderr: String::new() }
        } else {
            eval_offline(root, attr, readme_arg, None)?
        };
        let real = eval_offline(root, attr, readme_arg, Some(&lib))?;
        if !real.ok || real.json != standin.json {
            findings.push(format!(
                "nix/tests/standin-lib.nix differs from {} in `{attr}`: {}",
                lib.display(),
                if real.ok { first_difference("", &standin.json, &real.json) } else { real.stderr }
            ));
        }
        compared += 1;
    }
    let cases: Vec<String> = eval_offline(root, "refusalExpectations", readme_arg, None)?
        .json
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for name in cases {
        let attr = format!("refusals.{name}.eval");
        let standin = eval_offline(root, &attr, readme_arg, None)?;
        let real = eval_offline(root, &attr, readme_arg, Some(&lib))?;
        // The same verdict and the same message (errors name files, which are the same on both sides).
        let same = standin.ok == real.ok && standin.json == real.json && first_error(&standin) == first_error(&real);
        if !same {
            findings.push(format!(
                "refusal {name}: the stand-in says {:?}, {} says {:?}",
                first_error(&standin),
                lib.display(),
                first_error(&real)
            ));
        }
        compared += 1;
    }
    println!("  the stand-in lib gives what {} gives: {compared} evaluations compared", lib.display());
    Ok(())
}

fn first_error(out: &Evaluation) -> String {
    if out.ok {
        return out.json.to_string();
    }
    out.stderr.lines().find(|l| l.trim_start().starts_with("error:")).unwrap_or_default().trim().to_owned()
}

/// Where two JSON values first differ, as a path and both values.
fn first_difference(path: &str, a: &serde_json::Value, b: &serde_json::Value) -> String {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let (u, v) = (x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null));
                if u != v {
                    return first_difference(&format!("{path}.{key}"), u, v);
                }
            }
            String::new()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                if u != v {
                    return first_difference(&format!("{path}[{i}]"), u, v);
                }
            }
            String::new()
        }
        _ => format!("{path}: {a} vs {b}"),
    }
}

fn analyze_security(rated: &[RatedUnit], findings: &mut Vec<String>) -> anyhow::Result<()> {
    if !have("systemd-analyze") {
        println!(
            "  SKIPPED: systemd-analyze is not installed (apt-get install systemd): {} unit(s) unrated",
            rated.len()
        );
        return Ok(());
    }
    println!("  systemd-analyze security --offline=true (limit {EXPOSURE_LIMIT:.1}, goal {EXPOSURE_GOAL:.1}):");
    for (name, unit) in rated {
        // systemd-analyze names the unit after the file, so it gets its own directory per host.
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(unit)
            .output()
            .context("running systemd-analyze")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(exposure) = overall_exposure(&stdout) else {
            findings.push(format!(
                "systemd-analyze security rated no exposure for {name} (exit {}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        };
        let verdict = if exposure > EXPOSURE_LIMIT {
            findings.push(format!("{name}: exposure {exposure:.1} is above {EXPOSURE_LIMIT:.1}"));
            "ABOVE THE LIMIT"
        } else if exposure > EXPOSURE_GOAL {
            "ok, above the goal"
        } else {
            "ok"
        };
        println!("    {exposure:>4.1}  {name}  {verdict}");
    }
    Ok(())
}

/// The number in `→ Overall exposure level for NAME: 1.1 OK 🙂`.
fn overall_exposure(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for ")?.1.split_once(": ")?.1.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: &str = "[Unit]\nDescription=x\n[Service]\n# a comment\nExecStart=/bin/true\n\
        SystemCallFilter=@system-service\nSystemCallFilter=~@privileged   @resources\nCapabilityBoundingSet=\n\
        Environment=KUMA_URL=http://127.0.0.1:3001\n[Install]\nWantedBy=multi-user.target\n";

    #[test]
    fn the_workspace_rust_version_is_read_from_its_own_table() {
        let manifest = "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.package]\nedition = \"2024\"\n\
            rust-version = \"1.86\"  # NixOS 25.05\n\n[workspace.dependencies]\nrust-version = \"9.9\"\n";
        assert_eq!(workspace_rust_version(manifest).as_deref(), Some("1.86"));
        assert_eq!(workspace_rust_version("[workspace]\n"), None);
        assert_eq!(rust_version("1.86"), Some((1, 86, 0)));
        assert_eq!(rust_version("1.85.1"), Some((1, 85, 1)));
        assert!(rust_version("1").is_none() && rust_version("1.86-beta").is_none());
    }

    #[test]
    fn packages_needing_a_newer_rustc_are_named_with_version_and_rust_version() {
        let package = |name: &str, version: &str, rust: Option<&str>| serde_json::json!({"id": format!("{name}@{version}"), "name": name, "version": version, "rust_version": rust});
        let metadata = serde_json::json!({
            "workspace_members": ["tool@0.1.0", "xtask@0.1.0", "loose@0.1.0"],
            "packages": [
                package("tool", "0.1.0", Some("1.86")),
                package("xtask", "0.1.0", Some("1.89")),
                package("loose", "0.1.0", None),
                package("old", "1.0.0", None),
                package("fine", "2.0.0", Some("1.86.0")),
                package("newer", "3.1.4", Some("1.86.1")),
            ],
        });
        let problems = rust_version_problems("1.86", &metadata).unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("workspace member xtask sets rust-version 1.89"), "{}", problems[0]);
        assert!(problems[1].starts_with("workspace member loose has no rust-version"), "{}", problems[1]);
        assert!(problems[2].starts_with("newer 3.1.4 (in Cargo.lock) has rust-version 1.86.1"), "{}", problems[2]);
    }

    #[test]
    fn section_keeps_repeated_directives_in_order_and_only_its_own() {
        let s = section(UNIT, "Service");
        assert_eq!(s["SystemCallFilter"], ["@system-service", "~@privileged @resources"]);
        assert_eq!(s["CapabilityBoundingSet"], [""]);
        assert!(!s.contains_key("WantedBy") && !s.contains_key("Description"));
    }

    #[test]
    fn required_settings_are_reported_by_name() {
        let problems = required_problems(&section(UNIT, "Service"));
        let named: Vec<&str> = problems.iter().map(|p| p.split('=').next().unwrap()).collect();
        assert_eq!(
            named,
            ["ProtectSystem", "ProtectHome", "PrivateTmp", "NoNewPrivileges", "UMask", "RestrictAddressFamilies"]
        );
    }

    #[test]
    fn secrets_in_the_environment_are_refused_but_paths_to_them_are_not() {
        let mut s = section(UNIT, "Service");
        assert!(secret_problems(&s).is_empty());
        s.insert("Environment".into(), vec!["KUMA_PASSWORD_FILE=/run/x".into(), "RESTIC_PASSWORD=hunter2".into()]);
        let problems = secret_problems(&s);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("RESTIC_PASSWORD"));
        s.remove("Environment");
        s.insert("LoadCredential".into(), vec!["a:/x".into(), "-b:/y".into()]);
        let problems = secret_problems(&s);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("LoadCredential=-b:/y"), "{problems:?}");
    }

    #[test]
    fn nix_values_render_like_nixos_and_drift_is_found() {
        let json = serde_json::json!({"k": {"SystemCallFilter": ["@system-service", "~@privileged @resources"],
            "CapabilityBoundingSet": "", "NoNewPrivileges": true, "PrivateUsers": false}});
        let want = &units_from_json(&json).unwrap()["k"];
        assert_eq!(want["NoNewPrivileges"], ["yes"]);
        assert_eq!(want["PrivateUsers"], ["no"]);
        let have = section(UNIT, "Service");
        let keys: Vec<String> = want.keys().cloned().collect();
        let keys: Vec<&String> = keys.iter().collect();
        let drifted: Vec<String> = drift(&have, want, &keys);
        assert_eq!(drifted.len(), 2, "{drifted:?}");
        assert!(drifted[0].starts_with("NoNewPrivileges=") && drifted[1].starts_with("PrivateUsers="));
    }

    #[test]
    fn only_our_tools_command_lines_are_taken_with_specifiers_expanded() {
        let unit = "[Service]\nExecStartPre=/bin/mkdir -p /x\nExecStart=/usr/local/bin/net-watchdog power-save --interface %I --off\n\
            ExecStopPost=-/usr/local/bin/attic-token netrc --token-file %d/attic-token\n";
        let lines = tool_command_lines("u", &section(unit, "Service")).unwrap();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            lines,
            [
                (
                    "u".into(),
                    "ExecStart".into(),
                    "net-watchdog".into(),
                    words(&["power-save", "--interface", "wlan0", "--off"])
                ),
                (
                    "u".into(),
                    "ExecStopPost".into(),
                    "attic-token".into(),
                    words(&["netrc", "--token-file", "/run/credentials/unit/attic-token"])
                ),
            ]
        );
    }

    #[test]
    fn nixos_quoted_words_are_unquoted_and_unescaped() {
        let line =
            r#""/nix/store/x-homey/bin/kuma-sync" "sync" "a b" "say \"hi\"" "100%%" "$$HOME" --secret-file %d/s"#;
        assert_eq!(
            exec_words(line).unwrap(),
            [
                "/nix/store/x-homey/bin/kuma-sync",
                "sync",
                "a b",
                "say \"hi\"",
                "100%",
                "$HOME",
                "--secret-file",
                "/run/credentials/unit/s"
            ]
        );
        assert!(exec_words(r#""unterminated"#).is_err());
    }

    #[test]
    fn the_readme_snippet_is_the_first_nix_block_of_the_nixos_section() {
        let readme = "```nix\nnot this\n```\n<!-- BEGIN nixos -->\ntext\n```sh\nx\n```\n```nix\n{ a = 1; }\n```\n\
            ```nix\n{ b = 2; }\n```\n<!-- END nixos -->\n";
        assert_eq!(readme_flake_snippet(readme).as_deref(), Some("{ a = 1; }\n"));
        assert_eq!(readme_flake_snippet("<!-- BEGIN nixos -->\nno block\n<!-- END nixos -->"), None);
    }

    #[test]
    fn json_becomes_toml_with_tables_after_keys() {
        let json = serde_json::json!({"repository": {"url": "x", "password_credential": "p"}, "state_dir": "/s",
            "postgres": [{"name": "a"}, {"name": "b", "run_as": null}], "tags": ["n"]});
        let want = "state_dir = \"/s\"\ntags = [\"n\"]\n\n[[postgres]]\nname = \"a\"\n\n[[postgres]]\nname = \"b\"\n\n\
            [repository]\npassword_credential = \"p\"\nurl = \"x\"\n";
        assert_eq!(json_to_toml(&json), want);
    }

    #[test]
    fn exposure_is_read_from_the_report() {
        let report = "✓ UMask=  ok\n\n→ Overall exposure level for kuma-sync.service: 1.1 OK 🙂\n";
        assert_eq!(overall_exposure(report), Some(1.1));
        assert_eq!(overall_exposure("Failed to load unit"), None);
    }
}
