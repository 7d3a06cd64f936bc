//! Progress of a long phase: a bar with MB/s and ETA on a terminal; elsewhere (a pipe, the journal) a
//! line every 10 %, so a slow card never looks like a hang at 0 %.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Progress {
    bar: ProgressBar,
    phase: &'static str,
    total: u64,
    done: AtomicU64,
    logged_tenths: AtomicU64,
    started: Instant,
    lines: bool,
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
        Progress { lines: !terminal, ..Progress::quiet(phase, total, bar) }
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
            lines: false,
        }
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if !self.lines || self.total == 0 {
            return;
        }
        let tenths = done * 10 / self.total;
        if tenths > self.logged_tenths.load(Ordering::Relaxed) && tenths < 10 {
            self.logged_tenths.store(tenths, Ordering::Relaxed);
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            homey_kit::info!(
                "{}: {}% ({} of {}, {:.0} MB/s)",
                self.phase,
                tenths * 10,
                homey_kit::units::format_bytes(done),
                homey_kit::units::format_bytes(self.total),
                done as f64 / secs / 1e6
            );
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
