//! Reference data on the device: units, points and categories as last pulled.
//!
//! Reference data flows one way, server to device; the device never edits it,
//! so applying a pull is a plain upsert and there is nothing to merge.

use super::{Store, StoreError};
use crate::domain::{Category, Point, PointKind, Unit, haversine_m};
use crate::protocol::PullResponse;
use rusqlite::{OptionalExtension, Row, params};

/// A point with its distance from where the inspector stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PointNear {
    #[serde(flatten)]
    pub point: Point,
    pub unit_name: Option<String>,
    /// Metres from the given position; `None` when no position was given.
    pub distance_m: Option<f64>,
}

/// Reads a [`Point`] from a row with the columns of a `points` table (the
/// device's and the server's share these names).
pub fn point_from_row(r: &Row<'_>) -> rusqlite::Result<Point> {
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

impl Store {
    /// Applies one page of a pull and stores its cursor, atomically: a crash
    /// between pages resumes from the last applied page.
    pub fn apply_pull(&mut self, page: &PullResponse) -> Result<usize, StoreError> {
        let tx = self.conn_mut().transaction()?;
        for u in &page.units {
            tx.execute(
                "INSERT INTO units (id, name, district, active) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   district = excluded.district, active = excluded.active",
                params![u.id, u.name, u.district, u.active],
            )?;
        }
        for p in &page.points {
            tx.execute(
                "INSERT INTO points (id, name, kind, unit_id, lat, lon, address, district, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                   unit_id = excluded.unit_id, lat = excluded.lat, lon = excluded.lon,
                   address = excluded.address, district = excluded.district,
                   active = excluded.active",
                params![p.id, p.name, p.kind.as_str(), p.unit_id, p.lat, p.lon, p.address, p.district, p.active],
            )?;
        }
        for c in &page.categories {
            tx.execute(
                "INSERT INTO categories (code, name, description, sort, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name,
                   description = excluded.description, sort = excluded.sort,
                   active = excluded.active",
                params![c.code, c.name, c.description, c.sort, c.active],
            )?;
        }
        super::assignments::upsert(&tx, &page.assignments)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('pull_cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [&page.cursor],
        )?;
        tx.commit()?;
        Ok(page.units.len() + page.points.len() + page.categories.len())
    }

    /// Active points, nearest first when a position is given (then by name).
    pub fn points(&self, near: Option<(f64, f64)>) -> Result<Vec<PointNear>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT p.*, u.name AS unit_name FROM points p
             LEFT JOIN units u ON u.id = p.unit_id
             WHERE p.active = 1 ORDER BY p.id",
        )?;
        let mut out = stmt
            .query_map([], |r| {
                let point = point_from_row(r)?;
                let distance_m = near.map(|(lat, lon)| haversine_m(lat, lon, point.lat, point.lon));
                Ok(PointNear { point, unit_name: r.get("unit_name")?, distance_m })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if near.is_some() {
            out.sort_by(|a, b| a.distance_m.partial_cmp(&b.distance_m).unwrap_or(std::cmp::Ordering::Equal));
        }
        Ok(out)
    }

    /// One point by id, active or not.
    pub fn point(&self, id: &str) -> Result<Option<Point>, StoreError> {
        Ok(self.conn().query_row("SELECT * FROM points WHERE id = ?1", [id], point_from_row).optional()?)
    }

    /// Active categories in the office's order.
    pub fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT code, name, description, sort, active FROM categories
             WHERE active = 1 ORDER BY sort, code",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Category {
                code: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                sort: r.get(3)?,
                active: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One unit by id.
    pub fn unit(&self, id: &str) -> Result<Option<Unit>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT id, name, district, active FROM units WHERE id = ?1", [id], |r| {
                Ok(Unit { id: r.get(0)?, name: r.get(1)?, district: r.get(2)?, active: r.get(3)? })
            })
            .optional()?)
    }
}
