//! Repository endpoints: the repository itself, file contents read from its bare git repository,
//! and a user's permission on it.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use base64::Engine;
use serde_json::{Value, json};

use super::auth::Caller;
use super::gitrepo::{self, Entry};
use super::model::{Model, RepoRecord};
use super::render::WEB;
use super::respond::{ApiError, ApiResult, doc, encode, encode_path, ok, query_param};
use super::server::{AppState, Shared};

pub(super) async fn get_repo(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    let model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    ok(model.repo_json(model.repo(&key)))
}

pub(super) async fn root_contents(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult {
    read_contents(&shared, &caller, &owner, &repo, "", &uri)
}

pub(super) async fn contents(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, path)): Path<(String, String, String)>,
    uri: Uri,
) -> ApiResult {
    read_contents(&shared, &caller, &owner, &repo, &path, &uri)
}

/// Files larger than this come back without content, as on GitHub (1 MB).
const INLINE_LIMIT: usize = 1024 * 1024;

fn read_contents(
    shared: &Shared,
    caller: &Caller,
    owner: &str,
    repo: &str,
    path: &str,
    uri: &Uri,
) -> ApiResult {
    let model = shared.model();
    let key = model.visible_repo(caller, owner, repo)?;
    let record = model.repo(&key);
    let reference = query_param(uri, "ref").unwrap_or_else(|| record.default_branch.clone());
    let sha = gitrepo::resolve_commit(&record.bare, &reference).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            &format!("No commit found for the ref {reference}"),
            doc::CONTENTS,
        )
    })?;
    let links = Links {
        model: &model,
        repo: record,
        reference: &reference,
    };
    match gitrepo::read(&record.bare, &sha, path) {
        Some(Entry::File(file)) => {
            let size = file.content.len();
            let (encoding, content) = if size > INLINE_LIMIT {
                ("none", String::new())
            } else {
                ("base64", wrapped_base64(&file.content))
            };
            let mut value = links.entry(file.kind, &file.name, &file.path, &file.sha, size);
            value["encoding"] = json!(encoding);
            value["content"] = json!(content);
            ok(value)
        }
        Some(Entry::Dir(entries)) => ok(Value::Array(
            entries
                .iter()
                .map(|e| links.entry(e.kind, &e.name, &e.path, &e.sha, e.size))
                .collect(),
        )),
        None => Err(ApiError::not_found(doc::CONTENTS)),
    }
}

/// Base64 in 60-character lines, each ending in `\n`, exactly as the contents API wraps it.
fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

struct Links<'a> {
    model: &'a Model,
    repo: &'a RepoRecord,
    reference: &'a str,
}

impl Links<'_> {
    fn entry(&self, kind: &str, name: &str, path: &str, sha: &str, size: usize) -> Value {
        let full = self.repo.full_name();
        let api = format!("{}/repos/{full}", self.model.api);
        let path_url = encode_path(path);
        let reference = encode(self.reference);
        let url = format!("{api}/contents/{path_url}?ref={reference}");
        let (git_url, html_url) = if kind == "dir" {
            (
                format!("{api}/git/trees/{sha}"),
                format!("{WEB}/{full}/tree/{reference}/{path_url}"),
            )
        } else {
            (
                format!("{api}/git/blobs/{sha}"),
                format!("{WEB}/{full}/blob/{reference}/{path_url}"),
            )
        };
        let download_url = (kind == "file")
            .then(|| format!("https://raw.githubusercontent.com/{full}/{reference}/{path_url}"));
        json!({
            "type": kind,
            "size": size,
            "name": name,
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": download_url,
            "_links": { "self": url, "git": git_url, "html": html_url },
        })
    }
}

/// `GET …/collaborators/{user}/permission`. GitHub lets only callers with push access ask, says
/// 404 for a login that does not exist, and reports `read` for anybody on a public repository.
pub(super) async fn permission(
    State(shared): AppState,
    caller: Caller,
    Path((owner, repo, user)): Path<(String, String, String)>,
) -> ApiResult {
    let model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let record = model.repo(&key);
    if let Caller::User(login) = &caller
        && !matches!(model.permission(record, login).0, "admin" | "write")
    {
        return Err(ApiError::forbidden(
            "Must have push access to view collaborator permission.",
            doc::PERMISSION,
        ));
    }
    let user = model
        .user(&user)
        .ok_or_else(|| ApiError::not_found(doc::PERMISSION))?;
    let (permission, role) = model.permission(record, &user.login);
    let flags = |names: &[&str]| {
        let mut value = json!({});
        for flag in ["admin", "maintain", "push", "triage", "pull"] {
            value[flag] = json!(names.contains(&flag));
        }
        value
    };
    let permissions = match role.as_str() {
        "admin" => flags(&["admin", "maintain", "push", "triage", "pull"]),
        "maintain" => flags(&["maintain", "push", "triage", "pull"]),
        "write" => flags(&["push", "triage", "pull"]),
        "triage" => flags(&["triage", "pull"]),
        "read" => flags(&["pull"]),
        _ => flags(&[]),
    };
    let mut user_json = model.user_json(&user.login);
    user_json["permissions"] = permissions;
    user_json["role_name"] = json!(role);
    ok(json!({ "permission": permission, "role_name": role, "user": user_json }))
}
