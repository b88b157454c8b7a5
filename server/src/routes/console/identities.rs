//! The console's identity pages (admin only): who is behind each inspector's
//! alias, and the audit log of every look at it.
//!
//! Reading an identity is a POST, not a link: it writes an audit-log entry
//! (through `db::identities`, in the same transaction as the read), and a
//! GET could be prefetched or replayed from the browser history without the
//! admin deciding to look. The list page itself shows no identity at all.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, local_time_text, page};
use crate::db::identities::{Identity, IdentityInput};
use crate::routes::identity::actor;
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

/// How many audit entries the page lists (the API pages through all).
const AUDIT_ROWS: i64 = 200;

fn action_zh(action: &str) -> &'static str {
    match action {
        "read" => "查看",
        "write" => "登记/修改",
        _ => "其他",
    }
}

pub async fn identities_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render(&state, &user, None, None, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    shown: Option<&Identity>,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let data = state.db.inspectors_and_audit_log(AUDIT_ROWS).await;
    let (inspectors, audit) = match data {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let aliases: HashMap<i64, &str> = inspectors.iter().map(|i| (i.id, i.alias.as_str())).collect();
    let body = html! {
        (flash(error, ok))
        p.muted {
            "化名与真实身份的对应只有管理员可见。每一次查看和登记都会写入下方审计日志，\
             日志不能修改或删除。请只在确有必要时查看。"
        }
        @if let Some(id) = shown {
            div.box {
                h2 style="margin-top:0" {
                    (if id.alias.is_empty() { aliases.get(&id.id).copied().unwrap_or("?") } else { &id.alias })
                }
                dl {
                    dt { "真实姓名" } dd { (id.real_name.as_deref().filter(|n| !n.is_empty()).unwrap_or("（未登记）")) }
                    dt { "联系方式" } dd { (id.contact.as_deref().filter(|c| !c.is_empty()).unwrap_or("—")) }
                    dt { "登记于" } dd { (id.updated_at.as_deref().map(|t| local_time_text(state, t)).unwrap_or_else(|| "—".into())) }
                }
                form.edit method="post" action={ "/console/identities/" (id.id) } style="margin-top:.8rem" {
                    (hidden_csrf(user))
                    label { "真实姓名" input name="real_name" required maxlength="64" value=(id.real_name.as_deref().unwrap_or("")); }
                    label { "联系方式" input name="contact" maxlength="128" value=(id.contact.as_deref().unwrap_or("")); }
                    button { "保存（记入审计日志）" }
                }
            }
        }
        div.scroll { table {
            tr { th { "化名" } th { "状态" } th {} }
            @for i in &inspectors {
                tr {
                    td { (i.alias) }
                    td { (if i.active { "在用" } else { "停用" }) }
                    td {
                        form method="post" action={ "/console/identities/" (i.id) "/read" } {
                            (hidden_csrf(user)) button.plain { "查看真实身份" }
                        }
                    }
                }
            }
        } }
        h2 { "审计日志" }
        div.scroll { table {
            tr { th { "时间" } th { "操作人" } th { "操作" } th { "督查员" } th { "途径" } }
            @if audit.is_empty() { tr { td colspan="5" class="muted" { "尚无记录。" } } }
            @for e in &audit {
                tr {
                    td { (local_time_text(state, &e.at)) }
                    td { (e.actor) }
                    td { (action_zh(&e.action)) }
                    td { (aliases.get(&e.inspector_id).copied().unwrap_or("?")) }
                    td { code { (e.route) } }
                }
            }
        } }
        p.muted { "显示最近 " (AUDIT_ROWS) " 条；完整日志见 " code { "GET /api/v1/audit/identity-reads" } "。" }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/identities", "身份与审计", body)).into_response()
}

fn inspector_id(id: &str) -> Option<i64> {
    id.parse().ok()
}

/// Shows one identity; the read is logged before anything is rendered.
pub async fn read(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let Some(id) = inspector_id(&id) else {
        return render(&state, &user, None, Some("没有这名督查员。"), None).await;
    };
    let who = actor(&user.caller, "POST /console/identities/{id}/read");
    match app::identities::read(&state.db, id, who, state.clock.now()).await {
        Ok(identity) => render(&state, &user, Some(&identity), None, None).await,
        Err(e) if e.code() == ErrorCode::InspectorNotFound => {
            render(&state, &user, None, Some(&format!("{}。", e.code().zh())), None).await
        }
        Err(e) => internal(e),
    }
}

/// Records or replaces who an inspector is.
pub async fn save(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>, form: Form) -> Response {
    let Some(id) = inspector_id(&id) else {
        return render(&state, &user, None, Some("没有这名督查员。"), None).await;
    };
    let input = IdentityInput { real_name: form.get("real_name").to_owned(), contact: form.get("contact").to_owned() };
    let typed = (input.real_name.clone(), input.contact.clone());
    let who = actor(&user.caller, "POST /console/identities/{id}");
    match app::identities::set(&state.db, id, input, who, state.clock.now()).await {
        Ok(identity) => render(&state, &user, Some(&identity), None, Some("已保存。")).await,
        Err(e) if e.code() == ErrorCode::InspectorNotFound => {
            render(&state, &user, None, Some(&format!("{}。", e.code().zh())), None).await
        }
        // By code, never by the English sentence.
        Err(e) if e.status().is_client_error() => {
            let m = format!("{}。", e.code().zh());
            // The form comes back with what was typed (nothing was saved or read).
            let typed = Identity {
                id,
                alias: String::new(),
                real_name: Some(typed.0),
                contact: Some(typed.1),
                updated_at: None,
            };
            render(&state, &user, Some(&typed), Some(&m), None).await
        }
        Err(e) => internal(e),
    }
}
