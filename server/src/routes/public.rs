//! The exposure page (曝光台) at `/public/`: public, no sign-in,
//! server-rendered Chinese pages (maud; no script), a JSON feed and an Atom
//! feed, and the photos of published entries.
//!
//! **Invariants:**
//! - only published entries appear ([`app::exposure::public_entries`] reads
//!   nothing else); a withdrawn one shows only that it was withdrawn, when,
//!   and the office's note, under no unit or point;
//! - nothing from the inspector: no alias, device, finding id, coordinates,
//!   capture time (dates are days), no per-batch time;
//! - `/public/photos/…` serves only a photo selected in a published, not
//!   withdrawn entry (or the after-photo of its case once a re-check
//!   passed), and only as its public copy: at most
//!   [`crate::photos::PUBLIC_LONG_EDGE`] px, made from the stored,
//!   metadata-free copy (the evidence photo is only read); any other hash is
//!   the same 404;
//! - every page reads only its own entries: filters, counts and pages are
//!   SQL ([`crate::db::exposure::PublicQuery`]), 20 entries a page, the
//!   feeds the newest 50 changes with a link to the next 50;
//! - answers may be cached briefly (`public, max-age=60`), never `no-store`
//!   problems for a phone on a slow network; refusals are not cached.

use crate::app::exposure::{CommitmentOutcome, PublicEntry, PublicFilter, PublicPage, PublicState};
use crate::db::exposure::{PublicGroup, PublicOrder, PublicQuery};
use crate::error::AppError;
use crate::{AppState, app};
use anfang_core::Card;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::BTreeMap;

/// One public route (all are open to anyone; the table is walked by the
/// anonymity test and compared with a reviewed list like the others).
pub struct PublicRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
}

pub fn public_routes() -> Vec<PublicRoute> {
    let r = |method, path, handler| PublicRoute { method, path, handler };
    vec![
        r("get", "/public", get(|| async { Redirect::permanent("/public/") })),
        r("get", "/public/", get(list_page)),
        r("get", "/public/entries/{ref}", get(entry_page)),
        r("get", "/public/units/{id}", get(unit_page)),
        r("get", "/public/points/{id}", get(point_page)),
        r("get", "/public/feed.json", get(feed_json)),
        r("get", "/public/feed.atom", get(feed_atom)),
        r("get", "/public/photos/{sha256}", get(photo)),
        r("get", "/public/photos/{sha256}/thumbnail", get(thumbnail)),
        // The monthly league, when the office shows it (routes::public_league).
        r("get", "/public/league/", get(super::public_league::index)),
        r("get", "/public/league/{month}", get(super::public_league::month)),
    ]
}

pub(super) fn router(mut router: axum::Router<AppState>) -> axum::Router<AppState> {
    for r in public_routes() {
        router = router.route(r.path, r.handler);
    }
    router
}

/// Pages and feeds: cached briefly, so a shared link under load is cheap,
/// and a withdrawal reaches readers within a minute.
const PAGE_CACHE: &str = "public, max-age=60";
const PHOTO_CACHE: &str = "public, max-age=300";

fn cached(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, PAGE_CACHE)], body).into_response()
}

pub(super) fn html_page(body: String) -> Response {
    cached("text/html; charset=utf-8", crate::html::xml_chars_only(body))
}

/// Entries a page of the list, a unit's or a point's page shows: a phone
/// scrolls through 20 cards, and a page reads only its own rows.
pub const PER_PAGE: u32 = 20;
/// Items a page of a feed carries: the newest 50 changes, which a reader
/// polling every few hours never falls behind; `next_url` / rel="next"
/// lead to older ones.
pub const FEED_ITEMS: u32 = 50;

/// One page of entries `q` picks, newest published first (the summary's
/// groups of `summary` when given).
async fn page_of(
    state: &AppState,
    q: PublicQuery,
    summary: Option<PublicQuery>,
    order: PublicOrder,
    per_page: u32,
    page: u32,
) -> Result<PublicPage, AppError> {
    let (tz, now) = (&state.config.timezone, state.clock.now());
    app::exposure::public_page(&state.db, tz, now, q, summary, order, per_page, page).await
}

/// The page number of a query: absent or empty is the first; anything but
/// a whole number from 1 is `None` (the caller answers 400, never a 500).
fn page_number(raw: Option<&str>) -> Option<u32> {
    match raw.map(str::trim) {
        None | Some("") => Some(1),
        Some(s) => s.parse::<u32>().ok().filter(|n| *n >= 1),
    }
}

/// A path segment percent-encoded (ids are the office's reference data:
/// anything but unreserved ASCII would break a link or a Location header).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `path` with the filters of `q` and the page (omitted for the first), so
/// paging keeps the reader's filters.
fn page_url(path: &str, q: &PublicQuery, page: u32) -> String {
    let mut pairs: Vec<(&str, String)> = [
        ("district", &q.district),
        ("unit", &q.unit),
        ("category", &q.category),
        ("state", &q.state),
        ("point", &q.point),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    if page > 1 {
        pairs.push(("page", page.to_string()));
    }
    match serde_urlencoded::to_string(&pairs) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    }
}

/// Where a page number past the end sends the reader: the last page.
fn to_last_page(url: &str) -> Response {
    Redirect::to(url).into_response()
}

fn bad_request(what: &str, back: &str) -> Response {
    let body = layout("无法显示", html! { p.err { (what) } p { a href=(back) { "← 返回第一页" } } });
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn bad_page(back: &str) -> Response {
    bad_request("页码有误：页码应为从 1 开始的整数。", back)
}

/// 上一页 / 第 N / M 页 / 下一页, each link to `url(page)`.
fn pager(p: &PublicPage, url: impl Fn(u32) -> String) -> Markup {
    html! {
        nav.pager aria-label="翻页" {
            @if p.page > 1 { a rel="prev" href=(url(p.page - 1)) { "上一页" } } @else { span.off { "上一页" } }
            span.at { "第 " (p.page) " / " (p.pages) " 页" }
            @if p.page < p.pages { a rel="next" href=(url(p.page + 1)) { "下一页" } } @else { span.off { "下一页" } }
        }
    }
}

pub(super) fn failed(e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(%detail, "internal error on a public page");
    }
    let status = e.status();
    let body = layout("出错了", html! { p.err { "页面暂时无法显示，请稍后再试。" } });
    (status, Html(body)).into_response()
}

pub(super) fn not_found(what: &str) -> Response {
    let body = layout("未找到", html! { p.err { (what) } p { a href="/public/" { "← 返回曝光台" } } });
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}

// ---------------------------------------------------------------- layout

/// Our own constant stylesheet (no data in it): phone first (390 px), one
/// column, 16 px text, and a print layout without the filters.
const CSS: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.6 system-ui,-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;color:#222;background:#f4f5f7}
header{background:#8b1a1a;color:#fff;padding:.7rem 1rem}header a{color:#fff;text-decoration:none}header b{font-size:1.2rem}header span{display:block;font-size:.85rem;opacity:.9}
main{max-width:960px;margin:0 auto;padding:.8rem}h1{font-size:1.25rem;margin:.3rem 0 .8rem}h2{font-size:1.05rem;margin:1rem 0 .5rem}
.sum{display:flex;flex-wrap:wrap;gap:.5rem;margin:.2rem 0 .8rem}.sum a,.sum span{background:#fff;border:1px solid #ddd;border-radius:16px;padding:.2rem .8rem;color:inherit;text-decoration:none}
.sum a.late{border-color:#c62828;color:#c62828;font-weight:600}
form.f{display:grid;grid-template-columns:1fr 1fr;gap:.5rem;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem;margin-bottom:.8rem}
form.f label{display:flex;flex-direction:column;font-size:.85rem;color:#555}form.f select,form.f button{font:inherit;min-height:44px;padding:.3rem;border:1px solid #bbb;border-radius:4px;background:#fff;color:#222}
form.f button{background:#8b1a1a;color:#fff;border-color:#8b1a1a;grid-column:1/-1}
.list{display:grid;grid-template-columns:1fr;gap:.7rem}@media (min-width:700px){.list{grid-template-columns:1fr 1fr}}
.e{background:#fff;border:1px solid #ddd;border-radius:6px;overflow:hidden;color:inherit;text-decoration:none;display:flex;flex-direction:column}
.e img{width:100%;aspect-ratio:4/3;object-fit:cover;background:#ddd;display:block}.e .t{padding:.5rem .7rem}.e .t b{display:block;font-size:1.02rem}
.muted{color:#666;font-size:.9rem}
.card{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;font-weight:600;color:#fff;white-space:nowrap}
.card-red{background:#c62828}.card-yellow{background:#f9a825;color:#222}.card-green{background:#2e7d32}
.st{display:inline-block;padding:0 .45rem;border-radius:3px;font-size:.85rem;border:1px solid #999;white-space:nowrap}
.st-in_progress{border-color:#1565c0;color:#1565c0}.st-overdue{border-color:#c62828;color:#fff;background:#c62828;font-weight:600}.st-deferred{border-color:#795548;color:#795548}
.st-fixed{border-color:#2e7d32;color:#fff;background:#2e7d32}.st-closed{border-color:#2e7d32;color:#2e7d32}.st-cancelled,.st-withdrawn{border-color:#777;color:#777}
.box{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.7rem 1rem;margin-bottom:.8rem}
dl{display:grid;grid-template-columns:5.5em 1fr;gap:.2rem .6rem;margin:0}dt{color:#666}dd{margin:0}
.pair{display:grid;grid-template-columns:1fr;gap:.7rem}@media (min-width:700px){.pair{grid-template-columns:1fr 1fr}}
.pair figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;overflow:hidden}.pair img{width:100%;display:block;background:#ddd}
.pair figcaption{padding:.3rem .6rem;font-weight:600}.desc{white-space:pre-wrap}
.pager{display:flex;align-items:center;justify-content:space-between;gap:.5rem;margin:1rem 0}
.pager a,.pager span.off{display:inline-flex;align-items:center;min-height:44px;padding:0 1rem;border:1px solid #ddd;border-radius:6px;background:#fff;color:#8b1a1a;text-decoration:none}
.pager span.off{color:#aaa}.pager .at{color:#555}
.err{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c1c;padding:.5rem .8rem;border-radius:4px}
footer{max-width:960px;margin:1rem auto;padding:0 .8rem 2rem;color:#666;font-size:.85rem}footer a{color:#8b1a1a}
@media print{header{background:none;color:#000;padding:0}header a{color:#000}form.f,footer .nav,.pager a,.pager span.off{display:none}body{background:#fff;font-size:12pt}
.e,.box,.pair figure{break-inside:avoid;border-color:#999}.list{grid-template-columns:1fr 1fr}a{color:#000;text-decoration:none}}
"#;

pub(super) fn layout(title: &str, body: Markup) -> String {
    crate::html::xml_chars_only(
        html! {
            (DOCTYPE)
            html lang="zh-CN" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width,initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (title) " · 曝光台" }
                    link rel="alternate" type="application/atom+xml" title="曝光台" href="/public/feed.atom";
                    link rel="alternate" type="application/feed+json" title="曝光台" href="/public/feed.json";
                    style { (PreEscaped(CSS)) }
                }
                body {
                    header { a href="/public/" { b { "曝光台" } span { "四城同创 · 问题曝光与整改跟踪" } } }
                    main { h1 { (title) } (body) }
                    footer {
                        p { "本页由四城同创办发布。问题照片已处理，不含拍摄信息；日期只到日。" }
                        p.nav { a href="/public/league/" { "月评排名" } " · " a href="/public/feed.atom" { "Atom 订阅" } " · " a href="/public/feed.json" { "JSON 订阅" } }
                    }
                }
            }
        }
        .into_string(),
    )
}

fn card_badge(card: Card) -> Markup {
    html! { span class={ "card card-" (card.as_str()) } { (card.label_zh()) } }
}

fn state_badge(state: PublicState) -> Markup {
    html! { span class={ "st st-" (state.key()) } { (state.label()) } }
}

/// The card of one entry in a list.
fn entry_card(e: &PublicEntry) -> Markup {
    let r = &e.row;
    html! {
        a.e href={ "/public/entries/" (r.reference) } {
            @if e.state == PublicState::Withdrawn {
                div.t {
                    b { "已撤回的曝光条目" }
                    (state_badge(e.state))
                    @if let Some((on, note)) = &r.withdrawn { div.muted { (on) " 撤回：" (note) } }
                }
            } @else {
                @if let Some(p) = r.before_photos.first() {
                    img loading="lazy" src={ "/public/photos/" (p) "/thumbnail" } alt={ (r.point_name) "（整改前）" };
                }
                div.t {
                    b { (r.title) }
                    div { (card_badge(r.card)) " " (state_badge(e.state)) }
                    div.muted { (r.point_name) " · " (r.unit_name) }
                    @if let Some(o) = e.commitment { div.muted { "公开承诺：" (o.label()) } }
                    div.muted {
                        "曝光 " (r.published_on)
                        @if let Some(d) = e.deadline_on { " · 期限 " (d) }
                    }
                }
            }
        }
    }
}

fn outcome_class(o: CommitmentOutcome) -> &'static str {
    match o {
        CommitmentOutcome::Pending => "in_progress",
        CommitmentOutcome::Kept => "fixed",
        CommitmentOutcome::NotKept => "overdue",
    }
}

/// Entries of the summary's groups that `keep` admits.
fn counted(groups: &[PublicGroup], keep: impl Fn(&PublicGroup) -> bool) -> u64 {
    groups.iter().filter(|g| keep(g)).map(|g| g.count).sum()
}

/// (value, label) choices present among the (not withdrawn) entries, sorted by value.
fn choices(groups: &[PublicGroup], f: impl Fn(&PublicGroup) -> Option<(String, String)>) -> Vec<(String, String)> {
    let map: BTreeMap<String, String> = groups.iter().filter(|g| g.state != "withdrawn").filter_map(f).collect();
    map.into_iter().collect()
}

fn select(name: &str, label: &str, items: &[(String, String)], selected: Option<&str>) -> Markup {
    let selected = selected.unwrap_or("");
    html! {
        label { (label)
            select name=(name) {
                option value="" { "全部" }
                @for (v, l) in items { option value=(v) selected[v == selected] { (l) } }
            }
        }
    }
}

fn entry_list(list: &[PublicEntry]) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "暂无符合条件的曝光条目。" }
        } @else {
            div.list { @for e in list { (entry_card(e)) } }
        }
    }
}

/// The list's query: its filters and its page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListParams {
    #[serde(flatten)]
    filter: PublicFilter,
    page: Option<String>,
}

/// A page number alone (a unit's or a point's page, the feeds).
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageParam {
    page: Option<String>,
}

pub async fn list_page(State(state): State<AppState>, query: Result<Query<ListParams>, QueryRejection>) -> Response {
    let Ok(Query(params)) = query else { return bad_request("筛选条件有误，请重新选择。", "/public/") };
    let q = params.filter.query();
    let url = |page: u32| page_url("/public/", &q, page);
    let Some(page) = page_number(params.page.as_deref()) else { return bad_page(&url(1)) };
    // The summary and the filter choices are of every entry, whatever the filters.
    let listing =
        match page_of(&state, q.clone(), Some(PublicQuery::default()), PublicOrder::Published, PER_PAGE, page).await {
            Ok(l) => l,
            Err(e) => return failed(e),
        };
    if listing.past_end() {
        return to_last_page(&url(listing.pages));
    }
    let groups = &listing.groups;
    let live = counted(groups, |g| g.state != "withdrawn");
    let late = counted(groups, |g| g.state == "overdue");
    let fixed = counted(groups, |g| g.state == "fixed");
    let districts = choices(groups, |g| g.district.clone().map(|d| (d.clone(), d)));
    let units = choices(groups, |g| Some((g.unit_id.clone(), g.unit_name.clone())));
    let categories =
        choices(groups, |g| Some((g.category.clone(), g.category_name.clone().unwrap_or_else(|| g.category.clone()))));
    let states: Vec<(String, String)> =
        PublicState::FILTERS.iter().map(|(k, l)| ((*k).to_owned(), (*l).to_owned())).collect();
    let body = html! {
        div.sum {
            span { "曝光 " (live) " 条" }
            a href="/public/?state=overdue" class=[(late > 0).then_some("late")] { "逾期未改 " (late) " 条" }
            a href="/public/?state=fixed" { "已整改（复查通过） " (fixed) " 条" }
        }
        form.f method="get" action="/public/" {
            (select("district", "区县", &districts, q.district.as_deref()))
            (select("unit", "责任单位", &units, q.unit.as_deref()))
            (select("category", "问题类别", &categories, q.category.as_deref()))
            (select("state", "整改状态", &states, q.state.as_deref()))
            button { "筛选" }
        }
        @if !q.is_empty() { p.muted { "符合条件 " (listing.total) " 条 · " a href="/public/" { "清除筛选" } } }
        (entry_list(&listing.entries))
        (pager(&listing, url))
    };
    html_page(layout("曝光台", body))
}

fn photo_figure(sha: &str, caption: &str, alt: &str) -> Markup {
    html! {
        figure {
            a href={ "/public/photos/" (sha) } { img src={ "/public/photos/" (sha) } alt=(alt); }
            figcaption { (caption) }
        }
    }
}

pub async fn entry_page(State(state): State<AppState>, Path(reference): Path<String>) -> Response {
    let (tz, now) = (&state.config.timezone, state.clock.now());
    let e = match app::exposure::public_entry(&state.db, tz, now, reference).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found("没有这条曝光条目。"),
        Err(e) => return failed(e),
    };
    let e = &e;
    let r = &e.row;
    if let Some((on, note)) = &r.withdrawn {
        let body = html! {
            div.box {
                p { (state_badge(e.state)) }
                dl {
                    dt { "曝光日期" } dd { (r.published_on) }
                    dt { "撤回日期" } dd { (on) }
                    dt { "撤回说明" } dd.desc { (note) }
                }
            }
            p { a href="/public/" { "← 返回曝光台" } }
        };
        return html_page(layout("已撤回的曝光条目", body));
    }
    let after_caption = "整改后（复查通过）";
    let body = html! {
        div.box {
            p { (card_badge(r.card)) " " (state_badge(e.state)) }
            dl {
                dt { "点位" } dd { a href={ "/public/points/" (r.point_id) } { (r.point_name) } }
                dt { "责任单位" } dd { a href={ "/public/units/" (r.unit_id) } { (r.unit_name) } }
                @if let Some(d) = &r.district { dt { "区县" } dd { (d) } }
                dt { "问题类别" } dd { (r.category_name.as_deref().unwrap_or(&r.category)) }
                dt { "问题" } dd.desc { (r.description) }
                dt { "发现日期" } dd { (r.found_on) }
                dt { "曝光日期" } dd { (r.published_on) }
                @if let Some(d) = e.deadline_on { dt { "整改期限" } dd { (d) } }
                dt { "整改状态" } dd { (e.state.label()) }
            }
        }
        @if let (Some(c), Some(outcome)) = (&r.commitment, e.commitment) {
            div.box.commit {
                h2 style="margin-top:0" { "公开承诺" }
                p { (c.person_title) " " (c.person_name) " 承诺：" (c.what) }
                p.muted { (c.made_on) " 作出，承诺 " (c.due_on) " 前完成 · " span class={ "st st-" (outcome_class(outcome)) } { (outcome.label()) } }
            }
        }
        @if !r.before_photos.is_empty() || !r.after_photos.is_empty() {
            div.pair {
                @for p in &r.before_photos { (photo_figure(p, "整改前", "整改前照片")) }
                @if e.state == PublicState::Fixed {
                    @for p in &r.after_photos { (photo_figure(p, after_caption, "整改后照片")) }
                }
            }
        }
        p { a href="/public/" { "← 返回曝光台" } }
    };
    html_page(layout(&r.title, body))
}

/// A unit's or a point's page (`path`): its entries, never withdrawn
/// ones (they are no claim about a unit or point any more), paged, titled
/// after the first; 404 when there is none.
async fn group(
    state: &AppState,
    q: PublicQuery,
    path: String,
    query: Result<Query<PageParam>, QueryRejection>,
    title: impl Fn(&PublicEntry) -> String,
    none: &str,
) -> Response {
    let url = |page: u32| page_url(&path, &PublicQuery::default(), page);
    let Some(page) = query.ok().and_then(|Query(p)| page_number(p.page.as_deref())) else { return bad_page(&url(1)) };
    let listing = match page_of(state, q.clone(), Some(q), PublicOrder::Published, PER_PAGE, page).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    if listing.total == 0 {
        return not_found(none);
    }
    if listing.past_end() {
        return to_last_page(&url(listing.pages));
    }
    let Some(first) = listing.entries.first() else { return not_found(none) };
    let late = counted(&listing.groups, |g| g.state == "overdue");
    let body = html! {
        div.sum { span { "曝光 " (listing.total) " 条" } span { "逾期未改 " (late) " 条" } }
        (entry_list(&listing.entries))
        (pager(&listing, url))
        p { a href="/public/" { "← 返回曝光台" } }
    };
    html_page(layout(&title(first), body))
}

pub async fn unit_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PageParam>, QueryRejection>,
) -> Response {
    let path = format!("/public/units/{}", segment(&id));
    let q = PublicQuery { unit: Some(id), ..Default::default() };
    group(&state, q, path, query, |e| e.row.unit_name.clone(), "该单位没有曝光条目。").await
}

pub async fn point_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PageParam>, QueryRejection>,
) -> Response {
    let title = |e: &PublicEntry| format!("{}（{}）", e.row.point_name, e.row.unit_name);
    let path = format!("/public/points/{}", segment(&id));
    let q = PublicQuery { point: Some(id), ..Default::default() };
    group(&state, q, path, query, title, "该点位没有曝光条目。").await
}

// ---------------------------------------------------------------- feeds

/// The site's address for absolute links in the feeds (the office's
/// `public_base_url` setting), without a trailing slash.
async fn base_url(state: &AppState) -> Result<String, AppError> {
    Ok(state.db.rectification_settings().await?.public_base_url.trim_end_matches('/').to_owned())
}

/// A day as a feed's timestamp: its start, office time (never finer).
fn day_start(state: &AppState, day: &str) -> String {
    day.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned_datetime(state.config.timezone.clone()).ok())
        .map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

fn summary_text(e: &PublicEntry) -> String {
    let r = &e.row;
    let mut s = format!(
        "{}。点位：{}；责任单位：{}；{}；发现日期 {}；整改状态：{}",
        r.description,
        r.point_name,
        r.unit_name,
        r.card.label_zh(),
        r.found_on,
        e.state.label()
    );
    if let Some(d) = e.deadline_on {
        s.push_str(&format!("；整改期限 {d}"));
    }
    if let (Some(c), Some(o)) = (&r.commitment, e.commitment) {
        s.push_str(&format!(
            "；公开承诺：{} {} 承诺{}，{} 前完成（{}）",
            c.person_title,
            c.person_name,
            c.what,
            c.due_on,
            o.label()
        ));
    }
    s
}

/// A page of a feed (`?page=N`, the first without): the newest
/// [`FEED_ITEMS`] changes, then the next; a page number that is none, or
/// past the end, is refused (a feed reader needs a status, not a page).
async fn feed_page(
    state: &AppState,
    query: Result<Query<PageParam>, QueryRejection>,
) -> Result<(PublicPage, String), Response> {
    let page = query.ok().and_then(|Query(p)| page_number(p.page.as_deref())).ok_or_else(|| {
        AppError::BadRequest("page must be a whole number from 1 (omit it for the first page)".into()).into_response()
    })?;
    let listing = page_of(state, PublicQuery::default(), None, PublicOrder::Changed, FEED_ITEMS, page);
    let (listing, base) = tokio::try_join!(listing, base_url(state)).map_err(IntoResponse::into_response)?;
    if listing.past_end() {
        let pages = listing.pages;
        return Err(
            AppError::NotFound(format!("the feed has {pages} page(s); page {page} is past its end")).into_response()
        );
    }
    Ok((listing, base))
}

/// The address of page `page` of the feed `name`.
fn feed_url(base: &str, name: &str, page: u32) -> String {
    if page > 1 { format!("{base}/public/{name}?page={page}") } else { format!("{base}/public/{name}") }
}

pub async fn feed_json(State(state): State<AppState>, query: Result<Query<PageParam>, QueryRejection>) -> Response {
    let (listing, base) = match feed_page(&state, query).await {
        Ok(x) => x,
        Err(refused) => return refused,
    };
    let items: Vec<serde_json::Value> = listing
        .entries
        .iter()
        .map(|e| {
            let r = &e.row;
            let url = format!("{base}/public/entries/{}", r.reference);
            match &r.withdrawn {
                Some((on, note)) => serde_json::json!({
                    "id": url, "url": url, "title": "已撤回的曝光条目",
                    "content_text": format!("{on} 撤回：{note}"),
                    "date_published": day_start(&state, &r.published_on),
                    "date_modified": day_start(&state, on),
                    "tags": [e.state.label()],
                }),
                None => {
                    let mut item = serde_json::json!({
                        "id": url, "url": url, "title": r.title,
                        "content_text": summary_text(e),
                        "date_published": day_start(&state, &r.published_on),
                        "tags": [r.card.label_zh(), e.state.label()],
                        "_anfang": {
                            "point": r.point_name, "unit": r.unit_name, "district": r.district,
                            "category": r.category_name.as_deref().unwrap_or(&r.category),
                            "card": r.card.as_str(), "state": e.state.key(), "state_label": e.state.label(),
                            "found_on": r.found_on.to_string(), "published_on": r.published_on,
                            "deadline_on": e.deadline_on.map(|d| d.to_string()),
                            "commitment": r.commitment.as_ref().zip(e.commitment).map(|(c, o)| serde_json::json!({
                                "person": format!("{} {}", c.person_title, c.person_name), "what": c.what,
                                "made_on": c.made_on, "due_on": c.due_on, "outcome": o.label(),
                            })),
                        },
                    });
                    if let Some(p) = r.before_photos.first() {
                        item["image"] = format!("{base}/public/photos/{p}").into();
                    }
                    item
                }
            }
        })
        .collect();
    // feed_url names the feed on every page; next_url (JSON Feed 1.1)
    // leads to the older items and is absent on the last page.
    let mut feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "曝光台 · 四城同创",
        "home_page_url": format!("{base}/public/"),
        "feed_url": feed_url(&base, "feed.json", 1),
        "language": "zh-CN",
        "items": items,
    });
    if listing.page < listing.pages {
        feed["next_url"] = feed_url(&base, "feed.json", listing.page + 1).into();
    }
    cached("application/feed+json; charset=utf-8", feed.to_string())
}

pub async fn feed_atom(State(state): State<AppState>, query: Result<Query<PageParam>, QueryRejection>) -> Response {
    use crate::html::esc;
    let (listing, base) = match feed_page(&state, query).await {
        Ok(x) => x,
        Err(refused) => return refused,
    };
    let all = &listing.entries;
    let updated = all
        .iter()
        .map(|e| e.row.withdrawn.as_ref().map(|(on, _)| on.clone()).unwrap_or_else(|| e.row.published_on.clone()))
        .max()
        .map(|d| day_start(&state, &d))
        .unwrap_or_else(|| "2026-01-01T00:00:00+08:00".to_owned());
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">\n",
    );
    xml.push_str(&format!(
        "<title>曝光台 · 四城同创</title>\n<id>{b}/public/</id>\n<link href=\"{b}/public/\"/>\n<link rel=\"self\" href=\"{}\"/>\n<updated>{updated}</updated>\n<author><name>四城同创办</name></author>\n",
        esc(&feed_url(&base, "feed.atom", listing.page)),
        b = esc(&base)
    ));
    // A paged feed (RFC 5005, section 3): first and last, and the pages
    // either side of this one; the subscription document is the first.
    let mut page_link = |rel: &str, page: u32| {
        xml.push_str(&format!("<link rel=\"{rel}\" href=\"{}\"/>\n", esc(&feed_url(&base, "feed.atom", page))));
    };
    if listing.pages > 1 {
        page_link("first", 1);
        page_link("last", listing.pages);
    }
    if listing.page > 1 {
        page_link("previous", listing.page - 1);
    }
    if listing.page < listing.pages {
        page_link("next", listing.page + 1);
    }
    for e in all {
        let r = &e.row;
        let url = esc(&format!("{base}/public/entries/{}", r.reference));
        let (title, text, day) = match &r.withdrawn {
            Some((on, note)) => ("已撤回的曝光条目".to_owned(), format!("{on} 撤回：{note}"), on.clone()),
            None => (r.title.clone(), summary_text(e), r.published_on.clone()),
        };
        xml.push_str(&format!(
            "<entry>\n<title>{}</title>\n<id>{url}</id>\n<link href=\"{url}\"/>\n<published>{}</published>\n<updated>{}</updated>\n<summary>{}</summary>\n",
            esc(&title),
            day_start(&state, &r.published_on),
            day_start(&state, &day),
            esc(&text)
        ));
        if r.withdrawn.is_none()
            && let Some(p) = r.before_photos.first()
        {
            xml.push_str(&format!(
                "<link rel=\"enclosure\" type=\"image/jpeg\" href=\"{}\"/>\n",
                esc(&format!("{base}/public/photos/{p}"))
            ));
        }
        xml.push_str("</entry>\n");
    }
    xml.push_str("</feed>\n");
    cached("application/atom+xml; charset=utf-8", xml)
}

// ---------------------------------------------------------------- photos

async fn public_photo(state: &AppState, sha256: &str, thumbnail: bool) -> Response {
    let refused = || {
        AppError::NotFound("no such public photo: only photos of published entries are served".into()).into_response()
    };
    if !anfang_core::domain::is_sha256_hex(sha256) {
        return refused();
    }
    match state.db.public_photo_allowed(sha256.to_owned()).await {
        Ok(true) => {}
        Ok(false) => return refused(),
        Err(e) => return e.into_response(),
    }
    // The full size is the public copy (at most 1280 px), never the evidence photo.
    let bytes = if thumbnail { state.photos.read(sha256, true).await } else { state.photos.read_public(sha256).await };
    match bytes {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, PHOTO_CACHE)], bytes).into_response()
        }
        Err(e) => e.into_response(),
    }
}

pub async fn photo(State(state): State<AppState>, Path(sha256): Path<String>) -> Response {
    public_photo(&state, &sha256, false).await
}

pub async fn thumbnail(State(state): State<AppState>, Path(sha256): Path<String>) -> Response {
    public_photo(&state, &sha256, true).await
}
