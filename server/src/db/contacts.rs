//! A unit's contacts (`unit_contacts`): who is told, and at which addresses.
//! Rows are never deleted, only deactivated: the outbox and its delivery
//! log point at them. The webhook secret is written here and read only by
//! the delivery worker ([`super::notices`]); [`Contact`] says `has_secret`.

use super::sql::{Connection, OptionalExtension, Row, params};
use crate::app::contacts::{CheckedContact, WebhookKind};
use crate::db::outbox::ContactRole;
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use serde::Serialize;

/// What an update does to the stored webhook secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    /// Leave it as it is (the secret is write-only, so forms send none back).
    Keep,
    Set(String),
    /// Not a json webhook (any more): nothing is signed, nothing is kept.
    Clear,
}

/// A contact as answers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Contact {
    pub id: i64,
    pub unit_id: String,
    pub name: String,
    pub role: ContactRole,
    /// A 点长's one point; `null`: all the unit's points.
    pub point_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub webhook_kind: Option<WebhookKind>,
    /// Shown in full to admins only (a robot's URL is its key).
    pub webhook_url: Option<String>,
    /// Whether a signing secret is stored; the secret itself is never answered.
    pub has_secret: bool,
    pub active: bool,
}

impl std::str::FromStr for ContactRole {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ContactRole::parse(s).ok_or(())
    }
}

const COLUMNS: &str = "id, unit_id, name, role, point_id, phone, email, webhook_kind, webhook_url,
                       webhook_secret IS NOT NULL AND webhook_secret != '', active";

fn contact_row(r: &Row<'_>) -> crate::db::sql::Result<Contact> {
    let kind: Option<String> = r.get(7)?;
    Ok(Contact {
        id: r.get(0)?,
        unit_id: r.get(1)?,
        name: r.get(2)?,
        role: super::parsed(r, 3)?,
        point_id: r.get(4)?,
        phone: r.get(5)?,
        email: r.get(6)?,
        webhook_kind: kind.as_deref().and_then(WebhookKind::parse),
        webhook_url: r.get(8)?,
        has_secret: r.get(9)?,
        active: r.get(10)?,
    })
}

fn contact(conn: &Connection, id: i64) -> Result<Option<Contact>, AppError> {
    Ok(conn.query_row(&format!("SELECT {COLUMNS} FROM unit_contacts WHERE id = ?1"), [id], contact_row).optional()?)
}

fn not_found(id: i64) -> AppError {
    AppError::coded(StatusCode::NOT_FOUND, ErrorCode::ContactNotFound, format!("no contact {id}"))
}

/// Every contact of `unit` (all units when `None`), active first.
fn contacts(conn: &Connection, unit: Option<&str>) -> Result<Vec<Contact>, AppError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM unit_contacts WHERE (unit_id = ?1 OR ?1 IS NULL)
         ORDER BY unit_id, active DESC, role, id"
    ))?;
    let rows = stmt.query_map([unit], contact_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The facts a contact's rules need from the database: its unit exists, its
/// point exists and is the unit's.
fn check_references(conn: &Connection, unit_id: &str, c: &CheckedContact) -> Result<(), AppError> {
    if super::reference::unit(conn, unit_id)?.is_none() {
        return Err(crate::app::contacts::unknown_unit(unit_id));
    }
    if let Some(point_id) = &c.point_id {
        let refuse = |code, message: String| {
            AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field("point_id")
        };
        match super::reference::point(conn, point_id)? {
            None => return Err(refuse(ErrorCode::PointUnknown, format!("point_id: no point {point_id:?}"))),
            Some(p) if p.unit_id != unit_id => {
                return Err(refuse(
                    ErrorCode::PointUnitMismatch,
                    format!("point_id: point {point_id:?} belongs to unit {:?}, not {unit_id:?}", p.unit_id),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The secret to store, given the one stored now.
fn next_secret(c: &CheckedContact, stored: Option<String>) -> Result<Option<String>, AppError> {
    let secret = match &c.secret {
        SecretChange::Set(s) => Some(s.clone()),
        SecretChange::Keep => stored.filter(|s| !s.is_empty()),
        SecretChange::Clear => None,
    };
    if matches!(c.webhook, Some((WebhookKind::Json, _))) && secret.is_none() {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ContactSecretRequired,
            "webhook_secret: a json webhook is signed; give a secret of 16 to 256 characters",
        )
        .with_field("webhook_secret"));
    }
    Ok(secret)
}

fn create(conn: &mut Connection, unit_id: &str, c: &CheckedContact) -> Result<Contact, AppError> {
    let tx = conn.transaction()?;
    check_references(&tx, unit_id, c)?;
    let secret = next_secret(c, None)?;
    tx.execute(
        "INSERT INTO unit_contacts (unit_id, name, role, point_id, phone, email, webhook_kind, webhook_url,
                                    webhook_secret, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            unit_id,
            c.name,
            c.role.as_str(),
            c.point_id,
            c.phone,
            c.email,
            c.webhook.as_ref().map(|w| w.0.channel().as_str()),
            c.webhook.as_ref().map(|w| w.1.as_str()),
            secret,
            c.active
        ],
    )?;
    let saved = contact(&tx, tx.last_insert_rowid())?.ok_or_else(|| AppError::internal("inserted contact vanished"))?;
    tx.commit()?;
    Ok(saved)
}

fn update(conn: &mut Connection, id: i64, c: &CheckedContact) -> Result<Contact, AppError> {
    let tx = conn.transaction()?;
    let stored: Option<(String, Option<String>)> = tx
        .query_row("SELECT unit_id, webhook_secret FROM unit_contacts WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (unit_id, stored_secret) = stored.ok_or_else(|| not_found(id))?;
    check_references(&tx, &unit_id, c)?;
    let secret = next_secret(c, stored_secret)?;
    tx.execute(
        "UPDATE unit_contacts SET name = ?2, role = ?3, point_id = ?4, phone = ?5, email = ?6, webhook_kind = ?7,
                webhook_url = ?8, webhook_secret = ?9, active = ?10
         WHERE id = ?1",
        params![
            id,
            c.name,
            c.role.as_str(),
            c.point_id,
            c.phone,
            c.email,
            c.webhook.as_ref().map(|w| w.0.channel().as_str()),
            c.webhook.as_ref().map(|w| w.1.as_str()),
            secret,
            c.active
        ],
    )?;
    let saved = contact(&tx, id)?.ok_or_else(|| not_found(id))?;
    tx.commit()?;
    Ok(saved)
}

impl super::Db {
    /// A unit's contacts; `None` when there is no such unit.
    pub async fn unit_contacts(&self, unit_id: String) -> Result<Option<Vec<Contact>>, AppError> {
        self.read(move |c| {
            if super::reference::unit(c, &unit_id)?.is_none() {
                return Ok(None);
            }
            Ok(Some(contacts(c, Some(&unit_id))?))
        })
        .await
    }

    /// Every contact of every unit, or of one (the console's list).
    pub async fn contacts(&self, unit: Option<String>) -> Result<Vec<Contact>, AppError> {
        self.read(move |c| contacts(c, unit.as_deref())).await
    }

    pub async fn contact(&self, id: i64) -> Result<Option<Contact>, AppError> {
        self.read(move |c| contact(c, id)).await
    }

    /// Stores a checked contact for `unit_id`, after checking its unit and
    /// point in the same transaction.
    pub async fn create_contact(&self, unit_id: String, checked: CheckedContact) -> Result<Contact, AppError> {
        self.write(move |c| create(c, &unit_id, &checked)).await
    }

    /// Replaces a contact's fields (its unit stays); the secret as `checked.secret` says.
    pub async fn update_contact(&self, id: i64, checked: CheckedContact) -> Result<Contact, AppError> {
        self.write(move |c| update(c, id, &checked)).await
    }
}
