//! The photo pipeline, end to end: camera-like files in, stored photo out.
//!
//! Every input is made here: JPEGs and PNGs drawn with the `image` crate, an
//! EXIF block (orientation, camera make and model, GPS) spliced in after the
//! SOI marker the way a phone writes it, and broken or hostile files.

use anfang_core::photo::{PhotoError, PhotoOptions, process, thumbnail_of_stored};
use image::{DynamicImage, GenericImageView, Rgb, RgbImage};
use sha2::{Digest, Sha256};

const MAKE: &str = "SpyPhoneMaker";
const MODEL: &str = "SecretModel9000";
const GPS_TEXT: &str = "SECRETGPSLOCATION";

/// An upright test picture: top-left quadrant red, top-right green,
/// bottom-left blue, bottom-right white, so orientation mistakes show.
fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| match (x < w / 2, y < h / 2) {
        (true, true) => Rgb([220, 20, 20]),
        (false, true) => Rgb([20, 200, 20]),
        (true, false) => Rgb([20, 20, 220]),
        (false, false) => Rgb([250, 250, 250]),
    })
}

/// A picture with detail everywhere (gradients and stripes), so the JPEG has
/// real entropy-coded data to cut in half.
fn busy(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, if (x / 7 + y / 5) % 2 == 0 { 30 } else { 220 }])
    })
}

fn jpeg_of(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).unwrap();
    out
}

fn png_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A little-endian TIFF/EXIF block: IFD0 with Make, Model, Orientation and a
/// GPS IFD (latitude and a processing-method text).
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let make = format!("{MAKE}\0").into_bytes();
    let model = format!("{MODEL}\0").into_bytes();
    let gps_text = [b"ASCII\0\0\0".as_slice(), GPS_TEXT.as_bytes()].concat();
    let ifd0_len = 2 + 4 * 12 + 4;
    let make_at = 8 + ifd0_len;
    let model_at = make_at + make.len();
    let gps_ifd_at = model_at + model.len();
    let gps_ifd_len = 2 + 3 * 12 + 4;
    let lat_at = gps_ifd_at + gps_ifd_len;
    let text_at = lat_at + 24;

    let mut t = Vec::new();
    t.extend_from_slice(b"II*\0");
    t.extend_from_slice(&8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&typ.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 0x010F, 2, make.len() as u32, make_at as u32);
    entry(&mut t, 0x0110, 2, model.len() as u32, model_at as u32);
    entry(&mut t, 0x0112, 3, 1, u32::from(orientation));
    entry(&mut t, 0x8825, 4, 1, gps_ifd_at as u32);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&make);
    t.extend_from_slice(&model);
    assert_eq!(t.len(), gps_ifd_at);
    t.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from(b'N'));
    entry(&mut t, 0x0002, 5, 3, lat_at as u32);
    entry(&mut t, 0x001B, 7, gps_text.len() as u32, text_at as u32);
    t.extend_from_slice(&0u32.to_le_bytes());
    for (num, den) in [(31u32, 1u32), (12, 1), (3456, 100)] {
        t.extend_from_slice(&num.to_le_bytes());
        t.extend_from_slice(&den.to_le_bytes());
    }
    t.extend_from_slice(&gps_text);
    t
}

/// Splices an APP1 "Exif" segment in right after the SOI marker.
fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let payload = [b"Exif\0\0".as_slice(), &exif_tiff(orientation)].concat();
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Replaces the width and height in the SOF0 header of a baseline JPEG.
fn with_sof_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out.windows(2).position(|m| m == [0xFF, 0xC0]).expect("a baseline JPEG has SOF0");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

fn decode(jpeg: &[u8]) -> DynamicImage {
    assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "output is a JPEG");
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("output decodes")
}

fn opts(max_long_edge: u32) -> PhotoOptions {
    PhotoOptions { max_long_edge, ..PhotoOptions::default() }
}

fn near(pixel: [u8; 3], want: [u8; 3]) -> bool {
    pixel.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 40)
}

fn rgb_at(img: &DynamicImage, x: u32, y: u32) -> [u8; 3] {
    let p = img.get_pixel(x, y);
    [p[0], p[1], p[2]]
}

/// Asserts the decoded photo shows the upright quadrants.
fn assert_upright(img: &DynamicImage, context: &str) {
    let (w, h) = img.dimensions();
    let probes = [
        ((w / 4, h / 4), [220, 20, 20], "top-left red"),
        ((3 * w / 4, h / 4), [20, 200, 20], "top-right green"),
        ((w / 4, 3 * h / 4), [20, 20, 220], "bottom-left blue"),
        ((3 * w / 4, 3 * h / 4), [250, 250, 250], "bottom-right white"),
    ];
    for ((x, y), want, name) in probes {
        let got = rgb_at(img, x, y);
        assert!(near(got, want), "{context}: expected {name} at ({x},{y}), found {got:?}");
    }
}

/// The JPEG's segments before the scan, as (marker, payload).
fn segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        out.push((marker, jpeg[at + 4..at + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        at += 2 + len;
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_large_jpeg_is_reduced_to_the_long_edge_limit_keeping_its_aspect_ratio() {
    let input = jpeg_of(&busy(1200, 800), 90);
    let photo = process(&input, &opts(500)).unwrap();
    assert_eq!((photo.width, photo.height), (500, 333));
    let img = decode(&photo.jpeg);
    assert_eq!(img.dimensions(), (500, 333), "the JPEG has the size reported");
}

#[test]
fn a_photo_over_twice_the_limit_is_shrunk_on_load_and_still_gets_the_exact_size() {
    // 2400 px is over twice 1000: decoded at 1/2 scale (1200), then resized.
    let input = jpeg_of(&quadrants(2400, 1600), 90);
    let photo = process(&input, &opts(1000)).unwrap();
    assert_eq!((photo.width, photo.height), (1000, 667));
    let img = decode(&photo.jpeg);
    assert_eq!(img.dimensions(), (1000, 667));
    assert_upright(&img, "shrunk on load");
}

#[test]
fn a_twelve_megapixel_phone_photo_is_decoded_at_half_scale_and_stored_at_2016_by_1512() {
    // 4032×3024, held upright (orientation 6): half scale is 2016, 1/64 under
    // the 2048 limit, so it is the result; no full-size decode, no resize.
    let upright = quadrants(3024, 4032);
    let stored = image::imageops::rotate270(&upright);
    let input = with_exif(&jpeg_of(&stored, 85), 6);
    let photo = process(&input, &PhotoOptions::default()).unwrap();
    assert_eq!((photo.width, photo.height), (1512, 2016));
    let img = decode(&photo.jpeg);
    assert_eq!(img.dimensions(), (1512, 2016), "the JPEG has the size reported");
    assert_upright(&img, "12 MP, orientation 6");
}

#[test]
fn a_half_scale_more_than_a_32nd_under_the_limit_is_not_taken_and_the_photo_gets_the_exact_size() {
    // Half of 1984 is 992, within 1/32 of 1000: taken as it is.
    let near_enough = process(&jpeg_of(&quadrants(1984, 1488), 90), &opts(1000)).unwrap();
    assert_eq!((near_enough.width, near_enough.height), (992, 744));
    // Half of 1900 is 950, 5% short: decoded at full size and resized.
    let too_short = process(&jpeg_of(&quadrants(1900, 1425), 90), &opts(1000)).unwrap();
    assert_eq!((too_short.width, too_short.height), (1000, 750));
    assert_upright(&decode(&too_short.jpeg), "resized from full size");
}

#[test]
fn a_portrait_png_is_reduced_on_its_long_edge() {
    let input = png_of(&DynamicImage::ImageRgb8(quadrants(300, 900)));
    let photo = process(&input, &opts(450)).unwrap();
    assert_eq!((photo.width, photo.height), (150, 450));
    assert_upright(&decode(&photo.jpeg), "portrait PNG");
}

#[test]
fn exif_orientation_6_turns_the_photo_upright_swapping_width_and_height() {
    // A phone held upright stores a landscape sensor image turned 90° left
    // and says "rotate 90° clockwise" (orientation 6).
    let upright = quadrants(300, 400);
    let stored = image::imageops::rotate270(&upright); // 400×300 as the sensor saw it
    let input = with_exif(&jpeg_of(&stored, 92), 6);
    let photo = process(&input, &opts(200)).unwrap();
    assert_eq!((photo.width, photo.height), (150, 200), "portrait after turning");
    let img = decode(&photo.jpeg);
    assert_eq!(img.dimensions(), (150, 200));
    assert_upright(&img, "orientation 6");
}

#[test]
fn all_eight_exif_orientations_come_out_upright() {
    use image::metadata::Orientation as O;
    let upright = DynamicImage::ImageRgb8(quadrants(160, 120));
    // The stored image for orientation o is the upright one with the inverse
    // of o applied.
    let inverse = [
        (1, O::NoTransforms),
        (2, O::FlipHorizontal),
        (3, O::Rotate180),
        (4, O::FlipVertical),
        (5, O::Rotate90FlipH),
        (6, O::Rotate270),
        (7, O::Rotate270FlipH),
        (8, O::Rotate90),
    ];
    for (exif, inv) in inverse {
        let mut stored = upright.clone();
        stored.apply_orientation(inv);
        let input = with_exif(&jpeg_of(&stored.to_rgb8(), 95), exif);
        let photo = process(&input, &PhotoOptions::default()).unwrap();
        assert_eq!((photo.width, photo.height), (160, 120), "orientation {exif}: size");
        assert_upright(&decode(&photo.jpeg), &format!("orientation {exif}"));
    }
}

#[test]
fn the_output_carries_no_exif_and_no_camera_or_location_strings() {
    let input = with_exif(&jpeg_of(&busy(640, 480), 90), 6);
    assert!(contains(&input, MAKE.as_bytes()) && contains(&input, GPS_TEXT.as_bytes()), "the input has them");
    let photo = process(&input, &opts(400)).unwrap();
    for (name, bytes) in [("photo", &photo.jpeg), ("thumbnail", &photo.thumbnail)] {
        let segs = segments(bytes);
        assert!(segs.iter().any(|(m, _)| *m == 0xDA), "{name}: has a scan");
        assert!(!segs.iter().any(|(m, p)| *m == 0xE1 && p.starts_with(b"Exif")), "{name}: has an Exif APP1");
        assert!(!segs.iter().any(|(m, _)| *m == 0xE1 || *m == 0xE2), "{name}: has APP1/APP2 (EXIF/XMP/ICC)");
        for secret in [MAKE, MODEL, GPS_TEXT, "Exif"] {
            assert!(!contains(bytes, secret.as_bytes()), "{name} contains {secret:?}");
        }
    }
}

#[test]
fn the_sha256_names_the_stored_bytes() {
    let photo = process(&jpeg_of(&busy(300, 200), 90), &PhotoOptions::default()).unwrap();
    let expected: String = Sha256::digest(&photo.jpeg).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(photo.sha256, expected);
    assert_eq!(photo.sha256.len(), 64);
    assert!(photo.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "lowercase hex");
}

#[test]
fn the_same_input_always_gives_the_same_photo() {
    let input = with_exif(&jpeg_of(&busy(1500, 1000), 90), 6);
    let a = process(&input, &opts(1024)).unwrap();
    let b = process(&input, &opts(1024)).unwrap();
    assert_eq!(a.sha256, b.sha256, "deterministic, so a retried upload has the same name");
}

#[test]
fn the_thumbnail_long_edge_is_about_320_pixels() {
    let photo = process(&jpeg_of(&quadrants(1600, 1200), 90), &PhotoOptions::default()).unwrap();
    let thumb = decode(&photo.thumbnail);
    let (w, h) = thumb.dimensions();
    assert!((316..=324).contains(&w.max(h)), "thumbnail is {w}×{h}");
    assert_eq!((w, h), (320, 240));
    assert_upright(&thumb, "thumbnail");
    assert!(photo.thumbnail.len() < photo.jpeg.len());
}

#[test]
fn a_small_photo_is_not_enlarged() {
    let photo = process(&jpeg_of(&busy(200, 150), 90), &PhotoOptions::default()).unwrap();
    assert_eq!((photo.width, photo.height), (200, 150));
    assert_eq!(decode(&photo.jpeg).dimensions(), (200, 150));
    // Nor the thumbnail of a photo smaller than a thumbnail.
    let (w, h) = decode(&photo.thumbnail).dimensions();
    assert_eq!((w, h), (200, 150));
}

#[test]
fn a_png_with_transparency_is_flattened_onto_white() {
    let img = image::RgbaImage::from_fn(64, 64, |x, _| {
        if x < 32 { image::Rgba([0, 0, 0, 0]) } else { image::Rgba([10, 10, 200, 255]) }
    });
    let photo = process(&png_of(&DynamicImage::ImageRgba8(img)), &PhotoOptions::default()).unwrap();
    let out = decode(&photo.jpeg);
    assert!(near(rgb_at(&out, 8, 32), [255, 255, 255]), "transparent became white: {:?}", rgb_at(&out, 8, 32));
    assert!(near(rgb_at(&out, 56, 32), [10, 10, 200]), "opaque kept: {:?}", rgb_at(&out, 56, 32));
}

#[test]
fn a_sixteen_bit_grey_png_is_accepted() {
    let img = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(100, 50, |x, _| image::Luma([(x * 655) as u16]));
    let photo = process(&png_of(&DynamicImage::ImageLuma16(img)), &PhotoOptions::default()).unwrap();
    assert_eq!((photo.width, photo.height), (100, 50));
    let out = decode(&photo.jpeg).to_luma8();
    assert!(out.get_pixel(2, 25)[0] < 30 && out.get_pixel(97, 25)[0] > 220, "the ramp survives");
}

#[test]
fn a_grey_jpeg_stays_a_valid_grey_photo() {
    let grey = image::GrayImage::from_fn(900, 600, |x, y| image::Luma([((x + y) % 256) as u8]));
    let mut input = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut input, 90).encode_image(&grey).unwrap();
    let photo = process(&input, &opts(300)).unwrap();
    assert_eq!((photo.width, photo.height), (300, 200));
    assert_eq!(decode(&photo.jpeg).dimensions(), (300, 200));
}

#[test]
fn a_cmyk_jpeg_is_converted_to_rgb() {
    // Pure cyan ink, no black: shows as cyan.
    let cmyk: Vec<u8> = std::iter::repeat_n([255u8, 0, 0, 0], 64 * 48).flatten().collect();
    let mut input = Vec::new();
    jpeg_encoder::Encoder::new(&mut input, 95).encode(&cmyk, 64, 48, jpeg_encoder::ColorType::Cmyk).unwrap();
    let photo = process(&input, &PhotoOptions::default()).unwrap();
    let out = decode(&photo.jpeg);
    let p = rgb_at(&out, 32, 24);
    assert!(near(p, [0, 255, 255]), "cyan, found {p:?}");
}

#[test]
fn a_progressive_jpeg_is_accepted() {
    let img = quadrants(800, 600);
    let mut input = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut input, 90);
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 800, 600, jpeg_encoder::ColorType::Rgb).unwrap();
    let photo = process(&input, &opts(400)).unwrap();
    assert_eq!((photo.width, photo.height), (400, 300));
    assert_upright(&decode(&photo.jpeg), "progressive");
}

#[test]
fn a_big_photo_is_encoded_as_one_valid_jpeg() {
    // Big enough for the multi-threaded resize, orientation and encode.
    let upright = RgbImage::from_fn(1100, 1500, |x, y| {
        Rgb([(x * 255 / 1100) as u8, (y * 255 / 1500) as u8, ((x + y) * 255 / 2600) as u8])
    });
    let stored = image::imageops::rotate90(&upright);
    let input = with_exif(&jpeg_of(&stored, 90), 8);
    let photo = process(&input, &opts(1400)).unwrap();
    assert_eq!((photo.width, photo.height), (1027, 1400));
    let out = decode(&photo.jpeg).to_rgb8();
    assert_eq!(out.dimensions(), (1027, 1400));
    // Compare with a plain reduction of the upright picture, everywhere.
    let reference = image::imageops::resize(&upright, 1027, 1400, image::imageops::FilterType::Triangle);
    let mut worst = 0u8;
    for (a, b) in out.pixels().zip(reference.pixels()) {
        worst = worst.max(a[0].abs_diff(b[0])).max(a[1].abs_diff(b[1])).max(a[2].abs_diff(b[2]));
    }
    // A seam between bands, a wrong turn or a shifted row would show as a
    // large difference somewhere.
    assert!(worst < 16, "differs from the reference by up to {worst}");
}

#[test]
fn bad_inputs_are_refused_with_an_error_that_names_the_problem() {
    let good_jpeg = jpeg_of(&busy(640, 480), 90);
    let good_png = png_of(&DynamicImage::ImageRgb8(busy(320, 240)));
    let mut heic = vec![0, 0, 0, 0x18];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.resize(200, 0);
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0x10, 0, 0x10, 0, 0x80, 0, 0]);
    let garbage: Vec<u8> = (0..500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();

    type Check = fn(&PhotoError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check, &str)> = vec![
        ("empty file", vec![], |e| matches!(e, PhotoError::Empty), "empty"),
        (
            "text file",
            b"Meeting notes: inspect the market at 7am.\n".to_vec(),
            |e| matches!(e, PhotoError::UnsupportedFormat { .. }),
            "text",
        ),
        ("GIF", gif, |e| matches!(e, PhotoError::UnsupportedFormat { .. }), "GIF"),
        ("HEIC", heic, |e| matches!(e, PhotoError::UnsupportedFormat { .. }), "HEIC"),
        ("garbage", garbage, |e| matches!(e, PhotoError::UnsupportedFormat { .. }), "unknown (first bytes:"),
        (
            "JPEG cut in half",
            good_jpeg[..good_jpeg.len() / 2].to_vec(),
            |e| matches!(e, PhotoError::Corrupt { format: "JPEG", .. }),
            "truncated",
        ),
        (
            "JPEG without its end marker",
            good_jpeg[..good_jpeg.len() - 2].to_vec(),
            |e| matches!(e, PhotoError::Corrupt { format: "JPEG", .. }),
            "ends before",
        ),
        (
            "JPEG header only",
            good_jpeg[..200].to_vec(),
            |e| matches!(e, PhotoError::Corrupt { format: "JPEG", .. }),
            "JPEG",
        ),
        (
            "PNG cut in half",
            good_png[..good_png.len() / 2].to_vec(),
            |e| matches!(e, PhotoError::Corrupt { format: "PNG", .. }),
            "PNG",
        ),
        (
            "PNG signature only",
            good_png[..8].to_vec(),
            |e| matches!(e, PhotoError::Corrupt { format: "PNG", .. }),
            "PNG",
        ),
        (
            "JPEG bomb 60000×60000",
            with_sof_size(&good_jpeg, 60000, 60000),
            |e| matches!(e, PhotoError::TooManyPixels { width: 60000, height: 60000, .. }),
            "60000×60000",
        ),
        (
            "JPEG of zero height",
            with_sof_size(&good_jpeg, 640, 0),
            |e| matches!(e, PhotoError::Corrupt { format: "JPEG", .. }),
            "JPEG",
        ),
    ];
    for (name, input, expected, words) in cases {
        let result = std::panic::catch_unwind(|| process(&input, &PhotoOptions::default()));
        let err = match result {
            Ok(Ok(_)) => panic!("{name}: accepted"),
            Ok(Err(e)) => e,
            Err(_) => panic!("{name}: panicked"),
        };
        assert!(expected(&err), "{name}: wrong error {err:?}");
        let message = err.to_string();
        assert!(message.contains(words), "{name}: message {message:?} should mention {words:?}");
    }
}

#[test]
fn a_png_bomb_is_refused_from_its_header() {
    // A real 50000×50000 PNG would be 7.5 GB of pixels; the header is enough.
    let mut png = png_of(&DynamicImage::ImageRgb8(busy(16, 16)));
    png[16..20].copy_from_slice(&50000u32.to_be_bytes());
    png[20..24].copy_from_slice(&50000u32.to_be_bytes());
    // Fix the IHDR CRC so the header itself is valid.
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = process(&png, &PhotoOptions::default()).unwrap_err();
    assert!(matches!(err, PhotoError::TooManyPixels { width: 50000, height: 50000, .. }), "{err:?}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_decoding() {
    let input = jpeg_of(&busy(200, 200), 90);
    let limits = PhotoOptions { max_input_bytes: 1000, ..PhotoOptions::default() };
    let err = process(&input, &limits).unwrap_err();
    assert!(matches!(err, PhotoError::FileTooLarge { limit: 1000, .. }), "{err:?}");
    assert!(err.to_string().contains("at most 1000 bytes"));
}

#[test]
fn an_image_over_the_pixel_limit_is_refused() {
    let input = jpeg_of(&busy(400, 300), 90);
    let limits = PhotoOptions { max_input_pixels: 100_000, ..PhotoOptions::default() };
    let err = process(&input, &limits).unwrap_err();
    assert!(matches!(err, PhotoError::TooManyPixels { width: 400, height: 300, limit: 100_000 }), "{err:?}");
}

#[test]
fn thumbnail_of_stored_gives_the_size_and_a_small_thumbnail_of_a_stored_photo() {
    let photo = process(&jpeg_of(&quadrants(1800, 1200), 90), &PhotoOptions::default()).unwrap();
    let (w, h, thumb) = thumbnail_of_stored(&photo.jpeg, &PhotoOptions::default()).unwrap();
    assert_eq!((w, h), (photo.width, photo.height));
    let t = decode(&thumb);
    assert_eq!(t.dimensions(), (320, 213));
    assert_upright(&t, "server thumbnail");
}

#[test]
fn thumbnail_of_stored_refuses_png_truncated_jpeg_and_others() {
    let o = PhotoOptions::default();
    let png = png_of(&DynamicImage::ImageRgb8(busy(100, 100)));
    let err = thumbnail_of_stored(&png, &o).unwrap_err();
    assert!(matches!(err, PhotoError::NotAStoredJpeg { .. }), "{err:?}");
    assert!(err.to_string().contains("PNG"));

    let jpeg = process(&jpeg_of(&busy(800, 600), 90), &o).unwrap().jpeg;
    let err = thumbnail_of_stored(&jpeg[..jpeg.len() / 2], &o).unwrap_err();
    assert!(matches!(err, PhotoError::Corrupt { format: "JPEG", .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"));

    let err = thumbnail_of_stored(b"GIF89a\x01\x00\x01\x00", &o).unwrap_err();
    assert!(err.to_string().contains("GIF"), "{err}");
    assert!(matches!(thumbnail_of_stored(&[], &o), Err(PhotoError::Empty)));
    let bomb = with_sof_size(&jpeg, 60000, 60000);
    assert!(matches!(thumbnail_of_stored(&bomb, &o), Err(PhotoError::TooManyPixels { .. })));
}
