//! Time as an injectable dependency, so tests can pin "now" and the browser
//! build can read the JavaScript clock through jiff.

/// A source of the current time.
pub trait Clock {
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock (the JavaScript clock in the browser).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that always says the same instant; for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub jiff::Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}
