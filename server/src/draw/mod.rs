//! The verifiable random draw (无特定人员、无特定时间、无特定单位): who
//! inspects which point, on which day, in which time slot.
//!
//! This module is pure: assignments are a deterministic function of a 32-byte
//! seed and the canonical [`Params`], with no I/O, no clock and no database.
//! The algorithm is specified step by step in ARCHITECTURE.md ("The random
//! draw") so anyone can re-implement it and check a revealed draw; change
//! nothing here without bumping [`ALGORITHM`] and updating that section, or
//! every published draw stops verifying.
//!
//! Constraints are never relaxed: when they cannot all be met, [`compute`]
//! fails with [`DrawError::Infeasible`] naming the binding constraint and how
//! many visits it allows.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

pub mod cli;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Names the algorithm in the parameters, so a future change cannot be
/// mistaken for this one.
pub const ALGORITHM: &str = "anfang-draw-v1";

/// Which days a slot applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlotDays {
    /// Monday to Friday.
    Workdays,
    /// Saturday and Sunday.
    Weekends,
    /// Every day.
    Every,
}

impl SlotDays {
    fn applies(self, date: jiff::civil::Date) -> bool {
        let weekend = matches!(date.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday);
        match self {
            SlotDays::Workdays => !weekend,
            SlotDays::Weekends => weekend,
            SlotDays::Every => true,
        }
    }
}

/// A daily time window visits are drawn into; the inspector picks the
/// moment within it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// Stable machine name, e.g. `before_work`.
    pub name: String,
    /// What the inspector sees, e.g. 上班前.
    pub label: String,
    /// Local start time, `HH:MM`.
    #[schemars(with = "String", regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$"))]
    pub start: jiff::civil::Time,
    /// Local end time, `HH:MM`, after `start` on the same day.
    #[schemars(with = "String", regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?$"))]
    pub end: jiff::civil::Time,
    pub days: SlotDays,
}

/// The seed's slack hours, plus ordinary office hours: 上班前、下班后、周末.
pub fn default_slots() -> Vec<Slot> {
    let t = |h, m| jiff::civil::time(h, m, 0, 0);
    vec![
        Slot {
            name: "before_work".into(),
            label: "上班前".into(),
            start: t(7, 0),
            end: t(8, 30),
            days: SlotDays::Workdays,
        },
        Slot {
            name: "office_hours".into(),
            label: "工作时间".into(),
            start: t(8, 30),
            end: t(17, 30),
            days: SlotDays::Workdays,
        },
        Slot {
            name: "after_work".into(),
            label: "下班后".into(),
            start: t(17, 30),
            end: t(20, 0),
            days: SlotDays::Workdays,
        },
        Slot {
            name: "weekend".into(), label: "周末".into(), start: t(8, 0), end: t(20, 0), days: SlotDays::Weekends
        },
    ]
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawInspector {
    /// The inspector's alias (pseudonym), unique.
    pub alias: String,
    /// Units this inspector must never inspect (e.g. their own employer).
    pub excluded_units: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DrawPoint {
    pub id: String,
    pub unit_id: String,
    /// Districts are what visits are spread over; a point without one counts
    /// as the district "".
    pub district: String,
}

/// Everything a draw depends on besides its seed. Its canonical JSON (see
/// [`Params::canonical_json`]) is what the commitment covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub algorithm: String,
    /// First day of the period (office-local date).
    #[schemars(with = "String", extend("format" = "date"))]
    pub from: jiff::civil::Date,
    /// Last day of the period, inclusive.
    #[schemars(with = "String", extend("format" = "date"))]
    pub to: jiff::civil::Date,
    /// The office's IANA time zone; slots are local to it.
    pub timezone: String,
    /// Sorted by alias.
    pub inspectors: Vec<DrawInspector>,
    /// Sorted by id.
    pub points: Vec<DrawPoint>,
    pub visits: u32,
    pub slots: Vec<Slot>,
    /// Two visits of one inspector to one unit are at least this many days
    /// apart (1: not twice on the same day).
    pub min_days_between_same_unit: u32,
    pub max_visits_per_inspector_per_day: u32,
    /// When an inspector's device may receive the assignment: this many
    /// minutes before the slot starts; `None` means 00:00 of the slot's day.
    pub lead_minutes: Option<u32>,
}

/// Largest period one draw may cover.
pub const MAX_DAYS: i32 = 366;
/// Largest number of visits in one draw.
pub const MAX_VISITS: u32 = 100_000;

impl Params {
    /// Compact JSON, fields in declaration order, lists in their (sorted)
    /// order: the exact bytes the commitment hashes.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("draw parameters always serialize")
    }

    /// Sorts inspectors, points and excluded units so equal parameters have
    /// equal canonical JSON; the server calls this before committing.
    pub fn normalize(&mut self) {
        for i in &mut self.inspectors {
            i.excluded_units.sort();
            i.excluded_units.dedup();
        }
        self.inspectors.sort_by(|a, b| a.alias.cmp(&b.alias));
        self.points.sort_by(|a, b| a.id.cmp(&b.id));
    }

    pub fn tz(&self) -> Result<jiff::tz::TimeZone, DrawError> {
        jiff::tz::TimeZone::get(&self.timezone).map_err(|_| DrawError::Invalid {
            field: "timezone",
            message: format!("unknown time zone {:?}", self.timezone),
        })
    }

    /// Checks everything the algorithm relies on, with a message a person
    /// can act on.
    pub fn validate(&self) -> Result<(), DrawError> {
        let bad = |field: &'static str, message: String| Err(DrawError::Invalid { field, message });
        if self.algorithm != ALGORITHM {
            return bad(
                "algorithm",
                format!("algorithm {:?} is not {ALGORITHM:?}; this program cannot compute it", self.algorithm),
            );
        }
        self.tz()?;
        if self.to < self.from {
            return bad("to", format!("the period ends ({}) before it starts ({})", self.to, self.from));
        }
        let days = (self.to - self.from).get_days() + 1;
        if days > MAX_DAYS {
            return bad("to", format!("the period has {days} days; a draw covers at most {MAX_DAYS}"));
        }
        if self.visits == 0 || self.visits > MAX_VISITS {
            return bad("visits", format!("visits must be 1 to {MAX_VISITS}, not {}", self.visits));
        }
        if self.inspectors.is_empty() {
            return bad("inspectors", "no inspectors to draw from; add inspectors or name active ones".into());
        }
        if self.points.is_empty() {
            return bad("points", "no inspection points match; widen the point filter".into());
        }
        if self.slots.is_empty() {
            return bad("slots", "no time slots to draw into".into());
        }
        if self.min_days_between_same_unit == 0 {
            return bad("min_days_between_same_unit", "min_days_between_same_unit must be at least 1".into());
        }
        if self.max_visits_per_inspector_per_day == 0 {
            return bad(
                "max_visits_per_inspector_per_day",
                "max_visits_per_inspector_per_day must be at least 1".into(),
            );
        }
        let mut names = HashSet::new();
        for s in &self.slots {
            if s.end <= s.start {
                return bad("slots", format!("slot {:?} ends ({}) before it starts ({})", s.name, s.end, s.start));
            }
            if s.name.trim().is_empty() || !names.insert(s.name.as_str()) {
                return bad("slots", format!("slot names must be non-empty and distinct ({:?})", s.name));
            }
        }
        let sorted_unique = |v: Vec<&str>| v.windows(2).all(|w| w[0] < w[1]);
        if !sorted_unique(self.inspectors.iter().map(|i| i.alias.as_str()).collect()) {
            return bad("inspectors", "inspectors must be sorted by alias, each once".into());
        }
        if !sorted_unique(self.points.iter().map(|p| p.id.as_str()).collect()) {
            return bad("points", "points must be sorted by id, each once".into());
        }
        for i in &self.inspectors {
            if !sorted_unique(i.excluded_units.iter().map(String::as_str).collect()) {
                return bad("inspectors", format!("excluded units of {} must be sorted, each once", i.alias));
            }
        }
        Ok(())
    }

    /// The slot instances of the period, in draw order: by date, then by
    /// the slot's position in `slots`.
    pub fn slot_instances(&self) -> Vec<(jiff::civil::Date, usize)> {
        let mut out = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            for (k, s) in self.slots.iter().enumerate() {
                if s.days.applies(d) {
                    out.push((d, k));
                }
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        out
    }
}

/// `SHA-256(seed ‖ canonical parameters JSON)`, lowercase hex.
pub fn commitment(seed: &[u8; 32], params: &Params) -> String {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(params.canonical_json().as_bytes());
    hex::encode(h.finalize())
}

/// One drawn visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drawn {
    /// Position in the draw's output, from 0.
    pub index: u32,
    pub inspector: String,
    pub point_id: String,
    pub unit_id: String,
    #[schemars(with = "String", extend("format" = "date"))]
    pub date: jiff::civil::Date,
    /// The slot's `name`.
    pub slot: String,
}

/// The constraint that bounds a draw below the visits asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// `cap` visits per inspector per day, on `days` slot days.
    DailyCap { cap: u64, days: usize },
    /// Some inspector has every available unit excluded.
    Exclusion,
    /// At least `days` days between one inspector's visits to one unit.
    Spacing { days: i32 },
    /// No single bound, but together they leave no placement.
    Combined,
}

impl Constraint {
    /// The constraint for an office user, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            Constraint::DailyCap { cap, days } => format!("每名督查员每天最多 {cap} 次，期间有 {days} 天可安排"),
            Constraint::Exclusion => "回避单位：有督查员的所有可选点位都属于其回避单位".to_owned(),
            Constraint::Spacing { days } => format!("同一督查员访问同一单位至少间隔 {days} 天"),
            Constraint::Combined => "回避单位、同一单位间隔天数与每日上限共同作用".to_owned(),
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Constraint::DailyCap { cap, days } => {
                write!(f, "at most {cap} visit(s) per inspector per day, on {days} day(s) with a slot")
            }
            Constraint::Exclusion => f.write_str("an inspector has every available unit excluded"),
            Constraint::Spacing { days } => {
                write!(f, "at least {days} day(s) between one inspector's visits to the same unit")
            }
            Constraint::Combined => {
                f.write_str("excluded units, the days between visits to one unit and the daily cap together")
            }
        }
    }
}

/// Why a draw cannot be made. The API answers the English sentence with
/// [`DrawError::code`] and [`DrawError::field`]; the console shows
/// [`DrawError::zh`], built from the same values, never from the sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    #[error("invalid draw parameters: {message}")]
    Invalid { field: &'static str, message: String },
    /// The constraints allow fewer visits than asked; nothing was relaxed.
    #[error(
        "the draw cannot meet its constraints: {needed} visits are needed, at most {possible} can be placed ({constraint})"
    )]
    Infeasible { needed: u32, possible: u32, constraint: Constraint },
}

impl DrawError {
    pub fn code(&self) -> anfang_core::error_code::ErrorCode {
        use anfang_core::error_code::ErrorCode;
        match self {
            DrawError::Invalid { .. } => ErrorCode::DrawInvalid,
            DrawError::Infeasible { .. } => ErrorCode::DrawInfeasible,
        }
    }

    /// The parameter to change.
    pub fn field(&self) -> &'static str {
        match self {
            DrawError::Invalid { field, .. } => field,
            DrawError::Infeasible { .. } => "visits",
        }
    }

    /// The refusal for an office user, in Chinese, with its numbers.
    pub fn zh(&self) -> String {
        match self {
            DrawError::Invalid { field, message } => format!("{}（{field}：{message}）", self.code().zh()),
            DrawError::Infeasible { needed, possible, constraint } => format!(
                "{}：需要 {needed} 次访问，约束下最多可安排 {possible} 次（{}）",
                self.code().zh(),
                constraint.zh()
            ),
        }
    }
}

/// `below(n)`: an unbiased integer in `0..n` from the stream (rejection
/// sampling on 64-bit outputs).
fn below(rng: &mut ChaCha20Rng, n: usize) -> usize {
    let n = n as u64;
    let zone = u64::MAX - (u64::MAX - n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return (x % n) as usize;
        }
    }
}

/// Fisher–Yates, from the last element down.
fn shuffle<T>(rng: &mut ChaCha20Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i + 1);
        v.swap(i, j);
    }
}

/// Among `items`, those with the smallest `key`, then one of them chosen by
/// `below` (items keep their given order).
fn pick_least<T: Copy>(rng: &mut ChaCha20Rng, items: &[T], key: impl Fn(T) -> u32) -> Option<T> {
    let min = items.iter().map(|&t| key(t)).min()?;
    let least: Vec<T> = items.iter().copied().filter(|&t| key(t) == min).collect();
    Some(least[below(rng, least.len())])
}

/// Days (indices into the period) on which at least one slot applies.
fn slot_days(params: &Params) -> Vec<i32> {
    let mut days: Vec<i32> = params.slot_instances().iter().map(|(d, _)| (*d - params.from).get_days()).collect();
    days.dedup();
    days
}

/// Upper bounds the constraints put on the number of visits, in the order
/// they are reported: (allowed visits, which constraint).
fn upper_bounds(params: &Params) -> Vec<(u64, Constraint)> {
    let days = slot_days(params);
    let cap = params.max_visits_per_inspector_per_day as u64;
    let n = params.min_days_between_same_unit as i32;
    // Most visits one inspector can pay to one unit: greedy from the first
    // slot day, each next visit at least n days later.
    let mut per_unit = 0u64;
    let mut last: Option<i32> = None;
    for &d in &days {
        if last.is_none_or(|l| d - l >= n) {
            per_unit += 1;
            last = Some(d);
        }
    }
    let units: BTreeMap<&str, ()> = params.points.iter().map(|p| (p.unit_id.as_str(), ())).collect();
    let (mut by_cap, mut by_exclusion, mut by_spacing) = (0u64, 0u64, 0u64);
    for i in &params.inspectors {
        let allowed = units.keys().filter(|u| !i.excluded_units.iter().any(|e| e == *u)).count() as u64;
        let day_cap = cap * days.len() as u64;
        by_cap += day_cap;
        by_exclusion += if allowed == 0 { 0 } else { day_cap };
        by_spacing += day_cap.min(allowed * per_unit);
    }
    vec![
        (by_cap, Constraint::DailyCap { cap, days: days.len() }),
        (by_exclusion, Constraint::Exclusion),
        (by_spacing, Constraint::Spacing { days: n }),
    ]
}

/// Computes the draw. Deterministic: the same seed and parameters give the
/// same assignments on every machine.
pub fn compute(seed: &[u8; 32], params: &Params) -> Result<Vec<Drawn>, DrawError> {
    params.validate()?;
    let needed = params.visits;
    for (bound, constraint) in upper_bounds(params) {
        if bound < needed as u64 {
            return Err(DrawError::Infeasible { needed, possible: bound as u32, constraint });
        }
    }
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let instances = params.slot_instances();
    let day_of = |k: usize| (instances[k].0 - params.from).get_days();
    let cap = params.max_visits_per_inspector_per_day;
    let gap = params.min_days_between_same_unit as i32;
    let n_slots = params.slots.len();

    // Districts in sorted order, and each point's district index.
    let districts: Vec<&str> = {
        let mut d: Vec<&str> = params.points.iter().map(|p| p.district.as_str()).collect();
        d.sort();
        d.dedup();
        d
    };
    let district_of: Vec<usize> =
        params.points.iter().map(|p| districts.binary_search(&p.district.as_str()).unwrap_or(0)).collect();

    struct State {
        per_day: HashMap<i32, u32>,
        per_slot: Vec<u32>,
        per_district: Vec<u32>,
        unit_days: HashMap<String, Vec<i32>>,
        exhausted: bool,
    }
    let mut states: Vec<State> = params
        .inspectors
        .iter()
        .map(|_| State {
            per_day: HashMap::new(),
            per_slot: vec![0; n_slots],
            per_district: vec![0; districts.len()],
            unit_days: HashMap::new(),
            exhausted: false,
        })
        .collect();
    let mut point_visits = vec![0u32; params.points.len()];

    // Step 1: the inspectors' turn order.
    let mut order: Vec<usize> = (0..params.inspectors.len()).collect();
    shuffle(&mut rng, &mut order);

    let mut out: Vec<Drawn> = Vec::with_capacity(needed as usize);
    // Step 2: rounds; in each, every inspector not exhausted gets one visit.
    'rounds: while (out.len() as u32) < needed {
        let mut progress = false;
        for &i in &order {
            if out.len() as u32 == needed {
                break 'rounds;
            }
            if states[i].exhausted {
                continue;
            }
            let insp = &params.inspectors[i];
            let st = &states[i];
            // Instances on days where the inspector is under the cap.
            let open: Vec<usize> =
                (0..instances.len()).filter(|&k| st.per_day.get(&day_of(k)).copied().unwrap_or(0) < cap).collect();
            // Slot kinds in the order they are tried: fewest visits of this
            // inspector first, ties in random order.
            let mut kinds: Vec<usize> = (0..n_slots).filter(|&s| open.iter().any(|&k| instances[k].1 == s)).collect();
            shuffle(&mut rng, &mut kinds);
            kinds.sort_by_key(|&s| st.per_slot[s]); // stable: ties keep the shuffled order
            let mut placed = None;
            'kinds: for s in kinds {
                let mut of_kind: Vec<usize> = open.iter().copied().filter(|&k| instances[k].1 == s).collect();
                shuffle(&mut rng, &mut of_kind);
                for k in of_kind {
                    let day = day_of(k);
                    let eligible: Vec<usize> = (0..params.points.len())
                        .filter(|&p| {
                            let unit = &params.points[p].unit_id;
                            !insp.excluded_units.contains(unit)
                                && st.unit_days.get(unit).is_none_or(|ds| ds.iter().all(|&d| (d - day).abs() >= gap))
                        })
                        .collect();
                    if eligible.is_empty() {
                        continue;
                    }
                    let ds: Vec<usize> = {
                        let mut v: Vec<usize> = eligible.iter().map(|&p| district_of[p]).collect();
                        v.sort();
                        v.dedup();
                        v
                    };
                    let district = pick_least(&mut rng, &ds, |d| st.per_district[d]).expect("non-empty");
                    let in_district: Vec<usize> =
                        eligible.iter().copied().filter(|&p| district_of[p] == district).collect();
                    let p = pick_least(&mut rng, &in_district, |p| point_visits[p]).expect("non-empty");
                    placed = Some((k, p));
                    break 'kinds;
                }
            }
            let Some((k, p)) = placed else {
                states[i].exhausted = true;
                continue;
            };
            let (date, s) = instances[k];
            let day = day_of(k);
            let point = &params.points[p];
            let st = &mut states[i];
            *st.per_day.entry(day).or_insert(0) += 1;
            st.per_slot[s] += 1;
            st.per_district[district_of[p]] += 1;
            st.unit_days.entry(point.unit_id.clone()).or_default().push(day);
            point_visits[p] += 1;
            out.push(Drawn {
                index: out.len() as u32,
                inspector: insp.alias.clone(),
                point_id: point.id.clone(),
                unit_id: point.unit_id.clone(),
                date,
                slot: params.slots[s].name.clone(),
            });
            progress = true;
        }
        if !progress {
            return Err(DrawError::Infeasible { needed, possible: out.len() as u32, constraint: Constraint::Combined });
        }
    }
    Ok(out)
}

/// Checks every constraint on a draw's output, independently of how it was
/// computed; `Err` names the first violation.
pub fn check_constraints(params: &Params, drawn: &[Drawn]) -> Result<(), String> {
    let points: HashMap<&str, &DrawPoint> = params.points.iter().map(|p| (p.id.as_str(), p)).collect();
    let inspectors: HashMap<&str, &DrawInspector> = params.inspectors.iter().map(|i| (i.alias.as_str(), i)).collect();
    let instances: HashSet<(jiff::civil::Date, &str)> =
        params.slot_instances().into_iter().map(|(d, k)| (d, params.slots[k].name.as_str())).collect();
    if drawn.len() != params.visits as usize {
        return Err(format!("{} visits drawn, {} asked", drawn.len(), params.visits));
    }
    let mut per_day: HashMap<(&str, jiff::civil::Date), u32> = HashMap::new();
    let mut unit_days: HashMap<(&str, &str), Vec<jiff::civil::Date>> = HashMap::new();
    for v in drawn {
        let i = inspectors.get(v.inspector.as_str()).ok_or(format!("unknown inspector {}", v.inspector))?;
        let p = points.get(v.point_id.as_str()).ok_or(format!("unknown point {}", v.point_id))?;
        if p.unit_id != v.unit_id {
            return Err(format!("visit {}: unit {} is not the point's", v.index, v.unit_id));
        }
        if i.excluded_units.contains(&p.unit_id) {
            return Err(format!("visit {}: {} sent to excluded unit {}", v.index, v.inspector, p.unit_id));
        }
        if !instances.contains(&(v.date, v.slot.as_str())) {
            return Err(format!("visit {}: slot {} on {} is not in the period", v.index, v.slot, v.date));
        }
        let n = per_day.entry((&v.inspector, v.date)).or_insert(0);
        *n += 1;
        if *n > params.max_visits_per_inspector_per_day {
            return Err(format!(
                "{} has more than {} visits on {}",
                v.inspector, params.max_visits_per_inspector_per_day, v.date
            ));
        }
        let days = unit_days.entry((&v.inspector, &p.unit_id)).or_default();
        for d in days.iter() {
            if (v.date - *d).get_days().abs() < params.min_days_between_same_unit as i32 {
                return Err(format!("{} visits unit {} on {d} and {}", v.inspector, p.unit_id, v.date));
            }
        }
        days.push(v.date);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn params(inspectors: usize, units: usize, points: usize, days: i16, visits: u32) -> Params {
        let mut p = Params {
            algorithm: ALGORITHM.into(),
            from: jiff::civil::date(2026, 12, 1),
            to: jiff::civil::date(2026, 12, 1).checked_add(jiff::Span::new().days(days as i64 - 1)).unwrap(),
            timezone: "Asia/Shanghai".into(),
            inspectors: (0..inspectors)
                .map(|i| DrawInspector {
                    alias: format!("督查{:02}", i + 1),
                    excluded_units: vec![format!("U{:03}", i % units)],
                })
                .collect(),
            points: (0..points)
                .map(|p| DrawPoint {
                    id: format!("P{p:03}"),
                    unit_id: format!("U{:03}", p % units),
                    district: ["通川区", "达川区", "高新区"][p % 3].into(),
                })
                .collect(),
            visits,
            slots: default_slots(),
            min_days_between_same_unit: 7,
            max_visits_per_inspector_per_day: 2,
            lead_minutes: None,
        };
        p.normalize();
        p
    }

    #[test]
    fn the_same_seed_and_parameters_give_the_same_draw_and_another_seed_another() {
        let p = params(5, 10, 40, 14, 60);
        let a = compute(&[7; 32], &p).unwrap();
        assert_eq!(a, compute(&[7; 32], &p).unwrap());
        assert_ne!(a, compute(&[8; 32], &p).unwrap());
        check_constraints(&p, &a).unwrap();
    }

    #[test]
    fn the_rng_stream_is_chacha20_as_published() {
        // Pins the generator: if a dependency update changed the stream,
        // every revealed draw would stop verifying. First output of
        // ChaCha20 (20 rounds, zero nonce, stream 0) keyed with zeros,
        // RFC 7539 test vector block 0 words 0..1: 0xade0b876, 0x903df1a0.
        let mut rng = ChaCha20Rng::from_seed([0; 32]);
        assert_eq!(rng.next_u64(), 0x903df1a0_ade0b876);
    }

    #[test]
    fn the_commitment_changes_with_seed_and_any_parameter() {
        let p = params(3, 5, 10, 7, 10);
        let c = commitment(&[1; 32], &p);
        assert_ne!(c, commitment(&[2; 32], &p));
        let mut q = p.clone();
        q.visits += 1;
        assert_ne!(c, commitment(&[1; 32], &q));
        let mut q = p.clone();
        q.inspectors[0].excluded_units.clear();
        assert_ne!(c, commitment(&[1; 32], &q));
    }

    #[test]
    fn a_daily_cap_too_small_for_the_visits_is_reported_with_its_numbers() {
        // 3 inspectors × 10 days × 1 per day = 30 < 40.
        let mut p = params(3, 10, 30, 10, 40);
        p.max_visits_per_inspector_per_day = 1;
        let err = compute(&[0; 32], &p).unwrap_err();
        assert_eq!(
            err,
            DrawError::Infeasible { needed: 40, possible: 30, constraint: Constraint::DailyCap { cap: 1, days: 10 } },
            "{err}"
        );
        assert!(err.to_string().contains("40 visits are needed, at most 30 can be placed"), "{err}");
        assert!(err.to_string().contains("at most 1 visit(s) per inspector per day, on 10 day(s)"), "{err}");
        assert_eq!(
            err.zh(),
            "抽签无法满足约束：需要 40 次访问，约束下最多可安排 30 次（每名督查员每天最多 1 次，期间有 10 天可安排）"
        );
        assert_eq!(err.code(), anfang_core::error_code::ErrorCode::DrawInfeasible);
    }

    #[test]
    fn unit_spacing_too_tight_is_reported_not_relaxed() {
        // 2 units, each inspector excluded from one: one allowed unit, at
        // most 2 visits in 10 days with a 7-day gap; 2 inspectors → 4.
        let p = params(2, 2, 4, 10, 5);
        let err = compute(&[0; 32], &p).unwrap_err();
        match err {
            DrawError::Infeasible { needed: 5, possible: 4, constraint } => {
                assert_eq!(constraint, Constraint::Spacing { days: 7 });
                assert!(constraint.zh().contains("间隔 7 天"), "{constraint}")
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn bad_parameters_are_refused_with_what_to_fix() {
        type Spoil = Box<dyn Fn(&mut Params)>;
        let cases: Vec<(&str, Spoil)> = vec![
            ("ends", Box::new(|p| p.to = jiff::civil::date(2026, 11, 1))),
            ("visits", Box::new(|p| p.visits = 0)),
            ("time zone", Box::new(|p| p.timezone = "Mars/Olympus".into())),
            ("sorted by alias", Box::new(|p| p.inspectors.reverse())),
            ("min_days", Box::new(|p| p.min_days_between_same_unit = 0)),
            ("slot", Box::new(|p| p.slots[0].end = p.slots[0].start)),
        ];
        for (what, mutate) in cases {
            let mut p = params(3, 5, 10, 7, 10);
            mutate(&mut p);
            let err = compute(&[0; 32], &p).unwrap_err();
            assert!(matches!(err, DrawError::Invalid { .. }) && err.to_string().contains(what), "{what}: {err}");
            assert_eq!(err.code(), anfang_core::error_code::ErrorCode::DrawInvalid);
        }
    }
}
