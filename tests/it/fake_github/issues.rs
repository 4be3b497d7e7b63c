//! Issues, issue comments and issue labels.
//!
//! Comments are where Orion talks to people, so the edge cases that bite a bot are modelled:
//! comments can vanish under it (deleted by a human → 404 on edit), bodies have GitHub's size
//! limit, and labels are created on first use the way GitHub does.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::auth::Caller;
use super::model::{
    CommentRecord, IssueEventRecord, IssueRecord, LabelRecord, Model, RepoRecord, now,
};
use super::respond::{
    ApiError, ApiResult, created, doc, ok, paginate_array, parse_body, query_param, required_str,
};
use super::server::AppState;

/// GitHub's limit on comment and description bodies, in characters.
pub(super) const BODY_LIMIT: usize = 65536;

pub(super) fn parse_number(text: &str, documentation_url: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(documentation_url))
}

pub(super) fn too_long(resource: &str, body: &str) -> Option<ApiError> {
    (body.chars().count() > BODY_LIMIT).then(|| {
        ApiError::validation(
            json!([{
                "resource": resource,
                "code": "unprocessable",
                "field": "data",
                "message": format!("Body is too long (maximum is {BODY_LIMIT} characters)"),
            }]),
            doc::CREATE_COMMENT,
        )
    })
}

fn issue(repo: &RepoRecord, number: &str) -> Result<u64, ApiError> {
    let number = parse_number(number, doc::ISSUES)?;
    if repo.deleted_issues.contains(&number) {
        return Err(ApiError::new(
            StatusCode::GONE,
            "This issue was deleted",
            doc::ISSUES,
        ));
    }
    repo.issues
        .contains_key(&number)
        .then_some(number)
        .ok_or_else(|| ApiError::not_found(doc::ISSUES))
}

fn comment(repo: &RepoRecord, id: &str) -> Result<u64, ApiError> {
    let id = parse_number(id, doc::COMMENTS)?;
    repo.comments
        .contains_key(&id)
        .then_some(id)
        .ok_or_else(|| ApiError::not_found(doc::COMMENTS))
}

impl Model {
    /// Opens an issue (or, with `pull`, the issue half of a pull request) and returns its number.
    pub(super) fn open_issue(
        &mut self,
        key: &str,
        author: &str,
        title: &str,
        body: Option<&str>,
        via_app: bool,
    ) -> u64 {
        let id = self.next_id();
        let at = now();
        let repo = self.repo_mut(key);
        let number = repo.next_number;
        repo.next_number += 1;
        repo.issues.insert(
            number,
            IssueRecord {
                id,
                number,
                title: title.to_owned(),
                body: body.map(str::to_owned),
                author: author.to_owned(),
                state: "open".to_owned(),
                labels: Vec::new(),
                created_at: at,
                updated_at: at,
                closed_at: None,
                reactions: Vec::new(),
                via_app,
                pull: None,
                pinned: false,
                assignees: Vec::new(),
                events: Vec::new(),
            },
        );
        number
    }

    pub(super) fn add_comment(
        &mut self,
        key: &str,
        issue: u64,
        author: &str,
        body: &str,
        via_app: bool,
    ) -> u64 {
        let id = self.next_id();
        let at = now();
        let repo = self.repo_mut(key);
        repo.comments.insert(
            id,
            CommentRecord {
                id,
                issue,
                author: author.to_owned(),
                body: body.to_owned(),
                created_at: at,
                updated_at: at,
                reactions: Vec::new(),
                via_app,
            },
        );
        if let Some(issue) = repo.issues.get_mut(&issue) {
            issue.updated_at = at;
        }
        id
    }
}

type RepoPath = Path<(String, String, String)>;

pub(super) async fn get_issue(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = issue(record, &number)?;
    ok(model.issue_json(record, &record.issues[&number]))
}

/// `GET /repos/{o}/{r}/issues`: issues and pull requests, filtered by `state` (default open),
/// `creator`, `labels` (comma-separated, all of them) and `since` (updated at or after),
/// newest first (by creation, or by update with `sort=updated`) unless `direction=asc`.
pub(super) async fn list_issues(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let state = query_param(&uri, "state").unwrap_or_else(|| "open".to_owned());
    let creator = query_param(&uri, "creator");
    let labels: Vec<String> = query_param(&uri, "labels")
        .map(|l| {
            l.split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let since = match query_param(&uri, "since") {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(&text)
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Validation Failed",
                        doc::ISSUES,
                    )
                })?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let mut items: Vec<&IssueRecord> = record
        .issues
        .values()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            creator
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(&i.author))
        })
        .filter(|i| labels.iter().all(|l| i.labels.contains(l)))
        .filter(|i| since.is_none_or(|t| i.updated_at >= t))
        .collect();
    if query_param(&uri, "sort").as_deref() == Some("updated") {
        items.sort_by_key(|i| (i.updated_at, i.number));
    }
    if query_param(&uri, "direction").as_deref() != Some("asc") {
        items.reverse();
    }
    let items = items
        .into_iter()
        .map(|i| model.issue_json(record, i))
        .collect();
    paginate_array(&model.api, &uri, items)
}

/// The optional `body` of an issue request, within GitHub's size limit.
fn issue_body(request: &Value) -> Result<Option<&str>, ApiError> {
    let text = request.get("body").and_then(Value::as_str);
    match text.and_then(|t| too_long("Issue", t)) {
        Some(error) => Err(error),
        None => Ok(text),
    }
}

/// `POST /repos/{o}/{r}/issues`: `title` (required) and `body`; 201 with the issue.
pub(super) async fn create_issue(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::CREATE_ISSUE)?;
    let title = required_str(&request, "title", doc::CREATE_ISSUE)?;
    let text = issue_body(&request)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let (author, via_app) = model.author(&caller);
    let number = model.open_issue(&key, &author, title, text, via_app);
    let record = model.repo(&key);
    created(model.issue_json(record, &record.issues[&number]))
}

/// `PATCH /repos/{o}/{r}/issues/{n}`: `title`, `body` and `state` when given.
pub(super) async fn update_issue(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::UPDATE_ISSUE)?;
    let text = issue_body(&request)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let number = issue(model.repo(&key), &number)?;
    let entry = model
        .repo_mut(&key)
        .issues
        .get_mut(&number)
        .expect("issue exists");
    if let Some(title) = request.get("title").and_then(Value::as_str) {
        entry.title = title.to_owned();
    }
    if let Some(text) = text {
        entry.body = Some(text.to_owned());
    }
    if let Some(state) = request.get("state").and_then(Value::as_str) {
        entry.state = state.to_owned();
        entry.closed_at = (state == "closed").then(now);
    }
    entry.updated_at = now();
    let record = model.repo(&key);
    ok(model.issue_json(record, &record.issues[&number]))
}

pub(super) async fn list_comments(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = issue(record, &number)?;
    let items = record
        .comments
        .values()
        .filter(|c| c.issue == number)
        .map(|c| model.comment_json(record, c))
        .collect();
    paginate_array(&model.api, &uri, items)
}

pub(super) async fn create_comment(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::CREATE_COMMENT)?;
    let text = required_str(&request, "body", doc::CREATE_COMMENT)?;
    if let Some(error) = too_long("IssueComment", text) {
        return Err(error);
    }
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let number = issue(model.repo(&key), &number)?;
    let (author, via_app) = model.author(&caller);
    let id = model.add_comment(&key, number, &author, text, via_app);
    let record = model.repo(&key);
    created(model.comment_json(record, &record.comments[&id]))
}

pub(super) async fn get_comment(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, id)): RepoPath,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let id = comment(record, &id)?;
    ok(model.comment_json(record, &record.comments[&id]))
}

pub(super) async fn update_comment(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, id)): RepoPath,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::COMMENTS)?;
    let text = required_str(&request, "body", doc::COMMENTS)?;
    if let Some(error) = too_long("IssueComment", text) {
        return Err(error);
    }
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let id = comment(model.repo(&key), &id)?;
    let entry = model
        .repo_mut(&key)
        .comments
        .get_mut(&id)
        .expect("comment exists");
    entry.body = text.to_owned();
    entry.updated_at = now();
    let record = model.repo(&key);
    ok(model.comment_json(record, &record.comments[&id]))
}

pub(super) async fn delete_comment(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, id)): RepoPath,
) -> ApiResult {
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let id = comment(model.repo(&key), &id)?;
    model.repo_mut(&key).comments.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn list_labels(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = issue(record, &number)?;
    let items = model.issue_labels_json(record, &record.issues[&number]);
    paginate_array(&model.api, &uri, items)
}

/// `GET /repos/{o}/{r}/labels`: the repository's labels.
pub(super) async fn list_repo_labels(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let items = record
        .labels
        .values()
        .map(|l| model.label_json(record, l))
        .collect();
    paginate_array(&model.api, &uri, items)
}

/// Label names from any body GitHub accepts: `["a"]`, `{"labels": ["a"]}` or
/// `{"labels": [{"name": "a"}]}`.
fn label_names(request: &Value) -> Vec<String> {
    let list = request
        .get("labels")
        .unwrap_or(request)
        .as_array()
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|v| v.as_str().or_else(|| v.get("name").and_then(Value::as_str)))
        .map(str::to_owned)
        .collect()
}

impl Model {
    /// Adds labels to an issue as `actor`, creating missing repository labels in GitHub's
    /// default grey; each label added is a `labeled` event.
    pub(super) fn add_labels(&mut self, key: &str, number: u64, names: &[String], actor: &str) {
        for name in names {
            let label_key = name.to_ascii_lowercase();
            if !self.repo(key).labels.contains_key(&label_key) {
                let id = self.next_id();
                self.repo_mut(key).labels.insert(
                    label_key.clone(),
                    LabelRecord {
                        id,
                        name: name.clone(),
                        color: "ededed".to_owned(),
                        description: None,
                    },
                );
            }
            let issue = self
                .repo_mut(key)
                .issues
                .get_mut(&number)
                .expect("issue exists");
            if !issue.labels.contains(&label_key) {
                issue.labels.push(label_key);
                issue.updated_at = now();
                let id = self.next_id();
                let issue = self
                    .repo_mut(key)
                    .issues
                    .get_mut(&number)
                    .expect("issue exists");
                issue.events.push(IssueEventRecord {
                    id,
                    actor: actor.to_owned(),
                    event: "labeled",
                    label: name.clone(),
                    created_at: issue.updated_at,
                });
            }
        }
    }
}

pub(super) async fn add_labels(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::LABELS)?;
    let names = label_names(&request);
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let number = issue(model.repo(&key), &number)?;
    let (actor, _) = model.author(&caller);
    model.add_labels(&key, number, &names, &actor);
    let record = model.repo(&key);
    ok(Value::Array(
        model.issue_labels_json(record, &record.issues[&number]),
    ))
}

pub(super) async fn remove_label(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number, name)): Path<(String, String, String, String)>,
) -> ApiResult {
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let number = issue(model.repo(&key), &number)?;
    let label_key = name.to_ascii_lowercase();
    let issue = model
        .repo_mut(&key)
        .issues
        .get_mut(&number)
        .expect("issue exists");
    let Some(index) = issue.labels.iter().position(|l| *l == label_key) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Label does not exist",
            doc::REMOVE_LABEL,
        ));
    };
    let label = issue.labels.remove(index);
    issue.updated_at = now();
    let at = issue.updated_at;
    let (actor, _) = model.author(&caller);
    let id = model.next_id();
    model
        .repo_mut(&key)
        .issues
        .get_mut(&number)
        .expect("issue exists")
        .events
        .push(IssueEventRecord {
            id,
            actor,
            event: "unlabeled",
            label,
            created_at: at,
        });
    let record = model.repo(&key);
    ok(Value::Array(
        model.issue_labels_json(record, &record.issues[&number]),
    ))
}

/// `GET /issues/{n}/events`: the issue's label events, oldest first.
pub(super) async fn list_events(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): RepoPath,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = issue(record, &number)?;
    let items = record.issues[&number]
        .events
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "node_id": format!("LE_kwDO{:08}", e.id),
                "url": format!("{}/repos/{}/issues/events/{}", model.api, record.full_name(), e.id),
                "actor": model.user_json(&e.actor),
                "event": e.event,
                "commit_id": null,
                "commit_url": null,
                "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "label": { "name": e.label, "color": record.labels.get(&e.label.to_ascii_lowercase()).map_or("ededed", |l| l.color.as_str()) },
                "performed_via_github_app": null,
            })
        })
        .collect();
    paginate_array(&model.api, &uri, items)
}
