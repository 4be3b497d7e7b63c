//! The header lines of one file of a diff (`diff --git`, `---`/`+++`, `rename from`, `new file
//! mode`, `Binary files … differ`, …) and the quoted paths git writes in them.

use super::{FileDiff, FileStatus, Hunk};

/// What a file's header lines say, gathered until its first hunk.
#[derive(Default)]
pub(super) struct Header {
    pub(super) from_git: bool,
    /// Paths from the `diff --git` line: the fallback when nothing better is said.
    git_old: Option<String>,
    git_new: Option<String>,
    /// Paths from `---`/`+++` (`Some(None)` is `/dev/null`) or `rename`/`copy` lines.
    old: Option<Option<String>>,
    new: Option<Option<String>>,
    pub(super) seen_minus: bool,
    added: bool,
    deleted: bool,
    renamed: bool,
    copied: bool,
    binary: bool,
    in_binary_patch: bool,
    old_mode: Option<u32>,
    new_mode: Option<u32>,
    similarity: Option<u8>,
    pub(super) hunks: Vec<Hunk>,
}

impl Header {
    pub(super) fn from_git_line(rest: &str) -> Self {
        let (old, new) = split_git_paths(rest).unwrap_or_default();
        Header {
            from_git: true,
            git_old: Some(strip_prefix(&old, "a/")),
            git_new: Some(strip_prefix(&new, "b/")),
            ..Header::default()
        }
    }

    pub(super) fn minus(&mut self, field: &str) {
        self.seen_minus = true;
        let path = header_path(field, "a/");
        self.added |= path.is_none();
        if self.old.is_none() || path.is_none() {
            self.old = Some(path);
        }
    }

    pub(super) fn plus(&mut self, field: &str) {
        let path = header_path(field, "b/");
        self.deleted |= path.is_none();
        if self.new.is_none() || path.is_none() {
            self.new = Some(path);
        }
    }

    /// A git extended header line (`new file mode`, `rename from`, `Binary files`, …).
    pub(super) fn extended(&mut self, line: &str) {
        if self.in_binary_patch {
            return;
        }
        let mode = |m: &str| u32::from_str_radix(m.trim(), 8).ok();
        if let Some(m) = line.strip_prefix("old mode ") {
            self.old_mode = mode(m);
        } else if let Some(m) = line.strip_prefix("new mode ") {
            self.new_mode = mode(m);
        } else if let Some(m) = line.strip_prefix("new file mode ") {
            self.added = true;
            self.new_mode = mode(m);
        } else if let Some(m) = line.strip_prefix("deleted file mode ") {
            self.deleted = true;
            self.old_mode = mode(m);
        } else if let Some(p) = line.strip_prefix("rename from ") {
            self.renamed = true;
            self.old = Some(Some(unquote_or_plain(p)));
        } else if let Some(p) = line.strip_prefix("rename to ") {
            self.renamed = true;
            self.new = Some(Some(unquote_or_plain(p)));
        } else if let Some(p) = line.strip_prefix("copy from ") {
            self.copied = true;
            self.old = Some(Some(unquote_or_plain(p)));
        } else if let Some(p) = line.strip_prefix("copy to ") {
            self.copied = true;
            self.new = Some(Some(unquote_or_plain(p)));
        } else if let Some(s) = line.strip_prefix("similarity index ") {
            self.similarity = s.trim_end_matches('%').parse().ok();
        } else if let Some(rest) = line.strip_prefix("index ") {
            // `index abc..def 100644`: the mode, unchanged.
            if let Some(m) = rest.split_whitespace().nth(1).and_then(mode) {
                self.old_mode.get_or_insert(m);
                self.new_mode.get_or_insert(m);
            }
        } else if let Some(rest) = line.strip_prefix("Binary files ") {
            self.binary = true;
            self.added |= rest.starts_with("/dev/null and ");
            self.deleted |= rest.ends_with(" and /dev/null differ");
        } else if line == "GIT binary patch" {
            self.binary = true;
            self.in_binary_patch = true;
        }
    }

    pub(super) fn finish(self) -> FileDiff {
        let old = self.old.unwrap_or(self.git_old);
        let new = self.new.unwrap_or(self.git_new);
        let status = if self.added {
            FileStatus::Added
        } else if self.deleted {
            FileStatus::Deleted
        } else if self.renamed {
            FileStatus::Renamed
        } else if self.copied {
            FileStatus::Copied
        } else {
            FileStatus::Modified
        };
        let (old_path, new_path) = match status {
            FileStatus::Added => (None, new.or(old)),
            FileStatus::Deleted => (old.or(new), None),
            _ => (old.clone().or(new.clone()), new.or(old)),
        };
        FileDiff {
            old_path,
            new_path,
            status,
            binary: self.binary,
            old_mode: self.old_mode,
            new_mode: self.new_mode,
            similarity: self.similarity,
            hunks: self.hunks,
            omitted: None,
        }
    }
}

/// A `---`/`+++` path: `None` for `/dev/null`. Anything after a tab (git's marker for a path with
/// spaces, or `diff -u`'s timestamp) is not part of it.
fn header_path(field: &str, prefix: &str) -> Option<String> {
    let field = if field.starts_with('"') {
        field
    } else {
        field.split('\t').next().unwrap_or(field)
    };
    if field == "/dev/null" {
        return None;
    }
    Some(strip_prefix(&unquote_or_plain(field), prefix))
}

fn strip_prefix(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix).unwrap_or(path).to_string()
}

/// The two paths of `diff --git A B`, still with their `a/` and `b/`. Either may be quoted;
/// unquoted paths may hold spaces, so an unquoted pair is split where both halves name the same
/// file (true unless renamed, and renames also say `rename from`/`rename to`).
fn split_git_paths(rest: &str) -> Option<(String, String)> {
    if rest.starts_with('"') {
        let (old, used) = unquote(rest)?;
        let new = rest[used..].trim_start();
        return Some((old, unquote_or_plain(new)));
    }
    if let Some(at) = rest.find(" \"") {
        return Some((rest[..at].to_string(), unquote(&rest[at + 1..])?.0));
    }
    let bytes = rest.as_bytes();
    if rest.len() % 2 == 1 {
        let mid = rest.len() / 2;
        let (old, new) = (&rest[..mid], &rest[mid + 1..]);
        if bytes[mid] == b' ' && old.get(2..) == new.get(2..) {
            return Some((old.to_string(), new.to_string()));
        }
    }
    let at = rest.find(" b/").or_else(|| rest.find(' '))?;
    Some((rest[..at].to_string(), rest[at + 1..].to_string()))
}

fn unquote_or_plain(text: &str) -> String {
    if text.starts_with('"')
        && let Some((path, _)) = unquote(text)
    {
        return path;
    }
    text.to_string()
}

/// Decodes a C-style quoted path as git writes it (`"caf\303\251 x"`, the octal escapes being
/// UTF-8 bytes). Returns the path and the bytes of `text` used, closing quote included.
fn unquote(text: &str) -> Option<(String, usize)> {
    let body = text.as_bytes().strip_prefix(b"\"")?;
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), i + 2)),
            b'\\' => {
                let c = *body.get(i + 1)?;
                i += 2;
                out.push(match c {
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    b'0'..=b'7' => {
                        let digits = body.get(i - 1..i + 2)?;
                        i += 2;
                        let octal = std::str::from_utf8(digits).ok()?;
                        u8::from_str_radix(octal, 8).ok()?
                    }
                    other => other,
                });
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    None
}
