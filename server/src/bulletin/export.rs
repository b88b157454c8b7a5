//! Findings of a period as CSV (for Excel) and GeoJSON (for GIS tools).
//!
//! CSV is UTF-8 with a byte-order mark, because Excel on Chinese Windows
//! reads a BOM-less file as GBK and garbles every character; headers are in
//! Chinese for the people opening it. Cells that a spreadsheet would run as
//! a formula (`=`, `+`, `-`, `@` as the first character after any spaces,
//! full-width `＝＋－＠` included, or a tab or CR first) are prefixed with
//! `'`: notes are typed in the field, and a CSV must not become a way to run
//! code on an office PC.
//!
//! Like bulletins, exports carry no inspector, device or account field.

use serde_json::{Value, json};

/// One finding with its review state and effective values.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: String,
    pub content_hash: String,
    pub observed_ms: i64,
    /// pending, accept, correct or reject.
    pub status: String,
    pub point_id: String,
    pub point_name: String,
    pub point_kind: String,
    pub district: Option<String>,
    pub point_lat: f64,
    pub point_lon: f64,
    pub unit_id: String,
    pub unit_name: String,
    pub category: String,
    pub category_name: String,
    pub card: anfang_core::Card,
    pub note: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub photo_count: u32,
}

pub fn status_zh(status: &str) -> &'static str {
    match status {
        "pending" => "待审核",
        "accept" => "已采纳",
        "correct" => "已更正",
        "reject" => "已驳回",
        _ => "",
    }
}

/// Whether a spreadsheet could read the cell as a formula. Excel and
/// LibreOffice skip leading spaces and accept full-width (and other
/// compatibility) forms of `= + - @`; a tab or CR first is OWASP's list too.
fn formula_like(value: &str) -> bool {
    if value.starts_with(['\t', '\r']) {
        return true;
    }
    let Some(first) = value.chars().find(|c| !c.is_whitespace()) else { return false };
    let mut folded = String::new();
    unicode_normalization::char::decompose_compatible(first, |c| folded.push(c));
    matches!(folded.as_str(), "=" | "+" | "-" | "@")
}

fn cell(out: &mut String, value: &str) {
    let guarded = if formula_like(value) { format!("'{value}") } else { value.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&guarded.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&guarded);
    }
}

const HEADERS: [&str; 18] = [
    "证据编号",
    "内容哈希",
    "发现时间",
    "审核状态",
    "点位编号",
    "点位",
    "点位类型",
    "区域",
    "责任单位编号",
    "责任单位",
    "问题类别编号",
    "问题类别",
    "牌色",
    "问题描述",
    "纬度",
    "经度",
    "定位精度（米）",
    "照片数",
];

fn local(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn kind_zh(kind: &str) -> String {
    kind.parse::<anfang_core::domain::PointKind>().map(|k| k.label_zh().to_owned()).unwrap_or_else(|_| kind.to_owned())
}

/// The CSV's start: the BOM and the header line.
pub fn csv_head() -> String {
    format!("\u{feff}{}\r\n", HEADERS.join(","))
}

/// Appends one CSV line per row (CRLF line ends, RFC 4180).
pub fn csv_rows(out: &mut String, rows: &[ExportRow], tz: &jiff::tz::TimeZone) {
    for r in rows {
        let fields = [
            r.id.clone(),
            r.content_hash.clone(),
            local(r.observed_ms, tz),
            status_zh(&r.status).to_owned(),
            r.point_id.clone(),
            r.point_name.clone(),
            kind_zh(&r.point_kind),
            r.district.clone().unwrap_or_default(),
            r.unit_id.clone(),
            r.unit_name.clone(),
            r.category.clone(),
            r.category_name.clone(),
            r.card.label_zh().to_owned(),
            r.note.clone().unwrap_or_default(),
            r.lat.map(|v| v.to_string()).unwrap_or_default(),
            r.lon.map(|v| v.to_string()).unwrap_or_default(),
            r.accuracy_m.map(|v| v.to_string()).unwrap_or_default(),
            r.photo_count.to_string(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(out, f);
        }
        out.push_str("\r\n");
    }
}

/// What a GeoJSON FeatureCollection opens and closes with around its
/// features ([`geojson_features`]).
pub const GEOJSON_HEAD: &str = r#"{"type":"FeatureCollection","features":["#;
pub const GEOJSON_TAIL: &str = "]}";

/// Appends the rows as comma-separated Features; `written` counts the
/// features already in the collection, across calls, so that the first
/// has no comma before it.
pub fn geojson_features(out: &mut String, rows: &[ExportRow], tz: &jiff::tz::TimeZone, written: &mut usize) {
    for r in rows {
        if *written > 0 {
            out.push(',');
        }
        *written += 1;
        out.push_str(&geojson_feature(r, tz).to_string());
    }
}

/// One finding as a GeoJSON Feature (RFC 7946: [lon, lat]). A finding
/// recorded without a fix is placed at its point, and says so in
/// `position_source` (`recorded` or `point`).
fn geojson_feature(r: &ExportRow, tz: &jiff::tz::TimeZone) -> Value {
    let (lon, lat, source) = match (r.lon, r.lat) {
        (Some(lon), Some(lat)) => (lon, lat, "recorded"),
        _ => (r.point_lon, r.point_lat, "point"),
    };
    json!({
        "type": "Feature",
        "id": r.id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "evidence_id": r.id,
            "content_hash": r.content_hash,
            "observed_at": local(r.observed_ms, tz),
            "status": r.status,
            "status_zh": status_zh(&r.status),
            "point_id": r.point_id,
            "point_name": r.point_name,
            "point_kind": kind_zh(&r.point_kind),
            "district": r.district,
            "unit_id": r.unit_id,
            "unit_name": r.unit_name,
            "category": r.category,
            "category_name": r.category_name,
            "card": r.card,
            "note": r.note,
            "accuracy_m": r.accuracy_m,
            "position_source": source,
            "photo_count": r.photo_count,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole CSV file, as the export route streams it.
    fn csv(rows: &[ExportRow], tz: &jiff::tz::TimeZone) -> Vec<u8> {
        let mut out = csv_head();
        csv_rows(&mut out, rows, tz);
        out.into_bytes()
    }

    /// A whole FeatureCollection, as the export route streams it.
    fn geojson(rows: &[ExportRow], tz: &jiff::tz::TimeZone) -> Value {
        let mut out = GEOJSON_HEAD.to_owned();
        geojson_features(&mut out, rows, tz, &mut 0);
        out.push_str(GEOJSON_TAIL);
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn csv_quotes_separators_and_defuses_formulas() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let row = ExportRow {
            id: "f1".into(),
            content_hash: "ab".into(),
            observed_ms: 0,
            status: "accept".into(),
            point_id: "P1".into(),
            point_name: "大北街".into(),
            point_kind: "main_road".into(),
            district: None,
            point_lat: 31.2,
            point_lon: 107.4,
            unit_id: "U1".into(),
            unit_name: "城管,局".into(),
            category: "parking".into(),
            category_name: "乱停乱放".into(),
            card: anfang_core::Card::Red,
            note: Some("=HYPERLINK(\"x\")".into()),
            lat: None,
            lon: None,
            accuracy_m: None,
            photo_count: 1,
        };
        let text = String::from_utf8(csv(std::slice::from_ref(&row), &tz)).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(text.contains("\"城管,局\""), "{text}");
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert!(text.contains("1970-01-01 08:00:00,已采纳"), "{text}");
        for (note, guarded) in [
            ("  =1+1", "'  =1+1"),
            ("＝1+1", "'＝1+1"),
            ("＋1", "'＋1"),
            ("－1", "'－1"),
            ("＠SUM(A1)", "'＠SUM(A1)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "\"'\r=1+1\""),
            ("\u{3000}=1", "'\u{3000}=1"),
        ] {
            let text = String::from_utf8(csv(&[ExportRow { note: Some(note.into()), ..row.clone() }], &tz)).unwrap();
            let line = text.split("\r\n").nth(1).unwrap();
            assert!(line.contains(&format!(",{guarded},")), "{note:?} must be guarded: {line:?}");
        }
        let plain =
            String::from_utf8(csv(&[ExportRow { note: Some("车 = 3 辆".into()), ..row.clone() }], &tz)).unwrap();
        assert!(plain.contains(",车 = 3 辆,"), "{plain}");
        let geo = geojson(&[row], &tz);
        assert_eq!(geo["features"][0]["geometry"]["coordinates"], json!([107.4, 31.2]));
        assert_eq!(geo["features"][0]["properties"]["position_source"], "point");
    }
}
