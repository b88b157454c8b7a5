//! The inspection bulletin end to end: real server, real devices, real
//! SQLite files. Findings are recorded on enrolled devices at fixed past
//! times and synced; review states are written straight into the server's
//! database as revisions with fixed decision dates (the review API stamps
//! "now", and deadlines are computed from the decision date). Such rows are
//! not in the evidence log, so the `verify` test reviews through the API.
//!
//! The fixed data set, month 2026-10 (Asia/Shanghai), demo points:
//!
//! | # | point (unit)   | captured     | review                                   |
//! |---|----------------|--------------|------------------------------------------|
//! | 1 | P001 (U03)     | yellow 10-03 | accept                                   |
//! | 2 | P001 (U03)     | green 10-10  | accept                                   |
//! | 3 | P001 (U03)     | green 10-17  | accept                                   |
//! | 4 | P002 (U03)     | red 10-05    | accept (decided 10-05)                   |
//! | 5 | P002 (U03)     | green 10-12  | accept                                   |
//! | 6 | P003 (U08)     | yellow 10-06 | correct → red (decided 10-06)            |
//! | 7 | P003 (U08)     | green 10-13  | accept                                   |
//! | 8 | P018 (U04)     | yellow 10-07 | reject                                   |
//! | 9 | P018 (U04)     | green 10-08  | pending                                  |
//! |10 | P018 (U04)     | red 10-09    | correct → unit U05, street_vending, yellow (decided 10-10) |
//! |11 | P001 (U03)     | red 09-15    | accept (previous month)                  |
//! |12 | P002 (U03)     | yellow 09-20 | accept (previous month)                  |

mod common;

use anfang_core::clock::Clock;
use anfang_core::store::NewFinding;
use anfang_core::{Card, FindingContent, Location};
use common::*;
use serde_json::{Value, json};
use std::io::Read;

struct At(jiff::Timestamp);
impl Clock for At {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

/// Local Shanghai time on a day of 2026.
fn local(month: i8, day: i8, hour: i8) -> jiff::Timestamp {
    jiff::civil::date(2026, month, day)
        .at(hour, 0, 0, 0)
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    token: String,
    /// Findings in table order (index 0 = #1).
    findings: Vec<FindingContent>,
    /// What must never appear in any output.
    secrets: Vec<String>,
}

fn record(
    device: &mut Device,
    point: &str,
    category: &str,
    card: Card,
    at: jiff::Timestamp,
    seed: u32,
) -> FindingContent {
    let p = device.store.point(point).unwrap().expect("demo point");
    let photos = if card == Card::Green { vec![] } else { vec![processed(seed, 640, 480)] };
    device
        .store
        .record_finding(
            NewFinding {
                point_id: point.into(),
                unit_id: None,
                category: category.into(),
                card,
                note: Some(format!("问题{seed}：人行道停车")),
                location: Some(Location { lat: p.lat + 0.0001, lon: p.lon, accuracy_m: 6.0, captured_at: at }),
                photos,
            },
            &At(at),
        )
        .expect("record")
}

/// The public reference a bulletin prints for a finding.
fn public_ref(server: &Server, f: &FindingContent) -> String {
    db(server)
        .query_row("SELECT public_ref FROM finding_public_refs WHERE finding_id = ?1", [f.id.to_string()], |r| r.get(0))
        .unwrap()
}

/// Whether `text` holds a UUIDv7 (8-4-4-4-12 hex digits, version 7), which
/// carries its creation millisecond.
fn has_uuid_v7(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        let w = &b[i..i + 36];
        w.iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'7',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

fn db(server: &Server) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(server.data_dir.join("anfang.sqlite3")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

/// Records a review revision as the office would.
fn review(
    server: &Server,
    f: &FindingContent,
    decision: &str,
    change: Option<(&str, &str, &str)>,
    decided: jiff::Timestamp,
) {
    let c = db(server);
    let (category, unit, card) = change.unwrap_or((&f.category, &f.unit_id, f.card.as_str()));
    let reason = (decision != "accept").then_some("审核意见");
    c.execute(
        "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason, reviewer_id, decided_at)
         VALUES (?1, (SELECT coalesce(max(revision), 0) + 1 FROM finding_reviews WHERE finding_id = ?1), ?2, ?3, ?4, ?5, ?6,
                 (SELECT id FROM users WHERE username = 'admin'), ?7)",
        rusqlite::params![f.id.to_string(), decision, category, unit, card, reason, decided.to_string()],
    )
    .unwrap();
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let mut a = Device::enroll(&server, 0).await;
    let mut b = Device::enroll(&server, 1).await;
    let rows: [(usize, &str, &str, Card, jiff::Timestamp); 12] = [
        (0, "P001", "parking", Card::Yellow, local(10, 3, 8)),
        (1, "P001", "parking", Card::Green, local(10, 10, 7)),
        (0, "P001", "parking", Card::Green, local(10, 17, 19)),
        (1, "P002", "parking", Card::Red, local(10, 5, 7)),
        (0, "P002", "parking", Card::Green, local(10, 12, 18)),
        (1, "P003", "parking", Card::Yellow, local(10, 6, 8)),
        (0, "P003", "parking", Card::Green, local(10, 13, 8)),
        (1, "P018", "parking", Card::Yellow, local(10, 7, 7)),
        (0, "P018", "parking", Card::Green, local(10, 8, 7)),
        (1, "P018", "parking", Card::Red, local(10, 9, 20)),
        (0, "P001", "parking", Card::Red, local(9, 15, 8)),
        (1, "P002", "parking", Card::Yellow, local(9, 20, 8)),
    ];
    let mut findings = Vec::new();
    for (i, (dev, point, category, card, at)) in rows.into_iter().enumerate() {
        let device = if dev == 0 { &mut a } else { &mut b };
        findings.push(record(device, point, category, card, at, i as u32 + 1));
    }
    assert_eq!(a.sync_via(&server.url(), fast()).await.findings_pushed, 6);
    assert_eq!(b.sync_via(&server.url(), fast()).await.findings_pushed, 6);
    let f = &findings;
    let at = |m, d| local(m, d, 12);
    for i in [0, 1, 2, 4, 6] {
        review(&server, &f[i], "accept", None, at(10, 20));
    }
    review(&server, &f[3], "accept", None, at(10, 5));
    // #6: first accepted as captured, then corrected to red: the latest revision counts.
    review(&server, &f[5], "accept", None, at(10, 6));
    review(&server, &f[5], "correct", Some(("parking", "U08", "red")), at(10, 6));
    review(&server, &f[7], "reject", None, at(10, 8));
    review(&server, &f[9], "correct", Some(("street_vending", "U05", "yellow")), at(10, 10));
    review(&server, &f[10], "accept", None, at(9, 16));
    review(&server, &f[11], "accept", None, at(9, 21));

    let token = server.admin_token().await;
    let mut secrets: Vec<String> = Vec::new();
    for d in [&a, &b] {
        let e = d.store.enrollment().unwrap().unwrap();
        secrets.push(e.alias.clone());
        secrets.push(e.device_id.clone());
        secrets.push(e.token.clone());
        secrets.push(d.store.device_key().unwrap().public_key_hex());
    }
    for (alias, code) in &server.demo.codes {
        secrets.push(alias.clone());
        secrets.push(code.clone());
        secrets.push(code.replace('-', ""));
    }
    secrets.push("test phone".into());
    Fixture { _dir: dir, server, token, findings, secrets }
}

async fn call(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Vec<u8>) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.url())).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap().to_vec())
}

async fn json_call(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, bytes) = call(server, token, method, path, body).await;
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

async fn create(f: &Fixture, kind: &str, from: &str, to: &str) -> Value {
    let (status, v) = json_call(
        &f.server,
        &f.token,
        reqwest::Method::POST,
        "/api/v1/bulletins",
        Some(json!({"kind": kind, "from": from, "to": to})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"], "draft");
    v
}

async fn issue(f: &Fixture, id: i64) -> (u16, Value) {
    json_call(&f.server, &f.token, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/issue"), None).await
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    (0..zip.len())
        .map(|i| {
            let mut e = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.name().unwrap().into_owned(), data)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletins_are_edited_as_drafts_and_issued_with_gapless_numbers() {
    let f = fixture().await;
    let month = create(&f, "month", "2026-10-01", "2026-10-31").await;
    let month_id = month["id"].as_i64().unwrap();
    assert!(month["number"].is_null(), "a draft has no number: {month}");

    let path = format!("/api/v1/bulletins/{month_id}");
    let (status, edited) = json_call(
        &f.server,
        &f.token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"title": "关于十月暗访督查情况的通报", "distribution": "市委、市政府领导，各责任单位，各区"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["bulletin"]["title"], "关于十月暗访督查情况的通报");
    assert_eq!(edited["bulletin"]["distribution"], "市委、市政府领导，各责任单位，各区");
    assert!(edited["bulletin"]["lead"].as_str().unwrap().contains("三不三无"), "the default lead stays: {edited}");
    // A bulletin may not name an inspector: refused with the reason, nothing changed.
    let (status, refused) = json_call(
        &f.server,
        &f.token,
        reqwest::Method::PATCH,
        &path,
        Some(json!({"closing": "感谢督查01 的辛苦工作。"})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.to_string().contains("names the inspector alias 督查01"), "{refused}");
    let (_, after) = json_call(&f.server, &f.token, reqwest::Method::GET, &path, None).await;
    assert!(!after.to_string().contains("督查01"), "nothing was written: {after}");

    // A draft made in between is never issued and must not take a number.
    let week = create(&f, "week", "2026-10-05", "2026-10-11").await;
    let (status, first) = issue(&f, month_id).await;
    let y = office_now().year();
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["number"], format!("[{y}] 第 1 期"));
    assert_eq!(first["sequence"], 1);

    // The JSON format of an issued bulletin is the snapshot its hash covers.
    let (status, snapshot) =
        call(&f.server, &f.token, reqwest::Method::GET, &format!("{path}/bulletin.json"), None).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&snapshot), first["content_hash"].as_str().unwrap());
    let snap: Value = serde_json::from_slice(&snapshot).unwrap();
    assert_eq!(snap["header"]["number"], format!("[{y}] 第 1 期"));
    assert_eq!(snap["title"], "关于十月暗访督查情况的通报", "the edit is in the issued text");

    // Issued means frozen: edit, recompile and issue again are refused with 409.
    for (method, p, body) in [
        (reqwest::Method::PATCH, path.clone(), Some(json!({"title": "改标题"}))),
        (reqwest::Method::POST, format!("{path}/recompile"), None),
        (reqwest::Method::POST, format!("{path}/issue"), None),
    ] {
        let (status, err) = json_call(&f.server, &f.token, method.clone(), &p, body).await;
        assert_eq!(status, 409, "{method} {p}: {err}");
        assert!(err["error"].as_str().unwrap().contains("was issued as"), "{err}");
    }
    let (_, again) = call(&f.server, &f.token, reqwest::Method::GET, &format!("{path}/bulletin.json"), None).await;
    assert_eq!(again, snapshot, "an issued bulletin never changes");

    // The database itself refuses to alter an issued bulletin.
    let err = db(&f.server).execute("UPDATE bulletins SET title = 'x' WHERE id = ?1", [month_id]).unwrap_err();
    assert!(err.to_string().contains("never changed"), "{err}");

    let day = create(&f, "day", "2026-10-05", "2026-10-05").await;
    let (_, second) = issue(&f, day["id"].as_i64().unwrap()).await;
    assert_eq!(second["number"], format!("[{y}] 第 2 期"), "the draft in between took no number");
    let (_, third) = issue(&f, week["id"].as_i64().unwrap()).await;
    assert_eq!(third["sequence"], 3);

    // Each issue is in the evidence log with its content hash.
    let logged: Vec<(String, String)> = db(&f.server)
        .prepare("SELECT record_id, record_hash FROM evidence_log WHERE kind = 'bulletin_issue' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(logged.len(), 3);
    assert_eq!(logged[0], (format!("bulletin/{month_id}"), first["content_hash"].as_str().unwrap().to_owned()));

    let (_, list) = json_call(&f.server, &f.token, reqwest::Method::GET, "/api/v1/bulletins", None).await;
    let numbers: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|b| b["number"].as_str()).collect();
    assert_eq!(numbers.len(), 3, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_bulletin_counts_ranks_and_compares_as_computed_by_hand() {
    let f = fixture().await;
    let v = create(&f, "month", "2026-10-01", "2026-10-31").await;
    let b = &v["bulletin"];
    // Bulletins name findings by their public reference, never their id.
    let fid = |i: usize| public_ref(&f.server, &f.findings[i - 1]);

    // Summary: accepted #1-5, #7, and corrected #6 (red) and #10 (yellow).
    let s = &b["summary"];
    assert_eq!(
        s["current"],
        json!({"points_inspected": 4, "findings": 8, "problems": 4, "red": 2, "yellow": 2, "green": 4, "units_involved": 3})
    );
    assert_eq!(
        s["previous"],
        json!({"points_inspected": 2, "findings": 2, "problems": 2, "red": 1, "yellow": 1, "green": 0, "units_involved": 1})
    );
    assert_eq!(b["previous_period"]["from"], "2026-09-01");
    assert_eq!(b["previous_period"]["to"], "2026-09-30");
    let cats: Vec<(String, u64, u64)> = s["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["key"].as_str().unwrap().to_owned(), r["total"].as_u64().unwrap(), r["previous_total"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(cats, vec![("parking".into(), 7, 2), ("street_vending".into(), 1, 0)]);

    // Rejected (#8) and pending (#9) findings are nowhere.
    let text = b.to_string();
    assert!(!text.contains(&fid(8)) && !text.contains(&fid(9)), "rejected or pending finding in the bulletin");
    assert!(text.contains(&fid(1)) && text.contains(&fid(10)));

    // Rankings: points P001 2/3; P002 1/2 and P003 1/2 tie; P018 0/1 (only #10 counts).
    let pts: Vec<(String, u64, f64)> = b["rankings"]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["rank"].as_u64().unwrap(), r["rate"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        pts,
        vec![("P001".into(), 1, 0.6667), ("P002".into(), 2, 0.5), ("P003".into(), 2, 0.5), ("P018".into(), 4, 0.0)]
    );
    // Units by effective unit: U03 3/5, U08 1/2, U05 0/1 (#10 moved from U04 to U05; U04 has nothing).
    let units: Vec<(String, u64, u64, f64)> = b["rankings"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["rank"].as_u64().unwrap(),
                r["visits"].as_u64().unwrap(),
                r["rate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(units, vec![("U03".into(), 1, 5, 0.6), ("U08".into(), 2, 2, 0.5), ("U05".into(), 3, 1, 0.0)]);
    // Ten worst: deduction = red × 3 + yellow × 1: U03 1×3+1 = 4, U08 1×3 = 3, U05 1.
    let worst = &b["rankings"]["worst_units"];
    assert!(worst["formula"].as_str().unwrap().contains("红牌数 × 3 + 黄牌数 × 1"), "{worst}");
    let w: Vec<(String, u64)> = worst["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["unit_id"].as_str().unwrap().to_owned(), r["deduction"].as_u64().unwrap()))
        .collect();
    assert_eq!(w, vec![("U03".into(), 4), ("U08".into(), 3), ("U05".into(), 1)]);

    // Red list uses corrected cards: #4 (captured red) and #6 (corrected to red), by time.
    let red: Vec<&str> = b["red_list"].as_array().unwrap().iter().map(|r| r["evidence_id"].as_str().unwrap()).collect();
    assert_eq!(red, vec![fid(4).as_str(), fid(6).as_str()]);
    assert_eq!(b["red_list"][0]["deadline"], "2026-10-08", "red: accepted 10-05 + 3 days");
    assert_eq!(b["red_list"][1]["deadline"], "2026-10-09", "corrected 10-06 + 3 days");
    assert_eq!(b["overdue"], json!([]));

    // #10 is listed under its corrected unit, category and card, with a yellow deadline.
    let u05 = b["units"].as_array().unwrap().iter().find(|u| u["unit_id"] == "U05").expect("U05 section");
    let e = &u05["findings"][0];
    assert_eq!(
        (e["evidence_id"].as_str().unwrap(), e["card"].as_str().unwrap(), e["category"].as_str().unwrap()),
        (fid(10).as_str(), "yellow", "street_vending")
    );
    assert_eq!(e["decision"], "correct");
    assert_eq!(e["deadline"], "2026-10-17");
    assert_eq!(e["short_hash"].as_str().unwrap(), &f.findings[9].content_hash()[..12]);
    assert!(b["units"].as_array().unwrap().iter().all(|u| u["unit_id"] != "U04"), "U04 lost its only counted finding");

    // A week bulletin has no ten-worst list and compares with the 7 days before.
    let week = create(&f, "week", "2026-10-05", "2026-10-11").await;
    assert!(week["bulletin"]["rankings"]["worst_units"].is_null());
    assert_eq!(week["bulletin"]["previous_period"]["from"], "2026-09-28");
    assert_eq!(
        week["bulletin"]["summary"]["current"]["findings"], 4,
        "#2, #4, #6 and #10: {}",
        week["bulletin"]["summary"]
    );

    // A review recorded after compiling shows up on recompile.
    review(&f.server, &f.findings[8], "accept", None, local(10, 20, 12));
    let id = v["id"].as_i64().unwrap();
    let (status, re) =
        json_call(&f.server, &f.token, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/recompile"), None).await;
    assert_eq!(status, 200, "{re}");
    assert_eq!(re["bulletin"]["summary"]["current"]["green"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docx_is_a_word_document_with_number_photos_charts_and_page_numbers() {
    let f = fixture().await;
    let v = create(&f, "month", "2026-10-01", "2026-10-31").await;
    let id = v["id"].as_i64().unwrap();
    let (_, issued) = issue(&f, id).await;
    let (status, docx) =
        call(&f.server, &f.token, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.docx"), None).await;
    assert_eq!(status, 200);
    if let Ok(dir) = std::env::var("ANFANG_SAMPLE_DIR") {
        // scripts/test converts this with LibreOffice when it is installed.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("bulletin.docx"), &docx).unwrap();
    }
    let entries = unzip(&docx);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    for part in [
        "[Content_Types].xml",
        "_rels/.rels",
        "word/document.xml",
        "word/styles.xml",
        "word/footer1.xml",
        "word/_rels/document.xml.rels",
        "word/fontTable.xml",
    ] {
        assert!(names.contains(&part), "{part} in {names:?}");
    }
    let part = |name: &str| String::from_utf8(entries.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap();
    let document = part("word/document.xml");
    assert!(document.contains(issued["number"].as_str().unwrap()), "the number is in the document");
    assert!(document.contains("督查通报") && document.contains("送：") && document.contains("编印"));
    assert!(document.contains("十差单位") && document.contains("红牌数 × 3"));
    assert!(document.contains(&f.findings[3].content_hash()[..12]), "evidence hash printed");
    assert!(document.contains(&public_ref(&f.server, &f.findings[3])), "public reference printed");
    assert!(document.contains("2026-10-05 上午"), "date and part of day printed");
    assert!(part("word/footer1.xml").contains("PAGE"), "page numbers");
    assert!(part("word/styles.xml").contains("仿宋"));
    // Photos of the 4 counted problem findings (#1, #4, #6, #10); the
    // rejected #8's photo is not embedded.
    let media: Vec<&str> = names.iter().copied().filter(|n| n.starts_with("word/media/")).collect();
    assert_eq!(media.iter().filter(|n| n.ends_with(".jpg")).count(), 4, "{media:?}");
    assert_eq!(media.iter().filter(|n| n.ends_with(".png")).count(), 0, "charts are not pictures: {media:?}");
    assert!(!media.iter().any(|n| n.contains(&f.findings[7].photos[0][..16])), "rejected photo embedded");
    let rels = part("word/_rels/document.xml.rels");
    for m in &media {
        assert!(rels.contains(&m["word/".len()..]), "{m} is referenced");
    }
    assert_eq!(document.matches("<a:blip r:embed=").count(), 4);

    // Two native Word charts (per unit, per day): c:chart parts, declared,
    // referenced from the document, with the units' Chinese names as real
    // category labels and their data in an embedded workbook.
    let content_types = part("[Content_Types].xml");
    let c = "http://schemas.openxmlformats.org/drawingml/2006/chart";
    for n in 1..=2 {
        let chart = part(&format!("word/charts/chart{n}.xml"));
        let xml = roxmltree::Document::parse(&chart).unwrap_or_else(|e| panic!("chart{n}.xml: {e}"));
        assert!(xml.descendants().any(|e| e.has_tag_name((c, "barChart"))), "chart{n} is a bar chart");
        assert_eq!(xml.descendants().filter(|e| e.has_tag_name((c, "ser"))).count(), 3, "red, yellow, green");
        assert!(content_types.contains(&format!(
            r#"<Override PartName="/word/charts/chart{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.drawingml.chart+xml"/>"#
        )));
        assert!(rels.contains(&format!(r#"Id="rIdChart{n}""#)) && rels.contains(&format!("charts/chart{n}.xml")));
        assert!(document.contains(&format!(r#"r:id="rIdChart{n}""#)), "chart{n} is in the document");
        assert!(
            part(&format!("word/charts/_rels/chart{n}.xml.rels"))
                .contains(&format!("Microsoft_Excel_Worksheet{n}.xlsx"))
        );
        assert!(names.contains(&format!("word/embeddings/Microsoft_Excel_Worksheet{n}.xlsx").as_str()));
    }
    let units_chart = part("word/charts/chart1.xml");
    let xml = roxmltree::Document::parse(&units_chart).unwrap();
    let labels: Vec<&str> = xml
        .descendants()
        .find(|e| e.has_tag_name((c, "cat")))
        .unwrap()
        .descendants()
        .filter(|e| e.has_tag_name((c, "v")))
        .filter_map(|e| e.text())
        .collect();
    assert!(
        !labels.is_empty() && labels.iter().all(|l| l.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch))),
        "{labels:?}"
    );
    assert!(!document.contains("图中序号见下表"), "no number-to-unit legend table any more");

    // The HTML carries the same number, photos as data URIs, SVG charts, print CSS.
    let (status, html) =
        call(&f.server, &f.token, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.html"), None).await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    if let Ok(dir) = std::env::var("ANFANG_SAMPLE_DIR") {
        std::fs::write(std::path::Path::new(&dir).join("bulletin.html"), &html).unwrap();
    }
    assert!(html.contains(issued["number"].as_str().unwrap()));
    assert_eq!(html.matches("src=\"data:image/jpeg;base64,").count(), 4);
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("@media print") && html.contains("size: A4"));
    for external in ["src=\"http", "href=\"http", "<script", "<link"] {
        assert!(!html.contains(external), "self-contained: no {external}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bulletin_or_export_carries_an_inspector_trace() {
    let f = fixture().await;
    let v = create(&f, "month", "2026-10-01", "2026-10-31").await;
    let id = v["id"].as_i64().unwrap();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let get = |p: String| {
        let (server, token) = (&f.server, f.token.clone());
        async move {
            let (status, bytes) = call(server, &token, reqwest::Method::GET, &p, None).await;
            assert_eq!(status, 200, "{p}");
            bytes
        }
    };
    // Draft and issued, every format.
    for stage in ["draft", "issued"] {
        if stage == "issued" {
            assert_eq!(issue(&f, id).await.0, 200);
        }
        for fmt in ["", "/bulletin.json", "/bulletin.html"] {
            let bytes = get(format!("/api/v1/bulletins/{id}{fmt}")).await;
            outputs.push((format!("{stage} {fmt}"), String::from_utf8(bytes).unwrap()));
        }
        let docx = get(format!("/api/v1/bulletins/{id}/bulletin.docx")).await;
        for (name, data) in unzip(&docx) {
            if name.ends_with(".xml") || name.ends_with(".rels") {
                outputs.push((format!("{stage} docx {name}"), String::from_utf8(data).unwrap()));
            }
        }
    }
    outputs.push(("list".into(), String::from_utf8(get("/api/v1/bulletins".into()).await).unwrap()));
    let csv = get("/api/v1/exports/findings.csv?from=2026-09-01&to=2026-10-31".into()).await;
    let geo = get("/api/v1/exports/findings.geojson?from=2026-09-01&to=2026-10-31".into()).await;
    let csv = String::from_utf8(csv).unwrap();
    // The exports are not vacuous: all 12 findings, each with its evidence id.
    assert_eq!(csv.lines().count(), 1 + 12, "{csv}");
    for finding in &f.findings {
        assert!(csv.contains(&finding.id.to_string()));
    }
    outputs.push(("csv".into(), csv));
    outputs.push(("geojson".into(), String::from_utf8(geo).unwrap()));

    assert!(f.secrets.len() >= 10, "{:?}", f.secrets);
    // Bulletins go to units: no finding id (a UUIDv7 holds its creation
    // millisecond) and no capture time finer than date and part of day.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    for (what, text) in outputs.iter().filter(|(w, _)| w != "csv" && w != "geojson") {
        assert!(!has_uuid_v7(text), "{what} carries a UUIDv7");
        for finding in &f.findings {
            let local = finding.observed_at.to_zoned_datetime(tz.clone());
            for exact in [
                finding.observed_at.to_string(),
                local.strftime("%Y-%m-%d %H:%M").to_string(),
                finding.observed_at.as_millisecond().to_string(),
            ] {
                assert!(!text.contains(&exact), "{what} carries the capture time {exact:?}");
            }
        }
    }
    for (what, text) in &outputs {
        // The viewport meta tag's CSS keyword is not a device trace.
        let text = &text.replace("width=device-width", "");
        for secret in &f.secrets {
            assert!(!text.contains(secret.as_str()), "{what} contains {secret:?}");
        }
        for key in ["inspector", "device", "alias", "enroll", "督查员", "127.0.0.1"] {
            assert!(!text.contains(key), "{what} mentions {key:?}");
        }
    }
    // Inspector ids are small integers: no output may carry a field for them.
    let snapshot: Value =
        serde_json::from_str(&outputs.iter().find(|(w, _)| w == "issued /bulletin.json").unwrap().1).unwrap();
    fn keys(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    keys(&snapshot, &mut all);
    assert!(all.iter().all(|k| !k.contains("inspector") && !k.contains("device") && !k.contains("user")), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_have_a_bom_chinese_headers_and_effective_values() {
    let f = fixture().await;
    let (status, bytes) = call(
        &f.server,
        &f.token,
        reqwest::Method::GET,
        "/api/v1/exports/findings.csv?from=2026-10-01&to=2026-10-31",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf", "UTF-8 BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("证据编号,内容哈希,发现时间,审核状态"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 10, "October only");
    let row10 = rows.iter().find(|l| l.starts_with(&f.findings[9].id.to_string())).unwrap();
    assert!(
        row10.contains("已更正")
            && row10.contains("市市场监督管理局")
            && row10.contains("占道经营")
            && row10.contains("黄牌"),
        "{row10}"
    );
    let row8 = rows.iter().find(|l| l.starts_with(&f.findings[7].id.to_string())).unwrap();
    assert!(row8.contains("已驳回"), "{row8}");
    assert!(rows.iter().any(|l| l.contains("待审核")));

    let (status, geo) = json_call(
        &f.server,
        &f.token,
        reqwest::Method::GET,
        "/api/v1/exports/findings.geojson?from=2026-10-01&to=2026-10-31",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 10);
    let loc = f.findings[0].location.unwrap();
    let first = features.iter().find(|x| x["id"] == f.findings[0].id.to_string()).unwrap();
    assert_eq!(first["geometry"]["coordinates"], json!([loc.lon, loc.lat]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_periods_and_exports_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let token = server.admin_token().await;
    let cases: [(Value, &str); 6] = [
        (json!({"kind": "year", "from": "2026-01-01"}), "not one of day, week, month, custom"),
        (json!({"from": "2026-01-01"}), "kind is required"),
        (json!({"kind": "day", "from": "2026/01/01"}), "YYYY-MM-DD"),
        (json!({"kind": "month", "from": "2026-10-02", "to": "2026-10-31"}), "calendar month"),
        (json!({"kind": "custom", "from": "2026-10-05", "to": "2026-10-01"}), "before from"),
        (json!({"kind": "week", "from": "2026-10-01", "to": "2026-10-03"}), "7 days"),
    ];
    for (body, message) in cases {
        let (status, err) =
            json_call(&server, &token, reqwest::Method::POST, "/api/v1/bulletins", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert!(err["error"].as_str().unwrap().contains(message), "{body}: {err}");
    }
    for (query, message) in [
        ("from=2026-10-01", "to is required"),
        ("from=2025-01-01&to=2026-10-01", "at most 366"),
        ("from=x&to=2026-10-01", "YYYY-MM-DD"),
    ] {
        let (status, err) =
            json_call(&server, &token, reqwest::Method::GET, &format!("/api/v1/exports/findings.csv?{query}"), None)
                .await;
        assert_eq!(status, 422, "{query}: {err}");
        assert!(err["error"].as_str().unwrap().contains(message), "{query}: {err}");
    }
    let (status, err) =
        json_call(&server, &token, reqwest::Method::PATCH, "/api/v1/bulletins/999", Some(json!({"title": "x"}))).await;
    assert_eq!(status, 404, "{err}");
    let (status, _) = json_call(&server, &token, reqwest::Method::GET, "/api/v1/bulletins", None).await;
    assert_eq!(status, 200);
    // Nothing half-written: the refused requests left no bulletin behind.
    let n: i64 = rusqlite::Connection::open(dir.path().join("anfang.sqlite3"))
        .unwrap()
        .query_row("SELECT count(*) FROM bulletins", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_an_issued_bulletin_whose_snapshot_was_altered() {
    // Reviewed through the API (not by SQL, as the fixture does), so every
    // review is in the evidence log and `verify` starts clean.
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(dir.path());
    let mut device = Device::enroll(&server, 0).await;
    let red = device.record("P001", Card::Red, vec![processed(21, 640, 480)]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    let token = server.admin_token().await;
    let (status, v) = json_call(
        &server,
        &token,
        reqwest::Method::POST,
        &format!("/api/v1/findings/{}/review", red.id),
        Some(json!({"decision": "accept"})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let today = office_today();
    let (status, v) = json_call(
        &server,
        &token,
        reqwest::Method::POST,
        "/api/v1/bulletins",
        Some(json!({"kind": "day", "from": today})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(
        json_call(&server, &token, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/issue"), None).await.0,
        200
    );
    server.kill();
    let verify = |data: &std::path::Path| {
        let out = std::process::Command::new(SERVER_BIN).args(["verify", "--data-dir"]).arg(data).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, out) = verify(&server.data_dir);
    assert_eq!(code, 0, "{out}");
    // Someone with database access softens the issued text.
    let c = db(&server);
    c.execute_batch("DROP TRIGGER bulletins_issued_are_immutable;").unwrap();
    let n = c
        .execute(
            r#"UPDATE bulletins SET snapshot = replace(snapshot, '"card":"red"', '"card":"yellow"') WHERE id = ?1"#,
            [id],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(c);
    let (code, out) = verify(&server.data_dir);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("bulletin {id} (")) && out.contains("does not match its content hash"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_with_xml_illegal_characters_from_an_old_database_still_gives_a_docx_that_parses() {
    let f = fixture().await;
    // An old database may hold what the edge now refuses: put every
    // character XML 1.0 cannot carry into a counted finding's note.
    let illegal: String =
        ('\u{0}'..='\u{1F}').filter(|c| !matches!(c, '\t' | '\n' | '\r')).chain(['\u{FFFE}', '\u{FFFF}']).collect();
    let note = format!("控制字符<{illegal}>&\t\r\n结束");
    let c = db(&f.server);
    c.execute_batch("DROP TRIGGER findings_are_append_only").unwrap();
    c.execute("UPDATE findings SET note = ?1 WHERE id = ?2", rusqlite::params![note, f.findings[3].id.to_string()])
        .unwrap();
    drop(c);
    let v = create(&f, "month", "2026-10-01", "2026-10-31").await;
    let id = v["id"].as_i64().unwrap();
    let (status, issued) = issue(&f, id).await;
    assert_eq!(status, 200, "{issued}");
    let (status, docx) =
        call(&f.server, &f.token, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.docx"), None).await;
    assert_eq!(status, 200);
    for (name, data) in unzip(&docx) {
        if name.ends_with(".xml") || name.ends_with(".rels") {
            let text = String::from_utf8(data).unwrap();
            if let Err(e) = roxmltree::Document::parse(&text) {
                panic!("{name} is not well-formed XML: {e}");
            }
        }
    }
    let document = unzip(&docx).into_iter().find(|(n, _)| n == "word/document.xml").unwrap().1;
    let document = String::from_utf8(document).unwrap();
    let parsed = roxmltree::Document::parse(&document).unwrap();
    let texts: String = parsed.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains("控制字符<") && texts.contains(">&"), "the rest of the note is kept");
    // The HTML twin is as clean.
    let (_, html) =
        call(&f.server, &f.token, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.html"), None).await;
    let html = String::from_utf8(html).unwrap();
    assert!(!html.chars().any(|c| !anfang_core::text::is_xml_char(c)), "the HTML carries an XML-illegal character");
}

/// A year's export is streamed from the database as the client reads it
/// (no length announced up front, a few thousand rows in memory at a
/// time): 2,500 findings, three of the storage's batches, arrive each
/// once and in order in the CSV, and as one valid FeatureCollection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_years_export_streams_every_finding_once_across_batches() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let token = server.admin_token().await;
    let device = Device::enroll(&server, 0).await;
    drop(device);
    let c = db(&server);
    let (device_id, inspector_id): (String, i64) =
        c.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let (point, unit): (String, String) =
        c.query_row("SELECT id, unit_id FROM points ORDER BY id LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let category: String = c.query_row("SELECT code FROM categories LIMIT 1", [], |r| r.get(0)).unwrap();
    let year_start = jiff::Timestamp::from_second(1_735_660_800).unwrap().as_millisecond(); // 2025-01-01T00:00+08:00
    let mut ids = Vec::new();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..2_500i64 {
        let id = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note, observed_ms,
                       lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'yellow', '流式导出', ?8, 29.5, 106.5, 8.0, NULL, '{}', ?9, ?8, NULL)",
            rusqlite::params![
                id,
                i + 1,
                device_id,
                inspector_id,
                point,
                unit,
                category,
                year_start + i * 3_600_000,
                sha256_hex(id.as_bytes())
            ],
        )
        .unwrap();
        ids.push(id);
    }
    tx.commit().unwrap();

    let get = |format: &str| {
        reqwest::Client::new()
            .get(format!("{}/api/v1/exports/findings.{format}?from=2025-01-01&to=2025-12-31", server.url()))
            .bearer_auth(&token)
            .send()
    };
    let csv = get("csv").await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers().get("content-length").is_none(), "streamed, not built whole first: {:?}", csv.headers());
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 2_500, "the header and every finding");
    let exported: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(exported, ids, "each finding once, in observation order");

    let geo = get("geojson").await.unwrap();
    assert_eq!(geo.status(), 200);
    let geo: Value = geo.json().await.expect("one valid JSON document across the batches");
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 2_500);
    assert_eq!(features[2_499]["properties"]["evidence_id"], ids[2_499].as_str());
}
