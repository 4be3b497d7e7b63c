//! The Linear client and the typed operations Orion performs on issues.

use std::fmt;

use serde::Deserialize;
use serde_json::json;

use super::documents as doc;
use super::error::LinearError;
use super::transport::{Call, Transport};
use crate::config::{LinearConfig, Secret};

/// Comments read per page; Linear's connections default to 50 and every page costs complexity.
const COMMENTS_PAGE: u32 = 100;
/// Pages of comments read at most: a status comment on an issue with more than 5,000 comments
/// would not be found, and that is an acceptable limit for one ticket.
const MAX_COMMENT_PAGES: usize = 50;
/// Issues read per page by the heartbeat's sweep, and pages read at most: 2,500 labelled
/// issues changed since the last sweep is far more than a team hands to Orion between two.
const ISSUES_PAGE: u32 = 50;
const MAX_ISSUE_PAGES: usize = 50;
/// A connection's paging, as every Linear list query returns it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}
/// The state name Orion moves an issue to when its pull request is up for review.
const IN_REVIEW: &str = "In Review";
/// The state name Orion prefers among `started` states when work begins.
const IN_PROGRESS: &str = "In Progress";

/// How Orion authenticates to Linear. A personal API key is sent as the `Authorization` header
/// value itself; an OAuth access token as `Bearer <token>` (Linear's documented forms).
#[derive(Clone)]
pub enum LinearAuth {
    ApiKey(Secret),
    OAuth(Secret),
}

impl fmt::Debug for LinearAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("LinearApiKey(<redacted>)"),
            Self::OAuth(_) => f.write_str("LinearOAuthToken(<redacted>)"),
        }
    }
}

impl LinearAuth {
    /// Reads `ORION_LINEAR_API_KEY`'s value: `Bearer <token>` or a `lin_oauth_` token is an OAuth
    /// access token, anything else a personal API key (`lin_api_…`).
    pub fn from_secret(secret: &Secret) -> Self {
        let value = secret.expose().trim();
        if let Some(token) = value.strip_prefix("Bearer ") {
            Self::OAuth(Secret::new(token.trim()))
        } else if value.starts_with("lin_oauth_") {
            Self::OAuth(Secret::new(value))
        } else {
            Self::ApiKey(Secret::new(value))
        }
    }

    pub(crate) fn header_value(&self) -> String {
        match self {
            Self::ApiKey(key) => key.expose().to_owned(),
            Self::OAuth(token) => format!("Bearer {}", token.expose()),
        }
    }
}

/// A Linear user (a person, or the app user an OAuth app acts as).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub display_name: String,
}

/// A workflow state of a team. `kind` is Linear's `type`: triage, backlog, unstarted, started,
/// completed or canceled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkflowState {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Order on the team's board; among several `started` states the first is where work begins.
    pub position: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TeamRef {
    pub id: String,
    /// The identifier prefix (`ENG` in `ENG-123`).
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Label {
    pub id: String,
    pub name: String,
}

/// An issue as Orion reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: String,
    /// `ENG-123`: what people write and what Linear's webhooks show.
    pub identifier: String,
    pub title: String,
    pub description: Option<String>,
    pub url: String,
    /// The git branch name Linear suggests (and links pull requests by).
    pub branch_name: String,
    pub updated_at: String,
    pub state: WorkflowState,
    pub team: TeamRef,
    pub project: Option<ProjectRef>,
    #[serde(deserialize_with = "nodes")]
    pub labels: Vec<Label>,
    pub assignee: Option<User>,
    /// The agent the issue is delegated to (Linear's agent delegation), if any.
    pub delegate: Option<User>,
}

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    pub body: String,
    pub url: String,
    pub created_at: String,
    pub updated_at: String,
    /// `None` for comments made by integrations that are not users.
    pub user: Option<User>,
}

/// Where [`Linear::move_issue`] puts an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateTarget {
    /// Work has begun: the team's "In Progress", or else its first `started` state that is not
    /// "In Review".
    Started,
    /// A pull request awaits review: the state named "In Review" (any type), or else a `started`
    /// state whose name mentions review. Teams without one get [`LinearError::NotFound`] rather
    /// than a guess, because moving a ticket to the wrong column misleads people.
    InReview,
}

fn nodes<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    struct Connection<T> {
        nodes: Vec<T>,
    }
    Ok(Connection::deserialize(de)?.nodes)
}

/// Linear through one key. Cheap to clone.
#[derive(Clone)]
pub struct Linear {
    transport: Transport,
    viewer: std::sync::Arc<tokio::sync::OnceCell<User>>,
}

impl fmt::Debug for Linear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Linear")
            .field("api_url", &self.transport.config().api_url)
            .finish_non_exhaustive()
    }
}

impl Linear {
    /// A client for `config.api_url` (already overridden by `ORION_LINEAR_API_URL` when the
    /// config was loaded).
    pub fn new(config: &LinearConfig, auth: LinearAuth) -> Result<Self, LinearError> {
        Ok(Self {
            transport: Transport::new(config, auth)?,
            viewer: Default::default(),
        })
    }

    /// The client for the configured key, or `None` when `ORION_LINEAR_API_KEY` is not set
    /// (Orion then only receives Linear webhooks).
    pub fn from_secrets(
        config: &LinearConfig,
        secrets: &crate::config::Secrets,
    ) -> Result<Option<Self>, LinearError> {
        secrets
            .linear_api_key
            .as_ref()
            .map(|key| Self::new(config, LinearAuth::from_secret(key)))
            .transpose()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Who Orion is in Linear, read once per client: events by this user are Orion's own and
    /// must not trigger it again.
    pub async fn viewer(&self) -> Result<&User, LinearError> {
        self.viewer
            .get_or_try_init(|| async {
                #[derive(Deserialize)]
                struct Data {
                    viewer: User,
                }
                let call = Call {
                    operation: "Viewer",
                    document: doc::VIEWER,
                    variables: json!({}),
                    idempotent: true,
                };
                Ok(self.transport.run::<Data>(&call).await?.viewer)
            })
            .await
    }

    /// The issue with this UUID or identifier (`ENG-123`).
    pub async fn issue(&self, id_or_identifier: &str) -> Result<Issue, LinearError> {
        #[derive(Deserialize)]
        struct Data {
            issue: Option<Issue>,
        }
        let call = Call {
            operation: "IssueRead",
            document: doc::ISSUE_READ,
            variables: json!({ "id": id_or_identifier }),
            idempotent: true,
        };
        self.transport
            .run::<Data>(&call)
            .await?
            .issue
            .ok_or_else(|| LinearError::NotFound {
                operation: call.operation.to_owned(),
                what: format!("issue {id_or_identifier}"),
            })
    }

    /// Every comment on the issue, oldest first.
    pub async fn comments(&self, issue_id: &str) -> Result<Vec<Comment>, LinearError> {
        #[derive(Deserialize)]
        struct Data {
            issue: Option<IssueComments>,
        }
        #[derive(Deserialize)]
        struct IssueComments {
            comments: Page,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            nodes: Vec<Comment>,
            page_info: PageInfo,
        }
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_COMMENT_PAGES {
            let call = Call {
                operation: "IssueComments",
                document: doc::ISSUE_COMMENTS,
                variables: json!({ "id": issue_id, "first": COMMENTS_PAGE, "after": after }),
                idempotent: true,
            };
            let page = self
                .transport
                .run::<Data>(&call)
                .await?
                .issue
                .ok_or_else(|| LinearError::NotFound {
                    operation: call.operation.to_owned(),
                    what: format!("issue {issue_id}"),
                })?
                .comments;
            all.extend(page.nodes);
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => break,
            }
        }
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(all)
    }

    /// Open issues (not completed or canceled) with the label `label` (any case) updated after
    /// `since` (RFC 3339), oldest change first, at most `MAX_ISSUE_PAGES` pages.
    pub async fn labelled_issues(
        &self,
        label: &str,
        since: &str,
    ) -> Result<Vec<Issue>, LinearError> {
        #[derive(Deserialize)]
        struct Data {
            issues: Page,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            nodes: Vec<Issue>,
            page_info: PageInfo,
        }
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_ISSUE_PAGES {
            let call = Call {
                operation: "IssuesLabelled",
                document: doc::ISSUES_LABELLED,
                variables: json!({ "label": label, "since": since, "first": ISSUES_PAGE, "after": after }),
                idempotent: true,
            };
            let page = self.transport.run::<Data>(&call).await?.issues;
            all.extend(page.nodes);
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(cursor)) => after = Some(cursor),
                _ => break,
            }
        }
        all.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
        Ok(all)
    }

    /// Posts a comment. Not idempotent: a timeout leaves [`LinearError::Ambiguous`]; use
    /// [`Linear::sticky_comment`] for comments that must exist once.
    pub async fn create_comment(&self, issue_id: &str, body: &str) -> Result<Comment, LinearError> {
        let call = Call {
            operation: "CommentCreate",
            document: doc::COMMENT_CREATE,
            variables: json!({ "input": { "issueId": issue_id, "body": body } }),
            idempotent: false,
        };
        self.comment_payload(&call, "commentCreate").await
    }

    /// Replaces a comment's body (idempotent: the same body twice is one edit).
    pub async fn update_comment(
        &self,
        comment_id: &str,
        body: &str,
    ) -> Result<Comment, LinearError> {
        let call = Call {
            operation: "CommentUpdate",
            document: doc::COMMENT_UPDATE,
            variables: json!({ "id": comment_id, "input": { "body": body } }),
            idempotent: true,
        };
        self.comment_payload(&call, "commentUpdate").await
    }

    async fn comment_payload(&self, call: &Call, field: &str) -> Result<Comment, LinearError> {
        #[derive(Deserialize)]
        struct Payload {
            success: bool,
            comment: Option<Comment>,
        }
        let mut data: serde_json::Map<String, serde_json::Value> = self.transport.run(call).await?;
        let payload = data.remove(field).unwrap_or_default();
        let payload: Payload =
            serde_path_to_error::deserialize(payload).map_err(|e| LinearError::Decode {
                operation: call.operation.to_owned(),
                message: format!("at {field}.{}: {}", e.path(), e.inner()),
            })?;
        match payload.comment {
            Some(comment) if payload.success => Ok(comment),
            _ => Err(LinearError::GraphQl {
                operation: call.operation.to_owned(),
                code: None,
                message: format!("{field} answered success: {}", payload.success),
            }),
        }
    }

    /// The team's workflow states, in board order.
    pub async fn workflow_states(&self, team_id: &str) -> Result<Vec<WorkflowState>, LinearError> {
        #[derive(Deserialize)]
        struct Data {
            team: Option<Team>,
        }
        #[derive(Deserialize)]
        struct Team {
            #[serde(deserialize_with = "nodes")]
            states: Vec<WorkflowState>,
        }
        let call = Call {
            operation: "TeamStates",
            document: doc::TEAM_STATES,
            variables: json!({ "id": team_id }),
            idempotent: true,
        };
        let mut states = self
            .transport
            .run::<Data>(&call)
            .await?
            .team
            .ok_or_else(|| LinearError::NotFound {
                operation: call.operation.to_owned(),
                what: format!("team {team_id}"),
            })?
            .states;
        states.sort_by(|a, b| a.position.total_cmp(&b.position));
        Ok(states)
    }

    /// Moves the issue to the team's state for `target` and returns that state. An issue already
    /// there is left alone (no write, no notification).
    pub async fn move_issue(
        &self,
        issue: &Issue,
        target: StateTarget,
    ) -> Result<WorkflowState, LinearError> {
        let states = self.workflow_states(&issue.team.id).await?;
        let state = choose_state(&states, target).ok_or_else(|| LinearError::NotFound {
            operation: "TeamStates".to_owned(),
            what: format!(
                "a workflow state for {target:?} in team {} (states: {})",
                issue.team.key,
                states
                    .iter()
                    .map(|s| format!("{} [{}]", s.name, s.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        if state.id == issue.state.id {
            return Ok(state.clone());
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            issue_update: Payload,
        }
        #[derive(Deserialize)]
        struct Payload {
            success: bool,
            issue: Option<Moved>,
        }
        #[derive(Deserialize)]
        struct Moved {
            state: WorkflowState,
        }
        let call = Call {
            operation: "IssueSetState",
            document: doc::ISSUE_SET_STATE,
            variables: json!({ "id": issue.id, "input": { "stateId": state.id } }),
            idempotent: true,
        };
        let payload = self.transport.run::<Data>(&call).await?.issue_update;
        match payload.issue {
            Some(moved) if payload.success => Ok(moved.state),
            _ => Err(LinearError::GraphQl {
                operation: call.operation.to_owned(),
                code: None,
                message: format!("issueUpdate answered success: {}", payload.success),
            }),
        }
    }

    /// Adds the labels named `names` (the issue's team labels, or workspace labels) and returns
    /// the issue's labels afterwards. Labels already on the issue are not written again; a name
    /// that matches no label is [`LinearError::NotFound`] before anything is written.
    pub async fn add_labels(
        &self,
        issue: &Issue,
        names: &[&str],
    ) -> Result<Vec<Label>, LinearError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            issue_labels: Found,
        }
        #[derive(Deserialize)]
        struct Found {
            nodes: Vec<FoundLabel>,
        }
        #[derive(Deserialize)]
        struct FoundLabel {
            id: String,
            name: String,
            team: Option<IdOnly>,
        }
        #[derive(Deserialize)]
        struct IdOnly {
            id: String,
        }
        let call = Call {
            operation: "LabelsByName",
            document: doc::LABELS_BY_NAME,
            variables: json!({ "names": names }),
            idempotent: true,
        };
        let found = self.transport.run::<Data>(&call).await?.issue_labels.nodes;
        let mut wanted = Vec::new();
        for name in names {
            // A team label wins over a workspace label of the same name, as in Linear's picker.
            let usable = |l: &&FoundLabel| {
                l.name == *name && l.team.as_ref().is_none_or(|t| t.id == issue.team.id)
            };
            let label = found
                .iter()
                .filter(usable)
                .max_by_key(|l| l.team.is_some())
                .ok_or_else(|| LinearError::NotFound {
                    operation: call.operation.to_owned(),
                    what: format!("label {name:?} for team {}", issue.team.key),
                })?;
            wanted.push(label.id.clone());
        }
        let mut labels = issue.labels.clone();
        for label_id in wanted {
            if labels.iter().any(|l| l.id == label_id) {
                continue;
            }
            labels = self.add_label(&issue.id, &label_id).await?;
        }
        Ok(labels)
    }

    async fn add_label(&self, issue_id: &str, label_id: &str) -> Result<Vec<Label>, LinearError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            issue_add_label: Payload,
        }
        #[derive(Deserialize)]
        struct Payload {
            success: bool,
            issue: Option<Labelled>,
        }
        #[derive(Deserialize)]
        struct Labelled {
            #[serde(deserialize_with = "nodes")]
            labels: Vec<Label>,
        }
        let call = Call {
            operation: "IssueAddLabel",
            document: doc::ISSUE_ADD_LABEL,
            variables: json!({ "id": issue_id, "labelId": label_id }),
            idempotent: true,
        };
        let payload = self.transport.run::<Data>(&call).await?.issue_add_label;
        match payload.issue {
            Some(issue) if payload.success => Ok(issue.labels),
            _ => Err(LinearError::GraphQl {
                operation: call.operation.to_owned(),
                code: None,
                message: format!("issueAddLabel answered success: {}", payload.success),
            }),
        }
    }
}

/// The state for `target` among a team's states (sorted by position): by name first, then by
/// type, because teams rename and add columns but keep Linear's state types.
fn choose_state(states: &[WorkflowState], target: StateTarget) -> Option<&WorkflowState> {
    let named = |name: &str| states.iter().find(|s| s.name.eq_ignore_ascii_case(name));
    let started = || states.iter().filter(|s| s.kind == "started");
    let is_review = |s: &WorkflowState| s.name.to_ascii_lowercase().contains("review");
    match target {
        StateTarget::Started => named(IN_PROGRESS)
            .filter(|s| s.kind == "started")
            .or_else(|| started().find(|s| !is_review(s))),
        StateTarget::InReview => named(IN_REVIEW).or_else(|| started().find(|s| is_review(s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, kind: &str, position: f64) -> WorkflowState {
        WorkflowState {
            id: name.to_lowercase(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            position,
        }
    }

    #[test]
    fn states_are_chosen_by_name_then_type() {
        let default_team = [
            state("Backlog", "backlog", 0.0),
            state("Todo", "unstarted", 1.0),
            state("In Progress", "started", 2.0),
            state("In Review", "started", 3.0),
            state("Done", "completed", 4.0),
        ];
        let pick = |states: &[WorkflowState], t| choose_state(states, t).map(|s| s.name.clone());
        assert_eq!(
            pick(&default_team, StateTarget::Started).as_deref(),
            Some("In Progress")
        );
        assert_eq!(
            pick(&default_team, StateTarget::InReview).as_deref(),
            Some("In Review")
        );

        let renamed = [
            state("Code review", "started", 1.0),
            state("Doing", "started", 2.0),
            state("Shipped", "completed", 3.0),
        ];
        assert_eq!(
            pick(&renamed, StateTarget::Started).as_deref(),
            Some("Doing")
        );
        assert_eq!(
            pick(&renamed, StateTarget::InReview).as_deref(),
            Some("Code review")
        );

        let no_review = [
            state("Todo", "unstarted", 0.0),
            state("Done", "completed", 1.0),
        ];
        assert_eq!(pick(&no_review, StateTarget::InReview), None);
        assert_eq!(pick(&no_review, StateTarget::Started), None);
    }

    #[test]
    fn keys_pick_their_authorization_form_and_never_print() {
        let key = LinearAuth::from_secret(&Secret::new("lin_api_abc"));
        assert_eq!(key.header_value(), "lin_api_abc");
        let oauth = LinearAuth::from_secret(&Secret::new("Bearer tok"));
        assert_eq!(oauth.header_value(), "Bearer tok");
        let oauth = LinearAuth::from_secret(&Secret::new("lin_oauth_xyz"));
        assert_eq!(oauth.header_value(), "Bearer lin_oauth_xyz");
        assert!(!format!("{key:?}{oauth:?}").contains("lin_"));
    }
}
