//! The server's one error type. Every failure a client can cause becomes a
//! 4xx with a JSON body `{"error": "..."}` a person can act on; internal
//! failures are logged in full and answered with a bland 500, so SQL, paths
//! and stack details never leave the server.

use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed request: bad JSON, wrong types, bad parameters.
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or credentials the server does not know.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known caller, but this route is not for its role.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what the server holds.
    #[error("{message}")]
    Conflict { message: String, offset: Option<u64> },
    /// The pull cursor is unknown: the client must pull from the start.
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
    /// Well-formed but breaks a rule (validation, unknown reference).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Anything else; the detail is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
    /// A refusal with its own stable code (and the input at fault, if one
    /// is): what clients translate and act on. The variants above carry the
    /// generic code of their kind.
    #[error("{message}")]
    Coded { status: StatusCode, code: ErrorCode, field: Option<&'static str>, message: String },
    /// A draw that cannot be made; kept typed so the console can say it in
    /// Chinese with its numbers (`DrawError::zh`).
    #[error("{0}")]
    Draw(crate::draw::DrawError),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    /// A refusal with a specific code: `AppError::coded(StatusCode::CONFLICT,
    /// ErrorCode::PointInactive, "…")`.
    pub fn coded(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Coded { status, code, field: None, message: message.into() }
    }

    /// Names the one input at fault (`"point_id"`); keeps the code.
    pub fn with_field(self, field: &'static str) -> Self {
        match self {
            AppError::Coded { status, code, message, .. } => {
                AppError::Coded { status, code, field: Some(field), message }
            }
            other => {
                let (status, code) = (other.status(), other.code());
                AppError::Coded { status, code, field: Some(field), message: other.to_string() }
            }
        }
    }

    /// The stable machine code the answer carries.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::BadRequest(_) => ErrorCode::BadRequest,
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Conflict { offset: Some(_), .. } => ErrorCode::UploadOffsetMismatch,
            AppError::Conflict { .. } => ErrorCode::Conflict,
            AppError::Gone(_) => ErrorCode::CursorReset,
            AppError::TooLarge(_) => ErrorCode::TooLarge,
            AppError::Unprocessable(_) => ErrorCode::Invalid,
            AppError::TooManyRequests(_) => ErrorCode::TooManyRequests,
            AppError::Internal(_) => ErrorCode::Internal,
            AppError::Coded { code, .. } => *code,
            AppError::Draw(e) => e.code(),
        }
    }

    /// The input at fault, where the error names one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Coded { field, .. } => *field,
            AppError::Draw(e) => Some(e.field()),
            _ => None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Coded { status, .. } => *status,
            // Well-formed parameters that break a rule of the draw.
            AppError::Draw(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Internal(format!("io: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, field) = (self.status(), self.code(), self.field().map(str::to_owned));
        let (error, offset) = match self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                ("the server failed to handle this request; it has been logged, try again later".to_owned(), None)
            }
            AppError::Conflict { message, offset } => (message, offset),
            other => (other.to_string(), None),
        };
        (status, Json(ErrorBody { error, code, field, offset })).into_response()
    }
}

/// Parses a JSON body with serde's own message (which names the field, the
/// expected type and the position), instead of axum's plain-text rejection.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if body.is_empty() {
        return Err(AppError::BadRequest("the request body is empty; send a JSON object".into()));
    }
    // Every request body is an object; serde would also read a struct from
    // an array of its fields in order (`[null, null]`), which no client
    // means and the API document does not allow.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(AppError::BadRequest("invalid request: the body must be a JSON object".into()));
    }
    serde_json::from_slice(body).or_else(|e| {
        if e.is_data() {
            // JSON has one number type: `3081.0` is the integer 3081 to JSON
            // Schema (and to Python's json, which writes floats that way), but
            // not to serde. Read integral floats as integers and try once more;
            // the happy path never pays for this.
            if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) {
                integral_floats_to_integers(&mut value);
                if let Ok(parsed) = serde_json::from_value(value) {
                    return Ok(parsed);
                }
            }
        }
        let kind = if e.is_syntax() || e.is_eof() { "malformed JSON" } else { "invalid request" };
        Err(AppError::BadRequest(format!("{kind}: {e}")))
    })
}

/// Rewrites every number that is a float with no fractional part, within
/// the range of `i64`, as that integer (`3081.0` → `3081`).
fn integral_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            if n.is_f64()
                && let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && (i64::MIN as f64..=i64::MAX as f64).contains(&f)
            {
                *n = serde_json::Number::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// Longest request target (path and query) the server reads: far above any
/// route's needs, and below hyper's own limit (64 KiB), whose bare 414 has
/// no body a client could read.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section (names and values) the server reads: below
/// hyper's own bare 431 (about 400 KiB of head, or more than 100 headers).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses oversized request heads with the JSON error shape, before any
/// extractor or handler sees them. Heads beyond hyper's own limits never
/// reach the application; hyper answers those itself.
pub async fn bound_request_head(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return AppError::coded(
            StatusCode::URI_TOO_LONG,
            ErrorCode::UriTooLong,
            format!("the request address is {uri_len} bytes; at most {MAX_URI_BYTES} are accepted, shorten the query"),
        )
        .into_response();
    }
    let header_len: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_len > MAX_HEADER_BYTES {
        return AppError::coded(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!("the request headers are {header_len} bytes; at most {MAX_HEADER_BYTES} are accepted"),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct AllOptional {
        #[allow(dead_code)]
        a: Option<u32>,
        #[allow(dead_code)]
        b: Option<String>,
    }

    #[test]
    fn a_body_must_be_a_json_object_not_an_array_of_its_fields() {
        assert!(parse_json::<AllOptional>(b" {\"a\": 3} ").is_ok());
        for body in [&b"[null, null]"[..], b"[3, \"x\"]", b"null", b"7", b"\"x\""] {
            let e = parse_json::<AllOptional>(body).unwrap_err();
            assert!(e.to_string().contains("JSON object"), "{}: {e}", String::from_utf8_lossy(body));
        }
        let e = parse_json::<AllOptional>(b"[1,").unwrap_err();
        assert!(e.to_string().contains("malformed JSON"), "{e}");
    }
}
