//! Drawn visits (assignments) this device's inspector has received through
//! the pull feed, and recording a finding on one.
//!
//! The server sends an assignment only from its lead time on, so what is
//! stored here is never more than the inspector is allowed to know.

use super::{NewFinding, Store, StoreError};
use crate::clock::Clock;
use crate::domain::{FindingContent, RecheckResult, ValidationError};
use crate::error_code::ErrorCode;
use crate::protocol::Assignment;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use uuid::Uuid;

/// A drawn visit as the inspector's "today's visits" list shows it: the
/// assignment, where it is, and how many findings this device has recorded
/// on it that the server has not rejected (zero: still to do, because the
/// office's coverage report will count it as missed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    #[serde(flatten)]
    pub assignment: Assignment,
    /// `None` only if the point is not in this device's reference data yet
    /// (points are deactivated, never deleted, so a sync brings it).
    pub point_name: Option<String>,
    pub unit_name: Option<String>,
    pub findings: u32,
}

pub(super) fn upsert(conn: &Connection, assignments: &[Assignment]) -> Result<(), StoreError> {
    for a in assignments {
        conn.execute(
            "INSERT INTO assignments (id, point_id, date, slot_label, starts_at, ends_at, starts_ms, recheck)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET point_id = excluded.point_id, date = excluded.date,
               slot_label = excluded.slot_label, starts_at = excluded.starts_at,
               ends_at = excluded.ends_at, starts_ms = excluded.starts_ms, recheck = excluded.recheck",
            params![
                a.id.to_string(),
                a.point_id,
                a.date.to_string(),
                a.slot_label,
                a.starts_at.to_string(),
                a.ends_at.to_string(),
                a.starts_at.as_millisecond(),
                a.recheck.as_ref().map(|r| serde_json::to_string(r).expect("a re-check task serializes"))
            ],
        )?;
    }
    Ok(())
}

type AssignmentRow = (String, String, String, String, String, String, Option<String>);

fn assignment_row(r: &Row<'_>) -> rusqlite::Result<AssignmentRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn parse(row: AssignmentRow) -> Result<Assignment, StoreError> {
    let bad = |e: String| StoreError::Corrupt(format!("assignment: {e}"));
    Ok(Assignment {
        id: row.0.parse().map_err(|e: uuid::Error| bad(e.to_string()))?,
        point_id: row.1,
        date: row.2.parse().map_err(|e: jiff::Error| bad(e.to_string()))?,
        slot_label: row.3,
        starts_at: row.4.parse().map_err(|e: jiff::Error| bad(e.to_string()))?,
        ends_at: row.5.parse().map_err(|e: jiff::Error| bad(e.to_string()))?,
        recheck: row
            .6
            .map(|json| serde_json::from_str(&json).map_err(|e| bad(format!("re-check task: {e}"))))
            .transpose()?,
    })
}

const COLUMNS: &str = "id, point_id, date, slot_label, starts_at, ends_at, recheck";

impl Store {
    /// The visits drawn for `date` (office-local, e.g. today), earliest
    /// slot first.
    pub fn visits_on(&self, date: jiff::civil::Date) -> Result<Vec<Assignment>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM assignments WHERE date = ?1 ORDER BY starts_ms, point_id"))?;
        let rows = stmt.query_map([date.to_string()], assignment_row)?;
        rows.map(|r| parse(r?)).collect()
    }

    /// Today's visits, "today" in the device's clock and the given office
    /// time zone.
    pub fn todays_visits(&self, clock: &dyn Clock, tz: &jiff::tz::TimeZone) -> Result<Vec<Assignment>, StoreError> {
        self.visits_on(tz.to_datetime(clock.now()).date())
    }

    /// Today's visits with their point, unit and how many findings this
    /// device has recorded on each.
    pub fn todays_visit_list(&self, clock: &dyn Clock, tz: &jiff::tz::TimeZone) -> Result<Vec<Visit>, StoreError> {
        let mut names = self.conn().prepare_cached(
            "SELECT p.name, u.name FROM points p LEFT JOIN units u ON u.id = p.unit_id WHERE p.id = ?1",
        )?;
        // The link is part of the signed content, so it is read from there.
        let mut done = self.conn().prepare_cached(
            "SELECT count(*) FROM findings f JOIN outbox o ON o.finding_id = f.id
             WHERE json_extract(f.content, '$.assignment_id') = ?1 AND o.state <> 'rejected'",
        )?;
        let mut out = Vec::new();
        for assignment in self.todays_visits(clock, tz)? {
            let (point_name, unit_name) = names
                .query_row([&assignment.point_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or((None, None));
            let findings = done.query_row([assignment.id.to_string()], |r| r.get(0))?;
            out.push(Visit { assignment, point_name, unit_name, findings });
        }
        Ok(out)
    }

    /// One received assignment.
    pub fn assignment(&self, id: Uuid) -> Result<Option<Assignment>, StoreError> {
        let row = self
            .conn()
            .query_row(&format!("SELECT {COLUMNS} FROM assignments WHERE id = ?1"), [id.to_string()], assignment_row)
            .optional()?;
        row.map(parse).transpose()
    }

    /// Records a finding made on a drawn visit: like
    /// [`Store::record_finding`], with the finding linked to the assignment.
    /// The point must be the assignment's (a problem seen elsewhere on the
    /// way is a spontaneous finding, recorded without the link).
    pub fn record_assignment_finding(
        &mut self,
        assignment_id: Uuid,
        new: NewFinding,
        clock: &dyn Clock,
    ) -> Result<FindingContent, StoreError> {
        let a = self.assignment(assignment_id)?.ok_or_else(|| {
            ValidationError::new(
                "assignment_id",
                format!("no assignment {assignment_id} on this device; sync, then pick one from today's visits"),
            )
            .with_code(crate::error_code::ErrorCode::AssignmentUnknown)
        })?;
        if a.point_id != new.point_id {
            return Err(ValidationError::new(
                "point_id",
                format!("assignment {assignment_id} is for point {}, not {}", a.point_id, new.point_id),
            )
            .with_code(crate::error_code::ErrorCode::AssignmentPointMismatch)
            .into());
        }
        if a.recheck.is_some() {
            // A re-check visit is there for its verdict; a plain finding on
            // it would leave the case waiting and the visit looking done.
            return Err(ValidationError::new(
                "recheck",
                format!("assignment {assignment_id} is a re-check (复查任务): record whether it passed"),
            )
            .with_code(ErrorCode::FieldRequired)
            .into());
        }
        self.record_finding_linked(new, Some(assignment_id), None, clock)
    }

    /// Records the result of a re-check visit (复查): a finding on the
    /// re-check assignment, at its point, with after-photos and whether the
    /// rectification passed, all signed together.
    pub fn record_recheck_finding(
        &mut self,
        assignment_id: Uuid,
        passed: bool,
        new: NewFinding,
        clock: &dyn Clock,
    ) -> Result<FindingContent, StoreError> {
        let a = self.assignment(assignment_id)?.ok_or_else(|| {
            ValidationError::new(
                "assignment_id",
                format!("no assignment {assignment_id} on this device; sync, then pick one from today's visits"),
            )
            .with_code(ErrorCode::AssignmentUnknown)
        })?;
        if a.recheck.is_none() {
            return Err(ValidationError::new(
                "recheck",
                format!("assignment {assignment_id} is an ordinary drawn visit, not a re-check"),
            )
            .with_code(ErrorCode::RecheckNotARecheckVisit)
            .into());
        }
        if a.point_id != new.point_id {
            return Err(ValidationError::new(
                "point_id",
                format!("assignment {assignment_id} is for point {}, not {}", a.point_id, new.point_id),
            )
            .with_code(ErrorCode::AssignmentPointMismatch)
            .into());
        }
        self.record_finding_linked(new, Some(assignment_id), Some(RecheckResult { passed }), clock)
    }

    /// Before-photos of this device's re-check visits that it does not hold
    /// yet, each once.
    pub fn missing_recheck_photos(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn().prepare(
            "SELECT DISTINCT p.value FROM assignments a, json_each(a.recheck, '$.photos') p
             WHERE a.recheck IS NOT NULL AND p.value NOT IN (SELECT sha256 FROM recheck_photos)
             ORDER BY a.starts_ms, p.value",
        )?;
        Ok(stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    /// Keeps a fetched before-photo, if its bytes are the ones named.
    pub fn save_recheck_photo(&self, sha256: &str, jpeg: &[u8]) -> Result<bool, StoreError> {
        if crate::domain::sha256_hex(jpeg) != sha256 {
            return Ok(false);
        }
        self.conn().execute(
            "INSERT INTO recheck_photos (sha256, jpeg) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sha256, jpeg],
        )?;
        Ok(true)
    }

    /// A re-check's before-photo, if fetched.
    pub fn recheck_photo(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT jpeg FROM recheck_photos WHERE sha256 = ?1", [sha256], |r| r.get(0))
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Card, Point, PointKind, Unit};
    use crate::protocol::PullResponse;

    struct At(jiff::Timestamp);
    impl Clock for At {
        fn now(&self) -> jiff::Timestamp {
            self.0
        }
    }

    fn store_with(assignments: Vec<Assignment>) -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let page = PullResponse {
            units: vec![Unit { id: "U01".into(), name: "通川区城管局".into(), district: None, active: true }],
            points: ["P001", "P002"]
                .map(|id| Point {
                    id: id.into(),
                    name: id.into(),
                    kind: PointKind::MainRoad,
                    unit_id: "U01".into(),
                    lat: 31.2,
                    lon: 107.4,
                    address: None,
                    district: None,
                    active: true,
                })
                .to_vec(),
            categories: crate::domain::default_categories(),
            cursor: "v1.1".into(),
            has_more: false,
            assignments,
            rotate_token: false,
        };
        store.apply_pull(&page).unwrap();
        store
    }

    fn assignment(point: &str, date: &str, start: &str) -> Assignment {
        Assignment {
            id: Uuid::now_v7(),
            point_id: point.into(),
            date: date.parse().unwrap(),
            slot_label: "上班前".into(),
            starts_at: start.parse().unwrap(),
            ends_at: start.parse::<jiff::Timestamp>().unwrap() + jiff::SignedDuration::from_mins(90),
            recheck: None,
        }
    }

    fn green(point: &str) -> NewFinding {
        NewFinding {
            point_id: point.into(),
            unit_id: None,
            category: "parking".into(),
            card: Card::Green,
            note: None,
            location: None,
            photos: vec![],
        }
    }

    #[test]
    fn todays_visits_are_the_pulled_assignments_of_the_office_day() {
        let today = assignment("P001", "2026-12-01", "2026-11-30T23:00:00Z"); // 07:00 in Shanghai
        let tomorrow = assignment("P002", "2026-12-02", "2026-12-01T23:00:00Z");
        let store = store_with(vec![tomorrow.clone(), today.clone()]);
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
        // 00:30 on 1 December in the office, still 30 November in UTC.
        let clock = At("2026-11-30T16:30:00Z".parse().unwrap());
        assert_eq!(store.todays_visits(&clock, &tz).unwrap(), vec![today]);
    }

    #[test]
    fn a_finding_on_an_assignment_links_to_it_and_must_be_at_its_point() {
        let a = assignment("P001", "2026-12-01", "2026-11-30T23:00:00Z");
        let mut store = store_with(vec![a.clone()]);
        let clock = At("2026-11-30T23:30:00Z".parse().unwrap());
        let f = store.record_assignment_finding(a.id, green("P001"), &clock).unwrap();
        assert_eq!(f.assignment_id, Some(a.id));
        assert!(f.canonical_json().contains(&a.id.to_string()));
        let err = store.record_assignment_finding(a.id, green("P002"), &clock).unwrap_err();
        assert!(err.to_string().contains("is for point P001"), "{err}");
        let err = store.record_assignment_finding(Uuid::now_v7(), green("P001"), &clock).unwrap_err();
        assert!(err.to_string().contains("no assignment"), "{err}");
        let plain = store.record_finding(green("P002"), &clock).unwrap();
        assert_eq!(plain.assignment_id, None);
    }

    fn with_photo(mut f: NewFinding) -> NewFinding {
        let png = {
            let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 90]));
            let mut out = Vec::new();
            image::DynamicImage::ImageRgb8(img)
                .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        };
        f.photos.push(crate::photo::process(&png, &Default::default()).unwrap());
        f
    }

    #[test]
    fn a_recheck_visit_records_its_verdict_signed_and_keeps_its_before_photos() {
        let before = crate::domain::sha256_hex(b"before photo");
        let mut a = assignment("P001", "2026-12-01", "2026-11-30T23:00:00Z");
        a.recheck = Some(crate::protocol::RecheckTask {
            case_ref: "abcdef012345".into(),
            category: "sanitation".into(),
            card: Card::Red,
            photos: vec![before.clone()],
        });
        let plain = assignment("P002", "2026-12-01", "2026-11-30T23:00:00Z");
        let mut store = store_with(vec![a.clone(), plain.clone()]);
        let clock = At("2026-11-30T23:30:00Z".parse().unwrap());
        assert_eq!(store.assignment(a.id).unwrap().unwrap(), a, "the task survives the store");

        // Before-photos: listed until fetched; bytes that are not the named photo are not kept.
        assert_eq!(store.missing_recheck_photos().unwrap(), vec![before.clone()]);
        assert!(!store.save_recheck_photo(&before, b"something else").unwrap());
        assert!(store.save_recheck_photo(&before, b"before photo").unwrap());
        assert!(store.missing_recheck_photos().unwrap().is_empty());
        assert_eq!(store.recheck_photo(&before).unwrap().as_deref(), Some(&b"before photo"[..]));

        // The verdict needs a photo, is signed into the content, and only on a re-check visit.
        let err = store.record_recheck_finding(a.id, true, green("P001"), &clock).unwrap_err();
        assert!(err.to_string().contains("at least one photo"), "{err}");
        let f = store.record_recheck_finding(a.id, false, with_photo(green("P001")), &clock).unwrap();
        assert_eq!(f.recheck, Some(RecheckResult { passed: false }));
        assert_eq!(f.assignment_id, Some(a.id));
        assert!(f.canonical_json().ends_with(r#""recheck":{"passed":false}}"#), "{}", f.canonical_json());
        let err = store.record_recheck_finding(plain.id, true, with_photo(green("P002")), &clock).unwrap_err();
        assert!(err.to_string().contains("not a re-check"), "{err}");
        // A re-check visit is there for its verdict, not for a plain finding.
        let err = store.record_assignment_finding(a.id, green("P001"), &clock).unwrap_err();
        assert!(err.to_string().contains("re-check"), "{err}");
    }

    #[test]
    fn the_visit_list_names_each_point_and_counts_only_unrejected_findings_linked_to_it() {
        let first = assignment("P001", "2026-12-01", "2026-11-30T23:00:00Z");
        let second = assignment("P002", "2026-12-01", "2026-12-01T09:30:00Z");
        let mut store = store_with(vec![second.clone(), first.clone()]);
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
        let clock = At("2026-11-30T23:30:00Z".parse().unwrap());
        store.record_assignment_finding(first.id, green("P001"), &clock).unwrap();
        store.record_assignment_finding(first.id, green("P001"), &clock).unwrap();
        // One the server refused does not complete the visit.
        let refused = store.record_assignment_finding(second.id, green("P002"), &clock).unwrap();
        store.mark_rejected(refused.id, "point P002 is inactive", &clock).unwrap();
        // A spontaneous finding at the second visit's point is not the visit.
        store.record_finding(green("P002"), &clock).unwrap();
        let visits = store.todays_visit_list(&clock, &tz).unwrap();
        let summary: Vec<_> = visits
            .iter()
            .map(|v| (v.assignment.id, v.point_name.as_deref(), v.unit_name.as_deref(), v.findings))
            .collect();
        assert_eq!(
            summary,
            vec![(first.id, Some("P001"), Some("通川区城管局"), 2), (second.id, Some("P002"), Some("通川区城管局"), 0)]
        );
        let json = serde_json::to_value(&visits[0]).unwrap();
        assert_eq!(json["id"], first.id.to_string(), "the assignment's fields are flattened: {json}");
        assert_eq!(json["slot_label"], "上班前");
    }
}
