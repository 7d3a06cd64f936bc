//! Time as a seam: tools ask a [`Clock`] for the time and to sleep, so tests run on a [`FakeClock`]
//! that never waits.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
    fn sleep(&self, d: Duration);
    fn unix(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// A clock that starts where it is told and moves only when slept on or advanced.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<SystemTime>,
    slept: Mutex<Vec<Duration>>,
}

impl FakeClock {
    pub fn at_unix(secs: u64) -> Self {
        FakeClock { now: Mutex::new(UNIX_EPOCH + Duration::from_secs(secs)), slept: Mutex::default() }
    }
    pub fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }
    /// Every sleep asked of this clock, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap().clone()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.slept.lock().unwrap().push(d);
        self.advance(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_slept() {
        let c = FakeClock::at_unix(1000);
        assert_eq!(c.unix(), 1000);
        c.sleep(Duration::from_secs(30));
        assert_eq!(c.unix(), 1030);
        assert_eq!(c.sleeps(), vec![Duration::from_secs(30)]);
    }
}
