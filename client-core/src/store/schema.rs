//! Versioned, append-only schema migrations on `PRAGMA user_version`.
//!
//! Used by the device store and by the server's SQLite backend. A migration
//! that has shipped is never edited: fix a mistake with a new migration at the
//! end of the list. Each migration runs in its own transaction together with
//! the `user_version` bump, so a crash leaves the database at a whole version.

use rusqlite::{Connection, TransactionBehavior};

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the database is at schema version {found}, newer than this program knows ({known}); \
         update the program instead of opening this file with an old one"
    )]
    TooNew { found: usize, known: usize },
    #[error("migration {version} failed: {source}")]
    Failed { version: usize, source: rusqlite::Error },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies every migration in `migrations` that the database has not seen.
/// Migration `i` (0-based) brings the database to `user_version = i + 1`.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), MigrationError> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > migrations.len() {
        return Err(MigrationError::TooNew { found: current, known: migrations.len() });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current) {
        let version = i + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process on the same file (a second server starting at
        // the same moment) may have applied it while this one waited.
        let now: usize = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        if now > migrations.len() {
            return Err(MigrationError::TooNew { found: now, known: migrations.len() });
        }
        if now >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(|source| MigrationError::Failed { version, source })?;
        tx.pragma_update(None, "user_version", version as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE a (x INTEGER);";
    const V2: &str = "ALTER TABLE a ADD COLUMN y TEXT;";

    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn an_upgraded_database_equals_a_fresh_one() {
        let mut old = Connection::open_in_memory().unwrap();
        migrate(&mut old, &[V1]).unwrap();
        migrate(&mut old, &[V1, V2]).unwrap();
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh, &[V1, V2]).unwrap();
        assert_eq!(schema_of(&old), schema_of(&fresh));
    }

    #[test]
    fn a_database_from_a_newer_program_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[V1, V2]).unwrap();
        let err = migrate(&mut conn, &[V1]).unwrap_err();
        assert!(matches!(err, MigrationError::TooNew { found: 2, known: 1 }), "{err}");
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let err = migrate(&mut conn, &[V1, "CREATE TABLE b (; nonsense"]).unwrap_err();
        assert!(matches!(err, MigrationError::Failed { version: 2, .. }), "{err}");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, 1);
    }

    /// Two server processes started together on a fresh file both migrate
    /// it: neither may apply a version the other already has.
    #[test]
    fn two_connections_migrating_one_file_at_once_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let many: Vec<String> = (0..40).map(|i| format!("CREATE TABLE t{i} (x INTEGER);")).collect();
        let many: Vec<&'static str> = many.into_iter().map(|s| &*Box::leak(s.into_boxed_str())).collect();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (path, many) = (path.clone(), many.clone());
                std::thread::spawn(move || {
                    let mut conn = Connection::open(&path).unwrap();
                    conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                    migrate(&mut conn, &many)
                })
            })
            .collect();
        for r in runs {
            r.join().unwrap().unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), 40);
    }
}
