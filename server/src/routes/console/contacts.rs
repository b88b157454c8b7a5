//! A unit's contacts (联系人, 点长, 分管领导): leaders read the list;
//! admins add, edit, deactivate, and send a test notice to one. The
//! webhook secret is write-only: the edit form never shows it, and an empty
//! secret field keeps the stored one.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, options, page, refusal_zh};
use crate::app::contacts::{ContactInput, WebhookKind};
use crate::auth::Role;
use crate::db::contacts::Contact;
use crate::db::outbox::ContactRole;
use crate::{AppState, app};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::HashMap;

pub(super) fn role_zh(role: ContactRole) -> &'static str {
    match role {
        ContactRole::Contact => "联系人",
        ContactRole::PointChief => "点长",
        ContactRole::Leader => "分管领导",
    }
}

fn role_options() -> Vec<(String, String)> {
    [ContactRole::Contact, ContactRole::PointChief, ContactRole::Leader]
        .into_iter()
        .map(|r| (r.as_str().to_owned(), role_zh(r).to_owned()))
        .collect()
}

fn webhook_options() -> Vec<(String, String)> {
    [WebhookKind::Wecom, WebhookKind::Dingtalk, WebhookKind::Json]
        .into_iter()
        .map(|k| (k.channel().as_str().to_owned(), k.label_zh().to_owned()))
        .collect()
}

/// What the page shows: which unit, which contact is being edited, and the
/// form as last sent (kept on a refusal, so nothing typed is lost).
#[derive(Default)]
struct View<'a> {
    unit: Option<String>,
    edit: Option<i64>,
    error: Option<&'a str>,
    ok: Option<&'a str>,
    sent: Option<&'a Form>,
}

pub async fn contacts_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let unit = q.get("unit").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let edit = q.get("edit").and_then(|e| e.parse().ok());
    render(&state, &user, View { unit, edit, ..View::default() }).await
}

/// The contact's fields for the form: the one being edited, or what was just sent.
fn field(sent: Option<&Form>, editing: Option<&Contact>, key: &str) -> String {
    if let Some(f) = sent {
        return f.get(key).to_owned();
    }
    let Some(c) = editing else { return String::new() };
    match key {
        "name" => c.name.clone(),
        "role" => c.role.as_str().to_owned(),
        "point_id" => c.point_id.clone().unwrap_or_default(),
        "phone" => c.phone.clone().unwrap_or_default(),
        "email" => c.email.clone().unwrap_or_default(),
        "webhook_kind" => c.webhook_kind.map(|k| k.channel().as_str().to_owned()).unwrap_or_default(),
        "webhook_url" => c.webhook_url.clone().unwrap_or_default(),
        "active" => if c.active { "1" } else { "0" }.to_owned(),
        _ => String::new(),
    }
}

async fn render(state: &AppState, user: &ConsoleUser, v: View<'_>) -> Response {
    let loaded = async {
        let contacts = state.db.contacts(v.unit.clone()).await?;
        let (points, units) = state.db.points_and_units().await?;
        Ok::<_, crate::error::AppError>((contacts, points, units))
    };
    let (contacts, points, units) = match loaded.await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let admin = user.can(Role::Admin);
    let unit_name =
        |id: &str| units.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_else(|| id.to_owned());
    let point_name = |id: &str| {
        points.iter().find(|p| p.point.id == id).map(|p| p.point.name.clone()).unwrap_or_else(|| id.to_owned())
    };
    let unit_options: Vec<(String, String)> =
        units.iter().filter(|u| u.active).map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect();
    let editing = v.edit.and_then(|id| contacts.iter().find(|c| c.id == id));
    let form_unit = editing.map(|c| c.unit_id.clone()).or_else(|| v.unit.clone());
    let point_options: Vec<(String, String)> = points
        .iter()
        .filter(|p| p.point.active && form_unit.as_deref().is_none_or(|u| p.point.unit_id == u))
        .map(|p| (p.point.id.clone(), format!("{} {}（{}）", p.point.id, p.point.name, unit_name(&p.point.unit_id))))
        .collect();
    let f = |key: &str| field(v.sent, editing, key);
    let body = html! {
        (flash(v.error, v.ok))
        form.filters method="get" action="/console/contacts" {
            label { "责任单位" select name="unit" { (options(&unit_options, v.unit.as_deref().unwrap_or(""), Some("全部单位"))) } }
            button.plain { "筛选" }
        }
        @if admin {
            form.box method="post" action="/console/contacts" style="display:flex;flex-direction:column;gap:.5rem" {
                (hidden_csrf(user))
                @if let Some(c) = editing {
                    h2 style="margin-top:0" { "编辑联系人：" (c.name) }
                    input type="hidden" name="id" value=(c.id);
                    input type="hidden" name="unit_id" value=(c.unit_id);
                    p.muted { "所属单位：" (unit_name(&c.unit_id)) "（单位不可更改；如调往他单位，请停用后在新单位新增）" }
                } @else {
                    h2 style="margin-top:0" { "新增联系人" }
                    label { "责任单位" br; select name="unit_id" required { (options(&unit_options, &form_unit.clone().unwrap_or_default(), Some("请选择"))) } }
                }
                div.edit {
                    label { "姓名" input name="name" value=(f("name")) required maxlength="40"; }
                    label { "角色" select name="role" { (options(&role_options(), &f("role"), None)) } }
                    label { "负责点位（仅点长）" select name="point_id" { (options(&point_options, &f("point_id"), Some("本单位全部点位"))) } }
                    label { "电话" input name="phone" value=(f("phone")) size="14" inputmode="tel"; }
                    label { "电子邮箱" input name="email" value=(f("email")) type="email" size="24"; }
                }
                div.edit {
                    label { "推送方式" select name="webhook_kind" { (options(&webhook_options(), &f("webhook_kind"), Some("不推送"))) } }
                    label { "推送地址（http:// 或 https://）" input name="webhook_url" value=(f("webhook_url")) size="48"; }
                    label {
                        "签名密钥（仅通用 JSON，16 至 256 个字符）"
                        input name="webhook_secret" type="password" autocomplete="new-password" size="24"
                            placeholder=(if editing.is_some_and(|c| c.has_secret) { "已设置；留空则不变" } else { "" });
                    }
                    @if editing.is_some() {
                        label { "状态" select name="active" { (options(&[("1".into(), "启用".into()), ("0".into(), "停用".into())], &f("active"), None)) } }
                    } @else {
                        input type="hidden" name="active" value="1";
                    }
                }
                div {
                    button { (if editing.is_some() { "保存修改" } else { "新增联系人" }) }
                    @if editing.is_some() { " " a href={ "/console/contacts?unit=" (form_unit.clone().unwrap_or_default()) } { "取消" } }
                }
            }
        }
        div.scroll { table {
            tr {
                th { "单位" } th { "姓名" } th { "角色" } th { "负责点位" } th { "电话" } th { "电子邮箱" } th { "推送" } th { "状态" }
                @if admin { th {} }
            }
            @for c in &contacts {
                tr {
                    td { (unit_name(&c.unit_id)) }
                    td { (c.name) }
                    td { (role_zh(c.role)) }
                    td { @match &c.point_id { Some(p) => { (point_name(p)) }, None => { span.muted { "全部" } } } }
                    td { (c.phone.as_deref().unwrap_or("")) }
                    td { (c.email.as_deref().unwrap_or("")) }
                    td { (webhook_cell(c, admin)) }
                    td { (if c.active { "启用" } else { "停用" }) }
                    @if admin {
                        td {
                            a href={ "/console/contacts?unit=" (c.unit_id) "&edit=" (c.id) } { "编辑" }
                            @if c.active {
                                form method="post" action={ "/console/contacts/" (c.id) "/test" } style="display:inline" {
                                    (hidden_csrf(user)) " " button.plain { "发送测试通知" }
                                }
                                form method="post" action={ "/console/contacts/" (c.id) "/deactivate" } style="display:inline" {
                                    (hidden_csrf(user)) " " button.plain { "停用" }
                                }
                            }
                        }
                    }
                }
            }
            @if contacts.is_empty() {
                tr { td colspan="9" { span.muted { "尚无联系人。整改通知只发给已登记的联系人。" } } }
            }
        } }
        p.muted {
            "联系人收到每一条整改通知；点长和分管领导在催办时抄送，分管领导另收督办。"
            "通知只写点位、日期和时段、问题类别、牌色、期限和链接，不含督查员、拍摄时间或坐标。"
            "发送结果见 " a href="/console/notices" { "通知记录" } "。"
        }
    };
    let status = if v.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let title = format!("联系人（{}）", contacts.len());
    (status, page(user, "/console/contacts", &title, body)).into_response()
}

fn webhook_cell(c: &Contact, admin: bool) -> Markup {
    html! {
        @if let (Some(kind), Some(url)) = (c.webhook_kind, c.webhook_url.as_deref()) {
            (kind.label_zh()) br;
            code { (if admin { url.to_owned() } else { crate::notify::mask_target(kind.channel(), url) }) }
            @if c.has_secret { br; span.muted { "已设置签名密钥" } }
        }
    }
}

fn input_of(form: &Form) -> ContactInput {
    ContactInput {
        name: form.get("name").to_owned(),
        role: form.get("role").to_owned(),
        point_id: form.opt("point_id"),
        phone: form.opt("phone"),
        email: form.opt("email"),
        webhook_kind: form.opt("webhook_kind"),
        webhook_url: form.opt("webhook_url"),
        webhook_secret: Some(form.raw("webhook_secret")).filter(|s| !s.trim().is_empty()),
        active: form.get("active") != "0",
    }
}

/// Adds a contact, or saves the one named by `id`.
pub async fn save_contact(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let unit = form.opt("unit_id");
    let edit = form.opt("id").and_then(|id| id.parse::<i64>().ok());
    let result = match edit {
        Some(id) => app::contacts::update(&state.db, id, input_of(&form)).await,
        None => match &unit {
            Some(u) => app::contacts::create(&state.db, u.clone(), input_of(&form)).await,
            None => Err(app::contacts::unknown_unit("")),
        },
    };
    match result {
        Ok(c) => {
            let ok = format!("已保存联系人 {}。", c.name);
            render(&state, &user, View { unit: Some(c.unit_id), ok: Some(&ok), ..View::default() }).await
        }
        Err(e) if e.status().is_client_error() => {
            let field = e.field().map(|f| format!("（{f}）")).unwrap_or_default();
            let error = format!("无法保存{field}：{}", refusal_zh(&e));
            render(&state, &user, View { unit, edit, error: Some(&error), sent: Some(&form), ..View::default() }).await
        }
        Err(e) => internal(e),
    }
}

async fn contact_or_page(state: &AppState, user: &ConsoleUser, id: &str) -> Result<Contact, Response> {
    let found = match id.parse::<i64>() {
        Ok(id) => state.db.contact(id).await.map_err(internal)?,
        Err(_) => None,
    };
    match found {
        Some(c) => Ok(c),
        None => Err(render(state, user, View { error: Some("没有这位联系人。"), ..View::default() }).await),
    }
}

pub async fn deactivate(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let c = match contact_or_page(&state, &user, &id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let input = ContactInput {
        name: c.name.clone(),
        role: c.role.as_str().to_owned(),
        point_id: c.point_id.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        webhook_kind: c.webhook_kind.map(|k| k.channel().as_str().to_owned()),
        webhook_url: c.webhook_url.clone(),
        webhook_secret: None,
        active: false,
    };
    let unit = Some(c.unit_id.clone());
    match app::contacts::update(&state.db, c.id, input).await {
        Ok(c) => {
            let ok = format!("已停用联系人 {}；尚未发出的通知也不再发给此人。", c.name);
            render(&state, &user, View { unit, ok: Some(&ok), ..View::default() }).await
        }
        Err(e) if e.status().is_client_error() => {
            let error = format!("无法停用：{}", refusal_zh(&e));
            render(&state, &user, View { unit, error: Some(&error), ..View::default() }).await
        }
        Err(e) => internal(e),
    }
}

pub async fn send_test(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    let c = match contact_or_page(&state, &user, &id).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let unit = Some(c.unit_id.clone());
    match app::contacts::send_test(&state.db, c.id, state.clock.now()).await {
        Ok(n) => {
            state.notice_wake.notify_one();
            let ok = format!("已向 {} 发出 {n} 条测试通知，结果见“通知记录”。", c.name);
            render(&state, &user, View { unit, ok: Some(&ok), ..View::default() }).await
        }
        Err(e) if e.status().is_client_error() => {
            let error = format!("无法发送：{}", refusal_zh(&e));
            render(&state, &user, View { unit, error: Some(&error), ..View::default() }).await
        }
        Err(e) => internal(e),
    }
}
