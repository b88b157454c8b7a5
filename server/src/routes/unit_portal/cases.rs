//! The unit's cases: the list, one case with its history, and the four
//! things a unit may do (answer, ask to return, ask for an extension, ask
//! for 挂账). Forms go through the same service calls as the JSON API
//! (`app::cases`); a refusal re-renders the case with the code's Chinese
//! text beside the form and what the unit typed, and changes nothing.
//!
//! Times: what the office set for the unit (deadline, target dates) is
//! shown as set; every history entry only by date and part of day, since
//! the review time echoes when the finding arrived and a re-check's time
//! when the visitor was there.

use super::{PortalForm, PortalUser, card_badge, internal, page, page_bare, refusal_zh, see_other};
use crate::AppState;
use crate::app::cases::{AnswerRequest, CaseInputError, DeferralRequest, ExtensionRequest, MAX_PHOTOS, ReturnRequest};
use crate::db::cases::{AttachmentKind, UnitCase, UnitCaseDetail, UnitCaseEvent};
use crate::error::AppError;
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use jiff::Timestamp;
use jiff::civil::Date;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::Value;

fn now_zoned(state: &AppState) -> jiff::ZonedDateTime {
    state.clock.now().to_zoned_datetime(state.config.timezone.clone())
}

/// The unit's own notified case, or `None` (another unit's and none alike).
async fn load(state: &AppState, user: &PortalUser, reference: &str) -> Result<Option<UnitCaseDetail>, AppError> {
    // A public reference is 16 hex digits; anything else names no case and
    // need not reach the store.
    if reference.is_empty() || reference.len() > 64 {
        return Ok(None);
    }
    let tz = state.config.timezone.clone();
    state.db.unit_case(user.unit_id.clone(), reference.to_owned(), tz, now_zoned(state)).await
}

/// One answer for "no such case", whoever's it is: nothing on the page
/// depends on whether the reference exists.
fn not_found() -> Response {
    let body = html! {
        p.err role="alert" { (ErrorCode::CaseNotFound.zh()) "。" }
        p { a.btn.plain href="/unit/" { "返回本单位整改单" } }
    };
    (StatusCode::NOT_FOUND, page_bare("没有这份整改单", body)).into_response()
}

// ---------------------------------------------------------------- time

fn weekday_zh(d: Date) -> &'static str {
    ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][usize::from(d.weekday().to_monday_zero_offset() as u8)]
}

/// A time the office set (a deadline), to the minute, with the weekday. A
/// deadline of midnight is the end of the day before ("12月7日 24:00"),
/// which is how a working-day deadline is meant and read.
fn minute(state: &AppState, text: &str) -> String {
    minute_in(&state.config.timezone, text)
}

fn minute_in(tz: &jiff::tz::TimeZone, text: &str) -> String {
    match text.parse::<Timestamp>() {
        Ok(t) => {
            let z = t.to_zoned_datetime(tz.clone());
            let midnight = (z.hour(), z.minute(), z.second()) == (0, 0, 0);
            match z.date().yesterday() {
                Ok(day) if midnight => format!("{day}（{}）24:00", weekday_zh(day)),
                _ => format!("{}（{}）{}", z.date(), weekday_zh(z.date()), z.strftime("%H:%M")),
            }
        }
        Err(_) => text.to_owned(),
    }
}

/// "By the end of": the day before an end-of-day instant (an extension's
/// `until` is the start of the next day).
fn day_of_end(state: &AppState, text: &str) -> String {
    match text.parse::<Timestamp>() {
        Ok(t) => t
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .map(|t| t.to_zoned_datetime(state.config.timezone.clone()).date().to_string())
            .unwrap_or_default(),
        Err(_) => text.to_owned(),
    }
}

fn awaits_unit(c: &UnitCase) -> bool {
    matches!(c.state.as_str(), "open" | "rework" | "deferred")
}

fn is_final(c: &UnitCase) -> bool {
    matches!(c.state.as_str(), "closed" | "cancelled")
}

/// When the unit's time runs out: the deadline, or for 挂账 the end of its
/// target day.
fn due_of(state: &AppState, c: &UnitCase) -> Option<Timestamp> {
    if c.state == "deferred" {
        let target: Date = c.deferred_until.as_deref()?.parse().ok()?;
        return target.tomorrow().ok()?.to_zoned_datetime(state.config.timezone.clone()).ok().map(|z| z.timestamp());
    }
    c.deadline.as_deref()?.parse().ok()
}

/// The countdown beside a case, and its style: time left, overdue in red,
/// or that the answer is waiting for the re-check.
fn countdown(state: &AppState, c: &UnitCase) -> Option<(String, &'static str)> {
    if c.state == "answered" {
        return Some(("已反馈，等待复查".into(), "wait"));
    }
    if !awaits_unit(c) {
        return None;
    }
    if let Some(days) = c.overdue_days {
        return Some((format!("已逾期 {days} 天"), "late"));
    }
    let left = state.clock.now().duration_until(due_of(state, c)?).as_secs();
    if left <= 0 {
        return Some(("已到期".into(), "late"));
    }
    let (days, hours) = (left / 86_400, left % 86_400 / 3600);
    let text = match (days, hours) {
        (0, 0) => "剩余不足 1 小时".to_owned(),
        (0, h) => format!("剩余 {h} 小时"),
        (d, h) => format!("剩余 {d} 天 {h} 小时"),
    };
    Some((text, if left < 86_400 { "soon" } else { "" }))
}

fn state_badge(c: &UnitCase) -> Markup {
    html! { span class={ "st st-" (c.state) } { (c.state_label) } }
}

fn pending_text(state: &AppState, c: &UnitCase) -> Option<String> {
    Some(match c.pending.as_deref()? {
        "return" => "已申请退回，等待督查办决定".to_owned(),
        "extension" => format!(
            "已申请延期至 {}，等待督查办决定",
            c.pending_until.as_deref().map(|u| day_of_end(state, u)).unwrap_or_default()
        ),
        "deferral" => format!("已申请挂账，目标日期 {}，等待督查办决定", c.pending_target.as_deref().unwrap_or("")),
        _ => "有申请等待督查办决定".to_owned(),
    })
}

fn category(c: &UnitCase) -> &str {
    c.category_name.as_deref().unwrap_or(&c.category)
}

// ---------------------------------------------------------------- the list

fn list_item(state: &AppState, c: &UnitCase) -> Markup {
    html! {
        a class=(if is_final(c) { "case done" } else { "case" }) href={ "/unit/cases/" (c.reference) } {
            div.top {
                (card_badge(c.card))
                (state_badge(c))
                @if c.pending.is_some() { span.st { "申请待定" } }
                @if c.supervised { span.st.flag { "督办" } }
                @if let Some((text, class)) = countdown(state, c) { span class={ "due " (class) } { (text) } }
            }
            div.pt { (c.point_name) }
            div.muted { (c.observed_on) " " (c.part_of_day) "发现 · " (category(c)) }
            @if c.state == "deferred" {
                @if let Some(t) = &c.deferred_until { div.muted { "挂账至 " (t) } }
            } @else if let Some(d) = &c.deadline {
                @if !is_final(c) { div.muted { "整改期限 " (minute(state, d)) } }
            }
        }
    }
}

pub async fn list_page(State(state): State<AppState>, user: PortalUser) -> Response {
    let tz = state.config.timezone.clone();
    // Open ones first, by deadline: the store's order.
    let cases = match state.db.unit_cases(user.unit_id.clone(), tz, now_zoned(&state)).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let (done, open): (Vec<&UnitCase>, Vec<&UnitCase>) = cases.iter().partition(|c| is_final(c));
    let owed = open.iter().filter(|c| awaits_unit(c)).count();
    let late = open.iter().filter(|c| c.overdue_days.is_some()).count();
    let body = html! {
        p.muted {
            @if owed == 0 { "目前没有待整改的问题。" }
            @else {
                "待整改 " b { (owed) } " 件"
                @if late > 0 { "，其中 " b.late { "已逾期 " (late) " 件" } }
                "。请在期限内整改并上传整改后照片。"
            }
        }
        @if !open.is_empty() {
            h2 { "待办与复查中（" (open.len()) "）" }
            @for c in &open { (list_item(&state, c)) }
        }
        @if !done.is_empty() {
            h2 { "已结束（" (done.len()) "）" }
            @for c in &done { (list_item(&state, c)) }
        }
        @if cases.is_empty() { div.box { p { "本单位还没有收到整改单。督查办通知后，整改单会出现在这里。" } } }
    };
    page(&user, "本单位整改单", body).into_response()
}

// ---------------------------------------------------------------- one case

/// Which of the case's forms a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Answer,
    Return,
    Extension,
    Deferral,
    Commitment,
}

struct Refusal {
    which: Which,
    message: String,
}

/// An upload an earlier, refused answer already processed, carried in the
/// form (as `kind:sha256:tag`) so the unit need not choose it again. The
/// tag binds it to the session: no one can name a file they did not upload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kept {
    kind: AttachmentKind,
    sha256: String,
}

fn kept_tag(user: &PortalUser, kind: AttachmentKind, sha256: &str) -> String {
    crate::auth::secret_hash(&format!("anfang-unit-kept\n{}\n{}\n{sha256}", user.session, kind.as_str()))[..32]
        .to_owned()
}

impl Kept {
    fn field(&self, user: &PortalUser) -> String {
        format!("{}:{}:{}", self.kind.as_str(), self.sha256, kept_tag(user, self.kind, &self.sha256))
    }

    /// The kept uploads of a form; a value that is not one this session
    /// made is refused as an unknown attachment.
    fn from_form(user: &PortalUser, form: &PortalForm) -> Result<Vec<Kept>, AppError> {
        let mut out = Vec::new();
        for v in form.all("kept") {
            let mut it = v.splitn(3, ':');
            let (kind, sha, tag) = (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""));
            let kind = match kind {
                "photo" => AttachmentKind::Photo,
                "pdf" => AttachmentKind::Pdf,
                _ => return Err(CaseInputError::AttachmentUnknown(sha.to_owned()).into()),
            };
            if !anfang_core::domain::is_sha256_hex(sha) || tag != kept_tag(user, kind, sha) {
                return Err(CaseInputError::AttachmentUnknown(sha.to_owned()).into());
            }
            let k = Kept { kind, sha256: sha.to_owned() };
            if !out.contains(&k) {
                out.push(k);
            }
        }
        Ok(out)
    }
}

/// What to put back into the forms: the text as typed, the kept uploads.
#[derive(Default)]
struct Typed<'a> {
    form: Option<&'a PortalForm>,
    kept: Vec<Kept>,
}

impl Typed<'_> {
    fn get(&self, key: &str) -> &str {
        self.form.map(|f| f.get(key)).unwrap_or("")
    }
}

fn event_label(event: &str) -> &'static str {
    match event {
        "opened" => "建立整改单",
        "notified" => "通知本单位，开始计算期限",
        "answered" => "提交整改反馈",
        "return_requested" => "申请退回",
        "reassigned" => "同意退回，改派其他单位",
        "return_refused" => "不同意退回",
        "extension_requested" => "申请延期",
        "extension_granted" => "同意延期",
        "extension_refused" => "不同意延期",
        "deferral_requested" => "申请挂账",
        "deferred" => "同意挂账",
        "deferral_refused" => "不同意挂账",
        "recheck_passed" => "复查通过，销号",
        "recheck_failed" => "复查未通过，需返工",
        "closed_on_evidence" => "凭反馈材料销号",
        "cancelled" => "撤销整改单",
        "urged" => "逾期催办",
        "escalated" => "逾期升级",
        "supervised" => "列入督办",
        _ => "办理",
    }
}

fn by_class(by: &str) -> &'static str {
    match by {
        "督查办" => "by-office",
        "本单位" => "by-unit",
        "复查" => "by-recheck",
        _ => "by-system",
    }
}

fn photo_grid(shas: &[&str]) -> Markup {
    html! {
        div.photos {
            @for sha in shas {
                a href={ "/api/v1/unit/photos/" (sha) } target="_blank" rel="noopener" {
                    img src={ "/api/v1/unit/photos/" (sha) "/thumbnail" } alt="照片" loading="lazy";
                }
            }
        }
    }
}

fn history_entry(state: &AppState, e: &UnitCaseEvent) -> Markup {
    let detail = |key: &str| e.detail.get(key).and_then(Value::as_str).map(str::to_owned);
    let photos: Vec<&str> =
        e.attachments.iter().filter(|a| a.kind == AttachmentKind::Photo).map(|a| a.sha256.as_str()).collect();
    let pdf = e.attachments.iter().any(|a| a.kind == AttachmentKind::Pdf);
    html! {
        li class=(by_class(&e.by)) {
            p.muted { (e.on) " " (e.part_of_day) " · " span.who { (e.by) } }
            p { b { (event_label(&e.event)) } }
            @if let Some(d) = detail("deadline") { p { "整改期限：" (minute(state, &d)) } }
            @if let Some(u) = detail("until") { p { "申请延期至：" (day_of_end(state, &u)) } }
            @if let Some(t) = detail("target") { p { "目标日期：" (t) } }
            @if let Some(r) = &e.reason { p { "理由：" (r) } }
            @if let Some(n) = &e.note { p { "整改情况：" (n) } }
            @if let Some(x) = &e.explanation { p { "书面说明：" (x) } }
            @if !photos.is_empty() { (photo_grid(&photos)) }
            @if pdf { p.muted { "附书面说明扫描件（PDF）" } }
        }
    }
}

/// The kept uploads' thumbnails, inline: they belong to no case yet, so
/// the photo route (which serves only a case's photos) would refuse them.
async fn kept_thumbnails(state: &AppState, kept: &[Kept]) -> Vec<(Kept, Option<String>)> {
    let mut out = Vec::new();
    for k in kept {
        let thumb = match k.kind {
            AttachmentKind::Photo => state
                .photos
                .read(&k.sha256, true)
                .await
                .ok()
                .map(|b| format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(b))),
            AttachmentKind::Pdf => None,
        };
        out.push((k.clone(), thumb));
    }
    out
}

fn form_error(refusal: Option<&Refusal>, which: Which) -> Markup {
    html! {
        @if let Some(r) = refusal.filter(|r| r.which == which) {
            p.err role="alert" id="form-error" { (r.message) }
        }
    }
}

/// Size check and photo preview: the only script, our own constant text.
const ANSWER_SCRIPT: &str = r#"(function(){var f=document.getElementById('answer');if(!f)return;
var box=document.getElementById('preview'),msg=document.getElementById('pick-msg'),limit=+f.dataset.limit,max=+f.dataset.max;
function chosen(){var a=[];f.querySelectorAll('input[type=file][name=photos]').forEach(function(i){for(var k=0;k<i.files.length;k++)a.push(i.files[k]);});return a;}
function kept(){return f.querySelectorAll('input[name=kept][value^="photo:"]').length;}
f.addEventListener('change',function(){box.textContent='';var a=chosen();a.forEach(function(x){var im=document.createElement('img');im.src=URL.createObjectURL(x);im.alt=x.name;box.appendChild(im);});
msg.textContent=a.length+kept()?('已选 '+(a.length+kept())+' 张照片'):'';
var p=f.querySelector('input[name=pdf]');document.getElementById('pdf-msg').textContent=p.files[0]?('已选：'+p.files[0].name):'';});
f.addEventListener('submit',function(e){var a=chosen(),s=0;a.forEach(function(x){s+=x.size;});var p=f.querySelector('input[name=pdf]');if(p&&p.files[0])s+=p.files[0].size;
var err=null;if(a.length+kept()>max)err='一次反馈最多 '+max+' 张照片';else if(s>limit)err='照片和扫描件合计超过 '+Math.floor(limit/1048576)+' MB，请少选几张或分次反馈';
if(err){e.preventDefault();msg.textContent=err;msg.className='err';return;}
var b=f.querySelector('button[type=submit]');b.disabled=true;b.textContent='正在上传，请稍候…';});})();"#;

async fn render(
    state: &AppState,
    user: &PortalUser,
    d: &UnitCaseDetail,
    refusal: Option<&Refusal>,
    typed: &Typed<'_>,
    done: Option<&str>,
) -> Html<String> {
    let c = &d.case;
    let before: Vec<&str> = c.photos.iter().map(String::as_str).collect();
    // The latest answer's photos, beside the before-photos.
    let after: Vec<&str> = d
        .events
        .iter()
        .rev()
        .find(|e| e.event == "answered")
        .map(|e| e.attachments.iter().filter(|a| a.kind == AttachmentKind::Photo).map(|a| a.sha256.as_str()).collect())
        .unwrap_or_default();
    let action = |what: &str| format!("/unit/cases/{}/{what}", c.reference);
    // A form is shown where the case allows it, and always beside its own
    // refusal, so what was typed is never lost.
    let open_if = |w: Which| refusal.is_some_and(|r| r.which == w);
    let requests = c.pending.is_none() && matches!(c.state.as_str(), "open" | "rework");
    let show_answer = awaits_unit(c) || open_if(Which::Answer);
    let show_return = (requests && c.state == "open") || open_if(Which::Return);
    let show_extension = requests || open_if(Which::Extension);
    let show_deferral = requests || open_if(Which::Deferral);
    let red = c.card == Card::Red;
    let kept = kept_thumbnails(state, &typed.kept).await;
    let done_text = match done {
        Some("answer") => Some("整改反馈已提交，等待复查。"),
        Some("return") => Some("退回申请已提交，等待督查办决定。"),
        Some("extension") => Some("延期申请已提交，等待督查办决定；期限照常计算。"),
        Some("deferral") => Some("挂账申请已提交，等待督查办决定；期限照常计算。"),
        Some("commitment") => Some("公开承诺已提交，已在曝光台公开。"),
        _ => None,
    };
    // On the exposure page: a red card asks for the unit's public commitment.
    let exposure = state.db.unit_case_exposure(user.unit_id.clone(), c.reference.clone()).await.ok().flatten();
    let today = now_zoned(state).date();
    let tomorrow = today.tomorrow().map(|d| d.to_string()).unwrap_or_default();
    let body = html! {
        p.noprint { a href="/unit/" { "‹ 全部整改单" } }
        @if let Some(t) = done_text { p.ok role="status" { (t) } }
        @if let Some(r) = refusal { p.err role="alert" { "未提交：" (r.message) " 请按提示修改后重新提交。" } }
        div.box {
            div.case { div.top {
                (card_badge(c.card)) (state_badge(c))
                @if c.supervised { span.st.flag { "督办" } }
                @if let Some((text, class)) = countdown(state, c) { span class={ "due " (class) } { (text) } }
            } }
            dl style="margin-top:.6rem" {
                dt { "整改单号" } dd { code { (c.reference) } }
                dt { "点位" } dd { (c.point_name) }
                dt { "发现时间" } dd { (c.observed_on) " " (c.part_of_day) }
                dt { "问题类别" } dd { (category(c)) }
                dt { "牌色" } dd { (c.card.label_zh()) }
                @if let Some(dl) = &c.deadline { dt { "整改期限" } dd { (minute(state, dl)) } }
                @if let Some(t) = &c.deferred_until { dt { "挂账至" } dd { (t) } }
                @if c.rework_count > 0 { dt { "返工" } dd { (c.rework_count) " 次" } }
                @if let Some(p) = pending_text(state, c) { dt { "申请" } dd { (p) } }
            }
        }
        div.next { "下一步：" (c.next_step) }
        @if let Some((entry, commitment)) = &exposure {
            section.box #commitment {
                h2 style="margin-top:0" { "曝光台 · 公开承诺" }
                p { "此问题已在" a href={ "/public/entries/" (entry) } { "曝光台" } "公开。" }
                @match commitment {
                    Some(k) => p { (k.person_title) " " (k.person_name) " 承诺：" (k.what) "，" (k.due_on) " 前完成（" (k.made_on) " 作出）。" },
                    None if red => form method="post" action=(action("commitment")) {
                        (form_error(refusal, Which::Commitment))
                        input type="hidden" name="csrf" value=(user.csrf);
                        p.muted { "红牌问题须由本单位责任人公开承诺：做什么、何时完成。承诺公开显示，提交后不能修改。" }
                        label for="person-name" { "责任人姓名" }
                        input #person-name name="person_name" required maxlength="40" value=(typed.get("person_name"));
                        label for="person-title" { "职务" }
                        input #person-title name="person_title" required maxlength="40" value=(typed.get("person_title"));
                        label for="what" { "承诺内容" }
                        textarea #what name="what" required maxlength="500" { (typed.get("what")) }
                        label for="due-on" { "承诺完成日期" }
                        input #due-on type="date" name="due_on" min=(today.to_string()) value=(typed.get("due_on")) required;
                        button.wide type="submit" { "提交公开承诺" }
                    },
                    None => {}
                }
            }
        }
        div.cols {
            section.box {
                h2 style="margin-top:0" { "整改前（督查发现）" }
                @if before.is_empty() { p.muted { "没有照片。" } } @else { (photo_grid(&before)) }
            }
            @if !after.is_empty() {
                section.box {
                    h2 style="margin-top:0" { "整改后（本单位反馈）" }
                    (photo_grid(&after))
                }
            }
        }
        @if show_answer {
            h2 { "提交整改反馈" }
            form.box #answer method="post" action=(action("answer")) enctype="multipart/form-data"
                data-limit=(super::ANSWER_BODY_LIMIT) data-max=(MAX_PHOTOS) {
                (form_error(refusal, Which::Answer))
                input type="hidden" name="csrf" value=(user.csrf);
                label { "整改后照片 " span.muted { "（必填，最多 " (MAX_PHOTOS) " 张）" } }
                div.pick {
                    label for="photo-camera" { "拍照" }
                    input #photo-camera type="file" name="photos" accept="image/*" capture="environment" multiple;
                    label for="photo-album" { "从相册选择" }
                    input #photo-album type="file" name="photos" accept="image/*" multiple;
                }
                @if kept.iter().any(|(k, _)| k.kind == AttachmentKind::Photo) {
                    p.muted { "已上传、将随本次反馈提交的照片：" }
                    div.photos {
                        @for (k, thumb) in &kept {
                            @if k.kind == AttachmentKind::Photo {
                                span {
                                    input type="hidden" name="kept" value=(k.field(user));
                                    @if let Some(t) = thumb { img src=(t) alt="已上传的照片"; }
                                }
                            }
                        }
                    }
                }
                p.muted #pick-msg aria-live="polite" {}
                div #preview {}
                label for="note" { "整改情况 " span.muted { "（必填：做了什么、结果如何）" } }
                textarea #note name="note" required maxlength="2000" { (typed.get("note")) }
                label for="explanation" {
                    "书面说明 "
                    @if red { span.muted { "（红牌必填）" } } @else { span.muted { "（选填）" } }
                }
                textarea #explanation name="explanation" required[red] maxlength="2000" { (typed.get("explanation")) }
                label for="pdf" { "书面说明扫描件 " span.muted { "（PDF，选填，最大 10 MB）" } }
                @for (k, _) in &kept {
                    @if k.kind == AttachmentKind::Pdf {
                        p.muted { "已上传 PDF 扫描件，将随本次反馈提交。" input type="hidden" name="kept" value=(k.field(user)); }
                    }
                }
                div.pick.one {
                    label for="pdf" { "选择 PDF 文件" }
                    input #pdf type="file" name="pdf" accept="application/pdf,.pdf";
                }
                p.muted #pdf-msg aria-live="polite" {}
                button.wide type="submit" { "提交整改反馈" }
            }
            script { (PreEscaped(ANSWER_SCRIPT)) }
        }
        @if show_return || show_extension || show_deferral {
                h2 { "其他申请" }
                @if show_return {
                    details open[open_if(Which::Return)] {
                        summary { "申请退回（不属于本单位职责）" }
                        form method="post" action=(action("return")) {
                            (form_error(refusal, Which::Return))
                            input type="hidden" name="csrf" value=(user.csrf);
                            p.muted { "须在通知后的规定期限内提出；督查办决定前，整改期限照常计算。" }
                            label for="return-reason" { "理由" }
                            textarea #return-reason name="reason" required maxlength="2000" { (typed.get("reason")) }
                            button.wide type="submit" { "提交退回申请" }
                        }
                    }
                }
                @if show_extension { details open[open_if(Which::Extension)] {
                    summary { "申请延期" }
                    form method="post" action=(action("extension")) {
                        (form_error(refusal, Which::Extension))
                        input type="hidden" name="csrf" value=(user.csrf);
                        label for="until" { "延期至（当天结束前完成）" }
                        input #until type="date" name="until" min=(tomorrow) value=(typed.get("until")) required;
                        label for="extension-reason" { "理由" }
                        textarea #extension-reason name="reason" required maxlength="2000" { (typed.get("ext_reason")) }
                        button.wide type="submit" { "提交延期申请" }
                    }
                } }
                @if show_deferral { details open[open_if(Which::Deferral)] {
                    summary { "申请挂账（期限内确实无法整改）" }
                    form method="post" action=(action("deferral")) {
                        (form_error(refusal, Which::Deferral))
                        input type="hidden" name="csrf" value=(user.csrf);
                        label for="deferral-explanation" { "书面说明（为何期限内无法整改、将如何整改）" }
                        textarea #deferral-explanation name="explanation" required maxlength="2000" { (typed.get("def_explanation")) }
                        label for="target" { "目标完成日期" }
                        input #target type="date" name="target" min=(tomorrow) value=(typed.get("target")) required;
                        button.wide type="submit" { "提交挂账申请" }
                    }
                } }
        }
        h2 { "办理记录" }
        ol.hist { @for e in &d.events { (history_entry(state, e)) } }
    };
    page(user, &format!("整改单 · {}", c.point_name), body)
}

#[derive(Deserialize)]
pub struct CaseQuery {
    done: Option<String>,
}

pub async fn case_page(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Response {
    match load(&state, &user, &reference).await {
        Ok(Some(d)) => render(&state, &user, &d, None, &Typed::default(), q.done.as_deref()).await.into_response(),
        Ok(None) => not_found(),
        Err(e) => internal(e),
    }
}

/// The unit's own case, or the one 404 page: checked before a form does
/// anything, so another unit's case costs no processing and changes nothing.
#[allow(clippy::result_large_err)] // the refusal is the page to send
async fn visible(state: &AppState, user: &PortalUser, reference: &str) -> Result<UnitCaseDetail, Response> {
    match load(state, user, reference).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(not_found()),
        Err(e) => Err(internal(e)),
    }
}

/// After a form's action: back to the case on success; on a refusal the
/// case again (as it stands: nothing changed) with the refusal beside that
/// form and the input kept.
async fn finish(
    state: &AppState,
    user: &PortalUser,
    d: UnitCaseDetail,
    which: Which,
    typed: &Typed<'_>,
    result: Result<(), AppError>,
) -> Response {
    let e = match result {
        Ok(()) => {
            let done = match which {
                Which::Answer => "answer",
                Which::Return => "return",
                Which::Extension => "extension",
                Which::Deferral => "deferral",
                Which::Commitment => "commitment",
            };
            return see_other(&format!("/unit/cases/{}?done={done}", d.case.reference));
        }
        Err(e) if e.code() == ErrorCode::CaseNotFound => return not_found(),
        Err(e) => e,
    };
    let refusal = Refusal { which, message: refusal_zh(&e) };
    let d = match load(state, user, &d.case.reference).await {
        Ok(Some(now)) => now,
        Ok(None) => return not_found(),
        Err(_) => d,
    };
    (e.status(), render(state, user, &d, Some(&refusal), typed, None).await).into_response()
}

/// The unit's answer: each new file through the shared pipeline
/// (`store_attachment`), then `app::cases::answer` with what was stored and
/// kept. Files processed before a refusal stay kept for the next try.
pub async fn answer(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    form: PortalForm,
) -> Response {
    let d = match visible(&state, &user, &reference).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let mut kept = Vec::new();
    let result = match Kept::from_form(&user, &form) {
        Ok(k) => {
            kept = k;
            submit_answer(&state, &user, &reference, &form, &mut kept).await
        }
        Err(e) => Err(e),
    };
    let typed = Typed { form: Some(&form), kept };
    finish(&state, &user, d, Which::Answer, &typed, result).await
}

async fn submit_answer(
    state: &AppState,
    user: &PortalUser,
    reference: &str,
    form: &PortalForm,
    kept: &mut Vec<Kept>,
) -> Result<(), AppError> {
    let new_photos: Vec<_> = form.files("photos").collect();
    let kept_photos = kept.iter().filter(|k| k.kind == AttachmentKind::Photo).count();
    if new_photos.len() + kept_photos > MAX_PHOTOS {
        return Err(CaseInputError::TooManyPhotos.into());
    }
    for p in new_photos {
        // The photo inputs take photos; a scan goes in its own field.
        if p.data.starts_with(b"%PDF-") {
            return Err(CaseInputError::AttachmentInvalid("a PDF in the photo field".into()).into());
        }
        let att = crate::app::cases::store_attachment(&state.db, &state.photos, p.data.to_vec()).await?;
        kept.push(Kept { kind: att.kind, sha256: att.sha256 });
    }
    if let Some(p) = form.files("pdf").next() {
        if !p.data.starts_with(b"%PDF-") {
            return Err(CaseInputError::AttachmentInvalid("the scan is not a PDF".into()).into());
        }
        let att = crate::app::cases::store_attachment(&state.db, &state.photos, p.data.to_vec()).await?;
        // One scan per answer: a new one replaces a kept one.
        kept.retain(|k| k.kind != AttachmentKind::Pdf);
        kept.push(Kept { kind: att.kind, sha256: att.sha256 });
    }
    let req = AnswerRequest {
        photos: kept.iter().filter(|k| k.kind == AttachmentKind::Photo).map(|k| k.sha256.clone()).collect(),
        note: form.get("note").to_owned(),
        explanation: form.opt("explanation"),
        explanation_pdf: kept.iter().find(|k| k.kind == AttachmentKind::Pdf).map(|k| k.sha256.clone()),
    };
    let tz = state.config.timezone.clone();
    crate::app::cases::answer(&state.db, &user.caller, reference.to_owned(), req, state.clock.now(), tz).await?;
    Ok(())
}

fn date_field(form: &PortalForm, field: &'static str) -> Result<Date, AppError> {
    let v = form.get(field);
    if v.is_empty() {
        return Err(AppError::coded(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FieldRequired,
            format!("{field} is empty"),
        )
        .with_field(field));
    }
    v.parse().map_err(|_| CaseInputError::DateInvalid(field).into())
}

/// Form fields under the names the page puts them back as (three forms
/// share `reason` and `explanation`).
fn retyped(form: &PortalForm, pairs: &[(&str, &str)]) -> PortalForm {
    let mut out = PortalForm::default();
    for (from, to) in pairs {
        out.fields.insert((*to).to_owned(), form.get(from).to_owned());
    }
    out
}

pub async fn ask_return(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    form: PortalForm,
) -> Response {
    let d = match visible(&state, &user, &reference).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let req = ReturnRequest { reason: form.get("reason").to_owned() };
    let (tz, now) = (state.config.timezone.clone(), state.clock.now());
    let result = crate::app::cases::request_return(&state.db, &user.caller, reference, req, now, tz).await;
    let typed_form = retyped(&form, &[("reason", "reason")]);
    let typed = Typed { form: Some(&typed_form), kept: Vec::new() };
    finish(&state, &user, d, Which::Return, &typed, result.map(|_| ())).await
}

pub async fn ask_extension(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    form: PortalForm,
) -> Response {
    let d = match visible(&state, &user, &reference).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let (tz, now) = (state.config.timezone.clone(), state.clock.now());
    let result = match date_field(&form, "until") {
        Ok(until) => {
            let req = ExtensionRequest { until, reason: form.get("reason").to_owned() };
            crate::app::cases::request_extension(&state.db, &user.caller, reference, req, now, tz).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let typed_form = retyped(&form, &[("reason", "ext_reason"), ("until", "until")]);
    let typed = Typed { form: Some(&typed_form), kept: Vec::new() };
    finish(&state, &user, d, Which::Extension, &typed, result).await
}

pub async fn ask_deferral(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    form: PortalForm,
) -> Response {
    let d = match visible(&state, &user, &reference).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let (tz, now) = (state.config.timezone.clone(), state.clock.now());
    let result = match date_field(&form, "target") {
        Ok(target) => {
            let req = DeferralRequest { explanation: form.get("explanation").to_owned(), target };
            crate::app::cases::request_deferral(&state.db, &user.caller, reference, req, now, tz).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let typed_form = retyped(&form, &[("explanation", "def_explanation"), ("target", "target")]);
    let typed = Typed { form: Some(&typed_form), kept: Vec::new() };
    finish(&state, &user, d, Which::Deferral, &typed, result).await
}

/// The unit's public commitment on its published red-card case.
pub async fn commit(
    State(state): State<AppState>,
    user: PortalUser,
    Path(reference): Path<String>,
    form: PortalForm,
) -> Response {
    let d = match visible(&state, &user, &reference).await {
        Ok(d) => d,
        Err(page) => return page,
    };
    let (tz, now) = (state.config.timezone.clone(), state.clock.now());
    let result = match date_field(&form, "due_on") {
        Ok(due_on) => {
            let req = crate::app::exposure::CommitmentRequest {
                person_name: form.get("person_name").to_owned(),
                person_title: form.get("person_title").to_owned(),
                what: form.get("what").to_owned(),
                due_on,
            };
            crate::app::exposure::commit(&state.db, &user.caller, reference, req, now, &tz).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    let fields =
        [("person_name", "person_name"), ("person_title", "person_title"), ("what", "what"), ("due_on", "due_on")];
    let typed_form = retyped(&form, &fields);
    let typed = Typed { form: Some(&typed_form), kept: Vec::new() };
    finish(&state, &user, d, Which::Commitment, &typed, result).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_midnight_deadline_reads_as_the_end_of_the_day_before() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(super::minute_in(&tz, "2026-12-07T16:00:00Z"), "2026-12-07（周一）24:00");
        assert_eq!(super::minute_in(&tz, "2026-12-07T10:05:00Z"), "2026-12-07（周一）18:05");
    }
}
