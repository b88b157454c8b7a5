//! The monthly league on the public exposure page (`/public/league/`): the
//! issued months, each as its frozen report, only once the office has
//! turned the public league on (`/api/v1/settings/league`). Off, or for a
//! month not issued, every page is the same 404, so the public cannot tell
//! a month computed in the office from one that does not exist.
//!
//! What the report shows is points, units, point types, 点长, scores, ranks
//! and consequences of a month: no alias, device, position or time finer
//! than the month (the day of issue is the office's act, not an
//! inspection's). Cached briefly like the rest of the exposure page.

use super::public::{failed, html_page, layout, not_found};
use crate::{AppState, app};
use axum::extract::{Path, State};
use axum::response::Response;
use maud::{PreEscaped, html};

/// Tables and charts of the report, in the exposure page's look.
const CSS: &str = "table{border-collapse:collapse;width:100%;margin:.4rem 0;background:#fff;font-size:.92rem}\
th,td{border:1px solid #ccc;padding:.2rem .35rem;text-align:left;vertical-align:top}th{background:#f0f0f0}\
.up{color:#2e7d32}.down{color:#c62828}.number{font-weight:600}figure.chart{margin:.4rem 0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4rem}\
.scroll{overflow-x:auto}code{word-break:break-all;font-size:.8rem}@media print{figure.chart{break-inside:avoid}figure.chart svg{max-width:115mm!important}}";

const OFF: &str = "月评排名暂未公开，或该月尚未发布。";

pub async fn index(State(state): State<AppState>) -> Response {
    let months = match app::league::public_months(&state.db, &state.config.timezone).await {
        Ok(m) => m,
        Err(e) => return failed(e),
    };
    if months.is_empty() {
        return not_found(OFF);
    }
    html_page(layout(
        "点位达标月评排名",
        html! {
            p.muted { "每月按评分规则对各点位、点位类型、点长和责任单位评分排名，奖惩逐月兑现。以下为已发布的月份。" }
            div.box {
                @for m in &months {
                    p {
                        a href={ "/public/league/" (m.month) } { (m.title) }
                        @if let Some(n) = &m.number { " " span.muted { (n) } }
                        " " span.muted { "（" (m.issued_on) " 发布）" }
                    }
                }
            }
            p { a href="/public/" { "← 返回曝光台" } }
        },
    ))
}

pub async fn month(State(state): State<AppState>, Path(month): Path<String>) -> Response {
    let view = match app::league::public_month(&state.db, &month).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(OFF),
        Err(e) => return failed(e),
    };
    let title = view.result.title_zh();
    html_page(layout(
        &title,
        html! {
            style { (PreEscaped(CSS)) }
            div.scroll { (super::league::report_body(&view)) }
            p { a href="/public/league/" { "← 全部月份" } " · " a href="/public/" { "返回曝光台" } }
        },
    ))
}
