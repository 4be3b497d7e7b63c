//! Orion's own event types.
//!
//! Only the webhook edge (`crate::webhook`) knows GitHub's and Linear's payload shapes. It turns each
//! delivery into an [`Event`], which is what gets stored in the job queue and what every later stage
//! (rules, triage, review, heartbeat) matches on. Keeping the stored form to our own types means a
//! payload change upstream breaks one parser at the edge, never a job already sitting in the queue.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a delivery came from; part of the dedupe key because GitHub and Linear ids never collide
/// by contract but nothing promises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Github,
    Linear,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Github => "github",
            Source::Linear => "linear",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// The id the sender gives a delivery (`X-GitHub-Delivery`, `Linear-Delivery`); redeliveries
    /// reuse it, which is what makes deduplication possible.
    DeliveryId
);
string_id!(
    /// `owner/name`, as GitHub's `full_name`.
    RepoName
);
string_id!(
    /// A git object id in hex.
    CommitSha
);

/// An issue or pull request number within a repository (GitHub shares one sequence for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IssueNumber(pub u64);

impl fmt::Display for IssueNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A GitHub App installation: the unit that tokens, budgets and bring-your-own-key are scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstallationId(pub u64);

/// One received delivery, in Orion's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub source: Source,
    pub delivery: DeliveryId,
    /// When the edge received it (Unix ms); lets later stages reason about ordering and staleness.
    pub received_at_ms: i64,
    pub kind: EventKind,
}

impl Event {
    /// The repository the event concerns, when there is one (Linear events map to a repository
    /// only later, through configuration).
    pub fn repo(&self) -> Option<&RepoName> {
        match &self.kind {
            EventKind::Issue(e) => Some(&e.repo.name),
            EventKind::IssueComment(e) => Some(&e.repo.name),
            EventKind::PullRequest(e) => Some(&e.repo.name),
            EventKind::PullRequestReview(e) => Some(&e.repo.name),
            EventKind::PullRequestReviewComment(e) => Some(&e.repo.name),
            EventKind::ReviewThread(e) => Some(&e.repo.name),
            EventKind::Check(e) => Some(&e.repo.name),
            EventKind::Push(e) => Some(&e.repo.name),
            EventKind::Installation(_)
            | EventKind::LinearIssue(_)
            | EventKind::LinearComment(_) => None,
        }
    }

    /// A short name for logs, metrics and `orion status` (`issues.labeled`, `linear.Issue.update`).
    pub fn name(&self) -> String {
        match &self.kind {
            EventKind::Issue(e) => format!("issues.{}", e.action.as_str()),
            EventKind::IssueComment(e) => format!("issue_comment.{}", e.action.as_str()),
            EventKind::PullRequest(e) => format!("pull_request.{}", e.action.as_str()),
            EventKind::PullRequestReview(e) => format!("pull_request_review.{}", e.action.as_str()),
            EventKind::PullRequestReviewComment(e) => {
                format!("pull_request_review_comment.{}", e.action.as_str())
            }
            EventKind::ReviewThread(e) => {
                format!("pull_request_review_thread.{}", e.action.as_str())
            }
            EventKind::Check(e) => format!("{}.completed", e.kind.as_str()),
            EventKind::Push(_) => "push".to_owned(),
            EventKind::Installation(e) => format!("installation.{}", e.action.as_str()),
            EventKind::LinearIssue(e) => format!("linear.Issue.{}", e.action.as_str()),
            EventKind::LinearComment(e) => format!("linear.Comment.{}", e.action.as_str()),
        }
    }
}

/// Every kind of event Orion acts on. Anything else is acknowledged at the edge and counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Issue(IssueEvent),
    IssueComment(IssueCommentEvent),
    PullRequest(PullRequestEvent),
    PullRequestReview(PullRequestReviewEvent),
    PullRequestReviewComment(ReviewCommentEvent),
    ReviewThread(ReviewThreadEvent),
    Check(CheckEvent),
    Push(PushEvent),
    Installation(InstallationEvent),
    LinearIssue(LinearIssueEvent),
    LinearComment(LinearCommentEvent),
}

/// A repository as an event names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoRef {
    pub name: RepoName,
    pub id: u64,
    /// What the git layer clones from: as GitHub reports it, so GHES and test remotes work unchanged.
    pub clone_url: Option<String>,
    pub default_branch: Option<String>,
    pub private: bool,
}

/// A GitHub user or bot. `is_bot` drives own-event loop prevention and the "ignore other bots" rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub login: String,
    pub id: u64,
    pub is_bot: bool,
}

impl Actor {
    /// Whether Orion leaves what this actor did alone: its own doing (`me` is Orion's login),
    /// or another bot's unless `bots` are allowed.
    pub fn is_ignored(&self, me: &str, bots: bool) -> bool {
        self.login == me || (self.is_bot && !bots)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    pub number: IssueNumber,
    pub title: String,
    pub body: Option<String>,
    pub author: Actor,
    pub labels: Vec<String>,
    pub state: String,
    /// GitHub sends `issue_comment` for PR conversation comments too; this tells them apart.
    pub is_pull_request: bool,
    pub html_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchRef {
    /// Branch name without `refs/heads/`.
    pub branch: String,
    pub sha: CommitSha,
    /// `owner/name` of the repository holding the branch; differs from the base for forks.
    pub repo: Option<RepoName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRef {
    pub number: IssueNumber,
    pub title: String,
    pub body: Option<String>,
    pub author: Actor,
    pub draft: bool,
    pub state: String,
    pub merged: bool,
    pub labels: Vec<String>,
    pub head: BranchRef,
    pub base: BranchRef,
    pub html_url: String,
}

macro_rules! action_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The action as the sender spells it; `None` for actions Orion does not act on.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

action_enum!(
    /// The `issues` actions that can start, steer or cancel work.
    IssueAction {
        Opened = "opened",
        Edited = "edited",
        Labeled = "labeled",
        Unlabeled = "unlabeled",
        Assigned = "assigned",
        Unassigned = "unassigned",
        Closed = "closed",
        Reopened = "reopened",
        Deleted = "deleted",
    }
);

action_enum!(
    /// Comment actions: commands arrive as created (or edited) comments; deletions matter for the
    /// review memory of dismissed findings.
    CommentAction {
        Created = "created",
        Edited = "edited",
        Deleted = "deleted",
    }
);

action_enum!(
    /// The `pull_request` actions that trigger reviews, cleanups and the fix loop.
    PullRequestAction {
        Opened = "opened",
        Reopened = "reopened",
        ReadyForReview = "ready_for_review",
        ConvertedToDraft = "converted_to_draft",
        Synchronize = "synchronize",
        Edited = "edited",
        Closed = "closed",
        Labeled = "labeled",
        Unlabeled = "unlabeled",
    }
);

action_enum!(
    ReviewAction {
        Submitted = "submitted",
        Edited = "edited",
        Dismissed = "dismissed",
    }
);

action_enum!(
    /// A review thread resolved or reopened by someone: the review memory of settled findings.
    ThreadAction {
        Resolved = "resolved",
        Unresolved = "unresolved",
    }
);

action_enum!(
    /// Installation lifecycle, including `installation_repositories` changes.
    InstallationAction {
        Created = "created",
        Deleted = "deleted",
        Suspend = "suspend",
        Unsuspend = "unsuspend",
        NewPermissionsAccepted = "new_permissions_accepted",
        ReposAdded = "added",
        ReposRemoved = "removed",
    }
);

action_enum!(
    /// Linear's data-change actions.
    LinearAction {
        Create = "create",
        Update = "update",
        Remove = "remove",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: IssueAction,
    pub issue: IssueRef,
    /// The label added or removed, for `labeled` / `unlabeled`.
    pub label: Option<String>,
    /// The user assigned or unassigned, for `assigned` / `unassigned`.
    pub assignee: Option<Actor>,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub id: u64,
    pub body: String,
    pub author: Actor,
    pub html_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueCommentEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: CommentAction,
    pub issue: IssueRef,
    pub comment: CommentRef,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: PullRequestAction,
    pub pull: PullRef,
    pub label: Option<String>,
    /// For `synchronize`: the head before and after the push, so review can be incremental.
    pub before: Option<CommitSha>,
    pub after: Option<CommitSha>,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRef {
    pub id: u64,
    /// `approved`, `changes_requested`, `commented`, `dismissed` (as GitHub spells it, lower-cased).
    pub state: String,
    pub body: Option<String>,
    pub author: Actor,
    pub commit_id: Option<CommitSha>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestReviewEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: ReviewAction,
    pub pull: PullRef,
    pub review: ReviewRef,
    pub sender: Actor,
}

/// An inline review comment, with where it sits in the diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCommentRef {
    pub id: u64,
    pub review_id: Option<u64>,
    pub in_reply_to: Option<u64>,
    pub body: String,
    pub author: Actor,
    pub path: String,
    pub line: Option<u64>,
    pub start_line: Option<u64>,
    pub side: Option<String>,
    pub commit_id: Option<CommitSha>,
    pub html_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCommentEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: CommentAction,
    pub pull: PullRef,
    pub comment: ReviewCommentRef,
    pub sender: Actor,
}

/// A review thread resolved or unresolved (`pull_request_review_thread`): which comments
/// the thread holds, so the finding it started can be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewThreadEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub action: ThreadAction,
    pub pull: PullRef,
    /// The thread's comments, first (the one that opened it) first.
    pub comments: Vec<ReviewCommentRef>,
    pub sender: Actor,
}

/// Which CI signal a [`CheckEvent`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    CheckRun,
    CheckSuite,
    WorkflowRun,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::CheckRun => "check_run",
            CheckKind::CheckSuite => "check_suite",
            CheckKind::WorkflowRun => "workflow_run",
        }
    }
}

/// A completed check run, check suite or workflow run: the signal for "Orion PR with failing checks".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub kind: CheckKind,
    pub id: u64,
    pub name: Option<String>,
    pub head_sha: CommitSha,
    pub head_branch: Option<String>,
    /// `success`, `failure`, `cancelled`, `timed_out`, … as GitHub reports it.
    pub conclusion: Option<String>,
    pub pull_numbers: Vec<IssueNumber>,
    pub sender: Actor,
}

/// A push to a branch (tag pushes are not acted on): keeps mirrors fresh and tells Orion when a
/// base branch moved under its task branches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushEvent {
    pub repo: RepoRef,
    pub installation: Option<InstallationId>,
    pub branch: String,
    pub before: CommitSha,
    pub after: CommitSha,
    pub created: bool,
    pub deleted: bool,
    pub forced: bool,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationEvent {
    pub installation: InstallationId,
    pub action: InstallationAction,
    /// The user or organisation the App is installed on.
    pub account: String,
    pub repos_added: Vec<RepoName>,
    pub repos_removed: Vec<RepoName>,
    pub sender: Actor,
}

/// Who did something in Linear (user, OAuth app, integration); absent in older deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearActor {
    pub id: String,
    pub name: Option<String>,
    /// `user`, `OauthClient`, `Integration`, … as Linear sends it.
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearIssueEvent {
    pub action: LinearAction,
    pub organization_id: Option<String>,
    pub id: String,
    /// `ENG-123`; missing in deliveries older than Linear's identifier field.
    pub identifier: Option<String>,
    pub number: Option<u64>,
    pub title: String,
    pub description: Option<String>,
    pub team_id: Option<String>,
    pub team_key: Option<String>,
    pub state_name: Option<String>,
    pub state_type: Option<String>,
    pub label_ids: Vec<String>,
    /// Label names, when the delivery carries the `labels` objects (it does not always).
    pub label_names: Vec<String>,
    pub assignee_id: Option<String>,
    pub delegate_id: Option<String>,
    pub branch_name: Option<String>,
    /// Linear's `updatedAt`: the version stamp that keeps out-of-order deliveries from winning.
    pub updated_at: String,
    /// Names of the fields an `update` changed (keys of `updatedFrom`).
    pub changed: Vec<String>,
    /// What an `update` changed them from, for the fields a trigger depends on: the label ids
    /// before, and the assignee and delegate before (`None`: there was none, or unchanged).
    #[serde(default)]
    pub previous_label_ids: Vec<String>,
    #[serde(default)]
    pub previous_assignee_id: Option<String>,
    #[serde(default)]
    pub previous_delegate_id: Option<String>,
    pub url: Option<String>,
    pub actor: Option<LinearActor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearCommentEvent {
    pub action: LinearAction,
    pub organization_id: Option<String>,
    pub id: String,
    pub body: String,
    pub issue_id: Option<String>,
    pub issue_identifier: Option<String>,
    pub user_id: Option<String>,
    pub updated_at: String,
    pub url: Option<String>,
    pub actor: Option<LinearActor>,
}
