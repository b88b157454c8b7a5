//! The office web console at `/console/`: server-rendered HTML in Chinese,
//! written with maud templates, which escape every spliced value (no
//! JavaScript framework, no CDN). Pages call the same `db` functions as the
//! JSON API.
//!
//! One module per page group: [`findings`] (review queue, finding, review
//! form), [`cases`] (rectification queue, case, decisions), [`reference`]
//! (units, points, categories, CSV import), [`settings`] (with the email
//! server), [`rectification`] (rectification rules, category deadlines,
//! office calendar), [`exposure`] (曝光台: propose, publish, withdraw), [`contacts`] (a unit's contacts, test notices),
//! [`notices`] (通知记录, the delivery log), [`inspectors`] (devices,
//! enrollment codes), [`login`], [`bulletins`], [`draws`], [`identities`],
//! [`backup`] (备份: settings, runs, back up now).
//! This module holds the route
//! table, the guard every row with a role goes through, the session and
//! form extractors, and the layout.
//!
//! **Invariants:**
//! - the session is an HttpOnly, SameSite=Strict cookie holding the same
//!   `anfs_` token a bearer header would (stored hashed);
//! - who may use a route is its [`ConsoleRoute`] row, enforced by [`guard`]:
//!   every form post is checked for Origin (or Referer), the per-session
//!   CSRF token and the row's role before its handler runs; no handler
//!   checks a role itself;
//! - leaders get pages without forms, and their POSTs are refused;
//! - the inspector's alias appears only on pages for reviewers and admins;
//! - markup comes only from `html!`; `PreEscaped` only splices our own
//!   constant CSS and the QR code's SVG (see `ARCHITECTURE.md`).

use crate::AppState;
use crate::auth::{OfficeCaller, Role, same_origin, secret_hash, session_cookie};
use crate::error::AppError;
use anfang_core::Card;
use anfang_core::domain::{Category, Unit};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;

mod backup;
mod bulletins;
mod cases;
mod contacts;
mod draws;
mod exposure;
mod findings;
mod identities;
mod inspectors;
mod league;
mod login;
mod notices;
mod rectification;
mod reference;
mod settings;

/// The session cookie, shared with the unit portal (one sign-in machinery).
pub(crate) use login::session_cookie_header;

/// Who may use a console route (the console's own table, walked by a test
/// like the API's). One row per method, so a page can be for leaders while
/// its form is for admins.
pub struct ConsoleRoute {
    pub method: &'static str,
    pub path: &'static str,
    /// `None`: anyone (the login page). Otherwise [`guard`] admits this
    /// role and above.
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
        r("get", "/console/login", None, get(login::login_page)),
        r("post", "/console/login", None, post(login::login)),
        r("post", "/console/logout", Some(Leader), post(login::logout)),
        r("get", "/console/findings", Some(Leader), get(findings::queue)),
        r("get", "/console/findings/{id}", Some(Leader), get(findings::finding_page)),
        r("post", "/console/findings/{id}/review", Some(Reviewer), post(findings::review)),
        r("get", "/console/cases", Some(Leader), get(cases::queue)),
        r("get", "/console/cases/{ref}", Some(Leader), get(cases::case_page)),
        r("post", "/console/cases/{ref}/decision", Some(Reviewer), post(cases::decide)),
        r("post", "/console/rechecks/draw", Some(Reviewer), post(cases::draw_rechecks)),
        r("post", "/console/cases/{ref}/exposure", Some(Reviewer), post(exposure::propose)),
        r("get", "/console/exposure", Some(Leader), get(exposure::list_page)),
        r("post", "/console/exposure/settings", Some(Admin), post(exposure::save_settings)),
        r("get", "/console/exposure/{ref}", Some(Leader), get(exposure::entry_page)),
        r("post", "/console/exposure/{ref}/publish", Some(Reviewer), post(exposure::publish)),
        r("post", "/console/exposure/{ref}/withdraw", Some(Reviewer), post(exposure::withdraw)),
        r("get", "/console/units", Some(Leader), get(reference::units_page)),
        r("post", "/console/units", Some(Admin), post(reference::save_unit)),
        r("post", "/console/units/import", Some(Admin), post(reference::import_units)),
        r("get", "/console/points", Some(Leader), get(reference::points_page)),
        r("post", "/console/points", Some(Admin), post(reference::save_point)),
        r("post", "/console/points/import", Some(Admin), post(reference::import_points)),
        r("get", "/console/categories", Some(Leader), get(reference::categories_page)),
        r("post", "/console/categories", Some(Admin), post(reference::save_category)),
        r("get", "/console/settings", Some(Leader), get(settings::settings_page)),
        r("post", "/console/settings", Some(Admin), post(settings::save_settings)),
        r("post", "/console/settings/smtp", Some(Admin), post(settings::save_smtp)),
        r("get", "/console/backup", Some(Admin), get(backup::backup_page)),
        r("post", "/console/backup", Some(Admin), post(backup::save)),
        r("post", "/console/backup/run", Some(Admin), post(backup::run_now)),
        r("get", "/console/contacts", Some(Leader), get(contacts::contacts_page)),
        r("post", "/console/contacts", Some(Admin), post(contacts::save_contact)),
        r("post", "/console/contacts/{id}/deactivate", Some(Admin), post(contacts::deactivate)),
        r("post", "/console/contacts/{id}/test", Some(Admin), post(contacts::send_test)),
        r("get", "/console/notices", Some(Leader), get(notices::notices_page)),
        r("post", "/console/notices/{id}/retry", Some(Admin), post(notices::retry)),
        r("get", "/console/rectification", Some(Leader), get(rectification::settings_page)),
        r("post", "/console/rectification", Some(Admin), post(rectification::save_settings)),
        r("post", "/console/rectification/deadlines", Some(Admin), post(rectification::save_deadlines)),
        r("post", "/console/rectification/calendar", Some(Admin), post(rectification::import_calendar)),
        r("get", "/console/inspectors", Some(Admin), get(inspectors::inspectors_page)),
        r("post", "/console/inspectors", Some(Admin), post(inspectors::add_inspector)),
        r("post", "/console/inspectors/{id}/code", Some(Admin), post(inspectors::inspector_code)),
        r("post", "/console/inspectors/{id}/source", Some(Admin), post(inspectors::set_source)),
        r("post", "/console/inspectors/{id}/devices/revoke", Some(Admin), post(inspectors::revoke_devices)),
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
        r("get", "/console/league", Some(Leader), get(league::league_page)),
        r("post", "/console/league/issue", Some(Reviewer), post(league::issue)),
        r("post", "/console/league/rules", Some(Admin), post(league::save_rules)),
        r("post", "/console/league/settings", Some(Admin), post(league::save_settings)),
    ]
}

/// The console's navigation: (path, label, minimum role).
const NAV: &[(&str, &str, Role)] = &[
    ("/console/findings", "审核", Role::Leader),
    ("/console/cases", "整改", Role::Leader),
    ("/console/bulletins", "通报", Role::Leader),
    ("/console/exposure", "曝光台", Role::Leader),
    ("/console/league", "月评排名", Role::Leader),
    ("/console/units", "责任单位", Role::Leader),
    ("/console/points", "点位", Role::Leader),
    ("/console/categories", "问题类别", Role::Leader),
    ("/console/contacts", "联系人", Role::Leader),
    ("/console/notices", "通知记录", Role::Leader),
    ("/console/settings", "设置", Role::Leader),
    ("/console/rectification", "整改设置", Role::Leader),
    ("/console/draws", "抽签", Role::Reviewer),
    ("/console/inspectors", "督查员", Role::Admin),
    ("/console/identities", "身份与审计", Role::Admin),
    ("/console/backup", "备份", Role::Admin),
];

async fn home(_user: ConsoleUser) -> Response {
    see_other("/console/findings")
}

// ---------------------------------------------------------------- the guard

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
    /// Admins only: the backup warning every page shows (no backup set, or
    /// the last good one older than two days).
    pub backup_warning: Option<String>,
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
        // The console is the office's: a responsible unit's account has the
        // unit portal (/unit/).
        if caller.role == Role::Unit {
            let body = html! {
                div.box style="max-width:480px;margin:3rem auto" {
                    h1 { "无权访问" }
                    p.err { "责任单位账号不能使用办公室控制台。本单位的整改单请在单位端查看：" }
                    p { a href="/unit/" { "前往单位端" } }
                }
            };
            return Err((StatusCode::FORBIDDEN, page_bare("无权访问", body)).into_response());
        }
        let backup_warning = if caller.role == Role::Admin {
            // Only what the warning needs, on every admin page: not the runs.
            match tokio::try_join!(state.db.backup_settings(), state.db.last_good_backup_ms()) {
                Ok((settings, last_good)) => crate::app::backups::warning(&settings, last_good, state.clock.now()),
                Err(e) => return Err(internal(e)),
            }
        } else {
            None
        };
        Ok(ConsoleUser { caller, csrf: csrf_token(&token), backup_warning })
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
    /// The field as sent, untrimmed (a password, a CSV file).
    fn raw(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_default()
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
    let body = html! {
        p.err { (message) }
        p { a href="/console/" { "返回控制台" } }
    };
    (StatusCode::FORBIDDEN, page_bare("无法执行", body)).into_response()
}

/// An error no page handles itself, as an HTML page: a person reads the
/// console, not a JSON parser. Internal details are logged, never shown.
fn internal(e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(%detail, "internal error on a console page");
    }
    let body = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { "出错了" }
                style { (PreEscaped(CSS)) }
            }
            body { main {
                h1 { "出错了" }
                p.err { (e.code().zh()) }
                p { a href="/console/" { "返回首页" } }
            } }
        }
    };
    (e.status(), Html(body.into_string())).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A refusal for a console page, by its code: the code's Chinese text; a
/// generic code names only the kind, so the sentence saying what to fix
/// follows it.
pub(super) fn refusal_zh(e: &AppError) -> String {
    let code = e.code();
    if code.is_generic() { format!("{}：{e}", code.zh()) } else { format!("{}。", code.zh()) }
}

// ---------------------------------------------------------------- layout

/// Our own constant stylesheet, spliced unescaped (`PreEscaped`): no data in it.
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
.st.cs-open{border-color:#1565c0;color:#1565c0}.st.cs-answered{border-color:#6a1b9a;color:#6a1b9a}.st.cs-rework{border-color:#e65100;color:#e65100}
.st.cs-deferred{border-color:#795548;color:#795548}.st.cs-closed{border-color:#2e7d32;color:#2e7d32}.st.cs-cancelled{border-color:#777;color:#777}
.overdue{color:#c62828;font-weight:600;white-space:nowrap}.supervised{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.82rem;background:#c62828;color:#fff;font-weight:600}
pre.notice{white-space:pre-wrap;word-break:break-all;font-size:.85rem;max-width:42em;margin:.3rem 0}.pending{color:#e65100;font-weight:600}.holiday{color:#c62828;font-weight:600}.workday{color:#1565c0;font-weight:600}
nav.counts{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:.8rem}nav.counts a{background:#fff;border:1px solid #ddd;border-radius:16px;padding:.15rem .7rem;color:inherit;text-decoration:none;font-size:.9rem}nav.counts a.on{border-color:#8b1a1a;color:#8b1a1a}
form.filters label.check,label.check{flex-direction:row;align-items:center;gap:.3rem;display:flex}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin-bottom:1rem}.pair .box{margin:0}.pair h3{margin:0 0 .5rem;font-size:1rem}@media (max-width:800px){.pair{grid-template-columns:1fr}}
.thumbs{display:flex;flex-wrap:wrap;gap:.4rem}.thumbs img{height:110px;max-width:100%;border-radius:3px;background:#ddd;display:block}.attach+.attach{border-top:1px solid #eee;margin-top:.5rem}
form.settings{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.8rem}form.settings label{display:flex;flex-direction:column;gap:.15rem}form.settings .wide{grid-column:1/-1}
.card,.st,.overdue,.supervised,code.ref,.nw{white-space:nowrap}table.stack th{white-space:nowrap}
.decide form{display:flex;flex-direction:column;align-items:flex-start;gap:.4rem;border-top:1px solid #eee;padding:.6rem 0}
.decide label{display:flex;flex-direction:column;gap:.15rem;width:100%;max-width:36rem}.decide input,.decide select{width:100%}
form.settings label.check{flex-direction:row;align-items:center;grid-column:1/-1}
.num{white-space:nowrap}.num input{width:6em}dl.wide{grid-template-columns:11em 1fr}details summary{cursor:pointer}details table{margin-top:.5rem}
@media (max-width:600px){main{padding:.6rem}th,td{padding:.3rem}header form{margin-left:0}
table.stack thead{display:none}table.stack,table.stack tbody,table.stack tr{display:block;width:100%}
table.stack tr{display:flex;flex-wrap:wrap;align-items:baseline;column-gap:.9rem;border:1px solid #ddd;border-radius:6px;margin:0 0 .6rem;padding:.4rem .6rem;background:#fff}
table.stack td{display:block;border:0;padding:.1rem 0}table.stack td::before{content:attr(data-label) "：";color:#666;font-size:.85rem}
table.stack td.main{order:-1;flex-basis:100%;font-weight:600}table.stack td.main::before,table.stack td.nolabel::before{content:none}
table.stack td.text{flex-basis:100%}table.stack td.empty{display:none}
dl.wide{grid-template-columns:1fr}}
"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · 暗访督查" }
            style { (PreEscaped(CSS)) }
        }
    }
}

/// A page without navigation (sign-in, refusals).
fn page_bare(title: &str, body: Markup) -> Html<String> {
    Html(crate::html::xml_chars_only(
        html! {
            (DOCTYPE)
            html lang="zh-CN" { (head(title)) body { main { (body) } } }
        }
        .into_string(),
    ))
}

/// A page of the console: navigation for the user's role, the title, the body.
fn page(user: &ConsoleUser, current: &str, title: &str, body: Markup) -> Html<String> {
    let role = match user.caller.role {
        Role::Admin => "管理员",
        Role::Reviewer => "审核员",
        Role::Leader => "领导（只读）",
        Role::Unit => "责任单位",
    };
    Html(crate::html::xml_chars_only(
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                (head(title))
                body {
                    header {
                        b { "四城同创 · 暗访督查" }
                        nav {
                            @for (path, label, min) in NAV {
                                @if user.can(*min) {
                                    a href=(path) class=[(*path == current).then_some("on")] { (label) }
                                }
                            }
                        }
                        form method="post" action="/console/logout" {
                            (hidden_csrf(user))
                            span.who { (user.caller.username) "（" (role) "）" }
                            " "
                            button.plain { "退出" }
                        }
                    }
                    main {
                        @if let Some(w) = user.backup_warning.as_ref().filter(|_| current != "/console/backup") {
                            p.err { (w) " " a href="/console/backup" { "备份设置" } }
                        }
                        h1 { (title) } (body)
                    }
                }
            }
        }
        .into_string(),
    ))
}

fn hidden_csrf(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// An error and a success message, either or both.
fn flash(error: Option<&str>, ok: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { p.err { (e) } }
        @if let Some(m) = ok { p.ok { (m) } }
    }
}

fn card_badge(card: &str) -> Markup {
    let label = card.parse::<Card>().map(|c| c.label_zh()).unwrap_or("?");
    html! { span class={ "card card-" (card) } { (label) } }
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

fn status_badge(status: &str) -> Markup {
    html! { span class={ "st st-" (status) } { (status_label(status)) } }
}

fn local_time(state: &AppState, ts: jiff::Timestamp) -> String {
    ts.to_zoned_datetime(state.config.timezone.clone()).strftime("%Y-%m-%d %H:%M").to_string()
}

fn local_time_text(state: &AppState, text: &str) -> String {
    text.parse::<jiff::Timestamp>().map(|t| local_time(state, t)).unwrap_or_else(|_| text.to_owned())
}

/// `<option>`s for (value, label) pairs, one selected, an optional empty first.
fn options(items: &[(String, String)], selected: &str, empty: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = empty { option value="" { (e) } }
        @for (v, label) in items {
            option value=(v) selected[v == selected] { (label) }
        }
    }
}

fn card_options() -> Vec<(String, String)> {
    Card::ALL.iter().map(|c| (c.as_str().to_owned(), c.label_zh().to_owned())).collect()
}

fn active_select(active: bool) -> Markup {
    options(&[("1".into(), "启用".into()), ("0".into(), "停用".into())], if active { "1" } else { "0" }, None)
}

struct Lists {
    units: Vec<Unit>,
    categories: Vec<Category>,
}

async fn lists(state: &AppState) -> Result<Lists, AppError> {
    let (units, categories) = state.db.units_and_categories().await?;
    Ok(Lists { units, categories })
}

impl Lists {
    fn unit_options(&self) -> Vec<(String, String)> {
        self.units.iter().filter(|u| u.active).map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect()
    }
    fn category_options(&self) -> Vec<(String, String)> {
        self.categories.iter().filter(|c| c.active).map(|c| (c.code.clone(), c.name.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

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
    fn csrf_tokens_differ_per_session() {
        assert_ne!(csrf_token("anfs_a"), csrf_token("anfs_b"));
        assert_eq!(csrf_token("anfs_a"), csrf_token("anfs_a"));
    }

    #[test]
    fn spliced_values_are_escaped_in_text_and_attributes() {
        let evil = "\"><img src=x onerror=alert(1)><script>alert(1)</script>";
        let html =
            html! { p title=(evil) { (evil) } (options(&[(evil.into(), evil.into())], "", Some(evil))) }.into_string();
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("&quot;&gt;&lt;img"), "{html}");
    }
}
