//! One line per event on stderr. Under systemd (`JOURNAL_STREAM` set) every line starts with the
//! sd-daemon priority prefix (`<3>` … `<7>`), so the journal keeps the level and `journalctl -p warning`
//! works; on a terminal the level is written as a word instead.
//!
//! The level and the journal flag are process-wide on purpose: logging is the one side effect every
//! layer needs, and threading a logger through pure code would make it impure.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 3,
    Warn = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static JOURNAL: AtomicBool = AtomicBool::new(false);

/// Set up logging for this process: `verbosity` is `-v` count minus `-q` count.
pub fn init(verbosity: i8) {
    init_with(verbosity, std::env::var_os("JOURNAL_STREAM").is_some());
}

pub fn init_with(verbosity: i8, journal: bool) {
    let level = match verbosity {
        i8::MIN..=-2 => Level::Error,
        -1 => Level::Warn,
        0 => Level::Info,
        _ => Level::Debug,
    };
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
    JOURNAL.store(journal, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// The line as it is written, without the newline. Multi-line messages are joined so one event stays
/// one journal entry.
pub fn format_line(level: Level, msg: &str, journal: bool) -> String {
    let msg = msg.trim_end().replace('\n', " | ");
    if journal {
        format!("<{}>{msg}", level as u8)
    } else {
        match level {
            Level::Error => format!("error: {msg}"),
            Level::Warn => format!("warning: {msg}"),
            Level::Debug => format!("debug: {msg}"),
            Level::Notice | Level::Info => msg,
        }
    }
}

pub fn write(level: Level, msg: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let line = format_line(level, &msg.to_string(), JOURNAL.load(Ordering::Relaxed));
    // One write call per line, so lines from concurrent threads never interleave.
    let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
}

#[macro_export]
macro_rules! error { ($($a:tt)+) => { $crate::log::write($crate::log::Level::Error, format_args!($($a)+)) } }
#[macro_export]
macro_rules! warn { ($($a:tt)+) => { $crate::log::write($crate::log::Level::Warn, format_args!($($a)+)) } }
#[macro_export]
macro_rules! notice { ($($a:tt)+) => { $crate::log::write($crate::log::Level::Notice, format_args!($($a)+)) } }
#[macro_export]
macro_rules! info { ($($a:tt)+) => { $crate::log::write($crate::log::Level::Info, format_args!($($a)+)) } }
#[macro_export]
macro_rules! debug { ($($a:tt)+) => { $crate::log::write($crate::log::Level::Debug, format_args!($($a)+)) } }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_prefix_only_under_journal_stream() {
        assert_eq!(format_line(Level::Error, "boom", true), "<3>boom");
        assert_eq!(format_line(Level::Debug, "x", true), "<7>x");
        assert_eq!(format_line(Level::Error, "boom", false), "error: boom");
        assert_eq!(format_line(Level::Info, "ok", false), "ok");
        assert!(!format_line(Level::Warn, "w", false).starts_with('<'));
    }

    #[test]
    fn multi_line_messages_stay_one_line() {
        assert_eq!(format_line(Level::Info, "a\nb\n", false), "a | b");
    }
}
