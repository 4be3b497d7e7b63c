//! The fake's world: users and their keys, teams with workflow states, labels, issues and
//! comments, rendered in the shapes Linear's GraphQL API answers with.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A GraphQL error as Linear sends it: `message` plus `extensions` with `type`, `code` and a
/// message a person can read.
#[derive(Debug, Clone)]
pub(super) struct GqlError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub code: &'static str,
    pub user_message: String,
}

impl GqlError {
    pub fn invalid_input(message: impl Into<String>, user_message: impl Into<String>) -> Self {
        Self {
            status: 200,
            message: message.into(),
            kind: "invalid input",
            code: "INVALID_INPUT",
            user_message: user_message.into(),
        }
    }

    /// `Entity not found: Issue`, Linear's wording for a missing or invisible entity.
    pub fn not_found(entity: &str) -> Self {
        Self::invalid_input(
            format!("Entity not found: {entity}"),
            format!("Could not find referenced {entity}."),
        )
    }

    pub fn validation(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: 400,
            user_message: message.clone(),
            message,
            kind: "graphql error",
            code: "GRAPHQL_VALIDATION_FAILED",
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: 200,
            user_message: message.clone(),
            message,
            kind: "forbidden",
            code: "FORBIDDEN",
        }
    }

    pub fn body(&self) -> Value {
        json!({
            "data": null,
            "errors": [{
                "message": self.message,
                "extensions": {
                    "type": self.kind,
                    "code": self.code,
                    "userError": true,
                    "userPresentableMessage": self.user_message,
                }
            }]
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct UserRec {
    pub id: String,
    pub name: String,
    pub display_name: String,
}

/// How a credential must be presented: personal keys bare, OAuth tokens as `Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Personal,
    OAuth,
}

#[derive(Debug, Clone)]
pub(super) struct StateRec {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub position: f64,
}

#[derive(Debug, Clone)]
pub(super) struct TeamRec {
    pub id: String,
    pub key: String,
    pub name: String,
    pub states: Vec<StateRec>,
    pub next_number: u64,
}

#[derive(Debug, Clone)]
pub(super) struct LabelRec {
    pub id: String,
    pub name: String,
    pub team_id: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct IssueRec {
    pub id: String,
    pub identifier: String,
    pub team_id: String,
    pub title: String,
    pub description: Option<String>,
    pub state_id: String,
    pub project: Option<(String, String)>,
    pub label_ids: Vec<String>,
    pub assignee_id: Option<String>,
    pub delegate_id: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub(super) struct CommentRec {
    pub id: String,
    pub issue_id: String,
    pub body: String,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Default)]
pub(super) struct Model {
    pub users: BTreeMap<String, UserRec>,
    pub keys: BTreeMap<String, (String, KeyKind)>,
    pub teams: Vec<TeamRec>,
    pub labels: Vec<LabelRec>,
    pub issues: BTreeMap<String, IssueRec>,
    pub comments: Vec<CommentRec>,
    clock: u64,
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.join("-")
}

impl Model {
    /// A strictly increasing ISO-8601 time, so "newest" is well defined within a test.
    pub fn tick(&mut self) -> String {
        self.clock += 1;
        let base = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap();
        (base + chrono::Duration::seconds(self.clock as i64))
            .to_utc()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    pub fn team(&self, id: &str) -> Option<&TeamRec> {
        self.teams.iter().find(|t| t.id == id)
    }

    pub fn team_by_key(&self, key: &str) -> Option<&TeamRec> {
        self.teams.iter().find(|t| t.key.eq_ignore_ascii_case(key))
    }

    /// `issue(id:)` takes the UUID or the identifier, as Linear's does.
    pub fn find_issue(&self, id_or_identifier: &str) -> Option<&IssueRec> {
        self.issues.get(id_or_identifier).or_else(|| {
            self.issues
                .values()
                .find(|i| i.identifier.eq_ignore_ascii_case(id_or_identifier))
        })
    }

    pub fn issue_url(&self, issue: &IssueRec) -> String {
        format!(
            "https://linear.app/acme/issue/{}/{}",
            issue.identifier,
            slug(&issue.title)
        )
    }

    fn user_json(&self, id: Option<&String>) -> Value {
        match id.and_then(|id| self.users.get(id)) {
            Some(u) => json!({ "id": u.id, "name": u.name, "displayName": u.display_name }),
            None => Value::Null,
        }
    }

    pub fn state_json(state: &StateRec) -> Value {
        json!({ "id": state.id, "name": state.name, "type": state.kind, "position": state.position })
    }

    pub fn labels_json(&self, ids: &[String]) -> Value {
        let nodes: Vec<Value> = ids
            .iter()
            .filter_map(|id| self.labels.iter().find(|l| &l.id == id))
            .map(|l| json!({ "id": l.id, "name": l.name }))
            .collect();
        json!({ "nodes": nodes })
    }

    pub fn issue_json(&self, issue: &IssueRec) -> Value {
        let team = self.team(&issue.team_id).expect("issues belong to teams");
        let state = team
            .states
            .iter()
            .find(|s| s.id == issue.state_id)
            .expect("issue states belong to the team");
        let branch = format!(
            "{}-{}",
            issue.identifier.to_ascii_lowercase(),
            slug(&issue.title)
        );
        json!({
            "id": issue.id,
            "identifier": issue.identifier,
            "title": issue.title,
            "description": issue.description,
            "url": self.issue_url(issue),
            "branchName": branch,
            "updatedAt": issue.updated_at,
            "state": Self::state_json(state),
            "team": { "id": team.id, "key": team.key, "name": team.name },
            "project": issue.project.as_ref().map(|(id, name)| json!({ "id": id, "name": name })),
            "labels": self.labels_json(&issue.label_ids),
            "assignee": self.user_json(issue.assignee_id.as_ref()),
            "delegate": self.user_json(issue.delegate_id.as_ref()),
        })
    }

    pub fn comment_json(&self, comment: &CommentRec) -> Value {
        let issue = &self.issues[&comment.issue_id];
        json!({
            "id": comment.id,
            "body": comment.body,
            "url": format!("{}#comment-{}", self.issue_url(issue), &comment.id[..8]),
            "createdAt": comment.created_at,
            "updatedAt": comment.updated_at,
            "user": self.user_json(Some(&comment.user_id)),
        })
    }
}
