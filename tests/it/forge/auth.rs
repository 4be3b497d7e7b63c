//! Signing in: App JWT → installation tokens (cached, refreshed before expiry), a personal access
//! token, a GitHub Enterprise API root, and `orion check` listing what the credentials reach.

use std::time::Duration;

use orion_bot::config::Secret;
use orion_bot::event::{InstallationId, IssueNumber, RepoName};
use orion_bot::forge::github::{Effects, ForgeError, GitHubCredentials, Permission};
use orion_bot::forge::{GitHub, Journal};

use super::{REPO, World, test_config};
use crate::fake_github::keys;

#[tokio::test]
async fn the_app_mints_one_installation_token_and_reuses_it() {
    let w = World::start().await;
    let issue = w
        .fake
        .issue(REPO, "alice", "Widgets are blue", "They should be red.");
    let repo = w.repo();
    for _ in 0..3 {
        let read = repo.issue(IssueNumber(issue)).await.unwrap();
        assert_eq!(read.title, "Widgets are blue");
    }
    assert_eq!(w.fake.tokens_issued(w.installation), 1);
    // The token git pushes with is that same cached token while it has over 5 minutes left.
    let token = w.github.git_token(w.installation_id()).await.unwrap();
    assert!(token.expose().starts_with("ghs_"), "an installation token");
    assert_eq!(w.fake.tokens_issued(w.installation), 1);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let w = World::start().await;
    let issue = w.fake.issue(REPO, "alice", "t", "b");
    // 20 s left is inside octocrab's 30 s margin: every call mints a fresh token rather than
    // risk one that expires mid-request.
    w.fake.set_token_lifetime(Duration::from_secs(20));
    let repo = w.repo();
    repo.issue(IssueNumber(issue)).await.unwrap();
    repo.issue(IssueNumber(issue)).await.unwrap();
    assert_eq!(w.fake.tokens_issued(w.installation), 2);

    // Git needs longer (a push of a big branch): under github.token_refresh_margin_s (300 s)
    // left, the token is replaced even though API calls would still use it.
    w.fake.set_token_lifetime(Duration::from_secs(200));
    let first = w.github.git_token(w.installation_id()).await.unwrap();
    let second = w.github.git_token(w.installation_id()).await.unwrap();
    assert_ne!(first.expose(), second.expose());
    assert_eq!(w.fake.tokens_issued(w.installation), 4);
}

#[tokio::test]
async fn a_wrong_app_key_is_an_authorisation_error_not_a_retry_loop() {
    let w = World::start().await;
    let issue = w.fake.issue(REPO, "alice", "t", "b");
    let stranger = keys::generate();
    let github = GitHub::new(
        &test_config(&w.fake),
        &GitHubCredentials::App {
            app_id: w.fake.app_credentials().app_id,
            private_key: Secret::new(stranger.private_pem.clone()),
        },
    )
    .unwrap();
    let err = github
        .repo(w.installation_id(), &RepoName(REPO.into()))
        .unwrap()
        .issue(IssueNumber(issue))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("installation token"), "{err}");
    let mints = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/access_tokens"))
        .count();
    assert_eq!(mints, 1, "a 401 is final");
}

#[tokio::test]
async fn a_repository_outside_the_installation_is_not_found() {
    let w = World::start().await;
    w.fake.repo("octo/secret").create();
    let err = w
        .github
        .repo(w.installation_id(), &RepoName("octo/secret".into()))
        .unwrap()
        .get()
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    // An App needs an installation to act at all.
    let err = w.github.api(None).err().unwrap();
    assert!(err.to_string().contains("per installation"), "{err}");
}

#[tokio::test]
async fn a_personal_access_token_acts_as_its_user() {
    let w = World::start().await;
    let issue = w
        .fake
        .issue(REPO, "alice", "Typo in README", "Widgest → Widgets");
    w.fake.grant(REPO, "dana", "write");
    let token = w.fake.personal_token("dana");
    let github = GitHub::new(
        &test_config(&w.fake),
        &GitHubCredentials::Token(Secret::new(token.clone())),
    )
    .unwrap();
    assert_eq!(github.identity().await.unwrap().login, "dana");
    assert_eq!(github.git_token(None).await.unwrap().expose(), token);
    let repo = github.repo(None, &RepoName(REPO.into())).unwrap();
    let effects = Effects::new(github.clone(), repo.clone(), Journal::new(w.store.clone()));
    effects
        .sticky_comment("task:1/status", IssueNumber(issue), "On it.")
        .await
        .unwrap();
    let comments = w.fake.comments(REPO, issue);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].author, "dana");
    assert_eq!(repo.permission("dana").await.unwrap(), Permission::Write);
}

#[tokio::test]
async fn github_enterprise_api_roots_with_a_path_work_unchanged() {
    let w = World::start().await;
    let issue = w.fake.issue(REPO, "alice", "On GHES", "b");
    let mut config = test_config(&w.fake);
    config.api_url = format!("{}/api/v3", w.fake.api_url());
    let github = GitHub::new(&config, &super::app_credentials(&w.fake)).unwrap();
    let repo = github
        .repo(Some(InstallationId(w.installation)), &RepoName(REPO.into()))
        .unwrap();
    assert_eq!(
        repo.issue(IssueNumber(issue)).await.unwrap().title,
        "On GHES"
    );
    let paths: Vec<String> = w.fake.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().all(|p| p.starts_with("/api/v3/")),
        "every call, token minting included, goes below the API root: {paths:?}"
    );
}

#[tokio::test]
async fn orion_check_signs_in_and_lists_installations_and_repositories() {
    let w = World::start().await;
    w.fake.repo("octo/gadgets").create();
    w.fake.install("acme", &["octo/gadgets"]);
    let key_file = w.dir.path().join("app.pem");
    std::fs::write(&key_file, &w.fake.app_credentials().private_key_pem).unwrap();
    let out = orion_check(&w, &key_file).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let slug = w.fake.app_credentials().slug;
    assert!(stdout.contains(&format!("acts as {slug}[bot]")), "{stdout}");
    assert!(
        stdout.contains(&format!("installation {} on octo", w.installation))
            && stdout.contains("octo/widgets"),
        "{stdout}"
    );
    assert!(
        stdout.contains("on acme") && stdout.contains("octo/gadgets"),
        "{stdout}"
    );
    assert!(
        stdout.contains("github.api_url set by ORION_GITHUB_API_URL"),
        "{stdout}"
    );

    // A key GitHub does not know: check fails and says which credentials to look at.
    std::fs::write(&key_file, keys::generate().private_pem).unwrap();
    let out = orion_check(&w, &key_file).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("GitHub credentials"), "{stderr}");
    assert!(
        !stderr.contains("BEGIN"),
        "no key material in errors: {stderr}"
    );
}

/// Runs `orion check` as an operator would, with the App's id, key file and API root.
async fn orion_check(w: &World, key_file: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orion"))
        .arg("check")
        .current_dir(w.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "ORION_GITHUB_APP_ID",
            w.fake.app_credentials().app_id.to_string(),
        )
        .env("ORION_GITHUB_APP_PRIVATE_KEY", key_file)
        .env("ORION_GITHUB_API_URL", w.fake.api_url())
        .output()
        .await
        .unwrap()
}
