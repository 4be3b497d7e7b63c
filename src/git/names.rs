//! Names on disk and in git: where a repository's mirror lives, and what a task's branch is called.

use std::path::PathBuf;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::event::IssueNumber;

/// Every branch Orion creates lives under this prefix, and Orion pushes nothing outside it.
pub const BRANCH_PREFIX: &str = "orion/";

/// The longest slug taken from an issue title: enough to recognise the issue in a branch list,
/// short enough for terminals and path limits.
const SLUG_MAX: usize = 40;

/// The relative directory (`github.com/owner/repo`) that keys a repository's mirror and worktrees.
///
/// HTTPS URLs map to `host/owner/repo`, so two hosts (github.com and a GHES) never share a
/// mirror. Local remotes (`file://` or a plain path) map to `local/<name>-<hash of the path>`, so
/// two local repositories with the same name stay apart. URLs carrying credentials are refused:
/// libgit2 would store them in the mirror, and the token belongs in [`super::Credentials`].
pub(crate) fn repo_key(clone_url: &str) -> anyhow::Result<PathBuf> {
    let https = clone_url
        .strip_prefix("https://")
        .or_else(|| clone_url.strip_prefix("http://"));
    if let Some(rest) = https {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.contains('@') {
            bail!(
                "the clone URL carries credentials (user@ or user:token@); pass the token as Credentials instead"
            );
        }
        let mut key = PathBuf::from(sanitize(&authority.replace(':', "_")));
        let path = path.trim_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() || authority.is_empty() {
            bail!("{clone_url:?} names no repository (expected https://host/owner/repo.git)");
        }
        for part in parts {
            if part == "." || part == ".." {
                bail!("{clone_url:?} has a '.' or '..' path segment");
            }
            key.push(sanitize(part));
        }
        return Ok(key);
    }
    let local = match clone_url.strip_prefix("file://") {
        Some(path) => path,
        None if clone_url.contains("://") => bail!(
            "unsupported clone URL {clone_url:?}: Orion fetches over https:// (or file:// and local paths)"
        ),
        None => clone_url,
    };
    let local = local.trim_end_matches('/');
    let name = local.rsplit('/').next().unwrap_or(local);
    let name = name.strip_suffix(".git").unwrap_or(name);
    if name.is_empty() {
        bail!("{clone_url:?} names no repository");
    }
    let hash = hex::encode(Sha256::digest(local.as_bytes()));
    Ok(PathBuf::from("local").join(format!("{}-{}", sanitize(name), &hash[..12])))
}

/// Keeps a path segment to characters that are safe in a file name on every platform.
fn sanitize(segment: &str) -> String {
    segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The part of a task branch after the number: lowercase ASCII letters, digits and single dashes,
/// at most 40 characters, `task` when the title has nothing usable (an all-emoji title).
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= SLUG_MAX {
            break;
        }
    }
    slug.truncate(SLUG_MAX);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "task".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The branch for a new task: `orion/<ticket>-<slug>`.
pub fn task_branch(ticket: &str, title: &str) -> String {
    format!("{BRANCH_PREFIX}{ticket}-{}", slug(title))
}

/// The ticket a task for GitHub issue `issue` has in its branch name: the number.
pub fn github_ticket(issue: IssueNumber) -> String {
    issue.0.to_string()
}

/// The ticket in a task branch's worktree name (`42-fix-login` → `42`, `eng-7-fix-login` →
/// `eng-7`): what the task's lock is keyed by. `None` for a name no task branch has.
pub(crate) fn ticket_of(worktree: &str) -> Option<&str> {
    let mut parts = worktree.splitn(3, '-');
    let first = parts.next()?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if is_number(first) {
        return Some(first);
    }
    let second = parts.next()?;
    (!first.is_empty() && first.bytes().all(|b| b.is_ascii_alphanumeric()) && is_number(second))
        .then(|| &worktree[..first.len() + 1 + second.len()])
}

/// The ref recording that Orion created `branch`; what "a branch created by Orion" means when
/// deciding whether a push is allowed. It lives in the mirror, outside `refs/heads`, so no fetch
/// or push ever touches it.
pub(crate) fn created_ref(branch: &str) -> String {
    format!("refs/orion/created/{branch}")
}

/// The ref recording where Orion last pushed `branch`: the lease a later force push checks.
pub(crate) fn pushed_ref(branch: &str) -> String {
    format!("refs/orion/pushed/{branch}")
}

/// Where the mirror keeps the remote's branch `branch`.
pub(crate) fn remote_ref(branch: &str) -> String {
    format!("refs/remotes/origin/{branch}")
}

/// The worktree's name (its directory, and its entry under the mirror's `worktrees/`): the branch
/// without the `orion/` prefix, because libgit2 worktree names cannot contain a slash.
pub(crate) fn worktree_name(branch: &str) -> anyhow::Result<&str> {
    branch
        .strip_prefix(BRANCH_PREFIX)
        .filter(|n| !n.contains('/'))
        .with_context(|| format!("{branch:?} is not a task branch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lowercase_and_dashed() {
        assert_eq!(
            slug("Fix: login fails on Safari!"),
            "fix-login-fails-on-safari"
        );
        assert_eq!(slug("  --Crash__in   `parse()` -- "), "crash-in-parse");
        assert_eq!(slug("🚀🚀"), "task");
        assert_eq!(slug("Ünïcode tëxt"), "n-code-t-xt");
        let long = slug("Make the scheduler respect per-repository concurrency limits always");
        assert_eq!(long, "make-the-scheduler-respect-per-repositor");
        assert!(long.len() <= 40);
        let cut_at_dash = slug("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbb");
        assert_eq!(cut_at_dash, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(
            task_branch(&github_ticket(IssueNumber(42)), "Fix login"),
            "orion/42-fix-login"
        );
        assert_eq!(task_branch("eng-7", "fix-login"), "orion/eng-7-fix-login");
        assert_eq!(ticket_of("42-fix-login"), Some("42"));
        assert_eq!(ticket_of("eng-7-fix-login"), Some("eng-7"));
        assert_eq!(ticket_of("eng-7"), Some("eng-7"));
        assert_eq!(ticket_of("fix-login"), None);
    }

    #[test]
    fn repositories_map_to_distinct_safe_directories() {
        assert_eq!(
            repo_key("https://github.com/rust-lang/bors.git").unwrap(),
            PathBuf::from("github.com/rust-lang/bors")
        );
        assert_eq!(
            repo_key("https://ghes.example.com:8443/team/app").unwrap(),
            PathBuf::from("ghes.example.com_8443/team/app")
        );
        let a = repo_key("file:///tmp/a/app.git").unwrap();
        let b = repo_key("/tmp/b/app.git").unwrap();
        assert!(a.starts_with("local") && b.starts_with("local"));
        assert_ne!(a, b);
        assert!(a.to_string_lossy().contains("app-"));

        for bad in [
            "https://x-access-token:ghs_abc@github.com/o/r.git",
            "ssh://git@github.com/o/r.git",
            "https://github.com/",
            "https://github.com/o/../r",
        ] {
            assert!(repo_key(bad).is_err(), "{bad} should be refused");
        }
    }
}
