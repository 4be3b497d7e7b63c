//! One task's checkout: committing the agent's changes and rebasing them onto the moved base.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use git2::{ErrorCode, IndexAddOption, Oid, Repository, Signature, StatusOptions};

use super::config::identity_problem;
use super::names::remote_ref;
use super::workspaces::TaskSpec;
use super::{Credentials, GitError, Workspaces, blocking};

/// A task's branch and worktree, from [`Workspaces::task_worktree`]. Cheap to clone; it holds
/// paths and names, and opens the repository per operation.
#[derive(Debug, Clone)]
pub struct TaskWorkspace {
    pub(crate) workspaces: Workspaces,
    pub(crate) task: TaskSpec,
    pub(crate) mirror: PathBuf,
    pub(crate) branch: String,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

/// What [`TaskWorkspace::rebase_onto_base`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebaseOutcome {
    /// The branch already contains the base's tip.
    UpToDate,
    /// The task's commits were replayed on the base; the branch now ends at `new_head`.
    Rebased { new_head: Oid },
    /// Replaying hit conflicts in these files (sorted). The rebase was aborted: the branch and the
    /// worktree are as they were, ready for someone (the strategic tier, a human) to resolve.
    Conflicts { files: Vec<String> },
}

impl TaskWorkspace {
    pub(crate) fn new(
        workspaces: Workspaces,
        task: TaskSpec,
        mirror: PathBuf,
        branch: String,
        name: String,
        path: PathBuf,
    ) -> Self {
        Self {
            workspaces,
            task,
            mirror,
            branch,
            name,
            path,
        }
    }

    /// The worktree: the only directory the task's agents may touch.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The task branch, `orion/<issue>-<slug>`.
    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn task(&self) -> &TaskSpec {
        &self.task
    }

    /// The mirror the worktree belongs to.
    pub fn mirror_path(&self) -> &Path {
        &self.mirror
    }

    /// Commits everything in the worktree (new, changed and deleted files; ignored files stay
    /// out) on the task branch, authored and committed by Orion's configured identity. With a
    /// co-author (the author), a `Co-authored-by` trailer credits them on GitHub.
    /// An unchanged worktree is [`GitError::NothingToCommit`], not an empty commit.
    pub async fn commit(
        &self,
        message: &str,
        co_author: Option<(&str, &str)>,
    ) -> Result<Oid, GitError> {
        let this = self.clone();
        let message = commit_message(message, co_author)?;
        blocking(move || this.commit_blocking(&message)).await
    }

    fn commit_blocking(&self, message: &str) -> Result<Oid, GitError> {
        let repo = self.open()?;
        self.ensure_on_task_branch(&repo)?;
        let mut index = repo.index()?;
        index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
        index.update_all(["*"], None)?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let parent = repo.head()?.peel_to_commit()?;
        if parent.tree_id() == tree.id() {
            return Err(GitError::NothingToCommit {
                branch: self.branch.clone(),
            });
        }
        let me = self.signature()?;
        let oid = repo.commit(Some("HEAD"), &me, &me, message, &tree, &[&parent])?;
        tracing::info!(branch = %self.branch, commit = %oid, "committed");
        Ok(oid)
    }

    /// Fetches the base branch and replays the task's commits on its new tip (each replayed
    /// commit keeps its author and gets Orion as committer). Conflicts abort the rebase and are
    /// reported, never left half-done in the worktree. Refuses a worktree with uncommitted
    /// changes to tracked files, which a rebase would have to discard.
    pub async fn rebase_onto_base(&self, creds: &Credentials) -> anyhow::Result<RebaseOutcome> {
        let (this, creds) = (self.clone(), creds.clone());
        blocking(move || {
            this.workspaces
                .update_mirror(&this.task.clone_url, &creds)?;
            this.rebase_blocking()
        })
        .await
    }

    fn rebase_blocking(&self) -> anyhow::Result<RebaseOutcome> {
        let repo = self.open()?;
        self.ensure_on_task_branch(&repo)?;
        let mut options = StatusOptions::new();
        options.include_untracked(false).include_ignored(false);
        if !repo.statuses(Some(&mut options))?.is_empty() {
            bail!(
                "{} has uncommitted changes; commit them before rebasing",
                self.path.display()
            );
        }
        let base_ref = repo
            .find_reference(&remote_ref(&self.task.base_branch))
            .with_context(|| format!("the base branch {:?} is gone", self.task.base_branch))?;
        let base = repo.reference_to_annotated_commit(&base_ref)?;
        let head = repo.head()?;
        let head_id = head.peel_to_commit()?.id();
        if head_id == base.id() || repo.graph_descendant_of(head_id, base.id())? {
            return Ok(RebaseOutcome::UpToDate);
        }
        let branch = repo.reference_to_annotated_commit(&head)?;
        let me = self.signature()?;
        let mut rebase = repo.rebase(Some(&branch), Some(&base), None, None)?;
        while let Some(step) = rebase.next() {
            if let Err(e) = step {
                rebase.abort()?;
                return Err(e).context("while replaying a commit");
            }
            let index = repo.index()?;
            if index.has_conflicts() {
                let mut files = Vec::new();
                for conflict in index.conflicts()? {
                    let conflict = conflict?;
                    let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
                    if let Some(entry) = entry {
                        files.push(String::from_utf8_lossy(&entry.path).into_owned());
                    }
                }
                files.sort();
                files.dedup();
                rebase.abort()?;
                tracing::info!(branch = %self.branch, ?files, "rebase conflicts; aborted");
                return Ok(RebaseOutcome::Conflicts { files });
            }
            match rebase.commit(None, &me, None) {
                Ok(_) => {}
                // The base already has this change (e.g. cherry-picked upstream): nothing to replay.
                Err(e) if e.code() == ErrorCode::Applied => {}
                Err(e) => {
                    rebase.abort()?;
                    return Err(e).context("while committing a replayed commit");
                }
            }
        }
        rebase.finish(Some(&me))?;
        let new_head = repo.head()?.peel_to_commit()?.id();
        tracing::info!(branch = %self.branch, %new_head, "rebased onto {}", self.task.base_branch);
        Ok(RebaseOutcome::Rebased { new_head })
    }

    pub(crate) fn open(&self) -> anyhow::Result<Repository> {
        Repository::open(&self.path)
            .with_context(|| format!("while opening the worktree {}", self.path.display()))
    }

    /// Orion commits and rebases only its own branch; a tool in the worktree may have switched.
    fn ensure_on_task_branch(&self, repo: &Repository) -> anyhow::Result<()> {
        let head = repo.head()?;
        let expected = format!("refs/heads/{}", self.branch);
        if head.name() != Some(expected.as_str()) {
            bail!(
                "{} is on {}, not on the task branch {}",
                self.path.display(),
                head.shorthand().unwrap_or("a detached HEAD"),
                self.branch
            );
        }
        Ok(())
    }

    fn signature(&self) -> anyhow::Result<Signature<'static>> {
        let config = self.workspaces.config();
        Signature::now(&config.author_name, &config.author_email)
            .context("while making Orion's commit signature (check git.author_name/author_email)")
    }
}

/// The message as given, trimmed, with a `Co-authored-by` trailer after a blank line when there
/// is a co-author. The trailer format is GitHub's: `Co-authored-by: Name <email>`.
fn commit_message(message: &str, co_author: Option<(&str, &str)>) -> Result<String, GitError> {
    let message = message.trim();
    if message.is_empty() {
        return Err(anyhow::anyhow!("a commit needs a message").into());
    }
    let mut out = message.to_owned();
    if let Some((name, email)) = co_author {
        for value in [name, email] {
            if let Some(why) = identity_problem(value) {
                return Err(anyhow::anyhow!("co-author {value:?} {why}").into());
            }
        }
        out.push_str(&format!(
            "\n\nCo-authored-by: {} <{}>",
            name.trim(),
            email.trim()
        ));
    }
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_get_a_trailer_after_a_blank_line() {
        assert_eq!(
            commit_message(
                "fix: handle empty input\n\n",
                Some(("Ada", "ada@example.com"))
            )
            .unwrap(),
            "fix: handle empty input\n\nCo-authored-by: Ada <ada@example.com>\n"
        );
        assert_eq!(commit_message("feat: x", None).unwrap(), "feat: x\n");
        assert!(commit_message("  \n", None).is_err());
        assert!(commit_message("fix: y", Some(("Eve <evil>", "e@x"))).is_err());
    }
}
