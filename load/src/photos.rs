//! The day's photos. Making 60,000 distinct photos with the real pipeline
//! would cost the load tool more CPU than the server it measures, so a few
//! base photos are made once by the real pipeline (`photo::process`, as the
//! phone does) and every photo sent is a variant of one: the same JPEG with
//! three entries of its luminance quantisation table changed. A variant is
//! still exactly the structure the server accepts (baseline JFIF, nothing
//! added), decodes to a slightly different image, and has its own SHA-256,
//! so the server stores, hashes and thumbnails every one as a new photo.

use anfang_core::photo::{self, PhotoOptions, ProcessedPhoto};
use sha2::{Digest, Sha256};

/// How many distinct variants one base photo has (three table entries,
/// each 1..=255).
pub const VARIANTS_PER_BASE: u64 = 255 * 255 * 255;

/// `count` base photos of `long_edge` pixels, each a different synthetic
/// street-like scene (gradients, edges and sensor-like noise, so they
/// compress about as a phone photo does), run through the real pipeline.
pub fn bases(long_edge: u32, count: usize) -> anyhow::Result<Vec<ProcessedPhoto>> {
    (0..count)
        .map(|i| {
            let (w, h) = (long_edge, long_edge * 3 / 4);
            let camera_jpeg = scene(w, h, i as u32 + 1)?;
            Ok(photo::process(&camera_jpeg, &PhotoOptions::default())?)
        })
        .collect()
}

/// A camera-like JPEG (quality 92) of a synthetic scene.
fn scene(w: u32, h: u32, seed: u32) -> anyhow::Result<Vec<u8>> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let noise = (s & 7) as i32 - 4;
            // Blocks like façades and signs, a sky gradient, some texture.
            let block = ((x / (37 + seed)) ^ (y / 29)) & 7;
            let base = if y < h / 3 { 150 + (y * 80 / h) as i32 } else { 40 + block as i32 * 22 };
            let px = |off: i32| (base + off + noise).clamp(0, 255) as u8;
            rgb.extend_from_slice(&[px((x % 61) as i32), px(seed as i32 * 9 % 40), px(-((y % 47) as i32))]);
        }
    }
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    encoder.encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)?;
    Ok(out)
}

/// Variant `n` (`0..VARIANTS_PER_BASE`) of `base`: its first quantisation
/// table's last three entries (the highest frequencies, in zig-zag order)
/// are set from `n`, and the hash is taken again.
pub fn variant(base: &ProcessedPhoto, n: u64) -> ProcessedPhoto {
    assert!(n < VARIANTS_PER_BASE, "variant {n} out of range");
    let mut jpeg = base.jpeg.clone();
    let table = first_dqt_table(&jpeg).expect("the pipeline's JPEG has an 8-bit quantisation table");
    let digits = [n % 255, n / 255 % 255, n / (255 * 255)];
    for (k, d) in digits.into_iter().enumerate() {
        jpeg[table + 61 + k] = d as u8 + 1;
    }
    let sha256 = hex::encode(Sha256::digest(&jpeg));
    ProcessedPhoto { sha256, jpeg, width: base.width, height: base.height, thumbnail: base.thumbnail.clone() }
}

/// Offset of the 64 entries of the first 8-bit table of the first DQT
/// segment, walking the header segments from the start of the image.
fn first_dqt_table(jpeg: &[u8]) -> Option<usize> {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xDB {
            let precision = jpeg.get(at + 4)? >> 4;
            return (precision == 0 && len >= 67).then_some(at + 5);
        }
        if marker == 0xDA {
            return None;
        }
        at += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_photos_weigh_what_a_phone_photo_does() {
        // A 2,048-px street photo at quality 85 is some 400–800 KB; much
        // smaller would flatter the server, much bigger fill the disk.
        let base = &bases(2048, 1).unwrap()[0];
        assert_eq!((base.width, base.height), (2048, 1536));
        assert!((300_000..900_000).contains(&base.jpeg.len()), "{} bytes", base.jpeg.len());
    }

    #[test]
    fn variants_are_distinct_photos_that_still_decode() {
        let base = &bases(640, 1).unwrap()[0];
        let (a, b) = (variant(base, 0), variant(base, VARIANTS_PER_BASE - 1));
        assert_ne!(a.sha256, b.sha256);
        assert_ne!(a.sha256, base.sha256);
        assert_eq!(a.jpeg.len(), base.jpeg.len());
        for v in [&a, &b] {
            assert_eq!(hex::encode(Sha256::digest(&v.jpeg)), v.sha256);
            // The stored-photo path the server runs: parse and decode.
            let (w, h, _) = photo::thumbnail_of_stored(&v.jpeg, &PhotoOptions::default()).unwrap();
            assert_eq!((w, h), (base.width, base.height));
        }
    }
}
