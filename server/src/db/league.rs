//! The monthly point league's storage: the facts of a month read into
//! `league::PointMonth` values, the versioned rule sets, and the issued
//! months with their per-unit results and evidence-log entries.
//!
//! **What a month's facts are** (each read as of the month's end, so a
//! month recomputed later gives the same numbers unless a review or a
//! point was changed since, which the recompute then shows):
//! - findings: the accepted or corrected findings observed in the month, by
//!   their effective card and category (the `finding_state` view), re-check
//!   results excluded (they judge a case, not the point), each with the
//!   body its inspector worked for when it arrived (`findings.source`);
//! - closed on time: the finding's case closed before the month's end and
//!   by its deadline;
//! - overdue cases: cases of the point, not cancelled, whose deadline fell
//!   before the month's end and that were not closed by then;
//! - clean inspections: the data has no "visit without a finding" record
//!   for ordinary visits, so a clean inspection is an accepted **green
//!   finding** (the inspector recording that the point met the standard) at
//!   a point with no accepted red or yellow finding in the month.
//!
//! The points are the active ones plus any with a finding in the month;
//! the unit a point counts for is the point's own unit.
//!
//! Nothing here selects an inspector, device, alias or a time finer than
//! the month: the league is read by units and leaders.

use super::sql::{Connection, OptionalExtension, TransactionBehavior, params};
use crate::error::AppError;
use crate::league::{LeagueFinding, PointMonth, RuleSet, Source};
use anfang_core::Card;
use std::collections::BTreeMap;

/// Evidence-log kind of an issued month; record id `league/{month}`,
/// record hash the result's SHA-256.
pub const LOG_ISSUE: &str = "league_issue";

/// A point's month with the names the report prints.
#[derive(Debug, Clone)]
pub struct PointFacts {
    pub month: PointMonth,
    pub point_name: String,
    pub unit_name: String,
}

/// A stored rule-set version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredRules {
    pub version: u32,
    /// The first month (YYYY-MM) it scores.
    pub effective_from: String,
    pub rules: RuleSet,
    pub created_at: String,
}

/// An issued month as stored.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct IssuedMonth {
    pub month: String,
    pub rule_version: u32,
    #[serde(skip)]
    pub result: String,
    pub result_hash: String,
    pub issued_at: String,
    /// `[2026] 月评第 1 期`; none for a month issued before reports were numbered.
    pub number: Option<String>,
}

/// One unit's line of an issued month, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitResult {
    pub unit_id: String,
    pub score: i64,
    pub rank: usize,
    pub last: bool,
    pub consequence: Option<String>,
}

/// A unit's consequence in an issued month (its history).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsequenceEntry {
    pub month: String,
    pub unit_id: String,
    pub unit_name: String,
    pub rank: usize,
    pub consequence: String,
}

/// The month's facts per point. The case lookup names its index: left to
/// itself, SQLite walks `rectification_cases_due` (every closed case) once
/// per finding, and a 1,000-point month took seconds (league_bench).
pub(in crate::db) fn facts(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<Vec<PointFacts>, AppError> {
    let mut points: BTreeMap<String, PointFacts> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT p.id, p.name, p.kind, p.unit_id, u.name, p.leader FROM points p JOIN units u ON u.id = p.unit_id
         WHERE p.active = 1 OR EXISTS (SELECT 1 FROM findings f WHERE f.point_id = p.id
                                       AND f.observed_ms >= ?1 AND f.observed_ms < ?2)
         ORDER BY p.id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        Ok(PointFacts {
            month: PointMonth {
                point_id: r.get(0)?,
                point_kind: r.get(2)?,
                unit_id: r.get(3)?,
                chief: r.get(5)?,
                findings: Vec::new(),
                overdue_cases: 0,
                clean_inspections: 0,
            },
            point_name: r.get(1)?,
            unit_name: r.get(4)?,
        })
    })?;
    for p in rows {
        let p = p?;
        points.insert(p.month.point_id.clone(), p);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT f.point_id, s.card, c.name, f.source,
                EXISTS (SELECT 1 FROM rectification_cases k INDEXED BY rectification_cases_by_finding
                        WHERE k.finding_id = f.id AND k.state = 'closed'
                        AND k.closed_ms < ?2 AND k.deadline_ms IS NOT NULL AND k.closed_ms <= k.deadline_ms) AS on_time
         FROM findings f
         JOIN finding_state s ON s.finding_id = f.id
         JOIN categories c ON c.code = s.category
         WHERE f.observed_ms >= ?1 AND f.observed_ms < ?2 AND s.status IN ('accept', 'correct')
           AND NOT EXISTS (SELECT 1 FROM recheck_visits v WHERE v.finding_id = f.id)
         ORDER BY f.point_id, f.observed_ms, f.id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            super::parsed::<Card, _>(r, 1)?,
            r.get::<_, String>(2)?,
            super::parsed::<Source, _>(r, 3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    for row in rows {
        let (point, card, category, source, on_time) = row?;
        if let Some(p) = points.get_mut(&point) {
            p.month.findings.push(LeagueFinding {
                card,
                source,
                category,
                closed_on_time: on_time && card != Card::Green,
            });
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT f.point_id, count(*) FROM rectification_cases k JOIN findings f ON f.id = k.finding_id
         WHERE k.state != 'cancelled' AND k.deadline_ms IS NOT NULL AND k.deadline_ms < ?1 AND k.opened_ms < ?1
           AND (k.closed_ms IS NULL OR k.closed_ms >= ?1)
         GROUP BY f.point_id",
    )?;
    let rows = stmt.query_map([to_ms], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
    for row in rows {
        let (point, n) = row?;
        if let Some(p) = points.get_mut(&point) {
            p.month.overdue_cases = n;
        }
    }
    for p in points.values_mut() {
        let m = &mut p.month;
        if m.findings.iter().all(|f| f.card == Card::Green) {
            m.clean_inspections = m.findings.len() as u32;
        }
    }
    Ok(points.into_values().collect())
}

pub(in crate::db) fn rule_sets(conn: &Connection) -> Result<Vec<StoredRules>, AppError> {
    let mut stmt = conn
        .prepare_cached("SELECT version, effective_from, rules, created_at FROM league_rule_sets ORDER BY version")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (version, effective_from, rules, created_at) = row?;
        let mut rules: RuleSet = serde_json::from_str(&rules)
            .map_err(|e| AppError::internal(format!("league rule set {version} is not readable: {e}")))?;
        rules.version = version;
        out.push(StoredRules { version, effective_from, rules, created_at });
    }
    Ok(out)
}

/// The rules in force for `month` (YYYY-MM): the newest version effective
/// from it or earlier; the default (version 1) before any.
pub(in crate::db) fn rules_for(conn: &Connection, month: &str) -> Result<RuleSet, AppError> {
    Ok(rule_sets(conn)?
        .into_iter()
        .filter(|s| s.effective_from.as_str() <= month)
        .max_by_key(|s| (s.effective_from.clone(), s.version))
        .map(|s| s.rules)
        .unwrap_or_default())
}

fn latest_issued(conn: &Connection) -> Result<Option<String>, AppError> {
    Ok(conn.query_row("SELECT max(month) FROM league_months", [], |r| r.get(0))?)
}

/// Stores a new rule-set version; `check` sees the newest issued month
/// (a rule set may not take effect for a month already issued).
pub(in crate::db) fn add_rule_set(
    conn: &mut Connection,
    effective_from: &str,
    mut rules: RuleSet,
    user_id: i64,
    now: jiff::Timestamp,
    check: impl FnOnce(Option<&str>) -> Result<(), AppError>,
) -> Result<StoredRules, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check(latest_issued(&tx)?.as_deref())?;
    let version: u32 =
        tx.query_row("SELECT max(coalesce(max(version), 1), 1) + 1 FROM league_rule_sets", [], |r| r.get(0))?;
    rules.version = version;
    let json = serde_json::to_string(&rules).map_err(AppError::internal)?;
    let created_at = now.to_string();
    tx.execute(
        "INSERT INTO league_rule_sets (version, effective_from, rules, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![version, effective_from, json, user_id, created_at],
    )?;
    tx.commit()?;
    Ok(StoredRules { version, effective_from: effective_from.to_owned(), rules, created_at })
}

pub(in crate::db) fn issued(conn: &Connection, month: &str) -> Result<Option<IssuedMonth>, AppError> {
    Ok(conn
        .query_row(
            "SELECT month, rule_version, result, result_hash, issued_at, number FROM league_months WHERE month = ?1",
            [month],
            |r| {
                Ok(IssuedMonth {
                    month: r.get(0)?,
                    rule_version: r.get(1)?,
                    result: r.get(2)?,
                    result_hash: r.get(3)?,
                    issued_at: r.get(4)?,
                    number: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// An issued month as the public list of reports shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedListing {
    pub month: String,
    pub number: Option<String>,
    /// The day of issue (YYYY-MM-DD, office time).
    pub issued_on: String,
}

/// Every issued month, newest first.
pub(in crate::db) fn issued_months(conn: &Connection) -> Result<Vec<(String, Option<String>, String)>, AppError> {
    let mut stmt = conn.prepare_cached("SELECT month, number, issued_at FROM league_months ORDER BY month DESC")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether the office shows issued league months on the public exposure
/// page (office_settings `league_public`; off until an admin turns it on).
pub(in crate::db) fn public(conn: &Connection) -> Result<bool, AppError> {
    super::office_flag(conn, "league_public")
}

/// For each issued month before `month`, most recent first and without a
/// gap (an unissued month ends the history), the units that ranked last.
pub(in crate::db) fn last_place_history(
    conn: &Connection,
    months_before: &[String],
) -> Result<Vec<Vec<String>>, AppError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT r.unit_id FROM league_unit_results r WHERE r.month = ?1 AND r.last = 1 ORDER BY r.unit_id",
    )?;
    for m in months_before {
        if issued(conn, m)?.is_none() {
            break;
        }
        out.push(stmt.query_map([m], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?);
    }
    Ok(out)
}

pub(in crate::db) fn consequence_history(conn: &Connection) -> Result<Vec<ConsequenceEntry>, AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.month, r.unit_id, u.name, r.rank, r.consequence FROM league_unit_results r
         JOIN units u ON u.id = r.unit_id WHERE r.consequence IS NOT NULL ORDER BY r.month DESC, r.rank, r.unit_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ConsequenceEntry {
            month: r.get(0)?,
            unit_id: r.get(1)?,
            unit_name: r.get(2)?,
            rank: r.get::<_, i64>(3)? as usize,
            consequence: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `[2026] 月评第 1 期`.
pub fn number(year: i32, sequence: i64) -> String {
    format!("[{year}] 月评第 {sequence} 期")
}

/// Issues a month in one transaction: refuses a month already issued,
/// takes the next report number of `year` (the year of issue), stores the
/// result, its hash and each unit's line, and appends the `league_issue`
/// entry to the evidence log.
#[allow(clippy::too_many_arguments)]
pub(in crate::db) fn issue(
    conn: &mut Connection,
    year: i32,
    month: &str,
    rule_version: u32,
    result: &str,
    units: &[UnitResult],
    user_id: i64,
    now: jiff::Timestamp,
    already: impl FnOnce(&IssuedMonth) -> AppError,
) -> Result<IssuedMonth, AppError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(existing) = issued(&tx, month)? {
        return Err(already(&existing));
    }
    let hash = anfang_core::domain::sha256_hex(result.as_bytes());
    let issued_at = now.to_string();
    let sequence: i64 =
        tx.query_row("SELECT coalesce(max(sequence), 0) + 1 FROM league_months WHERE year = ?1", [year], |r| r.get(0))?;
    let number = number(year, sequence);
    tx.execute(
        "INSERT INTO league_months (month, rule_version, result, result_hash, issued_by, issued_at, year, sequence, number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![month, rule_version, result, hash, user_id, issued_at, year, sequence, number],
    )?;
    for u in units {
        tx.execute(
            "INSERT INTO league_unit_results (month, unit_id, score, rank, last, consequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![month, u.unit_id, u.score, u.rank as i64, u.last, u.consequence],
        )?;
    }
    super::evidence::append(&tx, LOG_ISSUE, &format!("league/{month}"), &hash, now)?;
    tx.commit()?;
    Ok(IssuedMonth {
        month: month.to_owned(),
        rule_version,
        result: result.to_owned(),
        result_hash: hash,
        issued_at,
        number: Some(number),
    })
}

/// For `verify`, both ways: every issued month's result against its hash
/// and its hash against its log entry; an entry whose month is gone is
/// named by [`logged_month_exists`].
pub(in crate::db) fn audit(
    conn: &Connection,
    logged: &std::collections::HashMap<String, (i64, String)>,
) -> Result<Vec<String>, AppError> {
    let mut problems = Vec::new();
    let mut stmt = conn.prepare("SELECT month, result, result_hash FROM league_months ORDER BY month")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (month, result, hash): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if anfang_core::domain::sha256_hex(result.as_bytes()) != hash {
            problems.push(format!("league month {month}: its stored result does not match its hash (altered)"));
        }
        match logged.get(&format!("league/{month}")) {
            Some((_, h)) if *h == hash => {}
            Some((seq, _)) => problems.push(format!(
                "league month {month}: its hash differs from the one log entry {seq} recorded at issue (altered)"
            )),
            None => problems.push(format!("league month {month}: its issue is not in the evidence log")),
        }
    }
    Ok(problems)
}

/// Whether the issued month a `league_issue` entry names is still there.
pub(in crate::db) fn logged_month_exists(conn: &Connection, record_id: &str) -> Result<bool, AppError> {
    let month = record_id.strip_prefix("league/").unwrap_or("");
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM league_months WHERE month = ?1)", [month], |r| r.get(0))?)
}

/// What computing a month reads, in one read: its facts, the previous
/// month's (for the movement), the rules in force for each, the last-place
/// history and whether it is issued.
pub struct MonthInputs {
    pub facts: Vec<PointFacts>,
    pub rules: RuleSet,
    pub previous: Vec<PointFacts>,
    pub previous_rules: RuleSet,
    pub history: Vec<Vec<String>>,
    pub issued: Option<IssuedMonth>,
}

/// A month to read: its name, its bounds and its previous month's.
pub struct MonthQuery {
    pub month: String,
    pub bounds: (i64, i64),
    pub previous: String,
    pub previous_bounds: (i64, i64),
    /// The months before, most recent first (for the last-place history).
    pub months_before: Vec<String>,
}

impl super::Db {
    pub async fn league_inputs(&self, q: MonthQuery) -> Result<MonthInputs, AppError> {
        self.read(move |c| {
            Ok(MonthInputs {
                facts: facts(c, q.bounds.0, q.bounds.1)?,
                rules: rules_for(c, &q.month)?,
                previous: facts(c, q.previous_bounds.0, q.previous_bounds.1)?,
                previous_rules: rules_for(c, &q.previous)?,
                history: last_place_history(c, &q.months_before)?,
                issued: issued(c, &q.month)?,
            })
        })
        .await
    }

    pub async fn league_issued(&self, month: String) -> Result<Option<IssuedMonth>, AppError> {
        self.read(move |c| issued(c, &month)).await
    }

    /// Every issued month (month, number, issued_at), newest first.
    pub async fn league_issued_months(&self) -> Result<Vec<(String, Option<String>, String)>, AppError> {
        self.read(issued_months).await
    }

    pub async fn league_public(&self) -> Result<bool, AppError> {
        self.read(public).await
    }

    pub async fn set_league_public(&self, on: bool) -> Result<(), AppError> {
        self.write(move |c| super::set_office_flag(c, "league_public", on)).await
    }

    pub async fn league_rule_sets(&self) -> Result<Vec<StoredRules>, AppError> {
        self.read(rule_sets).await
    }

    pub async fn league_consequence_history(&self) -> Result<Vec<ConsequenceEntry>, AppError> {
        self.read(consequence_history).await
    }

    pub async fn add_league_rule_set(
        &self,
        effective_from: String,
        rules: RuleSet,
        user_id: i64,
        now: jiff::Timestamp,
        check: impl FnOnce(Option<&str>) -> Result<(), AppError> + Send + 'static,
    ) -> Result<StoredRules, AppError> {
        self.write(move |c| add_rule_set(c, &effective_from, rules, user_id, now, check)).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn issue_league_month(
        &self,
        year: i32,
        month: String,
        rule_version: u32,
        result: String,
        units: Vec<UnitResult>,
        user_id: i64,
        now: jiff::Timestamp,
        already: impl FnOnce(&IssuedMonth) -> AppError + Send + 'static,
    ) -> Result<IssuedMonth, AppError> {
        self.write(move |c| issue(c, year, &month, rule_version, &result, &units, user_id, now, already)).await
    }
}
