//! `POST /graphql`: the one GraphQL mutation Orion sends, `pinIssue`, in GitHub's shapes.
//!
//! GitHub answers GraphQL with HTTP 200 whether or not the operation worked: refusals come as an
//! `errors` array next to (possibly null) `data`. An unknown root field is a validation error
//! (`undefinedField`), an unknown node id a `NOT_FOUND` error, and a repository may have at most
//! three pinned issues.

use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::auth::Caller;
use super::model::RepoRecord;
use super::render::node_id;
use super::respond::{ApiError, ApiResult, doc, ok, parse_body, required_str};
use super::server::AppState;

/// GitHub's limit on pinned issues per repository.
const MAX_PINNED: usize = 3;

/// The first field of the operation's selection set: `pinIssue` in
/// `mutation PinIssue($issueId: ID!) { pinIssue(input: …) { … } }`.
fn root_field(query: &str) -> String {
    let after = query.split_once('{').map_or("", |(_, rest)| rest);
    after
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn error(kind: &str, path: &[&str], message: &str) -> Value {
    json!({
        "type": kind,
        "path": path,
        "locations": [{ "line": 1, "column": 40 }],
        "message": message,
    })
}

pub(super) async fn answer(State(shared): AppState, caller: Caller, body: Bytes) -> ApiResult {
    let request = parse_body(&body, doc::GRAPHQL)?;
    let query = required_str(&request, "query", doc::GRAPHQL)?;
    let field = root_field(query);
    if field != "pinIssue" {
        return ok(json!({
            "errors": [{
                "path": ["mutation", field],
                "extensions": { "code": "undefinedField", "typeName": "Mutation", "fieldName": field },
                "locations": [{ "line": 1, "column": 40 }],
                "message": format!("Field '{field}' doesn't exist on type 'Mutation'"),
            }]
        }));
    }
    let Some(issue_id) = request["variables"]["issueId"].as_str() else {
        return Err(ApiError::invalid_request(
            "Variable $issueId of type ID! was provided invalid value",
            doc::GRAPHQL,
        ));
    };
    let mut model = shared.model();
    let visible = |repo: &RepoRecord| match &caller {
        Caller::Installation { repos, .. } => {
            repos.contains(&repo.full_name().to_ascii_lowercase())
        }
        Caller::User(_) => true,
        Caller::App => false,
    };
    let found = model.repos.iter().find_map(|(key, repo)| {
        let number = repo
            .issues
            .values()
            .find(|i| node_id("Issue", i.id) == issue_id)?
            .number;
        visible(repo).then(|| (key.clone(), number))
    });
    let Some((key, number)) = found else {
        return ok(json!({
            "data": { "pinIssue": null },
            "errors": [error("NOT_FOUND", &["pinIssue"], &format!("Could not resolve to a node with the global id of '{issue_id}'"))],
        }));
    };
    let repo = model.repo_mut(&key);
    let pinned = repo.issues.values().filter(|i| i.pinned).count();
    let issue = repo.issues.get_mut(&number).expect("issue found above");
    if !issue.pinned && pinned >= MAX_PINNED {
        return ok(json!({
            "data": { "pinIssue": null },
            "errors": [error("UNPROCESSABLE", &["pinIssue"], "Repository already has 3 pinned issues")],
        }));
    }
    issue.pinned = true;
    ok(json!({ "data": { "pinIssue": { "issue": { "number": number, "isPinned": true } } } }))
}
