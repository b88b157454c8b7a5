//! Who at a unit is told (联系人, 点长, 分管领导), and how: an email
//! address, a group robot (企业微信, 钉钉) or the office's own signed JSON
//! webhook. The rules a contact must satisfy before it is stored, and the
//! SMTP settings the outbox's email goes out through.
//!
//! Every refusal is a 422 with its own code and the field at fault, so the
//! console and API clients can say what to fix. Whether a contact's point
//! belongs to its unit is a fact of the database, checked by the store in
//! the write ([`crate::db::contacts`]).

use crate::db::Db;
use crate::db::contacts::{Contact, SecretChange};
use crate::db::outbox::{Channel, ContactRole};
use crate::db::smtp::{SmtpSettings, SmtpTls};
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// The robot or webhook a contact is reached by (`unit_contacts.webhook_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// 企业微信 group robot.
    Wecom,
    /// 钉钉 group robot.
    Dingtalk,
    /// The office's own system: the notice as data, signed with the contact's secret.
    Json,
}

impl WebhookKind {
    pub fn channel(self) -> Channel {
        match self {
            WebhookKind::Wecom => Channel::Wecom,
            WebhookKind::Dingtalk => Channel::Dingtalk,
            WebhookKind::Json => Channel::Json,
        }
    }

    pub fn parse(s: &str) -> Option<WebhookKind> {
        [WebhookKind::Wecom, WebhookKind::Dingtalk, WebhookKind::Json].into_iter().find(|k| k.channel().as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            WebhookKind::Wecom => "企业微信机器人",
            WebhookKind::Dingtalk => "钉钉机器人",
            WebhookKind::Json => "通用 JSON 推送",
        }
    }
}

/// A contact as an admin sends it (create, or replace on update).
///
/// `role` and `webhook_kind` arrive as text so that an unknown value is a
/// 422 with its own code, like every other rule, rather than a parse error.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// 1 to 40 characters.
    pub name: String,
    #[schemars(with = "ContactRole")]
    pub role: String,
    /// Only for a 点长 (`point_chief`): the one point they answer for, a
    /// point of this unit. Absent: all the unit's points.
    #[serde(default)]
    pub point_id: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<WebhookKind>")]
    pub webhook_kind: Option<String>,
    /// `http://` or `https://`; with `webhook_kind`, or both absent.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Signs `json` webhooks (16 to 256 characters). Write-only: answers say
    /// only `has_secret`. Absent, null or empty keeps the stored secret.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// `false` deactivates: the contact is told nothing more, and a notice
    /// still waiting for it is not sent. Rows are kept (the delivery log
    /// names them).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A contact that passed [`check_contact`], as the store writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedContact {
    pub name: String,
    pub role: ContactRole,
    pub point_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub webhook: Option<(WebhookKind, String)>,
    pub secret: SecretChange,
    pub active: bool,
}

fn refuse(code: ErrorCode, field: &'static str, message: impl Into<String>) -> AppError {
    AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
}

/// Trimmed, `None` when empty: console forms send every field.
fn present(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// An email address lettre will accept at delivery time, so a contact saved
/// today cannot fail as "not an address" at six in the evening.
pub fn check_email(field: &'static str, code: ErrorCode, email: &str) -> Result<(), AppError> {
    let bad = |why: &str| refuse(code, field, format!("{field}: {email:?} is not an email address ({why})"));
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("too long, or holds spaces"));
    }
    let Some((_, domain)) = email.rsplit_once('@') else { return Err(bad("no @")) };
    if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(bad("no domain after @"));
    }
    email.parse::<lettre::Address>().map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

/// A webhook address: http or https with a host, nothing else (no `ftp:`,
/// no `file:`, no `javascript:`), and not absurdly long.
pub fn check_webhook_url(url: &str) -> Result<(), AppError> {
    let bad = |why: &str| {
        refuse(
            ErrorCode::ContactWebhookUrlInvalid,
            "webhook_url",
            format!("webhook_url: {why}; use a full http:// or https:// address"),
        )
    };
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("too long, or holds spaces"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(&format!("scheme {:?} is not http or https", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(())
}

fn check_phone(phone: &str) -> Result<(), AppError> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'));
    if !allowed || !(3..=20).contains(&digits) || phone.chars().count() > 32 {
        return Err(refuse(
            ErrorCode::ContactPhoneInvalid,
            "phone",
            format!("phone: {phone:?} is not a phone number (3 to 20 digits, with spaces, +, - or brackets)"),
        ));
    }
    Ok(())
}

/// A contact's own rules; its unit's existence and its point's unit are
/// checked by the store in the write.
pub fn check_contact(input: &ContactInput) -> Result<CheckedContact, AppError> {
    let name = input.name.trim().to_owned();
    crate::app::reference::check_text("name", &name)?;
    if name.is_empty() || name.chars().count() > 40 {
        return Err(refuse(ErrorCode::ContactNameLength, "name", "name: needs 1 to 40 characters"));
    }
    let role = ContactRole::parse(input.role.trim()).ok_or_else(|| {
        refuse(
            ErrorCode::ContactRoleUnknown,
            "role",
            format!("role: {:?}; use contact, point_chief or leader", input.role),
        )
    })?;
    let point_id = present(&input.point_id);
    if point_id.is_some() && role != ContactRole::PointChief {
        return Err(refuse(
            ErrorCode::ContactPointNotChief,
            "point_id",
            "point_id: only a point_chief answers for one point; leave it out for this role",
        ));
    }
    let phone = present(&input.phone);
    if let Some(p) = &phone {
        check_phone(p)?;
    }
    let email = present(&input.email);
    if let Some(e) = &email {
        check_email("email", ErrorCode::ContactEmailInvalid, e)?;
    }
    let webhook = match (present(&input.webhook_kind), present(&input.webhook_url)) {
        (None, None) => None,
        (Some(kind), Some(url)) => {
            let kind = WebhookKind::parse(&kind).ok_or_else(|| {
                refuse(
                    ErrorCode::ContactWebhookKindUnknown,
                    "webhook_kind",
                    format!("webhook_kind: {kind:?}; use wecom, dingtalk or json"),
                )
            })?;
            check_webhook_url(&url)?;
            Some((kind, url))
        }
        (kind, _) => {
            return Err(refuse(
                ErrorCode::ContactWebhookIncomplete,
                if kind.is_some() { "webhook_url" } else { "webhook_kind" },
                "webhook_kind and webhook_url go together: give both, or neither",
            ));
        }
    };
    let secret = present(&input.webhook_secret);
    let is_json = matches!(webhook, Some((WebhookKind::Json, _)));
    let secret = match (secret, is_json) {
        (Some(s), true) => {
            let n = s.chars().count();
            if !(16..=256).contains(&n) || s.chars().any(char::is_control) {
                return Err(refuse(
                    ErrorCode::ContactSecretInvalid,
                    "webhook_secret",
                    format!("webhook_secret: {n} characters; use 16 to 256, without control characters"),
                ));
            }
            SecretChange::Set(s)
        }
        (None, true) => SecretChange::Keep,
        (Some(_), false) => {
            return Err(refuse(
                ErrorCode::ContactSecretInvalid,
                "webhook_secret",
                "webhook_secret signs json webhooks only; leave it out for email and group robots",
            ));
        }
        // A robot is authenticated by its URL; a secret left from an
        // earlier json webhook is not kept where nothing uses it.
        (None, false) => SecretChange::Clear,
    };
    Ok(CheckedContact { name, role, point_id, phone, email, webhook, secret, active: input.active })
}

/// A unit's contacts; `None` when there is no such unit.
pub async fn list(db: &Db, unit_id: String) -> Result<Vec<Contact>, AppError> {
    db.unit_contacts(unit_id.clone()).await?.ok_or_else(|| unknown_unit(&unit_id))
}

pub(crate) fn unknown_unit(unit_id: &str) -> AppError {
    AppError::coded(StatusCode::NOT_FOUND, ErrorCode::UnitUnknown, format!("no unit {unit_id:?}")).with_field("unit_id")
}

pub async fn create(db: &Db, unit_id: String, input: ContactInput) -> Result<Contact, AppError> {
    let checked = check_contact(&input)?;
    db.create_contact(unit_id, checked).await
}

pub async fn update(db: &Db, id: i64, input: ContactInput) -> Result<Contact, AppError> {
    let checked = check_contact(&input)?;
    db.update_contact(id, checked).await
}

/// Enqueues a test notice (kind `test`) to every address of one active
/// contact, under the event key `test/{contact}/{now_ms}`; returns how many
/// deliveries were enqueued. The caller wakes the delivery worker.
pub async fn send_test(db: &Db, id: i64, now: jiff::Timestamp) -> Result<usize, AppError> {
    db.enqueue_test_notice(id, now).await
}

/// The SMTP settings as an admin sends them. The password is write-only:
/// absent or null keeps the stored one, `""` clears it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpInput {
    /// Host name or IP address; empty: no email server (email notices wait,
    /// with backoff, until one is set).
    pub host: String,
    pub port: u32,
    #[schemars(with = "SmtpTls")]
    pub tls: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender: `anfang@example.gov.cn` or `四城同创办 <anfang@example.gov.cn>`.
    pub from: String,
}

/// Checks SMTP settings; the stored value of the password is kept unless
/// one is given.
pub fn check_smtp(input: &SmtpInput) -> Result<(SmtpSettings, Option<String>), AppError> {
    let host = input.host.trim().to_owned();
    let host_ok = host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-']);
    if !host_ok {
        return Err(refuse(
            ErrorCode::SmtpHostInvalid,
            "host",
            format!("host: {host:?} is not a host name or IP address"),
        ));
    }
    let port = u16::try_from(input.port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| refuse(ErrorCode::SmtpPortInvalid, "port", format!("port: {}; use 1 to 65535", input.port)))?;
    let tls = SmtpTls::parse(input.tls.trim()).ok_or_else(|| {
        refuse(ErrorCode::SmtpTlsUnknown, "tls", format!("tls: {:?}; use none, starttls or tls", input.tls))
    })?;
    let username = input.username.trim().to_owned();
    crate::app::reference::check_text("username", &username)?;
    if username.chars().count() > 256 {
        return Err(refuse(ErrorCode::SmtpCredentialTooLong, "username", "username: at most 256 characters"));
    }
    if let Some(p) = &input.password {
        crate::app::reference::check_text("password", p)?;
        if p.len() > 1024 {
            return Err(refuse(ErrorCode::SmtpCredentialTooLong, "password", "password: at most 1024 bytes"));
        }
    }
    let from = input.from.trim().to_owned();
    let bad_from = || {
        refuse(
            ErrorCode::SmtpFromInvalid,
            "from",
            format!("from: {from:?} is not an address like anfang@example.gov.cn or 名称 <anfang@example.gov.cn>"),
        )
    };
    let mailbox: lettre::message::Mailbox = from.parse().map_err(|_| bad_from())?;
    check_email("from", ErrorCode::SmtpFromInvalid, mailbox.email.as_ref()).map_err(|_| bad_from())?;
    Ok((SmtpSettings { host, port, tls, username, from, has_password: false }, input.password.clone()))
}

pub async fn save_smtp(db: &Db, input: SmtpInput) -> Result<SmtpSettings, AppError> {
    let (settings, password) = check_smtp(&input)?;
    db.save_smtp_settings(settings, password).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ContactInput {
        ContactInput { name: "王联络".into(), role: "contact".into(), active: true, ..ContactInput::default() }
    }

    fn code(r: Result<CheckedContact, AppError>) -> (ErrorCode, Option<&'static str>) {
        let e = r.unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        (e.code(), e.field())
    }

    #[test]
    fn a_contact_with_an_email_and_a_robot_passes_and_empty_fields_are_absent() {
        let c = check_contact(&ContactInput {
            email: Some(" liaison@unit.example.cn ".into()),
            phone: Some("".into()),
            webhook_kind: Some("wecom".into()),
            webhook_url: Some("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc".into()),
            ..input()
        })
        .unwrap();
        assert_eq!(c.email.as_deref(), Some("liaison@unit.example.cn"));
        assert_eq!(c.phone, None);
        assert_eq!(c.webhook.as_ref().map(|w| w.0), Some(WebhookKind::Wecom));
        assert_eq!(c.secret, SecretChange::Clear);
    }

    #[test]
    fn bad_addresses_are_refused_with_their_code_and_field() {
        for bad in ["not-an-email", "a b@example.com", "a@", "@example.com", "a@.example.com"] {
            assert_eq!(
                code(check_contact(&ContactInput { email: Some(bad.into()), ..input() })),
                (ErrorCode::ContactEmailInvalid, Some("email")),
                "{bad}"
            );
        }
        for bad in
            ["ftp://example.com/hook", "javascript:alert(1)", "file:///etc/passwd", "example.com/hook", "http://"]
        {
            assert_eq!(
                code(check_contact(&ContactInput {
                    webhook_kind: Some("json".into()),
                    webhook_url: Some(bad.into()),
                    webhook_secret: Some("s".repeat(20)),
                    ..input()
                })),
                (ErrorCode::ContactWebhookUrlInvalid, Some("webhook_url")),
                "{bad}"
            );
        }
        assert_eq!(
            code(check_contact(&ContactInput { webhook_kind: Some("wecom".into()), ..input() })),
            (ErrorCode::ContactWebhookIncomplete, Some("webhook_url"))
        );
        assert_eq!(
            code(check_contact(&ContactInput {
                webhook_kind: Some("slack".into()),
                webhook_url: Some("https://h.example".into()),
                ..input()
            })),
            (ErrorCode::ContactWebhookKindUnknown, Some("webhook_kind"))
        );
        assert_eq!(
            code(check_contact(&ContactInput { phone: Some("call me".into()), ..input() })),
            (ErrorCode::ContactPhoneInvalid, Some("phone"))
        );
        assert_eq!(
            code(check_contact(&ContactInput { role: "boss".into(), ..input() })).0,
            ErrorCode::ContactRoleUnknown
        );
        assert_eq!(code(check_contact(&ContactInput { name: " ".into(), ..input() })).0, ErrorCode::ContactNameLength);
    }

    #[test]
    fn only_a_point_chief_names_a_point_and_only_json_webhooks_take_a_secret() {
        assert_eq!(
            code(check_contact(&ContactInput { point_id: Some("P001".into()), ..input() })),
            (ErrorCode::ContactPointNotChief, Some("point_id"))
        );
        let chief =
            check_contact(&ContactInput { role: "point_chief".into(), point_id: Some("P001".into()), ..input() })
                .unwrap();
        assert_eq!(chief.point_id.as_deref(), Some("P001"));
        let robot = ContactInput {
            webhook_kind: Some("dingtalk".into()),
            webhook_url: Some("https://oapi.dingtalk.com/robot/send?access_token=x".into()),
            webhook_secret: Some("s".repeat(20)),
            ..input()
        };
        assert_eq!(code(check_contact(&robot)).0, ErrorCode::ContactSecretInvalid);
        let json = ContactInput {
            webhook_kind: Some("json".into()),
            webhook_url: Some("http://127.0.0.1:9/hook".into()),
            webhook_secret: Some("short".into()),
            ..input()
        };
        assert_eq!(code(check_contact(&json)).0, ErrorCode::ContactSecretInvalid);
        let keep = check_contact(&ContactInput { webhook_secret: None, ..json.clone() }).unwrap();
        assert_eq!(keep.secret, SecretChange::Keep);
    }

    #[test]
    fn smtp_settings_are_checked_field_by_field() {
        let ok = SmtpInput {
            host: "smtp.example.gov.cn".into(),
            port: 465,
            tls: "tls".into(),
            username: "anfang".into(),
            password: Some("pw".into()),
            from: "四城同创办 <anfang@example.gov.cn>".into(),
        };
        let (s, pw) = check_smtp(&ok).unwrap();
        assert_eq!((s.port, s.tls, pw.as_deref()), (465, SmtpTls::Tls, Some("pw")));
        let bad = |i: SmtpInput| {
            let e = check_smtp(&i).unwrap_err();
            (e.code(), e.field())
        };
        assert_eq!(bad(SmtpInput { port: 0, ..ok.clone() }), (ErrorCode::SmtpPortInvalid, Some("port")));
        assert_eq!(bad(SmtpInput { port: 70000, ..ok.clone() }), (ErrorCode::SmtpPortInvalid, Some("port")));
        assert_eq!(bad(SmtpInput { tls: "ssl3".into(), ..ok.clone() }), (ErrorCode::SmtpTlsUnknown, Some("tls")));
        assert_eq!(bad(SmtpInput { host: "smtp example".into(), ..ok.clone() }).0, ErrorCode::SmtpHostInvalid);
        assert_eq!(bad(SmtpInput { from: "nobody".into(), ..ok.clone() }), (ErrorCode::SmtpFromInvalid, Some("from")));
        // The migration's default sender must stay acceptable.
        assert!(check_smtp(&SmtpInput { from: "anfang@localhost".into(), host: String::new(), ..ok }).is_ok());
    }
}
