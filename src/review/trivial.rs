//! Recognising a diff that needs no strong reviewer: documentation only, lock files only,
//! whitespace or formatting only, renames only. The router can send such a review to the cheap
//! tier; the reason text says why, for the log and the summary. Rule-based and conservative: one
//! file that is not plainly trivial makes the whole diff non-trivial.

use crate::review::diff::{Diff, FileDiff, FileStatus, LineKind};
use crate::review::skip::{SkipReason, builtin_reason};

/// Paths named in the reason; the rest are counted.
const NAMED: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Docs,
    Lock,
    Whitespace,
    NoContent,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Docs => "documentation",
            Kind::Lock => "lock files",
            Kind::Whitespace => "whitespace or formatting",
            Kind::NoContent => "renames or mode changes",
        }
    }
}

/// Why `diff` is trivial (`"lock files only: Cargo.lock"`), or `None` when it needs a real
/// review. An empty diff is trivial: there is nothing to review.
pub fn trivial_reason(diff: &Diff) -> Option<String> {
    if diff.files.is_empty() {
        return Some("empty diff: nothing changed".to_string());
    }
    let mut kinds = Vec::new();
    for file in &diff.files {
        let kind = kind(file)?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    let labels: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
    let paths: Vec<&str> = diff.files.iter().take(NAMED).map(FileDiff::path).collect();
    let more = diff.files.len().saturating_sub(NAMED);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Some(format!(
        "{} only: {}{more}",
        labels.join(" and "),
        paths.join(", ")
    ))
}

fn kind(file: &FileDiff) -> Option<Kind> {
    let path = file.path();
    if builtin_reason(path) == Some(SkipReason::LockFile) {
        Some(Kind::Lock)
    } else if is_docs(path) {
        Some(Kind::Docs)
    } else if file.binary || file.omitted.is_some() {
        None
    } else if file.hunks.is_empty() {
        Some(Kind::NoContent)
    } else if whitespace_only(file) {
        Some(Kind::Whitespace)
    } else {
        None
    }
}

const DOC_EXTENSIONS: [&str; 6] = ["md", "markdown", "mdx", "rst", "adoc", "asciidoc"];
const DOC_NAMES: [&str; 9] = [
    "README",
    "CHANGELOG",
    "CHANGES",
    "LICENSE",
    "COPYING",
    "AUTHORS",
    "CONTRIBUTING",
    "NOTICE",
    "CODE_OF_CONDUCT",
];
/// Allowed as documentation only inside a `docs/` or `doc/` folder (`requirements.txt` and
/// `CMakeLists.txt` are not documentation).
const DOC_FOLDER_EXTENSIONS: [&str; 6] = ["txt", "png", "jpg", "jpeg", "gif", "svg"];

fn is_docs(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let ext = ext.to_ascii_lowercase();
    let in_docs = path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| dir == "docs" || dir == "doc");
    DOC_EXTENSIONS.contains(&ext.as_str())
        || DOC_NAMES.contains(&stem.to_ascii_uppercase().as_str())
        || (in_docs && DOC_FOLDER_EXTENSIONS.contains(&ext.as_str()))
}

/// Files where leading whitespace is syntax: re-indenting them is a change.
const INDENTATION_SENSITIVE: [&str; 11] = [
    "py", "pyi", "yaml", "yml", "mk", "hs", "coffee", "pug", "sass", "haml", "nim",
];

/// The removed and added lines say the same once whitespace is ignored: all of it for most
/// languages (re-indenting, re-wrapping, trailing spaces, CRLF), only trailing whitespace and
/// blank lines where indentation is syntax. Whitespace inside a string literal is not told apart;
/// the cost of that mistake is a cheaper reviewer, not a skipped review.
fn whitespace_only(file: &FileDiff) -> bool {
    if !matches!(
        file.status,
        FileStatus::Modified | FileStatus::Renamed | FileStatus::Copied
    ) {
        return false;
    }
    let side = |kind| {
        file.hunks
            .iter()
            .flat_map(|h| &h.lines)
            .filter(move |l| l.kind == kind)
            .map(|l| l.text.as_str())
    };
    let name = file.path().rsplit('/').next().unwrap_or_default();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    if INDENTATION_SENSITIVE.contains(&ext) || name == "Makefile" {
        let lines = |kind| side(kind).map(str::trim_end).filter(|l| !l.is_empty());
        lines(LineKind::Removed).eq(lines(LineKind::Added))
    } else {
        let chars = |kind| {
            side(kind)
                .flat_map(str::chars)
                .filter(|c| !c.is_whitespace())
        };
        chars(LineKind::Removed).eq(chars(LineKind::Added))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::testing::GitRepo;

    /// The diff of a repository where `change` is applied on top of a base with a Rust file, a
    /// Python file, a README and a lock file.
    fn diff_after(change: impl FnOnce(&GitRepo)) -> Diff {
        let repo = GitRepo::new();
        repo.write("src/lib.rs", "fn f() {\n    call(a, b);\n}\n");
        repo.write("tool.py", "def f():\n    if x:\n        y()\n    z()\n");
        repo.write("README.md", "# Title\n");
        repo.write("Cargo.lock", "version = 3\n");
        let base = repo.commit("base");
        change(&repo);
        let head = repo.commit("head");
        Diff::parse(&repo.diff(&base, &head)).unwrap()
    }

    #[test]
    fn documentation_and_lock_files_only() {
        let docs = diff_after(|r| {
            r.write("README.md", "# Title\n\nMore words.\n");
            r.write("docs/guide/setup.txt", "step 1\n");
            r.write("docs/arch.png", [0u8, 1]);
        });
        assert_eq!(
            trivial_reason(&docs).as_deref(),
            Some("documentation only: README.md, docs/arch.png, docs/guide/setup.txt")
        );
        let lock = diff_after(|r| r.write("Cargo.lock", "version = 4\n"));
        assert_eq!(
            trivial_reason(&lock).as_deref(),
            Some("lock files only: Cargo.lock")
        );
        let both = diff_after(|r| {
            r.write("Cargo.lock", "version = 4\n");
            r.write("CHANGELOG", "v2\n");
        });
        assert_eq!(
            trivial_reason(&both).as_deref(),
            Some("documentation and lock files only: CHANGELOG, Cargo.lock")
        );
        let not_docs = diff_after(|r| r.write("requirements.txt", "requests\n"));
        assert_eq!(trivial_reason(&not_docs), None);
    }

    #[test]
    fn reformatting_is_trivial_but_not_in_python_indentation() {
        let rewrapped = diff_after(|r| {
            r.write(
                "src/lib.rs",
                "fn f() {\n  call(\n    a,\n    b,\n  );\n}  \r\n",
            )
        });
        assert_eq!(trivial_reason(&rewrapped), None, "a trailing comma is code");
        let reindented =
            diff_after(|r| r.write("src/lib.rs", "fn f()\n{\n\tcall(a,\n\t     b);\n}\r\n"));
        assert_eq!(
            trivial_reason(&reindented).as_deref(),
            Some("whitespace or formatting only: src/lib.rs")
        );
        let trailing =
            diff_after(|r| r.write("tool.py", "def f():  \n    if x:\n        y()\n\n    z()\n"));
        assert_eq!(
            trivial_reason(&trailing).as_deref(),
            Some("whitespace or formatting only: tool.py")
        );
        let dedented =
            diff_after(|r| r.write("tool.py", "def f():\n    if x:\n        y()\n        z()\n"));
        assert_eq!(trivial_reason(&dedented), None, "z() moved into the if");
    }

    #[test]
    fn renames_and_empty_diffs_are_trivial_code_changes_are_not() {
        let moved = diff_after(|r| r.mv("src/lib.rs", "src/core.rs"));
        assert_eq!(
            trivial_reason(&moved).as_deref(),
            Some("renames or mode changes only: src/core.rs")
        );
        assert_eq!(
            trivial_reason(&Diff::default()).as_deref(),
            Some("empty diff: nothing changed")
        );
        let code = diff_after(|r| {
            r.write("README.md", "# New title\n");
            r.write("src/lib.rs", "fn f() {\n    call(b, a);\n}\n");
        });
        assert_eq!(trivial_reason(&code), None);
        let binary = diff_after(|r| r.write("assets/logo.png", [0u8, 1]));
        assert_eq!(trivial_reason(&binary), None);
    }

    #[test]
    fn many_trivial_files_are_counted() {
        let docs = diff_after(|r| {
            for i in 0..8 {
                r.write(&format!("docs/page{i}.md"), "text\n");
            }
        });
        let reason = trivial_reason(&docs).unwrap();
        assert!(reason.ends_with("docs/page4.md and 3 more"), "{reason}");
    }
}
