//! Rectification in the bulletin, end to end: real server, a real device,
//! a real SQLite file. Findings are recorded and synced; reviews and
//! rectification cases are written straight into the server's database
//! (the case service is not wired yet; the rows are what it will write),
//! then October 2026 is compiled through the API and read back in every
//! format.
//!
//! The fixed data set (Asia/Shanghai), demo points and units:
//!
//! | #  | point (unit)  | captured     | review  | case                                              |
//! |----|---------------|--------------|---------|---------------------------------------------------|
//! | 1  | P001 (U03)    | yellow 10-03 | accept  | 6: due 10-09, answered 10-08, closed 11-02        |
//! | 2  | P001 (U03)    | green 10-10  | accept  |                                                   |
//! | 3  | P002 (U03)    | red 10-05    | accept  | 3: rework after a failed re-check 10-09, due      |
//! |    |               |              |         |    10-14, answered 10-15, closed 10-16: late      |
//! | 4  | P002 (U03)    | green 10-12  | accept  |                                                   |
//! | 5  | P003 (U08)    | red 10-06    | accept  | 4: due 10-10, 挂账 10-08 to 10-20, not answered    |
//! | 6  | P003 (U08)    | green 10-13  | accept  |                                                   |
//! | 7  | P018 (U04)    | yellow 10-07 | reject  | 7: cancelled 10-08                                |
//! | 8  | P035 (U05)    | yellow 10-09 | accept  | 5: reassigned 10-11, due 10-17, answered 10-16    |
//! | 9  | P007 (U09)    | green 10-20  | accept  |                                                   |
//! | 10 | P001 (U03)    | red 09-15    | accept  | 1: due 09-19 00:00, never answered, 督办          |
//! | 11 | P002 (U03)    | yellow 09-20 | accept  | 2: extended to 10-10, answered 10-09, closed 10-12 |
//! | 12 | P003 (U08)    | yellow 09-10 | accept  | 8: closed 09-25, before October                   |
//!
//! The same stories, with the same figures worked by hand, are the unit
//! tests of `server/src/bulletin/rectification.rs`.

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

fn ms(month: i8, day: i8, hour: i8) -> i64 {
    local(month, day, hour).as_millisecond()
}

fn db(server: &Server) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(server.data_dir.join("anfang.sqlite3")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

fn record(device: &mut Device, point: &str, card: Card, at: jiff::Timestamp, seed: u32) -> FindingContent {
    let p = device.store.point(point).unwrap().expect("demo point");
    let photos = if card == Card::Green { vec![] } else { vec![processed(seed, 320, 240)] };
    device
        .store
        .record_finding(
            NewFinding {
                point_id: point.into(),
                unit_id: None,
                category: "parking".into(),
                card,
                note: Some(format!("问题{seed}：人行道停车")),
                location: Some(Location {
                    lat: p.lat + 0.000123,
                    lon: p.lon + 0.000456,
                    accuracy_m: 6.0,
                    captured_at: at,
                }),
                photos,
            },
            &At(at),
        )
        .expect("record")
}

/// A review revision with a fixed decision date, as `tests/bulletin.rs` writes them.
fn review(server: &Server, f: &FindingContent, decision: &str, decided: jiff::Timestamp) {
    let reason = (decision != "accept").then_some("审核意见");
    db(server)
        .execute(
            "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason, reviewer_id, decided_at)
             VALUES (?1, (SELECT coalesce(max(revision), 0) + 1 FROM finding_reviews WHERE finding_id = ?1), ?2, ?3, ?4, ?5, ?6,
                     (SELECT id FROM users WHERE username = 'admin'), ?7)",
            rusqlite::params![
                f.id.to_string(),
                decision,
                f.category,
                f.unit_id,
                f.card.as_str(),
                reason,
                decided.to_string()
            ],
        )
        .unwrap();
}

/// A case row as the case service will store it.
struct CaseSpec {
    n: i64,
    finding: usize,
    unit: &'static str,
    state: &'static str,
    opened: i64,
    notified: Option<i64>,
    deadline: Option<i64>,
    answered: Option<i64>,
    closed: Option<i64>,
    rework: i64,
    deferred_until: Option<&'static str>,
    supervised: bool,
    /// (event, at)
    events: Vec<(&'static str, i64)>,
}

fn case_ref(n: i64) -> String {
    format!("ZGCASE{n:06}")
}

fn insert_case(server: &Server, findings: &[FindingContent], alias: &str, c: &CaseSpec) {
    let conn = db(server);
    let f = &findings[c.finding - 1];
    let card = f.card.as_str();
    conn.execute(
        "INSERT INTO rectification_cases (id, public_ref, finding_id, unit_id, card, state, inspector_id, opened_ms,
                notified_ms, deadline_ms, answered_ms, closed_ms, rework_count, reassign_count, extension_count,
                deferred_until, supervised)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT inspector_id FROM findings WHERE id = ?3), ?7, ?8, ?9, ?10, ?11, ?12,
                 ?13, ?14, ?15, ?16)",
        rusqlite::params![
            c.n,
            case_ref(c.n),
            f.id.to_string(),
            c.unit,
            card,
            c.state,
            c.opened,
            c.notified,
            c.deadline,
            c.answered,
            c.closed,
            c.rework,
            c.events.iter().filter(|e| e.0 == "reassigned").count() as i64,
            c.events.iter().filter(|e| e.0 == "extension_granted").count() as i64,
            c.deferred_until,
            c.supervised,
        ],
    )
    .unwrap();
    let mut events = vec![("opened", c.opened)];
    events.extend(c.events.iter().copied());
    for (seq, (event, at)) in events.into_iter().enumerate() {
        // The re-check's inspector and a note naming them are in the case's
        // history; neither may reach a bulletin.
        let (actor_kind, actor_id) =
            if event.starts_with("recheck") { ("inspector", Some(alias)) } else { ("system", None) };
        conn.execute(
            "INSERT INTO case_events (case_id, seq, at_ms, actor_kind, actor_id, event, to_state, note, record_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                c.n,
                seq as i64 + 1,
                at,
                actor_kind,
                actor_id,
                event,
                c.state,
                format!("{alias} 复查记录"),
                "0".repeat(64)
            ],
        )
        .unwrap();
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    token: String,
    findings: Vec<FindingContent>,
    alias: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let mut device = Device::enroll(&server, 0).await;
    let alias = device.store.enrollment().unwrap().unwrap().alias;
    let rows: [(&str, Card, jiff::Timestamp); 12] = [
        ("P001", Card::Yellow, local(10, 3, 8)),
        ("P001", Card::Green, local(10, 10, 7)),
        ("P002", Card::Red, local(10, 5, 7)),
        ("P002", Card::Green, local(10, 12, 18)),
        ("P003", Card::Red, local(10, 6, 8)),
        ("P003", Card::Green, local(10, 13, 8)),
        ("P018", Card::Yellow, local(10, 7, 7)),
        ("P035", Card::Yellow, local(10, 9, 20)),
        ("P007", Card::Green, local(10, 20, 9)),
        ("P001", Card::Red, local(9, 15, 8)),
        ("P002", Card::Yellow, local(9, 20, 8)),
        ("P003", Card::Yellow, local(9, 10, 8)),
    ];
    let findings: Vec<FindingContent> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (point, card, at))| record(&mut device, point, card, at, i as u32 + 1))
        .collect();
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 12);
    for (i, f) in findings.iter().enumerate() {
        let decided = f.observed_at.checked_add(jiff::SignedDuration::from_hours(4)).unwrap();
        review(&server, f, if i == 6 { "reject" } else { "accept" }, decided);
    }

    let cases = [
        CaseSpec {
            n: 1,
            finding: 10,
            unit: "U03",
            state: "open",
            opened: ms(9, 15, 12),
            notified: Some(ms(9, 16, 10)),
            deadline: Some(ms(9, 19, 0)),
            answered: None,
            closed: None,
            rework: 0,
            deferred_until: None,
            supervised: true,
            events: vec![("notified", ms(9, 16, 10)), ("supervised", ms(9, 29, 18))],
        },
        CaseSpec {
            n: 2,
            finding: 11,
            unit: "U03",
            state: "closed",
            opened: ms(9, 20, 12),
            notified: Some(ms(9, 21, 10)),
            deadline: Some(ms(10, 10, 0)),
            answered: Some(ms(10, 9, 15)),
            closed: Some(ms(10, 12, 10)),
            rework: 0,
            deferred_until: None,
            supervised: false,
            events: vec![
                ("notified", ms(9, 21, 10)),
                ("extension_granted", ms(10, 5, 10)),
                ("answered", ms(10, 9, 15)),
                ("recheck_passed", ms(10, 12, 10)),
            ],
        },
        CaseSpec {
            n: 3,
            finding: 3,
            unit: "U03",
            state: "closed",
            opened: ms(10, 5, 12),
            notified: Some(ms(10, 5, 18)),
            deadline: Some(ms(10, 14, 0)),
            answered: Some(ms(10, 15, 9)),
            closed: Some(ms(10, 16, 10)),
            rework: 1,
            deferred_until: None,
            supervised: false,
            events: vec![
                ("notified", ms(10, 5, 18)),
                ("answered", ms(10, 8, 10)),
                ("recheck_failed", ms(10, 9, 10)),
                ("answered", ms(10, 15, 9)),
                ("recheck_passed", ms(10, 16, 10)),
            ],
        },
        CaseSpec {
            n: 4,
            finding: 5,
            unit: "U08",
            state: "deferred",
            opened: ms(10, 6, 12),
            notified: Some(ms(10, 6, 18)),
            deadline: Some(ms(10, 10, 0)),
            answered: None,
            closed: None,
            rework: 0,
            deferred_until: Some("2026-10-20"),
            supervised: false,
            events: vec![
                ("notified", ms(10, 6, 18)),
                ("deferral_requested", ms(10, 7, 10)),
                ("deferred", ms(10, 8, 10)),
            ],
        },
        CaseSpec {
            n: 5,
            finding: 8,
            unit: "U05",
            state: "answered",
            opened: ms(10, 9, 21),
            notified: Some(ms(10, 11, 18)),
            deadline: Some(ms(10, 17, 0)),
            answered: Some(ms(10, 16, 9)),
            closed: None,
            rework: 0,
            deferred_until: None,
            supervised: false,
            events: vec![
                ("notified", ms(10, 10, 9)),
                ("return_requested", ms(10, 10, 15)),
                ("reassigned", ms(10, 11, 11)),
                ("notified", ms(10, 11, 18)),
                ("answered", ms(10, 16, 9)),
            ],
        },
        CaseSpec {
            n: 6,
            finding: 1,
            unit: "U03",
            state: "closed",
            opened: ms(10, 3, 9),
            notified: Some(ms(10, 3, 18)),
            deadline: Some(ms(10, 9, 0)),
            answered: Some(ms(10, 8, 9)),
            closed: Some(ms(11, 2, 10)),
            rework: 0,
            deferred_until: None,
            supervised: false,
            events: vec![("notified", ms(10, 3, 18)), ("answered", ms(10, 8, 9)), ("recheck_passed", ms(11, 2, 10))],
        },
        CaseSpec {
            n: 7,
            finding: 7,
            unit: "U04",
            state: "cancelled",
            opened: ms(10, 7, 9),
            notified: Some(ms(10, 7, 18)),
            deadline: Some(ms(10, 13, 0)),
            answered: None,
            closed: Some(ms(10, 8, 9)),
            rework: 0,
            deferred_until: None,
            supervised: false,
            events: vec![("notified", ms(10, 7, 18)), ("cancelled", ms(10, 8, 9))],
        },
        CaseSpec {
            n: 8,
            finding: 12,
            unit: "U08",
            state: "closed",
            opened: ms(9, 10, 9),
            notified: Some(ms(9, 10, 18)),
            deadline: Some(ms(9, 16, 0)),
            answered: Some(ms(9, 15, 9)),
            closed: Some(ms(9, 25, 9)),
            rework: 0,
            deferred_until: None,
            supervised: false,
            events: vec![("notified", ms(9, 10, 18)), ("answered", ms(9, 15, 9)), ("recheck_passed", ms(9, 25, 9))],
        },
    ];
    for c in &cases {
        insert_case(&server, &findings, &alias, c);
    }
    let token = server.admin_token().await;
    Fixture { _dir: dir, server, token, findings, alias }
}

async fn call(f: &Fixture, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Vec<u8>) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", f.server.url())).bearer_auth(&f.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap().to_vec())
}

async fn json_call(f: &Fixture, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, bytes) = call(f, method, path, body).await;
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

fn unit<'a>(b: &'a Value, id: &str) -> Option<&'a Value> {
    b["units"].as_array().unwrap().iter().find(|u| u["unit_id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_october_bulletin_lists_overdue_cases_and_rectification_as_computed_by_hand() {
    let f = fixture().await;
    let (status, v) = json_call(
        &f,
        reqwest::Method::POST,
        "/api/v1/bulletins",
        Some(json!({"kind": "month", "from": "2026-10-01", "to": "2026-10-31"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let b = &v["bulletin"];

    // Overdue at the end of October (11-01 00:00), longest first:
    // case 1 due 09-19 00:00 → 43 days; case 4 挂账 to 10-20 → 10-21 00:00 → 11 days.
    // Case 6 was answered 10-08, so it is not overdue though closed only 11-02.
    #[allow(clippy::type_complexity)]
    let overdue: Vec<(String, String, String, String, String, i64, bool, u64, bool)> = b["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["case_ref"].as_str().unwrap().to_owned(),
                e["unit_id"].as_str().unwrap().to_owned(),
                e["point_name"].as_str().unwrap().to_owned(),
                e["card"].as_str().unwrap().to_owned(),
                e["deadline"].as_str().unwrap().to_owned(),
                e["days_overdue"].as_i64().unwrap(),
                e["deferred"].as_bool().unwrap(),
                e["rework_count"].as_u64().unwrap(),
                e["supervised"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        overdue,
        vec![
            (case_ref(1), "U03".into(), "通川中路".into(), "red".into(), "2026-09-18".into(), 43, false, 0, true),
            (case_ref(4), "U08".into(), "西外大道".into(), "red".into(), "2026-10-20".into(), 11, true, 0, false),
        ]
    );
    assert_eq!(b["overdue"][0]["unit_name"], "市城市管理行政执法局");
    assert_eq!(b["overdue"][0]["category_name"], "乱停乱放");
    let finding_ref: String = db(&f.server)
        .query_row(
            "SELECT public_ref FROM finding_public_refs WHERE finding_id = ?1",
            [f.findings[9].id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(b["overdue"][0]["evidence_id"], finding_ref.as_str(), "the finding's public reference");

    // Each unit's earlier cases, by their state at the end of October.
    let u03 = unit(b, "U03").expect("U03 section")["cases"].clone();
    assert_eq!(
        (&u03["total"], &u03["open"], &u03["answered"], &u03["closed"], &u03["cancelled"]),
        (&json!(4), &json!(1), &json!(1), &json!(2), &json!(0)),
        "U03: case 1 open, 6 answered (closed only in November), 2 and 3 closed: {u03}"
    );
    assert_eq!(u03["overdue"].as_array().unwrap().len(), 1);
    let u08 = unit(b, "U08").expect("U08 section")["cases"].clone();
    assert_eq!((&u08["total"], &u08["deferred"]), (&json!(1), &json!(1)), "case 8 was closed in September: {u08}");
    let u05 = unit(b, "U05").expect("U05 section")["cases"].clone();
    assert_eq!((&u05["total"], &u05["answered"]), (&json!(1), &json!(1)), "{u05}");
    assert!(unit(b, "U04").is_none(), "U04's only finding was rejected and its case cancelled: nothing owed");

    // The period's rectification.
    let r = &b["rectification"];
    let figures: Vec<u64> =
        ["due", "on_time", "late", "awaiting_recheck", "open", "reassigned", "extended", "deferred", "rechecks"]
            .iter()
            .map(|k| r[*k].as_u64().unwrap_or_else(|| panic!("{k}: {r}")))
            .collect();
    // Due in October: 2, 3, 4, 5, 6; on time 2 and 6; late 3; answered 5; open 4.
    // One reassignment (5), one extension (2), one 挂账 (4); re-checks 10-09 (failed), 10-12, 10-16.
    assert_eq!(figures, vec![5, 2, 1, 1, 1, 1, 1, 1, 3], "{r}");
    assert_eq!(r["on_time_rate"], 0.4);
    assert_eq!(r["rework_rate"], 0.3333);
    // Closed in October: 2 (21 days) and 3 (10 days 16 hours): mean 15.8.
    assert_eq!((&r["closed"], &r["mean_days_to_close"]), (&json!(2), &json!(15.8)));
    assert_eq!(r["as_of_label"], "本期末（2026-10-31 24 时）");

    // Rankings: compliance U09 1/1, U03 2/4, U08 1/2, U05 0/1; on time U03 2/3,
    // U08 0/1, U05 0/1, U09 none. Score = 0.7 × compliance + 0.3 × on-time:
    // U09 1.0 (compliance only), U03 0.35 + 0.2 = 0.55, U08 0.35, U05 0.
    // Compliance alone would tie U03 and U08 at rank 2.
    let units: Vec<(String, u64, f64)> = b["rankings"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_owned(), u["rank"].as_u64().unwrap(), u["score"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        units,
        vec![("U09".into(), 1, 1.0), ("U03".into(), 2, 0.55), ("U08".into(), 3, 0.35), ("U05".into(), 4, 0.0)]
    );
    assert!(
        b["rankings"]["unit_rule"].as_str().unwrap().contains("综合得分 = 达标率 × 70% + 按期整改率 × 30%"),
        "{}",
        b["rankings"]["unit_rule"]
    );
    // Ten worst by score, lowest first, among units with a deduction.
    let worst = &b["rankings"]["worst_units"];
    assert_eq!(worst["by_score"], true);
    let w: Vec<&str> = worst["rows"].as_array().unwrap().iter().map(|r| r["unit_id"].as_str().unwrap()).collect();
    assert_eq!(w, vec!["U05", "U08", "U03"]);

    // The office changes the weights: 50/50 gives U03 0.25 + 0.3333 = 0.5833.
    db(&f.server)
        .execute_batch(
            "UPDATE office_settings SET value = '50' WHERE key IN ('rank_weight_compliance', 'rank_weight_rectification')",
        )
        .unwrap();
    let (status, re) = json_call(&f, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/recompile"), None).await;
    assert_eq!(status, 200, "{re}");
    let re = &re["bulletin"]["rankings"];
    assert_eq!(re["units"][1]["score"], 0.5833, "{re}");
    assert!(re["unit_rule"].as_str().unwrap().contains("达标率 × 50% + 按期整改率 × 50%"));
    // Weights that do not sum to 100 are refused with the reason.
    db(&f.server).execute("UPDATE office_settings SET value = '80' WHERE key = 'rank_weight_compliance'", []).unwrap();
    let (status, err) = json_call(&f, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/recompile"), None).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("sum to 100"), "{err}");
    db(&f.server).execute("UPDATE office_settings SET value = '70' WHERE key = 'rank_weight_compliance'", []).unwrap();
    db(&f.server)
        .execute("UPDATE office_settings SET value = '30' WHERE key = 'rank_weight_rectification'", [])
        .unwrap();
    assert_eq!(call(&f, reqwest::Method::POST, &format!("/api/v1/bulletins/{id}/recompile"), None).await.0, 200);

    // Every format carries the section and none carries who inspected or where exactly.
    let (status, html) = call(&f, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.html"), None).await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    let (status, json_bytes) =
        call(&f, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.json"), None).await;
    assert_eq!(status, 200);
    let json_text = String::from_utf8(json_bytes).unwrap();
    let (status, docx) = call(&f, reqwest::Method::GET, &format!("/api/v1/bulletins/{id}/bulletin.docx"), None).await;
    assert_eq!(status, 200);
    if let Ok(dir) = std::env::var("ANFANG_SAMPLE_DIR") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("rectification.html"), &html).unwrap();
        std::fs::write(dir.join("rectification.docx"), &docx).unwrap();
    }
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&docx)).unwrap();
    let mut document = String::new();
    zip.by_name("word/document.xml").unwrap().read_to_string(&mut document).unwrap();
    let parsed = roxmltree::Document::parse(&document).expect("document.xml parses");
    let docx_text: String = parsed.descendants().filter_map(|n| n.text()).collect();

    for (what, text) in [("html", &html), ("json", &json_text), ("docx", &docx_text)] {
        assert!(text.contains("整改情况") || what == "json", "{what}: no section");
        assert!(text.contains(&case_ref(1)) && text.contains(&case_ref(4)), "{what}: the overdue cases");
        assert!(!text.contains(&case_ref(6)) || what == "json", "{what}: case 6 was not overdue");
        assert!(!text.contains(&f.alias), "{what} names the inspector {}", f.alias);
        for finding in &f.findings {
            let loc = finding.location.unwrap();
            for coordinate in [format!("{:.6}", loc.lat), format!("{:.6}", loc.lon), loc.lat.to_string()] {
                assert!(!text.contains(&coordinate), "{what} carries the coordinate {coordinate}");
            }
        }
        for key in ["inspector", "actor", "复查记录"] {
            assert!(!text.contains(key), "{what} mentions {key:?}");
        }
    }
    for (what, text) in [("html", &html), ("docx", &docx_text)] {
        assert!(text.contains("按期整改率 40.0%") && text.contains("返工率 33.3%"), "{what}: the rates");
        assert!(text.contains("平均整改用时 15.8 天"), "{what}: the mean");
        assert!(text.contains("综合得分 = 达标率 × 70% + 按期整改率 × 30%"), "{what}: the formula");
        assert!(text.contains("按期整改率 = 按期整改件数 ÷ 本期到期件数"), "{what}: the note");
        assert!(
            text.contains(
                "截至本期末，本单位整改单共 4 件：待整改 1 件、已反馈待复查 1 件、已整改 2 件；其中逾期未整改 1 件："
            ),
            "{what}"
        );
    }
    // At phone width the new tables are cards like the others.
    assert!(html.contains(r#"data-label="整改单编号""#) && html.contains(r#"data-label="按期整改率""#));
    let snapshot: Value = serde_json::from_str(&json_text).unwrap();
    let mut keys = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.push(k.clone());
                walk(v, out)
            }),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&snapshot, &mut keys);
    for bad in ["lat", "lon", "inspector", "device", "observed_ms", "actor"] {
        assert!(!keys.iter().any(|k| k == bad || k.contains("inspector")), "the JSON has a {bad} field");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_without_cases_ranks_by_compliance_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let mut device = Device::enroll(&server, 0).await;
    let findings = [
        record(&mut device, "P001", Card::Green, local(10, 5, 8), 1),
        record(&mut device, "P003", Card::Yellow, local(10, 6, 8), 2),
        record(&mut device, "P003", Card::Green, local(10, 7, 8), 3),
    ];
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 3);
    for f in &findings {
        review(&server, f, "accept", f.observed_at);
    }
    let token = server.admin_token().await;
    let f = Fixture { _dir: dir, server, token, findings: findings.to_vec(), alias: String::new() };
    let (status, v) = json_call(
        &f,
        reqwest::Method::POST,
        "/api/v1/bulletins",
        Some(json!({"kind": "week", "from": "2026-10-05", "to": "2026-10-11"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let b = &v["bulletin"];
    // No case: the score is the compliance, U03 1/1 before U08 1/2.
    let units: Vec<(&str, f64, f64)> = b["rankings"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u["rate"].as_f64().unwrap(), u["score"].as_f64().unwrap()))
        .collect();
    assert_eq!(units, vec![("U03", 1.0, 1.0), ("U08", 0.5, 0.5)]);
    assert_eq!(b["overdue"], json!([]));
    assert_eq!(b["rectification"]["due"], 0);
    assert!(b["rectification"]["on_time_rate"].is_null(), "no due case is no rate, not 0%");
    assert!(unit(b, "U08").unwrap()["cases"].is_null(), "U08 has no case to report");
}
