//! The monthly point league for a city of 1,000 points.
//!
//! `cargo run --release -p anfang-e2e --example league_bench [-- POINTS FINDINGS]`
//!
//! Fills a real database with POINTS (default 1,000) points across 100
//! units and FINDINGS (default 10,000) reviewed findings in last month with
//! their cases (most closed on time, some late, some still overdue, a tenth
//! green), and as many the month before (so the report has its movement),
//! then times with the server's own code: the month computed live
//! (`app::league::month`, what the console and the API show before issue),
//! issuing it (computed again, hashed, logged), and the issued report as
//! HTML, DOCX and JSON over the real server on a real socket; median of 5.
//! Rows are inserted with SQL: this measures the league, not ingest.
//! `LEAGUE_BENCH_KEEP=DIR` fills DIR instead of a temporary folder and
//! leaves it, to serve with `anfang-server serve --data-dir DIR` and look at.

use rusqlite::params;
use std::time::Instant;

mod bench_env;
use bench_env::{Rng, load, machine, median};

fn main() -> anyhow::Result<()> {
    let n_points: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let n_findings: usize = std::env::args().nth(2).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    anfang_core::http::ensure_tls_provider();
    let data = tempfile::tempdir()?;
    let keep = std::env::var_os("LEAGUE_BENCH_KEEP").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| data.path().to_owned());
    let config = anfang_server::Config::new(&dir);
    let tz = config.timezone.clone();
    let (state, creds) = bench_env::demo_city(config)?;
    println!("machine: {}; load average before: {}", machine(), load());

    let now = jiff::Timestamp::now();
    let first = tz.to_datetime(now).date().first_of_month();
    let last_month = first.checked_sub(jiff::Span::new().months(1))?;
    let month = format!("{:04}-{:02}", last_month.year(), last_month.month());
    let from = last_month.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond();
    let to = first.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond();
    let prev_first = last_month.checked_sub(jiff::Span::new().months(1))?;
    let prev_from = prev_first.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond();

    let t = Instant::now();
    let mut c = rusqlite::Connection::open(dir.join("anfang.sqlite3"))?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = c.transaction()?;
    let (device_id, inspector_id): (String, i64) =
        tx.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let admin: i64 = tx.query_row("SELECT id FROM users WHERE username = 'admin'", [], |r| r.get(0))?;
    let categories: Vec<String> =
        tx.prepare("SELECT code FROM categories")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for u in 0..100 {
        tx.execute(
            "INSERT INTO units (id, name, district, active, version) VALUES (?1, ?2, '渝中区', 1, ?3)",
            params![format!("L{u:03}"), format!("月评单位{u:03}"), 3_000_000 + u],
        )?;
    }
    let kinds = ["street", "market", "school", "community", "station"];
    let mut points = Vec::new();
    for p in 0..n_points {
        let id = format!("LP{p:04}");
        tx.execute(
            "INSERT INTO points (id, name, kind, unit_id, lat, lon, address, district, active, version, leader)
             VALUES (?1, ?2, ?3, ?4, 29.56, 106.55, '', '渝中区', 1, ?5, ?6)",
            params![
                id,
                format!("月评点位{p:04}"),
                kinds[p % kinds.len()],
                format!("L{:03}", p % 100),
                4_000_000 + p as i64,
                format!("点长{:03}", p % 300)
            ],
        )?;
        points.push((id, format!("L{:03}", p % 100)));
    }
    let mut rng = Rng(0x001e_a90e_1000);
    {
        let mut finding = tx.prepare(bench_env::INSERT_FINDING)?;
        let mut review = tx.prepare(bench_env::INSERT_REVIEW)?;
        let mut case = tx.prepare(bench_env::INSERT_CASE)?;
        // The month before first, then the month itself (seq follows time).
        for i in 0..2 * n_findings {
            let (lo, hi, k) = if i < n_findings { (prev_from, from, i) } else { (from, to, i - n_findings) };
            let observed = lo + (k as i64 * (hi - lo - 3_600_000) / n_findings as i64);
            let (point, unit) = &points[rng.below(points.len() as u64) as usize];
            let category = &categories[rng.below(categories.len() as u64) as usize];
            let card = match rng.below(10) {
                0 => "green",
                1..=3 => "red",
                _ => "yellow",
            };
            let id = uuid::Uuid::now_v7().to_string();
            let hash = anfang_core::domain::sha256_hex(id.as_bytes());
            finding.execute(params![
                id,
                i as i64 + 1,
                device_id,
                inspector_id,
                point,
                unit,
                category,
                card,
                observed,
                hash
            ])?;
            let decided = jiff::Timestamp::from_millisecond(observed + 3_600_000)?.to_string();
            review.execute(params![id, category, unit, card, admin, decided])?;
            if card == "green" {
                continue;
            }
            let opened = observed + 3_600_000;
            let deadline = opened + 3 * 86_400_000;
            let (st, closed) = match rng.below(10) {
                0 => ("open", None),                          // still overdue
                1 => ("closed", Some(deadline + 86_400_000)), // late
                _ => ("closed", Some(deadline - 3_600_000)),  // on time
            };
            case.execute(params![id, unit, card, st, inspector_id, opened, opened, deadline, closed, closed])?;
        }
    }
    tx.commit()?;
    println!(
        "filled {n_points} points, {n_findings} findings of {month} (and as many the month before) and their cases in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    // Where the time goes: reading the month's facts, and scoring them.
    let q = anfang_server::db::league::MonthQuery {
        month: month.clone(),
        bounds: (from, to),
        previous: format!("{:04}-{:02}", prev_first.year(), prev_first.month()),
        previous_bounds: (prev_from, from),
        months_before: Vec::new(),
    };
    let t = Instant::now();
    let inputs = rt.block_on(state.db.league_inputs(q)).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{:<40} {:>8.1} ms", "  of which: reading the facts", t.elapsed().as_secs_f64() * 1000.0);
    let t = Instant::now();
    let built = anfang_server::app::league::build(&month, &inputs);
    println!(
        "{:<40} {:>8.1} ms  ({} points)",
        "  of which: scoring and ranking",
        t.elapsed().as_secs_f64() * 1000.0,
        built.points.len()
    );
    let mut times = Vec::new();
    let mut ranked = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let view = rt
            .block_on(anfang_server::app::league::month(&state.db, &tz, &month))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        ranked = view.result.points.len();
    }
    println!("{:<40} {:>8.1} ms  ({ranked} points ranked)", "league computed live (median of 5)", median(times));
    let caller = anfang_server::auth::OfficeCaller {
        user_id: admin,
        username: "admin".into(),
        role: anfang_server::auth::Role::Admin,
        unit_id: None,
    };
    let t = Instant::now();
    let issued = rt
        .block_on(anfang_server::app::league::issue(&state.db, &tz, &caller, &month, now))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{:<40} {:>8.1} ms  (hash {})",
        "issue (compute, hash, log)",
        t.elapsed().as_secs_f64() * 1000.0,
        &issued.result_hash[..12]
    );

    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    rt.spawn(anfang_server::serve(listener, state));
    let client = reqwest::Client::new();
    let token = rt.block_on(async {
        let v: serde_json::Value = client
            .post(format!("{url}/api/v1/session"))
            .json(&serde_json::json!({"username": creds.admin_username, "password": creds.admin_password}))
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(v["token"].as_str().unwrap_or_default().to_owned())
    })?;
    for path in [
        format!("/api/v1/league/{month}"),
        format!("/api/v1/league/{month}/league.html"),
        format!("/api/v1/league/{month}/league.docx"),
        format!("/api/v1/league/{month}/league.json"),
        format!("/api/v1/league/{month}/reproduce"),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let body = rt.block_on(async {
                let r = client.get(format!("{url}{path}")).bearer_auth(&token).send().await?.error_for_status()?;
                anyhow::Ok(r.bytes().await?)
            })?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes = body.len();
        }
        println!("{path:<40} {:>8.1} ms  {:>8.1} KB", median(times), bytes as f64 / 1024.0);
    }
    println!("load average after: {}", load());
    if let Some(k) = keep {
        println!("kept {} (admin password {})", k.display(), creds.admin_password);
    }
    Ok(())
}
