//! The rectification loop at a year's scale.
//!
//! `cargo run --release -p anfang-e2e --example rectification_bench [-- FINDINGS]`
//!
//! Fills a real database file with FINDINGS (default 100,000) findings over
//! a year across the demo city plus 300 extra units (one point and one
//! contact each), reviewed as an office would, and the cases they open:
//! most closed, about a tenth still open with deadlines spread around
//! "now" (so some are due, some overdue), some answered; and three new,
//! not yet notified cases for each of the 300 units. Then times, with the
//! server's own code:
//! - the scheduler's pass over every open case before the digest hour
//!   (reminders, 催办, escalations due now), and a second pass (idempotent:
//!   nothing new to write);
//! - the evening digest for the 300 units (the pass at 18:00);
//! - a unit's portal list and the console's case queue (live, and overdue
//!   only), over the real server on a real socket, median of 5.
//!
//! Figures, not pass/fail. Rows are inserted with SQL: this measures the
//! loop, not ingest or review.

use rusqlite::params;
use std::time::Instant;

mod bench_env;
use bench_env::{Rng, load, machine, median};

fn local(s: &str) -> jiff::Timestamp {
    format!("{s}[Asia/Shanghai]").parse::<jiff::ZonedDateTime>().unwrap().timestamp()
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    anfang_core::http::ensure_tls_provider();
    let data = tempfile::tempdir()?;
    let now = local("2026-06-01T17:00");
    let hand = anfang_server::clock::ManualClock::new(now);
    let mut config = anfang_server::Config::new(data.path());
    config.clock = hand.clone().into();
    let tz = config.timezone.clone();
    let (state, creds) = bench_env::demo_city(config)?;
    println!("machine: {}; load average before: {}", machine(), load());

    let started = Instant::now();
    let db_path = data.path().join("anfang.sqlite3");
    let mut c = rusqlite::Connection::open(&db_path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = c.transaction()?;
    for u in 0..300 {
        tx.execute(
            "INSERT INTO units (id, name, district, active, version) VALUES (?1, ?2, '渝中区', 1, ?3)",
            params![format!("B{u:03}"), format!("基准单位{u:03}"), 1_000_000 + u],
        )?;
        tx.execute(
            "INSERT INTO points (id, name, kind, unit_id, lat, lon, address, district, active, version)
             VALUES (?1, ?2, 'street', ?3, 29.56, 106.55, '', '渝中区', 1, ?4)",
            params![format!("BP{u:03}"), format!("基准点位{u:03}"), format!("B{u:03}"), 2_000_000 + u],
        )?;
        tx.execute(
            "INSERT INTO unit_contacts (unit_id, name, role, email) VALUES (?1, '联系人', 'contact', ?2)",
            params![format!("B{u:03}"), format!("b{u:03}@example.cn")],
        )?;
    }
    let (device_id, inspector_id): (String, i64) =
        tx.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let points: Vec<(String, String)> = tx
        .prepare("SELECT id, unit_id FROM points ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let categories: Vec<String> =
        tx.prepare("SELECT code FROM categories")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let admin: i64 = tx.query_row("SELECT id FROM users WHERE username = 'admin'", [], |r| r.get(0))?;
    let year_ms = 365 * 86_400_000i64;
    let start = now.as_millisecond() - year_ms;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut cases = [0usize; 4]; // closed, open, answered, new
    {
        let mut ins = tx.prepare(bench_env::INSERT_FINDING)?;
        let mut review = tx.prepare(bench_env::INSERT_REVIEW)?;
        let mut case = tx.prepare(bench_env::INSERT_CASE)?;
        let mut seq = 0i64;
        let mut finding =
            |point: &str, unit: &str, card: &str, observed: i64, rng: &mut Rng| -> anyhow::Result<String> {
                seq += 1;
                let category = &categories[rng.below(categories.len() as u64) as usize];
                let id = uuid::Uuid::now_v7().to_string();
                let hash = anfang_core::domain::sha256_hex(id.as_bytes());
                ins.execute(params![id, seq, device_id, inspector_id, point, unit, category, card, observed, hash])?;
                let decided = jiff::Timestamp::from_millisecond(observed + 7_200_000)?.to_string();
                review.execute(params![id, category, unit, card, admin, decided])?;
                Ok(id)
            };
        for i in 0..n {
            let observed = start + (i as i64 * year_ms / n as i64);
            let (point, unit) = &points[rng.below(points.len() as u64) as usize];
            let card = match rng.below(10) {
                0 => "red",
                1..=4 => "yellow",
                _ => "green",
            };
            let id = finding(point, unit, card, observed, &mut rng)?;
            if card == "green" {
                continue;
            }
            let opened = observed + 7_200_000;
            let notified = opened + 3_600_000;
            let recent = now.as_millisecond() - observed < 30 * 86_400_000;
            // Recent cases are still running: deadlines spread a fortnight
            // either side of now; older ones are closed.
            let (st, deadline, answered, closed) = if recent && rng.below(4) > 0 {
                let deadline = now.as_millisecond() + (rng.below(28) as i64 - 14) * 86_400_000;
                if rng.below(3) == 0 {
                    cases[2] += 1;
                    ("answered", deadline, Some(deadline - 86_400_000), None)
                } else {
                    cases[1] += 1;
                    ("open", deadline, None, None)
                }
            } else {
                cases[0] += 1;
                let deadline = notified + 3 * 86_400_000;
                ("closed", deadline, Some(deadline - 3_600_000), Some(deadline))
            };
            case.execute(params![id, unit, card, st, inspector_id, opened, notified, deadline, answered, closed])?;
        }
        // Today's new cases: three per extra unit, not yet notified.
        for u in 0..300 {
            for _ in 0..3 {
                let (point, unit) = (format!("BP{u:03}"), format!("B{u:03}"));
                let observed = now.as_millisecond() - 6 * 3_600_000;
                let id = finding(&point, &unit, "yellow", observed, &mut rng)?;
                case.execute(params![
                    id,
                    unit,
                    "yellow",
                    "open",
                    inspector_id,
                    observed + 3_600_000,
                    None::<i64>,
                    None::<i64>,
                    None::<i64>,
                    None::<i64>
                ])?;
                cases[3] += 1;
            }
        }
    }
    tx.commit()?;
    let size = std::fs::metadata(&db_path)?.len();
    println!(
        "inserted {} findings and {} cases ({} closed, {} open, {} answered, {} new) in {:.1} s; database file {:.1} MB",
        n + 900,
        cases.iter().sum::<usize>(),
        cases[0],
        cases[1],
        cases[2],
        cases[3],
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let db = state.db.clone();
    let t = Instant::now();
    let first = rt.block_on(db.schedule_pass(now, tz.clone())).map_err(|e| anyhow::anyhow!("{e}"))?;
    let first_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let second = rt.block_on(db.schedule_pass(now, tz.clone())).map_err(|e| anyhow::anyhow!("{e}"))?;
    let second_s = t.elapsed().as_secs_f64();
    println!(
        "scheduler pass at 17:00 over {} open cases: {:.2} s ({} notices, {} events); again: {:.2} s ({} notices)",
        first.cases_seen, first_s, first.notices, first.events, second_s, second.notices
    );
    let evening = local("2026-06-01T18:00");
    hand.set(evening);
    let t = Instant::now();
    let digest = rt.block_on(db.schedule_pass(evening, tz.clone())).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "evening digest at 18:00: {:.2} s for {} units ({} cases notified, {} notices in the pass)",
        t.elapsed().as_secs_f64(),
        digest.digests,
        digest.notified,
        digest.notices
    );

    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    // The unit with the most cases.
    let busiest: String = c.query_row(
        "SELECT unit_id FROM rectification_cases GROUP BY unit_id ORDER BY count(*) DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    let unit_cases: i64 =
        c.query_row("SELECT count(*) FROM rectification_cases WHERE unit_id = ?1", [&busiest], |r| r.get(0))?;
    let b = busiest.clone();
    state
        .db
        .write_blocking(move |c| anfang_server::db::accounts::add_unit_user(c, "bench-unit", "bench-unit-password", &b))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    rt.spawn(anfang_server::serve(listener, state));
    let client = reqwest::Client::new();
    let sign_in = |user: &str, password: &str| -> anyhow::Result<String> {
        rt.block_on(async {
            let v: serde_json::Value = client
                .post(format!("{url}/api/v1/session"))
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await?
                .json()
                .await?;
            Ok(v["token"].as_str().unwrap_or_default().to_owned())
        })
    };
    let admin_token = sign_in(&creds.admin_username, &creds.admin_password)?;
    let unit_token = sign_in("bench-unit", "bench-unit-password")?;
    let timed = |path: &str, token: &str| -> anyhow::Result<(f64, usize)> {
        let mut times = Vec::new();
        let mut items = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let v: serde_json::Value = rt.block_on(async {
                let r = client.get(format!("{url}{path}")).bearer_auth(token).send().await?.error_for_status()?;
                anyhow::Ok(r.json().await?)
            })?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            items = v["items"].as_array().map(Vec::len).unwrap_or(0);
        }
        Ok((median(times), items))
    };
    let (ms, items) = timed("/api/v1/unit/cases", &unit_token)?;
    println!("unit portal list ({busiest}, {unit_cases} cases, {items} listed): {ms:.1} ms");
    let (ms, items) = timed("/api/v1/cases?state=live&limit=100", &admin_token)?;
    println!("console case queue, live, first 100 ({items} listed): {ms:.1} ms");
    let (ms, items) = timed("/api/v1/cases?overdue=true&limit=100", &admin_token)?;
    println!("console case queue, overdue, first 100 ({items} listed): {ms:.1} ms");
    println!("load average after: {}", load());
    Ok(())
}
