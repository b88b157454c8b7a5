//! Inspectors (admins only): add one by alias, a fresh enrollment code for
//! a new phone (shown once, with its link and QR code), and each inspector's
//! devices with a revoke button.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, local_time_text, page};
use crate::db::accounts;
use crate::error::AppError;
use crate::routes::review::enroll_link;
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, PreEscaped, html};

pub async fn inspectors_page(State(state): State<AppState>, user: ConsoleUser, headers: HeaderMap) -> Response {
    render_inspectors(&state, &user, &headers, None, None).await
}

/// The enrollment link as a QR code, inline SVG (no image files, no CDN).
/// Spliced unescaped (`PreEscaped`): the `qrcode` crate writes only
/// `<svg>`, `<rect>`/`<path>` and numbers, never the link's text.
fn qr_svg(link: &str) -> Markup {
    match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).quiet_zone(true).build();
            // Inline SVG needs no XML declaration.
            let svg = match svg.find("<svg") {
                Some(i) => svg[i..].to_owned(),
                None => svg,
            };
            PreEscaped(svg)
        }
        Err(_) => PreEscaped(String::new()),
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
    let (rows, devices) = match state.db.inspectors_and_devices().await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let body = html! {
        (flash(error, ok))
        @if let Some((alias, code)) = issued {
            @let link = enroll_link(headers, code);
            div.box.ok {
                h2 style="margin-top:0" { (alias) " 的注册码" }
                p {
                    "注册码：" b style="font-size:1.3rem;letter-spacing:.05em" { (code) }
                    "（一次有效，" (accounts::ENROLLMENT_DAYS) " 天内使用）"
                }
                p { "手机打开链接或扫描二维码：" br; code { (link) } }
                div.qr { (qr_svg(&link)) }
                p.muted { "此码只显示这一次；请当面交给督查员，不要经由被督查单位转交。" }
                // Only the devices working now: a phone enrolled with this new
                // code later is not among them, so the button cannot cut it off.
                @if let Some(r) = rows.iter().find(|r| r.alias == alias) {
                    @let old: Vec<&str> = devices
                        .iter()
                        .filter(|d| d.inspector_id == r.id && d.revoked_at.is_none())
                        .map(|d| d.id.as_str())
                        .collect();
                    @if !old.is_empty() {
                        form method="post" action={ "/console/inspectors/" (r.id) "/devices/revoke" } {
                            (hidden_csrf(user))
                            input type="hidden" name="devices" value=(old.join(","));
                            p { (alias) " 仍有 " (old.len()) " 台在用设备。如旧手机已丢失或被收缴，请立即停用：" }
                            button { "停用旧设备（" (old.len()) " 台）" }
                        }
                    }
                }
            }
        }
        form.box.edit method="post" action="/console/inspectors" {
            (hidden_csrf(user))
            label { "化名" input name="alias" required maxlength="32" placeholder="如 督查04"; }
            label { "所属" (source_select(crate::league::Source::City)) }
            button { "新增督查员并生成注册码" }
        }
        div.scroll { table {
            tr { th { "化名" } th { "所属" } th { "状态" } th { "设备（登记时间 · 最近同步）" } th { "发现数" } th {} }
            @for r in &rows {
                @let mine: Vec<_> = devices.iter().filter(|d| d.inspector_id == r.id).collect();
                tr {
                    td { (r.alias) }
                    td {
                        form method="post" action={ "/console/inspectors/" (r.id) "/source" } style="display:inline" {
                            (hidden_csrf(user)) (source_select(r.source)) " " button.plain { "改" }
                        }
                    }
                    td { (if r.active { "在用" } else { "停用" }) }
                    td {
                        @for d in &mine {
                            @let seen = d.last_seen_at.as_deref().map(|t| local_time_text(state, t)).unwrap_or_else(|| "从未".into());
                            div {
                                (d.label.as_deref().unwrap_or("未命名设备")) " · 登记 " (local_time_text(state, &d.enrolled_at))
                                " · 最近同步 " (seen) " "
                                @match &d.revoked_at {
                                    Some(at) => { span.st.st-reject { "已停用 " (local_time_text(state, at)) } }
                                    None => {
                                        form method="post" action={ "/console/inspectors/" (r.id) "/devices/revoke" } style="display:inline" {
                                            (hidden_csrf(user))
                                            input type="hidden" name="device" value=(d.id);
                                            button.plain { "停用此设备" }
                                        }
                                    }
                                }
                            }
                        }
                        @if mine.is_empty() { span.muted { "尚未登记" } }
                    }
                    td { (r.findings) }
                    td {
                        form method="post" action={ "/console/inspectors/" (r.id) "/code" } {
                            (hidden_csrf(user)) button.plain { "新注册码（换手机）" }
                        }
                    }
                }
            }
        } }
        p.muted {
            "“所属”是督查员所在的督查力量（市级、区级或第三方），月评排名按它计扣分；改动只影响此后上传的发现。"
        }
        p.muted {
            "督查员只以化名出现；化名不会出现在领导、责任单位可见的页面或通报中。\
             停用的设备下次联网即被拒绝（此设备已被停用），其未同步的记录保留在手机上，不会被删除：\
             可给督查员新注册码重新登记后上传，或用命令行客户端导出（anfang findings --json）。"
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/inspectors", "督查员", body)).into_response()
}

fn source_select(current: crate::league::Source) -> Markup {
    html! {
        select name="source" {
            @for s in crate::league::Source::ALL {
                option value=(s.as_str()) selected[s == current] { (s.zh()) }
            }
        }
    }
}

fn form_source(form: &Form) -> Option<crate::league::Source> {
    match form.opt("source") {
        None => Some(crate::league::Source::City),
        Some(s) => s.parse().ok(),
    }
}

/// Which body an inspector works for, from their next finding on.
pub async fn set_source(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let (Ok(id), Some(source)) = (id.parse::<i64>(), form.opt("source").and_then(|s| s.parse().ok())) else {
        return render_inspectors(&state, &user, &headers, Some("请选择督查员及其所属（市级、区级或第三方）。"), None)
            .await;
    };
    match state.db.set_inspector_source(id, source).await {
        Ok(()) => {
            let ok = format!("已改为{}；此后上传的发现按{}计。", source.zh(), source.zh());
            render_inspectors_with(&state, &user, &headers, None, Some(&ok), None).await
        }
        Err(AppError::NotFound(_)) => render_inspectors(&state, &user, &headers, Some("没有这名督查员。"), None).await,
        Err(e) => internal(e),
    }
}

pub async fn revoke_devices(
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
    let result = app::devices::revoke_each(&state.db, id, ids, state.clock.now()).await;
    match result {
        Ok(n) => {
            let ok = format!("已停用 {n} 台设备。该设备下次联网时将被拒绝；其未同步的记录仍保留在手机上。");
            render_inspectors_with(&state, &user, &headers, None, Some(&ok), None).await
        }
        Err(AppError::NotFound(_)) => render_inspectors(&state, &user, &headers, Some("没有这台设备。"), None).await,
        Err(e) => internal(e),
    }
}

pub async fn add_inspector(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let alias = form.get("alias").to_owned();
    let Some(source) = form_source(&form) else {
        return render_inspectors(&state, &user, &headers, Some("所属须为市级、区级或第三方。"), None).await;
    };
    match app::reference::add_inspector(&state.db, &alias, source, state.clock.now()).await {
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

pub async fn inspector_code(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return render_inspectors(&state, &user, &headers, Some("没有这名督查员。"), None).await;
    };
    let result = state.db.issue_code_with_alias(id, state.clock.now()).await;
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

    #[test]
    fn the_qr_code_is_inline_svg() {
        let svg = qr_svg("http://127.0.0.1:8080/app/#enroll=ABCD-EFGH-JKMN").into_string();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("<path") || svg.contains("<rect"), "has modules");
        assert!(!svg.contains("enroll"), "the link is not written into the SVG as text");
    }
}

#[cfg(test)]
mod source_tests {
    use super::super::cases::tests::office;
    use crate::league::Source;
    use axum::http::StatusCode;

    #[tokio::test]
    async fn an_admin_sets_which_body_an_inspector_works_for_and_a_bad_one_is_refused() {
        let o = office().await;
        let admin = o.session(&o.admin).await;
        let added = admin.post("/console/inspectors", &[("alias", "区督查01"), ("source", "district")]).await;
        assert_eq!(added.status, StatusCode::OK, "{}", added.body);
        let rows = o.state.db.inspectors().await.unwrap();
        let row = rows.iter().find(|r| r.alias == "区督查01").unwrap();
        assert_eq!(row.source, Source::District);

        let refused = admin.post("/console/inspectors", &[("alias", "县督查01"), ("source", "county")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("所属须为市级、区级或第三方"), "{}", refused.body);
        assert!(o.state.db.inspectors().await.unwrap().iter().all(|r| r.alias != "县督查01"), "nothing added");

        let moved = admin.post(&format!("/console/inspectors/{}/source", row.id), &[("source", "third_party")]).await;
        assert_eq!(moved.status, StatusCode::OK);
        assert!(moved.body.contains("已改为第三方"), "{}", moved.body);
        let rows = o.state.db.inspectors().await.unwrap();
        assert_eq!(rows.iter().find(|r| r.id == row.id).unwrap().source, Source::ThirdParty);
        let bad = admin.post(&format!("/console/inspectors/{}/source", row.id), &[("source", "")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let missing = admin.post("/console/inspectors/999999/source", &[("source", "city")]).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.body.contains("没有这名督查员"), "{}", missing.body);

        let leader = o.session(&o.leader).await;
        let forbidden = leader.post(&format!("/console/inspectors/{}/source", row.id), &[("source", "city")]).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    }
}
