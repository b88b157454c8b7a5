//! The link between an inspector's alias and a real person (admin-only).
//!
//! **Invariant:** the functions here are the only SQL that touches
//! `inspector_identities`, and each of them appends to
//! `identity_audit_log` in the same transaction as its read or write, so
//! no identity leaves the database without a log entry. The log refuses
//! UPDATE and DELETE by trigger, and each row is an entry of the evidence
//! log's hash chain (`identity_audit`), so `verify` names a row removed or
//! changed by someone who dropped the triggers.

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Who is looking: an office user, or the command line (no user).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    /// Where the request came from, e.g. `GET /api/v1/inspectors/{id}/identity`.
    pub route: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityInput {
    pub real_name: String,
    #[serde(default)]
    pub contact: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Identity {
    /// The inspector's id (named `id`, as in the route's path).
    pub id: i64,
    pub alias: String,
    pub real_name: Option<String>,
    pub contact: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub user_id: Option<i64>,
    pub actor: String,
    pub inspector_id: i64,
    pub action: String,
    pub route: String,
}

/// Why an identity write or read is refused; mapped to an [`AppError`] with
/// its code and field at the edge.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no inspector with id {0}")]
    InspectorNotFound(i64),
    #[error("real_name needs 1 to 64 characters")]
    RealNameLength,
    #[error("contact may have at most 128 characters")]
    ContactTooLong,
}

impl From<IdentityError> for AppError {
    fn from(e: IdentityError) -> Self {
        use anfang_core::error_code::ErrorCode as C;
        use axum::http::StatusCode as S;
        let (status, code, field) = match &e {
            IdentityError::InspectorNotFound(_) => (S::NOT_FOUND, C::InspectorNotFound, "id"),
            // Well-formed but against a rule: 422, like every such refusal.
            IdentityError::RealNameLength => (S::UNPROCESSABLE_ENTITY, C::IdentityRealNameLength, "real_name"),
            IdentityError::ContactTooLong => (S::UNPROCESSABLE_ENTITY, C::IdentityContactTooLong, "contact"),
        };
        AppError::coded(status, code, e.to_string()).with_field(field)
    }
}

fn alias_of(conn: &Connection, inspector_id: i64) -> Result<String, AppError> {
    conn.query_row("SELECT alias FROM inspectors WHERE id = ?1", [inspector_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| IdentityError::InspectorNotFound(inspector_id).into())
}

fn log(
    conn: &Connection,
    actor: &Actor,
    inspector_id: i64,
    action: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let at = now.to_string();
    conn.execute(
        "INSERT INTO identity_audit_log (at, user_id, actor, inspector_id, action, route) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![at, actor.user_id, actor.name, inspector_id, action, actor.route],
    )?;
    // Chained into the evidence log, so a deleted or edited row (a look at
    // an identity made to disappear) is named by `verify`.
    super::evidence::identity_audit(
        conn,
        &super::evidence::IdentityAuditRow {
            id: conn.last_insert_rowid(),
            at: &at,
            user_id: actor.user_id,
            actor: &actor.name,
            inspector_id,
            action,
            route: &actor.route,
        },
        now,
    )
}

/// [`set_identity_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn set_identity(
    conn: &mut Connection,
    inspector_id: i64,
    input: &IdentityInput,
    actor: &Actor,
) -> Result<Identity, AppError> {
    set_identity_at(conn, inspector_id, input, actor, jiff::Timestamp::now())
}

/// Records who an inspector really is (replacing what was recorded), after
/// the identity service's checks.
pub(in crate::db) fn set_identity_at(
    conn: &mut Connection,
    inspector_id: i64,
    input: &IdentityInput,
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<Identity, AppError> {
    crate::app::identities::check_input(input)?;
    let (name, contact) = (input.real_name.trim(), input.contact.trim());
    let tx = conn.transaction()?;
    let alias = alias_of(&tx, inspector_id)?;
    let at = now;
    let now = now.to_string();
    tx.execute(
        "INSERT INTO inspector_identities (inspector_id, real_name, contact, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (inspector_id) DO UPDATE SET real_name = excluded.real_name, contact = excluded.contact,
                                                  updated_at = excluded.updated_at",
        params![inspector_id, name, contact, now],
    )?;
    log(&tx, actor, inspector_id, "write", at)?;
    tx.commit()?;
    Ok(Identity {
        id: inspector_id,
        alias,
        real_name: Some(name.to_owned()),
        contact: Some(contact.to_owned()),
        updated_at: Some(now),
    })
}

/// Who an inspector really is; the read is logged first, in the same
/// transaction (also when nothing is recorded: the attempt is what counts).
/// [`read_identity_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn read_identity(conn: &mut Connection, inspector_id: i64, actor: &Actor) -> Result<Identity, AppError> {
    read_identity_at(conn, inspector_id, actor, jiff::Timestamp::now())
}

/// Who an inspector really is; the read is logged first, in the same
/// transaction (also when nothing is recorded: the attempt is what counts).
pub(in crate::db) fn read_identity_at(
    conn: &mut Connection,
    inspector_id: i64,
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<Identity, AppError> {
    let tx = conn.transaction()?;
    let alias = alias_of(&tx, inspector_id)?;
    log(&tx, actor, inspector_id, "read", now)?;
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT real_name, contact, updated_at FROM inspector_identities WHERE inspector_id = ?1",
            [inspector_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    tx.commit()?;
    let (real_name, contact, updated_at) = match row {
        Some((n, c, u)) => (Some(n), Some(c), Some(u)),
        None => (None, None, None),
    };
    Ok(Identity { id: inspector_id, alias, real_name, contact, updated_at })
}

/// The audit log, newest first, optionally for one inspector.
#[doc(hidden)]
pub fn audit_log(conn: &Connection, inspector_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, user_id, actor, inspector_id, action, route FROM identity_audit_log
         WHERE (inspector_id = ?1 OR ?1 IS NULL) ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![inspector_id, limit], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            user_id: r.get(2)?,
            actor: r.get(3)?,
            inspector_id: r.get(4)?,
            action: r.get(5)?,
            route: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Identities and their audit log. Every read and write of an identity is
/// logged in its own transaction (see the module's invariant).
impl super::Db {
    /// Who an inspector really is, the read logged first.
    pub async fn read_identity(
        &self,
        inspector_id: i64,
        actor: Actor,
        now: jiff::Timestamp,
    ) -> Result<Identity, AppError> {
        self.write(move |c| read_identity_at(c, inspector_id, &actor, now)).await
    }

    /// Records a checked identity, the write logged.
    pub async fn set_identity(
        &self,
        inspector_id: i64,
        input: IdentityInput,
        actor: Actor,
        now: jiff::Timestamp,
    ) -> Result<Identity, AppError> {
        self.write(move |c| set_identity_at(c, inspector_id, &input, &actor, now)).await
    }

    /// The audit log, newest first, optionally for one inspector.
    pub async fn identity_audit_log(&self, inspector_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
        self.read(move |c| audit_log(c, inspector_id, limit)).await
    }

    /// The inspectors with the latest audit entries, for the console's page.
    pub async fn inspectors_and_audit_log(
        &self,
        limit: i64,
    ) -> Result<(Vec<super::reference_admin::InspectorRow>, Vec<AuditEntry>), AppError> {
        self.read(move |c| Ok((super::reference_admin::inspectors(c)?, audit_log(c, None, limit)?))).await
    }

    /// An inspector's id by alias.
    pub async fn inspector_id_by_alias(&self, alias: String) -> Result<Option<i64>, AppError> {
        self.read(move |c| super::accounts::inspector_id_by_alias(c, &alias)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, accounts};

    fn db() -> (tempfile::TempDir, Db, i64) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("a.db")).unwrap();
        let id = db.write_blocking(|c| Ok(accounts::add_inspector(c, "督查07")?.0)).unwrap();
        (dir, db, id)
    }

    fn cli() -> Actor {
        Actor { user_id: None, name: "command line".into(), route: "anfang-server inspector identify".into() }
    }

    #[test]
    fn every_read_of_an_identity_is_logged_with_who_and_where() {
        let (_d, db, id) = db();
        db.write_blocking(|c| {
            set_identity(c, id, &IdentityInput { real_name: "张三".into(), contact: "13800000000".into() }, &cli())?;
            let admin =
                Actor { user_id: None, name: "boss".into(), route: "GET /api/v1/inspectors/{id}/identity".into() };
            let got = read_identity(c, id, &admin)?;
            assert_eq!((got.alias.as_str(), got.real_name.as_deref()), ("督查07", Some("张三")));
            read_identity(c, id, &admin)?;
            let log = audit_log(c, Some(id), 100)?;
            let actions: Vec<(&str, &str, &str)> =
                log.iter().map(|e| (e.action.as_str(), e.actor.as_str(), e.route.as_str())).collect();
            assert_eq!(
                actions,
                [
                    ("read", "boss", "GET /api/v1/inspectors/{id}/identity"),
                    ("read", "boss", "GET /api/v1/inspectors/{id}/identity"),
                    ("write", "command line", "anfang-server inspector identify"),
                ]
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn the_identity_audit_log_refuses_update_and_delete() {
        let (_d, db, id) = db();
        db.write_blocking(|c| {
            read_identity(c, id, &cli())?;
            let update = c.execute("UPDATE identity_audit_log SET actor = 'nobody'", []);
            let delete = c.execute("DELETE FROM identity_audit_log", []);
            for (what, r) in [("update", update), ("delete", delete)] {
                let e = r.expect_err(what).to_string();
                assert!(e.contains("append-only"), "{what}: {e}");
            }
            assert_eq!(audit_log(c, None, 10)?.len(), 1, "the entry is still there");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn an_identity_for_an_unknown_inspector_or_without_a_name_is_refused_and_nothing_is_logged() {
        let (_d, db, id) = db();
        db.write_blocking(|c| {
            let blank = set_identity(c, id, &IdentityInput { real_name: "  ".into(), contact: String::new() }, &cli());
            assert_eq!(blank.unwrap_err().code(), anfang_core::error_code::ErrorCode::IdentityRealNameLength);
            let unknown = read_identity(c, id + 100, &cli());
            assert_eq!(unknown.unwrap_err().code(), anfang_core::error_code::ErrorCode::InspectorNotFound);
            assert!(audit_log(c, None, 10)?.is_empty());
            Ok(())
        })
        .unwrap();
    }
}
