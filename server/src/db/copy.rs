//! `migrate --to-database`: copies an embedded installation's SQLite file
//! into an empty PostgreSQL database, table by table, in one transaction on
//! each side (a read snapshot of the file, one write transaction in
//! PostgreSQL), so a copy that fails half-way leaves PostgreSQL as it was.
//!
//! The recipe is `migrations-pg/README.md`'s: user triggers off for the
//! copy (they refuse inserting issued bulletins and would mint new public
//! references), the rows the migrations seed replaced by the file's, tables
//! in the order the schema creates them (safe for the foreign keys, which
//! stay enforced), identity sequences moved past the copied ids, and every
//! table's count compared before the commit. Nothing is transformed: the
//! hashes of the evidence cover the stored text, so a value arrives as it
//! left.

use super::sql::{Connection, Value, params_from_iter};
use crate::error::AppError;
use std::path::Path;

/// How many rows went into each table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows), in the order they were copied.
    pub tables: Vec<(String, i64)>,
}

impl CopyReport {
    pub fn rows(&self) -> i64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// The tables of the PostgreSQL schema in the order its migrations create
/// them; `schema_version` is PostgreSQL's own and not copied.
fn tables_in_creation_order() -> Vec<String> {
    let mut tables = Vec::new();
    for migration in super::MIGRATIONS_PG {
        for line in migration.lines() {
            let Some(rest) = line.trim_start().strip_prefix("CREATE TABLE ") else { continue };
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != "schema_version" && !tables.contains(&name) {
                tables.push(name);
            }
        }
    }
    tables
}

/// Copies the SQLite database at `sqlite` into the PostgreSQL database at
/// `url`, migrating it first; refuses one that already holds an
/// installation. Blocking: call it off any async runtime.
pub fn sqlite_into_postgres(sqlite: &Path, url: &str) -> Result<CopyReport, AppError> {
    let source = super::evidence::open_for_audit(sqlite).map_err(AppError::BadRequest)?;
    let source = source.connection();
    let snapshot = source.unchecked_transaction()?;

    let config = super::postgres_config(url)?;
    let target = Connection::connect_postgres(&config, true).map_err(|e| super::cannot_connect(url, e))?;
    super::migrate_postgres(&target)?;
    // No instance may write while the copy runs (they take this lock per write).
    target.lock_writer()?;
    let result = copy(&snapshot, &target);
    let unlocked = target.unlock_writer();
    let report = result?;
    unlocked?;
    Ok(report)
}

fn copy(source: &Connection, target: &Connection) -> Result<CopyReport, AppError> {
    let tables = tables_in_creation_order();
    let tx = target.transaction()?;
    for table in ["evidence_log", "findings", "users", "inspectors"] {
        let rows: i64 = tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        if rows > 0 {
            return Err(AppError::BadRequest(format!(
                "the PostgreSQL database already holds an installation ({rows} row(s) in {table}); copy into a new, \
                 empty database (createdb), never over one that serves"
            )));
        }
    }
    // Every table of the file must have somewhere to go: a table the
    // schema lacks would be left behind without a word.
    let in_file: Vec<String> = {
        let mut stmt = source.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    if let Some(missing) = in_file.iter().find(|t| !tables.contains(t)) {
        return Err(AppError::Internal(format!(
            "table {missing} of the SQLite file has no PostgreSQL twin in this build's migrations-pg; nothing was copied"
        )));
    }

    for table in &tables {
        tx.execute_batch(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))?;
    }
    // The rows the migrations seed (settings, deadlines, meta), replaced
    // by the file's: above all meta's evidence_v2_since and
    // identity_audit_chained_from, which the audit reads.
    for table in tables.iter().rev() {
        tx.execute_batch(&format!("DELETE FROM {table}"))?;
    }
    let mut report = CopyReport { tables: Vec::new() };
    for table in &tables {
        let rows = copy_table(source, &tx, table)?;
        report.tables.push((table.clone(), rows));
    }
    for table in &tables {
        tx.execute_batch(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))?;
    }
    // Explicit ids do not move an identity's sequence: without this the
    // next insert would start again at 1 and clash.
    let identities: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
    };
    for (table, column) in identities {
        tx.execute_batch(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), (SELECT max({column}) FROM {table})) \
             WHERE EXISTS (SELECT 1 FROM {table})"
        ))?;
    }
    // The same number of rows on both sides, table by table, before the commit.
    for (table, copied) in &report.tables {
        let there: i64 = tx.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        let here: i64 = source.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        if there != here || here != *copied {
            return Err(AppError::Internal(format!(
                "table {table}: {here} row(s) in the file, {copied} copied, {there} in PostgreSQL; nothing was copied"
            )));
        }
    }
    tx.commit()?;
    // Fresh statistics for the planner and a visibility map, as after any
    // bulk load (pg_restore advises the same): without them the planner
    // takes a year of findings for a few hundred rows, and autovacuum
    // would do this work while the first instances serve.
    target.execute_batch("VACUUM (ANALYZE)")?;
    Ok(report)
}

/// Copies one table, its columns named, in the file's row order (ids
/// ascending: a row that names an earlier row of its table comes after it).
fn copy_table(source: &Connection, target: &Connection, table: &str) -> Result<i64, AppError> {
    let columns: Vec<String> = {
        let mut stmt = target.prepare(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        )?;
        stmt.query_map([table], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let in_file: Vec<String> = {
        let mut stmt = source.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
        stmt.query_map([table], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    if in_file.is_empty() {
        return Err(AppError::Internal(format!("the SQLite file has no table {table}; nothing was copied")));
    }
    let mut sorted_pg = columns.clone();
    let mut sorted_file = in_file.clone();
    sorted_pg.sort();
    sorted_file.sort();
    if sorted_pg != sorted_file {
        return Err(AppError::Internal(format!(
            "table {table} has columns {in_file:?} in the SQLite file but {columns:?} in PostgreSQL; nothing was copied"
        )));
    }
    let without_rowid: bool = source.query_row(
        "SELECT coalesce(sql LIKE '%WITHOUT ROWID%', 0) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    let list = columns.join(", ");
    let order = if without_rowid { "" } else { " ORDER BY rowid" };
    let mut select = source.prepare(&format!("SELECT {list} FROM {table}{order}"))?;
    // Several rows per statement: one round trip per row would make a
    // year's findings take minutes over a network. PostgreSQL takes at
    // most 65,535 parameters in one statement.
    let per_insert = (8_000 / columns.len()).clamp(1, 500);
    let insert_for = |n: usize| {
        let rows: Vec<String> = (0..n)
            .map(|r| {
                let slots: Vec<String> =
                    (0..columns.len()).map(|c| format!("?{}", r * columns.len() + c + 1)).collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        format!("INSERT INTO {table} ({list}) VALUES {}", rows.join(", "))
    };
    let full = insert_for(per_insert);
    let mut batch: Vec<Value> = Vec::with_capacity(per_insert * columns.len());
    let mut copied = 0i64;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        for c in 0..columns.len() {
            batch.push(row.get::<_, Value>(c)?);
        }
        if batch.len() == per_insert * columns.len() {
            target.execute(&full, params_from_iter(batch.drain(..)))?;
            copied += per_insert as i64;
        }
    }
    if !batch.is_empty() {
        let n = batch.len() / columns.len();
        target.execute(&insert_for(n), params_from_iter(batch.drain(..)))?;
        copied += n as i64;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_are_copied_in_the_order_the_schema_creates_them() {
        let tables = tables_in_creation_order();
        let at = |t: &str| tables.iter().position(|x| x == t).unwrap_or_else(|| panic!("{t} not in {tables:?}"));
        // Referenced before referencing: the foreign keys hold row by row.
        assert!(at("inspectors") < at("devices"));
        assert!(at("findings") < at("finding_photos"));
        assert!(at("findings") < at("rectification_cases"));
        assert!(!tables.contains(&"schema_version".to_owned()));
        assert!(tables.len() > 40, "{tables:?}");
    }
}
