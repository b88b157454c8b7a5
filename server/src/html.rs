//! The one HTML escaper, shared by the console pages and the bulletin's
//! HTML and SVG: everything either writes from data goes through it.

/// Escapes text for HTML (and SVG) element content and quoted attribute
/// values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
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
    }
}
