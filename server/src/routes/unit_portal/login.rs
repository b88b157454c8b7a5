//! Signing in and out of the unit portal: the console's sign-in
//! ([`crate::signin::sign_in`]: one normalised username, the same
//! throttles) and its session cookie, for unit accounts only. The sign-in
//! form is open to anyone and checks its own origin (there is no session
//! to derive a CSRF token from yet).

use super::{PortalUser, internal, page_bare, see_other};
use crate::AppState;
use crate::auth::{Role, same_origin, secret_hash, session_cookie};
use crate::db::accounts;
use crate::routes::console::session_cookie_header;
use anfang_core::error_code::ErrorCode;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

fn login_form(error: Option<&str>, username: &str) -> Html<String> {
    page_bare(
        "单位登录",
        html! {
            div.box {
                p.muted { "责任单位查看整改单、提交整改反馈。账号由四城同创办发放。" }
                @if let Some(e) = error { p.err role="alert" { (e) } }
                form method="post" action="/unit/login" {
                    label for="username" { "用户名" }
                    input #username type="text" name="username" value=(username) autocomplete="username"
                        autocapitalize="none" spellcheck="false" required;
                    label for="password" { "密码" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button.wide { "登录" }
                }
            }
            p.muted { "办公室工作人员请从 " a href="/console/login" { "办公室控制台" } " 登录。" }
        },
    )
}

pub async fn login_page() -> Html<String> {
    login_form(None, "")
}

pub async fn login(
    State(state): State<AppState>,
    source: crate::signin::Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    drop(body);
    let username = form.get("username").map(|s| s.trim().to_owned()).unwrap_or_default();
    let bad = |status: StatusCode, msg: &str| (status, login_form(Some(msg), &username)).into_response();
    if !same_origin(&headers) {
        return bad(StatusCode::FORBIDDEN, "请求来源不是本站页面，已拒绝。");
    }
    let password = form.get("password").cloned().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return bad(StatusCode::UNPROCESSABLE_ENTITY, "请输入用户名和密码。");
    }
    let signed_in = match crate::signin::sign_in(&state, source, &username, &password).await {
        Ok(s) => s,
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => return bad(e.status(), "用户名或密码错误。"),
        Err(e) if e.status().is_client_error() || e.status() == StatusCode::SERVICE_UNAVAILABLE => {
            let msg = match e.code() {
                ErrorCode::SignInLocked => "登录失败次数过多，请五分钟后再试。".to_owned(),
                code => format!("{}。", code.zh()),
            };
            return bad(e.status(), &msg);
        }
        Err(e) => return internal(e),
    };
    if signed_in.role != Role::Unit {
        // The password was right, but this is the office's account: end the
        // session it just opened rather than leave one the portal refuses.
        if let Err(e) = state.db.end_session(secret_hash(&signed_in.token)).await {
            return internal(e);
        }
        return bad(StatusCode::FORBIDDEN, "这是办公室账号，不能登录单位端。请从办公室控制台登录。");
    }
    let mut res = see_other("/unit/");
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&signed_in.token, &headers, accounts::SESSION_HOURS * 3600));
    res
}

/// Ends the session (its CSRF token was checked by the guard).
pub async fn logout(State(state): State<AppState>, _user: PortalUser, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers)
        && let Err(e) = state.db.end_session(secret_hash(&token)).await
    {
        return internal(e);
    }
    let mut res = see_other("/unit/login");
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", &headers, 0));
    res
}
