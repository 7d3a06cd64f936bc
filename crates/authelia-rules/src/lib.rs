//! authelia-rules: Priority-sorted Authelia access control: render, lint, explain, check subjects against LDAP.

pub mod authz;
pub mod explain;
pub mod model;
pub mod net;
pub mod render;
pub mod subjects;
pub mod validate;

use anyhow::Context;
use homey_kit::cli::Verbosity;
use homey_kit::manual::Page;
use homey_kit::units::count;
use homey_kit::{Exit, ResultExt};
use std::io::Write;
use std::path::{Path, PathBuf};
use validate::{Finding, Severity};

#[derive(Debug, clap::Parser)]
#[command(
    name = "authelia-rules",
    version,
    about = "Priority-sorted Authelia access control: render, lint, explain, check subjects against LDAP."
)]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

/// Each subcommand's exit codes and examples, shown under its `--help` and in its man page.
pub const MANUAL: &[Page] = &[
    Page {
        command: "render",
        exits: &[
            (Exit::Ok, "rendered (printed, or written atomically to --output)"),
            (Exit::Failed, "the output could not be written"),
            (
                Exit::BadInput,
                "the rules file is invalid or lint found errors; nothing printed, --output left as it was",
            ),
            (Exit::Config, "--output's directory does not exist; nothing written"),
        ],
        examples: &[
            ("Print the access_control section", "authelia-rules render examples/access-rules.json"),
            (
                "Write it where Authelia reads it",
                "authelia-rules render access-rules.json --output /var/lib/authelia/access-control.yml",
            ),
            ("As JSON", "authelia-rules render access-rules.json --format json"),
        ],
    },
    Page {
        command: "lint",
        exits: &[
            (Exit::Ok, "clean"),
            (Exit::Warnings, "warnings only"),
            (Exit::BadInput, "errors (with --strict, warnings too), or the file cannot be read"),
        ],
        examples: &[
            ("Check the rules", "authelia-rules lint examples/access-rules.json"),
            ("Fail on warnings too, as a CI step", "authelia-rules lint access-rules.json --strict"),
            ("The findings as JSON", "authelia-rules lint access-rules.json --json | jq '.findings[]'"),
        ],
    },
    Page {
        command: "explain",
        exits: &[
            (Exit::Ok, "explained: the deciding rule and policy are printed (the code does not say allow or deny)"),
            (Exit::Usage, "--url is not a URL Authelia would accept"),
            (Exit::BadInput, "the rules file is invalid"),
        ],
        examples: &[
            (
                "Who may open the admin page?",
                "authelia-rules explain examples/access-rules.json --url https://kuma.example.org/dashboard --username alice --groups admins",
            ),
            (
                "From the LAN, anonymously",
                "authelia-rules explain access-rules.json --url https://cloud.example.org/ --ip 192.168.1.20",
            ),
            (
                "As JSON",
                "authelia-rules explain access-rules.json --url https://cloud.example.org/ --json | jq .policy",
            ),
        ],
    },
    Page {
        command: "check-subjects",
        exits: &[
            (Exit::Ok, "every user: and group: the rules name exists"),
            (Exit::Failed, "some are missing (listed on stdout with the rules that name them)"),
            (Exit::BadInput, "the rules file is invalid"),
            (Exit::Unavailable, "the directory cannot be reached, or the bind was refused"),
            (
                Exit::Config,
                "the base DN does not exist, or no bind password was found (the message says where it looked)",
            ),
        ],
        examples: &[
            (
                "Anonymously",
                "authelia-rules check-subjects access-rules.json --ldap-url ldap://127.0.0.1:3890 --base-dn dc=example,dc=org",
            ),
            (
                "With a bind DN; the password from the credential ldap-bind-password",
                "authelia-rules check-subjects access-rules.json --ldap-url ldap://127.0.0.1:3890 --base-dn dc=example,dc=org --bind-dn cn=readonly,dc=example,dc=org",
            ),
        ],
    },
    Page {
        command: "hash",
        exits: &[(Exit::Ok, "the hash is printed"), (Exit::BadInput, "a file cannot be read")],
        examples: &[
            ("The hash NixOS passes as NIXOS_CONFIG_HASH", "authelia-rules hash access-rules.json"),
            ("Over several files, in order", "authelia-rules hash configuration.yml access-rules.json"),
        ],
    },
];

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print (or write) the `access_control:` section, rules in priority order. Refuses when lint finds errors.
    Render {
        /// The rules file (JSON from Nix) or an Authelia configuration (YAML or JSON).
        rules: PathBuf,
        /// Write here (atomically) instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// YAML (as Authelia's configuration file has it) or JSON.
        #[arg(long, value_enum, default_value = "yaml")]
        format: render::Format,
    },
    /// Report what Authelia would reject at start-up and what it would silently get wrong.
    /// Exit 0 clean, 3 warnings only, 65 errors.
    Lint {
        /// The rules file (JSON from Nix) or an Authelia configuration (YAML or JSON).
        rules: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Print the findings as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Which rule decides a request and the policy it requires, like `authelia access-control check-policy`.
    Explain {
        /// The rules file (JSON from Nix) or an Authelia configuration (YAML or JSON).
        rules: PathBuf,
        /// The request's URL, as the browser asks for it (https://kuma.example.org/dashboard).
        #[arg(long)]
        url: String,
        /// The request's HTTP method.
        #[arg(long, default_value = "GET")]
        method: String,
        /// The signed-in user; without it, the request is anonymous.
        #[arg(long)]
        username: Option<String>,
        /// The user's groups, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The client IP; without it, rules with networks do not match (as in Authelia).
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// An OAuth2 client ID (for `oauth2:client:` subjects).
        #[arg(long)]
        client_id: Option<String>,
        /// Print the decision as JSON on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Check that every `user:` and `group:` named in the rules exists in the LDAP directory. Exit 1 if any is missing.
    CheckSubjects {
        /// The rules file (JSON from Nix) or an Authelia configuration (YAML or JSON).
        rules: PathBuf,
        /// The directory: ldap://HOST:PORT or ldaps://HOST:PORT.
        #[arg(long)]
        ldap_url: String,
        /// Where users and groups are searched (dc=example,dc=org).
        #[arg(long)]
        base_dn: String,
        /// Bind as this DN (its password from --bind-password-file or the credential); else anonymously.
        #[arg(long)]
        bind_dn: Option<String>,
        /// The bind password's file; else $AUTHELIA_RULES_BIND_PASSWORD_FILE, else the credential
        /// `ldap-bind-password` ($CREDENTIALS_DIRECTORY under systemd, /etc/homey/credentials by hand).
        #[arg(long, requires = "bind_dn")]
        bind_password_file: Option<PathBuf>,
        /// `{name}` is replaced by the escaped user name.
        #[arg(long, default_value = subjects::DEFAULT_USER_FILTER)]
        user_filter: String,
        /// `{name}` is replaced by the escaped group name.
        #[arg(long, default_value = subjects::DEFAULT_GROUP_FILTER)]
        group_filter: String,
        /// Seconds to wait for the server.
        #[arg(long, default_value = "10")]
        timeout: u64,
    },
    /// Hex SHA-256 over the files' contents in the given order (as `cat FILES | sha256sum`): NIXOS_CONFIG_HASH.
    Hash {
        /// The files, hashed as one stream in this order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Render { rules, output, format } => render_cmd(&rules, output.as_deref(), format),
        Command::Lint { rules, strict, json } => lint_cmd(&rules, strict, json),
        Command::Explain { rules, url, method, username, groups, ip, client_id, json } => {
            let rs = load(&rules)?;
            let groups = groups.into_iter().map(|g| g.trim().to_owned()).filter(|g| !g.is_empty()).collect();
            let subject = authz::Subject { username, groups, client_id, ip };
            let text = explain::explain(&rs, &url, &method, &subject, json).map_err(|e| match e {
                explain::Error::Url(m) => homey_kit::exit::coded(Exit::Usage, anyhow::anyhow!("--url: {m}")),
                explain::Error::Rules(errs) => bad_rules(&rules, &errs),
            })?;
            print(&text)?;
            Ok(Exit::Ok)
        }
        Command::CheckSubjects {
            rules,
            ldap_url,
            base_dn,
            bind_dn,
            bind_password_file,
            user_filter,
            group_filter,
            timeout,
        } => {
            let rs = load(&rules)?;
            let password = match &bind_dn {
                Some(_) => Some(
                    homey_kit::secret::Source::credential("ldap-bind-password")
                        .env_file_var("AUTHELIA_RULES_BIND_PASSWORD_FILE")
                        .file("--bind-password-file", bind_password_file)
                        .load()?,
                ),
                None => None,
            };
            let bind = match (&bind_dn, &password) {
                (Some(dn), Some(pw)) => Some((dn.as_str(), pw.expose_str().exit_code(Exit::Config)?)),
                _ => None,
            };
            check_subjects(&rs, &ldap_url, &base_dn, bind, &user_filter, &group_filter, timeout)
        }
        Command::Hash { files } => {
            print(&format!("{}\n", hash(&files)?))?;
            Ok(Exit::Ok)
        }
    }
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = homey_kit::cli::stdout();
    out.write_all(text.as_bytes()).and_then(|_| out.flush()).context("writing to standard output")
}

fn load(path: &Path) -> anyhow::Result<model::RuleSet> {
    model::load(path).exit_code(Exit::BadInput)
}

fn bad_rules(file: &Path, errs: &[authz::CompileError]) -> anyhow::Error {
    let lines: Vec<String> = errs.iter().map(|(_, m)| format!("{}: {m}", file.display())).collect();
    homey_kit::exit::coded(Exit::BadInput, anyhow::anyhow!("{}", lines.join("\n")))
}

fn log_findings(file: &Path, findings: &[Finding]) {
    for f in findings {
        match f.severity {
            Severity::Error => homey_kit::error!("{}: {}", file.display(), f.line()),
            Severity::Warning => homey_kit::warn!("{}: {}", file.display(), f.line()),
        }
    }
}

fn render_cmd(rules: &Path, output: Option<&Path>, format: render::Format) -> anyhow::Result<Exit> {
    let rs = load(rules)?;
    let findings = validate::lint(&rs);
    log_findings(rules, &findings);
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    if errors > 0 {
        let what =
            output.map(|o| format!("{} left as it was", o.display())).unwrap_or_else(|| "nothing printed".into());
        homey_kit::fail!(
            Exit::BadInput,
            "{}: {} above; refusing to render ({what})",
            rules.display(),
            count(errors, "error", "errors")
        );
    }
    let text = render::render(&rs, format);
    match output {
        Some(o) => {
            homey_kit::fs::write_atomic(o, text.as_bytes(), 0o644)?;
            homey_kit::info!("wrote {} to {}", count(rs.rules.len(), "rule", "rules"), o.display());
        }
        None => print(&text)?,
    }
    Ok(Exit::Ok)
}

fn lint_cmd(rules: &Path, strict: bool, json: bool) -> anyhow::Result<Exit> {
    let rs = load(rules)?;
    let mut findings = validate::lint(&rs);
    if strict {
        for f in &mut findings {
            f.severity = Severity::Error;
        }
    }
    let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
    let warnings = findings.len() - errors;
    if json {
        let doc = serde_json::json!({"file": rules.display().to_string(), "errors": errors, "warnings": warnings, "findings": findings});
        print(&format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
    } else {
        log_findings(rules, &findings);
        homey_kit::info!(
            "{}: {}, {}, {}",
            rules.display(),
            count(rs.rules.len(), "rule", "rules"),
            count(errors, "error", "errors"),
            count(warnings, "warning", "warnings")
        );
    }
    Ok(if errors > 0 {
        Exit::BadInput
    } else if warnings > 0 {
        Exit::Warnings
    } else {
        Exit::Ok
    })
}

fn check_subjects(
    rs: &model::RuleSet,
    url: &str,
    base_dn: &str,
    bind: Option<(&str, &str)>,
    user_filter: &str,
    group_filter: &str,
    timeout: u64,
) -> anyhow::Result<Exit> {
    let named = subjects::named_subjects(rs);
    if named.is_empty() {
        homey_kit::info!("no user: or group: subjects in the rules; nothing to check");
        return Ok(Exit::Ok);
    }
    let to_err = |e: subjects::DirError| match e {
        subjects::DirError::Unavailable(m) => homey_kit::exit::coded(Exit::Unavailable, anyhow::anyhow!(m)),
        subjects::DirError::Config(m) => homey_kit::exit::coded(Exit::Config, anyhow::anyhow!(m)),
    };
    let mut dir =
        subjects::Directory::connect(url, base_dn, bind, std::time::Duration::from_secs(timeout)).map_err(to_err)?;
    let mut missing = vec![];
    for ((kind, name), positions) in &named {
        let template = if *kind == subjects::Kind::User { user_filter } else { group_filter };
        if !dir.exists(&subjects::filter_for(template, name)).map_err(to_err)? {
            missing.push((kind, name, positions));
        }
    }
    dir.close();
    let mut out = String::new();
    for (kind, name, positions) in &missing {
        let rules: Vec<String> = positions
            .iter()
            .map(|p| match rs.rules[p - 1].label() {
                l if l.is_empty() => format!("#{p}"),
                l => format!("#{p} ({l})"),
            })
            .collect();
        out.push_str(&format!("missing {} '{name}' (named by rule {})\n", kind.as_str(), rules.join(", ")));
    }
    print(&out)?;
    homey_kit::info!("{} checked against {url}, {} missing", count(named.len(), "subject", "subjects"), missing.len());
    Ok(if missing.is_empty() { Exit::Ok } else { Exit::Failed })
}

pub fn hash(files: &[PathBuf]) -> anyhow::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("{}", f.display())).exit_code(Exit::BadInput)?;
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}
