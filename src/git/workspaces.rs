//! The workdir: mirrors fetched under a per-repository lock, and a branch and worktree per task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use git2::{AutotagOption, FetchOptions, FetchPrune, Repository, WorktreeAddOptions};

use super::names::{created_ref, remote_ref, repo_key, task_branch, worktree_name};
use super::{Credentials, GitConfig, TaskWorkspace, blocking};

/// Refspec of a mirror update: every remote branch, force-updated, kept apart from task branches.
const FETCH_REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";

/// File in a worktree's admin directory (`<mirror>/worktrees/<name>/`) holding when the task
/// finished, in Unix nanoseconds; its absence means the task is active.
pub(crate) const FINISHED_MARKER: &str = "orion-finished";

/// Owns the workdir: one per process, cheap to clone (shared state behind an `Arc`).
#[derive(Debug, Clone)]
pub struct Workspaces {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GitConfig,
    /// `config.workdir`, made absolute once so a later `chdir` cannot move it.
    workdir: PathBuf,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// A repository's mirror after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The bare repository.
    pub path: PathBuf,
    /// Whether this update created the mirror (a full clone) rather than fetching into it.
    pub cloned: bool,
    /// The remote's default branch (`main`), when the remote says.
    pub default_branch: Option<String>,
}

/// Which task a workspace is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// The repository's clone URL as the forge reports it (`https://…`, `file://…` or a path).
    pub clone_url: String,
    /// The branch the task starts from and is rebased onto, usually the default branch.
    pub base_branch: String,
    /// The issue the task implements as its branch names it: `42` for GitHub issue #42
    /// ([`super::names::github_ticket`]), `eng-7` for Linear's ENG-7. A task is identified by
    /// repository and ticket.
    pub ticket: String,
    /// The issue title, for the branch name.
    pub title: String,
}

impl Workspaces {
    /// Workspaces under `config.workdir` (created on first use).
    pub fn new(config: GitConfig) -> anyhow::Result<Self> {
        let workdir = std::path::absolute(&config.workdir)
            .with_context(|| format!("while resolving git.workdir {:?}", config.workdir))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                workdir,
                locks: Mutex::default(),
            }),
        })
    }

    pub fn config(&self) -> &GitConfig {
        &self.inner.config
    }

    /// The absolute workdir.
    pub fn workdir(&self) -> &Path {
        &self.inner.workdir
    }

    /// Brings the repository's mirror up to date: a clone the first time, an incremental fetch
    /// after. Concurrent callers for one repository wait for each other; other repositories don't.
    pub async fn mirror(&self, clone_url: &str, creds: &Credentials) -> anyhow::Result<Mirror> {
        let (this, url, creds) = (self.clone(), clone_url.to_owned(), creds.clone());
        blocking(move || this.update_mirror(&url, &creds)).await
    }

    /// The task's workspace: updates the mirror, creates `orion/<issue>-<slug>` at the base
    /// branch's tip and a worktree for it. Calling it again for the same repository and issue
    /// returns the same branch and worktree as they are (a re-run job continues where the last
    /// one stopped, even if the title changed meanwhile); a finished task is reactivated.
    pub async fn task_worktree(
        &self,
        task: &TaskSpec,
        creds: &Credentials,
    ) -> anyhow::Result<TaskWorkspace> {
        let (this, task, creds) = (self.clone(), task.clone(), creds.clone());
        blocking(move || this.open_task(&task, &creds)).await
    }

    pub(crate) fn mirror_path(&self, clone_url: &str) -> anyhow::Result<PathBuf> {
        let key = repo_key(clone_url)?;
        let mut path = self.inner.workdir.join("mirrors").join(&key);
        path.as_mut_os_string().push(".git");
        Ok(path)
    }

    pub(crate) fn worktrees_dir(&self, clone_url: &str) -> anyhow::Result<PathBuf> {
        Ok(self
            .inner
            .workdir
            .join("worktrees")
            .join(repo_key(clone_url)?))
    }

    /// A lock per key (a mirror path, a task), created on first use.
    pub(crate) fn lock(&self, key: String) -> Arc<Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key).or_default().clone()
    }

    /// The key of the lock serialising work on one task's branch and worktree.
    pub(crate) fn task_lock_key(mirror: &Path, ticket: &str) -> String {
        format!("{}#{ticket}", mirror.display())
    }

    pub(crate) fn update_mirror(
        &self,
        clone_url: &str,
        creds: &Credentials,
    ) -> anyhow::Result<Mirror> {
        let path = self.mirror_path(clone_url)?;
        let lock = self.lock(path.display().to_string());
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());

        let (repo, cloned) = match Repository::open_bare(&path) {
            Ok(repo) => (repo, false),
            Err(_) => {
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("while creating the mirror {}", path.display()))?;
                let repo = Repository::init_bare(&path)
                    .with_context(|| format!("while creating the mirror {}", path.display()))?;
                (repo, true)
            }
        };
        // Made here, under the lock: libgit2 creates it racily when two tasks add worktrees at once.
        std::fs::create_dir_all(path.join("worktrees"))
            .with_context(|| format!("while preparing the mirror {}", path.display()))?;
        // An anonymous remote: the URL is used for this fetch and stored nowhere.
        let mut remote = repo
            .remote_anonymous(clone_url)
            .with_context(|| format!("while opening the remote {clone_url}"))?;
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(creds.callbacks())
            .prune(FetchPrune::On)
            .download_tags(AutotagOption::None);
        if let Some(depth) = self.inner.config.shallow_depth {
            options.depth(i32::try_from(depth).unwrap_or(i32::MAX));
        }
        let started = std::time::Instant::now();
        remote
            .fetch(
                &[FETCH_REFSPEC],
                Some(&mut options),
                Some("orion: mirror update"),
            )
            .with_context(|| format!("while fetching {clone_url} into the mirror"))?;
        let default_branch = remote
            .default_branch()
            .ok()
            .and_then(|b| b.as_str().map(str::to_owned))
            .map(|b| b.strip_prefix("refs/heads/").unwrap_or(&b).to_owned());
        tracing::debug!(
            url = clone_url,
            cloned,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mirror updated"
        );
        Ok(Mirror {
            path,
            cloned,
            default_branch,
        })
    }

    fn open_task(&self, task: &TaskSpec, creds: &Credentials) -> anyhow::Result<TaskWorkspace> {
        let mirror = self.update_mirror(&task.clone_url, creds)?;
        let lock = self.lock(Self::task_lock_key(&mirror.path, &task.ticket));
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
        let repo = Repository::open_bare(&mirror.path)?;

        // Refs are written under the repository lock: libgit2 creates their directories
        // (`refs/heads/orion/`) racily. The checkout, the slow part, runs outside it.
        let branch = {
            let lock = self.lock(mirror.path.display().to_string());
            let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
            let branch = match existing_task_branch(&repo, &task.ticket)? {
                Some(branch) => branch,
                None => create_task_branch(&repo, task)?,
            };
            ensure_branch(&repo, &branch)?;
            branch
        };
        let name = worktree_name(&branch)?.to_owned();
        let path = self.worktrees_dir(&task.clone_url)?.join(&name);
        self.ensure_worktree(&repo, &mirror.path, &branch, &name, &path)?;
        // Reactivate: a finished task that is asked for again must not be cleaned up under it.
        let marker = mirror
            .path
            .join("worktrees")
            .join(&name)
            .join(FINISHED_MARKER);
        if marker.exists() {
            std::fs::remove_file(&marker)
                .with_context(|| format!("while reactivating {}", path.display()))?;
        }
        Ok(TaskWorkspace::new(
            self.clone(),
            task.clone(),
            mirror.path,
            branch,
            name,
            path,
        ))
    }
}

/// The branch Orion already created for this issue in this repository, if any.
fn existing_task_branch(repo: &Repository, ticket: &str) -> anyhow::Result<Option<String>> {
    let prefix = created_ref(&format!("orion/{ticket}-"));
    let mut refs = repo.references_glob(&format!("{prefix}*"))?;
    match refs.next() {
        Some(reference) => {
            let reference = reference?;
            let name = reference.name().context("a non-UTF-8 ref name")?;
            let branch = name
                .strip_prefix("refs/orion/created/")
                .context("a marker outside refs/orion/created")?;
            Ok(Some(branch.to_owned()))
        }
        None => Ok(None),
    }
}

/// Creates the task branch at the base's tip, recording first that Orion created it (a crash
/// between the two leaves a record and no branch, which the next call completes).
fn create_task_branch(repo: &Repository, task: &TaskSpec) -> anyhow::Result<String> {
    let branch = task_branch(&task.ticket, &task.title);
    if !git2::Branch::name_is_valid(&branch)? {
        bail!("{branch:?} is not a valid branch name");
    }
    if repo.find_reference(&remote_ref(&branch)).is_ok() {
        bail!(
            "the remote already has a branch {branch} that Orion did not create; rename or delete it and retry"
        );
    }
    let base = repo
        .find_reference(&remote_ref(&task.base_branch))
        .with_context(|| {
            format!(
                "the base branch {:?} does not exist on {}",
                task.base_branch, task.clone_url
            )
        })?
        .peel_to_commit()?;
    repo.reference(
        &created_ref(&branch),
        base.id(),
        true,
        "orion: task branch created",
    )?;
    tracing::info!(%branch, base = %task.base_branch, at = %base.id(), "task branch created");
    Ok(branch)
}

/// Creates the branch at its recorded start if it is missing (a crash after the record).
fn ensure_branch(repo: &Repository, branch: &str) -> anyhow::Result<()> {
    if repo
        .find_reference(&format!("refs/heads/{branch}"))
        .is_err()
    {
        let start = repo
            .find_reference(&created_ref(branch))?
            .peel_to_commit()?;
        repo.branch(branch, &start, false)?;
    }
    Ok(())
}

impl Workspaces {
    /// Makes sure `path` is a valid worktree of `repo` on `branch`: kept if it is one, else
    /// taken over from a finished task ([`Self::recycle`]) or checked out afresh, after clearing
    /// leftovers of an interrupted attempt.
    fn ensure_worktree(
        &self,
        repo: &Repository,
        mirror: &Path,
        branch: &str,
        name: &str,
        path: &Path,
    ) -> anyhow::Result<()> {
        if let Ok(worktree) = repo.find_worktree(name) {
            if worktree.validate().is_ok() && worktree.path() == path && on_branch(path, branch) {
                return Ok(());
            }
            worktree.prune(Some(
                git2::WorktreePruneOptions::new()
                    .valid(true)
                    .locked(true)
                    .working_tree(true),
            ))?;
        }
        if path.exists() {
            std::fs::remove_dir_all(path)
                .with_context(|| format!("while removing a stale worktree {}", path.display()))?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("while creating {}", parent.display()))?;
        }
        let started = std::time::Instant::now();
        let reused = self.recycle(mirror, branch, name, path)?;
        if !reused {
            let reference = repo.find_reference(&format!("refs/heads/{branch}"))?;
            repo.worktree(
                name,
                path,
                Some(WorktreeAddOptions::new().reference(Some(&reference))),
            )
            .with_context(|| format!("while checking out {branch} into {}", path.display()))?;
        }
        tracing::info!(
            %branch,
            path = %path.display(),
            reused,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "task worktree ready"
        );
        Ok(())
    }
}

/// Whether the worktree at `path` has `branch` checked out.
fn on_branch(path: &Path, branch: &str) -> bool {
    Repository::open(path).is_ok_and(|r| {
        r.head()
            .is_ok_and(|h| h.name() == Some(format!("refs/heads/{branch}").as_str()))
    })
}
