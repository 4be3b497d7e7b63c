//! One repository's operations. Reads return octocrab's models; writes take Orion's own small
//! request types. Writes here are *plain*: safe ones retry, unsafe ones may fail as
//! [`ForgeError::Ambiguous`]. Anything a user would see twice if repeated (comments, PRs, check
//! runs, reviews) should go through [`super::Effects`] instead.

use base64::Engine;
use http::Method;
use octocrab::models::issues::{Comment, Issue};
use octocrab::models::pulls::{Comment as ReviewComment, PullRequest, Review};
use octocrab::models::repos::{Content, DiffEntry};
use octocrab::models::{Label, Repository};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::conditional::{ReadCache, ReadCost};
use super::error::ForgeError;
use super::transport::{Api, Call, DIFF};
use crate::event::{IssueNumber, RepoName};

/// The files where a repository tells agents how to work in it, read from the default branch
/// and given to the planner (in this order).
pub const INSTRUCTION_FILES: [&str; 4] = [
    ".github/orion.yml",
    "AGENTS.md",
    "CLAUDE.md",
    ".github/copilot-instructions.md",
];

/// A user's access to a repository, from `collaborators/{user}/permission`: what command
/// authorisation checks. Ordered, so `>= Write` reads as "may make Orion write".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    /// From GitHub's `role_name` (which knows triage and maintain) falling back to the legacy
    /// `permission` (admin / write / read / none).
    fn parse(role_name: Option<&str>, permission: &str) -> Self {
        match role_name.unwrap_or(permission) {
            "admin" => Self::Admin,
            "maintain" => Self::Maintain,
            "write" | "push" => Self::Write,
            "triage" => Self::Triage,
            "read" | "pull" => Self::Read,
            _ => match permission {
                // A custom role: trust only the legacy level it maps to.
                "admin" => Self::Admin,
                "write" => Self::Write,
                "read" => Self::Read,
                _ => Self::None,
            },
        }
    }
}

/// Where a reaction goes.
#[derive(Debug, Clone, Copy)]
pub enum ReactionTarget {
    Issue(IssueNumber),
    Comment(u64),
}

/// A pull request to open.
#[derive(Debug, Clone, Serialize)]
pub struct NewPullRequest {
    pub title: String,
    /// The branch with the changes (in this repository).
    pub head: String,
    pub base: String,
    pub body: String,
    pub draft: bool,
}

/// Changes to a pull request; `None` leaves a field alone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PullRequestUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A check run's state: what the Checks tab shows while Orion works.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Queued,
    InProgress,
    Completed,
}

/// A completed check run's verdict.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum CheckConclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    ActionRequired,
    Skipped,
}

/// The text of a check run: `title` and `summary` show in the list, `text` (markdown) on the
/// check's page, where Orion writes its progress.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckOutput {
    pub title: String,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A check run to create.
#[derive(Debug, Clone, Serialize)]
pub struct NewCheckRun {
    pub name: String,
    pub head_sha: String,
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<CheckConclusion>,
    /// Orion's idempotency key, so the run can be found again after a crash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_url: Option<String>,
    pub output: CheckOutput,
}

/// Progress on a check run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRunUpdate {
    pub status: CheckStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<CheckConclusion>,
    pub output: CheckOutput,
}

/// A review's verdict. There is no `Approve`: Orion never approves.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewEvent {
    Comment,
    RequestChanges,
}

/// Which version of the file a review comment's line numbers count in.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// The new file: added and context lines.
    Right,
    /// The old file: removed and context lines.
    Left,
}

/// An inline review comment on lines of the diff (`start_line..=line`, both on `side`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InlineComment {
    pub path: String,
    pub line: u32,
    pub side: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_side: Option<Side>,
    pub body: String,
}

/// A review to post in one go: one review per push, not a comment per finding.
#[derive(Debug, Clone, Serialize)]
pub struct NewReview {
    /// The commit reviewed, so GitHub anchors the comments to it even after later pushes.
    pub commit_id: String,
    pub body: String,
    pub event: ReviewEvent,
    pub comments: Vec<InlineComment>,
}

/// A check run as listed, with the fields octocrab's list model lacks.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunSummary {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub external_id: Option<String>,
    pub html_url: Option<String>,
    /// What the check said, which is what an agent fixing a failed check has to go on.
    #[serde(default)]
    pub output: CheckRunOutput,
    /// The App that ran the check, so Orion can tell its own runs from CI's.
    pub app: Option<CheckRunApp>,
}

/// A listed check run's output; GitHub sends `null` for the parts a check did not write.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckRunOutput {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
}

/// The App behind a check run.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRunApp {
    pub id: u64,
    pub slug: Option<String>,
}

impl CheckRunSummary {
    /// Whether the run finished with a verdict someone has to act on. A cancelled, neutral,
    /// skipped or stale run says nothing about the code, so it is no reason to change it.
    pub fn failed(&self) -> bool {
        self.status == "completed"
            && matches!(
                self.conclusion.as_deref(),
                Some("failure" | "timed_out" | "action_required")
            )
    }
}

/// One repository as one set of credentials sees it.
#[derive(Clone)]
pub struct Repo {
    api: Api,
    name: RepoName,
    /// `/repos/owner/name`, percent-encoded.
    root: String,
}

impl Repo {
    pub(crate) fn new(api: Api, name: RepoName) -> Result<Self, ForgeError> {
        let (owner, repo) = name
            .as_str()
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| ForgeError::Setup(format!("{name:?} is not owner/name")))?;
        let root = format!("/repos/{}/{}", encode(owner), encode(repo));
        Ok(Self { api, name, root })
    }

    pub fn name(&self) -> &RepoName {
        &self.name
    }

    fn what(&self, action: impl std::fmt::Display) -> String {
        format!("{action} in {}", self.name)
    }

    // ---- reads ------------------------------------------------------------------------------

    /// The repository: default branch, `clone_url` (what the git layer clones), visibility.
    pub async fn get(&self) -> Result<Repository, ForgeError> {
        self.api
            .json(&Call::get(
                self.root.clone(),
                self.what("reading the repository"),
            ))
            .await
    }

    pub async fn issue(&self, number: IssueNumber) -> Result<Issue, ForgeError> {
        let path = format!("{}/issues/{}", self.root, number.0);
        self.api
            .json(&Call::get(
                path,
                self.what(format!("reading issue {number}")),
            ))
            .await
    }

    /// Issues (not pull requests) opened by `creator`, open and closed, newest first.
    pub async fn issues_by(&self, creator: &str) -> Result<Vec<Issue>, ForgeError> {
        let path = format!("{}/issues?state=all&creator={}", self.root, encode(creator));
        let issues: Vec<Issue> = self
            .api
            .list(
                &path,
                &self.what(format!("listing issues opened by {creator}")),
            )
            .await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect())
    }

    /// Open issues (not pull requests) carrying `label`, most recently updated first; with
    /// `since` (RFC 3339), only those updated at or after it. Read conditionally through
    /// `cache`: an unchanged list costs no rate limit.
    pub async fn labelled_issues(
        &self,
        label: &str,
        since: Option<&str>,
        cache: &ReadCache,
    ) -> Result<(Vec<Issue>, ReadCost), ForgeError> {
        let mut path = format!(
            "{}/issues?state=open&labels={}&sort=updated&direction=desc",
            self.root,
            encode(label)
        );
        if let Some(since) = since {
            path.push_str(&format!("&since={}", encode(since)));
        }
        let (issues, cost): (Vec<Issue>, _) = self
            .api
            .list_pages(
                &path,
                &self.what(format!("listing open issues labelled {label}")),
                Some(cache),
            )
            .await?;
        let issues = issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .collect();
        Ok((issues, cost))
    }

    /// Who last added `label` to an issue (its `labeled` events, newest wins), if anyone did.
    pub async fn labelled_by(
        &self,
        number: IssueNumber,
        label: &str,
    ) -> Result<Option<crate::event::Actor>, ForgeError> {
        #[derive(Deserialize)]
        struct User {
            login: String,
            id: u64,
            #[serde(rename = "type", default)]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        #[derive(Deserialize)]
        struct Event {
            event: String,
            actor: Option<User>,
            label: Option<Named>,
        }
        let path = format!("{}/issues/{}/events", self.root, number.0);
        let events: Vec<Event> = self
            .api
            .list(&path, &self.what(format!("listing events of {number}")))
            .await?;
        Ok(events
            .into_iter()
            .rev()
            .find(|e| {
                e.event == "labeled"
                    && e.label
                        .as_ref()
                        .is_some_and(|l| l.name.eq_ignore_ascii_case(label))
            })
            .and_then(|e| e.actor)
            .map(|u| crate::event::Actor {
                is_bot: u.kind == "Bot" || u.login.ends_with("[bot]"),
                login: u.login,
                id: u.id,
            }))
    }

    /// Every comment on an issue or pull request's conversation, oldest first.
    pub async fn comments(&self, number: IssueNumber) -> Result<Vec<Comment>, ForgeError> {
        let path = format!("{}/issues/{}/comments", self.root, number.0);
        self.api
            .list(&path, &self.what(format!("listing comments of {number}")))
            .await
    }

    pub async fn labels(&self, number: IssueNumber) -> Result<Vec<Label>, ForgeError> {
        let path = format!("{}/issues/{}/labels", self.root, number.0);
        self.api
            .list(&path, &self.what(format!("listing labels of {number}")))
            .await
    }

    /// The repository's labels (what an issue may be labelled with without inventing one).
    pub async fn repo_labels(&self) -> Result<Vec<Label>, ForgeError> {
        let path = format!("{}/labels", self.root);
        self.api
            .list(&path, &self.what("listing the repository's labels"))
            .await
    }

    /// A file's text at `reference` (a branch, tag or sha; the default branch when `None`), or
    /// `None` when there is no such file.
    pub async fn file(
        &self,
        path: &str,
        reference: Option<&str>,
    ) -> Result<Option<String>, ForgeError> {
        let mut url = format!("{}/contents/{}", self.root, encode_path(path));
        if let Some(r) = reference {
            url.push_str("?ref=");
            url.push_str(&encode(r));
        }
        let what = self.what(format!("reading {path}"));
        let answer = match self.api.send(&Call::get(url, what.clone())).await {
            Ok(answer) => answer,
            Err(ForgeError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A directory answers with a list: not a file.
        if answer.body.first() == Some(&b'[') {
            return Ok(None);
        }
        let content: Content = super::transport::decode(&answer.body, &what)?;
        if content.r#type != "file" {
            return Ok(None);
        }
        let encoded: Vec<u8> = content
            .content
            .unwrap_or_default()
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| ForgeError::Decode {
                what: what.clone(),
                message: format!("file content is not base64: {e}"),
            })?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ForgeError::Decode {
                what,
                message: "the file is not UTF-8 text".into(),
            })
    }

    /// The repository's instructions for agents ([`INSTRUCTION_FILES`]) on the default branch:
    /// the ones that exist, with their text.
    pub async fn instructions(&self) -> Result<Vec<(String, String)>, ForgeError> {
        let mut found = Vec::new();
        for path in INSTRUCTION_FILES {
            if let Some(text) = self.file(path, None).await? {
                found.push((path.to_owned(), text));
            }
        }
        Ok(found)
    }

    pub async fn pull(&self, number: IssueNumber) -> Result<PullRequest, ForgeError> {
        let path = format!("{}/pulls/{}", self.root, number.0);
        self.api
            .json(&Call::get(
                path,
                self.what(format!("reading pull request {number}")),
            ))
            .await
    }

    /// The open pull requests, most recently updated first, read conditionally through `cache`.
    pub async fn open_pulls(
        &self,
        cache: &ReadCache,
    ) -> Result<(Vec<PullRequest>, ReadCost), ForgeError> {
        let path = format!("{}/pulls?state=open&sort=updated&direction=desc", self.root);
        self.api
            .list_pages(&path, &self.what("listing open pull requests"), Some(cache))
            .await
    }

    /// Pull requests whose head is `branch` of this repository (open and closed).
    pub async fn pulls_for_branch(&self, branch: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let owner = self.name.as_str().split('/').next().unwrap_or_default();
        let path = format!(
            "{}/pulls?state=all&head={}",
            self.root,
            encode(&format!("{owner}:{branch}"))
        );
        self.api
            .list(
                &path,
                &self.what(format!("finding pull requests for {branch}")),
            )
            .await
    }

    /// The files a pull request changes, with their patches (GitHub stops at 3,000 files).
    pub async fn pull_files(&self, number: IssueNumber) -> Result<Vec<DiffEntry>, ForgeError> {
        let path = format!("{}/pulls/{}/files", self.root, number.0);
        self.api
            .list(&path, &self.what(format!("listing files of {number}")))
            .await
    }

    /// The pull request's unified diff, as `git diff base...head` prints it.
    pub async fn pull_diff(&self, number: IssueNumber) -> Result<String, ForgeError> {
        let mut call = Call::get(
            format!("{}/pulls/{}", self.root, number.0),
            self.what(format!("reading the diff of {number}")),
        );
        call.accept = DIFF;
        let answer = self.api.send(&call).await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    pub async fn reviews(&self, number: IssueNumber) -> Result<Vec<Review>, ForgeError> {
        let path = format!("{}/pulls/{}/reviews", self.root, number.0);
        self.api
            .list(&path, &self.what(format!("listing reviews of {number}")))
            .await
    }

    /// Inline review comments on a pull request (all reviews, all threads).
    pub async fn review_comments(
        &self,
        number: IssueNumber,
    ) -> Result<Vec<ReviewComment>, ForgeError> {
        let path = format!("{}/pulls/{}/comments", self.root, number.0);
        self.api
            .list(
                &path,
                &self.what(format!("listing review comments of {number}")),
            )
            .await
    }

    /// What `user` may do here; who may command Orion is decided from this.
    pub async fn permission(&self, user: &str) -> Result<Permission, ForgeError> {
        #[derive(Deserialize)]
        struct Answer {
            permission: String,
            role_name: Option<String>,
        }
        let path = format!("{}/collaborators/{}/permission", self.root, encode(user));
        match self
            .api
            .json::<Answer>(&Call::get(
                path,
                self.what(format!("reading {user}'s permission")),
            ))
            .await
        {
            Ok(a) => Ok(Permission::parse(a.role_name.as_deref(), &a.permission)),
            // Not a collaborator (or not a user at all): no access.
            Err(ForgeError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    /// Every check run named `name` on commit `sha`, re-runs and superseded ones too (the
    /// effect journal looks among them for the run it created).
    pub async fn check_runs(
        &self,
        sha: &str,
        name: &str,
    ) -> Result<Vec<CheckRunSummary>, ForgeError> {
        let query = format!("check_name={}&filter=all", encode(name));
        Ok(self.list_check_runs(sha, &query, None).await?.0)
    }

    /// The latest run of every check on commit `sha`: what the pull request's checks show.
    /// With `cache`, read conditionally (the heartbeat asks on every tick).
    pub async fn latest_check_runs(
        &self,
        sha: &str,
        cache: Option<&ReadCache>,
    ) -> Result<(Vec<CheckRunSummary>, ReadCost), ForgeError> {
        self.list_check_runs(sha, "filter=latest", cache).await
    }

    /// Everything that judges commit `sha`: the latest check run of every check, and the latest
    /// commit status of every context (the older Statuses API some CI services still use), the
    /// statuses shown as completed check runs (`failure`/`error` fail, `pending` is in
    /// progress). With `cache`, read conditionally.
    pub async fn checks_at(
        &self,
        sha: &str,
        cache: Option<&ReadCache>,
    ) -> Result<(Vec<CheckRunSummary>, ReadCost), ForgeError> {
        #[derive(Deserialize)]
        struct Status {
            id: u64,
            state: String,
            context: String,
            description: Option<String>,
            target_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct Combined {
            statuses: Vec<Status>,
        }
        let (mut runs, mut cost) = self.latest_check_runs(sha, cache).await?;
        let path = format!("{}/commits/{}/status", self.root, encode(sha));
        let (statuses, read) = self
            .api
            .list_in(
                &path,
                &self.what(format!("reading the commit statuses of {sha}")),
                cache,
                |page: Combined| page.statuses,
            )
            .await?;
        cost += read;
        runs.extend(statuses.into_iter().map(|st| {
            let (status, conclusion) = match st.state.as_str() {
                "pending" => ("in_progress", None),
                "error" | "failure" => ("completed", Some("failure".to_owned())),
                _ => ("completed", Some("success".to_owned())),
            };
            CheckRunSummary {
                id: st.id,
                name: st.context,
                head_sha: sha.to_owned(),
                status: status.to_owned(),
                conclusion,
                external_id: None,
                html_url: st.target_url,
                output: CheckRunOutput {
                    title: None,
                    summary: st.description,
                    text: None,
                },
                app: None,
            }
        }));
        Ok((runs, cost))
    }

    async fn list_check_runs(
        &self,
        sha: &str,
        query: &str,
        cache: Option<&ReadCache>,
    ) -> Result<(Vec<CheckRunSummary>, ReadCost), ForgeError> {
        #[derive(Deserialize)]
        struct Page {
            check_runs: Vec<CheckRunSummary>,
        }
        let path = format!("{}/commits/{}/check-runs?{query}", self.root, encode(sha));
        self.api
            .list_in(
                &path,
                &self.what(format!("listing check runs on {sha}")),
                cache,
                |page: Page| page.check_runs,
            )
            .await
    }

    // ---- writes that are safe to repeat -----------------------------------------------------

    /// Adds labels (creating missing ones in the repository, as GitHub does); returns all labels.
    pub async fn add_labels(
        &self,
        number: IssueNumber,
        labels: &[&str],
    ) -> Result<Vec<Label>, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/issues/{}/labels", self.root, number.0),
            json!({ "labels": labels }),
            true,
            self.what(format!("labelling {number} {labels:?}")),
        );
        self.api.json(&call).await
    }

    /// Removes a label; a label that is not there is already removed.
    pub async fn remove_label(&self, number: IssueNumber, label: &str) -> Result<(), ForgeError> {
        let mut call = Call::get(
            format!("{}/issues/{}/labels/{}", self.root, number.0, encode(label)),
            self.what(format!("removing label {label:?} from {number}")),
        );
        call.method = Method::DELETE;
        match self.api.send(&call).await {
            Ok(_) | Err(ForgeError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reacts (`eyes`, `+1`, `rocket`…); reacting twice leaves one reaction, as on GitHub.
    pub async fn react(&self, target: ReactionTarget, content: &str) -> Result<(), ForgeError> {
        let path = match target {
            ReactionTarget::Issue(n) => format!("{}/issues/{}/reactions", self.root, n.0),
            ReactionTarget::Comment(id) => {
                format!("{}/issues/comments/{id}/reactions", self.root)
            }
        };
        let call = Call::write(
            Method::POST,
            path,
            json!({ "content": content }),
            true,
            self.what(format!("reacting {content} on {target:?}")),
        );
        self.api.send(&call).await.map(drop)
    }

    /// Replaces a comment's text (the sticky status comment is edited, never re-posted).
    pub async fn edit_comment(&self, id: u64, body: &str) -> Result<Comment, ForgeError> {
        let call = Call::write(
            Method::PATCH,
            format!("{}/issues/comments/{id}", self.root),
            json!({ "body": body }),
            true,
            self.what(format!("editing comment {id}")),
        );
        self.api.json(&call).await
    }

    /// Replaces an issue's body (the pinned report is edited, never re-posted).
    pub async fn edit_issue_body(
        &self,
        number: IssueNumber,
        body: &str,
    ) -> Result<Issue, ForgeError> {
        let call = Call::write(
            Method::PATCH,
            format!("{}/issues/{}", self.root, number.0),
            json!({ "body": body }),
            true,
            self.what(format!("editing issue {number}")),
        );
        self.api.json(&call).await
    }

    /// Pins the issue to the repository's Issues page (GitHub shows up to three), through the
    /// GraphQL `pinIssue` mutation: REST has no endpoint for it. Pinning twice is harmless.
    pub async fn pin_issue(&self, number: IssueNumber) -> Result<(), ForgeError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            errors: Vec<GraphQlError>,
        }
        #[derive(Deserialize)]
        struct GraphQlError {
            message: String,
        }
        let node_id = self.issue(number).await?.node_id;
        let what = self.what(format!("pinning issue {number}"));
        // GraphQL lives at `{api root}/graphql` on github.com (octocrab's `graphql` posts there too).
        let call = Call::write(
            Method::POST,
            "/graphql",
            json!({
                "query": "mutation PinIssue($issueId: ID!) { pinIssue(input: {issueId: $issueId}) { issue { number isPinned } } }",
                "variables": { "issueId": node_id },
            }),
            true,
            what.clone(),
        );
        // GraphQL reports refusals as `errors` in a 200.
        let answer: Answer = self.api.json(&call).await?;
        if answer.errors.is_empty() {
            return Ok(());
        }
        Err(ForgeError::Rejected {
            what,
            status: 200,
            message: answer
                .errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join("; "),
        })
    }

    pub async fn update_pull(
        &self,
        number: IssueNumber,
        update: &PullRequestUpdate,
    ) -> Result<PullRequest, ForgeError> {
        let call = Call::write(
            Method::PATCH,
            format!("{}/pulls/{}", self.root, number.0),
            to_json(update),
            true,
            self.what(format!("updating pull request {number}")),
        );
        self.api.json(&call).await
    }

    pub async fn update_check_run(
        &self,
        id: u64,
        update: &CheckRunUpdate,
    ) -> Result<CheckRunSummary, ForgeError> {
        let call = Call::write(
            Method::PATCH,
            format!("{}/check-runs/{id}", self.root),
            to_json(update),
            true,
            self.what(format!("updating check run {id}")),
        );
        self.api.json(&call).await
    }

    // ---- writes that must not be repeated blindly (see Effects) -----------------------------

    pub(crate) async fn create_comment(
        &self,
        number: IssueNumber,
        body: &str,
    ) -> Result<Comment, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/issues/{}/comments", self.root, number.0),
            json!({ "body": body }),
            false,
            self.what(format!("commenting on {number}")),
        );
        self.api.json(&call).await
    }

    pub(crate) async fn create_issue(&self, title: &str, body: &str) -> Result<Issue, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/issues", self.root),
            json!({ "title": title, "body": body }),
            false,
            self.what(format!("opening issue {title:?}")),
        );
        self.api.json(&call).await
    }

    pub(crate) async fn create_pull(
        &self,
        pull: &NewPullRequest,
    ) -> Result<PullRequest, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/pulls", self.root),
            to_json(pull),
            false,
            self.what(format!("opening a pull request from {}", pull.head)),
        );
        self.api.json(&call).await
    }

    pub(crate) async fn create_check_run(
        &self,
        run: &NewCheckRun,
    ) -> Result<CheckRunSummary, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/check-runs", self.root),
            to_json(run),
            false,
            self.what(format!("creating check run {:?}", run.name)),
        );
        self.api.json(&call).await
    }

    pub(crate) async fn create_review(
        &self,
        number: IssueNumber,
        review: &NewReview,
    ) -> Result<Review, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!("{}/pulls/{}/reviews", self.root, number.0),
            to_json(review),
            false,
            self.what(format!("reviewing {number}")),
        );
        self.api.json(&call).await
    }

    pub(crate) async fn reply_to_review_comment(
        &self,
        number: IssueNumber,
        comment_id: u64,
        body: &str,
    ) -> Result<ReviewComment, ForgeError> {
        let call = Call::write(
            Method::POST,
            format!(
                "{}/pulls/{}/comments/{comment_id}/replies",
                self.root, number.0
            ),
            json!({ "body": body }),
            false,
            self.what(format!("replying to review comment {comment_id}")),
        );
        self.api.json(&call).await
    }
}

fn to_json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("request types always serialize")
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a file path, keeping its slashes.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_role_names_first() {
        assert_eq!(
            Permission::parse(Some("maintain"), "write"),
            Permission::Maintain
        );
        assert_eq!(
            Permission::parse(Some("triage"), "read"),
            Permission::Triage
        );
        assert_eq!(Permission::parse(None, "write"), Permission::Write);
        assert_eq!(
            Permission::parse(Some("security-reviewer"), "read"),
            Permission::Read
        );
        assert_eq!(Permission::parse(Some("custom"), "none"), Permission::None);
        assert!(Permission::Maintain >= Permission::Write);
        assert!(Permission::Triage < Permission::Write);
    }

    #[test]
    fn paths_and_values_are_encoded() {
        assert_eq!(encode("good first issue"), "good%20first%20issue");
        assert_eq!(encode("orion:blocked"), "orion%3Ablocked");
        assert_eq!(encode_path(".github/orion.yml"), ".github/orion.yml");
        assert_eq!(encode_path("docs/a b#.md"), "docs/a%20b%23.md");
    }

    #[test]
    fn only_verdicts_to_act_on_make_a_check_failed() {
        let run = |status: &str, conclusion: Option<&str>| -> CheckRunSummary {
            serde_json::from_value(json!({
                "id": 1, "name": "ci", "head_sha": "abc", "status": status,
                "conclusion": conclusion, "external_id": "", "html_url": null,
                "output": { "title": null, "summary": null, "text": null },
                "app": { "id": 15368, "slug": "github-actions" },
            }))
            .unwrap()
        };
        for failed in ["failure", "timed_out", "action_required"] {
            assert!(run("completed", Some(failed)).failed(), "{failed}");
        }
        for fine in ["success", "neutral", "cancelled", "skipped", "stale"] {
            assert!(!run("completed", Some(fine)).failed(), "{fine}");
        }
        assert!(!run("in_progress", None).failed());
        let listed = run("completed", Some("failure"));
        assert_eq!(listed.app.unwrap().slug.as_deref(), Some("github-actions"));
        assert!(listed.output.title.is_none());
    }

    #[test]
    fn requests_serialize_like_githubs_api() {
        let review = NewReview {
            commit_id: "abc".into(),
            body: "b".into(),
            event: ReviewEvent::RequestChanges,
            comments: vec![InlineComment {
                path: "src/lib.rs".into(),
                line: 12,
                side: Side::Right,
                start_line: Some(10),
                start_side: Some(Side::Right),
                body: "```suggestion\nlet x = 1;\n```".into(),
            }],
        };
        let v = to_json(&review);
        assert_eq!(v["event"], "REQUEST_CHANGES");
        assert_eq!(v["comments"][0]["side"], "RIGHT");
        assert_eq!(v["comments"][0]["start_line"], 10);
        let update = to_json(&CheckRunUpdate {
            status: CheckStatus::Completed,
            conclusion: Some(CheckConclusion::ActionRequired),
            output: CheckOutput {
                title: "t".into(),
                summary: "s".into(),
                text: None,
            },
        });
        assert_eq!(update["status"], "completed");
        assert_eq!(update["conclusion"], "action_required");
        assert!(update["output"].get("text").is_none());
    }
}
