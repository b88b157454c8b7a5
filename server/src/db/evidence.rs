//! The evidence log, and the audit that re-checks everything against it.
//!
//! Every accepted record is appended to `evidence_log` in the transaction
//! that stores it. Each entry's hash covers the previous entry's hash and
//! this entry's fields, so altering, removing or reordering any entry breaks
//! every hash after it (the idea of RFC 6962's logs, without the tree).
//!
//! `entry_hash = SHA-256("anfang-log-v1\n" prev_hash "\n" kind "\n" record_id "\n" record_hash "\n" at)`

use crate::error::AppError;
use anfang_core::domain::{FindingContent, sha256_hex};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn entry_hash(prev: &str, kind: &str, record_id: &str, record_hash: &str, at: &str) -> String {
    sha256_hex(format!("anfang-log-v1\n{prev}\n{kind}\n{record_id}\n{record_hash}\n{at}").as_bytes())
}

/// Appends an entry; call inside the transaction that stores the record.
pub fn append(conn: &Connection, kind: &str, record_id: &str, record_hash: &str) -> Result<(), AppError> {
    let prev: String = conn
        .query_row("SELECT entry_hash FROM evidence_log ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| GENESIS.to_owned());
    let at = jiff::Timestamp::now().to_string();
    let hash = entry_hash(&prev, kind, record_id, record_hash, &at);
    conn.execute(
        "INSERT INTO evidence_log (kind, record_id, record_hash, at, prev_hash, entry_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![kind, record_id, record_hash, at, prev, hash],
    )?;
    Ok(())
}

/// What an audit found: one line per problem, naming exactly what was altered.
#[derive(Debug, Default)]
pub struct Audit {
    pub log_entries: usize,
    pub findings: usize,
    pub photos: usize,
    pub problems: Vec<String>,
}

/// Re-checks the log chain, every finding (row against its signed content,
/// signature against its device key, presence in the log) and every photo
/// file against its hash.
pub fn audit(conn: &Connection, photo_path: &dyn Fn(&str) -> std::path::PathBuf) -> Result<Audit, AppError> {
    let mut audit = Audit::default();
    let mut logged = std::collections::HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT seq, kind, record_id, record_hash, at, prev_hash, entry_hash FROM evidence_log ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = GENESIS.to_owned();
        while let Some(r) = rows.next()? {
            let (seq, kind, id, record_hash, at, prev_hash, hash): (
                i64,
                String,
                String,
                String,
                String,
                String,
                String,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
            audit.log_entries += 1;
            if prev_hash != prev {
                audit.problems.push(format!("log entry {seq}: does not follow the entry before it (chain broken)"));
            }
            if entry_hash(&prev_hash, &kind, &id, &record_hash, &at) != hash {
                audit
                    .problems
                    .push(format!("log entry {seq} ({kind} {id}): its content does not match its hash (altered)"));
            }
            logged.insert(id, (seq, record_hash));
            prev = hash;
        }
    }
    let mut stmt = conn.prepare(
        "SELECT f.id, f.point_id, f.unit_id, f.category, f.card, f.note, f.observed_ms, f.lat, f.lon,
                f.accuracy_m, f.content, f.content_hash, f.signature, d.public_key
         FROM findings f JOIN devices d ON d.id = f.device_id ORDER BY f.seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        audit.findings += 1;
        let id: String = r.get(0)?;
        let content_text: String = r.get(10)?;
        let content_hash: String = r.get(11)?;
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
        match (r.get::<_, Option<String>>(12)?, r.get::<_, Option<String>>(13)?) {
            (Some(sig), Some(key)) => {
                if let Err(e) = anfang_core::evidence::verify(&key, &content, &sig) {
                    problem(format!("signature check failed: {e}"));
                }
            }
            _ => problem("has no device signature".into()),
        }
        match logged.get(&id) {
            Some((_, h)) if *h == content_hash => {}
            Some((seq, _)) => problem(format!("log entry {seq} records another content hash (altered)")),
            None => problem("is not in the evidence log".into()),
        }
        let photos: Vec<String> = conn
            .prepare_cached("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?
            .query_map([&id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if photos != content.photos {
            problem("its photo list differs from its signed content (altered)".into());
        }
    }
    audit.problems.extend(super::reviews::audit(conn, &logged)?);
    // Issued bulletins are evidence too: their frozen snapshots and hashes.
    super::bulletins::audit(conn, &mut audit.problems)?;
    let mut stmt = conn.prepare("SELECT sha256, byte_len FROM photos ORDER BY sha256")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        audit.photos += 1;
        let (sha, len): (String, i64) = (r.get(0)?, r.get(1)?);
        let path = photo_path(&sha);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if actual != sha {
                    audit.problems.push(format!("photo {sha}: file {} hashes to {actual} (altered)", display(&path)));
                } else if bytes.len() as i64 != len {
                    audit.problems.push(format!("photo {sha}: recorded size {len} differs from the file's"));
                }
            }
            Err(e) => audit.problems.push(format!("photo {sha}: cannot read {}: {e} (missing)", display(&path))),
        }
    }
    Ok(audit)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
