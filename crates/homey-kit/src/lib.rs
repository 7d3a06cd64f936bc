//! The shared kit of the homey tools.
//!
//! Every tool is a thin `main.rs` over [`cli::main`]; everything that touches the system from more than
//! one tool lives here, so there is one place to get it right: exit codes ([`exit`]), journald-aware
//! logging ([`log`]), secrets ([`secret`]), atomic writes ([`fs`]), the state directory with its hash
//! gate and lock ([`state`]), the only way to start a child process ([`process`]), time ([`clock`]) and
//! Prometheus textfile output ([`prom`]).

pub mod cli;
pub mod clock;
pub mod exit;
pub mod fs;
pub mod log;
pub mod manual;
pub mod process;
pub mod prom;
pub mod secret;
pub mod state;
pub mod units;

pub use exit::{Exit, ResultExt};
