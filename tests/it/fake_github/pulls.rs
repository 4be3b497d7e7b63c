//! Pull requests: create, list, read (as JSON or as a diff), edit, and their changed files.
//!
//! Head and base shas are read from the bare repository on every request, so a test that pushes
//! to the head branch sees the PR move, which is what a `synchronize` scenario needs.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::auth::Caller;
use super::diff::{self, PullDiff};
use super::gitrepo;
use super::issues::{parse_number, too_long};
use super::model::{IssueRecord, Model, PullRecord, RepoRecord, now};
use super::render::{WEB, node_id, time};
use super::respond::{
    ApiError, ApiResult, created, doc, encode_path, ok, paginate_array, parse_body, query_param,
    required_str,
};
use super::server::AppState;

/// The head sha now: the branch tip, or the last one seen if the branch was deleted.
pub(super) fn head_sha(repo: &RepoRecord, pull: &PullRecord) -> String {
    gitrepo::branch_sha(&repo.bare, &pull.head_ref).unwrap_or_else(|| pull.head_sha.clone())
}

/// The PR's diff now (merge base of the base tip and head, to head).
pub(super) fn pull_diff(repo: &RepoRecord, pull: &PullRecord) -> Option<PullDiff> {
    let base = gitrepo::branch_sha(&repo.bare, &pull.base_ref)?;
    diff::compare(&repo.bare, &base, &head_sha(repo, pull))
}

/// The PR with number `raw`, or 404.
pub(super) fn find_pull<'a>(
    repo: &'a RepoRecord,
    raw: &str,
) -> Result<(&'a IssueRecord, &'a PullRecord), ApiError> {
    let number = parse_number(raw, doc::PULLS)?;
    repo.pull(number)
        .ok_or_else(|| ApiError::not_found(doc::PULLS))
}

impl Model {
    /// A pull request; `detailed` adds what only `GET /pulls/{n}` reports (counts, mergeability).
    pub(super) fn pull_json(
        &self,
        repo: &RepoRecord,
        issue: &IssueRecord,
        pull: &PullRecord,
        detailed: bool,
    ) -> Value {
        let full = repo.full_name();
        let base_url = format!("{}/repos/{full}", self.api);
        let number = issue.number;
        let url = format!("{base_url}/pulls/{number}");
        let web = format!("{WEB}/{full}/pull/{number}");
        let head = head_sha(repo, pull);
        let base = gitrepo::branch_sha(&repo.bare, &pull.base_ref).unwrap_or_default();
        let branch = |name: &str, sha: &str| {
            json!({
                "label": format!("{}:{name}", repo.owner),
                "ref": name,
                "sha": sha,
                "user": self.user_json(&repo.owner),
                "repo": self.repo_json(repo),
            })
        };
        let link = |href: String| json!({ "href": href });
        let links = json!({
            "self": link(url.clone()),
            "html": link(web.clone()),
            "issue": link(format!("{base_url}/issues/{number}")),
            "comments": link(format!("{base_url}/issues/{number}/comments")),
            "review_comments": link(format!("{url}/comments")),
            "review_comment": link(format!("{base_url}/pulls/comments{{/number}}")),
            "commits": link(format!("{url}/commits")),
            "statuses": link(format!("{base_url}/statuses/{head}")),
        });
        let mut value = json!({
            "url": url,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": web,
            "diff_url": format!("{web}.diff"),
            "patch_url": format!("{web}.patch"),
            "issue_url": format!("{base_url}/issues/{number}"),
            "number": number,
            "state": issue.state,
            "locked": false,
            "title": issue.title,
            "user": self.user_json(&issue.author),
            "body": issue.body,
            "created_at": time(&issue.created_at),
            "updated_at": time(&issue.updated_at),
            "closed_at": issue.closed_at.as_ref().map(time),
            "merged_at": null,
            "merge_commit_sha": null,
            "assignee": null,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": self.issue_labels_json(repo, issue),
            "milestone": null,
            "draft": pull.draft,
            "commits_url": format!("{url}/commits"),
            "review_comments_url": format!("{url}/comments"),
            "review_comment_url": format!("{base_url}/pulls/comments{{/number}}"),
            "comments_url": format!("{base_url}/issues/{number}/comments"),
            "statuses_url": format!("{base_url}/statuses/{head}"),
            "head": branch(&pull.head_ref, &head),
            "base": branch(&pull.base_ref, &base),
            "_links": links,
            "author_association": self.association(repo, &issue.author),
            "auto_merge": null,
            "active_lock_reason": null,
        });
        if detailed {
            let diff = pull_diff(repo, pull);
            let mergeable = diff::mergeable(&repo.bare, &base, &head);
            let sum = |f: fn(&diff::FileChange) -> usize| {
                diff.as_ref()
                    .map_or(0, |d| d.files.iter().map(f).sum::<usize>())
            };
            let details = json!({
                "merged": false,
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": match mergeable {
                    Some(true) if pull.draft => "draft",
                    Some(true) => "clean",
                    Some(false) => "dirty",
                    None => "unknown",
                },
                "merged_by": null,
                "comments": repo.comments.values().filter(|c| c.issue == number).count(),
                "review_comments": repo.review_comments.values().filter(|c| c.pull == number).count(),
                "maintainer_can_modify": false,
                "commits": diff.as_ref().map_or(0, |d| d.commits),
                "additions": sum(|f| f.additions),
                "deletions": sum(|f| f.deletions),
                "changed_files": diff.as_ref().map_or(0, |d| d.files.len()),
            });
            for (key, field) in details.as_object().expect("an object") {
                value[key] = field.clone();
            }
        }
        value
    }
}

fn invalid(field: &str) -> ApiError {
    ApiError::validation(
        json!([{ "resource": "PullRequest", "field": field, "code": "invalid" }]),
        doc::CREATE_PULL,
    )
}

fn custom(message: String) -> ApiError {
    ApiError::validation(
        json!([{ "resource": "PullRequest", "code": "custom", "message": message }]),
        doc::CREATE_PULL,
    )
}

fn already_exists(
    repo: &RepoRecord,
    head: &str,
    base: &str,
    except: Option<u64>,
) -> Option<ApiError> {
    repo.issues
        .values()
        .filter(|i| i.state == "open" && Some(i.number) != except)
        .filter_map(|i| i.pull.as_ref())
        .any(|p| p.head_ref == head && p.base_ref == base)
        .then(|| {
            custom(format!(
                "A pull request already exists for {}:{head}.",
                repo.owner
            ))
        })
}

pub(super) async fn create(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::CREATE_PULL)?;
    let title = required_str(&request, "title", doc::CREATE_PULL)?;
    let head_raw = required_str(&request, "head", doc::CREATE_PULL)?;
    let base = required_str(&request, "base", doc::CREATE_PULL)?;
    let text = request.get("body").and_then(Value::as_str);
    let draft = request
        .get("draft")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let record = model.repo(&key);
    let head = match head_raw.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&record.owner) => branch,
        Some(_) => return Err(invalid("head")),
        None => head_raw,
    };
    let base_sha = gitrepo::branch_sha(&record.bare, base).ok_or_else(|| invalid("base"))?;
    let head_sha = gitrepo::branch_sha(&record.bare, head).ok_or_else(|| invalid("head"))?;
    if let Some(error) = already_exists(record, head, base, None) {
        return Err(error);
    }
    let diff = diff::compare(&record.bare, &base_sha, &head_sha).ok_or_else(|| {
        custom(format!(
            "The {head} branch has no history in common with {base}"
        ))
    })?;
    if head == base || diff.commits == 0 {
        return Err(custom(format!("No commits between {base} and {head_raw}")));
    }
    if let Some(error) = text.and_then(|t| too_long("PullRequest", t)) {
        return Err(error);
    }
    let (author, via_app) = model.author(&caller);
    let number = model.open_issue(&key, &author, title, text, via_app);
    let id = model.next_id();
    model
        .repo_mut(&key)
        .issues
        .get_mut(&number)
        .expect("issue just opened")
        .pull = Some(PullRecord {
        id,
        head_ref: head.to_owned(),
        base_ref: base.to_owned(),
        draft,
        head_sha,
    });
    let record = model.repo(&key);
    let (issue, pull) = record.pull(number).expect("pull just opened");
    created(model.pull_json(record, issue, pull, true))
}

/// `GET /pulls`: filtered by `state` (default open), `head` (`owner:branch`) and `base`, newest
/// first unless `direction=asc`.
pub(super) async fn list(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let state = query_param(&uri, "state").unwrap_or_else(|| "open".to_owned());
    let head = query_param(&uri, "head");
    let base = query_param(&uri, "base");
    let head_matches = |pull: &PullRecord| match head.as_deref().map(|h| h.split_once(':')) {
        None => true,
        Some(Some((owner, branch))) => {
            owner.eq_ignore_ascii_case(&record.owner) && pull.head_ref == branch
        }
        Some(None) => head.as_deref() == Some(pull.head_ref.as_str()),
    };
    let mut pulls: Vec<(&IssueRecord, &PullRecord)> = record
        .issues
        .values()
        .filter_map(|i| Some((i, i.pull.as_ref()?)))
        .filter(|(i, _)| state == "all" || i.state == state)
        .filter(|(_, p)| head_matches(p))
        .filter(|(_, p)| base.as_deref().is_none_or(|b| b == p.base_ref))
        .collect();
    if query_param(&uri, "sort").as_deref() == Some("updated") {
        pulls.sort_by_key(|(i, _)| (i.updated_at, i.number));
    }
    if query_param(&uri, "direction").as_deref() != Some("asc") {
        pulls.reverse();
    }
    let items = pulls
        .into_iter()
        .map(|(i, p)| model.pull_json(record, i, p, false))
        .collect();
    paginate_array(&model.api, &uri, items)
}

/// `GET /pulls/{n}`: JSON, or the unified diff when asked with GitHub's diff media type.
pub(super) async fn get_one(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let (issue, pull) = find_pull(record, &number)?;
    let wants_diff = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.contains("application/vnd.github.diff")
                || v.contains("application/vnd.github.v3.diff")
        });
    if !wants_diff {
        return ok(model.pull_json(record, issue, pull, true));
    }
    let text = pull_diff(record, pull).map(|d| d.text).unwrap_or_default();
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.github.diff; charset=utf-8"),
    );
    Ok(response)
}

pub(super) async fn update(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::PULLS)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let record = model.repo(&key);
    let number = find_pull(record, &number)?.0.number;
    let string = |field: &str| request.get(field).and_then(Value::as_str);
    if let Some(state) = string("state")
        && state != "open"
        && state != "closed"
    {
        return Err(ApiError::invalid_request(
            &format!(
                "For 'properties/state', {state:?} is not a member of [\"open\", \"closed\"]."
            ),
            doc::PULLS,
        ));
    }
    if let Some(base) = string("base")
        && gitrepo::branch_sha(&record.bare, base).is_none()
    {
        return Err(invalid("base"));
    }
    if let Some(error) = string("body").and_then(|t| too_long("PullRequest", t)) {
        return Err(error);
    }
    let (_, pull) = record.pull(number).expect("pull exists");
    let base = string("base").unwrap_or(&pull.base_ref).to_owned();
    if string("state") == Some("open")
        && let Some(error) = already_exists(record, &pull.head_ref, &base, Some(number))
    {
        return Err(error);
    }
    let live_head = head_sha(record, pull);
    let at = now();
    let issue = model
        .repo_mut(&key)
        .issues
        .get_mut(&number)
        .expect("pull exists");
    if let Some(title) = string("title") {
        issue.title = title.to_owned();
    }
    if let Some(body) = request.get("body") {
        issue.body = body.as_str().map(str::to_owned);
    }
    match string("state") {
        Some("closed") if issue.state == "open" => {
            issue.state = "closed".to_owned();
            issue.closed_at = Some(at);
        }
        Some("open") if issue.state == "closed" => {
            issue.state = "open".to_owned();
            issue.closed_at = None;
        }
        _ => {}
    }
    issue.updated_at = at;
    let pull = issue.pull.as_mut().expect("pull exists");
    pull.base_ref = base;
    pull.head_sha = live_head;
    let record = model.repo(&key);
    let (issue, pull) = record.pull(number).expect("pull exists");
    ok(model.pull_json(record, issue, pull, true))
}

/// `GET /pulls/{n}/files`: one entry per changed file, renames detected.
pub(super) async fn files(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, number)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let (_, pull) = find_pull(record, &number)?;
    let head = head_sha(record, pull);
    let full = record.full_name();
    let items = pull_diff(record, pull)
        .map(|d| d.files)
        .unwrap_or_default()
        .into_iter()
        .map(|file| {
            let path = encode_path(&file.path);
            let mut value = json!({
                "sha": file.sha,
                "filename": file.path,
                "status": file.status,
                "additions": file.additions,
                "deletions": file.deletions,
                "changes": file.additions + file.deletions,
                "blob_url": format!("{WEB}/{full}/blob/{head}/{path}"),
                "raw_url": format!("{WEB}/{full}/raw/{head}/{path}"),
                "contents_url": format!("{}/repos/{full}/contents/{path}?ref={head}", model.api),
            });
            if let Some(patch) = file.patch {
                value["patch"] = json!(patch);
            }
            if let Some(previous) = file.previous_path {
                value["previous_filename"] = json!(previous);
            }
            value
        })
        .collect();
    paginate_array(&model.api, &uri, items)
}
