//! Reactions on issues and issue comments.
//!
//! Orion acknowledges work with a reaction, and retries must not stack them: GitHub answers 200
//! with the existing reaction when the same user reacts the same way twice, 201 when it is new.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};

use super::auth::Caller;
use super::issues::parse_number;
use super::model::{Model, ReactionRecord, now};
use super::render::REACTION_CONTENTS;
use super::respond::{
    ApiError, ApiResult, doc, json_response, paginate_array, parse_body, query_param, required_str,
};
use super::server::AppState;

/// What a reaction is attached to.
#[derive(Clone, Copy)]
enum Target {
    Issue(u64),
    Comment(u64),
}

type RepoPath = Path<(String, String, String)>;

impl Model {
    fn reactions_mut(&mut self, key: &str, target: Target) -> Option<&mut Vec<ReactionRecord>> {
        let repo = self.repo_mut(key);
        match target {
            Target::Issue(n) => repo.issues.get_mut(&n).map(|i| &mut i.reactions),
            Target::Comment(id) => repo.comments.get_mut(&id).map(|c| &mut c.reactions),
        }
    }

    /// Adds a reaction unless this user already reacted this way; `true` when it is new.
    fn add_reaction(
        &mut self,
        key: &str,
        target: Target,
        user: &str,
        content: &str,
    ) -> Option<(bool, ReactionRecord)> {
        let id = self.next_id();
        let reactions = self.reactions_mut(key, target)?;
        if let Some(existing) = reactions
            .iter()
            .find(|r| r.user.eq_ignore_ascii_case(user) && r.content == content)
        {
            return Some((false, existing.clone()));
        }
        let reaction = ReactionRecord {
            id,
            user: user.to_owned(),
            content: content.to_owned(),
            created_at: now(),
        };
        reactions.push(reaction.clone());
        Some((true, reaction))
    }
}

fn target(kind: fn(u64) -> Target, raw: &str) -> Result<Target, ApiError> {
    parse_number(raw, doc::REACTIONS).map(kind)
}

async fn list(
    shared: AppState,
    caller: Caller,
    (owner, repo, raw): (String, String, String),
    kind: fn(u64) -> Target,
    uri: Uri,
) -> ApiResult {
    let State(shared) = shared;
    let target = target(kind, &raw)?;
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let wanted = query_param(&uri, "content");
    let reactions = model
        .reactions_mut(&key, target)
        .ok_or_else(|| ApiError::not_found(doc::REACTIONS))?
        .clone();
    let items = reactions
        .iter()
        .filter(|r| wanted.as_deref().is_none_or(|c| c == r.content))
        .map(|r| model.reaction_json(r))
        .collect();
    paginate_array(&model.api, &uri, items)
}

async fn create(
    shared: AppState,
    caller: Caller,
    (owner, repo, raw): (String, String, String),
    kind: fn(u64) -> Target,
    body: Bytes,
) -> ApiResult {
    let State(shared) = shared;
    let target = target(kind, &raw)?;
    let request = parse_body(&body, doc::REACTIONS)?;
    let content = required_str(&request, "content", doc::REACTIONS)?;
    if !REACTION_CONTENTS.contains(&content) {
        let members: Vec<String> = REACTION_CONTENTS.iter().map(|c| format!("{c:?}")).collect();
        return Err(ApiError::invalid_request(
            &format!(
                "For 'properties/content', {content:?} is not a member of [{}].",
                members.join(", ")
            ),
            doc::REACTIONS,
        ));
    }
    let mut model = shared.model();
    let key = model.visible_repo(&caller, &owner, &repo)?;
    let user = model.actor(&caller);
    let (new, reaction) = model
        .add_reaction(&key, target, &user, content)
        .ok_or_else(|| ApiError::not_found(doc::REACTIONS))?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &model.reaction_json(&reaction)))
}

pub(super) async fn list_issue(
    shared: AppState,
    caller: Caller,
    Path(path): RepoPath,
    uri: Uri,
) -> ApiResult {
    list(shared, caller, path, Target::Issue, uri).await
}

pub(super) async fn create_issue(
    shared: AppState,
    caller: Caller,
    Path(path): RepoPath,
    body: Bytes,
) -> ApiResult {
    create(shared, caller, path, Target::Issue, body).await
}

pub(super) async fn list_comment(
    shared: AppState,
    caller: Caller,
    Path(path): RepoPath,
    uri: Uri,
) -> ApiResult {
    list(shared, caller, path, Target::Comment, uri).await
}

pub(super) async fn create_comment(
    shared: AppState,
    caller: Caller,
    Path(path): RepoPath,
    body: Bytes,
) -> ApiResult {
    create(shared, caller, path, Target::Comment, body).await
}

/// Reactions as `(user, content)` pairs, for the test-facing views.
pub(super) fn pairs(reactions: &[ReactionRecord]) -> Vec<(String, String)> {
    reactions
        .iter()
        .map(|r| (r.user.clone(), r.content.clone()))
        .collect::<Vec<_>>()
}
