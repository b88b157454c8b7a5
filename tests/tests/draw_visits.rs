//! Draw coverage that cannot be faked: a finding linked to a drawn visit
//! counts only at the visit's point, inside its slot, at a plausible time;
//! anything else is refused with a stable code and counts nothing.

mod common;

use anfang_core::{Card, FindingContent};
use common::*;
use serde_json::{Value, json};

fn shanghai() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()
}

async fn coverage(server: &Server, draw_id: &str) -> Value {
    server.admin_get(&format!("/api/v1/draws/{draw_id}/coverage")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_finding_counts_only_at_the_visits_point_inside_its_slot() {
    // A slot that ended 20 minutes ago: findings in it are in the past (not
    // refused as future) and after the device's enrollment.
    let now = jiff::Timestamp::now();
    let (start, end) = (
        shanghai().to_datetime(now - jiff::SignedDuration::from_mins(50)),
        shanghai().to_datetime(now - jiff::SignedDuration::from_mins(20)),
    );
    if end.date() != start.date() {
        eprintln!("skipped: between 00:20 and 00:50 office time the slot would cross midnight");
        return;
    }
    let day = start.date();
    // The draw is made "before" its period: the server's draw clock is set
    // to the evening before; pushes always use the real clock.
    let before = shanghai().to_timestamp(day.yesterday().unwrap().at(23, 0, 0, 0)).unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_with_env(data.path(), "127.0.0.1:0", true, &[("ANFANG_TEST_NOW", &before)]);
    let alias = server.demo.codes[0].0.clone();
    let t = |dt: jiff::civil::DateTime| dt.time().strftime("%H:%M:%S").to_string();
    let draw = json!({
        "from": day, "to": day, "visits": 1, "inspectors": [alias],
        "slots": [{"name": "test", "label": "测试时段", "start": t(start), "end": t(end), "days": "every"}]
    });
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/draws", server.url()))
        .bearer_auth(server.admin_token().await)
        .json(&draw)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let draw_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let device = Device::enroll(&server, 0).await;
    // Coverage on the real clock from here on (the restart drops the
    // override), so the slot is over and reviewers see it.
    server.restart();

    let db = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    let (aid, point, starts_ms): (String, String, i64) = db
        .query_row("SELECT id, point_id, starts_ms FROM draw_assignments", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let unit_of =
        |p: &str| -> String { db.query_row("SELECT unit_id FROM points WHERE id = ?1", [p], |r| r.get(0)).unwrap() };
    let other_point = if point == "P001" { "P002" } else { "P001" }.to_owned();
    let linked = |point: &str, observed_at: jiff::Timestamp| FindingContent {
        id: uuid::Uuid::now_v7(),
        point_id: point.to_owned(),
        unit_id: unit_of(point),
        category: "parking".into(),
        card: Card::Green,
        note: Some("抽签任务".into()),
        observed_at,
        location: None,
        photos: vec![],
        assignment_id: Some(aid.parse().unwrap()),
        recheck: None,
    };
    let in_slot = jiff::Timestamp::from_millisecond(starts_ms).unwrap() + jiff::SignedDuration::from_mins(10);
    let key = device.store.device_key().unwrap();
    let push = |f: FindingContent| {
        let body = json!({"findings": [{"finding": f, "signature": key.sign(&f)}]});
        let device = &device;
        let server = &server;
        async move { device.post_json(server, "/api/v1/sync/push", &body).await["results"][0].clone() }
    };
    let mut failures = Vec::new();
    let year_2001: jiff::Timestamp = "2001-06-01T02:00:00Z".parse().unwrap();
    for (f, code, why) in [
        (linked(&other_point, in_slot), "visit_wrong_point", "at another point"),
        (linked(&point, now), "visit_outside_slot", "20 minutes after the slot (tolerance 15)"),
        (linked(&point, year_2001), "observed_before_enrollment", "observed in 2001"),
        (linked(&point, now + jiff::SignedDuration::from_hours(30)), "observed_in_future", "far in the future"),
    ] {
        // Collected, so one run shows every case that is not refused.
        let r = push(f).await;
        if r["status"] != "rejected" || r["code"] != 422 || r["error_code"] != code {
            failures.push(format!("{why}: expected rejected 422 {code}, got {r}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let cov = coverage(&server, &draw_id).await;
    assert_eq!(
        (cov["planned"].as_u64(), cov["done"].as_u64()),
        (Some(1), Some(0)),
        "refused findings count nothing: {cov}"
    );
    assert_eq!(cov["missed"][0]["assignment_id"], aid.as_str(), "{cov}");

    // The real visit: its point, inside its slot.
    let r = push(linked(&point, in_slot)).await;
    assert_eq!(r["status"], "accepted", "{r}");
    let cov = coverage(&server, &draw_id).await;
    assert_eq!(cov["done"], 1, "{cov}");
    assert!(cov["missed"].as_array().unwrap().is_empty() && cov["late"].as_array().unwrap().is_empty(), "{cov}");
}
