//! `anfang-web`: the inspector's web app's bridge to `anfang-core`.
//!
//! A thin wasm-bindgen adapter, run inside one dedicated Web Worker
//! (`web/worker.js`). It owns no domain rules: it opens the core's [`Store`]
//! on SQLite's OPFS "sahpool" VFS, and turns JavaScript calls into core
//! calls and core results into plain JS objects (via JSON, so the shapes are
//! exactly the core's serde shapes, documented in one place).
//!
//! How to change it safely:
//! - anything that decides what a finding is, how it syncs, or how a photo
//!   is reduced belongs in `anfang-core`, never here;
//! - the worker calls one method at a time (its queue); a call that arrives
//!   while a sync holds the store gets a `busy` error instead of a panic.
//!
//! On the host this crate compiles to nothing, so the workspace's native
//! tests don't pay for it.
#![cfg(target_arch = "wasm32")]

use anfang_core::domain::{Card, Location};
use anfang_core::http::HttpTransport;
use anfang_core::photo::{self, PhotoOptions, ProcessedPhoto};
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding};
use anfang_core::sync::{SyncEngine, SyncEvent, SyncOptions};
use anfang_core::{Store, StoreError, SystemClock};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The database file's name inside the OPFS pool.
const DB_NAME: &str = "anfang.sqlite3";

struct Inner {
    /// `None` while a sync pass holds it.
    store: Option<Store>,
    /// Photos processed for the finding being recorded, by SHA-256. They are
    /// only in memory until the finding is saved (one transaction in the
    /// core); a discarded draft just drops them.
    drafts: HashMap<String, ProcessedPhoto>,
}

/// The device: its store and the photos of the finding being recorded.
#[wasm_bindgen]
pub struct Device {
    inner: Rc<RefCell<Inner>>,
}

/// An error the page can act on: `kind` says what happened (`invalid`,
/// `photo`, `not_enrolled`, `network`, `refused`, `unauthorized`,
/// `device_revoked`, `device_expired`, `storage`, `busy`), `message` is the
/// core's explanation.
fn error(kind: &str, message: impl std::fmt::Display) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"kind".into(), &kind.into());
    let _ = js_sys::Reflect::set(&o, &"message".into(), &message.to_string().into());
    o.into()
}

/// An error with a stable code: `code` (wire name) and `zh`, the code's
/// Chinese text from the core's one list, so the page translates by code
/// and never by the message.
fn coded_error(kind: &str, code: anfang_core::error_code::ErrorCode, message: impl std::fmt::Display) -> JsValue {
    let o = error(kind, message);
    let _ = js_sys::Reflect::set(&o, &"code".into(), &code.as_str().into());
    let _ = js_sys::Reflect::set(&o, &"zh".into(), &code.zh().into());
    o
}

fn store_error(e: StoreError) -> JsValue {
    match e {
        StoreError::Invalid(v) => {
            let code = v.code;
            coded_error("invalid", code, v)
        }
        StoreError::Photo(p) => error("photo", p),
        StoreError::NotEnrolled => error("not_enrolled", StoreError::NotEnrolled),
        other => error("storage", other),
    }
}

fn transport_error(e: anfang_core::TransportError) -> JsValue {
    use anfang_core::TransportError as T;
    let kind = match &e {
        T::Network(_) | T::Server { .. } => "network",
        T::Unauthorized(_) => "unauthorized",
        // The page shows the code's Chinese text (此设备已被停用) as the
        // heading; the message says what became of the findings.
        T::Revoked { code, .. } => {
            return error(
                code.as_str(),
                "未同步的记录仍保存在本机，未被删除；请向办公室索取新登记码，重新登记后即可上传",
            );
        }
        _ => "refused",
    };
    error(kind, e)
}

fn sync_error(e: anfang_core::SyncError) -> JsValue {
    match e {
        anfang_core::SyncError::NotEnrolled => error("not_enrolled", e),
        anfang_core::SyncError::Unauthorized(t) => transport_error(t),
        anfang_core::SyncError::Store(s) => store_error(s),
    }
}

/// Core values cross to JS as JSON, so JS sees the core's serde shapes.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| error("storage", e))?;
    js_sys::JSON::parse(&text)
}

fn busy() -> JsValue {
    error("busy", "a sync is running; try again when it ends")
}

/// What the page sends to record a finding.
#[derive(Deserialize)]
struct FindingInput {
    point_id: String,
    category: String,
    card: Card,
    #[serde(default)]
    note: Option<String>,
    /// `None` when the phone had no fix: recorded as no fix, never invented.
    #[serde(default)]
    location: Option<LocationInput>,
    /// SHA-256 of photos processed with [`Device::process_photo`], in order.
    photos: Vec<String>,
    /// Set when the finding is made on one of today's drawn visits; the
    /// core checks it is this device's and at the visit's point.
    #[serde(default)]
    assignment_id: Option<uuid::Uuid>,
    /// The verdict of a re-check visit (复查通过 or not); needs
    /// `assignment_id` naming a re-check visit and at least one photo.
    #[serde(default)]
    recheck_passed: Option<bool>,
}

#[derive(Deserialize)]
struct LocationInput {
    lat: f64,
    lon: f64,
    accuracy_m: f64,
    /// When the browser took the fix (ms since the epoch).
    captured_at_ms: f64,
}

#[derive(Serialize)]
struct Status {
    enrolled: bool,
    alias: Option<String>,
    server_url: Option<String>,
    unsynced: u64,
    points: usize,
}

#[derive(Serialize)]
struct PhotoInfo<'a> {
    sha256: &'a str,
    width: u32,
    height: u32,
    bytes: usize,
}

#[wasm_bindgen]
impl Device {
    /// Installs the OPFS "sahpool" VFS as SQLite's default and opens the
    /// store on it. Must run in a dedicated worker. Installing first matters:
    /// without it SQLite silently opens an in-memory database.
    pub async fn open() -> Result<Device, JsValue> {
        let cfg = sqlite_wasm_vfs::sahpool::OpfsSAHPoolCfgBuilder::new().directory("anfang").build();
        sqlite_wasm_vfs::sahpool::install::<sqlite_wasm_rs::WasmOsCallback>(&cfg, true)
            .await
            .map_err(|e| error("storage", format!("cannot open browser storage (OPFS): {e}")))?;
        let conn = rusqlite::Connection::open(DB_NAME).map_err(|e| error("storage", e))?;
        // Rollback journal, not WAL: the pool has no shared memory.
        let store = Store::from_connection(conn).map_err(store_error)?;
        Ok(Device { inner: Rc::new(RefCell::new(Inner { store: Some(store), drafts: HashMap::new() })) })
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, JsValue>) -> Result<T, JsValue> {
        let mut inner = self.inner.borrow_mut();
        let store = inner.store.as_mut().ok_or_else(busy)?;
        f(store)
    }

    /// Enrolment and counts for the home screen.
    pub fn status(&self) -> Result<JsValue, JsValue> {
        let status = self.with_store(|s| {
            let e = s.enrollment().map_err(store_error)?;
            Ok(Status {
                enrolled: e.is_some(),
                alias: e.as_ref().map(|e| e.alias.clone()),
                server_url: e.map(|e| e.server_url),
                unsynced: s.unsynced_count().map_err(store_error)?,
                points: s.points(None).map_err(store_error)?.len(),
            })
        })?;
        to_js(&status)
    }

    /// Enrolls this device with a one-time code, then pulls reference data.
    /// Resolves to the alias.
    pub fn enroll(&self, server_url: String, code: String, label: String) -> js_sys::Promise {
        let this = Device { inner: self.inner.clone() };
        wasm_bindgen_futures::future_to_promise(async move {
            let public_key = this.with_store(|s| Ok(s.device_key().map_err(store_error)?.public_key_hex()))?;
            let request = EnrollRequest { code: code.trim().to_owned(), device_label: Some(label), public_key };
            let response = HttpTransport::enroll(&server_url, &request).await.map_err(transport_error)?;
            this.with_store(|s| {
                s.save_enrollment(&Enrollment {
                    server_url: server_url.trim().trim_end_matches('/').to_owned(),
                    device_id: response.device_id.to_string(),
                    token: response.token,
                    alias: response.alias.clone(),
                })
                .map_err(store_error)
            })?;
            Ok(response.alias.into())
        })
    }

    /// One sync pass; `on_event` receives the core's progress events
    /// (`photos_planned`, `photo_progress`, `photo_done`, `finding_done`).
    /// Resolves to the core's `SyncReport`.
    pub fn sync(&self, on_event: js_sys::Function) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut store = inner.borrow_mut().store.take().ok_or_else(busy)?;
            let result = async {
                let e = store.enrollment().map_err(store_error)?.ok_or_else(|| store_error(StoreError::NotEnrolled))?;
                let transport = HttpTransport::new(&e.server_url, &e.token).map_err(transport_error)?;
                let mut forward = |event: SyncEvent| {
                    if let Ok(v) = to_js(&event) {
                        let _ = on_event.call1(&JsValue::NULL, &v);
                    }
                };
                let options = SyncOptions { ignore_backoff: true, ..Default::default() };
                let report = SyncEngine::new(&mut store, &transport, &SystemClock)
                    .with_options(options)
                    .sync(&mut forward)
                    .await
                    .map_err(sync_error)?;
                to_js(&report)
            }
            .await;
            // The store goes back whatever happened, or the app would be stuck "busy".
            inner.borrow_mut().store = Some(store);
            result
        })
    }

    /// Active points, nearest first when a position is given; `query`
    /// (case-insensitive) keeps those whose name, id or address contains it.
    pub fn points(&self, lat: Option<f64>, lon: Option<f64>, query: Option<String>) -> Result<JsValue, JsValue> {
        let near = lat.zip(lon);
        let mut points = self.with_store(|s| s.points(near).map_err(store_error))?;
        if let Some(q) = query.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty()) {
            points.retain(|p| {
                p.point.name.to_lowercase().contains(&q)
                    || p.point.id.to_lowercase().contains(&q)
                    || p.point.address.as_deref().is_some_and(|a| a.to_lowercase().contains(&q))
                    || p.unit_name.as_deref().is_some_and(|u| u.to_lowercase().contains(&q))
            });
        }
        to_js(&points)
    }

    /// Active categories in the office's order.
    pub fn categories(&self) -> Result<JsValue, JsValue> {
        to_js(&self.with_store(|s| s.categories().map_err(store_error))?)
    }

    /// Runs a camera file through the shared photo pipeline and keeps the
    /// result for the finding being recorded. Resolves to
    /// `{sha256, width, height, bytes}`; the thumbnail comes from
    /// [`Self::draft_thumbnail`].
    pub fn process_photo(&self, input: &[u8]) -> Result<JsValue, JsValue> {
        let processed = photo::process(input, &PhotoOptions::default()).map_err(|e| error("photo", e))?;
        let info = to_js(&PhotoInfo {
            sha256: &processed.sha256,
            width: processed.width,
            height: processed.height,
            bytes: processed.jpeg.len(),
        })?;
        self.inner.borrow_mut().drafts.insert(processed.sha256.clone(), processed);
        Ok(info)
    }

    /// The thumbnail of a photo processed for the current draft.
    pub fn draft_thumbnail(&self, sha256: &str) -> Option<Vec<u8>> {
        self.inner.borrow().drafts.get(sha256).map(|p| p.thumbnail.clone())
    }

    /// Forgets a draft photo the inspector removed.
    pub fn discard_photo(&self, sha256: &str) {
        self.inner.borrow_mut().drafts.remove(sha256);
    }

    /// Forgets every draft photo (the draft was abandoned).
    pub fn discard_draft(&self) {
        self.inner.borrow_mut().drafts.clear();
    }

    /// Saves a finding with its photos and outbox entry in one transaction.
    /// Takes a JSON object (see `FindingInput`); resolves to the stored
    /// `FindingContent`. Draft photos stay available if saving fails, so the
    /// inspector can fix the form and save again.
    pub fn record_finding(&self, input: JsValue) -> Result<JsValue, JsValue> {
        let text: String = js_sys::JSON::stringify(&input)?.into();
        let input: FindingInput =
            serde_json::from_str(&text).map_err(|e| error("invalid", format!("malformed finding: {e}")))?;
        let location = match input.location {
            Some(l) => Some(Location {
                lat: l.lat,
                lon: l.lon,
                accuracy_m: l.accuracy_m,
                captured_at: jiff::Timestamp::from_millisecond(l.captured_at_ms as i64)
                    .map_err(|e| error("invalid", format!("location time: {e}")))?,
            }),
            None => None,
        };
        let photos = {
            let inner = self.inner.borrow();
            input
                .photos
                .iter()
                .map(|sha| {
                    inner
                        .drafts
                        .get(sha)
                        .cloned()
                        .ok_or_else(|| error("photo", format!("photo {sha} is no longer in memory; add it again")))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let new = NewFinding {
            point_id: input.point_id,
            unit_id: None,
            category: input.category,
            card: input.card,
            note: input.note,
            location,
            photos,
        };
        let content = self.with_store(|s| {
            match (input.assignment_id, input.recheck_passed) {
                (Some(a), Some(passed)) => s.record_recheck_finding(a, passed, new, &SystemClock),
                (Some(a), None) => s.record_assignment_finding(a, new, &SystemClock),
                (None, _) => s.record_finding(new, &SystemClock),
            }
            .map_err(store_error)
        })?;
        let mut inner = self.inner.borrow_mut();
        for sha in &content.photos {
            inner.drafts.remove(sha);
        }
        drop(inner);
        to_js(&content)
    }

    /// Today's drawn visits (office time), earliest slot first, each with its
    /// point and unit names and how many findings were recorded on it.
    /// They arrive with a sync, from their lead time on.
    pub fn todays_visits(&self) -> Result<JsValue, JsValue> {
        let tz = anfang_core::office_timezone();
        to_js(&self.with_store(|s| s.todays_visit_list(&SystemClock, &tz).map_err(store_error))?)
    }

    /// Every finding on the device, newest first, with its sync state.
    pub fn findings(&self) -> Result<JsValue, JsValue> {
        to_js(&self.with_store(|s| s.findings().map_err(store_error))?)
    }

    /// The stored thumbnail of a saved photo.
    pub fn thumbnail(&self, sha256: &str) -> Result<Option<Vec<u8>>, JsValue> {
        self.with_store(|s| s.photo_thumbnail(sha256).map_err(store_error))
    }

    /// The stored photo itself (for the finding view).
    pub fn photo(&self, sha256: &str) -> Result<Option<Vec<u8>>, JsValue> {
        self.with_store(|s| s.photo_jpeg(sha256).map_err(store_error))
    }

    /// A re-check visit's before-photo, as the last sync fetched it (kept
    /// for offline); `None` until then.
    pub fn recheck_photo(&self, sha256: &str) -> Result<Option<Vec<u8>>, JsValue> {
        self.with_store(|s| s.recheck_photo(sha256).map_err(store_error))
    }

    /// Whether the server has confirmed holding this photo.
    pub fn photo_uploaded(&self, sha256: &str) -> Result<bool, JsValue> {
        self.with_store(|s| s.photo_uploaded(sha256).map_err(store_error))
    }

    /// Findings not yet on the server.
    pub fn unsynced_count(&self) -> Result<f64, JsValue> {
        self.with_store(|s| s.unsynced_count().map(|n| n as f64).map_err(store_error))
    }
}
