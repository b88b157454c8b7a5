//! 通知记录: every delivery of the outbox with where it stands. Leaders
//! read; admins may send a failed one again. Targets are masked, as in the
//! API (who was told, not the address or a robot's key).

use super::{ConsoleUser, flash, hidden_csrf, internal, local_time, options, page, refusal_zh};
use crate::auth::Role;
use crate::db::notices::{NoticeFilter, NoticeState};
use crate::db::outbox::Channel;
use crate::{AppState, app};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

const PAGE: usize = 50;

pub(super) fn kind_zh(kind: &str) -> &'static str {
    match kind {
        "digest" => "整改通知",
        "reminder" => "期限提醒",
        "urge" => "催办",
        "overdue" => "逾期提醒",
        "supervision" => "督办",
        "test" => "测试通知",
        _ => "其他",
    }
}

fn channel_zh(c: Channel) -> &'static str {
    match c {
        Channel::Email => "邮件",
        Channel::Wecom => "企业微信",
        Channel::Dingtalk => "钉钉",
        Channel::Json => "通用 JSON",
    }
}

fn state_badge(s: NoticeState) -> maud::Markup {
    let (class, label) = match s {
        NoticeState::Pending => ("st st-pending", "待发送"),
        NoticeState::Sent => ("st st-accept", "已发送"),
        NoticeState::Failed => ("st st-reject", "发送失败"),
    };
    html! { span class=(class) { (label) } }
}

pub async fn notices_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&state, &user, &q, None, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    q: &HashMap<String, String>,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (state_f, unit_f, kind_f) = (get("state"), get("unit"), get("kind"));
    let filter = NoticeFilter {
        state: state_f.as_deref().and_then(NoticeState::parse),
        unit: unit_f.clone(),
        kind: kind_f.clone(),
        before: get("next").and_then(|n| n.parse().ok()),
        limit: PAGE + 1,
        ..NoticeFilter::default()
    };
    let loaded = async {
        let items = app::notices::list(&state.db, filter).await?;
        let units = state.db.units().await?;
        Ok::<_, crate::error::AppError>((items, units))
    };
    let (mut items, units) = match loaded.await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    let next_page = if more && let Some(last) = items.last() {
        let mut params: Vec<(&str, String)> = vec![("next", last.id.to_string())];
        for (k, v) in [("state", &state_f), ("unit", &unit_f), ("kind", &kind_f)] {
            if let Some(v) = v {
                params.push((k, v.clone()));
            }
        }
        serde_urlencoded::to_string(params).ok()
    } else {
        None
    };
    let unit_options: Vec<(String, String)> = units.iter().map(|u| (u.id.clone(), u.name.clone())).collect();
    let state_options: Vec<(String, String)> =
        [("pending", "待发送"), ("sent", "已发送"), ("failed", "发送失败")].map(|(v, l)| (v.into(), l.into())).to_vec();
    let kind_options: Vec<(String, String)> = ["digest", "reminder", "urge", "overdue", "supervision", "test"]
        .map(|k| (k.to_owned(), kind_zh(k).to_owned()))
        .to_vec();
    let admin = user.can(Role::Admin);
    let body = html! {
        (flash(error, ok))
        form.filters method="get" action="/console/notices" {
            label { "状态" select name="state" { (options(&state_options, state_f.as_deref().unwrap_or(""), Some("全部"))) } }
            label { "责任单位" select name="unit" { (options(&unit_options, unit_f.as_deref().unwrap_or(""), Some("全部"))) } }
            label { "类型" select name="kind" { (options(&kind_options, kind_f.as_deref().unwrap_or(""), Some("全部"))) } }
            button.plain { "筛选" }
        }
        div.scroll { table {
            tr {
                th { "生成时间" } th { "类型" } th { "单位" } th { "渠道" } th { "发送对象" } th { "状态" }
                th { "尝试次数" } th { "最后错误" } th { "发送时间" }
                @if admin { th {} }
            }
            @for n in &items {
                tr {
                    td { (local_time(state, n.created_at)) }
                    td {
                        (kind_zh(&n.kind))
                        details { summary { "内容" } pre.notice { (n.subject) "\n\n" (n.body) } }
                    }
                    td { (n.unit_name) }
                    td { (channel_zh(n.channel)) }
                    td { (n.contact_name.as_deref().unwrap_or("")) br; code { (n.target) } }
                    td {
                        (state_badge(n.state))
                        @if let Some(at) = n.next_attempt_at { br; span.muted { "下次 " (local_time(state, at)) } }
                    }
                    td { (n.attempts) }
                    td { span.muted { (n.last_error.as_deref().unwrap_or("")) } }
                    td { (n.sent_at.map(|t| local_time(state, t)).unwrap_or_default()) }
                    @if admin {
                        td {
                            @if n.state == NoticeState::Failed {
                                form method="post" action={ "/console/notices/" (n.id) "/retry" } {
                                    (hidden_csrf(user)) button.plain { "重新发送" }
                                }
                            }
                        }
                    }
                }
            }
            @if items.is_empty() { tr { td colspan="10" { span.muted { "没有符合条件的通知。" } } } }
        } }
        @if let Some(qs) = next_page {
            p.pager { a href={ "/console/notices?" (qs) } { "下一页 →" } }
        }
        p.muted {
            "发送失败的通知会自动重试（间隔 1、2、4… 分钟，最长 6 小时），重试次数用完后标记为发送失败。"
            "系统保证每条通知至少送达一次；服务器在发出后、记录前中断时，对方可能收到两次（可按事件编号去重）。"
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/notices", "通知记录", body)).into_response()
}

pub async fn retry(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let none = HashMap::new();
    let Ok(id) = id.parse::<i64>() else {
        return render(&state, &user, &none, Some("没有这条通知记录。"), None).await;
    };
    match app::notices::retry(&state.db, id, state.clock.now()).await {
        Ok(_) => {
            state.notice_wake.notify_one();
            render(&state, &user, &none, None, Some("已重新加入发送队列。")).await
        }
        Err(e) if e.status().is_client_error() => {
            render(&state, &user, &none, Some(&format!("无法重新发送：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}
