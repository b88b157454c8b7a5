//! Cutting off a lost or seized phone and an office user, session and token
//! lifetimes, and private files on disk — with the real binaries.

mod common;

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::sync::{SyncEngine, SyncError, TransportError};
use common::office::{Browser, add_user, sign_in};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

fn server_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SERVER_BIN).args(args).env("RUST_LOG", "warn").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (status, JSON body) of a device request with this token.
async fn as_device(server: &Server, token: &str, method: &str, path: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.url());
    let req = match method {
        "push" => client.post(url).json(&json!({"findings": []})),
        "post" => client.post(url),
        _ => client.get(url),
    };
    let res = req.bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Pull and push both answer 401 `device_revoked` for this token.
async fn assert_revoked(server: &Server, token: &str) {
    for (method, path) in [("get", "/api/v1/sync/pull"), ("push", "/api/v1/sync/push")] {
        let (status, body) = as_device(server, token, method, path).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["code"], "device_revoked", "{path}: {body}");
    }
}

fn cli_token(home: &Path) -> String {
    anfang_core::Store::open(home.join("anfang.sqlite3")).unwrap().enrollment().unwrap().unwrap().token
}

fn record_offline(home: &Path, point: &str) -> String {
    let (status, out, err) =
        cli(home, &["record", "--point", point, "--category", "parking", "--card", "green", "--note", "无问题"]);
    assert_eq!(status, 0, "record: {out}{err}");
    out.lines().last().unwrap().trim().to_owned()
}

fn new_code(server: &Server, alias: &str) -> String {
    let data = server.data_dir.to_str().unwrap();
    let (status, out, err) = server_cli(&["inspector", "code", "--data-dir", data, "--alias", alias]);
    assert_eq!(status, 0, "{out}{err}");
    out.lines().last().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_revoked_with_the_cli_is_refused_and_keeps_its_unsynced_findings() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let code = server.demo.codes[0].1.clone();
    let (status, out, err) = cli(home.path(), &["enroll", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "enroll: {out}{err}");
    let old_token = cli_token(home.path());
    let id = record_offline(home.path(), "P001");

    let data_dir = data.path().to_str().unwrap();
    let (status, out, err) =
        server_cli(&["inspector", "revoke-device", "--data-dir", data_dir, "--alias", "督查01", "--all"]);
    assert_eq!(status, 0, "revoke: {out}{err}");
    assert!(out.contains("revoked device"), "{out}");
    assert_revoked(&server, &old_token).await;

    // The CLI says so in Chinese and deletes nothing.
    let (status, out, err) = cli(home.path(), &["sync"]);
    assert_ne!(status, 0, "a revoked device's sync fails: {out}");
    assert!(err.contains("此设备已被停用"), "{err}");
    assert!(err.contains("1 条未同步记录"), "{err}");
    let (status, out, _) = cli(home.path(), &["findings"]);
    assert_eq!(status, 0);
    assert!(out.contains(&id), "the unsynced finding is still listed: {out}");
    let (_, out, _) = cli(home.path(), &["findings", "--json"]);
    let local: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(local.as_array().unwrap().len(), 1);
    assert_ne!(local[0]["sync"]["state"], "synced");

    // A new phone with a new code works; the old one stays revoked.
    let phone = tempfile::tempdir().unwrap();
    let code = new_code(&server, "督查01");
    let (status, out, err) = cli(phone.path(), &["enroll", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "new phone: {out}{err}");
    let (status, out, err) = cli(phone.path(), &["sync"]);
    assert_eq!(status, 0, "new phone syncs: {out}{err}");
    assert_revoked(&server, &old_token).await;
    let (status, _, err) = cli(home.path(), &["sync"]);
    assert_ne!(status, 0);
    assert!(err.contains("此设备已被停用"), "{err}");

    // The office collects the old phone's finding by enrolling it again.
    let code = new_code(&server, "督查01");
    let (status, out, err) = cli(home.path(), &["enroll", "--again", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "enroll again: {out}{err}");
    let token = server.admin_token().await;
    let items = server.office_findings(&token).await;
    assert!(items.iter().any(|f| f["id"] == id.as_str()), "the kept finding arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_revoked_through_the_api_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 1).await;
    let device_id = device.store.enrollment().unwrap().unwrap().device_id;
    let admin = server.admin_token().await;
    let inspectors = server.admin_get("/api/v1/inspectors").await;
    let inspector = inspectors["items"].as_array().unwrap().iter().find(|i| i["alias"] == "督查02").unwrap()["id"]
        .as_i64()
        .unwrap();
    let listed = server.admin_get(&format!("/api/v1/inspectors/{inspector}/devices")).await;
    let row = &listed["items"][0];
    assert_eq!(row["id"], device_id.as_str(), "{listed}");
    assert!(row["revoked_at"].is_null() && row["enrolled_at"].is_string(), "{listed}");
    assert!(row["last_seen_at"].is_string(), "the first pull was seen: {listed}");
    assert!(!listed.to_string().contains("anfd_"), "no token in the list");

    // A leader may not revoke.
    add_user(&server, "lead", "leader");
    let leader = sign_in(&server, "lead", "lead-password-123").await;
    let client = reqwest::Client::new();
    let revoke = format!("{}/api/v1/inspectors/{inspector}/devices/revoke", server.url());
    let res = client.post(&revoke).bearer_auth(&leader).json(&json!({"device_id": device_id})).send().await.unwrap();
    assert_eq!(res.status(), 403);

    let res = client.post(&revoke).bearer_auth(&admin).json(&json!({"device_id": device_id})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["revoked"], json!([device_id]));
    device.record("P002", anfang_core::Card::Green, vec![]);
    assert_revoked(&server, &device.token()).await;

    // The engine stops with the code, and the finding stays queued.
    let transport = HttpTransport::new(&server.url(), &device.token()).unwrap();
    let err = SyncEngine::new(&mut device.store, &transport, &SystemClock).sync(&mut |_| {}).await.unwrap_err();
    match &err {
        SyncError::Unauthorized(TransportError::Revoked { code, .. }) => {
            assert_eq!(*code, anfang_core::error_code::ErrorCode::DeviceRevoked)
        }
        other => panic!("expected device_revoked, got {other:?}"),
    }
    assert!(err.to_string().starts_with("此设备已被停用"), "{err}");
    assert_eq!(device.store.unsynced_count().unwrap(), 1);
    let listed = server.admin_get(&format!("/api/v1/inspectors/{inspector}/devices")).await;
    assert!(listed["items"][0]["revoked_at"].is_string(), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_sign_in() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let password = add_user(&server, "rev", "reviewer");
    let token = sign_in(&server, "rev", &password).await;
    let browser = Browser::login(&server, "rev", &password).await;
    let client = reqwest::Client::new();
    let findings = format!("{}/api/v1/findings", server.url());
    assert_eq!(client.get(&findings).bearer_auth(&token).send().await.unwrap().status(), 200);
    assert_eq!(browser.get("/console/findings").await.0, 200);

    let data_dir = data.path().to_str().unwrap();
    let (status, out, err) = server_cli(&["user", "disable", "--data-dir", data_dir, "--username", "rev"]);
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("2 session(s) ended"), "{out}");
    assert_eq!(client.get(&findings).bearer_auth(&token).send().await.unwrap().status(), 401);
    assert_eq!(browser.get("/console/findings").await.0, 303, "the console sends them to the login page");
    let res = client
        .post(format!("{}/api/v1/session", server.url()))
        .json(&json!({"username": "rev", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a disabled user cannot sign in");

    // Through the API, by an admin; the last admin cannot be disabled.
    let password = add_user(&server, "lead", "leader");
    let leader = sign_in(&server, "lead", &password).await;
    let admin = server.admin_token().await;
    let disable = format!("{}/api/v1/users/disable", server.url());
    let res = client.post(&disable).bearer_auth(&leader).json(&json!({"username": "lead"})).send().await.unwrap();
    assert_eq!(res.status(), 403, "only admins disable users");
    let res = client.post(&disable).bearer_auth(&admin).json(&json!({"username": "lead"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["sessions_ended"], 1);
    assert_eq!(client.get(&findings).bearer_auth(&leader).send().await.unwrap().status(), 401);
    let res = client.post(&disable).bearer_auth(&admin).json(&json!({"username": "admin"})).send().await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "last_admin");
    assert_eq!(client.get(&findings).bearer_auth(&admin).send().await.unwrap().status(), 200);
}

fn at(data: &Path, now: jiff::Timestamp) -> Server {
    Server::start_with_env(data, "127.0.0.1:0", false, &[("ANFANG_TEST_NOW", &now.to_string())])
}

async fn findings_status(server: &Server, token: &str) -> u16 {
    let url = format!("{}/api/v1/findings", server.url());
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_sessions_end_after_30_idle_minutes_and_12_hours_at_most() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let t0 = jiff::Timestamp::now();
    let token = server.admin_token().await;
    let password = server.demo.admin_password.clone();
    server.kill();
    let mins = jiff::SignedDuration::from_mins;

    // Used within 30 minutes: still signed in, and the use counts.
    let s = at(data.path(), t0 + mins(29));
    assert_eq!(findings_status(&s, &token).await, 200);
    drop(s);
    let s = at(data.path(), t0 + mins(29 + 29));
    assert_eq!(findings_status(&s, &token).await, 200, "the idle lifetime restarts on use");
    drop(s);
    let s = at(data.path(), t0 + mins(58 + 31));
    assert_eq!(findings_status(&s, &token).await, 401, "31 idle minutes end the session");
    drop(s);

    // In use all along, yet over 12 hours old: ended.
    let mut s = Server::start(data.path(), "127.0.0.1:0", false);
    s.demo.admin_password = password;
    let token = s.admin_token().await;
    let t1 = jiff::Timestamp::now();
    drop(s);
    let set_last_use = |at: jiff::Timestamp| {
        let db = anfang_server::db::Db::open(&data.path().join("anfang.sqlite3")).unwrap();
        let hash = anfang_server::auth::secret_hash(&token);
        db.write_blocking(|c| {
            c.execute("UPDATE sessions SET last_used_at = ?2 WHERE token_hash = ?1", [hash, at.to_string()])?;
            Ok(())
        })
        .unwrap();
    };
    set_last_use(t1 + mins(11 * 60 + 50));
    let s = at(data.path(), t1 + mins(11 * 60 + 55));
    assert_eq!(findings_status(&s, &token).await, 200);
    drop(s);
    set_last_use(t1 + mins(12 * 60));
    let s = at(data.path(), t1 + mins(12 * 60 + 2));
    assert_eq!(findings_status(&s, &token).await, 401, "the absolute lifetime is 12 hours");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_tokens_rotate_and_the_old_one_ends_when_the_new_one_is_used() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let t0 = jiff::Timestamp::now();
    let old = device.token();
    let (status, body) = as_device(&server, &old, "get", "/api/v1/sync/pull").await;
    assert_eq!(status, 200);
    assert!(body.get("rotate_token").is_none(), "a fresh token is not rotated: {body}");
    server.kill();

    // Eight days later (offline in between): the pull asks for a rotation,
    // and the engine gets and keeps the new token.
    let days = |d: i64| jiff::SignedDuration::from_hours(24 * d);
    let later = at(data.path(), t0 + days(8));
    let (status, body) = as_device(&later, &old, "get", "/api/v1/sync/pull").await;
    assert_eq!(status, 200);
    assert_eq!(body["rotate_token"], true, "{body}");
    let report = device.sync_via(&later.url(), fast()).await;
    assert!(report.interrupted.is_none(), "{report:?}");
    let new = device.token();
    assert_ne!(new, old, "the device took the new token");
    assert!(new.starts_with("anfd_"));
    // Until the new token is used the old one still works (a lost answer
    // locks nobody out) ...
    assert_eq!(as_device(&later, &old, "get", "/api/v1/sync/pull").await.0, 200);
    // ... a rotation whose answer was lost is simply replaced ...
    let (status, lost) = as_device(&later, &old, "post", "/api/v1/device/token").await;
    assert_eq!(status, 200);
    let lost = lost["token"].as_str().unwrap().to_owned();
    let (_, fresh) = as_device(&later, &old, "post", "/api/v1/device/token").await;
    let fresh = fresh["token"].as_str().unwrap().to_owned();
    assert_eq!(as_device(&later, &lost, "get", "/api/v1/sync/pull").await.0, 401, "replaced before use");
    assert_eq!(as_device(&later, &new, "get", "/api/v1/sync/pull").await.0, 401, "replaced before use");
    // ... and once the new one is used, the old one stops.
    let (status, body) = as_device(&later, &fresh, "get", "/api/v1/sync/pull").await;
    assert_eq!(status, 200);
    assert!(body.get("rotate_token").is_none(), "the new token is fresh: {body}");
    let (status, body) = as_device(&later, &old, "get", "/api/v1/sync/pull").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{body}");
    drop(later);

    // Eighty-nine days offline is fine; a phone unheard of for over 90 days
    // must enroll again.
    let s = at(data.path(), t0 + days(8 + 89));
    assert_eq!(as_device(&s, &fresh, "get", "/api/v1/sync/pull").await.0, 200);
    drop(s);
    let s = at(data.path(), t0 + days(8 + 89 + 91));
    let (status, body) = as_device(&s, &fresh, "get", "/api/v1/sync/pull").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("device_expired")), "{body}");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_data_and_the_cli_home_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start_demo(&data);
    // A home made by an older version, readable by everyone: tightened.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    let code = server.demo.codes[0].1.clone();
    let (status, out, err) = cli(&home, &["enroll", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "enroll: {out}{err}");
    let photo = tmp.path().join("IMG_1.jpg");
    std::fs::write(&photo, camera_jpeg(7, 800, 600)).unwrap();
    let (status, out, err) = cli(
        &home,
        &["record", "--point", "P001", "--category", "parking", "--card", "yellow", "--photo", photo.to_str().unwrap()],
    );
    assert_eq!(status, 0, "record: {out}{err}");
    let (status, out, err) = cli(&home, &["sync", "--json"]);
    assert_eq!(status, 0, "sync: {out}{err}");

    let mut checked = Vec::new();
    let mut check = |path: &Path, want: u32| {
        assert_eq!(mode(path), want, "{} is {:o}", path.display(), mode(path));
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    };
    check(&data, 0o700);
    for name in ["anfang.sqlite3", "anfang.sqlite3-wal", "anfang.sqlite3-shm", "demo-credentials.txt"] {
        check(&data.join(name), 0o600);
    }
    for dir in ["photos", "uploads"] {
        check(&data.join(dir), 0o700);
    }
    let mut photo_files = 0;
    for sub in std::fs::read_dir(data.join("photos")).unwrap() {
        let sub = sub.unwrap().path();
        check(&sub, 0o700);
        for f in std::fs::read_dir(&sub).unwrap() {
            check(&f.unwrap().path(), 0o600);
            photo_files += 1;
        }
    }
    assert_eq!(photo_files, 2, "the photo and its thumbnail");
    check(&home, 0o700);
    for f in std::fs::read_dir(&home).unwrap() {
        check(&f.unwrap().path(), 0o600);
    }
    assert!(checked.iter().any(|n| n == "anfang.sqlite3"), "{checked:?}");

    // A data dir loosened by hand (or an older version) is tightened on open.
    drop(server);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("anfang.sqlite3"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _server = Server::start(&data, "127.0.0.1:0", false);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("anfang.sqlite3")), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_devices_revokes_one_and_offers_to_revoke_old_ones_with_a_new_code() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let device = Device::enroll(&server, 0).await;
    let browser = Browser::login(&server, "admin", &server.demo.admin_password).await;
    let (status, page) = browser.get("/console/inspectors").await;
    assert_eq!(status, 200);
    assert!(page.contains("test phone") && page.contains("最近同步") && page.contains("停用此设备"), "{page}");
    assert!(!page.contains(&device.token()), "no token on the page");

    // A new code offers to revoke exactly the phones working until now.
    let inspector_id = {
        let at = page.find("/devices/revoke").unwrap();
        let start = page[..at].rfind("/console/inspectors/").unwrap() + "/console/inspectors/".len();
        page[start..at].to_owned()
    };
    let (status, issued) = browser.submit(&page, &format!("/console/inspectors/{inspector_id}/code"), &[]).await;
    assert_eq!(status, 200);
    assert!(issued.contains("停用旧设备（1 台）"), "{issued}");
    let device_id = device.store.enrollment().unwrap().unwrap().device_id;
    assert!(issued.contains(&format!("name=\"devices\" value=\"{device_id}\"")), "{issued}");

    let (status, done) = browser
        .submit(&issued, &format!("/console/inspectors/{inspector_id}/devices/revoke"), &[("devices", &device_id)])
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("已停用 1 台设备") && done.contains("已停用 "), "{done}");
    assert_revoked(&server, &device.token()).await;
}
