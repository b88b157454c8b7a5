//! The office console over the real server: cookie sign-in, review through
//! forms, CSRF and role refusals, and no inspector alias on leader pages.

mod common;

use anfang_core::Card;
use common::office::*;
use common::*;

async fn one_finding(server: &Server) -> (String, String) {
    let mut device = Device::enroll(server, 0).await;
    let f = device.record("P001", Card::Yellow, vec![processed(3, 640, 480)]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    (f.id.to_string(), f.photos[0].clone())
}

async fn status_of(server: &Server, id: &str) -> serde_json::Value {
    server.admin_get(&format!("/api/v1/findings/{id}")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_signs_in_and_accepts_then_corrects_a_finding_through_the_forms() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (id, photo) = one_finding(&server).await;
    let password = add_user(&server, "shen", "reviewer");

    let anonymous = Browser::new(&server);
    let (status, _) = anonymous.get("/console/findings").await;
    assert_eq!(status, 303, "not signed in: sent to the login page");
    let (status, page) = anonymous.get("/console/login").await;
    assert_eq!(status, 200);
    assert!(page.contains("登录") && page.contains("lang=\"zh-CN\""), "{page}");

    let b = Browser::login(&server, "shen", &password).await;
    let (status, queue) = b.get("/console/findings?status=pending").await;
    assert_eq!(status, 200);
    assert!(queue.contains(&format!("/console/findings/{id}")) && queue.contains("通川中路"), "{queue}");
    assert!(queue.contains("待审核") && queue.contains("card-yellow"), "{queue}");
    // Photos and thumbnails load with the cookie alone.
    assert_eq!(b.get_bytes(&format!("/api/v1/photos/{photo}/thumbnail")).await.0, 200);
    assert_eq!(b.get_bytes(&format!("/api/v1/photos/{photo}")).await.0, 200);

    let detail_path = format!("/console/findings/{id}");
    let review_path = format!("{detail_path}/review");
    let (_, detail) = b.get(&detail_path).await;
    assert!(detail.contains("采集原始记录") && detail.contains("精度 ±8 米"), "{detail}");
    assert!(detail.contains("督查01"), "reviewers see the alias");

    let (status, page) = b.submit(&detail, &review_path, &[("decision", "accept")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已记录：已采纳（第 1 版）"), "{page}");
    assert_eq!(status_of(&server, &id).await["status"], "accept");

    // A correction without a reason is refused with a Chinese message.
    let (status, page) =
        b.submit(&detail, &review_path, &[("decision", "correct"), ("card", "red"), ("reason", "")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("更正必须填写理由"), "{page}");
    let (status, page) = b
        .submit(
            &detail,
            &review_path,
            &[
                ("decision", "correct"),
                ("category", "parking"),
                ("unit_id", "U03"),
                ("card", "yellow"),
                ("reason", "无变化"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("至少一项"), "{page}");
    let (status, page) = b
        .submit(
            &detail,
            &review_path,
            &[
                ("decision", "correct"),
                ("category", "parking"),
                ("unit_id", "U03"),
                ("card", "red"),
                ("reason", "多次发现，升为红牌"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let f = status_of(&server, &id).await;
    assert_eq!(
        (f["status"].as_str(), f["effective"]["card"].as_str(), f["card"].as_str()),
        (Some("correct"), Some("red"), Some("yellow")),
        "{f}"
    );
    // The page shows the history and, still, the original.
    assert!(
        page.contains("多次发现，升为红牌") && page.contains("采集原始记录") && page.contains("card-yellow"),
        "{page}"
    );

    // Signing out ends the session.
    let (status, _) = b.submit(&page, "/console/logout", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(b.get("/console/findings").await.0, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_or_from_another_origin_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (id, _) = one_finding(&server).await;
    let b = Browser::login(&server, "admin", &server.demo.admin_password).await;
    let (_, detail) = b.get(&format!("/console/findings/{id}")).await;
    let token = csrf_of(&detail);
    let path = format!("/console/findings/{id}/review");
    let own = b.base.clone();

    let (status, page) = b.post_form(&path, &[("decision", "accept")], Some(&own)).await;
    assert_eq!(status, 403, "no CSRF token: {page}");
    let (status, _) =
        b.post_form(&path, &[("csrf", "0".repeat(32).as_str()), ("decision", "accept")], Some(&own)).await;
    assert_eq!(status, 403, "a wrong CSRF token");
    let (status, _) =
        b.post_form(&path, &[("csrf", token.as_str()), ("decision", "accept")], Some("http://evil.example")).await;
    assert_eq!(status, 403, "another site's page");
    let (status, _) = b.post_form(&path, &[("csrf", token.as_str()), ("decision", "accept")], None).await;
    assert_eq!(status, 403, "no Origin or Referer");
    // The JSON API with the cookie alone is also refused from another origin.
    let res = reqwest::Client::new()
        .post(format!("{own}/api/v1/findings/{id}/review"))
        .header("cookie", b.cookie.clone().unwrap())
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"decision": "accept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(status_of(&server, &id).await["status"], "pending", "nothing was recorded");

    let (status, _) = b.post_form(&path, &[("csrf", token.as_str()), ("decision", "accept")], Some(&own)).await;
    assert_eq!(status, 200, "the genuine form still works");
    assert_eq!(status_of(&server, &id).await["status"], "accept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_sees_pages_without_forms_or_the_inspector_and_cannot_post() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (id, _) = one_finding(&server).await;
    let password = add_user(&server, "lingdao", "leader");
    let b = Browser::login(&server, "lingdao", &password).await;

    let mut pages = Vec::new();
    for path in [
        "/console/findings",
        &format!("/console/findings/{id}"),
        "/console/units",
        "/console/points",
        "/console/categories",
        "/console/settings",
    ] {
        let (status, page) = b.get(path).await;
        assert_eq!(status, 200, "{path}");
        // The only form is signing out.
        assert_eq!(page.matches("<form").count() - page.matches("<form class=\"filters").count(), 1, "{path}: {page}");
        assert!(!page.contains("督查01"), "{path} names no inspector: {page}");
        pages.push(page);
    }
    assert!(pages[1].contains("通川中路"), "the leader reads the finding");
    assert!(!pages[0].contains("督查员"), "no inspectors section in the leader's nav");
    assert_eq!(b.get("/console/inspectors").await.0, 403);

    let detail = &pages[1];
    let (status, _) = b.submit(detail, &format!("/console/findings/{id}/review"), &[("decision", "accept")]).await;
    assert_eq!(status, 403, "a leader's POST is refused");
    let (status, _) = b.submit(detail, "/console/units", &[("id", "U01"), ("name", "改名"), ("active", "1")]).await;
    assert_eq!(status, 403);
    assert_eq!(status_of(&server, &id).await["status"], "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_an_inspector_and_gets_an_enrollment_link_with_its_qr_code() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let b = Browser::login(&server, "admin", &server.demo.admin_password).await;
    let (_, page) = b.get("/console/inspectors").await;
    assert!(page.contains("督查01") && page.contains("督查03"), "{page}");
    let (status, page) = b.submit(&page, "/console/inspectors", &[("alias", "督查04")]).await;
    assert_eq!(status, 200, "{page}");
    let link_at = page.find("/app/#enroll=").expect("an enrollment link");
    let code: String = page[link_at + 13..].chars().take(14).collect();
    assert!(page.contains(&format!("{}/app/#enroll={code}", server.url())), "{page}");
    assert!(page.contains("<svg"), "the QR code is inline SVG");
    // The code works for enrollment.
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/enroll", server.url()))
        .json(&serde_json::json!({"code": code, "public_key": anfang_core::evidence::DeviceKey::generate().public_key_hex()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // A units CSV import through the console: a bad file writes nothing.
    let (_, units) = b.get("/console/units").await;
    let (status, page) =
        b.submit(&units, "/console/units/import", &[("csv", "编号,名称\nU70,新单位\nU70,重复\n")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("第 3 行") && page.contains("未写入任何数据"), "{page}");
    assert!(page.contains("责任单位（12）") && !page.contains("value=\"U70\""), "nothing was written: {page}");
    let (status, page) = b.submit(&units, "/console/units/import", &[("csv", "\u{feff}编号,名称\nU70,新单位\n")]).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("已导入 1 条") && page.contains("value=\"U70\"") && page.contains("责任单位（13）"),
        "{page}"
    );

    // A point edited in the console: one form for the chosen point.
    let (status, edit) = b.get("/console/points?edit=P001").await;
    assert_eq!(status, 200);
    assert!(edit.contains("编辑点位 P001") && edit.contains("value=\"点长01\""), "{edit}");
    let fields = [
        ("id", "P001"),
        ("name", "通川中路"),
        ("kind", "main_road"),
        ("unit_id", "U03"),
        ("leader", "赵点长"),
        ("district", "通川区"),
        ("lat", "31.209"),
        ("lon", "107.472"),
        ("address", ""),
        ("active", "1"),
    ];
    let (status, page) = b.submit(&edit, "/console/points", &fields).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已保存点位 P001") && page.contains("赵点长"), "{page}");
    let mut bad = fields;
    bad[6] = ("lat", "北纬");
    let (status, page) = b.submit(&edit, "/console/points", &bad).await;
    assert_eq!(status, 422);
    assert!(page.contains("纬度"), "{page}");
}

/// The id in the first `/console/identities/{id}/read` form after `alias`.
fn identity_form_of(page: &str, alias: &str) -> String {
    let row = &page[page.find(&format!("<td>{alias}</td>")).expect("the alias's row")..];
    let at = row.find("/console/identities/").unwrap() + "/console/identities/".len();
    row[at..].split('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_records_and_reads_who_is_behind_an_alias_and_every_look_is_in_the_audit_log() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let b = Browser::login(&server, "admin", &server.demo.admin_password).await;
    let (status, page) = b.get("/console/identities").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("尚无记录"), "an empty audit log to start: {page}");
    let id = identity_form_of(&page, "督查01");

    // Recording an identity is logged as a write.
    let (status, saved) = b
        .submit(&page, &format!("/console/identities/{id}"), &[("real_name", "张三"), ("contact", "139 0000 0000")])
        .await;
    assert_eq!(status, 200, "{saved}");
    assert!(saved.contains("已保存") && saved.contains("张三"), "{saved}");
    // A bad name is explained, the typed contact comes back, nothing is logged.
    let (status, bad) =
        b.submit(&saved, &format!("/console/identities/{id}"), &[("real_name", "  "), ("contact", "新号码 138")]).await;
    assert_eq!(status, 422, "{bad}");
    assert!(bad.contains("真实姓名须为 1 至 64 个字") && bad.contains("新号码 138"), "{bad}");

    // The list page shows no identity; reading one is a logged POST.
    let (_, list) = b.get("/console/identities").await;
    assert!(!list.contains("张三"), "the list itself names nobody: {list}");
    let (status, shown) = b.submit(&list, &format!("/console/identities/{id}/read"), &[]).await;
    assert_eq!(status, 200, "{shown}");
    assert!(shown.contains("张三") && shown.contains("139 0000 0000"), "{shown}");

    // The audit log, newest first, through the API: read, then write; the
    // refused save left no entry.
    let log = server.admin_get("/api/v1/audit/identity-reads").await;
    let entries: Vec<(String, String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
                e["route"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            ("read".into(), "admin".into(), "POST /console/identities/{id}/read".into()),
            ("write".into(), "admin".into(), "POST /console/identities/{id}".into()),
        ]
    );
    let audit_table = &shown[shown.find("审计日志").unwrap()..];
    let actions: Vec<&str> = audit_table
        .match_indices("<td>admin</td><td>")
        .map(|(i, m)| audit_table[i + m.len()..].split('<').next().unwrap())
        .collect();
    assert_eq!(actions, ["查看", "登记/修改"], "the console lists the log too: {audit_table}");
    // Nothing about an identity may stay in a browser or proxy cache.
    let res = reqwest::Client::new()
        .get(format!("{}/console/identities", b.base))
        .header("cookie", b.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");

    // Nobody else gets near it: a leader and a reviewer are refused both ways.
    for (name, role) in [("lingdao", "leader"), ("shen", "reviewer")] {
        let password = add_user(&server, name, role);
        let other = Browser::login(&server, name, &password).await;
        assert_eq!(other.get("/console/identities").await.0, 403, "{role}");
        let (_, own) = other.get("/console/findings").await;
        assert!(!own.contains("身份与审计"), "{role} has no link to it");
        let (status, page) = other.submit(&own, &format!("/console/identities/{id}/read"), &[]).await;
        assert_eq!(status, 403, "{role}: {page}");
        assert!(!page.contains("张三"));
    }
    let after = server.admin_get("/api/v1/audit/identity-reads").await;
    assert_eq!(after["items"].as_array().unwrap().len(), 2, "refused attempts read nothing and log nothing: {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_draws_in_the_console_an_impossible_draw_is_explained_and_only_reviewers_read_it() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let b = Browser::login(&server, "admin", &server.demo.admin_password).await;
    let (status, page) = b.get("/console/draws").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("尚无抽签") && page.contains("督查01"), "an empty list and the inspectors to pick: {page}");
    let tomorrow = jiff::civil::Date::strptime("%Y-%m-%d", office_today()).unwrap().tomorrow().unwrap().to_string();
    let day = [("from", tomorrow.as_str()), ("to", tomorrow.as_str())];

    // Three inspectors, one visit each a day, one day: 50 visits cannot be
    // drawn, and the page says so instead of relaxing anything.
    let (status, refused) =
        b.submit(&page, "/console/draws", &[&day[..], &[("visits", "50"), ("cap", "1")]].concat()).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("抽签无法满足约束：需要 50 次访问"), "{refused}");
    assert!(refused.contains("value=\"50\""), "the form keeps what was typed");
    let (status, bad) = b.submit(&page, "/console/draws", &[&day[..], &[("visits", "三")]].concat()).await;
    assert_eq!(status, 422, "{bad}");
    assert!(bad.contains("访问次数须为非负整数"), "{bad}");
    assert_eq!(server.admin_get("/api/v1/draws").await["items"].as_array().unwrap().len(), 0, "nothing was drawn");

    // A feasible draw goes to its page; the commitment is the API's.
    let (status, _) = b.submit(&page, "/console/draws", &[&day[..], &[("visits", "3"), ("cap", "1")]].concat()).await;
    assert_eq!(status, 303);
    let listed = server.admin_get("/api/v1/draws").await;
    let (id, commitment) = (
        listed["items"][0]["id"].as_str().unwrap().to_owned(),
        listed["items"][0]["commitment"].as_str().unwrap().to_owned(),
    );
    let (status, detail) = b.get(&format!("/console/draws/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert!(detail.contains(&commitment) && detail.contains("未到期 3 次"), "{detail}");
    // Before the period ends the seed stays sealed.
    let (status, early) = b.submit(&detail, &format!("/console/draws/{id}/reveal"), &[]).await;
    assert_eq!(status, 422, "{early}");
    assert!(early.contains("现在不能这样做") && early.contains("未揭晓"), "{early}");

    // A reviewer reads list and coverage but cannot draw; a leader sees nothing.
    let password = add_user(&server, "shen", "reviewer");
    let reviewer = Browser::login(&server, "shen", &password).await;
    let (status, list) = reviewer.get("/console/draws").await;
    assert_eq!(status, 200);
    assert!(list.contains(&commitment[..16]) && !list.contains("action=\"/console/draws\""), "{list}");
    assert_eq!(reviewer.get(&format!("/console/draws/{id}")).await.0, 200);
    let (status, _) = reviewer.submit(&list, "/console/draws", &[&day[..], &[("visits", "3")]].concat()).await;
    assert_eq!(status, 403);
    let password = add_user(&server, "lingdao", "leader");
    let leader = Browser::login(&server, "lingdao", &password).await;
    assert_eq!(leader.get("/console/draws").await.0, 403);
    assert_eq!(leader.get(&format!("/console/draws/{id}")).await.0, 403);
    assert!(!leader.get("/console/findings").await.1.contains("抽签"), "no draws link for leaders");
    assert_eq!(server.admin_get("/api/v1/draws").await["items"].as_array().unwrap().len(), 1);
}
