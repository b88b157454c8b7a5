//! Evidence that cannot be argued away: device signatures checked on push,
//! and `anfang-server verify` naming exactly what was altered.

mod common;

use anfang_core::Card;
use common::*;
use serde_json::json;
use std::process::Command;

fn verify(data: &std::path::Path) -> (i32, String) {
    let out = Command::new(SERVER_BIN).args(["verify", "--data-dir"]).arg(data).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_with_a_bad_signature_is_rejected() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let f = device.record("P001", Card::Green, vec![]);
    let good = device.store.device_key().unwrap().sign(&f);
    let mut altered = f.clone();
    altered.note = Some("事后修改".into());
    let forged = anfang_core::evidence::DeviceKey::generate().sign(&f);
    for (finding, signature, why) in [
        (&altered, good.clone(), "content changed after signing"),
        (&f, forged, "signed by another key"),
        (&f, "00".repeat(64), "garbage signature"),
    ] {
        let res = device
            .post_json(
                &server,
                "/api/v1/sync/push",
                &json!({"findings": [{"finding": finding, "signature": signature}]}),
            )
            .await;
        let result = &res["results"][0];
        assert_eq!(result["status"], "rejected", "{why}: {res}");
        assert_eq!(result["code"], 422, "{why}");
        assert!(result["reason"].as_str().unwrap().contains("signature"), "{why}: {res}");
    }
    // The genuine one still goes through.
    let report = device.sync_via(&server.url(), fast()).await;
    assert_eq!(report.findings_pushed, 1, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_tampered_row_photo_and_log_entry() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let a = device.record("P001", Card::Yellow, vec![processed(1, 800, 600)]);
    let b = device.record("P002", Card::Red, vec![processed(2, 800, 600)]);
    let c = device.record("P003", Card::Green, vec![]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 3);
    server.kill();

    let (code, out) = verify(data.path());
    assert_eq!(code, 0, "an untouched data dir verifies: {out}");
    assert!(out.contains("3 findings") && out.contains("all intact"), "{out}");

    // Someone with database access softens a red card to yellow, swaps a
    // byte of a photo, and rewrites a log entry.
    let db = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    db.execute_batch("DROP TRIGGER findings_are_append_only; DROP TRIGGER evidence_log_no_update;").unwrap();
    db.execute("UPDATE findings SET card = 'yellow' WHERE id = ?1", [b.id.to_string()]).unwrap();
    db.execute("UPDATE evidence_log SET record_hash = ?2 WHERE record_id = ?1", [c.id.to_string(), sha256_hex(b"x")])
        .unwrap();
    drop(db);
    let sha = &a.photos[0];
    let photo = data.path().join("photos").join(&sha[..2]).join(format!("{sha}.jpg"));
    let mut bytes = std::fs::read(&photo).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&photo, bytes).unwrap();

    let (code, out) = verify(data.path());
    assert_ne!(code, 0, "altered evidence fails verification: {out}");
    assert!(out.contains(&format!("finding {}: the row's columns differ from its signed content", b.id)), "{out}");
    assert!(out.contains(&format!("photo {sha}: file")), "{out}");
    assert!(
        out.lines().any(|l| l.contains("log entry") && l.contains(&c.id.to_string()) && l.contains("altered")),
        "{out}"
    );
    assert!(!out.contains(&format!("finding {}:", a.id)), "an intact finding is not accused: {out}");
}
