//! When an edit's `old` text is not in the file, say why as precisely as we can: models most often
//! miss by whitespace, by copying read_file's line numbers, or by working from a stale memory of
//! the file. Showing the most similar region with its real text lets the model copy it exactly.

use std::fmt::Write as _;

use crate::text::floor_char_boundary;

/// Below this similarity a region is not worth showing: it would only mislead.
const MIN_SIMILARITY: f64 = 0.3;
/// Bounds the cost of the search (file lines × `old` lines compared) on huge files.
const MAX_COMPARISONS: usize = 4_000_000;
/// Lines of the closest region shown at most, and bytes of each.
const MAX_SHOWN_LINES: usize = 40;
const MAX_SHOWN_LINE_BYTES: usize = 300;

/// The error for an `old` that occurs nowhere in `content`. Its first line is always
/// "`old` was not found in `path`." so that it reads well as a one-line reason too.
pub(super) fn explain_no_match(content: &str, old: &str, rel: &str) -> String {
    let mut out = format!("`old` was not found in `{rel}`.");
    if has_copied_line_numbers(old) {
        out.push_str(
            "\nIt seems to include the line numbers read_file shows (`   12 | `); \
             they are not part of the file, so leave them out.",
        );
    }
    let file: Vec<Line> = content.lines().map(Line::new).collect();
    if file.is_empty() {
        out.push_str("\nThe file is empty.");
        return out;
    }
    let collapsed_old = collapse_whitespace(old);
    if !old.contains('\r')
        && content.contains("\r\n")
        && content.contains(&old.replace('\n', "\r\n"))
    {
        out.push_str(
            "\nThe file has Windows line endings: `old` matches once its line breaks are written \
             as \\r\\n.",
        );
    } else if !collapsed_old.is_empty() && collapse_whitespace(content).contains(&collapsed_old) {
        out.push_str(
            "\nIt does match if whitespace is ignored, so the difference is only indentation, \
             spaces or tabs, or line endings: copy the whitespace exactly from the file.",
        );
    }

    let old: Vec<Line> = old.lines().map(Line::new).collect();
    if file.len().saturating_mul(old.len()) > MAX_COMPARISONS {
        out.push_str(
            "\nRead the part of the file you mean to change again, and copy `old` from it exactly.",
        );
        return out;
    }
    let (start, similarity) = closest_window(&file, &old);
    if similarity < MIN_SIMILARITY {
        out.push_str(
            "\nNothing in the file closely resembles it; the file may differ from what you \
             remember, so read it again.",
        );
        return out;
    }
    let end = (start + old.len()).min(file.len());
    let percent = (similarity * 100.0).round();
    let _ = write!(
        out,
        "\nThe closest text is at lines {}-{end} ({percent}% similar):",
        start + 1
    );
    for (index, line) in file[start..end].iter().enumerate().take(MAX_SHOWN_LINES) {
        let text = line.raw;
        let cut = floor_char_boundary(text, MAX_SHOWN_LINE_BYTES);
        let more = if cut < text.len() { " …" } else { "" };
        let _ = write!(out, "\n{:>5} | {}{more}", start + index + 1, &text[..cut]);
    }
    if end - start > MAX_SHOWN_LINES {
        let _ = write!(out, "\n… {} more lines", end - start - MAX_SHOWN_LINES);
    }
    out.push_str(
        "\nCopy `old` from the file exactly (without the line numbers), or read it again.",
    );
    out
}

/// A line prepared for comparison: whitespace runs collapsed (so indentation does not dominate
/// the score), and its byte bigrams sorted for a linear-time multiset intersection.
struct Line<'a> {
    raw: &'a str,
    collapsed: String,
    bigrams: Vec<u16>,
}

impl<'a> Line<'a> {
    fn new(raw: &'a str) -> Self {
        let collapsed = collapse_whitespace(raw);
        let mut bigrams: Vec<u16> = collapsed
            .as_bytes()
            .windows(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
            .collect();
        bigrams.sort_unstable();
        Self {
            raw,
            collapsed,
            bigrams,
        }
    }

    /// Dice's coefficient over bigrams: 1.0 for lines equal up to whitespace, near 0 for unrelated
    /// ones, and forgiving of a changed identifier or literal.
    fn similarity(&self, other: &Line) -> f64 {
        let (a, b) = (&self.bigrams, &other.bigrams);
        if a.is_empty() || b.is_empty() {
            return if self.collapsed == other.collapsed {
                1.0
            } else {
                0.0
            };
        }
        let (mut i, mut j, mut shared) = (0, 0, 0usize);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        (2 * shared) as f64 / (a.len() + b.len()) as f64
    }
}

/// The window of `old.len()` file lines most similar to `old`, line by line, and its average
/// similarity; the earliest wins a tie.
fn closest_window(file: &[Line], old: &[Line]) -> (usize, f64) {
    let mut best = (0, f64::MIN);
    for start in 0..=file.len().saturating_sub(old.len()) {
        let total: f64 = old
            .iter()
            .zip(&file[start..])
            .map(|(want, have)| want.similarity(have))
            .sum();
        let score = total / old.len() as f64;
        if score > best.1 {
            best = (start, score);
        }
    }
    best
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether every non-blank line of `old` starts like `   12 | `: read_file's prefix.
fn has_copied_line_numbers(old: &str) -> bool {
    let mut lines = old
        .lines()
        .filter(|line| !line.trim().is_empty())
        .peekable();
    lines.peek().is_some()
        && lines.all(|line| {
            let rest = line.trim_start();
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            digits > 0 && rest[digits..].starts_with(" |")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "fn main() {\n    let total = add(1, 2);\n    println!(\"{total}\");\n}\n\nfn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n";

    #[test]
    fn a_near_miss_shows_the_closest_lines_with_their_numbers() {
        let old = "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}";
        assert_eq!(
            explain_no_match(FILE, old, "src/main.rs"),
            "`old` was not found in `src/main.rs`.\n\
             The closest text is at lines 6-8 (93% similar):\n    \
                 6 | fn add(a: u32, b: u32) -> u32 {\n    \
                 7 |     a + b\n    \
                 8 | }\n\
             Copy `old` from the file exactly (without the line numbers), or read it again."
        );
    }

    #[test]
    fn a_whitespace_only_miss_says_so() {
        let old = "fn main() {\n  let total = add(1, 2);";
        let message = explain_no_match(FILE, old, "src/main.rs");
        assert!(
            message.contains(
                "\nIt does match if whitespace is ignored, so the difference is only indentation"
            ),
            "{message}"
        );
        assert!(message.contains("\nThe closest text is at lines 1-2 (100% similar):\n    1 | fn main() {\n    2 |     let total = add(1, 2);\n"), "{message}");
    }

    #[test]
    fn windows_line_endings_are_named() {
        let message = explain_no_match("a\r\nb\r\n", "a\nb", "w.txt");
        assert!(message.contains("\nThe file has Windows line endings: `old` matches once its line breaks are written as \\r\\n."), "{message}");
    }

    #[test]
    fn copied_line_numbers_are_named() {
        let old = "    6 | fn add(a: u32, b: u32) -> u32 {\n    7 |     a + b";
        let message = explain_no_match(FILE, old, "src/main.rs");
        assert!(
            message.contains("\nIt seems to include the line numbers read_file shows"),
            "{message}"
        );
        assert!(!has_copied_line_numbers("let x = 1 | 2;"));
    }

    #[test]
    fn unrelated_text_is_not_dressed_up_as_a_match() {
        assert_eq!(
            explain_no_match(FILE, "struct Config { port: u16 }", "src/main.rs"),
            "`old` was not found in `src/main.rs`.\nNothing in the file closely resembles it; \
             the file may differ from what you remember, so read it again."
        );
        assert_eq!(
            explain_no_match("", "x", "e.txt"),
            "`old` was not found in `e.txt`.\nThe file is empty."
        );
    }
}
