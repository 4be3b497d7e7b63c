//! Typed configuration: `orion.toml` (optional) overlaid by `ORION_SECTION__KEY` environment
//! variables, validated once at start-up.
//!
//! Every problem is reported with the key it concerns and how to fix it, because the person reading
//! it is usually setting Orion up for the first time and has the file open in another window.
//! Secrets are deliberately not part of [`Config`]: they come only from the environment
//! ([`Secrets`]), so a config file can be committed or shared without leaking anything.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "ORION_CONFIG";
/// Comma-separated list of accepted GitHub webhook secrets (more than one during rotation).
pub const GITHUB_WEBHOOK_SECRET_ENV: &str = "ORION_GITHUB_WEBHOOK_SECRET";
/// The signing secret Linear shows for the webhook.
pub const LINEAR_WEBHOOK_SECRET_ENV: &str = "ORION_LINEAR_WEBHOOK_SECRET";
/// The Linear API key Orion acts with (a personal API key, or an OAuth access token).
pub const LINEAR_API_KEY_ENV: &str = "ORION_LINEAR_API_KEY";
/// The token that opens the dashboard (`GET /`, `/api/*`) when Orion listens beyond loopback.
pub const DASHBOARD_TOKEN_ENV: &str = "ORION_DASHBOARD_TOKEN";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub linear: LinearConfig,
    pub log: LogConfig,
    /// Models Orion may call, by the name tiers and routing use.
    pub models: BTreeMap<String, crate::llm::ModelConfig>,
    pub tiers: crate::llm::TiersConfig,
    pub routing: crate::llm::RoutingConfig,
    pub budgets: crate::llm::BudgetConfig,
    pub llm: crate::llm::LlmConfig,
    /// Task workspaces: mirrors, worktrees, commit identity, disk bounds.
    pub git: crate::git::GitConfig,
    /// The GitHub API: where it is and how patiently to talk to it.
    pub github: crate::forge::github::GitHubConfig,
    /// Where agent commands and test commands run (bubblewrap by default).
    pub sandbox: crate::sandbox::SandboxConfig,
    /// Issue → pull request: the trigger label and the limits of a task.
    pub implement: crate::implement::config::ImplementConfig,
    /// Pull request reviews.
    pub review: crate::review::config::ReviewConfig,
    /// Scheduled scans of Orion's work.
    pub heartbeat: crate::heartbeat::config::HeartbeatConfig,
    /// Standup reports: where they go, and the weekly summary's day.
    pub report: crate::report::ReportConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind. Loopback by default so a fresh install is not exposed before it is set up;
    /// put a TLS-terminating proxy or tunnel in front to receive webhooks from the internet.
    pub listen: String,
    /// The URL GitHub and Linear reach Orion at, when it differs from `listen` (behind a proxy).
    /// Only used to print the webhook URLs to configure.
    pub public_url: Option<String>,
    /// Largest webhook body accepted. GitHub caps payloads at 25 MiB, so the default never rejects
    /// a genuine delivery while bounding what a stranger can make Orion buffer.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3000".to_owned(),
            public_url: None,
            max_body_bytes: 25 * 1024 * 1024,
        }
    }
}

/// How hard SQLite works to make a commit survive a power cut.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    /// fsync the WAL on every commit: an acknowledged delivery survives power loss and OS crashes.
    Full,
    /// fsync only at checkpoints: survives an Orion crash, but an OS crash or power cut may lose the
    /// last moments of acknowledged deliveries (GitHub can redeliver them).
    Normal,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Database URL. `sqlite://PATH` (relative paths are relative to the working directory).
    pub url: String,
    pub synchronous: Synchronous,
    /// Pool size. SQLite has one writer at a time, so a few connections serve readers and writers.
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://orion.db".to_owned(),
            synchronous: Synchronous::Full,
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Jobs run at once by this process.
    pub workers: usize,
    /// How long a leased job stays owned without a heartbeat. A worker that dies loses its jobs to
    /// another worker after this long; a live worker renews the lease every third of it.
    pub lease_secs: u64,
    /// Attempts before a job is dead-lettered (a lease lost to a crash counts as an attempt, so a
    /// job that crashes its worker cannot loop forever).
    pub max_attempts: u32,
    /// First retry delay; each later retry doubles it, with jitter, up to `backoff_max_secs`.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// How often idle workers look for due jobs (retries and expired leases); new jobs wake them at once.
    pub poll_ms: u64,
    /// On SIGINT/SIGTERM, how long in-flight jobs may run before they are released for a later run.
    pub shutdown_grace_secs: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            lease_secs: 300,
            max_attempts: 5,
            backoff_base_ms: 2_000,
            backoff_max_secs: 3_600,
            poll_ms: 1_000,
            shutdown_grace_secs: 30,
        }
    }
}

impl QueueConfig {
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LinearConfig {
    /// Replay window for `webhookTimestamp`. Linear's SDK uses one minute; widen only if clocks drift.
    pub timestamp_tolerance_secs: u64,
    /// The GraphQL API root (Orion posts to `{api_url}/graphql`). `ORION_LINEAR_API_URL`
    /// overrides it, which is how tests point Orion at a fake Linear.
    pub api_url: String,
    /// A request that has not answered by then is abandoned, so a hung connection cannot hold a
    /// task forever; a mutation abandoned this way has an unknown outcome.
    pub request_timeout_ms: u64,
    /// Attempts after the first for a request that is safe to repeat (queries, and mutations
    /// Linear refused before acting: rate limits).
    pub max_retries: u32,
    /// First backoff between retries; it doubles (with jitter) up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Longest Orion waits for a rate limit to reset before failing the call with the reset
    /// time. Linear's limits refill continuously over an hour; the queue retries the job later.
    pub max_rate_limit_wait_s: u64,
    /// Which GitHub repository a Linear issue is implemented in: the first route whose given
    /// fields all match the issue, else `default_repo`. An issue that maps nowhere gets one
    /// comment saying so.
    pub routes: Vec<LinearRoute>,
    /// `owner/repo` for Linear issues no route matches.
    pub default_repo: Option<String>,
}

/// One `[[linear.routes]]`: Linear issues of this team key (`ENG`), project (by name) and/or
/// with this label (by name, any case) are implemented in `repo`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinearRoute {
    pub team: Option<String>,
    pub project: Option<String>,
    pub label: Option<String>,
    /// `owner/repo`.
    pub repo: String,
}

impl LinearConfig {
    /// The repository for an issue of team `team` in project `project` with labels `labels`.
    pub fn repo_for(&self, team: &str, project: Option<&str>, labels: &[&str]) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| {
                r.team
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(team))
                    && r.project
                        .as_deref()
                        .is_none_or(|p| project.is_some_and(|q| q.eq_ignore_ascii_case(p)))
                    && r.label
                        .as_deref()
                        .is_none_or(|l| labels.iter().any(|x| x.eq_ignore_ascii_case(l)))
            })
            .map(|r| r.repo.as_str())
            .or(self.default_repo.as_deref())
    }

    fn validate(&self, out: &mut Vec<Problem>) {
        let is_repo = |r: &str| matches!(r.split_once('/'), Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/'));
        for (i, route) in self.routes.iter().enumerate() {
            if route.team.is_none() && route.project.is_none() && route.label.is_none() {
                out.push(Problem {
                    key: format!("linear.routes[{i}]"),
                    message: "matches every issue (no team, project or label)".into(),
                    fix: "give it a team, project or label, or set linear.default_repo instead"
                        .into(),
                });
            }
            if !is_repo(&route.repo) {
                out.push(Problem {
                    key: format!("linear.routes[{i}].repo"),
                    message: format!("{:?} is not owner/repo", route.repo),
                    fix: "e.g. repo = \"acme/api\"".into(),
                });
            }
        }
        if let Some(repo) = self.default_repo.as_deref().filter(|r| !is_repo(r)) {
            out.push(Problem {
                key: "linear.default_repo".into(),
                message: format!("{repo:?} is not owner/repo"),
                fix: "e.g. default_repo = \"acme/app\"".into(),
            });
        }
    }
}

impl Default for LinearConfig {
    fn default() -> Self {
        Self {
            timestamp_tolerance_secs: 60,
            api_url: "https://api.linear.app".to_owned(),
            request_timeout_ms: 30_000,
            max_retries: 4,
            retry_base_ms: 500,
            retry_max_ms: 20_000,
            max_rate_limit_wait_s: 300,
            routes: Vec::new(),
            default_repo: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter (`info`, `orion_bot=debug,sqlx=warn`); `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info,sqlx=warn".to_owned(),
        }
    }
}

/// One thing wrong with the configuration, phrased for the person fixing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted key path (`queue.workers`), with the environment variable when that is where it came from.
    pub key: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.key, self.message, self.fix)
    }
}

/// Every problem found, so a user fixes them in one pass instead of one per restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Where the configuration came from, for messages and for `orion check`.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
    /// `key path → environment variable` for every key the environment set.
    pub from_env: BTreeMap<String, String>,
}

impl Config {
    /// Loads the file (if any) and the environment, then validates. `file` is `--config`; when it is
    /// `None`, `ORION_CONFIG` is consulted, and with neither Orion runs on its embedded defaults.
    pub fn load(file: Option<&Path>) -> Result<Loaded, Problems> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// [`Config::load`] with the environment passed in, so tests need not mutate the process's.
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Loaded, Problems> {
        let file = file.map(Path::to_path_buf).or_else(|| {
            env.iter()
                .find(|(k, _)| k == CONFIG_ENV)
                .map(|(_, v)| PathBuf::from(v))
        });
        let mut root = toml::Table::new();
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                one(
                    "config file",
                    format!("cannot read {}: {e}", path.display()),
                    "pass an existing file with --config or ORION_CONFIG, or none to use the defaults",
                )
            })?;
            root = text.parse::<toml::Table>().map_err(|e| {
                one(
                    "config file",
                    format!("{} is not valid TOML: {}", path.display(), e.message()),
                    format!(
                        "correct the syntax{}",
                        e.span()
                            .map(|s| format!(" near byte {}", s.start))
                            .unwrap_or_default()
                    ),
                )
            })?;
        }

        let mut from_env = BTreeMap::new();
        let mut problems = Vec::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("ORION_") else {
                continue;
            };
            if !rest.contains("__") {
                continue; // ORION_CONFIG and the secrets: not config keys.
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            if path.iter().any(String::is_empty) {
                problems.push(Problem {
                    key: name.clone(),
                    message: "empty key segment".to_owned(),
                    fix: "use ORION_SECTION__KEY, e.g. ORION_SERVER__LISTEN".to_owned(),
                });
                continue;
            }
            if let Err(message) = set_path(&mut root, &path, env_value(raw)) {
                problems.push(Problem {
                    key: format!("{} (from {name})", path.join(".")),
                    message,
                    fix: "use ORION_SECTION__KEY for a key inside a section".to_owned(),
                });
                continue;
            }
            from_env.insert(path.join("."), name.clone());
        }
        // The one documented alias: GHES installs (and tests) set the API root by this name.
        let api_url_env = crate::forge::github::API_URL_ENV;
        if let Some((_, url)) = env
            .iter()
            .find(|(k, v)| k == api_url_env && !v.trim().is_empty())
        {
            let path = ["github".to_owned(), "api_url".to_owned()];
            set_path(&mut root, &path, toml::Value::String(url.trim().to_owned()))
                .expect("github is a section of the config");
            from_env.insert(path.join("."), api_url_env.to_owned());
        }
        // The same for Linear: tests point the GraphQL client at a fake by this name.
        let linear_url_env = crate::forge::linear::API_URL_ENV;
        if let Some((_, url)) = env
            .iter()
            .find(|(k, v)| k == linear_url_env && !v.trim().is_empty())
        {
            let path = ["linear".to_owned(), "api_url".to_owned()];
            set_path(&mut root, &path, toml::Value::String(url.trim().to_owned()))
                .expect("linear is a section of the config");
            from_env.insert(path.join("."), linear_url_env.to_owned());
        }
        if !problems.is_empty() {
            return Err(Problems(problems));
        }

        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(root)).map_err(|e| {
                let key = e.path().to_string();
                let shown = match from_env.get(&key) {
                    Some(var) => format!("{key} (from {var})"),
                    None => key,
                };
                one(
                    shown,
                    e.inner().message().to_owned(),
                    "see orion.example.toml for every key, its type and default",
                )
            })?;

        let problems = config.validate();
        if !problems.is_empty() {
            let problems = problems
                .into_iter()
                .map(|mut p| {
                    if let Some(var) = from_env.get(&p.key) {
                        p.key = format!("{} (from {var})", p.key);
                    }
                    p
                })
                .collect();
            return Err(Problems(problems));
        }
        Ok(Loaded {
            config,
            file,
            from_env,
        })
    }

    /// Checks that each value makes sense on its own and with the others.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: key.to_owned(),
                message,
                fix: fix.to_owned(),
            })
        };
        if self.server.listen.parse::<SocketAddr>().is_err() {
            bad(
                "server.listen",
                format!("{:?} is not an IP address and port", self.server.listen),
                "use e.g. \"127.0.0.1:3000\" or \"0.0.0.0:8080\"",
            );
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bad(
                "server.public_url",
                format!("{url:?} is not an http(s) URL"),
                "use the URL GitHub reaches Orion at, e.g. \"https://orion.example.com\"",
            );
        }
        if self.server.max_body_bytes < 64 * 1024 {
            bad(
                "server.max_body_bytes",
                format!(
                    "{} bytes would reject ordinary GitHub payloads",
                    self.server.max_body_bytes
                ),
                "use at least 65536; the default 26214400 (25 MiB) is GitHub's maximum",
            );
        }
        if !self.store.url.starts_with("sqlite:") {
            bad(
                "store.url",
                format!("{:?} is not a supported database URL", self.store.url),
                "use sqlite://PATH, e.g. \"sqlite://orion.db\"",
            );
        }
        if self.store.max_connections == 0 {
            bad(
                "store.max_connections",
                "must be at least 1".to_owned(),
                "use 8",
            );
        }
        if self.queue.workers == 0 {
            bad(
                "queue.workers",
                "must be at least 1, or no job would ever run".to_owned(),
                "use 4",
            );
        }
        if self.queue.lease_secs < 2 {
            bad(
                "queue.lease_secs",
                format!(
                    "{} s is too short to renew a lease in time",
                    self.queue.lease_secs
                ),
                "use at least 2; the default is 300",
            );
        }
        if self.queue.max_attempts == 0 {
            bad(
                "queue.max_attempts",
                "must be at least 1".to_owned(),
                "use 5",
            );
        }
        if self.queue.backoff_base_ms == 0 {
            bad(
                "queue.backoff_base_ms",
                "must be positive".to_owned(),
                "use 2000",
            );
        }
        if self.queue.backoff_max_secs.saturating_mul(1000) < self.queue.backoff_base_ms {
            bad(
                "queue.backoff_max_secs",
                "is smaller than queue.backoff_base_ms".to_owned(),
                "raise backoff_max_secs or lower backoff_base_ms",
            );
        }
        if self.queue.poll_ms == 0 {
            bad("queue.poll_ms", "must be positive".to_owned(), "use 1000");
        }
        if self.linear.timestamp_tolerance_secs == 0 {
            bad(
                "linear.timestamp_tolerance_secs",
                "must be positive, or every delivery would be stale".to_owned(),
                "use 60",
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            bad(
                "log.filter",
                format!("not a valid filter: {e}"),
                "use e.g. \"info\" or \"orion_bot=debug,info\"",
            );
        }
        crate::llm::LlmSettings::from_config(self).validate(&mut out);
        self.linear.validate(&mut out);
        self.git.validate(&mut out);
        self.github.validate(&mut out);
        self.sandbox.validate(&mut out);
        self.implement.validate(&mut out);
        self.review.validate(&mut out);
        self.heartbeat.validate(&mut out);
        self.report.validate(&mut out);
        out
    }

    /// The SQLite file path, when the store is SQLite.
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self.store.url.strip_prefix("sqlite:")?;
        Some(rest.strip_prefix("//").unwrap_or(rest))
    }
}

fn one(key: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) -> Problems {
    Problems(vec![Problem {
        key: key.into(),
        message: message.into(),
        fix: fix.into(),
    }])
}

/// Environment values are typed the way TOML would read them (`8`, `true`, `["a","b"]`), and fall
/// back to a plain string (`127.0.0.1:3000`, `info`), so neither needs quoting in a shell.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(root: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path has at least one segment");
    let mut table = root;
    for segment in parents {
        let entry = table
            .entry(segment.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("{segment} is a value, not a section"))?;
    }
    table.insert(last.clone(), value);
    Ok(())
}

/// A secret string whose `Debug` never shows the value, so it cannot end up in a log line by way
/// of `{:?}` on a struct that holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that needs it (an HMAC key, an Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Secrets, read only from the environment.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// Accepted GitHub webhook secrets; any one matching verifies a delivery (rotation).
    pub github_webhook: Vec<Secret>,
    pub linear_webhook: Option<Secret>,
    /// The key Orion calls Linear's API with (`ORION_LINEAR_API_KEY`).
    pub linear_api_key: Option<Secret>,
    /// Where model API keys are looked up, by the variable names `[models]` and `[llm.byok]` give.
    pub model_keys: EnvKeys,
    /// GitHub App or token credentials (`ORION_GITHUB_APP_ID` + `ORION_GITHUB_APP_PRIVATE_KEY`,
    /// or `ORION_GITHUB_TOKEN`).
    pub github: crate::forge::github::GitHubSecrets,
    /// Opens the dashboard (as a bearer token or cookie). Without it the dashboard answers only
    /// when `server.listen` is a loopback address, since it shows spend and repository names.
    pub dashboard_token: Option<Secret>,
    /// The Slack-compatible incoming webhook reports are posted to (`ORION_SLACK_WEBHOOK_URL`).
    pub slack_webhook_url: Option<Secret>,
}

/// Reads environment variables by name (model API keys). Its `Debug` shows nothing, so a struct
/// holding it can be logged.
#[derive(Clone)]
pub struct EnvKeys(pub crate::llm::KeyLookup);

impl Default for EnvKeys {
    /// The process environment.
    fn default() -> Self {
        Self(crate::llm::process_env())
    }
}

impl EnvKeys {
    /// A fixed set of variables (tests, and `from_vars`).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let map: BTreeMap<String, String> = pairs.iter().cloned().collect();
        Self(std::sync::Arc::new(move |name| map.get(name).cloned()))
    }
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
}

impl fmt::Debug for EnvKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvKeys(<not shown>)")
    }
}

impl Secrets {
    pub fn from_env() -> Self {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self {
            model_keys: EnvKeys::default(),
            ..Self::from_vars(&env)
        }
    }

    pub fn from_vars(env: &[(String, String)]) -> Self {
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        Self {
            github_webhook: get(GITHUB_WEBHOOK_SECRET_ENV)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect()
                })
                .unwrap_or_default(),
            linear_webhook: get(LINEAR_WEBHOOK_SECRET_ENV)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            linear_api_key: get(LINEAR_API_KEY_ENV)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            model_keys: EnvKeys::from_pairs(env),
            github: crate::forge::github::GitHubSecrets::from_vars(|name| {
                get(name).map(str::to_owned)
            }),
            dashboard_token: get(DASHBOARD_TOKEN_ENV)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            slack_webhook_url: get(crate::report::SLACK_WEBHOOK_URL_ENV)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new),
        }
    }

    /// Weak secrets are accepted (GitHub accepts them too) but `orion check` warns about them.
    pub fn warnings(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (i, s) in self.github_webhook.iter().enumerate() {
            if s.expose().len() < 16 {
                out.push(Problem {
                    key: format!("{GITHUB_WEBHOOK_SECRET_ENV}[{i}]"),
                    message: "shorter than 16 characters, easy to guess".to_owned(),
                    fix: "generate one with `openssl rand -hex 32` and set it in GitHub and here"
                        .to_owned(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn linear_issues_route_by_team_project_and_label_then_default() {
        let toml = r#"
[linear]
default_repo = "acme/app"
[[linear.routes]]
team = "OPS"
label = "infra"
repo = "acme/infra"
[[linear.routes]]
project = "Mobile"
repo = "acme/mobile"
"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orion.toml");
        std::fs::write(&file, toml).unwrap();
        let config = Config::load_from(Some(&file), &[]).unwrap().config;
        let l = &config.linear;
        assert_eq!(l.repo_for("ops", None, &["Infra"]), Some("acme/infra"));
        assert_eq!(l.repo_for("OPS", None, &["bug"]), Some("acme/app"));
        assert_eq!(l.repo_for("ENG", Some("mobile"), &[]), Some("acme/mobile"));
        assert_eq!(l.repo_for("ENG", None, &[]), Some("acme/app"));
        assert!(config.validate().is_empty());

        let mut bad = config.clone();
        bad.linear.default_repo = None;
        assert_eq!(bad.linear.repo_for("ENG", None, &[]), None);
        bad.linear.default_repo = Some("app".into());
        bad.linear.routes.push(LinearRoute {
            team: None,
            project: None,
            label: None,
            repo: "acme/x/y".into(),
        });
        let keys: Vec<String> = bad.validate().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "linear.routes[2]",
                "linear.routes[2].repo",
                "linear.default_repo"
            ]
        );
    }

    #[test]
    fn defaults_need_no_file() {
        let loaded = Config::load_from(None, &[]).unwrap();
        assert_eq!(loaded.config.server.listen, "127.0.0.1:3000");
        assert_eq!(loaded.config.sqlite_path(), Some("orion.db"));
        assert!(loaded.file.is_none());
    }

    #[test]
    fn environment_overrides_file_and_is_typed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orion.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:1\"\n[queue]\nworkers = 2\n",
        )
        .unwrap();
        let env = vars(&[
            ("ORION_SERVER__LISTEN", "0.0.0.0:8080"),
            ("ORION_QUEUE__MAX_ATTEMPTS", "9"),
        ]);
        let loaded = Config::load_from(Some(&file), &env).unwrap();
        assert_eq!(loaded.config.server.listen, "0.0.0.0:8080");
        assert_eq!(loaded.config.queue.workers, 2);
        assert_eq!(loaded.config.queue.max_attempts, 9);
        assert_eq!(loaded.from_env["server.listen"], "ORION_SERVER__LISTEN");
    }

    #[test]
    fn config_env_var_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.toml");
        std::fs::write(&file, "[queue]\nworkers = 7\n").unwrap();
        let env = vars(&[("ORION_CONFIG", file.to_str().unwrap())]);
        assert_eq!(
            Config::load_from(None, &env).unwrap().config.queue.workers,
            7
        );
    }

    #[test]
    fn problems_name_the_key_and_the_variable() {
        let env = vars(&[("ORION_QUEUE__WORKERS", "many")]);
        let err = Config::load_from(None, &env).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].key, "queue.workers (from ORION_QUEUE__WORKERS)");

        let env = vars(&[
            ("ORION_QUEUE__WORKERS", "0"),
            ("ORION_SERVER__LISTEN", "nowhere"),
        ]);
        let err = Config::load_from(None, &env).unwrap_err();
        let keys: Vec<_> = err.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen (from ORION_SERVER__LISTEN)",
                "queue.workers (from ORION_QUEUE__WORKERS)"
            ]
        );
        assert!(err.to_string().contains("fix:"));
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orion.toml");
        std::fs::write(&file, "[queue]\nworkerz = 2\n").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err();
        assert_eq!(err.0[0].key, "queue.workerz");
        assert!(err.0[0].message.contains("workerz"), "{}", err.0[0].message);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orion.toml");
        std::fs::write(&file, "[queue\n").unwrap();
        let err = Config::load_from(Some(&file), &[]).unwrap_err();
        assert!(err.0[0].message.contains("orion.toml"));
    }

    #[test]
    fn secrets_come_from_the_environment_and_never_print() {
        let s = Secrets::from_vars(&vars(&[
            (
                "ORION_GITHUB_WEBHOOK_SECRET",
                "new-secret-value, old-secret-value ,",
            ),
            ("ORION_LINEAR_WEBHOOK_SECRET", "lin"),
        ]));
        assert_eq!(s.github_webhook.len(), 2);
        assert_eq!(s.github_webhook[1].expose(), "old-secret-value");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("secret-value") && !shown.contains("lin\""),
            "{shown}"
        );
    }

    fn example() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("orion.example.toml")
    }

    #[test]
    fn the_example_is_valid_and_names_its_keys() {
        let loaded = Config::load_from(Some(&example()), &[]).unwrap();
        let settings = crate::llm::LlmSettings::from_config(&loaded.config);
        let ladder: Vec<String> = settings.ladder().into_iter().map(|(m, _)| m).collect();
        assert_eq!(ladder, ["deepseek", "haiku", "sonnet", "opus"]);
        assert_eq!(
            settings.models["local"].base_url(),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            settings.models["sonnet"].base_url(),
            "https://api.anthropic.com"
        );
        let missing = settings.missing_keys(&|_| None);
        let keys: Vec<&str> = missing.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "models.deepseek.api_key_env",
                "models.haiku.api_key_env",
                "models.sonnet.api_key_env",
                "models.opus.api_key_env"
            ]
        );
        assert!(missing[0].message.contains("DEEPSEEK_API_KEY"));
        let all = |name: &str| Some(format!("value of {name}"));
        assert!(settings.missing_keys(&all).is_empty());
        // The embedded defaults have no models and need no keys.
        let defaults = crate::llm::LlmSettings::from_config(&Config::default());
        assert!(defaults.ladder().is_empty() && defaults.missing_keys(&|_| None).is_empty());
    }

    #[test]
    fn model_problems_name_the_key_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orion.toml");
        let mut text = std::fs::read_to_string(example()).unwrap();
        text = text.replace(
            "tactical = [\"deepseek\", \"haiku\"]",
            "tactical = [\"deepseek\", \"haikoo\"]",
        );
        text = text.replace("warn_at = 0.8", "warn_at = 0.97");
        text = text.replace("context_window = 128000", "context_window = 100");
        text = text.replace(
            "sensitive_floor = \"strategic\"",
            "sensitive_floor = \"strategy\"",
        );
        std::fs::write(&file, text).unwrap();
        let err = Config::load_from(Some(&file), &vars(&[("ORION_ROUTING__STRATEGY", "fixed")]))
            .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        for expected in [
            "tiers.tactical[1]",
            "budgets.warn_at",
            "models.deepseek.context_window",
            "models.deepseek.max_output_tokens",
            "routing.sensitive_floor",
            "routing.fixed_model",
        ] {
            assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
        }
        assert!(
            err.to_string().contains("unknown model \"haikoo\""),
            "{err}"
        );
    }

    #[test]
    fn the_dashboard_token_comes_from_the_environment() {
        let s = Secrets::from_vars(&vars(&[("ORION_DASHBOARD_TOKEN", " dash-token-value ")]));
        assert_eq!(
            s.dashboard_token.as_ref().map(Secret::expose),
            Some("dash-token-value")
        );
        assert!(!format!("{s:?}").contains("dash-token-value"));
        let blank = Secrets::from_vars(&vars(&[("ORION_DASHBOARD_TOKEN", " ")]));
        assert!(blank.dashboard_token.is_none());
    }
}
