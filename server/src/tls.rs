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
        .serve(crate::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
        .context("server failed")
}
