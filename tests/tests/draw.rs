//! The verifiable random draw, end to end through the real server binary:
//! reproduced exactly by `draw verify` from the revealed seed; constraints
//! re-checked independently on a city-sized draw; an impossible draw
//! reported, not relaxed; assignments reaching only their inspector, only
//! from their lead time.

mod common;

use anfang_server::db::{Db, accounts, draws, reference};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

fn server_cli(args: &[&str], now: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new(SERVER_BIN);
    cmd.args(args).env("RUST_LOG", "warn");
    if let Some(now) = now {
        cmd.env("ANFANG_TEST_NOW", now);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first day of a period starting `days` from now, office time.
fn day_from_now(days: i64) -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    tz.to_datetime(jiff::Timestamp::now()).date().checked_add(jiff::Span::new().days(days)).unwrap()
}

async fn office(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.url());
    let req = match method {
        "post" => client.post(url).json(&body.unwrap_or(json!({}))),
        _ => client.get(url),
    };
    let res = req.bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p.to_str().unwrap().to_owned()
}

/// A moment after the period ending on `to`.
fn after(to: &str) -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let day = to.parse::<jiff::civil::Date>().unwrap().tomorrow().unwrap();
    tz.to_timestamp(day.to_datetime(jiff::civil::time(1, 0, 0, 0))).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revealed_draw_is_reproduced_by_draw_verify_and_any_change_fails() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let admin = server.admin_token().await;
    let (from, to) = (day_from_now(3), day_from_now(9));
    let request = json!({"from": from, "to": to, "visits": 12, "max_visits_per_inspector_per_day": 1});
    let (status, created) = office(&server, &admin, "post", "/api/v1/draws", Some(request.clone())).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let commitment = created["commitment"].as_str().unwrap().to_owned();
    assert_eq!(commitment.len(), 64);

    // Before the period: the export has no seed, and the reveal is refused.
    let (_, sealed) = office(&server, &admin, "get", &format!("/api/v1/draws/{id}/export"), None).await;
    assert!(sealed["seed"].is_null() && sealed["assignments"].is_null(), "{sealed}");
    let (status, refused) = office(&server, &admin, "post", &format!("/api/v1/draws/{id}/reveal"), None).await;
    assert_eq!(status, 409, "{refused}");

    // Drawing the same period again is possible, and visible.
    let (status, _) = office(&server, &admin, "post", "/api/v1/draws", Some(request)).await;
    assert_eq!(status, 200);
    let (_, listed) = office(&server, &admin, "get", &format!("/api/v1/draws?from={from}&to={to}"), None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");

    // After the period, the seed is revealed (CLI on the same data dir,
    // with the clock moved past the period).
    let dir = data.path().to_str().unwrap();
    let (code, out, err) =
        server_cli(&["draw", "reveal", "--data-dir", dir, "--id", &id], Some(&after(&to.to_string())));
    assert_eq!(code, 0, "{out}{err}");
    let (_, export) = office(&server, &admin, "get", &format!("/api/v1/draws/{id}/export"), None).await;
    let seed = export["seed"].as_str().expect("revealed seed").to_owned();
    assert_eq!(export["commitment"], commitment.as_str());
    assert_eq!(export["assignments"].as_array().unwrap().len(), 12);

    let work = tempfile::tempdir().unwrap();
    let export_file = write(work.path(), "export.json", &export);
    let (code, out, err) = server_cli(
        &[
            "draw",
            "verify",
            "--params",
            &export_file,
            "--seed",
            &seed,
            "--commitment",
            &commitment,
            "--assignments",
            &export_file,
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("commitment ok") && out.contains("all 12 assignments"), "{out}");

    // Any change is caught: one bit of the seed, one parameter, one assignment.
    let mut other_seed = seed.clone();
    other_seed.replace_range(0..1, if seed.starts_with('0') { "1" } else { "0" });
    let (code, _, err) = server_cli(&["draw", "verify", "--params", &export_file, "--seed", &other_seed], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("COMMITMENT MISMATCH"), "{err}");

    let mut changed = export.clone();
    changed["parameters"]["max_visits_per_inspector_per_day"] = json!(2);
    let changed_file = write(work.path(), "changed.json", &changed);
    let (code, _, err) =
        server_cli(&["draw", "verify", "--params", &changed_file, "--seed", &seed, "--commitment", &commitment], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("COMMITMENT MISMATCH"), "{err}");

    let mut moved = export.clone();
    let first = &mut moved["assignments"][0];
    let other_point = if first["point_id"] == "P001" { "P002" } else { "P001" };
    first["point_id"] = json!(other_point);
    let moved_file = write(work.path(), "moved.json", &moved);
    let (code, out, err) =
        server_cli(&["draw", "verify", "--params", &export_file, "--seed", &seed, "--assignments", &moved_file], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("DIFFERS assignment #0"), "{out}");

    // The commitment and the reveal are in the evidence log, and it verifies.
    let (code, out, _) = server_cli(&["verify", "--data-dir", dir], None);
    assert_eq!(code, 0, "{out}");
    let conn = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM evidence_log WHERE record_id = ?1 ORDER BY seq")
        .unwrap()
        .query_map([&id], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kinds, ["draw_commitment", "draw_reveal"]);
    // And a draw cannot be altered in place.
    let err = conn.execute("UPDATE draws SET params = '{}' WHERE id = ?1", [&id]).unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
}

/// 20 inspectors (each excluded from 2 units), 200 points of 50 units in 4
/// districts, written before the server starts.
fn city(data: &Path) -> String {
    std::fs::create_dir_all(data).unwrap();
    let db = Db::open(&data.join("anfang.sqlite3")).unwrap();
    db.write_blocking(|c| {
        let districts = ["通川区", "达川区", "达州经开区", "高新区"];
        for u in 0..50 {
            reference::upsert_unit(
                c,
                &anfang_core::Unit {
                    id: format!("U{u:02}"),
                    name: format!("单位{u}"),
                    district: Some(districts[u % 4].into()),
                    active: true,
                },
            )?;
        }
        for p in 0..200 {
            let point = anfang_core::Point {
                id: format!("P{p:03}"),
                name: format!("点位{p}"),
                kind: anfang_core::PointKind::ALL[p % 10],
                unit_id: format!("U{:02}", p % 50),
                lat: 31.2 + p as f64 * 1e-4,
                lon: 107.4,
                address: None,
                district: Some(districts[(p / 50) % 4].into()),
                active: true,
            };
            reference::upsert_point(c, &point, None)?;
        }
        for c2 in anfang_core::domain::default_categories() {
            reference::upsert_category(c, &c2)?;
        }
        accounts::add_user(c, "admin", "admin-password-long", anfang_server::auth::Role::Admin)?;
        for i in 0..20 {
            let alias = format!("督查{:02}", i + 1);
            accounts::add_inspector(c, &alias)?;
            draws::set_excluded_units(c, &alias, &[format!("U{:02}", i), format!("U{:02}", i + 20)])?;
        }
        Ok(())
    })
    .unwrap();
    "admin-password-long".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_constraint_holds_on_30_days_20_inspectors_200_points_and_an_impossible_draw_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let password = city(data.path());
    let server = Server::start(data.path(), "127.0.0.1:0", false);
    let admin = office::sign_in(&server, "admin", &password).await;
    let (from, to) = (day_from_now(2), day_from_now(31));

    // 20 inspectors × 30 days × 1 a day = 600 at most: 601 is impossible,
    // and the answer says which constraint and by how much.
    let (status, refused) = office(
        &server,
        &admin,
        "post",
        "/api/v1/draws",
        Some(json!({"from": from, "to": to, "visits": 601, "max_visits_per_inspector_per_day": 1})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    // The API speaks English with a stable code; the console says it in
    // Chinese from the same typed error (tests/console.rs).
    assert_eq!(refused["code"], "draw_infeasible", "{refused}");
    assert_eq!(refused["field"], "visits", "{refused}");
    let msg = refused["error"].as_str().unwrap();
    assert!(
        msg.contains("601 visits are needed, at most 600 can be placed")
            && msg.contains("at most 1 visit(s) per inspector per day"),
        "{msg}"
    );
    // Nothing was stored for it.
    let (_, listed) = office(&server, &admin, "get", "/api/v1/draws", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);

    let (status, created) = office(&server, &admin, "post", "/api/v1/draws", Some(json!({"from": from, "to": to, "visits": 600, "min_days_between_same_unit": 7, "max_visits_per_inspector_per_day": 2}))).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap();
    let dir = data.path().to_str().unwrap();
    let (code, out, err) =
        server_cli(&["draw", "reveal", "--data-dir", dir, "--id", id], Some(&after(&to.to_string())));
    assert_eq!(code, 0, "{err}");
    let export: Value = serde_json::from_str(&out).unwrap();

    // Independent re-check of the output, not through the draw module.
    let params = &export["parameters"];
    let excluded: HashMap<String, BTreeSet<String>> = params["inspectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["alias"].as_str().unwrap().to_owned(),
                i["excluded_units"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(excluded.len(), 20);
    assert_eq!(params["points"].as_array().unwrap().len(), 200);
    let district: HashMap<&str, &str> = params["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["district"].as_str().unwrap()))
        .collect();
    let unit_of: HashMap<&str, &str> = params["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["unit_id"].as_str().unwrap()))
        .collect();
    let visits = export["assignments"].as_array().unwrap();
    assert_eq!(visits.len(), 600);
    let mut per_day: HashMap<(&str, &str), u32> = HashMap::new();
    let mut unit_days: HashMap<(&str, &str), Vec<jiff::civil::Date>> = HashMap::new();
    let mut per_inspector: HashMap<&str, u32> = HashMap::new();
    let mut slots: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut districts: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for v in visits {
        let (who, point, date, slot) = (
            v["inspector"].as_str().unwrap(),
            v["point_id"].as_str().unwrap(),
            v["date"].as_str().unwrap(),
            v["slot"].as_str().unwrap(),
        );
        let unit = unit_of[point];
        assert_eq!(v["unit_id"], unit);
        assert!(!excluded[who].contains(unit), "{who} sent to excluded unit {unit}");
        let d: jiff::civil::Date = date.parse().unwrap();
        assert!(d >= from && d <= to, "{date} outside the period");
        let weekend = matches!(d.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday);
        assert_eq!(slot == "weekend", weekend, "slot {slot} on {date}");
        let n = per_day.entry((who, date)).or_default();
        *n += 1;
        assert!(*n <= 2, "{who} has more than 2 visits on {date}");
        let days = unit_days.entry((who, unit)).or_default();
        for other in days.iter() {
            assert!((d - *other).get_days().abs() >= 7, "{who} visits {unit} on {other} and {d}");
        }
        days.push(d);
        *per_inspector.entry(who).or_default() += 1;
        slots.entry(who).or_default().insert(slot);
        districts.entry(who).or_default().insert(district[point]);
    }
    // Spread: every inspector gets 30 visits, over all four slots and all
    // four districts.
    assert!(per_inspector.values().all(|&n| n == 30), "{per_inspector:?}");
    assert!(slots.values().all(|s| s.len() == 4), "{slots:?}");
    assert!(districts.values().all(|d| d.len() == 4), "{districts:?}");

    // And `draw verify` reproduces it.
    let work = tempfile::tempdir().unwrap();
    let file = write(work.path(), "export.json", &export);
    let seed = export["seed"].as_str().unwrap();
    let (code, out, err) =
        server_cli(&["draw", "verify", "--params", &file, "--seed", seed, "--assignments", &file], None);
    assert_eq!(code, 0, "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_receives_an_assignment_only_from_its_lead_time_and_nobody_else_does() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let admin = server.admin_token().await;
    let mut inspector1 = Device::enroll(&server, 0).await;
    let mut inspector2 = Device::enroll(&server, 1).await;
    let (from, to) = (day_from_now(5), day_from_now(7));
    let (status, created) = office(
        &server,
        &admin,
        "post",
        "/api/v1/draws",
        Some(json!({"from": from, "to": to, "visits": 9, "max_visits_per_inspector_per_day": 1})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let draw_id = created["id"].as_str().unwrap().to_owned();

    // A leader never reads draws, coverage or exports.
    let leader = {
        let db = Db::open(&data.path().join("anfang.sqlite3")).unwrap();
        db.write_blocking(|c| {
            accounts::add_user(c, "lead", "leader-password", anfang_server::auth::Role::Leader)?;
            Ok(())
        })
        .unwrap();
        let res: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/session", server.url()))
            .json(&json!({"username": "lead", "password": "leader-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["token"].as_str().unwrap().to_owned()
    };
    for path in [
        "/api/v1/draws".to_owned(),
        format!("/api/v1/draws/{draw_id}/coverage"),
        format!("/api/v1/draws/{draw_id}/export"),
    ] {
        let (status, body) = office(&server, &leader, "get", &path, None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }

    // The first assignment of 督查01 and when it becomes visible.
    let conn = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    let (aid, visible_ms, ends_ms, point): (String, i64, i64, String) = conn
        .query_row(
            "SELECT a.id, a.visible_ms, a.ends_ms, a.point_id FROM draw_assignments a JOIN inspectors i ON i.id = a.inspector_id
             WHERE i.alias = '督查01' ORDER BY a.visible_ms LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let others: BTreeSet<String> = conn
        .prepare(
            "SELECT a.id FROM draw_assignments a JOIN inspectors i ON i.id = a.inspector_id WHERE i.alias <> '督查01'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // Default lead time: 00:00 office time of the visit's day.
    let visible = jiff::Timestamp::from_millisecond(visible_ms).unwrap();
    let local = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap().to_datetime(visible);
    assert_eq!(local.time(), jiff::civil::Time::midnight(), "{local}");

    let received = |d: &Device| -> BTreeSet<String> {
        d.store.assignment(aid.parse().unwrap()).unwrap().map(|a| a.id.to_string()).into_iter().collect()
    };
    let at = |now: jiff::Timestamp| {
        let data = data.path().to_owned();
        move || Server::start_with_env(&data, "127.0.0.1:0", false, &[("ANFANG_TEST_NOW", &now.to_string())])
    };

    // One minute before: nothing.
    let early = at(visible - jiff::SignedDuration::from_mins(1))();
    inspector1.sync_via(&early.url(), fast()).await;
    assert!(received(&inspector1).is_empty(), "seen before its lead time");
    drop(early);

    // From the lead time: the inspector has it, the other inspector does not,
    // and nobody gets anyone else's.
    let on_time = at(visible)();
    inspector1.sync_via(&on_time.url(), fast()).await;
    inspector2.sync_via(&on_time.url(), fast()).await;
    assert_eq!(received(&inspector1), BTreeSet::from([aid.clone()]));
    assert!(received(&inspector2).is_empty(), "another inspector received it");
    let date = local.date();
    for a in inspector1.store.visits_on(date).unwrap() {
        assert!(!others.contains(&a.id.to_string()), "inspector 1 holds a visit that is not theirs: {a:?}");
    }
    for a in inspector2.store.visits_on(date).unwrap() {
        assert!(others.contains(&a.id.to_string()), "inspector 2 holds a visit that is not theirs: {a:?}");
    }

    // A finding made on it now, days before its slot, links to it but is
    // refused: a visit is made in its slot (tests/tests/draw_visits.rs has
    // the one that counts). The coverage report, which reviewers read only
    // once the slot is over, lists the visit as missed.
    let f = inspector1
        .store
        .record_assignment_finding(
            aid.parse().unwrap(),
            anfang_core::store::NewFinding {
                point_id: point.clone(),
                unit_id: None,
                category: "parking".into(),
                card: anfang_core::Card::Green,
                note: None,
                location: None,
                photos: vec![],
            },
            &anfang_core::SystemClock,
        )
        .unwrap();
    let report = inspector1.sync_via(&on_time.url(), fast()).await;
    assert_eq!((report.findings_pushed, report.findings_rejected), (0, 1), "{report:?}");
    // Another inspector cannot claim it.
    let forged = anfang_core::FindingContent { id: uuid::Uuid::now_v7(), ..f.clone() };
    let sig = inspector2.store.device_key().unwrap().sign(&forged);
    let res = inspector2
        .post_json(&on_time, "/api/v1/sync/push", &json!({"findings": [{"finding": forged, "signature": sig}]}))
        .await;
    assert_eq!(res["results"][0]["status"], "rejected", "{res}");
    assert_eq!(res["results"][0]["error_code"], "visit_not_yours", "{res}");
    let admin_now = office::sign_in(&on_time, "admin", &server.demo.admin_password).await;
    let (_, cov) = office(&on_time, &admin_now, "get", &format!("/api/v1/draws/{draw_id}/coverage"), None).await;
    assert_eq!(cov["planned"], 0, "slots not over are not shown: {cov}");
    drop(on_time);

    let later = at(jiff::Timestamp::from_millisecond(ends_ms).unwrap() + jiff::SignedDuration::from_mins(1))();
    let admin_later = office::sign_in(&later, "admin", &server.demo.admin_password).await;
    let (_, cov) = office(&later, &admin_later, "get", &format!("/api/v1/draws/{draw_id}/coverage"), None).await;
    let mine = cov["per_inspector"].as_array().unwrap().iter().find(|r| r["key"] == "督查01").expect("督查01 row");
    assert_eq!(mine["done"], 0, "a finding observed outside the slot does not count: {cov}");
    assert!(cov["missed"].as_array().unwrap().iter().any(|m| m["assignment_id"] == aid.as_str()), "{cov}");
}
