//! Bulletins to look at: a one-day, a one-week and a one-month bulletin of
//! the demo city with 3, 30 and 300 reviewed findings (a tenth red, a third
//! yellow, some with photos), compiled by the real server on a real socket
//! and written as HTML and DOCX into DIR, to screenshot at 390 px and A4 in
//! Chromium and to convert with LibreOffice (README: Looking at bulletins).
//!
//! `cargo run -p anfang-e2e --example bulletin_shots -- DIR`

use anfang_core::photo::{self, PhotoOptions};
use rusqlite::params;

mod bench_env;
use bench_env::Rng;

fn photo_jpeg(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x / 5) as u8 ^ seed as u8, (y / 4) as u8, (seed as u8).wrapping_mul(53)])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
    out
}

/// (kind, from, to, findings): Asia/Shanghai days of 2025.
const PERIODS: [(&str, &str, &str, usize); 3] = [
    ("day", "2025-03-05", "2025-03-05", 3),
    ("week", "2025-04-07", "2025-04-13", 30),
    ("month", "2025-05-01", "2025-05-31", 300),
];

fn main() -> anyhow::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "bulletin-shots".into()));
    std::fs::create_dir_all(&out)?;
    anfang_core::http::ensure_tls_provider();
    let data = tempfile::tempdir()?;
    let (state, creds) = bench_env::demo_city(anfang_server::Config::new(data.path()))?;
    let tz = state.config.timezone.clone();

    let mut photos = Vec::new();
    for i in 0..12u32 {
        let p = photo::process(&photo_jpeg(i), &PhotoOptions::default())?;
        bench_env::file_photo(&state, &p)?;
        photos.push(p);
    }
    let mut c = rusqlite::Connection::open(data.path().join("anfang.sqlite3"))?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = c.transaction()?;
    let (device_id, inspector_id): (String, i64) =
        tx.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let points: Vec<(String, String, f64, f64)> = tx
        .prepare("SELECT id, unit_id, lat, lon FROM points ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let categories: Vec<String> =
        tx.prepare("SELECT code FROM categories")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let admin: i64 = tx.query_row("SELECT id FROM users WHERE username = 'admin'", [], |r| r.get(0))?;
    for p in &photos {
        tx.execute(bench_env::INSERT_PHOTO, params![p.sha256, p.jpeg.len() as i64, p.width, p.height])?;
    }
    let mut rng = Rng(0x0b5e_55ed_0003_0030);
    let mut seq = 0i64;
    {
        let mut ins = tx.prepare(bench_env::INSERT_FINDING_AT)?;
        let mut review = tx.prepare(bench_env::INSERT_REVIEW)?;
        let mut attach = tx.prepare(bench_env::ATTACH_PHOTO)?;
        for (_, from, to, n) in PERIODS {
            let day = |d: &str| -> anyhow::Result<i64> {
                let date: jiff::civil::Date = d.parse()?;
                Ok(date.to_zoned_datetime(tz.clone())?.timestamp().as_millisecond())
            };
            let (start, end) = (day(from)?, day(to)? + 86_400_000);
            for i in 0..n {
                // Office hours, spread over the period.
                let span_days = (end - start) / 86_400_000;
                let d = (i as i64 * span_days) / n as i64;
                let observed = start + d * 86_400_000 + 8 * 3_600_000 + rng.below(10 * 3_600_000) as i64;
                let (point, unit, lat, lon) = &points[rng.below(points.len() as u64) as usize];
                let card = match rng.below(10) {
                    0 => "red",
                    1..=3 => "yellow",
                    _ => "green",
                };
                let category = &categories[rng.below(categories.len() as u64) as usize];
                let id = uuid::Uuid::now_v7().to_string();
                seq += 1;
                ins.execute(params![
                    id,
                    seq,
                    device_id,
                    inspector_id,
                    point,
                    unit,
                    category,
                    card,
                    "人行道堆放杂物，占道经营",
                    observed,
                    lat,
                    lon,
                    anfang_core::domain::sha256_hex(id.as_bytes())
                ])?;
                if card != "green" && rng.below(3) == 0 {
                    attach.execute(params![id, photos[rng.below(photos.len() as u64) as usize].sha256])?;
                }
                let decided = jiff::Timestamp::from_millisecond(observed + 3_600_000)?.to_string();
                review.execute(params![id, category, unit, card, admin, decided])?;
            }
        }
    }
    tx.commit()?;

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    rt.spawn(anfang_server::serve(listener, state));
    let client = reqwest::Client::new();
    rt.block_on(async {
        let v: serde_json::Value = client
            .post(format!("{url}/api/v1/session"))
            .json(&serde_json::json!({"username": "admin", "password": creds.admin_password}))
            .send()
            .await?
            .json()
            .await?;
        let token = v["token"].as_str().unwrap_or_default().to_owned();
        for (kind, from, to, n) in PERIODS {
            let res = client
                .post(format!("{url}/api/v1/bulletins"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"kind": kind, "from": from, "to": to}))
                .send()
                .await?;
            anyhow::ensure!(res.status() == 201, "compile {kind}: {}", res.text().await?);
            let v: serde_json::Value = res.json().await?;
            let id = v["id"].as_i64().unwrap_or_default();
            for ext in ["html", "docx"] {
                let res = client
                    .get(format!("{url}/api/v1/bulletins/{id}/bulletin.{ext}"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                anyhow::ensure!(res.status() == 200, "{kind} {ext}: {}", res.status());
                let path = out.join(format!("{kind}-{n}.{ext}"));
                std::fs::write(&path, res.bytes().await?)?;
                println!("{}", path.display());
            }
        }
        anyhow::Ok(())
    })?;
    Ok(())
}
