//! Retiring finished tasks and keeping the workdir within its bounds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use git2::{Repository, WorktreePruneOptions};

use super::names::ticket_of;
use super::workspaces::FINISHED_MARKER;
use super::{TaskWorkspace, Workspaces, blocking};

/// What a cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Worktree directories removed, oldest finished first.
    pub removed: Vec<PathBuf>,
}

/// One worktree found in a mirror.
struct Found {
    mirror: PathBuf,
    name: String,
    path: PathBuf,
    /// Unix nanoseconds; `None` while the task is active.
    finished_at: Option<u64>,
}

impl Workspaces {
    /// Marks the task finished and enforces `max_worktrees` and `max_disk_mb`. Its worktree stays
    /// while there is room (a follow-up on the same issue starts warm); the branch always stays.
    pub async fn finish(&self, task: &TaskWorkspace) -> anyhow::Result<Cleanup> {
        let (this, task) = (self.clone(), task.clone());
        blocking(move || {
            let admin = task.mirror.join("worktrees").join(&task.name);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            std::fs::write(admin.join(FINISHED_MARKER), now.to_string())
                .with_context(|| format!("while marking {} finished", task.path.display()))?;
            this.cleanup_blocking()
        })
        .await
    }

    /// Removes finished worktrees, oldest first, until at most `max_worktrees` remain and the
    /// workdir fits `max_disk_mb`. Active worktrees are never removed. Run at start-up too, to
    /// apply a lowered limit.
    pub async fn cleanup(&self) -> anyhow::Result<Cleanup> {
        let this = self.clone();
        blocking(move || this.cleanup_blocking()).await
    }

    fn cleanup_blocking(&self) -> anyhow::Result<Cleanup> {
        let mut all = Vec::new();
        for mirror in find_mirrors(&self.workdir().join("mirrors"))? {
            all.extend(worktrees_of(&mirror)?);
        }
        let mut finished: Vec<&Found> = all.iter().filter(|f| f.finished_at.is_some()).collect();
        finished.sort_by_key(|f| f.finished_at);
        let mut finished = finished.into_iter();
        let mut remaining = all.len();
        let mut cleanup = Cleanup::default();

        while remaining > self.config().max_worktrees {
            let Some(found) = finished.next() else { break };
            if self.remove(found)? {
                cleanup.removed.push(found.path.clone());
                remaining -= 1;
            }
        }
        if let Some(max_mb) = self.config().max_disk_mb {
            let budget = max_mb.saturating_mul(1024 * 1024);
            while disk_usage(self.workdir())? > budget {
                let Some(found) = finished.next() else { break };
                if self.remove(found)? {
                    cleanup.removed.push(found.path.clone());
                }
            }
        }
        Ok(cleanup)
    }

    /// Removes one finished worktree under its task's lock, unless it was reactivated meanwhile.
    fn remove(&self, found: &Found) -> anyhow::Result<bool> {
        let ticket = ticket_of(&found.name)
            .with_context(|| format!("worktree {:?} is not named <ticket>-<slug>", found.name))?;
        let lock = self.lock(Self::task_lock_key(&found.mirror, ticket));
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
        let admin = found.mirror.join("worktrees").join(&found.name);
        if !admin.join(FINISHED_MARKER).exists() {
            return Ok(false);
        }
        let repo = Repository::open_bare(&found.mirror)?;
        repo.find_worktree(&found.name)?.prune(Some(
            WorktreePruneOptions::new()
                .valid(true)
                .locked(true)
                .working_tree(true),
        ))?;
        if found.path.exists() {
            std::fs::remove_dir_all(&found.path)
                .with_context(|| format!("while removing {}", found.path.display()))?;
        }
        tracing::info!(path = %found.path.display(), "finished worktree removed");
        Ok(true)
    }
}

/// Every mirror (`*.git` directory) under `dir`, at any depth.
fn find_mirrors(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "git") {
            out.push(path);
        } else {
            out.extend(find_mirrors(&path)?);
        }
    }
    Ok(out)
}

fn worktrees_of(mirror: &Path) -> anyhow::Result<Vec<Found>> {
    let repo = Repository::open_bare(mirror)
        .with_context(|| format!("while opening the mirror {}", mirror.display()))?;
    let mut out = Vec::new();
    for name in repo.worktrees()?.iter().flatten() {
        let worktree = repo.find_worktree(name)?;
        let finished_at =
            std::fs::read_to_string(mirror.join("worktrees").join(name).join(FINISHED_MARKER))
                .ok()
                .map(|s| s.trim().parse().unwrap_or(0));
        out.push(Found {
            mirror: mirror.to_owned(),
            name: name.to_owned(),
            path: worktree.path().to_owned(),
            finished_at,
        });
    }
    Ok(out)
}

/// Bytes in files under `dir` (symlinks counted as themselves, not followed).
fn disk_usage(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            disk_usage(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
