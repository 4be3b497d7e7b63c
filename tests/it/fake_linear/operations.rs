//! The operations the fake answers, by operation name. Each checks that the document asks for
//! the root field Linear would resolve and that the variables have the types the schema
//! declares, then answers from the model in Linear's response shape.

use serde_json::{Value, json};

use super::model::{CommentRec, GqlError, Model, new_id};

type Answer = Result<Value, GqlError>;

/// The operation's `data`, or the error Linear would give. `viewer` is the caller's user id.
pub(super) fn answer(
    model: &mut Model,
    viewer: &str,
    operation: &str,
    document: &str,
    variables: &Value,
) -> Answer {
    let root = match operation {
        "Viewer" => "viewer",
        "IssueRead" | "IssueComments" => "issue(id: $id)",
        "CommentCreate" => "commentCreate(input: $input)",
        "CommentUpdate" => "commentUpdate(id: $id, input: $input)",
        "TeamStates" => "team(id: $id)",
        "IssueSetState" => "issueUpdate(id: $id, input: $input)",
        "LabelsByName" => "issueLabels(",
        "IssueAddLabel" => "issueAddLabel(id: $id, labelId: $labelId)",
        "IssuesLabelled" => "issues(first: $first, after: $after, filter:",
        other => {
            return Err(GqlError::validation(format!(
                "Unknown operation \"{other}\": the fake Linear answers Viewer, IssueRead, \
                 IssueComments, CommentCreate, CommentUpdate, TeamStates, IssueSetState, \
                 LabelsByName, IssueAddLabel and IssuesLabelled"
            )));
        }
    };
    if !document.contains(root) {
        return Err(GqlError::validation(format!(
            "{operation} does not select {root}"
        )));
    }
    match operation {
        "Viewer" => {
            let u = &model.users[viewer];
            Ok(json!({ "viewer": { "id": u.id, "name": u.name, "displayName": u.display_name } }))
        }
        "IssueRead" => {
            let id = string(variables, "id")?;
            let issue = model
                .find_issue(&id)
                .ok_or_else(|| GqlError::not_found("Issue"))?;
            Ok(json!({ "issue": model.issue_json(issue) }))
        }
        "IssueComments" => issue_comments(model, variables),
        "IssuesLabelled" => issues_labelled(model, document, variables),
        "CommentCreate" => {
            let input = object(variables, "input")?;
            let issue_id = string(&input, "issueId")?;
            let body = string(&input, "body")?;
            let issue = model
                .find_issue(&issue_id)
                .ok_or_else(|| GqlError::not_found("Issue"))?
                .id
                .clone();
            let now = model.tick();
            let comment = CommentRec {
                id: new_id(),
                issue_id: issue,
                body,
                user_id: viewer.to_owned(),
                created_at: now.clone(),
                updated_at: now,
            };
            let rendered = model.comment_json(&comment);
            model.comments.push(comment);
            Ok(json!({ "commentCreate": { "success": true, "comment": rendered } }))
        }
        "CommentUpdate" => {
            let id = string(variables, "id")?;
            let body = string(&object(variables, "input")?, "body")?;
            let now = model.tick();
            let comment = model
                .comments
                .iter_mut()
                .find(|c| c.id == id)
                .ok_or_else(|| GqlError::not_found("Comment"))?;
            if comment.user_id != viewer {
                return Err(GqlError::forbidden("You can only edit your own comments"));
            }
            comment.body = body;
            comment.updated_at = now;
            let comment = comment.clone();
            Ok(
                json!({ "commentUpdate": { "success": true, "comment": model.comment_json(&comment) } }),
            )
        }
        "TeamStates" => {
            let id = string(variables, "id")?;
            let team = model
                .team(&id)
                .or_else(|| model.team_by_key(&id))
                .ok_or_else(|| GqlError::not_found("Team"))?;
            let nodes: Vec<Value> = team.states.iter().map(Model::state_json).collect();
            Ok(json!({ "team": { "id": team.id, "key": team.key, "states": { "nodes": nodes } } }))
        }
        "IssueSetState" => {
            let id = string(variables, "id")?;
            let state_id = string(&object(variables, "input")?, "stateId")?;
            let issue = model
                .find_issue(&id)
                .ok_or_else(|| GqlError::not_found("Issue"))?;
            let issue_id = issue.id.clone();
            let team = model.team(&issue.team_id).expect("issues belong to teams");
            let Some(state) = team.states.iter().find(|s| s.id == state_id).cloned() else {
                return Err(GqlError::invalid_input(
                    "Argument Validation Error",
                    "The workflow state does not belong to the issue's team.",
                ));
            };
            let now = model.tick();
            let issue = model.issues.get_mut(&issue_id).expect("found above");
            issue.state_id = state.id.clone();
            issue.updated_at = now;
            Ok(json!({ "issueUpdate": { "success": true,
                "issue": { "id": issue_id, "state": Model::state_json(&state) } } }))
        }
        "LabelsByName" => {
            let names = variables
                .get("names")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("names", "[String!]!"))?;
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            let nodes: Vec<Value> = model
                .labels
                .iter()
                .filter(|l| names.contains(&l.name.as_str()))
                .map(|l| {
                    json!({ "id": l.id, "name": l.name,
                        "team": l.team_id.as_ref().map(|t| json!({ "id": t })) })
                })
                .collect();
            Ok(json!({ "issueLabels": { "nodes": nodes } }))
        }
        "IssueAddLabel" => {
            let id = string(variables, "id")?;
            let label_id = string(variables, "labelId")?;
            let issue = model
                .find_issue(&id)
                .ok_or_else(|| GqlError::not_found("Issue"))?;
            let (issue_id, team_id) = (issue.id.clone(), issue.team_id.clone());
            let label = model
                .labels
                .iter()
                .find(|l| l.id == label_id)
                .ok_or_else(|| GqlError::not_found("IssueLabel"))?;
            if label.team_id.as_ref().is_some_and(|t| *t != team_id) {
                return Err(GqlError::invalid_input(
                    "Argument Validation Error",
                    "The label belongs to another team.",
                ));
            }
            let now = model.tick();
            let issue = model.issues.get_mut(&issue_id).expect("found above");
            if !issue.label_ids.contains(&label_id) {
                issue.label_ids.push(label_id);
                issue.updated_at = now;
            }
            let ids = issue.label_ids.clone();
            Ok(json!({ "issueAddLabel": { "success": true,
                "issue": { "id": issue_id, "labels": model.labels_json(&ids) } } }))
        }
        _ => unreachable!("operations are listed above"),
    }
}

fn issue_comments(model: &Model, variables: &Value) -> Answer {
    let id = string(variables, "id")?;
    let first = variables
        .get("first")
        .and_then(Value::as_u64)
        .ok_or_else(|| missing("first", "Int!"))? as usize;
    if first > 250 {
        return Err(GqlError::invalid_input(
            "Argument Validation Error",
            "first must be at most 250",
        ));
    }
    let after = variables.get("after").and_then(Value::as_str);
    let issue = model
        .find_issue(&id)
        .ok_or_else(|| GqlError::not_found("Issue"))?;
    let all: Vec<&CommentRec> = model
        .comments
        .iter()
        .filter(|c| c.issue_id == issue.id)
        .collect();
    let start = match after {
        Some(cursor) => all.iter().position(|c| c.id == cursor).map_or(0, |i| i + 1),
        None => 0,
    };
    let page: Vec<&CommentRec> = all.iter().skip(start).take(first).copied().collect();
    let has_next = start + page.len() < all.len();
    let nodes: Vec<Value> = page.iter().map(|c| model.comment_json(c)).collect();
    Ok(json!({ "issue": { "comments": {
        "nodes": nodes,
        "pageInfo": { "hasNextPage": has_next, "endCursor": page.last().map(|c| c.id.clone()) }
    } } }))
}

/// `issues(filter:)` as the sweep asks it: label name (any case), `updatedAt` after `$since`,
/// state type not completed or canceled; ordered by creation, paged by issue id.
fn issues_labelled(model: &Model, document: &str, variables: &Value) -> Answer {
    for part in [
        "labels: { name: { eqIgnoreCase: $label } }",
        "updatedAt: { gt: $since }",
        r#"state: { type: { nin: ["completed", "canceled"] } }"#,
    ] {
        if !document.contains(part) {
            return Err(GqlError::validation(format!(
                "the fake answers IssuesLabelled only with the filter part {part}"
            )));
        }
    }
    let label = string(variables, "label")?.to_lowercase();
    let since = string(variables, "since")?;
    let since = chrono::DateTime::parse_from_rfc3339(&since)
        .map_err(|e| GqlError::invalid_input("Argument Validation Error", format!("since: {e}")))?;
    let first = variables
        .get("first")
        .and_then(Value::as_u64)
        .ok_or_else(|| missing("first", "Int!"))? as usize;
    let after = variables.get("after").and_then(Value::as_str);
    let mut all: Vec<_> = model
        .issues
        .values()
        .filter(|i| {
            let state = model
                .team(&i.team_id)
                .and_then(|t| t.states.iter().find(|s| s.id == i.state_id))
                .map(|s| s.kind.as_str());
            i.label_ids.iter().any(|id| {
                model
                    .labels
                    .iter()
                    .any(|l| &l.id == id && l.name.to_lowercase() == label)
            }) && chrono::DateTime::parse_from_rfc3339(&i.updated_at).is_ok_and(|u| u > since)
                && !matches!(state, Some("completed" | "canceled"))
        })
        .collect();
    all.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    let start = match after {
        Some(cursor) => all.iter().position(|i| i.id == cursor).map_or(0, |i| i + 1),
        None => 0,
    };
    let page: Vec<_> = all.iter().skip(start).take(first).collect();
    let has_next = start + page.len() < all.len();
    let nodes: Vec<Value> = page.iter().map(|i| model.issue_json(i)).collect();
    Ok(json!({ "issues": {
        "nodes": nodes,
        "pageInfo": { "hasNextPage": has_next, "endCursor": page.last().map(|i| i.id.clone()) }
    } }))
}

fn missing(name: &str, ty: &str) -> GqlError {
    GqlError::validation(format!(
        "Variable \"${name}\" of required type \"{ty}\" was not provided."
    ))
}

fn string(from: &Value, name: &str) -> Result<String, GqlError> {
    from.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| missing(name, "String!"))
}

fn object(from: &Value, name: &str) -> Result<Value, GqlError> {
    from.get(name)
        .filter(|v| v.is_object())
        .cloned()
        .ok_or_else(|| missing(name, "Input!"))
}
