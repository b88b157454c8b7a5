//! What a responsible unit (责任单位) sees of the findings against it.
//!
//! **Invariant:** the rows built here carry nothing about who inspected:
//! no alias, inspector id, device id, note (an inspector's free text may
//! name them) or reviewer. Only accepted or corrected findings are shown,
//! with their effective (reviewed) category, card and unit.

use crate::error::AppError;
use rusqlite::{Connection, params};
use serde::Serialize;

/// Most findings one request returns (newest first).
pub const MAX_UNIT_FINDINGS: i64 = 1000;

#[derive(Debug, Serialize)]
pub struct UnitFinding {
    pub id: String,
    pub point_id: String,
    pub point_name: String,
    pub category: String,
    pub category_name: Option<String>,
    pub card: String,
    pub status: String,
    /// When the problem was observed (RFC 3339, UTC).
    pub observed_at: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    /// SHA-256 of every photo, in order: a unit can check what it is shown.
    pub photos: Vec<String>,
    /// When the review decision was recorded.
    pub decided_at: Option<String>,
    /// Rectification deadline: decision time plus the card's days; `None`
    /// when the card needs no rectification.
    pub rectify_by: Option<String>,
}

/// Accepted and corrected findings whose effective unit is `unit_id`.
pub fn findings_for_unit(conn: &Connection, unit_id: &str) -> Result<Vec<UnitFinding>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT f.id, f.point_id, p.name, s.category, c.name, s.card, s.status, f.observed_ms,
                f.lat, f.lon, f.accuracy_m, s.decided_at, d.days
         FROM finding_state s
         JOIN findings f ON f.id = s.finding_id
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
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, Option<f64>>(8)?,
            r.get::<_, Option<f64>>(9)?,
            r.get::<_, Option<f64>>(10)?,
            r.get::<_, Option<String>>(11)?,
            r.get::<_, Option<i64>>(12)?,
        ))
    })?;
    let mut photos = conn.prepare("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?;
    let mut out = Vec::new();
    for row in rows {
        let (
            id,
            point_id,
            point_name,
            category,
            category_name,
            card,
            status,
            observed_ms,
            lat,
            lon,
            accuracy_m,
            decided_at,
            days,
        ) = row?;
        let observed_at = jiff::Timestamp::from_millisecond(observed_ms).map_err(AppError::internal)?.to_string();
        let rectify_by = match (&decided_at, days) {
            (Some(at), Some(days)) => {
                let at: jiff::Timestamp = at.parse().map_err(AppError::internal)?;
                Some((at + jiff::SignedDuration::from_hours(24 * days)).to_string())
            }
            _ => None,
        };
        let hashes = photos.query_map([&id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        out.push(UnitFinding {
            id,
            point_id,
            point_name,
            category,
            category_name,
            card,
            status,
            observed_at,
            lat,
            lon,
            accuracy_m,
            photos: hashes,
            decided_at,
            rectify_by,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::MIGRATIONS;
    use crate::db::accounts;
    use rusqlite::Connection;

    fn users(c: &Connection) -> Vec<(i64, String, String, String, i64)> {
        let mut stmt = c.prepare("SELECT id, username, password_hash, role, active FROM users ORDER BY id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn upgrading_to_the_unit_role_keeps_every_user_id_and_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Connection::open(dir.path().join("old.db")).unwrap();
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
        let caller = accounts::session_by_token_hash(&c, &crate::auth::secret_hash(token)).unwrap().unwrap();
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
