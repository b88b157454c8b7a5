//! One SQL interface over the two engines the storage seam runs on:
//! embedded SQLite (rusqlite) and PostgreSQL (the `postgres` crate, on the
//! same blocking pool). Every method in `db/` is written once against this
//! module's [`Connection`]; its names and shapes follow rusqlite's
//! (`query_row`, `execute`, `prepare_cached` + `query_map`, `transaction`,
//! `optional`, `params!`), which is what the methods were written against
//! first.
//!
//! What differs between the engines is settled here, not in the methods:
//!
//! - **Placeholders.** Methods write SQLite's `?1`, `?2` and `:name`; for
//!   PostgreSQL they become `$1`, `$2` (named ones numbered in order of
//!   first use) once per statement text, outside quotes.
//! - **Types.** Values cross as SQLite's five storage classes ([`Value`]).
//!   Towards PostgreSQL a value takes the type the server inferred for its
//!   placeholder (an integer bound where `BIGINT` or `TEXT` is expected);
//!   from PostgreSQL, `BOOLEAN` reads as 0/1 and `NUMERIC` (what `sum` and
//!   `avg` of integers return) as an integer or a real, as SQLite gives.
//! - **A few spellings** PostgreSQL lacks are rewritten in the statement
//!   text (`INDEXED BY` hints dropped, `CAST(… AS REAL)` to double
//!   precision); SQLite's functions the methods call (`hex`, `randomblob`,
//!   `unixepoch`, two-argument `max`/`min`, …) exist in the PostgreSQL
//!   schema as functions of the same name (`migrations-pg/0002`).
//! - **A parameter's first use fixes its type** on PostgreSQL, which
//!   infers it from the statement: an optional filter is written
//!   `(unit_id = ?1 OR ?1 IS NULL)`, not the other way round, and a
//!   parameter used only in `IS NULL` is cast (`CAST(?1 AS TEXT)`).
//! - **One writer at a time.** SQLite has one writer per file; the methods'
//!   read-then-write steps (the next bulletin number, the evidence chain's
//!   head, exactly-once pushes) rely on it. On PostgreSQL, [`super::Db`]'s
//!   writer holds a session advisory lock ([`WRITER_LOCK`]) for the whole of
//!   each write, so writers on every instance take turns exactly as the
//!   processes on one SQLite file do; the unique keys stay as the backstop.
//!   Reads never take it.
//! - **Errors.** A trigger's refusal, a unique or check violation, a missing
//!   row and a failed conversion keep their kind ([`ErrorKind`]) across both.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The advisory lock key PostgreSQL writers hold while they write (any
/// fixed number; this one spells "anfang" in ASCII).
pub const WRITER_LOCK: i64 = 0x0061_6e66_6761_6e67;

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `query_row` found no row (what `optional()` turns into `None`).
    NoRows,
    /// A constraint refused the write: a trigger's refusal, a unique key,
    /// a check, a foreign key.
    Constraint,
    /// A stored value did not convert to the type asked for.
    Conversion,
    /// Anything else: the engine, the connection, the statement.
    Other,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// A stored value that is not what the column should hold.
    pub fn conversion(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conversion, message)
    }

    pub fn is_constraint(&self) -> bool {
        self.kind == ErrorKind::Constraint
    }

    /// The engine's message (for a trigger's refusal, the trigger's text).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        let kind = match &e {
            rusqlite::Error::QueryReturnedNoRows => ErrorKind::NoRows,
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                ErrorKind::Constraint
            }
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => ErrorKind::Conversion,
            _ => ErrorKind::Other,
        };
        let message = match &e {
            // The trigger's or constraint's own words, as PostgreSQL's
            // message is.
            rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
            other => other.to_string(),
        };
        Self { kind, message }
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                // Class 23 is "integrity constraint violation"; the
                // schema's triggers raise 23000 so that refusals read the
                // same as SQLite's RAISE(ABORT, …).
                let kind = if db.code().code().starts_with("23") { ErrorKind::Constraint } else { ErrorKind::Other };
                Self { kind, message: db.message().to_owned() }
            }
            None => Self { kind: ErrorKind::Other, message: format!("postgres: {e}") },
        }
    }
}

/// `query_row(…).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind == ErrorKind::NoRows => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// Values

/// A value as SQLite stores it: what crosses between the methods and
/// either engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A borrowed [`Value`], what a row hands to [`FromValue`].
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl Value {
    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

impl ValueRef<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Integer(_) => "INTEGER",
            ValueRef::Real(_) => "REAL",
            ValueRef::Text(_) => "TEXT",
            ValueRef::Blob(_) => "BLOB",
        }
    }
}

/// A Rust value a statement can bind.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// rusqlite's name for [`ToValue`], kept so queries read as they did.
pub use ToValue as ToSql;

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: ValueRef<'_>) -> Result<Self>;
}

fn wrong_type<T>(v: ValueRef<'_>, want: &str) -> Result<T> {
    Err(Error::conversion(format!("expected {want}, found {}", v.type_name())))
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                match i64::try_from(*self) {
                    Ok(i) => Value::Integer(i),
                    // Only a u64 or usize past i64::MAX: SQLite could not
                    // store it either.
                    Err(_) => Value::Text(self.to_string()),
                }
            }
        }
        impl FromValue for $t {
            fn from_value(v: ValueRef<'_>) -> Result<Self> {
                match v {
                    ValueRef::Integer(i) => <$t>::try_from(i)
                        .map_err(|_| Error::conversion(format!("{i} is out of range for {}", stringify!($t)))),
                    other => wrong_type(other, "INTEGER"),
                }
            }
        }
    )*};
}
integer_values!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}
impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Integer(i) => Ok(i != 0),
            other => wrong_type(other, "INTEGER (a boolean)"),
        }
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for f32 {
    fn to_value(&self) -> Value {
        Value::Real(f64::from(*self))
    }
}
impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Real(f) => Ok(f),
            // SQLite hands back an integral REAL as an INTEGER at times.
            ValueRef::Integer(i) => Ok(i as f64),
            other => wrong_type(other, "REAL"),
        }
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Text(s) => Ok(s.to_owned()),
            other => wrong_type(other, "TEXT"),
        }
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            other => wrong_type(other, "BLOB"),
        }
    }
}
impl<const N: usize> FromValue for [u8; N] {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Blob(b) => {
                b.try_into().map_err(|_| Error::conversion(format!("expected a blob of {N} bytes, found {}", b.len())))
            }
            other => wrong_type(other, "BLOB"),
        }
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl FromValue for Value {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        Ok(match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        })
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> Result<Self> {
        match v {
            ValueRef::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

// ---------------------------------------------------------------------------
// Parameters

/// What a statement is bound with: positional (`?1`, …) or named (`:id`).
pub enum Bound {
    Positional(Vec<Value>),
    Named(Vec<(String, Value)>),
}

/// Everything a statement can be bound with (as in rusqlite: `[]`, an
/// array, `params![…]`, a slice of named pairs, [`params_from_iter`]).
pub trait Params {
    fn bind(self) -> Bound;
}

impl Params for [&(dyn ToValue + Send + Sync); 0] {
    fn bind(self) -> Bound {
        Bound::Positional(Vec::new())
    }
}
impl Params for () {
    fn bind(self) -> Bound {
        Bound::Positional(Vec::new())
    }
}
impl Params for &[&dyn ToValue] {
    fn bind(self) -> Bound {
        Bound::Positional(self.iter().map(|v| v.to_value()).collect())
    }
}
impl Params for &[(&str, &dyn ToValue)] {
    fn bind(self) -> Bound {
        Bound::Named(self.iter().map(|(k, v)| ((*k).to_owned(), v.to_value())).collect())
    }
}
impl<const N: usize> Params for &[(&str, &dyn ToValue); N] {
    fn bind(self) -> Bound {
        self.as_slice().bind()
    }
}
macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn bind(self) -> Bound {
                Bound::Positional(self.iter().map(ToValue::to_value).collect())
            }
        }
        impl<T: ToValue> Params for &[T; $n] {
            fn bind(self) -> Bound {
                Bound::Positional(self.iter().map(ToValue::to_value).collect())
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);

/// Parameters from an iterator (a query whose filters vary).
pub struct ParamsFromIter(Vec<Value>);

pub fn params_from_iter<I>(iter: I) -> ParamsFromIter
where
    I: IntoIterator,
    I::Item: ToValue,
{
    ParamsFromIter(iter.into_iter().map(|v| v.to_value()).collect())
}

impl Params for ParamsFromIter {
    fn bind(self) -> Bound {
        Bound::Positional(self.0)
    }
}

/// Positional parameters of any types: `params![id, name, now_ms]`.
#[macro_export]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::db::sql::ToValue] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::sql::ToValue),+] as &[&dyn $crate::db::sql::ToValue] };
}
pub use crate::sql_params as params;

// ---------------------------------------------------------------------------
// Rows

/// One row of a result, read by 0-based column index or by column name.
pub struct Row<'a>(RowInner<'a>);

enum RowInner<'a> {
    Lite(&'a rusqlite::Row<'a>),
    Pg { values: &'a [Value], names: &'a [String] },
}

/// Which column of a row: its 0-based position or its name.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    At(usize),
    Named(&'a str),
}

/// A column index: a number, or a name (`AS name` in the query).
pub trait RowIndex: Copy + fmt::Debug {
    fn column(&self) -> Column<'_>;
}
impl RowIndex for usize {
    fn column(&self) -> Column<'_> {
        Column::At(*self)
    }
}
impl RowIndex for i32 {
    fn column(&self) -> Column<'_> {
        Column::At(usize::try_from(*self).unwrap_or(usize::MAX))
    }
}
impl RowIndex for &str {
    fn column(&self) -> Column<'_> {
        Column::Named(self)
    }
}

impl Row<'_> {
    pub fn get<I: RowIndex, T: FromValue>(&self, idx: I) -> Result<T> {
        let read = match &self.0 {
            RowInner::Lite(r) => {
                let v = match idx.column() {
                    Column::At(i) => r.get_ref(i)?,
                    Column::Named(n) => r.get_ref(n)?,
                };
                T::from_value(match v {
                    rusqlite::types::ValueRef::Null => ValueRef::Null,
                    rusqlite::types::ValueRef::Integer(i) => ValueRef::Integer(i),
                    rusqlite::types::ValueRef::Real(f) => ValueRef::Real(f),
                    rusqlite::types::ValueRef::Text(t) => ValueRef::Text(
                        std::str::from_utf8(t).map_err(|e| Error::conversion(format!("text is not UTF-8: {e}")))?,
                    ),
                    rusqlite::types::ValueRef::Blob(b) => ValueRef::Blob(b),
                })
            }
            RowInner::Pg { values, names } => {
                // PostgreSQL folds unquoted names to lower case; SQLite keeps them.
                let i = match idx.column() {
                    Column::At(i) => Some(i),
                    Column::Named(n) => names.iter().position(|c| c.eq_ignore_ascii_case(n)),
                };
                match i.and_then(|i| values.get(i)) {
                    Some(v) => T::from_value(v.as_ref()),
                    None => Err(Error::new(ErrorKind::Other, format!("no column {idx:?}"))),
                }
            }
        };
        read.map_err(|e| match e.kind {
            ErrorKind::Conversion => Error::conversion(format!("column {idx:?}: {e}")),
            _ => e,
        })
    }
}

// ---------------------------------------------------------------------------
// Connections

/// A connection to either engine. Owned by [`super::Db`]'s pools and lent
/// to the methods' closures.
pub struct Connection(Inner);

enum Inner {
    Lite(rusqlite::Connection),
    Pg(Box<RefCell<Pg>>),
}

struct Pg {
    client: PgClient,
    /// Prepared statements by their SQLite-dialect text.
    prepared: HashMap<String, (postgres::Statement, Arc<Translated>)>,
    /// Whether an explicit transaction is open (`BEGIN` sent).
    in_transaction: bool,
    /// Writers begin read-write transactions; readers read-only ones.
    writer: bool,
}

/// The blocking `postgres::Client` drives a runtime of its own, which may
/// neither start nor be dropped on a thread that runs async tasks. The
/// methods use it on tokio's blocking pool, where both are allowed; a
/// connection opened or dropped elsewhere (a server starting inside
/// `#[tokio::main]`, a test's state going out of scope) does it on a thread
/// of its own.
struct PgClient(Option<postgres::Client>);

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("a PostgreSQL client until dropped")
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("a PostgreSQL client until dropped")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` here, or on a thread of its own when this thread is one of an
/// async runtime's (see [`PgClient`]).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
}

/// How a transaction begins (rusqlite's names). On PostgreSQL every
/// writer's transaction already runs under [`WRITER_LOCK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBehavior {
    Deferred,
    Immediate,
    Exclusive,
}

impl Connection {
    pub fn from_sqlite(conn: rusqlite::Connection) -> Self {
        Self(Inner::Lite(conn))
    }

    /// A PostgreSQL connection; `writer` marks the one that writes
    /// (read-write transactions) against the readers (read-only ones).
    pub fn connect_postgres(config: &postgres::Config, writer: bool) -> Result<Self> {
        let config = config.clone();
        let client = PgClient(Some(off_runtime(move || config.connect(postgres::NoTls))?));
        Ok(Self(Inner::Pg(Box::new(RefCell::new(Pg {
            client,
            prepared: HashMap::new(),
            in_transaction: false,
            writer,
        })))))
    }

    pub fn engine(&self) -> Engine {
        match self.0 {
            Inner::Lite(_) => Engine::Sqlite,
            Inner::Pg(_) => Engine::Postgres,
        }
    }

    /// Runs statements without parameters, separated by `;`.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.0 {
            Inner::Lite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(pg) => Ok(pg.borrow_mut().client.batch_execute(&translate(sql).sql)?),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_cached(sql)
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement(match &self.0 {
            Inner::Lite(c) => StatementInner::Lite(c.prepare_cached(sql)?),
            Inner::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                if !pg.prepared.contains_key(sql) {
                    let translated = Arc::new(translate(sql));
                    let stmt = pg.client.prepare(&translated.sql)?;
                    pg.prepared.insert(sql.to_owned(), (stmt, translated));
                }
                let (stmt, translated) = pg.prepared[sql].clone();
                StatementInner::Pg { conn: self, stmt, translated }
            }
        }))
    }

    /// The id the last insert on this connection was given (PostgreSQL:
    /// the last value of the session's last identity sequence).
    pub fn last_insert_rowid(&self) -> i64 {
        match &self.0 {
            Inner::Lite(c) => c.last_insert_rowid(),
            Inner::Pg(_) => self.query_row("SELECT lastval()", [], |r| r.get(0)).unwrap_or(0),
        }
    }

    /// Begins a transaction, rolled back when dropped uncommitted. SQLite's
    /// writer begins it IMMEDIATE (set on the connection); PostgreSQL's
    /// writer is already under [`WRITER_LOCK`], and its readers' are
    /// read-only snapshots (REPEATABLE READ).
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        match &self.0 {
            Inner::Lite(c) => Ok(Transaction { conn: self, lite: Some(c.unchecked_transaction()?) }),
            Inner::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                if pg.in_transaction {
                    return Err(Error::new(ErrorKind::Other, "a transaction is already open on this connection"));
                }
                let begin = if pg.writer { "BEGIN" } else { "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" };
                pg.client.batch_execute(begin)?;
                pg.in_transaction = true;
                Ok(Transaction { conn: self, lite: None })
            }
        }
    }

    pub fn transaction_with_behavior(&self, behavior: TransactionBehavior) -> Result<Transaction<'_>> {
        match (&self.0, behavior) {
            (Inner::Lite(c), TransactionBehavior::Immediate) => {
                let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
                Ok(Transaction { conn: self, lite: Some(tx) })
            }
            _ => self.transaction(),
        }
    }

    pub fn unchecked_transaction(&self) -> Result<Transaction<'_>> {
        self.transaction()
    }

    /// Takes the writers' advisory lock for this session (PostgreSQL only;
    /// SQLite's file lock does the same job).
    pub(crate) fn lock_writer(&self) -> Result<()> {
        if let Inner::Pg(pg) = &self.0 {
            pg.borrow_mut().client.execute("SELECT pg_advisory_lock($1)", &[&WRITER_LOCK])?;
        }
        Ok(())
    }

    /// Gives the writers' lock back, rolling back a transaction a panic or
    /// an early return left open.
    pub(crate) fn unlock_writer(&self) -> Result<()> {
        if let Inner::Pg(pg) = &self.0 {
            let mut pg = pg.borrow_mut();
            if pg.in_transaction {
                pg.client.batch_execute("ROLLBACK")?;
                pg.in_transaction = false;
            }
            pg.client.execute("SELECT pg_advisory_unlock($1)", &[&WRITER_LOCK])?;
        }
        Ok(())
    }

    /// Runs a script as it is written, untranslated: PostgreSQL's own
    /// migrations (their function bodies are PostgreSQL's dialect already).
    pub(crate) fn execute_script(&self, sql: &str) -> Result<()> {
        match &self.0 {
            Inner::Lite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(pg) => Ok(pg.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// False once a PostgreSQL connection has been closed (the server went
    /// away): the pools drop such a connection instead of reusing it.
    pub fn is_usable(&self) -> bool {
        match &self.0 {
            Inner::Lite(_) => true,
            Inner::Pg(pg) => pg.try_borrow().map(|pg| !pg.client.is_closed() && !pg.in_transaction).unwrap_or(false),
        }
    }
}

/// An open transaction; derefs to its [`Connection`].
pub struct Transaction<'c> {
    conn: &'c Connection,
    lite: Option<rusqlite::Transaction<'c>>,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        match self.lite.take() {
            Some(tx) => Ok(tx.commit()?),
            None => self.end("COMMIT"),
        }
    }

    fn end(&mut self, how: &str) -> Result<()> {
        if let Inner::Pg(pg) = &self.conn.0 {
            let mut pg = pg.borrow_mut();
            if pg.in_transaction {
                pg.in_transaction = false;
                pg.client.batch_execute(how)?;
            }
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // rusqlite's own transaction rolls back when dropped.
        if self.lite.is_none() {
            let _ = self.end("ROLLBACK");
        }
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

// ---------------------------------------------------------------------------
// Statements

pub struct Statement<'c>(StatementInner<'c>);

enum StatementInner<'c> {
    Lite(rusqlite::CachedStatement<'c>),
    Pg { conn: &'c Connection, stmt: postgres::Statement, translated: Arc<Translated> },
}

fn bind_lite(stmt: &mut rusqlite::Statement<'_>, bound: Bound) -> Result<()> {
    stmt.clear_bindings();
    match bound {
        Bound::Positional(values) => {
            for (i, v) in values.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, v)?;
            }
        }
        Bound::Named(pairs) => {
            for (name, v) in &pairs {
                let i = stmt
                    .parameter_index(name)?
                    .ok_or_else(|| Error::new(ErrorKind::Other, format!("no parameter {name} in the statement")))?;
                stmt.raw_bind_parameter(i, v)?;
            }
        }
    }
    Ok(())
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as R};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => R::Null,
            Value::Integer(i) => R::Integer(*i),
            Value::Real(f) => R::Real(*f),
            Value::Text(s) => R::Text(s.as_bytes()),
            Value::Blob(b) => R::Blob(b),
        }))
    }
}

impl<'c> Statement<'c> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        match &mut self.0 {
            StatementInner::Lite(stmt) => {
                bind_lite(stmt, params.bind())?;
                Ok(stmt.raw_execute()?)
            }
            StatementInner::Pg { conn, stmt, translated } => {
                let values = translated.order(params.bind())?;
                let mut pg = conn.pg().borrow_mut();
                let changed = pg.client.execute(stmt, &pg_params(&values))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(Error::new(ErrorKind::NoRows, "query returned no rows")),
        }
    }

    /// The rows of the statement. On PostgreSQL they are read whole when
    /// the query runs.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        match &mut self.0 {
            StatementInner::Lite(stmt) => {
                bind_lite(stmt, params.bind())?;
                Ok(Rows(RowsInner::Lite(stmt.raw_query())))
            }
            StatementInner::Pg { conn, stmt, translated } => {
                let values = translated.order(params.bind())?;
                let rows = conn.pg().borrow_mut().client.query(&*stmt, &pg_params(&values))?;
                let rows = rows.iter().map(pg_row).collect::<Result<Vec<_>>>()?;
                let names = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
                Ok(Rows(RowsInner::Pg { rows: rows.into_iter(), current: None, names }))
            }
        }
    }

    pub fn query_map<T, P, F>(&mut self, params: P, f: F) -> Result<MappedRows<'_, F>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        Ok(MappedRows { rows: self.query(params)?, f })
    }

    /// Calls `f` on each row as it is read, until `f` answers false. On
    /// PostgreSQL the rows stream from the server as `f` takes them (the
    /// socket is read only as fast as `f` goes), where [`Statement::query`]
    /// reads them whole first: for results too large to hold, such as a
    /// year's export.
    pub fn for_each_row<P: Params>(&mut self, params: P, mut f: impl FnMut(&Row<'_>) -> Result<bool>) -> Result<()> {
        match &mut self.0 {
            StatementInner::Lite(stmt) => {
                bind_lite(stmt, params.bind())?;
                let mut rows = stmt.raw_query();
                while let Some(row) = rows.next()? {
                    if !f(&Row(RowInner::Lite(row)))? {
                        break;
                    }
                }
                Ok(())
            }
            StatementInner::Pg { conn, stmt, translated } => {
                use postgres::fallible_iterator::FallibleIterator;
                let values = translated.order(params.bind())?;
                let names: Vec<String> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
                let mut pg = conn.pg().borrow_mut();
                let mut rows = pg.client.query_raw(&*stmt, pg_params(&values))?;
                while let Some(row) = rows.next()? {
                    let values = pg_row(&row)?;
                    if !f(&Row(RowInner::Pg { values: &values, names: &names }))? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Connection {
    fn pg(&self) -> &RefCell<Pg> {
        match &self.0 {
            Inner::Pg(pg) => pg,
            Inner::Lite(_) => unreachable!("a PostgreSQL statement on a SQLite connection"),
        }
    }
}

pub struct Rows<'s>(RowsInner<'s>);

enum RowsInner<'s> {
    Lite(rusqlite::Rows<'s>),
    Pg { rows: std::vec::IntoIter<Vec<Value>>, current: Option<Vec<Value>>, names: Vec<String> },
}

impl Rows<'_> {
    #[allow(clippy::should_implement_trait)] // lends each row, as rusqlite's does
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match &mut self.0 {
            RowsInner::Lite(rows) => Ok(rows.next()?.map(|r| Row(RowInner::Lite(r)))),
            RowsInner::Pg { rows, current, names } => {
                *current = rows.next();
                Ok(current.as_deref().map(|values| Row(RowInner::Pg { values, names })))
            }
        }
    }
}

/// The rows of [`Statement::query_map`], each mapped as it is read.
pub struct MappedRows<'s, F> {
    rows: Rows<'s>,
    f: F,
}

impl<T, F> Iterator for MappedRows<'_, F>
where
    F: FnMut(&Row<'_>) -> Result<T>,
{
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let f = &mut self.f;
        match self.rows.next() {
            Ok(Some(row)) => Some(f(&row)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL: statement text, parameters and results

/// A statement's text in PostgreSQL's dialect, with where each placeholder
/// takes its value from.
#[derive(Debug)]
pub struct Translated {
    pub sql: String,
    /// Named placeholders in the order they were numbered ($1, $2, …);
    /// empty for a statement with positional ones.
    names: Vec<String>,
}

impl Translated {
    fn order(&self, bound: Bound) -> Result<Vec<Value>> {
        match bound {
            Bound::Positional(values) => Ok(values),
            Bound::Named(pairs) => {
                let mut by_name: HashMap<String, Value> = pairs.into_iter().collect();
                self.names
                    .iter()
                    .map(|n| {
                        by_name
                            .remove(n)
                            .ok_or_else(|| Error::new(ErrorKind::Other, format!("no value for parameter {n}")))
                    })
                    .collect()
            }
        }
    }
}

/// SQLite's dialect as the methods write it, into PostgreSQL's: `?N` and
/// `:name` placeholders to `$N`, `INDEXED BY` hints dropped, `CAST(… AS
/// REAL)` to double precision and `CAST(… AS INTEGER)` to bigint. Quoted text and identifiers are copied as
/// they are.
pub fn translate(sql: &str) -> Translated {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut names: Vec<String> = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut highest = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                // Copy the quoted run, doubled quotes included.
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == c {
                        if chars.get(i + 1) == Some(&c) {
                            out.push(c);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '?' => {
                // `?N` keeps its number; a bare `?` is the one after the
                // highest so far, as SQLite numbers it.
                i += 1;
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let n = match chars[start..i].iter().collect::<String>().parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => highest + 1,
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            ':' if chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == '_')
                && (i == 0 || chars[i - 1] != ':') =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let n = match names.iter().position(|x| *x == name) {
                    Some(p) => p + 1,
                    None => {
                        names.push(name);
                        names.len()
                    }
                };
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Translated { sql: rewrite_words(&out), names }
}

/// The few spellings PostgreSQL does not take, outside quotes (the
/// statements these apply to have no quoted text that contains them).
fn rewrite_words(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut words = sql.split_inclusive(char::is_whitespace).peekable();
    while let Some(w) = words.next() {
        if w.trim().eq_ignore_ascii_case("INDEXED") && words.peek().is_some_and(|n| n.trim().eq_ignore_ascii_case("BY"))
        {
            words.next();
            words.next(); // the index's name
            continue;
        }
        // SQLite's `a IS b` / `a IS NOT b` compare with NULLs as values.
        if w.trim().eq_ignore_ascii_case("IS") {
            let keyword =
                |w: &str| ["NULL", "DISTINCT", "TRUE", "FALSE"].iter().any(|k| w.trim().eq_ignore_ascii_case(k));
            let next = words.peek().copied().unwrap_or("");
            if next.trim().eq_ignore_ascii_case("NOT") {
                words.next();
                match words.peek() {
                    Some(after) if !keyword(after) => out.push_str(&w.replacen("IS", "IS DISTINCT FROM", 1)),
                    _ => {
                        out.push_str(w);
                        out.push_str(next);
                    }
                }
                continue;
            }
            if !next.is_empty() && !keyword(next) {
                out.push_str(&w.replacen("IS", "IS NOT DISTINCT FROM", 1));
                continue;
            }
        }
        out.push_str(w);
    }
    // SQLite's INTEGER is 64 bits; PostgreSQL's is 32 (a millisecond time
    // overflows it).
    out.replace(" AS REAL)", " AS DOUBLE PRECISION)")
        .replace(" AS real)", " AS DOUBLE PRECISION)")
        .replace(" AS INTEGER)", " AS BIGINT)")
}

fn pg_params(values: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::NUMERIC => numeric::encode_integer(*i, out),
                _ => i.to_string().to_sql(&Type::TEXT, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => f.to_string().to_sql(&Type::TEXT, out),
            },
            Value::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(&Type::TEXT, out),
            },
            Value::Blob(b) => b.as_slice().to_sql(&Type::BYTEA, out),
        }
    }

    fn accepts(_ty: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A PostgreSQL row as SQLite's storage classes.
fn pg_row(row: &postgres::Row) -> Result<Vec<Value>> {
    (0..row.len()).map(|i| Ok(row.try_get::<_, PgValue>(i)?.0)).collect()
}

struct PgValue(Value);

impl<'a> postgres::types::FromSql<'a> for PgValue {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        Ok(PgValue(match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric::decode(raw)?,
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            Type::VOID => Value::Null,
            _ => Value::Text(String::from_utf8(raw.to_vec())?),
        }))
    }

    fn from_sql_null(
        _ty: &postgres::types::Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(_ty: &postgres::types::Type) -> bool {
        true
    }
}

/// PostgreSQL's binary NUMERIC: what `sum` and `avg` of BIGINT columns
/// return. Read as an integer when it has no fraction (as SQLite's `sum`
/// of integers is), as a real otherwise.
mod numeric {
    use super::Value;
    type BoxError = Box<dyn std::error::Error + Sync + Send>;

    pub fn decode(raw: &[u8]) -> Result<Value, BoxError> {
        let word = |i: usize| -> Result<u16, BoxError> {
            raw.get(i * 2..i * 2 + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(|| "short numeric".into())
        };
        let (ndigits, weight, sign, dscale) = (word(0)? as usize, word(1)? as i16, word(2)?, word(3)?);
        if sign == 0xC000 {
            return Ok(Value::Real(f64::NAN));
        }
        let mut int: i128 = 0;
        let mut frac = 0f64;
        for d in 0..ndigits {
            let digit = i128::from(word(4 + d)?);
            let power = i32::from(weight) - d as i32;
            if power >= 0 {
                int = int.saturating_add(digit.saturating_mul(10_000i128.saturating_pow(power as u32)));
            } else {
                frac += digit as f64 * 10_000f64.powi(power);
            }
        }
        let negative = sign == 0x4000;
        if dscale == 0 && frac == 0.0 {
            let int = if negative { -int } else { int };
            return Ok(i64::try_from(int).map(Value::Integer).unwrap_or(Value::Real(int as f64)));
        }
        let v = int as f64 + frac;
        Ok(Value::Real(if negative { -v } else { v }))
    }

    pub fn encode_integer(i: i64, out: &mut bytes::BytesMut) -> Result<postgres::types::IsNull, BoxError> {
        use bytes::BufMut;
        let negative = i < 0;
        let mut n = i.unsigned_abs();
        let mut digits = Vec::new();
        while n > 0 {
            digits.push((n % 10_000) as u16);
            n /= 10_000;
        }
        digits.reverse();
        out.put_u16(digits.len() as u16);
        out.put_i16(digits.len().saturating_sub(1) as i16);
        out.put_u16(if negative { 0x4000 } else { 0 });
        out.put_u16(0);
        for d in digits {
            out.put_u16(d);
        }
        Ok(postgres::types::IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_outside_quotes_and_named_ones_are_numbered_in_order() {
        let t = translate("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12 -- ?3\n AND c = 'it''s ?'");
        assert_eq!(t.sql, "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12 -- ?3\n AND c = 'it''s ?'");
        let t = translate("SELECT * FROM e WHERE id = :id AND (:q = '' OR x = :q) AND y::text = ':no'");
        assert_eq!(t.sql, "SELECT * FROM e WHERE id = $1 AND ($2 = '' OR x = $2) AND y::text = ':no'");
        assert_eq!(t.names, [":id", ":q"]);
        let ordered = t
            .order(Bound::Named(vec![(":q".into(), Value::Text("x".into())), (":id".into(), Value::Integer(7))]))
            .unwrap();
        assert_eq!(ordered, [Value::Integer(7), Value::Text("x".into())]);
    }

    #[test]
    fn bare_placeholders_are_numbered_after_the_highest_so_far_as_sqlite_does() {
        let t = translate("SELECT 1 WHERE a >= ? AND b < ? AND c = ?5 AND d = ?");
        assert_eq!(t.sql, "SELECT 1 WHERE a >= $1 AND b < $2 AND c = $5 AND d = $6");
    }

    #[test]
    fn is_and_is_not_between_values_become_distinctness_and_null_tests_stay() {
        let t = translate(
            "SELECT 1 WHERE a IS NOT ?2 AND b IS ?1 AND c IS NOT NULL AND d IS NULL AND e IS NOT DISTINCT FROM f",
        );
        assert_eq!(
            t.sql,
            "SELECT 1 WHERE a IS DISTINCT FROM $2 AND b IS NOT DISTINCT FROM $1 AND c IS NOT NULL AND d IS NULL \
             AND e IS NOT DISTINCT FROM f"
        );
    }

    #[test]
    fn index_hints_and_real_casts_are_spelled_for_postgres() {
        let t =
            translate("SELECT CAST(n AS REAL), CAST(v AS INTEGER) FROM cases INDEXED BY cases_by_finding WHERE a = ?1");
        assert_eq!(t.sql, "SELECT CAST(n AS DOUBLE PRECISION), CAST(v AS BIGINT) FROM cases WHERE a = $1");
    }

    #[test]
    fn numerics_read_as_integers_when_whole_and_reals_otherwise() {
        let mut buf = bytes::BytesMut::new();
        numeric::encode_integer(-123_456_789, &mut buf).unwrap();
        assert_eq!(numeric::decode(&buf).unwrap(), Value::Integer(-123_456_789));
        // 12.5: one digit before the point (12), one after (5000), scale 1.
        let raw = [0u8, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
        assert_eq!(numeric::decode(&raw).unwrap(), Value::Real(12.5));
        let zero = [0u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(numeric::decode(&zero).unwrap(), Value::Integer(0));
    }

    #[test]
    fn a_sqlite_connection_binds_reads_and_rolls_back_an_uncommitted_transaction() {
        let conn = Connection::from_sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, b BLOB)").unwrap();
        let n =
            conn.execute("INSERT INTO t (name, n, b) VALUES (?1, ?2, ?3)", params!["一", 5u32, vec![1u8, 2]]).unwrap();
        assert_eq!(n, 1);
        assert_eq!(conn.last_insert_rowid(), 1);
        {
            let tx = conn.transaction().unwrap();
            tx.execute("INSERT INTO t (name) VALUES (?1)", ["gone"]).unwrap();
        }
        let names: Vec<String> = conn
            .prepare("SELECT name FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(names, ["一"]);
        let missing = conn.query_row("SELECT n FROM t WHERE id = 9", [], |r| r.get::<_, i64>(0)).optional().unwrap();
        assert_eq!(missing, None);
        let wrong = conn.query_row("SELECT name FROM t", [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert_eq!(wrong.kind, ErrorKind::Conversion);
        let named: i64 = conn
            .query_row("SELECT n FROM t WHERE name = :name", &[(":name", &"一" as &dyn ToValue)], |r| r.get(0))
            .unwrap();
        assert_eq!(named, 5);
        let by_name: (String, i64) =
            conn.query_row("SELECT name, n AS count FROM t", [], |r| Ok((r.get("name")?, r.get("count")?))).unwrap();
        assert_eq!(by_name, ("一".to_owned(), 5));
        assert!(conn.query_row("SELECT name FROM t", [], |r| r.get::<_, String>("nope")).is_err());
    }
}
