//! Reference data: responsible units, inspection points (with 点长) and
//! problem categories; admins edit them one at a time or import CSV files,
//! everyone else reads the tables.

use super::{ConsoleUser, Form, active_select, flash, hidden_csrf, internal, options, page, refusal_zh};
use crate::app::reference::{import_points_csv, import_units_csv};
use crate::auth::Role;
use crate::db::reference_admin::PointRecord;
use crate::reference_csv::LineError;
use crate::{AppState, app};
use anfang_core::domain::{Category, Point, PointKind, Unit};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Reads a chosen CSV file into the textarea: the console's only script, a
/// constant attribute value.
pub(super) const READ_CSV_FILE: &str =
    "var r=new FileReader(),t=this.form.csv;r.onload=function(){t.value=r.result};r.readAsText(this.files[0],'utf-8')";

fn import_box(user: &ConsoleUser, action: &str, columns: &str) -> Markup {
    html! {
        div.box {
            h2 style="margin-top:0" { "CSV 批量导入" }
            p.muted {
                "UTF-8 编码（可带 BOM，Excel“CSV UTF-8”即可），第一行为列名：" (columns)
                "。整个文件先校验，有任何错误则不写入任何数据；同编号的记录会被更新。"
            }
            form method="post" action=(action) class="edit" style="flex-direction:column;align-items:stretch" {
                (hidden_csrf(user))
                input type="file" accept=".csv,text/csv" onchange=(READ_CSV_FILE);
                textarea name="csv" rows="6" placeholder="选择文件，或把 CSV 内容粘贴到这里" required {}
                button { "导入" }
            }
        }
    }
}

fn import_result(result: Result<usize, Vec<LineError>>) -> (Option<String>, Option<String>) {
    match result {
        Ok(n) => (None, Some(format!("已导入 {n} 条记录。"))),
        Err(errors) => {
            let mut msg = format!("导入失败，未写入任何数据。共 {} 处错误：", errors.len());
            for e in errors.iter().take(20) {
                let _ = write!(msg, "\n第 {} 行，字段 {}：{}", e.line, e.field, e.message);
            }
            if errors.len() > 20 {
                let _ = write!(msg, "\n……另有 {} 处", errors.len() - 20);
            }
            (Some(msg), None)
        }
    }
}

fn active_zh(active: bool) -> &'static str {
    if active { "启用" } else { "停用" }
}

// ---------------------------------------------------------------- units

pub async fn units_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_units(&state, &user, None, None).await
}

async fn render_units(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let units = match state.db.units().await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
    let admin = user.can(Role::Admin);
    let body = html! {
        (flash(error, ok))
        @if admin {
            form.box.edit method="post" action="/console/units" {
                (hidden_csrf(user))
                label { "编号" input name="id" required size="6"; }
                label { "名称" input name="name" required; }
                label { "区县" input name="district" size="8"; }
                input type="hidden" name="active" value="1";
                button { "新增/更新单位" }
            }
        }
        div.scroll { table {
            tr { th { "编号" } th { "名称" } th { "区县" } th { "状态" } }
            @for u in &units {
                @if admin {
                    tr { td colspan="4" {
                        form.edit method="post" action="/console/units" {
                            (hidden_csrf(user))
                            input type="hidden" name="id" value=(u.id);
                            b style="min-width:3em" { (u.id) }
                            input name="name" value=(u.name) required;
                            input name="district" value=(u.district.as_deref().unwrap_or("")) size="8" placeholder="区县";
                            select name="active" { (active_select(u.active)) }
                            button.plain { "保存" }
                        }
                    } }
                } @else {
                    tr {
                        td { (u.id) } td { (u.name) } td { (u.district.as_deref().unwrap_or("")) } td { (active_zh(u.active)) }
                    }
                }
            }
        } }
        @if admin {
            (import_box(user, "/console/units/import", "编号（id）、名称（name）、区县（district，可选）、启用（active，可选）"))
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/units", &format!("责任单位（{}）", units.len()), body)).into_response()
}

pub async fn save_unit(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let unit = Unit {
        id: form.get("id").to_owned(),
        name: form.get("name").to_owned(),
        district: form.opt("district"),
        active: form.get("active") != "0",
    };
    match app::reference::save_unit(&state.db, unit.clone()).await {
        Ok(_) => render_units(&state, &user, None, Some(&format!("已保存单位 {} {}。", unit.id, unit.name))).await,
        Err(e) if e.status().is_client_error() => {
            render_units(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

pub async fn import_units(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    match import_units_csv(&state.db, &form.raw("csv")).await {
        Ok(result) => {
            let (e, o) = import_result(result);
            render_units(&state, &user, e.as_deref(), o.as_deref()).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- points

pub async fn points_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_points_editing(&state, &user, None, None, q.get("edit").map(String::as_str)).await
}

fn kind_options(selected: &str) -> Markup {
    options(
        &PointKind::ALL.iter().map(|k| (k.as_str().to_owned(), k.label_zh().to_owned())).collect::<Vec<_>>(),
        selected,
        None,
    )
}

async fn render_points(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    render_points_editing(state, user, error, ok, None).await
}

/// One point's form: empty for a new point, filled (id read-only) to edit.
fn point_form(user: &ConsoleUser, unit_opts: &[(String, String)], p: Option<&PointRecord>) -> Markup {
    let text = |f: &dyn Fn(&PointRecord) -> Option<String>| p.and_then(f).unwrap_or_default();
    html! {
        form.edit method="post" action="/console/points" {
            (hidden_csrf(user))
            label { "编号" input name="id" value=(text(&|p| Some(p.point.id.clone()))) required size="6" readonly[p.is_some()]; }
            label { "名称" input name="name" value=(text(&|p| Some(p.point.name.clone()))) required; }
            label { "类型" select name="kind" { (kind_options(&text(&|p| Some(p.point.kind.as_str().to_owned())))) } }
            label { "责任单位" select name="unit_id" { (options(unit_opts, &text(&|p| Some(p.point.unit_id.clone())), None)) } }
            label { "点长" input name="leader" value=(text(&|p| p.leader.clone())) size="8"; }
            label { "区县" input name="district" value=(text(&|p| p.point.district.clone())) size="8"; }
            label { "纬度" input name="lat" value=(text(&|p| Some(p.point.lat.to_string()))) required size="9" inputmode="decimal"; }
            label { "经度" input name="lon" value=(text(&|p| Some(p.point.lon.to_string()))) required size="10" inputmode="decimal"; }
            label { "地址" input name="address" value=(text(&|p| p.point.address.clone())); }
            label { "状态" select name="active" { (active_select(p.is_none_or(|p| p.point.active))) } }
            button.plain { "保存" }
        }
    }
}

/// The points table; an admin edits one point at a time (`?edit=ID`), so the
/// page stays light with hundreds of points.
async fn render_points_editing(
    state: &AppState,
    user: &ConsoleUser,
    error: Option<&str>,
    ok: Option<&str>,
    edit: Option<&str>,
) -> Response {
    let data = state.db.points_and_units().await;
    let (points, units) = match data {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let unit_opts: Vec<(String, String)> =
        units.iter().map(|u| (u.id.clone(), format!("{} {}", u.id, u.name))).collect();
    let unit_name = |id: &str| units.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_default();
    let admin = user.can(Role::Admin);
    let body = html! {
        (flash(error, ok))
        @if admin {
            @match edit.and_then(|id| points.iter().find(|p| p.point.id == id)) {
                Some(p) => {
                    div.box id="edit" {
                        h2 style="margin-top:0" { "编辑点位 " (p.point.id) }
                        (point_form(user, &unit_opts, Some(p)))
                        p { a href="/console/points" { "取消" } }
                    }
                }
                None => {
                    div.box { h2 style="margin-top:0" { "新增点位" } (point_form(user, &unit_opts, None)) }
                }
            }
        }
        div.scroll { table {
            tr {
                th { "编号" } th { "名称" } th { "类型" } th { "责任单位" } th { "点长" } th { "区县" } th { "坐标" } th { "状态" }
            }
            @for p in &points {
                tr {
                    td {
                        @if admin {
                            a href={ "/console/points?edit=" (p.point.id) "#edit" } { (p.point.id) " 编辑" }
                        } @else {
                            (p.point.id)
                        }
                    }
                    td { (p.point.name) }
                    td { (p.point.kind.label_zh()) }
                    td { (unit_name(&p.point.unit_id)) }
                    td { (p.leader.as_deref().unwrap_or("")) }
                    td { (p.point.district.as_deref().unwrap_or("")) }
                    td { (format!("{:.5}, {:.5}", p.point.lat, p.point.lon)) }
                    td { (active_zh(p.point.active)) }
                }
            }
        } }
        @if admin {
            (import_box(
                user,
                "/console/points/import",
                "编号（id）、名称（name）、类型（kind，如 主次干道 或 main_road）、责任单位编号（unit_id）、纬度（lat）、经度（lon），可选：地址（address）、区县（district）、点长（leader）、启用（active）",
            ))
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/points", &format!("点位（{}）", points.len()), body)).into_response()
}

pub async fn save_point(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let kind = form.get("kind").parse::<PointKind>();
    let (lat, lon) = (form.get("lat").parse::<f64>(), form.get("lon").parse::<f64>());
    let (Ok(kind), Ok(lat), Ok(lon)) = (kind, lat, lon) else {
        return render_points(
            &state,
            &user,
            Some("无法保存：类型、纬度或经度无效（坐标用十进制度数，如 31.2090）。"),
            None,
        )
        .await;
    };
    let record = PointRecord {
        point: Point {
            id: form.get("id").to_owned(),
            name: form.get("name").to_owned(),
            kind,
            unit_id: form.get("unit_id").to_owned(),
            lat,
            lon,
            address: form.opt("address"),
            district: form.opt("district"),
            active: form.get("active") != "0",
        },
        leader: form.opt("leader"),
    };
    match app::reference::save_point(&state.db, record.clone()).await {
        Ok(_) => {
            let ok = format!("已保存点位 {} {}。", record.point.id, record.point.name);
            render_points(&state, &user, None, Some(&ok)).await
        }
        Err(e) if e.status().is_client_error() => {
            render_points(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}

pub async fn import_points(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    match import_points_csv(&state.db, &form.raw("csv")).await {
        Ok(result) => {
            let (e, o) = import_result(result);
            render_points(&state, &user, e.as_deref(), o.as_deref()).await
        }
        Err(e) => internal(e),
    }
}

// ---------------------------------------------------------------- categories

pub async fn categories_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render_categories(&state, &user, None, None).await
}

fn category_form(user: &ConsoleUser, c: Option<&Category>) -> Markup {
    html! {
        form.edit method="post" action="/console/categories" {
            (hidden_csrf(user))
            label { "代码" input name="code" value=(c.map(|c| c.code.as_str()).unwrap_or("")) required size="14" readonly[c.is_some()]; }
            label { "名称" input name="name" value=(c.map(|c| c.name.as_str()).unwrap_or("")) required; }
            label { "说明" input name="description" value=(c.and_then(|c| c.description.as_deref()).unwrap_or("")); }
            label { "排序" input name="sort" value=(c.map(|c| c.sort).unwrap_or(0)) size="3" inputmode="numeric"; }
            label { "状态" select name="active" { (active_select(c.is_none_or(|c| c.active))) } }
            button.plain { "保存" }
        }
    }
}

async fn render_categories(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let cats = match state.db.categories().await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let body = html! {
        (flash(error, ok))
        @if user.can(Role::Admin) {
            div.box { h2 style="margin-top:0" { "新增类别" } (category_form(user, None)) }
            @for c in &cats { div.box { (category_form(user, Some(c))) } }
        } @else {
            div.scroll { table {
                tr { th { "代码" } th { "名称" } th { "说明" } th { "状态" } }
                @for c in &cats {
                    tr {
                        td { (c.code) } td { (c.name) } td { (c.description.as_deref().unwrap_or("")) } td { (active_zh(c.active)) }
                    }
                }
            } }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page(user, "/console/categories", "问题类别", body)).into_response()
}

pub async fn save_category(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let Ok(sort) = form.opt("sort").unwrap_or_else(|| "0".into()).parse::<i64>() else {
        return render_categories(&state, &user, Some("排序必须是整数。"), None).await;
    };
    let c = Category {
        code: form.get("code").to_owned(),
        name: form.get("name").to_owned(),
        description: form.opt("description"),
        sort,
        active: form.get("active") != "0",
    };
    match app::reference::save_category(&state.db, c.clone()).await {
        Ok(_) => render_categories(&state, &user, None, Some(&format!("已保存类别 {}。", c.name))).await,
        Err(e) if e.status().is_client_error() => {
            render_categories(&state, &user, Some(&format!("无法保存：{}", refusal_zh(&e))), None).await
        }
        Err(e) => internal(e),
    }
}
