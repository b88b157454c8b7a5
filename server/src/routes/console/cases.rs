//! Rectification cases (整改单) in the console: the queue with a count per
//! state, one case with its before and after photos side by side and its
//! whole history, and the reviewers' decisions on a unit's requests.
//!
//! The pages read through `Db::office_cases` / `Db::office_case` and decide
//! through `app::cases::decide`, the same calls the JSON API makes; a form
//! is offered only where the case's state and pending request allow it,
//! and a refusal (also of a forged post) is the state machine's, shown by
//! its code's Chinese text with the input kept.

use super::{ConsoleUser, Form, card_badge, flash, hidden_csrf, internal, lists, local_time, options, page, see_other};
use crate::app::cases::{DecisionKind, OfficeDecision};
use crate::auth::Role;
use crate::db::cases::{CaseEventView, CaseQuery, OfficeCase, OfficeCaseDetail};
use crate::error::AppError;
use crate::rectification::case::CaseState;
use crate::{AppState, app};
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::HashMap;

/// Cases per page of the queue.
const PAGE: u32 = 50;

fn now_zoned(state: &AppState) -> jiff::ZonedDateTime {
    state.clock.now().to_zoned_datetime(state.config.timezone.clone())
}

/// A deadline as the office writes it: the end of a day is "24:00" of that
/// day, not "00:00" of the next (deadlines in working days end at midnight).
pub(super) fn deadline_text(state: &AppState, ts: jiff::Timestamp) -> String {
    let local = ts.to_zoned_datetime(state.config.timezone.clone());
    if local.hour() == 0 && local.minute() == 0 {
        let day = local.date().yesterday().unwrap_or(local.date());
        format!("{day} 24:00")
    } else {
        local.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

fn deadline_text_of(state: &AppState, text: &str) -> String {
    text.parse::<jiff::Timestamp>().map(|t| deadline_text(state, t)).unwrap_or_else(|_| text.to_owned())
}

fn time_text(state: &AppState, text: &str) -> String {
    text.parse::<jiff::Timestamp>().map(|t| local_time(state, t)).unwrap_or_else(|_| text.to_owned())
}

fn state_zh(state: &str) -> &'static str {
    state.parse::<CaseState>().map(CaseState::label_zh).unwrap_or("未知")
}

fn state_badge(state: &str) -> Markup {
    html! { span class={ "st cs-" (state) } { (state_zh(state)) } }
}

fn overdue_badge(days: Option<i64>) -> Markup {
    html! { @if let Some(n) = days { span.overdue { "逾期 " (n) " 天" } } }
}

/// What the unit asked and waits for, in a phrase.
fn pending_zh(state: &AppState, c: &OfficeCase) -> Option<String> {
    match c.pending.as_deref()? {
        "return" => Some("申请退回".into()),
        "extension" => Some(match &c.pending_until {
            Some(u) => format!("申请延期至 {}", deadline_text_of(state, u)),
            None => "申请延期".into(),
        }),
        "deferral" => Some(match &c.pending_target {
            Some(t) => format!("申请挂账至 {t}"),
            None => "申请挂账".into(),
        }),
        _ => Some("待决定".into()),
    }
}

/// The deadline column: when the unit must answer by (挂账: its target).
fn due_zh(state: &AppState, c: &OfficeCase) -> String {
    match (c.state.as_str(), &c.deferred_until, &c.deadline) {
        ("deferred", Some(t), _) => format!("挂账至 {t}"),
        (_, _, Some(d)) => deadline_text_of(state, d),
        ("open", _, None) => "待通知（尚未起算）".into(),
        _ => "—".into(),
    }
}

// ---------------------------------------------------------------- the queue

/// The queue's filters as typed, kept in links and the form.
struct Filters {
    state: String,
    unit: String,
    card: String,
    overdue: bool,
    pending: bool,
    page: u32,
}

impl Filters {
    fn from(q: &HashMap<String, String>) -> Self {
        let get = |k: &str| q.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
        Filters {
            state: get("state"),
            unit: get("unit"),
            card: get("card"),
            overdue: get("overdue") == "1",
            pending: get("pending") == "1",
            page: get("page").parse().ok().filter(|p| *p >= 1).unwrap_or(1),
        }
    }

    /// The query string for `page`, with every filter kept.
    fn link(&self, page: u32) -> String {
        let mut params: Vec<(&str, String)> = [("state", &self.state), ("unit", &self.unit), ("card", &self.card)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.clone()))
            .collect();
        if self.overdue {
            params.push(("overdue", "1".into()));
        }
        if self.pending {
            params.push(("pending", "1".into()));
        }
        if page > 1 {
            params.push(("page", page.to_string()));
        }
        format!("/console/cases?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    }
}

fn state_filter_options() -> Vec<(String, String)> {
    let mut out = vec![("live".to_owned(), "未结（待整改、已反馈、返工、挂账）".to_owned())];
    out.extend(CaseState::ALL.iter().map(|s| (s.as_str().to_owned(), s.label_zh().to_owned())));
    out
}

pub async fn queue(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let f = Filters::from(&q);
    let mut errors = Vec::new();
    let state_ok = f.state.is_empty() || f.state == "live" || f.state.parse::<CaseState>().is_ok();
    if !state_ok {
        errors.push(format!("状态“{}”无效。", f.state));
    }
    let card = match f.card.as_str() {
        "" => None,
        c => match c.parse::<Card>() {
            Ok(card @ (Card::Red | Card::Yellow)) => Some(card),
            _ => {
                errors.push("牌色无效：整改单只有红牌和黄牌。".into());
                None
            }
        },
    };
    let query = CaseQuery {
        state: Some(f.state.clone()).filter(|s| !s.is_empty() && state_ok),
        unit: Some(f.unit.clone()).filter(|s| !s.is_empty()),
        card,
        overdue: f.overdue.then_some(true),
        pending: f.pending.then_some(true),
        // One more than a page says whether there is a next one.
        limit: Some(PAGE + 1),
        offset: Some((f.page - 1).saturating_mul(PAGE)),
    };
    let (items, counts, lists, unreachable) = match tokio::try_join!(
        state.db.office_cases(query, now_zoned(&state)),
        state.db.office_case_counts(),
        lists(&state),
        state.db.units_without_contacts(),
    ) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let more = items.len() > PAGE as usize;
    let items = &items[..items.len().min(PAGE as usize)];
    let count_of = |s: CaseState| counts.iter().find(|c| c.state == s).map(|c| c.cases).unwrap_or(0);
    let live: i64 = CaseState::ALL.iter().filter(|s| !s.is_final()).map(|s| count_of(*s)).sum();
    let pending: i64 = counts.iter().map(|c| c.pending).sum();
    let unit_opts: Vec<(String, String)> =
        lists.units.iter().map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect();
    let card_opts: Vec<(String, String)> =
        [Card::Red, Card::Yellow].iter().map(|c| (c.as_str().to_owned(), c.label_zh().to_owned())).collect();
    let body = html! {
        @for e in &errors { p.err { (e) } }
        @if !unreachable.is_empty() {
            div.err role="alert" {
                "以下责任单位有未结整改单，但没有可送达的联系人（邮箱或群机器人），整改通知无法送达："
                @for (i, (id, name, n)) in unreachable.iter().enumerate() {
                    @if i > 0 { "、" }
                    a href={ "/console/contacts?unit=" (id) } { (id) " " (name) } "（" (n) " 件）"
                }
                "。请登记联系人。"
            }
        }
        @if let Some(text) = drawn_flash(&q) { p.ok { (text) } }
        @if user.can(Role::Reviewer) && count_of(CaseState::Answered) > 0 {
            form.box method="post" action="/console/rechecks/draw" {
                (hidden_csrf(&user))
                "已反馈待复查 " b { (count_of(CaseState::Answered)) } " 件。"
                button { "抽取复查" }
                span.muted {
                    " 为尚未安排复查的整改单抽签：从明天起、复查期限内的时段，在发现问题以外的督查员中随机抽取，"
                    "抽签可核验；抽中谁只有在时段结束后才能查看。"
                }
            }
        }
        nav.counts aria-label="各状态数量" {
            a href="/console/cases?state=live" class=[(f.state == "live").then_some("on")] { "未结 " b { (live) } }
            @for s in CaseState::ALL {
                a href={ "/console/cases?state=" (s.as_str()) } class=[(f.state == s.as_str()).then_some("on")] {
                    (s.label_zh()) " " b { (count_of(s)) }
                }
            }
            a href="/console/cases?pending=1" class=[f.pending.then_some("on")] { "待决定申请 " b { (pending) } }
        }
        form.filters.box method="get" action="/console/cases" {
            label { "状态" select name="state" { (options(&state_filter_options(), &f.state, Some("全部"))) } }
            label { "责任单位" select name="unit" { (options(&unit_opts, &f.unit, Some("全部"))) } }
            label { "牌色" select name="card" { (options(&card_opts, &f.card, Some("全部"))) } }
            label.check { input type="checkbox" name="overdue" value="1" checked[f.overdue]; "只看逾期" }
            label.check { input type="checkbox" name="pending" value="1" checked[f.pending]; "只看待决定申请" }
            button { "筛选" } " " a href="/console/cases" { "清除" }
        }
        @if items.is_empty() {
            p.box.muted { "没有符合条件的整改单。" }
        } @else {
            div.scroll { table.stack {
                thead { tr {
                    th { "编号" } th { "责任单位" } th { "点位" } th { "问题类别" } th { "牌色" } th { "状态" }
                    th { "整改期限" } th { "逾期" } th { "返工" } th { "督办" } th { "待决定申请" }
                } }
                tbody {
                    @for c in items {
                        @let pending = pending_zh(&state, c);
                        tr {
                            td.main data-label="编号" { a href={ "/console/cases/" (c.reference) } { code.ref { (c.reference) } } }
                            td data-label="责任单位" { (c.unit_name) }
                            td data-label="点位" { (c.point_name) }
                            td data-label="问题类别" { (c.category_name.as_deref().unwrap_or(&c.category)) }
                            td data-label="牌色" { (card_badge(c.card.as_str())) }
                            td data-label="状态" { (state_badge(&c.state)) }
                            td.nw data-label="整改期限" { (due_zh(&state, c)) }
                            td.nolabel.empty[c.overdue_days.is_none()] data-label="逾期" { (overdue_badge(c.overdue_days)) }
                            td.empty[c.rework_count == 0] data-label="返工" {
                                @if c.rework_count > 0 { (c.rework_count) " 次" }
                            }
                            td.nolabel.empty[!c.supervised] data-label="督办" {
                                @if c.supervised { span.supervised { "督办" } }
                            }
                            td.empty[pending.is_none()] data-label="待决定申请" {
                                @if let Some(p) = &pending { span.pending { (p) } }
                            }
                        }
                    }
                }
            } }
        }
        p.pager {
            @if f.page > 1 { a href=(f.link(f.page - 1)) { "← 上一页" } " " }
            span.muted { "第 " (f.page) " 页" }
            @if more { " " a href=(f.link(f.page + 1)) { "下一页 →" } }
        }
        p.muted { "按整改期限排列，最早到期的在前；尚未通知的整改单在每日通知时刻统一发给责任单位，期限自通知起算。" }
    };
    page(&user, "/console/cases", "整改单", body).into_response()
}

// ---------------------------------------------------------------- one case

/// A decision's name in forms and links, as the API spells it.
fn decision_str(d: DecisionKind) -> &'static str {
    match d {
        DecisionKind::Reassign => "reassign",
        DecisionKind::RefuseReturn => "refuse_return",
        DecisionKind::GrantExtension => "grant_extension",
        DecisionKind::RefuseExtension => "refuse_extension",
        DecisionKind::AcceptDeferral => "accept_deferral",
        DecisionKind::RefuseDeferral => "refuse_deferral",
        DecisionKind::CloseOnEvidence => "close_on_evidence",
    }
}

const DECISIONS: [DecisionKind; 7] = [
    DecisionKind::Reassign,
    DecisionKind::RefuseReturn,
    DecisionKind::GrantExtension,
    DecisionKind::RefuseExtension,
    DecisionKind::AcceptDeferral,
    DecisionKind::RefuseDeferral,
    DecisionKind::CloseOnEvidence,
];

fn parse_decision(s: &str) -> Option<DecisionKind> {
    DECISIONS.into_iter().find(|d| decision_str(*d) == s)
}

/// What the page says once a decision is recorded.
fn done_zh(d: DecisionKind) -> &'static str {
    match d {
        DecisionKind::Reassign => "已同意退回并改派；新单位将在下一个通知时刻收到整改单，期限自那时起算。",
        DecisionKind::RefuseReturn => "已不同意退回，整改单仍由原单位办理，期限照常。",
        DecisionKind::GrantExtension => "已同意延期，整改期限已更新。",
        DecisionKind::RefuseExtension => "已不同意延期，期限不变。",
        DecisionKind::AcceptDeferral => "已同意挂账，整改单按目标日期跟踪。",
        DecisionKind::RefuseDeferral => "已不同意挂账，期限不变。",
        DecisionKind::CloseOnEvidence => "已凭反馈材料销号。",
    }
}

/// The decisions the case's state and pending request allow now; the
/// state machine is still the judge of a post (a page can be stale).
fn allowed(c: &OfficeCase, close_yellow_on_evidence: bool) -> Vec<DecisionKind> {
    let mut out = match c.pending.as_deref() {
        Some("return") => vec![DecisionKind::Reassign, DecisionKind::RefuseReturn],
        Some("extension") => vec![DecisionKind::GrantExtension, DecisionKind::RefuseExtension],
        Some("deferral") => vec![DecisionKind::AcceptDeferral, DecisionKind::RefuseDeferral],
        _ => vec![],
    };
    if c.state == "answered" && c.card == Card::Yellow && close_yellow_on_evidence {
        out.push(DecisionKind::CloseOnEvidence);
    }
    out
}

fn event_zh(event: &str) -> &'static str {
    match event {
        "opened" => "立案",
        "notified" => "通知责任单位（期限起算）",
        "answered" => "单位反馈整改情况",
        "return_requested" => "单位申请退回",
        "reassigned" => "同意退回，改派",
        "return_refused" => "不同意退回",
        "extension_requested" => "单位申请延期",
        "extension_granted" => "同意延期",
        "extension_refused" => "不同意延期",
        "deferral_requested" => "单位申请挂账",
        "deferred" => "同意挂账",
        "deferral_refused" => "不同意挂账",
        "recheck_passed" => "复查通过，销号",
        "recheck_failed" => "复查未通过，返工",
        "closed_on_evidence" => "凭反馈材料销号",
        "cancelled" => "撤销",
        "urged" => "逾期催办",
        "escalated" => "逾期报分管领导",
        "supervised" => "转督办",
        _ => "其他",
    }
}

/// Who acted, as the office sees it: reviewers and admins see a re-check
/// inspector's alias, leaders never do (三不三无 within the office too).
fn actor_zh(e: &CaseEventView, show_alias: bool) -> String {
    let name = e.actor.as_deref().unwrap_or("（已删除）");
    match e.actor_kind.as_str() {
        "office" => format!("督查办 · {name}"),
        "unit" => format!("责任单位账号 · {name}"),
        "inspector" if show_alias => format!("复查督查员 · {name}"),
        "inspector" => "复查督查员".into(),
        _ => "系统（定时任务）".into(),
    }
}

/// The parts of an event's detail a person needs, in Chinese.
fn detail_zh(state: &AppState, e: &CaseEventView, unit_name: &dyn Fn(&str) -> String) -> Vec<Markup> {
    let get = |k: &str| e.detail.get(k).and_then(|v| v.as_str());
    let mut out = Vec::new();
    if let (Some(from), Some(to)) = (get("from_unit"), get("to_unit")) {
        out.push(html! { "改派：" (unit_name(from)) " → " (unit_name(to)) });
    }
    if e.event == "opened"
        && let Some(u) = get("unit_id")
    {
        out.push(html! { "责任单位：" (unit_name(u)) });
    }
    if let Some(card) = get("card") {
        out.push(html! { "牌色：" (card_badge(card)) });
    }
    if let Some(d) = get("deadline") {
        out.push(html! { "期限：" (deadline_text_of(state, d)) });
    }
    if let Some(u) = get("until") {
        out.push(html! { "申请延期至：" (deadline_text_of(state, u)) });
    }
    if let Some(t) = get("target") {
        out.push(html! { "目标日期：" (t) });
    }
    if let Some(n) = e.detail.get("overdue_days").and_then(|v| v.as_i64()) {
        out.push(html! { "逾期 " (n) " 天" });
    }
    if e.detail.get("supervised").and_then(|v| v.as_bool()) == Some(true) {
        out.push(html! { span.supervised { "转督办" } });
    }
    if let Some(f) = get("finding_id") {
        out.push(html! { a href={ "/console/findings/" (f) } { "复查记录" } });
    }
    out
}

fn photo_link(sha: &str) -> Markup {
    html! {
        a href={ "/api/v1/photos/" (sha) } target="_blank" {
            img loading="lazy" src={ "/api/v1/photos/" (sha) "/thumbnail" } alt="照片";
        }
    }
}

pub async fn case_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ok = q.get("done").and_then(|d| parse_decision(d)).map(done_zh);
    let exposure_error = q.get("exposure_error").map(String::as_str);
    render_case(&state, &user, &reference, None, ok, exposure_error).await
}

/// A refused decision, to show with the form's input kept.
struct Refused<'a> {
    message: String,
    form: &'a Form,
    status: StatusCode,
}

fn not_found(user: &ConsoleUser) -> Response {
    let body = html! { p.err { (ErrorCode::CaseNotFound.zh()) "。" } p { a href="/console/cases" { "← 返回整改单" } } };
    (StatusCode::NOT_FOUND, page(user, "/console/cases", "未找到", body)).into_response()
}

async fn render_case(
    state: &AppState,
    user: &ConsoleUser,
    reference: &str,
    refused: Option<Refused<'_>>,
    ok: Option<&str>,
    exposure_error: Option<&str>,
) -> Response {
    let reviewer = user.can(Role::Reviewer);
    let loaded = tokio::try_join!(
        crate::app::cases::office_case(&state.db, user.caller.role, reference.to_owned(), now_zoned(state)),
        state.db.rectification_settings(),
        lists(state),
        state.db.case_exposures(reference.to_owned()),
    );
    let (detail, settings, lists, exposures) = match loaded {
        Ok((Some(d), s, l, x)) => (d, s, l, x),
        Ok((None, ..)) => return not_found(user),
        Err(e) => return internal(e),
    };
    let OfficeCaseDetail { case: c, events } = detail;
    let unit_name = |id: &str| -> String {
        lists.units.iter().find(|u| u.id == id).map(|u| format!("{} {}", u.id, u.name)).unwrap_or_else(|| id.to_owned())
    };
    let decisions = if reviewer { allowed(&c, settings.close_yellow_on_evidence) } else { vec![] };
    let kept = |d: DecisionKind, key: &str| -> String {
        refused
            .as_ref()
            .filter(|r| r.form.get("decision") == decision_str(d))
            .map(|r| r.form.get(key).to_owned())
            .unwrap_or_default()
    };
    let action = format!("/console/cases/{}/decision", c.reference);
    let after: Vec<&CaseEventView> = events.iter().filter(|e| !e.attachments.is_empty()).collect();
    let reassign_units: Vec<(String, String)> =
        lists.unit_options().into_iter().filter(|(id, _)| *id != c.unit_id).collect();
    let pending = pending_zh(state, &c);
    // The request waiting for a decision, read beside its form.
    let asked = match c.pending.as_deref() {
        Some("return") => "return_requested",
        Some("extension") => "extension_requested",
        Some("deferral") => "deferral_requested",
        _ => "",
    };
    let request = events.iter().rev().find(|e| e.event == asked);
    let body = html! {
        (flash(refused.as_ref().map(|r| r.message.as_str()), ok))
        div.box { dl {
            dt { "状态" } dd {
                (state_badge(&c.state)) " " (card_badge(c.card.as_str()))
                @if c.supervised { " " span.supervised { "督办" } }
                @if c.overdue_days.is_some() { " " (overdue_badge(c.overdue_days)) }
            }
            dt { "责任单位" } dd { (c.unit_id) " " (c.unit_name) }
            dt { "点位" } dd { (c.point_id) " " (c.point_name) }
            dt { "问题类别" } dd { (c.category_name.as_deref().unwrap_or(&c.category)) }
            dt { "整改期限" } dd { (due_zh(state, &c)) }
            @if let Some(p) = &pending { dt { "待决定申请" } dd { span.pending { (p) } } }
            dt { "立案" } dd { (time_text(state, &c.opened_at)) }
            dt { "通知" } dd {
                @match &c.notified_at { Some(t) => (time_text(state, t)), None => span.muted { "尚未通知（每日 " (settings.digest_hour) ":00 统一发送）" } }
            }
            @if let Some(t) = &c.answered_at { dt { "反馈" } dd { (time_text(state, t)) } }
            @if let Some(t) = &c.closed_at { dt { "结案" } dd { (time_text(state, t)) } }
            dt { "次数" } dd { "返工 " (c.rework_count) " · 改派 " (c.reassign_count) " · 延期 " (c.extension_count) }
            dt { "原始发现" } dd { a href={ "/console/findings/" (c.finding_id) } { "查看发现与审核记录 →" } }
        } }
        h2 { "整改前后对照" }
        div.pair {
            div.box {
                h3 { "整改前（督查发现）" }
                @if c.photos.is_empty() {
                    p.muted { "发现没有照片。" }
                } @else {
                    div.thumbs { @for p in &c.photos { (photo_link(p)) } }
                }
            }
            div.box {
                h3 { "整改后（单位反馈与复查）" }
                @if after.is_empty() { p.muted { "尚无反馈或复查材料。" } }
                @for e in &after {
                    div.attach {
                        p.muted { (event_zh(&e.event)) " · " (time_text(state, &e.at)) }
                        div.thumbs {
                            @for a in e.attachments.iter().filter(|a| a.kind == crate::db::cases::AttachmentKind::Photo) {
                                (photo_link(&a.sha256))
                            }
                        }
                        @for a in e.attachments.iter().filter(|a| a.kind == crate::db::cases::AttachmentKind::Pdf) {
                            p { a href={ "/api/v1/case-files/" (a.sha256) } { "书面说明扫描件（PDF）下载" } }
                        }
                    }
                }
            }
        }
        @if !decisions.is_empty() {
            div.box.decide #decide {
                h2 style="margin-top:0" { "办理决定" }
                @if let (Some(p), Some(asked)) = (&pending, &request) {
                    p {
                        span.pending { (p) } " · " (actor_zh(asked, reviewer)) " · " (time_text(state, &asked.at))
                        @for t in [&asked.reason, &asked.explanation].into_iter().flatten() { br; "理由：" (t) }
                    }
                }
                @for d in &decisions {
                    @let d = *d;
                    form method="post" action=(action) {
                        (hidden_csrf(user))
                        input type="hidden" name="decision" value=(decision_str(d));
                        @match d {
                            DecisionKind::Reassign => {
                                label { "改派给 " select name="unit_id" required {
                                    (options(&reassign_units, &kept(d, "unit_id"), Some("请选择责任单位")))
                                } }
                                label { "说明（选填） " input name="reason" maxlength="2000" value=(kept(d, "reason")); }
                                button { "同意退回并改派" }
                            }
                            DecisionKind::RefuseReturn => {
                                label { "不同意的理由 " input name="reason" required maxlength="2000" placeholder="必填" value=(kept(d, "reason")); }
                                button.plain { "不同意退回" }
                            }
                            DecisionKind::GrantExtension => {
                                label { "说明（选填） " input name="reason" maxlength="2000" value=(kept(d, "reason")); }
                                button { "同意延期" @if let Some(u) = &c.pending_until { "至 " (deadline_text_of(state, u)) } }
                            }
                            DecisionKind::RefuseExtension => {
                                label { "不同意的理由 " input name="reason" required maxlength="2000" placeholder="必填" value=(kept(d, "reason")); }
                                button.plain { "不同意延期" }
                            }
                            DecisionKind::AcceptDeferral => {
                                label { "说明（选填） " input name="reason" maxlength="2000" value=(kept(d, "reason")); }
                                button { "同意挂账" @if let Some(t) = &c.pending_target { "至 " (t) } }
                            }
                            DecisionKind::RefuseDeferral => {
                                label { "不同意的理由 " input name="reason" required maxlength="2000" placeholder="必填" value=(kept(d, "reason")); }
                                button.plain { "不同意挂账" }
                            }
                            DecisionKind::CloseOnEvidence => {
                                label { "销号理由 " input name="reason" required maxlength="2000" placeholder="必填，如：整改后照片清楚，问题已消除" value=(kept(d, "reason")); }
                                button { "凭反馈材料销号（黄牌）" }
                            }
                        }
                    }
                }
            }
        }
        (super::exposure::case_box(user, &c.reference, &exposures, exposure_error))
        h2 { "办理记录" }
        div.scroll { table.stack {
            thead { tr { th { "时间" } th { "事项" } th { "操作人" } th { "状态" } th { "理由 / 说明" } th { "详情" } } }
            tbody {
                @for e in events.iter().rev() {
                    @let details = detail_zh(state, e, &unit_name);
                    @let text = [("理由", &e.reason), ("整改情况", &e.note), ("书面说明", &e.explanation)];
                    tr {
                        td.nw data-label="时间" { (time_text(state, &e.at)) }
                        td.main data-label="事项" { (event_zh(&e.event)) }
                        td data-label="操作人" { (actor_zh(e, reviewer)) }
                        td.nw data-label="状态" {
                            @if let Some(from) = e.from_state.as_ref().filter(|f| **f != e.to_state) {
                                (state_zh(from)) " → " (state_zh(&e.to_state))
                            } @else {
                                (state_zh(&e.to_state))
                            }
                        }
                        td.text.nolabel.empty[text.iter().all(|(_, t)| t.is_none())] data-label="理由 / 说明" {
                            @for (label, t) in text {
                                @if let Some(t) = t { div { span.muted { (label) "：" } (t) } }
                            }
                        }
                        td.nolabel.empty[details.is_empty() && e.attachments.is_empty()] data-label="详情" {
                            @for d in &details { div { (d) } }
                            @if !e.attachments.is_empty() { div.muted { "附件 " (e.attachments.len()) " 个" } }
                        }
                    }
                }
            }
        } }
        p { a href="/console/cases" { "← 返回整改单" } }
    };
    let status = refused.as_ref().map(|r| r.status).unwrap_or(StatusCode::OK);
    let title = format!("整改单 {} · {}", c.reference, c.point_name);
    (status, page(user, "/console/cases", &title, body)).into_response()
}

/// A refusal's text: the code's Chinese, and which input it was about.
fn refusal_text(e: &AppError) -> String {
    let field = match e.field() {
        Some("unit_id") => "改派单位",
        Some("reason") => "理由",
        _ => "",
    };
    // A code that names no input ("必填项为空") is told which one.
    if e.code() == ErrorCode::FieldRequired && !field.is_empty() {
        return format!("未能办理：{}（{field}）。", e.code().zh());
    }
    format!("未能办理：{}", super::refusal_zh(e))
}

pub async fn decide(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(reference): Path<String>,
    form: Form,
) -> Response {
    let Some(decision) = parse_decision(form.get("decision")) else {
        let message = format!("未能办理：{}。", ErrorCode::CaseDecisionUnknown.zh());
        let refused = Refused { message, form: &form, status: StatusCode::UNPROCESSABLE_ENTITY };
        return render_case(&state, &user, &reference, Some(refused), None, None).await;
    };
    let req = OfficeDecision { decision, unit_id: form.opt("unit_id"), reason: form.opt("reason") };
    let tz = state.config.timezone.clone();
    match app::cases::decide(&state.db, &user.caller, reference.clone(), req, state.clock.now(), tz).await {
        Ok(moved) => see_other(&format!("/console/cases/{}?done={}", moved.public_ref, decision_str(decision))),
        Err(e) if e.code() == ErrorCode::CaseNotFound => not_found(&user),
        Err(e) if e.status().is_client_error() => {
            let refused = Refused { message: refusal_text(&e), form: &form, status: e.status() };
            render_case(&state, &user, &reference, Some(refused), None, None).await
        }
        Err(e) => internal(e),
    }
}

/// The flash after a re-check draw (`drawn`, `not_drawn` in the query).
fn drawn_flash(q: &HashMap<String, String>) -> Option<String> {
    let drawn: u32 = q.get("drawn")?.parse().ok()?;
    let not: u32 = q.get("not_drawn").and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut text = format!("已抽取复查 {drawn} 件。");
    if not > 0 {
        text.push_str(&format!("{not} 件未能抽取（见各整改单；常见原因：没有其他可用的督查员）。"));
    }
    Some(text)
}

/// A reviewer draws the re-check visits of every answered case that has
/// none (`app::rechecks::draw`, default slots), as `POST /api/v1/rechecks/draw`.
pub async fn draw_rechecks(State(state): State<AppState>, user: ConsoleUser, _form: Form) -> Response {
    let now = state.clock.now_ms();
    match app::rechecks::draw(
        &state.db,
        Default::default(),
        state.config.timezone_name(),
        Some(user.caller.user_id),
        now,
    )
    .await
    {
        Ok(r) => {
            see_other(&format!("/console/cases?state=answered&drawn={}&not_drawn={}", r.drawn.len(), r.not_drawn.len()))
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! In-process: a real SQLite office in a tempdir, a `ManualClock` the
    //! tests move, findings pushed and reviewed into cases, the scheduler's
    //! pass notifying them, and the console called as a browser would
    //! (session cookie, same-site Origin, the form's CSRF token).

    use crate::app::cases::ExtensionRequest;
    use crate::auth::{DeviceCaller, OfficeCaller, Role, secret_hash};
    use crate::clock::ManualClock;
    use crate::db::reviews::{Decision, ReviewRequest};
    use crate::rectification::case::CaseState;
    use crate::routes::console::csrf_token;
    use crate::{AppState, Config, app};
    use anfang_core::Card;
    use anfang_core::error_code::ErrorCode;
    use anfang_core::protocol::{PushOutcome, SignedFinding};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use jiff::{SignedDuration, Timestamp};
    use tower::ServiceExt;

    /// Tuesday 1 December 2026, 10:00 in Shanghai.
    pub const START: &str = "2026-12-01T02:00:00Z";

    pub struct Office {
        pub _dir: tempfile::TempDir,
        pub state: AppState,
        pub hand: ManualClock,
        device: DeviceCaller,
        key: anfang_core::evidence::DeviceKey,
        pub reviewer: OfficeCaller,
        pub leader: OfficeCaller,
        pub admin: OfficeCaller,
        pub unit_u03: OfficeCaller,
        /// The enrolled inspector's alias.
        pub alias: String,
    }

    fn caller(user_id: i64, username: &str, role: Role, unit: Option<&str>) -> OfficeCaller {
        OfficeCaller { user_id, username: username.into(), role, unit_id: unit.map(str::to_owned) }
    }

    pub async fn office() -> Office {
        let dir = tempfile::tempdir().unwrap();
        let hand = ManualClock::new(START.parse().unwrap());
        let mut config = Config::new(dir.path());
        config.clock = crate::clock::Clock::from(hand.clone());
        let state = AppState::open(config).unwrap();
        let creds = crate::demo::load(&state.db).unwrap();
        let now = state.clock.now();
        let key = anfang_core::evidence::DeviceKey::generate();
        let earlier = now - SignedDuration::from_hours(1);
        let enrolled =
            state.db.enroll_device(creds.inspectors[0].1.clone(), None, key.public_key_hex(), earlier).await.unwrap();
        let device = state.db.authenticate_device(secret_hash(&enrolled.token), now).await.unwrap();
        let add = |name: &'static str, role: Role, unit: Option<&'static str>| {
            let db = state.db.clone();
            async move {
                let id = db.add_user(name.into(), format!("{name}-password"), role, unit.map(Into::into), now).await;
                caller(id.unwrap(), name, role, unit)
            }
        };
        let reviewer = add("rev", Role::Reviewer, None).await;
        let leader = add("lead", Role::Leader, None).await;
        let admin = add("boss", Role::Admin, None).await;
        let unit_u03 = add("unit-u03", Role::Unit, Some("U03")).await;
        let alias = enrolled.alias.clone();
        Office { _dir: dir, state, hand, device, key, reviewer, leader, admin, unit_u03, alias }
    }

    impl Office {
        pub fn now(&self) -> Timestamp {
            self.state.clock.now()
        }

        /// Moves the clock to a local (Shanghai) time.
        pub fn set_local(&self, local: &str) {
            let t: jiff::civil::DateTime = local.parse().unwrap();
            self.hand.set(t.to_zoned_datetime(self.state.config.timezone.clone()).unwrap().timestamp());
        }

        /// A finding at `point` for `unit`, reviewed to `card`: the review
        /// opens a case. Returns the finding id and the case reference.
        pub async fn case(&self, point: &str, unit: &str, card: Card) -> (String, String) {
            let now = self.now();
            let finding = anfang_core::FindingContent {
                id: uuid::Uuid::now_v7(),
                point_id: point.into(),
                unit_id: unit.into(),
                category: "parking".into(),
                // Green needs no photo; the review makes it a yellow or red card.
                card: Card::Green,
                note: Some("人行道停车".into()),
                observed_at: now - SignedDuration::from_mins(10),
                location: None,
                photos: vec![],
                assignment_id: None,
                recheck: None,
            };
            let signed = SignedFinding { signature: self.key.sign(&finding), finding };
            let r = crate::app::sync::push(
                &self.state.db,
                &self.device,
                vec![signed.clone()],
                now,
                self.state.config.timezone.clone(),
            )
            .await
            .unwrap();
            assert_eq!(r[0].outcome, PushOutcome::Accepted, "{:?}", r[0]);
            let id = signed.finding.id.to_string();
            self.review(&id, Decision::Correct, Some(card)).await;
            let reference =
                self.state.db.case_ref_for_finding(id.clone()).await.unwrap().expect("the review opened a case");
            (id, reference)
        }

        pub async fn review(&self, id: &str, decision: Decision, card: Option<Card>) {
            let req = ReviewRequest { decision, category: None, unit_id: None, card, reason: Some("复核".into()) };
            crate::app::review::decide(&self.state.db, &self.reviewer, id.to_owned(), req, self.now()).await.unwrap();
        }

        /// The scheduler's pass at 18:00 the same day: every new case is notified.
        pub async fn notify_at_six(&self) {
            self.set_local("2026-12-01T18:00");
            let report = self.state.db.schedule_pass(self.now(), self.state.config.timezone.clone()).await.unwrap();
            assert!(report.notified > 0, "{report:?}");
        }

        pub async fn stored(&self, reference: &str) -> crate::db::cases::StoredCase {
            self.state.db.case_by_ref(reference.to_owned()).await.unwrap().unwrap()
        }

        /// A console session of `who`, opened now (sessions expire when idle,
        /// and the tests move the clock by days).
        pub async fn session(&self, who: &OfficeCaller) -> Session {
            let token = self.state.db.open_session(who.user_id, self.now()).await.unwrap();
            Session { csrf: csrf_token(&token), token, state: self.state.clone() }
        }
    }

    pub struct Session {
        token: String,
        pub csrf: String,
        state: AppState,
    }

    pub struct Answer {
        pub status: StatusCode,
        pub location: String,
        pub body: String,
    }

    impl Session {
        async fn call(&self, method: &str, uri: &str, body: String) -> Answer {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header("host", "anfang.test")
                .header("origin", "http://anfang.test")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("{}={}", crate::auth::SESSION_COOKIE, self.token))
                .body(Body::from(body))
                .unwrap();
            let res = app(self.state.clone()).oneshot(req).await.unwrap();
            let status = res.status();
            let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
            let bytes = axum::body::to_bytes(res.into_body(), 8 << 20).await.unwrap();
            Answer { status, location, body: String::from_utf8(bytes.to_vec()).unwrap() }
        }

        pub async fn get(&self, uri: &str) -> Answer {
            self.call("GET", uri, String::new()).await
        }

        /// A form post with this session's CSRF token.
        pub async fn post(&self, uri: &str, fields: &[(&str, &str)]) -> Answer {
            let mut all = vec![("csrf", self.csrf.as_str())];
            all.extend_from_slice(fields);
            self.call("POST", uri, serde_urlencoded::to_string(&all).unwrap()).await
        }
    }

    async fn point_of(office: &Office, unit: &str) -> String {
        let points = office.state.db.points().await.unwrap();
        points.into_iter().find(|p| p.point.unit_id == unit).expect("the demo city has a point per unit").point.id
    }

    fn listed(page: &str, reference: &str) -> bool {
        page.contains(&format!("href=\"/console/cases/{reference}\""))
    }

    #[tokio::test]
    async fn the_queue_filters_by_state_unit_card_overdue_and_pending_and_counts_each_state() {
        let o = office().await;
        let (_, yellow_u03) = o.case("P001", "U03", Card::Yellow).await;
        let u01_point = point_of(&o, "U01").await;
        let (_, red_u01) = o.case(&u01_point, "U01", Card::Red).await;
        let (_, red_u03) = o.case("P001", "U03", Card::Red).await;
        let (cancelled_finding, cancelled) = o.case("P001", "U03", Card::Yellow).await;
        o.review(&cancelled_finding, Decision::Correct, Some(Card::Green)).await;
        o.notify_at_six().await;
        // Wednesday: the unit asks for a later deadline on one red card.
        o.set_local("2026-12-02T09:00");
        let until: jiff::civil::Date = "2026-12-18".parse().unwrap();
        let req = ExtensionRequest { until, reason: "需要采购护栏".into() };
        crate::app::cases::request_extension(
            &o.state.db,
            &o.unit_u03,
            red_u03.clone(),
            req,
            o.now(),
            o.state.config.timezone.clone(),
        )
        .await
        .unwrap();

        let leader = o.session(&o.leader).await;
        let all = leader.get("/console/cases").await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.body);
        for r in [&yellow_u03, &red_u01, &red_u03, &cancelled] {
            assert!(listed(&all.body, r), "{r} in the unfiltered queue");
        }
        // The counts: three open, one cancelled, one request waiting.
        assert!(all.body.contains("待整改 <b>3</b>") && all.body.contains("已撤销 <b>1</b>"), "{}", all.body);
        assert!(all.body.contains("未结 <b>3</b>") && all.body.contains("待决定申请 <b>1</b>"), "{}", all.body);
        assert!(all.body.contains("申请延期至 2026-12-18 24:00"), "the pending request is in its column");

        let only = |page: &Answer, wanted: &[&String]| {
            for r in [&yellow_u03, &red_u01, &red_u03, &cancelled] {
                assert_eq!(listed(&page.body, r), wanted.contains(&r), "{r}: {}", page.body);
            }
        };
        only(&leader.get("/console/cases?unit=U03").await, &[&yellow_u03, &red_u03, &cancelled]);
        only(&leader.get("/console/cases?card=red").await, &[&red_u01, &red_u03]);
        only(&leader.get("/console/cases?state=live").await, &[&yellow_u03, &red_u01, &red_u03]);
        only(&leader.get("/console/cases?state=cancelled").await, &[&cancelled]);
        only(&leader.get("/console/cases?pending=1").await, &[&red_u03]);
        only(&leader.get("/console/cases?state=open&unit=U03&card=yellow").await, &[&yellow_u03]);
        only(&leader.get("/console/cases?overdue=1").await, &[]);

        // Monday: the red cards' three working days ended with Friday, the
        // yellow card's seven have not.
        o.set_local("2026-12-07T10:00");
        let leader = o.session(&o.leader).await;
        let overdue = leader.get("/console/cases?overdue=1").await;
        only(&overdue, &[&red_u01, &red_u03]);
        assert!(overdue.body.contains("<span class=\"overdue\">逾期 3 天</span>"), "{}", overdue.body);

        let bad = leader.get("/console/cases?state=nonsense&card=green").await;
        assert!(bad.body.contains("状态“nonsense”无效") && bad.body.contains("整改单只有红牌和黄牌"), "{}", bad.body);
    }

    #[tokio::test]
    async fn the_queue_names_units_whose_cases_reach_nobody_until_a_contact_is_added() {
        let o = office().await;
        let (_, _) = o.case("P001", "U03", Card::Yellow).await;
        let u01_point = point_of(&o, "U01").await;
        let (_, _) = o.case(&u01_point, "U01", Card::Red).await;
        let leader = o.session(&o.leader).await;
        let page = leader.get("/console/cases").await.body;
        assert!(page.contains("没有可送达的联系人"), "{page}");
        assert!(
            page.contains("U01 通川区人民政府</a>（1 件）") && page.contains("U03 市城市管理行政执法局</a>（1 件）"),
            "{page}"
        );

        // A 点长 with an email does not count: digests go to 联系人; a
        // deactivated 联系人 does not either. An active one with an email does.
        let contact = |role: &str, active: bool| crate::app::contacts::ContactInput {
            name: "王联络".into(),
            role: role.into(),
            email: Some("wang@u03.example.cn".into()),
            active,
            ..Default::default()
        };
        crate::app::contacts::create(&o.state.db, "U03".into(), contact("point_chief", true)).await.unwrap();
        crate::app::contacts::create(&o.state.db, "U03".into(), contact("contact", false)).await.unwrap();
        let page = leader.get("/console/cases").await.body;
        assert!(page.contains("U03 市城市管理行政执法局</a>"), "{page}");
        crate::app::contacts::create(&o.state.db, "U03".into(), contact("contact", true)).await.unwrap();
        let page = leader.get("/console/cases").await.body;
        assert!(page.contains("U01 通川区人民政府</a>") && !page.contains("U03 市城市管理行政执法局</a>"), "{page}");
    }

    #[tokio::test]
    async fn a_reviewer_draws_the_recheck_of_an_answered_case_from_the_queue() {
        let o = office().await;
        let (_, reference) = o.case("P001", "U03", Card::Yellow).await;
        o.notify_at_six().await;
        let sha = "c".repeat(64);
        let row = sha.clone();
        o.state
            .db
            .write_blocking(move |c| {
                c.execute(
                    "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, 1, 1, 1, '2026-12-01T00:00:00Z')",
                    [&row],
                )?;
                Ok(())
            })
            .unwrap();
        let answer = crate::app::cases::AnswerRequest {
            photos: vec![sha],
            note: "已清理".into(),
            explanation: None,
            explanation_pdf: None,
        };
        let tz = o.state.config.timezone.clone();
        crate::app::cases::answer(&o.state.db, &o.unit_u03, reference.clone(), answer, o.now(), tz).await.unwrap();

        // Leaders see the count, not the button; the route refuses them.
        let leader = o.session(&o.leader).await;
        let page = leader.get("/console/cases").await.body;
        assert!(!page.contains("/console/rechecks/draw"), "{page}");
        assert_eq!(leader.post("/console/rechecks/draw", &[]).await.status, StatusCode::FORBIDDEN);

        let reviewer = o.session(&o.reviewer).await;
        let page = reviewer.get("/console/cases").await.body;
        assert!(page.contains("已反馈待复查 <b>1</b> 件") && page.contains("抽取复查"), "{page}");
        let drawn = reviewer.post("/console/rechecks/draw", &[]).await;
        assert_eq!(drawn.status, StatusCode::SEE_OTHER, "{}", drawn.body);
        assert_eq!(drawn.location, "/console/cases?state=answered&drawn=1&not_drawn=0");
        let page = reviewer.get(&drawn.location).await.body;
        assert!(page.contains("已抽取复查 1 件。"), "{page}");
        let visits: i64 = o
            .state
            .db
            .write_blocking(move |c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM recheck_visits v JOIN rectification_cases rc ON rc.id = v.case_id
                     WHERE rc.public_ref = ?1",
                    [&reference],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(visits, 1);
        // Drawn once: a second press finds nothing left to draw.
        let again = reviewer.post("/console/rechecks/draw", &[]).await;
        assert_eq!(again.location, "/console/cases?state=answered&drawn=0&not_drawn=0");
    }

    #[tokio::test]
    async fn a_reviewer_grants_an_extension_on_the_page_and_the_deadline_moves() {
        let o = office().await;
        let (finding, reference) = o.case("P001", "U03", Card::Yellow).await;
        o.notify_at_six().await;
        let before = o.stored(&reference).await;
        let until: jiff::civil::Date = "2026-12-31".parse().unwrap();
        let req = ExtensionRequest { until, reason: "雨天无法施工".into() };
        let tz = o.state.config.timezone.clone();
        crate::app::cases::request_extension(&o.state.db, &o.unit_u03, reference.clone(), req, o.now(), tz.clone())
            .await
            .unwrap();

        let page_uri = format!("/console/cases/{reference}");
        let action = format!("/console/cases/{reference}/decision");
        let reviewer = o.session(&o.reviewer).await;
        let page = reviewer.get(&page_uri).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!("action=\"{action}\"")), "{}", page.body);
        assert!(page.body.contains("value=\"grant_extension\"") && page.body.contains("value=\"refuse_extension\""));
        assert!(!page.body.contains("value=\"reassign\""), "no return was asked");
        assert!(page.body.contains(&format!("href=\"/console/findings/{finding}\"")), "links its finding");
        assert!(page.body.contains("雨天无法施工"), "the unit's reason is in the history");

        // A leader reads the same page without a form, and a forged post is
        // the route table's to refuse.
        let leader = o.session(&o.leader).await;
        let seen = leader.get(&page_uri).await;
        assert_eq!(seen.status, StatusCode::OK);
        assert!(!seen.body.contains(&action) && !seen.body.contains("grant_extension"), "{}", seen.body);
        let forged = leader.post(&action, &[("decision", "grant_extension")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(o.stored(&reference).await.case.pending.is_some(), "the leader's post changed nothing");

        // Reviewers know aliases and may write one; leaders read it masked.
        let reason = format!("同意，{} 已确认现场", o.alias);
        let done = reviewer.post(&action, &[("decision", "grant_extension"), ("reason", &reason)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location, format!("{page_uri}?done=grant_extension"));
        let after = o.stored(&reference).await;
        let end_of_31st =
            "2027-01-01T00:00:00+08:00[Asia/Shanghai]".parse::<jiff::ZonedDateTime>().unwrap().timestamp();
        assert_ne!(before.case.deadline, after.case.deadline);
        assert_eq!(after.case.deadline, Some(end_of_31st));
        assert_eq!((after.case.pending, after.case.extension_count), (None, 1));
        let shown = reviewer.get(&done.location).await;
        assert!(shown.body.contains("已同意延期") && shown.body.contains("2026-12-31 24:00"), "{}", shown.body);
        assert!(shown.body.contains("督查办 · rev"), "who decided, by username: {}", shown.body);
        assert!(!shown.body.contains("value=\"grant_extension\""), "nothing is left to decide");
        assert!(shown.body.contains(&reason), "the reviewer reads the reason as written");
        let masked = leader.get(&page_uri).await;
        assert!(masked.body.contains("已确认现场") && !masked.body.contains(&o.alias), "{}", masked.body);
    }

    #[tokio::test]
    async fn a_decision_the_case_does_not_allow_is_refused_with_its_code_and_changes_nothing() {
        let o = office().await;
        let (_, reference) = o.case("P001", "U03", Card::Red).await;
        o.notify_at_six().await;
        let action = format!("/console/cases/{reference}/decision");
        let reviewer = o.session(&o.reviewer).await;
        let before = o.stored(&reference).await;

        // No request of the unit's waits: nothing to grant (a stale or forged form).
        let stale = reviewer.post(&action, &[("decision", "grant_extension"), ("reason", "同意")]).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        assert!(stale.body.contains(ErrorCode::CaseNoRequest.zh()), "{}", stale.body);
        // A red card is never closed on paper.
        let close = reviewer.post(&action, &[("decision", "close_on_evidence"), ("reason", "照片清楚")]).await;
        assert_eq!(close.status, StatusCode::CONFLICT, "{}", close.body);
        assert!(close.body.contains(ErrorCode::CaseWrongState.zh()), "{}", close.body);
        let unknown = reviewer.post(&action, &[("decision", "approve_everything")]).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.body.contains(ErrorCode::CaseDecisionUnknown.zh()));
        let after = o.stored(&reference).await;
        assert_eq!((after.version, after.case.clone()), (before.version, before.case.clone()), "nothing changed");

        // With a request waiting, a refusal's bad input is shown back in its form.
        let until: jiff::civil::Date = "2026-12-31".parse().unwrap();
        let req = ExtensionRequest { until, reason: "理由".into() };
        let tz = o.state.config.timezone.clone();
        crate::app::cases::request_extension(&o.state.db, &o.unit_u03, reference.clone(), req, o.now(), tz)
            .await
            .unwrap();
        let waiting = o.stored(&reference).await;
        let long = format!("不同意<b>{}</b>", "很".repeat(2001));
        let refused = reviewer.post(&action, &[("decision", "refuse_extension"), ("reason", &long)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.body.contains(ErrorCode::CaseTextTooLong.zh()), "{}", refused.body);
        assert!(refused.body.contains("value=\"不同意&lt;b&gt;很很很"), "the reason is kept, escaped");
        let empty = reviewer.post(&action, &[("decision", "refuse_extension")]).await;
        assert!(empty.body.contains(ErrorCode::CaseReasonRequired.zh()), "{}", empty.body);
        let after = o.stored(&reference).await;
        assert_eq!((after.version, after.case), (waiting.version, waiting.case), "nothing changed");

        let missing = reviewer.post("/console/cases/000000000000/decision", &[("decision", "refuse_return")]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(reviewer.get("/console/cases/000000000000").await.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_return_is_decided_by_reassigning_to_an_active_unit_and_the_finding_links_its_case() {
        let o = office().await;
        let (finding, reference) = o.case("P001", "U03", Card::Yellow).await;
        o.notify_at_six().await;
        let req = crate::app::cases::ReturnRequest { reason: "此路段归东城街道".into() };
        let tz = o.state.config.timezone.clone();
        crate::app::cases::request_return(&o.state.db, &o.unit_u03, reference.clone(), req, o.now(), tz).await.unwrap();
        let reviewer = o.session(&o.reviewer).await;
        let page = reviewer.get(&format!("/console/cases/{reference}")).await;
        assert!(page.body.contains("value=\"reassign\"") && page.body.contains("value=\"refuse_return\""));
        assert!(page.body.contains("<option value=\"U09\">U09 东城街道办事处</option>"), "{}", page.body);
        assert!(!page.body.contains("<option value=\"U03\">"), "not back to its own unit");

        let action = format!("/console/cases/{reference}/decision");
        let done = reviewer.post(&action, &[("decision", "reassign"), ("unit_id", "U09")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let after = o.stored(&reference).await;
        assert_eq!(
            (after.case.unit_id.as_str(), after.case.notified_at, after.case.state),
            ("U09", None, CaseState::Open)
        );
        let shown = reviewer.get(&done.location).await;
        assert!(shown.body.contains("改派：U03 市城市管理行政执法局 → U09 东城街道办事处"), "{}", shown.body);

        let finding_page = reviewer.get(&format!("/console/findings/{finding}")).await;
        assert!(finding_page.body.contains(&format!("href=\"/console/cases/{reference}\"")), "{}", finding_page.body);
    }
}
