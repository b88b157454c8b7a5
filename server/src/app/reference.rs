//! Reference data: the rules a unit, point, category or office setting
//! must satisfy before it is stored, CSV imports (all or nothing),
//! inspectors and their enrollment codes. Every write then goes through
//! the store's upserts, which bump the reference version devices pull by.

use crate::db::Db;
use crate::db::reference_admin::{OfficeSettings, PointRecord};
use crate::error::AppError;
use crate::reference_csv::{self, LineError};
use anfang_core::domain::{Category, Point, Unit};
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;

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

/// A unit as typed: clean text, then its own rules.
pub fn check_unit_input(u: &Unit) -> Result<(), AppError> {
    check_texts(&unit_texts(u))?;
    check_unit(u)?;
    Ok(())
}

/// A point as typed: clean text, then its own rules (its unit's existence
/// is checked by the store, in the write).
pub fn check_point_input(p: &PointRecord) -> Result<(), AppError> {
    check_texts(&point_texts(p))?;
    check_point(&p.point)?;
    Ok(())
}

/// A category's code, texts and name.
pub fn check_category(c: &Category) -> Result<(), AppError> {
    if c.code.is_empty() || c.code.len() > 40 || !c.code.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
        return Err(ReferenceError::BadCategoryCode(c.code.clone()).into());
    }
    check_texts(&[("name", Some(c.name.as_str())), ("description", c.description.as_deref())])?;
    if c.name.trim().is_empty() || c.name.chars().count() > 60 {
        return Err(ReferenceError::BadName { what: "category", max: 60 }.into());
    }
    Ok(())
}

/// The office settings, printed in every bulletin.
pub fn check_settings(s: &OfficeSettings) -> Result<(), AppError> {
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
    Ok(())
}

/// Saves a unit after checking it.
pub async fn save_unit(db: &Db, u: Unit) -> Result<Unit, AppError> {
    check_unit_input(&u)?;
    db.save_unit(u.clone()).await?;
    Ok(u)
}

/// Saves a point after checking it and that its unit exists.
pub async fn save_point(db: &Db, p: PointRecord) -> Result<PointRecord, AppError> {
    check_point_input(&p)?;
    if !db.save_point(p.clone()).await? {
        return Err(ReferenceError::UnknownUnit(p.point.unit_id.clone()).into());
    }
    Ok(p)
}

/// Saves a category after checking it.
pub async fn save_category(db: &Db, c: Category) -> Result<Category, AppError> {
    check_category(&c)?;
    db.save_category(c.clone()).await?;
    Ok(c)
}

/// Saves the office settings after checking them.
pub async fn save_settings(db: &Db, s: OfficeSettings) -> Result<OfficeSettings, AppError> {
    check_settings(&s)?;
    db.save_settings(s.clone()).await?;
    Ok(s)
}

/// Imports units from CSV text; all or nothing (`Err`: every line error).
pub async fn import_units_csv(db: &Db, text: &str) -> Result<Result<usize, Vec<LineError>>, AppError> {
    let units = match reference_csv::parse_units(text) {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(db.import_units(units).await?))
}

/// Imports points from CSV text; all or nothing. A point whose unit is
/// unknown is a line error, like a malformed line.
pub async fn import_points_csv(db: &Db, text: &str) -> Result<Result<usize, Vec<LineError>>, AppError> {
    let points = match reference_csv::parse_points(text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let lines: Vec<u64> = points.iter().map(|(l, _)| *l).collect();
    let records: Vec<PointRecord> = points.into_iter().map(|(_, p)| p).collect();
    match db.import_points(records).await? {
        Ok(n) => Ok(Ok(n)),
        Err(unknown) => Ok(Err(unknown
            .into_iter()
            .map(|(i, unit)| {
                let e = ReferenceError::UnknownUnit(unit);
                LineError { line: lines[i], field: e.field().into(), message: e.to_string() }
            })
            .collect())),
    }
}

/// A new inspector and their first enrollment code, issued at `now`.
pub async fn add_inspector(
    db: &Db,
    alias: &str,
    source: crate::league::Source,
    now: jiff::Timestamp,
) -> Result<(i64, String), AppError> {
    db.add_inspector(alias.to_owned(), source, now).await
}

/// A fresh enrollment code for an existing, active inspector.
pub async fn issue_code(db: &Db, inspector_id: i64, now: jiff::Timestamp) -> Result<String, AppError> {
    db.issue_code_for(inspector_id, now).await
}
