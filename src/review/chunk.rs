//! A diff cut into review requests that each fit a model's budget, with nothing left out.
//!
//! Whole files first, small ones packed together (a reviewer sees related files side by side,
//! and one request costs one system prompt); a file too big for one request is split between
//! hunks, and a hunk too big between lines. Skipped files ([`SkipRules`]) are listed with their
//! reason, and [`Coverage`] counts what was reviewed against the whole diff, so the summary can
//! say exactly what was and was not looked at instead of truncating silently.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::review::diff::{Diff, FileDiff};
use crate::review::finding::ChunkFindings;
use crate::review::render::{self, RenderedHunk};
use crate::review::skip::{SkipReason, SkipRules};

/// Characters per token of [`estimate_tokens`]: the same rate as
/// [`ChatRequest::estimated_input_tokens`](crate::llm::ChatRequest::estimated_input_tokens), so a
/// chunk that fits here passes the budget check there.
const CHARS_PER_TOKEN: u64 = 3;

/// A deliberately high estimate of the tokens of `text` (code tokenises at about 3 to 4
/// characters per token; erring high keeps a chunk inside the context window).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(CHARS_PER_TOKEN)
}

/// How requests are cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Token budget of one request's diff text (the caller keeps the instructions and the answer
    /// outside it). Smaller chunks review more carefully and in parallel; larger ones see more
    /// at once.
    pub max_tokens: u64,
    /// Unchanged lines shown around each change: git's diff has three, the rest are read from
    /// [`HeadFiles`] when it has the file. Enough to see the enclosing code without paying for
    /// whole files.
    pub context_lines: u32,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_tokens: 20_000,
            context_lines: 5,
        }
    }
}

/// The files at the pull request's head commit, for the context around hunks. Fetching is the
/// caller's business (the git mirror, the contents API, a prefetched map); `None` means no
/// context for that file, never an error.
pub trait HeadFiles {
    fn content(&self, path: &str) -> Option<Cow<'_, str>>;
}

/// No context: the diff alone.
pub struct NoContext;

impl HeadFiles for NoContext {
    fn content(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
}

impl HeadFiles for HashMap<String, String> {
    fn content(&self, path: &str) -> Option<Cow<'_, str>> {
        self.get(path).map(|c| Cow::Borrowed(c.as_str()))
    }
}

impl<F: Fn(&str) -> Option<String>> HeadFiles for F {
    fn content(&self, path: &str) -> Option<Cow<'_, str>> {
        self(path).map(Cow::Owned)
    }
}

/// Which part of a file a section holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// Hunks `first..=last` (0-based) of the file's `of`.
    Hunks {
        first: usize,
        last: usize,
        of: usize,
    },
    /// Part `piece` (0-based) of `pieces` of one hunk too big for a request.
    Lines {
        hunk: usize,
        piece: usize,
        pieces: usize,
    },
}

/// Some of one file, rendered for the reviewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub path: String,
    pub part: Part,
    /// Added and removed lines shown here: what coverage counts.
    pub changed_lines: u32,
    pub text: String,
}

/// One review request's worth of diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    pub sections: Vec<Section>,
}

impl Chunk {
    /// The diff text to send, in the format of [`render::LINE_FORMAT`].
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.sections.iter().map(|s| s.text.as_str()).collect();
        texts.join("\n")
    }

    pub fn tokens(&self) -> u64 {
        let len: usize = self.sections.iter().map(|s| s.text.len() + 1).sum();
        (len.saturating_sub(1) as u64).div_ceil(CHARS_PER_TOKEN)
    }

    pub fn changed_lines(&self) -> u32 {
        self.sections.iter().map(|s| s.changed_lines).sum()
    }

    /// The files this chunk shows, each once.
    pub fn paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = self.sections.iter().map(|s| s.path.as_str()).collect();
        paths.dedup();
        paths
    }

    /// Accepts a reviewer's answer for this chunk only if every finding is on a file the chunk
    /// showed (a finding elsewhere was invented or misread). For `run_json`'s `accept`.
    pub fn check(&self, answer: &ChunkFindings) -> Result<(), String> {
        let paths = self.paths();
        for (i, f) in answer.findings.iter().enumerate() {
            if !paths.contains(&f.path.as_str()) {
                return Err(format!(
                    "finding {} is on `{}`, which is not in this diff (its files: {})",
                    i + 1,
                    f.path,
                    paths.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// A file not reviewed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: SkipReason,
    pub changed_lines: u32,
}

/// How much of the diff the review covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    pub files_total: usize,
    pub files_reviewed: usize,
    pub lines_total: u64,
    pub lines_reviewed: u64,
}

/// Everything a review will send, and what it will not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewPlan {
    pub chunks: Vec<Chunk>,
    pub skipped: Vec<Skipped>,
    pub coverage: Coverage,
}

/// Skipped files named in [`ReviewPlan::coverage_line`]; the rest are counted.
const SKIPPED_NAMED: usize = 10;

impl ReviewPlan {
    /// The coverage sentence of the summary: `Reviewed 298 of 300 files, 19,870 of 20,000
    /// changed lines; skipped: Cargo.lock (lock file), …`.
    pub fn coverage_line(&self) -> String {
        let c = &self.coverage;
        let mut out = format!(
            "Reviewed {} of {} files, {} of {} changed lines",
            thousands(c.files_reviewed as u64),
            thousands(c.files_total as u64),
            thousands(c.lines_reviewed),
            thousands(c.lines_total),
        );
        if !self.skipped.is_empty() {
            let named: Vec<String> = self
                .skipped
                .iter()
                .take(SKIPPED_NAMED)
                .map(|s| format!("{} ({})", s.path, s.reason))
                .collect();
            out.push_str("; skipped: ");
            out.push_str(&named.join(", "));
            if self.skipped.len() > SKIPPED_NAMED {
                out.push_str(&format!(
                    " and {} more",
                    thousands((self.skipped.len() - SKIPPED_NAMED) as u64)
                ));
            }
        }
        out.push('.');
        out
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Plans the review of `diff`: skips by `rules`, renders with context from `head`, cuts by
/// `options` (see the module documentation). A section holds at least one diff line, so with a
/// budget smaller than one line a chunk can exceed it; nothing is ever dropped to fit.
pub fn plan(
    diff: &Diff,
    rules: &SkipRules,
    options: &ChunkOptions,
    head: &dyn HeadFiles,
) -> ReviewPlan {
    let max_chars = (options.max_tokens * CHARS_PER_TOKEN).max(1) as usize;
    let mut skipped = Vec::new();
    let mut sections = Vec::new();
    let mut files_reviewed = 0;
    for file in &diff.files {
        if let Some(reason) = rules.reason(file) {
            skipped.push(Skipped {
                path: file.path().to_string(),
                reason,
                changed_lines: file.changed_lines(),
            });
            continue;
        }
        files_reviewed += 1;
        let content = match (&file.new_path, options.context_lines) {
            (Some(path), 1..) => head.content(path),
            _ => None,
        };
        let lines: Option<Vec<&str>> = content.as_deref().map(|c| c.lines().collect());
        let hunks = render::hunks(file, lines.as_deref(), options.context_lines);
        file_sections(file, &hunks, max_chars, &mut sections);
    }
    let lines_reviewed = sections.iter().map(|s| s.changed_lines as u64).sum();
    ReviewPlan {
        chunks: pack(sections, max_chars),
        skipped,
        coverage: Coverage {
            files_total: diff.files.len(),
            files_reviewed,
            lines_total: diff.changed_lines(),
            lines_reviewed,
        },
    }
}

/// The sections of one file: the whole file if it fits, else groups of hunks, else pieces of a
/// hunk.
fn file_sections(
    file: &FileDiff,
    hunks: &[RenderedHunk],
    max_chars: usize,
    out: &mut Vec<Section>,
) {
    let path = file.path().to_string();
    let section = |part, text: String, changed| Section {
        path: path.clone(),
        part,
        changed_lines: changed,
        text,
    };
    let whole = render::file_header(file, None);
    if whole.len() + hunks.iter().map(RenderedHunk::len).sum::<usize>() <= max_chars {
        let mut text = whole;
        for h in hunks {
            text.push_str(&h.piece(0, h.lines.len()));
        }
        out.push(section(Part::Whole, text, changed(hunks, ..)));
        return;
    }
    // Room for the longest label a part's header can get.
    let header_room =
        render::file_header(file, Some("hunks 9999–9999 of 9999, part 9999 of 9999")).len();
    let budget = max_chars.saturating_sub(header_room);
    let of = hunks.len();
    let mut group: Option<(usize, usize)> = None; // first hunk, characters so far
    let flush = |group: &mut Option<(usize, usize)>, last: usize, out: &mut Vec<Section>| {
        if let Some((first, _)) = group.take() {
            let label = match (first, last) {
                (f, l) if f == l => format!("hunk {} of {of}", f + 1),
                (f, l) => format!("hunks {}–{} of {of}", f + 1, l + 1),
            };
            let mut text = render::file_header(file, Some(&label));
            for h in &hunks[first..=last] {
                text.push_str(&h.piece(0, h.lines.len()));
            }
            let changed = changed(hunks, first..=last);
            out.push(section(Part::Hunks { first, last, of }, text, changed));
        }
    };
    for (i, h) in hunks.iter().enumerate() {
        let len = h.len();
        match group {
            Some((_, used)) if used + len <= budget => group.as_mut().expect("some").1 += len,
            _ => {
                flush(&mut group, i.saturating_sub(1), out);
                if len <= budget {
                    group = Some((i, len));
                } else {
                    let pieces = split_hunk(h, budget);
                    let count = pieces.len();
                    for (piece, (from, to)) in pieces.into_iter().enumerate() {
                        let label =
                            format!("hunk {} of {of}, part {} of {count}", i + 1, piece + 1);
                        let mut text = render::file_header(file, Some(&label));
                        text.push_str(&h.piece(from, to));
                        let changed = h.lines[from..to].iter().filter(|(_, c)| *c).count();
                        let part = Part::Lines {
                            hunk: i,
                            piece,
                            pieces: count,
                        };
                        out.push(section(part, text, changed as u32));
                    }
                }
            }
        }
    }
    flush(&mut group, of.saturating_sub(1), out);
}

fn changed(hunks: &[RenderedHunk], range: impl std::ops::RangeBounds<usize>) -> u32 {
    let range = (range.start_bound().cloned(), range.end_bound().cloned());
    hunks[range]
        .iter()
        .flat_map(|h| &h.lines)
        .filter(|(_, c)| *c)
        .count() as u32
}

/// Line ranges `from..to` of a hunk, each fitting `budget` characters with its `@@` line and the
/// context it carries (before on the first, after on the last). A line never fits alone only when
/// the budget is below one line; it then gets a piece of its own.
fn split_hunk(hunk: &RenderedHunk, budget: usize) -> Vec<(usize, usize)> {
    let header = hunk.header(true).len();
    let last = hunk.lines.len().saturating_sub(1);
    let mut pieces = Vec::new();
    let (mut from, mut used) = (0, header);
    for (i, (line, _)) in hunk.lines.iter().enumerate() {
        let mut len = line.len();
        if i == 0 {
            len += hunk.before.len();
        }
        if i == last {
            len += hunk.after.len();
        }
        if i > from && used + len > budget {
            pieces.push((from, i));
            (from, used) = (i, header);
        }
        used += len;
    }
    pieces.push((from, hunk.lines.len()));
    pieces
}

/// Sections into chunks in order, a new chunk whenever the next section does not fit.
fn pack(sections: Vec<Section>, max_chars: usize) -> Vec<Chunk> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut used = 0;
    for s in sections {
        let len = s.text.len();
        match chunks.last_mut() {
            Some(chunk) if used + 1 + len <= max_chars => {
                used += 1 + len;
                chunk.sections.push(s);
            }
            _ => {
                used = len;
                chunks.push(Chunk { sections: vec![s] });
            }
        }
    }
    chunks
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;
