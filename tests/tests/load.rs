//! The load tool against the real server on a real socket: a small fleet's
//! day arrives whole and is measured, and it still arrives whole while the
//! server is killed with SIGKILL and restarted under it.

mod common;

use common::{Server, assert_verifies, load_findings_on_server, small_fleet};
use std::time::Duration;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

// The tool runs its own runtimes, as the binary does: these tests are plain
// threads, not async.
#[test]
fn a_small_fleets_day_arrives_whole_and_every_request_is_measured() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let report = anfang_load::run(&small_fleet(&server, 4, 3, 2)).unwrap();

    assert_eq!(report.errors(), 0, "{report:#?}");
    assert_eq!((report.findings_recorded, report.findings_found_on_server), (12, 12));
    assert_eq!((report.findings_pushed, report.photos_uploaded), (12, 24));
    // Six variants of each of the four base photos, each as long as its base.
    assert!(report.photo_bytes_sent.abs_diff(24 * report.mean_photo_bytes) < 24, "{report:#?}");
    let requests = |r: anfang_load::Request| report.requests.get(&r).map_or(0, |l| l.count);
    assert!(requests(anfang_load::Request::Push) >= 4, "one push per device at least: {:?}", report.requests);
    assert!(requests(anfang_load::Request::Chunk) >= 24, "a chunk per photo at least: {:?}", report.requests);
    assert_eq!(report.device_sync.count, 4);
    let server_usage = report.processes.iter().find(|p| p.label == "server").expect("the server was watched");
    assert!(server_usage.cpu_s > 0.0 && server_usage.peak_rss_mib > 1.0, "{server_usage:?}");
    // Independently of the tool's own check: the office's list holds them.
    assert_eq!(block_on(load_findings_on_server(&server)), 12);
}

#[test]
fn a_fleets_day_arrives_once_while_the_server_is_killed_and_restarted() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    // Not watched: the server's pid changes with every restart.
    let options = anfang_load::Options { watch: vec![], ..small_fleet(&server, 8, 10, 3) };
    let fleet = std::sync::Arc::new(anfang_load::Fleet::set_up(&options).unwrap());
    let loading = {
        let fleet = fleet.clone();
        std::thread::spawn(move || fleet.load())
    };
    let mut kills = 0;
    while !loading.is_finished() && kills < 8 {
        std::thread::sleep(Duration::from_millis(300));
        server.restart(); // SIGKILL, then the same data dir and port
        kills += 1;
    }
    let load = loading.join().unwrap().unwrap();
    let report = fleet.check(load).unwrap();

    let retried: usize = report.requests.values().map(|l| l.retried).sum();
    assert!(retried > 0, "no request met a killed server ({kills} kills): {report:#?}");
    assert_eq!(report.errors(), 0, "{report:#?}");
    assert_eq!((report.findings_recorded, report.findings_found_on_server), (80, 80));
    assert_eq!(block_on(load_findings_on_server(&server)), 80, "each finding once");
    server.kill();
    assert_verifies(data.path());
}
