//! Office users and their sessions; inspectors, their enrollment codes and
//! their devices.
//!
//! **Invariant:** no secret is stored in clear: passwords as Argon2id PHC
//! strings, tokens and enrollment codes as SHA-256.

use crate::auth::{self, DeviceCaller, OfficeCaller, Role};
use crate::error::AppError;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

/// How long an office sign-in lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long an enrollment code stays valid.
pub const ENROLLMENT_DAYS: i64 = 7;

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn plus_hours(hours: i64) -> String {
    (now() + jiff::SignedDuration::from_hours(hours)).to_string()
}

/// Adds an office user; the password is hashed here.
pub fn add_user(conn: &Connection, username: &str, password: &str, role: Role) -> Result<i64, AppError> {
    if role == Role::Unit {
        return Err(AppError::BadRequest("a unit account needs its unit: use add_unit_user (--unit)".into()));
    }
    insert_user(conn, username, password, role, None)
}

/// Adds a responsible-unit account (责任单位账号) tied to one existing unit.
pub fn add_unit_user(conn: &Connection, username: &str, password: &str, unit_id: &str) -> Result<i64, AppError> {
    let known: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM units WHERE id = ?1)", [unit_id], |r| r.get(0))?;
    if !known {
        return Err(AppError::BadRequest(format!("there is no unit {unit_id:?}; add it first (or check the unit id)")));
    }
    insert_user(conn, username, password, Role::Unit, Some(unit_id))
}

fn insert_user(
    conn: &Connection,
    username: &str,
    password: &str,
    role: Role,
    unit_id: Option<&str>,
) -> Result<i64, AppError> {
    let username = username.trim();
    if username.is_empty() || username.len() > 64 {
        return Err(AppError::BadRequest("a username needs 1 to 64 characters".into()));
    }
    if password.chars().count() < 10 {
        return Err(AppError::BadRequest("a password needs at least 10 characters".into()));
    }
    let hash = auth::hash_password(password)?;
    match conn.execute(
        "INSERT INTO users (username, password_hash, role, created_at, unit_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, hash, role.as_str(), now().to_string(), unit_id],
    ) {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            Err(AppError::Conflict { message: format!("a user named {username:?} already exists"), offset: None })
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks a password and opens a session; `None` when they don't match.
pub fn login(conn: &Connection, username: &str, password: &str) -> Result<Option<String>, AppError> {
    let row: Option<(i64, String)> = conn
        .query_row("SELECT id, password_hash FROM users WHERE username = ?1 AND active = 1", [username.trim()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((user_id, hash)) = row else {
        // Spend the same time as a real check, so timing doesn't reveal
        // which usernames exist.
        let _ = auth::verify_password(password, dummy_hash());
        return Ok(None);
    };
    if !auth::verify_password(password, &hash) {
        return Ok(None);
    }
    let token = auth::new_token(auth::SESSION_TOKEN_PREFIX);
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![auth::secret_hash(&token), user_id, now().to_string(), plus_hours(SESSION_HOURS)],
    )?;
    Ok(Some(token))
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password("not a real password").unwrap_or_default())
}

pub fn session_by_token_hash(conn: &Connection, hash: &str) -> Result<Option<OfficeCaller>, AppError> {
    let row: Option<(i64, String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT u.id, u.username, u.role, s.expires_at, u.unit_id FROM sessions s
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND u.active = 1",
            [hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((user_id, username, role, expires_at, unit_id)) = row else { return Ok(None) };
    let expires: jiff::Timestamp = expires_at.parse().map_err(AppError::internal)?;
    if expires <= now() {
        return Ok(None);
    }
    let role = role.parse().map_err(AppError::Internal)?;
    Ok(Some(OfficeCaller { user_id, username, role, unit_id }))
}

/// A new inspector and their first enrollment code (returned in clear once).
pub fn add_inspector(conn: &mut Connection, alias: &str) -> Result<(i64, String), AppError> {
    let alias = alias.trim();
    if alias.is_empty() || alias.chars().count() > 32 {
        return Err(AppError::coded(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            anfang_core::error_code::ErrorCode::InspectorAliasLength,
            "an inspector alias needs 1 to 32 characters, e.g. 督查03",
        )
        .with_field("alias"));
    }
    let tx = conn.transaction()?;
    match tx.execute("INSERT INTO inspectors (alias, created_at) VALUES (?1, ?2)", params![alias, now().to_string()]) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
            return Err(AppError::Conflict {
                message: format!("an inspector called {alias:?} already exists"),
                offset: None,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let id = tx.last_insert_rowid();
    let code = issue_code(&tx, id)?;
    tx.commit()?;
    Ok((id, code))
}

/// A fresh enrollment code for an existing inspector (a new phone).
pub fn issue_code(conn: &Connection, inspector_id: i64) -> Result<String, AppError> {
    let code = auth::new_enrollment_code();
    conn.execute(
        "INSERT INTO enrollment_codes (code_hash, inspector_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            auth::secret_hash(&auth::normalize_code(&code)),
            inspector_id,
            now().to_string(),
            plus_hours(ENROLLMENT_DAYS * 24)
        ],
    )?;
    Ok(code)
}

/// The result of a successful enrollment.
pub struct Enrolled {
    pub device_id: Uuid,
    pub token: String,
    pub alias: String,
}

/// Spends a one-time code and registers a device, in one transaction.
pub fn enroll(conn: &mut Connection, code: &str, label: Option<&str>, public_key: &str) -> Result<Enrolled, AppError> {
    anfang_core::evidence::parse_public_key(public_key).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let hash = auth::secret_hash(&auth::normalize_code(code));
    let tx = conn.transaction()?;
    let row: Option<(i64, String, Option<String>, String, bool)> = tx
        .query_row(
            "SELECT c.inspector_id, c.expires_at, c.used_at, i.alias, i.active
             FROM enrollment_codes c JOIN inspectors i ON i.id = c.inspector_id
             WHERE c.code_hash = ?1",
            [&hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let unusable = || {
        AppError::Unauthenticated(
            "this enrollment code is unknown, already used or expired; ask the office for a new one".into(),
        )
    };
    let Some((inspector_id, expires_at, used_at, alias, active)) = row else { return Err(unusable()) };
    let expired = expires_at.parse::<jiff::Timestamp>().map_err(AppError::internal)? <= now();
    if used_at.is_some() || expired || !active {
        return Err(unusable());
    }
    let device_id = Uuid::now_v7();
    let token = auth::new_token(auth::DEVICE_TOKEN_PREFIX);
    tx.execute("UPDATE enrollment_codes SET used_at = ?2 WHERE code_hash = ?1", params![hash, now().to_string()])?;
    let label: Option<String> = label.map(|l| l.chars().take(80).collect());
    tx.execute(
        "INSERT INTO devices (id, inspector_id, token_hash, label, enrolled_at, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![device_id.to_string(), inspector_id, auth::secret_hash(&token), label, now().to_string(), public_key],
    )?;
    tx.commit()?;
    Ok(Enrolled { device_id, token, alias })
}

pub fn device_by_token_hash(conn: &Connection, hash: &str) -> Result<Option<DeviceCaller>, AppError> {
    Ok(conn
        .query_row(
            "SELECT d.id, d.inspector_id, d.public_key FROM devices d JOIN inspectors i ON i.id = d.inspector_id
             WHERE d.token_hash = ?1 AND d.revoked_at IS NULL AND i.active = 1",
            [hash],
            |r| Ok(DeviceCaller { device_id: r.get(0)?, inspector_id: r.get(1)?, public_key: r.get(2)? }),
        )
        .optional()?)
}

/// Every inspector's alias, to mask in notes shown beyond reviewers.
pub fn alias_mask(conn: &Connection) -> Result<crate::redact::AliasMask, AppError> {
    let mut stmt = conn.prepare_cached("SELECT alias FROM inspectors")?;
    let aliases = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(crate::redact::AliasMask::new(aliases))
}

pub fn inspector_id_by_alias(conn: &Connection, alias: &str) -> Result<Option<i64>, AppError> {
    Ok(conn.query_row("SELECT id FROM inspectors WHERE alias = ?1", [alias], |r| r.get(0)).optional()?)
}

/// Ends a session (sign-out); unknown tokens are fine.
pub fn end_session(conn: &Connection, token_hash: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}
