//! The outbox's email server: the `smtp_*` keys of `office_settings`
//! (migration 0013). The password is stored for the worker and never read
//! back out through an answer: [`SmtpSettings`] says only `has_password`.

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refused
    /// if the server does not offer it.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }

    pub fn parse(s: &str) -> Option<SmtpTls> {
        [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls].into_iter().find(|t| t.as_str() == s)
    }
}

/// The SMTP settings as answers show them: no password, only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SmtpSettings {
    /// Empty: no email server; email notices wait (with backoff) until one is set.
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub from: String,
    pub has_password: bool,
}

/// What the delivery worker connects with, password included. Never serialized.
#[derive(Clone)]
pub struct SmtpConfig {
    pub settings: SmtpSettings,
    pub password: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn get(conn: &Connection, key: &str) -> Result<String, AppError> {
    Ok(conn
        .query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

fn config(conn: &Connection) -> Result<SmtpConfig, AppError> {
    let password = get(conn, "smtp_password")?;
    let tls = get(conn, "smtp_tls")?;
    let settings = SmtpSettings {
        host: get(conn, "smtp_host")?,
        // A value no form could have stored reads as the default, not a crash.
        port: get(conn, "smtp_port")?.parse().unwrap_or(25),
        tls: SmtpTls::parse(&tls).unwrap_or(SmtpTls::None),
        username: get(conn, "smtp_username")?,
        from: get(conn, "smtp_from")?,
        has_password: !password.is_empty(),
    };
    Ok(SmtpConfig { settings, password })
}

fn store(conn: &mut Connection, s: &SmtpSettings, password: Option<&str>) -> Result<SmtpSettings, AppError> {
    let tx = conn.transaction()?;
    let port = s.port.to_string();
    let mut rows = vec![
        ("smtp_host", s.host.as_str()),
        ("smtp_port", port.as_str()),
        ("smtp_tls", s.tls.as_str()),
        ("smtp_username", s.username.as_str()),
        ("smtp_from", s.from.as_str()),
    ];
    if let Some(p) = password {
        rows.push(("smtp_password", p));
    }
    for (key, value) in rows {
        tx.execute(
            "INSERT INTO office_settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
    }
    let saved = config(&tx)?.settings;
    tx.commit()?;
    Ok(saved)
}

impl super::Db {
    /// The SMTP settings, without the password.
    pub async fn smtp_settings(&self) -> Result<SmtpSettings, AppError> {
        self.read(|c| Ok(config(c)?.settings)).await
    }

    /// The settings with the password, for the delivery worker only.
    pub async fn smtp_config(&self) -> Result<SmtpConfig, AppError> {
        self.read(config).await
    }

    /// Stores checked settings (`app::contacts::check_smtp`); the password
    /// only when one is given (`Some("")` clears it).
    pub async fn save_smtp_settings(
        &self,
        settings: SmtpSettings,
        password: Option<String>,
    ) -> Result<SmtpSettings, AppError> {
        self.write(move |c| store(c, &settings, password.as_deref())).await
    }
}
