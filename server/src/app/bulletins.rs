//! Bulletins: compiling a draft for a period from the reviewed findings,
//! editing its text (which may not name an inspector), recompiling, and
//! issuing it with the next number of its year. Reviewers and admins
//! write; leaders read. The compile itself is pure (`bulletin::compile`);
//! the store gives it its inputs and keeps the rows.

use crate::auth::OfficeCaller;
use crate::bulletin::{self, Period};
use crate::db::Db;
use crate::db::bulletins::{BulletinRow, Issued};
use crate::error::AppError;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Longest title, and longest lead, closing or distribution text (characters).
pub const MAX_TITLE: usize = 200;
pub const MAX_TEXT: usize = 5000;

/// A change to a draft's text; absent fields stay.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    pub title: Option<String>,
    pub lead: Option<String>,
    pub closing: Option<String>,
    pub distribution: Option<String>,
}

/// Today in the office's time zone.
pub fn today(tz: &TimeZone, now: Timestamp) -> jiff::civil::Date {
    now.to_zoned_datetime(tz.clone()).date()
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("no bulletin with id {id}"))
}

/// A stored bulletin, or 404.
pub async fn load(db: &Db, id: i64) -> Result<BulletinRow, AppError> {
    db.bulletin(id).await?.ok_or_else(|| not_found(id))
}

/// Compiles the body of `period` as of `now`.
async fn compile(db: &Db, period: &Period, tz: &TimeZone, now: Timestamp) -> Result<bulletin::Body, AppError> {
    let (from, to) = period.bounds_ms(tz);
    let (prev_from, prev_to) = period.previous().bounds_ms(tz);
    let inputs = db.bulletin_inputs((from, to), (prev_from, prev_to)).await?;
    Ok(bulletin::compile(period, &inputs.rows, &inputs.previous, &inputs.deadlines, &inputs.cases, tz, now))
}

/// Compiles a new draft for a period.
pub async fn compile_draft(
    db: &Db,
    tz: &TimeZone,
    caller: &OfficeCaller,
    kind: &str,
    from: &str,
    to: Option<&str>,
    now: Timestamp,
) -> Result<BulletinRow, AppError> {
    let period = Period::parse(kind, from, to).map_err(AppError::Unprocessable)?;
    let body = compile(db, &period, tz, now).await?;
    let settings = db.bulletin_settings().await?;
    let text = bulletin::default_text(&period, &settings.distribution);
    let compiled = serde_json::to_string(&body).map_err(AppError::internal)?;
    db.create_bulletin(period, text, settings, compiled, caller.user_id, now).await
}

/// Changes a draft's text fields (an issued bulletin is refused by the store).
pub async fn edit_text(db: &Db, id: i64, edit: Edit, now: Timestamp) -> Result<BulletinRow, AppError> {
    check_edit(&edit)?;
    db.edit_bulletin_text(
        id,
        move |row, mask| {
            let text = bulletin::Text {
                title: edit.title.map(|t| t.trim().to_owned()).unwrap_or_else(|| row.title.clone()),
                lead: edit.lead.unwrap_or_else(|| row.lead.clone()),
                closing: edit.closing.unwrap_or_else(|| row.closing.clone()),
                distribution: edit.distribution.unwrap_or_else(|| row.distribution.clone()),
            };
            // A bulletin is read by leaders, units and the public: it may
            // not name an inspector (不见面). Refused, not silently changed.
            for (field, value) in [
                ("title", &text.title),
                ("lead", &text.lead),
                ("closing", &text.closing),
                ("distribution", &text.distribution),
            ] {
                if let Some(alias) = mask.find(value) {
                    return Err(AppError::Unprocessable(format!(
                        "the {field} names the inspector alias {alias}; a bulletin must not identify inspectors, so remove it"
                    )));
                }
            }
            Ok(text)
        },
        now,
    )
    .await
}

/// The rules an edit must meet before the store sees it.
pub fn check_edit(edit: &Edit) -> Result<(), AppError> {
    if edit.title.is_none() && edit.lead.is_none() && edit.closing.is_none() && edit.distribution.is_none() {
        return Err(AppError::Unprocessable("nothing to change: send title, lead, closing or distribution".into()));
    }
    for (field, value) in
        [("title", &edit.title), ("lead", &edit.lead), ("closing", &edit.closing), ("distribution", &edit.distribution)]
    {
        if let Some(v) = value {
            crate::app::reference::check_text(field, v)?;
        }
    }
    if let Some(t) = &edit.title {
        let n = t.trim().chars().count();
        if n == 0 || n > MAX_TITLE {
            return Err(AppError::Unprocessable(format!("title must have 1 to {MAX_TITLE} characters (it has {n})")));
        }
    }
    for (field, value) in [("lead", &edit.lead), ("closing", &edit.closing), ("distribution", &edit.distribution)] {
        if let Some(v) = value {
            let n = v.chars().count();
            if n > MAX_TEXT {
                return Err(AppError::Unprocessable(format!(
                    "{field} may have at most {MAX_TEXT} characters (it has {n})"
                )));
            }
        }
    }
    Ok(())
}

/// Compiles a draft again from the current reviewed findings.
pub async fn recompile_draft(db: &Db, tz: &TimeZone, id: i64, now: Timestamp) -> Result<BulletinRow, AppError> {
    let row = load(db, id).await?;
    if row.status == "issued" {
        return Err(AppError::Conflict {
            message: format!(
                "bulletin {id} was issued as {} and can no longer be recompiled; compile a new bulletin instead",
                row.number.as_deref().unwrap_or("a numbered bulletin")
            ),
            offset: None,
        });
    }
    let period = Period::parse(&row.kind, &row.from, Some(&row.to)).map_err(AppError::internal)?;
    let body = compile(db, &period, tz, now).await?;
    let compiled = serde_json::to_string(&body).map_err(AppError::internal)?;
    db.store_compiled_bulletin(id, compiled, now).await
}

/// Issues a draft: freezes it and gives it the next number of the year.
pub async fn issue_draft(
    db: &Db,
    tz: &TimeZone,
    caller: &OfficeCaller,
    id: i64,
    now: Timestamp,
) -> Result<Issued, AppError> {
    let today = today(tz, now);
    let issued = db
        .issue_bulletin(id, today.year() as i32, caller.user_id, now, move |row, year, seq, number, chain| {
            bulletin::freeze(row, today, year, seq, number, chain)
        })
        .await?;
    tracing::info!(bulletin = id, number = %issued.number, "bulletin issued");
    Ok(issued)
}

/// Every finding observed in a period, for the CSV and GeoJSON exports, in
/// batches as the download reads them (see `Db::export_rows`).
pub async fn export_rows(
    db: &Db,
    tz: &TimeZone,
    period: Period,
) -> Result<crate::db::bulletins::ExportBatches, AppError> {
    db.export_rows(period.bounds_ms(tz)).await
}
