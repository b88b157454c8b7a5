//! A real PostgreSQL for the tests: a cluster of its own (`initdb`) in a
//! temporary folder, its server on a free 127.0.0.1 port, trust
//! authentication for the one role `anfang`, gone with the test process.
//!
//! Debian's `postgresql-15` (`scripts/test` installs it where missing);
//! `ANFANG_PG_BIN` names another bin dir. PostgreSQL refuses to run as root,
//! and CI runs as root: there the cluster belongs to the `postgres` user the
//! package creates, and its programs run under that user's ids.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Whether this run keeps the servers' databases in PostgreSQL
/// (`ANFANG_TEST_DATABASE=postgres`): then every server the harness starts
/// gets `--database`, one database per data dir on one cluster, so the same
/// end-to-end tests run against both backends; `scripts/test` runs a set
/// of them that way.
pub fn database_in_postgres() -> bool {
    std::env::var("ANFANG_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The cluster of this test process, started on first use.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(Postgres::start)
}

/// With `ANFANG_TEST_DATABASE=postgres`: the `--database` of the servers on
/// `data_dir`, made on first use. Named after the data dir, so a restarted
/// server, a second instance and `verify` all find the same database.
pub fn database_for(data_dir: &Path) -> Option<String> {
    static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    if !database_in_postgres() {
        return None;
    }
    let pg = shared();
    let name = format!("d{}", &super::sha256_hex(data_dir.as_os_str().as_encoded_bytes())[..16]);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if !made.contains(&name) {
        pg.create_database(&name);
        made.push(name.clone());
    }
    Some(pg.url(&name))
}

pub const PG_MAJOR: u32 = 15;

/// A running PostgreSQL server with its own data folder.
pub struct Postgres {
    pub port: u16,
    pid: u32,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

/// Where `initdb`, `postgres` and `psql` are.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ANFANG_PG_BIN") {
        return PathBuf::from(dir);
    }
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{PG_MAJOR}/bin"));
    assert!(
        debian.join("initdb").is_file(),
        "the PostgreSQL tests need PostgreSQL {PG_MAJOR}: apt-get install postgresql-{PG_MAJOR} (scripts/test does \
         it), or set ANFANG_PG_BIN to a bin dir with initdb, postgres and psql"
    );
    debian
}

/// The uid and gid PostgreSQL's programs run under: the `postgres` user's
/// when this process is root, none (our own) otherwise.
fn run_as() -> Option<(u32, u32)> {
    // SAFETY: getuid has no preconditions; getpwnam returns a pointer into
    // static storage, read at once, before any other call could reuse it.
    unsafe {
        if libc::getuid() != 0 {
            return None;
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        assert!(!pw.is_null(), "running as root needs a `postgres` user for PostgreSQL (its package creates one)");
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

fn command(program: &Path, ids: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd.env("LC_ALL", "C.UTF-8");
    cmd
}

impl Postgres {
    /// Makes a cluster and starts its server; panics, saying why, if it
    /// cannot. Durability is off (`fsync`, full-page writes): a test's
    /// database dies with the test.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let ids = run_as();
        let dir = tempfile::Builder::new().prefix("anfang-pg-").tempdir().unwrap();
        let data = dir.path().join("data");
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let init = command(&bin.join("initdb"), ids)
            .args(["--auth=trust", "--username=anfang", "--encoding=UTF8", "--no-locale", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));

        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = command(&bin.join("postgres"), ids);
        server.arg("-D").arg(&data).arg("-p").arg(port.to_string()).arg("-k").arg(dir.path());
        for setting in ["listen_addresses=127.0.0.1", "fsync=off", "full_page_writes=off", "synchronous_commit=off"] {
            server.arg("-c").arg(setting);
        }
        let log = dir.path().join("postgres.log");
        let pid = super::child::for_life(server, &log);
        let pg = Postgres { port, pid, bin, _dir: dir };

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = pg.psql("postgres", &["-c", "select 1"]);
            if out.status.success() {
                return pg;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 30 s; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The connection URL of database `db`, as `serve --database` takes it.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://anfang@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database.
    pub fn create_database(&self, name: &str) {
        let out = self.psql("postgres", &["-c", &format!("create database \"{name}\"")]);
        assert!(out.status.success(), "create database {name}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs `psql` on database `db` with these arguments; stops at the first
    /// error (`ON_ERROR_STOP`), prints rows unaligned and bare (`-At`).
    pub fn psql(&self, db: &str, args: &[&str]) -> Output {
        command(&self.bin.join("psql"), None)
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "anfang", "-p"])
            .arg(self.port.to_string())
            .arg("-d")
            .arg(db)
            .args(args)
            .output()
            .expect("run psql")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Immediate shutdown: the postmaster stops its backends at once.
        // SAFETY: kill only sends a signal to the server this harness started.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGQUIT);
        }
    }
}
