//! Email delivery: one SMTP connection per message (no pool: notices come a
//! few a minute, and a pooled connection the server dropped overnight
//! would fail the evening digest's first message), TLS as the office set
//! it, UTF-8 subject and body (lettre encodes the Chinese subject as an
//! RFC 2047 word and picks the body's transfer encoding).

use crate::db::notices::Claimed;
use crate::db::smtp::{SmtpConfig, SmtpTls};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// The message for one claimed email delivery. Its `Message-ID` is the
/// outbox row's, the same on every attempt, so a mail system that got the
/// first copy can drop a second.
pub fn message(smtp: &SmtpConfig, notice: &Claimed, now: jiff::Timestamp) -> Result<Message, String> {
    let from: Mailbox = smtp
        .settings
        .from
        .parse()
        .map_err(|e| format!("the sender {:?} is not an address: {e}", smtp.settings.from))?;
    let to: Mailbox = notice.target.parse().map_err(|e| format!("the recipient is not an address: {e}"))?;
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from)
        .to(to)
        .subject(notice.subject.clone())
        .date(system_time(now))
        .message_id(Some(format!("<notice-{}.{}@{domain}>", notice.id, event_token(&notice.event_key))))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Anfang-Event"), notice.event_key.clone()))
        .header(ContentType::TEXT_PLAIN)
        .body(notice.body.clone())
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// The server clock's instant as the `Date` header takes it.
fn system_time(at: jiff::Timestamp) -> std::time::SystemTime {
    let ms = u64::try_from(at.as_millisecond()).unwrap_or(0);
    std::time::UNIX_EPOCH + Duration::from_millis(ms)
}

/// The event key as a Message-ID may carry it (no `/`): its SHA-256, short.
fn event_token(event_key: &str) -> String {
    anfang_core::domain::sha256_hex(event_key.as_bytes())[..16].to_owned()
}

/// Sends one email through the configured server; the error says what
/// failed, for the delivery log (never the password).
pub async fn send(smtp: &SmtpConfig, notice: &Claimed, now: jiff::Timestamp, timeout: Duration) -> Result<(), String> {
    let s = &smtp.settings;
    if s.host.is_empty() {
        return Err("no email server is set (控制台 设置 → 邮件服务器)".to_owned());
    }
    let message = message(smtp, notice, now)?;
    let builder = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str()),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| format!("STARTTLS to {}: {e}", s.host))?,
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| format!("TLS to {}: {e}", s.host))?
        }
    };
    let mut builder = builder.port(s.port).timeout(Some(timeout));
    if !s.username.is_empty() {
        builder = builder.credentials(Credentials::new(s.username.clone(), smtp.password.clone()));
    }
    let transport = builder.build();
    transport.send(message).await.map(|_| ()).map_err(|e| format!("SMTP {}:{}: {e}", s.host, s.port))
}
