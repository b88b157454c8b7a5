//! A [`Transport`] that times every request the sync engine makes through
//! the real HTTP transport, so the figures are per request as a phone sees
//! them (retries included: each attempt is one sample).

use anfang_core::protocol::{PullResponse, PushRequest, PushResponse, TokenRotation, UploadStatus};
use anfang_core::sync::{Transport, TransportError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Pull,
    /// `POST /api/v1/uploads`: announce a photo, or ask where it stands.
    Announce,
    /// `PATCH /api/v1/uploads/{sha256}`: one chunk of a photo.
    Chunk,
    Push,
    RotateToken,
    RecheckPhoto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// No answer (connection refused or cut, timeout): the engine retries.
    Network,
    /// 5xx or 429: the engine retries.
    Server,
    /// Any other refusal: the engine does not resend it.
    Refused,
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub request: Request,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

pub type Log = Arc<Mutex<Vec<Sample>>>;

pub struct Timed<T> {
    pub inner: T,
    pub log: Log,
}

impl<T> Timed<T> {
    fn note<R>(&self, request: Request, started: Instant, result: &Result<R, TransportError>) {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(TransportError::Network(_)) => Outcome::Network,
            Err(TransportError::Server { .. }) => Outcome::Server,
            Err(_) => Outcome::Refused,
        };
        let sample = Sample { request, elapsed: started.elapsed(), outcome };
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(sample);
    }
}

impl<T: Transport> Transport for Timed<T> {
    async fn pull(&self, cursor: Option<&str>) -> Result<PullResponse, TransportError> {
        let started = Instant::now();
        let result = self.inner.pull(cursor).await;
        self.note(Request::Pull, started, &result);
        result
    }

    async fn upload_status(&self, sha256: &str, size: u64) -> Result<UploadStatus, TransportError> {
        let started = Instant::now();
        let result = self.inner.upload_status(sha256, size).await;
        self.note(Request::Announce, started, &result);
        result
    }

    async fn upload_chunk(&self, sha256: &str, offset: u64, chunk: &[u8]) -> Result<UploadStatus, TransportError> {
        let started = Instant::now();
        let result = self.inner.upload_chunk(sha256, offset, chunk).await;
        self.note(Request::Chunk, started, &result);
        result
    }

    async fn push(&self, request: &PushRequest) -> Result<PushResponse, TransportError> {
        let started = Instant::now();
        let result = self.inner.push(request).await;
        self.note(Request::Push, started, &result);
        result
    }

    async fn rotate_token(&self) -> Result<TokenRotation, TransportError> {
        let started = Instant::now();
        let result = self.inner.rotate_token().await;
        self.note(Request::RotateToken, started, &result);
        result
    }

    async fn recheck_photo(&self, sha256: &str) -> Result<Vec<u8>, TransportError> {
        let started = Instant::now();
        let result = self.inner.recheck_photo(sha256).await;
        self.note(Request::RecheckPhoto, started, &result);
        result
    }

    async fn pause(&self, duration: Duration) {
        self.inner.pause(duration).await
    }
}
