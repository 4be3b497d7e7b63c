//! Pull request reviews, review comments and replies.
//!
//! GitHub rejects a whole review when one inline comment points outside the diff, and says so in
//! one joined sentence; a reviewer bot that mis-numbers lines must meet that 422 in tests, so each
//! comment is checked against the real hunks of the PR at `commit_id`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use serde_json::{Value, json};

use super::auth::Caller;
use super::diff::{self, PullDiff};
use super::gitrepo;
use super::issues::{parse_number, too_long};
use super::model::{Model, RepoRecord, ReviewCommentRecord, ReviewRecord, now};
use super::pulls::{find_pull, head_sha};
use super::render::{WEB, node_id, time};
use super::respond::{
    ApiError, ApiResult, created, doc, ok, paginate_array, parse_body, required_str,
};
use super::server::AppState;

const LINE_OUTSIDE: &str = "Pull request review thread line must be part of the diff";
const PATH_INVALID: &str = "Pull request review thread path is invalid";
const START_OUTSIDE: &str =
    "Pull request review thread start line must be part of the same hunk as the line.";
const HUNK_BLANK: &str = "Pull request review thread diff hunk can't be blank";

impl Model {
    pub(super) fn review_json(&self, repo: &RepoRecord, review: &ReviewRecord) -> Value {
        let full = repo.full_name();
        let html = format!(
            "{WEB}/{full}/pull/{}#pullrequestreview-{}",
            review.pull, review.id
        );
        let pull_url = format!("{}/repos/{full}/pulls/{}", self.api, review.pull);
        let mut value = json!({
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user_json(&review.author),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": self.association(repo, &review.author),
            "_links": { "html": { "href": html }, "pull_request": { "href": pull_url } },
            "commit_id": review.commit_id,
        });
        if let Some(at) = &review.submitted_at {
            value["submitted_at"] = json!(time(at));
        }
        value
    }

    pub(super) fn review_comment_json(&self, repo: &RepoRecord, c: &ReviewCommentRecord) -> Value {
        let full = repo.full_name();
        let url = format!("{}/repos/{full}/pulls/comments/{}", self.api, c.id);
        let html = format!("{WEB}/{full}/pull/{}#discussion_r{}", c.pull, c.id);
        let pull_url = format!("{}/repos/{full}/pulls/{}", self.api, c.pull);
        let mut value = json!({
            "url": url,
            "pull_request_review_id": c.review,
            "id": c.id,
            "node_id": node_id("PullRequestReviewComment", c.id),
            "diff_hunk": c.diff_hunk,
            "path": c.path,
            "position": c.position,
            "original_position": c.position,
            "commit_id": c.commit_id,
            "original_commit_id": c.commit_id,
            "user": self.user_json(&c.author),
            "body": c.body,
            "created_at": time(&c.created_at),
            "updated_at": time(&c.created_at),
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": self.association(repo, &c.author),
            "_links": {
                "self": { "href": url },
                "html": { "href": html },
                "pull_request": { "href": pull_url },
            },
            "start_line": c.start_line,
            "original_start_line": c.start_line,
            "start_side": c.start_side,
            "line": c.line,
            "original_line": c.line,
            "side": c.side,
            "subject_type": "line",
        });
        if let Some(parent) = c.in_reply_to {
            value["in_reply_to_id"] = json!(parent);
        }
        value
    }
}

/// An inline comment of a review, checked against the diff.
struct Draft {
    path: String,
    body: String,
    line: u64,
    side: String,
    start_line: Option<u64>,
    start_side: Option<String>,
    position: u64,
    diff_hunk: String,
}

fn side_of(value: &Value, field: &str) -> Result<Option<String>, ApiError> {
    match value.get(field).and_then(Value::as_str) {
        None => Ok(None),
        Some(side @ ("LEFT" | "RIGHT")) => Ok(Some(side.to_owned())),
        Some(other) => Err(ApiError::invalid_request(
            &format!(
                "For 'properties/{field}', {other:?} is not a member of [\"LEFT\", \"RIGHT\"]."
            ),
            doc::REVIEWS,
        )),
    }
}

/// Validates one inline comment; pushes GitHub's complaints into `problems` when it does not fit.
fn check_comment(
    diff: &PullDiff,
    comment: &Value,
    problems: &mut Vec<String>,
) -> Result<Option<Draft>, ApiError> {
    let path = required_str(comment, "path", doc::REVIEWS)?;
    let body = required_str(comment, "body", doc::REVIEWS)?;
    let mut side = side_of(comment, "side")?.unwrap_or_else(|| "RIGHT".to_owned());
    let Some(file) = diff.files.iter().find(|f| f.path == path) else {
        problems.extend([PATH_INVALID.to_owned(), HUNK_BLANK.to_owned()]);
        return Ok(None);
    };
    let line = match (
        comment.get("line").and_then(Value::as_u64),
        comment.get("position").and_then(Value::as_u64),
    ) {
        (Some(line), _) => Some(line),
        (None, Some(position)) => file.at_position(position).map(|(line, at)| {
            side = at.to_owned();
            line
        }),
        (None, None) => None,
    };
    let Some(anchor) = line.and_then(|l| file.anchor(l, &side)) else {
        problems.extend([LINE_OUTSIDE.to_owned(), HUNK_BLANK.to_owned()]);
        return Ok(None);
    };
    let line = line.expect("anchored lines exist");
    let start_line = comment.get("start_line").and_then(Value::as_u64);
    let start_side = side_of(comment, "start_side")?;
    if let Some(start) = start_line {
        let start_side = start_side.as_deref().unwrap_or(&side);
        let same_hunk = file
            .anchor(start, start_side)
            .is_some_and(|a| a.hunk == anchor.hunk && (start_side != side || start <= line));
        if !same_hunk {
            problems.push(START_OUTSIDE.to_owned());
            return Ok(None);
        }
    }
    Ok(Some(Draft {
        path: path.to_owned(),
        body: body.to_owned(),
        line,
        start_side: start_line.map(|_| start_side.unwrap_or_else(|| side.clone())),
        side,
        start_line,
        position: anchor.position,
        diff_hunk: anchor.diff_hunk,
    }))
}

pub(super) async fn create(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::REVIEWS)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let author = model.actor(&caller);
    let record = model.repo(&key);
    let (issue, pull) = find_pull(record, &number)?;
    let number = issue.number;
    let state = match request.get("event").and_then(Value::as_str) {
        None | Some("") => "PENDING",
        Some("APPROVE") => "APPROVED",
        Some("REQUEST_CHANGES") => "CHANGES_REQUESTED",
        Some("COMMENT") => "COMMENTED",
        Some(other) => {
            return Err(ApiError::invalid_request(
                &format!(
                    "For 'properties/event', {other:?} is not a member of [\"APPROVE\", \"REQUEST_CHANGES\", \"COMMENT\"]."
                ),
                doc::REVIEWS,
            ));
        }
    };
    let text = request
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let comments = request
        .get("comments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let own = issue.author.eq_ignore_ascii_case(&author);
    match state {
        "APPROVED" if own => {
            return Err(ApiError::unprocessable(
                &["Review Can not approve your own pull request".to_owned()],
                doc::REVIEWS,
            ));
        }
        "CHANGES_REQUESTED" if own => {
            return Err(ApiError::unprocessable(
                &["Review Can not request changes on your own pull request".to_owned()],
                doc::REVIEWS,
            ));
        }
        "CHANGES_REQUESTED" | "COMMENTED" if text.is_empty() && comments.is_empty() => {
            return Err(ApiError::unprocessable(
                &["Body can't be blank".to_owned()],
                doc::REVIEWS,
            ));
        }
        "PENDING"
            if record.reviews.values().any(|r| {
                r.pull == number && r.state == "PENDING" && r.author.eq_ignore_ascii_case(&author)
            }) =>
        {
            return Err(ApiError::unprocessable(
                &["User can only have one pending review per pull request".to_owned()],
                doc::REVIEWS,
            ));
        }
        _ => {}
    }
    if let Some(error) = too_long("PullRequestReview", text) {
        return Err(error);
    }
    let commit_id = match request.get("commit_id").and_then(Value::as_str) {
        Some(sha) => gitrepo::resolve_commit(&record.bare, sha)
            .filter(|full| full.starts_with(&sha.to_ascii_lowercase()))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    &["Commit id is not part of the pull request".to_owned()],
                    doc::REVIEWS,
                )
            })?,
        None => head_sha(record, pull),
    };
    let base = gitrepo::branch_sha(&record.bare, &pull.base_ref).unwrap_or_default();
    let diff = diff::compare(&record.bare, &base, &commit_id).ok_or_else(|| {
        ApiError::unprocessable(
            &["Commit id is not part of the pull request".to_owned()],
            doc::REVIEWS,
        )
    })?;
    let mut problems = Vec::new();
    let mut drafts = Vec::new();
    for comment in &comments {
        if let Some(draft) = check_comment(&diff, comment, &mut problems)? {
            drafts.push(draft);
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        if let Some(i) = problems.iter().position(|p| p == HUNK_BLANK) {
            let hunk = problems.remove(i);
            problems.retain(|p| p != HUNK_BLANK);
            problems.push(hunk);
        }
        return Err(ApiError::unprocessable(&problems, doc::REVIEWS));
    }
    let review = model.next_id();
    let at = now();
    let mut records = Vec::new();
    for draft in drafts {
        records.push(ReviewCommentRecord {
            id: model.next_id(),
            review,
            pull: number,
            author: author.clone(),
            body: draft.body,
            path: draft.path,
            line: draft.line,
            side: draft.side,
            start_line: draft.start_line,
            start_side: draft.start_side,
            position: draft.position,
            commit_id: commit_id.clone(),
            diff_hunk: draft.diff_hunk,
            in_reply_to: None,
            created_at: at,
        });
    }
    let repo = model.repo_mut(&key);
    repo.reviews.insert(
        review,
        ReviewRecord {
            id: review,
            pull: number,
            author,
            state: state.to_owned(),
            body: text.to_owned(),
            commit_id,
            submitted_at: (state != "PENDING").then_some(at),
        },
    );
    for comment in records {
        repo.review_comments.insert(comment.id, comment);
    }
    let record = model.repo(&key);
    ok(model.review_json(record, &record.reviews[&review]))
}

/// Pending reviews (and their comments) are visible to their author only.
fn visible(model: &Model, caller: &Caller, review: &ReviewRecord) -> bool {
    review.state != "PENDING" || review.author.eq_ignore_ascii_case(&model.actor(caller))
}

pub(super) async fn list(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = find_pull(record, &number)?.0.number;
    let items = record
        .reviews
        .values()
        .filter(|r| r.pull == number && visible(&model, &caller, r))
        .map(|r| model.review_json(record, r))
        .collect();
    paginate_array(&model.api, &uri, items)
}

pub(super) async fn list_comments(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let number = find_pull(record, &number)?.0.number;
    let items = record
        .review_comments
        .values()
        .filter(|c| c.pull == number)
        .filter(|c| {
            record
                .reviews
                .get(&c.review)
                .is_some_and(|r| visible(&model, &caller, r))
        })
        .map(|c| model.review_comment_json(record, c))
        .collect();
    paginate_array(&model.api, &uri, items)
}

/// `POST …/pulls/{n}/comments/{id}/replies`: answers in the comment's thread (replies to a reply
/// join the thread's root, as on GitHub) through a new COMMENTED review.
pub(super) async fn reply(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number, id)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::REVIEW_COMMENTS)?;
    let text = required_str(&request, "body", doc::REVIEW_COMMENTS)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let author = model.actor(&caller);
    let record = model.repo(&key);
    let number = find_pull(record, &number)?.0.number;
    let id = parse_number(&id, doc::REVIEW_COMMENTS)?;
    let parent = record
        .review_comments
        .get(&id)
        .filter(|c| c.pull == number)
        .ok_or_else(|| ApiError::not_found(doc::REVIEW_COMMENTS))?;
    let root = &record.review_comments[&parent.in_reply_to.unwrap_or(parent.id)];
    let mut answer = root.clone();
    answer.in_reply_to = Some(root.id);
    let review = model.next_id();
    let comment = model.next_id();
    let at = now();
    answer.id = comment;
    answer.review = review;
    answer.author = author.clone();
    answer.body = text.to_owned();
    answer.created_at = at;
    let repo = model.repo_mut(&key);
    repo.reviews.insert(
        review,
        ReviewRecord {
            id: review,
            pull: number,
            author,
            state: "COMMENTED".to_owned(),
            body: String::new(),
            commit_id: answer.commit_id.clone(),
            submitted_at: Some(at),
        },
    );
    repo.review_comments.insert(comment, answer);
    let record = model.repo(&key);
    created(model.review_comment_json(record, &record.review_comments[&comment]))
}
