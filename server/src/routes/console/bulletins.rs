//! The console's bulletin pages (通报): compile a draft for a period, edit
//! its text, recompile, issue it under the next number of the year, and
//! download it as HTML, DOCX or JSON. The work is done by the same
//! operations as the JSON API (`routes::bulletins`), so roles and
//! invariants are checked in one place; these handlers only parse forms and
//! render pages.

use super::{ConsoleUser, Form, esc, flash, hidden_csrf, internal, local_time_text, options, page, see_other};
use crate::AppState;
use crate::auth::Role;
use crate::bulletin::period::Kind;
use crate::db::bulletins::{self as db, BulletinRow};
use crate::error::AppError;
use crate::routes::bulletins as ops;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

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

fn kind_options(selected: &str) -> String {
    let kinds = [Kind::Day, Kind::Week, Kind::Month, Kind::Custom];
    let items: Vec<(String, String)> = kinds.iter().map(|k| (k.as_str().to_owned(), k.label_zh().to_owned())).collect();
    options(&items, selected, None)
}

pub async fn list_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_list(&state, &user, None).await
}

async fn render_list(state: &AppState, user: &ConsoleUser, error: Option<&str>) -> Response {
    let rows = match state.db.read(|c| db::list(c, 200)).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let today = ops::today(state);
    let month_start = today.first_of_month();
    let mut body = flash(error, None);
    if user.can(Role::Reviewer) {
        let _ = write!(
            body,
            "<div class=\"box\"><h2>编制通报</h2><p class=\"muted\">从已采纳、已更正的发现编制草稿；日报只需起始日期，周报为起始日起 7 天，月报为起始日所在月，专报需填写截止日期。</p>\
             <form method=\"post\" action=\"/console/bulletins\" class=\"filters\">{csrf}\
             <label>类型<select name=\"kind\">{kinds}</select></label>\
             <label>起始日期<input type=\"date\" name=\"from\" value=\"{today}\" required></label>\
             <label>截止日期（专报）<input type=\"date\" name=\"to\"></label>\
             <button>编制草稿</button></form></div>",
            csrf = hidden_csrf(user),
            kinds = kind_options("day"),
        );
    }
    let _ = write!(
        body,
        "<div class=\"box\"><h2>导出发现</h2><form method=\"get\" action=\"/api/v1/exports/findings.csv\" class=\"filters\">\
         <label>起始日期<input type=\"date\" name=\"from\" value=\"{month_start}\" required></label>\
         <label>截止日期<input type=\"date\" name=\"to\" value=\"{today}\" required></label>\
         <button>导出 CSV（Excel）</button>\
         <button class=\"plain\" formaction=\"/api/v1/exports/findings.geojson\">导出 GeoJSON</button></form></div>"
    );
    body.push_str("<div class=\"box scroll\"><h2>通报</h2>");
    if rows.is_empty() {
        body.push_str("<p class=\"muted\">还没有通报。</p>");
    } else {
        body.push_str("<table><tr><th>期号</th><th>状态</th><th>类型</th><th>时段</th><th>标题</th><th>编制时间</th><th>下载</th></tr>");
        for r in &rows {
            let _ = write!(
                body,
                "<tr><td><a href=\"/console/bulletins/{id}\">{number}</a></td><td>{status}</td><td>{kind}</td><td>{from} 至 {to}</td>\
                 <td><a href=\"/console/bulletins/{id}\">{title}</a></td><td>{compiled}</td><td>{downloads}</td></tr>",
                id = r.id,
                number = esc(r.number.as_deref().unwrap_or("（未编号）")),
                status = status_zh(r),
                kind = kind_zh(&r.kind),
                from = esc(&r.from),
                to = esc(&r.to),
                title = esc(&r.title),
                compiled = esc(&local_time_text(state, &r.compiled_at)),
                downloads = downloads(r.id),
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</div>");
    page(user, "/console/bulletins", "通报", &body).into_response()
}

fn downloads(id: i64) -> String {
    format!(
        "<a href=\"/api/v1/bulletins/{id}/bulletin.html\" target=\"_blank\">HTML</a> · \
         <a href=\"/api/v1/bulletins/{id}/bulletin.docx\">Word</a> · \
         <a href=\"/api/v1/bulletins/{id}/bulletin.json\" target=\"_blank\">JSON</a>"
    )
}

pub async fn compile(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let to = form.opt("to");
    let kind = form.get("kind").to_owned();
    // A date in the "to" field only means something for a custom period.
    let to = if kind == "custom" { to } else { None };
    match ops::compile_draft(&state, &user.caller, &kind, form.get("from"), to.as_deref()).await {
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
        (StatusCode::NOT_FOUND, page(user, "/console/bulletins", "未找到", "<p class=\"err\">没有这期通报。</p>"))
            .into_response()
    };
    let Some(id) = parse_id(id) else { return not_found() };
    let row = match ops::load(state, id).await {
        Ok(r) => r,
        Err(AppError::NotFound(_)) => return not_found(),
        Err(e) => return internal(e),
    };
    let mut body = flash(error, ok);
    let _ = write!(
        body,
        "<div class=\"box\"><dl><dt>期号</dt><dd>{number}</dd><dt>状态</dt><dd>{status}</dd><dt>类型</dt><dd>{kind}</dd>\
         <dt>时段</dt><dd>{from} 至 {to}</dd><dt>编制于</dt><dd>{compiled}</dd>",
        number = esc(row.number.as_deref().unwrap_or("（印发时编号）")),
        status = status_zh(&row),
        kind = kind_zh(&row.kind),
        from = esc(&row.from),
        to = esc(&row.to),
        compiled = esc(&local_time_text(state, &row.compiled_at)),
    );
    if let (Some(at), Some(hash)) = (&row.issued_at, &row.content_hash) {
        let _ = write!(
            body,
            "<dt>印发于</dt><dd>{}</dd><dt>内容哈希</dt><dd><code>{}</code><br><span class=\"muted\">JSON 格式文件的 SHA-256，可据此核对印发内容未被改动。</span></dd>",
            esc(&local_time_text(state, at)),
            esc(hash)
        );
    }
    let _ = write!(body, "<dt>下载</dt><dd>{}</dd></dl></div>", downloads(row.id));
    if row.status != "issued" && user.can(Role::Reviewer) {
        let _ = write!(
            body,
            "<div class=\"box\"><h2>编辑草稿</h2><form method=\"post\" action=\"/console/bulletins/{id}\" class=\"forms\" style=\"display:flex;flex-direction:column;gap:.5rem\">{csrf}\
             <label>标题<br><input name=\"title\" value=\"{title}\" required style=\"width:100%\"></label>\
             <label>导语<br><textarea name=\"lead\" rows=\"4\" style=\"width:100%\">{lead}</textarea></label>\
             <label>结束语<br><textarea name=\"closing\" rows=\"3\" style=\"width:100%\">{closing}</textarea></label>\
             <label>送（分送范围）<br><textarea name=\"distribution\" rows=\"2\" style=\"width:100%\">{distribution}</textarea></label>\
             <div><button>保存</button></div></form>\
             <form method=\"post\" action=\"/console/bulletins/{id}/recompile\" style=\"display:inline\">{csrf}<button class=\"plain\">按最新审核结果重新编制</button></form> \
             <form method=\"post\" action=\"/console/bulletins/{id}/issue\" style=\"display:inline\" \
             onsubmit=\"return confirm('印发后内容冻结并取得本年度下一期号，不能再修改。确定印发？')\">{csrf}<button>印发</button></form></div>",
            csrf = hidden_csrf(user),
            title = esc(&row.title),
            lead = esc(&row.lead),
            closing = esc(&row.closing),
            distribution = esc(&row.distribution),
        );
    }
    let _ = write!(
        body,
        "<div class=\"box\"><h2>预览</h2><iframe src=\"/api/v1/bulletins/{id}/bulletin.html\" title=\"通报预览\" \
         style=\"width:100%;height:80vh;border:1px solid #ddd;background:#fff\"></iframe></div>"
    );
    let title = match &row.number {
        Some(n) => format!("通报 {n}"),
        None => format!("通报草稿 #{}", row.id),
    };
    page(user, "/console/bulletins", &title, &body).into_response()
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
    let result = ops::edit_text(&state, &user.caller, n, edit).await.map(|_| "已保存。".to_owned());
    after(&state, &user, &id, result).await
}

pub async fn recompile(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let Some(n) = parse_id(&id) else { return render_bulletin(&state, &user, &id, None, None).await };
    let result = ops::recompile_draft(&state, &user.caller, n).await.map(|_| "已按最新审核结果重新编制。".to_owned());
    after(&state, &user, &id, result).await
}

pub async fn issue(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let Some(n) = parse_id(&id) else { return render_bulletin(&state, &user, &id, None, None).await };
    let result = ops::issue_draft(&state, &user.caller, n).await.map(|i| format!("已印发：{}。", i.number));
    after(&state, &user, &id, result).await
}
