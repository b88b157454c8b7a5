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

/// A database with every migration applied, in order, as `psql -1` would.
fn schema_on(pg: &Postgres, db: &str) {
    pg.create_database(db);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/migrations-pg");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql") && n.as_bytes()[0].is_ascii_digit())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let out = pg.psql(db, &["-1", "-f", &pg_file(&file)]);
        assert!(out.status.success(), "{file} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
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

/// Runs `anfang-server` with these arguments; (exit code, stdout + stderr).
fn server_cli(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(common::SERVER_BIN).args(args).env("RUST_LOG", "warn").output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn chain_head(output: &str) -> String {
    output
        .lines()
        .find(|l| l.starts_with("chain head: "))
        .unwrap_or_else(|| panic!("no chain head in: {output}"))
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_installation_moves_into_postgres_and_serves_from_there_with_the_same_evidence() {
    use anfang_core::Card;
    use common::{Device, Server, fast, processed};
    let pg = Postgres::start();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_owned();

    // An embedded installation with findings, photos and an issued bulletin.
    let mut server = Server::start_with_args(data.path(), "127.0.0.1:0", true, &[], &[]);
    let demo = server.demo.clone();
    let mut phone = Device::enroll(&server, 0).await;
    phone.record("P001", Card::Red, vec![processed(1, 640, 480), processed(2, 480, 640)]);
    phone.record("P002", Card::Yellow, vec![processed(3, 640, 480)]);
    phone.record("P003", Card::Green, vec![]);
    let report = phone.sync_via(&server.url(), fast()).await;
    assert_eq!(report.findings_pushed, 3, "{report:?}");
    let admin = server.admin_token().await;
    let http = reqwest::Client::new();
    let today = common::office_today();
    let made: serde_json::Value = http
        .post(format!("{}/api/v1/bulletins", server.url()))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"kind": "day", "from": today}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued =
        http.post(format!("{}/api/v1/bulletins/{}/issue", server.url(), made["id"])).bearer_auth(&admin).send().await;
    assert_eq!(issued.unwrap().status(), 200);
    server.kill();
    let (code, before) = server_cli(&["verify", "--data-dir", &dir, "--print-head"]);
    assert_eq!(code, 0, "{before}");

    // Bad input first: no target, a database that does not exist, a URL
    // without a database. Each says what to write; nothing is created.
    let (code, out) = server_cli(&["migrate", "--from", &dir]);
    assert!(code != 0 && out.contains("--to-database postgres://"), "{out}");
    let (code, out) = server_cli(&["migrate", "--from", &dir, "--to-database", &pg.url("nowhere")]);
    assert!(code != 0 && out.contains("--to-database") && out.contains("nowhere"), "{out}");
    let no_db = format!("postgres://anfang@127.0.0.1:{}", pg.port);
    let (code, out) = server_cli(&["migrate", "--from", &dir, "--to-database", &no_db]);
    assert!(code != 0 && out.contains("names no database"), "{out}");

    pg.create_database("moved");
    let url = pg.url("moved");
    let (code, out) = server_cli(&["migrate", "--from", &dir, "--to-database", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 findings") && out.contains("all intact"), "{out}");
    assert_eq!(chain_head(&out), chain_head(&before), "the same evidence chain: {out}");
    assert!(out.contains(&format!("serve with: --database '{url}'")), "{out}");
    let (code, audited) = server_cli(&["verify", "--data-dir", &dir, "--database", &url, "--print-head"]);
    assert_eq!(code, 0, "{audited}");
    assert_eq!(chain_head(&audited), chain_head(&before));

    // A second copy into the same database is refused, and changes nothing.
    let (code, again) = server_cli(&["migrate", "--from", &dir, "--to-database", &url]);
    assert!(code != 0 && again.contains("already holds an installation"), "{again}");
    let rows = pg.psql("moved", &["-c", "SELECT count(*) FROM findings"]);
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "3");

    // Served from PostgreSQL: the office sees what it had, and the phone
    // syncs on (new ids past the copied ones, the chain continued).
    let mut server = Server::start_with_args(data.path(), "127.0.0.1:0", false, &[], &["--database", &url]);
    server.demo = demo;
    let admin = server.admin_token().await;
    assert_eq!(server.office_findings(&admin).await.len(), 3);
    let bulletins = server.admin_get("/api/v1/bulletins").await;
    assert!(bulletins.to_string().contains("\"issued\""), "{bulletins}");
    phone.record("P004", Card::Red, vec![processed(4, 640, 480)]);
    let report = phone.sync_via(&server.url(), fast()).await;
    assert_eq!((report.findings_pushed, report.findings_rejected), (1, 0), "{report:?}");
    assert_eq!(server.office_findings(&admin).await.len(), 4);
    server.kill();
    let (code, after) = server_cli(&["verify", "--data-dir", &dir, "--database", &url]);
    assert!(code == 0 && after.contains("4 findings"), "{after}");
    // The data dir's own database was left as it was.
    let (code, embedded) = server_cli(&["verify", "--data-dir", &dir, "--print-head"]);
    assert!(code == 0 && embedded.contains("3 findings"), "{embedded}");
}
