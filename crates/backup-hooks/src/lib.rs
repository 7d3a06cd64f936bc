//! backup-hooks: the nightly restic backup with Nextcloud maintenance mode and database/directory dumps.
//!
//! The config is validated before anything runs; `plan` turns it into the commands of a run; `job`
//! executes them with maintenance mode turned off on every way out.

pub mod config;
pub mod dumps;
pub mod job;
pub mod ldif;
pub mod nextcloud;
pub mod plan;
pub mod report;
pub mod restic;

use homey_kit::Exit;
use homey_kit::cli::Verbosity;
use homey_kit::clock::SystemClock;
use homey_kit::process::{Cancel, SystemRunner};
use std::path::PathBuf;

#[derive(Debug, clap::Parser)]
#[command(name = "backup-hooks", version, about = "The nightly restic backup with Nextcloud maintenance mode and database/directory dumps.", after_help = homey_kit::exit::EXIT_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// The config file.
    #[arg(long, short, global = true, env = "BACKUP_HOOKS_CONFIG", default_value = config::DEFAULT_CONFIG)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The whole nightly job: dumps, restic backup, retention, check, report (ExecStart).
    Run {
        /// Print the plan (every command, secrets redacted) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Maintenance mode on and the dumps into staging (for services.restic's backupPrepareCommand).
    Pre,
    /// Maintenance mode off (confirmed) and staging emptied; idempotent, safe at any time (ExecStopPost).
    Post,
    /// `restic copy` every snapshot into the [offload] repository (created when missing).
    Offload,
    /// The last run: outcome, snapshot, bytes added, each step, the maintenance window.
    Status {
        /// Print the last run's record as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Pull a dump back out of restic into DIR; for PostgreSQL optionally restore it into a new database.
    RestoreDb {
        /// The dump's `name` in the config.
        name: String,
        /// The restic snapshot to take it from (an ID, or `latest`).
        #[arg(long, default_value = "latest")]
        snapshot: String,
        /// Where the dump file goes.
        #[arg(long)]
        to: PathBuf,
        /// PostgreSQL: create this (new) database and pg_restore the dump into it.
        #[arg(long, value_name = "SCRATCH")]
        into_database: Option<String>,
        /// Read from the [offload] repository (the local copy) instead of [repository].
        #[arg(long)]
        from_offload: bool,
    },
    /// Validate the config (keys, files, secret file modes) and exit.
    CheckConfig {
        /// Check the file alone — syntax, types, values, references between sections — not the paths,
        /// programs and secrets it names on this host (a config rendered before they exist); says what it
        /// left unchecked.
        #[arg(long)]
        file_only: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let env = |k: &str| std::env::var_os(k);
    // Before anything that could be interrupted: SIGTERM/SIGINT raise the flag instead of killing us
    // with maintenance mode on.
    let cancel = Cancel::on_signals();
    let runner = SystemRunner;
    let clock = SystemClock;
    let ctx = job::Ctx { runner: &runner, clock: &clock, cancel, env: &env };

    if let Command::Status { json } = &cli.command {
        return status(&cli, *json);
    }
    if let Command::CheckConfig { file_only: true } = &cli.command {
        let (cfg, findings) = config::load_in(&cli.config, config::Scope::FileOnly)?;
        homey_kit::outln!(
            "{}: ok as a file ({} dump(s), {} path(s), repository {})",
            cli.config.display(),
            cfg.dumps().len(),
            cfg.backup.paths.len(),
            cfg.repository.url
        )?;
        if !findings.unchecked.is_empty() {
            homey_kit::outln!("not checked (they are this host's): {}", findings.unchecked.join("; "))?;
        }
        return Ok(Exit::Ok);
    }
    if let Command::Run { dry_run: true } = &cli.command {
        return dry_run(&cli, &ctx);
    }
    let cfg = config::load(&cli.config)?;
    match &cli.command {
        Command::CheckConfig { .. } => {
            homey_kit::outln!(
                "{}: ok ({} dump(s), {} path(s), repository {})",
                cli.config.display(),
                cfg.dumps().len(),
                cfg.backup.paths.len(),
                cfg.repository.url
            )?;
            Ok(Exit::Ok)
        }
        Command::Run { dry_run: true } => unreachable!("handled above"),
        Command::Run { dry_run: false } => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks run")?;
            let version = job::restic_version(&ctx)?;
            let status = job::run(&cfg, &ctx, version);
            match status.outcome {
                report::Outcome::Success => {
                    homey_kit::notice!("backup done: {}", status.message);
                    Ok(Exit::Ok)
                }
                report::Outcome::Warning => {
                    homey_kit::warn!("backup done with warnings: {}", status.message);
                    Ok(Exit::Warnings)
                }
                report::Outcome::Failed if status.config_fault => {
                    homey_kit::fail!(Exit::Config, "backup FAILED: {}", status.message)
                }
                report::Outcome::Failed => homey_kit::fail!(Exit::Failed, "backup FAILED: {}", status.message),
            }
        }
        Command::Pre => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks pre")?;
            job::pre(&cfg, &ctx)
        }
        Command::Post => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks post")?;
            job::post(&cfg, &ctx)
        }
        Command::Offload => {
            let state = homey_kit::state::StateDir::open(&cfg.state_dir)?;
            let _lock = state.lock(job::LOCK, "backup-hooks offload")?;
            let version = job::restic_version(&ctx)?;
            job::offload(&cfg, &ctx, version)
        }
        Command::RestoreDb { name, snapshot, to, into_database, from_offload } => {
            let version = job::restic_version(&ctx)?;
            let r = job::Restore {
                name: name.clone(),
                snapshot: snapshot.clone(),
                to: to.clone(),
                into_database: into_database.clone(),
                from_offload: *from_offload,
            };
            job::restore_db(&cfg, &ctx, version, &r)
        }
        Command::Status { .. } => unreachable!("handled above"),
    }
}

/// `run --dry-run` needs only the file: the host's paths, programs and secrets may not exist yet (a config
/// checked before it is deployed). What this host lacks is said after the plan, as the real run would say it.
fn dry_run(cli: &Cli, ctx: &job::Ctx) -> anyhow::Result<Exit> {
    let (cfg, _) = config::load_in(&cli.config, config::Scope::FileOnly)?;
    let version = match job::restic_version(ctx) {
        Ok(v) => v,
        Err(e) => {
            homey_kit::warn!("{e:#}; planning for restic 0.14.0, the oldest this tool supports");
            restic::Version(0, 14, 0)
        }
    };
    let repo = match job::source_repo(&cfg, ctx) {
        Ok(r) => r,
        Err(e) => {
            homey_kit::warn!("{e:#}; the plan shows the secret as <redacted> all the same");
            restic::Repo {
                url: cfg.repository.url.clone(),
                password: homey_kit::secret::Secret::new(""),
                env: vec![],
                cache_dir: cfg.repository.cache_dir.clone(),
            }
        }
    };
    let restic = job::restic_for(&cfg, repo, version, None);
    homey_kit::out!("{}", plan::Plan::build(&cfg, &restic).render(&cfg, ctx.env))?;
    homey_kit::outln!("(dry run with restic {version}: nothing was changed)")?;
    for p in config::validate(&cfg, ctx.env) {
        homey_kit::warn!("{}: on this host the run would stop here: {p}", cli.config.display());
    }
    Ok(Exit::Ok)
}

/// `status` reads only the state dir, so it works even when the rest of the config no longer validates.
fn status(cli: &Cli, json: bool) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(&cli.config)
        .map_err(|e| homey_kit::exit::coded(Exit::Config, anyhow::anyhow!("{}: {e}", cli.config.display())))?;
    let cfg = config::parse(&cli.config, &text)?;
    match report::Status::load(&cfg.state_dir)? {
        None => {
            if json {
                homey_kit::outln!("null")?;
            } else {
                homey_kit::outln!("no run recorded yet in {}", cfg.state_dir.display())?;
            }
            Ok(Exit::Ok)
        }
        Some(s) => {
            if json {
                homey_kit::outln!("{}", serde_json::to_string_pretty(&s)?)?;
            } else {
                homey_kit::out!("{}", s.render())?;
            }
            Ok(s.outcome.exit())
        }
    }
}
