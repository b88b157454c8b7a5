//! The inspection bulletin (督查通报): what goes into it, computed by pure
//! functions from query results, and its three formats.
//!
//! - [`compile`] turns the period's reviewed findings (accepted or corrected,
//!   with their *effective* unit, category and card) and its rectification
//!   cases into a [`Body`]: summary with the previous-period comparison,
//!   per-unit findings and earlier cases, the red-card list, the overdue
//!   list, the period's rectification ([`rectification`]), rankings and
//!   chart data. No I/O, no clock.
//! - [`Bulletin`] is a body plus its header and editable text; it is the JSON
//!   format, the snapshot frozen at issue, and what [`html`] and [`docx`]
//!   render.
//! - [`chart`] draws the HTML's SVG charts, [`docx_chart`] the DOCX's native Word charts.
//!
//! **Invariant:** nothing here knows who inspected. The rows this module is
//! given carry no inspector, device or account field, so no format can leak
//! one (the e2e test `bulletin::no_output_carries_an_inspector_trace` checks).
//!
//! To change what a bulletin contains: change [`Body`] and [`compile`], then
//! the two renderers. Issued snapshots are stored JSON; keep old fields
//! readable (`#[serde(default)]`) so issued bulletins still render.

pub mod chart;
pub mod docx;
pub mod docx_chart;
pub mod export;
pub mod html;
pub mod league_chart;
pub mod period;
pub mod rectification;

pub use period::{Kind, Period};

use crate::app::review::Decision;
use anfang_core::Card;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The JSON format's name and version.
pub const FORMAT: &str = "anfang-bulletin/1";
/// Most photos embedded in one bulletin (red cards first); the rest are
/// listed with their public reference, so a month of findings stays a document
/// one can mail.
pub const MAX_EMBEDDED_PHOTOS: usize = 200;
/// Bars in the per-unit chart (the units with most problems); the rankings
/// list every unit.
pub const MAX_CHART_UNITS: usize = 15;
/// Rows in the ten-worst-units list.
pub const WORST_UNITS: usize = 10;
/// Deduction weights of the ten-worst-units score.
pub const RED_WEIGHT: u32 = 3;
pub const YELLOW_WEIGHT: u32 = 1;
/// Characters of the content hash printed beside each finding.
pub const SHORT_HASH: usize = 12;

/// One reviewed finding as the bulletin needs it: effective values after
/// review, and nothing about who recorded it.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub id: String,
    /// What the bulletin prints instead of the id (see [`Entry::evidence_id`]).
    pub public_ref: String,
    pub observed_ms: i64,
    pub point_id: String,
    pub point_name: String,
    pub point_kind: String,
    pub point_leader: Option<String>,
    pub district: Option<String>,
    pub unit_id: String,
    pub unit_name: String,
    pub category: String,
    pub category_name: String,
    pub card: Card,
    /// Accept or correct (rejected findings are not in a bulletin).
    pub decision: Decision,
    /// When the current decision was made (RFC 3339).
    pub decided_at: Option<jiff::Timestamp>,
    pub note: Option<String>,
    pub first_photo: Option<String>,
    pub photo_count: u32,
    pub content_hash: String,
}

/// Rectification deadline per card, in days after acceptance.
pub type Deadlines = HashMap<Card, Option<i64>>;

/// A rectification case past its due at the end of the period (逾期未整改),
/// see [`rectification::overdue_list`]. Nothing in it says who inspected,
/// where exactly, or when to finer than the day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OverdueEntry {
    /// The finding's public reference, as the bulletin that reported it printed it.
    pub evidence_id: String,
    /// The case's public reference (整改单编号), as the unit's notices name it.
    #[serde(default)]
    pub case_ref: String,
    #[serde(default)]
    pub unit_id: String,
    pub unit_name: String,
    pub point_name: String,
    pub category_name: String,
    pub card: Card,
    /// The last day it was due: the deadline's day, or 挂账's target date.
    pub deadline: Date,
    pub days_overdue: i64,
    /// 挂账: overdue against its target date.
    #[serde(default)]
    pub deferred: bool,
    /// Failed re-checks (返工次数).
    #[serde(default)]
    pub rework_count: u32,
    /// 督办: flagged for the leaders.
    #[serde(default)]
    pub supervised: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub points_inspected: u32,
    pub findings: u32,
    /// Red plus yellow.
    pub problems: u32,
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
    pub units_involved: u32,
}

/// Counts for one category or district, now and in the previous period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountRow {
    pub key: String,
    pub name: String,
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
    pub total: u32,
    pub previous_total: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub current: Totals,
    pub previous: Totals,
    pub by_category: Vec<CountRow>,
    pub by_district: Vec<CountRow>,
}

/// A finding as printed: enough to find it on the server and check it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The finding's public reference, which the office maps back to the
    /// finding. Not its id: a UUIDv7 holds its creation millisecond, and
    /// bulletins go to units (bulletins issued before 0011 print the id).
    pub evidence_id: String,
    /// The first characters of the finding's content hash (SHA-256).
    pub short_hash: String,
    /// Local date and part of day, `2026-11-27 上午`: no finer time leaves
    /// the office (see [`crate::redact::part_of_day`]).
    pub observed_at: String,
    pub point_id: String,
    pub point_name: String,
    pub point_kind: String,
    pub district: Option<String>,
    pub category: String,
    pub category_name: String,
    pub card: Card,
    /// Accept, or correct when the office changed category, unit or card.
    pub decision: Decision,
    pub note: Option<String>,
    pub photo_count: u32,
    /// The SHA-256 of the photo shown, if this finding's photo is embedded.
    pub photo: Option<String>,
    pub accepted_on: Option<Date>,
    pub deadline: Option<Date>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitSection {
    pub unit_id: String,
    pub unit_name: String,
    pub visits: u32,
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
    /// Red and yellow findings, red first, then by time.
    pub findings: Vec<Entry>,
    /// The unit's earlier cases (none: it has no case that matters to the
    /// period, or the bulletin predates rectification).
    #[serde(default)]
    pub cases: Option<rectification::UnitCases>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedEntry {
    pub evidence_id: String,
    pub short_hash: String,
    pub unit_name: String,
    pub point_name: String,
    pub category_name: String,
    pub observed_at: String,
    pub deadline: Option<Date>,
}

/// Compliance of one point or unit: green visits / all visits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateRow {
    pub rank: u32,
    pub id: String,
    pub name: String,
    /// For points: the responsible unit and the point leader (点长).
    #[serde(default)]
    pub unit_name: Option<String>,
    #[serde(default)]
    pub leader: Option<String>,
    pub visits: u32,
    pub green: u32,
    pub yellow: u32,
    pub red: u32,
    /// 0..=1, rounded to 4 decimals.
    pub rate: f64,
    /// Units: the score they are ranked by ([`rectification::RankWeights::score`]);
    /// none for points, and in bulletins compiled before scores.
    #[serde(default)]
    pub score: Option<f64>,
    /// Units: cases due in the period, and those closed on time.
    #[serde(default)]
    pub due: u32,
    #[serde(default)]
    pub on_time: u32,
    /// on_time / due; none without due cases.
    #[serde(default)]
    pub rectification_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorstRow {
    pub rank: u32,
    pub unit_id: String,
    pub unit_name: String,
    pub red: u32,
    pub yellow: u32,
    pub visits: u32,
    pub rate: f64,
    pub deduction: u32,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub due: u32,
    #[serde(default)]
    pub on_time: u32,
    #[serde(default)]
    pub rectification_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorstUnits {
    /// The scoring rule, as printed in the bulletin.
    pub formula: String,
    pub red_weight: u32,
    pub yellow_weight: u32,
    pub rows: Vec<WorstRow>,
    /// Ranked by the units' score (cases were due in the month), not by the
    /// deduction alone.
    #[serde(default)]
    pub by_score: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rankings {
    /// How the rates are computed, as printed.
    pub rule: String,
    /// How units are scored and ranked, with the weights, as printed.
    #[serde(default)]
    pub unit_rule: Option<String>,
    #[serde(default)]
    pub weights: Option<rectification::RankWeights>,
    pub points: Vec<RateRow>,
    pub units: Vec<RateRow>,
    /// Monthly bulletins only.
    pub worst_units: Option<WorstUnits>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bar {
    pub label: String,
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Charts {
    /// Card counts of the units with most problems.
    pub per_unit: Vec<Bar>,
    /// Card counts per day (per month for periods over 62 days).
    pub per_day: Vec<Bar>,
}

/// Everything [`compile`] computes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Body {
    pub period: Period,
    pub period_label: String,
    pub previous_period: Period,
    pub previous_period_label: String,
    pub summary: Summary,
    pub units: Vec<UnitSection>,
    pub red_list: Vec<RedEntry>,
    pub overdue: Vec<OverdueEntry>,
    /// The section 整改情况 (none in bulletins compiled before it existed).
    #[serde(default)]
    pub rectification: Option<rectification::Rectification>,
    /// Cases closed in the period, before and after (整改前后对比).
    #[serde(default)]
    pub before_after: Vec<rectification::BeforeAfter>,
    pub rankings: Rankings,
    pub charts: Charts,
    /// Problem findings whose photo is not embedded (over the limit).
    pub photos_not_embedded: u32,
    pub compiled_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub issuing_body: String,
    /// `draft` or `issued`.
    pub status: String,
    /// `[2026] 第 1 期`; none for a draft.
    pub number: Option<String>,
    pub year: Option<i32>,
    pub sequence: Option<i64>,
    /// Issue date (a draft shows the day it is rendered).
    pub date: Date,
    /// The evidence log's chain head when the bulletin was issued (none for
    /// a draft, or one issued before heads were printed). Anyone holding the
    /// bulletin can check the server's history against it with
    /// `anfang-server verify --expect-length N --expect-head HASH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_chain: Option<crate::db::evidence::ChainHead>,
}

/// A whole bulletin: the JSON format, and the frozen snapshot of an issued one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bulletin {
    pub format: String,
    pub id: i64,
    pub header: Header,
    pub title: String,
    pub lead: String,
    #[serde(flatten)]
    pub body: Body,
    pub closing: String,
    /// 送：…
    pub distribution: String,
    /// The compiler line (编印).
    pub compiler: String,
}

/// The editable text of a draft.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Text {
    pub title: String,
    pub lead: String,
    pub closing: String,
    pub distribution: String,
}

/// Text a new draft starts with, in the office's usual wording.
pub fn default_text(period: &Period, distribution: &str) -> Text {
    let label = period.label_zh();
    Text {
        title: format!("关于{label}“四城同创”暗访督查情况的通报"),
        lead: format!(
            "按照“三不三无”原则（不告知、不见面、不解释，无特定人员、无特定时间、无特定单位），\
             {label}对全市实地考察点位开展暗访督查。现将有关情况通报如下。"
        ),
        closing: "请各责任单位对照通报问题，立即组织整改，在整改期限内将整改情况（含整改前后照片）报送四城同创办。\
                  反馈问题不过夜，整改延时必追责；逾期未整改的，纳入“曝光台”并在月度“十差单位”评定中从严扣分。"
            .into(),
        distribution: distribution.into(),
    }
}

/// `2026-11-27 上午`: a minute would let a unit find the inspector on its
/// own cameras.
fn local_part_of_day(ms: i64, tz: &TimeZone) -> String {
    crate::redact::coarse_time(ms, tz).map(|(d, part)| format!("{d} {part}")).unwrap_or_default()
}

fn local_date(ms: i64, tz: &TimeZone) -> Option<Date> {
    jiff::Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned_datetime(tz.clone()).date())
}

fn rate(green: u32, visits: u32) -> f64 {
    if visits == 0 { 0.0 } else { (green as f64 / visits as f64 * 10_000.0).round() / 10_000.0 }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    red: u32,
    yellow: u32,
    green: u32,
}

impl Tally {
    fn add(&mut self, card: Card) {
        match card {
            Card::Red => self.red += 1,
            Card::Yellow => self.yellow += 1,
            Card::Green => self.green += 1,
        }
    }
    fn visits(&self) -> u32 {
        self.red + self.yellow + self.green
    }
}

fn totals(rows: &[FindingRow]) -> Totals {
    let mut t = Tally::default();
    let mut points = HashSet::new();
    let mut units = HashSet::new();
    for r in rows {
        t.add(r.card);
        points.insert(r.point_id.as_str());
        units.insert(r.unit_id.as_str());
    }
    Totals {
        points_inspected: points.len() as u32,
        findings: t.visits(),
        problems: t.red + t.yellow,
        red: t.red,
        yellow: t.yellow,
        green: t.green,
        units_involved: units.len() as u32,
    }
}

const NO_DISTRICT: &str = "未划分区域";

fn count_rows<'a>(
    rows: &'a [FindingRow],
    previous: &'a [FindingRow],
    key: impl Fn(&'a FindingRow) -> (String, String),
) -> Vec<CountRow> {
    let mut now: BTreeMap<String, (String, Tally)> = BTreeMap::new();
    for r in rows {
        let (k, name) = key(r);
        now.entry(k).or_insert_with(|| (name, Tally::default())).1.add(r.card);
    }
    let mut before: HashMap<String, u32> = HashMap::new();
    for r in previous {
        let (k, name) = key(r);
        *before.entry(k.clone()).or_default() += 1;
        now.entry(k).or_insert_with(|| (name, Tally::default()));
    }
    let mut out: Vec<CountRow> = now
        .into_iter()
        .map(|(k, (name, t))| CountRow {
            previous_total: before.get(&k).copied().unwrap_or(0),
            key: k,
            name,
            red: t.red,
            yellow: t.yellow,
            green: t.green,
            total: t.visits(),
        })
        .collect();
    out.sort_by(|a, b| (b.red + b.yellow).cmp(&(a.red + a.yellow)).then(b.total.cmp(&a.total)).then(a.key.cmp(&b.key)));
    out
}

/// What a row is ranked by: a unit's score, a point's rate.
fn rank_key(r: &RateRow) -> f64 {
    r.score.unwrap_or(r.rate)
}

/// Competition ranking ("1, 2, 2, 4") by score (points: rate), best first;
/// ties share a rank.
fn ranked(mut rows: Vec<RateRow>) -> Vec<RateRow> {
    rows.sort_by(|a, b| {
        rank_key(b)
            .partial_cmp(&rank_key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.visits.cmp(&a.visits))
            .then(a.id.cmp(&b.id))
    });
    let mut last: Option<f64> = None;
    let mut rank = 0;
    for (i, r) in rows.iter_mut().enumerate() {
        if last != Some(rank_key(r)) {
            rank = i as u32 + 1;
            last = Some(rank_key(r));
        }
        r.rank = rank;
    }
    rows
}

fn card_order(card: Card) -> u8 {
    match card {
        Card::Red => 0,
        Card::Yellow => 1,
        Card::Green => 2,
    }
}

/// Compiles a bulletin body from the period's reviewed findings, the
/// previous period's, and the rectification cases. Pure: the same input
/// gives the same body.
pub fn compile(
    period: &Period,
    rows: &[FindingRow],
    previous_rows: &[FindingRow],
    deadlines: &Deadlines,
    cases: &rectification::Inputs,
    tz: &TimeZone,
    compiled_at: jiff::Timestamp,
) -> Body {
    let previous = period.previous();
    let window = rectification::Window::new(period.bounds_ms(tz), compiled_at.as_millisecond());
    let overdue = rectification::overdue_list(&cases.cases, &window, tz);
    let mut unit_cases = rectification::unit_cases(&cases.cases, &overdue, &window);
    let unit_due = rectification::unit_due(&cases.cases, &window);
    let rect =
        rectification::summarise(cases, &window, overdue.len(), rectification::as_of_label(&window, period.to, tz));
    let weights = cases.weights;
    let summary = Summary {
        current: totals(rows),
        previous: totals(previous_rows),
        by_category: count_rows(rows, previous_rows, |r| (r.category.clone(), r.category_name.clone())),
        by_district: count_rows(rows, previous_rows, |r| {
            let d = r.district.clone().unwrap_or_else(|| NO_DISTRICT.into());
            (d.clone(), d)
        }),
    };

    // Which problem findings show their photo: red first, then yellow, by time.
    let mut problems: Vec<&FindingRow> = rows.iter().filter(|r| r.card != Card::Green).collect();
    problems.sort_by(|a, b| {
        card_order(a.card).cmp(&card_order(b.card)).then(a.observed_ms.cmp(&b.observed_ms)).then(a.id.cmp(&b.id))
    });
    let with_photo: HashSet<&str> =
        problems.iter().filter(|r| r.first_photo.is_some()).take(MAX_EMBEDDED_PHOTOS).map(|r| r.id.as_str()).collect();
    let photos_not_embedded =
        problems.iter().filter(|r| r.first_photo.is_some()).count().saturating_sub(with_photo.len()) as u32;

    let entry = |r: &FindingRow| {
        let accepted_on = r.decided_at.map(|t| t.to_zoned_datetime(tz.clone()).date());
        let days = deadlines.get(&r.card).copied().flatten();
        let deadline = match (accepted_on, days) {
            (Some(d), Some(n)) => d.checked_add((n as i32).days()).ok(),
            _ => None,
        };
        Entry {
            evidence_id: r.public_ref.clone(),
            short_hash: r.content_hash.chars().take(SHORT_HASH).collect(),
            observed_at: local_part_of_day(r.observed_ms, tz),
            point_id: r.point_id.clone(),
            point_name: r.point_name.clone(),
            point_kind: r
                .point_kind
                .parse::<anfang_core::domain::PointKind>()
                .map(|k| k.label_zh().to_owned())
                .unwrap_or_else(|_| r.point_kind.clone()),
            district: r.district.clone(),
            category: r.category.clone(),
            category_name: r.category_name.clone(),
            card: r.card,
            decision: r.decision,
            note: r.note.clone(),
            photo_count: r.photo_count,
            photo: if with_photo.contains(r.id.as_str()) { r.first_photo.clone() } else { None },
            accepted_on,
            deadline,
        }
    };

    // Per unit: tallies of every visit, entries for the problems.
    let mut unit_tally: BTreeMap<&str, (&str, Tally)> = BTreeMap::new();
    let mut unit_entries: HashMap<&str, Vec<Entry>> = HashMap::new();
    for r in rows {
        unit_tally.entry(&r.unit_id).or_insert((&r.unit_name, Tally::default())).1.add(r.card);
    }
    for r in &problems {
        unit_entries.entry(&r.unit_id).or_default().push(entry(r));
    }
    let mut units: Vec<UnitSection> = unit_tally
        .iter()
        .filter(|(_, (_, t))| t.red + t.yellow > 0)
        .map(|(id, (name, t))| UnitSection {
            unit_id: (*id).into(),
            unit_name: (*name).into(),
            visits: t.visits(),
            red: t.red,
            yellow: t.yellow,
            green: t.green,
            findings: unit_entries.remove(id).unwrap_or_default(),
            cases: unit_cases.remove(*id).map(|(_, c)| c),
        })
        .collect();
    // A unit with no new problem still gets a section while it owes
    // something from before: an old case left open is news to its leaders.
    for (id, (name, c)) in unit_cases.into_iter().filter(|(_, (_, c))| c.pending() > 0) {
        let t = unit_tally.get(id.as_str()).map(|(_, t)| *t).unwrap_or_default();
        units.push(UnitSection {
            unit_id: id,
            unit_name: name,
            visits: t.visits(),
            red: t.red,
            yellow: t.yellow,
            green: t.green,
            findings: Vec::new(),
            cases: Some(c),
        });
    }
    units.sort_by(|a, b| b.red.cmp(&a.red).then(b.yellow.cmp(&a.yellow)).then(a.unit_id.cmp(&b.unit_id)));

    let red_list = problems
        .iter()
        .filter(|r| r.card == Card::Red)
        .map(|r| {
            let e = entry(r);
            RedEntry {
                evidence_id: e.evidence_id,
                short_hash: e.short_hash,
                unit_name: r.unit_name.clone(),
                point_name: e.point_name,
                category_name: e.category_name,
                observed_at: e.observed_at,
                deadline: e.deadline,
            }
        })
        .collect();

    // Rankings.
    let mut point_tally: BTreeMap<&str, (&FindingRow, Tally)> = BTreeMap::new();
    for r in rows {
        point_tally.entry(&r.point_id).or_insert((r, Tally::default())).1.add(r.card);
    }
    let point_rows = point_tally
        .values()
        .map(|(r, t)| RateRow {
            rank: 0,
            id: r.point_id.clone(),
            name: r.point_name.clone(),
            unit_name: Some(r.unit_name.clone()),
            leader: r.point_leader.clone(),
            visits: t.visits(),
            green: t.green,
            yellow: t.yellow,
            red: t.red,
            rate: rate(t.green, t.visits()),
            score: None,
            due: 0,
            on_time: 0,
            rectification_rate: None,
        })
        .collect();
    // Units: those inspected, and those with cases due though not inspected
    // (their rectification is all there is to rank them by).
    let mut unit_ids: BTreeSet<&str> = unit_tally.keys().copied().collect();
    unit_ids.extend(unit_due.keys().map(String::as_str));
    let unit_rows: Vec<RateRow> = unit_ids
        .into_iter()
        .map(|id| {
            let (name, t) = match unit_tally.get(id) {
                Some((name, t)) => ((*name).to_owned(), *t),
                None => (unit_due.get(id).map(|(n, _)| n.clone()).unwrap_or_default(), Tally::default()),
            };
            let due = unit_due.get(id).map(|(_, d)| *d).unwrap_or_default();
            // The score is computed from the exact fractions, so a printed
            // rate's rounding is not rounded again.
            let exact = |n: u32, d: u32| (d > 0).then(|| n as f64 / d as f64);
            let compliance = exact(t.green, t.visits());
            RateRow {
                rank: 0,
                id: id.into(),
                name,
                unit_name: None,
                leader: None,
                visits: t.visits(),
                green: t.green,
                yellow: t.yellow,
                red: t.red,
                rate: rate(t.green, t.visits()),
                score: weights.score(compliance, exact(due.on_time, due.due)),
                due: due.due,
                on_time: due.on_time,
                rectification_rate: due.rate(),
            }
        })
        .collect();
    let unit_rows = ranked(unit_rows);
    // With no case due in the month the score is every unit's compliance,
    // and the ten worst stay ranked by the deduction as before; once cases
    // are due, by the score, so a unit that lets its cases run late is among
    // them even with few new problems.
    let by_score = rect.due > 0;
    let worst_units = (period.kind == Kind::Month).then(|| {
        let mut rows: Vec<WorstRow> = unit_rows
            .iter()
            .map(|u| WorstRow {
                rank: 0,
                unit_id: u.id.clone(),
                unit_name: u.name.clone(),
                red: u.red,
                yellow: u.yellow,
                visits: u.visits,
                rate: u.rate,
                deduction: u.red * RED_WEIGHT + u.yellow * YELLOW_WEIGHT,
                score: u.score,
                due: u.due,
                on_time: u.on_time,
                rectification_rate: u.rectification_rate,
            })
            .filter(|w| w.deduction > 0 || w.on_time < w.due)
            .collect();
        let worse = |a: Option<f64>, b: Option<f64>| {
            a.unwrap_or(0.0).partial_cmp(&b.unwrap_or(0.0)).unwrap_or(std::cmp::Ordering::Equal)
        };
        if by_score {
            rows.sort_by(|a, b| {
                worse(a.score, b.score).then(b.deduction.cmp(&a.deduction)).then(a.unit_id.cmp(&b.unit_id))
            });
        } else {
            rows.sort_by(|a, b| {
                b.deduction
                    .cmp(&a.deduction)
                    .then(a.rate.partial_cmp(&b.rate).unwrap_or(std::cmp::Ordering::Equal))
                    .then(a.unit_id.cmp(&b.unit_id))
            });
        }
        rows.truncate(WORST_UNITS);
        for (i, r) in rows.iter_mut().enumerate() {
            r.rank = i as u32 + 1;
        }
        let formula = if by_score {
            format!(
                "在本月有扣分（扣分 = 红牌数 × {RED_WEIGHT} + 黄牌数 × {YELLOW_WEIGHT}）或有到期整改单未按期整改的单位中，\
                 按综合得分从低到高排列，取前十名；综合得分 = 达标率 × {}% + 按期整改率 × {}%，本月无到期整改单的单位按达标率计，\
                 本月未受检查的单位按按期整改率计；得分相同的，扣分多者在前。",
                weights.compliance, weights.rectification
            )
        } else {
            format!(
                "扣分 = 红牌数 × {RED_WEIGHT} + 黄牌数 × {YELLOW_WEIGHT}；按扣分从高到低排列，扣分相同的按达标率从低到高排列；\
                 本月无扣分的单位不列入。本月无到期整改单，排列不计整改情况。"
            )
        };
        WorstUnits { formula, red_weight: RED_WEIGHT, yellow_weight: YELLOW_WEIGHT, rows, by_score }
    });
    let rankings = Rankings {
        rule: "达标率 = 绿牌次数 ÷ 检查次数（本期已审核采纳的全部记录）；达标率相同的，检查次数多者在前，名次并列。"
            .into(),
        unit_rule: Some(weights.rule()),
        weights: Some(weights),
        points: ranked(point_rows),
        units: unit_rows,
        worst_units,
    };

    // Charts.
    let mut per_unit: Vec<Bar> = unit_tally
        .values()
        .map(|(name, t)| Bar { label: (*name).into(), red: t.red, yellow: t.yellow, green: t.green })
        .collect();
    per_unit.sort_by(|a, b| {
        (b.red * RED_WEIGHT + b.yellow * YELLOW_WEIGHT)
            .cmp(&(a.red * RED_WEIGHT + a.yellow * YELLOW_WEIGHT))
            .then((b.red + b.yellow + b.green).cmp(&(a.red + a.yellow + a.green)))
            .then(a.label.cmp(&b.label))
    });
    per_unit.truncate(MAX_CHART_UNITS);
    let by_month = period.days() > 62;
    let mut buckets: BTreeMap<String, Tally> = BTreeMap::new();
    let mut d = period.from;
    while d <= period.to {
        let key = if by_month { d.strftime("%Y-%m").to_string() } else { d.strftime("%m-%d").to_string() };
        buckets.entry(key).or_default();
        match d.tomorrow() {
            Ok(n) => d = n,
            Err(_) => break,
        }
    }
    for r in rows {
        if let Some(d) = local_date(r.observed_ms, tz) {
            let key = if by_month { d.strftime("%Y-%m").to_string() } else { d.strftime("%m-%d").to_string() };
            if let Some(t) = buckets.get_mut(&key) {
                t.add(r.card);
            }
        }
    }
    let per_day =
        buckets.into_iter().map(|(label, t)| Bar { label, red: t.red, yellow: t.yellow, green: t.green }).collect();

    Body {
        period: *period,
        period_label: period.label_zh(),
        previous_period: previous,
        previous_period_label: previous.label_zh(),
        summary,
        units,
        red_list,
        overdue,
        rectification: Some(rect),
        before_after: rectification::before_after(&cases.cases, &window, tz),
        rankings,
        charts: Charts { per_unit, per_day },
        photos_not_embedded,
        compiled_at,
    }
}

/// The whole bulletin of a stored row: an issued one's frozen snapshot, or a
/// draft's text and last compiled body, dated `today`.
pub fn from_row(row: &crate::db::bulletins::BulletinRow, today: Date) -> Result<Bulletin, crate::AppError> {
    if let Some(snapshot) = &row.snapshot {
        return serde_json::from_str(snapshot)
            .map_err(|e| crate::AppError::Internal(format!("bulletin {} snapshot: {e}", row.id)));
    }
    let body: Body = serde_json::from_str(&row.compiled)
        .map_err(|e| crate::AppError::Internal(format!("bulletin {} compiled body: {e}", row.id)))?;
    Ok(Bulletin {
        format: FORMAT.into(),
        id: row.id,
        header: Header {
            issuing_body: row.issuing_body.clone(),
            status: "draft".into(),
            number: None,
            year: None,
            sequence: None,
            date: today,
            evidence_chain: None,
        },
        title: row.title.clone(),
        lead: row.lead.clone(),
        body,
        closing: row.closing.clone(),
        distribution: row.distribution.clone(),
        compiler: row.compiler.clone(),
    })
}

/// The snapshot an issue freezes: the draft as it stands, numbered and dated.
pub fn freeze(
    row: &crate::db::bulletins::BulletinRow,
    today: Date,
    year: i32,
    sequence: i64,
    number: &str,
    chain: &crate::db::evidence::ChainHead,
) -> Result<String, crate::AppError> {
    let mut b = from_row(row, today)?;
    b.header.evidence_chain = Some(chain.clone());
    b.header.status = "issued".into();
    b.header.number = Some(number.to_owned());
    b.header.year = Some(year);
    b.header.sequence = Some(sequence);
    serde_json::to_string(&b).map_err(crate::AppError::internal)
}

impl Bulletin {
    /// The SHA-256 photos this bulletin shows.
    pub fn photos(&self) -> Vec<String> {
        let findings = self.body.units.iter().flat_map(|u| u.findings.iter().filter_map(|e| e.photo.clone()));
        let pairs = self.body.before_after.iter().flat_map(|p| [p.before_photo.clone(), p.after_photo.clone()]);
        findings.chain(pairs.flatten()).collect()
    }

    /// The printed chain-head sentence of an issued bulletin (HTML and DOCX
    /// print the same words): with it, anyone holding this bulletin can
    /// check that the server's evidence history up to its issue was not
    /// rewritten since.
    pub fn chain_sentence(&self) -> Option<String> {
        self.header.evidence_chain.as_ref().map(|c| {
            format!(
                "证据链锚点：本期签发时，证据日志共 {} 条，链头哈希（SHA-256）为 {}。\
                 核验方法：anfang-server verify --expect-length {} --expect-head {}，结果为完好即说明此前的记录未被改写。",
                c.length, c.head, c.length, c.head
            )
        })
    }

    /// The number as printed, or the draft marker.
    pub fn number_text(&self) -> String {
        self.header.number.clone().unwrap_or_else(|| "（草稿，未编号）".into())
    }
}

/// `[2026] 第 1 期`.
pub fn number(year: i32, sequence: i64) -> String {
    format!("[{year}] 第 {sequence} 期")
}

/// `66.7%`.
pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A unit's score as printed, in points of 100 (`55.0`), or a dash.
pub fn score_text(score: Option<f64>) -> String {
    score.map(|s| format!("{:.1}", s * 100.0)).unwrap_or_else(|| "—".into())
}

impl Body {
    /// The summary paragraph (plain text; each format escapes it its own way):
    /// the period's totals, then the change from the previous period.
    pub fn summary_sentence(&self) -> String {
        let (c, p) = (&self.summary.current, &self.summary.previous);
        format!(
            "{}，共检查点位 {} 个，涉及责任单位 {} 个，形成已审核记录 {} 条，其中红牌 {} 条、黄牌 {} 条、绿牌（达标）{} 条，发现问题 {} 个。\
             与上期（{}）相比：检查点位{}，问题{}，红牌{}，黄牌{}，绿牌{}。",
            self.period_label,
            c.points_inspected,
            c.units_involved,
            c.findings,
            c.red,
            c.yellow,
            c.green,
            c.problems,
            self.previous_period_label,
            change_zh(c.points_inspected, p.points_inspected),
            change_zh(c.problems, p.problems),
            change_zh(c.red, p.red),
            change_zh(c.yellow, p.yellow),
            change_zh(c.green, p.green),
        )
    }
}

/// `+3` / `-2` / `持平`, for comparisons with the previous period.
pub fn change_zh(now: u32, before: u32) -> String {
    let d = now as i64 - before as i64;
    match d {
        0 => "持平".into(),
        d if d > 0 => format!("增加 {d}"),
        d => format!("减少 {}", -d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, point: &str, unit: &str, card: &str, day: u32, hour: i64) -> FindingRow {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let ms = Date::new(2026, 11, day as i8).unwrap().to_zoned_datetime(tz).unwrap().timestamp().as_millisecond()
            + hour * 3_600_000;
        FindingRow {
            id: id.into(),
            public_ref: format!("ref-{id}"),
            observed_ms: ms,
            point_id: point.into(),
            point_name: format!("点位{point}"),
            point_kind: "main_road".into(),
            point_leader: Some(format!("点长{point}")),
            district: Some(if unit == "U1" { "通川区".into() } else { "达川区".into() }),
            unit_id: unit.into(),
            unit_name: format!("单位{unit}"),
            category: "parking".into(),
            category_name: "乱停乱放".into(),
            card: card.parse().unwrap(),
            decision: Decision::Accept,
            decided_at: Some(jiff::Timestamp::from_millisecond(ms + 3_600_000).unwrap()),
            note: None,
            first_photo: (card != "green").then(|| format!("{:0>64}", id)),
            photo_count: (card != "green") as u32,
            content_hash: "abcdef0123456789".repeat(4),
        }
    }

    fn deadlines() -> Deadlines {
        [(Card::Red, Some(3)), (Card::Yellow, Some(7)), (Card::Green, None)].into_iter().collect()
    }

    #[test]
    fn rates_rank_with_ties_and_the_deadline_counts_from_acceptance() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let p = Period::parse("month", "2026-11-01", None).unwrap();
        // P1 (U1): green, green, yellow -> 2/3; P2 (U2): red, green -> 1/2; P3 (U2): green -> 1/1.
        let rows = vec![
            row("a", "P1", "U1", "green", 2, 8),
            row("b", "P1", "U1", "green", 3, 8),
            row("c", "P1", "U1", "yellow", 4, 8),
            row("d", "P2", "U2", "red", 5, 8),
            row("e", "P2", "U2", "green", 6, 8),
            row("f", "P3", "U2", "green", 7, 8),
        ];
        let body =
            compile(&p, &rows, &[], &deadlines(), &rectification::Inputs::default(), &tz, jiff::Timestamp::UNIX_EPOCH);
        let pts: Vec<(&str, u32, f64)> = body.rankings.points.iter().map(|r| (r.id.as_str(), r.rank, r.rate)).collect();
        assert_eq!(pts, vec![("P3", 1, 1.0), ("P1", 2, 0.6667), ("P2", 3, 0.5)]);
        // U1 2/3, U2 2/3: a tie, so both rank 1.
        let units: Vec<(&str, u32)> = body.rankings.units.iter().map(|r| (r.id.as_str(), r.rank)).collect();
        assert_eq!(units, vec![("U1", 1), ("U2", 1)]);
        let worst = body.rankings.worst_units.unwrap();
        assert_eq!(
            worst.rows.iter().map(|w| (w.unit_id.as_str(), w.deduction)).collect::<Vec<_>>(),
            vec![("U2", 3), ("U1", 1)]
        );
        let red = &body.units[0].findings[0];
        assert_eq!(red.evidence_id, "ref-d", "the public reference, not the id");
        assert_eq!(red.observed_at, "2026-11-05 上午", "date and part of day only");
        assert_eq!(red.accepted_on.unwrap().to_string(), "2026-11-05");
        assert_eq!(red.deadline.unwrap().to_string(), "2026-11-08");
        assert_eq!(body.summary.current.points_inspected, 3);
        assert_eq!(body.charts.per_day.len(), 30);
    }

    /// A November case of `unit`: notified 11-02, due `due_day` 00:00.
    fn case(id: i64, unit: &str, state: crate::rectification::case::CaseState, due_day: i8) -> rectification::CaseRow {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let at = |day: i8, hour: i8| {
            jiff::civil::date(2026, 11, day)
                .at(hour, 0, 0, 0)
                .to_zoned_datetime(tz.clone())
                .unwrap()
                .timestamp()
                .as_millisecond()
        };
        rectification::CaseRow {
            id,
            case_ref: format!("ZG{id:010}"),
            evidence_id: format!("ref-{id}"),
            unit_id: unit.into(),
            unit_name: format!("单位{unit}"),
            point_name: "点位P9".into(),
            category_name: "乱停乱放".into(),
            card: Card::Yellow,
            state,
            opened_ms: at(1, 9),
            notified_ms: Some(at(2, 9)),
            deadline_ms: Some(at(due_day, 0)),
            answered_ms: (state == crate::rectification::case::CaseState::Closed).then(|| at(due_day - 1, 9)),
            closed_ms: (state == crate::rectification::case::CaseState::Closed).then(|| at(due_day, 9)),
            rework_count: 0,
            deferred_until: None,
            supervised: false,
            before_photo: None,
            after_photo: None,
            closed_by_recheck: false,
        }
    }

    #[test]
    fn units_rank_by_score_and_a_unit_owing_an_old_case_gets_a_section() {
        use crate::rectification::case::CaseState;
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let p = Period::parse("month", "2026-11-01", None).unwrap();
        // U1 and U2 both 1/2 compliant: tied on compliance alone.
        let rows = vec![
            row("a", "P1", "U1", "green", 2, 8),
            row("b", "P1", "U1", "yellow", 3, 8),
            row("c", "P2", "U2", "green", 4, 8),
            row("d", "P2", "U2", "yellow", 5, 8),
        ];
        // U1's case closed on time, U2's still open, U3 (not inspected) one open and overdue.
        let cases = rectification::Inputs {
            cases: vec![
                case(1, "U1", CaseState::Closed, 10),
                case(2, "U2", CaseState::Open, 10),
                case(3, "U3", CaseState::Open, 6),
            ],
            events: vec![],
            weights: rectification::RankWeights::default(),
        };
        let compiled = jiff::civil::date(2026, 12, 1).to_zoned_datetime(tz.clone()).unwrap().timestamp();
        let body = compile(&p, &rows, &[], &deadlines(), &cases, &tz, compiled);
        // U1 0.7 × 1/2 + 0.3 × 1 = 0.65; U2 0.35; U3 its on-time rate alone, 0.
        let units: Vec<(&str, u32, Option<f64>)> =
            body.rankings.units.iter().map(|r| (r.id.as_str(), r.rank, r.score)).collect();
        assert_eq!(units, vec![("U1", 1, Some(0.65)), ("U2", 2, Some(0.35)), ("U3", 3, Some(0.0))]);
        let worst = body.rankings.worst_units.unwrap();
        assert!(worst.by_score && worst.formula.contains("达标率 × 70% + 按期整改率 × 30%"), "{}", worst.formula);
        // U3 has no deduction but a case not on time: among the worst, first.
        assert_eq!(worst.rows.iter().map(|w| w.unit_id.as_str()).collect::<Vec<_>>(), vec!["U3", "U2", "U1"]);
        // U3 found nothing new, yet owes a case: its section says so.
        let u3 = body.units.iter().find(|u| u.unit_id == "U3").expect("U3 section");
        assert!(u3.findings.is_empty());
        let c = u3.cases.as_ref().unwrap();
        // Due 11-06 00:00, overdue to 12-01 00:00: 25 days.
        assert_eq!((c.open, c.overdue.len(), c.overdue[0].days_overdue), (1, 1, 25));
        assert_eq!(body.overdue.len(), 2, "U2's case (due 11-10) too");
        let r = body.rectification.unwrap();
        assert_eq!((r.due, r.on_time, r.open, r.on_time_rate), (3, 1, 2, Some(0.3333)));
    }

    #[test]
    fn photos_beyond_the_limit_are_listed_not_embedded() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let p = Period::parse("month", "2026-11-01", None).unwrap();
        let rows: Vec<FindingRow> = (0..MAX_EMBEDDED_PHOTOS + 5)
            .map(|i| row(&format!("{i:04}"), "P1", "U1", "yellow", 1 + (i % 28) as u32, 1))
            .collect();
        let body =
            compile(&p, &rows, &[], &deadlines(), &rectification::Inputs::default(), &tz, jiff::Timestamp::UNIX_EPOCH);
        let embedded = body.units[0].findings.iter().filter(|e| e.photo.is_some()).count();
        assert_eq!(embedded, MAX_EMBEDDED_PHOTOS);
        assert_eq!(body.photos_not_embedded, 5);
        assert!(body.rankings.worst_units.is_some());
        let week = Period::parse("week", "2026-11-02", None).unwrap();
        assert!(
            compile(
                &week,
                &rows,
                &[],
                &deadlines(),
                &rectification::Inputs::default(),
                &tz,
                jiff::Timestamp::UNIX_EPOCH
            )
            .rankings
            .worst_units
            .is_none()
        );
    }
}
