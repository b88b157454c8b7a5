//! `anfang`: the field client for the command line. A thin shell over
//! `anfang-core`: the same store, photo pipeline and sync engine as the
//! phone app. Everything it knows lives in `--home` (one SQLite file).

/// `println!` for the CLI's output: when the reader has gone (`anfang points
/// | head -1`), stop quietly with success as Unix tools do, instead of the
/// panic and backtrace `println!` gives on a closed pipe. Whatever the
/// command had to write to the device store was committed before it prints.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write the output: {e}");
            std::process::exit(1);
        }
    }};
}

use anfang_core::clock::SystemClock;
use anfang_core::http::HttpTransport;
use anfang_core::photo::{self, PhotoOptions};
use anfang_core::protocol::EnrollRequest;
use anfang_core::store::{Enrollment, NewFinding, SyncState};
use anfang_core::sync::{SyncEngine, SyncError, SyncEvent, SyncOptions, TransportError};
use anfang_core::{Card, Location, Store};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Above this accuracy radius the inspector is warned (the fix may point at
/// the wrong street).
const ACCURACY_WARNING_M: f64 = 50.0;

#[derive(Parser)]
#[command(name = "anfang", version, about = "Anfang 暗访 field client: record findings offline, sync when online")]
struct Cli {
    /// Folder holding this device's data.
    #[arg(long, global = true, env = "ANFANG_HOME", default_value = ".anfang")]
    home: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this device with a one-time code from the office.
    Enroll {
        /// The server, e.g. https://anfang.example.gov.cn
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        /// A label for the office, e.g. the phone model.
        #[arg(long)]
        label: Option<String>,
        /// Enroll an already enrolled device again with a new code (after the
        /// office revoked it): its unsynced findings stay and sync afterwards.
        #[arg(long)]
        again: bool,
    },
    /// Pull reference data, upload photos, push findings.
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// Inspection points, nearest first with --near.
    Points {
        /// LAT,LON of where you stand.
        #[arg(long, value_parser = parse_lat_lon)]
        near: Option<(f64, f64)>,
        #[arg(long)]
        json: bool,
    },
    /// Problem categories.
    Categories {
        #[arg(long)]
        json: bool,
    },
    /// Record a finding (works offline). Prints the new finding's id last.
    Record {
        /// The inspection point; defaults to the assignment's point.
        #[arg(long, required_unless_present = "assignment")]
        point: Option<String>,
        /// A drawn visit from `anfang visits` this finding is made on.
        #[arg(long)]
        assignment: Option<uuid::Uuid>,
        /// The result of a re-check visit (复查任务): passed or failed. Needs
        /// --assignment and at least one --photo; category and card default
        /// to the case's (green when passed).
        #[arg(long, requires = "assignment", value_enum)]
        recheck: Option<Verdict>,
        #[arg(long, required_unless_present = "recheck")]
        category: Option<String>,
        /// red, yellow or green (红/黄/绿 also work).
        #[arg(long, required_unless_present = "recheck")]
        card: Option<Card>,
        #[arg(long)]
        note: Option<String>,
        /// Responsible unit, if not the point's own.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, requires_all = ["lon", "accuracy"], allow_negative_numbers = true)]
        lat: Option<f64>,
        #[arg(long, requires_all = ["lat", "accuracy"], allow_negative_numbers = true)]
        lon: Option<f64>,
        /// Accuracy radius of the position, in metres.
        #[arg(long, requires_all = ["lat", "lon"])]
        accuracy: Option<f64>,
        /// JPEG or PNG photos, in order.
        #[arg(long = "photo", num_args = 1..)]
        photos: Vec<PathBuf>,
    },
    /// Findings on this device with their sync state.
    Findings {
        #[arg(long)]
        json: bool,
    },
    /// Today's drawn visits (office time, Asia/Shanghai), from the last sync;
    /// re-check visits (复查任务) with their case and before-photos.
    Visits {
        #[arg(long)]
        json: bool,
        /// Save the before-photos of today's re-check visits into this folder
        /// (as SHA256.jpg), from the copies the last sync fetched.
        #[arg(long, value_name = "DIR")]
        save_photos: Option<PathBuf>,
    },
}

/// A re-check's verdict, as typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Verdict {
    /// 复查通过: the problem is fixed.
    Passed,
    /// 复查未通过: the unit must rework it.
    Failed,
}

fn parse_lat_lon(s: &str) -> Result<(f64, f64), String> {
    let (lat, lon) = s.split_once(',').ok_or("use LAT,LON, e.g. 31.21,107.47")?;
    let lat: f64 = lat.trim().parse().map_err(|_| format!("{lat:?} is not a latitude"))?;
    let lon: f64 = lon.trim().parse().map_err(|_| format!("{lon:?} is not a longitude"))?;
    Ok((lat, lon))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    #[cfg(unix)]
    // SAFETY: umask(2) only swaps the process's file-creation mask; it cannot
    // fail and touches no memory of ours. Set first, before any file exists.
    unsafe {
        libc::umask(0o077);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The home holds the device's signing key and token: owner only. New files
/// are 0600 and directories 0700 (umask 077, set in [`main`]); a home made by
/// an older version is tightened here.
fn open_store(home: &Path) -> anyhow::Result<Store> {
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let store = Store::open(home.join("anfang.sqlite3")).context("opening the device database")?;
    tighten(home);
    Ok(store)
}

/// Removes group and other access from the home and the files in it.
fn tighten(home: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let entries = std::fs::read_dir(home).into_iter().flatten().flatten().map(|e| e.path());
        for path in std::iter::once(home.to_owned()).chain(entries) {
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o777;
            if meta.file_type().is_symlink() || mode & 0o077 == 0 {
                continue;
            }
            let want = if meta.is_dir() { 0o700 } else { 0o600 };
            if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & want)) {
                eprintln!("警告 warning: {} is readable by other users and cannot be changed: {e}", path.display());
            }
        }
    }
}

fn enrolled(store: &Store) -> anyhow::Result<Enrollment> {
    store.enrollment()?.ok_or_else(|| {
        anyhow::anyhow!("this device is not enrolled yet: run `anfang enroll --server URL --code CODE` first")
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut store = open_store(&cli.home)?;
    match cli.command {
        Command::Enroll { server, code, label, again } => {
            if let Some(e) = store.enrollment()?
                && !again
            {
                bail!(
                    "this device is already enrolled as {} with {}; use a new --home, or --again with a new code",
                    e.alias,
                    e.server_url
                );
            }
            let public_key = store.device_key()?.public_key_hex();
            let response =
                HttpTransport::enroll(&server, &EnrollRequest { code, device_label: label, public_key }).await?;
            store.save_enrollment(&Enrollment {
                server_url: server.trim().trim_end_matches('/').to_owned(),
                device_id: response.device_id.to_string(),
                token: response.token,
                alias: response.alias.clone(),
            })?;
            say!("已登记 enrolled as {}", response.alias);
            let report = sync(&mut store, false).await?;
            say!("{} 条参考数据 reference rows received", report.reference_changes);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sync { json } => {
            let report = sync(&mut store, !json).await?;
            if json {
                say!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                say!(
                    "推送 pushed {} (已在服务器 already there {}), 拒绝 rejected {}, 照片 photos uploaded {} ({} bytes), 待同步 pending {}",
                    report.findings_pushed,
                    report.findings_already_on_server,
                    report.findings_rejected,
                    report.photos_uploaded,
                    report.photo_bytes_sent,
                    report.pending
                );
                for n in &report.notices {
                    eprintln!("提示 notice: {n}");
                }
                if let Some(why) = &report.interrupted {
                    eprintln!(
                        "同步中断 sync interrupted: {why}; unsynced findings are kept and will be sent next time"
                    );
                }
            }
            Ok(if report.interrupted.is_some() { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        Command::Points { near, json } => {
            let points = store.points(near)?;
            if points.is_empty() {
                eprintln!("no points on this device yet: run `anfang sync`");
            }
            if json {
                say!("{}", serde_json::to_string_pretty(&points)?);
            } else {
                for p in points {
                    let dist = p.distance_m.map(|d| format!("{d:>7.0} m")).unwrap_or_default();
                    say!(
                        "{}\t{}\t{}\t{}\t{dist}",
                        p.point.id,
                        p.point.name,
                        p.point.kind.label_zh(),
                        p.unit_name.unwrap_or(p.point.unit_id)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Categories { json } => {
            let categories = store.categories()?;
            if json {
                say!("{}", serde_json::to_string_pretty(&categories)?);
            } else {
                for c in categories {
                    say!("{}\t{}\t{}", c.code, c.name, c.description.unwrap_or_default());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Visits { json, save_photos } => {
            let tz = anfang_core::office_timezone();
            let visits = store.todays_visit_list(&SystemClock, &tz)?;
            if let Some(dir) = &save_photos {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let mut missing = 0;
                for sha in visits.iter().filter_map(|v| v.assignment.recheck.as_ref()).flat_map(|t| &t.photos) {
                    match store.recheck_photo(sha)? {
                        Some(jpeg) => {
                            let path = dir.join(format!("{sha}.jpg"));
                            std::fs::write(&path, jpeg).with_context(|| format!("cannot write {}", path.display()))?;
                        }
                        None => missing += 1,
                    }
                }
                if missing > 0 {
                    eprintln!("注意 note: {missing} before-photo(s) not on this device yet: run `anfang sync` online");
                }
            }
            if json {
                say!("{}", serde_json::to_string_pretty(&visits)?);
            } else if visits.is_empty() {
                say!("今天没有抽签任务 no drawn visits today (sync to receive them)");
            } else {
                for v in visits {
                    let a = &v.assignment;
                    let (s, e) = (tz.to_datetime(a.starts_at).time(), tz.to_datetime(a.ends_at).time());
                    let done =
                        if v.findings > 0 { format!("  已记录 {} 条 recorded", v.findings) } else { String::new() };
                    let kind = if a.recheck.is_some() { "复查任务 " } else { "" };
                    say!(
                        "{kind}{} {} {}–{}  {} {}  --assignment {}{done}",
                        a.date,
                        a.slot_label,
                        s.strftime("%H:%M"),
                        e.strftime("%H:%M"),
                        a.point_id,
                        v.point_name.as_deref().unwrap_or_default(),
                        a.id
                    );
                    if let Some(t) = &a.recheck {
                        let category = store
                            .categories()?
                            .into_iter()
                            .find(|c| c.code == t.category)
                            .map(|c| c.name)
                            .unwrap_or_else(|| t.category.clone());
                        say!("    整改单 case {}  {} {}", t.case_ref, t.card.label_zh(), category);
                        for sha in &t.photos {
                            let here =
                                if store.recheck_photo(sha)?.is_some() { "" } else { "  (未下载 not fetched)" };
                            say!("    整改前照片 before photo {sha}{here}");
                        }
                        say!(
                            "    记录 record: anfang record --assignment {} --recheck passed|failed --photo AFTER.jpg",
                            a.id
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Record { point, assignment, recheck, category, card, note, unit, lat, lon, accuracy, photos } => {
            // A re-check takes the case's category and card unless told.
            let task = match (recheck, assignment) {
                (Some(_), Some(a)) => Some(store.assignment(a)?.and_then(|a| a.recheck).ok_or_else(|| {
                    anyhow::anyhow!("assignment {a} is not a re-check visit (复查任务) on this device")
                })?),
                _ => None,
            };
            let category = match (category, &task) {
                (Some(c), _) => c,
                (None, Some(t)) => t.category.clone(),
                (None, None) => bail!("give --category"),
            };
            let card = match (card, &task, recheck) {
                (Some(c), _, _) => c,
                (None, Some(_), Some(Verdict::Passed)) => Card::Green,
                (None, Some(t), _) => t.card,
                (None, None, _) => bail!("give --card"),
            };
            let point = match (point, assignment) {
                (Some(p), _) => p,
                (None, Some(a)) => {
                    store
                        .assignment(a)?
                        .ok_or_else(|| {
                            anyhow::anyhow!("no assignment {a} on this device; run `anfang visits` after a sync")
                        })?
                        .point_id
                }
                (None, None) => bail!("give --point or --assignment"),
            };
            let mut notes = Vec::new();
            let location = match (lat, lon, accuracy) {
                (Some(lat), Some(lon), Some(accuracy_m)) => {
                    let loc = Location { lat, lon, accuracy_m, captured_at: jiff::Timestamp::now() };
                    loc.validate()?;
                    if accuracy_m > ACCURACY_WARNING_M {
                        notes.push(format!(
                            "警告 warning: position accuracy is {accuracy_m:.0} m (over {ACCURACY_WARNING_M:.0} m); check the point"
                        ));
                    }
                    Some(loc)
                }
                _ => {
                    notes.push("注意 note: no position given; the finding is recorded with no fix".to_owned());
                    None
                }
            };
            if store.point(&point)?.is_none() {
                bail!("unknown point {point:?}; run `anfang points` to list them, or `anfang sync` to refresh");
            }
            let options = PhotoOptions::default();
            let mut processed = Vec::with_capacity(photos.len());
            for path in &photos {
                let bytes = std::fs::read(path).with_context(|| format!("cannot read photo {}", path.display()))?;
                let p = photo::process(&bytes, &options).with_context(|| format!("photo {}", path.display()))?;
                processed.push(p);
            }
            let new = NewFinding { point_id: point, unit_id: unit, category, card, note, location, photos: processed };
            let content = match (assignment, recheck) {
                (Some(a), Some(v)) => store.record_recheck_finding(a, v == Verdict::Passed, new, &SystemClock)?,
                (Some(a), None) => store.record_assignment_finding(a, new, &SystemClock)?,
                (None, _) => store.record_finding(new, &SystemClock)?,
            };
            for note in notes {
                eprintln!("{note}");
            }
            if let Some(v) = recheck {
                say!(
                    "复查结果 re-check: {}",
                    if v == Verdict::Passed { "复查通过 passed" } else { "复查未通过 failed" }
                );
            }
            say!("已保存 saved ({} unsynced on this device)", store.unsynced_count()?);
            say!("{}", content.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Findings { json } => {
            let findings = store.findings()?;
            if json {
                say!("{}", serde_json::to_string_pretty(&findings)?);
            } else {
                for f in findings {
                    let state = match &f.sync {
                        SyncState::Local => "本地 local".to_owned(),
                        SyncState::Uploading { attempts, last_error } => format!(
                            "上传中 uploading (tried {attempts}×{})",
                            last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
                        ),
                        SyncState::Synced => "已同步 synced".to_owned(),
                        SyncState::Rejected { reason } => format!("已拒绝 rejected: {reason}"),
                    };
                    say!(
                        "{}\t{}\t{}\t{}\t{}\t{state}",
                        f.content.id,
                        f.content.observed_at,
                        f.content.point_id,
                        f.content.category,
                        f.content.card.label_zh()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn sync(store: &mut Store, progress: bool) -> anyhow::Result<anfang_core::SyncReport> {
    let enrollment = enrolled(store)?;
    let transport = HttpTransport::new(&enrollment.server_url, &enrollment.token)?;
    let bar = (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("照片 photos {bar:30} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut base = 0u64;
    let mut on_event = |event: SyncEvent| {
        let Some(bar) = &bar else { return };
        match event {
            SyncEvent::PhotosPlanned { bytes, .. } => bar.set_length(bytes),
            SyncEvent::PhotoProgress { sent, .. } => bar.set_position(base + sent),
            SyncEvent::PhotoDone { .. } => base = bar.position(),
            SyncEvent::FindingDone { .. } => {}
        }
    };
    let mut engine = SyncEngine::new(store, &transport, &SystemClock)
        .with_options(SyncOptions { ignore_backoff: true, ..Default::default() });
    let result = engine.sync(&mut on_event).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => Ok(report),
        Err(SyncError::Unauthorized(TransportError::Revoked { code, message })) => {
            // Nothing is deleted: say what is still here and how to hand it over.
            let pending = store.unsynced_count()?;
            bail!(
                "{}（{message}）\n本机仍有 {pending} 条未同步记录，未被删除 {pending} unsynced finding(s) are kept on this device: \
                 list them with `anfang findings`, export them with `anfang findings --json > findings.json` \
                 for the office, or send them after `anfang enroll --again --server URL --code NEW_CODE` with a new code from the office",
                code.zh()
            )
        }
        Err(e) => Err(e.into()),
    }
}
