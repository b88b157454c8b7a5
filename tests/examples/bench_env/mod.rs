//! What every benchmark prints about the machine it ran on, so figures are
//! read with their context (shared by the examples; not an example itself).
#![allow(dead_code)] // each benchmark uses what it needs

/// CPU model and core count (the load tool's, so every figure names the
/// machine the same way).
pub fn machine() -> String {
    anfang_load::procstat::machine()
}

/// The 1, 5 and 15 minute load averages.
pub fn load() -> String {
    anfang_load::procstat::load_average()
}

/// A small deterministic generator (xorshift), so every run builds the same
/// data. Seed it with a non-zero value.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The median of some timings (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The rows benchmarks insert with SQL instead of through the API (they
/// measure what reads them, not ingest): an unsigned finding with empty
/// content, its accepting review, and its case.
pub const INSERT_FINDING: &str =
    "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note, observed_ms,
               lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, ?9, 29.5, 106.5, 8.0, NULL, '{}', ?10, ?9, NULL)";
/// A finding at a point's own position, with a note (the bulletins print both).
pub const INSERT_FINDING_AT: &str =
    "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note, observed_ms,
               lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 8.0, NULL, '{}', ?13, ?10, NULL)";
/// A stored photo's row, and a finding's first photo.
pub const INSERT_PHOTO: &str =
    "INSERT INTO photos (sha256, byte_len, width, height, stored_at) VALUES (?1, ?2, ?3, ?4, '2025-01-01T00:00:00Z')";
pub const ATTACH_PHOTO: &str = "INSERT INTO finding_photos (finding_id, position, sha256) VALUES (?1, 0, ?2)";
pub const INSERT_REVIEW: &str = "INSERT INTO finding_reviews (finding_id, revision, decision, category, unit_id, card, reason, reviewer_id, decided_at)
             VALUES (?1, 1, 'accept', ?2, ?3, ?4, NULL, ?5, ?6)";
pub const INSERT_CASE: &str =
    "INSERT INTO rectification_cases (public_ref, finding_id, unit_id, card, state, inspector_id, opened_ms,
               notified_ms, deadline_ms, answered_ms, closed_ms)
             VALUES (lower(hex(randomblob(6))), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// A server state with the demo city loaded and the first demo inspector's
/// device enrolled (the device the benchmarks' rows name).
pub fn demo_city(
    config: anfang_server::Config,
) -> anyhow::Result<(anfang_server::AppState, anfang_server::demo::DemoCredentials)> {
    let state = anfang_server::AppState::open(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let creds = anfang_server::demo::load(&state.db).map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = anfang_core::evidence::DeviceKey::generate();
    state
        .db
        .write_blocking(|c| anfang_server::db::accounts::enroll(c, &creds.inspectors[0].1, None, &key.public_key_hex()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((state, creds))
}

/// Files a processed photo where uploads file it (photo and thumbnail).
pub fn file_photo(state: &anfang_server::AppState, p: &anfang_core::photo::ProcessedPhoto) -> anyhow::Result<()> {
    let path = state.photos.photo_path(&p.sha256).expect("benchmarks keep photos in the data dir");
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(&path, &p.jpeg)?;
    std::fs::write(state.photos.thumbnail_path(&p.sha256).expect("in the data dir"), &p.thumbnail)?;
    Ok(())
}

/// This process's peak resident memory (`VmHWM`), MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Resets the peak to the current resident size (Linux `clear_refs` 5) and
/// returns it, so the next [`peak_rss_mib`] says how far one step rose.
pub fn reset_peak_rss_mib() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    peak_rss_mib()
}
