//! The review queue, one finding with its photos and revisions, and the
//! review form (accept, correct, reject).

use super::{
    ConsoleUser, Form, card_badge, card_options, flash, hidden_csrf, internal, lists, local_time, local_time_text,
    options, page, status_badge, status_label,
};
use crate::app::findings::redact_for;
use crate::auth::Role;
use crate::db::{findings, reviews};
use crate::routes::office::{parse_bound, parse_status};
use crate::{AppState, app};
use anfang_core::Card;
use anfang_core::domain::PointKind;
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

const PAGE: usize = 24;

pub async fn queue(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let (day, unit, card, category, status, next) =
        (get("day"), get("unit"), get("card"), get("category"), get("status"), get("next"));
    let lists = match lists(&state).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let mut errors = Vec::new();
    let tz = &state.config.timezone;
    let (from_ms, to_ms) = if day.is_empty() {
        (None, None)
    } else {
        match (parse_bound(&day, tz, false, "day"), parse_bound(&day, tz, true, "day")) {
            (Ok(a), Ok(b)) if day.len() == 10 => (Some(a), Some(b)),
            _ => {
                errors.push(format!("日期“{day}”无效，请用 2026-11-27 这样的格式。"));
                (None, None)
            }
        }
    };
    let card_ok = card.is_empty() || card.parse::<Card>().is_ok();
    if !card_ok {
        errors.push("牌色无效。".into());
    }
    let status_list = if status.is_empty() {
        Vec::new()
    } else {
        parse_status(&status).unwrap_or_else(|_| {
            errors.push("状态无效。".into());
            Vec::new()
        })
    };
    let before = next.split_once('_').and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())));
    let filter = findings::ListFilter {
        from_ms,
        to_ms,
        unit: Some(unit.clone()).filter(|s| !s.is_empty()),
        card: Some(card.clone()).filter(|s| !s.is_empty() && card_ok),
        category: Some(category.clone()).filter(|s| !s.is_empty()),
        status: status_list,
        before,
        limit: PAGE + 1,
    };
    let mut items = match app::findings::list(&state.db, &user.caller, filter).await {
        Ok(i) => i,
        Err(e) => return internal(e),
    };
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    let statuses: Vec<(String, String)> = [
        ("pending", "待审核"),
        ("accepted", "已采纳"),
        ("corrected", "已更正"),
        ("rejected", "已驳回"),
        ("valid", "有效（采纳+更正）"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    let unit_opts: Vec<(String, String)> =
        lists.units.iter().map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect();
    let cat_opts: Vec<(String, String)> = lists.categories.iter().map(|c| (c.code.clone(), c.name.clone())).collect();
    let next_page = if more && let Some(last) = items.last() {
        let mut params: Vec<(&str, String)> =
            [("day", &day), ("unit", &unit), ("card", &card), ("category", &category), ("status", &status)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.clone()))
                .collect();
        params.push(("next", format!("{}_{}", last.observed_at.as_millisecond(), last.id)));
        Some(serde_urlencoded::to_string(&params).unwrap_or_default())
    } else {
        None
    };
    let body = html! {
        @for e in &errors { p.err { (e) } }
        form.filters.box method="get" action="/console/findings" {
            label { "日期" input type="date" name="day" value=(day); }
            label { "责任单位" select name="unit" { (options(&unit_opts, &unit, Some("全部"))) } }
            label { "牌色" select name="card" { (options(&card_options(), &card, Some("全部"))) } }
            label { "问题类别" select name="category" { (options(&cat_opts, &category, Some("全部"))) } }
            label { "状态" select name="status" { (options(&statuses, &status, Some("全部"))) } }
            button { "筛选" } " " a href="/console/findings" { "清除" }
        }
        @if items.is_empty() { p.box.muted { "没有符合条件的发现。" } }
        div.grid {
            @for f in &items {
                a.item href={ "/console/findings/" (f.id) } {
                    @match f.photos.first() {
                        Some(p) => img loading="lazy" src=(p.thumbnail_url) alt="现场照片";,
                        None => div.noimg { "无照片" },
                    }
                    div.t {
                        (card_badge(f.effective.card.as_str())) " " (status_badge(&f.status)) " " b { (f.effective.category.name) }
                        br; (f.point.name) br;
                        span.muted { (f.effective.unit.name) " · " (local_time(&state, f.observed_at)) }
                        @if let Some(n) = &f.note {
                            br; span.muted { (n.chars().take(60).collect::<String>()) }
                        }
                    }
                }
            }
        }
        @if let Some(qs) = next_page {
            p.pager { a href={ "/console/findings?" (qs) } { "下一页 →" } }
        }
    };
    page(&user, "/console/findings", "审核队列（最新在前）", body).into_response()
}

pub async fn finding_page(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    render_finding(&state, &user, &id, None, None).await
}

fn not_found(user: &ConsoleUser) -> Response {
    (StatusCode::NOT_FOUND, page(user, "/console/findings", "未找到", html! { p.err { "没有这条发现。" } }))
        .into_response()
}

async fn render_finding(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    // Looked up by id, or by the public reference a unit quotes.
    let found = state.db.finding_with_public_ref(id).await;
    let (mut f, public_ref, mask) = match found {
        Ok((Some((f, public_ref)), mask)) => (app::findings::view(f), public_ref, mask),
        Ok((None, _)) => return not_found(user),
        Err(e) => return internal(e),
    };
    redact_for(&user.caller, &mut f, &mask);
    let lists = match lists(state).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let unit_name =
        |id: &str| lists.units.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_else(|| id.to_owned());
    let cat_name =
        |c: &str| lists.categories.iter().find(|x| x.code == c).map(|x| x.name.clone()).unwrap_or_else(|| c.to_owned());
    let kind = f.point_kind.parse::<PointKind>().map(|k| k.label_zh()).unwrap_or(&f.point_kind);
    let revisions = f.revisions.clone().unwrap_or_default();
    let case_ref = match state.db.case_ref_for_finding(f.id.clone()).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let action = format!("/console/findings/{}/review", f.id);
    let body = html! {
        (flash(error, ok))
        div.cols {
            div {
                @match f.photos.first() {
                    Some(p) => a href=(p.url) target="_blank" { img.photo #big src=(p.url) alt="现场照片"; },
                    None => div.box.muted { "此发现没有照片（绿牌可不附照片）。" },
                }
                @if f.photos.len() > 1 {
                    div.strip {
                        @for p in &f.photos {
                            a href=(p.url) target="_blank" { img src=(p.thumbnail_url) alt="缩略图"; }
                        }
                    }
                }
                div.box { dl {
                    dt { "状态" } dd { (status_badge(&f.status)) }
                    dt { "点位" } dd { (f.point.id) " " (f.point.name) " " span.muted { "（" (kind) "）" } }
                    dt { "时间" } dd {
                        (local_time(state, f.observed_at))
                        // Receipt time is one per push batch: it groups one phone's
                        // findings, so leaders do not get it (redact_for removed it).
                        @if let Some(t) = f.received_at { br; span.muted { "收到 " (local_time(state, t)) } }
                    }
                    dt { "位置" } dd {
                        @match &f.location {
                            Some(l) => {
                                (format!("{:.6}, {:.6}", l.lat, l.lon)) br;
                                span.muted { (format!("精度 ±{:.0} 米 · 距点位 {:.0} 米", l.accuracy_m, l.distance_from_point_m)) }
                            }
                            None => span.muted { "无定位（设备未取得位置）" },
                        }
                    }
                    dt { "备注" } dd {
                        @match &f.note { Some(n) => (n), None => span.muted { "无" } }
                    }
                    @if let Some(a) = &f.inspector { dt { "督查员" } dd { (a) } }
                    @if let Some(a) = &f.assignment_id { dt { "抽签任务" } dd { code { (a) } } }
                } }
            }
            div {
                div.box {
                    h2 style="margin-top:0" { "当前（审核后）" }
                    dl {
                        dt { "问题类别" } dd { (f.effective.category.name) }
                        dt { "责任单位" } dd { (f.effective.unit.name) }
                        dt { "牌色" } dd { (card_badge(f.effective.card.as_str())) }
                        dt { "整改单" } dd {
                            @match &case_ref {
                                Some(r) => a href={ "/console/cases/" (r) } { code { (r) } " 查看整改 →" },
                                None => span.muted { "无（采纳或更正为黄牌、红牌后立案）" },
                            }
                        }
                    }
                    h2 { "采集原始记录" }
                    dl {
                        dt { "问题类别" } dd { (f.category.name) }
                        dt { "责任单位" } dd { (f.unit.name) }
                        dt { "牌色" } dd { (card_badge(f.card.as_str())) }
                    }
                    p.muted { "原始记录由督查设备签名，永不修改；审核决定以新版本记录。" }
                }
                @if user.can(Role::Reviewer) {
                    div.box.forms {
                        h2 style="margin-top:0" { "审核" }
                        form method="post" action=(action) {
                            (hidden_csrf(user)) input type="hidden" name="decision" value="accept";
                            button { "采纳" }
                        }
                        form method="post" action=(action) {
                            (hidden_csrf(user)) input type="hidden" name="decision" value="correct";
                            label { "问题类别 " select name="category" { (options(&lists.category_options(), &f.effective.category.id, None)) } }
                            label { "责任单位 " select name="unit_id" { (options(&lists.unit_options(), &f.effective.unit.id, None)) } }
                            label { "牌色 " select name="card" { (options(&card_options(), f.effective.card.as_str(), None)) } }
                            label { "更正理由 " input name="reason" required maxlength="500" placeholder="必填"; }
                            button { "更正" }
                        }
                        form method="post" action=(action) {
                            (hidden_csrf(user)) input type="hidden" name="decision" value="reject";
                            label { "驳回理由 " input name="reason" required maxlength="500" placeholder="必填"; }
                            button.plain { "驳回" }
                        }
                    }
                }
                div.box {
                    h2 style="margin-top:0" { "审核记录" }
                    @if revisions.is_empty() {
                        p.muted { "尚未审核。" }
                    } @else {
                        div.scroll { table {
                            tr { th { "版本" } th { "决定" } th { "类别 / 单位 / 牌色" } th { "理由" } th { "审核人 · 时间" } }
                            @for r in revisions.iter().rev() {
                                tr {
                                    td { (r.revision) }
                                    td { (status_badge(&r.decision)) }
                                    td { (cat_name(&r.category)) br; (unit_name(&r.unit_id)) br; (card_badge(&r.card)) }
                                    td { (r.reason.as_deref().unwrap_or("—")) }
                                    td { (r.reviewer) br; span.muted { (local_time_text(state, &r.decided_at)) } }
                                }
                            }
                        } }
                    }
                    p.muted {
                        "内容哈希 " code { (f.content_hash) }
                        @if let Some(r) = &public_ref { br; "公开编号（通报与责任单位所见） " code { (r) } }
                    }
                }
            }
        }
        p { a href="/console/findings" { "← 返回队列" } }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/findings", &format!("发现 · {}", f.point.name), body)).into_response()
}

pub async fn review(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>, form: Form) -> Response {
    let decision = match form.get("decision").parse::<reviews::Decision>() {
        Ok(d) => d,
        Err(_) => return render_finding(&state, &user, &id, Some("未知的审核决定。"), None).await,
    };
    let reason = form.opt("reason");
    if decision != reviews::Decision::Accept && reason.is_none() {
        let what = if decision == reviews::Decision::Reject { "驳回" } else { "更正" };
        return render_finding(&state, &user, &id, Some(&format!("{what}必须填写理由。")), None).await;
    }
    let card = match form.opt("card").map(|c| c.parse::<Card>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return render_finding(&state, &user, &id, Some("牌色无效。"), None).await,
    };
    let req = if decision == reviews::Decision::Correct {
        reviews::ReviewRequest { decision, category: form.opt("category"), unit_id: form.opt("unit_id"), card, reason }
    } else {
        reviews::ReviewRequest { decision, category: None, unit_id: None, card: None, reason }
    };
    match app::review::decide(&state.db, &user.caller, id.clone(), req, state.clock.now()).await {
        Ok(rev) => {
            let ok = format!("已记录：{}（第 {} 版）", status_label(&rev.decision), rev.revision);
            render_finding(&state, &user, &id, None, Some(&ok)).await
        }
        Err(e) if e.code() == ErrorCode::FindingNotFound => not_found(&user),
        // By code, never by the English sentence.
        Err(e) if e.status().is_client_error() => {
            let zh = match e.code() {
                ErrorCode::ReviewReasonTooLong => format!("理由不能超过 {} 个字。", reviews::MAX_REASON_CHARS),
                ErrorCode::CategoryUnknown | ErrorCode::CategoryInactive => "所选问题类别不存在或已停用。".to_owned(),
                ErrorCode::UnitUnknown | ErrorCode::UnitInactive => "所选责任单位不存在或已停用。".to_owned(),
                code if code.is_generic() => format!("无法记录：{e}"),
                code => format!("{}。", code.zh()),
            };
            render_finding(&state, &user, &id, Some(&zh), None).await
        }
        Err(e) => internal(e),
    }
}
