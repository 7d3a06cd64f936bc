//! kuma-sync: make Uptime Kuma's monitors match a declared list, over its socket.io API; hash-gated.
//!
//! `monitors` reads and checks the file (offline), `plan` compares it with the server (pure),
//! `socketio`/`session` talk to the server, `sync` carries the plan out. This file is the CLI.

pub mod docker_hosts;
pub mod export;
pub mod help;
pub mod maintenance;
pub mod monitors;
pub mod notifications;
pub mod owner;
pub mod plan;
pub mod session;
pub mod socketio;
pub mod status_pages;
pub mod sync;

pub use help::MANUAL;

use homey_kit::cli::Verbosity;
use homey_kit::clock::{Clock, SystemClock};
use homey_kit::secret::Source;
use homey_kit::state::StateDir;
use homey_kit::{Exit, ResultExt};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Parser)]
#[command(
    name = "kuma-sync",
    version,
    about = "Make Uptime Kuma match a declared file (monitors, notifications, status pages, docker hosts), over its socket.io API; hash-gated."
)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make the server's monitors match the file (skipped when the file has not changed since the
    /// last fully successful sync).
    Sync(SyncArgs),
    /// Read-only: connect, compare, print what `sync` would do.
    Plan(PlanArgs),
    /// Read-only: write the server's monitors, notifications, docker hosts, status pages and maintenance as a file `sync` accepts
    /// (secrets as named credentials), to adopt an existing installation in one step.
    Export(ExportArgs),
    /// Offline checks of a monitors file.
    Validate {
        /// The monitors file (JSON).
        file: PathBuf,
    },
}

/// How to reach and log in to Uptime Kuma.
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// Uptime Kuma's URL.
    #[arg(long, env = "KUMA_URL", default_value = "http://127.0.0.1:3001")]
    pub url: String,
    /// The admin user to log in as.
    #[arg(long, env = "KUMA_USERNAME")]
    pub username: Option<String>,
    /// A file holding the password (else $KUMA_PASSWORD_FILE, else the credential `kuma-password`:
    /// $CREDENTIALS_DIRECTORY/kuma-password under systemd, /etc/homey/credentials/kuma-password by hand).
    /// Never on the command line.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// How long to keep retrying while the server starts (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub wait: u64,
    /// How long to wait for each acknowledgement from the server (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub ack_timeout: u64,
}

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The monitors file (a JSON array of monitors, or {"monitors": [...], "notifications": [...],
    /// "status_pages": [...], "maintenance": [...], "docker_hosts": [...]}).
    #[arg(long, value_name = "FILE")]
    pub monitors: PathBuf,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep monitors and notifications of ours that are no longer declared (and report them).
    #[arg(long)]
    pub no_prune: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Write the file here (atomically) instead of to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write each secret the file names by credential (push tokens, notification tokens and webhook URLs)
    /// into DIR/NAME, mode 0600, so CREDENTIALS_DIRECTORY=DIR (or LoadCredential=) makes the next sync
    /// find them. Without it only their names are listed.
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where the hash of the last successful sync is kept (else $STATE_DIRECTORY, else /var/lib/kuma-sync,
    /// as the unit's StateDirectory=). --dry-run never creates it.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Sync even when the file has not changed since the last successful sync.
    #[arg(long)]
    pub force: bool,
    /// Connect and compare, print what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// On a fresh server, create the admin account from the given credentials first.
    #[arg(long)]
    pub setup: bool,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    run_with(cli, &SystemClock, &mut std::io::stdout().lock())
}

pub fn run_with(cli: Cli, clock: &dyn Clock, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate { file } => validate(&file, out),
        Command::Plan(p) => sync(&p.server, None, clock, out),
        Command::Sync(s) => sync(&s.server, Some(&s), clock, out),
        Command::Export(e) => export(&e, clock, out),
    }
}

fn validate(file: &Path, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let d = monitors::load(file)?;
    let groups = d.monitors.iter().filter(|m| m.kind == monitors::Kind::Group).count();
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts =
        vec![format!("{} ({})", plural(d.monitors.len(), "monitor", "monitors"), plural(groups, "group", "groups"))];
    for (n, one, many) in [
        (d.notifications.len(), "notification", "notifications"),
        (d.status_pages.len(), "status page", "status pages"),
        (d.docker_hosts.len(), "docker host", "docker hosts"),
        (d.maintenance.len(), "maintenance window", "maintenance windows"),
    ] {
        if n > 0 {
            parts.push(plural(n, one, many));
        }
    }
    writeln!(out, "{}: {} OK", file.display(), parts.join(", "))?;
    Ok(Exit::Ok)
}

/// How often a connection lost mid-sync is re-established before giving up.
const MAX_RECONNECTS: u32 = 3;

/// The hash gate's digest: the normalised declarations, the server, the mapping.
pub fn digest(declared: &monitors::Declared, url: &str) -> String {
    homey_kit::state::digest(&[
        &monitors::canonical(&declared.monitors),
        &notifications::canonical(&declared.notifications),
        &serde_json::to_vec(&declared.docker_hosts).expect("docker hosts serialise"),
        &serde_json::to_vec(&declared.status_pages).expect("status pages serialise"),
        &serde_json::to_vec(&declared.maintenance).expect("maintenance serialises"),
        url.trim_end_matches('/').as_bytes(),
        plan::MAPPING_VERSION.as_bytes(),
    ])
}

/// The server's state, with the groups of the status pages the file declares.
fn read_server(session: &mut session::Session, declared: &monitors::Declared) -> anyhow::Result<plan::Server> {
    let mut server = session.read_server()?;
    for page in server.status_pages.iter_mut().filter(|p| declared.status_pages.iter().any(|d| d.slug == p.slug)) {
        page.groups = Some(session.status_page_groups(&page.slug)?);
    }
    for w in server.maintenance.iter_mut() {
        let Some(d) = declared.maintenance.iter().find(|d| d.title == w.title()) else { continue };
        w.monitors = Some(session.maintenance_monitors(w.id)?);
        // Only a file that manages a window's pages needs them: an absent key leaves them alone.
        if d.status_pages.is_some() {
            w.status_pages = Some(session.maintenance_status_pages(w.id)?);
        }
    }
    Ok(server)
}

/// The user and password to log in with.
fn login_of(c: &ConnArgs) -> anyhow::Result<(String, homey_kit::secret::Secret)> {
    let username = c.username.clone().filter(|u| !u.is_empty()).ok_or_else(|| {
        homey_kit::exit::coded(Exit::Config, anyhow::anyhow!("no username: pass --username or set KUMA_USERNAME"))
    })?;
    let password = Source::credential("kuma-password")
        .env_file_var("KUMA_PASSWORD_FILE")
        .file("--password-file", c.password_file.clone())
        .load()
        .exit_code(Exit::Config)?;
    Ok((username, password))
}

/// `export`: read the server, write the file (and the secrets, when asked where).
fn export(e: &ExportArgs, clock: &dyn Clock, out: &mut dyn Write) -> anyhow::Result<Exit> {
    // Check where things go before connecting, so nothing is read for nothing.
    for dir in e.out.iter().filter_map(|p| p.parent()).chain(e.secrets_dir.as_deref()) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            homey_kit::fail!(Exit::Config, "{}: no such directory", dir.display());
        }
    }
    let (username, password) = login_of(&e.conn)?;
    let opts = session::Options {
        url: &e.conn.url,
        username: &username,
        password: &password,
        setup: false,
        wait: Duration::from_secs(e.conn.wait),
        ack_timeout: Duration::from_secs(e.conn.ack_timeout.max(1)),
        stop: None,
    };
    let mut session = session::Session::open(&opts, clock)?;
    let mut server = session.read_server()?;
    for page in &mut server.status_pages {
        page.groups = Some(session.status_page_groups(&page.slug)?);
    }
    for w in &mut server.maintenance {
        w.monitors = Some(session.maintenance_monitors(w.id)?);
        w.status_pages = Some(session.maintenance_status_pages(w.id)?);
    }
    session.close();
    let exported = export::export(&server);
    for s in &exported.skipped {
        homey_kit::warn!("left out: {s}");
    }
    let text = format!("{}\n", serde_json::to_string_pretty(&exported.doc)?);
    if let Some(dir) = &e.secrets_dir {
        for (name, value) in &exported.secrets {
            homey_kit::fs::write_atomic(&dir.join(name), value.as_bytes(), 0o600)?;
        }
    }
    match &e.out {
        Some(path) => {
            homey_kit::fs::write_atomic(path, text.as_bytes(), 0o644)?;
            homey_kit::info!("{}: written", path.display());
        }
        None => out.write_all(text.as_bytes())?,
    }
    if !exported.secrets.is_empty() {
        let names: Vec<&str> = exported.secrets.keys().map(String::as_str).collect();
        match &e.secrets_dir {
            Some(dir) => {
                homey_kit::info!(
                    "{} written to {} (0600): {}",
                    homey_kit::units::count(names.len(), "secret", "secrets"),
                    dir.display(),
                    names.join(", ")
                )
            }
            None => homey_kit::notice!(
                "the file names {} that sync will need ($CREDENTIALS_DIRECTORY/NAME, or /etc/homey/credentials/NAME by hand): {}; --secrets-dir DIR writes them",
                homey_kit::units::count(names.len(), "credential", "credentials"),
                names.join(", ")
            ),
        }
    }
    Ok(Exit::Ok)
}

/// `plan` (args `None`), `sync --dry-run` and `sync`.
fn sync(s: &ServerArgs, args: Option<&SyncArgs>, clock: &dyn Clock, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let file = s.monitors.display().to_string();
    let mut declared = monitors::load(&s.monitors)?;
    let load_credential = |name: &str| -> anyhow::Result<String> {
        let secret = Source::credential(name).load().exit_code(Exit::Config)?;
        Ok(secret.expose_str()?.to_owned())
    };
    monitors::resolve_credentials(&file, &mut declared.monitors, &load_credential)?;
    notifications::resolve_credentials(&file, &mut declared.notifications, &load_credential)?;
    let writing = args.is_some_and(|a| !a.dry_run);
    let digest = digest(&declared, &s.conn.url);
    let mut gate = None;
    let mut _lock = None;
    if let Some(a) = args.filter(|_| writing) {
        let state = StateDir::resolve("kuma-sync", a.state_dir.as_deref())?;
        _lock = Some(state.lock("kuma-sync", "kuma-sync sync")?);
        let g = state.gate("kuma-sync");
        if !a.force && g.unchanged(&digest) {
            homey_kit::info!(
                "{file}: unchanged since the last successful sync; nothing to do (--force to compare anyway)"
            );
            if s.json {
                writeln!(out, "{}", json!({"skipped": true, "reason": "unchanged since the last successful sync"}))?;
            }
            return Ok(Exit::Ok);
        }
        gate = Some(g);
    }
    let (username, password) = login_of(&s.conn)?;
    // Stop between writes on SIGTERM/SIGINT, and say what was done, instead of dying mid-write.
    let cancel = writing.then(homey_kit::process::Cancel::on_signals);
    let opts = session::Options {
        url: &s.conn.url,
        username: &username,
        password: &password,
        setup: args.is_some_and(|a| a.setup && writing),
        wait: Duration::from_secs(s.conn.wait),
        ack_timeout: Duration::from_secs(s.conn.ack_timeout.max(1)),
        stop: cancel.as_ref(),
    };
    let mut session = session::Session::open(&opts, clock)?;
    let server = read_server(&mut session, &declared)?;
    homey_kit::debug!("Uptime Kuma {} ({} monitors)", server.version, server.monitors.len());
    let plan = plan::plan(&file, &declared, &server, !s.no_prune).map_err(monitors::BadInput::into_anyhow)?;
    for w in &plan.warnings {
        homey_kit::warn!("{w}");
    }

    if !writing {
        session.close();
        if s.json {
            writeln!(out, "{}", serde_json::to_string(&json!({"dry_run": true, "plan": plan}))?)?;
        } else {
            for l in plan.lines() {
                writeln!(out, "{l}")?;
            }
        }
        return Ok(Exit::Ok);
    }

    let json_mode = s.json;
    let stop = || cancel.as_ref().is_some_and(|c| c.is_cancelled());
    let first = plan.clone();
    let (mut server, mut plan) = (server, plan);
    let mut done: Vec<String> = vec![];
    let mut writes = 0;
    let mut reconnects = 0;
    // Why reconnecting failed decides the exit code: gone for --wait is 69, a refused login its own code.
    let mut lost_exit = Exit::TryAgain;
    // A dropped connection is reconnected (within --wait, a few times) and the job finished from a fresh
    // comparison: what was written already is ours and right, so it is not written again.
    let (failures, lost) = loop {
        let result = sync::execute(&mut session, &plan, &declared.monitors, &server, &stop, |line| {
            if !json_mode {
                let _ = writeln!(out, "{line}");
            }
        });
        let interrupted = match result {
            Ok(o) => {
                done.extend(o.done);
                writes += o.writes;
                session.close();
                break (o.failures, None);
            }
            Err(i) => i,
        };
        done.extend(interrupted.outcome.done);
        writes += interrupted.outcome.writes;
        let error = interrupted.error;
        if matches!(error, socketio::SockError::Stopped) || reconnects >= MAX_RECONNECTS {
            break (interrupted.outcome.failures, Some(error));
        }
        reconnects += 1;
        homey_kit::warn!(
            "the connection to Uptime Kuma was lost after {writes} writes ({error}); reconnecting to finish"
        );
        let reopened = session::Session::open(&opts, clock).and_then(|mut sess| {
            let sv = read_server(&mut sess, &declared)?;
            Ok((sess, sv))
        });
        match reopened {
            Ok((sess, sv)) => {
                plan = plan::plan(&file, &declared, &sv, !s.no_prune).map_err(monitors::BadInput::into_anyhow)?;
                session = sess;
                server = sv;
            }
            Err(e) => {
                lost_exit = Exit::of(&e);
                let why = socketio::SockError::Closed(format!("{error}; reconnecting failed: {e:#}"));
                break (interrupted.outcome.failures, Some(why));
            }
        }
    };
    let plan = first;
    let outcome = sync::Outcome { done, failures, writes };
    let kept = plan.kept();
    let success = lost.is_none() && outcome.failures.is_empty();
    if reconnects > 0 && lost.is_none() {
        homey_kit::notice!(
            "finished after {}",
            homey_kit::units::count(reconnects as usize, "reconnect", "reconnects")
        );
    }
    // Monitors of ours left in place by --no-prune mean the server is not what the file says: the next
    // plain sync must compare again (and prune), not skip as "unchanged".
    let store = success && kept.is_empty();
    if store {
        if let Some(g) = &gate {
            g.store(&digest)?;
        }
    } else if success {
        homey_kit::notice!(
            "{} of ours kept (--no-prune): the hash is not stored, so the next sync compares again",
            homey_kit::units::count(kept.len(), "undeclared item", "undeclared items")
        );
    }
    if json_mode {
        let doc = json!({
            "server_version": plan.server_version,
            "changes": plan.actions,
            "notification_changes": plan.notifications,
            "docker_host_changes": plan.docker_hosts,
            "status_page_changes": plan.status_pages,
            "maintenance_changes": plan.maintenance,
            "new_tags": plan.new_tags,
            "unchanged": plan.unchanged,
            "done": outcome.done,
            "failures": outcome.failures,
            "writes": outcome.writes,
            "connection_lost": lost.as_ref().map(|e| e.to_string()),
            "hash_stored": store,
        });
        writeln!(out, "{}", serde_json::to_string(&doc)?)?;
    } else {
        for k in &kept {
            writeln!(out, "{k}")?;
        }
        writeln!(out, "= {} unchanged", plan.unchanged)?;
    }
    homey_kit::debug!("{} writes", outcome.writes);
    if let Some(e) = lost {
        if matches!(e, socketio::SockError::Stopped) {
            homey_kit::fail!(
                Exit::TryAgain,
                "stopped by a signal part-way ({} changes done, {} writes); every monitor written is marked as ours, the hash is not stored, the next run finishes the job",
                outcome.done.len(),
                outcome.writes
            );
        }
        homey_kit::fail!(
            lost_exit,
            "the connection to Uptime Kuma was lost part-way ({} done, {}, {}): {e}; the hash is not stored, the next run finishes the job",
            homey_kit::units::count(outcome.done.len(), "change", "changes"),
            homey_kit::units::count(outcome.writes, "write", "writes"),
            homey_kit::units::count(reconnects as usize, "reconnect", "reconnects")
        );
    }
    if !outcome.failures.is_empty() {
        homey_kit::error!(
            "{} of {} changes failed ({}); the hash is not stored, so the next run tries again",
            outcome.failures.len(),
            plan.actions.len() + plan.notifications.len() - kept.len() + plan.new_tags.len(),
            outcome.failures.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        return Ok(Exit::Failed);
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_kind_the_file_declares() {
        let base = r#"{"monitors": [{"name": "A", "url": "https://a.example.com"}],
            "notifications": [{"name": "n", "type": "ntfy", "settings": {"ntfytopic": "t"}}],
            "docker_hosts": [{"name": "d", "type": "socket", "daemon": "/run/podman/podman.sock"}]}"#;
        let d = |text: &str| digest(&monitors::parse_file("m", text).unwrap(), "http://127.0.0.1:3001");
        let first = d(base);
        for (from, to) in
            [("https://a.example.com", "https://b.example.com"), ("\"t\"", "\"u\""), ("podman.sock", "docker.sock")]
        {
            assert_ne!(d(&base.replace(from, to)), first, "{from} → {to}");
        }
        // A window's status pages: absent (left alone) and empty (cleared) are different files.
        let window =
            |pages: &str| d(&base.replacen('{', &format!(r#"{{"maintenance": [{{"title": "w"{pages}}}],"#), 1));
        let (absent, empty, home) =
            (window(""), window(r#", "status_pages": []"#), window(r#", "status_pages": ["home"]"#));
        assert!(absent != empty && empty != home && absent != home);
        let mut with_secret = monitors::parse_file("m", base).unwrap();
        let plain = digest(&with_secret, "u");
        with_secret.notifications[0].resolved.insert("ntfyaccesstoken".into(), "tk".into());
        assert_ne!(digest(&with_secret, "u"), plain, "a rotated secret is a change");
    }
}
