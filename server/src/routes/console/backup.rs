//! 备份 (admins only): where and when the server backs itself up, the
//! retention, the last runs with their size and duration, and a button to
//! back up now. The passphrase is never on the page: only the path of the
//! file it is read from.

use super::{ConsoleUser, Form, flash, hidden_csrf, internal, page};
use crate::AppState;
use crate::app::backups;
use crate::cli::human_bytes;
use crate::db::backup::BackupSettings;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

pub async fn backup_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render(&state, &user, None, None).await
}

async fn render(state: &AppState, user: &ConsoleUser, error: Option<&str>, ok: Option<&str>) -> Response {
    let status = match backups::status(&state.db, state.clock.now()).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let tz = state.config.timezone.clone();
    let local = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let s = &status.settings;
    let body = html! {
        (flash(error, ok))
        @if let Some(w) = &status.warning { p.err { (w) } }
        div.box {
            @match status.last_good_ms {
                Some(ms) => p { "最近一次成功备份：" b { (local(ms)) } },
                None => p { "还没有成功的备份。" },
            }
            form method="post" action="/console/backup/run" {
                (hidden_csrf(user))
                button disabled[s.target.is_empty()] { "立即备份" }
                @if s.target.is_empty() { " " span.muted { "（先设置备份目录）" } }
            }
        }
        form.box method="post" action="/console/backup" style="display:flex;flex-direction:column;gap:.6rem" {
            (hidden_csrf(user))
            h2 style="margin-top:0" { "备份设置" }
            label {
                "备份目录（U 盘、移动硬盘或 NAS 共享目录的绝对路径；留空表示不自动备份）" br;
                input name="target" value=(s.target) style="width:100%" placeholder="/mnt/usb/anfang-backup";
            }
            div.edit {
                label { "每天备份时间" input name="at" value=(s.at) size="5" required placeholder="02:00"; }
                label { "保留每日备份（份）" input name="keep_daily" value=(s.keep_daily) size="4" inputmode="numeric" required; }
                label { "保留每月备份（份）" input name="keep_monthly" value=(s.keep_monthly) size="4" inputmode="numeric" required; }
            }
            label {
                "加密口令文件（可选；备份离开办公室时请加密。文件第一行为口令，至少 8 个字符；口令本身不保存在系统中）" br;
                input name="passphrase_file" value=(s.passphrase_file) style="width:100%" placeholder="/etc/anfang/backup-passphrase";
            }
            button { "保存备份设置" }
        }
        @if !status.runs.is_empty() {
            h2 { "最近的备份" }
            table {
                thead { tr { th { "开始时间" } th { "结果" } th { "方式" } th { "用时" } th { "备份大小" } th { "本次复制" } th { "备份名" } th { "说明" } } }
                tbody {
                    @for r in status.runs.iter().map(|r| &r.run) {
                        tr {
                            td { (local(r.started_ms)) }
                            td { @if r.ok { span.ok { "成功" } } @else { span.err { "失败" } } }
                            td { (match r.trigger.as_str() { "schedule" => "定时", "console" => "手动", _ => "命令行" }) }
                            td { (format!("{:.1} 秒", r.duration_ms as f64 / 1000.0)) }
                            td { (human_bytes(r.total_bytes.max(0) as u64)) }
                            td { (human_bytes(r.copied_bytes.max(0) as u64)) }
                            td { code { (r.snapshot.as_deref().unwrap_or("—")) } }
                            td { (r.message) }
                        }
                    }
                }
            }
        }
        div.box {
            h2 style="margin-top:0" { "恢复" }
            p { "在新机器上：" code { "anfang-server restore --from 备份目录 --data-dir 新数据目录" }
                "。恢复后会自动校验，并打印备份时的证据链头与恢复后的证据链头；两者应与最近一期通报所印的链头一致。" }
        }
    };
    let code = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (code, page(user, "/console/backup", "备份", body)).into_response()
}

pub async fn save(State(state): State<AppState>, user: ConsoleUser, form: Form) -> Response {
    let number = |k: &str| form.get(k).parse::<u32>();
    let (Ok(keep_daily), Ok(keep_monthly)) = (number("keep_daily"), number("keep_monthly")) else {
        return render(&state, &user, Some("无法保存：保留份数须为整数。"), None).await;
    };
    let input = BackupSettings {
        target: form.get("target").to_owned(),
        at: form.get("at").to_owned(),
        keep_daily,
        keep_monthly,
        passphrase_file: form.get("passphrase_file").to_owned(),
    };
    let settings = match backups::validate(&input, &state.config.data_dir) {
        Ok(s) => s,
        Err(e) => return render(&state, &user, Some(&format!("无法保存：{}", e.zh())), None).await,
    };
    match state.db.save_backup_settings(settings).await {
        Ok(()) => render(&state, &user, None, Some("备份设置已保存。")).await,
        Err(e) => internal(e),
    }
}

pub async fn run_now(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let settings = match state.db.backup_settings().await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    if settings.target.is_empty() {
        return render(&state, &user, Some("还没有设置备份目录。"), None).await;
    }
    let tz = state.config.timezone.clone();
    match backups::run(&state.db, &state.config.data_dir, &settings, &tz, state.clock.now(), "console").await {
        Ok(r) if r.run.ok => {
            let r = r.run;
            let msg = format!(
                "备份完成：{}，共 {}，本次复制 {}。",
                r.snapshot.as_deref().unwrap_or(""),
                human_bytes(r.total_bytes.max(0) as u64),
                human_bytes(r.copied_bytes.max(0) as u64)
            );
            render(&state, &user, None, Some(&msg)).await
        }
        Ok(r) => render(&state, &user, Some(&format!("备份未成功：{}", r.run.message)), None).await,
        Err(e) => internal(e),
    }
}
