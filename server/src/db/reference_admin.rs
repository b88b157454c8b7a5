//! The office's management of reference data: listing units, points (with
//! their point leader 点长) and categories for editing, bulk imports, card
//! deadlines and the office settings.
//!
//! **Invariant:** every unit, point and category write goes through the
//! upserts in [`super::reference`], so it bumps the reference version and
//! devices receive it on their next pull. Nothing is deleted: rows are
//! deactivated (findings keep pointing at them).

use super::reference::point_from_row;
use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use anfang_core::domain::{Category, Point, Unit};
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

#[doc(hidden)]
pub fn units(conn: &Connection) -> Result<Vec<Unit>, AppError> {
    let mut stmt = conn.prepare("SELECT id, name, district, active FROM units ORDER BY active DESC, id")?;
    let rows = stmt
        .query_map([], |r| Ok(Unit { id: r.get(0)?, name: r.get(1)?, district: r.get(2)?, active: r.get(3)? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[doc(hidden)]
pub fn points(conn: &Connection) -> Result<Vec<PointRecord>, AppError> {
    let mut stmt = conn.prepare("SELECT * FROM points ORDER BY active DESC, id")?;
    let rows = stmt
        .query_map([], |r| Ok(PointRecord { point: point_from_row(r)?, leader: r.get("leader")? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[doc(hidden)]
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

// The rules a unit, point, category or setting must satisfy are the
// reference service's; named here too for the console and the CSV reader,
// until they call `app::reference`.
pub use crate::app::reference::{ReferenceError, check_point, check_text, check_unit};

/// Saves a unit after checking it; one transaction.
#[doc(hidden)]
pub fn save_unit(conn: &mut Connection, u: &Unit) -> Result<(), AppError> {
    crate::app::reference::check_unit_input(u)?;
    let tx = conn.transaction()?;
    super::reference::upsert_unit(&tx, u)?;
    tx.commit()?;
    Ok(())
}

/// Saves a point after checking it and that its unit exists; one transaction.
#[doc(hidden)]
pub fn save_point(conn: &mut Connection, p: &PointRecord) -> Result<(), AppError> {
    crate::app::reference::check_point_input(p)?;
    let tx = conn.transaction()?;
    if super::reference::unit(&tx, &p.point.unit_id)?.is_none() {
        return Err(ReferenceError::UnknownUnit(p.point.unit_id.clone()).into());
    }
    super::reference::upsert_point(&tx, &p.point, p.leader.as_deref())?;
    tx.commit()?;
    Ok(())
}

#[doc(hidden)]
pub fn save_category(conn: &mut Connection, c: &Category) -> Result<(), AppError> {
    crate::app::reference::check_category(c)?;
    let tx = conn.transaction()?;
    super::reference::upsert_category(&tx, c)?;
    tx.commit()?;
    Ok(())
}

/// Writes imported units in one transaction (already validated).
pub(in crate::db) fn import_units(conn: &mut Connection, units: &[Unit]) -> Result<usize, AppError> {
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
pub(in crate::db) fn import_points(
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

#[doc(hidden)]
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

#[doc(hidden)]
pub fn save_settings(conn: &mut Connection, s: &OfficeSettings) -> Result<(), AppError> {
    crate::app::reference::check_settings(s)?;
    store_settings(conn, s)
}

/// An inspector as the admin page lists them (never shown to units or leaders).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InspectorRow {
    pub id: i64,
    pub alias: String,
    pub active: bool,
    pub devices: i64,
    pub findings: i64,
    /// The body they work for (市级 / 区级 / 第三方), which the league weighs.
    pub source: crate::league::Source,
}

#[doc(hidden)]
pub fn inspectors(conn: &Connection) -> Result<Vec<InspectorRow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT i.id, i.alias, i.active,
            (SELECT count(*) FROM devices d WHERE d.inspector_id = i.id AND d.revoked_at IS NULL),
            (SELECT count(*) FROM findings f WHERE f.inspector_id = i.id), i.source
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
                source: super::parsed(r, 5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// [`issue_code_for_at`] on the system clock: the console's, until merged.
#[doc(hidden)]
pub fn issue_code_for(conn: &mut Connection, inspector_id: i64) -> Result<String, AppError> {
    issue_code_for_at(conn, inspector_id, jiff::Timestamp::now())
}

/// A new enrollment code for an existing, active inspector.
pub(in crate::db) fn issue_code_for_at(
    conn: &mut Connection,
    inspector_id: i64,
    now: jiff::Timestamp,
) -> Result<String, AppError> {
    let active: Option<bool> =
        conn.query_row("SELECT active FROM inspectors WHERE id = ?1", [inspector_id], |r| r.get(0)).optional()?;
    match active {
        None => Err(AppError::NotFound(format!("no inspector with id {inspector_id}"))),
        Some(false) => Err(AppError::Unprocessable("this inspector is deactivated".into())),
        Some(true) => super::accounts::issue_code(conn, inspector_id, now),
    }
}

fn store_unit(conn: &mut Connection, u: &Unit) -> Result<(), AppError> {
    let tx = conn.transaction()?;
    super::reference::upsert_unit(&tx, u)?;
    tx.commit()?;
    Ok(())
}

/// `false`: the point's unit does not exist, nothing was written.
fn store_point(conn: &mut Connection, p: &PointRecord) -> Result<bool, AppError> {
    let tx = conn.transaction()?;
    if super::reference::unit(&tx, &p.point.unit_id)?.is_none() {
        return Ok(false);
    }
    super::reference::upsert_point(&tx, &p.point, p.leader.as_deref())?;
    tx.commit()?;
    Ok(true)
}

fn store_category(conn: &mut Connection, c: &Category) -> Result<(), AppError> {
    let tx = conn.transaction()?;
    super::reference::upsert_category(&tx, c)?;
    tx.commit()?;
    Ok(())
}

fn store_settings(conn: &mut Connection, s: &OfficeSettings) -> Result<(), AppError> {
    let d = &s.card_deadlines;
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

/// Reference data as the office manages it. Writes store what the
/// reference service (`app::reference`) has checked.
impl super::Db {
    pub async fn units(&self) -> Result<Vec<Unit>, AppError> {
        self.read(units).await
    }

    pub async fn points(&self) -> Result<Vec<PointRecord>, AppError> {
        self.read(points).await
    }

    pub async fn categories(&self) -> Result<Vec<Category>, AppError> {
        self.read(categories).await
    }

    pub async fn office_settings(&self) -> Result<OfficeSettings, AppError> {
        self.read(settings).await
    }

    pub async fn inspectors(&self) -> Result<Vec<InspectorRow>, AppError> {
        self.read(inspectors).await
    }

    /// The inspectors with every device, for the admin's inspectors page.
    pub async fn inspectors_and_devices(
        &self,
    ) -> Result<(Vec<InspectorRow>, Vec<super::accounts::DeviceRow>), AppError> {
        self.read(|c| Ok((inspectors(c)?, super::accounts::devices(c, None)?))).await
    }

    /// Every point and unit, for the points page.
    pub async fn points_and_units(&self) -> Result<(Vec<PointRecord>, Vec<Unit>), AppError> {
        self.read(|c| Ok((points(c)?, units(c)?))).await
    }

    pub async fn save_unit(&self, u: Unit) -> Result<(), AppError> {
        self.write(move |c| store_unit(c, &u)).await
    }

    /// `false`: the point's unit does not exist; nothing was written.
    pub async fn save_point(&self, p: PointRecord) -> Result<bool, AppError> {
        self.write(move |c| store_point(c, &p)).await
    }

    pub async fn save_category(&self, cat: Category) -> Result<(), AppError> {
        self.write(move |c| store_category(c, &cat)).await
    }

    pub async fn save_settings(&self, s: OfficeSettings) -> Result<(), AppError> {
        self.write(move |c| store_settings(c, &s)).await
    }

    /// Writes checked units, all in one transaction.
    pub async fn import_units(&self, units: Vec<Unit>) -> Result<usize, AppError> {
        self.write(move |c| import_units(c, &units)).await
    }

    /// Writes checked points in one transaction, or none: `Err` lists
    /// `(index, unit id)` of every point whose unit is unknown.
    pub async fn import_points(
        &self,
        points: Vec<PointRecord>,
    ) -> Result<Result<usize, Vec<(usize, String)>>, AppError> {
        let result = self.write(move |c| import_points(c, &points)).await?;
        Ok(result.map_err(|errors| {
            errors
                .into_iter()
                .map(|(i, e)| match e {
                    ReferenceError::UnknownUnit(unit) => (i, unit),
                    other => (i, other.to_string()),
                })
                .collect()
        }))
    }

    /// A fresh enrollment code for an existing, active inspector.
    pub async fn issue_code_for(&self, inspector_id: i64, now: jiff::Timestamp) -> Result<String, AppError> {
        self.write(move |c| issue_code_for_at(c, inspector_id, now)).await
    }

    /// A fresh code for an existing, active inspector, with their alias
    /// (the console's inspectors page shows both): `(alias, code)`.
    pub async fn issue_code_with_alias(
        &self,
        inspector_id: i64,
        now: jiff::Timestamp,
    ) -> Result<(String, String), AppError> {
        self.write(move |c| {
            let code = issue_code_for_at(c, inspector_id, now)?;
            let alias = inspectors(c)?.into_iter().find(|r| r.id == inspector_id).map(|r| r.alias).unwrap_or_default();
            Ok((alias, code))
        })
        .await
    }

    /// Every unit and category, in one read (the console's filter lists).
    pub async fn units_and_categories(&self) -> Result<(Vec<Unit>, Vec<Category>), AppError> {
        self.read(|c| Ok((units(c)?, categories(c)?))).await
    }
}
