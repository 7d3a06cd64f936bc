//! Test doubles for programs and servers a test cannot run for real.
//!
//! - [`Fakes`]: installs the generic fake executable (`src/bin/fake.rs`) under any name in a temp dir,
//!   to be put first on a child's `PATH` with `Command::env` (never `set_var`), and reads back what each
//!   call received.
//! - [`http::Stub`]: a loopback HTTP/1.1 listener answering as a closure says and recording requests.
//! - [`s3::S3`]: a real S3 server (moto's) on loopback; [`proxy::Proxy`]: a TCP fault injector in front of a
//!   real server (delay, stall, refuse, cut mid-transfer).

pub mod http;
pub mod kuma;
pub mod need;
pub mod proxy;
pub mod s3;
pub mod slapd;

pub use need::{Need, need, shared_dir};

/// Where the tools under test look for credentials by hand (`$HOMEY_CREDENTIALS_FALLBACK`): a directory that
/// does not exist, so a test run on a host with real secrets in /etc/homey/credentials neither reads them nor
/// passes or fails because of them.
pub const NO_HOST_CREDENTIALS: (&str, &str) = ("HOMEY_CREDENTIALS_FALLBACK", "/nonexistent/homey-test-credentials");

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One recorded call of a fake program.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// argv\[0\] is the name the program was called by.
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub stdin: String,
    pub cwd: String,
}

impl Call {
    /// The arguments after the program name.
    pub fn args(&self) -> &[String] {
        &self.argv[1..]
    }
    pub fn line(&self) -> String {
        self.argv.join(" ")
    }
}

/// A directory of fake programs.
#[derive(Debug, Clone)]
pub struct Fakes {
    dir: PathBuf,
}

impl Fakes {
    /// Use `dir` (usually a fresh temp dir) for the wrappers, scripts and the call log.
    pub fn new(dir: &Path) -> Fakes {
        std::fs::create_dir_all(dir.join("bin")).expect("creating fake dir");
        Fakes { dir: dir.to_owned() }
    }

    /// Install the fake under `name`; returns its path.
    pub fn install(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin_dir().join(name);
        let wrapper = format!(
            "#!/bin/sh\nHOMEY_FAKE_DIR='{}' HOMEY_FAKE_NAME='{}' exec '{}' \"$@\"\n",
            self.dir.display(),
            name,
            fake_exe().display()
        );
        std::fs::write(&path, wrapper).expect("writing fake wrapper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Install `name` and give it a script (see the fake's docs for the format).
    pub fn script(&self, name: &str, script: &str) -> PathBuf {
        std::fs::write(self.dir.join(format!("{name}.script")), script).expect("writing fake script");
        self.install(name)
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// A `PATH` value with the fakes first, then the test's own `PATH`.
    pub fn path_env(&self) -> OsString {
        let mut p = self.bin_dir().into_os_string();
        if let Some(rest) = std::env::var_os("PATH") {
            p.push(":");
            p.push(rest);
        }
        p
    }

    /// Every call of every fake, in order.
    pub fn calls(&self) -> Vec<Call> {
        std::fs::read_to_string(self.dir.join("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad call log line {l:?}: {e}")))
            .collect()
    }

    pub fn calls_of(&self, name: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.name == name).collect()
    }

    /// A state variable the fakes' scripts `set` (and test with `if`).
    pub fn state(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("fake.vars"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
    }

    /// Preset a state variable, e.g. the maintenance mode a fake occ starts in.
    pub fn set_state(&self, key: &str, value: &str) {
        let path = self.dir.join("fake.vars");
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with(&format!("{key}=")))
            .map(str::to_owned)
            .collect();
        lines.push(format!("{key}={value}"));
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
}

/// A loopback TCP port that was free a moment ago (another process may still take it: retry on a bind error).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binding loopback").local_addr().unwrap().port()
}

/// The fake executable. A `cargo build` of this crate puts it beside the test binaries; when it is not
/// there (a crate tested alone), it is compiled once with a bare rustc into the target dir, which
/// takes about a second because it uses only std.
pub fn fake_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/fake.rs");
        let target = target_dir();
        let src_time = std::fs::metadata(&src).and_then(|m| m.modified()).ok();
        let fresh =
            |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok().zip(src_time).is_some_and(|(b, s)| b >= s);
        for candidate in [target.join("debug/fake"), target.join("test-support/fake")] {
            if fresh(&candidate) {
                return candidate;
            }
        }
        let out_dir = target.join("test-support");
        std::fs::create_dir_all(&out_dir).unwrap();
        let out = out_dir.join("fake");
        // Build in a directory of this process's own and rename: test processes run in parallel, and rustc
        // keeps its intermediate files beside the output, under names taken from the crate's.
        let build_dir = out_dir.join(format!("build.{}", std::process::id()));
        std::fs::create_dir_all(&build_dir).unwrap();
        let tmp = build_dir.join("fake");
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let st = std::process::Command::new(rustc)
            .args(["--edition", "2024", "-O", "--crate-name", "fake", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("running rustc to build the fake executable");
        assert!(st.success(), "building the fake executable failed");
        std::fs::rename(&tmp, &out).unwrap();
        let _ = std::fs::remove_dir_all(&build_dir);
        out
    })
}

/// The cargo target directory these tests were built into (test binaries live in `target/debug/deps`).
pub fn target_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "debug" || n == "release"))
        .and_then(Path::parent)
        .map(Path::to_owned)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn fake_records_argv_env_stdin_and_answers_as_scripted() {
        let d = tempfile_dir();
        let f = Fakes::new(&d);
        f.script(
            "occ",
            "when maintenance:mode --on\nset mode=enabled\nstdout Maintenance mode enabled\n---\n\
             when maintenance:mode --off\ntimes 1\nexit 1\nstderr database is locked\n---\n\
             when maintenance:mode --off\nset mode=disabled\n---\nwhen maintenance:mode\nstdout Maintenance mode is currently {mode}\n",
        );
        let run = |args: &[&str]| {
            let mut c = Command::new("occ");
            c.args(args).env("PATH", f.path_env()).env("NC_TOKEN", "t");
            c.output().unwrap()
        };
        assert_eq!(String::from_utf8_lossy(&run(&["maintenance:mode", "--on"]).stdout), "Maintenance mode enabled\n");
        let off = run(&["maintenance:mode", "--off"]);
        assert_eq!(off.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&off.stderr), "database is locked\n");
        assert!(run(&["maintenance:mode", "--off"]).status.success());
        assert_eq!(
            String::from_utf8_lossy(&run(&["maintenance:mode"]).stdout),
            "Maintenance mode is currently disabled\n"
        );
        let calls = f.calls_of("occ");
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[0].argv, ["occ", "maintenance:mode", "--on"]);
        assert_eq!(calls[0].env.get("NC_TOKEN").map(String::as_str), Some("t"));
        assert!(!calls[0].env.contains_key("HOMEY_FAKE_DIR"));
    }

    #[test]
    fn fake_reads_stdin_and_can_die_by_signal() {
        let d = tempfile_dir();
        let f = Fakes::new(&d);
        f.script("pg_dump", "stdout partial\nsignal 9\n");
        let mut c = Command::new("pg_dump");
        c.env("PATH", f.path_env()).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"secret-on-stdin").unwrap();
        let out = child.wait_with_output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9));
        assert_eq!(f.calls()[0].stdin, "secret-on-stdin");
    }

    fn tempfile_dir() -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("fake-test-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
