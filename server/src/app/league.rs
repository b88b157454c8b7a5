//! The monthly point league (点位达标月评排名): a month computed from its
//! facts with the rules in force for it (pure, `crate::league`), issued
//! once and frozen with its hash in the evidence log, and recomputed to
//! show the issued numbers are reproducible. Admins add rule-set versions;
//! reviewers and admins issue; leaders read.
//!
//! What the result holds is points, units, scores, ranks and consequences
//! only, and the month: no alias, device or time finer than the month, so
//! a unit reading it learns nothing of who inspected.

use crate::auth::OfficeCaller;
use crate::db::Db;
use crate::db::league::{IssuedMonth, MonthInputs, MonthQuery, PointFacts, StoredRules, UnitResult};
use crate::error::AppError;
use crate::league::{self, RuleSet, Tenths};
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many units the worst and best lists name (十差单位).
pub const TEN: usize = 10;
/// How many months back the last-place history reads.
const HISTORY_MONTHS: usize = 24;

/// One line of a point's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreLine {
    pub what: String,
    pub points: Tenths,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointLine {
    pub point_id: String,
    pub point_name: String,
    pub point_kind: String,
    pub unit_id: String,
    pub unit_name: String,
    /// 点长, where the office names one.
    pub chief: Option<String>,
    pub inspected: bool,
    pub score: Tenths,
    pub rank: usize,
    pub previous_rank: Option<usize>,
    pub lines: Vec<ScoreLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitLine {
    pub unit_id: String,
    pub unit_name: String,
    pub score: Tenths,
    pub rank: usize,
    /// Its points inspected this month (the mean's weight).
    pub inspected_points: usize,
    pub previous_rank: Option<usize>,
}

impl UnitLine {
    /// Places gained since last month (negative: lost); none if unranked then.
    pub fn movement(&self) -> Option<i64> {
        self.previous_rank.map(|p| p as i64 - self.rank as i64)
    }
}

/// A group of points ranked together: a point type, or a 点长's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupLine {
    /// The point type, or the 点长's name.
    pub name: String,
    /// The mean of the group's inspected points' scores.
    pub score: Tenths,
    pub rank: usize,
    pub inspected_points: usize,
    pub previous_rank: Option<usize>,
}

impl GroupLine {
    /// Places gained since last month (negative: lost); none if unranked then.
    pub fn movement(&self) -> Option<i64> {
        self.previous_rank.map(|p| p as i64 - self.rank as i64)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsequenceLine {
    pub unit_id: String,
    pub unit_name: String,
    pub rank: usize,
    pub consequence: String,
}

/// The shape of a result as issued. Format 1 (before the point-type and
/// 点长 rankings) has no `format` key; a month is recomputed in the shape
/// it was issued in, so its hash can still be compared.
pub const FORMAT: u32 = 2;

fn format_one() -> u32 {
    1
}

fn is_format_one(f: &u32) -> bool {
    *f == 1
}

/// A month's league: what is issued (as canonical JSON) and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeagueResult {
    #[serde(default = "format_one", skip_serializing_if = "is_format_one")]
    pub format: u32,
    pub month: String,
    pub rule_version: u32,
    pub rules: RuleSet,
    /// The rules as printed with the results.
    pub rule_text: String,
    /// Every point, best first.
    pub points: Vec<PointLine>,
    /// Every unit with an inspected point, best first.
    pub units: Vec<UnitLine>,
    /// 十差单位: the ten lowest-ranked units, worst first.
    pub ten_worst: Vec<UnitLine>,
    pub ten_best: Vec<UnitLine>,
    pub consequences: Vec<ConsequenceLine>,
    /// Point types (道路, 农贸市场…), best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub point_kinds: Vec<GroupLine>,
    /// 点长 (point chiefs, by name), best first; points with none are in no group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chiefs: Vec<GroupLine>,
}

impl LeagueResult {
    /// This result in the shape of an earlier format (for comparing a
    /// recomputation with a month issued in that format).
    pub fn in_format(mut self, format: u32) -> LeagueResult {
        if format < 2 {
            self.point_kinds.clear();
            self.chiefs.clear();
        }
        self.format = format;
        self
    }
}

impl LeagueResult {
    /// "2026年11月点位达标月评排名".
    pub fn title_zh(&self) -> String {
        title_zh(&self.month)
    }
}

/// "2026年11月点位达标月评排名" for `2026-11`.
pub fn title_zh(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap_or((month, ""));
    format!("{y}年{}月点位达标月评排名", m.trim_start_matches('0'))
}

/// A month as the API and the console show it.
#[derive(Debug, Clone, Serialize)]
pub struct LeagueView {
    /// `issued` (the frozen result) or `live` (computed now, not issued).
    pub status: &'static str,
    pub issued: Option<IssuedMonth>,
    pub result: LeagueResult,
}

/// The league's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeagueSettings {
    /// Issued months appear on the public exposure page (曝光台) under 月评排名.
    pub public: bool,
}

/// An issued month as the public list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMonth {
    pub month: String,
    pub title: String,
    pub number: Option<String>,
    pub issued_on: String,
}

/// The issued months the public may read, newest first; none unless the
/// office turned the public league on. Only issued months: a live month
/// changes as reviews come in, and the public reads what was issued.
pub async fn public_months(db: &Db, tz: &TimeZone) -> Result<Vec<PublicMonth>, AppError> {
    if !db.league_public().await? {
        return Ok(Vec::new());
    }
    Ok(db
        .league_issued_months()
        .await?
        .into_iter()
        .map(|(month, number, issued_at)| {
            let issued_on = issued_at
                .parse::<Timestamp>()
                .map(|t| t.to_zoned_datetime(tz.clone()).date().to_string())
                .unwrap_or_else(|_| issued_at.get(..10).unwrap_or("").to_owned());
            PublicMonth { title: title_zh(&month), month, number, issued_on }
        })
        .collect())
}

/// An issued month for the public: none if the office keeps the league
/// off the public page, or the month is not issued (or not a month).
pub async fn public_month(db: &Db, month: &str) -> Result<Option<LeagueView>, AppError> {
    let Ok(first) = parse_month(month) else { return Ok(None) };
    if !db.league_public().await? {
        return Ok(None);
    }
    let Some(issued) = db.league_issued(month_name(first)).await? else { return Ok(None) };
    let result = frozen(&issued)?;
    Ok(Some(LeagueView { status: "issued", issued: Some(issued), result }))
}

fn month_invalid(text: &str) -> AppError {
    AppError::coded(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::LeagueMonthInvalid,
        format!("month {text:?} is not a month; write it as YYYY-MM, e.g. 2026-11"),
    )
    .with_field("month")
}

/// Parses `YYYY-MM` into the month's first day.
pub fn parse_month(text: &str) -> Result<Date, AppError> {
    let t = text.trim();
    let (y, m) = t.split_once('-').ok_or_else(|| month_invalid(text))?;
    if y.len() != 4 || m.len() != 2 {
        return Err(month_invalid(text));
    }
    let (y, m): (i16, i8) = (y.parse().map_err(|_| month_invalid(text))?, m.parse().map_err(|_| month_invalid(text))?);
    if !(2000..=2999).contains(&y) {
        return Err(month_invalid(text));
    }
    Date::new(y, m, 1).map_err(|_| month_invalid(text))
}

pub fn month_name(first: Date) -> String {
    format!("{:04}-{:02}", first.year(), first.month())
}

fn shift(first: Date, months: i64) -> Date {
    first.checked_add(jiff::Span::new().months(months)).unwrap_or(first)
}

fn bounds(first: Date, tz: &TimeZone) -> (i64, i64) {
    let at = |d: Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0);
    (at(first), at(shift(first, 1)))
}

/// The month this instant is in, in the office's time zone.
pub fn current_month(tz: &TimeZone, now: Timestamp) -> String {
    let d = now.to_zoned_datetime(tz.clone()).date();
    format!("{:04}-{:02}", d.year(), d.month())
}

fn query(first: Date, tz: &TimeZone) -> MonthQuery {
    let previous = shift(first, -1);
    MonthQuery {
        month: month_name(first),
        bounds: bounds(first, tz),
        previous: month_name(previous),
        previous_bounds: bounds(previous, tz),
        months_before: (1..=HISTORY_MONTHS as i64).map(|k| month_name(shift(first, -k))).collect(),
    }
}

struct Scored {
    points: Vec<(league::PointMonth, league::PointScore)>,
    point_rank: Vec<league::Ranked<String>>,
    unit_rank: Vec<league::Ranked<String>>,
    kind_rank: Vec<league::Ranked<String>>,
    chief_rank: Vec<league::Ranked<String>>,
}

fn score(rules: &RuleSet, facts: &[PointFacts]) -> Scored {
    let points: Vec<(league::PointMonth, league::PointScore)> =
        facts.iter().map(|f| (f.month.clone(), league::score_point(rules, &f.month))).collect();
    let point_rank = league::rank(points.iter().map(|(_, s)| (s.point_id.clone(), s.score)));
    let unit_rank = league::rank(league::unit_scores(&points));
    let kind_rank = league::rank(league::group_scores(&points, |pm| Some(pm.point_kind.as_str())));
    let chief_rank = league::rank(league::group_scores(&points, |pm| pm.chief.as_deref()));
    Scored { points, point_rank, unit_rank, kind_rank, chief_rank }
}

/// A grouping's ranked lines, with each group's inspected points and its
/// rank last month.
fn group_lines(
    now: &[league::Ranked<String>],
    before: &[league::Ranked<String>],
    facts: &[PointFacts],
    key: impl Fn(&league::PointMonth) -> Option<&str>,
) -> Vec<GroupLine> {
    let prev: BTreeMap<&str, usize> = before.iter().map(|r| (r.key.as_str(), r.rank)).collect();
    let mut inspected: BTreeMap<&str, usize> = BTreeMap::new();
    for f in facts.iter().filter(|f| f.month.inspected()) {
        if let Some(k) = key(&f.month) {
            *inspected.entry(k).or_default() += 1;
        }
    }
    now.iter()
        .map(|r| GroupLine {
            name: r.key.clone(),
            score: r.score,
            rank: r.rank,
            inspected_points: inspected.get(r.key.as_str()).copied().unwrap_or(0),
            previous_rank: prev.get(r.key.as_str()).copied(),
        })
        .collect()
}

/// The month's league from what was read: pure, so the same inputs give
/// the same result (and the same hash).
pub fn build(month: &str, inputs: &MonthInputs) -> LeagueResult {
    let rules = &inputs.rules;
    let now = score(rules, &inputs.facts);
    let before = score(&inputs.previous_rules, &inputs.previous);
    let prev_point: BTreeMap<&str, usize> = before.point_rank.iter().map(|r| (r.key.as_str(), r.rank)).collect();
    let prev_unit: BTreeMap<&str, usize> = before.unit_rank.iter().map(|r| (r.key.as_str(), r.rank)).collect();
    let by_point: BTreeMap<&str, (&PointFacts, &league::PointScore)> =
        inputs.facts.iter().zip(now.points.iter()).map(|(f, (_, s))| (f.month.point_id.as_str(), (f, s))).collect();
    let unit_names: BTreeMap<&str, &str> =
        inputs.facts.iter().map(|f| (f.month.unit_id.as_str(), f.unit_name.as_str())).collect();
    let mut inspected: BTreeMap<&str, usize> = BTreeMap::new();
    for f in inputs.facts.iter().filter(|f| f.month.inspected()) {
        *inspected.entry(f.month.unit_id.as_str()).or_default() += 1;
    }
    let points = now
        .point_rank
        .iter()
        .filter_map(|r| {
            let (f, s) = by_point.get(r.key.as_str())?;
            Some(PointLine {
                point_id: r.key.clone(),
                point_name: f.point_name.clone(),
                point_kind: f.month.point_kind.clone(),
                unit_id: f.month.unit_id.clone(),
                unit_name: f.unit_name.clone(),
                chief: f.month.chief.clone(),
                inspected: f.month.inspected(),
                score: r.score,
                rank: r.rank,
                previous_rank: prev_point.get(r.key.as_str()).copied(),
                lines: s.lines.iter().map(|(what, points)| ScoreLine { what: what.clone(), points: *points }).collect(),
            })
        })
        .collect();
    let name = |u: &str| unit_names.get(u).map(|n| n.to_string()).unwrap_or_else(|| u.to_owned());
    let units: Vec<UnitLine> = now
        .unit_rank
        .iter()
        .map(|r| UnitLine {
            unit_id: r.key.clone(),
            unit_name: name(&r.key),
            score: r.score,
            rank: r.rank,
            inspected_points: inspected.get(r.key.as_str()).copied().unwrap_or(0),
            previous_rank: prev_unit.get(r.key.as_str()).copied(),
        })
        .collect();
    let ten_worst: Vec<UnitLine> = units.iter().rev().take(TEN).cloned().collect();
    let ten_best: Vec<UnitLine> = units.iter().take(TEN).cloned().collect();
    let rank_of: BTreeMap<&str, usize> = now.unit_rank.iter().map(|r| (r.key.as_str(), r.rank)).collect();
    let consequences = league::consequences(rules, &now.unit_rank, &inputs.history)
        .into_iter()
        .map(|(unit, consequence)| ConsequenceLine {
            rank: rank_of.get(unit.as_str()).copied().unwrap_or(0),
            unit_name: name(&unit),
            unit_id: unit,
            consequence,
        })
        .collect();
    let point_kinds = group_lines(&now.kind_rank, &before.kind_rank, &inputs.facts, |pm| Some(pm.point_kind.as_str()));
    let chiefs = group_lines(&now.chief_rank, &before.chief_rank, &inputs.facts, |pm| pm.chief.as_deref());
    LeagueResult {
        format: FORMAT,
        month: month.to_owned(),
        rule_version: rules.version,
        rules: rules.clone(),
        rule_text: rules.text_zh(),
        points,
        units,
        ten_worst,
        ten_best,
        consequences,
        point_kinds,
        chiefs,
    }
}

/// The canonical JSON of a result: what is hashed and stored.
pub fn canonical(result: &LeagueResult) -> Result<String, AppError> {
    serde_json::to_string(result).map_err(AppError::internal)
}

fn frozen(issued: &IssuedMonth) -> Result<LeagueResult, AppError> {
    serde_json::from_str(&issued.result).map_err(AppError::internal)
}

/// A month: the issued result if it was issued, else computed now.
pub async fn month(db: &Db, tz: &TimeZone, month: &str) -> Result<LeagueView, AppError> {
    let first = parse_month(month)?;
    let name = month_name(first);
    if let Some(issued) = db.league_issued(name.clone()).await? {
        let result = frozen(&issued)?;
        return Ok(LeagueView { status: "issued", issued: Some(issued), result });
    }
    let inputs = db.league_inputs(query(first, tz)).await?;
    Ok(LeagueView { status: "live", issued: None, result: build(&name, &inputs) })
}

fn already_issued(i: &IssuedMonth) -> AppError {
    AppError::coded(
        StatusCode::CONFLICT,
        ErrorCode::LeagueMonthIssued,
        format!("the league of {} was issued at {}; an issued month never changes", i.month, i.issued_at),
    )
}

fn rules_invalid(e: &league::RuleError) -> AppError {
    AppError::coded(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::LeagueRulesInvalid,
        format!("the rule set is refused: {e} ({})", e.zh()),
    )
    .with_field("rules")
}

/// Issues a month that is over, once, with the rules in force for it.
pub async fn issue(
    db: &Db,
    tz: &TimeZone,
    caller: &OfficeCaller,
    month: &str,
    now: Timestamp,
) -> Result<IssuedMonth, AppError> {
    let first = parse_month(month)?;
    let name = month_name(first);
    let (_, end) = bounds(first, tz);
    if now.as_millisecond() < end {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::LeagueMonthNotOver,
            format!("{name} is not over yet; its league can be issued from the first day of the next month"),
        )
        .with_field("month"));
    }
    let inputs = db.league_inputs(query(first, tz)).await?;
    if let Some(i) = &inputs.issued {
        return Err(already_issued(i));
    }
    inputs.rules.validate().map_err(|e| rules_invalid(&e))?;
    let result = build(&name, &inputs);
    let units = unit_results(&result);
    let json = canonical(&result)?;
    // Numbered in the year of issue, as bulletins are: December's report,
    // issued in January, is the new year's first.
    let year = i32::from(now.to_zoned_datetime(tz.clone()).year());
    db.issue_league_month(year, name, result.rule_version, json, units, caller.user_id, now, already_issued).await
}

fn unit_results(result: &LeagueResult) -> Vec<UnitResult> {
    let worst = result.units.last().map(|u| u.rank);
    result
        .units
        .iter()
        .map(|u| UnitResult {
            unit_id: u.unit_id.clone(),
            score: u.score.0,
            rank: u.rank,
            last: Some(u.rank) == worst,
            consequence: result.consequences.iter().find(|c| c.unit_id == u.unit_id).map(|c| c.consequence.clone()),
        })
        .collect()
}

/// A month recomputed from the stored data now, against its issued hash.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reproduced {
    pub month: String,
    /// `None`: the month is not issued (nothing to compare).
    pub issued_hash: Option<String>,
    pub recomputed_hash: String,
    /// Issued, and the same numbers, so the same hash.
    pub reproducible: bool,
}

pub async fn reproduce(db: &Db, tz: &TimeZone, month: &str) -> Result<Reproduced, AppError> {
    let first = parse_month(month)?;
    let name = month_name(first);
    let inputs = db.league_inputs(query(first, tz)).await?;
    let mut result = build(&name, &inputs);
    if let Some(issued) = &inputs.issued {
        result = result.in_format(frozen(issued)?.format);
    }
    let recomputed = anfang_core::domain::sha256_hex(canonical(&result)?.as_bytes());
    let issued_hash = inputs.issued.map(|i| i.result_hash);
    Ok(Reproduced {
        month: name,
        reproducible: issued_hash.as_deref() == Some(recomputed.as_str()),
        issued_hash,
        recomputed_hash: recomputed,
    })
}

/// A new rule-set version, as posted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesRequest {
    /// The first month it scores (YYYY-MM); after every issued month.
    pub effective_from: String,
    /// `league::RuleSet` (amounts in tenths of a point; `version` is assigned).
    pub rules: RuleSet,
}

/// A deduction listed twice for one source and card is a rule set that says
/// two things: refused as an invalid rule set (422, naming the pair), not
/// as a malformed body, before the body is read into a `RuleSet` (whose
/// table cannot hold the pair twice).
pub fn refuse_repeated_deductions(body: &[u8]) -> Result<(), AppError> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Ok(()) };
    let Some(list) = value.pointer("/rules/deduction").and_then(|d| d.as_array()) else { return Ok(()) };
    let mut seen = std::collections::HashSet::new();
    for entry in list {
        let (Some(source), Some(card)) =
            (entry.get("source").and_then(|v| v.as_str()), entry.get("card").and_then(|v| v.as_str()))
        else {
            continue;
        };
        if !seen.insert((source, card)) {
            return Err(AppError::coded(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::LeagueRulesInvalid,
                format!(
                    "the rule set is refused: the deduction for {source} {card} is listed twice; give each source and card once \
                     (扣分表中“{source} {card}”重复，每个来源和牌色只写一次)"
                ),
            )
            .with_field("rules"));
        }
    }
    Ok(())
}

/// Stores a new version after checking it; nothing is stored on refusal.
pub async fn add_rules(
    db: &Db,
    caller: &OfficeCaller,
    req: RulesRequest,
    now: Timestamp,
) -> Result<StoredRules, AppError> {
    let from = month_name(parse_month(&req.effective_from).map_err(|e| e.with_field("effective_from"))?);
    req.rules.validate().map_err(|e| rules_invalid(&e))?;
    let f = from.clone();
    db.add_league_rule_set(
        from,
        req.rules,
        caller.user_id,
        now,
        move |latest| match latest {
            Some(m) if m >= f.as_str() => Err(AppError::coded(
                StatusCode::CONFLICT,
                ErrorCode::LeagueRulesForIssuedMonth,
                format!(
                    "the league of {m} is already issued with the rules then in force; a new rule set can take effect from a later month than {m}"
                ),
            )
            .with_field("effective_from")),
            _ => Ok(()),
        },
        )
    .await
}

/// Every stored version, oldest first, and the rules in force now.
pub async fn rule_sets(db: &Db) -> Result<Vec<StoredRules>, AppError> {
    db.league_rule_sets().await
}
