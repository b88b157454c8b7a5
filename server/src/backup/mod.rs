//! Backups of the embedded installation: a consistent snapshot of the
//! database and every photo, thumbnail and PDF it refers to, written to a
//! folder (a USB disk, a NAS share) so that it can be checked and restored.
//!
//! A backup folder:
//!
//! ```text
//! anfang-backup.json            what this folder is (format, encrypted or not)
//! key.age                       encrypted folders only: see crypt.rs
//! objects/ab/<sha256>           every photo, thumbnail and PDF, by the SHA-256 of
//!                               its plaintext, shared by all snapshots
//! snapshots/20261201T180000Z/   one backup
//!     anfang.sqlite3[.age]      the database snapshot (VACUUM INTO)
//!     manifest.json             counts, chain head, the snapshot's hash, every object
//!     manifest.sha256           the manifest's hash, in `sha256sum -c` form
//! ```
//!
//! Incremental for free: an object already in `objects/` is not copied
//! again. Crash-safe by order: objects are written under a temporary name,
//! synced, and renamed; a snapshot is built in `snapshots/.partial-…`, its
//! manifest written last, and the folder renamed to its final name only when
//! everything in it is synced. A name without the leading dot is therefore
//! always a complete snapshot; leftovers of a killed run are removed by the
//! next one.
//!
//! Blocking file work throughout: the server runs it on the blocking pool.

pub mod crypt;
pub mod retention;

use crate::db::backup::{SnapshotFacts, snapshot_facts, snapshot_into};
use crate::db::evidence::{self, ChainHead};
use age::secrecy::SecretString;
use crypt::{CryptError, FolderKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The format of a backup folder and its manifests.
pub const FORMAT: &str = "anfang-backup-1";
const MARKER: &str = "anfang-backup.json";
const KEY_FILE: &str = "key.age";
const SNAPSHOTS: &str = "snapshots";
const OBJECTS: &str = "objects";
const MANIFEST: &str = "manifest.json";
const MANIFEST_SUM: &str = "manifest.sha256";
const DB_FILE: &str = "anfang.sqlite3";
const PARTIAL: &str = ".partial-";
const DELETING: &str = ".deleting-";

/// What a backup folder is, in `anfang-backup.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub format: String,
    /// `age-x25519` for an encrypted folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    /// The folder key's public half (encrypted folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// One backup, described: what `backup verify` and `restore` check against.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub created_at: jiff::Timestamp,
    pub software_version: String,
    pub schema_version: i64,
    pub encrypted: bool,
    pub database: DbEntry,
    /// The evidence chain's head in the snapshot: compare it with the head
    /// printed in the last issued bulletin.
    pub chain: Chain,
    pub counts: Counts,
    pub objects: Vec<Object>,
    /// Photos the snapshot listed that the sweeper removed while the backup
    /// ran (unreferenced uploads past their time): restore drops their rows.
    #[serde(default)]
    pub swept_during_backup: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DbEntry {
    pub file: String,
    /// Of the plaintext snapshot.
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Chain {
    pub length: i64,
    pub head: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub findings: i64,
    pub cases: i64,
    pub bulletins: i64,
    pub photos: u64,
    pub files: u64,
}

/// A file of the data dir: where it goes (`photos/ab/….jpg`), its content hash
/// (its name in `objects/`) and length.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Object {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

impl Manifest {
    /// Bytes the backup holds: the snapshot and every object (plaintext).
    pub fn total_bytes(&self) -> u64 {
        self.database.bytes + self.objects.iter().map(|o| o.bytes).sum::<u64>()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no server data in {0} (pass --data-dir)")]
    NoData(PathBuf),
    #[error(
        "{0} is not empty and is not an Anfang backup folder; back up into an empty folder or one made by an earlier backup"
    )]
    NotABackupFolder(PathBuf),
    #[error("{0} holds no Anfang backup (no anfang-backup.json, and no manifest.json of a snapshot)")]
    NotABackup(PathBuf),
    #[error("{0} holds no complete backup yet")]
    NoSnapshot(PathBuf),
    #[error("the backup folder {0} is inside the data dir: a disk failure would take both; back up to another disk")]
    InsideDataDir(PathBuf),
    #[error("another backup or pruning of {0} is running; try again when it has finished")]
    Busy(PathBuf),
    #[error("the backups in {0} are encrypted: give the passphrase (--passphrase-file)")]
    PassphraseNeeded(PathBuf),
    #[error("the backups in {0} are not encrypted; an encrypted backup needs a folder of its own")]
    NotEncrypted(PathBuf),
    #[error("{0} is of format {1:?}, which this anfang-server does not know (it knows {FORMAT})")]
    UnknownFormat(PathBuf, String),
    #[error("the manifest of {snapshot} is damaged: {detail}")]
    ManifestDamaged { snapshot: String, detail: String },
    #[error("the database snapshot of {snapshot} is damaged: {detail}")]
    SnapshotDamaged { snapshot: String, detail: String },
    #[error("{} of the backup's files are missing or damaged: {}", .0.len(), .0.join("; "))]
    ObjectsDamaged(Vec<String>),
    #[error("{0} is not empty; restore into a new, empty folder")]
    TargetNotEmpty(PathBuf),
    #[error("{0}")]
    Crypt(#[from] CryptError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

/// What a finished backup did.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub snapshot: String,
    pub path: PathBuf,
    pub manifest: Manifest,
    pub objects_copied: u64,
    pub objects_reused: u64,
    /// Plaintext bytes copied by this run (database included).
    pub bytes_copied: u64,
    pub duration: std::time::Duration,
    /// Files the database lists that were not usable at source (missing or
    /// not matching their hash): the backup is complete but for them.
    pub source_problems: Vec<String>,
}

/// A folder of backups, opened for one run: its lock held, its key open.
struct Folder {
    root: PathBuf,
    key: Option<FolderKey>,
    _lock: std::fs::File,
}

impl Folder {
    /// Opens (or, when `create`, makes) the backup folder at `root`.
    fn open(root: &Path, passphrase: Option<&SecretString>, create: bool) -> Result<Self, BackupError> {
        let marker_path = root.join(MARKER);
        if create {
            std::fs::create_dir_all(root).map_err(io(format!("creating {}", root.display())))?;
        }
        if !marker_path.exists() {
            if !create {
                return Err(BackupError::NotABackup(root.to_owned()));
            }
            let foreign = std::fs::read_dir(root)
                .map_err(io(format!("reading {}", root.display())))?
                .flatten()
                .any(|e| e.file_name() != ".lock");
            if foreign {
                return Err(BackupError::NotABackupFolder(root.to_owned()));
            }
        }
        let lock = lock(root)?;
        let mut key = None;
        if marker_path.exists() {
            let marker = read_marker(root)?;
            match (&marker.encryption, passphrase) {
                (Some(_), None) => return Err(BackupError::PassphraseNeeded(root.to_owned())),
                (None, Some(_)) if create => return Err(BackupError::NotEncrypted(root.to_owned())),
                (Some(_), Some(p)) => {
                    let bytes = std::fs::read(root.join(KEY_FILE)).map_err(io(format!("reading {KEY_FILE}")))?;
                    key = Some(FolderKey::open(&bytes, p)?);
                }
                _ => {}
            }
        } else {
            // A new folder: the key first, the marker last (its presence says
            // the folder is set up).
            let mut marker = Marker { format: FORMAT.into(), encryption: None, recipient: None };
            if let Some(p) = passphrase {
                let (k, key_file) = FolderKey::generate(p)?;
                write_synced(&root.join(KEY_FILE), &key_file)?;
                marker.encryption = Some("age-x25519".into());
                marker.recipient = Some(k.recipient());
                key = Some(k);
            }
            let text = serde_json::to_vec_pretty(&marker).map_err(|e| BackupError::Other(e.to_string()))?;
            write_synced(&marker_path, &text)?;
            sync_dir(root)?;
        }
        Ok(Self { root: root.to_owned(), key, _lock: lock })
    }

    fn snapshots(&self) -> PathBuf {
        self.root.join(SNAPSHOTS)
    }

    fn object_path(&self, sha: &str) -> PathBuf {
        self.root.join(OBJECTS).join(&sha[..2]).join(sha)
    }

    /// Removes what a killed run left: partial snapshots, half-deleted ones,
    /// temporary objects.
    fn clean_leftovers(&self) -> Result<(), BackupError> {
        if let Ok(entries) = std::fs::read_dir(self.snapshots()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(PARTIAL) || name.starts_with(DELETING) {
                    std::fs::remove_dir_all(e.path()).map_err(io(format!("removing the leftover {name}")))?;
                }
            }
        }
        if let Ok(shards) = std::fs::read_dir(self.root.join(OBJECTS)) {
            for shard in shards.flatten() {
                for e in std::fs::read_dir(shard.path()).into_iter().flatten().flatten() {
                    if e.file_name().to_string_lossy().starts_with(".tmp-") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        Ok(())
    }

    /// Stores `plain` (whose SHA-256 is `sha`) as an object unless it is
    /// there already; returns whether it was copied.
    fn put_bytes(&self, sha: &str, plain: &[u8]) -> Result<bool, BackupError> {
        let path = self.object_path(sha);
        if path.exists() {
            return Ok(false);
        }
        self.write_object(&path, &mut &plain[..], None)?;
        Ok(true)
    }

    /// Streams the file at `source` into the object `sha`, checking on the
    /// way that its content has that hash. `Ok(None)`: already there.
    fn put_file(&self, sha: &str, source: &Path) -> Result<Option<u64>, SourceOrBackup> {
        let path = self.object_path(sha);
        if path.exists() {
            return Ok(None);
        }
        let file = std::fs::File::open(source)
            .map_err(|e| SourceOrBackup::Source(format!("{}: cannot read it: {e} (missing)", source.display())))?;
        let mut hashing = HashingReader::new(file);
        self.write_object(&path, &mut hashing, Some(sha)).map_err(|e| match e {
            BackupError::Other(m) => SourceOrBackup::Source(format!("{}: {m}", source.display())),
            e => SourceOrBackup::Backup(e),
        })?;
        Ok(Some(hashing.bytes))
    }

    /// Writes an object: to a temporary name, encrypted if the folder is,
    /// synced, and renamed. With `expect`, the reader must hash to it (the
    /// caller's reader hashes); a mismatch leaves nothing behind.
    fn write_object(&self, path: &Path, plain: &mut dyn Read, expect: Option<&str>) -> Result<(), BackupError> {
        let dir = path.parent().expect("objects/ab");
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let tmp = dir.join(format!(".tmp-{}-{}", path.file_name().unwrap().to_string_lossy(), std::process::id()));
        let mut out = std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let mut hashing = HashingReader::new(plain);
        let written = match &self.key {
            Some(key) => key.encrypt(&mut hashing, &mut out).map_err(BackupError::from),
            None => std::io::copy(&mut hashing, &mut out).map(|_| ()).map_err(io(format!("writing {}", tmp.display()))),
        }
        .and_then(|()| out.sync_all().map_err(io(format!("syncing {}", tmp.display()))));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Some(expect) = expect {
            let found = hashing.hex();
            if found != expect {
                let _ = std::fs::remove_file(&tmp);
                return Err(BackupError::Other(format!("its content has SHA-256 {found}, not {expect} (altered)")));
            }
        }
        std::fs::rename(&tmp, path).map_err(io(format!("renaming {}", tmp.display())))?;
        sync_dir(dir)
    }

    /// Reads an object's plaintext.
    fn read_object(&self, sha: &str) -> Result<Vec<u8>, String> {
        let path = self.object_path(sha);
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e} (missing)", rel(&self.root, &path)))?;
        let mut plain = Vec::new();
        match &self.key {
            Some(key) => key
                .decrypt(std::io::BufReader::new(file), &rel(&self.root, &path))
                .map_err(|e| e.to_string())?
                .read_to_end(&mut plain),
            None => std::io::BufReader::new(file).read_to_end(&mut plain),
        }
        .map_err(|e| format!("{}: {e}", rel(&self.root, &path)))?;
        Ok(plain)
    }

    /// The complete snapshots, oldest first.
    fn snapshot_names(&self) -> Result<Vec<String>, BackupError> {
        complete_snapshots(&self.root)
    }
}

/// The complete snapshots of the backup folder at `root`, oldest first: a
/// name without the leading dot, holding its manifest.
fn complete_snapshots(root: &Path) -> Result<Vec<String>, BackupError> {
    let dir = root.join(SNAPSHOTS);
    let mut names = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && e.path().join(MANIFEST).exists() {
                    names.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("reading {}", dir.display()))(e)),
    }
    names.sort();
    Ok(names)
}

enum SourceOrBackup {
    Source(String),
    Backup(BackupError),
}

fn lock(root: &Path) -> Result<std::fs::File, BackupError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(".lock"))
        .map_err(io(format!("opening the lock file in {}", root.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Busy(root.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(format!("locking {}", root.display()))(e)),
    }
}

fn read_marker(root: &Path) -> Result<Marker, BackupError> {
    let bytes = std::fs::read(root.join(MARKER)).map_err(io(format!("reading {}", root.join(MARKER).display())))?;
    let marker: Marker = serde_json::from_slice(&bytes)
        .map_err(|e| BackupError::UnknownFormat(root.to_owned(), format!("unreadable {MARKER}: {e}")))?;
    if marker.format != FORMAT {
        return Err(BackupError::UnknownFormat(root.to_owned(), marker.format));
    }
    Ok(marker)
}

/// A reader that hashes and counts what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self { inner, hasher: Sha256::new(), bytes: 0 }
    }
    fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut f = std::fs::File::create(path).map_err(io(format!("creating {}", path.display())))?;
    f.write_all(bytes).map_err(io(format!("writing {}", path.display())))?;
    f.sync_all().map_err(io(format!("syncing {}", path.display())))
}

/// Makes a rename or a new file in `dir` durable (a no-op where a folder
/// cannot be opened, as on Windows).
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(format!("syncing the folder {}", dir.display())))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Whether `path` from a manifest is one of the two places a backup
/// restores files to (`photos/`, `files/`): a restore writes nowhere else,
/// whatever a manifest says.
fn is_data_path(path: &str) -> bool {
    matches!(crate::photos::parse_key(path), Some(("photos" | "files", _)))
}

/// Options of one backup run.
#[derive(Default)]
pub struct BackupOptions {
    pub passphrase: Option<SecretString>,
}

/// Backs up the data dir into the backup folder `target` (made if missing).
/// Safe while the server runs. Does not prune: see [`prune`].
pub fn backup(
    data_dir: &Path,
    target: &Path,
    options: &BackupOptions,
    now: jiff::Timestamp,
) -> Result<BackupReport, BackupError> {
    let started = std::time::Instant::now();
    let db_path = crate::Config::new(data_dir).db_path();
    if !db_path.exists() {
        return Err(BackupError::NoData(data_dir.to_owned()));
    }
    if let (Ok(data), Ok(to)) = (std::fs::canonicalize(data_dir), std::path::absolute(target)) {
        let to = std::fs::canonicalize(&to).unwrap_or(to);
        if to.starts_with(&data) {
            return Err(BackupError::InsideDataDir(target.to_owned()));
        }
    }
    let folder = Folder::open(target, options.passphrase.as_ref(), true)?;
    folder.clean_leftovers()?;
    let snapshots = folder.snapshots();
    std::fs::create_dir_all(&snapshots).map_err(io(format!("creating {}", snapshots.display())))?;

    // A name that sorts by time; a second backup in the same second gets a suffix.
    let base = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut name = base.clone();
    let mut n = 1;
    while snapshots.join(&name).exists() {
        n += 1;
        name = format!("{base}-{n}");
    }
    let partial = snapshots.join(format!("{PARTIAL}{name}"));
    std::fs::create_dir(&partial).map_err(io(format!("creating {}", partial.display())))?;

    // 1. The database, as of one commit. Its facts are read from the copy.
    let plain_db = partial.join(format!("{DB_FILE}.plain"));
    snapshot_into(&db_path, &plain_db).map_err(|e| BackupError::Other(e.to_string()))?;
    let facts = snapshot_facts(&plain_db).map_err(BackupError::Other)?;
    let (db_sha, db_bytes) = {
        let mut r = HashingReader::new(std::fs::File::open(&plain_db).map_err(io("reading the snapshot"))?);
        std::io::copy(&mut r, &mut std::io::sink()).map_err(io("hashing the snapshot"))?;
        (r.hex(), r.bytes)
    };
    let db_file = match &folder.key {
        Some(key) => {
            let name = format!("{DB_FILE}.age");
            let out_path = partial.join(&name);
            let mut out = std::fs::File::create(&out_path).map_err(io(format!("creating {}", out_path.display())))?;
            let mut plain = std::fs::File::open(&plain_db).map_err(io("reading the snapshot"))?;
            key.encrypt(&mut plain, &mut out)?;
            out.sync_all().map_err(io("syncing the snapshot"))?;
            drop(plain);
            std::fs::remove_file(&plain_db).map_err(io("removing the plaintext snapshot"))?;
            name
        }
        None => {
            let final_path = partial.join(DB_FILE);
            std::fs::rename(&plain_db, &final_path).map_err(io("naming the snapshot"))?;
            std::fs::File::open(&final_path).and_then(|f| f.sync_all()).map_err(io("syncing the snapshot"))?;
            DB_FILE.to_owned()
        }
    };

    // 2. Every file the snapshot lists, copied only if the folder lacks it.
    let mut tally = Tally { bytes_copied: db_bytes, ..Tally::default() };
    let mut objects = Vec::new();
    let mut swept = Vec::new();
    for photo in &facts.photos {
        let rel_path = crate::photos::photo_key(&photo.sha256);
        if !tally.take(&folder, data_dir, rel_path.clone(), &photo.sha256, photo.byte_len, &mut objects)? {
            // Swept meanwhile (an unreferenced upload past its time)? Then
            // the live database no longer lists it either.
            if !data_dir.join(&rel_path).exists() && !live_lists_photo(&db_path, &photo.sha256) {
                tally.source_problems.pop();
                swept.push(photo.sha256.clone());
            }
            continue;
        }
        // Thumbnails are not named by their own hash: hash them here.
        let thumb = crate::photos::thumbnail_key(&photo.sha256);
        match std::fs::read(data_dir.join(&thumb)) {
            Ok(bytes) => {
                let sha = sha256_hex(&bytes);
                if folder.put_bytes(&sha, &bytes)? {
                    tally.copied += 1;
                    tally.bytes_copied += bytes.len() as u64;
                } else {
                    tally.reused += 1;
                }
                objects.push(Object { path: thumb, sha256: sha, bytes: bytes.len() as u64 });
            }
            Err(e) => tally
                .source_problems
                .push(format!("{}: cannot read it: {e} (missing)", data_dir.join(&thumb).display())),
        }
    }
    for file in &facts.files {
        tally.take(
            &folder,
            data_dir,
            crate::photos::file_key(&file.sha256),
            &file.sha256,
            file.byte_len,
            &mut objects,
        )?;
    }

    // 3. The manifest, last; then the snapshot gets its name.
    let manifest = Manifest {
        format: FORMAT.into(),
        name: name.clone(),
        created_at: now,
        software_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: facts.schema_version,
        encrypted: folder.key.is_some(),
        database: DbEntry { file: db_file, sha256: db_sha, bytes: db_bytes },
        chain: Chain { length: facts.chain.length, head: facts.chain.head.clone() },
        counts: counts(&facts),
        objects,
        swept_during_backup: swept,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Other(e.to_string()))?;
    write_synced(&partial.join(MANIFEST), &text)?;
    write_synced(&partial.join(MANIFEST_SUM), format!("{}  {MANIFEST}\n", sha256_hex(&text)).as_bytes())?;
    sync_dir(&partial)?;
    let final_dir = snapshots.join(&name);
    std::fs::rename(&partial, &final_dir).map_err(io(format!("naming the snapshot {name}")))?;
    sync_dir(&snapshots)?;
    Ok(BackupReport {
        snapshot: name,
        path: final_dir,
        manifest,
        objects_copied: tally.copied,
        objects_reused: tally.reused,
        bytes_copied: tally.bytes_copied,
        duration: started.elapsed(),
        source_problems: tally.source_problems,
    })
}

/// What a run copied, reused and could not take.
#[derive(Default)]
struct Tally {
    copied: u64,
    reused: u64,
    bytes_copied: u64,
    source_problems: Vec<String>,
}

impl Tally {
    /// Takes the data dir's file `rel_path` (content hash `sha`) into the
    /// folder; false (and a source problem) when it is missing or altered.
    fn take(
        &mut self,
        folder: &Folder,
        data_dir: &Path,
        rel_path: String,
        sha: &str,
        bytes: u64,
        objects: &mut Vec<Object>,
    ) -> Result<bool, BackupError> {
        match folder.put_file(sha, &data_dir.join(&rel_path)) {
            Ok(Some(n)) => {
                self.copied += 1;
                self.bytes_copied += n;
            }
            Ok(None) => self.reused += 1,
            Err(SourceOrBackup::Source(problem)) => {
                self.source_problems.push(problem);
                return Ok(false);
            }
            Err(SourceOrBackup::Backup(e)) => return Err(e),
        }
        objects.push(Object { path: rel_path, sha256: sha.to_owned(), bytes });
        Ok(true)
    }
}

fn counts(facts: &SnapshotFacts) -> Counts {
    Counts {
        findings: facts.findings,
        cases: facts.cases,
        bulletins: facts.bulletins,
        photos: facts.photos.len() as u64,
        files: facts.files.len() as u64,
    }
}

fn live_lists_photo(db_path: &Path, sha: &str) -> bool {
    crate::db::backup::live_has_photo(db_path, sha).unwrap_or(true)
}

/// A snapshot found from what the person named: the backup folder (its
/// newest snapshot) or one snapshot's own folder.
struct Located {
    root: PathBuf,
    name: String,
}

fn locate(path: &Path) -> Result<Located, BackupError> {
    if path.join(MARKER).exists() {
        let marker_root = path.to_owned();
        read_marker(&marker_root)?;
        let name = complete_snapshots(&marker_root)?.pop().ok_or_else(|| BackupError::NoSnapshot(path.to_owned()))?;
        return Ok(Located { root: marker_root, name });
    }
    if path.join(MANIFEST).exists() || path.join(MANIFEST_SUM).exists() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let root = path.parent().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
        if root.join(MARKER).exists() && !name.starts_with('.') {
            read_marker(&root)?;
            return Ok(Located { root, name });
        }
    }
    Err(BackupError::NotABackup(path.to_owned()))
}

/// Reads a snapshot's manifest, checking it against `manifest.sha256`.
fn read_manifest(dir: &Path, name: &str) -> Result<Manifest, BackupError> {
    let damaged = |detail: String| BackupError::ManifestDamaged { snapshot: name.to_owned(), detail };
    let text = std::fs::read(dir.join(MANIFEST)).map_err(|e| damaged(format!("cannot read {MANIFEST}: {e}")))?;
    let sums = std::fs::read_to_string(dir.join(MANIFEST_SUM))
        .map_err(|e| damaged(format!("cannot read {MANIFEST_SUM}: {e}")))?;
    let expected = sums.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    let found = sha256_hex(&text);
    if found != expected {
        return Err(damaged(format!("{MANIFEST} has SHA-256 {found}, but {MANIFEST_SUM} says {expected}")));
    }
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| damaged(format!("unreadable: {e}")))?;
    if manifest.format != FORMAT {
        return Err(damaged(format!("format {:?}, this anfang-server knows {FORMAT}", manifest.format)));
    }
    if manifest.name != name {
        return Err(damaged(format!("it describes the snapshot {:?}", manifest.name)));
    }
    if let Some(bad) = manifest.objects.iter().find(|o| !is_data_path(&o.path) || o.sha256.len() != 64) {
        return Err(damaged(format!("it lists a file outside the data dir's photos/ and files/: {:?}", bad.path)));
    }
    Ok(manifest)
}

/// What `backup verify` found.
#[derive(Debug)]
pub struct VerifyReport {
    pub root: PathBuf,
    pub manifest: Manifest,
}

/// Checks a backup without restoring it: the manifest against its hash, the
/// database snapshot against the manifest, and every object against its
/// hash (decrypting where the folder is encrypted). `path` is a backup
/// folder (its newest snapshot is checked) or a snapshot's folder.
pub fn verify(path: &Path, passphrase: Option<&SecretString>) -> Result<VerifyReport, BackupError> {
    let located = locate(path)?;
    let folder = Folder::open(&located.root, passphrase, false)?;
    let dir = folder.snapshots().join(&located.name);
    let manifest = read_manifest(&dir, &located.name)?;
    check_encryption(&folder, &manifest)?;
    let damaged = |detail: String| BackupError::SnapshotDamaged { snapshot: located.name.clone(), detail };
    let db = std::fs::File::open(dir.join(&manifest.database.file))
        .map_err(|e| damaged(format!("cannot read {}: {e}", manifest.database.file)))?;
    let mut plain = HashingReader::new(open_plain(&folder, db, &manifest.database.file)?);
    std::io::copy(&mut plain, &mut std::io::sink())
        .map_err(|e| damaged(format!("cannot read {}: {e}", manifest.database.file)))?;
    if plain.hex() != manifest.database.sha256 || plain.bytes != manifest.database.bytes {
        return Err(damaged(format!(
            "{} has SHA-256 {} ({} bytes), the manifest says {} ({} bytes)",
            manifest.database.file,
            plain.hex(),
            plain.bytes,
            manifest.database.sha256,
            manifest.database.bytes
        )));
    }
    let mut problems = Vec::new();
    for o in &manifest.objects {
        match folder.read_object(&o.sha256) {
            Ok(bytes) if sha256_hex(&bytes) == o.sha256 && bytes.len() as u64 == o.bytes => {}
            Ok(bytes) => problems.push(format!(
                "{} (object {}) has SHA-256 {}, not {} (damaged)",
                o.path,
                o.sha256,
                sha256_hex(&bytes),
                o.sha256
            )),
            Err(e) => problems.push(format!("{} (object {}): {e}", o.path, o.sha256)),
        }
    }
    if !problems.is_empty() {
        return Err(BackupError::ObjectsDamaged(problems));
    }
    Ok(VerifyReport { root: located.root, manifest })
}

fn check_encryption(folder: &Folder, manifest: &Manifest) -> Result<(), BackupError> {
    if manifest.encrypted && folder.key.is_none() {
        return Err(BackupError::PassphraseNeeded(folder.root.clone()));
    }
    Ok(())
}

fn open_plain<'a>(folder: &'a Folder, file: std::fs::File, name: &str) -> Result<Box<dyn Read + 'a>, BackupError> {
    let file = std::io::BufReader::new(file);
    Ok(match &folder.key {
        Some(key) => key.decrypt(file, name)?,
        None => Box::new(file),
    })
}

/// What a restore did, and what `verify` found on the result.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    pub data_dir: PathBuf,
    pub audit: evidence::Audit,
}

impl RestoreReport {
    /// The chain head the manifest promised against the one the restored
    /// installation has: they must be equal, and `audit` clean.
    pub fn matches(&self) -> bool {
        self.audit.problems.is_empty()
            && self
                .audit
                .head
                .as_ref()
                .is_some_and(|h| h.length == self.manifest.chain.length && h.head == self.manifest.chain.head)
    }
}

/// Restores a backup into `data_dir`, which must be new or empty, then runs
/// the evidence audit (`verify`) on the result against the manifest's chain
/// head. Everything is written into a temporary folder beside `data_dir`
/// and renamed at the end: a failed restore leaves no half data dir.
pub fn restore(from: &Path, data_dir: &Path, passphrase: Option<&SecretString>) -> Result<RestoreReport, BackupError> {
    if data_dir.exists() {
        let non_empty =
            std::fs::read_dir(data_dir).map_err(io(format!("reading {}", data_dir.display())))?.next().is_some();
        if non_empty {
            return Err(BackupError::TargetNotEmpty(data_dir.to_owned()));
        }
    }
    // Restored files are the server user's alone, like a live data dir.
    crate::owner_only_from_now();
    let located = locate(from)?;
    let folder = Folder::open(&located.root, passphrase, false)?;
    let dir = folder.snapshots().join(&located.name);
    let manifest = read_manifest(&dir, &located.name)?;
    check_encryption(&folder, &manifest)?;

    let file_name =
        data_dir.file_name().ok_or_else(|| BackupError::Other(format!("{} names no folder", data_dir.display())))?;
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(format!("creating {}", parent.display())))?;
    let staging = parent.join(format!(".{}.restoring-{}", file_name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(io(format!("creating {}", staging.display())))?;
    let result = restore_into(&folder, &dir, &manifest, &staging, &located.name);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if data_dir.exists() {
        std::fs::remove_dir(data_dir).map_err(io(format!("replacing the empty {}", data_dir.display())))?;
    }
    std::fs::rename(&staging, data_dir).map_err(io(format!("naming the restored {}", data_dir.display())))?;
    sync_dir(&parent)?;

    let db_path = crate::Config::new(data_dir).db_path();
    let audited = evidence::open_for_audit(&db_path).map_err(BackupError::Other)?;
    let expected = ChainHead { length: manifest.chain.length, head: manifest.chain.head.clone() };
    let audit = audited
        .audit(&evidence::PhotoDir::new(data_dir), Some(&expected))
        .map_err(|e| BackupError::Other(e.to_string()))?;
    Ok(RestoreReport { manifest, data_dir: data_dir.to_owned(), audit })
}

fn restore_into(
    folder: &Folder,
    dir: &Path,
    manifest: &Manifest,
    staging: &Path,
    name: &str,
) -> Result<(), BackupError> {
    let damaged = |detail: String| BackupError::SnapshotDamaged { snapshot: name.to_owned(), detail };
    let db_out = staging.join(DB_FILE);
    {
        let db = std::fs::File::open(dir.join(&manifest.database.file))
            .map_err(|e| damaged(format!("cannot read {}: {e}", manifest.database.file)))?;
        let mut plain = HashingReader::new(open_plain(folder, db, &manifest.database.file)?);
        let mut out = std::fs::File::create(&db_out).map_err(io(format!("creating {}", db_out.display())))?;
        std::io::copy(&mut plain, &mut out)
            .map_err(|e| damaged(format!("cannot read {}: {e}", manifest.database.file)))?;
        if plain.hex() != manifest.database.sha256 {
            return Err(damaged(format!(
                "{} has SHA-256 {}, the manifest says {}",
                manifest.database.file,
                plain.hex(),
                manifest.database.sha256
            )));
        }
        out.sync_all().map_err(io("syncing the restored database"))?;
    }
    if !manifest.swept_during_backup.is_empty() {
        crate::db::backup::drop_swept_photos(&db_out, &manifest.swept_during_backup)
            .map_err(|e| BackupError::Other(e.to_string()))?;
    }
    let mut problems = Vec::new();
    for o in &manifest.objects {
        match folder.read_object(&o.sha256) {
            Ok(bytes) if sha256_hex(&bytes) == o.sha256 => {
                let out = staging.join(&o.path);
                std::fs::create_dir_all(out.parent().unwrap()).map_err(io(format!("creating {}", out.display())))?;
                write_synced(&out, &bytes)?;
            }
            Ok(bytes) => {
                problems.push(format!("{} has SHA-256 {}, not {} (damaged)", o.path, sha256_hex(&bytes), o.sha256))
            }
            Err(e) => problems.push(format!("{}: {e}", o.path)),
        }
    }
    if !problems.is_empty() {
        return Err(BackupError::ObjectsDamaged(problems));
    }
    // The upload folder a server expects, empty.
    std::fs::create_dir_all(staging.join("uploads")).map_err(io("creating uploads/"))?;
    Ok(())
}

/// What pruning removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub kept: Vec<String>,
    pub removed: Vec<String>,
    pub objects_removed: u64,
    pub bytes_freed: u64,
}

/// Applies the retention rule to the backup folder: removes the snapshots it
/// does not keep, then every object no kept snapshot lists. Objects are
/// removed only when every kept manifest could be read.
pub fn prune(
    target: &Path,
    keep_daily: u32,
    keep_monthly: u32,
    tz: &jiff::tz::TimeZone,
) -> Result<PruneReport, BackupError> {
    let folder = Folder::open(target, None, false).or_else(|e| match e {
        // Pruning decrypts nothing: open an encrypted folder without its key.
        BackupError::PassphraseNeeded(_) => Ok(Folder { root: target.to_owned(), key: None, _lock: lock(target)? }),
        e => Err(e),
    })?;
    folder.clean_leftovers()?;
    let names = folder.snapshot_names()?;
    let mut taken = Vec::new();
    let mut manifests = Vec::new();
    let mut unreadable = false;
    for name in &names {
        match read_manifest(&folder.snapshots().join(name), name) {
            Ok(m) => {
                taken.push(retention::Taken { name: name.clone(), at: m.created_at });
                manifests.push(m);
            }
            Err(e) => {
                // Never removed here: a person should look at it.
                tracing::warn!(snapshot = %name, error = %e, "backup snapshot with a damaged manifest; kept");
                unreadable = true;
            }
        }
    }
    let keep = retention::kept(&taken, keep_daily, keep_monthly, tz);
    let mut report = PruneReport::default();
    for t in &taken {
        if keep.contains(&t.name) {
            report.kept.push(t.name.clone());
            continue;
        }
        // Renamed first: a run killed mid-delete leaves a leftover, never a
        // snapshot with files missing under a complete-looking name.
        let dir = folder.snapshots().join(&t.name);
        let doomed = folder.snapshots().join(format!("{DELETING}{}", t.name));
        std::fs::rename(&dir, &doomed).map_err(io(format!("removing the snapshot {}", t.name)))?;
        std::fs::remove_dir_all(&doomed).map_err(io(format!("removing the snapshot {}", t.name)))?;
        report.removed.push(t.name.clone());
    }
    sync_dir(&folder.snapshots())?;
    if unreadable {
        return Ok(report);
    }
    let listed: std::collections::HashSet<&str> = manifests
        .iter()
        .filter(|m| keep.contains(&m.name))
        .flat_map(|m| m.objects.iter().map(|o| o.sha256.as_str()))
        .collect();
    for shard in std::fs::read_dir(folder.root.join(OBJECTS)).into_iter().flatten().flatten() {
        for e in std::fs::read_dir(shard.path()).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || listed.contains(name.as_str()) {
                continue;
            }
            let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(e.path()).map_err(io(format!("removing the object {name}")))?;
            report.objects_removed += 1;
            report.bytes_freed += bytes;
        }
    }
    Ok(report)
}

/// The snapshots in a backup folder with their manifests, oldest first
/// (for `backup list` and the console).
pub fn list(target: &Path) -> Result<Vec<Result<Manifest, BackupError>>, BackupError> {
    read_marker(target).map_err(|e| match e {
        BackupError::Io { .. } => BackupError::NotABackup(target.to_owned()),
        e => e,
    })?;
    let folder_snapshots = target.join(SNAPSHOTS);
    let mut names = Vec::new();
    for e in std::fs::read_dir(&folder_snapshots).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names.iter().map(|n| read_manifest(&folder_snapshots.join(n), n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_can_only_name_files_in_photos_and_files() {
        let sha = "ab".to_owned() + &"0".repeat(62);
        assert!(is_data_path(&format!("photos/ab/{sha}.jpg")));
        assert!(is_data_path(&format!("photos/ab/{sha}.thumb.jpg")));
        assert!(is_data_path(&format!("files/ab/{sha}.pdf")));
        for bad in [
            format!("photos/cd/{sha}.jpg"),
            format!("photos/ab/../../{sha}.jpg"),
            format!("../photos/ab/{sha}.jpg"),
            format!("/etc/ab/{sha}.jpg"),
            format!("anfang.sqlite3/ab/{sha}.jpg"),
            format!("photos/ab/{sha}.exe"),
            "photos/ab/x.jpg".to_owned(),
            format!("photos/ab/{}.jpg", sha.to_uppercase()),
        ] {
            assert!(!is_data_path(&bad), "{bad} accepted");
        }
    }
}
