//! A hand-computed month of the league, end to end inside the server:
//! findings pushed by a real device, reviewed, their cases opened and
//! notified by the scheduler, one answered and closed on evidence, the
//! others left to go overdue; then the month computed, issued, issued
//! again (refused), recomputed, audited, tampered with and audited again.
//!
//! A small city: the demo's points, all deactivated but five. Month M is
//! two months ahead of the real clock (devices enroll now). Default rules.
//!
//! | point | unit | findings in M                                        | score             |
//! |-------|------|------------------------------------------------------|-------------------|
//! | A1    | U03  | yellow day 2 closed on time; red day 4 never closed  | 100−1−2−2 = 95    |
//! | A2    | U03  | yellow parking day 5 and again day 12 (a repeat), both overdue, found by a district inspector | 100−1−1−2−2 = 94 |
//! | B1    | U08  | red day 6, overdue; green day 20 (not clean: a problem) | 100−2−2 = 96   |
//! | C1    | U09  | green day 8 and day 15: clean twice                  | 100+2+2 = 104     |
//! | D1    | U04  | not inspected                                        | 100 (unit unranked) |
//!
//! Units: U09 104, U08 96, U03 (95+94)/2 = 94.5. Last: U03 (黄牌警告);
//! first: U09 (通报表扬). Ten worst: U03, U08, U09.
//!
//! Point types: 农贸市场 (A1, C1) (95+104)/2 = 99.5, 道路 (A2, B1; D1 not
//! inspected) (94+96)/2 = 95. 点长: 李四 (B1; D1 not inspected) 96, 张三
//! (A1, A2) 94.5; C1 has none.

use crate::auth::{DeviceCaller, OfficeCaller, Role};
use crate::db::accounts;
use crate::league::Tenths;
use crate::{AppState, Config, app};
use anfang_core::error_code::ErrorCode;
use anfang_core::evidence::DeviceKey;
use anfang_core::protocol::{PushOutcome, SignedFinding};
use anfang_core::{Card, FindingContent};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::json;

fn tz() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn code(e: &crate::error::AppError) -> ErrorCode {
    e.code()
}

struct City {
    _dir: tempfile::TempDir,
    state: AppState,
    device: DeviceCaller,
    key: DeviceKey,
    reviewer: OfficeCaller,
    admin: OfficeCaller,
    unit_u03: OfficeCaller,
    /// A1, A2, B1, C1, D1.
    points: [String; 5],
    month: Date,
}

fn city() -> City {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::new(dir.path())).unwrap();
    let creds = crate::demo::load(&state.db).unwrap();
    let key = DeviceKey::generate();
    let (device, reviewer, admin, unit_u03, points) = state
        .db
        .write_blocking(|c| {
            let token = accounts::enroll(c, &creds.inspectors[0].1, None, &key.public_key_hex())?.token;
            let device = accounts::device_by_token_hash(c, &crate::auth::secret_hash(&token))?.unwrap();
            let rid = accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
            let aid: i64 =
                c.query_row("SELECT id FROM users WHERE username = ?1", [&creds.admin_username], |r| r.get(0))?;
            let uid = accounts::add_unit_user(c, "u03-acct", "unit-password", "U03")?;
            let first = |unit: &str, n: i64| -> crate::db::sql::Result<String> {
                c.query_row(
                    "SELECT id FROM points WHERE unit_id = ?1 AND active = 1 ORDER BY id LIMIT 1 OFFSET ?2",
                    crate::db::sql::params![unit, n],
                    |r| r.get(0),
                )
            };
            let points = [first("U03", 0)?, first("U03", 1)?, first("U08", 0)?, first("U09", 0)?, first("U04", 0)?];
            // The small city: every other point is out of service.
            let keep = points.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(",");
            c.execute(&format!("UPDATE points SET active = 0 WHERE id NOT IN ({keep})"), [])?;
            Ok((
                device,
                OfficeCaller { user_id: rid, username: "rev".into(), role: Role::Reviewer, unit_id: None },
                OfficeCaller { user_id: aid, username: creds.admin_username.clone(), role: Role::Admin, unit_id: None },
                OfficeCaller {
                    user_id: uid,
                    username: "u03-acct".into(),
                    role: Role::Unit,
                    unit_id: Some("U03".into()),
                },
                points,
            ))
        })
        .unwrap();
    let today = tz().to_datetime(Timestamp::now()).date();
    let month = today.first_of_month().checked_add(jiff::Span::new().months(2)).unwrap();
    City { _dir: dir, state, device, key, reviewer, admin, unit_u03, points, month }
}

impl City {
    fn at(&self, day: i8, hour: i8) -> Timestamp {
        tz().to_timestamp(self.month.with().day(day).build().unwrap().at(hour, 0, 0, 0)).unwrap()
    }

    fn next_month(&self, day: i8, hour: i8) -> Timestamp {
        let d = self.month.checked_add(jiff::Span::new().months(1)).unwrap().with().day(day).build().unwrap();
        tz().to_timestamp(d.at(hour, 0, 0, 0)).unwrap()
    }

    fn name(&self) -> String {
        app::league::month_name(self.month)
    }

    async fn photo(&self, seed: u8) -> String {
        // A flat colour per seed is photo enough for the pipeline.
        let img = image::RgbImage::from_pixel(64, 48, image::Rgb([seed, 128, 255 - seed]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let p = anfang_core::photo::process(&png, &Default::default()).unwrap();
        self.state.photos.store_processed(&self.state.db, p).await.unwrap()
    }

    /// Records, pushes and accepts a finding on `day` at 10:00, and runs the
    /// scheduler at 18:01 (the unit is notified, the deadline runs).
    async fn found(&self, point: usize, category: &str, card: Card, day: i8, seed: u8) -> String {
        let unit: String = {
            let p = self.points[point].clone();
            self.state
                .db
                .read(move |c| Ok(c.query_row("SELECT unit_id FROM points WHERE id = ?1", [&p], |r| r.get(0))?))
                .await
                .unwrap()
        };
        let photos = if card == Card::Green { vec![] } else { vec![self.photo(seed).await] };
        let f = FindingContent {
            id: uuid::Uuid::now_v7(),
            point_id: self.points[point].clone(),
            unit_id: unit,
            category: category.into(),
            card,
            note: Some("现场检查".into()),
            observed_at: self.at(day, 10),
            location: None,
            photos,
            assignment_id: None,
            recheck: None,
        };
        let id = f.id.to_string();
        let signed = SignedFinding { signature: self.key.sign(&f), finding: f };
        let mut r = app::sync::push(
            &self.state.db,
            &self.device,
            vec![signed],
            self.at(day, 10) + jiff::SignedDuration::from_mins(5),
            tz(),
        )
        .await
        .unwrap();
        assert_eq!(r.remove(0).outcome, PushOutcome::Accepted);
        let req = serde_json::from_value(json!({"decision": "accept"})).unwrap();
        app::review::decide(&self.state.db, &self.reviewer, id.clone(), req, self.at(day, 11)).await.unwrap();
        self.state.db.schedule_pass(self.at(day, 18) + jiff::SignedDuration::from_mins(1), tz()).await.unwrap();
        id
    }

    async fn case_of(&self, finding: &str) -> String {
        let id = finding.to_owned();
        self.state
            .db
            .read(move |c| {
                Ok(c.query_row("SELECT public_ref FROM rectification_cases WHERE finding_id = ?1", [&id], |r| {
                    r.get(0)
                })?)
            })
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_hand_computed_month_is_issued_once_reproduced_and_its_hash_audited() {
    let c = city();
    let p = c.points.clone();
    c.state
        .db
        .write(move |conn| {
            for (point, kind, chief) in [
                (&p[0], "农贸市场", Some("张三")),
                (&p[1], "道路", Some("张三")),
                (&p[2], "道路", Some("李四")),
                (&p[3], "农贸市场", None),
                (&p[4], "道路", Some("李四")),
            ] {
                conn.execute(
                    "UPDATE points SET kind = ?2, leader = ?3 WHERE id = ?1",
                    crate::db::sql::params![point, kind, chief],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let mut settings = c.state.db.rectification_settings().await.unwrap();
    settings.close_yellow_on_evidence = true;
    c.state.db.put_rectification_settings(settings).await.unwrap();

    // A1: a yellow closed on time, and a red never answered.
    let y = c.found(0, "sanitation", Card::Yellow, 2, 1).await;
    let case = c.case_of(&y).await;
    let after = c.photo(9).await;
    let answer =
        serde_json::from_value(json!({"photos": [after], "note": "已清理", "explanation": "已落实门前三包"})).unwrap();
    app::cases::answer(&c.state.db, &c.unit_u03, case.clone(), answer, c.at(3, 9), tz()).await.unwrap();
    let close = serde_json::from_value(json!({"decision": "close_on_evidence", "reason": "照片清楚"})).unwrap();
    let closed = app::cases::decide(&c.state.db, &c.reviewer, case, close, c.at(3, 11), tz()).await.unwrap();
    assert_eq!(closed.case.state.as_str(), "closed");
    c.found(0, "parking", Card::Red, 4, 2).await;
    // A2: the same problem found twice by the inspector while they worked
    // for the district; both cases left open. Back with the city after.
    let inspector = c.device.inspector_id;
    c.state.db.set_inspector_source(inspector, crate::league::Source::District).await.unwrap();
    c.found(1, "parking", Card::Yellow, 5, 3).await;
    c.found(1, "parking", Card::Yellow, 12, 4).await;
    c.state.db.set_inspector_source(inspector, crate::league::Source::City).await.unwrap();
    // B1: a red left open, and a green that does not make it clean.
    c.found(2, "sanitation", Card::Red, 6, 5).await;
    c.found(2, "sanitation", Card::Green, 20, 0).await;
    // C1: clean twice.
    c.found(3, "sanitation", Card::Green, 8, 0).await;
    c.found(3, "parking", Card::Green, 15, 0).await;

    let tzv = tz();
    let live = app::league::month(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert_eq!(live.status, "live");
    let r = &live.result;
    let points: Vec<(String, i64, usize)> = r.points.iter().map(|p| (p.point_id.clone(), p.score.0, p.rank)).collect();
    let p = &c.points;
    assert_eq!(
        points,
        vec![
            (p[3].clone(), 1040, 1),
            (p[4].clone(), 1000, 2),
            (p[2].clone(), 960, 3),
            (p[0].clone(), 950, 4),
            (p[1].clone(), 940, 5),
        ]
    );
    let a1 = r.points.iter().find(|x| x.point_id == p[0]).unwrap();
    let lines: Vec<(&str, i64)> = a1.lines.iter().map(|l| (l.what.as_str(), l.points.0)).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0].1, -10, "the yellow closed on time costs half: {lines:?}");
    assert!(lines[0].0.contains("按期整改"), "{lines:?}");
    assert_eq!(lines[1].1, -20, "{lines:?}");
    assert_eq!(lines[2], ("逾期未整改 1 个", -20));
    assert!(!r.points.iter().find(|x| x.point_id == p[4]).unwrap().inspected);
    let a2 = r.points.iter().find(|x| x.point_id == p[1]).unwrap();
    assert!(
        a2.lines.iter().filter(|l| l.what.starts_with("区级发现") && l.points == Tenths(-10)).count() == 2,
        "a district inspector's finding costs 1, and keeps its source after the inspector moved back: {:?}",
        a2.lines
    );

    let units: Vec<(&str, Tenths, usize, usize)> =
        r.units.iter().map(|u| (u.unit_id.as_str(), u.score, u.rank, u.inspected_points)).collect();
    assert_eq!(units, [("U09", Tenths(1040), 1, 1), ("U08", Tenths(960), 2, 1), ("U03", Tenths(945), 3, 2)]);
    assert!(r.units.iter().all(|u| u.previous_rank.is_none()), "nothing ranked the month before");
    let group = |g: &[app::league::GroupLine]| -> Vec<(String, i64, usize, usize)> {
        g.iter().map(|l| (l.name.clone(), l.score.0, l.rank, l.inspected_points)).collect()
    };
    assert_eq!(group(&r.point_kinds), [("农贸市场".to_owned(), 995, 1, 2), ("道路".to_owned(), 950, 2, 2)]);
    assert_eq!(group(&r.chiefs), [("李四".to_owned(), 960, 1, 1), ("张三".to_owned(), 945, 2, 2)]);
    let worst: Vec<&str> = r.ten_worst.iter().map(|u| u.unit_id.as_str()).collect();
    assert_eq!(worst, ["U03", "U08", "U09"]);
    let best: Vec<&str> = r.ten_best.iter().map(|u| u.unit_id.as_str()).collect();
    assert_eq!(best, ["U09", "U08", "U03"]);
    let given: Vec<(&str, &str, usize)> =
        r.consequences.iter().map(|x| (x.unit_id.as_str(), x.consequence.as_str(), x.rank)).collect();
    assert_eq!(given, [("U03", "黄牌警告", 3), ("U09", "通报表扬", 1)]);
    assert!(r.rule_text.contains("第 1 版"), "{}", r.rule_text);

    // Not over yet: refused.
    let e = app::league::issue(&c.state.db, &tzv, &c.reviewer, &c.name(), c.at(28, 23)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueMonthNotOver);
    let e = app::league::issue(&c.state.db, &tzv, &c.reviewer, "2026-13", c.next_month(1, 9)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueMonthInvalid);

    let before = app::league::reproduce(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert!(!before.reproducible && before.issued_hash.is_none(), "{before:?}");
    let issued = app::league::issue(&c.state.db, &tzv, &c.reviewer, &c.name(), c.next_month(1, 9)).await.unwrap();
    assert_eq!(issued.result_hash, anfang_core::domain::sha256_hex(issued.result.as_bytes()));
    let year = c.next_month(1, 9).to_zoned_datetime(tz()).year();
    assert_eq!(
        issued.number.as_deref(),
        Some(format!("[{year}] 月评第 1 期").as_str()),
        "numbered in its year of issue"
    );
    let frozen = app::league::month(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert_eq!((frozen.status, &frozen.result), ("issued", r), "the issued result is the computed one");
    let e = app::league::issue(&c.state.db, &tzv, &c.admin, &c.name(), c.next_month(2, 9)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueMonthIssued);

    let again = app::league::reproduce(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert!(again.reproducible, "{again:?}");
    assert_eq!(again.recomputed_hash, issued.result_hash);
    assert_eq!(again.recomputed_hash, before.recomputed_hash, "issuing stored what was computed");

    let history = c.state.db.league_consequence_history().await.unwrap();
    let h: Vec<(&str, &str)> = history.iter().map(|x| (x.unit_id.as_str(), x.consequence.as_str())).collect();
    assert_eq!(h, [("U09", "通报表扬"), ("U03", "黄牌警告")]);

    // A rule set for the issued month is refused; one for the next month is stored.
    let rules = crate::league::RuleSet::default();
    let req = app::league::RulesRequest { effective_from: c.name(), rules: rules.clone() };
    let e = app::league::add_rules(&c.state.db, &c.admin, req, c.next_month(2, 10)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueRulesForIssuedMonth);
    let bad = crate::league::RuleSet { per_clean_inspection: Tenths(-5), ..rules.clone() };
    let next = app::league::month_name(c.month.checked_add(jiff::Span::new().months(1)).unwrap());
    let req = app::league::RulesRequest { effective_from: next.clone(), rules: bad };
    let e = app::league::add_rules(&c.state.db, &c.admin, req, c.next_month(2, 10)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueRulesInvalid);
    assert!(e.to_string().contains("negative"), "{e}");
    let mut missing = rules.clone();
    missing.deduction.remove(&(crate::league::Source::City, crate::league::CardKind::Red));
    let req = app::league::RulesRequest { effective_from: next.clone(), rules: missing };
    let e = app::league::add_rules(&c.state.db, &c.admin, req, c.next_month(2, 10)).await.unwrap_err();
    assert_eq!(code(&e), ErrorCode::LeagueRulesInvalid);
    assert!(app::league::rule_sets(&c.state.db).await.unwrap().is_empty(), "nothing refused was stored");
    let heavier = crate::league::RuleSet { per_overdue_case: Tenths(50), ..rules.clone() };
    let req = app::league::RulesRequest { effective_from: next.clone(), rules: heavier };
    let stored = app::league::add_rules(&c.state.db, &c.admin, req, c.next_month(2, 10)).await.unwrap();
    assert_eq!(stored.version, 2);
    let next_live = app::league::month(&c.state.db, &tzv, &next).await.unwrap();
    assert_eq!(next_live.result.rule_version, 2, "the next month is scored with the new version");
    // Overdue cases still open: A1 1, A2 2, B1 1 → A2 = 100 − 2×5 = 90.
    let a2 = next_live.result.points.iter().find(|x| x.point_id == p[1]).unwrap();
    assert_eq!(a2.score, Tenths(900));
    assert_eq!(a2.previous_rank, Some(5), "month-on-month movement reads last month");
    assert!(next_live.result.units.iter().all(|u| u.unit_id != "U03"), "no point of U03 inspected: unranked");
    let reproduced = app::league::reproduce(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert!(reproduced.reproducible, "a later rule set does not change an issued month");
    // The next month, issued when it is over, takes the next number of its year of issue.
    let two_on = c.month.checked_add(jiff::Span::new().months(2)).unwrap();
    let at = tz().to_timestamp(two_on.with().day(2).build().unwrap().at(9, 0, 0, 0)).unwrap();
    let second = app::league::issue(&c.state.db, &tzv, &c.reviewer, &next, at).await.unwrap();
    let expected = if at.to_zoned_datetime(tz()).year() == year { 2 } else { 1 };
    assert_eq!(
        second.number.as_deref(),
        Some(format!("[{}] 月评第 {expected} 期", at.to_zoned_datetime(tz()).year()).as_str())
    );
    // The database itself refuses a number out of sequence.
    let e = c
        .state
        .db
        .write(move |conn| {
            conn.execute(
                "INSERT INTO league_months (month, rule_version, result, result_hash, issued_by, issued_at, year, sequence, number)
                 VALUES ('2999-01', 1, '{}', ?1, 1, 'now', 2999, 2, '[2999] 月评第 2 期')",
                ["0".repeat(64)],
            )?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("next number of its year"), "{e}");

    // The evidence log holds the hash, and verify passes.
    let m = c.name();
    let logged: String = c
        .state
        .db
        .read(move |conn| {
            Ok(conn.query_row(
                "SELECT record_hash FROM evidence_log WHERE kind = 'league_issue' AND record_id = ?1",
                [format!("league/{m}")],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(logged, issued.result_hash);
    let audit = || async {
        let photos = crate::db::evidence::PhotoDir::new(&c.state.config.data_dir);
        c.state.db.audit_evidence(photos, None).await.unwrap().problems
    };
    assert_eq!(audit().await, Vec::<String>::new());

    // Tampering with the stored result (past the triggers, as someone with
    // the file could) is named by verify.
    let m = c.name();
    c.state
        .db
        .write(move |conn| {
            conn.execute_batch(match conn.engine() {
                crate::db::sql::Engine::Sqlite => "DROP TRIGGER league_months_no_update",
                crate::db::sql::Engine::Postgres => "DROP TRIGGER league_months_no_update ON league_months",
            })?;
            conn.execute(
                "UPDATE league_months SET result = replace(result, '\"score\":945', '\"score\":985') WHERE month = ?1",
                [&m],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let problems = audit().await;
    assert_eq!(
        problems,
        [format!("league month {}: its stored result does not match its hash (altered)", c.name())],
        "{problems:?}"
    );
    let reproduced = app::league::reproduce(&c.state.db, &tzv, &c.name()).await.unwrap();
    assert!(reproduced.reproducible, "the recompute still matches the logged hash; the stored bytes do not");
}

#[test]
fn a_result_recomputed_for_a_month_issued_before_the_group_rankings_has_that_months_shape() {
    use app::league::{GroupLine, LeagueResult};
    let line =
        GroupLine { name: "道路".into(), score: Tenths(1000), rank: 1, inspected_points: 1, previous_rank: None };
    let r = LeagueResult {
        format: app::league::FORMAT,
        month: "2026-11".into(),
        rule_version: 1,
        rules: crate::league::RuleSet::default(),
        rule_text: String::new(),
        points: vec![],
        units: vec![],
        ten_worst: vec![],
        ten_best: vec![],
        consequences: vec![],
        point_kinds: vec![line.clone()],
        chiefs: vec![line],
    };
    let now = app::league::canonical(&r).unwrap();
    assert!(now.contains("\"format\":2") && now.contains("point_kinds") && now.contains("chiefs"), "{now}");
    let old = app::league::canonical(&r.clone().in_format(1)).unwrap();
    assert!(!old.contains("format") && !old.contains("point_kinds") && !old.contains("chiefs"), "{old}");
    let read: LeagueResult = serde_json::from_str(&old).unwrap();
    assert_eq!(read.format, 1, "a result with no format key is format 1");
    assert_eq!(app::league::canonical(&read).unwrap(), old, "read and written again, byte for byte");
}
