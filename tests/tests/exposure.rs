//! The exposure page (曝光台) with the real server on a real socket: a red
//! case is not public until a second reviewer publishes it (the proposer
//! may not; without four eyes only an admin may), every refusal has its
//! stable code, the public pages and feeds show the entry without any
//! inspector trace, the public photo route serves only the selected photo,
//! a withdrawal leaves its note and date, the console's publish form shows
//! the photo large and requires the face/plate check, and `verify` names a
//! published text altered in the database. A unit commits publicly (公开承诺)
//! in the portal on its published red case; the entry shows it, and once
//! the day has passed with the case open, that it was not kept.

mod common;

use common::office::{Browser, add_unit_user, add_user, sign_in};
use common::{Device, Server, fast, processed, verify};
use serde_json::{Value, json};

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A public page or feed with no credentials: (status, cache-control, body).
    async fn public(&self, path: &str) -> (u16, String, String) {
        let res = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        let status = res.status().as_u16();
        let cache = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, cache, res.text().await.unwrap())
    }

    async fn public_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let res = self.http.get(format!("{}{path}", self.url)).send().await.unwrap();
        let status = res.status().as_u16();
        let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (status, kind, res.bytes().await.unwrap().to_vec())
    }
}

/// Accepts a finding as `reviewer` and answers its case's reference.
async fn accept(api: &Api, reviewer: &str, finding: &str, decision: Value) -> Option<String> {
    let (status, body) =
        api.send("POST", &format!("/api/v1/findings/{finding}/review"), Some(reviewer), Some(decision)).await;
    assert_eq!(status, 200, "{body}");
    let (_, cases) = api.send("GET", "/api/v1/cases", Some(reviewer), None).await;
    cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["finding_id"] == finding)
        .map(|c| c["reference"].as_str().unwrap().to_owned())
}

const PUBLIC_PAGES: [&str; 3] = ["/public/", "/public/feed.json", "/public/feed.atom"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_is_public_only_once_a_second_reviewer_publishes_it_and_a_withdrawal_leaves_its_note() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let admin = server.admin_token().await;
    let (p1, p2) = (add_user(&server, "rev1", "reviewer"), add_user(&server, "rev2", "reviewer"));
    let (rev1, rev2) = (sign_in(&server, "rev1", &p1).await, sign_in(&server, "rev2", &p2).await);

    // A red card at P001 with two photos, and a yellow at P002 whose photo is never published.
    let mut phone = Device::enroll(&server, 0).await;
    let alias = server.demo.codes[0].0.clone();
    let red = phone.record("P001", anfang_core::Card::Red, vec![processed(31, 1200, 900), processed(32, 900, 1200)]);
    let other = phone.record("P002", anfang_core::Card::Yellow, vec![processed(33, 800, 600)]);
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 2);
    let case_ref = accept(&api, &rev1, &red.id.to_string(), json!({"decision": "accept"})).await.expect("a case");
    accept(&api, &rev1, &other.id.to_string(), json!({"decision": "accept"})).await.expect("a case");
    let (shown, hidden, unpublished) = (red.photos[0].clone(), red.photos[1].clone(), other.photos[0].clone());

    // Nothing is public yet, and a proposal changes nothing in public.
    let point_name = phone.store.point("P001").unwrap().unwrap().name;
    let nothing_public = |stage: &'static str| {
        let api = &api;
        let point_name = point_name.clone();
        let shown = shown.clone();
        async move {
            for path in PUBLIC_PAGES {
                let (status, _, body) = api.public(path).await;
                assert_eq!(status, 200, "{stage}: {path}");
                assert!(
                    !body.contains(&point_name) && !body.contains(&shown),
                    "{stage}: {path} shows the case: {body}"
                );
            }
            let (status, _, _) = api.public_bytes(&format!("/public/photos/{shown}")).await;
            assert_eq!(status, 404, "{stage}: the photo is not public");
        }
    };
    nothing_public("before the proposal").await;
    let (status, entry) = api.send("POST", &format!("/api/v1/cases/{case_ref}/exposure"), Some(&rev1), None).await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(entry["status"], "proposed", "{entry}");
    let entry_ref = entry["reference"].as_str().unwrap().to_owned();
    assert_ne!(entry_ref, case_ref, "the public reference is the entry's own");
    nothing_public("proposed").await;
    let (status, _, _) = api.public(&format!("/public/entries/{entry_ref}")).await;
    assert_eq!(status, 404, "a proposed entry has no public page");
    let (status, body) = api.send("POST", &format!("/api/v1/cases/{case_ref}/exposure"), Some(&rev2), None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("exposure_already_proposed")), "{body}");

    // Refusals, each with its code, and nothing published by any of them.
    let publish = format!("/api/v1/exposure/{entry_ref}/publish");
    let good = json!({"title": "人行道违规停车", "description": "人行道上停放多辆机动车，行人被迫走上车行道。",
                      "photos": [shown], "faces_checked": true});
    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    let refusals = [
        (&rev1, good.clone(), 403, "exposure_own_proposal"),
        (&rev2, with("title", json!("   ")), 422, "exposure_title_length"),
        (&rev2, with("title", json!("长".repeat(61))), 422, "exposure_title_length"),
        (&rev2, with("description", json!("")), 422, "exposure_description_length"),
        (&rev2, with("faces_checked", json!(false)), 422, "exposure_faces_unchecked"),
        (&rev2, with("photos", json!([unpublished])), 422, "exposure_photo_not_of_case"),
        (&rev2, with("photos", json!([])), 422, "exposure_photo_required"),
        (&rev2, with("description", json!(format!("{alias} 拍摄"))), 422, "exposure_names_inspector"),
    ];
    for (who, body, want, code) in refusals {
        let (status, answer) = api.send("POST", &publish, Some(who), Some(body.clone())).await;
        assert_eq!((status, answer["code"].as_str()), (want, Some(code)), "{body}: {answer}");
    }
    // Four eyes off: only an admin publishes.
    let (status, _) =
        api.send("PUT", "/api/v1/settings/exposure", Some(&admin), Some(json!({"four_eyes": false}))).await;
    assert_eq!(status, 200);
    let (status, answer) = api.send("POST", &publish, Some(&rev2), Some(good.clone())).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("exposure_needs_admin")), "{answer}");
    let (status, _) =
        api.send("PUT", "/api/v1/settings/exposure", Some(&admin), Some(json!({"four_eyes": true}))).await;
    assert_eq!(status, 200);
    nothing_public("after every refusal").await;

    // A second reviewer publishes; a second publish is refused.
    let (status, published) = api.send("POST", &publish, Some(&rev2), Some(good.clone())).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!((published["status"].as_str(), published["photos"].clone()), (Some("published"), json!([shown])));
    let (status, answer) = api.send("POST", &publish, Some(&admin), Some(good.clone())).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("exposure_already_published")), "{answer}");

    // Public now: the list, the entry, the unit's and the point's pages, both feeds.
    let unit_id = published["unit_id"].as_str().unwrap().to_owned();
    let pages = [
        "/public/".to_owned(),
        format!("/public/entries/{entry_ref}"),
        format!("/public/units/{unit_id}"),
        "/public/points/P001".to_owned(),
        "/public/feed.json".to_owned(),
        "/public/feed.atom".to_owned(),
        format!("/public/?unit={unit_id}&state=in_progress"),
    ];
    let exact_time = red.observed_at.to_string();
    let minute = red
        .observed_at
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .strftime("%H:%M")
        .to_string();
    let location = red.location.as_ref().unwrap();
    for path in &pages {
        let (status, cache, body) = api.public(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(cache.contains("public") && !cache.contains("no-store"), "{path}: {cache}");
        assert!(body.contains("人行道违规停车") && body.contains(&point_name), "{path}: {body}");
        for trace in [
            alias.clone(),
            red.id.to_string(),
            exact_time.clone(),
            format!("{:.5}", location.lat),
            format!("{:.5}", location.lon),
            case_ref.clone(),
            "rev1".into(),
            "rev2".into(),
        ] {
            assert!(!body.contains(&trace), "{path} shows {trace}: {body}");
        }
        assert!(!body.contains(&format!(" {minute}")), "{path} shows the capture minute {minute}");
    }
    let (_, _, entry_page) = api.public(&format!("/public/entries/{entry_ref}")).await;
    assert!(entry_page.contains("整改中") && entry_page.contains("红牌"), "{entry_page}");
    assert!(entry_page.contains(&format!("/public/photos/{shown}")) && !entry_page.contains(&hidden), "{entry_page}");
    let (_, _, overdue_filter) = api.public("/public/?state=overdue").await;
    assert!(!overdue_filter.contains("人行道违规停车"), "the state filter keeps it out of 逾期未改");
    let (_, _, feed) = api.public("/public/feed.json").await;
    let feed: Value = serde_json::from_str(&feed).unwrap();
    assert_eq!(feed["items"].as_array().unwrap().len(), 1, "{feed}");
    assert!(feed["items"][0]["date_published"].as_str().unwrap().ends_with("T00:00:00+08:00"), "day only: {feed}");

    // The public photo route: the selected photo (stored, metadata-free), nothing else.
    let (status, kind, bytes) = api.public_bytes(&format!("/public/photos/{shown}")).await;
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(common::sha256_hex(&bytes), shown, "the stored copy, byte for byte");
    let (status, _, _) = api.public_bytes(&format!("/public/photos/{shown}/thumbnail")).await;
    assert_eq!(status, 200);
    for refused in [&hidden, &unpublished] {
        for suffix in ["", "/thumbnail"] {
            let (status, _, _) = api.public_bytes(&format!("/public/photos/{refused}{suffix}")).await;
            assert_eq!(status, 404, "{refused}{suffix} is in no published entry");
        }
    }

    // Withdrawal: refused without a note; then the entry keeps only its note and date.
    let withdraw = format!("/api/v1/exposure/{entry_ref}/withdraw");
    let (status, answer) = api.send("POST", &withdraw, Some(&rev1), Some(json!({"note": " "}))).await;
    assert_eq!((status, answer["code"].as_str()), (422, Some("exposure_note_length")), "{answer}");
    let note = "责任单位核实后发现点位划分有误，撤回此条";
    let (status, answer) = api.send("POST", &withdraw, Some(&rev1), Some(json!({"note": note}))).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("withdrawn")), "{answer}");
    let (status, answer) = api.send("POST", &withdraw, Some(&rev1), Some(json!({"note": note}))).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("exposure_withdrawn")), "{answer}");
    let (status, _, page) = api.public(&format!("/public/entries/{entry_ref}")).await;
    let today = common::office_today();
    assert_eq!(status, 200);
    assert!(page.contains("已撤回") && page.contains(note) && page.contains(&today), "{page}");
    assert!(!page.contains("人行道违规停车") && !page.contains(&point_name), "{page}");
    for path in PUBLIC_PAGES {
        let (_, _, body) = api.public(path).await;
        assert!(body.contains(note) && !body.contains("人行道违规停车") && !body.contains(&shown), "{path}: {body}");
    }
    let (status, _, _) = api.public(&format!("/public/units/{unit_id}")).await;
    assert_eq!(status, 404, "a withdrawn entry is no claim about the unit");
    let (status, _, _) = api.public_bytes(&format!("/public/photos/{shown}")).await;
    assert_eq!(status, 404, "a withdrawn entry's photo is no longer served");

    // The console: the case can be proposed again; the publish form shows the
    // photo large and needs the face/plate check.
    let console = Browser::login(&server, "rev1", &p1).await;
    let (status, case_page) = console.get(&format!("/console/cases/{case_ref}")).await;
    assert_eq!(status, 200);
    assert!(case_page.contains("提议曝光") && case_page.contains(&entry_ref), "{case_page}");
    let (status, _) = console.submit(&case_page, &format!("/console/cases/{case_ref}/exposure"), &[]).await;
    assert_eq!(status, 303);
    let (_, entries) = api.send("GET", "/api/v1/exposure", Some(&rev2), None).await;
    let again =
        entries["items"].as_array().unwrap().iter().find(|e| e["status"] == "proposed").expect("a new proposal");
    let again_ref = again["reference"].as_str().unwrap().to_owned();
    let second = Browser::login(&server, "rev2", &p2).await;
    let (status, form_page) = second.get(&format!("/console/exposure/{again_ref}")).await;
    assert_eq!(status, 200);
    assert!(form_page.contains(&format!("src=\"/api/v1/photos/{shown}\"")), "the photo large: {form_page}");
    assert!(form_page.contains("name=\"faces_checked\"") && form_page.contains("人脸和车牌"), "{form_page}");
    let path = format!("/console/exposure/{again_ref}/publish");
    let photo_field = format!("photo_{shown}");
    let fields =
        [("title", "人行道违规停车（复核）"), ("description", "同一问题再次曝光。"), (photo_field.as_str(), "1")];
    let (status, refused) = second.submit(&form_page, &path, &fields).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused.contains("请先确认已检查照片中的人脸和车牌") && refused.contains("人行道违规停车（复核）"),
        "refused with the input kept: {refused}"
    );
    let mut checked = fields.to_vec();
    checked.push(("faces_checked", "1"));
    let (status, _) = second.submit(&form_page, &path, &checked).await;
    assert_eq!(status, 303);
    let (_, _, list) = api.public("/public/").await;
    assert!(list.contains("人行道违规停车（复核）") && list.contains(note), "{list}");

    // The published text is frozen in the database and in the evidence log.
    server.kill();
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "an untouched data dir verifies: {out}");
    let db = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    let refused = db.execute("UPDATE exposure_entries SET title = '已整改' WHERE public_ref = ?1", [&again_ref]);
    assert!(refused.unwrap_err().to_string().contains("frozen"));
    db.execute_batch("DROP TRIGGER exposure_entries_frozen").unwrap();
    db.execute("UPDATE exposure_entries SET description = '问题轻微' WHERE public_ref = ?1", [&again_ref]).unwrap();
    drop(db);
    let (code, out) = verify(data.path());
    assert_ne!(code, 0, "{out}");
    assert!(
        out.lines().any(|l| l.contains(&format!("exposure entry {again_ref}")) && l.contains("altered")),
        "the audit names the altered entry: {out}"
    );
    assert!(!out.contains(&format!("exposure entry {entry_ref}")), "the intact entry is not accused: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn green_cancelled_and_unknown_cases_cannot_be_proposed() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let p = add_user(&server, "rev1", "reviewer");
    let rev = sign_in(&server, "rev1", &p).await;
    let mut phone = Device::enroll(&server, 0).await;
    let green = phone.record("P002", anfang_core::Card::Green, vec![]);
    let yellow = phone.record("P003", anfang_core::Card::Yellow, vec![processed(41, 800, 600)]);
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 2);
    assert!(
        accept(&api, &rev, &green.id.to_string(), json!({"decision": "accept"})).await.is_none(),
        "green opens no case"
    );
    let case_ref = accept(&api, &rev, &yellow.id.to_string(), json!({"decision": "accept"})).await.unwrap();
    // Rejected on review: the case is cancelled.
    let rejection = json!({"decision": "reject", "reason": "照片不清，无法认定"});
    accept(&api, &rev, &yellow.id.to_string(), rejection).await;
    let (_, case) = api.send("GET", &format!("/api/v1/cases/{case_ref}"), Some(&rev), None).await;
    assert_eq!(case["state"], "cancelled", "{case}");

    for (reference, want, code) in [
        (green.id.to_string(), 422, "exposure_green_card"),
        (case_ref.clone(), 422, "exposure_case_cancelled"),
        ("0123456789ab".to_owned(), 404, "exposure_case_unknown"),
    ] {
        let (status, body) = api.send("POST", &format!("/api/v1/cases/{reference}/exposure"), Some(&rev), None).await;
        assert_eq!((status, body["code"].as_str()), (want, Some(code)), "{reference}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    let (_, entries) = api.send("GET", "/api/v1/exposure", Some(&rev), None).await;
    assert_eq!(entries["items"], json!([]), "nothing was proposed");
}

/// The unit portal as a browser holds it: signs in at /unit/login.
async fn portal_session(server: &Server, username: &str, password: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = http
        .post(format!("{}/unit/login", server.url()))
        .header("origin", server.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("username", username), ("password", password)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "portal sign-in {username}");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    (http, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_commits_publicly_in_the_portal_and_the_page_says_when_the_commitment_was_not_kept() {
    let data = tempfile::tempdir().unwrap();
    let fast_scheduler = ("ANFANG_SCHEDULER_SECS", "1");
    let mut server = Server::start_with_env(data.path(), "127.0.0.1:0", true, &[fast_scheduler]);
    let p = add_user(&server, "rev1", "reviewer");
    let mut phone = Device::enroll(&server, 0).await;
    let red = phone.record("P001", anfang_core::Card::Red, vec![processed(51, 800, 600)]);
    let yellow = phone.record("P002", anfang_core::Card::Yellow, vec![processed(52, 800, 600)]);
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 2);
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let rev = sign_in(&server, "rev1", &p).await;
    let red_case = accept(&api, &rev, &red.id.to_string(), json!({"decision": "accept"})).await.unwrap();
    let yellow_case = accept(&api, &rev, &yellow.id.to_string(), json!({"decision": "accept"})).await.unwrap();
    let u03 = add_unit_user(&server, "u03-acct", "U03");
    let u09 = add_unit_user(&server, "u09-acct", "U09");

    // The evening digest notifies U03 of both cases.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let today = common::office_now().date();
    let evening = today.at(18, 5, 0, 0).to_zoned_datetime(tz.clone()).unwrap().timestamp().max(jiff::Timestamp::now());
    let today = evening.to_zoned_datetime(tz.clone()).date();
    server.restart_with_env(&[fast_scheduler, ("ANFANG_TEST_NOW", &evening.to_string())]);
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let (rev, admin) = (sign_in(&server, "rev1", &p).await, server.admin_token().await);
    for _ in 0..100 {
        let (_, case) = api.send("GET", &format!("/api/v1/cases/{red_case}"), Some(&rev), None).await;
        if !case["notified_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (unit, other) = (sign_in(&server, "u03-acct", &u03).await, sign_in(&server, "u09-acct", &u09).await);
    let due = today.tomorrow().unwrap().to_string();
    let good = json!({"person_name": "李明", "person_title": "城管局副局长", "what": "三日内清理并安排专人每日巡查", "due_on": due});
    let commit = |case: &str| format!("/api/v1/unit/cases/{case}/commitment");
    let (status, body) = api.send("POST", &commit(&red_case), Some(&unit), Some(good.clone())).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("exposure_commitment_not_published")), "{body}");

    // Both cases published.
    for case in [&red_case, &yellow_case] {
        let (status, entry) = api.send("POST", &format!("/api/v1/cases/{case}/exposure"), Some(&rev), None).await;
        assert_eq!(status, 201, "{entry}");
        let (status, body) = api
            .send(
                "POST",
                &format!("/api/v1/exposure/{}/publish", entry["reference"].as_str().unwrap()),
                Some(&admin),
                Some(json!({"title": format!("问题 {case}"), "description": "占道经营。", "photos": entry["finding_photos"], "faces_checked": true})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, entries) = api.send("GET", "/api/v1/exposure", Some(&rev), None).await;
    let entry_of = |case: &str| {
        entries["items"].as_array().unwrap().iter().find(|e| e["case_ref"] == case).unwrap()["reference"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let red_entry = entry_of(&red_case);

    // Refusals, each with its code.
    let yesterday = today.yesterday().unwrap().to_string();
    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    for (who, case, body, want, code) in [
        (&unit, &yellow_case, good.clone(), 409, "exposure_commitment_not_red"),
        (&other, &red_case, good.clone(), 404, "case_not_found"),
        (&unit, &red_case, with("person_name", json!(" ")), 422, "exposure_commitment_text"),
        (&unit, &red_case, with("what", json!("做".repeat(501))), 422, "exposure_commitment_text"),
        (&unit, &red_case, with("due_on", json!(yesterday)), 422, "exposure_commitment_due"),
    ] {
        let (status, answer) = api.send("POST", &commit(case), Some(who), Some(body.clone())).await;
        assert_eq!((status, answer["code"].as_str()), (want, Some(code)), "{body}: {answer}");
    }

    // In the portal: the case page asks for the commitment; the form makes it.
    let (portal, cookie) = portal_session(&server, "u03-acct", &u03).await;
    let page = portal
        .get(format!("{}/unit/cases/{red_case}", server.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("公开承诺") && page.contains("提交公开承诺"), "{page}");
    let csrf = common::office::csrf_of(&page);
    let res = portal
        .post(format!("{}/unit/cases/{red_case}/commitment", server.url()))
        .header("cookie", &cookie)
        .header("origin", server.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("csrf", csrf.as_str()),
                ("person_name", "李明"),
                ("person_title", "城管局副局长"),
                ("what", "三日内清理并安排专人每日巡查"),
                ("due_on", due.as_str()),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (status, answer) = api.send("POST", &commit(&red_case), Some(&unit), Some(good.clone())).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("exposure_commitment_exists")), "{answer}");

    // On the entry: who, what, by when, and 承诺期内 until that day ends.
    let (_, _, page) = api.public(&format!("/public/entries/{red_entry}")).await;
    for text in ["公开承诺", "城管局副局长 李明", "三日内清理并安排专人每日巡查", &due, "承诺期内"]
    {
        assert!(page.contains(text), "{text}: {page}");
    }
    // The day after the due day, with the case still open: 未兑现.
    let after = tz.to_timestamp(today.tomorrow().unwrap().tomorrow().unwrap().at(9, 0, 0, 0)).unwrap();
    server.restart_with_env(&[("ANFANG_TEST_NOW", &after.to_string())]);
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let (_, _, page) = api.public(&format!("/public/entries/{red_entry}")).await;
    assert!(page.contains("未兑现") && !page.contains("承诺期内"), "{page}");
    let (_, _, feed) = api.public("/public/feed.json").await;
    assert!(feed.contains("未兑现"), "{feed}");

    // Logged as evidence: an altered commitment is named.
    server.kill();
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
    let db = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    assert!(db.execute("UPDATE exposure_commitments SET due_on = '2099-01-01'", []).is_err(), "never changed");
    db.execute_batch(
        "DROP TRIGGER exposure_commitments_no_update; UPDATE exposure_commitments SET due_on = '2099-01-01';",
    )
    .unwrap();
    drop(db);
    let (code, out) = verify(data.path());
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("public commitment exposure/") && out.contains("altered"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crop_is_published_as_a_new_image_and_the_evidence_photo_stays_as_it_was() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let (p1, p2) = (add_user(&server, "rev1", "reviewer"), add_user(&server, "rev2", "reviewer"));
    let (rev1, rev2) = (sign_in(&server, "rev1", &p1).await, sign_in(&server, "rev2", &p2).await);
    let mut phone = Device::enroll(&server, 0).await;
    let red = phone.record("P001", anfang_core::Card::Red, vec![processed(41, 1200, 900), processed(42, 800, 600)]);
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    let case_ref = accept(&api, &rev1, &red.id.to_string(), json!({"decision": "accept"})).await.expect("a case");
    let (status, entry) = api.send("POST", &format!("/api/v1/cases/{case_ref}/exposure"), Some(&rev1), None).await;
    assert_eq!(status, 201, "{entry}");
    let publish = format!("/api/v1/exposure/{}/publish", entry["reference"].as_str().unwrap());
    let (original, other) = (red.photos[0].clone(), red.photos[1].clone());
    let original_path = data.path().join("photos").join(&original[..2]).join(format!("{original}.jpg"));
    let original_bytes = std::fs::read(&original_path).unwrap();
    let body = |crops: Value| {
        json!({"title": "占道经营", "description": "商户占用人行道摆摊。", "photos": [original],
               "faces_checked": true, "crops": crops})
    };

    // Rectangles outside the photo, and crops of a photo not selected, are refused; nothing is published.
    for crops in [
        json!([{"photo": original, "left": 60, "top": 0, "width": 50, "height": 50}]),
        json!([{"photo": original, "left": 0, "top": 0, "width": 0, "height": 50}]),
        json!([{"photo": other, "left": 0, "top": 0, "width": 50, "height": 50}]),
    ] {
        let (status, answer) = api.send("POST", &publish, Some(&rev2), Some(body(crops.clone()))).await;
        assert_eq!((status, answer["code"].as_str()), (422, Some("exposure_crop_invalid")), "{crops}: {answer}");
    }
    // A selection naming no stored photo, cropped: the photo is not the case's.
    for bogus in ["ab", &"0".repeat(64)] {
        let b = json!({"title": "占道经营", "description": "商户占用人行道摆摊。", "photos": [bogus],
                       "faces_checked": true, "crops": [{"photo": bogus, "left": 0, "top": 0, "width": 50, "height": 50}]});
        let (status, answer) = api.send("POST", &publish, Some(&rev2), Some(b)).await;
        assert_eq!((status, answer["code"].as_str()), (422, Some("exposure_photo_not_of_case")), "{bogus}: {answer}");
    }
    let (status, _, _) = api.public_bytes(&format!("/public/photos/{original}")).await;
    assert_eq!(status, 404);

    // Published with a crop: the public sees a new image of the rectangle.
    let crops = json!([{"photo": original, "left": 10, "top": 20, "width": 50, "height": 60}]);
    let (status, published) = api.send("POST", &publish, Some(&rev2), Some(body(crops))).await;
    assert_eq!(status, 200, "{published}");
    let derived = published["photos"][0].as_str().unwrap().to_owned();
    assert_ne!(derived, original, "a new image is shown");
    let (status, kind, bytes) = api.public_bytes(&format!("/public/photos/{derived}")).await;
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(common::sha256_hex(&bytes), derived, "content-addressed like every photo");
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (600, 540), "50% × 60% of the 1200×900 photo");
    let (status, _, _) = api.public_bytes(&format!("/public/photos/{derived}/thumbnail")).await;
    assert_eq!(status, 200);
    let (status, _, _) = api.public_bytes(&format!("/public/photos/{original}")).await;
    assert_eq!(status, 404, "the uncropped evidence photo stays private");
    let (_, _, page) = api.public("/public/").await;
    assert!(page.contains(&derived) && !page.contains(&original), "{page}");

    // The evidence photo is untouched, and verify remakes the crop from it.
    assert_eq!(std::fs::read(&original_path).unwrap(), original_bytes);
    assert_eq!(common::sha256_hex(&original_bytes), original);
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");

    // An insider who points the crop at another rectangle is named by verify.
    let conn = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    conn.execute_batch("DROP TRIGGER exposure_crops_no_update; UPDATE exposure_crops SET width_pct = 40;").unwrap();
    drop(conn);
    let (code, out) = verify(data.path());
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("published crop {derived}")) && out.contains("(altered)"), "{out}");
    drop(server);
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// How many entries a public page lists (each card links its entry once).
fn cards(page: &str) -> Vec<String> {
    page.split("class=\"e\" href=\"/public/entries/").skip(1).map(|s| s.split('"').next().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_list_is_paged_newest_first_and_the_feeds_carry_the_newest_fifty() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let admin = server.admin_token().await;
    let p = add_user(&server, "rev1", "reviewer");
    let rev = sign_in(&server, "rev1", &p).await;

    // 55 red cards: every eleventh at P003 (unit U08), the rest at P001 (U03).
    let mut phone = Device::enroll(&server, 0).await;
    let findings: Vec<_> = (0..55u32)
        .map(|i| {
            let point = if i % 11 == 0 { "P003" } else { "P001" };
            phone.record(point, anfang_core::Card::Red, vec![processed(100 + i, 160, 120)])
        })
        .collect();
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 55);
    for f in &findings {
        let review = format!("/api/v1/findings/{}/review", f.id);
        let (status, body) = api.send("POST", &review, Some(&rev), Some(json!({"decision": "accept"}))).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, cases) = api.send("GET", "/api/v1/cases?limit=500", Some(&rev), None).await;
    let case_of = |finding: &str| {
        cases["items"].as_array().unwrap().iter().find(|c| c["finding_id"] == finding).unwrap()["reference"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Published in order: number 54 is the newest.
    for (i, f) in findings.iter().enumerate() {
        let case = case_of(&f.id.to_string());
        let (status, entry) = api.send("POST", &format!("/api/v1/cases/{case}/exposure"), Some(&rev), None).await;
        assert_eq!(status, 201, "{entry}");
        let body = json!({"title": format!("第{i:02}号问题"), "description": "人行道违规停车。",
                          "photos": [f.photos[0]], "faces_checked": true});
        let publish = format!("/api/v1/exposure/{}/publish", entry["reference"].as_str().unwrap());
        let (status, answer) = api.send("POST", &publish, Some(&admin), Some(body)).await;
        assert_eq!(status, 200, "{answer}");
    }

    // The list: 20 a page, newest first, a page count, links both ways.
    let mut seen = std::collections::BTreeSet::new();
    for (page, path, count, newest, oldest) in
        [(1, "/public/", 20, 54, 35), (2, "/public/?page=2", 20, 34, 15), (3, "/public/?page=3", 15, 14, 0)]
    {
        let (status, cache, body) = api.public(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(cache.contains("public"), "{path}: {cache}");
        let listed = cards(&body);
        assert_eq!(listed.len(), count, "{path}: {body}");
        seen.extend(listed);
        assert!(body.contains(&format!("第 {page} / 3 页")), "{path}: {body}");
        assert!(body.contains("曝光 55 条"), "the summary counts all entries: {path}");
        let first = body.find(&format!("第{newest:02}号问题")).unwrap_or_else(|| panic!("{path}: {newest}"));
        let last = body.find(&format!("第{oldest:02}号问题")).unwrap_or_else(|| panic!("{path}: {oldest}"));
        assert!(first < last, "{path}: newest first");
        assert!(!body.contains(&format!("第{:02}号问题", newest + 1)), "{path}: only its own entries");
        let prev = match page {
            1 => None,
            2 => Some("/public/".to_owned()),
            n => Some(format!("/public/?page={}", n - 1)),
        };
        let next = (page < 3).then(|| format!("/public/?page={}", page + 1));
        match prev {
            Some(href) => assert!(body.contains(&format!("rel=\"prev\" href=\"{href}\"")), "{path}: 上一页 {body}"),
            None => assert!(!body.contains("rel=\"prev\""), "{path}"),
        }
        match next {
            Some(href) => assert!(body.contains(&format!("rel=\"next\" href=\"{href}\"")), "{path}: 下一页 {body}"),
            None => assert!(!body.contains("rel=\"next\""), "{path}"),
        }
        assert!(body.contains("上一页") && body.contains("下一页"), "{path}");
    }
    assert_eq!(seen.len(), 55, "every entry on exactly one page");

    // Filters are kept across pages; the count is of the filtered entries.
    let (_, _, body) = api.public("/public/?unit=U03&page=2").await;
    assert_eq!(cards(&body).len(), 20, "{body}");
    assert!(body.contains("第 2 / 3 页") && body.contains("符合条件 50 条"), "{body}");
    assert!(body.contains("rel=\"next\" href=\"/public/?unit=U03&amp;page=3\""), "{body}");
    assert!(body.contains("rel=\"prev\" href=\"/public/?unit=U03\""), "{body}");
    let (_, _, body) = api.public("/public/?unit=U08").await;
    assert_eq!(cards(&body).len(), 5, "{body}");
    assert!(body.contains("第 1 / 1 页") && !body.contains("rel=\"next\""), "{body}");

    // A unit's and a point's pages list only their entries, paged alike.
    let (_, _, body) = api.public("/public/units/U03").await;
    assert_eq!(cards(&body).len(), 20, "{body}");
    assert!(body.contains("曝光 50 条") && body.contains("第 1 / 3 页"), "{body}");
    assert!(body.contains("rel=\"next\" href=\"/public/units/U03?page=2\""), "{body}");
    let (_, _, body) = api.public("/public/points/P003").await;
    assert_eq!(cards(&body).len(), 5, "{body}");
    assert!(body.contains("曝光 5 条") && body.contains("第00号问题") && !body.contains("第01号问题"), "{body}");

    // Bad page numbers: a Chinese page, never a 500; past the end, the last page.
    let raw = no_redirects();
    for bad in ["0", "abc", "-1", "1.5", "99999999999999999999999"] {
        let res = raw.get(format!("{}/public/?page={bad}", server.url())).send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(status, 400, "page={bad}: {body}");
        assert!(body.contains("页码") && body.contains("href=\"/public/\""), "page={bad}: {body}");
    }
    for (path, to) in [
        ("/public/?page=4", "/public/?page=3"),
        ("/public/?unit=U08&page=9", "/public/?unit=U08"),
        ("/public/units/U03?page=7", "/public/units/U03?page=3"),
    ] {
        let res = raw.get(format!("{}{path}", server.url())).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303, "{path}");
        assert_eq!(res.headers()["location"].to_str().unwrap(), to, "{path}");
    }

    // The feeds: the newest 50, and a next page with the rest.
    let (_, _, feed) = api.public("/public/feed.json").await;
    let feed: Value = serde_json::from_str(&feed).unwrap();
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 50, "{feed}");
    assert_eq!(items[0]["title"], "第54号问题");
    let next = feed["next_url"].as_str().expect("next_url");
    assert!(next.ends_with("/public/feed.json?page=2") && next != feed["feed_url"], "{next}");
    let (status, _, feed2) = api.public("/public/feed.json?page=2").await;
    assert_eq!(status, 200);
    let feed2: Value = serde_json::from_str(&feed2).unwrap();
    assert_eq!(feed2["items"].as_array().unwrap().len(), 5, "{feed2}");
    assert!(feed2.get("next_url").is_none(), "the last page has no next_url: {feed2}");
    let mut ids: Vec<&str> =
        items.iter().chain(feed2["items"].as_array().unwrap()).map(|i| i["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 55);
    let (_, _, atom) = api.public("/public/feed.atom").await;
    assert_eq!(atom.matches("<entry>").count(), 50, "{atom}");
    assert!(atom.contains("rel=\"next\" href=\"") && atom.contains("/public/feed.atom?page=2\"/>"), "{atom}");
    let (_, _, atom2) = api.public("/public/feed.atom?page=2").await;
    assert_eq!(atom2.matches("<entry>").count(), 5, "{atom2}");
    assert!(atom2.contains("rel=\"previous\"") && !atom2.contains("rel=\"next\""), "{atom2}");
    for bad in ["/public/feed.json?page=0", "/public/feed.atom?page=x", "/public/feed.json?page=3"] {
        let (status, _, _) = api.public(bad).await;
        assert!((400..500).contains(&status), "{bad}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_photo_is_served_at_a_public_size_and_the_evidence_photo_stays_as_it_was() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let api = Api { http: reqwest::Client::new(), url: server.url() };
    let admin = server.admin_token().await;
    let p = add_user(&server, "rev1", "reviewer");
    let rev = sign_in(&server, "rev1", &p).await;
    let mut phone = Device::enroll(&server, 0).await;
    let red = phone.record("P001", anfang_core::Card::Red, vec![processed(71, 2600, 1950), processed(72, 800, 600)]);
    assert_eq!(phone.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    let (large, small) = (red.photos[0].clone(), red.photos[1].clone());
    let evidence_path = data.path().join("photos").join(&large[..2]).join(format!("{large}.jpg"));
    let evidence = std::fs::read(&evidence_path).unwrap();
    let stored = image::load_from_memory(&evidence).unwrap();
    assert_eq!((stored.width(), stored.height()), (2048, 1536), "the evidence photo is the pipeline's 2048 px");
    let case_ref = accept(&api, &rev, &red.id.to_string(), json!({"decision": "accept"})).await.unwrap();

    // Before publishing, the photo is the same 404 as a hash never stored.
    let never = "f".repeat(64);
    let (_, _, refused) = api.public_bytes(&format!("/public/photos/{never}")).await;
    let (status, _, body) = api.public_bytes(&format!("/public/photos/{large}")).await;
    assert_eq!((status, &body), (404, &refused));

    let (_, entry) = api.send("POST", &format!("/api/v1/cases/{case_ref}/exposure"), Some(&rev), None).await;
    let entry_ref = entry["reference"].as_str().unwrap().to_owned();
    let body = json!({"title": "人行道违规停车", "description": "人行道上停放多辆机动车。",
                      "photos": [large], "faces_checked": true});
    let (status, answer) =
        api.send("POST", &format!("/api/v1/exposure/{entry_ref}/publish"), Some(&admin), Some(body)).await;
    assert_eq!(status, 200, "{answer}");

    // The public copy: at most 1280 px, a JPEG without any metadata, the same bytes every time.
    let (_, _, page) = api.public(&format!("/public/entries/{entry_ref}")).await;
    assert!(page.contains(&format!("src=\"/public/photos/{large}\"")), "{page}");
    let (status, kind, public) = api.public_bytes(&format!("/public/photos/{large}")).await;
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    let img = image::load_from_memory(&public).unwrap();
    assert_eq!((img.width(), img.height()), (1280, 960), "long edge 1280, the aspect kept");
    anfang_server::photos::check_stored_jpeg(&public).expect("JFIF only: no Exif, XMP, ICC or comment");
    assert!(!public.windows(4).any(|w| w == b"Exif"), "no EXIF");
    assert!(public.len() < evidence.len(), "smaller than the evidence photo");
    let (_, _, again) = api.public_bytes(&format!("/public/photos/{large}")).await;
    assert_eq!(again, public, "kept, not remade differently");
    let (status, _, thumb) = api.public_bytes(&format!("/public/photos/{large}/thumbnail")).await;
    assert_eq!(status, 200);
    assert!(image::load_from_memory(&thumb).unwrap().width() <= 320);

    // The evidence photo: the same bytes under the same hash, to the office too.
    assert_eq!(std::fs::read(&evidence_path).unwrap(), evidence);
    assert_eq!(common::sha256_hex(&evidence), large);
    assert_eq!(server.photo_bytes(&rev, &large).await, evidence);

    // The finding's other photo was not selected: still the same 404.
    let (status, _, body) = api.public_bytes(&format!("/public/photos/{small}")).await;
    assert_eq!((status, &body), (404, &refused));
    let (status, _, body) = api.public_bytes(&format!("/public/photos/{small}/thumbnail")).await;
    assert_eq!(status, 404, "{body:?}");

    // Withdrawn: the copy is no longer served.
    let (status, _) = api
        .send("POST", &format!("/api/v1/exposure/{entry_ref}/withdraw"), Some(&rev), Some(json!({"note": "撤回"})))
        .await;
    assert_eq!(status, 200);
    let (status, _, body) = api.public_bytes(&format!("/public/photos/{large}")).await;
    assert_eq!((status, &body), (404, &refused));
    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "{out}");
}
