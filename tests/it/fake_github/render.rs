//! The JSON GitHub sends for users, repositories, issues, comments, labels, reactions and Apps.
//!
//! Shapes follow the REST responses field for field (the webhook corpus in `shared/corpus` holds
//! the same objects), API URLs point back at the fake so a client may follow them, and web URLs
//! stay on github.com so anything Orion writes for humans reads as it would in production.

use serde_json::{Value, json};

use super::model::{
    CommentRecord, InstallationRecord, IssueRecord, LabelRecord, Model, ReactionRecord, RepoRecord,
    Time, UserKind,
};
use super::respond::encode;

pub(super) const WEB: &str = "https://github.com";

/// Adds `extra`'s fields to `target` (big objects are built in parts: `json!` recurses per field).
pub(super) fn extend(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

pub(super) fn time(t: &Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt_time(t: &Option<Time>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::String(time(t)))
}

/// A GitHub node id (`base64("0NN:TypeID")`), opaque to clients but shaped like the real thing.
pub(super) fn node_id(kind: &str, id: u64) -> String {
    use base64::Engine;
    let raw = format!("0{}:{kind}{id}", kind.len());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

pub(super) const REACTION_CONTENTS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

impl Model {
    pub(super) fn user_json(&self, login: &str) -> Value {
        let api = &self.api;
        let (id, login, kind) = match self.user(login) {
            Some(u) => (u.id, u.login.clone(), u.kind),
            None => (0, login.to_owned(), UserKind::User),
        };
        let path = encode(&login);
        let (html_url, avatar, kind_name) = match kind {
            UserKind::Bot => (
                format!("{WEB}/apps/{}", self.app.slug),
                format!(
                    "https://avatars.githubusercontent.com/in/{}?v=4",
                    self.app.id
                ),
                "Bot",
            ),
            UserKind::Organization => (
                format!("{WEB}/{login}"),
                format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
                "Organization",
            ),
            UserKind::User => (
                format!("{WEB}/{login}"),
                format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
                "User",
            ),
        };
        json!({
            "login": login,
            "id": id,
            "node_id": node_id(kind_name, id),
            "avatar_url": avatar,
            "gravatar_id": "",
            "url": format!("{api}/users/{path}"),
            "html_url": html_url,
            "followers_url": format!("{api}/users/{path}/followers"),
            "following_url": format!("{api}/users/{path}/following{{/other_user}}"),
            "gists_url": format!("{api}/users/{path}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/users/{path}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/users/{path}/subscriptions"),
            "organizations_url": format!("{api}/users/{path}/orgs"),
            "repos_url": format!("{api}/users/{path}/repos"),
            "events_url": format!("{api}/users/{path}/events{{/privacy}}"),
            "received_events_url": format!("{api}/users/{path}/received_events"),
            "type": kind_name,
            "user_view_type": "public",
            "site_admin": false,
        })
    }

    pub(super) fn repo_json(&self, repo: &RepoRecord) -> Value {
        let full = repo.full_name();
        let base = format!("{}/repos/{full}", self.api);
        let open_issues = repo.issues.values().filter(|i| i.state == "open").count();
        let mut value = json!({
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": full,
            "private": repo.private,
            "owner": self.user_json(&repo.owner),
            "html_url": format!("{WEB}/{full}"),
            "description": null,
            "fork": false,
            "url": base,
            "created_at": time(&repo.created_at),
            "updated_at": time(&repo.created_at),
            "pushed_at": time(&repo.created_at),
        });
        extend(
            &mut value,
            json!({
                "git_url": format!("git://github.com/{full}.git"),
                "ssh_url": format!("git@github.com:{full}.git"),
                "clone_url": format!("file://{}", repo.bare.display()),
                "svn_url": format!("{WEB}/{full}"),
                "homepage": null,
                "size": 0,
                "stargazers_count": 0,
                "watchers_count": 0,
                "language": null,
                "has_issues": true,
                "has_projects": true,
                "has_downloads": true,
                "has_wiki": true,
                "has_pages": false,
                "has_discussions": false,
                "forks_count": 0,
                "mirror_url": null,
                "archived": false,
                "disabled": false,
                "open_issues_count": open_issues,
                "license": null,
                "allow_forking": true,
                "is_template": false,
                "web_commit_signoff_required": false,
                "topics": [],
                "visibility": if repo.private { "private" } else { "public" },
                "forks": 0,
                "open_issues": open_issues,
                "watchers": 0,
                "default_branch": repo.default_branch,
            }),
        );
        for (key, suffix) in [
            ("forks_url", "/forks"),
            ("keys_url", "/keys{/key_id}"),
            ("collaborators_url", "/collaborators{/collaborator}"),
            ("teams_url", "/teams"),
            ("hooks_url", "/hooks"),
            ("issue_events_url", "/issues/events{/number}"),
            ("events_url", "/events"),
            ("assignees_url", "/assignees{/user}"),
            ("branches_url", "/branches{/branch}"),
            ("tags_url", "/tags"),
            ("blobs_url", "/git/blobs{/sha}"),
            ("git_tags_url", "/git/tags{/sha}"),
            ("git_refs_url", "/git/refs{/sha}"),
            ("trees_url", "/git/trees{/sha}"),
            ("statuses_url", "/statuses/{sha}"),
            ("languages_url", "/languages"),
            ("stargazers_url", "/stargazers"),
            ("contributors_url", "/contributors"),
            ("subscribers_url", "/subscribers"),
            ("subscription_url", "/subscription"),
            ("commits_url", "/commits{/sha}"),
            ("git_commits_url", "/git/commits{/sha}"),
            ("comments_url", "/comments{/number}"),
            ("issue_comment_url", "/issues/comments{/number}"),
            ("contents_url", "/contents/{+path}"),
            ("compare_url", "/compare/{base}...{head}"),
            ("merges_url", "/merges"),
            ("archive_url", "/{archive_format}{/ref}"),
            ("downloads_url", "/downloads"),
            ("issues_url", "/issues{/number}"),
            ("pulls_url", "/pulls{/number}"),
            ("milestones_url", "/milestones{/number}"),
            (
                "notifications_url",
                "/notifications{?since,all,participating}",
            ),
            ("labels_url", "/labels{/name}"),
            ("releases_url", "/releases{/id}"),
            ("deployments_url", "/deployments"),
        ] {
            value[key] = Value::String(format!("{base}{suffix}"));
        }
        value
    }

    pub(super) fn label_json(&self, repo: &RepoRecord, label: &LabelRecord) -> Value {
        json!({
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": format!("{}/repos/{}/labels/{}", self.api, repo.full_name(), encode(&label.name)),
            "name": label.name,
            "color": label.color,
            "default": false,
            "description": label.description,
        })
    }

    pub(super) fn issue_labels_json(&self, repo: &RepoRecord, issue: &IssueRecord) -> Vec<Value> {
        issue
            .labels
            .iter()
            .filter_map(|key| repo.labels.get(key))
            .map(|label| self.label_json(repo, label))
            .collect()
    }

    fn reactions_summary(url: String, reactions: &[ReactionRecord]) -> Value {
        let mut summary = json!({ "url": url, "total_count": reactions.len() });
        for content in REACTION_CONTENTS {
            summary[content] = reactions
                .iter()
                .filter(|r| r.content == content)
                .count()
                .into();
        }
        summary
    }

    pub(super) fn reaction_json(&self, reaction: &ReactionRecord) -> Value {
        json!({
            "id": reaction.id,
            "node_id": node_id("Reaction", reaction.id),
            "user": self.user_json(&reaction.user),
            "content": reaction.content,
            "created_at": time(&reaction.created_at),
        })
    }

    fn via_app(&self, via_app: bool) -> Value {
        if via_app {
            self.app_json()
        } else {
            Value::Null
        }
    }

    pub(super) fn issue_json(&self, repo: &RepoRecord, issue: &IssueRecord) -> Value {
        let base = format!("{}/repos/{}", self.api, repo.full_name());
        let url = format!("{base}/issues/{}", issue.number);
        let web = format!("{WEB}/{}", repo.full_name());
        let comments = repo
            .comments
            .values()
            .filter(|c| c.issue == issue.number)
            .count();
        let mut value = json!({
            "url": url,
            "repository_url": base,
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "html_url": format!("{web}/{}/{}", if issue.pull.is_some() { "pull" } else { "issues" }, issue.number),
            "id": issue.id,
            "node_id": node_id(if issue.pull.is_some() { "PullRequest" } else { "Issue" }, issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": self.user_json(&issue.author),
            "labels": self.issue_labels_json(repo, issue),
            "state": issue.state,
            "locked": false,
            "assignee": issue.assignees.first().map(|a| self.user_json(a)),
            "assignees": issue.assignees.iter().map(|a| self.user_json(a)).collect::<Vec<_>>(),
            "milestone": null,
            "comments": comments,
            "created_at": time(&issue.created_at),
            "updated_at": time(&issue.updated_at),
            "closed_at": opt_time(&issue.closed_at),
            "author_association": self.association(repo, &issue.author),
            "active_lock_reason": null,
            "body": issue.body,
            "closed_by": null,
            "reactions": Self::reactions_summary(format!("{url}/reactions"), &issue.reactions),
            "timeline_url": format!("{url}/timeline"),
            "performed_via_github_app": self.via_app(issue.via_app),
            "state_reason": if issue.state == "closed" { json!("completed") } else { Value::Null },
        });
        if let Some(pull) = &issue.pull {
            value["draft"] = pull.draft.into();
            value["pull_request"] = json!({
                "url": format!("{base}/pulls/{}", issue.number),
                "html_url": format!("{web}/pull/{}", issue.number),
                "diff_url": format!("{web}/pull/{}.diff", issue.number),
                "patch_url": format!("{web}/pull/{}.patch", issue.number),
                "merged_at": null,
            });
        }
        value
    }

    pub(super) fn comment_json(&self, repo: &RepoRecord, comment: &CommentRecord) -> Value {
        let base = format!("{}/repos/{}", self.api, repo.full_name());
        let url = format!("{base}/issues/comments/{}", comment.id);
        let kind = match repo.issues.get(&comment.issue) {
            Some(issue) if issue.pull.is_some() => "pull",
            _ => "issues",
        };
        json!({
            "url": url,
            "html_url": format!("{WEB}/{}/{kind}/{}#issuecomment-{}", repo.full_name(), comment.issue, comment.id),
            "issue_url": format!("{base}/issues/{}", comment.issue),
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "user": self.user_json(&comment.author),
            "created_at": time(&comment.created_at),
            "updated_at": time(&comment.updated_at),
            "author_association": self.association(repo, &comment.author),
            "body": comment.body,
            "reactions": Self::reactions_summary(format!("{url}/reactions"), &comment.reactions),
            "performed_via_github_app": self.via_app(comment.via_app),
        })
    }

    pub(super) fn app_json(&self) -> Value {
        let app = &self.app;
        json!({
            "id": app.id,
            "slug": app.slug,
            "node_id": node_id("App", app.id),
            "client_id": format!("Iv1.{:016x}", app.id),
            "owner": self.user_json(&app.owner),
            "name": app.slug,
            "description": "Orion under test",
            "external_url": format!("{WEB}/{}", app.owner),
            "html_url": format!("{WEB}/apps/{}", app.slug),
            "created_at": time(&app.created_at),
            "updated_at": time(&app.created_at),
            "permissions": app_permissions(),
            "events": ["check_run", "issue_comment", "issues", "pull_request", "pull_request_review", "pull_request_review_comment", "push"],
            "installations_count": self.installations.len(),
        })
    }

    pub(super) fn installation_json(&self, installation: &InstallationRecord) -> Value {
        let account = self.user(&installation.account);
        let target_type = match account.map(|u| u.kind) {
            Some(UserKind::Organization) => "Organization",
            _ => "User",
        };
        json!({
            "id": installation.id,
            "account": self.user_json(&installation.account),
            "repository_selection": "selected",
            "access_tokens_url": format!("{}/app/installations/{}/access_tokens", self.api, installation.id),
            "repositories_url": format!("{}/installation/repositories", self.api),
            "html_url": format!("{WEB}/settings/installations/{}", installation.id),
            "app_id": self.app.id,
            "app_slug": self.app.slug,
            "target_id": account.map_or(0, |u| u.id),
            "target_type": target_type,
            "permissions": app_permissions(),
            "events": ["check_run", "issue_comment", "issues", "pull_request", "pull_request_review", "pull_request_review_comment", "push"],
            "created_at": time(&installation.created_at),
            "updated_at": time(&installation.created_at),
            "single_file_name": null,
            "has_multiple_single_files": false,
            "single_file_paths": [],
            "suspended_by": null,
            "suspended_at": null,
        })
    }
}

/// What Orion's App asks for: enough to read code, talk on issues and PRs, and report checks.
pub(super) fn app_permissions() -> Value {
    json!({
        "checks": "write",
        "contents": "write",
        "issues": "write",
        "metadata": "read",
        "pull_requests": "write",
    })
}
