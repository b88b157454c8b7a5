//! The exposure page (曝光台) with 500 and with 5,000 published entries.
//!
//! `cargo run -p anfang-e2e --example exposure_bench [-- ENTRIES…]`
//!
//! For each size (default 500 and 5,000), fills a fresh database with
//! 20,000 reviewed findings over a year (or twice the entries, if more) and
//! their cases, of which ENTRIES are published on the exposure page (a fifth
//! overdue, a fifth closed, a tenth withdrawn), then times the public pages
//! and feeds over the real server on a real socket, as an anonymous reader:
//! median of 7, and the size of each answer. A page reads only its own
//! entries, so the two sizes should cost about the same. Rows are inserted
//! with SQL: this measures the pages, not publishing.

use rusqlite::params;
use std::time::Instant;

mod bench_env;
use bench_env::{Rng, load, machine, median};

fn main() -> anyhow::Result<()> {
    let mut sizes: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        sizes = vec![500, 5_000];
    }
    anfang_core::http::ensure_tls_provider();
    println!("machine: {}", machine());
    for entries in sizes {
        run(entries)?;
    }
    Ok(())
}

fn run(entries: usize) -> anyhow::Result<()> {
    let findings = 20_000usize.max(entries * 2);
    let data = tempfile::tempdir()?;
    // EXPOSURE_BENCH_KEEP=DIR: fill DIR/ENTRIES instead, and leave it to
    // serve (`anfang-server serve --data-dir DIR/ENTRIES`) and look at.
    let dir = match std::env::var_os("EXPOSURE_BENCH_KEEP") {
        Some(k) => std::path::PathBuf::from(k).join(entries.to_string()),
        None => data.path().to_owned(),
    };
    let (state, _creds) = bench_env::demo_city(anfang_server::Config::new(&dir))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let now = jiff::Timestamp::now();
    rt.block_on(state.db.add_user(
        "bench-reviewer".into(),
        "bench-reviewer-pw".into(),
        anfang_server::auth::Role::Reviewer,
        None,
        now,
    ))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("\n{entries} published entries; load average before: {}", load());

    let t = Instant::now();
    let mut c = rusqlite::Connection::open(dir.join("anfang.sqlite3"))?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = c.transaction()?;
    let (device_id, inspector_id): (String, i64) =
        tx.query_row("SELECT id, inspector_id FROM devices LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let admin: i64 = tx.query_row("SELECT id FROM users WHERE username = 'admin'", [], |r| r.get(0))?;
    let reviewer: i64 = tx.query_row("SELECT id FROM users WHERE username = 'bench-reviewer'", [], |r| r.get(0))?;
    let points: Vec<(String, String)> = tx
        .prepare("SELECT id, unit_id FROM points ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let categories: Vec<String> =
        tx.prepare("SELECT code FROM categories")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut rng = Rng(0x0e7b_05e5_0000_0500);
    let year_ms = 365 * 86_400_000i64;
    let start = now.as_millisecond() - year_ms;
    let mut published = 0usize;
    {
        let mut finding = tx.prepare(bench_env::INSERT_FINDING)?;
        let mut review = tx.prepare(bench_env::INSERT_REVIEW)?;
        let mut case = tx.prepare(bench_env::INSERT_CASE)?;
        let mut entry = tx.prepare(
            "INSERT INTO exposure_entries (public_ref, case_id, proposed_by, proposed_ms, published_by, published_ms,
               published_on, title, description, photos, record_hash, withdrawn_by, withdrawn_ms, withdrawn_on,
               withdrawal_note, withdrawal_hash)
             VALUES (lower(hex(randomblob(6))), ?1, ?2, ?3, ?4, ?3, ?5, ?6, ?7, '[]', ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for i in 0..findings {
            let observed = start + (i as i64 * year_ms / findings as i64);
            let (point, unit) = &points[rng.below(points.len() as u64) as usize];
            let category = &categories[rng.below(categories.len() as u64) as usize];
            let card = if rng.below(3) == 0 { "red" } else { "yellow" };
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
            let decided = jiff::Timestamp::from_millisecond(observed + 7_200_000)?;
            review.execute(params![id, category, unit, card, admin, decided.to_string()])?;
            let opened = observed + 7_200_000;
            let deadline = opened + 3 * 86_400_000;
            // The last ENTRIES findings' cases are the published ones: a
            // fifth overdue, a fifth closed, the rest in progress.
            let exposed = i >= findings - entries;
            let kind = if exposed { rng.below(5) } else { 4 };
            let (st, deadline, closed) = match kind {
                0 => ("open", now.as_millisecond() - (1 + rng.below(20) as i64) * 86_400_000, None),
                1 => ("closed", deadline, Some(deadline - 3_600_000)),
                2 | 3 => ("open", now.as_millisecond() + (1 + rng.below(5) as i64) * 86_400_000, None),
                _ => ("closed", deadline, Some(deadline)),
            };
            case.execute(params![
                id,
                unit,
                card,
                st,
                inspector_id,
                opened,
                opened + 3_600_000,
                deadline,
                closed,
                closed
            ])?;
            if exposed {
                let case_id = tx.last_insert_rowid();
                let on = jiff::Timestamp::from_millisecond(opened + 86_400_000)?.strftime("%Y-%m-%d").to_string();
                let withdrawn = rng.below(10) == 0;
                let title = format!("第 {published} 号：人行道违规停车");
                let text =
                    "人行道上停放多辆机动车，行人被迫走上车行道。整改要求：清理占道车辆，设置隔离设施。".repeat(2);
                entry.execute(params![
                    case_id,
                    reviewer,
                    opened + 86_400_000,
                    admin,
                    on,
                    title,
                    text,
                    hash,
                    withdrawn.then_some(admin),
                    withdrawn.then_some(opened + 2 * 86_400_000),
                    withdrawn.then_some(on.clone()),
                    withdrawn.then_some("该问题经核实已于发布前整改，撤回。"),
                    withdrawn.then_some(hash.clone()),
                ])?;
                published += 1;
            }
        }
    }
    tx.commit()?;
    println!(
        "filled {findings} findings and cases, {published} published entries in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}", listener.local_addr()?);
    rt.spawn(anfang_server::serve(listener, state));
    let client = reqwest::Client::new();
    let entry_ref: String = c.query_row(
        "SELECT public_ref FROM exposure_entries WHERE withdrawn_ms IS NULL ORDER BY id DESC LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    let (unit, point): (String, String) = c.query_row(
        "SELECT rc.unit_id, f.point_id FROM exposure_entries e JOIN rectification_cases rc ON rc.id = e.case_id
         JOIN findings f ON f.id = rc.finding_id GROUP BY rc.unit_id ORDER BY count(*) DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let last_page = published.div_ceil(20);
    for path in [
        "/public/".to_owned(),
        "/public/?page=2".to_owned(),
        format!("/public/?page={last_page}"),
        "/public/?state=overdue".to_owned(),
        format!("/public/entries/{entry_ref}"),
        format!("/public/units/{unit}"),
        format!("/public/points/{point}"),
        "/public/feed.json".to_owned(),
        "/public/feed.atom".to_owned(),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..7 {
            let t = Instant::now();
            let body = rt.block_on(async {
                let r = client.get(format!("{url}{path}")).send().await?.error_for_status()?;
                anyhow::Ok(r.bytes().await?)
            })?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            bytes = body.len();
        }
        println!("{path:<32} {:>8.1} ms  {:>8.1} KB", median(times), bytes as f64 / 1024.0);
    }
    println!("load average after: {}", load());
    Ok(())
}
