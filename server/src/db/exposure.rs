//! The exposure page (曝光台): storage of proposals, publications and
//! withdrawals (`exposure_entries`, migration 0014), and the facts the
//! public pages are built from.
//!
//! **Invariants:**
//! - publishing writes the frozen text and photo selection, its hash and an
//!   evidence-log entry of kind [`LOG_PUBLISH`] in one transaction; a
//!   withdrawal likewise with [`LOG_WITHDRAW`]; triggers refuse any later
//!   change of either, and [`audit`] checks both against the log both ways;
//! - what is allowed is decided by `app::exposure` on the facts read here
//!   inside the write ([`ProposeFacts`], [`PublishFacts`]);
//! - [`PublicRow`] carries only what a public page may show: no finding id,
//!   inspector, device, coordinates or any time finer than a day.

use super::cases::{StoredCase, by_ref};
use super::sql::{Connection, OptionalExtension, params};
use crate::error::AppError;
use crate::rectification::case::Case;
use anfang_core::Card;
use anfang_core::domain::sha256_hex;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// Evidence-log kind of a publication; record id `exposure/{id}/publish`.
pub const LOG_PUBLISH: &str = "exposure_publish";
/// Evidence-log kind of a withdrawal; record id `exposure/{id}/withdraw`.
pub const LOG_WITHDRAW: &str = "exposure_withdraw";
/// Evidence-log kind of a public commitment; record id `exposure/{id}/commitment`.
pub const LOG_COMMITMENT: &str = "exposure_commitment";

/// A unit's public commitment (公开承诺) on a published red-card entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Commitment {
    /// The unit's named responsible person (责任人).
    pub person_name: String,
    /// Their position (职务).
    pub person_title: String,
    /// What will be done.
    pub what: String,
    /// By the end of this day (YYYY-MM-DD, office time).
    pub due_on: String,
    /// The day it was made.
    pub made_on: String,
}

/// What a commitment is judged by: the unit's own notified case, its
/// published entry (not withdrawn) if any, and whether one was made.
#[derive(Debug, Clone)]
pub struct CommitFacts {
    pub case: StoredCase,
    pub entry: Option<StoredEntry>,
    pub existing: bool,
}

/// What is frozen at publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub by: i64,
    /// The day shown publicly (YYYY-MM-DD, office time zone).
    pub on: String,
    pub title: String,
    pub description: String,
    /// What is shown: before-photos, or crops of them (see `crops`).
    pub photos: Vec<String>,
    /// Photos in `photos` cut from a before-photo at publishing.
    pub crops: Vec<PublishedCrop>,
}

/// A crop shown instead of its source photo (stored already, by the photo store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCrop {
    pub derived: String,
    pub source: String,
    pub rect: anfang_core::photo::CropRect,
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub id: i64,
    pub public_ref: String,
    pub case_ref: String,
    pub proposed_by: i64,
    pub proposed_ms: i64,
    pub published: Option<(i64, Publication)>,
    /// (by, ms, day, note)
    pub withdrawn: Option<(i64, i64, String, String)>,
}

/// What a proposal is judged by: the reference resolved to a case (a case
/// reference, or a finding's id or public reference), the finding's
/// effective card, and an entry already in play for the case.
#[derive(Debug, Clone)]
pub struct ProposeFacts {
    /// Whether the reference names a finding (with or without a case).
    pub finding_found: bool,
    pub effective_card: Option<Card>,
    pub case: Option<StoredCase>,
    /// The public reference of an entry of the case proposed or published and not withdrawn.
    pub live_entry: Option<String>,
}

/// What a publication is judged by.
#[derive(Debug, Clone)]
pub struct PublishFacts {
    pub entry: StoredEntry,
    pub case: StoredCase,
    pub effective_card: Card,
    pub finding_photos: Vec<String>,
    pub four_eyes: bool,
    pub aliases: crate::redact::AliasMask,
}

const ENTRY_COLUMNS: &str = "e.id, e.public_ref, c.public_ref, e.proposed_by, e.proposed_ms, e.published_by,
    e.published_on, e.title, e.description, e.photos, e.withdrawn_by, e.withdrawn_ms, e.withdrawn_on,
    e.withdrawal_note, e.published_ms";

fn entry_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<StoredEntry> {
    let published = match r.get::<_, Option<i64>>(5)? {
        None => None,
        Some(by) => {
            let photos: String = r.get(9)?;
            Some((
                r.get::<_, i64>(14)?,
                Publication {
                    by,
                    on: r.get(6)?,
                    title: r.get(7)?,
                    description: r.get(8)?,
                    photos: serde_json::from_str(&photos).unwrap_or_default(),
                    // Read back from exposure_crops where needed (the audit).
                    crops: Vec::new(),
                },
            ))
        }
    };
    let withdrawn = match r.get::<_, Option<i64>>(10)? {
        None => None,
        Some(by) => Some((by, r.get(11)?, r.get(12)?, r.get(13)?)),
    };
    Ok(StoredEntry {
        id: r.get(0)?,
        public_ref: r.get(1)?,
        case_ref: r.get(2)?,
        proposed_by: r.get(3)?,
        proposed_ms: r.get(4)?,
        published,
        withdrawn,
    })
}

fn entry_by_ref(conn: &Connection, public_ref: &str) -> Result<Option<StoredEntry>, AppError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM exposure_entries e JOIN rectification_cases c ON c.id = e.case_id
         WHERE e.public_ref = ?1"
    );
    Ok(conn.query_row(&sql, [public_ref], entry_row).optional()?)
}

/// What a publication's evidence entry covers: every frozen field.
pub(in crate::db) fn publish_hash(e: &StoredEntry, published_ms: i64, p: &Publication) -> String {
    let fields = serde_json::json!([
        e.id,
        e.public_ref,
        e.case_ref,
        e.proposed_by,
        e.proposed_ms,
        p.by,
        published_ms,
        p.on,
        p.title,
        p.description,
        p.photos
    ]);
    sha256_hex(format!("anfang-exposure-publish-v1\n{fields}").as_bytes())
}

pub(in crate::db) fn withdraw_hash(e: &StoredEntry, by: i64, ms: i64, on: &str, note: &str) -> String {
    let fields = serde_json::json!([e.id, e.public_ref, by, ms, on, note]);
    sha256_hex(format!("anfang-exposure-withdraw-v1\n{fields}").as_bytes())
}

pub(in crate::db) fn commitment_hash(
    entry_id: i64,
    unit_id: &str,
    user_id: i64,
    made_ms: i64,
    c: &Commitment,
) -> String {
    let fields = serde_json::json!([
        entry_id,
        unit_id,
        user_id,
        made_ms,
        c.person_name,
        c.person_title,
        c.what,
        c.due_on,
        c.made_on
    ]);
    sha256_hex(format!("anfang-exposure-commitment-v1\n{fields}").as_bytes())
}

fn commitment_of(conn: &Connection, entry_id: i64) -> Result<Option<Commitment>, AppError> {
    Ok(conn
        .query_row(
            "SELECT person_name, person_title, what, due_on, made_on FROM exposure_commitments WHERE entry_id = ?1",
            [entry_id],
            |r| {
                Ok(Commitment {
                    person_name: r.get(0)?,
                    person_title: r.get(1)?,
                    what: r.get(2)?,
                    due_on: r.get(3)?,
                    made_on: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The published, not withdrawn entry of a case.
fn published_entry(conn: &Connection, case_id: i64) -> Result<Option<StoredEntry>, AppError> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM exposure_entries e JOIN rectification_cases c ON c.id = e.case_id
         WHERE e.case_id = ?1 AND e.published_ms IS NOT NULL AND e.withdrawn_ms IS NULL"
    );
    Ok(conn.query_row(&sql, [case_id], entry_row).optional()?)
}

fn effective_card(conn: &Connection, finding_id: &str) -> Result<Option<Card>, AppError> {
    Ok(conn
        .query_row("SELECT card FROM finding_state WHERE finding_id = ?1", [finding_id], |r| super::parsed(r, 0))
        .optional()?)
}

fn finding_photos(conn: &Connection, finding_id: &str) -> Result<Vec<String>, AppError> {
    let mut stmt = conn.prepare_cached("SELECT sha256 FROM finding_photos WHERE finding_id = ?1 ORDER BY position")?;
    Ok(stmt.query_map([finding_id], |r| r.get(0))?.collect::<Result<_, _>>()?)
}

fn live_entry(conn: &Connection, case_id: i64) -> Result<Option<String>, AppError> {
    Ok(conn
        .query_row(
            "SELECT public_ref FROM exposure_entries WHERE case_id = ?1 AND withdrawn_ms IS NULL",
            [case_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Resolves a case reference, or a finding's id or public reference (its
/// live case, else its latest).
fn propose_facts(conn: &Connection, reference: &str) -> Result<ProposeFacts, AppError> {
    if let Some(case) = by_ref(conn, reference)? {
        return Ok(ProposeFacts {
            finding_found: true,
            effective_card: effective_card(conn, &case.finding_id)?,
            live_entry: live_entry(conn, case.id)?,
            case: Some(case),
        });
    }
    let finding: Option<String> = conn
        .query_row(
            "SELECT id FROM findings WHERE id = ?1
             UNION ALL SELECT finding_id FROM finding_public_refs WHERE public_ref = ?1 LIMIT 1",
            [reference],
            |r| r.get(0),
        )
        .optional()?;
    let Some(finding) = finding else {
        return Ok(ProposeFacts { finding_found: false, effective_card: None, case: None, live_entry: None });
    };
    let case_ref: Option<String> = conn
        .query_row(
            "SELECT public_ref FROM rectification_cases WHERE finding_id = ?1
             ORDER BY state IN ('closed', 'cancelled'), id DESC LIMIT 1",
            [&finding],
            |r| r.get(0),
        )
        .optional()?;
    let case = match case_ref {
        Some(r) => by_ref(conn, &r)?,
        None => None,
    };
    Ok(ProposeFacts {
        finding_found: true,
        effective_card: effective_card(conn, &finding)?,
        live_entry: match &case {
            Some(c) => live_entry(conn, c.id)?,
            None => None,
        },
        case,
    })
}

/// An entry as the office reads it (console and API).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OfficeEntry {
    pub reference: String,
    pub case_ref: String,
    /// proposed | published | withdrawn
    pub status: String,
    pub card: Card,
    pub case_state: String,
    pub unit_id: String,
    pub unit_name: String,
    pub point_id: String,
    pub point_name: String,
    pub category_name: Option<String>,
    pub proposed_by: Option<String>,
    pub proposed_at: String,
    pub published_by: Option<String>,
    pub published_at: Option<String>,
    pub published_on: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The selected photos once published.
    pub photos: Vec<String>,
    /// The finding's before-photos, to choose from.
    pub finding_photos: Vec<String>,
    pub withdrawn_by: Option<String>,
    pub withdrawn_on: Option<String>,
    pub withdrawal_note: Option<String>,
}

fn username(conn: &Connection, id: i64) -> Result<Option<String>, AppError> {
    Ok(conn.query_row("SELECT username FROM users WHERE id = ?1", [id], |r| r.get(0)).optional()?)
}

fn office_entry(conn: &Connection, e: &StoredEntry) -> Result<OfficeEntry, AppError> {
    let case = by_ref(conn, &e.case_ref)?.ok_or_else(|| AppError::internal("an exposure entry without its case"))?;
    let (unit_name, point_name, category_name): (String, String, Option<String>) = conn.query_row(
        "SELECT u.name, p.name, (SELECT name FROM categories WHERE code = ?3)
         FROM units u, points p WHERE u.id = ?1 AND p.id = ?2",
        params![case.case.unit_id, case.point_id, case.category],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let status = match (&e.published, &e.withdrawn) {
        (_, Some(_)) => "withdrawn",
        (Some(_), None) => "published",
        (None, None) => "proposed",
    };
    let rfc = |ms: i64| super::ms_timestamp(ms).map(|t| t.to_string());
    Ok(OfficeEntry {
        reference: e.public_ref.clone(),
        case_ref: e.case_ref.clone(),
        status: status.to_owned(),
        card: case.case.card,
        case_state: case.case.state.as_str().to_owned(),
        unit_id: case.case.unit_id.clone(),
        unit_name,
        point_id: case.point_id.clone(),
        point_name,
        category_name,
        proposed_by: username(conn, e.proposed_by)?,
        proposed_at: rfc(e.proposed_ms)?,
        published_by: match &e.published {
            Some((_, p)) => username(conn, p.by)?,
            None => None,
        },
        published_at: e.published.as_ref().map(|(ms, _)| rfc(*ms)).transpose()?,
        published_on: e.published.as_ref().map(|(_, p)| p.on.clone()),
        title: e.published.as_ref().map(|(_, p)| p.title.clone()),
        description: e.published.as_ref().map(|(_, p)| p.description.clone()),
        photos: e.published.as_ref().map(|(_, p)| p.photos.clone()).unwrap_or_default(),
        finding_photos: finding_photos(conn, &case.finding_id)?,
        withdrawn_by: match &e.withdrawn {
            Some((by, ..)) => username(conn, *by)?,
            None => None,
        },
        withdrawn_on: e.withdrawn.as_ref().map(|(_, _, on, _)| on.clone()),
        withdrawal_note: e.withdrawn.as_ref().map(|(.., note)| note.clone()),
    })
}

/// A published entry as the public pages are built from it: the frozen
/// publication, the case's current state and the names of its point, unit
/// and category. Nothing finer than a day, no inspector, no coordinates.
#[derive(Debug, Clone)]
pub struct PublicRow {
    pub reference: String,
    pub title: String,
    pub description: String,
    pub published_on: String,
    pub point_id: String,
    pub point_name: String,
    /// The point's district, else its unit's.
    pub district: Option<String>,
    pub unit_id: String,
    pub unit_name: String,
    pub category: String,
    pub category_name: Option<String>,
    pub card: Card,
    /// The day the problem was found (office time zone).
    pub found_on: jiff::civil::Date,
    pub case: Case,
    /// Closed because a re-check passed (not on the unit's evidence alone).
    pub closed_by_recheck: bool,
    pub before_photos: Vec<String>,
    /// The photo a case closed by a passed re-check was closed on (see `AFTER_PHOTOS_OF_CASE`).
    pub after_photos: Vec<String>,
    /// (day, note)
    pub withdrawn: Option<(String, String)>,
    /// When the case was closed (for a commitment's outcome; never shown finer than a day).
    pub closed_at: Option<Timestamp>,
    pub commitment: Option<Commitment>,
}

/// The after-photo of a case closed by a passed re-check: the photo it was
/// closed on, as the bulletin's 整改前后对比 takes it (the passing
/// re-check's first, else the unit's latest answer's first). Shared by the
/// rows and the photo route's check.
const AFTER_PHOTOS_OF_CASE: &str = "SELECT a.sha256 FROM case_attachments a
     JOIN case_events e ON e.case_id = a.case_id AND e.seq = a.seq
     JOIN rectification_cases rc ON rc.id = a.case_id
     WHERE a.case_id = ?1 AND a.kind = 'photo' AND rc.state = 'closed'
       AND EXISTS (SELECT 1 FROM case_events ev WHERE ev.case_id = a.case_id AND ev.event = 'recheck_passed')
       AND e.event IN ('recheck_passed', 'answered')
     ORDER BY e.event = 'recheck_passed' DESC, e.seq DESC, a.position LIMIT 1";

/// The public state of an entry as SQL, the same rule as
/// `app::exposure::PublicState::of` (whose unit tests and the e2e paging
/// test hold them together): the list filters, counts and pages by it in
/// the database instead of reading every entry to compute it. Needs
/// `:now_ms`, `:yesterday` (the office day before today) and `:today_ms`
/// (today's start): a deferred case is late once the day after its target
/// date has begun, which is after the target as a date string, or on it
/// and past midnight.
const PUBLIC_STATE_SQL: &str = "CASE
    WHEN e.withdrawn_ms IS NOT NULL THEN 'withdrawn'
    WHEN c.state IN ('open', 'rework', 'deferred') AND CASE
        WHEN c.state = 'deferred' AND c.deferred_until IS NOT NULL
            THEN c.deferred_until < :yesterday OR (c.deferred_until = :yesterday AND CAST(:now_ms AS INTEGER) > CAST(:today_ms AS INTEGER))
        ELSE c.deadline_ms < :now_ms END THEN 'overdue'
    WHEN c.state = 'closed'
     AND EXISTS (SELECT 1 FROM case_events ev WHERE ev.case_id = c.id AND ev.event = 'recheck_passed') THEN 'fixed'
    WHEN c.state = 'closed' THEN 'closed'
    WHEN c.state = 'deferred' THEN 'deferred'
    WHEN c.state = 'cancelled' THEN 'cancelled'
    ELSE 'in_progress' END";

/// A finding's category as reviewed (over `c` and `f`): the latest
/// review's, else the finding's own, as the `finding_state` view says it
/// but with one index lookup instead of the view's join.
const PUBLIC_CATEGORY_SQL: &str = "coalesce((SELECT r.category FROM finding_reviews r WHERE r.finding_id = c.finding_id
          ORDER BY r.revision DESC LIMIT 1), f.category)";

/// Every published entry with what the public filters by (`st`: its state
/// key); [`PUBLIC_FILTER_SQL`] picks from it. Read for every entry a
/// filter or the summary looks at, so it is kept to a few key lookups:
/// the category is the latest review's (what the `finding_state` view
/// says, without the view's join), names are looked up by the callers
/// per group or per row shown.
fn public_base() -> String {
    format!(
        "SELECT e.id AS id, e.published_on AS published_on, e.published_ms AS published_ms,
                coalesce(e.withdrawn_ms, e.published_ms) AS changed_ms, coalesce(p.district, u.district) AS district,
                c.unit_id AS unit_id, f.point_id AS point_id,
                {PUBLIC_CATEGORY_SQL} AS category,
                {PUBLIC_STATE_SQL} AS st
         FROM exposure_entries e
         JOIN rectification_cases c ON c.id = e.case_id
         JOIN findings f ON f.id = c.finding_id
         JOIN points p ON p.id = f.point_id
         JOIN units u ON u.id = c.unit_id
         WHERE e.published_ms IS NOT NULL"
    )
}

/// The public filters over [`public_base`] (`:district`, `:unit`,
/// `:category`, `:point`, `:state`; NULL is no filter). A withdrawn entry
/// is no claim about a unit any more: it is listed by its state only, so
/// any filter about the case (`:about` set) leaves it out.
const PUBLIC_FILTER_SQL: &str = "(district = :district OR :district IS NULL)
    AND (unit_id = :unit OR :unit IS NULL)
    AND (category = :category OR :category IS NULL)
    AND (point_id = :point OR :point IS NULL)
    AND (st = :state OR :state IS NULL)
    AND (st <> 'withdrawn' OR CAST(:about AS TEXT) IS NULL)";

/// What the public pages ask the database for: filters (trimmed, `None`
/// for no filter) and, for a page, its order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicQuery {
    pub district: Option<String>,
    pub unit: Option<String>,
    pub category: Option<String>,
    pub point: Option<String>,
    /// A public state key (`in_progress`, `overdue`, …).
    pub state: Option<String>,
}

impl PublicQuery {
    pub fn is_empty(&self) -> bool {
        *self == PublicQuery::default()
    }

    /// Any filter about the case (not its state).
    fn about(&self) -> bool {
        self.district.is_some() || self.unit.is_some() || self.category.is_some() || self.point.is_some()
    }
}

/// The order of a page: the list by publication, the feeds by the latest
/// change (a withdrawal is news a feed reader must get, even of an old entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicOrder {
    Published,
    Changed,
}

impl PublicOrder {
    /// Matches an index of migration 0018, so a page walks the entries in
    /// order and stops after it.
    fn sql(self) -> &'static str {
        match self {
            PublicOrder::Published => "published_on DESC, published_ms DESC, id DESC",
            PublicOrder::Changed => "changed_ms DESC, id DESC",
        }
    }
}

/// How many published entries share a (district, unit, category, state):
/// the list's counts and filter choices, in one pass.
#[derive(Debug, Clone)]
pub struct PublicGroup {
    pub district: Option<String>,
    pub unit_id: String,
    pub unit_name: String,
    pub category: String,
    pub category_name: Option<String>,
    /// The public state key.
    pub state: String,
    pub count: u64,
}

/// One page of public entries, and what it was counted against.
#[derive(Debug, Clone, Default)]
pub struct PublicListing {
    /// Entries matching the query.
    pub total: u64,
    /// This page's rows (empty past the end).
    pub rows: Vec<PublicRow>,
    /// The groups of the summary query, when one was asked for.
    pub groups: Vec<PublicGroup>,
}

/// The instant public states are computed at, as [`PUBLIC_STATE_SQL`] reads it.
struct StateClock {
    now_ms: i64,
    today_ms: i64,
    yesterday: String,
}

impl StateClock {
    fn new(now: Timestamp, tz: &jiff::tz::TimeZone) -> Result<Self, AppError> {
        let today = now.to_zoned_datetime(tz.clone()).date();
        let today_ms = today.to_zoned_datetime(tz.clone()).map_err(AppError::internal)?.timestamp().as_millisecond();
        let yesterday = today.yesterday().map_err(AppError::internal)?.to_string();
        Ok(Self { now_ms: now.as_millisecond(), today_ms, yesterday })
    }
}

/// Runs `sql` (over [`public_base`] as `b`, filtered) with the query's and
/// the clock's parameters, plus `extra`.
fn with_public_params<T>(
    conn: &Connection,
    sql: &str,
    q: &PublicQuery,
    clock: &StateClock,
    extra: &[(&str, &dyn crate::db::sql::ToSql)],
    f: impl FnMut(&crate::db::sql::Row<'_>) -> crate::db::sql::Result<T>,
) -> Result<Vec<T>, AppError> {
    let about = q.about().then_some(1);
    let mut params: Vec<(&str, &dyn crate::db::sql::ToSql)> = vec![
        (":district", &q.district),
        (":unit", &q.unit),
        (":category", &q.category),
        (":point", &q.point),
        (":state", &q.state),
        (":about", &about),
        (":now_ms", &clock.now_ms),
        (":today_ms", &clock.today_ms),
        (":yesterday", &clock.yesterday),
    ];
    params.extend_from_slice(extra);
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.query_map(params.as_slice(), f)?.collect::<Result<_, _>>()?)
}

/// The groups of the entries `q` picks, its state filter aside.
fn public_groups(conn: &Connection, q: &PublicQuery, clock: &StateClock) -> Result<Vec<PublicGroup>, AppError> {
    let q = PublicQuery { state: None, ..q.clone() };
    // Every entry is read here, so per entry only what the groups need:
    // its case, its finding (point, category) and its state; the
    // district and the names are looked up per group. The filter is
    // applied to the groups (it reads only their keys), and early on the
    // unit or point, so a unit's page reads little of the others'.
    let sql = format!(
        "SELECT x.district, x.unit_id, x.unit_name, x.category,
                (SELECT name FROM categories WHERE code = x.category), x.st, sum(x.n)
         FROM (SELECT coalesce(p.district, u.district) AS district, g.unit_id AS unit_id, u.name AS unit_name,
                      g.category AS category, g.point_id AS point_id, g.st AS st, g.n AS n
               FROM (SELECT f.point_id AS point_id, c.unit_id AS unit_id, {PUBLIC_CATEGORY_SQL} AS category,
                            {PUBLIC_STATE_SQL} AS st, count(*) AS n
                     FROM exposure_entries e
                     JOIN rectification_cases c ON c.id = e.case_id
                     JOIN findings f ON f.id = c.finding_id
                     WHERE e.published_ms IS NOT NULL AND (c.unit_id = :unit OR :unit IS NULL)
                       AND (f.point_id = :point OR :point IS NULL)
                     GROUP BY 1, 2, 3, 4) g
               JOIN points p ON p.id = g.point_id
               JOIN units u ON u.id = g.unit_id) x
         WHERE {PUBLIC_FILTER_SQL}
         GROUP BY x.district, x.unit_id, x.unit_name, x.category, x.st"
    );
    with_public_params(conn, &sql, &q, clock, &[], |r| {
        Ok(PublicGroup {
            district: r.get(0)?,
            unit_id: r.get(1)?,
            unit_name: r.get(2)?,
            category: r.get(3)?,
            category_name: r.get(4)?,
            state: r.get(5)?,
            count: r.get::<_, i64>(6)?.unsigned_abs(),
        })
    })
}

fn public_count(conn: &Connection, q: &PublicQuery, clock: &StateClock) -> Result<u64, AppError> {
    if q.is_empty() {
        // Every published entry: its joins always hold (foreign keys), so
        // the entries table alone counts them, through its own index.
        let n: i64 =
            conn.query_row("SELECT count(*) FROM exposure_entries WHERE published_ms IS NOT NULL", [], |r| r.get(0))?;
        return Ok(n.unsigned_abs());
    }
    let sql = format!("SELECT count(*) FROM ({}) AS entry WHERE {PUBLIC_FILTER_SQL}", public_base());
    let n: Vec<i64> = with_public_params(conn, &sql, q, clock, &[], |r| r.get(0))?;
    Ok(n.first().copied().unwrap_or(0).unsigned_abs())
}

/// One page of the entries `q` picks, in `order`: at most `limit` from
/// `offset`, and how many match in all (filtered: from the same pass,
/// `None` when the page is empty).
fn public_page_ids(
    conn: &Connection,
    q: &PublicQuery,
    clock: &StateClock,
    order: PublicOrder,
    limit: u32,
    offset: u64,
) -> Result<(Vec<i64>, Option<u64>), AppError> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    if q.is_empty() {
        // No filter: the entries table alone orders them, without the joins
        // that only filters need (the feeds, the unfiltered list), and a
        // top-N sort; its count is the table's own.
        let sql = format!(
            "SELECT id FROM (
               SELECT id, published_on, published_ms, coalesce(withdrawn_ms, published_ms) AS changed_ms
               FROM exposure_entries WHERE published_ms IS NOT NULL) AS entry
             ORDER BY {} LIMIT ?1 OFFSET ?2",
            order.sql()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let ids: Vec<i64> = stmt.query_map(params![limit, offset], |r| r.get(0))?.collect::<Result<_, _>>()?;
        return Ok((ids, Some(public_count(conn, q, clock)?)));
    }
    let rows: Vec<(i64, i64)> = {
        let sql = format!(
            "SELECT id, count(*) OVER () FROM ({}) AS entry WHERE {PUBLIC_FILTER_SQL} ORDER BY {} LIMIT :limit OFFSET :offset",
            public_base(),
            order.sql()
        );
        with_public_params(conn, &sql, q, clock, &[(":limit", &limit), (":offset", &offset)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
    };
    let total = rows.first().map(|(_, n)| n.unsigned_abs());
    Ok((rows.into_iter().map(|(id, _)| id).collect(), total))
}

/// The public rows of these entries, in this order.
fn public_rows(conn: &Connection, tz: &jiff::tz::TimeZone, ids: &[i64]) -> Result<Vec<PublicRow>, AppError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(public_row(conn, tz, "e.id = ?1", id)?);
    }
    Ok(out)
}

/// The public row of the published entry `condition` (over `e`) names with `param`.
fn public_row(
    conn: &Connection,
    tz: &jiff::tz::TimeZone,
    condition: &str,
    param: &dyn crate::db::sql::ToSql,
) -> Result<Option<PublicRow>, AppError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT e.public_ref, e.title, e.description, e.published_on, e.photos, e.withdrawn_on, e.withdrawal_note,
                c.public_ref, e.id, p.id, p.name, coalesce(p.district, u.district), u.id, u.name, s.category,
                (SELECT name FROM categories WHERE code = s.category), f.observed_ms,
                EXISTS (SELECT 1 FROM case_events ev WHERE ev.case_id = c.id AND ev.event = 'recheck_passed')
         FROM exposure_entries e
         JOIN rectification_cases c ON c.id = e.case_id
         JOIN findings f ON f.id = c.finding_id
         JOIN finding_state s ON s.finding_id = c.finding_id
         JOIN points p ON p.id = f.point_id
         JOIN units u ON u.id = c.unit_id
         WHERE e.published_ms IS NOT NULL AND {condition}"
    ))?;
    type Raw = (String, String, String, String, String, Option<String>, Option<String>, String, i64, String, String);
    let rows = stmt.query_map([param], |r| {
        let raw: Raw = (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
        );
        let rest: (Option<String>, String, String, String, Option<String>, i64, bool) =
            (r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?, r.get(16)?, r.get(17)?);
        Ok((raw, rest))
    })?;
    let mut out = None;
    for row in rows {
        let (
            (
                reference,
                title,
                description,
                published_on,
                photos,
                w_on,
                w_note,
                case_ref,
                entry_id,
                point_id,
                point_name,
            ),
            rest,
        ) = row?;
        let (district, unit_id, unit_name, category, category_name, observed_ms, rechecked) = rest;
        let stored =
            by_ref(conn, &case_ref)?.ok_or_else(|| AppError::internal("an exposure entry without its case"))?;
        let after_photos: Vec<String> = if stored.case.state == crate::rectification::case::CaseState::Closed {
            conn.prepare_cached(AFTER_PHOTOS_OF_CASE)?
                .query_map([stored.id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        } else {
            vec![]
        };
        let (found_on, _) = crate::redact::coarse_time(observed_ms, tz).map_err(AppError::internal)?;
        out = Some(PublicRow {
            reference,
            title,
            description,
            published_on,
            point_id,
            point_name,
            district,
            unit_id,
            unit_name,
            category,
            category_name,
            card: stored.case.card,
            found_on,
            closed_by_recheck: rechecked && stored.case.state == crate::rectification::case::CaseState::Closed,
            closed_at: stored.closed_at,
            commitment: commitment_of(conn, entry_id)?,
            case: stored.case,
            before_photos: serde_json::from_str(&photos).unwrap_or_default(),
            after_photos,
            withdrawn: w_on.zip(w_note),
        });
    }
    Ok(out)
}

/// Whether a photo may be served publicly: a before-photo selected in a
/// published entry not withdrawn, or the after-photo of such an entry's
/// case closed by a passed re-check.
fn public_photo(conn: &Connection, sha256: &str) -> Result<bool, AppError> {
    let before: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM exposure_entries e, json_each(e.photos) j
                        WHERE e.published_ms IS NOT NULL AND e.withdrawn_ms IS NULL AND j.value = ?1)",
        [sha256],
        |r| r.get(0),
    )?;
    if before {
        return Ok(true);
    }
    let mut cases = conn.prepare_cached(
        "SELECT DISTINCT e.case_id FROM exposure_entries e JOIN case_attachments a ON a.case_id = e.case_id
         WHERE e.published_ms IS NOT NULL AND e.withdrawn_ms IS NULL AND a.sha256 = ?1",
    )?;
    let ids: Vec<i64> = cases.query_map([sha256], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for id in ids {
        let after: Vec<String> =
            conn.prepare_cached(AFTER_PHOTOS_OF_CASE)?.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        if after.iter().any(|s| s == sha256) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn four_eyes(conn: &Connection) -> Result<bool, AppError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM office_settings WHERE key = 'exposure_four_eyes'", [], |r| r.get(0))
        .optional()?;
    Ok(v.is_none_or(|v| v.trim() == "1"))
}

/// Remakes every published crop from its source photo and rectangle and
/// compares it with the stored crop: a crop that shows anything but the
/// rectangle of the evidence photo it names is altered.
pub(in crate::db) fn audit_crops(conn: &Connection, dir: &super::evidence::PhotoDir) -> Result<Vec<String>, AppError> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT derived_sha256, source_sha256, left_pct, top_pct, width_pct, height_pct FROM exposure_crops ORDER BY derived_sha256",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            anfang_core::photo::CropRect { left: r.get(2)?, top: r.get(3)?, width: r.get(4)?, height: r.get(5)? },
        ))
    })?;
    for row in rows {
        let (derived, source, rect) = row?;
        let remade = dir
            .read(&source, false)
            .and_then(|b| anfang_core::photo::crop_stored(&b, rect, &Default::default()).map_err(|e| e.to_string()));
        match remade {
            Ok(p) if p.sha256 == derived => {}
            Ok(p) => problems.push(format!(
                "published crop {derived}: the rectangle {}%,{}% {}×{}% of photo {source} gives {} (altered)",
                rect.left, rect.top, rect.width, rect.height, p.sha256
            )),
            Err(e) => problems.push(format!("published crop {derived}: cannot remake it from photo {source}: {e}")),
        }
    }
    Ok(problems)
}

/// Checks every publication and withdrawal against its evidence-log entry
/// (and the row's own stored hash); one line per problem.
pub(in crate::db) fn audit(
    conn: &Connection,
    logged: &HashMap<String, (i64, String)>,
) -> Result<Vec<String>, AppError> {
    let mut problems = Vec::new();
    let sql = format!(
        "SELECT {ENTRY_COLUMNS}, e.record_hash, e.withdrawal_hash
         FROM exposure_entries e LEFT JOIN rectification_cases c ON c.id = e.case_id ORDER BY e.id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let entry = entry_row(&r)?;
        let (stored_publish, stored_withdraw): (Option<String>, Option<String>) = (r.get(15)?, r.get(16)?);
        if let Some((ms, p)) = &entry.published {
            let id = format!("exposure/{}/publish", entry.id);
            let hash = publish_hash(&entry, *ms, p);
            match logged.get(&id) {
                Some((_, h)) if *h == hash => {}
                Some((seq, _)) => problems.push(format!(
                    "exposure entry {}: its published text, photos or publisher differ from what log entry {seq} \
                     recorded (altered)",
                    entry.public_ref
                )),
                None => problems
                    .push(format!("exposure entry {}: its publication is not in the evidence log", entry.public_ref)),
            }
            if stored_publish.as_deref() != Some(hash.as_str()) {
                problems.push(format!(
                    "exposure entry {}: its published content does not match its stored hash (altered)",
                    entry.public_ref
                ));
            }
        }
        if let Some((by, ms, on, note)) = &entry.withdrawn {
            let id = format!("exposure/{}/withdraw", entry.id);
            let hash = withdraw_hash(&entry, *by, *ms, on, note);
            match logged.get(&id) {
                Some((_, h)) if *h == hash => {}
                Some((seq, _)) => problems.push(format!(
                    "exposure entry {}: its withdrawal note or date differ from what log entry {seq} recorded (altered)",
                    entry.public_ref
                )),
                None => problems.push(format!("exposure entry {}: its withdrawal is not in the evidence log", entry.public_ref)),
            }
            if stored_withdraw.as_deref() != Some(hash.as_str()) {
                problems.push(format!(
                    "exposure entry {}: its withdrawal does not match its stored hash (altered)",
                    entry.public_ref
                ));
            }
        }
    }
    let mut stmt = conn.prepare(
        "SELECT entry_id, unit_id, user_id, made_ms, person_name, person_title, what, due_on, made_on, record_hash
         FROM exposure_commitments ORDER BY entry_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (entry_id, unit_id, user_id, made_ms): (i64, String, i64, i64) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let c = Commitment {
            person_name: r.get(4)?,
            person_title: r.get(5)?,
            what: r.get(6)?,
            due_on: r.get(7)?,
            made_on: r.get(8)?,
        };
        let stored: String = r.get(9)?;
        let hash = commitment_hash(entry_id, &unit_id, user_id, made_ms, &c);
        let id = format!("exposure/{entry_id}/commitment");
        match logged.get(&id) {
            Some((_, h)) if *h == hash && stored == hash => {}
            Some((seq, _)) => problems.push(format!(
                "public commitment {id}: its person, text or dates differ from what log entry {seq} recorded (altered)"
            )),
            None => problems.push(format!("public commitment {id}: is not in the evidence log")),
        }
    }
    Ok(problems)
}

/// Whether the record an `exposure_*` log entry names still exists:
/// published (for a publication), withdrawn (for a withdrawal).
pub(in crate::db) fn logged_record_exists(conn: &Connection, kind: &str, record_id: &str) -> Result<bool, AppError> {
    let Some((id, what)) = record_id.strip_prefix("exposure/").and_then(|r| r.split_once('/')) else {
        return Ok(false);
    };
    let Ok(id) = id.parse::<i64>() else { return Ok(false) };
    let column = match (kind, what) {
        (LOG_PUBLISH, "publish") => "published_ms",
        (LOG_WITHDRAW, "withdraw") => "withdrawn_ms",
        (LOG_COMMITMENT, "commitment") => {
            return Ok(conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM exposure_commitments WHERE entry_id = ?1)",
                [id],
                |r| r.get(0),
            )?);
        }
        _ => return Ok(false),
    };
    Ok(conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM exposure_entries WHERE id = ?1 AND {column} IS NOT NULL)"),
        [id],
        |r| r.get(0),
    )?)
}

impl super::Db {
    /// Proposes the case `reference` names (a case reference, or a finding's
    /// id or public reference) as `rule` judges the facts; answers the new
    /// entry's public reference.
    pub async fn propose_exposure(
        &self,
        reference: String,
        user_id: i64,
        now: Timestamp,
        rule: impl FnOnce(&ProposeFacts) -> Result<(), AppError> + Send + 'static,
    ) -> Result<String, AppError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let facts = propose_facts(&tx, &reference)?;
            rule(&facts)?;
            let case = facts.case.ok_or_else(|| AppError::internal("a proposal accepted without a case"))?;
            let entry: String = tx.query_row(
                "INSERT INTO exposure_entries (public_ref, case_id, proposed_by, proposed_ms)
                 VALUES (lower(hex(randomblob(6))), ?1, ?2, ?3) RETURNING public_ref",
                params![case.id, user_id, now.as_millisecond()],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(entry)
        })
        .await
    }

    /// Publishes an entry with what `decide` makes of the facts, freezing
    /// it and logging its hash in the same transaction. `decide` gets
    /// `None` for a reference that names no entry.
    pub async fn publish_exposure(
        &self,
        entry_ref: String,
        now: Timestamp,
        decide: impl FnOnce(Option<&PublishFacts>) -> Result<Publication, AppError> + Send + 'static,
    ) -> Result<StoredEntry, AppError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(entry) = entry_by_ref(&tx, &entry_ref)? else {
                decide(None)?;
                return Err(AppError::NotFound(format!("no exposure entry {entry_ref}")));
            };
            let case = by_ref(&tx, &entry.case_ref)?.ok_or_else(|| AppError::internal("an entry without its case"))?;
            let facts = PublishFacts {
                effective_card: effective_card(&tx, &case.finding_id)?.unwrap_or(case.case.card),
                finding_photos: finding_photos(&tx, &case.finding_id)?,
                four_eyes: four_eyes(&tx)?,
                aliases: super::accounts::alias_mask(&tx)?,
                case,
                entry,
            };
            let p = decide(Some(&facts))?;
            let ms = now.as_millisecond();
            let hash = publish_hash(&facts.entry, ms, &p);
            let photos = serde_json::to_string(&p.photos).map_err(AppError::internal)?;
            tx.execute(
                "UPDATE exposure_entries SET published_by = ?2, published_ms = ?3, published_on = ?4, title = ?5,
                        description = ?6, photos = ?7, record_hash = ?8
                 WHERE id = ?1 AND published_ms IS NULL",
                params![facts.entry.id, p.by, ms, p.on, p.title, p.description, photos, hash],
            )?;
            for c in &p.crops {
                tx.execute(
                    "INSERT INTO exposure_crops (derived_sha256, entry_id, source_sha256, left_pct, top_pct, width_pct, height_pct)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![c.derived, facts.entry.id, c.source, c.rect.left, c.rect.top, c.rect.width, c.rect.height],
                )?;
                // Published: the sweeper of unreferenced photos must not take it.
                tx.execute("DELETE FROM unreferenced_photos WHERE sha256 = ?1", [&c.derived])?;
            }
            super::evidence::append(&tx, LOG_PUBLISH, &format!("exposure/{}/publish", facts.entry.id), &hash, now)?;
            let stored =
                entry_by_ref(&tx, &entry_ref)?.ok_or_else(|| AppError::internal("a published entry vanished"))?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    /// Withdraws a published entry: `decide` judges the stored entry and
    /// answers (who, note); the note and day become public, logged.
    pub async fn withdraw_exposure(
        &self,
        entry_ref: String,
        now: Timestamp,
        on: String,
        decide: impl FnOnce(Option<&StoredEntry>, &crate::redact::AliasMask) -> Result<(i64, String), AppError>
        + Send
        + 'static,
    ) -> Result<StoredEntry, AppError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let entry = entry_by_ref(&tx, &entry_ref)?;
            let (by, note) = decide(entry.as_ref(), &super::accounts::alias_mask(&tx)?)?;
            let entry = entry.ok_or_else(|| AppError::NotFound(format!("no exposure entry {entry_ref}")))?;
            let ms = now.as_millisecond();
            let hash = withdraw_hash(&entry, by, ms, &on, &note);
            tx.execute(
                "UPDATE exposure_entries SET withdrawn_by = ?2, withdrawn_ms = ?3, withdrawn_on = ?4,
                        withdrawal_note = ?5, withdrawal_hash = ?6
                 WHERE id = ?1 AND withdrawn_ms IS NULL",
                params![entry.id, by, ms, on, note, hash],
            )?;
            super::evidence::append(&tx, LOG_WITHDRAW, &format!("exposure/{}/withdraw", entry.id), &hash, now)?;
            let stored =
                entry_by_ref(&tx, &entry_ref)?.ok_or_else(|| AppError::internal("a withdrawn entry vanished"))?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    /// A unit's commitment on its own notified case's published entry, as
    /// `decide` judges the facts (`None`: not the unit's case, or none).
    pub async fn commit_exposure(
        &self,
        case_ref: String,
        unit_id: String,
        user_id: i64,
        now: Timestamp,
        decide: impl FnOnce(Option<&CommitFacts>) -> Result<Commitment, AppError> + Send + 'static,
    ) -> Result<Commitment, AppError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let case = by_ref(&tx, &case_ref)?.filter(|c| c.case.unit_id == unit_id && c.case.notified_at.is_some());
            let Some(case) = case else {
                decide(None)?;
                return Err(AppError::NotFound(format!("no case {case_ref}")));
            };
            let entry = published_entry(&tx, case.id)?;
            let existing = match &entry {
                Some(e) => commitment_of(&tx, e.id)?.is_some(),
                None => false,
            };
            let facts = CommitFacts { case, entry, existing };
            let c = decide(Some(&facts))?;
            let entry = facts.entry.ok_or_else(|| AppError::internal("a commitment accepted without its entry"))?;
            let ms = now.as_millisecond();
            let hash = commitment_hash(entry.id, &unit_id, user_id, ms, &c);
            tx.execute(
                "INSERT INTO exposure_commitments (entry_id, unit_id, user_id, person_name, person_title, what, due_on,
                                                   made_on, made_ms, record_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    entry.id,
                    unit_id,
                    user_id,
                    c.person_name,
                    c.person_title,
                    c.what,
                    c.due_on,
                    c.made_on,
                    ms,
                    hash
                ],
            )?;
            super::evidence::append(&tx, LOG_COMMITMENT, &format!("exposure/{}/commitment", entry.id), &hash, now)?;
            tx.commit()?;
            Ok(c)
        })
        .await
    }

    /// For the unit portal: the published entry of the unit's own case (its
    /// public reference) and the commitment made on it, if any.
    pub async fn unit_case_exposure(
        &self,
        unit_id: String,
        case_ref: String,
    ) -> Result<Option<(String, Option<Commitment>)>, AppError> {
        self.read(move |c| {
            let Some(case) = by_ref(c, &case_ref)?.filter(|s| s.case.unit_id == unit_id) else { return Ok(None) };
            match published_entry(c, case.id)? {
                Some(e) => Ok(Some((e.public_ref.clone(), commitment_of(c, e.id)?))),
                None => Ok(None),
            }
        })
        .await
    }

    /// One entry as the office reads it.
    pub async fn office_exposure(&self, entry_ref: String) -> Result<Option<OfficeEntry>, AppError> {
        self.read(move |c| entry_by_ref(c, &entry_ref)?.map(|e| office_entry(c, &e)).transpose()).await
    }

    /// Every entry, newest proposal first, as the office reads them.
    pub async fn office_exposures(&self) -> Result<Vec<OfficeEntry>, AppError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM exposure_entries e JOIN rectification_cases c ON c.id = e.case_id
                 ORDER BY e.proposed_ms DESC, e.id DESC LIMIT 1000"
            );
            let entries: Vec<StoredEntry> = c.prepare(&sql)?.query_map([], entry_row)?.collect::<Result<_, _>>()?;
            entries.iter().map(|e| office_entry(c, e)).collect()
        })
        .await
    }

    /// The entries of a case (any status), newest first: the case page's box.
    pub async fn case_exposures(&self, case_ref: String) -> Result<Vec<OfficeEntry>, AppError> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM exposure_entries e JOIN rectification_cases c ON c.id = e.case_id
                 WHERE c.public_ref = ?1 ORDER BY e.id DESC"
            );
            let entries: Vec<StoredEntry> =
                c.prepare(&sql)?.query_map([case_ref], entry_row)?.collect::<Result<_, _>>()?;
            entries.iter().map(|e| office_entry(c, e)).collect()
        })
        .await
    }

    /// One page of the published entries `q` picks (withdrawn ones by
    /// their state only), `per_page` of them from page `page` (1 first) in
    /// `order`, their count, and the groups of the entries `summary` picks
    /// when asked: filtered, counted and paged in SQL, so a page reads
    /// its own rows only. Past the end, no rows (the count says where the
    /// end is).
    #[allow(clippy::too_many_arguments)]
    pub async fn public_listing(
        &self,
        q: PublicQuery,
        summary: Option<PublicQuery>,
        order: PublicOrder,
        per_page: u32,
        page: u32,
        tz: jiff::tz::TimeZone,
        now: Timestamp,
    ) -> Result<PublicListing, AppError> {
        self.read(move |c| {
            let clock = StateClock::new(now, &tz)?;
            let groups = match &summary {
                Some(s) => public_groups(c, s, &clock)?,
                None => Vec::new(),
            };
            // The summary's groups already count the query when it is the
            // summary's own (a unit's or a point's page).
            let known = summary.filter(|s| *s == q).map(|_| groups.iter().map(|g| g.count).sum::<u64>());
            let offset = u64::from(page.max(1) - 1) * u64::from(per_page);
            if known.is_some_and(|n| offset >= n) {
                return Ok(PublicListing { total: known.unwrap_or(0), rows: Vec::new(), groups });
            }
            let (ids, counted) = public_page_ids(c, &q, &clock, order, per_page, offset)?;
            // The page's own pass counts the matches; an empty page past
            // the first needs a count to say where the end is.
            let total = match (known, counted) {
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) if offset == 0 => 0,
                (None, None) => public_count(c, &q, &clock)?,
            };
            Ok(PublicListing { total, rows: public_rows(c, &tz, &ids)?, groups })
        })
        .await
    }

    /// One published entry (withdrawn too) by its public reference.
    pub async fn public_exposure(
        &self,
        reference: String,
        tz: jiff::tz::TimeZone,
    ) -> Result<Option<PublicRow>, AppError> {
        self.read(move |c| public_row(c, &tz, "e.public_ref = ?1", &reference)).await
    }

    pub async fn public_photo_allowed(&self, sha256: String) -> Result<bool, AppError> {
        self.read(move |c| public_photo(c, &sha256)).await
    }

    /// The four-eyes setting (双人审核): whether a second reviewer may publish.
    pub async fn exposure_four_eyes(&self) -> Result<bool, AppError> {
        self.read(four_eyes).await
    }

    pub async fn set_exposure_four_eyes(&self, on: bool) -> Result<(), AppError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO office_settings (key, value) VALUES ('exposure_four_eyes', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [if on { "1" } else { "0" }],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::exposure::PublicState;
    use crate::db::Db;

    /// The list filters and counts by [`PUBLIC_STATE_SQL`] and shows
    /// `PublicState::of`: both read every kind of case the same, at the
    /// edges too (a deadline exactly now, a deferral's target day just
    /// ended, at midnight and a millisecond after).
    #[tokio::test]
    async fn the_sql_public_state_is_the_state_the_page_shows() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let creds = crate::demo::load(&db).unwrap();
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        // 2026-12-06 00:00 office time.
        let midnight: Timestamp = "2026-12-05T16:00:00Z".parse().unwrap();
        let reviewer = db
            .add_user("rev".into(), "rev-password-1".into(), crate::auth::Role::Reviewer, None, midnight)
            .await
            .unwrap();
        let hour = 3_600_000i64;
        let m = midnight.as_millisecond();
        /// (state, deadline, deferred_until, re-check passed, withdrawn)
        type Kind = (&'static str, Option<i64>, Option<&'static str>, bool, bool);
        let cases: [Kind; 14] = [
            ("open", Some(m - hour), None, false, false),
            ("open", Some(m + hour), None, false, false),
            ("open", Some(m), None, false, false),
            ("open", Some(m + 1), None, false, false),
            ("open", None, None, false, false),
            ("rework", Some(m - hour), None, false, false),
            ("answered", Some(m - hour), None, false, false),
            ("deferred", Some(m - 90 * hour), Some("2026-12-05"), false, false),
            ("deferred", Some(m - 90 * hour), Some("2026-12-04"), false, false),
            ("deferred", Some(m - 90 * hour), Some("2026-12-06"), false, false),
            ("closed", Some(m - 90 * hour), None, true, false),
            ("closed", Some(m - 90 * hour), None, false, false),
            ("cancelled", Some(m - hour), None, false, false),
            ("open", Some(m - hour), None, false, true),
        ];
        let admin_name = creds.admin_username.clone();
        let key = anfang_core::evidence::DeviceKey::generate();
        let code = creds.inspectors[0].1.clone();
        db.write_blocking(move |c| {
            crate::db::accounts::enroll(c, &code, None, &key.public_key_hex())?;
            let (device, inspector): (String, i64) =
                c.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let admin: i64 = c.query_row("SELECT id FROM users WHERE username = ?1", [&admin_name], |r| r.get(0))?;
            for (i, (state, deadline, deferred, rechecked, withdrawn)) in cases.iter().enumerate() {
                let id = uuid::Uuid::now_v7().to_string();
                let observed = m - 100 * hour;
                c.execute(
                    "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note,
                       observed_ms, lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
                     VALUES (?1, ?2, ?3, ?4, 'P001', 'U03', 'parking', 'red', NULL, ?5, 29.5, 106.5, 8.0, NULL, '{}',
                             ?6, ?5, NULL)",
                    params![id, i as i64 + 1, device, inspector, observed, sha256_hex(id.as_bytes())],
                )?;
                c.execute(
                    "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason,
                       reviewer_id, decided_at) VALUES (?1, 1, 'accept', 'parking', 'U03', 'red', NULL, ?2, ?3)",
                    params![id, admin, midnight.to_string()],
                )?;
                let closed = (*state == "closed").then_some(m - 2 * hour);
                c.execute(
                    "INSERT INTO rectification_cases (public_ref, finding_id, unit_id, card, state, inspector_id,
                       opened_ms, notified_ms, deadline_ms, answered_ms, closed_ms, deferred_until)
                     VALUES (lower(hex(randomblob(6))), ?1, 'U03', 'red', ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)",
                    params![id, state, inspector, observed, deadline.map(|d| d - 72 * hour), deadline, closed, deferred],
                )?;
                let case = c.last_insert_rowid();
                if *rechecked {
                    c.execute(
                        "INSERT INTO case_events (case_id, seq, at_ms, actor_kind, event, to_state, record_hash)
                         VALUES (?1, 1, ?2, 'inspector', 'recheck_passed', 'closed', 'x')",
                        params![case, m - 2 * hour],
                    )?;
                }
                c.execute(
                    "INSERT INTO exposure_entries (public_ref, case_id, proposed_by, proposed_ms, published_by,
                       published_ms, published_on, title, description, photos, record_hash, withdrawn_by,
                       withdrawn_ms, withdrawn_on, withdrawal_note, withdrawal_hash)
                     VALUES (lower(hex(randomblob(6))), ?1, ?2, ?3, ?4, ?3, '2026-12-03', 't', 'd', '[]', 'h',
                             ?5, ?6, ?7, ?8, ?9)",
                    params![
                        case,
                        reviewer,
                        m - 80 * hour,
                        admin,
                        withdrawn.then_some(admin),
                        withdrawn.then_some(m - 10 * hour),
                        withdrawn.then_some("2026-12-05"),
                        withdrawn.then_some("n"),
                        withdrawn.then_some("h"),
                    ],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let tz2 = tz.clone();
        let seen = db
            .read(move |c| {
                let ids: Vec<i64> = c
                    .prepare("SELECT id FROM exposure_entries ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut seen = Vec::new();
                for now in [
                    midnight,
                    midnight + jiff::SignedDuration::from_millis(1),
                    midnight + jiff::SignedDuration::from_hours(30),
                ] {
                    let clock = StateClock::new(now, &tz2)?;
                    let zoned = now.to_zoned_datetime(tz2.clone());
                    let sql =
                        format!("SELECT st FROM ({}) AS entry WHERE id = :id AND {PUBLIC_FILTER_SQL}", public_base());
                    for id in &ids {
                        let row = public_row(c, &tz2, "e.id = ?1", id)?.expect("published");
                        let shown = PublicState::of(&row, &zoned).key();
                        let q = PublicQuery::default();
                        let sql_state: Vec<String> = with_public_params(
                            c,
                            &sql,
                            &q,
                            &clock,
                            &[(":id", id as &dyn crate::db::sql::ToSql)],
                            |r| r.get(0),
                        )?;
                        seen.push((now.to_string(), *id, shown.to_owned(), sql_state.join(",")));
                    }
                }
                Ok(seen)
            })
            .await
            .unwrap();
        for (now, id, shown, sql) in &seen {
            assert_eq!(shown, sql, "entry {id} at {now}");
        }
        let keys: std::collections::BTreeSet<&str> = seen.iter().map(|s| s.2.as_str()).collect();
        assert_eq!(keys.len(), 7, "every state was met: {keys:?}");
        let at_midnight: Vec<&str> = seen.iter().take(cases.len()).map(|s| s.2.as_str()).collect();
        assert_eq!(at_midnight[2], "in_progress", "a deadline exactly now is not past");
        assert_eq!(at_midnight[7], "deferred", "a deferral's day ended exactly now");
        assert_eq!(seen[cases.len() + 7].2, "overdue", "and a millisecond later it is late");
    }
}
