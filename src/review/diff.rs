//! Unified diffs parsed into files, hunks and numbered lines.
//!
//! Everything a review does is keyed by line numbers GitHub will accept, so the parser counts
//! lines exactly as GitHub does: a hunk's lines are read by its header's counts (not by guessing
//! from prefixes), which is what makes a removed line `-- x` or an added `++ y` safe. Two inputs
//! are accepted: a whole diff (`application/vnd.github.diff`, `git diff`, plain `diff -u`) through
//! [`Diff::parse`], and the per-file `patch` of the PR files API through
//! [`FileDiff::from_pr_file`]. Where a diff says less than it could (no `diff --git` line, no
//! `---`/`+++`), the parser takes what there is; where it contradicts itself (a hunk shorter than
//! its header), it fails rather than number lines wrongly.

use octocrab::models::repos::{DiffEntry, DiffEntryStatus};

use crate::forge::github::Side;

#[path = "diff_header.rs"]
mod header;
use header::Header;

/// A parse failure, with the 1-based line of the input where it was noticed, so a bad diff can be
/// reported (and looked at) instead of reviewed with wrong line numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the diff: {message}")]
pub struct DiffError {
    pub line: usize,
    pub message: String,
}

/// An inclusive range of 1-based line numbers on one side of a diff: the unit GitHub's review
/// comments use (`start_line..=line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineRange {
    pub start: u32,
    pub end: u32,
}

impl LineRange {
    /// A range from two ends in either order (models do give `start > end`).
    pub fn new(a: u32, b: u32) -> Self {
        Self {
            start: a.min(b),
            end: a.max(b),
        }
    }

    /// One line.
    pub fn line(n: u32) -> Self {
        Self { start: n, end: n }
    }

    pub fn contains(&self, other: LineRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub fn overlaps(&self, other: LineRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// How many lines: never 0, a range holds at least one line.
    pub fn len(&self) -> u32 {
        self.end - self.start + 1
    }

    /// Always false; here because clippy expects it beside `len`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What a diff did to a file. Decides which sides have lines (an added file has no LEFT side) and
/// is shown to the reviewer, who judges a rename differently from a rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    Copied,
}

impl FileStatus {
    /// The word used in prompts and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Deleted => "deleted",
            Self::Renamed => "renamed",
            Self::Copied => "copied",
        }
    }
}

/// The role of one line in a hunk, which fixes the side it can be commented on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// Unchanged; on both sides, commented on the RIGHT.
    Context,
    /// Only in the new file (RIGHT).
    Added,
    /// Only in the old file (LEFT).
    Removed,
}

/// One line of a hunk with its numbers on each side it exists on, so a finding on either side can
/// be checked without recounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub old_line: Option<u32>,
    pub new_line: Option<u32>,
    /// The content without the `+`/`-`/` ` prefix and without a trailing `\r` (a CRLF file's
    /// lines read like anyone else's; a CRLF-only change shows as equal removed and added lines).
    pub text: String,
    /// Followed by `\ No newline at end of file`.
    pub no_newline_at_eof: bool,
}

impl Line {
    /// This line's number on `side`, if it exists there.
    pub fn number(&self, side: Side) -> Option<u32> {
        match side {
            Side::Right => self.new_line,
            Side::Left => self.old_line,
        }
    }
}

/// One `@@` hunk: a contiguous run of lines on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: u32,
    pub old_count: u32,
    pub new_start: u32,
    pub new_count: u32,
    /// The text after the closing `@@` (usually the enclosing function), kept for the reviewer.
    pub section: String,
    pub lines: Vec<Line>,
}

impl Hunk {
    /// The lines of `side` this hunk shows: exactly where GitHub accepts comments on that side.
    /// `None` when the hunk has no line there (only additions seen from the LEFT, say).
    pub fn span(&self, side: Side) -> Option<LineRange> {
        let (start, count) = match side {
            Side::Right => (self.new_start, self.new_count),
            Side::Left => (self.old_start, self.old_count),
        };
        (count > 0).then(|| LineRange::new(start, start + count - 1))
    }

    /// Added plus removed lines: the unit coverage is counted in.
    pub fn changed_lines(&self) -> u32 {
        self.lines
            .iter()
            .filter(|l| l.kind != LineKind::Context)
            .count() as u32
    }
}

/// The size of a file's change when GitHub left its patch out (too large to show), so coverage
/// can count lines nobody could review instead of pretending they do not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OmittedPatch {
    pub additions: u32,
    pub deletions: u32,
}

/// One file of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// The path before; `None` for an added file.
    pub old_path: Option<String>,
    /// The path after; `None` for a deleted file.
    pub new_path: Option<String>,
    pub status: FileStatus,
    /// Binary content: nothing to read or comment on line by line.
    pub binary: bool,
    /// File modes as octal numbers (`0o100644`, `0o100755`, `0o120000` symlink), when the diff
    /// says; an executable bit gained is worth a reviewer's glance.
    pub old_mode: Option<u32>,
    pub new_mode: Option<u32>,
    /// `similarity index` of a rename or copy, in percent.
    pub similarity: Option<u8>,
    pub hunks: Vec<Hunk>,
    /// Set when the PR files API had no patch for a file that did change.
    pub omitted: Option<OmittedPatch>,
}

impl FileDiff {
    /// The path review comments use: the new path, or the old one for a deleted file.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }

    /// Whether `path` names this file on either side (a finding may cite a renamed file's old
    /// name).
    pub fn has_path(&self, path: &str) -> bool {
        self.new_path.as_deref() == Some(path) || self.old_path.as_deref() == Some(path)
    }

    pub fn mode_changed(&self) -> bool {
        self.old_mode.is_some() && self.new_mode.is_some() && self.old_mode != self.new_mode
    }

    /// Added plus removed lines, including those of an omitted patch.
    pub fn changed_lines(&self) -> u32 {
        let shown: u32 = self.hunks.iter().map(Hunk::changed_lines).sum();
        shown + self.omitted.map_or(0, |o| o.additions + o.deletions)
    }

    /// The lines this diff shows on `side`, in order, with their numbers there.
    pub fn side_lines(&self, side: Side) -> impl Iterator<Item = (u32, &Line)> {
        self.hunks
            .iter()
            .flat_map(|h| h.lines.iter())
            .filter_map(move |l| l.number(side).map(|n| (n, l)))
    }

    /// A file from one entry of the PR files API (`GET /pulls/{n}/files`), whose `patch` is a
    /// bare run of hunks. A missing patch means binary, empty, or too large; the API does not
    /// say which, so a file with changed lines is [`omitted`](Self::omitted) and one without is
    /// left with no hunks. The unified diff is more precise (`Binary files … differ`) and is the
    /// better input when it can be had.
    pub fn from_pr_file(entry: &DiffEntry) -> Result<Self, DiffError> {
        let status = match entry.status {
            DiffEntryStatus::Added => FileStatus::Added,
            DiffEntryStatus::Removed => FileStatus::Deleted,
            DiffEntryStatus::Renamed => FileStatus::Renamed,
            DiffEntryStatus::Copied => FileStatus::Copied,
            _ => FileStatus::Modified,
        };
        let name = Some(entry.filename.clone());
        let before = entry.previous_filename.clone().or_else(|| name.clone());
        let (old_path, new_path) = match status {
            FileStatus::Added => (None, name),
            FileStatus::Deleted => (name, None),
            _ => (before, name),
        };
        let mut file = FileDiff {
            old_path,
            new_path,
            status,
            binary: false,
            old_mode: None,
            new_mode: None,
            similarity: None,
            hunks: Vec::new(),
            omitted: None,
        };
        match &entry.patch {
            Some(patch) => {
                let lines: Vec<&str> = split_lines(patch);
                let mut i = 0;
                while i < lines.len() {
                    if lines[i].starts_with("@@") {
                        let (hunk, next) = parse_hunk(&lines, i)?;
                        file.hunks.push(hunk);
                        i = next;
                    } else if lines[i].is_empty() && i + 1 == lines.len() {
                        i += 1;
                    } else {
                        return Err(error(i, "a patch holds only hunks"));
                    }
                }
            }
            None if entry.changes > 0 => {
                file.omitted = Some(OmittedPatch {
                    additions: entry.additions as u32,
                    deletions: entry.deletions as u32,
                });
            }
            None => {}
        }
        Ok(file)
    }
}

/// A parsed diff: the files in the order the diff lists them (git sorts them by path, which keeps
/// related files next to each other when chunking).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub files: Vec<FileDiff>,
}

impl Diff {
    /// Parses a whole unified diff. Text outside any file (an email preamble, a trailing blank
    /// line) is ignored; an empty input is an empty diff.
    pub fn parse(text: &str) -> Result<Self, DiffError> {
        let lines = split_lines(text);
        let mut files = Vec::new();
        let mut current: Option<Header> = None;
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            if let Some(rest) = line.strip_prefix("diff --git ") {
                files.extend(current.take().map(Header::finish));
                current = Some(Header::from_git_line(rest));
            } else if line.starts_with("@@") {
                let Some(file) = current.as_mut() else {
                    return Err(error(i, "a hunk before any file header"));
                };
                let (hunk, next) = parse_hunk(&lines, i)?;
                file.hunks.push(hunk);
                i = next;
                continue;
            } else if line.starts_with("--- ") && next_is_plus(&lines, i) {
                // In a git diff this follows the `diff --git` line; without one (plain
                // `diff -u`), or after hunks, it starts the next file.
                let same_file = current
                    .as_ref()
                    .is_some_and(|h| h.from_git && h.hunks.is_empty() && !h.seen_minus);
                if !same_file {
                    files.extend(current.take().map(Header::finish));
                    current = Some(Header::default());
                }
                let file = current.as_mut().expect("set above");
                file.minus(&line[4..]);
                file.plus(&lines[i + 1][4..]);
                i += 2;
                continue;
            } else if let Some(file) = current.as_mut().filter(|h| h.hunks.is_empty()) {
                file.extended(line);
            }
            i += 1;
        }
        files.extend(current.map(Header::finish));
        Ok(Diff { files })
    }

    /// The files of the PR files API, each parsed by [`FileDiff::from_pr_file`].
    pub fn from_pr_files(entries: &[DiffEntry]) -> Result<Self, DiffError> {
        let files = entries
            .iter()
            .map(FileDiff::from_pr_file)
            .collect::<Result<_, _>>()?;
        Ok(Diff { files })
    }

    /// The file a path names: its path now, or (for a finding citing the old name) before.
    pub fn file(&self, path: &str) -> Option<&FileDiff> {
        self.files
            .iter()
            .find(|f| f.path() == path)
            .or_else(|| self.files.iter().find(|f| f.has_path(path)))
    }

    /// Added plus removed lines over all files: the total coverage is measured against.
    pub fn changed_lines(&self) -> u64 {
        self.files.iter().map(|f| f.changed_lines() as u64).sum()
    }
}

/// Lines without their `\n` and one trailing `\r`; a final newline does not make an extra line.
fn split_lines(text: &str) -> Vec<&str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

fn error(index: usize, message: impl Into<String>) -> DiffError {
    DiffError {
        line: index + 1,
        message: message.into(),
    }
}

fn next_is_plus(lines: &[&str], i: usize) -> bool {
    lines.get(i + 1).is_some_and(|l| l.starts_with("+++ "))
}

/// Reads the hunk whose header is `lines[at]`; returns it and the index after it.
fn parse_hunk(lines: &[&str], at: usize) -> Result<(Hunk, usize), DiffError> {
    let bad = || error(at, format!("malformed hunk header `{}`", lines[at]));
    let rest = lines[at].strip_prefix("@@ -").ok_or_else(bad)?;
    let (ranges, section) = rest.split_once(" @@").ok_or_else(bad)?;
    let (old, new) = ranges.split_once(" +").ok_or_else(bad)?;
    let (old_start, old_count) = parse_range(old).ok_or_else(bad)?;
    let (new_start, new_count) = parse_range(new).ok_or_else(bad)?;
    let mut hunk = Hunk {
        old_start,
        old_count,
        new_start,
        new_count,
        section: section.trim().to_string(),
        lines: Vec::with_capacity((old_count.max(new_count)) as usize),
    };
    let (mut old_left, mut new_left) = (old_count, new_count);
    let (mut old_no, mut new_no) = (old_start, new_start);
    let mut i = at + 1;
    while old_left > 0 || new_left > 0 {
        let Some(&line) = lines.get(i) else {
            return Err(error(
                i,
                format!("the diff ends inside the hunk at line {}", at + 1),
            ));
        };
        let (kind, text) = match line.as_bytes().first() {
            Some(b'\\') => {
                mark_no_newline(&mut hunk);
                i += 1;
                continue;
            }
            Some(b'+') => (LineKind::Added, &line[1..]),
            Some(b'-') => (LineKind::Removed, &line[1..]),
            Some(b' ') => (LineKind::Context, &line[1..]),
            // Some tools strip the space of an empty context line.
            None => (LineKind::Context, ""),
            Some(_) => {
                return Err(error(
                    i,
                    format!("a line inside the hunk at line {} has no prefix", at + 1),
                ));
            }
        };
        let (old_line, new_line) = match kind {
            LineKind::Added if new_left > 0 => (None, Some(new_no)),
            LineKind::Removed if old_left > 0 => (Some(old_no), None),
            LineKind::Context if old_left > 0 && new_left > 0 => (Some(old_no), Some(new_no)),
            _ => {
                return Err(error(
                    i,
                    format!("more lines than the header at line {} counts", at + 1),
                ));
            }
        };
        if old_line.is_some() {
            old_no += 1;
            old_left -= 1;
        }
        if new_line.is_some() {
            new_no += 1;
            new_left -= 1;
        }
        hunk.lines.push(Line {
            kind,
            old_line,
            new_line,
            text: text.to_string(),
            no_newline_at_eof: false,
        });
        i += 1;
    }
    if lines.get(i).is_some_and(|l| l.starts_with('\\')) {
        mark_no_newline(&mut hunk);
        i += 1;
    }
    Ok((hunk, i))
}

fn mark_no_newline(hunk: &mut Hunk) {
    if let Some(last) = hunk.lines.last_mut() {
        last.no_newline_at_eof = true;
    }
}

/// `start[,count]`; a missing count means 1.
fn parse_range(text: &str) -> Option<(u32, u32)> {
    match text.split_once(',') {
        Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
        None => Some((text.parse().ok()?, 1)),
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
