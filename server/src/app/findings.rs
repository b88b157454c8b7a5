//! The office's view of findings: a page of the list or one finding, and
//! what each role may see of them (三不三无: leaders never learn who
//! inspected, nor when a phone pushed).

use crate::auth::{OfficeCaller, Role};
use crate::db::Db;
use crate::db::findings::{EffectiveView, FindingRecord, LateArrival, ListFilter, LocationView, Named, StoredPhoto};
use crate::error::AppError;
use crate::redact::AliasMask;
use serde::Serialize;

/// A photo as the office API lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PhotoView {
    pub sha256: String,
    pub url: String,
    pub thumbnail_url: String,
    pub width: u32,
    pub height: u32,
    pub byte_len: u64,
}

/// A finding as the office API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingView {
    pub id: String,
    pub point: Named,
    pub point_kind: String,
    pub unit: Named,
    pub category: Named,
    pub card: anfang_core::Card,
    pub note: Option<String>,
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub observed_at: jiff::Timestamp,
    /// When the server received the push: one value per batch, so it groups
    /// one phone's findings; reviewers and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "date-time"))]
    pub received_at: Option<jiff::Timestamp>,
    pub location: Option<LocationView>,
    pub photos: Vec<PhotoView>,
    pub content_hash: String,
    /// The inspector's pseudonym; reviewers and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspector: Option<String>,
    /// The drawn visit this finding was made on, if any (reviewers and
    /// admins only, like the inspector).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment_id: Option<String>,
    /// Set when the finding is linked to a drawn visit and reached the
    /// server more than [`LATE_AFTER_MS`](crate::db::findings::LATE_AFTER_MS) after the visit's slot ended
    /// (reviewers and admins only, like `assignment_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_arrival: Option<LateArrival>,
    /// Review status: pending, accept, correct or reject (latest revision).
    pub status: String,
    /// Category, unit and card after review (as captured while pending).
    /// The fields above stay exactly as captured.
    pub effective: EffectiveView,
    /// Every review revision, oldest first; only in the single-finding view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<crate::db::reviews::Revision>>,
}

/// Where the office API serves a photo and its thumbnail.
pub fn photo_view(p: StoredPhoto) -> PhotoView {
    PhotoView {
        url: format!("/api/v1/photos/{}", p.sha256),
        thumbnail_url: format!("/api/v1/photos/{}/thumbnail", p.sha256),
        sha256: p.sha256,
        width: p.width,
        height: p.height,
        byte_len: p.byte_len,
    }
}

/// The full view of a stored finding, as reviewers see it; [`redact_for`]
/// then takes away what a caller's role may not see.
pub fn view(r: FindingRecord) -> FindingView {
    FindingView {
        late_arrival: r.visit_ends_ms.and_then(|ends| LateArrival::of(ends, r.received_at.as_millisecond())),
        id: r.id,
        point: r.point,
        point_kind: r.point_kind,
        unit: r.unit,
        category: r.category,
        card: r.card,
        note: r.note,
        observed_at: r.observed_at,
        received_at: Some(r.received_at),
        location: r.location,
        photos: r.photos.into_iter().map(photo_view).collect(),
        content_hash: r.content_hash,
        inspector: Some(r.inspector),
        assignment_id: r.assignment_id,
        status: r.status,
        effective: r.effective,
        revisions: r.revisions,
    }
}

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
    let (records, mask) = db.list_findings(filter).await?;
    let mut items: Vec<FindingView> = records.into_iter().map(view).collect();
    for f in &mut items {
        redact_for(caller, f, &mask);
    }
    Ok(items)
}

/// One finding, by id or by the public reference a unit or a bulletin
/// quotes, as `caller` may see it.
pub async fn get(db: &Db, caller: &OfficeCaller, id_or_ref: &str) -> Result<FindingView, AppError> {
    let (found, mask) = db.finding_with_mask(id_or_ref).await?;
    found
        .map(|r| {
            let mut f = view(r);
            redact_for(caller, &mut f, &mask);
            f
        })
        .ok_or_else(|| AppError::NotFound(format!("no finding with id {id_or_ref}")))
}
