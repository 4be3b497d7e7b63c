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

    /// Like [`commit`](Self::commit), but only `paths` (added, changed or deleted): steps that
    /// run in parallel in one worktree each commit their own files, not each other's half-done
    /// edits.
    pub async fn commit_paths(
        &self,
        message: &str,
        paths: &[String],
        co_author: Option<(&str, &str)>,
    ) -> Result<Oid, GitError> {
        let this = self.clone();
        let message = commit_message(message, co_author)?;
        let paths = paths.to_vec();
        blocking(move || this.commit_paths_blocking(&message, &paths)).await
    }

    fn commit_paths_blocking(&self, message: &str, paths: &[String]) -> Result<Oid, GitError> {
        let repo = self.open()?;
        self.ensure_on_task_branch(&repo)?;
        let parent = repo.head()?.peel_to_commit()?;
        // Start from the last commit's tree, not the index, so nothing staged by anyone else
        // rides along.
        let mut index = git2::Index::new()?;
        index.read_tree(&parent.tree()?)?;
        for p in paths {
            let full = self.path.join(p);
            // Never follow a link: a symlink is committed as a symlink (its target path), the
            // way git stores it, so a link to `/proc/self/environ` or a key file commits a path,
            // not the secret it points at.
            let meta = std::fs::symlink_metadata(&full).ok();
            let entry = match meta {
                Some(m) if m.file_type().is_symlink() => {
                    let target = std::fs::read_link(&full)
                        .with_context(|| format!("while reading the link {}", full.display()))?;
                    Some((target.to_string_lossy().into_owned().into_bytes(), 0o120000))
                }
                Some(m) if m.is_file() => {
                    let content = std::fs::read(&full)
                        .with_context(|| format!("while reading {}", full.display()))?;
                    Some((content, file_mode(&full)))
                }
                _ => None,
            };
            if let Some((content, mode)) = entry {
                let oid = repo.blob(&content)?;
                let entry = git2::IndexEntry {
                    ctime: git2::IndexTime::new(0, 0),
                    mtime: git2::IndexTime::new(0, 0),
                    dev: 0,
                    ino: 0,
                    mode,
                    uid: 0,
                    gid: 0,
                    file_size: content.len() as u32,
                    id: oid,
                    flags: 0,
                    flags_extended: 0,
                    path: p.as_bytes().to_vec(),
                };
                index.add(&entry)?;
            } else if index.get_path(Path::new(p), 0).is_some() {
                index.remove_path(Path::new(p))?;
            }
        }
        let tree = repo.find_tree(index.write_tree_to(&repo)?)?;
        if parent.tree_id() == tree.id() {
            return Err(GitError::NothingToCommit {
                branch: self.branch.clone(),
            });
        }
        let me = self.signature()?;
        let oid = repo.commit(Some("HEAD"), &me, &me, message, &tree, &[&parent])?;
        // Keep the worktree's index in step with HEAD for the committed paths.
        let mut wt_index = repo.index()?;
        for p in paths {
            if std::fs::symlink_metadata(self.path.join(p)).is_ok() {
                wt_index.add_path(Path::new(p))?;
            } else if wt_index.get_path(Path::new(p), 0).is_some() {
                wt_index.remove_path(Path::new(p))?;
            }
        }
        wt_index.write()?;
        tracing::info!(branch = %self.branch, commit = %oid, files = paths.len(), "committed");
        Ok(oid)
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

    /// Uncommitted files (changed, new or deleted; ignored ones excluded) with their size and
    /// modification time, or `None` when deleted. Comparing two snapshots shows what a shell
    /// command changed, which the agent's file tools cannot see.
    pub async fn dirty_files(
        &self,
    ) -> anyhow::Result<std::collections::BTreeMap<String, Option<(u64, std::time::SystemTime)>>>
    {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            let mut options = StatusOptions::new();
            options
                .include_untracked(true)
                .recurse_untracked_dirs(true)
                .include_ignored(false);
            let mut out = std::collections::BTreeMap::new();
            for entry in repo.statuses(Some(&mut options))?.iter() {
                let Some(path) = entry.path() else { continue };
                let meta = std::fs::symlink_metadata(this.path.join(path))
                    .ok()
                    .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
                out.insert(path.to_owned(), meta);
            }
            Ok(out)
        })
        .await
    }

    /// The uncommitted changes to `paths` (new files included) as a patch against the last
    /// commit, for work Orion keeps out of a commit but must not lose (withheld workflow edits).
    pub async fn uncommitted_patch(&self, paths: &[String]) -> anyhow::Result<String> {
        let (this, paths) = (self.clone(), paths.to_vec());
        blocking(move || {
            let repo = this.open()?;
            let head = repo.head()?.peel_to_tree()?;
            let mut options = git2::DiffOptions::new();
            options
                .include_untracked(true)
                .recurse_untracked_dirs(true)
                .show_untracked_content(true)
                .disable_pathspec_match(true);
            for p in &paths {
                options.pathspec(p);
            }
            let diff = repo.diff_tree_to_workdir_with_index(Some(&head), Some(&mut options))?;
            super::patch_text(&diff, usize::MAX)
        })
        .await
    }

    /// Throws away uncommitted work under any of `prefixes` (all of it with `[""]`): tracked files go back
    /// to the last commit, untracked files are removed (ignored ones stay: build caches). A
    /// failed agent attempt leaves half-done edits; the next attempt, or a resumed task, starts
    /// from the last committed step instead. Returns the paths it reverted or removed.
    pub async fn discard_changes(&self, prefixes: &[String]) -> anyhow::Result<Vec<String>> {
        let (this, prefixes) = (self.clone(), prefixes.to_vec());
        blocking(move || this.discard_blocking(&prefixes)).await
    }

    fn discard_blocking(&self, prefixes: &[String]) -> anyhow::Result<Vec<String>> {
        let repo = self.open()?;
        let mut options = StatusOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let mut touched = Vec::new();
        let mut untracked = Vec::new();
        for entry in repo.statuses(Some(&mut options))?.iter() {
            let Some(path) = entry.path() else { continue };
            if !prefixes.iter().any(|p| path.starts_with(p.as_str())) {
                continue;
            }
            if entry.status().is_wt_new() && !entry.status().is_index_new() {
                untracked.push(path.to_owned());
            } else {
                touched.push(path.to_owned());
            }
        }
        if !touched.is_empty() {
            let head = repo.head()?.peel_to_tree()?;
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force();
            for p in &touched {
                checkout.path(p);
            }
            repo.checkout_tree(head.as_object(), Some(&mut checkout))?;
        }
        for p in &untracked {
            let full = self.path.join(p);
            std::fs::remove_file(&full)
                .with_context(|| format!("while removing {}", full.display()))?;
        }
        touched.extend(untracked);
        touched.sort();
        Ok(touched)
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

    /// The commit where the task branch left its base (the merge base with the fetched base
    /// branch): what the task changed is everything after it, whatever the base did since.
    fn fork_point<'r>(&self, repo: &'r Repository) -> anyhow::Result<(git2::Commit<'r>, Oid)> {
        let head = repo.head()?.peel_to_commit()?;
        let base = repo
            .find_reference(&remote_ref(&self.task.base_branch))?
            .peel_to_commit()?;
        let fork = repo.merge_base(head.id(), base.id())?;
        Ok((head, fork))
    }

    /// The task's change: its fork point's tree against its head's.
    fn diff_since_fork<'r>(&self, repo: &'r Repository) -> anyhow::Result<git2::Diff<'r>> {
        let (head, fork) = self.fork_point(repo)?;
        let fork_tree = repo.find_commit(fork)?.tree()?;
        Ok(repo.diff_tree_to_tree(Some(&fork_tree), Some(&head.tree()?), None)?)
    }

    /// The task's change as a unified diff from its fork point, cut after `limit` bytes.
    pub async fn diff_from_base(&self, limit: usize) -> anyhow::Result<String> {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            super::patch_text(&this.diff_since_fork(&repo)?, limit)
        })
        .await
    }

    /// Takes in commits people pushed to the task's branch on the remote since Orion last
    /// pushed (a reviewer's fix-up, a merge of the base), so Orion's next commit goes on top of
    /// them instead of being refused or, worse, overwriting them. The mirror must have been
    /// fetched (opening the workspace does). Fails when the histories diverged: someone
    /// rewrote the branch, and only a human should decide which side wins. Returns whether
    /// anything was taken in.
    pub async fn catch_up_with_remote(&self) -> anyhow::Result<bool> {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            this.ensure_on_task_branch(&repo)?;
            let mirror = Repository::open_bare(&this.mirror)?;
            let Ok(remote) = mirror.find_reference(&remote_ref(&this.branch)) else {
                return Ok(false); // never pushed, or deleted on the remote
            };
            let theirs = remote.peel_to_commit()?.id();
            let ours = repo.head()?.peel_to_commit()?.id();
            if theirs == ours || repo.graph_descendant_of(ours, theirs)? {
                return Ok(false);
            }
            if !repo.graph_descendant_of(theirs, ours)? {
                bail!(
                    "the branch {} was rewritten on the remote ({} does not contain Orion's {}); a human should decide which history to keep",
                    this.branch,
                    theirs,
                    ours
                );
            }
            let target = repo.find_commit(theirs)?;
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.safe();
            repo.checkout_tree(target.as_object(), Some(&mut checkout))?;
            repo.head()?
                .set_target(theirs, "orion: take in commits pushed to the branch")?;
            mirror.reference(
                &super::names::pushed_ref(&this.branch),
                theirs,
                true,
                "orion: the branch as found on the remote",
            )?;
            tracing::info!(branch = %this.branch, from = %ours, to = %theirs, "took in remote commits");
            Ok(true)
        })
        .await
    }

    /// The paths the task changed since its fork point (both names of a rename), sorted: what
    /// a review or a fix of the change is about, and so what the sensitive-path rule judges.
    pub async fn changed_paths_from_base(&self) -> anyhow::Result<Vec<String>> {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            let diff = this.diff_since_fork(&repo)?;
            let mut paths = std::collections::BTreeSet::new();
            for delta in diff.deltas() {
                for file in [delta.old_file(), delta.new_file()] {
                    if let Some(p) = file.path().and_then(|p| p.to_str()) {
                        paths.insert(p.to_owned());
                    }
                }
            }
            Ok(paths.into_iter().collect())
        })
        .await
    }

    /// `(subject, sha)` of the task's commits since its fork point, newest first.
    pub async fn commits_since_base(&self) -> anyhow::Result<Vec<(String, String)>> {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            let (head, fork) = this.fork_point(&repo)?;
            let mut walk = repo.revwalk()?;
            walk.push(head.id())?;
            walk.hide(fork)?;
            let mut out = Vec::new();
            for oid in walk {
                let oid = oid?;
                let subject = repo
                    .find_commit(oid)?
                    .summary()
                    .unwrap_or_default()
                    .to_owned();
                out.push((subject, oid.to_string()));
            }
            Ok(out)
        })
        .await
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
/// The git file mode of a worktree file: executable or not (symlinks are not written by agents).
fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if executable { 0o100755 } else { 0o100644 }
}

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
