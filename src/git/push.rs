//! Pushing a task branch: only Orion's own branches, never the default branch, and over a remote
//! branch only where Orion left it (force-with-lease).

use std::cell::RefCell;

use anyhow::Context;
use git2::{Direction, Oid, PushOptions, Repository};

use super::names::{BRANCH_PREFIX, created_ref, pushed_ref};
use super::{Credentials, GitError, Protection, TaskWorkspace, blocking};

impl TaskWorkspace {
    /// Pushes the branch checked out in the worktree to the repository's real remote (its clone
    /// URL, not the mirror), force-with-lease, and returns the pushed commit.
    ///
    /// It pushes what is checked out rather than [`Self::branch`] because that is what a tool
    /// running in the worktree may have changed; the checks below judge the real branch:
    /// a detached HEAD, the remote's default branch, a branch outside `orion/` or one Orion did
    /// not create is [`GitError::ProtectedBranch`]. The remote branch is overwritten only if it
    /// is absent or where Orion last pushed it, else [`GitError::RemoteMoved`]. The check and the
    /// push share one connection, so over git's smart protocol the server itself verifies the
    /// old value it advertised (a compare-and-swap); only local (`file://`) remotes leave a
    /// window of a few milliseconds between the check and the write.
    pub async fn push(&self, creds: &Credentials) -> Result<Oid, GitError> {
        let (this, creds) = (self.clone(), creds.clone());
        blocking(move || this.push_blocking(&creds)).await
    }

    fn push_blocking(&self, creds: &Credentials) -> Result<Oid, GitError> {
        let worktree = self.open()?;
        let head = worktree.head()?;
        let refname = match (head.is_branch(), head.name()) {
            (true, Some(name)) => name.to_owned(),
            _ => {
                return Err(GitError::ProtectedBranch {
                    branch: "HEAD".into(),
                    why: Protection::DetachedHead,
                });
            }
        };
        let branch = refname.trim_start_matches("refs/heads/").to_owned();
        let local = head.peel_to_commit()?.id();
        let refuse = |why| {
            tracing::warn!(%branch, %why, "push refused");
            Err(GitError::ProtectedBranch {
                branch: branch.clone(),
                why,
            })
        };

        let mirror = Repository::open_bare(&self.mirror)
            .with_context(|| format!("while opening the mirror {}", self.mirror.display()))?;
        let url = &self.task.clone_url;
        let mut remote = mirror.remote_anonymous(url)?;
        // The default branch comes from the fetch side: upload-pack advertises HEAD's target,
        // receive-pack does not.
        let default_branch = {
            let connection = remote
                .connect_auth(Direction::Fetch, Some(creds.callbacks()), None)
                .with_context(|| format!("while connecting to {url}"))?;
            connection
                .default_branch()
                .ok()
                .and_then(|b| b.as_str().map(str::to_owned))
        };
        if default_branch.as_deref() == Some(refname.as_str()) {
            return refuse(Protection::DefaultBranch);
        }
        if !branch.starts_with(BRANCH_PREFIX) {
            return refuse(Protection::OutsideOrionNamespace);
        }
        if mirror.find_reference(&created_ref(&branch)).is_err() {
            return refuse(Protection::NotCreatedByOrion);
        }
        let lease = mirror
            .find_reference(&pushed_ref(&branch))
            .ok()
            .and_then(|r| r.target());

        let mut connection = remote
            .connect_auth(Direction::Push, Some(creds.callbacks()), None)
            .with_context(|| format!("while connecting to {url} to push"))?;
        let found = connection
            .list()?
            .iter()
            .find(|h| h.name() == refname)
            .map(|h| h.oid());
        match found {
            // Already there: a previous push landed but its record did not (a crash between).
            Some(at) if at == local => {}
            Some(at) if Some(at) != lease => {
                tracing::warn!(%branch, found = %at, "push refused: remote branch moved");
                return Err(GitError::RemoteMoved {
                    branch,
                    expected: lease,
                    found: at,
                });
            }
            _ => {
                let rejection = RefCell::new(None);
                {
                    let mut callbacks = creds.callbacks();
                    callbacks.push_update_reference(|_, status| {
                        if let Some(status) = status {
                            *rejection.borrow_mut() = Some(status.to_owned());
                        }
                        Ok(())
                    });
                    let mut options = PushOptions::new();
                    options.remote_callbacks(callbacks);
                    connection
                        .remote()
                        .push(&[format!("+{refname}:{refname}")], Some(&mut options))
                        .with_context(|| format!("while pushing {branch} to {url}"))?;
                }
                if let Some(reason) = rejection.into_inner() {
                    tracing::warn!(%branch, %reason, "push rejected by the remote");
                    return Err(GitError::Rejected { branch, reason });
                }
            }
        }
        drop(connection);
        mirror.reference(&pushed_ref(&branch), local, true, "orion: pushed")?;
        tracing::info!(%branch, commit = %local, "pushed");
        Ok(local)
    }
}
