//! CSV import of units and points: a city starts with hundreds of them in a
//! spreadsheet. UTF-8, with or without a BOM (Excel writes one), a header
//! row, comma-separated, quoted fields as Excel writes them. Column names may
//! be English or Chinese, in any order:
//!
//! | units        | column names accepted                  | required |
//! | ------------ | -------------------------------------- | -------- |
//! | id           | `id`, `编号`, `单位编号`                 | yes      |
//! | name         | `name`, `名称`, `单位名称`               | yes      |
//! | district     | `district`, `区县`, `所属区县`, `辖区`    | no       |
//! | active       | `active`, `启用`, `状态`                 | no (yes) |
//!
//! | points       | column names accepted                               | required |
//! | ------------ | --------------------------------------------------- | -------- |
//! | id           | `id`, `编号`, `点位编号`                              | yes      |
//! | name         | `name`, `名称`, `点位名称`                            | yes      |
//! | kind         | `kind`, `类型`, `点位类型` (`main_road` or `主次干道`…) | yes      |
//! | unit_id      | `unit_id`, `unit`, `责任单位编号`, `单位编号`           | yes      |
//! | lat, lon     | `lat`/`纬度`, `lon`/`经度` (WGS-84 degrees)            | yes      |
//! | address      | `address`, `地址`                                     | no       |
//! | district     | `district`, `区县`, `所属区县`, `辖区`                 | no       |
//! | leader       | `leader`, `点长`                                      | no       |
//! | active       | `active`, `启用`, `状态` (`1/0`, `是/否`, `启用/停用`)  | no (yes) |
//!
//! No cell may hold a control character (tab and line breaks inside quotes
//! excepted; see `anfang_core::text`).
//!
//! **Invariant:** the whole file is parsed and checked before anything is
//! written; every error names its line (as a spreadsheet numbers it, the
//! header being line 1) and field, and a file with any error writes nothing.

use crate::db::reference_admin::{PointRecord, ReferenceError, check_point, check_unit};
use anfang_core::domain::{Point, PointKind, Unit};
use std::collections::HashMap;

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 20_000;

/// One problem in an import file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, field {}: {}", self.line, self.field, self.message)
    }
}

const UNIT_COLUMNS: &[(&str, &[&str], bool)] = &[
    ("id", &["id", "编号", "单位编号"], true),
    ("name", &["name", "名称", "单位名称"], true),
    ("district", &["district", "区县", "所属区县", "辖区"], false),
    ("active", &["active", "启用", "状态"], false),
];

const POINT_COLUMNS: &[(&str, &[&str], bool)] = &[
    ("id", &["id", "编号", "点位编号"], true),
    ("name", &["name", "名称", "点位名称"], true),
    ("kind", &["kind", "类型", "点位类型"], true),
    ("unit_id", &["unit_id", "unit", "责任单位编号", "单位编号"], true),
    ("lat", &["lat", "纬度"], true),
    ("lon", &["lon", "经度"], true),
    ("address", &["address", "地址"], false),
    ("district", &["district", "区县", "所属区县", "辖区"], false),
    ("leader", &["leader", "点长"], false),
    ("active", &["active", "启用", "状态"], false),
];

struct Table {
    /// (spreadsheet line, field name → value)
    rows: Vec<(u64, HashMap<&'static str, String>)>,
}

fn read(
    text: &str,
    columns: &'static [(&'static str, &'static [&'static str], bool)],
) -> Result<Table, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let err = |line: u64, field: &str, message: String| vec![LineError { line, field: field.into(), message }];
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err(1, "header", format!("cannot read the header row: {e}")))?.clone();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(err(1, "header", "the file is empty; the first line must name the columns".into()));
    }
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().to_lowercase();
        match columns.iter().find(|(_, names, _)| names.contains(&h.as_str())) {
            Some((field, _, _)) => {
                if index.insert(field, i).is_some() {
                    return Err(err(1, field, format!("the column {field} appears twice")));
                }
            }
            None => {
                let known: Vec<&str> = columns.iter().map(|c| c.0).collect();
                return Err(err(1, &h, format!("unknown column {h:?}; the columns are {}", known.join(", "))));
            }
        }
    }
    let missing: Vec<&str> = columns.iter().filter(|(f, _, req)| *req && !index.contains_key(f)).map(|c| c.0).collect();
    if !missing.is_empty() {
        return Err(err(1, missing[0], format!("missing required column(s): {}", missing.join(", "))));
    }
    let mut rows = Vec::new();
    let mut control = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("has {len} fields, the header has {expected_len}")
                    }
                    csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text; save the file as CSV UTF-8".into(),
                    _ => e.to_string(),
                };
                return Err(err(line, "row", message));
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            return Err(err(line, "row", format!("more than {MAX_ROWS} rows; split the file")));
        }
        let values: HashMap<&'static str, String> =
            index.iter().map(|(f, i)| (*f, record.get(*i).unwrap_or("").to_owned())).collect();
        // Every cell ends up in the console, on devices and in bulletins:
        // a control character in any of them is refused (they break DOCX).
        for (field, _, _) in columns {
            if let Some(Err(e)) = values.get(field).map(|v| anfang_core::text::check_text(field, v)) {
                control.push(LineError { line, field: (*field).into(), message: e.message() });
            }
        }
        rows.push((line, values));
    }
    if !control.is_empty() {
        return Err(control);
    }
    if rows.is_empty() {
        return Err(err(2, "row", "the file has a header but no rows".into()));
    }
    Ok(Table { rows })
}

fn opt(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.is_empty()).cloned()
}

fn active(v: Option<&String>) -> Result<bool, String> {
    match v.map(|s| s.trim().to_lowercase()).as_deref() {
        None | Some("") => Ok(true),
        Some("1" | "true" | "yes" | "y" | "是" | "启用" | "有效") => Ok(true),
        Some("0" | "false" | "no" | "n" | "否" | "停用" | "无效") => Ok(false),
        Some(other) => Err(format!("{other:?} is not yes/no; use 1 or 0 (是/否, 启用/停用)")),
    }
}

/// A check's typed error on its line: the error names its own field.
fn on_line(line: u64, e: ReferenceError) -> LineError {
    LineError { line, field: e.field().into(), message: e.to_string() }
}

fn no_duplicates(ids: impl Iterator<Item = (u64, String)>, errors: &mut Vec<LineError>) {
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, id) in ids {
        if let Some(first) = seen.insert(id.clone(), line) {
            errors.push(LineError {
                line,
                field: "id".into(),
                message: format!("id {id:?} already appears on line {first}"),
            });
        }
    }
}

/// Parses and checks a units file; every error at once.
pub fn parse_units(text: &str) -> Result<Vec<Unit>, Vec<LineError>> {
    let table = read(text, UNIT_COLUMNS)?;
    let mut errors = Vec::new();
    let mut units = Vec::new();
    for (line, v) in &table.rows {
        let unit = match active(v.get("active")) {
            Ok(active) => {
                Unit { id: v["id"].clone(), name: v["name"].clone(), district: opt(v.get("district")), active }
            }
            Err(m) => {
                errors.push(LineError { line: *line, field: "active".into(), message: m });
                continue;
            }
        };
        match check_unit(&unit) {
            Ok(()) => units.push((*line, unit)),
            Err(e) => errors.push(on_line(*line, e)),
        }
    }
    no_duplicates(units.iter().map(|(l, u)| (*l, u.id.clone())), &mut errors);
    if errors.is_empty() { Ok(units.into_iter().map(|(_, u)| u).collect()) } else { Err(errors) }
}

/// Parses and checks a points file (not yet whether each unit exists: that
/// is the database's to say). Returns the points and their lines.
pub fn parse_points(text: &str) -> Result<Vec<(u64, PointRecord)>, Vec<LineError>> {
    let table = read(text, POINT_COLUMNS)?;
    let mut errors = Vec::new();
    let mut points = Vec::new();
    for (line, v) in &table.rows {
        let line = *line;
        let mut row_errors = Vec::new();
        let kind = v["kind"].parse::<PointKind>().map_err(|_| {
            let known: Vec<String> =
                PointKind::ALL.iter().map(|k| format!("{} ({})", k.as_str(), k.label_zh())).collect();
            LineError {
                line,
                field: "kind".into(),
                message: format!("unknown point kind {:?}; use one of {}", v["kind"], known.join(", ")),
            }
        });
        let coord = |field: &str| {
            v[field].parse::<f64>().map_err(|_| LineError {
                line,
                field: field.into(),
                message: format!("{:?} is not a number in decimal degrees, e.g. 31.2090", v[field]),
            })
        };
        let (lat, lon) = (coord("lat"), coord("lon"));
        let active = active(v.get("active")).map_err(|m| LineError { line, field: "active".into(), message: m });
        let (kind, lat, lon, active) = match (kind, lat, lon, active) {
            (Ok(k), Ok(a), Ok(o), Ok(act)) => (k, a, o, act),
            (k, a, o, act) => {
                row_errors.extend([k.err(), a.err(), o.err(), act.err()].into_iter().flatten());
                errors.extend(row_errors);
                continue;
            }
        };
        let point = Point {
            id: v["id"].clone(),
            name: v["name"].clone(),
            kind,
            unit_id: v["unit_id"].clone(),
            lat,
            lon,
            address: opt(v.get("address")),
            district: opt(v.get("district")),
            active,
        };
        if point.unit_id.is_empty() {
            errors.push(LineError {
                line,
                field: "unit_id".into(),
                message: "the responsible unit's id is empty".into(),
            });
            continue;
        }
        match check_point(&point) {
            Ok(()) => points.push((line, PointRecord { point, leader: opt(v.get("leader")) })),
            Err(e) => errors.push(on_line(line, e)),
        }
    }
    no_duplicates(points.iter().map(|(l, p)| (*l, p.point.id.clone())), &mut errors);
    if errors.is_empty() { Ok(points) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_with_a_bom_and_chinese_headers() {
        let text = "\u{feff}单位编号,单位名称,区县,启用\r\nU90,测试单位,通川区,是\r\nU91,\"另一个, 单位\",,否\r\n";
        let units = parse_units(text).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[1].name, "另一个, 单位");
        assert_eq!(units[0].district.as_deref(), Some("通川区"));
        assert!(!units[1].active);
    }

    #[test]
    fn every_bad_point_row_is_named_by_line_and_field() {
        let text = "id,name,kind,unit_id,lat,lon,leader\nP900,好点位,main_road,U01,31.2,107.4,张三\nP901,坏纬度,主次干道,U01,north,107.4,\nP902,坏类型,spaceport,U01,31.2,107.4,\nP900,重复,market,U01,31.2,107.4,\n";
        let errors = parse_points(text).unwrap_err();
        let named: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert!(named.contains(&(3, "lat")), "{errors:?}");
        assert!(named.contains(&(4, "kind")), "{errors:?}");
        assert!(named.contains(&(5, "id")), "{errors:?}");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn a_control_character_in_any_cell_is_refused_with_line_and_field() {
        let e = parse_units("id,name,district\nU90,测试\u{1}单位,\nU91,好单位,通\u{B}川区\n").unwrap_err();
        let named: Vec<(u64, &str)> = e.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(named, [(2, "name"), (3, "district")], "{e:?}");
        assert!(e[0].message.contains("U+0001"), "{e:?}");
        let e = parse_points("id,name,kind,unit_id,lat,lon,leader\nP900,好点位,market,U01,31.2,107.4,张\u{7}三\n")
            .unwrap_err();
        assert_eq!((e[0].line, e[0].field.as_str()), (2, "leader"), "{e:?}");
        // A line break inside a quoted cell is text, not a control character.
        assert!(parse_units("id,name\nU90,\"两行\r\n名称\"\n").is_ok());
    }

    #[test]
    fn a_missing_column_or_ragged_row_is_refused() {
        let e = parse_points("id,name,kind,lat,lon\nP1,x,market,1,2\n").unwrap_err();
        assert_eq!((e[0].line, e[0].field.as_str()), (1, "unit_id"), "{e:?}");
        let e = parse_units("id,name\nU1,a\nU2,b,extra\n").unwrap_err();
        assert_eq!(e[0].line, 3, "{e:?}");
    }
}
