//! Integration tests of the `attic-token` binary: one test binary per crate.
//!
//! Tokens are checked by implementations other than ours: openssl for HMAC-SHA256 and RSA signatures,
//! a stand-in Attic server (tests/it/check.rs) that decides as atticd does.

mod atticd_config;
mod check;
mod inspect;
mod keygen;
mod mint;
mod netrc;
mod render;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use clap::CommandFactory;

pub const SAMPLE_SECRET: &str = "attic-token research throwaway secret 0123456789abcdef";
pub const SAMPLE_NOW: &str = "1795757240";
pub const SAMPLE_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE4MDM2NDcyODgsIm5iZiI6MTc5NTc1NzI0MCwic3ViIjoiY2ktcHVzaCIsImh0dHBzOi8vand0LmF0dGljLnJzL3YxIjp7ImNhY2hlcyI6eyJtYWluIjp7InIiOjEsInciOjEsImNyIjoxfSwidGVhbS0qIjp7InIiOjEsImNjIjoxLCJjZCI6MX19fX0.J8fCq8HeNoQIYW80ByUv6SdfI13To56TnvuTxN_cQD8";
/// `mint` with the sample's flags, in the order the spec gives them.
pub const SAMPLE_FLAGS: &[&str] = &[
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
];

/// The binary with no secret reachable from the test's own environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_attic-token"));
    for v in [
        "ATTIC_SERVER_TOKEN_HS256_SECRET_BASE64",
        "ATTIC_SERVER_TOKEN_RS256_SECRET_BASE64",
        "ATTIC_SERVER_TOKEN_RS256_PUBKEY_BASE64",
        "CREDENTIALS_DIRECTORY",
        "JOURNAL_STREAM",
    ] {
        c.env_remove(v);
    }
    c.env(test_support::NO_HOST_CREDENTIALS.0, test_support::NO_HOST_CREDENTIALS.1);
    c.stdin(Stdio::null());
    c
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Out {
    let o = cmd.output().expect("running attic-token");
    Out {
        code: o.status.code().expect("not killed"),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

pub fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The sample's secret in a 0600 file, as attic reads it.
pub fn sample_secret(dir: &Path) -> PathBuf {
    write(dir, "hs256.b64", STANDARD.encode(SAMPLE_SECRET), 0o600)
}

pub fn openssl(args: &[&str], cwd: &Path) -> Vec<u8> {
    let o = Command::new("openssl").args(args).current_dir(cwd).output().expect("running openssl");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// One 2048-bit RSA key (PKCS#1 PEM) for the whole test binary: generating one is the slow part.
pub fn rsa_pem() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| openssl(&["genrsa", "-traditional", "2048"], Path::new("/")))
}

/// Split a token into (signing input, signature bytes, claims JSON).
pub fn split(token: &str) -> (String, Vec<u8>, String) {
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (format!("{}.{}", parts[0], parts[1]), URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), claims)
}

/// HMAC-SHA256 computed by openssl, not by our code.
pub fn openssl_hmac(dir: &Path, key: &[u8], input: &str) -> Vec<u8> {
    let f = write(dir, "hmac-input", input, 0o600);
    let hexkey: String = key.iter().map(|b| format!("{b:02x}")).collect();
    openssl(
        &["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{hexkey}"), "-binary", f.to_str().unwrap()],
        dir,
    )
}

/// Does openssl accept `sig` over `input` for the public half of `pem`?
pub fn openssl_rsa_verifies(dir: &Path, pem: &[u8], input: &str, sig: &[u8]) -> bool {
    let key = write(dir, "rsa-key.pem", pem, 0o600);
    let public = openssl(&["rsa", "-in", key.to_str().unwrap(), "-pubout"], dir);
    let public = write(dir, "rsa-pub.pem", public, 0o600);
    let input = write(dir, "rsa-input", input, 0o600);
    let sig = write(dir, "rsa-sig", sig, 0o600);
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", public.to_str().unwrap(), "-signature", sig.to_str().unwrap()])
        .arg(&input)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn help_and_version_work() {
    let help = bin().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:") && text.contains("78"), "{text}");
    // Only the codes attic-token returns: never 3 (warnings) or 75 (try again).
    let codes: Vec<&str> = text
        .split("Exit codes:")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().filter(|w| w.chars().all(|c| c.is_ascii_digit())))
        .collect();
    assert_eq!(codes, ["0", "1", "2", "65", "69", "78"], "{text}");
    for sub in ["mint", "inspect", "check", "render-config", "netrc", "keygen"] {
        assert!(text.contains(sub), "{sub} missing from {text}");
        let out = bin().args([sub, "--help"]).output().unwrap();
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(page.contains("Exit codes:") && page.contains("Examples:"), "{sub}: {page}");
        assert!(!page.contains("\n   3  ") && !page.contains("\n  75  "), "{sub}: {page}");
        // Every example runs this tool, with flags the command has.
        for line in page.lines().filter_map(|l| l.trim().strip_prefix("$ attic-token ")) {
            for flag in line.split_whitespace().filter(|w| w.starts_with("--")) {
                assert!(page.contains(&format!("  {flag}")), "{sub}: example flag {flag} is not in the help:\n{page}");
            }
        }
    }
    let cmd = homey_kit::manual::apply(attic_token::Cli::command(), attic_token::MANUAL);
    assert_eq!(homey_kit::manual::problems(&cmd, attic_token::MANUAL), Vec::<String>::new());
    let version = bin().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), concat!("attic-token ", env!("CARGO_PKG_VERSION")));
}

/// Writing into a directory that does not exist fails before any line claims success, naming it.
#[test]
fn a_missing_output_directory_is_named_before_anything_is_done() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let token = write(d.path(), "t", SAMPLE_TOKEN, 0o600);
    let missing = d.path().join("run-attic");
    let out_file = missing.join("out");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/attic-server.toml");
    let mut cmds: Vec<Command> = vec![];
    let mut c = bin();
    c.args(["mint", "--sub", "s", "--validity", "1y", "--pull", "main", "--secret-file"]).arg(&secret);
    cmds.push(c);
    let mut c = bin();
    c.args(["render-config", "--secret-file"]).arg(&secret).arg("--template").arg(&example);
    cmds.push(c);
    let mut c = bin();
    c.args(["netrc", "--host", "attic.example.com", "--token-file"]).arg(&token);
    cmds.push(c);
    let mut c = bin();
    c.args(["keygen", "--algorithm", "hs256"]);
    cmds.push(c);
    for mut c in cmds {
        let out = run(c.arg("--out").arg(&out_file));
        assert_eq!(out.code, 78, "{c:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line, nothing claimed first: {}", out.stderr);
        assert!(out.stderr.contains(&format!("the directory {} does not exist", missing.display())), "{}", out.stderr);
        assert!(!missing.exists());
    }
}

/// `attic-token mint … | head -c 0`: the reader is gone before the token is written.
#[test]
fn a_closed_stdout_ends_quietly() {
    let d = tempfile::tempdir().unwrap();
    let secret = sample_secret(d.path());
    let mut reader = Command::new("head").args(["-c", "0"]).stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    assert!(reader.wait().unwrap().success(), "the reader has closed its end");
    let out = bin()
        .args(SAMPLE_FLAGS)
        .arg("--secret-file")
        .arg(&secret)
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn every_option_has_help_text() {
    use clap::CommandFactory;
    assert_eq!(homey_kit::manual::undescribed(&attic_token::Cli::command()), Vec::<String>::new());
}
