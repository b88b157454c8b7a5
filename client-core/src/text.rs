//! Text a person typed that ends up in documents: notes, reasons, names,
//! bulletin text. Control characters cannot be seen, cannot be typed on
//! purpose, and some (U+0001, U+000B …) are illegal in XML, so one of them
//! in a note makes an issued bulletin's DOCX unopenable forever. They are
//! refused at every edge where text comes in, with the field named.
//!
//! Allowed: tab, line feed and carriage return (browsers submit a textarea
//! with CRLF line breaks, and XML accepts all three).

/// A control character in a text input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", self.message())]
pub struct TextError {
    pub field: String,
    pub ch: char,
    /// 1-based position in characters, as a person counts.
    pub position: usize,
}

impl TextError {
    /// What is wrong and what to do, without the field name.
    pub fn message(&self) -> String {
        format!(
            "contains an invisible control character (U+{:04X}) at character {}; remove it (only tab and line breaks are allowed)",
            self.ch as u32, self.position
        )
    }
}

/// Whether `c` is refused in a text input: every control character (Unicode
/// category Cc: U+0000–U+001F, U+007F–U+009F) except tab, LF and CR, and the
/// noncharacters U+FFFE and U+FFFF, which XML does not allow either.
pub fn is_refused(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Whether XML 1.0 can carry `c` at all (`Char` production). Rust strings
/// hold no surrogates, so only C0 controls and U+FFFE/U+FFFF are left out.
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Refuses `value` if it holds a character [`is_refused`] names.
pub fn check_text(field: &str, value: &str) -> Result<(), TextError> {
    match value.chars().enumerate().find(|(_, c)| is_refused(*c)) {
        Some((i, ch)) => Err(TextError { field: field.to_owned(), ch, position: i + 1 }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_with_field_and_position_but_tab_and_line_breaks_pass() {
        assert_eq!(check_text("note", "人行道\t停车\r\n三辆\n"), Ok(()));
        for bad in ['\u{0}', '\u{1}', '\u{8}', '\u{B}', '\u{C}', '\u{1B}', '\u{1F}', '\u{7F}', '\u{85}', '\u{FFFF}'] {
            let e = check_text("note", &format!("停车{bad}")).unwrap_err();
            assert_eq!((e.field.as_str(), e.ch, e.position), ("note", bad, 3));
            assert!(e.to_string().starts_with("note: "), "{e}");
        }
    }

    #[test]
    fn xml_chars_are_those_of_xml_1_0() {
        assert!(['\t', '\n', '\r', ' ', '督', '\u{85}', '\u{FFFD}'].into_iter().all(is_xml_char));
        assert!(!['\u{0}', '\u{1}', '\u{B}', '\u{C}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'].into_iter().any(is_xml_char));
    }
}
