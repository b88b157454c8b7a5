//! The README's walk-through, with the real binaries: enroll, sync points,
//! record two findings with the server down, sync once, sync again.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_field_client_records_offline_and_one_sync_lands_everything_once() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let code = server.demo.codes[0].1.clone();

    let (status, out, err) = cli(home.path(), &["enroll", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "enroll: {out}{err}");
    assert!(out.contains("督查01"), "{out}");

    let (status, out, _) = cli(home.path(), &["points", "--near", "31.2090,107.4680", "--json"]);
    assert_eq!(status, 0);
    let points: Value = serde_json::from_str(&out).unwrap();
    let points = points.as_array().unwrap();
    assert_eq!(points.len(), 40);
    let d: Vec<f64> = points.iter().map(|p| p["distance_m"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "nearest first");

    let (status, out, _) = cli(home.path(), &["categories", "--json"]);
    assert_eq!(status, 0);
    assert!(out.contains("占道经营"));

    server.kill();
    let photos = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    let mut hashes = Vec::new();
    for (i, point) in ["P001", "P002"].iter().enumerate() {
        let path = photos.path().join(format!("IMG_{i}.jpg"));
        std::fs::write(&path, camera_jpeg(i as u32 + 40, 2400, 1800)).unwrap();
        let (status, out, err) = cli(
            home.path(),
            &[
                "record",
                "--point",
                point,
                "--category",
                "street_vending",
                "--card",
                "yellow",
                "--note",
                "占道摆摊",
                "--lat",
                "31.2101",
                "--lon",
                "107.4693",
                "--accuracy",
                "12",
                "--photo",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(status, 0, "record offline: {err}");
        ids.push(out.lines().last().unwrap().trim().to_owned());
    }
    let (_, out, _) = cli(home.path(), &["findings", "--json"]);
    let local: Value = serde_json::from_str(&out).unwrap();
    for f in local.as_array().unwrap() {
        assert_eq!(f["sync"]["state"], "local");
        hashes.push(f["photos"][0].as_str().unwrap().to_owned());
    }

    server.restart();
    let (status, out, err) = cli(home.path(), &["sync", "--json"]);
    assert_eq!(status, 0, "sync: {out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["findings_pushed"], 2);
    assert_eq!(report["photos_uploaded"], 2);

    let token = server.admin_token().await;
    let items = server.office_findings(&token).await;
    assert_eq!(items.len(), 2);
    for id in &ids {
        let f = items.iter().find(|f| f["id"] == id.as_str()).expect("synced finding listed");
        let sha = f["photos"][0]["sha256"].as_str().unwrap();
        assert!(hashes.iter().any(|h| h == sha), "photo hash equals the client's");
    }

    let (status, out, _) = cli(home.path(), &["sync", "--json"]);
    assert_eq!(status, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["findings_pushed"].as_u64(), report["photos_uploaded"].as_u64()),
        (Some(0), Some(0)),
        "a second sync sends nothing"
    );
    assert_eq!(report["photo_bytes_sent"], 0);

    let (_, out, _) = cli(home.path(), &["findings", "--json"]);
    let local: Value = serde_json::from_str(&out).unwrap();
    assert!(local.as_array().unwrap().iter().all(|f| f["sync"]["state"] == "synced"));
}

#[test]
fn sync_with_the_server_down_says_so_and_keeps_the_findings() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let code = server.demo.codes[1].1.clone();
    assert_eq!(cli(home.path(), &["enroll", "--server", &server.url(), "--code", &code]).0, 0);
    server.kill();
    let photo = home.path().join("p.jpg");
    std::fs::write(&photo, camera_jpeg(5, 800, 600)).unwrap();
    let (status, _, err) = cli(
        home.path(),
        &["record", "--point", "P010", "--category", "parking", "--card", "red", "--photo", photo.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{err}");
    assert!(err.contains("no fix"), "a finding without a position says so: {err}");
    let (status, out, _) = cli(home.path(), &["sync", "--json"]);
    assert_eq!(status, 2, "an interrupted sync exits 2");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(report["interrupted"].as_str().unwrap().contains("unreachable"));
    assert_eq!(report["pending"], 1);
    let (_, out, _) = cli(home.path(), &["findings", "--json"]);
    let local: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(local[0]["sync"]["state"], "uploading", "tried, waiting to retry");
    assert!(local[0]["sync"]["last_error"].as_str().unwrap().contains("unreachable"));
}

/// `anfang points | head -1`: the reader goes away before the CLI has
/// written; the CLI stops quietly with success instead of panicking with
/// "failed printing to stdout: Broken pipe" and exit 101.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let code = server.demo.codes[0].1.clone();
    let (status, out, err) = cli(home.path(), &["enroll", "--server", &server.url(), "--code", &code]);
    assert_eq!(status, 0, "enroll: {out}{err}");

    for args in [&["points", "--near", "31.2090,107.4680"][..], &["points", "--json"][..], &["categories"][..]] {
        // A pipe whose reading end is closed before the CLI writes to it.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(CLI_BIN)
            .arg("--home")
            .arg(home.path())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}
