//! The server's storage seam: every query lives below this module, and the
//! rest of the server calls domain-shaped, async methods of [`Db`]
//! (`Db::push_batch`, `Db::authenticate_session`, `Db::issue_bulletin`, …),
//! grouped per capability in the files below, that take and return domain
//! types and the instant they act at (`now`, from the server's clock; no
//! function here reads the time). No `rusqlite` type appears in a signature
//! outside this module. What is allowed is decided in `app::…`; where a rule
//! must see stored state inside the write's transaction (a push batch, a
//! review, a bulletin edit, an upload's caps), the method reads the facts
//! and calls the service's rule, passed in as a function, then stores what
//! it accepted. The methods are written once against [`sql::Connection`],
//! which runs them on SQLite or on PostgreSQL ([`Db::connect_postgres`]);
//! nothing above `db` knows which.
//!
//! [`Db::read`] and [`Db::write`] are `pub(crate)` only so the crate's unit
//! tests can set up rows; production code outside `db` never passes a
//! closure over a connection (a test below reads the sources to hold that).
//! [`Db::write_blocking`] and a few connection-level functions stay
//! `#[doc(hidden)] pub` for the same reason, for the end-to-end tests'
//! fixtures; those that decide something run the same `app` rules as the
//! methods (the only `db` → `app` edges).
//!
//! One writer connection (SQLite in WAL mode; on PostgreSQL under an
//! advisory lock, see `with_writer_lock`), and at most [`READERS`]
//! reader connections. An async caller first waits, without a thread, for
//! its turn (the writer's one permit, or one of the reader permits), and
//! only then goes to tokio's blocking pool: a burst of requests queues in
//! the runtime instead of parking blocking-pool threads on a lock or
//! opening a connection each. The permit travels with the work, so a
//! request cancelled mid-query still holds it until the query ends. No
//! connection is held across an `.await`.
//!
//! To change the schema, add the next file under `server/migrations/` and
//! name it in [`MIGRATIONS`]; never edit a shipped one.

pub mod accounts;
pub mod backup;
pub mod bulletins;
pub mod cases;
pub mod contacts;
pub mod copy;
pub mod draws;
pub mod evidence;
pub mod exposure;
pub mod findings;
pub mod identities;
pub mod league;
pub mod leases;
pub mod notices;
pub mod outbox;
pub mod rechecks;
pub mod reference;
pub mod reference_admin;
pub mod reviews;
pub mod schedule;
pub mod smtp;
pub mod sql;
pub mod unit_portal;
pub mod uploads;

use crate::error::AppError;
use sql::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Most reader connections open at once (and kept for reuse).
pub const READERS: usize = 8;
/// Most reader connections held by streamed reads (exports) at once; more
/// wait their turn, for at most [`STREAM_WAIT`].
pub const STREAMS: usize = 2;
/// How long a streamed read waits for a turn before it is refused (503
/// `export_busy`): a person clicking 导出 is better told to come back than
/// left looking at a download that does not start.
pub const STREAM_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The schema, one append-only SQL file per version under `server/migrations/`:
/// file `NNNN_name.sql` brings the database to `user_version = NNNN`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_evidence_log.sql"),
    include_str!("../../migrations/0003_reviews_and_settings.sql"),
    include_str!("../../migrations/0004_bulletins.sql"),
    include_str!("../../migrations/0005_draws.sql"),
    include_str!("../../migrations/0006_unit_accounts.sql"),
    include_str!("../../migrations/0007_inspector_identities.sql"),
    include_str!("../../migrations/0008_revocation.sql"),
    include_str!("../../migrations/0009_evidence_anchoring.sql"),
    include_str!("../../migrations/0010_upload_limits.sql"),
    include_str!("../../migrations/0011_public_refs.sql"),
    include_str!("../../migrations/0012_evidence_one_successor.sql"),
    include_str!("../../migrations/0013_rectification.sql"),
    include_str!("../../migrations/0014_exposure.sql"),
    include_str!("../../migrations/0015_backups.sql"),
    include_str!("../../migrations/0016_league.sql"),
    include_str!("../../migrations/0017_league_numbers.sql"),
    include_str!("../../migrations/0018_finding_sources.sql"),
    include_str!("../../migrations/0019_job_leases.sql"),
];

/// The PostgreSQL schema, one append-only file per version under
/// `server/migrations-pg/`: file `NNNN_name.sql` brings the one row of
/// `schema_version` to NNNN (see that folder's README).
pub const MIGRATIONS_PG: &[&str] = &[
    include_str!("../../migrations-pg/0001_initial.sql"),
    include_str!("../../migrations-pg/0002_sqlite_compat.sql"),
    include_str!("../../migrations-pg/0003_finding_state_lateral.sql"),
];

/// Handle to the server database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// Where the database is, and so how a reader connection is opened.
enum Source {
    Sqlite(PathBuf),
    Postgres(Box<postgres::Config>),
}

impl Source {
    fn open_reader(&self) -> Result<Connection, AppError> {
        match self {
            Source::Sqlite(path) => {
                let c = rusqlite::Connection::open(path)?;
                configure(&c)?;
                Ok(Connection::from_sqlite(c))
            }
            Source::Postgres(config) => Ok(Connection::connect_postgres(config, false)?),
        }
    }
}

struct Inner {
    source: Source,
    /// Locked only by holders of `write_turn`'s permit, and by
    /// [`Db::write_blocking`] (command-line tools, tests), which may wait on it.
    writer: Mutex<Connection>,
    /// One permit: async writers queue here, not on the mutex.
    write_turn: Arc<Semaphore>,
    /// Idle reader connections.
    readers: Mutex<Vec<Connection>>,
    /// [`READERS`] permits: one per reader connection in use.
    read_turns: Arc<Semaphore>,
    /// [`STREAMS`] permits: reads that hold their connection for as long
    /// as a client takes to download (the exports), so that slow clients
    /// never hold every reader.
    stream_turns: Arc<Semaphore>,
    /// Idle connections that held a lock across instances (`leases::InstanceLock`).
    lockers: Mutex<Vec<Connection>>,
    /// [`leases::LOCKERS`] permits: the locks across instances held at once.
    lock_turns: Arc<Semaphore>,
}

fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

impl Db {
    /// Opens the database file, switching it to WAL and migrating it.
    pub fn open(path: &Path) -> Result<Self, AppError> {
        let mut conn = rusqlite::Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        configure(&conn)?;
        // Other processes may write to this file too (several `serve`
        // instances, the command line): a transaction that reads before it
        // writes must hold the write lock from its start, or its write fails
        // with SQLITE_BUSY when another committed in between (deferred
        // transactions get no busy-wait on that upgrade).
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        anfang_core::store::schema::migrate(&mut conn, MIGRATIONS)
            .map_err(|e| AppError::Internal(format!("{}: {e}", path.display())))?;
        Ok(Self::with(Source::Sqlite(path.to_owned()), Connection::from_sqlite(conn)))
    }

    /// Connects to a PostgreSQL database (a `postgres://` URL or a
    /// `key=value` connection string) and migrates it, under the writers'
    /// lock so that instances starting together migrate once.
    pub fn connect_postgres(url: &str) -> Result<Self, AppError> {
        let config = postgres_config(url)?;
        // Blocking calls: not on an async runtime's thread (see sql::PgClient).
        let writer = sql::off_runtime(|| {
            let writer = Connection::connect_postgres(&config, true).map_err(|e| cannot_connect(url, e))?;
            migrate_postgres(&writer)?;
            Ok::<_, AppError>(writer)
        })?;
        Ok(Self::with(Source::Postgres(Box::new(config)), writer))
    }

    fn with(source: Source, writer: Connection) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                writer: Mutex::new(writer),
                write_turn: Arc::new(Semaphore::new(1)),
                readers: Mutex::new(Vec::new()),
                read_turns: Arc::new(Semaphore::new(READERS)),
                stream_turns: Arc::new(Semaphore::new(STREAMS)),
                lockers: Mutex::new(Vec::new()),
                lock_turns: Arc::new(Semaphore::new(leases::LOCKERS)),
            }),
        }
    }

    /// Runs `f` with the writer connection on the blocking pool. Storage
    /// and test fixtures only: everything else calls a domain method.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let turn = inner.write_turn.clone().acquire_owned().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            with_writer_lock(&mut conn, f)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `f` with a reader connection on the blocking pool. Storage and
    /// test fixtures only: everything else calls a domain method.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    {
        let inner = self.inner.clone();
        let turn = inner.read_turns.clone().acquire_owned().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || {
            // Holding a permit means at most READERS - 1 other connections are out.
            let _turn = turn;
            let conn = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => inner.source.open_reader()?,
            };
            let result = f(&conn);
            let mut pool = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < READERS && conn.is_usable() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Runs `f` on a reader connection in one read transaction (one
    /// snapshot), handing it a [`Batches`] sender: the caller gets the
    /// receiver at once and reads the batches as `f` sends them, at the
    /// pace of whoever consumes them (two batches are buffered). At most
    /// [`STREAMS`] run at once; another waits up to [`STREAM_WAIT`], then
    /// is refused with 503 `export_busy`. An error from `f` arrives as the last item;
    /// a receiver dropped early makes `send` false and `f` should stop.
    pub(crate) async fn read_streamed<T, F>(
        &self,
        f: F,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<Vec<T>, AppError>>, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Batches<T>) -> Result<(), AppError> + Send + 'static,
    {
        let turn = tokio::time::timeout(STREAM_WAIT, self.inner.stream_turns.clone().acquire_owned())
            .await
            .map_err(|_| {
                AppError::coded(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    anfang_core::error_code::ErrorCode::ExportBusy,
                    format!("{STREAMS} exports are being downloaded; try again in a minute"),
                )
            })?
            .map_err(AppError::internal)?;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let db = self.clone();
        tokio::spawn(async move {
            let _turn = turn;
            let mut batches = Batches { tx: tx.clone() };
            let done = db
                .read(move |c| {
                    let snapshot = c.unchecked_transaction()?;
                    f(&snapshot, &mut batches)
                })
                .await;
            if let Err(e) = done {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(rx)
    }

    /// Runs `f` with the writer, blocking the calling thread: for test
    /// fixtures that write rows directly, and the blocking demo loader.
    #[doc(hidden)]
    pub fn write_blocking<T: Send>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, AppError> + Send,
    ) -> Result<T, AppError> {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        let conn = &mut *conn;
        match self.inner.source {
            Source::Sqlite(_) => with_writer_lock(conn, f),
            // Callers may be on an async runtime's thread (see sql::PgClient).
            Source::Postgres(_) => sql::off_runtime(move || with_writer_lock(conn, f)),
        }
    }
}

/// For the unit tests: when `ANFANG_TEST_POSTGRES` names a PostgreSQL
/// server (`postgres://user@host:port`), a new empty database on it for
/// each test's state, so the same tests run on the second backend.
#[cfg(test)]
pub(crate) fn test_database() -> Option<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = std::env::var("ANFANG_TEST_POSTGRES").ok()?;
    let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let url = format!("{server}/{name}");
    sql::off_runtime(|| {
        let admin =
            Connection::connect_postgres(&format!("{server}/postgres").parse().expect("ANFANG_TEST_POSTGRES"), true)
                .expect("ANFANG_TEST_POSTGRES: connect to its `postgres` database");
        admin.execute_script(&format!("CREATE DATABASE {name}")).expect("create a test database");
    });
    Some(url)
}

/// The schema version a PostgreSQL database is at: 0 for an empty one.
fn postgres_schema_version(conn: &Connection) -> Result<i64, sql::Error> {
    let exists: bool = conn.query_row("SELECT to_regclass('schema_version') IS NOT NULL", [], |r| r.get(0))?;
    if exists { conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)) } else { Ok(0) }
}

/// Brings a PostgreSQL database to [`MIGRATIONS_PG`]'s last version, each
/// file in a transaction of its own; refuses one newer than this build.
fn migrate_postgres(conn: &Connection) -> Result<(), AppError> {
    conn.lock_writer()?;
    let result = (|| {
        let known = MIGRATIONS_PG.len() as i64;
        let found = postgres_schema_version(conn)?;
        if found > known {
            return Err(AppError::Internal(format!(
                "the PostgreSQL database is at schema version {found}, newer than this server's {known}: \
                 run the anfang-server release that made it"
            )));
        }
        for (n, migration) in MIGRATIONS_PG.iter().enumerate().skip(found as usize) {
            let script = format!("BEGIN;\n{migration}\n;\nUPDATE schema_version SET version = {};\nCOMMIT;", n + 1);
            if let Err(e) = conn.execute_script(&script) {
                let _ = conn.execute_script("ROLLBACK");
                return Err(AppError::Internal(format!("PostgreSQL migration {}: {e}", n + 1)));
            }
        }
        Ok(())
    })();
    conn.unlock_writer()?;
    result
}

/// Runs `f` holding the writers' lock across every process that serves
/// the database: SQLite's file lock does this by itself (each write
/// transaction begins IMMEDIATE); PostgreSQL's writers take an advisory
/// lock, so that one writer at a time holds across instances as it does
/// on SQLite. The lock is given back (and a transaction `f` left open
/// rolled back) whatever `f` returns.
fn with_writer_lock<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T, AppError>,
) -> Result<T, AppError> {
    conn.lock_writer()?;
    // A panic in `f` must not leave the lock held by this session (every
    // other instance's writes would wait for ever): give it back, then go on
    // unwinding.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    let unlocked = conn.unlock_writer();
    let result = result.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    unlocked?;
    result
}

/// The sending side of [`Db::read_streamed`].
pub(crate) struct Batches<T> {
    tx: tokio::sync::mpsc::Sender<Result<Vec<T>, AppError>>,
}

impl<T> Batches<T> {
    /// Hands a batch to the consumer, waiting while two are unread. False
    /// when the consumer has gone (the client hung up): stop reading.
    pub(crate) fn send(&mut self, batch: Vec<T>) -> bool {
        self.tx.blocking_send(Ok(batch)).is_ok()
    }
}

/// A storage failure is the server's, never the caller's: logged in full,
/// answered 500. Lives here so no storage type appears above `db`.
impl From<sql::Error> for AppError {
    fn from(e: sql::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

/// The SQLite-only steps (opening, migrating, snapshots) fail the same way.
impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("sqlite: {e}"))
    }
}

/// A millisecond time from the server's clock as a timestamp.
pub(crate) fn ms_timestamp(ms: i64) -> Result<jiff::Timestamp, AppError> {
    jiff::Timestamp::from_millisecond(ms).map_err(AppError::internal)
}

/// A `TEXT` column parsed into a domain enum (a card, a review decision):
/// the `CHECK` constraints keep other values out, and one that got in
/// anyway is an error, not a silently defaulted card.
/// An on/off office setting (`office_settings`, stored as "1" or "0");
/// off when never set.
pub(in crate::db) fn office_flag(conn: &Connection, key: &str) -> Result<bool, AppError> {
    use sql::OptionalExtension;
    Ok(conn
        .query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|v| v == "1"))
}

pub(in crate::db) fn set_office_flag(conn: &Connection, key: &str, on: bool) -> Result<(), AppError> {
    conn.execute(
        "INSERT INTO office_settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, if on { "1" } else { "0" }],
    )?;
    Ok(())
}

pub(in crate::db) fn parsed<T, I>(r: &sql::Row<'_>, i: I) -> sql::Result<T>
where
    T: std::str::FromStr,
    I: sql::RowIndex,
{
    let text: String = r.get(i)?;
    text.parse().map_err(|_| sql::Error::conversion(format!("column {i:?}: unexpected value {text:?}")))
}

/// The environment variable with the PostgreSQL password, for a connection
/// string that carries none: a password in a URL ends up in shell history,
/// `ps` and unit files.
pub const DATABASE_PASSWORD_ENV: &str = "ANFANG_DATABASE_PASSWORD";

/// Parses a PostgreSQL connection string (`postgres://user@host:port/db`
/// or `host=… user=… dbname=…`), taking the password from
/// [`DATABASE_PASSWORD_ENV`] when the string has none. The error never
/// repeats the string, which may hold a password.
pub fn postgres_config(url: &str) -> Result<postgres::Config, AppError> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        AppError::BadRequest(format!(
            "the PostgreSQL connection string does not parse ({}); write postgres://USER@HOST:PORT/DATABASE, \
             with the password in {DATABASE_PASSWORD_ENV}",
            // The parser's message names the part it refused, not its value.
            e.to_string().trim_start_matches("invalid connection string: ")
        ))
    })?;
    if config.get_password().is_none()
        && let Ok(password) = std::env::var(DATABASE_PASSWORD_ENV)
    {
        config.password(password.trim_end_matches(['\n', '\r']));
    }
    // No JIT compilation in our sessions: the queue's and the bulletin's
    // queries are short, and above jit_above_cost PostgreSQL 15 spent 308 ms
    // compiling a 217 ms query (the review queue, pending in one unit, at
    // 100,000 findings). Appended, so options given in the URL still apply.
    let options = match config.get_options() {
        Some(given) => format!("{given} -c jit=off"),
        None => "-c jit=off".to_owned(),
    };
    config.options(&options);
    if config.get_dbname().is_none() {
        return Err(AppError::BadRequest(
            "the PostgreSQL connection string names no database: write postgres://USER@HOST:PORT/DATABASE".into(),
        ));
    }
    Ok(config)
}

/// A PostgreSQL connection string for people to read: user, host, port and
/// database, never the password.
pub fn describe_postgres(url: &str) -> String {
    let Ok(config) = postgres_config(url) else { return "PostgreSQL".into() };
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    format!("PostgreSQL {user}{host}:{port}/{}", config.get_dbname().unwrap_or("?"))
}

/// A refused or failed connection, said so that the person can act on it
/// (PostgreSQL's own reason: no such database, password, no server there).
pub(crate) fn cannot_connect(url: &str, e: sql::Error) -> AppError {
    AppError::BadRequest(format!(
        "cannot connect to {}: {e} (is the server running, the database made with createdb, the password in \
         {DATABASE_PASSWORD_ENV}?)",
        describe_postgres(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use rusqlite::Connection;

    /// The seam holds: outside `db/`, no production code (the part of each
    /// file before its `#[cfg(test)]`) names rusqlite or hands a closure to
    /// a connection; it calls domain methods, which a second backend can
    /// implement.
    #[test]
    fn no_code_outside_db_touches_a_connection() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src.clone()];
        let mut offenders = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path != src.join("db") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // A module declared `#[cfg(test)] mod name;` is all test.
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let dir = path.parent().unwrap();
                let parent = if dir == src { src.join("lib.rs") } else { dir.join("mod.rs") };
                let declared_for_tests =
                    std::fs::read_to_string(&parent).is_ok_and(|p| p.contains(&format!("#[cfg(test)]\nmod {stem};")));
                if declared_for_tests {
                    continue;
                }
                let production = text.split("#[cfg(test)]").next().unwrap_or("");
                for (n, line) in production.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    if ["rusqlite", ".read(|", ".read(move |", ".write(|", ".write(move |", "write_blocking("]
                        .iter()
                        .any(|p| code.contains(p))
                    {
                        offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "storage reached around the seam:\n{}", offenders.join("\n"));
    }

    fn migration_files(folder: &str) -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            // checks.sql (migrations-pg) is the schema's test, not a migration.
            .filter(|p| p.extension().is_some_and(|x| x == "sql") && !p.ends_with("checks.sql"))
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn migration_files_are_numbered_one_to_n_and_every_one_is_loaded_in_order() {
        migrations_are_numbered_and_loaded("migrations", MIGRATIONS);
        migrations_are_numbered_and_loaded("migrations-pg", super::MIGRATIONS_PG);
    }

    fn migrations_are_numbered_and_loaded(folder: &str, loaded: &[&str]) {
        let files = migration_files(folder);
        for (i, (name, _)) in files.iter().enumerate() {
            let number: usize =
                name.get(..4).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{name}: no NNNN_ prefix"));
            assert_eq!(number, i + 1, "{name}: migrations must be numbered 0001, 0002, … without gaps");
            assert_eq!(name.as_bytes().get(4), Some(&b'_'), "{name}: expected NNNN_name.sql");
        }
        assert_eq!(files.len(), loaded.len(), "every file in server/{folder}/ is loaded, and no other");
        for ((name, text), loaded) in files.iter().zip(loaded) {
            assert_eq!(text, loaded, "{name} is not the migration at its position in server/{folder}");
        }
    }

    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_database_upgraded_one_version_at_a_time_equals_a_fresh_one() {
        let mut upgraded = Connection::open_in_memory().unwrap();
        upgraded.pragma_update(None, "foreign_keys", "ON").unwrap();
        for n in 1..=MIGRATIONS.len() {
            anfang_core::store::schema::migrate(&mut upgraded, &MIGRATIONS[..n]).unwrap();
        }
        let mut fresh = Connection::open_in_memory().unwrap();
        fresh.pragma_update(None, "foreign_keys", "ON").unwrap();
        anfang_core::store::schema::migrate(&mut fresh, MIGRATIONS).unwrap();
        assert_eq!(schema_of(&upgraded), schema_of(&fresh));
        let version: usize = fresh.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
        assert_eq!(version, MIGRATIONS.len());
    }

    /// A streamed read goes at its consumer's pace with a few batches in
    /// memory, stops when the consumer goes, and holds one of only
    /// `STREAMS` turns: a third waits, then is told to come back.
    #[test]
    fn streamed_reads_follow_their_consumer_and_a_third_is_refused_when_two_hold_their_turns() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::open(&dir.path().join("t.sqlite3")).unwrap();
        runtime(8).block_on(async {
            let sent = Arc::new(AtomicUsize::new(0));
            let stream = |sent: Arc<AtomicUsize>| {
                let db = db.clone();
                async move {
                    db.read_streamed(move |_c, out| {
                        for i in 0..1_000u32 {
                            if !out.send(vec![i]) {
                                return Ok(());
                            }
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(())
                    })
                    .await
                }
            };
            let mut first = stream(sent.clone()).await.unwrap();
            assert_eq!(first.recv().await.unwrap().unwrap(), [0]);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            assert!(sent.load(Ordering::SeqCst) <= 4, "ahead of its reader by the channel's two and one in hand");
            let second = stream(Arc::new(AtomicUsize::new(0))).await.unwrap();

            let waited = std::time::Instant::now();
            let third = stream(Arc::new(AtomicUsize::new(0))).await.unwrap_err();
            assert_eq!(third.code(), anfang_core::error_code::ErrorCode::ExportBusy);
            assert_eq!(third.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
            assert!(waited.elapsed() >= super::STREAM_WAIT, "it waited for a turn first");

            // The consumer hangs up: the read stops and gives its turn back.
            drop(first);
            drop(second);
            let mut again = stream(Arc::new(AtomicUsize::new(0))).await.expect("a turn is free again");
            assert_eq!(again.recv().await.unwrap().unwrap(), [0]);
            assert!(sent.load(Ordering::SeqCst) < 10, "the first read stopped when its reader went");
        });
    }

    fn runtime(blocking_threads: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(blocking_threads)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_burst_of_reads_uses_at_most_readers_connections_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let (now, most) = (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
        runtime(64).block_on(async {
            let reads: Vec<_> = (0..40)
                .map(|_| {
                    let (db, now, most) = (db.clone(), now.clone(), most.clone());
                    tokio::spawn(async move {
                        db.read(move |_| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            now.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .await
                    })
                })
                .collect();
            for r in reads {
                r.await.unwrap().unwrap();
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(most <= super::READERS, "{most} reader connections were in use at once");
        assert!(db.inner.readers.lock().unwrap().len() <= super::READERS);
    }

    /// Two `serve` processes on one file each have their own writer. A
    /// write transaction that reads before it writes (the next bulletin
    /// number, the evidence chain's head, an upload's caps) must not fail
    /// because the other committed in between: the writer begins every
    /// transaction IMMEDIATE, taking the write lock (and waiting for it)
    /// before its first read.
    #[test]
    fn two_handles_on_one_file_read_then_write_without_busy_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let (a, b) = (super::Db::open(&path).unwrap(), super::Db::open(&path).unwrap());
        a.write_blocking(|c| Ok(c.execute_batch("CREATE TABLE counted (n INTEGER PRIMARY KEY)")?)).unwrap();
        runtime(8).block_on(async {
            let writes: Vec<_> = (0..200)
                .map(|i| {
                    let db = if i % 2 == 0 { a.clone() } else { b.clone() };
                    tokio::spawn(async move {
                        db.write(|c| {
                            let tx = c.transaction()?;
                            let next: i64 =
                                tx.query_row("SELECT coalesce(max(n), 0) + 1 FROM counted", [], |r| r.get(0))?;
                            tx.execute("INSERT INTO counted (n) VALUES (?1)", [next])?;
                            tx.commit()?;
                            Ok(())
                        })
                        .await
                    })
                })
                .collect();
            let mut failed = Vec::new();
            for w in writes {
                if let Err(e) = w.await.unwrap() {
                    failed.push(e.to_string());
                }
            }
            assert!(failed.is_empty(), "{} of 200 writes failed, first: {:?}", failed.len(), failed.first());
        });
        let (count, max): (i64, i64) = a
            .write_blocking(|c| {
                Ok(c.query_row("SELECT count(*), max(n) FROM counted", [], |r| Ok((r.get(0)?, r.get(1)?)))?)
            })
            .unwrap();
        assert_eq!((count, max), (200, 200), "numbers are gapless and unique across both writers");
    }

    #[test]
    fn writes_waiting_for_the_writer_hold_no_thread_so_a_read_is_not_stuck_behind_them() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let first_done = std::sync::Arc::new(AtomicBool::new(false));
        // Four blocking threads: one for the slow write, three spare.
        runtime(4).block_on(async {
            let (slow_db, done) = (db.clone(), first_done.clone());
            let slow = tokio::spawn(async move {
                slow_db
                    .write(move |_| {
                        std::thread::sleep(std::time::Duration::from_millis(800));
                        done.store(true, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
            });
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let queued: Vec<_> = (0..10)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move { db.write(|_| Ok(())).await })
                })
                .collect();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let read = db.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await.unwrap();
            assert_eq!(read, 1);
            assert!(
                !first_done.load(Ordering::SeqCst),
                "the read waited for the slow write: queued writes took the blocking threads"
            );
            slow.await.unwrap().unwrap();
            for q in queued {
                q.await.unwrap().unwrap();
            }
        });
    }
}
