//! Progress of a long phase: a bar with MB/s and ETA on a terminal; elsewhere (a pipe, the journal) a
//! line every 10 % once the phase has run a few seconds, so a slow card never looks like a hang at 0 %
//! and a fast one does not fill the log.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Off a terminal, at most one progress line this often.
const LINE_EVERY: Duration = Duration::from_secs(3);

pub struct Progress {
    bar: ProgressBar,
    phase: &'static str,
    total: u64,
    done: AtomicU64,
    logged_tenths: AtomicU64,
    started: Instant,
    last_line: Mutex<Instant>,
    /// `None`: no lines (a terminal has the bar; tests).
    lines: Option<Duration>,
}

impl Progress {
    pub fn new(phase: &'static str, total: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = if terminal {
            let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
            pb.set_style(
                ProgressStyle::with_template(
                    "{msg:7} [{bar:30}] {bytes}/{total_bytes} {decimal_bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            pb.set_message(phase);
            pb
        } else {
            ProgressBar::hidden()
        };
        Progress { lines: (!terminal).then_some(LINE_EVERY), ..Progress::quiet(phase, total, bar) }
    }

    /// Lines only (no bar), at most one per `every`.
    pub fn lines(phase: &'static str, total: u64, every: Duration) -> Progress {
        Progress { lines: Some(every), ..Progress::quiet(phase, total, ProgressBar::hidden()) }
    }

    /// No bar, no lines (tests).
    pub fn hidden() -> Progress {
        Progress::quiet("", 0, ProgressBar::hidden())
    }

    fn quiet(phase: &'static str, total: u64, bar: ProgressBar) -> Progress {
        Progress {
            bar,
            phase,
            total,
            done: AtomicU64::new(0),
            logged_tenths: AtomicU64::new(0),
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            lines: None,
        }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(line) = self.line(done) {
            homey_kit::info!("{line}");
        }
    }

    /// The line to log after `done` bytes, if one is due.
    fn line(&self, done: u64) -> Option<String> {
        let every = self.lines?;
        if self.total == 0 {
            return None;
        }
        let tenths = done * 10 / self.total;
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        if tenths <= self.logged_tenths.load(Ordering::Relaxed) || tenths >= 10 || last.elapsed() < every {
            return None;
        }
        self.logged_tenths.store(tenths, Ordering::Relaxed);
        *last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        Some(format!(
            "{}: {}% ({} of {}, {:.0} MB/s)",
            self.phase,
            tenths * 10,
            homey_kit::units::format_bytes(done),
            homey_kit::units::format_bytes(self.total),
            done as f64 / secs / 1e6
        ))
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_per_tenth_never_at_the_end() {
        let p = Progress::lines("write", 100, Duration::ZERO);
        let lines: Vec<String> = [5, 10, 12, 35, 100].iter().filter_map(|&d| p.line(d)).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("write: 10% (10 B of 100 B, "), "{lines:?}");
        assert!(lines[1].starts_with("write: 30% ("), "{lines:?}");
        // A fast phase logs nothing.
        let p = Progress::lines("write", 100, Duration::from_secs(3600));
        assert_eq!(p.line(50), None);
        assert_eq!(Progress::hidden().line(50), None);
    }
}
