//! The bulletin as a Word document, in the spirit of GB/T 9704 (official
//! document layout): red masthead and red rule, number, issuing body and
//! date; title; 仿宋 body at 三号 (16 pt) with exact 28 pt lines; 黑体 and
//! 楷体 headings; "— 1 —" page numbers in the footer; A4 with the standard's
//! margins (37/26/35/28 mm); the distribution list (版记) between rules.
//!
//! Hand-written OOXML in a zip: a handful of parts, no template file, no
//! heavy dependency. Photos are embedded as JPEG thumbnails (deduplicated by
//! hash); charts are native Word charts (see [`super::docx_chart`]).
//!
//! Fonts are named by their Chinese names with `altName` fallbacks in the
//! font table (仿宋 → FangSong, STFangsong …), so Word on Windows, WPS and
//! LibreOffice each find a 仿宋-style face or substitute sensibly.

use super::docx_chart::{self, ChartPart, Direction};
use super::html::cn_number;
use super::{Bar, Bulletin, CountRow, OverdueEntry, RateRow, change_zh, percent, score_text};
use crate::app::review::Decision;
use crate::html::esc;
use anfang_core::Card;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

const W_NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture""#;
/// Page text width in twips: A4 (11906) less 28 mm and 26 mm margins.
const TEXT_TWIPS: i64 = 11906 - 1588 - 1474;
const EMU_PER_CM: i64 = 360_000;
const RED: &str = "C8102E";

const BODY_FONT: &str = "仿宋";
const HEI: &str = "黑体";
const KAI: &str = "楷体";
const SONG: &str = "宋体";
/// Masthead and title, per GB/T 9704: 方正小标宋 where installed (most
/// government PCs with WPS have it), else the font table's fallback 宋体.
const XIAOBIAOSONG: &str = "方正小标宋简体";

/// Width and height of a JPEG, from its frame header.
pub fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    if bytes.get(0..2)? != [0xff, 0xd8] {
        return None;
    }
    while i + 9 < bytes.len() {
        if bytes[i] != 0xff {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xff {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker) {
            let h = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]) as u32;
            let w = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]) as u32;
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

struct Doc {
    body: String,
    media: Vec<(String, Vec<u8>)>,
    /// (relationship id, target)
    rels: Vec<(String, String)>,
    by_sha: HashMap<String, String>,
    next_pic: u32,
    /// Native charts, in order: `word/charts/chart{n}.xml`, relationship `rIdChart{n}`.
    charts: Vec<ChartPart>,
}

fn run(text: &str, font: &str, half_points: u32, bold: bool, color: Option<&str>) -> String {
    let mut s =
        format!(r#"<w:r><w:rPr><w:rFonts w:ascii="{font}" w:hAnsi="{font}" w:eastAsia="{font}" w:cs="{font}"/>"#);
    if bold {
        s.push_str("<w:b/>");
    }
    if let Some(c) = color {
        let _ = write!(s, r#"<w:color w:val="{c}"/>"#);
    }
    let _ = write!(
        s,
        r#"<w:sz w:val="{half_points}"/><w:szCs w:val="{half_points}"/></w:rPr><w:t xml:space="preserve">{}</w:t></w:r>"#,
        esc(text)
    );
    s
}

impl Doc {
    fn new() -> Self {
        Doc {
            body: String::with_capacity(256 * 1024),
            media: Vec::new(),
            rels: Vec::new(),
            by_sha: HashMap::new(),
            next_pic: 1,
            charts: Vec::new(),
        }
    }

    /// A paragraph: `ppr` is raw paragraph properties, `runs` raw runs.
    fn p(&mut self, ppr: &str, runs: &str) {
        let _ = write!(self.body, "<w:p><w:pPr>{ppr}</w:pPr>{runs}</w:p>");
    }

    /// A body paragraph: 仿宋 三号, first line indented two characters.
    fn text(&mut self, text: &str) {
        let r = run(text, BODY_FONT, 32, false, None);
        self.p(r#"<w:spacing w:line="560" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="640"/><w:jc w:val="both"/>"#, &r);
    }

    /// A body paragraph that introduces what follows (a chart): kept on its page.
    fn lead_in(&mut self, text: &str) {
        let r = run(text, BODY_FONT, 32, false, None);
        self.p(r#"<w:keepNext/><w:spacing w:line="560" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="640"/><w:jc w:val="both"/>"#, &r);
    }

    /// A note under a table: 仿宋 小四, no indent, tighter lines.
    fn note(&mut self, text: &str) {
        let r = run(text, BODY_FONT, 24, false, None);
        self.p(r#"<w:spacing w:line="400" w:lineRule="exact"/><w:jc w:val="both"/>"#, &r);
    }

    fn h1(&mut self, text: &str) {
        let r = run(text, HEI, 32, false, None);
        self.p(r#"<w:keepNext/><w:spacing w:before="120" w:line="560" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="640"/>"#, &r);
    }

    fn h2(&mut self, text: &str) {
        let r = run(text, KAI, 32, false, None);
        self.p(r#"<w:keepNext/><w:spacing w:line="560" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="640"/>"#, &r);
    }

    fn image_rel(&mut self, key: &str, name: &str, bytes: Vec<u8>) -> String {
        if let Some(rid) = self.by_sha.get(key) {
            return rid.clone();
        }
        let rid = format!("rIdImg{}", self.media.len() + 1);
        self.rels.push((rid.clone(), format!("media/{name}")));
        self.media.push((name.to_owned(), bytes));
        self.by_sha.insert(key.to_owned(), rid.clone());
        rid
    }

    /// An inline picture run of the given size in EMU.
    fn picture(&mut self, rid: &str, cx: i64, cy: i64, descr: &str) -> String {
        let id = self.next_pic;
        self.next_pic += 1;
        format!(
            r#"<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="{cx}" cy="{cy}"/><wp:docPr id="{id}" name="图 {id}" descr="{d}"/><wp:cNvGraphicFramePr><a:graphicFrameLocks noChangeAspect="1"/></wp:cNvGraphicFramePr><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="{id}" name="图 {id}" descr="{d}"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="{rid}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"#,
            d = esc(descr)
        )
    }

    /// A stored photo's thumbnail as an inline picture run `width_cm` wide,
    /// its height from the JPEG's proportions; embedded once per SHA-256.
    fn photo(&mut self, sha: &str, jpeg: &[u8], width_cm: f64, descr: &str) -> String {
        let (w, h) = jpeg_size(jpeg).unwrap_or((4, 3));
        let rid = self.image_rel(sha, &format!("photo-{}.jpg", &sha[..16]), jpeg.to_vec());
        let cx = (width_cm * EMU_PER_CM as f64) as i64;
        let cy = cx * h as i64 / w.max(1) as i64;
        self.picture(&rid, cx, cy, descr)
    }

    /// A table with a header row; `widths` in twips; cells are plain text.
    fn table(&mut self, widths: &[i64], head: &[&str], rows: &[Vec<String>]) {
        let cell = |text: &str, w: i64, header: bool| {
            let shade = if header { r#"<w:shd w:val="clear" w:color="auto" w:fill="F0F0F0"/>"# } else { "" };
            format!(
                r#"<w:tc><w:tcPr><w:tcW w:w="{w}" w:type="dxa"/>{shade}</w:tcPr><w:p><w:pPr><w:spacing w:before="0" w:after="0" w:line="300" w:lineRule="auto"/></w:pPr>{}</w:p></w:tc>"#,
                run(text, if header { HEI } else { BODY_FONT }, 21, false, None)
            )
        };
        let total: i64 = widths.iter().sum();
        let _ = write!(
            self.body,
            r#"<w:tbl><w:tblPr><w:tblW w:w="{total}" w:type="dxa"/><w:jc w:val="center"/><w:tblBorders><w:top w:val="single" w:sz="4" w:color="808080"/><w:left w:val="single" w:sz="4" w:color="808080"/><w:bottom w:val="single" w:sz="4" w:color="808080"/><w:right w:val="single" w:sz="4" w:color="808080"/><w:insideH w:val="single" w:sz="4" w:color="808080"/><w:insideV w:val="single" w:sz="4" w:color="808080"/></w:tblBorders><w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="60" w:type="dxa"/><w:right w:w="60" w:type="dxa"/></w:tblCellMar></w:tblPr><w:tblGrid>"#
        );
        for w in widths {
            let _ = write!(self.body, r#"<w:gridCol w:w="{w}"/>"#);
        }
        self.body.push_str(r#"</w:tblGrid><w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>"#);
        for (h, w) in head.iter().zip(widths) {
            self.body.push_str(&cell(h, *w, true));
        }
        self.body.push_str("</w:tr>");
        for r in rows {
            self.body.push_str("<w:tr><w:trPr><w:cantSplit/></w:trPr>");
            for (t, w) in r.iter().zip(widths) {
                self.body.push_str(&cell(t, *w, false));
            }
            self.body.push_str("</w:tr>");
        }
        self.body.push_str("</w:tbl>");
        // Word needs a paragraph between consecutive tables.
        self.p(r#"<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>"#, "");
    }

    /// A native stacked-bar chart of card counts, centred, of a fixed size
    /// for its kind (see [`docx_chart::height_cm`]).
    fn card_chart(
        &mut self,
        category_head: &str,
        bars: &[Bar],
        direction: Direction,
        descr: &str,
    ) -> Result<(), zip::result::ZipError> {
        let part = docx_chart::stacked_cards(category_head, bars, direction)?;
        self.chart(part, direction, bars.len(), descr);
        Ok(())
    }

    /// Places a native chart of `n` categories, centred, of a fixed size
    /// for its kind (see [`docx_chart::height_cm`]).
    fn chart(&mut self, part: ChartPart, direction: Direction, n: usize, descr: &str) {
        let width_cm = 15.0;
        let cx = (width_cm * EMU_PER_CM as f64) as i64;
        let cy = (docx_chart::height_cm(direction, n, width_cm) * EMU_PER_CM as f64) as i64;
        self.charts.push(part);
        let n = self.charts.len();
        let id = self.next_pic;
        self.next_pic += 1;
        let drawing = format!(
            r#"<w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="{cx}" cy="{cy}"/><wp:effectExtent l="0" t="0" r="0" b="0"/><wp:docPr id="{id}" name="图表 {n}" descr="{d}"/><wp:cNvGraphicFramePr/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart"><c:chart xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" r:id="rIdChart{n}"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>"#,
            d = esc(descr)
        );
        // Auto line height: the body's exact 28 pt lines would clip the chart.
        self.p(r#"<w:keepNext/><w:jc w:val="center"/><w:spacing w:before="120" w:after="60" w:line="240" w:lineRule="auto"/>"#, &drawing);
    }
}

fn count_rows(rows: &[CountRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.red.to_string(),
                r.yellow.to_string(),
                r.green.to_string(),
                r.total.to_string(),
                r.previous_total.to_string(),
                change_zh(r.total, r.previous_total),
            ]
        })
        .collect()
}

fn rate_rows(rows: &[RateRow], points: bool, scored: bool) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut v = vec![r.rank.to_string(), r.name.clone()];
            if points {
                v.push(r.unit_name.clone().unwrap_or_default());
                v.push(r.leader.clone().unwrap_or_default());
            }
            v.extend([
                r.visits.to_string(),
                r.green.to_string(),
                r.yellow.to_string(),
                r.red.to_string(),
                if r.visits > 0 { percent(r.rate) } else { "—".into() },
            ]);
            if scored {
                v.extend([on_time_text(r.on_time, r.due), rate_or_dash(r.rectification_rate), score_text(r.score)]);
            }
            v
        })
        .collect()
}

fn on_time_text(on_time: u32, due: u32) -> String {
    if due == 0 { "—".into() } else { format!("{on_time}/{due}") }
}

fn rate_or_dash(rate: Option<f64>) -> String {
    rate.map(percent).unwrap_or_else(|| "—".into())
}

/// The overdue list's rows, with or without the unit column.
fn overdue_rows(rows: &[OverdueEntry], with_unit: bool) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut v = Vec::with_capacity(9);
            if with_unit {
                v.push(r.unit_name.clone());
            }
            v.extend([
                r.point_name.clone(),
                r.category_name.clone(),
                r.card.label_zh().into(),
                if r.deferred { format!("{}（挂账）", r.deadline) } else { r.deadline.to_string() },
                r.days_overdue.to_string(),
                r.rework_count.to_string(),
                (if r.supervised { "是" } else { "否" }).into(),
                r.case_ref.clone(),
            ]);
            v
        })
        .collect()
}

const OVERDUE_HEAD: [&str; 8] = ["点位", "问题类别", "牌色", "整改期限", "逾期天数", "返工次数", "督办", "整改单编号"];
/// Wide enough that a date and a 12-character case reference stay on one
/// line in a 10.5 pt substitute font; the whole list puts the unit's column
/// in front of narrower point and date columns.
const OVERDUE_WIDTHS: [i64; 8] = [1500, 1200, 600, 1500, 800, 800, 600, 1844];

/// 整改前后对比: a two-column table per case, before and after, with the
/// case's line above (kept with it) and the close below. Picture
/// paragraphs need auto line spacing: the document's exact 28-pt lines
/// would clip them to a strip.
fn before_after(d: &mut Doc, pairs: &[super::rectification::BeforeAfter], thumbnails: &HashMap<String, Vec<u8>>) {
    d.h2("整改前后对比");
    d.note(&format!("本期销号的整改单（红牌在前，最多 {} 件）：", super::rectification::MAX_BEFORE_AFTER));
    let half = TEXT_TWIPS / 2;
    let photo_cm = 7.0;
    for (i, c) in pairs.iter().enumerate() {
        let head = format!("{}. {} {} · {} · {}", i + 1, c.card.label_zh(), c.unit_name, c.point_name, c.category_name);
        d.p(
            r#"<w:keepNext/><w:spacing w:before="120" w:after="60" w:line="360" w:lineRule="exact"/>"#,
            &run(&head, HEI, 24, false, None),
        );
        let mut cell = |sha: &Option<String>, what: &str| -> String {
            let pic = match sha.as_ref().and_then(|s| thumbnails.get(s).map(|t| (s, t))) {
                Some((sha, bytes)) => d.photo(sha, bytes, photo_cm, &format!("{what} {}", c.point_name)),
                None if sha.is_some() => run("照片缺失，请凭编号核查", BODY_FONT, 21, false, None),
                None => run("无照片", BODY_FONT, 21, false, None),
            };
            format!(
                r#"<w:tc><w:tcPr><w:tcW w:w="{half}" w:type="dxa"/></w:tcPr><w:p><w:pPr><w:keepNext/><w:spacing w:before="60" w:after="0" w:line="240" w:lineRule="auto"/><w:jc w:val="center"/></w:pPr>{pic}</w:p><w:p><w:pPr><w:spacing w:before="0" w:after="60" w:line="300" w:lineRule="auto"/><w:jc w:val="center"/></w:pPr>{}</w:p></w:tc>"#,
                run(what, BODY_FONT, 21, false, None)
            )
        };
        let before = cell(&c.before_photo, "整改前");
        let after_label =
            format!("整改后（{} {}）", c.closed_on, if c.rechecked { "复查通过" } else { "凭反馈材料销号" });
        let after = cell(&c.after_photo, &after_label);
        let _ = write!(
            d.body,
            r#"<w:tbl><w:tblPr><w:tblW w:w="{TEXT_TWIPS}" w:type="dxa"/><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid><w:gridCol w:w="{half}"/><w:gridCol w:w="{half}"/></w:tblGrid><w:tr><w:trPr><w:cantSplit/></w:trPr>{before}{after}</w:tr></w:tbl>"#
        );
        d.note(&format!("整改单编号 {}", c.case_ref));
    }
}

/// Renders the bulletin as DOCX bytes. `thumbnails` maps photo SHA-256 to
/// JPEG bytes; photos missing from it are named as missing in the text.
pub fn render(b: &Bulletin, thumbnails: &HashMap<String, Vec<u8>>) -> Result<Vec<u8>, zip::result::ZipError> {
    let body = &b.body;
    let s = &body.summary;
    let mut d = Doc::new();

    // 1. Masthead: name, number, issuing body and date, red rule.
    d.p(
        r#"<w:jc w:val="center"/><w:spacing w:before="0" w:after="120"/>"#,
        &run("督查通报", XIAOBIAOSONG, 96, true, Some(RED)),
    );
    let number = b.number_text();
    let mut num_runs = run(&number, BODY_FONT, 32, false, None);
    if b.header.status != "issued" {
        num_runs.push_str(&run("（草稿）", BODY_FONT, 32, false, Some(RED)));
    }
    d.p(r#"<w:jc w:val="center"/><w:spacing w:after="120"/>"#, &num_runs);
    let meta = format!(
        r#"{}<w:r><w:tab/></w:r>{}"#,
        run(&b.header.issuing_body, BODY_FONT, 32, false, None),
        run(&super::period::date_zh(b.header.date), BODY_FONT, 32, false, None)
    );
    d.p(
        &format!(
            r#"<w:tabs><w:tab w:val="right" w:pos="{TEXT_TWIPS}"/></w:tabs><w:pBdr><w:bottom w:val="single" w:sz="24" w:space="6" w:color="{RED}"/></w:pBdr><w:spacing w:after="480"/>"#
        ),
        &meta,
    );
    // Title: 二号 bold.
    d.p(
        r#"<w:jc w:val="center"/><w:spacing w:before="240" w:after="360" w:line="640" w:lineRule="exact"/>"#,
        &run(&b.title, XIAOBIAOSONG, 44, false, None),
    );
    for p in b.lead.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        d.text(p);
    }

    // 2. Summary.
    let mut section = 0;
    let mut next = || {
        section += 1;
        cn_number(section)
    };
    d.h1(&format!("{}、总体情况", next()));
    d.text(&body.summary_sentence());
    let prev_head = "上期";
    let count_widths = [2844, 900, 900, 900, 900, 1000, 1400];
    d.h2("（一）按问题类别");
    d.table(
        &count_widths,
        &["问题类别", "红牌", "黄牌", "绿牌", "合计", prev_head, "较上期"],
        &count_rows(&s.by_category),
    );
    d.h2("（二）按区域");
    d.table(&count_widths, &["区域", "红牌", "黄牌", "绿牌", "合计", prev_head, "较上期"], &count_rows(&s.by_district));
    d.h2("（三）各单位红黄绿牌");
    if body.charts.per_unit.is_empty() {
        d.text("本期未发现问题。");
    } else {
        d.card_chart("责任单位", &body.charts.per_unit, Direction::Bar, "各单位红黄绿牌数")?;
    }
    // One day is one bar: a sentence says it better than a chart.
    match body.charts.per_day.as_slice() {
        [] => {}
        [day] => {
            d.h2("（四）当日红黄绿牌");
            d.text(&format!("本期红牌{}张、黄牌{}张、绿牌{}张。", day.red, day.yellow, day.green));
        }
        days => {
            d.h2("（四）每日红黄绿牌");
            d.card_chart("日期", days, Direction::Column, "每日红黄绿牌数")?;
        }
    }

    // 3. Per unit: one two-column table per unit, photo left, facts right.
    d.h1(&format!("{}、各责任单位问题清单", next()));
    if body.units.is_empty() {
        d.text("本期未发现问题。");
    }
    let photo_cm = 5.0;
    let (photo_col, facts_col) = (3000i64, TEXT_TWIPS - 3000);
    for (i, u) in body.units.iter().enumerate() {
        if u.visits == 0 {
            d.h2(&format!("（{}）{}（本期未受检查）", cn_number(i + 1), u.unit_name));
        } else {
            d.h2(&format!(
                "（{}）{}（红牌 {}、黄牌 {}，检查 {} 次，达标 {} 次）",
                cn_number(i + 1),
                u.unit_name,
                u.red,
                u.yellow,
                u.visits,
                u.green
            ));
        }
        let cases = |d: &mut Doc| {
            if let Some(c) = &u.cases {
                d.text(&c.sentence());
                if !c.overdue.is_empty() {
                    d.table(&OVERDUE_WIDTHS, &OVERDUE_HEAD, &overdue_rows(&c.overdue, false));
                }
            }
        };
        // A table needs a row: a unit here only for its earlier cases has none.
        if u.findings.is_empty() {
            d.text("本期未发现新问题。");
            cases(&mut d);
            continue;
        }
        let _ = write!(
            d.body,
            r#"<w:tbl><w:tblPr><w:tblW w:w="{TEXT_TWIPS}" w:type="dxa"/><w:tblBorders><w:insideH w:val="single" w:sz="4" w:color="BBBBBB"/><w:top w:val="single" w:sz="4" w:color="BBBBBB"/><w:bottom w:val="single" w:sz="4" w:color="BBBBBB"/></w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid><w:gridCol w:w="{photo_col}"/><w:gridCol w:w="{facts_col}"/></w:tblGrid>"#
        );
        for (j, e) in u.findings.iter().enumerate() {
            let photo_par = match e.photo.as_ref().and_then(|sha| thumbnails.get(sha).map(|t| (sha, t))) {
                Some((sha, bytes)) => d.photo(sha, bytes, photo_cm, &format!("现场照片 {}", e.point_name)),
                None if e.photo.is_some() => run("照片缺失，请凭证据编号核查", BODY_FONT, 21, false, None),
                None if e.photo_count > 0 => run("照片未嵌入，凭证据编号在系统中查看", BODY_FONT, 21, false, None),
                None => run("无照片", BODY_FONT, 21, false, None),
            };
            let small = r#"<w:spacing w:before="0" w:after="0" w:line="360" w:lineRule="exact"/>"#;
            let mut facts = String::new();
            let line = |label: &str, value: &str| {
                format!(
                    "<w:p><w:pPr>{small}</w:pPr>{}{}</w:p>",
                    run(label, HEI, 24, false, None),
                    run(value, BODY_FONT, 24, false, None)
                )
            };
            let card_color = match e.card {
                Card::Red => RED,
                Card::Yellow => "B07800",
                Card::Green => "2E8B57",
            };
            let _ = write!(
                facts,
                "<w:p><w:pPr>{small}</w:pPr>{}{}{}</w:p>",
                run(&format!("{}. ", j + 1), HEI, 24, false, None),
                run(e.card.label_zh(), HEI, 24, true, Some(card_color)),
                run(&format!("  {}", e.category_name), HEI, 24, false, None)
            );
            facts.push_str(&line(
                "点位：",
                &format!(
                    "{}（{}{}）",
                    e.point_name,
                    e.point_kind,
                    e.district.as_deref().map(|x| format!("，{x}")).unwrap_or_default()
                ),
            ));
            facts.push_str(&line("时间：", &e.observed_at));
            if let Some(n) = &e.note {
                facts.push_str(&line("问题：", n));
            }
            facts.push_str(&line("整改期限：", &e.deadline.map(|d| format!("{d} 前")).unwrap_or_else(|| "—".into())));
            let _ = write!(
                facts,
                "<w:p><w:pPr>{small}</w:pPr>{}</w:p>",
                run(
                    &format!(
                        "证据编号 {} · 内容哈希 {}{}",
                        e.evidence_id,
                        e.short_hash,
                        if e.decision == Decision::Correct { " · 经审核更正" } else { "" }
                    ),
                    "Consolas",
                    16,
                    false,
                    Some("666666")
                )
            );
            let _ = write!(
                d.body,
                r#"<w:tr><w:trPr><w:cantSplit/></w:trPr><w:tc><w:tcPr><w:tcW w:w="{photo_col}" w:type="dxa"/></w:tcPr><w:p><w:pPr><w:spacing w:before="60" w:after="60" w:line="240" w:lineRule="auto"/></w:pPr>{photo_par}</w:p></w:tc><w:tc><w:tcPr><w:tcW w:w="{facts_col}" w:type="dxa"/></w:tcPr>{facts}</w:tc></w:tr>"#
            );
        }
        d.body.push_str("</w:tbl>");
        d.p("", "");
        cases(&mut d);
    }
    if body.photos_not_embedded > 0 {
        d.text(&format!("另有 {} 条问题的照片未嵌入本通报，可凭证据编号在系统中查看。", body.photos_not_embedded));
    }

    // 4. Red cards.
    d.h1(&format!("{}、红牌问题（曝光台候选）", next()));
    if body.red_list.is_empty() {
        d.text("本期无红牌问题。");
    } else {
        let rows: Vec<Vec<String>> = body
            .red_list
            .iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    (i + 1).to_string(),
                    r.unit_name.clone(),
                    r.point_name.clone(),
                    r.category_name.clone(),
                    r.observed_at.clone(),
                    r.deadline.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                    r.short_hash.clone(),
                ]
            })
            .collect();
        d.table(
            &[600, 2000, 1700, 1200, 1300, 1044, 1000],
            &["序号", "责任单位", "点位", "问题类别", "时间", "整改期限", "内容哈希"],
            &rows,
        );
    }

    // 5. Overdue.
    d.h1(&format!("{}、逾期未整改问题", next()));
    match (&body.rectification, body.overdue.is_empty()) {
        (Some(r), true) => d.text(&format!("截至{}，无逾期未整改问题。", r.as_of_label)),
        (Some(r), false) => d.text(&format!(
            "截至{}，逾期未整改问题 {} 个，按逾期天数从多到少排列：",
            r.as_of_label,
            body.overdue.len()
        )),
        (None, true) => d.text("截至本期，无逾期未整改问题。"),
        (None, false) => {}
    }
    if !body.overdue.is_empty() {
        let mut head = vec!["责任单位"];
        head.extend(OVERDUE_HEAD);
        d.table(&[1300, 1000, 1000, 600, 1400, 600, 600, 500, 1844], &head, &overdue_rows(&body.overdue, true));
    }

    // 6. Rectification.
    if let Some(r) = &body.rectification {
        d.h1(&format!("{}、整改情况", next()));
        d.text(&r.sentence());
        d.table(
            &[1105, 1105, 1105, 1106, 1106, 1106, 1105, 1106],
            &["本期到期", "按期整改", "逾期整改", "已反馈待复查", "尚未整改", "退回改派", "延期", "挂账"],
            &[[r.due, r.on_time, r.late, r.awaiting_recheck, r.open, r.reassigned, r.extended, r.deferred]
                .map(|n| n.to_string())
                .to_vec()],
        );
        let with = |rate: Option<f64>, n: u32, of: u32| {
            if of == 0 { rate_or_dash(rate) } else { format!("{}（{n}/{of}）", rate_or_dash(rate)) }
        };
        d.table(
            &[2948, 2948, 2948],
            &["按期整改率", "返工率", "平均整改用时"],
            &[vec![
                with(r.on_time_rate, r.on_time, r.due),
                with(r.rework_rate, r.rechecks_failed, r.rechecks),
                r.mean_days_to_close.map(|m| format!("{m:.1} 天（{} 件）", r.closed)).unwrap_or_else(|| "—".into()),
            ]],
        );
        d.note("说明：");
        for (i, n) in r.notes.iter().enumerate() {
            d.note(&format!("{}. {n}", i + 1));
        }
        if !body.before_after.is_empty() {
            before_after(&mut d, &body.before_after, thumbnails);
        }
    }

    // 7. Rankings.
    d.h1(&format!("{}、达标率排名", next()));
    d.text(&body.rankings.rule);
    match &body.rankings.unit_rule {
        Some(rule) => {
            d.h2("（一）责任单位综合得分");
            d.text(rule);
        }
        None => d.h2("（一）责任单位达标率"),
    }
    let scored = body.rankings.units.iter().any(|r| r.score.is_some());
    if scored {
        d.table(
            &[600, 1744, 700, 600, 600, 600, 1000, 900, 1100, 1000],
            &["名次", "责任单位", "检查次数", "绿牌", "黄牌", "红牌", "达标率", "按期整改", "按期整改率", "综合得分"],
            &rate_rows(&body.rankings.units, false, true),
        );
    } else {
        d.table(
            &[800, 3244, 1000, 900, 900, 900, 1100],
            &["名次", "责任单位", "检查次数", "绿牌", "黄牌", "红牌", "达标率"],
            &rate_rows(&body.rankings.units, false, false),
        );
    }
    d.h2("（二）点位达标率");
    d.table(
        &[700, 1800, 2000, 944, 800, 600, 600, 600, 800],
        &["名次", "点位", "责任单位", "点长", "检查次数", "绿牌", "黄牌", "红牌", "达标率"],
        &rate_rows(&body.rankings.points, true, false),
    );
    if let Some(w) = &body.rankings.worst_units {
        d.h2("（三）本月“十差单位”");
        d.text(&format!("评分办法：{}", w.formula));
        if w.rows.is_empty() {
            d.text("本月无扣分单位。");
        } else {
            let rows: Vec<Vec<String>> = w
                .rows
                .iter()
                .map(|r| {
                    let mut v = vec![
                        r.rank.to_string(),
                        r.unit_name.clone(),
                        r.red.to_string(),
                        r.yellow.to_string(),
                        r.visits.to_string(),
                        if r.visits > 0 { percent(r.rate) } else { "—".into() },
                        r.deduction.to_string(),
                    ];
                    if w.by_score {
                        v.extend([on_time_text(r.on_time, r.due), score_text(r.score)]);
                    }
                    v
                })
                .collect();
            if w.by_score {
                d.table(
                    &[600, 2744, 600, 600, 800, 900, 700, 900, 1000],
                    &["名次", "责任单位", "红牌", "黄牌", "检查次数", "达标率", "扣分", "按期整改", "综合得分"],
                    &rows,
                );
            } else {
                d.table(
                    &[800, 3244, 900, 900, 1000, 1000, 1000],
                    &["名次", "责任单位", "红牌", "黄牌", "检查次数", "达标率", "扣分"],
                    &rows,
                );
            }
        }
    }

    // 7. Closing, then the 版记: distribution and compiler between rules.
    for p in b.closing.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        d.text(p);
    }
    d.text(&format!(
        "每条问题的证据编号与内容哈希可在系统中核验：同一编号的记录，其内容哈希（SHA-256）前 {} 位应与本通报一致。",
        super::SHORT_HASH
    ));
    if let Some(chain) = b.chain_sentence() {
        d.text(&chain);
    }
    let rule = |side: &str| format!(r#"<w:{side} w:val="single" w:sz="8" w:space="4" w:color="000000"/>"#);
    d.p(
        &format!(r#"<w:keepNext/><w:pBdr>{}{}</w:pBdr><w:spacing w:before="600" w:line="440" w:lineRule="exact"/><w:ind w:left="840" w:hanging="840"/>"#, rule("top"), rule("bottom")),
        &run(&format!("送：{}", b.distribution), BODY_FONT, 28, false, None),
    );
    let compiler = format!(
        r#"{}<w:r><w:tab/></w:r>{}"#,
        run(&format!("{}编印", b.compiler), BODY_FONT, 28, false, None),
        run(&format!("{}印发", super::period::date_zh(b.header.date)), BODY_FONT, 28, false, None)
    );
    d.p(
        &format!(r#"<w:tabs><w:tab w:val="right" w:pos="{TEXT_TWIPS}"/></w:tabs><w:pBdr>{}</w:pBdr><w:spacing w:line="440" w:lineRule="exact"/>"#, rule("bottom")),
        &compiler,
    );

    d.section_end();
    package(&d, &format!("{} {}", b.number_text(), b.title), &b.compiler, b.body.compiled_at)
}

impl Doc {
    /// The A4 section with the GB/T 9704 margins and the page-number footer.
    fn section_end(&mut self) {
        let _ = write!(
            self.body,
            r#"<w:sectPr><w:footerReference w:type="default" r:id="rIdFooter"/><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="1134" w:gutter="0"/></w:sectPr>"#
        );
    }
}

/// Places gained since last month, as the report's tables print it.
fn moved_zh(movement: Option<i64>) -> String {
    match movement {
        None => "新上榜".to_owned(),
        Some(0) => "持平".to_owned(),
        Some(n) if n > 0 => format!("上升 {n}"),
        Some(n) => format!("下降 {}", -n),
    }
}

/// An issued league month as its report prints it.
pub struct LeagueIssue<'a> {
    pub hash: &'a str,
    pub day: jiff::civil::Date,
    /// None for a month issued before reports were numbered.
    pub number: Option<&'a str>,
}

/// The monthly league report in the bulletins' official layout: the red
/// masthead with its number, the title, the rule text, the consequences,
/// the ten worst and best units, the charts (native Word charts), every
/// unit, point type, 点长 and point.
pub fn league(
    r: &crate::app::league::LeagueResult,
    issuing_body: &str,
    issued: Option<LeagueIssue<'_>>,
    created: jiff::Timestamp,
) -> Result<Vec<u8>, zip::result::ZipError> {
    use super::league_chart;
    let mut d = Doc::new();
    d.p(
        r#"<w:jc w:val="center"/><w:spacing w:before="0" w:after="120"/>"#,
        &run("月评排名通报", XIAOBIAOSONG, 96, true, Some(RED)),
    );
    match issued.as_ref().and_then(|i| i.number) {
        Some(n) => d.p(r#"<w:jc w:val="center"/><w:spacing w:after="120"/>"#, &run(n, BODY_FONT, 32, false, None)),
        None if issued.is_none() => d.p(
            r#"<w:jc w:val="center"/><w:spacing w:after="120"/>"#,
            &run("（未发布，未编号）", BODY_FONT, 32, false, Some(RED)),
        ),
        None => {}
    }
    let date = issued.as_ref().map(|i| super::period::date_zh(i.day)).unwrap_or_else(|| "（未发布）".to_owned());
    let meta = format!(
        r#"{}<w:r><w:tab/></w:r>{}"#,
        run(issuing_body, BODY_FONT, 32, false, None),
        run(&date, BODY_FONT, 32, false, if issued.is_none() { Some(RED) } else { None })
    );
    d.p(
        &format!(
            r#"<w:tabs><w:tab w:val="right" w:pos="{TEXT_TWIPS}"/></w:tabs><w:pBdr><w:bottom w:val="single" w:sz="24" w:space="6" w:color="{RED}"/></w:pBdr><w:spacing w:after="480"/>"#
        ),
        &meta,
    );
    let title = r.title_zh();
    d.p(
        r#"<w:jc w:val="center"/><w:spacing w:before="240" w:after="360" w:line="640" w:lineRule="exact"/>"#,
        &run(&title, XIAOBIAOSONG, 44, false, None),
    );
    d.h1("一、评分规则");
    d.text(&r.rule_text);
    d.h1("二、奖惩兑现");
    if r.consequences.is_empty() {
        d.text("本月无单位适用奖惩档次。");
    } else {
        let rows: Vec<Vec<String>> = r
            .consequences
            .iter()
            .map(|c| vec![c.rank.to_string(), c.unit_name.clone(), c.consequence.clone()])
            .collect();
        d.table(&[1200, 4000, TEXT_TWIPS - 5200], &["名次", "责任单位", "奖惩"], &rows);
    }
    let unit_rows = |units: &[crate::app::league::UnitLine]| -> Vec<Vec<String>> {
        units
            .iter()
            .map(|u| {
                let moved = moved_zh(u.movement());
                vec![
                    u.rank.to_string(),
                    u.unit_name.clone(),
                    u.score.to_string(),
                    u.inspected_points.to_string(),
                    moved,
                ]
            })
            .collect()
    };
    let unit_widths = [1000, TEXT_TWIPS - 5000, 1200, 1400, 1400];
    let unit_head = ["名次", "责任单位", "得分", "受检点位", "较上月"];
    let mut section = 2;
    let mut h1 = |d: &mut Doc, title: &str| {
        section += 1;
        d.h1(&format!("{}、{title}", cn_number(section)));
    };
    for (head, units) in [("十差单位", &r.ten_worst), ("十佳单位", &r.ten_best)] {
        h1(&mut d, head);
        if units.is_empty() {
            d.text("本月无点位受检的单位，不参加排名。");
        } else {
            d.table(&unit_widths, &unit_head, &unit_rows(units));
        }
    }
    h1(&mut d, "得分分布与名次变化");
    d.lead_in("本月受检点位按得分分段的个数：");
    let bands = league_chart::distribution(r);
    let labels: Vec<String> = bands.iter().map(|b| b.0.clone()).collect();
    let series = [docx_chart::Series {
        name: "点位数".into(),
        fill: r#"<a:solidFill><a:srgbClr val="5B7FA6"/></a:solidFill>"#.into(),
        line: "2F4F74",
        label_color: "000000",
        values: bands.iter().map(|b| b.1).collect(),
    }];
    let part = docx_chart::stacked("得分", &labels, &series, Direction::Column, true)?;
    d.chart(part, Direction::Column, labels.len(), "受检点位得分分布");
    let moved = league_chart::movement(r);
    if moved.is_empty() {
        d.text("与上月相比，没有单位名次变化（或上月无排名）。");
    } else {
        d.text(&format!("与上月相比名次上升或下降的单位（最多列出上升、下降各 {} 个）：", league_chart::MOVERS / 2));
        let labels: Vec<String> = moved.iter().map(|m| m.0.clone()).collect();
        // Two series, so rises and falls differ in a grey printout too.
        let series = [
            docx_chart::Series {
                name: "上升".into(),
                fill: r#"<a:solidFill><a:srgbClr val="2E7D4F"/></a:solidFill>"#.into(),
                line: "1E6B41",
                label_color: "FFFFFF",
                values: moved.iter().map(|m| m.1.max(0)).collect(),
            },
            docx_chart::Series {
                name: "下降".into(),
                fill: r#"<a:pattFill prst="wdUpDiag"><a:fgClr><a:srgbClr val="C8102E"/></a:fgClr><a:bgClr><a:srgbClr val="F6C6CC"/></a:bgClr></a:pattFill>"#.into(),
                line: "8A0B20",
                label_color: "000000",
                values: moved.iter().map(|m| m.1.min(0)).collect(),
            },
        ];
        let part = docx_chart::stacked("责任单位", &labels, &series, Direction::Bar, false)?;
        d.chart(part, Direction::Bar, labels.len(), "各单位名次变化");
    }
    h1(&mut d, "责任单位排名");
    if r.units.is_empty() {
        d.text("本月无点位受检的单位，不参加排名。");
    } else {
        d.table(&unit_widths, &unit_head, &unit_rows(&r.units));
    }
    let group_rows = |groups: &[crate::app::league::GroupLine]| -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| {
                let moved = moved_zh(g.movement());
                vec![g.rank.to_string(), g.name.clone(), g.score.to_string(), g.inspected_points.to_string(), moved]
            })
            .collect()
    };
    if !r.point_kinds.is_empty() {
        h1(&mut d, "点位类型排名");
        d.table(&unit_widths, &["名次", "点位类型", "得分", "受检点位", "较上月"], &group_rows(&r.point_kinds));
    }
    if !r.chiefs.is_empty() {
        h1(&mut d, "点长排名");
        d.text("按点长负责的本月受检点位得分的平均值；未设点长的点位不计入。");
        d.table(&unit_widths, &["名次", "点长", "得分", "受检点位", "较上月"], &group_rows(&r.chiefs));
    }
    h1(&mut d, "点位排名");
    let rows: Vec<Vec<String>> = r
        .points
        .iter()
        .map(|p| {
            let lines = if p.inspected {
                p.lines.iter().map(|l| format!("{} {}", l.what, l.points)).collect::<Vec<_>>().join("；")
            } else {
                "本月未受检".to_owned()
            };
            vec![p.rank.to_string(), p.point_name.clone(), p.unit_name.clone(), p.score.to_string(), lines]
        })
        .collect();
    d.table(&[800, 2000, 2000, 1000, TEXT_TWIPS - 5800], &["名次", "点位", "责任单位", "得分", "扣分与加分"], &rows);
    if let Some(i) = &issued {
        d.note(&format!("本通报结果的 SHA-256 为 {}，已记入证据日志。", i.hash));
    }
    d.section_end();
    let doc_title = match issued.as_ref().and_then(|i| i.number) {
        Some(n) => format!("{n} {title}"),
        None => title,
    };
    package(&d, &doc_title, issuing_body, created)
}

fn package(d: &Doc, title: &str, creator: &str, created: jiff::Timestamp) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(
        d.body.len() + d.media.iter().map(|m| m.1.len()).sum::<usize>() + 16 * 1024,
    )));
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // JPEG and PNG do not shrink further; storing them saves the time.
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let put = |zip: &mut zip::ZipWriter<_>, name: &str, data: &[u8], opts| -> Result<(), zip::result::ZipError> {
        zip.start_file(name, opts)?;
        zip.write_all(data)?;
        Ok(())
    };
    let chart_types: String = (1..=d.charts.len())
        .map(|n| format!(r#"<Override PartName="/word/charts/chart{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.drawingml.chart+xml"/>"#))
        .collect();
    let content_types = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="jpg" ContentType="image/jpeg"/><Default Extension="png" ContentType="image/png"/><Default Extension="xlsx" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"/>{chart_types}<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/><Override PartName="/word/fontTable.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml"/><Override PartName="/word/footer1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>"#
    );
    put(&mut zip, "[Content_Types].xml", content_types.as_bytes(), deflated)?;
    put(
        &mut zip,
        "_rels/.rels",
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>"#,
        deflated,
    )?;
    let core = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:title>{}</dc:title><dc:creator>{}</dc:creator><dc:language>zh-CN</dc:language><dcterms:created xsi:type="dcterms:W3CDTF">{}</dcterms:created></cp:coreProperties>"#,
        esc(title),
        esc(creator),
        created.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    put(&mut zip, "docProps/core.xml", core.as_bytes(), deflated)?;
    put(
        &mut zip,
        "docProps/app.xml",
        br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Anfang</Application></Properties>"#,
        deflated,
    )?;
    let mut rels = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rIdSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/><Relationship Id="rIdFonts" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable" Target="fontTable.xml"/><Relationship Id="rIdFooter" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>"#,
    );
    for (rid, target) in &d.rels {
        let _ = write!(
            rels,
            r#"<Relationship Id="{rid}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="{target}"/>"#
        );
    }
    for n in 1..=d.charts.len() {
        let _ = write!(
            rels,
            r#"<Relationship Id="rIdChart{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/chart" Target="charts/chart{n}.xml"/>"#
        );
    }
    rels.push_str("</Relationships>");
    put(&mut zip, "word/_rels/document.xml.rels", rels.as_bytes(), deflated)?;
    for (i, chart) in d.charts.iter().enumerate() {
        let n = i + 1;
        put(&mut zip, &format!("word/charts/chart{n}.xml"), chart.xml.as_bytes(), deflated)?;
        let chart_rels = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/package" Target="../embeddings/Microsoft_Excel_Worksheet{n}.xlsx"/></Relationships>"#
        );
        put(&mut zip, &format!("word/charts/_rels/chart{n}.xml.rels"), chart_rels.as_bytes(), deflated)?;
        put(&mut zip, &format!("word/embeddings/Microsoft_Excel_Worksheet{n}.xlsx"), &chart.workbook, stored)?;
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W_NS}><w:body>{}</w:body></w:document>"#,
        d.body
    );
    put(&mut zip, "word/document.xml", document.as_bytes(), deflated)?;
    let styles = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles {W_NS}><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="{BODY_FONT}" w:hAnsi="{BODY_FONT}" w:eastAsia="{BODY_FONT}" w:cs="{BODY_FONT}"/><w:sz w:val="32"/><w:szCs w:val="32"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="560" w:lineRule="exact"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style><w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style><w:style w:type="paragraph" w:styleId="Footer"><w:name w:val="footer"/><w:basedOn w:val="Normal"/><w:pPr><w:jc w:val="center"/></w:pPr></w:style></w:styles>"#
    );
    put(&mut zip, "word/styles.xml", styles.as_bytes(), deflated)?;
    put(
        &mut zip,
        "word/settings.xml",
        format!(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:settings {W_NS}><w:defaultTabStop w:val="420"/><w:characterSpacingControl w:val="compressPunctuation"/><w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat></w:settings>"#)
            .as_bytes(),
        deflated,
    )?;
    put(
        &mut zip,
        "word/fontTable.xml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:fonts {W_NS}><w:font w:name="仿宋"><w:altName w:val="FangSong"/><w:charset w:val="86"/><w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font><w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋"/><w:charset w:val="86"/><w:family w:val="modern"/></w:font><w:font w:name="黑体"><w:altName w:val="SimHei"/><w:charset w:val="86"/><w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font><w:font w:name="楷体"><w:altName w:val="KaiTi"/><w:charset w:val="86"/><w:family w:val="modern"/><w:pitch w:val="fixed"/></w:font><w:font w:name="方正小标宋简体"><w:altName w:val="宋体"/><w:charset w:val="86"/><w:family w:val="script"/><w:pitch w:val="variable"/></w:font><w:font w:name="宋体"><w:altName w:val="SimSun"/><w:charset w:val="86"/><w:family w:val="auto"/><w:pitch w:val="variable"/></w:font></w:fonts>"#
        )
        .as_bytes(),
        deflated,
    )?;
    let dash = |t: &str| run(t, SONG, 28, false, None);
    let footer = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:ftr {W_NS}><w:p><w:pPr><w:pStyle w:val="Footer"/><w:jc w:val="center"/></w:pPr>{}<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>{}<w:r><w:fldChar w:fldCharType="end"/></w:r>{}</w:p></w:ftr>"#,
        dash("— "),
        dash("1"),
        dash(" —")
    );
    put(&mut zip, "word/footer1.xml", footer.as_bytes(), deflated)?;
    for (name, bytes) in &d.media {
        put(&mut zip, &format!("word/media/{name}"), bytes, stored)?;
    }
    Ok(zip.finish()?.into_inner())
}
