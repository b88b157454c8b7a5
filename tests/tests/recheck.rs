//! Re-check (复查) by an independent inspector, with the real server binary
//! and the real CLI: inspector A's red finding is accepted and opens a case,
//! the scheduler notifies the unit at 18:01, the unit answers with a photo
//! and a 书面说明, a reviewer draws the re-check, it goes to another
//! inspector, whose CLI pulls it, records "passed" with a photo and pushes:
//! the case is closed on time, the exposure page shows it 已整改（复查通过）
//! with the after-photo beside the before-photo, and `verify` passes.
//!
//! The office's steps run on yesterday's clock (`ANFANG_TEST_NOW`); the
//! re-check itself on the real one, because the CLI stamps findings with
//! the real time: the visit's slot is drawn around now.

mod common;

use anfang_core::clock::Clock;
use anfang_core::store::NewFinding;
use anfang_core::{Card, Location};
use common::office::{add_user, sign_in};
use common::*;
use serde_json::{Value, json};
use std::io::Write;

fn shanghai() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()
}

struct At(jiff::Timestamp);
impl Clock for At {
    fn now(&self) -> jiff::Timestamp {
        self.0
    }
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recheck_drawn_to_another_inspector_closes_the_case_through_the_cli() {
    let now = jiff::Timestamp::now();
    let (start, end) = (
        shanghai().to_datetime(now - jiff::SignedDuration::from_mins(20)),
        shanghai().to_datetime(now + jiff::SignedDuration::from_mins(40)),
    );
    if end.date() != start.date() {
        eprintln!("skipped: between 23:20 and 00:20 office time the re-check slot would cross midnight");
        return;
    }
    let day = start.date();
    let yesterday = day.yesterday().unwrap();
    let at = |h: i8, m: i8| shanghai().to_timestamp(yesterday.at(h, m, 0, 0)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let office_morning = at(10, 0).to_string();
    let mut server = Server::start_with_env(data.path(), "127.0.0.1:0", true, &[("ANFANG_TEST_NOW", &office_morning)]);
    let http = reqwest::Client::new();
    let url = server.url();
    let admin = server.admin_token().await;
    add_user(&server, "rev", "reviewer");
    let reviewer = sign_in(&server, "rev", "rev-password-123").await;

    // Inspector A: a red card at P001, observed ten minutes before the office's morning.
    let mut a = Device::enroll(&server, 0).await;
    let a_alias = server.demo.codes[0].0.clone();
    let p = a.store.point("P001").unwrap().unwrap();
    let observed = at(9, 50);
    let f = a
        .store
        .record_finding(
            NewFinding {
                point_id: "P001".into(),
                unit_id: None,
                category: "sanitation".into(),
                card: Card::Red,
                note: Some("垃圾堆放".into()),
                location: Some(Location { lat: p.lat, lon: p.lon, accuracy_m: 6.0, captured_at: observed }),
                photos: vec![processed(11, 1600, 1200)],
            },
            &At(observed),
        )
        .unwrap();
    let before_photo = f.photos[0].clone();
    let report = a.sync_via(&url, fast()).await;
    assert_eq!(report.findings_pushed, 1, "{report:?}");

    // The reviewer accepts it: the case opens.
    let (status, body) = send(
        http.post(format!("{url}/api/v1/findings/{}/review", f.id))
            .bearer_auth(&reviewer)
            .json(&json!({"decision": "accept"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, cases) = send(http.get(format!("{url}/api/v1/cases")).bearer_auth(&reviewer)).await;
    let case_ref = cases["items"][0]["reference"].as_str().expect("a case opened").to_owned();
    let unit_id = cases["items"][0]["unit_id"].as_str().unwrap().to_owned();

    // Re-checks within one day (tomorrow, as the office sees it: today).
    let (_, mut settings) = send(http.get(format!("{url}/api/v1/settings/rectification")).bearer_auth(&admin)).await;
    settings["recheck_within_days"] = json!(1);
    let (status, body) =
        send(http.put(format!("{url}/api/v1/settings/rectification")).bearer_auth(&admin).json(&settings)).await;
    assert_eq!(status, 200, "{body}");

    // A unit account for the case's unit.
    let mut child = std::process::Command::new(SERVER_BIN)
        .args(["user", "add", "--data-dir"])
        .arg(data.path())
        .envs(common::postgres::database_for(data.path()).map(|url| ("ANFANG_DATABASE", url)))
        .args(["--username", "unit-acct", "--role", "unit", "--unit", &unit_id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"unit-password-123").unwrap();
    assert!(child.wait().unwrap().success());

    // The unit's contacts: an email through the office's SMTP server (a
    // sink on 127.0.0.1) and a signed JSON webhook (a receiver on 127.0.0.1).
    let (sink, hooks) = (notify::SmtpSink::start().await, notify::WebhookReceiver::start().await);
    let smtp = json!({"host": "127.0.0.1", "port": sink.port(), "tls": "none", "username": "",
                      "from": "四城同创办 <anfang@office.example.cn>"});
    let (status, body) = send(http.put(format!("{url}/api/v1/settings/smtp")).bearer_auth(&admin).json(&smtp)).await;
    assert_eq!(status, 200, "{body}");
    for contact in [
        json!({"name": "王联络", "role": "contact", "email": "wang@unit.example.cn"}),
        json!({"name": "办公系统", "role": "contact", "webhook_kind": "json",
               "webhook_url": hooks.url("/hooks/anfang"), "webhook_secret": "0123456789abcdef-office-secret"}),
    ] {
        let (status, body) =
            send(http.post(format!("{url}/api/v1/units/{unit_id}/contacts")).bearer_auth(&admin).json(&contact)).await;
        assert!(status == 200 || status == 201, "{status} {body}");
    }

    // 18:01: the scheduler's start-up pass sends the day's digest; the deadline runs from it.
    server.restart_with_env(&[("ANFANG_TEST_NOW", &at(18, 1).to_string())]);
    let url = server.url();
    // Sessions idle out after 30 minutes; the clock jumped eight hours.
    let reviewer = sign_in(&server, "rev", "rev-password-123").await;
    let mut notified = Value::Null;
    for _ in 0..100 {
        let (_, case) = send(http.get(format!("{url}/api/v1/cases/{case_ref}")).bearer_auth(&reviewer)).await;
        if case["state"] == "open" && !case["deadline"].is_null() {
            notified = case;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!notified.is_null(), "the scheduler notified the case");

    // One email and one webhook, each naming the point, the day and the part
    // of day, the card and the deadline, with a link to the portal; never an
    // inspector, the capture minute or the position.
    let mail = sink.wait_for(1, std::time::Duration::from_secs(20)).await;
    let hits = hooks.wait_for("/hooks/anfang", 1, std::time::Duration::from_secs(20)).await;
    let email = format!("{}\n{}", mail[0].subject(), mail[0].text());
    let hook = hits[0].body.clone();
    let hook_json: Value = serde_json::from_str(&hook).unwrap();
    assert_eq!(hook_json["kind"], "digest", "{hook}");
    assert!(email.contains(&p.name) && email.contains("上午") && email.contains("红牌"), "{email}");
    assert!(email.contains(&format!("/unit/cases/{case_ref}")), "a link to the case: {email}");
    assert!(hook.contains(&case_ref) && hook.contains("上午"), "{hook}");
    let minute = shanghai().to_datetime(observed).strftime("%H:%M").to_string();
    for text in [&email, &hook] {
        for (alias, _) in &server.demo.codes {
            assert!(!text.contains(alias.as_str()), "no alias: {text}");
        }
        for exact in [minute.clone(), format!("{:.4}", p.lat), format!("{:.4}", p.lon), observed.to_string()] {
            assert!(!text.contains(&exact), "no {exact}: {text}");
        }
    }

    // The unit answers: an after-photo (a real JPEG), a note and the 书面说明.
    let unit = sign_in(&server, "unit-acct", "unit-password-123").await;
    let (status, att) =
        send(http.post(format!("{url}/api/v1/unit/attachments")).bearer_auth(&unit).body(camera_jpeg(12, 1200, 900)))
            .await;
    assert_eq!(status, 201, "{att}");
    let answer =
        json!({"photos": [att["sha256"]], "note": "已清理垃圾", "explanation": "已落实门前三包责任，安排专人每日巡查"});
    let (status, body) =
        send(http.post(format!("{url}/api/v1/unit/cases/{case_ref}/answer")).bearer_auth(&unit).json(&answer)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "answered", "{body}");

    // The reviewer draws the re-check, into a slot around the real now.
    let t = |dt: jiff::civil::DateTime| dt.time().strftime("%H:%M:%S").to_string();
    let slots =
        json!({"slots": [{"name": "recheck", "label": "复查时段", "start": t(start), "end": t(end), "days": "every"}]});
    let (status, drawn) =
        send(http.post(format!("{url}/api/v1/rechecks/draw")).bearer_auth(&reviewer).json(&slots)).await;
    assert_eq!(status, 200, "{drawn}");
    assert_eq!(drawn["drawn"][0]["case_ref"], case_ref.as_str(), "{drawn}");
    assert_eq!(drawn["drawn"][0]["date"], day.to_string(), "{drawn}");
    assert_eq!(drawn["drawn"][0]["slot"], "复查时段", "{drawn}");
    for (alias, _) in &server.demo.codes {
        assert!(!drawn.to_string().contains(alias.as_str()), "the answer names no inspector: {drawn}");
    }
    let (aid, b_alias): (String, String) = common::with_database(data.path(), |db| {
        db.query_row(
            "SELECT a.id, i.alias FROM recheck_visits v JOIN draw_assignments a ON a.id = v.assignment_id
             JOIN inspectors i ON i.id = a.inspector_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    assert_ne!(b_alias, a_alias, "never the finder");
    let b_code = server.demo.codes.iter().find(|(alias, _)| *alias == b_alias).unwrap().1.clone();

    // The real clock from here on: inspector B's CLI pulls the visit.
    server.restart();
    let url = server.url();
    let (reviewer, unit) =
        (sign_in(&server, "rev", "rev-password-123").await, sign_in(&server, "unit-acct", "unit-password-123").await);
    let home = tempfile::tempdir().unwrap();
    let (status, out, err) = cli(home.path(), &["enroll", "--server", &url, "--code", &b_code]);
    assert_eq!(status, 0, "enroll: {out}{err}");
    let (status, out, err) = cli(home.path(), &["visits"]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("复查任务") && out.contains(&case_ref) && out.contains(&before_photo), "{out}");
    assert!(!out.contains("未下载"), "the before-photo came with the sync: {out}");
    let saved = tempfile::tempdir().unwrap();
    let (status, _, err) = cli(home.path(), &["visits", "--save-photos", saved.path().to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let kept = std::fs::read(saved.path().join(format!("{before_photo}.jpg"))).expect("before-photo saved");
    assert_eq!(sha256_hex(&kept), before_photo);

    // B records the result with an after-photo and syncs.
    let after = home.path().join("after.jpg");
    std::fs::write(&after, camera_jpeg(13, 1600, 1200)).unwrap();
    let (status, out, err) = cli(
        home.path(),
        &[
            "record",
            "--assignment",
            &aid,
            "--recheck",
            "passed",
            "--photo",
            after.to_str().unwrap(),
            "--note",
            "已整改",
        ],
    );
    assert_eq!(status, 0, "record: {out}{err}");
    assert!(out.contains("复查通过"), "{out}");
    let (status, out, err) = cli(home.path(), &["sync", "--json"]);
    assert_eq!(status, 0, "sync: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["findings_pushed"], 1, "{report}");
    assert_eq!(report["notices"], json!([]), "{report}");

    // The case is closed (已整改), before its deadline.
    let (_, case) = send(http.get(format!("{url}/api/v1/cases/{case_ref}")).bearer_auth(&reviewer)).await;
    assert_eq!(case["state"], "closed", "{case}");
    let closed: jiff::Timestamp = case["closed_at"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = case["deadline"].as_str().unwrap().parse().unwrap();
    assert!(closed <= deadline, "closed {closed}, deadline {deadline}");
    let events: Vec<&str> = case["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(events.ends_with(&["answered", "recheck_passed"]), "{events:?}");
    // The unit reads that it was re-checked, never by whom.
    let (_, seen) = send(http.get(format!("{url}/api/v1/unit/cases/{case_ref}")).bearer_auth(&unit)).await;
    assert_eq!(seen["state"], "closed", "{seen}");
    let text = seen.to_string();
    assert!(text.contains("复查"), "{text}");
    for (alias, _) in &server.demo.codes {
        assert!(!text.contains(alias.as_str()), "{text}");
    }

    // Today's bulletin counts the re-check and the close; the mean time to
    // close is from the notice (yesterday 18:01) to the close, in days.
    let (status, b) = send(
        http.post(format!("{url}/api/v1/bulletins")).bearer_auth(&reviewer).json(&json!({"kind": "day", "from": day})),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let r = &b["bulletin"]["rectification"];
    assert_eq!(
        (&r["rechecks"], &r["rechecks_failed"], &r["rework_rate"], &r["closed"]),
        (&json!(1), &json!(0), &json!(0.0), &json!(1)),
        "{r}"
    );
    // 整改前后对比: the finding's photo beside the re-check's.
    let pair = &b["bulletin"]["before_after"][0];
    assert_eq!((&pair["case_ref"], &pair["rechecked"]), (&json!(case_ref), &json!(true)), "{pair}");
    assert_eq!(pair["before_photo"], before_photo.as_str(), "{pair}");
    let after_photo = pair["after_photo"].as_str().expect("an after photo").to_owned();
    assert_ne!(after_photo, before_photo);
    let html = http
        .get(format!("{url}/api/v1/bulletins/{}/bulletin.html", b["id"]))
        .bearer_auth(&reviewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("整改前后对比") && html.matches("<figure>").count() == 2, "{html}");
    assert!(!html.contains("照片缺失"), "both thumbnails embedded");
    // For a look at the pair in a browser and in Word (scripts/test sets it).
    if let Ok(dir) = std::env::var("ANFANG_SAMPLE_DIR") {
        let docx = http
            .get(format!("{url}/api/v1/bulletins/{}/bulletin.docx", b["id"]))
            .bearer_auth(&reviewer)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("recheck-bulletin.html"), &html).unwrap();
        std::fs::write(std::path::Path::new(&dir).join("recheck-bulletin.docx"), &docx).unwrap();
    }
    let days = (closed - at(18, 1)).as_secs_f64() / 86_400.0;
    assert_eq!(r["mean_days_to_close"], json!((days * 10.0).round() / 10.0), "{r}");

    // On the exposure page: proposed by the reviewer, published by the
    // admin; the public reads 已整改（复查通过） with the photo beside the before-photo.
    let admin = server.admin_token().await;
    let (status, entry) =
        send(http.post(format!("{url}/api/v1/cases/{case_ref}/exposure")).bearer_auth(&reviewer)).await;
    assert_eq!(status, 201, "{entry}");
    let entry_ref = entry["reference"].as_str().unwrap().to_owned();
    let publish = json!({"title": "垃圾堆放", "description": "人行道旁垃圾堆放。", "photos": [before_photo], "faces_checked": true});
    let (status, body) =
        send(http.post(format!("{url}/api/v1/exposure/{entry_ref}/publish")).bearer_auth(&admin).json(&publish)).await;
    assert_eq!(status, 200, "{body}");
    let page = http.get(format!("{url}/public/entries/{entry_ref}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("已整改（复查通过）"), "{page}");
    let (b, a) =
        (page.find(&format!("/public/photos/{before_photo}")), page.find(&format!("/public/photos/{after_photo}")));
    assert!(b.is_some() && a.is_some() && b < a, "before, then after: {page}");
    for (alias, _) in &server.demo.codes {
        assert!(!page.contains(alias.as_str()), "{page}");
    }
    let photo = http.get(format!("{url}/public/photos/{after_photo}")).send().await.unwrap();
    assert_eq!(photo.status(), 200, "the after-photo of a re-checked published case is public");
    let public = image::load_from_memory(&photo.bytes().await.unwrap()).unwrap();
    assert!(public.width().max(public.height()) <= 1280, "the public copy, not the evidence photo");
    let fixed = http.get(format!("{url}/public/?state=fixed")).send().await.unwrap().text().await.unwrap();
    assert!(fixed.contains("垃圾堆放"), "{fixed}");

    server.kill();
    assert_verifies(data.path());
}
