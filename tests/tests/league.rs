//! The monthly league over HTTP, end to end: a real server and SQLite file.
//! Rule sets refused with their codes and one stored; last month computed
//! live, issued once (a second issue and the current month refused), its
//! JSON the bytes of the issued hash, reproduced; then `anfang-server
//! verify` passes, and names the issued month once its stored result is
//! altered. The scores of a hand-computed month are `app::league`'s
//! in-process test, which makes its findings through the same services.

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;

fn months() -> (String, String, String) {
    let first = office_now().date().first_of_month();
    let name = |d: jiff::civil::Date| format!("{:04}-{:02}", d.year(), d.month());
    let prev = first.checked_sub(jiff::Span::new().months(1)).unwrap();
    let next = first.checked_add(jiff::Span::new().months(1)).unwrap();
    (name(prev), name(first), name(next))
}

async fn call(server: &Server, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", server.url())).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post_rules(server: &Server, token: &str, effective_from: &str, rules: Value) -> (u16, String) {
    let body = json!({"effective_from": effective_from, "rules": rules});
    call(server, token, reqwest::Method::POST, "/api/v1/league-rules", Some(body)).await
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"].as_str().unwrap_or("").to_owned()
}

fn default_rules() -> Value {
    json!({
        "version": 0,
        "start": 1000,
        "deduction": [
            {"source": "city", "card": "red", "tenths": 20}, {"source": "city", "card": "yellow", "tenths": 20},
            {"source": "district", "card": "red", "tenths": 10}, {"source": "district", "card": "yellow", "tenths": 10},
            {"source": "third_party", "card": "red", "tenths": 10}, {"source": "third_party", "card": "yellow", "tenths": 10}
        ],
        "on_time_percent": 50,
        "per_overdue_case": 20,
        "per_clean_inspection": 20,
        "bands": [{"applies": {"kind": "bottom", "n": 1}, "consequence": "黄牌警告"}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_is_issued_once_its_hash_verified_and_bad_rules_refused() {
    use reqwest::Method;
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let admin = server.admin_token().await;
    let (prev, current, next) = months();

    // Bad rule sets: refused with the reason, nothing stored.
    let mut negative = default_rules();
    negative["per_overdue_case"] = json!(-20);
    let mut missing = default_rules();
    missing["deduction"].as_array_mut().unwrap().remove(2);
    let mut empty_band = default_rules();
    empty_band["bands"] = json!([{"applies": {"kind": "top", "n": 0}, "consequence": "表扬"}]);
    let mut twice = default_rules();
    twice["deduction"].as_array_mut().unwrap().push(json!({"source": "city", "card": "red", "tenths": 30}));
    for (rules, why) in [
        (negative, "negative"),
        (missing, "no deduction is set for District Red"),
        (empty_band, "applies to no unit"),
        (twice, "the deduction for city red is listed twice"),
    ] {
        let (status, body) = post_rules(&server, &admin, &next, rules).await;
        assert_eq!((status, code(&body).as_str()), (422, "league_rules_invalid"), "{body}");
        assert!(body.contains(why), "{body}");
    }
    let (status, body) = call(&server, &admin, Method::GET, "/api/v1/league-rules", None).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["items"], json!([]), "{body}");

    // Last month, live, then issued.
    let (status, body) = call(&server, &admin, Method::GET, &format!("/api/v1/league/{prev}"), None).await;
    assert_eq!(status, 200, "{body}");
    let live: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(live["status"], "live");
    assert!(live["result"]["rule_text"].as_str().unwrap().contains("第 1 版"), "{body}");
    assert!(!live["result"]["points"].as_array().unwrap().is_empty(), "every active point is scored");

    let (status, body) = call(&server, &admin, Method::POST, &format!("/api/v1/league/{current}/issue"), None).await;
    assert_eq!((status, code(&body).as_str()), (422, "league_month_not_over"), "{body}");
    // Nothing of the league is public before the office turns it on.
    let public = |path: String| {
        let url = format!("{}{path}", server.url());
        async move {
            let res = reqwest::get(url).await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    assert_eq!(public("/public/league/".into()).await.0, 404);
    let (status, body) = call(&server, &admin, Method::POST, &format!("/api/v1/league/{prev}/issue"), None).await;
    assert_eq!(status, 200, "{body}");
    let issued: Value = serde_json::from_str(&body).unwrap();
    let year = office_now().year();
    assert_eq!(issued["number"], format!("[{year}] 月评第 1 期"), "numbered like a bulletin: {body}");
    assert_eq!(public(format!("/public/league/{prev}")).await.0, 404, "issued, but the office has not made it public");
    let hash = issued["result_hash"].as_str().unwrap().to_owned();
    let (status, body) = call(&server, &admin, Method::POST, &format!("/api/v1/league/{prev}/issue"), None).await;
    assert_eq!((status, code(&body).as_str()), (409, "league_month_issued"), "{body}");

    let (status, body) = call(&server, &admin, Method::GET, &format!("/api/v1/league/{prev}/league.json"), None).await;
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(body.as_bytes()), hash, "the JSON is the issued bytes");
    let (status, body) = call(&server, &admin, Method::GET, &format!("/api/v1/league/{prev}/league.html"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("点位达标月评排名") && body.contains(&hash), "the report names its hash");
    // The Word report: the official layout's parts, well-formed, with the rules and the hash.
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/league/{prev}/league.docx", server.url()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut document = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut document).unwrap();
    roxmltree::Document::parse(&document).expect("document.xml is well-formed");
    for part in ["word/styles.xml", "word/footer1.xml", "word/_rels/document.xml.rels", "[Content_Types].xml"] {
        assert!(zip.by_name(part).is_ok(), "{part}");
    }
    assert!(document.contains("月评排名通报") && document.contains("十差单位"), "the masthead and sections");
    assert!(document.contains("按期整改的问题按 50% 扣分") && document.contains(&hash), "rules and hash printed");
    assert!(document.contains(&format!("[{year}] 月评第 1 期")), "the number under the masthead");
    // The score distribution is a native Word chart with its data.
    let mut chart = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/charts/chart1.xml").unwrap(), &mut chart).unwrap();
    roxmltree::Document::parse(&chart).expect("the chart part is well-formed");
    assert!(chart.contains("点位数") && chart.contains("100 分及以上"), "{chart}");
    assert!(zip.by_name("word/embeddings/Microsoft_Excel_Worksheet1.xlsx").is_ok(), "the chart's workbook");

    // The public league: a leader may not turn it on, a bad body is refused,
    // an admin turns it on; then only issued months are shown.
    let password = common::office::add_user(&server, "lingdao", "leader");
    let leader = common::office::sign_in(&server, "lingdao", &password).await;
    let (status, _) =
        call(&server, &leader, Method::PUT, "/api/v1/settings/league", Some(json!({"public": true}))).await;
    assert_eq!(status, 403);
    let (status, body) =
        call(&server, &admin, Method::PUT, "/api/v1/settings/league", Some(json!({"public": "yes"}))).await;
    assert!(status == 400 || status == 422, "{status} {body}");
    assert_eq!(public("/public/league/".into()).await.0, 404, "a refused setting changes nothing");
    let (status, body) =
        call(&server, &admin, Method::PUT, "/api/v1/settings/league", Some(json!({"public": true}))).await;
    assert_eq!((status, body.as_str()), (200, r#"{"public":true}"#));
    let (status, index) = public("/public/league/".into()).await;
    assert_eq!(status, 200, "{index}");
    assert!(
        index.contains(&format!("/public/league/{prev}")) && index.contains(&format!("[{year}] 月评第 1 期")),
        "{index}"
    );
    let (status, page) = public(format!("/public/league/{prev}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("十差单位") && page.contains(&hash) && page.contains("<svg"), "{page}");
    for (path, why) in [
        (format!("/public/league/{current}"), "not issued"),
        ("/public/league/2026-13".to_owned(), "not a month"),
        ("/public/league/abc".to_owned(), "not a month"),
    ] {
        assert_eq!(public(path.clone()).await.0, 404, "{path}: {why}");
    }
    let (status, body) = call(&server, &admin, Method::GET, &format!("/api/v1/league/{prev}/reproduce"), None).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["reproducible"], json!(true), "{body}");

    // Rules may not reach back into an issued month; the next month is fine.
    let (status, body) = post_rules(&server, &admin, &prev, default_rules()).await;
    assert_eq!((status, code(&body).as_str()), (409, "league_rules_for_issued_month"), "{body}");
    let (status, body) = post_rules(&server, &admin, &next, default_rules()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["version"], json!(2));
    server.kill();

    let verify = || {
        let out = Command::new(SERVER_BIN).args(["verify", "--data-dir"]).arg(data.path()).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (status, out) = verify();
    assert_eq!(status, 0, "{out}");

    let db = rusqlite::Connection::open(data.path().join("anfang.sqlite3")).unwrap();
    db.execute_batch("DROP TRIGGER league_months_no_update").unwrap();
    db.execute("UPDATE league_months SET result = replace(result, '第 1 版', '第 9 版') WHERE month = ?1", [&prev])
        .unwrap();
    drop(db);
    let (status, out) = verify();
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains(&format!("league month {prev}: its stored result does not match its hash (altered)")),
        "{out}"
    );
}
