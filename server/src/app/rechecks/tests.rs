//! Re-checks end to end inside the server: a red finding, its case opened
//! by the review, notified by the scheduler, answered by the unit, its
//! re-check drawn and pushed, with the real database, services and router.
//! Times are a week ahead of the real clock, passed in as the routes do.

use crate::auth::{DeviceCaller, OfficeCaller, Role};
use crate::db::accounts;
use crate::{AppState, Config, app};
use anfang_core::error_code::ErrorCode;
use anfang_core::evidence::DeviceKey;
use anfang_core::protocol::{PushOutcome, PushResult, SignedFinding};
use anfang_core::{Card, FindingContent};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use tower::ServiceExt;

fn tz() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

struct Inspector {
    id: i64,
    alias: String,
    token: String,
    device: DeviceCaller,
    key: DeviceKey,
}

struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    inspectors: Vec<Inspector>,
    reviewer: OfficeCaller,
    unit: OfficeCaller,
    /// The office day everything happens on (a week ahead), and its 00:00.
    day: jiff::civil::Date,
}

/// A fresh server with the demo city, every demo inspector enrolled, a
/// reviewer and a unit account for the unit of point P001.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::new(dir.path())).unwrap();
    let creds = crate::demo::load(&state.db).unwrap();
    let (inspectors, reviewer, unit) = state
        .db
        .write_blocking(|c| {
            let mut out = Vec::new();
            for (alias, code) in &creds.inspectors {
                let key = DeviceKey::generate();
                let token = accounts::enroll(c, code, None, &key.public_key_hex())?.token;
                let device = accounts::device_by_token_hash(c, &crate::auth::secret_hash(&token))?.unwrap();
                out.push(Inspector { id: device.inspector_id, alias: alias.clone(), token, device, key });
            }
            let rid = accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
            let unit_id: String = c.query_row("SELECT unit_id FROM points WHERE id = 'P001'", [], |r| r.get(0))?;
            let uid = accounts::add_unit_user(c, "unit-acct", "unit-password", &unit_id)?;
            let reviewer = OfficeCaller { user_id: rid, username: "rev".into(), role: Role::Reviewer, unit_id: None };
            let unit =
                OfficeCaller { user_id: uid, username: "unit-acct".into(), role: Role::Unit, unit_id: Some(unit_id) };
            Ok((out, reviewer, unit))
        })
        .unwrap();
    assert!(inspectors.len() >= 3, "the demo has three inspectors");
    let day = tz().to_datetime(Timestamp::now()).date().checked_add(jiff::Span::new().days(7)).unwrap();
    World { _dir: dir, state, inspectors, reviewer, unit, day }
}

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([seed, (x * 4) as u8, (y * 5) as u8]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

impl World {
    fn at(&self, days: i64, hour: i8, minute: i8) -> Timestamp {
        let d = self.day.checked_add(jiff::Span::new().days(days)).unwrap();
        tz().to_timestamp(d.at(hour, minute, 0, 0)).unwrap()
    }

    fn unit_id(&self) -> String {
        self.unit.unit_id.clone().unwrap()
    }

    /// A photo through the app's pipeline into the photo store.
    async fn photo(&self, seed: u8) -> String {
        let p = anfang_core::photo::process(&png(seed), &Default::default()).unwrap();
        self.state.photos.store_processed(&self.state.db, p).await.unwrap()
    }

    async fn push(&self, who: usize, f: FindingContent, now: Timestamp) -> PushResult {
        let i = &self.inspectors[who];
        let signed = SignedFinding { signature: i.key.sign(&f), finding: f };
        let mut r = app::sync::push(&self.state.db, &i.device, vec![signed], now, tz()).await.unwrap();
        r.remove(0)
    }

    fn finding(&self, card: Card, photos: Vec<String>, observed_at: Timestamp) -> FindingContent {
        FindingContent {
            id: uuid::Uuid::now_v7(),
            point_id: "P001".into(),
            unit_id: self.unit_id(),
            category: "sanitation".into(),
            card,
            note: Some("垃圾堆放".into()),
            observed_at,
            location: None,
            photos,
            assignment_id: None,
            recheck: None,
        }
    }

    /// Inspector 0 finds a red card at P001; the reviewer accepts it; the
    /// scheduler notifies the unit at 18:01; the unit answers at 19:00.
    /// Returns the case reference.
    async fn answered_case(&self) -> String {
        let before = self.photo(1).await;
        let f = self.finding(Card::Red, vec![before], self.at(0, 10, 0));
        let id = f.id.to_string();
        assert_eq!(self.push(0, f, self.at(0, 10, 5)).await.outcome, PushOutcome::Accepted);
        let req = serde_json::from_value(json!({"decision": "accept"})).unwrap();
        app::review::decide(&self.state.db, &self.reviewer, id.clone(), req, self.at(0, 10, 10)).await.unwrap();
        self.state.db.schedule_pass(self.at(0, 18, 1), tz()).await.unwrap();
        let case_ref: String = self
            .state
            .db
            .read(move |c| {
                Ok(c.query_row("SELECT public_ref FROM rectification_cases WHERE finding_id = ?1", [&id], |r| {
                    r.get(0)
                })?)
            })
            .await
            .unwrap();
        self.answer(&case_ref, self.at(0, 19, 0)).await;
        case_ref
    }

    async fn answer(&self, case_ref: &str, now: Timestamp) {
        let after = self.photo(2).await;
        let req = serde_json::from_value(json!({"photos": [after], "note": "已清理", "explanation": "已落实门前三包"}))
            .unwrap();
        let s = app::cases::answer(&self.state.db, &self.unit, case_ref.into(), req, now, tz()).await.unwrap();
        assert_eq!(s.case.state.as_str(), "answered");
    }

    async fn draw(&self, now: Timestamp) -> app::rechecks::RecheckDrawReport {
        app::rechecks::draw(
            &self.state.db,
            Default::default(),
            "Asia/Shanghai".into(),
            Some(self.reviewer.user_id),
            now.as_millisecond(),
        )
        .await
        .unwrap()
    }

    /// The re-check visit of a case's latest answer: (assignment, inspector id, starts_ms).
    async fn visit(&self, case_ref: &str) -> (String, i64, i64) {
        let r = case_ref.to_owned();
        self.state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT a.id, a.inspector_id, a.starts_ms FROM recheck_visits v
                     JOIN draw_assignments a ON a.id = v.assignment_id
                     JOIN rectification_cases c ON c.id = v.case_id
                     WHERE c.public_ref = ?1 ORDER BY v.answer_seq DESC LIMIT 1",
                    [&r],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )?)
            })
            .await
            .unwrap()
    }

    fn index_of(&self, inspector_id: i64) -> usize {
        self.inspectors.iter().position(|i| i.id == inspector_id).unwrap()
    }

    async fn exclude(&self, who: usize) {
        let alias = self.inspectors[who].alias.clone();
        self.state.db.set_excluded_units(alias, vec![self.unit_id()]).await.unwrap();
    }

    /// The re-check finding for a visit, observed 10 minutes into its slot.
    async fn recheck_finding(&self, assignment: &str, starts_ms: i64, passed: bool) -> FindingContent {
        let after = self.photo(3).await;
        let mut f = self.finding(
            if passed { Card::Green } else { Card::Red },
            vec![after],
            Timestamp::from_millisecond(starts_ms + 600_000).unwrap(),
        );
        f.assignment_id = Some(assignment.parse().unwrap());
        f.recheck = Some(anfang_core::domain::RecheckResult { passed });
        f
    }

    async fn case(&self, case_ref: &str) -> crate::db::cases::StoredCase {
        self.state.db.case_by_ref(case_ref.into()).await.unwrap().unwrap()
    }
}

fn slot_now(starts_ms: i64) -> Timestamp {
    Timestamp::from_millisecond(starts_ms + 20 * 60_000).unwrap()
}

#[tokio::test]
async fn the_draw_never_picks_the_finder_or_an_excluded_inspector_and_commits_like_every_draw() {
    let w = world();
    let case_ref = w.answered_case().await;
    // Inspector 0 found it; 2 is excluded from its unit: only 1 may go.
    w.exclude(2).await;
    let report = w.draw(w.at(0, 19, 30)).await;
    assert_eq!(report.drawn.len(), 1, "{report:?}");
    assert!(report.not_drawn.is_empty(), "{report:?}");
    let drawn = &report.drawn[0];
    assert_eq!(drawn.case_ref, case_ref);
    // Within the next recheck_within_days (3) days, from tomorrow.
    let date: jiff::civil::Date = drawn.date.parse().unwrap();
    assert!(date > w.day && date <= w.day.checked_add(jiff::Span::new().days(3)).unwrap(), "{date}");
    // The answer names no inspector.
    let text = serde_json::to_string(&report).unwrap();
    for i in &w.inspectors {
        assert!(!text.contains(&i.alias), "{text}");
    }
    let (_, inspector, _) = w.visit(&case_ref).await;
    assert_eq!(inspector, w.inspectors[1].id);
    // The published parameters show the pool: the finder and the excluded are not in it.
    let export = w.state.db.draw_export(drawn.draw_id.clone()).await.unwrap();
    let pool: Vec<&str> = export.parameters.inspectors.iter().map(|i| i.alias.as_str()).collect();
    assert_eq!(pool, [w.inspectors[1].alias.as_str()]);
    assert_eq!(export.parameters.points.len(), 1);
    assert_eq!(export.parameters.points[0].id, "P001");
    assert_eq!(export.commitment, drawn.commitment);
    let logged: bool = {
        let id = drawn.draw_id.clone();
        w.state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM evidence_log WHERE kind = 'draw_commitment' AND record_id = ?1)",
                    [&id],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
    };
    assert!(logged, "the commitment is in the evidence log");
    // Drawing again draws nothing new for the same answer.
    let again = w.draw(w.at(0, 19, 40)).await;
    assert!(again.drawn.is_empty() && again.not_drawn.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_case_nobody_independent_may_recheck_is_reported_with_its_code() {
    let w = world();
    let case_ref = w.answered_case().await;
    w.exclude(1).await;
    w.exclude(2).await;
    let report = w.draw(w.at(0, 19, 30)).await;
    assert!(report.drawn.is_empty(), "{report:?}");
    assert_eq!(report.not_drawn.len(), 1, "{report:?}");
    assert_eq!(
        (report.not_drawn[0].case_ref.as_str(), report.not_drawn[0].code),
        (case_ref.as_str(), ErrorCode::RecheckNoInspector)
    );
}

#[tokio::test]
async fn a_passed_recheck_by_the_drawn_inspector_closes_the_case_and_reaches_only_their_device() {
    let w = world();
    let case_ref = w.answered_case().await;
    w.draw(w.at(0, 19, 30)).await;
    let (aid, inspector, starts_ms) = w.visit(&case_ref).await;
    let who = w.index_of(inspector);
    assert_ne!(who, 0, "never the finder");

    // The pull feed: the visit reaches its inspector as a re-check, with the before-photos.
    let now = slot_now(starts_ms);
    let pulled = w.state.db.pull(&w.inspectors[who].device, None, now).await.unwrap();
    let a = pulled.assignments.iter().find(|a| a.id.to_string() == aid).expect("the re-check is in the feed");
    let task = a.recheck.as_ref().expect("marked as a re-check");
    assert_eq!(
        (task.case_ref.as_str(), task.card, task.category.as_str()),
        (case_ref.as_str(), Card::Red, "sanitation")
    );
    assert_eq!(task.photos.len(), 1);
    let finder = w.state.db.pull(&w.inspectors[0].device, None, now).await.unwrap();
    assert!(finder.assignments.is_empty(), "the finder gets nothing: {:?}", finder.assignments);

    // The photo route (the real router, its clock set to the slot): the
    // before-photo for the drawn inspector only; 404 for anything else.
    let before = task.photos[0].clone();
    let get = |token: String, sha: String, at: Timestamp| {
        let mut state = w.state.clone();
        state.clock = crate::clock::Clock::fixed(at);
        async move {
            let req = Request::get(format!("/api/v1/sync/recheck-photos/{sha}"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            let res = crate::app(state).oneshot(req).await.unwrap();
            let status = res.status();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
            (status, anfang_core::domain::sha256_hex(&body))
        }
    };
    let token = |i: usize| w.inspectors[i].token.clone();
    assert_eq!(get(token(who), before.clone(), now).await, (StatusCode::OK, before.clone()));
    let after = w.photo(2).await;
    for (i, sha, at, why) in [
        (0, before.clone(), now, "the finder"),
        (3 - who, before.clone(), now, "the third inspector"),
        (who, after, now, "not a before-photo"),
        (who, "a".repeat(64), now, "no such photo"),
        (who, before.clone(), w.at(-1, 12, 0), "before the visit reaches the device"),
        (who, before.clone(), w.at(14, 12, 0), "a week after the visit"),
    ] {
        assert_eq!(get(token(i), sha, at).await.0, StatusCode::NOT_FOUND, "{why}");
    }

    let f = w.recheck_finding(&aid, starts_ms, true).await;
    let fid = f.id.to_string();
    let r = w.push(who, f, now).await;
    assert_eq!((r.outcome.clone(), r.notice.clone()), (PushOutcome::Accepted, None), "{r:?}");
    let s = w.case(&case_ref).await;
    assert_eq!(s.case.state.as_str(), "closed");
    assert!(s.closed_at.unwrap() <= s.case.deadline.unwrap(), "closed on time");
    let (visit_finding, passed): (Option<String>, Option<i64>) = {
        let aid = aid.clone();
        w.state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT finding_id, passed FROM recheck_visits WHERE assignment_id = ?1",
                    [&aid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .unwrap()
    };
    assert_eq!((visit_finding.as_deref(), passed), (Some(fid.as_str()), Some(1)));
    // The unit reads 复查 and the result, never who re-checked.
    let detail =
        w.state.db.unit_case(w.unit_id(), case_ref.clone(), tz(), now.to_zoned_datetime(tz())).await.unwrap().unwrap();
    let text = serde_json::to_string(&detail).unwrap();
    assert!(text.contains("recheck_passed") && text.contains("复查"), "{text}");
    for i in &w.inspectors {
        assert!(!text.contains(&i.alias), "{text}");
    }
    assert!(!text.contains(&fid), "no finding id for the unit: {text}");
}

#[tokio::test]
async fn failed_rechecks_send_the_case_back_with_a_new_deadline_and_the_third_is_supervised() {
    let w = world();
    let case_ref = w.answered_case().await;
    let mut now = w.at(0, 19, 30);
    for round in 1..=3u32 {
        let report = w.draw(now).await;
        assert_eq!(report.drawn.len(), 1, "round {round}: {report:?}");
        let (aid, inspector, starts_ms) = w.visit(&case_ref).await;
        let who = w.index_of(inspector);
        assert_ne!(who, 0);
        now = slot_now(starts_ms);
        let f = w.recheck_finding(&aid, starts_ms, false).await;
        let fid = f.id.to_string();
        let r = w.push(who, f, now).await;
        assert_eq!((r.outcome, r.notice), (PushOutcome::Accepted, None), "round {round}");
        let s = w.case(&case_ref).await;
        assert_eq!((s.case.state.as_str(), s.case.rework_count), ("rework", round), "round {round}");
        assert!(s.case.deadline.unwrap() > now, "a new deadline after the re-check");
        assert_eq!(s.case.supervised, round >= 3, "round {round}");
        if round == 1 {
            // The reviewer accepts the failed re-check as a red card: it
            // is the verdict on this case, not a new case of its own.
            let req = serde_json::from_value(json!({"decision": "accept"})).unwrap();
            app::review::decide(&w.state.db, &w.reviewer, fid.clone(), req, now).await.unwrap();
            let cases: i64 = w
                .state
                .db
                .read(move |c| {
                    Ok(c.query_row("SELECT count(*) FROM rectification_cases WHERE finding_id = ?1", [&fid], |r| {
                        r.get(0)
                    })?)
                })
                .await
                .unwrap();
            assert_eq!(cases, 0, "a re-check finding opens no case");
        }
        now = now.checked_add(jiff::SignedDuration::from_hours(1)).unwrap();
        w.answer(&case_ref, now).await;
        now = now.checked_add(jiff::SignedDuration::from_mins(10)).unwrap();
    }
}

#[tokio::test]
async fn a_recheck_on_an_ordinary_visit_or_by_another_inspector_is_refused_and_the_case_stays() {
    let w = world();
    let case_ref = w.answered_case().await;
    w.draw(w.at(0, 19, 30)).await;
    let (aid, inspector, starts_ms) = w.visit(&case_ref).await;
    let who = w.index_of(inspector);
    let now = slot_now(starts_ms);

    // Another inspector (here the finder) pushing a result on that visit.
    let r = w.push(0, w.recheck_finding(&aid, starts_ms, true).await, now).await;
    assert!(matches!(&r.outcome, PushOutcome::Rejected { error_code: Some(ErrorCode::VisitNotYours), .. }), "{r:?}");
    let other = 3 - who;
    let r = w.push(other, w.recheck_finding(&aid, starts_ms, true).await, now).await;
    assert!(matches!(&r.outcome, PushOutcome::Rejected { error_code: Some(ErrorCode::VisitNotYours), .. }), "{r:?}");

    // An ordinary drawn visit of the same inspector, with a re-check result on it.
    let day = w.day.checked_add(jiff::Span::new().days(10)).unwrap();
    let req: crate::db::draws::DrawRequest = serde_json::from_value(json!({
        "from": day, "to": day, "visits": 1, "inspectors": [w.inspectors[who].alias], "units": [w.unit_id()],
        "slots": [{"name": "am", "label": "上午", "start": "09:00", "end": "10:00", "days": "every"}]
    }))
    .unwrap();
    app::draws::create(&w.state.db, req, "Asia/Shanghai".into(), None, now.as_millisecond()).await.unwrap();
    let (plain, plain_point, plain_starts): (String, String, i64) = w
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT id, point_id, starts_ms FROM draw_assignments WHERE id NOT IN (SELECT assignment_id FROM recheck_visits)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .unwrap();
    let mut f = w.recheck_finding(&plain, plain_starts, true).await;
    f.point_id = plain_point;
    let r = w.push(who, f, slot_now(plain_starts)).await;
    assert!(
        matches!(&r.outcome, PushOutcome::Rejected { error_code: Some(ErrorCode::RecheckNotARecheckVisit), .. }),
        "{r:?}"
    );
    let s = w.case(&case_ref).await;
    assert_eq!(s.case.state.as_str(), "answered", "nothing refused moved the case");

    // The right one still works, once.
    let r = w.push(who, w.recheck_finding(&aid, starts_ms, true).await, now).await;
    assert_eq!(r.outcome, PushOutcome::Accepted, "{r:?}");
    let r = w.push(who, w.recheck_finding(&aid, starts_ms, false).await, now).await;
    assert!(
        matches!(&r.outcome, PushOutcome::Rejected { error_code: Some(ErrorCode::RecheckAlreadyRecorded), .. }),
        "{r:?}"
    );
    assert_eq!(w.case(&case_ref).await.case.state.as_str(), "closed");
}

#[tokio::test]
async fn a_recheck_of_a_case_closed_meanwhile_is_kept_and_says_the_case_did_not_move() {
    let w = world();
    // A yellow card the office may close on evidence.
    let mut settings = w.state.db.rectification_settings().await.unwrap();
    settings.close_yellow_on_evidence = true;
    w.state.db.put_rectification_settings(settings).await.unwrap();
    let before = w.photo(1).await;
    let f = w.finding(Card::Yellow, vec![before], w.at(0, 10, 0));
    let id = f.id.to_string();
    assert_eq!(w.push(0, f, w.at(0, 10, 5)).await.outcome, PushOutcome::Accepted);
    let req = serde_json::from_value(json!({"decision": "accept"})).unwrap();
    app::review::decide(&w.state.db, &w.reviewer, id.clone(), req, w.at(0, 10, 10)).await.unwrap();
    w.state.db.schedule_pass(w.at(0, 18, 1), tz()).await.unwrap();
    let case_ref = w.state.db.office_cases(Default::default(), w.at(0, 18, 2).to_zoned_datetime(tz())).await.unwrap()
        [0]
    .reference
    .clone();
    w.answer(&case_ref, w.at(0, 19, 0)).await;
    w.draw(w.at(0, 19, 30)).await;
    let (aid, inspector, starts_ms) = w.visit(&case_ref).await;
    let decision = serde_json::from_value(json!({"decision": "close_on_evidence", "reason": "照片清楚"})).unwrap();
    app::cases::decide(&w.state.db, &w.reviewer, case_ref.clone(), decision, w.at(0, 20, 0), tz()).await.unwrap();

    let f = w.recheck_finding(&aid, starts_ms, false).await;
    let r = w.push(w.index_of(inspector), f, slot_now(starts_ms)).await;
    assert_eq!(r.outcome, PushOutcome::Accepted, "{r:?}");
    assert_eq!(r.notice.as_ref().map(|n| n.code), Some(ErrorCode::RecheckCaseMovedOn), "{r:?}");
    let s = w.case(&case_ref).await;
    assert_eq!((s.case.state.as_str(), s.case.rework_count), ("closed", 0));
    let passed: Option<i64> = w
        .state
        .db
        .read(move |c| {
            Ok(c.query_row("SELECT passed FROM recheck_visits WHERE assignment_id = ?1", [&aid], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(passed, Some(0), "the visit keeps its result");
}
