//! Charts of card counts as SVG for the HTML bulletin: text is real text,
//! crisp on a phone and in print. The DOCX has native Word charts instead
//! ([`super::docx_chart`]).

use super::Bar;
use std::fmt::Write;

const RED_HEX: &str = "#c8102e";
const YELLOW_HEX: &str = "#e6a700";
const GREEN_HEX: &str = "#2e8b57";

fn esc(s: &str) -> String {
    super::html::esc(s)
}

fn legend_svg(out: &mut String, x: f64, y: f64) {
    for (i, (color, label)) in [(RED_HEX, "红牌"), (YELLOW_HEX, "黄牌"), (GREEN_HEX, "绿牌")].iter().enumerate() {
        let lx = x + i as f64 * 64.0;
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}" font-size="12">{label}</text>"#,
            y - 10.0,
            lx + 16.0,
            y
        );
    }
}

/// Horizontal stacked bars, one per unit, names on the left.
pub fn units_svg(bars: &[Bar]) -> String {
    let row = 24.0;
    let label_w = 200.0;
    let bar_w = 340.0;
    let width = label_w + bar_w + 50.0;
    let height = 36.0 + row * bars.len().max(1) as f64 + 8.0;
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="各单位红黄绿牌数" font-family="sans-serif">"#
    );
    legend_svg(&mut s, label_w, 18.0);
    if bars.is_empty() {
        let _ = write!(s, r##"<text x="{label_w}" y="52" font-size="13" fill="#666">本期无记录</text>"##);
    }
    for (i, b) in bars.iter().enumerate() {
        let y = 32.0 + i as f64 * row;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="13" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 15.0,
            esc(&b.label)
        );
        let mut x = label_w;
        for (n, color) in [(b.red, RED_HEX), (b.yellow, YELLOW_HEX), (b.green, GREEN_HEX)] {
            if n == 0 {
                continue;
            }
            let w = n as f64 / max * bar_w;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="18" fill="{color}"><title>{n}</title></rect>"#,
                y + 2.0
            );
            x += w;
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="12">{}</text>"#,
            x + 4.0,
            y + 15.0,
            b.red + b.yellow + b.green
        );
    }
    s.push_str("</svg>");
    s
}

/// Vertical stacked bars, one per day (or month).
pub fn days_svg(bars: &[Bar]) -> String {
    let n = bars.len().max(1) as f64;
    let plot_h = 160.0;
    let col = (560.0 / n).clamp(6.0, 48.0);
    let width = 40.0 + col * n + 10.0;
    let height = 30.0 + plot_h + 46.0;
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0} {height}" width="100%" role="img" aria-label="每日红黄绿牌数" font-family="sans-serif">"#
    );
    legend_svg(&mut s, 40.0, 16.0);
    let base = 30.0 + plot_h;
    let _ = write!(s, r##"<line x1="38" y1="{base}" x2="{:.1}" y2="{base}" stroke="#333"/>"##, width - 8.0);
    let _ = write!(s, r#"<text x="34" y="{}" font-size="11" text-anchor="end">{}</text>"#, 30.0 + 10.0, max as u32);
    let label_every = ((n / 16.0).ceil() as usize).max(1);
    for (i, b) in bars.iter().enumerate() {
        let x = 40.0 + i as f64 * col;
        let mut y = base;
        for (v, color) in [(b.red, RED_HEX), (b.yellow, YELLOW_HEX), (b.green, GREEN_HEX)] {
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * plot_h;
            y -= h;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{} {v}</title></rect>"#,
                x + 1.0,
                col - 2.0,
                esc(&b.label)
            );
        }
        if i % label_every == 0 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" font-size="10" text-anchor="end" transform="rotate(-45 {:.1} {})">{}</text>"#,
                x + col / 2.0,
                base + 12.0,
                x + col / 2.0,
                base + 12.0,
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
        // 3 legend squares + 3 + 2 bar segments.
        assert_eq!(svg.matches("<rect").count(), 3 + 5);
        let days = days_svg(&bars());
        assert!(days.starts_with("<svg") && days.ends_with("</svg>"));
    }
}
