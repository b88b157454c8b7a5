//! The console's league page (月评排名): a month's rankings, ten worst and
//! best, movement, consequences and the rule text (leaders read); issuing a
//! month that is over (reviewers and admins); the consequence history; and
//! the rule-set versions with a form for a new one (admins), whose bad
//! input is refused with the reason. The same service as the API
//! (`app::league`); the report body is `routes::league::report`.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, page, refusal_zh};
use crate::AppState;
use crate::app::league as ops;
use crate::auth::Role;
use crate::error::AppError;
use crate::league::{Band, BandRule, CardKind, RuleSet, Source, Tenths};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::{BTreeMap, HashMap};

/// The month the page opens on: the one before the current (the newest
/// that can be issued).
fn default_month(state: &AppState) -> String {
    let now = state.clock.now();
    let current = ops::current_month(&state.config.timezone, now);
    ops::parse_month(&current)
        .ok()
        .and_then(|d| d.checked_sub(jiff::Span::new().months(1)).ok())
        .map(ops::month_name)
        .unwrap_or(current)
}

pub async fn league_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let month = q.get("month").cloned().unwrap_or_else(|| default_month(&state));
    render(&state, &user, &month, None, None).await
}

async fn render(state: &AppState, user: &ConsoleUser, month: &str, error: Option<&str>, ok: Option<&str>) -> Response {
    let view = match ops::month(&state.db, &state.config.timezone, month).await {
        Ok(v) => Some(v),
        Err(e) if e.status().is_client_error() => {
            let m = refusal_zh(&e);
            let body = html! { (flash(Some(&m), None)) (month_form(&default_month(state))) };
            return page(user, "/console/league", "月评排名", body).into_response();
        }
        Err(e) => return internal(e),
    };
    let history = match state.db.league_consequence_history().await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let sets = if user.can(Role::Admin) {
        match ops::rule_sets(&state.db).await {
            Ok(s) => s,
            Err(e) => return internal(e),
        }
    } else {
        Vec::new()
    };
    let public = match state.db.league_public().await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    let Some(view) = view else { return internal(AppError::internal("no league view")) };
    let name = view.result.month.clone();
    let body = html! {
        (flash(error, ok))
        div.box {
            (month_form(&name))
            p {
                a href=(format!("/api/v1/league/{name}/league.html")) { "报告（HTML，可打印）" } " · "
                a href=(format!("/api/v1/league/{name}/league.docx")) { "报告（Word）" } " · "
                a href=(format!("/api/v1/league/{name}/league.json")) { "报告（JSON）" }
            }
            @if view.issued.is_none() && user.can(Role::Reviewer) {
                form method="post" action="/console/league/issue" {
                    (hidden_csrf(user))
                    input type="hidden" name="month" value=(name);
                    p.muted { "发布后结果固定，哈希记入证据日志，不能再次发布；只能发布已结束的月份。" }
                    button { "发布 " (name) " 月评排名" }
                }
            }
        }
        div.box { (super::super::league::report(&view)) }
        div.box {
            h2 { "奖惩兑现记录" }
            @if history.is_empty() {
                p.muted { "尚无已发布月份的奖惩。" }
            } @else {
                table {
                    thead { tr { th { "月份" } th { "责任单位" } th { "名次" } th { "奖惩" } } }
                    tbody { @for h in &history { tr { td { (h.month) } td { (h.unit_name) } td { (h.rank) } td { (h.consequence) } } } }
                }
            }
        }
        div.box {
            h2 { "向社会公开" }
            @if public {
                p { "已公开：已发布的月份显示在曝光台的“月评排名”页（" a href="/public/league/" { "/public/league/" } "）。" }
            } @else {
                p.muted { "未公开：曝光台不显示月评排名。" }
            }
            @if user.can(Role::Admin) {
                form method="post" action="/console/league/settings" {
                    (hidden_csrf(user))
                    label.check { input type="checkbox" name="public" value="1" checked[public]; "在曝光台公开已发布的月评排名" }
                    button { "保存" }
                }
            }
        }
        @if user.can(Role::Admin) {
            div.box {
                h2 { "评分规则版本" }
                @if sets.is_empty() { p.muted { "尚未保存规则，使用默认规则（第 1 版）。" } }
                @for s in &sets { p { "第 " (s.version) " 版，自 " (s.effective_from) " 起：" (s.rules.text_zh()) } }
                (rules_form(user, sets.last().map(|s| &s.rules).unwrap_or(&RuleSet::default()), &next_month(&name)))
            }
        }
    };
    page(user, "/console/league", "月评排名", body).into_response()
}

fn next_month(month: &str) -> String {
    ops::parse_month(month)
        .ok()
        .and_then(|d| d.checked_add(jiff::Span::new().months(1)).ok())
        .map(ops::month_name)
        .unwrap_or_else(|| month.to_owned())
}

fn month_form(month: &str) -> maud::Markup {
    html! {
        form method="get" action="/console/league" class="filters" {
            label { "月份" input type="month" name="month" value=(month) required; }
            button { "查看" }
        }
    }
}

const DEDUCTIONS: [(&str, Source, CardKind, &str); 6] = [
    ("city_red", Source::City, CardKind::Red, "市级发现红牌扣分"),
    ("city_yellow", Source::City, CardKind::Yellow, "市级发现黄牌扣分"),
    ("district_red", Source::District, CardKind::Red, "区级发现红牌扣分"),
    ("district_yellow", Source::District, CardKind::Yellow, "区级发现黄牌扣分"),
    ("third_party_red", Source::ThirdParty, CardKind::Red, "第三方发现红牌扣分"),
    ("third_party_yellow", Source::ThirdParty, CardKind::Yellow, "第三方发现黄牌扣分"),
];

fn band_line(b: &Band) -> String {
    match b.applies {
        BandRule::BottomInARow { months } => format!("连续末位 {months} {}", b.consequence),
        BandRule::Bottom { n } => format!("末位 {n} {}", b.consequence),
        BandRule::Top { n } => format!("前列 {n} {}", b.consequence),
    }
}

fn rules_form(user: &ConsoleUser, r: &RuleSet, from: &str) -> maud::Markup {
    let amount = |t: Option<&Tenths>| t.map(|t| t.to_string()).unwrap_or_default();
    html! {
        h3 { "新增规则版本" }
        p.muted { "分值可有一位小数，扣分写为正数。奖惩档次每行一条：“末位 N 措施”“连续末位 N 措施”（连续 N 个月末位）或“前列 N 措施”，按顺序先适用者优先。已发布的月份按原规则评分，新规则须从之后的月份生效。" }
        form method="post" action="/console/league/rules" {
            (hidden_csrf(user))
            label { "生效月份" input type="month" name="effective_from" value=(from) required; }
            label { "基础分" input name="start" value=(r.start) required; }
            @for (key, s, c, label) in DEDUCTIONS {
                label { (label) input name=(key) value=(amount(r.deduction.get(&(s, c)))); }
            }
            label { "按期整改扣分比例（%）" input name="on_time_percent" value=(r.on_time_percent) required; }
            label { "每个逾期未整改问题扣分" input name="per_overdue_case" value=(r.per_overdue_case) required; }
            label { "每次检查达标加分" input name="per_clean_inspection" value=(r.per_clean_inspection) required; }
            label { "奖惩档次" textarea name="bands" rows="4" { (r.bands.iter().map(band_line).collect::<Vec<_>>().join("\n")) } }
            button { "保存为新版本" }
        }
    }
}

/// "2", "1.5", "-2" as tenths; `None` for anything else.
fn parse_tenths(text: &str) -> Option<Tenths> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, "0"));
    if whole.is_empty() || whole.len() > 6 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() != 1 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v = whole.parse::<i64>().ok()? * 10 + frac.parse::<i64>().ok()?;
    Some(Tenths(if neg { -v } else { v }))
}

/// The form as a rule set, or the reason (in Chinese) it is not one.
/// Range rules are `RuleSet::validate`'s: an empty deduction stays missing.
fn parse_rules(form: &Form) -> Result<RuleSet, String> {
    let amount = |key: &str, label: &str| {
        parse_tenths(form.get(key)).ok_or_else(|| format!("{label}须为数字，最多一位小数（现为“{}”）", form.get(key)))
    };
    let mut deduction = BTreeMap::new();
    for (key, s, c, label) in DEDUCTIONS {
        if !form.get(key).is_empty() {
            deduction.insert((s, c), amount(key, label)?);
        }
    }
    let on_time_percent = form
        .get("on_time_percent")
        .parse::<u32>()
        .map_err(|_| format!("按期整改扣分比例须为 0 至 100 的整数（现为“{}”）", form.get("on_time_percent")))?;
    let mut bands = Vec::new();
    for (i, line) in form.get("bands").lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
        let bad =
            || format!("第 {} 条奖惩档次“{line}”无法识别：应为“末位 N 措施”“连续末位 N 措施”或“前列 N 措施”", i + 1);
        let mut parts = line.splitn(3, char::is_whitespace);
        let (kind, n, consequence) =
            (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let n: usize = n.parse().map_err(|_| bad())?;
        let applies = match kind {
            "末位" => BandRule::Bottom { n },
            "连续末位" => BandRule::BottomInARow { months: n },
            "前列" => BandRule::Top { n },
            _ => return Err(bad()),
        };
        bands.push(Band { applies, consequence: consequence.trim().to_owned() });
    }
    Ok(RuleSet {
        version: 0,
        start: amount("start", "基础分")?,
        deduction,
        on_time_percent,
        per_overdue_case: amount("per_overdue_case", "每个逾期未整改问题扣分")?,
        per_clean_inspection: amount("per_clean_inspection", "每次检查达标加分")?,
        bands,
    })
}

pub async fn save_rules(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let month = default_month(&state);
    let rules = match parse_rules(&form) {
        Ok(r) => r,
        Err(m) => return refused(&state, &user, &month, &m).await,
    };
    if let Err(e) = rules.validate() {
        return refused(&state, &user, &month, &format!("规则未保存：{}", e.zh())).await;
    }
    let req = ops::RulesRequest { effective_from: form.get("effective_from").to_owned(), rules };
    match ops::add_rules(&state.db, &user.caller, req, state.clock.now()).await {
        Ok(s) => {
            let ok = format!("已保存第 {} 版规则，自 {} 起生效。", s.version, s.effective_from);
            render(&state, &user, &month, None, Some(&ok)).await
        }
        Err(e) if e.status().is_client_error() => refused(&state, &user, &month, &refusal_zh(&e)).await,
        Err(e) => internal(e),
    }
}

async fn refused(state: &AppState, user: &ConsoleUser, month: &str, message: &str) -> Response {
    let mut res = render(state, user, month, Some(message), None).await;
    if res.status().is_success() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    res
}

pub async fn save_settings(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let on = form.get("public") == "1";
    match state.db.set_league_public(on).await {
        Ok(()) => {
            let ok = if on {
                "已在曝光台公开已发布的月评排名。"
            } else {
                "曝光台不再显示月评排名。"
            };
            render(&state, &user, &default_month(&state), None, Some(ok)).await
        }
        Err(e) => internal(e),
    }
}

pub async fn issue(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let month = form.get("month").to_owned();
    match ops::issue(&state.db, &state.config.timezone, &user.caller, &month, state.clock.now()).await {
        Ok(i) => {
            let ok = format!(
                "已发布 {} 月评排名{}，结果哈希 {}。",
                i.month,
                i.number.as_deref().map(|n| format!("（{n}）")).unwrap_or_default(),
                i.result_hash
            );
            render(&state, &user, &i.month, None, Some(&ok)).await
        }
        Err(e) if e.status().is_client_error() => {
            let mut res = render(&state, &user, &month, Some(&refusal_zh(&e)), None).await;
            if res.status().is_success() {
                *res.status_mut() = e.status();
            }
            res
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::cases::tests::office;
    use super::parse_tenths;
    use crate::league::Tenths;
    use axum::http::StatusCode;

    fn rules_form(change: (&str, &str)) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = [
            ("effective_from", "2099-01"),
            ("start", "100"),
            ("city_red", "2"),
            ("city_yellow", "2"),
            ("district_red", "1"),
            ("district_yellow", "1"),
            ("third_party_red", "1"),
            ("third_party_yellow", "1"),
            ("on_time_percent", "50"),
            ("per_overdue_case", "2"),
            ("per_clean_inspection", "2"),
            ("bands", "连续末位 3 红牌警告并约谈\n末位 1 黄牌警告\n前列 1 通报表扬"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in f.iter_mut() {
            if k == change.0 {
                *v = change.1.to_owned();
            }
        }
        f
    }

    #[tokio::test]
    async fn leaders_read_reviewers_issue_and_admins_are_told_why_bad_rules_are_refused() {
        let o = office().await;
        let leader = o.session(&o.leader).await;
        let page = leader.get("/console/league?month=2026-11").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("2026年11月点位达标月评排名") && page.body.contains("十差单位"), "{}", page.body);
        assert!(page.body.contains("按期整改的问题按 50% 扣分"), "the rule text is printed");
        assert!(!page.body.contains("新增规则版本") && !page.body.contains("/console/league/issue"));

        let reviewer = o.session(&o.reviewer).await;
        let month = crate::app::league::current_month(&o.state.config.timezone, o.state.clock.now());
        let early = reviewer.post("/console/league/issue", &[("month", month.as_str())]).await;
        assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(early.body.contains("该月尚未结束"), "{}", early.body);

        let admin = o.session(&o.admin).await;
        let post = |f: Vec<(String, String)>| {
            let admin = &admin;
            async move {
                let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post("/console/league/rules", &refs).await
            }
        };
        for (change, reason) in [
            (("per_overdue_case", "-2"), "须为非负数"),
            (("district_red", ""), "未设置区级督查发现红牌的扣分"),
            (("bands", "末位 0 黄牌警告"), "第 1 个奖惩档次不适用于任何单位"),
            (("bands", "倒数 x 黄牌"), "无法识别"),
            (("start", "abc"), "基础分须为数字"),
        ] {
            let refused = post(rules_form(change)).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{change:?}");
            assert!(refused.body.contains(reason), "{change:?}: {}", refused.body);
        }
        assert!(crate::app::league::rule_sets(&o.state.db).await.unwrap().is_empty(), "nothing refused was saved");
        let saved = post(rules_form(("per_overdue_case", "2.5"))).await;
        assert_eq!(saved.status, StatusCode::OK);
        assert!(saved.body.contains("已保存第 2 版规则"), "{}", saved.body);
        let sets = crate::app::league::rule_sets(&o.state.db).await.unwrap();
        assert_eq!((sets.len(), sets[0].rules.per_overdue_case, sets[0].rules.bands.len()), (1, Tenths(25), 3));

        // 向社会公开: a leader reads the state but gets no form and may not
        // post; an admin turns it on and off.
        assert!(page.body.contains("未公开") && !page.body.contains("/console/league/settings"), "{}", page.body);
        let refused = leader.post("/console/league/settings", &[("public", "1")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!o.state.db.league_public().await.unwrap());
        let on = admin.post("/console/league/settings", &[("public", "1")]).await;
        assert_eq!(on.status, StatusCode::OK);
        assert!(on.body.contains("已在曝光台公开") && on.body.contains("/public/league/"), "{}", on.body);
        assert!(o.state.db.league_public().await.unwrap());
        let off = admin.post("/console/league/settings", &[]).await;
        assert_eq!(off.status, StatusCode::OK);
        assert!(!o.state.db.league_public().await.unwrap(), "an unticked box turns it off");
    }

    #[test]
    fn amounts_are_read_in_tenths_and_anything_else_is_refused() {
        assert_eq!(parse_tenths("2"), Some(Tenths(20)));
        assert_eq!(parse_tenths("1.5"), Some(Tenths(15)));
        assert_eq!(parse_tenths("-2"), Some(Tenths(-20)));
        for bad in ["", "1.25", "abc", "1e3", ".5", "--1"] {
            assert_eq!(parse_tenths(bad), None, "{bad:?}");
        }
    }
}
