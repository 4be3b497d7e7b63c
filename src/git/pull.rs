//! A pull request's commits in the repository's mirror, for review: diffs computed locally
//! cost no API quota, are never cut off by GitHub's diff limits (3,000 files, 300 per compare),
//! and give rename detection and file contents around the hunks for free.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use git2::{AutotagOption, FetchOptions, Oid, Repository};

use super::{Credentials, Workspaces, blocking};
use crate::event::IssueNumber;

/// A pull request whose base and head are in the mirror.
#[derive(Debug, Clone)]
pub struct PullCheckout {
    mirror: PathBuf,
    /// Where the head left the base branch: the "before" of the pull request's diff, as
    /// GitHub's three-dot diff has it.
    pub merge_base: String,
    pub head: String,
}

impl Workspaces {
    /// Updates the mirror and makes sure the pull request's head is in it: same-repository
    /// heads come with the branches; a fork's head is fetched from `refs/pull/N/head`.
    pub async fn pull_request(
        &self,
        clone_url: &str,
        creds: &Credentials,
        number: IssueNumber,
        base_branch: &str,
        head_sha: &str,
    ) -> anyhow::Result<PullCheckout> {
        let mirror = self.mirror(clone_url, creds).await?;
        let (url, creds, base_branch, head_sha) = (
            clone_url.to_owned(),
            creds.clone(),
            base_branch.to_owned(),
            head_sha.to_owned(),
        );
        let lock = self.lock(mirror.path.display().to_string());
        let path = mirror.path.clone();
        blocking(move || {
            let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
            let repo = Repository::open_bare(&path)?;
            let head = Oid::from_str(&head_sha)
                .with_context(|| format!("{head_sha:?} is not a commit id"))?;
            if repo.find_commit(head).is_err() {
                let refspec = format!("+refs/pull/{0}/head:refs/remotes/pull/{0}", number.0);
                let mut options = FetchOptions::new();
                options
                    .remote_callbacks(creds.callbacks())
                    .download_tags(AutotagOption::None);
                repo.remote_anonymous(&url)?
                    .fetch(
                        &[refspec.as_str()],
                        Some(&mut options),
                        Some("orion: pull request head"),
                    )
                    .with_context(|| format!("while fetching the head of pull request {number}"))?;
                repo.find_commit(head).with_context(|| {
                    format!("the head {head_sha} of pull request {number} is not on the remote")
                })?;
            }
            let base = repo
                .find_reference(&super::names::remote_ref(&base_branch))
                .with_context(|| format!("the base branch {base_branch} is not on the remote"))?
                .peel_to_commit()?
                .id();
            let merge_base = repo
                .merge_base(base, head)
                .with_context(|| format!("{head_sha} shares no history with {base_branch}"))?;
            Ok(PullCheckout {
                mirror: path,
                merge_base: merge_base.to_string(),
                head: head_sha,
            })
        })
        .await
    }
}

impl PullCheckout {
    fn open(&self) -> anyhow::Result<Repository> {
        Repository::open_bare(&self.mirror)
            .with_context(|| format!("while opening the mirror {}", self.mirror.display()))
    }

    /// The unified diff from `from` to the head, renames detected, as `git diff` prints it.
    pub async fn diff_from(&self, from: &str) -> anyhow::Result<String> {
        let (this, from) = (self.clone(), from.to_owned());
        blocking(move || {
            let repo = this.open()?;
            let tree = |sha: &str| -> anyhow::Result<git2::Tree<'_>> {
                Ok(repo.find_commit(Oid::from_str(sha)?)?.tree()?)
            };
            let (old, new) = (tree(&from)?, tree(&this.head)?);
            let mut diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
            let mut find = git2::DiffFindOptions::new();
            find.renames(true).copies(false);
            diff.find_similar(Some(&mut find))?;
            super::patch_text(&diff, usize::MAX)
        })
        .await
    }

    /// Whether `sha` is in the head's history (a plain push) rather than rewritten away (a
    /// force push), and so whether a review can start from it.
    pub async fn contains(&self, sha: &str) -> anyhow::Result<bool> {
        let (this, sha) = (self.clone(), sha.to_owned());
        blocking(move || {
            let repo = this.open()?;
            let Ok(old) = Oid::from_str(&sha) else {
                return Ok(false);
            };
            if repo.find_commit(old).is_err() {
                return Ok(false);
            }
            let head = Oid::from_str(&this.head)?;
            Ok(old == head || repo.graph_descendant_of(head, old)?)
        })
        .await
    }

    /// The text of `paths` at the head (those that exist there and are UTF-8), for the code
    /// around the hunks a reviewer is shown.
    pub async fn files_at_head(
        &self,
        paths: Vec<String>,
    ) -> anyhow::Result<HashMap<String, String>> {
        let this = self.clone();
        blocking(move || {
            let repo = this.open()?;
            let tree = repo.find_commit(Oid::from_str(&this.head)?)?.tree()?;
            let mut out = HashMap::new();
            for path in paths {
                let Ok(entry) = tree.get_path(std::path::Path::new(&path)) else {
                    continue;
                };
                let Ok(blob) = repo.find_blob(entry.id()) else {
                    continue;
                };
                if let Ok(text) = std::str::from_utf8(blob.content()) {
                    out.insert(path, text.to_owned());
                }
            }
            Ok(out)
        })
        .await
    }
}
