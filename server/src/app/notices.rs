//! The delivery log (通知记录) and an admin's retry of a failed notice.
//! Targets leave the server masked ([`crate::notify::mask_target`]): the
//! log says who was told, not the address or a robot's key.

use crate::db::Db;
use crate::db::notices::{NoticeFilter, NoticeView};
use crate::error::AppError;

fn masked(mut v: NoticeView) -> NoticeView {
    let masked = crate::notify::mask_target(v.channel, &v.target);
    // A test notice names its own address in the text.
    if !v.target.is_empty() {
        v.body = v.body.replace(&v.target, &masked);
    }
    v.target = masked;
    v
}

/// The log, newest first, with targets masked.
pub async fn list(db: &Db, filter: NoticeFilter) -> Result<Vec<NoticeView>, AppError> {
    Ok(db.notices(filter).await?.into_iter().map(masked).collect())
}

/// A failed notice back to pending, due now; its attempts are kept. The
/// caller wakes the delivery worker.
pub async fn retry(db: &Db, id: i64, now: jiff::Timestamp) -> Result<NoticeView, AppError> {
    db.retry_notice(id, now).await.map(masked)
}
