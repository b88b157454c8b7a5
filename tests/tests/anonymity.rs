//! 不见面, enforced: no response a responsible unit, a leader or the public
//! can get carries anything that identifies an inspector. The walk is built
//! from the server's own route tables (API, console and the public exposure
//! page with a published entry and its photo), so a new route is
//! covered the day it is added; a route with a path parameter this test
//! does not know fails it until someone teaches it a value.
//!
//! Beyond identities: nothing a unit or the public gets, and no bulletin
//! (they are sent to units), carries what would let a unit find the
//! inspector on its own cameras: the recorded position or accuracy, a
//! capture time finer than date and part of day, the finding's id or any
//! UUIDv7 (it holds a millisecond); no leader answer carries the receipt
//! time (one per push batch: it groups one phone's findings).

mod common;

use anfang_core::clock::Clock;
use anfang_core::store::NewFinding;
use anfang_core::{Card, Location};
use common::office::*;
use common::*;
use std::io::Read;

/// The client address every request claims, through the usual proxy headers.
const CLIENT_IP: &str = "203.0.113.77";

struct At(jiff::Timestamp);
impl Clock for At {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

/// Whether `text` holds a UUIDv7 (8-4-4-4-12 hex digits, version 7).
fn has_uuid_v7(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'7',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Public,
    Leader,
    Unit,
}

/// The ids the seeded scenario made, by what a path parameter names.
struct Ids {
    finding: String,
    bulletin: String,
    photo: String,
    draw: String,
    inspector: String,
    unit: String,
    point: String,
    category: String,
    case: String,
    contact: String,
    notice: String,
    entry: String,
    /// The month of the findings, for the league.
    month: String,
    /// An issued month, for the public league pages (the findings' month
    /// is not over, so it cannot be issued on the real clock).
    issued_month: String,
}

/// The concrete path for a route pattern; panics on a parameter nobody taught.
fn concrete(path: &str, ids: &Ids) -> String {
    let mut out = Vec::new();
    let segs: Vec<&str> = path.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push(seg.to_string());
            continue;
        };
        let collection = segs[..i].last().copied().unwrap_or("");
        let value = match (collection, name) {
            ("findings", "id") => &ids.finding,
            ("bulletins", "id") => &ids.bulletin,
            ("draws", "id") => &ids.draw,
            ("inspectors" | "identities", "id") => &ids.inspector,
            ("units", "id") => &ids.unit,
            ("points", "id") => &ids.point,
            ("categories", "code") => &ids.category,
            ("photos" | "uploads" | "recheck-photos" | "case-files", "sha256") => &ids.photo,
            ("cases", "ref") => &ids.case,
            ("contacts", "id") => &ids.contact,
            ("notices", "id") => &ids.notice,
            ("exposure" | "entries", "ref") => &ids.entry,
            ("league", "month") if path.starts_with("/public/") => &ids.issued_month,
            ("league", "month") => &ids.month,
            _ => panic!("the anonymity test has no value for {{{name}}} in {path}: teach it one in `concrete`"),
        };
        out.push(value.clone());
    }
    out.join("/")
}

/// Every readable text of a response: JSON, HTML, CSV, and the XML inside a
/// .docx (a zip); other bytes (photos) are searched as they are.
fn readable(content_type: &str, bytes: &[u8]) -> String {
    if bytes.starts_with(b"PK\x03\x04") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip answer opens");
        let mut all = String::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).unwrap();
            all.push_str(&String::from_utf8_lossy(&buf));
        }
        return all;
    }
    let _ = content_type;
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_shows_a_unit_a_leader_or_the_public_who_inspected() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let base = server.url();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // An inspector with a known alias enrolls a phone, records and syncs a
    // finding with a photo at P001 (unit U03).
    let mut device = Device::enroll(&server, 0).await;
    let enrollment = device.store.enrollment().unwrap().unwrap();
    let (alias, device_id, device_token) =
        (enrollment.alias.clone(), enrollment.device_id.clone(), enrollment.token.clone());
    assert_eq!(alias, "督查01");
    // Signed with the alias, as inspectors do: it must reach leaders, units,
    // the bulletin (also inside the .docx) and exports masked.
    // Captured at 00:01:13.456 today, office time (no later timestamp can
    // share its minute), at a position to the centimetre.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let observed = office_now().date().at(0, 1, 13, 456_000_000).to_zoned_datetime(tz.clone()).unwrap().timestamp();
    let finding = device
        .store
        .record_finding(
            NewFinding {
                point_id: "P001".into(),
                unit_id: None,
                category: "parking".into(),
                card: Card::Yellow,
                note: Some(format!("占用人行道（{alias} 拍摄）")),
                location: Some(Location { lat: 31.2061237, lon: 107.4683459, accuracy_m: 7.25, captured_at: observed }),
                photos: vec![processed(21, 800, 600)],
            },
            &At(observed),
        )
        .expect("record");
    assert_eq!(device.sync_via(&base, fast()).await.findings_pushed, 1);
    let photo = finding.photos[0].clone();
    // The bulletin's own times (the DOCX's creation time is to the second)
    // must fall in a later second than the receipt, or the walk below
    // would take the office's issue time for the receipt time.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // The office accepts it, issues today's bulletin and makes a draw.
    let admin = server.admin_token().await;
    let post = |path: String, body: serde_json::Value| {
        let (http, admin, base) = (http.clone(), admin.clone(), base.clone());
        async move {
            let res = http.post(format!("{base}{path}")).bearer_auth(&admin).json(&body).send().await.unwrap();
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap();
            assert!(status.is_success(), "POST {path}: {status} {body}");
            body
        }
    };
    post(format!("/api/v1/findings/{}/review", finding.id), serde_json::json!({"decision": "accept"})).await;
    let bulletin = post("/api/v1/bulletins".into(), serde_json::json!({"kind": "day", "from": office_today()})).await;
    let bulletin_id = bulletin["id"].to_string();
    post(format!("/api/v1/bulletins/{bulletin_id}/issue"), serde_json::json!({})).await;
    // A draw is made before its period.
    let tomorrow = jiff::civil::Date::strptime("%Y-%m-%d", office_today()).unwrap().tomorrow().unwrap().to_string();
    let draw = post("/api/v1/draws".into(), serde_json::json!({"from": tomorrow, "to": tomorrow, "visits": 3})).await;
    let inspectors: serde_json::Value =
        http.get(format!("{base}/api/v1/inspectors")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    let inspector_id =
        inspectors["items"].as_array().unwrap().iter().find(|i| i["alias"] == alias.as_str()).unwrap()["id"]
            .to_string();
    // A fresh code nobody has used yet: it must not show up either.
    let fresh_code = post(format!("/api/v1/inspectors/{inspector_id}/code"), serde_json::json!({})).await["code"]
        .as_str()
        .unwrap()
        .to_owned();

    // The accepted yellow card opened a case for U03: the digest tells the
    // unit (digest hour 0, and a scheduler pass every second), and the
    // demo's contacts of U03 get notices (to an SMTP port nobody answers).
    let get = |path: String| {
        let (http, admin, base) = (http.clone(), admin.clone(), base.clone());
        async move {
            let res = http.get(format!("{base}{path}")).bearer_auth(&admin).send().await.unwrap();
            assert!(res.status().is_success(), "GET {path}: {}", res.status());
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let mut rules = get("/api/v1/settings/rectification".into()).await;
    rules["digest_hour"] = serde_json::json!(0);
    let res = http.put(format!("{base}/api/v1/settings/rectification")).bearer_auth(&admin).json(&rules).send().await;
    assert!(res.unwrap().status().is_success());
    let mut server = server;
    server.restart_with_env(&[("ANFANG_SCHEDULER_SECS", "1")]);
    let base = server.url();
    let case_ref = get("/api/v1/cases".into()).await["items"][0]["reference"].as_str().expect("a case").to_owned();
    let mut notified = false;
    for _ in 0..100 {
        if !get(format!("/api/v1/cases/{case_ref}")).await["notified_at"].is_null() {
            notified = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(notified, "the digest told U03 of its case");
    let contact = get("/api/v1/units/U03/contacts".into()).await["items"][0]["id"].to_string();
    let notice = get("/api/v1/notices".into()).await["items"][0]["id"].to_string();
    assert!(contact != "null" && notice != "null", "a contact {contact} and a notice {notice}");

    // The case on the exposure page: a reviewer proposes it, the admin
    // publishes it with its photo.
    let reviewer_password = add_user(&server, "shenhe", "reviewer");
    let reviewer = sign_in(&server, "shenhe", &reviewer_password).await;
    let proposed: serde_json::Value = http
        .post(format!("{base}/api/v1/cases/{case_ref}/exposure"))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = proposed["reference"].as_str().expect("an exposure entry").to_owned();
    let published = post(
        format!("/api/v1/exposure/{entry}/publish"),
        serde_json::json!({"title": "占用人行道", "description": "商户占用人行道经营。", "photos": [photo], "faces_checked": true}),
    )
    .await;
    assert_eq!(published["status"], "published", "{published}");

    // Last month issued and the league made public, so its public pages
    // answer and are walked.
    let issued_month = {
        let first: jiff::civil::Date = format!("{}-01", &office_today()[..7]).parse().unwrap();
        let prev = first.checked_sub(jiff::Span::new().months(1)).unwrap();
        format!("{:04}-{:02}", prev.year(), prev.month())
    };
    let issued = post(format!("/api/v1/league/{issued_month}/issue"), serde_json::json!(null)).await;
    assert!(issued["result_hash"].is_string(), "{issued}");
    let public = http
        .put(format!("{base}/api/v1/settings/league"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"public": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);

    let ids = Ids {
        entry,
        case: case_ref,
        contact,
        notice,
        finding: finding.id.to_string(),
        bulletin: bulletin_id.clone(),
        photo: photo.clone(),
        draw: draw["id"].as_str().unwrap().to_owned(),
        inspector: inspector_id,
        unit: "U03".into(),
        point: "P001".into(),
        category: "parking".into(),
        month: office_today()[..7].to_owned(),
        issued_month,
    };

    let leader_password = add_user(&server, "lingdao", "leader");
    let leader = sign_in(&server, "lingdao", &leader_password).await;
    let unit_password = add_unit_user(&server, "chengguan", "U03");
    let unit = sign_in(&server, "chengguan", &unit_password).await;

    let mut secrets: Vec<(String, &str)> = vec![
        (alias.clone(), "the alias"),
        (device_id.clone(), "the device id"),
        (device_token.clone(), "the device token"),
        ("\"inspector_id\"".into(), "an inspector_id field"),
        (CLIENT_IP.into(), "the client IP"),
    ];
    for (other_alias, code) in &server.demo.codes {
        secrets.push((other_alias.clone(), "an alias"));
        secrets.push((code.clone(), "an enrollment code"));
        secrets.push((code.replace('-', ""), "an enrollment code"));
    }
    secrets.push((fresh_code.clone(), "an enrollment code"));
    secrets.push((fresh_code.replace('-', ""), "an enrollment code"));

    // Reviewers and admins see the receipt time; it must reach no leader.
    let reviewed: serde_json::Value = http
        .get(format!("{base}/api/v1/findings/{}", finding.id))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let received = reviewed["received_at"].as_str().expect("admins see received_at").to_owned();
    let exact: Vec<(String, &str)> = vec![
        (finding.id.to_string(), "the finding id (a UUIDv7)"),
        ("31.2061237".into(), "the recorded latitude"),
        ("107.4683459".into(), "the recorded longitude"),
        ("7.25".into(), "the recorded accuracy"),
        ("accuracy".into(), "an accuracy field"),
        (observed.to_string(), "the capture time"),
        (observed.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(), "the capture minute"),
        (observed.as_millisecond().to_string(), "the capture millisecond"),
        ("\"received_at\"".into(), "the receipt time"),
    ];
    let batch: Vec<(String, &str)> = vec![
        ("\"received_at\"".into(), "a received_at field"),
        (received.clone(), "the receipt time"),
        ("收到 ".into(), "the receipt time (console)"),
    ];

    let range = format!("from={0}&to={0}", office_today());
    let mut checked = 0;
    let mut leaks = Vec::new();
    // The API document describes the office's types, so it names their
    // fields (`accuracy`, `received_at`); it must still carry no value.
    let field_names = ["accuracy", "\"received_at\""];
    let mut check = |what: String, who: Who, path: &str, body: &str| {
        checked += 1;
        let names_ok = |value: &str| !(path.ends_with("/openapi.json") && field_names.contains(&value));
        for (secret, name) in &secrets {
            if body.contains(secret.as_str()) {
                leaks.push(format!("{what} shows {name} ({secret})"));
            }
        }
        // Units and the public get nothing exact; bulletins are sent to units.
        // So is the league (it shows points and units by month only).
        if who != Who::Leader || path.contains("/bulletins") || path.contains("/league") {
            for (value, name) in &exact {
                if names_ok(value) && body.contains(value.as_str()) {
                    leaks.push(format!("{what} shows {name} ({value})"));
                }
            }
            if has_uuid_v7(body) {
                leaks.push(format!("{what} shows a UUIDv7"));
            }
        }
        if who == Who::Leader {
            for (value, name) in &batch {
                if names_ok(value) && body.contains(value.as_str()) {
                    leaks.push(format!("{what} shows {name} ({value})"));
                }
            }
        }
    };

    use anfang_server::auth::Role;
    use anfang_server::routes::{Access, api_routes, console_routes};
    for r in api_routes() {
        let path = concrete(r.path, &ids);
        for who in [Who::Public, Who::Leader, Who::Unit] {
            let allowed = match r.access {
                Access::Anonymous => true,
                Access::Device => false,
                Access::Office(min) => who == Who::Leader && min <= Role::Leader,
                Access::Unit => who == Who::Unit,
            };
            // Case queues take no period (their filters refuse unknown fields).
            let ranged = r.method == "get" && !r.path.starts_with("/api/v1/cases");
            let url = if ranged { format!("{base}{path}?{range}") } else { format!("{base}{path}") };
            let mut req = http
                .request(r.method.to_uppercase().parse().unwrap(), &url)
                .header("x-forwarded-for", CLIENT_IP)
                .header("x-real-ip", CLIENT_IP)
                .header("content-type", "application/json");
            match who {
                Who::Leader => req = req.bearer_auth(&leader),
                Who::Unit => req = req.bearer_auth(&unit),
                Who::Public => {}
            }
            // The open POSTs get real input, so their success answers are
            // searched too; everything else gets an empty object.
            let body = match r.path {
                "/api/v1/session" => serde_json::json!({"username": "lingdao", "password": leader_password}),
                "/api/v1/enroll" => serde_json::json!({"code": "0000-0000-0000", "device_label": "x"}),
                _ => serde_json::json!({}),
            };
            let res = req.body(body.to_string()).send().await.unwrap();
            let status = res.status();
            let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let bytes = res.bytes().await.unwrap();
            let what = format!("{} {path} as {who:?} ({status})", r.method.to_uppercase());
            // The walk stores no PDF scan: the file route answers 404.
            let file = r.path.starts_with("/api/v1/case-files/");
            if allowed && r.method == "get" && !file {
                assert!(status.is_success(), "{what} should answer: {}", String::from_utf8_lossy(&bytes));
            }
            if !allowed {
                assert!(status == 401 || status == 403, "{what} must be refused");
            }
            check(what, who, r.path, &readable(&ctype, &bytes));
        }
    }

    // The console: leaders read its pages; units and the public are refused.
    let console = |cookie: Option<&str>| {
        let mut h = reqwest::header::HeaderMap::new();
        if let Some(c) = cookie {
            h.insert("cookie", format!("anfang_session={c}").parse().unwrap());
        }
        h.insert("x-forwarded-for", CLIENT_IP.parse().unwrap());
        h
    };
    for r in console_routes() {
        let path = concrete(r.path, &ids);
        for (who, cookie) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let url = format!("{base}{path}");
            let req = if r.method == "get" { http.get(&url) } else { http.post(&url).header("origin", &base) };
            let res = req.headers(console(cookie)).send().await.unwrap();
            let status = res.status();
            let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let bytes = res.bytes().await.unwrap();
            let what = format!("console {} {path} as {who:?} ({status})", r.method.to_uppercase());
            if who == Who::Unit && r.min.is_some() {
                assert_eq!(status, 403, "{what}: a unit account has no console");
            }
            if who == Who::Leader && r.method == "get" && r.min.is_some_and(|m| m <= Role::Leader) {
                assert!(status.is_success() || status.is_redirection(), "{what} should answer");
            }
            check(what, who, r.path, &readable(&ctype, &bytes));
        }
    }

    // The exposure page, its feeds and its photo route: all for the public.
    let mut public_pages = 0;
    for r in anfang_server::routes::public_routes() {
        let path = concrete(r.path, &ids);
        for (who, cookie) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let res = http.get(format!("{base}{path}")).headers(console(cookie)).send().await.unwrap();
            let status = res.status();
            let ctype = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let bytes = res.bytes().await.unwrap();
            let what = format!("public GET {path} as {who:?} ({status})");
            if r.path != "/public" {
                assert!(status.is_success(), "{what} should answer");
                public_pages += 1;
            }
            check(what, Who::Public, r.path, &readable(&ctype, &bytes));
        }
    }
    assert_eq!(public_pages, 3 * (anfang_server::routes::public_routes().len() - 1));

    assert!(leaks.is_empty(), "inspector traces leaked:\n{}", leaks.join("\n"));
    assert!(
        checked >= 3 * (api_routes().len() + console_routes().len() + anfang_server::routes::public_routes().len()),
        "every route was walked"
    );

    // The unit's own route does show its finding (so the walk above was not
    // vacuous): the accepted yellow card with its photo hash and deadline.
    let mine: serde_json::Value =
        http.get(format!("{base}/api/v1/unit/findings")).bearer_auth(&unit).send().await.unwrap().json().await.unwrap();
    let item = &mine["items"][0];
    let public_ref: String = common::with_database(&server.data_dir, |db| {
        db.query_row(
            "SELECT public_ref FROM finding_public_refs WHERE finding_id = ?1",
            [finding.id.to_string()],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(item["reference"], public_ref.as_str(), "{mine}");
    assert_eq!(
        (item["observed_on"].as_str(), item["part_of_day"].as_str()),
        (Some(office_today().as_str()), Some("上午"))
    );
    assert_eq!(item["photos"][0], photo.as_str(), "{mine}");
    assert!(item["rectify_by"].is_string(), "{mine}");
    // And the issued bulletin prints the note, masked.
    let issued = http
        .get(format!("{base}/api/v1/bulletins/{bulletin_id}/bulletin.html"))
        .bearer_auth(&leader)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(issued.contains("占用人行道（督查员 拍摄）"), "{issued}");
    assert!(issued.contains(&public_ref) && issued.contains(&format!("{} 上午", office_today())), "{issued}");
}
