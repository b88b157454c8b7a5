//! The one HTML escaper, shared by the console pages and the bulletin's
//! HTML, SVG and DOCX (OOXML): everything they write from data goes through it.

/// Escapes text for HTML, SVG and XML element content and quoted attribute
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

#[cfg(test)]
mod tests {
    use super::esc;

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
