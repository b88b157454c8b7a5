//! Office users and their sessions; inspectors, their enrollment codes and
//! their devices.
//!
//! **Invariant:** no secret is stored in clear: passwords as Argon2id PHC
//! strings, tokens and enrollment codes as SHA-256.

use super::sql::{Connection, OptionalExtension, params};
use crate::auth::{self, DeviceCaller, OfficeCaller, Role};
use crate::error::AppError;
use jiff::Timestamp;
use uuid::Uuid;

/// How long an office sign-in lasts at most (absolute lifetime): one working
/// day, so nobody stays signed in overnight on an office PC.
pub const SESSION_HOURS: i64 = 12;
/// An office session ends after this long without a request (idle
/// lifetime): a console left open on a shared PC closes within half an hour.
pub const SESSION_IDLE_MINUTES: i64 = 30;
/// How long an enrollment code stays valid.
pub const ENROLLMENT_DAYS: i64 = 7;
/// A device token older than this is replaced on the device's next sync
/// (the pull answer says so; the device then asks `POST /api/v1/device/token`).
/// A copied token is thus useless about a week later, whenever the phone
/// syncs; an offline phone simply rotates when it is next online.
pub const DEVICE_TOKEN_ROTATE_DAYS: i64 = 7;
/// A device not heard from for this long must enroll again. Inspectors work
/// offline for weeks (leave, a long campaign without signal): a quarter is
/// far beyond that, yet ends phones that were lost without anyone noticing.
pub const DEVICE_IDLE_DAYS: i64 = 90;
/// `last_seen_at` / `last_used_at` are written at most this often, so a
/// burst of requests does not turn every read into a write.
const TOUCH_SECONDS: i64 = 60;

/// The system clock, for the few functions the console and the route
/// table's tests still call without a `now` (until they are switched over to
/// the `Db` methods, which take the server's clock).
fn legacy_now() -> Timestamp {
    Timestamp::now()
}

fn parse_ts(text: &str) -> Result<jiff::Timestamp, AppError> {
    text.parse().map_err(AppError::internal)
}

fn older_than(now: Timestamp, text: &str, limit: jiff::SignedDuration) -> Result<bool, AppError> {
    Ok(now.duration_since(parse_ts(text)?) >= limit)
}

fn plus_hours(now: Timestamp, hours: i64) -> String {
    (now + jiff::SignedDuration::from_hours(hours)).to_string()
}

/// [`add_user_at`] on the system clock (route-table tests, until merged).
#[doc(hidden)]
pub fn add_user(conn: &Connection, username: &str, password: &str, role: Role) -> Result<i64, AppError> {
    add_user_at(conn, username, password, role, legacy_now())
}

/// Adds an office user; the password is hashed here.
pub(in crate::db) fn add_user_at(
    conn: &Connection,
    username: &str,
    password: &str,
    role: Role,
    now: Timestamp,
) -> Result<i64, AppError> {
    if role == Role::Unit {
        return Err(AppError::BadRequest("a unit account needs its unit: use add_unit_user (--unit)".into()));
    }
    insert_user(conn, username, password, role, None, now)
}

/// [`add_unit_user_at`] on the system clock (route-table tests, until merged).
#[doc(hidden)]
pub fn add_unit_user(conn: &Connection, username: &str, password: &str, unit_id: &str) -> Result<i64, AppError> {
    add_unit_user_at(conn, username, password, unit_id, legacy_now())
}

/// Adds a responsible-unit account (责任单位账号) tied to one existing unit.
pub(in crate::db) fn add_unit_user_at(
    conn: &Connection,
    username: &str,
    password: &str,
    unit_id: &str,
    now: Timestamp,
) -> Result<i64, AppError> {
    let known: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM units WHERE id = ?1)", [unit_id], |r| r.get(0))?;
    if !known {
        return Err(AppError::BadRequest(format!("there is no unit {unit_id:?}; add it first (or check the unit id)")));
    }
    insert_user(conn, username, password, Role::Unit, Some(unit_id), now)
}

fn insert_user(
    conn: &Connection,
    username: &str,
    password: &str,
    role: Role,
    unit_id: Option<&str>,
    now: Timestamp,
) -> Result<i64, AppError> {
    // Stored in the form sign-in looks up and throttles (see `signin`).
    let username = crate::signin::normalize_username(username)
        .ok()
        .filter(|u| !u.is_empty() && !u.chars().any(char::is_control))
        .ok_or_else(|| {
            AppError::BadRequest(
                "a username needs 1 to 64 characters, without line breaks or control characters".into(),
            )
        })?;
    if password.chars().count() < 10 {
        return Err(AppError::BadRequest("a password needs at least 10 characters".into()));
    }
    if password.len() > crate::signin::MAX_PASSWORD_BYTES {
        return Err(AppError::BadRequest(format!(
            "a password has at most {} bytes",
            crate::signin::MAX_PASSWORD_BYTES
        )));
    }
    let conflict = || AppError::Conflict { message: format!("a user named {username:?} already exists"), offset: None };
    if legacy_user_named(conn, &username, false)?.is_some() {
        return Err(conflict());
    }
    let hash = auth::hash_password(password)?;
    match conn.execute(
        "INSERT INTO users (username, password_hash, role, created_at, unit_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, hash, role.as_str(), now.to_string(), unit_id],
    ) {
        Ok(_) => Ok(conn.last_insert_rowid()),
        Err(e) if e.is_constraint() => Err(conflict()),
        Err(e) => Err(e.into()),
    }
}

/// What sign-in needs of an account, read without the writer.
pub struct PasswordRow {
    pub user_id: i64,
    pub password_hash: String,
    pub role: Role,
}

/// The active account a normalised username names, if any.
pub(in crate::db) fn password_hash(conn: &Connection, username: &str) -> Result<Option<PasswordRow>, AppError> {
    let row: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT id, password_hash, role FROM users WHERE username = ?1 AND active = 1")?
        .query_row([username], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let row = match row {
        Some(row) => Some(row),
        None => legacy_user_named(conn, username, true)?,
    };
    let Some((user_id, password_hash, role)) = row else { return Ok(None) };
    Ok(Some(PasswordRow { user_id, password_hash, role: role.parse().map_err(AppError::Internal)? }))
}

/// Accounts made before usernames were normalised (`"Lead1"`, `" lead1"`)
/// are still found under their normal form. The users table is small (the
/// office and its units), so this scan on a miss costs little beside Argon2.
/// Two old accounts with the same normal form are ambiguous: neither matches.
fn legacy_user_named(
    conn: &Connection,
    username: &str,
    active_only: bool,
) -> Result<Option<(i64, String, String)>, AppError> {
    let mut stmt = conn.prepare_cached("SELECT id, username, password_hash, role, active FROM users")?;
    let mut rows = stmt.query([])?;
    let mut found = Vec::new();
    while let Some(r) = rows.next()? {
        let stored: String = r.get(1)?;
        let active: bool = r.get(4)?;
        if (active || !active_only) && crate::signin::normalize_username(&stored).is_ok_and(|n| n == username) {
            found.push((r.get(0)?, r.get(2)?, r.get(3)?));
        }
    }
    if found.len() > 1 {
        tracing::warn!("{} office accounts share one normalised username; rename all but one", found.len());
        return Ok(None);
    }
    Ok(found.pop())
}

/// A new session for a user whose password was just checked; the token.
pub(in crate::db) fn open_session(conn: &Connection, user_id: i64, now: Timestamp) -> Result<String, AppError> {
    let token = auth::new_token(auth::SESSION_TOKEN_PREFIX);
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![auth::secret_hash(&token), user_id, now.to_string(), plus_hours(now, SESSION_HOURS)],
    )?;
    Ok(token)
}

/// Checks a password and opens a session in one go; `None` when they don't
/// match. For tests and the command line only: it holds `conn` through the
/// Argon2 check, so the server signs in through `signin::sign_in`, which
/// holds no connection while checking.
#[doc(hidden)]
pub fn login(conn: &Connection, username: &str, password: &str) -> Result<Option<String>, AppError> {
    login_at(conn, username, password, legacy_now())
}

/// Like [`login`], at `now`.
pub(in crate::db) fn login_at(
    conn: &Connection,
    username: &str,
    password: &str,
    now: Timestamp,
) -> Result<Option<String>, AppError> {
    let Ok(username) = crate::signin::normalize_username(username) else { return Ok(None) };
    let Some(row) = password_hash(conn, &username)? else {
        // Spend the same time as a real check, so timing doesn't reveal
        // which usernames exist.
        let _ = auth::verify_password(password, dummy_hash());
        return Ok(None);
    };
    if !auth::verify_password(password, &row.password_hash) {
        return Ok(None);
    }
    Ok(Some(open_session(conn, row.user_id, now)?))
}

/// What unknown usernames are checked against, so they cost a real check.
pub(crate) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| auth::hash_password("not a real password").unwrap_or_default())
}

#[cfg(test)]
pub(in crate::db) fn session_by_token_hash(
    conn: &Connection,
    hash: &str,
    now: Timestamp,
) -> Result<Option<OfficeCaller>, AppError> {
    Ok(session_lookup(conn, hash, now)?.map(|s| s.caller))
}

/// A live session and whether its `last_used_at` should be written.
pub struct SessionLookup {
    pub caller: OfficeCaller,
    /// Last use is older than a minute: call [`touch_session`].
    pub stale: bool,
}

/// The session of a token hash, if it is live: its user is active, it is
/// younger than [`SESSION_HOURS`] and was used within [`SESSION_IDLE_MINUTES`].
pub(in crate::db) fn session_lookup(
    conn: &Connection,
    hash: &str,
    now: Timestamp,
) -> Result<Option<SessionLookup>, AppError> {
    type Row = (i64, String, String, String, String, Option<String>);
    let row: Option<Row> = conn
        .query_row(
            "SELECT u.id, u.username, u.role, s.expires_at, COALESCE(s.last_used_at, s.created_at), u.unit_id
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND u.active = 1",
            [hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((user_id, username, role, expires_at, last_used, unit_id)) = row else { return Ok(None) };
    let idle = older_than(now, &last_used, jiff::SignedDuration::from_mins(SESSION_IDLE_MINUTES))?;
    if parse_ts(&expires_at)? <= now || idle {
        return Ok(None);
    }
    let stale = older_than(now, &last_used, jiff::SignedDuration::from_secs(TOUCH_SECONDS))?;
    let role = role.parse().map_err(AppError::Internal)?;
    Ok(Some(SessionLookup { caller: OfficeCaller { user_id, username, role, unit_id }, stale }))
}

/// Records a session's use now (its idle lifetime starts again).
pub(in crate::db) fn touch_session(conn: &Connection, hash: &str, now: Timestamp) -> Result<(), AppError> {
    conn.execute("UPDATE sessions SET last_used_at = ?2 WHERE token_hash = ?1", params![hash, now.to_string()])?;
    Ok(())
}

/// What disabling a user did.
#[derive(Debug, serde::Serialize)]
pub struct Disabled {
    pub username: String,
    /// Sessions that were ended (all of the user's).
    pub sessions_ended: usize,
}

/// Disables an office (or unit) account and ends all its sessions at once,
/// in one transaction. The last active admin cannot be disabled: nobody could
/// administer the server any more from the console or the API.
pub(in crate::db) fn disable_user(conn: &mut Connection, username: &str) -> Result<Disabled, AppError> {
    let username = username.trim();
    let tx = conn.transaction()?;
    let row: Option<(i64, String, bool)> = tx
        .query_row("SELECT id, role, active FROM users WHERE username = ?1", [username], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((id, role, active)) = row else {
        return Err(AppError::NotFound(format!("there is no user named {username:?}")));
    };
    if active && role == Role::Admin.as_str() {
        let admins: i64 =
            tx.query_row("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1", [], |r| r.get(0))?;
        if admins <= 1 {
            return Err(AppError::coded(
                axum::http::StatusCode::CONFLICT,
                anfang_core::error_code::ErrorCode::LastAdmin,
                format!("{username:?} is the last active admin; add another admin before disabling this one"),
            ));
        }
    }
    tx.execute("UPDATE users SET active = 0 WHERE id = ?1", [id])?;
    let sessions_ended = tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    tx.commit()?;
    Ok(Disabled { username: username.to_owned(), sessions_ended })
}

/// [`add_inspector_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn add_inspector(conn: &mut Connection, alias: &str) -> Result<(i64, String), AppError> {
    add_inspector_at(conn, alias, legacy_now())
}

/// A new inspector of the city office and their first enrollment code
/// (returned in clear once).
pub(in crate::db) fn add_inspector_at(
    conn: &mut Connection,
    alias: &str,
    now: Timestamp,
) -> Result<(i64, String), AppError> {
    add_inspector_from(conn, alias, crate::league::Source::City, now)
}

/// A new inspector working for `source` (市级 / 区级 / 第三方), whose
/// findings the league weighs by it.
pub(in crate::db) fn add_inspector_from(
    conn: &mut Connection,
    alias: &str,
    source: crate::league::Source,
    now: Timestamp,
) -> Result<(i64, String), AppError> {
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
    match tx.execute(
        "INSERT INTO inspectors (alias, created_at, source) VALUES (?1, ?2, ?3)",
        params![alias, now.to_string(), source.as_str()],
    ) {
        Ok(_) => {}
        Err(e) if e.is_constraint() => {
            return Err(AppError::Conflict {
                message: format!("an inspector called {alias:?} already exists"),
                offset: None,
            });
        }
        Err(e) => return Err(e.into()),
    }
    let id = tx.last_insert_rowid();
    let code = issue_code(&tx, id, now)?;
    tx.commit()?;
    Ok((id, code))
}

/// A fresh enrollment code for an existing inspector (a new phone).
#[doc(hidden)]
pub fn issue_code(conn: &Connection, inspector_id: i64, now: Timestamp) -> Result<String, AppError> {
    let code = auth::new_enrollment_code();
    conn.execute(
        "INSERT INTO enrollment_codes (code_hash, inspector_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            auth::secret_hash(&auth::normalize_code(&code)),
            inspector_id,
            now.to_string(),
            plus_hours(now, ENROLLMENT_DAYS * 24)
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

/// [`enroll_at`] on the system clock (route-table tests, until merged).
#[doc(hidden)]
pub fn enroll(conn: &mut Connection, code: &str, label: Option<&str>, public_key: &str) -> Result<Enrolled, AppError> {
    enroll_at(conn, code, label, public_key, legacy_now())
}

/// Spends a one-time code and registers a device, in one transaction.
pub(in crate::db) fn enroll_at(
    conn: &mut Connection,
    code: &str,
    label: Option<&str>,
    public_key: &str,
    now: Timestamp,
) -> Result<Enrolled, AppError> {
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
    let expired = expires_at.parse::<jiff::Timestamp>().map_err(AppError::internal)? <= now;
    if used_at.is_some() || expired || !active {
        return Err(unusable());
    }
    let device_id = Uuid::now_v7();
    let token = auth::new_token(auth::DEVICE_TOKEN_PREFIX);
    tx.execute("UPDATE enrollment_codes SET used_at = ?2 WHERE code_hash = ?1", params![hash, now.to_string()])?;
    let label: Option<String> = label.map(|l| l.chars().take(80).collect());
    let enrolled_at = now.to_string();
    tx.execute(
        "INSERT INTO devices (id, inspector_id, token_hash, label, enrolled_at, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![device_id.to_string(), inspector_id, auth::secret_hash(&token), label, enrolled_at, public_key],
    )?;
    // The key that will verify this device's findings is itself evidence:
    // logged, so swapping it later (and re-signing) is named by `verify`.
    super::evidence::device_enrolled(&tx, &device_id.to_string(), inspector_id, Some(public_key), &enrolled_at, now)?;
    tx.commit()?;
    Ok(Enrolled { device_id, token, alias })
}

/// The device a token hash belongs to, on the system clock (route-table
/// tests, until merged).
#[doc(hidden)]
pub fn device_by_token_hash(conn: &Connection, hash: &str) -> Result<Option<DeviceCaller>, AppError> {
    match device_lookup(conn, hash, legacy_now()) {
        Ok(found) => Ok(Some(found.caller)),
        Err(AppError::Internal(e)) => Err(AppError::Internal(e)),
        Err(_) => Ok(None),
    }
}

/// A device token that the server accepts, and what to write about it.
pub struct DeviceLookup {
    pub caller: DeviceCaller,
    /// The token is the rotated one, used for the first time: call
    /// [`touch_device`] to make it the token (ending the old one).
    pub first_use_of_next: bool,
    /// `last_seen_at` is older than a minute: call [`touch_device`].
    pub stale: bool,
}

/// Checks a device token (current, or a rotated one not yet used). A
/// revoked device (or one of a deactivated inspector) gets 401
/// `device_revoked`, one unheard of for [`DEVICE_IDLE_DAYS`] 401
/// `device_expired`, an unknown token 401 `unauthenticated`.
pub(in crate::db) fn device_lookup(conn: &Connection, hash: &str, now: Timestamp) -> Result<DeviceLookup, AppError> {
    type Row = (String, i64, Option<String>, Option<String>, bool, bool, Option<String>, String);
    let row: Option<Row> = conn
        .query_row(
            "SELECT d.id, d.inspector_id, d.public_key, d.revoked_at, i.active, d.token_hash = ?1,
                    d.last_seen_at, d.enrolled_at
             FROM devices d JOIN inspectors i ON i.id = d.inspector_id
             WHERE d.token_hash = ?1 OR d.next_token_hash = ?1",
            [hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .optional()?;
    let Some((device_id, inspector_id, public_key, revoked_at, active, current, last_seen, enrolled_at)) = row else {
        return Err(AppError::Unauthenticated(
            "this device token is unknown (or was replaced by a newer one); enroll the device again".into(),
        ));
    };
    if revoked_at.is_some() || !active {
        return Err(AppError::coded(
            axum::http::StatusCode::UNAUTHORIZED,
            anfang_core::error_code::ErrorCode::DeviceRevoked,
            "the office has revoked this device; its unsynced findings stay on it (export them, or enroll again with a new code)",
        ));
    }
    if older_than(
        now,
        last_seen.as_deref().unwrap_or(&enrolled_at),
        jiff::SignedDuration::from_hours(DEVICE_IDLE_DAYS * 24),
    )? {
        return Err(AppError::coded(
            axum::http::StatusCode::UNAUTHORIZED,
            anfang_core::error_code::ErrorCode::DeviceExpired,
            format!(
                "this device has not synced for over {DEVICE_IDLE_DAYS} days and must enroll again; its unsynced findings stay on it"
            ),
        ));
    }
    let stale = match &last_seen {
        Some(seen) => older_than(now, seen, jiff::SignedDuration::from_secs(TOUCH_SECONDS))?,
        None => true,
    };
    Ok(DeviceLookup {
        caller: DeviceCaller { device_id, inspector_id, public_key },
        first_use_of_next: !current,
        stale,
    })
}

/// Records that a device was seen now; if it called with its rotated token,
/// that token becomes the device's and the old one stops working.
pub(in crate::db) fn touch_device(
    conn: &Connection,
    device_id: &str,
    hash: &str,
    first_use_of_next: bool,
    now: Timestamp,
) -> Result<(), AppError> {
    let now = now.to_string();
    if first_use_of_next {
        conn.execute(
            "UPDATE devices SET token_hash = next_token_hash, next_token_hash = NULL, token_issued_at = ?3,
                    last_seen_at = ?3
             WHERE id = ?1 AND next_token_hash = ?2 AND revoked_at IS NULL",
            params![device_id, hash, now],
        )?;
    } else {
        conn.execute("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1", params![device_id, now])?;
    }
    Ok(())
}

/// Whether the device's current token is old enough to be replaced.
pub(in crate::db) fn token_rotation_due(conn: &Connection, device_id: &str, now: Timestamp) -> Result<bool, AppError> {
    let issued: String =
        conn.query_row("SELECT COALESCE(token_issued_at, enrolled_at) FROM devices WHERE id = ?1", [device_id], |r| {
            r.get(0)
        })?;
    older_than(now, &issued, jiff::SignedDuration::from_hours(DEVICE_TOKEN_ROTATE_DAYS * 24))
}

/// A fresh token for a device (returned in clear once). Until the device uses
/// it, the old token keeps working, so a lost answer locks nobody out; a
/// second rotation before that replaces the unused one.
pub(in crate::db) fn rotate_device_token(conn: &Connection, device_id: &str) -> Result<String, AppError> {
    let token = auth::new_token(auth::DEVICE_TOKEN_PREFIX);
    let n = conn.execute(
        "UPDATE devices SET next_token_hash = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![device_id, auth::secret_hash(&token)],
    )?;
    if n == 0 {
        return Err(AppError::coded(
            axum::http::StatusCode::UNAUTHORIZED,
            anfang_core::error_code::ErrorCode::DeviceRevoked,
            "the office has revoked this device",
        ));
    }
    Ok(token)
}

/// One enrolled device, as the office's inspectors page lists it. No token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub inspector_id: i64,
    pub label: Option<String>,
    pub enrolled_at: String,
    /// The last authenticated request (to the minute); `None`: not since enrolment.
    pub last_seen_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Every device, newest enrolment first; `inspector` narrows to one inspector.
#[doc(hidden)]
pub fn devices(conn: &Connection, inspector: Option<i64>) -> Result<Vec<DeviceRow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, inspector_id, label, enrolled_at, last_seen_at, revoked_at FROM devices
         WHERE (inspector_id = ?1 OR ?1 IS NULL) ORDER BY enrolled_at DESC, id",
    )?;
    let rows = stmt
        .query_map([inspector], |r| {
            Ok(DeviceRow {
                id: r.get(0)?,
                inspector_id: r.get(1)?,
                label: r.get(2)?,
                enrolled_at: r.get(3)?,
                last_seen_at: r.get(4)?,
                revoked_at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// [`revoke_devices_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn revoke_devices(conn: &mut Connection, inspector_id: i64, device: Option<&str>) -> Result<Vec<String>, AppError> {
    revoke_devices_at(conn, inspector_id, device, legacy_now())
}

/// Revokes one device of an inspector (`Some(id)`) or all of them (`None`),
/// in one transaction; returns the ids revoked now (already revoked ones are
/// left as they were). The device's next request gets 401 `device_revoked`.
/// Nothing is deleted: its findings on the server stay, and so do the
/// unsynced ones on the phone.
pub(in crate::db) fn revoke_devices_at(
    conn: &mut Connection,
    inspector_id: i64,
    device: Option<&str>,
    now: Timestamp,
) -> Result<Vec<String>, AppError> {
    let tx = conn.transaction()?;
    let known: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM inspectors WHERE id = ?1)", [inspector_id], |r| r.get(0))?;
    if !known {
        return Err(AppError::NotFound(format!("no inspector with id {inspector_id}")));
    }
    let ids: Vec<String> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM devices
             WHERE inspector_id = ?1 AND (id = ?2 OR ?2 IS NULL) AND revoked_at IS NULL ORDER BY id",
        )?;
        stmt.query_map(params![inspector_id, device], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    if let Some(d) = device
        && ids.is_empty()
    {
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND inspector_id = ?2)",
            params![d, inspector_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(AppError::NotFound(format!("this inspector has no device {d:?}")));
        }
    }
    let revoked_at = now.to_string();
    for id in &ids {
        tx.execute(
            "UPDATE devices SET revoked_at = ?2, next_token_hash = NULL WHERE id = ?1",
            params![id, revoked_at],
        )?;
        // In the same transaction, so a revocation is in the evidence chain
        // or did not happen; `verify` checks `revoked_at` against the entry.
        crate::db::evidence::device_revoked(&tx, id, &revoked_at, now)?;
    }
    tx.commit()?;
    Ok(ids)
}

/// Every inspector's alias, to mask in notes shown beyond reviewers.
#[doc(hidden)]
pub fn alias_mask(conn: &Connection) -> Result<crate::redact::AliasMask, AppError> {
    let mut stmt = conn.prepare_cached("SELECT alias FROM inspectors")?;
    let aliases = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(crate::redact::AliasMask::new(aliases))
}

pub(in crate::db) fn inspector_id_by_alias(conn: &Connection, alias: &str) -> Result<Option<i64>, AppError> {
    Ok(conn.query_row("SELECT id FROM inspectors WHERE alias = ?1", [alias], |r| r.get(0)).optional()?)
}

/// Ends a session (sign-out); unknown tokens are fine.
#[doc(hidden)]
pub fn end_session(conn: &Connection, token_hash: &str) -> Result<(), AppError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

/// What the server's request authorization needs: domain-shaped operations
/// over devices, sessions and accounts, at the server clock's `now`.
impl super::Db {
    /// Spends a one-time code and registers a device.
    pub async fn enroll_device(
        &self,
        code: String,
        label: Option<String>,
        public_key: String,
        now: Timestamp,
    ) -> Result<Enrolled, AppError> {
        self.write(move |c| enroll_at(c, &code, label.as_deref(), &public_key, now)).await
    }

    /// The device a token (by hash) authenticates, recording its use when
    /// due (a rotated token's first use ends the old one).
    pub async fn authenticate_device(&self, token_hash: String, now: Timestamp) -> Result<DeviceCaller, AppError> {
        let h = token_hash.clone();
        let found = self.read(move |c| device_lookup(c, &h, now)).await?;
        // Written only when something changed: a rotated token's first use
        // (which ends the old token) or a last-seen older than a minute.
        if found.first_use_of_next || found.stale {
            let (id, first) = (found.caller.device_id.clone(), found.first_use_of_next);
            self.write(move |c| touch_device(c, &id, &token_hash, first, now)).await?;
        }
        Ok(found.caller)
    }

    /// The live office session of a token (by hash), renewing its idle
    /// lifetime; `None` when unknown, ended, expired or its user disabled.
    pub async fn authenticate_session(
        &self,
        token_hash: String,
        now: Timestamp,
    ) -> Result<Option<OfficeCaller>, AppError> {
        let h = token_hash.clone();
        let Some(found) = self.read(move |c| session_lookup(c, &h, now)).await? else { return Ok(None) };
        if found.stale {
            self.write(move |c| touch_session(c, &token_hash, now)).await?;
        }
        Ok(Some(found.caller))
    }

    /// The active account a normalised username names (sign-in reads this
    /// without the writer, then checks the password holding no connection).
    pub async fn password_row(&self, username: String) -> Result<Option<PasswordRow>, AppError> {
        self.read(move |c| password_hash(c, &username)).await
    }

    /// A new session for a user whose password was just checked; the token.
    pub async fn open_session(&self, user_id: i64, now: Timestamp) -> Result<String, AppError> {
        self.write(move |c| open_session(c, user_id, now)).await
    }

    /// Ends a session (sign-out); unknown tokens are fine.
    pub async fn end_session(&self, token_hash: String) -> Result<(), AppError> {
        self.write(move |c| end_session(c, &token_hash)).await
    }

    /// A fresh token for a device (see [`rotate_device_token`]).
    pub async fn rotate_device_token(&self, device_id: String) -> Result<String, AppError> {
        self.write(move |c| rotate_device_token(c, &device_id)).await
    }

    /// Every device, newest enrolment first; `inspector` narrows to one.
    pub async fn devices(&self, inspector: Option<i64>) -> Result<Vec<DeviceRow>, AppError> {
        self.read(move |c| devices(c, inspector)).await
    }

    /// One inspector's devices, or `None` when there is no such inspector.
    pub async fn inspector_devices(&self, inspector: i64) -> Result<Option<Vec<DeviceRow>>, AppError> {
        self.read(move |c| {
            let exists =
                c.query_row("SELECT 1 FROM inspectors WHERE id = ?1", [inspector], |_| Ok(())).optional()?.is_some();
            if exists { Ok(Some(devices(c, Some(inspector))?)) } else { Ok(None) }
        })
        .await
    }

    /// Revokes one device of an inspector, or all of them; the ids revoked.
    pub async fn revoke_devices(
        &self,
        inspector_id: i64,
        device: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<String>, AppError> {
        self.write(move |c| revoke_devices_at(c, inspector_id, device.as_deref(), now)).await
    }

    /// Revokes each of `devices` of one inspector; how many were revoked.
    pub async fn revoke_each_device(
        &self,
        inspector_id: i64,
        devices: Vec<String>,
        now: Timestamp,
    ) -> Result<usize, AppError> {
        self.write(move |c| {
            let mut revoked = 0;
            for d in &devices {
                revoked += revoke_devices_at(c, inspector_id, Some(d), now)?.len();
            }
            Ok(revoked)
        })
        .await
    }

    /// Disables an office account and ends its sessions.
    pub async fn disable_user(&self, username: String) -> Result<Disabled, AppError> {
        self.write(move |c| disable_user(c, &username)).await
    }

    /// A new inspector and their first enrollment code.
    pub async fn add_inspector(
        &self,
        alias: String,
        source: crate::league::Source,
        now: Timestamp,
    ) -> Result<(i64, String), AppError> {
        self.write(move |c| add_inspector_from(c, &alias, source, now)).await
    }

    /// Which body an inspector works for, from their next finding on (a
    /// finding keeps the body it arrived under).
    pub async fn set_inspector_source(&self, id: i64, source: crate::league::Source) -> Result<(), AppError> {
        self.write(move |c| {
            let n = c.execute("UPDATE inspectors SET source = ?2 WHERE id = ?1", params![id, source.as_str()])?;
            if n == 0 {
                return Err(AppError::NotFound(format!("no inspector with id {id}")));
            }
            Ok(())
        })
        .await
    }

    /// Adds an office user (a unit account when `unit` is given); the
    /// password is hashed here.
    pub async fn add_user(
        &self,
        username: String,
        password: String,
        role: Role,
        unit: Option<String>,
        now: Timestamp,
    ) -> Result<i64, AppError> {
        self.write(move |c| match &unit {
            Some(unit) => add_unit_user_at(c, &username, &password, unit, now),
            None => add_user_at(c, &username, &password, role, now),
        })
        .await
    }

    /// A fresh enrollment code for an inspector, whether active or not (the
    /// command line's; the office's goes through `issue_code_for`).
    pub async fn issue_code(&self, inspector_id: i64, now: Timestamp) -> Result<String, AppError> {
        self.write(move |c| issue_code(c, inspector_id, now)).await
    }

    /// Every inspector's alias, to mask in notes shown beyond reviewers.
    pub async fn alias_mask(&self) -> Result<crate::redact::AliasMask, AppError> {
        self.read(alias_mask).await
    }
}
