//! Who is calling, and may they: secrets, password hashing, and the request
//! extractors that every route uses to authorize by role.
//!
//! Tokens are 256-bit random strings with a prefix naming their kind
//! (`anfd_` device, `anfs_` office session). The server stores only their
//! SHA-256: high-entropy tokens need no slow hash, and a leaked database
//! yields no usable token. Passwords are hashed with Argon2id.
//!
//! **Invariant:** a route is reachable only through one of the extractors
//! here ([`DeviceCaller`], [`OfficeCaller`]), except health, session and
//! enrollment, which are anonymous by design.

use crate::AppState;
use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

pub const DEVICE_TOKEN_PREFIX: &str = "anfd_";
pub const SESSION_TOKEN_PREFIX: &str = "anfs_";

/// Office roles. Admins can do everything reviewers can; leaders only read.
/// `Unit` (责任单位账号) is declared first so it orders below every office
/// role: `require(Role::Leader)` and above always refuse it, and the only
/// routes it reaches are those that ask for it explicitly
/// ([`OfficeCaller::require_unit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Unit,
    Leader,
    Reviewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unit => "unit",
            Role::Leader => "leader",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "reviewer" => Ok(Role::Reviewer),
            "leader" => Ok(Role::Leader),
            "unit" => Ok(Role::Unit),
            other => Err(format!("unknown role {other:?}; use admin, reviewer, leader or unit")),
        }
    }
}

/// A fresh random token with the given prefix.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!("{prefix}{}", hex::encode(bytes))
}

/// What the database stores for a token or code.
pub fn secret_hash(secret: &str) -> String {
    anfang_core::domain::sha256_hex(secret.as_bytes())
}

/// A one-time enrollment code: 12 characters of Crockford base32 (no I, L,
/// O, U), grouped for reading aloud or typing on a phone: `7KQ2-M9XA-D4PT`.
pub fn new_enrollment_code() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[(*b & 31) as usize] as char).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// Canonical form of a typed code: case and separators don't matter.
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(AppError::internal)
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
        AppError::Unauthenticated("sign in first: this route needs an Authorization: Bearer token".into())
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::Unauthenticated("the Authorization header must be `Bearer <token>`".into()))
}

/// An enrolled, unrevoked device, acting as its inspector.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    pub device_id: String,
    pub inspector_id: i64,
    /// Ed25519 public key (hex) that signs this device's findings.
    pub public_key: Option<String>,
}

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // Already admitted by the route table's layer (`routes::router`).
        if let Some(caller) = parts.extensions.get::<Self>() {
            return Ok(caller.clone());
        }
        let token = bearer(parts)?;
        if token.starts_with(SESSION_TOKEN_PREFIX) {
            return Err(AppError::Forbidden(
                "this route is for enrolled inspector devices, not office accounts".into(),
            ));
        }
        state.db.authenticate_device(secret_hash(token), state.clock.now()).await
    }
}

/// A signed-in office user.
#[derive(Debug, Clone)]
pub struct OfficeCaller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// The responsible unit of a `unit` account; `None` for every other role.
    pub unit_id: Option<String>,
}

impl OfficeCaller {
    /// Only responsible-unit accounts pass; returns their unit.
    pub fn require_unit(&self) -> Result<&str, AppError> {
        match (&self.role, &self.unit_id) {
            (Role::Unit, Some(unit)) => Ok(unit),
            _ => Err(AppError::Forbidden(format!(
                "this route is for responsible-unit accounts; you are signed in as {}",
                self.role.as_str()
            ))),
        }
    }

    /// Refuses callers below `min`.
    pub fn require(&self, min: Role) -> Result<(), AppError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {} role; you are signed in as {}",
                min.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// The console's session cookie: it holds the same `anfs_` token a bearer
/// header would (only its hash is stored).
pub const SESSION_COOKIE: &str = "anfang_session";

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether a request comes from a page of this server: its `Origin` (or,
/// failing that, `Referer`) names the same host. Cookie-authenticated writes
/// need it, so another site cannot make a signed-in browser post (CSRF).
pub fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok());
    let source = headers
        .get(axum::http::header::ORIGIN)
        .or_else(|| headers.get(axum::http::header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (host, source) {
        (Some(host), Some(source)) => {
            let rest = source.strip_prefix("https://").or_else(|| source.strip_prefix("http://")).unwrap_or("");
            rest.split('/').next() == Some(host)
        }
        _ => false,
    }
}

impl FromRequestParts<AppState> for OfficeCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // Already admitted by the route table's layer (`routes::router`).
        if let Some(caller) = parts.extensions.get::<Self>() {
            return Ok(caller.clone());
        }
        let cookie;
        let token = match bearer(parts) {
            Ok(t) => t,
            Err(e) if parts.headers.contains_key(axum::http::header::AUTHORIZATION) => return Err(e),
            Err(e) => {
                // The console's browser sends its session as a cookie.
                cookie = session_cookie(&parts.headers).ok_or(e)?;
                let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                if !safe && !same_origin(&parts.headers) {
                    return Err(AppError::Forbidden(
                        "a signed-in browser may only post from this server's own pages (Origin check)".into(),
                    ));
                }
                cookie.as_str()
            }
        };
        if token.starts_with(DEVICE_TOKEN_PREFIX) {
            return Err(AppError::Forbidden("office routes do not accept inspector device tokens".into()));
        }
        office_session(state, token)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("your session has expired or is unknown; sign in again".into()))
    }
}

/// The live office session of a token, renewing its idle lifetime; `None`
/// when it is unknown, ended, past its lifetime or its user is disabled.
/// The API and the console both come through here.
pub async fn office_session(state: &AppState, token: &str) -> Result<Option<OfficeCaller>, AppError> {
    state.db.authenticate_session(secret_hash(token), state.clock.now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse!", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn enrollment_codes_are_typable_and_normalize() {
        let code = new_enrollment_code();
        assert_eq!(code.len(), 14, "{code}");
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        assert_eq!(normalize_code(&code.to_lowercase().replace('-', " ")), code.replace('-', ""));
    }

    #[tokio::test]
    async fn a_session_ends_when_the_servers_clock_passes_its_idle_lifetime() {
        // Time is set, not written into rows: the state's clock is a
        // ManualClock the test moves.
        let dir = tempfile::tempdir().unwrap();
        let hand = crate::clock::ManualClock::new("2026-11-27T01:00:00Z".parse().unwrap());
        let mut config = crate::Config::new(dir.path());
        config.clock = crate::clock::Clock::from(hand.clone());
        let state = AppState::open(config).unwrap();
        let now = state.clock.now();
        let user = state.db.add_user("lead".into(), "leader-password".into(), Role::Leader, None, now).await.unwrap();
        let token = state.db.open_session(user, now).await.unwrap();
        hand.advance(jiff::SignedDuration::from_mins(29));
        assert!(office_session(&state, &token).await.unwrap().is_some(), "29 idle minutes: still signed in");
        hand.advance(jiff::SignedDuration::from_mins(29));
        assert!(office_session(&state, &token).await.unwrap().is_some(), "the use renewed the idle lifetime");
        hand.advance(jiff::SignedDuration::from_mins(31));
        assert!(office_session(&state, &token).await.unwrap().is_none(), "31 idle minutes end the session");
    }

    #[test]
    fn tokens_are_unique_and_prefixed() {
        let a = new_token(DEVICE_TOKEN_PREFIX);
        assert!(a.starts_with("anfd_") && a.len() == 5 + 64);
        assert_ne!(a, new_token(DEVICE_TOKEN_PREFIX));
    }
}
