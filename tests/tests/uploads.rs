//! Photo uploads against the real server: a stored photo carries nothing but
//! the pixels the app's pipeline writes, a device cannot hoard uploads or
//! touch another device's, and what is never used is swept.

mod common;

use anfang_core::Card;
use anfang_core::protocol::{MAX_PHOTO_BYTES, UPLOAD_CHUNK_BYTES};
use anfang_server::photos::{MAX_OPEN_UPLOAD_BYTES_PER_DEVICE, MAX_OPEN_UPLOADS_PER_DEVICE};
use common::*;
use serde_json::{Value, json};
use std::path::Path;

/// An HTTP answer: status and JSON body.
struct Answer {
    status: u16,
    body: Value,
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    Answer { status, body: res.json().await.unwrap_or(Value::Null) }
}

async fn announce(server: &Server, token: &str, sha: &str, size: u64) -> Answer {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/uploads", server.url()))
        .bearer_auth(token)
        .json(&json!({"sha256": sha, "size": size}))
        .send()
        .await
        .unwrap();
    answer(res).await
}

async fn patch(server: &Server, token: &str, sha: &str, offset: u64, bytes: &[u8]) -> Answer {
    let res = reqwest::Client::new()
        .patch(format!("{}/api/v1/uploads/{sha}", server.url()))
        .bearer_auth(token)
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    answer(res).await
}

/// Announces and sends a whole file in chunks; the last answer.
async fn upload(server: &Server, token: &str, bytes: &[u8]) -> Answer {
    let sha = sha256_hex(bytes);
    let status = announce(server, token, &sha, bytes.len() as u64).await;
    assert_eq!(status.status, 200, "announce: {}", status.body);
    let mut offset = status.body["offset"].as_u64().unwrap() as usize;
    loop {
        let end = (offset + UPLOAD_CHUNK_BYTES).min(bytes.len());
        let sent = patch(server, token, &sha, offset as u64, &bytes[offset..end]).await;
        if sent.status != 200 || sent.body["complete"] == true {
            return sent;
        }
        offset = sent.body["offset"].as_u64().unwrap() as usize;
    }
}

async fn photo_status(server: &Server, admin: &str, sha: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/v1/photos/{sha}", server.url()))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Files under the data dir's photo and upload folders whose name has `sha`.
fn files_named(data: &Path, sha: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![data.join("photos"), data.join("uploads")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().unwrap().to_string_lossy().contains(sha) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Inserts a segment right after the pipeline's APP0 (JFIF) header.
fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[2..4], &[0xFF, 0xE0], "the pipeline writes APP0 first");
    let app0_end = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
    let mut out = jpeg[..app0_end].to_vec();
    out.extend([0xFF, marker]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend(&jpeg[app0_end..]);
    out
}

/// An Exif block as a camera writes it: TIFF header and one IFD with the
/// camera's make and model.
fn exif_make_model() -> Vec<u8> {
    let (make, model) = (b"Canon\0", b"Canon EOS R5\0");
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    let data_at = 8 + 2 + 2 * 12 + 4;
    for (tag, value, at) in [(0x010Fu16, &make[..], data_at), (0x0110, &model[..], data_at + make.len())] {
        tiff.extend(tag.to_le_bytes());
        tiff.extend(2u16.to_le_bytes()); // ASCII
        tiff.extend((value.len() as u32).to_le_bytes());
        tiff.extend((at as u32).to_le_bytes());
    }
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(make);
    tiff.extend(model);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    app1
}

/// A flat grey JPEG built by hand, so that a 100-megapixel file is a few
/// hundred KB and cheap to make: one component, every block DC 0 and (for
/// baseline) end-of-block at once, each coded by a one-bit Huffman code.
/// `progressive` gives a SOF2 file with a single DC scan, which a
/// progressive decoder must hold for the whole image before it can show
/// any of it.
fn flat_grey_jpeg(width: u16, height: u16, progressive: bool) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend([0xFF, 0xE0, 0, 16]);
    out.extend(b"JFIF\0");
    out.extend([1, 2, 0, 0, 1, 0, 1, 0, 0]);
    out.extend([0xFF, 0xDB, 0, 67, 0]);
    out.extend([1u8; 64]);
    out.extend([0xFF, if progressive { 0xC2 } else { 0xC0 }, 0, 11, 8]);
    out.extend(height.to_be_bytes());
    out.extend(width.to_be_bytes());
    out.extend([1, 1, 0x11, 0]);
    // One code of length 1, for symbol 0: DC category 0 / AC end-of-block.
    let one_code = |class_and_id: u8| {
        let mut t = vec![0xFF, 0xC4, 0, 2 + 1 + 16 + 1, class_and_id, 1];
        t.extend([0u8; 15]);
        t.push(0);
        t
    };
    out.extend(one_code(0x00));
    if !progressive {
        out.extend(one_code(0x10));
    }
    out.extend([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, if progressive { 0 } else { 63 }, 0]);
    let blocks = u64::from(width).div_ceil(8) * u64::from(height).div_ceil(8);
    let bits = blocks * if progressive { 1 } else { 2 };
    out.extend(vec![0u8; bits.div_ceil(8) as usize]);
    out.extend([0xFF, 0xD9]);
    out
}

/// A baseline JPEG that is no pipeline's: the `image` crate's encoder, at a
/// size the pipeline never writes.
fn foreign_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 90]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
    out
}

/// The pipeline's photo of a grey camera file (the pipeline keeps grey).
fn grey_processed() -> Vec<u8> {
    let img = image::GrayImage::from_fn(900, 700, |x, y| image::Luma([((x * 3 + y * 5) % 256) as u8]));
    let mut camera = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut camera, 90).encode_image(&img).unwrap();
    anfang_core::photo::process(&camera, &anfang_core::photo::PhotoOptions::default()).unwrap().jpeg
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_metadata_or_not_from_the_pipeline_is_refused_with_a_code_and_not_stored() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let device = Device::enroll(&server, 0).await;
    let (token, admin) = (device.token(), server.admin_token().await);

    let photo = processed(3, 800, 600).jpeg;
    let mut trailing = photo.clone();
    trailing.extend(b"\xFF\xD8MPF preview appended by the camera");
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("Exif APP1 with make and model", with_segment(&photo, 0xE1, &exif_make_model()), "photo_metadata", "Exif"),
        (
            "XMP APP1",
            with_segment(&photo, 0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"),
            "photo_metadata",
            "XMP",
        ),
        ("ICC profile APP2", with_segment(&photo, 0xE2, b"ICC_PROFILE\0\x01\x01"), "photo_metadata", "APP2"),
        ("COM segment", with_segment(&photo, 0xFE, "拍摄：督查01".as_bytes()), "photo_metadata", "comment"),
        ("bytes after EOI", trailing, "photo_metadata", "after the end-of-image"),
        ("progressive JPEG", flat_grey_jpeg(640, 480, true), "photo_not_from_app", "progressive"),
        ("wider than the pipeline writes", foreign_jpeg(2100, 40), "photo_dimensions", "2100×40"),
        ("no JFIF header", photo[..2].iter().chain(&photo[20..]).copied().collect(), "photo_not_from_app", "JFIF"),
    ];
    for (name, bytes, code, words) in &cases {
        let sha = sha256_hex(bytes);
        let res = upload(&server, &token, bytes).await;
        assert_eq!(res.status, 422, "{name}: {}", res.body);
        assert_eq!(res.body["code"], *code, "{name}: {}", res.body);
        let message = res.body["error"].as_str().unwrap();
        assert!(message.contains(words), "{name}: the message names what is wrong: {message}");
        assert!(message.contains("discarded"), "{name}: the message says nothing was kept: {message}");
        assert_eq!(photo_status(&server, &admin, &sha).await, 404, "{name}: not stored");
        assert_eq!(files_named(data.path(), &sha), Vec::<String>::new(), "{name}: no file is left");
    }

    // What the pipeline writes is stored: small (one piece), large (bands
    // joined by restart markers) and grey.
    for (name, bytes) in
        [("small", photo.clone()), ("banded", processed(4, 3000, 2000).jpeg), ("grey", grey_processed())]
    {
        let res = upload(&server, &token, &bytes).await;
        assert_eq!((res.status, res.body["complete"].as_bool()), (200, Some(true)), "{name}: {}", res.body);
        let stored = server.photo_bytes(&admin, &sha256_hex(&bytes)).await;
        assert_eq!(stored, bytes, "{name}: stored as sent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_or_progressive_jpeg_is_refused_from_its_header_without_decoding() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let device = Device::enroll(&server, 0).await;
    let (token, admin) = (device.token(), server.admin_token().await);
    // A normal photo first, so the high-water mark includes a real decode.
    assert_eq!(upload(&server, &token, &processed(5, 2400, 1800).jpeg).await.body["complete"], true);

    // 10,000 × 10,000: a progressive decoder holds 200 MB of coefficients
    // for this grey one; a baseline one still makes 100 megapixels.
    let before = vm_hwm_kib(server.pid());
    for (name, bytes, code) in [
        ("progressive 10000×10000", flat_grey_jpeg(10_000, 10_000, true), "photo_not_from_app"),
        ("baseline 10000×10000", flat_grey_jpeg(10_000, 10_000, false), "photo_dimensions"),
    ] {
        assert!(bytes.len() < 512 * 1024, "{name}: a small file ({} bytes)", bytes.len());
        let res = upload(&server, &token, &bytes).await;
        assert_eq!((res.status, res.body["code"].as_str()), (422, Some(code)), "{name}: {}", res.body);
        assert_eq!(photo_status(&server, &admin, &sha256_hex(&bytes)).await, 404, "{name}: not stored");
    }
    let after = vm_hwm_kib(server.pid());
    let grown_mib = (after - before) as f64 / 1024.0;
    println!("server VmHWM {before} KiB before, {after} KiB after the two 100-megapixel uploads (+{grown_mib:.1} MiB)");
    // The bound: the file (< 0.5 MB here) and the chunk buffers, never pixels.
    assert!(grown_mib < 16.0, "refused from the header: peak memory grew by {grown_mib:.1} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_may_hold_only_so_many_open_uploads_and_announced_bytes() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (one, two) = (Device::enroll(&server, 0).await, Device::enroll(&server, 1).await);

    let fake = |i: u64| sha256_hex(format!("photo {i}").as_bytes());
    for i in 0..MAX_OPEN_UPLOADS_PER_DEVICE {
        let res = announce(&server, &one.token(), &fake(i), 1000).await;
        assert_eq!(res.status, 200, "upload {i}: {}", res.body);
    }
    let over = announce(&server, &one.token(), &fake(99), 1000).await;
    assert_eq!((over.status, over.body["code"].as_str()), (429, Some("upload_limit")), "{}", over.body);
    assert!(over.body["error"].as_str().unwrap().contains(&format!("at most {MAX_OPEN_UPLOADS_PER_DEVICE}")));
    // Asking about an upload it holds is not a new one; another device has
    // its own allowance.
    assert_eq!(announce(&server, &one.token(), &fake(0), 1000).await.status, 200);
    assert_eq!(announce(&server, &two.token(), &fake(99), 1000).await.status, 200);

    // Bytes: full-size photos up to the allowance, then not one byte more.
    let mut announced = 1000;
    let mut i = 100;
    while announced + MAX_PHOTO_BYTES <= MAX_OPEN_UPLOAD_BYTES_PER_DEVICE {
        let res = announce(&server, &two.token(), &fake(i), MAX_PHOTO_BYTES).await;
        assert_eq!(res.status, 200, "{}", res.body);
        announced += MAX_PHOTO_BYTES;
        i += 1;
    }
    let left = MAX_OPEN_UPLOAD_BYTES_PER_DEVICE - announced;
    assert_eq!(announce(&server, &two.token(), &fake(200), left).await.status, 200, "exactly up to the allowance");
    let over = announce(&server, &two.token(), &fake(201), 1).await;
    assert_eq!((over.status, over.body["code"].as_str()), (429, Some("upload_limit")), "{}", over.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_device_can_neither_write_to_nor_reset_a_devices_upload() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_demo(data.path());
    let (a, b) = (Device::enroll(&server, 0).await, Device::enroll(&server, 1).await);
    let admin = server.admin_token().await;
    let photo = processed(8, 1600, 1200).jpeg;
    let (sha, size) = (sha256_hex(&photo), photo.len() as u64);
    let chunk = UPLOAD_CHUNK_BYTES;
    assert!(photo.len() > 2 * chunk, "spans several chunks");

    assert_eq!(announce(&server, &a.token(), &sha, size).await.status, 200);
    let first = patch(&server, &a.token(), &sha, 0, &photo[..chunk]).await;
    assert_eq!(first.body["offset"], chunk as u64, "{}", first.body);

    // B writes at A's offset: not B's upload.
    let intrusion = patch(&server, &b.token(), &sha, chunk as u64, &[0u8; 1000]).await;
    assert_eq!(intrusion.status, 404, "{}", intrusion.body);
    assert!(intrusion.body["error"].as_str().unwrap().contains("announce it first"), "{}", intrusion.body);
    // B announces the same photo with another size: B gets an upload of its
    // own from 0, and A's stays where it was.
    let b_status = announce(&server, &b.token(), &sha, size + 5).await;
    assert_eq!((b_status.status, b_status.body["offset"].as_u64()), (200, Some(0)), "{}", b_status.body);
    let a_status = announce(&server, &a.token(), &sha, size).await;
    assert_eq!(a_status.body["offset"], chunk as u64, "A's upload was not reset: {}", a_status.body);

    // A finishes; the photo is exactly A's bytes.
    let done = patch(&server, &a.token(), &sha, chunk as u64, &photo[chunk..]).await;
    assert_eq!(done.body["complete"], true, "{}", done.body);
    assert_eq!(server.photo_bytes(&admin, &sha).await, photo);
    // B now finds it stored, and its own partial upload is gone.
    let b_again = announce(&server, &b.token(), &sha, size).await;
    assert_eq!(b_again.body["complete"], true, "{}", b_again.body);
    let leftovers: Vec<String> = files_named(data.path(), &sha).into_iter().filter(|f| f.ends_with(".part")).collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_partial_uploads_and_unreferenced_photos_are_swept_and_referenced_photos_never() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start_demo(data.path());
    let mut device = Device::enroll(&server, 0).await;
    let token = device.token();

    // A finding with its photo: referenced, must stay for ever.
    let kept = processed(11, 800, 600);
    let kept_sha = kept.sha256.clone();
    device.record("P001", Card::Red, vec![kept]);
    assert_eq!(device.sync_via(&server.url(), fast()).await.findings_pushed, 1);
    // A complete photo no finding names, and an upload left half-way.
    let orphan = processed(12, 800, 600).jpeg;
    assert_eq!(upload(&server, &token, &orphan).await.body["complete"], true);
    let partial = processed(13, 1600, 1200).jpeg;
    let partial_sha = sha256_hex(&partial);
    assert_eq!(announce(&server, &token, &partial_sha, partial.len() as u64).await.status, 200);
    assert_eq!(patch(&server, &token, &partial_sha, 0, &partial[..1000]).await.status, 200);
    assert_eq!(files_named(data.path(), &partial_sha).len(), 1, "the partial file is on disk");

    // Restarted with expiry times of zero: the start-up sweep removes both.
    server.kill();
    let env = [
        ("ANFANG_PARTIAL_UPLOAD_TTL_SECS", "0"),
        ("ANFANG_UNREFERENCED_PHOTO_TTL_SECS", "0"),
        ("ANFANG_UPLOAD_SWEEP_SECS", "0.2"),
    ];
    server = Server::start_with_env(data.path(), "127.0.0.1:0", false, &env);
    let admin = {
        let text = std::fs::read_to_string(data.path().join("demo-credentials.txt")).unwrap();
        let password = text.lines().find_map(|l| l.strip_prefix("password ")).unwrap().to_owned();
        server.demo.admin_password = password;
        server.admin_token().await
    };
    let orphan_sha = sha256_hex(&orphan);
    let gone = |sha: &str| files_named(data.path(), sha).is_empty();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(gone(&orphan_sha) && gone(&partial_sha)) {
        assert!(std::time::Instant::now() < deadline, "not swept: {:?}", files_named(data.path(), &orphan_sha));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(photo_status(&server, &admin, &orphan_sha).await, 404, "the unreferenced photo is gone");
    let orphan_again = announce(&server, &token, &orphan_sha, orphan.len() as u64).await;
    assert_eq!(orphan_again.body["complete"], false, "and the server says so: {}", orphan_again.body);
    let partial_again = announce(&server, &token, &partial_sha, partial.len() as u64).await;
    assert_eq!(partial_again.body["offset"], 0, "the partial upload starts again: {}", partial_again.body);

    // Periodically too: a new partial upload expires while the server runs.
    assert_eq!(patch(&server, &token, &partial_sha, 0, &partial[..1000]).await.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !gone(&partial_sha) {
        assert!(std::time::Instant::now() < deadline, "the new partial upload was not swept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The referenced photo, older than every expiry, is untouched.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sha256_hex(&server.photo_bytes(&admin, &kept_sha).await), kept_sha);
    assert_eq!(files_named(data.path(), &kept_sha).len(), 2, "photo and thumbnail stay");
    let (code, out, err) = {
        let out = std::process::Command::new(SERVER_BIN)
            .args(["verify", "--data-dir"])
            .arg(data.path())
            .output()
            .expect("run verify");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "the evidence still verifies after the sweep: {out}{err}");
}
