//! The inspector's web app at `/app/`: static files built by
//! `scripts/build-web` into `web/dist/` (HTML, JS, the wasm core, the service
//! worker, the manifest and icons), each beside its `.gz`/`.br` twin.
//!
//! These routes are public on purpose (the app shell holds no data; the data
//! lives on the phone and behind the device API), so they sit outside the
//! API route table and its JSON error rewriting.
//!
//! Caching: every file is `no-cache` (revalidated with `Last-Modified`), so
//! a new build reaches phones on their next online start. Offline starts are
//! the service worker's job, not the HTTP cache's. Unsynced findings live in
//! the phone's OPFS database, never in a cache, so no update can lose them.

use crate::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;

/// Where `scripts/build-web` puts the app in a source checkout.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist")
}

/// The `/app` routes: the built files if they are there, otherwise a page
/// that says how to build them (the API keeps working either way).
pub fn router(dir: &Path) -> Router<AppState> {
    let app = if dir.join("index.html").is_file() {
        tracing::info!(dir = %dir.display(), "serving the web app at /app/");
        Router::new().nest_service(
            "/app/",
            ServeDir::new(dir).precompressed_br().precompressed_gzip().append_index_html_on_directories(true),
        )
    } else {
        tracing::warn!(dir = %dir.display(), "web app not built; /app/ explains how to build it");
        let dir = dir.display().to_string();
        Router::new()
            .route("/app/", get(move || not_built(dir.clone())))
            .route("/app/{*rest}", get(|| async { (StatusCode::NOT_FOUND, "the web app is not built") }))
    };
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .merge(app)
        .layer(axum::middleware::map_response(app_headers))
}

async fn not_built(dir: String) -> Response {
    let page = format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>暗访 · 应用未构建</title>\
         <h1>督查员应用尚未构建</h1>\
         <p>服务器在 <code>{dir}</code> 中没有找到网页应用。请在项目目录运行 \
         <code>./scripts/build-web</code>（或 <code>./scripts/run</code>），然后刷新本页。</p>\
         <p lang=en>The inspector web app is not built. Run <code>./scripts/build-web</code> \
         (or <code>./scripts/run</code>) in the project folder, then reload. The API works meanwhile.</p>",
        dir = html_escape(&dir)
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn app_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The worker is at /app/sw.js and controls /app/: its default scope.
    // Said explicitly so a proxy that rewrites paths keeps it working.
    h.insert("service-worker-allowed", HeaderValue::from_static("/app/"));
    response
}

#[cfg(test)]
mod tests {
    use crate::{AppState, Config, app};
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    fn state_with_web_dir(web: &std::path::Path) -> (tempfile::TempDir, AppState) {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path());
        config.web_dir = web.to_path_buf();
        (data, AppState::open(config).unwrap())
    }

    async fn get(state: &AppState, path: &str, accept_encoding: Option<&str>) -> axum::response::Response {
        let mut req = Request::get(path);
        if let Some(enc) = accept_encoding {
            req = req.header(header::ACCEPT_ENCODING, enc);
        }
        app(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    fn header_of<'a>(res: &'a axum::response::Response, name: &str) -> &'a str {
        res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    #[tokio::test]
    async fn the_built_app_is_served_with_types_revalidation_and_precompressed_twins() {
        let web = tempfile::tempdir().unwrap();
        std::fs::write(web.path().join("index.html"), "<!doctype html>hello").unwrap();
        std::fs::create_dir(web.path().join("pkg")).unwrap();
        std::fs::write(web.path().join("pkg/core.wasm"), b"\0asm\x01\0\0\0").unwrap();
        std::fs::write(web.path().join("pkg/core.wasm.gz"), b"pretend-gzip").unwrap();
        std::fs::write(web.path().join("sw.js"), "self;").unwrap();
        std::fs::write(web.path().join("manifest.webmanifest"), "{}").unwrap();
        let (_data, state) = state_with_web_dir(web.path());

        let res = get(&state, "/app", None).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT, "/app redirects to /app/");
        assert_eq!(header_of(&res, "location"), "/app/");

        let res = get(&state, "/app/", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(header_of(&res, "content-type").starts_with("text/html"), "{:?}", res.headers());
        assert_eq!(header_of(&res, "cache-control"), "no-cache");

        let cases = [
            ("/app/pkg/core.wasm", "application/wasm"),
            ("/app/sw.js", "text/javascript"),
            ("/app/manifest.webmanifest", "application/manifest+json"),
        ];
        for (path, mime) in cases {
            let res = get(&state, path, None).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&res, "content-type"), mime, "content type of {path}");
        }
        let res = get(&state, "/app/sw.js", None).await;
        assert_eq!(header_of(&res, "service-worker-allowed"), "/app/");

        let res = get(&state, "/app/pkg/core.wasm", Some("gzip, deflate, br")).await;
        assert_eq!(header_of(&res, "content-encoding"), "gzip", "the .gz twin is served to a gzip client");
        assert_eq!(header_of(&res, "content-type"), "application/wasm");
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"pretend-gzip");

        let res = get(&state, "/app/missing.js", None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = get(&state, "/api/v1/health", None).await;
        assert_eq!(res.status(), StatusCode::OK, "the API still answers beside the app");
    }

    #[tokio::test]
    async fn without_a_build_app_says_how_to_build_it_and_the_api_still_works() {
        let empty = tempfile::tempdir().unwrap();
        let (_data, state) = state_with_web_dir(&empty.path().join("dist"));
        let res = get(&state, "/app/", None).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(header_of(&res, "content-type").starts_with("text/html"));
        let body = axum::body::to_bytes(res.into_body(), 64 * 1024).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("scripts/build-web"), "{text}");
        assert!(text.contains("尚未构建"), "{text}");
        let res = get(&state, "/api/v1/health", None).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}
