//! The `[git]` configuration section: where workspaces live, whose name commits carry, and how
//! much disk Orion may keep around.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::Problem;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// Where mirrors (`mirrors/`) and task worktrees (`worktrees/`) live. Relative paths are
    /// resolved against the working directory once, at start-up. Put it on a disk with room for
    /// one bare copy of every repository plus a checkout per running task.
    pub workdir: PathBuf,
    /// The committer (and author) name on Orion's commits, so `git log` shows which commits a
    /// machine wrote.
    pub author_name: String,
    /// The committer (and author) email on Orion's commits. Use your GitHub App's bot address
    /// (`<id>+<app>[bot]@users.noreply.github.com`) for GitHub to show the app's avatar.
    pub author_email: String,
    /// Fetch only this many commits of history into a new mirror. For huge repositories where a
    /// full first clone is too slow or too big; rebasing needs the merge base inside this depth.
    pub shallow_depth: Option<u32>,
    /// Worktrees kept on disk, active and finished together. Finished ones beyond it are removed,
    /// oldest first; active tasks are never touched. Finished worktrees are kept so a follow-up
    /// (`/orion fix`) starts warm and so a human can look at what Orion did.
    pub max_worktrees: usize,
    /// Disk budget for the whole workdir, in MiB. Past it, finished worktrees are removed oldest
    /// first (mirrors and active worktrees stay, so it can be exceeded if those alone exceed it).
    pub max_disk_mb: Option<u64>,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            workdir: PathBuf::from("orion-work"),
            author_name: "Orion".to_owned(),
            author_email: "orion@localhost".to_owned(),
            shallow_depth: None,
            max_worktrees: 20,
            max_disk_mb: None,
        }
    }
}

impl GitConfig {
    /// Checks the section's keys, in the shape [`crate::config::Config::validate`] reports them.
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("git.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        if self.workdir.as_os_str().is_empty() {
            bad(
                "workdir",
                "is empty".into(),
                "set a directory for mirrors and worktrees, e.g. \"orion-work\"",
            );
        }
        if let Some(why) = identity_problem(&self.author_name) {
            bad(
                "author_name",
                format!("{:?} {why}", self.author_name),
                "use a plain name, e.g. \"Orion\"",
            );
        }
        if let Some(why) = identity_problem(&self.author_email) {
            bad(
                "author_email",
                format!("{:?} {why}", self.author_email),
                "use a plain address, e.g. \"orion@example.com\"",
            );
        } else if !self.author_email.contains('@') {
            bad(
                "author_email",
                format!("{:?} is not an email address", self.author_email),
                "use an address, e.g. \"orion@example.com\"",
            );
        }
        if self.shallow_depth == Some(0) {
            bad(
                "shallow_depth",
                "is 0, which would fetch no commits".into(),
                "remove it for full history, or use e.g. 50",
            );
        }
        if self.max_disk_mb == Some(0) {
            bad(
                "max_disk_mb",
                "is 0, which no workdir can meet".into(),
                "remove it for no budget, or use e.g. 20000",
            );
        }
    }
}

/// Why a name or email cannot go into a commit header, if it cannot: git would cut it at a
/// newline or an angle bracket and write a malformed commit.
pub(crate) fn identity_problem(value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        Some("is empty")
    } else if value.contains(['<', '>', '\n', '\r', '\0']) {
        Some("contains '<', '>' or a line break, which git cannot store in a commit header")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_bad_value_names_its_key() {
        let mut out = Vec::new();
        GitConfig::default().validate(&mut out);
        assert_eq!(out, vec![]);

        let bad = GitConfig {
            workdir: PathBuf::new(),
            author_name: "Or<ion>".into(),
            author_email: "nobody".into(),
            shallow_depth: Some(0),
            max_worktrees: 0,
            max_disk_mb: Some(0),
        };
        bad.validate(&mut out);
        let keys: Vec<&str> = out.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "git.workdir",
                "git.author_name",
                "git.author_email",
                "git.shallow_depth",
                "git.max_disk_mb"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<GitConfig>("work_dir = \"x\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let ok: GitConfig = toml::from_str("max_worktrees = 3").unwrap();
        assert_eq!(ok.max_worktrees, 3);
        assert_eq!(ok.author_name, "Orion");
    }
}
