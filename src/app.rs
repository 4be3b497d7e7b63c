//! Wires the shared state, the HTTP router and the workers into one running Orion.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Secret, Secrets};
use crate::forge::github::GitHubCredentials;
use crate::forge::{GitHub, Journal};
use crate::git::Workspaces;
use crate::llm::{Llm, LlmSettings};
use crate::metrics::Metrics;
use crate::queue::{Queue, Registry, WorkerPool};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::store::{Ingest, OpenMode, Store};

/// The sandbox configuration with Orion's own state hidden from commands: the database files
/// (they hold the generated webhook secret and the ledger) and the git workdir (other tasks'
/// worktrees and every mirror); a task's own worktree is bound back on top. Files, not the
/// database's directory, which may well be a home directory holding the toolchains.
fn sandbox_config(config: &Config, workspaces: &Workspaces) -> SandboxConfig {
    let mut sandbox = config.sandbox.clone();
    let mut own = vec![workspaces.workdir().to_path_buf()];
    if let Some(db) = config.sqlite_path()
        && let Ok(db) = std::path::absolute(db)
    {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = db.clone().into_os_string();
            file.push(suffix);
            own.push(file.into());
        }
    }
    for path in own {
        if !sandbox.hide.contains(&path) {
            sandbox.hide.push(path);
        }
    }
    sandbox
}

/// Settings key of the webhook secret Orion generates when none is configured.
pub const GENERATED_SECRET_KEY: &str = "github_webhook_secret";

struct Inner {
    config: Config,
    github_secrets: Vec<Secret>,
    linear_secret: Option<Secret>,
    dashboard_token: Option<Secret>,
    store: Store,
    ingest: Ingest,
    metrics: Arc<Metrics>,
    llm: Llm,
}

/// What job handlers are built with: the services a capability needs besides its job.
#[derive(Clone, Debug)]
pub struct Services {
    pub llm: Llm,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// GitHub, when credentials are configured; without them Orion receives webhooks but
    /// cannot act, and jobs that need GitHub fail saying so.
    pub github: Option<GitHub>,
    /// Linear, when `ORION_LINEAR_API_KEY` is set; without it Linear webhooks are received and
    /// recorded but not acted on.
    pub linear: Option<crate::forge::linear::Linear>,
    /// Every externally visible write goes through it (see [`crate::forge::github::Effects`]).
    pub journal: Journal,
    /// Mirrors and task worktrees.
    pub workspaces: Workspaces,
    /// Where agent and test commands run.
    pub sandbox: Sandbox,
    /// Lets a handler enqueue follow-up jobs (an event starting a task).
    pub jobs: JobSink,
    pub config: Arc<Config>,
    /// Set by `orion implement --dry-run`: GitHub writes are described here, not made.
    pub dry_run: Option<crate::forge::github::DryRun>,
    /// Where reports are posted besides GitHub and Linear, when `ORION_SLACK_WEBHOOK_URL` is set.
    pub slack: Option<crate::report::SlackWebhook>,
}

/// What a job or command that needs GitHub says when no credentials are set.
pub const NO_GITHUB: &str = "no GitHub credentials: set ORION_GITHUB_APP_ID and ORION_GITHUB_APP_PRIVATE_KEY, or ORION_GITHUB_TOKEN";

impl Services {
    /// GitHub, for a job that cannot do anything without it: a fatal error naming the
    /// credentials to set when they are missing.
    pub fn github_required(&self) -> Result<GitHub, crate::queue::JobError> {
        self.github
            .clone()
            .ok_or_else(|| crate::queue::JobError::Fatal(anyhow::anyhow!(NO_GITHUB)))
    }

    /// The effect journal's front for `repo`: every GitHub write of a job goes through it, and
    /// a dry run (`orion implement --dry-run`) turns the writes into descriptions.
    pub fn effects(
        &self,
        github: GitHub,
        repo: crate::forge::github::Repo,
    ) -> crate::forge::github::Effects {
        let effects = crate::forge::github::Effects::new(github, repo, self.journal.clone());
        match &self.dry_run {
            Some(print) => effects.dry_run(print.clone()),
            None => effects,
        }
    }

    /// The services jobs run with, for `orion serve` and for foreground commands
    /// (`orion implement`).
    pub fn build(
        config: &Config,
        secrets: &Secrets,
        store: Store,
        llm: Llm,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let workspaces = Workspaces::new(config.git.clone())?;
        let github = match GitHubCredentials::resolve(&secrets.github)
            .map_err(|p| anyhow::anyhow!("GitHub credentials: {p}"))?
        {
            Some(credentials) => Some(GitHub::new(&config.github, &credentials)?),
            None => {
                tracing::warn!(
                    "no GitHub credentials (ORION_GITHUB_APP_ID + ORION_GITHUB_APP_PRIVATE_KEY, or ORION_GITHUB_TOKEN): Orion will not act on GitHub"
                );
                None
            }
        };
        let linear = crate::forge::linear::Linear::from_secrets(&config.linear, secrets)
            .map_err(|e| anyhow::anyhow!("Linear: {e}"))?;
        Ok(Self {
            llm,
            store: store.clone(),
            metrics,
            github,
            linear,
            journal: Journal::new(store.clone()),
            workspaces: workspaces.clone(),
            sandbox: Sandbox::new(sandbox_config(config, &workspaces)),
            jobs: JobSink {
                queue: Queue::new(store),
                wake,
                max_attempts: config.queue.max_attempts,
            },
            config: Arc::new(config.clone()),
            dry_run: None,
            slack: secrets
                .slack_webhook_url
                .as_ref()
                .map(|url| crate::report::SlackWebhook::new(url, &config.report))
                .transpose()
                .map_err(|e| anyhow::anyhow!("the report webhook: {e}"))?,
        })
    }
}

/// Enqueues jobs from inside handlers and wakes the workers for them.
#[derive(Clone, Debug)]
pub struct JobSink {
    queue: Queue,
    wake: Arc<Notify>,
    max_attempts: u32,
}

impl JobSink {
    /// Enqueues a job (a no-op when its idempotency key exists) and wakes a worker.
    pub async fn enqueue(
        &self,
        kind: &str,
        payload: &impl serde::Serialize,
        key: String,
    ) -> anyhow::Result<bool> {
        let job = crate::queue::NewJob::new(kind, payload, key, self.max_attempts)?;
        let inserted = self.queue.enqueue(&[job]).await? > 0;
        self.wake.notify_waiters();
        Ok(inserted)
    }
}

/// What every request handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn github_secrets(&self) -> &[Secret] {
        &self.0.github_secrets
    }
    pub fn linear_secret(&self) -> Option<&Secret> {
        self.0.linear_secret.as_ref()
    }
    /// See [`Secrets::dashboard_token`].
    pub fn dashboard_token(&self) -> Option<&Secret> {
        self.0.dashboard_token.as_ref()
    }
    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn ingest(&self) -> &Ingest {
        &self.0.ingest
    }
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }
    pub fn llm(&self) -> &Llm {
        &self.0.llm
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/github", post(crate::webhook::github))
        .route("/webhooks/linear", post(crate::webhook::linear))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::web::routes())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unreachable: {e:#}\n"),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.store().queue_depth().await {
        Ok(depth) => state.metrics().set_queue_depth(&depth),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not read queue depth for /metrics")
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().encode(),
    )
}

/// What start-up found out that the operator must be told once.
#[derive(Debug, Clone)]
pub struct Startup {
    pub addr: SocketAddr,
    /// Set only on the start that generated the GitHub webhook secret: print it once, then never again.
    pub generated_secret: Option<String>,
    /// Whether the GitHub secret in use is the one stored in the database.
    pub using_stored_secret: bool,
}

/// A running Orion: HTTP edge and workers.
pub struct Orion {
    pub state: AppState,
    pub startup: Startup,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: WorkerPool,
}

impl Orion {
    /// Opens the store, binds the listener and starts serving and working. `registry` builds the
    /// job handlers from the running services (e.g. [`crate::jobs::registry`]).
    pub async fn start(
        config: Config,
        secrets: Secrets,
        registry: impl FnOnce(&Services) -> Registry,
    ) -> anyhow::Result<Self> {
        let store = Store::open(&config.store, OpenMode::CreateIfMissing).await?;
        let (github_secrets, generated_secret, using_stored_secret) =
            if secrets.github_webhook.is_empty() {
                let fresh = hex::encode(rand::random::<[u8; 32]>());
                let (secret, inserted) = store
                    .setting_or_insert(GENERATED_SECRET_KEY, &fresh)
                    .await?;
                (
                    vec![Secret::new(secret.clone())],
                    inserted.then_some(secret),
                    true,
                )
            } else {
                (secrets.github_webhook.clone(), None, false)
            };
        let wake = Arc::new(Notify::new());
        let metrics = Arc::new(Metrics::default());
        // Webhook secrets and the dashboard token join the API keys on the list of values no prompt
        // may contain.
        let webhook_secrets = github_secrets
            .iter()
            .chain(&secrets.linear_webhook)
            .chain(&secrets.dashboard_token)
            .map(|s| s.expose().to_owned())
            .collect();
        let llm = Llm::new(
            store.clone(),
            LlmSettings::from_config(&config),
            secrets.model_keys.0.clone(),
            webhook_secrets,
        )
        .await?
        .with_metrics(metrics.clone());
        let services = Services::build(
            &config,
            &secrets,
            store.clone(),
            llm.clone(),
            metrics.clone(),
            wake.clone(),
        )?;
        let registry = registry(&services);
        let ingest = Ingest::start(store.clone(), wake.clone());
        let state = AppState(Arc::new(Inner {
            config: config.clone(),
            github_secrets,
            linear_secret: secrets.linear_webhook,
            dashboard_token: secrets.dashboard_token,
            store: store.clone(),
            ingest,
            metrics: metrics.clone(),
            llm,
        }));
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("while binding server.listen {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let workers = WorkerPool::start(
            Queue::new(store),
            registry,
            config.queue.clone(),
            wake,
            metrics,
        );
        let stop = CancellationToken::new();
        let app = router(state.clone());
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        Ok(Self {
            state,
            startup: Startup {
                addr,
                generated_secret,
                using_stored_secret,
            },
            stop,
            server,
            workers,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.startup.addr
    }

    /// Stops accepting requests (in-flight ones finish), stops leasing jobs, gives running jobs the
    /// grace period, releases the rest, and closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let grace = self.state.config().queue.shutdown_grace();
        self.stop.cancel();
        let (server, ()) = tokio::join!(self.server, self.workers.shutdown(grace));
        server
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")?;
        self.state.store().close().await;
        Ok(())
    }
}

/// Re-reads the configuration file and applies what can change without a restart: models,
/// tiers, routing, budgets and call settings. Returns what changed, or the problems that kept the
/// old configuration in force.
pub fn reload(llm: &Llm, file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let loaded = Config::load(file).map_err(|p| anyhow::anyhow!("{p}"))?;
    let next = LlmSettings::from_config(&loaded.config);
    let router = llm.router();
    let before = router.settings();
    if *before == next {
        return Ok("nothing the model layer uses changed".to_owned());
    }
    let summary = format!(
        "routing.strategy {}, {} model(s), tactical {:?}, strategic {:?}",
        next.routing.strategy,
        next.models.len(),
        next.tiers.tactical,
        next.tiers.strategic
    );
    llm.reload(next);
    Ok(summary)
}

/// Reloads on SIGHUP and whenever the file's modification time or length changes (checked every
/// `poll`), until `stop`. Other sections (listen address, store, queue) need a restart, and a
/// configuration with problems is refused, logged and leaves the running one in force.
pub fn watch_config(
    llm: Llm,
    file: Option<std::path::PathBuf>,
    poll: std::time::Duration,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("while installing the SIGHUP handler")?;
    let stamp = |f: &std::path::Path| {
        std::fs::metadata(f)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    // Taken now, not in the task: a write between this call and the task's first poll must
    // count as a change.
    let mut last = file.as_deref().and_then(stamp);
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        loop {
            #[cfg(unix)]
            let why = tokio::select! {
                _ = stop.cancelled() => return,
                _ = hangup.recv() => "SIGHUP",
                _ = tick.tick() => "file change",
            };
            #[cfg(not(unix))]
            let why = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => "file change",
            };
            if why == "file change" {
                let now = file.as_deref().and_then(stamp);
                if file.is_none() || now == last {
                    continue;
                }
                last = now;
            }
            match reload(&llm, file.as_deref()) {
                Ok(summary) => tracing::info!(trigger = why, "configuration reloaded: {summary}"),
                Err(e) => tracing::error!(
                    trigger = why,
                    "configuration not reloaded, the running one stays in force: {e:#}"
                ),
            }
        }
    }))
}
