//! The bulletin as one self-contained HTML file: readable on a phone, prints
//! on A4 (print CSS), and works when saved and mailed, because photos are
//! thumbnails inlined as data URIs and charts are inline SVG. No script, no
//! external resource.
//!
//! Written with maud, which escapes every spliced value: a point name, a
//! note or a unit name from a CSV import is text, never markup. Two splices
//! are unescaped (`PreEscaped`), both built by trusted code: the constant
//! stylesheet below, and the charts' SVG from `chart.rs`, which escapes its
//! own labels (`crate::html::esc`).

use super::rectification::{BeforeAfter, MAX_BEFORE_AFTER, Rectification};
use super::{Bulletin, CountRow, OverdueEntry, RateRow, WorstUnits, change_zh, chart, percent, score_text};
use crate::app::review::Decision;
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;

/// 1 → 一, 12 → 十二, 23 → 二十三: section numbers as documents write them.
pub fn cn_number(n: usize) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => D[n].into(),
        10..=19 => format!("十{}", if n.is_multiple_of(10) { "" } else { D[n % 10] }),
        20..=99 => format!("{}十{}", D[n / 10], if n.is_multiple_of(10) { "" } else { D[n % 10] }),
        _ => n.to_string(),
    }
}

/// Our own constant stylesheet, spliced unescaped.
const CSS: &str = r#"
:root { --red: #c8102e; --ink: #1a1a1a; --muted: #666; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f4f4f4;
  font-family: "FangSong", "仿宋_GB2312", "FangSong_GB2312", "STFangsong", "仿宋", "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 17px; line-height: 1.75; }
.doc { max-width: 820px; margin: 0 auto; padding: 24px 20px 40px; background: #fff; }
.masthead { text-align: center; color: var(--red); }
.masthead .name { font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "方正小标宋_GBK", "SimSun", "宋体", "STSong", "Noto Serif CJK SC", serif; font-size: 40px; font-weight: bold; letter-spacing: 6px; margin: 8px 0 4px; }
.masthead .number { color: var(--ink); font-size: 17px; }
.masthead .meta { display: flex; justify-content: space-between; color: var(--ink); font-size: 16px; margin-top: 6px; }
.masthead .draft { display: inline-block; border: 1px solid var(--red); padding: 0 8px; font-size: 14px; }
hr.rule { border: 0; border-top: 2px solid var(--red); margin: 6px 0 20px; }
h1 { font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "方正小标宋_GBK", "SimSun", "宋体", "STSong", "Noto Serif CJK SC", serif; font-size: 22px; text-align: center; line-height: 1.5; margin: 12px 0 18px; }
h2 { font-family: "SimHei", "黑体", "STHeiti", "Noto Sans CJK SC", sans-serif; font-size: 18px; margin: 26px 0 8px; }
h3 { font-family: "KaiTi", "楷体", "STKaiti", serif; font-size: 17px; margin: 18px 0 6px; }
p { margin: 6px 0; text-indent: 2em; }
p.plain, .note p { text-indent: 0; }
table { border-collapse: collapse; width: 100%; font-size: 14px; line-height: 1.45; margin: 8px 0; }
th, td { border: 1px solid #999; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-family: "SimHei", "黑体", sans-serif; font-weight: normal; }
td.n, th.n { text-align: right; white-space: nowrap; }
td:first-child, th:first-child { min-width: 5em; }
thead { display: table-header-group; }
.scroll { overflow-x: auto; }
.finding { display: flex; flex-wrap: wrap; gap: 10px; border-top: 1px solid #ddd; padding: 8px 0; break-inside: avoid; page-break-inside: avoid; }
.finding .photo { flex: 0 0 200px; }
.finding .photo img { width: 200px; height: auto; display: block; border: 1px solid #ccc; }
.finding .photo .missing { width: 200px; height: 120px; border: 1px dashed #aaa; color: var(--muted); font-size: 13px; display: flex; align-items: center; justify-content: center; }
.finding .facts { flex: 1 1 260px; font-size: 15px; line-height: 1.6; }
.finding .facts div { margin: 0; }
.card { display: inline-block; padding: 0 6px; color: #fff; border-radius: 2px; font-size: 13px; font-family: sans-serif; }
.card.red { background: #c8102e; } .card.yellow { background: #d39b00; } .card.green { background: #2e8b57; }
.evidence { font-family: ui-monospace, "Menlo", "Consolas", monospace; font-size: 12px; color: var(--muted); word-break: break-all; }
.chart { margin: 8px 0 14px; }
.formula { border-left: 3px solid var(--red); padding: 4px 10px; background: #fbf3f4; text-indent: 0; }
.closing { margin-top: 22px; }
.distribution { border-top: 1px solid var(--ink); border-bottom: 1px solid var(--ink); margin-top: 30px; padding: 6px 0; text-indent: 0; }
.compiler { text-align: right; text-indent: 0; }
.chain { overflow-wrap: anywhere; }
.verify { color: var(--muted); font-size: 12px; text-indent: 0; }
.note { font-size: 14px; line-height: 1.6; color: #333; }
.note ol { margin: 2px 0 8px; padding-left: 1.6em; }
p.cases { margin: 10px 0 4px; padding-top: 6px; border-top: 1px dashed #bbb; }
.pair { border-top: 1px solid #ddd; padding: 8px 0; break-inside: avoid; page-break-inside: avoid; }
.pair .photos { display: flex; gap: 10px; }
.pair figure { margin: 0; flex: 1 1 0; min-width: 0; }
.pair figure img { width: 100%; max-width: 260px; height: auto; display: block; border: 1px solid #ccc; }
.pair figcaption { font-size: 13px; color: var(--muted); text-indent: 0; }
.pair .missing { max-width: 260px; height: 100px; border: 1px dashed #aaa; color: var(--muted); font-size: 13px; display: flex; align-items: center; justify-content: center; }
@media (max-width: 560px) {
  body { font-size: 16px; }
  .doc { padding: 14px 12px 30px; }
  .masthead .name { font-size: 30px; letter-spacing: 2px; }
  .finding .photo, .finding .photo img { flex-basis: 100%; width: 100%; }
  /* Wide tables become one card per row on a phone: a unit name keeps its
     line instead of wrapping one character per line. Print keeps tables. */
  table.stack thead { display: none; }
  table.stack, table.stack tbody, table.stack tr { display: block; width: 100%; }
  table.stack tr { border: 1px solid #999; margin: 0 0 8px; padding: 4px 8px; }
  table.stack td { display: inline-block; border: 0; padding: 0 12px 0 0; min-width: 0; text-align: left; white-space: normal; }
  table.stack td::before { content: attr(data-label) "："; color: var(--muted); font-size: 13px; }
  table.stack td.name { display: block; font-weight: bold; }
  table.stack td.evidence { display: block; }
}
@page { size: A4; margin: 25mm 20mm 22mm 24mm; }
@media print {
  body { background: #fff; font-size: 15.5pt; }
  .doc { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .chart { break-inside: avoid; page-break-inside: avoid; }
  /* On A4 a chart drawn for a phone's width would fill a page: half the
     text width keeps its type at about the body's size. */
  .chart svg { max-width: 115mm !important; }
  table { font-size: 10.5pt; }
}
"#;

fn paragraphs(text: &str) -> Markup {
    html! {
        @for p in text.split('\n').map(str::trim).filter(|p| !p.is_empty()) { p { (p) } }
    }
}

fn count_table(head: &str, rows: &[CountRow]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr {
                th { (head) } th.n { "红牌" } th.n { "黄牌" } th.n { "绿牌" } th.n { "合计" } th.n { "上期" } th.n { "较上期" }
            } }
            tbody {
                @for r in rows {
                    tr {
                        td { (r.name) }
                        td.n { (r.red) } td.n { (r.yellow) } td.n { (r.green) } td.n { (r.total) }
                        td.n { (r.previous_total) } td.n { (change_zh(r.total, r.previous_total)) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="7" { "本期及上期均无记录" } } }
            }
        } }
    }
}

fn rate_table(rows: &[RateRow], points: bool) -> Markup {
    // Units ranked by score show what the score is made of; points, and
    // bulletins compiled before scores, keep the compliance columns only.
    let scored = !points && rows.iter().any(|r| r.score.is_some());
    html! {
        div.scroll { table.stack {
            thead { tr {
                th.n { "名次" }
                @if points { th { "点位" } th { "责任单位" } th { "点长" } } @else { th { "责任单位" } }
                th.n { "检查次数" } th.n { "绿牌" } th.n { "黄牌" } th.n { "红牌" } th.n { "达标率" }
                @if scored { th.n { "按期整改" } th.n { "按期整改率" } th.n { "综合得分" } }
            } }
            tbody {
                @for r in rows {
                    tr {
                        td.n data-label="名次" { (r.rank) }
                        td.name data-label=(if points { "点位" } else { "责任单位" }) { (r.name) }
                        @if points {
                            td data-label="责任单位" { (r.unit_name.as_deref().unwrap_or("")) }
                            td data-label="点长" { (r.leader.as_deref().unwrap_or("")) }
                        }
                        td.n data-label="检查次数" { (r.visits) } td.n data-label="绿牌" { (r.green) }
                        td.n data-label="黄牌" { (r.yellow) } td.n data-label="红牌" { (r.red) }
                        td.n data-label="达标率" { (if r.visits > 0 { percent(r.rate) } else { "—".into() }) }
                        @if scored {
                            td.n data-label="按期整改" { (on_time_text(r.on_time, r.due)) }
                            td.n data-label="按期整改率" { (rate_or_dash(r.rectification_rate)) }
                            td.n data-label="综合得分" { (score_text(r.score)) }
                        }
                    }
                }
                @if rows.is_empty() { tr { td colspan="12" { "本期无记录" } } }
            }
        } }
    }
}

/// `2/3`, or a dash without due cases.
fn on_time_text(on_time: u32, due: u32) -> String {
    if due == 0 { "—".into() } else { format!("{on_time}/{due}") }
}

fn rate_or_dash(rate: Option<f64>) -> String {
    rate.map(percent).unwrap_or_else(|| "—".into())
}

/// The overdue list, whole (with the unit) or inside a unit's section.
fn overdue_table(rows: &[OverdueEntry], with_unit: bool) -> Markup {
    html! {
        div.scroll { table.stack {
            thead { tr {
                @if with_unit { th { "责任单位" } }
                th { "点位" } th { "问题类别" } th { "牌色" } th { "整改期限" } th.n { "逾期天数" } th.n { "返工次数" } th { "督办" } th { "整改单编号" }
            } }
            tbody {
                @for r in rows {
                    tr {
                        @if with_unit { td.name data-label="责任单位" { (r.unit_name) } }
                        td data-label="点位" { (r.point_name) }
                        td data-label="问题类别" { (r.category_name) } td data-label="牌色" { (r.card.label_zh()) }
                        td data-label="整改期限" { (r.deadline) @if r.deferred { "（挂账）" } }
                        td.n data-label="逾期天数" { (r.days_overdue) }
                        td.n data-label="返工次数" { (r.rework_count) }
                        td data-label="督办" { (if r.supervised { "是" } else { "否" }) }
                        td.evidence data-label="整改单编号" { (r.case_ref) }
                    }
                }
            }
        } }
    }
}

fn rectification_section(r: &Rectification) -> Markup {
    html! {
        p { (r.sentence()) }
        div.scroll { table.stack {
            thead { tr {
                th.n { "本期到期" } th.n { "按期整改" } th.n { "逾期整改" } th.n { "已反馈待复查" } th.n { "尚未整改" }
                th.n { "退回改派" } th.n { "延期" } th.n { "挂账" }
            } }
            tbody { tr {
                td.n data-label="本期到期" { (r.due) } td.n data-label="按期整改" { (r.on_time) }
                td.n data-label="逾期整改" { (r.late) } td.n data-label="已反馈待复查" { (r.awaiting_recheck) }
                td.n data-label="尚未整改" { (r.open) } td.n data-label="退回改派" { (r.reassigned) }
                td.n data-label="延期" { (r.extended) } td.n data-label="挂账" { (r.deferred) }
            } }
        } }
        div.scroll { table.stack {
            thead { tr { th.n { "按期整改率" } th.n { "返工率" } th.n { "平均整改用时" } } }
            tbody { tr {
                td.n data-label="按期整改率" {
                    (rate_or_dash(r.on_time_rate)) @if r.due > 0 { "（" (r.on_time) "/" (r.due) "）" }
                }
                td.n data-label="返工率" {
                    (rate_or_dash(r.rework_rate)) @if r.rechecks > 0 { "（" (r.rechecks_failed) "/" (r.rechecks) "）" }
                }
                td.n data-label="平均整改用时" {
                    @match r.mean_days_to_close {
                        Some(d) => { (format!("{d:.1}")) " 天（" (r.closed) " 件）" }
                        None => { "—" }
                    }
                }
            } }
        } }
        div.note {
            p.plain { "说明：" }
            ol { @for n in &r.notes { li { (n) } } }
        }
    }
}

fn worst_table(w: &WorstUnits) -> Markup {
    html! {
        div.scroll { table.stack {
            thead { tr {
                th.n { "名次" } th { "责任单位" } th.n { "红牌" } th.n { "黄牌" } th.n { "检查次数" } th.n { "达标率" } th.n { "扣分" }
                @if w.by_score { th.n { "按期整改" } th.n { "综合得分" } }
            } }
            tbody {
                @for r in &w.rows {
                    tr {
                        td.n data-label="名次" { (r.rank) } td.name data-label="责任单位" { (r.unit_name) }
                        td.n data-label="红牌" { (r.red) } td.n data-label="黄牌" { (r.yellow) }
                        td.n data-label="检查次数" { (r.visits) }
                        td.n data-label="达标率" { (if r.visits > 0 { percent(r.rate) } else { "—".into() }) }
                        td.n data-label="扣分" { (r.deduction) }
                        @if w.by_score {
                            td.n data-label="按期整改" { (on_time_text(r.on_time, r.due)) }
                            td.n data-label="综合得分" { (score_text(r.score)) }
                        }
                    }
                }
            }
        } }
    }
}

fn date_or_dash(d: Option<jiff::civil::Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
}

/// A thumbnail's bytes for a `data:` URI.
fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// 整改前后对比: each closed case's before and after photo side by side
/// (on a phone too: two half-width columns still show what changed).
fn before_after_section(pairs: &[BeforeAfter], thumbnails: &HashMap<String, Vec<u8>>) -> Markup {
    let photo = |sha: &Option<String>, what: &str, point: &str| match sha.as_ref().and_then(|s| thumbnails.get(s)) {
        Some(bytes) => html! { img alt={ (what) " " (point) } src={ "data:image/jpeg;base64," (base64(bytes)) }; },
        None if sha.is_some() => html! { div.missing { "照片缺失，请凭编号核查" } },
        None => html! { div.missing { "无照片" } },
    };
    html! {
        h3 { "整改前后对比" }
        p.plain { "本期销号的整改单（红牌在前，最多 " (MAX_BEFORE_AFTER) " 件）：" }
        @for (i, c) in pairs.iter().enumerate() {
            div.pair {
                div {
                    b { (i + 1) "." } " " span class={ "card " (c.card.as_str()) } { (c.card.label_zh()) } " "
                    (c.unit_name) " · " (c.point_name) " · " (c.category_name)
                }
                div.photos {
                    figure { (photo(&c.before_photo, "整改前", &c.point_name)) figcaption { "整改前" } }
                    figure {
                        (photo(&c.after_photo, "整改后", &c.point_name))
                        figcaption {
                            "整改后（" (c.closed_on) " " @if c.rechecked { "复查通过" } @else { "凭反馈材料销号" } "）"
                        }
                    }
                }
                div.evidence { "整改单编号 " (c.case_ref) }
            }
        }
    }
}

/// Renders the bulletin. `thumbnails` maps photo SHA-256 to JPEG bytes; a
/// photo missing from it is shown as missing, never silently dropped.
pub fn render(b: &Bulletin, thumbnails: &HashMap<String, Vec<u8>>) -> String {
    let body = &b.body;
    let s = &body.summary;
    // Sections are numbered as they come: a bulletin compiled before the
    // rectification section existed keeps its own numbering.
    let counter = std::cell::Cell::new(0);
    let section = |title: &str| {
        counter.set(counter.get() + 1);
        html! { h2 { (cn_number(counter.get())) "、" (title) } }
    };
    let page = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (b.number_text()) " " (b.title) }
                style { (PreEscaped(CSS)) }
            }
            body { main.doc {
                // 1. Header.
                header.masthead {
                    div.name { "督查通报" }
                    div.number {
                        (b.number_text())
                        @if b.header.status != "issued" { " " span.draft { "草稿" } }
                    }
                    div.meta { span { (b.header.issuing_body) } span { (super::period::date_zh(b.header.date)) } }
                }
                hr.rule;
                h1 { (b.title) }
                (paragraphs(&b.lead))

                // 2. Summary.
                (section("总体情况"))
                p { (body.summary_sentence()) }
                p.plain { "下列各表“上期”指 " (body.previous_period_label) "。" }
                h3 { "（一）按问题类别" }
                (count_table("问题类别", &s.by_category))
                h3 { "（二）按区域" }
                (count_table("区域", &s.by_district))
                // Each heading inside its chart's block: a printed page
                // never ends on a heading whose chart went to the next.
                div.chart {
                    h3 { "（三）各单位红黄绿牌" }
                    (PreEscaped(chart::units_svg(&body.charts.per_unit)))
                }
                div.chart {
                    @if body.charts.per_day.len() == 1 {
                        h3 { "（四）当日红黄绿牌" }
                    } @else {
                        h3 { "（四）每日红黄绿牌" }
                    }
                    (PreEscaped(chart::days_svg(&body.charts.per_day)))
                }

                // 3. Per unit.
                (section("各责任单位问题清单"))
                @if body.units.is_empty() { p { "本期未发现问题。" } }
                @for (i, u) in body.units.iter().enumerate() {
                    h3 {
                        "（" (cn_number(i + 1)) "）" (u.unit_name)
                        @if u.visits == 0 {
                            "（本期未受检查）"
                        } @else {
                            "（红牌 " (u.red) "、黄牌 " (u.yellow) "，检查 " (u.visits) " 次，达标 " (u.green) " 次）"
                        }
                    }
                    @if u.findings.is_empty() { p.plain { "本期未发现新问题。" } }
                    @for (j, e) in u.findings.iter().enumerate() {
                        div.finding {
                            div.photo {
                                @match (&e.photo, e.photo.as_ref().and_then(|sha| thumbnails.get(sha))) {
                                    (Some(_), Some(bytes)) => {
                                        img alt={ "现场照片 " (e.point_name) } src={ "data:image/jpeg;base64," (base64(bytes)) };
                                    }
                                    (Some(_), None) => { div.missing { "照片缺失，请凭证据编号核查" } }
                                    (None, _) if e.photo_count > 0 => { div.missing { "照片未嵌入，凭证据编号在系统中查看" } }
                                    (None, _) => { div.missing { "无照片" } }
                                }
                            }
                            div.facts {
                                div { b { (j + 1) "." } " " span class={ "card " (e.card.as_str()) } { (e.card.label_zh()) } " " (e.category_name) }
                                div {
                                    "点位：" (e.point_name) "（" (e.point_kind)
                                    @if let Some(d) = &e.district { "，" (d) }
                                    "）"
                                }
                                div { "时间：" (e.observed_at) }
                                @if let Some(n) = &e.note { div { "问题：" (n) } }
                                div { "整改期限：" (e.deadline.map(|d| format!("{d} 前")).unwrap_or_else(|| "—".into())) }
                                div.evidence {
                                    "证据编号 " (e.evidence_id) " · 内容哈希 " (e.short_hash)
                                    @if e.decision == Decision::Correct { " · 经审核更正" }
                                }
                            }
                        }
                    }
                    // After the period's findings: what the unit still owes from before.
                    @if let Some(c) = &u.cases {
                        p.plain.cases { (c.sentence()) }
                        @if !c.overdue.is_empty() { (overdue_table(&c.overdue, false)) }
                    }
                }
                @if body.photos_not_embedded > 0 {
                    p.plain { "另有 " (body.photos_not_embedded) " 条问题的照片未嵌入本通报，可凭证据编号在系统中查看。" }
                }

                // 4. Red cards.
                (section("红牌问题（曝光台候选）"))
                @if body.red_list.is_empty() {
                    p { "本期无红牌问题。" }
                } @else {
                    div.scroll { table.stack {
                        thead { tr {
                            th.n { "序号" } th { "责任单位" } th { "点位" } th { "问题类别" } th { "时间" } th { "整改期限" } th { "证据编号" }
                        } }
                        tbody {
                            @for (i, r) in body.red_list.iter().enumerate() {
                                tr {
                                    td.n data-label="序号" { (i + 1) } td.name data-label="责任单位" { (r.unit_name) }
                                    td data-label="点位" { (r.point_name) } td data-label="问题类别" { (r.category_name) }
                                    td data-label="时间" { (r.observed_at) } td data-label="整改期限" { (date_or_dash(r.deadline)) }
                                    td.evidence data-label="证据编号" { (r.evidence_id) " · " (r.short_hash) }
                                }
                            }
                        }
                    } }
                }

                // 5. Overdue.
                (section("逾期未整改问题"))
                @match (&body.rectification, body.overdue.is_empty()) {
                    (Some(r), true) => { p { "截至" (r.as_of_label) "，无逾期未整改问题。" } }
                    (Some(r), false) => {
                        p { "截至" (r.as_of_label) "，逾期未整改问题 " (body.overdue.len()) " 个，按逾期天数从多到少排列：" }
                    }
                    (None, true) => { p { "截至本期，无逾期未整改问题。" } }
                    (None, false) => {}
                }
                @if !body.overdue.is_empty() { (overdue_table(&body.overdue, true)) }

                // 6. Rectification.
                @if let Some(r) = &body.rectification {
                    (section("整改情况"))
                    (rectification_section(r))
                    @if !body.before_after.is_empty() { (before_after_section(&body.before_after, thumbnails)) }
                }

                // 7. Rankings.
                (section("达标率排名"))
                p.formula { (body.rankings.rule) }
                @if let Some(rule) = &body.rankings.unit_rule {
                    h3 { "（一）责任单位综合得分" }
                    p.formula { (rule) }
                } @else {
                    h3 { "（一）责任单位达标率" }
                }
                (rate_table(&body.rankings.units, false))
                h3 { "（二）点位达标率" }
                (rate_table(&body.rankings.points, true))
                @if let Some(w) = &body.rankings.worst_units {
                    h3 { "（三）本月“十差单位”" }
                    p.formula { "评分办法：" (w.formula) }
                    @if w.rows.is_empty() {
                        p { "本月无扣分单位。" }
                    } @else {
                        (worst_table(w))
                    }
                }

                // 8. Closing, distribution, compiler.
                section.closing { (paragraphs(&b.closing)) }
                p.distribution { "送：" (b.distribution) }
                p.compiler { (b.compiler) "编印" }
                p.verify {
                    "每条问题后的证据编号与内容哈希可在系统中核验：同一编号的记录，其内容哈希（SHA-256）前 "
                    (super::SHORT_HASH) " 位应与此处一致。本通报编制于 "
                    (body.compiled_at.strftime("%Y-%m-%d %H:%M UTC")) "。"
                }
                @if let Some(chain) = b.chain_sentence() { p.verify.chain { (chain) } }
            } }
        }
    }
    .into_string();
    crate::html::xml_chars_only(page)
}
