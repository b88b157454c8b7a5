//! The service layer: the server's business rules, one module per
//! capability. Handlers (`routes/`), the console and the command line all
//! call these; they decide, and `db` only stores and reads.
//!
//! ```text
//!  routes/*.rs, routes/console*, cli.rs ──► app::<capability> ──► db::Db (SQLite today)
//!        parse and answer                     decide                 store
//! ```
//!
//! A service takes the storage handle ([`crate::db::Db`]) and the instant it
//! acts at (`now`, from the server's [`crate::clock::Clock`]) explicitly, so
//! the command line, which has no `AppState`, calls the same functions, and
//! tests set time by passing it.
//!
//! - [`sync`]: enrollment, pull, push (validation, signatures, clock skew,
//!   drawn-visit checks);
//! - [`review`]: review decisions;
//! - [`bulletins`]: compiling, editing, recompiling and issuing bulletins;
//! - [`reference`]: units, points, categories, settings, inspectors and
//!   their codes, CSV imports;
//! - [`devices`]: revoking devices, disabling users, token rotation;
//! - [`identities`]: inspectors' real identities, always logged;
//! - [`draws`]: drawn visits, reveal, coverage;
//! - [`findings`]: the office's view of findings, with its redaction;
//! - [`cases`]: rectification cases: the unit's answers and requests, the
//!   office's decisions, re-check results, attachments;
//! - [`scheduler`]: what is due for a case when (notices, 催办, escalation);
//! - [`contacts`]: a unit's contacts and the outbox's SMTP settings;
//! - [`notices`]: the delivery log and retrying a failed notice;
//! - [`rechecks`]: drawing re-check visits (复查) by an independent inspector;
//! - [`exposure`]: the exposure page (曝光台): proposing, publishing (four
//!   eyes), withdrawing, and an entry's public state;
//! - [`league`]: the monthly point league: computing a month, issuing it
//!   once, recomputing it, and the versioned rule sets;
//! - [`jobs`]: the lease that runs the background jobs on one instance at a
//!   time when several serve one installation.

pub mod backups;
pub mod bulletins;
pub mod cases;
pub mod contacts;
pub mod devices;
pub mod draws;
pub mod exposure;
pub mod findings;
pub mod identities;
pub mod jobs;
pub mod league;
#[cfg(test)]
mod league_tests;
pub mod notices;
pub mod rechecks;
pub mod reference;
pub mod review;
pub mod scheduler;
pub mod sync;
