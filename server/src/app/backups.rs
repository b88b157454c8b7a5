//! The server's own backups: the settings' rules, one run (backup, then
//! retention), its record, when the next scheduled run is due, and whether
//! the last good backup is old enough to warn admins.
//!
//! The file work is [`crate::backup`]; this module decides and records.

use crate::backup::{self, BackupOptions};
use crate::db::Db;
use crate::db::backup::{BackupRun, BackupSettings, RunRecord};
use crate::error::AppError;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Admins are warned when the last good backup is older than this.
pub const STALE_AFTER_MS: i64 = 2 * 24 * 3600 * 1000;
/// A failed scheduled run is tried again after this long.
const RETRY_AFTER_MS: i64 = 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum BackupSettingsError {
    #[error("the backup folder must be an absolute path (e.g. /mnt/usb/anfang-backup), got {0:?}")]
    RelativeTarget(String),
    #[error("the backup folder may not be inside the data dir: a disk failure would take both")]
    InsideDataDir,
    #[error("the time of day must be HH:MM (00:00 to 23:59), got {0:?}")]
    BadTime(String),
    #[error("keep at least 1 daily backup (at most 3650), got {0}")]
    BadDaily(u32),
    #[error("monthly backups to keep must be 0 to 1200, got {0}")]
    BadMonthly(u32),
    #[error("the passphrase file {0:?} cannot be used: {1}")]
    BadPassphraseFile(String, String),
}

impl BackupSettingsError {
    pub fn field(&self) -> &'static str {
        match self {
            Self::RelativeTarget(_) | Self::InsideDataDir => "target",
            Self::BadTime(_) => "at",
            Self::BadDaily(_) => "keep_daily",
            Self::BadMonthly(_) => "keep_monthly",
            Self::BadPassphraseFile(..) => "passphrase_file",
        }
    }

    pub fn zh(&self) -> String {
        match self {
            Self::RelativeTarget(t) => format!("备份目录须为绝对路径（如 /mnt/usb/anfang-backup），当前为“{t}”。"),
            Self::InsideDataDir => "备份目录不能位于数据目录之内：一块硬盘坏了，两份都会丢失。".into(),
            Self::BadTime(t) => format!("备份时间须为 HH:MM（00:00 至 23:59），当前为“{t}”。"),
            Self::BadDaily(n) => format!("每日备份至少保留 1 份（至多 3650 份），当前为 {n}。"),
            Self::BadMonthly(n) => format!("每月备份保留份数须为 0 至 1200，当前为 {n}。"),
            Self::BadPassphraseFile(f, e) => format!("口令文件“{f}”不可用：{e}"),
        }
    }
}

/// Checks settings before they are stored; an empty target turns scheduled
/// backups off (and needs nothing else).
pub fn validate(s: &BackupSettings, data_dir: &Path) -> Result<BackupSettings, BackupSettingsError> {
    let mut s = s.clone();
    s.target = s.target.trim().to_owned();
    s.at = s.at.trim().to_owned();
    s.passphrase_file = s.passphrase_file.trim().to_owned();
    parse_at(&s.at).ok_or_else(|| BackupSettingsError::BadTime(s.at.clone()))?;
    if !(1..=3650).contains(&s.keep_daily) {
        return Err(BackupSettingsError::BadDaily(s.keep_daily));
    }
    if s.keep_monthly > 1200 {
        return Err(BackupSettingsError::BadMonthly(s.keep_monthly));
    }
    if s.target.is_empty() {
        return Ok(s);
    }
    let target = Path::new(&s.target);
    if !target.is_absolute() {
        return Err(BackupSettingsError::RelativeTarget(s.target.clone()));
    }
    let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let resolved = nearest_existing(target);
    if resolved.starts_with(&data) {
        return Err(BackupSettingsError::InsideDataDir);
    }
    if !s.passphrase_file.is_empty() {
        backup::crypt::read_passphrase(Path::new(&s.passphrase_file))
            .map_err(|e| BackupSettingsError::BadPassphraseFile(s.passphrase_file.clone(), e))?;
    }
    Ok(s)
}

/// The path with symlinks resolved as far as it exists, the rest appended.
fn nearest_existing(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut p = path.to_owned();
    loop {
        if let Ok(c) = std::fs::canonicalize(&p) {
            return rest.into_iter().rev().fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (p.file_name().map(|f| f.to_owned()), p.parent()) {
            (Some(f), Some(parent)) => {
                rest.push(f);
                p = parent.to_owned();
            }
            _ => return path.to_owned(),
        }
    }
}

fn parse_at(at: &str) -> Option<jiff::civil::Time> {
    let (h, m) = at.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    jiff::civil::Time::new(h, m, 0, 0).ok()
}

/// The latest scheduled instant at or before `now`: today's `at` in the
/// office zone, or yesterday's if that is still ahead.
pub fn last_scheduled(at: &str, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let time = parse_at(at)?;
    let today = tz.to_datetime(now).date();
    let todays = today.to_datetime(time).to_zoned_datetime(tz.clone()).ok()?.timestamp();
    if todays <= now {
        Some(todays)
    } else {
        today.yesterday().ok()?.to_datetime(time).to_zoned_datetime(tz.clone()).ok().map(|z| z.timestamp())
    }
}

/// Whether a scheduled run is due now, from the runs since the last
/// scheduled instant: none yet, or only failures the last over an hour ago.
/// A server that was off at 02:00 backs up when it comes back.
pub fn is_due(settings: &BackupSettings, runs: &[BackupRun], now: Timestamp, tz: &TimeZone) -> bool {
    if settings.target.is_empty() {
        return false;
    }
    let Some(slot) = last_scheduled(&settings.at, now, tz) else { return false };
    let slot_ms = slot.as_millisecond();
    let since: Vec<&RunRecord> =
        runs.iter().map(|r| &r.run).filter(|r| r.started_ms >= slot_ms && r.target == settings.target).collect();
    if since.iter().any(|r| r.ok) {
        return false;
    }
    match since.iter().map(|r| r.started_ms + r.duration_ms).max() {
        None => true,
        Some(last_end) => now.as_millisecond() - last_end >= RETRY_AFTER_MS,
    }
}

/// One run: back up, apply retention, record the outcome (also a failure).
/// Runs the file work on the blocking pool.
pub async fn run(
    db: &Db,
    data_dir: &Path,
    settings: &BackupSettings,
    tz: &TimeZone,
    now: Timestamp,
    trigger: &str,
) -> Result<BackupRun, AppError> {
    if settings.target.is_empty() {
        return Err(AppError::BadRequest("no backup folder is set: set one in the backup settings first".into()));
    }
    let (data_dir, s, tz2) = (data_dir.to_owned(), settings.clone(), tz.clone());
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || -> Result<(backup::BackupReport, String), String> {
        let passphrase = match s.passphrase_file.as_str() {
            "" => None,
            f => Some(backup::crypt::read_passphrase(Path::new(f))?),
        };
        let target = PathBuf::from(&s.target);
        let report =
            backup::backup(&data_dir, &target, &BackupOptions { passphrase }, now).map_err(|e| e.to_string())?;
        let pruned = backup::prune(&target, s.keep_daily, s.keep_monthly, &tz2).map_err(|e| e.to_string())?;
        let mut note = format!(
            "复制 {} 个文件，已有 {} 个；保留 {} 份，删除 {} 份",
            report.objects_copied,
            report.objects_reused,
            pruned.kept.len(),
            pruned.removed.len()
        );
        if !report.source_problems.is_empty() {
            note = format!(
                "{note}；{} 个文件在数据目录中缺失或被改动，未能备份：{}",
                report.source_problems.len(),
                report.source_problems.join("; ")
            );
        }
        Ok((report, note))
    })
    .await
    .map_err(AppError::internal)?;
    let mut run = RunRecord {
        started_ms: now.as_millisecond(),
        duration_ms: started.elapsed().as_millis() as i64,
        ok: false,
        target: settings.target.clone(),
        snapshot: None,
        total_bytes: 0,
        copied_bytes: 0,
        message: String::new(),
        trigger: trigger.into(),
    };
    match outcome {
        Ok((report, message)) => {
            run.ok = report.source_problems.is_empty();
            run.snapshot = Some(report.snapshot.clone());
            run.total_bytes = report.manifest.total_bytes() as i64;
            run.copied_bytes = report.bytes_copied as i64;
            run.message = message;
        }
        Err(message) => {
            tracing::error!(target = %settings.target, %message, "backup failed");
            run.message = message;
        }
    }
    let id = db.record_backup_run(run.clone()).await?;
    Ok(BackupRun { id, run })
}

/// What admins are told about backups.
#[derive(Debug, Clone)]
pub struct Status {
    pub settings: BackupSettings,
    pub runs: Vec<BackupRun>,
    pub last_good_ms: Option<i64>,
    /// The warning to show, if any (in Chinese).
    pub warning: Option<String>,
}

pub async fn status(db: &Db, now: Timestamp) -> Result<Status, AppError> {
    let (settings, runs, last_good_ms) =
        tokio::try_join!(db.backup_settings(), db.backup_runs(20), db.last_good_backup_ms())?;
    let warning = warning(&settings, last_good_ms, now);
    Ok(Status { settings, runs, last_good_ms, warning })
}

/// The admins' warning: no backup folder, never a good backup, or the last
/// good one older than two days.
pub fn warning(settings: &BackupSettings, last_good_ms: Option<i64>, now: Timestamp) -> Option<String> {
    match last_good_ms {
        Some(ms) if now.as_millisecond() - ms <= STALE_AFTER_MS => None,
        Some(ms) => Some(format!(
            "最近一次成功备份是 {} 天前：数据与证据只在本机一块硬盘上。请检查备份设置与备份盘。",
            (now.as_millisecond() - ms) / (24 * 3600 * 1000)
        )),
        None if settings.target.is_empty() => {
            Some("尚未设置备份：全部发现、通报与证据链只在本机一块硬盘上。请在“备份”页设置备份目录。".into())
        }
        None => Some("尚无成功的备份。请在“备份”页查看最近一次的结果。".into()),
    }
}

/// The loop `serve` starts: once a minute, runs the scheduled backup when
/// it is due (see [`is_due`]), only while this instance holds the background
/// lease (`held`, see [`super::jobs`]). Settings are read each round, so a
/// change in the console applies without a restart.
pub async fn run_forever(
    db: Db,
    data_dir: PathBuf,
    clock: crate::clock::Clock,
    tz: TimeZone,
    every: std::time::Duration,
    mut held: super::jobs::Held,
) {
    let running = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        held.until_held().await;
        let _turn = running.lock().await;
        let now = clock.now();
        match tokio::try_join!(db.backup_settings(), db.backup_runs(50)) {
            Ok((settings, runs)) if is_due(&settings, &runs, now, &tz) => {
                match run(&db, &data_dir, &settings, &tz, now, "schedule").await {
                    Ok(r) if r.run.ok => {
                        tracing::info!(snapshot = ?r.run.snapshot, ms = r.run.duration_ms, "scheduled backup done")
                    }
                    Ok(r) => tracing::warn!(message = %r.run.message, "scheduled backup did not succeed"),
                    Err(e) => tracing::error!(error = %e, "scheduled backup could not run"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "reading the backup settings"),
        }
        drop(_turn);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }
    fn at(local: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", local).unwrap().to_zoned_datetime(tz()).unwrap().timestamp()
    }
    fn settings() -> BackupSettings {
        BackupSettings { target: "/mnt/usb/b".into(), ..BackupSettings::defaults() }
    }
    fn run_at(local: &str, ok: bool) -> BackupRun {
        BackupRun {
            id: 1,
            run: RunRecord {
                started_ms: at(local).as_millisecond(),
                duration_ms: 1000,
                ok,
                target: "/mnt/usb/b".into(),
                snapshot: None,
                total_bytes: 0,
                copied_bytes: 0,
                message: String::new(),
                trigger: "schedule".into(),
            },
        }
    }

    #[test]
    fn a_backup_is_due_once_per_day_at_the_office_time_and_catches_up() {
        let s = settings();
        // Last good run yesterday at 02:00; now 01:59: not yet.
        let runs = vec![run_at("2026-11-30 02:00", true)];
        assert!(!is_due(&s, &runs, at("2026-12-01 01:59"), &tz()));
        assert!(is_due(&s, &runs, at("2026-12-01 02:00"), &tz()));
        // The office PC was off at 02:00: it backs up when it comes back.
        assert!(is_due(&s, &runs, at("2026-12-01 09:15"), &tz()));
        let runs = vec![run_at("2026-11-30 02:00", true), run_at("2026-12-01 02:00", true)];
        assert!(!is_due(&s, &runs, at("2026-12-01 23:59"), &tz()));
    }

    #[test]
    fn a_failed_run_is_retried_after_an_hour_until_one_succeeds() {
        let s = settings();
        let runs = vec![run_at("2026-12-01 02:00", false)];
        assert!(!is_due(&s, &runs, at("2026-12-01 02:30"), &tz()));
        assert!(is_due(&s, &runs, at("2026-12-01 03:01"), &tz()));
        assert!(!is_due(&BackupSettings { target: String::new(), ..s }, &[], at("2026-12-01 03:01"), &tz()));
    }

    #[test]
    fn admins_are_warned_after_two_days_without_a_good_backup() {
        let s = settings();
        let now = at("2026-12-03 10:00");
        assert_eq!(warning(&s, Some(at("2026-12-02 02:00").as_millisecond()), now), None);
        let w = warning(&s, Some(at("2026-12-01 02:00").as_millisecond()), now).expect("a warning");
        assert!(w.contains("2 天前"), "{w}");
        assert!(warning(&BackupSettings::defaults(), None, now).unwrap().contains("尚未设置备份"));
        assert!(warning(&s, None, now).unwrap().contains("尚无成功的备份"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused_naming_the_field() {
        let data = tempfile::tempdir().unwrap();
        let ok = validate(&settings(), data.path()).unwrap();
        assert_eq!(ok.target, "/mnt/usb/b");
        let refuse = |s: BackupSettings| validate(&s, data.path()).unwrap_err().field();
        assert_eq!(refuse(BackupSettings { target: "backups".into(), ..settings() }), "target");
        let inside = data.path().join("backup").display().to_string();
        assert_eq!(refuse(BackupSettings { target: inside, ..settings() }), "target");
        assert_eq!(refuse(BackupSettings { at: "2:00".into(), ..settings() }), "at");
        assert_eq!(refuse(BackupSettings { at: "24:00".into(), ..settings() }), "at");
        assert_eq!(refuse(BackupSettings { keep_daily: 0, ..settings() }), "keep_daily");
        assert_eq!(refuse(BackupSettings { keep_monthly: 5000, ..settings() }), "keep_monthly");
        let missing = data.path().join("no-such-file").display().to_string();
        assert_eq!(refuse(BackupSettings { passphrase_file: missing, ..settings() }), "passphrase_file");
    }
}
