//! Sync end to end: the real server binary on a real socket, the real client
//! core, and the failures the field brings (no signal, a dying server, a
//! connection cut in the middle of a photo).

mod common;

use anfang_core::Card;
use anfang_core::sync::{SyncEvent, SyncOptions};
use common::*;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_recorded_offline_arrive_once_with_every_field_and_photo_hash() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    assert!(device.store.points(None).unwrap().len() >= 40, "the demo points were pulled");

    // No signal: the server is gone while the inspector works.
    server.kill();
    let a = device.record("P001", Card::Yellow, vec![processed(1, 1600, 1200), processed(2, 1200, 1600)]);
    let b = device.record("P017", Card::Red, vec![processed(3, 2400, 1800)]);
    let offline = device.sync_via(&server.url(), fast()).await;
    assert!(offline.interrupted.is_some(), "a sync with no server is reported as interrupted");
    assert_eq!(offline.pending, 2, "both findings wait on the device");

    server.restart();
    let report = device.sync_via(&server.url(), fast()).await;
    assert_eq!(report.interrupted, None);
    assert_eq!(report.findings_pushed, 2);
    assert_eq!(report.photos_uploaded, 3);
    assert_eq!(report.pending, 0);

    let token = server.admin_token().await;
    let items = server.office_findings(&token).await;
    assert_eq!(items.len(), 2, "each finding appears exactly once");
    for sent in [&a, &b] {
        let got = items.iter().find(|f| f["id"] == sent.id.to_string()).expect("finding on the server");
        assert_eq!(got["point"]["id"], sent.point_id);
        assert_eq!(got["unit"]["id"], sent.unit_id);
        assert_eq!(got["category"]["id"], sent.category);
        assert_eq!(got["card"], sent.card.as_str());
        assert_eq!(got["note"].as_str(), sent.note.as_deref());
        let observed: jiff::Timestamp = got["observed_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(observed.as_millisecond(), sent.observed_at.as_millisecond());
        let loc = sent.location.unwrap();
        assert_eq!(got["location"]["lat"].as_f64().unwrap(), loc.lat);
        assert_eq!(got["location"]["lon"].as_f64().unwrap(), loc.lon);
        assert_eq!(got["location"]["accuracy_m"].as_f64().unwrap(), loc.accuracy_m);
        assert_eq!(got["content_hash"], sent.content_hash());
        let hashes: Vec<&str> =
            got["photos"].as_array().unwrap().iter().map(|p| p["sha256"].as_str().unwrap()).collect();
        assert_eq!(hashes, sent.photos.iter().map(String::as_str).collect::<Vec<_>>(), "photo hashes, in order");
        for sha in &sent.photos {
            let bytes = server.photo_bytes(&token, sha).await;
            assert_eq!(&sha256_hex(&bytes), sha, "the server's photo bytes match their hash");
            assert_eq!(bytes, device.store.photo_jpeg(sha).unwrap().unwrap(), "byte for byte what the device took");
        }
    }

    let again = device.sync_via(&server.url(), fast()).await;
    assert_eq!(
        (again.findings_pushed, again.photos_uploaded, again.photo_bytes_sent),
        (0, 0, 0),
        "a second sync sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_sync_still_lands_each_finding_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 1).await;
    let mut ids = Vec::new();
    for i in 0..24u32 {
        let point = format!("P{:03}", 1 + i % 40);
        ids.push(device.record(&point, Card::Yellow, vec![processed(100 + i, 900, 700)]).id);
    }
    let options = SyncOptions { batch_size: 5, ..fast() };

    // Kill while photos are uploading…
    let mut photos_done = 0;
    let first = {
        let server_ref = &mut server;
        device
            .sync_with_events(&server_ref.url(), options.clone(), &mut |e| {
                if let SyncEvent::PhotoDone { .. } = e {
                    photos_done += 1;
                    if photos_done == 3 {
                        server_ref.kill();
                    }
                }
            })
            .await
    };
    assert!(first.interrupted.is_some(), "{first:?}");

    // …and again right after a push batch was committed.
    server.restart();
    let mut pushes = 0;
    let second = {
        let server_ref = &mut server;
        device
            .sync_with_events(&server_ref.url(), options.clone(), &mut |e| {
                if let SyncEvent::FindingDone { .. } = e {
                    pushes += 1;
                    if pushes == 7 {
                        server_ref.kill();
                    }
                }
            })
            .await
    };
    assert!(second.interrupted.is_some(), "{second:?}");

    server.restart();
    let last = device.sync_via(&server.url(), options).await;
    assert_eq!(last.interrupted, None);
    assert_eq!(last.pending, 0, "everything is synced in the end");
    let not_synced: Vec<_> = device
        .store
        .findings()
        .unwrap()
        .into_iter()
        .filter(|f| f.sync != anfang_core::store::SyncState::Synced)
        .map(|f| (f.content.id, f.sync))
        .collect();
    assert!(not_synced.is_empty(), "every finding is synced, none rejected: {not_synced:?}");

    let token = server.admin_token().await;
    let items = server.office_findings(&token).await;
    let on_server: Vec<String> = items.iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect();
    let unique: HashSet<&String> = on_server.iter().collect();
    assert_eq!(on_server.len(), 24, "no finding lost and none doubled");
    assert_eq!(unique.len(), 24);
    for id in &ids {
        assert!(unique.contains(&id.to_string()), "finding {id} arrived");
    }
    for f in &items {
        for p in f["photos"].as_array().unwrap() {
            let sha = p["sha256"].as_str().unwrap();
            assert_eq!(sha256_hex(&server.photo_bytes(&token, sha).await), sha);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_mid_photo_resumes_from_the_server_offset_not_from_zero() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 2).await;
    let photo = processed(7, 3000, 2250);
    let size = photo.jpeg.len() as u64;
    let chunk = anfang_core::protocol::UPLOAD_CHUNK_BYTES as u64;
    assert!(size > 3 * chunk, "the test photo spans several chunks ({size} bytes)");
    let sha = photo.sha256.clone();
    device.record("P005", Card::Red, vec![photo]);

    let proxy = Proxy::start(server.addr).await;
    // Cut the line part-way through the third chunk.
    proxy.cut_after(2 * chunk + chunk / 2);
    let cut = device.sync_via(&proxy.url(), fast()).await;
    assert!(cut.interrupted.is_some(), "{cut:?}");
    assert_eq!(cut.pending, 1);

    // Ask the server where the upload stands, as the device would.
    let status: anfang_core::protocol::UploadStatus = serde_json::from_value(
        device.post_json(&server, "/api/v1/uploads", &serde_json::json!({"sha256": sha, "size": size})).await,
    )
    .unwrap();
    assert!(!status.complete);
    assert!(status.offset >= chunk, "the server kept what arrived: offset {}", status.offset);

    proxy.heal();
    let before = proxy.upstream();
    let resumed = device.sync_via(&proxy.url(), fast()).await;
    let sent_upstream = proxy.upstream() - before;
    assert_eq!(resumed.interrupted, None);
    assert_eq!(resumed.findings_pushed, 1);
    assert_eq!(resumed.photo_bytes_sent, size - status.offset, "only the rest of the photo was sent");
    assert!(
        sent_upstream < size - status.offset + 64 * 1024,
        "bytes on the wire ({sent_upstream}) are the rest of the photo plus requests, not the whole {size}"
    );

    let token = server.admin_token().await;
    assert_eq!(sha256_hex(&server.photo_bytes(&token, &sha).await), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_answer_is_lost_is_recognised_as_a_duplicate() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;

    let proxy = Proxy::start(server.addr).await;
    let id = device.record("P004", Card::Yellow, vec![processed(10, 640, 480)]).id;
    // The photo goes through; then the push reaches the server, which
    // commits, but its answer never comes back.
    let mut sent_photo = false;
    let report = device
        .sync_with_events(&proxy.url(), SyncOptions { max_retries: 0, ..fast() }, &mut |e| {
            if let SyncEvent::PhotoDone { .. } = e {
                sent_photo = true;
                proxy.mute_answers();
            }
        })
        .await;
    assert!(sent_photo);
    assert!(report.interrupted.is_some(), "the answer was lost: {report:?}");
    assert_eq!(report.findings_pushed, 0);

    proxy.heal();
    let retry = device.sync_via(&proxy.url(), fast()).await;
    assert_eq!(retry.findings_already_on_server, 1, "the replay is recognised: {retry:?}");
    assert_eq!(retry.findings_pushed, 0);
    let token = server.admin_token().await;
    let items = server.office_findings(&token).await;
    assert_eq!(items.iter().filter(|f| f["id"] == id.to_string()).count(), 1);
}
