//! Photos in an S3-compatible object store (a real Garage node on
//! 127.0.0.1): what a device uploads lands in the bucket and nowhere on the
//! server's disk, an upload begun through one instance is finished through
//! another, `verify` re-hashes the objects and names one an insider altered,
//! and a store that is missing or stops answering costs no finding.

mod common;

use anfang_core::Card;
use common::objects::Garage;
use common::*;
use std::path::Path;
use std::process::Command;

/// `serve` on `data` with its photos in `node` under `prefix` (whatever
/// `ANFANG_TEST_PHOTOS` says: this file is about the store).
fn start_on(node: &Garage, data: &Path, prefix: &str, demo: bool, listen: &str) -> Server {
    let env = node.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start_with_args(data, listen, demo, &env, &["--photos", &node.photos_arg(prefix)])
}

/// Runs an `anfang-server` command with the node's key in its
/// environment; (exit code, stdout and stderr together).
fn run_with_key(node: &Garage, args: &[&str]) -> (i32, String) {
    let out = Command::new(SERVER_BIN).args(args).envs(node.env()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn verify_on(node: &Garage, data: &Path, prefix: &str) -> (i32, String) {
    let data = data.to_str().unwrap();
    run_with_key(node, &["verify", "--data-dir", data, "--photos", &node.photos_arg(prefix)])
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_pushed_to_a_server_on_an_object_store_live_in_the_bucket_and_verify_rehashes_them() {
    let node = Garage::shared();
    let data = tempfile::tempdir().unwrap();
    let prefix = "city-a";
    let mut server = start_on(node, data.path(), prefix, true, "127.0.0.1:0");
    let mut device = Device::enroll(&server, 0).await;
    let finding = device.record("P001", Card::Red, vec![processed(1, 1600, 1200), processed(2, 1200, 1600)]);
    let report = device.sync_via(&server.url(), fast()).await;
    assert_eq!(
        (report.interrupted.as_deref(), report.findings_pushed, report.photos_uploaded),
        (None, 1, 2),
        "{report:?}"
    );

    let token = server.admin_token().await;
    for sha in &finding.photos {
        let taken = device.store.photo_jpeg(sha).unwrap().unwrap();
        assert_eq!(server.photo_bytes(&token, sha).await, taken, "the office sees the photo the device took");
        let key = format!("{prefix}/photos/{}/{sha}.jpg", &sha[..2]);
        assert_eq!(node.get(&key).await.as_deref(), Some(&taken[..]), "{key} is in the bucket, byte for byte");
        let thumb = node.get(&format!("{prefix}/photos/{}/{sha}.thumb.jpg", &sha[..2])).await;
        assert!(thumb.is_some_and(|t| !t.is_empty() && t.len() < taken.len()), "its thumbnail too");
        assert_eq!(
            node.get(&format!("{prefix}/uploads/{sha}.{}.part", device_id(&device))).await,
            None,
            "no partial left"
        );
    }
    let on_disk: Vec<String> =
        ["photos", "files", "public"].iter().flat_map(|d| files_under(&data.path().join(d))).collect();
    assert!(on_disk.is_empty(), "no photo bytes on the server's disk: {on_disk:?}");
    let partials: Vec<String> =
        files_under(&data.path().join("uploads")).into_iter().filter(|f| !f.contains("/locks/")).collect();
    assert!(partials.is_empty(), "no partial upload on the server's disk: {partials:?}");

    server.kill();
    let (code, out) = verify_on(node, data.path(), prefix);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 photos with thumbnails"), "{out}");

    // An insider with the bucket's key swaps a photo for another picture.
    let sha = &finding.photos[0];
    let key = format!("{prefix}/photos/{}/{sha}.jpg", &sha[..2]);
    let original = node.get(&key).await.unwrap();
    node.put(&key, processed(99, 1600, 1200).jpeg).await;
    let (code, out) = verify_on(node, data.path(), prefix);
    assert_ne!(code, 0, "an altered object fails verify: {out}");
    assert!(out.contains(&format!("photo {sha}")) && out.contains("(altered)"), "names the photo: {out}");
    assert!(out.contains("in s3://anfang-test"), "and where it is: {out}");

    // Deleted behind the server's back: named as missing.
    node.delete(&key).await;
    let (code, out) = verify_on(node, data.path(), prefix);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&format!("photo {sha}")) && out.contains("(missing)"), "{out}");

    node.put(&key, original).await;
    let (code, out) = verify_on(node, data.path(), prefix);
    assert_eq!(code, 0, "put back, it verifies again: {out}");

    // Verifying the data dir alone finds the photos missing, not intact.
    let (code, out) = verify(data.path());
    if !common::objects::photos_in_s3() {
        assert_ne!(code, 0, "the folder has no photos: {out}");
        assert!(out.contains("(missing)"), "{out}");
    }
}

fn device_id(device: &Device) -> String {
    device.store.enrollment().unwrap().unwrap().device_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_through_one_instance_is_finished_through_another() {
    let node = Garage::shared();
    let data = tempfile::tempdir().unwrap();
    let prefix = "city-b";
    let mut first = start_on(node, data.path(), prefix, true, "127.0.0.1:0");
    let mut second = start_on(node, data.path(), prefix, false, "127.0.0.1:0");
    second.demo = first.demo.clone();
    let mut device = Device::enroll(&first, 1).await;
    let photo = processed(7, 3000, 2250);
    let (sha, size) = (photo.sha256.clone(), photo.jpeg.len() as u64);
    let chunk = anfang_core::protocol::UPLOAD_CHUNK_BYTES as u64;
    assert!(size > 3 * chunk, "the photo spans several chunks ({size} bytes)");
    device.record("P005", Card::Yellow, vec![photo]);

    // Through the first instance until the line is cut in the third chunk;
    // then that instance dies.
    let to_first = Proxy::start(first.addr).await;
    to_first.cut_after(2 * chunk + chunk / 2);
    let cut = device.sync_via(&to_first.url(), fast()).await;
    assert!(cut.interrupted.is_some(), "{cut:?}");
    first.kill();
    let part = node.get(&format!("{prefix}/uploads/{sha}.{}.part", device_id(&device))).await;
    let held = part.expect("the partial upload is in the bucket").len() as u64;
    assert!(held >= chunk && held < size, "it holds what arrived: {held} of {size}");

    // The second instance carries on from there.
    let to_second = Proxy::start(second.addr).await;
    let resumed = device.sync_via(&to_second.url(), fast()).await;
    assert_eq!((resumed.interrupted.as_deref(), resumed.findings_pushed), (None, 1), "{resumed:?}");
    assert_eq!(resumed.photo_bytes_sent, size - held, "only the rest of the photo was sent");
    assert!(to_second.upstream() < size - held + 64 * 1024, "{} bytes on the wire", to_second.upstream());

    let token = second.admin_token().await;
    assert_eq!(sha256_hex(&second.photo_bytes(&token, &sha).await), sha);
    assert_eq!(node.get(&format!("{prefix}/uploads/{sha}.{}.part", device_id(&device))).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_credentials_or_that_does_not_answer_is_refused_at_start_with_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    let serve = |photos: &str, env: &[(&str, &str)]| {
        let out = Command::new(SERVER_BIN)
            .args(["serve", "--data-dir"])
            .arg(data.path())
            .args(["--listen", "127.0.0.1:0", "--photos", photos])
            .env_remove("ANFANG_S3_ACCESS_KEY_ID")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("ANFANG_S3_SECRET_ACCESS_KEY")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("s3://photos?endpoint=http://127.0.0.1:{closed}&region=garage");

    let (ok, err) = serve(&nowhere, &[]);
    assert!(!ok);
    assert!(err.contains("ANFANG_S3_ACCESS_KEY_ID") && err.contains("ANFANG_S3_SECRET_ACCESS_KEY"), "{err}");

    let keys = [("ANFANG_S3_ACCESS_KEY_ID", "GK0000"), ("ANFANG_S3_SECRET_ACCESS_KEY", "not-a-secret")];
    let (ok, err) = serve(&nowhere, &keys);
    assert!(!ok);
    assert!(err.contains("does not answer") && err.contains(&closed.to_string()), "{err}");

    let (ok, err) = serve("s3://GK0000:secret@photos?endpoint=http://127.0.0.1:1", &keys);
    assert!(!ok);
    assert!(err.contains("must not carry credentials") && !err.contains("secret@"), "{err}");

    // A real store, a wrong key: refused, not started.
    let node = Garage::shared();
    let (ok, err) = serve(&node.photos_arg("city-c"), &keys);
    assert!(!ok);
    assert!(err.contains("refuses this server"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_costs_no_finding_and_the_device_sends_it_later() {
    // A node of its own: this test stops it.
    let dir = tempfile::tempdir().unwrap();
    let node = Garage::start(&dir.path().join("garage"));
    let data = tempfile::tempdir().unwrap();
    let server = start_on(&node, data.path(), "city-d", true, "127.0.0.1:0");
    let mut device = Device::enroll(&server, 2).await;
    let finding = device.record("P002", Card::Yellow, vec![processed(3, 1200, 900)]);

    node.kill();
    let failed = device.sync_via(&server.url(), fast()).await;
    assert_eq!(failed.findings_pushed, 0, "{failed:?}");
    assert_eq!(failed.pending, 1, "the finding waits on the device: {failed:?}");
    // The server says why, with a code the app can act on.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/uploads", server.url()))
        .bearer_auth(device.token())
        .json(&serde_json::json!({"sha256": finding.photos[0], "size": 1000}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!((status, body["code"].as_str()), (503, Some("storage_unavailable")), "{body}");

    node.relaunch();
    let report = device.sync_via(&server.url(), fast()).await;
    assert_eq!((report.interrupted.as_deref(), report.findings_pushed, report.pending), (None, 1, 0), "{report:?}");
    let token = server.admin_token().await;
    let sha = &finding.photos[0];
    assert_eq!(server.photo_bytes(&token, sha).await, device.store.photo_jpeg(sha).unwrap().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_an_embedded_installations_photos_into_the_bucket_and_the_server_goes_on_from_there() {
    let node = Garage::shared();
    let data = tempfile::tempdir().unwrap();
    let prefix = "city-e";
    // An embedded installation: photos in the data dir.
    let mut server = Server::start_with_args(data.path(), "127.0.0.1:0", true, &[], &["--photos", "data-dir"]);
    let mut device = Device::enroll(&server, 0).await;
    let finding = device.record("P003", Card::Red, vec![processed(11, 1600, 1200), processed(12, 1600, 1200)]);
    let report = device.sync_via(&server.url(), fast()).await;
    assert_eq!(report.findings_pushed, 1, "{report:?}");
    let demo = server.demo.clone();
    server.kill();

    let to = node.photos_arg(prefix);
    let migrate = || run_with_key(node, &["migrate", "--data-dir", data.path().to_str().unwrap(), "--to-photos", &to]);
    let (code, out) = migrate();
    assert_eq!(code, 0, "{out}");
    // Two photos and their two thumbnails.
    assert!(out.contains("copied 4 object(s)") && out.contains("0 already there"), "{out}");
    assert!(out.contains("2 photos with thumbnails in the bucket: all intact"), "{out}");
    assert!(out.contains("chain head: length "), "{out}");
    for sha in &finding.photos {
        let key = format!("{prefix}/photos/{}/{sha}.jpg", &sha[..2]);
        assert_eq!(node.get(&key).await, device.store.photo_jpeg(sha).unwrap(), "{key}");
    }

    // Run again (as after a cut): nothing is sent twice.
    let (code, out) = migrate();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("copied 0 object(s)") && out.contains("4 already there"), "{out}");

    // The server on the bucket serves the photos, and takes new ones there.
    let mut on_bucket = start_on(node, data.path(), prefix, false, "127.0.0.1:0");
    on_bucket.demo = demo;
    let token = on_bucket.admin_token().await;
    for sha in &finding.photos {
        assert_eq!(on_bucket.photo_bytes(&token, sha).await, device.store.photo_jpeg(sha).unwrap().unwrap());
    }
    let later = device.record("P004", Card::Yellow, vec![processed(13, 1200, 900)]);
    let report = device.sync_via(&on_bucket.url(), fast()).await;
    assert_eq!(report.findings_pushed, 1, "{report:?}");
    let sha = &later.photos[0];
    assert!(node.get(&format!("{prefix}/photos/{}/{sha}.jpg", &sha[..2])).await.is_some());
    on_bucket.kill();
    let (code, out) = verify_on(node, data.path(), prefix);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 photos with thumbnails"), "{out}");
}
