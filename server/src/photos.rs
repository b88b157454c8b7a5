//! The photo folder: content-addressed storage and resumable uploads.
//!
//! Layout under the data dir: `photos/ab/<sha256>.jpg` with its thumbnail
//! `photos/ab/<sha256>.thumb.jpg`, and partial uploads in
//! `uploads/<sha256>.part`. The partial file's length is the upload offset,
//! so a server killed mid-chunk resumes from whatever reached the disk; the
//! final SHA-256 check catches anything torn or wrong.
//!
//! **Invariant:** a photo is listed in the `photos` table only after its
//! bytes are on disk under their hash, verified, with a thumbnail. A finding
//! can reference only listed photos.

use crate::db::{Db, uploads};
use crate::error::AppError;
use anfang_core::domain::is_sha256_hex;
use anfang_core::photo::{self, PhotoOptions};
use anfang_core::protocol::{MAX_PHOTO_BYTES, UploadStatus};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone)]
pub struct PhotoStore {
    root: PathBuf,
    /// Appends are serialized: two devices uploading the same photo at once
    /// must not interleave bytes in one partial file. Chunks take
    /// milliseconds, so one lock is plenty at city scale.
    append_lock: Arc<tokio::sync::Mutex<()>>,
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

fn check_sha(sha256: &str) -> Result<(), AppError> {
    if is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!("{sha256:?} is not a lowercase hex SHA-256")))
    }
}

impl PhotoStore {
    pub fn open(data_dir: &Path) -> Result<Self, AppError> {
        let root = data_dir.to_owned();
        std::fs::create_dir_all(root.join("photos"))?;
        std::fs::create_dir_all(root.join("uploads"))?;
        Ok(Self { root, append_lock: Arc::new(tokio::sync::Mutex::new(())) })
    }

    pub fn photo_path(&self, sha256: &str) -> PathBuf {
        self.root.join("photos").join(&sha256[..2]).join(format!("{sha256}.jpg"))
    }

    pub fn thumbnail_path(&self, sha256: &str) -> PathBuf {
        self.root.join("photos").join(&sha256[..2]).join(format!("{sha256}.thumb.jpg"))
    }

    fn part_path(&self, sha256: &str) -> PathBuf {
        self.root.join("uploads").join(format!("{sha256}.part"))
    }

    fn part_len(&self, sha256: &str) -> u64 {
        std::fs::metadata(self.part_path(sha256)).map(|m| m.len()).unwrap_or(0)
    }

    /// `POST /uploads`: announces a photo, or reports where its upload stands.
    pub async fn announce(&self, db: &Db, device_id: &str, sha256: &str, size: u64) -> Result<UploadStatus, AppError> {
        check_sha(sha256)?;
        if size == 0 {
            return Err(AppError::BadRequest("a photo of 0 bytes cannot be uploaded".into()));
        }
        if size > MAX_PHOTO_BYTES {
            return Err(AppError::TooLarge(format!(
                "this photo is {}; the server accepts at most {} per photo. The app reduces photos to 2048 px \
                 before sending; if you see this, update the app or lower its photo size setting",
                mb(size),
                mb(MAX_PHOTO_BYTES)
            )));
        }
        let _guard = self.append_lock.lock().await;
        let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
        let existing = db
            .write(move |c| {
                if uploads::photo_exists(c, &sha)? {
                    return Ok(None);
                }
                let upload = uploads::upload(c, &sha)?;
                if upload.as_ref().map(|u| u.size) != Some(size) {
                    uploads::announce(c, &sha, size, &dev)?;
                }
                Ok(Some(upload.map(|u| u.size)))
            })
            .await?;
        match existing {
            None => Ok(UploadStatus { offset: size, size, complete: true }),
            Some(previous) => {
                if previous != Some(size) {
                    // A new upload, or one announced with another size: the
                    // hash names the content, so the old partial is useless.
                    let _ = std::fs::remove_file(self.part_path(sha256));
                }
                Ok(UploadStatus { offset: self.part_len(sha256), size, complete: false })
            }
        }
    }

    /// `PATCH /uploads/{sha}`: appends a chunk at `offset`; on the last
    /// chunk verifies the hash and the image, then files the photo.
    pub async fn append(
        &self,
        db: &Db,
        sha256: &str,
        offset: u64,
        chunk: axum::body::Bytes,
    ) -> Result<UploadStatus, AppError> {
        check_sha(sha256)?;
        let _guard = self.append_lock.lock().await;
        let sha = sha256.to_owned();
        let state = db.read(move |c| Ok((uploads::photo_exists(c, &sha)?, uploads::upload(c, &sha)?))).await?;
        let size = match state {
            (true, _) => {
                let size = std::fs::metadata(self.photo_path(sha256)).map(|m| m.len()).unwrap_or(0);
                return Ok(UploadStatus { offset: size, size, complete: true });
            }
            (false, None) => {
                return Err(AppError::NotFound(format!(
                    "no upload of photo {sha256} is in progress; announce it first with POST /api/v1/uploads"
                )));
            }
            (false, Some(u)) => u.size,
        };
        let held = self.part_len(sha256);
        if offset != held {
            return Err(AppError::Conflict {
                message: format!(
                    "this chunk starts at byte {offset}, but the server holds {held} bytes; continue from {held}"
                ),
                offset: Some(held),
            });
        }
        if offset + chunk.len() as u64 > size {
            return Err(AppError::Unprocessable(format!(
                "this chunk would end at byte {}, past the announced size of {size} bytes",
                offset + chunk.len() as u64
            )));
        }
        let part = self.part_path(sha256);
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&part)?;
            f.write_all(&chunk)?;
            f.sync_data()?;
            Ok(f.metadata()?.len())
        })
        .await
        .map_err(AppError::internal)??;
        if written < size {
            return Ok(UploadStatus { offset: written, size, complete: false });
        }
        self.finish(db, sha256, size).await?;
        Ok(UploadStatus { offset: size, size, complete: true })
    }

    /// Verifies a fully received upload and files it under its hash.
    async fn finish(&self, db: &Db, sha256: &str, size: u64) -> Result<(), AppError> {
        let part = self.part_path(sha256);
        let (photo_path, thumb_path) = (self.photo_path(sha256), self.thumbnail_path(sha256));
        let expected = sha256.to_owned();
        let verified = tokio::task::spawn_blocking(move || -> Result<(u32, u32), AppError> {
            let bytes = std::fs::read(&part)?;
            let actual = hex::encode(Sha256::digest(&bytes));
            let discard = |msg: String| {
                let _ = std::fs::remove_file(&part);
                AppError::Unprocessable(msg)
            };
            if actual != expected {
                return Err(discard(format!(
                    "the received bytes hash to {actual}, not {expected}; the upload was discarded, send the photo again"
                )));
            }
            let (width, height, thumb) = photo::thumbnail_of_stored(&bytes, &PhotoOptions::default())
                .map_err(|e| discard(format!("not an acceptable photo: {e}; the upload was discarded")))?;
            std::fs::create_dir_all(photo_path.parent().expect("photo paths have a parent"))?;
            std::fs::write(&thumb_path, thumb)?;
            std::fs::rename(&part, &photo_path)?;
            Ok((width, height))
        })
        .await
        .map_err(AppError::internal)?;
        let (width, height) = match verified {
            Ok(wh) => wh,
            Err(e) => {
                let sha = sha256.to_owned();
                db.write(move |c| uploads::forget_upload(c, &sha)).await?;
                return Err(e);
            }
        };
        let sha = sha256.to_owned();
        db.write(move |c| uploads::complete(c, &sha, size, width, height)).await
    }

    pub async fn read(&self, sha256: &str, thumbnail: bool) -> Result<Vec<u8>, AppError> {
        check_sha(sha256)?;
        let path = if thumbnail { self.thumbnail_path(sha256) } else { self.photo_path(sha256) };
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(AppError::NotFound(format!("no photo {sha256} on this server")))
            }
            Err(e) => Err(e.into()),
        }
    }
}
