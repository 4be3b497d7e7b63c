//! Writes a user would see twice if they were repeated — comments, pull requests, check runs,
//! reviews, thread replies — made exactly once per idempotency key, across retries, 5xx
//! answers and crashes.
//!
//! Every such write goes through [`Effects::once`]: the journal says whether the effect is done
//! (return it), was started with an unknown outcome (look for it on GitHub first), or never
//! started. The intent is recorded before the call and the id after it. A process killed
//! between GitHub acting and the journal write leaves an intent, and the re-run finds the object
//! by what Orion put in it: a hidden marker in a comment or review body, the branch of a pull
//! request, the `external_id` of a check run.

use octocrab::models::pulls::PullRequest;

use super::GitHub;
use super::error::ForgeError;
use super::repo::{NewCheckRun, NewPullRequest, NewReview, Repo};
use crate::event::IssueNumber;
use crate::forge::journal::{EffectRef, Entry, Journal};

/// Times an ambiguous write is looked for and retried before the job gives up for now.
const MAX_AMBIGUOUS_ROUNDS: u32 = 4;

/// The hidden marker Orion puts in the bodies it writes, carrying the idempotency key. An HTML
/// comment: invisible on GitHub, kept verbatim by the API.
pub fn marker(key: &str) -> String {
    format!("<!-- orion:effect {key} -->")
}

/// `body` with the marker for `key` as its last line.
pub fn with_marker(body: &str, key: &str) -> String {
    format!("{}\n\n{}", body.trim_end(), marker(key))
}

/// Idempotent writes on one repository, journaled. Cheap to clone.
#[derive(Clone)]
pub struct Effects {
    github: GitHub,
    repo: Repo,
    journal: Journal,
    /// Dry run: every write is described to this instead of made (`orion implement --dry-run`).
    dry_run: Option<DryRun>,
}

/// Where a dry run's would-be writes go, one description each.
#[derive(Clone)]
pub struct DryRun(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl DryRun {
    pub fn say(&self, what: &str) {
        (self.0)(what)
    }
}

impl std::fmt::Debug for DryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DryRun")
    }
}

/// What [`Effects::once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub effect: EffectRef,
    /// Created by this call (as opposed to found in the journal or on GitHub).
    pub created: bool,
}

impl Effects {
    pub fn new(github: GitHub, repo: Repo, journal: Journal) -> Self {
        Self {
            github,
            repo,
            journal,
            dry_run: None,
        }
    }

    /// Describes writes to `print` instead of making them: nothing is written to GitHub or to
    /// the journal.
    pub fn dry_run(mut self, print: DryRun) -> Self {
        self.dry_run = Some(print);
        self
    }

    /// In a dry run, describes the write and answers as if it had been made.
    fn pretend(&self, what: impl FnOnce() -> String) -> Option<Outcome> {
        self.dry_run.as_ref()?.say(&what());
        Some(Outcome {
            effect: EffectRef { id: 0, url: None },
            created: true,
        })
    }

    /// Adds labels, or describes it in a dry run.
    pub async fn add_labels(&self, issue: IssueNumber, labels: &[&str]) -> Result<(), ForgeError> {
        if self
            .pretend(|| format!("would label {issue} with {labels:?}"))
            .is_some()
        {
            return Ok(());
        }
        self.repo.add_labels(issue, labels).await.map(drop)
    }
    /// The repository, for plain reads and the writes that are safe to repeat.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    fn check_key(key: &str) -> Result<(), ForgeError> {
        let ok = !key.is_empty()
            && key.len() <= 200
            && !key.contains("--")
            && key.chars().all(|c| c.is_ascii_graphic() && c != '>');
        if ok {
            Ok(())
        } else {
            Err(ForgeError::Setup(format!(
                "{key:?} is not a usable idempotency key (printable ASCII, no spaces, '--' or '>')"
            )))
        }
    }

    /// Performs the effect `key` once. `find` looks for it on GitHub; `perform` makes it.
    ///
    /// Plain closures returning futures rather than async closures: the futures of async
    /// closures are not provably `Send` for every lifetime, and jobs run on a multi-threaded
    /// runtime.
    pub async fn once<Find, FindFut, Perform, PerformFut>(
        &self,
        key: &str,
        kind: &str,
        find: Find,
        perform: Perform,
    ) -> Result<Outcome, ForgeError>
    where
        Find: Fn() -> FindFut,
        FindFut: Future<Output = Result<Option<EffectRef>, ForgeError>>,
        Perform: Fn() -> PerformFut,
        PerformFut: Future<Output = Result<EffectRef, ForgeError>>,
    {
        Self::check_key(key)?;
        let repo = self.repo.name().as_str();
        let _claim = self.journal.claim(repo, key).await;
        let journal_err = |e: anyhow::Error| ForgeError::Journal(format!("{e:#}"));
        match self.journal.get(repo, key).await.map_err(journal_err)? {
            Some(Entry::Done(effect)) => {
                return Ok(Outcome {
                    effect,
                    created: false,
                });
            }
            Some(Entry::Intent { .. }) => {
                if let Some(effect) = find().await? {
                    tracing::info!(
                        key,
                        id = effect.id,
                        "found an effect of an earlier run on GitHub"
                    );
                    self.journal
                        .done(repo, key, kind, &effect)
                        .await
                        .map_err(journal_err)?;
                    return Ok(Outcome {
                        effect,
                        created: false,
                    });
                }
            }
            None => {}
        }
        let backoff = self.github.config().backoff();
        let mut round = 0;
        loop {
            round += 1;
            self.journal
                .intend(repo, key, kind)
                .await
                .map_err(journal_err)?;
            let error = match perform().await {
                Ok(effect) => {
                    crate::failpoint::pause(&format!("forge.created.{kind}")).await;
                    self.journal
                        .done(repo, key, kind, &effect)
                        .await
                        .map_err(journal_err)?;
                    return Ok(Outcome {
                        effect,
                        created: true,
                    });
                }
                Err(e) if matches!(e, ForgeError::Ambiguous { .. }) || e.is_already_exists() => e,
                Err(e) => return Err(e),
            };
            if let Some(effect) = find().await? {
                self.journal
                    .done(repo, key, kind, &effect)
                    .await
                    .map_err(journal_err)?;
                return Ok(Outcome {
                    effect,
                    created: !error.is_already_exists(),
                });
            }
            if error.is_already_exists() || round >= MAX_AMBIGUOUS_ROUNDS {
                return Err(error);
            }
            tracing::warn!(key, %error, "write outcome unknown and not found on GitHub, retrying");
            // The thread-local RNG must not live across the await (the future moves threads).
            let pause = backoff.delay(round, &mut rand::rng());
            tokio::time::sleep(pause).await;
        }
    }

    /// The comment on `issue` carrying `key`'s marker and written by Orion, if any (the newest).
    async fn find_comment(
        &self,
        issue: IssueNumber,
        key: &str,
    ) -> Result<Option<EffectRef>, ForgeError> {
        let me = self.github.identity().await?.login.clone();
        let mark = marker(key);
        let comments = self.repo.comments(issue).await?;
        Ok(comments
            .into_iter()
            .rev()
            .find(|c| {
                c.user.login == me && c.body.as_deref().is_some_and(|b| b.contains(mark.as_str()))
            })
            .map(|c| EffectRef {
                id: c.id.0,
                url: Some(c.html_url.to_string()),
            }))
    }

    /// Posts a comment once: a re-run with the same key posts nothing.
    pub async fn comment_once(
        &self,
        key: &str,
        issue: IssueNumber,
        body: &str,
    ) -> Result<Outcome, ForgeError> {
        if let Some(o) = self.pretend(|| format!("would comment on {issue} ({key}):\n{body}")) {
            return Ok(o);
        }
        let text = &with_marker(body, key);
        self.once(
            key,
            "comment",
            move || async move { self.find_comment(issue, key).await },
            move || async move {
                let c = self.repo.create_comment(issue, text).await?;
                Ok(EffectRef {
                    id: c.id.0,
                    url: Some(c.html_url.to_string()),
                })
            },
        )
        .await
    }

    /// The sticky comment `key` on `issue` says `body`: created the first time, edited in place
    /// afterwards (and created again if a human deleted it).
    pub async fn sticky_comment(
        &self,
        key: &str,
        issue: IssueNumber,
        body: &str,
    ) -> Result<EffectRef, ForgeError> {
        if let Some(o) = self.pretend(|| {
            format!("would post or edit the status comment on {issue} ({key}):\n{body}")
        }) {
            return Ok(o.effect);
        }
        let text = &with_marker(body, key);
        let outcome = self
            .sticky(
                key,
                "status comment",
                move || async move { self.comment_once(key, issue, body).await },
                move |id| async move { self.repo.edit_comment(id, text).await.map(drop) },
            )
            .await?;
        Ok(outcome.effect)
    }

    /// The sticky issue `key` says `body`: opened with `title` the first time (the outcome says
    /// `created`), its body edited in place afterwards, and opened again if it was deleted. The
    /// effect's id is the issue number.
    pub async fn sticky_issue(
        &self,
        key: &str,
        title: &str,
        body: &str,
    ) -> Result<Outcome, ForgeError> {
        if let Some(o) =
            self.pretend(|| format!("would open or edit issue {title:?} ({key}):\n{body}"))
        {
            return Ok(o);
        }
        let text = &with_marker(body, key);
        let mark = &marker(key);
        self.sticky(
            key,
            "issue",
            move || async move {
                self.once(
                    key,
                    "issue",
                    move || async move {
                        let me = self.github.identity().await?.login.clone();
                        Ok(self
                            .repo
                            .issues_by(&me)
                            .await?
                            .into_iter()
                            .find(|i| i.body.as_deref().is_some_and(|b| b.contains(mark.as_str())))
                            .map(|i| EffectRef {
                                id: i.number,
                                url: Some(i.html_url.to_string()),
                            }))
                    },
                    move || async move {
                        let i = self.repo.create_issue(title, text).await?;
                        Ok(EffectRef {
                            id: i.number,
                            url: Some(i.html_url.to_string()),
                        })
                    },
                )
                .await
            },
            move |number| async move {
                match self.repo.edit_issue_body(IssueNumber(number), text).await {
                    Ok(_) => Ok(()),
                    // A deleted issue answers 410 Gone.
                    Err(ForgeError::Rejected {
                        status: 410, what, ..
                    }) => Err(ForgeError::NotFound { what }),
                    Err(e) => Err(e),
                }
            },
        )
        .await
    }

    /// Made once by `create` (which answers whether it created it or found it), then rewritten
    /// in place by `edit` with the object's id; when `edit` finds it gone (a human deleted it),
    /// the journal forgets it and it is made again.
    async fn sticky<Create, CreateFut, Edit, EditFut>(
        &self,
        key: &str,
        what: &str,
        create: Create,
        edit: Edit,
    ) -> Result<Outcome, ForgeError>
    where
        Create: Fn() -> CreateFut,
        CreateFut: Future<Output = Result<Outcome, ForgeError>>,
        Edit: Fn(u64) -> EditFut,
        EditFut: Future<Output = Result<(), ForgeError>>,
    {
        for _ in 0..2 {
            let outcome = create().await?;
            if outcome.created {
                return Ok(outcome);
            }
            match edit(outcome.effect.id).await {
                Ok(()) => return Ok(outcome),
                Err(ForgeError::NotFound { .. }) => {
                    tracing::info!(
                        key,
                        id = outcome.effect.id,
                        "{what} was deleted, posting it again"
                    );
                    self.journal
                        .forget(self.repo.name().as_str(), key)
                        .await
                        .map_err(|e| ForgeError::Journal(format!("{e:#}")))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ForgeError::NotFound {
            what: format!("{what} {key} (deleted again while being re-posted)"),
        })
    }

    /// Opens the pull request once; a re-run (or a PR already open for the branch) returns the
    /// existing one. The effect's id is the PR number.
    pub async fn pull_request(
        &self,
        key: &str,
        pull: &NewPullRequest,
    ) -> Result<Outcome, ForgeError> {
        if let Some(o) = self.pretend(|| {
            format!(
                "would open a {}pull request from {} into {} ({key}): {}\n{}",
                if pull.draft { "draft " } else { "" },
                pull.head,
                pull.base,
                pull.title,
                pull.body
            )
        }) {
            return Ok(o);
        }
        let to_ref = |p: &PullRequest| EffectRef {
            id: p.number,
            url: p.html_url.as_ref().map(|u| u.to_string()),
        };
        self.once(
            key,
            "pull_request",
            move || async move {
                let open = self.repo.pulls_for_branch(&pull.head).await?;
                Ok(open
                    .iter()
                    .find(|p| p.closed_at.is_none() && p.merged_at.is_none())
                    .map(to_ref))
            },
            move || async move { Ok(to_ref(&self.repo.create_pull(pull).await?)) },
        )
        .await
    }

    /// Creates the check run once (its `external_id` is set to `key`); progress then goes
    /// through [`Repo::update_check_run`] with the returned id.
    pub async fn check_run(&self, key: &str, run: &NewCheckRun) -> Result<Outcome, ForgeError> {
        if let Some(o) = self.pretend(|| {
            format!(
                "would create check run {:?} on {} ({key})",
                run.name, run.head_sha
            )
        }) {
            return Ok(o);
        }
        let run = &NewCheckRun {
            external_id: Some(key.to_owned()),
            ..run.clone()
        };
        self.once(
            key,
            "check_run",
            move || async move {
                let runs = self.repo.check_runs(&run.head_sha, &run.name).await?;
                Ok(runs
                    .into_iter()
                    .find(|r| r.external_id.as_deref() == Some(key))
                    .map(|r| EffectRef {
                        id: r.id,
                        url: r.html_url,
                    }))
            },
            move || async move {
                let r = self.repo.create_check_run(run).await?;
                Ok(EffectRef {
                    id: r.id,
                    url: r.html_url,
                })
            },
        )
        .await
    }

    /// Posts the review once (one review per key, e.g. per reviewed commit).
    pub async fn review(
        &self,
        key: &str,
        pull: IssueNumber,
        review: &NewReview,
    ) -> Result<Outcome, ForgeError> {
        if let Some(o) = self.pretend(|| {
            format!(
                "would review {pull} ({key}, {:?}, {} inline comments):\n{}",
                review.event,
                review.comments.len(),
                review.body
            )
        }) {
            return Ok(o);
        }
        let review = &NewReview {
            body: with_marker(&review.body, key),
            ..review.clone()
        };
        let mark = &marker(key);
        self.once(
            key,
            "review",
            move || async move {
                let me = self.github.identity().await?.login.clone();
                Ok(self
                    .repo
                    .reviews(pull)
                    .await?
                    .into_iter()
                    .find(|r| {
                        r.user.as_ref().is_some_and(|u| u.login == me)
                            && r.body.as_deref().is_some_and(|b| b.contains(mark.as_str()))
                    })
                    .map(|r| EffectRef {
                        id: r.id.0,
                        url: Some(r.html_url.to_string()),
                    }))
            },
            move || async move {
                let r = self.repo.create_review(pull, review).await?;
                Ok(EffectRef {
                    id: r.id.0,
                    url: Some(r.html_url.to_string()),
                })
            },
        )
        .await
    }

    /// Replies in a review thread once.
    pub async fn reply_once(
        &self,
        key: &str,
        pull: IssueNumber,
        comment_id: u64,
        body: &str,
    ) -> Result<Outcome, ForgeError> {
        if let Some(o) = self
            .pretend(|| format!("would reply in thread {comment_id} of {pull} ({key}):\n{body}"))
        {
            return Ok(o);
        }
        let text = &with_marker(body, key);
        let mark = &marker(key);
        self.once(
            key,
            "review_reply",
            move || async move {
                let me = self.github.identity().await?.login.clone();
                Ok(self
                    .repo
                    .review_comments(pull)
                    .await?
                    .into_iter()
                    .find(|c| {
                        c.in_reply_to_id.map(|id| id.0) == Some(comment_id)
                            && c.user.as_ref().is_some_and(|u| u.login == me)
                            && c.body.contains(mark.as_str())
                    })
                    .map(|c| EffectRef {
                        id: c.id.0,
                        url: Some(c.html_url),
                    }))
            },
            move || async move {
                let c = self
                    .repo
                    .reply_to_review_comment(pull, comment_id, text)
                    .await?;
                Ok(EffectRef {
                    id: c.id.0,
                    url: Some(c.html_url),
                })
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_hidden_and_keys_are_checked() {
        assert_eq!(
            with_marker("On it.\n", "task:42/status-comment"),
            "On it.\n\n<!-- orion:effect task:42/status-comment -->"
        );
        assert!(Effects::check_key("task:42/pr").is_ok());
        for bad in ["", "a b", "x-->y", "a>b", "tab\t"] {
            assert!(Effects::check_key(bad).is_err(), "{bad:?}");
        }
    }
}
