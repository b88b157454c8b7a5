//! Routes for responsible-unit accounts (责任单位账号): only their own
//! unit's reviewed findings, never anything about who inspected, nor where
//! and when exactly (see [`crate::db::unit_portal`]).

use crate::AppState;
use crate::auth::OfficeCaller;
use crate::error::AppError;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn findings(State(state): State<AppState>, caller: OfficeCaller) -> Result<Json<Value>, AppError> {
    let unit = caller.require_unit()?.to_owned();
    let tz = state.config.timezone.clone();
    let items = state.db.unit_findings(unit, tz).await?;
    Ok(Json(json!({"unit_id": caller.unit_id, "items": items})))
}

#[cfg(test)]
mod tests {
    use crate::auth::{Role, secret_hash};
    use crate::db::reviews::{Decision, ReviewRequest};
    use crate::db::{accounts, unit_portal};
    use crate::{AppState, Config, app};
    use anfang_core::protocol::{PushOutcome, SignedFinding};
    use anfang_core::{Card, FindingContent};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    async fn push(
        state: &AppState,
        device: &crate::auth::DeviceCaller,
        key: &anfang_core::evidence::DeviceKey,
        point: &str,
        unit: &str,
        card: Card,
    ) -> String {
        let finding = FindingContent {
            id: uuid::Uuid::now_v7(),
            point_id: point.into(),
            unit_id: unit.into(),
            category: "parking".into(),
            card,
            note: Some("督查01 在现场".into()),
            observed_at: jiff::Timestamp::now(),
            // Where the inspector stood: never shown to the unit.
            location: Some(anfang_core::Location {
                lat: 31.2345678,
                lon: 107.4567891,
                accuracy_m: 4.25,
                captured_at: jiff::Timestamp::now(),
            }),
            photos: vec![],
            assignment_id: None,
            recheck: None,
        };
        let signed = SignedFinding { signature: key.sign(&finding), finding };
        let r = crate::app::sync::push(
            &state.db,
            device,
            vec![signed.clone()],
            state.clock.now(),
            state.config.timezone.clone(),
        )
        .await
        .unwrap();
        assert_eq!(r[0].outcome, PushOutcome::Accepted, "{:?}", r[0]);
        signed.finding.id.to_string()
    }

    async fn decide(
        state: &AppState,
        reviewer: &crate::auth::OfficeCaller,
        id: &str,
        decision: Decision,
        unit: Option<&str>,
    ) {
        let req = ReviewRequest {
            decision,
            category: None,
            unit_id: unit.map(str::to_owned),
            card: None,
            reason: Some("复核".into()),
        };
        crate::app::review::decide(&state.db, reviewer, id.to_owned(), req, state.clock.now()).await.unwrap();
    }

    async fn get(state: &AppState, token: &str) -> (StatusCode, String) {
        let res = app(state.clone())
            .oneshot(
                Request::get("/api/v1/unit/findings")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_unit_account_sees_only_its_own_reviewed_findings_and_never_who_inspected() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Config::new(dir.path())).unwrap();
        let creds = crate::demo::load(&state.db).unwrap();
        let key = anfang_core::evidence::DeviceKey::generate();
        let (enrolled, device, reviewer, u01_point) = state
            .db
            .write_blocking(|c| {
                let enrolled = accounts::enroll(c, &creds.inspectors[0].1, None, &key.public_key_hex())?;
                let device = accounts::device_by_token_hash(c, &secret_hash(&enrolled.token))?.unwrap();
                let reviewer = accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
                let u01_point: String =
                    c.query_row("SELECT id FROM points WHERE unit_id = 'U01' ORDER BY id LIMIT 1", [], |r| r.get(0))?;
                Ok((enrolled, device, reviewer, u01_point))
            })
            .unwrap();
        let reviewer = crate::auth::OfficeCaller {
            user_id: reviewer,
            username: "rev".into(),
            role: Role::Reviewer,
            unit_id: None,
        };
        // Green cards need no photo; the accepted one becomes yellow
        // on review, so it has a rectification deadline.
        let accepted = push(&state, &device, &key, "P001", "U03", Card::Green).await;
        let pending = push(&state, &device, &key, "P001", "U03", Card::Green).await;
        let rejected = push(&state, &device, &key, "P001", "U03", Card::Green).await;
        let moved_in = push(&state, &device, &key, &u01_point, "U01", Card::Green).await;
        let moved_out = push(&state, &device, &key, "P001", "U03", Card::Green).await;
        let to_yellow = ReviewRequest {
            decision: Decision::Correct,
            category: None,
            unit_id: None,
            card: Some(Card::Yellow),
            reason: Some("情节较重".into()),
        };
        crate::app::review::decide(&state.db, &reviewer, accepted.clone(), to_yellow, state.clock.now()).await.unwrap();
        decide(&state, &reviewer, &rejected, Decision::Reject, None).await;
        decide(&state, &reviewer, &moved_in, Decision::Correct, Some("U03")).await;
        decide(&state, &reviewer, &moved_out, Decision::Correct, Some("U01")).await;
        let unit_token = state
            .db
            .write_blocking(|c| {
                accounts::add_unit_user(c, "u03", "unit-password", "U03")?;
                accounts::login(c, "u03", "unit-password")
            })
            .unwrap()
            .unwrap();
        let device_id = enrolled.device_id.to_string();

        let (status, body) = get(&state, &unit_token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        // Findings are named by their public reference, never their id.
        let reference = |id: &String| {
            let id = id.clone();
            state.db.write_blocking(move |c| Ok(unit_portal::public_ref(c, &id)?.unwrap())).unwrap()
        };
        let ids: Vec<&str> =
            doc["items"].as_array().unwrap().iter().map(|i| i["reference"].as_str().unwrap()).collect();
        assert!(ids.contains(&reference(&accepted).as_str()) && ids.contains(&reference(&moved_in).as_str()), "{body}");
        for hidden in [&pending, &rejected, &moved_out] {
            assert!(!ids.contains(&reference(hidden).as_str()), "{hidden} must not be shown: {body}");
        }
        assert_eq!(ids.len(), 2, "{body}");
        let yellow =
            doc["items"].as_array().unwrap().iter().find(|i| i["reference"] == reference(&accepted).as_str()).unwrap();
        let decided: jiff::civil::Date = yellow["decided_on"].as_str().unwrap().parse().unwrap();
        let due: jiff::civil::Date = yellow["rectify_by"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            due,
            decided.checked_add(jiff::Span::new().days(7)).unwrap(),
            "a yellow card is due 7 days after acceptance"
        );
        let today = jiff::Timestamp::now().to_zoned_datetime(state.config.timezone.clone()).date();
        assert_eq!(yellow["observed_on"], today.to_string(), "{body}");
        assert!(crate::redact::PARTS_OF_DAY.contains(&yellow["part_of_day"].as_str().unwrap()), "{body}");
        // The point's registered position, not the inspector's.
        let (p_lat, p_lon) = state
            .db
            .write_blocking(|c| {
                Ok(c.query_row("SELECT lat, lon FROM points WHERE id = 'P001'", [], |r| {
                    Ok((r.get::<_, f64>(0)?, r.get::<_, f64>(1)?))
                })?)
            })
            .unwrap();
        assert_eq!((yellow["point_lat"].as_f64(), yellow["point_lon"].as_f64()), (Some(p_lat), Some(p_lon)), "{body}");
        for exact in ["31.2345678", "107.4567891", "4.25", "accuracy", "observed_at", "received", "\"id\"", "\"lat\""] {
            assert!(!body.contains(exact), "{exact:?} reached a unit: {body}");
        }
        for id in [&accepted, &moved_in] {
            assert!(
                !body.contains(id.as_str()),
                "the finding id (a UUIDv7, its creation millisecond) reached a unit: {body}"
            );
        }
        let green =
            doc["items"].as_array().unwrap().iter().find(|i| i["reference"] == reference(&moved_in).as_str()).unwrap();
        assert!(green["rectify_by"].is_null(), "a green card needs no rectification: {body}");
        for secret in ["督查01", device_id.as_str(), "inspector", "device", "rev"] {
            assert!(!body.contains(secret), "{secret:?} leaked to a unit: {body}");
        }
    }

    #[tokio::test]
    async fn a_unit_account_is_refused_by_every_office_route_it_tries_and_office_roles_by_the_unit_route() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Config::new(dir.path())).unwrap();
        crate::demo::load(&state.db).unwrap();
        let (unit, leader) = state
            .db
            .write_blocking(|c| {
                accounts::add_unit_user(c, "u01", "unit-password", "U01")?;
                accounts::add_user(c, "lead", "leader-password", Role::Leader)?;
                Ok((
                    accounts::login(c, "u01", "unit-password")?.unwrap(),
                    accounts::login(c, "lead", "leader-password")?.unwrap(),
                ))
            })
            .unwrap();
        assert_eq!(get(&state, &unit).await.0, StatusCode::OK);
        let (status, body) = get(&state, &leader).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("responsible-unit"), "{body}");
        // A unit account cannot be made without a real unit, nor by add_user.
        state
            .db
            .write_blocking(|c| {
                assert!(matches!(
                    accounts::add_unit_user(c, "x", "unit-password", "U99"),
                    Err(crate::error::AppError::BadRequest(_))
                ));
                assert!(matches!(
                    accounts::add_user(c, "y", "unit-password", Role::Unit),
                    Err(crate::error::AppError::BadRequest(_))
                ));
                Ok(())
            })
            .unwrap();
    }
}
