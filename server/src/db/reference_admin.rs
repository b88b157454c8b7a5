//! The office's management of reference data: listing units, points (with
//! their point leader 点长) and categories for editing, bulk imports, card
//! deadlines and the office settings.
//!
//! **Invariant:** every unit, point and category write goes through the
//! upserts in [`super::reference`], so it bumps the reference version and
//! devices receive it on their next pull. Nothing is deleted: rows are
//! deactivated (findings keep pointing at them).

use crate::error::AppError;
use anfang_core::domain::{Category, Point, Unit};
use anfang_core::error_code::ErrorCode;
use anfang_core::store::point_from_row;
use axum::http::StatusCode;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A point as the office manages it: the device's view plus its leader.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PointRecord {
    #[serde(flatten)]
    pub point: Point,
    /// The point leader (点长) who answers for this point.
    #[serde(default)]
    pub leader: Option<String>,
}

pub fn units(conn: &Connection) -> Result<Vec<Unit>, AppError> {
    let mut stmt = conn.prepare("SELECT id, name, district, active FROM units ORDER BY active DESC, id")?;
    let rows = stmt
        .query_map([], |r| Ok(Unit { id: r.get(0)?, name: r.get(1)?, district: r.get(2)?, active: r.get(3)? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn points(conn: &Connection) -> Result<Vec<PointRecord>, AppError> {
    let mut stmt = conn.prepare("SELECT * FROM points ORDER BY active DESC, id")?;
    let rows = stmt
        .query_map([], |r| Ok(PointRecord { point: point_from_row(r)?, leader: r.get("leader")? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn point(conn: &Connection, id: &str) -> Result<Option<PointRecord>, AppError> {
    Ok(conn
        .query_row("SELECT * FROM points WHERE id = ?1", [id], |r| {
            Ok(PointRecord { point: point_from_row(r)?, leader: r.get("leader")? })
        })
        .optional()?)
}

pub fn categories(conn: &Connection) -> Result<Vec<Category>, AppError> {
    let mut stmt =
        conn.prepare("SELECT code, name, description, sort, active FROM categories ORDER BY active DESC, sort, code")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Category {
                code: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                sort: r.get(3)?,
                active: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Refuses typed text holding a control character (see
/// [`anfang_core::text`]) with the code `text_control_character` and the
/// field named: such text would end up in bulletins and break their DOCX.
pub fn check_text(field: &'static str, value: &str) -> Result<(), AppError> {
    anfang_core::text::check_text(field, value).map_err(|e| {
        AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TextControlCharacter, e.to_string())
            .with_field(field)
    })
}

fn unit_texts(u: &Unit) -> [(&'static str, Option<&str>); 2] {
    [("name", Some(u.name.as_str())), ("district", u.district.as_deref())]
}

fn point_texts(p: &PointRecord) -> [(&'static str, Option<&str>); 4] {
    [
        ("name", Some(p.point.name.as_str())),
        ("address", p.point.address.as_deref()),
        ("district", p.point.district.as_deref()),
        ("leader", p.leader.as_deref()),
    ]
}

fn check_texts(texts: &[(&'static str, Option<&str>)]) -> Result<(), AppError> {
    texts.iter().filter_map(|(f, v)| v.map(|v| (f, v))).try_for_each(|(f, v)| check_text(f, v))
}

/// The first control character among a unit's or point's texts, for the
/// CSV import's line errors.
fn texts_line_error(texts: &[(&'static str, Option<&str>)]) -> Result<(), ReferenceError> {
    for (field, value) in texts {
        if let Some(v) = value {
            anfang_core::text::check_text(field, v)
                .map_err(|e| ReferenceError::ControlCharacter { field, message: e.to_string() })?;
        }
    }
    Ok(())
}

/// Why a unit, point or category is refused. Each names its field; mapped
/// to an [`AppError`] with its code at the edge, and to a CSV line error by
/// the importer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReferenceError {
    #[error("{what} id {id:?}: use 1 to 40 letters, digits, - or _")]
    BadId { what: &'static str, id: String },
    #[error("a {what} name needs 1 to {max} characters")]
    BadName { what: &'static str, max: usize },
    #[error("{0} is not a latitude (-90 to 90)")]
    BadLatitude(f64),
    #[error("{0} is not a longitude (-180 to 180)")]
    BadLongitude(f64),
    #[error("unknown unit {0:?}; add the unit first")]
    UnknownUnit(String),
    #[error("category code {0:?}: use 1 to 40 letters, digits or _ (e.g. street_vending)")]
    BadCategoryCode(String),
    #[error("{message}")]
    ControlCharacter { field: &'static str, message: String },
}

impl ReferenceError {
    /// The input at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ReferenceError::BadId { .. } => "id",
            ReferenceError::BadName { .. } => "name",
            ReferenceError::BadLatitude(_) => "lat",
            ReferenceError::BadLongitude(_) => "lon",
            ReferenceError::UnknownUnit(_) => "unit_id",
            ReferenceError::BadCategoryCode(_) => "code",
            ReferenceError::ControlCharacter { field, .. } => field,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ReferenceError::BadId { .. } => ErrorCode::IdInvalid,
            ReferenceError::BadName { .. } => ErrorCode::NameLength,
            ReferenceError::BadLatitude(_) => ErrorCode::LatitudeInvalid,
            ReferenceError::BadLongitude(_) => ErrorCode::LongitudeInvalid,
            ReferenceError::UnknownUnit(_) => ErrorCode::UnitUnknown,
            ReferenceError::BadCategoryCode(_) => ErrorCode::CategoryCodeInvalid,
            ReferenceError::ControlCharacter { .. } => ErrorCode::TextControlCharacter,
        }
    }
}

impl From<ReferenceError> for AppError {
    fn from(e: ReferenceError) -> Self {
        AppError::coded(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()).with_field(e.field())
    }
}

/// Saves a unit after checking it; one transaction.
pub fn save_unit(conn: &mut Connection, u: &Unit) -> Result<(), AppError> {
    check_texts(&unit_texts(u))?;
    check_unit(u)?;
    let tx = conn.transaction()?;
    super::reference::upsert_unit(&tx, u)?;
    tx.commit()?;
    Ok(())
}

/// Saves a point after checking it and that its unit exists; one transaction.
pub fn save_point(conn: &mut Connection, p: &PointRecord) -> Result<(), AppError> {
    check_texts(&point_texts(p))?;
    check_point(&p.point)?;
    let tx = conn.transaction()?;
    if super::reference::unit(&tx, &p.point.unit_id)?.is_none() {
        return Err(ReferenceError::UnknownUnit(p.point.unit_id.clone()).into());
    }
    super::reference::upsert_point(&tx, &p.point, p.leader.as_deref())?;
    tx.commit()?;
    Ok(())
}

pub fn save_category(conn: &mut Connection, c: &Category) -> Result<(), AppError> {
    if c.code.is_empty() || c.code.len() > 40 || !c.code.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        return Err(ReferenceError::BadCategoryCode(c.code.clone()).into());
    }
    check_texts(&[("name", Some(c.name.as_str())), ("description", c.description.as_deref())])?;
    if c.name.trim().is_empty() || c.name.chars().count() > 60 {
        return Err(ReferenceError::BadName { what: "category", max: 60 }.into());
    }
    let tx = conn.transaction()?;
    super::reference::upsert_category(&tx, c)?;
    tx.commit()?;
    Ok(())
}

fn check_id(id: &str, what: &'static str) -> Result<(), ReferenceError> {
    if id.is_empty() || id.len() > 40 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ReferenceError::BadId { what, id: id.to_owned() });
    }
    Ok(())
}

/// A unit's own rules (its id and name).
pub fn check_unit(u: &Unit) -> Result<(), ReferenceError> {
    check_id(&u.id, "unit")?;
    texts_line_error(&unit_texts(u))?;
    if u.name.trim().is_empty() || u.name.chars().count() > 80 {
        return Err(ReferenceError::BadName { what: "unit", max: 80 });
    }
    Ok(())
}

/// A point's own rules; whether its unit exists is checked by the caller.
pub fn check_point(p: &Point) -> Result<(), ReferenceError> {
    check_id(&p.id, "point")?;
    texts_line_error(&[
        ("name", Some(p.name.as_str())),
        ("address", p.address.as_deref()),
        ("district", p.district.as_deref()),
    ])?;
    if p.name.trim().is_empty() || p.name.chars().count() > 80 {
        return Err(ReferenceError::BadName { what: "point", max: 80 });
    }
    if !(-90.0..=90.0).contains(&p.lat) || !p.lat.is_finite() {
        return Err(ReferenceError::BadLatitude(p.lat));
    }
    if !(-180.0..=180.0).contains(&p.lon) || !p.lon.is_finite() {
        return Err(ReferenceError::BadLongitude(p.lon));
    }
    Ok(())
}

/// Writes imported units in one transaction (already validated).
pub fn import_units(conn: &mut Connection, units: &[Unit]) -> Result<usize, AppError> {
    let tx = conn.transaction()?;
    for u in units {
        super::reference::upsert_unit(&tx, u)?;
    }
    tx.commit()?;
    Ok(units.len())
}

/// Checks imported points against the units (in the database or in the same
/// file is not possible: units import separately) and writes them all in one
/// transaction, or none. Errors are `(index, error)` for the caller to
/// turn into line numbers.
pub fn import_points(
    conn: &mut Connection,
    points: &[PointRecord],
) -> Result<Result<usize, Vec<(usize, ReferenceError)>>, AppError> {
    let tx = conn.transaction()?;
    let mut errors = Vec::new();
    for (i, p) in points.iter().enumerate() {
        if super::reference::unit(&tx, &p.point.unit_id)?.is_none() {
            errors.push((i, ReferenceError::UnknownUnit(p.point.unit_id.clone())));
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    for p in points {
        super::reference::upsert_point(&tx, &p.point, p.leader.as_deref())?;
    }
    tx.commit()?;
    Ok(Ok(points.len()))
}

/// Rectification deadlines in days per card (`None`: no rectification).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CardDeadlines {
    pub red: Option<i64>,
    pub yellow: Option<i64>,
    pub green: Option<i64>,
}

/// The office's settings as one document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeSettings {
    /// 发文机关, e.g. 四城同创办.
    pub issuing_body: String,
    /// The distribution list (送：…).
    pub distribution: String,
    /// The compiler line at the end of a bulletin.
    pub compiler: String,
    pub card_deadlines: CardDeadlines,
}

pub fn settings(conn: &Connection) -> Result<OfficeSettings, AppError> {
    let get = |key: &str| -> Result<String, AppError> {
        Ok(conn
            .query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    };
    let days = |card: &str| -> Result<Option<i64>, AppError> {
        Ok(conn
            .query_row("SELECT days FROM card_deadlines WHERE card = ?1", [card], |r| r.get(0))
            .optional()?
            .flatten())
    };
    Ok(OfficeSettings {
        issuing_body: get("issuing_body")?,
        distribution: get("distribution")?,
        compiler: get("compiler")?,
        card_deadlines: CardDeadlines { red: days("red")?, yellow: days("yellow")?, green: days("green")? },
    })
}

pub fn save_settings(conn: &mut Connection, s: &OfficeSettings) -> Result<(), AppError> {
    for (field, value, max) in
        [("issuing_body", &s.issuing_body, 60), ("distribution", &s.distribution, 1000), ("compiler", &s.compiler, 120)]
    {
        // Printed in every bulletin: no control characters.
        check_text(field, value)?;
        if value.trim().is_empty() || value.chars().count() > max {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::SettingLength,
                format!("{field}: needs 1 to {max} characters"),
            )
            .with_field(field));
        }
    }
    let d = &s.card_deadlines;
    for (card, days) in [("red", d.red), ("yellow", d.yellow), ("green", d.green)] {
        if let Some(n) = days
            && !(0..=365).contains(&n)
        {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::DeadlineInvalid,
                format!("card_deadlines.{card}: {n} days; use 0 to 365 or null for none"),
            )
            .with_field("card_deadlines"));
        }
    }
    let tx = conn.transaction()?;
    for (key, value) in
        [("issuing_body", &s.issuing_body), ("distribution", &s.distribution), ("compiler", &s.compiler)]
    {
        tx.execute(
            "INSERT INTO office_settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value.trim()],
        )?;
    }
    for (card, days) in [("red", d.red), ("yellow", d.yellow), ("green", d.green)] {
        tx.execute(
            "INSERT INTO card_deadlines (card, days) VALUES (?1, ?2) ON CONFLICT (card) DO UPDATE SET days = excluded.days",
            params![card, days],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// An inspector as the admin page lists them (never shown to units or leaders).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InspectorRow {
    pub id: i64,
    pub alias: String,
    pub active: bool,
    pub devices: i64,
    pub findings: i64,
}

pub fn inspectors(conn: &Connection) -> Result<Vec<InspectorRow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT i.id, i.alias, i.active,
            (SELECT count(*) FROM devices d WHERE d.inspector_id = i.id AND d.revoked_at IS NULL),
            (SELECT count(*) FROM findings f WHERE f.inspector_id = i.id)
         FROM inspectors i ORDER BY i.alias",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(InspectorRow {
                id: r.get(0)?,
                alias: r.get(1)?,
                active: r.get(2)?,
                devices: r.get(3)?,
                findings: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A new enrollment code for an existing, active inspector.
pub fn issue_code_for(conn: &mut Connection, inspector_id: i64) -> Result<String, AppError> {
    let active: Option<bool> =
        conn.query_row("SELECT active FROM inspectors WHERE id = ?1", [inspector_id], |r| r.get(0)).optional()?;
    match active {
        None => Err(AppError::NotFound(format!("no inspector with id {inspector_id}"))),
        Some(false) => Err(AppError::Unprocessable("this inspector is deactivated".into())),
        Some(true) => super::accounts::issue_code(conn, inspector_id),
    }
}
