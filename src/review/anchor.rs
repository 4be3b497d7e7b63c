//! Where a finding can be posted. GitHub accepts an inline review comment only on a line the
//! pull request's diff shows on the comment's side (RIGHT: added and context lines, numbered in
//! the new file; LEFT: removed and context lines, numbered in the old file), and a multi-line
//! comment only when both ends lie in one hunk. Anything else fails the *whole* review with a 422,
//! so every finding is placed here before posting: exactly where it points, narrowed to the part
//! inside the diff, moved to the nearest line that is, or left for the file-level or summary text.

use crate::forge::github::{InlineComment, Side};
use crate::review::diff::{Diff, FileDiff, LineRange};

/// A place GitHub accepts an inline comment: the fields of a review comment, minus the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub path: String,
    pub side: Side,
    /// First line of a multi-line comment; `None` for one line (GitHub rejects `start_line ==
    /// line`).
    pub start_line: Option<u32>,
    pub line: u32,
}

impl Anchor {
    fn new(path: &str, side: Side, range: LineRange) -> Self {
        Anchor {
            path: path.to_string(),
            side,
            start_line: (range.start < range.end).then_some(range.start),
            line: range.end,
        }
    }

    pub fn range(&self) -> LineRange {
        LineRange::new(self.start_line.unwrap_or(self.line), self.line)
    }

    /// The review comment GitHub will take for this place.
    pub fn comment(&self, body: String) -> InlineComment {
        InlineComment {
            path: self.path.clone(),
            line: self.line,
            side: self.side,
            start_line: self.start_line,
            start_side: self.start_line.map(|_| self.side),
            body,
        }
    }
}

/// Where a finding on some lines of a file ends up, and how far that is from where it pointed,
/// so the comment can say so (and a suggestion is only offered where it would replace exactly the
/// lines it was written for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The lines are in one hunk: post them as they are.
    Exact(Anchor),
    /// Part of the range is in the diff: post on that part (the hunk holding most of it).
    Clipped(Anchor),
    /// None of the range is in the diff: the nearest line that is, `distance` lines away.
    Nearest { anchor: Anchor, distance: u32 },
    /// The file is in the diff but shows no line on that side (binary, a pure rename, a deleted
    /// file seen from the RIGHT): a file-level remark, in the summary.
    FileLevel { path: String },
    /// The path is not in the diff: summary only.
    NotInDiff,
}

impl Placement {
    /// The inline place, if there is one.
    pub fn anchor(&self) -> Option<&Anchor> {
        match self {
            Placement::Exact(a) | Placement::Clipped(a) | Placement::Nearest { anchor: a, .. } => {
                Some(a)
            }
            Placement::FileLevel { .. } | Placement::NotInDiff => None,
        }
    }
}

impl FileDiff {
    /// Places a comment on `range` of `side` of this file (see [`Placement`]). Ties go to the
    /// earlier hunk, so the result does not depend on anything but the diff.
    pub fn place(&self, side: Side, range: LineRange) -> Placement {
        let path = self.path();
        let spans: Vec<LineRange> = self.hunks.iter().filter_map(|h| h.span(side)).collect();
        if spans.is_empty() {
            return Placement::FileLevel {
                path: path.to_string(),
            };
        }
        if spans.iter().any(|s| s.contains(range)) {
            return Placement::Exact(Anchor::new(path, side, range));
        }
        let widest = spans
            .iter()
            .filter(|s| s.overlaps(range))
            .map(|s| LineRange::new(s.start.max(range.start), s.end.min(range.end)))
            .fold(None::<LineRange>, |best, r| match best {
                Some(b) if b.len() >= r.len() => Some(b),
                _ => Some(r),
            });
        if let Some(part) = widest {
            return Placement::Clipped(Anchor::new(path, side, part));
        }
        let (distance, line) = spans
            .iter()
            .map(|s| {
                if s.end < range.start {
                    (range.start - s.end, s.end)
                } else {
                    (s.start - range.end, s.start)
                }
            })
            .min_by_key(|&(distance, _)| distance)
            .expect("spans is not empty");
        Placement::Nearest {
            anchor: Anchor::new(path, side, LineRange::line(line)),
            distance,
        }
    }
}

impl Diff {
    /// Places a comment on `range` of `side` of the file `path` names (its new or old name; the
    /// anchor always carries the name GitHub wants).
    pub fn place(&self, path: &str, side: Side, range: LineRange) -> Placement {
        match self.file(path) {
            Some(file) => file.place(side, range),
            None => Placement::NotInDiff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::testing::{GitRepo, numbered};

    /// A 100-line file changed at lines 10, 50 (two lines) and 90: three hunks, RIGHT spans
    /// 7..=13, 47..=54 and 87..=93 with git's three lines of context.
    fn three_hunks() -> (GitRepo, Diff) {
        let repo = GitRepo::new();
        repo.write("src/app.rs", numbered(100));
        repo.write("gone.rs", numbered(3));
        repo.write("img.png", [0u8, 1]);
        let base = repo.commit("base");
        let text = numbered(100)
            .replace("line 10\n", "ten\n")
            .replace("line 50\n", "fifty\nfifty and a half\n")
            .replace("line 90\n", "");
        repo.write("src/app.rs", text);
        repo.remove("gone.rs");
        repo.write("img.png", [0u8, 2]);
        let head = repo.commit("head");
        let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
        (repo, diff)
    }

    fn anchor(side: Side, start: Option<u32>, line: u32) -> Anchor {
        Anchor {
            path: "src/app.rs".into(),
            side,
            start_line: start,
            line,
        }
    }

    #[test]
    fn lines_inside_one_hunk_are_exact() {
        let (_repo, diff) = three_hunks();
        let spans: Vec<_> = diff.files[2]
            .hunks
            .iter()
            .map(|h| h.span(Side::Right).unwrap())
            .collect();
        assert_eq!(
            spans,
            [
                LineRange::new(7, 13),
                LineRange::new(47, 54),
                LineRange::new(88, 93)
            ]
        );
        let place = |side, a, b| diff.place("src/app.rs", side, LineRange::new(a, b));
        assert_eq!(
            place(Side::Right, 10, 10),
            Placement::Exact(anchor(Side::Right, None, 10))
        );
        assert_eq!(
            place(Side::Right, 51, 50),
            Placement::Exact(anchor(Side::Right, Some(50), 51)),
            "a reversed range is turned around"
        );
        // The removed line 90 is on the LEFT only.
        assert_eq!(
            place(Side::Left, 90, 90),
            Placement::Exact(anchor(Side::Left, None, 90))
        );
    }

    #[test]
    fn a_range_across_hunks_is_clipped_to_the_hunk_holding_most_of_it() {
        let (_repo, diff) = three_hunks();
        assert_eq!(
            diff.place("src/app.rs", Side::Right, LineRange::new(12, 50)),
            Placement::Clipped(anchor(Side::Right, Some(47), 50))
        );
        assert_eq!(
            diff.place("src/app.rs", Side::Right, LineRange::new(5, 8)),
            Placement::Clipped(anchor(Side::Right, Some(7), 8))
        );
    }

    #[test]
    fn a_line_outside_every_hunk_moves_to_the_nearest_one() {
        let (_repo, diff) = three_hunks();
        assert_eq!(
            diff.place("src/app.rs", Side::Right, LineRange::new(20, 22)),
            Placement::Nearest {
                anchor: anchor(Side::Right, None, 13),
                distance: 7
            }
        );
        assert_eq!(
            diff.place("src/app.rs", Side::Right, LineRange::line(40)),
            Placement::Nearest {
                anchor: anchor(Side::Right, None, 47),
                distance: 7
            }
        );
        assert_eq!(
            diff.place("src/app.rs", Side::Right, LineRange::line(30)),
            Placement::Nearest {
                anchor: anchor(Side::Right, None, 13),
                distance: 17
            },
            "17 lines either way: the earlier hunk wins"
        );
    }

    #[test]
    fn files_without_lines_on_a_side_are_file_level_and_unknown_paths_summary_only() {
        let (_repo, diff) = three_hunks();
        assert_eq!(
            diff.place("img.png", Side::Right, LineRange::line(1)),
            Placement::FileLevel {
                path: "img.png".into()
            }
        );
        assert_eq!(
            diff.place("gone.rs", Side::Right, LineRange::line(2)),
            Placement::FileLevel {
                path: "gone.rs".into()
            }
        );
        let removed = diff.place("gone.rs", Side::Left, LineRange::new(1, 3));
        assert!(matches!(removed, Placement::Exact(_)), "{removed:?}");
        assert_eq!(
            diff.place("nope.rs", Side::Right, LineRange::line(1)),
            Placement::NotInDiff
        );
        assert_eq!(Placement::NotInDiff.anchor(), None);
    }

    #[test]
    fn a_renamed_file_is_commented_on_under_its_new_name() {
        let repo = GitRepo::new();
        repo.write("a/old.rs", numbered(20));
        let base = repo.commit("base");
        repo.mv("a/old.rs", "b/new.rs");
        repo.write("b/new.rs", numbered(20).replace("line 12\n", "twelve\n"));
        let head = repo.commit("head");
        let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
        let placed = diff.place("a/old.rs", Side::Right, LineRange::line(12));
        assert_eq!(placed.anchor().unwrap().path, "b/new.rs");
        assert!(matches!(placed, Placement::Exact(_)));
    }

    #[test]
    fn an_anchor_becomes_the_comment_github_takes() {
        let one = anchor(Side::Right, None, 10).comment("b".into());
        assert_eq!((one.start_line, one.start_side, one.line), (None, None, 10));
        let range = anchor(Side::Left, Some(3), 5).comment("b".into());
        assert_eq!(range.start_line, Some(3));
        assert_eq!(range.start_side, Some(Side::Left));
        let json = serde_json::to_value(&range).unwrap();
        assert_eq!(json["side"], "LEFT");
        assert_eq!(json["start_side"], "LEFT");
        assert_eq!(
            anchor(Side::Right, Some(3), 5).range(),
            LineRange::new(3, 5)
        );
    }
}
