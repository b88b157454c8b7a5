//! `anfang-server`: the office's server. Devices enroll, pull reference data,
//! upload photos and push findings; office users sign in and read findings.
//!
//! Three layers, each calling only the one below:
//!
//! ```text
//!  routes (HTTP), routes::console (HTML), cli  ──►  app (services)  ──►  db (storage)
//!        parse and answer                           decide                store
//! ```
//!
//! - [`routes`]: the HTTP surface (thin handlers + the route table);
//! - [`app`]: the business rules, one module per capability (sync, review,
//!   bulletins, draws, identities, reference data, devices, findings);
//! - [`db`]: the storage seam (SQLite today): domain-shaped async methods
//!   of [`db::Db`], no SQLite type outside it;
//! - [`clock`]: the server's one clock, in [`AppState`]; every "now" comes
//!   from it and is passed into `app` and `db`;
//! - [`auth`]: tokens, passwords, and the extractors that authorize by role;
//! - [`signin`]: office sign-in, its throttles and the password-check threads;
//! - [`photos`]: the content-addressed photo folder and resumable uploads;
//! - [`notify`]: the worker that delivers the outbox's notices (email, robots, webhooks);
//! - [`bulletin`]: compiling the inspection bulletin and its HTML, DOCX and JSON formats;
//! - [`demo`]: the demo city;
//! - [`cli`]: the `anfang-server` command line.
//!
//! **Invariant:** handlers never touch SQL or files directly; they call `app`
//! (or, for a plain read with no rule behind it, a `db::Db` method) and
//! `photos`, which run blocking work off the async workers.

pub mod app;
pub mod auth;
pub mod backup;
pub mod bulletin;
pub mod cli;
pub mod clock;
pub mod db;
pub mod demo;
pub mod draw;
pub mod error;
pub mod html;
pub mod league;
pub mod notify;
pub mod objects;
pub mod photos;
pub mod rectification;
pub mod redact;
pub mod reference_csv;
pub mod routes;
pub mod signin;
pub mod tls;
pub mod webapp;

use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::AppError;
pub use signin::SignInGuard;

/// Largest JSON request body (a full push batch of findings is far smaller).
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The office's time zone: dates in queries and bulletins are local to it.
    pub timezone: jiff::tz::TimeZone,
    /// The server's one time source, copied into [`AppState::clock`]: the
    /// system clock, unless a test sets another (in process a
    /// [`clock::ManualClock`]; for the binary `ANFANG_TEST_NOW`, read once by
    /// the command line, see [`clock::Clock::from_test_env`]).
    pub clock: clock::Clock,
    /// The built inspector web app served at `/app/` (see [`webapp`]).
    pub web_dir: PathBuf,
    /// Behind a reverse proxy: take a sign-in's source (for throttling
    /// only, never stored or logged) from the last `X-Forwarded-For`
    /// address instead of the TCP peer. From `ANFANG_TRUST_FORWARDED_FOR=1`;
    /// off by default, since without a proxy that header is the client's own claim.
    pub trust_forwarded_for: bool,
    /// Where photos and PDF scans are kept: the data dir (the default) or
    /// an S3-compatible bucket (`serve --photos`, see [`objects`]).
    pub photos: objects::PhotosAt,
    /// A PostgreSQL connection string, or `None` for the SQLite file in the
    /// data dir (the default). The unit tests run on PostgreSQL when
    /// `ANFANG_TEST_POSTGRES` names a server (see `db::test_database`).
    pub database: Option<String>,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            timezone: jiff::tz::TimeZone::get("Asia/Shanghai")
                .unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))),
            clock: clock::Clock::system(),
            web_dir: webapp::default_dir(),
            trust_forwarded_for: std::env::var("ANFANG_TRUST_FORWARDED_FOR")
                .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
            photos: objects::PhotosAt::DataDir,
            #[cfg(not(test))]
            database: None,
            #[cfg(test)]
            database: db::test_database(),
        }
    }

    /// "Now" by the configured clock. Prefer `AppState::clock`; this stays
    /// for the console's draw pages until they are switched over.
    #[doc(hidden)]
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
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
    /// Every "now" of request handling: sessions, pushes, evidence,
    /// bulletins, draws, the unit portal (see [`clock`]).
    pub clock: clock::Clock,
    /// Wakes the notice worker ([`notify::worker`]) at once: notified after
    /// anything enqueues or re-queues a notice, so it goes out now rather
    /// than at the next round.
    pub notice_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// Opens (creating if needed) the data dir: database and photo folder.
    ///
    /// The data dir holds real names, unrevealed draw seeds, assignments and
    /// photos, so it is the server user's alone: from here on this process
    /// creates directories 0700 and files 0600 (umask 077, which also covers
    /// SQLite's -wal/-shm and every photo), and a data dir made by an older
    /// version is tightened, with a warning.
    pub fn open(config: Config) -> Result<Self, AppError> {
        owner_only_from_now();
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| AppError::Internal(format!("cannot create data dir {}: {e}", config.data_dir.display())))?;
        let db = match &config.database {
            Some(url) => db::Db::connect_postgres(url)?,
            None => db::Db::open(&config.db_path())?,
        };
        let clock = config.clock.clone();
        let photos = photos::PhotoStore::open(&config.data_dir, &config.photos, clock.clone())?.locking_through(&db);
        tighten_tree(&config.data_dir, 3);
        Ok(Self {
            config: Arc::new(config),
            db,
            photos,
            sign_in_guard: SignInGuard::default(),
            clock,
            notice_wake: Arc::new(tokio::sync::Notify::new()),
        })
    }
}

/// Sets the process umask to 077: new files 0600, new directories 0700.
pub fn owner_only_from_now() {
    #[cfg(unix)]
    // SAFETY: umask(2) only swaps the process's file-creation mask; it cannot
    // fail and touches no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

/// Removes group and other permissions from `dir` and everything in it, up
/// to `depth` levels (the data dir, photos/, photos/ab/, their files). Only
/// entries that are looser are changed; symlinks are left alone. Failures
/// are logged, not fatal: the server still works, and says what to fix.
pub fn tighten_tree(dir: &std::path::Path, depth: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fn walk(path: &std::path::Path, depth: u32, changed: &mut usize) {
            let Ok(meta) = std::fs::symlink_metadata(path) else { return };
            if meta.file_type().is_symlink() {
                return;
            }
            let mode = meta.permissions().mode() & 0o777;
            let want = if meta.is_dir() { 0o700 } else { 0o600 };
            if mode & 0o077 != 0 {
                match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & want)) {
                    Ok(()) => *changed += 1,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot make this private; chmod it yourself")
                    }
                }
            }
            if meta.is_dir() && depth > 0 {
                for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                    walk(&entry.path(), depth - 1, changed);
                }
            }
        }
        let mut changed = 0;
        walk(dir, depth, &mut changed);
        if changed > 0 {
            tracing::warn!(dir = %dir.display(), changed, "data was readable by other users; removed their access");
        }
    }
}

/// The whole HTTP application; tests call it without a socket.
pub fn app(state: AppState) -> Router {
    // Both route tables, each row behind the layer enforcing its access.
    routes::router(&state)
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
    // The peer address reaches only the sign-in throttles (see `signin::Source`).
    axum::serve(listener, app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
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
