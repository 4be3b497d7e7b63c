//! [`GitHub`]: the one client type Orion reaches GitHub through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId as OctoInstallationId};
use octocrab::secrecy::ExposeSecret;
use serde::Deserialize;

use super::GitHubConfig;
use super::conditional::ReadCache;
use super::credentials::GitHubCredentials;
use super::error::ForgeError;
use super::repo::Repo;
use super::transport::{Api, Call};
use crate::config::Secret;
use crate::event::{InstallationId, RepoName};

/// GitHub for the whole process: the credentials, one API handle per installation (each caching
/// and refreshing its own token), and who Orion is. Cheap to clone.
#[derive(Clone)]
pub struct GitHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.inner.mode {
            Mode::App { .. } => "app",
            Mode::Token { .. } => "token",
        };
        write!(f, "GitHub({mode} at {})", self.inner.config.api_url)
    }
}

struct Inner {
    config: Arc<GitHubConfig>,
    mode: Mode,
    /// Who Orion is, read once: comments it finds with its marker must also be its own.
    identity: tokio::sync::OnceCell<Identity>,
}

enum Mode {
    /// Signed in as the App (JWT); installations get their own handles, kept here so their
    /// tokens are minted once and refreshed, not minted per call.
    App {
        app: Api,
        installations: Mutex<HashMap<u64, Api>>,
    },
    Token {
        api: Api,
        token: Secret,
    },
}

/// Who Orion acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The login on comments and PRs: `slug[bot]` for an App, the user for a token.
    pub login: String,
    /// The App's name, or the token owner's login.
    pub name: String,
    pub app_id: Option<u64>,
}

/// An installation of the App, as `orion check` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationInfo {
    pub id: InstallationId,
    pub account: String,
    /// `all` or `selected`.
    pub repository_selection: String,
    /// The repositories it can reach (read with its own token, so this also proves minting works).
    pub repositories: Vec<RepoName>,
}

impl GitHub {
    /// A client for `credentials` against `config.api_url`. No request is made until needed.
    pub fn new(config: &GitHubConfig, credentials: &GitHubCredentials) -> Result<Self, ForgeError> {
        let config = Arc::new(config.clone());
        let builder = || {
            Octocrab::builder()
                .base_uri(config.api_url.as_str())
                .map_err(|e| ForgeError::Setup(format!("github.api_url {:?}: {e}", config.api_url)))
                .map(|b| {
                    let timeout = Some(Duration::from_millis(config.request_timeout_ms));
                    b.set_connect_timeout(timeout)
                        .set_read_timeout(timeout)
                        .set_write_timeout(timeout)
                })
        };
        let build_err =
            |e: octocrab::Error| ForgeError::Setup(format!("building the GitHub client: {e}"));
        let mode = match credentials {
            GitHubCredentials::App {
                app_id,
                private_key,
            } => {
                let key = octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(
                    private_key.expose().as_bytes(),
                )
                .map_err(|e| ForgeError::Setup(format!("the GitHub App private key: {e}")))?;
                let crab = builder()?
                    .app(AppId(*app_id), key)
                    .build()
                    .map_err(build_err)?;
                Mode::App {
                    app: Api::new(crab, config.clone(), "app"),
                    installations: Mutex::new(HashMap::new()),
                }
            }
            GitHubCredentials::Token(token) => {
                let crab = builder()?
                    .personal_token(token.expose().to_owned())
                    .build()
                    .map_err(build_err)?;
                Mode::Token {
                    api: Api::new(crab, config.clone(), "token"),
                    token: token.clone(),
                }
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                mode,
                identity: tokio::sync::OnceCell::new(),
            }),
        })
    }

    pub fn config(&self) -> &GitHubConfig {
        &self.inner.config
    }

    /// The API as `installation` (an App) or as the token's user (a token, which ignores it).
    pub fn api(&self, installation: Option<InstallationId>) -> Result<Api, ForgeError> {
        match &self.inner.mode {
            Mode::Token { api, .. } => Ok(api.clone()),
            Mode::App { app, installations } => {
                let Some(InstallationId(id)) = installation else {
                    return Err(ForgeError::Setup(
                        "a GitHub App acts per installation, and this event named none".into(),
                    ));
                };
                let mut map = installations.lock().expect("installation map poisoned");
                if let Some(api) = map.get(&id) {
                    return Ok(api.clone());
                }
                let crab = app
                    .octocrab()
                    .installation(OctoInstallationId(id))
                    .map_err(|e| ForgeError::Setup(format!("installation {id}: {e}")))?;
                let api = Api::new(
                    crab,
                    self.inner.config.clone(),
                    &format!("installation:{id}"),
                );
                map.insert(id, api.clone());
                Ok(api)
            }
        }
    }

    /// One repository, as `installation` sees it.
    pub fn repo(
        &self,
        installation: Option<InstallationId>,
        repo: &RepoName,
    ) -> Result<Repo, ForgeError> {
        Repo::new(self.api(installation)?, repo.clone())
    }

    /// A token for git over HTTPS (`x-access-token`), valid for at least
    /// `github.token_refresh_margin_s` more: the installation's (cached until then) or the PAT.
    pub async fn git_token(
        &self,
        installation: Option<InstallationId>,
    ) -> Result<Secret, ForgeError> {
        match &self.inner.mode {
            Mode::Token { token, .. } => Ok(token.clone()),
            Mode::App { .. } => {
                let api = self.api(installation)?;
                let margin =
                    chrono::Duration::seconds(self.inner.config.token_refresh_margin_s as i64);
                let token = api
                    .octocrab()
                    .installation_token_with_buffer(margin)
                    .await
                    .map_err(|e| ForgeError::Unauthorized {
                        what: "minting an installation token".into(),
                        message: e.to_string(),
                    })?;
                Ok(Secret::new(token.expose_secret()))
            }
        }
    }

    /// Signed in as a GitHub App (installations have ids), not with a token.
    pub fn is_app(&self) -> bool {
        matches!(self.inner.mode, Mode::App { .. })
    }

    /// Who Orion is (read once per process).
    pub async fn identity(&self) -> Result<&Identity, ForgeError> {
        self.inner
            .identity
            .get_or_try_init(|| async {
                match &self.inner.mode {
                    Mode::App { app, .. } => {
                        #[derive(Deserialize)]
                        struct App {
                            id: u64,
                            slug: String,
                            name: String,
                        }
                        let found: App = app
                            .json(&Call::get("/app", "reading the GitHub App"))
                            .await?;
                        Ok(Identity {
                            login: format!("{}[bot]", found.slug),
                            name: found.name,
                            app_id: Some(found.id),
                        })
                    }
                    Mode::Token { api, .. } => {
                        #[derive(Deserialize)]
                        struct User {
                            login: String,
                        }
                        let user: User = api
                            .json(&Call::get("/user", "reading the token's user"))
                            .await?;
                        Ok(Identity {
                            name: user.login.clone(),
                            login: user.login,
                            app_id: None,
                        })
                    }
                }
            })
            .await
    }

    /// The installation that reaches `repo` (an App), or `None` (a token needs none).
    pub async fn installation_for(
        &self,
        repo: &RepoName,
    ) -> Result<Option<InstallationId>, ForgeError> {
        if matches!(self.inner.mode, Mode::Token { .. }) {
            return Ok(None);
        }
        let wanted = repo.as_str().to_ascii_lowercase();
        self.installations(None)
            .await?
            .into_iter()
            .find(|i| {
                i.repositories
                    .iter()
                    .any(|r| r.as_str().to_ascii_lowercase() == wanted)
            })
            .map(|i| Some(i.id))
            .ok_or_else(|| ForgeError::NotFound {
                what: format!("an installation of the GitHub App on {repo}"),
            })
    }

    /// The App's installations and what each can reach; for a token, its user's view as one
    /// pseudo-installation. `orion check` prints this.
    /// With `cache`, the lists are read conditionally (the heartbeat asks on every tick).
    pub async fn installations(
        &self,
        cache: Option<&ReadCache>,
    ) -> Result<Vec<InstallationInfo>, ForgeError> {
        #[derive(Deserialize)]
        struct Account {
            login: String,
        }
        #[derive(Deserialize)]
        struct Installation {
            id: u64,
            account: Account,
            repository_selection: String,
        }
        #[derive(Deserialize)]
        struct RepoList {
            repositories: Vec<FullName>,
        }
        #[derive(Deserialize)]
        struct FullName {
            full_name: String,
        }
        match &self.inner.mode {
            Mode::App { app, .. } => {
                let (found, _): (Vec<Installation>, _) = app
                    .list_pages(
                        "/app/installations",
                        "listing the App's installations",
                        cache,
                    )
                    .await?;
                let mut out = Vec::new();
                for inst in found {
                    let id = InstallationId(inst.id);
                    let api = self.api(Some(id))?;
                    let repositories = api
                        .list_in(
                            "/installation/repositories",
                            &format!("listing installation {}'s repositories", inst.id),
                            cache,
                            |page: RepoList| page.repositories,
                        )
                        .await?
                        .0
                        .into_iter()
                        .map(|r| RepoName(r.full_name))
                        .collect();
                    out.push(InstallationInfo {
                        id,
                        account: inst.account.login,
                        repository_selection: inst.repository_selection,
                        repositories,
                    });
                }
                Ok(out)
            }
            Mode::Token { api, .. } => {
                let me = self.identity().await?;
                let repos: Vec<FullName> = api
                    .list(
                        "/user/repos?affiliation=owner,collaborator,organization_member",
                        "listing the token's repositories",
                    )
                    .await?;
                Ok(vec![InstallationInfo {
                    id: InstallationId(0),
                    account: me.login.clone(),
                    repository_selection: "token".into(),
                    repositories: repos.into_iter().map(|r| RepoName(r.full_name)).collect(),
                }])
            }
        }
    }
}
