//! The escaper for the markup still written by hand: the bulletin charts'
//! SVG (`bulletin/chart.rs`) and the DOCX's OOXML (`bulletin/docx.rs`).
//! HTML pages (the console, the bulletin's HTML) are maud templates, which
//! escape every spliced value themselves; don't use this for them (they
//! pass through [`xml_chars_only`] once rendered).

/// Escapes text for SVG and XML element content and quoted attribute
/// values. Characters XML cannot carry at all (C0 controls but tab, LF and
/// CR; U+FFFE, U+FFFF) become U+FFFD: the edges refuse them, but an older
/// database may hold one, and one such character makes a DOCX unopenable.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if !anfang_core::text::is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A rendered page with every character XML cannot carry (C0 controls but
/// tab, LF and CR; U+FFFE, U+FFFF) replaced by U+FFFD, as [`esc`] does: maud
/// escapes markup but passes them through, and an older database may hold
/// one in a note. Our templates write none themselves, so only data changes.
pub fn xml_chars_only(page: String) -> String {
    if page.chars().all(anfang_core::text::is_xml_char) {
        return page;
    }
    page.chars().map(|c| if anfang_core::text::is_xml_char(c) { c } else { '\u{FFFD}' }).collect()
}

#[cfg(test)]
mod tests {
    use super::{esc, xml_chars_only};

    #[test]
    fn xml_illegal_characters_leave_a_rendered_page() {
        assert_eq!(xml_chars_only("<p>a\u{1}b\tc</p>".into()), "<p>a\u{FFFD}b\tc</p>");
        assert_eq!(xml_chars_only("<p>通川区</p>".into()), "<p>通川区</p>");
    }

    #[test]
    fn text_is_escaped_for_element_content_and_attributes() {
        assert_eq!(esc("<script>\"x\" & 'y'</script>"), "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
        assert_eq!(esc("通川区 №1"), "通川区 №1", "text without markup is unchanged");
        assert_eq!(
            esc("a\u{1}b\u{B}c\u{FFFF}\td\r\n"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\td\r\n",
            "XML-illegal characters are replaced"
        );
    }
}
