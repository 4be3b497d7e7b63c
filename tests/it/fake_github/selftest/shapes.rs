//! Every endpoint's answer, fetched through octocrab, deserializes into octocrab's model.

use base64::Engine;
use http::Method;
use octocrab::models::checks::{CheckRun, ListCheckRuns};
use octocrab::models::issues::{Comment, Issue};
use octocrab::models::reactions::Reaction;
use octocrab::models::repos::{Content, RepoPermission};
use octocrab::models::{
    App, AppId, Author, Installation, InstallationId, InstallationToken, Label, Repository,
};
use serde::Deserialize;
use serde_json::json;

use super::{LIB, get, message, scene, send, token_client};
use crate::fake_github::{CheckRunView, CommentView};

#[tokio::test]
async fn app_endpoints_answer_in_octocrab_models() {
    let s = scene().await;
    let creds = s.fake.app_credentials();

    let app: App = get(&s.app, "/app").await;
    assert_eq!(app.id, AppId(creds.app_id));
    assert_eq!(app.slug.as_deref(), Some(creds.slug.as_str()));

    let installations: Vec<Installation> = get(&s.app, "/app/installations").await;
    assert_eq!(installations.len(), 1);
    assert_eq!(installations[0].id, InstallationId(s.installation));
    assert_eq!(installations[0].account.login, "octo");

    let path = format!("/app/installations/{}/access_tokens", s.installation);
    let minted = send(&s.app, Method::POST, &path, None).await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    let token: InstallationToken = minted.json();
    assert!(token.token.starts_with("ghs_"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(&token.expires_at.expect("expiry")).expect("RFC 3339");
    let lifetime = expires.to_utc() - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::hours(1));
    assert_eq!(s.fake.tokens_issued(s.installation), 1);

    #[derive(Deserialize)]
    struct InstallationRepositories {
        total_count: u64,
        repositories: Vec<Repository>,
    }
    let listed: InstallationRepositories = get(&s.bot, "/installation/repositories").await;
    assert_eq!(listed.total_count, 1);
    assert_eq!(
        listed.repositories[0].full_name.as_deref(),
        Some("octo/widgets")
    );

    let alice = token_client(&s.fake, &s.fake.personal_token("alice"));
    let me = send(&alice, Method::GET, "/user", None).await;
    assert_eq!(me.header("x-oauth-scopes"), "repo");
    assert_eq!(me.json::<Author>().login, "alice");
    assert_eq!(
        alice.current().user().await.expect("typed /user").login,
        "alice"
    );
    let bot_user = send(&s.bot, Method::GET, "/user", None).await;
    assert_eq!(bot_user.status, 403);
    assert_eq!(message(&bot_user), "Resource not accessible by integration");
}

#[tokio::test]
async fn issue_conversation_answers_in_octocrab_models() {
    let s = scene().await;
    let number = s
        .fake
        .issue("octo/widgets", "alice", "Widgets wobble", "They wobble.");
    let issue: Issue = get(&s.bot, &format!("/repos/octo/widgets/issues/{number}")).await;
    assert_eq!((issue.number, issue.user.login.as_str()), (1, "alice"));
    assert!(issue.pull_request.is_none());

    // The typed octocrab call production code makes, and the raw answer behind it.
    let posted = s
        .bot
        .issues("octo", "widgets")
        .create_comment(number, "On it.")
        .await
        .expect("comment posted");
    assert_eq!(posted.user.login, s.fake.bot_login());
    assert_eq!(posted.user.r#type, "Bot");
    let listed: Vec<Comment> = get(&s.bot, "/repos/octo/widgets/issues/1/comments").await;
    assert_eq!(listed.len(), 1);
    let path = format!("/repos/octo/widgets/issues/comments/{}", posted.id);
    let edited = send(
        &s.bot,
        Method::PATCH,
        &path,
        Some(json!({ "body": "Done." })),
    )
    .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.json::<Comment>().body.as_deref(), Some("Done."));
    let fetched: Comment = get(&s.bot, &path).await;
    assert_eq!(fetched.body.as_deref(), Some("Done."));

    let human = s
        .fake
        .comment_as("octo/widgets", number, "alice", "Thanks!");
    let reacted = format!("/repos/octo/widgets/issues/comments/{human}/reactions");
    let first = send(
        &s.bot,
        Method::POST,
        &reacted,
        Some(json!({ "content": "heart" })),
    )
    .await;
    let again = send(
        &s.bot,
        Method::POST,
        &reacted,
        Some(json!({ "content": "heart" })),
    )
    .await;
    assert_eq!((first.status, again.status), (201, 200));
    assert_eq!(first.json::<Reaction>().id, again.json::<Reaction>().id);
    let issue_reactions = "/repos/octo/widgets/issues/1/reactions";
    let eyes = send(
        &s.bot,
        Method::POST,
        issue_reactions,
        Some(json!({ "content": "eyes" })),
    )
    .await;
    assert_eq!(eyes.status, 201);
    let bogus = send(
        &s.bot,
        Method::POST,
        issue_reactions,
        Some(json!({ "content": "smile" })),
    )
    .await;
    assert_eq!(bogus.status, 422);
    let listed: Vec<Reaction> = get(&s.bot, issue_reactions).await;
    assert_eq!(listed.len(), 1);

    let labels_path = "/repos/octo/widgets/issues/1/labels";
    let body = json!({ "labels": ["bug", "needs triage"] });
    let added = send(&s.bot, Method::POST, labels_path, Some(body.clone())).await;
    let labels: Vec<Label> = added.json();
    assert_eq!(
        labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["bug", "needs triage"]
    );
    assert_eq!(labels[0].color, "ededed");
    let twice: Vec<Label> = send(&s.bot, Method::POST, labels_path, Some(body))
        .await
        .json();
    assert_eq!(twice.len(), 2);
    let removed = send(
        &s.bot,
        Method::DELETE,
        "/repos/octo/widgets/issues/1/labels/needs%20triage",
        None,
    )
    .await;
    assert_eq!(removed.json::<Vec<Label>>().len(), 1);
    let missing = send(
        &s.bot,
        Method::DELETE,
        "/repos/octo/widgets/issues/1/labels/needs%20triage",
        None,
    )
    .await;
    assert_eq!(
        (missing.status, message(&missing)),
        (404, "Label does not exist".to_owned())
    );
    let _: Vec<Label> = get(&s.bot, labels_path).await;

    // A human deletes the bot's comment; editing it now fails the way GitHub fails.
    s.fake.delete_comment("octo/widgets", posted.id.0);
    let gone = send(
        &s.bot,
        Method::PATCH,
        &path,
        Some(json!({ "body": "Again." })),
    )
    .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.value()["status"], "404");
    assert!(
        gone.value()["documentation_url"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.github.com/rest")
    );
    let deleted = send(
        &s.bot,
        Method::DELETE,
        &format!("/repos/octo/widgets/issues/comments/{human}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);

    assert_eq!(
        s.fake.comments("octo/widgets", 1),
        Vec::<CommentView>::new()
    );
    assert_eq!(s.fake.labels("octo/widgets", 1), ["bug"]);
    assert_eq!(
        s.fake.reactions("octo/widgets", 1),
        [("orion-bot[bot]".to_owned(), "eyes".to_owned())]
    );
    assert_eq!(
        s.fake.comment_reactions("octo/widgets", human),
        Vec::<(String, String)>::new(),
        "gone with its comment"
    );
    assert!(s.fake.unexpected().is_empty());
}

#[tokio::test]
async fn contents_are_read_from_the_bare_repository() {
    let s = scene().await;
    let file: Content = get(&s.bot, "/repos/octo/widgets/contents/src/lib.rs").await;
    assert_eq!(file.decoded_content().as_deref(), Some(LIB));
    assert_eq!(
        (file.r#type.as_str(), file.encoding.as_deref()),
        ("file", Some("base64"))
    );
    let blob = git2::Repository::open_bare(&s.repo.bare)
        .unwrap()
        .revparse_single("main:src/lib.rs")
        .unwrap()
        .id()
        .to_string();
    assert_eq!(file.sha, blob);
    let wrapped = file.content.expect("inline content");
    assert!(wrapped.ends_with('\n') && wrapped.lines().all(|l| l.len() <= 60));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(wrapped.replace('\n', ""))
        .unwrap();
    assert_eq!(raw, LIB.as_bytes());

    let root: Vec<Content> = get(&s.bot, "/repos/octo/widgets/contents").await;
    let names: Vec<(&str, &str)> = root
        .iter()
        .map(|c| (c.name.as_str(), c.r#type.as_str()))
        .collect();
    assert_eq!(names, [("README.md", "file"), ("src", "dir")]);
    let dir: Vec<Content> = get(&s.bot, "/repos/octo/widgets/contents/src").await;
    assert_eq!(dir[0].path, "src/lib.rs");

    s.repo.commit_on(
        "feature",
        &[("README.md", "# Widgets, improved\n")],
        "Improve README",
    );
    let mut items = s
        .bot
        .repos("octo", "widgets")
        .get_content()
        .path("README.md")
        .r#ref("feature")
        .send()
        .await
        .expect("typed contents call");
    let on_feature = items.take_items().remove(0);
    assert_eq!(
        on_feature.decoded_content().as_deref(),
        Some("# Widgets, improved\n")
    );
    let on_main: Content = get(&s.bot, "/repos/octo/widgets/contents/README.md").await;
    assert_eq!(on_main.decoded_content().as_deref(), Some("# Widgets\n"));

    let missing = send(
        &s.bot,
        Method::GET,
        "/repos/octo/widgets/contents/nope.md",
        None,
    )
    .await;
    assert_eq!(
        (missing.status, message(&missing)),
        (404, "Not Found".to_owned())
    );
    let no_ref = send(
        &s.bot,
        Method::GET,
        "/repos/octo/widgets/contents/README.md?ref=nope",
        None,
    )
    .await;
    assert_eq!(message(&no_ref), "No commit found for the ref nope");
}

#[tokio::test]
async fn check_runs_are_written_by_apps_only() {
    let s = scene().await;
    let head = s.repo.branch_sha("main").unwrap();
    let created = send(
        &s.bot,
        Method::POST,
        "/repos/octo/widgets/check-runs",
        Some(json!({
            "name": "orion",
            "head_sha": head,
            "status": "in_progress",
            "external_id": "job-7",
            "output": { "title": "Working", "summary": "Started" },
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let run: CheckRun = created.json();
    let path = format!("/repos/octo/widgets/check-runs/{}", run.id);
    let done = send(
        &s.bot,
        Method::PATCH,
        &path,
        Some(json!({ "conclusion": "success", "output": { "title": "Done", "summary": "All good", "text": "Details" } })),
    )
    .await;
    let done: CheckRun = done.json();
    assert_eq!(done.conclusion.as_deref(), Some("success"));
    assert!(done.completed_at.is_some());
    let listed: ListCheckRuns = get(
        &s.bot,
        "/repos/octo/widgets/commits/main/check-runs?check_name=orion",
    )
    .await;
    assert_eq!(listed.total_count, 1);
    let _: CheckRun = get(&s.bot, &path).await;

    let unfinished = send(
        &s.bot,
        Method::PATCH,
        &path,
        Some(json!({ "status": "completed", "conclusion": null })),
    )
    .await;
    assert_eq!(
        unfinished.status, 200,
        "a run that already has a conclusion stays completed"
    );
    let no_commit = send(
        &s.bot,
        Method::POST,
        "/repos/octo/widgets/check-runs",
        Some(json!({ "name": "x", "head_sha": "0".repeat(40) })),
    )
    .await;
    assert_eq!(
        (no_commit.status, message(&no_commit)),
        (422, format!("No commit found for SHA: {}", "0".repeat(40)))
    );
    let incomplete = send(
        &s.bot,
        Method::POST,
        "/repos/octo/widgets/check-runs",
        Some(json!({ "name": "x", "head_sha": head, "status": "completed" })),
    )
    .await;
    assert_eq!(incomplete.status, 422);
    let too_long = send(
        &s.bot,
        Method::PATCH,
        &path,
        Some(json!({ "output": { "title": "t", "summary": "x".repeat(65536) } })),
    )
    .await;
    assert_eq!(
        message(&too_long),
        "Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied."
    );

    let alice = token_client(&s.fake, &s.fake.personal_token("alice"));
    let human = send(
        &alice,
        Method::POST,
        "/repos/octo/widgets/check-runs",
        Some(json!({ "name": "x", "head_sha": head })),
    )
    .await;
    assert_eq!(
        (human.status, message(&human)),
        (403, "You must authenticate via a GitHub App.".to_owned())
    );

    assert_eq!(
        s.fake.check_runs("octo/widgets"),
        [CheckRunView {
            id: run.id.0,
            name: "orion".to_owned(),
            head_sha: head,
            status: "completed".to_owned(),
            conclusion: Some("success".to_owned()),
            external_id: Some("job-7".to_owned()),
            title: Some("Done".to_owned()),
            summary: Some("All good".to_owned()),
            text: Some("Details".to_owned()),
        }]
    );
}

#[tokio::test]
async fn repository_and_permissions_mirror_github() {
    let s = scene().await;
    let repo: Repository = get(&s.bot, &format!("/repos/{}", s.repo.full_name)).await;
    assert_eq!(repo.full_name.as_deref(), Some("octo/widgets"));
    assert_eq!(repo.default_branch.as_deref(), Some("main"));
    assert_eq!(
        repo.clone_url.map(|u| u.to_string()),
        Some(s.repo.clone_url.clone())
    );
    assert_eq!(repo.owner.map(|o| o.login).as_deref(), Some("octo"));

    s.fake.grant("octo/widgets", "bob", "maintain");
    let alice = token_client(&s.fake, &s.fake.personal_token("alice"));

    let owner: RepoPermission =
        get(&s.bot, "/repos/octo/widgets/collaborators/octo/permission").await;
    assert_eq!(owner.role_name, "admin");

    #[derive(Deserialize)]
    struct Permission {
        permission: String,
        role_name: String,
        user: Author,
    }
    let bob = send(
        &s.bot,
        Method::GET,
        "/repos/octo/widgets/collaborators/bob/permission",
        None,
    )
    .await;
    let parsed: Permission = bob.json();
    assert_eq!(
        (
            parsed.permission.as_str(),
            parsed.role_name.as_str(),
            parsed.user.login.as_str()
        ),
        ("write", "maintain", "bob")
    );
    // octocrab 0.54 types `permission` as pull/push/admin/…, so GitHub's real "write" does not
    // fit it: production code must not rely on the typed call for anyone but admins.
    assert!(serde_json::from_str::<RepoPermission>(&bob.body).is_err());
    let stranger: Permission =
        get(&s.bot, "/repos/octo/widgets/collaborators/alice/permission").await;
    assert_eq!(
        stranger.permission, "read",
        "everybody reads a public repository"
    );
    let ghost = send(
        &s.bot,
        Method::GET,
        "/repos/octo/widgets/collaborators/ghost/permission",
        None,
    )
    .await;
    assert_eq!(ghost.status, 404);
    let nosy = send(
        &alice,
        Method::GET,
        "/repos/octo/widgets/collaborators/bob/permission",
        None,
    )
    .await;
    assert_eq!(
        message(&nosy),
        "Must have push access to view collaborator permission."
    );

    s.fake.repo("octo/secret").private().create();
    s.fake.grant("octo/secret", "bob", "read");
    let hidden = send(&alice, Method::GET, "/repos/octo/secret", None).await;
    assert_eq!(
        hidden.status, 404,
        "private repositories do not leak their existence"
    );
    let bob_client = token_client(&s.fake, &s.fake.personal_token("bob"));
    let _: Repository = get(&bob_client, "/repos/octo/secret").await;
}
