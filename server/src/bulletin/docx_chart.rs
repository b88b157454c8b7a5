//! Native Word charts for the DOCX bulletin: DrawingML `c:chart` parts with
//! their data cached in the chart and embedded as a small workbook, so Word
//! and WPS draw real Chinese labels, and an office that edits the bulletin
//! before sending it can restyle the chart or correct its data in place
//! (右键 → 编辑数据), as with a chart it made itself.
//!
//! The cards are told apart without colour too (offices print in grey):
//! red is solid, yellow is hatched, green is dotted, and each bar carries
//! its count.

use super::Bar;
use crate::html::esc;
use std::fmt::Write as _;
use std::io::Write as _;

/// One chart: its part and the workbook behind it.
pub struct ChartPart {
    pub xml: String,
    pub workbook: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Horizontal bars, categories top to bottom (units: long names).
    Bar,
    /// Vertical columns, categories left to right (days).
    Column,
}

/// How each card's series is filled: colour for the screen, and a pattern
/// that survives a grey printout.
const SERIES: [(&str, &str); 3] = [
    ("红牌", r#"<a:solidFill><a:srgbClr val="C8102E"/></a:solidFill>"#),
    (
        "黄牌",
        r#"<a:pattFill prst="wdUpDiag"><a:fgClr><a:srgbClr val="B88600"/></a:fgClr><a:bgClr><a:srgbClr val="FFE27A"/></a:bgClr></a:pattFill>"#,
    ),
    (
        "绿牌",
        r#"<a:pattFill prst="pct20"><a:fgClr><a:srgbClr val="1E6B41"/></a:fgClr><a:bgClr><a:srgbClr val="D8F0E0"/></a:bgClr></a:pattFill>"#,
    ),
];
const LINE: [&str; 3] = ["8A0B20", "B88600", "1E6B41"];

/// The chart's text: 仿宋 for labels, like the body; `sz` in hundredths of a point.
fn text_props(sz: u32) -> String {
    text_props_rotated(sz, 0)
}

/// As [`text_props`], turned by `rot` (60000ths of a degree, negative is
/// anticlockwise): a month of dates fits under its columns at -45°.
fn text_props_rotated(sz: u32, rot: i32) -> String {
    let body = if rot == 0 { "<a:bodyPr/>".to_owned() } else { format!(r#"<a:bodyPr rot="{rot}" vert="horz"/>"#) };
    format!(
        r#"<c:txPr>{body}<a:lstStyle/><a:p><a:pPr><a:defRPr sz="{sz}"><a:latin typeface="仿宋"/><a:ea typeface="仿宋"/><a:cs typeface="仿宋"/></a:defRPr></a:pPr><a:endParaRPr lang="zh-CN"/></a:p></c:txPr>"#
    )
}

fn column(i: usize) -> char {
    (b'A' + i as u8) as char
}

/// One series of a bar chart: its name, its fill and outline, the colour
/// of the numbers drawn on it, and a value per category.
pub struct Series {
    pub name: String,
    pub fill: String,
    pub line: &'static str,
    pub label_color: &'static str,
    pub values: Vec<i64>,
}

/// A stacked bar chart of red, yellow and green counts per category.
pub fn stacked_cards(
    category_head: &str,
    bars: &[Bar],
    direction: Direction,
) -> Result<ChartPart, zip::result::ZipError> {
    let series: Vec<Series> = SERIES
        .iter()
        .enumerate()
        .map(|(s, (name, fill))| Series {
            name: (*name).to_owned(),
            fill: (*fill).to_owned(),
            line: LINE[s],
            label_color: if s == 0 { "FFFFFF" } else { "000000" },
            values: bars.iter().map(|b| i64::from([b.red, b.yellow, b.green][s])).collect(),
        })
        .collect();
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    stacked(category_head, &labels, &series, direction, true)
}

/// A stacked bar chart of any series (one series is a plain bar chart).
/// `from_zero`: the value axis starts at 0; otherwise it follows the data
/// (a movement chart has bars left of zero).
pub fn stacked(
    category_head: &str,
    labels: &[String],
    series: &[Series],
    direction: Direction,
    from_zero: bool,
) -> Result<ChartPart, zip::result::ZipError> {
    let n = labels.len();
    let last_row = n + 1;
    let mut xml = String::with_capacity(4096 + n * 400);
    xml.push_str(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><c:date1904 val="0"/><c:lang val="zh-CN"/><c:roundedCorners val="0"/><c:chart><c:autoTitleDeleted val="1"/><c:plotArea><c:layout/><c:barChart>"#,
    );
    let dir = if direction == Direction::Bar { "bar" } else { "col" };
    let _ = write!(xml, r#"<c:barDir val="{dir}"/><c:grouping val="stacked"/><c:varyColors val="0"/>"#);
    let mut categories = format!(r#"<c:strRef><c:f>Sheet1!$A$2:$A${last_row}</c:f><c:strCache><c:ptCount val="{n}"/>"#);
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(categories, r#"<c:pt idx="{i}"><c:v>{}</c:v></c:pt>"#, esc(label));
    }
    categories.push_str("</c:strCache></c:strRef>");
    for (s, ser) in series.iter().enumerate() {
        let col = column(s + 1);
        let _ = write!(
            xml,
            r#"<c:ser><c:idx val="{s}"/><c:order val="{s}"/><c:tx><c:strRef><c:f>Sheet1!${col}$1</c:f><c:strCache><c:ptCount val="1"/><c:pt idx="0"><c:v>{name}</c:v></c:pt></c:strCache></c:strRef></c:tx><c:spPr>{fill}<a:ln w="6350"><a:solidFill><a:srgbClr val="{line}"/></a:solidFill></a:ln></c:spPr><c:invertIfNegative val="0"/>"#,
            name = esc(&ser.name),
            fill = ser.fill,
            line = ser.line
        );
        // Values on the bars; a zero shows nothing (format `0;-0;;`).
        let label_color = ser.label_color;
        let _ = write!(
            xml,
            r#"<c:dLbls><c:numFmt formatCode="0;-0;;" sourceLinked="0"/><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr><c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="900" b="1"><a:solidFill><a:srgbClr val="{label_color}"/></a:solidFill></a:defRPr></a:pPr><a:endParaRPr lang="zh-CN"/></a:p></c:txPr><c:dLblPos val="ctr"/><c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>"#
        );
        let _ = write!(xml, "<c:cat>{categories}</c:cat>");
        let _ = write!(
            xml,
            r#"<c:val><c:numRef><c:f>Sheet1!${col}$2:${col}${last_row}</c:f><c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="{n}"/>"#
        );
        for (i, v) in ser.values.iter().enumerate() {
            let _ = write!(xml, r#"<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>"#);
        }
        xml.push_str("</c:numCache></c:numRef></c:val></c:ser>");
    }
    let gap = if direction == Direction::Bar { 50 } else { 40 };
    let _ = write!(
        xml,
        r#"<c:gapWidth val="{gap}"/><c:overlap val="100"/><c:axId val="5001"/><c:axId val="5002"/></c:barChart>"#
    );
    // Units read top to bottom in table order (reversed category axis, the
    // value axis kept at the bottom); days left to right.
    let (cat_pos, val_pos, orientation, val_crosses) = match direction {
        Direction::Bar => ("l", "b", "maxMin", "max"),
        Direction::Column => ("b", "l", "minMax", "autoZero"),
    };
    let grey_line = r#"<c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="808080"/></a:solidFill></a:ln></c:spPr>"#;
    // Dates under columns: turned once there are more than ten, and every
    // other one past a month (a period of up to 62 days).
    let (cat_text, skip) = match direction {
        Direction::Column if n > 10 => (text_props_rotated(900, -2_700_000), n.div_ceil(31)),
        _ => (text_props(1000), 1),
    };
    // With bars left of zero, the names go at the chart's edge ("low"),
    // not beside the axis, where the falls would cover them.
    let cat_labels = if from_zero { "nextTo" } else { "low" };
    let _ = write!(
        xml,
        r#"<c:catAx><c:axId val="5001"/><c:scaling><c:orientation val="{orientation}"/></c:scaling><c:delete val="0"/><c:axPos val="{cat_pos}"/><c:numFmt formatCode="General" sourceLinked="0"/><c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="{cat_labels}"/>{grey_line}{cat_text}<c:crossAx val="5002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/><c:tickLblSkip val="{skip}"/><c:noMultiLvlLbl val="0"/></c:catAx>"#
    );
    let _ = write!(
        xml,
        r#"<c:valAx><c:axId val="5002"/><c:scaling><c:orientation val="minMax"/>{min}</c:scaling><c:delete val="0"/><c:axPos val="{val_pos}"/><c:majorGridlines><c:spPr><a:ln w="3175"><a:solidFill><a:srgbClr val="D9D9D9"/></a:solidFill></a:ln></c:spPr></c:majorGridlines><c:numFmt formatCode="0" sourceLinked="0"/><c:majorTickMark val="none"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>{grey_line}{}<c:crossAx val="5001"/><c:crosses val="{val_crosses}"/><c:crossBetween val="between"/></c:valAx>"#,
        text_props(900),
        min = if from_zero { r#"<c:min val="0"/>"# } else { "" }
    );
    let _ = write!(
        xml,
        r#"</c:plotArea><c:legend><c:legendPos val="t"/><c:overlay val="0"/>{}</c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>{}<c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData></c:chartSpace>"#,
        text_props(1000),
        text_props(1000)
    );
    let workbook = workbook(category_head, labels, series)?;
    Ok(ChartPart { xml, workbook })
}

/// The chart's data as a one-sheet workbook: what Word opens on 编辑数据.
fn workbook(category_head: &str, labels: &[String], series: &[Series]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    let text = |r: usize, c: usize, t: &str| {
        format!(r#"<c r="{}{r}" t="inlineStr"><is><t>{}</t></is></c>"#, column(c), esc(t))
    };
    let _ = write!(sheet, r#"<row r="1">{}"#, text(1, 0, category_head));
    for (s, ser) in series.iter().enumerate() {
        sheet.push_str(&text(1, s + 1, &ser.name));
    }
    sheet.push_str("</row>");
    for (i, label) in labels.iter().enumerate() {
        let r = i + 2;
        let _ = write!(sheet, r#"<row r="{r}">{}"#, text(r, 0, label));
        for (s, ser) in series.iter().enumerate() {
            let v = ser.values.get(i).copied().unwrap_or(0);
            let _ = write!(sheet, r#"<c r="{}{r}"><v>{v}</v></c>"#, column(s + 1));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let parts: [(&str, &str); 5] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
        ("xl/worksheets/sheet1.xml", &sheet),
    ];
    for (name, data) in parts {
        zip.start_file(name, opts)?;
        zip.write_all(data.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

/// The chart's height for `n` categories in a chart of `width_cm`: units get
/// a fixed band per bar (a short list stays short, fifteen units stay
/// readable), days a fixed landscape proportion whatever their number.
pub fn height_cm(direction: Direction, n: usize, width_cm: f64) -> f64 {
    match direction {
        Direction::Bar => 2.2 + 0.75 * n.max(1) as f64,
        Direction::Column => width_cm * 0.45,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars() -> Vec<Bar> {
        vec![
            Bar { label: "市城市管理局".into(), red: 2, yellow: 1, green: 0 },
            Bar { label: "渝中区<解放碑>街道".into(), red: 0, yellow: 3, green: 5 },
        ]
    }

    #[test]
    fn a_chart_part_parses_and_carries_chinese_categories_and_three_card_series() {
        let part = stacked_cards("责任单位", &bars(), Direction::Bar).unwrap();
        let doc = roxmltree::Document::parse(&part.xml).unwrap();
        let c = "http://schemas.openxmlformats.org/drawingml/2006/chart";
        let series: Vec<_> = doc.descendants().filter(|n| n.has_tag_name((c, "ser"))).collect();
        assert_eq!(series.len(), 3);
        let names: Vec<_> = series
            .iter()
            .map(|s| {
                s.descendants()
                    .find(|n| n.has_tag_name((c, "tx")))
                    .unwrap()
                    .descendants()
                    .find(|n| n.has_tag_name((c, "v")))
                    .unwrap()
                    .text()
                    .unwrap()
            })
            .collect();
        assert_eq!(names, ["红牌", "黄牌", "绿牌"]);
        let cats: Vec<_> = series[0]
            .descendants()
            .find(|n| n.has_tag_name((c, "cat")))
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name((c, "v")))
            .map(|n| n.text().unwrap().to_owned())
            .collect();
        assert_eq!(cats, ["市城市管理局", "渝中区<解放碑>街道"]);
        let yellow: Vec<_> = series[1]
            .descendants()
            .find(|n| n.has_tag_name((c, "val")))
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name((c, "v")))
            .map(|n| n.text().unwrap().to_owned())
            .collect();
        assert_eq!(yellow, ["1", "3"]);
        assert!(part.xml.contains(r#"<a:pattFill prst="wdUpDiag">"#), "yellow is hatched for grey printouts");
    }

    #[test]
    fn the_embedded_workbook_holds_the_same_table() {
        let part = stacked_cards("日期", &bars(), Direction::Column).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(part.workbook)).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
        roxmltree::Document::parse(&sheet).unwrap();
        for cell in [
            "<t>日期</t>",
            "<t>红牌</t>",
            "<t>市城市管理局</t>",
            "<t>渝中区&lt;解放碑&gt;街道</t>",
            r#"<c r="D3"><v>5</v></c>"#,
        ] {
            assert!(sheet.contains(cell), "{cell} missing: {sheet}");
        }
    }

    #[test]
    fn chart_height_does_not_grow_with_the_number_of_days() {
        assert_eq!(height_cm(Direction::Column, 1, 15.0), height_cm(Direction::Column, 31, 15.0));
        assert!(height_cm(Direction::Bar, 15, 15.0) < 14.0);
        assert!(height_cm(Direction::Bar, 1, 15.0) < 3.5);
    }
}
