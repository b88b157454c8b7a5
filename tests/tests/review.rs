//! Office review over the real server: accept, correct and reject as new
//! revisions, the captured original untouched, every decision logged.

mod common;

use anfang_core::Card;
use common::office::*;
use common::*;
use serde_json::{Value, json};

struct Office {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Office {
    fn new(server: &Server, token: String) -> Office {
        Office { client: reqwest::Client::new(), base: server.url(), token }
    }

    async fn review(&self, id: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v1/findings/{id}/review", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }
}

fn log_entries(server: &Server, kind: &str) -> i64 {
    let db = rusqlite::Connection::open(server.data_dir.join("anfang.sqlite3")).unwrap();
    db.query_row("SELECT count(*) FROM evidence_log WHERE kind = ?1", [kind], |r| r.get(0)).unwrap()
}

async fn two_findings(server: &Server) -> (String, String) {
    let mut device = Device::enroll(server, 0).await;
    let a = device.record("P001", Card::Yellow, vec![processed(1, 640, 480)]);
    let b = device.record("P002", Card::Green, vec![]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 2);
    (a.id.to_string(), b.id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_accepts_corrects_and_rejects_as_new_revisions_and_the_original_stays() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let (a, b) = two_findings(&server).await;
    let password = add_user(&server, "shen", "reviewer");
    let office = Office::new(&server, sign_in(&server, "shen", &password).await);
    let logged_before = log_entries(&server, "review");

    let (status, rev) = office.review(&a, json!({"decision": "accept"})).await;
    assert_eq!(status, 200, "{rev}");
    assert_eq!((rev["revision"].as_i64(), rev["card"].as_str()), (Some(1), Some("yellow")), "{rev}");

    let (status, err) = office.review(&a, json!({"decision": "correct", "card": "red"})).await;
    assert_eq!(status, 422, "a correction without a reason: {err}");
    assert!(err["error"].as_str().unwrap().contains("reason"), "{err}");
    let (status, err) = office.review(&a, json!({"decision": "correct", "card": "yellow", "reason": "same"})).await;
    assert_eq!(status, 422, "a correction that changes nothing: {err}");
    let (status, err) = office.review(&a, json!({"decision": "correct", "unit_id": "U99", "reason": "x"})).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("unknown unit \"U99\""), "{err}");
    let (status, err) = office.review(&a, json!({"decision": "correct", "category": "no_such", "reason": "x"})).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("unknown category"), "{err}");

    let (status, rev) = office
        .review(&a, json!({"decision": "correct", "category": "sanitation", "unit_id": "U09", "card": "red", "reason": "照片显示垃圾堆放，属东城街道"}))
        .await;
    assert_eq!(status, 200, "{rev}");
    assert_eq!(rev["revision"], 2);
    assert_eq!(rev["reviewer"], "shen");

    let (status, err) = office.review(&b, json!({"decision": "reject", "reason": "  "})).await;
    assert_eq!(status, 422, "a rejection needs a reason: {err}");
    let (status, rev) = office.review(&b, json!({"decision": "reject", "reason": "照片与点位不符"})).await;
    assert_eq!(status, 200, "{rev}");
    assert_eq!(rev["revision"], 1);

    let (status, _) = office.review("0190f1f0-0000-7000-8000-000000000000", json!({"decision": "accept"})).await;
    assert_eq!(status, 404, "an unknown finding");

    // The captured original is unchanged; the effective values and the
    // history show the review.
    let (status, f) = office.get(&format!("/api/v1/findings/{a}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (f["category"]["id"].as_str(), f["unit"]["id"].as_str(), f["card"].as_str()),
        (Some("parking"), Some("U03"), Some("yellow")),
        "{f}"
    );
    assert_eq!(f["status"], "correct");
    assert_eq!(
        (
            f["effective"]["category"]["id"].as_str(),
            f["effective"]["unit"]["id"].as_str(),
            f["effective"]["card"].as_str()
        ),
        (Some("sanitation"), Some("U09"), Some("red")),
        "{f}"
    );
    let revisions = f["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{f}");
    assert_eq!(revisions[0]["decision"], "accept");
    assert_eq!(revisions[1]["decision"], "correct");
    assert_eq!(revisions[1]["reason"], "照片显示垃圾堆放，属东城街道");
    assert!(revisions.iter().all(|r| r["reviewer"] == "shen" && r["decided_at"].is_string()), "{f}");

    // Refused decisions wrote nothing; each accepted one is one log entry.
    assert_eq!(log_entries(&server, "review") - logged_before, 3);
    let db = rusqlite::Connection::open(server.data_dir.join("anfang.sqlite3")).unwrap();
    let rows: i64 = db.query_row("SELECT count(*) FROM finding_reviews", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 3);
    drop(db);

    server.kill();
    assert_verifies(data.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_by_review_status_and_by_the_corrected_unit() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (a, b) = two_findings(&server).await;
    let office = Office::new(&server, server.admin_token().await);
    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };

    let (_, pending) = office.get("/api/v1/findings?status=pending").await;
    assert_eq!(ids(&pending).len(), 2, "{pending}");
    assert!(pending["items"].as_array().unwrap().iter().all(|f| f["status"] == "pending"));

    assert_eq!(
        office.review(&a, json!({"decision": "correct", "unit_id": "U10", "reason": "归朝阳街道"})).await.0,
        200
    );
    assert_eq!(office.review(&b, json!({"decision": "reject", "reason": "重复"})).await.0, 200);

    assert!(ids(&office.get("/api/v1/findings?status=pending").await.1).is_empty());
    assert_eq!(ids(&office.get("/api/v1/findings?status=rejected").await.1), vec![b.clone()]);
    assert_eq!(ids(&office.get("/api/v1/findings?status=corrected").await.1), vec![a.clone()]);
    assert_eq!(ids(&office.get("/api/v1/findings?status=valid").await.1), vec![a.clone()]);
    assert_eq!(ids(&office.get("/api/v1/findings?unit=U10").await.1), vec![a.clone()]);
    // Both points belong to U03; only the uncorrected finding is still its.
    assert_eq!(ids(&office.get("/api/v1/findings?unit=U03").await.1), vec![b.clone()], "a moved away from U03");
    let (status, err) = office.get("/api/v1/findings?status=maybe").await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("pending"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cannot_review_and_never_sees_the_inspector() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (a, _) = two_findings(&server).await;
    let password = add_user(&server, "lingdao", "leader");
    let leader = Office::new(&server, sign_in(&server, "lingdao", &password).await);
    let (status, err) = leader.review(&a, json!({"decision": "accept"})).await;
    assert_eq!(status, 403, "{err}");
    let (status, f) = leader.get(&format!("/api/v1/findings/{a}")).await;
    assert_eq!(status, 200);
    assert_eq!(f["status"], "pending", "the refused decision wrote nothing");
    let text = f.to_string();
    assert!(!text.contains("督查01") && f.get("inspector").is_none(), "{text}");
    assert_eq!(log_entries(&server, "review"), 0);
}
