//! `anfang-load`: many simulated devices syncing a day's findings with
//! photos at once against a running server, through the core's own sync
//! engine and HTTP transport, so every request is the real, signed one a
//! phone sends (enrollment, reference pull, photo announce and chunks,
//! signed pushes, retries and backoff included).
//!
//! A run has three phases:
//! 1. **setup** (not measured as load): sign in as an office admin, add one
//!    inspector per device (`压测<run>-<n>`), enroll each device with its own
//!    SQLite store on disk, pull the reference data and record the day's
//!    findings with their photos, offline, as an inspector would;
//! 2. **load**: every device syncs at once (up to `concurrency` at a time);
//!    each request is timed, the server processes' CPU and memory sampled;
//! 3. **check**: every finding every device recorded is asked for by id
//!    through the office API; each must be there, and no device may hold an
//!    unsynced one.
//!
//! Bounded: at most [`MAX_DEVICES`] devices, [`MAX_FINDINGS`] findings per
//! device, [`MAX_PHOTOS`] photos per finding and [`MAX_DURATION`] of load,
//! and only against a server on this machine (a loopback address): the tool
//! adds inspectors and findings, so it is for a test installation only.

pub mod photos;
pub mod procstat;
mod timed;

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::photo::ProcessedPhoto;
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding};
use anfang_core::sync::{SyncEngine, SyncOptions};
use anfang_core::{Card, Location, Store};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use timed::{Outcome, Request};

pub const MAX_DEVICES: usize = 10_000;
pub const MAX_FINDINGS: usize = 200;
pub const MAX_PHOTOS: usize = 10;
pub const MAX_DURATION: Duration = Duration::from_secs(2 * 3600);
/// Distinct synthetic scenes the photos are variants of.
const BASE_PHOTOS: usize = 4;

#[derive(Debug, Clone)]
pub struct Options {
    /// The server's base URL; its host must be a loopback address.
    pub server: String,
    pub admin_username: String,
    pub admin_password: String,
    pub devices: usize,
    pub findings_per_device: usize,
    pub photos_per_finding: usize,
    /// Long edge of the camera photos before the pipeline (which keeps at
    /// most 2,048 px, as on the phone).
    pub photo_edge: u32,
    /// Devices syncing at the same moment (the rest wait for a slot).
    pub concurrency: usize,
    /// OS threads the devices run on (each a single-threaded runtime).
    pub threads: usize,
    /// The load phase stops here; a device not done by then counts as failed.
    pub max_duration: Duration,
    /// Where the devices' stores go (a temporary folder inside it, removed
    /// at the end); the system's temporary folder by default.
    pub work_dir: Option<PathBuf>,
    /// Processes to measure (label, pid), usually the server's.
    pub watch: Vec<(String, u32)>,
}

impl Options {
    pub fn check(&self) -> anyhow::Result<()> {
        check_loopback(&self.server)?;
        let bound = |what: &str, n: usize, max: usize| {
            if n == 0 || n > max {
                bail!("{what} must be between 1 and {max}, not {n}")
            }
            Ok(())
        };
        bound("--devices", self.devices, MAX_DEVICES)?;
        bound("--findings", self.findings_per_device, MAX_FINDINGS)?;
        bound("--photos", self.photos_per_finding, MAX_PHOTOS)?;
        bound("--concurrency", self.concurrency, MAX_DEVICES)?;
        bound("--threads", self.threads, 64)?;
        if self.max_duration.is_zero() || self.max_duration > MAX_DURATION {
            bail!("--max-duration must be between 1 s and {} s", MAX_DURATION.as_secs());
        }
        if !(320..=8192).contains(&self.photo_edge) {
            bail!("--photo-edge must be between 320 and 8192 pixels, not {}", self.photo_edge);
        }
        Ok(())
    }
}

/// Refuses any server that is not on this machine: `localhost`, 127.0.0.0/8
/// or `[::1]`, over http or https.
pub fn check_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .with_context(|| format!("server address {url:?} must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        bail!("server address {url:?} must not carry a user name or password");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!(
            "the load tool only runs against a server on this machine (localhost, 127.0.0.1 or [::1]), not {host:?}: \
             it adds inspectors and findings, so point it at a test installation started here"
        );
    }
    Ok(())
}

/// Latency figures of one kind of request, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub count: usize,
    /// Attempts that failed and were retried by the engine (no answer, 5xx, 429).
    pub retried: usize,
    /// Attempts the server refused for good (4xx).
    pub refused: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(samples: &[(Duration, Outcome)]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|(d, _)| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let q = |p: f64| if ms.is_empty() { 0.0 } else { ms[((ms.len() - 1) as f64 * p).round() as usize] };
        Latency {
            count: samples.len(),
            retried: samples.iter().filter(|(_, o)| matches!(o, Outcome::Network | Outcome::Server)).count(),
            refused: samples.iter().filter(|(_, o)| *o == Outcome::Refused).count(),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// What a run measured. Every count is observed, none assumed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub devices: usize,
    pub findings_per_device: usize,
    pub photos_per_finding: usize,
    pub mean_photo_bytes: u64,
    pub setup_s: f64,
    /// Wall time of the load phase: first sync started to last one ended.
    pub load_s: f64,
    pub findings_pushed: usize,
    /// Pushed before, answer lost, pushed again and recognised (not an error).
    pub findings_already_on_server: usize,
    pub findings_rejected: usize,
    pub photos_uploaded: usize,
    pub photo_bytes_sent: u64,
    pub findings_per_s: f64,
    pub photos_per_s: f64,
    pub megabytes_per_s: f64,
    /// Sync passes the network cut short, each followed by another (not an
    /// error: what a phone does on a bad connection).
    pub interrupted_passes: usize,
    /// One device's whole sync, start to end.
    pub device_sync: Latency,
    pub requests: BTreeMap<Request, Latency>,
    /// Devices whose sync ended in an error, or was cut short by the network,
    /// or was still running at `max_duration`, with the first reasons seen.
    pub devices_failed: usize,
    pub failures: Vec<String>,
    /// Findings recorded on the devices, and how many the server returned by id.
    pub findings_recorded: usize,
    pub findings_found_on_server: usize,
    /// Findings a device still holds as unsynced after the load.
    pub findings_unsynced: u64,
    pub processes: Vec<procstat::Usage>,
}

impl Report {
    /// Findings that did not arrive, devices that failed and requests
    /// refused: all must be 0 for a good run.
    pub fn errors(&self) -> usize {
        let refused: usize = self.requests.values().map(|l| l.refused).sum();
        (self.findings_recorded - self.findings_found_on_server)
            + self.devices_failed
            + self.findings_rejected
            + refused
            + self.findings_unsynced as usize
    }

    pub fn print(&self) {
        println!(
            "{} devices × {} findings × {} photos (mean photo {:.0} KB); setup {:.1} s",
            self.devices,
            self.findings_per_device,
            self.photos_per_finding,
            self.mean_photo_bytes as f64 / 1e3,
            self.setup_s
        );
        println!(
            "load: {:.1} s; {} findings pushed ({:.1}/s), {} photos ({:.1}/s, {:.1} MB/s); {} already on server; {} passes cut short and tried again",
            self.load_s,
            self.findings_pushed,
            self.findings_per_s,
            self.photos_uploaded,
            self.photos_per_s,
            self.megabytes_per_s,
            self.findings_already_on_server,
            self.interrupted_passes
        );
        println!(
            "{:<22} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "", "count", "retried", "refused", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let row = |name: &str, l: &Latency| {
            println!(
                "{name:<22} {:>8} {:>8} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                l.count, l.retried, l.refused, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            )
        };
        for (request, latency) in &self.requests {
            row(&format!("{request:?}"), latency);
        }
        row("whole device sync", &self.device_sync);
        for p in self.processes.iter().filter(|p| p.ended) {
            println!(
                "process {} (pid {}): ended during the run; peak RSS {:.0} MiB before",
                p.label, p.pid, p.peak_rss_mib
            );
        }
        for p in self.processes.iter().filter(|p| !p.ended) {
            println!(
                "process {} (pid {}): {:.1} CPU s, {:.2} cores on average, peak RSS {:.0} MiB",
                p.label, p.pid, p.cpu_s, p.cores, p.peak_rss_mib
            );
        }
        println!(
            "check: {} of {} findings found on the server by id; {} unsynced on devices; {} devices failed; {} rejected",
            self.findings_found_on_server,
            self.findings_recorded,
            self.findings_unsynced,
            self.devices_failed,
            self.findings_rejected
        );
        for f in &self.failures {
            println!("  failure: {f}");
        }
        println!("errors: {}", self.errors());
    }
}

struct Device {
    index: usize,
    code: String,
    path: PathBuf,
}

/// What one device's syncs in the load phase gave.
struct DeviceRun {
    /// From its first request to its last answer.
    elapsed: Duration,
    /// One per pass (more than one when the network cut a pass short).
    reports: Vec<anfang_core::SyncReport>,
    /// Why the device did not end with everything synced.
    failure: Option<String>,
}

/// Runs the whole load test (set up, load, check) and reports what it measured.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let fleet = Fleet::set_up(options)?;
    let load = fleet.load()?;
    fleet.check(load)
}

/// The devices, enrolled and holding their day's work, ready to sync.
/// It runs its own runtimes: use it from plain threads, not inside one.
pub struct Fleet {
    options: Options,
    server: String,
    office: Office,
    per_thread: Vec<Vec<Device>>,
    mean_photo_bytes: u64,
    setup_s: f64,
    /// Holds the devices' stores; removed when the fleet is dropped.
    _work: tempfile::TempDir,
}

/// What the load phase saw, before the check.
pub struct Load {
    outcomes: Vec<DeviceRun>,
    log: Vec<timed::Sample>,
    load_s: f64,
    processes: Vec<procstat::Usage>,
}

impl Fleet {
    /// Signs in, adds an inspector per device, enrolls the devices and has
    /// each record its day's findings (offline, in its own store).
    pub fn set_up(options: &Options) -> anyhow::Result<Fleet> {
        options.check()?;
        anfang_core::http::ensure_tls_provider();
        raise_open_file_limit();
        let server = options.server.trim_end_matches('/').to_owned();
        let work = match &options.work_dir {
            Some(dir) => tempfile::Builder::new().prefix("anfang-load-").tempdir_in(dir)?,
            None => tempfile::Builder::new().prefix("anfang-load-").tempdir()?,
        };
        let setup_started = Instant::now();
        let office = Office::sign_in(&server, &options.admin_username, &options.admin_password)?;
        let run_id = run_id();
        let codes = office.add_inspectors(&run_id, options.devices)?;
        let devices: Vec<Device> = codes
            .into_iter()
            .enumerate()
            .map(|(index, code)| Device { index, code, path: work.path().join(format!("device-{index:05}.sqlite3")) })
            .collect();
        let bases = Arc::new(photos::bases(options.photo_edge, BASE_PHOTOS)?);
        let total_photos = (options.devices * options.findings_per_device * options.photos_per_finding) as u64;
        let per_base = total_photos.div_ceil(BASE_PHOTOS as u64);
        // A different range of variants each run, so a second run against the
        // same server sends new photos rather than ones it already holds.
        let variant_offset = u64::from_str_radix(&run_id, 16).unwrap_or(0) % (photos::VARIANTS_PER_BASE - per_base);
        let per_thread = split(devices, options.threads);
        let failures: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = per_thread
                .iter()
                .map(|devices| {
                    let (server, bases) = (server.clone(), bases.clone());
                    scope.spawn(move || -> Vec<String> {
                        on_local_runtime(async move {
                            let mut failures = Vec::new();
                            for d in devices {
                                let photo = |g: u64| {
                                    let base = &bases[(g % BASE_PHOTOS as u64) as usize];
                                    photos::variant(base, variant_offset + g / BASE_PHOTOS as u64)
                                };
                                if let Err(e) = set_up(&server, d, options, &photo).await {
                                    failures.push(format!("device {}: setup: {e:#}", d.index));
                                }
                            }
                            failures
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|_| vec!["a setup thread panicked".into()]))
                .collect()
        });
        if !failures.is_empty() {
            bail!("setup failed, so no load was run: {}", failures.join("; "));
        }
        Ok(Fleet {
            options: options.clone(),
            server,
            office,
            per_thread,
            mean_photo_bytes: bases.iter().map(|b| b.jpeg.len() as u64).sum::<u64>() / bases.len() as u64,
            setup_s: setup_started.elapsed().as_secs_f64(),
            _work: work,
        })
    }

    /// Every device syncs at once (up to the concurrency), as phones do in
    /// the evening: a pass the network cut short is tried again after a
    /// second, as the app does, until the device holds nothing unsynced or
    /// the time is up. Each request is timed; the watched processes sampled.
    pub fn load(&self) -> anyhow::Result<Load> {
        let options = &self.options;
        let log: timed::Log = Arc::default();
        let slots_per_thread = options.concurrency.div_ceil(self.per_thread.len()).max(1);
        let mut watched = options.watch.clone();
        watched.push(("anfang-load".into(), std::process::id()));
        let start = Arc::new(std::sync::Barrier::new(self.per_thread.len() + 1));
        let (outcomes, load_s, processes) = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .per_thread
                .iter()
                .map(|devices| {
                    let (server, log, start) = (self.server.clone(), log.clone(), start.clone());
                    scope.spawn(move || -> Vec<DeviceRun> {
                        start.wait();
                        let deadline = tokio::time::Instant::now() + options.max_duration;
                        on_local_runtime(async move {
                            let slots = Arc::new(tokio::sync::Semaphore::new(slots_per_thread));
                            let tasks: Vec<_> = devices
                                .iter()
                                .map(|d| {
                                    let (server, log, slots) = (server.clone(), log.clone(), slots.clone());
                                    let path = d.path.clone();
                                    tokio::task::spawn_local(async move {
                                        let _slot = slots.acquire_owned().await;
                                        sync_until_done(&server, &path, log, deadline).await
                                    })
                                })
                                .collect();
                            let mut outcomes = Vec::new();
                            for task in tasks {
                                outcomes.push(task.await.unwrap_or_else(|e| DeviceRun {
                                    elapsed: Duration::ZERO,
                                    reports: vec![],
                                    failure: Some(format!("device task failed: {e}")),
                                }));
                            }
                            outcomes
                        })
                    })
                })
                .collect();
            let sampler = procstat::Sampler::start(watched, Duration::from_millis(200));
            start.wait();
            let started = Instant::now();
            let outcomes: Vec<DeviceRun> = handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect();
            (outcomes, started.elapsed().as_secs_f64(), sampler.finish())
        });
        let log = log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(Load { outcomes, log, load_s, processes })
    }

    /// Compares what the devices recorded with what the server returns by
    /// id, and puts the figures together.
    pub fn check(&self, load: Load) -> anyhow::Result<Report> {
        let mut recorded = Vec::new();
        let mut unsynced = 0;
        for d in self.per_thread.iter().flatten() {
            let store = Store::open(&d.path)?;
            unsynced += store.unsynced_count()?;
            recorded.extend(store.findings()?.into_iter().map(|f| f.content.id));
        }
        let found = self.office.count_findings(&recorded)?;

        let Load { outcomes, log, load_s, processes } = load;
        let mut by_request: BTreeMap<Request, Vec<(Duration, Outcome)>> = BTreeMap::new();
        for s in &log {
            by_request.entry(s.request).or_default().push((s.elapsed, s.outcome));
        }
        let reports: Vec<&anfang_core::SyncReport> = outcomes.iter().flat_map(|o| &o.reports).collect();
        let sum = |f: &dyn Fn(&anfang_core::SyncReport) -> usize| -> usize { reports.iter().map(|r| f(r)).sum() };
        let photo_bytes_sent: u64 = reports.iter().map(|r| r.photo_bytes_sent).sum();
        let findings_pushed = sum(&|r| r.findings_pushed);
        let photos_uploaded = sum(&|r| r.photos_uploaded);
        let failures: Vec<String> = outcomes.iter().filter_map(|o| o.failure.clone()).collect();
        let per_device: Vec<(Duration, Outcome)> = outcomes
            .iter()
            .map(|o| (o.elapsed, if o.failure.is_some() { Outcome::Network } else { Outcome::Ok }))
            .collect();
        let o = &self.options;
        Ok(Report {
            devices: o.devices,
            findings_per_device: o.findings_per_device,
            photos_per_finding: o.photos_per_finding,
            mean_photo_bytes: self.mean_photo_bytes,
            setup_s: self.setup_s,
            load_s,
            findings_pushed,
            findings_already_on_server: sum(&|r| r.findings_already_on_server),
            findings_rejected: sum(&|r| r.findings_rejected),
            photos_uploaded,
            photo_bytes_sent,
            findings_per_s: findings_pushed as f64 / load_s,
            photos_per_s: photos_uploaded as f64 / load_s,
            megabytes_per_s: photo_bytes_sent as f64 / 1e6 / load_s,
            interrupted_passes: reports.iter().filter(|r| r.interrupted.is_some()).count(),
            device_sync: Latency::of(&per_device),
            requests: by_request.iter().map(|(k, v)| (*k, Latency::of(v))).collect(),
            devices_failed: failures.len(),
            failures: failures.into_iter().take(10).collect(),
            findings_recorded: recorded.len(),
            findings_found_on_server: found,
            findings_unsynced: unsynced,
            processes,
        })
    }
}

/// Enrolls one device, pulls the reference data and records its day's
/// findings with photos, as an inspector would in the field (offline).
async fn set_up(
    server: &str,
    device: &Device,
    options: &Options,
    photo: &dyn Fn(u64) -> ProcessedPhoto,
) -> anyhow::Result<()> {
    let mut store = Store::open(&device.path)?;
    let enrolled = HttpTransport::enroll(
        server,
        &EnrollRequest {
            code: device.code.clone(),
            device_label: Some(format!("load device {}", device.index)),
            public_key: store.device_key()?.public_key_hex(),
        },
    )
    .await?;
    store.save_enrollment(&Enrollment {
        server_url: server.to_owned(),
        device_id: enrolled.device_id.to_string(),
        token: enrolled.token.clone(),
        alias: enrolled.alias,
    })?;
    let transport = HttpTransport::new(server, &enrolled.token)?;
    SyncEngine::new(&mut store, &transport, &SystemClock).sync(&mut |_| {}).await?;
    let points = store.points(None)?;
    let categories = store.categories()?;
    if points.is_empty() || categories.is_empty() {
        bail!("the server has no points or no categories to record findings at (load the demo city first)");
    }
    let (f_count, p_count) = (options.findings_per_device, options.photos_per_finding);
    for f in 0..f_count {
        let n = device.index * f_count + f;
        let point = &points[n % points.len()].point;
        let first = (n * p_count) as u64;
        store.record_finding(
            NewFinding {
                point_id: point.id.clone(),
                unit_id: None,
                category: categories[n % categories.len()].code.clone(),
                card: if n.is_multiple_of(5) { Card::Red } else { Card::Yellow },
                note: Some(format!("压测记录 {n}")),
                location: Some(Location {
                    lat: point.lat + 0.0001 * (f % 3) as f64,
                    lon: point.lon,
                    accuracy_m: 8.0,
                    captured_at: jiff::Timestamp::now(),
                }),
                photos: (first..first + p_count as u64).map(photo).collect(),
            },
            &SystemClock,
        )?;
    }
    Ok(())
}

/// One device syncing everything it holds, pass after pass while a pass
/// is cut short by the network (a killed or restarting server), one second
/// apart, until nothing is pending or `deadline`.
async fn sync_until_done(server: &str, path: &Path, log: timed::Log, deadline: tokio::time::Instant) -> DeviceRun {
    let started = Instant::now();
    let mut reports = Vec::new();
    let result: anyhow::Result<()> = async {
        let mut store = Store::open(path)?;
        let token = store.enrollment()?.context("device not enrolled")?.token;
        let transport = timed::Timed { inner: HttpTransport::new(server, &token)?, log };
        loop {
            let mut engine = SyncEngine::new(&mut store, &transport, &SystemClock)
                .with_options(SyncOptions { ignore_backoff: true, ..SyncOptions::default() });
            let report = match tokio::time::timeout_at(deadline, engine.sync(&mut |_| {})).await {
                Ok(report) => report?,
                Err(_) => bail!("still syncing when the load's time ran out"),
            };
            let again = report.interrupted.is_some() && report.pending > 0;
            let why = report.interrupted.clone();
            reports.push(report);
            if !again {
                return Ok(());
            }
            if tokio::time::Instant::now() + Duration::from_secs(1) >= deadline {
                bail!("the last pass was cut short ({}) and the load's time ran out", why.unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    .await;
    let failure = result.err().map(|e| format!("{e:#}")).or_else(|| {
        reports
            .last()
            .filter(|r| r.pending > 0)
            .map(|r| format!("{} findings still pending after the last pass", r.pending))
    });
    DeviceRun { elapsed: started.elapsed(), reports, failure }
}

/// The office side: an admin session on the same server.
struct Office {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    server: String,
    token: String,
}

impl Office {
    fn sign_in(server: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let token = runtime.block_on(async {
            let response = client
                .post(format!("{server}/api/v1/session"))
                .json(&serde_json::json!({"username": username, "password": password}))
                .send()
                .await
                .with_context(|| format!("no answer from {server}: is the server running?"))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("office sign-in as {username:?} refused ({status}): {}", body["message"]);
            }
            body["token"].as_str().map(str::to_owned).context("sign-in answer without a token")
        })?;
        Ok(Office { runtime, client, server: server.to_owned(), token })
    }

    /// Adds `count` inspectors named for this run; their enrollment codes.
    fn add_inspectors(&self, run_id: &str, count: usize) -> anyhow::Result<Vec<String>> {
        self.runtime.block_on(async {
            let mut codes = Vec::with_capacity(count);
            for n in 0..count {
                let alias = format!("压测{run_id}-{n:05}");
                let response = self
                    .client
                    .post(format!("{}/api/v1/inspectors", self.server))
                    .bearer_auth(&self.token)
                    .json(&serde_json::json!({"alias": alias}))
                    .send()
                    .await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if !status.is_success() {
                    bail!("adding inspector {alias} refused ({status}): {}", body["message"]);
                }
                codes.push(body["code"].as_str().context("no enrollment code in the answer")?.to_owned());
            }
            Ok(codes)
        })
    }

    /// How many of `ids` the server returns through `GET /api/v1/findings/{id}`.
    fn count_findings(&self, ids: &[uuid::Uuid]) -> anyhow::Result<usize> {
        self.runtime.block_on(async {
            let found = Arc::new(Mutex::new(0usize));
            let slots = Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                let (client, url, token) =
                    (self.client.clone(), format!("{}/api/v1/findings/{id}", self.server), self.token.clone());
                let (found, slots) = (found.clone(), slots.clone());
                tasks.spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    if is_on_server(&client, &url, &token).await {
                        *found.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
            Ok(*found.lock().unwrap_or_else(|p| p.into_inner()))
        })
    }
}

/// Lookups of one finding that got no answer (no connection, 5xx, 429)
/// are asked again this many times: a failure run may kill the instance
/// that was answering, and a question that went unanswered is not a
/// finding lost. 200 or 404 (any other 4xx) is the answer.
const LOOKUP_TRIES: u32 = 10;

async fn is_on_server(client: &reqwest::Client, url: &str, token: &str) -> bool {
    for attempt in 1..=LOOKUP_TRIES {
        match client.get(url).bearer_auth(token).send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) if r.status().is_client_error() && r.status() != reqwest::StatusCode::TOO_MANY_REQUESTS => {
                return false;
            }
            _ => tokio::time::sleep(Duration::from_millis(100) * attempt).await,
        }
    }
    false
}

fn on_local_runtime<F: std::future::Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    tokio::task::LocalSet::new().block_on(&runtime, future)
}

fn split<T>(items: Vec<T>, parts: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..parts.max(1)).map(|_| Vec::new()).collect();
    let n = out.len();
    for (i, item) in items.into_iter().enumerate() {
        out[i % n].push(item);
    }
    out.retain(|v| !v.is_empty());
    out
}

/// Six hex digits from the clock: names this run's inspectors and picks its
/// photo variants.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:06x}", (nanos ^ (nanos >> 24)) as u64 & 0xFF_FFFF)
}

/// Each device holds a SQLite file (and its WAL) open while it syncs, and a
/// connection: raise the soft limit on open files to the hard one.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit read and write only the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on a free port that drops the first connection for each
    /// path without a word (as an instance killed mid-request), then
    /// answers 200 for `/api/v1/findings/present` and 404 otherwise.
    fn flaky_office() -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut seen = std::collections::HashSet::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                if seen.insert(path.clone()) {
                    continue; // dropped: the connection closes unanswered
                }
                let status = if path == "/api/v1/findings/present" { "200 OK" } else { "404 Not Found" };
                let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
            }
        });
        url
    }

    #[test]
    fn a_lookup_that_got_no_answer_is_asked_again_and_only_an_answer_counts() {
        let url = flaky_office();
        anfang_core::http::ensure_tls_provider();
        let client = reqwest::Client::new();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            assert!(is_on_server(&client, &format!("{url}/api/v1/findings/present"), "t").await);
            assert!(!is_on_server(&client, &format!("{url}/api/v1/findings/absent"), "t").await);
            let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
            assert!(
                !is_on_server(&client, &format!("http://{nobody}/api/v1/findings/x"), "t").await,
                "no server, no finding"
            );
        });
    }

    #[test]
    fn only_servers_on_this_machine_are_loaded() {
        for ok in ["http://127.0.0.1:8080", "http://localhost:1/", "https://[::1]:8443/x", "http://127.3.4.5"] {
            check_loopback(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://10.0.0.5:8080",
            "https://anfang.example.gov.cn",
            "http://127.0.0.1.example.com",
            "http://user@127.0.0.1:8080@evil.example",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad} was let through");
        }
    }

    #[test]
    fn figures_are_bounded() {
        let good = Options {
            server: "http://127.0.0.1:1".into(),
            admin_username: "admin".into(),
            admin_password: "x".into(),
            devices: 1,
            findings_per_device: 1,
            photos_per_finding: 1,
            photo_edge: 2048,
            concurrency: 1,
            threads: 1,
            max_duration: Duration::from_secs(60),
            work_dir: None,
            watch: vec![],
        };
        good.check().unwrap();
        let too_many = Options { devices: MAX_DEVICES + 1, ..good.clone() };
        assert!(too_many.check().unwrap_err().to_string().contains("--devices"));
        let endless = Options { max_duration: MAX_DURATION * 2, ..good.clone() };
        assert!(endless.check().is_err());
        let none = Options { photos_per_finding: 0, ..good };
        assert!(none.check().is_err());
    }

    #[test]
    fn a_finding_missing_on_the_server_or_a_refused_request_is_an_error() {
        let latency =
            |refused| Latency { count: 3, retried: 1, refused, p50_ms: 1.0, p90_ms: 1.0, p99_ms: 1.0, max_ms: 1.0 };
        let good = Report {
            devices: 1,
            findings_per_device: 3,
            photos_per_finding: 1,
            mean_photo_bytes: 1,
            setup_s: 1.0,
            load_s: 1.0,
            findings_pushed: 3,
            findings_already_on_server: 0,
            findings_rejected: 0,
            photos_uploaded: 3,
            photo_bytes_sent: 3,
            findings_per_s: 3.0,
            photos_per_s: 3.0,
            megabytes_per_s: 0.0,
            interrupted_passes: 1,
            device_sync: latency(0),
            requests: BTreeMap::from([(Request::Push, latency(0))]),
            devices_failed: 0,
            failures: vec![],
            findings_recorded: 3,
            findings_found_on_server: 3,
            findings_unsynced: 0,
            processes: vec![],
        };
        // A retried request or a pass cut short and tried again is not one.
        assert_eq!(good.errors(), 0);
        assert_eq!(Report { findings_found_on_server: 2, ..good.clone() }.errors(), 1);
        assert_eq!(Report { findings_unsynced: 1, devices_failed: 1, ..good.clone() }.errors(), 2);
        assert_eq!(Report { requests: BTreeMap::from([(Request::Chunk, latency(2))]), ..good.clone() }.errors(), 2);
        assert_eq!(Report { findings_rejected: 1, ..good }.errors(), 1);
    }

    #[test]
    fn percentiles_come_from_the_samples() {
        let samples: Vec<_> = (1..=100).map(|ms| (Duration::from_millis(ms), Outcome::Ok)).collect();
        let l = Latency::of(&samples);
        assert_eq!((l.count, l.p50_ms.round(), l.p99_ms.round(), l.max_ms.round()), (100, 51.0, 99.0, 100.0));
    }
}
