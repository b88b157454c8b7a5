//! The exposure page (曝光台): who may propose, publish and withdraw an
//! entry, what its public text must be, and how its state reads in public.
//!
//! Nothing is public until published. A reviewer proposes a case; an admin
//! publishes it, or another reviewer when the four-eyes setting
//! (`exposure_four_eyes`, 双人审核) is on; the proposer never publishes their
//! own proposal. The publisher confirms the photos were checked for faces
//! and number plates. What was published is frozen and logged
//! ([`crate::db::exposure`]); a withdrawal keeps the entry with a public note.

use crate::auth::{OfficeCaller, Role};
use crate::db::Db;
use crate::db::exposure::{
    OfficeEntry, ProposeFacts, PublicGroup, PublicOrder, PublicQuery, PublicRow, Publication, PublishFacts,
};
use crate::error::AppError;
use crate::rectification::case::CaseState;
use anfang_core::Card;
use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

pub const MAX_TITLE_CHARS: usize = 60;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_NOTE_CHARS: usize = 500;

/// Why an exposure action is refused; each has its stable code.
#[derive(Debug, thiserror::Error)]
pub enum ExposureError {
    #[error("no rectification case or finding {0}; propose a case by its reference (or its finding's id or reference)")]
    CaseUnknown(String),
    #[error("the finding {0} has no rectification case yet: accept its yellow or red card first")]
    NoCase(String),
    #[error("a green card means the point meets the standard; there is nothing to expose")]
    GreenCard,
    #[error("the case is cancelled (its finding was corrected or rejected) and cannot be exposed")]
    CaseCancelled,
    #[error("the case already has exposure entry {0} (proposed or published); work on that entry")]
    AlreadyProposed(String),
    #[error("no exposure entry {0}")]
    NotFound(String),
    #[error("the entry is already published; its text and photos are frozen. Withdraw it with a note to take it down")]
    AlreadyPublished,
    #[error("the entry was withdrawn; propose the case again to expose it anew")]
    Withdrawn,
    #[error("the entry is not published, so there is nothing to withdraw")]
    NotPublished,
    #[error("you proposed this entry; another reviewer or an admin must publish it (four-eyes rule)")]
    OwnProposal,
    #[error("only an admin may publish while the four-eyes setting is off; ask an admin, or have an admin turn it on")]
    NeedsAdmin,
    #[error("the public title must be 1 to {MAX_TITLE_CHARS} characters")]
    TitleLength,
    #[error("the public description must be 1 to {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionLength,
    #[error("the {0} names the inspector alias {1}; public text must not identify inspectors, so remove it")]
    NamesInspector(&'static str, String),
    #[error("photo {0} is not one of this finding's photos; choose among the finding's before-photos")]
    PhotoNotOfCase(String),
    #[error("select at least one of the finding's before-photos to publish")]
    PhotoRequired,
    #[error("confirm that faces and number plates in the photos were checked (faces_checked: true) before publishing")]
    FacesUnchecked,
    #[error("crop of photo {0}: {1}")]
    CropInvalid(String, &'static str),
    #[error("the withdrawal note must be 1 to {MAX_NOTE_CHARS} characters: it is shown publicly in place of the entry")]
    NoteLength,
    #[error("this case is not on the exposure page (not published, or withdrawn); no public commitment is asked for")]
    CommitmentNotPublished,
    #[error("public commitments are for red cards; this case is yellow")]
    CommitmentNotRed,
    #[error("your unit has already made its public commitment on this entry; a commitment is never changed")]
    CommitmentExists,
    #[error("the {0} must be 1 to {1} characters")]
    CommitmentText(&'static str, usize),
    #[error("the commitment's date must be a date from today to a year from now (YYYY-MM-DD)")]
    CommitmentDue,
}

impl From<ExposureError> for AppError {
    fn from(e: ExposureError) -> Self {
        use ExposureError::*;
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        let (status, code, field) = match &e {
            CaseUnknown(_) | NoCase(_) => (StatusCode::NOT_FOUND, ErrorCode::ExposureCaseUnknown, None),
            GreenCard => (unprocessable, ErrorCode::ExposureGreenCard, None),
            CaseCancelled => (unprocessable, ErrorCode::ExposureCaseCancelled, None),
            AlreadyProposed(_) => (StatusCode::CONFLICT, ErrorCode::ExposureAlreadyProposed, None),
            NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::ExposureNotFound, None),
            AlreadyPublished => (StatusCode::CONFLICT, ErrorCode::ExposureAlreadyPublished, None),
            Withdrawn => (StatusCode::CONFLICT, ErrorCode::ExposureWithdrawn, None),
            NotPublished => (StatusCode::CONFLICT, ErrorCode::ExposureNotPublished, None),
            OwnProposal => (StatusCode::FORBIDDEN, ErrorCode::ExposureOwnProposal, None),
            NeedsAdmin => (StatusCode::FORBIDDEN, ErrorCode::ExposureNeedsAdmin, None),
            TitleLength => (unprocessable, ErrorCode::ExposureTitleLength, Some("title")),
            DescriptionLength => (unprocessable, ErrorCode::ExposureDescriptionLength, Some("description")),
            NamesInspector(f, _) => (unprocessable, ErrorCode::ExposureNamesInspector, Some(*f)),
            PhotoNotOfCase(_) => (unprocessable, ErrorCode::ExposurePhotoNotOfCase, Some("photos")),
            PhotoRequired => (unprocessable, ErrorCode::ExposurePhotoRequired, Some("photos")),
            FacesUnchecked => (unprocessable, ErrorCode::ExposureFacesUnchecked, Some("faces_checked")),
            CropInvalid(..) => (unprocessable, ErrorCode::ExposureCropInvalid, Some("crops")),
            NoteLength => (unprocessable, ErrorCode::ExposureNoteLength, Some("note")),
            CommitmentNotPublished => (StatusCode::CONFLICT, ErrorCode::ExposureCommitmentNotPublished, None),
            CommitmentNotRed => (StatusCode::CONFLICT, ErrorCode::ExposureCommitmentNotRed, None),
            CommitmentExists => (StatusCode::CONFLICT, ErrorCode::ExposureCommitmentExists, None),
            CommitmentText(f, _) => (unprocessable, ErrorCode::ExposureCommitmentText, Some(*f)),
            CommitmentDue => (unprocessable, ErrorCode::ExposureCommitmentDue, Some("due_on")),
        };
        let err = AppError::coded(status, code, e.to_string());
        match field {
            Some(f) => err.with_field(f),
            None => err,
        }
    }
}

/// Publishing an entry: the public text and the photos shown.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The public title (1–60 characters).
    #[schemars(length(min = 1, max = 60))]
    pub title: String,
    /// The public description of the problem (1–1000 characters).
    #[schemars(length(min = 1, max = 1000))]
    pub description: String,
    /// SHA-256 of the finding's before-photos to show (at least one when it has any).
    pub photos: Vec<String>,
    /// The publisher confirms faces and number plates in the photos were checked.
    pub faces_checked: bool,
    /// Crops of selected photos, shown instead of them (to hide a face or a
    /// number plate): a new image each; the evidence photo is untouched.
    #[serde(default)]
    pub crops: Vec<CropRequest>,
}

/// A rectangle of a selected photo to publish instead of the whole photo,
/// in per cent of its width and height.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CropRequest {
    /// SHA-256 of the selected photo.
    pub photo: String,
    #[schemars(range(max = 99))]
    pub left: u32,
    #[schemars(range(max = 99))]
    pub top: u32,
    #[schemars(range(min = 1, max = 100))]
    pub width: u32,
    #[schemars(range(min = 1, max = 100))]
    pub height: u32,
}

/// Checks the crops against the selection and cuts each as a new stored
/// photo; returns (source, derived, rectangle) for the publication. Whole-
/// photo rectangles are no crop and are skipped.
async fn make_crops(
    photos: &crate::photos::PhotoStore,
    db: &Db,
    selected: &[String],
    crops: &[CropRequest],
) -> Result<Vec<crate::db::exposure::PublishedCrop>, AppError> {
    let mut out: Vec<crate::db::exposure::PublishedCrop> = Vec::new();
    for c in crops {
        let source = c.photo.trim().to_ascii_lowercase();
        let rect = anfang_core::photo::CropRect { left: c.left, top: c.top, width: c.width, height: c.height };
        if !selected.contains(&source) {
            return Err(
                ExposureError::CropInvalid(source, "only a photo selected for publishing can be cropped").into()
            );
        }
        if !rect.is_valid() {
            return Err(ExposureError::CropInvalid(
                source,
                "the rectangle must lie inside the photo: left + width and top + height at most 100, width and height at least 1",
            )
            .into());
        }
        if out.iter().any(|o| o.source == source) {
            return Err(ExposureError::CropInvalid(source, "one crop per photo").into());
        }
        if rect.is_whole() {
            continue;
        }
        // Not a photo hash, or no such stored photo: the finding cannot have it either.
        if !anfang_core::domain::is_sha256_hex(&source) {
            return Err(ExposureError::PhotoNotOfCase(source).into());
        }
        let bytes = match photos.read(&source, false).await {
            Ok(b) => b,
            Err(AppError::NotFound(_)) => return Err(ExposureError::PhotoNotOfCase(source).into()),
            Err(e) => return Err(e),
        };
        let derived = tokio::task::spawn_blocking(move || {
            anfang_core::photo::crop_stored(&bytes, rect, &Default::default()).map_err(AppError::internal)
        })
        .await
        .map_err(AppError::internal)??;
        let derived = photos.store_processed(db, derived).await?;
        out.push(crate::db::exposure::PublishedCrop { derived, source, rect });
    }
    Ok(out)
}

/// Withdrawing a published entry: the note shown publicly in its place.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    #[schemars(length(min = 1, max = 500))]
    pub note: String,
}

/// A unit's public commitment (公开承诺) on its published red-card case.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentRequest {
    /// The unit's responsible person, by name (1–40 characters).
    #[schemars(length(min = 1, max = 40))]
    pub person_name: String,
    /// Their position (1–40 characters).
    #[schemars(length(min = 1, max = 40))]
    pub person_title: String,
    /// What will be done (1–500 characters).
    #[schemars(length(min = 1, max = 500))]
    pub what: String,
    /// By the end of this day: from today to a year from now.
    #[schemars(with = "String", extend("format" = "date"))]
    pub due_on: jiff::civil::Date,
}

/// The exposure settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposureSettings {
    /// 双人审核: a second reviewer (not the proposer) may publish; off, only admins publish.
    pub four_eyes: bool,
}

fn public_text(field: &'static str, value: &str, max: usize, too_long: ExposureError) -> Result<String, AppError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(too_long.into());
    }
    crate::app::reference::check_text(field, v)?;
    Ok(v.to_owned())
}

/// The rule of a proposal, on the facts read in its transaction.
fn may_propose(reference: &str, f: &ProposeFacts) -> Result<(), AppError> {
    if !f.finding_found {
        return Err(ExposureError::CaseUnknown(reference.to_owned()).into());
    }
    if f.effective_card == Some(Card::Green) {
        return Err(ExposureError::GreenCard.into());
    }
    let Some(case) = &f.case else { return Err(ExposureError::NoCase(reference.to_owned()).into()) };
    if case.case.state == CaseState::Cancelled {
        return Err(ExposureError::CaseCancelled.into());
    }
    if let Some(entry) = &f.live_entry {
        return Err(ExposureError::AlreadyProposed(entry.clone()).into());
    }
    Ok(())
}

/// A reviewer proposes a case (by its reference, or its finding's id or
/// public reference) for the exposure page.
pub async fn propose(
    db: &Db,
    caller: &OfficeCaller,
    reference: String,
    now: Timestamp,
) -> Result<OfficeEntry, AppError> {
    caller.require(Role::Reviewer)?;
    let r = reference.clone();
    let entry = db.propose_exposure(reference, caller.user_id, now, move |f| may_propose(&r, f)).await?;
    db.office_exposure(entry).await?.ok_or_else(|| AppError::internal("a proposed entry could not be read back"))
}

/// The rule of a publication, on the facts read in its transaction.
fn judge_publish(
    caller: &OfficeCaller,
    f: &PublishFacts,
    title: &str,
    description: &str,
    photos: &[String],
    on: String,
) -> Result<Publication, AppError> {
    if f.entry.withdrawn.is_some() {
        return Err(ExposureError::Withdrawn.into());
    }
    if f.entry.published.is_some() {
        return Err(ExposureError::AlreadyPublished.into());
    }
    if f.entry.proposed_by == caller.user_id {
        return Err(ExposureError::OwnProposal.into());
    }
    if caller.role < Role::Admin && !(f.four_eyes && caller.role >= Role::Reviewer) {
        return Err(ExposureError::NeedsAdmin.into());
    }
    if f.effective_card == Card::Green {
        return Err(ExposureError::GreenCard.into());
    }
    if f.case.case.state == CaseState::Cancelled {
        return Err(ExposureError::CaseCancelled.into());
    }
    for (field, text) in [("title", title), ("description", description)] {
        if let Some(alias) = f.aliases.find(text) {
            return Err(ExposureError::NamesInspector(field, alias.to_owned()).into());
        }
    }
    if let Some(p) = photos.iter().find(|p| !f.finding_photos.contains(p)) {
        return Err(ExposureError::PhotoNotOfCase(p.clone()).into());
    }
    if photos.is_empty() && !f.finding_photos.is_empty() {
        return Err(ExposureError::PhotoRequired.into());
    }
    Ok(Publication {
        by: caller.user_id,
        on,
        title: title.to_owned(),
        description: description.to_owned(),
        photos: photos.to_vec(),
        crops: Vec::new(),
    })
}

/// Publishes a proposed entry: checked, frozen and logged in one transaction.
pub async fn publish(
    db: &Db,
    store: &crate::photos::PhotoStore,
    caller: &OfficeCaller,
    entry_ref: String,
    req: PublishRequest,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<OfficeEntry, AppError> {
    caller.require(Role::Reviewer)?;
    if !req.faces_checked {
        return Err(ExposureError::FacesUnchecked.into());
    }
    let title = public_text("title", &req.title, MAX_TITLE_CHARS, ExposureError::TitleLength)?;
    let description =
        public_text("description", &req.description, MAX_DESCRIPTION_CHARS, ExposureError::DescriptionLength)?;
    let mut photos: Vec<String> = Vec::new();
    for p in &req.photos {
        let p = p.trim().to_ascii_lowercase();
        if !photos.contains(&p) {
            photos.push(p);
        }
    }
    // Checked against the selection before anything is cut; that the photos
    // are the finding's is judged with the stored facts below.
    let crops = make_crops(store, db, &photos, &req.crops).await?;
    let on = now.to_zoned_datetime(tz.clone()).date().to_string();
    let (caller2, r) = (caller.clone(), entry_ref.clone());
    let stored = db
        .publish_exposure(entry_ref, now, move |facts| {
            let f = facts.ok_or_else(|| AppError::from(ExposureError::NotFound(r)))?;
            let mut p = judge_publish(&caller2, f, &title, &description, &photos, on)?;
            // The public sees each crop in place of its source.
            for shown in &mut p.photos {
                if let Some(c) = crops.iter().find(|c| &c.source == shown) {
                    shown.clone_from(&c.derived);
                }
            }
            p.crops = crops;
            Ok(p)
        })
        .await?;
    db.office_exposure(stored.public_ref).await?.ok_or_else(|| AppError::internal("a published entry vanished"))
}

/// Withdraws a published entry with a public note.
pub async fn withdraw(
    db: &Db,
    caller: &OfficeCaller,
    entry_ref: String,
    req: WithdrawRequest,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<OfficeEntry, AppError> {
    caller.require(Role::Reviewer)?;
    let note = public_text("note", &req.note, MAX_NOTE_CHARS, ExposureError::NoteLength)?;
    let on = now.to_zoned_datetime(tz.clone()).date().to_string();
    let (by, r) = (caller.user_id, entry_ref.clone());
    let stored = db
        .withdraw_exposure(entry_ref, now, on, move |entry, aliases| {
            let e = entry.ok_or_else(|| AppError::from(ExposureError::NotFound(r)))?;
            if e.withdrawn.is_some() {
                return Err(ExposureError::Withdrawn.into());
            }
            if e.published.is_none() {
                return Err(ExposureError::NotPublished.into());
            }
            if let Some(alias) = aliases.find(&note) {
                return Err(ExposureError::NamesInspector("note", alias.to_owned()).into());
            }
            Ok((by, note))
        })
        .await?;
    db.office_exposure(stored.public_ref).await?.ok_or_else(|| AppError::internal("a withdrawn entry vanished"))
}

/// The unit's responsible person commits publicly on a published red-card
/// case of its own: what will be done, by when. Another unit's case is the
/// same "no such case" as none. Public text a unit types is not checked for
/// aliases: the answer would tell a unit whether a name is an inspector's.
pub async fn commit(
    db: &Db,
    caller: &OfficeCaller,
    case_ref: String,
    req: CommitmentRequest,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<crate::db::exposure::Commitment, AppError> {
    let unit = caller.require_unit()?.to_owned();
    let text = |field: &'static str, v: &str, max: usize| -> Result<String, AppError> {
        public_text(field, v, max, ExposureError::CommitmentText(field, max))
    };
    let person_name = text("person_name", &req.person_name, 40)?;
    let person_title = text("person_title", &req.person_title, 40)?;
    let what = text("what", &req.what, 500)?;
    let today = now.to_zoned_datetime(tz.clone()).date();
    let latest = today.checked_add(jiff::Span::new().years(1)).map_err(AppError::internal)?;
    if req.due_on < today || req.due_on > latest {
        return Err(ExposureError::CommitmentDue.into());
    }
    let c = crate::db::exposure::Commitment {
        person_name,
        person_title,
        what,
        due_on: req.due_on.to_string(),
        made_on: today.to_string(),
    };
    db.commit_exposure(case_ref, unit, caller.user_id, now, move |facts| {
        let f = facts.ok_or_else(|| AppError::from(crate::rectification::case::CaseError::NotFound))?;
        if f.entry.is_none() {
            return Err(ExposureError::CommitmentNotPublished.into());
        }
        if f.case.case.card != Card::Red {
            return Err(ExposureError::CommitmentNotRed.into());
        }
        if f.existing {
            return Err(ExposureError::CommitmentExists.into());
        }
        Ok(c)
    })
    .await
}

/// Whether a public commitment was kept: the case closed by the end of its
/// day; not kept once that day has passed without it; pending before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentOutcome {
    Pending,
    Kept,
    NotKept,
}

impl CommitmentOutcome {
    pub fn of(row: &PublicRow, now: Timestamp, tz: &TimeZone) -> Option<Self> {
        let c = row.commitment.as_ref()?;
        let due_end = c
            .due_on
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.tomorrow().ok())
            .and_then(|d| d.to_zoned_datetime(tz.clone()).ok())?
            .timestamp();
        let closed_in_time = row.case.state == CaseState::Closed && row.closed_at.is_some_and(|t| t < due_end);
        Some(if closed_in_time {
            CommitmentOutcome::Kept
        } else if now >= due_end {
            CommitmentOutcome::NotKept
        } else {
            CommitmentOutcome::Pending
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            CommitmentOutcome::Pending => "承诺期内",
            CommitmentOutcome::Kept => "已兑现",
            CommitmentOutcome::NotKept => "未兑现",
        }
    }
}

/// An entry's state as the public reads it: "closed" is kept apart from
/// "fixed" (a case closed on the unit's evidence was not re-checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicState {
    /// 整改中: the unit is within its deadline, or has answered and waits for the re-check.
    InProgress,
    /// 已整改（复查通过）: an independent re-check found it fixed.
    Fixed,
    /// 已销号（凭整改材料，未复查）: a yellow card closed on the unit's evidence.
    ClosedOnEvidence,
    /// 逾期未改 N 天.
    Overdue(i64),
    /// 挂账: cannot be fixed by the deadline; the office accepted a target date.
    Deferred,
    /// 已撤销: the finding was corrected or rejected after publishing.
    Cancelled,
    /// 已撤回: the office took the entry down (its note stays).
    Withdrawn,
}

impl PublicState {
    pub fn of(row: &PublicRow, now: &jiff::ZonedDateTime) -> Self {
        if row.withdrawn.is_some() {
            return PublicState::Withdrawn;
        }
        if let Some(days) = row.case.overdue_days(now) {
            return PublicState::Overdue(days);
        }
        match row.case.state {
            CaseState::Closed if row.closed_by_recheck => PublicState::Fixed,
            CaseState::Closed => PublicState::ClosedOnEvidence,
            CaseState::Deferred => PublicState::Deferred,
            CaseState::Cancelled => PublicState::Cancelled,
            CaseState::Open | CaseState::Answered | CaseState::Rework => PublicState::InProgress,
        }
    }

    /// The filter value.
    pub fn key(self) -> &'static str {
        match self {
            PublicState::InProgress => "in_progress",
            PublicState::Fixed => "fixed",
            PublicState::ClosedOnEvidence => "closed",
            PublicState::Overdue(_) => "overdue",
            PublicState::Deferred => "deferred",
            PublicState::Cancelled => "cancelled",
            PublicState::Withdrawn => "withdrawn",
        }
    }

    pub fn label(self) -> String {
        match self {
            PublicState::InProgress => "整改中".into(),
            PublicState::Fixed => "已整改（复查通过）".into(),
            PublicState::ClosedOnEvidence => "已销号（凭整改材料，未经复查）".into(),
            PublicState::Overdue(n) => format!("逾期未改 {n} 天"),
            PublicState::Deferred => "挂账".into(),
            PublicState::Cancelled => "已撤销（经复核不再整改）".into(),
            PublicState::Withdrawn => "已撤回".into(),
        }
    }

    /// The filter choices, in order: (value, label).
    pub const FILTERS: &'static [(&'static str, &'static str)] = &[
        ("in_progress", "整改中"),
        ("overdue", "逾期未改"),
        ("deferred", "挂账"),
        ("fixed", "已整改（复查通过）"),
        ("closed", "已销号（未经复查）"),
        ("cancelled", "已撤销"),
        ("withdrawn", "已撤回"),
    ];
}

/// A published entry as every public page and feed shows it.
#[derive(Debug, Clone)]
pub struct PublicEntry {
    pub row: PublicRow,
    pub state: PublicState,
    /// The deadline's day (office time zone), while one applies.
    pub deadline_on: Option<jiff::civil::Date>,
    /// The outcome of the unit's public commitment, if one was made.
    pub commitment: Option<CommitmentOutcome>,
}

/// Filters of the public list; empty values are no filter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicFilter {
    pub district: Option<String>,
    pub unit: Option<String>,
    pub category: Option<String>,
    pub state: Option<String>,
    pub point: Option<String>,
}

impl PublicFilter {
    /// The filters as the database takes them: trimmed, empty ones dropped.
    pub fn query(&self) -> PublicQuery {
        let want = |f: &Option<String>| f.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        PublicQuery {
            district: want(&self.district),
            unit: want(&self.unit),
            category: want(&self.category),
            point: want(&self.point),
            state: want(&self.state),
        }
    }
}

/// An entry with its state now, as every public page and feed shows it.
fn public_entry_of(row: PublicRow, tz: &TimeZone, now: Timestamp) -> PublicEntry {
    let zoned = now.to_zoned_datetime(tz.clone());
    let state = PublicState::of(&row, &zoned);
    let deadline_on = match (row.case.state, row.case.deferred_until, row.case.deadline) {
        (CaseState::Deferred, Some(d), _) => Some(d),
        (s, _, Some(t)) if s.awaits_unit() || s == CaseState::Answered => {
            // A deadline at midnight ends the day before.
            let local = (t - jiff::SignedDuration::from_secs(1)).to_zoned_datetime(tz.clone());
            Some(local.date())
        }
        _ => None,
    };
    let commitment = CommitmentOutcome::of(&row, now, tz);
    PublicEntry { row, state, deadline_on, commitment }
}

/// One page of public entries: the page's entries, how many match, which
/// page of how many, and the groups of its summary when one was asked for.
#[derive(Debug, Clone)]
pub struct PublicPage {
    pub entries: Vec<PublicEntry>,
    pub total: u64,
    pub page: u32,
    /// At least 1 (an empty list is one empty page).
    pub pages: u32,
    pub groups: Vec<PublicGroup>,
}

impl PublicPage {
    /// Whether `page` lies past the last page (the caller sends the reader there).
    pub fn past_end(&self) -> bool {
        self.page > self.pages
    }
}

/// Page `page` (1 first) of the published entries `q` picks, `per_page` a
/// page in `order`, with the groups of what `summary` picks when given.
#[allow(clippy::too_many_arguments)]
pub async fn public_page(
    db: &Db,
    tz: &TimeZone,
    now: Timestamp,
    q: PublicQuery,
    summary: Option<PublicQuery>,
    order: PublicOrder,
    per_page: u32,
    page: u32,
) -> Result<PublicPage, AppError> {
    let per_page = per_page.max(1);
    let listing = db.public_listing(q, summary, order, per_page, page, tz.clone(), now).await?;
    let pages = u32::try_from(listing.total.div_ceil(u64::from(per_page)).max(1)).unwrap_or(u32::MAX);
    Ok(PublicPage {
        entries: listing.rows.into_iter().map(|r| public_entry_of(r, tz, now)).collect(),
        total: listing.total,
        page,
        pages,
        groups: listing.groups,
    })
}

/// One published entry (withdrawn too) by its public reference, with its state now.
pub async fn public_entry(
    db: &Db,
    tz: &TimeZone,
    now: Timestamp,
    reference: String,
) -> Result<Option<PublicEntry>, AppError> {
    Ok(db.public_exposure(reference, tz.clone()).await?.map(|r| public_entry_of(r, tz, now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rectification::case::Case;

    fn row(state: CaseState, deadline: Option<Timestamp>, rechecked: bool) -> PublicRow {
        let mut case = Case::opened(Card::Red, "U03".into(), 1);
        case.state = state;
        case.deadline = deadline;
        case.notified_at = deadline.map(|d| d - jiff::SignedDuration::from_hours(72));
        PublicRow {
            reference: "0123456789ab".into(),
            title: "t".into(),
            description: "d".into(),
            published_on: "2026-12-01".into(),
            point_id: "P001".into(),
            point_name: "p".into(),
            district: None,
            unit_id: "U03".into(),
            unit_name: "u".into(),
            category: "sanitation".into(),
            category_name: None,
            card: Card::Red,
            found_on: "2026-11-30".parse().unwrap(),
            case,
            closed_by_recheck: rechecked,
            before_photos: vec![],
            after_photos: vec![],
            withdrawn: None,
            closed_at: None,
            commitment: None,
        }
    }

    #[test]
    fn the_public_state_keeps_closed_apart_from_fixed_and_counts_overdue_days() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let now: Timestamp = "2026-12-05T04:00:00Z".parse().unwrap();
        let zoned = now.to_zoned_datetime(tz);
        let past: Timestamp = "2026-12-02T16:00:00Z".parse().unwrap();
        let future: Timestamp = "2026-12-09T16:00:00Z".parse().unwrap();
        let of = |r: &PublicRow| PublicState::of(r, &zoned).label();
        assert_eq!(of(&row(CaseState::Open, Some(future), false)), "整改中");
        assert_eq!(
            of(&row(CaseState::Answered, Some(past), false)),
            "整改中",
            "answered in time waits for the re-check"
        );
        assert_eq!(of(&row(CaseState::Open, Some(past), false)), "逾期未改 3 天");
        assert_eq!(of(&row(CaseState::Closed, Some(past), true)), "已整改（复查通过）");
        assert_eq!(of(&row(CaseState::Closed, Some(past), false)), "已销号（凭整改材料，未经复查）");
        assert_eq!(of(&row(CaseState::Cancelled, None, false)), "已撤销（经复核不再整改）");
        let mut withdrawn = row(CaseState::Open, Some(past), false);
        withdrawn.withdrawn = Some(("2026-12-04".into(), "n".into()));
        assert_eq!(of(&withdrawn), "已撤回", "withdrawn wins over overdue");
    }

    #[test]
    fn a_commitment_is_kept_when_the_case_closes_by_the_end_of_its_day() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let commitment = crate::db::exposure::Commitment {
            person_name: "王某".into(),
            person_title: "副局长".into(),
            what: "清理垃圾".into(),
            due_on: "2026-12-04".into(),
            made_on: "2026-12-01".into(),
        };
        let mut open = row(CaseState::Open, None, false);
        open.commitment = Some(commitment.clone());
        // 2026-12-04 ends at 2026-12-04T16:00:00Z (office time is UTC+8).
        let outcome = |r: &PublicRow, now: &str| CommitmentOutcome::of(r, at(now), &tz).map(CommitmentOutcome::label);
        assert_eq!(outcome(&open, "2026-12-04T15:59:59Z"), Some("承诺期内"));
        assert_eq!(outcome(&open, "2026-12-04T16:00:00Z"), Some("未兑现"));
        let mut closed = row(CaseState::Closed, None, true);
        closed.commitment = Some(commitment);
        closed.closed_at = Some(at("2026-12-04T15:30:00Z"));
        assert_eq!(outcome(&closed, "2026-12-20T00:00:00Z"), Some("已兑现"), "closed in time stays kept");
        closed.closed_at = Some(at("2026-12-04T16:30:00Z"));
        assert_eq!(outcome(&closed, "2026-12-20T00:00:00Z"), Some("未兑现"), "closed a day late");
        assert_eq!(outcome(&row(CaseState::Open, None, false), "2026-12-20T00:00:00Z"), None);
    }
}
