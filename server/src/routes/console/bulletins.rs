//! The console's bulletin pages (通报): compile a draft for a period, edit
//! its text, recompile, issue it under the next number of the year, and
//! download it as HTML, DOCX or JSON. The work is done by the same
//! service as the JSON API (`app::bulletins`), so invariants are checked in
//! one place; these handlers only parse forms and render pages.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, local_time_text, options, page, see_other};
use crate::AppState;
use crate::app::bulletins as ops;
use crate::auth::Role;
use crate::bulletin::period::Kind;
use crate::db::bulletins::BulletinRow;
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

/// Turns an operation's error into a message for the page. The API's
/// messages are English and precise; the console leads with Chinese and
/// keeps the detail, so nothing the compiler could act on is lost.
fn message_zh(e: &AppError) -> Option<String> {
    match e {
        AppError::Unprocessable(m) => Some(format!("输入有误：{m}")),
        AppError::Conflict { message, .. } => Some(format!("该通报已印发，不能再修改：{message}")),
        AppError::NotFound(_) => Some("没有这期通报。".into()),
        AppError::Forbidden(_) => Some("您的角色无权执行此操作（领导账号为只读）。".into()),
        _ => None,
    }
}

fn status_zh(row: &BulletinRow) -> &'static str {
    if row.status == "issued" { "已印发" } else { "草稿" }
}

fn kind_zh(kind: &str) -> &'static str {
    kind.parse::<Kind>().map(Kind::label_zh).unwrap_or("通报")
}

fn kind_options(selected: &str) -> Markup {
    let kinds = [Kind::Day, Kind::Week, Kind::Month, Kind::Custom];
    let items: Vec<(String, String)> = kinds.iter().map(|k| (k.as_str().to_owned(), k.label_zh().to_owned())).collect();
    options(&items, selected, None)
}

pub async fn list_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_list(&state, &user, None).await
}

async fn render_list(state: &AppState, user: &ConsoleUser, error: Option<&str>) -> Response {
    let rows = match state.db.bulletins(200).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let today = ops::today(&state.config.timezone, state.clock.now());
    let month_start = today.first_of_month();
    let body = html! {
        (flash(error, None))
        @if user.can(Role::Reviewer) {
            div.box {
                h2 { "编制通报" }
                p.muted { "从已采纳、已更正的发现编制草稿；日报只需起始日期，周报为起始日起 7 天，月报为起始日所在月，专报需填写截止日期。" }
                form method="post" action="/console/bulletins" class="filters" {
                    (hidden_csrf(user))
                    label { "类型" select name="kind" { (kind_options("day")) } }
                    label { "起始日期" input type="date" name="from" value=(today) required; }
                    label { "截止日期（专报）" input type="date" name="to"; }
                    button { "编制草稿" }
                }
            }
        }
        div.box {
            h2 { "导出发现" }
            form method="get" action="/api/v1/exports/findings.csv" class="filters" {
                label { "起始日期" input type="date" name="from" value=(month_start) required; }
                label { "截止日期" input type="date" name="to" value=(today) required; }
                button { "导出 CSV（Excel）" }
                " "
                button.plain formaction="/api/v1/exports/findings.geojson" { "导出 GeoJSON" }
            }
        }
        div.box.scroll {
            h2 { "通报" }
            @if rows.is_empty() {
                p.muted { "还没有通报。" }
            } @else {
                table {
                    tr { th { "期号" } th { "状态" } th { "类型" } th { "时段" } th { "标题" } th { "编制时间" } th { "下载" } }
                    @for r in &rows {
                        tr {
                            td { a href={ "/console/bulletins/" (r.id) } { (r.number.as_deref().unwrap_or("（未编号）")) } }
                            td { (status_zh(r)) }
                            td { (kind_zh(&r.kind)) }
                            td { (r.from) " 至 " (r.to) }
                            td { a href={ "/console/bulletins/" (r.id) } { (r.title) } }
                            td { (local_time_text(state, &r.compiled_at)) }
                            td { (downloads(r.id)) }
                        }
                    }
                }
            }
        }
    };
    page(user, "/console/bulletins", "通报", body).into_response()
}

fn downloads(id: i64) -> Markup {
    html! {
        a href={ "/api/v1/bulletins/" (id) "/bulletin.html" } target="_blank" { "HTML" } " · "
        a href={ "/api/v1/bulletins/" (id) "/bulletin.docx" } { "Word" } " · "
        a href={ "/api/v1/bulletins/" (id) "/bulletin.json" } target="_blank" { "JSON" }
    }
}

pub async fn compile(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let to = form.opt("to");
    let kind = form.get("kind").to_owned();
    // A date in the "to" field only means something for a custom period.
    let to = if kind == "custom" { to } else { None };
    let (tz, now) = (&state.config.timezone, state.clock.now());
    match ops::compile_draft(&state.db, tz, &user.caller, &kind, form.get("from"), to.as_deref(), now).await {
        Ok(row) => see_other(&format!("/console/bulletins/{}", row.id)),
        Err(e) => match message_zh(&e) {
            Some(m) => {
                let mut res = render_list(&state, &user, Some(&m)).await;
                *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                res
            }
            None => internal(e),
        },
    }
}

fn parse_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

pub async fn bulletin_page(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    render_bulletin(&state, &user, &id, None, None).await
}

async fn render_bulletin(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let not_found = || {
        (StatusCode::NOT_FOUND, page(user, "/console/bulletins", "未找到", html! { p.err { "没有这期通报。" } }))
            .into_response()
    };
    let Some(id) = parse_id(id) else { return not_found() };
    let row = match ops::load(&state.db, id).await {
        Ok(r) => r,
        Err(AppError::NotFound(_)) => return not_found(),
        Err(e) => return internal(e),
    };
    let body = html! {
        (flash(error, ok))
        div.box { dl {
            dt { "期号" } dd { (row.number.as_deref().unwrap_or("（印发时编号）")) }
            dt { "状态" } dd { (status_zh(&row)) }
            dt { "类型" } dd { (kind_zh(&row.kind)) }
            dt { "时段" } dd { (row.from) " 至 " (row.to) }
            dt { "编制于" } dd { (local_time_text(state, &row.compiled_at)) }
            @if let (Some(at), Some(hash)) = (&row.issued_at, &row.content_hash) {
                dt { "印发于" } dd { (local_time_text(state, at)) }
                dt { "内容哈希" } dd {
                    code { (hash) } br;
                    span.muted { "JSON 格式文件的 SHA-256，可据此核对印发内容未被改动。" }
                }
            }
            dt { "下载" } dd { (downloads(row.id)) }
        } }
        @if row.status != "issued" && user.can(Role::Reviewer) {
            div.box {
                h2 { "编辑草稿" }
                form method="post" action={ "/console/bulletins/" (id) } class="forms" style="display:flex;flex-direction:column;gap:.5rem" {
                    (hidden_csrf(user))
                    label { "标题" br; input name="title" value=(row.title) required style="width:100%"; }
                    label { "导语" br; textarea name="lead" rows="4" style="width:100%" { (row.lead) } }
                    label { "结束语" br; textarea name="closing" rows="3" style="width:100%" { (row.closing) } }
                    label { "送（分送范围）" br; textarea name="distribution" rows="2" style="width:100%" { (row.distribution) } }
                    div { button { "保存" } }
                }
                form method="post" action={ "/console/bulletins/" (id) "/recompile" } style="display:inline" {
                    (hidden_csrf(user)) button.plain { "按最新审核结果重新编制" }
                }
                " "
                form method="post" action={ "/console/bulletins/" (id) "/issue" } style="display:inline"
                    onsubmit="return confirm('印发后内容冻结并取得本年度下一期号，不能再修改。确定印发？')" {
                    (hidden_csrf(user)) button { "印发" }
                }
            }
        }
        div.box {
            h2 { "预览" }
            iframe src={ "/api/v1/bulletins/" (id) "/bulletin.html" } title="通报预览"
                style="width:100%;height:80vh;border:1px solid #ddd;background:#fff" {}
        }
    };
    let title = match &row.number {
        Some(n) => format!("通报 {n}"),
        None => format!("通报草稿 #{}", row.id),
    };
    page(user, "/console/bulletins", &title, body).into_response()
}

/// Shows the bulletin again after an operation, with its outcome.
async fn after(state: &AppState, user: &ConsoleUser, id: &str, result: Result<String, AppError>) -> Response {
    match result {
        Ok(ok) => render_bulletin(state, user, id, None, Some(&ok)).await,
        Err(e) => match message_zh(&e) {
            Some(m) => {
                let mut res = render_bulletin(state, user, id, Some(&m), None).await;
                if res.status() == StatusCode::OK {
                    *res.status_mut() = e.status();
                }
                res
            }
            None => internal(e),
        },
    }
}

pub async fn save(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>, form: Form) -> Response {
    let Some(n) = parse_id(&id) else { return render_bulletin(&state, &user, &id, None, None).await };
    let edit = ops::Edit {
        title: Some(form.get("title").to_owned()),
        lead: Some(form.get("lead").to_owned()),
        closing: Some(form.get("closing").to_owned()),
        distribution: Some(form.get("distribution").to_owned()),
    };
    let result = ops::edit_text(&state.db, n, edit, state.clock.now()).await.map(|_| "已保存。".to_owned());
    after(&state, &user, &id, result).await
}

pub async fn recompile(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let Some(n) = parse_id(&id) else { return render_bulletin(&state, &user, &id, None, None).await };
    let result = ops::recompile_draft(&state.db, &state.config.timezone, n, state.clock.now())
        .await
        .map(|_| "已按最新审核结果重新编制。".to_owned());
    after(&state, &user, &id, result).await
}

pub async fn issue(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let Some(n) = parse_id(&id) else { return render_bulletin(&state, &user, &id, None, None).await };
    let result = ops::issue_draft(&state.db, &state.config.timezone, &user.caller, n, state.clock.now())
        .await
        .map(|i| format!("已印发：{}。", i.number));
    after(&state, &user, &id, result).await
}
