//! Backups of a running installation: `anfang-server backup`, `backup
//! verify` and `restore` as separate processes beside the real server on a
//! real socket, findings pushed by the real sync engine meanwhile.

mod common;

use anfang_core::Card;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Runs `anfang-server` with these arguments; (exit code, stdout, stderr).
fn server_cli(args: &[&str]) -> (i32, String, String) {
    server_cli_with_stdin(args, None)
}

fn server_cli_with_stdin(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(SERVER_BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run anfang-server");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Backs up `data` into `to`; the run must succeed. Returns its output.
fn backup(data: &Path, to: &Path, extra: &[&str]) -> String {
    let mut args = vec!["backup", "--data-dir", s(data), "--to", s(to)];
    args.extend_from_slice(extra);
    let (code, out, err) = server_cli(&args);
    assert_eq!(code, 0, "backup failed:\n{out}\n{err}");
    out
}

/// "copied the database and N file(s)" of a backup's output.
fn files_copied(out: &str) -> u64 {
    let rest = out.split("copied the database and ").nth(1).expect("a copy line");
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// The newest snapshot's manifest in a backup folder.
fn newest_manifest(folder: &Path) -> serde_json::Value {
    let mut names: Vec<String> = std::fs::read_dir(folder.join("snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    let text = std::fs::read(folder.join("snapshots").join(names.last().unwrap()).join("manifest.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

fn complete_snapshots(folder: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(folder.join("snapshots"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Records `n` findings on `device`, each with `photos` photos, and syncs.
async fn push(server: &Server, device: &mut Device, n: u32, photos: u32, seed: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let pics = (0..photos).map(|p| processed(seed + i * 10 + p, 640, 480)).collect();
        ids.push(device.record("P001", Card::Yellow, pics).id.to_string());
    }
    let report = device.sync_via(&server.url(), fast()).await;
    assert!(report.interrupted.is_none(), "{report:?}");
    assert_eq!(report.findings_pushed, n as usize, "{report:?}");
    ids
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_backup_taken_while_findings_are_pushed_restores_every_acknowledged_finding() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_demo(&data);
    let mut device = Device::enroll(&server, 0).await;
    push(&server, &mut device, 3, 2, 1).await;

    // A second inspector pushes one finding after another on its own
    // thread while the backup runs; each id is noted once acknowledged.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = server.url();
    let code = server.demo.codes[1].1.clone();
    let pusher = {
        let (acked, stop) = (acked.clone(), stop.clone());
        let server_view = ServerView { url, code };
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let mut device = server_view.enroll().await;
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && i < 60 {
                    let id = device.record("P002", Card::Red, vec![processed(1000 + i, 160, 120)]).id.to_string();
                    let report = device.sync_via(&server_view.url, fast()).await;
                    if report.interrupted.is_none() && report.findings_pushed == 1 {
                        acked.lock().unwrap().push(id);
                    }
                    i += 1;
                }
            })
        })
    };
    // Let the pusher get going, then back up five times in the middle of
    // it, noting what was acknowledged before each backup began.
    while acked.lock().unwrap().len() < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let target = dir.path().join("usb");
    let mut taken = Vec::new();
    let first_started = acked.lock().unwrap().len();
    for _ in 0..5 {
        let before: Vec<String> = acked.lock().unwrap().clone();
        backup(&data, &target, &[]);
        taken.push((complete_snapshots(&target).pop().unwrap(), before));
    }
    let pushed_meanwhile = acked.lock().unwrap().len() - first_started;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    pusher.join().unwrap();
    assert!(pushed_meanwhile > 0, "the pusher pushed nothing while the five backups ran");

    for (i, (snapshot, before_backup)) in taken.iter().enumerate() {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).unwrap()).unwrap();
        let (code, out, err) = server_cli(&["backup", "verify", s(snapshot)]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains("intact"), "{out}");

        let restored = dir.path().join(format!("restored{i}"));
        let (code, out, err) = server_cli(&["restore", "--from", s(snapshot), "--data-dir", s(&restored)]);
        assert_eq!(code, 0, "restore:\n{out}\n{err}");
        let head = manifest["chain"]["head"].as_str().unwrap();
        let length = manifest["chain"]["length"].as_i64().unwrap();
        assert!(out.contains(&format!("expected chain head: length {length} head {head}")), "{out}");
        assert!(out.contains(&format!("found chain head:    length {length} head {head}")), "{out}");
        assert!(out.contains("all intact, the same evidence as the backup"), "{out}");

        // `verify` on the restored data dir agrees, as a separate command.
        let (code, out, _) = server_cli(&[
            "verify",
            "--data-dir",
            s(&restored),
            "--expect-head",
            head,
            "--expect-length",
            &length.to_string(),
        ]);
        assert_eq!(code, 0, "{out}");

        // Served, the restored installation holds every finding acknowledged
        // before the backup began, with its photos.
        let mut served = Server::start(&restored, "127.0.0.1:0", false);
        served.demo = server.demo.clone();
        let token = served.admin_token().await;
        let findings = served.office_findings(&token).await;
        let ids: std::collections::HashSet<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
        for id in before_backup {
            assert!(ids.contains(id.as_str()), "finding {id} acknowledged before backup {i} is missing after restore");
        }
        assert_eq!(findings.len() as i64, manifest["counts"]["findings"].as_i64().unwrap());
        let photo =
            findings.iter().find_map(|f| f["photos"][0]["sha256"].as_str().map(str::to_owned)).expect("a photo");
        let bytes = served.photo_bytes(&token, &photo).await;
        assert_eq!(sha256_hex(&bytes), photo);
    }
}

/// What the pusher thread needs to enroll a second phone.
struct ServerView {
    url: String,
    code: String,
}

impl ServerView {
    async fn enroll(&self) -> Device {
        use anfang_core::http::HttpTransport;
        use anfang_core::protocol::EnrollRequest;
        use anfang_core::store::Enrollment;
        let dir = tempfile::tempdir().unwrap();
        let mut store = anfang_core::Store::open(dir.path().join("device.sqlite3")).unwrap();
        let public_key = store.device_key().unwrap().public_key_hex();
        let res = HttpTransport::enroll(
            &self.url,
            &EnrollRequest { code: self.code.clone(), device_label: Some("pusher".into()), public_key },
        )
        .await
        .expect("enroll");
        store
            .save_enrollment(&Enrollment {
                server_url: self.url.clone(),
                device_id: res.device_id.to_string(),
                token: res.token,
                alias: res.alias,
            })
            .unwrap();
        let mut device = Device { store, dir };
        device.sync_via(&self.url, fast()).await;
        device
    }
}

#[tokio::test]
async fn a_second_backup_copies_no_photo_and_after_ten_findings_only_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_demo(&data);
    let mut device = Device::enroll(&server, 0).await;
    push(&server, &mut device, 4, 2, 10).await;
    let target = dir.path().join("nas");

    let first = backup(&data, &target, &[]);
    assert_eq!(files_copied(&first), 16, "8 photos and their 8 thumbnails:\n{first}");
    let second = backup(&data, &target, &[]);
    assert_eq!(files_copied(&second), 0, "nothing new:\n{second}");
    assert!(second.contains("16 already there"), "{second}");

    push(&server, &mut device, 10, 1, 500).await;
    let third = backup(&data, &target, &[]);
    assert_eq!(files_copied(&third), 20, "ten new photos and their thumbnails:\n{third}");
    assert!(third.contains("16 already there"), "{third}");
    let objects = walk_files(&target.join("objects"));
    assert_eq!(objects, 36, "one object per distinct file across the three backups");
    assert_eq!(newest_manifest(&target)["counts"]["findings"], 14);

    // Retention: keep one day and no month: the two older snapshots of
    // today go; objects only they listed would go too (none here: the
    // newest lists every photo).
    let pruned = backup(&data, &target, &["--keep-daily", "1", "--keep-monthly", "0"]);
    assert!(pruned.contains("kept 1 backup(s), removed 3"), "{pruned}");
    assert_eq!(complete_snapshots(&target).len(), 1);
    let (code, out, err) = server_cli(&["backup", "verify", s(&target)]);
    assert_eq!(code, 0, "{out}\n{err}");
}

fn walk_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            n += walk_files(&e.path());
        } else if !e.file_name().to_string_lossy().starts_with('.') {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn restore_refuses_a_used_folder_and_a_damaged_backup_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_demo(&data);
    let mut device = Device::enroll(&server, 0).await;
    push(&server, &mut device, 2, 1, 40).await;
    let target = dir.path().join("usb");
    backup(&data, &target, &[]);
    let snapshot = complete_snapshots(&target).pop().unwrap();

    // Not into a folder that holds anything.
    let used = dir.path().join("used");
    std::fs::create_dir(&used).unwrap();
    std::fs::write(used.join("notes.txt"), "mine").unwrap();
    let (code, _, err) = server_cli(&["restore", "--from", s(&target), "--data-dir", s(&used)]);
    assert_ne!(code, 0);
    assert!(err.contains("is not empty; restore into a new, empty folder"), "{err}");
    assert_eq!(std::fs::read_to_string(used.join("notes.txt")).unwrap(), "mine", "nothing touched");

    // Nor a backup into the data dir, or into a folder that is not a backup's.
    let (code, _, err) = server_cli(&["backup", "--data-dir", s(&data), "--to", s(&data.join("backup"))]);
    assert_ne!(code, 0);
    assert!(err.contains("is inside the data dir"), "{err}");
    let (code, _, err) = server_cli(&["backup", "--data-dir", s(&data), "--to", s(&used)]);
    assert_ne!(code, 0);
    assert!(err.contains("is not empty and is not an Anfang backup folder"), "{err}");
    let (code, _, err) = server_cli(&["backup", "verify", s(&used)]);
    assert_ne!(code, 0);
    assert!(err.contains("holds no Anfang backup"), "{err}");

    // Not into the live data dir either.
    let (code, _, err) = server_cli(&["restore", "--from", s(&target), "--data-dir", s(&data)]);
    assert_ne!(code, 0);
    assert!(err.contains("is not empty"), "{err}");

    // A flipped byte in the manifest.
    let manifest = snapshot.join("manifest.json");
    let original = std::fs::read(&manifest).unwrap();
    flip_byte(&manifest, 200);
    let fresh = dir.path().join("fresh1");
    let (code, _, err) = server_cli(&["restore", "--from", s(&target), "--data-dir", s(&fresh)]);
    assert_ne!(code, 0);
    assert!(err.contains("the manifest of") && err.contains("is damaged"), "{err}");
    assert!(!fresh.exists(), "a refused restore leaves no data dir");
    let (code, _, err) = server_cli(&["backup", "verify", s(&target)]);
    assert_ne!(code, 0);
    assert!(err.contains("manifest.json has SHA-256"), "{err}");
    std::fs::write(&manifest, &original).unwrap();

    // A flipped byte in the database snapshot.
    let db = snapshot.join("anfang.sqlite3");
    let original = std::fs::read(&db).unwrap();
    flip_byte(&db, original.len() / 2);
    let (code, _, err) = server_cli(&["restore", "--from", s(&target), "--data-dir", s(&fresh)]);
    assert_ne!(code, 0);
    assert!(err.contains("the database snapshot of") && err.contains("the manifest says"), "{err}");
    assert!(!fresh.exists());
    std::fs::write(&db, &original).unwrap();

    // A flipped byte in one photo: named by its place in the data dir.
    let m = newest_manifest(&target);
    let photo =
        m["objects"].as_array().unwrap().iter().find(|o| o["path"].as_str().unwrap().ends_with(".jpg")).unwrap();
    let sha = photo["sha256"].as_str().unwrap();
    let object = target.join("objects").join(&sha[..2]).join(sha);
    flip_byte(&object, 1000);
    let (code, _, err) = server_cli(&["backup", "verify", s(&snapshot)]);
    assert_ne!(code, 0);
    assert!(err.contains(photo["path"].as_str().unwrap()) && err.contains("damaged"), "{err}");
    let (code, _, err) = server_cli(&["restore", "--from", s(&snapshot), "--data-dir", s(&fresh)]);
    assert_ne!(code, 0);
    assert!(err.contains(photo["path"].as_str().unwrap()), "{err}");
    assert!(!fresh.exists());
    flip_byte(&object, 1000);

    // Repaired, it restores.
    let (code, out, err) = server_cli(&["restore", "--from", s(&snapshot), "--data-dir", s(&fresh)]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[tokio::test]
async fn an_encrypted_backup_needs_its_passphrase_and_refuses_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_demo(&data);
    let mut device = Device::enroll(&server, 0).await;
    push(&server, &mut device, 2, 1, 70).await;
    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let target = dir.path().join("offsite");
    backup(&data, &target, &["--passphrase-file", s(&pass)]);

    // Nothing in the folder is readable without the key: no JPEG, no SQLite.
    let snapshot = complete_snapshots(&target).pop().unwrap();
    assert!(!snapshot.join("anfang.sqlite3").exists());
    let db = std::fs::read(snapshot.join("anfang.sqlite3.age")).unwrap();
    assert!(db.starts_with(b"age-encryption.org/v1"), "an age file");
    for e in std::fs::read_dir(target.join("objects")).unwrap().flatten() {
        for o in std::fs::read_dir(e.path()).unwrap().flatten() {
            let bytes = std::fs::read(o.path()).unwrap();
            assert!(bytes.starts_with(b"age-encryption.org/v1"), "{} is not encrypted", o.path().display());
        }
    }

    let (code, _, err) = server_cli(&["backup", "verify", s(&target)]);
    assert_ne!(code, 0);
    assert!(err.contains("are encrypted: give the passphrase"), "{err}");
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, "incorrect horse\n").unwrap();
    let fresh = dir.path().join("fresh");
    let (code, _, err) =
        server_cli(&["restore", "--from", s(&target), "--data-dir", s(&fresh), "--passphrase-file", s(&wrong)]);
    assert_ne!(code, 0);
    assert!(err.contains("the passphrase does not open this backup folder's key"), "{err}");
    assert!(!fresh.exists());
    // An unencrypted backup cannot be added to the encrypted folder.
    let (code, _, err) = server_cli(&["backup", "--data-dir", s(&data), "--to", s(&target)]);
    assert_ne!(code, 0);
    assert!(err.contains("are encrypted"), "{err}");

    // The right passphrase, from standard input this time.
    let (code, out, err) = server_cli_with_stdin(
        &["backup", "verify", s(&target), "--passphrase-file", "-"],
        Some("correct horse battery staple\n"),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) =
        server_cli(&["restore", "--from", s(&target), "--data-dir", s(&fresh), "--passphrase-file", s(&pass)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("all intact, the same evidence as the backup"), "{out}");
}

#[tokio::test]
async fn a_backup_killed_at_any_point_never_leaves_one_that_verifies_but_does_not_restore() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_demo(&data);
    let mut device = Device::enroll(&server, 0).await;
    // Enough photos that a backup takes a while to copy.
    push(&server, &mut device, 12, 3, 100).await;
    let target = dir.path().join("usb");

    // How long one backup takes here, into a throwaway folder.
    let probe = dir.path().join("probe");
    let t = std::time::Instant::now();
    backup(&data, &probe, &[]);
    let full_ms = t.elapsed().as_millis().max(20) as u64;

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    println!("kill points seeded with {seed}; a full backup takes {full_ms} ms");
    let mut state = seed | 1;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..8 {
        let delay = rnd() % (full_ms + 10);
        let mut child = Command::new(SERVER_BIN)
            .args(["backup", "--data-dir", s(&data), "--to", s(&target)])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Every snapshot that looks complete and verifies must restore.
        for snap in complete_snapshots(&target) {
            let (code, out, err) = server_cli(&["backup", "verify", s(&snap)]);
            if code != 0 {
                panic!(
                    "round {round} (killed after {delay} ms): a complete-looking snapshot does not verify:\n{out}\n{err}"
                );
            }
            let into = dir.path().join(format!("r{round}-{}", snap.file_name().unwrap().to_string_lossy()));
            let (code, out, err) = server_cli(&["restore", "--from", s(&snap), "--data-dir", s(&into)]);
            assert_eq!(code, 0, "round {round}: verified but does not restore:\n{out}\n{err}");
            std::fs::remove_dir_all(&into).unwrap();
        }
    }
    // The next backup completes, and cleans up what the killed ones left.
    let out = backup(&data, &target, &[]);
    let (code, verified, err) = server_cli(&["backup", "verify", s(&target)]);
    assert_eq!(code, 0, "{verified}\n{err}");
    let leftovers: Vec<String> = std::fs::read_dir(target.join("snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "leftovers of killed runs: {leftovers:?}\n{out}");
    assert_eq!(newest_manifest(&target)["counts"]["findings"], 12);
}

#[tokio::test]
async fn the_server_backs_itself_up_on_schedule_and_admins_see_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let target = dir.path().join("usb");
    // The office's clock reads 2026-12-01 03:10 in Shanghai; the daily
    // backup at 03:00 is due, so the first round runs it.
    let env = [("ANFANG_TEST_NOW", "2026-11-30T19:10:00Z"), ("ANFANG_BACKUP_CHECK_SECS", "1")];
    let server = Server::start_with_env(&data, "127.0.0.1:0", true, &env);
    let demo = server.demo.clone();
    let browser = common::office::Browser::login(&server, "admin", &demo.admin_password).await;
    let (_, page) = browser.get("/console/findings").await;
    assert!(page.contains("尚未设置备份"), "admins are warned before any backup is set");
    drop(server);

    let backup_args = ["--backup-to", s(&target), "--backup-at", "03:00", "--keep-daily", "3", "--keep-monthly", "2"];
    let mut server = Server::start_with_args(&data, "127.0.0.1:0", false, &env, &backup_args);
    server.demo = demo;
    let mut waited = 0;
    while complete_snapshots(&target).is_empty() {
        assert!(waited < 300, "no scheduled backup after 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let browser = common::office::Browser::login(&server, "admin", &server.demo.admin_password.clone()).await;
    // The run is recorded a moment after its snapshot is named.
    let mut page = String::new();
    for _ in 0..50 {
        page = browser.get("/console/backup").await.1;
        if page.contains("成功") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("最近一次成功备份：") && page.contains("2026-12-01 03:10"), "{page}");
    assert!(page.contains("定时"), "the run is shown as the scheduled one");
    assert!(page.contains(s(&target)), "the folder is shown");
    let (_, findings) = browser.get("/console/findings").await;
    assert!(
        !findings.contains("尚未设置备份") && !findings.contains("最近一次成功备份是"),
        "no warning after a good backup"
    );
    // Settings that cannot work are refused, saying why, and nothing changes.
    let (_, settings_page) = browser.get("/console/backup").await;
    let (status, refused) = browser
        .submit(
            &settings_page,
            "/console/backup",
            &[
                ("target", "backups"),
                ("at", "02:00"),
                ("keep_daily", "14"),
                ("keep_monthly", "12"),
                ("passphrase_file", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(refused.contains("备份目录须为绝对路径"), "{refused}");
    let (status, refused) = browser
        .submit(
            &settings_page,
            "/console/backup",
            &[
                ("target", s(&target)),
                ("at", "25:00"),
                ("keep_daily", "14"),
                ("keep_monthly", "12"),
                ("passphrase_file", ""),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(refused.contains("备份时间须为 HH:MM"), "{refused}");
    assert!(refused.contains("value=\"03:00\""), "the stored time is unchanged");

    // One run per day: nothing more within the same day.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(complete_snapshots(&target).len(), 1);

    // A leader may not see the page.
    add_user_and_check_refused(&server).await;
}

async fn add_user_and_check_refused(server: &Server) {
    let password = common::office::add_user(server, "leader1", "leader");
    let browser = common::office::Browser::login(server, "leader1", &password).await;
    let (status, _) = browser.get("/console/backup").await;
    assert_eq!(status, 403);
}
