//! Several `serve` processes over one installation (one SQLite file, one
//! photo folder), as real processes on real sockets: any of them answers
//! any request, an upload begun through one finishes through another, the
//! background jobs run on exactly one and move when it dies, and a fleet's
//! day arrives once through a real load balancer (HAProxy) while one of
//! the two is killed again and again.

mod common;

use anfang_core::Card;
use anfang_core::protocol::UPLOAD_CHUNK_BYTES;
use common::*;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The lease's lifetime the servers here run with (the default is 15 s).
const LEASE_SECS: &str = "1.5";
const LEASE: Duration = Duration::from_millis(1500);

/// As the README deploys them: behind HAProxy, which forwards the client's
/// address for the sign-in throttles.
const INSTANCE_ENV: [(&str, &str); 2] = [("ANFANG_LEASE_SECS", LEASE_SECS), ("ANFANG_TRUST_FORWARDED_FOR", "1")];

fn start_instance(data: &Path, demo: bool) -> Server {
    Server::start_with_env(data, "127.0.0.1:0", demo, &INSTANCE_ENV)
}

/// Who holds the background jobs' lease, read from the database as an
/// operator would (`sqlite3 anfang.sqlite3 'SELECT * FROM job_leases'`, or psql).
fn background_holder(data: &Path) -> Option<String> {
    with_database(data, |conn| {
        conn.query_row(
        "SELECT holder FROM job_leases WHERE job = 'background' AND expires_ms > CAST(unixepoch('subsec') * 1000 AS INTEGER)",
        [],
        |r| r.get(0),
    )
    .ok()
    })
}

/// The pid in a holder's name (`host/pid/suffix`).
fn holder_pid(holder: &str) -> Option<u32> {
    holder.split('/').nth(1)?.parse().ok()
}

/// Waits until the lease is held by the process `pid`; how long it took.
fn wait_for_holder(data: &Path, pid: u32, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let holder = background_holder(data);
        if holder.as_deref().and_then(holder_pid) == Some(pid) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "process {pid} did not take the lease within {within:?}; holder {holder:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn the_background_jobs_run_on_exactly_one_instance_and_move_when_it_dies() {
    let data = tempfile::tempdir().unwrap();
    let mut a = start_instance(data.path(), true);
    let b = start_instance(data.path(), false);
    wait_for_holder(data.path(), a.pid(), Duration::from_secs(10));

    // While the first renews, the second never takes the lease over.
    let watch_until = Instant::now() + LEASE * 3;
    while Instant::now() < watch_until {
        let holder = background_holder(data.path());
        assert_eq!(holder.as_deref().and_then(holder_pid), Some(a.pid()), "one holder throughout");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Killed without a word: the lease runs out and the second takes it.
    let (dead, b_pid) = (a.pid(), b.pid());
    a.kill();
    let moved = wait_for_holder(data.path(), b_pid, LEASE * 4);
    assert!(moved <= LEASE + LEASE / 3 + Duration::from_secs(1), "moved after {moved:?}");
    println!("after SIGKILL of {dead}, the lease moved to {b_pid} in {moved:?}");

    // A process that comes back does not take it back from a live holder.
    a.restart_with_env(&INSTANCE_ENV);
    std::thread::sleep(LEASE * 2);
    assert_eq!(background_holder(data.path()).as_deref().and_then(holder_pid), Some(b_pid));

    // A clean shutdown hands the lease over at once, not after it runs out.
    let a_pid = a.pid();
    sigterm(b_pid);
    let moved = wait_for_holder(data.path(), a_pid, LEASE * 4);
    assert!(moved < LEASE, "released on shutdown, so taken at the next try: {moved:?}");
    drop(b);
}

#[test]
fn an_upload_begun_through_one_instance_finishes_through_the_other() {
    let data = tempfile::tempdir().unwrap();
    let a = start_instance(data.path(), true);
    let b = start_instance(data.path(), false);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut device = Device::enroll(&a, 0).await;
        let photo = processed(7, 2400, 1800);
        assert!(photo.jpeg.len() > 2 * UPLOAD_CHUNK_BYTES, "spans several chunks: {}", photo.jpeg.len());
        let (sha, size) = (photo.sha256.clone(), photo.jpeg.len());
        let finding = device.record("P001", Card::Red, vec![photo.clone()]);

        // The first chunk through A, as if the phone then lost that instance.
        let client = reqwest::Client::new();
        let announced = device.post_json(&a, "/api/v1/uploads", &json!({"sha256": sha, "size": size})).await;
        assert_eq!(announced["offset"], 0, "{announced}");
        let sent = client
            .patch(format!("{}/api/v1/uploads/{sha}", a.url()))
            .bearer_auth(device.token())
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .body(photo.jpeg[..UPLOAD_CHUNK_BYTES].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);

        // B knows where the upload stands, and the phone's sync goes on there.
        let resumed = device.post_json(&b, "/api/v1/uploads", &json!({"sha256": sha, "size": size})).await;
        assert_eq!(resumed["offset"], UPLOAD_CHUNK_BYTES, "B resumes A's upload: {resumed}");
        let report = device.sync_via(&b.url(), fast()).await;
        assert!(report.interrupted.is_none(), "{report:?}");

        // Whole, once, and the same through either instance.
        let admin = a.admin_token().await;
        assert_eq!(
            b.photo_bytes(&admin, &sha).await,
            photo.jpeg,
            "a session from A works on B, and the photo is whole"
        );
        let found: Vec<_> =
            b.office_findings(&admin).await.into_iter().filter(|f| f["id"] == finding.id.to_string()).collect();
        assert_eq!(found.len(), 1, "the finding arrived once");
    });
}

/// The deployment's HAProxy configuration (`deploy/haproxy.cfg`, which the
/// README starts), with this test's ports in place of its own: the front
/// on `front`, and each server line once per backend instance.
fn haproxy_config(front: u16, backends: &[std::net::SocketAddr]) -> String {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/haproxy.cfg")).unwrap();
    let mut config = String::new();
    for line in template.lines() {
        if line.contains("127.0.0.1:8082") {
            continue;
        }
        if line.contains("server a 127.0.0.1:8081") {
            for (i, addr) in backends.iter().enumerate() {
                // Checked more often than in production: a test's instance dies every 400 ms.
                let line = line.replace("server a 127.0.0.1:8081", &format!("server s{i} {addr}"));
                config += &line.replace("inter 500ms", "inter 200ms");
                config.push('\n');
            }
            continue;
        }
        config += &line.replace("127.0.0.1:8080", &format!("127.0.0.1:{front}"));
        config.push('\n');
    }
    for addr in backends {
        assert_eq!(config.matches(&addr.to_string()).count(), 2, "both backends of the template list each instance");
    }
    assert!(config.contains(&format!("bind 127.0.0.1:{front}")), "{config}");
    config
}

/// HAProxy with the deployment's configuration in front of the given
/// instances, on a free port; killed on drop.
struct Balancer {
    child: std::process::Child,
    url: String,
    _config: tempfile::TempDir,
}

impl Balancer {
    fn start(backends: &[std::net::SocketAddr]) -> Balancer {
        let haproxy = which("haproxy").expect(
            "haproxy is not installed; ./scripts/test installs it (apt-get install haproxy), or install it yourself",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("haproxy.cfg"), haproxy_config(port, backends)).unwrap();
        let child = std::process::Command::new(haproxy)
            .args(["-db", "-q", "-f"])
            .arg(dir.path().join("haproxy.cfg"))
            .spawn()
            .expect("start haproxy");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "haproxy did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Balancer { child, url, _config: dir }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_fleets_day_arrives_once_through_a_balancer_while_one_of_two_instances_is_killed() {
    let data = tempfile::tempdir().unwrap();
    let mut a = start_instance(data.path(), true);
    let mut b = start_instance(data.path(), false);
    b.demo = a.demo.clone(); // the same installation, the same admin
    let balancer = Balancer::start(&[a.addr, b.addr]);
    // Through the balancer; not watched, as A's pid changes with every kill.
    let options = anfang_load::Options { server: balancer.url.clone(), watch: vec![], ..small_fleet(&a, 8, 10, 3) };
    let fleet = std::sync::Arc::new(anfang_load::Fleet::set_up(&options).unwrap());
    let loading = {
        let fleet = fleet.clone();
        std::thread::spawn(move || fleet.load())
    };
    let mut kills = 0;
    while !loading.is_finished() && kills < 8 {
        std::thread::sleep(Duration::from_millis(400));
        a.restart_with_env(&INSTANCE_ENV); // SIGKILL, then the same data dir and port
        kills += 1;
    }
    let load = loading.join().unwrap().unwrap();
    let report = fleet.check(load).unwrap();
    println!("{kills} kills of one instance; {:?}", report.requests);

    assert_eq!(report.errors(), 0, "{report:#?}");
    assert_eq!((report.findings_recorded, report.findings_found_on_server), (80, 80));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let on_server = rt.block_on(load_findings_on_server(&b));
    assert_eq!(on_server, 80, "each finding once");
    drop(balancer);
    a.kill();
    drop(b);
    assert_verifies(data.path());
}

/// Each instance counts sign-in failures in its own memory (no client
/// address is stored), so the balancer sends all sign-ins from one address
/// to one instance: a guesser behind it meets the lockout after five
/// failures, as against one server, and another address is not locked.
#[test]
fn a_guesser_behind_the_balancer_is_locked_out_after_five_failures_as_against_one_server() {
    let data = tempfile::tempdir().unwrap();
    let a = start_instance(data.path(), true);
    let b = start_instance(data.path(), false);
    let balancer = Balancer::start(&[a.addr, b.addr]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let from = |ip: [u8; 4]| reqwest::Client::builder().local_address(std::net::IpAddr::from(ip)).build().unwrap();
        let sign_in = |client: &reqwest::Client, password: &str| {
            client
                .post(format!("{}/api/v1/session", balancer.url))
                .json(&json!({"username": "admin", "password": password}))
                .send()
        };
        let guesser = from([127, 0, 0, 1]);
        let mut answers = Vec::new();
        for i in 0..8 {
            let answer = sign_in(&guesser, &format!("guess-{i}")).await.unwrap();
            let status = answer.status().as_u16();
            let body: serde_json::Value = answer.json().await.unwrap();
            answers.push((status, body["code"].as_str().unwrap_or_default().to_owned()));
        }
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "{answers:?}");
        assert_eq!(answers[5].1, "sign_in_locked");
        // The right password from the locked address is refused too ...
        assert_eq!(sign_in(&guesser, &a.demo.admin_password).await.unwrap().status(), 429);
        // ... and from another address it signs in.
        let office = from([127, 0, 0, 2]);
        assert_eq!(sign_in(&office, &a.demo.admin_password).await.unwrap().status(), 200);
    });
}
