//! Sync throughput over loopback: the real server (in this process, on a
//! real socket) and the real client core with its SQLite store on disk.
//!
//! `cargo run --release -p anfang-e2e --example sync_bench [-- FINDINGS]`
//!
//! Prints findings per second for a push of FINDINGS (default 10,000)
//! photo-less green-card findings, and the photo rate for 300 findings
//! with a distinct ~2048 px photo each. Figures, not pass/fail.

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::photo::{self, PhotoOptions};
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding};
use anfang_core::sync::{SyncEngine, SyncOptions};
use anfang_core::{Card, Location, Store};
use std::time::Instant;

mod bench_env;
use bench_env::machine;

fn noisy_jpeg(seed: u32) -> Vec<u8> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(2400, 1800, |x, y| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        image::Rgb([(x / 10) as u8 ^ (s as u8 & 15), (y / 8) as u8, (seed as u8).wrapping_add(s as u8 & 7)])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let data = tempfile::tempdir()?;
    let state =
        anfang_server::AppState::open(anfang_server::Config::new(data.path())).map_err(|e| anyhow::anyhow!("{e}"))?;
    let creds = anfang_server::demo::load(&state.db).map_err(|e| anyhow::anyhow!("{e}"))?;

    // The server gets its own runtime and threads, as it would in production.
    let server_rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    server_rt.spawn(anfang_server::serve(listener, state));

    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    println!("machine: {}", machine());
    for (label, count, with_photo, code) in
        [("findings without photos", n, false, 0usize), ("findings with one photo each", 300, true, 1)]
    {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("device.sqlite3"))?;
        let enrolled = client_rt.block_on(HttpTransport::enroll(
            &url,
            &EnrollRequest {
                code: creds.inspectors[code].1.clone(),
                device_label: None,
                public_key: store.device_key()?.public_key_hex(),
            },
        ))?;
        store.save_enrollment(&Enrollment {
            server_url: url.clone(),
            device_id: enrolled.device_id.to_string(),
            token: enrolled.token.clone(),
            alias: enrolled.alias,
        })?;
        let transport = HttpTransport::new(&url, &enrolled.token)?;
        client_rt.block_on(SyncEngine::new(&mut store, &transport, &SystemClock).sync(&mut |_| {}))?;

        let started = Instant::now();
        for i in 0..count {
            let photos = if with_photo {
                vec![photo::process(&noisy_jpeg(i as u32), &PhotoOptions::default())?]
            } else {
                vec![]
            };
            store.record_finding(
                NewFinding {
                    point_id: format!("P{:03}", 1 + i % 40),
                    unit_id: None,
                    category: "sanitation".into(),
                    card: if with_photo { Card::Yellow } else { Card::Green },
                    note: Some(format!("bench {i}")),
                    location: Some(Location {
                        lat: 31.21,
                        lon: 107.47,
                        accuracy_m: 6.0,
                        captured_at: jiff::Timestamp::now(),
                    }),
                    photos,
                },
                &SystemClock,
            )?;
        }
        let record_s = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let report = client_rt.block_on(
            SyncEngine::new(&mut store, &transport, &SystemClock)
                .with_options(SyncOptions { batch_size: 100, ..Default::default() })
                .sync(&mut |_| {}),
        )?;
        let sync_s = started.elapsed().as_secs_f64();
        assert_eq!(report.findings_pushed, count, "{report:?}");
        println!(
            "{count} {label}: recorded in {record_s:.2} s ({:.0}/s, including making each test photo); synced in {sync_s:.2} s = {:.0} findings/s, {} photos, {:.1} MB sent ({:.1} MB/s)",
            count as f64 / record_s,
            count as f64 / sync_s,
            report.photos_uploaded,
            report.photo_bytes_sent as f64 / 1e6,
            report.photo_bytes_sent as f64 / 1e6 / sync_s,
        );
    }
    Ok(())
}
