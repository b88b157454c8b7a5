//! The unit portal at `/unit/` (责任单位整改反馈): where a responsible
//! unit's account reads its rectification cases and answers them. Server-
//! rendered maud pages in Chinese, made for a phone first (one column, big
//! tap targets), printable, with a few lines of inline script only for the
//! photo preview and a size check before upload.
//!
//! It shares the console's session machinery (the `anfang_session` cookie,
//! the same `anfs_` token and [`crate::signin::sign_in`] with its
//! throttles, the CSRF token derived from the session) but has its own
//! route table and guard, because its audience is the opposite one: the
//! guard admits unit accounts only, the console's refuses them.
//!
//! **Invariants:**
//! - who may use a route is its [`PortalRoute`] row, enforced by [`guard`]:
//!   no session → the sign-in page; an office account → 403; a form (any
//!   non-GET) not from this server's pages, not a form, or without the
//!   session's CSRF token → 403, before any handler runs;
//! - a case is read through `Db::unit_case` only, which answers `None`
//!   alike for another unit's case and for none, and is built from fields
//!   a unit may see; pages show times coarser than it does where a time
//!   would echo when an inspector was there (see [`cases`]);
//! - markup comes only from `html!`; `PreEscaped` splices our own constant
//!   CSS and script.

use crate::AppState;
use crate::auth::{OfficeCaller, same_origin, session_cookie};
use crate::error::AppError;
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;

mod cases;
mod login;
mod multipart;
#[cfg(test)]
mod tests;

/// Largest form body but the answer's.
const FORM_BODY_LIMIT: usize = 64 * 1024;
/// Largest answer: nine phone photos of up to 12 MB each on average (one
/// may be up to the pipeline's 40 MB as long as the sum fits), a 10 MB PDF
/// scan and the text. The body is buffered, so this bounds the memory one
/// answer holds; the page checks the sum before it sends.
pub const ANSWER_BODY_LIMIT: usize =
    crate::app::cases::MAX_PHOTOS * 12 * 1024 * 1024 + crate::app::cases::MAX_PDF_BYTES + 1024 * 1024;

/// Who may use a portal row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalAccess {
    /// Anyone: the sign-in page and the redirect to it.
    Open,
    /// A signed-in responsible-unit account, and nobody else.
    Unit,
}

impl PortalAccess {
    pub fn label(self) -> &'static str {
        match self {
            PortalAccess::Open => "open",
            PortalAccess::Unit => "unit",
        }
    }
}

/// One row of the portal's table (walked by `routes::tests` and the
/// anonymity walk like the API's and the console's).
pub struct PortalRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub access: PortalAccess,
    /// The most body bytes the row reads.
    pub body_limit: usize,
    pub handler: MethodRouter<AppState>,
}

/// Every portal route.
pub fn unit_portal_routes() -> Vec<PortalRoute> {
    use PortalAccess::*;
    let r = |method, path, access, handler| PortalRoute { method, path, access, body_limit: FORM_BODY_LIMIT, handler };
    vec![
        r("get", "/unit", Open, get(|| async { Redirect::to("/unit/") })),
        r("get", "/unit/", Unit, get(cases::list_page)),
        r("get", "/unit/login", Open, get(login::login_page)),
        r("post", "/unit/login", Open, post(login::login)),
        r("post", "/unit/logout", Unit, post(login::logout)),
        r("get", "/unit/cases/{ref}", Unit, get(cases::case_page)),
        PortalRoute {
            body_limit: ANSWER_BODY_LIMIT,
            ..r("post", "/unit/cases/{ref}/answer", Unit, post(cases::answer))
        },
        r("post", "/unit/cases/{ref}/return", Unit, post(cases::ask_return)),
        r("post", "/unit/cases/{ref}/extension", Unit, post(cases::ask_extension)),
        r("post", "/unit/cases/{ref}/deferral", Unit, post(cases::ask_deferral)),
        r("post", "/unit/cases/{ref}/commitment", Unit, post(cases::commit)),
    ]
}

/// Mounts the portal's rows, each behind [`guard`] where it is for units.
pub(super) fn router(state: &AppState, mut router: axum::Router<AppState>) -> axum::Router<AppState> {
    for r in unit_portal_routes() {
        let limit = r.body_limit;
        let handler = match r.access {
            PortalAccess::Open => r.handler,
            PortalAccess::Unit => {
                r.handler.route_layer(axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| {
                    guard(s, limit, req, next)
                }))
            }
        };
        router = router.route(r.path, handler.layer(DefaultBodyLimit::max(limit)));
    }
    router
}

// ---------------------------------------------------------------- the guard

/// A signed-in unit account, with its unit's name and the CSRF token its
/// forms carry. Put into the request by [`guard`].
#[derive(Clone)]
pub struct PortalUser {
    pub caller: OfficeCaller,
    pub unit_id: String,
    pub unit_name: String,
    pub csrf: String,
    /// The session token, to bind kept uploads to it (see `cases::kept_tag`).
    session: String,
}

impl PortalUser {
    #[allow(clippy::result_large_err)] // the refusal is the page to send
    async fn from_session(headers: &HeaderMap, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/unit/login").into_response();
        let token = session_cookie(headers).ok_or_else(to_login)?;
        if !token.starts_with(crate::auth::SESSION_TOKEN_PREFIX) {
            return Err(to_login());
        }
        let caller = match crate::auth::office_session(state, &token).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(internal(e)),
        };
        let Ok(unit_id) = caller.require_unit().map(str::to_owned) else {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "办公室账号不能使用单位端。请在办公室控制台办理：",
                Some(("/console/", "前往控制台")),
            ));
        };
        let unit_name = match state.db.unit_record(unit_id.clone()).await {
            Ok(u) => u.map(|u| u.name).unwrap_or_else(|| unit_id.clone()),
            Err(e) => return Err(internal(e)),
        };
        Ok(PortalUser { caller, unit_id, unit_name, csrf: super::console::csrf_token(&token), session: token })
    }
}

fn unguarded() -> Response {
    internal(AppError::internal("a portal handler that needs a user sits on an open row"))
}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        parts.extensions.get::<PortalUser>().cloned().ok_or_else(unguarded)
    }
}

/// A portal form's fields and files, parsed by [`guard`] after its origin
/// and CSRF token were checked: the one way a portal handler gets a form.
#[derive(Clone, Default)]
pub struct PortalForm {
    fields: HashMap<String, String>,
    files: Vec<multipart::Part>,
}

impl PortalForm {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(|s| s.trim()).unwrap_or("")
    }
    fn opt(&self, key: &str) -> Option<String> {
        Some(self.get(key)).filter(|s| !s.is_empty()).map(str::to_owned)
    }
    /// Every value of a repeated text field (a multipart form may repeat one).
    fn all(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .filter(|p| p.name == key && p.filename.is_none())
            .filter_map(|p| std::str::from_utf8(&p.data).ok().map(|s| s.trim().to_owned()))
            .collect();
        if out.is_empty() {
            out.extend(self.opt(key));
        }
        out
    }
    /// The non-empty files chosen in the file inputs named `key`.
    fn files(&self, key: &str) -> impl Iterator<Item = &multipart::Part> {
        self.files.iter().filter(move |p| p.name == key && p.filename.is_some() && !p.data.is_empty())
    }
}

impl FromRequestParts<AppState> for PortalForm {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        parts.extensions.remove::<PortalForm>().ok_or_else(unguarded)
    }
}

/// Parses a form body: URL-encoded, or `multipart/form-data` (the answer's
/// photos). Text parts of a multipart body become fields too.
fn parse_form(headers: &HeaderMap, bytes: &Bytes) -> Option<PortalForm> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(boundary) = multipart::boundary(ct) {
        let parts = multipart::parse(bytes, &boundary).ok()?;
        let mut fields = HashMap::new();
        for p in parts.iter().filter(|p| p.filename.is_none()) {
            fields.insert(p.name.clone(), String::from_utf8(p.data.to_vec()).ok()?);
        }
        return Some(PortalForm { fields, files: parts });
    }
    let fields = serde_urlencoded::from_bytes::<HashMap<String, String>>(bytes).ok()?;
    Some(PortalForm { fields, files: Vec::new() })
}

/// The layer of every row for units, in the order a request is refused:
/// no session → the sign-in page; an office account → 403. Forms (every
/// method but GET/HEAD): not from this server's pages → 403; a body over
/// the row's limit → 413; no form → 403; without the session's CSRF token →
/// 403. Then the user (and the parsed [`PortalForm`]) go into the request's
/// extensions for the handler.
async fn guard(State(state): State<AppState>, limit: usize, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let user = match PortalUser::from_session(&parts.headers, &state).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if matches!(parts.method, Method::GET | Method::HEAD) {
        parts.extensions.insert(user);
        return next.run(Request::from_parts(parts, body)).await;
    }
    if !same_origin(&parts.headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "请求来源不是本站页面，已拒绝（跨站请求防护）。请从单位端页面重新提交。",
            None,
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        let back =
            parts.uri.path().rsplit_once('/').map(|(case, _)| case.to_owned()).unwrap_or_else(|| "/unit/".into());
        let text = format!(
            "{}。一次反馈的照片和扫描件合计不能超过 {} MB，请少选几张或分次反馈。",
            ErrorCode::CaseAttachmentTooLarge.zh(),
            limit / (1024 * 1024)
        );
        return refused(StatusCode::PAYLOAD_TOO_LARGE, &text, Some((&back, "返回整改单")));
    };
    let Some(form) = parse_form(&parts.headers, &bytes) else {
        return refused(StatusCode::FORBIDDEN, "表单内容无法解析，请返回页面重新提交。", None);
    };
    if form.get("csrf") != user.csrf {
        return refused(StatusCode::FORBIDDEN, "表单已过期或缺少安全令牌，请刷新页面后重新提交。", None);
    }
    parts.extensions.insert(user);
    parts.extensions.insert(form);
    next.run(Request::from_parts(parts, axum::body::Body::empty())).await
}

fn refused(status: StatusCode, message: &str, link: Option<(&str, &str)>) -> Response {
    let (href, label) = link.unwrap_or(("/unit/", "返回单位端首页"));
    let body = html! {
        p.err role="alert" { (message) }
        p { a.btn.plain href=(href) { (label) } }
    };
    (status, page_bare("无法办理", body)).into_response()
}

/// An error no page handles itself, as a page; details are logged only.
fn internal(e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(%detail, "internal error on a unit portal page");
    }
    let body = html! {
        p.err role="alert" { (e.code().zh()) "。" }
        p { a.btn.plain href="/unit/" { "返回单位端首页" } }
    };
    (e.status(), page_bare("出错了", body)).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A refusal as the unit reads it: its code's Chinese text, and for a code
/// that only names the kind of fault, the field it is about, in Chinese
/// (the English sentence is for API clients, not for this page).
fn refusal_zh(e: &AppError) -> String {
    if let AppError::Internal(detail) = e {
        tracing::error!(%detail, "internal error on a unit portal form");
    }
    let code = e.code();
    let field = match e.field() {
        Some("photos") => Some("整改后照片"),
        Some("note") => Some("整改情况"),
        Some("explanation") => Some("书面说明"),
        Some("explanation_pdf") => Some("书面说明扫描件"),
        Some("file") => Some("附件"),
        Some("reason") => Some("理由"),
        Some("until") => Some("延期至（日期，年-月-日）"),
        Some("target") => Some("目标日期（年-月-日）"),
        _ => None,
    };
    match field {
        Some(f) if code.is_generic() => format!("{}：{f}。", code.zh()),
        _ => format!("{}。", code.zh()),
    }
}

// ---------------------------------------------------------------- layout

/// Our own constant stylesheet (`PreEscaped`: no data in it). Phone first:
/// one column, 16 px text (no zoom on focus in iOS), 48 px tap targets.
const CSS: &str = r#"
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;color:#1f1f1f;background:#f3f4f6}
header{background:#8b1a1a;color:#fff;padding:.6rem 1rem;display:flex;align-items:center;gap:.6rem;flex-wrap:wrap}
header .t{font-weight:700;font-size:1.05rem;color:#fff;text-decoration:none}header .u{opacity:.9;font-size:.9rem;flex:1;min-width:8em}
header form{margin:0}header button{min-height:44px;padding:.3rem .9rem;background:transparent;color:#fff;border:1px solid rgba(255,255,255,.7);border-radius:6px;font:inherit}
main{max-width:760px;margin:0 auto;padding:.8rem}h1{font-size:1.3rem;margin:.3rem 0 .8rem}h2{font-size:1.1rem;margin:1.4rem 0 .6rem}
.box{background:#fff;border:1px solid #e0e0e0;border-radius:10px;padding:.9rem 1rem;margin-bottom:.9rem}
a.case{display:block;background:#fff;border:1px solid #e0e0e0;border-radius:10px;padding:.8rem 1rem;margin-bottom:.7rem;color:inherit;text-decoration:none;min-height:48px}
a.case:active{background:#fafafa}.case .top{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}.case .pt{font-weight:600;font-size:1.05rem;margin:.35rem 0 .1rem}
.case.done{opacity:.8}
.muted{color:#666;font-size:.9rem}.due{margin-left:auto;font-weight:600;white-space:nowrap}.late{color:#c62828}.soon{color:#b45309}.wait{color:#1565c0}
.card{display:inline-block;padding:0 .5rem;border-radius:4px;font-size:.85rem;font-weight:700;color:#fff;line-height:1.6}
.card-red{background:#c62828}.card-yellow{background:#f9a825;color:#222}.card-green{background:#2e7d32}
.st{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.85rem;border:1px solid #888;line-height:1.5}
.st-open,.st-rework{border-color:#c62828;color:#c62828}.st-answered{border-color:#1565c0;color:#1565c0}.st-deferred{border-color:#b45309;color:#b45309}.st-closed{border-color:#2e7d32;color:#2e7d32}.st-cancelled{color:#777}
.flag{background:#c62828;color:#fff;border-color:#c62828}
dl{display:grid;grid-template-columns:5.5em 1fr;gap:.3rem .7rem;margin:0}dt{color:#666}dd{margin:0;overflow-wrap:anywhere}
.next{background:#fff8e1;border:1px solid #f3d9a4;border-radius:10px;padding:.8rem 1rem;margin-bottom:.9rem;font-weight:600}
.cols{display:grid;grid-template-columns:1fr;gap:.9rem}@media (min-width:700px){.cols{grid-template-columns:1fr 1fr}}
.photos{display:grid;grid-template-columns:repeat(3,1fr);gap:.4rem}.photos a,.photos span{display:block}
.photos img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:6px;background:#ddd;display:block}
label{display:block;font-weight:600;margin:.7rem 0 .3rem}label .muted{font-weight:400}
input,textarea,select,button,.btn{font:inherit;font-size:16px}
input[type=text],input[type=password],input[type=date],textarea{width:100%;padding:.65rem .7rem;border:1px solid #bbb;border-radius:8px;background:#fff;min-height:48px}
textarea{min-height:6.5em;resize:vertical}
input[type=file]{width:100%;padding:.5rem 0}
.pick{display:grid;grid-template-columns:1fr 1fr;gap:.5rem;position:relative}
.pick label{margin:0;display:flex;align-items:center;justify-content:center;min-height:52px;border:2px dashed #8b1a1a;border-radius:10px;color:#8b1a1a;background:#fff;text-align:center;cursor:pointer}
.pick input{position:absolute;width:1px;height:1px;opacity:0}.pick.one{grid-template-columns:1fr}
ol.hist .photos{max-width:22rem}
button,.btn{display:inline-flex;align-items:center;justify-content:center;min-height:48px;padding:.5rem 1.2rem;border-radius:8px;border:1px solid #8b1a1a;background:#8b1a1a;color:#fff;cursor:pointer;text-decoration:none}
button.wide{width:100%;margin-top:.9rem;font-weight:600}.btn.plain,button.plain{background:#fff;color:#8b1a1a}
details{background:#fff;border:1px solid #e0e0e0;border-radius:10px;margin-bottom:.7rem}details>summary{padding:.9rem 1rem;min-height:48px;cursor:pointer;font-weight:600}
details>form{padding:0 1rem 1rem}
.err{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c1c;padding:.6rem .8rem;border-radius:8px;white-space:pre-wrap}
.ok{background:#e8f5e9;border:1px solid #b7dfb9;color:#1b5e20;padding:.6rem .8rem;border-radius:8px}
ol.hist{list-style:none;padding:0;margin:0}ol.hist li{border-left:3px solid #d0d0d0;padding:.1rem 0 .7rem .8rem;margin-left:.3rem}
ol.hist li.by-office{border-color:#8b1a1a}ol.hist li.by-unit{border-color:#1565c0}ol.hist li.by-recheck{border-color:#2e7d32}
ol.hist .who{font-weight:600}ol.hist p{margin:.2rem 0}
#preview{display:grid;grid-template-columns:repeat(3,1fr);gap:.4rem;margin-top:.5rem}#preview img{width:100%;aspect-ratio:1;object-fit:cover;border-radius:6px}
@media print{header form,form,details,.noprint{display:none!important}body{background:#fff}a.case,.box,.next{border-color:#999;break-inside:avoid}header{background:#fff;color:#000;border-bottom:2px solid #8b1a1a}header .t{color:#000}}
"#;

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            meta name="referrer" content="same-origin";
            meta name="format-detection" content="telephone=no";
            title { (title) " · 整改反馈" }
            style { (PreEscaped(CSS)) }
        }
    }
}

/// A page without the signed-in header (sign-in, refusals).
fn page_bare(title: &str, body: Markup) -> Html<String> {
    Html(crate::html::xml_chars_only(
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                (head(title))
                body {
                    header { span.t { "四城同创 · 整改反馈" } }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    ))
}

/// A page for a signed-in unit: its name, sign-out, the title, the body.
fn page(user: &PortalUser, title: &str, body: Markup) -> Html<String> {
    Html(crate::html::xml_chars_only(
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                (head(title))
                body {
                    header {
                        a.t href="/unit/" { "四城同创 · 整改反馈" }
                        span.u { (user.unit_name) }
                        form method="post" action="/unit/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button { "退出" }
                        }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    ))
}

fn card_badge(card: Card) -> Markup {
    html! { span class={ "card card-" (card.as_str()) } { (card.label_zh()) } }
}
