//! Telling a finding already posted from a new one when the code has moved.
//!
//! An incremental review sees the same problem again on every push, usually at other line
//! numbers (code was added above it). A finding's identity is therefore not its lines but what it
//! is about: the file, the code it is anchored on (whitespace-normalised, so re-indenting does
//! not make it new) and its title (normalised, and without the line numbers models like to put in
//! titles). [`Fingerprint`] hashes those three; [`AnchoredCode`] keeps the code so a finding posted
//! earlier can be found again in a new diff or file ([`AnchoredCode::locate`]).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::forge::github::Side;
use crate::review::diff::{FileDiff, LineRange};

/// The identity of a finding across pushes; short hex, cheap to store and to hide in a comment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

const MARKER_PREFIX: &str = "<!-- orion:finding ";

impl Fingerprint {
    /// The fingerprint of a finding titled `title` on `code` in `path`.
    pub fn new(path: &str, code: &AnchoredCode, title: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [path, &code.0.join("\n"), &normalise_title(title)] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Fingerprint(hex::encode(&hash.finalize()[..12]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An invisible line for the comment posted for this finding, so the next review can read
    /// which findings are already on the pull request from the comments themselves (and from
    /// the threads humans resolved or answered).
    pub fn marker(&self) -> String {
        format!("{MARKER_PREFIX}{} -->", self.0)
    }

    /// The fingerprint a comment body carries in its [`marker`](Self::marker), if any.
    pub fn find_in(body: &str) -> Option<Fingerprint> {
        let rest = &body[body.find(MARKER_PREFIX)? + MARKER_PREFIX.len()..];
        let hex = rest.split_whitespace().next()?;
        hex.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| Fingerprint(hex.to_string()))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The code lines a finding is anchored on, whitespace-normalised (runs of whitespace become one
/// space, ends trimmed) and without blank lines. Kept with a posted finding so it can be found
/// again after the code moves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AnchoredCode(Vec<String>);

impl AnchoredCode {
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        AnchoredCode(
            lines
                .into_iter()
                .map(normalise_code)
                .filter(|l| !l.is_empty())
                .collect(),
        )
    }

    /// No code to go by (the finding was on blank lines, or outside the diff): the fingerprint
    /// then rests on the path and title alone.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn lines(&self) -> &[String] {
        &self.0
    }

    /// Where this code is in `lines` (numbered lines, in order, contiguous in the file): the
    /// first to last matching line of the occurrence nearest `near`. Blank lines in between are
    /// allowed; other lines are not.
    pub fn locate<'a>(
        &self,
        lines: impl IntoIterator<Item = (u32, &'a str)>,
        near: u32,
    ) -> Option<LineRange> {
        if self.0.is_empty() {
            return None;
        }
        let text: Vec<(u32, String)> = lines
            .into_iter()
            .map(|(n, l)| (n, normalise_code(l)))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        text.windows(self.0.len())
            .filter(|w| w.iter().zip(&self.0).all(|((_, l), want)| l == want))
            .map(|w| LineRange::new(w[0].0, w[w.len() - 1].0))
            .min_by_key(|r| r.start.abs_diff(near))
    }

    /// Where this code is in a whole file (its content at the new head), nearest `near`.
    pub fn locate_in_file(&self, content: &str, near: u32) -> Option<LineRange> {
        self.locate((1..).zip(content.lines()), near)
    }

    /// Where this code is among the lines a diff shows on `side` (so a comment can go there),
    /// nearest `near`. An occurrence never spans two hunks.
    pub fn locate_in_diff(&self, file: &FileDiff, side: Side, near: u32) -> Option<LineRange> {
        file.hunks
            .iter()
            .filter_map(|h| {
                let lines = h
                    .lines
                    .iter()
                    .filter_map(|l| l.number(side).map(|n| (n, l.text.as_str())));
                self.locate(lines, near)
            })
            .min_by_key(|r| r.start.abs_diff(near))
    }
}

impl FileDiff {
    /// The code the diff shows on `range` of `side` (lines of the range outside every hunk are
    /// not known here and left out).
    pub fn code_at(&self, side: Side, range: LineRange) -> AnchoredCode {
        AnchoredCode::from_lines(
            self.side_lines(side)
                .filter(|(n, _)| range.contains(LineRange::line(*n)))
                .map(|(_, l)| l.text.as_str()),
        )
    }
}

fn normalise_code(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

static LINE_REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:on |at |in )?(?:lines?|l)\s*\d+(?:\s*(?:-|–|to|and)\s*\d+)?\b")
        .expect("valid regex")
});

/// A title reduced to what it says: lower case, words only, line references removed (`"Unchecked
/// index at line 42"` and `"Unchecked index (line 57)"` are the same finding).
pub fn normalise_title(title: &str) -> String {
    let without_lines = LINE_REFERENCE.replace_all(title, " ");
    without_lines
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::diff::Diff;
    use crate::review::testing::{GitRepo, numbered};

    const FUNCTION: &str = "fn risky(v: &[u8]) -> u8 {\n    v[0]\n}\n";

    #[test]
    fn moved_code_keeps_its_fingerprint_and_is_found_again() {
        let repo = GitRepo::new();
        repo.write("src/a.rs", numbered(40));
        let base = repo.commit("base");
        // First push: the function is added at line 11.
        let first = numbered(40).replace("line 10\n", &format!("line 10\n{FUNCTION}"));
        repo.write("src/a.rs", &first);
        let push1 = repo.commit("push 1");
        // Second push: 25 lines added above it, and it is re-indented.
        let second = first
            .replace("line 2\n", &format!("line 2\n{}", "// note\n".repeat(25)))
            .replace("    v[0]", "        v[0]");
        repo.write("src/a.rs", &second);
        let push2 = repo.commit("push 2");

        let one = Diff::parse(&repo.diff(&base, &push1)).unwrap();
        let two = Diff::parse(&repo.diff(&base, &push2)).unwrap();
        let posted = one.files[0].code_at(Side::Right, LineRange::new(11, 13));
        assert_eq!(posted.lines(), ["fn risky(v: &[u8]) -> u8 {", "v[0]", "}"]);

        let found = posted
            .locate_in_diff(&two.files[0], Side::Right, 11)
            .unwrap();
        assert_eq!(found, LineRange::new(36, 38));
        assert_eq!(
            posted.locate_in_file(&repo.read("src/a.rs"), 11),
            Some(found)
        );
        let again = two.files[0].code_at(Side::Right, found);
        assert_eq!(
            Fingerprint::new("src/a.rs", &posted, "Index without bounds check at line 12"),
            Fingerprint::new("src/a.rs", &again, "index without bounds check (line 37)"),
        );
    }

    #[test]
    fn a_different_file_title_or_code_is_a_different_finding() {
        let code = AnchoredCode::from_lines(["let x = v[0];"]);
        let base = Fingerprint::new("a.rs", &code, "Unchecked index");
        assert_ne!(base, Fingerprint::new("b.rs", &code, "Unchecked index"));
        assert_ne!(base, Fingerprint::new("a.rs", &code, "Integer overflow"));
        let other = AnchoredCode::from_lines(["let x = v[1];"]);
        assert_ne!(base, Fingerprint::new("a.rs", &other, "Unchecked index"));
        assert_eq!(
            base,
            Fingerprint::new(
                "a.rs",
                &AnchoredCode::from_lines(["  let x =  v[0];", ""]),
                "UNCHECKED index!"
            )
        );
    }

    #[test]
    fn the_nearest_occurrence_wins_and_lines_in_between_break_a_match() {
        let file = "a\nb\n\nc\nx\na\nb\nc\n";
        let code = AnchoredCode::from_lines(["a", "b", "c"]);
        assert_eq!(code.locate_in_file(file, 1), Some(LineRange::new(1, 4)));
        assert_eq!(code.locate_in_file(file, 7), Some(LineRange::new(6, 8)));
        assert_eq!(
            AnchoredCode::from_lines(["b", "c", "x", "c"]).locate_in_file(file, 1),
            None
        );
        assert_eq!(AnchoredCode::default().locate_in_file(file, 1), None);
    }

    #[test]
    fn titles_lose_case_punctuation_and_line_references() {
        assert_eq!(
            normalise_title("Possible panic on lines 40-45: `unwrap()`!"),
            "possible panic unwrap"
        );
        assert_eq!(
            normalise_title("L12 leaks a file handle"),
            "leaks a file handle"
        );
        assert_eq!(normalise_title("Use u64 in line 3 to 9"), "use u64");
    }

    #[test]
    fn the_marker_round_trips_through_a_comment_body() {
        let fp = Fingerprint::new("a.rs", &AnchoredCode::default(), "t");
        let body = format!("**minor** · t\n\nSome text.\n\n{}", fp.marker());
        assert_eq!(Fingerprint::find_in(&body), Some(fp.clone()));
        assert_eq!(fp.as_str().len(), 24);
        assert_eq!(Fingerprint::find_in("no marker here"), None);
        assert_eq!(Fingerprint::find_in("<!-- orion:finding zz! -->"), None);
    }
}
