//! What every binary's `main` shares: `-v`/`-q`, printing the error chain once, the exit code.

use crate::exit::Exit;
use std::process::ExitCode;

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
    let args = match A::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    crate::log::init(verbosity(&args).level());
    finish(run(args))
}

pub fn finish(outcome: anyhow::Result<Exit>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            crate::error!("{err:#}");
            Exit::of(&err).into()
        }
    }
}
