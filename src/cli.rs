//! The `orion` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::{GENERATED_SECRET_KEY, Orion, Startup};
use crate::config::{self, Config, Loaded, LogFormat, Secrets};
use crate::store::{OpenMode, StatusReport, Store};
use crate::webhook::signature;

#[derive(Debug, Parser)]
#[command(
    name = "orion",
    version,
    about = "Self-hosted, git-native AI agent bot for issue trackers and pull requests"
)]
pub struct Cli {
    /// Config file (default: $ORION_CONFIG, else built-in defaults; ORION_SECTION__KEY overrides any key)
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log format (default: log.format from the config)
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive webhooks and run jobs until SIGINT/SIGTERM
    Serve,
    /// Validate the configuration; exit 1 and name each problem with its fix
    Check,
    /// Queue depth by state, recent deliveries and dead jobs
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Sign a payload file with the configured secret and post it to a running Orion
    Replay(ReplayArgs),
    /// The models, their ladder, prices and what routing has learned about each
    Models {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Implement an issue in the foreground, with live progress: OWNER/REPO#N
    Implement {
        /// The issue, as OWNER/REPO#N
        target: String,
        /// Print every comment, label, push and pull request instead of making it (models are
        /// still called and paid; the work happens in a temporary checkout)
        #[arg(long)]
        dry_run: bool,
    },
    /// Scan Orion's work now: resume stuck tasks, remind people of long-blocked ones
    Heartbeat {
        /// One scan in the foreground (scheduled scans run inside `orion serve`)
        #[arg(long)]
        once: bool,
    },
    /// Make a standup report now and send it where [report] says
    Report {
        /// The weekly summary of the last seven days instead of the standup for the time of day
        #[arg(long)]
        weekly: bool,
        /// Print the report (Markdown) instead of sending it
        #[arg(long)]
        print: bool,
    },
    /// What model calls cost, from the spend ledger
    Spend {
        /// Group by
        #[arg(long, value_enum, default_value = "model")]
        by: crate::llm::ledger::SpendBy,
        /// Since a date (2026-11-01, midnight UTC) or a span back from now (7d, 24h); default: this month
        #[arg(long)]
        since: Option<String>,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// The JSON payload to send
    file: PathBuf,
    /// GitHub event name for X-GitHub-Event (issues, issue_comment, pull_request, …)
    #[arg(long, required_unless_present = "linear")]
    event: Option<String>,
    /// Send it as a Linear delivery instead (webhookTimestamp is set to now before signing)
    #[arg(long, conflicts_with = "event")]
    linear: bool,
    /// Where to post (default: http://<server.listen>/webhooks/<github|linear>)
    #[arg(long)]
    url: Option<String>,
    /// Delivery id to send (default: a fresh UUID; reuse one to test redelivery)
    #[arg(long)]
    delivery: Option<String>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprint!("orion: {problems}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Check = cli.command {
        return check(&loaded);
    }
    crate::telemetry::init(&loaded.config.log, cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orion: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => serve(loaded).await,
            Command::Models { json } => models(&loaded.config, json).await,
            Command::Spend { by, since, json } => {
                spend(&loaded.config, by, since.as_deref(), json).await
            }
            Command::Status { json } => status(&loaded.config, json).await,
            Command::Replay(args) => replay(&loaded.config, args).await,
            Command::Implement { target, dry_run } => implement(loaded, &target, dry_run).await,
            Command::Heartbeat { once } => heartbeat(loaded, once).await,
            Command::Report { weekly, print } => report(&loaded.config, weekly, print).await,
            Command::Check => unreachable!("handled above"),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("orion: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(loaded: Loaded) -> anyhow::Result<ExitCode> {
    // Reads FAILPOINTS (crash tests); a no-op when unset.
    let _failpoints = fail::FailScenario::setup();
    let config = loaded.config;
    let public_url = config.server.public_url.clone();
    let signal = shutdown_signal()?;
    let secrets = Secrets::from_env();
    let settings = crate::llm::LlmSettings::from_config(&config);
    let missing = settings.missing_keys(&|name| secrets.model_keys.get(name));
    if !missing.is_empty() {
        bail!("{}", config::Problems(missing));
    }
    let orion = Orion::start(config, secrets, crate::jobs::registry).await?;
    let stop_watch = tokio_util::sync::CancellationToken::new();
    let watcher = crate::app::watch_config(
        orion.state.llm().clone(),
        loaded.file.clone(),
        std::time::Duration::from_secs(2),
        stop_watch.clone(),
    )?;
    let heartbeat = match orion.state.config().heartbeat.schedules() {
        Ok(schedules) if !schedules.is_empty() => Some(crate::heartbeat::ticker::spawn(
            orion.state.store().clone(),
            schedules,
            orion.state.config().queue.max_attempts,
            stop_watch.clone(),
        )),
        _ => None,
    };
    print!("{}", banner(&orion.startup, public_url.as_deref()));
    tracing::info!(addr = %orion.addr(), version = env!("CARGO_PKG_VERSION"), "orion is serving");
    signal.await;
    tracing::info!("shutting down: no new requests or jobs; letting running jobs finish");
    stop_watch.cancel();
    let _ = watcher.await;
    if let Some(heartbeat) = heartbeat {
        let _ = heartbeat.await;
    }
    orion.shutdown().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The services a command in the foreground runs a job with, as `orion serve`'s workers would.
async fn foreground_services(config: &Config) -> anyhow::Result<crate::app::Services> {
    let secrets = Secrets::from_env();
    let settings = crate::llm::LlmSettings::from_config(config);
    let missing = settings.missing_keys(&|name| secrets.model_keys.get(name));
    if !missing.is_empty() {
        bail!("{}", config::Problems(missing));
    }
    let store = Store::open(&config.store, OpenMode::CreateIfMissing).await?;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let llm = crate::llm::Llm::new(
        store.clone(),
        settings,
        secrets.model_keys.0.clone(),
        vec![],
    )
    .await?
    .with_metrics(metrics.clone());
    crate::app::Services::build(
        config,
        &secrets,
        store,
        llm,
        metrics,
        std::sync::Arc::new(tokio::sync::Notify::new()),
    )
}

/// `orion heartbeat --once`: one scan now, in the foreground. What it starts (resumed tasks)
/// is queued for `orion serve`'s workers.
async fn heartbeat(loaded: Loaded, once: bool) -> anyhow::Result<ExitCode> {
    if !once {
        bail!(
            "`orion heartbeat` runs one scan with --once; scheduled scans run inside `orion serve` on the [heartbeat] schedules"
        );
    }
    let services = foreground_services(&loaded.config).await?;
    let tick = crate::store::now_ms();
    let report = crate::heartbeat::scan::scan(&services, tick)
        .await
        .map_err(|e| anyhow::anyhow!("the scan failed: {e:?}"))?;
    print!("{}", report.describe());
    services.store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `orion report [--weekly] [--print]`: the report for now, printed or sent.
async fn report(config: &Config, weekly: bool, print: bool) -> anyhow::Result<ExitCode> {
    let now = crate::store::now_ms();
    if print {
        let store = open_existing(config).await?;
        let report = crate::report::make(&store, config, weekly, now).await?;
        store.close().await;
        print!(
            "{}",
            crate::report::render::markdown(&report, config.report.max_items)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let services = foreground_services(config).await?;
    let report = crate::report::make(&services.store, config, weekly, now).await?;
    let deliveries = crate::report::send_now(&services, &report, now).await;
    services.store.close().await;
    let mut code = ExitCode::SUCCESS;
    for d in deliveries? {
        match d.result {
            Ok(url) => println!("{}: sent {}", d.destination, url.unwrap_or_default()),
            Err(f) => {
                println!("{}: NOT sent: {}", d.destination, f.message);
                code = ExitCode::FAILURE;
            }
        }
    }
    Ok(code)
}

/// `orion implement OWNER/REPO#N`: the same task a label starts, run here with its progress
/// printed as it goes. Ctrl-C stops it at the next step boundary; a later run (or `orion serve`)
/// resumes it.
async fn implement(loaded: Loaded, target: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let _failpoints = fail::FailScenario::setup();
    let (repo, number) = target
        .rsplit_once('#')
        .and_then(|(r, n)| Some((r, n.parse::<u64>().ok()?)))
        .filter(|(r, _)| r.split('/').count() == 2)
        .with_context(|| format!("{target:?} is not OWNER/REPO#NUMBER"))?;
    let repo = crate::event::RepoName(repo.to_owned());
    let issue = crate::event::IssueNumber(number);
    let mut config = loaded.config;
    // A dry run works in a checkout of its own, so its commits never meet a real task's.
    let scratch = if dry_run { Some(tempfile_dir()?) } else { None };
    if let Some(dir) = &scratch {
        config.git.workdir = dir.clone();
    }
    let mut services = foreground_services(&config).await?;
    let store = services.store.clone();
    if dry_run {
        services.dry_run = Some(crate::forge::github::DryRun(std::sync::Arc::new(|what| {
            println!("[dry run] {what}")
        })));
    }
    let github = services.github.clone().context(crate::app::NO_GITHUB)?;
    let installation = github.installation_for(&repo).await?;
    let found = github.repo(installation, &repo)?.issue(issue).await?;
    let me = github.identity().await?.login.clone();
    let tasks = crate::implement::task::Tasks::new(store.clone());
    let task = match tasks
        .start(
            &repo,
            issue,
            &crate::implement::task::Origin::GitHub,
            installation,
            &me,
            &found.title,
        )
        .await?
    {
        crate::implement::task::Started::New(t) => t,
        crate::implement::task::Started::AlreadyRunning(t) if dry_run => {
            bail!(
                "task {} for {repo}{issue} is running ({}); a dry run needs the issue free",
                t.id,
                t.state
            )
        }
        crate::implement::task::Started::AlreadyRunning(t) => {
            println!("resuming task {} ({})", t.id, t.state);
            t
        }
    };
    println!("task {}: {repo}{issue} {:?}", task.id, found.title);
    let cancel = tokio_util::sync::CancellationToken::new();
    let progress = {
        let (tasks, cancel) = (tasks.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut shown = String::new();
            loop {
                if let Ok(t) = tasks.get(task.id).await {
                    let steps = tasks.steps(task.id).await.unwrap_or_default();
                    let line = format!(
                        "{}{}",
                        t.state,
                        steps
                            .iter()
                            .map(|s| format!(" [{} {}]", s.step_id, s.state))
                            .collect::<String>()
                    );
                    if line != shown {
                        println!("  {line}");
                        shown = line;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        })
    };
    let signal = shutdown_signal()?;
    let run = crate::implement::pipeline::run(&services, task.id, &cancel, true);
    let result = tokio::select! {
        r = run => r,
        _ = signal => {
            println!("stopping at the next step boundary…");
            Err(crate::queue::JobError::Retry(anyhow::anyhow!("interrupted")))
        }
    };
    cancel.cancel();
    let _ = progress.await;
    if dry_run {
        tasks.end_dry_run(task.id).await?;
        if let Some(dir) = &scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        println!("dry run over: nothing was written to GitHub");
        return Ok(if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let task = tasks.get(task.id).await?;
    match (&result, task.state) {
        (Ok(()), crate::implement::task::TaskState::Done) => {
            println!("done: {}", task.pr_url.as_deref().unwrap_or("(no PR link)"));
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            println!("{}: {}", task.state, task.detail.as_deref().unwrap_or(""));
            if let Err(e) = result {
                eprintln!("orion: {e:?}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("orion-dry-run-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).with_context(|| format!("while creating {}", dir.display()))?;
    Ok(dir)
}

/// What a user needs next, printed once to stdout (not to the log, which may be shipped elsewhere).
fn banner(startup: &Startup, public_url: Option<&str>) -> String {
    let base = public_url
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", startup.addr));
    let mut out = format!(
        "Orion {} is listening on http://{}\n\n  GitHub webhook URL: {base}/webhooks/github\n  Linear webhook URL: {base}/webhooks/linear\n  Health: {base}/healthz   Metrics: {base}/metrics\n\n",
        env!("CARGO_PKG_VERSION"),
        startup.addr,
    );
    if let Some(secret) = &startup.generated_secret {
        out.push_str(&format!(
            "No {env} was set, so Orion generated a webhook secret and stored it in its database:\n\n    {secret}\n\n\
             Paste it as the webhook secret of your GitHub App or repository webhook (see webhooks/README.md).\n\
             It is shown only this once and stays in force across restarts until you set {env}.\n\
             Test locally with: orion replay PAYLOAD.json --event issues\n\n",
            env = config::GITHUB_WEBHOOK_SECRET_ENV,
        ));
    } else if startup.using_stored_secret {
        out.push_str(&format!(
            "Using the GitHub webhook secret generated on first start (stored in the database; set {} to replace it).\n\n",
            config::GITHUB_WEBHOOK_SECRET_ENV,
        ));
    }
    out.push_str("Stop with Ctrl-C (running jobs get queue.shutdown_grace_secs to finish).\n");
    out
}

/// SIGINT or SIGTERM. The handlers are installed when this is created, before Orion announces
/// itself, so a signal sent the moment the banner appears is never lost to the default action.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt =
        signal(SignalKind::interrupt()).context("while installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("while installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn check(loaded: &Loaded) -> ExitCode {
    let mut problems = Vec::new();
    if let Some(path) = loaded.config.sqlite_path() {
        let parent = std::path::Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = parent
            && !dir.is_dir()
        {
            problems.push(config::Problem {
                key: "store.url".to_owned(),
                message: format!("the directory {} does not exist", dir.display()),
                fix: "create it, or point store.url at an existing directory".to_owned(),
            });
        }
    }
    let secrets = Secrets::from_env();
    let warnings = secrets.warnings();
    let settings = crate::llm::LlmSettings::from_config(&loaded.config);
    problems.extend(settings.missing_keys(&|name| secrets.model_keys.get(name)));
    match &loaded.file {
        Some(f) => println!("config file: {}", f.display()),
        None => println!("config file: none (built-in defaults)"),
    }
    for (key, var) in &loaded.from_env {
        println!("  {key} set by {var}");
    }
    if secrets.github_webhook.is_empty() {
        println!(
            "GitHub webhook secret: not set; `orion serve` generates one on first start and prints it once"
        );
    } else {
        println!(
            "GitHub webhook secrets: {} configured",
            secrets.github_webhook.len()
        );
    }
    println!(
        "Linear webhook secret: {}",
        if secrets.linear_webhook.is_some() {
            "configured"
        } else {
            "not set (Linear webhooks answer 503)"
        }
    );
    let set_or = |set: bool, unset: &str| {
        if set {
            "configured".to_owned()
        } else {
            unset.to_owned()
        }
    };
    println!(
        "Linear API key ({}): {}",
        config::LINEAR_API_KEY_ENV,
        set_or(
            secrets.linear_api_key.is_some(),
            "not set (Linear events are recorded, not acted on)"
        )
    );
    println!(
        "Slack report webhook ({}): {}",
        crate::report::slack::SLACK_WEBHOOK_URL_ENV,
        set_or(
            secrets.slack_webhook_url.is_some(),
            "not set (reports go to the destinations [report] names)"
        )
    );
    println!(
        "Dashboard token ({}): {}",
        config::DASHBOARD_TOKEN_ENV,
        set_or(
            secrets.dashboard_token.is_some(),
            "not set (the dashboard answers on loopback only)"
        )
    );
    match crate::forge::github::GitHubCredentials::resolve(&secrets.github) {
        Err(problem) => problems.push(problem),
        Ok(None) => println!(
            "GitHub: no credentials (set ORION_GITHUB_APP_ID and ORION_GITHUB_APP_PRIVATE_KEY, or ORION_GITHUB_TOKEN); Orion receives webhooks but cannot act"
        ),
        Ok(Some(credentials)) => {
            if let Err(problem) = check_github(&loaded.config.github, &credentials) {
                problems.push(problem);
            }
        }
    }
    let ladder = settings.ladder();
    if ladder.is_empty() {
        println!(
            "models: none configured (model work is refused; see [models] in orion.example.toml)"
        );
    } else {
        println!(
            "models: {} on the ladder, routing {}: {}",
            ladder.len(),
            settings.routing.strategy,
            ladder
                .iter()
                .map(|(m, t)| format!("{m} ({t})"))
                .collect::<Vec<_>>()
                .join(" → ")
        );
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    if problems.is_empty() {
        println!("configuration OK");
        ExitCode::SUCCESS
    } else {
        eprint!("orion: {}", config::Problems(problems));
        ExitCode::FAILURE
    }
}

/// Signs in to GitHub and lists what the credentials reach: proof that the App id and key (or
/// the token) work, and that the App is installed where the user expects.
fn check_github(
    config: &crate::forge::github::GitHubConfig,
    credentials: &crate::forge::github::GitHubCredentials,
) -> Result<(), config::Problem> {
    let problem = |message: String| {
        config::Problem {
        key: "GitHub credentials".to_owned(),
        message,
        fix: "check ORION_GITHUB_APP_ID / ORION_GITHUB_APP_PRIVATE_KEY (or ORION_GITHUB_TOKEN) and github.api_url".to_owned(),
    }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| problem(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let github =
            crate::forge::GitHub::new(config, credentials).map_err(|e| problem(e.to_string()))?;
        let me = github
            .identity()
            .await
            .map_err(|e| problem(e.to_string()))?;
        match me.app_id {
            Some(id) => println!(
                "GitHub: app {:?} (id {id}, acts as {}) at {}",
                me.name, me.login, config.api_url
            ),
            None => println!("GitHub: token of {} at {}", me.login, config.api_url),
        }
        let installations = github
            .installations(None)
            .await
            .map_err(|e| problem(e.to_string()))?;
        if installations.is_empty() {
            println!("  not installed anywhere yet: install the app on a repository");
        }
        for inst in installations {
            let repos: Vec<&str> = inst.repositories.iter().map(|r| r.as_str()).collect();
            let label = if me.app_id.is_some() {
                format!("installation {} on {}", inst.id.0, inst.account)
            } else {
                format!("repositories of {}", inst.account)
            };
            println!(
                "  {label} ({}, {} repositories): {}",
                inst.repository_selection,
                repos.len(),
                if repos.is_empty() {
                    "none".to_owned()
                } else {
                    repos.join(", ")
                }
            );
        }
        Ok(())
    })
}

async fn open_existing(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.store, OpenMode::MustExist)
        .await
        .with_context(|| {
            format!(
                "no readable database at {} (has `orion serve` run with this configuration?)",
                config.store.url
            )
        })
}

#[derive(serde::Serialize)]
struct ModelRow {
    name: String,
    rung: Option<usize>,
    tier: Option<String>,
    provider: &'static str,
    model: String,
    input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    cached_input_usd_per_mtok: f64,
    context_window: u64,
    tools: bool,
    vision: bool,
    structured: bool,
    enabled: bool,
    key: String,
}

#[derive(serde::Serialize)]
struct LearnedRow {
    model: String,
    kind: String,
    successes: f64,
    failures: f64,
    /// Posterior mean and optimistic bound for a medium-complexity task of this kind.
    mean: f64,
    bound: f64,
}

async fn models(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let settings = crate::llm::LlmSettings::from_config(config);
    let router = crate::llm::Router::new(settings.clone());
    let secrets = Secrets::from_env();
    let rows: Vec<ModelRow> = settings
        .models
        .iter()
        .map(|(name, m)| {
            let rung = router.rung_of(name);
            ModelRow {
                name: name.clone(),
                rung,
                tier: rung.map(|r| router.ladder()[r].1.to_string()),
                provider: m.provider.name(),
                model: m.model.clone(),
                input_usd_per_mtok: m.input_usd_per_mtok,
                output_usd_per_mtok: m.output_usd_per_mtok,
                cached_input_usd_per_mtok: m.cached_input_price(),
                context_window: m.context_window,
                tools: m.tools,
                vision: m.vision,
                structured: m.structured,
                enabled: m.enabled,
                key: match &m.api_key_env {
                    None => "none needed".to_owned(),
                    Some(v) if secrets.model_keys.get(v).is_some() => format!("{v} set"),
                    Some(v) => format!("{v} MISSING"),
                },
            }
        })
        .collect();
    // History lives in the database; a fresh install has none yet.
    let perf = match Store::open(&config.store, OpenMode::MustExist).await {
        Ok(store) => {
            let p = crate::llm::ledger::load_performance(&store).await?;
            store.close().await;
            p
        }
        Err(_) => Default::default(),
    };
    let learned: Vec<LearnedRow> = perf
        .by_kind()
        .into_iter()
        .map(|((model, kind), t)| {
            let tier = router
                .rung_of(&model)
                .map(|r| router.ladder()[r].1)
                .unwrap_or(crate::llm::Tier::Tactical);
            let e = router.estimate(
                &perf,
                &model,
                tier,
                kind,
                crate::llm::Complexity::Medium,
                false,
            );
            LearnedRow {
                model,
                kind: kind.to_string(),
                successes: t.successes,
                failures: t.failures,
                mean: e.mean,
                bound: e.upper,
            }
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "strategy": settings.routing.strategy,
                "success_threshold": settings.routing.success_threshold,
                "models": rows,
                "learned": learned,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No models configured: add [models.NAME] and [tiers] (see orion.example.toml).");
        return Ok(ExitCode::SUCCESS);
    }
    let r = &settings.routing;
    println!(
        "Routing: {}, success threshold {:.2} ({:.2} past the budget warning), at most {} attempts per task, sensitive floor {}",
        r.strategy,
        r.success_threshold,
        r.warn_success_threshold,
        r.max_attempts,
        r.sensitive_floor
    );
    println!(
        "\n{:<4} {:<12} {:<9} {:<9} {:<26} {:>7} {:>7} {:>8} {:>8}  {:<17} key",
        "rung",
        "name",
        "tier",
        "provider",
        "model",
        "$in/M",
        "$out/M",
        "$cache/M",
        "context",
        "capabilities",
    );
    let mut sorted: Vec<&ModelRow> = rows.iter().collect();
    sorted.sort_by_key(|m| m.rung.unwrap_or(usize::MAX));
    for m in sorted {
        let caps = [
            ("tools", m.tools),
            ("vision", m.vision),
            ("json", m.structured),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",");
        println!(
            "{:<4} {:<12} {:<9} {:<9} {:<26} {:>7.3} {:>7.3} {:>8.3} {:>8}  {:<17} {}{}",
            m.rung
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            m.name,
            m.tier.as_deref().unwrap_or("(no tier)"),
            m.provider,
            m.model,
            m.input_usd_per_mtok,
            m.output_usd_per_mtok,
            m.cached_input_usd_per_mtok,
            m.context_window,
            caps,
            m.key,
            if m.enabled { "" } else { "  (disabled)" },
        );
    }
    println!(
        "\nLearned success by task kind (Beta posterior; bound = what cost_aware compares with the threshold)"
    );
    if learned.is_empty() {
        println!("  (no finished attempts yet: routing uses each tier's prior)");
    } else {
        println!(
            "  {:<12} {:<15} {:>9} {:>9} {:>6} {:>6}",
            "model", "kind", "succeeded", "failed", "mean", "bound"
        );
        for l in &learned {
            println!(
                "  {:<12} {:<15} {:>9} {:>9} {:>6.2} {:>6.2}",
                l.model, l.kind, l.successes, l.failures, l.mean, l.bound
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn spend(
    config: &Config,
    by: crate::llm::ledger::SpendBy,
    since: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let now = crate::store::now_ms();
    let since_ms = match since {
        None => crate::calendar::month_start(now),
        Some(s) => crate::calendar::parse_since(s, now).with_context(|| {
            format!("--since {s:?}: use a date like 2026-11-01 or a span like 7d, 24h, 30m")
        })?,
    };
    let store = open_existing(config).await?;
    let rows = crate::llm::ledger::spend_report(&store, by, since_ms).await?;
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "since": since_ms,
                "rows": rows,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("Model spend since {}", crate::calendar::date_time(since_ms));
    if rows.is_empty() {
        println!("  (no model calls)");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "  {:<28} {:>7} {:>7} {:>12} {:>12} {:>12} {:>11}",
        format!("{by:?}").to_lowercase(),
        "calls",
        "failed",
        "input tok",
        "cached tok",
        "output tok",
        "USD"
    );
    let mut total = 0.0;
    for r in &rows {
        total += r.usd;
        println!(
            "  {:<28} {:>7} {:>7} {:>12} {:>12} {:>12} {:>11.4}",
            r.key,
            r.calls,
            r.failed_calls,
            r.input_tokens,
            r.cached_input_tokens,
            r.output_tokens,
            r.usd
        );
    }
    println!("  {:<28}{:>67.4}", "total", total);
    Ok(ExitCode::SUCCESS)
}

async fn status(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(config).await?;
    let report = store.status(10).await?;
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_status(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render_status(report: &StatusReport) -> String {
    let mut out = String::from("Queue\n");
    for (state, n) in &report.queue {
        out.push_str(&format!("  {state:<8} {n}\n"));
    }
    out.push_str("\nRecent deliveries\n");
    if report.recent_deliveries.is_empty() {
        out.push_str("  (none yet)\n");
    }
    for d in &report.recent_deliveries {
        out.push_str(&format!(
            "  {}  {:<6} {:<36} {:<34} {:<10} {}{}\n",
            format_ms(d.received_at),
            d.source,
            d.delivery_id,
            d.event,
            d.outcome,
            d.repo.as_deref().unwrap_or("-"),
            d.error
                .as_deref()
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default(),
        ));
    }
    out.push_str("\nDead jobs\n");
    if report.dead_jobs.is_empty() {
        out.push_str("  (none)\n");
    }
    for j in &report.dead_jobs {
        out.push_str(&format!(
            "  #{} {} after {} attempt(s), {}: {}\n",
            j.id,
            j.kind,
            j.attempts,
            format_ms(j.updated_at),
            j.last_error.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` UTC.
fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        crate::calendar::date(ms),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

async fn replay(config: &Config, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read(&args.file)
        .with_context(|| format!("while reading {}", args.file.display()))?;
    let secrets = Secrets::from_env();
    let delivery = args
        .delivery
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let client = reqwest::Client::new();
    let request = if args.linear {
        let secret = secrets.linear_webhook.with_context(|| {
            format!(
                "no Linear secret: set {}",
                config::LINEAR_WEBHOOK_SECRET_ENV
            )
        })?;
        let mut body: serde_json::Value = serde_json::from_slice(&raw)
            .with_context(|| format!("{} is not JSON", args.file.display()))?;
        let object = body
            .as_object_mut()
            .context("a Linear payload is a JSON object")?;
        object.insert("webhookTimestamp".to_owned(), crate::store::now_ms().into());
        let body = serde_json::to_vec(&body)?;
        let url = args
            .url
            .unwrap_or_else(|| format!("http://{}/webhooks/linear", config.server.listen));
        client
            .post(url)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Linear-Delivery", &delivery)
            .header(
                signature::LINEAR_SIGNATURE_HEADER,
                signature::sign_hex(secret.expose(), &body),
            )
            .body(body)
    } else {
        let secret = match secrets.github_webhook.first() {
            Some(s) => s.expose().to_owned(),
            None => {
                let store = open_existing(config).await.with_context(|| {
                    format!(
                        "no GitHub secret: set {} or run `orion serve` once",
                        config::GITHUB_WEBHOOK_SECRET_ENV
                    )
                })?;
                let stored = store.setting(GENERATED_SECRET_KEY).await?;
                store.close().await;
                match stored {
                    Some(s) => s,
                    None => bail!(
                        "no GitHub secret: set {}",
                        config::GITHUB_WEBHOOK_SECRET_ENV
                    ),
                }
            }
        };
        let event = args.event.expect("clap requires --event without --linear");
        let url = args
            .url
            .unwrap_or_else(|| format!("http://{}/webhooks/github", config.server.listen));
        client
            .post(url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "GitHub-Hookshot/orion-replay")
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", &delivery)
            .header(
                signature::GITHUB_SIGNATURE_HEADER,
                signature::github_header(&secret, &raw),
            )
            .body(raw)
    };
    let response = request.send().await.context("while posting the delivery")?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!("delivery {delivery}: {status}\n{text}");
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_in_utc() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(1_795_000_000_000), "2026-11-18 11:06:40");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00");
    }
}
