//! What a responsible unit (责任单位) sees of the findings against it.
//!
//! **Invariant:** the rows built here carry nothing about who inspected:
//! no alias, inspector id, device id, note (an inspector's free text may
//! name them) or reviewer; and nothing that would let a unit find the
//! inspector on its own cameras: no finding id (a UUIDv7 holds its creation
//! millisecond), no recorded position or accuracy, no capture or receipt
//! time. A unit gets the finding's public reference, the point's registered
//! position, the date and part of day (office time zone, see
//! [`crate::redact::part_of_day`]) and dates for the decision and deadline.
//! Only accepted or corrected findings are shown, with their effective
//! (reviewed) category, card and unit.

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

/// Most findings one request returns (newest first).
pub const MAX_UNIT_FINDINGS: i64 = 1000;

#[derive(Debug, Serialize)]
pub struct UnitFinding {
    /// The finding's public reference (as printed in bulletins); the office
    /// maps it back to the finding. Not derived from the finding's id.
    pub reference: String,
    pub point_id: String,
    pub point_name: String,
    /// The point's registered position, not where the photo was taken.
    pub point_lat: f64,
    pub point_lon: f64,
    pub category: String,
    pub category_name: Option<String>,
    pub card: String,
    pub status: String,
    /// The date the problem was observed (office time zone).
    pub observed_on: Date,
    /// 上午, 下午 or 晚上: no finer time reaches a unit.
    pub part_of_day: &'static str,
    /// SHA-256 of every photo, in order: a unit can check what it is shown.
    pub photos: Vec<String>,
    /// The date the review decision was recorded (office time zone).
    pub decided_on: Option<Date>,
    /// Rectification deadline: decision date plus the card's days; `None`
    /// when the card needs no rectification.
    pub rectify_by: Option<Date>,
}

/// Accepted and corrected findings whose effective unit is `unit_id`,
/// newest day and part of day first (within one, in reference order, so
/// the order tells nothing finer).
pub(in crate::db) fn findings_for_unit(
    conn: &Connection,
    unit_id: &str,
    tz: &TimeZone,
) -> Result<Vec<UnitFinding>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT r.public_ref, f.point_id, p.name, p.lat, p.lon, s.category, c.name, s.card, s.status,
                f.observed_ms, s.decided_at, d.days, f.id
         FROM finding_state s
         JOIN findings f ON f.id = s.finding_id
         JOIN finding_public_refs r ON r.finding_id = f.id
         JOIN points p ON p.id = f.point_id
         LEFT JOIN categories c ON c.code = s.category
         LEFT JOIN card_deadlines d ON d.card = s.card
         WHERE s.unit_id = ?1 AND s.status IN ('accept', 'correct')
         ORDER BY f.observed_ms DESC, f.id
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![unit_id, MAX_UNIT_FINDINGS], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, f64>(3)?,
            r.get::<_, f64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
            r.get::<_, i64>(9)?,
            r.get::<_, Option<String>>(10)?,
            r.get::<_, Option<i64>>(11)?,
            r.get::<_, String>(12)?,
        ))
    })?;
    let mut photos = conn.prepare("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?;
    let mut out = Vec::new();
    for row in rows {
        let (
            reference,
            point_id,
            point_name,
            point_lat,
            point_lon,
            category,
            category_name,
            card,
            status,
            observed_ms,
            decided_at,
            days,
            id,
        ) = row?;
        let (observed_on, part_of_day) = crate::redact::coarse_time(observed_ms, tz).map_err(AppError::internal)?;
        let decided_on = match &decided_at {
            Some(at) => {
                Some(at.parse::<jiff::Timestamp>().map_err(AppError::internal)?.to_zoned_datetime(tz.clone()).date())
            }
            None => None,
        };
        let rectify_by = match (decided_on, days) {
            (Some(on), Some(days)) => Some(on.checked_add(jiff::Span::new().days(days)).map_err(AppError::internal)?),
            _ => None,
        };
        let hashes = photos.query_map([&id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        out.push(UnitFinding {
            reference,
            point_id,
            point_name,
            point_lat,
            point_lon,
            category,
            category_name,
            card,
            status,
            observed_on,
            part_of_day,
            photos: hashes,
            decided_on,
            rectify_by,
        });
    }
    let slot = |f: &UnitFinding| (f.observed_on, crate::redact::PARTS_OF_DAY.iter().position(|p| *p == f.part_of_day));
    out.sort_by(|a, b| slot(b).cmp(&slot(a)).then_with(|| a.reference.cmp(&b.reference)));
    Ok(out)
}

/// A finding's public reference (for office pages that show it).
#[doc(hidden)]
pub fn public_ref(conn: &Connection, finding_id: &str) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row("SELECT public_ref FROM finding_public_refs WHERE finding_id = ?1", [finding_id], |r| r.get(0))
        .optional()?)
}

/// The finding a public reference names: how the office answers a unit
/// that quotes one.
#[doc(hidden)]
pub fn finding_for_ref(conn: &Connection, reference: &str) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row(
            "SELECT finding_id FROM finding_public_refs WHERE public_ref = ?1",
            [reference.trim().to_ascii_lowercase()],
            |r| r.get(0),
        )
        .optional()?)
}

/// The unit portal's reads.
impl super::Db {
    /// The reviewed findings a responsible unit may see (see the module).
    pub async fn unit_findings(&self, unit_id: String, tz: TimeZone) -> Result<Vec<UnitFinding>, AppError> {
        self.read(move |c| findings_for_unit(c, &unit_id, &tz)).await
    }

    /// A finding's public reference (what units and bulletins quote).
    pub async fn public_ref(&self, finding_id: String) -> Result<Option<String>, AppError> {
        self.read(move |c| public_ref(c, &finding_id)).await
    }

    /// The finding a public reference names.
    pub async fn finding_for_ref(&self, reference: String) -> Result<Option<String>, AppError> {
        self.read(move |c| finding_for_ref(c, &reference)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::MIGRATIONS;
    use crate::db::accounts;
    use crate::db::sql::Connection;

    fn users(c: &rusqlite::Connection) -> Vec<(i64, String, String, String, i64)> {
        let mut stmt = c.prepare("SELECT id, username, password_hash, role, active FROM users ORDER BY id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn upgrading_to_the_unit_role_keeps_every_user_id_and_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = rusqlite::Connection::open(dir.path().join("old.db")).unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        let unit_role = MIGRATIONS.iter().position(|m| m.contains("users_before_unit_role")).unwrap();
        anfang_core::store::schema::migrate(&mut c, &MIGRATIONS[..unit_role]).unwrap();
        // Ids with gaps, an inactive user, and a session pointing at a user.
        let token = "anfs_old-session";
        c.execute_batch(&format!(
            "INSERT INTO users (id, username, password_hash, role, active, created_at) VALUES
               (3, 'boss', 'h1', 'admin', 1, '2026-01-01T00:00:00Z'),
               (9, 'li', 'h2', 'leader', 1, '2026-01-02T00:00:00Z'),
               (12, 'gone', 'h3', 'reviewer', 0, '2026-01-03T00:00:00Z');
             INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES
               ('{}', 9, '{}', '2999-01-01T00:00:00Z');",
            crate::auth::secret_hash(token),
            // A session still live under today's idle and absolute lifetimes.
            jiff::Timestamp::now()
        ))
        .unwrap();
        let before = users(&c);

        anfang_core::store::schema::migrate(&mut c, MIGRATIONS).unwrap();

        assert_eq!(users(&c), before);
        let c = Connection::from_sqlite(c);
        let caller = accounts::session_by_token_hash(&c, &crate::auth::secret_hash(token), jiff::Timestamp::now())
            .unwrap()
            .unwrap();
        assert_eq!((caller.user_id, caller.username.as_str(), caller.unit_id), (9, "li", None));
        let dangling: i64 = c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(dangling, 0);
        // The references still hold after the rebuild.
        assert!(
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('x', 999, 'a', 'b')",
                []
            )
            .is_err()
        );
        // The new role exists, and only with a unit.
        c.execute("INSERT INTO units (id, name, version) VALUES ('U01', '单位', 1)", []).unwrap();
        c.execute("INSERT INTO users (username, password_hash, role, created_at, unit_id) VALUES ('w', 'h', 'unit', 'now', 'U01')", []).unwrap();
        let unit_without_unit = c.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES ('u', 'h', 'unit', 'now')",
            [],
        );
        assert!(unit_without_unit.is_err());
        let leader_with_unit = c.execute(
            "INSERT INTO users (username, password_hash, role, created_at, unit_id) VALUES ('v', 'h', 'leader', 'now', 'U01')",
            [],
        );
        assert!(leader_with_unit.is_err());
    }
}
