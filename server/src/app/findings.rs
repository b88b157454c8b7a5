//! The office's view of findings: a page of the list or one finding, and
//! what each role may see of them (三不三无: leaders never learn who
//! inspected, nor when a phone pushed).

use crate::auth::{OfficeCaller, Role};
use crate::db::Db;
use crate::db::findings::{FindingView, ListFilter};
use crate::error::AppError;
use crate::redact::AliasMask;

/// Leaders read findings but never learn who inspected (三不三无): no
/// alias, no drawn visit, no receipt time (one value per push batch, it
/// groups one phone's findings, and beside the capture time it shows that
/// phone's clock offset), and aliases typed into the note or into a
/// reviewer's reason are masked.
pub fn redact_for(caller: &OfficeCaller, f: &mut FindingView, mask: &AliasMask) {
    if caller.role < Role::Reviewer {
        f.inspector = None;
        f.assignment_id = None;
        f.late_arrival = None;
        f.received_at = None;
        mask.mask_note(&mut f.note);
        for r in f.revisions.iter_mut().flatten() {
            mask.mask_note(&mut r.reason);
        }
    }
}

/// A page of findings as `caller` may see them.
pub async fn list(db: &Db, caller: &OfficeCaller, filter: ListFilter) -> Result<Vec<FindingView>, AppError> {
    caller.require(Role::Leader)?;
    let (mut items, mask) = db.list_findings(filter).await?;
    for f in &mut items {
        redact_for(caller, f, &mask);
    }
    Ok(items)
}

/// One finding, by id or by the public reference a unit or a bulletin
/// quotes, as `caller` may see it.
pub async fn get(db: &Db, caller: &OfficeCaller, id_or_ref: &str) -> Result<FindingView, AppError> {
    caller.require(Role::Leader)?;
    let (found, mask) = db.finding_with_mask(id_or_ref).await?;
    found
        .map(|mut f| {
            redact_for(caller, &mut f, &mask);
            f
        })
        .ok_or_else(|| AppError::NotFound(format!("no finding with id {id_or_ref}")))
}
