//! Rectification in a bulletin (整改情况): the overdue list, each unit's
//! earlier cases, the period's rectification figures and the per-unit
//! on-time rates the rankings weigh. Pure: case rows and events in, figures
//! out; no storage, no clock (the compile instant is an argument).
//!
//! **Two instants, on purpose.** Which cases were overdue, and in which
//! state a unit's cases stood, is judged *at the end of the period* (or at
//! the compile, for a period still running): a bulletin compiled the morning
//! after must not drop a case its unit answered overnight. The stored row
//! is the case as it is now, so [`state_at`] reconstructs the earlier state
//! from its stamps (opened, answered, closed). The outcome of a case *due*
//! in the period (on time, late, still open) is taken as known at the
//! compile: an answer in by the deadline counts as on time even if the
//! re-check visit came the day after the period.
//!
//! A cancelled case (its finding was rejected or corrected to green) never
//! owed anything: it is in no figure except its unit's count of cancelled
//! cases.
//!
//! **Invariant:** a [`CaseRow`] has no field an inspector, a device, a
//! coordinate or a capture time could go in; the query that fills it
//! (`db::bulletins::case_rows`) selects none.
//!
//! To change a definition: change it here, in the note it prints
//! ([`Rectification::notes`]), and in ARCHITECTURE.md's *Bulletins*.

use super::OverdueEntry;
use crate::rectification::case::{Case, CaseState};
use anfang_core::Card;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const DAY_MS: i64 = 86_400_000;

/// One rectification case as a bulletin needs it.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: i64,
    /// The case's public reference (整改单编号), as the unit's notices name it.
    pub case_ref: String,
    /// The finding's public reference (证据编号), as the bulletin that
    /// reported the finding printed it.
    pub evidence_id: String,
    /// The unit that owes the rectification now (after any reassignment).
    pub unit_id: String,
    pub unit_name: String,
    pub point_name: String,
    /// The finding's effective category (after review).
    pub category_name: String,
    pub card: Card,
    pub state: CaseState,
    pub opened_ms: i64,
    /// When the current unit was told; the deadline runs from it.
    pub notified_ms: Option<i64>,
    /// The deadline in force (after extensions and rework).
    pub deadline_ms: Option<i64>,
    /// The latest answer (cleared when a re-check fails).
    pub answered_ms: Option<i64>,
    /// When it was closed or cancelled.
    pub closed_ms: Option<i64>,
    pub rework_count: u32,
    /// 挂账's target date: the case is due at the end of that day.
    pub deferred_until: Option<Date>,
    /// 督办.
    pub supervised: bool,
    /// The finding's first photo (整改前).
    pub before_photo: Option<String>,
    /// The photo the case was closed on (整改后): the passing re-check's
    /// first, else the unit's latest answer's first.
    pub after_photo: Option<String>,
    /// Closed by a re-check visit (复查通过), not on the unit's evidence.
    pub closed_by_recheck: bool,
}

/// At most this many before/after pairs are printed (the thumbnails make
/// the DOCX heavy); the red cards first, then by when they were closed.
pub const MAX_BEFORE_AFTER: usize = 12;

/// A case closed in the period, before and after (整改前后对比). Dates
/// only, as everywhere a unit reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BeforeAfter {
    pub case_ref: String,
    pub unit_name: String,
    pub point_name: String,
    pub category_name: String,
    pub card: Card,
    pub closed_on: Date,
    /// 复查通过 (a visit), or 凭反馈材料销号 (the unit's evidence).
    pub rechecked: bool,
    pub before_photo: Option<String>,
    pub after_photo: Option<String>,
}

/// The cases closed in the window, red first, then oldest close first;
/// at most [`MAX_BEFORE_AFTER`].
pub fn before_after(cases: &[CaseRow], w: &Window, tz: &TimeZone) -> Vec<BeforeAfter> {
    let mut closed: Vec<&CaseRow> = cases
        .iter()
        .filter(|c| c.state == CaseState::Closed)
        .filter(|c| c.closed_ms.is_some_and(|t| t >= w.from_ms && t < w.to_ms))
        .collect();
    closed.sort_by_key(|c| (c.card != Card::Red, c.closed_ms, c.id));
    closed
        .into_iter()
        .take(MAX_BEFORE_AFTER)
        .filter_map(|c| {
            let closed_on = Timestamp::from_millisecond(c.closed_ms?).ok()?.to_zoned_datetime(tz.clone()).date();
            Some(BeforeAfter {
                case_ref: c.case_ref.clone(),
                unit_name: c.unit_name.clone(),
                point_name: c.point_name.clone(),
                category_name: c.category_name.clone(),
                card: c.card,
                closed_on,
                rechecked: c.closed_by_recheck,
                before_photo: c.before_photo.clone(),
                after_photo: c.after_photo.clone(),
            })
        })
        .collect()
}

/// One event of a case's history, as far as the figures need it.
#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub case_id: i64,
    pub at_ms: i64,
    /// `Action::name()` or a system event (`reassigned`, `recheck_failed`, …).
    pub event: String,
}

/// How a unit's score weighs point compliance and on-time rectification,
/// in percent (office settings `rank_weight_compliance` and
/// `rank_weight_rectification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankWeights {
    pub compliance: u32,
    pub rectification: u32,
}

impl Default for RankWeights {
    fn default() -> Self {
        RankWeights { compliance: 70, rectification: 30 }
    }
}

impl RankWeights {
    /// Checks the settings' two weights: whole percents that sum to 100.
    pub fn new(compliance: i64, rectification: i64) -> Result<Self, String> {
        let range = 0..=100;
        if !range.contains(&compliance) || !range.contains(&rectification) || compliance + rectification != 100 {
            return Err(format!(
                "the ranking weights rank_weight_compliance ({compliance}) and rank_weight_rectification \
                 ({rectification}) must be whole percents from 0 to 100 that sum to 100"
            ));
        }
        Ok(RankWeights { compliance: compliance as u32, rectification: rectification as u32 })
    }

    /// A unit's score (0..=1, 4 decimals) from its exact (unrounded) rates:
    /// the weighted mean of what it has.
    /// No due case: its compliance alone; not inspected: its rectification
    /// alone; neither: no score.
    pub fn score(&self, compliance: Option<f64>, rectification: Option<f64>) -> Option<f64> {
        let s = match (compliance, rectification) {
            (Some(c), Some(r)) => (self.compliance as f64 * c + self.rectification as f64 * r) / 100.0,
            (Some(c), None) => c,
            (None, Some(r)) => r,
            (None, None) => return None,
        };
        Some(round4(s))
    }

    /// The scoring rule as printed under the unit ranking.
    pub fn rule(&self) -> String {
        format!(
            "综合得分 = 达标率 × {}% + 按期整改率 × {}%（权重由四城同创办设定）；本期无到期整改单的单位，综合得分即其达标率；\
             本期未受检查但有到期整改单的单位，综合得分即其按期整改率。责任单位按综合得分从高到低排名，得分相同的，检查次数多者在前，名次并列。",
            self.compliance, self.rectification
        )
    }
}

/// What compiling reads about rectification: the cases that can matter to
/// the period, the period's events, and the ranking weights.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub cases: Vec<CaseRow>,
    pub events: Vec<CaseEvent>,
    pub weights: RankWeights,
}

/// The period in milliseconds, `[from_ms, to_ms)`, and the instant its
/// states are judged at: its end, or the compile if that is earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub as_of_ms: i64,
}

impl Window {
    pub fn new((from_ms, to_ms): (i64, i64), compiled_ms: i64) -> Self {
        Window { from_ms, to_ms, as_of_ms: to_ms.min(compiled_ms) }
    }
}

/// A case's state at instant `t`, from its stamps; `None` before it was
/// opened. Closed before `t`: its final state. Still awaiting its unit now:
/// the state it is in. Answered or closed later: answered at `t` if that
/// answer was in before `t`, else still awaiting its unit (挂账 if it has a
/// target date, 返工 after a failed re-check, else 待整改). A cancelled case
/// is cancelled all along (see the module doc).
pub fn state_at(c: &CaseRow, t: i64) -> Option<CaseState> {
    if c.opened_ms >= t {
        return None;
    }
    if c.state == CaseState::Cancelled || c.state.awaits_unit() || c.closed_ms.is_some_and(|ms| ms < t) {
        return Some(c.state);
    }
    if c.answered_ms.is_some_and(|ms| ms < t) {
        return Some(CaseState::Answered);
    }
    Some(if c.deferred_until.is_some() {
        CaseState::Deferred
    } else if c.rework_count > 0 {
        CaseState::Rework
    } else {
        CaseState::Open
    })
}

fn timestamp(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// Whole days a case was overdue at `t` (a started day counts), by the same
/// rule units are told ([`Case::overdue_days`]).
pub fn overdue_days_at(c: &CaseRow, t: i64, tz: &TimeZone) -> Option<i64> {
    let state = state_at(c, t)?;
    // Not yet told (a reassigned case waits for its new unit's notice): no
    // deadline runs.
    if !state.awaits_unit() || c.notified_ms.is_none_or(|n| n >= t) {
        return None;
    }
    // The rule needs only the state and the dates; the bulletin's rows carry
    // no inspector, so the case is built with none.
    let case = Case {
        state,
        deadline: c.deadline_ms.and_then(timestamp),
        deferred_until: if state == CaseState::Deferred { c.deferred_until } else { None },
        ..Case::opened(c.card, c.unit_id.clone(), 0)
    };
    case.overdue_days(&timestamp(t)?.to_zoned_datetime(tz.clone()))
}

/// The last day a case may be rectified on, as printed: a deadline is an
/// instant (often midnight ending a day), so its day is the one the
/// instant just before it falls on. 挂账: the target date.
fn due_day(c: &CaseRow, state: CaseState, tz: &TimeZone) -> Option<Date> {
    if state == CaseState::Deferred && c.deferred_until.is_some() {
        return c.deferred_until;
    }
    let ms = c.deadline_ms?;
    Some(timestamp(ms - 1)?.to_zoned_datetime(tz.clone()).date())
}

/// Every case overdue at the window's instant, longest overdue first.
pub fn overdue_list(cases: &[CaseRow], w: &Window, tz: &TimeZone) -> Vec<OverdueEntry> {
    let mut out: Vec<OverdueEntry> = cases
        .iter()
        .filter_map(|c| {
            let days = overdue_days_at(c, w.as_of_ms, tz)?;
            let state = state_at(c, w.as_of_ms)?;
            Some(OverdueEntry {
                evidence_id: c.evidence_id.clone(),
                case_ref: c.case_ref.clone(),
                unit_id: c.unit_id.clone(),
                unit_name: c.unit_name.clone(),
                point_name: c.point_name.clone(),
                category_name: c.category_name.clone(),
                card: c.card,
                deadline: due_day(c, state, tz)?,
                days_overdue: days,
                deferred: state == CaseState::Deferred,
                rework_count: c.rework_count,
                supervised: c.supervised,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.days_overdue.cmp(&a.days_overdue).then(a.unit_id.cmp(&b.unit_id)).then(a.case_ref.cmp(&b.case_ref))
    });
    out
}

/// A unit's earlier cases: those opened before the period's end and not
/// closed or cancelled before it began, counted by their state at the
/// window's instant, and the overdue ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UnitCases {
    /// When the states are judged, as printed: 本期末 or 编制时.
    #[serde(default)]
    pub as_of: String,
    pub total: u32,
    pub open: u32,
    pub rework: u32,
    pub deferred: u32,
    pub answered: u32,
    pub closed: u32,
    pub cancelled: u32,
    pub overdue: Vec<OverdueEntry>,
}

impl UnitCases {
    /// Cases its unit or the office still has to act on.
    pub fn pending(&self) -> u32 {
        self.open + self.rework + self.deferred + self.answered
    }

    /// `待整改 1 件、已整改 2 件`: the non-zero counts, in the order of the loop.
    pub fn counts_zh(&self) -> String {
        let parts: Vec<String> = [
            (CaseState::Open, self.open),
            (CaseState::Rework, self.rework),
            (CaseState::Deferred, self.deferred),
            (CaseState::Answered, self.answered),
            (CaseState::Closed, self.closed),
            (CaseState::Cancelled, self.cancelled),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{} {n} 件", state_zh(s)))
        .collect();
        parts.join("、")
    }

    /// The sentence a unit's section prints (ending in a colon when the
    /// overdue cases follow).
    pub fn sentence(&self) -> String {
        let overdue = if self.overdue.is_empty() {
            "无逾期。".to_owned()
        } else {
            format!("其中逾期未整改 {} 件：", self.overdue.len())
        };
        format!("截至{}，本单位整改单共 {} 件：{}；{}", self.as_of, self.total, self.counts_zh(), overdue)
    }
}

/// States as a bulletin names them (已反馈 waits for the re-check).
pub fn state_zh(s: CaseState) -> &'static str {
    match s {
        CaseState::Answered => "已反馈待复查",
        s => s.label_zh(),
    }
}

/// Each unit's earlier cases, by unit id (with the unit's name).
pub fn unit_cases(cases: &[CaseRow], overdue: &[OverdueEntry], w: &Window) -> BTreeMap<String, (String, UnitCases)> {
    let as_of = if w.as_of_ms >= w.to_ms { "本期末" } else { "编制时" };
    let mut out: BTreeMap<String, (String, UnitCases)> = BTreeMap::new();
    for c in cases {
        if c.opened_ms >= w.to_ms || c.closed_ms.is_some_and(|ms| ms < w.from_ms) {
            continue;
        }
        let Some(state) = state_at(c, w.as_of_ms) else { continue };
        let u = &mut out
            .entry(c.unit_id.clone())
            .or_insert_with(|| (c.unit_name.clone(), UnitCases { as_of: as_of.into(), ..Default::default() }))
            .1;
        u.total += 1;
        *match state {
            CaseState::Open => &mut u.open,
            CaseState::Rework => &mut u.rework,
            CaseState::Deferred => &mut u.deferred,
            CaseState::Answered => &mut u.answered,
            CaseState::Closed => &mut u.closed,
            CaseState::Cancelled => &mut u.cancelled,
        } += 1;
    }
    for e in overdue {
        if let Some((_, u)) = out.get_mut(&e.unit_id) {
            u.overdue.push(e.clone());
        }
    }
    out
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(n: u32, d: u32) -> Option<f64> {
    (d > 0).then(|| round4(n as f64 / d as f64))
}

/// Whether a case is due in the window: its deadline in force falls after
/// the period began and by the window's instant (a deadline at midnight
/// ending the period's last day is that day's).
fn due_in(c: &CaseRow, w: &Window) -> bool {
    c.state != CaseState::Cancelled && c.deadline_ms.is_some_and(|d| d > w.from_ms && d <= w.as_of_ms)
}

/// Due cases and how many of them were closed on time, per unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitDue {
    pub due: u32,
    pub on_time: u32,
}

impl UnitDue {
    pub fn rate(&self) -> Option<f64> {
        ratio(self.on_time, self.due)
    }
}

/// Per unit (id → name, figures): the cases due in the window and those
/// closed on time, as the rankings weigh them.
pub fn unit_due(cases: &[CaseRow], w: &Window) -> BTreeMap<String, (String, UnitDue)> {
    let mut out: BTreeMap<String, (String, UnitDue)> = BTreeMap::new();
    for c in cases.iter().filter(|c| due_in(c, w)) {
        let u = &mut out.entry(c.unit_id.clone()).or_insert_with(|| (c.unit_name.clone(), UnitDue::default())).1;
        u.due += 1;
        if closed_on_time(c) == Some(true) {
            u.on_time += 1;
        }
    }
    out
}

/// [`Case::closed_on_time`] on a row: closed, with the last answer in by
/// the deadline in force.
fn closed_on_time(c: &CaseRow) -> Option<bool> {
    let case = Case {
        state: c.state,
        deadline: c.deadline_ms.and_then(timestamp),
        answered_at: c.answered_ms.and_then(timestamp),
        ..Case::opened(c.card, c.unit_id.clone(), 0)
    };
    case.closed_on_time()
}

/// The period's rectification, as the section 整改情况 prints it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rectification {
    /// When the overdue list and the units' case states are judged, as printed.
    pub as_of_label: String,
    /// Cases due in the period (本期到期).
    pub due: u32,
    /// Of those: closed, the last answer in by the deadline (按期整改).
    pub on_time: u32,
    /// Closed, answered after the deadline (逾期整改).
    pub late: u32,
    /// Answered, waiting for the re-check (已反馈待复查).
    pub awaiting_recheck: u32,
    /// Still owed by the unit: open, rework or 挂账 (尚未整改).
    pub open: u32,
    /// Cases reassigned to another unit in the period (退回改派).
    pub reassigned: u32,
    /// Cases whose deadline was extended in the period (延期).
    pub extended: u32,
    /// Cases deferred (挂账) in the period.
    pub deferred: u32,
    /// on_time / due; none without due cases.
    pub on_time_rate: Option<f64>,
    /// Re-check visits judged in the period, and those not passed.
    pub rechecks: u32,
    pub rechecks_failed: u32,
    /// rechecks_failed / rechecks; none without re-checks.
    pub rework_rate: Option<f64>,
    /// Cases closed in the period, and their mean days from notice to close
    /// (one decimal).
    pub closed: u32,
    pub mean_days_to_close: Option<f64>,
    /// Cases overdue at the window's instant.
    pub overdue: u32,
    /// The definitions, as printed under the table.
    pub notes: Vec<String>,
}

impl Rectification {
    /// The definitions printed under the table (ARCHITECTURE.md says the same).
    pub fn notes() -> Vec<String> {
        [
            "本期到期：整改期限（含延期、返工后的期限）在本期内的整改单，已撤销的不计；期限为某日 24 时的，算作该日到期。",
            "按期整改：本期到期、已整改销号，且最后一次整改反馈不晚于整改期限；逾期整改：已销号但反馈晚于期限；已反馈待复查：已反馈、尚待复查；尚未整改：待整改、返工或挂账。各项按编制时已知情况统计，四项之和等于本期到期数。",
            "按期整改率 = 按期整改件数 ÷ 本期到期件数。挂账的整改单按原期限计入，不算按期整改。",
            "退回改派、延期、挂账：本期内经批准改派责任单位、延长期限、同意挂账的整改单件数（同一整改单多次办理计一件）。",
            "返工率 = 复查未通过次数 ÷ 复查次数（本期内作出结论的复查；凭照片销号的不算复查）。",
            "平均整改用时：本期内销号的整改单，自通知现责任单位起至销号止的平均天数，保留一位小数。",
            "逾期未整改清单及各单位整改单情况按本期末（本期尚未结束的，按编制时）的状态统计；逾期天数不足一天的按一天计。",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }

    /// The summary sentence (plain text; each format escapes it its own way).
    pub fn sentence(&self) -> String {
        let rate = |r: Option<f64>| r.map(super::percent).unwrap_or_else(|| "—".into());
        let mean = self.mean_days_to_close.map(|d| format!("{d:.1} 天")).unwrap_or_else(|| "—".into());
        format!(
            "本期到期整改单 {} 件，按期整改 {} 件，按期整改率 {}；逾期整改 {} 件，已反馈待复查 {} 件，尚未整改 {} 件。\
             本期复查 {} 次，未通过 {} 次，返工率 {}；本期销号 {} 件，平均整改用时 {}。截至{}，逾期未整改 {} 件。",
            self.due,
            self.on_time,
            rate(self.on_time_rate),
            self.late,
            self.awaiting_recheck,
            self.open,
            self.rechecks,
            self.rechecks_failed,
            rate(self.rework_rate),
            self.closed,
            mean,
            self.as_of_label,
            self.overdue,
        )
    }
}

/// The period's rectification figures (definitions: [`Rectification::notes`]).
pub fn summarise(inputs: &Inputs, w: &Window, overdue: usize, as_of_label: String) -> Rectification {
    let mut r =
        Rectification { as_of_label, overdue: overdue as u32, notes: Rectification::notes(), ..Default::default() };
    for c in inputs.cases.iter().filter(|c| due_in(c, w)) {
        r.due += 1;
        match (c.state, closed_on_time(c)) {
            (_, Some(true)) => r.on_time += 1,
            (_, Some(false)) => r.late += 1,
            (CaseState::Answered, None) => r.awaiting_recheck += 1,
            _ => r.open += 1,
        }
    }
    r.on_time_rate = ratio(r.on_time, r.due);

    let in_period = |ms: i64| ms >= w.from_ms && ms < w.to_ms;
    let mut distinct: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for e in inputs.events.iter().filter(|e| in_period(e.at_ms)) {
        match e.event.as_str() {
            "recheck_passed" => r.rechecks += 1,
            "recheck_failed" => {
                r.rechecks += 1;
                r.rechecks_failed += 1;
            }
            name @ ("reassigned" | "extension_granted" | "deferred") => {
                distinct.entry(name).or_default().insert(e.case_id);
            }
            _ => {}
        }
    }
    let n = |name: &str| distinct.get(name).map_or(0, |s| s.len() as u32);
    (r.reassigned, r.extended, r.deferred) = (n("reassigned"), n("extension_granted"), n("deferred"));
    r.rework_rate = ratio(r.rechecks_failed, r.rechecks);

    let spans: Vec<i64> = inputs
        .cases
        .iter()
        .filter(|c| c.state == CaseState::Closed)
        .filter_map(|c| match (c.notified_ms, c.closed_ms) {
            (Some(n), Some(closed)) if in_period(closed) => Some(closed - n),
            _ => None,
        })
        .collect();
    r.closed = spans.len() as u32;
    if !spans.is_empty() {
        let mean_days = spans.iter().sum::<i64>() as f64 / spans.len() as f64 / DAY_MS as f64;
        r.mean_days_to_close = Some((mean_days * 10.0).round() / 10.0);
    }
    r
}

/// `本期末（2026-10-31 24 时）`, or the compile minute for a period still running.
pub fn as_of_label(w: &Window, period_to: Date, tz: &TimeZone) -> String {
    if w.as_of_ms >= w.to_ms {
        return format!("本期末（{period_to} 24 时）");
    }
    let at = timestamp(w.as_of_ms).map(|t| t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string());
    format!("编制时（{}）", at.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    //! The fixture is worked by hand in the comments; every figure asserted
    //! below is computed there, not read back from the code.
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    /// Local Shanghai time in 2026, in milliseconds.
    fn at(month: i8, day: i8, hour: i8) -> i64 {
        jiff::civil::date(2026, month, day)
            .at(hour, 0, 0, 0)
            .to_zoned_datetime(tz())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn case(id: i64, unit: &str, state: CaseState) -> CaseRow {
        CaseRow {
            id,
            case_ref: format!("ZG{id:010}"),
            evidence_id: format!("E{id}"),
            unit_id: unit.into(),
            unit_name: format!("单位{unit}"),
            point_name: format!("点位{id}"),
            category_name: "乱停乱放".into(),
            card: Card::Yellow,
            state,
            opened_ms: at(10, 1, 9),
            notified_ms: None,
            deadline_ms: None,
            answered_ms: None,
            closed_ms: None,
            rework_count: 0,
            deferred_until: None,
            supervised: false,
            before_photo: None,
            after_photo: None,
            closed_by_recheck: false,
        }
    }

    fn ev(case_id: i64, at_ms: i64, event: &str) -> CaseEvent {
        CaseEvent { case_id, at_ms, event: event.into() }
    }

    /// October 2026 (S = 10-01 00:00, E = 11-01 00:00), compiled 11-03.
    ///
    /// | case | unit | story                                                         |
    /// |------|------|---------------------------------------------------------------|
    /// | 1    | U1   | notified 09-16, due 09-19 00:00, never answered: overdue 43 d |
    /// | 2    | U1   | due 10-10 00:00 (extended 10-05), answered 10-09, closed 10-12 |
    /// | 3    | U1   | notified 10-05 18:00, failed re-check 10-09, rework due 10-14,|
    /// |      |      | answered 10-15, closed 10-16 10:00: late                      |
    /// | 4    | U2   | due 10-10, deferred 10-08 to 10-20, not answered: overdue 11 d|
    /// | 5    | U3   | reassigned 10-11, due 10-17, answered 10-16, no re-check yet  |
    /// | 6    | U1   | due 10-09, answered 10-08, closed 11-02 (after the period)    |
    /// | 7    | U4   | cancelled 10-08                                               |
    /// | 8    | U2   | closed 09-25, before the period                                |
    /// | 9    | U2   | due 11-04: not in the period                                  |
    fn october() -> (Inputs, Window) {
        let mut c1 = case(1, "U1", CaseState::Open);
        c1.card = Card::Red;
        c1.opened_ms = at(9, 15, 12);
        c1.notified_ms = Some(at(9, 16, 10));
        c1.deadline_ms = Some(at(9, 19, 0));
        c1.supervised = true;

        let mut c2 = case(2, "U1", CaseState::Closed);
        c2.opened_ms = at(9, 20, 12);
        c2.notified_ms = Some(at(9, 21, 10));
        c2.deadline_ms = Some(at(10, 10, 0));
        c2.answered_ms = Some(at(10, 9, 15));
        c2.closed_ms = Some(at(10, 12, 10));

        let mut c3 = case(3, "U1", CaseState::Closed);
        c3.card = Card::Red;
        c3.opened_ms = at(10, 5, 12);
        c3.notified_ms = Some(at(10, 5, 18));
        c3.deadline_ms = Some(at(10, 14, 0));
        c3.answered_ms = Some(at(10, 15, 9));
        c3.closed_ms = Some(at(10, 16, 10));
        c3.rework_count = 1;

        let mut c4 = case(4, "U2", CaseState::Deferred);
        c4.opened_ms = at(10, 6, 12);
        c4.notified_ms = Some(at(10, 6, 18));
        c4.deadline_ms = Some(at(10, 10, 0));
        c4.deferred_until = Some(jiff::civil::date(2026, 10, 20));

        let mut c5 = case(5, "U3", CaseState::Answered);
        c5.opened_ms = at(10, 9, 21);
        c5.notified_ms = Some(at(10, 11, 18));
        c5.deadline_ms = Some(at(10, 17, 0));
        c5.answered_ms = Some(at(10, 16, 9));

        let mut c6 = case(6, "U1", CaseState::Closed);
        c6.opened_ms = at(10, 3, 9);
        c6.notified_ms = Some(at(10, 3, 18));
        c6.deadline_ms = Some(at(10, 9, 0));
        c6.answered_ms = Some(at(10, 8, 9));
        c6.closed_ms = Some(at(11, 2, 10));

        let mut c7 = case(7, "U4", CaseState::Cancelled);
        c7.opened_ms = at(10, 7, 9);
        c7.notified_ms = Some(at(10, 7, 18));
        c7.deadline_ms = Some(at(10, 13, 0));
        c7.closed_ms = Some(at(10, 8, 9));

        let mut c8 = case(8, "U2", CaseState::Closed);
        c8.opened_ms = at(9, 10, 9);
        c8.notified_ms = Some(at(9, 10, 18));
        c8.deadline_ms = Some(at(9, 16, 0));
        c8.answered_ms = Some(at(9, 15, 9));
        c8.closed_ms = Some(at(9, 25, 9));

        let mut c9 = case(9, "U2", CaseState::Open);
        c9.opened_ms = at(10, 28, 9);
        c9.notified_ms = Some(at(10, 28, 18));
        c9.deadline_ms = Some(at(11, 4, 0));

        let events = vec![
            ev(2, at(10, 5, 10), "extension_granted"),
            ev(2, at(10, 9, 15), "answered"),
            ev(2, at(10, 12, 10), "recheck_passed"),
            ev(3, at(10, 9, 10), "recheck_failed"),
            ev(3, at(10, 16, 10), "recheck_passed"),
            ev(4, at(10, 8, 10), "deferred"),
            ev(5, at(10, 11, 11), "reassigned"),
            // A second extension of the same case counts it once.
            ev(2, at(10, 6, 10), "extension_granted"),
            // After the period: not this period's.
            ev(6, at(11, 2, 10), "recheck_passed"),
            ev(8, at(9, 25, 9), "recheck_passed"),
            // A close on the unit's evidence is no re-check.
            ev(10, at(10, 20, 10), "closed_on_evidence"),
        ];
        let inputs =
            Inputs { cases: vec![c1, c2, c3, c4, c5, c6, c7, c8, c9], events, weights: RankWeights::default() };
        (inputs, Window::new((at(10, 1, 0), at(11, 1, 0)), at(11, 3, 9)))
    }

    #[test]
    fn the_overdue_list_is_judged_at_the_end_of_the_period() {
        let (inputs, w) = october();
        let list = overdue_list(&inputs.cases, &w, &tz());
        // Case 1: due 09-19 00:00, 09-19 → 11-01 is 43 whole days.
        // Case 4: 挂账 to 10-20, due 10-21 00:00 → 11-01 is 11 days.
        // Case 6 was answered 10-08, so at the end of October it waited on
        // the office, though it was closed only on 11-02; case 9 is not due.
        let got: Vec<(&str, i64, String, bool, bool)> = list
            .iter()
            .map(|e| (e.case_ref.as_str(), e.days_overdue, e.deadline.to_string(), e.deferred, e.supervised))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ZG0000000001", 43, "2026-09-18".into(), false, true),
                ("ZG0000000004", 11, "2026-10-20".into(), true, false),
            ]
        );
        // One hour past a deadline is one day overdue.
        let mut late = inputs.cases[8].clone();
        late.deadline_ms = Some(at(10, 31, 23));
        assert_eq!(overdue_days_at(&late, w.as_of_ms, &tz()), Some(1));
        // A case answered after the period was still owed at its end.
        let mut answered_later = inputs.cases[0].clone();
        answered_later.state = CaseState::Answered;
        answered_later.answered_ms = Some(at(11, 2, 9));
        assert_eq!(overdue_days_at(&answered_later, w.as_of_ms, &tz()), Some(43));
        assert_eq!(overdue_days_at(&answered_later, at(11, 3, 0), &tz()), None);
    }

    #[test]
    fn a_period_still_running_is_judged_at_the_compile() {
        let (inputs, _) = october();
        // Compiled 10-12 at 09:00: case 1 is 09-19 → 10-12 09:00 = 23 days
        // and 9 hours late, so 24 started days; case 4's 挂账 runs to 10-20.
        let w = Window::new((at(10, 1, 0), at(11, 1, 0)), at(10, 12, 9));
        let list = overdue_list(&inputs.cases, &w, &tz());
        assert_eq!(
            list.iter().map(|e| (e.case_ref.as_str(), e.days_overdue)).collect::<Vec<_>>(),
            vec![("ZG0000000001", 24)]
        );
        assert_eq!(as_of_label(&w, jiff::civil::date(2026, 10, 31), &tz()), "编制时（2026-10-12 09:00）");
        // Due by the compile: cases 2 (10-10), 4 (10-10), 6 (10-09); 3, 5 later.
        let r = summarise(&inputs, &w, list.len(), String::new());
        assert_eq!((r.due, r.on_time, r.open), (3, 2, 1));
    }

    #[test]
    fn units_see_their_earlier_cases_by_state_at_the_end_of_the_period() {
        let (inputs, w) = october();
        let overdue = overdue_list(&inputs.cases, &w, &tz());
        let units = unit_cases(&inputs.cases, &overdue, &w);
        // U1: case 1 open, 2 and 3 closed, 6 answered at the end of October.
        let u1 = &units["U1"].1;
        assert_eq!((u1.total, u1.open, u1.answered, u1.closed, u1.overdue.len()), (4, 1, 1, 2, 1), "{u1:?}");
        assert_eq!(
            u1.sentence(),
            "截至本期末，本单位整改单共 4 件：待整改 1 件、已反馈待复查 1 件、已整改 2 件；其中逾期未整改 1 件："
        );
        // U2: case 4 (挂账) and 9 (opened 10-28, not yet due); case 8 was closed before October.
        let u2 = &units["U2"].1;
        assert_eq!((u2.total, u2.deferred, u2.open, u2.closed, u2.overdue.len()), (2, 1, 1, 0, 1));
        // U4's case was cancelled in October: counted as cancelled, owes nothing.
        let u4 = &units["U4"].1;
        assert_eq!((u4.total, u4.cancelled, u4.pending()), (1, 1, 0));
        assert_eq!(u4.sentence(), "截至本期末，本单位整改单共 1 件：已撤销 1 件；无逾期。");
    }

    #[test]
    fn the_period_figures_match_the_hand_count() {
        let (inputs, w) = october();
        let r = summarise(&inputs, &w, 2, "本期末（2026-10-31 24 时）".into());
        // Due in October: 2 (10-10), 3 (10-14), 4 (10-10), 5 (10-17), 6 (10-09).
        // Not: 1 (09-19), 7 (cancelled), 8 (09-16), 9 (11-04).
        assert_eq!(r.due, 5);
        // On time: 2 (10-09 ≤ 10-10) and 6 (10-08 ≤ 10-09, closed after the period).
        // Late: 3 (answered 10-15 after 10-14). Awaiting re-check: 5. Open: 4 (挂账).
        assert_eq!((r.on_time, r.late, r.awaiting_recheck, r.open), (2, 1, 1, 1));
        assert_eq!(r.on_time + r.late + r.awaiting_recheck + r.open, r.due);
        assert_eq!(r.on_time_rate, Some(0.4));
        // Events in October: reassigned 5; extended 2 (twice, counted once); deferred 4.
        assert_eq!((r.reassigned, r.extended, r.deferred), (1, 1, 1));
        // Re-checks in October: 3 failed 10-09, 3 passed 10-16, 2 passed 10-12 → 1 of 3.
        assert_eq!((r.rechecks, r.rechecks_failed, r.rework_rate), (3, 1, Some(0.3333)));
        // Closed in October: 2 (09-21 10:00 → 10-12 10:00 = 21 days) and
        // 3 (10-05 18:00 → 10-16 10:00 = 10 days 16 hours = 10.667 days):
        // mean 15.833 → 15.8.
        assert_eq!((r.closed, r.mean_days_to_close), (2, Some(15.8)));
        assert_eq!(r.overdue, 2);
        assert!(r.sentence().contains("按期整改率 40.0%") && r.sentence().contains("返工率 33.3%"), "{}", r.sentence());
        assert!(r.sentence().contains("平均整改用时 15.8 天"));
    }

    #[test]
    fn nothing_due_gives_no_rates_rather_than_zero() {
        let r = summarise(&Inputs::default(), &Window::new((0, DAY_MS), DAY_MS), 0, String::new());
        assert_eq!((r.due, r.on_time_rate, r.rework_rate, r.mean_days_to_close), (0, None, None, None));
        assert!(r.sentence().contains("按期整改率 —"), "{}", r.sentence());
    }

    #[test]
    fn per_unit_due_and_on_time_feed_the_score() {
        let (inputs, w) = october();
        let due = unit_due(&inputs.cases, &w);
        // U1: 2, 3, 6 due, 2 and 6 on time. U2: 4 due, open. U3: 5 due, awaiting re-check.
        assert_eq!(due["U1"].1, UnitDue { due: 3, on_time: 2 });
        assert_eq!(due["U2"].1, UnitDue { due: 1, on_time: 0 });
        assert_eq!(due["U3"].1, UnitDue { due: 1, on_time: 0 });
        assert!(!due.contains_key("U4"), "a cancelled case is never due");
        let w70 = RankWeights::default();
        assert_eq!(due["U1"].1.rate(), Some(0.6667));
        // 0.7 × 1/2 + 0.3 × 2/3 = 0.35 + 0.2 = 0.55.
        assert_eq!(w70.score(Some(0.5), Some(2.0 / 3.0)), Some(0.55));
        // 0.5 × 1/2 + 0.5 × 2/3 = 0.58333…, rounded once.
        assert_eq!(RankWeights::new(50, 50).unwrap().score(Some(0.5), Some(2.0 / 3.0)), Some(0.5833));
        assert_eq!(w70.score(Some(0.5), None), Some(0.5), "no due case: compliance alone");
        assert_eq!(w70.score(None, Some(0.25)), Some(0.25), "not inspected: rectification alone");
        assert_eq!(w70.score(None, None), None);
        assert!(w70.rule().contains("达标率 × 70% + 按期整改率 × 30%"));
    }

    #[test]
    fn weights_must_be_percents_that_sum_to_100() {
        assert_eq!(RankWeights::new(70, 30), Ok(RankWeights { compliance: 70, rectification: 30 }));
        assert_eq!(RankWeights::new(100, 0), Ok(RankWeights { compliance: 100, rectification: 0 }));
        for (c, r) in [(80, 30), (70, 20), (-10, 110), (110, -10)] {
            let err = RankWeights::new(c, r).unwrap_err();
            assert!(err.contains("sum to 100"), "{c}/{r}: {err}");
        }
    }

    #[test]
    fn a_deadline_at_midnight_is_the_day_before() {
        let (inputs, _) = october();
        assert_eq!(due_day(&inputs.cases[1], CaseState::Open, &tz()), Some(jiff::civil::date(2026, 10, 9)));
        let mut afternoon = inputs.cases[1].clone();
        afternoon.deadline_ms = Some(at(10, 9, 14));
        assert_eq!(due_day(&afternoon, CaseState::Open, &tz()), Some(jiff::civil::date(2026, 10, 9)));
    }

    #[test]
    fn the_before_and_after_pairs_are_the_periods_closed_cases_red_first() {
        let closed = |id: i64, card: Card, at_ms: i64, recheck: bool| CaseRow {
            card,
            closed_ms: Some(at_ms),
            before_photo: Some(format!("{id:064}")),
            after_photo: Some(format!("{:064}", id + 100)),
            closed_by_recheck: recheck,
            ..case(id, "U1", CaseState::Closed)
        };
        let cases = vec![
            closed(1, Card::Yellow, at(10, 5, 9), false),
            closed(2, Card::Red, at(10, 20, 15), true),
            closed(3, Card::Yellow, at(9, 30, 9), true),
            closed(4, Card::Red, at(11, 1, 0), true),
            case(5, "U1", CaseState::Answered),
        ];
        let w = Window::new((at(10, 1, 0), at(11, 1, 0)), at(11, 3, 9));
        let pairs = before_after(&cases, &w, &tz());
        let got: Vec<(&str, Card, String, bool)> =
            pairs.iter().map(|p| (p.case_ref.as_str(), p.card, p.closed_on.to_string(), p.rechecked)).collect();
        assert_eq!(
            got,
            vec![
                ("ZG0000000002", Card::Red, "2026-10-20".into(), true),
                ("ZG0000000001", Card::Yellow, "2026-10-05".into(), false),
            ],
            "closed in October only (not 09-30, not 11-01 00:00), red first"
        );
        assert_eq!(pairs[0].after_photo.as_deref(), Some(format!("{:064}", 102).as_str()));
        let many: Vec<CaseRow> = (1..=20).map(|i| closed(i, Card::Yellow, at(10, 2, 9) + i, true)).collect();
        assert_eq!(before_after(&many, &w, &tz()).len(), MAX_BEFORE_AFTER);
    }
}
