//! The office's day in the console, end to end over the real server:
//! findings synced from a device are accepted through the review forms, a
//! bulletin is compiled, edited and issued as 第 1 期 through the bulletin
//! forms, its three formats download with the session cookie and carry no
//! inspector trace, and the next issue of the year is 第 2 期.

mod common;

use anfang_core::Card;
use common::office::*;
use common::*;

/// The id in a `/console/bulletins/{id}` page link.
fn bulletin_link(page: &str) -> String {
    let at = page.find("/console/bulletins/").expect("a link to a bulletin") + "/console/bulletins/".len();
    page[at..].chars().take_while(char::is_ascii_digit).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_accepts_findings_and_issues_numbered_bulletins_from_the_console() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let red = device.record("P001", Card::Red, vec![processed(11, 800, 600)]);
    let green = device.record("P002", Card::Green, vec![processed(12, 800, 600)]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 2);

    let password = add_user(&server, "wang", "reviewer");
    let b = Browser::login(&server, "wang", &password).await;
    for f in [&red, &green] {
        let path = format!("/console/findings/{}", f.id);
        let (_, page) = b.get(&path).await;
        let (status, page) = b.submit(&page, &format!("{path}/review"), &[("decision", "accept")]).await;
        assert_eq!(status, 200, "{page}");
    }

    // Compile today's bulletin from the form; the browser lands on the draft.
    let (_, list) = b.get("/console/bulletins").await;
    assert!(list.contains("编制草稿"), "reviewers get the compile form: {list}");
    let (status, _) = b.submit(&list, "/console/bulletins", &[("kind", "day"), ("from", &office_today())]).await;
    assert_eq!(status, 303);
    let (_, list) = b.get("/console/bulletins").await;
    let id = bulletin_link(&list);
    let draft_path = format!("/console/bulletins/{id}");
    let (_, draft) = b.get(&draft_path).await;
    assert!(draft.contains("通报草稿") && draft.contains("印发"), "{draft}");

    // The draft's text is edited, then it is issued as the year's first.
    let (status, page) = b
        .submit(
            &draft,
            &draft_path,
            &[
                ("title", "关于城市管理暗访情况的通报"),
                ("lead", "现将暗访情况通报如下。"),
                ("closing", "请各单位立即整改。"),
                ("distribution", "各责任单位"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("已保存") && page.contains("关于城市管理暗访情况的通报"), "{page}");
    let (status, page) = b.submit(&page, &format!("{draft_path}/issue"), &[]).await;
    assert_eq!(status, 200);
    let first = format!("[{}] 第 1 期", office_now().year());
    assert!(page.contains(&format!("已印发：{first}")), "{page}");

    // An issued bulletin refuses further edits, with a reason on the page.
    let (status, refused) = b.submit(&page, &draft_path, &[("title", "改标题")]).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("已印发，不能再修改"), "{refused}");

    // All three formats download with the console's cookie, and none of them
    // names the inspector, the device or an enrollment code.
    let enrollment = device.store.enrollment().unwrap().unwrap();
    let mut traces = vec![enrollment.alias, enrollment.device_id, enrollment.token];
    traces.extend(server.demo.codes.iter().map(|(_, code)| code.clone()));
    // Bulletins go to units: they name a finding by its public reference,
    // never by its id (a UUIDv7 holds its creation millisecond).
    let public_ref: String = rusqlite::Connection::open(server.data_dir.join("anfang.sqlite3"))
        .unwrap()
        .query_row("SELECT public_ref FROM finding_public_refs WHERE finding_id = ?1", [red.id.to_string()], |r| {
            r.get(0)
        })
        .unwrap();
    for format in ["html", "docx", "json"] {
        let (status, bytes) = b.get_bytes(&format!("/api/v1/bulletins/{id}/bulletin.{format}")).await;
        assert_eq!(status, 200, "{format}");
        let text = if format == "docx" { docx_text(&bytes) } else { String::from_utf8(bytes).unwrap() };
        assert!(text.contains(&first), "{format} carries the number");
        assert!(text.contains(&public_ref), "{format} lists the finding's evidence reference");
        assert!(!text.contains(&red.id.to_string()), "{format} must not carry the finding id");
        for t in &traces {
            assert!(!text.contains(t.as_str()), "{format} must not contain {t:?}");
        }
    }

    // A second bulletin the same year takes the next number.
    let (_, list) = b.get("/console/bulletins").await;
    assert_eq!(b.submit(&list, "/console/bulletins", &[("kind", "day"), ("from", &office_today())]).await.0, 303);
    let (_, list) = b.get("/console/bulletins").await;
    let second = bulletin_link(&list);
    assert_ne!(second, id, "newest first");
    let (_, draft) = b.get(&format!("/console/bulletins/{second}")).await;
    let (_, page) = b.submit(&draft, &format!("/console/bulletins/{second}/issue"), &[]).await;
    assert!(page.contains(&format!("已印发：[{}] 第 2 期", office_now().year())), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_reads_bulletins_but_cannot_compile_or_issue_them() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let reviewer = Browser::login(&server, "wang", &add_user(&server, "wang", "reviewer")).await;
    let (_, list) = reviewer.get("/console/bulletins").await;
    assert_eq!(
        reviewer.submit(&list, "/console/bulletins", &[("kind", "day"), ("from", &office_today())]).await.0,
        303
    );
    let (_, list) = reviewer.get("/console/bulletins").await;
    let id = bulletin_link(&list);

    let leader = Browser::login(&server, "li", &add_user(&server, "li", "leader")).await;
    let (status, list) = leader.get("/console/bulletins").await;
    assert_eq!(status, 200);
    assert!(!list.contains("编制草稿"), "no compile form for leaders: {list}");
    let (status, page) = leader.get(&format!("/console/bulletins/{id}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("action=\"/console/bulletins/"), "no forms for leaders: {page}");
    let (status, _) = leader.submit(&page, &format!("/console/bulletins/{id}/issue"), &[]).await;
    assert_eq!(status, 403, "a leader's issue is refused");
    let (status, _) = leader.submit(&page, "/console/bulletins", &[("kind", "day"), ("from", &office_today())]).await;
    assert_eq!(status, 403, "a leader's compile is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_period_is_explained_on_the_page_and_nothing_is_compiled() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let b = Browser::login(&server, "wang", &add_user(&server, "wang", "reviewer")).await;
    let (_, list) = b.get("/console/bulletins").await;
    let (status, page) = b.submit(&list, "/console/bulletins", &[("kind", "custom"), ("from", "2026-11-01")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("输入有误") && page.contains("needs both from and to"), "{page}");
    let (status, page) = b.submit(&list, "/console/bulletins", &[("kind", "day"), ("from", "2026-13-01")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("YYYY-MM-DD"), "{page}");
    assert!(page.contains("还没有通报"), "nothing was compiled: {page}");
}

/// The text of a DOCX's main document part.
fn docx_text(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let is_xml = f.name().is_ok_and(|n| n.ends_with(".xml"));
        if is_xml {
            std::io::Read::read_to_string(&mut f, &mut out).unwrap();
        }
    }
    out
}
