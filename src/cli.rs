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
            Command::Serve => serve(loaded.config).await,
            Command::Status { json } => status(&loaded.config, json).await,
            Command::Replay(args) => replay(&loaded.config, args).await,
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

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    // Reads FAILPOINTS (crash tests); a no-op when unset.
    let _failpoints = fail::FailScenario::setup();
    let public_url = config.server.public_url.clone();
    let signal = shutdown_signal()?;
    let orion = Orion::start(config, Secrets::from_env(), crate::jobs::registry()).await?;
    print!("{}", banner(&orion.startup, public_url.as_deref()));
    tracing::info!(addr = %orion.addr(), version = env!("CARGO_PKG_VERSION"), "orion is serving");
    signal.await;
    tracing::info!("shutting down: no new requests or jobs; letting running jobs finish");
    orion.shutdown().await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
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

/// `YYYY-MM-DD HH:MM:SS` UTC, without pulling in a date crate for one line.
fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
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
