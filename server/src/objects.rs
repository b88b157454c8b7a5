//! Where the bytes of photos, thumbnails and PDF scans live: the data dir's
//! folder (the embedded default) or a bucket of an S3-compatible object
//! store (`serve --photos s3://BUCKET?endpoint=…&region=…`).
//!
//! Both are addressed by the same keys, the folder's relative paths
//! (`photos/ab/<sha256>.jpg`, `files/ab/<sha256>.pdf`, `uploads/…part`), so
//! `migrate` and `verify` see one layout. What decides (hashes, checks,
//! locks, which rows) stays in `photos.rs`; this module only moves bytes.
//!
//! The S3 side is `rusty-s3`: it signs requests and builds their URLs and
//! nothing else (sans-IO), and the server's own `reqwest` client sends them,
//! so no second HTTP stack, TLS provider or async runtime comes with it. Only
//! single-object actions are used (HEAD, GET, PUT, DELETE): every key is
//! known from the database, so nothing ever lists a bucket.
//!
//! Credentials come from the environment only (`ANFANG_S3_ACCESS_KEY_ID` and
//! `ANFANG_S3_SECRET_ACCESS_KEY`, or the usual `AWS_…` names): a URL with
//! a user or password in it is refused, so a secret never sits in a shell's
//! history, a process list or a log line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anfang_core::error_code::ErrorCode;
use axum::http::StatusCode;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::error::AppError;

/// How long a signed request stays valid: it is sent at once, so only clock
/// skew between the server and the store needs room.
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// One request to the store: a photo is at most a few MB on a local network.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where photos are kept, as `--photos` names it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum PhotosAt {
    /// `photos/`, `files/`, `public/` and `uploads/` in the data dir.
    #[default]
    DataDir,
    S3(S3Location),
}

/// An S3-compatible bucket, without credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub endpoint: url::Url,
    pub region: String,
    /// Keys start with this (`prefix=` in the URL), so one bucket can hold
    /// several installations; empty by default.
    pub prefix: String,
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{} at {} ({})", self.bucket, self.endpoint, self.region)?;
        if !self.prefix.is_empty() {
            write!(f, " under {}", self.prefix)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for PhotosAt {
    type Err = String;

    /// `data-dir` (or empty) for the folder, or
    /// `s3://BUCKET?endpoint=URL&region=REGION[&prefix=P]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s == "data-dir" {
            return Ok(Self::DataDir);
        }
        let usage =
            "write it as s3://BUCKET?endpoint=http://HOST:PORT&region=REGION (or data-dir for the data dir's folder)";
        let url = url::Url::parse(s).map_err(|e| format!("--photos {s:?} is not a URL ({e}); {usage}"))?;
        if url.scheme() != "s3" {
            return Err(format!("--photos {s:?}: only s3:// object stores are supported; {usage}"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("--photos must not carry credentials; set ANFANG_S3_ACCESS_KEY_ID and \
                        ANFANG_S3_SECRET_ACCESS_KEY in the environment instead"
                .into());
        }
        let bucket = url.host_str().unwrap_or_default().to_owned();
        if bucket.is_empty() || !url.path().trim_matches('/').is_empty() {
            return Err(format!("--photos {s:?}: name the bucket and nothing after it; {usage}"));
        }
        let (mut endpoint, mut region, mut prefix) = (None, None, String::new());
        for (k, v) in url.query_pairs() {
            match &*k {
                "endpoint" => endpoint = Some(v.into_owned()),
                "region" => region = Some(v.into_owned()),
                "prefix" => prefix = v.trim_matches('/').to_owned(),
                other => return Err(format!("--photos: unknown setting {other:?}; {usage}")),
            }
        }
        let endpoint = endpoint.ok_or_else(|| format!("--photos {s:?} has no endpoint; {usage}"))?;
        let endpoint = url::Url::parse(&endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| format!("--photos: endpoint {endpoint:?} is not an http(s) URL; {usage}"))?;
        let region = region.unwrap_or_else(|| "us-east-1".to_owned());
        Ok(Self::S3(S3Location { bucket, endpoint, region, prefix }))
    }
}

/// A store's bytes, by key.
#[derive(Clone)]
pub enum Objects {
    Folder(PathBuf),
    S3(Arc<S3Store>),
}

pub struct S3Store {
    at: S3Location,
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    /// For reads outside any async runtime (`verify`'s audit runs on a
    /// plain thread): a runtime of its own and a client used only in it,
    /// since a client's connections belong to the runtime that opened them.
    blocking: OnceLock<(tokio::runtime::Runtime, reqwest::Client)>,
}

fn unavailable(what: String) -> AppError {
    tracing::warn!(%what, "object store request failed");
    AppError::coded(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::StorageUnavailable,
        "the photo store cannot be reached just now; nothing was lost, try again shortly",
    )
}

fn http_client() -> Result<reqwest::Client, AppError> {
    // For an https:// endpoint; the process shares one provider and
    // installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        // A store answers; it does not send the server elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(AppError::internal)
}

impl S3Store {
    fn key(&self, key: &str) -> String {
        if self.at.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.at.prefix) }
    }

    fn signed(&self, method: &str, key: &str) -> url::Url {
        let key = self.key(key);
        let c = Some(&self.credentials);
        match method {
            "HEAD" => self.bucket.head_object(c, &key).sign(SIGNED_FOR),
            "GET" => self.bucket.get_object(c, &key).sign(SIGNED_FOR),
            "PUT" => self.bucket.put_object(c, &key).sign(SIGNED_FOR),
            "DELETE" => self.bucket.delete_object(c, &key).sign(SIGNED_FOR),
            _ => unreachable!("only single-object actions are used"),
        }
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        key: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, AppError> {
        let url = self.signed(method.as_str(), key);
        let mut req = http.request(method.clone(), url);
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await.map_err(|e| unavailable(format!("{method} {key} on {}: {e}", self.at)))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        Err(if status.is_server_error() {
            unavailable(format!("{method} {key} on {}: {status} {body}", self.at))
        } else {
            // 403 (wrong key, clock skew), 400 …: the operator must act.
            AppError::internal(format!("{method} {key} on {} answered {status}: {body}", self.at))
        })
    }

    async fn get_with(&self, http: &reqwest::Client, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        let resp = self.send(http, reqwest::Method::GET, key, None).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = resp.bytes().await.map_err(|e| unavailable(format!("GET {key} on {}: {e}", self.at)))?;
        Ok(Some(bytes.to_vec()))
    }
}

impl Objects {
    /// Opens the store `at` names; for S3, reads the credentials from the
    /// environment. Nothing is sent yet: [`Objects::check`] asks the store.
    pub fn open(data_dir: &Path, at: &PhotosAt) -> Result<Self, AppError> {
        let PhotosAt::S3(loc) = at else { return Ok(Self::Folder(data_dir.to_owned())) };
        let var = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok().filter(|v| !v.is_empty());
        let (Some(key), Some(secret)) = (
            var("ANFANG_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            var("ANFANG_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ) else {
            return Err(AppError::BadRequest(format!(
                "photos in {loc} need credentials: set ANFANG_S3_ACCESS_KEY_ID and ANFANG_S3_SECRET_ACCESS_KEY"
            )));
        };
        let bucket = Bucket::new(loc.endpoint.clone(), UrlStyle::Path, loc.bucket.clone(), loc.region.clone())
            .map_err(|e| AppError::BadRequest(format!("{loc}: {e}")))?;
        Ok(Self::S3(Arc::new(S3Store {
            at: loc.clone(),
            bucket,
            credentials: Credentials::new(key, secret),
            http: http_client()?,
            blocking: OnceLock::new(),
        })))
    }

    /// Asks the store once whether it answers these credentials: `serve`
    /// refuses to start on one that does not, rather than accept photos
    /// and fail on each.
    pub async fn check(&self) -> Result<(), String> {
        let Self::S3(s) = self else { return Ok(()) };
        match s.send(&s.http, reqwest::Method::HEAD, "anfang-probe", None).await {
            Ok(_) => Ok(()),
            Err(AppError::Coded { .. }) => Err(format!("the photo store {} does not answer", s.at)),
            Err(e) => Err(format!("the photo store refuses this server: {e}")),
        }
    }

    /// Where these objects are, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Folder(root) => root.display().to_string(),
            Self::S3(s) => s.at.to_string(),
        }
    }

    pub fn is_folder(&self) -> bool {
        matches!(self, Self::Folder(_))
    }

    /// The file a key names, for the folder only (a rename, an append).
    pub fn folder_path(&self, key: &str) -> Option<PathBuf> {
        match self {
            Self::Folder(root) => Some(root.join(key)),
            Self::S3(_) => None,
        }
    }

    /// The object's bytes, or `None` if there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self {
            Self::Folder(root) => absent_is_none(tokio::fs::read(root.join(key)).await),
            Self::S3(s) => s.get_with(&s.http, key).await,
        }
    }

    /// [`Objects::get`] for code that runs outside the async runtime.
    pub fn get_blocking(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self {
            Self::Folder(root) => absent_is_none(std::fs::read(root.join(key))),
            Self::S3(s) => {
                if s.blocking.get().is_none() {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(AppError::internal)?;
                    let _ = s.blocking.set((rt, http_client()?));
                }
                let (rt, http) = s.blocking.get().expect("set above");
                rt.block_on(s.get_with(http, key))
            }
        }
    }

    /// The object's size, or `None` if there is none.
    pub async fn len(&self, key: &str) -> Result<Option<u64>, AppError> {
        match self {
            Self::Folder(root) => absent_is_none(tokio::fs::metadata(root.join(key)).await.map(|m| m.len())),
            Self::S3(s) => {
                let resp = s.send(&s.http, reqwest::Method::HEAD, key, None).await?;
                if resp.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                Ok(resp.headers().get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()))
            }
        }
    }

    /// Writes the whole object: readers see the old bytes or the new, never
    /// a part (a file is written beside and renamed; an S3 PUT is atomic).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        match self {
            Self::Folder(root) => {
                let path = root.join(key);
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .map_err(AppError::internal)?
            }
            Self::S3(s) => s.send(&s.http, reqwest::Method::PUT, key, Some(bytes)).await.map(drop),
        }
    }

    /// Removes the object; one that is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        match self {
            Self::Folder(root) => absent_is_none(tokio::fs::remove_file(root.join(key)).await).map(drop),
            Self::S3(s) => s.send(&s.http, reqwest::Method::DELETE, key, None).await.map(drop),
        }
    }

    /// Appends `chunk` to the object at `key` (a partial upload), which the
    /// caller found to hold exactly `held` bytes, and returns its new size.
    ///
    /// A file is appended to and synced. S3 has no append, and a multipart
    /// upload's parts must be at least 5 MiB, more than a whole photo; so the
    /// partial is read, extended and put back as one object. A photo is at
    /// most a few chunks, and the partial lives in the store, not in this
    /// process: the next chunk may come through another instance.
    pub async fn append(&self, key: &str, held: u64, chunk: &[u8]) -> Result<u64, AppError> {
        match self {
            Self::Folder(root) => {
                let path = root.join(key);
                let chunk = chunk.to_vec();
                tokio::task::spawn_blocking(move || -> Result<u64, AppError> {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                    f.write_all(&chunk)?;
                    f.sync_data()?;
                    Ok(f.metadata()?.len())
                })
                .await
                .map_err(AppError::internal)?
            }
            Self::S3(_) => {
                let bytes = self.assemble(key, held, chunk).await?;
                let len = bytes.len() as u64;
                self.put(key, bytes).await?;
                Ok(len)
            }
        }
    }

    /// The partial at `key` (which holds `held` bytes) with `chunk` after
    /// it, in memory: for a bucket, the last chunk's photo is assembled here
    /// and put once as the photo, never as a partial first.
    pub async fn assemble(&self, key: &str, held: u64, chunk: &[u8]) -> Result<Vec<u8>, AppError> {
        let mut bytes = if held == 0 { Vec::new() } else { self.get(key).await?.unwrap_or_default() };
        if bytes.len() as u64 != held {
            return Err(AppError::internal(format!(
                "partial upload {key} holds {} bytes, not the {held} just read",
                bytes.len()
            )));
        }
        bytes.extend_from_slice(chunk);
        Ok(bytes)
    }

    /// Moves a complete upload (`from`, whose bytes the caller holds) to
    /// its place `to`: a rename in the folder; in S3 a PUT of the bytes,
    /// then the DELETE of the partial, if one was put (a crash between
    /// leaves a stray partial, which the sweep removes, never a listed
    /// photo without bytes).
    pub async fn promote(&self, from: &str, to: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        match self {
            Self::Folder(root) => {
                let (from, to) = (root.join(from), root.join(to));
                tokio::task::spawn_blocking(move || -> Result<(), AppError> {
                    if let Some(dir) = to.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::rename(&from, &to)?;
                    Ok(())
                })
                .await
                .map_err(AppError::internal)?
            }
            Self::S3(_) => {
                self.put(to, bytes).await?;
                self.delete(from).await
            }
        }
    }
}

/// A file that is not there as `None`, any other error as itself.
fn absent_is_none<T>(r: std::io::Result<T>) -> Result<Option<T>, AppError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes `bytes` beside `path` and renames it there, creating the folder.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_location_is_read_from_its_url() {
        let at: PhotosAt =
            "s3://anfang-photos?endpoint=http://127.0.0.1:3900&region=garage&prefix=city/".parse().unwrap();
        let PhotosAt::S3(loc) = at else { panic!("not S3") };
        assert_eq!(loc.bucket, "anfang-photos");
        assert_eq!(loc.endpoint.as_str(), "http://127.0.0.1:3900/");
        assert_eq!(loc.region, "garage");
        assert_eq!(loc.prefix, "city");
        assert_eq!("data-dir".parse::<PhotosAt>().unwrap(), PhotosAt::DataDir);
    }

    #[test]
    fn a_photos_url_with_credentials_or_without_an_endpoint_is_refused_with_what_to_do() {
        let with_secret = "s3://key:secret@bucket?endpoint=http://127.0.0.1:3900".parse::<PhotosAt>().unwrap_err();
        assert!(with_secret.contains("ANFANG_S3_ACCESS_KEY_ID"), "{with_secret}");
        assert!(!with_secret.contains("secret@"), "the secret is not repeated: {with_secret}");
        let no_endpoint = "s3://bucket".parse::<PhotosAt>().unwrap_err();
        assert!(no_endpoint.contains("no endpoint"), "{no_endpoint}");
        let other = "ftp://bucket?endpoint=http://x".parse::<PhotosAt>().unwrap_err();
        assert!(other.contains("only s3://"), "{other}");
        let path = "s3://bucket/photos?endpoint=http://127.0.0.1:1".parse::<PhotosAt>().unwrap_err();
        assert!(path.contains("nothing after it"), "{path}");
        let endpoint = "s3://bucket?endpoint=127.0.0.1:3900".parse::<PhotosAt>().unwrap_err();
        assert!(endpoint.contains("not an http(s) URL"), "{endpoint}");
    }
}
