//! The text a reviewer model reads: a file's hunks with every line numbered the way a finding
//! must cite it, so the model never has to count lines (models count badly) and its answer maps
//! straight onto GitHub's comment positions. [`LINE_FORMAT`] explains the format and belongs in
//! the reviewer's instructions.

use crate::review::diff::{FileDiff, Hunk, Line, LineKind};

/// The reviewer's legend for the rendered diff.
pub const LINE_FORMAT: &str = "\
Each file starts with `### path (status)`; each hunk with `@@` and the enclosing code's name.
Every line is `<mark><number>|<code>`:
- `+12|…` an added line, line 12 of the new file: cite it with side RIGHT, line 12;
- `-12|…` a removed line, line 12 of the old file: cite it with side LEFT, line 12;
- ` 12|…` an unchanged line, line 12 of the new file: side RIGHT;
- `:12|…` surrounding code of the new file, shown for context only: do not cite it.
Comment on changed lines; cite a range with start_line..end_line on one side.";

/// Lines longer than this are cut: past it a line is data (a blob, a minified bundle), not code
/// to review, and one such line must not blow a chunk's budget.
pub const MAX_LINE_CHARS: usize = 1_000;

/// A hunk rendered in parts the chunker can split between: its `@@` line, the head's lines
/// before it, one text per diff line, the head's lines after it.
pub(crate) struct RenderedHunk {
    pub(crate) section: String,
    pub(crate) before: String,
    /// Each diff line's text and whether it is a change (counted for coverage).
    pub(crate) lines: Vec<(String, bool)>,
    pub(crate) after: String,
}

impl RenderedHunk {
    /// The `@@` line, marked as a continuation for the second and later parts of a split hunk.
    pub(crate) fn header(&self, continued: bool) -> String {
        match (self.section.is_empty(), continued) {
            (true, false) => "@@\n".to_string(),
            (true, true) => "@@ (continued)\n".to_string(),
            (false, false) => format!("@@ {}\n", self.section),
            (false, true) => format!("@@ {} (continued)\n", self.section),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.header(false).len()
            + self.before.len()
            + self.lines.iter().map(|(l, _)| l.len()).sum::<usize>()
            + self.after.len()
    }

    /// Diff lines `from..to` as text, with the context before when `from` is the first line and
    /// after when `to` is the end.
    pub(crate) fn piece(&self, from: usize, to: usize) -> String {
        let mut out = self.header(from > 0);
        if from == 0 {
            out.push_str(&self.before);
        }
        for (line, _) in &self.lines[from..to] {
            out.push_str(line);
        }
        if to == self.lines.len() {
            out.push_str(&self.after);
        }
        out
    }
}

/// `### path (status, from old path, mode 100644 → 100755)`, with ` — label` for part of a file.
pub(crate) fn file_header(file: &FileDiff, label: Option<&str>) -> String {
    let mut facts = vec![file.status.as_str().to_string()];
    if let (Some(old), Some(new)) = (&file.old_path, &file.new_path)
        && old != new
    {
        facts.push(format!("from {old}"));
    }
    if file.mode_changed() {
        facts.push(format!(
            "mode {:o} → {:o}",
            file.old_mode.unwrap_or_default(),
            file.new_mode.unwrap_or_default()
        ));
    }
    let label = label.map(|l| format!(" — {l}")).unwrap_or_default();
    format!("### {} ({}){label}\n", file.path(), facts.join(", "))
}

/// Renders each hunk of `file` so that `context` unchanged lines surround its changes: the diff's
/// own context lines count, the rest are read from the head version (`head`, split in lines).
/// Context already shown for an earlier hunk is not repeated.
pub(crate) fn hunks(file: &FileDiff, head: Option<&[&str]>, context: u32) -> Vec<RenderedHunk> {
    let mut shown_until = 0u32;
    let head = head.filter(|_| context > 0);
    let spans: Vec<(u32, u32)> = file.hunks.iter().map(new_span).collect();
    file.hunks
        .iter()
        .enumerate()
        .map(|(i, h)| {
            // Context after a hunk stops before the next one, which shows those lines itself.
            let next = spans
                .get(i + 1)
                .map_or(u32::MAX, |&(first, _)| first.saturating_sub(1));
            let limit = next.min(head.map_or(0, |h| h.len() as u32));
            render_hunk(h, spans[i], head, context, limit, &mut shown_until)
        })
        .collect()
}

/// The first and last new-side line a hunk is about. With no line on the new side, `new_start`
/// is the line before the removal, so the hunk sits between it and the next.
fn new_span(hunk: &Hunk) -> (u32, u32) {
    if hunk.new_count == 0 {
        (hunk.new_start + 1, hunk.new_start)
    } else {
        (hunk.new_start, hunk.new_start + hunk.new_count - 1)
    }
}

fn render_hunk(
    hunk: &Hunk,
    (first, last): (u32, u32),
    head: Option<&[&str]>,
    context: u32,
    limit: u32,
    shown: &mut u32,
) -> RenderedHunk {
    let mut before = String::new();
    let mut after = String::new();
    if let Some(head) = head {
        let unchanged = |lines: &mut dyn Iterator<Item = &Line>| {
            lines.take_while(|l| l.kind == LineKind::Context).count() as u32
        };
        let lead = unchanged(&mut hunk.lines.iter());
        let trail = unchanged(&mut hunk.lines.iter().rev());
        let from = first
            .saturating_sub(context.saturating_sub(lead))
            .max(1)
            .max(*shown + 1);
        for n in from..first {
            push_context(&mut before, head, n);
        }
        let to = last
            .saturating_add(context.saturating_sub(trail))
            .min(limit);
        for n in last + 1..=to {
            push_context(&mut after, head, n);
        }
        *shown = (*shown).max(to);
    }
    let lines = hunk
        .lines
        .iter()
        .map(|l| {
            let (mark, n) = match l.kind {
                LineKind::Added => ('+', l.new_line),
                LineKind::Removed => ('-', l.old_line),
                LineKind::Context => (' ', l.new_line),
            };
            let mut out = String::with_capacity(l.text.len() + 8);
            push_line(&mut out, mark, n.unwrap_or_default(), &l.text);
            (out, l.kind != LineKind::Context)
        })
        .collect();
    RenderedHunk {
        section: hunk.section.clone(),
        before,
        lines,
        after,
    }
}

fn push_context(out: &mut String, head: &[&str], n: u32) {
    if let Some(text) = head.get(n as usize - 1) {
        push_line(out, ':', n, text.strip_suffix('\r').unwrap_or(text));
    }
}

fn push_line(out: &mut String, mark: char, n: u32, text: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{mark}{n}|");
    if text.len() <= MAX_LINE_CHARS {
        out.push_str(text);
    } else {
        let end = crate::text::floor_char_boundary(text, MAX_LINE_CHARS);
        let _ = write!(
            out,
            "{}… ({} more characters)",
            &text[..end],
            text.len() - end
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::diff::Diff;
    use crate::review::testing::{GitRepo, numbered};

    fn render(file: &FileDiff, head: Option<&str>, context: u32) -> String {
        let head: Option<Vec<&str>> = head.map(|h| h.lines().collect());
        let mut out = file_header(file, None);
        for h in hunks(file, head.as_deref(), context) {
            out.push_str(&h.piece(0, h.lines.len()));
        }
        out
    }

    #[test]
    fn every_line_carries_the_number_a_finding_cites() {
        let repo = GitRepo::new();
        repo.write("old name.rs", numbered(30));
        let base = repo.commit("base");
        repo.mv("old name.rs", "src/new.rs");
        repo.write(
            "src/new.rs",
            numbered(30)
                .replace("line 4\n", "four\n")
                .replace("line 20\n", "line 20\ntwenty-one\n"),
        );
        let head = repo.commit("head");
        let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
        let content = repo.read("src/new.rs");

        // Git's diff has three lines of context; five are asked for.
        let text = render(&diff.files[0], Some(&content), 5);
        assert_eq!(
            text,
            "\
### src/new.rs (renamed, from old name.rs)
@@
 1|line 1
 2|line 2
 3|line 3
-4|line 4
+4|four
 5|line 5
 6|line 6
 7|line 7
:8|line 8
:9|line 9
@@ line 17
:16|line 16
:17|line 17
 18|line 18
 19|line 19
 20|line 20
+21|twenty-one
 22|line 21
 23|line 22
 24|line 23
:25|line 24
:26|line 25
"
        );
        // Without the head's content, only the diff.
        let bare = render(&diff.files[0], None, 5);
        assert!(!bare.contains(':'), "{bare}");
    }

    #[test]
    fn context_is_not_repeated_between_close_hunks_nor_read_past_the_file() {
        let repo = GitRepo::new();
        repo.write("a.rs", numbered(20));
        let base = repo.commit("base");
        repo.write(
            "a.rs",
            numbered(20)
                .replace("line 2\n", "two\n")
                .replace("line 12\n", "twelve\n")
                .replace("line 20\n", "twenty\n"),
        );
        let head = repo.commit("head");
        let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
        let text = render(&diff.files[0], Some(&repo.read("a.rs")), 4);
        let context: Vec<&str> = text.lines().filter(|l| l.starts_with(':')).collect();
        assert_eq!(context, [":6|line 6", ":8|line 8", ":16|line 16"]);
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let mut out = String::new();
        let text = "é".repeat(MAX_LINE_CHARS);
        push_line(&mut out, '+', 7, &text);
        assert!(out.starts_with("+7|é"));
        assert!(out.ends_with(&format!("… ({} more characters)\n", MAX_LINE_CHARS)));
        assert!(out.len() < MAX_LINE_CHARS + 40);
    }
}
