//! `anfang-core`: the inspection client core shared by the phone app (as
//! WebAssembly) and the command-line field client, and the domain and wire
//! types the server validates with.
//!
//! - [`domain`]: units, points, categories, cards, findings and their rules;
//! - [`protocol`]: the sync protocol's wire types;
//! - [`evidence`]: device keys and signatures over findings;
//! - [`photo`]: camera file → bounded, metadata-free JPEG + thumbnail;
//! - [`store`]: the on-device SQLite store (findings, photos, outbox, reference data);
//! - [`sync`]: the sync engine, over a [`sync::Transport`];
//! - [`http`]: the HTTP transport (reqwest; works natively and in the browser);
//! - [`text`]: the rule for typed text (no control characters).
//!
//! **Invariant:** nothing here knows about axum or the server's storage; the
//! core does no I/O except through the SQLite connection it is given and the
//! transport it is handed, so the same code runs in a browser worker.

pub mod clock;
pub mod domain;
pub mod error_code;
pub mod evidence;
#[cfg(feature = "http")]
pub mod http;
pub mod photo;
pub mod protocol;
pub mod store;
pub mod sync;
pub mod text;

pub use clock::{Clock, SystemClock, office_timezone};
pub use domain::{Card, Category, FindingContent, Location, Point, PointKind, Unit, ValidationError};
pub use store::{Store, StoreError};
pub use sync::{SyncEngine, SyncError, SyncReport, Transport, TransportError};
