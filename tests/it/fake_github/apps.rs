//! GitHub App endpoints: the App itself, its installations, installation tokens, and `/user`.
//!
//! Token minting is where App authentication goes wrong in production (clock skew, expiry,
//! refresh), so tokens here really expire, their lifetime is configurable, and every mint is
//! counted per installation.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use chrono::Duration as ChronoDuration;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use super::auth::Caller;
use super::model::{TokenRecord, now};
use super::render::{app_permissions, time};
use super::respond::{ApiError, ApiResult, created, doc, ok, paginate, paginate_array, parse_body};
use super::server::AppState;

fn require_app(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::App => Ok(()),
        _ => Err(ApiError::unauthorized(
            "A JSON web token could not be decoded",
        )),
    }
}

pub(super) async fn get_app(State(shared): AppState, caller: Caller) -> ApiResult {
    require_app(&caller)?;
    ok(shared.model().app_json())
}

pub(super) async fn list_installations(
    State(shared): AppState,
    caller: Caller,
    uri: Uri,
) -> ApiResult {
    require_app(&caller)?;
    let model = shared.model();
    let items = model
        .installations
        .values()
        .map(|i| model.installation_json(i))
        .collect();
    paginate_array(&model.api, &uri, items)
}

/// A random token in GitHub's format (`ghs_` for installations, `ghp_` for personal tokens).
pub(super) fn mint(prefix: &str) -> String {
    let tail: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(36)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

pub(super) async fn create_token(
    State(shared): AppState,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    require_app(&caller)?;
    let documentation =
        "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
    let body = parse_body(&body, documentation)?;
    let mut model = shared.model();
    let installation = id
        .parse::<u64>()
        .ok()
        .filter(|id| model.installations.contains_key(id))
        .ok_or_else(|| ApiError::not_found(documentation))?;
    let granted = model.installations[&installation].repos.clone();
    let account = model.installations[&installation].account.clone();
    // A token may be narrowed to some of the installation's repositories, by name or by id.
    let mut subset: Option<BTreeSet<String>> = None;
    if let Some(names) = body.get("repositories").and_then(Value::as_array) {
        subset.get_or_insert_default().extend(
            names
                .iter()
                .filter_map(Value::as_str)
                .map(|n| format!("{account}/{n}").to_ascii_lowercase()),
        );
    }
    if let Some(ids) = body.get("repository_ids").and_then(Value::as_array) {
        let keys = ids.iter().filter_map(Value::as_u64).map(|id| {
            model
                .repos
                .iter()
                .find(|(_, r)| r.id == id)
                .map_or_else(|| format!("#{id}"), |(key, _)| key.clone())
        });
        subset.get_or_insert_default().extend(keys);
    }
    if subset
        .as_ref()
        .is_some_and(|wanted| !wanted.is_subset(&granted))
    {
        return Err(ApiError::invalid_request(
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            documentation,
        ));
    }
    let lifetime = ChronoDuration::from_std(model.token_lifetime).expect("a sane lifetime");
    let expires_at = now() + lifetime;
    let token = mint("ghs_");
    model.tokens.insert(
        token.clone(),
        TokenRecord::Installation {
            installation,
            expires_at,
            repos: subset.clone(),
        },
    );
    model
        .installations
        .get_mut(&installation)
        .expect("installation exists")
        .tokens_issued += 1;
    let mut answer = json!({
        "token": token,
        "expires_at": time(&expires_at),
        "permissions": app_permissions(),
        "repository_selection": "selected",
    });
    if let Some(subset) = subset {
        let repos: Vec<Value> = subset
            .iter()
            .filter_map(|key| model.repos.get(key))
            .map(|r| model.repo_json(r))
            .collect();
        answer["repositories"] = Value::Array(repos);
    }
    created(answer)
}

pub(super) async fn installation_repos(
    State(shared): AppState,
    caller: Caller,
    uri: Uri,
) -> ApiResult {
    let Caller::Installation { repos, .. } = &caller else {
        return Err(ApiError::forbidden(
            "You must authenticate with an installation access token in order to list repositories for an installation.",
            "https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation",
        ));
    };
    let model = shared.model();
    let items = repos
        .iter()
        .filter_map(|key| model.repos.get(key))
        .map(|r| model.repo_json(r))
        .collect();
    paginate(&model.api, &uri, items, |page, total| {
        json!({
            "total_count": total,
            "repository_selection": "selected",
            "repositories": page,
        })
    })
}

pub(super) async fn get_user(State(shared): AppState, caller: Caller) -> ApiResult {
    let Caller::User(login) = &caller else {
        return Err(ApiError::forbidden(
            "Resource not accessible by integration",
            doc::USER,
        ));
    };
    let model = shared.model();
    let mut user = model.user_json(login);
    let created_at = time(&model.app.created_at);
    for (key, value) in [
        ("name", Value::Null),
        ("company", Value::Null),
        ("blog", json!("")),
        ("location", Value::Null),
        ("email", Value::Null),
        ("hireable", Value::Null),
        ("bio", Value::Null),
        ("twitter_username", Value::Null),
        ("public_repos", json!(0)),
        ("public_gists", json!(0)),
        ("followers", json!(0)),
        ("following", json!(0)),
        ("created_at", json!(created_at)),
        ("updated_at", json!(created_at)),
    ] {
        user[key] = value;
    }
    ok(user)
}
