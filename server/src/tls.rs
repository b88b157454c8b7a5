//! HTTPS served by the server itself (rustls with the *ring* provider, as
//! the core uses): phones need a secure context for the service worker,
//! the camera and location. Behind a reverse proxy that terminates TLS
//! (nginx, Caddy) this is not used; see the README.
//!
//! The certificate and key are PEM files read once at start-up.

use crate::AppState;
use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use std::path::Path;
use std::time::Duration;

/// Reads the PEM certificate chain and key; a clear error if they are unusable.
pub async fn load(cert: &Path, key: &Path) -> anyhow::Result<RustlsConfig> {
    // reqwest and this server share the process-wide provider; installing
    // twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(cert, key).await.with_context(|| {
        format!(
            "cannot load the TLS certificate {} and key {} (PEM files: the certificate chain, and its private key)",
            cert.display(),
            key.display()
        )
    })
}

/// Serves the app over TLS on `listener` until ctrl-c / SIGTERM, then lets
/// requests in flight finish (up to 10 s).
pub async fn serve(listener: std::net::TcpListener, state: AppState, config: RustlsConfig) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        crate::shutdown_signal().await;
        on_signal.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    listener.set_nonblocking(true)?;
    axum_server::from_tcp_rustls(listener, config)?
        .handle(handle)
        .serve(
            crate::app(state)
                .layer(axum::middleware::map_request(arrived_over_tls))
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .context("server failed")
}

/// What the rest of the server needs to know about a request that reached it
/// over its own TLS, said in the headers it already reads:
///
/// - `X-Forwarded-Proto: https`, so the console's session cookie is sent with
///   `Secure` exactly as behind a TLS-terminating proxy. Set, not trusted from
///   the client: with no proxy in between, the protocol is known to be https.
/// - `Host` from the URI's authority when it is absent: browsers negotiate
///   HTTP/2 over TLS, and HTTP/2 carries the authority as `:authority`, not as
///   a `Host` header, so the console's same-origin check (which compares
///   `Origin` with `Host`) would refuse every sign-in.
async fn arrived_over_tls(mut request: axum::extract::Request) -> axum::extract::Request {
    use axum::http::{HeaderValue, header};
    let authority = request.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    let headers = request.headers_mut();
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    if !headers.contains_key(header::HOST)
        && let Some(authority) = authority
    {
        headers.insert(header::HOST, authority);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::arrived_over_tls;
    use axum::http::{Request, header};

    #[tokio::test]
    async fn an_http2_request_without_host_gets_it_from_its_authority_and_counts_as_https() {
        let req = Request::builder()
            .uri("https://127.0.0.1:8443/console/login")
            .header("x-forwarded-proto", "http")
            .body(axum::body::Body::empty())
            .unwrap();
        let req = arrived_over_tls(req).await;
        assert_eq!(req.headers()[header::HOST], "127.0.0.1:8443");
        assert_eq!(req.headers()["x-forwarded-proto"], "https");
    }

    #[tokio::test]
    async fn a_host_header_the_client_sent_is_kept() {
        let req = Request::builder()
            .uri("/console/login")
            .header(header::HOST, "anfang.example.gov.cn")
            .body(axum::body::Body::empty())
            .unwrap();
        let req = arrived_over_tls(req).await;
        assert_eq!(req.headers()[header::HOST], "anfang.example.gov.cn");
    }
}
