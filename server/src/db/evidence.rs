//! The evidence log, and the audit that re-checks everything against it.
//!
//! Every accepted record is appended to `evidence_log` in the transaction
//! that stores it. Each entry's hash covers the previous entry's hash and
//! this entry's fields, so altering, removing or reordering any entry breaks
//! every hash after it (the idea of RFC 6962's logs, without the tree).
//!
//! `entry_hash = SHA-256("anfang-log-v1\n" prev_hash "\n" kind "\n" record_id "\n" record_hash "\n" at)`
//!
//! The chain format never changed; what an entry's `record_hash` covers is
//! versioned by its **kind** instead (see [`kind`]), so entries written by
//! older versions keep verifying exactly as they were written.
//!
//! The audit checks both directions: every log entry points at a record that
//! exists and matches it, and every record (finding, review, draw, bulletin,
//! device, identity-log row) has its entry. What the database alone cannot
//! show — a history rewritten and re-hashed from the start — is caught by
//! the chain head printed in every issued bulletin: [`audit`] takes an
//! expected `(length, head)` and checks that entry `length` still has that
//! hash.

use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use anfang_core::domain::{FindingContent, sha256_hex};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Entry kinds, and what each one's `record_hash` is.
pub mod kind {
    /// Before version 9: the finding's content hash only.
    pub const FINDING_V1: &str = "finding";
    /// [`super::finding_record_hash`]: content hash plus the server-side
    /// fields (signature, device and its key, inspector, received time,
    /// location time, sequence).
    pub const FINDING: &str = "finding_v2";
    /// `db::reviews::revision_hash`; record id `{finding}/review/{n}`.
    pub const REVIEW: &str = "review";
    /// The draw's commitment; record id the draw id.
    pub const DRAW_COMMITMENT: &str = "draw_commitment";
    /// SHA-256 of the revealed seed; record id the draw id.
    pub const DRAW_REVEAL: &str = "draw_reveal";
    /// The issued snapshot's content hash; record id `bulletin/{id}`.
    pub const BULLETIN_ISSUE: &str = "bulletin_issue";
    /// [`super::device_record_hash`]; record id the device id.
    pub const DEVICE_ENROLLED: &str = "device_enrolled";
    /// [`super::device_revoked_hash`]; record id the device id.
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// [`super::identity_audit_hash`]; record id the identity-log row id.
    pub const IDENTITY_AUDIT: &str = "identity_audit";
    /// `db::cases::event_hash`; record id `case/{id}/{seq}`.
    pub const CASE_EVENT: &str = super::super::cases::LOG_KIND;
    /// `db::exposure::publish_hash`; record id `exposure/{id}/publish`.
    pub const EXPOSURE_PUBLISH: &str = super::super::exposure::LOG_PUBLISH;
    /// `db::exposure::withdraw_hash`; record id `exposure/{id}/withdraw`.
    pub const EXPOSURE_WITHDRAW: &str = super::super::exposure::LOG_WITHDRAW;
    /// `db::exposure::commitment_hash`; record id `exposure/{id}/commitment`.
    pub const EXPOSURE_COMMITMENT: &str = super::super::exposure::LOG_COMMITMENT;
    /// SHA-256 of an issued league month's result; record id `league/{month}`.
    pub const LEAGUE_ISSUE: &str = super::super::league::LOG_ISSUE;
}

fn entry_hash(prev: &str, kind: &str, record_id: &str, record_hash: &str, at: &str) -> String {
    sha256_hex(format!("anfang-log-v1\n{prev}\n{kind}\n{record_id}\n{record_hash}\n{at}").as_bytes())
}

/// Appends an entry; call inside the transaction that stores the record.
/// `at` is the server's clock at the write (entries need not be in time
/// order: the chain is ordered by `seq` and linked by `prev_hash`).
pub(in crate::db) fn append(
    conn: &Connection,
    kind: &str,
    record_id: &str,
    record_hash: &str,
    at: jiff::Timestamp,
) -> Result<(), AppError> {
    let prev: String = conn
        .query_row("SELECT entry_hash FROM evidence_log ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| GENESIS.to_owned());
    let at = at.to_string();
    let hash = entry_hash(&prev, kind, record_id, record_hash, &at);
    conn.execute(
        "INSERT INTO evidence_log (kind, record_id, record_hash, at, prev_hash, entry_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind, record_id, record_hash, at, prev, hash],
    )?;
    Ok(())
}

/// The chain head: how many entries the log has and the last one's hash.
/// Printed in issued bulletins and exported, so that a history rewritten
/// later no longer matches what was printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The `seq` of the last entry (entries are numbered from 1 without gaps).
    pub length: i64,
    /// Its `entry_hash` (64 zeros for an empty log).
    pub head: String,
}

/// The current chain head.
pub(in crate::db) fn head(conn: &Connection) -> Result<ChainHead, AppError> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT seq, entry_hash FROM evidence_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (length, head) = last.unwrap_or_else(|| (0, GENESIS.to_owned()));
    Ok(ChainHead { length, head })
}

/// Record hashes of the newer kinds: SHA-256 over a context line and a JSON
/// array of the fields, so no field can bleed into the next.
fn record_hash(context: &str, fields: serde_json::Value) -> String {
    sha256_hex(format!("{context}\n{fields}").as_bytes())
}

/// What a `finding_v2` entry covers: the signed content (by its hash) and
/// every field the server adds, so moving a finding to another inspector or
/// device, re-signing it, or changing when it arrived breaks the entry.
#[derive(Debug, Clone)]
pub struct FindingRecord<'a> {
    pub id: &'a str,
    pub seq: i64,
    pub content_hash: &'a str,
    pub signature: &'a str,
    pub device_id: &'a str,
    pub public_key: &'a str,
    pub inspector_id: i64,
    pub received_ms: i64,
    pub location_captured_at: Option<&'a str>,
}

pub fn finding_record_hash(f: &FindingRecord<'_>) -> String {
    record_hash(
        "anfang-finding-record-v2",
        serde_json::json!([
            f.id,
            f.seq,
            f.content_hash,
            f.signature,
            f.device_id,
            f.public_key,
            f.inspector_id,
            f.received_ms,
            f.location_captured_at
        ]),
    )
}

/// What a `device_enrolled` entry covers.
pub(in crate::db) fn device_record_hash(
    device_id: &str,
    inspector_id: i64,
    public_key: Option<&str>,
    enrolled_at: &str,
) -> String {
    record_hash("anfang-device-v1", serde_json::json!([device_id, inspector_id, public_key, enrolled_at]))
}

/// What a `device_revoked` entry covers.
pub(in crate::db) fn device_revoked_hash(device_id: &str, revoked_at: &str) -> String {
    record_hash("anfang-device-revoked-v1", serde_json::json!([device_id, revoked_at]))
}

/// One row of `identity_audit_log`, as its entry covers it.
#[derive(Debug, Clone)]
pub struct IdentityAuditRow<'a> {
    pub id: i64,
    pub at: &'a str,
    pub user_id: Option<i64>,
    pub actor: &'a str,
    pub inspector_id: i64,
    pub action: &'a str,
    pub route: &'a str,
}

pub(in crate::db) fn identity_audit_hash(r: &IdentityAuditRow<'_>) -> String {
    record_hash(
        "anfang-identity-audit-v1",
        serde_json::json!([r.id, r.at, r.user_id, r.actor, r.inspector_id, r.action, r.route]),
    )
}

/// Logs a device's enrollment (its id, inspector, public key and time); call
/// in the enrolling transaction. A key swapped later no longer matches.
pub(in crate::db) fn device_enrolled(
    conn: &Connection,
    device_id: &str,
    inspector_id: i64,
    public_key: Option<&str>,
    enrolled_at: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    append(
        conn,
        kind::DEVICE_ENROLLED,
        device_id,
        &device_record_hash(device_id, inspector_id, public_key, enrolled_at),
        now,
    )
}

/// Logs a device's revocation; call in the transaction that sets
/// `devices.revoked_at = revoked_at` (the same text). `verify` checks the
/// column against this entry both ways: a revocation undone, or one never
/// logged, is named.
pub(in crate::db) fn device_revoked(
    conn: &Connection,
    device_id: &str,
    revoked_at: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    append(conn, kind::DEVICE_REVOKED, device_id, &device_revoked_hash(device_id, revoked_at), now)
}

/// Logs an identity-audit row; call right after inserting it.
pub(in crate::db) fn identity_audit(
    conn: &Connection,
    row: &IdentityAuditRow<'_>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    append(conn, kind::IDENTITY_AUDIT, &row.id.to_string(), &identity_audit_hash(row), now)
}

/// The stored photos, read-only: the layout of `crate::photos::PhotoStore`
/// without opening it (which creates folders), so an audit changes nothing.
pub struct PhotoDir {
    objects: crate::objects::Objects,
}

impl PhotoDir {
    /// The data dir's photo folder.
    pub fn new(data_dir: &Path) -> Self {
        Self { objects: crate::objects::Objects::Folder(data_dir.to_owned()) }
    }

    /// Wherever a running server keeps them (a folder or a bucket).
    pub fn of(objects: crate::objects::Objects) -> Self {
        Self { objects }
    }

    fn key_of(sha: &str, thumbnail: bool) -> Option<String> {
        sha.get(..2)?;
        Some(if thumbnail { crate::photos::thumbnail_key(sha) } else { crate::photos::photo_key(sha) })
    }

    /// Where a photo is, for a problem's line: its file, or its key in the bucket.
    fn name(&self, key: &str) -> String {
        match self.objects.folder_path(key) {
            Some(path) => path.display().to_string(),
            None => format!("{key} in {}", self.objects.describe()),
        }
    }

    /// A photo's (or its thumbnail's) bytes, or why they cannot be read,
    /// naming where they were looked for.
    pub(in crate::db) fn read(&self, sha: &str, thumbnail: bool) -> Result<Vec<u8>, String> {
        let Some(key) = Self::key_of(sha, thumbnail) else { return Err(format!("{sha:?} is not a photo hash")) };
        match self.objects.get_blocking(&key) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(format!("cannot read {}: not there (missing)", self.name(&key))),
            Err(e) => Err(format!("cannot read {}: {e}", self.name(&key))),
        }
    }

    pub(in crate::db) fn describe(&self, sha: &str, thumbnail: bool) -> String {
        Self::key_of(sha, thumbnail).map(|k| self.name(&k)).unwrap_or_else(|| sha.to_owned())
    }
}

/// What an audit found: one line per problem, naming exactly what was altered.
#[derive(Debug, Default)]
pub struct Audit {
    pub log_entries: usize,
    pub findings: usize,
    pub photos: usize,
    pub devices: usize,
    /// The head of the chain as found (after checking it).
    pub head: Option<ChainHead>,
    pub problems: Vec<String>,
}

/// Tolerance between a finding's `received_ms` and its log entry's `at`:
/// both are taken in the push transaction, but `received_ms` before the
/// writer lock, which may wait behind other writes.
const RECEIVED_VS_LOGGED_MS: i64 = 10 * 60 * 1000;

struct LoggedEntry {
    seq: i64,
    kind: String,
    record_id: String,
    record_hash: String,
    at: String,
}

fn parse_ts(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

/// Re-checks the log chain (and, given `expected`, that an earlier printed
/// head is still a prefix of it), every entry against the record it points
/// at, every record against its entry, every finding (row against its signed
/// content, signature against its device key), and every photo and
/// thumbnail file. Only reads: run it on a read-only connection.
pub(in crate::db) fn audit(
    conn: &Connection,
    photos: &PhotoDir,
    expected: Option<&ChainHead>,
) -> Result<Audit, AppError> {
    let mut audit = Audit::default();
    let entries = check_chain(conn, expected, &mut audit)?;
    // By (kind, record id): a draw has two entries under one record id.
    let mut by_record: HashMap<(&str, &str), &LoggedEntry> = HashMap::new();
    // By record id alone, for `reviews::audit` (review ids are unique).
    let mut logged = HashMap::new();
    for e in &entries {
        by_record.insert((e.kind.as_str(), e.record_id.as_str()), e);
        logged.insert(e.record_id.clone(), (e.seq, e.record_hash.clone()));
    }
    let markers = Markers::read(conn, &mut audit.problems)?;
    check_findings(conn, &by_record, &mut audit)?;
    check_entries_point_at_records(conn, &entries, &mut audit.problems)?;
    check_devices(conn, &by_record, &markers, &mut audit)?;
    check_draws(conn, &by_record, &mut audit.problems)?;
    check_identity_log(conn, &by_record, &markers, &mut audit.problems)?;
    audit.problems.extend(super::reviews::audit(conn, &logged)?);
    audit.problems.extend(super::cases::audit(conn, &logged)?);
    audit.problems.extend(super::exposure::audit(conn, &logged)?);
    audit.problems.extend(super::league::audit(conn, &logged)?);
    // Issued bulletins are evidence too: their frozen snapshots and hashes.
    super::bulletins::audit(conn, &mut audit.problems)?;
    check_photos(conn, photos, &mut audit)?;
    audit.problems.extend(super::exposure::audit_crops(conn, photos)?);
    Ok(audit)
}

fn check_chain(
    conn: &Connection,
    expected: Option<&ChainHead>,
    audit: &mut Audit,
) -> Result<Vec<LoggedEntry>, AppError> {
    let mut entries = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT seq, kind, record_id, record_hash, at, prev_hash, entry_hash FROM evidence_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_owned();
    let mut last_seq = 0;
    let mut expected_seen = false;
    while let Some(r) = rows.next()? {
        let (seq, kind, id, record_hash, at, prev_hash, hash): (i64, String, String, String, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
        audit.log_entries += 1;
        if seq != last_seq + 1 {
            audit.problems.push(format!(
                "log entries {} to {}: missing, the numbering jumps from {last_seq} to {seq} (entries removed)",
                last_seq + 1,
                seq - 1
            ));
        }
        last_seq = seq;
        if prev_hash != prev {
            audit.problems.push(format!("log entry {seq}: does not follow the entry before it (chain broken)"));
        }
        if entry_hash(&prev_hash, &kind, &id, &record_hash, &at) != hash {
            audit
                .problems
                .push(format!("log entry {seq} ({kind} {id}): its content does not match its hash (altered)"));
        }
        if let Some(e) = expected.filter(|e| e.length == seq) {
            expected_seen = true;
            if e.head != hash {
                audit.problems.push(format!(
                    "log entry {seq}: hashes to {hash}, but the chain head printed earlier says {} \
                     (the history up to it was rewritten)",
                    e.head
                ));
            }
        }
        entries.push(LoggedEntry { seq, kind, record_id: id, record_hash, at });
        prev = hash;
    }
    if let Some(e) = expected.filter(|_| !expected_seen) {
        if e.length == 0 {
            if e.head != GENESIS {
                audit.problems.push(format!("expected head {} for length 0: an empty log's head is 64 zeros", e.head));
            }
        } else {
            audit.problems.push(format!(
                "the log ends at entry {last_seq}, but a chain head printed earlier covers {} entries \
                 (entries cut off or the history rewritten)",
                e.length
            ));
        }
    }
    audit.head = Some(ChainHead { length: last_seq, head: prev });
    Ok(entries)
}

/// Where the version-9 rules begin (written by migration 0009). Their
/// absence in a version-9 database is itself a problem: deleting them would
/// otherwise excuse every unlogged device and identity-log row.
struct Markers {
    v2_since: Option<jiff::Timestamp>,
    identity_from: Option<i64>,
}

impl Markers {
    fn read(conn: &Connection, problems: &mut Vec<String>) -> Result<Self, AppError> {
        let meta = |key: &str| -> Result<Option<String>, AppError> {
            Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
        };
        let v2_since = meta("evidence_v2_since")?.and_then(|t| parse_ts(&t));
        let identity_from = meta("identity_audit_chained_from")?.and_then(|t| t.parse().ok());
        if v2_since.is_none() {
            problems.push("meta evidence_v2_since: missing or unreadable (deleted or altered)".into());
        }
        if identity_from.is_none() {
            problems.push("meta identity_audit_chained_from: missing or unreadable (deleted or altered)".into());
        }
        Ok(Self { v2_since, identity_from })
    }

    /// Whether a record made at `at` falls under the version-9 rules; an
    /// unreadable time does (it cannot excuse itself).
    fn covers(&self, at: &str) -> bool {
        match (self.v2_since, parse_ts(at)) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        }
    }
}

fn check_findings(
    conn: &Connection,
    by_record: &HashMap<(&str, &str), &LoggedEntry>,
    audit: &mut Audit,
) -> Result<(), AppError> {
    let mut stmt = conn.prepare(
        "SELECT f.id, f.point_id, f.unit_id, f.category, f.card, f.note, f.observed_ms, f.lat, f.lon,
                f.accuracy_m, f.content, f.content_hash, f.signature, d.public_key,
                f.seq, f.device_id, f.inspector_id, d.inspector_id, f.received_ms, f.location_captured_at
         FROM findings f LEFT JOIN devices d ON d.id = f.device_id ORDER BY f.seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        audit.findings += 1;
        let id: String = r.get(0)?;
        let content_text: String = r.get(10)?;
        let content_hash: String = r.get(11)?;
        let signature: Option<String> = r.get(12)?;
        let public_key: Option<String> = r.get(13)?;
        let seq: i64 = r.get(14)?;
        let device_id: String = r.get(15)?;
        let inspector_id: i64 = r.get(16)?;
        let device_inspector: Option<i64> = r.get(17)?;
        let received_ms: i64 = r.get(18)?;
        let location_captured_at: Option<String> = r.get(19)?;
        let mut problem = |what: String| audit.problems.push(format!("finding {id}: {what}"));
        let content: FindingContent = match serde_json::from_str(&content_text) {
            Ok(c) => c,
            Err(e) => {
                problem(format!("stored content is not a finding ({e}) (altered)"));
                continue;
            }
        };
        if sha256_hex(content_text.as_bytes()) != content_hash || content.content_hash() != content_hash {
            problem("stored content does not match its content hash (altered)".into());
        }
        let loc = content.location.as_ref();
        let columns_match = r.get::<_, String>(1)? == content.point_id
            && r.get::<_, String>(2)? == content.unit_id
            && r.get::<_, String>(3)? == content.category
            && r.get::<_, String>(4)? == content.card.as_str()
            && r.get::<_, Option<String>>(5)? == content.note
            && r.get::<_, i64>(6)? == content.observed_at.as_millisecond()
            && r.get::<_, Option<f64>>(7)? == loc.map(|l| l.lat)
            && r.get::<_, Option<f64>>(8)? == loc.map(|l| l.lon)
            && r.get::<_, Option<f64>>(9)? == loc.map(|l| l.accuracy_m);
        if !columns_match {
            problem("the row's columns differ from its signed content (altered)".into());
        }
        if location_captured_at != loc.map(|l| l.captured_at.to_string()) {
            problem(format!(
                "its location_captured_at {location_captured_at:?} differs from its signed content's (altered)"
            ));
        }
        match device_inspector {
            None => problem(format!("its device {device_id} is missing (deleted)")),
            Some(owner) if owner != inspector_id => problem(format!(
                "is recorded under inspector #{inspector_id}, but its device {device_id} belongs to inspector \
                 #{owner} (moved to another inspector)"
            )),
            Some(_) => {}
        }
        match (&signature, &public_key) {
            (Some(sig), Some(key)) => {
                if let Err(e) = anfang_core::evidence::verify(key, &content, sig) {
                    problem(format!("signature check failed: {e}"));
                }
            }
            _ => problem("has no device signature".into()),
        }
        let v2 = by_record.get(&(kind::FINDING, id.as_str()));
        let v1 = by_record.get(&(kind::FINDING_V1, id.as_str()));
        match (v2, v1) {
            (Some(e), _) => {
                let record = FindingRecord {
                    id: &id,
                    seq,
                    content_hash: &content_hash,
                    signature: signature.as_deref().unwrap_or(""),
                    device_id: &device_id,
                    public_key: public_key.as_deref().unwrap_or(""),
                    inspector_id,
                    received_ms,
                    location_captured_at: location_captured_at.as_deref(),
                };
                if e.record_hash != finding_record_hash(&record) {
                    problem(format!(
                        "its stored record (content, signature, device or its key, inspector, received time, \
                         location time or sequence) differs from what log entry {} recorded (altered)",
                        e.seq
                    ));
                }
            }
            (None, Some(e)) if e.record_hash != content_hash => {
                problem(format!("log entry {} records another content hash (altered)", e.seq))
            }
            (None, Some(_)) => {}
            (None, None) => problem("is not in the evidence log".into()),
        }
        if let Some(e) = v2.or(v1) {
            let logged_ms = parse_ts(&e.at).map(|t| t.as_millisecond());
            if logged_ms.is_none_or(|at| (at - received_ms).abs() > RECEIVED_VS_LOGGED_MS) {
                problem(format!(
                    "its received time {} differs from when log entry {} was written ({}) (altered)",
                    jiff::Timestamp::from_millisecond(received_ms).map(|t| t.to_string()).unwrap_or_default(),
                    e.seq,
                    e.at
                ));
            }
        }
        let photos: Vec<String> = conn
            .prepare_cached("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?
            .query_map([&id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if photos != content.photos {
            problem("its photo list differs from its signed content (altered)".into());
        }
    }
    Ok(())
}

/// Every entry names a record; that record must still be there (and, for
/// the kinds not checked from the record's side, match).
fn check_entries_point_at_records(
    conn: &Connection,
    entries: &[LoggedEntry],
    problems: &mut Vec<String>,
) -> Result<(), AppError> {
    for e in entries {
        let (seq, k, id) = (e.seq, e.kind.as_str(), e.record_id.as_str());
        let exists = |sql: &str, args: &[&dyn crate::db::sql::ToSql]| -> Result<bool, AppError> {
            Ok(conn.query_row(&format!("SELECT EXISTS ({sql})"), args, |r| r.get(0))?)
        };
        match k {
            kind::FINDING | kind::FINDING_V1 => {
                if !exists("SELECT 1 FROM findings WHERE id = ?1", &[&id])? {
                    problems.push(format!("log entry {seq} ({k} {id}): the finding it records is missing (deleted)"));
                }
            }
            kind::REVIEW => {
                let found = match id.rsplit_once("/review/") {
                    Some((finding, n)) => exists(
                        "SELECT 1 FROM finding_reviews WHERE finding_id = ?1 AND revision = ?2",
                        &[&finding, &n.parse::<i64>().unwrap_or(-1)],
                    )?,
                    None => false,
                };
                if !found {
                    problems.push(format!(
                        "log entry {seq} (review {id}): the review decision it records is missing (deleted)"
                    ));
                }
            }
            kind::DRAW_COMMITMENT | kind::DRAW_REVEAL => {
                if !exists("SELECT 1 FROM draws WHERE id = ?1", &[&id])? {
                    problems.push(format!("log entry {seq} ({k} {id}): the draw it records is missing (deleted)"));
                }
            }
            kind::BULLETIN_ISSUE => {
                let bulletin = id.strip_prefix("bulletin/").and_then(|n| n.parse::<i64>().ok()).unwrap_or(-1);
                if !exists("SELECT 1 FROM bulletins WHERE id = ?1 AND status = 'issued'", &[&bulletin])? {
                    problems.push(format!(
                        "log entry {seq} ({k} {id}): the issued bulletin it records is missing or no longer issued (altered)"
                    ));
                }
            }
            kind::DEVICE_ENROLLED => {
                let row: Option<(i64, Option<String>, String)> = conn
                    .query_row("SELECT inspector_id, public_key, enrolled_at FROM devices WHERE id = ?1", [id], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                match row {
                    None => problems.push(format!("log entry {seq} (device {id}): the device is missing (deleted)")),
                    Some((inspector, key, at)) => {
                        if device_record_hash(id, inspector, key.as_deref(), &at) != e.record_hash {
                            problems.push(format!(
                                "device {id}: its public key, inspector or enrollment time differs from what log \
                                 entry {seq} recorded at enrollment (altered)"
                            ));
                        }
                    }
                }
            }
            kind::DEVICE_REVOKED => {
                let row: Option<Option<String>> =
                    conn.query_row("SELECT revoked_at FROM devices WHERE id = ?1", [id], |r| r.get(0)).optional()?;
                match row {
                    None => problems.push(format!("log entry {seq} (device {id}): the device is missing (deleted)")),
                    Some(None) => problems.push(format!(
                        "device {id}: log entry {seq} records its revocation, but it is not revoked (revocation undone)"
                    )),
                    Some(Some(at)) if device_revoked_hash(id, &at) != e.record_hash => problems.push(format!(
                        "device {id}: its revocation time {at} differs from what log entry {seq} recorded (altered)"
                    )),
                    Some(Some(_)) => {}
                }
            }
            kind::IDENTITY_AUDIT => match identity_row(conn, id.parse().unwrap_or(-1))? {
                None => problems
                    .push(format!("identity audit log row {id}: missing (deleted); log entry {seq} recorded it")),
                Some(hash) if hash != e.record_hash => problems
                    .push(format!("identity audit log row {id}: differs from what log entry {seq} recorded (altered)")),
                Some(_) => {}
            },
            kind::CASE_EVENT => {
                if !super::cases::event_exists(conn, id)? {
                    problems
                        .push(format!("log entry {seq} ({k} {id}): the case event it records is missing (deleted)"));
                }
            }
            kind::EXPOSURE_PUBLISH | kind::EXPOSURE_WITHDRAW | kind::EXPOSURE_COMMITMENT => {
                if !super::exposure::logged_record_exists(conn, k, id)? {
                    problems.push(format!(
                        "log entry {seq} ({k} {id}): the exposure entry it records is missing or no longer \
                         published or withdrawn (deleted or altered)"
                    ));
                }
            }
            kind::LEAGUE_ISSUE => {
                if !super::league::logged_month_exists(conn, id)? {
                    problems.push(format!(
                        "log entry {seq} ({k} {id}): the issued league month it records is missing (deleted)"
                    ));
                }
            }
            other => problems.push(format!(
                "log entry {seq}: unknown kind {other:?} (written by a newer anfang-server? verify with that version)"
            )),
        }
    }
    Ok(())
}

fn identity_row(conn: &Connection, id: i64) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row(
            "SELECT id, at, user_id, actor, inspector_id, action, route FROM identity_audit_log WHERE id = ?1",
            [id],
            |r| {
                let (at, actor, action, route): (String, String, String, String) =
                    (r.get(1)?, r.get(3)?, r.get(5)?, r.get(6)?);
                Ok(identity_audit_hash(&IdentityAuditRow {
                    id: r.get(0)?,
                    at: &at,
                    user_id: r.get(2)?,
                    actor: &actor,
                    inspector_id: r.get(4)?,
                    action: &action,
                    route: &route,
                }))
            },
        )
        .optional()?)
}

fn check_devices(
    conn: &Connection,
    by_record: &HashMap<(&str, &str), &LoggedEntry>,
    markers: &Markers,
    audit: &mut Audit,
) -> Result<(), AppError> {
    let mut stmt = conn.prepare("SELECT id, enrolled_at, revoked_at FROM devices ORDER BY enrolled_at, id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        audit.devices += 1;
        let (id, enrolled_at, revoked_at): (String, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if !by_record.contains_key(&(kind::DEVICE_ENROLLED, id.as_str())) && markers.covers(&enrolled_at) {
            audit.problems.push(format!(
                "device {id}: enrolled at {enrolled_at}, but its enrollment is not in the evidence log (inserted or entry removed)"
            ));
        }
        if let Some(at) = revoked_at
            && !by_record.contains_key(&(kind::DEVICE_REVOKED, id.as_str()))
            && markers.covers(&at)
        {
            audit.problems.push(format!("device {id}: revoked at {at}, but the revocation is not in the evidence log"));
        }
    }
    Ok(())
}

fn check_draws(
    conn: &Connection,
    by_record: &HashMap<(&str, &str), &LoggedEntry>,
    problems: &mut Vec<String>,
) -> Result<(), AppError> {
    let mut stmt = conn.prepare("SELECT id, commitment, seed, revealed_at FROM draws ORDER BY created_at, id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (id, commitment, seed, revealed_at): (String, String, String, Option<String>) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        match by_record.get(&(kind::DRAW_COMMITMENT, id.as_str())) {
            None => problems.push(format!("draw {id}: its commitment is not in the evidence log")),
            Some(e) if e.record_hash != commitment => {
                problems.push(format!("draw {id}: its commitment differs from log entry {} (altered)", e.seq))
            }
            Some(_) => {}
        }
        let seed_hash = hex::decode(&seed).map(|s| sha256_hex(&s)).unwrap_or_default();
        match (by_record.get(&(kind::DRAW_REVEAL, id.as_str())), revealed_at) {
            (Some(e), _) if e.record_hash != seed_hash => problems
                .push(format!("draw {id}: its seed differs from the one log entry {} revealed (altered)", e.seq)),
            (Some(e), None) => problems.push(format!(
                "draw {id}: log entry {} records its reveal, but the draw is not revealed (altered)",
                e.seq
            )),
            (None, Some(at)) => {
                problems.push(format!("draw {id}: revealed at {at}, but the reveal is not in the evidence log"))
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_identity_log(
    conn: &Connection,
    by_record: &HashMap<(&str, &str), &LoggedEntry>,
    markers: &Markers,
    problems: &mut Vec<String>,
) -> Result<(), AppError> {
    // Rows before the marker were written before the log was chained.
    let from = markers.identity_from.unwrap_or(0);
    let mut stmt = conn.prepare("SELECT id FROM identity_audit_log WHERE id >= ?1 ORDER BY id")?;
    let ids: Vec<i64> = stmt.query_map([from], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for id in ids {
        if !by_record.contains_key(&(kind::IDENTITY_AUDIT, id.to_string().as_str())) {
            problems.push(format!("identity audit log row {id}: is not in the evidence log (inserted)"));
        }
    }
    Ok(())
}

fn check_photos(conn: &Connection, dir: &PhotoDir, audit: &mut Audit) -> Result<(), AppError> {
    let mut stmt = conn.prepare("SELECT sha256, byte_len FROM photos ORDER BY sha256")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        audit.photos += 1;
        let (sha, len): (String, i64) = (r.get(0)?, r.get(1)?);
        let bytes = match dir.read(&sha, false) {
            Ok(bytes) => bytes,
            Err(e) => {
                audit.problems.push(format!("photo {sha}: {e}"));
                continue;
            }
        };
        let actual = sha256_hex(&bytes);
        if actual != sha {
            audit
                .problems
                .push(format!("photo {sha}: file {} hashes to {actual} (altered)", dir.describe(&sha, false)));
            continue;
        } else if bytes.len() as i64 != len {
            audit.problems.push(format!("photo {sha}: recorded size {len} differs from the file's"));
        }
        // The thumbnail is what bulletins and the review queue show. It is
        // derived from the photo deterministically (the server made it with
        // this same function on upload), so it is checked by remaking it.
        let options = anfang_core::photo::PhotoOptions::default();
        match (dir.read(&sha, true), anfang_core::photo::thumbnail_of_stored(&bytes, &options)) {
            (Ok(thumb), Ok((_, _, remade))) if thumb == remade => {}
            (Ok(_), Ok(_)) => audit.problems.push(format!(
                "thumbnail of photo {sha}: file {} is not the thumbnail of its photo (altered)",
                dir.describe(&sha, true)
            )),
            (Err(e), _) => audit.problems.push(format!("thumbnail of photo {sha}: {e}")),
            (_, Err(e)) => audit.problems.push(format!("photo {sha}: cannot remake its thumbnail: {e}")),
        }
    }
    Ok(())
}

impl super::Db {
    /// The evidence log's chain head: its length and last entry's hash.
    pub async fn evidence_head(&self) -> Result<ChainHead, AppError> {
        self.read(head).await
    }

    /// The audit (see [`audit`]) of this database as it serves, in one
    /// read snapshot, on either engine; `verify` audits a SQLite file
    /// without a server through [`open_for_audit`].
    pub async fn audit_evidence(&self, photos: PhotoDir, expected: Option<ChainHead>) -> Result<Audit, AppError> {
        self.read(move |conn| {
            let snapshot = conn.unchecked_transaction()?;
            audit(&snapshot, &photos, expected.as_ref())
        })
        .await
    }
}

/// The SQLite URI that opens `path` read-only; `immutable` for a file no
/// process writes (no -wal beside it), so SQLite creates nothing there.
pub(in crate::db) fn read_only_uri(path: &Path, immutable: bool) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            '%' => uri.push_str("%25"),
            c => uri.push(c),
        }
    }
    uri.push_str(if immutable { "?mode=ro&immutable=1" } else { "?mode=ro" });
    uri
}

/// A database opened for an audit: read-only, and only at the schema
/// version this build knows (see [`open_for_audit`]).
pub struct AuditDb(Connection);

/// Opens the database file at `path` for an audit: read-only (an audit that
/// migrated or checkpointed the file it audits would change the evidence),
/// and only at the schema version this build knows, which it refuses to
/// guess about. The error is the sentence the command line prints.
pub fn open_for_audit(path: &Path) -> Result<AuditDb, String> {
    use rusqlite::OpenFlags;
    // Without a -wal file nobody has the database open in WAL mode, and the
    // file alone is the whole state: open it `immutable`, or SQLite would
    // create (empty) -wal and -shm files beside it even read-only. With a
    // -wal file (a server running, or killed) it must be read through.
    let mut wal = path.to_owned().into_os_string();
    wal.push("-wal");
    let wal_exists = Path::new(&wal).exists();
    let uri = read_only_uri(path, !wal_exists);
    let conn = rusqlite::Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map(Connection::from_sqlite)
    .map_err(|e| format!("opening {} read-only: {e}", path.display()))?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    let known = super::MIGRATIONS.len() as i64;
    if found != known {
        return Err(format!(
            "{} is at schema version {found}, but this anfang-server verifies schema version {known}; \
             verify it with the anfang-server release of schema version {found} (verify never upgrades a database)",
            path.display()
        ));
    }
    Ok(AuditDb(conn))
}

/// Connects to a PostgreSQL database for an audit: a read-only snapshot
/// (REPEATABLE READ, so instances writing meanwhile cannot make one part of
/// the audit disagree with another), only at the schema version this build
/// knows, and never migrated. Blocking: call it off any async runtime.
pub fn connect_for_audit(url: &str) -> Result<AuditDb, String> {
    let config = super::postgres_config(url).map_err(|e| e.to_string())?;
    let conn = Connection::connect_postgres(&config, false).map_err(|e| super::cannot_connect(url, e).to_string())?;
    let found = super::postgres_schema_version(&conn).map_err(|e| e.to_string())?;
    let known = super::MIGRATIONS_PG.len() as i64;
    if found != known {
        return Err(format!(
            "the PostgreSQL database is at schema version {found}, but this anfang-server verifies schema version \
             {known}; verify it with the anfang-server release of schema version {found} (verify never upgrades a \
             database)"
        ));
    }
    Ok(AuditDb(conn))
}

impl AuditDb {
    /// The connection, for the copy into PostgreSQL (`db::copy`), which
    /// reads the file under the same rules.
    pub(in crate::db) fn connection(&self) -> &Connection {
        &self.0
    }

    /// The chain head as stored (not checked: that is the audit's work).
    pub fn head(&self) -> Result<ChainHead, AppError> {
        head(&self.0)
    }

    /// The audit (see [`audit`]), in one read transaction: a server
    /// writing meanwhile is not seen half-way.
    pub fn audit(&self, photos: &PhotoDir, expected: Option<&ChainHead>) -> Result<Audit, AppError> {
        let snapshot = self.0.unchecked_transaction()?;
        audit(&snapshot, photos, expected)
    }
}
