//! The bulletin as one self-contained HTML file: readable on a phone, prints
//! on A4 (print CSS), and works when saved and mailed, because photos are
//! thumbnails inlined as data URIs and charts are inline SVG. No script, no
//! external resource.

use super::{Bulletin, CountRow, RateRow, card_zh, change_zh, chart, percent};
use base64::Engine;
use std::collections::HashMap;
use std::fmt::Write;

pub use crate::html::esc;

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

const CSS: &str = r#"
:root { --red: #c8102e; --ink: #1a1a1a; --muted: #666; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f4f4f4;
  font-family: "FangSong", "仿宋_GB2312", "FangSong_GB2312", "STFangsong", "仿宋", "Noto Serif CJK SC", "Source Han Serif SC", serif;
  font-size: 17px; line-height: 1.75; }
.doc { max-width: 820px; margin: 0 auto; padding: 24px 20px 40px; background: #fff; }
.masthead { text-align: center; color: var(--red); }
.masthead .name { font-family: "SimSun", "宋体", "STSong", "Noto Serif CJK SC", serif; font-size: 40px; font-weight: bold; letter-spacing: 6px; margin: 8px 0 4px; }
.masthead .number { color: var(--ink); font-size: 17px; }
.masthead .meta { display: flex; justify-content: space-between; color: var(--ink); font-size: 16px; margin-top: 6px; }
.masthead .draft { display: inline-block; border: 1px solid var(--red); padding: 0 8px; font-size: 14px; }
hr.rule { border: 0; border-top: 2px solid var(--red); margin: 6px 0 20px; }
h1 { font-family: "SimHei", "黑体", "STHeiti", "Noto Sans CJK SC", sans-serif; font-size: 22px; text-align: center; line-height: 1.5; margin: 12px 0 18px; }
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
@media (max-width: 560px) {
  body { font-size: 16px; }
  .doc { padding: 14px 12px 30px; }
  .masthead .name { font-size: 30px; letter-spacing: 2px; }
  .finding .photo, .finding .photo img { flex-basis: 100%; width: 100%; }
}
@page { size: A4; margin: 25mm 20mm 22mm 24mm; }
@media print {
  body { background: #fff; font-size: 15.5pt; }
  .doc { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .chart { break-inside: avoid; page-break-inside: avoid; }
  table { font-size: 10.5pt; }
}
"#;

fn paragraphs(out: &mut String, text: &str) {
    for p in text.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        let _ = write!(out, "<p>{}</p>", esc(p));
    }
}

fn count_table(out: &mut String, head: &str, rows: &[CountRow]) {
    let _ = write!(
        out,
        r#"<div class="scroll"><table><thead><tr><th>{head}</th><th class="n">红牌</th><th class="n">黄牌</th><th class="n">绿牌</th><th class="n">合计</th><th class="n">上期</th><th class="n">较上期</th></tr></thead><tbody>"#
    );
    for r in rows {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&r.name),
            r.red,
            r.yellow,
            r.green,
            r.total,
            r.previous_total,
            change_zh(r.total, r.previous_total)
        );
    }
    if rows.is_empty() {
        out.push_str(r#"<tr><td colspan="7">本期及上期均无记录</td></tr>"#);
    }
    out.push_str("</tbody></table></div>");
}

fn rate_table(out: &mut String, rows: &[RateRow], points: bool) {
    out.push_str(r#"<div class="scroll"><table><thead><tr><th class="n">名次</th>"#);
    if points {
        out.push_str("<th>点位</th><th>责任单位</th><th>点长</th>");
    } else {
        out.push_str("<th>责任单位</th>");
    }
    out.push_str(r#"<th class="n">检查次数</th><th class="n">绿牌</th><th class="n">黄牌</th><th class="n">红牌</th><th class="n">达标率</th></tr></thead><tbody>"#);
    for r in rows {
        let _ = write!(out, r#"<tr><td class="n">{}</td><td>{}</td>"#, r.rank, esc(&r.name));
        if points {
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td>",
                esc(r.unit_name.as_deref().unwrap_or("")),
                esc(r.leader.as_deref().unwrap_or(""))
            );
        }
        let _ = write!(
            out,
            r#"<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            r.visits,
            r.green,
            r.yellow,
            r.red,
            percent(r.rate)
        );
    }
    if rows.is_empty() {
        out.push_str(r#"<tr><td colspan="9">本期无记录</td></tr>"#);
    }
    out.push_str("</tbody></table></div>");
}

fn date_or_dash(d: Option<jiff::civil::Date>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
}

/// Renders the bulletin. `thumbnails` maps photo SHA-256 to JPEG bytes; a
/// photo missing from it is shown as missing, never silently dropped.
pub fn render(b: &Bulletin, thumbnails: &HashMap<String, Vec<u8>>) -> String {
    let body = &b.body;
    let s = &body.summary;
    let mut o = String::with_capacity(64 * 1024 + thumbnails.values().map(|t| t.len() * 4 / 3 + 64).sum::<usize>());
    let _ = write!(
        o,
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} {}</title><style>{CSS}</style></head><body><main class="doc">"#,
        esc(&b.number_text()),
        esc(&b.title)
    );
    // 1. Header.
    let _ = write!(
        o,
        r#"<header class="masthead"><div class="name">督查通报</div><div class="number">{}"#,
        esc(&b.number_text())
    );
    if b.header.status != "issued" {
        o.push_str(r#" <span class="draft">草稿</span>"#);
    }
    let _ = write!(
        o,
        r#"</div><div class="meta"><span>{}</span><span>{}</span></div></header><hr class="rule"><h1>{}</h1>"#,
        esc(&b.header.issuing_body),
        super::period::date_zh(b.header.date),
        esc(&b.title)
    );
    paragraphs(&mut o, &b.lead);

    // 2. Summary.
    let mut section = 0;
    let mut h2 = |o: &mut String, title: &str| {
        section += 1;
        let _ = write!(o, "<h2>{}、{}</h2>", cn_number(section), title);
    };
    h2(&mut o, "总体情况");
    let _ = write!(o, "<p>{}</p>", esc(&body.summary_sentence()));
    let _ = write!(o, r#"<p class="plain">下列各表“上期”指 {}。</p>"#, esc(&body.previous_period_label));
    o.push_str("<h3>（一）按问题类别</h3>");
    count_table(&mut o, "问题类别", &s.by_category);
    o.push_str("<h3>（二）按区域</h3>");
    count_table(&mut o, "区域", &s.by_district);
    let _ = write!(
        o,
        r#"<h3>（三）各单位红黄绿牌</h3><div class="chart">{}</div>"#,
        chart::units_svg(&body.charts.per_unit)
    );
    let _ =
        write!(o, r#"<h3>（四）每日红黄绿牌</h3><div class="chart">{}</div>"#, chart::days_svg(&body.charts.per_day));

    // 3. Per unit.
    h2(&mut o, "各责任单位问题清单");
    if body.units.is_empty() {
        o.push_str("<p>本期未发现问题。</p>");
    }
    for (i, u) in body.units.iter().enumerate() {
        let _ = write!(
            o,
            "<h3>（{}）{}（红牌 {}、黄牌 {}，检查 {} 次，达标 {} 次）</h3>",
            cn_number(i + 1),
            esc(&u.unit_name),
            u.red,
            u.yellow,
            u.visits,
            u.green
        );
        for (j, e) in u.findings.iter().enumerate() {
            o.push_str(r#"<div class="finding"><div class="photo">"#);
            match &e.photo {
                Some(sha) => match thumbnails.get(sha) {
                    Some(bytes) => {
                        let _ = write!(
                            o,
                            r#"<img alt="现场照片 {}" src="data:image/jpeg;base64,{}">"#,
                            esc(&e.point_name),
                            base64::engine::general_purpose::STANDARD.encode(bytes)
                        );
                    }
                    None => o.push_str(r#"<div class="missing">照片缺失，请凭证据编号核查</div>"#),
                },
                None if e.photo_count > 0 => {
                    o.push_str(r#"<div class="missing">照片未嵌入，凭证据编号在系统中查看</div>"#)
                }
                None => o.push_str(r#"<div class="missing">无照片</div>"#),
            }
            let _ = write!(
                o,
                r#"</div><div class="facts"><div><b>{}.</b> <span class="card {}">{}</span> {}</div><div>点位：{}（{}{}）</div><div>时间：{}</div>"#,
                j + 1,
                esc(&e.card),
                card_zh(&e.card),
                esc(&e.category_name),
                esc(&e.point_name),
                esc(&e.point_kind),
                e.district.as_deref().map(|d| format!("，{}", esc(d))).unwrap_or_default(),
                esc(&e.observed_at),
            );
            if let Some(n) = &e.note {
                let _ = write!(o, "<div>问题：{}</div>", esc(n));
            }
            let _ = write!(
                o,
                r#"<div>整改期限：{}</div><div class="evidence">证据编号 {} · 内容哈希 {}{}</div></div></div>"#,
                e.deadline.map(|d| format!("{d} 前")).unwrap_or_else(|| "—".into()),
                esc(&e.evidence_id),
                esc(&e.short_hash),
                if e.decision == "correct" { " · 经审核更正" } else { "" }
            );
        }
    }
    if body.photos_not_embedded > 0 {
        let _ = write!(
            o,
            r#"<p class="plain">另有 {} 条问题的照片未嵌入本通报，可凭证据编号在系统中查看。</p>"#,
            body.photos_not_embedded
        );
    }

    // 4. Red cards.
    h2(&mut o, "红牌问题（曝光台候选）");
    if body.red_list.is_empty() {
        o.push_str("<p>本期无红牌问题。</p>");
    } else {
        o.push_str(r#"<div class="scroll"><table><thead><tr><th class="n">序号</th><th>责任单位</th><th>点位</th><th>问题类别</th><th>时间</th><th>整改期限</th><th>证据编号</th></tr></thead><tbody>"#);
        for (i, r) in body.red_list.iter().enumerate() {
            let _ = write!(
                o,
                r#"<tr><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="evidence">{} · {}</td></tr>"#,
                i + 1,
                esc(&r.unit_name),
                esc(&r.point_name),
                esc(&r.category_name),
                esc(&r.observed_at),
                date_or_dash(r.deadline),
                esc(&r.evidence_id),
                esc(&r.short_hash)
            );
        }
        o.push_str("</tbody></table></div>");
    }

    // 5. Overdue.
    h2(&mut o, "逾期未整改问题");
    if body.overdue.is_empty() {
        o.push_str("<p>截至本期，无逾期未整改问题。</p>");
    } else {
        o.push_str(r#"<div class="scroll"><table><thead><tr><th>责任单位</th><th>点位</th><th>问题类别</th><th>牌色</th><th>整改期限</th><th class="n">逾期天数</th><th>证据编号</th></tr></thead><tbody>"#);
        for r in &body.overdue {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="evidence">{}</td></tr>"#,
                esc(&r.unit_name),
                esc(&r.point_name),
                esc(&r.category_name),
                card_zh(&r.card),
                r.deadline,
                r.days_overdue,
                esc(&r.evidence_id)
            );
        }
        o.push_str("</tbody></table></div>");
    }

    // 6. Rankings.
    h2(&mut o, "达标率排名");
    let _ = write!(o, r#"<p class="formula">{}</p>"#, esc(&body.rankings.rule));
    o.push_str("<h3>（一）责任单位达标率</h3>");
    rate_table(&mut o, &body.rankings.units, false);
    o.push_str("<h3>（二）点位达标率</h3>");
    rate_table(&mut o, &body.rankings.points, true);
    if let Some(w) = &body.rankings.worst_units {
        let _ = write!(o, r#"<h3>（三）本月“十差单位”</h3><p class="formula">评分办法：{}</p>"#, esc(&w.formula));
        if w.rows.is_empty() {
            o.push_str("<p>本月无扣分单位。</p>");
        } else {
            o.push_str(r#"<div class="scroll"><table><thead><tr><th class="n">名次</th><th>责任单位</th><th class="n">红牌</th><th class="n">黄牌</th><th class="n">检查次数</th><th class="n">达标率</th><th class="n">扣分</th></tr></thead><tbody>"#);
            for r in &w.rows {
                let _ = write!(
                    o,
                    r#"<tr><td class="n">{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                    r.rank,
                    esc(&r.unit_name),
                    r.red,
                    r.yellow,
                    r.visits,
                    percent(r.rate),
                    r.deduction
                );
            }
            o.push_str("</tbody></table></div>");
        }
    }

    // 7. Closing, distribution, compiler.
    o.push_str(r#"<section class="closing">"#);
    paragraphs(&mut o, &b.closing);
    let _ = write!(
        o,
        r#"</section><p class="distribution">送：{}</p><p class="compiler">{}编印</p>"#,
        esc(&b.distribution),
        esc(&b.compiler)
    );
    let _ = write!(
        o,
        r#"<p class="verify">每条问题后的证据编号与内容哈希可在系统中核验：同一编号的记录，其内容哈希（SHA-256）前 {} 位应与此处一致。本通报编制于 {}。</p>"#,
        super::SHORT_HASH,
        body.compiled_at.strftime("%Y-%m-%d %H:%M UTC")
    );
    if let Some(chain) = b.chain_sentence() {
        let _ = write!(o, r#"<p class="verify chain">{}</p>"#, esc(&chain));
    }
    o.push_str("</main></body></html>");
    o
}
