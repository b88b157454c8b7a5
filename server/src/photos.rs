//! The photo folder: content-addressed storage and resumable uploads.
//!
//! Layout under the data dir: `photos/ab/<sha256>.jpg` with its thumbnail
//! `photos/ab/<sha256>.thumb.jpg`, the exposure page's public copies in
//! `public/ab/<sha256>.jpg` (a cache: derived, never evidence, not backed
//! up, remade identically when missing), and partial uploads in
//! `uploads/<sha256>.<device>.part`, one per announcing device. The partial
//! file's length is the upload offset, so a server killed mid-chunk resumes
//! from whatever reached the disk; the final SHA-256 check catches anything
//! torn or wrong.
//!
//! **Invariants:**
//! - a photo is listed in the `photos` table only after its bytes are on
//!   disk under their hash, verified, with a thumbnail. A finding can
//!   reference only listed photos;
//! - a stored photo is exactly the structure the shared pipeline
//!   (`anfang_core::photo`) writes — a baseline JFIF JPEG of at most
//!   [`MAX_STORED_EDGE`] pixels a side — and nothing else: no Exif, XMP,
//!   ICC or comment segment, no byte after the end of the image
//!   ([`check_stored_jpeg`], run on the header before any decode);
//! - an upload belongs to the device that announced it: no other device can
//!   write to it, reset it or delete it;
//! - everything about one photo (announce, append, verify, sweep) happens
//!   under that photo's own lock ([`ShaLocks`]), so uploads of different
//!   photos never wait for each other.

use crate::db::{Db, uploads};
use crate::error::AppError;
use crate::objects::{Objects, PhotosAt};
use anfang_core::domain::is_sha256_hex;
use anfang_core::error_code::ErrorCode;
use anfang_core::photo::{self, PhotoOptions};
use anfang_core::protocol::{MAX_PHOTO_BYTES, UploadStatus};
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Unfinished uploads one device may hold at once. The app uploads one photo
/// at a time and resumes it first, so a phone holds one, rarely two.
pub const MAX_OPEN_UPLOADS_PER_DEVICE: u64 = 8;
/// Bytes one device may have announced and not finished: three photos of the
/// largest size the server accepts (the app's are far smaller).
pub const MAX_OPEN_UPLOAD_BYTES_PER_DEVICE: u64 = 3 * MAX_PHOTO_BYTES;
/// The largest width or height of a stored photo: the pipeline's long edge.
/// Anything larger was not made by the app and is refused from its header.
pub const MAX_STORED_EDGE: u32 = 2048;
/// The largest width or height of a photo on the public exposure page: a
/// copy made from the stored photo ([`PhotoStore::read_public`]), enough
/// for a phone or a laptop screen, and no more detail of people and
/// number plates than that.
pub const PUBLIC_LONG_EDGE: u32 = 1280;

/// How long unfinished and unused things are kept, and how the sweep runs.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    /// A partial upload no one has written to for this long is deleted (the
    /// device starts that photo again from byte 0). Default 48 h.
    pub partial_ttl: Duration,
    /// A complete photo no finding references this long after it was stored
    /// is deleted (a device whose push comes later uploads it again).
    /// Default 7 days.
    pub unreferenced_photo_ttl: Duration,
    /// Time between sweep passes. Default 10 min.
    pub sweep_interval: Duration,
    /// Most partial uploads and most photos one pass deletes: bounded work;
    /// a pass that hits the bound is followed by another after a second.
    pub sweep_batch: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            partial_ttl: Duration::from_secs(48 * 3600),
            unreferenced_photo_ttl: Duration::from_secs(7 * 24 * 3600),
            sweep_interval: Duration::from_secs(600),
            sweep_batch: 500,
        }
    }
}

impl UploadLimits {
    /// The defaults, each overridable in seconds (fractions allowed) by
    /// `ANFANG_PARTIAL_UPLOAD_TTL_SECS`, `ANFANG_UNREFERENCED_PHOTO_TTL_SECS`
    /// and `ANFANG_UPLOAD_SWEEP_SECS`.
    pub fn from_env() -> Self {
        let secs = |name: &str, default: Duration| match std::env::var(name) {
            Err(_) => default,
            Ok(v) => match v.trim().parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok()) {
                Some(d) => d,
                None => {
                    tracing::warn!(%name, value = %v, "not a number of seconds; using the default");
                    default
                }
            },
        };
        let d = Self::default();
        Self {
            partial_ttl: secs("ANFANG_PARTIAL_UPLOAD_TTL_SECS", d.partial_ttl),
            unreferenced_photo_ttl: secs("ANFANG_UNREFERENCED_PHOTO_TTL_SECS", d.unreferenced_photo_ttl),
            sweep_interval: secs("ANFANG_UPLOAD_SWEEP_SECS", d.sweep_interval),
            sweep_batch: d.sweep_batch,
        }
    }
}

/// One lock per photo being worked on, held across processes: several
/// `serve` instances may share the folder, and a device's upload may move
/// from one to another between two chunks.
///
/// Within a process, an async mutex per photo queues its waiters without a
/// thread. Its holder then takes an exclusive `flock` on
/// `uploads/locks/<photo>.lock` (on the blocking pool, so only one thread
/// per process and photo ever waits there), which another process's holder
/// of the same photo also needs. The lock file is removed by whoever holds
/// it, on release; a waiter that then gets a lock on the removed file sees
/// that the name now points elsewhere (or nowhere) and tries again, so two
/// holders can never hold locks on two different files of one name.
/// Entries of the map live only while someone holds or waits for them (and
/// a cancelled wait's entry is pruned by the sweep), so it stays as small as
/// the uploads in flight.
///
/// On PostgreSQL the instances may run on different machines, where a
/// file lock means nothing: there the holder takes a PostgreSQL advisory
/// lock instead (`Db::lock_across_instances`), which a dead holder's
/// connection gives back.
struct ShaLocks {
    held: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    dir: PathBuf,
    /// The database whose advisory locks stand in for the lock files.
    across: Option<Db>,
}

struct ShaGuard<'a> {
    locks: &'a ShaLocks,
    sha256: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    file: Option<(std::fs::File, PathBuf)>,
    across: Option<crate::db::leases::InstanceLock>,
}

/// Takes an exclusive lock on the file at `path`, creating it, and returns
/// it once the lock is on the file that the name still points to.
fn lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    loop {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        file.lock()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let locked = file.metadata()?;
            match std::fs::metadata(path) {
                Ok(named) if named.dev() == locked.dev() && named.ino() == locked.ino() => return Ok(file),
                // Removed (or replaced) by the holder before us: try again.
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        #[cfg(not(unix))]
        return Ok(file);
    }
}

impl ShaLocks {
    fn new(dir: PathBuf, across: Option<Db>) -> Self {
        Self { held: Default::default(), dir, across }
    }

    async fn lock(&self, sha256: &str) -> Result<ShaGuard<'_>, AppError> {
        let mutex = self.held.lock().unwrap_or_else(|p| p.into_inner()).entry(sha256.to_owned()).or_default().clone();
        let guard = mutex.lock_owned().await;
        // From here the guard's Drop cleans up, whatever happens next.
        let mut held =
            ShaGuard { locks: self, sha256: sha256.to_owned(), guard: Some(guard), file: None, across: None };
        if let Some(db) = &self.across
            && let Some(lock) = db.lock_across_instances(&format!("photo/{sha256}")).await?
        {
            held.across = Some(lock);
            return Ok(held);
        }
        // Keys are photo hashes, or `public/<hash>`.
        let path = self.dir.join(format!("{}.lock", sha256.replace('/', "-")));
        let at = path.clone();
        let file = tokio::task::spawn_blocking(move || lock_file(&at)).await.map_err(AppError::internal)??;
        held.file = Some((file, path));
        Ok(held)
    }

    /// Drops entries nobody holds or waits for.
    fn prune(&self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, m| Arc::strong_count(m) > 1);
    }
}

impl Drop for ShaGuard<'_> {
    fn drop(&mut self) {
        if let Some((file, path)) = self.file.take() {
            // Removed while still locked (see `ShaLocks`), then unlocked by closing.
            if let Err(e) = remove_if_there(&path) {
                tracing::warn!(error = %e, path = %path.display(), "cannot remove a lock file");
            }
            drop(file);
        }
        drop(self.across.take());
        drop(self.guard.take());
        let mut held = self.locks.held.lock().unwrap_or_else(|p| p.into_inner());
        // Clones are made under this map lock, so a count of 1 (the map's
        // own) means no one else holds or waits for this photo's lock.
        if held.get(&self.sha256).is_some_and(|m| Arc::strong_count(m) == 1) {
            held.remove(&self.sha256);
        }
    }
}

#[derive(Clone)]
pub struct PhotoStore {
    /// The data dir: the upload locks live here whatever holds the bytes.
    root: PathBuf,
    /// Where the bytes are: the data dir's folder or a bucket.
    objects: Objects,
    limits: UploadLimits,
    locks: Arc<ShaLocks>,
    /// The server's clock (upload ages, the sweep's cut-offs).
    clock: crate::clock::Clock,
}

/// What one sweep pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub partial_uploads: usize,
    pub photos: usize,
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

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

use crate::db::uploads::Announced;

impl PhotoStore {
    pub fn open(data_dir: &Path, at: &PhotosAt, clock: crate::clock::Clock) -> Result<Self, AppError> {
        Self::open_with(data_dir, at, UploadLimits::from_env(), clock)
    }

    pub fn open_with(
        data_dir: &Path,
        at: &PhotosAt,
        limits: UploadLimits,
        clock: crate::clock::Clock,
    ) -> Result<Self, AppError> {
        let root = data_dir.to_owned();
        let objects = Objects::open(data_dir, at)?;
        if objects.is_folder() {
            std::fs::create_dir_all(root.join("photos"))?;
        }
        std::fs::create_dir_all(root.join("uploads").join("locks"))?;
        let locks = Arc::new(ShaLocks::new(root.join("uploads").join("locks"), None));
        Ok(Self { root, objects, limits, locks, clock })
    }

    /// Locks each photo through `db`'s advisory locks where it has them
    /// (PostgreSQL), not through the data dir's lock files: instances on
    /// other machines share the database, not the data dir.
    pub fn locking_through(mut self, db: &Db) -> Self {
        self.locks = Arc::new(ShaLocks::new(self.locks.dir.clone(), Some(db.clone())));
        self
    }

    /// Where the bytes are kept.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// A stored photo's file, for fixtures that write the folder directly;
    /// `None` when photos are in a bucket.
    pub fn photo_path(&self, sha256: &str) -> Option<PathBuf> {
        self.objects.folder_path(&photo_key(sha256))
    }

    pub fn thumbnail_path(&self, sha256: &str) -> Option<PathBuf> {
        self.objects.folder_path(&thumbnail_key(sha256))
    }

    async fn part_len(&self, sha256: &str, device_id: &str) -> Result<u64, AppError> {
        Ok(self.objects.len(&part_key(sha256, device_id)).await?.unwrap_or(0))
    }

    /// `POST /uploads`: announces a photo, or reports where this device's
    /// upload of it stands.
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
        let _lock = self.locks.lock(sha256).await?;
        let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
        let ttl = self.limits.partial_ttl;
        let now = self.clock.now_ms();
        // Checked and recorded in one write: two announces of one device
        // for different photos cannot both slip under the cap.
        let admit = move |open: &uploads::OpenUploads| {
            if open.count + 1 > MAX_OPEN_UPLOADS_PER_DEVICE
                || open.bytes.saturating_add(size) > MAX_OPEN_UPLOAD_BYTES_PER_DEVICE
            {
                return Err(AppError::coded(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::UploadLimit,
                    format!(
                        "this device already has {} unfinished photo uploads ({}) on the server; at most \
                         {MAX_OPEN_UPLOADS_PER_DEVICE} uploads and {} may be open per device. Let the app \
                         finish the photos it has started (unfinished uploads expire after {} h)",
                        open.count,
                        mb(open.bytes),
                        mb(MAX_OPEN_UPLOAD_BYTES_PER_DEVICE),
                        ttl.as_secs() / 3600
                    ),
                ));
            }
            Ok(())
        };
        let announced = db.announce_upload(sha, dev, size, now, admit).await?;
        let part = part_key(sha256, device_id);
        match announced {
            Announced::Stored => {
                self.objects.delete(&part).await?;
                Ok(UploadStatus { offset: size, size, complete: true })
            }
            Announced::Resume => {
                Ok(UploadStatus { offset: self.part_len(sha256, device_id).await?, size, complete: false })
            }
            Announced::Fresh => {
                // The hash names the content: a partial of another size (or
                // one left by a crash) is useless. Only this device's own.
                self.objects.delete(&part).await?;
                Ok(UploadStatus { offset: 0, size, complete: false })
            }
        }
    }

    /// `PATCH /uploads/{sha}`: appends a chunk at `offset` to this device's
    /// upload; on the last chunk verifies the hash and the image, then files
    /// the photo.
    pub async fn append(
        &self,
        db: &Db,
        device_id: &str,
        sha256: &str,
        offset: u64,
        chunk: axum::body::Bytes,
    ) -> Result<UploadStatus, AppError> {
        check_sha(sha256)?;
        let _lock = self.locks.lock(sha256).await?;
        let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
        let state = db.upload_state(sha.clone(), dev.clone()).await?;
        let size = match state {
            (true, own) => {
                if own.is_some() {
                    // Someone else finished first: this device's partial is moot.
                    let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
                    db.forget_upload(sha.clone(), dev.clone()).await?;
                    self.objects.delete(&part_key(sha256, device_id)).await?;
                }
                let size = self.objects.len(&photo_key(sha256)).await?.unwrap_or(0);
                return Ok(UploadStatus { offset: size, size, complete: true });
            }
            (false, None) => {
                return Err(AppError::NotFound(format!(
                    "this device has no upload of photo {sha256} in progress; announce it first with POST \
                     /api/v1/uploads"
                )));
            }
            (false, Some(u)) => u.size,
        };
        let held = self.part_len(sha256, device_id).await?;
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
        let part = part_key(sha256, device_id);
        if offset + chunk.len() as u64 == size && !self.objects.is_folder() {
            // The last chunk to a bucket: one PUT of the photo, not a PUT of
            // the whole partial and a GET of it back.
            let bytes = self.objects.assemble(&part, held, &chunk).await?;
            self.finish(db, device_id, sha256, size, Some(bytes)).await?;
            return Ok(UploadStatus { offset: size, size, complete: true });
        }
        let written = self.objects.append(&part, held, &chunk).await?;
        if written < size {
            let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
            let now = self.clock.now_ms();
            db.touch_upload(sha, dev, now).await?;
            return Ok(UploadStatus { offset: written, size, complete: false });
        }
        self.finish(db, device_id, sha256, size, None).await?;
        Ok(UploadStatus { offset: size, size, complete: true })
    }

    /// Verifies a fully received upload and files it under its hash: the
    /// thumbnail first, then the photo, so a crash leaves no photo without
    /// its thumbnail, and the row last.
    /// `received` is the whole photo when the caller has it in memory;
    /// otherwise it is read from the partial.
    async fn finish(
        &self,
        db: &Db,
        device_id: &str,
        sha256: &str,
        size: u64,
        received: Option<Vec<u8>>,
    ) -> Result<(), AppError> {
        let part = part_key(sha256, device_id);
        // At most MAX_PHOTO_BYTES: the announced size was checked.
        let bytes = match received {
            Some(bytes) => bytes,
            None => self.objects.get(&part).await?.unwrap_or_default(),
        };
        let expected = sha256.to_owned();
        let checked = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, u32, u32, Vec<u8>), AppError> {
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != expected {
                return Err(AppError::Unprocessable(format!(
                    "the received bytes hash to {actual}, not {expected}; the upload was discarded, send the photo again"
                )));
            }
            // The structure first, from the bytes alone: metadata, a
            // progressive or oversized image are refused before a decoder
            // allocates anything.
            check_stored_jpeg(&bytes)?;
            let (width, height, thumb) = photo::thumbnail_of_stored(&bytes, &PhotoOptions::default())
                .map_err(|e| AppError::Unprocessable(format!("not an acceptable photo: {e}; the upload was discarded")))?;
            Ok((bytes, width, height, thumb))
        })
        .await
        .map_err(AppError::internal)?;
        let (sha, dev) = (sha256.to_owned(), device_id.to_owned());
        let (bytes, width, height, thumb) = match checked {
            Ok(c) => c,
            Err(e) => {
                self.objects.delete(&part).await?;
                db.forget_upload(sha, dev).await?;
                return Err(e);
            }
        };
        self.objects.put(&thumbnail_key(sha256), thumb).await?;
        self.objects.promote(&part, &photo_key(sha256), bytes).await?;
        let now = self.clock.now_ms();
        db.complete_upload(sha, dev, size, width, height, now).await
    }

    /// Files a photo the server processed itself (a unit's after-photo):
    /// written under a temporary name and renamed, thumbnail first, so a
    /// crash leaves no listed photo without its bytes.
    pub async fn store_processed(
        &self,
        db: &Db,
        photo: anfang_core::photo::ProcessedPhoto,
    ) -> Result<String, AppError> {
        let sha = photo.sha256.clone();
        let _lock = self.locks.lock(&sha).await?;
        let byte_len = photo.jpeg.len() as u64;
        let (w, h) = (photo.width, photo.height);
        let (jpeg, thumbnail) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
            // The thumbnail is remade from the stored JPEG, as for a device's
            // upload: `verify` checks it by remaking it that way, and the
            // pipeline's own (from the full-size pixels) differs in bytes.
            let (_, _, thumbnail) =
                photo::thumbnail_of_stored(&photo.jpeg, &PhotoOptions::default()).map_err(AppError::internal)?;
            Ok((photo.jpeg, thumbnail))
        })
        .await
        .map_err(AppError::internal)??;
        self.objects.put(&thumbnail_key(&sha), thumbnail).await?;
        self.objects.put(&photo_key(&sha), jpeg).await?;
        db.record_server_photo(sha.clone(), byte_len, w, h, self.clock.now()).await?;
        Ok(sha)
    }

    /// Files a PDF scan under its SHA-256 (the caller checked it is one).
    pub async fn store_file(&self, db: &Db, bytes: Vec<u8>) -> Result<String, AppError> {
        let sha = hex::encode(Sha256::digest(&bytes));
        let _lock = self.locks.lock(&sha).await?;
        let len = bytes.len() as u64;
        self.objects.put(&file_key(&sha), bytes).await?;
        db.record_case_file(sha.clone(), len, self.clock.now()).await?;
        Ok(sha)
    }

    pub async fn read_file(&self, sha256: &str) -> Result<Vec<u8>, AppError> {
        check_sha(sha256)?;
        self.objects
            .get(&file_key(sha256))
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no file {sha256} on this server")))
    }

    pub async fn read(&self, sha256: &str, thumbnail: bool) -> Result<Vec<u8>, AppError> {
        check_sha(sha256)?;
        let key = if thumbnail { thumbnail_key(sha256) } else { photo_key(sha256) };
        self.objects.get(&key).await?.ok_or_else(|| AppError::NotFound(format!("no photo {sha256} on this server")))
    }

    /// The copy of a stored photo the exposure page serves: at most
    /// [`PUBLIC_LONG_EDGE`] px, never enlarged, made by the shared pipeline
    /// (`photo::process`: Lanczos3, baseline JPEG, no metadata) from the
    /// stored copy, which is only read. A photo within the size is served
    /// as stored (already metadata-free; a re-encode would only lose).
    /// The caller decides whether the photo is public.
    ///
    /// Made on the first request and kept, not at publishing: an after-photo
    /// becomes public when a re-check closes the case, long after publishing,
    /// and entries published before this copy existed need one too; a
    /// withdrawn entry's photos never get one. The pipeline is
    /// deterministic, so a lost copy is remade byte for byte. Made under the
    /// photo's own lock, so a link shared widely is encoded once.
    pub async fn read_public(&self, sha256: &str) -> Result<Vec<u8>, AppError> {
        check_sha(sha256)?;
        let copy = public_copy_key(sha256);
        if let Some(bytes) = self.objects.get(&copy).await? {
            return Ok(bytes);
        }
        let _lock = self.locks.lock(&format!("public/{sha256}")).await?;
        // Made by whoever held the lock before us.
        if let Some(bytes) = self.objects.get(&copy).await? {
            return Ok(bytes);
        }
        let Some(bytes) = self.objects.get(&photo_key(sha256)).await? else {
            return Err(AppError::NotFound(format!("no photo {sha256} on this server")));
        };
        let stored = sha256.to_owned();
        let made = tokio::task::spawn_blocking(move || -> Result<Result<Vec<u8>, Vec<u8>>, AppError> {
            let frame = check_stored_jpeg(&bytes)
                .map_err(|e| AppError::internal(format!("stored photo {stored} fails its check: {e:?}")))?;
            if frame.width.max(frame.height) <= PUBLIC_LONG_EDGE {
                return Ok(Err(bytes));
            }
            let options = PhotoOptions { max_long_edge: PUBLIC_LONG_EDGE, ..PhotoOptions::default() };
            Ok(Ok(photo::process(&bytes, &options).map_err(AppError::internal)?.jpeg))
        })
        .await
        .map_err(AppError::internal)??;
        match made {
            // Within the size: served as stored, no copy kept.
            Err(as_stored) => Ok(as_stored),
            Ok(public) => {
                self.objects.put(&copy, public.clone()).await?;
                Ok(public)
            }
        }
    }

    /// One sweep pass: deletes at most `sweep_batch` partial uploads nobody
    /// wrote to within `partial_ttl`, and at most `sweep_batch` photos no
    /// finding referenced within `unreferenced_photo_ttl` of being stored.
    /// Each under its photo's lock, re-checked in the database, rows first:
    /// a crash in between leaves only a stray file, never a listed photo
    /// without its bytes.
    pub async fn sweep_once(&self, db: &Db) -> Result<Swept, AppError> {
        let now = self.clock.now_ms();
        let batch = self.limits.sweep_batch;
        let mut swept = Swept::default();

        let upload_cutoff = now.saturating_sub(ms(self.limits.partial_ttl));
        for (sha, dev) in db.stale_uploads(upload_cutoff, batch).await? {
            let _lock = self.locks.lock(&sha).await?;
            let (s, d) = (sha.clone(), dev.clone());
            if db.expire_upload(s, d, upload_cutoff).await? {
                self.objects.delete(&part_key(&sha, &dev)).await?;
                swept.partial_uploads += 1;
            }
        }

        let photo_cutoff = now.saturating_sub(ms(self.limits.unreferenced_photo_ttl));
        for sha in db.stale_unreferenced_photos(photo_cutoff, batch).await? {
            if !is_sha256_hex(&sha) {
                continue;
            }
            let _lock = self.locks.lock(&sha).await?;
            let s = sha.clone();
            if db.expire_photo(s, photo_cutoff).await? {
                self.objects.delete(&photo_key(&sha)).await?;
                self.objects.delete(&thumbnail_key(&sha)).await?;
                swept.photos += 1;
            }
        }
        self.locks.prune();
        Ok(swept)
    }

    /// Partial files of the layout before per-device uploads
    /// (`uploads/<sha256>.part`): their rows were dropped by migration 0008,
    /// so nothing can resume them.
    fn remove_legacy_partials(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("uploads"))? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.strip_suffix(".part").is_some_and(is_sha256_hex) {
                remove_if_there(&path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The sweeper `serve` runs: a pass at start-up, then every
    /// `sweep_interval` (sooner while a pass hits its bound), each only
    /// while this instance holds the background lease (`held`, see
    /// `app::jobs`). Errors are logged and the next pass tries again.
    pub async fn sweep_forever(self, db: Db, mut held: crate::app::jobs::Held) {
        held.until_held().await;
        let limits = self.limits.clone();
        tracing::info!(?limits, "upload sweeper started");
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.remove_legacy_partials()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(n, "removed partial uploads of the old layout"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not clear old partial uploads"),
            Err(e) => tracing::warn!(error = %e, "could not clear old partial uploads"),
        }
        loop {
            held.until_held().await;
            let mut pause = limits.sweep_interval;
            match self.sweep_once(&db).await {
                Ok(swept) => {
                    if swept != Swept::default() {
                        tracing::info!(?swept, "swept expired uploads and unreferenced photos");
                    }
                    if swept.partial_uploads >= limits.sweep_batch || swept.photos >= limits.sweep_batch {
                        pause = pause.min(Duration::from_secs(1));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "upload sweep failed; trying again later"),
            }
            tokio::time::sleep(pause).await;
        }
    }
}

/// Why a stored photo is refused by [`check_stored_jpeg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredJpegError {
    /// It carries something besides pixels: an APP1–APP15 segment (Exif,
    /// XMP, ICC …), a comment, an APP0 other than a plain JFIF header, or
    /// bytes after the end of the image.
    Metadata(String),
    /// Not the baseline JPEG the pipeline writes (progressive, arithmetic,
    /// other sampling, markers it never writes, truncated …).
    NotFromApp(String),
    /// Wider or taller than [`MAX_STORED_EDGE`].
    Dimensions { width: u32, height: u32 },
}

impl From<StoredJpegError> for AppError {
    fn from(e: StoredJpegError) -> Self {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        match e {
            StoredJpegError::Metadata(what) => AppError::coded(
                status,
                ErrorCode::PhotoMetadata,
                format!(
                    "not an acceptable photo: it carries {what}; the server stores only the pixels the app's \
                     photo pipeline writes, never camera metadata, so the upload was discarded. Attach photos \
                     through the app, which strips metadata"
                ),
            ),
            StoredJpegError::NotFromApp(what) => AppError::coded(
                status,
                ErrorCode::PhotoNotFromApp,
                format!(
                    "not an acceptable photo: {what}. The upload was discarded; attach photos through the app \
                     (update it if this persists)"
                ),
            ),
            StoredJpegError::Dimensions { width, height } => AppError::coded(
                status,
                ErrorCode::PhotoDimensions,
                format!(
                    "not an acceptable photo: it is {width}×{height} pixels; the app stores photos of at most \
                     {MAX_STORED_EDGE} pixels a side, so the server refuses larger ones without decoding them. \
                     The upload was discarded"
                ),
            ),
        }
    }
}

/// The frame of a stored photo, as its header gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFrame {
    pub width: u32,
    pub height: u32,
    pub components: u8,
}

fn segment_name(marker: u8, body: &[u8]) -> String {
    match marker {
        0xE1 if body.starts_with(b"Exif\0") => "an Exif block (APP1: camera make, model, time, maybe position)".into(),
        0xE1 if body.starts_with(b"http://ns.adobe.com/") => "an XMP block (APP1)".into(),
        0xE2 if body.starts_with(b"ICC_PROFILE\0") => "an ICC colour profile (APP2)".into(),
        0xE0..=0xEF => format!("an APP{} segment", marker - 0xE0),
        0xFE => "a comment (COM) segment".into(),
        _ => format!("a segment with marker FF{marker:02X}"),
    }
}

/// A frame component as its header gives it: (id, sampling factors,
/// quantization table).
type Component = (u8, u8, u8);

/// Checks that `jpeg` has exactly the structure the shared pipeline writes
/// (jpeg-encoder, as called by `anfang_core::photo`'s `encode_jpeg`):
///
/// `SOI`, `APP0` "JFIF" (16 bytes, no thumbnail), then the frame header
/// `SOF0` (8-bit baseline; 1 component, or 3 in 4:2:0 — luma 2×2, chroma
/// 1×1 — each at most [`MAX_STORED_EDGE`] pixels a side), `DQT`, `DHT`
/// and at most one `DRI` (the pipeline adds one when it joins bands), one
/// `SOS` over all components (spectral 0..63, no approximation), entropy
/// data in which 0xFF is followed only by a stuffed 0x00 or `RST0–7` in
/// sequence (only with a `DRI`), and `EOI` as the last two bytes.
///
/// Reads only the bytes: nothing is decoded or allocated, so it runs before
/// the decoder and bounds what the decoder is given.
pub fn check_stored_jpeg(jpeg: &[u8]) -> Result<StoredFrame, StoredJpegError> {
    use StoredJpegError::{Dimensions, Metadata, NotFromApp};
    let not_app = |what: &str| NotFromApp(what.to_owned());
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        let format = match photo::sniff(jpeg) {
            photo::SniffedFormat::Png => "PNG".to_owned(),
            photo::SniffedFormat::Other(format) => format,
            photo::SniffedFormat::Jpeg => "a JPEG".to_owned(),
        };
        return Err(NotFromApp(format!("a stored photo must be the JPEG the photo pipeline made, not {format}")));
    }
    let mut at = 2;
    let mut jfif = false;
    let mut frame: Option<(StoredFrame, Vec<Component>)> = None;
    let mut dqt = [false; 2];
    let mut dht = [[false; 2]; 2];
    let mut restart_interval: Option<u16> = None;
    let scan_start = loop {
        let (Some(&ff), Some(&marker)) = (jpeg.get(at), jpeg.get(at + 1)) else {
            return Err(not_app("the file ends inside its headers (truncated?)"));
        };
        if ff != 0xFF {
            return Err(NotFromApp(format!("byte {at} should start a header segment but does not")));
        }
        let (Some(&hi), Some(&lo)) = (jpeg.get(at + 2), jpeg.get(at + 3)) else {
            return Err(not_app("the file ends inside its headers (truncated?)"));
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(body) = jpeg.get(at + 4..at + 2 + len).filter(|_| len >= 2) else {
            return Err(NotFromApp(format!("the segment at byte {at} runs past the end of the file")));
        };
        match marker {
            0xE0 => {
                let plain_jfif = body.len() == 14 && body.starts_with(b"JFIF\0") && body[12] == 0 && body[13] == 0;
                if jfif || at != 2 || !plain_jfif {
                    return Err(Metadata("an APP0 segment other than the plain JFIF header".into()));
                }
                jfif = true;
            }
            0xE1..=0xEF | 0xFE => return Err(Metadata(segment_name(marker, body))),
            _ if !jfif => return Err(not_app("it has no JFIF header right after the start of the image")),
            0xC0 => {
                if frame.is_some() {
                    return Err(not_app("it has two frame headers"));
                }
                if body.len() < 6 || body[0] != 8 {
                    return Err(not_app("its frame header is not 8-bit"));
                }
                let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
                let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
                if width > MAX_STORED_EDGE || height > MAX_STORED_EDGE {
                    return Err(Dimensions { width, height });
                }
                if width == 0 || height == 0 {
                    return Err(NotFromApp(format!("its header gives a size of {width}×{height} pixels")));
                }
                let n = body[5];
                if body.len() != 6 + 3 * usize::from(n) {
                    return Err(not_app("its frame header has the wrong length"));
                }
                let comps: Vec<Component> = body[6..].chunks_exact(3).map(|c| (c[0], c[1], c[2])).collect();
                let layout: Vec<(u8, u8)> = comps.iter().map(|&(_, s, q)| (s, q)).collect();
                // Grey, or colour in 4:2:0 with the luma and chroma tables.
                if layout != [(0x11, 0)] && layout != [(0x22, 0), (0x11, 1), (0x11, 1)] {
                    return Err(not_app("its colour channels are not the grey or 4:2:0 layout the app writes"));
                }
                if comps.iter().enumerate().any(|(i, c)| comps[..i].iter().any(|d| d.0 == c.0)) {
                    return Err(not_app("two colour channels share an id"));
                }
                frame = Some((StoredFrame { width, height, components: n }, comps));
            }
            0xC2 | 0xC6 | 0xCA | 0xCE => {
                return Err(not_app("it is a progressive JPEG; the app writes baseline JPEGs only"));
            }
            0xC1 | 0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCD | 0xCF => {
                return Err(NotFromApp(format!(
                    "its frame type (marker FF{marker:02X}: extended, lossless, hierarchical or arithmetic) is \
                     not baseline"
                )));
            }
            0xDB => {
                let mut t = body;
                while !t.is_empty() {
                    let (precision, id) = (t[0] >> 4, t[0] & 0x0F);
                    if precision != 0 || id > 1 || t.len() < 65 {
                        return Err(not_app("it has a quantization table the app never writes"));
                    }
                    dqt[usize::from(id)] = true;
                    t = &t[65..];
                }
            }
            0xC4 => {
                let mut t = body;
                while !t.is_empty() {
                    let (class, id) = (t[0] >> 4, t[0] & 0x0F);
                    let counts = t.get(1..17).ok_or_else(|| not_app("a Huffman table is cut short"))?;
                    let values: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    if class > 1 || id > 1 || values > 256 || t.len() < 17 + values {
                        return Err(not_app("it has a Huffman table the app never writes"));
                    }
                    dht[usize::from(class)][usize::from(id)] = true;
                    t = &t[17 + values..];
                }
            }
            0xDD => {
                let interval = if body.len() == 2 { u16::from_be_bytes([body[0], body[1]]) } else { 0 };
                if restart_interval.is_some() || interval == 0 {
                    return Err(not_app("its restart interval is not the app's"));
                }
                restart_interval = Some(interval);
            }
            0xDA => {
                let Some((_, comps)) = &frame else {
                    return Err(not_app("its scan comes before the frame header"));
                };
                let n = usize::from(*body.first().unwrap_or(&0));
                if n != comps.len() || body.len() != 1 + 2 * n + 3 {
                    return Err(not_app("its scan does not cover every colour channel at once"));
                }
                for (i, &(id, _, q)) in comps.iter().enumerate() {
                    let (cs, tables) = (body[1 + 2 * i], body[2 + 2 * i]);
                    let (dc, ac) = (usize::from(tables >> 4), usize::from(tables & 0x0F));
                    if cs != id || dc > 1 || ac > 1 || !dht[0][dc] || !dht[1][ac] || !dqt[usize::from(q)] {
                        return Err(not_app("its scan refers to tables the file does not define"));
                    }
                }
                if body[1 + 2 * n..] != [0, 63, 0] {
                    return Err(not_app("its scan is not a single full baseline scan"));
                }
                break at + 2 + len;
            }
            _ => return Err(NotFromApp(format!("it has a segment (marker FF{marker:02X}) the app never writes"))),
        }
        at += 2 + len;
    };
    let (frame, _) = frame.expect("the scan follows the frame header");

    let mut i = scan_start;
    let mut next_restart = 0u8;
    loop {
        let Some(p) = jpeg[i..].iter().position(|&b| b == 0xFF) else {
            return Err(not_app("the image data has no end-of-image marker (truncated?)"));
        };
        let j = i + p;
        let Some(&marker) = jpeg.get(j + 1) else {
            return Err(not_app("the image data has no end-of-image marker (truncated?)"));
        };
        match marker {
            0x00 => {}
            0xD0..=0xD7 => {
                if restart_interval.is_none() || marker - 0xD0 != next_restart {
                    return Err(not_app("its restart markers are not the app's"));
                }
                next_restart = (next_restart + 1) % 8;
            }
            0xD9 => {
                let after = jpeg.len() - (j + 2);
                if after > 0 {
                    return Err(Metadata(format!("{after} bytes after the end-of-image marker")));
                }
                return Ok(frame);
            }
            0xE0..=0xEF | 0xFE => {
                let body = jpeg.get(j + 4..).unwrap_or_default();
                return Err(Metadata(format!("{} after its image data", segment_name(marker, body))));
            }
            _ => {
                return Err(NotFromApp(format!(
                    "marker FF{marker:02X} inside its image data; the app writes one scan and nothing else"
                )));
            }
        }
        i = j + 2;
    }
}

/// Writes `bytes` to `path` through a temporary sibling, fsynced, renamed.
/// The keys of a photo's bytes, the same in the folder and in a bucket:
/// `photos/<ab>/<sha256>.jpg` and its `.thumb.jpg`.
pub fn photo_key(sha256: &str) -> String {
    format!("photos/{}/{sha256}.jpg", &sha256[..2])
}

pub fn thumbnail_key(sha256: &str) -> String {
    format!("photos/{}/{sha256}.thumb.jpg", &sha256[..2])
}

/// A PDF scan's place: `files/<ab>/<sha256>.pdf`, beside the photos.
pub fn file_key(sha256: &str) -> String {
    format!("files/{}/{sha256}.pdf", &sha256[..2])
}

/// Where the public copy of a photo larger than [`PUBLIC_LONG_EDGE`] is kept.
pub fn public_copy_key(sha256: &str) -> String {
    format!("public/{}/{sha256}.jpg", &sha256[..2])
}

/// The folder and hash a key names, if it is the key of an object the
/// server writes (`photos/ab/<sha256>.jpg`, `….thumb.jpg`,
/// `files/ab/<sha256>.pdf`, `public/ab/<sha256>.jpg`): the one reader of the
/// keys above. Anything else, a partial, `..` or another shard, is `None`.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = key.split('/').collect();
    let [folder, shard, name] = parts[..] else { return None };
    let sha = match folder {
        "photos" => name.strip_suffix(".thumb.jpg").or_else(|| name.strip_suffix(".jpg")),
        "files" => name.strip_suffix(".pdf"),
        "public" => name.strip_suffix(".jpg"),
        _ => None,
    }?;
    (is_sha256_hex(sha) && shard == &sha[..2]).then_some((folder, sha))
}

/// One device's partial upload of a photo.
fn part_key(sha256: &str, device_id: &str) -> String {
    // Device ids are UUIDs the server made; anything else is hashed so it
    // can never leave the folder or the key space.
    let device = if !device_id.is_empty() && device_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        device_id.to_owned()
    } else {
        hex::encode(Sha256::digest(device_id.as_bytes()))
    };
    format!("uploads/{sha256}.{device}.part")
}

/// What [`copy_folder`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Objects written, and their bytes.
    pub copied: u64,
    pub bytes: u64,
    /// Objects the target already held at the same size (an earlier run).
    pub already_there: u64,
}

/// The folders of a data dir that hold objects; `uploads/` is left out on
/// purpose: a partial upload is restarted by its device.
const OBJECT_FOLDERS: [&str; 3] = ["photos", "files", "public"];

/// Copies every photo, thumbnail, public copy and PDF of the data dir's
/// folder into `to` under the same keys, eight at a time. An object the
/// target holds at the same size is not sent again, so a run cut short is
/// run again and carries on. Bytes are not compared here: `verify` on the
/// target re-hashes every object afterwards.
pub async fn copy_folder(data_dir: &Path, to: &Objects) -> Result<Copied, AppError> {
    use futures_util::{StreamExt, TryStreamExt};
    let root = data_dir.to_owned();
    let keys = tokio::task::spawn_blocking(move || -> Result<Vec<(String, u64)>, AppError> {
        let mut keys = Vec::new();
        for folder in OBJECT_FOLDERS {
            let Ok(shards) = std::fs::read_dir(root.join(folder)) else { continue };
            for shard in shards {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(shard.path())? {
                    let file = file?;
                    let key = format!(
                        "{folder}/{}/{}",
                        shard.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    );
                    // Only what the server wrote, not a temporary file or one a person left.
                    if file.file_type()?.is_file() && parse_key(&key).is_some() {
                        keys.push((key, file.metadata()?.len()));
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    })
    .await
    .map_err(AppError::internal)??;
    let from = Objects::Folder(data_dir.to_owned());
    let done: Vec<Option<u64>> = futures_util::stream::iter(keys)
        .map(|(key, len)| {
            let (from, to) = (&from, to);
            async move {
                if to.len(&key).await? == Some(len) {
                    return Ok::<_, AppError>(None);
                }
                let bytes = from
                    .get(&key)
                    .await?
                    .ok_or_else(|| AppError::internal(format!("{key} went away during the copy")))?;
                let n = bytes.len() as u64;
                to.put(&key, bytes).await?;
                Ok(Some(n))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let mut copied = Copied::default();
    for d in done {
        match d {
            Some(n) => {
                copied.copied += 1;
                copied.bytes += n;
            }
            None => copied.already_there += 1,
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline_photo(seed: u8, width: u32, height: u32, grey: bool) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            let v = (x as u8).wrapping_mul(seed) ^ (y as u8);
            if grey { image::Rgb([v, v, v]) } else { image::Rgb([v, y as u8, seed]) }
        });
        let mut png = Vec::new();
        if grey {
            image::DynamicImage::ImageRgb8(img)
                .to_luma8()
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .unwrap();
        } else {
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        }
        photo::process(&png, &PhotoOptions::default()).unwrap().jpeg
    }

    #[test]
    fn the_bound_is_the_pipelines_long_edge() {
        assert_eq!(MAX_STORED_EDGE, PhotoOptions::default().max_long_edge);
    }

    #[test]
    fn what_the_pipeline_writes_passes_the_structure_check() {
        // One piece, grey, and big enough to be encoded in bands joined by
        // restart markers (at the largest size the pipeline makes).
        for (w, h, grey, components) in [(320, 240, false, 3), (300, 200, true, 1), (4096, 3072, false, 3)] {
            let jpeg = pipeline_photo(3, w, h, grey);
            let frame = check_stored_jpeg(&jpeg).unwrap_or_else(|e| panic!("{w}×{h}: {e:?}"));
            let (ew, eh) = photo::fit(w, h, MAX_STORED_EDGE);
            assert_eq!(frame, StoredFrame { width: ew, height: eh, components });
            if w == 4096 {
                assert!(jpeg.windows(2).any(|m| m == [0xFF, 0xD0]), "the big one really has restart markers");
            }
        }
    }

    #[test]
    fn a_cut_photo_is_not_the_pipelines() {
        let jpeg = pipeline_photo(5, 320, 240, false);
        for cut in [3, 21, 200, jpeg.len() - 1] {
            assert!(
                matches!(check_stored_jpeg(&jpeg[..cut]), Err(StoredJpegError::NotFromApp(_))),
                "cut at {cut}: {:?}",
                check_stored_jpeg(&jpeg[..cut])
            );
        }
    }

    async fn store_with_device() -> (tempfile::TempDir, Db, PhotoStore, String) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite3")).unwrap();
        let creds = crate::demo::load(&db).unwrap();
        let code = creds.inspectors[0].1.clone();
        let key = anfang_core::evidence::DeviceKey::generate().public_key_hex();
        let device =
            db.write(move |c| crate::db::accounts::enroll(c, &code, None, &key)).await.unwrap().device_id.to_string();
        let store = PhotoStore::open_with(
            dir.path(),
            &PhotosAt::DataDir,
            UploadLimits::default(),
            crate::clock::Clock::system(),
        )
        .unwrap();
        (dir, db, store, device)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_photo_completes_while_another_photos_lock_is_held() {
        let (_dir, db, store, device) = store_with_device().await;
        let (x, y) = (pipeline_photo(1, 320, 240, false), pipeline_photo(2, 320, 240, false));
        let (x_sha, y_sha) = (hex::encode(Sha256::digest(&x)), hex::encode(Sha256::digest(&y)));
        store.announce(&db, &device, &x_sha, x.len() as u64).await.unwrap();
        store.announce(&db, &device, &y_sha, y.len() as u64).await.unwrap();

        // As while X's last chunk is being verified.
        let held = store.locks.lock(&x_sha).await.unwrap();
        let done = tokio::time::timeout(
            Duration::from_secs(10),
            store.append(&db, &device, &y_sha, 0, axum::body::Bytes::from(y.clone())),
        )
        .await
        .expect("photo Y is not held up by the lock photo X holds")
        .unwrap();
        assert!(done.complete);

        // X itself does wait for its lock, and goes on once it is released.
        let x_append = {
            let (store, db, device, x_sha, x) = (store.clone(), db.clone(), device.clone(), x_sha.clone(), x.clone());
            tokio::spawn(async move { store.append(&db, &device, &x_sha, 0, axum::body::Bytes::from(x)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!x_append.is_finished(), "X's upload waits for X's lock");
        drop(held);
        assert!(x_append.await.unwrap().unwrap().complete);
        assert!(store.locks.held.lock().unwrap().is_empty(), "no lock entry outlives its use");
    }

    /// `b` waits for a photo's lock `a` holds, not for another photo's,
    /// and gets it once `a` lets go.
    async fn second_waits_for_the_firsts_lock(a: &PhotoStore, b: &PhotoStore) {
        let (x, y) = ("a".repeat(64), "b".repeat(64));
        let held = a.locks.lock(&x).await.unwrap();
        let other = tokio::time::timeout(Duration::from_secs(5), b.locks.lock(&y)).await;
        assert!(other.is_ok(), "another photo's lock is free");
        drop(other);
        let waiting = {
            let (b, x) = (b.clone(), x.clone());
            tokio::spawn(async move {
                let _g = b.locks.lock(&x).await.unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the second store waits while the first holds the photo's lock");
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("and gets it once released").unwrap();
    }

    /// A second instance over the same folder (its own store, its own
    /// in-process locks) waits for a photo's lock the first holds, and
    /// unrelated photos do not wait; the lock file goes when released.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_instance_on_the_same_folder_waits_for_a_photos_lock() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            PhotoStore::open_with(
                dir.path(),
                &PhotosAt::DataDir,
                UploadLimits::default(),
                crate::clock::Clock::system(),
            )
            .unwrap()
        };
        let (a, b) = (open(), open());
        second_waits_for_the_firsts_lock(&a, &b).await;
        let left: Vec<_> = std::fs::read_dir(dir.path().join("uploads/locks")).unwrap().collect();
        assert!(left.is_empty(), "lock files are removed on release: {left:?}");
    }

    /// Instances on two machines (two data dirs) over one PostgreSQL
    /// database wait for each other's photo lock through it. On SQLite
    /// there is no such lock: its instances share one folder and lock files
    /// there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_on_two_machines_wait_for_a_photos_lock_through_postgres() {
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let Some(url) = crate::db::test_database() else {
            let db = Db::open(&dir_a.path().join("db.sqlite3")).unwrap();
            assert!(db.lock_across_instances("photo/x").await.unwrap().is_none(), "SQLite locks files instead");
            return;
        };
        let (db_a, db_b) = (Db::connect_postgres(&url).unwrap(), Db::connect_postgres(&url).unwrap());
        let open = |dir: &Path, db: &Db| {
            PhotoStore::open_with(dir, &PhotosAt::DataDir, UploadLimits::default(), crate::clock::Clock::system())
                .unwrap()
                .locking_through(db)
        };
        let (a, b) = (open(dir_a.path(), &db_a), open(dir_b.path(), &db_b));
        second_waits_for_the_firsts_lock(&a, &b).await;
        assert!(
            std::fs::read_dir(dir_a.path().join("uploads/locks")).unwrap().next().is_none(),
            "no lock file: the lock is PostgreSQL's"
        );
    }
}
