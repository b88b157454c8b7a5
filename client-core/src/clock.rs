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

/// The office's time zone, which decides what "today" is for drawn visits.
///
/// Offices are in mainland China: `Asia/Shanghai`, which has been UTC+8 with
/// no daylight saving since 1991, so the fixed offset is the same zone for
/// any date a visit can have. A fixed offset also keeps the time zone
/// database out of the browser build (about 70 KB of WebAssembly).
pub fn office_timezone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}
