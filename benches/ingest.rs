//! Durable ingest benchmark: how many signed GitHub deliveries per second Orion acknowledges (each
//! one committed to SQLite with its job before the 202), and how long an acknowledgement takes,
//! next to a no-op axum handler measured in the same run with the same load generator.
//!
//! Two phases per server, each on a fresh instance (fresh database), after a warm-up:
//! - throughput: closed loop, `BENCH_CONCURRENCY` tasks share `BENCH_REQUESTS` requests;
//! - fixed rate: open loop at `BENCH_RATE`/s for `BENCH_RATE_SECS` s. Sends are scheduled at fixed
//!   intervals by a dedicated thread whatever the responses do, and latency is measured from the
//!   scheduled send time, so a stall is charged to every request it delays (no coordinated
//!   omission).
//!
//! Orion's workers run as they normally do, draining the jobs the deliveries create while the load
//! is applied. Run with `cargo bench --bench ingest`; set `BENCH_LOG=info` (and redirect stderr) to
//! include the cost of Orion's logging, which is off by default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use orion_bot::app::Orion;
use orion_bot::config::{Config, LogConfig, LogFormat, Secret, Secrets, Synchronous};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::task::JoinSet;

const PAYLOAD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/corpus/github-webhooks/issues/labeled.payload.json"
));
const SECRET: &str = "bench-secret";
const EVENT: &str = "issues";
const WARMUP: usize = 500;

/// Every delivery id sent in this process, so no request is ever a redelivery.
static NEXT_DELIVERY: AtomicU64 = AtomicU64::new(1);

fn delivery_id() -> String {
    let n = NEXT_DELIVERY.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

struct Settings {
    requests: usize,
    /// Cap on one throughput phase: no request is started after it, so a slow server cannot make
    /// the run take minutes.
    max_secs: u64,
    /// Adds diagnostic rows (Orion with no workers).
    diag: bool,
    concurrency: usize,
    rate: u64,
    rate_secs: u64,
}

impl Settings {
    fn from_env() -> Self {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            match std::env::var(name) {
                Ok(v) => v.trim().parse().unwrap_or_else(|_| {
                    eprintln!("ignoring {name}={v:?}: not a number");
                    default
                }),
                Err(_) => default,
            }
        }
        Self {
            requests: var("BENCH_REQUESTS", 20_000usize).max(1),
            max_secs: var("BENCH_MAX_SECS", 15u64).max(1),
            diag: std::env::var("BENCH_DIAG").is_ok_and(|v| !v.is_empty() && v != "0"),
            concurrency: var("BENCH_CONCURRENCY", 64usize).max(1),
            rate: var("BENCH_RATE", 1_000u64).max(1),
            rate_secs: var("BENCH_RATE_SECS", 5u64).max(1),
        }
    }
}

/// The load generator's view of one server: a pooled client and the one request it sends.
struct Load {
    client: reqwest::Client,
    url: String,
    body: Bytes,
    signature: HeaderValue,
}

impl Load {
    fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(30))
            .build()?;
        let signature = orion_bot::webhook::signature::github_header(SECRET, PAYLOAD);
        Ok(Self {
            client,
            url: format!("http://{addr}/webhooks/github"),
            body: Bytes::from_static(PAYLOAD),
            signature: HeaderValue::from_str(&signature)?,
        })
    }

    /// Sends one delivery and reads the whole answer; `Err` describes anything but a 202.
    async fn send(&self) -> Result<(), String> {
        let response = self
            .client
            .post(&self.url)
            .header("X-GitHub-Event", EVENT)
            .header("X-GitHub-Delivery", delivery_id())
            .header(CONTENT_TYPE, "application/json")
            .header("X-Hub-Signature-256", self.signature.clone())
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| describe(&e))?;
        if status == StatusCode::ACCEPTED {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(format!(
                "HTTP {status}: {}",
                text.chars().take(120).collect::<String>()
            ))
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() {
        "body"
    } else {
        "request"
    };
    format!("{kind} error: {e}")
}

/// Failures by description, for the report.
#[derive(Default)]
struct Errors(BTreeMap<String, usize>);

impl Errors {
    fn record(&mut self, result: Result<(), String>) {
        if let Err(e) = result {
            *self.0.entry(e).or_default() += 1;
        }
    }
    fn merge(&mut self, other: Errors) {
        for (k, n) in other.0 {
            *self.0.entry(k).or_default() += n;
        }
    }
    fn count(&self) -> usize {
        self.0.values().sum()
    }
}

/// What one phase measured.
struct Sample {
    sent: usize,
    elapsed: Duration,
    /// Sorted ascending.
    latencies: Vec<Duration>,
    errors: Errors,
}

impl Sample {
    fn new(elapsed: Duration, mut latencies: Vec<Duration>, errors: Errors) -> Self {
        latencies.sort_unstable();
        Self {
            sent: latencies.len(),
            elapsed,
            latencies,
            errors,
        }
    }
    fn per_sec(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }
    /// Nearest-rank percentile, `q` in (0, 1].
    fn pct(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
}

/// `total` requests shared by `concurrency` tasks, each sending as soon as its last one answered,
/// until they are done or `cap` has passed.
async fn closed_loop(load: &Arc<Load>, total: usize, concurrency: usize, cap: Duration) -> Sample {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + cap;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.min(total) {
        let (load, next) = (load.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(total / concurrency + 1);
            let mut errors = Errors::default();
            while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < total {
                let sent = Instant::now();
                let result = load.send().await;
                latencies.push(sent.elapsed());
                errors.record(result);
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = Errors::default();
    while let Some(done) = tasks.join_next().await {
        let (l, e) = done.expect("a load task panicked");
        latencies.extend(l);
        errors.merge(e);
    }
    Sample::new(start.elapsed(), latencies, errors)
}

/// Open loop: request `i` is due at `start + i / rate`, sent then whatever earlier ones are doing,
/// and its latency runs from that due time to the end of its answer.
async fn open_loop(load: &Arc<Load>, rate: u64, secs: u64) -> Sample {
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let runtime = tokio::runtime::Handle::current();
    let load = load.clone();
    // A plain thread paces the sends: its sleep is finer than tokio's 1 ms timer wheel and it
    // never waits behind the runtime's busy workers.
    let (start, handles) = tokio::task::spawn_blocking(move || {
        let start = Instant::now() + Duration::from_millis(10);
        let mut handles = Vec::with_capacity(total);
        for i in 0..total {
            let due = start + interval * i as u32;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let load = load.clone();
            handles.push(runtime.spawn(async move {
                let result = load.send().await;
                (due.elapsed(), result)
            }));
        }
        (start, handles)
    })
    .await
    .expect("the pacing thread panicked");
    let mut latencies = Vec::with_capacity(total);
    let mut errors = Errors::default();
    for handle in handles {
        let (latency, result) = handle.await.expect("a request task panicked");
        latencies.push(latency);
        errors.record(result);
    }
    Sample::new(start.elapsed(), latencies, errors)
}

#[derive(Clone, Copy)]
enum Target {
    Noop,
    /// Orion with `store.synchronous`, and with its default workers or (diagnostic) none at all.
    Orion(Synchronous, bool),
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Noop => "no-op axum 202",
            Target::Orion(Synchronous::Full, true) => "orion durable (full)",
            Target::Orion(Synchronous::Normal, true) => "orion durable (normal)",
            Target::Orion(Synchronous::Full, false) => "orion full, 0 workers",
            Target::Orion(Synchronous::Normal, false) => "orion normal, 0 workers",
        }
    }
}

/// A started server of either kind.
enum Server {
    Noop {
        addr: SocketAddr,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    },
    Orion {
        orion: Orion,
        _dir: tempfile::TempDir,
    },
}

async fn noop_handler(body: Bytes) -> StatusCode {
    std::hint::black_box(body.len());
    StatusCode::ACCEPTED
}

impl Server {
    async fn start(target: Target) -> anyhow::Result<Self> {
        match target {
            Target::Noop => {
                let app = Router::new().route("/webhooks/github", post(noop_handler));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .into_future(),
                );
                Ok(Server::Noop { addr, stop, task })
            }
            Target::Orion(synchronous, workers) => {
                let dir = tempfile::tempdir()?;
                let mut config = Config::default();
                config.server.listen = "127.0.0.1:0".into();
                config.store.url = format!("sqlite://{}", dir.path().join("bench.db").display());
                config.store.synchronous = synchronous;
                if !workers {
                    // Not a valid configuration (`validate` refuses it), but `start` takes it:
                    // the ingest path alone, with nothing leasing jobs next to it.
                    config.queue.workers = 0;
                }
                let secrets = Secrets {
                    github_webhook: vec![Secret::new(SECRET)],
                    linear_webhook: None,
                    ..Default::default()
                };
                let orion = Orion::start(config, secrets, orion_bot::jobs::registry).await?;
                Ok(Server::Orion { orion, _dir: dir })
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Server::Noop { addr, .. } => *addr,
            Server::Orion { orion, .. } => orion.addr(),
        }
    }

    /// Job counts by state, for Orion.
    async fn jobs(&self) -> Option<BTreeMap<String, i64>> {
        match self {
            Server::Noop { .. } => None,
            Server::Orion { orion, .. } => match orion.state.store().queue_depth().await {
                Ok(depth) => Some(depth.into_iter().collect()),
                Err(e) => {
                    eprintln!("could not read the queue depth: {e:#}");
                    None
                }
            },
        }
    }

    async fn shutdown(self) -> anyhow::Result<()> {
        match self {
            Server::Noop { stop, task, .. } => {
                let _ = stop.send(());
                task.await??;
            }
            Server::Orion { orion, _dir } => orion.shutdown().await?,
        }
        Ok(())
    }
}

/// One phase on a fresh server: warm it up, measure, note what its queue looks like afterwards.
struct Phase {
    sample: Sample,
    warmup_errors: usize,
    /// Job count by state right after the last answer, for Orion.
    jobs_after: Option<BTreeMap<String, i64>>,
}

enum Kind {
    Throughput,
    Rate,
}

async fn phase(target: Target, kind: Kind, settings: &Settings) -> anyhow::Result<Phase> {
    let server = Server::start(target).await?;
    let load = Arc::new(Load::new(server.addr())?);
    let cap = Duration::from_secs(settings.max_secs);
    let warmup = closed_loop(&load, WARMUP, settings.concurrency, cap).await;
    let sample = match kind {
        Kind::Throughput => closed_loop(&load, settings.requests, settings.concurrency, cap).await,
        Kind::Rate => open_loop(&load, settings.rate, settings.rate_secs).await,
    };
    let jobs_after = server.jobs().await;
    drop(load);
    server.shutdown().await?;
    Ok(Phase {
        sample,
        warmup_errors: warmup.errors.count(),
        jobs_after,
    })
}

struct Row {
    target: Target,
    throughput: Phase,
    rate: Phase,
}

fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

fn jobs_line(jobs: &Option<BTreeMap<String, i64>>) -> String {
    match jobs {
        None => String::new(),
        Some(j) => {
            let n = |k: &str| j.get(k).copied().unwrap_or(0);
            format!(
                "; jobs after: {} done, {} queued, {} running, {} dead",
                n("done"),
                n("queued"),
                n("running"),
                n("dead")
            )
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env();
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        orion_bot::telemetry::init(
            &LogConfig {
                format: LogFormat::Human,
                filter,
            },
            None,
        );
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let defaults = Config::default();
    println!(
        "ingest benchmark — {cores} cores, payload {} B, {EVENT}.labeled",
        PAYLOAD.len()
    );
    println!(
        "store.synchronous default = {:?} (\"full\": WAL fsync per commit), store.max_connections = {}, queue.workers = {}, db in {}",
        defaults.store.synchronous,
        defaults.store.max_connections,
        defaults.queue.workers,
        std::env::temp_dir().display()
    );
    println!(
        "load: throughput = {} requests (capped at {} s), {} concurrent (closed loop); fixed rate = {}/s for {} s (open loop); {WARMUP} warm-up requests per fresh server; HTTP/1.1 keep-alive, client in the same process",
        settings.requests,
        settings.max_secs,
        settings.concurrency,
        settings.rate,
        settings.rate_secs
    );
    println!();

    let mut targets = vec![
        Target::Noop,
        Target::Orion(Synchronous::Full, true),
        Target::Orion(Synchronous::Normal, true),
    ];
    if settings.diag {
        targets.push(Target::Orion(Synchronous::Full, false));
        targets.push(Target::Orion(Synchronous::Normal, false));
    }
    let mut rows = Vec::new();
    for target in targets {
        let throughput = phase(target, Kind::Throughput, &settings).await?;
        let rate = phase(target, Kind::Rate, &settings).await?;
        rows.push(Row {
            target,
            throughput,
            rate,
        });
    }

    let rate_header = format!("at {}/s: p50", settings.rate);
    println!(
        "{:<24} {:>12} {:>9} {:>9}  | {:>16} {:>9} {:>9}   {:>6}",
        "", "throughput", "p50", "p99", rate_header, "p99", "max", "errors"
    );
    for row in &rows {
        let (t, r) = (&row.throughput.sample, &row.rate.sample);
        let errors = t.errors.count() + r.errors.count();
        println!(
            "{:<24} {:>10.0}/s {:>9} {:>9}  | {:>16} {:>9} {:>9}   {:>6}",
            row.target.label(),
            t.per_sec(),
            ms(t.pct(0.50)),
            ms(t.pct(0.99)),
            ms(r.pct(0.50)),
            ms(r.pct(0.99)),
            ms(r.max()),
            errors
        );
    }
    println!();
    for row in &rows {
        let (t, r) = (&row.throughput.sample, &row.rate.sample);
        let capped = if t.sent < settings.requests {
            format!(" (stopped at the {} s cap)", settings.max_secs)
        } else {
            String::new()
        };
        println!(
            "{}: throughput phase {} in {:.2} s{capped}, p99.9 {}, max {}{}",
            row.target.label(),
            t.sent,
            t.elapsed.as_secs_f64(),
            ms(t.pct(0.999)),
            ms(t.max()),
            jobs_line(&row.throughput.jobs_after)
        );
        println!(
            "{}: rate phase {} in {:.2} s ({:.0}/s answered), p99.9 {}{}",
            row.target.label(),
            r.sent,
            r.elapsed.as_secs_f64(),
            r.per_sec(),
            ms(r.pct(0.999)),
            jobs_line(&row.rate.jobs_after)
        );
        let warmup_errors = row.throughput.warmup_errors + row.rate.warmup_errors;
        if warmup_errors > 0 {
            println!("  {warmup_errors} warm-up request(s) failed");
        }
        for (what, errors) in [("throughput", &t.errors), ("rate", &r.errors)] {
            for (e, n) in &errors.0 {
                println!("  {what} phase error x{n}: {e}");
            }
        }
    }
    println!();

    let noop = &rows[0];
    let full = &rows[1];
    let ratio = full.throughput.sample.per_sec() / noop.throughput.sample.per_sec();
    let p99 = full.rate.sample.pct(0.99);
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!("ratio durable(full)/no-op throughput: {ratio:.2}");
    println!(
        "targets: durable throughput >= 50% of no-op: {} ({:.0}%); p99 ack < 10 ms at {}/s: {} ({})",
        verdict(ratio >= 0.5),
        ratio * 100.0,
        settings.rate,
        verdict(p99 < Duration::from_millis(10)),
        ms(p99)
    );
    Ok(())
}
