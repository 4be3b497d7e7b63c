//! Test helpers: a throwaway worktree with some files, and unwrapping what a call gave the model.

use std::fs;

use super::{Limits, ToolResult, Toolbox};

/// A worktree in a temporary directory holding `files` (path, content), with a `.git` file the
/// way a git worktree has one, under default limits.
pub(super) fn toolbox(files: &[(&str, &str)]) -> (tempfile::TempDir, Toolbox) {
    toolbox_with(files, Limits::default())
}

pub(super) fn toolbox_with(files: &[(&str, &str)], limits: Limits) -> (tempfile::TempDir, Toolbox) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".git"),
        "gitdir: /elsewhere/worktrees/task\n",
    )
    .unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    let tools = Toolbox::new(dir.path(), limits).unwrap();
    (dir, tools)
}

/// The text of a successful call; panics with what the model would have read otherwise.
pub(super) fn ok(result: ToolResult) -> String {
    match result {
        ToolResult::Ok(text) => text,
        other => panic!("expected Ok, got {other:?}"),
    }
}

/// The text of a failed call; panics otherwise.
pub(super) fn error(result: ToolResult) -> String {
    match result {
        ToolResult::Error(text) => text,
        other => panic!("expected Error, got {other:?}"),
    }
}
