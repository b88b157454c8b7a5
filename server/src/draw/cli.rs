//! `anfang-server draw …`: create, list, reveal and export draws on a data
//! dir, and `draw verify`, which needs no data dir at all: it recomputes a
//! draw from exported parameters and a revealed seed, offline.

use super::{Drawn, Params, check_constraints, commitment, compute};
use crate::db::draws::{self, DrawRequest};
use anyhow::{Context, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DrawCommand {
    /// Create a draw for a future period; prints its id and commitment.
    Create {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        /// First day, YYYY-MM-DD (office time zone).
        #[arg(long)]
        from: jiff::civil::Date,
        /// Last day, inclusive.
        #[arg(long)]
        to: jiff::civil::Date,
        #[arg(long)]
        visits: u32,
        /// Only these inspectors (repeat); default every active one.
        #[arg(long = "inspector")]
        inspectors: Vec<String>,
        /// Only points of these kinds (repeat), e.g. back_street.
        #[arg(long = "kind")]
        kinds: Vec<String>,
        #[arg(long = "district")]
        districts: Vec<String>,
        #[arg(long = "unit")]
        units: Vec<String>,
        /// Days between two visits of one inspector to one unit.
        #[arg(long, default_value_t = draws::DEFAULT_MIN_DAYS_BETWEEN_SAME_UNIT)]
        min_days: u32,
        /// Most visits per inspector per day.
        #[arg(long, default_value_t = draws::DEFAULT_MAX_VISITS_PER_DAY)]
        cap: u32,
        /// Send each visit this many minutes before its slot (default: at
        /// 00:00 of its day).
        #[arg(long)]
        lead_minutes: Option<u32>,
    },
    /// List every draw overlapping a period.
    List {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        from: Option<jiff::civil::Date>,
        #[arg(long)]
        to: Option<jiff::civil::Date>,
    },
    /// Reveal a draw's seed after its period has ended; prints the export.
    Reveal {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        id: String,
    },
    /// Print a draw's export (parameters, commitment; seed and assignments
    /// once revealed) as JSON.
    Export {
        #[arg(long, default_value = "anfang-data", env = "ANFANG_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        id: String,
    },
    /// Recompute a draw offline from its parameters and seed; check the
    /// commitment and, if given, every assignment. Exit 1 on any difference.
    Verify {
        /// The export (or bare parameters) as JSON.
        #[arg(long)]
        params: PathBuf,
        /// The revealed seed, 64 hex characters.
        #[arg(long)]
        seed: String,
        /// The commitment published at creation (default: the export's).
        #[arg(long)]
        commitment: Option<String>,
        /// Assignments to check: a JSON list, or an export holding one.
        #[arg(long)]
        assignments: Option<PathBuf>,
    },
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The draw operations on a small runtime, as the rest of the command line
/// runs them (see `cli::block_on`), with draw refusals said in Chinese.
fn block_on<T>(f: impl std::future::Future<Output = Result<T, crate::AppError>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(f).map_err(err)
}

fn err(e: crate::AppError) -> anyhow::Error {
    match e {
        // Said to the office person at the terminal as the console says it.
        crate::AppError::Draw(d) => anyhow::anyhow!("{}", d.zh()),
        e => anyhow::anyhow!("{e}"),
    }
}

pub fn run(
    command: DrawCommand,
    open_db: impl Fn(&Path) -> anyhow::Result<crate::db::Db>,
    clock: &crate::clock::Clock,
) -> anyhow::Result<()> {
    match command {
        DrawCommand::Create {
            data_dir,
            from,
            to,
            visits,
            inspectors,
            kinds,
            districts,
            units,
            min_days,
            cap,
            lead_minutes,
        } => {
            let db = open_db(&data_dir)?;
            let config = crate::Config::new(&data_dir);
            let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
            let req = DrawRequest {
                from,
                to,
                visits,
                inspectors: some(inspectors),
                point_kinds: some(kinds),
                districts: some(districts),
                units: some(units),
                slots: None,
                min_days_between_same_unit: Some(min_days),
                max_visits_per_inspector_per_day: Some(cap),
                lead_minutes,
            };
            let tz = config.timezone_name();
            let now_ms = clock.now_ms();
            let s = block_on(crate::app::draws::create(&db, req, tz, None, now_ms))?;
            println!("draw {} created for {} to {}, {} visits", s.id, s.from, s.to, s.visits);
            println!("commitment {}", s.commitment);
            Ok(())
        }
        DrawCommand::List { data_dir, from, to } => {
            let db = open_db(&data_dir)?;
            let (from, to) = (from.map(|d| d.to_string()), to.map(|d| d.to_string()));
            let items = block_on(db.draws(from, to))?;
            for d in items {
                println!(
                    "{}  {} .. {}  {} visits  commitment {}  created {}  {}",
                    d.id,
                    d.from,
                    d.to,
                    d.visits,
                    d.commitment,
                    d.created_at,
                    d.revealed_at.map_or("sealed".to_owned(), |r| format!("revealed {r}"))
                );
            }
            Ok(())
        }
        DrawCommand::Reveal { data_dir, id } => {
            let db = open_db(&data_dir)?;
            let now_ms = clock.now_ms();
            let export = block_on(crate::app::draws::reveal(&db, id, now_ms))?;
            println!("{}", serde_json::to_string_pretty(&export)?);
            Ok(())
        }
        DrawCommand::Export { data_dir, id } => {
            let db = open_db(&data_dir)?;
            let export = block_on(db.draw_export(id))?;
            println!("{}", serde_json::to_string_pretty(&export)?);
            Ok(())
        }
        DrawCommand::Verify { params, seed, commitment: expected, assignments } => {
            verify(&params, &seed, expected, assignments.as_deref())
        }
    }
}

fn verify(
    params_path: &Path,
    seed_hex: &str,
    expected: Option<String>,
    assignments: Option<&Path>,
) -> anyhow::Result<()> {
    let doc = read_json(params_path)?;
    let (params_value, exported_commitment) = match doc.get("parameters") {
        Some(p) => (p.clone(), doc.get("commitment").and_then(|c| c.as_str()).map(str::to_owned)),
        None => (doc.clone(), None),
    };
    let params: Params = serde_json::from_value(params_value)
        .with_context(|| format!("{} does not hold draw parameters", params_path.display()))?;
    let seed: [u8; 32] = hex::decode(seed_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the seed must be 64 hex characters (32 bytes)")?;
    let computed = commitment(&seed, &params);
    let Some(expected) = expected.or(exported_commitment) else {
        bail!("no commitment to check against: pass --commitment or an export that holds one (computed: {computed})");
    };
    if computed != expected.trim() {
        bail!(
            "COMMITMENT MISMATCH: the published commitment is {} but this seed and these parameters give {computed}; \
             the seed or the parameters differ from the ones committed to",
            expected.trim()
        );
    }
    println!("commitment ok: {computed}");
    let drawn = compute(&seed, &params).map_err(|e| anyhow::anyhow!("{e}"))?;
    check_constraints(&params, &drawn).map_err(|e| anyhow::anyhow!("recomputed draw breaks a constraint: {e}"))?;
    println!("recomputed {} assignments; every constraint holds", drawn.len());
    if let Some(path) = assignments {
        let doc = read_json(path)?;
        let list = doc.get("assignments").cloned().unwrap_or(doc);
        let given: Vec<Drawn> = serde_json::from_value(list)
            .with_context(|| format!("{} does not hold a list of assignments", path.display()))?;
        let mut differences = Vec::new();
        if given.len() != drawn.len() {
            differences.push(format!("the file has {} assignments, the draw {}", given.len(), drawn.len()));
        }
        for (g, d) in given.iter().zip(&drawn) {
            if g != d {
                differences.push(format!(
                    "assignment #{}: file has {} {} {} {}, the draw gives {} {} {} {}",
                    d.index, g.inspector, g.point_id, g.date, g.slot, d.inspector, d.point_id, d.date, d.slot
                ));
            }
        }
        for d in differences.iter().take(20) {
            println!("DIFFERS {d}");
        }
        if !differences.is_empty() {
            bail!("{} assignment(s) differ from the recomputed draw", differences.len());
        }
        println!("all {} assignments in {} match", given.len(), path.display());
    }
    Ok(())
}
