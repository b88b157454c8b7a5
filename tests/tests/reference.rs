//! Reference data managed by the office reaches devices: edits, and CSV
//! imports that write all rows or none.

mod common;

use common::*;
use serde_json::{Value, json};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_and_edited_reference_data_reaches_a_device_on_its_next_pull() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());

    // Excel's "CSV UTF-8": a BOM, CRLF, Chinese column names, a quoted comma.
    let units = "\u{feff}单位编号,单位名称,区县\r\nU50,\"市园林局, 绿化科\",通川区\r\nU51,市环卫处,达川区\r\n";
    let (status, body) =
        send(http.post(url("/api/v1/units/import")).bearer_auth(&token).header("content-type", "text/csv").body(units))
            .await;
    assert_eq!((status, body["imported"].as_i64()), (200, Some(2)), "{body}");
    let points = "id,name,kind,unit_id,lat,lon,leader,district\nP500,园林路,主次干道,U50,31.21,107.47,王点长,通川区\nP501,环卫站巷,back_street,U51,31.20,107.46,,达川区\n";
    let (status, body) = send(http.post(url("/api/v1/points/import")).bearer_auth(&token).body(points)).await;
    assert_eq!((status, body["imported"].as_i64()), (200, Some(2)), "{body}");

    // An edit: P001 is deactivated and gets a new leader.
    let (_, list) = send(http.get(url("/api/v1/points")).bearer_auth(&token)).await;
    let mut p001 = list["items"].as_array().unwrap().iter().find(|p| p["id"] == "P001").unwrap().clone();
    assert_eq!(p001["leader"], "点长01");
    p001["active"] = json!(false);
    p001["leader"] = json!("李点长");
    let (status, body) = send(http.put(url("/api/v1/points/P001")).bearer_auth(&token).json(&p001)).await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = send(http.get(url("/api/v1/points")).bearer_auth(&token)).await;
    let saved = list["items"].as_array().unwrap().iter().find(|p| p["id"] == "P001").unwrap().clone();
    assert_eq!((saved["leader"].as_str(), saved["active"].as_bool()), (Some("李点长"), Some(false)));

    let report = device.sync_via(&server.url(), fast()).await;
    assert!(report.interrupted.is_none(), "{report:?}");
    let p500 = device.store.point("P500").unwrap().expect("the imported point reached the device");
    assert_eq!((p500.unit_id.as_str(), p500.name.as_str()), ("U50", "园林路"));
    assert_eq!(device.store.unit("U50").unwrap().unwrap().name, "市园林局, 绿化科");
    assert!(!device.store.point("P001").unwrap().unwrap().active, "the deactivation reached the device");

    // Settings round-trip, and bad values are refused with the field named.
    let (_, mut settings) = send(http.get(url("/api/v1/settings")).bearer_auth(&token)).await;
    assert_eq!(settings["card_deadlines"]["yellow"], 7, "{settings}");
    settings["issuing_body"] = json!("达州市四城同创办");
    settings["card_deadlines"]["yellow"] = json!(5);
    assert_eq!(send(http.put(url("/api/v1/settings")).bearer_auth(&token).json(&settings)).await.0, 200);
    let (_, again) = send(http.get(url("/api/v1/settings")).bearer_auth(&token)).await;
    assert_eq!(
        (again["issuing_body"].as_str(), again["card_deadlines"]["yellow"].as_i64()),
        (Some("达州市四城同创办"), Some(5))
    );
    settings["card_deadlines"]["red"] = json!(-1);
    let (status, err) = send(http.put(url("/api/v1/settings")).bearer_auth(&token).json(&settings)).await;
    assert_eq!(status, 422);
    assert!(err["error"].as_str().unwrap().contains("card_deadlines.red"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_csv_file_names_each_line_and_field_and_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, before) = send(http.get(url("/api/v1/points")).bearer_auth(&token)).await;

    // Line 2 is good; 3 has a bad latitude, 4 an unknown unit (checked in the
    // database), 5 an unknown kind.
    let points = "编号,名称,类型,单位编号,纬度,经度\nP600,好点位,market,U01,31.2,107.4\nP601,坏纬度,market,U01,北纬31,107.4\nP602,无单位,market,U77,31.2,107.4\nP603,坏类型,airport,U01,31.2,107.4\n";
    let (status, err) = send(http.post(url("/api/v1/points/import")).bearer_auth(&token).body(points)).await;
    assert_eq!(status, 422, "{err}");
    let errors = err["errors"].as_array().unwrap();
    let named: Vec<(i64, &str)> =
        errors.iter().map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap())).collect();
    assert!(named.contains(&(3, "lat")) && named.contains(&(5, "kind")), "{err}");
    assert!(err["error"].as_str().unwrap().starts_with("nothing was imported"), "{err}");
    // With the file's own errors fixed, the unknown unit is named next.
    let fixed =
        "编号,名称,类型,单位编号,纬度,经度\nP600,好点位,market,U01,31.2,107.4\nP602,无单位,market,U77,31.2,107.4\n";
    let (status, err) = send(http.post(url("/api/v1/points/import")).bearer_auth(&token).body(fixed)).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(
        (err["errors"][0]["line"].as_i64(), err["errors"][0]["field"].as_str()),
        (Some(3), Some("unit_id")),
        "{err}"
    );

    let (_, after) = send(http.get(url("/api/v1/points")).bearer_auth(&token)).await;
    assert_eq!(count(&after), count(&before), "nothing was written");
    assert!(!after.to_string().contains("P600"));

    let (status, err) =
        send(http.post(url("/api/v1/units/import")).bearer_auth(&token).body(vec![0xff, 0xfe, b'i', b'd'])).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("UTF-8"), "{err}");
    let (status, err) = send(http.post(url("/api/v1/units/import")).bearer_auth(&token).body("id,名字\nU1,x\n")).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("line 1"), "{err}");
}
