//! Backup and restore at a year's scale.
//!
//! `cargo run --release -p anfang-e2e --example backup_bench [-- FINDINGS PHOTOS]`
//!
//! (The README's figures were taken with the dev profile, `cargo run -p …`:
//! the work is file I/O, SHA-256, SQLite and JPEG decoding, all in
//! dependencies or the core, which Cargo.toml builds at opt-level 2 in
//! every profile.)
//!
//! Fills a real data dir with FINDINGS (default 100,000) findings and
//! PHOTOS (default 10,000) stored photos of 1600×1200 with their
//! thumbnails, then times, with the server's own code (`anfang-server
//! backup` / `restore` do the same calls):
//! - a full backup into an empty folder;
//! - a second backup right after (nothing new: incremental, no photo copied);
//! - a backup after 100 new findings, each with a new photo;
//! - `backup verify` of the last one (every object re-hashed);
//! - a restore of it into a new data dir, including the evidence audit that
//!   restore runs (every photo re-hashed, every thumbnail remade);
//! - the same full backup encrypted (age), for comparison.
//!
//! Figures, not pass/fail. Rows are inserted with SQL. The photos are one
//! camera-like JPEG made distinct by a comment segment holding its number
//! (distinct files and hashes, identical pixels), so their thumbnails are
//! one file's bytes, which the backup stores once: the thumbnails' part of a
//! real backup (10,000 × ~15 KB) is understated. The SQL-made findings carry
//! no signature and no log entry, so the restore's audit names each of them;
//! the bench requires only that every photo and thumbnail checks.

use rusqlite::params;
use std::time::Instant;

mod bench_env;
use bench_env::{load, machine};

fn with_comment(jpeg: &[u8], n: usize) -> Vec<u8> {
    let text = format!("anfang-bench photo {n:08}");
    let len = (text.len() + 2) as u16;
    let mut out = Vec::with_capacity(jpeg.len() + text.len() + 4);
    out.extend_from_slice(&jpeg[..2]); // SOI
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn camera_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut state = 2_654_435_761u32;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state & 0x3f) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).wrapping_add(noise),
            ((y * 255 / height) as u8).wrapping_add(noise / 2),
            90,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
    out
}

fn size_of(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() { size_of(&e.path()) } else { m.len() };
    }
    n
}

fn mb(n: u64) -> String {
    format!("{:.0} MB", n as f64 / 1_048_576.0)
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let photos: usize = std::env::args().nth(2).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let work = tempfile::tempdir()?;
    let data = work.path().join("data");
    // Kept open to the end, as the server would be while a backup runs.
    let (_state, _creds) = bench_env::demo_city(anfang_server::Config::new(&data))?;
    println!("machine: {}; load average before: {}", machine(), load());

    let options = anfang_core::photo::PhotoOptions::default();
    let base = anfang_core::photo::process(&camera_jpeg(1600, 1200), &options)?;
    // The server's thumbnail: remade from the stored JPEG, as verify remakes it.
    let (_, _, thumbnail) = anfang_core::photo::thumbnail_of_stored(&base.jpeg, &options)?;
    let fill = Instant::now();
    let db_path = data.join("anfang.sqlite3");
    let mut c = rusqlite::Connection::open(&db_path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let (device_id, inspector_id): (String, i64) =
        c.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut seq = 0i64;
    let mut add = |c: &mut rusqlite::Connection, count: usize, with_photo_from: Option<usize>| -> anyhow::Result<()> {
        let tx = c.transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note, observed_ms,
                   lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
                 VALUES (?1, ?2, ?3, ?4, 'P001', 'U01', 'parking', 'yellow', NULL, ?5, 29.5, 106.5, 8.0, NULL, '{}', ?6, ?5, NULL)",
            )?;
            let mut photo = tx.prepare(
                "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, ?2, 1600, 1200, '2026-06-01T00:00:00Z')",
            )?;
            let mut link =
                tx.prepare("INSERT INTO finding_photos (finding_id, position, sha256) VALUES (?1, 0, ?2)")?;
            for i in 0..count {
                seq += 1;
                let id = uuid::Uuid::now_v7().to_string();
                let hash = anfang_core::domain::sha256_hex(id.as_bytes());
                ins.execute(params![id, seq, device_id, inspector_id, 1_780_000_000_000i64 + seq * 60_000, hash])?;
                if let Some(first) = with_photo_from {
                    let jpeg = with_comment(&base.jpeg, first + i);
                    let sha = anfang_core::domain::sha256_hex(&jpeg);
                    let dir = data.join("photos").join(&sha[..2]);
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(dir.join(format!("{sha}.jpg")), &jpeg)?;
                    std::fs::write(dir.join(format!("{sha}.thumb.jpg")), &thumbnail)?;
                    photo.execute(params![sha, jpeg.len() as i64])?;
                    link.execute(params![id, sha])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    };
    add(&mut c, photos.min(n), Some(0))?;
    add(&mut c, n.saturating_sub(photos), None)?;
    println!(
        "filled {n} findings, {photos} photos ({} in photos/) in {:.1} s",
        mb(size_of(&data.join("photos"))),
        fill.elapsed().as_secs_f64()
    );

    let target = work.path().join("usb");
    let options = anfang_server::backup::BackupOptions::default();
    let now = || jiff::Timestamp::now();
    let timed = |label: &str, f: &mut dyn FnMut() -> anyhow::Result<String>| -> anyhow::Result<()> {
        let t = Instant::now();
        let note = f()?;
        println!("{label:<44} {:>8.2} s   {note}", t.elapsed().as_secs_f64());
        Ok(())
    };
    let backup = |target: &std::path::Path, options: &anfang_server::backup::BackupOptions| -> anyhow::Result<String> {
        let r = anfang_server::backup::backup(&data, target, options, now())?;
        Ok(format!(
            "copied {} files, {} ({} reused); backup holds {}",
            r.objects_copied,
            mb(r.bytes_copied),
            r.objects_reused,
            mb(r.manifest.total_bytes())
        ))
    };
    timed("full backup", &mut || backup(&target, &options))?;
    timed("incremental, nothing new", &mut || backup(&target, &options))?;
    add(&mut c, 100, Some(photos))?;
    timed("incremental, 100 new findings with photos", &mut || backup(&target, &options))?;
    timed("backup verify (every object re-hashed)", &mut || {
        let r = anfang_server::backup::verify(&target, None)?;
        Ok(format!("{} objects", r.manifest.objects.len()))
    })?;
    let restored = work.path().join("restored");
    timed("restore, with the evidence audit", &mut || {
        let r = anfang_server::backup::restore(&target, &restored, None)?;
        let photo_problems: Vec<&String> =
            r.audit.problems.iter().filter(|p| p.starts_with("photo ") || p.starts_with("thumbnail ")).collect();
        anyhow::ensure!(
            photo_problems.is_empty(),
            "restored photos do not verify: {:?}",
            &photo_problems[..photo_problems.len().min(3)]
        );
        Ok(format!("audited {} findings and {} photos with thumbnails", r.audit.findings, r.audit.photos))
    })?;
    std::fs::remove_dir_all(&restored)?;
    let pass = work.path().join("pass");
    std::fs::write(&pass, "benchmark passphrase\n")?;
    let encrypted = anfang_server::backup::BackupOptions {
        passphrase: Some(anfang_server::backup::crypt::read_passphrase(&pass).map_err(|e| anyhow::anyhow!(e))?),
    };
    timed("full backup, encrypted (age)", &mut || backup(&work.path().join("offsite"), &encrypted))?;
    println!("load average after: {}", load());
    Ok(())
}
