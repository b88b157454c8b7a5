//! Office-side helpers: extra office accounts, API sign-in, and a minimal
//! "browser" for the console (session cookie, Origin header, form posts).

use super::{SERVER_BIN, Server};
use std::io::Write;
use std::process::{Command, Stdio};

/// Adds an office user with the server's own CLI (works while it runs);
/// returns the password.
pub fn add_user(server: &Server, username: &str, role: &str) -> String {
    let password = format!("{username}-password-123");
    let mut child = Command::new(SERVER_BIN)
        .args(["user", "add", "--data-dir"])
        .arg(&server.data_dir)
        .envs(super::postgres::database_for(&server.data_dir).map(|url| ("ANFANG_DATABASE", url)))
        .args(["--username", username, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run user add");
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "user add {username}");
    password
}

/// Adds a responsible unit's account for `unit` with the server's CLI;
/// returns the password.
pub fn add_unit_user(server: &Server, username: &str, unit: &str) -> String {
    let password = format!("{username}-password-123");
    let mut child = Command::new(SERVER_BIN)
        .args(["user", "add", "--data-dir"])
        .arg(&server.data_dir)
        .envs(super::postgres::database_for(&server.data_dir).map(|url| ("ANFANG_DATABASE", url)))
        .args(["--username", username, "--role", "unit", "--unit", unit])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run user add");
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "user add --role unit {username}");
    password
}

/// Signs in through the API; returns the bearer token.
pub async fn sign_in(server: &Server, username: &str, password: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/session", server.url()))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "sign-in {username}");
    res.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// A console session as a browser holds it.
pub struct Browser {
    client: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, base: server.url(), cookie: None }
    }

    /// Logs in through the console's form; panics unless it succeeds.
    pub async fn login(server: &Server, username: &str, password: &str) -> Browser {
        let mut b = Browser::new(server);
        let res = b
            .client
            .post(format!("{}/console/login", b.base))
            .header("origin", &b.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string([("username", username), ("password", password)]).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "console login {username}");
        let set = res.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
        b.cookie = Some(set.split(';').next().unwrap().to_owned());
        b
    }

    fn with_cookie(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => req.header("cookie", c),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self.with_cookie(self.client.get(format!("{}{path}", self.base))).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let res = self.with_cookie(self.client.get(format!("{}{path}", self.base))).send().await.unwrap();
        (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
    }

    /// Posts a form; `origin` None sends no Origin header at all.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> (u16, String) {
        let mut req = self
            .with_cookie(self.client.post(format!("{}{path}", self.base)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// Posts a form from this server's own page, with the page's CSRF token.
    pub async fn submit(&self, page: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let token = csrf_of(page);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all, Some(&self.base.clone())).await
    }
}

/// The CSRF token a console page's forms carry.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("the page has a form with a CSRF token") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}
