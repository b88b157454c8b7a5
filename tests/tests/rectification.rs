//! The rectification loop over the real server binary on a real socket, with
//! the server's clock set by `ANFANG_TEST_NOW` across restarts: a deadline
//! that passes while the server is down is escalated once when it returns.

mod common;

use common::{Device, Server, fast, processed};
use serde_json::{Value, json};
use std::time::Duration;

fn office_tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()
}

async fn get(server: &Server, token: &str, path: &str) -> Value {
    let res = reqwest::Client::new().get(format!("{}{path}", server.url())).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// Waits (without sleeping blindly: polling the API) until `ok` holds for
/// the case, or fails after ten seconds.
async fn wait_for_case(server: &Server, token: &str, reference: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let case = get(server, token, &format!("/api/v1/cases/{reference}")).await;
        if ok(&case) {
            return case;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the case never reached the expected state: {}",
        get(server, token, &format!("/api/v1/cases/{reference}")).await
    );
}

/// (event key kind, target) of every outbox row, oldest first.
fn outbox(server: &Server) -> Vec<(String, String)> {
    common::with_database(&server.data_dir, |db| {
        let mut stmt = db.prepare("SELECT event_key, target FROM notice_outbox ORDER BY id").unwrap();
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?.split('/').next().unwrap().to_owned(), r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    })
}

#[tokio::test]
async fn a_deadline_passed_while_the_server_was_down_is_urged_and_escalated_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let fast_scheduler = ("ANFANG_SCHEDULER_SECS", "1");
    let mut server = Server::start_with_env(data.path(), "127.0.0.1:0", true, &[fast_scheduler]);
    let token = server.admin_token().await;
    common::with_database(&server.data_dir, |db| {
        // This test's contacts instead of the demo's.
        db.execute("DELETE FROM unit_contacts", []).unwrap();
        db.execute(
            "INSERT INTO unit_contacts (unit_id, name, role, email) VALUES ('U03', '联系人', 'contact', 'u03@example.cn'),
             ('U03', '分管领导', 'leader', 'leader@example.cn')",
            [],
        )
        .unwrap();
    });
    let mut phone = Device::enroll(&server, 0).await;
    let finding = phone.record("P001", anfang_core::Card::Red, vec![processed(1, 800, 600)]);
    assert!(phone.sync_via(&server.url(), fast()).await.interrupted.is_none());
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/findings/{}/review", server.url(), finding.id))
        .bearer_auth(&token)
        .json(&json!({"decision": "accept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let cases = get(&server, &token, "/api/v1/cases?state=live").await;
    let case = cases["items"].as_array().unwrap().iter().find(|c| c["finding_id"] == finding.id.to_string()).unwrap();
    let reference = case["reference"].as_str().unwrap().to_owned();
    assert_eq!(case["state"], "open");

    // The evening: the digest starts the deadline.
    let today = common::office_now().date();
    let evening = today.at(18, 5, 0, 0).to_zoned_datetime(office_tz()).unwrap().timestamp();
    let evening = evening.max(jiff::Timestamp::now());
    server.restart_with_env(&[fast_scheduler, ("ANFANG_TEST_NOW", &evening.to_string())]);
    let token = server.admin_token().await;
    let case = wait_for_case(&server, &token, &reference, |c| !c["notified_at"].is_null()).await;
    let deadline: jiff::Timestamp = case["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!(outbox(&server), [("digest".to_owned(), "u03@example.cn".to_owned())]);

    // Down across the deadline; back four and a half days after it.
    let back = deadline + jiff::SignedDuration::from_hours(4 * 24 + 12);
    server.restart_with_env(&[fast_scheduler, ("ANFANG_TEST_NOW", &back.to_string())]);
    let token = server.admin_token().await;
    let case = wait_for_case(&server, &token, &reference, |c| {
        c["events"].as_array().unwrap().iter().any(|e| e["event"] == "escalated")
    })
    .await;
    assert_eq!(case["overdue_days"], 5);
    // Once more, to be sure a second start sends nothing again.
    server.restart_with_env(&[fast_scheduler, ("ANFANG_TEST_NOW", &back.to_string())]);
    let token = server.admin_token().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let case = get(&server, &token, &format!("/api/v1/cases/{reference}")).await;
    let events: Vec<&str> = case["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["opened", "notified", "urged", "escalated"]);
    let sent: Vec<(String, String)> = outbox(&server);
    let count = |kind: &str, to: &str| sent.iter().filter(|(k, t)| k == kind && t == to).count();
    assert_eq!(
        (count("urge", "u03@example.cn"), count("urge", "leader@example.cn"), count("escalate", "leader@example.cn")),
        (1, 1, 1),
        "{sent:?}"
    );
    assert_eq!(count("overdue", "u03@example.cn"), 1, "one reminder for today, none for the missed days: {sent:?}");
    assert_eq!(sent.len(), 5, "{sent:?}");
}
