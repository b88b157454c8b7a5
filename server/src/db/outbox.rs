//! Writing notices into the durable outbox (`notice_outbox`), always inside
//! the transaction of the change that causes them, so a notice exists if
//! and only if its change does. Delivery (claiming due rows, sending,
//! retrying) is [`super::notices`]'s; this module only enqueues.
//!
//! **Once per event:** every notice names an `event_key` (for example
//! `urge/17/1733328000000`: the case and the deadline it is about), and
//! `UNIQUE (event_key, channel, target)` makes a second enqueue of the same
//! event to the same recipient a no-op. The scheduler may therefore run any
//! number of times, after a restart or a long downtime, and each recipient
//! is told once.

use super::sql::{Connection, params};
use crate::error::AppError;
use crate::rectification::notice::Notice;

/// A channel a notice travels on; stored as the outbox's `channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    /// 企业微信 group robot.
    Wecom,
    /// 钉钉 group robot.
    Dingtalk,
    /// A generic JSON webhook, signed with the contact's secret.
    Json,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Wecom => "wecom",
            Channel::Dingtalk => "dingtalk",
            Channel::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        [Channel::Email, Channel::Wecom, Channel::Dingtalk, Channel::Json].into_iter().find(|c| c.as_str() == s)
    }
}

/// Who at a unit may be told (`unit_contacts.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    /// 联系人: receives every notice.
    Contact,
    /// 点长: answers for a point (or all the unit's points); copied on 催办.
    PointChief,
    /// 分管领导: copied on 催办, told on escalation and 督办.
    Leader,
}

impl ContactRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::Contact => "contact",
            ContactRole::PointChief => "point_chief",
            ContactRole::Leader => "leader",
        }
    }

    pub fn parse(s: &str) -> Option<ContactRole> {
        [ContactRole::Contact, ContactRole::PointChief, ContactRole::Leader].into_iter().find(|c| c.as_str() == s)
    }
}

/// One delivery address of one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub contact_id: i64,
    pub channel: Channel,
    /// An email address or a webhook URL.
    pub target: String,
}

/// Every active delivery address of a unit's contacts in `roles`; a 点长
/// tied to a point is included only for that point (`point_id`).
pub(in crate::db) fn recipients(
    conn: &Connection,
    unit_id: &str,
    point_id: Option<&str>,
    roles: &[ContactRole],
) -> Result<Vec<Recipient>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, role, point_id, email, webhook_kind, webhook_url FROM unit_contacts
         WHERE unit_id = ?1 AND active = 1 ORDER BY id",
    )?;
    let rows = stmt.query_map([unit_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, role, contact_point, email, hook_kind, hook_url) = row?;
        let Some(role) = ContactRole::parse(&role) else { continue };
        if !roles.contains(&role) {
            continue;
        }
        if let (Some(only), Some(point)) = (contact_point.as_deref(), point_id)
            && only != point
        {
            continue;
        }
        if let Some(email) = email.filter(|e| !e.trim().is_empty()) {
            out.push(Recipient { contact_id: id, channel: Channel::Email, target: email });
        }
        if let (Some(kind), Some(url)) = (hook_kind.as_deref().and_then(Channel::parse), hook_url) {
            out.push(Recipient { contact_id: id, channel: kind, target: url });
        }
    }
    Ok(out)
}

/// The stored body for a channel: the plain text for email, the exact JSON
/// to POST for a robot or webhook (the worker sends it as it is).
pub fn body_for(notice: &Notice, channel: Channel, event_key: &str) -> String {
    match channel {
        Channel::Email => notice.text(),
        Channel::Wecom => notice.wecom_payload().to_string(),
        Channel::Dingtalk => notice.dingtalk_payload().to_string(),
        Channel::Json => notice.generic_payload(event_key).to_string(),
    }
}

/// Enqueues `notice` for every recipient, once per `(event_key, channel,
/// target)`, linked to the cases it covers. Returns how many deliveries were
/// new (0 when this event was already enqueued for all of them).
pub(in crate::db) fn enqueue(
    tx: &Connection,
    event_key: &str,
    unit_id: &str,
    notice: &Notice,
    recipients: &[Recipient],
    case_ids: &[i64],
    now: jiff::Timestamp,
) -> Result<usize, AppError> {
    let now_ms = now.as_millisecond();
    let mut added = 0;
    for r in recipients {
        let inserted = tx.execute(
            "INSERT INTO notice_outbox (event_key, channel, target, contact_id, unit_id, kind, subject, body,
                                        created_ms, next_attempt_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             ON CONFLICT (event_key, channel, target) DO NOTHING",
            params![
                event_key,
                r.channel.as_str(),
                r.target,
                r.contact_id,
                unit_id,
                notice.kind.as_str(),
                notice.subject(),
                body_for(notice, r.channel, event_key),
                now_ms
            ],
        )?;
        if inserted == 0 {
            continue;
        }
        added += 1;
        let notice_id = tx.last_insert_rowid();
        for case in case_ids {
            tx.execute("INSERT INTO notice_cases (notice_id, case_id) VALUES (?1, ?2)", params![notice_id, case])?;
        }
    }
    Ok(added)
}
