//! The GitHub client against the fake GitHub: auth, every operation (asserting what GitHub then
//! holds), resilience, and the effect journal, including a real process killed mid-task.

mod auth;
mod crash;
mod effects;
mod operations;
mod resilience;

use orion_bot::config::Secret;
use orion_bot::event::{InstallationId, RepoName};
use orion_bot::forge::github::{Effects, GitHubConfig, GitHubCredentials, Repo};
use orion_bot::forge::{GitHub, Journal};
use orion_bot::store::Store;
use tempfile::TempDir;

use crate::fake_github::{FakeGitHub, RepoHandle};

/// A client configuration for tests: the fake's URL, short timeouts and near-instant backoff.
pub fn test_config(fake: &FakeGitHub) -> GitHubConfig {
    GitHubConfig {
        api_url: fake.api_url().to_owned(),
        request_timeout_ms: 2_000,
        max_retries: 4,
        retry_base_ms: 5,
        retry_max_ms: 50,
        max_rate_limit_wait_s: 5,
        token_refresh_margin_s: 300,
    }
}

pub fn app_credentials(fake: &FakeGitHub) -> GitHubCredentials {
    let app = fake.app_credentials();
    GitHubCredentials::App {
        app_id: app.app_id,
        private_key: Secret::new(app.private_key_pem),
    }
}

/// The fake GitHub with one repository `octo/widgets` where the App is installed, Orion's client
/// signed in as the App, and a fresh database for the journal.
pub struct World {
    pub fake: FakeGitHub,
    pub widgets: RepoHandle,
    pub installation: u64,
    pub github: GitHub,
    pub store: Store,
    /// One journal, as Orion has one per process (its locks are what keep concurrent jobs from
    /// making one effect twice).
    pub journal: Journal,
    pub dir: TempDir,
}

pub const REPO: &str = "octo/widgets";

impl World {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut GitHubConfig)) -> Self {
        let fake = FakeGitHub::start().await;
        let widgets = fake
            .repo(REPO)
            .default_branch("main")
            .file("README.md", "# Widgets\n")
            .file("AGENTS.md", "Run `cargo test` before you push.\n")
            .file("src/lib.rs", "pub fn widget() -> u32 {\n    1\n}\n")
            .create();
        let installation = fake.install("octo", &[REPO]);
        let mut config = test_config(&fake);
        tweak(&mut config);
        let github = GitHub::new(&config, &app_credentials(&fake)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = crate::support::fresh_store(dir.path()).await;
        Self {
            fake,
            widgets,
            installation,
            github,
            journal: Journal::new(store.clone()),
            store,
            dir,
        }
    }

    pub fn installation_id(&self) -> Option<InstallationId> {
        Some(InstallationId(self.installation))
    }

    pub fn repo(&self) -> Repo {
        self.github
            .repo(self.installation_id(), &RepoName(REPO.into()))
            .unwrap()
    }

    pub fn effects(&self) -> Effects {
        Effects::new(self.github.clone(), self.repo(), self.journal.clone())
    }

    /// The App's bot login, as comments show it.
    pub fn bot(&self) -> String {
        format!("{}[bot]", self.fake.app_credentials().slug)
    }
}
