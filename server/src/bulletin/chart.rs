//! Charts of card counts as SVG for the HTML bulletin: text is real text,
//! crisp on a phone and in print. The DOCX has native Word charts instead
//! ([`super::docx_chart`]).

use super::Bar;
use crate::html::esc;
use std::fmt::Write;

const RED_HEX: &str = "#c8102e";

/// The charts' viewBox width: about a phone's CSS width, so text drawn at
/// 13–14 units reads at that size on a 390-px screen; on a wider page the
/// SVG stops growing at `MAX_CSS_WIDTH`.
const WIDTH: f64 = 400.0;
const MAX_CSS_WIDTH: u32 = 640;

/// Red is solid, yellow hatched, green dotted: the cards stay apart in a
/// grey printout (offices print in black and white). Ids carry `prefix`,
/// one per chart, so two charts on a page do not share them.
fn defs(prefix: &str) -> String {
    format!(
        r##"<defs><pattern id="{prefix}-y" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffe27a"/><rect width="2.5" height="6" fill="#b88600"/></pattern><pattern id="{prefix}-g" patternUnits="userSpaceOnUse" width="5" height="5"><rect width="5" height="5" fill="#d8f0e0"/><circle cx="2.5" cy="2.5" r="1.3" fill="#1e6b41"/></pattern></defs>"##
    )
}

/// The three cards: (name, fill, outline, text colour on the fill).
fn cards(prefix: &str) -> [(&'static str, String, &'static str, &'static str); 3] {
    [
        ("红牌", RED_HEX.to_owned(), "#8a0b20", "#fff"),
        ("黄牌", format!("url(#{prefix}-y)"), "#b88600", "#000"),
        ("绿牌", format!("url(#{prefix}-g)"), "#1e6b41", "#000"),
    ]
}

fn open_svg(height: f64, label: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" style="max-width:{MAX_CSS_WIDTH}px" role="img" aria-label="{label}" font-family="'FangSong','仿宋','STFangsong',sans-serif">"#
    )
}

fn legend_svg(out: &mut String, prefix: &str, y: f64) {
    for (i, (name, fill, stroke, _)) in cards(prefix).iter().enumerate() {
        let lx = i as f64 * 72.0;
        let _ = write!(
            out,
            r#"<rect class="key" x="{lx}" y="{}" width="14" height="14" fill="{fill}" stroke="{stroke}"/><text x="{}" y="{y}" font-size="14">{name}</text>"#,
            y - 12.0,
            lx + 19.0
        );
    }
}

/// Stacked bars, one per unit: the name on its own line above a bar the
/// full width of the chart, so long unit names never shrink or wrap.
pub fn units_svg(bars: &[Bar]) -> String {
    let row = 46.0;
    let top = 30.0;
    let height = top + row * bars.len().max(1) as f64 + 4.0;
    let bar_w = WIDTH - 40.0;
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as f64;
    let mut s = open_svg(height, "各单位红黄绿牌数");
    s.push_str(&defs("u"));
    legend_svg(&mut s, "u", 16.0);
    if bars.is_empty() {
        let _ = write!(s, r##"<text x="0" y="{}" font-size="14" fill="#666">本期无记录</text>"##, top + 22.0);
    }
    for (i, b) in bars.iter().enumerate() {
        let y = top + i as f64 * row;
        let _ = write!(s, r#"<text x="0" y="{}" font-size="14">{}</text>"#, y + 16.0, esc(&b.label));
        let mut x = 0.0;
        for (n, (name, fill, stroke, ink)) in [b.red, b.yellow, b.green].into_iter().zip(cards("u")) {
            if n == 0 {
                continue;
            }
            let w = n as f64 / max * bar_w;
            let _ = write!(
                s,
                r#"<rect class="seg" x="{x:.1}" y="{}" width="{w:.1}" height="18" fill="{fill}" stroke="{stroke}" stroke-width="0.8"><title>{name} {n}</title></rect>"#,
                y + 22.0
            );
            if w >= 16.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{}" font-size="12" font-weight="bold" text-anchor="middle" fill="{ink}" paint-order="stroke" stroke="{halo}" stroke-width="{sw}">{n}</text>"#,
                    x + w / 2.0,
                    y + 36.0,
                    halo = if ink == "#000" { "#fff" } else { "none" },
                    sw = if ink == "#000" { 2.5 } else { 0.0 }
                );
            }
            x += w;
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="13">{}</text>"#,
            x + 5.0,
            y + 36.0,
            b.red + b.yellow + b.green
        );
    }
    s.push_str("</svg>");
    s
}

/// Stacked columns, one per day (or month), in a chart of fixed size
/// whatever the number of days; a single day is a sentence, not a column.
pub fn days_svg(bars: &[Bar]) -> String {
    if let [day] = bars {
        let mut s = open_svg(24.0, "当日红黄绿牌数");
        let _ = write!(
            s,
            r#"<text x="0" y="17" font-size="14">{}：红牌 {} 张，黄牌 {} 张，绿牌 {} 张</text></svg>"#,
            esc(&day.label),
            day.red,
            day.yellow,
            day.green
        );
        return s;
    }
    let n = bars.len().max(1) as f64;
    let left = 28.0;
    let plot_h = 150.0;
    let top = 30.0;
    let col = (WIDTH - left - 4.0) / n;
    let height = top + plot_h + 44.0;
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as f64;
    let mut s = open_svg(height, "每日红黄绿牌数");
    s.push_str(&defs("d"));
    legend_svg(&mut s, "d", 16.0);
    let base = top + plot_h;
    let _ = write!(s, r##"<line x1="{left}" y1="{base}" x2="{:.1}" y2="{base}" stroke="#333"/>"##, WIDTH - 2.0);
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>"#,
        left - 4.0,
        top + 10.0,
        max as u32
    );
    let _ = write!(s, r#"<text x="{}" y="{base}" font-size="12" text-anchor="end">0</text>"#, left - 4.0);
    // At most about twelve date labels across the chart.
    let label_every = ((n / 12.0).ceil() as usize).max(1);
    for (i, b) in bars.iter().enumerate() {
        let x = left + i as f64 * col;
        let mut y = base;
        for (v, (name, fill, stroke, _)) in [b.red, b.yellow, b.green].into_iter().zip(cards("d")) {
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * plot_h;
            y -= h;
            let _ = write!(
                s,
                r#"<rect class="seg" x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{fill}" stroke="{stroke}" stroke-width="0.6"><title>{} {name} {v}</title></rect>"#,
                x + col * 0.12,
                col * 0.76,
                esc(&b.label)
            );
        }
        if i % label_every == 0 {
            let (cx, ly) = (x + col / 2.0, base + 14.0);
            let _ = write!(
                s,
                r#"<text x="{cx:.1}" y="{ly}" font-size="12" text-anchor="end" transform="rotate(-40 {cx:.1} {ly})">{}</text>"#,
                esc(&b.label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Vec<Bar> {
        vec![
            Bar { label: "市城管局<&>".into(), red: 2, yellow: 3, green: 1 },
            Bar { label: "交警支队".into(), red: 0, yellow: 1, green: 4 },
        ]
    }

    #[test]
    fn svg_charts_escape_labels_and_draw_one_rect_per_nonzero_count() {
        let svg = units_svg(&bars());
        assert!(svg.contains("市城管局&lt;&amp;&gt;"), "{svg}");
        // 3 legend squares, and 3 + 2 bar segments.
        assert_eq!(svg.matches(r#"class="key""#).count(), 3);
        assert_eq!(svg.matches(r#"class="seg""#).count(), 5);
        let days = days_svg(&bars());
        assert!(days.starts_with("<svg") && days.ends_with("</svg>"));
        assert_eq!(days.matches(r#"class="seg""#).count(), 5);
    }

    #[test]
    fn charts_keep_one_size_whatever_the_number_of_days_and_one_day_is_a_sentence() {
        let view_box = |svg: &str| svg[svg.find("viewBox=").unwrap()..].split('"').nth(1).unwrap().to_owned();
        let day = |d: u32| Bar { label: format!("10-{d:02}"), red: d % 3, yellow: 1, green: d % 2 };
        let week: Vec<Bar> = (1..=7).map(day).collect();
        let month: Vec<Bar> = (1..=31).map(day).collect();
        assert_eq!(view_box(&days_svg(&week)), view_box(&days_svg(&month)));
        let one = days_svg(&[day(5)]);
        assert!(!one.contains("<rect") && one.contains("红牌 2 张，黄牌 1 张，绿牌 1 张"), "{one}");
        // Yellow and green are patterns (grey printouts), red is solid.
        let units = units_svg(&bars());
        assert!(units.contains(r#"fill="url(#u-y)""#) && units.contains(r#"fill="url(#u-g)""#));
        assert!(units.contains(&format!(r#"max-width:{MAX_CSS_WIDTH}px"#)));
    }
}
