//! Office sign-in (API and console): one normalised username, throttles
//! that a crowd cannot grow or turn against a user, and the password check
//! away from the storage connections.
//!
//! The flow of [`sign_in`]:
//! 1. bound the username and password lengths before anything else (a
//!    sign-in body may be 2 MiB, a username is at most 64 characters);
//! 2. normalise the username once ([`normalize_username`]: trim, NFKC,
//!    lower case), so that `" lead1"`, `"lead1\n"` and `"\u{a0}LEAD1"` are
//!    one account for the lookup *and* for the throttles;
//! 3. [`SignInGuard::begin`]: refuse if this source is locked out for this
//!    account, if this source failed too often overall, or if the whole
//!    server saw too many failures; otherwise count the attempt as a
//!    failure until it proves otherwise (so concurrent guesses cannot slip
//!    past the limit together);
//! 4. read the account's hash on a reader connection;
//! 5. verify it on one of a few dedicated password threads
//!    ([`PasswordChecker`]), with no connection held; unknown usernames are
//!    checked against a dummy hash so they cost the same;
//! 6. only on success take the writer, briefly, to store the session.
//!
//! **Sources** are the TCP peer's address (an IPv6 peer by its /64, which
//! one household or host gets whole), or, when the operator sets
//! `ANFANG_TRUST_FORWARDED_FOR=1` because a reverse proxy is in front, the
//! last address in `X-Forwarded-For` (the one that proxy appended; anything
//! to its left is what the client claimed). They are kept in memory only,
//! for at most the lockout window, and never logged or stored: the server
//! records no client address anywhere.

use crate::AppState;
use crate::auth::Role;
use crate::db::accounts;
use crate::error::AppError;
use anfang_core::error_code::ErrorCode;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use unicode_normalization::UnicodeNormalization;

/// Longest username, in characters, after normalisation.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Raw input longer than this (bytes) is refused before it is even
/// normalised: no username of 64 characters, however padded, gets near it.
const MAX_USERNAME_INPUT_BYTES: usize = 1024;
/// Longest password accepted (bytes). Argon2 would take more, but a longer
/// one is no one's password and only costs memory while it waits.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The one form of a username that accounts are stored, looked up and
/// throttled under: trimmed, NFKC (full-width letters, ligatures and
/// no-break spaces become their plain forms) and lower-cased.
pub fn normalize_username(raw: &str) -> Result<String, AppError> {
    let too_long = || {
        AppError::coded(
            StatusCode::BAD_REQUEST,
            ErrorCode::UsernameTooLong,
            format!("a username has at most {MAX_USERNAME_CHARS} characters"),
        )
        .with_field("username")
    };
    if raw.len() > MAX_USERNAME_INPUT_BYTES {
        return Err(too_long());
    }
    // Lower-casing can produce a sequence NFKC would compose, so normalise again.
    let folded: String = raw.nfkc().collect::<String>().to_lowercase().nfkc().collect();
    let name = folded.trim();
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(too_long());
    }
    Ok(name.to_owned())
}

/// Where a sign-in comes from, as a throttle key (see the module docs).
/// Deliberately neither `Debug` nor `Display`: it must not end up in a log.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source([u8; 16]);

impl Source {
    /// Callers without a socket (tests calling the router directly) share one key.
    pub const UNKNOWN: Source = Source([0; 16]);

    pub fn from_ip(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(v4.to_ipv6_mapped().octets()),
                None => {
                    let mut o = v6.octets();
                    o[8..].fill(0);
                    Source(o)
                }
            },
        }
    }
}

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let last = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
            if let Some(ip) = last {
                return Ok(Source::from_ip(ip));
            }
        }
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| Source::from_ip(addr.ip()))
            .unwrap_or(Source::UNKNOWN))
    }
}

/// The throttles' numbers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures one source may make against one username per window.
    pub per_account: u32,
    /// Failures one source may make in all per window (many usernames).
    pub per_source: u32,
    /// Failures the whole server accepts per window: beyond it (a
    /// distributed attack) every sign-in waits until the window passes.
    pub global: u32,
    /// How long failures are remembered, and a lockout lasts.
    pub window: Duration,
    /// Most entries each table holds; expired entries are dropped first.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // An office behind one NAT shares a source: 30 failures per five
        // minutes is many typos, and few guesses.
        Limits { per_account: 5, per_source: 30, global: 300, window: Duration::from_secs(300), max_entries: 10_000 }
    }
}

/// Failure counts per key, remembered for one window after the last
/// failure. Never holds more than `max` entries: expired ones are dropped
/// as it fills (and once a minute), and when every entry is live the one
/// idle longest goes. Every entry is made by a counted failure, so with
/// `max` above the global budget live entries never have to be evicted.
struct Table<K> {
    entries: HashMap<K, (u32, Instant)>,
    max: usize,
    window: Duration,
    last_sweep: Instant,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(max: usize, window: Duration) -> Self {
        Table { entries: HashMap::new(), max: max.max(1), window, last_sweep: Instant::now() }
    }

    /// Failures still remembered for `key`, and when the last one was.
    fn get(&self, key: &K) -> Option<(u32, Instant)> {
        self.entries.get(key).copied().filter(|(_, at)| at.elapsed() < self.window)
    }

    fn sweep(&mut self) {
        let window = self.window;
        self.entries.retain(|_, (_, at)| at.elapsed() < window);
        self.last_sweep = Instant::now();
    }

    fn add(&mut self, key: &K) {
        if self.last_sweep.elapsed() >= Duration::from_secs(60) {
            self.sweep();
        }
        if !self.entries.contains_key(key) && self.entries.len() >= self.max {
            self.sweep();
            let oldest = self.entries.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest.filter(|_| self.entries.len() >= self.max) {
                self.entries.remove(&oldest);
            }
        }
        let now = Instant::now();
        let entry = self.entries.entry(key.clone()).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now;
    }

    /// Takes back one counted failure (an attempt that turned out right).
    fn refund(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
            if entry.0 == 0 {
                self.entries.remove(key);
            }
        }
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

struct Tables {
    /// (source, normalised username): the lockout a user sees.
    accounts: Table<(Source, String)>,
    sources: Table<Source>,
    /// Failures server-wide in the current window.
    global: (u32, Instant),
}

/// Slows down password guessing: five failures for one username from one
/// source lock that source out of it for five minutes; thirty failures lock
/// a source out of signing in at all; 300 failures server-wide pause every
/// sign-in. Another source can still sign in to an account one attacker
/// has locked. In memory: a restart forgets it, which is acceptable for a
/// throttle. Cheap to clone.
#[derive(Clone)]
pub struct SignInGuard {
    limits: Limits,
    tables: Arc<Mutex<Tables>>,
    checker: PasswordChecker,
}

impl Default for SignInGuard {
    fn default() -> Self {
        Self::with_limits(Limits::default())
    }
}

/// A sign-in counted as failed until [`Attempt::succeeded`] says otherwise
/// (dropping it, on any error path, leaves the failure counted).
#[must_use]
pub struct Attempt {
    guard: SignInGuard,
    source: Source,
    username: String,
}

impl Attempt {
    /// The password was right: clear this source's lockout for the account
    /// and take back the failure counted in advance.
    pub fn succeeded(self) {
        let mut t = self.guard.lock();
        t.accounts.remove(&(self.source, self.username.clone()));
        t.sources.refund(&self.source);
        t.global.0 = t.global.0.saturating_sub(1);
    }

    /// Not a guess after all (the server was too busy to check it).
    fn withdraw(self) {
        let mut t = self.guard.lock();
        t.accounts.refund(&(self.source, self.username.clone()));
        t.sources.refund(&self.source);
        t.global.0 = t.global.0.saturating_sub(1);
    }
}

impl SignInGuard {
    pub fn with_limits(limits: Limits) -> Self {
        let max = limits.max_entries;
        SignInGuard {
            limits,
            tables: Arc::new(Mutex::new(Tables {
                accounts: Table::new(max, limits.window),
                sources: Table::new(max, limits.window),
                global: (0, Instant::now()),
            })),
            checker: PasswordChecker::new(default_checkers(), 64),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses a locked-out attempt; otherwise counts it as a failure in
    /// advance (see [`Attempt`]). `username` is already normalised.
    pub fn begin(&self, source: Source, username: &str) -> Result<Attempt, AppError> {
        let limits = self.limits;
        let mut t = self.lock();
        let minutes = |at: Instant| (limits.window.saturating_sub(at.elapsed())).as_secs() / 60 + 1;
        let key = (source, username.to_owned());
        if let Some((_, at)) = t.accounts.get(&key).filter(|(n, _)| *n >= limits.per_account) {
            return Err(AppError::coded(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::SignInLocked,
                format!("too many failed sign-ins for this user; try again in {} minute(s)", minutes(at)),
            ));
        }
        if let Some((_, at)) = t.sources.get(&source).filter(|(n, _)| *n >= limits.per_source) {
            return Err(AppError::coded(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::SignInLocked,
                format!("too many failed sign-ins from here; try again in {} minute(s)", minutes(at)),
            ));
        }
        if t.global.1.elapsed() >= limits.window {
            t.global = (0, Instant::now());
        }
        if t.global.0 >= limits.global {
            let at = t.global.1;
            return Err(AppError::coded(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::SignInPaused,
                format!(
                    "the server has seen too many failed sign-ins and pauses them all; try again in {} minute(s)",
                    minutes(at)
                ),
            ));
        }
        t.accounts.add(&key);
        t.sources.add(&source);
        t.global.0 += 1;
        drop(t);
        Ok(Attempt { guard: self.clone(), source, username: key.1 })
    }

    /// Entries held (accounts, sources): for tests of the bound.
    pub fn entries(&self) -> (usize, usize) {
        let t = self.lock();
        (t.accounts.len(), t.sources.len())
    }
}

/// Password checks, each on one of a few dedicated threads. An Argon2 check
/// holds its memory cost (19 MiB at the default parameters) while it runs,
/// so the number of threads bounds that memory; dedicated threads keep it
/// in the same few allocator arenas instead of one per blocking-pool
/// thread. Beyond `queue` waiting checks a sign-in is refused at once
/// (503), so a flood holds neither threads nor bodies.
#[derive(Clone)]
pub struct PasswordChecker {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

struct Job {
    password: String,
    hash: Option<String>,
    reply: tokio::sync::oneshot::Sender<bool>,
}

fn default_checkers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4)
}

impl PasswordChecker {
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("password-check-{i}")).spawn(move || {
                // Argon2's working memory, allocated once and reused: a fresh
                // 19 MiB per check leaves the allocator holding several
                // arenas' worth of it (measured: 390 MiB after 64 checks).
                let mut memory: Vec<argon2::Block> = Vec::new();
                loop {
                    // Ends when every sender (every clone of the guard) is gone.
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    // Unknown usernames cost the same as wrong passwords.
                    let hash = job.hash.as_deref().unwrap_or(accounts::dummy_hash());
                    let ok = verify_in(&mut memory, job.password.as_bytes(), hash) && job.hash.is_some();
                    let _ = job.reply.send(ok); // the caller may have gone
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password-check thread: {e}");
            }
        }
        PasswordChecker { jobs }
    }

    /// Whether `password` matches `hash` (`None`: no such account, always
    /// false after the same work). Refused with 503 when too many wait.
    pub async fn check(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs.try_send(Job { password, hash, reply }).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => AppError::coded(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::SignInBusy,
                "too many sign-ins at once; try again in a few seconds",
            ),
            std::sync::mpsc::TrySendError::Disconnected(_) => AppError::internal("no password-check thread is running"),
        })?;
        answer.await.map_err(|_| AppError::internal("a password-check thread stopped"))
    }
}

/// Checks `password` against a PHC Argon2 hash, as
/// `argon2::PasswordVerifier` does, but in the caller's `memory` (grown to
/// the hash's memory cost once, then reused). False for any malformed hash.
fn verify_in(memory: &mut Vec<argon2::Block>, password: &[u8], phc: &str) -> bool {
    use argon2::password_hash::phc::Output;
    use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else { return false };
    let Ok(version) = hash.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(&hash) else { return false };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    if argon2.hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks]).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// A successful sign-in.
pub struct SignedIn {
    pub token: String,
    pub role: Role,
}

/// Signs in (see the module docs for the steps); the errors carry codes
/// the API answers with and the console translates.
pub async fn sign_in(state: &AppState, source: Source, username: &str, password: &str) -> Result<SignedIn, AppError> {
    let username = normalize_username(username)?;
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::coded(
            StatusCode::BAD_REQUEST,
            ErrorCode::PasswordTooLong,
            format!("a password has at most {MAX_PASSWORD_BYTES} bytes"),
        )
        .with_field("password"));
    }
    let guard = &state.sign_in_guard;
    let attempt = guard.begin(source, &username)?;
    let lookup = username.clone();
    let account = state.db.password_row(lookup).await?;
    let ok = match guard.checker.check(password.to_owned(), account.as_ref().map(|a| a.password_hash.clone())).await {
        Ok(ok) => ok,
        Err(e) => {
            if e.code() == ErrorCode::SignInBusy {
                attempt.withdraw();
            }
            return Err(e);
        }
    };
    let Some(account) = account.filter(|_| ok) else {
        return Err(AppError::Unauthenticated("wrong username or password".into()));
    };
    let user_id = account.user_id;
    let token = state.db.open_session(user_id, state.clock.now()).await?;
    attempt.succeeded();
    Ok(SignedIn { token, role: account.role })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth;

    fn src(last: u8) -> Source {
        Source::from_ip(IpAddr::from([192, 0, 2, last]))
    }

    fn code(r: Result<Attempt, AppError>) -> ErrorCode {
        r.err().map(|e| e.code()).unwrap_or(ErrorCode::Unknown)
    }

    #[test]
    fn usernames_are_trimmed_nfkc_normalised_and_lower_cased() {
        for raw in [" lead1", "lead1\n", "\u{a0}lead1", "LEAD1", "ｌｅａｄ１", "\tLead1\u{3000}"] {
            assert_eq!(normalize_username(raw).unwrap(), "lead1", "{raw:?}");
        }
        assert_eq!(normalize_username("督查 管理员").unwrap(), "督查 管理员");
        assert_eq!(normalize_username(&"a".repeat(64)).unwrap().len(), 64);
        let err = normalize_username(&"a".repeat(65)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::UsernameTooLong);
        // Padding does not count, but a huge input is refused before any work.
        assert!(normalize_username(&format!("{}lead1", " ".repeat(200))).is_ok());
        assert_eq!(normalize_username(&" ".repeat(2_000_000)).unwrap_err().code(), ErrorCode::UsernameTooLong);
    }

    #[test]
    fn five_failures_lock_the_username_for_that_source_only_and_a_success_clears_it() {
        let guard = SignInGuard::default();
        for _ in 0..5 {
            let _failed = guard.begin(src(1), "admin").unwrap();
        }
        let err = guard.begin(src(1), "admin").err().unwrap();
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.code(), ErrorCode::SignInLocked);
        assert!(err.to_string().contains("try again in 5 minute(s)"), "{err}");
        // Another username from the same source, and the same one from elsewhere.
        guard.begin(src(1), "someone-else").unwrap().succeeded();
        guard.begin(src(2), "admin").unwrap().succeeded();
        // A success (before the lock) clears the count.
        let guard = SignInGuard::default();
        for _ in 0..4 {
            let _failed = guard.begin(src(1), "admin").unwrap();
        }
        guard.begin(src(1), "admin").unwrap().succeeded();
        for _ in 0..4 {
            let _failed = guard.begin(src(1), "admin").unwrap();
        }
        guard.begin(src(1), "admin").unwrap().succeeded();
    }

    #[test]
    fn one_source_spraying_usernames_is_stopped_and_the_server_wide_budget_pauses_everyone() {
        let limits = Limits { per_source: 3, global: 5, ..Limits::default() };
        let guard = SignInGuard::with_limits(limits);
        for i in 0..3 {
            let _failed = guard.begin(src(1), &format!("user{i}")).unwrap();
        }
        assert_eq!(code(guard.begin(src(1), "user9")), ErrorCode::SignInLocked);
        let _failed = guard.begin(src(2), "a").unwrap();
        let _failed = guard.begin(src(3), "b").unwrap();
        assert_eq!(code(guard.begin(src(4), "c")), ErrorCode::SignInPaused);
    }

    #[test]
    fn failures_expire_after_the_window() {
        let guard = SignInGuard::with_limits(Limits { window: Duration::from_millis(50), ..Limits::default() });
        for _ in 0..5 {
            let _failed = guard.begin(src(1), "admin").unwrap();
        }
        assert_eq!(code(guard.begin(src(1), "admin")), ErrorCode::SignInLocked);
        std::thread::sleep(Duration::from_millis(60));
        guard.begin(src(1), "admin").unwrap().succeeded();
    }

    #[test]
    fn the_tables_stay_bounded_and_drop_expired_entries_first() {
        let window = Duration::from_millis(40);
        let limits = Limits { max_entries: 100, global: u32::MAX, per_source: u32::MAX, window, ..Limits::default() };
        let guard = SignInGuard::with_limits(limits);
        // Locked: this entry is live and must survive the flood below.
        for _ in 0..5 {
            let _failed = guard.begin(src(1), "admin").unwrap();
        }
        for i in 0..1_000 {
            let _failed = guard.begin(src((i % 200) as u8), &format!("made-up-{i}")).unwrap();
            assert!(guard.entries().0 <= 100 && guard.entries().1 <= 100, "{:?}", guard.entries());
        }
        std::thread::sleep(window + Duration::from_millis(10));
        let _failed = guard.begin(src(7), "one-more").unwrap();
        // Expired entries went as soon as the table was full again.
        let mut table = Table::<u32>::new(3, window);
        for k in 0..3 {
            table.add(&k);
        }
        std::thread::sleep(window + Duration::from_millis(10));
        table.add(&99);
        assert_eq!(table.len(), 1, "the three expired entries were dropped, not the oldest alone");
        // And a full table of live entries evicts the one idle longest.
        let mut table = Table::<u32>::new(3, Duration::from_secs(60));
        for k in 0..4 {
            table.add(&k);
        }
        assert_eq!(table.len(), 3);
        assert!(table.get(&0).is_none() && table.get(&3).is_some());
    }

    #[test]
    fn a_source_is_an_ipv4_address_or_an_ipv6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(Source::from_ip(a) == Source::from_ip(b));
        assert!(Source::from_ip(a) != Source::from_ip(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(Source::from_ip(mapped) == src(1));
        assert!(src(1) != src(2));
    }

    #[test]
    fn the_reused_memory_check_agrees_with_argon2s_own() {
        let hash = auth::hash_password("the right password").unwrap();
        let mut memory = Vec::new();
        for (password, right) in [("the right password", true), ("the right passwort", false), ("", false)] {
            assert_eq!(verify_in(&mut memory, password.as_bytes(), &hash), right, "{password:?}");
            assert_eq!(auth::verify_password(password, &hash), right);
        }
        assert!(!verify_in(&mut memory, b"x", "not a hash"));
        assert!(!verify_in(&mut memory, b"x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"));
    }

    #[tokio::test]
    async fn password_checks_beyond_the_queue_are_refused_at_once() {
        let hash = auth::hash_password("the right password").unwrap();
        let checker = PasswordChecker::new(1, 2);
        assert!(checker.check("the right password".into(), Some(hash.clone())).await.unwrap());
        assert!(!checker.check("wrong".into(), Some(hash.clone())).await.unwrap());
        assert!(!checker.check("the right password".into(), None).await.unwrap(), "no account: never true");
        // On this single-threaded runtime every task queues its check before
        // the first one is answered.
        let many: Vec<_> = (0..8)
            .map(|_| {
                let (checker, hash) = (checker.clone(), hash.clone());
                tokio::spawn(async move { checker.check("wrong".into(), Some(hash)).await })
            })
            .collect();
        let mut busy = 0;
        for task in many {
            match task.await.unwrap() {
                Err(e) if e.code() == ErrorCode::SignInBusy => busy += 1,
                Err(e) => panic!("{e}"),
                Ok(ok) => assert!(!ok),
            }
        }
        assert!(busy >= 4, "one thread and a queue of two take three or four of eight: {busy} refused");
    }
}
