//! Check runs: the status line Orion shows on a commit.
//!
//! GitHub only lets Apps write check runs (a personal token gets 403), ties each run to a commit
//! that must exist, and caps output text; all three rules are enforced so a misconfigured client
//! fails here before it fails in production.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use chrono::DateTime;
use serde_json::{Value, json};

use super::FakeGitHub;
use super::auth::Caller;
use super::gitrepo;
use super::issues::parse_number;
use super::model::{CheckRunRecord, Model, OtherApp, RepoRecord, now};
use super::pulls::head_sha;
use super::render::{WEB, node_id, time};
use super::respond::{
    ApiError, ApiResult, created, doc, ok, paginate, parse_body, query_param, required_str,
};
use super::server::AppState;

const STATUSES: [&str; 6] = [
    "queued",
    "in_progress",
    "completed",
    "waiting",
    "requested",
    "pending",
];
const CONCLUSIONS: [&str; 8] = [
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];
/// GitHub's cap on each output field, in characters.
const OUTPUT_LIMIT: usize = 65535;

impl Model {
    pub(super) fn check_run_json(&self, repo: &RepoRecord, run: &CheckRunRecord) -> Value {
        let full = repo.full_name();
        let url = format!("{}/repos/{full}/check-runs/{}", self.api, run.id);
        let pulls: Vec<Value> = repo
            .issues
            .values()
            .filter(|i| i.state == "open")
            .filter_map(|i| Some((i, i.pull.as_ref()?)))
            .filter(|(_, p)| head_sha(repo, p) == run.head_sha)
            .map(|(issue, pull)| {
                let branch = |name: &str, sha: String| {
                    json!({
                        "ref": name,
                        "sha": sha,
                        "repo": { "id": repo.id, "url": format!("{}/repos/{full}", self.api), "name": repo.name },
                    })
                };
                let base_sha = gitrepo::branch_sha(&repo.bare, &pull.base_ref).unwrap_or_default();
                json!({
                    "url": format!("{}/repos/{full}/pulls/{}", self.api, issue.number),
                    "id": pull.id,
                    "number": issue.number,
                    "head": branch(&pull.head_ref, head_sha(repo, pull)),
                    "base": branch(&pull.base_ref, base_sha),
                })
            })
            .collect();
        json!({
            "id": run.id,
            "node_id": node_id("CheckRun", run.id),
            "head_sha": run.head_sha,
            "external_id": run.external_id.clone().unwrap_or_default(),
            "url": url,
            "html_url": format!("{WEB}/{full}/runs/{}", run.id),
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at.as_ref().map(time),
            "completed_at": run.completed_at.as_ref().map(time),
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": 0,
                "annotations_url": format!("{url}/annotations"),
            },
            "name": run.name,
            "check_suite": { "id": run.suite_id },
            "app": match &run.app {
                None => self.app_json(),
                Some(other) => json!({
                    "id": other.id,
                    "slug": other.slug,
                    "node_id": node_id("App", other.id),
                    "name": other.slug,
                }),
            },
            "pull_requests": pulls,
        })
    }
}

/// A completed check run an App reports on a commit, as CI does.
pub struct AppCheck<'a> {
    /// The App's slug, e.g. `ci`; Orion's own slug records the run as Orion's.
    pub app: &'a str,
    pub name: &'a str,
    /// One of GitHub's conclusions: `failure`, `neutral`, `success`…
    pub conclusion: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
}

impl FakeGitHub {
    /// `check.app` reports `check` on commit `sha` of `repo` (a webhook is the caller's to
    /// send); returns the run's id.
    pub fn app_check(&self, repo: &str, sha: &str, check: AppCheck<'_>) -> u64 {
        assert!(
            CONCLUSIONS.contains(&check.conclusion),
            "GitHub has no conclusion {:?}",
            check.conclusion
        );
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let head_sha = gitrepo::resolve_commit(&model.repo(&key).bare, sha)
            .unwrap_or_else(|| panic!("{repo} has no commit {sha}"));
        let id = model.next_id();
        let suite_id = model.next_id();
        let app = (check.app != model.app.slug).then(|| OtherApp {
            id: model.next_id(),
            slug: check.app.to_owned(),
        });
        let run = CheckRunRecord {
            id,
            suite_id,
            name: check.name.to_owned(),
            head_sha,
            status: "completed".to_owned(),
            conclusion: Some(check.conclusion.to_owned()),
            external_id: None,
            details_url: None,
            title: Some(check.title.to_owned()),
            summary: Some(check.summary.to_owned()),
            text: None,
            started_at: Some(now()),
            completed_at: Some(now()),
            app,
        };
        model.repo_mut(&key).check_runs.insert(id, run);
        id
    }
}

/// Only installation tokens may write check runs.
fn require_installation(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Installation { .. } => Ok(()),
        _ => Err(ApiError::forbidden(
            "You must authenticate via a GitHub App.",
            doc::CHECKS,
        )),
    }
}

fn parse_time(
    value: &Value,
    field: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.to_utc()))
            .map_err(|_| {
                ApiError::invalid_request(
                    &format!("{s:?} is not a valid date-time for '{field}'."),
                    doc::CHECKS,
                )
            }),
        Some(_) => Err(ApiError::invalid_request(
            &format!("\"{field}\" is not a string."),
            doc::CHECKS,
        )),
    }
}

/// Applies a create or update body to a run, with GitHub's rules: a conclusion implies
/// `completed`, `completed` needs a conclusion, and output needs a title and a summary.
fn apply(run: &mut CheckRunRecord, request: &Value) -> Result<(), ApiError> {
    let string = |field: &str| {
        request
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(name) = string("name") {
        run.name = name;
    }
    if let Some(url) = string("details_url") {
        run.details_url = Some(url);
    }
    if let Some(id) = string("external_id") {
        run.external_id = Some(id);
    }
    if let Some(started) = parse_time(request, "started_at")? {
        run.started_at = Some(started);
    }
    if let Some(status) = string("status") {
        if !STATUSES.contains(&status.as_str()) {
            return Err(ApiError::invalid_request(
                &format!("For 'properties/status', {status:?} is not a member of {STATUSES:?}."),
                doc::CHECKS,
            ));
        }
        run.status = status;
    }
    if let Some(conclusion) = string("conclusion") {
        if !CONCLUSIONS.contains(&conclusion.as_str()) {
            return Err(ApiError::invalid_request(
                &format!(
                    "For 'properties/conclusion', {conclusion:?} is not a member of {CONCLUSIONS:?}."
                ),
                doc::CHECKS,
            ));
        }
        run.conclusion = Some(conclusion);
        run.status = "completed".to_owned();
    }
    if run.status == "completed" {
        if run.conclusion.is_none() {
            return Err(ApiError::invalid_request(
                "No subschema in \"anyOf\" matched.\n\"conclusion\" wasn't supplied.",
                doc::CHECKS,
            ));
        }
        run.completed_at = Some(parse_time(request, "completed_at")?.unwrap_or_else(now));
    }
    if let Some(output) = request.get("output").filter(|o| !o.is_null()) {
        let title = required_str(output, "title", doc::CHECKS)?;
        let summary = required_str(output, "summary", doc::CHECKS)?;
        let text = output.get("text").and_then(Value::as_str);
        for field in [Some(title), Some(summary), text].into_iter().flatten() {
            let supplied = field.chars().count();
            if supplied > OUTPUT_LIMIT {
                return Err(ApiError::invalid_request(
                    &format!(
                        "Only {OUTPUT_LIMIT} characters are allowed; {supplied} were supplied."
                    ),
                    doc::CHECKS,
                ));
            }
        }
        run.title = Some(title.to_owned());
        run.summary = Some(summary.to_owned());
        run.text = text.map(str::to_owned);
    }
    Ok(())
}

fn no_commit(reference: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &format!("No commit found for SHA: {reference}"),
        doc::CHECKS,
    )
}

pub(super) async fn create(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::CHECKS)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    require_installation(&caller)?;
    let name = required_str(&request, "name", doc::CHECKS)?;
    let head = required_str(&request, "head_sha", doc::CHECKS)?;
    let head_sha = gitrepo::resolve_commit(&model.repo(&key).bare, head)
        .filter(|sha| sha.starts_with(&head.to_ascii_lowercase()))
        .ok_or_else(|| no_commit(head))?;
    let id = model.next_id();
    let suite_id = model.next_id();
    let mut run = CheckRunRecord {
        id,
        suite_id,
        name: name.to_owned(),
        head_sha,
        status: "queued".to_owned(),
        conclusion: None,
        external_id: None,
        details_url: None,
        title: None,
        summary: None,
        text: None,
        started_at: Some(now()),
        completed_at: None,
        app: None,
    };
    apply(&mut run, &request)?;
    model.repo_mut(&key).check_runs.insert(id, run);
    let record = model.repo(&key);
    created(model.check_run_json(record, &record.check_runs[&id]))
}

pub(super) async fn update(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let request = parse_body(&body, doc::CHECKS)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    require_installation(&caller)?;
    let id = parse_number(&id, doc::CHECKS)?;
    let run = model
        .repo_mut(&key)
        .check_runs
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found(doc::CHECKS))?;
    // Validate on a copy: a rejected update must leave the run as it was.
    let mut updated = run.clone();
    apply(&mut updated, &request)?;
    *run = updated;
    let record = model.repo(&key);
    ok(model.check_run_json(record, &record.check_runs[&id]))
}

pub(super) async fn get_one(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let id = parse_number(&id, doc::CHECKS)?;
    let run = record
        .check_runs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(doc::CHECKS))?;
    ok(model.check_run_json(record, run))
}

/// `GET …/commits/{ref}/check-runs`: newest first, by default only the latest run per name.
pub(super) async fn list_for_ref(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let sha =
        gitrepo::resolve_commit(&record.bare, &reference).ok_or_else(|| no_commit(&reference))?;
    let name = query_param(&uri, "check_name");
    let status = query_param(&uri, "status");
    let latest_only = query_param(&uri, "filter").is_none_or(|f| f == "latest");
    let mut seen = std::collections::BTreeSet::new();
    let items: Vec<Value> = record
        .check_runs
        .values()
        .rev()
        .filter(|r| r.head_sha == sha)
        .filter(|r| name.as_deref().is_none_or(|n| n == r.name))
        .filter(|r| status.as_deref().is_none_or(|s| s == r.status))
        .filter(|r| !latest_only || seen.insert(r.name.clone()))
        .map(|r| model.check_run_json(record, r))
        .collect();
    paginate(
        &model.api,
        &uri,
        items,
        |page, total| json!({ "total_count": total, "check_runs": page }),
    )
}

impl FakeGitHub {
    /// `creator` (a CI service's user) sets commit status `context` to `state` on commit `sha`.
    pub fn commit_status(
        &self,
        repo: &str,
        sha: &str,
        context: &str,
        state: &str,
        description: &str,
    ) {
        assert!(
            ["error", "failure", "pending", "success"].contains(&state),
            "GitHub has no status state {state:?}"
        );
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let sha = gitrepo::resolve_commit(&model.repo(&key).bare, sha)
            .unwrap_or_else(|| panic!("{repo} has no commit {sha}"));
        let id = model.next_id();
        model.ensure_user("jenkins", super::model::UserKind::User);
        model
            .repo_mut(&key)
            .statuses
            .push(super::model::StatusRecord {
                id,
                sha,
                context: context.to_owned(),
                state: state.to_owned(),
                description: description.to_owned(),
                target_url: Some(format!("https://ci.example.com/job/{id}")),
                creator: "jenkins".to_owned(),
                at: now(),
            });
    }
}

/// `GET /commits/{ref}/status`: the combined status, the latest status per context (newest
/// first), paginated inside the object as GitHub does.
pub(super) async fn combined_status(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    let model = shared.model();
    let record = model.repo(&model.visible_repo(&caller, &owner, &repo)?);
    let sha =
        gitrepo::resolve_commit(&record.bare, &reference).ok_or_else(|| no_commit(&reference))?;
    let mut seen = std::collections::BTreeSet::new();
    let latest: Vec<&super::model::StatusRecord> = record
        .statuses
        .iter()
        .rev()
        .filter(|st| st.sha == sha)
        .filter(|st| seen.insert(st.context.clone()))
        .collect();
    let combined = if latest
        .iter()
        .any(|st| st.state == "error" || st.state == "failure")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|st| st.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let items: Vec<Value> = latest
        .iter()
        .map(|st| {
            json!({
                "url": format!("{}/repos/{}/statuses/{sha}", model.api, record.full_name()),
                "avatar_url": null,
                "id": st.id,
                "node_id": node_id("StatusContext", st.id),
                "state": st.state,
                "description": st.description,
                "target_url": st.target_url,
                "context": st.context,
                "created_at": st.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "updated_at": st.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "creator": model.user_json(&st.creator),
            })
        })
        .collect();
    let api = model.api.clone();
    let repository = model.repo_json(record);
    paginate(&api, &uri, items, |page, total| {
        json!({
            "state": combined,
            "statuses": page,
            "sha": sha,
            "total_count": total,
            "repository": repository,
            "commit_url": format!("{api}/repos/{}/commits/{sha}", record.full_name()),
            "url": format!("{api}/repos/{}/commits/{sha}/status", record.full_name()),
        })
    })
}
