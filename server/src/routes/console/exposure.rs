//! The exposure page (曝光台) in the console: proposing a case (a button on
//! the case page), the list of entries, one entry with its publish form
//! (the before-photos large, a choice of which to show, and the required
//! confirmation that faces and number plates were checked) or its withdraw
//! form, and the four-eyes setting. Forms call `app::exposure`, the JSON
//! API's services; a refusal shows its code's Chinese text with the input kept.

use super::{ConsoleUser, Form, card_badge, flash, hidden_csrf, internal, local_time_text, page, see_other};
use crate::auth::Role;
use crate::db::exposure::OfficeEntry;
use crate::error::AppError;
use crate::{AppState, app};
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::HashMap;

fn status_zh(status: &str) -> &'static str {
    match status {
        "proposed" => "已提议，待发布",
        "published" => "已公开",
        "withdrawn" => "已撤回",
        _ => "未知",
    }
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "published" => "st st-accept",
        "withdrawn" => "st st-reject",
        _ => "st st-pending",
    };
    html! { span class=(class) { (status_zh(status)) } }
}

/// A refusal's text for a console page.
fn refusal(e: &AppError) -> String {
    format!("未能办理：{}", super::refusal_zh(e))
}

/// The box on a case page: its exposure entries and, for reviewers, the
/// button that proposes it. `error` is a refused proposal's code.
pub(super) fn case_box(user: &ConsoleUser, case_ref: &str, entries: &[OfficeEntry], error: Option<&str>) -> Markup {
    let live = entries.iter().any(|e| e.status != "withdrawn");
    let error = error
        .and_then(|c| ErrorCode::ALL.iter().find(|k| k.as_str() == c))
        .map(|c| format!("未能提议曝光：{}。", c.zh()));
    html! {
        div.box #exposure {
            h2 style="margin-top:0" { "曝光台" }
            (flash(error.as_deref(), None))
            @if entries.is_empty() { p.muted { "此整改单未提议曝光。公开前须由另一名审核员或管理员发布。" } }
            @for e in entries {
                p {
                    (status_badge(&e.status)) " "
                    a href={ "/console/exposure/" (e.reference) } { "曝光条目 " code { (e.reference) } " →" }
                    @if let Some(t) = &e.title { " " (t) }
                }
            }
            @if user.can(Role::Reviewer) && !live {
                form method="post" action={ "/console/cases/" (case_ref) "/exposure" } {
                    (hidden_csrf(user))
                    button { "提议曝光" }
                }
            }
        }
    }
}

pub async fn propose(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    _form: Form,
) -> Response {
    match app::exposure::propose(&state.db, &user.caller, reference.clone(), state.clock.now()).await {
        Ok(entry) => see_other(&format!("/console/exposure/{}?done=proposed", entry.reference)),
        Err(e) if e.status().is_client_error() => {
            see_other(&format!("/console/cases/{reference}?exposure_error={}#exposure", e.code().as_str()))
        }
        Err(e) => internal(e),
    }
}

pub async fn list_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (entries, four_eyes) = match tokio::try_join!(state.db.office_exposures(), state.db.exposure_four_eyes()) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let ok = q.get("done").filter(|d| *d == "settings").map(|_| "设置已保存。");
    let body = html! {
        (flash(None, ok))
        p { "公开页面：" a href="/public/" target="_blank" { "/public/ 曝光台" } "（无需登录，只显示已发布的条目）" }
        div.scroll { table.stack {
            thead { tr { th { "条目" } th { "状态" } th { "点位 / 单位" } th { "牌色" } th { "提议" } th { "发布 / 撤回" } } }
            tbody {
                @for e in &entries {
                    tr {
                        td.main data-label="条目" {
                            a href={ "/console/exposure/" (e.reference) } { (e.title.as_deref().unwrap_or("（未发布）")) }
                            " " span.muted { "整改单 " (e.case_ref) }
                        }
                        td data-label="状态" { (status_badge(&e.status)) }
                        td data-label="点位 / 单位" { (e.point_name) " · " (e.unit_name) }
                        td data-label="牌色" { (card_badge(e.card.as_str())) }
                        td data-label="提议" { (e.proposed_by.as_deref().unwrap_or("?")) " " (local_time_text(&state, &e.proposed_at)) }
                        td.empty[e.published_on.is_none()] data-label="发布 / 撤回" {
                            @if let Some(on) = &e.published_on { (e.published_by.as_deref().unwrap_or("?")) " " (on) }
                            @if let Some(on) = &e.withdrawn_on { br; "撤回 " (on) }
                        }
                    }
                }
            }
        } }
        @if entries.is_empty() { p.muted { "尚无曝光条目：在整改单页面提议曝光。" } }
        h2 { "发布规则" }
        div.box {
            p { "提议人不能发布自己的提议。" @if four_eyes { "当前：双人审核已开启，另一名审核员或管理员可以发布。" } @else { "当前：只有管理员可以发布。" } }
            @if user.can(Role::Admin) {
                form method="post" action="/console/exposure/settings" {
                    (hidden_csrf(&user))
                    label.check { input type="checkbox" name="four_eyes" value="1" checked[four_eyes]; "双人审核：允许另一名审核员发布" }
                    button { "保存" }
                }
            }
        }
    };
    page(&user, "/console/exposure", "曝光台", body).into_response()
}

pub async fn save_settings(State(state): State<AppState>, _user: ConsoleUser, form: Form) -> Response {
    match state.db.set_exposure_four_eyes(form.get("four_eyes") == "1").await {
        Ok(()) => see_other("/console/exposure?done=settings"),
        Err(e) => internal(e),
    }
}

/// A refused form, to show with its input kept.
struct Refused<'a> {
    message: String,
    form: &'a Form,
    status: StatusCode,
}

fn done_zh(done: &str) -> Option<&'static str> {
    match done {
        "proposed" => Some("已提议曝光：须由另一名审核员或管理员发布后才会公开。"),
        "published" => Some("已发布到曝光台；公开内容已固定并记入证据链。"),
        "withdrawn" => Some("已撤回；曝光台保留撤回说明和日期。"),
        _ => None,
    }
}

pub async fn entry_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ok = q.get("done").and_then(|d| done_zh(d));
    render(&state, &user, &reference, None, ok).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    reference: &str,
    refused: Option<Refused<'_>>,
    ok: Option<&str>,
) -> Response {
    let e = match state.db.office_exposure(reference.to_owned()).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            let body = html! { p.err { (ErrorCode::ExposureNotFound.zh()) "。" } p { a href="/console/exposure" { "← 返回曝光台" } } };
            return (StatusCode::NOT_FOUND, page(user, "/console/exposure", "未找到", body)).into_response();
        }
        Err(e) => return internal(e),
    };
    let kept = |key: &str| -> String { refused.as_ref().map(|r| r.form.get(key).to_owned()).unwrap_or_default() };
    let photo_checked = |sha: &str| -> bool {
        match &refused {
            Some(r) => r.form.get(&format!("photo_{sha}")) == "1",
            None => true,
        }
    };
    let reviewer = user.can(Role::Reviewer);
    let body = html! {
        (flash(refused.as_ref().map(|r| r.message.as_str()), ok))
        div.box { dl {
            dt { "状态" } dd { (status_badge(&e.status)) " " (card_badge(e.card.as_str())) }
            dt { "整改单" } dd { a href={ "/console/cases/" (e.case_ref) } { (e.case_ref) } }
            dt { "点位" } dd { (e.point_id) " " (e.point_name) }
            dt { "责任单位" } dd { (e.unit_id) " " (e.unit_name) }
            dt { "问题类别" } dd { (e.category_name.as_deref().unwrap_or("")) }
            dt { "提议" } dd { (e.proposed_by.as_deref().unwrap_or("?")) " · " (local_time_text(state, &e.proposed_at)) }
            @if let Some(on) = &e.published_on {
                dt { "发布" } dd { (e.published_by.as_deref().unwrap_or("?")) " · " (on) " · "
                    a href={ "/public/entries/" (e.reference) } target="_blank" { "查看公开页面 →" } }
                dt { "公开标题" } dd { (e.title.as_deref().unwrap_or("")) }
                dt { "公开说明" } dd style="white-space:pre-wrap" { (e.description.as_deref().unwrap_or("")) }
            }
            @if let Some(on) = &e.withdrawn_on {
                dt { "撤回" } dd { (e.withdrawn_by.as_deref().unwrap_or("?")) " · " (on) }
                dt { "撤回说明" } dd { (e.withdrawal_note.as_deref().unwrap_or("")) }
            }
        } }
        @if e.status == "published" {
            h2 { "公开的照片" }
            div.thumbs { @for p in &e.photos { img src={ "/api/v1/photos/" (p) "/thumbnail" } alt="公开照片"; } }
        }
        @if e.status == "proposed" && reviewer {
            div.box.decide {
                h2 style="margin-top:0" { "发布到曝光台" }
                p.muted { "发布后标题、说明和所选照片即固定并记入证据链，只能撤回，不能修改。提议人不能发布自己的提议。" }
                form method="post" action={ "/console/exposure/" (e.reference) "/publish" } {
                    (hidden_csrf(user))
                    label { "公开标题（不超过 60 字）" input name="title" required maxlength="60" value=(kept("title")); }
                    label { "公开说明（不超过 1000 字；不要写督查员、具体时间或位置）"
                        textarea name="description" required maxlength="1000" rows="4" { (kept("description")) } }
                    @if e.finding_photos.is_empty() { p.muted { "该发现没有照片。" } }
                    @for p in &e.finding_photos {
                        div {
                            img.photo src={ "/api/v1/photos/" (p) } alt="整改前照片（大图）";
                            label.check { input type="checkbox" name={ "photo_" (p) } value="1" checked[photo_checked(p)]; "公开这张照片" }
                            fieldset.crop {
                                legend { "裁剪（可选，按照片宽高的百分比；用于遮去人脸、车牌。原始证据照片不变，公开的是裁剪后的新图）" }
                                label { "左" input name={ "crop_left_" (p) } size="3" inputmode="numeric" placeholder="0" value=(kept(&format!("crop_left_{p}"))); "%" }
                                label { "上" input name={ "crop_top_" (p) } size="3" inputmode="numeric" placeholder="0" value=(kept(&format!("crop_top_{p}"))); "%" }
                                label { "宽" input name={ "crop_width_" (p) } size="3" inputmode="numeric" placeholder="100" value=(kept(&format!("crop_width_{p}"))); "%" }
                                label { "高" input name={ "crop_height_" (p) } size="3" inputmode="numeric" placeholder="100" value=(kept(&format!("crop_height_{p}"))); "%" }
                            }
                        }
                    }
                    label.check {
                        input type="checkbox" name="faces_checked" value="1" required;
                        "我已查看上面的大图，确认照片中的人脸和车牌已检查，可以公开"
                    }
                    button { "发布" }
                }
            }
        }
        @if e.status == "published" && reviewer {
            div.box.decide {
                h2 style="margin-top:0" { "撤回" }
                form method="post" action={ "/console/exposure/" (e.reference) "/withdraw" } {
                    (hidden_csrf(user))
                    label { "撤回说明（公开显示，不超过 500 字）" textarea name="note" required maxlength="500" rows="3" { (kept("note")) } }
                    button.plain { "撤回此条目" }
                }
            }
        }
        p { a href="/console/exposure" { "← 返回曝光台" } }
    };
    let status = refused.as_ref().map(|r| r.status).unwrap_or(StatusCode::OK);
    (status, page(user, "/console/exposure", &format!("曝光条目 {}", e.reference), body)).into_response()
}

pub async fn publish(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    form: Form,
) -> Response {
    let photos: Vec<String> = form
        .0
        .iter()
        .filter(|(k, v)| k.starts_with("photo_") && v.trim() == "1")
        .map(|(k, _)| k.trim_start_matches("photo_").to_owned())
        .collect();
    // A crop is four numbers per photo (per cent); left empty, no crop.
    let mut crops = Vec::new();
    for p in &photos {
        let field = |k: &str| form.get(&format!("crop_{k}_{p}")).to_owned();
        let (l, t, w, h) = (field("left"), field("top"), field("width"), field("height"));
        if [&l, &t, &w, &h].iter().all(|v| v.is_empty()) {
            continue;
        }
        let n = |v: &str, default: u32| if v.is_empty() { Ok(default) } else { v.parse::<u32>() };
        match (n(&l, 0), n(&t, 0), n(&w, 100), n(&h, 100)) {
            (Ok(left), Ok(top), Ok(width), Ok(height)) => {
                crops.push(app::exposure::CropRequest { photo: p.clone(), left, top, width, height })
            }
            _ => crops.push(app::exposure::CropRequest { photo: p.clone(), left: 0, top: 0, width: 0, height: 0 }),
        }
    }
    let req = app::exposure::PublishRequest {
        title: form.get("title").to_owned(),
        description: form.get("description").to_owned(),
        photos,
        faces_checked: form.get("faces_checked") == "1",
        crops,
    };
    let tz = state.config.timezone.clone();
    let done =
        app::exposure::publish(&state.db, &state.photos, &user.caller, reference.clone(), req, state.clock.now(), &tz)
            .await;
    answer(&state, &user, &reference, &form, done, "published").await
}

/// After a form: to the entry with its flash, or the entry again with the
/// refusal and the input kept.
async fn answer(
    state: &AppState,
    user: &ConsoleUser,
    reference: &str,
    form: &Form,
    done: Result<OfficeEntry, AppError>,
    what: &str,
) -> Response {
    match done {
        Ok(e) => see_other(&format!("/console/exposure/{}?done={what}", e.reference)),
        Err(e) if e.status().is_client_error() => {
            let refused = Refused { message: refusal(&e), form, status: e.status() };
            render(state, user, reference, Some(refused), None).await
        }
        Err(e) => internal(e),
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    form: Form,
) -> Response {
    let req = app::exposure::WithdrawRequest { note: form.get("note").to_owned() };
    let tz = state.config.timezone.clone();
    let done = app::exposure::withdraw(&state.db, &user.caller, reference.clone(), req, state.clock.now(), &tz).await;
    answer(&state, &user, &reference, &form, done, "withdrawn").await
}
