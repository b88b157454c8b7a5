//! Background jobs on one instance at a time.
//!
//! Several `serve` processes may share one installation. Requests can go to
//! any of them, and so can the notice outbox's delivery (each row is claimed
//! in the database before it is sent, see `notify::worker`). But the jobs
//! that act on the whole installation by themselves (the rectification
//! scheduler, the upload sweep, the daily backup) run only on the instance
//! that holds the [`BACKGROUND`] lease (`db::leases`).
//!
//! Every instance runs a [`keep`] loop: it tries to take or renew the lease
//! every third of its lifetime and publishes the answer to the jobs through
//! a [`Held`] handle; a job waits on [`Held::until_held`] before each of its
//! passes. An instance that dies stops renewing, its lease runs out after
//! `ttl`, and the next instance to try takes it: the jobs move within about
//! `ttl + ttl / 3`. An error while renewing counts as not holding: better a
//! pass skipped than two at once.
//!
//! The lease bounds duplicate work; it is not what keeps the data right. At
//! a handover, a holder stalled past its lease may finish a pass while the
//! new holder starts one, so every pass still decides inside its own write
//! transactions from what is stored (a reminder is recorded once per case
//! and step, a backup run once per day's slot), as it must against a
//! restart anyway.

use crate::db::Db;
use std::time::Duration;
use tokio::sync::watch;

/// The lease the singleton jobs run under.
pub const BACKGROUND: &str = "background";

/// How long a lease lasts unless renewed: `ANFANG_LEASE_SECS` (tests use a
/// few seconds), else 15 s.
pub fn lease_ttl_from_env() -> Duration {
    std::env::var("ANFANG_LEASE_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| *d >= Duration::from_millis(300))
        .unwrap_or(Duration::from_secs(15))
}

/// This process's name in the lease table: host, process id and a random
/// suffix (a restarted process may get its old pid back, and must not
/// inherit the lease it held before it died).
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).expect("the system's random source works");
    format!("{host}/{}/{}", std::process::id(), hex::encode(suffix))
}

/// Whether this instance holds the lease, as the keeper last saw it.
#[derive(Clone)]
pub struct Held(watch::Receiver<bool>);

impl Held {
    pub fn now(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns at once while held; otherwise when the keeper takes the lease.
    pub async fn until_held(&mut self) {
        // A dropped keeper leaves the last value; if that was "not held",
        // the job stays parked for good, which is what a keeper that can no
        // longer renew must mean.
        if self.0.wait_for(|held| *held).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The keeper's side: a [`Held`] for the jobs and the sender [`keep`] drives.
pub fn channel() -> (watch::Sender<bool>, Held) {
    let (tx, rx) = watch::channel(false);
    (tx, Held(rx))
}

/// Takes and renews `job`'s lease for `instance` for as long as the server
/// runs, publishing whether it is held.
pub async fn keep(db: Db, job: &'static str, instance: String, ttl: Duration, held: watch::Sender<bool>) {
    let every = ttl / 3;
    loop {
        let now_held = match db.hold_lease(job, &instance, ttl).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, job, "cannot renew the lease; pausing its jobs until it can");
                false
            }
        };
        let before = held.send_replace(now_held);
        if now_held != before {
            if now_held {
                tracing::info!(job, %instance, "this instance now runs the background jobs");
            } else {
                tracing::warn!(job, %instance, "this instance no longer holds the background jobs' lease");
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Gives the lease up (a clean shutdown), so another instance takes the
/// jobs at its next try instead of after the lease runs out.
pub async fn release(db: &Db, job: &'static str, instance: &str) {
    match db.release_lease(job, instance).await {
        Ok(true) => tracing::info!(job, %instance, "lease released"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, job, "cannot release the lease; it runs out by itself"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_jobs_move_to_the_second_instance_when_the_first_stops_renewing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let (a, b) = (Db::open(&path).unwrap(), Db::open(&path).unwrap());
        let ttl = Duration::from_millis(600);
        let (tx_a, mut held_a) = channel();
        let (tx_b, held_b) = channel();
        let keeper_a = tokio::spawn(keep(a.clone(), BACKGROUND, "a".into(), ttl, tx_a));
        tokio::time::timeout(Duration::from_secs(5), held_a.until_held()).await.expect("the first instance takes it");
        let _keeper_b = tokio::spawn(keep(b.clone(), BACKGROUND, "b".into(), ttl, tx_b));
        tokio::time::sleep(ttl * 2).await;
        assert!(held_a.now() && !held_b.now(), "one holder while the first one renews");

        keeper_a.abort(); // as if killed: no release
        let mut held_b2 = held_b.clone();
        let moved = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), held_b2.until_held()).await.expect("the second takes over");
        assert!(moved.elapsed() <= ttl + ttl / 3 + Duration::from_millis(300), "moved after {:?}", moved.elapsed());
        assert_eq!(b.leases().await.unwrap()[0].holder, "b");
    }

    #[tokio::test]
    async fn a_released_lease_moves_at_the_next_try() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let (a, b) = (Db::open(&path).unwrap(), Db::open(&path).unwrap());
        let ttl = Duration::from_secs(60);
        assert!(a.hold_lease(BACKGROUND, "a", ttl).await.unwrap());
        release(&a, BACKGROUND, "a").await;
        assert!(b.hold_lease(BACKGROUND, "b", ttl).await.unwrap());
    }

    #[test]
    fn instance_names_differ_within_one_process() {
        assert_ne!(instance_name(), instance_name());
        assert!(instance_name().contains(&format!("/{}/", std::process::id())));
    }
}
