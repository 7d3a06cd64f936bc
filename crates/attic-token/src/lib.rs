//! attic-token: Attic tokens minted natively (byte-compatible with atticadm), the runtime server config, the Nix netrc.
//!
//! The pure parts (claims, the token reader, the config checks, the netrc merge, the words) live in
//! their modules; this file reads the inputs, calls them, and writes the outputs.

pub mod config;
pub mod help;
pub mod keys;
pub mod netrc;
pub mod token;
pub mod validity;
pub mod words;

use anyhow::Context;
use homey_kit::cli::Verbosity;
use homey_kit::clock::{Clock, SystemClock};
use homey_kit::process::{Cmd, Runner, SystemRunner};
use homey_kit::secret::{Readable, Secret, Source};
use homey_kit::{Exit, ResultExt, fail};
use keys::{Key, Kind};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The systemd credential the secret is read from when no flag or variable names one.
pub const CREDENTIAL: &str = "attic-token-secret";

pub use help::MANUAL;

#[derive(Debug, clap::Parser)]
#[command(
    name = "attic-token",
    version,
    about = "Attic tokens minted natively (byte-compatible with atticadm), the runtime server config, the Nix netrc."
)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Mint a token, as `atticadm make-token` does, byte for byte.
    Mint(MintArgs),
    /// Show a token's header, claims, permissions and expiry; with a key, check its signature.
    Inspect(InspectArgs),
    /// Ask an Attic server whether a token works for a cache.
    Check(CheckArgs),
    /// Render atticd's runtime config from a template, with the signing key under [jwt.signing].
    RenderConfig(RenderArgs),
    /// Add or replace one host's entry in a netrc file (for the Nix daemon).
    Netrc(NetrcArgs),
    /// Make a new signing secret in the base64 form Attic reads.
    Keygen(KeygenArgs),
}

fn pattern(s: &str) -> Result<String, String> {
    token::check_pattern(s).map(|()| s.to_owned())
}

#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// The token's subject: who or what it is for (written as the `sub` claim).
    #[arg(long)]
    pub sub: String,
    /// How long it is valid, in atticadm's syntax: `3 months`, `1y`, `90d`, `12h` (m = minutes, M = months).
    #[arg(long, value_parser = validity::parse_validity)]
    pub validity: validity::Validity,
    /// A cache the token may pull from (repeatable; `*` is a wildcard: `team-*`).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub pull: Vec<String>,
    /// A cache the token may push to (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub push: Vec<String>,
    /// A cache the token may delete store paths from (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub delete: Vec<String>,
    /// A cache the token may create (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub create_cache: Vec<String>,
    /// A cache the token may reconfigure (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub configure_cache: Vec<String>,
    /// A cache the token may set retention and quota for (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub configure_cache_retention: Vec<String>,
    /// A cache the token may destroy (repeatable; `*` is a wildcard).
    #[arg(long, value_name = "PATTERN", value_parser = pattern)]
    pub destroy_cache: Vec<String>,
    /// File with the signing secret (mode 0600 or stricter), base64 as Attic reads it: an HS256 secret or an
    /// RS256 PEM key, bare or as an EnvironmentFile line. Without it: --config's [jwt.signing], then
    /// $ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64, …_RS256_SECRET_BASE64, …_HS256_SECRET_BASE64, then the
    /// credential attic-token-secret.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// atticd's server.toml: its [jwt.signing] key, token-bound-issuer and token-bound-audiences.
    #[arg(long, value_name = "SERVER_TOML")]
    pub config: Option<PathBuf>,
    /// The issuer to bind the token to (overrides the config's token-bound-issuer).
    #[arg(long)]
    pub issuer: Option<String>,
    /// An audience to bind the token to (repeatable; overrides the config's token-bound-audiences).
    #[arg(long)]
    pub audience: Vec<String>,
    /// Print the claims (unsigned JSON) instead of the token.
    #[arg(long)]
    pub dump_claims: bool,
    /// Write the token to FILE (mode 0600, atomically) instead of stdout; its directory must exist.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Mint as if it were this Unix time (to reproduce a token).
    #[arg(long, hide = true, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The token, or `-` to read it from stdin (a token on the command line is visible to other users:
    /// prefer `-` or --token-file).
    #[arg(required_unless_present = "token_file", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// Read the token from this file (one line; not readable by other users).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Check the signature with this key (base64 as Attic reads it; an RS256 public key will do).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Judge the expiry as at this Unix time (to test a token for later).
    #[arg(long, hide = true, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The server's API endpoint, e.g. https://attic.example.com/
    #[arg(long)]
    pub endpoint: String,
    /// The cache to ask about.
    #[arg(long)]
    pub cache: String,
    /// File holding the token (one line; not readable by other users).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// Give up on the server after this long (30s, 1m).
    #[arg(long, default_value = "15s", value_parser = homey_kit::units::parse_duration)]
    pub timeout: Duration,
    /// Judge the token's expiry as at this Unix time.
    #[arg(long, hide = true, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The server.toml template (no secret in it; it may live in the Nix store).
    #[arg(long, value_name = "SERVER_TOML")]
    pub template: PathBuf,
    /// Where to write the runtime config, e.g. /run/homey-attic/attic-config.toml; its directory must exist
    /// (RuntimeDirectory= in the unit).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// File with the signing key (mode 0600 or stricter), base64 as Attic reads it. Without it: the
    /// environment variables atticd reads, then the credential attic-token-secret.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Permission bits of the output, in octal: 0600, or 0640 for a group atticd is in. Bits for other
    /// users are refused: the file holds the signing key.
    #[arg(long, default_value = "0600", value_parser = octal_mode)]
    pub mode: u32,
}

fn octal_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("{s:?}: expected permission bits in octal, like 0600 or 0640")),
    }
}

#[derive(Debug, clap::Args)]
pub struct NetrcArgs {
    /// The cache's host name, without scheme or port (attic.example.com).
    #[arg(long)]
    pub host: String,
    /// File holding the token (the password of the entry; not readable by other users).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// The netrc file to update (created if missing; its directory must exist), e.g. the one nix.conf's
    /// netrc-file names. Written 0600, atomically.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The entry's login; Attic ignores it, but some curl versions break on entries without one.
    #[arg(long, default_value = "attic")]
    pub login: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret (atticd signs and verifies with it).
    Hs256,
    /// RSA-SHA256: atticd signs with the private key; a verify-only atticd can hold the public key.
    Rs256,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// hs256: a 64-byte random HMAC secret; rs256: an RSA private key made by openssl (PKCS#1 PEM).
    #[arg(long, value_enum)]
    pub algorithm: Algorithm,
    /// Where to write the secret (mode 0600, atomically); its directory must exist.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// RSA key size for rs256, 2048 to 4096 bits: neither ring nor atticd's JWT library uses larger keys.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(2048..=4096))]
    pub bits: u32,
    /// Write `ATTIC_SERVER_TOKEN_…_BASE64="…"`, for an atticd EnvironmentFile, instead of the bare base64.
    #[arg(long)]
    pub env_file: bool,
    /// Replace an existing file (every token signed with the old secret stops working).
    #[arg(long)]
    pub force: bool,
}

/// What the commands reach outside themselves: time, child processes, the environment.
pub struct World<'a> {
    pub clock: &'a dyn Clock,
    pub runner: &'a dyn Runner,
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let env = |k: &str| std::env::var_os(k);
    run_in(cli, &World { clock: &SystemClock, runner: &SystemRunner, env: &env })
}

pub fn run_in(cli: Cli, world: &World) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Mint(a) => mint(a, world),
        Command::Inspect(a) => inspect(a, world),
        Command::Check(a) => check(a, world),
        Command::RenderConfig(a) => render_config(a, world),
        Command::Netrc(a) => netrc_cmd(a),
        Command::Keygen(a) => keygen(a, world),
    }
}

fn now(flag: Option<i64>, world: &World) -> i64 {
    flag.unwrap_or_else(|| world.clock.unix() as i64)
}

/// Read, parse and check a server config; any problem is a config error naming the file.
fn load_server_config(path: &Path, world: &World) -> anyhow::Result<toml_edit::DocumentMut> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("server config {}", path.display()))
        .exit_code(Exit::Config)?;
    let doc = config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())).exit_code(Exit::Config)?;
    let findings = config::check(&doc, world.env);
    for w in &findings.warnings {
        homey_kit::warn!("{}: {w}", path.display());
    }
    match findings.problems.len() {
        0 => Ok(doc),
        1 => fail!(Exit::Config, "{}: {}", path.display(), findings.problems[0]),
        n => fail!(Exit::Config, "{}: {n} problems: {}", path.display(), findings.problems.join("; ")),
    }
}

fn key_from(secret: &Secret, kind: Option<Kind>, source: &str) -> anyhow::Result<Key> {
    Key::from_base64(secret.expose(), kind).map_err(|e| anyhow::anyhow!("{source}: {e}")).exit_code(Exit::Config)
}

/// The signing key, from the first place that has one: the flag's file, the server config's
/// [jwt.signing], `$ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64`, `$ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64`,
/// the credential. Returns `None` when none has one.
fn find_key(
    secret_file: Option<&Path>,
    from_config: Option<(&Path, Kind, &Secret)>,
    world: &World,
) -> anyhow::Result<Option<(Key, String)>> {
    let found = find_key_unchecked(secret_file, from_config, world)?;
    if let Some((key, source)) = &found {
        if let Some(why) = key.weakness() {
            homey_kit::warn!("{source}: {why}");
        }
    }
    Ok(found)
}

fn find_key_unchecked(
    secret_file: Option<&Path>,
    from_config: Option<(&Path, Kind, &Secret)>,
    world: &World,
) -> anyhow::Result<Option<(Key, String)>> {
    if let Some(f) = secret_file {
        let s = Secret::from_file(f, Readable::OwnerOnly)?;
        let source = format!("secret file {}", f.display());
        return Ok(Some((key_from(&s, None, &source)?, source)));
    }
    if let Some((path, kind, s)) = from_config {
        let source = format!("server config {}: [jwt.signing] {}", path.display(), kind.config_key());
        return Ok(Some((key_from(s, Some(kind), &source)?, source)));
    }
    // atticd's own order (load_jwt_signing_config_from_env): the public key first. An atticd started with
    // it verifies only with it, whatever secret is also set.
    for kind in [Kind::Rs256Pubkey, Kind::Rs256Secret, Kind::Hs256Secret] {
        if let Some(v) = (world.env)(kind.env_var()).filter(|v| !v.is_empty()) {
            let source = format!("${}", kind.env_var());
            let s = Secret::new(v.into_encoded_bytes());
            return Ok(Some((key_from(&s, Some(kind), &source)?, source)));
        }
    }
    let by_hand = homey_kit::secret::fallback_dir_from(world.env);
    if let Some(s) = Source::credential(CREDENTIAL).fallback_dir(by_hand).try_load_with(world.env)? {
        let source = format!("credential {CREDENTIAL}");
        return Ok(Some((key_from(&s, None, &source)?, source)));
    }
    Ok(None)
}

/// Every place a signing key could have come from, in the order they are tried.
fn no_key(world: &World) -> String {
    format!(
        "no signing key: pass --secret-file, or set $ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64 or \
         $ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64, or provide the credential {CREDENTIAL} \
         ($CREDENTIALS_DIRECTORY/{CREDENTIAL} under systemd, {} by hand)",
        homey_kit::secret::fallback_dir_from(world.env).join(CREDENTIAL).display()
    )
}

fn mint(a: MintArgs, world: &World) -> anyhow::Result<Exit> {
    if let Some(out) = &a.out {
        homey_kit::fs::check_parent(out)?;
    }
    let doc = a.config.as_deref().map(|p| load_server_config(p, world)).transpose()?;
    let settings = doc.as_ref().map(config::token_settings).unwrap_or_default();
    let caches = token::Caches::from_flags([
        &a.pull,
        &a.push,
        &a.delete,
        &a.create_cache,
        &a.configure_cache,
        &a.configure_cache_retention,
        &a.destroy_cache,
    ])
    .map_err(anyhow::Error::msg)
    .exit_code(Exit::Usage)?;
    let req = token::MintRequest {
        sub: a.sub,
        validity_secs: a.validity.secs,
        now: now(a.now, world),
        issuer: a.issuer.or(settings.issuer),
        audiences: if a.audience.is_empty() { settings.audiences } else { a.audience },
        caches,
    };
    let wanted = req.now.saturating_add(i64::try_from(req.validity_secs).unwrap_or(i64::MAX));
    if wanted > token::ATTICADM_LAST_SECOND {
        fail!(
            Exit::Usage,
            "--validity {}: the expiry would fall after the year 262142, which atticadm cannot compute either (it refuses with \"Expiry timestamp overflowed\")",
            a.validity.text
        );
    }
    let claims = req.claims();
    if wanted > token::TIMESTAMP_CAP {
        homey_kit::warn!(
            "--validity {}: the expiry is past {}, the latest time atticd can hold; exp is {} as atticadm writes it",
            a.validity.text,
            words::utc(token::TIMESTAMP_CAP),
            token::TIMESTAMP_CAP
        );
    }
    if a.dump_claims {
        homey_kit::outln!("{}", claims.to_json())?;
        return Ok(Exit::Ok);
    }
    let config_key = match (&a.config, &settings.signing) {
        (Some(p), Some((kind, s))) => Some((p.as_path(), *kind, s)),
        _ => None,
    };
    let Some((key, source)) = find_key(a.secret_file.as_deref(), config_key, world)? else {
        fail!(Exit::Config, "{}", no_key(world));
    };
    if !key.can_sign() {
        fail!(
            Exit::Config,
            "{source}: an RS256 public key verifies tokens but cannot sign them; atticd given this key uses it (before any \
             RS256 or HS256 secret) and refuses tokens signed otherwise, and atticadm refuses to mint here too; pass the \
             matching private key with --secret-file"
        );
    }
    let input = token::signing_input(key.alg(), &claims);
    let sig = key.sign(input.as_bytes()).map_err(|e| anyhow::anyhow!("{source}: {e}")).exit_code(Exit::Config)?;
    let jwt = token::assemble(&input, &sig);
    match &a.out {
        Some(out) => homey_kit::fs::write_atomic(out, jwt.as_bytes(), 0o600)?,
        None => homey_kit::outln!("{jwt}")?,
    }
    let grants: Vec<String> =
        claims.caches.0.iter().map(|(p, perms)| format!("{p} ({})", perms.words().join(", "))).collect();
    homey_kit::info!(
        "minted an {} token for {:?}, valid until {} (key from {source}); caches: {}{}",
        key.alg().name(),
        req.sub,
        words::utc(claims.exp.unwrap_or(token::TIMESTAMP_CAP)),
        if grants.is_empty() { "none".into() } else { grants.join(", ") },
        match &a.out {
            Some(out) => format!("; written to {} (mode 0600)", out.display()),
            None => String::new(),
        }
    );
    Ok(Exit::Ok)
}

fn read_token_arg(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading the token from stdin")?;
        return Ok(s.trim().to_owned());
    }
    Ok(arg.trim().to_owned())
}

/// The verdict on a token as `inspect` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signature {
    Valid,
    Invalid,
    Unchecked,
}

fn inspect(a: InspectArgs, world: &World) -> anyhow::Result<Exit> {
    let token_text = match (&a.token, &a.token_file) {
        (_, Some(f)) => {
            let raw = read_private_file(f, "token file")?;
            raw.expose_str().map(|t| t.trim().to_owned()).unwrap_or_default()
        }
        (Some(t), None) => read_token_arg(t)?,
        (None, None) => fail!(Exit::Usage, "give the token, - to read it from stdin, or --token-file"),
    };
    let now = now(a.now, world);
    let key = match &a.secret_file {
        Some(f) => {
            let s = Secret::from_file(f, Readable::OwnerOnly)?;
            Some(key_from(&s, None, &format!("secret file {}", f.display()))?)
        }
        None => None,
    };
    let parsed = match token::parse(&token_text) {
        Ok(p) => p,
        Err(e) => {
            if a.json {
                homey_kit::outln!("{}", serde_json::json!({"valid": false, "problems": [e.0]}))?;
            } else {
                homey_kit::outln!("INVALID: {e}")?;
            }
            return Ok(Exit::Failed);
        }
    };
    let sig = match &key {
        None => Signature::Unchecked,
        Some(k) if k.verify(parsed.alg, parsed.signing_input.as_bytes(), &parsed.signature) => Signature::Valid,
        Some(_) => Signature::Invalid,
    };
    let time = token::time_status(&parsed.claims, now);
    let mut problems = vec![];
    if sig == Signature::Invalid {
        let k = key.as_ref().expect("checked with a key");
        problems.push(if k.alg() != parsed.alg {
            format!("the token says {} but the key is {}: atticd refuses it", parsed.alg.name(), k.alg().name())
        } else {
            "the signature does not hold for this key (tampered, or signed with another key)".to_owned()
        });
    }
    if time != token::TimeStatus::Valid {
        problems.push(words::validity(&parsed, now));
    }
    let c = &parsed.claims;
    if a.json {
        let caches: Vec<serde_json::Value> = c
            .caches
            .0
            .iter()
            .map(|(p, perms)| serde_json::json!({"pattern": p, "permissions": perms.words()}))
            .collect();
        let out = serde_json::json!({
            "valid": problems.is_empty(),
            "problems": problems,
            "header": serde_json::from_str::<serde_json::Value>(&parsed.header_json)?,
            "claims": serde_json::from_str::<serde_json::Value>(&parsed.claims_json)?,
            "algorithm": parsed.alg.name(),
            "subject": c.sub,
            "issuer": c.iss,
            "audiences": c.aud,
            "not_before": c.nbf,
            "expires": c.exp,
            "expires_utc": c.exp.map(words::utc),
            "notes": parsed.notes,
            "time": match time { token::TimeStatus::Valid => "valid", token::TimeStatus::Expired => "expired", token::TimeStatus::NotYetValid => "not yet valid" },
            "signature": match sig { Signature::Valid => "valid", Signature::Invalid => "invalid", Signature::Unchecked => "unchecked" },
            "caches": caches,
        });
        homey_kit::outln!("{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        let mut lines = vec![
            format!("header     {}", parsed.header_json),
            format!("claims     {}", parsed.claims_json),
            format!("subject    {}", c.sub.as_deref().unwrap_or("(none)")),
        ];
        if let Some(iss) = &c.iss {
            lines.push(format!("issuer     {iss}"));
        }
        if !c.aud.is_empty() {
            lines.push(format!("audiences  {}", c.aud.join(", ")));
        }
        if let Some(nbf) = c.nbf {
            lines.push(format!("not before {}", words::utc(nbf)));
        }
        lines.push(format!("expiry     {}", words::validity(&parsed, now)));
        for note in &parsed.notes {
            lines.push(format!("note       {note}"));
        }
        lines.push(format!(
            "signature  {}",
            match sig {
                Signature::Valid => format!("valid ({} with the given key)", parsed.alg.name()),
                Signature::Invalid => format!("INVALID: {}", problems[0]),
                Signature::Unchecked => format!("not checked ({}; pass --secret-file to check it)", parsed.alg.name()),
            }
        ));
        if c.caches.0.is_empty() {
            lines.push("caches     none (the token grants nothing)".into());
        } else {
            lines.push("caches     (exact names first, then patterns in this order; first match wins)".into());
            let width = c.caches.0.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
            for (p, perms) in &c.caches.0 {
                let w = perms.words();
                lines.push(format!("  {p:width$}  {}", if w.is_empty() { "nothing".into() } else { w.join(", ") }));
            }
        }
        lines.push(if problems.is_empty() {
            "verdict    usable".into()
        } else {
            format!("verdict    NOT USABLE: {}", problems.join("; "))
        });
        homey_kit::outln!("{}", lines.join("\n"))?;
    }
    Ok(if problems.is_empty() { Exit::Ok } else { Exit::Failed })
}

/// A file holding a token, refused when other users can read it (whoever holds a token has its
/// permissions), named as `what`.
fn read_private_file(path: &Path, what: &str) -> anyhow::Result<Secret> {
    use std::os::unix::fs::MetadataExt;
    let context = || format!("{what} {}", path.display());
    let meta = std::fs::metadata(path).with_context(context).exit_code(Exit::Config)?;
    if meta.mode() & 0o004 != 0 {
        fail!(
            Exit::Config,
            "{what} {}: mode {:04o} lets every user read the token, and anyone holding it has its permissions; \
             chmod o-r it (attic-token mint --out writes 0600)",
            path.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(Secret::new(std::fs::read(path).with_context(context).exit_code(Exit::Config)?))
}

/// A token file: one JWT on one line (a trailing newline is fine). Anything else is bad input, named
/// without showing the file's contents.
fn read_token_file(path: &Path) -> anyhow::Result<Secret> {
    let raw = read_private_file(path, "token file")?;
    let text = raw.expose_str().map(str::trim).unwrap_or("\u{0}");
    netrc::check_token(text)
        .map_err(|why| anyhow::anyhow!("token file {}: {why}", path.display()))
        .exit_code(Exit::BadInput)?;
    Ok(Secret::new(text))
}

fn check(a: CheckArgs, world: &World) -> anyhow::Result<Exit> {
    if a.cache.contains('*') || token::check_pattern(&a.cache).is_err() {
        fail!(Exit::Usage, "--cache {:?}: not a cache name (letters, digits, - _ +; at most 50)", a.cache);
    }
    if !(a.endpoint.starts_with("http://") || a.endpoint.starts_with("https://")) {
        fail!(Exit::Usage, "--endpoint {:?}: expected an http:// or https:// URL", a.endpoint);
    }
    let tok = read_token_file(&a.token_file)?;
    let text = tok.expose_str()?;
    let parsed = token::parse(text);
    let base = if a.endpoint.ends_with('/') { a.endpoint.clone() } else { format!("{}/", a.endpoint) };
    let url = format!("{base}_api/v1/cache-config/{}", a.cache);
    // No redirects: the bearer token goes to the endpoint named and nowhere else.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(a.timeout))
        .build()
        .into();
    let resp = agent.get(&url).header("Authorization", &format!("Bearer {text}")).call();
    let status = match resp {
        Ok(r) if r.status().is_redirection() => {
            let to = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("?").to_owned();
            fail!(
                Exit::Failed,
                "{url} answered {} with a redirect to {to}; pass the server's API endpoint (api-endpoint in server.toml) as --endpoint",
                r.status().as_u16()
            );
        }
        Ok(r) => r.status().as_u16(),
        Err(e) => fail!(Exit::Unavailable, "cannot reach the Attic server at {url}: {e}"),
    };
    let (exit, msg) =
        words::check_answer(status, &a.cache, parsed.as_ref().map_err(|e| e.0.as_str()), now(a.now, world));
    homey_kit::outln!("{msg}")?;
    Ok(exit)
}

fn render_config(a: RenderArgs, world: &World) -> anyhow::Result<Exit> {
    if a.mode & 0o007 != 0 {
        fail!(
            Exit::Usage,
            "--mode {:04o}: the rendered config holds the signing key, and mode bits for other users would let anyone \
             on the host mint tokens; use 0600, or 0640 with a group atticd is in",
            a.mode
        );
    }
    homey_kit::fs::check_parent(&a.out)?;
    let mut doc = load_server_config(&a.template, world)?;
    let existing = config::token_settings(&doc).signing;
    let put = match find_key(a.secret_file.as_deref(), None, world)? {
        Some((key, source)) => {
            config::put_signing_key(&mut doc, &key).map_err(anyhow::Error::msg).exit_code(Exit::Config)?;
            format!("{} key from {source} under [jwt.signing]", key.alg().name())
        }
        None => match existing {
            Some((kind, s)) => {
                key_from(&s, Some(kind), &format!("{}: [jwt.signing] {}", a.template.display(), kind.config_key()))?;
                homey_kit::warn!(
                    "{}: no secret given, keeping the template's own [jwt.signing] {} (a template in the Nix store is world-readable)",
                    a.template.display(),
                    kind.config_key()
                );
                format!("the template's own [jwt.signing] {}", kind.config_key())
            }
            None => fail!(Exit::Config, "{}: {}", a.template.display(), no_key(world)),
        },
    };
    homey_kit::fs::write_atomic(&a.out, doc.to_string().as_bytes(), a.mode)?;
    homey_kit::info!("wrote {} (mode {:04o}) with the {put}", a.out.display(), a.mode);
    Ok(Exit::Ok)
}

fn netrc_cmd(a: NetrcArgs) -> anyhow::Result<Exit> {
    netrc::check_host(&a.host).map_err(anyhow::Error::msg).exit_code(Exit::Usage)?;
    if a.login.is_empty() || a.login.chars().any(|c| c.is_whitespace()) {
        fail!(Exit::Usage, "--login {:?}: must be one word", a.login);
    }
    homey_kit::fs::check_parent(&a.out)?;
    let tok = read_token_file(&a.token_file)?;
    let text = tok.expose_str()?;
    let existing = match std::fs::read(&a.out) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| anyhow::anyhow!("netrc {}: not UTF-8 text; not touching it", a.out.display()))
            .exit_code(Exit::BadInput)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading netrc {}", a.out.display())).exit_code(Exit::Config),
    };
    let merged = Secret::new(netrc::merge(&existing, &a.host, &a.login, text));
    homey_kit::fs::write_atomic(&a.out, merged.expose(), 0o600)?;
    let verb = if existing.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w == ["machine", a.host.as_str()])
    {
        "replaced"
    } else {
        "added"
    };
    homey_kit::info!("{}: {verb} the entry for {} (mode 0600; other entries kept)", a.out.display(), a.host);
    Ok(Exit::Ok)
}

fn keygen(a: KeygenArgs, world: &World) -> anyhow::Result<Exit> {
    homey_kit::fs::check_parent(&a.out)?;
    if a.out.exists() && !a.force {
        fail!(
            Exit::Usage,
            "{} exists; replacing the signing secret invalidates every token signed with it (pass --force to do it anyway)",
            a.out.display()
        );
    }
    let (kind, b64) = match a.algorithm {
        Algorithm::Hs256 => (Kind::Hs256Secret, keys::new_hs256_secret().map_err(anyhow::Error::msg)?),
        Algorithm::Rs256 => {
            // ring cannot generate RSA keys; openssl makes exactly the PKCS#1 PEM attic's docs use.
            let cmd = Cmd::new("openssl")
                .args(["genrsa", "-traditional", &a.bits.to_string()])
                .timeout(Duration::from_secs(600));
            let out = world.runner.run_ok(&cmd).context("generating the RSA key").exit_code(Exit::Unavailable)?;
            let pem = Secret::new(out.stdout);
            use base64::Engine;
            (Kind::Rs256Secret, Secret::new(base64::engine::general_purpose::STANDARD.encode(pem.expose())))
        }
    };
    // Read back as attic would, so a broken key never lands.
    let key = key_from(&b64, Some(kind), "the generated key")?;
    let body =
        if a.env_file { Secret::new(format!("{}=\"{}\"\n", kind.env_var(), key.base64().expose_str()?)) } else { b64 };
    homey_kit::fs::write_atomic(&a.out, body.expose(), 0o600)?;
    homey_kit::info!("wrote a new {} secret to {} (mode 0600)", key.alg().name(), a.out.display());
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use homey_kit::clock::FakeClock;
    use homey_kit::process::{FakeRunner, Output};

    const SAMPLE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE4MDM2NDcyODgsIm5iZiI6MTc5NTc1NzI0MCwic3ViIjoiY2ktcHVzaCIsImh0dHBzOi8vand0LmF0dGljLnJzL3YxIjp7ImNhY2hlcyI6eyJtYWluIjp7InIiOjEsInciOjEsImNyIjoxfSwidGVhbS0qIjp7InIiOjEsImNjIjoxLCJjZCI6MX19fX0.J8fCq8HeNoQIYW80ByUv6SdfI13To56TnvuTxN_cQD8";

    #[test]
    fn the_spec_sample_from_a_fixed_clock() {
        use base64::Engine;
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("token");
        let b64 =
            base64::engine::general_purpose::STANDARD.encode("attic-token research throwaway secret 0123456789abcdef");
        let env = |k: &str| (k == "ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64").then(|| OsString::from(&b64));
        let runner = FakeRunner::new(|_| anyhow::bail!("minting runs no child"));
        let world = World { clock: &FakeClock::at_unix(1_795_757_240), runner: &runner, env: &env };
        let cli = Cli::parse_from(
            [
                "attic-token",
                "mint",
                "--sub",
                "ci-push",
                "--validity",
                "3 months",
                "--pull",
                "main",
                "--push",
                "main",
                "--pull",
                "team-*",
                "--create-cache",
                "team-*",
                "--destroy-cache",
                "team-*",
                "--configure-cache",
                "main",
                "--out",
            ]
            .iter()
            .copied()
            .chain([out.to_str().unwrap()]),
        );
        assert_eq!(run_in(cli, &world).unwrap(), Exit::Ok);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), SAMPLE_TOKEN);
        assert!(runner.calls().is_empty());
    }

    #[test]
    fn keygen_rs256_asks_openssl_for_a_traditional_key_and_checks_it() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("k");
        let runner = FakeRunner::new(|_| Ok(Output::ok("not a key")));
        let env = |_: &str| None;
        let world = World { clock: &FakeClock::at_unix(0), runner: &runner, env: &env };
        let cli = Cli::parse_from(
            ["attic-token", "keygen", "--algorithm", "rs256", "--bits", "2048", "--out"]
                .iter()
                .copied()
                .chain([out.to_str().unwrap()]),
        );
        let err = run_in(cli, &world).unwrap_err();
        assert_eq!(runner.command_lines(), ["openssl genrsa -traditional 2048"]);
        assert_eq!(Exit::of(&err), Exit::Config);
        assert!(!out.exists(), "a key that does not read back must not land");

        let failing = FakeRunner::new(|_| Ok(Output::failed(1, "genrsa: out of entropy")));
        let world = World { clock: &FakeClock::at_unix(0), runner: &failing, env: &env };
        let cli = Cli::parse_from(["attic-token", "keygen", "--algorithm", "rs256", "--out", out.to_str().unwrap()]);
        let err = run_in(cli, &world).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Unavailable);
        assert!(format!("{err:#}").contains("out of entropy"), "{err:#}");
        assert_eq!(failing.command_lines(), ["openssl genrsa -traditional 4096"]);
        assert!(!out.exists());
    }
}
