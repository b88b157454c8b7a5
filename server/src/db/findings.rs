//! Findings as received from devices, and the office's view of them.
//!
//! **Invariant:** a push batch is one transaction, and a finding id is stored
//! at most once. A replay with identical content is answered `duplicate`;
//! the same id with other content is refused (409), never overwritten.

use crate::auth::DeviceCaller;
use crate::error::AppError;
use anfang_core::domain::{FindingContent, haversine_m};
use anfang_core::error_code::ErrorCode;
use anfang_core::protocol::{PushOutcome, PushResult, SignedFinding};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// How far into the future (by the server's clock) an observation may be
/// stamped before it is refused as a wrong phone clock.
const MAX_CLOCK_SKEW_MS: i64 = 60 * 60 * 1000;

fn reject(code: u16, error_code: ErrorCode, reason: impl Into<String>) -> PushOutcome {
    PushOutcome::Rejected { code, reason: reason.into(), error_code: Some(error_code) }
}

/// Stores a batch of findings for one device, all in one transaction.
pub fn push_batch(
    conn: &mut Connection,
    device: &DeviceCaller,
    findings: &[SignedFinding],
    now_ms: i64,
) -> Result<Vec<PushResult>, AppError> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(findings.len());
    for f in findings {
        let outcome = push_one(&tx, device, &f.finding, &f.signature, now_ms)?;
        results.push(PushResult { id: f.finding.id, outcome });
    }
    tx.commit()?;
    Ok(results)
}

fn push_one(
    conn: &Connection,
    device: &DeviceCaller,
    f: &FindingContent,
    signature: &str,
    now_ms: i64,
) -> Result<PushOutcome, AppError> {
    if let Err(e) = f.validate() {
        return Ok(reject(422, e.code, e.to_string()));
    }
    let Some(public_key) = &device.public_key else {
        return Ok(reject(
            422,
            ErrorCode::DeviceWithoutKey,
            "this device enrolled without a signing key; enroll it again with a new code",
        ));
    };
    if let Err(e) = anfang_core::evidence::verify(public_key, f, signature) {
        return Ok(reject(
            422,
            ErrorCode::SignatureInvalid,
            format!("{e}; the finding may have been altered after it was recorded"),
        ));
    }
    let hash = f.content_hash();
    let existing: Option<(String, String)> = conn
        .query_row("SELECT content_hash, device_id FROM findings WHERE id = ?1", [f.id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((stored_hash, stored_device)) = existing {
        if stored_device != device.device_id {
            return Ok(reject(
                409,
                ErrorCode::FindingOtherDevice,
                format!("finding {} was submitted by another device", f.id),
            ));
        }
        if stored_hash == hash {
            return Ok(PushOutcome::Duplicate);
        }
        return Ok(reject(
            409,
            ErrorCode::FindingConflict,
            format!(
                "finding {} was already received with different content; evidence is never overwritten — record a new finding instead",
                f.id
            ),
        ));
    }
    if super::reference::point(conn, &f.point_id)?.is_none() {
        return Ok(reject(
            422,
            ErrorCode::PointUnknown,
            format!("unknown point {:?}; sync to get the current list of points", f.point_id),
        ));
    }
    if super::reference::unit(conn, &f.unit_id)?.is_none() {
        return Ok(reject(422, ErrorCode::UnitUnknown, format!("unknown unit {:?}", f.unit_id)));
    }
    if let Some(a) = f.assignment_id {
        // Only the inspector's own drawn visits; the reason does not say
        // whether the assignment exists for someone else.
        if super::draws::assignment_inspector(conn, &a.to_string())? != Some(device.inspector_id) {
            return Ok(reject(
                422,
                ErrorCode::AssignmentNotYours,
                format!("assignment {a} is not one of this inspector's visits"),
            ));
        }
    }
    if super::reference::category(conn, &f.category)?.is_none() {
        return Ok(reject(
            422,
            ErrorCode::CategoryUnknown,
            format!("unknown category {:?}; sync to get the current categories", f.category),
        ));
    }
    let observed_ms = f.observed_at.as_millisecond();
    if observed_ms > now_ms + MAX_CLOCK_SKEW_MS {
        return Ok(reject(
            422,
            ErrorCode::ObservedInFuture,
            format!(
                "observed_at {} is in the future by the server's clock; check the phone's date and time",
                f.observed_at
            ),
        ));
    }
    let mut missing = Vec::new();
    for sha in &f.photos {
        if !super::uploads::photo_exists(conn, sha)? {
            missing.push(sha.clone());
        }
    }
    if !missing.is_empty() {
        return Ok(PushOutcome::MissingPhotos { photos: missing });
    }
    let seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM findings", [], |r| r.get(0))?;
    let loc = f.location.as_ref();
    conn.execute(
        "INSERT INTO findings (id, seq, device_id, inspector_id, point_id, unit_id, category, card, note,
           observed_ms, lat, lon, accuracy_m, location_captured_at, content, content_hash, received_ms, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            f.id.to_string(),
            seq,
            device.device_id,
            device.inspector_id,
            f.point_id,
            f.unit_id,
            f.category,
            f.card.as_str(),
            f.note,
            observed_ms,
            loc.map(|l| l.lat),
            loc.map(|l| l.lon),
            loc.map(|l| l.accuracy_m),
            loc.map(|l| l.captured_at.to_string()),
            f.canonical_json(),
            hash,
            now_ms,
            signature
        ],
    )?;
    super::evidence::append(conn, "finding", &f.id.to_string(), &hash)?;
    for (position, sha) in f.photos.iter().enumerate() {
        conn.execute(
            "INSERT INTO finding_photos (finding_id, position, sha256) VALUES (?1, ?2, ?3)",
            params![f.id.to_string(), position as i64, sha],
        )?;
    }
    Ok(PushOutcome::Accepted)
}

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

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A finding as the office API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FindingView {
    pub id: String,
    pub point: Named,
    pub point_kind: String,
    pub unit: Named,
    pub category: Named,
    pub card: String,
    pub note: Option<String>,
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub observed_at: jiff::Timestamp,
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub received_at: jiff::Timestamp,
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
    /// Review status: pending, accept, correct or reject (latest revision).
    pub status: String,
    /// Category, unit and card after review (as captured while pending).
    /// The fields above stay exactly as captured.
    pub effective: EffectiveView,
    /// Every review revision, oldest first; only in the single-finding view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revisions: Option<Vec<super::reviews::Revision>>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EffectiveView {
    pub category: Named,
    pub unit: Named,
    pub card: String,
    /// The latest revision number; `null` while pending.
    pub revision: Option<i64>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LocationView {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub captured_at: Option<String>,
    /// How far the fix was from the point's registered position.
    pub distance_from_point_m: f64,
}

/// Filters of the office list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub unit: Option<String>,
    pub card: Option<String>,
    pub category: Option<String>,
    /// Review statuses to include (pending, accept, correct, reject); empty: all.
    pub status: Vec<String>,
    /// Keyset cursor: (observed_ms, id) of the last item of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

const VIEW_SELECT: &str =
    "SELECT f.id, f.point_id, p.name AS point_name, p.kind AS point_kind, p.lat AS p_lat, p.lon AS p_lon,
    f.unit_id, u.name AS unit_name, f.category, c.name AS category_name, f.card, f.note,
    f.observed_ms, f.received_ms, f.lat, f.lon, f.accuracy_m, f.location_captured_at, f.content_hash,
    json_extract(f.content, '$.assignment_id') AS assignment_id,
    i.alias, s.status, s.category AS e_category, ec.name AS e_category_name, s.unit_id AS e_unit,
    eu.name AS e_unit_name, s.card AS e_card, s.revision AS e_revision
  FROM findings f
  JOIN finding_state s ON s.finding_id = f.id
  JOIN units eu ON eu.id = s.unit_id
  JOIN categories ec ON ec.code = s.category
  JOIN points p ON p.id = f.point_id
  JOIN units u ON u.id = f.unit_id
  JOIN categories c ON c.code = f.category
  JOIN inspectors i ON i.id = f.inspector_id";

fn view_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingView> {
    let lat: Option<f64> = r.get("lat")?;
    let lon: Option<f64> = r.get("lon")?;
    let acc: Option<f64> = r.get("accuracy_m")?;
    let (p_lat, p_lon): (f64, f64) = (r.get("p_lat")?, r.get("p_lon")?);
    let location = match (lat, lon, acc) {
        (Some(lat), Some(lon), Some(accuracy_m)) => Some(LocationView {
            lat,
            lon,
            accuracy_m,
            captured_at: r.get("location_captured_at")?,
            distance_from_point_m: (haversine_m(lat, lon, p_lat, p_lon) * 10.0).round() / 10.0,
        }),
        _ => None,
    };
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or_default();
    Ok(FindingView {
        id: r.get("id")?,
        point: Named { id: r.get("point_id")?, name: r.get("point_name")? },
        point_kind: r.get("point_kind")?,
        unit: Named { id: r.get("unit_id")?, name: r.get("unit_name")? },
        category: Named { id: r.get("category")?, name: r.get("category_name")? },
        card: r.get("card")?,
        note: r.get("note")?,
        observed_at: ts(r.get("observed_ms")?),
        received_at: ts(r.get("received_ms")?),
        location,
        photos: Vec::new(),
        content_hash: r.get("content_hash")?,
        inspector: Some(r.get("alias")?),
        assignment_id: r.get("assignment_id")?,
        status: r.get("status")?,
        effective: EffectiveView {
            category: Named { id: r.get("e_category")?, name: r.get("e_category_name")? },
            unit: Named { id: r.get("e_unit")?, name: r.get("e_unit_name")? },
            card: r.get("e_card")?,
            revision: r.get("e_revision")?,
        },
        revisions: None,
    })
}

fn attach_photos(conn: &Connection, view: &mut FindingView) -> Result<(), AppError> {
    let mut stmt = conn.prepare_cached(
        "SELECT fp.sha256, p.width, p.height, p.byte_len FROM finding_photos fp
         JOIN photos p ON p.sha256 = fp.sha256 WHERE fp.finding_id = ?1 ORDER BY fp.position",
    )?;
    view.photos = stmt
        .query_map([&view.id], |r| {
            let sha: String = r.get(0)?;
            Ok(PhotoView {
                url: format!("/api/v1/photos/{sha}"),
                thumbnail_url: format!("/api/v1/photos/{sha}/thumbnail"),
                sha256: sha,
                width: r.get(1)?,
                height: r.get(2)?,
                byte_len: r.get::<_, i64>(3)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// One page of findings, newest observation first.
pub fn list(conn: &Connection, filter: &ListFilter) -> Result<Vec<FindingView>, AppError> {
    let mut sql = format!("{VIEW_SELECT} WHERE 1 = 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(v) = filter.from_ms {
        arg(&mut sql, " AND f.observed_ms >= ?", v.into());
    }
    if let Some(v) = filter.to_ms {
        arg(&mut sql, " AND f.observed_ms < ?", v.into());
    }
    if let Some(v) = &filter.unit {
        // Filters follow the reviewed (effective) values: a finding moved to
        // another unit is that unit's now.
        arg(&mut sql, " AND s.unit_id = ?", v.clone().into());
    }
    if let Some(v) = &filter.card {
        arg(&mut sql, " AND s.card = ?", v.clone().into());
    }
    if let Some(v) = &filter.category {
        arg(&mut sql, " AND s.category = ?", v.clone().into());
    }
    if !filter.status.is_empty() {
        let mut marks = Vec::new();
        for st in &filter.status {
            args.push(st.clone().into());
            marks.push(format!("?{}", args.len()));
        }
        sql.push_str(&format!(" AND s.status IN ({})", marks.join(", ")));
    }
    if let Some((ms, id)) = &filter.before {
        args.push((*ms).into());
        let a = args.len();
        args.push(id.clone().into());
        let b = args.len();
        sql.push_str(&format!(" AND (f.observed_ms < ?{a} OR (f.observed_ms = ?{a} AND f.id < ?{b}))"));
    }
    args.push((filter.limit as i64).into());
    sql.push_str(&format!(" ORDER BY f.observed_ms DESC, f.id DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare(&sql)?;
    let mut views = stmt.query_map(rusqlite::params_from_iter(args), view_row)?.collect::<Result<Vec<_>, _>>()?;
    for v in &mut views {
        attach_photos(conn, v)?;
    }
    Ok(views)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<FindingView>, AppError> {
    let mut view = conn.query_row(&format!("{VIEW_SELECT} WHERE f.id = ?1"), [id], view_row).optional()?;
    if let Some(v) = &mut view {
        attach_photos(conn, v)?;
        v.revisions = Some(super::reviews::history(conn, &v.id)?);
    }
    Ok(view)
}
