//! The office settings: issuing body, distribution, compiler line and the
//! rectification deadline per card (admins edit, everyone else reads), and
//! the email server notices go out through (admins only; its password is
//! write-only and never put into the page).

use super::{ConsoleUser, Form, card_badge, flash, hidden_csrf, internal, options, page, refusal_zh};
use crate::auth::Role;
use crate::db::reference_admin::{CardDeadlines, OfficeSettings};
use crate::{AppState, app};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

pub async fn settings_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_settings(&state, &user, None, None).await
}

async fn render_settings(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let (s, smtp) = match tokio::try_join!(state.db.office_settings(), state.db.smtp_settings()) {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let days = |d: Option<i64>| d.map(|d| d.to_string()).unwrap_or_default();
    let deadline = |v: Option<i64>| v.map(|d| format!("{d} 天")).unwrap_or_else(|| "无需整改".into());
    let d = &s.card_deadlines;
    let body = html! {
        (flash(error, ok))
        @if user.can(Role::Admin) {
            form.box method="post" action="/console/settings" style="display:flex;flex-direction:column;gap:.6rem" {
                (hidden_csrf(user))
                label { "发文机关" br; input name="issuing_body" value=(s.issuing_body) required style="width:100%"; }
                label { "主送 / 抄送（送：…）" br; textarea name="distribution" rows="3" required style="width:100%" { (s.distribution) } }
                label { "编制署名" br; input name="compiler" value=(s.compiler) required style="width:100%"; }
                fieldset {
                    legend { "整改时限（天，留空表示无需整改）" }
                    div.edit {
                        label { (card_badge("red")) input name="red" value=(days(d.red)) size="4" inputmode="numeric"; }
                        label { (card_badge("yellow")) input name="yellow" value=(days(d.yellow)) size="4" inputmode="numeric"; }
                        label { (card_badge("green")) input name="green" value=(days(d.green)) size="4" inputmode="numeric"; }
                    }
                }
                button { "保存设置" }
            }
            form.box method="post" action="/console/settings/smtp" style="display:flex;flex-direction:column;gap:.6rem" {
                (hidden_csrf(user))
                h2 style="margin-top:0" { "邮件服务器（整改通知的邮件由此发出）" }
                div.edit {
                    label { "服务器地址（留空表示不发邮件）" input name="host" value=(smtp.host) size="28" placeholder="smtp.example.gov.cn"; }
                    label { "端口" input name="port" value=(smtp.port) size="5" inputmode="numeric" required; }
                    label { "加密方式" select name="tls" {
                        (options(&[("none".into(), "不加密".into()), ("starttls".into(), "STARTTLS".into()), ("tls".into(), "TLS".into())], smtp.tls.as_str(), None))
                    } }
                }
                div.edit {
                    label { "用户名" input name="username" value=(smtp.username) size="24" autocomplete="off"; }
                    label {
                        "密码"
                        input name="password" type="password" size="24" autocomplete="new-password"
                            placeholder=(if smtp.has_password { "已设置；留空则不变" } else { "未设置" });
                    }
                    @if smtp.has_password { label { "清除密码" input type="checkbox" name="clear_password" value="1"; } }
                }
                label { "发件人" br; input name="from" value=(smtp.from) required style="width:100%" placeholder="四城同创办 <anfang@example.gov.cn>"; }
                button { "保存邮件服务器" }
            }
        } @else {
            div.box { dl {
                dt { "发文机关" } dd { (s.issuing_body) }
                dt { "送" } dd { (s.distribution) }
                dt { "编制署名" } dd { (s.compiler) }
                dt { (card_badge("red")) } dd { (deadline(d.red)) }
                dt { (card_badge("yellow")) } dd { (deadline(d.yellow)) }
                dt { (card_badge("green")) } dd { (deadline(d.green)) }
            } }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/settings", "办公室设置", body)).into_response()
}

pub async fn save_settings(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let days =
        |k: &str| -> Result<Option<i64>, ()> { form.opt(k).map(|v| v.parse::<i64>().map_err(|_| ())).transpose() };
    let (Ok(red), Ok(yellow), Ok(green)) = (days("red"), days("yellow"), days("green")) else {
        return render_settings(&state, &user, Some("整改时限必须是天数（整数），或留空。"), None).await;
    };
    let s = OfficeSettings {
        issuing_body: form.get("issuing_body").to_owned(),
        distribution: form.get("distribution").to_owned(),
        compiler: form.get("compiler").to_owned(),
        card_deadlines: CardDeadlines { red, yellow, green },
    };
    match app::reference::save_settings(&state.db, s).await {
        Ok(_) => render_settings(&state, &user, None, Some("设置已保存。")).await,
        Err(e) if e.status().is_client_error() => {
            render_settings(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

/// Saves the email server. An empty password field keeps the stored
/// password (the page never holds it); the checkbox clears it.
pub async fn save_smtp(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let Ok(port) = form.get("port").parse::<u32>() else {
        return render_settings(&state, &user, Some("无法保存：邮件服务器端口须为 1 至 65535。"), None).await;
    };
    let password = if form.get("clear_password") == "1" {
        Some(String::new())
    } else {
        Some(form.raw("password")).filter(|p| !p.is_empty())
    };
    let input = app::contacts::SmtpInput {
        host: form.get("host").to_owned(),
        port,
        tls: form.get("tls").to_owned(),
        username: form.get("username").to_owned(),
        password,
        from: form.get("from").to_owned(),
    };
    match app::contacts::save_smtp(&state.db, input).await {
        Ok(_) => {
            // Email notices waiting for a server may go out now.
            state.notice_wake.notify_one();
            render_settings(&state, &user, None, Some("邮件服务器已保存。")).await
        }
        Err(e) if e.status().is_client_error() => {
            render_settings(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}
