//! Reusing a finished task's worktree for a new task: a rename and a checkout of what differs,
//! instead of writing every file of the repository again.
//!
//! Writing thousands of files is most of what starting a task costs (it dominates a clone on
//! local disk too); two tasks on one repository start from nearly the same tree, so switching a
//! finished worktree to the new branch touches only the files that differ. The result is the
//! same as a fresh checkout: the switch is forced and removes untracked and ignored files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use git2::Repository;
use git2::build::CheckoutBuilder;

use super::Workspaces;
use super::names::ticket_of;
use super::workspaces::FINISHED_MARKER;

impl Workspaces {
    /// Moves the most recently finished worktree of `mirror` to `path` as worktree `name` and
    /// switches it to `branch`. False when there is none to take (or all are busy).
    pub(crate) fn recycle(
        &self,
        mirror: &Path,
        branch: &str,
        name: &str,
        path: &Path,
    ) -> anyhow::Result<bool> {
        let admin_root = mirror.join("worktrees");
        let mut finished: Vec<(u64, String)> = Vec::new();
        for entry in std::fs::read_dir(&admin_root)?.flatten() {
            let Ok(at) = std::fs::read_to_string(entry.path().join(FINISHED_MARKER)) else {
                continue;
            };
            if let Some(old) = entry.file_name().to_str() {
                finished.push((at.trim().parse().unwrap_or(0), old.to_owned()));
            }
        }
        finished.sort_unstable_by(|a, b| b.cmp(a));
        for (_, old) in finished {
            let Some(ticket) = ticket_of(&old) else {
                continue;
            };
            let lock = self.lock(Self::task_lock_key(mirror, ticket));
            // Busy means it is being reactivated or removed right now: take another.
            let Ok(_held) = lock.try_lock() else { continue };
            let old_admin = admin_root.join(&old);
            if !old_admin.join(FINISHED_MARKER).exists() {
                continue;
            }
            let Some(old_path) = checkout_of(&old_admin) else {
                continue;
            };
            if !old_path.is_dir() {
                continue;
            }
            self.take_over(&old_admin, &old_path, branch, name, path)
                .with_context(|| format!("while reusing {} for {branch}", old_path.display()))?;
            tracing::debug!(from = %old_path.display(), to = %path.display(), "worktree reused");
            return Ok(true);
        }
        Ok(false)
    }

    /// What `git worktree move` does (rename the checkout and its admin directory, rewrite the
    /// two links between them), then a forced switch to `branch`. A crash part-way leaves a
    /// worktree that fails validation or sits on the wrong branch; the next call replaces it.
    fn take_over(
        &self,
        old_admin: &Path,
        old_path: &Path,
        branch: &str,
        name: &str,
        path: &Path,
    ) -> anyhow::Result<()> {
        let admin = old_admin.with_file_name(name);
        std::fs::rename(old_path, path)?;
        std::fs::rename(old_admin, &admin)?;
        std::fs::write(
            admin.join("gitdir"),
            format!("{}\n", path.join(".git").display()),
        )?;
        std::fs::write(path.join(".git"), format!("gitdir: {}\n", admin.display()))?;
        std::fs::remove_file(admin.join(FINISHED_MARKER))?;

        let worktree = Repository::open(path)?;
        let refname = format!("refs/heads/{branch}");
        let target = worktree.find_reference(&refname)?.peel_to_commit()?;
        worktree.checkout_tree(
            target.as_object(),
            Some(
                CheckoutBuilder::new()
                    .force()
                    .remove_untracked(true)
                    .remove_ignored(true),
            ),
        )?;
        worktree.set_head(&refname)?;
        Ok(())
    }
}

/// The checkout directory an admin directory points at (its `gitdir` file names `<path>/.git`).
fn checkout_of(admin: &Path) -> Option<PathBuf> {
    let gitdir = std::fs::read_to_string(admin.join("gitdir")).ok()?;
    Some(PathBuf::from(gitdir.trim()).parent()?.to_owned())
}
