//! GitHub payloads → [`EventKind`]. The wire structs here are private: they hold only the fields
//! Orion uses, so GitHub adding fields never breaks parsing, and a missing field Orion relies on is
//! reported with its JSON path.

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::event::*;

/// What a GitHub delivery turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// GitHub's hello on webhook creation: answered 200, nothing stored.
    Ping,
    /// Something Orion acts on (boxed: events are large, the other answers are empty).
    Event(Box<EventKind>),
    /// A well-formed event Orion does not act on (acknowledged, counted, not stored).
    Ignored,
}

/// The payload could not be read: bad JSON, or a field Orion needs is missing or mistyped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// Parses a GitHub delivery body of event type `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Parsed, Unreadable> {
    let action = || -> Result<Option<String>, Unreadable> {
        #[derive(Deserialize)]
        struct ActionOnly {
            action: Option<String>,
        }
        Ok(decode::<ActionOnly>(body)?.action)
    };
    let kind = match event {
        "ping" => {
            decode::<IgnoredAny>(body)?;
            return Ok(Parsed::Ping);
        }
        "issues" => match action()?.as_deref().and_then(IssueAction::parse) {
            Some(action) => EventKind::Issue(decode::<IssuesPayload>(body)?.into_event(action)),
            None => return ignored(body),
        },
        "issue_comment" => match action()?.as_deref().and_then(CommentAction::parse) {
            Some(action) => {
                EventKind::IssueComment(decode::<IssueCommentPayload>(body)?.into_event(action))
            }
            None => return ignored(body),
        },
        "pull_request" => match action()?.as_deref().and_then(PullRequestAction::parse) {
            Some(action) => {
                EventKind::PullRequest(decode::<PullRequestPayload>(body)?.into_event(action))
            }
            None => return ignored(body),
        },
        "pull_request_review" => match action()?.as_deref().and_then(ReviewAction::parse) {
            Some(action) => EventKind::PullRequestReview(
                decode::<PullRequestReviewPayload>(body)?.into_event(action),
            ),
            None => return ignored(body),
        },
        "pull_request_review_comment" => {
            match action()?.as_deref().and_then(CommentAction::parse) {
                Some(action) => EventKind::PullRequestReviewComment(
                    decode::<ReviewCommentPayload>(body)?.into_event(action),
                ),
                None => return ignored(body),
            }
        }
        "pull_request_review_thread" => match action()?.as_deref().and_then(ThreadAction::parse) {
            Some(action) => {
                EventKind::ReviewThread(decode::<ReviewThreadPayload>(body)?.into_event(action))
            }
            None => return ignored(body),
        },
        "check_run" | "check_suite" | "workflow_run" => {
            if action()?.as_deref() != Some("completed") {
                return ignored(body);
            }
            let kind = match event {
                "check_run" => CheckKind::CheckRun,
                "check_suite" => CheckKind::CheckSuite,
                _ => CheckKind::WorkflowRun,
            };
            EventKind::Check(decode::<CheckPayload>(body)?.into_event(kind))
        }
        "push" => {
            let push = decode::<PushPayload>(body)?;
            match push.git_ref.strip_prefix("refs/heads/") {
                Some(branch) => {
                    let branch = branch.to_owned();
                    EventKind::Push(push.into_event(branch))
                }
                None => return Ok(Parsed::Ignored), // tags
            }
        }
        "installation" | "installation_repositories" => {
            match action()?.as_deref().and_then(InstallationAction::parse) {
                Some(action) => {
                    EventKind::Installation(decode::<InstallationPayload>(body)?.into_event(action))
                }
                None => return ignored(body),
            }
        }
        _ => return ignored(body),
    };
    Ok(Parsed::Event(Box::new(kind)))
}

/// An event we do not act on is still checked to be JSON, so a garbled delivery is never mistaken
/// for an ignorable one.
fn ignored(body: &[u8]) -> Result<Parsed, Unreadable> {
    decode::<IgnoredAny>(body)?;
    Ok(Parsed::Ignored)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Unreadable> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            Unreadable(format!("invalid JSON: {}", e.inner()))
        } else {
            Unreadable(format!("at {path}: {}", e.inner()))
        }
    })?;
    de.end()
        .map_err(|e| Unreadable(format!("invalid JSON: {e}")))?;
    Ok(value)
}

#[derive(Deserialize)]
struct WireRepo {
    id: u64,
    full_name: String,
    clone_url: Option<String>,
    default_branch: Option<String>,
    #[serde(default)]
    private: bool,
}

impl From<WireRepo> for RepoRef {
    fn from(r: WireRepo) -> Self {
        RepoRef {
            name: RepoName(r.full_name),
            id: r.id,
            clone_url: r.clone_url,
            default_branch: r.default_branch,
            private: r.private,
        }
    }
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
    id: u64,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl From<WireUser> for Actor {
    fn from(u: WireUser) -> Self {
        let is_bot = u.kind.as_deref() == Some("Bot") || u.login.ends_with("[bot]");
        Actor {
            login: u.login,
            id: u.id,
            is_bot,
        }
    }
}

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

fn label_names(labels: Vec<WireLabel>) -> Vec<String> {
    labels.into_iter().map(|l| l.name).collect()
}

#[derive(Deserialize)]
struct WireInstallation {
    id: u64,
}

fn installation(i: Option<WireInstallation>) -> Option<InstallationId> {
    i.map(|i| InstallationId(i.id))
}

#[derive(Deserialize)]
struct WireIssue {
    number: u64,
    title: String,
    body: Option<String>,
    user: WireUser,
    #[serde(default)]
    labels: Vec<WireLabel>,
    state: String,
    pull_request: Option<IgnoredAny>,
    html_url: String,
}

impl From<WireIssue> for IssueRef {
    fn from(i: WireIssue) -> Self {
        IssueRef {
            number: IssueNumber(i.number),
            title: i.title,
            body: i.body,
            author: i.user.into(),
            labels: label_names(i.labels),
            state: i.state,
            is_pull_request: i.pull_request.is_some(),
            html_url: i.html_url,
        }
    }
}

#[derive(Deserialize)]
struct WireRepoName {
    full_name: String,
}

#[derive(Deserialize)]
struct WireBranch {
    #[serde(rename = "ref")]
    branch: String,
    sha: String,
    repo: Option<WireRepoName>,
}

impl From<WireBranch> for BranchRef {
    fn from(b: WireBranch) -> Self {
        BranchRef {
            branch: b.branch,
            sha: CommitSha(b.sha),
            repo: b.repo.map(|r| RepoName(r.full_name)),
        }
    }
}

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    title: String,
    body: Option<String>,
    user: WireUser,
    #[serde(default)]
    draft: bool,
    state: String,
    merged: Option<bool>,
    merged_at: Option<String>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    head: WireBranch,
    base: WireBranch,
    html_url: String,
}

impl From<WirePull> for PullRef {
    fn from(p: WirePull) -> Self {
        PullRef {
            number: IssueNumber(p.number),
            title: p.title,
            body: p.body,
            author: p.user.into(),
            draft: p.draft,
            state: p.state,
            merged: p.merged.unwrap_or(p.merged_at.is_some()),
            labels: label_names(p.labels),
            head: p.head.into(),
            base: p.base.into(),
            html_url: p.html_url,
        }
    }
}

#[derive(Deserialize)]
struct IssuesPayload {
    issue: WireIssue,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    label: Option<WireLabel>,
    assignee: Option<WireUser>,
    sender: WireUser,
}

impl IssuesPayload {
    fn into_event(self, action: IssueAction) -> IssueEvent {
        IssueEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            issue: self.issue.into(),
            label: self.label.map(|l| l.name),
            assignee: self.assignee.map(Into::into),
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    body: String,
    user: WireUser,
    html_url: String,
}

#[derive(Deserialize)]
struct IssueCommentPayload {
    issue: WireIssue,
    comment: WireComment,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl IssueCommentPayload {
    fn into_event(self, action: CommentAction) -> IssueCommentEvent {
        IssueCommentEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            issue: self.issue.into(),
            comment: CommentRef {
                id: self.comment.id,
                body: self.comment.body,
                author: self.comment.user.into(),
                html_url: self.comment.html_url,
            },
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct PullRequestPayload {
    pull_request: WirePull,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    label: Option<WireLabel>,
    before: Option<String>,
    after: Option<String>,
    sender: WireUser,
}

impl PullRequestPayload {
    fn into_event(self, action: PullRequestAction) -> PullRequestEvent {
        PullRequestEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            pull: self.pull_request.into(),
            label: self.label.map(|l| l.name),
            before: self.before.map(CommitSha),
            after: self.after.map(CommitSha),
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WireReview {
    id: u64,
    state: String,
    body: Option<String>,
    user: WireUser,
    commit_id: Option<String>,
}

#[derive(Deserialize)]
struct PullRequestReviewPayload {
    review: WireReview,
    pull_request: WirePull,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl PullRequestReviewPayload {
    fn into_event(self, action: ReviewAction) -> PullRequestReviewEvent {
        PullRequestReviewEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            pull: self.pull_request.into(),
            review: ReviewRef {
                id: self.review.id,
                state: self.review.state.to_lowercase(),
                body: self.review.body,
                author: self.review.user.into(),
                commit_id: self.review.commit_id.map(CommitSha),
            },
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WireReviewComment {
    id: u64,
    pull_request_review_id: Option<u64>,
    in_reply_to_id: Option<u64>,
    body: String,
    user: WireUser,
    path: String,
    line: Option<u64>,
    start_line: Option<u64>,
    side: Option<String>,
    commit_id: Option<String>,
    html_url: String,
}

#[derive(Deserialize)]
struct ReviewCommentPayload {
    comment: WireReviewComment,
    pull_request: WirePull,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl From<WireReviewComment> for ReviewCommentRef {
    fn from(c: WireReviewComment) -> Self {
        ReviewCommentRef {
            id: c.id,
            review_id: c.pull_request_review_id,
            in_reply_to: c.in_reply_to_id,
            body: c.body,
            author: c.user.into(),
            path: c.path,
            line: c.line,
            start_line: c.start_line,
            side: c.side,
            commit_id: c.commit_id.map(CommitSha),
            html_url: c.html_url,
        }
    }
}

impl ReviewCommentPayload {
    fn into_event(self, action: CommentAction) -> ReviewCommentEvent {
        ReviewCommentEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            pull: self.pull_request.into(),
            comment: self.comment.into(),
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WireThread {
    comments: Vec<WireReviewComment>,
}

/// `pull_request_review_thread`: GitHub sends the thread with its comments (review comment
/// objects) when someone resolves or unresolves it.
#[derive(Deserialize)]
struct ReviewThreadPayload {
    thread: WireThread,
    pull_request: WirePull,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl ReviewThreadPayload {
    fn into_event(self, action: ThreadAction) -> ReviewThreadEvent {
        ReviewThreadEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            action,
            pull: self.pull_request.into(),
            comments: self.thread.comments.into_iter().map(Into::into).collect(),
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WirePullNumber {
    number: u64,
}

fn pull_numbers(prs: Vec<WirePullNumber>) -> Vec<IssueNumber> {
    prs.into_iter().map(|p| IssueNumber(p.number)).collect()
}

#[derive(Deserialize)]
struct WireSuiteBranch {
    head_branch: Option<String>,
}

/// The object of a `check_run`, `check_suite` or `workflow_run` delivery: the three share the
/// fields Orion reads, under the event's own key.
#[derive(Deserialize)]
struct WireCheck {
    id: u64,
    name: Option<String>,
    head_sha: String,
    /// Suites and workflow runs carry the branch; a check run carries it in its suite.
    head_branch: Option<String>,
    check_suite: Option<WireSuiteBranch>,
    conclusion: Option<String>,
    #[serde(default)]
    pull_requests: Vec<WirePullNumber>,
}

#[derive(Deserialize)]
struct CheckPayload {
    #[serde(alias = "check_run", alias = "check_suite", alias = "workflow_run")]
    check: WireCheck,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl CheckPayload {
    fn into_event(self, kind: CheckKind) -> CheckEvent {
        let check = self.check;
        CheckEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            kind,
            id: check.id,
            name: check.name,
            head_sha: CommitSha(check.head_sha),
            head_branch: check
                .head_branch
                .or_else(|| check.check_suite.and_then(|s| s.head_branch)),
            conclusion: check.conclusion,
            pull_numbers: pull_numbers(check.pull_requests),
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    git_ref: String,
    before: String,
    after: String,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    forced: bool,
    repository: WireRepo,
    installation: Option<WireInstallation>,
    sender: WireUser,
}

impl PushPayload {
    fn into_event(self, branch: String) -> PushEvent {
        PushEvent {
            repo: self.repository.into(),
            installation: installation(self.installation),
            branch,
            before: CommitSha(self.before),
            after: CommitSha(self.after),
            created: self.created,
            deleted: self.deleted,
            forced: self.forced,
            sender: self.sender.into(),
        }
    }
}

#[derive(Deserialize)]
struct WireAccount {
    login: String,
}

#[derive(Deserialize)]
struct WireInstallationFull {
    id: u64,
    account: WireAccount,
}

#[derive(Deserialize)]
struct InstallationPayload {
    installation: WireInstallationFull,
    /// `installation.created` lists the repositories it was installed on.
    #[serde(default)]
    repositories: Vec<WireRepoName>,
    #[serde(default)]
    repositories_added: Vec<WireRepoName>,
    #[serde(default)]
    repositories_removed: Vec<WireRepoName>,
    sender: WireUser,
}

impl InstallationPayload {
    fn into_event(self, action: InstallationAction) -> InstallationEvent {
        let names = |v: Vec<WireRepoName>| {
            v.into_iter()
                .map(|r| RepoName(r.full_name))
                .collect::<Vec<_>>()
        };
        let mut added = names(self.repositories_added);
        if action == InstallationAction::Created {
            added.extend(names(self.repositories));
        }
        InstallationEvent {
            installation: InstallationId(self.installation.id),
            action,
            account: self.installation.account.login,
            repos_added: added,
            repos_removed: names(self.repositories_removed),
            sender: self.sender.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_unreadable_not_ignored() {
        assert!(parse("label", b"{not json").is_err());
        assert!(parse("issues", b"{\"action\":\"labeled\"} trailing").is_err());
        let err = parse("issues", br#"{"action":"labeled","issue":{}}"#).unwrap_err();
        assert!(err.0.contains("issue"), "{err}");
    }

    #[test]
    fn unknown_actions_and_events_are_ignored() {
        assert_eq!(
            parse("issues", br#"{"action":"pinned"}"#),
            Ok(Parsed::Ignored)
        );
        assert_eq!(
            parse("sponsorship", br#"{"action":"created"}"#),
            Ok(Parsed::Ignored)
        );
        assert_eq!(parse("ping", br#"{"zen":"x"}"#), Ok(Parsed::Ping));
    }
}
