//! The HTTP surface: one table of routes from which both the router and the
//! OpenAPI document are built, so the document cannot drift from the routes.
//!
//! To add a route: write a thin handler (extract, call the domain, map the
//! result) in the module for its audience, and add one [`ApiRoute`] row
//! below saying who may call it.

#[cfg(test)]
mod anonymity;
mod bulletins;
mod console;
mod devices;
mod draws;
mod evidence;
mod identity;
mod office;
mod review;
mod sync;
mod unit;

use crate::AppState;
pub use console::{ConsoleRoute, console_routes};

/// Largest console form body: a CSV import of thousands of points, form-encoded.
pub const CONSOLE_BODY_LIMIT: usize = 16 * 1024 * 1024;
use axum::routing::{MethodRouter, get, patch, post, put};
use serde_json::{Value, json};

/// Who may call a route; also written into the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, sign-in, enrollment.
    Anonymous,
    /// An enrolled inspector device.
    Device,
    /// A signed-in office user of at least this role (never a unit account:
    /// `Role::Unit` orders below every office role).
    Office(crate::auth::Role),
    /// A signed-in responsible-unit account, and nobody else.
    Unit,
}

pub struct ApiRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub request: Option<Value>,
    pub response: Value,
    pub handler: MethodRouter<AppState>,
}

fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

/// Every API route. The router and `/api/v1/openapi.json` both come from here.
pub fn api_routes() -> Vec<ApiRoute> {
    use crate::auth::Role::*;
    let bulletin_view = obj(
        json!({"id": {"type": "integer"}, "status": {"type": "string", "enum": ["draft", "issued"]}, "kind": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "title": {"type": "string"}, "number": {"type": ["string", "null"]}, "sequence": {"type": ["integer", "null"]}, "content_hash": {"type": ["string", "null"]}, "links": {"type": "object"}, "bulletin": {"type": "object"}}),
    );
    let upload_status =
        obj(json!({"offset": {"type": "integer"}, "size": {"type": "integer"}, "complete": {"type": "boolean"}}));
    vec![
        ApiRoute {
            method: "get",
            path: "/api/v1/health",
            summary: "Liveness and version",
            access: Access::Anonymous,
            request: None,
            response: obj(json!({"status": {"type": "string"}, "version": {"type": "string"}})),
            handler: get(office::health),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/session",
            summary: "Office sign-in: username and password for a bearer token",
            access: Access::Anonymous,
            request: Some(obj(json!({"username": {"type": "string"}, "password": {"type": "string"}}))),
            response: obj(
                json!({"token": {"type": "string"}, "role": {"type": "string"}, "expires_in_s": {"type": "integer"}}),
            ),
            handler: post(office::sign_in),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/enroll",
            summary: "Enroll a device with a one-time code; returns the device token",
            access: Access::Anonymous,
            request: Some(obj(json!({"code": {"type": "string"}, "device_label": {"type": "string"}}))),
            response: obj(
                json!({"device_id": {"type": "string"}, "token": {"type": "string"}, "alias": {"type": "string"}}),
            ),
            handler: post(sync::enroll),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/sync/pull",
            summary: "Reference data (units, points, categories) changed since the cursor; 410 means pull from the start",
            access: Access::Device,
            request: None,
            response: obj(
                json!({"units": {"type": "array"}, "points": {"type": "array"}, "categories": {"type": "array"}, "cursor": {"type": "string"}, "has_more": {"type": "boolean"}}),
            ),
            handler: get(sync::pull),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/sync/push",
            summary: "Push a batch of findings; idempotent by finding id, one result per finding",
            access: Access::Device,
            request: Some(obj(
                json!({"findings": {"type": "array", "maxItems": anfang_core::protocol::MAX_PUSH_BATCH}}),
            )),
            response: obj(
                json!({"results": {"type": "array", "items": obj(json!({"id": {"type": "string"}, "status": {"type": "string", "enum": ["accepted", "duplicate", "missing_photos", "rejected"]}, "code": {"type": "integer"}, "reason": {"type": "string"}, "photos": {"type": "array"}}))}}),
            ),
            handler: post(sync::push),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/uploads",
            summary: "Announce a photo by SHA-256 and size, or ask where this device's upload stands; 429 upload_limit beyond the per-device caps",
            access: Access::Device,
            request: Some(obj(json!({"sha256": {"type": "string"}, "size": {"type": "integer"}}))),
            response: upload_status.clone(),
            handler: post(sync::announce_upload),
        },
        ApiRoute {
            method: "patch",
            path: "/api/v1/uploads/{sha256}",
            summary: "Append a chunk at the Upload-Offset header to this device's upload; 409 with the server's offset on mismatch",
            access: Access::Device,
            request: Some(json!({"type": "string", "format": "binary"})),
            response: upload_status,
            handler: patch(sync::upload_chunk),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/findings",
            summary: "Findings, newest first; filters from, to (YYYY-MM-DD or RFC 3339), unit, card, category; paged by next",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"items": {"type": "array"}, "next": {"type": ["string", "null"]}})),
            handler: get(office::list_findings),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/findings/{id}",
            summary: "One finding with its photos",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"id": {"type": "string"}, "photos": {"type": "array"}})),
            handler: get(office::get_finding),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/photos/{sha256}",
            summary: "A stored photo (JPEG), named by its SHA-256",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "string", "format": "binary"}),
            handler: get(office::photo),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/photos/{sha256}/thumbnail",
            summary: "The photo's thumbnail (JPEG, about 320 px)",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "string", "format": "binary"}),
            handler: get(office::thumbnail),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/findings/{id}/review",
            summary: "Record a review decision as a new revision: accept; correct category, unit_id or card (with reason); reject (with reason)",
            access: Access::Office(Reviewer),
            request: Some(obj(
                json!({"decision": {"type": "string", "enum": ["accept", "correct", "reject"]}, "category": {"type": "string"}, "unit_id": {"type": "string"}, "card": {"type": "string", "enum": ["red", "yellow", "green"]}, "reason": {"type": "string"}}),
            )),
            response: obj(
                json!({"revision": {"type": "integer"}, "decision": {"type": "string"}, "category": {"type": "string"}, "unit_id": {"type": "string"}, "card": {"type": "string"}, "reason": {"type": ["string", "null"]}, "reviewer": {"type": "string"}, "decided_at": {"type": "string"}}),
            ),
            handler: post(review::review_finding),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/units",
            summary: "Responsible units, active and deactivated",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(review::list_units),
        },
        ApiRoute {
            method: "put",
            path: "/api/v1/units/{id}",
            summary: "Create or update a unit (id, name, district, active); deactivate with active=false",
            access: Access::Office(Admin),
            request: Some(obj(
                json!({"id": {"type": "string"}, "name": {"type": "string"}, "district": {"type": ["string", "null"]}, "active": {"type": "boolean"}}),
            )),
            response: obj(json!({"id": {"type": "string"}})),
            handler: put(review::put_unit),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/units/import",
            summary: "Import units from a CSV body (UTF-8, optional BOM, header row); all or nothing, errors name line and field",
            access: Access::Office(Admin),
            request: Some(json!({"type": "string", "contentMediaType": "text/csv"})),
            response: obj(json!({"imported": {"type": "integer"}})),
            handler: post(review::import_units),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/points",
            summary: "Inspection points with their point leader (点长), active and deactivated",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(review::list_points),
        },
        ApiRoute {
            method: "put",
            path: "/api/v1/points/{id}",
            summary: "Create or update a point (id, name, kind, unit_id, lat, lon, address, district, leader, active)",
            access: Access::Office(Admin),
            request: Some(obj(
                json!({"id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}, "unit_id": {"type": "string"}, "lat": {"type": "number"}, "lon": {"type": "number"}, "address": {"type": ["string", "null"]}, "district": {"type": ["string", "null"]}, "leader": {"type": ["string", "null"]}, "active": {"type": "boolean"}}),
            )),
            response: obj(json!({"id": {"type": "string"}})),
            handler: put(review::put_point),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/points/import",
            summary: "Import points from a CSV body (UTF-8, optional BOM, header row); all or nothing, errors name line and field",
            access: Access::Office(Admin),
            request: Some(json!({"type": "string", "contentMediaType": "text/csv"})),
            response: obj(json!({"imported": {"type": "integer"}})),
            handler: post(review::import_points),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/categories",
            summary: "Problem categories, active and deactivated",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(review::list_categories),
        },
        ApiRoute {
            method: "put",
            path: "/api/v1/categories/{code}",
            summary: "Create or update a category (code, name, description, sort, active)",
            access: Access::Office(Admin),
            request: Some(obj(
                json!({"code": {"type": "string"}, "name": {"type": "string"}, "description": {"type": ["string", "null"]}, "sort": {"type": "integer"}, "active": {"type": "boolean"}}),
            )),
            response: obj(json!({"code": {"type": "string"}})),
            handler: put(review::put_category),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/settings",
            summary: "Office settings: issuing body, distribution list, compiler line, card deadlines in days",
            access: Access::Office(Leader),
            request: None,
            response: obj(
                json!({"issuing_body": {"type": "string"}, "distribution": {"type": "string"}, "compiler": {"type": "string"}, "card_deadlines": obj(json!({"red": {"type": ["integer", "null"]}, "yellow": {"type": ["integer", "null"]}, "green": {"type": ["integer", "null"]}}))}),
            ),
            handler: get(review::get_settings),
        },
        ApiRoute {
            method: "put",
            path: "/api/v1/settings",
            summary: "Replace the office settings (all fields)",
            access: Access::Office(Admin),
            request: Some(obj(
                json!({"issuing_body": {"type": "string"}, "distribution": {"type": "string"}, "compiler": {"type": "string"}, "card_deadlines": {"type": "object"}}),
            )),
            response: obj(json!({"issuing_body": {"type": "string"}})),
            handler: put(review::put_settings),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/inspectors",
            summary: "Inspectors by alias with device and finding counts (admin only)",
            access: Access::Office(Admin),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(review::list_inspectors),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/inspectors",
            summary: "Add an inspector by alias; returns a one-time enrollment code and its link <origin>/app/#enroll=CODE",
            access: Access::Office(Admin),
            request: Some(obj(json!({"alias": {"type": "string"}}))),
            response: obj(
                json!({"id": {"type": "integer"}, "alias": {"type": "string"}, "code": {"type": "string"}, "enroll_url": {"type": "string"}}),
            ),
            handler: post(review::add_inspector),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/inspectors/{id}/code",
            summary: "A fresh one-time enrollment code for an inspector (a new phone)",
            access: Access::Office(Admin),
            request: None,
            response: obj(
                json!({"id": {"type": "integer"}, "code": {"type": "string"}, "enroll_url": {"type": "string"}}),
            ),
            handler: post(review::new_inspector_code),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/inspectors/{id}/devices",
            summary: "An inspector's devices: enrolment, last seen, revoked (admin only; no tokens)",
            access: Access::Office(Admin),
            request: None,
            response: obj(json!({"items": {"type": "array", "items": obj(
                json!({"id": {"type": "string"}, "label": {"type": ["string", "null"]}, "enrolled_at": {"type": "string"}, "last_seen_at": {"type": ["string", "null"]}, "revoked_at": {"type": ["string", "null"]}}),
            )}})),
            handler: get(devices::list),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/inspectors/{id}/devices/revoke",
            summary: "Revoke one device ({device_id}) or all ({all: true}) of an inspector; its next request gets 401 device_revoked",
            access: Access::Office(Admin),
            request: Some(obj(json!({"device_id": {"type": "string"}, "all": {"type": "boolean"}}))),
            response: obj(json!({"revoked": {"type": "array", "items": {"type": "string"}}})),
            handler: post(devices::revoke),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/users/disable",
            summary: "Disable an office or unit account and end all its sessions at once (admin only)",
            access: Access::Office(Admin),
            request: Some(obj(json!({"username": {"type": "string"}}))),
            response: obj(json!({"username": {"type": "string"}, "sessions_ended": {"type": "integer"}})),
            handler: post(devices::disable_user),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/device/token",
            summary: "A fresh token for the calling device; the old one works until the new one is first used",
            access: Access::Device,
            request: None,
            response: obj(json!({"token": {"type": "string"}})),
            handler: post(devices::rotate_token),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/openapi.json",
            summary: "This document",
            access: Access::Anonymous,
            request: None,
            response: json!({"type": "object"}),
            handler: get(office::openapi),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/bulletins",
            summary: "Compile a draft bulletin for a period: kind day|week|month|custom, from and to (inclusive dates in the office time zone; to may be omitted for day, week and month)",
            access: Access::Office(Reviewer),
            request: Some(obj(
                json!({"kind": {"type": "string", "enum": ["day", "week", "month", "custom"]}, "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}}),
            )),
            response: bulletin_view.clone(),
            handler: post(bulletins::create),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/bulletins",
            summary: "Bulletins, newest first (drafts and issued), without their content",
            access: Access::Office(Leader),
            request: None,
            response: obj(json!({"items": {"type": "array", "items": bulletin_view.clone()}})),
            handler: get(bulletins::list),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/bulletins/{id}",
            summary: "One bulletin: its state, number, links to the formats, and its content as `bulletin`",
            access: Access::Office(Leader),
            request: None,
            response: bulletin_view.clone(),
            handler: get(bulletins::get),
        },
        ApiRoute {
            method: "patch",
            path: "/api/v1/bulletins/{id}",
            summary: "Edit a draft's title, lead, closing or distribution; 409 once issued",
            access: Access::Office(Reviewer),
            request: Some(obj(
                json!({"title": {"type": "string"}, "lead": {"type": "string"}, "closing": {"type": "string"}, "distribution": {"type": "string"}}),
            )),
            response: bulletin_view.clone(),
            handler: patch(bulletins::edit),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/bulletins/{id}/recompile",
            summary: "Compile a draft again from the current reviews; 409 once issued",
            access: Access::Office(Reviewer),
            request: None,
            response: bulletin_view.clone(),
            handler: post(bulletins::recompile),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/bulletins/{id}/issue",
            summary: "Issue a draft: the next number of the year (gapless), a frozen snapshot and its SHA-256, logged as evidence; 409 if already issued",
            access: Access::Office(Reviewer),
            request: None,
            response: obj(
                json!({"id": {"type": "integer"}, "number": {"type": "string"}, "year": {"type": "integer"}, "sequence": {"type": "integer"}, "content_hash": {"type": "string"}, "issued_at": {"type": "string"}}),
            ),
            handler: post(bulletins::issue),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/bulletins/{id}/bulletin.html",
            summary: "The bulletin as one self-contained HTML page (phone and A4 print)",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "string", "contentMediaType": "text/html"}),
            handler: get(bulletins::html),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/bulletins/{id}/bulletin.docx",
            summary: "The bulletin as a Word document (GB/T 9704 layout)",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "string", "format": "binary"}),
            handler: get(bulletins::docx),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/bulletins/{id}/bulletin.json",
            summary: "The bulletin's content as JSON; for an issued bulletin, the frozen snapshot whose SHA-256 is its content_hash",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "object"}),
            handler: get(bulletins::json),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/exports/findings.csv",
            summary: "Findings observed from..to (inclusive dates) as CSV: UTF-8 with BOM, Chinese headers, review state and effective values",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "string", "contentMediaType": "text/csv"}),
            handler: get(bulletins::export_csv),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/exports/findings.geojson",
            summary: "Findings observed from..to (inclusive dates) as a GeoJSON FeatureCollection",
            access: Access::Office(Leader),
            request: None,
            response: json!({"type": "object"}),
            handler: get(bulletins::export_geojson),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/draws",
            summary: "Create a random draw for a period; returns its id and commitment SHA-256(seed ‖ canonical parameters), the seed stays secret; 422 names the constraint that cannot be met",
            access: Access::Office(Admin),
            request: Some(obj(
                json!({"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}, "visits": {"type": "integer"}, "inspectors": {"type": "array"}, "point_kinds": {"type": "array"}, "districts": {"type": "array"}, "units": {"type": "array"}, "slots": {"type": "array"}, "min_days_between_same_unit": {"type": "integer"}, "max_visits_per_inspector_per_day": {"type": "integer"}, "lead_minutes": {"type": "integer"}}),
            )),
            response: obj(
                json!({"id": {"type": "string"}, "commitment": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "visits": {"type": "integer"}}),
            ),
            handler: post(draws::create),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/draws",
            summary: "Every draw whose period overlaps from..to (dates), so a re-draw is always visible",
            access: Access::Office(Reviewer),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(draws::list),
        },
        ApiRoute {
            method: "post",
            path: "/api/v1/draws/{id}/reveal",
            summary: "Reveal the draw's seed once its period has ended (409 before); returns the export",
            access: Access::Office(Admin),
            request: None,
            response: obj(
                json!({"id": {"type": "string"}, "commitment": {"type": "string"}, "parameters": {"type": "object"}, "seed": {"type": ["string", "null"]}, "assignments": {"type": ["array", "null"]}}),
            ),
            handler: post(draws::reveal),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/draws/{id}/export",
            summary: "The draw's canonical parameters and commitment, plus seed and assignments once revealed: input for `anfang-server draw verify`",
            access: Access::Office(Admin),
            request: None,
            response: obj(
                json!({"id": {"type": "string"}, "commitment": {"type": "string"}, "parameters": {"type": "object"}, "seed": {"type": ["string", "null"]}, "assignments": {"type": ["array", "null"]}}),
            ),
            handler: get(draws::export),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/evidence/head",
            summary: "The evidence log's chain head (entry count and last entry hash), as issued bulletins print it; check a data dir against it with anfang-server verify --expect-length N --expect-head HASH",
            access: Access::Office(Reviewer),
            request: None,
            response: obj(json!({"length": {"type": "integer"}, "head": {"type": "string"}})),
            handler: get(evidence::head),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/draws/{id}/coverage",
            summary: "Planned versus done visits per inspector and per point, missed visits listed; only slots that have ended",
            access: Access::Office(Reviewer),
            request: None,
            response: obj(
                json!({"planned": {"type": "integer"}, "done": {"type": "integer"}, "not_yet_due": {"type": "integer"}, "per_inspector": {"type": "array"}, "per_point": {"type": "array"}, "missed": {"type": "array"}}),
            ),
            handler: get(draws::coverage),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/unit/findings",
            summary: "For a responsible-unit account only: its unit's accepted and corrected findings (public reference, effective category and card, point with its registered position, date and part of day, photo hashes, decision date and rectification deadline), newest first; nothing about who inspected, nor the exact time or position",
            access: Access::Unit,
            request: None,
            response: obj(
                json!({"unit_id": {"type": "string"}, "items": {"type": "array", "items": obj(json!({"reference": {"type": "string"}, "point_id": {"type": "string"}, "point_name": {"type": "string"}, "point_lat": {"type": "number"}, "point_lon": {"type": "number"}, "category": {"type": "string"}, "card": {"type": "string"}, "status": {"type": "string"}, "observed_on": {"type": "string", "format": "date"}, "part_of_day": {"type": "string", "enum": ["上午", "下午", "晚上"]}, "photos": {"type": "array"}, "decided_on": {"type": ["string", "null"]}, "rectify_by": {"type": ["string", "null"]}}))}}),
            ),
            handler: get(unit::findings),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/inspectors/{id}/identity",
            summary: "Who an inspector's alias really is (admin only); every read is written to the identity audit log",
            access: Access::Office(Admin),
            request: None,
            response: obj(
                json!({"id": {"type": "integer"}, "alias": {"type": "string"}, "real_name": {"type": ["string", "null"]}, "contact": {"type": ["string", "null"]}, "updated_at": {"type": ["string", "null"]}}),
            ),
            handler: get(identity::get_identity),
        },
        ApiRoute {
            method: "put",
            path: "/api/v1/inspectors/{id}/identity",
            summary: "Record who an inspector's alias really is: real_name (1-64 characters), contact (admin only; logged)",
            access: Access::Office(Admin),
            request: Some(obj(json!({"real_name": {"type": "string"}, "contact": {"type": "string"}}))),
            response: obj(
                json!({"id": {"type": "integer"}, "alias": {"type": "string"}, "real_name": {"type": "string"}, "contact": {"type": "string"}, "updated_at": {"type": "string"}}),
            ),
            handler: put(identity::put_identity),
        },
        ApiRoute {
            method: "get",
            path: "/api/v1/audit/identity-reads",
            summary: "The append-only identity audit log, newest first: who read or wrote which inspector's identity, when, through which route (query: inspector, limit)",
            access: Access::Office(Admin),
            request: None,
            response: obj(json!({"items": {"type": "array"}})),
            handler: get(identity::audit_log),
        },
    ]
}

/// The OpenAPI 3.1 document for [`api_routes`].
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for r in api_routes() {
        let mut op = json!({
            "summary": r.summary,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": r.response}}},
                "4XX": {"description": "A request the server refuses; `error` says why and what to do", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            },
            "x-access": match r.access {
                Access::Anonymous => "anonymous".to_owned(),
                Access::Device => "device".to_owned(),
                Access::Office(role) => format!("office:{}", role.as_str()),
                Access::Unit => "unit".to_owned(),
            },
        });
        if r.access != Access::Anonymous {
            op["security"] = json!([{"bearer": []}]);
        }
        if let Some(req) = r.request {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": req}}});
        }
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        paths.entry(r.path).or_insert_with(|| json!({}))[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Anfang inspection API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "offset": {"type": "integer"}}}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::accounts;
    use crate::{AppState, Config, app};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    struct Fixture {
        _dir: tempfile::TempDir,
        state: AppState,
        device: String,
        device_key: anfang_core::evidence::DeviceKey,
        reviewer: String,
        leader: String,
        admin: String,
        /// A responsible-unit account for U03.
        unit: String,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(Config::new(dir.path())).unwrap();
        let creds = crate::demo::load(&state.db).unwrap();
        let device_key = anfang_core::evidence::DeviceKey::generate();
        let (device, reviewer, leader, admin) = state
            .db
            .write_blocking(|c| {
                let device = accounts::enroll(c, &creds.inspectors[0].1, None, &device_key.public_key_hex())?.token;
                accounts::add_user(c, "rev", "reviewer-password", Role::Reviewer)?;
                accounts::add_user(c, "lead", "leader-password", Role::Leader)?;
                let reviewer = accounts::login(c, "rev", "reviewer-password")?.unwrap();
                let leader = accounts::login(c, "lead", "leader-password")?.unwrap();
                let admin = accounts::login(c, &creds.admin_username, &creds.admin_password)?.unwrap();
                Ok((device, reviewer, leader, admin))
            })
            .unwrap();
        let unit = state
            .db
            .write_blocking(|c| {
                accounts::add_unit_user(c, "unit-u03", "unit-password", "U03")?;
                Ok(accounts::login(c, "unit-u03", "unit-password")?.unwrap())
            })
            .unwrap();
        Fixture { _dir: dir, state, device, device_key, reviewer, leader, admin, unit }
    }

    fn concrete(path: &str) -> String {
        // Any syntactically valid value: authorization is decided first.
        path.replace("{sha256}", &"a".repeat(64))
            .replace("{id}", "0190f1f0-0000-7000-8000-000000000000")
            .replace("{code}", "no_such_code")
    }

    async fn status(state: &AppState, method: &str, path: &str, token: Option<&str>) -> StatusCode {
        let mut req = Request::builder().method(method.to_uppercase().as_str()).uri(concrete(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = app(state.clone()).oneshot(req.body(Body::from("{}")).unwrap()).await.unwrap();
        res.status()
    }

    use crate::auth::Role;

    #[tokio::test]
    async fn every_route_refuses_callers_outside_its_audience() {
        let f = fixture();
        for r in api_routes() {
            let anon = status(&f.state, r.method, r.path, None).await;
            let as_device = status(&f.state, r.method, r.path, Some(&f.device)).await;
            let as_reviewer = status(&f.state, r.method, r.path, Some(&f.reviewer)).await;
            let as_leader = status(&f.state, r.method, r.path, Some(&f.leader)).await;
            let as_admin = status(&f.state, r.method, r.path, Some(&f.admin)).await;
            let as_unit = status(&f.state, r.method, r.path, Some(&f.unit)).await;
            let what = format!("{} {}", r.method, r.path);
            if !matches!(r.access, Access::Anonymous | Access::Unit) {
                assert_eq!(as_unit, StatusCode::FORBIDDEN, "{what} unit account");
            }
            match r.access {
                Access::Anonymous => assert_ne!(anon, StatusCode::UNAUTHORIZED, "{what} is open"),
                Access::Device => {
                    assert_eq!(anon, StatusCode::UNAUTHORIZED, "{what} anonymous");
                    assert_eq!(as_reviewer, StatusCode::FORBIDDEN, "{what} office token");
                    assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&as_device), "{what} device");
                }
                Access::Office(min) => {
                    assert_eq!(anon, StatusCode::UNAUTHORIZED, "{what} anonymous");
                    assert_eq!(as_device, StatusCode::FORBIDDEN, "{what} device token");
                    assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&as_admin), "{what} admin");
                    let reviewer_allowed = min <= Role::Reviewer;
                    assert_eq!(as_reviewer != StatusCode::FORBIDDEN, reviewer_allowed, "{what} reviewer");
                    assert_ne!(as_reviewer, StatusCode::UNAUTHORIZED, "{what} reviewer");
                    let leader_allowed = min <= Role::Leader;
                    assert_eq!(as_leader != StatusCode::FORBIDDEN, leader_allowed, "{what} leader");
                    assert!(
                        min >= Role::Leader,
                        "{what}: Office(Unit) would admit every office role; use Access::Unit"
                    );
                }
                Access::Unit => {
                    assert_eq!(anon, StatusCode::UNAUTHORIZED, "{what} anonymous");
                    assert_eq!(as_device, StatusCode::FORBIDDEN, "{what} device token");
                    for (got, who) in [(as_reviewer, "reviewer"), (as_leader, "leader"), (as_admin, "admin")] {
                        assert_eq!(got, StatusCode::FORBIDDEN, "{what} {who}");
                    }
                    assert!(as_unit.is_success(), "{what} unit account: {as_unit}");
                }
            }
        }
    }

    /// A console request with a session cookie and this server's Origin
    /// (but no CSRF token: a POST that passes the role check still fails it).
    async fn console_status(state: &AppState, method: &str, path: &str, cookie: Option<&str>) -> StatusCode {
        let mut req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(concrete(path))
            .header("host", "anfang.test")
            .header("origin", "http://anfang.test")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header("cookie", format!("{}={c}", crate::auth::SESSION_COOKIE));
        }
        app(state.clone()).oneshot(req.body(Body::from("decision=accept")).unwrap()).await.unwrap().status()
    }

    #[tokio::test]
    async fn every_console_route_refuses_callers_outside_its_audience() {
        let f = fixture();
        for r in console_routes() {
            let what = format!("{} {}", r.method, r.path);
            let anon = console_status(&f.state, r.method, r.path, None).await;
            let Some(min) = r.min else {
                assert!(
                    anon.is_success() || anon.is_redirection() || anon == StatusCode::UNPROCESSABLE_ENTITY,
                    "{what} is open: {anon}"
                );
                continue;
            };
            assert_eq!(anon, StatusCode::SEE_OTHER, "{what} anonymous goes to the login page");
            let device = console_status(&f.state, r.method, r.path, Some(&f.device)).await;
            assert_eq!(device, StatusCode::SEE_OTHER, "{what} a device token is no console session");
            for (token, role) in [
                (&f.unit, Role::Unit),
                (&f.leader, Role::Leader),
                (&f.reviewer, Role::Reviewer),
                (&f.admin, Role::Admin),
            ] {
                let got = console_status(&f.state, r.method, r.path, Some(token)).await;
                if r.method == "post" {
                    // Without the CSRF token every console POST is refused.
                    assert_eq!(got, StatusCode::FORBIDDEN, "{what} as {role:?} without CSRF token");
                } else if role >= min {
                    assert!(
                        got.is_success() || got.is_redirection() || got == StatusCode::NOT_FOUND,
                        "{what} as {role:?}: {got}"
                    );
                } else {
                    assert_eq!(got, StatusCode::FORBIDDEN, "{what} as {role:?}");
                }
            }
        }
    }

    #[tokio::test]
    async fn the_openapi_document_lists_every_route_with_its_methods() {
        let f = fixture();
        let res = app(f.state.clone())
            .oneshot(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let routes = api_routes();
        let documented: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, routes.len());
        for r in routes {
            let op = &doc["paths"][r.path][r.method];
            assert!(op.is_object(), "{} {} documented", r.method, r.path);
            assert_eq!(op["security"].is_array(), r.access != Access::Anonymous, "{} {} security", r.method, r.path);
        }
    }

    #[tokio::test]
    async fn leaders_never_see_who_inspected() {
        let f = fixture();
        // A finding needs a stored photo; a green card needs none.
        f.state
            .db
            .write_blocking(|c| {
                let device = accounts::device_by_token_hash(c, &crate::auth::secret_hash(&f.device))?.unwrap();
                let finding = anfang_core::FindingContent {
                    id: uuid::Uuid::now_v7(),
                    point_id: "P001".into(),
                    unit_id: "U03".into(),
                    category: "parking".into(),
                    card: anfang_core::Card::Green,
                    note: None,
                    observed_at: jiff::Timestamp::now(),
                    location: None,
                    photos: vec![],
                    assignment_id: None,
                };
                let signed = anfang_core::protocol::SignedFinding { signature: f.device_key.sign(&finding), finding };
                let r =
                    crate::db::findings::push_batch(c, &device, &[signed], jiff::Timestamp::now().as_millisecond())?;
                assert_eq!(r[0].outcome, anfang_core::protocol::PushOutcome::Accepted);
                Ok(())
            })
            .unwrap();
        for (token, sees_alias) in [(&f.leader, false), (&f.reviewer, true)] {
            let res = app(f.state.clone())
                .oneshot(
                    Request::get("/api/v1/findings")
                        .header("authorization", format!("Bearer {token}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let body =
                String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
            assert!(body.contains("P001"), "{body}");
            assert_eq!(body.contains("督查01"), sees_alias, "{body}");
        }
    }
}
