//! The directory walk shared by `list_files` and `search`, so both agree on what the model sees.
//!
//! Symlinks are reported but never followed: following them could loop, or lead outside the
//! worktree without passing through [`super::resolve`].

use std::fs;
use std::path::{Path, PathBuf};

/// Directories that are shown but never entered: `.git` is Orion's business, the others are
/// build output or installed dependencies — large, generated, and not what a change should touch.
const NOT_ENTERED: &[&str] = &["target", "node_modules", ".venv", "__pycache__"];

/// What a directory entry is, as far as the model needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    /// A build or dependency directory, listed so the model knows it exists, but not entered.
    NotEntered,
    /// A symlink and where it points (as written in the link).
    Symlink(String),
}

pub(super) struct Entry {
    pub path: PathBuf,
    /// Repository-relative, `/`-separated: the form the model passes back to the tools.
    pub rel: String,
    pub kind: Kind,
}

/// Visits everything under `dir` depth-first, each directory's entries in name order, entering
/// directories at most `max_depth` levels deep (1 = only `dir`'s own entries). `.git` is skipped
/// entirely. Unreadable directories are passed over: one permission problem should not hide the
/// rest of the tree.
pub(super) fn walk(root: &Path, dir: &Path, max_depth: usize, visit: &mut dyn FnMut(&Entry)) {
    if max_depth == 0 {
        return;
    }
    let Ok(read) = fs::read_dir(dir) else { return };
    let mut children: Vec<_> = read.filter_map(Result::ok).collect();
    children.sort_by_key(|child| child.file_name());
    for child in children {
        let name = child.file_name();
        let name = name.to_string_lossy();
        if name.eq_ignore_ascii_case(".git") {
            continue;
        }
        let Ok(file_type) = child.file_type() else {
            continue;
        };
        let path = child.path();
        let kind = if file_type.is_symlink() {
            let target = fs::read_link(&path).unwrap_or_default();
            Kind::Symlink(target.to_string_lossy().into_owned())
        } else if file_type.is_dir() && NOT_ENTERED.contains(&name.as_ref()) {
            Kind::NotEntered
        } else if file_type.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        let entry = Entry {
            rel: relative(root, &path),
            path,
            kind,
        };
        visit(&entry);
        if entry.kind == Kind::Dir {
            walk(root, &entry.path, max_depth - 1, visit);
        }
    }
}

/// `path` relative to `root`, `/`-separated; `.` for the root itself.
pub(super) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}
