//! Masking inspector aliases in free text that leaves the reviewers' hands
//! (不见面): an inspector may sign a note with their alias ("督查02 拍摄"),
//! and the note is shown to leaders, printed in bulletins and exported.
//! Reviewers and admins, who know the aliases anyway, see notes verbatim.

/// What an alias is replaced with.
pub const MASK: &str = "督查员";

/// Every alias of the office, matched longest first in one pass, so that
/// `督查1` cannot eat the front of `督查10` and a mask is never re-matched.
#[derive(Debug, Clone, Default)]
pub struct AliasMask {
    aliases: Vec<String>,
}

impl AliasMask {
    pub fn new(mut aliases: Vec<String>) -> Self {
        aliases.retain(|a| !a.trim().is_empty());
        aliases.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        aliases.dedup();
        Self { aliases }
    }

    /// The text with every alias replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while let Some(c) = rest.chars().next() {
            for a in &self.aliases {
                if rest.starts_with(a.as_str()) {
                    out.push_str(MASK);
                    rest = &rest[a.len()..];
                    continue 'scan;
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// The first alias the text contains, if any (longest first).
    pub fn find(&self, text: &str) -> Option<&str> {
        self.aliases.iter().map(String::as_str).find(|a| text.contains(a))
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
        AliasMask::new(vec!["督查1".into(), "督查10".into(), "督查".into(), "".into()])
    }

    #[test]
    fn every_alias_in_a_note_is_replaced_longest_first() {
        assert_eq!(mask().mask("督查10 拍摄，督查1 复核"), "督查员 拍摄，督查员 复核");
    }

    #[test]
    fn the_mask_itself_is_never_masked_again_and_other_text_is_untouched() {
        // "督查" is an alias and a prefix of the mask: replacing alias by
        // alias would turn "督查10" into "督查员员"; one pass does not.
        assert_eq!(mask().mask("督查10"), "督查员");
        assert_eq!(mask().mask("人行道上停了三辆车"), "人行道上停了三辆车");
        assert_eq!(AliasMask::default().mask("督查10"), "督查10");
        assert_eq!(mask().find("本期由督查10 牵头"), Some("督查10"));
        assert_eq!(mask().find("本期通报"), None);
    }
}
