//! Bulletins: drafts, issue with gapless yearly numbers, and the queries that
//! feed the compiler and the exports.
//!
//! **Invariant (numbering):** a bulletin's `sequence` is assigned only inside
//! the write transaction that issues it, as one more than the highest issued
//! sequence of its year; drafts hold no number, so a draft that is never
//! issued consumes none. A trigger refuses any other number, and issued rows
//! are immutable (triggers refuse UPDATE and DELETE).
//!
//! The finding queries read the *effective* values of a review (the
//! `finding_state` view) and select no inspector, device or account column;
//! the case queries select no inspector, actor, coordinate, note or capture
//! time either (`rectification_cases.inspector_id` stays in the office).

use super::sql::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use crate::bulletin::export::ExportRow;
use crate::bulletin::rectification::{self, CaseEvent, CaseRow, RankWeights};
use crate::bulletin::{Deadlines, FindingRow, Period, Text};
use crate::error::AppError;
use serde::Serialize;

/// The exports' rows as [`Db::export_rows`] streams them: batches in
/// observation order, an error as the last item if reading failed.
pub type ExportBatches = tokio::sync::mpsc::Receiver<Result<Vec<ExportRow>, AppError>>;

/// A stored bulletin row.
#[derive(Debug, Clone, Serialize)]
pub struct BulletinRow {
    pub id: i64,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub status: String,
    pub title: String,
    pub lead: String,
    pub closing: String,
    pub distribution: String,
    pub issuing_body: String,
    pub compiler: String,
    #[serde(skip)]
    pub compiled: String,
    pub compiled_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub year: Option<i32>,
    pub sequence: Option<i64>,
    pub number: Option<String>,
    #[serde(skip)]
    pub snapshot: Option<String>,
    pub content_hash: Option<String>,
    pub issued_at: Option<String>,
}

/// The office's settings a new draft starts from.
#[derive(Debug, Clone)]
pub struct OfficeSettings {
    pub issuing_body: String,
    pub distribution: String,
    pub compiler: String,
}

fn bulletin_row(r: &Row<'_>) -> crate::db::sql::Result<BulletinRow> {
    Ok(BulletinRow {
        id: r.get("id")?,
        kind: r.get("kind")?,
        from: r.get("date_from")?,
        to: r.get("date_to")?,
        status: r.get("status")?,
        title: r.get("title")?,
        lead: r.get("lead")?,
        closing: r.get("closing")?,
        distribution: r.get("distribution")?,
        issuing_body: r.get("issuing_body")?,
        compiler: r.get("compiler")?,
        compiled: r.get("compiled")?,
        compiled_at: r.get("compiled_at")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        year: r.get("year")?,
        sequence: r.get("sequence")?,
        number: r.get("number")?,
        snapshot: r.get("snapshot")?,
        content_hash: r.get("content_hash")?,
        issued_at: r.get("issued_at")?,
    })
}

pub(in crate::db) fn settings(conn: &Connection) -> Result<OfficeSettings, AppError> {
    let get = |key: &str, default: &str| -> Result<String, AppError> {
        Ok(conn
            .query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| default.to_owned()))
    };
    Ok(OfficeSettings {
        issuing_body: get("issuing_body", "四城同创办")?,
        distribution: get("distribution", "")?,
        compiler: get("compiler", "四城同创办")?,
    })
}

pub(in crate::db) fn deadlines(conn: &Connection) -> Result<Deadlines, AppError> {
    let mut stmt = conn.prepare("SELECT card, days FROM card_deadlines")?;
    let rows = stmt.query_map([], |r| Ok((super::parsed(r, 0)?, r.get::<_, Option<i64>>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Accepted and corrected findings observed in [from_ms, to_ms), with their
/// effective category, unit and card. Notes have aliases masked: bulletins
/// are read by leaders, units and the public.
pub(in crate::db) fn reviewed_findings(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<FindingRow>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.observed_ms, f.point_id, p.name, p.kind, p.leader, p.district,
                s.unit_id, u.name, s.category, c.name, s.card, s.status, s.decided_at,
                f.note, f.content_hash,
                (SELECT sha256 FROM finding_photos WHERE finding_id = f.id ORDER BY position LIMIT 1),
                (SELECT count(*) FROM finding_photos WHERE finding_id = f.id),
                (SELECT public_ref FROM finding_public_refs WHERE finding_id = f.id)
         FROM findings f
         JOIN finding_state s ON s.finding_id = f.id
         JOIN points p ON p.id = f.point_id
         JOIN units u ON u.id = s.unit_id
         JOIN categories c ON c.code = s.category
         WHERE f.observed_ms >= ?1 AND f.observed_ms < ?2 AND s.status IN ('accept', 'correct')
         ORDER BY f.observed_ms, f.id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        let decided: Option<String> = r.get(13)?;
        Ok(FindingRow {
            id: r.get(0)?,
            observed_ms: r.get(1)?,
            point_id: r.get(2)?,
            point_name: r.get(3)?,
            point_kind: r.get(4)?,
            point_leader: r.get(5)?,
            district: r.get(6)?,
            unit_id: r.get(7)?,
            unit_name: r.get(8)?,
            category: r.get(9)?,
            category_name: r.get(10)?,
            card: super::parsed(r, 11)?,
            decision: super::parsed(r, 12)?,
            decided_at: decided.and_then(|d| d.parse().ok()),
            note: r.get(14)?,
            content_hash: r.get(15)?,
            first_photo: r.get(16)?,
            photo_count: r.get(17)?,
            public_ref: r.get(18)?,
        })
    })?;
    let mask = super::accounts::alias_mask(conn)?;
    let mut rows: Vec<FindingRow> = rows.collect::<Result<_, _>>()?;
    rows.iter_mut().for_each(|r| mask.mask_note(&mut r.note));
    Ok(rows)
}

/// The rectification cases that can matter to a bulletin of [from_ms,
/// to_ms): opened before its end, and not closed or cancelled before it
/// began unless their deadline falls in it (a case closed early is still
/// due in the period of its deadline). The compile filters precisely; this
/// only keeps the read small. Unit is the case's (current) unit; point and
/// category are the finding's effective ones.
pub(in crate::db) fn case_rows(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<Vec<CaseRow>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.public_ref, (SELECT public_ref FROM finding_public_refs WHERE finding_id = c.finding_id),
                c.unit_id, u.name, p.name, cat.name, c.card, c.state,
                c.opened_ms, c.notified_ms, c.deadline_ms, c.answered_ms, c.closed_ms,
                c.rework_count, c.deferred_until, c.supervised,
                (SELECT sha256 FROM finding_photos WHERE finding_id = c.finding_id ORDER BY position LIMIT 1),
                (SELECT a.sha256 FROM case_attachments a JOIN case_events e ON e.case_id = a.case_id AND e.seq = a.seq
                 WHERE a.case_id = c.id AND a.kind = 'photo' AND e.event IN ('recheck_passed', 'answered')
                 ORDER BY e.event = 'recheck_passed' DESC, e.seq DESC, a.position LIMIT 1),
                EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.event = 'recheck_passed')
         FROM rectification_cases c
         JOIN findings f ON f.id = c.finding_id
         JOIN finding_state s ON s.finding_id = c.finding_id
         JOIN points p ON p.id = f.point_id
         JOIN units u ON u.id = c.unit_id
         JOIN categories cat ON cat.code = s.category
         WHERE c.opened_ms < ?2 AND (c.closed_ms IS NULL OR c.closed_ms >= ?1 OR c.deadline_ms > ?1)
         ORDER BY c.id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        let deferred: Option<String> = r.get(15)?;
        Ok(CaseRow {
            id: r.get(0)?,
            case_ref: r.get(1)?,
            evidence_id: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            unit_id: r.get(3)?,
            unit_name: r.get(4)?,
            point_name: r.get(5)?,
            category_name: r.get(6)?,
            card: super::parsed(r, 7)?,
            state: super::parsed(r, 8)?,
            opened_ms: r.get(9)?,
            notified_ms: r.get(10)?,
            deadline_ms: r.get(11)?,
            answered_ms: r.get(12)?,
            closed_ms: r.get(13)?,
            rework_count: r.get(14)?,
            deferred_until: deferred.and_then(|d| d.parse().ok()),
            supervised: r.get(16)?,
            before_photo: r.get(17)?,
            after_photo: r.get(18)?,
            closed_by_recheck: r.get(19)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The events of [from_ms, to_ms) the period's figures count (re-checks,
/// reassignments, extensions, deferrals): name, case and time only.
pub(in crate::db) fn case_events(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<Vec<CaseEvent>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_id, at_ms, event FROM case_events
         WHERE at_ms >= ?1 AND at_ms < ?2
           AND event IN ('recheck_passed', 'recheck_failed', 'reassigned', 'extension_granted', 'deferred')
         ORDER BY at_ms, case_id, seq",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        Ok(CaseEvent { case_id: r.get(0)?, at_ms: r.get(1)?, event: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The ranking weights from the office settings (70/30 where a key is
/// missing). Weights that are not whole percents summing to 100 are refused
/// with the reason, rather than ranked by something nobody set.
pub(in crate::db) fn rank_weights(conn: &Connection) -> Result<RankWeights, AppError> {
    let get = |key: &str, default: i64| -> Result<i64, AppError> {
        let value: Option<String> =
            conn.query_row("SELECT value FROM office_settings WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        match value {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                AppError::Unprocessable(format!("the office setting {key} is {v:?}, not a whole percent"))
            }),
        }
    };
    let d = RankWeights::default();
    RankWeights::new(
        get("rank_weight_compliance", d.compliance as i64)?,
        get("rank_weight_rectification", d.rectification as i64)?,
    )
    .map_err(AppError::Unprocessable)
}

/// Rows per batch of a streamed export: about 300 KB of CSV.
const EXPORT_BATCH: usize = 1000;

/// Sends every finding observed in [from_ms, to_ms), whatever its review
/// state, to `out`, in observation order, in batches of [`EXPORT_BATCH`];
/// notes have aliases masked (exports leave the office). Stops early when
/// the consumer has gone. `conn` is inside one read transaction, so the rows and the alias
/// mask are one snapshot however long the download takes.
fn export_rows(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    out: &mut super::Batches<ExportRow>,
) -> Result<(), AppError> {
    let mask = super::accounts::alias_mask(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.content_hash, f.observed_ms, s.status, f.point_id, p.name, p.kind, p.district, p.lat, p.lon,
                s.unit_id, u.name, s.category, c.name, s.card, f.note, f.lat, f.lon, f.accuracy_m,
                (SELECT count(*) FROM finding_photos WHERE finding_id = f.id)
         FROM findings f
         JOIN finding_state s ON s.finding_id = f.id
         JOIN points p ON p.id = f.point_id
         JOIN units u ON u.id = s.unit_id
         JOIN categories c ON c.code = s.category
         WHERE f.observed_ms >= ?1 AND f.observed_ms < ?2
         ORDER BY f.observed_ms, f.id",
    )?;
    let mut batch = Vec::with_capacity(EXPORT_BATCH);
    // Streamed: on PostgreSQL `query_map` would read a year's rows whole.
    stmt.for_each_row(params![from_ms, to_ms], |r| {
        let mut row = ExportRow {
            id: r.get(0)?,
            content_hash: r.get(1)?,
            observed_ms: r.get(2)?,
            status: r.get(3)?,
            point_id: r.get(4)?,
            point_name: r.get(5)?,
            point_kind: r.get(6)?,
            district: r.get(7)?,
            point_lat: r.get(8)?,
            point_lon: r.get(9)?,
            unit_id: r.get(10)?,
            unit_name: r.get(11)?,
            category: r.get(12)?,
            category_name: r.get(13)?,
            card: super::parsed(r, 14)?,
            note: r.get(15)?,
            lat: r.get(16)?,
            lon: r.get(17)?,
            accuracy_m: r.get(18)?,
            photo_count: r.get(19)?,
        };
        mask.mask_note(&mut row.note);
        batch.push(row);
        // False when the consumer has gone: stop reading.
        Ok(batch.len() < EXPORT_BATCH || out.send(std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_BATCH))))
    })?;
    if !batch.is_empty() {
        out.send(batch);
    }
    Ok(())
}

fn issued_conflict(id: i64, number: Option<&str>) -> AppError {
    AppError::Conflict {
        message: format!(
            "bulletin {id} was issued as {} and can no longer be changed; compile a new bulletin instead",
            number.unwrap_or("a numbered bulletin")
        ),
        offset: None,
    }
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("no bulletin with id {id}"))
}

/// Stores a new draft with its compiled body.
pub(in crate::db) fn create(
    conn: &Connection,
    period: &Period,
    text: &Text,
    settings: &OfficeSettings,
    compiled_json: &str,
    user_id: i64,
    now: jiff::Timestamp,
) -> Result<i64, AppError> {
    // Compiled, created and updated at the same instant.
    let (compiled_at, now) = (now.to_string(), now.to_string());
    conn.execute(
        "INSERT INTO bulletins (kind, date_from, date_to, title, lead, closing, distribution, issuing_body, compiler,
                                compiled, compiled_at, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            period.kind.as_str(),
            period.from.to_string(),
            period.to.to_string(),
            text.title,
            text.lead,
            text.closing,
            text.distribution,
            settings.issuing_body,
            settings.compiler,
            compiled_json,
            compiled_at,
            user_id,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub(in crate::db) fn get(conn: &Connection, id: i64) -> Result<Option<BulletinRow>, AppError> {
    Ok(conn.query_row("SELECT * FROM bulletins WHERE id = ?1", [id], bulletin_row).optional()?)
}

/// Newest first.
#[doc(hidden)]
pub fn list(conn: &Connection, limit: i64) -> Result<Vec<BulletinRow>, AppError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, date_from, date_to, status, title, lead, closing, distribution, issuing_body, compiler,
                '' AS compiled, compiled_at, created_at, updated_at, year, sequence, number, NULL AS snapshot,
                content_hash, issued_at
         FROM bulletins ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], bulletin_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn draft(conn: &Connection, id: i64) -> Result<BulletinRow, AppError> {
    let row = get(conn, id)?.ok_or_else(|| not_found(id))?;
    if row.status == "issued" {
        return Err(issued_conflict(id, row.number.as_deref()));
    }
    Ok(row)
}

/// Changes a draft's text; 409 once issued.
pub(in crate::db) fn update_text(
    conn: &mut Connection,
    id: i64,
    text: &Text,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    draft(&tx, id)?;
    tx.execute(
        "UPDATE bulletins SET title = ?2, lead = ?3, closing = ?4, distribution = ?5, updated_at = ?6 WHERE id = ?1",
        params![id, text.title, text.lead, text.closing, text.distribution, now.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Replaces a draft's compiled body; 409 once issued.
pub(in crate::db) fn store_compiled(
    conn: &mut Connection,
    id: i64,
    compiled_json: &str,
    compiled_at: &str,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    draft(&tx, id)?;
    tx.execute(
        "UPDATE bulletins SET compiled = ?2, compiled_at = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, compiled_json, compiled_at, now.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// What issuing assigned.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Issued {
    pub id: i64,
    pub number: String,
    pub year: i32,
    pub sequence: i64,
    pub content_hash: String,
    pub issued_at: String,
}

/// Issues a draft in one transaction: takes the next number of `year`,
/// freezes the snapshot `freeze` builds for that number and the evidence
/// chain head, stores its SHA-256
/// and appends a `bulletin_issue` entry to the evidence log.
pub(in crate::db) fn issue(
    conn: &mut Connection,
    id: i64,
    year: i32,
    user_id: i64,
    now: jiff::Timestamp,
    freeze: impl FnOnce(&BulletinRow, i32, i64, &str, &super::evidence::ChainHead) -> Result<String, AppError>,
) -> Result<Issued, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row = draft(&tx, id)?;
    let sequence: i64 = tx.query_row(
        "SELECT coalesce(max(sequence), 0) + 1 FROM bulletins WHERE status = 'issued' AND year = ?1",
        [year],
        |r| r.get(0),
    )?;
    let number = crate::bulletin::number(year, sequence);
    // The chain head as it stands before this issue's own entry (which
    // covers the snapshot, so cannot be in it): printed in the bulletin, it
    // anchors the whole history up to here outside the database.
    let chain = super::evidence::head(&tx)?;
    let snapshot = freeze(&row, year, sequence, &number, &chain)?;
    let content_hash = anfang_core::domain::sha256_hex(snapshot.as_bytes());
    let issued_at = now.to_string();
    tx.execute(
        "UPDATE bulletins SET status = 'issued', year = ?2, sequence = ?3, number = ?4, snapshot = ?5,
                content_hash = ?6, issued_at = ?7, issued_by = ?8, updated_at = ?7
         WHERE id = ?1",
        params![id, year, sequence, number, snapshot, content_hash, issued_at, user_id],
    )?;
    super::evidence::append(&tx, "bulletin_issue", &format!("bulletin/{id}"), &content_hash, now)?;
    tx.commit()?;
    Ok(Issued { id, number, year, sequence, content_hash, issued_at })
}

/// Re-checks every issued bulletin for `anfang-server verify`: its snapshot
/// against its content hash, and its hash against its evidence-log entry.
/// Appends one line per problem to `problems`; returns how many it checked.
pub(in crate::db) fn audit(conn: &Connection, problems: &mut Vec<String>) -> Result<usize, AppError> {
    let mut stmt = conn.prepare(
        "SELECT b.id, b.number, b.snapshot, b.content_hash,
                (SELECT record_hash FROM evidence_log WHERE kind = 'bulletin_issue' AND record_id = 'bulletin/' || b.id)
         FROM bulletins b WHERE b.status = 'issued' ORDER BY b.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut checked = 0;
    while let Some(r) = rows.next()? {
        checked += 1;
        let (id, number, snapshot, hash, logged): (i64, String, String, String, Option<String>) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        if anfang_core::domain::sha256_hex(snapshot.as_bytes()) != hash {
            problems.push(format!("bulletin {id} ({number}): its snapshot does not match its content hash (altered)"));
        }
        match logged {
            Some(h) if h == hash => {}
            Some(_) => problems
                .push(format!("bulletin {id} ({number}): the evidence log records another content hash (altered)")),
            None => problems.push(format!("bulletin {id} ({number}): is not in the evidence log")),
        }
    }
    Ok(checked)
}

/// What compiling a period reads: its reviewed findings, the previous
/// period's, the card deadlines and the rectification cases.
pub struct BulletinInputs {
    pub rows: Vec<FindingRow>,
    pub previous: Vec<FindingRow>,
    pub deadlines: Deadlines,
    pub cases: rectification::Inputs,
}

impl super::Db {
    pub async fn bulletin(&self, id: i64) -> Result<Option<BulletinRow>, AppError> {
        self.read(move |c| get(c, id)).await
    }

    /// The newest `limit` bulletins, without their bodies.
    pub async fn bulletins(&self, limit: i64) -> Result<Vec<BulletinRow>, AppError> {
        self.read(move |c| list(c, limit)).await
    }

    pub async fn bulletin_settings(&self) -> Result<OfficeSettings, AppError> {
        self.read(settings).await
    }

    /// The inputs of a period's compile, in one read (so the findings and
    /// the cases are of the same moment).
    pub async fn bulletin_inputs(
        &self,
        (from, to): (i64, i64),
        (prev_from, prev_to): (i64, i64),
    ) -> Result<BulletinInputs, AppError> {
        self.read(move |c| {
            Ok(BulletinInputs {
                rows: reviewed_findings(c, from, to)?,
                previous: reviewed_findings(c, prev_from, prev_to)?,
                deadlines: deadlines(c)?,
                cases: rectification::Inputs {
                    cases: case_rows(c, from, to)?,
                    events: case_events(c, from, to)?,
                    weights: rank_weights(c)?,
                },
            })
        })
        .await
    }

    /// Stores a new draft and reads it back.
    pub async fn create_bulletin(
        &self,
        period: Period,
        text: Text,
        settings: OfficeSettings,
        compiled: String,
        user_id: i64,
        now: jiff::Timestamp,
    ) -> Result<BulletinRow, AppError> {
        self.write(move |c| {
            let id = create(c, &period, &text, &settings, &compiled, user_id, now)?;
            get(c, id)?.ok_or_else(|| AppError::internal("a new bulletin could not be read back"))
        })
        .await
    }

    /// Changes a draft's text to what `edit` makes of the stored row (given
    /// the inspector aliases it must not name); 404 unknown, 409 issued.
    pub async fn edit_bulletin_text(
        &self,
        id: i64,
        edit: impl FnOnce(&BulletinRow, &crate::redact::AliasMask) -> Result<Text, AppError> + Send + 'static,
        now: jiff::Timestamp,
    ) -> Result<BulletinRow, AppError> {
        self.write(move |c| {
            let row = get(c, id)?.ok_or_else(|| not_found(id))?;
            let mask = super::accounts::alias_mask(c)?;
            let text = edit(&row, &mask)?;
            update_text(c, id, &text, now)?;
            get(c, id)?.ok_or_else(|| AppError::internal("an edited bulletin could not be read back"))
        })
        .await
    }

    /// Replaces a draft's compiled body (compiled at `now`); 409 once issued.
    pub async fn store_compiled_bulletin(
        &self,
        id: i64,
        compiled: String,
        now: jiff::Timestamp,
    ) -> Result<BulletinRow, AppError> {
        self.write(move |c| {
            store_compiled(c, id, &compiled, &now.to_string(), now)?;
            get(c, id)?.ok_or_else(|| AppError::internal("a recompiled bulletin could not be read back"))
        })
        .await
    }

    /// Issues a draft in one transaction (see [`issue`]).
    pub async fn issue_bulletin(
        &self,
        id: i64,
        year: i32,
        user_id: i64,
        now: jiff::Timestamp,
        freeze: impl FnOnce(&BulletinRow, i32, i64, &str, &super::evidence::ChainHead) -> Result<String, AppError>
        + Send
        + 'static,
    ) -> Result<Issued, AppError> {
        self.write(move |c| issue(c, id, year, user_id, now, freeze)).await
    }

    /// Every finding observed in [from, to) (ms), for the exports: in
    /// batches, from one snapshot, as fast as the receiver reads them (see
    /// [`Db::read_streamed`]), so an export of a year holds a few thousand
    /// rows in memory rather than all of them.
    pub async fn export_rows(&self, (from, to): (i64, i64)) -> Result<ExportBatches, AppError> {
        self.read_streamed(move |c, out| export_rows(c, from, to, out)).await
    }
}
