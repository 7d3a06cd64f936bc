//! The process runner: the only way a homey tool starts a child process.
//!
//! A [`Cmd`] is plain data (program, args, env, stdin, where stdout goes, timeout, cancellation);
//! a [`Runner`] executes it. Tools take `&dyn Runner`, so unit tests pass a [`FakeRunner`] that records
//! every command and answers as scripted, and integration tests run the real [`SystemRunner`] against
//! fake executables on `PATH`.
//!
//! Secrets go to children through the environment or stdin ([`Cmd::secret_env`], [`Stdin::Secret`]),
//! never argv (visible to every user in /proc), and are redacted from `Debug`, `Display` and records.

use crate::secret::Secret;
use anyhow::Context;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much of a child's stderr is kept for error messages.
pub const STDERR_TAIL: usize = 4096;
/// How long a child gets between SIGTERM and SIGKILL when it is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum Stdin {
    Null,
    Bytes(Vec<u8>),
    Secret(Secret),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub enum Stdout {
    /// Collected into [`Output::stdout`].
    Capture,
    /// Streamed into this file (created or truncated, mode 0600): large dumps never pass through memory.
    File(PathBuf),
    Null,
    Inherit,
}

#[derive(Clone)]
enum EnvValue {
    Plain(OsString),
    Secret(Secret),
}

/// A command as data.
#[derive(Clone)]
pub struct Cmd {
    pub program: OsString,
    pub args: Vec<OsString>,
    env: Vec<(OsString, EnvValue)>,
    pub env_clear: bool,
    pub cwd: Option<PathBuf>,
    pub stdin: Stdin,
    pub stdout: Stdout,
    pub timeout: Option<Duration>,
    pub cancel: Option<Cancel>,
    /// Also pass the child's stderr through to ours as it comes (long builds whose progress a person
    /// wants to watch); the tail is kept for error messages either way.
    pub tee_stderr: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: vec![],
            env: vec![],
            env_clear: false,
            cwd: None,
            stdin: Stdin::Null,
            stdout: Stdout::Capture,
            timeout: None,
            cancel: None,
            tee_stderr: false,
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env.push((k.as_ref().to_owned(), EnvValue::Plain(v.as_ref().to_owned())));
        self
    }
    /// Pass a secret in the child's environment; it is redacted everywhere we print or record.
    pub fn secret_env(mut self, k: impl AsRef<OsStr>, v: &Secret) -> Cmd {
        self.env.push((k.as_ref().to_owned(), EnvValue::Secret(v.clone())));
        self
    }
    pub fn stdin(mut self, s: Stdin) -> Cmd {
        self.stdin = s;
        self
    }
    pub fn stdout(mut self, s: Stdout) -> Cmd {
        self.stdout = s;
        self
    }
    pub fn timeout(mut self, d: Duration) -> Cmd {
        self.timeout = Some(d);
        self
    }
    pub fn cancel_on(mut self, c: &Cancel) -> Cmd {
        self.cancel = Some(c.clone());
        self
    }
    pub fn tee_stderr(mut self, yes: bool) -> Cmd {
        self.tee_stderr = yes;
        self
    }
    pub fn cwd(mut self, d: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(d.into());
        self
    }

    /// Plain environment entries; secret ones are shown as `<redacted>`.
    pub fn env_redacted(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    EnvValue::Plain(p) => p.to_string_lossy().into_owned(),
                    EnvValue::Secret(_) => "<redacted>".to_owned(),
                };
                (k.to_string_lossy().into_owned(), v)
            })
            .collect()
    }

    pub fn program_name(&self) -> String {
        Path::new(&self.program).file_name().unwrap_or(&self.program).to_string_lossy().into_owned()
    }

    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program).chain(&self.args).map(|a| a.to_string_lossy().into_owned()).collect()
    }
}

impl fmt::Display for Cmd {
    /// The command line, shell-quoted where needed, for logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.argv().iter().map(|w| shell_quote(w)).collect();
        f.write_str(&words.join(" "))
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cmd").field("argv", &self.argv()).field("env", &self.env_redacted()).finish_non_exhaustive()
    }
}

pub fn shell_quote(w: &str) -> String {
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub cancelled: bool,
}

impl Status {
    pub fn exited(code: i32) -> Status {
        Status { code: Some(code), ..Status::default() }
    }
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.timed_out {
            f.write_str("timed out and was killed")
        } else if self.cancelled {
            f.write_str("was stopped (we were asked to stop)")
        } else if let Some(c) = self.code {
            write!(f, "exited {c}")
        } else if let Some(s) = self.signal {
            write!(f, "was killed by signal {s}")
        } else {
            f.write_str("ended")
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Output {
    pub status: Status,
    pub stdout: Vec<u8>,
    /// The last [`STDERR_TAIL`] bytes of stderr.
    pub stderr_tail: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Output {
        Output { status: Status::exited(0), stdout: stdout.into(), ..Output::default() }
    }
    pub fn failed(code: i32, stderr: &str) -> Output {
        Output { status: Status::exited(code), stderr_tail: stderr.to_owned(), ..Output::default() }
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// The seam every child process goes through.
pub trait Runner: Send + Sync {
    /// Run to completion. `Err` only when the child could not be started (or its I/O failed);
    /// a child that ran and failed is `Ok` with a non-success [`Status`].
    fn run(&self, cmd: &Cmd) -> anyhow::Result<Output>;

    /// Run and require success; the error names the command and carries the tail of its stderr.
    fn run_ok(&self, cmd: &Cmd) -> anyhow::Result<Output> {
        let out = self.run(cmd)?;
        if out.status.success() {
            return Ok(out);
        }
        let tail = out.stderr_tail.trim();
        if tail.is_empty() {
            anyhow::bail!("`{cmd}` {}", out.status)
        }
        anyhow::bail!("`{cmd}` {}: {}", out.status, last_lines(tail, 5))
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// A flag that stops running children (SIGTERM, then SIGKILL after [`KILL_GRACE`]) and tells the
/// tool to wind down. [`Cancel::on_signals`] raises it on SIGTERM/SIGINT.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

static SIGNALLED: AtomicBool = AtomicBool::new(false);
static SIGNAL_NUMBER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
    SIGNAL_NUMBER.store(sig, Ordering::SeqCst);
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A cancel flag that is also raised by SIGTERM and SIGINT (systemd stop, Ctrl-C), instead of the
    /// process dying on the spot with its clean-up undone.
    pub fn on_signals() -> Cancel {
        for sig in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: the handler only stores to atomics, which is async-signal-safe.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) || SIGNALLED.load(Ordering::SeqCst)
    }

    /// The signal that raised the flag, if one did.
    pub fn signal(&self) -> Option<i32> {
        match SIGNAL_NUMBER.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }
}

/// Runs real processes.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

/// Kills the child's whole process group unless it was reaped: no child outlives a panic or an early return.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

fn kill_group(pid: u32, sig: i32) {
    // SAFETY: plain syscall; the child is its own process-group leader (process_group(0) below).
    unsafe {
        libc::kill(-(pid as i32), sig);
    }
}

impl Runner for SystemRunner {
    fn run(&self, cmd: &Cmd) -> anyhow::Result<Output> {
        let started = Instant::now();
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args);
        if cmd.env_clear {
            c.env_clear();
        }
        for (k, v) in &cmd.env {
            match v {
                EnvValue::Plain(p) => c.env(k, p),
                EnvValue::Secret(s) => c.env(k, <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(s.expose())),
            };
        }
        if let Some(d) = &cmd.cwd {
            c.current_dir(d);
        }
        c.stdin(match cmd.stdin {
            Stdin::Null => Stdio::null(),
            Stdin::File(ref p) => {
                Stdio::from(std::fs::File::open(p).with_context(|| format!("opening {} for `{cmd}`", p.display()))?)
            }
            Stdin::Bytes(_) | Stdin::Secret(_) => Stdio::piped(),
        });
        c.stdout(match &cmd.stdout {
            Stdout::Capture => Stdio::piped(),
            Stdout::Null => Stdio::null(),
            Stdout::Inherit => Stdio::inherit(),
            Stdout::File(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                Stdio::from(
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(p)
                        .with_context(|| format!("creating {} for `{cmd}`", p.display()))?,
                )
            }
        });
        c.stderr(Stdio::piped());
        // Own process group: a terminal's Ctrl-C reaches only us, and we decide how children stop
        // (after our clean-up has what it needs). PDEATHSIG: if we are SIGKILLed, they die too.
        c.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = c.spawn().with_context(|| format!("starting `{cmd}`"))?;
        let mut guard = ChildGuard(Some(child));
        let child = guard.0.as_mut().expect("just spawned");

        let stdin_writer = match &cmd.stdin {
            Stdin::Bytes(b) => Some((child.stdin.take(), b.clone())),
            Stdin::Secret(s) => Some((child.stdin.take(), s.expose().to_vec())),
            _ => None,
        }
        .map(|(pipe, mut bytes)| {
            std::thread::spawn(move || {
                if let Some(mut pipe) = pipe {
                    // A child that exits without reading all of stdin is its business, not an error here.
                    let _ = pipe.write_all(&bytes);
                }
                bytes.iter_mut().for_each(|b| *b = 0);
            })
        });
        let stdout_reader = child.stdout.take().map(|mut out| {
            std::thread::spawn(move || {
                let mut buf = vec![];
                let _ = out.read_to_end(&mut buf);
                buf
            })
        });
        let tee = cmd.tee_stderr;
        let stderr_reader = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut tail: Vec<u8> = vec![];
                let mut chunk = [0u8; 8192];
                while let Ok(n) = err.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if tee {
                        let _ = std::io::stderr().write_all(&chunk[..n]);
                    }
                    tail.extend_from_slice(&chunk[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
                String::from_utf8_lossy(&tail).into_owned()
            })
        });

        let mut status = Status::default();
        let mut term_sent: Option<Instant> = None;
        let exit = loop {
            if let Some(st) = child.try_wait().with_context(|| format!("waiting for `{cmd}`"))? {
                break st;
            }
            let over_time = cmd.timeout.is_some_and(|t| started.elapsed() >= t);
            let cancelled = cmd.cancel.as_ref().is_some_and(Cancel::is_cancelled);
            if over_time || cancelled {
                status.timed_out |= over_time && !cancelled;
                status.cancelled |= cancelled;
                match term_sent {
                    None => {
                        kill_group(child.id(), libc::SIGTERM);
                        term_sent = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() >= KILL_GRACE => kill_group(child.id(), libc::SIGKILL),
                    Some(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(if started.elapsed() < Duration::from_millis(50) {
                1
            } else {
                10
            }));
        };
        guard.0 = None;
        status.code = exit.code();
        status.signal = exit.signal();
        if let Some(w) = stdin_writer {
            let _ = w.join();
        }
        let stdout = stdout_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
        let stderr_tail = stderr_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
        crate::debug!("`{cmd}` {status} after {:.3}s", started.elapsed().as_secs_f64());
        Ok(Output { status, stdout, stderr_tail, elapsed: started.elapsed() })
    }
}

/// What a [`FakeRunner`] saw: argv, the environment with secrets redacted, stdin (a secret stdin is
/// recorded as `<redacted>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<Vec<u8>>,
}

type Responder = dyn Fn(&Cmd) -> anyhow::Result<Output> + Send + Sync;

/// A runner for unit tests: records every command and answers with a scripted responder
/// (by default: success, empty output).
pub struct FakeRunner {
    calls: Mutex<Vec<Recorded>>,
    responder: Box<Responder>,
}

impl Default for FakeRunner {
    fn default() -> Self {
        FakeRunner::new(|_| Ok(Output::ok("")))
    }
}

impl FakeRunner {
    pub fn new(responder: impl Fn(&Cmd) -> anyhow::Result<Output> + Send + Sync + 'static) -> FakeRunner {
        FakeRunner { calls: Mutex::default(), responder: Box::new(responder) }
    }

    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().unwrap().clone()
    }

    /// Each call's command line, joined with spaces: handy for snapshotting.
    pub fn command_lines(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv.join(" ")).collect()
    }
}

impl Runner for FakeRunner {
    fn run(&self, cmd: &Cmd) -> anyhow::Result<Output> {
        let stdin = match &cmd.stdin {
            Stdin::Null => None,
            Stdin::Bytes(b) => Some(b.clone()),
            Stdin::Secret(_) => Some(b"<redacted>".to_vec()),
            Stdin::File(p) => Some(format!("<file {}>", p.display()).into_bytes()),
        };
        self.calls.lock().unwrap().push(Recorded { argv: cmd.argv(), env: cmd.env_redacted(), stdin });
        (self.responder)(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_argv_display_or_records() {
        let pw = Secret::new("s3cr3t-pw");
        let cmd = Cmd::new("restic")
            .args(["backup", "/data"])
            .secret_env("RESTIC_PASSWORD", &pw)
            .stdin(Stdin::Secret(pw.clone()));
        let fake = FakeRunner::default();
        fake.run(&cmd).unwrap();
        let rec = format!("{:?}", fake.calls());
        assert!(!rec.contains("s3cr3t-pw"), "{rec}");
        assert!(!format!("{cmd} {cmd:?}").contains("s3cr3t-pw"));
        assert_eq!(fake.command_lines(), ["restic backup /data"]);
    }

    #[test]
    fn secret_env_reaches_the_real_child() {
        let pw = Secret::new("s3cr3t-pw");
        let cmd = Cmd::new("sh")
            .args(["-c", "printf %s \"$PW\"; cat"])
            .secret_env("PW", &pw)
            .stdin(Stdin::Bytes(b"+in".to_vec()));
        let out = SystemRunner.run_ok(&cmd).unwrap();
        assert_eq!(out.stdout, b"s3cr3t-pw+in");
    }

    #[test]
    fn failure_carries_the_stderr_tail() {
        let cmd = Cmd::new("sh").args(["-c", "echo first >&2; echo 'pg_dump: error: connection refused' >&2; exit 3"]);
        let err = SystemRunner.run_ok(&cmd).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("exited 3") && msg.contains("connection refused"), "{msg}");
    }

    #[test]
    fn timeout_kills_the_child_and_its_children() {
        let cmd = Cmd::new("sh").args(["-c", "sleep 30 & wait"]).timeout(Duration::from_millis(100));
        let out = SystemRunner.run(&cmd).unwrap();
        assert!(out.status.timed_out && !out.status.success());
    }

    #[test]
    fn cancel_stops_a_running_child() {
        let cancel = Cancel::new();
        let c2 = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c2.cancel();
        });
        let out = SystemRunner.run(&Cmd::new("sleep").arg("30").cancel_on(&cancel)).unwrap();
        t.join().unwrap();
        assert!(out.status.cancelled);
        assert_eq!(out.status.signal, Some(libc::SIGTERM));
    }

    #[test]
    fn stdout_to_file_streams() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("dump");
        let out = SystemRunner.run_ok(&Cmd::new("echo").arg("rows").stdout(Stdout::File(p.clone()))).unwrap();
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "rows\n");
    }

    #[test]
    fn missing_program_is_a_start_error_naming_it() {
        let err = SystemRunner.run(&Cmd::new("no-such-program-homey")).unwrap_err();
        assert!(format!("{err:#}").contains("no-such-program-homey"));
    }

    #[test]
    fn display_quotes_for_the_shell() {
        assert_eq!(Cmd::new("occ").args(["a b", "it's"]).to_string(), r"occ 'a b' 'it'\''s'");
    }
}
