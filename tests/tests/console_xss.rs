//! Stored XSS, end to end: markup typed into every free-text field the
//! office and an inspector can fill — a unit, point and category name
//! (through the forms and a CSV import), a finding's note, a review reason,
//! an inspector's alias, a real name, the office settings and a bulletin's
//! text, an exposure entry's public title and description — is fetched back
//! on every console page of the route table, in the bulletin's HTML and on
//! the public exposure pages and feeds, and must arrive as text: escaped,
//! never as markup.

mod common;

use anfang_core::Card;
use common::office::*;
use common::*;

/// The payload, tagged by where it was typed, so each field's escaped copy
/// can be found again. Short enough for every field's length limit.
fn evil(tag: &str) -> String {
    format!("{tag}<script>alert(1)</script>\"><img src=x onerror=alert(2)>")
}

/// What `evil(tag)` looks like once escaped for text and attributes.
fn escaped(tag: &str) -> String {
    format!("{tag}&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
}

/// Fails if the page carries any of the payload's markup unescaped.
fn assert_inert(what: &str, page: &str) {
    for raw in ["<script>alert(1)", "<img src=x", "onerror=alert(2)>"] {
        assert!(!page.contains(raw), "{what} carries {raw:?} unescaped:\n{page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_typed_anywhere_comes_back_escaped_on_every_console_page_and_in_the_bulletin() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let admin = Browser::login(&server, "admin", &server.demo.admin_password.clone()).await;
    let ok = |what: &str, (status, page): (u16, String)| {
        assert!(status == 200 || status == 303, "{what}: {status}\n{page}");
        page
    };

    // Reference data through the admin's forms and a CSV import.
    let (_, units) = admin.get("/console/units").await;
    let unit_name = evil("U");
    ok("unit", admin.submit(&units, "/console/units", &[("id", "U03"), ("name", &unit_name), ("active", "1")]).await);
    let (_, points) = admin.get("/console/points").await;
    let point_name = evil("P");
    let point = [
        ("id", "P001"),
        ("name", point_name.as_str()),
        ("kind", "main_road"),
        ("unit_id", "U03"),
        ("lat", "31.209"),
        ("lon", "107.468"),
        ("leader", "点长<b>1</b>"),
        ("active", "1"),
    ];
    ok("point", admin.submit(&points, "/console/points", &point).await);
    let csv_name = evil("C").replace('"', "\"\"");
    let csv = format!("id,name,kind,unit_id,lat,lon\nP002,\"{csv_name}\",main_road,U03,31.21,107.47\n");
    let page = ok("csv import", admin.submit(&points, "/console/points/import", &[("csv", &csv)]).await);
    assert!(page.contains("已导入 1 条"), "{page}");
    let (_, cats) = admin.get("/console/categories").await;
    let category_name = evil("K");
    let category = [("code", "parking"), ("name", category_name.as_str()), ("sort", "1"), ("active", "1")];
    ok("category", admin.submit(&cats, "/console/categories", &category).await);
    let (_, settings) = admin.get("/console/settings").await;
    let body_name = evil("S");
    let fields = [("issuing_body", body_name.as_str()), ("distribution", "各单位"), ("compiler", "督查办")];
    ok("settings", admin.submit(&settings, "/console/settings", &fields).await);
    let (_, inspectors) = admin.get("/console/inspectors").await;
    ok("inspector", admin.submit(&inspectors, "/console/inspectors", &[("alias", "督查<i>9</i>")]).await);

    // An inspector's note, synced from a device that pulled the names above.
    let mut device = Device::enroll(&server, 0).await;
    let note = evil("N");
    let f = device.record_with_note("P001", Card::Yellow, vec![processed(5, 640, 480)], &note);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    let finding = format!("/console/findings/{}", f.id);

    // A correction with a reason, so the finding reaches the bulletin.
    let (_, detail) = admin.get(&finding).await;
    let reason = evil("R");
    let correct =
        [("decision", "correct"), ("category", "parking"), ("unit_id", "U03"), ("card", "red"), ("reason", &reason)];
    ok("review", admin.submit(&detail, &format!("{finding}/review"), &correct).await);

    // Who the inspector is, read once (the page shows it).
    let (_, ids) = admin.get("/console/identities").await;
    let real_name = evil("I");
    ok("identity", admin.submit(&ids, "/console/identities/1", &[("real_name", &real_name), ("contact", "x")]).await);

    // A draw, and a bulletin whose text is edited.
    let (_, draws) = admin.get("/console/draws").await;
    let tomorrow = office_now().date().tomorrow().unwrap().to_string();
    let draw = [("from", tomorrow.as_str()), ("to", tomorrow.as_str()), ("visits", "1")];
    ok("draw", admin.submit(&draws, "/console/draws", &draw).await);
    let (_, draws) = admin.get("/console/draws").await;
    let draw_id: String = {
        let at = draws.find("/console/draws/").expect("a draw link") + "/console/draws/".len();
        draws[at..].chars().take_while(|c| c.is_ascii_hexdigit() || *c == '-').collect()
    };
    let (_, bulletins) = admin.get("/console/bulletins").await;
    let (status, _) =
        admin.submit(&bulletins, "/console/bulletins", &[("kind", "day"), ("from", &office_today())]).await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/console/bulletins/1").await;
    let title = evil("T");
    let text = [("title", title.as_str()), ("lead", &evil("L")), ("closing", &evil("E")), ("distribution", &evil("D"))];
    ok("bulletin text", admin.submit(&page, "/console/bulletins/1", &text).await);

    // Every page of the console's route table, as admin and as a leader.
    let leader_password = add_user(&server, "lead", "leader");
    let leader = Browser::login(&server, "lead", &leader_password).await;
    // The red card opened a rectification case; its page shows the names above.
    let (_, cases) = admin.get("/console/cases").await;
    let case_ref: String = {
        let at = cases.find("/console/cases/").expect("a case link") + "/console/cases/".len();
        cases[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect()
    };
    // The case on the exposure page: the admin proposes it, a reviewer
    // publishes it with a public title and description of markup.
    let (_, case_page) = admin.get(&format!("/console/cases/{case_ref}")).await;
    ok("propose", admin.submit(&case_page, &format!("/console/cases/{case_ref}/exposure"), &[]).await);
    let (_, entries) = admin.get("/console/exposure").await;
    let entry: String = {
        let at = entries.find("href=\"/console/exposure/").expect("an entry link") + "href=\"/console/exposure/".len();
        entries[at..].chars().take_while(|c| c.is_ascii_hexdigit()).collect()
    };
    let reviewer_password = add_user(&server, "rev", "reviewer");
    let reviewer = Browser::login(&server, "rev", &reviewer_password).await;
    let (_, form) = reviewer.get(&format!("/console/exposure/{entry}")).await;
    let photo = format!("photo_{}", f.photos[0]);
    let (title, description) = (evil("X"), evil("Y"));
    let publish = [("title", title.as_str()), ("description", &description), (&photo, "1"), ("faces_checked", "1")];
    ok("publish", reviewer.submit(&form, &format!("/console/exposure/{entry}/publish"), &publish).await);

    let mut seen = String::new();
    for r in anfang_server::routes::console_routes() {
        if r.method != "get" || r.min.is_none() {
            continue;
        }
        let path = r
            .path
            .replace("/findings/{id}", &format!("/findings/{}", f.id))
            .replace("/draws/{id}", &format!("/draws/{draw_id}"))
            .replace("/bulletins/{id}", "/bulletins/1")
            .replace("/cases/{ref}", &format!("/cases/{case_ref}"))
            .replace("/exposure/{ref}", &format!("/exposure/{entry}"));
        assert!(!path.contains('{'), "the walk has no value for {path}: teach it one");
        let mut paths = vec![path.clone()];
        if path == "/console/points" {
            paths.push("/console/points?edit=P001".into());
        }
        for path in paths {
            for (who, b) in [("admin", &admin), ("leader", &leader)] {
                let (status, page) = b.get(&path).await;
                assert!([200, 303, 403].contains(&status), "{path} as {who}: {status}");
                assert_inert(&format!("{path} as {who}"), &page);
                seen.push_str(&page);
            }
        }
    }
    // The pages that show a finding's note and the identity after a post.
    for page in [
        admin.get(&finding).await.1,
        admin.submit(&ids, "/console/identities/1/read", &[]).await.1,
        admin.get("/console/units").await.1,
    ] {
        assert_inert("a page after a post", &page);
        seen.push_str(&page);
    }
    // The exposure page and its feeds, as the public gets them; last month
    // issued and the league made public, so its pages (every active point
    // and its unit, by name) are walked too.
    let last_month = {
        let first: jiff::civil::Date = format!("{}-01", &office_today()[..7]).parse().unwrap();
        let prev = first.checked_sub(jiff::Span::new().months(1)).unwrap();
        format!("{:04}-{:02}", prev.year(), prev.month())
    };
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let issued = http
        .post(format!("{}/api/v1/league/{last_month}/issue", server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 200, "{}", issued.text().await.unwrap());
    let public_on = http
        .put(format!("{}/api/v1/settings/league", server.url()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"public": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(public_on.status(), 200);
    let mut public = String::new();
    for r in anfang_server::routes::public_routes() {
        let path = r
            .path
            .replace("/league/{month}", &format!("/league/{last_month}"))
            .replace("{ref}", &entry)
            .replace("/units/{id}", "/units/U03")
            .replace("/points/{id}", "/points/P001")
            .replace("{sha256}", &f.photos[0]);
        let (status, page) = Browser::new(&server).get(&path).await;
        assert!([200, 308].contains(&status), "{path}: {status}");
        if path.ends_with("/feed.json") {
            // JSON Feed's `content_text` and titles are text by definition,
            // JSON-escaped; there is no HTML field a reader would render.
            let feed: serde_json::Value = serde_json::from_str(&page).unwrap();
            assert!(feed["items"].as_array().unwrap().iter().all(|i| i.get("content_html").is_none()), "{page}");
        } else if !path.contains("/photos/") {
            assert_inert(&path, &page);
            public.push_str(&page);
        }
    }
    for tag in ["X", "Y", "U", "P"] {
        assert!(public.contains(&escaped(tag)), "the {tag} payload is on the public pages, escaped");
    }

    let (status, bulletin) = admin.get("/api/v1/bulletins/1/bulletin.html").await;
    assert_eq!(status, 200);
    assert_inert("bulletin.html", &bulletin);

    // Not vacuous: each payload did reach a page, escaped.
    for tag in ["U", "P", "C", "K", "S", "N", "R", "I", "T", "L", "E", "D"] {
        assert!(seen.contains(&escaped(tag)), "the {tag} payload is on no console page, escaped");
    }
    assert!(seen.contains("督查&lt;i&gt;9&lt;/i&gt;") && seen.contains("点长&lt;b&gt;1&lt;/b&gt;"));
    for tag in ["U", "P", "K", "S", "N", "T", "L", "E", "D"] {
        assert!(bulletin.contains(&escaped(tag)), "the bulletin shows the {tag} payload escaped");
    }
}
