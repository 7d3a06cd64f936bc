//! Nextcloud maintenance mode through occ. Turning it off is retried and read back, because a cloud
//! left in maintenance mode answers 503 to everyone until a person notices.

use anyhow::Context;
use homey_kit::clock::Clock;
use homey_kit::process::{Cmd, Runner};
use std::time::Duration;

/// occ is PHP on a Raspberry Pi: slow, but not an hour.
const OCC_TIMEOUT: Duration = Duration::from_secs(300);
/// Waits between attempts to turn maintenance mode off (so 5 attempts over ~15 s).
pub const OFF_BACKOFF: [Duration; 4] =
    [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4), Duration::from_secs(8)];

#[derive(Debug, Clone)]
pub struct Occ {
    pub program: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    On,
    Off,
}

impl Occ {
    // Never given a Cancel: after SIGTERM these are exactly the commands that must still run.
    pub fn on_cmd(&self) -> Cmd {
        Cmd::new(&self.program).args(["maintenance:mode", "--on"]).timeout(OCC_TIMEOUT)
    }
    pub fn off_cmd(&self) -> Cmd {
        Cmd::new(&self.program).args(["maintenance:mode", "--off"]).timeout(OCC_TIMEOUT)
    }
    pub fn state_cmd(&self) -> Cmd {
        Cmd::new(&self.program).arg("maintenance:mode").timeout(OCC_TIMEOUT)
    }

    pub fn on(&self, runner: &dyn Runner) -> anyhow::Result<()> {
        runner.run_ok(&self.on_cmd()).context("turning Nextcloud maintenance mode on")?;
        Ok(())
    }

    /// `occ maintenance:mode` prints "Maintenance mode is currently enabled|disabled".
    pub fn state(&self, runner: &dyn Runner) -> anyhow::Result<Mode> {
        let out = runner.run_ok(&self.state_cmd())?;
        parse_state(&out.stdout_str())
    }

    /// Off, confirmed by reading the state back; retried with backoff. Returns the attempts it took.
    pub fn off_confirmed(&self, runner: &dyn Runner, clock: &dyn Clock) -> anyhow::Result<usize> {
        let mut last_err = None;
        for attempt in 0..=OFF_BACKOFF.len() {
            if attempt > 0 {
                clock.sleep(OFF_BACKOFF[attempt - 1]);
            }
            let result = runner.run_ok(&self.off_cmd()).and_then(|_| self.state(runner));
            match result {
                Ok(Mode::Off) => return Ok(attempt + 1),
                Ok(Mode::On) => last_err = Some(anyhow::anyhow!("occ still reports maintenance mode enabled")),
                Err(e) => last_err = Some(e),
            }
            if let Some(e) = &last_err {
                homey_kit::warn!("maintenance mode off, attempt {}: {e:#}", attempt + 1);
            }
        }
        Err(last_err.expect("at least one attempt")).context(format!(
            "NEXTCLOUD IS STILL IN MAINTENANCE MODE after {} attempts: run `{} maintenance:mode --off` by hand",
            OFF_BACKOFF.len() + 1,
            self.program
        ))
    }
}

pub fn parse_state(stdout: &str) -> anyhow::Result<Mode> {
    let s = stdout.to_ascii_lowercase();
    if s.contains("currently enabled") {
        Ok(Mode::On)
    } else if s.contains("currently disabled") {
        Ok(Mode::Off)
    } else {
        anyhow::bail!("cannot read the maintenance state from occ's answer {:?}", stdout.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use homey_kit::clock::FakeClock;
    use homey_kit::process::{FakeRunner, Output};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn off_is_retried_and_read_back() {
        let offs = AtomicUsize::new(0);
        let runner = FakeRunner::new(move |cmd| {
            let line = cmd.argv().join(" ");
            if line.ends_with("--off") {
                return Ok(if offs.fetch_add(1, Ordering::SeqCst) < 2 {
                    Output::failed(1, "database is locked")
                } else {
                    Output::ok("Maintenance mode disabled\n")
                });
            }
            Ok(Output::ok("Maintenance mode is currently disabled\n"))
        });
        let clock = FakeClock::at_unix(0);
        let occ = Occ { program: "nextcloud-occ".into() };
        assert_eq!(occ.off_confirmed(&runner, &clock).unwrap(), 3);
        assert_eq!(clock.sleeps(), &OFF_BACKOFF[..2]);
    }

    #[test]
    fn off_that_never_sticks_is_a_loud_error() {
        let runner = FakeRunner::new(|_| Ok(Output::ok("Maintenance mode is currently enabled\n")));
        let occ = Occ { program: "nextcloud-occ".into() };
        let err = occ.off_confirmed(&runner, &FakeClock::at_unix(0)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("STILL IN MAINTENANCE MODE") && msg.contains("still reports"), "{msg}");
        assert_eq!(runner.calls().len(), 2 * (OFF_BACKOFF.len() + 1));
    }

    #[test]
    fn state_parsing() {
        assert_eq!(parse_state("Maintenance mode is currently enabled").unwrap(), Mode::On);
        assert_eq!(parse_state("Maintenance mode is currently disabled\n").unwrap(), Mode::Off);
        assert!(parse_state("Nextcloud is not installed").is_err());
    }
}
