//! The outbox's delivery, end to end: real SQLite, the real worker, a real
//! SMTP dialogue with a sink and real HTTP to a webhook receiver, both on
//! 127.0.0.1. The worker runs in process where time must move (a
//! `ManualClock`: backoff, attempts used up), and in the real server
//! binary where the server itself must be killed.

mod common;

use anfang_server::app::contacts::{ContactInput, SmtpInput};
use anfang_server::clock::{Clock, ManualClock};
use anfang_server::db::contacts::Contact;
use anfang_server::db::notices::{NoticeFilter, NoticeState, NoticeView};
use anfang_server::notify::{WorkerConfig, worker};
use anfang_server::rectification::notice::{MAX_ATTEMPTS, Notice, NoticeCase, NoticeKind, retry_delay};
use anfang_server::{AppState, Config, app};
use common::Server;
use common::notify::{Answer, SmtpSink, WebhookReceiver, expected_signature};
use common::office::{Browser, add_user, sign_in};
use serde_json::{Value, json};
use std::time::Duration;

const T0: &str = "2026-12-01T10:00:00Z";

struct Office {
    _dir: tempfile::TempDir,
    state: AppState,
    hand: ManualClock,
}

fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let t0: jiff::Timestamp = T0.parse().unwrap();
    let hand = ManualClock::new(t0);
    let mut config = Config::new(dir.path());
    config.clock = Clock::from(hand.clone());
    let state = AppState::open(config).unwrap();
    anfang_server::demo::load_at(&state.db, t0).unwrap();
    Office { _dir: dir, state, hand }
}

/// Quick rounds and a short hard timeout, so a test waits seconds, not minutes.
fn quick() -> WorkerConfig {
    WorkerConfig {
        poll: Duration::from_millis(100),
        delivery_timeout: Duration::from_secs(3),
        claim_for: jiff::SignedDuration::from_mins(2),
        concurrency: 4,
    }
}

fn notice() -> Notice {
    Notice {
        kind: NoticeKind::Digest,
        unit_name: "市城市管理行政执法局".into(),
        cases: vec![NoticeCase {
            reference: "ZG7Q4KX2ABCD".into(),
            point_name: "通川中路".into(),
            date: jiff::civil::date(2026, 12, 1),
            part_of_day: "上午",
            category_name: "占道经营".into(),
            card: anfang_core::Card::Red,
            deadline: Some("12月4日 24:00前".into()),
            overdue_days: None,
            link: "http://127.0.0.1:8080/unit/cases/ZG7Q4KX2ABCD".into(),
        }],
        portal_link: "http://127.0.0.1:8080/unit/".into(),
    }
}

async fn contact(state: &AppState, unit: &str, input: ContactInput) -> Contact {
    app::contacts::create(&state.db, unit.into(), input).await.expect("a valid contact")
}

fn named(name: &str, role: &str) -> ContactInput {
    ContactInput { name: name.into(), role: role.into(), active: true, ..ContactInput::default() }
}

async fn log(state: &AppState) -> Vec<NoticeView> {
    app::notices::list(&state.db, NoticeFilter { limit: 100, ..NoticeFilter::default() }).await.unwrap()
}

async fn smtp_to(state: &AppState, sink: &SmtpSink) {
    app::contacts::save_smtp(
        &state.db,
        SmtpInput {
            host: "127.0.0.1".into(),
            port: sink.port().into(),
            tls: "none".into(),
            username: String::new(),
            password: None,
            from: "四城同创办 <anfang@office.example.cn>".into(),
        },
    )
    .await
    .unwrap();
}

/// Polls the log until `done` holds for the notice `id`, or panics.
async fn until(state: &AppState, id: i64, what: &str, done: impl Fn(&NoticeView) -> bool) -> NoticeView {
    for _ in 0..200 {
        if let Some(n) = log(state).await.into_iter().find(|n| n.id == id)
            && done(&n)
        {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("notice {id} never became {what}: {:?}", log(state).await.into_iter().find(|n| n.id == id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_notice_reaches_the_smtp_sink_once_with_its_chinese_subject() {
    let o = office();
    let sink = SmtpSink::start().await;
    smtp_to(&o.state, &sink).await;
    contact(
        &o.state,
        "U03",
        ContactInput { email: Some("liaison@u03.example.cn".into()), ..named("王联络", "contact") },
    )
    .await;
    let now = o.state.clock.now();
    let key = "digest/U03/2026-12-01".to_owned();
    let added = o.state.db.enqueue_notice_for_tests(key.clone(), "U03".into(), notice(), now).await.unwrap();
    assert_eq!(added, 1);
    // The same event again: the outbox holds it once.
    let again = o.state.db.enqueue_notice_for_tests(key.clone(), "U03".into(), notice(), now).await.unwrap();
    assert_eq!(again, 0, "an event is enqueued once per recipient");

    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 1);
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    let mail = &got[0];
    assert_eq!(mail.to, vec!["liaison@u03.example.cn".to_owned()]);
    assert_eq!(mail.from, "anfang@office.example.cn");
    assert_eq!(mail.subject(), notice().subject(), "raw subject: {:?}", mail.header("Subject"));
    assert_eq!(mail.subject(), "【整改通知】市城市管理行政执法局：1件");
    let text = mail.text();
    assert!(text.contains("通川中路") && text.contains("12月1日 上午") && text.contains("红牌"), "{text}");
    assert_eq!(mail.header("X-Anfang-Event").as_deref(), Some(key.as_str()));
    assert!(mail.header("Content-Type").unwrap_or_default().to_ascii_lowercase().contains("utf-8"));

    // Sent once: a second round finds nothing due and sends nothing.
    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1);
    let entry = &log(&o.state).await[0];
    assert_eq!((entry.state, entry.attempts, entry.sent_at), (NoticeState::Sent, 1, Some(now)));
    assert_eq!(entry.target, "l***@u03.example.cn", "the log masks the address");
    assert_eq!(entry.kind, "digest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_webhook_gets_the_notice_signed_with_the_contacts_secret() {
    let o = office();
    let hooks = WebhookReceiver::start().await;
    let secret = "0123456789abcdef-office-secret";
    contact(
        &o.state,
        "U03",
        ContactInput {
            webhook_kind: Some("json".into()),
            webhook_url: Some(hooks.url("/hooks/anfang")),
            webhook_secret: Some(secret.into()),
            ..named("办公系统", "contact")
        },
    )
    .await;
    let key = "urge/17/1733328000000".to_owned();
    o.state.db.enqueue_notice_for_tests(key.clone(), "U03".into(), notice(), o.state.clock.now()).await.unwrap();
    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 1);

    let hits = hooks.wait_for("/hooks/anfang", 1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.headers.get("x-anfang-event"), Some(&key));
    let timestamp = hit.headers.get("x-anfang-timestamp").cloned().unwrap_or_default();
    assert_eq!(timestamp, o.state.clock.now().as_second().to_string(), "the timestamp is the server clock's");
    let signature = hit.headers.get("x-anfang-signature").cloned().unwrap_or_default();
    assert_eq!(signature, expected_signature(secret, &timestamp, &hit.body), "a receiver can check the body");
    assert_ne!(signature, expected_signature("another-secret-of-16", &timestamp, &hit.body));
    let body: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["event_id"], key);
    assert_eq!(body["kind"], "digest");
    assert_eq!(body["cases"][0]["point"], "通川中路");
    assert!(hit.headers.get("content-type").is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(log(&o.state).await[0].state, NoticeState::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_answers_is_retried_with_backoff_while_other_notices_go_out() {
    let o = office();
    let (sink, hooks) = (SmtpSink::start().await, WebhookReceiver::start().await);
    smtp_to(&o.state, &sink).await;
    hooks.answer("/stuck", Answer::Never);
    contact(
        &o.state,
        "U03",
        ContactInput {
            webhook_kind: Some("json".into()),
            webhook_url: Some(hooks.url("/stuck")),
            webhook_secret: Some("0123456789abcdef".into()),
            ..named("不回应的系统", "contact")
        },
    )
    .await;
    contact(
        &o.state,
        "U03",
        ContactInput { email: Some("chief@u03.example.cn".into()), ..named("李点长", "point_chief") },
    )
    .await;
    let t0 = o.state.clock.now();
    o.state.db.enqueue_notice_for_tests("digest/U03/2026-12-01".into(), "U03".into(), notice(), t0).await.unwrap();
    let config = quick();
    let running = tokio::spawn(worker::run(o.state.clone(), config.clone()));
    o.state.notice_wake.notify_one();

    hooks.wait_for("/stuck", 1, Duration::from_secs(5)).await;
    sink.wait_for(1, Duration::from_secs(5)).await;
    let entries = log(&o.state).await;
    let stuck = entries.iter().find(|n| n.channel.as_str() == "json").unwrap().id;
    let email = entries.iter().find(|n| n.channel.as_str() == "email").unwrap();
    let hanging = entries.iter().find(|n| n.id == stuck).unwrap();
    // The email went out while the webhook was still hanging in its slot.
    assert_eq!(hanging.attempts, 0, "the stuck webhook had not yet timed out: {hanging:?}");
    until(&o.state, email.id, "sent", |n| n.state == NoticeState::Sent).await;

    // The hard timeout ends the attempt; it is retried after the backoff.
    let failed = until(&o.state, stuck, "failed once", |n| n.attempts == 1).await;
    assert_eq!(failed.state, NoticeState::Pending);
    assert!(failed.last_error.as_deref().unwrap_or("").contains("no answer"), "{failed:?}");
    let wait = failed.next_attempt_at.unwrap().duration_since(t0);
    assert_eq!(wait, retry_delay(0, stuck as u64), "first retry one minute (plus spread) later");

    // Not before it is due.
    o.hand.advance(jiff::SignedDuration::from_secs(30));
    o.state.notice_wake.notify_one();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(hooks.hits("/stuck").len(), 1, "retried before its backoff ran out");

    // Once due, it is tried again; the receiver answers this time.
    hooks.answer("/stuck", Answer::Ok);
    o.hand.advance(wait);
    o.state.notice_wake.notify_one();
    hooks.wait_for("/stuck", 2, Duration::from_secs(5)).await;
    let sent = until(&o.state, stuck, "sent", |n| n.state == NoticeState::Sent).await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(sink.messages().len(), 1, "the email was not sent again");
    running.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robot_errcode_is_a_failure_and_after_max_attempts_the_notice_is_failed_in_the_log() {
    let o = office();
    let hooks = WebhookReceiver::start().await;
    hooks.answer("/cgi-bin/webhook/send", Answer::Errcode(93000));
    contact(
        &o.state,
        "U03",
        ContactInput {
            webhook_kind: Some("wecom".into()),
            webhook_url: Some(hooks.url("/cgi-bin/webhook/send?key=ROBOT-KEY")),
            ..named("整改群", "contact")
        },
    )
    .await;
    o.state
        .db
        .enqueue_notice_for_tests("digest/U03/2026-12-01".into(), "U03".into(), notice(), o.state.clock.now())
        .await
        .unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 1, "attempt {attempt} was due");
        let n = &log(&o.state).await[0];
        assert_eq!(n.attempts, attempt as i64);
        let expected = if attempt < MAX_ATTEMPTS { NoticeState::Pending } else { NoticeState::Failed };
        assert_eq!(n.state, expected, "after attempt {attempt}: {n:?}");
        assert!(n.last_error.as_deref().unwrap_or("").contains("93000"), "{n:?}");
        // Nothing is due until the backoff (at most six hours and a fifth) has passed.
        assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 0);
        o.hand.advance(jiff::SignedDuration::from_hours(8));
    }
    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 0, "a failed notice is not tried again");
    let hits = hooks.hits("/cgi-bin/webhook/send");
    assert_eq!(hits.len(), MAX_ATTEMPTS as usize);
    let posted: Value = serde_json::from_str(&hits[0].body).unwrap();
    assert_eq!(posted["msgtype"], "markdown", "the stored robot payload is posted as it is");

    let failed = app::notices::list(
        &o.state.db,
        NoticeFilter {
            state: Some(NoticeState::Failed),
            unit: Some("U03".into()),
            limit: 10,
            ..NoticeFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].target.contains("ROBOT-KEY"), "the robot's key stays out of the log: {}", failed[0].target);

    // An admin's retry: pending again with its attempts kept, one more try.
    hooks.answer("/cgi-bin/webhook/send", Answer::Ok);
    let retried = app::notices::retry(&o.state.db, failed[0].id, o.state.clock.now()).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (NoticeState::Pending, MAX_ATTEMPTS as i64));
    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 1);
    let n = &log(&o.state).await[0];
    assert_eq!((n.state, n.attempts), (NoticeState::Sent, MAX_ATTEMPTS as i64 + 1));
    let again = app::notices::retry(&o.state.db, n.id, o.state.clock.now()).await.unwrap_err();
    assert_eq!(again.code(), anfang_core::error_code::ErrorCode::NoticeNotFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_contact_is_not_told() {
    let o = office();
    let sink = SmtpSink::start().await;
    smtp_to(&o.state, &sink).await;
    let c = contact(
        &o.state,
        "U03",
        ContactInput { email: Some("left@u03.example.cn".into()), ..named("已调离", "leader") },
    )
    .await;
    o.state
        .db
        .enqueue_notice_for_tests("digest/U03/2026-12-01".into(), "U03".into(), notice(), o.state.clock.now())
        .await
        .unwrap();
    let off = ContactInput { email: c.email.clone(), active: false, ..named("已调离", "leader") };
    app::contacts::update(&o.state.db, c.id, off).await.unwrap();
    assert_eq!(worker::run_once(&o.state, &quick()).await.unwrap(), 1);
    let n = &log(&o.state).await[0];
    assert_eq!(n.state, NoticeState::Failed, "{n:?}");
    assert!(sink.messages().is_empty());
}

// ---------------------------------------------------------------- the real binary

async fn call(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.url());
    let req = match method {
        "get" => client.get(url),
        "post" => client.post(url),
        "put" => client.put(url),
        other => panic!("{other}"),
    };
    let req = req.bearer_auth(token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn outbox_row(data_dir: &std::path::Path) -> (String, i64, Option<i64>) {
    let conn = rusqlite::Connection::open(data_dir.join("anfang.sqlite3")).unwrap();
    conn.query_row("SELECT state, attempts, claimed_until_ms FROM notice_outbox", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_delivery_leaves_a_claim_that_lapses_and_the_notice_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = WebhookReceiver::start().await;
    hooks.answer("/slow", Answer::Never);
    let mut server = Server::start_demo(dir.path());
    let admin = server.admin_token().await;
    let (status, c) = call(
        &server,
        &admin,
        "post",
        "/api/v1/units/U03/contacts",
        Some(json!({"name": "办公系统", "role": "contact", "webhook_kind": "json",
                    "webhook_url": hooks.url("/slow"), "webhook_secret": "0123456789abcdef"})),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let (status, test) = call(&server, &admin, "post", &format!("/api/v1/contacts/{}/test", c["id"]), None).await;
    assert_eq!((status, test["enqueued"].as_i64()), (200, Some(1)), "{test}");
    // The nudge sends it at once; the receiver holds the request open.
    let first = hooks.wait_for("/slow", 1, Duration::from_secs(10)).await;

    server.kill();
    let (state, attempts, claimed) = outbox_row(dir.path());
    assert_eq!((state.as_str(), attempts), ("pending", 0), "killed before the outcome was recorded");
    let claimed = claimed.expect("the row is still claimed");
    assert!(claimed > jiff::Timestamp::now().as_millisecond(), "the claim outlives the crash");

    // Back up at once: the claim still holds, nothing is sent twice yet.
    let addr = server.addr.to_string();
    let back = Server::start(dir.path(), &addr, false);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hooks.hits("/slow").len(), 1, "a live claim keeps other workers off the row");
    drop(back);

    // Three minutes later the claim has lapsed: the notice goes out again.
    hooks.answer("/slow", Answer::Ok);
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(3)).to_string();
    let server = Server::start_with_env(dir.path(), &addr, false, &[("ANFANG_TEST_NOW", &later)]);
    let hits = hooks.wait_for("/slow", 2, Duration::from_secs(15)).await;
    assert_eq!(hits[1].headers.get("x-anfang-event"), first[0].headers.get("x-anfang-event"));
    assert!(
        hits[1].headers.get("x-anfang-event").is_some_and(|k| k.starts_with(&format!("test/{}/", c["id"]))),
        "the event key lets the receiver drop the copy: {:?}",
        hits[1].headers
    );
    let admin = sign_in(&server, "admin", &server_password(dir.path())).await;
    let mut sent = Value::Null;
    for _ in 0..100 {
        let (_, page) = call(&server, &admin, "get", "/api/v1/notices", None).await;
        if page["items"][0]["state"] == "sent" {
            sent = page["items"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent["state"], "sent", "{sent}");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(sent["kind"], "test");
    assert_eq!(hooks.hits("/slow").len(), 2, "no loss, and no third copy");
}

/// The demo admin's password, as `serve --demo` kept it beside the data.
fn server_password(data_dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("demo-credentials.txt")).unwrap();
    text.lines().find_map(|l| l.strip_prefix("password ")).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_contact_and_smtp_input_is_refused_with_its_code_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let admin = server.admin_token().await;
    let post = |body: Value| {
        let (server, admin) = (&server, admin.clone());
        async move { call(server, &admin, "post", "/api/v1/units/U03/contacts", Some(body)).await }
    };
    let refused = |(status, body): (u16, Value)| (status, body["code"].clone(), body["field"].clone());

    let bad_email = post(json!({"name": "王联络", "role": "contact", "email": "not-an-email"})).await;
    assert_eq!(refused(bad_email), (422, json!("contact_email_invalid"), json!("email")));
    let ftp = post(json!({"name": "系统", "role": "contact", "webhook_kind": "json",
                          "webhook_url": "ftp://example.com/hook", "webhook_secret": "0123456789abcdef"}))
    .await;
    assert_eq!(refused(ftp), (422, json!("contact_webhook_url_invalid"), json!("webhook_url")));
    let (_, points) = call(&server, &admin, "get", "/api/v1/points", None).await;
    let points = points["items"].as_array().unwrap();
    let other = points.iter().find(|p| p["unit_id"] != "U03").unwrap()["id"].clone();
    let own = points.iter().find(|p| p["unit_id"] == "U03").unwrap()["id"].clone();
    let elsewhere = post(json!({"name": "李点长", "role": "point_chief", "point_id": other})).await;
    assert_eq!(refused(elsewhere), (422, json!("point_unit_mismatch"), json!("point_id")));
    let unsigned = post(json!({"name": "系统", "role": "contact", "webhook_kind": "json",
                               "webhook_url": "https://hooks.example.cn/anfang"}))
    .await;
    assert_eq!(refused(unsigned), (422, json!("contact_secret_required"), json!("webhook_secret")));
    let unknown =
        call(&server, &admin, "post", "/api/v1/units/NO_SUCH/contacts", Some(json!({"name": "x", "role": "contact"})))
            .await;
    assert_eq!(refused(unknown).1, json!("unit_unknown"));

    let (status, chief) =
        post(json!({"name": "李点长", "role": "point_chief", "point_id": own, "phone": "0818-1234567"})).await;
    assert_eq!(status, 201, "{chief}");
    let secret = "a-secret-nobody-reads-back";
    let (status, hook) = post(json!({"name": "系统", "role": "leader", "webhook_kind": "json",
                                     "webhook_url": "https://hooks.example.cn/anfang?token=t", "webhook_secret": secret}))
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(hook["has_secret"], true);
    assert!(hook.get("webhook_secret").is_none() && !hook.to_string().contains(secret), "{hook}");
    // An update without a secret keeps it.
    let (status, kept) = call(
        &server,
        &admin,
        "put",
        &format!("/api/v1/contacts/{}", hook["id"]),
        Some(json!({"name": "办公系统", "role": "leader", "webhook_kind": "json",
                    "webhook_url": "https://hooks.example.cn/anfang?token=t"})),
    )
    .await;
    assert_eq!((status, kept["has_secret"].clone(), kept["name"].clone()), (200, json!(true), json!("办公系统")));

    // Leaders read the list, with the webhook masked, and cannot write.
    let password = add_user(&server, "lead", "leader");
    let leader = sign_in(&server, "lead", &password).await;
    let (status, list) = call(&server, &leader, "get", "/api/v1/units/U03/contacts", None).await;
    assert_eq!(status, 200);
    // The demo's two contacts of U03, and the two added here.
    assert_eq!(list["items"].as_array().unwrap().len(), 4, "{list}");
    assert!(!list.to_string().contains("token=t") && !list.to_string().contains(secret), "{list}");
    let (status, _) =
        call(&server, &leader, "post", "/api/v1/units/U03/contacts", Some(json!({"name": "x", "role": "contact"})))
            .await;
    assert_eq!(status, 403);

    // SMTP settings: validated, the password never answered.
    let smtp = |tls: &str| {
        json!({"host": "smtp.example.gov.cn", "port": 465, "tls": tls, "username": "anfang",
                                 "password": "smtp-password-123", "from": "四城同创办 <anfang@example.gov.cn>"})
    };
    let bad = call(&server, &admin, "put", "/api/v1/settings/smtp", Some(smtp("ssl"))).await;
    assert_eq!(refused(bad), (422, json!("smtp_tls_unknown"), json!("tls")));
    let (status, saved) = call(&server, &admin, "put", "/api/v1/settings/smtp", Some(smtp("tls"))).await;
    assert_eq!((status, saved["has_password"].clone(), saved["port"].clone()), (200, json!(true), json!(465)));
    let (_, read) = call(&server, &admin, "get", "/api/v1/settings/smtp", None).await;
    assert!(!read.to_string().contains("smtp-password-123") && read["has_password"] == true, "{read}");
    let (status, _) = call(&server, &leader, "get", "/api/v1/settings/smtp", None).await;
    assert_eq!(status, 403, "the email server is the admins'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_adds_a_contact_sends_it_a_test_notice_and_shows_it_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let server = Server::start_demo(dir.path());
    let b = Browser::login(&server, "admin", &server.demo.admin_password).await;

    let (status, page) = b.get("/console/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains("邮件服务器"), "{page}");
    let port = sink.port().to_string();
    let (status, saved) = b
        .submit(
            &page,
            "/console/settings/smtp",
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("tls", "none"),
                ("username", ""),
                ("password", "never-shown-again"),
                ("from", "四城同创办 <anfang@office.example.cn>"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert!(saved.contains("邮件服务器已保存") && !saved.contains("never-shown-again"), "{saved}");

    let (status, page) = b.get("/console/contacts?unit=U03").await;
    assert_eq!(status, 200);
    assert!(page.contains("新增联系人"), "{page}");
    let (status, refused) = b
        .submit(
            &page,
            "/console/contacts",
            &[("unit_id", "U03"), ("name", "王联络"), ("role", "contact"), ("email", "not-an-email")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(refused.contains("电子邮箱地址格式有误") && refused.contains("not-an-email"), "{refused}");
    let (status, added) = b
        .submit(
            &page,
            "/console/contacts",
            &[
                ("unit_id", "U03"),
                ("name", "王联络"),
                ("role", "contact"),
                ("email", "wang@u03.example.cn"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert!(added.contains("已保存联系人 王联络") && added.contains("wang@u03.example.cn"), "{added}");

    let admin = server.admin_token().await;
    let (_, list) = call(&server, &admin, "get", "/api/v1/units/U03/contacts", None).await;
    // The one added here, not the demo's contacts of U03.
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "wang@u03.example.cn")
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("the new contact: {list}"));
    let (status, tested) = b.submit(&added, &format!("/console/contacts/{id}/test"), &[]).await;
    assert_eq!(status, 200, "{tested}");
    assert!(tested.contains("测试通知"), "{tested}");

    let mail = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(mail[0].subject(), "【测试通知】市城市管理行政执法局");
    assert!(mail[0].text().contains("王联络"), "{}", mail[0].text());
    let mut log = String::new();
    for _ in 0..100 {
        log = b.get("/console/notices").await.1;
        if log.contains("已发送") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log.contains("通知记录") && log.contains("测试通知") && log.contains("已发送"), "{log}");
    assert!(log.contains("w***@u03.example.cn") && !log.contains("wang@u03.example.cn"), "{log}");
}
