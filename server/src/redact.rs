//! Masking inspector aliases in free text that leaves the reviewers' hands
//! (不见面): an inspector may sign a note with their alias ("督查02 拍摄"),
//! and the note is shown to leaders, printed in bulletins and exported.
//! Reviewers and admins, who know the aliases anyway, see notes verbatim.

/// What an alias is replaced with.
pub const MASK: &str = "督查员";

/// Parts of the day, in order: the finest capture time a unit, a bulletin
/// or the public is given (a minute would let a unit find the inspector on
/// its own cameras). Office time zone: 上午 00:00–11:59, 下午 12:00–17:59,
/// 晚上 18:00–23:59.
pub const PARTS_OF_DAY: [&str; 3] = ["上午", "下午", "晚上"];

/// The part of day of an hour (0–23) of office time.
pub fn part_of_day(hour: i8) -> &'static str {
    match hour {
        ..=11 => PARTS_OF_DAY[0],
        12..=17 => PARTS_OF_DAY[1],
        _ => PARTS_OF_DAY[2],
    }
}

/// The date and part of day (office time zone) of a capture instant.
pub fn coarse_time(ms: i64, tz: &jiff::tz::TimeZone) -> Result<(jiff::civil::Date, &'static str), jiff::Error> {
    let local = jiff::Timestamp::from_millisecond(ms)?.to_zoned_datetime(tz.clone());
    Ok((local.date(), part_of_day(local.hour())))
}

/// Every alias of the office, matched longest first in one pass, so that
/// `督查1` cannot eat the front of `督查10` and a mask is never re-matched.
/// Matching forgives what people vary when they type an alias, and what
/// renders invisibly: spaces inside it ("督查 02"), full-width and other
/// compatibility forms ("督查０２", as NFKC folds them), Latin case, and
/// characters that show nothing or only decorate the one before: format
/// characters (Unicode category Cf: zero-width space, BOM, bidi controls…)
/// and combining marks ("督\u{200B}查02" renders as 督查02 and is masked).
#[derive(Debug, Clone, Default)]
pub struct AliasMask {
    /// Folded (see [`fold_text`]), without spaces, longest first.
    aliases: Vec<(Vec<char>, String)>,
}

/// Unicode format characters (general category Cf, Unicode 15): they
/// render as nothing, so they are ignored when matching. The list is
/// stable; `unicode-normalization` has no general-category table.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{600}'..='\u{605}'
            | '\u{61C}'
            | '\u{6DD}'
            | '\u{70F}'
            | '\u{890}'..='\u{891}'
            | '\u{8E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// One character of folded text and the bytes of the original it came from.
struct Folded {
    c: char,
    /// Byte range of the source character.
    start: usize,
    end: usize,
    /// First / last folded character of its source character: a match may
    /// only begin and end on source-character boundaries.
    first: bool,
    last: bool,
}

/// Folds text for matching: each character's compatibility decomposition
/// (NFKD; equal under NFKC implies equal here), without combining marks
/// (Mn, Mc, Me) and format characters (Cf), Latin letters lowercased.
fn fold_text(text: &str) -> Vec<Folded> {
    let mut out = Vec::with_capacity(text.len());
    for (start, src) in text.char_indices() {
        let end = start + src.len_utf8();
        let begin = out.len();
        unicode_normalization::char::decompose_compatible(src, |d| {
            if is_format(d) || unicode_normalization::char::is_combining_mark(d) {
                return;
            }
            for c in d.to_lowercase() {
                out.push(Folded { c, start, end, first: false, last: false });
            }
        });
        if out.len() > begin {
            out[begin].first = true;
            let n = out.len() - 1;
            out[n].last = true;
        }
    }
    out
}

impl AliasMask {
    pub fn new(aliases: Vec<String>) -> Self {
        let mut aliases: Vec<(Vec<char>, String)> = aliases
            .into_iter()
            .map(|a| (fold_text(&a).into_iter().map(|f| f.c).filter(|c| !c.is_whitespace()).collect::<Vec<_>>(), a))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        aliases.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        aliases.dedup_by(|a, b| a.0 == b.0);
        Self { aliases }
    }

    /// If an alias starts at folded position `k`, the folded position of
    /// its last character (spaces inside it included), and which alias.
    fn match_at<'a>(&'a self, text: &[Folded], k: usize) -> Option<(usize, &'a str)> {
        let head = text.get(k)?;
        // Spaces may sit inside an alias, never before it.
        if !head.first || head.c.is_whitespace() {
            return None;
        }
        'alias: for (key, alias) in &self.aliases {
            let mut j = k;
            for (n, want) in key.iter().enumerate() {
                loop {
                    let Some(f) = text.get(j) else { continue 'alias };
                    if n > 0 && f.c.is_whitespace() {
                        j += 1;
                        continue;
                    }
                    if f.c != *want {
                        continue 'alias;
                    }
                    break;
                }
                j += 1;
            }
            if text[j - 1].last {
                return Some((j - 1, alias));
            }
        }
        None
    }

    /// The text with every alias replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let folded = fold_text(text);
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut k = 0;
        while k < folded.len() {
            match self.match_at(&folded, k) {
                Some((last, _)) => {
                    out.push_str(&text[copied..folded[k].start]);
                    out.push_str(MASK);
                    copied = folded[last].end;
                    k = last + 1;
                }
                None => k += 1,
            }
        }
        out.push_str(&text[copied..]);
        out
    }

    /// The first alias the text contains, if any (as the office wrote it).
    pub fn find(&self, text: &str) -> Option<&str> {
        let folded = fold_text(text);
        (0..folded.len()).find_map(|k| self.match_at(&folded, k).map(|(_, alias)| alias))
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
    fn parts_of_day_split_office_time_at_noon_and_six_in_the_evening() {
        let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
        let at =
            |s: &str| s.parse::<jiff::civil::DateTime>().unwrap().to_zoned_datetime(tz.clone()).unwrap().timestamp();
        for (local, day, part) in [
            ("2026-11-27T00:00:00", "2026-11-27", "上午"),
            ("2026-11-27T11:59:59.999", "2026-11-27", "上午"),
            ("2026-11-27T12:00:00", "2026-11-27", "下午"),
            ("2026-11-27T17:59:59", "2026-11-27", "下午"),
            ("2026-11-27T18:00:00", "2026-11-27", "晚上"),
            ("2026-11-27T23:59:59", "2026-11-27", "晚上"),
        ] {
            let (d, p) = coarse_time(at(local).as_millisecond(), &tz).unwrap();
            assert_eq!((d.to_string().as_str(), p), (day, part), "{local}");
        }
        // 17:30 UTC on the 26th is 01:30 on the 27th in Shanghai: the office's day.
        let (d, p) =
            coarse_time("2026-11-26T17:30:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond(), &tz).unwrap();
        assert_eq!((d.to_string().as_str(), p), ("2026-11-27", "上午"));
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
    fn an_alias_with_invisible_or_decorating_characters_inside_is_still_masked() {
        let m = AliasMask::new(vec!["督查02".into(), "Insp7".into()]);
        for typed in [
            "督\u{200B}查02",         // zero-width space: renders as 督查02
            "督\u{FEFF}查02",         // BOM / zero-width no-break space
            "督查\u{200D}0\u{2060}2", // zero-width joiner, word joiner
            "督查\u{202E}02",         // a bidi override
            "督查0\u{0301}2",         // a combining acute accent
            "督查0\u{20DD}2",         // an enclosing circle (Me)
            "督查０２",               // full-width digits
            "督查\u{2080}\u{2082}",   // subscript digits (NFKC: 0, 2)
            "督查\u{3000}02",         // an ideographic space inside
        ] {
            assert_eq!(m.mask(&format!("{typed}拍摄")), "督查员拍摄", "{typed:?}");
            assert_eq!(m.find(&format!("由{typed}牵头")), Some("督查02"), "{typed:?}");
        }
        assert_eq!(m.mask("by ＩＮＳＰ７."), "by 督查员.");
        assert_eq!(m.mask("by I\u{0307}nsp7."), "by 督查员.", "a dotted capital I decomposes to I + mark");
        // Text around a match is kept byte for byte.
        assert_eq!(m.mask("\u{200B}前 督查02\u{200B} 后"), "\u{200B}前 督查员\u{200B} 后");
        assert_eq!(m.mask("督查03"), "督查03");
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
