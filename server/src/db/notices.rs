//! Delivering the outbox (`notice_outbox`; writing it is [`super::outbox`]'s):
//! claiming due rows for the worker, recording what became of each, the
//! delivery log, an admin's retry, and the test notice.
//!
//! **Claims:** a worker takes due rows in one write transaction, setting
//! `claimed_until_ms` to a time well past its delivery timeout; no other
//! claim takes them until then. It records the outcome only while the claim
//! is still its own (the same `claimed_until_ms`), so a worker that lost its
//! claim cannot overwrite the outcome of the one that took over. A worker
//! killed between sending and recording leaves the row pending and claimed;
//! when the claim lapses it is sent again: delivery is at least once, and
//! the event key (in every delivery's headers) lets a receiver drop the
//! second copy.

use super::outbox::Channel;
use super::sql::{Connection, OptionalExtension, Row, params};
use crate::error::AppError;
use crate::rectification::notice::TestNotice;
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

/// Where a delivery stands (`notice_outbox.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Waiting for its first or next attempt.
    Pending,
    Sent,
    /// Given up after `MAX_ATTEMPTS`, or its contact was deactivated; an
    /// admin may retry it.
    Failed,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Sent => "sent",
            NoticeState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeState> {
        [NoticeState::Pending, NoticeState::Sent, NoticeState::Failed].into_iter().find(|v| v.as_str() == s)
    }
}

impl std::str::FromStr for NoticeState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        NoticeState::parse(s).ok_or(())
    }
}

impl std::str::FromStr for Channel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Channel::parse(s).ok_or(())
    }
}

/// A row a worker has claimed, with what it needs to deliver it.
#[derive(Clone)]
pub struct Claimed {
    pub id: i64,
    pub event_key: String,
    pub channel: Channel,
    pub target: String,
    pub subject: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The contact's signing secret (json webhooks).
    pub secret: Option<String>,
    /// `false`: the contact was deactivated after the notice was enqueued.
    pub contact_active: bool,
    /// The claim this worker holds: its outcome is recorded only while the
    /// row still carries it.
    pub claimed_until_ms: i64,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("event_key", &self.event_key)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What became of one attempt, as the worker decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed; try again at `next_attempt_ms`.
    Retry {
        error: String,
        next_attempt_ms: i64,
    },
    /// Failed for good (attempts used up, or nobody to send it to).
    Failed {
        error: String,
    },
}

fn claim_due(conn: &mut Connection, now_ms: i64, until_ms: i64, limit: usize) -> Result<Vec<Claimed>, AppError> {
    let tx = conn.transaction()?;
    let claimed = {
        let mut stmt = tx.prepare_cached(
            "SELECT o.id, o.event_key, o.channel, o.target, o.subject, o.body, o.attempts,
                    c.webhook_secret, coalesce(c.active, 1)
             FROM notice_outbox o LEFT JOIN unit_contacts c ON c.id = o.contact_id
             WHERE o.state = 'pending' AND o.next_attempt_ms <= ?1
               AND (o.claimed_until_ms IS NULL OR o.claimed_until_ms < ?1)
             ORDER BY o.next_attempt_ms, o.id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok(Claimed {
                id: r.get(0)?,
                event_key: r.get(1)?,
                channel: super::parsed(r, 2)?,
                target: r.get(3)?,
                subject: r.get(4)?,
                body: r.get(5)?,
                attempts: r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32,
                secret: r.get(7)?,
                contact_active: r.get(8)?,
                claimed_until_ms: until_ms,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    for c in &claimed {
        tx.execute("UPDATE notice_outbox SET claimed_until_ms = ?2 WHERE id = ?1", params![c.id, until_ms])?;
    }
    tx.commit()?;
    Ok(claimed)
}

/// `false`: the claim was no longer ours (it lapsed and another worker took
/// the row), and nothing was written.
fn record(conn: &Connection, id: i64, claim_ms: i64, outcome: &Outcome, now_ms: i64) -> Result<bool, AppError> {
    let changed = match outcome {
        Outcome::Sent => conn.execute(
            "UPDATE notice_outbox SET state = 'sent', sent_ms = ?3, attempts = attempts + 1, claimed_until_ms = NULL
             WHERE id = ?1 AND claimed_until_ms = ?2 AND state = 'pending'",
            params![id, claim_ms, now_ms],
        )?,
        Outcome::Retry { error, next_attempt_ms } => conn.execute(
            "UPDATE notice_outbox SET attempts = attempts + 1, last_error = ?3, next_attempt_ms = ?4,
                    claimed_until_ms = NULL
             WHERE id = ?1 AND claimed_until_ms = ?2 AND state = 'pending'",
            params![id, claim_ms, error, next_attempt_ms],
        )?,
        Outcome::Failed { error } => conn.execute(
            "UPDATE notice_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?3,
                    claimed_until_ms = NULL
             WHERE id = ?1 AND claimed_until_ms = ?2 AND state = 'pending'",
            params![id, claim_ms, error],
        )?,
    };
    Ok(changed == 1)
}

/// One delivery as the delivery log shows it. `target` is the stored
/// address; the service masks it before it leaves the server.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NoticeView {
    pub id: i64,
    pub event_key: String,
    /// digest, reminder, urge, overdue, supervision or test.
    pub kind: String,
    pub unit_id: String,
    pub unit_name: String,
    pub channel: Channel,
    /// The address, masked (`w***@example.cn`, `https://qyapi.weixin.qq.com/…`).
    pub target: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub subject: String,
    pub state: NoticeState,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub created_at: jiff::Timestamp,
    /// When it is tried next (pending only).
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub next_attempt_at: Option<jiff::Timestamp>,
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub sent_at: Option<jiff::Timestamp>,
    /// What the recipient gets (the plain text of an email, the JSON a
    /// webhook posts): only what a unit may read, so the office can see a
    /// notice whether or not it was delivered.
    pub body: String,
}

/// The delivery log's filters; `before`: the id of the previous page's last row.
#[derive(Debug, Clone, Default)]
pub struct NoticeFilter {
    pub state: Option<NoticeState>,
    pub unit: Option<String>,
    pub kind: Option<String>,
    /// Created at or after / before (milliseconds).
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub before: Option<i64>,
    pub limit: usize,
}

fn ts(ms: Option<i64>) -> crate::db::sql::Result<Option<jiff::Timestamp>> {
    ms.map(|ms| jiff::Timestamp::from_millisecond(ms).map_err(|e| crate::db::sql::Error::conversion(e.to_string())))
        .transpose()
}

const VIEW_SELECT: &str = "SELECT o.id, o.event_key, o.kind, o.unit_id, u.name, o.channel, o.target, o.contact_id,
        c.name, o.subject, o.state, o.attempts, o.last_error, o.created_ms, o.next_attempt_ms, o.sent_ms,
        o.body
     FROM notice_outbox o JOIN units u ON u.id = o.unit_id LEFT JOIN unit_contacts c ON c.id = o.contact_id";

fn view_row(r: &Row<'_>) -> crate::db::sql::Result<NoticeView> {
    let state: NoticeState = super::parsed(r, 10)?;
    Ok(NoticeView {
        id: r.get(0)?,
        event_key: r.get(1)?,
        kind: r.get(2)?,
        unit_id: r.get(3)?,
        unit_name: r.get(4)?,
        channel: super::parsed(r, 5)?,
        target: r.get(6)?,
        contact_id: r.get(7)?,
        contact_name: r.get(8)?,
        subject: r.get(9)?,
        state,
        attempts: r.get(11)?,
        last_error: r.get(12)?,
        created_at: ts(Some(r.get(13)?))?.unwrap_or_default(),
        next_attempt_at: if state == NoticeState::Pending { ts(Some(r.get(14)?))? } else { None },
        sent_at: ts(r.get(15)?)?,
        body: r.get(16)?,
    })
}

fn list(conn: &Connection, f: &NoticeFilter) -> Result<Vec<NoticeView>, AppError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{VIEW_SELECT}
         WHERE (o.state = ?1 OR ?1 IS NULL) AND (o.unit_id = ?2 OR ?2 IS NULL) AND (o.kind = ?3 OR ?3 IS NULL)
           AND (o.id < ?4 OR ?4 IS NULL) AND (o.created_ms >= ?6 OR ?6 IS NULL) AND (o.created_ms < ?7 OR ?7 IS NULL)
         ORDER BY o.id DESC LIMIT ?5"
    ))?;
    let rows = stmt
        .query_map(
            params![f.state.map(NoticeState::as_str), f.unit, f.kind, f.before, f.limit as i64, f.from_ms, f.to_ms],
            view_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn view(conn: &Connection, id: i64) -> Result<Option<NoticeView>, AppError> {
    Ok(conn.query_row(&format!("{VIEW_SELECT} WHERE o.id = ?1"), [id], view_row).optional()?)
}

/// A failed delivery back to pending, due now; its attempts are kept, so a
/// retried notice that fails again is failed again at once (one manual try
/// at a time).
fn retry(conn: &mut Connection, id: i64, now_ms: i64) -> Result<NoticeView, AppError> {
    let tx = conn.transaction()?;
    let state: Option<NoticeState> =
        tx.query_row("SELECT state FROM notice_outbox WHERE id = ?1", [id], |r| super::parsed(r, 0)).optional()?;
    match state {
        None => {
            return Err(AppError::coded(StatusCode::NOT_FOUND, ErrorCode::NoticeNotFound, format!("no notice {id}")));
        }
        Some(NoticeState::Failed) => {}
        Some(other) => {
            return Err(AppError::coded(
                StatusCode::CONFLICT,
                ErrorCode::NoticeNotFailed,
                format!("notice {id} is {}; only a failed notice is retried", other.as_str()),
            ));
        }
    }
    tx.execute(
        "UPDATE notice_outbox SET state = 'pending', next_attempt_ms = ?2, claimed_until_ms = NULL WHERE id = ?1",
        params![id, now_ms],
    )?;
    let out = view(&tx, id)?.ok_or_else(|| AppError::internal("retried notice vanished"))?;
    tx.commit()?;
    Ok(out)
}

/// The stored body of a test notice per channel, like `outbox::body_for`.
fn test_body(notice: &TestNotice, channel: Channel, event_key: &str) -> String {
    match channel {
        Channel::Email => notice.text(),
        Channel::Wecom | Channel::Dingtalk => notice.robot_payload().to_string(),
        Channel::Json => notice.generic_payload(event_key).to_string(),
    }
}

fn enqueue_test(conn: &mut Connection, contact_id: i64, now: jiff::Timestamp) -> Result<usize, AppError> {
    let tx = conn.transaction()?;
    let found: Option<(String, String, String, bool)> = tx
        .query_row(
            "SELECT c.unit_id, u.name, c.name, c.active FROM unit_contacts c JOIN units u ON u.id = c.unit_id
             WHERE c.id = ?1",
            [contact_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((unit_id, unit_name, contact_name, active)) = found else {
        return Err(AppError::coded(
            StatusCode::NOT_FOUND,
            ErrorCode::ContactNotFound,
            format!("no contact {contact_id}"),
        ));
    };
    if !active {
        return Err(AppError::coded(
            StatusCode::CONFLICT,
            ErrorCode::ContactInactive,
            format!("contact {contact_id} is deactivated; activate it before testing"),
        ));
    }
    let all = [
        super::outbox::ContactRole::Contact,
        super::outbox::ContactRole::PointChief,
        super::outbox::ContactRole::Leader,
    ];
    let recipients: Vec<_> = super::outbox::recipients(&tx, &unit_id, None, &all)?
        .into_iter()
        .filter(|r| r.contact_id == contact_id)
        .collect();
    if recipients.is_empty() {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ContactNoChannel,
            format!("contact {contact_id} has no email address or webhook to send to"),
        ));
    }
    let notice = TestNotice { unit_name, contact_name };
    let now_ms = now.as_millisecond();
    let event_key = format!("test/{contact_id}/{now_ms}");
    let mut added = 0;
    for r in &recipients {
        added += tx.execute(
            "INSERT INTO notice_outbox (event_key, channel, target, contact_id, unit_id, kind, subject, body,
                                        created_ms, next_attempt_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'test', ?6, ?7, ?8, ?8)
             ON CONFLICT (event_key, channel, target) DO NOTHING",
            params![
                event_key,
                r.channel.as_str(),
                r.target,
                r.contact_id,
                unit_id,
                notice.subject(),
                test_body(&notice, r.channel, &event_key),
                now_ms
            ],
        )?;
    }
    tx.commit()?;
    Ok(added)
}

impl super::Db {
    /// Claims up to `limit` due deliveries until `until` (see the module
    /// documentation), in one write transaction.
    pub async fn claim_due_notices(
        &self,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<Claimed>, AppError> {
        let (now_ms, until_ms) = (now.as_millisecond(), until.as_millisecond());
        self.write(move |c| claim_due(c, now_ms, until_ms, limit)).await
    }

    /// Records one attempt's outcome under the claim it was made with;
    /// `false` when the claim had passed to another worker.
    pub async fn record_notice_outcome(
        &self,
        claimed: &Claimed,
        outcome: Outcome,
        now: jiff::Timestamp,
    ) -> Result<bool, AppError> {
        let (id, claim) = (claimed.id, claimed.claimed_until_ms);
        let now_ms = now.as_millisecond();
        self.write(move |c| record(c, id, claim, &outcome, now_ms)).await
    }

    /// The delivery log, newest first (raw targets; `app::notices` masks them).
    pub async fn notices(&self, filter: NoticeFilter) -> Result<Vec<NoticeView>, AppError> {
        self.read(move |c| list(c, &filter)).await
    }

    pub async fn notice(&self, id: i64) -> Result<Option<NoticeView>, AppError> {
        self.read(move |c| view(c, id)).await
    }

    /// A failed delivery back to pending (404 `notice_not_found`, 409 `notice_not_failed`).
    pub async fn retry_notice(&self, id: i64, now: jiff::Timestamp) -> Result<NoticeView, AppError> {
        let now_ms = now.as_millisecond();
        self.write(move |c| retry(c, id, now_ms)).await
    }

    /// Enqueues a test notice to one contact's addresses; how many were new.
    pub async fn enqueue_test_notice(&self, contact_id: i64, now: jiff::Timestamp) -> Result<usize, AppError> {
        self.write(move |c| enqueue_test(c, contact_id, now)).await
    }

    /// Test fixture: enqueues `notice` for every active contact of `unit_id`
    /// (all roles) through the outbox's own `enqueue`, in one transaction,
    /// as the scheduler will. Returns how many deliveries were new.
    #[doc(hidden)]
    pub async fn enqueue_notice_for_tests(
        &self,
        event_key: String,
        unit_id: String,
        notice: crate::rectification::notice::Notice,
        now: jiff::Timestamp,
    ) -> Result<usize, AppError> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let all = [
                super::outbox::ContactRole::Contact,
                super::outbox::ContactRole::PointChief,
                super::outbox::ContactRole::Leader,
            ];
            let recipients = super::outbox::recipients(&tx, &unit_id, None, &all)?;
            let added = super::outbox::enqueue(&tx, &event_key, &unit_id, &notice, &recipients, &[], now)?;
            tx.commit()?;
            Ok(added)
        })
        .await
    }
}
