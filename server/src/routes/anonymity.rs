//! 不见面, enforced in-process: every route of [`api_routes`] and
//! [`console_routes`] is called as the public, a leader and a unit account
//! on a seeded office (finding accepted, bulletin issued, draw made), and no
//! answer may carry an alias, device id or token, enrollment code, an
//! `"inspector_id"` field or the client's IP. No answer a unit or the public
//! gets, and no bulletin (bulletins are sent to units), may carry what would
//! let a unit find the inspector on its cameras: the recorded position or
//! accuracy, a capture time finer than date and part of day, the finding's
//! id or any UUIDv7 (it holds a millisecond). No leader answer may carry the
//! receipt time (one per push batch: it groups one phone's findings). The
//! unit portal's pages (`unit_portal_routes`) are walked too, on a case
//! notified to the unit, and may carry none of that nor the inspector's
//! note. The exposure page (`public_routes`: pages, feeds, photos) is
//! walked with a published entry, as anything the public gets. Path parameters are filled by
//! name; an unknown one fails the test until it is taught a value. The
//! end-to-end twin (`tests/tests/anonymity.rs`) adds a real photo and the
//! real binary.

use super::{Access, PortalAccess, api_routes, console_routes, public_routes, unit_portal_routes};
use crate::auth::{Role, secret_hash};
use crate::db::reviews::{self, Decision, ReviewRequest};
use crate::db::{accounts, findings};
use crate::{AppState, Config, app};
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

const CLIENT_IP: &str = "203.0.113.77";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Public,
    Leader,
    Unit,
}

fn concrete(path: &str, ids: &[(&str, &str, String)]) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push(seg.to_string());
            continue;
        };
        let collection = if i > 0 { segs[i - 1] } else { "" };
        let value = ids
            .iter()
            .find(|(c, n, _)| *c == collection && *n == name)
            .map(|(_, _, v)| v.clone())
            .unwrap_or_else(|| panic!("the anonymity walk has no value for {{{name}}} in {path}: teach it one"));
        out.push(value);
    }
    out.join("/")
}

async fn call(state: &AppState, method: &str, uri: &str, auth: Option<(&str, bool)>, body: String) -> (u16, Vec<u8>) {
    let mut req = Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(uri)
        .header("host", "anfang.test")
        .header("origin", "http://anfang.test")
        .header("x-forwarded-for", CLIENT_IP)
        .header("x-real-ip", CLIENT_IP)
        .header("content-type", "application/json");
    match auth {
        Some((token, true)) => req = req.header("cookie", format!("{}={token}", crate::auth::SESSION_COOKIE)),
        Some((token, false)) => req = req.header("authorization", format!("Bearer {token}")),
        None => {}
    }
    let res = app(state.clone()).oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    (status, axum::body::to_bytes(res.into_body(), 64 << 20).await.unwrap().to_vec())
}

/// Whether `text` holds a UUIDv7 (8-4-4-4-12 hex digits, version 7).
pub(crate) fn has_uuid_v7(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(35)).any(|i| {
        b[i..i + 36].iter().enumerate().all(|(j, c)| match j {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'7',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

/// Where `needle` first occurs in `body`, with a little text either side:
/// a leak's report says what carried it.
fn around(body: &str, needle: &str) -> String {
    let Some(at) = body.find(needle) else { return String::new() };
    let start = body.floor_char_boundary(at.saturating_sub(60));
    let end = body.ceil_char_boundary((at + needle.len() + 60).min(body.len()));
    body[start..end].escape_debug().to_string()
}

/// Text of an answer; a .docx (zip) is searched in its raw bytes and its
/// stored (uncompressed) parts: compressed parts are checked by the e2e twin.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn no_route_shows_a_unit_a_leader_or_the_public_who_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(Config::new(dir.path())).unwrap();
    let creds = crate::demo::load(&state.db).unwrap();
    let key = anfang_core::evidence::DeviceKey::generate();
    let (alias, code) = creds.inspectors[0].clone();
    let date = jiff::Timestamp::now().to_zoned_datetime(state.config.timezone.clone()).date();
    let today = date.to_string();
    // Captured at 00:01:13.456 today, office time, so no later timestamp
    // (compiling, issuing) can share its minute.
    let observed = date.at(0, 1, 13, 456_000_000).to_zoned_datetime(state.config.timezone.clone()).unwrap().timestamp();
    let received_ms = jiff::Timestamp::now().as_millisecond();
    // A draw is made before its period.
    let tomorrow = date.tomorrow().unwrap().to_string();

    let (device_id, device_token, finding_id, inspector_id, fresh_code, reviewer, leader, unit) = state
        .db
        .write_blocking(|c| {
            let enrolled = accounts::enroll(c, &code, Some("phone"), &key.public_key_hex())?;
            let device = accounts::device_by_token_hash(c, &secret_hash(&enrolled.token))?.unwrap();
            let finding = anfang_core::FindingContent {
                id: uuid::Uuid::now_v7(),
                point_id: "P001".into(),
                unit_id: "U03".into(),
                category: "parking".into(),
                card: anfang_core::Card::Green,
                // Signed with the alias, as inspectors do: leaders, units,
                // bulletins and exports must show the note with it masked.
                note: Some(format!("人行道上停了三辆车（{} 拍摄）", enrolled.alias)),
                observed_at: observed,
                // Where the inspector stood, to the centimetre.
                location: Some(anfang_core::Location {
                    lat: 31.2061237,
                    lon: 107.4683459,
                    accuracy_m: 7.25,
                    captured_at: observed,
                }),
                photos: vec![],
                assignment_id: None,
                recheck: None,
            };
            let signed =
                anfang_core::protocol::SignedFinding { signature: key.sign(&finding), finding: finding.clone() };
            findings::push_batch(c, &device, &[signed], received_ms)?;
            let reviewer = accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
            // Reviewers know aliases and may write one into a reason. Made
            // yellow, so it opens a rectification case for U03.
            let reason = Some(format!("{} 拍得清楚，采纳", enrolled.alias));
            let card = Some(anfang_core::Card::Yellow);
            let req = ReviewRequest { decision: Decision::Correct, category: None, unit_id: None, card, reason };
            reviews::decide(c, &finding.id.to_string(), reviewer, "rev", &req)?;
            let inspector_id = device.inspector_id;
            let fresh = accounts::issue_code(c, inspector_id, jiff::Timestamp::now())?;
            accounts::add_user(c, "lead", "leader-password", Role::Leader)?;
            accounts::add_unit_user(c, "u03", "unit-password", "U03")?;
            Ok((
                enrolled.device_id.to_string(),
                enrolled.token,
                finding.id.to_string(),
                inspector_id,
                fresh,
                accounts::login(c, "rev", "reviewer-password")?.unwrap(),
                accounts::login(c, "lead", "leader-password")?.unwrap(),
                accounts::login(c, "u03", "unit-password")?.unwrap(),
            ))
        })
        .unwrap();

    // A bulletin issued and a draw made through the API, as the office would.
    let (s, b) = call(
        &state,
        "post",
        "/api/v1/bulletins",
        Some((&reviewer, false)),
        format!(r#"{{"kind":"day","from":"{today}"}}"#),
    )
    .await;
    assert!(s < 300, "{}", text(&b));
    let bulletin: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let bulletin_id = bulletin["id"].to_string();
    let (s, b) = call(
        &state,
        "post",
        &format!("/api/v1/bulletins/{bulletin_id}/issue"),
        Some((&reviewer, false)),
        String::new(),
    )
    .await;
    assert!(s < 300, "{}", text(&b));
    let admin = state
        .db
        .write_blocking(|c| Ok(accounts::login(c, &creds.admin_username, &creds.admin_password)?.unwrap()))
        .unwrap();
    let (s, b) = call(
        &state,
        "post",
        "/api/v1/draws",
        Some((&admin, false)),
        format!(r#"{{"from":"{tomorrow}","to":"{tomorrow}","visits":3}}"#),
    )
    .await;
    assert!(s < 300, "{}", text(&b));
    let draw_id = serde_json::from_slice::<serde_json::Value>(&b).unwrap()["id"].as_str().unwrap().to_owned();

    // The digest at the digest hour (18:00) tells U03 of its case.
    let tz = state.config.timezone.clone();
    let evening = date.at(18, 5, 0, 0).to_zoned_datetime(tz.clone()).unwrap().timestamp();
    let notified = state.db.schedule_pass(evening.max(jiff::Timestamp::now()), tz.clone()).await.unwrap();
    assert_eq!(notified.notified, 1, "{notified:?}");
    let case_ref = {
        let id = finding_id.clone();
        state
            .db
            .write_blocking(move |c| {
                Ok(c.query_row("SELECT public_ref FROM rectification_cases WHERE finding_id = ?1", [&id], |r| {
                    r.get::<_, String>(0)
                })?)
            })
            .unwrap()
    };
    // U03 answers, and a second inspector's re-check fails, at instants
    // with their own minute and millisecond: a unit must get neither the
    // re-checker nor when they stood at its point, a leader not the alias.
    let base = evening.max(jiff::Timestamp::now());
    let answered_at = base + jiff::SignedDuration::from_millis(20 * 60_000 + 4_321);
    let rechecked_at = answered_at + jiff::SignedDuration::from_millis(63 * 60_000 + 27_891);
    let (unit_caller, rechecker) = {
        let other_alias = creds.inspectors[1].0.clone();
        state
            .db
            .write_blocking(move |c| {
                c.execute(
                    "INSERT INTO photos (sha256, byte_len, width, height, stored_at)
                     VALUES (?1, 1, 1, 1, '2026-12-01T00:00:00Z')",
                    ["b".repeat(64)],
                )?;
                let unit_user: i64 = c.query_row("SELECT id FROM users WHERE username = 'u03'", [], |r| r.get(0))?;
                let other: i64 =
                    c.query_row("SELECT id FROM inspectors WHERE alias = ?1", [&other_alias], |r| r.get(0))?;
                Ok((
                    crate::auth::OfficeCaller {
                        user_id: unit_user,
                        username: "u03".into(),
                        role: Role::Unit,
                        unit_id: Some("U03".into()),
                    },
                    other,
                ))
            })
            .unwrap()
    };
    let answer = app::cases::AnswerRequest {
        photos: vec!["b".repeat(64)],
        note: "已清理".into(),
        explanation: None,
        explanation_pdf: None,
    };
    app::cases::answer(&state.db, &unit_caller, case_ref.clone(), answer, answered_at, tz.clone()).await.unwrap();
    let recheck_tz = tz.clone();
    state
        .db
        .case_transition(
            case_ref.clone(),
            rechecked_at,
            move |facts| {
                app::cases::recheck_decision(facts.unwrap(), rechecker, false, "f", &[], rechecked_at, &recheck_tz)
            },
            false,
        )
        .await
        .unwrap();

    // The case on the exposure page: proposed by the reviewer, published
    // by the admin, with a public text of the office's own.
    let reviewer_caller = crate::auth::OfficeCaller {
        user_id: state
            .db
            .write_blocking(|c| Ok(c.query_row("SELECT id FROM users WHERE username = 'rev'", [], |r| r.get(0))?))
            .unwrap(),
        username: "rev".into(),
        role: Role::Reviewer,
        unit_id: None,
    };
    let admin_caller = {
        let name = creds.admin_username.clone();
        let id: i64 = state
            .db
            .write_blocking(
                move |c| Ok(c.query_row("SELECT id FROM users WHERE username = ?1", [&name], |r| r.get(0))?),
            )
            .unwrap();
        crate::auth::OfficeCaller {
            user_id: id,
            username: creds.admin_username.clone(),
            role: Role::Admin,
            unit_id: None,
        }
    };
    let proposed =
        app::exposure::propose(&state.db, &reviewer_caller, case_ref.clone(), jiff::Timestamp::now()).await.unwrap();
    let publish = app::exposure::PublishRequest {
        title: "人行道违规停车".into(),
        description: "人行道上停放多辆机动车，影响行人通行。".into(),
        photos: vec![],
        faces_checked: true,
        crops: vec![],
    };
    let entry_ref = proposed.reference.clone();
    app::exposure::publish(
        &state.db,
        &state.photos,
        &admin_caller,
        entry_ref.clone(),
        publish,
        jiff::Timestamp::now(),
        &tz,
    )
    .await
    .unwrap();

    // The finding's month issued (as if on the next month's first day) and
    // shown on the public page, so the public league pages have a report.
    state.db.set_league_public(true).await.unwrap();
    let league_month = observed.to_zoned_datetime(tz.clone()).strftime("%Y-%m").to_string();
    let after_month = {
        let first = app::league::parse_month(&league_month).unwrap();
        let next = first.checked_add(jiff::Span::new().months(1)).unwrap();
        tz.to_timestamp(next.at(9, 0, 0, 0)).unwrap()
    };
    app::league::issue(&state.db, &tz, &admin_caller, &league_month, after_month).await.unwrap();

    // A contact of U03 told through the outbox, so the contacts and the
    // delivery log have rows to show a leader.
    let contact = app::contacts::create(
        &state.db,
        "U03".into(),
        app::contacts::ContactInput {
            name: "王联络".into(),
            role: "contact".into(),
            email: Some("liaison@u03.example.cn".into()),
            active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    state.db.enqueue_test_notice(contact.id, jiff::Timestamp::now()).await.unwrap();
    let notice_id = state
        .db
        .notices(crate::db::notices::NoticeFilter { limit: 10, ..Default::default() })
        .await
        .unwrap()
        .first()
        .map(|n| n.id)
        .unwrap_or(1);

    let ids = [
        ("contacts", "id", contact.id.to_string()),
        ("notices", "id", notice_id.to_string()),
        ("findings", "id", finding_id.clone()),
        ("cases", "ref", case_ref.clone()),
        ("exposure", "ref", entry_ref.clone()),
        ("entries", "ref", entry_ref.clone()),
        ("bulletins", "id", bulletin_id),
        // The month of the finding: the league shows it by month only.
        ("league", "month", observed.to_zoned_datetime(state.config.timezone.clone()).strftime("%Y-%m").to_string()),
        ("draws", "id", draw_id),
        ("inspectors", "id", inspector_id.to_string()),
        ("identities", "id", inspector_id.to_string()),
        ("units", "id", "U03".to_owned()),
        ("points", "id", "P001".to_owned()),
        ("categories", "code", "parking".to_owned()),
        ("photos", "sha256", "a".repeat(64)),
        ("uploads", "sha256", "a".repeat(64)),
        ("case-files", "sha256", "a".repeat(64)),
        ("recheck-photos", "sha256", "a".repeat(64)),
    ];
    let mut secrets: Vec<String> = vec![device_id, device_token, "\"inspector_id\"".into(), CLIENT_IP.into()];
    for (a, c) in creds.inspectors.iter().chain([(alias.clone(), fresh_code)].iter()) {
        secrets.extend([a.clone(), c.clone(), crate::auth::normalize_code(c)]);
    }

    // What a unit, the public and every bulletin must not carry.
    let local_minute = observed.to_zoned_datetime(state.config.timezone.clone()).strftime("%Y-%m-%d %H:%M").to_string();
    let exact: Vec<String> = vec![
        finding_id.clone(),
        "31.2061237".into(),
        "107.4683459".into(),
        "7.25".into(),
        "accuracy".into(),
        observed.to_string(),
        local_minute,
        observed.as_millisecond().to_string(),
        "\"received_at\"".into(),
        rechecked_at.to_string(),
        rechecked_at.to_zoned_datetime(state.config.timezone.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
    ];
    // What a unit must not get either: the inspector's own words.
    let unit_only: Vec<String> = vec!["人行道上停了三辆车".into()];
    // What a leader must not get either: the receipt time.
    let received = jiff::Timestamp::from_millisecond(received_ms).unwrap().to_string();
    let batch: Vec<String> = vec!["\"received_at\"".into(), received.clone(), "收到 ".into()];
    // The API document describes the office's types, so it names their
    // fields (`accuracy`, `received_at`); it must still carry no value.
    let field_names = ["accuracy", "\"received_at\""];
    let too_exact = |who: Who, path: &str, body: &str| -> Vec<String> {
        let mut out = Vec::new();
        let names_ok = |s: &&String| !(path.ends_with("/openapi.json") && field_names.contains(&s.as_str()));
        // Bulletins and the league reach units on paper: held to the unit's rule.
        if who != Who::Leader || path.contains("/bulletins") || path.contains("/league") {
            out.extend(exact.iter().filter(names_ok).filter(|s| body.contains(s.as_str())).cloned());
            if has_uuid_v7(body) {
                out.push("a UUIDv7".into());
            }
        }
        if who == Who::Unit {
            out.extend(unit_only.iter().filter(|s| body.contains(s.as_str())).cloned());
        }
        if who == Who::Leader {
            out.extend(batch.iter().filter(names_ok).filter(|s| body.contains(s.as_str())).cloned());
        }
        out
    };

    let mut leaks = Vec::new();
    let mut walked = 0;
    let range = format!("from={today}&to={today}");
    for r in api_routes() {
        let path = concrete(r.path, &ids);
        for (who, token) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let allowed = match r.access {
                Access::Anonymous => true,
                Access::Device => false,
                Access::Office(min) => who == Who::Leader && min <= Role::Leader,
                Access::Unit => who == Who::Unit,
            };
            // Case queues take no period (their filters refuse unknown fields).
            let ranged = r.method == "get" && !r.path.starts_with("/api/v1/cases");
            let uri = if ranged { format!("{path}?{range}") } else { path.clone() };
            let body = match r.path {
                "/api/v1/session" => r#"{"username":"lead","password":"leader-password"}"#.to_owned(),
                "/api/v1/enroll" => r#"{"code":"0000-0000-0000","device_label":"x"}"#.to_owned(),
                _ => "{}".to_owned(),
            };
            let (status, bytes) = call(&state, r.method, &uri, token.map(|t| (t, false)), body).await;
            let what = format!("{} {uri} as {who:?} ({status})", r.method);
            walked += 1;
            // No photo is stored in this in-process walk (the e2e twin has one).
            let photo = r.path.contains("/photos/") || r.path.starts_with("/api/v1/case-files/");
            if allowed && r.method == "get" && !photo {
                assert!((200..300).contains(&status), "{what}: {}", text(&bytes));
            }
            if !allowed {
                assert!(status == 401 || status == 403, "{what} must be refused");
            }
            let body = text(&bytes);
            leaks.extend(secrets.iter().filter(|s| body.contains(s.as_str())).map(|s| format!("{what} shows {s}")));
            leaks.extend(
                too_exact(who, r.path, &body).into_iter().map(|s| format!("{what} shows {s}: …{}…", around(&body, &s))),
            );
        }
    }
    for r in console_routes() {
        let path = concrete(r.path, &ids);
        for (who, token) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let (status, bytes) = call(&state, r.method, &path, token.map(|t| (t, true)), String::new()).await;
            let what = format!("console {} {path} as {who:?} ({status})", r.method);
            walked += 1;
            if who == Who::Unit && r.min.is_some() {
                assert_eq!(status, 403, "{what}: a unit account has no console");
            }
            if who == Who::Leader && r.method == "get" && r.min.is_some_and(|m| m <= Role::Leader) {
                assert!((200..400).contains(&status), "{what}: {}", text(&bytes));
            }
            let body = text(&bytes);
            leaks.extend(secrets.iter().filter(|s| body.contains(s.as_str())).map(|s| format!("{what} shows {s}")));
            leaks.extend(
                too_exact(who, r.path, &body).into_iter().map(|s| format!("{what} shows {s}: …{}…", around(&body, &s))),
            );
        }
    }
    // The unit portal's pages, with the browser's session cookie.
    let mut portal_pages = Vec::new();
    for r in unit_portal_routes() {
        let path = concrete(r.path, &ids);
        for (who, token) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let (status, bytes) = call(&state, r.method, &path, token.map(|t| (t, true)), String::new()).await;
            let what = format!("portal {} {path} as {who:?} ({status})", r.method);
            walked += 1;
            if r.access == PortalAccess::Unit && who == Who::Leader {
                assert_eq!(status, 403, "{what}: the portal is for unit accounts");
            }
            if r.access == PortalAccess::Unit && who == Who::Unit && r.method == "get" {
                assert_eq!(status, 200, "{what}: {}", text(&bytes));
                portal_pages.push(text(&bytes));
            }
            let body = text(&bytes);
            leaks.extend(secrets.iter().filter(|s| body.contains(s.as_str())).map(|s| format!("{what} shows {s}")));
            // Every portal page is for the unit or the public.
            leaks.extend(
                too_exact(Who::Unit, r.path, &body)
                    .into_iter()
                    .map(|s| format!("{what} shows {s}: …{}…", around(&body, &s))),
            );
        }
    }
    // The exposure page and its feeds, open to anyone: everything on them
    // is for the public.
    let mut public_pages = Vec::new();
    for r in public_routes() {
        let path = concrete(r.path, &ids);
        for (who, token) in
            [(Who::Public, None), (Who::Leader, Some(leader.as_str())), (Who::Unit, Some(unit.as_str()))]
        {
            let (status, bytes) = call(&state, r.method, &path, token.map(|t| (t, true)), String::new()).await;
            let what = format!("public {} {path} as {who:?} ({status})", r.method);
            walked += 1;
            // No photo is stored (nor selected) in this in-process walk.
            if r.path.contains("/photos/") {
                assert_eq!(status, 404, "{what}: a photo in no published entry is not served");
            } else if r.path != "/public" {
                assert_eq!(status, 200, "{what}: {}", text(&bytes));
                public_pages.push((r.path, text(&bytes)));
            }
            let body = text(&bytes);
            leaks.extend(secrets.iter().filter(|s| body.contains(s.as_str())).map(|s| format!("{what} shows {s}")));
            leaks.extend(
                too_exact(Who::Public, r.path, &body)
                    .into_iter()
                    .map(|s| format!("{what} shows {s}: …{}…", around(&body, &s))),
            );
            for office_only in [case_ref.as_str(), "rev", creds.admin_username.as_str()] {
                if body.contains(&format!(">{office_only}<")) || body.contains(&format!("\"{office_only}\"")) {
                    leaks.push(format!("{what} shows the office's {office_only}"));
                }
            }
        }
    }
    // Not vacuous: every public page and feed names the published entry;
    // the league's pages name the issued month.
    for (path, page) in &public_pages {
        if path.starts_with("/public/league/") {
            assert!(page.contains("点位达标月评排名"), "{path}: {page}");
        } else {
            assert!(page.contains("人行道违规停车"), "{path}: {page}");
        }
    }
    assert_eq!(
        walked,
        3 * (api_routes().len() + console_routes().len() + unit_portal_routes().len() + public_routes().len())
    );
    // Not vacuous: the unit's list and case page show its case.
    assert!(portal_pages.iter().filter(|p| p.contains(&case_ref)).count() >= 2, "{portal_pages:?}");
    assert!(leaks.is_empty(), "inspector traces leaked:\n{}", leaks.join("\n"));

    // Not vacuous: the reviewer's finding page does show the alias, and the
    // unit's own route shows its finding.
    let (_, page) =
        call(&state, "get", &format!("/api/v1/findings/{finding_id}"), Some((&reviewer, false)), String::new()).await;
    assert!(text(&page).contains(&alias), "reviewers see the alias: {}", text(&page));
    let (_, mine) = call(&state, "get", "/api/v1/unit/findings", Some((&unit, false)), String::new()).await;
    let public_ref =
        state.db.write_blocking(|c| Ok(crate::db::unit_portal::public_ref(c, &finding_id)?.unwrap())).unwrap();
    assert!(text(&mine).contains(&public_ref), "{}", text(&mine));
    assert!(text(&mine).contains(&format!("\"observed_on\":\"{today}\",\"part_of_day\":\"上午\"")), "{}", text(&mine));
    // Reviewers keep the exact times; the office finds a finding by the
    // reference a unit quotes.
    assert!(text(&page).contains(&received) && text(&page).contains("accuracy_m"), "{}", text(&page));
    let (status, by_ref) =
        call(&state, "get", &format!("/api/v1/findings/{public_ref}"), Some((&reviewer, false)), String::new()).await;
    assert!(status == 200 && text(&by_ref).contains(&finding_id), "{status} {}", text(&by_ref));
    // The note signed with the alias reaches leaders and exports masked,
    // not dropped; reviewers read it as typed.
    let masked = format!("人行道上停了三辆车（{} 拍摄）", crate::redact::MASK);
    for uri in [format!("/api/v1/findings/{finding_id}"), format!("/api/v1/exports/findings.csv?{range}")] {
        let (status, body) = call(&state, "get", &uri, Some((&leader, false)), String::new()).await;
        assert!(status == 200 && text(&body).contains(&masked), "{uri} as leader ({status}): {}", text(&body));
    }
    assert!(text(&page).contains(&format!("人行道上停了三辆车（{alias} 拍摄）")), "{}", text(&page));
    let (_, seen) =
        call(&state, "get", &format!("/api/v1/findings/{finding_id}"), Some((&leader, false)), String::new()).await;
    assert!(
        text(&seen).contains(&format!("{} 拍得清楚，采纳", crate::redact::MASK)),
        "the reason, masked: {}",
        text(&seen)
    );
}
