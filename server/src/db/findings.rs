//! Findings as received from devices, and the office's view of them.
//!
//! **Invariant:** a push batch is one transaction, and a finding id is stored
//! at most once. A replay with identical content is answered `duplicate`;
//! the same id with other content is refused (409), never overwritten.
//! What is accepted is the sync service's decision (`app::sync::judge`);
//! this module reads the facts it needs and stores what it accepts, in the
//! batch's one transaction.

use super::sql::{Connection, OptionalExtension, params};
use crate::auth::DeviceCaller;
use crate::error::AppError;
use anfang_core::domain::{FindingContent, haversine_m};
use anfang_core::protocol::{PushOutcome, PushResult, SignedFinding};
use serde::Serialize;

/// A linked finding received more than this after its slot ended is shown
/// to reviewers as a late arrival: its `observed_at` is the phone's word, so
/// a visit "made" in the slot but synced much later deserves a look.
pub const LATE_AFTER_MS: i64 = 12 * 60 * 60 * 1000;

/// A finding already stored under a pushed id.
#[derive(Debug, Clone)]
pub struct StoredFinding {
    pub content_hash: String,
    pub device_id: String,
}

/// What the store knows about a pushed finding, read inside the batch's
/// transaction for the service to decide on.
#[derive(Debug, Clone, Default)]
pub struct PushFacts {
    /// The finding stored under this id, if any.
    pub stored: Option<StoredFinding>,
    pub point_known: bool,
    pub unit_known: bool,
    pub category_known: bool,
    /// The drawn visit the finding links to (`None`: not linked, or no such
    /// assignment).
    pub visit: Option<super::draws::Visit>,
    /// When the pushing device was enrolled (ms), for a linked finding.
    pub device_enrolled_ms: Option<i64>,
    /// The re-check (复查) the linked assignment is for, if it is one.
    pub recheck: Option<super::rechecks::RecheckVisit>,
    /// The finding's photos the server does not have yet.
    pub missing_photos: Vec<String>,
}

/// The service's decision on one finding, given its facts and "now" (ms).
pub type Judge = fn(&DeviceCaller, &FindingContent, &PushFacts, i64) -> PushOutcome;

/// The service's decision on a re-check's case (`app::cases::recheck_decision`):
/// facts, inspector, passed, finding id, photos, now, office time zone.
pub type RecheckRule = fn(
    &super::cases::CaseFacts,
    i64,
    bool,
    &str,
    &[String],
    jiff::Timestamp,
    &jiff::tz::TimeZone,
) -> Result<(crate::rectification::case::Case, super::cases::NewEvent), AppError>;

/// The rules a push batch is judged by, from the sync service.
#[derive(Clone)]
pub struct PushRules {
    pub judge: Judge,
    pub recheck: RecheckRule,
    /// The office time zone (a failed re-check's rework deadline).
    pub tz: jiff::tz::TimeZone,
}

impl super::Db {
    /// Stores a batch of findings for one device, all in one transaction:
    /// per finding, reads its [`PushFacts`], asks `judge`, and stores it
    /// (with its evidence-log entry) only if the answer is `Accepted`.
    pub async fn push_batch(
        &self,
        device: &DeviceCaller,
        batch: Vec<SignedFinding>,
        now: jiff::Timestamp,
        rules: PushRules,
    ) -> Result<Vec<PushResult>, AppError> {
        let device = device.clone();
        self.write(move |c| store_batch(c, &device, &batch, now.as_millisecond(), &rules)).await
    }

    /// One finding as the office sees it, by id or by the public reference
    /// a unit or a bulletin quotes; with the inspector aliases to mask.
    pub async fn finding_with_mask(
        &self,
        id_or_ref: &str,
    ) -> Result<(Option<FindingRecord>, crate::redact::AliasMask), AppError> {
        let lookup = id_or_ref.to_owned();
        self.read(move |c| {
            let found = match record(c, &lookup)? {
                None => match super::unit_portal::finding_for_ref(c, &lookup)? {
                    Some(id) => record(c, &id)?,
                    None => None,
                },
                found => found,
            };
            Ok((found, super::accounts::alias_mask(c)?))
        })
        .await
    }

    /// The console's finding page: looked up by the public reference a unit
    /// quotes first, then by id; with its public reference and the aliases
    /// to mask.
    #[allow(clippy::type_complexity)]
    pub async fn finding_with_public_ref(
        &self,
        ref_or_id: &str,
    ) -> Result<(Option<(FindingRecord, Option<String>)>, crate::redact::AliasMask), AppError> {
        let lookup = ref_or_id.to_owned();
        self.read(move |c| {
            let id = match super::unit_portal::finding_for_ref(c, &lookup)? {
                Some(id) => id,
                None => lookup,
            };
            let public_ref = super::unit_portal::public_ref(c, &id)?;
            Ok((record(c, &id)?.map(|f| (f, public_ref)), super::accounts::alias_mask(c)?))
        })
        .await
    }

    /// One page of the office list, with the inspector aliases to mask.
    pub async fn list_findings(
        &self,
        filter: ListFilter,
    ) -> Result<(Vec<FindingRecord>, crate::redact::AliasMask), AppError> {
        self.read(move |c| Ok((records(c, &filter)?, super::accounts::alias_mask(c)?))).await
    }
}

/// The pushed-batch transaction at connection level: the route table's
/// tests (`routes/mod.rs`) still call it with a connection; it runs the
/// sync service's rules exactly as [`super::Db::push_batch`] does, until
/// they are switched over.
#[doc(hidden)]
pub fn push_batch(
    conn: &mut Connection,
    device: &DeviceCaller,
    findings: &[SignedFinding],
    now_ms: i64,
) -> Result<Vec<PushResult>, AppError> {
    let mut refused = Vec::new();
    let mut verified = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        match crate::app::sync::check_signed(device, f) {
            Some(outcome) => refused.push((i, PushResult::new(f.finding.id, outcome))),
            None => verified.push(f.clone()),
        }
    }
    let rules = PushRules {
        judge: crate::app::sync::judge,
        recheck: crate::app::cases::recheck_decision,
        // The fixtures' office is the demo's.
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))),
    };
    let mut results = store_batch(conn, device, &verified, now_ms, &rules)?;
    for (i, r) in refused {
        results.insert(i, r);
    }
    Ok(results)
}

fn store_batch(
    conn: &mut Connection,
    device: &DeviceCaller,
    findings: &[SignedFinding],
    now_ms: i64,
    rules: &PushRules,
) -> Result<Vec<PushResult>, AppError> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(findings.len());
    for f in findings {
        let facts = facts(&tx, device, &f.finding)?;
        let outcome = (rules.judge)(device, &f.finding, &facts, now_ms);
        let mut notice = None;
        if outcome == PushOutcome::Accepted {
            insert(&tx, device, &f.finding, &f.signature, now_ms)?;
            if let (Some(r), Some(a)) = (f.finding.recheck, f.finding.assignment_id) {
                notice = record_recheck(&tx, device, &f.finding, r.passed, &a.to_string(), now_ms, rules)?;
            }
        }
        results.push(PushResult { id: f.finding.id, outcome, notice });
    }
    tx.commit()?;
    Ok(results)
}

/// The result of an accepted re-check finding, in its push's transaction:
/// the visit records it, and the case moves as the case service decides,
/// unless the case no longer waits for this re-check. `Some` notice says
/// why the case did not move.
fn record_recheck(
    tx: &Connection,
    device: &DeviceCaller,
    f: &FindingContent,
    passed: bool,
    assignment_id: &str,
    now_ms: i64,
    rules: &PushRules,
) -> Result<Option<anfang_core::protocol::PushNotice>, AppError> {
    use super::rechecks::RecheckEffect;
    let now = jiff::Timestamp::from_millisecond(now_ms).map_err(AppError::internal)?;
    let id = f.id.to_string();
    let decide = |facts: &super::cases::CaseFacts| {
        (rules.recheck)(facts, device.inspector_id, passed, &id, &f.photos, now, &rules.tz)
    };
    let effect = super::rechecks::record_result(tx, assignment_id, &id, passed, now, &decide)?;
    Ok(match effect {
        RecheckEffect::Moved(case) => {
            tracing::info!(case = %case.public_ref, state = case.case.state.as_str(), "re-check recorded");
            None
        }
        RecheckEffect::CaseMovedOn { case_ref, state } => Some(anfang_core::protocol::PushNotice {
            code: anfang_core::error_code::ErrorCode::RecheckCaseMovedOn,
            message: format!(
                "the re-check is stored, but case {case_ref} is {state} and no longer waits for it; it was not moved"
            ),
        }),
        RecheckEffect::NotMoved { case_ref, code, message } => Some(anfang_core::protocol::PushNotice {
            code,
            message: format!("the re-check is stored, but case {case_ref} was not moved: {message}"),
        }),
    })
}

fn facts(conn: &Connection, device: &DeviceCaller, f: &FindingContent) -> Result<PushFacts, AppError> {
    let stored = conn
        .query_row("SELECT content_hash, device_id FROM findings WHERE id = ?1", [f.id.to_string()], |r| {
            Ok(StoredFinding { content_hash: r.get(0)?, device_id: r.get(1)? })
        })
        .optional()?;
    if stored.is_some() {
        // A replay or a conflict: nothing else decides it.
        return Ok(PushFacts { stored, ..PushFacts::default() });
    }
    let (visit, device_enrolled_ms, recheck) = match f.assignment_id {
        Some(a) => (
            super::draws::visit(conn, &a.to_string())?,
            conn.query_row("SELECT enrolled_at FROM devices WHERE id = ?1", [&device.device_id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond()),
            super::rechecks::visit(conn, &a.to_string())?,
        ),
        None => (None, None, None),
    };
    let mut missing_photos = Vec::new();
    for sha in &f.photos {
        if !super::uploads::photo_exists(conn, sha)? {
            missing_photos.push(sha.clone());
        }
    }
    Ok(PushFacts {
        stored: None,
        point_known: super::reference::point(conn, &f.point_id)?.is_some(),
        unit_known: super::reference::unit(conn, &f.unit_id)?.is_some(),
        category_known: super::reference::category(conn, &f.category)?.is_some(),
        visit,
        device_enrolled_ms,
        recheck,
        missing_photos,
    })
}

fn insert(
    conn: &Connection,
    device: &DeviceCaller,
    f: &FindingContent,
    signature: &str,
    now_ms: i64,
) -> Result<(), AppError> {
    let public_key = device.public_key.as_deref().ok_or_else(|| AppError::internal("accepted without a key"))?;
    let hash = f.content_hash();
    let observed_ms = f.observed_at.as_millisecond();
    let seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM findings", [], |r| r.get(0))?;
    let loc = f.location.as_ref();
    conn.execute(
        "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note,
           observed_ms, lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature,
           source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 (SELECT source FROM inspectors WHERE id = ?4))",
        params![
            f.id.to_string(),
            seq,
            device.device_id,
            device.inspector_id,
            f.point_id,
            f.unit_id,
            f.category,
            f.card.as_str(),
            f.note,
            observed_ms,
            loc.map(|l| l.lat),
            loc.map(|l| l.lon),
            loc.map(|l| l.accuracy_m),
            loc.map(|l| l.captured_at.to_string()),
            f.canonical_json(),
            hash,
            now_ms,
            signature
        ],
    )?;
    // Logged with what the server adds (who, which device and key, when it
    // arrived), so none of it can be changed later without `verify` noticing.
    let id = f.id.to_string();
    let location_captured_at = loc.map(|l| l.captured_at.to_string());
    let record = super::evidence::FindingRecord {
        id: &id,
        seq,
        content_hash: &hash,
        signature,
        device_id: &device.device_id,
        public_key,
        inspector_id: device.inspector_id,
        received_ms: now_ms,
        location_captured_at: location_captured_at.as_deref(),
    };
    super::evidence::append(
        conn,
        super::evidence::kind::FINDING,
        &id,
        &super::evidence::finding_record_hash(&record),
        super::ms_timestamp(now_ms)?,
    )?;
    for (position, sha) in f.photos.iter().enumerate() {
        conn.execute(
            "INSERT INTO finding_photos (finding_id, position, sha256) VALUES (?1, ?2, ?3)",
            params![f.id.to_string(), position as i64, sha],
        )?;
    }
    Ok(())
}

/// A photo of a stored finding.
#[derive(Debug, Clone)]
pub struct StoredPhoto {
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub byte_len: u64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A finding as stored, with its effective review state: what the office's
/// views are made of (`app::findings::view`), before any role's redaction.
#[derive(Debug, Clone)]
pub struct FindingRecord {
    pub id: String,
    pub point: Named,
    pub point_kind: String,
    pub unit: Named,
    pub category: Named,
    pub card: anfang_core::Card,
    pub note: Option<String>,
    pub observed_at: jiff::Timestamp,
    /// When the server received the push (one value per batch).
    pub received_at: jiff::Timestamp,
    pub location: Option<LocationView>,
    pub photos: Vec<StoredPhoto>,
    pub content_hash: String,
    /// The inspector's pseudonym.
    pub inspector: String,
    /// The drawn visit this finding was made on, if any.
    pub assignment_id: Option<String>,
    /// When that visit's slot ended (ms), if linked.
    pub visit_ends_ms: Option<i64>,
    /// Review status: pending, accept, correct or reject (latest revision).
    pub status: String,
    pub effective: EffectiveView,
    /// Every review revision, oldest first; only for a single finding.
    pub revisions: Option<Vec<super::reviews::Revision>>,
}

// The office's view of a finding is the service's (`app::findings`); named
// here too for the route table and the console, until they use that path.
pub use crate::app::findings::{FindingView, PhotoView};

/// How late a linked finding arrived.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LateArrival {
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub slot_ended_at: jiff::Timestamp,
    /// Whole hours between the end of the slot and `received_at`.
    pub hours_after_slot: i64,
}

impl LateArrival {
    /// `Some` when `received_ms` is more than [`LATE_AFTER_MS`] after `ends_ms`.
    pub fn of(ends_ms: i64, received_ms: i64) -> Option<Self> {
        (received_ms - ends_ms > LATE_AFTER_MS).then(|| LateArrival {
            slot_ended_at: jiff::Timestamp::from_millisecond(ends_ms).unwrap_or_default(),
            hours_after_slot: (received_ms - ends_ms) / 3_600_000,
        })
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EffectiveView {
    pub category: Named,
    pub unit: Named,
    pub card: anfang_core::Card,
    /// The latest revision number; `null` while pending.
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LocationView {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub captured_at: Option<String>,
    /// How far the fix was from the point's registered position.
    pub distance_from_point_m: f64,
}

/// Filters of the office list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub unit: Option<String>,
    pub card: Option<String>,
    pub category: Option<String>,
    /// Review statuses to include (pending, accept, correct, reject); empty: all.
    pub status: Vec<String>,
    /// Keyset cursor: (observed_ms, id) of the last item of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

const VIEW_SELECT: &str =
    "SELECT f.id, f.point_id, p.name AS point_name, p.kind AS point_kind, p.lat AS p_lat, p.lon AS p_lon,
    f.unit_id, u.name AS unit_name, f.category, c.name AS category_name, f.card, f.note,
    f.observed_ms, f.received_ms, f.lat, f.lon, f.accuracy_m, f.location_captured_at, f.content_hash,
    json_extract(f.content, '$.assignment_id') AS assignment_id,
    (SELECT da.ends_ms FROM draw_assignments da WHERE da.id = json_extract(f.content, '$.assignment_id')) AS visit_ends_ms,
    i.alias, s.status, s.category AS e_category, ec.name AS e_category_name, s.unit_id AS e_unit,
    eu.name AS e_unit_name, s.card AS e_card, s.revision AS e_revision
  FROM findings f
  JOIN finding_state s ON s.finding_id = f.id
  JOIN units eu ON eu.id = s.unit_id
  JOIN categories ec ON ec.code = s.category
  JOIN points p ON p.id = f.point_id
  JOIN units u ON u.id = f.unit_id
  JOIN categories c ON c.code = f.category
  JOIN inspectors i ON i.id = f.inspector_id";

fn record_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<FindingRecord> {
    let lat: Option<f64> = r.get("lat")?;
    let lon: Option<f64> = r.get("lon")?;
    let acc: Option<f64> = r.get("accuracy_m")?;
    let (p_lat, p_lon): (f64, f64) = (r.get("p_lat")?, r.get("p_lon")?);
    let location = match (lat, lon, acc) {
        (Some(lat), Some(lon), Some(accuracy_m)) => Some(LocationView {
            lat,
            lon,
            accuracy_m,
            captured_at: r.get("location_captured_at")?,
            distance_from_point_m: (haversine_m(lat, lon, p_lat, p_lon) * 10.0).round() / 10.0,
        }),
        _ => None,
    };
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or_default();
    Ok(FindingRecord {
        id: r.get("id")?,
        point: Named { id: r.get("point_id")?, name: r.get("point_name")? },
        point_kind: r.get("point_kind")?,
        unit: Named { id: r.get("unit_id")?, name: r.get("unit_name")? },
        category: Named { id: r.get("category")?, name: r.get("category_name")? },
        card: super::parsed(r, "card")?,
        note: r.get("note")?,
        observed_at: ts(r.get("observed_ms")?),
        received_at: ts(r.get("received_ms")?),
        location,
        photos: Vec::new(),
        content_hash: r.get("content_hash")?,
        inspector: r.get("alias")?,
        assignment_id: r.get("assignment_id")?,
        visit_ends_ms: r.get("visit_ends_ms")?,
        status: r.get("status")?,
        effective: EffectiveView {
            category: Named { id: r.get("e_category")?, name: r.get("e_category_name")? },
            unit: Named { id: r.get("e_unit")?, name: r.get("e_unit_name")? },
            card: super::parsed(r, "e_card")?,
            revision: r.get("e_revision")?,
        },
        revisions: None,
    })
}

fn attach_photos(conn: &Connection, record: &mut FindingRecord) -> Result<(), AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT fp.sha256, p.width, p.height, p.byte_len FROM finding_photos fp
         JOIN photos p ON p.sha256 = fp.sha256 WHERE fp.finding_id = ?1 ORDER BY fp.position",
    )?;
    record.photos = stmt
        .query_map([&record.id], |r| {
            Ok(StoredPhoto {
                sha256: r.get(0)?,
                width: r.get(1)?,
                height: r.get(2)?,
                byte_len: r.get::<_, i64>(3)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// One page of findings as the office views them (console only, until
/// merged: the rest asks `Db::list_findings` and `app::findings`).
#[doc(hidden)]
pub fn list(conn: &Connection, filter: &ListFilter) -> Result<Vec<FindingView>, AppError> {
    Ok(records(conn, filter)?.into_iter().map(crate::app::findings::view).collect())
}

/// One finding as the office views it (console and tests, until merged).
#[doc(hidden)]
pub fn get(conn: &Connection, id: &str) -> Result<Option<FindingView>, AppError> {
    Ok(record(conn, id)?.map(crate::app::findings::view))
}

/// One page of findings, newest observation first.
fn records(conn: &Connection, filter: &ListFilter) -> Result<Vec<FindingRecord>, AppError> {
    let mut sql = format!("{VIEW_SELECT} WHERE 1 = 1");
    let mut args: Vec<crate::db::sql::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: crate::db::sql::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(v) = filter.from_ms {
        arg(&mut sql, " AND f.observed_ms >= ?", v.into());
    }
    if let Some(v) = filter.to_ms {
        arg(&mut sql, " AND f.observed_ms < ?", v.into());
    }
    if let Some(v) = &filter.unit {
        // Filters follow the reviewed (effective) values: a finding moved to
        // another unit is that unit's now.
        arg(&mut sql, " AND s.unit_id = ?", v.clone().into());
    }
    if let Some(v) = &filter.card {
        arg(&mut sql, " AND s.card = ?", v.clone().into());
    }
    if let Some(v) = &filter.category {
        arg(&mut sql, " AND s.category = ?", v.clone().into());
    }
    if !filter.status.is_empty() {
        let mut marks = Vec::new();
        for st in &filter.status {
            args.push(st.clone().into());
            marks.push(format!("?{}", args.len()));
        }
        sql.push_str(&format!(" AND s.status IN ({})", marks.join(", ")));
    }
    if let Some((ms, id)) = &filter.before {
        args.push((*ms).into());
        let a = args.len();
        args.push(id.clone().into());
        let b = args.len();
        sql.push_str(&format!(" AND (f.observed_ms < ?{a} OR (f.observed_ms = ?{a} AND f.id < ?{b}))"));
    }
    args.push((filter.limit as i64).into());
    sql.push_str(&format!(" ORDER BY f.observed_ms DESC, f.id DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare(&sql)?;
    let mut records =
        stmt.query_map(crate::db::sql::params_from_iter(args), record_row)?.collect::<Result<Vec<_>, _>>()?;
    for r in &mut records {
        attach_photos(conn, r)?;
    }
    Ok(records)
}

fn record(conn: &Connection, id: &str) -> Result<Option<FindingRecord>, AppError> {
    let mut found = conn.query_row(&format!("{VIEW_SELECT} WHERE f.id = ?1"), [id], record_row).optional()?;
    if let Some(r) = &mut found {
        attach_photos(conn, r)?;
        r.revisions = Some(super::reviews::history(conn, &r.id)?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    //! Late arrivals need a push many hours after the slot: the real
    //! database and functions, with the push's and the report's clocks
    //! passed in as they are by the routes.
    use super::*;
    use crate::db::{accounts, draws};
    use crate::{AppState, Config};
    use anfang_core::protocol::SignedFinding;

    #[test]
    fn a_linked_finding_synced_long_after_its_slot_is_flagged_late_for_reviewers() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Config::new(dir.path())).unwrap();
        let creds = crate::demo::load(&state.db).unwrap();
        let key = anfang_core::evidence::DeviceKey::generate();
        let (alias, code) = creds.inspectors[0].clone();
        state
            .db
            .write_blocking(|c| {
                let token = accounts::enroll(c, &code, None, &key.public_key_hex())?.token;
                let device = accounts::device_by_token_hash(c, &crate::auth::secret_hash(&token))?.unwrap();
                // Two visits on one day next week, one slot each.
                let day = jiff::tz::TimeZone::get("Asia/Shanghai")
                    .unwrap()
                    .to_datetime(jiff::Timestamp::now())
                    .date()
                    .checked_add(jiff::Span::new().days(7))
                    .unwrap();
                let request: draws::DrawRequest = serde_json::from_value(serde_json::json!({
                    "from": day, "to": day, "visits": 2, "inspectors": [alias],
                    "slots": [{"name": "am", "label": "上午", "start": "09:00", "end": "10:00", "days": "every"},
                              {"name": "pm", "label": "下午", "start": "15:00", "end": "16:00", "days": "every"}]
                }))
                .unwrap();
                let params = draws::resolve(c, &request, "Asia/Shanghai")?;
                let draw = draws::create(c, params, None, jiff::Timestamp::now().as_millisecond())?;
                let visits: Vec<(String, String, i64, i64)> = c
                    .prepare("SELECT id, point_id, starts_ms, ends_ms FROM draw_assignments ORDER BY starts_ms")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(visits.len(), 2);
                let mut ids = Vec::new();
                // The first synced an hour after its slot, the second 13 hours after.
                for ((aid, point, starts, ends), delay_h) in visits.iter().zip([1, 13]) {
                    let unit: String =
                        c.query_row("SELECT unit_id FROM points WHERE id = ?1", [point], |r| r.get(0))?;
                    let f = FindingContent {
                        id: uuid::Uuid::now_v7(),
                        point_id: point.clone(),
                        unit_id: unit,
                        category: "parking".into(),
                        card: anfang_core::Card::Green,
                        note: None,
                        observed_at: jiff::Timestamp::from_millisecond(starts + 600_000).unwrap(),
                        location: None,
                        photos: vec![],
                        assignment_id: Some(aid.parse().unwrap()),
                        recheck: None,
                    };
                    let signed = SignedFinding { signature: key.sign(&f), finding: f.clone() };
                    let pushed = push_batch(c, &device, &[signed], ends + delay_h * 3_600_000)?;
                    assert_eq!(pushed[0].outcome, PushOutcome::Accepted, "{pushed:?}");
                    ids.push(f.id.to_string());
                }
                let report_at = visits[1].3 + 14 * 3_600_000;
                let cov = draws::coverage(c, &draw.id.to_string(), report_at)?;
                assert_eq!(cov.done, 2, "a late visit is still done: {cov:?}");
                assert_eq!(cov.late.len(), 1, "{cov:?}");
                assert_eq!(cov.late[0].assignment_id, visits[1].0);
                assert_eq!(cov.late[0].hours_after_slot, 13);
                assert!(get(c, &ids[0])?.unwrap().late_arrival.is_none(), "an hour after the slot is on time");
                let late = get(c, &ids[1])?.unwrap().late_arrival.expect("flagged late");
                assert_eq!(late.hours_after_slot, 13);
                assert_eq!(late.slot_ended_at.as_millisecond(), visits[1].3);
                Ok(())
            })
            .unwrap();
    }
}
