//! The console's draw pages (抽签): an admin draws who inspects which point
//! when, reviewers read the list and each draw's coverage, an admin reveals
//! the seed once the period is over. The pages call the same `app::draws`
//! service as the JSON API, so secrecy and immutability are enforced in
//! one place; assignments are never listed here before their slot ends (the
//! coverage report only shows ended slots).

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, local_time_text, page, see_other};
use crate::auth::Role;
use crate::db::{draws, reference_admin};
use crate::error::AppError;
use crate::{AppState, app};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// An operation's error for the page, by its code: Chinese first, the
/// precise detail kept. `None` for internal errors (an HTML error page).
fn message_zh(e: &AppError) -> Option<String> {
    match e {
        AppError::Draw(d) => Some(d.zh()),
        // A generic code says only the kind: the sentence says what to fix.
        e if e.status().is_client_error() && e.code().is_generic() => Some(format!("{}：{e}", e.code().zh())),
        e if e.status() == StatusCode::CONFLICT => Some(format!("现在不能这样做：{}。", e.code().zh())),
        e if e.status().is_client_error() => Some(format!("{}。", e.code().zh())),
        _ => None,
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

pub async fn list_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_list(&state, &user, None, None).await
}

async fn render_list(state: &AppState, user: &ConsoleUser, error: Option<&str>, form: Option<&Form>) -> Response {
    let data = state.db.draws_and_inspectors().await;
    let (mut rows, inspectors) = match data {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    rows.reverse(); // newest first
    let today = app::bulletins::today(&state.config.timezone, state.clock.now());
    let tomorrow = today.tomorrow().map(|d| d.to_string()).unwrap_or_default();
    let value = |k: &str, default: &str| -> String {
        form.map(|f| f.get(k)).filter(|v| !v.is_empty()).unwrap_or(default).to_owned()
    };
    let body = html! {
        (flash(error, None))
        p.muted {
            "抽签决定谁在何时检查哪个点位（无特定人员、无特定时间、无特定单位）。创建时只公布承诺值（种子与参数的 SHA-256）；\
             时段结束后揭晓种子，任何人都可用 " code { "anfang-server draw verify" } " 离线复算。同一时段可以再抽，但每一次都会列在下面。"
        }
        @if user.can(Role::Admin) {
            form.box.edit method="post" action="/console/draws" {
                (hidden_csrf(user))
                label { "开始日期" input type="date" name="from" required value=(value("from", &tomorrow)); }
                label { "结束日期" input type="date" name="to" required value=(value("to", &tomorrow)); }
                label { "访问次数" input type="number" name="visits" min="1" required value=(value("visits", "")); }
                label { "每人每天最多" input type="number" name="cap" min="1" value=(value("cap", &draws::DEFAULT_MAX_VISITS_PER_DAY.to_string())); }
                label { "同一单位间隔（天）" input type="number" name="gap" min="0" value=(value("gap", &draws::DEFAULT_MIN_DAYS_BETWEEN_SAME_UNIT.to_string())); }
                label { "提前下发（分钟，留空为当天 0 点）" input type="number" name="lead" min="0" value=(value("lead", "")); }
                fieldset style="border:0;padding:0;flex-basis:100%" {
                    legend.muted { "督查员（不选即全部在用督查员）" }
                    @for i in inspectors.iter().filter(|i| i.active) {
                        @let name = format!("inspector_{}", i.id);
                        label style="display:inline-flex;flex-direction:row;gap:.3rem;margin-right:.8rem" {
                            input type="checkbox" name=(name) value="1" checked[form.is_some_and(|f| !f.get(&name).is_empty())];
                            (i.alias)
                        }
                    }
                }
                button { "抽签" }
            }
        }
        div.scroll { table {
            tr { th { "时段" } th { "访问次数" } th { "承诺值" } th { "创建于" } th { "种子" } th {} }
            @if rows.is_empty() { tr { td colspan="6" class="muted" { "尚无抽签。" } } }
            @for d in &rows {
                tr {
                    td { (d.from) " 至 " (d.to) }
                    td { (d.visits) }
                    td { code title=(d.commitment) { (short(&d.commitment)) "…" } }
                    td { (local_time_text(state, &d.created_at)) }
                    td { (if d.revealed_at.is_some() { "已揭晓" } else { "未揭晓" }) }
                    td { a href={ "/console/draws/" (d.id) } { "详情与完成情况" } }
                }
            }
        } }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/draws", "抽签", body)).into_response()
}

/// The form's numbers: empty is "use the default", anything else must be a
/// whole number.
fn number(form: &Form, key: &str, label: &str) -> Result<Option<u32>, String> {
    match form.get(key) {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| format!("{label}须为非负整数，收到“{v}”。")),
    }
}

fn request(form: &Form, inspectors: &[reference_admin::InspectorRow]) -> Result<draws::DrawRequest, String> {
    let date = |key: &str, label: &str| {
        form.get(key)
            .parse::<jiff::civil::Date>()
            .map_err(|_| format!("{label}须为日期（如 2026-12-07），收到“{}”。", form.get(key)))
    };
    let chosen: Vec<String> = inspectors
        .iter()
        .filter(|i| !form.get(&format!("inspector_{}", i.id)).is_empty())
        .map(|i| i.alias.clone())
        .collect();
    Ok(draws::DrawRequest {
        from: date("from", "开始日期")?,
        to: date("to", "结束日期")?,
        visits: number(form, "visits", "访问次数")?.ok_or("请填写访问次数。")?,
        inspectors: (!chosen.is_empty()).then_some(chosen),
        point_kinds: None,
        districts: None,
        units: None,
        slots: None,
        min_days_between_same_unit: number(form, "gap", "同一单位间隔")?,
        max_visits_per_inspector_per_day: number(form, "cap", "每人每天最多")?,
        lead_minutes: number(form, "lead", "提前下发分钟数")?,
    })
}

pub async fn create(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let inspectors = match state.db.inspectors().await {
        Ok(i) => i,
        Err(e) => return internal(e),
    };
    let req = match request(&form, &inspectors) {
        Ok(r) => r,
        Err(m) => return render_list(&state, &user, Some(&m), Some(&form)).await,
    };
    let created =
        app::draws::create_as(&state.db, &user.caller, req, state.config.timezone_name(), state.clock.now_ms()).await;
    match created {
        Ok(summary) => see_other(&format!("/console/draws/{}", summary.id)),
        Err(e) => match message_zh(&e) {
            Some(m) => render_list(&state, &user, Some(&m), Some(&form)).await,
            None => internal(e),
        },
    }
}

pub async fn draw_page(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    render_draw(&state, &user, &id, None, None).await
}

async fn render_draw(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let data = state.db.draw_with_coverage(id.to_owned(), state.clock.now_ms()).await;
    let (d, cov) = match data {
        Ok((Some(d), Some(cov))) => (d, cov),
        Ok(_) => {
            return (
                StatusCode::NOT_FOUND,
                page(user, "/console/draws", "未找到", html! { p.err { "没有这次抽签。" } }),
            )
                .into_response();
        }
        Err(e) => return internal(e),
    };
    let body = html! {
        (flash(error, ok))
        div.box {
            dl {
                dt { "时段" } dd { (d.from) " 至 " (d.to) }
                dt { "访问次数" } dd { (d.visits) }
                dt { "承诺值" } dd { code { (d.commitment) } }
                dt { "创建于" } dd { (local_time_text(state, &d.created_at)) }
                dt { "种子" } dd {
                    @match &d.revealed_at {
                        Some(at) => { "已于 " (local_time_text(state, at)) " 揭晓" }
                        None => { "未揭晓（时段结束后方可揭晓）" }
                    }
                }
            }
            @if user.can(Role::Admin) {
                p { a href={ "/api/v1/draws/" (d.id) "/export" } { "导出参数与承诺（JSON，揭晓后含种子与全部分配）" } }
                @if d.revealed_at.is_none() {
                    form method="post" action={ "/console/draws/" (d.id) "/reveal" } {
                        (hidden_csrf(user)) button { "揭晓种子" }
                    }
                }
            }
        }
        h2 { "完成情况" }
        p {
            "截至 " (local_time_text(state, &cov.as_of)) "：已到期 " (cov.planned) " 次，完成 " (cov.done)
            " 次，未到期 " (cov.not_yet_due) " 次（未到期的任务不在此列出，以免提前泄露）。"
        }
        @for (title, key, rows) in [("按督查员", "督查员", &cov.per_inspector), ("按点位", "点位", &cov.per_point)] {
            @if !rows.is_empty() {
                h3 { (title) }
                div.scroll { table {
                    tr { th { (key) } th { "应完成" } th { "已完成" } }
                    @for r in rows { tr { td { (r.key) } td { (r.planned) } td { (r.done) } } }
                } }
            }
        }
        @if !cov.missed.is_empty() {
            h3 { "未完成的任务" }
            div.scroll { table {
                tr { th { "日期" } th { "时段" } th { "点位" } th { "督查员" } }
                @for m in &cov.missed { tr { td { (m.date) } td { (m.slot) } td { (m.point_id) } td { (m.inspector) } } }
            } }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/draws", "抽签详情", body)).into_response()
}

pub async fn reveal(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    match app::draws::reveal(&state.db, id.clone(), state.clock.now_ms()).await {
        Ok(_) => {
            render_draw(&state, &user, &id, None, Some("种子已揭晓，可导出后用 anfang-server draw verify 复算。")).await
        }
        Err(e) => match message_zh(&e) {
            Some(m) => render_draw(&state, &user, &id, Some(&m), None).await,
            None => internal(e),
        },
    }
}
