//! Masking inspector aliases in free text that leaves the reviewers' hands
//! (不见面): an inspector may sign a note with their alias ("督查02 拍摄"),
//! and the note is shown to leaders, printed in bulletins and exported.
//! Reviewers and admins, who know the aliases anyway, see notes verbatim.

/// What an alias is replaced with.
pub const MASK: &str = "督查员";

/// Every alias of the office, matched longest first in one pass, so that
/// `督查1` cannot eat the front of `督查10` and a mask is never re-matched.
/// Matching forgives what people vary when they type an alias: spaces
/// inside it ("督查 02"), full-width letters and digits ("督查０２") and
/// Latin case.
#[derive(Debug, Clone, Default)]
pub struct AliasMask {
    /// Folded (see [`fold`]), without spaces, longest first.
    aliases: Vec<(Vec<char>, String)>,
}

/// Full-width ASCII to ASCII, Latin letters to lower case.
fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        c => c,
    };
    c.to_ascii_lowercase()
}

impl AliasMask {
    pub fn new(aliases: Vec<String>) -> Self {
        let mut aliases: Vec<(Vec<char>, String)> = aliases
            .into_iter()
            .map(|a| (a.chars().filter(|c| !c.is_whitespace()).map(fold).collect::<Vec<_>>(), a))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        aliases.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        aliases.dedup_by(|a, b| a.0 == b.0);
        Self { aliases }
    }

    /// If an alias starts at the beginning of `text`, how many bytes of
    /// `text` it covers (spaces inside it included), and which alias.
    fn match_at<'a>(&'a self, text: &str) -> Option<(usize, &'a str)> {
        'alias: for (key, alias) in &self.aliases {
            let mut chars = text.char_indices();
            let mut end = 0;
            for (n, want) in key.iter().enumerate() {
                loop {
                    let Some((i, c)) = chars.next() else { continue 'alias };
                    // Spaces may sit inside an alias, never before it.
                    if n > 0 && c.is_whitespace() {
                        continue;
                    }
                    if fold(c) != *want {
                        continue 'alias;
                    }
                    end = i + c.len_utf8();
                    break;
                }
            }
            return Some((end, alias));
        }
        None
    }

    /// The text with every alias replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match self.match_at(rest) {
                Some((len, _)) => {
                    out.push_str(MASK);
                    rest = &rest[len..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }

    /// The first alias the text contains, if any (as the office wrote it).
    pub fn find(&self, text: &str) -> Option<&str> {
        text.char_indices().find_map(|(i, _)| self.match_at(&text[i..]).map(|(_, alias)| alias))
    }

    pub fn mask_note(&self, note: &mut Option<String>) {
        if let Some(n) = note.as_mut() {
            *n = self.mask(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask() -> AliasMask {
        AliasMask::new(vec!["督查1".into(), "督查10".into(), "督查".into(), "".into(), "  ".into(), "Insp7".into()])
    }

    #[test]
    fn every_alias_in_a_note_is_replaced_longest_first() {
        assert_eq!(mask().mask("督查10 拍摄，督查1 复核"), "督查员 拍摄，督查员 复核");
    }

    #[test]
    fn an_alias_typed_with_spaces_full_width_digits_or_another_case_is_still_masked() {
        assert_eq!(mask().mask("督查 1 0拍摄"), "督查员拍摄");
        assert_eq!(mask().mask("督查１０拍摄"), "督查员拍摄");
        assert_eq!(mask().mask("by INSP 7."), "by 督查员.");
        assert_eq!(mask().find("本期由督查 10 牵头"), Some("督查10"));
    }

    #[test]
    fn the_mask_itself_is_never_masked_again_and_other_text_is_untouched() {
        // "督查" is an alias and a prefix of the mask: replacing alias by
        // alias would turn "督查10" into "督查员员"; one pass does not.
        assert_eq!(mask().mask("督查10"), "督查员");
        assert_eq!(mask().mask("人行道上停了三辆车 "), "人行道上停了三辆车 ");
        assert_eq!(AliasMask::default().mask("督查10"), "督查10");
        assert_eq!(mask().find("本期通报"), None);
    }
}
