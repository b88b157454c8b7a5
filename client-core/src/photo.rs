//! The photo pipeline: camera file in, evidence photo and thumbnail out.
//!
//! [`process`] turns whatever the phone's camera (or the file picker) hands
//! over into the photo that is stored and sent: a JPEG whose long edge is at
//! most [`PhotoOptions::max_long_edge`], turned upright according to the EXIF
//! orientation, with **no metadata at all** (no EXIF, so no GPS, camera make
//! or model, no XMP, no ICC), plus a small thumbnail; the photo is named by the
//! SHA-256 of its bytes. [`thumbnail_of_stored`] is the server's check of an
//! uploaded photo.
//!
//! The work is done the way libvips does it, which is what makes it quick on a
//! phone:
//!
//! 1. the file is sniffed by its magic bytes; only JPEG and PNG are accepted,
//!    anything else is refused with the name of what it is;
//! 2. only the header is read first, and the pixel count is checked against
//!    [`PhotoOptions::max_input_pixels`] before any pixel buffer exists (the
//!    decompression-bomb guard);
//! 3. a JPEG is decoded *shrunk on load* (the IDCT produces 1/2, 1/4 or 1/8
//!    scale directly), at the smallest scale that is still at least as large
//!    as the target, so a 48-megapixel camera file never exists at full size.
//!    A scale that falls short of the target by at most [`SHRINK_SLACK`]
//!    (1/32) is taken as the result: the common 4032×3024 camera photo is
//!    decoded at 1/2 into 2016×1512, 1.6% under 2048, instead of being
//!    decoded at full size (four times the pixels) and resized;
//! 4. one convolution resize (Lanczos3) to the target size, done in bands so
//!    its scratch buffer stays small (none when step 3 gave the result);
//! 5. the EXIF orientation is applied to the *small* image (cheapest);
//! 6. one baseline JPEG encode with 4:2:0 chroma subsampling; the thumbnail
//!    is a second, small resize of the result.
//!
//! Everything is synchronous, allocation-bounded, does no file I/O and uses
//! no threads of its own, so the same code runs in a browser worker
//! (wasm32). Malformed input gives a [`PhotoError`], never a panic.

use std::io::{self, Read};

use fast_image_resize as fr;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How photos are reduced before they are stored and sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhotoOptions {
    /// Longest edge of the stored photo, in pixels (default 2048). The
    /// result may be up to 1/32 shorter where a JPEG's shrink-on-load scale
    /// lands there (see the module documentation, step 3).
    pub max_long_edge: u32,
    /// Longest edge of the thumbnail, in pixels (default 320).
    pub thumbnail_long_edge: u32,
    /// JPEG quality of the stored photo, 1..=100 (default 85).
    pub quality: u8,
    /// Largest input file accepted, in bytes (default 40 MiB).
    pub max_input_bytes: usize,
    /// Largest input image accepted, in pixels (default 100 megapixels):
    /// the guard against decompression bombs, checked from the header
    /// before any pixel buffer is allocated.
    pub max_input_pixels: u64,
}

impl Default for PhotoOptions {
    fn default() -> Self {
        Self {
            max_long_edge: 2048,
            thumbnail_long_edge: 320,
            quality: 85,
            max_input_bytes: 40 * 1024 * 1024,
            max_input_pixels: 100_000_000,
        }
    }
}

/// A photo ready to be stored: metadata-free JPEG, its thumbnail, its name.
#[derive(Debug, Clone)]
pub struct ProcessedPhoto {
    /// SHA-256 of `jpeg`, lowercase hex: the photo's name everywhere.
    pub sha256: String,
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// JPEG thumbnail, long edge about `thumbnail_long_edge`.
    pub thumbnail: Vec<u8>,
}

/// Why a photo could not be processed. Every variant reads as advice.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the file is empty")]
    Empty,
    /// For stored photos, which are always JPEGs made by [`process`].
    #[error("a stored photo must be the JPEG the photo pipeline made, not {format}")]
    NotAStoredJpeg { format: String },
    #[error("unsupported format {format}: only JPEG and PNG photos are accepted")]
    UnsupportedFormat { format: String },
    #[error("the {format} file is truncated or damaged: {detail}")]
    Corrupt { format: &'static str, detail: String },
    #[error("the file is {bytes} bytes; at most {limit} bytes are accepted")]
    FileTooLarge { bytes: usize, limit: usize },
    #[error("the image is {width}×{height} pixels; at most {limit} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
}

/// JPEG quality of thumbnails.
pub const THUMBNAIL_QUALITY: u8 = 75;

/// A file format recognised by its first bytes ([`sniff`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SniffedFormat {
    Jpeg,
    Png,
    /// Anything else, described for a person ("GIF", "HEIC/HEIF (iPhone
    /// photo)", "text", "unknown (first bytes: 00 01 ..)").
    Other(String),
}

/// Recognises a file by its magic bytes. Never fails; an empty input is
/// `Other("empty file")`.
pub fn sniff(data: &[u8]) -> SniffedFormat {
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return SniffedFormat::Jpeg;
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return SniffedFormat::Png;
    }
    let other = |s: &str| SniffedFormat::Other(s.to_owned());
    if data.is_empty() {
        return other("empty file");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return other("GIF");
    }
    if starts(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        return other("WebP");
    }
    if data.get(4..8) == Some(b"ftyp") {
        let brand = data.get(8..12).unwrap_or_default();
        return match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                other("HEIC/HEIF (iPhone photo: set the camera to \"Most Compatible\" or export as JPEG)")
            }
            b"avif" | b"avis" => other("AVIF"),
            b"crx " => other("Canon CR3 raw"),
            _ => {
                SniffedFormat::Other(format!("ISO media / video (brand \"{}\")", String::from_utf8_lossy(brand).trim()))
            }
        };
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\x00\x00\x00\x0cJXL \r\n\x87\n") {
        return other("JPEG XL");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return other("TIFF (or a camera raw file)");
    }
    if starts(b"BM") && data.len() >= 14 {
        return other("BMP");
    }
    if starts(b"%PDF") {
        return other("PDF");
    }
    if starts(b"PK\x03\x04") {
        return other("ZIP archive");
    }
    if starts(b"\x00\x00\x01\x00") {
        return other("ICO");
    }
    if starts(&[0xFF, 0xD8]) {
        return other("broken JPEG (no marker after the start-of-image)");
    }
    let head = &data[..data.len().min(512)];
    let texty = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x20..=0x7E) || *b >= 0x80;
    // UTF-8 text, allowing a character cut by the 512-byte window.
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if head.iter().all(texty) && utf8 {
        let trimmed = String::from_utf8_lossy(head);
        let t = trimmed.trim_start();
        if t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg")) {
            return other("SVG");
        }
        if t.starts_with('<') {
            return other("text (HTML/XML, not an image)");
        }
        return other("text (not an image)");
    }
    let first: Vec<String> = data.iter().take(8).map(|b| format!("{b:02X}")).collect();
    SniffedFormat::Other(format!("unknown (first bytes: {})", first.join(" ")))
}

/// Processes a camera file into the photo that is stored and sent.
///
/// JPEG and PNG are accepted. The EXIF orientation of a JPEG (and of a PNG's
/// eXIf chunk) is applied; all metadata is dropped. The long edge of the
/// result is at most `opts.max_long_edge`; a smaller image is not enlarged.
pub fn process(input: &[u8], opts: &PhotoOptions) -> Result<ProcessedPhoto, PhotoError> {
    check_size(input, opts)?;
    let target = opts.max_long_edge.max(1);
    let enough = target - target / SHRINK_SLACK;
    let decoded = match sniff(input) {
        SniffedFormat::Jpeg => decode_jpeg(input, opts, enough)?,
        SniffedFormat::Png => decode_png(input, opts)?,
        SniffedFormat::Other(format) => return Err(PhotoError::UnsupportedFormat { format }),
    };
    let decoded_long = decoded.width.max(decoded.height);
    let (tw, th) = if (enough..=target).contains(&decoded_long) {
        (decoded.width, decoded.height)
    } else {
        fit(decoded.full_width, decoded.full_height, target)
    };
    let kind = decoded.kind;
    let (pixels, spare) = resize(decoded.pixels, decoded.width, decoded.height, kind, tw, th, fr::FilterType::Lanczos3);
    let (pixels, width, height) = orient(pixels, tw, th, kind, decoded.orientation, spare);
    let jpeg = encode_jpeg(&pixels, width, height, kind, opts.quality.clamp(1, 100))?;
    let thumbnail = make_thumbnail(pixels, width, height, kind, opts)?;
    let sha256 = hex::encode(Sha256::digest(&jpeg));
    Ok(ProcessedPhoto { sha256, jpeg, width, height, thumbnail })
}

/// How far (as a fraction, 1/`SHRINK_SLACK`) below
/// [`PhotoOptions::max_long_edge`] a JPEG's shrink-on-load result may stay
/// and be the stored photo without a resize. 1/32 takes in the sensors phones
/// ship with: 4032 (12 MP) and 4000 px wide, and 8160 (50 MP, decoded at
/// 1/4 into 2040); on a phone in a browser this halves the photo step.
pub const SHRINK_SLACK: u32 = 32;

/// For the server: verifies that a stored photo is a decodable JPEG within
/// the limits, and returns its width, height and a thumbnail (long edge about
/// `opts.thumbnail_long_edge`, decoded with shrink-on-load).
///
/// Refuses PNG and every other format (stored photos are always JPEGs made by
/// [`process`]) and truncated or damaged JPEGs. Should the JPEG carry an EXIF
/// orientation, it is applied, and the width and height are those of the
/// upright image, as a browser shows it.
pub fn thumbnail_of_stored(jpeg: &[u8], opts: &PhotoOptions) -> Result<(u32, u32, Vec<u8>), PhotoError> {
    check_size(jpeg, opts)?;
    match sniff(jpeg) {
        SniffedFormat::Jpeg => {}
        SniffedFormat::Png => return Err(PhotoError::NotAStoredJpeg { format: "PNG".to_owned() }),
        SniffedFormat::Other(format) => return Err(PhotoError::NotAStoredJpeg { format }),
    }
    let thumb_edge = opts.thumbnail_long_edge.max(1);
    let decoded = decode_jpeg(jpeg, opts, thumb_edge)?;
    let (fw, fh) = (decoded.full_width, decoded.full_height);
    let (tw, th) = fit(fw, fh, thumb_edge);
    let (pixels, spare) =
        resize(decoded.pixels, decoded.width, decoded.height, decoded.kind, tw, th, fr::FilterType::CatmullRom);
    let (pixels, w, h) = orient(pixels, tw, th, decoded.kind, decoded.orientation, spare);
    let thumbnail = encode_jpeg(&pixels, w, h, decoded.kind, THUMBNAIL_QUALITY)?;
    let (width, height) = if decoded.orientation.swaps_axes() { (fh, fw) } else { (fw, fh) };
    Ok((width, height, thumbnail))
}

/// A rectangle of a photo in per cent of its (upright) width and height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropRect {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl CropRect {
    /// Inside the photo and not empty.
    pub fn is_valid(&self) -> bool {
        self.width > 0 && self.height > 0 && self.left + self.width <= 100 && self.top + self.height <= 100
    }
    /// The whole photo: no crop at all.
    pub fn is_whole(&self) -> bool {
        *self == CropRect { left: 0, top: 0, width: 100, height: 100 }
    }
}

/// For the server: a new photo cut from a stored one (the exposure page's
/// crop, hiding a face or a number plate), made as [`process`] makes photos:
/// no metadata, the same encoder, so the same rectangle of the same photo
/// gives the same bytes on every machine and `verify` can remake it. The
/// stored photo is only read. `rect` must be [`CropRect::is_valid`].
pub fn crop_stored(jpeg: &[u8], rect: CropRect, opts: &PhotoOptions) -> Result<ProcessedPhoto, PhotoError> {
    check_size(jpeg, opts)?;
    match sniff(jpeg) {
        SniffedFormat::Jpeg => {}
        SniffedFormat::Png => return Err(PhotoError::NotAStoredJpeg { format: "PNG".to_owned() }),
        SniffedFormat::Other(format) => return Err(PhotoError::NotAStoredJpeg { format }),
    }
    // Full size: a stored photo is never twice the largest long edge.
    let decoded = decode_jpeg(jpeg, opts, u32::MAX)?;
    let kind = decoded.kind;
    let (pixels, w, h) = orient(decoded.pixels, decoded.width, decoded.height, kind, decoded.orientation, None);
    let rect = if rect.is_valid() { rect } else { CropRect { left: 0, top: 0, width: 100, height: 100 } };
    let x0 = w * rect.left / 100;
    let y0 = h * rect.top / 100;
    let cw = (w * rect.width / 100).clamp(1, w - x0);
    let ch = (h * rect.height / 100).clamp(1, h - y0);
    let bpp = kind.bytes();
    let mut cut = Vec::with_capacity(cw as usize * ch as usize * bpp);
    for y in y0..y0 + ch {
        let start = (y as usize * w as usize + x0 as usize) * bpp;
        cut.extend_from_slice(&pixels[start..start + cw as usize * bpp]);
    }
    let out = encode_jpeg(&cut, cw, ch, kind, opts.quality.clamp(1, 100))?;
    let thumbnail = make_thumbnail(cut, cw, ch, kind, opts)?;
    let sha256 = hex::encode(Sha256::digest(&out));
    Ok(ProcessedPhoto { sha256, jpeg: out, width: cw, height: ch, thumbnail })
}

/// The size of the largest image with long edge `long_edge` and the aspect
/// ratio of `width`×`height`; the image's own size if it is already smaller.
pub fn fit(width: u32, height: u32, long_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_edge || long == 0 {
        return (width, height);
    }
    let scale = |short: u32| -> u32 {
        let v = (u64::from(short) * u64::from(long_edge) + u64::from(long) / 2) / u64::from(long);
        (v as u32).max(1)
    };
    if width >= height { (long_edge, scale(height)) } else { (scale(width), long_edge) }
}

// ---------------------------------------------------------------------------
// Input checks

fn check_size(input: &[u8], opts: &PhotoOptions) -> Result<(), PhotoError> {
    if input.is_empty() {
        return Err(PhotoError::Empty);
    }
    if input.len() > opts.max_input_bytes {
        return Err(PhotoError::FileTooLarge { bytes: input.len(), limit: opts.max_input_bytes });
    }
    Ok(())
}

fn check_pixels(width: u32, height: u32, opts: &PhotoOptions, format: &'static str) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt {
            format,
            detail: format!("the header gives a size of {width}×{height} pixels"),
        });
    }
    if u64::from(width) * u64::from(height) > opts.max_input_pixels {
        return Err(PhotoError::TooManyPixels { width, height, limit: opts.max_input_pixels });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding

/// Pixel layout through the pipeline: grey stays grey (smaller, quicker, and
/// a grey JPEG is a valid photo); everything else is 8-bit RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gray,
    Rgb,
}

impl Kind {
    fn bytes(self) -> usize {
        match self {
            Kind::Gray => 1,
            Kind::Rgb => 3,
        }
    }
    fn fr(self) -> fr::PixelType {
        match self {
            Kind::Gray => fr::PixelType::U8,
            Kind::Rgb => fr::PixelType::U8x3,
        }
    }
}

/// The eight EXIF orientations (tag 0x0112), as the transform that makes the
/// stored pixels upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    /// 1: as stored.
    Normal,
    /// 2: mirrored left-right.
    FlipHorizontal,
    /// 3: upside down.
    Rotate180,
    /// 4: mirrored top-bottom.
    FlipVertical,
    /// 5: mirrored along the main diagonal.
    Transpose,
    /// 6: must be turned 90° clockwise (a phone held upright).
    Rotate90,
    /// 7: mirrored along the anti-diagonal.
    Transverse,
    /// 8: must be turned 90° counter-clockwise.
    Rotate270,
}

impl Orientation {
    /// From the EXIF value 1..=8; anything else is `Normal`.
    pub fn from_exif(value: u16) -> Self {
        match value {
            2 => Self::FlipHorizontal,
            3 => Self::Rotate180,
            4 => Self::FlipVertical,
            5 => Self::Transpose,
            6 => Self::Rotate90,
            7 => Self::Transverse,
            8 => Self::Rotate270,
            _ => Self::Normal,
        }
    }

    /// From a raw EXIF block starting at its TIFF header ("II*\0" / "MM\0*").
    pub fn from_exif_chunk(chunk: &[u8]) -> Self {
        use image::metadata::Orientation as O;
        match O::from_exif_chunk(chunk) {
            Some(O::FlipHorizontal) => Self::FlipHorizontal,
            Some(O::Rotate180) => Self::Rotate180,
            Some(O::FlipVertical) => Self::FlipVertical,
            Some(O::Rotate90FlipH) => Self::Transpose,
            Some(O::Rotate90) => Self::Rotate90,
            Some(O::Rotate270FlipH) => Self::Transverse,
            Some(O::Rotate270) => Self::Rotate270,
            Some(O::NoTransforms) | None => Self::Normal,
        }
    }

    /// Whether applying it swaps width and height.
    pub fn swaps_axes(self) -> bool {
        matches!(self, Self::Transpose | Self::Rotate90 | Self::Transverse | Self::Rotate270)
    }
}

struct Decoded {
    /// Tightly packed rows of `kind` pixels, `width`×`height`.
    pixels: Vec<u8>,
    kind: Kind,
    /// Size of `pixels` (a JPEG may have been shrunk on load).
    width: u32,
    height: u32,
    /// Size of the image in the file (before orientation).
    full_width: u32,
    full_height: u32,
    orientation: Orientation,
}

/// A reader over a byte slice that remembers whether anyone tried to read
/// past its end: jpeg-decoder has no notion of "truncated", so this is how a
/// cut-off camera file is told apart from other damage.
struct SliceReader<'a> {
    data: &'a [u8],
    hit_end: bool,
}

impl Read for SliceReader<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() && !buf.is_empty() {
            self.hit_end = true;
            return Ok(0);
        }
        let n = buf.len().min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }

    #[inline]
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > self.data.len() {
            self.hit_end = true;
            self.data = &[];
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let (head, rest) = self.data.split_at(buf.len());
        buf.copy_from_slice(head);
        self.data = rest;
        Ok(())
    }
}

const TRUNCATED: &str = "the file ends before the image data is complete (was it cut off while copying or uploading?)";

fn jpeg_error(e: jpeg_decoder::Error, hit_end: bool) -> PhotoError {
    use jpeg_decoder::Error as E;
    if hit_end {
        return PhotoError::Corrupt { format: "JPEG", detail: TRUNCATED.to_owned() };
    }
    match e {
        E::Unsupported(feature) => {
            use jpeg_decoder::UnsupportedFeature as U;
            let format = match feature {
                U::DNL => {
                    return PhotoError::Corrupt {
                        format: "JPEG",
                        detail: "the header gives a height of 0 pixels".to_owned(),
                    };
                }
                U::Hierarchical => "hierarchical JPEG".to_owned(),
                U::ArithmeticEntropyCoding => "JPEG with arithmetic coding".to_owned(),
                U::SamplePrecision(bits) => format!("{bits}-bit JPEG"),
                U::ComponentCount(n) => format!("JPEG with {n} colour channels"),
                U::SubsamplingRatio | U::NonIntegerSubsamplingRatio => {
                    "JPEG with an unusual chroma subsampling".to_owned()
                }
                U::ColorTransform(t) => format!("JPEG with colour transform {t:?}"),
            };
            PhotoError::UnsupportedFormat { format }
        }
        E::Format(detail) => PhotoError::Corrupt { format: "JPEG", detail },
        E::Io(err) => PhotoError::Corrupt { format: "JPEG", detail: err.to_string() },
        E::Internal(err) => PhotoError::Corrupt { format: "JPEG", detail: err.to_string() },
    }
}

/// Decodes a JPEG, shrinking on load to the smallest DCT scale (1/8, 1/4,
/// 1/2, 1) whose long edge is still at least `target_long_edge` (the size
/// the image is reduced to, or, from [`process`], the least it may be).
fn decode_jpeg(input: &[u8], opts: &PhotoOptions, target_long_edge: u32) -> Result<Decoded, PhotoError> {
    let mut reader = SliceReader { data: input, hit_end: false };
    let result = {
        let mut decoder = jpeg_decoder::Decoder::new(&mut reader);
        decode_jpeg_with(&mut decoder, input, opts, target_long_edge)
    };
    match result {
        // jpeg-decoder stops at the EOI marker; if it ran off the end of the
        // data instead, the file is truncated whatever it made of it.
        Ok(_) if reader.hit_end => Err(PhotoError::Corrupt { format: "JPEG", detail: TRUNCATED.to_owned() }),
        Ok(d) => Ok(d),
        Err(Ok(e)) => Err(e),
        Err(Err(e)) => Err(jpeg_error(e, reader.hit_end)),
    }
}

type JpegResult<T> = Result<T, Result<PhotoError, jpeg_decoder::Error>>;

fn decode_jpeg_with<R: Read>(
    decoder: &mut jpeg_decoder::Decoder<R>,
    input: &[u8],
    opts: &PhotoOptions,
    target_long_edge: u32,
) -> JpegResult<Decoded> {
    use jpeg_decoder::PixelFormat;
    decoder.read_info().map_err(Err)?;
    let info = decoder.info().ok_or_else(|| Ok(corrupt_jpeg("no frame header")))?;
    let (full_width, full_height) = (u32::from(info.width), u32::from(info.height));
    check_pixels(full_width, full_height, opts, "JPEG").map_err(Ok)?;

    let (tw, th) = fit(full_width, full_height, target_long_edge);
    if (tw, th) != (full_width, full_height) && info.coding_process != jpeg_decoder::CodingProcess::Lossless {
        decoder.scale(tw as u16, th as u16).map_err(Err)?;
    }
    let info = decoder.info().ok_or_else(|| Ok(corrupt_jpeg("no frame header")))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if (width, height) == (full_width, full_height)
        && matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8)
        && info.coding_process != jpeg_decoder::CodingProcess::Lossless
    {
        let kind = if info.pixel_format == PixelFormat::L8 { Kind::Gray } else { Kind::Rgb };
        if let Some(pixels) = decode_full_size_zune(input, width, height, kind) {
            let orientation = decoder.exif_data().map_or(Orientation::Normal, Orientation::from_exif_chunk);
            return Ok(Decoded { pixels, kind, width, height, full_width, full_height, orientation });
        }
    }
    // A second line of defence: never let the decoder allocate more than the
    // pixel limit allows (4 bytes a pixel for CMYK).
    decoder
        .set_max_decoding_buffer_size(usize::try_from(opts.max_input_pixels.saturating_mul(4)).unwrap_or(usize::MAX));

    let pixels = catch_panic(|| decoder.decode())
        .ok_or_else(|| Ok(corrupt_jpeg("the decoder could not make sense of the image data")))?
        .map_err(Err)?;

    let orientation = decoder.exif_data().map_or(Orientation::Normal, Orientation::from_exif_chunk);
    let n = width as usize * height as usize;
    let (pixels, kind) = match info.pixel_format {
        PixelFormat::RGB24 => (pixels, Kind::Rgb),
        PixelFormat::L8 => (pixels, Kind::Gray),
        PixelFormat::CMYK32 => (cmyk_to_rgb(pixels), Kind::Rgb),
        PixelFormat::L16 => (l16_to_l8(pixels), Kind::Gray),
    };
    if pixels.len() < n * kind.bytes() {
        return Err(Ok(corrupt_jpeg("the decoder returned fewer pixels than the header announces")));
    }
    Ok(Decoded { pixels, kind, width, height, full_width, full_height, orientation })
}

/// A full-size decode with zune-jpeg, which writes straight into the output
/// buffer (no full-size component planes: 17 MiB less peak memory than
/// jpeg-decoder for a 12-megapixel photo) and is about twice as fast. Strict mode, so a truncated or
/// damaged file is an error rather than grey padding; on any error (or an
/// unexpected layout) `None`, and jpeg-decoder decodes and reports instead,
/// as it does for files with data after the EOI marker.
fn decode_full_size_zune(input: &[u8], width: u32, height: u32, kind: Kind) -> Option<Vec<u8>> {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let out = if kind == Kind::Gray { ColorSpace::Luma } else { ColorSpace::RGB };
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .jpeg_set_out_colorspace(out)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    // zune-jpeg stops once it has every MCU, so a file missing only its end
    // would pass: leave anything not ending in EOI to jpeg-decoder.
    if !input.ends_with(&[0xFF, 0xD9]) {
        return None;
    }
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(input), options);
    decoder.decode_headers().ok()?;
    let info = decoder.info()?;
    let expected = width as usize * height as usize * kind.bytes();
    if (u32::from(info.width), u32::from(info.height)) != (width, height) || decoder.output_buffer_size()? != expected {
        return None;
    }
    let mut pixels = vec![0u8; expected];
    catch_panic(|| decoder.decode_into(&mut pixels))?.ok()?;
    Some(pixels)
}

fn corrupt_jpeg(detail: &str) -> PhotoError {
    PhotoError::Corrupt { format: "JPEG", detail: detail.to_owned() }
}

/// Runs a decoder, turning a panic inside it (a decoder bug hit by a
/// malicious file) into `None` where unwinding is available.
fn catch_panic<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// CMYK (as jpeg-decoder returns it: 0 = no ink, Adobe inversion undone) to
/// RGB, in place.
fn cmyk_to_rgb(mut px: Vec<u8>) -> Vec<u8> {
    let n = px.len() / 4;
    for i in 0..n {
        let [c, m, y, k] = [px[4 * i], px[4 * i + 1], px[4 * i + 2], px[4 * i + 3]];
        let ik = 255 - u32::from(k);
        let ch = |v: u8| (((255 - u32::from(v)) * ik + 127) / 255) as u8;
        px[3 * i] = ch(c);
        px[3 * i + 1] = ch(m);
        px[3 * i + 2] = ch(y);
    }
    px.truncate(3 * n);
    px.shrink_to_fit();
    px
}

/// 16-bit grey (lossless JPEG, native-endian samples of 2..=16 bits) to 8-bit,
/// in place. The sample precision is not exposed by the decoder, so it is
/// taken from the largest sample.
fn l16_to_l8(mut px: Vec<u8>) -> Vec<u8> {
    let n = px.len() / 2;
    let sample = |px: &[u8], i: usize| u16::from_ne_bytes([px[2 * i], px[2 * i + 1]]);
    let max = (0..n).map(|i| sample(&px, i)).max().unwrap_or(0);
    let bits = 16 - max.leading_zeros();
    let full = if bits <= 8 { 255u32 } else { (1u32 << bits) - 1 };
    for i in 0..n {
        let v = u32::from(sample(&px, i));
        px[i] = ((v * 255 + full / 2) / full) as u8;
    }
    px.truncate(n);
    px.shrink_to_fit();
    px
}

fn png_error(e: image::ImageError, opts: &PhotoOptions, dims: Option<(u32, u32)>) -> PhotoError {
    match e {
        image::ImageError::Limits(_) => match dims {
            Some((width, height)) => PhotoError::TooManyPixels { width, height, limit: opts.max_input_pixels },
            None => PhotoError::Corrupt {
                format: "PNG",
                detail: "the image needs more memory to decode than allowed".to_owned(),
            },
        },
        image::ImageError::Unsupported(u) => PhotoError::UnsupportedFormat { format: format!("PNG variant ({u})") },
        image::ImageError::IoError(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
            PhotoError::Corrupt { format: "PNG", detail: TRUNCATED.to_owned() }
        }
        other => {
            let detail = other.to_string();
            let detail = if detail.contains("EOF") || detail.contains("end of file") || detail.contains("eof") {
                format!("{TRUNCATED} ({detail})")
            } else {
                detail
            };
            PhotoError::Corrupt { format: "PNG", detail }
        }
    }
}

fn decode_png(input: &[u8], opts: &PhotoOptions) -> Result<Decoded, PhotoError> {
    use image::{ColorType, ImageDecoder};
    let mut limits = image::Limits::default();
    // Pixels (at most 8 bytes each, RGBA16) plus slack for the decoder's own
    // buffers; the pixel count itself is checked below from the header.
    limits.max_alloc = Some(opts.max_input_pixels.saturating_mul(8).saturating_add(64 << 20));
    let cursor = io::Cursor::new(input);
    let mut decoder =
        image::codecs::png::PngDecoder::with_limits(cursor, limits).map_err(|e| png_error(e, opts, None))?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, opts, "PNG")?;
    let orientation = match decoder.exif_metadata() {
        Ok(Some(exif)) => Orientation::from_exif_chunk(&exif),
        _ => Orientation::Normal,
    };
    let color = decoder.color_type();
    let total = usize::try_from(decoder.total_bytes()).map_err(|_| PhotoError::TooManyPixels {
        width,
        height,
        limit: opts.max_input_pixels,
    })?;
    let mut buf = vec![0u8; total];
    catch_panic(|| decoder.read_image(&mut buf))
        .ok_or_else(|| PhotoError::Corrupt {
            format: "PNG",
            detail: "the decoder could not make sense of the image data".to_owned(),
        })?
        .map_err(|e| png_error(e, opts, Some((width, height))))?;

    let n = width as usize * height as usize;
    let (pixels, kind) = match color {
        ColorType::L8 => (buf, Kind::Gray),
        ColorType::Rgb8 => (buf, Kind::Rgb),
        ColorType::La8 => (flatten::<1, 1>(buf, n, |s| u16::from(s[1]), 255), Kind::Gray),
        ColorType::Rgba8 => (flatten::<3, 1>(buf, n, |s| u16::from(s[3]), 255), Kind::Rgb),
        ColorType::L16 => (flatten::<1, 2>(buf, n, |_| 65535, 65535), Kind::Gray),
        ColorType::La16 => (flatten::<1, 2>(buf, n, ne16::<2>, 65535), Kind::Gray),
        ColorType::Rgb16 => (flatten::<3, 2>(buf, n, |_| 65535, 65535), Kind::Rgb),
        ColorType::Rgba16 => (flatten::<3, 2>(buf, n, ne16::<6>, 65535), Kind::Rgb),
        other => {
            return Err(PhotoError::UnsupportedFormat { format: format!("PNG with {other:?} pixels") });
        }
    };
    Ok(Decoded { pixels, kind, width, height, full_width: width, full_height: height, orientation })
}

fn ne16<const AT: usize>(s: &[u8]) -> u16 {
    u16::from_ne_bytes([s[AT], s[AT + 1]])
}

/// Converts `n` PNG pixels of `C` colour channels (+ alpha, if `alpha` reads
/// one) of `B` bytes a sample to 8-bit, putting transparent parts on white.
/// In place when the output is no larger than the input.
fn flatten<const C: usize, const B: usize>(mut buf: Vec<u8>, n: usize, alpha: fn(&[u8]) -> u16, max: u32) -> Vec<u8> {
    let in_px = buf.len() / n.max(1);
    let sample = |s: &[u8], c: usize| -> u32 {
        if B == 1 { u32::from(s[c]) } else { u32::from(u16::from_ne_bytes([s[2 * c], s[2 * c + 1]])) }
    };
    let convert = |src: &[u8], dst: &mut [u8]| {
        let (a, max64) = (u64::from(alpha(src)), u64::from(max));
        let denom = max64 * max64;
        for (c, out) in dst.iter_mut().take(C).enumerate() {
            let v = u64::from(sample(src, c));
            // white × (1 − alpha) + v × alpha, in max² units, to 8 bits rounded
            let on_white = (max64 - a) * max64 + v * a;
            *out = ((on_white * 255 + denom / 2) / denom) as u8;
        }
    };
    if in_px >= C {
        // In place: the write position never passes the read position.
        let mut tmp = [0u8; 4];
        for i in 0..n {
            convert(&buf[i * in_px..(i + 1) * in_px], &mut tmp);
            buf[i * C..(i + 1) * C].copy_from_slice(&tmp[..C]);
        }
        buf.truncate(n * C);
        buf.shrink_to_fit();
        buf
    } else {
        let mut out = vec![0u8; n * C];
        for i in 0..n {
            convert(&buf[i * in_px..(i + 1) * in_px], &mut out[i * C..(i + 1) * C]);
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Resizing, orientation, encoding

/// Images at least this large (in pixels) are resized, turned and encoded on
/// several threads where there are threads (not in the browser).
const PARALLEL_MIN_PIXELS: u64 = 1 << 19;

/// How many threads the heavy steps may use.
fn threads_for(pixels: u64) -> usize {
    if pixels < PARALLEL_MIN_PIXELS {
        return 1;
    }
    #[cfg(not(target_arch = "wasm32"))]
    return std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    #[cfg(target_arch = "wasm32")]
    1
}

/// Applies `f` to every job, the first on this thread and the others on
/// scoped threads (one after the other on wasm32, on a single CPU, or for a
/// single job).
fn run_jobs<J: Send, R: Send>(jobs: Vec<J>, f: impl Fn(J) -> R + Sync) -> Vec<R> {
    #[cfg(not(target_arch = "wasm32"))]
    if jobs.len() > 1 && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        let f = &f;
        return std::thread::scope(|scope| {
            let mut jobs = jobs.into_iter();
            let first = jobs.next().expect("more than one job");
            let handles: Vec<_> = jobs.map(|job| scope.spawn(move || f(job))).collect();
            let mut results = vec![f(first)];
            for handle in handles {
                results.push(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            results
        });
    }
    jobs.into_iter().map(f).collect()
}

/// Rows of the destination resized at a time: keeps the resizer's scratch
/// buffer (source width × band rows) small instead of source width × all rows.
const RESIZE_BAND_ROWS: usize = 64;

/// Resizes tightly packed pixels to `dw`×`dh` with a convolution filter.
/// Returns the result and, to be reused, the source buffer (`None` if the
/// source already had that size and is itself the result).
#[allow(clippy::too_many_arguments)]
fn resize(
    src: Vec<u8>,
    sw: u32,
    sh: u32,
    kind: Kind,
    dw: u32,
    dh: u32,
    filter: fr::FilterType,
) -> (Vec<u8>, Option<Vec<u8>>) {
    if (sw, sh) == (dw, dh) {
        return (src, None);
    }
    let bpp = kind.bytes();
    let row_bytes = dw as usize * bpp;
    let mut dst = vec![0u8; row_bytes * dh as usize];
    let scale_y = f64::from(sh) / f64::from(dh);
    let alg = fr::ResizeAlg::Convolution(filter);
    // Whole bands per thread, so each thread works on its own rows of `dst`.
    let threads = threads_for(u64::from(dw) * u64::from(dh));
    let bands = (dh as usize).div_ceil(RESIZE_BAND_ROWS);
    let rows_per_job = bands.div_ceil(threads).max(1) * RESIZE_BAND_ROWS;
    let jobs: Vec<(usize, &mut [u8])> =
        dst.chunks_mut(rows_per_job * row_bytes).enumerate().map(|(i, chunk)| (i * rows_per_job, chunk)).collect();
    let src_ref = &src;
    run_jobs(jobs, |(first_row, chunk)| {
        let src_img = fr::images::ImageRef::new(sw, sh, src_ref, kind.fr()).expect("buffer holds sw×sh pixels");
        let mut resizer = fr::Resizer::new();
        for (b, band) in chunk.chunks_mut(RESIZE_BAND_ROWS * row_bytes).enumerate() {
            let y0 = first_row + b * RESIZE_BAND_ROWS;
            let rows = band.len() / row_bytes;
            let mut dst_img =
                fr::images::Image::from_slice_u8(dw, rows as u32, band, kind.fr()).expect("band holds dw×rows pixels");
            // The crop box maps this band of destination rows to its exact
            // span of source rows; the filter still reads the source rows
            // around the span, so the bands join seamlessly.
            let top = y0 as f64 * scale_y;
            let height = (rows as f64 * scale_y).min(f64::from(sh) - top);
            let options = fr::ResizeOptions::new().resize_alg(alg).crop(0.0, top, f64::from(sw), height);
            resizer.resize(&src_img, &mut dst_img, &options).expect("pixel types and sizes match");
        }
    });
    (dst, Some(src))
}

/// Applies an orientation to tightly packed pixels; returns the new buffer
/// and its width and height. `spare`, if given, is reused for the result.
fn orient(src: Vec<u8>, w: u32, h: u32, kind: Kind, o: Orientation, spare: Option<Vec<u8>>) -> (Vec<u8>, u32, u32) {
    if o == Orientation::Normal {
        return (src, w, h);
    }
    let (dw, dh) = if o.swaps_axes() { (h, w) } else { (w, h) };
    let mut dst = match spare {
        // Already paged in by the decoder: cheaper than fresh zeroed memory.
        // Every byte is overwritten below.
        Some(mut v) if v.len() >= src.len() => {
            v.truncate(src.len());
            v
        }
        _ => vec![0u8; src.len()],
    };
    match kind {
        Kind::Gray => orient_into::<1>(&src, w, h, o, &mut dst),
        Kind::Rgb => orient_into::<3>(&src, w, h, o, &mut dst),
    }
    (dst, dw, dh)
}

/// Writes `src` (`w`×`h`) turned by `o` into `dst`, row by row of `dst`
/// (gathering from `src`), in tiles, on several threads for big images.
fn orient_into<const B: usize>(src: &[u8], w: u32, h: u32, o: Orientation, dst: &mut [u8]) {
    let (wi, hi) = (w as isize, h as isize);
    // Source pixel index of destination pixel (dx, dy) = origin + dx*ax + dy*ay.
    let (origin, ax, ay) = match o {
        Orientation::Normal => (0, 1, wi),
        Orientation::FlipHorizontal => (wi - 1, -1, wi),
        Orientation::Rotate180 => ((hi - 1) * wi + wi - 1, -1, -wi),
        Orientation::FlipVertical => ((hi - 1) * wi, 1, -wi),
        Orientation::Transpose => (0, wi, 1),
        Orientation::Rotate90 => ((hi - 1) * wi, -wi, 1),
        Orientation::Transverse => ((hi - 1) * wi + wi - 1, -wi, -1),
        Orientation::Rotate270 => (wi - 1, wi, -1),
    };
    let dw = if o.swaps_axes() { h as usize } else { w as usize };
    let dh = src.len() / B / dw.max(1);
    const TILE: usize = 32;
    let threads = threads_for((dw * dh) as u64);
    let rows_per_job = dh.div_ceil(threads).div_ceil(TILE).max(1) * TILE;
    let jobs: Vec<(usize, &mut [u8])> =
        dst.chunks_mut(rows_per_job * dw * B).enumerate().map(|(i, c)| (i * rows_per_job, c)).collect();
    run_jobs(jobs, |(first_row, chunk)| {
        let rows = chunk.len() / (dw * B);
        for ty in (0..rows).step_by(TILE) {
            for tx in (0..dw).step_by(TILE) {
                let x_end = (tx + TILE).min(dw);
                for y in ty..(ty + TILE).min(rows) {
                    let dy = (first_row + y) as isize;
                    let out = &mut chunk[(y * dw + tx) * B..(y * dw + x_end) * B];
                    let mut s = origin + tx as isize * ax + dy * ay;
                    for px in out.chunks_exact_mut(B) {
                        let at = s as usize * B;
                        px.copy_from_slice(&src[at..at + B]);
                        s += ax;
                    }
                }
            }
        }
    });
}

fn encode_error(e: jpeg_encoder::EncodingError) -> PhotoError {
    PhotoError::Corrupt { format: "JPEG", detail: format!("could not encode the result: {e}") }
}

/// Baseline JPEG, 4:2:0, standard Huffman tables, JFIF header only: nothing
/// from the source file is carried over. Big images are encoded as
/// horizontal bands on several threads and joined with restart markers.
///
/// The number of bands depends only on the image size, never on the machine,
/// so the same input gives the same bytes (and the same SHA-256 name) on a
/// phone, in a browser (bands encoded one after the other) and on a server.
fn encode_jpeg(pixels: &[u8], w: u32, h: u32, kind: Kind, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let parts = if u64::from(w) * u64::from(h) >= PARALLEL_MIN_PIXELS { ENCODE_BANDS } else { 1 };
    encode_jpeg_parts(pixels, w, h, kind, quality, parts)
}

/// Bands a big image is encoded in (see [`encode_jpeg`]).
const ENCODE_BANDS: usize = 4;

/// Encodes one image in one piece, as a complete JPEG file.
fn encode_jpeg_one(pixels: &[u8], w: u16, h: u16, kind: Kind, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::with_capacity(pixels.len() / 8 + 4096);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    let color = match kind {
        Kind::Gray => jpeg_encoder::ColorType::Luma,
        Kind::Rgb => jpeg_encoder::ColorType::Rgb,
    };
    encoder.encode(pixels, w, h, color).map_err(encode_error)?;
    Ok(out)
}

/// Encodes in up to `parts` bands of whole MCU rows, each a JPEG of its own
/// made with identical tables, then joins their entropy-coded data into one
/// scan with restart markers between them (a restart resets the DC
/// predictors, which is what every band's encoder assumed). The result
/// decodes to exactly the pixels a one-piece encode gives.
fn encode_jpeg_parts(
    pixels: &[u8],
    w: u32,
    h: u32,
    kind: Kind,
    quality: u8,
    parts: usize,
) -> Result<Vec<u8>, PhotoError> {
    let too_big =
        || PhotoError::TooManyPixels { width: w, height: h, limit: u64::from(u16::MAX) * u64::from(u16::MAX) };
    let (w16, h16) = (u16::try_from(w).map_err(|_| too_big())?, u16::try_from(h).map_err(|_| too_big())?);
    // MCU: 16×16 pixels for 4:2:0 colour, 8×8 for grey.
    let mcu = match kind {
        Kind::Gray => 8,
        Kind::Rgb => 16,
    };
    let mcus_per_row = (w as usize).div_ceil(mcu);
    let mcu_rows = (h as usize).div_ceil(mcu);
    let rows_per_part = mcu_rows.div_ceil(parts.max(1));
    let interval = rows_per_part * mcus_per_row;
    if parts <= 1 || mcu_rows < 2 || interval > usize::from(u16::MAX) {
        return encode_jpeg_one(pixels, w16, h16, kind, quality);
    }
    let row_bytes = w as usize * kind.bytes();
    let band_bytes = rows_per_part * mcu * row_bytes;
    let bands: Vec<&[u8]> = pixels[..row_bytes * h as usize].chunks(band_bytes).collect();
    let encoded = run_jobs(bands, |band| encode_jpeg_one(band, w16, (band.len() / row_bytes) as u16, kind, quality));
    let encoded: Vec<Vec<u8>> = encoded.into_iter().collect::<Result<_, _>>()?;

    let bad = |what: &str| PhotoError::Corrupt {
        format: "JPEG",
        detail: format!("internal error joining encoded bands: {what}"),
    };
    let mut out = Vec::with_capacity(encoded.iter().map(Vec::len).sum::<usize>() + 64);
    for (i, part) in encoded.iter().enumerate() {
        let (sof_at, sos_end) = jpeg_layout(part).ok_or_else(|| bad("no SOF/SOS"))?;
        if !part.ends_with(&[0xFF, 0xD9]) {
            return Err(bad("no EOI"));
        }
        if i == 0 {
            // Headers of the first band, with the full height and a DRI
            // (define restart interval) segment in front of the scan.
            let sos_start = sos_start(part, sos_end).ok_or_else(|| bad("no SOS"))?;
            out.extend_from_slice(&part[..sos_start]);
            out[sof_at + 5..sof_at + 7].copy_from_slice(&h16.to_be_bytes());
            out.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04]);
            out.extend_from_slice(&(interval as u16).to_be_bytes());
            out.extend_from_slice(&part[sos_start..sos_end]);
        } else {
            out.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]);
        }
        out.extend_from_slice(&part[sos_end..part.len() - 2]);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Ok(out)
}

/// Offsets in a JPEG made by jpeg-encoder: of the SOF0 marker, and of the
/// first byte after the SOS header (where entropy-coded data starts).
fn jpeg_layout(jpeg: &[u8]) -> Option<(usize, usize)> {
    let mut at = 2;
    let mut sof = None;
    loop {
        let marker = *jpeg.get(at + 1)?;
        if *jpeg.get(at)? != 0xFF {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]));
        match marker {
            0xC0 => sof = Some(at),
            0xDA => return Some((sof?, at + 2 + len)),
            _ => {}
        }
        at += 2 + len;
    }
}

/// Offset of the SOS marker whose header ends at `sos_end`.
fn sos_start(jpeg: &[u8], sos_end: usize) -> Option<usize> {
    let mut at = 2;
    loop {
        let len = usize::from(u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]));
        if at + 2 + len == sos_end {
            return Some(at);
        }
        at += 2 + len;
    }
}

fn make_thumbnail(pixels: Vec<u8>, w: u32, h: u32, kind: Kind, opts: &PhotoOptions) -> Result<Vec<u8>, PhotoError> {
    let (tw, th) = fit(w, h, opts.thumbnail_long_edge.max(1));
    let (small, _) = resize(pixels, w, h, kind, tw, th, fr::FilterType::CatmullRom);
    encode_jpeg(&small, tw, th, kind, THUMBNAIL_QUALITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32) -> Vec<u8> {
        (0..h).flat_map(|y| (0..w).flat_map(move |x| [(x * 7 + y) as u8, (x ^ y) as u8, (x * y / 13) as u8])).collect()
    }

    fn decode_all(jpeg: &[u8]) -> Vec<u8> {
        jpeg_decoder::Decoder::new(jpeg).decode().expect("decodes")
    }

    #[test]
    fn a_crop_is_a_new_photo_of_the_rectangle_made_the_same_way_every_time() {
        let camera = encode_jpeg(&picture(400, 300), 400, 300, Kind::Rgb, 90).unwrap();
        let stored = process(&camera, &PhotoOptions::default()).unwrap();
        let before = stored.jpeg.clone();
        let rect = CropRect { left: 25, top: 10, width: 50, height: 80 };
        let cut = crop_stored(&stored.jpeg, rect, &PhotoOptions::default()).unwrap();
        assert_eq!((cut.width, cut.height), (200, 240));
        assert_ne!(cut.sha256, stored.sha256);
        assert_eq!(cut.sha256, hex::encode(Sha256::digest(&cut.jpeg)));
        assert_eq!(stored.jpeg, before, "the stored photo is only read");
        let again = crop_stored(&stored.jpeg, rect, &PhotoOptions::default()).unwrap();
        assert_eq!(again.jpeg, cut.jpeg, "deterministic: verify can remake it");
        assert_eq!(decode_all(&cut.jpeg).len(), 200 * 240 * 3);
        assert!(!CropRect { left: 60, top: 0, width: 50, height: 10 }.is_valid());
        assert!(!CropRect { left: 0, top: 0, width: 0, height: 10 }.is_valid());
        assert!(CropRect { left: 0, top: 0, width: 100, height: 100 }.is_whole());
    }

    #[test]
    fn a_jpeg_encoded_in_bands_decodes_to_the_same_pixels_as_one_encoded_whole() {
        for (w, h, parts) in [(300, 200, 2), (301, 203, 3), (64, 33, 4), (1000, 17, 2)] {
            let px = picture(w, h);
            let whole = encode_jpeg_parts(&px, w, h, Kind::Rgb, 85, 1).unwrap();
            let banded = encode_jpeg_parts(&px, w, h, Kind::Rgb, 85, parts).unwrap();
            assert_ne!(whole, banded, "{w}×{h}/{parts}: was really split");
            assert_eq!(decode_all(&whole), decode_all(&banded), "{w}×{h} in {parts} bands");
            let mut d = jpeg_decoder::Decoder::new(&banded[..]);
            d.read_info().unwrap();
            let info = d.info().unwrap();
            assert_eq!((u32::from(info.width), u32::from(info.height)), (w, h));
            let grey: Vec<u8> = px.iter().step_by(3).copied().collect();
            let whole = encode_jpeg_parts(&grey, w, h, Kind::Gray, 85, 1).unwrap();
            let banded = encode_jpeg_parts(&grey, w, h, Kind::Gray, 85, parts).unwrap();
            assert_eq!(decode_all(&whole), decode_all(&banded), "grey {w}×{h} in {parts} bands");
        }
    }

    #[test]
    fn each_orientation_moves_the_top_left_pixel_where_exif_says() {
        // 3×2 image, pixel values = their index.
        let src: Vec<u8> = (0..6).collect();
        let cases = [
            (Orientation::Normal, (3, 2), vec![0, 1, 2, 3, 4, 5]),
            (Orientation::FlipHorizontal, (3, 2), vec![2, 1, 0, 5, 4, 3]),
            (Orientation::Rotate180, (3, 2), vec![5, 4, 3, 2, 1, 0]),
            (Orientation::FlipVertical, (3, 2), vec![3, 4, 5, 0, 1, 2]),
            (Orientation::Transpose, (2, 3), vec![0, 3, 1, 4, 2, 5]),
            (Orientation::Rotate90, (2, 3), vec![3, 0, 4, 1, 5, 2]),
            (Orientation::Transverse, (2, 3), vec![5, 2, 4, 1, 3, 0]),
            (Orientation::Rotate270, (2, 3), vec![2, 5, 1, 4, 0, 3]),
        ];
        for (o, dims, want) in cases {
            let (got, w, h) = orient(src.clone(), 3, 2, Kind::Gray, o, None);
            assert_eq!(((w, h), got), (dims, want), "{o:?}");
        }
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_and_never_enlarges() {
        assert_eq!(fit(4032, 3024, 2048), (2048, 1536));
        assert_eq!(fit(3024, 4032, 2048), (1536, 2048));
        assert_eq!(fit(100, 50, 2048), (100, 50));
        assert_eq!(fit(10000, 1, 100), (100, 1));
    }

    #[test]
    fn sniff_names_common_non_photo_files() {
        assert_eq!(sniff(b"GIF89a\0\0"), SniffedFormat::Other("GIF".into()));
        assert!(matches!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), SniffedFormat::Other(s) if s == "WebP"));
        assert!(matches!(sniff(b"\0\0\0\x18ftypheic"), SniffedFormat::Other(s) if s.starts_with("HEIC")));
        assert!(matches!(sniff(b"%PDF-1.7"), SniffedFormat::Other(s) if s == "PDF"));
        assert!(matches!(sniff(b"II*\0\x08\0\0\0"), SniffedFormat::Other(s) if s.starts_with("TIFF")));
        assert!(matches!(sniff(b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0"), SniffedFormat::Other(s) if s == "BMP"));
        assert!(matches!(sniff("会议记录：市场\n".as_bytes()), SniffedFormat::Other(s) if s.starts_with("text")));
        assert!(
            matches!(sniff(&[0x00, 0x01, 0x02, 0xFE]), SniffedFormat::Other(s) if s == "unknown (first bytes: 00 01 02 FE)")
        );
    }
}
