//! A faithful in-memory GitHub REST API, for driving the real octocrab client in tests.
//!
//! Why a model and not canned responses: Orion's GitHub code is about state (did the comment get
//! posted once, did the PR already exist, is the token still valid), so the fake keeps state and
//! answers every call from it, in GitHub's exact shapes, status codes and error messages. Code is
//! a real bare git repository per fake repository, so clones, pushes, contents and diffs agree.
//! Tests then read like a script of what a user sees: set the scene with the helpers below, let
//! Orion run against [`FakeGitHub::api_url`], and assert on [`FakeGitHub::comments`],
//! [`FakeGitHub::pulls`] and the other views, ending with `assert!(fake.unexpected().is_empty())`.
//!
//! Failure is on demand and deterministic: [`FakeGitHub::faults`] for a seeded share of bad
//! answers, [`FakeGitHub::fail_next`] for one chosen request, [`FakeGitHub::hold_after`] to
//! freeze the moment right after a write reached GitHub.

mod apps;
mod auth;
mod builder;
mod checks;
mod diff;
mod faults;
mod gitrepo;
mod graphql;
mod issues;
pub mod keys;
mod model;
mod pulls;
mod reactions;
mod render;
mod repos;
mod respond;
mod reviews;
mod selftest;
mod server;
mod views;

use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::AuthKind;
pub use builder::{RepoBuilder, RepoHandle};
pub use checks::AppCheck;
pub use faults::{Fault, FaultPlan, Held};
pub use gitrepo::Change;
pub use server::RequestRecord;
pub use views::{CheckRunView, CommentView, PullView, ReviewCommentView, ReviewView};

use model::{AppRecord, InstallationRecord, Model, TokenRecord, UserKind, now};
use server::Shared;

/// The App's id, stable across runs so configuration snapshots do not churn.
const APP_ID: u64 = 424_242;
/// The App's slug; its bot user is `orion-bot[bot]`.
const APP_SLUG: &str = "orion-bot";

/// What Orion needs to authenticate as the fake's GitHub App.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: u64,
    /// PKCS#1 PEM, as GitHub hands it out.
    pub private_key_pem: String,
    pub slug: String,
}

/// A running fake GitHub on loopback. Dropping it stops the server and deletes its repositories.
pub struct FakeGitHub {
    shared: Arc<Shared>,
    api: String,
    shutdown: watch::Sender<bool>,
    _dir: TempDir,
}

impl FakeGitHub {
    /// Starts the fake on `127.0.0.1:0` with one GitHub App and no repositories.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port for the fake GitHub");
        let api = format!("http://{}", listener.local_addr().expect("bound address"));
        let dir = tempfile::tempdir().expect("a directory for the fake's repositories");
        let app = AppRecord {
            id: APP_ID,
            slug: APP_SLUG.to_owned(),
            owner: "orion-hq".to_owned(),
            public_key_pem: keys::app_keys().public_pem.clone(),
            created_at: now(),
        };
        let model = Model::new(api.clone(), dir.path().to_path_buf(), app);
        let (shutdown, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(model, stopped.clone()));
        let router = server::router(shared.clone());
        tokio::spawn(async move {
            let mut stopped = stopped;
            // GitHub Enterprise Server serves the same API below `/api/v3`: strip that prefix
            // before routing so both roots reach the same handlers, and keep the original path
            // for the request log.
            let router = tower::ServiceExt::map_request(router, server::strip_enterprise_prefix);
            axum::serve(listener, tower::make::Shared::new(router))
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .expect("the fake GitHub serves");
        });
        Self {
            shared,
            api,
            shutdown,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`: octocrab's `base_uri` (paths are at the root, as on api.github.com).
    pub fn api_url(&self) -> &str {
        &self.api
    }

    /// The App id, private key and slug, as an operator would configure Orion.
    pub fn app_credentials(&self) -> AppCredentials {
        AppCredentials {
            app_id: APP_ID,
            private_key_pem: keys::app_keys().private_pem.clone(),
            slug: APP_SLUG.to_owned(),
        }
    }

    /// The login of the App's bot user, the author of everything an installation token writes.
    pub fn bot_login(&self) -> String {
        self.shared.model().bot_login()
    }

    /// Installs the App on `account` with access to `repos` (`owner/name`); returns the
    /// installation id.
    pub fn install(&self, account: &str, repos: &[&str]) -> u64 {
        let mut model = self.shared.model();
        model.ensure_user(account, UserKind::User);
        let id = model.next_id();
        model.installations.insert(
            id,
            InstallationRecord {
                id,
                account: account.to_owned(),
                repos: repos.iter().map(|r| r.to_ascii_lowercase()).collect(),
                tokens_issued: 0,
                created_at: now(),
            },
        );
        id
    }

    /// A personal access token (`ghp_…`) acting as `login`, who becomes a known user.
    pub fn personal_token(&self, login: &str) -> String {
        let mut model = self.shared.model();
        model.ensure_user(login, UserKind::User);
        let token = apps::mint("ghp_");
        model.tokens.insert(
            token.clone(),
            TokenRecord::Personal {
                login: login.to_owned(),
            },
        );
        token
    }

    /// How long installation tokens minted from now on live (GitHub: one hour). Make it short
    /// to watch a client refresh.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.model().token_lifetime = lifetime;
    }

    /// How many installation tokens were minted for `installation`.
    pub fn tokens_issued(&self, installation: u64) -> usize {
        self.shared
            .model()
            .installations
            .get(&installation)
            .map_or(0, |i| i.tokens_issued)
    }

    /// Describes a repository to create, e.g. `fake.repo("octo/widgets").file(…).create()`.
    pub fn repo(&self, full_name: &str) -> RepoBuilder<'_> {
        RepoBuilder::new(self, full_name)
    }

    fn repo_key(model: &Model, repo: &str) -> String {
        let key = repo.to_ascii_lowercase();
        assert!(
            model.repos.contains_key(&key),
            "the fake has no repository {repo}"
        );
        key
    }

    /// `author` opens an issue; returns its number.
    pub fn issue(&self, repo: &str, author: &str, title: &str, body: &str) -> u64 {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        model.ensure_user(author, UserKind::User);
        model.open_issue(&key, author, title, Some(body), false)
    }

    /// `author` opens a pull request from `head` into `base` (branches of `repo`), as on the
    /// web; returns its number. The caller sends the webhook (see [`FakeGitHub::pull_json`]).
    pub fn open_pull(
        &self,
        repo: &str,
        author: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> u64 {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        model.ensure_user(author, UserKind::User);
        let head_sha = gitrepo::branch_sha(&model.repo(&key).bare, head)
            .unwrap_or_else(|| panic!("{repo} has no branch {head}"));
        let number = model.open_issue(&key, author, title, Some(body), false);
        let id = model.next_id();
        model
            .repo_mut(&key)
            .issues
            .get_mut(&number)
            .expect("issue just opened")
            .pull = Some(model::PullRecord {
            id,
            head_ref: head.to_owned(),
            base_ref: base.to_owned(),
            draft: false,
            head_sha,
        });
        number
    }

    /// Pull request `number` as GitHub renders it (the `pull_request` object of its webhooks).
    pub fn pull_json(&self, repo: &str, number: u64) -> serde_json::Value {
        let model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let record = model.repo(&key);
        let (issue, pull) = record.pull(number).expect("no such pull request");
        model.pull_json(record, issue, pull, true)
    }

    /// `user` comments on issue or PR `number`; returns the comment id.
    pub fn comment_as(&self, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        assert!(
            model.repo(&key).issues.contains_key(&number),
            "{repo} has no issue #{number}"
        );
        model.ensure_user(user, UserKind::User);
        model.add_comment(&key, number, user, body, false)
    }

    /// Adds `label` to issue `number` as `user` does in the web UI: no webhook is sent (a test
    /// delivers one if it wants), but the issue's events record who labelled it.
    pub fn label(&self, repo: &str, number: u64, label: &str, user: &str) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        model.add_labels(&key, number, &[label.to_owned()], user);
    }

    /// Assigns issue `number` to `user` (no webhook is sent).
    pub fn assign(&self, repo: &str, number: u64, user: &str) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        model.ensure_user(user, UserKind::User);
        let issue = model
            .repo_mut(&key)
            .issues
            .get_mut(&number)
            .expect("no such issue");
        issue.assignees.push(user.to_owned());
        issue.updated_at = model::now();
    }

    /// Creates the repository label `name` (as a maintainer does in the Labels page).
    pub fn create_label(&self, repo: &str, name: &str, color: &str) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let id = model.next_id();
        model.repo_mut(&key).labels.insert(
            name.to_ascii_lowercase(),
            model::LabelRecord {
                id,
                name: name.to_owned(),
                color: color.to_owned(),
                description: None,
            },
        );
    }

    /// Makes `user` a collaborator with `role`: admin, maintain, write, triage or read.
    pub fn grant(&self, repo: &str, user: &str, role: &str) {
        assert!(
            ["admin", "maintain", "write", "triage", "read"].contains(&role),
            "GitHub has no {role:?} role"
        );
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let login = model
            .ensure_user(user, UserKind::User)
            .login
            .to_ascii_lowercase();
        model
            .repo_mut(&key)
            .collaborators
            .insert(login, role.to_owned());
    }

    /// A human deletes comment `id`: later reads and edits of it get 404.
    pub fn delete_comment(&self, repo: &str, id: u64) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let removed = model.repo_mut(&key).comments.remove(&id);
        assert!(removed.is_some(), "{repo} has no comment {id}");
    }

    /// A maintainer pins issue `number` to the repository's Issues page.
    pub fn pin(&self, repo: &str, number: u64) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        model
            .repo_mut(&key)
            .issues
            .get_mut(&number)
            .unwrap_or_else(|| panic!("{repo} has no issue #{number}"))
            .pinned = true;
    }

    /// An admin deletes issue `number`: later reads and edits of it get 410 Gone.
    pub fn delete_issue(&self, repo: &str, number: u64) {
        let mut model = self.shared.model();
        let key = Self::repo_key(&model, repo);
        let record = model.repo_mut(&key);
        assert!(
            record.issues.remove(&number).is_some(),
            "{repo} has no issue #{number}"
        );
        record.comments.retain(|_, c| c.issue != number);
        record.deleted_issues.insert(number);
    }

    /// Fails a seeded share of requests from now on (never the token endpoint).
    pub fn faults(&self, plan: FaultPlan) {
        self.shared.traffic().faults.set_plan(plan);
    }

    /// Fails the next `method` request whose path contains `path_contains` with `fault`.
    pub fn fail_next(&self, method: &str, path_contains: &str, fault: Fault) {
        self.shared
            .traffic()
            .faults
            .push_one_shot(method, path_contains, fault);
    }

    /// Applies the next `method` request whose path ends with `path_suffix`, then withholds the
    /// answer until [`Held::release`] (or the client hangs up).
    pub fn hold_after(&self, method: &str, path_suffix: &str) -> Held {
        self.shared.traffic().faults.push_hold(method, path_suffix)
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
