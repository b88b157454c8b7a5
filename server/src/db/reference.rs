//! Reference data: units, points, categories, and the pull feed devices
//! follow.
//!
//! **Invariant:** every insert or update of a reference row takes a fresh
//! value of the `ref_version` counter in the same transaction. The pull
//! cursor is that counter, so a device that pulls up to version V has seen
//! every row change committed up to V, in commit order.

use super::sql::{Connection, OptionalExtension, Row, params};
use crate::error::AppError;
use anfang_core::domain::PointKind;
use anfang_core::domain::{Category, Point, Unit};
use anfang_core::protocol::PullResponse;

/// Rows per pull page.
pub const PULL_PAGE: i64 = 500;
const CURSOR_PREFIX: &str = "v1.";

fn next_version(conn: &Connection) -> crate::db::sql::Result<i64> {
    conn.query_row(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'ref_version'
         RETURNING CAST(value AS INTEGER)",
        [],
        |r| r.get(0),
    )
}

#[doc(hidden)]
pub fn upsert_unit(conn: &Connection, u: &Unit) -> Result<(), AppError> {
    let v = next_version(conn)?;
    conn.execute(
        "INSERT INTO units (id, name, district, active, version) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, district = excluded.district,
           active = excluded.active, version = excluded.version",
        params![u.id, u.name, u.district, u.active, v],
    )?;
    Ok(())
}

#[doc(hidden)]
pub fn upsert_point(conn: &Connection, p: &Point, leader: Option<&str>) -> Result<(), AppError> {
    let v = next_version(conn)?;
    conn.execute(
        "INSERT INTO points (id, name, kind, unit_id, lat, lon, address, district, leader, active, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
           unit_id = excluded.unit_id, lat = excluded.lat, lon = excluded.lon,
           address = excluded.address, district = excluded.district, leader = excluded.leader,
           active = excluded.active, version = excluded.version",
        params![p.id, p.name, p.kind.as_str(), p.unit_id, p.lat, p.lon, p.address, p.district, leader, p.active, v],
    )?;
    Ok(())
}

#[doc(hidden)]
pub fn upsert_category(conn: &Connection, c: &Category) -> Result<(), AppError> {
    let v = next_version(conn)?;
    conn.execute(
        "INSERT INTO categories (code, name, description, sort, active, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, description = excluded.description,
           sort = excluded.sort, active = excluded.active, version = excluded.version",
        params![c.code, c.name, c.description, c.sort, c.active, v],
    )?;
    Ok(())
}

/// A [`Point`] from a row with the columns of the `points` table (the
/// server's twin of `anfang_core::store::point_from_row`, which reads the
/// device's SQLite directly).
pub(in crate::db) fn point_from_row(r: &Row<'_>) -> super::sql::Result<Point> {
    let kind: String = r.get("kind")?;
    Ok(Point {
        id: r.get("id")?,
        name: r.get("name")?,
        kind: kind.parse().unwrap_or(PointKind::Other),
        unit_id: r.get("unit_id")?,
        lat: r.get("lat")?,
        lon: r.get("lon")?,
        address: r.get("address")?,
        district: r.get("district")?,
        active: r.get("active")?,
    })
}

fn unit_row(r: &Row<'_>) -> crate::db::sql::Result<Unit> {
    Ok(Unit { id: r.get("id")?, name: r.get("name")?, district: r.get("district")?, active: r.get("active")? })
}

fn category_row(r: &Row<'_>) -> crate::db::sql::Result<Category> {
    Ok(Category {
        code: r.get("code")?,
        name: r.get("name")?,
        description: r.get("description")?,
        sort: r.get("sort")?,
        active: r.get("active")?,
    })
}

fn parse_cursor(conn: &Connection, cursor: Option<&str>) -> Result<i64, AppError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok(0) };
    let current: i64 =
        conn.query_row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'ref_version'", [], |r| r.get(0))?;
    match cursor.strip_prefix(CURSOR_PREFIX).and_then(|v| v.parse::<i64>().ok()) {
        Some(v) if (0..=current).contains(&v) => Ok(v),
        _ => Err(AppError::Gone(
            "this pull cursor is not known to the server (restored backup or another server); pull again without a cursor".into(),
        )),
    }
}

/// The reference changes after `cursor`, at most [`PULL_PAGE`] rows.
pub(in crate::db) fn pull(conn: &Connection, cursor: Option<&str>) -> Result<PullResponse, AppError> {
    let after = parse_cursor(conn, cursor)?;
    // The page ends at the PULL_PAGE-th changed row in version order.
    let bound: Option<i64> = conn
        .query_row(
            "SELECT version FROM (
                SELECT version FROM units WHERE version > ?1
                UNION ALL SELECT version FROM points WHERE version > ?1
                UNION ALL SELECT version FROM categories WHERE version > ?1
             ) AS changed ORDER BY version LIMIT 1 OFFSET ?2",
            params![after, PULL_PAGE - 1],
            |r| r.get(0),
        )
        .optional()?;
    let (upto, has_more) = match bound {
        Some(b) => {
            let more: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM units WHERE version > ?1)
                     OR EXISTS (SELECT 1 FROM points WHERE version > ?1)
                     OR EXISTS (SELECT 1 FROM categories WHERE version > ?1)",
                [b],
                |r| r.get(0),
            )?;
            (b, more)
        }
        None => (
            conn.query_row("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'ref_version'", [], |r| r.get(0))?,
            false,
        ),
    };
    let range = params![after, upto];
    let units = conn
        .prepare("SELECT * FROM units WHERE version > ?1 AND version <= ?2 ORDER BY version")?
        .query_map(range, unit_row)?
        .collect::<Result<_, _>>()?;
    let points = conn
        .prepare("SELECT * FROM points WHERE version > ?1 AND version <= ?2 ORDER BY version")?
        .query_map(range, point_from_row)?
        .collect::<Result<_, _>>()?;
    let categories = conn
        .prepare("SELECT * FROM categories WHERE version > ?1 AND version <= ?2 ORDER BY version")?
        .query_map(range, category_row)?
        .collect::<Result<_, _>>()?;
    Ok(PullResponse {
        units,
        points,
        categories,
        cursor: format!("{CURSOR_PREFIX}{upto}"),
        has_more,
        assignments: Vec::new(),
        rotate_token: false,
    })
}

pub(in crate::db) fn point(conn: &Connection, id: &str) -> Result<Option<Point>, AppError> {
    Ok(conn.query_row("SELECT * FROM points WHERE id = ?1", [id], point_from_row).optional()?)
}

pub(in crate::db) fn unit(conn: &Connection, id: &str) -> Result<Option<Unit>, AppError> {
    Ok(conn.query_row("SELECT * FROM units WHERE id = ?1", [id], unit_row).optional()?)
}

pub(in crate::db) fn category(conn: &Connection, code: &str) -> Result<Option<Category>, AppError> {
    Ok(conn.query_row("SELECT * FROM categories WHERE code = ?1", [code], category_row).optional()?)
}

/// Whether any reference data exists (a fresh data dir has none).
pub(in crate::db) fn is_empty(conn: &Connection) -> Result<bool, AppError> {
    Ok(!conn.query_row("SELECT EXISTS (SELECT 1 FROM points) OR EXISTS (SELECT 1 FROM units)", [], |r| r.get(0))?)
}

impl super::Db {
    /// A device's pull: reference data changed after `cursor`, the
    /// inspector's visits visible at `now` (from their lead time), and
    /// whether the device's token is due for rotation; one read.
    pub async fn pull(
        &self,
        device: &crate::auth::DeviceCaller,
        cursor: Option<String>,
        now: jiff::Timestamp,
    ) -> Result<PullResponse, AppError> {
        let (inspector_id, device_id) = (device.inspector_id, device.device_id.clone());
        self.read(move |c| {
            let mut page = pull(c, cursor.as_deref())?;
            page.assignments = super::draws::visible_assignments(c, inspector_id, now.as_millisecond())?;
            page.rotate_token = super::accounts::token_rotation_due(c, &device_id, now)?;
            Ok(page)
        })
        .await
    }

    /// Whether no reference data is loaded yet (a fresh server).
    pub async fn reference_is_empty(&self) -> Result<bool, AppError> {
        self.read(is_empty).await
    }
}

/// Reference data to load into an empty server (the demo city).
pub struct Seed {
    pub units: Vec<Unit>,
    /// Points with their point leader.
    pub points: Vec<(Point, Option<String>)>,
    pub categories: Vec<Category>,
}

impl super::Db {
    /// Loads `seed` in one transaction if no reference data exists yet;
    /// `false` (nothing written) otherwise. Blocking, like the command line
    /// and the test fixtures that call it, with or without a runtime.
    pub fn seed_reference_blocking(&self, seed: &Seed) -> Result<bool, AppError> {
        self.write_blocking(|conn| {
            if !is_empty(conn)? {
                return Ok(false);
            }
            let tx = conn.transaction()?;
            for u in &seed.units {
                upsert_unit(&tx, u)?;
            }
            for (p, leader) in &seed.points {
                upsert_point(&tx, p, leader.as_deref())?;
            }
            for c in &seed.categories {
                upsert_category(&tx, c)?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    /// Adds the demo's admin and inspectors at `now`; the inspectors' codes.
    /// Blocking, like [`Self::seed_reference_blocking`].
    pub fn add_demo_accounts_blocking(
        &self,
        admin_password: &str,
        inspectors: &[&str],
        now: jiff::Timestamp,
    ) -> Result<Vec<(String, String)>, AppError> {
        self.write_blocking(|conn| {
            super::accounts::add_user_at(conn, "admin", admin_password, crate::auth::Role::Admin, now)?;
            let mut codes = Vec::new();
            for alias in inspectors {
                let (_, code) = super::accounts::add_inspector_at(conn, alias, now)?;
                codes.push(((*alias).to_owned(), code));
            }
            Ok(codes)
        })
    }
}
