//! The delivery worker: claims due notices, delivers several at once, each
//! under a hard timeout, and records each outcome.
//!
//! A slot is taken per delivery and given back when it is recorded; the
//! worker claims only as many rows as it has free slots, so a claimed row
//! never waits behind others while its claim runs out, and a receiver that
//! never answers holds one slot for [`WorkerConfig::delivery_timeout`] and
//! nothing else: the other slots keep delivering, and the worker keeps
//! claiming for them.

use super::{WorkerConfig, email, webhook};
use crate::AppState;
use crate::db::notices::{Claimed, Outcome};
use crate::db::outbox::Channel;
use crate::error::AppError;
use crate::rectification::notice::{MAX_ATTEMPTS, retry_delay};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Runs the worker for as long as the server runs: a round every
/// [`WorkerConfig::poll`], or at once when [`AppState::notice_wake`] is
/// notified (a fresh enqueue, a retry, a delivery finished).
pub async fn run(state: AppState, config: WorkerConfig) {
    let client = match webhook::client(config.delivery_timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the notice worker cannot start; notices stay in the outbox");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    loop {
        if let Err(e) = claim_into_slots(&state, &config, &client, &slots).await {
            tracing::warn!(error = %e, "cannot claim due notices; trying again next round");
        }
        tokio::select! {
            _ = state.notice_wake.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// Claims up to the free slots' worth of due rows and starts a delivery in
/// each slot; does not wait for them.
async fn claim_into_slots(
    state: &AppState,
    config: &WorkerConfig,
    client: &reqwest::Client,
    slots: &Arc<Semaphore>,
) -> Result<(), AppError> {
    let free = slots.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let batch = state.db.claim_due_notices(now, claim_end(now, config), free).await?;
    for claimed in batch {
        // Only this loop takes slots, and it claimed no more rows than were free.
        let Ok(slot) = slots.clone().try_acquire_owned() else { break };
        let (state, config, client) = (state.clone(), config.clone(), client.clone());
        tokio::spawn(async move {
            deliver_and_record(&state, &config, &client, claimed).await;
            drop(slot);
            // A slot is free: more may be due than the last round could take.
            state.notice_wake.notify_one();
        });
    }
    Ok(())
}

fn claim_end(now: jiff::Timestamp, config: &WorkerConfig) -> jiff::Timestamp {
    now.checked_add(config.claim_for).unwrap_or(now)
}

/// One round, waited for: claims up to [`WorkerConfig::concurrency`] due
/// rows, delivers them concurrently and records every outcome. Returns how
/// many were attempted. For tests and tools; the server runs [`run`].
pub async fn run_once(state: &AppState, config: &WorkerConfig) -> Result<usize, AppError> {
    let client = webhook::client(config.delivery_timeout).map_err(AppError::Internal)?;
    let now = state.clock.now();
    let batch = state.db.claim_due_notices(now, claim_end(now, config), config.concurrency.max(1)).await?;
    let n = batch.len();
    let deliveries: Vec<_> = batch
        .into_iter()
        .map(|claimed| {
            let (state, config, client) = (state.clone(), config.clone(), client.clone());
            tokio::spawn(async move { deliver_and_record(&state, &config, &client, claimed).await })
        })
        .collect();
    for d in deliveries {
        d.await.map_err(AppError::internal)?;
    }
    Ok(n)
}

/// Delivers one claimed row under the hard timeout and records the outcome.
async fn deliver_and_record(state: &AppState, config: &WorkerConfig, client: &reqwest::Client, claimed: Claimed) {
    let outcome = if !claimed.contact_active {
        // Whoever was deactivated is told nothing more.
        Outcome::Failed { error: "the contact was deactivated before delivery; not sent".to_owned() }
    } else {
        let attempt = deliver(state, config, client, &claimed);
        let result = match tokio::time::timeout(config.delivery_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", config.delivery_timeout.as_secs_f64())),
        };
        match result {
            Ok(()) => Outcome::Sent,
            Err(error) => decide_failure(&claimed, error, state.clock.now()),
        }
    };
    let now = state.clock.now();
    if let Outcome::Retry { error, .. } | Outcome::Failed { error } = &outcome {
        tracing::warn!(notice = claimed.id, channel = claimed.channel.as_str(), %error, "notice delivery failed");
    }
    match state.db.record_notice_outcome(&claimed, outcome, now).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(notice = claimed.id, "the notice's claim lapsed before its outcome was recorded"),
        // The row stays claimed; when the claim lapses it is tried again.
        Err(e) => tracing::error!(notice = claimed.id, error = %e, "cannot record a notice's outcome"),
    }
}

/// After a failed attempt: try again after the backoff, or give up once
/// [`MAX_ATTEMPTS`] attempts have failed.
pub fn decide_failure(claimed: &Claimed, error: String, now: jiff::Timestamp) -> Outcome {
    if claimed.attempts + 1 >= MAX_ATTEMPTS {
        return Outcome::Failed { error };
    }
    let delay = retry_delay(claimed.attempts, claimed.id as u64);
    let next = now.checked_add(delay).unwrap_or(now);
    Outcome::Retry { error, next_attempt_ms: next.as_millisecond() }
}

async fn deliver(
    state: &AppState,
    config: &WorkerConfig,
    client: &reqwest::Client,
    claimed: &Claimed,
) -> Result<(), String> {
    let now = state.clock.now();
    match claimed.channel {
        Channel::Email => {
            let smtp = state.db.smtp_config().await.map_err(|e| format!("cannot read the email settings: {e}"))?;
            // lettre's own timeout covers each SMTP step; ours, around it, the whole.
            email::send(&smtp, claimed, now, config.delivery_timeout).await
        }
        Channel::Wecom | Channel::Dingtalk | Channel::Json => webhook::send(client, claimed, now).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(attempts: u32) -> Claimed {
        Claimed {
            id: 7,
            event_key: "digest/U01/2026-12-01".into(),
            channel: Channel::Json,
            target: "http://127.0.0.1:9/".into(),
            subject: "s".into(),
            body: "{}".into(),
            attempts,
            secret: None,
            contact_active: true,
            claimed_until_ms: 0,
        }
    }

    #[test]
    fn a_failure_backs_off_and_the_last_allowed_attempt_fails_for_good() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        match decide_failure(&claimed(0), "x".into(), now) {
            Outcome::Retry { next_attempt_ms, .. } => {
                let wait = next_attempt_ms - now.as_millisecond();
                assert_eq!(wait, retry_delay(0, 7).as_millis() as i64);
                assert!((60_000..72_000).contains(&wait), "{wait}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decide_failure(&claimed(MAX_ATTEMPTS - 2), "x".into(), now), Outcome::Retry { .. }));
        assert!(matches!(decide_failure(&claimed(MAX_ATTEMPTS - 1), "x".into(), now), Outcome::Failed { .. }));
        // A retried failed notice (attempts kept) gets one try, then fails again.
        assert!(matches!(decide_failure(&claimed(MAX_ATTEMPTS), "x".into(), now), Outcome::Failed { .. }));
    }
}
