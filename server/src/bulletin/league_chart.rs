//! The monthly league report's two charts, drawn from the result alone (so
//! an issued report redraws them from its frozen JSON): how the inspected
//! points' scores are spread, and which units moved most since last month.
//! SVG for the HTML report and the console; the DOCX draws the same data as
//! native Word charts ([`super::docx_chart::stacked`]).

use crate::app::league::LeagueResult;
use crate::html::esc;
use std::fmt::Write;

/// Score bands, lowest first, in tenths of a point: `[from, to)`.
const BANDS: [(i64, i64, &str); 6] = [
    (i64::MIN, 800, "80 分以下"),
    (800, 850, "80–84.9"),
    (850, 900, "85–89.9"),
    (900, 950, "90–94.9"),
    (950, 1000, "95–99.9"),
    (1000, i64::MAX, "100 分及以上"),
];

/// How many units the movement chart names at most (the largest rises and
/// falls, half each), so a city of 300 units still gets a readable chart.
pub const MOVERS: usize = 20;

/// The inspected points per score band, lowest band first. Points not
/// inspected this month (scored at the start value) are left out: they
/// would only pile up in one band and say nothing.
pub fn distribution(r: &LeagueResult) -> Vec<(String, i64)> {
    BANDS
        .iter()
        .map(|(from, to, label)| {
            let n = r.points.iter().filter(|p| p.inspected && p.score.0 >= *from && p.score.0 < *to).count();
            ((*label).to_owned(), n as i64)
        })
        .collect()
}

/// Units whose rank changed since last month, places gained (negative:
/// lost), largest rise first; at most [`MOVERS`]: the largest rises and the
/// largest falls, half each.
pub fn movement(r: &LeagueResult) -> Vec<(String, i64)> {
    let mut moved: Vec<(String, i64)> =
        r.units.iter().filter_map(|u| u.movement().filter(|m| *m != 0).map(|m| (u.unit_name.clone(), m))).collect();
    moved.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if moved.len() > MOVERS {
        let rises = moved.iter().filter(|m| m.1 > 0).count().min(MOVERS / 2);
        let falls = moved.iter().filter(|m| m.1 < 0).count().min(MOVERS - rises);
        let rises = (MOVERS - falls).min(moved.iter().filter(|m| m.1 > 0).count());
        let tail = moved.len() - falls;
        moved = moved[..rises].iter().chain(moved[tail..].iter()).cloned().collect();
    }
    moved
}

/// The charts' viewBox width, as the bulletin's (about a phone's width).
const WIDTH: f64 = 400.0;

fn open_svg(height: f64, label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" style="max-width:640px" role="img" aria-label="{label}" font-family="'FangSong','仿宋','STFangsong',sans-serif">"#
    )
}

/// Columns, one per score band, each with its count above it.
pub fn distribution_svg(bands: &[(String, i64)]) -> String {
    let (left, top, plot_h) = (4.0, 22.0, 140.0);
    let height = top + plot_h + 40.0;
    let max = bands.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let col = (WIDTH - left * 2.0) / bands.len().max(1) as f64;
    let base = top + plot_h;
    let mut s = open_svg(height, "受检点位得分分布");
    let _ = write!(s, r##"<line x1="{left}" y1="{base}" x2="{:.1}" y2="{base}" stroke="#333"/>"##, WIDTH - left);
    for (i, (label, n)) in bands.iter().enumerate() {
        let x = left + i as f64 * col;
        let h = *n as f64 / max * plot_h;
        if *n > 0 {
            let _ = write!(
                s,
                r##"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#5b7fa6" stroke="#2f4f74" stroke-width="0.6"><title>{} {n} 个</title></rect>"##,
                x + col * 0.15,
                base - h,
                col * 0.7,
                esc(label)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle">{n}</text>"#,
            x + col / 2.0,
            base - h - 4.0
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            x + col / 2.0,
            base + 16.0,
            esc(label)
        );
    }
    let _ = write!(s, r##"<text x="{left}" y="{:.1}" font-size="11" fill="#666">纵轴：点位数</text>"##, height - 4.0);
    s.push_str("</svg>");
    s
}

/// One row per unit: its name on its own line, a bar right of the middle
/// for places gained (solid green) or left of it for places lost (hatched
/// red, so a grey printout still tells them apart).
pub fn movement_svg(moved: &[(String, i64)]) -> String {
    let row = 38.0;
    let top = 6.0;
    if moved.is_empty() {
        let mut s = open_svg(24.0, "名次变化");
        s.push_str(r##"<text x="0" y="17" font-size="14" fill="#666">与上月相比，没有单位名次变化（或上月无排名）。</text></svg>"##);
        return s;
    }
    let height = top + row * moved.len() as f64 + 4.0;
    let mid = WIDTH / 2.0;
    let half = mid - 36.0;
    let max = moved.iter().map(|m| m.1.abs()).max().unwrap_or(1).max(1) as f64;
    let mut s = open_svg(height, "各单位名次变化");
    s.push_str(r##"<defs><pattern id="mv-d" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6c6cc"/><rect width="2.5" height="6" fill="#c8102e"/></pattern></defs>"##);
    let _ = write!(s, r##"<line x1="{mid}" y1="{top}" x2="{mid}" y2="{:.1}" stroke="#333"/>"##, height - 2.0);
    for (i, (name, m)) in moved.iter().enumerate() {
        let y = top + i as f64 * row;
        let w = m.abs() as f64 / max * half;
        let _ = write!(s, r#"<text x="0" y="{:.1}" font-size="13">{}</text>"#, y + 13.0, esc(name));
        let (x, fill, stroke, label, anchor, tx) = if *m > 0 {
            (mid, "#2e7d4f", "#1e6b41", format!("↑{m}"), "start", mid + w + 4.0)
        } else {
            (mid - w, "url(#mv-d)", "#8a0b20", format!("↓{}", -m), "end", mid - w - 4.0)
        };
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{w:.1}" height="14" fill="{fill}" stroke="{stroke}" stroke-width="0.6"><title>{} {label}</title></rect>"#,
            y + 18.0,
            esc(name)
        );
        let _ =
            write!(s, r#"<text x="{tx:.1}" y="{:.1}" font-size="12" text-anchor="{anchor}">{label}</text>"#, y + 30.0);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::league::{LeagueResult, PointLine, UnitLine};
    use crate::league::{RuleSet, Tenths};

    fn point(id: &str, score: i64, inspected: bool) -> PointLine {
        PointLine {
            point_id: id.into(),
            point_name: id.into(),
            point_kind: "道路".into(),
            unit_id: "U".into(),
            unit_name: "U".into(),
            chief: None,
            inspected,
            score: Tenths(score),
            rank: 1,
            previous_rank: None,
            lines: vec![],
        }
    }

    fn unit(name: &str, rank: usize, previous: Option<usize>) -> UnitLine {
        UnitLine {
            unit_id: name.into(),
            unit_name: name.into(),
            score: Tenths(1000),
            rank,
            inspected_points: 1,
            previous_rank: previous,
        }
    }

    fn result(points: Vec<PointLine>, units: Vec<UnitLine>) -> LeagueResult {
        LeagueResult {
            format: crate::app::league::FORMAT,
            month: "2026-11".into(),
            rule_version: 1,
            rules: RuleSet::default(),
            rule_text: String::new(),
            points,
            units,
            ten_worst: vec![],
            ten_best: vec![],
            consequences: vec![],
            point_kinds: vec![],
            chiefs: vec![],
        }
    }

    #[test]
    fn the_distribution_counts_inspected_points_per_band_at_the_band_edges() {
        let r = result(
            vec![
                point("a", 799, true),
                point("b", 800, true),
                point("c", 949, true),
                point("d", 950, true),
                point("e", 1000, true),
                point("f", 1040, true),
                point("g", 1000, false),
            ],
            vec![],
        );
        let got: Vec<i64> = distribution(&r).into_iter().map(|b| b.1).collect();
        assert_eq!(got, [1, 1, 0, 1, 1, 2], "the uninspected point is left out");
        let svg = distribution_svg(&distribution(&r));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 5, "no bar for an empty band");
    }

    #[test]
    fn movement_lists_the_largest_rises_then_the_largest_falls_and_leaves_out_the_unmoved() {
        let r = result(
            vec![],
            vec![unit("甲", 1, Some(3)), unit("乙", 2, Some(2)), unit("丙<&>", 3, Some(1)), unit("丁", 4, None)],
        );
        assert_eq!(movement(&r), [("甲".to_owned(), 2), ("丙<&>".to_owned(), -2)]);
        let svg = movement_svg(&movement(&r));
        assert!(svg.contains("丙&lt;&amp;&gt;") && svg.contains("↑2") && svg.contains("↓2"), "{svg}");
        // Thirty units each moved: ten rises and ten falls are named.
        let many: Vec<UnitLine> = (1..=30).map(|i| unit(&format!("U{i:02}"), i, Some(31 - i))).collect();
        let m = movement(&result(vec![], many));
        assert_eq!(m.len(), MOVERS);
        assert_eq!(m.iter().filter(|x| x.1 > 0).count(), 10);
        assert_eq!(m[0], ("U01".to_owned(), 29));
        assert_eq!(m[MOVERS - 1], ("U30".to_owned(), -29));
    }
}
