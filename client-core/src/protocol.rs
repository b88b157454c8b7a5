//! Wire types of the sync protocol, shared by the device and the server.
//!
//! Every route under `/api/v1/sync`, `/api/v1/uploads` and `/api/v1/enroll`
//! speaks these types. Adding an optional field is compatible; renaming or
//! removing one breaks devices in the field that cannot be upgraded at once,
//! so add a new route version instead.

use crate::domain::{Card, Category, FindingContent, Point, Unit};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most findings in one push batch; the server refuses larger batches.
pub const MAX_PUSH_BATCH: usize = 100;
/// Size of one photo upload chunk the client sends.
pub const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;
/// Largest chunk the server accepts in one request.
pub const MAX_UPLOAD_CHUNK_BYTES: usize = 1024 * 1024;
/// Largest stored photo the server accepts. The device pipeline bounds the
/// long edge to 2048 px, which gives well under 3 MB; this leaves room for a
/// configured larger edge without allowing raw camera files.
pub const MAX_PHOTO_BYTES: u64 = 12 * 1024 * 1024;
/// Header carrying the byte offset a chunk starts at (as in tus).
pub const UPLOAD_OFFSET_HEADER: &str = "upload-offset";

/// Every error response body: one sentence a person can act on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub error: String,
    /// Stable machine code: clients translate and act on it, never on `error`.
    #[serde(default = "unknown_code")]
    pub code: crate::error_code::ErrorCode,
    /// The one input at fault, where there is one (`"point_id"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For upload offset conflicts: where the server actually is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

fn unknown_code() -> crate::error_code::ErrorCode {
    crate::error_code::ErrorCode::Unknown
}

/// `POST /api/v1/enroll`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub code: String,
    /// A free-form device label for the office ("Redmi Note 12").
    #[serde(default)]
    pub device_label: Option<String>,
    /// The device's Ed25519 public key, hex; it signs every finding.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-fA-F]{64}$")))]
    pub public_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrollResponse {
    pub device_id: Uuid,
    /// Bearer token for this device; the server stores only its hash.
    pub token: String,
    /// The inspector's pseudonym, shown on the device only.
    pub alias: String,
}

/// `GET /api/v1/sync/pull?cursor=…`: reference data changed since the cursor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PullResponse {
    pub units: Vec<Unit>,
    pub points: Vec<Point>,
    pub categories: Vec<Category>,
    /// Opaque; send it back on the next pull.
    pub cursor: String,
    /// More changes are waiting: pull again with the new cursor.
    pub has_more: bool,
    /// This inspector's drawn visits that have become visible (from their
    /// lead time on), and not ended more than a week ago. Sent whole on
    /// every page; absent from servers that predate the draw.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// This device's token is due for replacement: after the pass, ask
    /// `POST /api/v1/device/token` for a fresh one. Absent from servers that
    /// predate rotation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotate_token: bool,
}

/// `POST /api/v1/device/token`: the device's next token. The old one keeps
/// working until this one is first used, then stops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRotation {
    pub token: String,
}

/// One drawn visit, as its inspector's device receives it: where, on which
/// day, in which time window. Nothing about who else inspects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Assignment {
    pub id: Uuid,
    pub point_id: String,
    /// Office-local date of the visit.
    #[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date")))]
    pub date: jiff::civil::Date,
    /// The slot's label, e.g. 上班前.
    pub slot_label: String,
    /// The window the visit falls in.
    #[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date-time")))]
    pub starts_at: jiff::Timestamp,
    #[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date-time")))]
    pub ends_at: jiff::Timestamp,
    /// Set when the visit re-checks (复查) a rectification case the unit
    /// has answered: the inspector records a finding with a
    /// [`crate::domain::RecheckResult`] on it. Absent for an ordinary visit,
    /// and from servers that predate re-checks (old devices ignore it and
    /// see an ordinary visit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<RecheckTask>,
}

/// What a re-check visit's inspector needs to judge the rectification:
/// which case, what the problem was and how it looked. Nothing about who
/// found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RecheckTask {
    /// The case's public reference, as the office and the unit name it.
    pub case_ref: String,
    /// The problem's (effective, reviewed) category code.
    pub category: String,
    pub card: Card,
    /// SHA-256 of the finding's photos (before), in order; the device
    /// fetches them from `GET /api/v1/sync/recheck-photos/{sha256}`.
    pub photos: Vec<String>,
}

/// `POST /api/v1/sync/push`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub findings: Vec<SignedFinding>,
}

/// A finding with its device's signature over the canonical encoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedFinding {
    pub finding: FindingContent,
    /// Ed25519 signature, 128 hex characters (see `evidence`).
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushResponse {
    /// One result per submitted finding, in request order.
    pub results: Vec<PushResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushResult {
    pub id: Uuid,
    #[serde(flatten)]
    pub outcome: PushOutcome,
    /// Something the inspector should know about an accepted finding that
    /// is not a refusal (a re-check stored, but its case had moved on).
    /// Absent otherwise, and from servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<PushNotice>,
}

impl PushResult {
    pub fn new(id: Uuid, outcome: PushOutcome) -> Self {
        PushResult { id, outcome, notice: None }
    }
}

/// A coded remark on an accepted finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PushNotice {
    pub code: crate::error_code::ErrorCode,
    pub message: String,
}

/// What happened to one finding of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PushOutcome {
    /// Stored now.
    Accepted,
    /// Already stored with identical content: a replay, harmless.
    Duplicate,
    /// Some photos are not (completely) on the server: upload them, then push
    /// again. Not a rejection.
    MissingPhotos { photos: Vec<String> },
    /// Refused for good; `code` is the HTTP status that a single request would
    /// have got (409 conflicting replay, 422 invalid), `reason` says why in
    /// English and `error_code` names the rule (what clients translate).
    /// Named `error_code` because `code` was the status before codes existed
    /// and deployed devices read it; absent from servers that predate it.
    Rejected {
        code: u16,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_code: Option<crate::error_code::ErrorCode>,
    },
}

/// `POST /api/v1/uploads` body: announce a photo before sending bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UploadCreate {
    pub sha256: String,
    pub size: u64,
}

/// State of one photo upload, returned by every upload route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UploadStatus {
    /// Bytes the server holds; the next chunk must start here.
    pub offset: u64,
    pub size: u64,
    /// The photo is stored and verified: nothing more to send.
    pub complete: bool,
}
