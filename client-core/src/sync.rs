//! The sync engine: pulls reference data, uploads photos resumably, pushes
//! findings idempotently.
//!
//! The engine is a state machine over the [`Store`] and a [`Transport`]; it
//! owns no sockets or timers, so the CLI (tokio) and the browser worker
//! (fetch) drive the same code, and tests drive it with fault-injecting
//! transports.
//!
//! Rules that keep the queue from wedging, and findings from doubling:
//! - a finding is pushed only after every one of its photos is confirmed
//!   on the server (dependent requests, in order);
//! - the server is idempotent by finding id, so a push whose response was
//!   lost is simply pushed again and answered `duplicate`;
//! - network errors, 5xx and 429 are retried with backoff; when retries run
//!   out the pass stops and the items keep their place, with a backoff
//!   persisted for the automatic scheduler;
//! - any other 4xx is permanent for that item only: it is parked as
//!   `rejected` with the server's reason and the rest of the queue goes on.

use crate::clock::Clock;
use crate::protocol::{
    PullResponse, PushOutcome, PushRequest, PushResponse, SignedFinding, TokenRotation, UploadStatus,
};
use crate::store::{OutboxItem, Store, StoreError};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// How the engine talks to the server. Implemented by [`crate::http::HttpTransport`]
/// and by test doubles.
// The futures are not `Send`: in the browser nothing is, and natively the
// engine runs on one task that owns the store.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// `GET /api/v1/sync/pull?cursor=…`
    async fn pull(&self, cursor: Option<&str>) -> Result<PullResponse, TransportError>;
    /// `POST /api/v1/uploads`: announce a photo (or ask where its upload stands).
    async fn upload_status(&self, sha256: &str, size: u64) -> Result<UploadStatus, TransportError>;
    /// `PATCH /api/v1/uploads/{sha256}` with the bytes starting at `offset`.
    async fn upload_chunk(&self, sha256: &str, offset: u64, chunk: &[u8]) -> Result<UploadStatus, TransportError>;
    /// `POST /api/v1/sync/push`
    async fn push(&self, request: &PushRequest) -> Result<PushResponse, TransportError>;
    /// `POST /api/v1/device/token`: this device's next token (see
    /// [`PullResponse::rotate_token`]). Transports that cannot rotate refuse.
    async fn rotate_token(&self) -> Result<TokenRotation, TransportError> {
        Err(TransportError::Rejected { status: 404, message: "this transport cannot rotate tokens".into() })
    }
    /// `GET /api/v1/sync/recheck-photos/{sha256}`: a before-photo of one of
    /// this inspector's re-check visits. Transports that cannot fetch refuse.
    async fn recheck_photo(&self, sha256: &str) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Rejected { status: 404, message: format!("this transport cannot fetch photo {sha256}") })
    }
    /// Waits before a retry.
    async fn pause(&self, duration: Duration);
}

/// A failed request, classified by what the engine should do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// No answer: no network, connection cut, timeout. Retry later.
    #[error("server unreachable: {0}")]
    Network(String),
    /// The server failed or is overloaded (5xx, 429). Retry later.
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
    /// The server refused the request for good (4xx). Don't resend it.
    #[error("{message} (HTTP {status})")]
    Rejected { status: u16, message: String },
    /// The device's token is unknown or revoked: it must enroll again.
    #[error("the server no longer accepts this device ({0}); enroll it again with a new code")]
    Unauthorized(String),
    /// The office revoked this device (`device_revoked`), or it went unused
    /// too long (`device_expired`). Its unsynced findings stay in the store.
    #[error(
        "{}（{message}）：未同步的记录仍保存在本机，可导出交给办公室，或用新登记码重新登记后上传",
        code.zh()
    )]
    Revoked { code: crate::error_code::ErrorCode, message: String },
    /// A chunk did not start where the server's upload stands.
    #[error("upload offset conflict: the server holds {server_offset} bytes")]
    OffsetMismatch { server_offset: u64 },
    /// The pull cursor is unknown to the server: pull again from the start.
    #[error("the server asked for a full refresh of reference data")]
    CursorReset,
}

impl TransportError {
    /// Whether the same request may succeed later unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TransportError::Network(_) | TransportError::Server { .. })
    }
}

/// Why a sync could not run at all. Interruptions by the network are not
/// errors: they end the pass early and are reported in [`SyncReport::interrupted`].
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this device is not enrolled yet: enroll it with a code from the office first")]
    NotEnrolled,
    #[error(transparent)]
    Unauthorized(TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tuning of one sync pass.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Findings per push request.
    pub batch_size: usize,
    /// Bytes per upload chunk.
    pub chunk_bytes: usize,
    /// Retries of one request before the pass gives up.
    pub max_retries: u32,
    /// First retry delay; doubled on each retry.
    pub base_backoff: Duration,
    /// Include items that are waiting out a backoff (a manual "sync now").
    pub ignore_backoff: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            batch_size: 50,
            chunk_bytes: crate::protocol::UPLOAD_CHUNK_BYTES,
            max_retries: 3,
            base_backoff: Duration::from_millis(500),
            ignore_backoff: true,
        }
    }
}

/// Progress, for a progress bar or the phone's sync screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    /// About to upload `count` photos totalling `bytes`.
    PhotosPlanned {
        count: usize,
        bytes: u64,
    },
    PhotoProgress {
        sha256: String,
        sent: u64,
        total: u64,
    },
    PhotoDone {
        sha256: String,
    },
    FindingDone {
        id: Uuid,
        state: &'static str,
    },
}

/// What one sync pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Reference rows (units, points, categories) received.
    pub reference_changes: usize,
    /// Findings the server stored in this pass.
    pub findings_pushed: usize,
    /// Findings the server already had (an earlier push whose answer was lost).
    pub findings_already_on_server: usize,
    /// Findings the server refused for good in this pass.
    pub findings_rejected: usize,
    /// Photos completed in this pass.
    pub photos_uploaded: usize,
    /// Photos the server already had, so no byte was sent.
    pub photos_already_on_server: usize,
    /// Photo bytes sent in this pass (a resumed upload counts only the rest).
    pub photo_bytes_sent: u64,
    /// Before-photos of re-check visits fetched in this pass (kept for offline).
    pub recheck_photos_fetched: usize,
    /// What the server remarked on accepted findings (e.g. a re-check whose
    /// case had moved on), in Chinese with the server's detail.
    pub notices: Vec<String>,
    /// Findings still waiting after this pass.
    pub pending: u64,
    /// Set when the pass stopped early because the server could not be reached.
    pub interrupted: Option<String>,
}

/// Runs sync passes for one device store.
pub struct SyncEngine<'a, T: Transport> {
    store: &'a mut Store,
    transport: &'a T,
    clock: &'a dyn Clock,
    options: SyncOptions,
}

/// An interruption of the pass: either the network (stop, report) or fatal.
enum Stop {
    Interrupted(TransportError),
    Fatal(SyncError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Fatal(SyncError::Store(e))
    }
}

impl<'a, T: Transport> SyncEngine<'a, T> {
    pub fn new(store: &'a mut Store, transport: &'a T, clock: &'a dyn Clock) -> Self {
        Self { store, transport, clock, options: SyncOptions::default() }
    }

    pub fn with_options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// One full pass: upload and push everything due, then pull reference data.
    pub async fn sync(&mut self, on_event: &mut dyn FnMut(SyncEvent)) -> Result<SyncReport, SyncError> {
        if self.store.enrollment()?.is_none() {
            return Err(SyncError::NotEnrolled);
        }
        let mut report = SyncReport::default();
        // Evidence first: on a link that may drop any second, the findings
        // leave the phone before the reference data is refreshed.
        let mut rotate = false;
        let outcome = match self.push_all(&mut report, on_event).await {
            Ok(()) => match self.pull(&mut report, &mut rotate).await {
                Ok(()) => self.fetch_recheck_photos(&mut report).await,
                Err(stop) => Err(stop),
            },
            Err(stop) => Err(stop),
        };
        if outcome.is_ok() && rotate {
            self.rotate_token().await?;
        }
        match outcome {
            Ok(()) => {}
            Err(Stop::Interrupted(e)) => {
                tracing::info!(error = %e, "sync pass interrupted");
                report.interrupted = Some(e.to_string());
            }
            Err(Stop::Fatal(e)) => return Err(e),
        }
        report.pending = self.store.unsynced_count()?;
        Ok(report)
    }

    /// Replaces the device's token when the server asked for it. Saved before
    /// anything else uses it; the server keeps the old one valid until the
    /// new one is first used, so a lost answer only means "rotate next time".
    async fn rotate_token(&mut self) -> Result<(), SyncError> {
        match self.transport.rotate_token().await {
            Ok(TokenRotation { token }) => {
                let Some(mut enrollment) = self.store.enrollment()? else { return Ok(()) };
                enrollment.token = token;
                // Saving an enrolment forgets the pull cursor (it may be
                // another server's); this is the same server, keep it.
                let cursor = self.store.pull_cursor()?;
                self.store.save_enrollment(&enrollment)?;
                self.store.set_pull_cursor(cursor.as_deref())?;
                Ok(())
            }
            Err(e @ (TransportError::Unauthorized(_) | TransportError::Revoked { .. })) => {
                Err(SyncError::Unauthorized(e))
            }
            Err(e) => {
                tracing::info!(error = %e, "token rotation deferred to the next pass");
                Ok(())
            }
        }
    }

    async fn pull(&mut self, report: &mut SyncReport, rotate: &mut bool) -> Result<(), Stop> {
        let mut cursor = self.store.pull_cursor()?;
        let mut resets = 0;
        loop {
            let page = match self.retry(|| self.transport.pull(cursor.as_deref())).await {
                Ok(page) => page,
                Err(Stop::Interrupted(TransportError::CursorReset)) if resets == 0 => {
                    resets += 1;
                    self.store.set_pull_cursor(None)?;
                    cursor = None;
                    continue;
                }
                Err(other) => return Err(other),
            };
            report.reference_changes += self.store.apply_pull(&page)?;
            *rotate |= page.rotate_token;
            cursor = Some(page.cursor.clone());
            if !page.has_more {
                return Ok(());
            }
        }
    }

    /// Fetches the before-photos of re-check visits the device lacks, last in
    /// the pass: evidence and the visit list come first, and the inspector
    /// then has them in a basement with no signal. A photo the server no
    /// longer offers (the visit is over) is skipped, not an error; one whose
    /// bytes do not match its name is not kept.
    async fn fetch_recheck_photos(&mut self, report: &mut SyncReport) -> Result<(), Stop> {
        for sha in self.store.missing_recheck_photos()? {
            match self.retry(|| self.transport.recheck_photo(&sha)).await {
                Ok(bytes) => {
                    if self.store.save_recheck_photo(&sha, &bytes)? {
                        report.recheck_photos_fetched += 1;
                    } else {
                        tracing::warn!(sha256 = %sha, "a re-check photo did not match its hash; not kept");
                    }
                }
                Err(Stop::Interrupted(TransportError::Rejected { status, .. })) => {
                    tracing::info!(sha256 = %sha, status, "re-check photo not offered");
                }
                Err(stop) => return Err(stop),
            }
        }
        Ok(())
    }

    async fn push_all(&mut self, report: &mut SyncReport, on_event: &mut dyn FnMut(SyncEvent)) -> Result<(), Stop> {
        // Walk the queue once, in order: items handled in this pass are not
        // picked up again in it, even if the server asked for their photos
        // again (they get the next pass).
        let mut last: Option<OutboxItem> = None;
        let mut planned = false;
        loop {
            let due = self.store.due_outbox(
                self.clock,
                self.options.ignore_backoff,
                last.as_ref(),
                self.options.batch_size,
            )?;
            let Some(tail) = due.last() else { return Ok(()) };
            last = Some(tail.clone());
            if !planned {
                planned = true;
                let (count, bytes) = self.store.pending_photo_totals(self.clock, self.options.ignore_backoff)?;
                on_event(SyncEvent::PhotosPlanned { count, bytes });
            }
            if let Err(stop) = self.push_batch(&due, report, on_event).await {
                if let Stop::Interrupted(e) = &stop {
                    self.note_retry(&due, e)?;
                }
                return Err(stop);
            }
        }
    }

    async fn push_batch(
        &mut self,
        items: &[OutboxItem],
        report: &mut SyncReport,
        on_event: &mut dyn FnMut(SyncEvent),
    ) -> Result<(), Stop> {
        let mut ready = Vec::with_capacity(items.len());
        for item in items {
            match self.upload_photos_of(item, report, on_event).await {
                Ok(()) => {
                    ready.push(SignedFinding { finding: item.content.clone(), signature: item.signature.clone() })
                }
                Err(Stop::Interrupted(e @ TransportError::Rejected { .. })) => {
                    let reason = format!("a photo was refused: {e}");
                    self.store.mark_rejected(item.content.id, &reason, self.clock)?;
                    report.findings_rejected += 1;
                    on_event(SyncEvent::FindingDone { id: item.content.id, state: "rejected" });
                }
                Err(stop) => return Err(stop),
            }
        }
        if ready.is_empty() {
            return Ok(());
        }
        let request = PushRequest { findings: ready };
        let response = match self.retry(|| self.transport.push(&request)).await {
            Ok(r) => r,
            Err(Stop::Interrupted(e @ TransportError::Rejected { .. })) => {
                // The whole batch was refused (e.g. too large after a server
                // limit change): refuse each item with the reason rather
                // than block the queue forever.
                for f in request.findings.iter().map(|s| &s.finding) {
                    self.store.mark_rejected(f.id, &e.to_string(), self.clock)?;
                    report.findings_rejected += 1;
                    on_event(SyncEvent::FindingDone { id: f.id, state: "rejected" });
                }
                return Ok(());
            }
            Err(stop) => return Err(stop),
        };
        // One transaction for the whole batch's outcomes: one fsync, and a
        // crash leaves either the old states (the batch is re-pushed and
        // answered `duplicate`) or all the new ones.
        let clock = self.clock;
        let mut events = Vec::with_capacity(response.results.len());
        self.store.in_transaction(|store| {
            for result in response.results {
                if !request.findings.iter().any(|f| f.finding.id == result.id) {
                    tracing::warn!(id = %result.id, "server answered for a finding that was not pushed");
                    continue;
                }
                if let Some(n) = &result.notice {
                    report.notices.push(format!("{}（{}）", n.code.zh(), n.message));
                }
                let state = match result.outcome {
                    PushOutcome::Accepted => {
                        store.mark_synced(result.id, clock)?;
                        report.findings_pushed += 1;
                        "synced"
                    }
                    PushOutcome::Duplicate => {
                        store.mark_synced(result.id, clock)?;
                        report.findings_already_on_server += 1;
                        "synced"
                    }
                    PushOutcome::MissingPhotos { photos } => {
                        // The server lost or never finished them: upload
                        // again on the next pass.
                        for sha in &photos {
                            store.set_photo_uploaded(sha, false)?;
                        }
                        store.mark_retry(
                            result.id,
                            &format!("the server is missing {} photo(s); they will be sent again", photos.len()),
                            clock.now().as_millisecond(),
                            clock,
                        )?;
                        "pending"
                    }
                    PushOutcome::Rejected { code, reason, .. } => {
                        store.mark_rejected(result.id, &format!("{reason} (HTTP {code})"), clock)?;
                        report.findings_rejected += 1;
                        "rejected"
                    }
                };
                events.push(SyncEvent::FindingDone { id: result.id, state });
            }
            Ok(())
        })?;
        for e in events {
            on_event(e);
        }
        Ok(())
    }

    async fn upload_photos_of(
        &mut self,
        item: &OutboxItem,
        report: &mut SyncReport,
        on_event: &mut dyn FnMut(SyncEvent),
    ) -> Result<(), Stop> {
        for sha in &item.content.photos {
            if self.store.photo_uploaded(sha)? {
                continue;
            }
            let bytes = self.store.photo_jpeg(sha)?.ok_or_else(|| {
                StoreError::Corrupt(format!("photo {sha} of finding {} is missing on this device", item.content.id))
            })?;
            self.upload_photo(sha, &bytes, report, on_event).await?;
            self.store.set_photo_uploaded(sha, true)?;
            on_event(SyncEvent::PhotoDone { sha256: sha.clone() });
        }
        Ok(())
    }

    /// Uploads one photo, resuming from wherever the server's copy stands.
    async fn upload_photo(
        &self,
        sha: &str,
        bytes: &[u8],
        report: &mut SyncReport,
        on_event: &mut dyn FnMut(SyncEvent),
    ) -> Result<(), Stop> {
        let size = bytes.len() as u64;
        let mut status = self.retry(|| self.transport.upload_status(sha, size)).await?;
        if status.complete {
            report.photos_already_on_server += 1;
            return Ok(());
        }
        let mut failures = 0;
        while !status.complete {
            if status.offset > size {
                return Err(Stop::Interrupted(TransportError::Rejected {
                    status: 409,
                    message: format!("the server holds {} bytes of a {size}-byte photo", status.offset),
                }));
            }
            let start = status.offset as usize;
            let end = (start + self.options.chunk_bytes).min(bytes.len());
            match self.transport.upload_chunk(sha, status.offset, &bytes[start..end]).await {
                Ok(next) => {
                    report.photo_bytes_sent += (end - start) as u64;
                    failures = 0;
                    status = next;
                    on_event(SyncEvent::PhotoProgress { sha256: sha.to_owned(), sent: status.offset, total: size });
                }
                Err(TransportError::OffsetMismatch { server_offset }) => {
                    failures += 1;
                    if failures > self.options.max_retries {
                        return Err(Stop::Interrupted(TransportError::OffsetMismatch { server_offset }));
                    }
                    status.offset = server_offset;
                }
                Err(e) if e.is_retryable() => {
                    failures += 1;
                    if failures > self.options.max_retries {
                        return Err(Stop::Interrupted(e));
                    }
                    self.transport.pause(self.backoff(failures - 1)).await;
                    // The chunk may or may not have landed: ask, don't guess.
                    status = self.retry(|| self.transport.upload_status(sha, size)).await?;
                }
                Err(e) => return Err(classify(e)),
            }
        }
        report.photos_uploaded += 1;
        Ok(())
    }

    /// Runs `call`, retrying retryable failures with exponential backoff.
    async fn retry<R, F, Fut>(&self, mut call: F) -> Result<R, Stop>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<R, TransportError>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retryable() && attempt < self.options.max_retries => {
                    tracing::debug!(error = %e, attempt, "retrying");
                    self.transport.pause(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(classify(e)),
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.options.base_backoff.saturating_mul(1 << attempt.min(10))
    }

    /// Persists when each item of an interrupted batch may be tried again,
    /// so an automatic scheduler backs off instead of hammering a dead link.
    fn note_retry(&self, items: &[OutboxItem], error: &TransportError) -> Result<(), StoreError> {
        let now = self.clock.now().as_millisecond();
        self.store.in_transaction(|store| {
            for item in items {
                // 30 s, 1 min, 2 min … capped at 30 min.
                let delay_ms = (30_000i64 << item.attempts.min(6)).min(30 * 60_000);
                store.mark_retry(item.content.id, &error.to_string(), now + delay_ms, self.clock)?;
            }
            Ok(())
        })
    }
}

fn classify(e: TransportError) -> Stop {
    match e {
        TransportError::Unauthorized(_) | TransportError::Revoked { .. } => Stop::Fatal(SyncError::Unauthorized(e)),
        other => Stop::Interrupted(other),
    }
}
