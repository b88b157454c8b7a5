//! Charts of card counts: SVG for the HTML bulletin (text is real text,
//! crisp on a phone and in print) and PNG for the DOCX, where SVG support
//! is poor.
//!
//! The PNGs are drawn pixel by pixel with a built-in digit font rather than
//! through a font rasteriser: that keeps CJK fonts and a text-layout stack
//! out of the server. So PNG bars are labelled by number, and the DOCX
//! prints the legend (number → unit) as a table beside the chart.

use super::Bar;
use std::fmt::Write;

pub const RED: [u8; 3] = [0xc8, 0x10, 0x2e];
pub const YELLOW: [u8; 3] = [0xe6, 0xa7, 0x00];
pub const GREEN: [u8; 3] = [0x2e, 0x8b, 0x57];
const RED_HEX: &str = "#c8102e";
const YELLOW_HEX: &str = "#e6a700";
const GREEN_HEX: &str = "#2e8b57";

fn esc(s: &str) -> String {
    crate::html::esc(s)
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

// A 3×5 pixel font for the characters chart labels need.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        _ => return None,
    })
}

struct Canvas {
    img: image::RgbImage,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Canvas { img: image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255])) }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        let (iw, ih) = (self.img.width() as i64, self.img.height() as i64);
        for yy in y.max(0)..(y + h).min(ih) {
            for xx in x.max(0)..(x + w).min(iw) {
                self.img.put_pixel(xx as u32, yy as u32, image::Rgb(color));
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y); returns the width.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, color: [u8; 3]) -> i64 {
        let mut cx = x;
        for c in text.chars() {
            if let Some(g) = glyph(c) {
                for (row, bits) in g.iter().enumerate() {
                    for col in 0..3 {
                        if bits & (0b100 >> col) != 0 {
                            self.rect(cx + col * scale, y + row as i64 * scale, scale, scale, color);
                        }
                    }
                }
            }
            cx += 4 * scale;
        }
        cx - x
    }

    fn text_width(text: &str, scale: i64) -> i64 {
        text.chars().count() as i64 * 4 * scale
    }

    fn png(self) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        self.img.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG into memory cannot fail");
        out.into_inner()
    }
}

const INK: [u8; 3] = [0x33, 0x33, 0x33];

/// The per-unit chart as a PNG (width, height, bytes); bar i is labelled
/// i + 1, matching the legend table printed with it.
pub fn units_png(bars: &[Bar]) -> (u32, u32, Vec<u8>) {
    let scale = 3;
    let row = 40i64;
    let (label_w, bar_w) = (90i64, 900i64);
    let w = label_w + bar_w + 140;
    let h = 20 + row * bars.len().max(1) as i64 + 10;
    let mut c = Canvas::new(w as u32, h as u32);
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as i64;
    c.rect(label_w - 2, 10, 2, h - 20, INK);
    for (i, b) in bars.iter().enumerate() {
        let y = 20 + i as i64 * row;
        let label = (i + 1).to_string();
        c.text(label_w - 14 - Canvas::text_width(&label, scale), y + 5, &label, scale, INK);
        let mut x = label_w;
        for (n, color) in [(b.red, RED), (b.yellow, YELLOW), (b.green, GREEN)] {
            let bw = n as i64 * bar_w / max;
            c.rect(x, y, bw, row - 12, color);
            x += bw;
        }
        c.text(x + 10, y + 5, &(b.red + b.yellow + b.green).to_string(), scale, INK);
    }
    (w as u32, h as u32, c.png())
}

/// The per-day chart as a PNG (width, height, bytes), days labelled by number.
pub fn days_png(bars: &[Bar]) -> (u32, u32, Vec<u8>) {
    let scale = 2;
    let n = bars.len().max(1) as i64;
    let col = (1000 / n).clamp(10, 80);
    let plot_h = 300i64;
    let (left, top) = (60i64, 20i64);
    let w = left + col * n + 20;
    let h = top + plot_h + 40;
    let mut c = Canvas::new(w as u32, h as u32);
    let max = bars.iter().map(|b| b.red + b.yellow + b.green).max().unwrap_or(0).max(1) as i64;
    let base = top + plot_h;
    c.rect(left - 2, base, w - left - 10, 2, INK);
    c.rect(left - 2, top, 2, plot_h, INK);
    let top_label = max.to_string();
    c.text(left - 10 - Canvas::text_width(&top_label, scale), top, &top_label, scale, INK);
    let every = ((n as f64 / 16.0).ceil() as usize).max(1);
    for (i, b) in bars.iter().enumerate() {
        let x = left + i as i64 * col;
        let mut y = base;
        for (v, color) in [(b.red, RED), (b.yellow, YELLOW), (b.green, GREEN)] {
            let bh = v as i64 * plot_h / max;
            y -= bh;
            c.rect(x + 2, y, col - 4, bh, color);
        }
        if i % every == 0 {
            // "11-03" → "3"; "2026-03" → "3": the day (or month) number.
            let label = b.label.rsplit('-').next().unwrap_or("").trim_start_matches('0').to_string();
            let tw = Canvas::text_width(&label, scale);
            c.text(x + col / 2 - tw / 2, base + 10, &label, scale, INK);
        }
    }
    (w as u32, h as u32, c.png())
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

    #[test]
    fn png_charts_decode_with_the_stated_size() {
        for (w, h, png) in [units_png(&bars()), days_png(&bars()), units_png(&[])] {
            let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
            assert_eq!((img.width(), img.height()), (w, h));
        }
    }
}
