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

