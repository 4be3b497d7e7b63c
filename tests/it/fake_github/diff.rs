//! What a pull request changes, computed by git2 the way GitHub computes it: the diff from the
//! merge base of base and head to head ("three-dot"), with rename detection.
//!
//! The same hunks feed the `.diff` media type, `/files`, and review-comment validation, so a
//! review comment the fake accepts is one GitHub would accept on the same diff.

use std::path::Path;

use git2::{Delta, DiffFindOptions, DiffFormat, DiffOptions, Oid, Patch};

use super::gitrepo::open;

pub(super) struct PullDiff {
    pub(super) files: Vec<FileChange>,
    /// `git diff` text, as served for `Accept: application/vnd.github.diff`.
    pub(super) text: String,
    /// Commits reachable from head but not from the merge base.
    pub(super) commits: usize,
}

pub(super) struct FileChange {
    pub(super) path: String,
    pub(super) previous_path: Option<String>,
    pub(super) status: &'static str,
    pub(super) sha: Option<String>,
    pub(super) additions: usize,
    pub(super) deletions: usize,
    /// Hunks only (no file header), as in `/files`; absent for binary files.
    pub(super) patch: Option<String>,
    pub(super) hunks: Vec<Hunk>,
}

pub(super) struct Hunk {
    pub(super) header: String,
    pub(super) lines: Vec<HunkLine>,
}

pub(super) struct HunkLine {
    /// `+`, `-`, ` `, or `\` for "No newline at end of file".
    pub(super) origin: char,
    pub(super) old: Option<u32>,
    pub(super) new: Option<u32>,
    pub(super) text: String,
}

impl HunkLine {
    fn render(&self) -> String {
        if self.origin == '\\' {
            "\\ No newline at end of file".to_owned()
        } else {
            format!("{}{}", self.origin, self.text)
        }
    }
}

/// Where a review comment lands in a file's diff.
pub(super) struct Anchor {
    pub(super) hunk: usize,
    /// The legacy `position`: lines below the file's first `@@` header, later headers included.
    pub(super) position: u64,
    /// The hunk up to and including the commented line, as GitHub's `diff_hunk`.
    pub(super) diff_hunk: String,
}

impl FileChange {
    /// The anchor of `line` on `side` (`RIGHT`: new-file numbers of added or context lines;
    /// `LEFT`: old-file numbers of removed or context lines), if that line is in a hunk.
    pub(super) fn anchor(&self, line: u64, side: &str) -> Option<Anchor> {
        let mut position = 0u64;
        for (h, hunk) in self.hunks.iter().enumerate() {
            if h > 0 {
                position += 1;
            }
            for (i, l) in hunk.lines.iter().enumerate() {
                position += 1;
                let number = match side {
                    "LEFT" if l.origin == '-' || l.origin == ' ' => l.old,
                    "RIGHT" if l.origin == '+' || l.origin == ' ' => l.new,
                    _ => None,
                };
                if number.map(u64::from) == Some(line) {
                    return Some(Anchor {
                        hunk: h,
                        position,
                        diff_hunk: self.hunk_up_to(h, i),
                    });
                }
            }
        }
        None
    }

    /// `(line, side)` at a legacy `position`, for clients that still send positions.
    pub(super) fn at_position(&self, wanted: u64) -> Option<(u64, &'static str)> {
        let mut position = 0u64;
        for (h, hunk) in self.hunks.iter().enumerate() {
            if h > 0 {
                position += 1;
            }
            for l in &hunk.lines {
                position += 1;
                if position == wanted {
                    return match (l.origin, l.old, l.new) {
                        ('-', Some(old), _) => Some((u64::from(old), "LEFT")),
                        (_, _, Some(new)) => Some((u64::from(new), "RIGHT")),
                        _ => None,
                    };
                }
            }
        }
        None
    }

    fn hunk_up_to(&self, hunk: usize, line: usize) -> String {
        let hunk = &self.hunks[hunk];
        std::iter::once(hunk.header.clone())
            .chain(hunk.lines[..=line].iter().map(HunkLine::render))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The diff of a pull request whose base branch is at `base` and head at `head`, or `None` when
/// they share no history.
pub(super) fn compare(bare: &Path, base: &str, head: &str) -> Option<PullDiff> {
    let repo = open(bare);
    let base = Oid::from_str(base).ok()?;
    let head = Oid::from_str(head).ok()?;
    let merge_base = repo.merge_base(base, head).ok()?;
    let old_tree = repo.find_commit(merge_base).ok()?.tree().ok()?;
    let new_tree = repo.find_commit(head).ok()?.tree().ok()?;
    let mut options = DiffOptions::new();
    options.context_lines(3);
    let mut diff = repo
        .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), Some(&mut options))
        .ok()?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))
        .ok()?;

    let mut text = String::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            text.push(line.origin());
        }
        text.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .ok()?;

    let mut files = Vec::new();
    for index in 0..diff.deltas().len() {
        let patch = Patch::from_diff(&diff, index).ok()??;
        files.push(file_change(&patch)?);
    }

    let mut walk = repo.revwalk().ok()?;
    walk.push(head).ok()?;
    walk.hide(merge_base).ok()?;
    let commits = walk.count();
    Some(PullDiff {
        files,
        text,
        commits,
    })
}

fn file_change(patch: &Patch<'_>) -> Option<FileChange> {
    let delta = patch.delta();
    let new_path = delta.new_file().path()?.to_string_lossy().into_owned();
    let old_path = delta.old_file().path()?.to_string_lossy().into_owned();
    let status = match delta.status() {
        Delta::Added => "added",
        Delta::Deleted => "removed",
        Delta::Renamed => "renamed",
        Delta::Copied => "copied",
        Delta::Typechange => "changed",
        _ => "modified",
    };
    let (_, additions, deletions) = patch.line_stats().ok()?;
    let mut hunks = Vec::new();
    for h in 0..patch.num_hunks() {
        let (hunk, count) = patch.hunk(h).ok()?;
        let header = String::from_utf8_lossy(hunk.header()).trim_end().to_owned();
        let mut lines = Vec::with_capacity(count);
        for l in 0..count {
            let line = patch.line_in_hunk(h, l).ok()?;
            let origin = match line.origin() {
                '+' | '-' | ' ' => line.origin(),
                _ => '\\',
            };
            lines.push(HunkLine {
                origin,
                old: line.old_lineno(),
                new: line.new_lineno(),
                text: String::from_utf8_lossy(line.content())
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            });
        }
        hunks.push(Hunk { header, lines });
    }
    let binary = delta.flags().is_binary();
    let patch_text = (!binary && !hunks.is_empty()).then(|| {
        hunks
            .iter()
            .flat_map(|h| {
                std::iter::once(h.header.clone()).chain(h.lines.iter().map(HunkLine::render))
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    let sha = [delta.new_file().id(), delta.old_file().id()]
        .into_iter()
        .find(|id| !id.is_zero())
        .map(|id| id.to_string());
    Some(FileChange {
        previous_path: (status == "renamed").then_some(old_path),
        path: new_path,
        status,
        sha,
        additions,
        deletions,
        patch: patch_text,
        hunks,
    })
}

/// Whether head merges into base without conflicts (GitHub's `mergeable`).
pub(super) fn mergeable(bare: &Path, base: &str, head: &str) -> Option<bool> {
    let repo = open(bare);
    let base = repo.find_commit(Oid::from_str(base).ok()?).ok()?;
    let head = repo.find_commit(Oid::from_str(head).ok()?).ok()?;
    let index = repo.merge_commits(&base, &head, None).ok()?;
    Some(!index.has_conflicts())
}
