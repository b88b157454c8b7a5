//! The console's draw pages (抽签): an admin draws who inspects which point
//! when, reviewers read the list and each draw's coverage, an admin reveals
//! the seed once the period is over. The pages call the same `db::draws`
//! functions as the JSON API, so secrecy and immutability are enforced in
//! one place; assignments are never listed here before their slot ends (the
//! coverage report only shows ended slots).

use super::{ConsoleUser, Form, esc, flash, hidden_csrf, internal, local_time_text, page, see_other};
use crate::AppState;
use crate::auth::Role;
use crate::db::{draws, reference_admin};
use crate::error::AppError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

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
    let data = state.db.read(|c| Ok((draws::list(c, None, None)?, reference_admin::inspectors(c)?))).await;
    let (mut rows, inspectors) = match data {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    rows.reverse(); // newest first
    let mut body = flash(error, None);
    body.push_str(
        "<p class=\"muted\">抽签决定谁在何时检查哪个点位（无特定人员、无特定时间、无特定单位）。创建时只公布承诺值（种子与参数的 SHA-256）；\
         时段结束后揭晓种子，任何人都可用 <code>anfang-server draw verify</code> 离线复算。同一时段可以再抽，但每一次都会列在下面。</p>",
    );
    if user.can(Role::Admin) {
        let value = |k: &str, default: &str| esc(form.map(|f| f.get(k)).filter(|v| !v.is_empty()).unwrap_or(default));
        let tomorrow = crate::routes::bulletins::today(state).tomorrow().map(|d| d.to_string()).unwrap_or_default();
        let _ = write!(
            body,
            "<form class=\"box edit\" method=\"post\" action=\"/console/draws\">{csrf}\
             <label>开始日期<input type=\"date\" name=\"from\" required value=\"{from}\"></label>\
             <label>结束日期<input type=\"date\" name=\"to\" required value=\"{to}\"></label>\
             <label>访问次数<input type=\"number\" name=\"visits\" min=\"1\" required value=\"{visits}\"></label>\
             <label>每人每天最多<input type=\"number\" name=\"cap\" min=\"1\" value=\"{cap}\"></label>\
             <label>同一单位间隔（天）<input type=\"number\" name=\"gap\" min=\"0\" value=\"{gap}\"></label>\
             <label>提前下发（分钟，留空为当天 0 点）<input type=\"number\" name=\"lead\" min=\"0\" value=\"{lead}\"></label>\
             <fieldset style=\"border:0;padding:0;flex-basis:100%\"><legend class=\"muted\">督查员（不选即全部在用督查员）</legend>",
            csrf = hidden_csrf(user),
            from = value("from", &tomorrow),
            to = value("to", &tomorrow),
            visits = value("visits", ""),
            cap = value("cap", &draws::DEFAULT_MAX_VISITS_PER_DAY.to_string()),
            gap = value("gap", &draws::DEFAULT_MIN_DAYS_BETWEEN_SAME_UNIT.to_string()),
            lead = value("lead", ""),
        );
        for i in inspectors.iter().filter(|i| i.active) {
            let name = format!("inspector_{}", i.id);
            let checked = if form.is_some_and(|f| !f.get(&name).is_empty()) { " checked" } else { "" };
            let _ = write!(
                body,
                "<label style=\"display:inline-flex;flex-direction:row;gap:.3rem;margin-right:.8rem\"><input type=\"checkbox\" name=\"{name}\" value=\"1\"{checked}>{}</label>",
                esc(&i.alias)
            );
        }
        body.push_str("</fieldset><button>抽签</button></form>");
    }
    body.push_str("<div class=\"scroll\"><table><tr><th>时段</th><th>访问次数</th><th>承诺值</th><th>创建于</th><th>种子</th><th></th></tr>");
    if rows.is_empty() {
        body.push_str("<tr><td colspan=\"6\" class=\"muted\">尚无抽签。</td></tr>");
    }
    for d in &rows {
        let _ = write!(
            body,
            "<tr><td>{from} 至 {to}</td><td>{visits}</td><td><code title=\"{commitment}\">{short}…</code></td><td>{created}</td><td>{revealed}</td>\
             <td><a href=\"/console/draws/{id}\">详情与完成情况</a></td></tr>",
            from = esc(&d.from),
            to = esc(&d.to),
            visits = d.visits,
            commitment = esc(&d.commitment),
            short = esc(short(&d.commitment)),
            created = esc(&local_time_text(state, &d.created_at)),
            revealed = if d.revealed_at.is_some() { "已揭晓" } else { "未揭晓" },
            id = d.id,
        );
    }
    body.push_str("</table></div>");
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/draws", "抽签", &body)).into_response()
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
    let inspectors = match state.db.read(reference_admin::inspectors).await {
        Ok(i) => i,
        Err(e) => return internal(e),
    };
    let req = match request(&form, &inspectors) {
        Ok(r) => r,
        Err(m) => return render_list(&state, &user, Some(&m), Some(&form)).await,
    };
    let tz = state.config.timezone_name();
    let now_ms = state.config.now().as_millisecond();
    let by = user.caller.user_id;
    let created = state
        .db
        .write(move |c| {
            let params = draws::resolve(c, &req, &tz)?;
            draws::create(c, params, Some(by), now_ms)
        })
        .await;
    match created {
        Ok(summary) => {
            tracing::info!(draw = %summary.id, visits = summary.visits, "draw created in the console");
            see_other(&format!("/console/draws/{}", summary.id))
        }
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
    let now_ms = state.config.now().as_millisecond();
    let lookup = id.to_owned();
    let data = state
        .db
        .read(move |c| {
            let summary = draws::get(c, &lookup)?;
            let coverage = match &summary {
                Some(_) => Some(draws::coverage(c, &lookup, now_ms)?),
                None => None,
            };
            Ok((summary, coverage))
        })
        .await;
    let (d, cov) = match data {
        Ok((Some(d), Some(cov))) => (d, cov),
        Ok(_) => {
            return (
                StatusCode::NOT_FOUND,
                page(user, "/console/draws", "未找到", "<p class=\"err\">没有这次抽签。</p>"),
            )
                .into_response();
        }
        Err(e) => return internal(e),
    };
    let mut body = flash(error, ok);
    let _ = write!(
        body,
        "<div class=\"box\"><dl><dt>时段</dt><dd>{from} 至 {to}</dd><dt>访问次数</dt><dd>{visits}</dd>\
         <dt>承诺值</dt><dd><code>{commitment}</code></dd><dt>创建于</dt><dd>{created}</dd><dt>种子</dt><dd>{revealed}</dd></dl>",
        from = esc(&d.from),
        to = esc(&d.to),
        visits = d.visits,
        commitment = esc(&d.commitment),
        created = esc(&local_time_text(state, &d.created_at)),
        revealed = match &d.revealed_at {
            Some(at) => format!("已于 {} 揭晓", esc(&local_time_text(state, at))),
            None => "未揭晓（时段结束后方可揭晓）".into(),
        },
    );
    if user.can(Role::Admin) {
        let _ = write!(
            body,
            "<p><a href=\"/api/v1/draws/{}/export\">导出参数与承诺（JSON，揭晓后含种子与全部分配）</a></p>",
            d.id
        );
        if d.revealed_at.is_none() {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/console/draws/{}/reveal\">{}<button>揭晓种子</button></form>",
                d.id,
                hidden_csrf(user)
            );
        }
    }
    body.push_str("</div>");
    let _ = write!(
        body,
        "<h2>完成情况</h2><p>截至 {as_of}：已到期 {due} 次，完成 {done} 次，未到期 {later} 次（未到期的任务不在此列出，以免提前泄露）。</p>",
        as_of = esc(&local_time_text(state, &cov.as_of)),
        due = cov.planned,
        done = cov.done,
        later = cov.not_yet_due,
    );
    for (title, key, rows) in [("按督查员", "督查员", &cov.per_inspector), ("按点位", "点位", &cov.per_point)]
    {
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            body,
            "<h3>{title}</h3><div class=\"scroll\"><table><tr><th>{key}</th><th>应完成</th><th>已完成</th></tr>"
        );
        for r in rows {
            let _ = write!(body, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&r.key), r.planned, r.done);
        }
        body.push_str("</table></div>");
    }
    if !cov.missed.is_empty() {
        body.push_str("<h3>未完成的任务</h3><div class=\"scroll\"><table><tr><th>日期</th><th>时段</th><th>点位</th><th>督查员</th></tr>");
        for m in &cov.missed {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.date),
                esc(&m.slot),
                esc(&m.point_id),
                esc(&m.inspector)
            );
        }
        body.push_str("</table></div>");
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/draws", "抽签详情", &body)).into_response()
}

pub async fn reveal(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let now_ms = state.config.now().as_millisecond();
    let lookup = id.clone();
    match state.db.write(move |c| draws::reveal(c, &lookup, now_ms)).await {
        Ok(_) => {
            render_draw(&state, &user, &id, None, Some("种子已揭晓，可导出后用 anfang-server draw verify 复算。")).await
        }
        Err(e) => match message_zh(&e) {
            Some(m) => render_draw(&state, &user, &id, Some(&m), None).await,
            None => internal(e),
        },
    }
}
