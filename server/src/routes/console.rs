//! The office web console at `/console/`: server-rendered HTML in Chinese,
//! built with `format!` and one escaping function (no template engine, no
//! JavaScript framework, no CDN). Pages call the same `db` functions as the
//! JSON API.
//!
//! **Invariants:**
//! - the session is an HttpOnly, SameSite=Strict cookie holding the same
//!   `anfs_` token a bearer header would (stored hashed);
//! - every POST checks the Origin (or Referer) and a per-session CSRF token
//!   derived from the session token, and the caller's role, before acting;
//! - leaders get pages without forms, and their POSTs are refused;
//! - the inspector's alias appears only on pages for reviewers and admins.

use super::office::{parse_bound, redact_for};
use super::review::{enroll_link, import_points_csv, import_units_csv};
use crate::AppState;
use crate::auth::{OfficeCaller, Role, SESSION_COOKIE, same_origin, secret_hash, session_cookie};
use crate::db::reference_admin::{self, CardDeadlines, OfficeSettings, PointRecord};
use crate::db::{accounts, findings, reviews};
use crate::error::AppError;
use crate::reference_csv::LineError;
use anfang_core::Card;
use anfang_core::domain::{Category, Point, PointKind, Unit};
use anfang_core::error_code::ErrorCode;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use std::collections::HashMap;
use std::fmt::Write as _;

mod bulletins;
mod draws;
mod identities;

/// Who may use a console route (the console's own table, walked by a test
/// like the API's).
pub struct ConsoleRoute {
    pub method: &'static str,
    pub path: &'static str,
    /// `None`: anyone (the login page).
    pub min: Option<Role>,
    pub handler: MethodRouter<AppState>,
}

/// Every console route.
pub fn console_routes() -> Vec<ConsoleRoute> {
    use Role::*;
    let r = |method, path, min, handler| ConsoleRoute { method, path, min, handler };
    vec![
        r("get", "/console", None, get(|| async { Redirect::to("/console/") })),
        r("get", "/console/", Some(Leader), get(home)),
        r("get", "/console/login", None, get(login_page)),
        r("post", "/console/login", None, post(login)),
        r("post", "/console/logout", Some(Leader), post(logout)),
        r("get", "/console/findings", Some(Leader), get(queue)),
        r("get", "/console/findings/{id}", Some(Leader), get(finding_page)),
        r("post", "/console/findings/{id}/review", Some(Reviewer), post(review)),
        r("get", "/console/units", Some(Leader), get(units_page)),
        r("post", "/console/units", Some(Admin), post(save_unit)),
        r("post", "/console/units/import", Some(Admin), post(import_units)),
        r("get", "/console/points", Some(Leader), get(points_page)),
        r("post", "/console/points", Some(Admin), post(save_point)),
        r("post", "/console/points/import", Some(Admin), post(import_points)),
        r("get", "/console/categories", Some(Leader), get(categories_page)),
        r("post", "/console/categories", Some(Admin), post(save_category)),
        r("get", "/console/settings", Some(Leader), get(settings_page)),
        r("post", "/console/settings", Some(Admin), post(save_settings)),
        r("get", "/console/inspectors", Some(Admin), get(inspectors_page)),
        r("post", "/console/inspectors", Some(Admin), post(add_inspector)),
        r("post", "/console/inspectors/{id}/code", Some(Admin), post(inspector_code)),
        r("post", "/console/inspectors/{id}/devices/revoke", Some(Admin), post(revoke_devices)),
        r("get", "/console/draws", Some(Reviewer), get(draws::list_page)),
        r("post", "/console/draws", Some(Admin), post(draws::create)),
        r("get", "/console/draws/{id}", Some(Reviewer), get(draws::draw_page)),
        r("post", "/console/draws/{id}/reveal", Some(Admin), post(draws::reveal)),
        r("get", "/console/identities", Some(Admin), get(identities::identities_page)),
        r("post", "/console/identities/{id}/read", Some(Admin), post(identities::read)),
        r("post", "/console/identities/{id}", Some(Admin), post(identities::save)),
        r("get", "/console/bulletins", Some(Leader), get(bulletins::list_page)),
        r("post", "/console/bulletins", Some(Reviewer), post(bulletins::compile)),
        r("get", "/console/bulletins/{id}", Some(Leader), get(bulletins::bulletin_page)),
        r("post", "/console/bulletins/{id}", Some(Reviewer), post(bulletins::save)),
        r("post", "/console/bulletins/{id}/recompile", Some(Reviewer), post(bulletins::recompile)),
        r("post", "/console/bulletins/{id}/issue", Some(Reviewer), post(bulletins::issue)),
    ]
}

/// The console's navigation: (path, label, minimum role).
const NAV: &[(&str, &str, Role)] = &[
    ("/console/findings", "审核", Role::Leader),
    ("/console/bulletins", "通报", Role::Leader),
    ("/console/units", "责任单位", Role::Leader),
    ("/console/points", "点位", Role::Leader),
    ("/console/categories", "问题类别", Role::Leader),
    ("/console/settings", "设置", Role::Leader),
    ("/console/draws", "抽签", Role::Reviewer),
    ("/console/inspectors", "督查员", Role::Admin),
    ("/console/identities", "身份与审计", Role::Admin),
];

// ---------------------------------------------------------------- helpers

pub use crate::html::esc;

/// The CSRF token of a session: derived from the session secret, so it needs
/// no storage and another site cannot know it.
pub(crate) fn csrf_token(session_token: &str) -> String {
    secret_hash(&format!("anfang-console-csrf\n{session_token}"))[..32].to_owned()
}

/// A signed-in console user, with the CSRF token their forms carry. Put
/// into the request by [`guard`], which admitted them for the route's role;
/// handlers extract it and never check a role again (they may still show or
/// hide controls by role).
#[derive(Clone)]
pub struct ConsoleUser {
    pub caller: OfficeCaller,
    pub csrf: String,
}

impl ConsoleUser {
    /// Presentation only (which controls a page shows): refusals come from
    /// the route table.
    fn can(&self, role: Role) -> bool {
        self.caller.role >= role
    }

    /// The session of the request's cookie; the answer to send instead when
    /// there is none (to the sign-in page) or it is a unit's account.
    // The refusal is the page to send back as it is.
    #[allow(clippy::result_large_err)]
    async fn from_session(headers: &HeaderMap, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/console/login").into_response();
        let token = session_cookie(headers).ok_or_else(to_login)?;
        if !token.starts_with(crate::auth::SESSION_TOKEN_PREFIX) {
            return Err(to_login());
        }
        let caller = crate::auth::office_session(state, &token) // db
            .await
            .map_err(IntoResponse::into_response)?
            .ok_or_else(to_login)?;
        // The console is the office's: a responsible unit's account sees its
        // own findings through /api/v1/unit/findings only.
        if caller.role == Role::Unit {
            return Err((
                StatusCode::FORBIDDEN,
                Html(page_bare(
                    "无权访问",
                    "<div class=\"box\" style=\"max-width:480px;margin:3rem auto\"><h1>无权访问</h1>\
                     <p class=\"err\">责任单位账号不能使用办公室控制台。本单位的问题清单请通过单位接口查看。</p></div>",
                )),
            )
                .into_response());
        }
        Ok(ConsoleUser { caller, csrf: csrf_token(&token) })
    }
}

/// A handler reached without [`guard`] (a row with `min: None`) has no user:
/// a mistake in the table, answered as an internal error.
fn unguarded() -> Response {
    internal(AppError::internal("a console handler that needs a user sits on a row without a minimum role"))
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        parts.extensions.get::<ConsoleUser>().cloned().ok_or_else(unguarded)
    }
}

/// A console form's fields, parsed by [`guard`] after its origin, CSRF token
/// and role were checked: the one way a console handler gets a form.
#[derive(Clone)]
pub struct Form(HashMap<String, String>);

impl Form {
    fn get(&self, key: &str) -> &str {
        self.0.get(key).map(|s| s.trim()).unwrap_or("")
    }
    fn opt(&self, key: &str) -> Option<String> {
        Some(self.get(key)).filter(|s| !s.is_empty()).map(str::to_owned)
    }
}

impl FromRequestParts<AppState> for Form {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        parts.extensions.remove::<Form>().ok_or_else(unguarded)
    }
}

/// Puts a console row behind [`guard`] with its minimum role; rows open to
/// anyone (`None`: the sign-in page) are left as they are.
pub(super) fn guarded(state: &AppState, min: Option<Role>, handler: MethodRouter<AppState>) -> MethodRouter<AppState> {
    match min {
        None => handler,
        Some(min) => handler.route_layer(axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| {
            guard(s, min, req, next)
        })),
    }
}

/// What a page says to a signed-in user below its row's role.
fn page_refusal(min: Role) -> &'static str {
    match min {
        Role::Admin => "此页面仅管理员可见。",
        Role::Reviewer => "此页面仅审核员和管理员可见。",
        Role::Leader | Role::Unit => "您的角色无权查看此页面。",
    }
}

/// The layer of every console row with a minimum role, in the order a
/// request is refused: no session → the sign-in page; a unit's account →
/// 403. Pages (GET): a role below the row's → 403. Forms (every other
/// method): not from this server's pages (Origin/Referer) → 403; a body
/// that is no form → 403; without the session's CSRF token → 403; a role
/// below the row's → 403. Then the user (and the parsed [`Form`]) go into
/// the request's extensions for the handler. A POST handler that takes no
/// form is checked all the same.
async fn guard(State(state): State<AppState>, min: Role, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let user = match ConsoleUser::from_session(&parts.headers, &state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if matches!(parts.method, Method::GET | Method::HEAD) {
        if user.caller.role < min {
            return refused(page_refusal(min));
        }
        parts.extensions.insert(user);
        return next.run(Request::from_parts(parts, body)).await;
    }
    if !same_origin(&parts.headers) {
        return refused("请求来源不是本站页面，已拒绝（跨站请求防护）。请从控制台页面重新提交。");
    }
    let Ok(bytes) = axum::body::to_bytes(body, super::CONSOLE_BODY_LIMIT).await else {
        // Made JSON with the API's wording by `errors_as_json`, as before.
        return (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
    };
    let Ok(fields) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&bytes) else {
        return refused("表单内容无法解析，请返回页面重新提交。");
    };
    drop(bytes);
    let form = Form(fields);
    if form.get("csrf") != user.csrf {
        return refused("表单已过期或缺少安全令牌，请刷新页面后重新提交。");
    }
    if user.caller.role < min {
        return refused("您的角色无权执行此操作（领导账号为只读）。");
    }
    parts.extensions.insert(user);
    parts.extensions.insert(form);
    next.run(Request::from_parts(parts, axum::body::Body::empty())).await
}

fn refused(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Html(page_bare(
            "无法执行",
            &format!("<p class=\"err\">{}</p><p><a href=\"/console/\">返回控制台</a></p>", esc(message)),
        )),
    )
        .into_response()
}

/// An error no page handles itself, as an HTML page: a person reads the
/// console, not a JSON parser. Internal details are logged, never shown.
fn internal(e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(%detail, "internal error on a console page");
    }
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>出错了</title><style>{CSS}</style></head>\
         <body><main><h1>出错了</h1><p class=\"err\">{}</p><p><a href=\"/console/\">返回首页</a></p></main></body></html>",
        esc(e.code().zh())
    );
    (e.status(), Html(body)).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;color:#222;background:#f4f5f7}
header{background:#8b1a1a;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem}
header b{font-size:1.05rem;margin-right:.5rem}header nav{display:flex;flex-wrap:wrap;gap:.25rem}
header a{color:#fff;text-decoration:none;padding:.2rem .5rem;border-radius:4px}header a.on,header a:hover{background:rgba(255,255,255,.2)}
header form{margin-left:auto}header .who{opacity:.85;font-size:.9rem}
main{max-width:1100px;margin:0 auto;padding:1rem}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
.box{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #e3e3e3;padding:.4rem .5rem;text-align:left;vertical-align:top}th{background:#fafafa;font-weight:600}
.scroll{overflow-x:auto}
input,select,textarea,button{font:inherit;padding:.35rem .5rem;border:1px solid #bbb;border-radius:4px;max-width:100%}
button{background:#8b1a1a;color:#fff;border-color:#8b1a1a;cursor:pointer}button.plain{background:#fff;color:#8b1a1a}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}form.filters label{display:flex;flex-direction:column;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8rem}
.item{background:#fff;border:1px solid #ddd;border-radius:6px;overflow:hidden;display:flex;flex-direction:column;color:inherit;text-decoration:none}
.item img{width:100%;aspect-ratio:4/3;object-fit:cover;background:#ddd;display:block}.item .noimg{aspect-ratio:4/3;background:#e8e8e8;display:flex;align-items:center;justify-content:center;color:#888}
.item div.t{padding:.5rem .7rem}.muted{color:#666;font-size:.88rem}
.card{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;font-weight:600;color:#fff}
.card-red{background:#c62828}.card-yellow{background:#f9a825;color:#222}.card-green{background:#2e7d32}
.st{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.82rem;border:1px solid #999}
.st-pending{border-color:#1565c0;color:#1565c0}.st-accept{border-color:#2e7d32;color:#2e7d32}.st-correct{border-color:#6a1b9a;color:#6a1b9a}.st-reject{border-color:#777;color:#777;text-decoration:line-through}
.photo{width:100%;max-height:70vh;object-fit:contain;background:#222;border-radius:4px}
.strip{display:flex;gap:.4rem;overflow-x:auto;margin:.5rem 0}.strip img{height:72px;border-radius:3px;border:2px solid transparent}
.cols{display:grid;grid-template-columns:3fr 2fr;gap:1rem}@media (max-width:800px){.cols{grid-template-columns:1fr}}
dl{display:grid;grid-template-columns:6.5em 1fr;gap:.25rem .6rem;margin:0}dt{color:#666}dd{margin:0}
.forms form{border-top:1px solid #eee;padding:.6rem 0;display:flex;flex-direction:column;gap:.4rem}
.err{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c1c;padding:.5rem .8rem;border-radius:4px;white-space:pre-wrap}
.ok{background:#e8f5e9;border:1px solid #b7dfb9;color:#1b5e20;padding:.5rem .8rem;border-radius:4px}
.pager{margin:1rem 0}.qr svg{width:220px;height:220px}code{word-break:break-all}
.edit{display:flex;flex-wrap:wrap;gap:.4rem;align-items:end}.edit label{display:flex;flex-direction:column;font-size:.85rem}
@media (max-width:600px){main{padding:.6rem}th,td{padding:.3rem}header form{margin-left:0}}
"#;

fn page_bare(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\"><title>{} · 暗访督查</title><style>{CSS}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    )
}

fn page(user: &ConsoleUser, current: &str, title: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    for (path, label, min) in NAV {
        if user.can(*min) {
            let on = if *path == current { " class=\"on\"" } else { "" };
            let _ = write!(nav, "<a href=\"{path}\"{on}>{label}</a>");
        }
    }
    let role = match user.caller.role {
        Role::Admin => "管理员",
        Role::Reviewer => "审核员",
        Role::Leader => "领导（只读）",
        Role::Unit => "责任单位",
    };
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"same-origin\"><title>{title} · 暗访督查</title><style>{CSS}</style></head><body>\
         <header><b>四城同创 · 暗访督查</b><nav>{nav}</nav>\
         <form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <span class=\"who\">{user}（{role}）</span> <button class=\"plain\">退出</button></form></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
        csrf = esc(&user.csrf),
        user = esc(&user.caller.username),
    ))
}

fn hidden_csrf(user: &ConsoleUser) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", esc(&user.csrf))
}

fn card_badge(card: &str) -> String {
    let label = card.parse::<Card>().map(|c| c.label_zh()).unwrap_or("?");
    format!("<span class=\"card card-{}\">{label}</span>", esc(card))
}

fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "待审核",
        "accept" => "已采纳",
        "correct" => "已更正",
        "reject" => "已驳回",
        _ => "未知",
    }
}

fn status_badge(status: &str) -> String {
    format!("<span class=\"st st-{}\">{}</span>", esc(status), status_label(status))
}

fn local_time(state: &AppState, ts: jiff::Timestamp) -> String {
    ts.to_zoned_datetime(state.config.timezone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

fn local_time_text(state: &AppState, text: &str) -> String {
    text.parse::<jiff::Timestamp>().map(|t| local_time(state, t)).unwrap_or_else(|_| text.to_owned())
}

fn options(items: &[(String, String)], selected: &str, empty: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(e) = empty {
        let _ = write!(out, "<option value=\"\">{}</option>", esc(e));
    }
    for (v, label) in items {
        let sel = if v == selected { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(label));
    }
    out
}

fn card_options() -> Vec<(String, String)> {
    Card::ALL.iter().map(|c| (c.as_str().to_owned(), c.label_zh().to_owned())).collect()
}

struct Lists {
    units: Vec<Unit>,
    categories: Vec<Category>,
}

async fn lists(state: &AppState) -> Result<Lists, AppError> {
    state
        .db
        .read(|c| Ok(Lists { units: reference_admin::units(c)?, categories: reference_admin::categories(c)? }))
        .await
}

impl Lists {
    fn unit_options(&self) -> Vec<(String, String)> {
        self.units.iter().filter(|u| u.active).map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect()
    }
    fn category_options(&self) -> Vec<(String, String)> {
        self.categories.iter().filter(|c| c.active).map(|c| (c.code.clone(), c.name.clone())).collect()
    }
}

// ---------------------------------------------------------------- sign-in

async fn home(_user: ConsoleUser) -> Response {
    see_other("/console/findings")
}

fn login_form(error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"err\">{}</p>", esc(e))).unwrap_or_default();
    page_bare(
        "登录",
        &format!(
            "<div class=\"box\" style=\"max-width:380px;margin:3rem auto\"><h1>暗访督查 · 办公室登录</h1>{error}\
             <form method=\"post\" action=\"/console/login\" style=\"display:flex;flex-direction:column;gap:.6rem\">\
             <label>用户名<br><input name=\"username\" autocomplete=\"username\" required style=\"width:100%\"></label>\
             <label>密码<br><input name=\"password\" type=\"password\" autocomplete=\"current-password\" required style=\"width:100%\"></label>\
             <button>登录</button></form></div>"
        ),
    )
}

async fn login_page() -> Html<String> {
    Html(login_form(None))
}

fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn session_cookie_header(token: &str, headers: &HeaderMap, max_age: i64) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a token is a valid header value")
}

async fn login(
    State(state): State<AppState>,
    source: crate::signin::Source,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bad = |status: StatusCode, msg: &str| (status, Html(login_form(Some(msg)))).into_response();
    if !same_origin(&headers) {
        return bad(StatusCode::FORBIDDEN, "请求来源不是本站页面，已拒绝。");
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    drop(body);
    let form = Form(form);
    let username = form.get("username").to_owned();
    let password = form.0.get("password").cloned().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return bad(StatusCode::UNPROCESSABLE_ENTITY, "请输入用户名和密码。");
    }
    // The same sign-in as the API's: one normalised username, one lockout.
    let token = match crate::signin::sign_in(&state, source, &username, &password).await {
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

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers) {
        let hash = secret_hash(&token);
        if let Err(e) = state.db.write(move |c| accounts::end_session(c, &hash)).await {
            return internal(e);
        }
    }
    let mut res = see_other("/console/login");
    res.headers_mut().insert(header::SET_COOKIE, session_cookie_header("", &headers, 0));
    res
}

// ---------------------------------------------------------------- review queue

const PAGE: usize = 24;

async fn queue(State(state): State<AppState>, user: ConsoleUser, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let (day, unit, card, category, status, next) =
        (get("day"), get("unit"), get("card"), get("category"), get("status"), get("next"));
    let lists = match lists(&state).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let mut errors = Vec::new();
    let tz = &state.config.timezone;
    let (from_ms, to_ms) = if day.is_empty() {
        (None, None)
    } else {
        match (parse_bound(&day, tz, false, "day"), parse_bound(&day, tz, true, "day")) {
            (Ok(a), Ok(b)) if day.len() == 10 => (Some(a), Some(b)),
            _ => {
                errors.push(format!("日期“{day}”无效，请用 2026-11-27 这样的格式。"));
                (None, None)
            }
        }
    };
    let card_ok = card.is_empty() || card.parse::<Card>().is_ok();
    if !card_ok {
        errors.push("牌色无效。".into());
    }
    let status_list = if status.is_empty() {
        Vec::new()
    } else {
        super::office::parse_status(&status).unwrap_or_else(|_| {
            errors.push("状态无效。".into());
            Vec::new()
        })
    };
    let before = next.split_once('_').and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())));
    let filter = findings::ListFilter {
        from_ms,
        to_ms,
        unit: Some(unit.clone()).filter(|s| !s.is_empty()),
        card: Some(card.clone()).filter(|s| !s.is_empty() && card_ok),
        category: Some(category.clone()).filter(|s| !s.is_empty()),
        status: status_list,
        before,
        limit: PAGE + 1,
    };
    let (mut items, mask) =
        match state.db.read(move |c| Ok((findings::list(c, &filter)?, accounts::alias_mask(c)?))).await {
            Ok(i) => i,
            Err(e) => return internal(e),
        };
    let more = items.len() > PAGE;
    items.truncate(PAGE);
    let statuses: Vec<(String, String)> = [
        ("pending", "待审核"),
        ("accepted", "已采纳"),
        ("corrected", "已更正"),
        ("rejected", "已驳回"),
        ("valid", "有效（采纳+更正）"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    let mut body = String::new();
    for e in &errors {
        let _ = write!(body, "<p class=\"err\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<form class=\"filters box\" method=\"get\" action=\"/console/findings\">\
         <label>日期<input type=\"date\" name=\"day\" value=\"{}\"></label>\
         <label>责任单位<select name=\"unit\">{}</select></label>\
         <label>牌色<select name=\"card\">{}</select></label>\
         <label>问题类别<select name=\"category\">{}</select></label>\
         <label>状态<select name=\"status\">{}</select></label>\
         <button>筛选</button> <a href=\"/console/findings\">清除</a></form>",
        esc(&day),
        options(
            &lists.units.iter().map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect::<Vec<_>>(),
            &unit,
            Some("全部")
        ),
        options(&card_options(), &card, Some("全部")),
        options(
            &lists.categories.iter().map(|c| (c.code.clone(), c.name.clone())).collect::<Vec<_>>(),
            &category,
            Some("全部")
        ),
        options(&statuses, &status, Some("全部")),
    );
    if items.is_empty() {
        body.push_str("<p class=\"box muted\">没有符合条件的发现。</p>");
    }
    body.push_str("<div class=\"grid\">");
    for mut f in items.iter().cloned() {
        redact_for(&user.caller, &mut f, &mask);
        let img = match f.photos.first() {
            Some(p) => format!("<img loading=\"lazy\" src=\"{}\" alt=\"现场照片\">", esc(&p.thumbnail_url)),
            None => "<div class=\"noimg\">无照片</div>".into(),
        };
        let _ = write!(
            body,
            "<a class=\"item\" href=\"/console/findings/{id}\">{img}<div class=\"t\">{card} {st} <b>{cat}</b><br>{point}<br>\
             <span class=\"muted\">{unit} · {time}</span>{note}</div></a>",
            id = esc(&f.id),
            card = card_badge(&f.effective.card),
            st = status_badge(&f.status),
            cat = esc(&f.effective.category.name),
            point = esc(&f.point.name),
            unit = esc(&f.effective.unit.name),
            time = local_time(&state, f.observed_at),
            note = f
                .note
                .as_deref()
                .map(|n| format!("<br><span class=\"muted\">{}</span>", esc(&n.chars().take(60).collect::<String>())))
                .unwrap_or_default(),
        );
    }
    body.push_str("</div>");
    if more && let Some(last) = items.last() {
        let mut params: Vec<(&str, String)> =
            [("day", &day), ("unit", &unit), ("card", &card), ("category", &category), ("status", &status)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.clone()))
                .collect();
        params.push(("next", format!("{}_{}", last.observed_at.as_millisecond(), last.id)));
        let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
        let _ = write!(body, "<p class=\"pager\"><a href=\"/console/findings?{}\">下一页 →</a></p>", esc(&qs));
    }
    page(&user, "/console/findings", "审核队列（最新在前）", &body).into_response()
}

async fn finding_page(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>) -> Response {
    render_finding(&state, &user, &id, None, None).await
}

async fn render_finding(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    error: Option<&str>,
    ok: Option<&str>,
) -> Response {
    let lookup = id.to_owned();
    let found = state
        .db
        .read(move |c| {
            // Looked up by id, or by the public reference a unit quotes.
            let id = match crate::db::unit_portal::finding_for_ref(c, &lookup)? {
                Some(id) => id,
                None => lookup,
            };
            let public_ref = crate::db::unit_portal::public_ref(c, &id)?;
            Ok((findings::get(c, &id)?.map(|f| (f, public_ref)), accounts::alias_mask(c)?))
        })
        .await;
    let (f, public_ref, mask) = match found {
        Ok((Some((f, public_ref)), mask)) => (f, public_ref, mask),
        Ok((None, _)) => {
            return (
                StatusCode::NOT_FOUND,
                page(user, "/console/findings", "未找到", "<p class=\"err\">没有这条发现。</p>"),
            )
                .into_response();
        }
        Err(e) => return internal(e),
    };
    let mut f = f;
    redact_for(&user.caller, &mut f, &mask);
    let lists = match lists(state).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let unit_name =
        |id: &str| lists.units.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_else(|| id.to_owned());
    let cat_name =
        |c: &str| lists.categories.iter().find(|x| x.code == c).map(|x| x.name.clone()).unwrap_or_else(|| c.to_owned());
    let mut body = String::new();
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"err\">{}</p>", esc(e));
    }
    if let Some(m) = ok {
        let _ = write!(body, "<p class=\"ok\">{}</p>", esc(m));
    }
    body.push_str("<div class=\"cols\"><div>");
    match f.photos.first() {
        Some(p) => {
            let _ = write!(
                body,
                "<a href=\"{0}\" target=\"_blank\"><img class=\"photo\" id=\"big\" src=\"{0}\" alt=\"现场照片\"></a>",
                esc(&p.url)
            );
        }
        None => body.push_str("<div class=\"box muted\">此发现没有照片（绿牌可不附照片）。</div>"),
    }
    if f.photos.len() > 1 {
        body.push_str("<div class=\"strip\">");
        for p in &f.photos {
            let _ = write!(
                body,
                "<a href=\"{}\" target=\"_blank\"><img src=\"{}\" alt=\"缩略图\"></a>",
                esc(&p.url),
                esc(&p.thumbnail_url)
            );
        }
        body.push_str("</div>");
    }
    let location = match &f.location {
        Some(l) => format!(
            "{:.6}, {:.6}<br><span class=\"muted\">精度 ±{:.0} 米 · 距点位 {:.0} 米</span>",
            l.lat, l.lon, l.accuracy_m, l.distance_from_point_m
        ),
        None => "<span class=\"muted\">无定位（设备未取得位置）</span>".into(),
    };
    let inspector = f.inspector.as_deref().map(|a| format!("<dt>督查员</dt><dd>{}</dd>", esc(a))).unwrap_or_default()
        + &f.assignment_id
            .as_deref()
            .map(|a| format!("<dt>抽签任务</dt><dd><code>{}</code></dd>", esc(a)))
            .unwrap_or_default();
    let _ = write!(
        body,
        "<div class=\"box\"><dl>\
         <dt>状态</dt><dd>{st}</dd>\
         <dt>点位</dt><dd>{pid} {pname} <span class=\"muted\">（{kind}）</span></dd>\
         <dt>时间</dt><dd>{time}{recv}</dd>\
         <dt>位置</dt><dd>{location}</dd>\
         <dt>备注</dt><dd>{note}</dd>{inspector}\
         </dl></div>",
        st = status_badge(&f.status),
        pid = esc(&f.point.id),
        pname = esc(&f.point.name),
        kind = esc(f.point_kind.parse::<PointKind>().map(|k| k.label_zh()).unwrap_or(&f.point_kind)),
        time = local_time(state, f.observed_at),
        // Receipt time is one per push batch: it groups one phone's
        // findings, so leaders do not get it (redact_for removed it).
        recv = f
            .received_at
            .map(|t| format!("<br><span class=\"muted\">收到 {}</span>", local_time(state, t)))
            .unwrap_or_default(),
        note = f.note.as_deref().map(esc).unwrap_or_else(|| "<span class=\"muted\">无</span>".into()),
    );
    body.push_str("</div><div>");
    let _ = write!(
        body,
        "<div class=\"box\"><h2 style=\"margin-top:0\">当前（审核后）</h2><dl>\
         <dt>问题类别</dt><dd>{}</dd><dt>责任单位</dt><dd>{}</dd><dt>牌色</dt><dd>{}</dd></dl>\
         <h2>采集原始记录</h2><dl><dt>问题类别</dt><dd>{}</dd><dt>责任单位</dt><dd>{}</dd><dt>牌色</dt><dd>{}</dd></dl>\
         <p class=\"muted\">原始记录由督查设备签名，永不修改；审核决定以新版本记录。</p></div>",
        esc(&f.effective.category.name),
        esc(&f.effective.unit.name),
        card_badge(&f.effective.card),
        esc(&f.category.name),
        esc(&f.unit.name),
        card_badge(&f.card),
    );
    if user.can(Role::Reviewer) {
        let csrf = hidden_csrf(user);
        let action = format!("/console/findings/{}/review", esc(&f.id));
        let _ = write!(
            body,
            "<div class=\"box forms\"><h2 style=\"margin-top:0\">审核</h2>\
             <form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"decision\" value=\"accept\">\
             <button>采纳</button></form>\
             <form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"decision\" value=\"correct\">\
             <label>问题类别 <select name=\"category\">{cats}</select></label>\
             <label>责任单位 <select name=\"unit_id\">{units}</select></label>\
             <label>牌色 <select name=\"card\">{cards}</select></label>\
             <label>更正理由 <input name=\"reason\" required maxlength=\"500\" placeholder=\"必填\"></label>\
             <button>更正</button></form>\
             <form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"decision\" value=\"reject\">\
             <label>驳回理由 <input name=\"reason\" required maxlength=\"500\" placeholder=\"必填\"></label>\
             <button class=\"plain\">驳回</button></form></div>",
            cats = options(&lists.category_options(), &f.effective.category.id, None),
            units = options(&lists.unit_options(), &f.effective.unit.id, None),
            cards = options(&card_options(), &f.effective.card, None),
        );
    }
    body.push_str("<div class=\"box\"><h2 style=\"margin-top:0\">审核记录</h2>");
    let revisions = f.revisions.clone().unwrap_or_default();
    if revisions.is_empty() {
        body.push_str("<p class=\"muted\">尚未审核。</p>");
    } else {
        body.push_str("<div class=\"scroll\"><table><tr><th>版本</th><th>决定</th><th>类别 / 单位 / 牌色</th><th>理由</th><th>审核人 · 时间</th></tr>");
        for r in revisions.iter().rev() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}<br>{}<br>{}</td><td>{}</td><td>{}<br><span class=\"muted\">{}</span></td></tr>",
                r.revision,
                status_badge(&r.decision),
                esc(&cat_name(&r.category)),
                esc(&unit_name(&r.unit_id)),
                card_badge(&r.card),
                esc(r.reason.as_deref().unwrap_or("—")),
                esc(&r.reviewer),
                local_time_text(state, &r.decided_at),
            );
        }
        body.push_str("</table></div>");
    }
    let _ = write!(
        body,
        "<p class=\"muted\">内容哈希 <code>{}</code>{}</p></div>",
        esc(&f.content_hash),
        public_ref.map(|r| format!("<br>公开编号（通报与责任单位所见） <code>{}</code>", esc(&r))).unwrap_or_default()
    );
    body.push_str("</div></div><p><a href=\"/console/findings\">← 返回队列</a></p>");
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/findings", &format!("发现 · {}", f.point.name), &body)).into_response()
}

async fn review(State(state): State<AppState>, user: ConsoleUser, Path(id): Path<String>, form: Form) -> Response {
    let decision = match form.get("decision").parse::<reviews::Decision>() {
        Ok(d) => d,
        Err(_) => return render_finding(&state, &user, &id, Some("未知的审核决定。"), None).await,
    };
    let reason = form.opt("reason");
    if decision != reviews::Decision::Accept && reason.is_none() {
        let what = if decision == reviews::Decision::Reject { "驳回" } else { "更正" };
        return render_finding(&state, &user, &id, Some(&format!("{what}必须填写理由。")), None).await;
    }
    let card = match form.opt("card").map(|c| c.parse::<Card>()) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(_)) => return render_finding(&state, &user, &id, Some("牌色无效。"), None).await,
    };
    let req = if decision == reviews::Decision::Correct {
        reviews::ReviewRequest { decision, category: form.opt("category"), unit_id: form.opt("unit_id"), card, reason }
    } else {
        reviews::ReviewRequest { decision, category: None, unit_id: None, card: None, reason }
    };
    let (uid, uname, fid) = (user.caller.user_id, user.caller.username.clone(), id.clone());
    match state.db.write(move |c| reviews::decide(c, &fid, uid, &uname, &req)).await {
        Ok(rev) => {
            render_finding(
                &state,
                &user,
                &id,
                None,
                Some(&format!("已记录：{}（第 {} 版）", status_label(&rev.decision), rev.revision)),
            )
            .await
        }
        Err(e) if e.code() == ErrorCode::FindingNotFound => {
            (StatusCode::NOT_FOUND, page(&user, "/console/findings", "未找到", "<p class=\"err\">没有这条发现。</p>"))
                .into_response()
        }
        // By code, never by the English sentence.
        Err(e) if e.status().is_client_error() => {
            let zh = match e.code() {
                ErrorCode::ReviewReasonTooLong => format!("理由不能超过 {} 个字。", reviews::MAX_REASON_CHARS),
                ErrorCode::CategoryUnknown | ErrorCode::CategoryInactive => "所选问题类别不存在或已停用。".to_owned(),
                ErrorCode::UnitUnknown | ErrorCode::UnitInactive => "所选责任单位不存在或已停用。".to_owned(),
                code if code.is_generic() => format!("无法记录：{e}"),
                code => format!("{}。", code.zh()),
            };
            render_finding(&state, &user, &id, Some(&zh), None).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- reference data

/// A refusal for a console page, by its code: the code's Chinese text; a
/// generic code names only the kind, so the sentence saying what to fix
/// follows it.
pub(super) fn refusal_zh(e: &AppError) -> String {
    let code = e.code();
    if code.is_generic() { format!("{}：{e}", code.zh()) } else { format!("{}。", code.zh()) }
}

fn flash(error: Option<&str>, ok: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(e) = error {
        let _ = write!(s, "<p class=\"err\">{}</p>", esc(e));
    }
    if let Some(m) = ok {
        let _ = write!(s, "<p class=\"ok\">{}</p>", esc(m));
    }
    s
}

fn import_box(user: &ConsoleUser, action: &str, columns: &str) -> String {
    format!(
        "<div class=\"box\"><h2 style=\"margin-top:0\">CSV 批量导入</h2>\
         <p class=\"muted\">UTF-8 编码（可带 BOM，Excel“CSV UTF-8”即可），第一行为列名：{columns}。整个文件先校验，有任何错误则不写入任何数据；同编号的记录会被更新。</p>\
         <form method=\"post\" action=\"{action}\" class=\"edit\" style=\"flex-direction:column;align-items:stretch\">{csrf}\
         <input type=\"file\" accept=\".csv,text/csv\" onchange=\"var r=new FileReader(),t=this.form.csv;r.onload=function(){{t.value=r.result}};r.readAsText(this.files[0],'utf-8')\">\
         <textarea name=\"csv\" rows=\"6\" placeholder=\"选择文件，或把 CSV 内容粘贴到这里\" required></textarea>\
         <button>导入</button></form></div>",
        csrf = hidden_csrf(user)
    )
}

fn import_result(result: Result<usize, Vec<LineError>>) -> (Option<String>, Option<String>) {
    match result {
        Ok(n) => (None, Some(format!("已导入 {n} 条记录。"))),
        Err(errors) => {
            let mut msg = format!("导入失败，未写入任何数据。共 {} 处错误：", errors.len());
            for e in errors.iter().take(20) {
                let _ = write!(msg, "\n第 {} 行，字段 {}：{}", e.line, e.field, e.message);
            }
            if errors.len() > 20 {
                let _ = write!(msg, "\n……另有 {} 处", errors.len() - 20);
            }
            (Some(msg), None)
        }
    }
}

fn active_select(active: bool) -> String {
    options(&[("1".into(), "启用".into()), ("0".into(), "停用".into())], if active { "1" } else { "0" }, None)
}

async fn units_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_units(&state, &user, None, None).await
}

async fn render_units(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let units = match state.db.read(reference_admin::units).await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    let admin = user.can(Role::Admin);
    let mut body = flash(error, ok);
    if admin {
        let _ = write!(
            body,
            "<form class=\"box edit\" method=\"post\" action=\"/console/units\">{}\
             <label>编号<input name=\"id\" required size=\"6\"></label><label>名称<input name=\"name\" required></label>\
             <label>区县<input name=\"district\" size=\"8\"></label><input type=\"hidden\" name=\"active\" value=\"1\"><button>新增/更新单位</button></form>",
            hidden_csrf(user)
        );
    }
    body.push_str("<div class=\"scroll\"><table><tr><th>编号</th><th>名称</th><th>区县</th><th>状态</th></tr>");
    for u in &units {
        if admin {
            let _ = write!(
                body,
                "<tr><td colspan=\"4\"><form class=\"edit\" method=\"post\" action=\"/console/units\">{csrf}<input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <b style=\"min-width:3em\">{id}</b><input name=\"name\" value=\"{name}\" required><input name=\"district\" value=\"{district}\" size=\"8\" placeholder=\"区县\">\
                 <select name=\"active\">{active}</select><button class=\"plain\">保存</button></form></td></tr>",
                csrf = hidden_csrf(user),
                id = esc(&u.id),
                name = esc(&u.name),
                district = esc(u.district.as_deref().unwrap_or("")),
                active = active_select(u.active),
            );
        } else {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&u.id),
                esc(&u.name),
                esc(u.district.as_deref().unwrap_or("")),
                if u.active { "启用" } else { "停用" }
            );
        }
    }
    body.push_str("</table></div>");
    if admin {
        body.push_str(&import_box(
            user,
            "/console/units/import",
            "编号（id）、名称（name）、区县（district，可选）、启用（active，可选）",
        ));
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/units", &format!("责任单位（{}）", units.len()), &body)).into_response()
}

async fn save_unit(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let unit = Unit {
        id: form.get("id").to_owned(),
        name: form.get("name").to_owned(),
        district: form.opt("district"),
        active: form.get("active") != "0",
    };
    let saved = unit.clone();
    match state.db.write(move |c| reference_admin::save_unit(c, &saved)).await {
        Ok(()) => render_units(&state, &user, None, Some(&format!("已保存单位 {} {}。", unit.id, unit.name))).await,
        Err(e) if e.status().is_client_error() => {
            render_units(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

async fn import_units(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let text = form.0.get("csv").cloned().unwrap_or_default();
    match import_units_csv(&state, text).await {
        Ok(result) => {
            let (e, o) = import_result(result);
            render_units(&state, &user, e.as_deref(), o.as_deref()).await
        }
        Err(e) => internal(e),
    }
}

async fn points_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_points_editing(&state, &user, None, None, q.get("edit").map(String::as_str)).await
}

fn kind_options(selected: &str) -> String {
    options(
        &PointKind::ALL.iter().map(|k| (k.as_str().to_owned(), k.label_zh().to_owned())).collect::<Vec<_>>(),
        selected,
        None,
    )
}

async fn render_points(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    render_points_editing(state, user, error, ok, None).await
}

/// The points table; an admin edits one point at a time (`?edit=ID`), so the
/// page stays light with hundreds of points.
async fn render_points_editing(
    state: &AppState,
    user: &ConsoleUser,
    error: Option<&str>,
    ok: Option<&str>,
    edit: Option<&str>,
) -> Response {
    let data = state.db.read(|c| Ok((reference_admin::points(c)?, reference_admin::units(c)?))).await;
    let (points, units) = match data {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let unit_opts: Vec<(String, String)> =
        units.iter().map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect();
    let unit_name = |id: &str| units.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_default();
    let admin = user.can(Role::Admin);
    let mut body = flash(error, ok);
    let point_form = |p: Option<&PointRecord>| {
        let v = |f: &dyn Fn(&PointRecord) -> String| p.map(f).unwrap_or_default();
        format!(
            "<form class=\"edit\" method=\"post\" action=\"/console/points\">{csrf}\
             <label>编号<input name=\"id\" value=\"{id}\" required size=\"6\" {ro}></label>\
             <label>名称<input name=\"name\" value=\"{name}\" required></label>\
             <label>类型<select name=\"kind\">{kinds}</select></label>\
             <label>责任单位<select name=\"unit_id\">{units}</select></label>\
             <label>点长<input name=\"leader\" value=\"{leader}\" size=\"8\"></label>\
             <label>区县<input name=\"district\" value=\"{district}\" size=\"8\"></label>\
             <label>纬度<input name=\"lat\" value=\"{lat}\" required size=\"9\" inputmode=\"decimal\"></label>\
             <label>经度<input name=\"lon\" value=\"{lon}\" required size=\"10\" inputmode=\"decimal\"></label>\
             <label>地址<input name=\"address\" value=\"{address}\"></label>\
             <label>状态<select name=\"active\">{active}</select></label><button class=\"plain\">保存</button></form>",
            csrf = hidden_csrf(user),
            id = esc(&v(&|p| p.point.id.clone())),
            ro = if p.is_some() { "readonly" } else { "" },
            name = esc(&v(&|p| p.point.name.clone())),
            kinds = kind_options(&v(&|p| p.point.kind.as_str().to_owned())),
            units = options(&unit_opts, &v(&|p| p.point.unit_id.clone()), None),
            leader = esc(&v(&|p| p.leader.clone().unwrap_or_default())),
            district = esc(&v(&|p| p.point.district.clone().unwrap_or_default())),
            lat = v(&|p| p.point.lat.to_string()),
            lon = v(&|p| p.point.lon.to_string()),
            address = esc(&v(&|p| p.point.address.clone().unwrap_or_default())),
            active = active_select(p.is_none_or(|p| p.point.active)),
        )
    };
    if admin {
        match edit.and_then(|id| points.iter().find(|p| p.point.id == id)) {
            Some(p) => {
                let _ = write!(
                    body,
                    "<div class=\"box\" id=\"edit\"><h2 style=\"margin-top:0\">编辑点位 {}</h2>{}<p><a href=\"/console/points\">取消</a></p></div>",
                    esc(&p.point.id),
                    point_form(Some(p))
                );
            }
            None => {
                let _ = write!(
                    body,
                    "<div class=\"box\"><h2 style=\"margin-top:0\">新增点位</h2>{}</div>",
                    point_form(None)
                );
            }
        }
    }
    {
        body.push_str("<div class=\"scroll\"><table><tr><th>编号</th><th>名称</th><th>类型</th><th>责任单位</th><th>点长</th><th>区县</th><th>坐标</th><th>状态</th></tr>");
        for p in &points {
            let id_cell = if admin {
                format!("<a href=\"/console/points?edit={0}#edit\">{0} 编辑</a>", esc(&p.point.id))
            } else {
                esc(&p.point.id)
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.5}, {:.5}</td><td>{}</td></tr>",
                id_cell,
                esc(&p.point.name),
                p.point.kind.label_zh(),
                esc(&unit_name(&p.point.unit_id)),
                esc(p.leader.as_deref().unwrap_or("")),
                esc(p.point.district.as_deref().unwrap_or("")),
                p.point.lat,
                p.point.lon,
                if p.point.active { "启用" } else { "停用" }
            );
        }
        body.push_str("</table></div>");
    }
    if admin {
        body.push_str(&import_box(
            user,
            "/console/points/import",
            "编号（id）、名称（name）、类型（kind，如 主次干道 或 main_road）、责任单位编号（unit_id）、纬度（lat）、经度（lon），可选：地址（address）、区县（district）、点长（leader）、启用（active）",
        ));
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/points", &format!("点位（{}）", points.len()), &body)).into_response()
}

async fn save_point(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let kind = form.get("kind").parse::<PointKind>();
    let (lat, lon) = (form.get("lat").parse::<f64>(), form.get("lon").parse::<f64>());
    let (Ok(kind), Ok(lat), Ok(lon)) = (kind, lat, lon) else {
        return render_points(
            &state,
            &user,
            Some("无法保存：类型、纬度或经度无效（坐标用十进制度数，如 31.2090）。"),
            None,
        )
        .await;
    };
    let record = PointRecord {
        point: Point {
            id: form.get("id").to_owned(),
            name: form.get("name").to_owned(),
            kind,
            unit_id: form.get("unit_id").to_owned(),
            lat,
            lon,
            address: form.opt("address"),
            district: form.opt("district"),
            active: form.get("active") != "0",
        },
        leader: form.opt("leader"),
    };
    let saved = record.clone();
    match state.db.write(move |c| reference_admin::save_point(c, &saved)).await {
        Ok(()) => {
            render_points(&state, &user, None, Some(&format!("已保存点位 {} {}。", record.point.id, record.point.name)))
                .await
        }
        Err(e) if e.status().is_client_error() => {
            render_points(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

async fn import_points(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let text = form.0.get("csv").cloned().unwrap_or_default();
    match import_points_csv(&state, text).await {
        Ok(result) => {
            let (e, o) = import_result(result);
            render_points(&state, &user, e.as_deref(), o.as_deref()).await
        }
        Err(e) => internal(e),
    }
}

async fn categories_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_categories(&state, &user, None, None).await
}

async fn render_categories(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let cats = match state.db.read(reference_admin::categories).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let admin = user.can(Role::Admin);
    let mut body = flash(error, ok);
    let form = |c: Option<&Category>| {
        format!(
            "<form class=\"edit\" method=\"post\" action=\"/console/categories\">{csrf}\
             <label>代码<input name=\"code\" value=\"{code}\" required size=\"14\" {ro}></label>\
             <label>名称<input name=\"name\" value=\"{name}\" required></label>\
             <label>说明<input name=\"description\" value=\"{desc}\"></label>\
             <label>排序<input name=\"sort\" value=\"{sort}\" size=\"3\" inputmode=\"numeric\"></label>\
             <label>状态<select name=\"active\">{active}</select></label><button class=\"plain\">保存</button></form>",
            csrf = hidden_csrf(user),
            code = esc(c.map(|c| c.code.as_str()).unwrap_or("")),
            ro = if c.is_some() { "readonly" } else { "" },
            name = esc(c.map(|c| c.name.as_str()).unwrap_or("")),
            desc = esc(c.and_then(|c| c.description.as_deref()).unwrap_or("")),
            sort = c.map(|c| c.sort).unwrap_or(0),
            active = active_select(c.is_none_or(|c| c.active)),
        )
    };
    if admin {
        let _ = write!(body, "<div class=\"box\"><h2 style=\"margin-top:0\">新增类别</h2>{}</div>", form(None));
        for c in &cats {
            let _ = write!(body, "<div class=\"box\">{}</div>", form(Some(c)));
        }
    } else {
        body.push_str("<div class=\"scroll\"><table><tr><th>代码</th><th>名称</th><th>说明</th><th>状态</th></tr>");
        for c in &cats {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.code),
                esc(&c.name),
                esc(c.description.as_deref().unwrap_or("")),
                if c.active { "启用" } else { "停用" }
            );
        }
        body.push_str("</table></div>");
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/categories", "问题类别", &body)).into_response()
}

async fn save_category(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let Ok(sort) = form.opt("sort").unwrap_or_else(|| "0".into()).parse::<i64>() else {
        return render_categories(&state, &user, Some("排序必须是整数。"), None).await;
    };
    let c = Category {
        code: form.get("code").to_owned(),
        name: form.get("name").to_owned(),
        description: form.opt("description"),
        sort,
        active: form.get("active") != "0",
    };
    let saved = c.clone();
    match state.db.write(move |conn| reference_admin::save_category(conn, &saved)).await {
        Ok(()) => render_categories(&state, &user, None, Some(&format!("已保存类别 {}。", c.name))).await,
        Err(e) if e.status().is_client_error() => {
            render_categories(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

async fn settings_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_settings(&state, &user, None, None).await
}

async fn render_settings(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let s = match state.db.read(reference_admin::settings).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let days = |d: Option<i64>| d.map(|d| d.to_string()).unwrap_or_default();
    let admin = user.can(Role::Admin);
    let mut body = flash(error, ok);
    if admin {
        let _ = write!(
            body,
            "<form class=\"box\" method=\"post\" action=\"/console/settings\" style=\"display:flex;flex-direction:column;gap:.6rem\">{csrf}\
             <label>发文机关<br><input name=\"issuing_body\" value=\"{ib}\" required style=\"width:100%\"></label>\
             <label>主送 / 抄送（送：…）<br><textarea name=\"distribution\" rows=\"3\" required style=\"width:100%\">{dist}</textarea></label>\
             <label>编制署名<br><input name=\"compiler\" value=\"{comp}\" required style=\"width:100%\"></label>\
             <fieldset><legend>整改时限（天，留空表示无需整改）</legend><div class=\"edit\">\
             <label>{r}<input name=\"red\" value=\"{red}\" size=\"4\" inputmode=\"numeric\"></label>\
             <label>{y}<input name=\"yellow\" value=\"{yellow}\" size=\"4\" inputmode=\"numeric\"></label>\
             <label>{g}<input name=\"green\" value=\"{green}\" size=\"4\" inputmode=\"numeric\"></label></div></fieldset>\
             <button>保存设置</button></form>",
            csrf = hidden_csrf(user),
            ib = esc(&s.issuing_body),
            dist = esc(&s.distribution),
            comp = esc(&s.compiler),
            r = card_badge("red"),
            y = card_badge("yellow"),
            g = card_badge("green"),
            red = days(s.card_deadlines.red),
            yellow = days(s.card_deadlines.yellow),
            green = days(s.card_deadlines.green),
        );
    } else {
        let d = |v: Option<i64>| v.map(|d| format!("{d} 天")).unwrap_or_else(|| "无需整改".into());
        let _ = write!(
            body,
            "<div class=\"box\"><dl><dt>发文机关</dt><dd>{}</dd><dt>送</dt><dd>{}</dd><dt>编制署名</dt><dd>{}</dd>\
             <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl></div>",
            esc(&s.issuing_body),
            esc(&s.distribution),
            esc(&s.compiler),
            card_badge("red"),
            d(s.card_deadlines.red),
            card_badge("yellow"),
            d(s.card_deadlines.yellow),
            card_badge("green"),
            d(s.card_deadlines.green),
        );
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/settings", "办公室设置", &body)).into_response()
}

async fn save_settings(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
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
    match state.db.write(move |c| reference_admin::save_settings(c, &s)).await {
        Ok(()) => render_settings(&state, &user, None, Some("设置已保存。")).await,
        Err(e) if e.status().is_client_error() => {
            render_settings(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- inspectors

async fn inspectors_page(State(state): State<AppState>, user: ConsoleUser, headers: HeaderMap) -> Response {
    render_inspectors(&state, &user, &headers, None, None).await
}

/// The enrollment link as a QR code, inline SVG (no image files, no CDN).
fn qr_svg(link: &str) -> String {
    match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
            // Inline SVG needs no XML declaration.
            match svg.find("<svg") {
                Some(i) => svg[i..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

async fn render_inspectors(
    state: &AppState,
    user: &ConsoleUser,
    headers: &HeaderMap,
    error: Option<&str>,
    issued: Option<(&str, &str)>,
) -> Response {
    render_inspectors_with(state, user, headers, error, None, issued).await
}

/// The inspectors page: each inspector with their devices (enrolled, last
/// seen, revoked) and a revoke button per working device. After a new code
/// is issued, it offers to revoke the devices the inspector had until then
/// (a new phone usually means the old one is lost or seized).
async fn render_inspectors_with(
    state: &AppState,
    user: &ConsoleUser,
    headers: &HeaderMap,
    error: Option<&str>,
    ok: Option<&str>,
    issued: Option<(&str, &str)>,
) -> Response {
    let (rows, devices) =
        match state.db.read(|c| Ok((reference_admin::inspectors(c)?, accounts::devices(c, None)?))).await {
            Ok(r) => r,
            Err(e) => return internal(e),
        };
    let mut body = flash(error, ok);
    if let Some((alias, code)) = issued {
        let link = enroll_link(headers, code);
        let _ = write!(
            body,
            "<div class=\"box ok\"><h2 style=\"margin-top:0\">{alias} 的注册码</h2>\
             <p>注册码：<b style=\"font-size:1.3rem;letter-spacing:.05em\">{code}</b>（一次有效，{days} 天内使用）</p>\
             <p>手机打开链接或扫描二维码：<br><code>{link}</code></p><div class=\"qr\">{qr}</div>\
             <p class=\"muted\">此码只显示这一次；请当面交给督查员，不要经由被督查单位转交。</p>",
            alias = esc(alias),
            code = esc(code),
            days = accounts::ENROLLMENT_DAYS,
            link = esc(&link),
            qr = qr_svg(&link),
        );
        // Only the devices working now: a phone enrolled with this new code
        // later is not among them, so the button cannot cut it off.
        if let Some(r) = rows.iter().find(|r| r.alias == alias) {
            let old: Vec<&str> = devices
                .iter()
                .filter(|d| d.inspector_id == r.id && d.revoked_at.is_none())
                .map(|d| d.id.as_str())
                .collect();
            if !old.is_empty() {
                let _ = write!(
                    body,
                    "<form method=\"post\" action=\"/console/inspectors/{id}/devices/revoke\">{csrf}\
                     <input type=\"hidden\" name=\"devices\" value=\"{ids}\">\
                     <p>{alias} 仍有 {n} 台在用设备。如旧手机已丢失或被收缴，请立即停用：</p>\
                     <button>停用旧设备（{n} 台）</button></form>",
                    id = r.id,
                    csrf = hidden_csrf(user),
                    ids = esc(&old.join(",")),
                    alias = esc(alias),
                    n = old.len(),
                );
            }
        }
        body.push_str("</div>");
    }
    let _ = write!(
        body,
        "<form class=\"box edit\" method=\"post\" action=\"/console/inspectors\">{}\
         <label>化名<input name=\"alias\" required maxlength=\"32\" placeholder=\"如 督查04\"></label><button>新增督查员并生成注册码</button></form>",
        hidden_csrf(user)
    );
    body.push_str(
        "<div class=\"scroll\"><table><tr><th>化名</th><th>状态</th><th>设备（登记时间 · 最近同步）</th><th>发现数</th><th></th></tr>",
    );
    for r in &rows {
        let mut cell = String::new();
        for d in devices.iter().filter(|d| d.inspector_id == r.id) {
            let seen = d.last_seen_at.as_deref().map(|t| local_time_text(state, t)).unwrap_or_else(|| "从未".into());
            let _ = write!(
                cell,
                "<div>{label} · 登记 {enrolled} · 最近同步 {seen} ",
                label = esc(d.label.as_deref().unwrap_or("未命名设备")),
                enrolled = esc(&local_time_text(state, &d.enrolled_at)),
                seen = esc(&seen),
            );
            match &d.revoked_at {
                Some(at) => {
                    let _ =
                        write!(cell, "<span class=\"st st-reject\">已停用 {}</span>", esc(&local_time_text(state, at)));
                }
                None => {
                    let _ = write!(
                        cell,
                        "<form method=\"post\" action=\"/console/inspectors/{id}/devices/revoke\" style=\"display:inline\">{csrf}\
                         <input type=\"hidden\" name=\"device\" value=\"{device}\"><button class=\"plain\">停用此设备</button></form>",
                        id = r.id,
                        csrf = hidden_csrf(user),
                        device = esc(&d.id),
                    );
                }
            }
            cell.push_str("</div>");
        }
        if cell.is_empty() {
            cell.push_str("<span class=\"muted\">尚未登记</span>");
        }
        let _ = write!(
            body,
            "<tr><td>{alias}</td><td>{st}</td><td>{cell}</td><td>{n}</td><td><form method=\"post\" action=\"/console/inspectors/{id}/code\">{csrf}<button class=\"plain\">新注册码（换手机）</button></form></td></tr>",
            alias = esc(&r.alias),
            st = if r.active { "在用" } else { "停用" },
            n = r.findings,
            id = r.id,
            csrf = hidden_csrf(user),
        );
    }
    body.push_str(
        "</table></div><p class=\"muted\">督查员只以化名出现；化名不会出现在领导、责任单位可见的页面或通报中。\
         停用的设备下次联网即被拒绝（此设备已被停用），其未同步的记录保留在手机上，不会被删除：\
         可给督查员新注册码重新登记后上传，或用命令行客户端导出（anfang findings --json）。</p>",
    );
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/inspectors", "督查员", &body)).into_response()
}

async fn revoke_devices(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return render_inspectors(&state, &user, &headers, Some("没有这名督查员。"), None).await;
    };
    // One device (`device`), or the list shown when a new code was issued (`devices`).
    let ids: Vec<String> = match form.opt("device") {
        Some(d) => vec![d],
        None => form.get("devices").split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect(),
    };
    if ids.is_empty() {
        return render_inspectors(&state, &user, &headers, Some("请选择要停用的设备。"), None).await;
    }
    let result = state
        .db
        .write(move |c| {
            let mut revoked = 0;
            for d in &ids {
                revoked += accounts::revoke_devices(c, id, Some(d))?.len();
            }
            Ok(revoked)
        })
        .await;
    match result {
        Ok(n) => {
            let ok = format!("已停用 {n} 台设备。该设备下次联网时将被拒绝；其未同步的记录仍保留在手机上。");
            render_inspectors_with(&state, &user, &headers, None, Some(&ok), None).await
        }
        Err(AppError::NotFound(_)) => render_inspectors(&state, &user, &headers, Some("没有这台设备。"), None).await,
        Err(e) => internal(e),
    }
}

async fn add_inspector(State(state): State<AppState>, user: ConsoleUser, headers: HeaderMap, form: Form) -> Response {
    let alias = form.get("alias").to_owned();
    let a = alias.clone();
    match state.db.write(move |c| accounts::add_inspector(c, &a)).await {
        Ok((_, code)) => render_inspectors(&state, &user, &headers, None, Some((&alias, &code))).await,
        Err(AppError::Conflict { .. }) => {
            render_inspectors(&state, &user, &headers, Some(&format!("化名“{alias}”已存在。")), None).await
        }
        Err(e) if e.code() == ErrorCode::InspectorAliasLength => {
            render_inspectors(&state, &user, &headers, Some(&format!("{}。", e.code().zh())), None).await
        }
        Err(e) => internal(e),
    }
}

async fn inspector_code(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return render_inspectors(&state, &user, &headers, Some("没有这名督查员。"), None).await;
    };
    let result = state
        .db
        .write(move |c| {
            let code = reference_admin::issue_code_for(c, id)?;
            let alias =
                reference_admin::inspectors(c)?.into_iter().find(|r| r.id == id).map(|r| r.alias).unwrap_or_default();
            Ok((alias, code))
        })
        .await;
    match result {
        Ok((alias, code)) => render_inspectors(&state, &user, &headers, None, Some((&alias, &code))).await,
        Err(AppError::NotFound(_)) => render_inspectors(&state, &user, &headers, Some("没有这名督查员。"), None).await,
        Err(AppError::Unprocessable(_)) => {
            render_inspectors(&state, &user, &headers, Some("该督查员已停用。"), None).await
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_internal_error_on_a_console_page_is_an_html_page_without_its_detail() {
        let res = internal(AppError::internal("sqlite: disk I/O error at /secret/path"));
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let ct = res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{ct}");
        let body = String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        assert!(body.contains("服务器内部错误") && !body.contains("/secret/path"), "{body}");
    }

    #[test]
    fn the_qr_code_is_inline_svg() {
        let svg = qr_svg("http://127.0.0.1:8080/app/#enroll=ABCD-EFGH-JKMN");
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("<path") || svg.contains("<rect"), "has modules");
    }

    #[test]
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_token("anfs_a"), csrf_token("anfs_b"));
        assert_eq!(csrf_token("anfs_a"), csrf_token("anfs_a"));
    }
}
