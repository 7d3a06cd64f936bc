//! One exit-code enum for all homey tools, so a unit's `SuccessExitStatus=`, an alert rule or a person
//! reading `systemctl status` learns the same thing from every tool.

use std::fmt;
use std::process::ExitCode;

/// The documented exit codes. The numbers follow sysexits.h where one fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// 0: the job did what it was asked.
    Ok = 0,
    /// 1: the job ran and failed.
    Failed = 1,
    /// 2: the command line was wrong.
    Usage = 2,
    /// 3: the job is done, with warnings worth a look.
    Warnings = 3,
    /// 65 (EX_DATAERR): an input file is wrong; nothing was changed.
    BadInput = 65,
    /// 69 (EX_UNAVAILABLE): a service the job needs cannot be reached or refused us.
    Unavailable = 69,
    /// 75 (EX_TEMPFAIL): temporary; try again later (a lock is held, a rate limit).
    TryAgain = 75,
    /// 78 (EX_CONFIG): the configuration is wrong; nothing ran.
    Config = 78,
}

/// The `--help` footer every tool shows.
pub const EXIT_HELP: &str = "Exit codes:
   0  ok
   1  the job failed
   2  usage error
   3  done, with warnings
  65  bad input data; nothing changed
  69  a service it needs is unavailable
  75  temporary failure (lock held, rate limit); try again
  78  bad configuration; nothing ran";

impl Exit {
    pub const ALL: [Exit; 8] = [
        Exit::Ok,
        Exit::Failed,
        Exit::Usage,
        Exit::Warnings,
        Exit::BadInput,
        Exit::Unavailable,
        Exit::TryAgain,
        Exit::Config,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Failed => "the job failed",
            Exit::Usage => "usage error",
            Exit::Warnings => "done, with warnings",
            Exit::BadInput => "bad input data; nothing changed",
            Exit::Unavailable => "a service it needs is unavailable",
            Exit::TryAgain => "temporary failure; try again",
            Exit::Config => "bad configuration; nothing ran",
        }
    }

    /// The exit code an error asks for: the innermost [`Coded`] in its chain, else `Failed`.
    pub fn of(err: &anyhow::Error) -> Exit {
        err.chain().find_map(|e| e.downcast_ref::<Coded>().map(|c| c.exit)).unwrap_or(Exit::Failed)
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// An error that carries the exit code it should end the process with. It is transparent: it shows the
/// wrapped error's message and chain, so `{:#}` prints exactly what it would have without it.
#[derive(Debug)]
pub struct Coded {
    pub exit: Exit,
    inner: anyhow::Error,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Coded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Make an error that ends the process with `exit`.
pub fn coded(exit: Exit, err: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Coded { exit, inner: err.into() })
}

/// `bail!` with an exit code: `fail!(Exit::Config, "{path}: unknown key {key:?}")`.
#[macro_export]
macro_rules! fail {
    ($exit:expr, $($arg:tt)+) => {
        return ::std::result::Result::Err($crate::exit::coded($exit, ::anyhow::anyhow!($($arg)+)))
    };
}

/// Attach an exit code to any result's error.
pub trait ResultExt<T> {
    fn exit_code(self, exit: Exit) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn exit_code(self, exit: Exit) -> anyhow::Result<T> {
        self.map_err(|e| coded(exit, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_survives_added_context_and_chain_prints_once() {
        let err: anyhow::Result<()> = Err(std::io::Error::other("disk full")).exit_code(Exit::Config);
        let err = err.context("writing /run/x").unwrap_err();
        assert_eq!(Exit::of(&err), Exit::Config);
        assert_eq!(format!("{err:#}"), "writing /run/x: disk full");
    }

    #[test]
    fn uncoded_errors_are_failures() {
        assert_eq!(Exit::of(&anyhow::anyhow!("x")), Exit::Failed);
    }

    #[test]
    fn help_footer_lists_every_code() {
        for e in Exit::ALL {
            assert!(EXIT_HELP.contains(&format!("{:>2}  ", e.code())), "{e:?}");
        }
    }

    #[test]
    fn codes_are_the_documented_numbers() {
        let nums: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(nums, [0, 1, 2, 3, 65, 69, 75, 78]);
    }
}
