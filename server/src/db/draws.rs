//! Random draws: their parameters, secret seeds, commitments, reveals and
//! assignments, and the inspectors' excluded units they are drawn with.
//!
//! **Invariants:** a draw is immutable once created (a trigger allows only
//! the one-time reveal); its assignments are never updated or deleted; the
//! seed leaves the database only after the reveal; an assignment reaches an
//! inspector only from its `visible_ms` and a reviewer only after its
//! `ends_ms`. Commitment and reveal are appended to the evidence log in the
//! transaction that records them.

use super::sql::{Connection, OptionalExtension, params};
use crate::draw::{self, DrawError, DrawInspector, DrawPoint, Params, Slot};
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::Assignment;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/draws`: what the admin asks for. Everything but the
/// period and the number of visits has a default.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawRequest {
    #[schemars(with = "String", extend("format" = "date"))]
    pub from: jiff::civil::Date,
    #[schemars(with = "String", extend("format" = "date"))]
    pub to: jiff::civil::Date,
    pub visits: u32,
    /// Aliases; default every active inspector.
    #[serde(default)]
    pub inspectors: Option<Vec<String>>,
    /// Point filters (all active points when absent); a point must match
    /// every filter given.
    #[serde(default)]
    pub point_kinds: Option<Vec<String>>,
    #[serde(default)]
    pub districts: Option<Vec<String>>,
    #[serde(default)]
    pub units: Option<Vec<String>>,
    /// Default: [`draw::default_slots`].
    #[serde(default)]
    pub slots: Option<Vec<Slot>>,
    #[serde(default)]
    pub min_days_between_same_unit: Option<u32>,
    #[serde(default)]
    pub max_visits_per_inspector_per_day: Option<u32>,
    /// Default: the assignment reaches the inspector at 00:00 of its day.
    #[serde(default)]
    pub lead_minutes: Option<u32>,
}

/// Defaults for a draw's constraints.
pub const DEFAULT_MIN_DAYS_BETWEEN_SAME_UNIT: u32 = 7;
pub const DEFAULT_MAX_VISITS_PER_DAY: u32 = 2;

/// A draw as listed: no seed (until revealed), no assignments, no alias.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DrawSummary {
    pub id: Uuid,
    pub from: String,
    pub to: String,
    pub visits: i64,
    pub commitment: String,
    pub created_at: String,
    pub revealed_at: Option<String>,
}

/// `GET /api/v1/draws/{id}/export`: everything needed to check the draw
/// offline with `anfang-server draw verify`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrawExport {
    pub id: Uuid,
    pub commitment: String,
    pub parameters: Params,
    /// Hex; only once revealed.
    pub seed: Option<String>,
    /// Only once revealed (the period is over, so secrecy no longer applies).
    pub assignments: Option<Vec<draw::Drawn>>,
}

fn invalid(e: DrawError) -> AppError {
    AppError::Draw(e)
}

/// Sets the units an inspector must never be sent to (replacing the list).
#[doc(hidden)]
pub fn set_excluded_units(conn: &mut Connection, alias: &str, units: &[String]) -> Result<(), AppError> {
    let tx = conn.transaction()?;
    let id = super::accounts::inspector_id_by_alias(&tx, alias)?.ok_or_else(|| {
        AppError::coded(StatusCode::NOT_FOUND, ErrorCode::InspectorNotFound, format!("no inspector called {alias:?}"))
            .with_field("alias")
    })?;
    tx.execute("DELETE FROM inspector_excluded_units WHERE inspector_id = ?1", [id])?;
    for u in units {
        if super::reference::unit(&tx, u)?.is_none() {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::UnitUnknown,
                format!("unknown unit {u:?}"),
            )
            .with_field("units"));
        }
        tx.execute(
            "INSERT INTO inspector_excluded_units (inspector_id, unit_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, u],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Turns a request into canonical parameters: the inspectors with their
/// excluded units and the points as they are now, sorted.
#[doc(hidden)]
pub fn resolve(conn: &Connection, req: &DrawRequest, timezone: &str) -> Result<Params, AppError> {
    let mut inspectors = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT id, alias FROM inspectors WHERE active = 1 ORDER BY alias")?;
        let active: Vec<(i64, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        if let Some(named) = &req.inspectors {
            for alias in named {
                if !active.iter().any(|(_, a)| a == alias) {
                    return Err(AppError::coded(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorCode::DrawInspectorInactive,
                        format!("{alias:?} is not an active inspector"),
                    )
                    .with_field("inspectors"));
                }
            }
        }
        let mut excluded =
            conn.prepare("SELECT unit_id FROM inspector_excluded_units WHERE inspector_id = ?1 ORDER BY unit_id")?;
        for (id, alias) in active {
            if req.inspectors.as_ref().is_some_and(|n| !n.contains(&alias)) {
                continue;
            }
            let excluded_units = excluded.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
            inspectors.push(DrawInspector { alias, excluded_units });
        }
    }
    let mut points = Vec::new();
    {
        let mut stmt =
            conn.prepare("SELECT id, unit_id, coalesce(district, ''), kind FROM points WHERE active = 1 ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?;
        for row in rows {
            let (id, unit_id, district, kind) = row?;
            let keep = req.point_kinds.as_ref().is_none_or(|k| k.contains(&kind))
                && req.districts.as_ref().is_none_or(|d| d.contains(&district))
                && req.units.as_ref().is_none_or(|u| u.contains(&unit_id));
            if keep {
                points.push(DrawPoint { id, unit_id, district });
            }
        }
    }
    let mut p = Params {
        algorithm: draw::ALGORITHM.into(),
        from: req.from,
        to: req.to,
        timezone: timezone.to_owned(),
        inspectors,
        points,
        visits: req.visits,
        slots: req.slots.clone().unwrap_or_else(draw::default_slots),
        min_days_between_same_unit: req.min_days_between_same_unit.unwrap_or(DEFAULT_MIN_DAYS_BETWEEN_SAME_UNIT),
        max_visits_per_inspector_per_day: req.max_visits_per_inspector_per_day.unwrap_or(DEFAULT_MAX_VISITS_PER_DAY),
        lead_minutes: req.lead_minutes,
    };
    p.normalize();
    p.validate().map_err(invalid)?;
    Ok(p)
}

pub(crate) fn local_ms(
    tz: &jiff::tz::TimeZone,
    date: jiff::civil::Date,
    time: jiff::civil::Time,
) -> Result<i64, AppError> {
    Ok(tz.to_timestamp(date.to_datetime(time)).map_err(|_| out_of_range(date))?.as_millisecond())
}

/// A date at the edge of what a timestamp holds (year -9999 or 9999): the
/// request's mistake, not the server's.
fn out_of_range(date: jiff::civil::Date) -> AppError {
    AppError::coded(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::DateOutOfRange,
        format!("{date} is outside the dates the server can handle; draw for a period in the coming years"),
    )
}

/// The instant a period ends: 00:00 of the day after `to`, office time.
pub(in crate::db) fn period_end_ms(params: &Params) -> Result<i64, AppError> {
    let tz = params.tz().map_err(invalid)?;
    let after = params.to.tomorrow().map_err(|_| out_of_range(params.to).with_field("to"))?;
    local_ms(&tz, after, jiff::civil::Time::midnight())
}

/// Draws a fresh secret seed, computes the assignments and stores the
/// draw, its assignments and its commitment's log entry in one transaction.
/// A draw decided by the draw service (`app::draws::plan`): its
/// canonical parameters, seed, visits and commitment, ready to store.
pub struct PlannedDraw {
    pub params: Params,
    pub seed: [u8; 32],
    pub drawn: Vec<draw::Drawn>,
    pub commitment: String,
}

/// Draws and stores at connection level, by the draw service's rule
/// exactly as [`super::Db::create_draw`] does: for the console and the
/// command line, until they call `app::draws`.
#[doc(hidden)]
pub fn create(
    conn: &mut Connection,
    params: Params,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<DrawSummary, AppError> {
    let planned = crate::app::draws::plan(params, now_ms)?;
    store(conn, planned, created_by, now_ms)
}

/// Stores a planned draw, its assignments and its commitment's
/// evidence-log entry, in one transaction.
fn store(
    conn: &mut Connection,
    planned: PlannedDraw,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<DrawSummary, AppError> {
    let tx = conn.transaction()?;
    let (summary, _) = store_in(&tx, planned, created_by, now_ms)?;
    tx.commit()?;
    Ok(summary)
}

/// Writes a planned draw, its assignments and its commitment's log entry
/// inside the caller's transaction (a re-check draw links its visit in the
/// same one); returns the draw and its assignment ids in draw order.
pub(in crate::db) fn store_in(
    tx: &Connection,
    planned: PlannedDraw,
    created_by: Option<i64>,
    now_ms: i64,
) -> Result<(DrawSummary, Vec<String>), AppError> {
    let PlannedDraw { params, seed, drawn, commitment } = planned;
    let tz = params.tz().map_err(invalid)?;
    let id = Uuid::now_v7();
    let created_at = jiff::Timestamp::from_millisecond(now_ms).map_err(AppError::internal)?.to_string();
    tx.execute(
        "INSERT INTO draws (id, period_from, period_to, period_end_ms, visits, params, commitment, seed, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id.to_string(),
            params.from.to_string(),
            params.to.to_string(),
            period_end_ms(&params)?,
            params.visits,
            params.canonical_json(),
            commitment,
            hex::encode(seed),
            created_by,
            created_at
        ],
    )?;
    let mut ids = Vec::with_capacity(drawn.len());
    {
        let mut insert = tx.prepare(
            "INSERT INTO draw_assignments (id, draw_id, idx, inspector_id, point_id, unit_id, date, slot, slot_label, starts_ms, ends_ms, visible_ms)
             VALUES (?1, ?2, ?3, (SELECT id FROM inspectors WHERE alias = ?4), ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for v in &drawn {
            let slot =
                params.slots.iter().find(|s| s.name == v.slot).ok_or_else(|| AppError::internal("slot vanished"))?;
            let starts = local_ms(&tz, v.date, slot.start)?;
            let ends = local_ms(&tz, v.date, slot.end)?;
            let visible = match params.lead_minutes {
                Some(m) => starts - i64::from(m) * 60_000,
                None => local_ms(&tz, v.date, jiff::civil::Time::midnight())?,
            };
            let aid = Uuid::now_v7().to_string();
            insert.execute(params![
                aid,
                id.to_string(),
                v.index,
                v.inspector,
                v.point_id,
                v.unit_id,
                v.date.to_string(),
                slot.name,
                slot.label,
                starts,
                ends,
                visible
            ])?;
            ids.push(aid);
        }
    }
    super::evidence::append(tx, "draw_commitment", &id.to_string(), &commitment, super::ms_timestamp(now_ms)?)?;
    let summary = DrawSummary {
        id,
        from: params.from.to_string(),
        to: params.to.to_string(),
        visits: params.visits.into(),
        commitment,
        created_at,
        revealed_at: None,
    };
    Ok((summary, ids))
}

const SUMMARY: &str = "SELECT id, period_from, period_to, visits, commitment, created_at, revealed_at FROM draws";

/// id, period_from, period_to, visits, commitment, created_at, revealed_at.
type SummaryRow = (String, String, String, i64, String, String, Option<String>);

fn summary_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<SummaryRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn summary(row: (String, String, String, i64, String, String, Option<String>)) -> Result<DrawSummary, AppError> {
    Ok(DrawSummary {
        id: row.0.parse().map_err(AppError::internal)?,
        from: row.1,
        to: row.2,
        visits: row.3,
        commitment: row.4,
        created_at: row.5,
        revealed_at: row.6,
    })
}

/// Every draw whose period overlaps `from..=to` (dates as `YYYY-MM-DD`),
/// oldest first: re-drawing a period is always visible here.
#[doc(hidden)]
pub fn list(conn: &Connection, from: Option<&str>, to: Option<&str>) -> Result<Vec<DrawSummary>, AppError> {
    let mut stmt = conn.prepare(&format!(
        "{SUMMARY} WHERE (period_to >= ?1 OR ?1 IS NULL) AND (period_from <= ?2 OR ?2 IS NULL) ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map(params![from, to], summary_row)?;
    rows.map(|r| summary(r?)).collect()
}

/// One draw as listed, if it exists.
#[doc(hidden)]
pub fn get(conn: &Connection, id: &str) -> Result<Option<DrawSummary>, AppError> {
    let row = conn.query_row(&format!("{SUMMARY} WHERE id = ?1"), [id], summary_row).optional()?;
    row.map(summary).transpose()
}

fn not_found(id: &str) -> AppError {
    AppError::coded(StatusCode::NOT_FOUND, ErrorCode::DrawNotFound, format!("no draw with id {id}"))
}

/// Reveals the seed of a draw whose period has ended; idempotent.
#[doc(hidden)]
pub fn reveal(conn: &mut Connection, id: &str, now_ms: i64) -> Result<DrawExport, AppError> {
    let tx = conn.transaction()?;
    let row: Option<(i64, String, Option<String>, String)> = tx
        .query_row("SELECT period_end_ms, period_to, revealed_at, seed FROM draws WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((end_ms, to, revealed_at, seed)) = row else { return Err(not_found(id)) };
    if revealed_at.is_none() {
        if now_ms < end_ms {
            return Err(AppError::coded(
                StatusCode::CONFLICT,
                ErrorCode::DrawNotEnded,
                format!("the period of draw {id} runs until {to}; its seed is revealed only after the period ends"),
            ));
        }
        let at = jiff::Timestamp::from_millisecond(now_ms).map_err(AppError::internal)?.to_string();
        tx.execute("UPDATE draws SET revealed_at = ?2 WHERE id = ?1", params![id, at])?;
        // The log records the seed's hash: anyone holding the revealed seed
        // can match it, and the entry cannot be swapped for another seed.
        let seed_bytes = hex::decode(&seed).map_err(AppError::internal)?;
        super::evidence::append(
            &tx,
            "draw_reveal",
            id,
            &anfang_core::domain::sha256_hex(&seed_bytes),
            super::ms_timestamp(now_ms)?,
        )?;
    }
    tx.commit()?;
    export(conn, id)
}

/// The draw's parameters and commitment; seed and assignments once revealed.
#[doc(hidden)]
pub fn export(conn: &Connection, id: &str) -> Result<DrawExport, AppError> {
    let row: Option<(String, String, String, Option<String>)> = conn
        .query_row("SELECT params, commitment, seed, revealed_at FROM draws WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((params_text, commitment, seed, revealed_at)) = row else { return Err(not_found(id)) };
    let parameters: Params = serde_json::from_str(&params_text).map_err(AppError::internal)?;
    let revealed = revealed_at.is_some();
    let assignments = if revealed {
        let mut stmt = conn.prepare(
            "SELECT a.idx, i.alias, a.point_id, a.unit_id, a.date, a.slot FROM draw_assignments a
             JOIN inspectors i ON i.id = a.inspector_id WHERE a.draw_id = ?1 ORDER BY a.idx",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((r.get::<_, u32>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get(5)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (index, inspector, point_id, unit_id, date, slot) = row?;
            out.push(draw::Drawn {
                index,
                inspector,
                point_id,
                unit_id,
                date: date.parse().map_err(AppError::internal)?,
                slot,
            });
        }
        Some(out)
    } else {
        None
    };
    Ok(DrawExport {
        id: id.parse().map_err(|_| not_found(id))?,
        commitment,
        parameters,
        seed: revealed.then_some(seed),
        assignments,
    })
}

/// How long after its slot an assignment stays on its inspector's device.
pub(in crate::db) const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// The assignments an inspector's device may hold now: visible (from their
/// lead time on) and ended at most 7 days ago; a re-check visit with its task.
pub(in crate::db) fn visible_assignments(
    conn: &Connection,
    inspector_id: i64,
    now_ms: i64,
) -> Result<Vec<Assignment>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, point_id, date, slot_label, starts_ms, ends_ms FROM draw_assignments
         WHERE inspector_id = ?1 AND visible_ms <= ?2 AND ends_ms >= ?3 ORDER BY starts_ms, id",
    )?;
    let rows = stmt.query_map(params![inspector_id, now_ms, now_ms - KEEP_MS], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get::<_, String>(2)?,
            r.get(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, point_id, date, slot_label, starts, ends) = row?;
        let recheck = super::rechecks::task(conn, &id)?;
        out.push(Assignment {
            recheck,
            id: id.parse().map_err(AppError::internal)?,
            point_id,
            date: date.parse().map_err(AppError::internal)?,
            slot_label,
            starts_at: jiff::Timestamp::from_millisecond(starts).map_err(AppError::internal)?,
            ends_at: jiff::Timestamp::from_millisecond(ends).map_err(AppError::internal)?,
        });
    }
    Ok(out)
}

/// A drawn visit as a pushed finding is checked against it.
#[derive(Debug, Clone)]
pub struct Visit {
    pub inspector_id: i64,
    pub point_id: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
}

/// The visit behind an assignment id (`None`: no such assignment).
pub(in crate::db) fn visit(conn: &Connection, id: &str) -> Result<Option<Visit>, AppError> {
    Ok(conn
        .query_row("SELECT inspector_id, point_id, starts_ms, ends_ms FROM draw_assignments WHERE id = ?1", [id], |r| {
            Ok(Visit { inspector_id: r.get(0)?, point_id: r.get(1)?, starts_ms: r.get(2)?, ends_ms: r.get(3)? })
        })
        .optional()?)
}

impl super::Db {
    /// Turns a request into canonical parameters against the inspectors
    /// and points as they are now.
    pub async fn draw_params(&self, req: DrawRequest, timezone: String) -> Result<Params, AppError> {
        self.read(move |c| resolve(c, &req, &timezone)).await
    }

    /// Stores a planned draw (see [`PlannedDraw`]) made at `now_ms`.
    pub async fn create_draw(
        &self,
        planned: PlannedDraw,
        created_by: Option<i64>,
        now_ms: i64,
    ) -> Result<DrawSummary, AppError> {
        self.write(move |c| store(c, planned, created_by, now_ms)).await
    }

    /// Every draw overlapping `from..=to`, oldest first.
    pub async fn draws(&self, from: Option<String>, to: Option<String>) -> Result<Vec<DrawSummary>, AppError> {
        self.read(move |c| list(c, from.as_deref(), to.as_deref())).await
    }

    pub async fn draw(&self, id: String) -> Result<Option<DrawSummary>, AppError> {
        self.read(move |c| get(c, &id)).await
    }

    /// Reveals a draw's seed once its period has ended (at `now_ms`).
    pub async fn reveal_draw(&self, id: String, now_ms: i64) -> Result<DrawExport, AppError> {
        self.write(move |c| reveal(c, &id, now_ms)).await
    }

    pub async fn draw_export(&self, id: String) -> Result<DrawExport, AppError> {
        self.read(move |c| export(c, &id)).await
    }

    /// Planned versus done visits over the slots ended by `now_ms`.
    pub async fn draw_coverage(&self, id: String, now_ms: i64) -> Result<Coverage, AppError> {
        self.read(move |c| coverage(c, &id, now_ms)).await
    }

    /// A draw and its coverage at `now_ms`, in one read (the console's draw
    /// page); `(None, None)` when there is no such draw.
    pub async fn draw_with_coverage(
        &self,
        id: String,
        now_ms: i64,
    ) -> Result<(Option<DrawSummary>, Option<Coverage>), AppError> {
        self.read(move |c| {
            let summary = get(c, &id)?;
            let coverage = match &summary {
                Some(_) => Some(coverage(c, &id, now_ms)?),
                None => None,
            };
            Ok((summary, coverage))
        })
        .await
    }

    /// Every draw with the inspectors, for the console's draws page.
    pub async fn draws_and_inspectors(
        &self,
    ) -> Result<(Vec<DrawSummary>, Vec<super::reference_admin::InspectorRow>), AppError> {
        self.read(|c| Ok((list(c, None, None)?, super::reference_admin::inspectors(c)?))).await
    }

    /// Sets the units an inspector is never drawn to.
    pub async fn set_excluded_units(&self, alias: String, units: Vec<String>) -> Result<(), AppError> {
        self.write(move |c| set_excluded_units(c, &alias, &units)).await
    }
}

/// Planned versus done visits of a draw, over the slots that have ended.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Coverage {
    pub draw_id: String,
    /// The instant the report covers up to: slots ending later are not
    /// shown (reviewers see assignments only after their slot).
    pub as_of: String,
    pub planned: u32,
    pub done: u32,
    /// Visits whose slot has not ended yet: counted, never listed.
    pub not_yet_due: u32,
    pub per_inspector: Vec<CoverageRow>,
    pub per_point: Vec<CoverageRow>,
    pub missed: Vec<MissedVisit>,
    /// Done visits whose first qualifying finding reached the server more
    /// than `findings::LATE_AFTER_MS` after the slot ended: counted as done,
    /// listed so a reviewer can look at them.
    pub late: Vec<LateVisit>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LateVisit {
    pub assignment_id: String,
    pub inspector: String,
    pub point_id: String,
    pub date: String,
    pub slot: String,
    pub received_at: String,
    pub hours_after_slot: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CoverageRow {
    /// The inspector's alias or the point's id.
    pub key: String,
    pub planned: u32,
    pub done: u32,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MissedVisit {
    pub assignment_id: String,
    pub inspector: String,
    pub point_id: String,
    pub date: String,
    pub slot: String,
}

/// A visit is done when its inspector recorded a finding at its point
/// within its slot; a finding linked to the assignment gets the slot
/// tolerance of `app::sync::SLOT_TOLERANCE_MS`. A link alone is not enough:
/// the push refuses a linked finding elsewhere or at another time, and this
/// query does not trust rows stored before that check existed.
#[doc(hidden)]
pub fn coverage(conn: &Connection, id: &str, now_ms: i64) -> Result<Coverage, AppError> {
    let exists: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM draws WHERE id = ?1)", [id], |r| r.get(0))?;
    if !exists {
        return Err(not_found(id));
    }
    let not_yet_due: u32 = conn.query_row(
        "SELECT count(*) FROM draw_assignments WHERE draw_id = ?1 AND ends_ms > ?2",
        params![id, now_ms],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(
        "SELECT a.id, i.alias, a.point_id, a.date, a.slot_label, a.ends_ms,
                (SELECT min(f.received_ms) FROM findings f
                 WHERE f.inspector_id = a.inspector_id AND f.point_id = a.point_id
                   AND (f.observed_ms BETWEEN a.starts_ms AND a.ends_ms
                        OR (json_extract(f.content, '$.assignment_id') = a.id
                            AND f.observed_ms BETWEEN a.starts_ms - ?3 AND a.ends_ms + ?3))) AS first_received
         FROM draw_assignments a JOIN inspectors i ON i.id = a.inspector_id
         WHERE a.draw_id = ?1 AND a.ends_ms <= ?2 ORDER BY a.starts_ms, a.idx",
    )?;
    let rows = stmt.query_map(params![id, now_ms, crate::app::sync::SLOT_TOLERANCE_MS], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let mut by_inspector: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    let mut by_point: std::collections::BTreeMap<String, (u32, u32)> = Default::default();
    let (mut planned, mut done, mut missed, mut late) = (0, 0, Vec::new(), Vec::new());
    for row in rows {
        let (aid, alias, point, date, slot, ends_ms, first_received) = row?;
        let is_done = first_received.is_some();
        if let Some(l) = first_received.and_then(|rec| super::findings::LateArrival::of(ends_ms, rec)) {
            late.push(LateVisit {
                assignment_id: aid.clone(),
                inspector: alias.clone(),
                point_id: point.clone(),
                date: date.clone(),
                slot: slot.clone(),
                received_at: jiff::Timestamp::from_millisecond(first_received.unwrap_or_default())
                    .map_err(AppError::internal)?
                    .to_string(),
                hours_after_slot: l.hours_after_slot,
            });
        }
        planned += 1;
        done += u32::from(is_done);
        for (map, key) in [(&mut by_inspector, &alias), (&mut by_point, &point)] {
            let e = map.entry(key.clone()).or_default();
            e.0 += 1;
            e.1 += u32::from(is_done);
        }
        if !is_done {
            missed.push(MissedVisit { assignment_id: aid, inspector: alias, point_id: point, date, slot });
        }
    }
    let rows = |m: std::collections::BTreeMap<String, (u32, u32)>| {
        m.into_iter().map(|(key, (planned, done))| CoverageRow { key, planned, done }).collect()
    };
    Ok(Coverage {
        draw_id: id.to_owned(),
        as_of: jiff::Timestamp::from_millisecond(now_ms).map_err(AppError::internal)?.to_string(),
        planned,
        done,
        not_yet_due,
        per_inspector: rows(by_inspector),
        per_point: rows(by_point),
        missed,
        late,
    })
}
