//! The implement pipeline: an issue labelled for Orion (or `/orion implement`) becomes a task
//! that is triaged, planned, executed by dev agents in a sandboxed worktree, verified, reviewed
//! and opened as a pull request, each step persisted so a crash resumes it.

pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod dag;
pub mod linear;
pub mod pipeline;
pub mod plan;
pub mod prompts;
pub mod report;
pub mod task;
pub mod tracker;
pub mod trigger;
pub mod verify;

/// A GitHub failure as a job outcome: transient ones (down, rate limited, unknown outcome) are
/// retried by the queue, the rest fail the job.
pub(crate) fn forge_error(e: crate::forge::ForgeError) -> crate::queue::JobError {
    if e.is_transient() {
        crate::queue::JobError::Retry(e.into())
    } else {
        crate::queue::JobError::Fatal(e.into())
    }
}

/// Whose budget and keys a model call on `repo` uses: the GitHub installation, or the
/// repository's owner when Orion runs on a token.
pub(crate) fn spend_account(
    installation: Option<crate::event::InstallationId>,
    repo: &crate::event::RepoName,
) -> String {
    installation.map(|i| i.0.to_string()).unwrap_or_else(|| {
        repo.as_str()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    })
}

/// How to reach a repository's git: its clone URL, default branch and credentials (an
/// installation token for HTTPS remotes; none for local ones, as in tests).
pub(crate) struct GitAccess {
    pub clone_url: String,
    pub default_branch: String,
    pub creds: crate::git::Credentials,
}

impl GitAccess {
    pub(crate) async fn of(
        github: &crate::forge::github::GitHub,
        repo: &crate::forge::github::Repo,
        installation: Option<crate::event::InstallationId>,
    ) -> Result<Self, crate::queue::JobError> {
        use anyhow::Context;
        let info = repo.get().await.map_err(forge_error)?;
        let clone_url = info
            .clone_url
            .as_ref()
            .map(|u| u.to_string())
            .context("GitHub gave the repository no clone_url")
            .map_err(crate::queue::JobError::Fatal)?;
        let default_branch = info.default_branch.clone().unwrap_or_else(|| "main".into());
        let creds = if clone_url.starts_with("https://") {
            crate::git::Credentials::Token(
                github.git_token(installation).await.map_err(forge_error)?,
            )
        } else {
            crate::git::Credentials::Anonymous
        };
        Ok(Self {
            clone_url,
            default_branch,
            creds,
        })
    }
}

/// The prompt templates for `repo`: the built-in ones, with the repository's overrides
/// (`.github/orion/prompts/NAME.md` on its default branch) for `roles`, the only ones the caller
/// renders (each is one read).
pub(crate) async fn repo_prompts(
    repo: &crate::forge::github::Repo,
    roles: &[prompts::Role],
) -> Result<prompts::Prompts, crate::queue::JobError> {
    let mut overrides = Vec::new();
    for role in roles {
        let path = prompts::override_path(*role);
        if let Some(text) = repo.file(&path, None).await.map_err(forge_error)? {
            overrides.push((role.as_str().to_owned(), text));
        }
    }
    prompts::Prompts::with_overrides(&overrides)
        .map_err(|e| crate::queue::JobError::Fatal(e.into()))
}
