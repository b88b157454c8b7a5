//! The PostgreSQL schema (`server/migrations-pg/`) on a real PostgreSQL 15:
//! it applies to an empty database, every invariant the SQLite triggers
//! enforce holds there too (`checks.sql` tries each forbidden change), and
//! it has the same tables and columns as the SQLite schema after all its
//! migrations, so an installation can be copied across table by table.

mod common;

use common::postgres::Postgres;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn pg_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/migrations-pg").join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path.to_str().unwrap().to_owned()
}

/// A database with the schema applied.
fn schema_on(pg: &Postgres, db: &str) {
    pg.create_database(db);
    let out = pg.psql(db, &["-f", &pg_file("0001_initial.sql")]);
    assert!(out.status.success(), "0001_initial.sql failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn run_checks(pg: &Postgres, db: &str) -> (bool, String) {
    let out = pg.psql(db, &["-f", &pg_file("checks.sql")]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("all checks passed"), text)
}

type Columns = BTreeMap<String, BTreeSet<String>>;

/// Tables and their columns of the SQLite schema after every migration.
fn sqlite_columns() -> Columns {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in anfang_server::db::MIGRATIONS {
        conn.execute_batch(sql).unwrap();
    }
    let mut tables =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").unwrap();
    let names: Vec<String> = tables.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    names
        .into_iter()
        .map(|t| {
            let mut cols = conn.prepare("SELECT name FROM pragma_table_info(?1)").unwrap();
            let set = cols.query_map([&t], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
            (t, set)
        })
        .collect()
}

fn postgres_columns(pg: &Postgres, db: &str) -> Columns {
    let out = pg.psql(
        db,
        &[
            "-F",
            "\t",
            "-c",
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_type = 'BASE TABLE')",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut tables = Columns::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (t, c) = line.split_once('\t').unwrap();
        tables.entry(t.to_owned()).or_default().insert(c.to_owned());
    }
    tables
}

#[test]
fn the_postgres_schema_applies_to_an_empty_database_and_every_invariant_holds() {
    let pg = Postgres::start();
    schema_on(&pg, "anfang");
    let (passed, output) = run_checks(&pg, "anfang");
    assert!(passed, "checks.sql found an invariant missing:\n{output}");
    let version = pg.psql("anfang", &["-c", "SELECT version FROM schema_version"]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), "1", "the schema records its version");
}

#[test]
fn the_checks_notice_when_the_findings_lose_their_append_only_triggers() {
    let pg = Postgres::start();
    schema_on(&pg, "weakened");
    // As an insider with the database would: drop every trigger on findings.
    let drop = pg.psql(
        "weakened",
        &[
            "-c",
            "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tgname FROM pg_trigger \
             WHERE tgrelid = 'findings'::regclass AND NOT tgisinternal LOOP \
             EXECUTE format('DROP TRIGGER %I ON findings', t.tgname); END LOOP; END $$",
        ],
    );
    assert!(drop.status.success(), "{}", String::from_utf8_lossy(&drop.stderr));
    let (passed, output) = run_checks(&pg, "weakened");
    assert!(!passed, "checks.sql passed on findings that can be rewritten:\n{output}");
}

#[test]
fn the_postgres_schema_has_every_table_and_column_of_the_sqlite_schema() {
    let pg = Postgres::start();
    schema_on(&pg, "anfang");
    let sqlite = sqlite_columns();
    let mut postgres = postgres_columns(&pg, "anfang");
    // SQLite keeps its version in `PRAGMA user_version`, PostgreSQL in a table.
    assert!(postgres.remove("schema_version").is_some(), "no schema_version table");
    let only_sqlite: Vec<&String> = sqlite.keys().filter(|t| !postgres.contains_key(*t)).collect();
    let only_postgres: Vec<&String> = postgres.keys().filter(|t| !sqlite.contains_key(*t)).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "tables only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_postgres:?}"
    );
    for (table, cols) in &sqlite {
        assert_eq!(&postgres[table], cols, "the columns of {table} differ");
    }
}
