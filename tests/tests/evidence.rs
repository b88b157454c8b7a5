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

// ---------------------------------------------------------------------------
// A dishonest insider with the database file: each alteration is named.

use rusqlite::Connection;
use std::path::Path;

fn verify_args(data: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(SERVER_BIN).args(["verify", "--data-dir"]).arg(data).args(extra).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, to compare before and after.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else if !p.to_string_lossy().ends_with("-shm") {
            // The -shm file is SQLite's shared-memory index, not data.
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// The insider's first step: the triggers are only a speed bump.
fn open_as_insider(data: &Path) -> Connection {
    let db = Connection::open(data.join("anfang.sqlite3")).unwrap();
    let triggers: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        db.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    db
}

/// Rewrites the whole log as a careful insider would: every `finding_v2`
/// record hash recomputed from the rows as they now are, entries renumbered
/// from 1 and every entry hash recomputed from the genesis.
fn rechain(db: &Connection) {
    // The insider has read the source: `db::evidence::finding_record_hash`,
    // restated here so the test pins the format.
    #[allow(clippy::too_many_arguments)]
    fn finding_record_hash(
        id: &str,
        seq: i64,
        content_hash: &str,
        signature: &str,
        device_id: &str,
        public_key: &str,
        inspector_id: i64,
        received_ms: i64,
        location_captured_at: Option<&str>,
    ) -> String {
        let fields = json!([
            id,
            seq,
            content_hash,
            signature,
            device_id,
            public_key,
            inspector_id,
            received_ms,
            location_captured_at
        ]);
        sha256_hex(format!("anfang-finding-record-v2\n{fields}").as_bytes())
    }
    const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let entries: Vec<(String, String, String, String)> = db
        .prepare("SELECT kind, record_id, record_hash, at FROM evidence_log ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    db.execute("DELETE FROM evidence_log", []).unwrap();
    let mut prev = GENESIS.to_owned();
    for (seq, (kind, id, mut record_hash, at)) in entries.into_iter().enumerate() {
        if kind == "finding_v2" {
            record_hash = db
                .query_row(
                    "SELECT f.seq, f.content_hash, f.signature, f.device_id, d.public_key, f.inspector_id,
                            f.received_ms, f.location_captured_at
                     FROM findings f JOIN devices d ON d.id = f.device_id WHERE f.id = ?1",
                    [&id],
                    |r| {
                        let (hash, sig, device, key): (String, String, String, String) =
                            (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                        let loc: Option<String> = r.get(7)?;
                        Ok(finding_record_hash(
                            &id,
                            r.get(0)?,
                            &hash,
                            &sig,
                            &device,
                            &key,
                            r.get(5)?,
                            r.get(6)?,
                            loc.as_deref(),
                        ))
                    },
                )
                .unwrap_or(record_hash);
        }
        let hash = sha256_hex(format!("anfang-log-v1\n{prev}\n{kind}\n{id}\n{record_hash}\n{at}").as_bytes());
        db.execute(
            "INSERT INTO evidence_log (seq, kind, record_id, record_hash, at, prev_hash, entry_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![seq as i64 + 1, kind, id, record_hash, at, prev, hash],
        )
        .unwrap();
        prev = hash;
    }
}

struct Evidence {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    /// Findings of the first inspector: [0] with photo, [1] reviewed accept then
    /// reject, [2] plain; then [3], [4], pushed after the bulletin was issued.
    findings: Vec<anfang_core::FindingContent>,
    device_id: String,
    /// The chain head printed in the issued bulletin's JSON, its HTML and
    /// DOCX text, and `GET /api/v1/evidence/head` right after the issue.
    printed: Option<(i64, String)>,
    html: String,
    docx_document: String,
    api_head: Option<serde_json::Value>,
    /// The draw made last (its commitment is the last log entry).
    draw_id: String,
}

async fn evidence_fixture() -> Evidence {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_demo(&data);
    let mut a = Device::enroll(&server, 0).await;
    let mut b = Device::enroll(&server, 1).await;
    let mut findings = vec![
        a.record("P001", Card::Yellow, vec![processed(11, 800, 600)]),
        a.record("P002", Card::Red, vec![processed(12, 640, 480)]),
        a.record("P003", Card::Green, vec![]),
    ];
    assert_eq!(a.sync_via(&server.url(), fast()).await.findings_pushed, 3);
    b.record("P004", Card::Green, vec![]);
    assert_eq!(b.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    let admin = server.admin_token().await;
    let client = reqwest::Client::new();
    let post = |path: String, body: serde_json::Value| {
        let req = client.post(format!("{}{path}", server.url())).bearer_auth(&admin).json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            assert!(status < 300, "{path}: {status} {body}");
            body
        }
    };
    let reviewed = findings[1].id;
    post(format!("/api/v1/findings/{reviewed}/review"), json!({"decision": "accept"})).await;
    post(format!("/api/v1/findings/{reviewed}/review"), json!({"decision": "reject", "reason": "照片不清楚"})).await;
    // An identity look-up, so the identity audit log has rows in the chain.
    let (code, _, err) = {
        let out = Command::new(SERVER_BIN)
            .args(["inspector", "identify", "--data-dir"])
            .arg(&data)
            .args(["--alias", "督查01", "--name", "张三"])
            .output()
            .unwrap();
        (out.status.code(), String::new(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(code, Some(0), "{err}");
    let bulletin = post("/api/v1/bulletins".into(), json!({"kind": "day", "from": office_today()})).await;
    let bid = bulletin["id"].as_i64().unwrap();
    post(format!("/api/v1/bulletins/{bid}/issue"), json!({})).await;
    let snapshot = server.admin_get(&format!("/api/v1/bulletins/{bid}/bulletin.json")).await;
    let chain = &snapshot["header"]["evidence_chain"];
    let printed = chain["length"].as_i64().zip(chain["head"].as_str().map(str::to_owned));
    // Checked in the chain-head test: the HTML and the DOCX print it, and
    // reviewers can fetch the current head from the API.
    let get = |path: String| {
        let req = client.get(format!("{}{path}", server.url())).bearer_auth(&admin);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
        }
    };
    let html = String::from_utf8(get(format!("/api/v1/bulletins/{bid}/bulletin.html")).await.1).unwrap();
    let docx = get(format!("/api/v1/bulletins/{bid}/bulletin.docx")).await.1;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).unwrap();
    let mut docx_document = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut docx_document).unwrap();
    let api_head = match get("/api/v1/evidence/head".into()).await {
        (200, body) => serde_json::from_slice(&body).ok(),
        _ => None,
    };
    // The last two entries of the log: two findings.
    findings.push(a.record("P005", Card::Green, vec![]));
    findings.push(a.record("P006", Card::Green, vec![]));
    assert_eq!(a.sync_via(&server.url(), fast()).await.findings_pushed, 2);
    // And last of all a draw's commitment, a record the old audit never
    // looked for from its side.
    let day: jiff::civil::Date = office_today().parse().unwrap();
    let next_week = day.checked_add(jiff::Span::new().days(7)).unwrap();
    let draw = post("/api/v1/draws".into(), json!({"from": next_week, "to": next_week, "visits": 1})).await;
    let draw_id = draw["id"].as_str().unwrap().to_owned();
    let device_id = a.store.enrollment().unwrap().unwrap().device_id;
    server.kill();
    Evidence { _dir: dir, data, findings, device_id, printed, draw_id, html, docx_document, api_head }
}

impl Evidence {
    /// A fresh copy of the untouched data dir.
    fn copy(&self, name: &str) -> std::path::PathBuf {
        let to = self._dir.path().join(name);
        copy_dir(&self.data, &to);
        to
    }
}

/// Runs `verify` on an altered copy; records a failure unless it exits 1
/// with an `ALTERED` line containing each needle. Failures are collected so
/// that one run shows every alteration that goes unnoticed.
fn check_named(failures: &mut Vec<String>, data: &Path, what: &str, needles: &[&str]) {
    let (code, out, err) = verify_args(data, &[]);
    if code != 1 {
        failures.push(format!("{what}: verify exited {code}, not 1\n{out}{err}"));
    }
    for n in needles {
        if !out.lines().any(|l| l.starts_with("ALTERED") && l.contains(n)) {
            failures.push(format!("{what}: no ALTERED line names {n:?}\n{out}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_each_alteration_an_insider_with_the_file_can_make() {
    let ev = evidence_fixture().await;
    let (code, out, err) = verify_args(&ev.data, &[]);
    assert_eq!(code, 0, "the untouched data dir verifies\n{out}{err}");
    let [f0, f1, f2, f3, f4] = [0, 1, 2, 3, 4].map(|i| ev.findings[i].id.to_string());
    let mut failures = Vec::new();

    // (a) A finding and its photo rows deleted.
    let d = ev.copy("a");
    let db = open_as_insider(&d);
    db.execute("DELETE FROM finding_photos WHERE finding_id = ?1", [&f0]).unwrap();
    db.execute("DELETE FROM finding_public_refs WHERE finding_id = ?1", [&f0]).unwrap();
    db.execute("DELETE FROM findings WHERE id = ?1", [&f0]).unwrap();
    drop(db);
    check_named(
        &mut failures,
        &d,
        "(a) deleted finding",
        &[&format!("finding_v2 {f0}): the finding it records is missing (deleted)")],
    );

    // (b) A finding moved to another inspector.
    let d = ev.copy("b");
    let db = open_as_insider(&d);
    db.execute(
        "UPDATE findings SET inspector_id = (SELECT id FROM inspectors WHERE alias = '督查02') WHERE id = ?1",
        [&f2],
    )
    .unwrap();
    drop(db);
    check_named(&mut failures, &d, "(b) moved finding", &[&format!("finding {f2}: is recorded under inspector")]);

    // (c) Its received time, and another's location time, changed.
    let d = ev.copy("c");
    let db = open_as_insider(&d);
    db.execute("UPDATE findings SET received_ms = received_ms - 86400000 WHERE id = ?1", [&f2]).unwrap();
    db.execute("UPDATE findings SET location_captured_at = '2026-01-01T00:00:00Z' WHERE id = ?1", [&f0]).unwrap();
    drop(db);
    check_named(
        &mut failures,
        &d,
        "(c) server-side times",
        &[&format!("finding {f2}: its received time"), &format!("finding {f0}: its location_captured_at")],
    );

    // (d) The latest review deleted, undoing a rejection.
    let d = ev.copy("d");
    let db = open_as_insider(&d);
    db.execute("DELETE FROM finding_reviews WHERE finding_id = ?1 AND revision = 2", [&f1]).unwrap();
    drop(db);
    check_named(
        &mut failures,
        &d,
        "(d) deleted review",
        &[&format!("review {f1}/review/2): the review decision it records is missing")],
    );

    // (e) The last log entries cut off.
    let d = ev.copy("e");
    let db = open_as_insider(&d);
    db.execute("DELETE FROM evidence_log WHERE seq > (SELECT max(seq) - 3 FROM evidence_log)", []).unwrap();
    drop(db);
    check_named(
        &mut failures,
        &d,
        "(e) cut log",
        &[
            &format!("finding {f3}: is not in the evidence log"),
            &format!("finding {f4}: is not in the evidence log"),
            &format!("draw {}: its commitment is not in the evidence log", ev.draw_id),
        ],
    );

    // (f) The device's key swapped, all its findings re-signed, the chain
    // recomputed so every finding entry matches again.
    let d = ev.copy("f");
    let db = open_as_insider(&d);
    let forger = anfang_core::evidence::DeviceKey::generate();
    db.execute("UPDATE devices SET public_key = ?2 WHERE id = ?1", [&ev.device_id, &forger.public_key_hex()]).unwrap();
    let contents: Vec<(String, String)> = db
        .prepare("SELECT id, content FROM findings WHERE device_id = ?1")
        .unwrap()
        .query_map([&ev.device_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(contents.len(), 5);
    for (id, content) in contents {
        let content: anfang_core::FindingContent = serde_json::from_str(&content).unwrap();
        db.execute("UPDATE findings SET signature = ?2 WHERE id = ?1", [&id, &forger.sign(&content)]).unwrap();
    }
    rechain(&db);
    drop(db);
    let (_, out, _) = verify_args(&d, &[]);
    if out.contains("finding ") {
        failures.push(format!("(f): the re-signed findings should look consistent by themselves: {out}"));
    }
    check_named(&mut failures, &d, "(f) swapped key", &[&format!("device {}: its public key", ev.device_id)]);

    // A thumbnail swapped for another photo's: what the office sees changed.
    let d = ev.copy("thumb");
    let (a, b) = (&ev.findings[0].photos[0], &ev.findings[1].photos[0]);
    let thumb = |sha: &str| d.join("photos").join(&sha[..2]).join(format!("{sha}.thumb.jpg"));
    std::fs::copy(thumb(b), thumb(a)).unwrap();
    check_named(&mut failures, &d, "thumbnail", &[&format!("thumbnail of photo {a}")]);
    assert!(failures.is_empty(), "{} alteration(s) not named:\n{}", failures.len(), failures.join("\n---\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_chain_head_catches_a_rewritten_history_that_verifies_by_itself() {
    let ev = evidence_fixture().await;
    let printed = ev.printed.clone().expect("the issued bulletin's snapshot holds the chain head");
    assert!(
        ev.html.contains(&printed.1) && ev.html.contains(&format!("--expect-length {}", printed.0)),
        "head in HTML"
    );
    assert!(ev.docx_document.contains(&printed.1), "head in DOCX");
    let api = ev.api_head.clone().expect("GET /api/v1/evidence/head");
    assert_eq!(api["length"].as_i64().unwrap(), printed.0 + 1, "the issue's own entry follows the printed head: {api}");
    let (len, head) = (printed.0.to_string(), printed.1.clone());
    let expect = ["--expect-length", len.as_str(), "--expect-head", head.as_str()];
    let before = snapshot(&ev.data);
    let (code, out, err) = verify_args(&ev.data, &expect);
    assert_eq!(code, 0, "the untouched history holds the printed head\n{out}{err}");
    let (code, out, _) = verify_args(&ev.data, &["--print-head"]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("chain head: length {} head ", printed.0 + 4)), "{out}");
    assert!(before == snapshot(&ev.data), "verify changed the data dir");

    // The insider deletes a finding with its entry and rewrites the whole
    // chain: the database alone no longer shows it …
    let d = ev.copy("rewritten");
    let db = open_as_insider(&d);
    let f0 = ev.findings[0].id.to_string();
    db.execute("DELETE FROM finding_photos WHERE finding_id = ?1", [&f0]).unwrap();
    db.execute("DELETE FROM finding_public_refs WHERE finding_id = ?1", [&f0]).unwrap();
    db.execute("DELETE FROM findings WHERE id = ?1", [&f0]).unwrap();
    db.execute("DELETE FROM evidence_log WHERE record_id = ?1", [&f0]).unwrap();
    rechain(&db);
    drop(db);
    let (code, out, _) = verify_args(&d, &[]);
    assert_eq!(code, 0, "a complete rewrite is consistent in itself: {out}");
    // … but anyone holding the bulletin sees that entry N changed.
    let (code, out, _) = verify_args(&d, &expect);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("log entry {len}: hashes to")) && out.contains("rewritten"), "{out}");

    // A head longer than the log: entries were cut off.
    let (code, out, _) = verify_args(&ev.data, &["--expect-length", "999", "--expect-head", &head]);
    assert_eq!(code, 1);
    assert!(out.contains("covers 999 entries"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_opens_the_database_read_only_and_refuses_another_schema_version() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    device.record("P001", Card::Yellow, vec![processed(3, 640, 480)]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    server.kill();
    let before = snapshot(data.path());
    let (code, out, err) = verify_args(data.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(before == snapshot(data.path()), "verify left every file byte-identical");

    let known = anfang_server::db::MIGRATIONS.len() as i64;
    for version in [known + 1, known - 1] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(data.path(), copy.path());
        let db = Connection::open(copy.path().join("anfang.sqlite3")).unwrap();
        db.pragma_update(None, "user_version", version).unwrap();
        drop(db);
        let before = snapshot(copy.path());
        let (code, out, err) = verify_args(copy.path(), &[]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            err.contains(&format!("schema version {version}")) && err.contains(&format!("schema version {known}")),
            "names both versions: {err}"
        );
        let after = snapshot(copy.path());
        let names =
            |s: &[(std::path::PathBuf, Vec<u8>)]| s.iter().map(|(p, b)| (p.clone(), sha256_hex(b))).collect::<Vec<_>>();
        assert!(
            before == after,
            "a refused database is not touched (nor migrated): {:?} vs {:?}",
            names(&before),
            names(&after)
        );
    }
}
