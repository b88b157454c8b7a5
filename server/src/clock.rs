//! The server's one clock. Every "now" the server acts on — session and
//! code lifetimes, a push's receipt time and clock-skew check, evidence
//! timestamps, bulletins, draws, the unit portal — comes from the
//! [`Clock`] in [`crate::AppState`], and is passed *into* `db` functions:
//! storage never reads the time itself.
//!
//! Production runs on the system clock. Tests set time instead of writing
//! rows by hand: in process with a [`ManualClock`], and for the real binary
//! with `ANFANG_TEST_NOW` (RFC 3339), which the command line reads once at
//! start-up ([`Clock::from_test_env`]) and never again.

use jiff::Timestamp;
use std::sync::{Arc, Mutex};

/// A cheap handle to the server's time source.
#[derive(Clone)]
pub struct Clock(Arc<dyn anfang_core::clock::Clock + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(anfang_core::clock::SystemClock))
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: Timestamp) -> Self {
        Clock::from(ManualClock::new(at))
    }

    /// The clock the binary runs on: fixed at `ANFANG_TEST_NOW` when that is
    /// set (tests only; returned so the caller can warn), the system clock
    /// otherwise. Read once, at start-up.
    pub fn from_test_env() -> (Self, Option<Timestamp>) {
        match std::env::var("ANFANG_TEST_NOW").ok().and_then(|v| v.parse::<Timestamp>().ok()) {
            Some(at) => (Clock::fixed(at), Some(at)),
            None => (Clock::system(), None),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.0.now()
    }

    /// "Now" in milliseconds since the epoch, as most tables store it.
    pub fn now_ms(&self) -> i64 {
        self.now().as_millisecond()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl From<ManualClock> for Clock {
    fn from(c: ManualClock) -> Self {
        Clock(Arc::new(c))
    }
}

/// A clock tests move by hand; clones share the time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = t.checked_add(by).expect("a test clock stays within jiff's range");
    }
}

impl anfang_core::clock::Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let t0: Timestamp = "2026-11-27T01:00:00Z".parse().unwrap();
        let hand = ManualClock::new(t0);
        let clock = Clock::from(hand.clone());
        let copy = clock.clone();
        assert_eq!(clock.now(), t0);
        hand.advance(jiff::SignedDuration::from_mins(31));
        assert_eq!(copy.now(), t0 + jiff::SignedDuration::from_mins(31));
        hand.set(t0);
        assert_eq!(clock.now_ms(), t0.as_millisecond());
    }
}
