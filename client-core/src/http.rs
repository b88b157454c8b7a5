//! The HTTP [`Transport`]: reqwest over hyper natively, over `fetch` in the
//! browser. It maps HTTP outcomes to [`TransportError`] by status code, never
//! by message text, so the engine can tell retryable from permanent failures.

use crate::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, PullResponse, PushRequest, PushResponse, TokenRotation,
    UPLOAD_OFFSET_HEADER, UploadCreate, UploadStatus,
};
use crate::sync::{Transport, TransportError};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Talks to one Anfang server as one enrolled device.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: Client,
    base: String,
    token: String,
}

/// Installs the TLS crypto provider (ring) for this process, natively.
/// reqwest is built without a default one; anything else in the process that
/// builds a reqwest client must call this first. Calling it twice is harmless.
pub fn ensure_tls_provider() {
    #[cfg(not(target_arch = "wasm32"))]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn client() -> Result<Client, TransportError> {
    ensure_tls_provider();
    let builder = Client::builder();
    // Browsers own their timeouts; natively, a hung connection in a
    // basement must not hold the queue forever.
    #[cfg(not(target_arch = "wasm32"))]
    let builder = builder.connect_timeout(Duration::from_secs(10)).timeout(Duration::from_secs(120));
    builder.build().map_err(|e| TransportError::Network(format!("cannot set up HTTP: {e}")))
}

fn normalize_base(url: &str) -> Result<String, TransportError> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(TransportError::Rejected {
            status: 400,
            message: format!("server address {url:?} must start with http:// or https://"),
        });
    }
    Ok(url.to_owned())
}

impl HttpTransport {
    /// A transport for an enrolled device.
    pub fn new(base_url: &str, token: &str) -> Result<Self, TransportError> {
        Ok(Self { client: client()?, base: normalize_base(base_url)?, token: token.to_owned() })
    }

    /// Enrolls a device with a one-time code from the office.
    pub async fn enroll(base_url: &str, request: &EnrollRequest) -> Result<EnrollResponse, TransportError> {
        let base = normalize_base(base_url)?;
        let response = client()?.post(format!("{base}/api/v1/enroll")).json(request).send().await.map_err(network)?;
        // A refused code is not a revoked device: say what the server said.
        decode(response).await.map_err(|e| match e {
            TransportError::Unauthorized(message) => TransportError::Rejected { status: 401, message },
            other => other,
        })
    }

    fn authed(&self, builder: RequestBuilder) -> RequestBuilder {
        builder.bearer_auth(&self.token)
    }
}

fn network(e: reqwest::Error) -> TransportError {
    // reqwest's top-level message ("error sending request") hides the cause
    // a person can act on (refused, TLS, DNS): include the whole chain.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TransportError::Network(message)
}

/// Reads a JSON body on success, or classifies the failure by status.
async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, TransportError> {
    let status = response.status();
    if status.is_success() {
        // A body that isn't our JSON on a 2xx is a captive portal or a proxy
        // page, not the server: treat it as no network.
        let bytes = response.bytes().await.map_err(network)?;
        return serde_json::from_slice(&bytes)
            .map_err(|e| TransportError::Network(format!("unexpected answer (not the Anfang server?): {e}")));
    }
    let text = response.text().await.unwrap_or_default();
    Err(classify_failure(status, &text))
}

/// What a failed answer means for the engine, from its status and body.
fn classify_failure(status: StatusCode, text: &str) -> TransportError {
    let body: Option<ErrorBody> = serde_json::from_str(text).ok();
    let message = body.as_ref().map(|b| b.error.clone()).unwrap_or_else(|| text.chars().take(200).collect::<String>());
    use crate::error_code::ErrorCode;
    match status {
        // Revoked (or expired) is told apart by the stable code, never by the sentence.
        StatusCode::UNAUTHORIZED
            if matches!(body.as_ref().map(|b| b.code), Some(ErrorCode::DeviceRevoked | ErrorCode::DeviceExpired)) =>
        {
            TransportError::Revoked { code: body.map(|b| b.code).unwrap_or(ErrorCode::DeviceRevoked), message }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TransportError::Unauthorized(message),
        StatusCode::CONFLICT if body.as_ref().and_then(|b| b.offset).is_some() => {
            TransportError::OffsetMismatch { server_offset: body.and_then(|b| b.offset).unwrap_or(0) }
        }
        StatusCode::GONE => TransportError::CursorReset,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
            TransportError::Server { status: status.as_u16(), message }
        }
        s if s.is_server_error() => TransportError::Server { status: s.as_u16(), message },
        s => TransportError::Rejected { status: s.as_u16(), message },
    }
}

impl Transport for HttpTransport {
    async fn pull(&self, cursor: Option<&str>) -> Result<PullResponse, TransportError> {
        let mut req = self.authed(self.client.get(format!("{}/api/v1/sync/pull", self.base)));
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        decode(req.send().await.map_err(network)?).await
    }

    async fn upload_status(&self, sha256: &str, size: u64) -> Result<UploadStatus, TransportError> {
        let req = self
            .authed(self.client.post(format!("{}/api/v1/uploads", self.base)))
            .json(&UploadCreate { sha256: sha256.to_owned(), size });
        decode(req.send().await.map_err(network)?).await
    }

    async fn upload_chunk(&self, sha256: &str, offset: u64, chunk: &[u8]) -> Result<UploadStatus, TransportError> {
        let req = self
            .authed(self.client.patch(format!("{}/api/v1/uploads/{sha256}", self.base)))
            .header(UPLOAD_OFFSET_HEADER, offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(chunk.to_vec());
        decode(req.send().await.map_err(network)?).await
    }

    async fn push(&self, request: &PushRequest) -> Result<PushResponse, TransportError> {
        let req = self.authed(self.client.post(format!("{}/api/v1/sync/push", self.base))).json(request);
        decode(req.send().await.map_err(network)?).await
    }

    async fn rotate_token(&self) -> Result<TokenRotation, TransportError> {
        let req = self.authed(self.client.post(format!("{}/api/v1/device/token", self.base)));
        decode(req.send().await.map_err(network)?).await
    }

    async fn recheck_photo(&self, sha256: &str) -> Result<Vec<u8>, TransportError> {
        let req = self.authed(self.client.get(format!("{}/api/v1/sync/recheck-photos/{sha256}", self.base)));
        let response = req.send().await.map_err(network)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.bytes().await.map_err(network)?.to_vec());
        }
        let text = response.text().await.unwrap_or_default();
        Err(classify_failure(status, &text))
    }

    async fn pause(&self, duration: Duration) {
        sleep(duration).await
    }
}

#[cfg(not(target_arch = "wasm32"))]
async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

#[cfg(target_arch = "wasm32")]
async fn sleep(duration: Duration) {
    // `setTimeout` lives on the global scope in windows and workers alike.
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        let set_timeout = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(f) = set_timeout {
            let _ = f.call2(&global, &resolve, &(duration.as_millis() as f64).into());
        } else {
            let _ = resolve.call0(&global);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::JsCast;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_device_is_told_apart_by_its_code_and_reads_in_chinese() {
        let body = r#"{"error":"the office has revoked this device","code":"device_revoked"}"#;
        let e = classify_failure(StatusCode::UNAUTHORIZED, body);
        assert!(
            matches!(e, TransportError::Revoked { code: crate::error_code::ErrorCode::DeviceRevoked, .. }),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("此设备已被停用"), "{e}");
        assert!(e.to_string().contains("未同步的记录仍保存在本机"), "{e}");
        let expired = classify_failure(StatusCode::UNAUTHORIZED, r#"{"error":"old","code":"device_expired"}"#);
        assert!(matches!(expired, TransportError::Revoked { .. }), "{expired:?}");
        // Any other 401 (unknown token) stays "enroll again"; the sentence alone never decides.
        let unknown = r#"{"error":"the office has revoked this device","code":"unauthenticated"}"#;
        assert!(matches!(classify_failure(StatusCode::UNAUTHORIZED, unknown), TransportError::Unauthorized(_)));
    }
}
