//! Push latency while sign-ins are hammered: the real server (in this
//! process, on a real socket) and 50 real client cores, each with its own
//! SQLite store on disk.
//!
//! `cargo run -p anfang-e2e --example signin_bench [-- PUSHES_PER_DEVICE]`
//!
//! Two phases in one run: 50 devices each push PUSHES_PER_DEVICE (default
//! 5) one-finding sync passes with the server otherwise idle, then the
//! same while 50 callers loop on `POST /api/v1/session` with wrong
//! passwords (25 for the real `admin`, 25 for usernames that do not
//! exist). Prints p50/p99/max of the sync passes and what the sign-ins were
//! answered. Figures, not pass/fail. Run in the dev profile (dependencies are
//! built at opt-level 2): release builds are too expensive on the shared
//! machine.
//!
//! The sign-in throttles are lifted for the run (every caller is on
//! 127.0.0.1, so the per-source budget would otherwise turn the flood into
//! cheap refusals within a second): the figure is what storage does while
//! Argon2 checks really run, i.e. the worst case a distributed attacker
//! within every budget could cause.

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding};
use anfang_core::sync::SyncEngine;
use anfang_core::{Card, Location, Store};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

mod bench_env;
use bench_env::{load, machine};

const DEVICES: usize = 50;
const CALLERS: usize = 50;

struct Phone {
    store: Store,
    token: String,
    _dir: tempfile::TempDir,
}

async fn enroll(url: &str, code: &str) -> anyhow::Result<Phone> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("device.sqlite3"))?;
    let enrolled = HttpTransport::enroll(
        url,
        &EnrollRequest { code: code.to_owned(), device_label: None, public_key: store.device_key()?.public_key_hex() },
    )
    .await?;
    store.save_enrollment(&Enrollment {
        server_url: url.to_owned(),
        device_id: enrolled.device_id.to_string(),
        token: enrolled.token.clone(),
        alias: enrolled.alias,
    })?;
    let transport = HttpTransport::new(url, &enrolled.token)?;
    SyncEngine::new(&mut store, &transport, &SystemClock).sync(&mut |_| {}).await?;
    Ok(Phone { store, token: enrolled.token, _dir: dir })
}

/// One finding recorded and pushed; the sync pass's wall time.
async fn push_one(url: &str, phone: &mut Phone, i: usize) -> anyhow::Result<Duration> {
    phone.store.record_finding(
        NewFinding {
            point_id: format!("P{:03}", 1 + i % 40),
            unit_id: None,
            category: "sanitation".into(),
            card: Card::Green,
            note: Some(format!("signin bench {i}")),
            location: Some(Location { lat: 31.21, lon: 107.47, accuracy_m: 6.0, captured_at: jiff::Timestamp::now() }),
            photos: vec![],
        },
        &SystemClock,
    )?;
    let transport = HttpTransport::new(url, &phone.token)?;
    let started = Instant::now();
    let report = SyncEngine::new(&mut phone.store, &transport, &SystemClock).sync(&mut |_| {}).await?;
    let took = started.elapsed();
    anyhow::ensure!(report.findings_pushed == 1 && report.interrupted.is_none(), "{report:?}");
    Ok(took)
}

/// One device on its own thread (its store is not Send), with its own
/// runtime, so that 50 devices do not queue behind one client thread and
/// the figure is the server's. Pushes `pushes` findings after each barrier.
fn device_thread(
    url: String,
    code: String,
    pushes: usize,
    barrier: Arc<Barrier>,
) -> std::thread::JoinHandle<anyhow::Result<[Vec<Duration>; 2]>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let phone = rt.block_on(enroll(&url, &code));
        barrier.wait();
        let mut phone = phone?;
        let mut out = [Vec::new(), Vec::new()];
        for (p, took) in out.iter_mut().enumerate() {
            if p > 0 {
                barrier.wait();
            }
            for i in 0..pushes {
                took.push(rt.block_on(push_one(&url, &mut phone, p * pushes + i))?);
            }
            barrier.wait();
        }
        Ok(out)
    })
}

fn summary(label: &str, mut took: Vec<Duration>) {
    took.sort();
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{label}: {} sync passes (one finding each), p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        took.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn main() -> anyhow::Result<()> {
    let pushes: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(5);
    let data = tempfile::tempdir()?;
    let mut state =
        anfang_server::AppState::open(anfang_server::Config::new(data.path())).map_err(|e| anyhow::anyhow!("{e}"))?;
    lift_throttles(&mut state);
    anfang_server::demo::load(&state.db).map_err(|e| anyhow::anyhow!("{e}"))?;
    let codes: Vec<String> = (0..DEVICES)
        .map(|i| {
            state
                .db
                .write_blocking(|c| anfang_server::db::accounts::add_inspector(c, &format!("压测{i:02}")))
                .map(|(_, code)| code)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect::<anyhow::Result<_>>()?;

    // The server gets its own runtime and threads, as it would in production.
    let server_rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    server_rt.spawn(anfang_server::serve(listener, state));

    // Devices (their stores are not Send) on one thread; the sign-in flood on
    // its own runtime, so the callers don't compete with the devices' thread.
    // The sign-in flood on its own runtime.
    let flood_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    println!("machine: {}; load average at start {}", machine(), load());
    println!("profile: dev (dependencies at opt-level 2, the server crate unoptimised)");
    let barrier = Arc::new(Barrier::new(DEVICES + 1));
    let devices: Vec<_> =
        codes.iter().map(|c| device_thread(url.clone(), c.clone(), pushes, barrier.clone())).collect();
    barrier.wait(); // all enrolled
    barrier.wait(); // idle phase done

    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<[AtomicUsize; 4]> = Arc::new(Default::default()); // 401, 429, 503, other
    let client = reqwest::Client::new();
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let (stop, answers, client, url) = (stop.clone(), answers.clone(), client.clone(), url.clone());
        callers.push(flood_rt.spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let username = if c % 2 == 0 { "admin".to_owned() } else { format!("nobody-{c}-{n}") };
                let res = client
                    .post(format!("{url}/api/v1/session"))
                    .json(&serde_json::json!({"username": username, "password": format!("wrong guess {n}")}))
                    .send()
                    .await;
                let slot = match res.map(|r| r.status().as_u16()) {
                    Ok(401) => 0,
                    Ok(429) => 1,
                    Ok(503) => 2,
                    _ => 3,
                };
                answers[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Let the flood build up before the first push.
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    barrier.wait(); // loaded phase starts
    barrier.wait(); // loaded phase done
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    flood_rt.block_on(async {
        for c in callers {
            let _ = c.await;
        }
    });
    let (mut idle, mut loaded) = (Vec::new(), Vec::new());
    for d in devices {
        let [i, l] = d.join().map_err(|_| anyhow::anyhow!("a device thread panicked"))??;
        idle.extend(i);
        loaded.extend(l);
    }
    summary("no sign-in load", idle);
    summary(&format!("{CALLERS} callers signing in with wrong passwords"), loaded);
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| answers[i].load(Ordering::Relaxed));
    println!(
        "sign-ins answered during the loaded phase and the 2 s before it ({:.0}/s): {a} × 401, {b} × 429, {c} × 503, {d} other",
        (a + b + c + d) as f64 / (secs + 2.0)
    );
    println!("load average at end {}", load());
    Ok(())
}

/// Every caller here is one source and within seconds would only get
/// cheap refusals; lift the failure budgets (not the password-check threads
/// or their queue) so the flood keeps Argon2 busy for the whole phase.
fn lift_throttles(state: &mut anfang_server::AppState) {
    use anfang_server::signin::{Limits, SignInGuard};
    let unlimited = Limits { per_account: u32::MAX, per_source: u32::MAX, global: u32::MAX, ..Limits::default() };
    state.sign_in_guard = SignInGuard::with_limits(unlimited);
}
