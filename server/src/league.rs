//! The monthly point league (点位达标月评排名): every point's score for a
//! month by the office's rule set, the rankings built from it, and the
//! consequences each rank band brings (奖惩逐月兑现).
//!
//! Pure and reproducible: the same facts and the same rules give the same
//! numbers, so a month recomputed from the evidence matches its issued
//! report. Scores are kept in tenths of a point (integers), so a rule like
//! "half the deduction when fixed on time" never meets a rounding question.
//!
//! The default rules follow the practice of a sub-district's scheme: start
//! at 100, lose 2 per problem found by the city and 1 per problem found by
//! the district, half of that if the case closed on time, the same problem
//! found again is deducted again, 2 per overdue case, and 2 back per clean
//! inspection.

use anfang_core::Card;
use std::collections::BTreeMap;

/// Who found a problem: the city office's own inspectors weigh more than a
/// district's or a third party's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    City,
    District,
    ThirdParty,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::City, Source::District, Source::ThirdParty];

    /// As stored (`inspectors.source`, `findings.source`) and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::City => "city",
            Source::District => "district",
            Source::ThirdParty => "third_party",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Source::City => "市级督查",
            Source::District => "区级督查",
            Source::ThirdParty => "第三方",
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a source; use city, district or third_party"))
    }
}

/// Tenths of a point: `Tenths(20)` is 2.0 points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Tenths(pub i64);

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sign, v) = if self.0 < 0 { ("-", -self.0) } else { ("", self.0) };
        if v % 10 == 0 { write!(f, "{sign}{}", v / 10) } else { write!(f, "{sign}{}.{}", v / 10, v % 10) }
    }
}

/// The office's scoring rules, versioned: a month is scored with the
/// version in force for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleSet {
    pub version: u32,
    pub start: Tenths,
    /// Deduction per accepted red or yellow finding, by who found it.
    /// In JSON a list of `{"source", "card", "tenths"}` (JSON keys are strings).
    #[serde(with = "deduction_list")]
    pub deduction: BTreeMap<(Source, CardKind), Tenths>,
    /// Share of the deduction kept when the finding's case closed on time,
    /// in percent (50: half).
    pub on_time_percent: u32,
    pub per_overdue_case: Tenths,
    pub per_clean_inspection: Tenths,
    /// Consequences by rank from the bottom and the top.
    pub bands: Vec<Band>,
}

/// The deduction table as a JSON list: a missing entry stays missing (and
/// `validate` names it) rather than defaulting to nothing deducted.
mod deduction_list {
    use super::{CardKind, Source, Tenths};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        source: Source,
        card: CardKind,
        tenths: Tenths,
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<(Source, CardKind), Tenths>, s: S) -> Result<S::Ok, S::Error> {
        let v: Vec<Entry> = m.iter().map(|(&(source, card), &tenths)| Entry { source, card, tenths }).collect();
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<(Source, CardKind), Tenths>, D::Error> {
        let v = Vec::<Entry>::deserialize(d)?;
        let mut m = BTreeMap::new();
        for e in v {
            if m.insert((e.source, e.card), e.tenths).is_some() {
                return Err(serde::de::Error::custom(format!("{:?} {:?} is listed twice", e.source, e.card)));
            }
        }
        Ok(m)
    }
}

/// Cards that deduct (green is "meets the standard").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    Red,
    Yellow,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Band {
    pub applies: BandRule,
    /// What the unit receives ("黄牌警告", "约谈", "通报表扬").
    pub consequence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BandRule {
    /// The `n` lowest-ranked units (1: the last).
    Bottom { n: usize },
    /// The last place this month and in each of the `months - 1` months before.
    BottomInARow { months: usize },
    /// The `n` highest-ranked units.
    Top { n: usize },
}

impl Default for RuleSet {
    fn default() -> Self {
        let mut deduction = BTreeMap::new();
        for (source, red, yellow) in [(Source::City, 20, 20), (Source::District, 10, 10), (Source::ThirdParty, 10, 10)]
        {
            deduction.insert((source, CardKind::Red), Tenths(red));
            deduction.insert((source, CardKind::Yellow), Tenths(yellow));
        }
        RuleSet {
            version: 1,
            start: Tenths(1000),
            deduction,
            on_time_percent: 50,
            per_overdue_case: Tenths(20),
            per_clean_inspection: Tenths(20),
            bands: vec![
                Band { applies: BandRule::BottomInARow { months: 3 }, consequence: "红牌警告并约谈".into() },
                Band { applies: BandRule::Bottom { n: 1 }, consequence: "黄牌警告".into() },
                Band { applies: BandRule::Top { n: 1 }, consequence: "通报表扬".into() },
            ],
        }
    }
}

/// Why a rule set cannot be used; nothing is saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{what} is negative; deductions and bonuses are written as positive numbers")]
    Negative { what: String },
    #[error("the on-time share is {0}%; use 0 to 100")]
    OnTimeShare(u32),
    #[error("no deduction is set for {finder:?} {card:?}")]
    MissingDeduction { finder: Source, card: CardKind },
    #[error("band {index} applies to no unit (n or months is 0)")]
    EmptyBand { index: usize },
    #[error("band {index} has no consequence text")]
    NoConsequence { index: usize },
}

impl RuleError {
    /// The reason in Chinese, for the console.
    pub fn zh(&self) -> String {
        let source = |s: &Source| match s {
            Source::City => "市级督查",
            Source::District => "区级督查",
            Source::ThirdParty => "第三方",
        };
        let card = |c: &CardKind| match c {
            CardKind::Red => "红牌",
            CardKind::Yellow => "黄牌",
        };
        match self {
            RuleError::Negative { .. } => "扣分、加分和基础分须为非负数（扣分写为正数）".into(),
            RuleError::OnTimeShare(p) => format!("按期整改扣分比例为 {p}%，须在 0 至 100 之间"),
            RuleError::MissingDeduction { finder, card: c } => {
                format!("未设置{}发现{}的扣分", source(finder), card(c))
            }
            RuleError::EmptyBand { index } => {
                format!("第 {} 个奖惩档次不适用于任何单位（名次数或月数为 0）", index + 1)
            }
            RuleError::NoConsequence { index } => format!("第 {} 个奖惩档次没有写明奖惩措施", index + 1),
        }
    }
}

impl RuleSet {
    pub fn validate(&self) -> Result<(), RuleError> {
        let negative =
            |what: &str, t: Tenths| if t.0 < 0 { Err(RuleError::Negative { what: what.into() }) } else { Ok(()) };
        negative("the starting score", self.start)?;
        negative("the deduction per overdue case", self.per_overdue_case)?;
        negative("the bonus per clean inspection", self.per_clean_inspection)?;
        for source in [Source::City, Source::District, Source::ThirdParty] {
            for card in [CardKind::Red, CardKind::Yellow] {
                let d =
                    self.deduction.get(&(source, card)).ok_or(RuleError::MissingDeduction { finder: source, card })?;
                negative(&format!("the deduction for {source:?} {card:?}"), *d)?;
            }
        }
        if self.on_time_percent > 100 {
            return Err(RuleError::OnTimeShare(self.on_time_percent));
        }
        for (index, band) in self.bands.iter().enumerate() {
            let empty = match band.applies {
                BandRule::Bottom { n } | BandRule::Top { n } => n == 0,
                BandRule::BottomInARow { months } => months == 0,
            };
            if empty {
                return Err(RuleError::EmptyBand { index });
            }
            if band.consequence.trim().is_empty() {
                return Err(RuleError::NoConsequence { index });
            }
        }
        Ok(())
    }

    /// The rules as printed with the results.
    pub fn text_zh(&self) -> String {
        let d = |s, c| self.deduction.get(&(s, c)).copied().unwrap_or_default();
        format!(
            "每个点位月初基础分 {}；市级督查发现红牌每个扣 {}、黄牌每个扣 {}，区级发现红牌每个扣 {}、黄牌每个扣 {}，第三方发现红牌每个扣 {}、黄牌每个扣 {}；按期整改的问题按 {}% 扣分；同一问题再次发现再次扣分；每个逾期未整改问题扣 {}；每次检查达标加 {}。（第 {} 版）",
            self.start,
            d(Source::City, CardKind::Red),
            d(Source::City, CardKind::Yellow),
            d(Source::District, CardKind::Red),
            d(Source::District, CardKind::Yellow),
            d(Source::ThirdParty, CardKind::Red),
            d(Source::ThirdParty, CardKind::Yellow),
            self.on_time_percent,
            self.per_overdue_case,
            self.per_clean_inspection,
            self.version
        )
    }
}

/// One accepted finding at a point in the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeagueFinding {
    pub card: Card,
    pub source: Source,
    pub category: String,
    /// Its case closed by the deadline (only red and yellow have cases).
    pub closed_on_time: bool,
}

/// What the month holds for one point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointMonth {
    pub point_id: String,
    pub point_kind: String,
    pub unit_id: String,
    /// 点长, where the office names one.
    pub chief: Option<String>,
    pub findings: Vec<LeagueFinding>,
    /// Cases of this point that were overdue at the month's end.
    pub overdue_cases: u32,
    /// Inspections of the point in the month that found nothing wrong.
    pub clean_inspections: u32,
}

impl PointMonth {
    /// Inspected at all this month (a finding of any card, or a clean visit).
    pub fn inspected(&self) -> bool {
        !self.findings.is_empty() || self.clean_inspections > 0
    }
}

/// A point's score with the lines that make it up, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointScore {
    pub point_id: String,
    pub score: Tenths,
    pub lines: Vec<(String, Tenths)>,
}

pub fn score_point(rules: &RuleSet, pm: &PointMonth) -> PointScore {
    let mut lines = Vec::new();
    let mut score = rules.start.0;
    for f in &pm.findings {
        let kind = match f.card {
            Card::Red => CardKind::Red,
            Card::Yellow => CardKind::Yellow,
            Card::Green => continue,
        };
        let full = rules.deduction.get(&(f.source, kind)).copied().unwrap_or_default().0;
        // Integer tenths: half of 1.5 (15) is 0.7 (7), never 0.75; the
        // unit loses the rounding, not the rule.
        let d = if f.closed_on_time { full * i64::from(rules.on_time_percent) / 100 } else { full };
        let what = format!(
            "{}{}（{}）{}",
            match f.source {
                Source::City => "市级发现",
                Source::District => "区级发现",
                Source::ThirdParty => "第三方发现",
            },
            f.card.label_zh(),
            f.category,
            if f.closed_on_time { "，按期整改" } else { "" }
        );
        lines.push((what, Tenths(-d)));
        score -= d;
    }
    if pm.overdue_cases > 0 {
        let d = rules.per_overdue_case.0 * i64::from(pm.overdue_cases);
        lines.push((format!("逾期未整改 {} 个", pm.overdue_cases), Tenths(-d)));
        score -= d;
    }
    if pm.clean_inspections > 0 {
        let b = rules.per_clean_inspection.0 * i64::from(pm.clean_inspections);
        lines.push((format!("检查达标 {} 次", pm.clean_inspections), Tenths(b)));
        score += b;
    }
    PointScore { point_id: pm.point_id.clone(), score: Tenths(score), lines }
}

/// A ranked row: rank 1 is the best; ties share a rank (1, 2, 2, 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked<K> {
    pub key: K,
    pub score: Tenths,
    pub rank: usize,
}

/// Ranks by score, best first; equal scores share a rank, and are listed
/// by key so the order never depends on the input's.
pub fn rank<K: Ord + Clone>(scores: impl IntoIterator<Item = (K, Tenths)>) -> Vec<Ranked<K>> {
    let mut v: Vec<(K, Tenths)> = scores.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<Ranked<K>> = Vec::with_capacity(v.len());
    for (i, (key, score)) in v.into_iter().enumerate() {
        let rank = match out.last() {
            Some(prev) if prev.score == score => prev.rank,
            _ => i + 1,
        };
        out.push(Ranked { key, score, rank });
    }
    out
}

/// A unit's score: the mean of its inspected points' scores, so one bad
/// point among fifty weighs one fiftieth; a unit none of whose points was
/// inspected this month is not ranked.
pub fn unit_scores(points: &[(PointMonth, PointScore)]) -> BTreeMap<String, Tenths> {
    group_scores(points, |pm| Some(pm.unit_id.as_str()))
}

/// A group's score, for any grouping of points (unit, point type, 点长):
/// the mean of the group's inspected points' scores, rounded half away
/// from zero to a tenth; `key` answering `None` leaves a point out (a
/// point with no 点长 is in no 点长's group), and a group none of whose
/// points was inspected is not ranked.
pub fn group_scores<'a>(
    points: &'a [(PointMonth, PointScore)],
    key: impl Fn(&'a PointMonth) -> Option<&'a str>,
) -> BTreeMap<String, Tenths> {
    let mut sums: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (pm, s) in points {
        if !pm.inspected() {
            continue;
        }
        let Some(k) = key(pm) else { continue };
        let e = sums.entry(k).or_default();
        e.0 += s.score.0;
        e.1 += 1;
    }
    sums.into_iter()
        .map(|(k, (sum, n))| {
            let mean = (2 * sum + n * sum.signum()) / (2 * n);
            (k.to_owned(), Tenths(mean))
        })
        .collect()
}

/// The consequences of a month's unit ranking. `history` holds, for each
/// earlier month (most recent first), the units that ranked last then.
pub fn consequences(rules: &RuleSet, ranking: &[Ranked<String>], history: &[Vec<String>]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let worst_rank = ranking.last().map(|r| r.rank);
    let given = |out: &Vec<(String, String)>, unit: &str| out.iter().any(|(u, _)| u == unit);
    for band in &rules.bands {
        let hit: Vec<&Ranked<String>> = match band.applies {
            // Ranks, not positions: two units tied for last are both last.
            BandRule::Bottom { n } => {
                ranking.iter().filter(|r| ranking.iter().filter(|o| o.rank > r.rank).count() < n).collect()
            }
            BandRule::Top { n } => ranking.iter().filter(|r| r.rank <= n).collect(),
            BandRule::BottomInARow { months } => ranking
                .iter()
                .filter(|r| Some(r.rank) == worst_rank)
                .filter(|r| history.len() + 1 >= months && history.iter().take(months - 1).all(|m| m.contains(&r.key)))
                .collect(),
        };
        // A unit gets the first band that applies to it, in the order the
        // office listed them (three times last outranks last).
        for r in hit {
            if !given(&out, &r.key) {
                out.push((r.key.clone(), band.consequence.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(card: Card, source: Source, category: &str, on_time: bool) -> LeagueFinding {
        LeagueFinding { card, source, category: category.into(), closed_on_time: on_time }
    }

    fn point(id: &str, unit: &str, findings: Vec<LeagueFinding>, overdue: u32, clean: u32) -> PointMonth {
        PointMonth {
            point_id: id.into(),
            point_kind: "道路".into(),
            unit_id: unit.into(),
            chief: None,
            findings,
            overdue_cases: overdue,
            clean_inspections: clean,
        }
    }

    /// A hand-computed month of a small city: five points of three units.
    fn month() -> Vec<PointMonth> {
        vec![
            // 100 − 2 (city red, late) − 1 (city yellow, on time: half of 2) − 2 (overdue) = 95
            point(
                "P1",
                "U1",
                vec![
                    finding(Card::Red, Source::City, "乱停乱放", false),
                    finding(Card::Yellow, Source::City, "乱扔垃圾", true),
                ],
                1,
                0,
            ),
            // The same problem found twice is deducted twice: 100 − 1 − 1 + 2 (one clean visit) = 100
            point(
                "P2",
                "U1",
                vec![
                    finding(Card::Yellow, Source::District, "占道经营", false),
                    finding(Card::Yellow, Source::District, "占道经营", false),
                ],
                0,
                1,
            ),
            // Clean twice: 100 + 4 = 104
            point("P3", "U2", vec![finding(Card::Green, Source::City, "乱停乱放", false)], 0, 2),
            // 100 − 2 − 2 − 2 − 2×2 (two overdue) = 90
            point(
                "P4",
                "U3",
                vec![
                    finding(Card::Red, Source::City, "乱停乱放", false),
                    finding(Card::Red, Source::City, "乱停乱放", false),
                    finding(Card::Yellow, Source::City, "乱扔垃圾", false),
                ],
                2,
                0,
            ),
            // Not inspected this month: scored 100 but not counted in its unit's mean.
            point("P5", "U3", vec![], 0, 0),
        ]
    }

    #[test]
    fn a_hand_computed_month_scores_ranks_and_consequences() {
        let rules = RuleSet::default();
        rules.validate().unwrap();
        let scored: Vec<(PointMonth, PointScore)> =
            month().into_iter().map(|pm| (pm.clone(), score_point(&rules, &pm))).collect();
        let points: Vec<(String, Tenths)> = scored.iter().map(|(_, s)| (s.point_id.clone(), s.score)).collect();
        assert_eq!(
            points,
            [("P1", 950), ("P2", 1000), ("P3", 1040), ("P4", 900), ("P5", 1000)]
                .map(|(p, t)| (p.to_owned(), Tenths(t)))
                .to_vec()
        );
        let ranked = rank(points);
        let order: Vec<(&str, usize)> = ranked.iter().map(|r| (r.key.as_str(), r.rank)).collect();
        assert_eq!(order, [("P3", 1), ("P2", 2), ("P5", 2), ("P1", 4), ("P4", 5)]);

        // U1: (95 + 100) / 2 = 97.5; U2: 104; U3: 90 (P5 not inspected).
        let units = unit_scores(&scored);
        assert_eq!(units.get("U1"), Some(&Tenths(975)));
        assert_eq!(units.get("U2"), Some(&Tenths(1040)));
        assert_eq!(units.get("U3"), Some(&Tenths(900)));
        let unit_rank = rank(units);
        assert_eq!(unit_rank.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["U2", "U1", "U3"]);

        // U3 last this month and the two before: red card and interview, not just yellow.
        let history = vec![vec!["U3".to_owned()], vec!["U3".to_owned(), "U1".to_owned()]];
        let got = consequences(&rules, &unit_rank, &history);
        assert_eq!(got, [("U3".to_owned(), "红牌警告并约谈".to_owned()), ("U2".to_owned(), "通报表扬".to_owned())]);
        // Last only once before: a yellow card.
        let got = consequences(&rules, &unit_rank, &[vec!["U3".to_owned()]]);
        assert_eq!(got[0], ("U3".to_owned(), "黄牌警告".to_owned()));
    }

    #[test]
    fn point_types_and_point_chiefs_are_ranked_by_the_mean_of_their_inspected_points() {
        let rules = RuleSet::default();
        let mut points = month();
        // P1 (95) and P4 (90) are markets; P1 and P3 (104) are 张三's, P2
        // (100) is 李四's; P4 and P5 have no 点长; P5 is not inspected.
        for (i, kind, chief) in
            [(0, "农贸市场", Some("张三")), (1, "道路", Some("李四")), (2, "道路", Some("张三")), (3, "农贸市场", None)]
        {
            points[i].point_kind = kind.into();
            points[i].chief = chief.map(Into::into);
        }
        points[4].chief = Some("李四".into());
        let scored: Vec<(PointMonth, PointScore)> = points
            .into_iter()
            .map(|pm| {
                let s = score_point(&rules, &pm);
                (pm, s)
            })
            .collect();
        // 农贸市场: (95 + 90) / 2 = 92.5; 道路: (100 + 104) / 2 = 102 (P5 not inspected).
        let kinds = group_scores(&scored, |pm| Some(pm.point_kind.as_str()));
        assert_eq!(kinds, BTreeMap::from([("农贸市场".to_owned(), Tenths(925)), ("道路".to_owned(), Tenths(1020))]));
        // 张三: (95 + 104) / 2 = 99.5; 李四: 100 (P5 not inspected); P4 has none.
        let chiefs = group_scores(&scored, |pm| pm.chief.as_deref());
        assert_eq!(chiefs, BTreeMap::from([("张三".to_owned(), Tenths(995)), ("李四".to_owned(), Tenths(1000))]));
        let ranked = rank(chiefs);
        assert_eq!(ranked.iter().map(|r| (r.key.as_str(), r.rank)).collect::<Vec<_>>(), [("李四", 1), ("张三", 2)]);
    }

    #[test]
    fn the_score_lines_add_up_and_are_printed_in_chinese() {
        let rules = RuleSet::default();
        let s = score_point(&rules, &month()[0]);
        assert_eq!(rules.start.0 + s.lines.iter().map(|l| l.1.0).sum::<i64>(), s.score.0);
        assert_eq!(s.lines[1], ("市级发现黄牌（乱扔垃圾），按期整改".to_owned(), Tenths(-10)));
        assert_eq!(Tenths(975).to_string(), "97.5");
        assert_eq!(Tenths(-20).to_string(), "-2");
        assert!(rules.text_zh().contains("按期整改的问题按 50% 扣分"), "{}", rules.text_zh());
    }

    #[test]
    fn ties_for_last_all_take_the_last_band() {
        let rules = RuleSet::default();
        let ranked =
            rank([("A".to_owned(), Tenths(1000)), ("B".to_owned(), Tenths(900)), ("C".to_owned(), Tenths(900))]);
        let got = consequences(&rules, &ranked, &[]);
        assert_eq!(
            got,
            [
                ("B".to_owned(), "黄牌警告".to_owned()),
                ("C".to_owned(), "黄牌警告".to_owned()),
                ("A".to_owned(), "通报表扬".to_owned())
            ]
        );
    }

    #[test]
    fn a_rule_set_with_a_negative_weight_or_an_empty_band_is_refused() {
        let rules = RuleSet { per_overdue_case: Tenths(-20), ..RuleSet::default() };
        assert!(matches!(rules.validate(), Err(RuleError::Negative { .. })));
        let mut rules = RuleSet::default();
        rules.deduction.remove(&(Source::District, CardKind::Red));
        assert_eq!(
            rules.validate(),
            Err(RuleError::MissingDeduction { finder: Source::District, card: CardKind::Red })
        );
        let mut rules = RuleSet::default();
        rules.bands.push(Band { applies: BandRule::Bottom { n: 0 }, consequence: "x".into() });
        assert_eq!(rules.validate(), Err(RuleError::EmptyBand { index: 3 }));
        let rules = RuleSet { on_time_percent: 150, ..RuleSet::default() };
        assert_eq!(rules.validate(), Err(RuleError::OnTimeShare(150)));
    }

    #[test]
    fn a_rule_set_round_trips_through_json_and_a_missing_deduction_stays_missing() {
        let rules = RuleSet::default();
        let text = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<RuleSet>(&text).unwrap(), rules);
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["deduction"].as_array_mut().unwrap().remove(0);
        let short: RuleSet = serde_json::from_value(v).unwrap();
        assert!(matches!(short.validate(), Err(RuleError::MissingDeduction { .. })));
    }
}
