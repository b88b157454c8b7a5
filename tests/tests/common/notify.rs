//! Receivers for the notice tests, on 127.0.0.1:0: a tiny SMTP server that
//! speaks just enough of the protocol (EHLO/HELO, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT) and keeps every message, and a webhook receiver (axum) that
//! keeps every request's headers and body and answers as told per path,
//! including never.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Notify;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl SmtpMessage {
    fn split(&self) -> (&str, &str) {
        self.data.split_once("\r\n\r\n").unwrap_or((&self.data, ""))
    }

    /// A header's value, unfolded, as sent (still encoded).
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The Subject, RFC 2047 encoded words decoded.
    pub fn subject(&self) -> String {
        decode_words(&self.header("Subject").unwrap_or_default())
    }

    /// The body, its transfer encoding undone.
    pub fn text(&self) -> String {
        let (_, body) = self.split();
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                use base64::Engine;
                let joined: String = body.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD.decode(joined).expect("a base64 body")
            }
            "quoted-printable" => quoted_printable(body, false),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).expect("a UTF-8 body")
    }
}

/// Decodes `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words; whitespace between
/// two encoded words is dropped, as RFC 2047 says.
pub fn decode_words(value: &str) -> String {
    let mut out = Vec::new();
    let mut last_encoded = false;
    for (i, token) in value.split_whitespace().enumerate() {
        let word = token
            .strip_prefix("=?")
            .and_then(|t| t.strip_suffix("?="))
            .and_then(|t| {
                let mut parts = t.splitn(3, '?');
                Some((parts.next()?, parts.next()?, parts.next()?))
            })
            .filter(|(charset, _, _)| charset.eq_ignore_ascii_case("utf-8"));
        match word {
            Some((_, enc, text)) => {
                if i > 0 && !last_encoded {
                    out.push(b' ');
                }
                let bytes = if enc.eq_ignore_ascii_case("b") {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(text).expect("a base64 encoded word")
                } else {
                    quoted_printable(text, true)
                };
                out.extend(bytes);
                last_encoded = true;
            }
            None => {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend(token.as_bytes());
                last_encoded = false;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 encoded words")
}

fn quoted_printable(text: &str, underscore_is_space: bool) -> Vec<u8> {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("a QP escape"));
                i += 3;
            }
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The SMTP sink.
pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<SmtpMessage>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (m, a) = (messages.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (m, a) = (m.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = session(stream, m, a).await;
                });
            }
        });
        SmtpSink { addr, messages, arrived }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages have arrived, or panics after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<SmtpMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} messages within {within:?}, got {}", self.messages().len());
            }
        }
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<SmtpMessage>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
            "HELO" => b"250 sink.test\r\n",
            "MAIL" => {
                from = address(&command);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&command));
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let l = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(l);
                }
                messages.lock().unwrap().push(SmtpMessage { from: from.clone(), to: to.clone(), data });
                arrived.notify_waiters();
                b"250 OK queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(answer).await?;
    }
}

fn address(command: &str) -> String {
    command.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}

/// How the webhook receiver answers on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200 `{"errcode":0,"errmsg":"ok"}`, as a robot does.
    Ok,
    /// 200 with this robot errcode.
    Errcode(i64),
    /// Keeps the request open and never answers.
    Never,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Hooks {
    answers: Mutex<HashMap<String, Answer>>,
    hits: Mutex<Vec<Hit>>,
    arrived: Notify,
}

/// The webhook receiver.
pub struct WebhookReceiver {
    pub addr: SocketAddr,
    hooks: Arc<Hooks>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let hooks = Arc::new(Hooks::default());
        let shared = hooks.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let hooks = shared.clone();
            async move {
                let path = req.uri().path().to_owned();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                let body = String::from_utf8_lossy(&body).into_owned();
                let answer = hooks.answers.lock().unwrap().get(&path).copied().unwrap_or(Answer::Ok);
                hooks.hits.lock().unwrap().push(Hit { path, headers, body });
                hooks.arrived.notify_waiters();
                match answer {
                    Answer::Ok => r#"{"errcode":0,"errmsg":"ok"}"#.to_owned(),
                    Answer::Errcode(code) => format!(r#"{{"errcode":{code},"errmsg":"test refusal"}}"#),
                    Answer::Never => std::future::pending().await,
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { addr, hooks }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        self.hooks.answers.lock().unwrap().insert(path.to_owned(), answer);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.hooks.hits.lock().unwrap().iter().filter(|h| h.path == path).cloned().collect()
    }

    /// Waits until `path` has had at least `n` requests, or panics after `within`.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.hooks.arrived.notified();
            let got = self.hits(path);
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} requests on {path} within {within:?}, got {}", self.hits(path).len());
            }
        }
    }
}

/// What a receiver computes to check a json webhook: `sha256=<hex>` of
/// HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
