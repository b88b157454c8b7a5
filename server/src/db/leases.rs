//! Leases on the background jobs that must run on one instance at a time
//! (migration 0019; the keeper that uses them is `app::jobs`).
//!
//! Taking and renewing are one statement, an upsert that only overwrites a
//! row the caller already holds or one that has run out, so two instances
//! racing for a free lease cannot both win: the database orders their
//! writes, and the loser's update matches no row. The same statement works
//! in PostgreSQL (`ON CONFLICT … DO UPDATE … WHERE`), with `now()` for the
//! clock.
//!
//! Unlike every other method here these read the **database's** clock, not
//! a `now` passed in: a lease is about which process is alive, not about
//! domain time, and instances whose clocks differ (or a test whose server
//! clock is stopped) must still agree on when a lease ran out.

use super::{Db, Source};
use crate::error::AppError;
use std::time::Duration;

/// Locks across instances held at once by one instance, each on a
/// connection of its own: a bound, so that a thousand uploads in flight
/// never ask PostgreSQL for a thousand connections (the rest queue here).
/// Each is held for one chunk's or one photo's store, milliseconds.
pub(super) const LOCKERS: usize = 16;

/// A lock that every instance on this database respects, until dropped:
/// a PostgreSQL session advisory lock, on a connection of its own, so a
/// holder that dies (SIGKILL, a lost machine) lets go with its connection.
pub struct InstanceLock {
    db: Db,
    name: String,
    conn: Option<super::sql::Connection>,
    _turn: tokio::sync::OwnedSemaphorePermit,
}

/// The advisory lock's first key: photo locks apart from the writers' lock
/// (which uses the one-`bigint` form, a key space of its own).
const PHOTO_LOCKS: i32 = 7;

impl Db {
    /// Takes the lock named `name` across every instance on this database
    /// and waits for it. `None` on SQLite: its instances share one machine,
    /// where the caller's file lock (`photos::ShaLocks`) does the job.
    /// Names are hashed to 32 bits (`hashtext`): two names that collide
    /// only wait for each other, never hold one lock together unwittingly.
    pub async fn lock_across_instances(&self, name: &str) -> Result<Option<InstanceLock>, AppError> {
        let Source::Postgres(config) = &self.inner.source else { return Ok(None) };
        let turn = self.inner.lock_turns.clone().acquire_owned().await.map_err(AppError::internal)?;
        let idle = self.inner.lockers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (config, key) = (config.clone(), name.to_owned());
        let conn = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
            let conn = match idle {
                Some(c) if c.is_usable() => c,
                _ => super::sql::Connection::connect_postgres(&config, false)?,
            };
            conn.query_row(
                "SELECT count(*) FROM (SELECT pg_advisory_lock(?1, hashtext(?2))) AS locked",
                super::sql::params![PHOTO_LOCKS, key],
                |r| r.get::<_, i64>(0),
            )?;
            Ok(conn)
        })
        .await
        .map_err(AppError::internal)??;
        Ok(Some(InstanceLock { db: self.clone(), name: name.to_owned(), conn: Some(conn), _turn: turn }))
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let (db, name) = (self.db.clone(), std::mem::take(&mut self.name));
        let release = move || {
            let unlocked = conn.query_row(
                "SELECT pg_advisory_unlock(?1, hashtext(?2))",
                super::sql::params![PHOTO_LOCKS, name],
                |r| r.get::<_, bool>(0),
            );
            // A connection that could not say so is dropped: closing it
            // ends its session, and PostgreSQL lets go of its locks.
            if unlocked.is_ok_and(|held| held) {
                let mut idle = db.inner.lockers.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < LOCKERS {
                    idle.push(conn);
                }
            }
        };
        // Blocking: on the blocking pool when there is a runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}

/// Who holds a job's lease (the tests read it; an operator reads the
/// `job_leases` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: String,
    /// The instance's name (`app::jobs::instance_name`: host, process id
    /// and a random suffix).
    pub holder: String,
    /// Since when this holder has held it without a break, database clock.
    pub acquired_ms: i64,
    /// When it runs out unless renewed, database clock.
    pub expires_ms: i64,
}

const DB_NOW_MS: &str = "SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER)";

impl Db {
    /// Takes `job`'s lease for `holder` if it is free or has run out, or
    /// renews it if `holder` holds it; either way it then runs for `ttl`.
    /// True when `holder` holds the lease afterwards.
    pub async fn hold_lease(&self, job: &str, holder: &str, ttl: Duration) -> Result<bool, AppError> {
        let (job, holder) = (job.to_owned(), holder.to_owned());
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.write(move |c| {
            let now: i64 = c.query_row(DB_NOW_MS, [], |r| r.get(0))?;
            let changed = c.execute(
                "INSERT INTO job_leases (job, holder, acquired_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job) DO UPDATE SET
                     acquired_ms = CASE WHEN job_leases.holder = excluded.holder
                                        THEN job_leases.acquired_ms ELSE excluded.acquired_ms END,
                     holder = excluded.holder,
                     expires_ms = excluded.expires_ms
                 WHERE job_leases.holder = excluded.holder OR job_leases.expires_ms <= excluded.acquired_ms",
                crate::db::sql::params![job, holder, now, now.saturating_add(ttl_ms)],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// Gives `job`'s lease up at once if `holder` holds it (a clean
    /// shutdown), so another instance need not wait for it to run out.
    pub async fn release_lease(&self, job: &str, holder: &str) -> Result<bool, AppError> {
        let (job, holder) = (job.to_owned(), holder.to_owned());
        self.write(move |c| Ok(c.execute("DELETE FROM job_leases WHERE job = ?1 AND holder = ?2", [job, holder])? == 1))
            .await
    }

    /// Every lease with its holder, whether or not it has run out.
    pub async fn leases(&self) -> Result<Vec<Lease>, AppError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT job, holder, acquired_ms, expires_ms FROM job_leases ORDER BY job")?;
            let rows = stmt.query_map([], |r| {
                Ok(Lease { job: r.get(0)?, holder: r.get(1)?, acquired_ms: r.get(2)?, expires_ms: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The database's clock, in milliseconds (what lease times are in).
    #[cfg(test)]
    async fn lease_clock_ms(&self) -> Result<i64, AppError> {
        self.read(|c| Ok(c.query_row(DB_NOW_MS, [], |r| r.get(0))?)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn a_held_lease_is_refused_to_another_instance_until_it_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        assert!(db.hold_lease("jobs", "a", TTL).await.unwrap(), "a free lease is taken");
        assert!(!db.hold_lease("jobs", "b", TTL).await.unwrap(), "a held lease is refused");
        assert!(db.hold_lease("jobs", "a", TTL).await.unwrap(), "the holder renews it");
        assert!(db.hold_lease("other", "b", TTL).await.unwrap(), "leases are per job");

        // Run out: a lease of 0 ms is over as soon as it is written.
        assert!(db.hold_lease("jobs", "a", Duration::ZERO).await.unwrap());
        assert!(db.hold_lease("jobs", "b", TTL).await.unwrap(), "a lease that ran out is taken over");
        assert!(!db.hold_lease("jobs", "a", TTL).await.unwrap(), "and the old holder cannot renew it");
        let held = db.leases().await.unwrap();
        assert_eq!(
            held.iter().map(|l| (l.job.as_str(), l.holder.as_str())).collect::<Vec<_>>(),
            [("jobs", "b"), ("other", "b")]
        );
    }

    #[tokio::test]
    async fn renewing_keeps_the_start_and_moves_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        db.hold_lease("jobs", "a", TTL).await.unwrap();
        let first = db.leases().await.unwrap().remove(0);
        tokio::time::sleep(Duration::from_millis(20)).await;
        db.hold_lease("jobs", "a", TTL).await.unwrap();
        let renewed = db.leases().await.unwrap().remove(0);
        assert_eq!(renewed.acquired_ms, first.acquired_ms);
        assert!(renewed.expires_ms > first.expires_ms, "{renewed:?} after {first:?}");
        let now = db.lease_clock_ms().await.unwrap();
        assert!((renewed.expires_ms - now - 30_000).abs() < 5_000, "expires about 30 s from now: {renewed:?} at {now}");
    }

    #[tokio::test]
    async fn a_released_lease_is_free_at_once_but_only_its_holder_may_release_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        db.hold_lease("jobs", "a", TTL).await.unwrap();
        assert!(!db.release_lease("jobs", "b").await.unwrap());
        assert!(!db.hold_lease("jobs", "b", TTL).await.unwrap());
        assert!(db.release_lease("jobs", "a").await.unwrap());
        assert!(db.hold_lease("jobs", "b", TTL).await.unwrap());
    }

    /// Two handles on one file are two writers, as two processes are: many
    /// rounds of both racing for a free lease never give it to both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_racing_for_a_free_lease_never_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let (a, b) = (Db::open(&path).unwrap(), Db::open(&path).unwrap());
        for round in 0..50 {
            let job = format!("job{round}");
            let (ja, jb) = (job.clone(), job.clone());
            let (a2, b2) = (a.clone(), b.clone());
            let (wa, wb) = tokio::join!(
                tokio::spawn(async move { a2.hold_lease(&ja, "a", TTL).await.unwrap() }),
                tokio::spawn(async move { b2.hold_lease(&jb, "b", TTL).await.unwrap() }),
            );
            assert!(wa.unwrap() ^ wb.unwrap(), "round {round}: exactly one wins");
        }
    }
}
