//! Shared harness: the real server binary on 127.0.0.1 with a fresh data dir,
//! a fault-injecting TCP proxy, and test photos.
//!
//! Readiness is read from the server's own "listening on" line, never waited
//! for with sleeps; every test gets its own ports and folders.
#![allow(dead_code)]

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::photo::{self, PhotoOptions, ProcessedPhoto};
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding};
use anfang_core::sync::{SyncEngine, SyncEvent, SyncOptions};
use anfang_core::{Card, Location, Store, SyncReport};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub mod child;
pub mod notify;
pub mod objects;
pub mod office;
pub mod postgres;

pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_e2e-server");
pub const CLI_BIN: &str = env!("CARGO_BIN_EXE_e2e-anfang");

/// Credentials the demo printed.
#[derive(Debug, Clone, Default)]
pub struct Demo {
    pub admin_password: String,
    pub codes: Vec<(String, String)>,
}

/// A running `anfang-server serve` process.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub demo: Demo,
}

impl Server {
    /// Starts a server with the demo city on a fresh data dir and a free port.
    pub fn start_demo(data_dir: &Path) -> Server {
        Self::start(data_dir, "127.0.0.1:0", true)
    }

    pub fn start(data_dir: &Path, listen: &str, demo: bool) -> Server {
        Self::start_with_env(data_dir, listen, demo, &[])
    }

    /// Like [`Server::start`], with extra environment (e.g. `ANFANG_TEST_NOW`).
    pub fn start_with_env(data_dir: &Path, listen: &str, demo: bool, env: &[(&str, &str)]) -> Server {
        Self::start_with_args(data_dir, listen, demo, env, &[])
    }

    /// Like [`Server::start_with_env`], with extra `serve` arguments.
    pub fn start_with_args(data_dir: &Path, listen: &str, demo: bool, env: &[(&str, &str)], args: &[&str]) -> Server {
        // The tests build their own reqwest clients for raw HTTP.
        anfang_core::http::ensure_tls_provider();
        let mut cmd = Command::new(SERVER_BIN);
        // A restarted server finds the background jobs' lease still held by
        // the process it replaced (killed, so never released) and takes it
        // when it runs out: 1 s here, not the 15 s default, so the tests
        // that restart and wait for the scheduler do not wait for the lease.
        cmd.env("ANFANG_LEASE_SECS", "1");
        cmd.envs(env.iter().copied());
        cmd.args(["serve", "--data-dir"]).arg(data_dir).args(["--listen", listen]);
        let explicit = args.windows(2).find(|w| w[0] == "--photos").map(|w| w[1].starts_with("s3://"));
        let in_store = explicit.unwrap_or_else(|| photos_in_store(data_dir).is_some());
        if let Some((arg, env)) = photos_in_store(data_dir).filter(|_| !args.contains(&"--photos")) {
            cmd.args(["--photos", &arg]).envs(env);
        }
        let in_postgres = args.contains(&"--database") || postgres::database_in_postgres();
        if let Some(url) = postgres::database_for(data_dir).filter(|_| !args.contains(&"--database")) {
            cmd.args(["--database", &url]);
        }
        if demo {
            cmd.arg("--demo");
        }
        cmd.args(args);
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut demo_creds = Demo::default();
        let mut said_where_photos_are = false;
        let mut said_postgres = false;
        let addr = loop {
            let line = lines.next().expect("the server exited before it listened").expect("read server output");
            if let Some(rest) = line.strip_prefix("office sign-in: username admin password ") {
                demo_creds.admin_password = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("inspector ") {
                if let Some((alias, code)) = rest.split_once(" enrollment code: ") {
                    demo_creds.codes.push((alias.to_owned(), code.trim().to_owned()));
                }
            } else if line.starts_with("photos are kept in s3://") {
                said_where_photos_are = true;
            } else if line.starts_with("the database is PostgreSQL") {
                said_postgres = true;
            } else if let Some(url) = line.strip_prefix("listening on http://") {
                // A run meant for the object store (PostgreSQL) must be on it.
                assert_eq!(said_where_photos_are, in_store, "the server says where its photos are kept");
                assert_eq!(said_postgres, in_postgres, "the server says where its database is");
                break url.trim().parse().expect("a socket address");
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child: Some(child), addr, data_dir: data_dir.to_owned(), demo: demo_creds }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server process's id, to read its memory figures from /proc.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// SIGKILL: no graceful shutdown, whatever was in flight is cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data dir and port.
    pub fn restart(&mut self) {
        self.kill();
        let demo = std::mem::take(&mut self.demo);
        // The port was ours a moment ago; SO_REUSEADDR lets us rebind it.
        let mut next = Server::start(&self.data_dir, &self.addr.to_string(), false);
        next.demo = demo;
        std::mem::swap(self, &mut next);
        drop(next); // the old, already killed process
    }

    /// Starts the server again on the same data dir and port, with extra
    /// environment (a later `ANFANG_TEST_NOW`: the server was down meanwhile).
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) {
        self.kill();
        let demo = std::mem::take(&mut self.demo);
        let mut next = Server::start_with_env(&self.data_dir, &self.addr.to_string(), false, env);
        next.demo = demo;
        std::mem::swap(self, &mut next);
        drop(next);
    }

    /// Signs in as the demo admin; returns a bearer token.
    pub async fn admin_token(&self) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/session", self.url()))
            .json(&serde_json::json!({"username": "admin", "password": self.demo.admin_password}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), 200, "admin sign-in");
        let body: serde_json::Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// GETs an API path as the demo admin; the answer must be 200 JSON.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let res = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(self.admin_token().await)
            .send()
            .await
            .expect("GET as admin");
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Every finding the office API lists (all pages).
    pub async fn office_findings(&self, token: &str) -> Vec<serde_json::Value> {
        let client = reqwest::Client::new();
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut req =
                client.get(format!("{}/api/v1/findings", self.url())).bearer_auth(token).query(&[("limit", "500")]);
            if let Some(n) = &next {
                req = req.query(&[("next", n)]);
            }
            let body: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
            items.extend(body["items"].as_array().unwrap().iter().cloned());
            match body["next"].as_str() {
                Some(n) => next = Some(n.to_owned()),
                None => return items,
            }
        }
    }

    pub async fn photo_bytes(&self, token: &str, sha: &str) -> Vec<u8> {
        let res = reqwest::Client::new()
            .get(format!("{}/api/v1/photos/{sha}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "photo {sha}");
        res.bytes().await.unwrap().to_vec()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device: its own store file in its own folder.
pub struct Device {
    pub store: Store,
    pub dir: tempfile::TempDir,
}

impl Device {
    /// Enrolls with the first demo code and pulls reference data.
    pub async fn enroll(server: &Server, code_index: usize) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("device.sqlite3")).unwrap();
        let code = server.demo.codes[code_index].1.clone();
        let public_key = store.device_key().unwrap().public_key_hex();
        let res = HttpTransport::enroll(
            &server.url(),
            &EnrollRequest { code, device_label: Some("test phone".into()), public_key },
        )
        .await
        .expect("enroll");
        store
            .save_enrollment(&Enrollment {
                server_url: server.url(),
                device_id: res.device_id.to_string(),
                token: res.token,
                alias: res.alias,
            })
            .unwrap();
        let mut device = Device { store, dir };
        let report = device.sync_via(&server.url(), fast()).await;
        assert!(report.interrupted.is_none(), "first pull: {report:?}");
        device
    }

    /// POSTs JSON to the server as this device; returns the JSON answer.
    pub async fn post_json(&self, server: &Server, path: &str, body: &serde_json::Value) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}{path}", server.url()))
            .bearer_auth(self.token())
            .json(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn token(&self) -> String {
        self.store.enrollment().unwrap().unwrap().token
    }

    /// Records a finding at a point with the given photos.
    pub fn record(&mut self, point: &str, card: Card, photos: Vec<ProcessedPhoto>) -> anfang_core::FindingContent {
        self.record_with_note(point, card, photos, "人行道上停了三辆车")
    }

    /// Records a finding with this note.
    pub fn record_with_note(
        &mut self,
        point: &str,
        card: Card,
        photos: Vec<ProcessedPhoto>,
        note: &str,
    ) -> anfang_core::FindingContent {
        let p = self.store.point(point).unwrap().expect("demo point");
        self.store
            .record_finding(
                NewFinding {
                    point_id: point.into(),
                    unit_id: None,
                    category: "parking".into(),
                    card,
                    note: Some(note.into()),
                    location: Some(Location {
                        lat: p.lat + 0.0001,
                        lon: p.lon,
                        accuracy_m: 7.5,
                        captured_at: jiff::Timestamp::now(),
                    }),
                    photos,
                },
                &SystemClock,
            )
            .expect("record")
    }

    /// One sync pass against `url` (the server or a proxy in front of it).
    pub async fn sync_via(&mut self, url: &str, options: SyncOptions) -> SyncReport {
        self.sync_with_events(url, options, &mut |_| {}).await
    }

    pub async fn sync_with_events(
        &mut self,
        url: &str,
        options: SyncOptions,
        on_event: &mut dyn FnMut(SyncEvent),
    ) -> SyncReport {
        let token = self.token();
        let transport = HttpTransport::new(url, &token).unwrap();
        SyncEngine::new(&mut self.store, &transport, &SystemClock)
            .with_options(options)
            .sync(on_event)
            .await
            .expect("sync runs")
    }
}

/// Sync options for tests: quick retries, so a dead server fails fast.
pub fn fast() -> SyncOptions {
    SyncOptions { max_retries: 1, base_backoff: Duration::from_millis(20), ..SyncOptions::default() }
}

/// A phone-like photo: noisy, so its JPEG is large enough to span several
/// upload chunks. `seed` makes each one different.
pub fn camera_jpeg(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state & 0x3f) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).wrapping_add(noise),
            ((y * 255 / height) as u8).wrapping_add(noise / 2),
            (seed as u8).wrapping_mul(40).wrapping_add(noise),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
    out
}

/// A processed photo ready to attach to a finding.
pub fn processed(seed: u32, width: u32, height: u32) -> ProcessedPhoto {
    photo::process(&camera_jpeg(seed, width, height), &PhotoOptions::default()).expect("process test photo")
}

/// A TCP proxy that can cut connections after a byte budget and count
/// what passes upstream (client → server).
pub struct Proxy {
    pub addr: SocketAddr,
    /// Client→server bytes forwarded so far.
    pub upstream_bytes: Arc<AtomicU64>,
    /// When set, every connection is closed once this many more upstream
    /// bytes have passed (then the budget is used up: new connections are
    /// refused until `heal`).
    cut_after: Arc<AtomicU64>,
    cutting: Arc<AtomicBool>,
    broken: Arc<AtomicBool>,
    /// When set, the server's answers are swallowed and the connection closed:
    /// the server did the work, the client never hears of it.
    mute: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Proxy {
            addr,
            upstream_bytes: Arc::new(AtomicU64::new(0)),
            cut_after: Arc::new(AtomicU64::new(u64::MAX)),
            cutting: Arc::new(AtomicBool::new(false)),
            broken: Arc::new(AtomicBool::new(false)),
            mute: Arc::new(AtomicBool::new(false)),
        };
        let (up, cut, cutting, broken, mute) = (
            proxy.upstream_bytes.clone(),
            proxy.cut_after.clone(),
            proxy.cutting.clone(),
            proxy.broken.clone(),
            proxy.mute.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                if broken.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (up, cut, cutting, broken, mute) =
                    (up.clone(), cut.clone(), cutting.clone(), broken.clone(), mute.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(target).await else { return };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let upstream = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            let mut n = n;
                            if cutting.load(Ordering::SeqCst) {
                                let left = cut.load(Ordering::SeqCst);
                                if (n as u64) >= left {
                                    n = left as usize;
                                    let _ = sw.write_all(&buf[..n]).await;
                                    up.fetch_add(n as u64, Ordering::SeqCst);
                                    cut.store(0, Ordering::SeqCst);
                                    broken.store(true, Ordering::SeqCst);
                                    return;
                                }
                                cut.fetch_sub(n as u64, Ordering::SeqCst);
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                            up.fetch_add(n as u64, Ordering::SeqCst);
                        }
                    };
                    let downstream = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if mute.load(Ordering::SeqCst) {
                                return;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    // Whichever side ends first ends the connection.
                    tokio::select! { _ = upstream => {}, _ = downstream => {} }
                });
            }
        });
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut the connection once `bytes` more upstream bytes have passed, and
    /// refuse connections after that until [`heal`](Self::heal).
    pub fn cut_after(&self, bytes: u64) {
        self.cut_after.store(bytes, Ordering::SeqCst);
        self.cutting.store(true, Ordering::SeqCst);
    }

    /// Swallow every answer from now on (see [`heal`](Self::heal)).
    pub fn mute_answers(&self) {
        self.mute.store(true, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.mute.store(false, Ordering::SeqCst);
        self.cutting.store(false, Ordering::SeqCst);
        self.broken.store(false, Ordering::SeqCst);
        self.cut_after.store(u64::MAX, Ordering::SeqCst);
    }

    pub fn upstream(&self) -> u64 {
        self.upstream_bytes.load(Ordering::SeqCst)
    }
}

/// Runs the CLI binary with `--home`; returns (exit code, stdout, stderr).
pub fn cli(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(CLI_BIN).arg("--home").arg(home).args(args).env("RUST_LOG", "warn").output().expect("run the CLI");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    anfang_core::domain::sha256_hex(bytes)
}

/// Now in the office's time zone (Asia/Shanghai), the zone the server dates
/// findings, bulletins and draws in.
pub fn office_now() -> jiff::civil::DateTime {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap().to_datetime(jiff::Timestamp::now())
}

/// Today's office date, `YYYY-MM-DD`.
pub fn office_today() -> String {
    office_now().date().to_string()
}

/// Runs `anfang-server verify` on a data dir (the server stopped); returns
/// (exit code, stdout and stderr together).
pub fn verify(data: &Path) -> (i32, String) {
    let mut cmd = Command::new(SERVER_BIN);
    cmd.args(["verify", "--data-dir"]).arg(data);
    if let Some((arg, env)) = photos_in_store(data) {
        cmd.args(["--photos", &arg]).envs(env);
    }
    if let Some(url) = postgres::database_for(data) {
        cmd.args(["--database", &url]);
    }
    let out = cmd.output().expect("run verify");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `verify` passes on the data dir.
pub fn assert_verifies(data: &Path) {
    let (code, out) = verify(data);
    assert_eq!(code, 0, "verify: {out}");
}

/// A small fleet for the load tool against `server`, every device at once,
/// the server's process watched.
pub fn small_fleet(server: &Server, devices: usize, findings: usize, photos: usize) -> anfang_load::Options {
    anfang_load::Options {
        server: server.url(),
        admin_username: "admin".into(),
        admin_password: server.demo.admin_password.clone(),
        devices,
        findings_per_device: findings,
        photos_per_finding: photos,
        photo_edge: 800,
        concurrency: devices,
        threads: 2,
        max_duration: Duration::from_secs(300),
        work_dir: None,
        watch: vec![("server".into(), server.pid())],
    }
}

/// The findings the office sees on `server` whose note the load tool wrote.
pub async fn load_findings_on_server(server: &Server) -> usize {
    let token = server.admin_token().await;
    server
        .office_findings(&token)
        .await
        .iter()
        .filter(|f| f["note"].as_str().is_some_and(|n| n.starts_with("压测记录")))
        .count()
}

/// Runs `f` on the database of the servers on `data_dir`, as an insider
/// with its file (or its PostgreSQL role) would: the SQLite file, or with
/// `ANFANG_TEST_DATABASE=postgres` their PostgreSQL database, behind the
/// server's own SQL interface, so a test's query runs on either. On a
/// thread of its own: the blocking PostgreSQL client refuses to run on an
/// async test's thread.
pub fn with_database<T: Send>(data_dir: &Path, f: impl FnOnce(&anfang_server::db::sql::Connection) -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| f(&database(data_dir))).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn database(data_dir: &Path) -> anfang_server::db::sql::Connection {
    use anfang_server::db::sql::Connection;
    match postgres::database_for(data_dir) {
        Some(url) => Connection::connect_postgres(&url.parse().expect("a PostgreSQL URL"), true).expect("connect"),
        None => {
            let file = rusqlite::Connection::open(data_dir.join("anfang.sqlite3")).unwrap();
            // Servers write beside the test: wait for their write lock.
            file.busy_timeout(Duration::from_secs(5)).unwrap();
            Connection::from_sqlite(file)
        }
    }
}

/// With `ANFANG_TEST_PHOTOS=s3`: the `--photos` of the servers on
/// `data_dir` and the environment with their key. The prefix comes from the
/// data dir, so a restarted server, a second instance and `verify` all find
/// the same photos.
pub fn photos_in_store(data_dir: &Path) -> Option<(String, [(&'static str, String); 2])> {
    if !objects::photos_in_s3() {
        return None;
    }
    let node = objects::Garage::shared();
    let prefix = sha256_hex(data_dir.as_os_str().as_encoded_bytes())[..16].to_owned();
    Some((node.photos_arg(&prefix), node.env()))
}

/// Where `program` is on `PATH`, if it is.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}
