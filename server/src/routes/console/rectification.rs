//! The rectification settings page (整改设置): the loop's numbers, each
//! category's own deadline per card, and the office calendar's holidays and
//! make-up working days. Leaders read; admins save, each part on its own
//! form. Every save is checked whole by the same rules as the API
//! (`app::cases::check_settings`, `app::cases::check_category_deadlines`,
//! `OfficeCalendar::parse_import`) and written in one transaction, or not
//! at all; a refusal keeps what was typed.

use super::{ConsoleUser, Form, card_badge, flash, hidden_csrf, internal, page};
use crate::auth::Role;
use crate::db::cases::{CategoryDeadline, RectificationSettings};
use crate::error::AppError;
use crate::rectification::calendar::{CalendarDay, DayKind, ImportLineError, OfficeCalendar};
use crate::{AppState, app};
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::BTreeMap;

const PATH: &str = "/console/rectification";

/// A numeric setting: its form name (the settings field), label, unit and
/// range. The range is for the form and the message; the rule is
/// `check_settings` (a test keeps the two equal).
struct Number {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    lo: u32,
    hi: u32,
    help: &'static str,
}

const NUMBERS: &[Number] = &[
    Number {
        key: "digest_hour",
        label: "每日通知时刻",
        unit: "点",
        lo: 0,
        hi: 23,
        help: "当天立案的整改单在此时刻后统一发出，每个单位一份汇总；期限自通知起算。",
    },
    Number {
        key: "reminder_hours",
        label: "到期前提醒",
        unit: "小时",
        lo: 1,
        hi: 720,
        help: "期限前多少小时提醒单位（期限很短时不早于其一半）。",
    },
    Number {
        key: "return_window_days",
        label: "申请退回时限",
        unit: "个工作日",
        lo: 1,
        hi: 30,
        help: "通知后多少个工作日内，单位可以申请退回（不属本单位职责）。",
    },
    Number {
        key: "rework_days",
        label: "返工期限",
        unit: "个工作日",
        lo: 1,
        hi: 60,
        help: "复查未通过后重新整改的期限。",
    },
    Number {
        key: "supervise_after_failed_rechecks",
        label: "复查未通过转督办",
        unit: "次",
        lo: 1,
        hi: 10,
        help: "复查累计未通过达到此次数，整改单转督办。",
    },
    Number {
        key: "escalate_after_days",
        label: "逾期报分管领导",
        unit: "天",
        lo: 1,
        hi: 60,
        help: "逾期超过此天数，通知分管领导。",
    },
    Number {
        key: "supervise_after_overdue_days",
        label: "逾期转督办",
        unit: "天",
        lo: 1,
        hi: 365,
        help: "逾期超过此天数，整改单转督办。",
    },
    Number {
        key: "overdue_reminder_cap",
        label: "逾期每日提醒上限",
        unit: "次",
        lo: 0,
        hi: 60,
        help: "逾期后每天提醒一次，最多此次数（0：只催办一次）。",
    },
    Number {
        key: "recheck_within_days",
        label: "复查时限",
        unit: "天",
        lo: 1,
        hi: 30,
        help: "单位反馈后多少天内安排复查。",
    },
    Number {
        key: "rank_weight_rectification",
        label: "按期整改率权重",
        unit: "%",
        lo: 0,
        hi: 100,
        help: "责任单位综合得分 = 达标率 ×（100 − 此值）% + 按期整改率 × 此值 %；公式印在每期通报中。",
    },
];

fn number_value(s: &RectificationSettings, key: &str) -> u32 {
    match key {
        "digest_hour" => s.digest_hour.into(),
        "reminder_hours" => s.reminder_hours.into(),
        "return_window_days" => s.return_window_days.into(),
        "rework_days" => s.rework_days.into(),
        "supervise_after_failed_rechecks" => s.supervise_after_failed_rechecks,
        "escalate_after_days" => s.escalate_after_days.into(),
        "supervise_after_overdue_days" => s.supervise_after_overdue_days.into(),
        "overdue_reminder_cap" => s.overdue_reminder_cap.into(),
        "recheck_within_days" => s.recheck_within_days.into(),
        "rank_weight_rectification" => s.rank_weight_rectification.into(),
        _ => 0,
    }
}

const URL_RULE: &str =
    "单位门户地址须以 http:// 或 https:// 开头，不含空格，不超过 200 个字符，且须是责任单位能访问到的地址。";

/// Which form a refusal belongs to, so only that form keeps its input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Settings,
    Deadlines,
    Calendar,
}

struct Outcome<'a> {
    part: Part,
    error: Option<Markup>,
    ok: Option<String>,
    form: Option<&'a Form>,
}

pub async fn settings_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render(&state, &user, None).await
}

async fn render(state: &AppState, user: &ConsoleUser, outcome: Option<Outcome<'_>>) -> Response {
    let loaded = tokio::try_join!(
        state.db.rectification_settings(),
        state.db.category_deadlines(),
        state.db.categories(),
        state.db.calendar_days(),
        state.db.office_settings(),
    );
    let (s, deadlines, categories, days, office) = match loaded {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let admin = user.can(Role::Admin);
    // Input kept from a refused form; the stored values otherwise.
    let kept = |part: Part| outcome.as_ref().filter(|o| o.part == part && o.error.is_some()).and_then(|o| o.form);
    let settings_form = kept(Part::Settings);
    let deadline_form = kept(Part::Deadlines);
    let calendar_form = kept(Part::Calendar);
    let message = |part: Part| -> Markup {
        match outcome.as_ref().filter(|o| o.part == part) {
            Some(o) => html! {
                @if let Some(e) = &o.error { div.err { (e) } }
                (flash(None, o.ok.as_deref()))
            },
            None => html! {},
        }
    };
    let number = |n: &Number| -> String {
        match settings_form {
            Some(f) => f.get(n.key).to_owned(),
            None => number_value(&s, n.key).to_string(),
        }
    };
    let close_yellow =
        settings_form.map(|f| !f.get("close_yellow_on_evidence").is_empty()).unwrap_or(s.close_yellow_on_evidence);
    let base_url =
        settings_form.map(|f| f.get("public_base_url").to_owned()).unwrap_or_else(|| s.public_base_url.clone());
    // Categories with a deadline of their own stay listed even when
    // deactivated: the table replaces them all on save.
    let shown: Vec<_> =
        categories.iter().filter(|c| c.active || deadlines.iter().any(|d| d.category == c.code)).collect();
    let stored = |code: &str, card: Card| deadlines.iter().find(|d| d.category == code && d.card == card);
    let amount_of = |code: &str, card: Card| -> String {
        match deadline_form {
            Some(f) => f.get(&field("amount", code, card)).to_owned(),
            None => stored(code, card).map(|d| d.amount.to_string()).unwrap_or_default(),
        }
    };
    let unit_of = |code: &str, card: Card| -> String {
        match deadline_form {
            Some(f) => f.get(&field("unit", code, card)).to_owned(),
            None => stored(code, card).map(|d| d.unit.clone()).unwrap_or_else(|| "days".into()),
        }
    };
    let card_default = |card: Card| -> String {
        let d = &office.card_deadlines;
        match if card == Card::Red { d.red } else { d.yellow } {
            Some(n) => format!("{n} 个工作日"),
            None => "默认期限".into(),
        }
    };
    let mut years: BTreeMap<i16, Vec<&CalendarDay>> = BTreeMap::new();
    for d in &days {
        years.entry(d.date.year()).or_default().push(d);
    }
    let latest_year = years.keys().next_back().copied();
    let deadline_table = html! {
        div.scroll { table.stack {
            thead { tr { th { "问题类别" } th { (card_badge("red")) } th { (card_badge("yellow")) } } }
            tbody {
                @for c in &shown {
                    tr {
                        td.main data-label="问题类别" {
                            (c.name) " " span.muted { (c.code) }
                            @if !c.active { " " span.muted { "（已停用）" } }
                        }
                        @for card in [Card::Red, Card::Yellow] {
                            td data-label=(card.label_zh()) {
                                @if admin {
                                    span.num {
                                        input type="number" name=(field("amount", &c.code, card)) value=(amount_of(&c.code, card))
                                            min="0" max="744" size="4" inputmode="numeric" placeholder="默认"
                                            aria-label={ (c.name) " " (card.label_zh()) " 期限" };
                                        " "
                                        select name=(field("unit", &c.code, card)) aria-label="单位" {
                                            option value="days" selected[unit_of(&c.code, card) != "hours"] { "个工作日" }
                                            option value="hours" selected[unit_of(&c.code, card) == "hours"] { "个工作小时" }
                                        }
                                    }
                                } @else {
                                    @match stored(&c.code, card) {
                                        Some(d) => (d.rule().label_zh()),
                                        None => span.muted { "按牌色" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } }
    };
    let body = html! {
        p.muted {
            "整改闭环的规则：通知、提醒、退回、延期、返工、逾期催办与督办。各牌色的基本期限在"
            a href="/console/settings" { "“设置”" } "页；这里可为问题类别另定期限，并维护节假日与调休。"
        }
        h2 #settings { "整改规则" }
        (message(Part::Settings))
        @if admin {
            form.box.settings method="post" action={ (PATH) "#settings" } {
                (hidden_csrf(user))
                @for n in NUMBERS {
                    label {
                        span { (n.label) }
                        span.num {
                            input type="number" name=(n.key) value=(number(n)) min=(n.lo) max=(n.hi) required inputmode="numeric";
                            " " (n.unit)
                        }
                        small.muted { (n.help) }
                    }
                }
                label.check {
                    input type="checkbox" name="close_yellow_on_evidence" value="1" checked[close_yellow];
                    "允许黄牌凭单位反馈材料销号（红牌始终须实地复查）"
                }
                label.wide {
                    span { "单位门户地址" }
                    input type="url" name="public_base_url" value=(base_url) required maxlength="200" style="width:100%";
                    small.muted { "通知中的链接以此开头，如 https://dc.example.gov.cn" }
                }
                div { button { "保存整改规则" } }
            }
        } @else {
            div.box { dl.wide {
                @for n in NUMBERS { dt { (n.label) } dd { (number_value(&s, n.key)) " " (n.unit) } }
                dt { "黄牌凭材料销号" } dd { (if s.close_yellow_on_evidence { "允许" } else { "不允许（须实地复查）" }) }
                dt { "单位门户地址" } dd { code { (s.public_base_url) } }
            } }
        }
        h2 #deadlines { "问题类别整改期限" }
        (message(Part::Deadlines))
        p.muted {
            "留空则按牌色的基本期限（红牌 " (card_default(Card::Red)) "，黄牌 " (card_default(Card::Yellow)) "）。"
            "工作日期限到当天 24:00 截止；工作小时只计 8:30–17:30。期限自通知起算，跳过节假日，计入调休上班日。"
        }
        @if shown.is_empty() { p.box.muted { "尚无问题类别。" } }
        @if !shown.is_empty() && admin {
            form method="post" action={ (PATH) "/deadlines#deadlines" } {
                (hidden_csrf(user))
                (deadline_table)
                p { button { "保存类别期限" } }
            }
        } @else if !shown.is_empty() {
            (deadline_table)
        }
        h2 #calendar { "工作日历（节假日与调休）" }
        p.muted { "周一至周五为工作日，周六、周日休息；这里只列与此不同的日期。" }
        @if years.is_empty() { p.box.muted { "尚未导入任何日期：期限只跳过周末。" } }
        @for (year, list) in years.iter().rev() {
            details.box open[Some(*year) == latest_year] {
                summary {
                    b { (year) " 年" } " "
                    span.muted {
                        "放假 " (list.iter().filter(|d| d.kind == DayKind::Holiday).count()) " 天，调休上班 "
                        (list.iter().filter(|d| d.kind == DayKind::Workday).count()) " 天"
                    }
                }
                div.scroll { table.stack {
                    thead { tr { th { "日期" } th { "星期" } th { "类型" } th { "说明" } } }
                    tbody {
                        @for d in list {
                            tr {
                                td.main data-label="日期" { (d.date) }
                                td data-label="星期" { (weekday_zh(d.date)) }
                                td data-label="类型" {
                                    @match d.kind {
                                        DayKind::Holiday => span.holiday { "休" },
                                        DayKind::Workday => span.workday { "班" },
                                    }
                                }
                                td.empty[d.note.is_empty()] data-label="说明" { (d.note) }
                            }
                        }
                    }
                } }
            }
        }
        @if admin {
            // The answer scrolls back to this form (the fragment), where the
            // outcome is shown.
            form.box #import method="post" action={ (PATH) "/calendar#import" } style="display:flex;flex-direction:column;gap:.5rem" {
                (hidden_csrf(user))
                (message(Part::Calendar))
                b { "导入一年的节假日与调休" }
                span.muted {
                    "每行一个日期：" code { "日期,休或班[,说明]" } "，如 " code { "2026-10-01,休,国庆节" } "、"
                    code { "2026-10-10,班,国庆调休" } "。空行和以 # 开头的行忽略。"
                    "导入会替换所含年份的全部日期，其他年份不变；有任何一行错误则整批不导入，并列出所有错误行。"
                }
                input type="file" accept=".csv,.txt,text/plain,text/csv" onchange=(super::reference::READ_CSV_FILE);
                textarea name="csv" rows="8" required style="width:100%;font-family:monospace" placeholder="2026-10-01,休,国庆节" {
                    (calendar_form.map(|f| f.raw("csv")).unwrap_or_default())
                }
                div { button { "导入" } }
            }
        }
    };
    let status = match outcome.as_ref() {
        Some(Outcome { error: Some(_), .. }) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    (status, page(user, PATH, "整改设置", body)).into_response()
}

fn weekday_zh(d: jiff::civil::Date) -> &'static str {
    ["周一", "周二", "周三", "周四", "周五", "周六", "周日"][d.weekday().to_monday_zero_offset() as usize]
}

/// The form field of a category's deadline part (`amount.parking.red`).
fn field(part: &str, code: &str, card: Card) -> String {
    format!("{part}.{code}.{}", card.as_str())
}

fn refused(message: String) -> Markup {
    html! { (message) }
}

// ---------------------------------------------------------------- settings

/// The Chinese for a refused setting: what the field must be.
fn setting_error_zh(field: Option<&str>, e: Option<&AppError>) -> String {
    if let Some(n) = field.and_then(|f| NUMBERS.iter().find(|n| n.key == f)) {
        return format!(
            "{}：{}须为 {} 至 {} 之间的整数（单位：{}）。",
            ErrorCode::Invalid.zh(),
            n.label,
            n.lo,
            n.hi,
            n.unit
        );
    }
    match e {
        Some(e) if e.code() == ErrorCode::TextControlCharacter => {
            format!("{}（单位门户地址）。", e.code().zh())
        }
        Some(e) if field == Some("public_base_url") => format!("{}：{URL_RULE}", e.code().zh()),
        Some(e) => super::refusal_zh(e),
        None => format!("{}。", ErrorCode::Invalid.zh()),
    }
}

/// The form's settings, every number whole and in its type; the first field
/// that is not is named.
fn parse_settings(form: &Form) -> Result<RectificationSettings, &'static str> {
    fn num<T: TryFrom<u32>>(form: &Form, key: &'static str) -> Result<T, &'static str> {
        form.get(key).parse::<u32>().ok().and_then(|v| T::try_from(v).ok()).ok_or(key)
    }
    Ok(RectificationSettings {
        digest_hour: num(form, "digest_hour")?,
        reminder_hours: num(form, "reminder_hours")?,
        return_window_days: num(form, "return_window_days")?,
        rework_days: num(form, "rework_days")?,
        close_yellow_on_evidence: !form.get("close_yellow_on_evidence").is_empty(),
        supervise_after_failed_rechecks: num(form, "supervise_after_failed_rechecks")?,
        escalate_after_days: num(form, "escalate_after_days")?,
        supervise_after_overdue_days: num(form, "supervise_after_overdue_days")?,
        overdue_reminder_cap: num(form, "overdue_reminder_cap")?,
        recheck_within_days: num(form, "recheck_within_days")?,
        public_base_url: form.get("public_base_url").to_owned(),
        rank_weight_rectification: num(form, "rank_weight_rectification")?,
    })
}

pub async fn save_settings(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let fail = |message: String| Outcome {
        part: Part::Settings,
        error: Some(refused(format!("未保存：{message}"))),
        ok: None,
        form: Some(&form),
    };
    let s = match parse_settings(&form) {
        Ok(s) => s,
        Err(field) => return render(&state, &user, Some(fail(setting_error_zh(Some(field), None)))).await,
    };
    if let Err(e) = app::cases::check_settings(&s) {
        return render(&state, &user, Some(fail(setting_error_zh(e.field(), Some(&e))))).await;
    }
    match state.db.put_rectification_settings(s).await {
        Ok(()) => {
            let ok =
                Outcome { part: Part::Settings, error: None, ok: Some("整改规则已保存。".into()), form: None };
            render(&state, &user, Some(ok)).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- deadlines

pub async fn save_deadlines(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let categories = match state.db.categories().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let fail = |message: String| Outcome {
        part: Part::Deadlines,
        error: Some(refused(format!("未保存：{message}"))),
        ok: None,
        form: Some(&form),
    };
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for c in &categories {
        for card in [Card::Red, Card::Yellow] {
            let amount = form.get(&field("amount", &c.code, card));
            if amount.is_empty() {
                continue;
            }
            let unit = match form.get(&field("unit", &c.code, card)) {
                "hours" => "hours",
                _ => "days",
            };
            match amount.parse::<u16>() {
                Ok(amount) => {
                    items.push(CategoryDeadline { category: c.code.clone(), card, unit: unit.to_owned(), amount })
                }
                Err(_) => bad.push(format!("{} {}：“{amount}”不是整数", c.name, card.label_zh())),
            }
        }
    }
    // Every unreadable cell at once, like an import: nothing is saved.
    if !bad.is_empty() {
        let message = format!("{}：{}。", ErrorCode::DeadlineInvalid.zh(), bad.join("；"));
        return render(&state, &user, Some(fail(message))).await;
    }
    if let Err(e) = app::cases::check_category_deadlines(&categories, &items) {
        let message = match e.code() {
            ErrorCode::DeadlineInvalid => {
                "类别期限须为 0 至 365 个工作日（0 为通知当天），或 1 至 744 个工作小时；留空按牌色期限。".to_owned()
            }
            _ => super::refusal_zh(&e),
        };
        return render(&state, &user, Some(fail(message))).await;
    }
    match state.db.put_category_deadlines(items).await {
        Ok(()) => {
            let ok =
                Outcome {
                    part: Part::Deadlines, error: None, ok: Some("问题类别整改期限已保存。".into()), form: None
                };
            render(&state, &user, Some(ok)).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- calendar

/// One refused import line in Chinese. The parser's message is English;
/// the line is split the parser's way again to say which part is wrong.
fn import_line_zh(text: &str, e: &ImportLineError) -> String {
    let raw = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("").trim().trim_start_matches('\u{feff}');
    let mut fields = raw.splitn(3, [',', '，']).map(str::trim);
    let (date, kind) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let why = if date.parse::<jiff::civil::Date>().is_err() {
        format!("日期“{date}”无效，应为 2026-10-01 这样的格式")
    } else if !matches!(kind, "休" | "班" | "holiday" | "workday") {
        format!("类型“{kind}”无效，应为“休”（放假）或“班”（调休上班）")
    } else {
        "说明超过 32 个字，或含有控制字符".to_owned()
    };
    format!("第 {} 行：{why}", e.line)
}

pub async fn import_calendar(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let text = form.raw("csv");
    let fail = |error: Markup| Outcome { part: Part::Calendar, error: Some(error), ok: None, form: Some(&form) };
    let days = match OfficeCalendar::parse_import(&text) {
        Ok(days) if days.is_empty() => {
            let error = html! { "未导入：" (ErrorCode::CalendarImportInvalid.zh()) "。没有任何日期。" };
            return render(&state, &user, Some(fail(error))).await;
        }
        Ok(days) => days,
        Err(errors) => {
            let error = html! {
                "未导入任何日期：" (ErrorCode::CalendarImportInvalid.zh()) "。共 " (errors.len()) " 行有误："
                ul { @for e in &errors { li { (import_line_zh(&text, e)) } } }
            };
            return render(&state, &user, Some(fail(error))).await;
        }
    };
    let years: std::collections::BTreeSet<i16> = days.iter().map(|d| d.date.year()).collect();
    let years: Vec<String> = years.iter().map(|y| format!("{y} 年")).collect();
    match state.db.import_calendar(days).await {
        Ok(n) => {
            let ok = format!("已导入 {n} 个日期，{}的日历已替换。", years.join("、"));
            render(&state, &user, Some(Outcome { part: Part::Calendar, error: None, ok: Some(ok), form: None })).await
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::tests::office;
    use super::*;

    /// The form's ranges are the rule's: each bound is accepted by
    /// `check_settings`, one past it refused with that field.
    #[tokio::test]
    async fn each_numbers_range_is_the_one_check_settings_enforces() {
        let o = office().await;
        let base = o.state.db.rectification_settings().await.unwrap();
        let with = |key: &str, v: u32| {
            let mut fields: std::collections::HashMap<String, String> =
                NUMBERS.iter().map(|n| (n.key.to_owned(), number_value(&base, n.key).to_string())).collect();
            fields.insert(key.to_owned(), v.to_string());
            fields.insert("public_base_url".into(), base.public_base_url.clone());
            parse_settings(&Form(fields))
        };
        for n in NUMBERS {
            for ok in [n.lo, n.hi] {
                let s = with(n.key, ok).unwrap_or_else(|_| panic!("{} = {ok} parses", n.key));
                assert!(app::cases::check_settings(&s).is_ok(), "{} = {ok} is allowed", n.key);
            }
            let mut outside = vec![n.hi + 1];
            if n.lo > 0 {
                outside.push(n.lo - 1);
            }
            for bad in outside {
                let refused = match with(n.key, bad) {
                    Err(field) => Some(field),
                    Ok(s) => app::cases::check_settings(&s).err().and_then(|e| e.field()),
                };
                assert_eq!(refused, Some(n.key), "{} = {bad} is refused, naming the field", n.key);
            }
        }
    }

    #[tokio::test]
    async fn bad_settings_are_refused_in_chinese_with_the_input_kept_and_nothing_saved() {
        let o = office().await;
        let before = o.state.db.rectification_settings().await.unwrap();
        let admin = o.session(&o.admin).await;
        let page = admin.get(PATH).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("name=\"digest_hour\" value=\"18\""), "{}", page.body);

        let mut fields: Vec<(String, String)> =
            NUMBERS.iter().map(|n| (n.key.to_owned(), number_value(&before, n.key).to_string())).collect();
        fields.push(("public_base_url".into(), "https://dc.example.gov.cn".into()));
        fields.push(("close_yellow_on_evidence".into(), "1".into()));
        let set = |key: &str, v: &str| -> Vec<(String, String)> {
            fields.iter().map(|(k, old)| (k.clone(), if k == key { v.to_owned() } else { old.clone() })).collect()
        };
        let post = |fields: Vec<(String, String)>| {
            let admin = &admin;
            async move {
                let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post(PATH, &refs).await
            }
        };
        let late = post(set("digest_hour", "24")).await;
        assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(late.body.contains("每日通知时刻须为 0 至 23 之间的整数"), "{}", late.body);
        assert!(late.body.contains("name=\"digest_hour\" value=\"24\""), "kept: {}", late.body);
        assert!(late.body.contains("value=\"https://dc.example.gov.cn\""), "the rest kept too");
        let words = post(set("rework_days", "三")).await;
        assert!(words.body.contains("返工期限须为 1 至 60 之间的整数"), "{}", words.body);
        let url = post(set("public_base_url", "dc.example.gov.cn")).await;
        assert_eq!(url.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(url.body.contains(URL_RULE), "{}", url.body);
        assert_eq!(o.state.db.rectification_settings().await.unwrap(), before, "nothing was saved");

        let saved = post(set("digest_hour", "17")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        assert!(saved.body.contains("整改规则已保存"));
        let after = o.state.db.rectification_settings().await.unwrap();
        assert_eq!((after.digest_hour, after.close_yellow_on_evidence), (17, true));
        assert_eq!(after.public_base_url, "https://dc.example.gov.cn");

        // A leader reads the rules without a form; a forged post is refused.
        let leader = o.session(&o.leader).await;
        let read = leader.get(PATH).await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(!read.body.contains("method=\"post\" action=\"/console/rectification"), "{}", read.body);
        assert!(read.body.contains("https://dc.example.gov.cn"));
        let forged = leader.post(PATH, &[("digest_hour", "3")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(o.state.db.rectification_settings().await.unwrap().digest_hour, 17);

        // The ranking weights: the rectification share and its complement,
        // the two keys the bulletin's ranking reads.
        let weighted = post(set("rank_weight_rectification", "45")).await;
        assert_eq!(weighted.status, StatusCode::OK, "{}", weighted.body);
        let keys: Vec<(String, String)> = o
            .state
            .db
            .write_blocking(|c| {
                Ok(c.prepare("SELECT key, value FROM office_settings WHERE key LIKE 'rank_weight_%' ORDER BY key")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?)
            })
            .unwrap();
        assert_eq!(
            keys,
            [("rank_weight_compliance".into(), "55".into()), ("rank_weight_rectification".into(), "45".into())]
        );
    }

    #[tokio::test]
    async fn category_deadlines_are_saved_whole_or_not_at_all() {
        let o = office().await;
        let admin = o.session(&o.admin).await;
        let to = format!("{PATH}/deadlines");
        let bad = admin
            .post(&to, &[("amount.parking.red", "4"), ("unit.parking.red", "hours"), ("amount.parking.yellow", "三天")])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains("“三天”不是整数") && bad.body.contains(ErrorCode::DeadlineInvalid.zh()),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("value=\"三天\""), "kept");
        let too_long = admin.post(&to, &[("amount.parking.red", "400")]).await;
        assert!(too_long.body.contains("0 至 365 个工作日"), "{}", too_long.body);
        assert!(o.state.db.category_deadlines().await.unwrap().is_empty(), "nothing saved");

        let ok = admin.post(&to, &[("amount.parking.red", "4"), ("unit.parking.red", "hours")]).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        let saved = o.state.db.category_deadlines().await.unwrap();
        assert_eq!(saved.len(), 1);
        assert_eq!(
            (saved[0].category.as_str(), saved[0].card, saved[0].rule().label_zh()),
            ("parking", Card::Red, "4个工作小时".into())
        );
        let leader = o.session(&o.leader).await;
        assert!(leader.get(PATH).await.body.contains("4个工作小时"));
    }

    #[tokio::test]
    async fn a_calendar_import_with_two_bad_lines_reports_both_and_imports_nothing() {
        let o = office().await;
        let admin = o.session(&o.admin).await;
        let to = format!("{PATH}/calendar");
        let text = "# 2026 国庆\n2026-10-01,休,国庆节\n2026-13-01,休\n2026-10-10,放假\n2026-10-02,休\n";
        let bad = admin.post(&to, &[("csv", text)]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains(ErrorCode::CalendarImportInvalid.zh()), "{}", bad.body);
        assert!(bad.body.contains("第 3 行：日期“2026-13-01”无效"), "{}", bad.body);
        assert!(bad.body.contains("第 4 行：类型“放假”无效"), "{}", bad.body);
        assert!(bad.body.contains("共 2 行有误"), "{}", bad.body);
        assert!(bad.body.contains("2026-10-10,放假"), "the text is kept to fix");
        assert!(o.state.db.calendar_days().await.unwrap().is_empty(), "nothing imported");
        let empty = admin.post(&to, &[("csv", "# 只有注释\n")]).await;
        assert!(empty.body.contains("没有任何日期"), "{}", empty.body);

        let good = "2026-10-01,休,国庆节\n2026-10-10,班,国庆调休\n";
        let ok = admin.post(&to, &[("csv", good)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert!(ok.body.contains("已导入 2 个日期，2026 年的日历已替换"), "{}", ok.body);
        assert_eq!(o.state.db.calendar_days().await.unwrap().len(), 2);
        let leader = o.session(&o.leader).await;
        let read = leader.get(PATH).await;
        assert!(
            read.body.contains("2026-10-10") && read.body.contains("周六") && read.body.contains("国庆调休"),
            "{}",
            read.body
        );
        assert!(!read.body.contains("name=\"csv\""), "no import form for a leader");
    }
}
