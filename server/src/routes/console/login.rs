//! Signing in and out of the console. The sign-in form is the one console
//! route open to anyone; it checks its own origin (there is no session to
//! derive a CSRF token from yet).

use super::{internal, page_bare, see_other};
use crate::AppState;
use crate::auth::{SESSION_COOKIE, same_origin, secret_hash, session_cookie};
use crate::db::accounts;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

fn login_form(error: Option<&str>) -> Html<String> {
    page_bare(
        "登录",
        html! {
            div.box style="max-width:380px;margin:3rem auto" {
                h1 { "暗访督查 · 办公室登录" }
                @if let Some(e) = error { p.err { (e) } }
                form method="post" action="/console/login" style="display:flex;flex-direction:column;gap:.6rem" {
                    label { "用户名" br; input name="username" autocomplete="username" required style="width:100%"; }
                    label {
                        "密码" br;
                        input name="password" type="password" autocomplete="current-password" required style="width:100%";
                    }
                    button { "登录" }
                }
            }
        },
    )
}

pub async fn login_page() -> Html<String> {
    login_form(None)
}

fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

pub(crate) fn session_cookie_header(token: &str, headers: &HeaderMap, max_age: i64) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a token is a valid header value")
}

pub async fn login(
    State(state): State<AppState>,
    source: crate::signin::Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |status: StatusCode, msg: &str| (status, login_form(Some(msg))).into_response();
    if !same_origin(&headers) {
        return bad(StatusCode::FORBIDDEN, "请求来源不是本站页面，已拒绝。");
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    drop(body);
    let username = form.get("username").map(|s| s.trim().to_owned()).unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return bad(StatusCode::UNPROCESSABLE_ENTITY, "请输入用户名和密码。");
    }
    // The same sign-in as the API's: one normalised username, one lockout.
    let token = match crate::signin::sign_in(&state, source, &username, &password).await {
        Ok(signed_in) if signed_in.role == crate::auth::Role::Unit => {
            // A responsible unit's account belongs in the unit portal: end
            // the session it just opened rather than leave one the console
            // would refuse on every page.
            if let Err(e) = state.db.end_session(secret_hash(&signed_in.token)).await {
                return internal(e);
            }
            return bad(StatusCode::FORBIDDEN, "这是责任单位账号，不能登录办公室控制台。请在单位端 /unit/ 登录。");
        }
        Ok(signed_in) => signed_in.token,
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => return bad(e.status(), "用户名或密码错误。"),
        Err(e) if e.status().is_client_error() || e.status() == StatusCode::SERVICE_UNAVAILABLE => {
            let msg = match e.code() {
                anfang_core::error_code::ErrorCode::SignInLocked => "登录失败次数过多，请五分钟后再试。".to_owned(),
                code => format!("{}。", code.zh()),
            };
            return bad(e.status(), &msg);
        }
        Err(e) => return internal(e),
    };
    let mut res = see_other("/console/findings");
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&token, &headers, accounts::SESSION_HOURS * 3600));
    res
}

/// Ends the session (its CSRF token and role were checked by the guard).
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers) {
        let hash = secret_hash(&token);
        if let Err(e) = state.db.end_session(hash).await {
            return internal(e);
        }
    }
    let mut res = see_other("/console/login");
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", &headers, 0));
    res
}
