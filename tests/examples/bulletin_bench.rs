//! Bulletin compile and render times on a year of findings.
//!
//! `cargo run --release -p anfang-e2e --example bulletin_bench [-- FINDINGS]`
//!
//! Fills a real database file with FINDINGS (default 100,000) findings spread
//! over 2025 across the demo city's 40 points, reviewed as an office would
//! (about 88% accepted, 4% corrected, 4% rejected, 4% pending), and 50
//! distinct photos on problem findings of the benchmark month (2025-10).
//! Then, through the real server on a real socket, times: compiling the
//! monthly draft (POST, JSON stored), fetching its JSON and HTML, and the
//! DOCX with the 50 embedded photos. Median of 5 runs each. Figures, not
//! pass/fail. The findings are inserted with SQL rather than synced: this
//! measures the bulletin, not ingest (see sync_bench for that).
//!
//! With `ANFANG_BENCH_DATABASE=postgres://USER@HOST:PORT/DB` (an empty
//! database) the filled file is then copied there as `migrate
//! --to-database` copies it (timed), and the server runs on PostgreSQL for
//! the same measurements.

use anfang_core::photo::{self, PhotoOptions};
use rusqlite::params;
use std::time::Instant;

mod bench_env;
use bench_env::{Rng, load, machine, median};

fn photo_jpeg(seed: u32) -> Vec<u8> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        image::Rgb([
            (x / 7) as u8 ^ (s as u8 & 15),
            (y / 5) as u8,
            (seed as u8).wrapping_mul(37).wrapping_add(s as u8 & 7),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    anfang_core::http::ensure_tls_provider();
    let data = tempfile::tempdir()?;
    let (state, creds) = bench_env::demo_city(anfang_server::Config::new(data.path()))?;
    println!("machine: {}; load average before: {}", machine(), load());

    // 50 photos, filed the way uploads file them.
    let started = Instant::now();
    let mut photos = Vec::new();
    for i in 0..50u32 {
        let p = photo::process(&photo_jpeg(i), &PhotoOptions::default())?;
        bench_env::file_photo(&state, &p)?;
        photos.push(p);
    }
    println!("made 50 photos in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let db_path = data.path().join("anfang.sqlite3");
    let mut c = rusqlite::Connection::open(&db_path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = c.transaction()?;
    let (device_id, inspector_id): (String, i64) =
        tx.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let points: Vec<(String, String, f64, f64)> = tx
        .prepare("SELECT id, unit_id, lat, lon FROM points ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let units: Vec<String> =
        tx.prepare("SELECT id FROM units")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let categories: Vec<String> =
        tx.prepare("SELECT code FROM categories")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let admin: i64 = tx.query_row("SELECT id FROM users WHERE username = 'admin'", [], |r| r.get(0))?;
    for p in &photos {
        tx.execute(bench_env::INSERT_PHOTO, params![p.sha256, p.jpeg.len() as i64, p.width, p.height])?;
    }
    let year_start = jiff::Timestamp::from_second(1_735_660_800)?.as_millisecond(); // 2025-01-01T00:00+08:00
    let year_ms = 365 * 86_400_000i64;
    let (month_start, month_end) = (1_759_248_000_000i64, 1_761_926_400_000i64); // 2025-10-01..11-01 +08:00
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut photos_left = photos.iter();
    {
        let mut ins = tx.prepare(bench_env::INSERT_FINDING_AT)?;
        let mut review = tx.prepare(
            "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason, reviewer_id, decided_at)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        let mut attach = tx.prepare(bench_env::ATTACH_PHOTO)?;
        for i in 0..n {
            let observed = year_start + (i as i64 * year_ms / n as i64) + rng.below(3_600_000) as i64;
            let (point, unit, lat, lon) = &points[rng.below(points.len() as u64) as usize];
            let card = match rng.below(10) {
                0 => "red",
                1..=4 => "yellow",
                _ => "green",
            };
            let category = &categories[rng.below(categories.len() as u64) as usize];
            let id = uuid::Uuid::now_v7().to_string();
            let hash = anfang_core::domain::sha256_hex(id.as_bytes());
            ins.execute(params![
                id,
                i as i64 + 1,
                device_id,
                inspector_id,
                point,
                unit,
                category,
                card,
                "占道经营，人行道堆放杂物",
                observed,
                lat,
                lon,
                hash
            ])?;
            let decided = jiff::Timestamp::from_millisecond(observed + 7_200_000)?.to_string();
            let verdict = rng.below(25);
            // The 50 photos go to accepted problem findings of the month, so
            // the monthly bulletin embeds exactly 50.
            if card != "green"
                && verdict > 2
                && (month_start..month_end).contains(&observed)
                && let Some(p) = photos_left.next()
            {
                attach.execute(params![id, p.sha256])?;
            }
            match verdict {
                0 => {}
                1 => {
                    review.execute(params![id, "reject", category, unit, card, "不属于督查范围", admin, decided])?;
                }
                2 => {
                    let other = &units[rng.below(units.len() as u64) as usize];
                    review.execute(params![id, "correct", category, other, card, "责任单位更正", admin, decided])?;
                }
                _ => {
                    review.execute(params![
                        id,
                        "accept",
                        category,
                        unit,
                        card,
                        Option::<String>::None,
                        admin,
                        decided
                    ])?;
                }
            }
        }
    }
    tx.commit()?;
    let size = std::fs::metadata(&db_path)?.len();
    println!(
        "inserted {n} findings over 2025 in {:.1} s; database file {:.1} MB",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );

    let state = match std::env::var("ANFANG_BENCH_DATABASE") {
        Ok(url) => {
            drop(state);
            let started = Instant::now();
            let copied =
                anfang_server::db::copy::sqlite_into_postgres(&db_path, &url).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "copied {} rows into {} in {:.1} s (migrate --to-database); the server runs on PostgreSQL",
                copied.rows(),
                anfang_server::db::describe_postgres(&url),
                started.elapsed().as_secs_f64()
            );
            let mut config = anfang_server::Config::new(data.path());
            config.database = Some(url);
            anfang_server::AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        Err(_) => state,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    rt.spawn(anfang_server::serve(listener, state));
    let client = reqwest::Client::new();
    let token: String = rt.block_on(async {
        let v: serde_json::Value = client
            .post(format!("{url}/api/v1/session"))
            .json(&serde_json::json!({"username": "admin", "password": creds.admin_password}))
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(v["token"].as_str().unwrap_or_default().to_owned())
    })?;

    let mut compile = Vec::new();
    let mut json = Vec::new();
    let mut html = Vec::new();
    let mut docx = Vec::new();
    let mut sizes = (0, 0, 0, 0, 0u64);
    for _ in 0..5 {
        rt.block_on(async {
            let t = Instant::now();
            let res = client
                .post(format!("{url}/api/v1/bulletins"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"kind": "month", "from": "2025-10-01", "to": "2025-10-31"}))
                .send()
                .await?;
            anyhow::ensure!(res.status() == 201, "compile: {}", res.text().await?);
            let v: serde_json::Value = res.json().await?;
            compile.push(t.elapsed().as_secs_f64());
            let id = v["id"].as_i64().unwrap_or_default();
            sizes.4 = v["bulletin"]["summary"]["current"]["findings"].as_u64().unwrap_or_default();
            for (what, times, slot) in [("json", &mut json, 0), ("html", &mut html, 1), ("docx", &mut docx, 2)] {
                let t = Instant::now();
                let res = client
                    .get(format!("{url}/api/v1/bulletins/{id}/bulletin.{what}"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                anyhow::ensure!(res.status() == 200, "{what}: {}", res.status());
                let bytes = res.bytes().await?;
                times.push(t.elapsed().as_secs_f64());
                match slot {
                    0 => sizes.0 = bytes.len(),
                    1 => sizes.1 = bytes.len(),
                    _ => {
                        sizes.2 = bytes.len();
                        let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec()))?;
                        sizes.3 = zip
                            .file_names()
                            .filter_map(|n| n.ok())
                            .filter(|n| n.starts_with("word/media/") && n.ends_with(".jpg"))
                            .count();
                    }
                }
            }
            anyhow::Ok(())
        })?;
    }
    let (c, j, h, d) = (median(compile), median(json), median(html), median(docx));
    println!("monthly bulletin 2025-10: {} reviewed findings counted", sizes.4);
    println!("compile (POST /bulletins: query, compile, store draft, answer JSON): {:.0} ms", c * 1000.0);
    println!("bulletin.json: {:.0} ms ({:.1} MB)", j * 1000.0, sizes.0 as f64 / 1e6);
    println!("bulletin.html: {:.0} ms ({:.1} MB)", h * 1000.0, sizes.1 as f64 / 1e6);
    println!("compile + JSON + HTML: {:.0} ms (target < 1000 ms)", (c + j + h) * 1000.0);
    println!(
        "bulletin.docx: {:.0} ms ({:.1} MB, {} embedded photos + 2 charts) (target < 2000 ms)",
        d * 1000.0,
        sizes.2 as f64 / 1e6,
        sizes.3
    );

    // The review queue on the same year of findings: the office list reads
    // each finding's current review state through the `finding_state` view
    // (latest revision per finding, an index lookup each), so a filter on
    // status cannot use an index. Measured, not assumed.
    for (label, query) in [
        ("newest 50, any status", "limit=50"),
        ("pending, newest 50", "status=pending&limit=50"),
        ("pending in one unit, newest 50", "status=pending&unit=U01&limit=50"),
        ("accepted red cards of October, 50", "status=accepted&card=red&from=2025-10-01&to=2025-10-31&limit=50"),
    ] {
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..5 {
            rt.block_on(async {
                let t = Instant::now();
                let res = client.get(format!("{url}/api/v1/findings?{query}")).bearer_auth(&token).send().await?;
                anyhow::ensure!(res.status() == 200, "queue {query}: {}", res.text().await?);
                let v: serde_json::Value = res.json().await?;
                times.push(t.elapsed().as_secs_f64());
                count = v["items"].as_array().map(Vec::len).unwrap_or_default();
                anyhow::Ok(())
            })?;
        }
        println!("review queue ({label}): {:.0} ms ({count} items)", median(times) * 1000.0);
    }

    // The exports (CSV for Excel, GeoJSON for GIS) of the month and of the
    // whole year: time to the first byte, to the last, and how far the
    // process's peak memory rose (the server runs in this process).
    for (label, path) in [
        ("CSV, October", "findings.csv?from=2025-10-01&to=2025-10-31"),
        ("CSV, the year", "findings.csv?from=2025-01-01&to=2025-12-31"),
        ("GeoJSON, the year", "findings.geojson?from=2025-01-01&to=2025-12-31"),
    ] {
        let rss_before = bench_env::reset_peak_rss_mib();
        let (first, total, bytes, lines) = rt.block_on(async {
            let t = Instant::now();
            let mut res = client.get(format!("{url}/api/v1/exports/{path}")).bearer_auth(&token).send().await?;
            anyhow::ensure!(res.status() == 200, "export {path}: {}", res.status());
            let (mut first, mut bytes, mut lines) = (None, 0usize, 0usize);
            while let Some(chunk) = res.chunk().await? {
                first.get_or_insert_with(|| t.elapsed().as_secs_f64());
                bytes += chunk.len();
                lines += chunk.iter().filter(|b| **b == b'\n').count();
            }
            anyhow::Ok((first.unwrap_or_default(), t.elapsed().as_secs_f64(), bytes, lines))
        })?;
        println!(
            "export {label}: first byte {:.0} ms, whole {:.0} ms, {:.1} MB, {lines} lines; peak RSS {:.0} -> {:.0} MiB",
            first * 1000.0,
            total * 1000.0,
            bytes as f64 / 1e6,
            rss_before,
            bench_env::peak_rss_mib()
        );
    }
    println!("load average after: {}", load());
    Ok(())
}
