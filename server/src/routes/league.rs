//! Routes for the monthly point league: a month (issued or computed live),
//! issuing it, recomputing an issued month, the report as HTML and JSON,
//! and the rule-set versions. Thin: parse, call `app::league`, answer.
//! Leaders read; reviewers and admins issue; admins add rule sets.
//!
//! The report (also the console page's body, [`report`]) shows points,
//! units, scores, ranks and consequences of a month: no alias, device or
//! time finer than the month.

use crate::app::league::{self as ops, GroupLine, LeagueResult, LeagueView, UnitLine};
use crate::auth::OfficeCaller;
use crate::bulletin::league_chart;
use crate::error::{AppError, parse_json};
use crate::{AppState, app};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Value, json};

fn links(month: &str) -> Value {
    let base = format!("/api/v1/league/{month}");
    json!({
        "self": base,
        "html": format!("{base}/league.html"),
        "json": format!("{base}/league.json"),
        "docx": format!("{base}/league.docx"),
        "issue": format!("{base}/issue"),
        "reproduce": format!("{base}/reproduce"),
    })
}

fn view_json(v: &LeagueView) -> Result<Value, AppError> {
    let mut out = serde_json::to_value(v).map_err(AppError::internal)?;
    out["links"] = links(&v.result.month);
    Ok(out)
}

pub async fn get(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Json<Value>, AppError> {
    let v = ops::month(&state.db, &state.config.timezone, &month).await?;
    Ok(Json(view_json(&v)?))
}

pub async fn issue(
    State(state): State<AppState>,
    caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Json<crate::db::league::IssuedMonth>, AppError> {
    let tz = &state.config.timezone;
    Ok(Json(ops::issue(&state.db, tz, &caller, &month, state.clock.now()).await?))
}

pub async fn reproduce(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Json<ops::Reproduced>, AppError> {
    Ok(Json(ops::reproduce(&state.db, &state.config.timezone, &month).await?))
}

fn file_name(month: &str, ext: &str) -> String {
    format!("league-{month}.{ext}")
}

/// The result as JSON: for an issued month, the stored bytes whose SHA-256
/// is its `result_hash`.
pub async fn json(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Response, AppError> {
    let v = ops::month(&state.db, &state.config.timezone, &month).await?;
    let text = match &v.issued {
        Some(i) => i.result.clone(),
        None => ops::canonical(&v.result)?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", file_name(&v.result.month, "json"))),
        ],
        text,
    )
        .into_response())
}

pub async fn report_html(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Response, AppError> {
    let v = ops::month(&state.db, &state.config.timezone, &month).await?;
    let page = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title(&v.result)) }
                style { (STYLE) }
            }
            body { main { (report(&v)) } }
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", file_name(&v.result.month, "html"))),
            (header::CACHE_CONTROL, "private, no-cache".to_owned()),
        ],
        crate::html::xml_chars_only(page.into_string()),
    )
        .into_response())
}

const STYLE: &str = "body{font-family:'FangSong','仿宋',serif;max-width:60em;margin:1em auto;padding:0 1em}\
h1{font-family:'SimHei','黑体',sans-serif;text-align:center;color:#c00}\
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #999;padding:.2em .4em;text-align:left}\
.muted{color:#666}.up{color:#070}.down{color:#c00}.number{text-align:center}\
figure.chart{margin:.5em 0}table{font-size:15px}@media (max-width:480px){th,td{padding:.15em .25em}}\
@media print{a{color:inherit}figure.chart{break-inside:avoid}figure.chart svg{max-width:115mm!important}}";

fn title(r: &LeagueResult) -> String {
    r.title_zh()
}

fn movement(u: &UnitLine) -> Markup {
    moved(u.movement())
}

fn moved(m: Option<i64>) -> Markup {
    match m {
        None => html! { span.muted { "新上榜" } },
        Some(0) => html! { "持平" },
        Some(n) if n > 0 => html! { span.up { "↑" (n) } },
        Some(n) => html! { span.down { "↓" (-n) } },
    }
}

fn unit_table(units: &[UnitLine]) -> Markup {
    html! {
        table {
            thead { tr { th { "名次" } th { "责任单位" } th { "得分" } th { "受检点位" } th { "较上月" } } }
            tbody {
                @for u in units {
                    tr { td { (u.rank) } td { (u.unit_name) } td { (u.score) } td { (u.inspected_points) } td { (movement(u)) } }
                }
            }
        }
    }
}

fn group_table(head: &str, groups: &[GroupLine]) -> Markup {
    html! {
        table {
            thead { tr { th { "名次" } th { (head) } th { "得分" } th { "受检点位" } th { "较上月" } } }
            tbody {
                @for g in groups {
                    tr { td { (g.rank) } td { (g.name) } td { (g.score) } td { (g.inspected_points) } td { (moved(g.movement())) } }
                }
            }
        }
    }
}

/// The two charts (SVG: text stays text, crisp on a phone and in print).
fn charts(r: &LeagueResult) -> Markup {
    html! {
        h2 { "得分分布" }
        p.muted { "本月受检点位按得分分段的个数。" }
        figure.chart { (PreEscaped(league_chart::distribution_svg(&league_chart::distribution(r)))) }
        h2 { "名次变化" }
        p.muted { "与上月相比名次上升（↑）或下降（↓）的单位，最多列出上升、下降各 " (league_chart::MOVERS / 2) " 个。" }
        figure.chart { (PreEscaped(league_chart::movement_svg(&league_chart::movement(r)))) }
    }
}

/// The report's body: status, rules, consequences, the ten worst and best,
/// the charts, every unit, point type, 点长 and point with the lines of
/// its score.
pub fn report(v: &LeagueView) -> Markup {
    html! {
        h1 { (title(&v.result)) }
        (report_body(v))
    }
}

/// [`report`] without its heading, for a page that has its own.
pub fn report_body(v: &LeagueView) -> Markup {
    let r = &v.result;
    html! {
        @match &v.issued {
            Some(i) => {
                @if let Some(n) = &i.number { p.number { (n) } }
                p { "已发布（" (i.issued_at.get(..10).unwrap_or(&i.issued_at)) "），结果 SHA-256：" code { (i.result_hash) } "，已记入证据日志。" }
            },
            None => p.muted { "尚未发布：以下为按当前数据实时计算的结果，发布后固定并编号。" },
        }
        h2 { "评分规则（第 " (r.rule_version) " 版）" }
        p { (r.rule_text) }
        h2 { "奖惩兑现" }
        @if r.consequences.is_empty() {
            p.muted { "本月无单位适用奖惩档次。" }
        } @else {
            table {
                thead { tr { th { "名次" } th { "责任单位" } th { "奖惩" } } }
                tbody { @for c in &r.consequences { tr { td { (c.rank) } td { (c.unit_name) } td { (c.consequence) } } } }
            }
        }
        h2 { "十差单位" }
        (unit_table(&r.ten_worst))
        h2 { "十佳单位" }
        (unit_table(&r.ten_best))
        (charts(r))
        h2 { "责任单位排名" }
        p.muted { "单位得分为其本月受检点位得分的平均值；本月无点位受检的单位不参加排名。" }
        (unit_table(&r.units))
        @if !r.point_kinds.is_empty() {
            h2 { "点位类型排名" }
            p.muted { "按点位类型，取本月受检点位得分的平均值。" }
            (group_table("点位类型", &r.point_kinds))
        }
        @if !r.chiefs.is_empty() {
            h2 { "点长排名" }
            p.muted { "点长责任制：按点长负责的本月受检点位得分的平均值；未设点长的点位不计入。" }
            (group_table("点长", &r.chiefs))
        }
        h2 { "点位排名" }
        table {
            thead { tr { th { "名次" } th { "点位" } th { "类型" } th { "责任单位" } th { "点长" } th { "得分" } th { "扣分与加分" } } }
            tbody {
                @for p in &r.points {
                    tr {
                        td { (p.rank) }
                        td { (p.point_name) }
                        td { (p.point_kind) }
                        td { (p.unit_name) }
                        td { (p.chief.as_deref().unwrap_or("")) }
                        td { (p.score) }
                        td {
                            @if !p.inspected { span.muted { "本月未受检" } }
                            @for l in &p.lines { (l.what) " " (l.points) br; }
                        }
                    }
                }
            }
        }
    }
}

/// The report as a Word document in the bulletins' official layout.
pub async fn docx(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    Path(month): Path<String>,
) -> Result<Response, AppError> {
    let tz = state.config.timezone.clone();
    let v = ops::month(&state.db, &tz, &month).await?;
    let issuing_body = state.db.bulletin_settings().await?.issuing_body;
    let issued_at: Option<jiff::Timestamp> = v.issued.as_ref().and_then(|i| i.issued_at.parse().ok());
    let created = issued_at.unwrap_or_else(|| state.clock.now());
    let name = file_name(&v.result.month, "docx");
    let bytes = tokio::task::spawn_blocking(move || {
        let issued = v.issued.as_ref().zip(issued_at).map(|(i, at)| crate::bulletin::docx::LeagueIssue {
            hash: &i.result_hash,
            day: at.to_zoned_datetime(tz.clone()).date(),
            number: i.number.as_deref(),
        });
        crate::bulletin::docx::league(&v.result, &issuing_body, issued, created)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    Ok(super::bulletins::docx_answer(&name, bytes))
}

/// The rule sets: every stored version, and the default when none is.
pub async fn rules(State(state): State<AppState>, _caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let sets = app::league::rule_sets(&state.db).await?;
    Ok(Json(json!({ "items": sets, "default": crate::league::RuleSet::default() })))
}

pub async fn add_rules(State(state): State<AppState>, caller: OfficeCaller, body: Bytes) -> Result<Response, AppError> {
    ops::refuse_repeated_deductions(&body)?;
    let req: ops::RulesRequest = parse_json(&body)?;
    let stored = ops::add_rules(&state.db, &caller, req, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

pub async fn get_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
) -> Result<Json<ops::LeagueSettings>, AppError> {
    Ok(Json(ops::LeagueSettings { public: state.db.league_public().await? }))
}

pub async fn put_settings(
    State(state): State<AppState>,
    _caller: OfficeCaller,
    body: Bytes,
) -> Result<Json<ops::LeagueSettings>, AppError> {
    let req: ops::LeagueSettings = parse_json(&body)?;
    state.db.set_league_public(req.public).await?;
    Ok(Json(ops::LeagueSettings { public: state.db.league_public().await? }))
}
