//! Webhook and group-robot delivery: the stored body POSTed as it is.
//!
//! - 企业微信 and 钉钉 robots answer HTTP 200 with `{"errcode": 0, …}` on
//!   success; any other errcode (a bad key, a rate limit, a keyword the
//!   robot requires) is a failure, with their `errmsg` in the log.
//! - The generic `json` webhook is signed: `X-Anfang-Timestamp` (Unix
//!   seconds, from the server's clock) and `X-Anfang-Signature:
//!   sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" with the contact's
//!   secret>`, so a receiver checks the body and its freshness; any 2xx is
//!   success.
//! - Every delivery carries `X-Anfang-Event: <event_key>`: deliveries are at
//!   least once, and a receiver drops the second copy by it.
//!
//! Redirects are not followed: a signed notice goes to the address the
//! office set, not wherever that address points next.

use crate::db::notices::Claimed;
use crate::db::outbox::Channel;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

pub const EVENT_HEADER: &str = "x-anfang-event";
pub const TIMESTAMP_HEADER: &str = "x-anfang-timestamp";
pub const SIGNATURE_HEADER: &str = "x-anfang-signature";

/// The client the worker delivers with: its own timeout as a second guard,
/// no redirects, no cookies.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest and the server's own TLS share the process-wide provider;
    // installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        // A little past the worker's hard timeout, so that one ends a
        // silent receiver and the log always says the same thing.
        .timeout(timeout + Duration::from_secs(1))
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("anfang-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))
}

/// `sha256=<hex>`: the signature of a json webhook's body at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs one claimed delivery; the error says what failed, for the log
/// (never the URL: a robot's URL is its key).
pub async fn send(client: &reqwest::Client, notice: &Claimed, now: jiff::Timestamp) -> Result<(), String> {
    let mut req = client
        .post(&notice.target)
        .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(EVENT_HEADER, &notice.event_key);
    if notice.channel == Channel::Json {
        let Some(secret) = notice.secret.as_deref().filter(|s| !s.is_empty()) else {
            return Err("the contact has no signing secret for its json webhook".to_owned());
        };
        let timestamp = now.as_second();
        req = req
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature(secret, timestamp, &notice.body));
    }
    let res = req.body(notice.body.clone()).send().await.map_err(|e| describe(&e.without_url()))?;
    let status = res.status();
    // Robots' answers are small; a receiver that streams forever is cut by the timeout.
    let text = res.text().await.map_err(|e| describe(&e.without_url()))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", snippet(&text)));
    }
    match notice.channel {
        Channel::Wecom | Channel::Dingtalk => robot_answer(&text),
        _ => Ok(()),
    }
}

/// A robot's verdict: `errcode` 0, or a failure naming their code and message.
pub fn robot_answer(text: &str) -> Result<(), String> {
    let answer: serde_json::Value =
        serde_json::from_str(text).map_err(|_| format!("the robot's answer is not JSON: {}", snippet(text)))?;
    match answer.get("errcode").and_then(serde_json::Value::as_i64) {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "robot errcode {code}: {}",
            snippet(answer.get("errmsg").and_then(serde_json::Value::as_str).unwrap_or(""))
        )),
        None => Err(format!("the robot's answer has no errcode: {}", snippet(text))),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The source chain says why (refused, reset, certificate) without the URL.
    let mut why = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = s.to_string();
        source = s.source();
    }
    if why.is_empty() { kind.to_owned() } else { format!("{kind}: {why}") }
}

/// At most 200 characters of a receiver's answer, on one line.
fn snippet(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
    one_line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231-style check against an independent computation:
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog").
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"key").unwrap();
        mac.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let a = signature("0123456789abcdef", 1_700_000_000, r#"{"kind":"digest"}"#);
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, signature("0123456789abcdef", 1_700_000_001, r#"{"kind":"digest"}"#));
        assert_ne!(a, signature("0123456789abcdeX", 1_700_000_000, r#"{"kind":"digest"}"#));
    }

    #[test]
    fn a_robot_succeeds_only_with_errcode_zero() {
        assert_eq!(robot_answer(r#"{"errcode":0,"errmsg":"ok"}"#), Ok(()));
        let e = robot_answer(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#).unwrap_err();
        assert!(e.contains("93000") && e.contains("invalid webhook url"), "{e}");
        assert!(robot_answer("<html>bad gateway</html>").is_err());
        assert!(robot_answer(r#"{"ok":true}"#).is_err());
    }
}
