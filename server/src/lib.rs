//! `anfang-server`: the office's server. Devices enroll, pull reference data,
//! upload photos and push findings; office users sign in and read findings.
//!
//! - [`routes`]: the HTTP surface (thin handlers + the route table);
//! - [`auth`]: tokens, passwords, and the extractors that authorize by role;
//! - [`db`]: the storage seam (SQLite today);
//! - [`photos`]: the content-addressed photo folder and resumable uploads;
//! - [`bulletin`]: compiling the inspection bulletin and its HTML, DOCX and JSON formats;
//! - [`demo`]: the demo city;
//! - [`cli`]: the `anfang-server` command line.
//!
//! **Invariant:** handlers never touch SQL or files directly; they call `db`
//! and `photos`, which run blocking work off the async workers.

pub mod auth;
pub mod bulletin;
pub mod cli;
pub mod db;
pub mod demo;
pub mod draw;
pub mod error;
pub mod html;
pub mod photos;
pub mod redact;
pub mod reference_csv;
pub mod routes;
pub mod tls;
pub mod webapp;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use error::AppError;

/// Largest JSON request body (a full push batch of findings is far smaller).
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The office's time zone: dates in queries and bulletins are local to it.
    pub timezone: jiff::tz::TimeZone,
    /// For tests only: the instant the server takes as "now" for time-gated
    /// draw decisions (assignment lead time, reveal, coverage), from the
    /// `ANFANG_TEST_NOW` environment variable (RFC 3339). Unset in
    /// production; the server warns at start-up when it is set.
    pub now_override: Option<jiff::Timestamp>,
    /// The built inspector web app served at `/app/` (see [`webapp`]).
    pub web_dir: PathBuf,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            timezone: jiff::tz::TimeZone::get("Asia/Shanghai")
                .unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))),
            now_override: std::env::var("ANFANG_TEST_NOW").ok().and_then(|v| v.parse().ok()),
            web_dir: webapp::default_dir(),
        }
    }

    /// "Now" for time-gated draw decisions (see `now_override`).
    pub fn now(&self) -> jiff::Timestamp {
        self.now_override.unwrap_or_else(jiff::Timestamp::now)
    }

    /// The office time zone's IANA name, as draws record it.
    pub fn timezone_name(&self) -> String {
        self.timezone.iana_name().unwrap_or("Asia/Shanghai").to_owned()
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("anfang.sqlite3")
    }
}

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: db::Db,
    pub photos: photos::PhotoStore,
    pub sign_in_guard: SignInGuard,
}

impl AppState {
    /// Opens (creating if needed) the data dir: database and photo folder.
    pub fn open(config: Config) -> Result<Self, AppError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| AppError::Internal(format!("cannot create data dir {}: {e}", config.data_dir.display())))?;
        let db = db::Db::open(&config.db_path())?;
        let photos = photos::PhotoStore::open(&config.data_dir)?;
        Ok(Self { config: Arc::new(config), db, photos, sign_in_guard: SignInGuard::default() })
    }
}

/// Slows down password guessing: after 5 failed sign-ins for one username,
/// further attempts are refused for 5 minutes. In memory: a restart forgets
/// it, which is acceptable for a per-username throttle.
#[derive(Clone, Default)]
pub struct SignInGuard {
    failures: Arc<Mutex<HashMap<String, (u32, Instant)>>>,
}

impl SignInGuard {
    const MAX_FAILURES: u32 = 5;
    const LOCKOUT: Duration = Duration::from_secs(300);

    fn check(&self, username: &str) -> Result<(), AppError> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(username) {
            Some((n, at)) if *n >= Self::MAX_FAILURES && at.elapsed() < Self::LOCKOUT => {
                let wait = (Self::LOCKOUT - at.elapsed()).as_secs() / 60 + 1;
                Err(AppError::TooManyRequests(format!(
                    "too many failed sign-ins for this user; try again in {wait} minute(s)"
                )))
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Guessing many made-up usernames must not grow this without bound:
        // forget entries whose lockout window has passed.
        if map.len() >= 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < Self::LOCKOUT);
        }
        let entry = map.entry(username.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= Self::LOCKOUT {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    fn succeeded(&self, username: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(username);
    }
}

/// The whole HTTP application; tests call it without a socket.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for r in routes::api_routes() {
        let limit = if r.method == "patch" { anfang_core::protocol::MAX_UPLOAD_CHUNK_BYTES } else { MAX_JSON_BODY };
        router = router.route(r.path, r.handler.layer(DefaultBodyLimit::max(limit)));
    }
    // The office console's HTML pages (its own route table, see
    // `routes::console`); CSV imports posted as forms need more room.
    for r in routes::console_routes() {
        router = router.route(r.path, r.handler.layer(DefaultBodyLimit::max(routes::CONSOLE_BODY_LIMIT)));
    }
    router
        .fallback(|| async { AppError::NotFound("no such route; see /api/v1/openapi.json".into()) })
        .layer(axum::middleware::map_response(errors_as_json))
        // The API and the console, not the web app's shell (merged below).
        .layer(axum::middleware::map_response(no_store))
        // After the JSON error layer: the web app's pages are not API answers.
        .merge(webapp::router(&state.config.web_dir))
        // Outermost but for tracing: an oversized head is refused before
        // anything reads it, and as JSON rather than hyper's bare answer.
        .layer(axum::middleware::from_fn(error::bound_request_head))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Office pages and API answers hold personal and unpublished data (an
/// identity, findings before a bulletin): no browser or proxy may keep a
/// copy that Back or a shared PC could show after sign-out. Answers that
/// set their own caching (content-addressed photos) keep it.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    response
}

/// Turns axum's own plain-text rejections (body too large, bad path or
/// query) into the JSON error shape every client expects.
async fn errors_as_json(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // The console's own HTML error pages are already meant for people.
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json || is_html {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let error = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the request body is too large: JSON requests may be at most {} MB and photo chunks at most {} MB",
            MAX_JSON_BODY / 1_048_576,
            anfang_core::protocol::MAX_UPLOAD_CHUNK_BYTES / 1_048_576
        )
    } else if text.is_empty() {
        status.canonical_reason().unwrap_or("request refused").to_owned()
    } else {
        text
    };
    let code = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => anfang_core::error_code::ErrorCode::TooLarge,
        axum::http::StatusCode::NOT_FOUND => anfang_core::error_code::ErrorCode::NotFound,
        s if s.is_server_error() => anfang_core::error_code::ErrorCode::Internal,
        _ => anfang_core::error_code::ErrorCode::BadRequest,
    };
    (status, axum::Json(anfang_core::protocol::ErrorBody { error, code, field: None, offset: None })).into_response()
}

/// Serves until ctrl-c / SIGTERM, finishing requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failed_sign_ins_lock_the_username_and_a_success_clears_it() {
        let guard = SignInGuard::default();
        for _ in 0..SignInGuard::MAX_FAILURES {
            guard.check("admin").unwrap();
            guard.failed("admin");
        }
        let err = guard.check("admin").unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(err.to_string().contains("try again in"), "{err}");
        guard.check("someone-else").unwrap();
        guard.succeeded("admin");
        guard.check("admin").unwrap();
    }
}
