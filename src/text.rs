//! Cutting text to a byte budget without splitting a character: model prompts, tool output
//! and GitHub bodies all have byte limits, and their text is any UTF-8.

/// The largest index `<= max` that falls on a character boundary of `text`.
pub fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The longest start of `text` of at most `max` bytes.
pub fn head(text: &str, max: usize) -> &str {
    &text[..floor_char_boundary(text, max)]
}

/// The longest end of `text` of at most `max` bytes.
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A Markdown code fence longer than any run of backticks in `text`, so the text cannot close
/// it early (at least three backticks).
pub fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_characters() {
        let text = "aé€😀z"; // 1, 2, 3, 4 and 1 bytes
        assert_eq!(head(text, 0), "");
        assert_eq!(head(text, 2), "a");
        assert_eq!(head(text, 6), "aé€");
        assert_eq!(head(text, 100), text);
        assert_eq!(tail(text, 1), "z");
        assert_eq!(tail(text, 4), "z");
        assert_eq!(tail(text, 5), "😀z");
        assert_eq!(tail(text, 100), text);
        assert_eq!(floor_char_boundary(text, 9), 6);
    }

    #[test]
    fn a_fence_outgrows_the_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("`````"), "``````");
    }
}
