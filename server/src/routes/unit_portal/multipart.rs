//! `multipart/form-data` bodies of the portal's answer form, parsed from a
//! buffer the guard has already read within the row's limit.
//!
//! Hand-written rather than axum's `multipart` feature: that pulls in
//! `multer` and its dependencies for one form, and the body is bounded and
//! buffered anyway (each file goes whole to the photo pipeline). What
//! browsers send is a small subset of RFC 7578: a boundary from the
//! `Content-Type`, CRLF line ends, `Content-Disposition: form-data;
//! name="…"[; filename="…"]` and an optional `Content-Type` per part. File
//! contents stay slices of the one buffer (no copy).

use axum::body::Bytes;

/// Most parts one form may have: 9 photos from two inputs, a PDF, a few
/// text fields. A body of thousands of empty parts is refused, not walked.
const MAX_PARTS: usize = 64;
/// Most bytes of one part's headers.
const MAX_HEADER_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// `Some` for a file input (empty when the input was left empty).
    pub filename: Option<String>,
    pub data: Bytes,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
        })
        // RFC 2046: 1 to 70 characters.
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let at = i + hay[i..=hay.len() - needle.len()].iter().position(|&b| b == first)?;
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// A `name="value"` parameter of a `Content-Disposition` header. Browsers
/// send quotes and line breaks inside names as `%22`, `%0D`, `%0A`.
fn param(header: &str, key: &str) -> Option<String> {
    let mut rest = header;
    while let Some(at) = rest.find(key) {
        let before = rest[..at].trim_end();
        let after = &rest[at + key.len()..];
        rest = after;
        if !(before.ends_with(';')) {
            continue;
        }
        let Some(value) = after.trim_start().strip_prefix('=') else { continue };
        let value = value.trim_start();
        let raw = match value.strip_prefix('"') {
            Some(q) => &q[..q.find('"')?],
            None => value.split(';').next().unwrap_or("").trim(),
        };
        return Some(raw.replace("%22", "\"").replace("%0D", "\r").replace("%0A", "\n"));
    }
    None
}

/// Splits `body` into its parts.
pub fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, Malformed> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_delimiter = format!("\r\n--{boundary}");
    let next_delimiter = next_delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or(Malformed("no boundary in the body"))? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(Malformed("a boundary line must end with CRLF"));
        }
        at += 2;
        if parts.len() == MAX_PARTS {
            return Err(Malformed("too many parts"));
        }
        let head_end = find(body, b"\r\n\r\n", at).ok_or(Malformed("a part without the end of its headers"))?;
        if head_end - at > MAX_HEADER_BYTES {
            return Err(Malformed("a part's headers are too long"));
        }
        let head = std::str::from_utf8(&body[at..head_end]).map_err(|_| Malformed("part headers are not UTF-8"))?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim().eq_ignore_ascii_case("content-disposition").then_some(v.trim())
            })
            .ok_or(Malformed("a part without Content-Disposition"))?;
        if !disposition.to_ascii_lowercase().starts_with("form-data") {
            return Err(Malformed("a part that is not form-data"));
        }
        let name = param(disposition, "name").ok_or(Malformed("a part without a name"))?;
        let filename = param(disposition, "filename");
        let start = head_end + 4;
        let end = find(body, next_delimiter, start).ok_or(Malformed("the body ends inside a part"))?;
        parts.push(Part { name, filename, data: body.slice(start..end) });
        at = end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_browser_sends_with_text_and_files() {
        let body = Bytes::from_static(
            b"------WebKitFormBoundaryX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
------WebKitFormBoundaryX\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a%22b.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\r\n--x\xff\xd9\r\n\
------WebKitFormBoundaryX\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n\
------WebKitFormBoundaryX--\r\n",
        );
        let b = boundary("multipart/form-data; boundary=----WebKitFormBoundaryX").unwrap();
        let parts = parse(&body, &b).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].filename.as_deref(), &parts[0].data[..]),
            ("csrf", None, &b"abc"[..])
        );
        assert_eq!((parts[1].name.as_str(), parts[1].filename.as_deref()), ("photos", Some("a\"b.jpg")));
        // Bytes that look like a line break and a dash stay file content.
        assert_eq!(&parts[1].data[..], b"\xff\xd8\r\n--x\xff\xd9");
        assert_eq!((parts[2].filename.as_deref(), parts[2].data.len()), (Some(""), 0));
    }

    #[test]
    fn refuses_what_is_not_a_whole_form() {
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        let b = "B";
        let cut = Bytes::from_static(b"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhalf");
        assert!(parse(&cut, b).is_err());
        let nameless = Bytes::from_static(b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--");
        assert!(parse(&nameless, b).is_err());
        let many = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n".repeat(MAX_PARTS + 1) + "--B--";
        assert_eq!(parse(&Bytes::from(many), b).unwrap_err(), Malformed("too many parts"));
        // `filename=` is not `name=`.
        let only_filename =
            Bytes::from_static(b"--B\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nx\r\n--B--");
        assert!(parse(&only_filename, b).is_err());
    }
}
