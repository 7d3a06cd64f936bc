//! What every binary's `main` shares: `-v`/`-q`, printing the error chain once, the exit code, and
//! a stdout that may be closed early.
//!
//! A closed stdout (`tool … | head`) is not an error: the reader wants no more. Output written through
//! [`stdout`] / [`outln!`](crate::outln) is dropped from then on and the job runs to its end, so the
//! exit code is the job's own. Anything else that hits the closed pipe (a stray `println!`, an
//! `io::Error` returned up the chain while stdout is the pipe that lost its reader) ends the process
//! quietly with 0, like ripgrep: no panic, no "Broken pipe" line, no 101. A broken pipe into a child
//! (restic's stdin) is not stdout's and stays a failure.

use crate::exit::Exit;
use crate::manual::Page;
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// `-v` / `-q`, flattened into every tool's top-level arguments.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Verbosity {
    /// More output (debug lines).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less output (-q warnings and errors only, -qq errors only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,
}

impl Verbosity {
    pub fn level(self) -> i8 {
        self.verbose.min(3) as i8 - self.quiet.min(3) as i8
    }
}

/// Parse the arguments, set up logging, run the tool, and turn its outcome into the process exit code.
/// Errors are printed here and only here, with their whole chain.
pub fn main<A: clap::Parser>(verbosity: fn(&A) -> Verbosity, run: fn(A) -> anyhow::Result<Exit>) -> ExitCode {
    main_from(std::env::args_os(), &[], verbosity, run)
}

/// [`main`] with the tool's manual pages ([`crate::manual`]): each subcommand's help ends with its
/// exit codes and examples. `TOOL --generate-manual DIR` writes the man pages and shell completions
/// (what the Nix package installs), warning about each option without help or subcommand without a page.
pub fn main_with<A: clap::Parser>(
    pages: &[Page],
    verbosity: fn(&A) -> Verbosity,
    run: fn(A) -> anyhow::Result<Exit>,
) -> ExitCode {
    main_from(std::env::args_os(), pages, verbosity, run)
}

/// [`main_with`] with the arguments given (the first is the program name).
pub fn main_from<A: clap::Parser>(
    argv: impl IntoIterator<Item = std::ffi::OsString>,
    pages: &[Page],
    verbosity: fn(&A) -> Verbosity,
    run: fn(A) -> anyhow::Result<Exit>,
) -> ExitCode {
    let argv: Vec<std::ffi::OsString> = argv.into_iter().collect();
    let mut cmd = crate::manual::apply(A::command(), pages);
    if argv.get(1).is_some_and(|a| a == "--generate-manual") {
        return generate_manual(cmd, pages, argv.get(2));
    }
    let parsed = cmd.try_get_matches_from_mut(argv).and_then(|mut m| A::from_arg_matches_mut(&mut m));
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            let e = e.format(&mut cmd);
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    crate::log::init(verbosity(&args).level());
    quiet_broken_pipe_panics();
    // Unwinding (not exiting in the hook) so destructors run: temporary files removed, locks released.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(args))) {
        Ok(outcome) => finish(outcome),
        Err(_) if STDOUT_CLOSED.load(Ordering::Relaxed) => Exit::Ok.into(),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn generate_manual(cmd: clap::Command, pages: &[Page], dir: Option<&std::ffi::OsString>) -> ExitCode {
    crate::log::init(0);
    let Some(dir) = dir else {
        crate::error!("--generate-manual DIR: where to write man1/ and completions/");
        return Exit::Usage.into();
    };
    // Said, not refused: a missing description must not break a package build; each tool's test
    // (`manual::problems` is empty) is what keeps the manual complete.
    for p in crate::manual::problems(&cmd, pages) {
        crate::warn!("{p}");
    }
    finish(crate::manual::generate(cmd, std::path::Path::new(dir)).map(|()| Exit::Ok))
}

pub fn finish(outcome: anyhow::Result<Exit>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        // Only when it is *our stdout* that lost its reader: a broken pipe into a child (restic's stdin,
        // a dump's reader that died) is a failure of the job and must say so.
        Err(err) if is_broken_pipe(&err) && stdout_gone() => Exit::Ok.into(),
        Err(err) => {
            crate::error!("{err:#}");
            Exit::of(&err).into()
        }
    }
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// True once a write to stdout found the reader gone.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// True when stdout is a pipe whose reader has gone: seen by a write already, or by poll(2), which
/// reports POLLERR on the write end of a pipe with no reader left.
fn stdout_gone() -> bool {
    if stdout_closed() {
        return true;
    }
    let mut fd = libc::pollfd { fd: libc::STDOUT_FILENO, events: 0, revents: 0 };
    // SAFETY: one pollfd that lives across the call; timeout 0 never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n == 1 && fd.revents & libc::POLLERR != 0
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// `println!` panics on a closed stdout; this hook keeps that one panic silent (the unwinding is
/// caught in [`main`]) and leaves every other panic to the default hook.
fn quiet_broken_pipe_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        } else {
            default(info);
        }
    }));
}

/// The process's stdout, for a tool's results. Once the reader has gone (EPIPE) every write succeeds
/// without writing, so the job finishes and ends with its own code; any other error (a full disk
/// behind `>`) is returned.
pub fn stdout() -> Stdout {
    Stdout(io::stdout())
}

#[derive(Debug)]
pub struct Stdout(io::Stdout);

impl Stdout {
    fn swallow_closed(&self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                STDOUT_CLOSED.store(true, Ordering::Relaxed);
                Ok(())
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        let r = self.0.lock().write_all(buf);
        self.swallow_closed(r).map(|()| buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        let r = self.0.lock().flush();
        self.swallow_closed(r)
    }
}

/// `println!` through [`stdout`]: an `io::Result<()>` (use `?`) that a closed pipe does not fail.
#[macro_export]
macro_rules! outln {
    () => { ::std::io::Write::write_all(&mut $crate::cli::stdout(), b"\n") };
    ($($arg:tt)+) => { ::std::io::Write::write_all(&mut $crate::cli::stdout(), format!("{}\n", format_args!($($arg)+)).as_bytes()) };
}

/// `print!` through [`stdout`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)+) => { ::std::io::Write::write_all(&mut $crate::cli::stdout(), format!($($arg)+).as_bytes()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_into_a_child_is_a_failure_while_stdout_is_fine() {
        // This test's stdout has its reader (the test runner): the broken pipe is someone else's.
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("feeding restic's stdin");
        assert!(is_broken_pipe(&err) && !stdout_gone());
        assert_eq!(finish(Err(err)), ExitCode::from(1));
        let other = anyhow::Error::new(io::Error::from(io::ErrorKind::StorageFull)).context("printing");
        assert!(!is_broken_pipe(&other));
        assert_eq!(finish(Err(crate::exit::coded(Exit::Config, other))), ExitCode::from(78));
    }
}
