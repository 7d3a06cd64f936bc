//! Secrets: a type that cannot be printed, read only from files or systemd credentials.
//!
//! A credential NAME is read from `$CREDENTIALS_DIRECTORY/NAME` under systemd, else from
//! [`CREDENTIALS_FALLBACK`]`/NAME`: contrib's units load their credentials from there, and the NixOS
//! module links each secret there, so a tool run by hand over SSH finds what its unit finds.
//! `$HOMEY_CREDENTIALS_FALLBACK` moves that directory: the tests point it at an empty one, so a
//! test run on the homelab itself never reads (or depends on) the host's real secrets.
//!
//! `Secret` has no `Display`, its `Debug` is redacted, and its bytes are wiped on drop. The only way
//! to the bytes is [`Secret::expose`], which makes every use easy to find in review.

use crate::exit::{Exit, ResultExt};
use anyhow::Context;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Secret(Vec<u8>);

impl Secret {
    /// For tests and for secrets the tool itself generates (keygen).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text; secrets that are not UTF-8 are an input error that never shows the bytes.
    pub fn expose_str(&self) -> anyhow::Result<&str> {
        std::str::from_utf8(&self.0).map_err(|_| anyhow::anyhow!("the secret is not valid UTF-8 text"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Read a secret file. One trailing newline is dropped (editors and `echo` add one). A file that
    /// others may read is refused unless `policy` allows it (DynamicUser units need 0444 files).
    pub fn from_file(path: &Path, policy: Readable) -> anyhow::Result<Secret> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("secret file {}", path.display()))
            .exit_code(Exit::Config)?;
        if !meta.is_file() {
            crate::fail!(Exit::Config, "secret file {}: not a regular file", path.display());
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o004 != 0 && policy == Readable::OwnerOnly {
            crate::fail!(
                Exit::Config,
                "secret file {}: mode {mode:04o} lets every user read it; chmod o-r {} (or give it as a credential: systemd guards $CREDENTIALS_DIRECTORY)",
                path.display(),
                path.display()
            );
        }
        let mut bytes =
            std::fs::read(path).with_context(|| format!("secret file {}", path.display())).exit_code(Exit::Config)?;
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            crate::fail!(Exit::Config, "secret file {}: empty", path.display());
        }
        Ok(Secret(bytes))
    }
}

/// Whether a secret file that others can read is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    OwnerOnly,
    AllowWorldReadable,
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // Volatile so the wipe is not optimised away as a dead store.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// Where credentials are read from when not under systemd (no `$CREDENTIALS_DIRECTORY`, or the
/// credential is not in it).
pub const CREDENTIALS_FALLBACK: &str = "/etc/homey/credentials";

/// The variable that replaces [`CREDENTIALS_FALLBACK`] (tests; a host that keeps them elsewhere).
pub const FALLBACK_ENV: &str = "HOMEY_CREDENTIALS_FALLBACK";

/// [`CREDENTIALS_FALLBACK`], or what `env` gives for [`FALLBACK_ENV`].
pub fn fallback_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    env(FALLBACK_ENV).filter(|d| !d.is_empty()).map_or_else(|| PathBuf::from(CREDENTIALS_FALLBACK), PathBuf::from)
}

/// Where a secret can come from, in the order they are tried: an explicit file (a flag), a file
/// named by an environment variable, a credential (`$CREDENTIALS_DIRECTORY`, then
/// [`CREDENTIALS_FALLBACK`]).
#[derive(Debug, Clone)]
pub struct Source {
    pub file: Option<PathBuf>,
    /// The flag that gives `file` (e.g. `--password-file`), so "no secret given" can name it.
    pub flag: Option<&'static str>,
    pub env_file_var: Option<&'static str>,
    /// Owned: tools read credential names from their config files, not only from constants.
    pub credential: Option<String>,
    /// [`CREDENTIALS_FALLBACK`], or `$HOMEY_CREDENTIALS_FALLBACK` (read once, when the source is made).
    pub fallback_dir: PathBuf,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            file: None,
            flag: None,
            env_file_var: None,
            credential: None,
            fallback_dir: fallback_dir_from(|k| std::env::var_os(k)),
        }
    }
}

impl Source {
    pub fn credential(name: impl Into<String>) -> Self {
        Source { credential: Some(name.into()), ..Source::default() }
    }
    /// The file given by `flag` (`None`: the flag was not passed).
    pub fn file(mut self, flag: &'static str, file: Option<PathBuf>) -> Self {
        self.flag = Some(flag);
        self.file = file;
        self
    }
    pub fn env_file_var(mut self, var: &'static str) -> Self {
        self.env_file_var = Some(var);
        self
    }
    pub fn fallback_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fallback_dir = dir.into();
        self
    }

    /// Resolve against the process environment.
    pub fn load(&self) -> anyhow::Result<Secret> {
        self.load_with(|k| std::env::var_os(k))
    }

    pub fn load_with(&self, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> anyhow::Result<Secret> {
        self.try_load_with(env)?.ok_or_else(|| crate::exit::coded(Exit::Config, anyhow::anyhow!("{}", self.missing())))
    }

    /// The one line that says every place a secret could have come from.
    pub fn missing(&self) -> String {
        let mut tried = vec![];
        if let Some(f) = self.flag {
            tried.push(format!("pass {f}"));
        }
        if let Some(v) = self.env_file_var {
            tried.push(format!("set ${v} to a file"));
        }
        if let Some(c) = &self.credential {
            tried.push(format!(
                "provide the credential {c} ($CREDENTIALS_DIRECTORY/{c} under systemd, {} by hand)",
                self.fallback_dir.join(c).display()
            ));
        }
        format!("no secret given: {}", tried.join(", or "))
    }

    /// Like [`load_with`](Self::load_with), but `None` when no source has the secret.
    pub fn try_load_with(&self, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> anyhow::Result<Option<Secret>> {
        if let Some(f) = &self.file {
            return Secret::from_file(f, Readable::OwnerOnly).map(Some);
        }
        if let Some(p) = self.env_file_var.and_then(&env).filter(|p| !p.is_empty()) {
            return Secret::from_file(Path::new(&p), Readable::OwnerOnly).map(Some);
        }
        let Some(name) = &self.credential else { return Ok(None) };
        if let Some(dir) = env("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
            let p = Path::new(&dir).join(name);
            if p.exists() {
                // systemd owns the credentials directory and its modes; trust them.
                return Secret::from_file(&p, Readable::AllowWorldReadable).map(Some);
            }
        }
        let p = self.fallback_dir.join(name);
        // A dangling link (the NixOS module's secret not yet deployed) counts as present: say so.
        if p.symlink_metadata().is_ok() {
            return Secret::from_file(&p, Readable::OwnerOnly).map(Some);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    #[test]
    fn file_drops_one_newline_and_refuses_world_readable() {
        let d = tempfile::tempdir().unwrap();
        let ok = write(d.path(), "ok", "pw\n", 0o600);
        assert_eq!(Secret::from_file(&ok, Readable::OwnerOnly).unwrap().expose(), b"pw");
        let open = write(d.path(), "open", "pw", 0o644);
        let err = Secret::from_file(&open, Readable::OwnerOnly).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        assert!(format!("{err:#}").contains("0644"), "{err:#}");
        assert!(!format!("{err:#}").contains("pw\""));
        assert!(Secret::from_file(&open, Readable::AllowWorldReadable).is_ok());
    }

    #[test]
    fn sources_in_order_flag_env_credential() {
        let d = tempfile::tempdir().unwrap();
        let flag = write(d.path(), "flag", "from-flag", 0o600);
        let envf = write(d.path(), "envf", "from-env", 0o600);
        write(d.path(), "kuma-password", "from-cred", 0o400);
        let dir = d.path().as_os_str().to_owned();
        let env = |k: &str| match k {
            "KUMA_PASSWORD_FILE" => Some(envf.as_os_str().to_owned()),
            "CREDENTIALS_DIRECTORY" => Some(dir.clone()),
            _ => None,
        };
        let nowhere = d.path().join("no-fallback");
        let src = Source::credential("kuma-password").env_file_var("KUMA_PASSWORD_FILE").fallback_dir(&nowhere);
        assert_eq!(src.clone().file("--password-file", Some(flag)).load_with(env).unwrap().expose(), b"from-flag");
        assert_eq!(src.load_with(env).unwrap().expose(), b"from-env");
        let only_cred = |k: &str| if k == "CREDENTIALS_DIRECTORY" { Some(dir.clone()) } else { None };
        assert_eq!(src.load_with(only_cred).unwrap().expose(), b"from-cred");
        assert!(src.load_with(|_| None).is_err());
    }

    #[test]
    fn by_hand_the_credential_comes_from_the_fallback_directory() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        write(&etc, "ldap-bind-password", "from-etc", 0o600);
        let run = d.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let src = Source::credential("ldap-bind-password").fallback_dir(&etc);
        // No $CREDENTIALS_DIRECTORY: by hand.
        assert_eq!(src.load_with(|_| None).unwrap().expose(), b"from-etc");
        // Under systemd the unit's own credential wins …
        write(&run, "ldap-bind-password", "from-systemd", 0o400);
        let creds = run.as_os_str().to_owned();
        let systemd = |k: &str| (k == "CREDENTIALS_DIRECTORY").then(|| creds.clone());
        assert_eq!(src.load_with(systemd).unwrap().expose(), b"from-systemd");
        // … and when the unit did not load it, the fallback still answers.
        std::fs::remove_file(run.join("ldap-bind-password")).unwrap();
        assert_eq!(src.load_with(systemd).unwrap().expose(), b"from-etc");
    }

    #[test]
    fn a_world_readable_fallback_is_refused_without_naming_a_flag_that_does_not_exist() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "restic-password", "pw", 0o644);
        let err = Source::credential("restic-password").fallback_dir(d.path()).load_with(|_| None).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        let msg = format!("{err:#}");
        assert!(msg.contains("0644") && msg.contains("chmod o-r"), "{msg}");
        assert!(!msg.contains("flag"), "{msg}");
    }

    #[test]
    fn a_missing_secret_names_the_flag_the_variable_and_both_places() {
        let d = tempfile::tempdir().unwrap();
        let src = Source::credential("kuma-password")
            .env_file_var("KUMA_PASSWORD_FILE")
            .file("--password-file", None)
            .fallback_dir(d.path());
        let err = src.load_with(|_| None).unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        let msg = format!("{err:#}");
        assert!(!msg.contains('\n'), "{msg}");
        for part in [
            "--password-file",
            "$KUMA_PASSWORD_FILE",
            "$CREDENTIALS_DIRECTORY/kuma-password",
            &d.path().join("kuma-password").display().to_string(),
        ] {
            assert!(msg.contains(part), "{part} missing from: {msg}");
        }
        assert_eq!(fallback_dir_from(|_| None), Path::new("/etc/homey/credentials"));
        let moved = |k: &str| (k == FALLBACK_ENV).then(|| "/srv/creds".into());
        assert_eq!(fallback_dir_from(moved), Path::new("/srv/creds"));
        let empty = |k: &str| (k == FALLBACK_ENV).then(std::ffi::OsString::new);
        assert_eq!(fallback_dir_from(empty), Path::new("/etc/homey/credentials"));
    }
}
